"""Where the space goes: one walk of the cache root, with hardlinks counted exactly.

uv installs by hardlink, so an environment's files share inodes with ``archive-v0`` and with
project ``.venv``s outside the cache. This module walks every top-level entry once (through
:func:`~envtui.core.disk.walk.walk_stats`, never following a symlink) and derives from that one walk:

* per top-level entry of the cache root (bucket, marker or foreign entry): cache entries, apparent
  bytes, on-disk bytes (``st_blocks * 512``, each inode once) and reclaimable bytes (what deleting
  the whole bucket frees);
* per cache entry (a child of a bucket; for cached environments, the link with its ``.lock``):
  on-disk bytes, exclusive bytes (inodes all of whose ``st_nlink`` links lie inside the entry) and
  the bytes it shares with other environments, with the wheel cache, with other buckets, and with
  links outside the cache (``st_nlink`` larger than the links found inside it);
* the cache total, which equals ``du -sB1 <cache root>``.

Only inodes with more than one link enter the inode table, as compact arrays of integers, so
memory grows with the hardlinked files, not with every file.
"""

from __future__ import annotations

import os
import re
import stat
import time
from array import array
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Mapping

from ..buckets import Bucket, list_buckets
from ..errors import ScanCancelled
from .walk import walk_stats

__all__ = [
    "ARCHIVE",
    "ARCHIVE_ENV",
    "BucketUsage",
    "DiskProgress",
    "DiskReport",
    "ENTRY",
    "ENV_LINK",
    "EntryUsage",
    "SCRIPT_ENV",
    "Usage",
    "add_sizes_to_json",
    "scan_disk",
]

#: Kinds of cache entry, as far as accounting cares.
SCRIPT_ENV, ENV_LINK, ARCHIVE, ARCHIVE_ENV, ENTRY = "script environment", "environment link", "archive", "archive environment", "entry"
_ENV_LIKE = (SCRIPT_ENV, ARCHIVE_ENV)
_HEX16 = re.compile(r"^[0-9a-f]{16}$")


@dataclass(frozen=True)
class Usage:
    """Bytes of one set of files (a cache entry, or an environment's link plus its target)."""

    apparent: int = 0
    """Sum of ``st_size`` in bytes, each inode once."""
    disk: int = 0
    """Allocated bytes (``st_blocks * 512``), each inode once."""
    exclusive: int = 0
    """Allocated bytes that deleting this set alone frees: inodes all of whose links lie inside it."""
    shared_environments: int = 0
    """Allocated bytes of inodes also linked from another environment in the cache."""
    shared_wheels: int = 0
    """Allocated bytes of inodes also linked from an ``archive-v0`` entry that is not an
    environment (an unpacked wheel: the wheel cache)."""
    shared_other: int = 0
    """Allocated bytes of inodes also linked from an entry of another kind (another bucket)."""
    shared_outside: int = 0
    """Allocated bytes of inodes with links outside the cache (``st_nlink`` larger than the links
    found inside it), such as project ``.venv``s installed by hardlink."""
    files: int = 0
    """Directory entries walked (files, directories and links)."""

    @property
    def shared(self) -> int:
        """Allocated bytes that stay on disk when this set alone is deleted."""
        return self.disk - self.exclusive

    def __add__(self, other: "Usage") -> "Usage":
        return Usage(*(a + b for a, b in zip(_fields(self), _fields(other))))


def _fields(u: Usage) -> tuple[int, ...]:
    return (u.apparent, u.disk, u.exclusive, u.shared_environments, u.shared_wheels, u.shared_other, u.shared_outside, u.files)


@dataclass(frozen=True)
class EntryUsage:
    """The figures of one cache entry."""

    path: Path
    """The entry: ``<bucket>/<child>``; for a cached environment, the link (its ``.lock`` included)."""
    bucket: str
    """The bucket's directory name (``"archive-v0"``)."""
    kind: str
    """:data:`SCRIPT_ENV`, :data:`ENV_LINK`, :data:`ARCHIVE`, :data:`ARCHIVE_ENV` or :data:`ENTRY`."""
    usage: Usage
    """Its bytes."""
    uses: tuple[Path, ...] = ()
    """For environments: the ``archive-v0`` entries whose files it hardlinks (the wheels it installed)."""
    used_by: tuple[Path, ...] = ()
    """For ``archive-v0`` entries: the environments (script environments, or persisted cached
    environments in ``archive-v0``) that hardlink its files."""


