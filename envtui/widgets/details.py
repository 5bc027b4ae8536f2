"""The details pane: an entry's keys, and what each was derived from."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.containers import VerticalScroll
from textual.widgets import Static


class DetailsPane(VerticalScroll):
    """Shows (label, value) rows for the highlighted entry."""

    DEFAULT_CLASSES = "details"

    def compose(self):
        yield Static(id="details-body")

    def show(self, title: str, rows: list[tuple[str, str]]) -> None:
        """Replace the content with ``title`` and ``rows`` (plain text, never markup)."""
        grid = Table.grid(padding=(0, 1))
        grid.add_column(style="bold", no_wrap=True)
        grid.add_column(overflow="fold")
        for label, value in rows:
            grid.add_row(Text(label), Text(value))
        self.border_title = title
        self.query_one("#details-body", Static).update(grid)

    def clear(self, message: str = "") -> None:
        """Show ``message`` instead of an entry."""
        self.border_title = ""
        self.query_one("#details-body", Static).update(Text(message))
