"""``envtui prune``: delete what the policies choose, after showing the plan.

Exit codes: 0 done (or nothing to do, or a dry run); 1 some entries could not be deleted, or the
plan was declined; 2 bad usage, no uv cache, or a root that must not be pruned; 3 uv's cache lock
is held and neither ``--wait`` nor ``--skip-in-use`` allowed going on; 130 interrupted.
"""

from __future__ import annotations

import argparse
import json
import sys

from ..core import NotACacheError, scan_inventory
from ..core.errors import CacheError
from ..core.prune import CacheBusy, PruneResult, execute_plan
from ..core.locks import FREE, HELD, UNAVAILABLE, RootLockState, probe_root_lock, try_lock_root
from ..core.prune import Plan, Policies, check_prune_root, parse_size, plan_prune
from ..core.text import printable
from ..format import size
from ..core.prune.packages import plan_packages
from ..core.prune.safety import LinkListing, Rules
from ..scripts_seen import remember_scripts
from .common import ask, effective_roots, fail, known_scripts, location, size_bytes

EXIT_OK, EXIT_PROBLEM, EXIT_USAGE, EXIT_BUSY = 0, 1, 2, 3


def size_argument(text: str) -> int:
    """``--max-size``'s type: bytes, or argparse's one-line error (``argument --max-size: not a
    size: '5X' (e.g. 500M, 5G, 2GiB)``) instead of its "invalid parse_size value"."""
    try:
        return parse_size(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def register(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "prune",
        help="delete unused cache entries, safely",
        description="Delete what the policies choose (combinable), showing the plan first. "
        "Exit codes: 0 done, 1 something could not be deleted or the plan was declined, "
        "2 bad usage or no uv cache, 3 uv is running and holds the cache lock.",
    )
    g = p.add_argument_group("policies")
    g.add_argument("--unreferenced", action="store_true", help="archive entries nothing links to and no environment uses")
    g.add_argument("--dangling", action="store_true", help="links whose target is gone, and .tmp* leftovers of interrupted uv runs")
    g.add_argument("--orphans", action="store_true", help="environments whose base interpreter or known script is gone")
    g.add_argument("--older-than", type=float, metavar="DAYS", help="environments not used for DAYS days")
    g.add_argument("--keep-latest", type=int, metavar="N", help="per tool, keep the N most recently used cached environments")
    g.add_argument("--max-size", type=size_argument, metavar="SIZE", help="delete least recently used environments, then unneeded archive entries and index pages, "
                   "until the cache fits (5G, 500M, 2GiB); says how close it gets")
    g.add_argument("--interpreters", action="store_true", help="stale, missing and corrupt interpreter entries")
    g.add_argument("--package", action="append", metavar="NAME", default=[],
                   help="every cache entry of package NAME, as `uv cache clean NAME` removes it (repeatable)")
    p.add_argument("--dry-run", action="store_true", help="show the plan, delete nothing")
    p.add_argument("--json", action="store_true", help="print the plan (or the result) as JSON")
    p.add_argument("--yes", "-y", action="store_true", help="do not ask before deleting")
    p.add_argument("--wait", type=float, default=0.0, metavar="SECONDS", help="when uv is running, wait this long for it to finish")
    p.add_argument("--skip-in-use", action="store_true", help="when uv is running, go on entry by entry, skipping what it may use")
    p.add_argument(
        "--measure", choices=("walk", "statvfs"), default="walk",
        help="how freed bytes are measured: counted while deleting (exact, as du counts; default) "
        "or the filesystem's free space (instant; other writers count too)",
    )
    from .prune_machine import add_arguments

    add_arguments(p)
    return p


def policies_from(args: argparse.Namespace) -> Policies:
    """The :class:`Policies` the flags ask for."""
    return Policies(
        unreferenced=args.unreferenced,
        dangling=args.dangling,
        orphans=args.orphans,
        older_than_days=args.older_than,
        keep_latest=args.keep_latest,
        max_size=args.max_size,
        interpreters=args.interpreters,
    )


def _entries(n: int) -> str:
    return f"{n} entr{'y' if n == 1 else 'ies'}"


def unreadable(plan: Plan) -> list[tuple[str, str]]:
    """``(path, reason)`` for everything inside the plan's entries that could not be walked (a
    directory this user may not read): its bytes are not in the plan's figures, which are then
    not exact. Noted by the plan's own walk (:attr:`Plan.unreadable`)."""
    return list(plan.unreadable)


def plan_to_json(plan: Plan) -> dict:
    """The plan as JSON: ``cache_dir``, ``bytes_freed``, ``apparent_freed``, ``exclusive``,
    ``entries`` (``kind``, ``path``, ``paths``, ``label``, ``reasons``, ``bytes_alone``,
    ``bytes_with_plan``), ``skipped`` (``kind``, ``path``, ``reason``, ``processes``) and
    ``lock_holders``."""
    return {
        "cache_dir": str(plan.root),
        "bytes_freed": plan.bytes_freed,
        "apparent_freed": plan.apparent_freed,
        "cache_bytes": plan.cache_bytes,
        "exclusive": plan.exclusive,
        "lock_holders": [{"pid": p.pid, "cmdline": p.cmdline, "why": p.why} for p in plan.lock_holders],
        "entries": [
            {
                "kind": e.kind, "path": str(e.path), "paths": [str(p) for p in e.paths], "label": e.label,
                "reasons": list(e.reasons), "last_used": e.last_used,
                "bytes_alone": e.bytes_alone, "bytes_with_plan": e.bytes_with_plan,
            }
            for e in plan.entries
        ],
        "skipped": [
            {"kind": s.kind, "path": str(s.path), "reason": s.reason,
             "processes": [{"pid": p.pid, "cmdline": p.cmdline, "why": p.why} for p in s.processes]}
            for s in plan.skipped
        ],
        "size_target": _target_json(plan),
    }


def _target_json(plan: Plan) -> dict | None:
    t = plan.size_target
    if t is None:
        return None
    return {"limit": t.limit, "before": t.before, "after": t.after, "reached": t.reached,
            "held": [{"name": h.name, "bytes": h.bytes, "why": h.why} for h in t.held]}


def _target_text(plan: Plan) -> list[str]:
    from ..core.prune.maxsize import describe

    return describe(plan.size_target, size_bytes) if plan.size_target is not None else []


def result_to_json(result: PruneResult) -> dict:
    """The result as JSON: the plan's fields, plus ``deleted`` (paths), ``errors``,
    ``predicted_bytes``, ``measured_bytes`` and ``cancelled``; ``skipped`` includes entries
    skipped while running."""
    doc = plan_to_json(result.plan)
    doc["skipped"] = plan_to_json(Plan(result.plan.root, (), result.skipped, 0, 0, False))["skipped"]
    doc.update(
        deleted=[str(e.path) for e in result.deleted],
        errors=[{"path": str(p), "error": m} for p, m in result.errors],
        predicted_bytes=result.predicted_bytes,
        measured_bytes=result.measured_bytes,
        measure=result.measure,
        exclusive=result.exclusive,
        cancelled=result.cancelled,
    )
    return doc


def plan_text(plan: Plan) -> str:
    """The plan for a person: one line per entry with what it frees, then the skipped ones. What
    came out of the cache (labels, paths, reasons) and process command lines are made
    :func:`~envtui.core.text.printable`."""
    p = printable
    lines = []
    if not plan.exclusive:
        lines.append("uv is running (it holds the cache lock); entries it may be writing are skipped:")
        lines += [f"  pid {h.pid}: {p(h.cmdline)}" for h in plan.lock_holders] or ["  (processes not visible to this user)"]
    lines.append(f"{_entries(len(plan.entries))} to delete, freeing {size_bytes(plan.bytes_freed)}:")
    for e in plan.entries:
        lines.append(
            f"  {e.kind:<19} {size(e.bytes_with_plan):>10}  {p(e.label)}  "
            f"[{'; '.join(p(r) for r in e.reasons)}]\n      {p(e.path)}"
        )
    if any(e.bytes_alone != e.bytes_with_plan for e in plan.entries):
        lines.append("  (per entry: bytes freed together with the rest of the plan; shared files count for each entry)")
    if plan.skipped:
        lines.append(f"{len(plan.skipped)} skipped:")
        for s in plan.skipped:
            lines.append(f"  {s.kind:<19} {p(s.path)}\n      {p(s.reason)}")
            lines += [f"        pid {h.pid}: {p(h.cmdline)} ({p(h.why)})" for h in s.processes]
    lines += _target_text(plan)
    return "\n".join(lines)


def _inexact(hidden: list[tuple[str, str]]) -> str:
    if not hidden:
        return ""
    path, why = hidden[0]
    return (f"\nnot exact: {len(hidden)} path{'s' if len(hidden) != 1 else ''} inside the plan could not be read "
            f"(e.g. {printable(path)}: {printable(why)}); the bytes above leave them out")


def _lock_state(root, args: argparse.Namespace) -> RootLockState:
    """uv's root lock, probed read-only (waiting up to ``--wait`` seconds for it to be free)."""
    state = probe_root_lock(root)
    if state.state == HELD and args.wait > 0 and not args.dry_run:
        print(f"envtui: uv is running; waiting up to {args.wait:g} s for it to finish", file=sys.stderr)
        state = probe_root_lock(root, wait=args.wait)
    return state


def run(args: argparse.Namespace) -> int:
    policies = policies_from(args)
    from .prune_machine import run_machine, wanted

    if wanted(args):
        if policies.any() or args.package:
            return fail("prune the cache and what lies outside it (--project-env, --unused-pythons, --tool) in two runs")
        return run_machine(args)
    if not policies.any() and not args.package:
        return fail("choose at least one policy (--unreferenced, --dangling, --orphans, --older-than, "
                    "--keep-latest, --max-size, --interpreters, --package)")
    if policies.any() and args.package:
        return fail("--package runs on its own: give the policies in a second prune")
    loc = location(args)
    held = None
    try:
        try:
            scripts = known_scripts(args)
            # Refuse the root (a home directory, no uv signature) before its lock is even opened.
            check_prune_root(loc.path)
            lock = _lock_state(loc.path, args)
            if lock.state == UNAVAILABLE:
                if not args.dry_run:
                    return fail(f"cannot take uv's cache lock: {lock.error()}")
                print(f"envtui: note: uv's cache lock cannot be used ({printable(lock.error())}); "
                      "the plan assumes uv is running", file=sys.stderr)
            elif lock.state != FREE and not (args.skip_in_use or args.dry_run):
                who = "; ".join(f"pid {p.pid}: {p.cmdline}" for p in lock.holders) or "processes you cannot inspect"
                return fail(f"uv's cache lock is held by {who}; pass --wait SECONDS or --skip-in-use", EXIT_BUSY)
            # With --yes nobody reads the plan before it runs: take uv's lock first and hold it
            # from the inventory and the plan's checks to the last deletion, so they are made once
            # (a uv starting meanwhile waits for the lock, as it waits for `uv cache prune`). The
            # links of the whole cache are then listed in a thread while the inventory is read.
            held = try_lock_root(loc.path) if args.yes and not args.dry_run and lock.free else None
            listing = LinkListing(Rules(loc.path)) if held is not None else None
            inv = scan_inventory(loc, known_scripts=scripts)
            if policies.orphans:
                from ..core.orphans import prove_scripts

                # A script deleted before envtui ever saw it is still proven from its environment's key.
                scripts += [str(p.script) for p in prove_scripts(inv.environments, effective_roots(args))]
            seen = remember_scripts(inv.root, scripts)
        except NotACacheError as err:
            return fail(f"{err} (cache location from {loc.source})")
        except CacheError as err:
            return fail(str(err))
        return _plan_and_run(args, inv, policies, lock, seen, held, listing)
    finally:
        if held is not None:
            held.release()


def _plan_and_run(args: argparse.Namespace, inv, policies, lock: RootLockState, seen, held, listing) -> int:
    try:
        if args.package:
            plan = plan_packages(inv, args.package, exclusive=lock.free, lock_holders=lock.holders, under=held,
                                 listing=listing)
        else:
            plan = plan_prune(inv, policies, exclusive=lock.free, lock_holders=lock.holders, known_scripts=seen,
                              under=held, listing=listing)
    except CacheError as err:
        return fail(str(err))
    hidden = unreadable(plan)
    if args.dry_run or not plan.entries:
        if args.json:
            doc = plan_to_json(plan)
            doc.update(bytes_exact=not hidden, unreadable=[{"path": p, "error": m} for p, m in hidden])
            print(json.dumps(doc, indent=2))
        else:
            print(plan_text(plan) + _inexact(hidden))
        return EXIT_OK
    if not args.yes:
        if not sys.stdin.isatty():
            return fail("not a terminal: pass --yes to delete, or --dry-run to see the plan")
        print(plan_text(plan) + _inexact(hidden))
        if not ask(f"Delete {_entries(len(plan.entries))}, freeing {size_bytes(plan.bytes_freed)}? [y/N] "):
            print("Nothing deleted.")
            return EXIT_PROBLEM
    try:
        result = execute_plan(
            plan, wait=args.wait, go_on_if_busy=args.skip_in_use, measure=args.measure,
            on_progress=None if args.json else _progress, under=held,
        )
    except CacheBusy as err:
        return fail(f"{err.message}; pass --wait SECONDS or --skip-in-use", EXIT_BUSY)
    except CacheError as err:
        return fail(str(err))
    if args.json:
        print(json.dumps(result_to_json(result), indent=2))
    else:
        print(result_text(result))
    return EXIT_PROBLEM if result.errors else EXIT_OK


def _progress(done: int, total: int, entry) -> None:
    print(f"[{done}/{total}] deleted {printable(entry.path)}", file=sys.stderr, flush=True)


def result_text(result: PruneResult) -> str:
    """What a prune did, for a person: freed bytes measured against predicted."""
    lines = [
        f"Deleted {len(result.deleted)} of {len(result.plan.entries)} entries.",
        f"Freed {size_bytes(result.measured_bytes)} measured "
        f"({'counted while deleting' if result.measure == 'walk' else 'filesystem free space'}), "
        f"{size_bytes(result.predicted_bytes)} predicted.",
    ]
    new_skips = result.skipped[len(result.plan.skipped):]
    for s in new_skips:
        lines.append(f"  skipped {printable(s.path)}: {printable(s.reason)}")
    for path, message in result.errors:
        lines.append(f"  FAILED {printable(path)}: {printable(message)}")
    if result.cancelled:
        lines.append("Stopped early.")
    return "\n".join(lines)
