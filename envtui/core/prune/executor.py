"""Running a plan: the same entries, checked again right before, deleted safely, freed bytes
measured. One executor for every deletion: cache entries, project environments, managed Pythons
and tools (the last two through uv's own uninstall, see :attr:`PlanEntry.command`)."""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable

from ..contain import presence
from ..errors import CacheError
from ..locks import ProcessInfo, RootLock, entry_lock_held, lock_entry, root_lock_holders, try_lock_root, wait_lock_root
from .outside import OutsideRules
from .records import CACHE, Plan, PlanEntry, Skipped
from .remover import Removal, UnsafePathError, remove_path
from .safety import Look, Rules, vet

__all__ = ["DELETED", "FAILED", "SKIPPED", "CacheBusy", "PruneResult", "Step", "execute_plan", "rules_for"]

DELETED, SKIPPED, FAILED = "deleted", "skipped", "failed"


class CacheBusy(CacheError):
    """uv's root lock at ``path`` is held by running uv processes (``holders``)."""

    def __init__(self, path: Path, holders: tuple[ProcessInfo, ...]) -> None:
        who = "; ".join(f"pid {p.pid}: {p.cmdline}" for p in holders) or "a process envtui cannot see"
        super().__init__(path, f"uv's cache lock is held by {who}")
        self.holders = holders


@dataclass(frozen=True)
class Step:
    """What happened to one planned entry, as it happened."""

    done: int
    """How many entries have been dealt with, this one included."""
    total: int
    """How many entries passed the last check (the ones the run goes through)."""
    entry: PlanEntry
    """The entry."""
    state: str
    """:data:`DELETED`, :data:`SKIPPED` (a lock found held just before) or :data:`FAILED`."""
    why: str = ""
    """For a skipped or failed entry: why, for a person."""


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
    nothing outside the cache links to the files; for the entries uv uninstalled, what the walk of
    their paths just before the run found they free together); ``"statvfs"``, the
    filesystem's free blocks after minus before (other writers on the filesystem show up too)."""
    exclusive: bool
    """Whether uv's root lock was held exclusively throughout (always true outside the cache,
    where there is no such lock)."""
    cancelled: bool = False
    """Whether ``should_stop()`` ended the run early."""
    measure: str = "walk"
    """How ``measured_bytes`` was measured."""

    @property
    def complete(self) -> bool:
        """Whether everything the plan listed to delete was deleted: no entry skipped while
        running, none failed, not cancelled. The commands exit 1 when it is not."""
        return len(self.deleted) == len(self.plan.entries) and not self.errors and not self.cancelled


def rules_for(plan: Plan) -> "Rules | OutsideRules":
    """The safety rules of the place ``plan`` deletes in, resolved afresh: the cache's
    :class:`~envtui.core.prune.safety.Rules`, or :class:`~envtui.core.prune.outside.OutsideRules`
    with the plan's roots. Raises what they raise for a root that must not be pruned."""
    if plan.scope == CACHE:
        return Rules(plan.root)
    return OutsideRules(plan.scope, plan.roots, keep_out=plan.keep_out)


def _free_bytes(root: Path) -> int:
    st = os.statvfs(root)
    return st.f_bfree * st.f_frsize


