"""Prune plans: which cache entries a policy (or a selection) would delete, with the exact bytes
each frees, and what is skipped and why. :mod:`envtui.core.prune.executor` runs the same plan.

Plans are made from an :class:`~envtui.core.inventory.Inventory`. Environment policies are
applied first; ``--max-size`` then adds the least recently used environments; ``--unreferenced``
last, so that archive entries only the planned environments used are freed with them.
"""

from __future__ import annotations

import math
import os
import re
import time
from fractions import Fraction
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable, Iterable

from packaging.utils import canonicalize_name

from ..contain import presence
from ..digest import script_environment_name
from ..environments import CACHED, CORRUPT, DANGLING, IN_FLIGHT, SCRIPT, Environment
from ..interpreters import InterpreterEntry
from ..inventory import Inventory
from ..locks import ProcessInfo, RootLock
from ..disk.freed import Freed
from .records import Kind, Plan, PlanEntry, Policies, Skipped
from .references import CacheFacts, gather_facts
from .safety import LinkListing, Look, References, Rules, Vetted, standalone_reason, vet

__all__ = ["Plan", "PlanEntry", "Policies", "Skipped", "last_used", "parse_size", "plan_entries", "plan_prune",
           "plan_selection"]

SCRIPT_ENV, CACHED_ENV, ARCHIVE, LINK, LEFTOVER, INTERPRETER = (
    Kind.SCRIPT_ENV, Kind.CACHED_ENV, Kind.ARCHIVE, Kind.LINK, Kind.LEFTOVER, Kind.INTERPRETER,
)
#: Deletion order: environments (links first) before the archive entries they may share files with.
ORDER = {kind: i for i, kind in enumerate((Kind.CACHED_ENV, Kind.SCRIPT_ENV, Kind.LINK, Kind.CACHE_ENTRY,
                                           Kind.ARCHIVE, Kind.LEFTOVER, Kind.INTERPRETER, Kind.BUCKET))}


_SIZE = re.compile(r"^\s*(?P<num>\d+(?:\.\d+)?)\s*(?P<unit>[kmgtpe]?)(?P<i>i?)(?P<b>b?)\s*$", re.I | re.ASCII)
_POWERS = {"": 0, "k": 1, "m": 2, "g": 3, "t": 4, "p": 5, "e": 6}
#: The largest size a policy takes: 2**63 - 1 bytes (8 EiB), the most ``st_size`` can say.
MAX_SIZE = 2**63 - 1


def parse_size(text: str) -> int:
    """Parse ``"5G"``, ``"500M"``, ``"1.5GB"``, ``"2GiB"``, ``"123"`` into bytes.

    Units follow humanize's ``naturalsize``: ``k``/``M``/``G``... are powers of 1000 (``kB``,
    ``GB``), ``KiB``/``GiB`` powers of 1024. Raises ``ValueError`` naming the text.
    """
    m = _SIZE.match(text)
    if not m:
        raise ValueError(f"not a size: {text!r} (e.g. 500M, 5G, 2GiB)")
    base = 1024 if m["i"] else 1000
    value = int(Fraction(m["num"]) * base ** _POWERS[m["unit"].lower()])  # exact: no float overflow, no rounding
    if value > MAX_SIZE:
        raise ValueError(f"not a size: {text!r} is more than any filesystem holds ({MAX_SIZE} bytes)")
    return value


def last_used(env: Environment) -> float | None:
    """When ``env`` was last used, epoch seconds: the later of ``pyvenv.cfg``'s access time (read
    at every interpreter start; relatime makes it up to a day stale) and its modification time
    (the fallback on noatime mounts)."""
    times = [t for t in (env.last_used, env.modified) if t is not None]
    return max(times) if times else None


def _age(env: Environment) -> float:
    """:func:`last_used` as a sort key: an environment whose age is unknown is the oldest."""
    used = last_used(env)
    return -math.inf if used is None else used


