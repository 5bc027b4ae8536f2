"""Plan candidates beyond environments: a package (as ``uv cache clean NAME`` removes it), an
archive entry with its links, and a whole bucket. Each becomes a :class:`PlanEntry` with the
reason it is there; the planner applies the one set of safety rules and counts the bytes.

Every candidate here ``needs_exclusive``: the current uv's buckets are cleared, as ``uv cache
clean`` clears them, only while uv's root lock is held exclusively (a running uv may be writing
them). A bucket of a newer or unknown version is never a candidate's target: the safety rules
refuse it.
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Mapping

from ..archive import archive_links
from ..buckets import Bucket
from ..contain import Container, resolve_parent
from ..environments import Environment
from ..packages import Package, _archive_version, _scan, flat_index_buckets, package_name
from ..inventory import Inventory
from ..locks import ProcessInfo, RootLock
from .planner import ARCHIVE, environment_entry, interpreter_entry, plan_entries
from .records import Kind, Plan, PlanEntry, Skipped
from .safety import LinkListing

__all__ = [
    "BUCKET", "CACHE_ENTRY", "archive_candidate", "bucket_candidate", "links_by_target", "package_candidates",
    "marked_candidates", "plan_candidates", "plan_marked", "plan_packages",
]

#: A whole top-level bucket (``flat-index-v7``, an old ``wheels-v6``...).
BUCKET = Kind.BUCKET
#: Any other entry inside a bucket: a wheel cache directory, a source distribution, an index page.
CACHE_ENTRY = Kind.CACHE_ENTRY

Candidate = tuple[PlanEntry, str]


def _rel(path: Path | str, root: Path | str) -> str:
    return os.path.relpath(path, root)


def _resolved(buckets: Iterable[Bucket]) -> list[Bucket]:
    """``buckets`` spelled from their directory resolved: link targets are compared in that one
    spelling (a root spelled through a symlink or with ``..`` would match none of them)."""
    return [replace(b, path=Path(resolve_parent(b.path))) for b in buckets]


def _users_note(users: Iterable[Path], root: Path, names: Mapping[Path, str]) -> str:
    users = list(users)
    if not users:
        return ""
    shown = ", ".join(names.get(u) or _rel(u, root) for u in users[:3]) + (f" and {len(users) - 3} more" if len(users) > 3 else "")
    return f"; files hardlinked by {len(users)} environment{'s' if len(users) != 1 else ''} stay on disk ({shown})"


def package_candidates(
    root: Path,
    buckets: Iterable[Bucket],
    names: Iterable[str],
    *,
    environments: Iterable[Environment] = (),
    should_stop: Callable[[], bool] | None = None,
) -> tuple[list[Candidate], list[tuple[Path, str, str]], list[Package]]:
    """What deleting the packages ``names`` deletes, as ``uv cache clean NAME...`` would
    (``Cache::remove``, crates/uv-cache/src/lib.rs) of every uv that wrote a generation of the
    cache's buckets: each ``wheels``/``sdists``/``simple`` entry of theirs (uv 0.13's and older
    generations' alike) with the archive entries only it links to (after its links), then every
    such ``flat-index-vN`` bucket whole (uv removes it for any name). An unpacked wheel goes even
    when environments hardlink its files, as uv does: those files stay, and the reason says
    which environments keep them.

    Returns ``(candidates, kept, packages)``: ``(PlanEntry, reason)`` pairs in deletion order;
    ``(path, kind, why)`` for what is left and why: archive entries another link still points
    at (kept, unlike uv when that link is another generation's), and the package's entries and
    flat indexes in a newer uv's buckets (never touched); and the :class:`Package` records (no
    sizes). Paths are spelled from the root resolved. ``environments`` (the inventory's) name the
    environments that keep hardlinked files. Raises ``ValueError`` naming the first name uv
    refuses (empty, not a PEP 508 name) before reading anything, ``ScanCancelled`` when
    ``should_stop()`` turns true.
    """
    names = [package_name(n) for n in names]  # all of them, before anything is read
    real = Path(os.path.realpath(root))
    buckets = _resolved(buckets)
    env_names = {}
    for env in environments:
        what = env.script or env.tool or env.prompt or env.key
        env_names[Path(resolve_parent(env.path))] = f"{env.kind} environment {what}"
        if env.link_target is not None:
            env_names[Path(os.path.realpath(env.link_target))] = f"{env.kind} environment {what}"
    packages, links = _scan(real, names, None, False, should_stop)
    out: list[Candidate] = []
    kept: list[tuple[Path, str, str]] = []
    for pkg in packages:
        # Each entry takes the unpacked wheels only its links point at, after those links (an
        # interrupted deletion leaves no link to a missing target); a wheel linked from several
        # of the package's entries joins them into one.
        groups: list[list[Any]] = [[[e], []] for e in pkg.entries]  # [entries, archives]
        tops = {e.path: Container(e.path) for e in pkg.entries}
        for a in pkg.archives:
            owners = [g for g in groups if any(tops[e.path].holds(link, follow=False)
                                                for e in g[0] for link in links[str(a)])]
            first = owners[0]
            for other in owners[1:]:
                first[0] += other[0]
                first[1] += other[1]
                groups.remove(other)
            first[1].append(a)
        note = _users_note(pkg.used_by, real, env_names)
        for entries, archives in groups:
            e = entries[0]
            label = f"{pkg.name} {e.kind} ({_rel(e.path, real).split(os.sep)[0]} {e.source}" + (
                f": {', '.join(e.versions)})" if e.versions else ")")
            why = f"package {pkg.name}"
            if archives:
                wheels = ", ".join(f"{_archive_version(a) or '?'} ({a.name})" for a in archives)
                why += f"; with the unpacked wheel{'s' if len(archives) > 1 else ''} only it links to: {wheels}{note}"
            paths = tuple(x.path for x in entries) + tuple(archives)
            out.append((PlanEntry(CACHE_ENTRY, e.path, paths, label, uses=paths, needs_exclusive=True), why))
        kept += [(a, ARCHIVE, f"package {pkg.name}: another link still points at it") for a in pkg.kept_archives]
        kept += [(e.path, CACHE_ENTRY, f"package {pkg.name}: {_rel(e.path, real).split(os.sep)[0]} is a newer uv's "
                  "bucket: never touched") for e in pkg.untouched]
    if packages:
        for b in flat_index_buckets(buckets):
            out.append((PlanEntry(BUCKET, b.path, (b.path,), f"{b.dirname} (the whole flat index)", uses=(b.path,),
                                  needs_exclusive=True),
                        "uv cache clean NAME removes the whole flat index: it cannot tell which packages it lists"))
        kept += [(b.path, BUCKET, f"{b.dirname} is a newer uv's flat index: never touched")
                 for b in flat_index_buckets(buckets, ages=("newer",))]
    return out, kept, packages


def links_by_target(buckets: Iterable[Bucket], *, should_stop: Callable[[], bool] | None = None) -> dict[str, list[Path]]:
    """Every link into an ``archive-vN`` bucket from any bucket of any version, by target, both
    spelled from the cache root resolved (look a path up by :func:`~envtui.core.contain.resolve_parent`)."""
    return archive_links(_resolved(buckets), should_stop=should_stop)


def _link_paths(link: Path) -> tuple[Path, ...]:
    # A cached environment's link goes with its lock file (environments-vN/<ihash>/<rhash>.lock).
    lock = link.with_name(link.name + ".lock")
    top = link.parent.parent.name
    return (link, lock) if top.startswith("environments-v") and os.path.lexists(lock) else (link,)


def archive_candidate(path: Path, links: Mapping[str, list[Path]], root: Path, label: str | None = None) -> Candidate:
    """Deleting the archive entry ``path``: every link pointing at it first (named in the
    reason), then the entry. ``links`` is :func:`links_by_target`. A linked entry goes as uv's
    own clean takes it, hardlinked files or not (a :data:`CACHE_ENTRY` with its links); one
    nothing links to is an archive entry on its own, which the safety rules keep while
    something kept hardlinks its files."""
    mine = sorted(links.get(resolve_parent(path), ()))
    paths = tuple(p for link in mine for p in _link_paths(link)) + (path,)
    if not mine:
        return PlanEntry(ARCHIVE, path, paths, label or path.name, uses=(path,), needs_exclusive=True), "marked; nothing links to it"
    real = os.path.realpath(root)
    reason = f"marked; its links go first: {', '.join(_rel(p, real) for p in mine)}"
    return PlanEntry(CACHE_ENTRY, path, paths, label or path.name, uses=(path, *mine), needs_exclusive=True), reason


def bucket_candidate(bucket: Bucket, links: Mapping[str, list[Path]]) -> Candidate:
    """Deleting a whole bucket, as ``uv cache clean`` does for everything: for an ``archive-vN``
    bucket, every link into it from outside it (from any bucket; ``links`` is
    :func:`links_by_target`) goes first."""
    paths: tuple[Path, ...] = ()
    note = ""
    if bucket.name == "archive":
        here = Container(bucket.path)
        inside = sorted(link for target, found in links.items() if here.holds(target, follow=False)
                        for link in found if not here.holds(link, follow=False))
        paths = tuple(p for link in inside for p in _link_paths(link))
        note = f"; the {len(inside)} links into it go first" if inside else ""
    why = "marked: the whole bucket" + (", left by an older uv" if bucket.age == "older" else "") + note
    return (PlanEntry(BUCKET, bucket.path, paths + (bucket.path,), bucket.dirname, uses=(bucket.path,), needs_exclusive=True),
            why)


def iter_paths(candidates: Iterable[Candidate]) -> Iterator[Path]:
    """Every path the candidates delete, in order."""
    for entry, _why in candidates:
        yield from entry.paths


def plan_candidates(
    inv: Inventory,
    candidates: Iterable[Candidate],
    kept: Iterable[tuple[Path, str, str]] = (),
    *,
    exclusive: bool,
    lock_holders: Iterable[ProcessInfo] = (),
    should_stop: Callable[[], bool] | None = None,
    under: RootLock | None = None,
    listing: LinkListing | None = None,
) -> Plan:
    """The plan deleting ``candidates`` (``(PlanEntry, reason)``) through
    :func:`~envtui.core.prune.plan_entries` (every safety rule, exact bytes; ``under`` and
    ``listing`` as there); ``kept`` (``(path, kind, why)``) are listed as skipped."""
    entries = [replace(e, reasons=(*e.reasons, why)) for e, why in candidates]
    plan = plan_entries(inv, entries, exclusive=exclusive, lock_holders=lock_holders, should_stop=should_stop,
                        under=under, listing=listing)
    planned = {e.path for e in plan.entries} | {s.path for s in plan.skipped}
    extra = tuple(Skipped(p, Kind(k), why) for p, k, why in kept if p not in planned)
    return replace(plan, skipped=plan.skipped + extra)


def plan_packages(
    inv: Inventory,
    names: Iterable[str],
    *,
    exclusive: bool,
    lock_holders: Iterable[ProcessInfo] = (),
    should_stop: Callable[[], bool] | None = None,
    under: RootLock | None = None,
    listing: LinkListing | None = None,
) -> Plan:
    """The plan deleting the packages ``names`` as ``uv cache clean NAME...`` would (see
    :func:`package_candidates`), with exact bytes; ``under`` and ``listing`` as
    :func:`~envtui.core.prune.plan_prune`.
    Raises ``NotACacheError``/``UnsafePathError`` for a root that must not be pruned,
    ``ScanCancelled`` when ``should_stop()`` turns true."""
    candidates, kept, _packages = package_candidates(inv.root, inv.buckets, names, environments=inv.environments, should_stop=should_stop)
    return plan_candidates(inv, candidates, kept, exclusive=exclusive, lock_holders=lock_holders, should_stop=should_stop,
                           under=under, listing=listing)


def marked_candidates(
    inv: Inventory,
    records: Iterable[object],
    *,
    should_stop: Callable[[], bool] | None = None,
) -> tuple[list[Candidate], list[tuple[Path, str, str]]]:
    """The candidates deleting marked rows of any screen: environments and interpreter entries,
    :class:`~envtui.core.packages.Package` (as ``uv cache clean NAME``),
    :class:`~envtui.core.archive.ArchiveEntry` (its links first), :class:`~envtui.core.buckets.Bucket`
    (the whole bucket; the overview's ``(Bucket, usage)`` rows too) and
    :class:`~envtui.core.disk.EntryUsage` (one entry of a bucket). Returns ``(candidates, kept)``
    as :func:`plan_candidates` takes them."""
    from ..archive import ArchiveEntry
    from ..disk.scan import EntryUsage
    from ..interpreters import InterpreterEntry

    records = [r[0] if isinstance(r, tuple) and r and isinstance(r[0], Bucket) else r for r in records]
    # Only what deletes links or archive entries needs the links read.
    links = links_by_target(inv.buckets, should_stop=should_stop) if any(
        isinstance(r, (ArchiveEntry, Bucket, EntryUsage)) for r in records) else {}
    names = [r.name for r in records if isinstance(r, Package)]
    out, kept, _ = package_candidates(inv.root, inv.buckets, names, environments=inv.environments,
                                      should_stop=should_stop) if names else ([], [], [])
    for r in records:
        if isinstance(r, Environment):
            out.append((environment_entry(inv, r), "marked"))
        elif isinstance(r, InterpreterEntry):
            out.append((interpreter_entry(r), "marked"))
        elif isinstance(r, ArchiveEntry):
            out.append(archive_candidate(r.path, links, inv.root, r.name))
        elif isinstance(r, Bucket):
            if r.kind != "bucket":
                kept.append((r.path, BUCKET, f"{r.dirname} is not a bucket uv owns: never deleted"))
            else:
                out.append(bucket_candidate(r, links))
        elif isinstance(r, EntryUsage):
            if r.bucket.startswith("archive-v"):
                out.append(archive_candidate(r.path, links, inv.root))
            else:
                paths = tuple(r.path.parent / m for m in _members(r.path))
                out.append((PlanEntry(CACHE_ENTRY, r.path, paths, r.path.name, uses=(r.path,), needs_exclusive=True),
                            "marked"))
    return out, kept


def plan_marked(
    inv: Inventory,
    records: Iterable[object],
    *,
    exclusive: bool,
    lock_holders: Iterable[ProcessInfo] = (),
    should_stop: Callable[[], bool] | None = None,
) -> Plan:
    """The plan deleting marked rows of any screen (see :func:`marked_candidates`), through the
    same safety rules and accounting as every plan; raises as :func:`plan_candidates`."""
    candidates, kept = marked_candidates(inv, records, should_stop=should_stop)
    return plan_candidates(inv, candidates, kept, exclusive=exclusive, lock_holders=lock_holders, should_stop=should_stop)


def _members(path: Path) -> list[str]:
    # A cached environment's link is measured with its .lock; deleting it takes both.
    lock = path.name + ".lock"
    return [path.name, lock] if os.path.lexists(path.with_name(lock)) else [path.name]
