"""One line on the overview: everything uv keeps (cache, managed Pythons, tools, project
environments), each part's bytes and the total, hardlinks counted once across all of them."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from ..core.machine import CACHE, PROJECTS, PYTHONS, TOOLS
from ..format import size

_NAMES = {CACHE: "cache", PYTHONS: "Pythons", TOOLS: "tools", PROJECTS: "projects"}


def _keys() -> dict[str, str]:
    from ..screens.registry import SCREENS

    return {s.mode: s.key for s in SCREENS}


class MachineParts(Static):
    """Shows the app's ``machine_usage``; hidden until it arrives (and where it never does)."""

    def on_mount(self) -> None:
        self.display = False
        self.watch(self.app, "machine_usage", self._show)

    def _show(self, usage) -> None:
        if usage is None:
            return
        line = Text.assemble(("Everything uv keeps: ", "bold"), (size(usage.total_disk), "bold green"),
                             " on disk, hardlinks counted once across all  ·  ")
        keys = _keys()
        for i, part in enumerate(usage.parts):
            if i:
                line.append("  ·  ")
            line.append(f"{_NAMES.get(part.name, part.name)} {size(part.disk)}")
            if part.name != CACHE:
                line.append(f" ({part.items}, key {keys[part.name]})" if part.name in keys else f" ({part.items})", "dim")
        shared = sum(p.disk for p in usage.parts) - usage.total_disk
        if shared > 0:
            line.append(f"  ·  {size(shared)} shared between parts", "dim")
        self.update(line)
        self.display = True
