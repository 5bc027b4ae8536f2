"""What deleting a set of paths frees: an inode counts once, and only when every one of its
``st_nlink`` links is in the set (uv's own "Removed N files (X)" adds ``st_size`` and overstates).

:class:`Freed` is the one accumulator: the planner's per-entry bytes (alone and with the plan),
``--max-size``'s running total and the executor's prediction all use it.
"""

from __future__ import annotations

import os
import stat
from array import array
from collections import Counter
from typing import Any, Callable, Iterable

from ..contain import ancestors, under_any
from ..errors import ScanCancelled
from .walk import inode_table, walk_unit

__all__ = ["Freed", "ancestors", "freed_bytes", "under_any"]


def freed_bytes(paths: Iterable[str | os.PathLike[str]], **walk_kwargs: Any) -> tuple[int, int]:
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

    Each group's paths are walked once, when added, by the walker of
    :func:`~envtui.core.disk.walk.inode_table` (in C where built, else pure Python: same
    figures); every question after that (the total, per group alone or with the others, for a
    subset of the groups) is answered from what the walk saw, without touching the disk again. A
    path met twice (overlapping groups, or a script environment's ``pyvenv.cfg`` before its
    directory) counts for the first group that holds it: a later path that holds earlier ones is
    walked around them.
    """

    def __init__(self, should_stop: Callable[[], bool] | None = None,
                 on_error: Callable[[str, OSError], None] | None = None, native: bool | None = None) -> None:
        self.total = 0
        """Disk bytes all groups added so far free together."""
        self.apparent = 0
        """The same in apparent bytes (``st_size``)."""
        self._own: list[tuple[int, int]] = []
        # table index -> [nlink, disk, apparent, links per group]
        self._shared: dict[int, tuple[int, int, int, Counter[int]]] = {}
        self._groups_inodes: list[list[int]] = []
        self._tops: set[str] = set()  # every path walked so far, as given
        self._below: dict[str, list[str]] = {}  # a directory -> the walked paths strictly inside it
        self._table = inode_table(native)
        self._columns = (array("q"), array("q"), array("q"))  # nlink, blocks, size: the table's rows
        self._should_stop = should_stop
        self._on_error = on_error
        self._unread: list[list[tuple[str, str]]] = []  # per group: what could not be read
        self._pending: list[tuple[str, str]] = []

    def add(self, paths: Iterable[str | os.PathLike[str]]) -> int:
        """Add one group (an entry's paths), walking them; return its index.
        Raises ``ScanCancelled`` when ``should_stop()`` turns true (asked first, then as the
        walk goes)."""
        if self._should_stop is not None and self._should_stop():
            raise ScanCancelled()
        index = len(self._own)
        members: list[str] = []
        own = own_apparent = 0
        for path in paths:
            p = os.fspath(path).rstrip(os.sep) or os.sep
            if under_any(p, self._tops):
                continue  # counted for the group that held it first
            inner = self._below.get(p)
            self._tops.add(p)
            for above in ancestors(p):
                self._below.setdefault(above, []).append(p)
            if inner:
                o, a = self._around(p, inner, members)
                own, own_apparent = own + o, own_apparent + a
            else:
                members.append(p)
        w = walk_unit(self._table, members, index, self._should_stop)
        for where, errno in w.errors:
            self._error(where, OSError(errno, os.strerror(errno), where))
        nlink, blocks, size = self._columns
        if len(nlink) < len(self._table):
            for column, new in zip(self._columns, self._table.arrays(len(nlink))):
                column.frombytes(new)
        inodes: list[int] = []
        shared = self._shared
        for k in w.found:
            rec = shared.get(k)
            if rec is None:
                rec = shared[k] = (nlink[k], blocks[k], size[k], Counter())
            holders = rec[3]
            if index not in holders:
                inodes.append(k)
            holders[index] += 1
            if sum(holders.values()) == rec[0]:
                self.total += rec[1]
                self.apparent += rec[2]
        own, own_apparent = own + w.own_disk, own_apparent + w.own_apparent
        self._own.append((own, own_apparent))
        self._groups_inodes.append(inodes)
        self._unread.append(self._pending)
        self._pending = []
        self.total += own
        self.apparent += own_apparent
        return index

    def _around(self, d: str, inner: list[str], members: list[str]) -> tuple[int, int]:
        """Go around the paths ``inner`` (walked for earlier groups, each strictly inside ``d``):
        ``d`` itself is counted here (a directory is never hardlinked), its other children go to
        ``members``, and those holding an inner path are gone around in turn. Returns the bytes
        counted here, ``(disk, apparent)``."""
        try:
            st = os.lstat(d)
        except FileNotFoundError:
            return 0, 0
        except OSError as err:
            self._error(d, err)
            return 0, 0
        if not stat.S_ISDIR(st.st_mode):  # a link or a file: nothing lies inside it after all
            members.append(d)
            return 0, 0
        disk, apparent = st.st_blocks * 512, st.st_size
        try:
            names = sorted(os.listdir(d))
        except OSError as err:
            if not isinstance(err, FileNotFoundError):
                self._error(d, err)
            return disk, apparent
        for name in names:
            child = os.path.join(d, name)
            if child in inner:
                continue
            below = [t for t in inner if t.startswith(child + os.sep)]  # child itself is not in inner
            if below:
                o, a = self._around(child, below, members)
                disk, apparent = disk + o, apparent + a
            else:
                members.append(child)
        return disk, apparent

    def _error(self, path: str, err: OSError) -> None:
        self._pending.append((path, err.strerror or str(err)))
        if self._on_error is not None:
            self._on_error(path, err)

    def unreadable(self, among: Iterable[int] | None = None) -> list[tuple[str, str]]:
        """``(path, why)`` of what the walks of the groups ``among`` (default: all) could not read:
        its bytes are in none of the figures, which are then not exact."""
        order = range(len(self)) if among is None else among
        return [e for i in order for e in self._unread[i]]

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

    def figures(self, among: Iterable[int]) -> tuple[list[int], list[int], int, int]:
        """:meth:`alone` and :meth:`per_entry` of ``among`` and :meth:`subset_total` of them,
        ``(alone, with the others, disk, apparent)``, from one pass over the shared inodes."""
        order = list(among)
        alone, together, total, apparent = self._split(set(order))
        return [alone[i] for i in order], [together[i] for i in order], total, apparent

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
