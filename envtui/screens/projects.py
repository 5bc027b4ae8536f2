"""The project environments screen: every virtual environment under the roots (``.venv`` and
others), what it holds, and what deleting it frees (hardlinks into the cache counted exactly)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from rich.text import Text
from textual import on, work
from textual.binding import Binding
from textual.message import Message

from ..core.prune import Plan, PruneResult
from ..core.prune.machine import execute_project_plan, plan_project_envs
from ..core.projects import ProjectEnv
from ..dialogs.confirm_prune import ConfirmPrune
from ..format import ago, size_exact
from ..machine_ui import machine_roots
from ..widgets.columns import Column
from ..widgets.plain import notify, plain
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
        Column("Freed", "freed", 1),
    )
    SORTS = ("name", "size", "used")
    EMPTY = "No environments under the roots (--roots DIR, or o on the environments screen)."
    MARKABLE: ClassVar[bool] = True
    BINDINGS = [
        Binding("d", "delete", "Delete", id="projects.delete",
                tooltip="Delete the marked environments (or the highlighted one); the plan is shown first"),
    ]

    @dataclass
    class Deleted(Message):
        """A plan ran (``result``), or failed (``error``)."""

        result: PruneResult | None
        error: str | None = None

    def machine_rows(self, machine: Any, usage: Any) -> list[Row]:
        out = []
        home = machine.roots[0] if machine.roots else None
        for p in machine.projects:
            item = self.item(usage, p.path)
            v = p.venv
            out.append(Row(
                key=str(p.path),
                cells=(short_path(str(p.path), home) if home else str(p.path), p.project_name or self.dim("-"),
                       v.python_version or "?", str(len(v.packages)), ago(v.last_used), *self.cells_of(item)),
                record=p,
                search=" ".join([str(p.path), p.project_name or "", *(d.name for d in v.packages)]).lower(),
                sort={"name": str(p.path), "size": item.disk if item else None, "used": v.last_used},
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
        """Plan deleting the marked environments (or the highlighted one), then ask."""
        records = [r for r in self.marked_records if isinstance(r, ProjectEnv)] or (
            [self.selected] if isinstance(self.selected, ProjectEnv) else [])
        if not records:
            return
        roots = machine_roots(self.app)
        plan = plan_project_envs([(r.path, r.project_name or r.path.parent.name) for r in records], roots)

        def answered(yes: bool | None) -> None:
            if yes:
                self._delete(plan, roots)

        self.app.push_screen(ConfirmPrune(plan), answered)

    @work(thread=True, exclusive=True, group="project-delete", exit_on_error=False)
    def _delete(self, plan: Plan, roots: list[str]) -> None:
        try:
            measure = [self.app.inventory.root, *roots] if self.app.inventory else list(roots)
            self.post_message(self.Deleted(execute_project_plan(plan, roots, measure=measure)))
        except OSError as err:
            self.post_message(self.Deleted(None, str(err)))

    @on(Deleted)
    def _deleted(self, message: Deleted) -> None:
        if message.result is None:
            notify(self, f"could not delete: {message.error}", severity="error")
            return
        r = message.result
        text = plain(f"Deleted {len(r.deleted)} of {len(r.plan.entries)}: freed {size_exact(r.measured_bytes)} measured, "
                     f"{size_exact(r.predicted_bytes)} predicted")
        for path, error in r.errors:
            text.append_text(Text.assemble("\n", plain(f"FAILED {path}: {error}")))
        notify(self, text, severity="error" if r.errors else "information", timeout=10)
        self.clear_marks()
        self.app.action_rescan()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "delete":
            return bool(self.marked) or isinstance(self.selected, ProjectEnv)
        return super().check_action(action, parameters)
