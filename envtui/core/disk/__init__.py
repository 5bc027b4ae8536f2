"""Disk accounting for a uv cache: the walk (never following a symlink; in C where the optional
extension is built, else in pure Python, same figures), the scan of where the space goes per
bucket and entry, and the freed-bytes rule (hardlinks counted once)."""

from .freed import Freed, freed_bytes
from .scan import (
    ARCHIVE,
    ARCHIVE_ENV,
    ENV_LINK,
    SCRIPT_ENV,
    BucketUsage,
    CacheLinks,
    DiskProgress,
    DiskReport,
    EntryUsage,
    Usage,
    add_sizes_to_json,
    scan_disk,
)
from .walk import FileStat, InodeTable, disk_usage, inode_table, native_available, walk_entry, walk_stats

__all__ = [
    "ARCHIVE",
    "ARCHIVE_ENV",
    "ENV_LINK",
    "SCRIPT_ENV",
    "BucketUsage",
    "CacheLinks",
    "DiskProgress",
    "DiskReport",
    "EntryUsage",
    "FileStat",
    "Freed",
    "InodeTable",
    "Usage",
    "add_sizes_to_json",
    "disk_usage",
    "freed_bytes",
    "inode_table",
    "native_available",
    "scan_disk",
    "walk_entry",
    "walk_stats",
]