@dataclass(frozen=True)
class BucketUsage:
    """The figures of one top-level entry of the cache root."""

    bucket: Bucket
    """The top-level entry (a ``NAME-vN`` bucket, a marker file or a foreign entry)."""
    entries: int
    """Cache entries in it (children; cached environments count once with their ``.lock``)."""
    apparent: int | None = None
    """Sum of ``st_size`` in bytes, each inode once; ``None`` until measured."""
    disk: int | None = None
    """Allocated bytes, each inode once; ``None`` until measured."""
    reclaimable: int | None = None
    """Allocated bytes that deleting the whole entry frees; ``None`` until the scan finishes (it
    depends on every link in the cache)."""


@dataclass(frozen=True)
class DiskProgress:
    """How far a :func:`scan_disk` has got; each one replaces the previous."""

    done: int
    """Cache entries measured so far."""
    total: int
    """Cache entries to measure."""
    disk: int
    """Allocated bytes seen so far (inodes once per bucket)."""
    buckets: tuple[BucketUsage, ...]
    """Every top-level entry: ``entries`` known; ``apparent`` and ``disk`` so far once its walk
    has begun, ``None`` before."""
    entry_disk: Mapping[str, int] = field(default_factory=dict)
    """Allocated bytes of each cache entry measured so far, by path (a snapshot)."""


@dataclass(frozen=True)
class DiskReport:
    """The result of one walk of the cache: see the module docstring."""

    root: Path
    """The cache root."""
    total_disk: int
    """Allocated bytes under the root, each inode once: what ``du -sB1 <root>`` prints."""
    total_apparent: int
    """Sum of ``st_size``, each inode once: what ``du -sb <root>`` prints."""
    buckets: tuple[BucketUsage, ...]
    """Every top-level entry, sorted by name, all figures set."""
    entries: Mapping[str, EntryUsage]
    """Every cache entry, by ``str(path)``."""
    errors: tuple[tuple[Path, str], ...] = ()
    """Paths that could not be read, and why; their bytes are missing from the figures."""
    seconds: float = 0.0
    """How long the walk took, in seconds."""

    def entry(self, path: Path | str) -> EntryUsage | None:
        """The figures of the cache entry at ``path``, or ``None``."""
        return self.entries.get(str(path))

    def environment(self, path: Path | str, link_target: Path | str | None = None) -> Usage | None:
        """An environment's bytes: its entry, plus for a cached environment (a link into
        ``archive-v0``) its target, which deleting the environment deletes too. ``None`` if the
        environment was not measured."""
        own = self.entries.get(str(path))
        if own is None:
            return None
        target = self.entries.get(str(link_target)) if link_target else None
        return own.usage + target.usage if target else own.usage


class _Unit:
    """A cache entry being measured: mutable while the walk runs."""

    __slots__ = ("path", "members", "bucket", "kind", "apparent", "disk", "exclusive", "files", "inodes")

    def __init__(self, path: str, members: list[str], bucket: int, kind: str) -> None:
        self.path, self.members, self.bucket, self.kind = path, members, bucket, kind
        self.apparent = self.disk = self.exclusive = self.files = 0
        self.inodes = array("I")  # indices into the inode table, each once


