"""``envtui rebuild TARGET``: rebuild a script environment, a cached environment or an interpreter
entry through uv, streaming uv's output.

Nothing is deleted before uv has built the replacement aside (see :mod:`envtui.core.rebuild`).

Exit codes: 0 rebuilt (or already up to date); 1 not rebuilt (uv failed or could not be started,
the entry is in use, or it cannot be made exactly: the message says why, in uv's words when uv
said it); 2 bad usage, no uv cache, a TARGET that names nothing or more than one entry or tool,
or a cache root or root lock that must never be used for a deletion.
"""

from __future__ import annotations

import argparse
import os
import sys

from ..core import NotACacheError, scan_inventory
from ..core.contain import resolve_parent
from ..core.digest import script_environment_name
from ..core.errors import CacheError
from ..core.inventory import Inventory
from ..core.rebuild import rebuild
from ..core.text import printable
from ..scripts_seen import remember_scripts
from .common import fail, known_scripts, location
from .rebuild_tool import find_tools, rebuild_tool


def register(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "rebuild",
        help="rebuild an environment, an interpreter entry or an installed tool through uv",
        description="Rebuild TARGET through uv: a script (its script environment), an environment's "
        "key or stable path, an interpreter entry's key, .msgpack path or executable, or an installed "
        "tool's name or directory (uv tool install --reinstall, from its receipt). "
        "Nothing is deleted before uv has built the replacement aside. "
        "Exit codes: 0 rebuilt, 1 not rebuilt (the message says why), 2 bad usage, or a TARGET that "
        "names nothing or more than one entry or tool.",
    )
    p.add_argument("target", help="script path, environment key or path, interpreter key, .msgpack or executable, "
                   "or tool name or path")
    p.add_argument("--uv", metavar="PATH", help="the uv to run (default: uv on PATH)")
    return p


def find_target(inv: Inventory, target: str) -> list:
    """Records of ``inv`` that ``target`` names (see the command's description). A path to an entry
    is compared with its parent resolved (the cache's root reached through a link, or ``..``
    after a link, names what the kernel reads); a script or an executable as spelled, absolute:
    uv keys their entries by that spelling."""
    spelled = os.path.abspath(target)
    where = resolve_parent(target)
    name = script_environment_name(target) if target.endswith(".py") else None
    out: list = []
    for env in inv.environments:
        if target in (env.key, env.resolution_hash) or where == resolve_parent(env.path) or spelled == env.script \
                or env.key == name:
            out.append(env)
    for e in inv.interpreters:
        if target in (e.key, f"{e.shard}/{e.key}") or where == resolve_parent(e.path) or spelled == e.executable:
            out.append(e)
    return out


def run(args: argparse.Namespace) -> int:
    if not args.target:
        return fail("an empty TARGET names nothing")
    loc = location(args)
    scripts = known_scripts(args)
    if args.target.endswith(".py"):
        # Even when it is gone: then the script environment it names is said to miss it.
        scripts.append(os.path.abspath(args.target))
    try:
        inv = scan_inventory(loc, known_scripts=scripts)
    except NotACacheError as err:
        return fail(f"{err} (cache location from {loc.source})")
    found = find_target(inv, args.target)
    tool_dir, tools = find_tools(args.target, args.uv)
    if len(found) + len(tools) > 1:
        paths = [str(r.path) for r in found] + [str(p) for p in tools]
        return fail(f"{args.target!r} matches {len(paths)} entries: " + ", ".join(paths))
    if tools:
        return rebuild_tool(tools[0], tool_dir, inv, args.uv)
    if not found:
        return fail(f"no environment or interpreter entry in {inv.root}, and no installed tool in {tool_dir}, "
                    f"matches {args.target!r}")
    try:
        seen = remember_scripts(inv.root, (s for s in scripts if os.path.exists(s)))
        result = rebuild(inv, found[0], lambda line: print(printable(line), file=sys.stderr), uv=args.uv, seen_scripts=seen)
    except CacheError as err:  # a root that must never be pruned, or an unusable root lock
        return fail(str(err))
    except OSError as err:  # uv could not be started: nothing happened
        return fail(f"not rebuilt: {err}", 1)
    print(printable(result.message))
    for field, before, after in result.changes:
        mark = "  " if before == after else "* "
        print(printable(f"{mark}{field}: {before}" + ("" if before == after else f" -> {after}")))
    return 0 if result.ok else 1
