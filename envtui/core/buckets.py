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
    "BUCKET_WRITERS",
    "classify_entry",
    "CURRENT_BUCKET_VERSIONS",
    "NEWEST_KNOWN_UV",
    "written_by",
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
    "git": 2,
    "interpreter": 5,
    "simple": 28,
    "archive": 0,
    "builds": 0,
    "environments": 2,
    "python": 1,
    "binaries": 0,
    "osv": 1,
}

#: The newest uv release the table below was checked against.
NEWEST_KNOWN_UV = "0.13.9"

#: ``(name, version) -> (first, last)``: the uv releases that write each bucket version; ``last``
#: is ``None`` while uv 0.13.9 still writes it. From ``CacheBucket::to_str`` at every release tag
#: from 0.4.0 to 0.12.5 (crates/uv-cache/src/lib.rs), then from the bucket names inside the
#: binaries of 0.12.6, .12, .15, .18, .21, .24 and 0.13.0, .1, .3, .6, .7, .8, .9 (a boundary
#: between two of those is given as the nearer sampled release).
BUCKET_WRITERS: dict[tuple[str, int], tuple[str, str | None]] = {
    ("archive", 0): ("0.4.0", None),
    ("binaries", 0): ("0.8.13", None),
    ("builds", 0): ("0.4.0", None),
    ("built-wheels", 3): ("0.4.0", "0.4.12"),
    ("environments", 1): ("0.4.0", "0.5.31"),
    ("environments", 2): ("0.6.0", None),
    ("flat-index", 0): ("0.4.0", "0.4.15"),
    ("flat-index", 1): ("0.4.16", "0.4.30"),
    ("flat-index", 2): ("0.5.0", "0.11.26"),
    ("flat-index", 3): ("0.11.27", "0.11.29"),
    ("flat-index", 4): ("0.11.30", "0.12.12"),
    ("flat-index", 5): ("0.12.15", "0.12.24"),
    ("flat-index", 6): ("0.13.0", "0.13.1"),
    ("flat-index", 7): ("0.13.3", None),
    ("git", 0): ("0.4.0", "0.12.18"),
    ("git", 1): ("0.12.21", "0.13.8"),
    ("git", 2): ("0.13.9", None),
    ("interpreter", 2): ("0.4.0", "0.4.30"),
    ("interpreter", 3): ("0.5.0", "0.5.8"),
    ("interpreter", 4): ("0.5.9", "0.13.7"),
    ("interpreter", 5): ("0.13.8", None),
    ("osv", 0): ("0.11.16", "0.12.24"),
    ("osv", 1): ("0.13.0", None),
    ("python", 0): ("0.8.4", "0.12.24"),
    ("python", 1): ("0.13.0", None),
    ("sdists", 4): ("0.4.13", "0.4.24"),
    ("sdists", 5): ("0.4.25", "0.4.30"),
    ("sdists", 6): ("0.5.0", "0.5.25"),
    ("sdists", 7): ("0.5.26", "0.5.31"),
    ("sdists", 8): ("0.6.0", "0.6.7"),
    ("sdists", 9): ("0.6.8", "0.12.24"),
    ("sdists", 10): ("0.13.0", "0.13.8"),
    ("sdists", 11): ("0.13.9", None),
    ("simple", 12): ("0.4.0", "0.4.12"),
    ("simple", 13): ("0.4.13", "0.4.30"),
    ("simple", 14): ("0.5.0", "0.5.18"),
    ("simple", 15): ("0.5.19", "0.7.4"),
    ("simple", 16): ("0.7.5", "0.8.14"),
    ("simple", 17): ("0.8.15", "0.8.17"),
    ("simple", 18): ("0.8.18", "0.9.26"),
    ("simple", 19): ("0.9.27", "0.9.30"),
    ("simple", 20): ("0.10.0", "0.11.2"),
    ("simple", 21): ("0.11.3", "0.11.26"),
    ("simple", 22): ("0.11.27", "0.11.29"),
    ("simple", 24): ("0.11.30", "0.12.12"),
    ("simple", 25): ("0.12.15", "0.12.24"),
    ("simple", 26): ("0.13.0", "0.13.1"),
    ("simple", 27): ("0.13.3", "0.13.8"),
    ("simple", 28): ("0.13.9", None),
    ("wheels", 1): ("0.4.0", "0.4.12"),
    ("wheels", 2): ("0.4.13", "0.4.30"),
    ("wheels", 3): ("0.5.0", "0.5.31"),
    ("wheels", 4): ("0.6.0", "0.6.3"),
    ("wheels", 5): ("0.6.4", "0.9.30"),
    ("wheels", 6): ("0.10.0", "0.12.24"),
    ("wheels", 7): ("0.13.0", "0.13.8"),
    ("wheels", 8): ("0.13.9", None),
}


def written_by(name: str, version: int) -> str:
    """Which uv releases write bucket ``name-v{version}``, for a person: ``"uv 0.5.9 - 0.13.7,
    not read by uv 0.13.9"``, ``"uv 0.6.0 and later"``, or ``""`` when the table does not know it
    (a newer uv's bucket, or a name uv never used)."""
    span = BUCKET_WRITERS.get((name, version))
    if span is None:
        return ""
    first, last = span
    if last is None:
        return f"uv {first} and later"
    return f"uv {first} - {last}, not read by uv {NEWEST_KNOWN_UV}"

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
    written_by: str = ""
    """For buckets: the uv releases that write this version (:func:`written_by`), e.g.
    ``"uv 0.5.9 - 0.13.7, not read by uv 0.13.9"``; ``""`` when unknown or not a bucket."""

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


def classify_entry(entry_name: str, path: Path) -> Bucket:
    """The :class:`Bucket` record of the top-level entry ``entry_name`` at ``path`` (a marker file, a
    ``NAME-vN`` bucket with its age, or a foreign entry). Stats ``path``; raises nothing."""
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
        return Bucket(name, version, path, "bucket", age, written_by(name, version))
    return Bucket(entry_name, None, path, "foreign", "")


def list_buckets(root: Path) -> list[Bucket]:
    """List every top-level entry of the cache at ``root``, sorted by name.

    Raises ``OSError`` (with the path) if the root cannot be listed.
    """
    out = []
    with os.scandir(root) as it:
        for entry in it:
            out.append(classify_entry(entry.name, Path(entry.path)))
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
