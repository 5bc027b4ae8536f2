"""The project environments screen: every virtual environment under the roots (``.venv`` and
others), what it holds, and what deleting it frees (hardlinks into the cache counted exactly)."""

from __future__ import annotations

from pathlib import Path

from typing import Any, ClassVar

from textual.binding import Binding

from ..core.prune.machine import plan_project_envs
from ..core.projects import ProjectEnv
from ..format import ago
from ..machine_ui import machine_roots
from ..widgets.columns import Column
from .base import Row, short_path
from .machine_table import MachineTableScreen


class ProjectsScreen(MachineTableScreen):
    """Project environments under the roots: project, Python, packages, last used, bytes, freed."""

    COLUMNS = (
        Column("Environment", "environment", 0, min=16, sort="name"),
        Column("Project", "project", 1),
        Column("Python", "python", 2),
        Column("Packages", "packages", 3),
        Column("Last used", "used", 2, sort="used"),
        Column("On disk", "size", 1, sort="size"),
        Column("Frees", "frees", 0, sort="frees"),
    )
    SORTS = ("frees", "size", "name", "used")
    EMPTY = "No environments under the roots (--roots DIR, or o on the environments screen)."
    MARKABLE: ClassVar[bool] = True
    BINDINGS = [
        Binding("d", "delete", "Delete", id="projects.delete",
                tooltip="Delete the marked environments (or the highlighted one); the plan is shown first"),
    ]

    def machine_rows(self, machine: Any, usage: Any) -> list[Row]:
        out = []
        # Shortened as every path is (~/… under the home directory): never relative to a root,
        # which read as "<cache>/…" and named the cache for a directory outside it.
        inventory = self.app.inventory
        cache = inventory.root if inventory is not None else Path("/")
        for p in machine.projects:
            item = self.item(usage, p.path)
            v = p.venv
            out.append(Row(
                key=str(p.path),
                cells=(short_path(str(p.path), cache), p.project_name or self.dim("-"),
                       v.python_version or "?", str(len(v.packages)), ago(v.last_used), *self.cells_of(item)),
                record=p,
                search=" ".join([str(p.path), p.project_name or "", *(d.name for d in v.packages)]).lower(),
                sort={"name": str(p.path), "size": item.disk if item else None,
                      "frees": item.exclusive if item else None, "used": v.last_used},
            ))
        return out

    def explain(self, record: Any) -> tuple[str, list[tuple[str, str]]]:
        assert isinstance(record, ProjectEnv)
        v = record.venv
        rows = [("path", str(record.path)),
                ("project", f"{record.project_name or '?'} {record.project_version or ''} · {record.project}" if record.project else "(no pyproject.toml beside it)"),
                ("python", f"{v.implementation or ''} {v.python_version or '?'} · {v.interpreter or v.home or '?'}"),
                ("made by", f"uv {v.uv_version}" if v.uv_version else "not uv (python -m venv, virtualenv…)"),
                ("last used", f"{ago(v.last_used)} (pyvenv.cfg's access time; relatime: up to a day stale)")]
        rows += [("package", f"{d.name} {d.version}") for d in v.packages[:20]]
        if len(v.packages) > 20:
            rows.append(("package", f"… and {len(v.packages) - 20} more"))
        rows += [("problem", p) for p in v.problems]
        rows += self.size_rows(self.item(getattr(self.app, "machine_usage", None), record.path))
        return str(record.path), rows

    def action_delete(self) -> None:
        """Plan deleting the marked environments (or the highlighted one) in a worker, show the
        plan, and delete on ``y`` (the one pipeline: checked again right before)."""
        records = [r for r in self.marked_records if isinstance(r, ProjectEnv)] or (
            [self.selected] if isinstance(self.selected, ProjectEnv) else [])
        if not records:
            return
        roots = machine_roots(self.app)
        machine, inventory = getattr(self.app, "machine", None), self.app.inventory
        keep_out = [p for p in (inventory.root if inventory else None, getattr(machine, "python_dir", None),
                                getattr(machine, "tool_dir", None)) if p is not None]
        envs = [(r.path, r.project_name or r.path.parent.name) for r in records]
        self.delete_outside(lambda stop: plan_project_envs(envs, roots, keep_out=keep_out, should_stop=stop))

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "delete":
            return bool(self.marked) or isinstance(self.selected, ProjectEnv)
        return super().check_action(action, parameters)
