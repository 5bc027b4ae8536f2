"""Prune plans: which cache entries a policy (or a selection) would delete, with the exact bytes
each frees, and what is skipped and why. :mod:`envtui.core.prune.executor` runs the same plan.

Plans are made from an :class:`~envtui.core.inventory.Inventory`. Environment policies are
applied first; ``--max-size`` then adds the least recently used environments; ``--unreferenced``
last, so that archive entries only the planned environments used are freed with them.
"""

from __future__ import annotations

import os
import re
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable, Iterable

from packaging.utils import canonicalize_name

from ..digest import script_environment_name
from ..environments import CACHED, CORRUPT, DANGLING, IN_FLIGHT, SCRIPT, Environment
from ..interpreters import InterpreterEntry
from ..inventory import Inventory
from ..locks import ProcessInfo, entry_lock_held, processes_using
from ..disk.freed import Freed, freed_bytes
from .references import CacheFacts, gather_facts
from .remover import check_prune_root, guard_path

__all__ = ["Plan", "PlanEntry", "Policies", "Skipped", "last_used", "parse_size", "plan_prune", "plan_selection"]

SCRIPT_ENV, CACHED_ENV, ARCHIVE, LINK, LEFTOVER, INTERPRETER = (
    "script environment", "cached environment", "archive entry", "link", "leftover", "interpreter entry",
)


@dataclass(frozen=True)
class Policies:
    """Which entries to prune; combinable (an entry any policy selects is in the plan)."""

    unreferenced: bool = False
    """Archive entries nothing links to and no kept environment shares an inode with."""
    dangling: bool = False
    """Links whose target is gone, and ``.tmp*`` leftovers whose writer is gone."""
    orphans: bool = False
    """Environments whose base interpreter is gone; script environments whose known script is gone."""
    older_than_days: float | None = None
    """Environments not used for this many days (see :func:`last_used`)."""
    keep_latest: int | None = None
    """Per tool, keep this many most recently used cached environments; prune the rest."""
    max_size: int | None = None
    """Bytes: prune least recently used environments until the cache's disk usage fits."""
    interpreters: bool = False
    """Stale, missing and corrupt interpreter entries."""

    def any(self) -> bool:
        """Whether at least one policy is set."""
        return any(
            (self.unreferenced, self.dangling, self.orphans, self.interpreters)
        ) or any(v is not None for v in (self.older_than_days, self.keep_latest, self.max_size))


@dataclass(frozen=True)
class PlanEntry:
    """One cache entry the plan deletes."""

    kind: str
    """``script environment``, ``cached environment``, ``archive entry``, ``link``, ``leftover``
    or ``interpreter entry``."""
    path: Path
    """The entry: a stable path, a link, an archive directory, a ``.msgpack`` file."""
    paths: tuple[Path, ...]
    """What is deleted, in order: a cached environment's link, then its lock, then its target."""
    label: str
    """A name for people: the tool, the script, the executable."""
    reasons: tuple[str, ...]
    """Why it is in the plan (the policies that chose it, or "marked")."""
    lock: Path | None = None
    """The entry's own uv lock (``<rhash>.lock``, ``<venv>/.lock``), probed before deleting."""
    uses: tuple[Path, ...] = ()
    """Directories a running process must not be using (the venv, link and archive target)."""
    needs_exclusive: bool = False
    """Only safe while uv's root lock is held exclusively (an unlinked archive entry or a
    ``.tmp*`` name may be a uv's work in flight)."""
    last_used: float | None = None
    """Epoch seconds, for environments (see :func:`last_used`)."""
    bytes_alone: int = 0
    """Disk bytes deleting only this entry frees."""
    bytes_with_plan: int = 0
    """Disk bytes of this entry freed when the whole plan runs (files it shares with other
    planned entries count for each of them)."""


@dataclass(frozen=True)
class Skipped:
    """An entry a policy chose (or was marked) but the plan leaves alone."""

    path: Path
    """The entry."""
    kind: str
    """As :attr:`PlanEntry.kind`."""
    reason: str
    """Why, for a person."""
    processes: tuple[ProcessInfo, ...] = ()
    """The processes using it, when that is the reason."""


