"""What deleting a set of paths frees: an inode counts once, and only when every one of its
``st_nlink`` links is in the set (uv's own "Removed N files (X)" adds ``st_size`` and overstates).

:class:`Freed` is the one accumulator: the planner's per-entry bytes (alone and with the plan),
``--max-size``'s running total and the executor's prediction all use it.
"""

from __future__ import annotations

import os
from collections import Counter
from typing import Callable, Iterable

from .walk import walk_entry

__all__ = ["Freed", "freed_bytes"]


def freed_bytes(paths: Iterable[str | os.PathLike], **walk_kwargs) -> tuple[int, int]:
    """Return ``(disk bytes, apparent bytes)`` that deleting all of ``paths`` together frees.

    An inode counts only when every one of its links (``st_nlink``) lies inside the set, and then
    once: ``sum over such inodes of st_blocks * 512`` (and of ``st_size``). Links outside the set,
    inside the cache (another environment) or outside it (a project ``.venv``), keep a file alive.
    Overlapping paths are counted once. Symlinks are never followed (a link counts as itself).
    """
    freed = Freed(**walk_kwargs)
    freed.add(paths)
    return freed.total, freed.apparent


class Freed:
    """Bytes freed by deleting groups of paths (one group per plan entry), with the rule of
    :func:`freed_bytes`: an inode is freed once every one of its ``st_nlink`` links is deleted.

    Each group's paths are walked once, when added; every question after that (the total, per
    group alone or with the others, for a subset of the groups) is answered from what the walk
    saw, without touching the disk again. A path met twice (overlapping groups) counts for the
    first group that holds it.
    """

    def __init__(self, should_stop: Callable[[], bool] | None = None,
                 on_error: Callable[[str, OSError], None] | None = None) -> None:
        self.total = 0
        """Disk bytes all groups added so far free together."""
        self.apparent = 0
        """The same in apparent bytes (``st_size``)."""
        self._own: list[tuple[int, int]] = []
        # (dev, ino) -> [nlink, disk, apparent, links per group]
        self._shared: dict[tuple[int, int], tuple[int, int, int, Counter]] = {}
        self._groups_inodes: list[list[tuple[int, int]]] = []
        self._seen: set[str] = set()
        self._should_stop = should_stop
        self._on_error = on_error

    def add(self, paths: Iterable[str | os.PathLike]) -> int:
        """Add one group (an entry's paths), walking them; return its index.
        Raises ``ScanCancelled`` when ``should_stop()`` turns true."""
        index = len(self._own)
        own = own_apparent = 0
        inodes: list[tuple[int, int]] = []
        for path in paths:
            for fs in walk_entry(path, should_stop=self._should_stop, on_error=self._on_error):
                if fs.path in self._seen:
                    continue
                self._seen.add(fs.path)
                if fs.is_dir or fs.nlink <= 1:
                    own += fs.blocks
                    own_apparent += fs.size
                    continue
                key = (fs.dev, fs.ino)
                nlink, blocks, size, holders = self._shared.setdefault(key, (fs.nlink, fs.blocks, fs.size, Counter()))
                if index not in holders:
                    inodes.append(key)
                holders[index] += 1
                if sum(holders.values()) == nlink:
                    self.total += blocks
                    self.apparent += size
        self._own.append((own, own_apparent))
        self._groups_inodes.append(inodes)
        self.total += own
        self.apparent += own_apparent
        return index

    def __len__(self) -> int:
        return len(self._own)

    def _split(self, members: set[int]) -> tuple[dict[int, int], dict[int, int], int, int]:
        alone = {i: self._own[i][0] for i in members}
        together = dict(alone)
        total = sum(alone.values())
        apparent = sum(self._own[i][1] for i in members)
        for nlink, blocks, size, holders in self._shared.values():
            inside = [(i, n) for i, n in holders.items() if i in members]
            if not inside:
                continue
            full = sum(n for _, n in inside) >= nlink
            if full:
                total += blocks
                apparent += size
            for i, n in inside:
                if full:
                    together[i] += blocks
                if n >= nlink:
                    alone[i] += blocks
        return alone, together, total, apparent

    def alone(self, among: Iterable[int] | None = None) -> list[int]:
        """Per group (of ``among``, in that order; default every group): disk bytes deleting
        only that group frees."""
        order = list(range(len(self)) if among is None else among)
        alone, _, _, _ = self._split(set(order))
        return [alone[i] for i in order]

    def per_entry(self, among: Iterable[int] | None = None) -> list[int]:
        """Per group (of ``among``, in that order; default every group): disk bytes of its files
        freed when all of ``among`` are deleted (a file shared by several groups counts for each
        of them)."""
        order = list(range(len(self)) if among is None else among)
        _, together, _, _ = self._split(set(order))
        return [together[i] for i in order]

    def subset_total(self, indices: Iterable[int]) -> tuple[int, int]:
        """``(disk bytes, apparent bytes)`` deleting only the groups ``indices`` frees."""
        _, _, total, apparent = self._split(set(indices))
        return total, apparent

    def kept_links(self, index: int, among: Iterable[int] | None = None) -> int:
        """How many of group ``index``'s multiply-linked files keep a link outside the groups
        ``among`` (default: every group): files another entry, kept, or a project outside the
        cache still uses."""
        members = set(range(len(self)) if among is None else among) | {index}
        kept = 0
        for key in self._groups_inodes[index]:
            nlink, _, _, holders = self._shared[key]
            if sum(n for i, n in holders.items() if i in members) < nlink:
                kept += 1
        return kept
