"""The tools screen: every tool ``uv tool install`` put in ``uv tool dir``, from its receipt."""

from __future__ import annotations

from typing import Any

from textual.binding import Binding

from ..core.prune import Plan
from ..core.prune.machine import plan_tool_uninstall
from ..core.tools import Tool
from ..core.uvcli import find_uv, installed_tools
from ..core.rebuild import tool_recipe
from ..dialogs.rebuild_log import RebuildLog
from ..widgets.plain import notify
from ..format import ago
from ..widgets.columns import Column
from .base import Row
from .machine_table import MachineTableScreen


class ToolsScreen(MachineTableScreen):
    """Installed tools: requirements, commands, the Python each runs on, bytes exclusive and shared."""

    COLUMNS = (
        Column("Tool", "tool", 0, min=12, sort="name"),
        Column("Version", "version", 1),
        Column("Python", "python", 2),
        Column("Requirements", "requirements", 3, min=12),
        Column("On disk", "size", 1, sort="size"),
        Column("Frees", "frees", 0, sort="frees"),
    )
    SORTS = ("frees", "size", "name")
    EMPTY = "No tools installed (uv tool install)."
    BINDINGS = [
        Binding("d", "uninstall", "Uninstall", id="tools.uninstall",
                tooltip="Uninstall the highlighted tool through uv tool uninstall (the plan first)"),
        Binding("b", "reinstall", "Rebuild", id="tools.reinstall",
                tooltip="Reinstall the highlighted tool through uv tool install --reinstall"),
    ]

    def machine_rows(self, machine: Any, usage: Any) -> list[Row]:
        out = []
        for t in machine.tools:
            item = self.item(usage, t.path)
            out.append(Row(
                key=str(t.path),
                cells=(t.name, t.version or "?", t.venv.python_version or "?", ", ".join(t.requirements), *self.cells_of(item)),
                record=t,
                search=" ".join([t.name, t.version or "", *t.requirements, *(d.name for d in t.venv.packages)]).lower(),
                sort={"name": t.name, "size": item.disk if item else None, "frees": item.exclusive if item else None},
            ))
        return out

    def explain(self, record: Any) -> tuple[str, list[tuple[str, str]]]:
        assert isinstance(record, Tool)
        v = record.venv
        rows = [("path", str(record.path)), ("version", record.version or "?"),
                ("requirements", ", ".join(record.requirements) or "(no receipt)"),
                ("python asked", record.python_request or "(any)"),
                ("python", f"{v.implementation or ''} {v.python_version or '?'} · {v.interpreter or v.home or '?'}"),
                ("last used", f"{ago(v.last_used)} (pyvenv.cfg's access time)")]
        rows += [("command", f"{e.name} → {e.install_path}") for e in record.entry_points]
        rows += [("package", f"{d.name} {d.version}") for d in v.packages]
        rows += [("problem", p) for p in record.problems]
        rows += self.size_rows(self.item(getattr(self.app, "machine_usage", None), record.path), "freed if uninstalled")
        return record.name, rows

    def action_uninstall(self) -> None:
        """Uninstall the highlighted tool through ``uv tool uninstall`` (the plan first, in a worker;
        only a name ``uv tool list`` prints is handed to uv)."""
        machine, inventory, tool = getattr(self.app, "machine", None), self.app.inventory, self.selected
        uv = find_uv()
        if not isinstance(tool, Tool) or machine is None or inventory is None:
            return
        if uv is None:
            notify(self, "uv is not installed", severity="warning")
            return

        def make(stop) -> Plan:
            return plan_tool_uninstall([tool], uv, tool_dir=machine.tool_dir, cache_root=inventory.root,
                                       installed=installed_tools(uv, machine.tool_dir), should_stop=stop)

        self.delete_outside(make)

    def action_reinstall(self) -> None:
        """Reinstall the highlighted tool through uv with everything its receipt records (proven
        first in a temporary tool directory: the tool stays when uv cannot build it)."""
        machine, inventory, tool = getattr(self.app, "machine", None), self.app.inventory, self.selected
        uv = find_uv()
        if not isinstance(tool, Tool) or machine is None or inventory is None:
            return
        if uv is None:
            notify(self, "uv is not installed", severity="warning")
            return

        def closed(ran: bool | None) -> None:
            if ran:
                self.app.rescan()

        recipe = tool_recipe(tool, uv)
        if recipe.problem:
            notify(self, f"Cannot rebuild: {recipe.problem}", severity="warning", timeout=10)
            return
        self.app.push_screen(RebuildLog.for_tool(inventory, tool, recipe, machine.tool_dir, uv), closed)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("uninstall", "reinstall"):
            return isinstance(self.selected, Tool)
        return super().check_action(action, parameters)