def _env_entry(env: Environment, rules: Rules, refs: Callable[[], References]) -> PlanEntry:
    """The plan entry deleting ``env`` (see :func:`environment_entry`); ``refs`` gives the
    references, looked for only for a cached environment with an archive target."""
    if env.kind == SCRIPT:
        # pyvenv.cfg first: an interrupted deletion then leaves no directory uv takes for a venv.
        return PlanEntry(SCRIPT_ENV, env.path, (env.path / "pyvenv.cfg", env.path),
                         env.script or env.prompt or env.key,
                         lock=env.path / ".lock", uses=(env.path,), last_used=last_used(env),
                         # No pyvenv.cfg yet is what uv leaves for the first moments of
                         # `uv run`, before it takes the venv's own lock: only uv's root
                         # lock tells such a venv from a broken one.
                         needs_exclusive=env.status in (IN_FLIGHT, CORRUPT))
    lock = env.path.with_name(env.path.name + ".lock")
    target = rules.archive_target(env.path)
    if env.status == DANGLING or env.link_target is None:
        return PlanEntry(LINK, env.path, (env.path, lock), env.key, lock=lock)
    paths: tuple[Path, ...] = (env.path, lock)
    uses: tuple[Path, ...] = (env.path,)
    # The target goes too only when it is an archive-vN/<id> directory of this cache that
    # nothing else links to; a link to anything else (another bucket, outside) goes alone.
    if target is not None:
        uses += (target,)
        link = rules.resolve(env.path)
        if not refs().outside(rules, target, {link}):
            paths += (target,)
    label = env.tool or (env.packages[0].name if env.packages else env.key)
    return PlanEntry(CACHED_ENV, env.path, paths, label, lock=lock, uses=uses, last_used=last_used(env))


@dataclass
class _Draft:
    entry: PlanEntry
    reasons: list[str] = field(default_factory=list)


class _Planner:
    def __init__(self, inv: Inventory, exclusive: bool, should_stop: Callable[[], bool] | None, under: RootLock | None,
                 listing: LinkListing | None, ignore_uncertain: bool) -> None:
        self.rules = Rules(inv.root) if listing is None else listing.rules
        if listing is not None and str(self.rules.root) != os.path.realpath(inv.root):
            raise ValueError(f"links listed for {self.rules.root}, not for the cache at {inv.root}")
        self.root = self.rules.root
        self.inv = inv
        if under is not None and not under.held:
            raise ValueError(f"plan under {under.path}: that lock is no longer held")
        self.under = under
        self.exclusive = exclusive or under is not None
        self.should_stop = should_stop
        self.facts: CacheFacts = gather_facts(inv, self.rules)
        # Under the root lock the caller holds, no uv writes: whatever ``exclusive`` said.
        self.look = Look(self.rules, self.exclusive, listing=listing, should_stop=should_stop,
                         ignore_uncertain=ignore_uncertain)
        self.drafts: dict[Path, _Draft] = {}
        self.skipped: dict[Path, Skipped] = {}

    # -- candidates ------------------------------------------------------------------------------

    def env_entry(self, env: Environment) -> PlanEntry:
        return _env_entry(env, self.rules, self.look.refs)

    def add(self, entry: PlanEntry, reason: str) -> None:
        draft = self.drafts.get(entry.path)
        if draft is None:
            draft = self.drafts[entry.path] = _Draft(entry)
        if reason not in draft.reasons:
            draft.reasons.append(reason)

    def skip(self, path: Path, kind: Kind, reason: str) -> None:
        self.skipped.setdefault(path, Skipped(path, kind, reason))

    def safe_env_entry(self, env: Environment) -> PlanEntry | None:
        """The environment's entry, or ``None`` (and skipped, saying why) when a rule that holds
        whatever else the plan deletes refuses it."""
        entry = self.env_entry(env)
        if entry.path in self.drafts:
            return entry
        bad = standalone_reason(entry, self.look)
        if bad is not None:
            self.skipped.setdefault(entry.path, bad)
            return None
        return entry

    # -- results ---------------------------------------------------------------------------------

    def finish(self, policies: Policies | None, lock_holders: Iterable[ProcessInfo], cache_bytes: int | None) -> Plan:
        drafts = [replace(d.entry, reasons=tuple(d.reasons)) for d in self.drafts.values()]
        drafts.sort(key=lambda e: (ORDER[e.kind], str(e.path)))
        entries, skipped, freed, groups = vet(drafts, self.look, should_stop=self.should_stop)
        for s in skipped:
            self.skipped.setdefault(s.path, s)
        alone, with_plan, disk, apparent = freed.figures(groups)
        entries = [replace(e, bytes_alone=a, bytes_with_plan=w) for e, a, w in zip(entries, alone, with_plan)]
        planned = {e.path for e in entries}
        skipped_out = tuple(s for p, s in sorted(self.skipped.items(), key=lambda kv: str(kv[0])) if p not in planned)
        vetted = None
        if self.under is not None:
            vetted = Vetted(self.under, self.look, freed, {e.path: g for e, g in zip(entries, groups)})
        return Plan(self.root, tuple(entries), skipped_out, disk, apparent, self.exclusive, tuple(lock_holders),
                    cache_bytes, policies, unreadable=tuple(freed.unreadable(groups)), vetted=vetted)


