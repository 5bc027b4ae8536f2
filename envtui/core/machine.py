"""Everything uv keeps on this machine, accounted together: the cache, the managed Pythons, the
installed tools and the project environments, hardlinks counted once across all of them.

uv installs by hardlink, so a tool's or a project's ``.venv`` files are usually the same inodes as
``archive-v0`` entries of the cache: deleting the ``.venv`` frees only the inodes whose every link
(``st_nlink``) lies inside it, and an archive entry a project still links to frees nothing. One walk
(:func:`~envtui.core.disk.walk.walk_stats`, never following a symlink) over every part outside the
cache, and the cache's own walk (:func:`~envtui.core.disk.scan_disk`, whose report keeps the
hardlinked inodes it met), give, per item (a Python, a tool, a project environment, a cache
entry): its disk bytes, what deleting it alone frees, and which items of the other parts share its
files; per part, its disk bytes; and the total, each inode once, which equals ``du -sB1 --total``
over all the parts' directories.
"""

from __future__ import annotations

import os
import stat
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from .contain import under_any
from .disk.scan import DiskReport
from .disk.walk import walk_stats

__all__ = ["CACHE", "PARTS", "PROJECTS", "PYTHONS", "TOOLS", "ItemUsage", "MachineUsage", "PartUsage", "Share", "measure_machine"]

CACHE, PYTHONS, TOOLS, PROJECTS = "cache", "pythons", "tools", "projects"
#: The parts, in the order the overview shows them.
PARTS = (CACHE, PYTHONS, TOOLS, PROJECTS)


@dataclass(frozen=True)
class Share:
    """Disk bytes one item shares with another (the same inodes)."""

    path: Path
    """The other item."""
    part: str
    """The other item's part (:data:`CACHE`, :data:`PYTHONS`, :data:`TOOLS`, :data:`PROJECTS`)."""
    bytes: int
    """Allocated bytes of the inodes both hold links to."""


@dataclass(frozen=True)
class ItemUsage:
    """The figures of one item: a Python, a tool, a project environment, or a cache entry that
    shares files with one of those."""

    path: Path
    """The item's directory."""
    part: str
    """Its part."""
    disk: int = 0
    """Allocated bytes (``st_blocks * 512``), each inode once. For cache entries: only the inodes
    they share with the other parts."""
    apparent: int = 0
    """``st_size`` bytes, each inode once (cache entries: as ``disk``)."""
    exclusive: int = 0
    """Allocated bytes deleting it alone frees: inodes all of whose links lie inside it. For
    cache entries: not measured here (0); see :func:`envtui.core.disk.scan_disk`."""
    shares: tuple[Share, ...] = ()
    """Items of other parts (and other tools or projects) holding links to its inodes, largest first."""


@dataclass(frozen=True)
class PartUsage:
    """The figures of one part."""

    name: str
    """:data:`CACHE`, :data:`PYTHONS`, :data:`TOOLS` or :data:`PROJECTS`."""
    items: int
    """Items measured (the cache counts as one)."""
    disk: int = 0
    """Allocated bytes, each inode once within the part."""
    apparent: int = 0
    """``st_size`` bytes, each inode once within the part."""


@dataclass(frozen=True)
class MachineUsage:
    """The result of :func:`measure_machine`."""

    total_disk: int
    """Allocated bytes of every part together, each inode once: ``du -sB1 --total`` over them."""
    total_apparent: int
    """``st_size`` bytes of every part together, each inode once."""
    parts: tuple[PartUsage, ...]
    """Per part, in :data:`PARTS` order (parts not given are absent)."""
    items: Mapping[str, ItemUsage] = field(default_factory=dict)
    """Every Python, tool and project environment, and every cache entry sharing files with
    one of them, by ``str(path)``."""
    errors: tuple[tuple[Path, str], ...] = ()
    """Paths that could not be read, and why."""

    def part(self, name: str) -> PartUsage | None:
        """The figures of part ``name``, or ``None``."""
        return next((p for p in self.parts if p.name == name), None)


