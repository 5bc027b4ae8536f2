"""One Textual screen per file, each over records of the cache core."""