def _apply_env_policies(pl: _Planner, policies: Policies, now: float, known_scripts: Iterable[str]) -> None:
    envs = [e for e in pl.inv.environments if e.status != DANGLING]
    # Known scripts not known to be there: gone (the system says so) or unknown (behind a
    # directory this user may not search). The facts ask again, and an unknown one makes its
    # environment no orphan, but a doubt the plan lists.
    gone = {script_environment_name(s): str(s) for s in known_scripts if presence(s) is not True}
    for env in envs:
        reason = doubt = None
        if policies.orphans:
            reason = pl.facts.orphan_reason(env, gone)
            if reason is None:
                doubt = pl.facts.orphan_doubt(env, gone)
        if reason is None and policies.older_than_days is not None:
            used = last_used(env)
            if used is not None and now - used > policies.older_than_days * 86400:
                reason = f"older than {policies.older_than_days:g} days (last used {(now - used) / 86400:.1f} days ago)"
        if reason is not None:
            entry = pl.safe_env_entry(env)
            if entry is not None:
                pl.add(entry, reason)
        elif doubt is not None:
            pl.skip(env.path, SCRIPT_ENV if env.kind == SCRIPT else CACHED_ENV, doubt)
    if policies.keep_latest is not None:
        groups: dict[str, list[Environment]] = {}
        for env in envs:
            if env.kind == CACHED:
                tool = env.tool or (env.packages[0].name if env.packages else "?")
                groups.setdefault(str(canonicalize_name(tool)), []).append(env)
        for tool, group in groups.items():
            group.sort(key=_age, reverse=True)
            for env in group[policies.keep_latest:]:
                entry = pl.safe_env_entry(env)
                if entry is not None:
                    pl.add(entry, f"keep-latest {policies.keep_latest}: {len(group)} environments of {tool}")


def _apply_max_size(pl: _Planner, limit: int) -> int:
    usage = pl.facts.cache_usage(should_stop=pl.should_stop)
    # One accumulator for the running total: files the chosen environments share with each
    # other count once, when the last of them is chosen.
    freed = Freed(should_stop=pl.should_stop)
    for draft in pl.drafts.values():
        freed.add(draft.entry.paths)
    lru = sorted((e for e in pl.inv.environments if e.status != DANGLING and e.path not in pl.drafts), key=_age)
    for env in lru:
        if usage - freed.total <= limit:
            break
        entry = pl.safe_env_entry(env)
        if entry is not None:
            freed.add(entry.paths)
            pl.add(entry, f"max-size {limit} bytes: least recently used")
    from .maxsize import extend_to_fit  # then unneeded archive entries and index pages

    extend_to_fit(pl, limit, usage, freed)
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
    under: RootLock | None = None,
    listing: LinkListing | None = None,
    ignore_uncertain: bool = False,
) -> Plan:
    """The plan the ``policies`` give for the cache ``inv`` was scanned from.

    ``known_scripts`` are script paths known to have existed (see ``envtui.scripts_seen``): a script
    environment whose script is among them and gone is an orphan.
    ``exclusive`` says whether the caller holds (or just could take) uv's root lock; when it is
    false, archive entries and ``.tmp*`` leftovers are skipped (a running uv may be writing them).
    Environments a running process uses and entries whose own lock is held are always skipped;
    so are those only processes envtui cannot inspect may be using, unless ``ignore_uncertain``.
    ``under`` is uv's root lock when the caller holds it (from
    :func:`~envtui.core.locks.try_lock_root`) and will run the plan before releasing it: the
    plan then carries what its checks saw (:attr:`Plan.vetted`), so that
    :func:`~envtui.core.prune.execute_plan` under the same lock walks nothing twice.
    ``listing`` is a :class:`~envtui.core.prune.safety.LinkListing` of the same cache the caller
    started (after taking the lock) while it read ``inv``: the references are read from it.
    Raises ``NotACacheError``/``UnsafePathError`` for a root that must not be pruned,
    ``ValueError`` for a lock no longer held or a listing of another cache, and ``ScanCancelled``
    when ``should_stop()`` turns true.
    """
    now = time.time() if now is None else now
    pl = _Planner(inv, exclusive, should_stop, under, listing, ignore_uncertain)
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
        for entry in pl.facts.unreferenced(pl):
            pl.add(entry, "unreferenced: no link and no environment uses it")
    plan = pl.finish(policies, lock_holders, cache_bytes)
    if policies.max_size is not None:
        from .maxsize import size_target

        plan = replace(plan, size_target=size_target(plan, policies.max_size, cache_bytes, should_stop=should_stop))  # type: ignore[arg-type]  # max_size set: measured
    return plan


