"""Running a prune plan: the same entries, checked again, deleted safely, freed bytes measured."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from ..errors import CacheError
from ..locks import ProcessInfo, RootLock, lock_entry, processes_using, root_lock_holders, try_lock_root, wait_lock_root
from .planner import Plan, PlanEntry, Skipped
from .remover import check_prune_root, guard_path, remove_path
from ..buckets import list_buckets
from ..disk.freed import freed_bytes
from ..disk.walk import disk_usage

__all__ = ["CacheBusy", "PruneResult", "execute_plan"]


class CacheBusy(CacheError):
    """uv's root lock at ``path`` is held by running uv processes (``holders``)."""

    def __init__(self, path: Path, holders: tuple[ProcessInfo, ...]) -> None:
        who = "; ".join(f"pid {p.pid}: {p.cmdline}" for p in holders) or "a process envtui cannot see"
        super().__init__(path, f"uv's cache lock is held by {who}")
        self.holders = holders


@dataclass(frozen=True)
class PruneResult:
    """What running a plan did."""

    plan: Plan
    """The plan that ran."""
    deleted: tuple[PlanEntry, ...]
    """Entries deleted, in order."""
    skipped: tuple[Skipped, ...]
    """The plan's skipped entries, then those skipped when it ran (with reasons)."""
    errors: tuple[tuple[Path, str], ...]
    """Entries whose deletion failed part way, with the error (their links are already gone)."""
    predicted_bytes: int
    """Disk bytes the deleted set was predicted to free (``freed_bytes`` just before)."""
    measured_bytes: int
    """Disk bytes freed as measured by ``measure``: ``"walk"``, the cache's disk usage (each inode
    once, as ``du -sB1``) before minus after; ``"statvfs"``, the filesystem's free blocks after
    minus before (cheap, but other writers on the filesystem show up too)."""
    exclusive: bool
    """Whether uv's root lock was held exclusively throughout."""
    cancelled: bool = False
    """Whether ``should_stop()`` ended the run early."""
    measure: str = "walk"
    """How ``measured_bytes`` was measured."""


def _free_bytes(root: Path) -> int:
    st = os.statvfs(root)
    return st.f_bfree * st.f_frsize


def execute_plan(
    plan: Plan,
    *,
    wait: float = 0.0,
    go_on_if_busy: bool = False,
    on_progress: Callable[[int, int, PlanEntry], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    measure: str = "walk",
) -> PruneResult:
    """Delete the entries of ``plan``, and nothing else.

    Takes uv's root lock exclusively without waiting (or polling up to ``wait`` seconds). When
    uv holds it: with ``go_on_if_busy`` the plan runs entry by entry, skipping entries that need
    the lock (archive entries, ``.tmp*`` leftovers); otherwise raises :class:`CacheBusy` naming
    the processes. Every entry is checked again just before deletion: its paths inside the cache
    root and its bucket deletable, no running process using it, its own lock free (held while
    deleting). A cached environment's link goes before its lock file and its archive target.
    ``on_progress(done, total, entry)`` is called after each entry. ``measure`` is ``"walk"``
    (walk the cache before and after: exact, costs two walks) or ``"statvfs"``. The root lock is released
    before returning. Raises ``NotACacheError``/``UnsafePathError`` for a root that must not be
    pruned.
    """
    root = check_prune_root(plan.root)
    buckets = {b.dirname: b for b in list_buckets(root)}
    lock: RootLock | None = try_lock_root(root)
    if lock is None and wait > 0:
        lock = wait_lock_root(root, wait, should_stop=should_stop)
    if lock is None and not go_on_if_busy:
        raise CacheBusy(root, tuple(root_lock_holders(root)))
    try:
        exclusive = lock is not None
        skipped = list(plan.skipped)
        todo: list[PlanEntry] = []
        in_use = processes_using({str(e.path): e.uses for e in plan.entries if e.uses})
        for entry in plan.entries:
            why = next((w for w in (guard_path(root, p, buckets) for p in entry.paths) if w), None)
            if why:
                skipped.append(Skipped(entry.path, entry.kind, f"unsafe: {why}"))
            elif entry.needs_exclusive and not exclusive:
                skipped.append(Skipped(entry.path, entry.kind, "a uv is running and may be writing it (uv's root lock is held)"))
            elif in_use.get(str(entry.path)):
                skipped.append(Skipped(entry.path, entry.kind, "in use by a running process", tuple(in_use[str(entry.path)])))
            else:
                todo.append(entry)
        if len(todo) == len(plan.entries):
            predicted = plan.bytes_freed
        else:
            predicted = freed_bytes([p for e in todo for p in e.paths])
        usage = (lambda: -disk_usage(root)) if measure == "walk" else (lambda: _free_bytes(root))
        before = usage()
        deleted: list[PlanEntry] = []
        errors: list[tuple[Path, str]] = []
        cancelled = False
        for done, entry in enumerate(todo, 1):
            if should_stop is not None and should_stop():
                cancelled = True
                break
            try:
                fd = lock_entry(entry.lock) if entry.lock is not None else None
            except OSError:
                skipped.append(Skipped(entry.path, entry.kind, f"its lock {entry.lock} is held: a uv is writing it"))
                continue
            try:
                for path in entry.paths:
                    remove_path(path)
                deleted.append(entry)
            except OSError as err:
                errors.append((entry.path, f"{err.filename or entry.path}: {err.strerror or err}"))
            finally:
                if fd is not None:
                    os.close(fd)
            if on_progress is not None:
                on_progress(done, len(todo), entry)
        measured = usage() - before
        return PruneResult(plan, tuple(deleted), tuple(skipped), tuple(errors), predicted, measured, exclusive,
                           cancelled, measure)
    finally:
        if lock is not None:
            lock.release()
