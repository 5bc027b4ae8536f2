"""The environments screen: script environments and cached (tool, ``--with``) environments."""

from __future__ import annotations

from typing import Any

import humanize
from rich.text import Text
from textual import on
from textual.binding import Binding
from textual.widgets import DataTable

from ..core import SCRIPT, Environment, Inventory
from ..core.explain import explain_environment
from .base import Row, TableScreen

_STATUS_STYLE = {"ok": "green", "dangling": "red", "corrupt": "bold red", "in flight": "yellow"}


def _name(env: Environment) -> str:
    if env.kind == SCRIPT:
        if env.script:
            return env.script
        return env.prompt or env.stem or env.key
    return env.tool or (env.packages[0].name if env.packages else env.key)


def _ago(ts: float | None) -> str:
    if ts is None:
        return "?"
    import time

    return humanize.naturaltime(time.time() - ts)


class EnvironmentsScreen(TableScreen):
    """Every environment in ``environments-vN``, with its key and what it was derived from."""

    COLUMNS = ("Kind", "Name", "Python", "Packages", "Status", "Last used", "Key")
    SORTS = ("name", "used", "kind")
    EMPTY = "uv has no script or cached environments in this cache."

    BINDINGS = [
        Binding("c", "copy_path", "Copy path", id="env.copy-path", tooltip="Copy the stable environment path"),
        Binding("p", "copy_python", "Copy bin/python", id="env.copy-python", tooltip="Copy the environment's bin/python"),
    ]

    def rows(self, inventory: Inventory) -> list[Row]:
        out = []
        for env in inventory.environments:
            pkgs = ", ".join(f"{p.name} {p.version}" for p in env.packages) or "—"
            name = _name(env)
            out.append(
                Row(
                    key=str(env.path),
                    cells=(
                        env.kind,
                        name,
                        env.python_version or "?",
                        pkgs if len(pkgs) <= 40 else pkgs[:39] + "…",
                        Text(env.status, _STATUS_STYLE.get(env.status, "")),
                        _ago(env.last_used),
                        env.key,
                    ),
                    record=env,
                    search=" ".join(
                        filter(None, [env.kind, name, env.key, env.python_version, env.tool, env.script, env.prompt, pkgs])
                    ).lower(),
                    sort={"name": name.lower(), "used": env.last_used, "kind": (env.kind, name.lower())},
                )
            )
        return out

    def explain(self, record: Any) -> tuple[str, list[tuple[str, str]]]:
        assert isinstance(record, Environment)
        return f"{record.kind} environment {_name(record)}", explain_environment(record)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("copy_path", "copy_python"):
            return self.selected is not None
        return True

    def _copy(self, text: str, what: str) -> None:
        # OSC 52: works in most terminals, and over SSH, where a local clipboard tool would not.
        self.app.copy_to_clipboard(text)
        self.notify(text, title=f"Copied {what}")

    def action_copy_path(self) -> None:
        """Copy the selected environment's stable path."""
        env = self.selected
        if env is not None:
            self._copy(str(env.path), "stable environment path")

    def action_copy_python(self) -> None:
        """Copy the selected environment's ``bin/python``."""
        env = self.selected
        if env is not None:
            self._copy(str(env.python), "bin/python")

    @on(DataTable.RowSelected)
    def _chosen(self, _event: DataTable.RowSelected) -> None:
        # enter: with --print-path, exit and hand the stable path to the shell.
        env = self.selected
        if env is not None and getattr(self.app, "print_path", False):
            self.app.exit(str(env.path))