def _interpreter_reason(e: InterpreterEntry) -> str | None:
    if e.status in ("stale", "missing", "corrupt"):
        return f"interpreter entry {e.status}" + (f": {e.error}" if e.error else "")
    return None


def interpreter_entry(e: InterpreterEntry) -> PlanEntry:
    """The plan entry deleting one interpreter query (``.msgpack``)."""
    return PlanEntry(INTERPRETER, e.path, (e.path,), e.executable or e.key)


def plan_selection(
    inv: Inventory,
    records: Iterable[Environment | InterpreterEntry],
    *,
    exclusive: bool,
    lock_holders: Iterable[ProcessInfo] = (),
    should_stop: Callable[[], bool] | None = None,
    ignore_uncertain: bool = False,
) -> Plan:
    """The plan deleting the given (marked) environments and interpreter entries, with the same
    safety checks and accounting as :func:`plan_prune`. A cached environment takes its archive
    target with it when nothing else links to it."""
    pl = _Planner(inv, exclusive, should_stop, None, None, ignore_uncertain)
    for record in records:
        if isinstance(record, InterpreterEntry):
            pl.add(interpreter_entry(record), "marked")
        else:
            pl.add(pl.env_entry(record), "marked")
    return pl.finish(None, lock_holders, None)


def environment_entry(inv: Inventory, env: Environment) -> PlanEntry:
    """The plan entry deleting one environment of the cache ``inv`` was scanned from: a script
    environment's ``pyvenv.cfg`` then its directory; a cached environment's link, its lock, then
    its archive target when that is an ``archive-vN/<id>`` directory nothing else links to."""
    rules = Rules(inv.root)
    return _env_entry(env, rules, rules.find_references)


def plan_entries(
    inv: Inventory,
    entries: Iterable[PlanEntry],
    *,
    exclusive: bool,
    lock_holders: Iterable[ProcessInfo] = (),
    policies: Policies | None = None,
    should_stop: Callable[[], bool] | None = None,
    under: RootLock | None = None,
    listing: LinkListing | None = None,
    ignore_uncertain: bool = False,
) -> Plan:
    """The plan deleting arbitrary candidate ``entries`` of the cache ``inv`` was scanned from,
    each run through every safety rule (:mod:`envtui.core.prune.safety`), with exact bytes.

    For callers that choose entries themselves (a package's wheel-cache entries, a whole bucket
    with :attr:`Kind.BUCKET`, archive entries): give each :class:`PlanEntry` its ``kind``,
    ``path``, ``paths`` (deletion order), ``label`` and ``reasons``; ``lock``, ``uses`` and
    ``needs_exclusive`` where they apply (archive entries, leftovers and buckets need uv's root
    lock whatever they say). An entry given twice (same ``path``) is planned once, reasons merged.
    Entries are deleted in :data:`ORDER` of kind. ``under``, ``listing`` and what it raises: as
    :func:`plan_prune`.
    """
    pl = _Planner(inv, exclusive, should_stop, under, listing, ignore_uncertain)
    for entry in entries:
        for reason in entry.reasons or ("marked",):
            pl.add(entry, reason)
    return pl.finish(policies, lock_holders, None)
