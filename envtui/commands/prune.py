"""``envtui prune``: delete what the policies choose, after showing the plan.

Exit codes: 0 done (or nothing to do, or a dry run); 1 some entries could not be deleted, or the
plan was declined; 2 bad usage, no uv cache, or a root that must not be pruned; 3 uv's cache lock
is held and neither ``--wait`` nor ``--skip-in-use`` allowed going on; 130 interrupted.
"""

from __future__ import annotations

import argparse
import math
import sys

from ..core import NotACacheError, scan_inventory
from ..core.errors import CacheError
from ..core.locks import FREE, HELD, UNAVAILABLE, RootLockState, probe_root_lock, try_lock_root
from ..core.prune import Policies, check_prune_root, parse_size, plan_prune
from ..core.text import printable
from ..core.prune.packages import plan_packages
from ..core.prune.safety import LinkListing, Rules
from ..scripts_seen import remember_scripts
from .common import effective_roots, fail, known_scripts, location
from .deletion import EXIT_BUSY, EXIT_OK, EXIT_PROBLEM, EXIT_USAGE, plan_text, plan_to_json, result_text, result_to_json, run_plan

__all__ = ["days_argument", "count_argument", "package_argument", "plan_text", "plan_to_json", "policies_from",
           "register", "result_text", "result_to_json", "run", "seconds_argument", "size_argument",
           "EXIT_BUSY", "EXIT_OK", "EXIT_PROBLEM", "EXIT_USAGE"]


def size_argument(text: str) -> int:
    """``--max-size``'s type: bytes (``0``: as small as the safety rules allow), or argparse's
    one-line error (``argument --max-size: not a size: '5X' (e.g. 500M, 5G, 2GiB)``) instead of
    its "invalid parse_size value"."""
    try:
        return parse_size(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def _number(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"not a finite number: {text!r}")
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} is negative")
    return value


def days_argument(text: str) -> float:
    """``--older-than``'s type: a finite number of days, 0 or more (``0``: every environment)."""
    return _number(text)


def seconds_argument(text: str) -> float:
    """``--wait``'s type: a finite number of seconds, 0 or more."""
    return _number(text)


def count_argument(text: str) -> int:
    """``--keep-latest``'s type: a whole number, 0 or more."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} is negative")
    return value


def package_argument(text: str) -> str:
    """``--package``'s and ``--tool``'s type: a distribution name as uv accepts it (PEP 508: letters,
    digits, ``-``, ``_``, ``.``, starting and ending with a letter or digit), else argparse's one-line
    error naming it (uv refuses the empty name, and so does envtui)."""
    from ..core.uvcli import valid_name

    try:
        return valid_name(text, "package name")
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
    g.add_argument("--older-than", type=days_argument, metavar="DAYS", help="environments not used for DAYS days")
    g.add_argument("--keep-latest", type=count_argument, metavar="N", help="per tool, keep the N most recently used cached environments")
    g.add_argument("--max-size", type=size_argument, metavar="SIZE", help="delete least recently used environments, then unneeded archive entries and index pages, "
                   "until the cache fits (5G, 500M, 2GiB); says how close it gets")
    g.add_argument("--interpreters", action="store_true", help="stale, missing and corrupt interpreter entries")
    g.add_argument("--package", action="append", metavar="NAME", default=[], type=package_argument,
                   help="every cache entry of package NAME, as `uv cache clean NAME` removes it (repeatable)")
    p.add_argument("--dry-run", action="store_true", help="show the plan, delete nothing")
    p.add_argument("--json", action="store_true", help="print the plan (or the result) as JSON")
    p.add_argument("--yes", "-y", action="store_true", help="do not ask before deleting")
    p.add_argument("--wait", type=seconds_argument, default=0.0, metavar="SECONDS", help="when uv is running, wait this long for it to finish")
    p.add_argument("--skip-in-use", action="store_true", help="when uv is running, go on entry by entry, skipping what it may use")
    p.add_argument("--ignore-uninspectable", action="store_true",
                   help="delete even what only processes envtui cannot inspect (other users') may be using; "
                   "by default such entries are skipped, naming the processes")
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
    return run_plan(args, plan, wait=args.wait, go_on_if_busy=args.skip_in_use, measure=args.measure, under=held)