@dataclass(frozen=True)
class Plan:
    """What a prune deletes: shown first, then run as it is."""

    root: Path
    """The resolved cache root."""
    entries: tuple[PlanEntry, ...]
    """Entries to delete, in deletion order."""
    skipped: tuple[Skipped, ...]
    """Entries chosen but left alone, with reasons."""
    bytes_freed: int
    """Disk bytes deleting every entry frees: ``freed_bytes`` over all their paths
    (hardlinks counted once, only inodes whose every link is in the plan)."""
    apparent_freed: int
    """The same in apparent bytes (``st_size``)."""
    exclusive: bool
    """Whether uv's root lock was free when the plan was made (no uv was running)."""
    lock_holders: tuple[ProcessInfo, ...] = ()
    """The processes holding uv's root lock, when it was not free."""
    cache_bytes: int | None = None
    """The cache's disk usage before the prune, when a policy needed it (``--max-size``)."""
    policies: Policies | None = None
    """The policies, or ``None`` for a plan of marked entries."""


_SIZE = re.compile(r"^\s*(?P<num>\d+(?:\.\d+)?)\s*(?P<unit>[kmgtpe]?)(?P<i>i?)(?P<b>b?)\s*$", re.I)


def parse_size(text: str) -> int:
    """Parse ``"5G"``, ``"500M"``, ``"1.5GB"``, ``"2GiB"``, ``"123"`` into bytes.

    Units follow humanize's ``naturalsize``: ``k``/``M``/``G``... are powers of 1000 (``kB``,
    ``GB``), ``KiB``/``GiB`` powers of 1024. Raises ``ValueError`` naming the text.
    """
    m = _SIZE.match(text)
    if not m:
        raise ValueError(f"not a size: {text!r} (e.g. 500M, 5G, 2GiB)")
    power = "kmgtpe".find(m["unit"].lower()) + 1 if m["unit"] else 0
    base = 1024 if m["i"] else 1000
    return int(float(m["num"]) * base**power)


def last_used(env: Environment) -> float | None:
    """When ``env`` was last used, epoch seconds: the later of ``pyvenv.cfg``'s access time (read
    at every interpreter start; relatime makes it up to a day stale) and its modification time
    (the fallback on noatime mounts)."""
    times = [t for t in (env.last_used, env.modified) if t is not None]
    return max(times) if times else None


@dataclass
class _Draft:
    entry: PlanEntry
    reasons: list[str] = field(default_factory=list)


