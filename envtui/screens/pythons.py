"""The managed Pythons screen: every installation in ``uv python dir``, and what runs on each."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.binding import Binding

from ..core.pythons import ManagedPython
from ..core.prune.machine import plan_python_uninstall
from ..core.prune import Plan
from ..core.uvcli import find_uv, installed_pythons
from ..widgets.columns import Column
from ..widgets.plain import notify, plain
from .base import Row
from .machine_table import MachineTableScreen


class PythonsScreen(MachineTableScreen):
    """uv-managed Pythons: version, bytes, and the environments and interpreter entries using each."""

    COLUMNS = (
        Column("Python", "python", 0, min=20, sort="name"),
        Column("Version", "version", 1, sort="version"),
        Column("Used by", "used-by", 0),
        Column("On disk", "size", 1, sort="size"),
        Column("Frees", "frees", 0, sort="frees"),
    )
    SORTS = ("frees", "size", "name", "version")
    EMPTY = "uv has installed no Pythons here (uv python install)."
    BINDINGS = [
        Binding("d", "uninstall", "Uninstall", id="pythons.uninstall",
                tooltip="Uninstall the highlighted Python through uv (the plan first; never one in use)"),
        Binding("U", "uninstall_unused", "Uninstall unused", id="pythons.uninstall-unused",
                tooltip="Uninstall every Python no environment runs on (the plan first)"),
    ]

    def machine_rows(self, machine: Any, usage: Any) -> list[Row]:
        out = []
        for p in machine.pythons:
            item = self.item(usage, p.path)
            envs = len(p.environments)
            users = plain(f"{envs} environments", "green") if envs else Text("unused", "yellow")
            if len(p.used_by) > envs:
                users.append(f" · {len(p.used_by) - envs} queries", "dim")
            out.append(Row(
                key=str(p.path),
                cells=(p.key, p.version, users, *self.cells_of(item)),
                record=p,
                search=" ".join([p.key, p.version, *(str(u.path) for u in p.used_by)]).lower(),
                sort={"name": p.key, "version": tuple(int(x) for x in p.version.split(".") if x.isdigit()),
                      "size": item.disk if item else None, "frees": item.exclusive if item else None},
            ))
        return out

    def explain(self, record: Any) -> tuple[str, list[tuple[str, str]]]:
        assert isinstance(record, ManagedPython)
        rows = [("path", str(record.path)), ("version", f"{record.implementation} {record.version}"),
                ("platform", record.platform)]
        if record.variant:
            rows.append(("variant", record.variant))
        rows.append(("executable", str(record.executable) if record.executable else "(none found in bin/)"))
        rows += [("link", str(x)) for x in record.links]
        if not record.used_by:
            rows.append(("used by", "nothing: uninstalling it breaks no environment"))
        rows += [("used by", f"{u.kind}: {u.path}") for u in record.used_by]
        rows += self.size_rows(self.item(getattr(self.app, "machine_usage", None), record.path), "freed if uninstalled")
        return record.key, rows

    def _plan(self, keys: list[str] | None, title: str) -> None:
        machine, inventory = getattr(self.app, "machine", None), self.app.inventory
        uv = find_uv()
        if machine is None or uv is None or inventory is None:
            notify(self, "uv is not installed" if uv is None else "still scanning", severity="warning")
            return

        def make(stop) -> Plan:
            # What uv itself reports, asked now: only its installations are ever handed to it.
            installed = installed_pythons(uv, machine.python_dir)
            return plan_python_uninstall(machine.pythons, uv, python_dir=machine.python_dir, cache_root=inventory.root,
                                         installed=installed, keys=keys, unknown=machine.unknown, should_stop=stop)

        self.delete_outside(make)

    def action_uninstall(self) -> None:
        """Uninstall the highlighted Python through ``uv python uninstall`` (the plan first)."""
        if isinstance(self.selected, ManagedPython):
            self._plan([self.selected.key], f"Uninstall {self.selected.key}")

    def action_uninstall_unused(self) -> None:
        """Uninstall every Python nothing runs on (the plan first)."""
        self._plan(None, "Uninstall unused Pythons")

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "uninstall":
            return isinstance(self.selected, ManagedPython)
        if action == "uninstall_unused":
            return getattr(self.app, "machine", None) is not None
        return super().check_action(action, parameters)
