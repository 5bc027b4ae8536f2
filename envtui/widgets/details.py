"""The details pane: an entry's keys, and what each was derived from."""

from __future__ import annotations

from rich.table import Table
from textual.containers import VerticalScroll
from textual.widgets import Static

from ..core.disk import Usage
from ..format import size
from .plain import plain


class DetailsPane(VerticalScroll):
    """Shows (label, value) rows for the highlighted entry."""

    DEFAULT_CLASSES = "details"

    def compose(self):
        yield Static(id="details-body")

    def show(self, title: str, rows: list[tuple[str, str]]) -> None:
        """Replace the content with ``title`` and ``rows``, each shown as :func:`plain` text (they
        hold names and paths from disk)."""
        grid = Table.grid(padding=(0, 1))
        grid.add_column(style="bold", no_wrap=True)
        grid.add_column(overflow="fold")
        for label, value in rows:
            grid.add_row(plain(label), plain(value))
        self.border_title = plain(title)
        self.query_one("#details-body", Static).update(grid)

    def clear(self, message: str = "") -> None:
        """Show ``message`` (plain text) instead of an entry."""
        self.border_title = ""
        self.query_one("#details-body", Static).update(plain(message))


def usage_rows(usage: Usage | None) -> list[tuple[str, str]]:
    """Details-pane rows for an entry's bytes: on disk, freed if deleted, and shared with what."""
    if usage is None:
        return [("on disk", "measuring…")]
    rows = [
        ("on disk", f"{size(usage.disk)}  (allocated blocks, hardlinks once; {size(usage.apparent)} apparent)"),
        ("freed if deleted", f"{size(usage.exclusive)}  (inodes whose every link lies inside it)"),
    ]
    if usage.shared:
        rows.append(("shared", f"{size(usage.shared)} stay on disk, linked from elsewhere too:"))
        for label, n in (
            ("other environments", usage.shared_environments),
            ("the wheel cache (archive-v0)", usage.shared_wheels),
            ("other cache entries", usage.shared_other),
            ("outside the cache (e.g. project .venvs)", usage.shared_outside),
        ):
            if n:
                rows.append(("  with", f"{label}: {size(n)}"))
    return rows