class _Planner:
    def __init__(self, inv: Inventory, exclusive: bool, should_stop) -> None:
        self.root = check_prune_root(inv.root)
        self.inv = inv
        self.exclusive = exclusive
        self.should_stop = should_stop
        self.facts: CacheFacts = gather_facts(inv, should_stop=should_stop)
        self.drafts: dict[Path, _Draft] = {}
        self.skipped: dict[Path, Skipped] = {}
        self._in_use: dict[str, list[ProcessInfo]] | None = None

    # -- candidates ------------------------------------------------------------------------------

    def env_entry(self, env: Environment) -> PlanEntry:
        if env.kind == SCRIPT:
            # pyvenv.cfg first: an interrupted deletion then leaves no directory uv takes for a venv.
            return PlanEntry(SCRIPT_ENV, env.path, (env.path / "pyvenv.cfg", env.path),
                             env.script or env.prompt or env.key, (),
                             lock=env.path / ".lock", uses=(env.path,), last_used=last_used(env),
                             # No pyvenv.cfg yet is what uv leaves for the first moments of
                             # `uv run`, before it takes the venv's own lock: only uv's root
                             # lock tells such a venv from a broken one.
                             needs_exclusive=env.status in (IN_FLIGHT, CORRUPT))
        lock = env.path.with_name(env.path.name + ".lock")
        if env.status == DANGLING or env.link_target is None:
            return PlanEntry(LINK, env.path, (env.path, lock), env.key, (), lock=lock)
        paths: tuple[Path, ...] = (env.path, lock)
        target = Path(os.path.normpath(env.link_target))
        others = self.facts.references.get(str(target), set()) - {str(env.path)}
        # A link out of the cache is not uv's doing: remove the link, never what it points at.
        if not others and guard_path(self.root, target, self.facts.buckets) is None:
            paths += (target,)
        label = env.tool or (env.packages[0].name if env.packages else env.key)
        return PlanEntry(CACHED_ENV, env.path, paths, label, (), lock=lock, uses=(env.path, target),
                         last_used=last_used(env))

    def add(self, entry: PlanEntry, reason: str) -> None:
        draft = self.drafts.get(entry.path)
        if draft is None:
            draft = self.drafts[entry.path] = _Draft(entry)
        if reason not in draft.reasons:
            draft.reasons.append(reason)

    def skip(self, path: Path, kind: str, reason: str, processes: Iterable[ProcessInfo] = ()) -> None:
        self.skipped.setdefault(path, Skipped(path, kind, reason, tuple(processes)))

    # -- safety ----------------------------------------------------------------------------------

    def in_use(self) -> dict[str, list[ProcessInfo]]:
        if self._in_use is None:
            roots = {str(e.path): e.uses for e in self.facts.all_entries(self)}
            self._in_use = processes_using(roots)
        return self._in_use

    def unsafe(self, entry: PlanEntry) -> Skipped | None:
        """Why ``entry`` must be skipped now, or ``None``."""
        for p in entry.paths:
            why = guard_path(self.root, p, self.facts.buckets)
            if why:
                return Skipped(entry.path, entry.kind, f"unsafe: {why}")
        if entry.needs_exclusive and not self.exclusive:
            return Skipped(entry.path, entry.kind, "a uv is running and may be writing it (uv's root lock is held)")
        procs = self.in_use().get(str(entry.path))
        if procs:
            return Skipped(entry.path, entry.kind, "in use by a running process", tuple(procs))
        if entry.lock is not None and entry_lock_held(entry.lock):
            return Skipped(entry.path, entry.kind, f"its lock {entry.lock} is held: a uv is writing it")
        return None

    def safe_env_entry(self, env: Environment) -> PlanEntry | None:
        entry = self.env_entry(env)
        if entry.path in self.drafts:
            return entry
        bad = self.unsafe(entry)
        if bad is not None:
            self.skipped.setdefault(entry.path, bad)
            return None
        return entry

    # -- results ---------------------------------------------------------------------------------

    def finish(self, policies: Policies | None, lock_holders: Iterable[ProcessInfo], cache_bytes: int | None) -> Plan:
        entries: list[PlanEntry] = []
        for draft in self.drafts.values():
            entry = replace(draft.entry, reasons=tuple(draft.reasons))
            bad = self.unsafe(entry)
            if bad is not None:
                self.skipped.setdefault(entry.path, bad)
                continue
            entries.append(entry)
        # Environments (links first) before the archive entries they may share files with.
        order = {CACHED_ENV: 0, SCRIPT_ENV: 1, LINK: 2, ARCHIVE: 3, LEFTOVER: 4, INTERPRETER: 5}
        entries.sort(key=lambda e: (order.get(e.kind, 2), str(e.path)))  # other entries: before archive entries
        freed = Freed()
        for e in entries:
            freed.add(e.paths)
        with_plan = freed.per_entry()
        alone = freed.alone()
        entries = [replace(e, bytes_alone=a, bytes_with_plan=w) for e, a, w in zip(entries, alone, with_plan)]
        disk, apparent = freed_bytes([p for e in entries for p in e.paths], should_stop=self.should_stop)
        skipped = tuple(s for p, s in sorted(self.skipped.items(), key=lambda kv: str(kv[0])) if p not in {e.path for e in entries})
        return Plan(self.root, tuple(entries), skipped, disk, apparent, self.exclusive, tuple(lock_holders),
                    cache_bytes, policies)


def _apply_env_policies(pl: _Planner, policies: Policies, now: float, known_scripts: Iterable[str]) -> None:
    envs = [e for e in pl.inv.environments if e.status != DANGLING]
    gone = {script_environment_name(s): str(s) for s in known_scripts if not os.path.lexists(s)}
    for env in envs:
        reason = None
        if policies.orphans:
            reason = pl.facts.orphan_reason(env, gone)
        if reason is None and policies.older_than_days is not None:
            used = last_used(env)
            if used is not None and now - used > policies.older_than_days * 86400:
                reason = f"older than {policies.older_than_days:g} days (last used {(now - used) / 86400:.1f} days ago)"
        if reason is not None:
            entry = pl.safe_env_entry(env)
            if entry is not None:
                pl.add(entry, reason)
    if policies.keep_latest is not None:
        groups: dict[str, list[Environment]] = {}
        for env in envs:
            if env.kind == CACHED:
                tool = env.tool or (env.packages[0].name if env.packages else "?")
                groups.setdefault(str(canonicalize_name(tool)), []).append(env)
        for tool, group in groups.items():
            group.sort(key=lambda e: last_used(e) or 0.0, reverse=True)
            for env in group[policies.keep_latest:]:
                entry = pl.safe_env_entry(env)
                if entry is not None:
                    pl.add(entry, f"keep-latest {policies.keep_latest}: {len(group)} environments of {tool}")


