"""``--max-size`` past the environments: the least recently used archive entries nothing needs and
index pages, until the cache fits; then how close the plan gets, and what holds the rest.

Archive entries come from the planner's unreferenced ones (no link outside the plan points at
them); one whose files something kept still hardlinks is passed over (the safety rules would
keep it, and it would free little). Index pages are ``simple-vN`` responses (``*.rkyv``) and
``flat-index-vN`` listings: uv fetches them again when it needs them. Both need uv's root lock.
One whose modification time cannot be read is not taken: its age is unknown, not old.

The cache is measured and walked from its root resolved (:attr:`Plan.root`), however it was
spelled (a symlink, ``..``, a bind mount), and the plan's paths are compared in that spelling.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterable, Iterator

from ..buckets import classify_entry
from ..contain import resolve_parent
from ..disk.freed import Freed, under_any
from ..disk.walk import walk_stats
from .records import Kind, Plan, PlanEntry
from .safety import standalone_reason

if TYPE_CHECKING:
    from .planner import _Planner

__all__ = ["Holder", "SizeTarget", "describe", "extend_to_fit", "size_target"]


@dataclass(frozen=True)
class Holder:
    """Bytes a plan leaves in one top-level entry of the cache, and why they stay."""

    name: str
    """The top-level entry (``archive-v0``, ``environments-v2``...)."""
    bytes: int
    """Disk bytes left there (each inode once, counted in the first entry that holds it)."""
    why: str
    """What keeps them, for a person."""


@dataclass(frozen=True)
class SizeTarget:
    """How close a ``--max-size`` plan brings the cache to its target."""

    limit: int
    """The target, bytes."""
    before: int
    """The cache's disk usage before the prune, bytes (as ``du -sB1``)."""
    after: int
    """Its disk usage once the plan has run: ``before`` minus the plan's exact bytes."""
    held: tuple[Holder, ...] = ()
    """When the target is missed: what the remaining bytes are, largest first."""

    @property
    def reached(self) -> bool:
        """Whether the cache fits the target after the plan."""
        return self.after <= self.limit


_WHY = {
    "archive": "unpacked wheels the wheel cache links to (--package NAME deletes a package's) or kept "
               "environments hardlink, and kept cached environments",
    "environments": "environments kept: in use, locked, or used more recently than those planned",
    "wheels": "wheel cache links and HTTP metadata",
    "sdists": "source distributions and the wheels built from them",
    "simple": "index pages uv was writing (its root lock was held)",
    "flat-index": "flat index listings uv was writing (its root lock was held)",
    "interpreter": "interpreter queries (--interpreters prunes stale ones)",
    "builds": "build environments",
    "python": "Python downloads",
}


def _mtime(path: Path) -> float | None:
    try:
        return os.lstat(path).st_mtime
    except OSError:
        return None


def _by_age(entries: Iterable[PlanEntry]) -> list[PlanEntry]:
    """``entries`` oldest modification time first, then by path; one whose time cannot be read
    is left out (its age is unknown, not old)."""
    aged = {str(e.path): (t, e) for e in entries if (t := _mtime(e.path)) is not None}
    return [aged[p][1] for p in sorted(aged, key=lambda p: (aged[p][0], p))]


def _index_pages(pl: "_Planner") -> Iterator[PlanEntry]:
    for b in pl.facts.buckets.values():
        if b.kind != "bucket" or b.name not in ("simple", "flat-index") or b.age not in ("current", "older"):
            continue
        for top, _dirs, files in os.walk(b.path):
            for name in files:
                if name.endswith((".rkyv", ".msgpack")):
                    path = Path(top) / name
                    label = f"index page {Path(name).stem} ({os.path.relpath(top, b.path)})"
                    yield PlanEntry(Kind.CACHE_ENTRY, path, (path,), label, uses=(path,), needs_exclusive=True)


