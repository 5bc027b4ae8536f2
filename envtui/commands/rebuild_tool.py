"""``envtui rebuild NAME`` for an installed tool: ``uv tool install --reinstall`` with everything its
receipt records, proven first in a temporary tool directory (:func:`~envtui.core.rebuild.reinstall_tool`)."""

from __future__ import annotations

import argparse
import sys

from ..core.contain import resolve_parent
from ..core.inventory import Inventory
from ..core.rebuild import reinstall_tool
from ..core.text import printable
from ..core.tools import locate_tool_dir, scan_tools
from ..core.uvcli import find_uv
from .common import fail

__all__ = ["rebuild_tool"]


def _err(line: str) -> None:
    print(printable(line), file=sys.stderr, flush=True)


def rebuild_tool(args: argparse.Namespace, inv: Inventory) -> int | None:
    """Reinstall the tool ``args.target`` names (its directory's name or path): 0 reinstalled, 1 not
    (the reason on stdout, in uv's words when uv said it); ``None`` when no tool has that name."""
    tool_dir, _source = locate_tool_dir(uv=getattr(args, "uv", None))
    where = resolve_parent(args.target)  # the tool's directory however it is reached
    tools = [t for t in scan_tools(tool_dir) if args.target == t.name or where == resolve_parent(t.path)]
    if not tools:
        return None
    uv = getattr(args, "uv", None) or find_uv()
    if uv is None:
        return fail("uv is not installed: tools are reinstalled through uv", 1)
    code = 0
    for tool in tools:
        try:
            result = reinstall_tool(tool, tool_dir, inv.root, _err, uv=uv)
        except OSError as err:
            return fail(f"{tool.path}: uv could not be started: {err}", 1)
        print(printable(result.message))
        code = code or (0 if result.ok else 1)
    return code
