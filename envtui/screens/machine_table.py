"""A table screen over what uv keeps beside its cache (the app's ``machine`` and ``machine_usage``),
with the uv-run actions (uninstall, reinstall) behind a plan dialog."""

from __future__ import annotations

import os
from typing import Any, ClassVar

from rich.text import Text

from ..core.inventory import Inventory
from ..core.machine import ItemUsage
from ..format import size
from ..widgets.plain import plain
from .base import Row, TableScreen


class MachineTableScreen(TableScreen):
    """Base for the Pythons, tools and projects screens: subclasses give ``COLUMNS``,
    ``machine_rows(machine, usage)`` and ``explain()``."""

    NOT_SCANNED: ClassVar[str] = "Not looked at: start envtui from the command line to see beyond the cache."

    def on_mount(self) -> None:
        self.watch(self.app, "machine", self._machine_changed, init=False)
        self.watch(self.app, "machine_usage", self._machine_changed, init=False)

    def _machine_changed(self, _value: object = None) -> None:
        self.reload()

    def rows(self, inventory: Inventory) -> list[Row]:
        machine = getattr(self.app, "machine", None)
        if machine is None:
            return []
        return self.machine_rows(machine, getattr(self.app, "machine_usage", None))

    def machine_rows(self, machine: Any, usage: Any) -> list[Row]:
        """Rows for ``machine`` (sizes from ``usage``, ``None`` while measuring)."""
        raise NotImplementedError

    @staticmethod
    def item(usage: Any, path: os.PathLike) -> ItemUsage | None:
        """The figures of the item at ``path``, or ``None`` while measuring."""
        return None if usage is None else usage.items.get(os.path.abspath(path))

    @staticmethod
    def size_rows(item: ItemUsage | None, freed_label: str = "freed if deleted") -> list[tuple[str, str]]:
        """Details-pane rows for an item's bytes and whom it shares them with."""
        if item is None:
            return [("sizes", "measuring…")]
        rows = [("on disk", f"{size(item.disk)}  (allocated blocks, each inode once)"),
                (freed_label, f"{size(item.exclusive)}  (files no other link keeps alive)")]
        for s in item.shares[:8]:
            rows.append(("shares", f"{size(s.bytes)} with {s.part}: {s.path}"))
        if len(item.shares) > 8:
            rows.append(("shares", f"… and {len(item.shares) - 8} more"))
        return rows

    @staticmethod
    def cells_of(item: ItemUsage | None) -> tuple[str, str]:
        """The "On disk" and "Freed" cells."""
        return (size(None), size(None)) if item is None else (size(item.disk), size(item.exclusive))

    @staticmethod
    def dim(text: str) -> Text:
        """``text`` dimmed, as plain text."""
        return plain(text, "dim")
