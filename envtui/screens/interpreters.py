"""The interpreters screen: every cached interpreter query and its status."""

from __future__ import annotations

from typing import Any

from rich.text import Text

from ..core import InterpreterEntry, Inventory
from ..core.explain import explain_interpreter
from .base import Row, short_path
from .prune_actions import PruneTableScreen

_STATUS_STYLE = {"fresh": "green", "stale": "yellow", "missing": "red", "corrupt": "bold red", "unknown format": "magenta"}


class InterpretersScreen(PruneTableScreen):
    """Interpreter queries uv cached, with the key each was stored under."""

    COLUMNS = ("Version", "Status", "Key ok", "Executable", "Key")
    SORTS = ("name", "version", "status")
    EMPTY = "uv has cached no interpreter queries."

    def rows(self, inventory: Inventory) -> list[Row]:
        out = []
        for e in inventory.interpreters:
            verified = {True: Text("yes", "green"), False: Text("no", "red"), None: Text("?", "dim")}[e.key_verified]
            out.append(
                Row(
                    key=str(e.path),
                    cells=(
                        f"{e.implementation or ''} {e.version or '?'}".strip(),
                        Text(e.status, _STATUS_STYLE.get(e.status, "")),
                        verified,
                        short_path(e.executable, inventory.root) if e.executable else Text(f"({e.path.name})", "dim"),
                        f"{e.shard}/{e.key}",
                    ),
                    record=e,
                    search=" ".join(filter(None, [e.executable, e.version, e.status, e.key, e.shard, e.sys_prefix])).lower(),
                    sort={"name": e.executable or "", "version": e.version or "", "status": e.status},
                )
            )
        return out

    def explain(self, record: Any) -> tuple[str, list[tuple[str, str]]]:
        assert isinstance(record, InterpreterEntry)
        return f"interpreter query {record.key}", explain_interpreter(record)