def _units_of(b: Bucket, index: int) -> tuple[list[_Unit], list[str]]:
    """The cache entries of top-level entry ``b``, and the directories that hold them (counted at
    bucket level: deleting one entry does not delete them)."""
    top = str(b.path)
    if b.kind != "bucket":
        return [_Unit(top, [top], index, ENTRY)], []
    units: list[_Unit] = []
    holders = [top]
    try:
        children = sorted(os.scandir(top), key=lambda e: e.name)
    except OSError:
        return [], holders
    for child in children:
        kind = ENTRY
        if b.name == "environments":
            is_dir = child.is_dir(follow_symlinks=False)
            if is_dir and _HEX16.match(child.name) and not os.path.lexists(os.path.join(child.path, "pyvenv.cfg")):
                holders.append(child.path)
                by_stem: dict[str, list[str]] = {}
                try:
                    for link in sorted(os.scandir(child.path), key=lambda e: e.name):
                        stem = link.name[:-5] if link.name.endswith(".lock") else link.name
                        by_stem.setdefault(os.path.join(child.path, stem), []).append(link.path)
                except OSError:
                    pass
                units += [_Unit(p, m, index, ENV_LINK) for p, m in by_stem.items()]
                continue
            kind = SCRIPT_ENV if is_dir else ENTRY
        elif b.name == "archive":
            kind = ARCHIVE_ENV if os.path.lexists(os.path.join(child.path, "pyvenv.cfg")) else ARCHIVE
        elif b.name == "interpreter" and child.is_dir(follow_symlinks=False):
            # The entries are the cached queries (<shard>/<key>.msgpack), not the shards.
            holders.append(child.path)
            try:
                units += [_Unit(f.path, [f.path], index, ENTRY) for f in sorted(os.scandir(child.path), key=lambda e: e.name)]
            except OSError:
                pass
            continue
        units.append(_Unit(child.path, [child.path], index, kind))
    return units, holders


def _order(b: Bucket) -> tuple[int, str]:
    # Environments first, then the archive their targets live in: their sizes reach the screens first.
    return ({"environments": 0, "archive": 1}.get(b.name, 2) if b.kind == "bucket" else 3, b.dirname)


