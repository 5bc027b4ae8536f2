"""``envtui rebuild NAME`` for an installed tool: ``uv tool install --reinstall`` from its receipt."""

from __future__ import annotations

import argparse
import os
import sys
from shlex import join

from ..core.inventory import Inventory
from ..core.prune.machine import plan_tool_reinstall, run_action
from ..core.tools import locate_tool_dir, scan_tools
from ..core.uvbin import find_uv
from .common import fail

__all__ = ["rebuild_tool"]


def rebuild_tool(args: argparse.Namespace, inv: Inventory) -> int | None:
    """Reinstall the tool ``args.target`` names (its name or directory); ``None`` when no tool does."""
    tool_dir, _source = locate_tool_dir()
    target = os.path.abspath(args.target)
    tools = [t for t in scan_tools(tool_dir) if args.target == t.name or target == str(t.path)]
    if not tools:
        return None
    uv = getattr(args, "uv", None) or find_uv()
    if uv is None:
        return fail("uv is not installed: tools are reinstalled through uv")
    plan = plan_tool_reinstall(tools, uv, tool_dir=tool_dir)
    for s in plan.skipped:
        print(f"envtui: not rebuilt: {s.path}: {s.reason}", file=sys.stderr)
    code = 0 if plan.actions else 1
    for action in plan.actions:
        print(f"running: {join(action.argv)}", file=sys.stderr)
        status = run_action(action, inv.root, lambda line: print(line, file=sys.stderr, flush=True))
        print(f"{action.label}: {'reinstalled' if status == 0 else f'uv failed (exit {status})'}")
        code = code or (0 if status == 0 else 1)
    return code
