"""A screen with a filterable, sortable table of cache entries and a details pane."""

from __future__ import annotations

import os
from pathlib import Path
from dataclasses import dataclass, field
from typing import Any, ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from rich.text import Text
from textual.widgets import DataTable, Footer, Header, Input, Static
from textual.widgets.data_table import RowKey

from ..core import Inventory
from ..widgets.details import DetailsPane


def short_path(path: str, cache_root: Path) -> str:
    """``path`` for a narrow column: ``<cache>/…`` inside the cache, ``~/…`` under the home
    directory, else as it is. The details pane always shows the whole path."""
    for base, label in ((str(cache_root), "<cache>"), (os.path.expanduser("~"), "~")):
        if base not in ("", "/") and (path == base or path.startswith(base + os.sep)):
            return label + path[len(base):]
    return path


@dataclass(frozen=True)
class Row:
    """One table row: its cells and the record behind it."""

    key: str
    """Unique row key (the entry's path)."""
    cells: tuple[Any, ...]
    """What the table shows, one per column."""
    record: Any
    """The core record (InterpreterEntry, Environment, ...)."""
    search: str
    """Lowercased text the filter matches against."""
    sort: dict[str, Any] = field(default_factory=dict)
    """Sort keys by name (``"name"``, ``"size"``, ``"used"``...)."""


