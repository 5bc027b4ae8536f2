"""The top level of a uv cache: buckets found by their ``NAME-vN`` names, and everything else."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from .errors import EntryError, NotACacheError
from .fsread import read_regular
from .locate import CACHEDIR_TAG_SIGNATURE

__all__ = [
    "Bucket",
    "CURRENT_BUCKET_VERSIONS",
    "MARKER_FILES",
    "check_cache_root",
    "find_bucket",
    "list_buckets",
]

#: Bucket versions written by the uv that envtui was verified against (uv 0.13.9, read from the
#: binary). Used only to say whether a bucket is older, current or newer; buckets are always found
#: by pattern. Mirrors ``CacheBucket::to_str`` (crates/uv-cache/src/lib.rs).
CURRENT_BUCKET_VERSIONS: dict[str, int] = {
    "wheels": 8,
    "sdists": 11,
    "flat-index": 7,
    "git": 0,
    "interpreter": 5,
    "simple": 28,
    "archive": 0,
    "builds": 0,
    "environments": 2,
    "python": 0,
    "binaries": 0,
    "osv": 0,
}

#: Top-level files uv keeps at the root and ``uv cache prune`` leaves alone.
MARKER_FILES = frozenset({"CACHEDIR.TAG", ".gitignore", ".git", ".lock"})

_BUCKET_RE = re.compile(r"^(?P<name>[a-z][a-z0-9-]*?)-v(?P<version>\d+)$")


@dataclass(frozen=True)
class Bucket:
    """One top-level entry of the cache root."""

    name: str
    """The bucket name without its version (``"wheels"``), or the entry's file name if not a bucket."""
    version: int | None
    """The ``N`` of ``NAME-vN``; ``None`` for marker files and entries uv does not own."""
    path: Path
    """Absolute path of the entry."""
    kind: str
    """``"bucket"`` (``NAME-vN``, a name uv uses), ``"marker"`` (``CACHEDIR.TAG`` and friends) or
    ``"foreign"`` (anything else: uv does not own it and envtui never deletes it)."""
    age: str
    """For buckets: ``"current"``, ``"older"`` (left by an older uv), ``"newer"`` (a newer uv:
    read if possible, never deleted) or ``"unknown"`` (a ``NAME-vN`` name uv 0.13 does not use);
    ``""`` otherwise."""

    @property
    def dirname(self) -> str:
        """The entry's file name at the cache root."""
        return self.path.name


def check_cache_root(root: Path) -> None:
    """Raise :class:`NotACacheError` unless ``root`` is a directory holding uv's ``CACHEDIR.TAG``.

    The message names the path and says what was found instead (missing, a file, no tag, a tag
    without uv's signature).
    """
    if not root.exists():
        raise NotACacheError(root, "no such directory: uv has not made a cache here")
    if not root.is_dir():
        raise NotACacheError(root, "not a directory")
    tag = root / "CACHEDIR.TAG"
    try:
        head = read_regular(tag, len(CACHEDIR_TAG_SIGNATURE), truncate=True)
    except FileNotFoundError:
        raise NotACacheError(root, "no CACHEDIR.TAG: this directory is not a uv cache") from None
    except EntryError as err:
        raise NotACacheError(root, f"CACHEDIR.TAG {err.message}") from None
    except OSError as err:
        raise NotACacheError(root, f"cannot read CACHEDIR.TAG: {err.strerror}") from None
    if head != CACHEDIR_TAG_SIGNATURE:
        raise NotACacheError(root, "CACHEDIR.TAG lacks the cache directory signature")


def _classify(entry_name: str, path: Path) -> Bucket:
    if entry_name in MARKER_FILES:
        return Bucket(entry_name, None, path, "marker", "")
    m = _BUCKET_RE.match(entry_name)
    if m and path.is_dir() and not path.is_symlink():
        name, version = m["name"], int(m["version"])
        current = CURRENT_BUCKET_VERSIONS.get(name)
        if current is None:
            age = "unknown"
        elif version < current:
            age = "older"
        elif version > current:
            age = "newer"
        else:
            age = "current"
        return Bucket(name, version, path, "bucket", age)
    return Bucket(entry_name, None, path, "foreign", "")


def list_buckets(root: Path) -> list[Bucket]:
    """List every top-level entry of the cache at ``root``, sorted by name.

    Raises ``OSError`` (with the path) if the root cannot be listed.
    """
    out = []
    with os.scandir(root) as it:
        for entry in it:
            out.append(_classify(entry.name, Path(entry.path)))
    out.sort(key=lambda b: b.dirname)
    return out


def find_bucket(buckets: list[Bucket], name: str) -> Bucket | None:
    """Return the bucket called ``name`` to read: the current version if present, else the
    highest version found (an unknown newer version is read if possible), else ``None``."""
    found = [b for b in buckets if b.kind == "bucket" and b.name == name]
    if not found:
        return None
    for b in found:
        if b.age == "current":
            return b
    return max(found, key=lambda b: b.version or 0)
