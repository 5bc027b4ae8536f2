"""The saved scan index: the last :class:`~envtui.core.disk.scan.DiskReport` of a cache, kept in
envtui's state directory (never inside uv's cache, whose ``uv cache prune`` deletes what it does
not know), so that a screen can show figures at once while a fresh walk runs.

The index cannot see files rewritten in place, nor link counts changed from outside the cache (a
project ``.venv`` synced or deleted): it only ever fills a screen until the fresh walk replaces it,
and never decides a prune. It is never trusted either: a file that is too large, not a regular
file, of another format version, about another root, or that fails any check of its shape is
discarded (and deleted) as if there were none.

Read and written through :mod:`envtui.core.statefile` (safety rule 12): never through a link,
never waiting on a FIFO, never written in a state directory others can write; a file that cannot
be used is one line for :func:`read_index`'s caller to show.

One JSON file per cache root, ``<state dir>/disk-index/<sha256 of the root>.json``, at most
:data:`MAX_BYTES`; at most :data:`MAX_FILES` roots are kept (the least recently saved go).
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..buckets import Bucket, written_by
from ..contain import inside
from ..fsread import MIB
from ..statefile import open_state_dir, parse_json, read_state, replace_file
from .scan import BucketUsage, DiskReport, EntryUsage, Usage

__all__ = ["FORMAT", "MAX_BYTES", "MAX_FILES", "SavedReport", "index_path", "load_index", "read_index", "save_index"]

FORMAT = 1
"""The index's format version; an index of any other version is discarded."""
MAX_BYTES = 32 * MIB
"""The largest index read or written; a larger report is not saved."""
MAX_FILES = 8
"""Cache roots whose index is kept."""
_KIND = "envtui disk index"


@dataclass(frozen=True)
class SavedReport:
    """A report read back from the index."""

    report: DiskReport
    """The figures as they were when saved (its ``root`` is the cache root asked for)."""
    saved_at: float
    """When the walk behind them finished, as epoch seconds."""

    def age(self, now: float | None = None) -> float:
        """Seconds since the figures were measured (never negative)."""
        return max(0.0, (time.time() if now is None else now) - self.saved_at)


def index_path(root: Path, state_dir: Path) -> Path:
    """Where the index of the cache at ``root`` lives under ``state_dir``."""
    digest = hashlib.sha256(os.fsencode(os.path.abspath(root))).hexdigest()[:32]
    return Path(state_dir) / "disk-index" / f"{digest}.json"


def save_index(report: DiskReport, state_dir: Path, *, now: float | None = None) -> Path | None:
    """Write ``report`` as the index of its cache, atomically; return the file, or ``None`` when
    not saved (the state directory lies inside the cache, or the index would exceed
    :data:`MAX_BYTES`). Older indexes beyond :data:`MAX_FILES` are deleted. Raises ``OSError``:
    :class:`~envtui.core.statefile.UnsafeStateDirError` when ``state_dir`` or its ``disk-index``
    is a link, another user's or writable by others (nothing is written then)."""
    root = Path(report.root)
    path = index_path(root, state_dir)
    if inside(state_dir, root):
        return None
    data = json.dumps(_to_json(report, time.time() if now is None else now), separators=(",", ":")).encode()
    if len(data) > MAX_BYTES:
        return None
    with open_state_dir(path.parent, within=state_dir) as fd:
        replace_file(fd, path.name, data)
        _trim(fd)
    return path


def _trim(dir_fd: int) -> None:
    try:
        with os.scandir(dir_fd) as it:
            files = sorted((e for e in it if e.name.endswith(".json")), key=lambda e: e.stat(follow_symlinks=False).st_mtime)
        for e in files[:-MAX_FILES]:
            os.unlink(e.name, dir_fd=dir_fd)
    except OSError:
        pass


def read_index(root: Path, state_dir: Path) -> tuple[SavedReport | None, str | None]:
    """The saved report of the cache at ``root`` and one line about a problem with it, as
    :func:`envtui.core.statefile.read_json` gives them: ``(None, None)`` when there is none or
    it is of another format version (an index is rewritten after every walk); ``(None, line)``
    when it is unusable: a link, a FIFO, unreadable, too large, another root, or any field of the
    wrong shape. An index whose content fails a check is deleted (unless its directory is one
    others can write: nothing is written there). Never raises, never blocks."""
    path = index_path(root, state_dir)
    data, problem = read_state(path, MAX_BYTES, within=state_dir)
    if data is None:
        return None, problem
    saved, bad = parse_json(path, data, lambda doc: _from_json(doc, Path(os.path.abspath(root))), "an envtui disk index")
    if saved is None and problem is None:
        try:
            os.unlink(path)
        except OSError:
            pass
    return saved, bad or problem


