"""What deleting a set of paths frees: an inode counts once, and only when every one of its
``st_nlink`` links is in the set (uv's own "Removed N files (X)" adds ``st_size`` and overstates)."""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path
from typing import Callable, Iterable

from .walk import walk_entry

__all__ = ["Freed", "freed_bytes"]


def freed_bytes(paths: Iterable[str | os.PathLike], **walk_kwargs) -> tuple[int, int]:
    """Return ``(disk bytes, apparent bytes)`` that deleting all of ``paths`` together frees.

    An inode counts only when every one of its links (``st_nlink``) lies inside the set, and then
    once: ``sum over such inodes of st_blocks * 512`` (and of ``st_size``). Links outside the set,
    inside the cache (another environment) or outside it (a project ``.venv``), keep a file alive.
    Overlapping paths are counted once.
    """
    seen: dict[tuple[int, int], list] = {}
    for path in paths:
        for fs in walk_entry(path, **walk_kwargs):
            key = (fs.dev, fs.ino)
            rec = seen.get(key)
            if rec is None:
                seen[key] = [fs, {fs.path}]
            else:
                rec[1].add(fs.path)
    disk = apparent = 0
    for fs, links in seen.values():
        if fs.is_dir or len(links) >= fs.nlink:
            disk += fs.blocks
            apparent += fs.size
    return disk, apparent


class Freed:
    """Bytes freed by deleting groups of paths, group by group, with the same rule as
    ``freed_bytes``: an inode is freed once every one of its ``st_nlink`` links is deleted."""

    def __init__(self, should_stop: Callable[[], bool] | None = None) -> None:
        self.total = 0
        """Disk bytes all groups added so far free together."""
        self._own: list[int] = []
        self._shared: dict[tuple[int, int], tuple[int, int, Counter]] = {}
        self._seen: set[str] = set()
        self._should_stop = should_stop

    def add(self, paths: Iterable[Path]) -> int:
        """Add one group (an entry's paths); return its index."""
        index = len(self._own)
        own = 0
        for path in paths:
            for fs in walk_entry(path, should_stop=self._should_stop):
                if fs.path in self._seen:
                    continue
                self._seen.add(fs.path)
                if fs.is_dir or fs.nlink <= 1:
                    own += fs.blocks
                    continue
                nlink, blocks, holders = self._shared.setdefault((fs.dev, fs.ino), (fs.nlink, fs.blocks, Counter()))
                before = sum(holders.values())
                holders[index] += 1
                if before < nlink <= before + 1:
                    self.total += blocks
        self._own.append(own)
        self.total += own
        return index

    def _split(self) -> tuple[list[int], list[int]]:
        alone = list(self._own)
        together = list(self._own)
        for nlink, blocks, holders in self._shared.values():
            full = sum(holders.values()) >= nlink
            for i, count in holders.items():
                if full:
                    together[i] += blocks
                if count >= nlink:
                    alone[i] += blocks
        return alone, together

    def alone(self) -> list[int]:
        """Per group: bytes deleting only that group frees."""
        return self._split()[0]

    def per_entry(self) -> list[int]:
        """Per group: bytes of its files freed when every group is deleted."""
        return self._split()[1]