def measure_machine(
    parts: Mapping[str, Sequence[str | os.PathLike[str]]],
    *,
    cache: DiskReport | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> MachineUsage:
    """Measure ``parts`` (part name to its item directories, e.g. ``{PYTHONS: [...], TOOLS:
    [...], PROJECTS: [...]}``) and the cache whose walk gave ``cache`` together. The cache is not
    walked again: its figures are the report's, and the items of the cache sharing files with the
    parts are found by looking the parts' hardlinked inodes up in :attr:`DiskReport.links`
    (children of ``archive-vN`` and ``environments-vN``, other top-level entries whole).

    Each inode counts once in the total and once per part and per item; an item's ``exclusive``
    bytes are those of inodes all of whose ``st_nlink`` links lie inside it (what deleting it
    frees). Overlapping items (a project inside another's tree) are counted once, for the first.
    Raises ``ValueError`` for a report without links (from a saved index, or released),
    :class:`~envtui.core.errors.ScanCancelled` when ``should_stop()`` turns true.
    """
    links = cache.links if cache is not None else None
    if cache is not None and links is None:
        raise ValueError(f"the disk report of {cache.root} keeps no links (figures from a saved index, or released)")
    errors: list[tuple[Path, str]] = []

    def on_error(path: str, err: OSError) -> None:
        errors.append((Path(path), err.strerror or str(err)))

    names: list[str] = []  # item index -> path
    item_part: list[str] = []
    own_disk: list[int] = []
    own_app: list[int] = []
    # Inodes of the non-cache parts with more than one link: key -> [nlink, blocks, size, holders].
    table: dict[tuple[int, int], list[Any]] = {}
    part_disk: Counter[str] = Counter()
    part_app: Counter[str] = Counter()
    part_items: Counter[str] = Counter()
    seen_paths: set[str] = set()
    total_disk = total_app = 0
    is_dir = stat.S_ISDIR

    for part, paths in parts.items():
        for path in paths:
            top = os.path.abspath(path)
            if under_any(top, seen_paths):
                continue
            seen_paths.add(top)
            index = len(names)
            names.append(top)
            item_part.append(part)
            part_items[part] += 1
            item_disk = item_app = 0
            for _p, st in walk_stats(top, should_stop=should_stop, on_error=on_error):
                if st.st_nlink == 1 or is_dir(st.st_mode):
                    item_disk += st.st_blocks * 512
                    item_app += st.st_size
                    continue
                rec = table.get((st.st_dev, st.st_ino))
                if rec is None:
                    rec = table[(st.st_dev, st.st_ino)] = [st.st_nlink, st.st_blocks * 512, st.st_size, Counter()]
                rec[3][index] += 1
            own_disk.append(item_disk)
            own_app.append(item_app)
            part_disk[part] += item_disk
            part_app[part] += item_app
            total_disk += item_disk
            total_app += item_app

    in_cache: set[tuple[int, int]] = set()
    if cache is not None and links is not None:
        part_items[CACHE] = 1
        part_disk[CACHE], part_app[CACHE] = cache.total_disk, cache.total_apparent
        found = {k: key for key in table if (k := links.find(*key)) >= 0}
        in_cache.update(found.values())
        item_of: dict[str, int] = {}
        for k, holders in links.holders(found).items():
            counts = table[found[k]][3]
            for item in holders:
                slot = item_of.get(item)
                if slot is None:
                    slot = item_of[item] = len(names)
                    names.append(item)
                    item_part.append(CACHE)
                    own_disk.append(0)
                    own_app.append(0)
                counts[slot] += 1  # cache items get no exclusive bytes here: one link will do
        total_disk += part_disk[CACHE]
        total_app += part_app[CACHE]

    disk = list(own_disk)
    app = list(own_app)
    excl = list(own_disk)
    shares: list[Counter[int]] = [Counter() for _ in names]
    for key, (nlink, blocks, size, holders) in table.items():
        counted_parts = set()
        for i, count in holders.items():
            disk[i] += blocks
            app[i] += size
            if count >= nlink:
                excl[i] += blocks
            if item_part[i] != CACHE and item_part[i] not in counted_parts:
                counted_parts.add(item_part[i])
                part_disk[item_part[i]] += blocks
                part_app[item_part[i]] += size
        if key not in in_cache:  # the cache's own figures already hold the shared ones
            total_disk += blocks
            total_app += size
        if len(holders) > 1:
            for i in holders:
                for j in holders:
                    if i != j:
                        shares[i][j] += blocks
    items = {}
    for i, path in enumerate(names):
        share = tuple(
            Share(Path(names[j]), item_part[j], b) for j, b in sorted(shares[i].items(), key=lambda jb: (-jb[1], names[jb[0]]))
        )
        cache_item = item_part[i] == CACHE
        items[path] = ItemUsage(Path(path), item_part[i], disk[i], app[i], 0 if cache_item else excl[i], share)
    order = [p for p in PARTS if p in parts or (p == CACHE and cache is not None)]
    order += [p for p in parts if p not in order]
    out_parts = tuple(PartUsage(p, part_items[p], part_disk[p], part_app[p]) for p in order)
    return MachineUsage(total_disk, total_app, out_parts, items, tuple(errors))
