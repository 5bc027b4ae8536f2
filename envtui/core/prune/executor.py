"""Running a prune plan: the same entries, checked again, deleted safely, freed bytes measured."""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable

from ..errors import CacheError
from ..locks import ProcessInfo, RootLock, lock_entry, root_lock_holders, try_lock_root, wait_lock_root
from .records import Plan, PlanEntry, Skipped
from .remover import Removal, remove_path
from .safety import Look, Rules, vet

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
    """Disk bytes the entries that passed the last check were predicted to free (their paths
    walked just before deleting, under the lock)."""
    measured_bytes: int
    """Disk bytes freed as measured by ``measure``: ``"walk"``, counted while deleting (every
    directory removed and every file whose last link was removed: what ``du -sB1`` loses, when
    nothing outside the cache links to the files); ``"statvfs"``, the filesystem's free blocks
    after minus before (other writers on the filesystem show up too)."""
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
    under: RootLock | None = None,
) -> PruneResult:
    """Delete the entries of ``plan``, and nothing else.

    With ``under``, a root lock the caller holds (and releases), that lock is used; for a plan
    made under it (``plan_prune(..., under=lock)``) the references and the walk of the plan's
    paths the plan was checked with are reused, since no uv can have written meanwhile; running
    processes and entry locks are looked at again. Otherwise it takes uv's root lock
    exclusively without waiting (or polling up to ``wait`` seconds). When
    uv holds it: with ``go_on_if_busy`` the plan runs entry by entry, skipping entries that need
    the lock (archive entries, ``.tmp*`` leftovers); otherwise raises :class:`CacheBusy` naming
    the processes. Then, under that lock and just before deleting, every entry is checked again
    by the rules of :mod:`envtui.core.prune.safety` against a fresh look: links found anew on
    disk, running processes, entry locks; what became referenced, used or locked since the plan
    was made is skipped and reported. Each entry's own lock is held while it is deleted; a cached
    environment's link goes before its lock file and its archive target.
    ``on_progress(done, total, entry)`` is called after each entry. ``measure`` is ``"walk"``
    (count, while deleting, every inode whose last link goes: exact, what ``du`` loses) or
    ``"statvfs"`` (the filesystem's free space after minus before). The root lock is released
    before returning (unless it is ``under``). Raises ``NotACacheError``/``UnsafePathError`` for a
    root that must not be pruned, ``ValueError`` for an ``under`` no longer held.
    """
    rules = Rules(plan.root)
    root = rules.root
    if under is not None:
        if not under.held:
            raise ValueError(f"run under {under.path}: that lock is no longer held")
        lock: RootLock | None = under
    else:
        lock = try_lock_root(root)
        if lock is None and wait > 0:
            lock = wait_lock_root(root, wait, should_stop=should_stop)
        if lock is None and not go_on_if_busy:
            raise CacheBusy(root, tuple(root_lock_holders(root)))
    try:
        exclusive = lock is not None
        entries = list(plan.entries)
        vetted = plan.vetted if plan.vetted is not None and under is not None and plan.vetted.lock is under else None
        look = Look(rules, exclusive, references=vetted.look.references if vetted else None, should_stop=should_stop)
        todo, late, freed, groups = vet(entries, look, should_stop=should_stop,
                                        freed=vetted.freed if vetted else None, groups=vetted.groups if vetted else None)
        for s in late:
            if s.reason.startswith("referenced"):
                late[late.index(s)] = replace(s, reason=f"{s.reason} (since the plan was made)")
        skipped = list(plan.skipped) + late
        predicted = freed.subset_total(groups)[0]
        before = _free_bytes(root) if measure == "statvfs" else 0
        removal = Removal()
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
            left = len(removal.left)
            try:
                for path in entry.paths:
                    remove_path(path, root=root, mounts=rules.mounts, acc=removal)
                if len(removal.left) > left:
                    where, why = removal.left[left]
                    errors.append((entry.path, f"{where}: {why}"))
                else:
                    deleted.append(entry)
            except OSError as err:
                errors.append((entry.path, f"{err.filename or entry.path}: {err.strerror or err}"))
            finally:
                if fd is not None:
                    os.close(fd)
            if on_progress is not None:
                on_progress(done, len(todo), entry)
        measured = _free_bytes(root) - before if measure == "statvfs" else removal.disk
        return PruneResult(plan, tuple(deleted), tuple(skipped), tuple(errors), predicted, measured, exclusive,
                           cancelled, measure)
    finally:
        if lock is not None and lock is not under:
            lock.release()
