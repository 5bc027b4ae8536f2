"""Exceptions of the cache core; each carries the path it is about."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["CacheError", "NotACacheError", "EntryError", "ScanCancelled"]


class CacheError(Exception):
    """Base class: something about the uv cache at ``path`` is wrong."""

    def __init__(self, path: str | os.PathLike[str], message: str) -> None:
        self.path = Path(path)
        self.message = message
        super().__init__(f"{self.path}: {message}")


class NotACacheError(CacheError):
    """``path`` is missing, not a directory, or not a uv cache (no ``CACHEDIR.TAG`` signature)."""


class EntryError(CacheError):
    """A single cache entry at ``path`` could not be read or decoded."""


class ScanCancelled(Exception):
    """A scan stopped because its caller asked it to (``should_stop`` returned true)."""
