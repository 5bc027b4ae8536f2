"""Where the space goes: one walk of the cache root, with hardlinks counted exactly.

uv installs by hardlink, so an environment's files share inodes with ``archive-v0`` and with
project ``.venv``s outside the cache. This module walks every top-level entry once (with the
walker of :func:`~envtui.core.disk.walk.inode_table`: C or pure Python, never following a
symlink) and derives from that one walk:

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
import time
from array import array
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, Mapping, Sequence

from ..buckets import Bucket, list_buckets
from ..errors import ScanCancelled
from .walk import Table, UnitWalk, _cwalk, inode_table, native_available, walk_units

if TYPE_CHECKING:
    from ..environments import Environment

__all__ = [
    "ARCHIVE",
    "ARCHIVE_ENV",
    "BucketUsage",
    "CacheLinks",
    "DiskProgress",
    "DiskReport",
    "ENTRY",
    "ENV_LINK",
    "EntryUsage",
    "SCRIPT_ENV",
    "Usage",
    "PreparedScan",
    "add_sizes_to_json",
    "prepare_scan",
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
    crossings: tuple[Path, ...] = ()
    """Directories on another filesystem than their parent: walked into and counted, as ``du``
    does without ``-x`` (a prune never crosses them)."""
    links: "CacheLinks | None" = field(default=None, compare=False, repr=False)
    """The hardlinked inodes the walk met, for measuring what lies outside the cache against it
    without a second walk; ``None`` for figures from a saved index."""

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


class CacheLinks:
    """The hardlinked inodes (``st_nlink > 1``) one :func:`scan_disk` met, and which cache items
    hold them: what :func:`~envtui.core.machine.measure_machine` needs to tell which items of the
    cache share files with managed Pythons, tools and project environments, without walking the
    cache a second time. An item is a child of an ``archive-vN`` or ``environments-vN`` bucket, or
    any other top-level entry whole. Holds the walk's inode table (about 50 bytes per hardlinked
    inode) until :meth:`release`."""

    def __init__(self, table: Table | None, items: list[str], holdings: list[tuple[int, array[int]]]) -> None:
        self._table = table
        self._items = items
        self._holdings = holdings  # per cache entry walked: (its item, its inodes' table indices)

    def find(self, dev: int, ino: int) -> int:
        """The inode's index in the walk's table, or -1 if the cache holds no link to it (or it
        has one link only). Raises ``ValueError`` after :meth:`release`."""
        if self._table is None:
            raise ValueError("the cache's links were released")
        return self._table.find(dev, ino)

    def holders(self, indices: Iterable[int]) -> dict[int, list[str]]:
        """For each table index of ``indices``: the cache items holding a link to it, each once,
        in walk order."""
        wanted = set(indices)
        out: dict[int, list[str]] = {}
        for item, inodes in self._holdings if wanted else ():
            for k in wanted.intersection(inodes):
                held = out.setdefault(k, [])
                if not held or held[-1] != self._items[item]:
                    held.append(self._items[item])
        return out

    def release(self) -> None:
        """Free the table (the figures of the report stay)."""
        self._table, self._holdings = None, []

    def __deepcopy__(self, memo: dict[int, object]) -> "CacheLinks":
        return self  # dataclasses.asdict of a report: the table is not copied


def _item_of(unit_path: str, b: Bucket, root: str) -> str:
    """The cache item (see :class:`CacheLinks`) a cache entry of top-level entry ``b`` lies in."""
    if b.kind == "bucket" and b.name in ("archive", "environments"):
        return os.path.join(root, b.dirname, unit_path[len(root) + len(b.dirname) + 2:].split(os.sep, 1)[0])
    return str(b.path)


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
    native: bool | None = None,
    keep_links: bool = True,
    prepared: "PreparedScan | None" = None,
) -> DiskReport:
    """Walk the cache at ``root`` once and account for every byte (see the module docstring).

    ``on_progress`` is called with a :class:`DiskProgress` at most every ``progress_interval``
    seconds, and once when every entry is measured. Unreadable paths are reported in
    ``DiskReport.errors``; directories on another filesystem are walked (as ``du`` does) and
    listed in ``DiskReport.crossings``. ``native`` picks the walker (see
    :func:`~envtui.core.disk.walk.inode_table`; ``None``: the C one where built). With
    ``keep_links`` the report keeps the walk's hardlinked inodes (:attr:`DiskReport.links`).
    ``prepared`` is :func:`prepare_scan` of the same root, done beforehand (used once). Raises
    :class:`ScanCancelled` when ``should_stop()`` turns true (checked every 64 directories),
    ``OSError`` if the root cannot be listed. Mirrors no uv code: uv's own ``uv cache size`` and
    "Removed N files" add ``st_size`` per link.
    """
    prep = prepared if prepared is not None and prepared.root == Path(root) else prepare_scan(root, should_stop=should_stop)
    started, root, buckets, units, acc = prep.started, prep.root, prep.buckets, prep.units, prep.accounts
    table = inode_table(native)
    acc.walk(table, should_stop, on_progress, progress_interval)
    nlink, blocks, size = table.arrays()
    links = _links(root, buckets, units, table) if keep_links else None
    del table
    acc.total_disk += sum(array("q", blocks))
    acc.total_app += sum(array("q", size))
    entries_out = _entries(units, buckets, acc.links, nlink, blocks, acc.b_excl,
                           native_available() if native is None else native)
    bucket_usage = tuple(
        BucketUsage(b, acc.entries[i], acc.b_app[i], acc.b_disk[i], acc.b_excl[i]) for i, b in enumerate(buckets)
    )
    return DiskReport(
        root, acc.total_disk, acc.total_app, bucket_usage, entries_out, tuple(acc.errors),
        time.monotonic() - started, tuple(acc.crossings), links,
    )


@dataclass
class PreparedScan:
    """The listing part of :func:`scan_disk`: the cache's entries and the directories that hold
    them, each ``lstat``'ed. It makes every system call the scan makes from Python (a few per
    entry); the rest is the walk in C and arithmetic. A thread that runs beside another busy with
    Python (a TUI importing, drawing) waits a switch interval after each system call, so this part
    is best done before such work starts (:class:`~envtui.core.disk.background.BackgroundScan`)."""

    root: Path
    started: float
    buckets: list[Bucket]
    units: list["_Unit"]
    accounts: "_Accounts"


def prepare_scan(root: Path, *, should_stop: Callable[[], bool] | None = None) -> PreparedScan:
    """List the cache at ``root`` for :func:`scan_disk` (its ``prepared``). Raises as it does."""
    started = time.monotonic()
    root = Path(root)
    buckets = list_buckets(root)
    units, holders = _plan(buckets, should_stop)
    acc = _Accounts(root, buckets, units)
    acc.add_holders(holders)
    return PreparedScan(root, started, buckets, units, acc)


def _links(root: Path, buckets: list[Bucket], units: list[_Unit], table: Table) -> CacheLinks:
    items: list[str] = []
    index: dict[str, int] = {}
    holdings: list[tuple[int, array[int]]] = []
    for u in units:
        if u.inodes:
            item = _item_of(u.path, buckets[u.bucket], str(root))
            holdings.append((index.setdefault(item, len(items)), u.inodes))
            if len(index) > len(items):
                items.append(item)
    return CacheLinks(table, items, holdings)


def _plan(buckets: list[Bucket], should_stop: Callable[[], bool] | None) -> tuple[list[_Unit], list[tuple[int, list[str]]]]:
    """Every cache entry to walk, in walk order, and per bucket the directories that hold them."""
    units: list[_Unit] = []
    holders: list[tuple[int, list[str]]] = []
    for i, b in sorted(enumerate(buckets), key=lambda ib: _order(ib[1])):
        if should_stop and should_stop():
            raise ScanCancelled()
        u, h = _units_of(b, i)
        units += u
        holders.append((i, h))
    return units, holders


class _Accounts:
    """The running figures of one :func:`scan_disk`: per bucket, in total, and per entry."""

    def __init__(self, root: Path, buckets: list[Bucket], units: list[_Unit]) -> None:
        self.buckets, self.units = buckets, units
        n = len(buckets)
        self.entries = [0] * n
        for u in units:
            self.entries[u.bucket] += 1
        self.b_app, self.b_disk, self.b_excl = [0] * n, [0] * n, [0] * n
        root_st = os.lstat(root)
        self.total_disk, self.total_app = root_st.st_blocks * 512, root_st.st_size
        self.root_disk = self.total_disk
        self.errors: list[tuple[Path, str]] = []
        self.crossings: list[Path] = []
        self.links: list[array[int]] = []  # per entry: every link's inode, in walk order (duplicates kept)
        self.reached = [self.entries[i] == 0 for i in range(n)]  # buckets whose walk has begun

    def error(self, path: str, errno: int) -> None:
        self.errors.append((Path(path), os.strerror(errno)))

    def add_holders(self, holders: list[tuple[int, list[str]]]) -> None:
        """Count the directories that hold cache entries at bucket level (deleting one entry does
        not delete them)."""
        for i, paths in holders:
            for p in paths:
                try:
                    st = os.lstat(p)
                except OSError as err:
                    self.error(p, err.errno or 0)
                    continue
                self.b_app[i] += st.st_size
                self.b_disk[i] += st.st_blocks * 512
                self.b_excl[i] += st.st_blocks * 512
                self.total_app += st.st_size
                self.total_disk += st.st_blocks * 512

    def walk(self, table: Table, should_stop: Callable[[], bool] | None,
             on_progress: Callable[[DiskProgress], None] | None, interval: float) -> None:
        """Walk every entry with ``table``'s walker, adding up as it goes: in batches of about
        ``interval`` seconds when there is progress to report, else in one call."""
        members = [u.members for u in self.units]
        marks = [u.bucket for u in self.units]
        budget = interval if on_progress else float("inf")
        entry_disk: dict[str, int] = {}
        done = 0
        while done < len(self.units):
            for w in walk_units(table, members, marks, done, budget, should_stop):
                u = self.units[done]
                done += 1
                self.reached[u.bucket] = True
                self._add(u, w)
                entry_disk[u.path] = u.disk
            if on_progress and done < len(self.units):
                on_progress(self.progress(done, entry_disk))
        if on_progress:
            on_progress(self.progress(len(self.units), entry_disk))

    def _add(self, u: _Unit, w: UnitWalk) -> None:
        for path, errno in w.errors:
            self.error(path, errno)
        self.crossings += map(Path, w.crossings)
        self.links.append(w.found)
        u.inodes = w.inodes
        u.apparent, u.disk, u.exclusive, u.files = w.apparent, w.disk, w.own_disk, w.files
        bi = u.bucket
        self.b_app[bi] += w.own_apparent + w.new_apparent
        self.b_disk[bi] += w.own_disk + w.new_disk
        self.b_excl[bi] += w.own_disk
        self.total_app += w.own_apparent
        self.total_disk += w.own_disk

    def progress(self, done: int, entry_disk: dict[str, int]) -> DiskProgress:
        snap = tuple(
            BucketUsage(b, self.entries[i], self.b_app[i] if self.reached[i] else None, self.b_disk[i] if self.reached[i] else None)
            for i, b in enumerate(self.buckets)
        )
        return DiskProgress(done, len(self.units), sum(self.b_disk) + self.root_disk, snap, dict(entry_disk))


# Bits of an inode's class code: how its links are spread over the cache.
_ALONE, _OUTSIDE, _ENV1, _ENV2, _WHEEL1, _WHEEL2, _OTHER1, _OTHER2 = (1 << i for i in range(8))
# A unit's kind, as the classifier takes it.
_KIND_OTHER, _KIND_ENV, _KIND_WHEEL = 0, 1, 2


#: One cache entry as the classifier takes it: ``(found, inodes, kind, bucket)``, table indices as
#: an ``array("I")`` or bytes of uint32.
_UnitRow = tuple["array[int] | bytes", "array[int] | bytes", int, int]


def _kind_code(kind: str) -> int:
    return _KIND_ENV if kind in _ENV_LIKE else _KIND_WHEEL if kind == ARCHIVE else _KIND_OTHER


def _u32(x: array[int] | bytes) -> array[int] | memoryview:
    """Table indices as given (an ``array("I")``), or bytes of uint32 read in place."""
    return x if isinstance(x, array) else memoryview(x).cast("I")


def _classify_units(
    nlink: bytes, blocks: bytes, units: Sequence[_UnitRow], nbuckets: int
) -> tuple[list[int], list[tuple[int, ...]], list[tuple[int, ...] | None]]:
    """Where each hardlinked inode's links lie, and what follows for each unit and bucket.

    ``nlink`` and ``blocks`` are the inode table's int64 columns (bytes); ``units`` one
    ``(found, inodes, kind, bucket)`` per cache entry (uint32 table indices: every link met, and
    each inode once; kind :data:`_KIND_OTHER`, :data:`_KIND_ENV` or :data:`_KIND_WHEEL`).
    Returns ``(bucket_exclusive, figures, uses)``: per bucket, the allocated bytes of inodes whose
    links all lie in it; per unit, ``(alone, environments, wheels, other, outside)`` bytes of its
    inodes (alone: every link in this unit; then shared with another environment, an unpacked
    wheel, another kind of entry, links outside the cache); per environment unit, the sorted
    indices of the wheel units its inodes lie in (``None`` for the others). The C twin
    (``_cwalk.classify``) gives the same.
    """
    nl, bl = array("q", nlink), array("q", blocks)
    n = len(nl)
    found, owners = array("q", bytes(8 * n)), array("q", bytes(8 * n))
    envs, wheels = array("q", bytes(8 * n)), array("q", bytes(8 * n))
    bucket_of = array("q", [-1]) * n
    multi_bucket = bytearray(n)
    for f, unit_inodes, kind, bi in units:
        for k in _u32(f):
            found[k] += 1
        inodes = _u32(unit_inodes)
        for k in inodes:
            owners[k] += 1
        counter = envs if kind == _KIND_ENV else wheels if kind == _KIND_WHEEL else None
        if counter is not None:
            for k in inodes:
                counter[k] += 1
        for k in inodes:
            b = bucket_of[k]
            if b == -1:
                bucket_of[k] = bi
            elif b != bi:
                multi_bucket[k] = 1
    b_excl = [0] * nbuckets
    codes = bytearray(n)
    for k in range(n):
        whole = found[k] >= nl[k]
        if whole and not multi_bucket[k] and bucket_of[k] >= 0:
            b_excl[bucket_of[k]] += bl[k]
        e, w = envs[k], wheels[k]
        o = owners[k] - e - w
        codes[k] = (
            (_ALONE if whole and owners[k] == 1 else 0)
            | (0 if whole else _OUTSIDE)
            | (_ENV1 if e >= 1 else 0) | (_ENV2 if e >= 2 else 0)
            | (_WHEEL1 if w >= 1 else 0) | (_WHEEL2 if w >= 2 else 0)
            | (_OTHER1 if o >= 1 else 0) | (_OTHER2 if o >= 2 else 0)
        )
    # The wheel unit holding each inode: -1 none, -2 more than one.
    wheel_of = array("q", [-1]) * n
    for ui, (_f, unit_inodes, kind, _b) in enumerate(units):
        if kind == _KIND_WHEEL:
            for k in _u32(unit_inodes):
                wheel_of[k] = ui if wheel_of[k] == -1 else -2
    figures: list[tuple[int, ...]] = []
    uses: list[tuple[int, ...] | None] = []
    for _f, unit_inodes, kind, _b in units:
        inodes = _u32(unit_inodes)
        by_code = [0] * 256
        for k in inodes:
            by_code[codes[k]] += bl[k]
        env_bit = _ENV2 if kind == _KIND_ENV else _ENV1
        wheel_bit = _WHEEL2 if kind == _KIND_WHEEL else _WHEEL1
        other_bit = _OTHER2 if kind == _KIND_OTHER else _OTHER1
        fig = [0, 0, 0, 0, 0]
        for code, b in enumerate(by_code):
            if not b:
                continue
            if code & _ALONE:
                fig[0] += b
                continue
            for i, bit in enumerate((env_bit, wheel_bit, other_bit, _OUTSIDE), 1):
                if code & bit:
                    fig[i] += b
        figures.append(tuple(fig))
        uses.append(tuple(sorted({wheel_of[k] for k in inodes} - {-1, -2})) if kind == _KIND_ENV and inodes else None)
    return b_excl, figures, uses


def _entries(units: list[_Unit], buckets: list[Bucket], links: list[array[int]], nlink: bytes, blocks: bytes,
             b_excl: list[int], native: bool) -> dict[str, EntryUsage]:
    """The figures of every entry; adds to ``b_excl`` each bucket's bytes no other bucket links to."""
    table: list[_UnitRow] = [(f, u.inodes, _kind_code(u.kind), u.bucket) for u, f in zip(units, links)]
    if native and _cwalk is not None:
        bucket_excl, figures, uses_of = _cwalk.classify(nlink, blocks, table, len(buckets))
    else:
        bucket_excl, figures, uses_of = _classify_units(nlink, blocks, table, len(buckets))
    for i, b in enumerate(bucket_excl):
        b_excl[i] += b
    used_by: dict[int, list[str]] = {}
    for ui, uses in enumerate(uses_of):
        for w in uses or ():
            used_by.setdefault(w, []).append(units[ui].path)
    out: dict[str, EntryUsage] = {}
    for ui, u in enumerate(units):
        alone, envs, wheels, other, outside = figures[ui]
        usage = Usage(u.apparent, u.disk, u.exclusive + alone, envs, wheels, other, outside, files=u.files)
        out[u.path] = EntryUsage(
            Path(u.path),
            buckets[u.bucket].dirname,
            u.kind,
            usage,
            uses=tuple(Path(units[w].path) for w in uses_of[ui] or ()),
            used_by=tuple(Path(p) for p in sorted(used_by.get(ui, ()))),
        )
    return out


def add_sizes_to_json(doc: dict[str, Any], environments: Sequence[Environment], report: DiskReport) -> dict[str, Any]:
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