def execute_plan(
    plan: Plan,
    *,
    wait: float = 0.0,
    go_on_if_busy: bool = False,
    on_progress: Callable[[int, int, PlanEntry], None] | None = None,
    on_step: Callable[[Step], None] | None = None,
    on_line: Callable[[str], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    measure: str = "walk",
    under: RootLock | None = None,
    ignore_uncertain: bool = False,
    environ: dict[str, str] | None = None,
) -> PruneResult:
    """Delete the entries of ``plan``, and nothing else.

    In the cache: with ``under``, a root lock the caller holds (and releases), that lock is used;
    for a plan made under it (``plan_prune(..., under=lock)``) the references and the walk of the
    plan's paths the plan was checked with are reused, since no uv can have written meanwhile;
    running processes and entry locks are looked at again. Otherwise it takes uv's root lock
    exclusively without waiting (or polling up to ``wait`` seconds). When uv holds it: with
    ``go_on_if_busy`` the plan runs entry by entry, skipping entries that need the lock (archive
    entries, ``.tmp*`` leftovers); otherwise raises :class:`CacheBusy` naming the processes.
    Outside the cache (project environments, managed Pythons, tools: :attr:`Plan.scope`) there
    is no root lock; the plan's roots are resolved afresh (:func:`rules_for`).

    Then, just before deleting, every entry is checked again by the rules of
    :mod:`envtui.core.prune.safety` against a fresh look: links found anew on disk, running
    processes (those envtui cannot inspect count unless ``ignore_uncertain``), entry locks; what
    became referenced, used or locked since the plan was made is skipped and reported. Each
    entry's own lock is held while envtui deletes it; a cached environment's link goes before its
    lock file and its archive target. An entry with a :attr:`PlanEntry.command` is deleted by
    running that uv command instead (``on_line`` gets uv's output; no lock is held while uv
    runs, and ``environ`` is the environment it runs in, ``os.environ`` by default); it counts
    as deleted only when uv exits 0, every one of its paths is gone (a link may instead point
    elsewhere) and nothing else in their directory went.

    ``on_progress(done, total, entry)`` is called after each entry, ``on_step`` with what
    happened to it (:class:`Step`). ``measure`` is ``"walk"`` (count, while deleting, every inode
    whose last link goes: exact, what ``du`` loses) or ``"statvfs"`` (the filesystem's free space
    after minus before). The root lock is released before returning (unless it is ``under``).
    Raises ``NotACacheError``/``UnsafePathError`` for a root that must not be pruned,
    ``ValueError`` for an ``under`` no longer held or a plan whose roots are unusable.
    """
    rules = rules_for(plan)
    root = rules.root
    cache = plan.scope == CACHE
    if under is not None:
        if not under.held:
            raise ValueError(f"run under {under.path}: that lock is no longer held")
        lock: RootLock | None = under
    elif cache:
        lock = try_lock_root(root)
        if lock is None and wait > 0:
            lock = wait_lock_root(root, wait, should_stop=should_stop)
        if lock is None and not go_on_if_busy:
            raise CacheBusy(root, tuple(root_lock_holders(root)))
    else:
        lock = None
    try:
        exclusive = lock is not None or not cache
        entries = list(plan.entries)
        vetted = plan.vetted if plan.vetted is not None and under is not None and plan.vetted.lock is under else None
        look = Look(rules, exclusive, references=vetted.look.references if vetted else None, should_stop=should_stop,
                    ignore_uncertain=ignore_uncertain)
        todo, late, freed, groups = vet(entries, look, should_stop=should_stop,
                                        freed=vetted.freed if vetted else None, groups=vetted.groups if vetted else None)
        for s in late:
            if s.reason.startswith("referenced"):
                late[late.index(s)] = replace(s, reason=f"{s.reason} (since the plan was made)")
        skipped = list(plan.skipped) + late
        predicted = freed.subset_total(groups)[0]
        group_of = dict(zip((e.path for e in todo), groups))
        uninstalled: list[int] = []  # the groups of the entries uv deleted
        start = _free_bytes(root) if measure == "statvfs" else None
        removal = Removal()
        deleted: list[PlanEntry] = []
        errors: list[tuple[Path, str]] = []
        cancelled = False

        def step(done: int, entry: PlanEntry, state: str, why: str = "") -> None:
            if on_step is not None:
                on_step(Step(done, len(todo), entry, state, why))
            if on_progress is not None:
                on_progress(done, len(todo), entry)

        for done, entry in enumerate(todo, 1):
            if should_stop is not None and should_stop():
                cancelled = True
                break
            if entry.command is not None:
                why = _run_command(entry, root, cache, on_line, should_stop, environ)
                if why is None:
                    deleted.append(entry)
                    uninstalled.append(group_of[entry.path])
                    step(done, entry, DELETED)
                elif why.startswith(_HELD):
                    skipped.append(Skipped(entry.path, entry.kind, why))
                    step(done, entry, SKIPPED, why)
                else:
                    errors.append((entry.path, why))
                    step(done, entry, FAILED, why)
                continue
            try:
                fd = lock_entry(entry.lock) if entry.lock is not None else None
            except OSError:
                why = f"its lock {entry.lock} is held: a uv is writing it"
                skipped.append(Skipped(entry.path, entry.kind, why))
                step(done, entry, SKIPPED, why)
                continue
            left = len(removal.left)
            failed = None
            try:
                for path in entry.paths:
                    # Opened from its root, name by name: a directory swapped for a link since
                    # the check leads nowhere outside it.
                    where = root if cache else rules.root_of(path)  # type: ignore[union-attr]  # not cache: OutsideRules
                    if where is None:
                        raise UnsafePathError(path, f"no longer inside {' or '.join(map(str, rules.roots))}")  # type: ignore[union-attr]  # OutsideRules: not cache
                    # The mount points as they are now (read by the remover), not as they were
                    # when the plan was checked: a bind mount made meanwhile is left alone.
                    remove_path(path, root=where, acc=removal)
                if len(removal.left) > left:
                    where, why = removal.left[left]
                    more = len(removal.left) - left - 1
                    failed = f"{where}: {why}" + (f" (and {more} more left)" if more else "")
            except UnsafePathError as err:
                failed = str(err)
            except OSError as err:
                failed = f"{err.filename or entry.path}: {err.strerror or err}"
            finally:
                if fd is not None:
                    os.close(fd)
            if failed is None:
                deleted.append(entry)
                step(done, entry, DELETED)
            else:
                errors.append((entry.path, failed))
                step(done, entry, FAILED, failed)
        # What uv removed is what the walk just before found in the entries it removed, counted
        # together: a file two uninstalled tools shared is freed once both are gone.
        measured = removal.disk + freed.subset_total(uninstalled)[0] if start is None else _free_bytes(root) - start
        return PruneResult(plan, tuple(deleted), tuple(skipped), tuple(errors), predicted, measured, exclusive,
                           cancelled, measure)
    finally:
        if lock is not None and lock is not under:
            lock.release()


_HELD = "its lock "


def _listing(directory: str) -> dict[str, str | None]:
    """Names in ``directory`` -> their link target (``None`` for what is no link); ``{}`` when
    it cannot be listed."""
    out: dict[str, str | None] = {}
    try:
        with os.scandir(directory) as it:
            for e in it:
                try:
                    out[e.name] = os.readlink(e.path)
                except OSError:  # no link (EINVAL), or unreadable
                    out[e.name] = None
    except OSError:
        pass
    return out


def _run_command(entry: PlanEntry, root: Path, cache_scope: bool, on_line: Callable[[str], None] | None,
                 should_stop: Callable[[], bool] | None, environ: dict[str, str] | None) -> str | None:
    """Run ``entry``'s uv command; ``None`` when it deleted the entry and nothing else, else why
    not (starting with :data:`_HELD` when the entry's lock is held, so it is skipped)."""
    from ..uvcli import run_uv

    assert entry.command is not None
    if entry.lock is not None and entry_lock_held(entry.lock):
        return f"{_HELD}{entry.lock} is held: a uv is changing it"
    directory = os.path.dirname(os.path.abspath(entry.path))
    before = _listing(directory)
    env = dict(os.environ if environ is None else environ)
    env.update(entry.command.env)
    lines: list[str] = []

    def line(text: str) -> None:
        lines.append(text)
        if on_line is not None:
            on_line(text)

    try:
        # The cache the command names (every builder names one), else the user's: never the root
        # of a place beside the cache, where uv would make a cache of its own.
        cache = env.get("UV_CACHE_DIR") or (str(root) if cache_scope else None)
        code = run_uv(entry.command.argv, cache, line, should_stop=should_stop, env=env)
    except OSError as err:
        return f"uv could not be started: {err.strerror or err}"
    if code != 0:
        said = [t.strip() for t in lines if t.strip()]
        return f"uv exited with status {code}" + (f": {said[-1]}" if said else "")
    after = _listing(directory)
    mine = {os.path.basename(os.path.abspath(p)) for p in entry.paths}
    for p in entry.paths:
        name = os.path.basename(os.path.abspath(p))
        if presence(p) is not False and not (before.get(name) is not None and after.get(name) != before.get(name)):
            return f"uv exited 0, but {p} is still there"
    gone = sorted(n for n in before if n not in after and n not in mine)
    if gone:
        return f"uv also removed {', '.join(os.path.join(directory, n) for n in gone)}, which the plan did not list"
    return None