def scan_disk(
    root: Path,
    *,
    should_stop: Callable[[], bool] | None = None,
    on_progress: Callable[[DiskProgress], None] | None = None,
    progress_interval: float = 0.1,
) -> DiskReport:
    """Walk the cache at ``root`` once and account for every byte (see the module docstring).

    ``on_progress`` is called with a :class:`DiskProgress` at most every ``progress_interval``
    seconds, and once when every entry is measured. Unreadable paths are reported in
    ``DiskReport.errors``. Raises :class:`ScanCancelled` when ``should_stop()`` turns true (checked
    for every directory), ``OSError`` if the root cannot be listed. Mirrors no uv code: uv's own
    ``uv cache size`` and "Removed N files" add ``st_size`` per link.
    """
    started = time.monotonic()
    root = Path(root)
    errors: list[tuple[Path, str]] = []

    def on_error(path: str, err: OSError) -> None:
        errors.append((Path(path), err.strerror or str(err)))

    buckets = list_buckets(root)
    units: list[_Unit] = []
    holders: list[tuple[int, list[str]]] = []
    for i, b in sorted(enumerate(buckets), key=lambda ib: _order(ib[1])):
        if should_stop and should_stop():
            raise ScanCancelled()
        u, h = _units_of(b, i)
        units += u
        holders.append((i, h))
    n = len(buckets)
    entries = [0] * n
    for u in units:
        entries[u.bucket] += 1
    b_app, b_disk, b_excl = [0] * n, [0] * n, [0] * n
    root_st = os.lstat(root)
    rootdev = root_st.st_dev
    total_disk, total_app = root_st.st_blocks * 512, root_st.st_size
    for i, paths in holders:
        for p in paths:
            try:
                st = os.lstat(p)
            except OSError as err:
                on_error(p, err)
                continue
            b_app[i] += st.st_size
            b_disk[i] += st.st_blocks * 512
            b_excl[i] += st.st_blocks * 512
            total_app += st.st_size
            total_disk += st.st_blocks * 512

    # The inode table: only inodes with st_nlink > 1 (a directory is never a hardlink). Each
    # inode is a small integer; its figures live in arrays, not in objects.
    index: dict = {}
    nlink, blocks, size = array("q"), array("q"), array("q")
    links: list[array] = []  # per entry: every link's inode, in walk order (duplicates kept)
    entry_disk: dict[str, int] = {}
    last_progress = time.monotonic()
    seen_in_bucket: set[int] = set()
    current_bucket = -1

    reached = [entries[i] == 0 for i in range(n)]  # buckets whose walk has begun (or has nothing to walk)

    def progress(done: int) -> None:
        snap = tuple(
            BucketUsage(b, entries[i], b_app[i] if reached[i] else None, b_disk[i] if reached[i] else None)
            for i, b in enumerate(buckets)
        )
        on_progress(DiskProgress(done, len(units), total_disk + sum(blocks), snap, dict(entry_disk)))

    is_dir = stat.S_ISDIR
    for ui, u in enumerate(units):
        reached[u.bucket] = True
        app = disk = files = 0  # inodes with one link (and directories): this entry's alone
        found = array("I")
        add_link, add_nlink, add_blocks, add_size = found.append, nlink.append, blocks.append, size.append
        for member in u.members:
            for _path, st in walk_stats(member, should_stop=should_stop, on_error=on_error):
                files += 1
                links_to = st.st_nlink
                if links_to == 1 or is_dir(st.st_mode):
                    app += st.st_size
                    disk += st.st_blocks
                    continue
                key = st.st_ino if st.st_dev == rootdev else (st.st_dev, st.st_ino)
                k = index.get(key)
                if k is None:
                    k = index[key] = len(nlink)
                    add_nlink(links_to)
                    add_blocks(st.st_blocks * 512)
                    add_size(st.st_size)
                add_link(k)
        disk *= 512  # st_blocks counts 512-byte units
        links.append(found)
        uniq = set(found)
        if len(uniq) < len(found):  # two links to one inode inside the entry: count it once
            u.inodes = array("I", sorted(uniq))
        else:
            u.inodes = found
        if u.bucket != current_bucket:
            current_bucket, seen_in_bucket = u.bucket, set()
        new = uniq - seen_in_bucket
        seen_in_bucket |= new
        bi = u.bucket
        u.apparent = app + sum(map(size.__getitem__, u.inodes))
        u.disk = disk + sum(map(blocks.__getitem__, u.inodes))
        u.exclusive, u.files = disk, files
        b_app[bi] += app + sum(map(size.__getitem__, new))
        b_disk[bi] += disk + sum(map(blocks.__getitem__, new))
        b_excl[bi] += disk
        total_app += app
        total_disk += disk
        entry_disk[u.path] = u.disk
        now = time.monotonic()
        if on_progress and now - last_progress >= progress_interval:
            last_progress = now
            progress(ui + 1)
    if on_progress:
        progress(len(units))
    del index, seen_in_bucket
    total_disk += sum(blocks)
    total_app += sum(size)
    codes = _classify(units, links, nlink, b_excl, blocks)
    entries_out = _entries(units, buckets, codes, blocks)
    bucket_usage = tuple(BucketUsage(b, entries[i], b_app[i], b_disk[i], b_excl[i]) for i, b in enumerate(buckets))
    return DiskReport(root, total_disk, total_app, bucket_usage, entries_out, tuple(errors), time.monotonic() - started)


# Bits of an inode's class code: how its links are spread over the cache.
_ALONE, _OUTSIDE, _ENV1, _ENV2, _WHEEL1, _WHEEL2, _OTHER1, _OTHER2 = (1 << i for i in range(8))


def _classify(units: list[_Unit], links: list[array], nlink: array, b_excl: list[int], blocks: array) -> bytearray:
    """One byte per inode saying where its links are (see the ``_ALONE``... bits); adds the
    inodes whose links all lie in one bucket to that bucket's reclaimable bytes."""
    n = len(nlink)
    found = array("q", bytes(8 * n))
    owners = array("q", bytes(8 * n))
    envs, wheels = array("q", bytes(8 * n)), array("q", bytes(8 * n))
    bucket_of = array("q", [-1]) * n
    multi_bucket = bytearray(n)
    for u, all_links in zip(units, links):
        for k in all_links:
            found[k] += 1
        for k in u.inodes:
            owners[k] += 1
        counter = envs if u.kind in _ENV_LIKE else wheels if u.kind == ARCHIVE else None
        if counter is not None:
            for k in u.inodes:
                counter[k] += 1
        bi = u.bucket
        for k in u.inodes:
            b = bucket_of[k]
            if b == -1:
                bucket_of[k] = bi
            elif b != bi:
                multi_bucket[k] = 1
    codes = bytearray(n)
    for k in range(n):
        whole = found[k] >= nlink[k]
        if whole and not multi_bucket[k]:
            b_excl[bucket_of[k]] += blocks[k]
        e, w = envs[k], wheels[k]
        o = owners[k] - e - w
        codes[k] = (
            (_ALONE if whole and owners[k] == 1 else 0)
            | (0 if whole else _OUTSIDE)
            | (_ENV1 if e >= 1 else 0) | (_ENV2 if e >= 2 else 0)
            | (_WHEEL1 if w >= 1 else 0) | (_WHEEL2 if w >= 2 else 0)
            | (_OTHER1 if o >= 1 else 0) | (_OTHER2 if o >= 2 else 0)
        )
    return codes


