"""``envtui rebuild NAME`` for an installed tool: ``uv tool install --reinstall`` with everything its
receipt records, proven first in a temporary tool directory (:func:`~envtui.core.rebuild.reinstall_tool`)."""

from __future__ import annotations

import sys
from pathlib import Path

from ..core.contain import resolve_parent
from ..core.inventory import Inventory
from ..core.rebuild import reinstall_tool
from ..core.text import printable
from ..core.tools import locate_tool_dir, read_tool, tool_dirs
from ..core.uvcli import find_uv
from .common import fail

__all__ = ["find_tools", "rebuild_tool"]


def _err(line: str) -> None:
    print(printable(line), file=sys.stderr)


def find_tools(target: str, uv: str | None) -> tuple[Path, list[Path]]:
    """uv's tool directory (:func:`~envtui.core.tools.locate_tool_dir`, asking ``uv``) and the
    tool directories in it (:func:`~envtui.core.tools.tool_dirs`) that ``target`` names: by their
    name, or as a path compared with its parent resolved (the directory however it is reached;
    a link named as the last component is not the tool it points at)."""
    tool_dir, _source = locate_tool_dir(uv=uv)
    where = resolve_parent(target)
    return tool_dir, [p for p in tool_dirs(tool_dir) if target == p.name or where == resolve_parent(p)]


def rebuild_tool(path: Path, tool_dir: Path, inv: Inventory, uv: str | None) -> int:
    """Reinstall the tool at ``path`` in ``tool_dir``, with the uv cache of ``inv``, through ``uv``
    (default: the one on ``PATH``): 0 reinstalled, 1 not (the reason on stdout, in uv's words when
    uv said it)."""
    uv = uv or find_uv()
    if uv is None:
        return fail("uv is not installed: tools are reinstalled through uv", 1)
    try:
        result = reinstall_tool(read_tool(path), tool_dir, inv.root, _err, uv=uv)
    except OSError as err:
        return fail(f"{path}: uv could not be started: {err}", 1)
    print(printable(result.message))
    return 0 if result.ok else 1