def load_index(root: Path, state_dir: Path) -> SavedReport | None:
    """:func:`read_index` without the line: the saved report, or ``None``."""
    return read_index(root, state_dir)[0]


# -- the format ------------------------------------------------------------------------------------


def _to_json(r: DiskReport, saved_at: float) -> dict[str, Any]:
    root = str(r.root)

    def rel(p: Path) -> str:
        s = str(p)
        return s[len(root) + 1:] if s.startswith(root + "/") else s

    return {
        "kind": _KIND,
        "format": FORMAT,
        "root": root,
        "saved_at": saved_at,
        "total": [r.total_disk, r.total_apparent],
        "seconds": r.seconds,
        "buckets": [
            [b.bucket.name, b.bucket.version, b.bucket.dirname, b.bucket.kind, b.bucket.age, b.entries, b.apparent, b.disk, b.reclaimable]
            for b in r.buckets
        ],
        "entries": [
            [rel(e.path), e.bucket, e.kind, list(_usage_fields(e.usage)), [rel(p) for p in e.uses], [rel(p) for p in e.used_by]]
            for e in r.entries.values()
        ],
        "errors": [[str(p), why] for p, why in r.errors],
        "crossings": [str(p) for p in r.crossings],
    }


def _usage_fields(u: Usage) -> tuple[int, ...]:
    return (u.apparent, u.disk, u.exclusive, u.shared_environments, u.shared_wheels, u.shared_other, u.shared_outside, u.files)


def _int(x: object) -> int:
    if type(x) is not int or x < 0:
        raise TypeError("not a count")
    return x


def _opt_int(x: object) -> int | None:
    return None if x is None else _int(x)


def _str(x: object) -> str:
    if type(x) is not str:
        raise TypeError("not a string")
    return x


def _name(x: object) -> str:
    s = _str(x)
    if not s or "/" in s or s in (".", ".."):
        raise ValueError("not a file name")
    return s


def _from_json(doc: dict[str, Any], root: Path) -> SavedReport | None:
    if doc["kind"] != _KIND:
        raise ValueError("another kind of file")
    if doc["format"] != FORMAT:
        return None  # another version's: discarded without a word
    if _str(doc["root"]) != str(root):
        raise ValueError("another cache root")
    saved_at = doc["saved_at"]
    if type(saved_at) not in (int, float) or saved_at < 0:
        raise TypeError("saved_at")

    memo: dict[str, Path] = {}
    prefix = str(root) + "/"

    def path(s: Any) -> Path:  # a JSON value: memo.get raises TypeError for a list, as parse_json expects
        p = memo.get(s)
        if p is None:
            if type(s) is not str or not s or s.startswith("/") or "/../" in f"/{s}/" or "\0" in s:
                raise ValueError("an entry outside the cache")
            p = memo[s] = Path(prefix + s)
        return p

    buckets = []
    for name, version, dirname, kind, age, entries, apparent, disk, reclaimable in doc["buckets"]:
        if version is not None:
            _int(version)
        # written_by is derived from (name, version), not saved: the table may grow between runs.
        b = Bucket(_str(name), version, root / _name(dirname), _str(kind), _str(age),
                   written_by(name, version) if version is not None and kind == "bucket" else "")
        buckets.append(BucketUsage(b, _int(entries), _opt_int(apparent), _opt_int(disk), _opt_int(reclaimable)))
    entries = {}
    for rel, bucket, kind, usage, uses, used_by in doc["entries"]:
        if len(usage) != 8:
            raise ValueError("usage")
        p = path(rel)
        entries[str(p)] = EntryUsage(
            p, _str(bucket), _str(kind), Usage(*map(_int, usage)), tuple(map(path, uses)), tuple(map(path, used_by))
        )
    total_disk, total_apparent = map(_int, doc["total"])
    seconds = doc["seconds"]
    if type(seconds) not in (int, float):
        raise TypeError("seconds")
    report = DiskReport(
        root, total_disk, total_apparent, tuple(buckets), entries,
        tuple((Path(_str(p)), _str(why)) for p, why in doc["errors"]), float(seconds),
        tuple(Path(_str(p)) for p in doc["crossings"]),
    )
    return SavedReport(report, float(saved_at))