def _apply_max_size(pl: _Planner, limit: int) -> int:
    usage = pl.facts.cache_usage(should_stop=pl.should_stop)
    freed = Freed()
    for draft in pl.drafts.values():
        freed.add(draft.entry.paths)
    lru = sorted(
        (e for e in pl.inv.environments if e.status != DANGLING and e.path not in pl.drafts),
        key=lambda e: last_used(e) or 0.0,
    )
    for env in lru:
        if usage - freed.total <= limit:
            break
        entry = pl.safe_env_entry(env)
        if entry is not None:
            freed.add(entry.paths)
            pl.add(entry, f"max-size {limit} bytes: least recently used")
    return usage


def plan_prune(
    inv: Inventory,
    policies: Policies,
    *,
    exclusive: bool,
    lock_holders: Iterable[ProcessInfo] = (),
    known_scripts: Iterable[str] = (),
    now: float | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> Plan:
    """The plan the ``policies`` give for the cache ``inv`` was scanned from.

    ``known_scripts`` are script paths known to have existed (see ``envtui.scripts_seen``): a script
    environment whose script is among them and gone is an orphan.
    ``exclusive`` says whether the caller holds (or just could take) uv's root lock; when it is
    false, archive entries and ``.tmp*`` leftovers are skipped (a running uv may be writing them).
    Environments a running process uses and entries whose own lock is held are always skipped.
    Raises ``NotACacheError``/``UnsafePathError`` for a root that must not be pruned and
    ``ScanCancelled`` when ``should_stop()`` turns true.
    """
    now = time.time() if now is None else now
    pl = _Planner(inv, exclusive, should_stop)
    _apply_env_policies(pl, policies, now, known_scripts)
    cache_bytes = _apply_max_size(pl, policies.max_size) if policies.max_size is not None else None
    if policies.dangling:
        for entry in pl.facts.dangling(pl):
            pl.add(entry, "dangling" if entry.kind == LINK else "leftover of an interrupted uv")
    if policies.interpreters:
        for e in pl.inv.interpreters:
            why = _interpreter_reason(e)
            if why:
                pl.add(interpreter_entry(e), why)
    if policies.unreferenced:
        for entry, why in pl.facts.unreferenced(pl):
            if why is None:
                pl.add(entry, "unreferenced: no link and no environment uses it")
            else:
                pl.skip(entry.path, entry.kind, why)
    return pl.finish(policies, lock_holders, cache_bytes)


def _interpreter_reason(e: InterpreterEntry) -> str | None:
    if e.status in ("stale", "missing", "corrupt"):
        return f"interpreter entry {e.status}" + (f": {e.error}" if e.error else "")
    return None


def interpreter_entry(e: InterpreterEntry) -> PlanEntry:
    """The plan entry deleting one interpreter query (``.msgpack``)."""
    return PlanEntry(INTERPRETER, e.path, (e.path,), e.executable or e.key, ())


def plan_selection(
    inv: Inventory,
    records: Iterable[Environment | InterpreterEntry],
    *,
    exclusive: bool,
    lock_holders: Iterable[ProcessInfo] = (),
    should_stop: Callable[[], bool] | None = None,
) -> Plan:
    """The plan deleting the given (marked) environments and interpreter entries, with the same
    safety checks and accounting as :func:`plan_prune`. A cached environment takes its archive
    target with it."""
    pl = _Planner(inv, exclusive, should_stop)
    for record in records:
        if isinstance(record, InterpreterEntry):
            pl.add(interpreter_entry(record), "marked")
        else:
            pl.add(pl.env_entry(record), "marked")
    return pl.finish(None, lock_holders, None)