class TableScreen(Screen[None]):
    """Base for the list screens: subclasses give ``COLUMNS``, ``rows()`` and ``explain()``."""

    COLUMNS: ClassVar[tuple[str, ...]] = ()
    SORTS: ClassVar[tuple[str, ...]] = ("name",)
    EMPTY: ClassVar[str] = "Nothing here."
    MARKABLE: ClassVar[bool] = False
    """Whether rows can be marked (space, ``a``) for an action on several entries; the mark is
    shown as the row label, so the data columns keep their indices."""
    AUTO_FOCUS = "#table"

    BINDINGS = [
        Binding("slash", "start_filter", "Filter", id="table.filter", tooltip="Filter the rows as you type"),
        Binding("escape", "clear_filter", "Clear filter", show=False, id="table.clear-filter"),
        Binding("s", "cycle_sort", "Sort", id="table.sort", tooltip="Cycle the sort order"),
        Binding("space", "toggle_mark", "Mark", id="table.mark", tooltip="Mark or unmark the highlighted row"),
        Binding(
            "a", "mark_shown", "Mark all", id="table.mark-all",
            tooltip="Mark every row the filter shows (again: unmark them)",
        ),
    ]

    def __init__(self) -> None:
        super().__init__()
        self._rows: list[Row] = []
        self._shown: list[Row] = []
        self.sort_by = self.SORTS[0]
        """The current sort key, one of ``SORTS``."""
        self.marked: set[str] = set()
        """Row keys (entry paths) of the marked rows; kept across rescans while the entry exists."""

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="main"):
            with Vertical(id="list"):
                yield Input(placeholder="filter…", id="filter", classes="hidden")
                yield DataTable(id="table", cursor_type="row", zebra_stripes=True)
                yield Static("", id="status-line")
            yield DetailsPane(id="details")
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns(*self.COLUMNS)
        self.watch(self.app, "inventory", self._inventory_changed)

    # -- subclass hooks ------------------------------------------------------------------------

    def rows(self, inventory: Inventory) -> list[Row]:
        """Rows for ``inventory``."""
        raise NotImplementedError

    def explain(self, record: Any) -> tuple[str, list[tuple[str, str]]]:
        """A title and (label, value) rows for the details pane."""
        raise NotImplementedError

    # -- behaviour -------------------------------------------------------------------------------

    @property
    def selected(self) -> Any | None:
        """The record under the cursor, or ``None``."""
        table = self.query_one(DataTable)
        if not self._shown or table.cursor_row < 0 or table.cursor_row >= len(self._shown):
            return None
        return self._shown[table.cursor_row].record

    def _inventory_changed(self, inventory: Inventory | None) -> None:
        if inventory is None:
            self.query_one("#status-line", Static).update("scanning…")
            return
        self._rows = self.rows(inventory)
        self.marked &= {r.key for r in self._rows}
        self._refill()

    def _refill(self) -> None:
        table = self.query_one(DataTable)
        text = self.query_one("#filter", Input).value.strip().lower()
        words = text.split()
        shown = [r for r in self._rows if all(w in r.search for w in words)]
        # Largest and most recent first; names A to Z. Rows without the key go last.
        present = [r for r in shown if r.sort.get(self.sort_by) is not None]
        present.sort(key=lambda r: r.sort[self.sort_by], reverse=self.sort_by in ("size", "used"))
        shown = present + [r for r in shown if r.sort.get(self.sort_by) is None]
        previous = self.selected
        self._shown = shown
        table.clear()
        for row in shown:
            table.add_row(*row.cells, key=row.key, label=self._mark_label(row.key))
        self._update_status()
        if previous is not None:
            for i, row in enumerate(shown):
                if row.record is previous:
                    table.move_cursor(row=i)
                    break
        self._show_details()
        self.refresh_bindings()

    def _update_status(self) -> None:
        text = self.query_one("#filter", Input).value.strip().lower()
        status = f"{len(self._shown)} of {len(self._rows)} · sorted by {self.sort_by}"
        if text:
            status += f" · filter: {text}"
        if self.marked:
            status += f" · {len(self.marked)} marked"
        self.query_one("#status-line", Static).update(status)

    def _mark_label(self, key: str) -> Text | None:
        if not self.MARKABLE:
            return None
        return Text("●", "bold magenta") if key in self.marked else Text(" ")

    @property
    def marked_records(self) -> list[Any]:
        """The records of the marked rows, in table order (hidden ones included)."""
        return [r.record for r in self._rows if r.key in self.marked]

    def clear_marks(self) -> None:
        """Unmark every row."""
        self.marked.clear()
        self._refill()

    def _set_marks(self, rows: list[Row], on: bool) -> None:
        table = self.query_one(DataTable)
        for row in rows:
            if on:
                self.marked.add(row.key)
            else:
                self.marked.discard(row.key)
            table.rows[RowKey(row.key)].label = self._mark_label(row.key)
            # Rewriting a cell is the public way to make the table render the row (and its label) again.
            first = next(iter(table.columns))
            table.update_cell(row.key, first, table.get_cell(row.key, first))
        self._update_status()
        self.refresh_bindings()

    def action_toggle_mark(self) -> None:
        """Mark or unmark the highlighted row."""
        table = self.query_one(DataTable)
        if self.MARKABLE and 0 <= table.cursor_row < len(self._shown):
            row = self._shown[table.cursor_row]
            self._set_marks([row], row.key not in self.marked)

    def action_mark_shown(self) -> None:
        """Mark every row the filter shows; when they are all marked already, unmark them."""
        if self.MARKABLE:
            everything = all(r.key in self.marked for r in self._shown)
            self._set_marks(self._shown, not everything)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("toggle_mark", "mark_shown"):
            return self.MARKABLE and bool(self._shown)
        return True

    def _show_details(self) -> None:
        pane = self.query_one(DetailsPane)
        record = self.selected
        if record is None:
            pane.clear(self.EMPTY if not self._rows else "No row matches the filter.")
            return
        title, rows = self.explain(record)
        pane.show(title, rows)

    @on(DataTable.RowHighlighted)
    def _highlighted(self, _event: DataTable.RowHighlighted) -> None:
        self._show_details()

    @on(Input.Changed, "#filter")
    def _filter_changed(self, _event: Input.Changed) -> None:
        self._refill()

    @on(Input.Submitted, "#filter")
    def _filter_submitted(self, _event: Input.Submitted) -> None:
        self.query_one(DataTable).focus()

    def action_start_filter(self) -> None:
        """Show the filter box and focus it."""
        box = self.query_one("#filter", Input)
        box.remove_class("hidden")
        box.focus()

    def action_clear_filter(self) -> None:
        """Clear and hide the filter box."""
        box = self.query_one("#filter", Input)
        box.value = ""
        box.add_class("hidden")
        self.query_one(DataTable).focus()

    def action_cycle_sort(self) -> None:
        """Sort by the next key in ``SORTS``."""
        i = self.SORTS.index(self.sort_by)
        self.sort_by = self.SORTS[(i + 1) % len(self.SORTS)]
        self._refill()
