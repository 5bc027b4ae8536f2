"""Disk accounting for a uv cache: the walk (never following a symlink), the scan of where the
space goes per bucket and entry, and the freed-bytes rule (hardlinks counted once)."""

from .freed import Freed, freed_bytes
from .scan import (
    ARCHIVE,
    ARCHIVE_ENV,
    ENV_LINK,
    SCRIPT_ENV,
    BucketUsage,
    DiskProgress,
    DiskReport,
    EntryUsage,
    Usage,
    add_sizes_to_json,
    scan_disk,
)
from .walk import FileStat, disk_usage, walk_entry, walk_stats

__all__ = [
    "ARCHIVE",
    "ARCHIVE_ENV",
    "ENV_LINK",
    "SCRIPT_ENV",
    "BucketUsage",
    "DiskProgress",
    "DiskReport",
    "EntryUsage",
    "FileStat",
    "Freed",
    "Usage",
    "add_sizes_to_json",
    "disk_usage",
    "freed_bytes",
    "scan_disk",
    "walk_entry",
    "walk_stats",
]
