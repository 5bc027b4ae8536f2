"""The overview's bar of where the space goes, with its legend."""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

from ..format import size
from .plain import plain

_COLOURS = ("dodger_blue2", "dark_orange", "green3", "magenta", "gold1", "cyan", "red3", "purple")
SHARED = "shared"
"""The name of the part no single bucket frees (hardlinked across buckets or from outside)."""


@dataclass(frozen=True)
class SpaceParts:
    """What the bar shows: a title, and parts of one whole, each with its whole percentage."""

    title: str
    """The line above the bar."""
    parts: tuple[tuple[str, int, int], ...] = ()
    """``(name, bytes, percent)``, largest first; the percentages sum to 100."""


class SpaceBar(Widget):
    """A title, a bar as wide as the widget and a legend. Drawn from ``parts`` at every render,
    so it never waits for a resize to appear."""

    DEFAULT_CSS = "SpaceBar { height: auto; padding: 0 1; }"

    parts: reactive[SpaceParts] = reactive(SpaceParts("Measuring where the space goes…"), layout=True)
    """What to draw."""

    def render(self) -> Text:
        width = max(10, self.content_size.width)
        line, legend = Text(), Text()
        used = 0
        for i, (name, n, percent) in enumerate(self.parts.parts):
            colour = "grey50" if name == SHARED or i >= len(_COLOURS) else _COLOURS[i]
            cells = min(round(width * percent / 100), width - used)
            line.append("█" * cells, colour)
            used += cells
            if i < 6 or name == SHARED:
                legend.append("■ ", colour)
                label = "shared (hardlinked across buckets or from outside)" if name == SHARED else name
                # A part is named after a top-level entry of the cache: a file name.
                legend.append_text(plain(f"{label} {size(n)} {percent}%  "))
        if not self.parts.parts:
            return plain(self.parts.title, "dim")
        return Text.assemble(plain(self.parts.title, "bold"), "\n", line, "\n", legend)
