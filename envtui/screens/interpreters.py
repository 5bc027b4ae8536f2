"""The interpreters screen: every cached interpreter query and its status."""

from __future__ import annotations

from typing import Any

from rich.text import Text

from ..core import InterpreterEntry, Inventory
from ..core.explain import explain_interpreter
from ..format import size
from ..widgets.columns import Column
from ..widgets.plain import plain
from ..widgets.details import usage_rows
from .base import Row, short_path
from .prune_actions import PruneTableScreen

_STATUS_STYLE = {"fresh": "green", "stale": "yellow", "missing": "red", "corrupt": "bold red", "unknown format": "magenta"}


class InterpretersScreen(PruneTableScreen):
    """Interpreter queries uv cached, with the key each was stored under."""

    COLUMNS = (
        Column("Version", "version", 0, sort="version"),
        Column("Status", "status", 0, sort="status"),
        Column("Executable", "executable", 0, min=16, sort="name"),
        Column("Size", "size", 0, sort="size"),
        Column("Frees", "frees", 0, sort="frees"),
        Column("Key ok", "key-ok", 2),
        Column("Key", "key", 3, min=12),
    )
    SORTS = ("size", "frees", "name", "version", "status")
    EMPTY = "uv has cached no interpreter queries."

    def on_mount(self) -> None:
        # Textual runs TableScreen.on_mount too (handlers run for every class in the MRO).
        self.watch(self.app, "disk", lambda _report: self.reload(), init=False)

    def rows(self, inventory: Inventory) -> list[Row]:
        report = self.app.disk
        out = []
        for e in inventory.interpreters:
            verified = {True: Text("yes", "green"), False: Text("no", "red"), None: Text("?", "dim")}[e.key_verified]
            usage = report.entry(e.path) if report else None
            disk = usage.usage.disk if usage else None
            frees = usage.usage.exclusive if usage else None
            out.append(
                Row(
                    key=str(e.path),
                    cells=(
                        f"{e.implementation or ''} {e.version or '?'}".strip(),
                        Text(e.status, _STATUS_STYLE.get(e.status, "")),
                        short_path(e.executable, inventory.root) if e.executable else plain(f"({e.path.name})", "dim"),
                        Text(size(disk), justify="right"),
                        Text(size(frees), justify="right"),
                        verified,
                        f"{e.shard}/{e.key}",
                    ),
                    record=e,
                    search=" ".join(filter(None, [e.executable, e.version, e.status, e.key, e.shard, e.sys_prefix])).lower(),
                    sort={"name": e.executable or "", "version": e.version or "", "status": e.status, "size": disk,
                          "frees": frees},
                )
            )
        return out

    def explain(self, record: Any) -> tuple[str, list[tuple[str, str]]]:
        assert isinstance(record, InterpreterEntry)
        report = self.app.disk
        usage = report.entry(record.path) if report else None
        return f"interpreter query {record.key}", [*explain_interpreter(record), *usage_rows(usage.usage if usage else None)]