def _entries(units: list[_Unit], buckets: list[Bucket], codes: bytearray, blocks: array) -> dict[str, EntryUsage]:
    """The figures of every entry, from the class codes of its inodes."""
    wheel_units = {ui for ui, u in enumerate(units) if u.kind == ARCHIVE}
    # The archive entry (not an environment) holding each inode: -1 none, -2 more than one.
    wheel_of = array("q", [-1]) * len(codes)
    for ui in wheel_units:
        for k in units[ui].inodes:
            wheel_of[k] = ui if wheel_of[k] == -1 else -2
    used_by: dict[int, list[str]] = {}
    uses_of: dict[int, tuple[int, ...]] = {}
    for ui, u in enumerate(units):
        if u.kind in _ENV_LIKE and u.inodes:
            uses = set(map(wheel_of.__getitem__, u.inodes)) - {-1, -2}
            uses_of[ui] = tuple(sorted(uses))
            for w in uses:
                used_by.setdefault(w, []).append(u.path)
    out: dict[str, EntryUsage] = {}
    for ui, u in enumerate(units):
        by_code = [0] * 256
        for k in u.inodes:
            by_code[codes[k]] += blocks[k]
        env_bit = _ENV2 if u.kind in _ENV_LIKE else _ENV1
        wheel_bit = _WHEEL2 if u.kind == ARCHIVE else _WHEEL1
        other_bit = _OTHER1 if u.kind in _ENV_LIKE or u.kind == ARCHIVE else _OTHER2
        figures = [u.exclusive, 0, 0, 0, 0]
        for code, b in enumerate(by_code):
            if not b:
                continue
            if code & _ALONE:
                figures[0] += b
                continue
            for i, bit in enumerate((env_bit, wheel_bit, other_bit, _OUTSIDE), 1):
                if code & bit:
                    figures[i] += b
        usage = Usage(u.apparent, u.disk, *figures, files=u.files)
        out[u.path] = EntryUsage(
            Path(u.path),
            buckets[u.bucket].dirname,
            u.kind,
            usage,
            uses=tuple(Path(units[w].path) for w in uses_of.get(ui, ())),
            used_by=tuple(Path(p) for p in sorted(used_by.get(ui, ()))),
        )
    return out


def add_sizes_to_json(doc: dict, environments, report: DiskReport) -> dict:
    """Add disk figures to an ``envtui ls --json`` document (from ``inventory_to_json``) in place
    and return it: every environment gains ``bytes``: ``{"apparent", "disk", "exclusive"}``
    (``null`` if not measured; a cached environment counts its ``archive-v0`` target), every
    bucket gains ``entries``, ``apparent``, ``disk`` and ``reclaimable``, and the document gains
    ``total_disk`` and ``total_apparent``. Bytes throughout; ``environments`` are the
    :class:`~envtui.core.environments.Environment` records behind ``doc["environments"]``, in order."""
    for d, env in zip(doc["environments"], environments):
        usage = report.environment(env.path, env.link_target)
        d["bytes"] = None if usage is None else {"apparent": usage.apparent, "disk": usage.disk, "exclusive": usage.exclusive}
    by_path = {str(b.bucket.path): b for b in report.buckets}
    for d in doc["buckets"]:
        b = by_path.get(d["path"])
        d.update(entries=b.entries if b else None, apparent=b.apparent if b else None,
                 disk=b.disk if b else None, reclaimable=b.reclaimable if b else None)
    doc["total_disk"] = report.total_disk
    doc["total_apparent"] = report.total_apparent
    return doc