def _choose(pl: "_Planner", limit: int, usage: int, freed: Freed) -> list[PlanEntry]:
    overcount = 0  # bytes added to freed by entries the hardlink rule keeps: they free nothing
    chosen: list[PlanEntry] = []

    def fits() -> bool:
        return usage - (freed.total - overcount) <= limit

    if fits():
        return chosen  # spares the look for candidates
    for entry in _by_age([*pl.facts.unreferenced(pl), *_index_pages(pl)]):
        if fits():
            break
        if standalone_reason(entry, pl.look) is not None:
            continue
        before = freed.total
        index = freed.add(entry.paths)
        if entry.kind == Kind.ARCHIVE and freed.kept_links(index):
            overcount += freed.total - before
            continue
        chosen.append(entry)
    return chosen


def extend_to_fit(pl: "_Planner", limit: int, usage: int, freed: Freed) -> None:
    """Add to ``pl`` the least recently used (oldest modification time first) unreferenced archive
    entries and index pages while ``usage - freed.total`` exceeds ``limit``. ``freed`` holds the
    entries already planned (it is added to). Entries a safety rule refuses on their own, and
    archive entries something kept hardlinks, are passed over (not listed as skipped: the size
    target says what holds the bytes)."""
    reason = f"max-size {limit} bytes: least recently used, nothing needs it"
    for entry in _choose(pl, limit, usage, freed):
        pl.add(entry, reason)


def _holders(plan: Plan, should_stop: Callable[[], bool] | None) -> tuple[Holder, ...]:
    # The plan's paths as the walk from the resolved root spells them.
    gone = {resolve_parent(p) for e in plan.entries for p in e.paths}
    seen: set[tuple[int, int]] = set()
    out = []
    root_blocks = os.lstat(plan.root).st_blocks * 512
    for top in sorted(os.listdir(plan.root)):
        path = os.path.join(plan.root, top)
        if path in gone:
            continue
        total, has_files = 0, False
        for p, st in walk_stats(path, should_stop=should_stop):
            if under_any(p, gone):
                continue
            key = (st.st_dev, st.st_ino)
            if st.st_nlink > 1:
                if key in seen:
                    continue
                seen.add(key)
            total += st.st_blocks * 512
            has_files = has_files or not stat.S_ISDIR(st.st_mode)
        if total:
            entry = classify_entry(top, Path(path))
            if entry.kind == "marker":
                why = "files uv keeps at the root"
            elif os.path.isdir(path) and not has_files:
                why = "its directories (they go with the whole bucket)"
            else:
                why = _WHY.get(entry.name, "not deletable by envtui")
            out.append(Holder(top, total, why))
    out.sort(key=lambda h: (-h.bytes, h.name))
    if root_blocks:
        out.append(Holder(".", root_blocks, "the cache directory itself"))
    return tuple(out)


def size_target(plan: Plan, limit: int, before: int, *, should_stop: Callable[[], bool] | None = None) -> SizeTarget:
    """How close ``plan`` brings a cache of ``before`` bytes to ``limit``; when it misses, what
    the remaining bytes are (a walk of the cache, skipping what the plan deletes). Hardlinked
    files deleted in part are counted where a kept link lies. Raises ``ScanCancelled``."""
    after = before - plan.bytes_freed
    held = _holders(plan, should_stop) if after > limit else ()
    return SizeTarget(limit, before, after, held)


def describe(target: SizeTarget, size: Callable[[int], str]) -> list[str]:
    """``target`` for a person, one line each: where the cache goes, and when the target is
    missed, what holds the rest. ``size`` formats bytes."""
    head = f"max-size {size(target.limit)}: the cache goes from {size(target.before)} to {size(target.after)}"
    if target.reached:
        return [head + ": the target is reached."]
    lines = [head + f": {size(target.after - target.limit)} over the target, which this plan cannot reach. "
             "What holds the rest:"]
    lines += [f"  {h.name:<19} {size(h.bytes):>10}  {h.why}" for h in target.held]
    return lines
