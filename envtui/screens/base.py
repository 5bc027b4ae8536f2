"""A screen with a filterable, sortable table of cache entries and a details pane.

The layout adapts to the terminal: the columns that fit are chosen by priority (the ones that
tell entries apart and the sizes stay; long names are shortened in the middle), and the details
pane sits beside the table on a wide terminal, and is hidden on a narrow one until ``i`` shows it
below the table.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from rich.text import Text
from textual import events, getters, on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Input, Static

from ..core import Inventory
from ..format import size
from ..widgets.columns import PADDING, Column, fit_cell, fit_columns
from ..widgets.details import DetailsPane
from ..widgets.entry_table import EntryTable
from ..widgets.plain import plain

if TYPE_CHECKING:
    from ..app import EnvtuiApp

#: Below this many columns the details pane no longer fits beside the table.
WIDE = 120
#: The flags column: the mark, and whether a running process uses the entry.
FLAGS = "flags"
MARK, IN_USE = "●", "▶"
#: The sort arrow in the header of the column the list is sorted by (and on the status line).
ASCENDING, DESCENDING = "▲", "▼"


def short_path(path: str, cache_root: Path) -> str:
    """``path`` for a narrow column: ``<cache>/…`` inside the cache, ``~/…`` under the home
    directory, else as it is. The details pane always shows the whole path."""
    for base, label in ((str(cache_root), "<cache>"), (os.path.expanduser("~"), "~")):
        if base not in ("", "/") and (path == base or path.startswith(base + os.sep)):
            return label + path[len(base):]
    return path


def bytes_cell(n: int | None) -> Text:
    """A byte count for a size column, right-aligned; ``…`` (dim) while it is not known."""
    return Text("…", "dim") if n is None else Text(size(n), justify="right")


@dataclass(frozen=True)
class Row:
    """One table row: its cells and the record behind it."""

    key: str
    """Unique row key (the entry's path)."""
    cells: tuple[Any, ...]
    """What the table shows, one per column of ``COLUMNS``."""
    record: Any
    """The core record (InterpreterEntry, Environment, ...)."""
    search: str
    """Lowercased text the filter matches against."""
    sort: dict[str, Any] = field(default_factory=dict)
    """Sort keys by name (``"name"``, ``"size"``, ``"used"``...)."""

    def __post_init__(self) -> None:
        # DataTable reads a str cell as markup: every cell is shown as plain text, escaped.
        object.__setattr__(self, "cells", tuple(_cell(c) for c in self.cells))


def _cell(cell: Any) -> Any:
    """``cell`` as a table shows it: a ``str`` (or anything but ``Text``) as :func:`plain` text; a
    ``Text`` holding a control character escaped the same way (keeping its style)."""
    if not isinstance(cell, Text):
        return plain(cell)
    escaped = plain(cell.plain, cell.style, justify=cell.justify)
    return cell if escaped.plain == cell.plain else escaped


class TableScreen(Screen[None]):
    """Base for the list screens: subclasses give ``COLUMNS``, ``rows()`` and ``explain()``."""

    if TYPE_CHECKING:
        app = getters.app(EnvtuiApp)

    COLUMNS: ClassVar[tuple[Column, ...]] = ()
    SORTS: ClassVar[tuple[str, ...]] = ("name",)
    """Sort keys ``s`` cycles through; the first is the one the list opens with."""
    DESCENDING: ClassVar[frozenset[str]] = frozenset({"size", "used", "frees"})
    """Sort keys whose natural order is largest (or most recent) first."""
    EMPTY: ClassVar[str] = "Nothing here."
    MARKABLE: ClassVar[bool] = False
    """Whether rows can be marked (space, ``a``) for an action on several entries."""
    SHOW_FLAGS: ClassVar[bool] = True
    """Whether the narrow first column (mark, in use) is shown."""
    AUTO_FOCUS = "#table"

    BINDINGS = [
        # First, so that the footer keeps them however narrow the terminal is.
        Binding("question_mark", "app.help", "Help", id="table.help", tooltip="The keys of this screen, and what it shows"),
        Binding("q", "app.quit", "Quit", id="table.quit"),
        Binding("slash", "start_filter", "Filter", id="table.filter", tooltip="Filter the rows as you type"),
        Binding("escape", "back", "Back", show=False, id="table.back",
                tooltip="Clear the filter, or go back to where you came from"),
        Binding("s", "cycle_sort", "Sort", id="table.sort", tooltip="Cycle the sort order (or click a header)"),
        Binding("S", "reverse_sort", "Reverse sort", show=False, id="table.reverse-sort", tooltip="Reverse the sort order"),
        Binding("space", "toggle_mark", "Mark", id="table.mark", tooltip="Mark or unmark the highlighted row"),
        Binding(
            "a", "mark_shown", "Mark all", id="table.mark-all", show=False,
            tooltip="Mark every row the filter shows (again: unmark them)",
        ),
        Binding("i", "toggle_details", "Details", id="table.details", tooltip="Show or hide the details pane"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self._rows: list[Row] = []
        self._shown: list[Row] = []
        self._layout: tuple[tuple[int, int], ...] | None = None
        self._headers: tuple[str, ...] = ()
        self.sort_by = self.SORTS[0]
        """The current sort key, one of ``SORTS``."""
        self.sort_reverse = False
        """Whether the order of ``sort_by`` is reversed (``S``)."""
        self.marked: set[str] = set()
        """Row keys (entry paths) of the marked rows; kept across rescans while the entry exists."""
        self.details_shown: bool | None = None
        """The details pane: shown, hidden, or ``None`` (beside the table when the terminal is wide)."""

    def compose(self) -> ComposeResult:
        yield Header()
        with Vertical(id="main"):
            with Vertical(id="list"):
                yield Input(placeholder="filter…", id="filter", classes="hidden")
                yield EntryTable(id="table")
                yield Static("", id="status-line")
            yield DetailsPane(id="details")
        yield Footer()

    def on_mount(self) -> None:
        self.watch(self.app, "inventory", self._inventory_changed)
        self.watch(self.app, "in_use", self._in_use_changed, init=False)
        self.watch(self.app, "scan_error", self._scan_failed, init=False)
        self.watch(self.app, "scanning", self._scanning_changed, init=False)
        self._place_details()

    # -- subclass hooks ------------------------------------------------------------------------

    def rows(self, inventory: Inventory) -> list[Row]:
        """Rows for ``inventory``."""
        raise NotImplementedError

    def explain(self, record: Any) -> tuple[str, list[tuple[str, str]]]:
        """A title and (label, value) rows for the details pane."""
        raise NotImplementedError

    # -- state -----------------------------------------------------------------------------------

    @property
    def table(self) -> DataTable:
        """The table of entries."""
        return self.query_one("#table", DataTable)

    @property
    def selected(self) -> Any | None:
        """The record under the cursor, or ``None``."""
        row = self._cursor_row()
        return row.record if row else None

    def _cursor_row(self) -> Row | None:
        table = self.table
        if not self._shown or not 0 <= table.cursor_row < len(self._shown):
            return None
        return self._shown[table.cursor_row]

    @property
    def marked_records(self) -> list[Any]:
        """The records of the marked rows, in table order (hidden ones included)."""
        return [r.record for r in self._rows if r.key in self.marked]

    def _inventory_changed(self, inventory: Inventory | None) -> None:
        if inventory is None:
            self._status(self.app.scan_error or "scanning…")
            return
        self.reload()

    def reload(self) -> None:
        """Rows again from the app's inventory (after a scan, or when sizes arrived)."""
        inventory = self.app.inventory
        if inventory is None:
            return
        self._rows = self.rows(inventory)
        self.marked &= {r.key for r in self._rows}
        self._refill()

    def _scanning_changed(self, _scanning: bool) -> None:
        if not getattr(self, "busy", False):  # "deleting 3 of 5…" stays until the prune ends
            self._update_status()

    def _scan_failed(self, error: str | None) -> None:
        if error and self.app.inventory is None:
            self._status(error)
            self.query_one(DetailsPane).clear(error)

    # -- the table -------------------------------------------------------------------------------

    @property
    def sort_arrow(self) -> str:
        """:data:`DESCENDING` when the list shows the largest (or most recent, or last by name)
        first, else :data:`ASCENDING`."""
        return ASCENDING if (self.sort_by in self.DESCENDING) == self.sort_reverse else DESCENDING

    def _columns(self) -> tuple[Column, ...]:
        """``COLUMNS`` as shown: the first column sorting by ``sort_by`` carries the sort arrow in
        its header and always stays, however narrow the terminal (it says what the order is)."""
        sorted_by = next((i for i, c in enumerate(self.COLUMNS) if c.sort == self.sort_by), None)
        return tuple(replace(c, label=f"{c.label} {self.sort_arrow}", priority=0) if i == sorted_by else c
                     for i, c in enumerate(self.COLUMNS))

    def _fit(self) -> tuple[tuple[int, int], ...]:
        width = self.table.size.width or self.app.size.width
        width -= 2  # the vertical scrollbar
        if self.SHOW_FLAGS:
            width -= 2 + PADDING
        return fit_columns(self._columns(), [r.cells for r in self._rows], width)

    def _cells(self, row: Row) -> list[Any]:
        cells = [self._flags(row.key)] if self.SHOW_FLAGS else []
        return cells + [fit_cell(row.cells[i], w) if self.COLUMNS[i].min is not None else row.cells[i]
                        for i, w in self._layout or ()]

    def _refill(self) -> None:
        """Filter, sort and show ``_rows``; the cursor stays on its entry."""
        table = self.table
        words = self.query_one("#filter", Input).value.strip().lower().split()
        shown = [r for r in self._rows if all(w in r.search for w in words)]
        # Python's sort is stable, also reversed: rows with equal keys keep their order.
        present = [r for r in shown if r.sort.get(self.sort_by) is not None]
        descending = self.sort_by in self.DESCENDING
        present.sort(key=lambda r: r.sort[self.sort_by], reverse=descending != self.sort_reverse)
        shown = present + [r for r in shown if r.sort.get(self.sort_by) is None]
        # The cursor stays on its entry; on the first row it stays on the first row, so that the
        # list that opens before the sizes arrive still starts at the largest entry once they do.
        previous = self._cursor_row() if table.cursor_row > 0 else None
        self._shown = shown
        layout = self._fit()
        columns = self._columns()
        headers = tuple(c.label for c in columns)
        if layout != self._layout or headers != self._headers:
            self._layout, self._headers = layout, headers
            table.clear(columns=True)
            if self.SHOW_FLAGS:
                table.add_column("", key=FLAGS, width=2)
            for i, width in layout:
                c = columns[i]
                table.add_column(c.label, key=c.key, width=width if c.min is not None else None)
        else:
            table.clear()
        for row in shown:
            table.add_row(*self._cells(row), key=row.key)
        if previous is not None:
            for i, row in enumerate(shown):
                if row.key == previous.key:
                    table.move_cursor(row=i)
                    break
        self._update_status()
        self._show_details()
        self.refresh_bindings()

    def update_rows(self, fresh: dict[str, Row]) -> None:
        """Replace shown rows by ``fresh`` ones (by key), rewriting only the cells that changed.

        Rebuilding the table at every progress message of the disk scan costs the main thread
        enough to starve the scan's thread of the GIL."""
        table = self.table
        for i, old in enumerate(self._shown):
            new = fresh.get(old.key)
            if new is None:
                continue
            for index, width in self._layout or ():
                if str(new.cells[index]) != str(old.cells[index]):
                    c = self.COLUMNS[index]
                    cell = fit_cell(new.cells[index], width) if c.min is not None else new.cells[index]
                    table.update_cell(old.key, c.key, cell, update_width=c.min is None)
            self._shown[i] = new
        self._rows = [fresh.get(r.key, r) for r in self._rows]

    @on(EntryTable.Resized)
    def _resized(self) -> None:
        if self._rows and self._fit() != self._layout:
            self._refill()

    def on_resize(self, event: events.Resize) -> None:
        self._place_details()

    # -- marks and flags -------------------------------------------------------------------------

    def _flags(self, key: str) -> Text:
        return Text.assemble(
            (MARK if key in self.marked else " ", "bold magenta"),
            (IN_USE if key in self.app.in_use else " ", "bold green"),
        )

    def _update_flags(self, keys: list[str]) -> None:
        if not self.SHOW_FLAGS:
            return
        table = self.table
        shown = {r.key for r in self._shown}
        for key in keys:
            if key in shown:
                table.update_cell(key, FLAGS, self._flags(key))

    def _in_use_changed(self, _in_use: object) -> None:
        self._update_flags([r.key for r in self._shown])
        self._update_status()
        self._show_details()

    def clear_marks(self) -> None:
        """Unmark every row."""
        keys = list(self.marked)
        self.marked.clear()
        self._update_flags(keys)
        self.marks_changed()

    def _set_marks(self, rows: list[Row], on: bool) -> None:
        for row in rows:
            if on:
                self.marked.add(row.key)
            else:
                self.marked.discard(row.key)
        self._update_flags([r.key for r in rows])
        self.marks_changed()

    def marks_changed(self) -> None:
        """The marks changed: the status line (and, in subclasses, what they free) follows."""
        self._update_status()
        self.refresh_bindings()

    def action_toggle_mark(self) -> None:
        """Mark or unmark the highlighted row."""
        row = self._cursor_row()
        if self.MARKABLE and row is not None:
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

    # -- status line and details -----------------------------------------------------------------

    def marked_summary(self) -> str:
        """``"3 marked"``, and in subclasses what deleting them frees."""
        return f"{len(self.marked)} marked"

    def _update_status(self) -> None:
        if self.app.inventory is None:
            return
        parts = [f"{len(self._shown)} of {len(self._rows)}", f"by {self.sort_by} {self.sort_arrow}"]
        if self.app.rescanning:  # first: at 80 columns the end of the line is cut
            parts.insert(0, "rescanning…")
        text = self.query_one("#filter", Input).value.strip().lower()
        if text:
            parts.append(f"filter: {text}")
        if self.marked:
            parts.append(self.marked_summary())
        in_use = sum(1 for r in self._rows if r.key in self.app.in_use)
        if in_use:
            parts.append(f"{IN_USE} {in_use} in use")
        self._status(" · ".join(parts))

    def _status(self, text: str | Text) -> None:
        """Show ``text`` on the status line (a ``str`` as plain text: it may hold paths or the filter)."""
        self.query_one("#status-line", Static).update(text if isinstance(text, Text) else plain(text))

    def _show_details(self) -> None:
        pane = self.query_one(DetailsPane)
        row = self._cursor_row()
        if row is None:
            pane.clear(self.EMPTY if not self._rows else "No row matches the filter.")
            return
        title, rows = self.explain(row.record)
        for p in self.app.in_use.get(row.key, ()):
            rows = [("in use by", f"pid {p.pid}: {p.cmdline}  ({p.why})"), *rows]
        pane.show(title, rows)

    def _place_details(self) -> None:
        wide = self.app.size.width >= WIDE
        shown = wide if self.details_shown is None else self.details_shown
        self.set_class(not wide, "-narrow")
        self.set_class(not shown, "-no-details")

    def action_toggle_details(self) -> None:
        """Show or hide the details pane (beside the table when wide, below it when narrow)."""
        self.details_shown = not self.query_one(DetailsPane).display
        self._place_details()

    @on(DataTable.RowHighlighted)
    def _highlighted(self, _event: DataTable.RowHighlighted) -> None:
        self._show_details()

    # -- filter, sort, back ------------------------------------------------------------------------

    @on(Input.Changed, "#filter")
    def _filter_changed(self, _event: Input.Changed) -> None:
        self._refill()

    @on(Input.Submitted, "#filter")
    def _filter_submitted(self, _event: Input.Submitted) -> None:
        self.table.focus()

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
        self.table.focus()

    def action_back(self) -> None:
        """Close the Keys panel, or clear the filter, or go back to where you came from."""
        if self.query("HelpPanel"):
            self.app.action_hide_help_panel()
        elif not self.query_one("#filter", Input).has_class("hidden"):
            self.action_clear_filter()
        else:
            self.app.go_back()

    def action_cycle_sort(self) -> None:
        """Sort by the next key in ``SORTS``."""
        i = self.SORTS.index(self.sort_by)
        self.sort_by = self.SORTS[(i + 1) % len(self.SORTS)]
        self.sort_reverse = False
        self._refill()

    def action_reverse_sort(self) -> None:
        """Reverse the sort order."""
        self.sort_reverse = not self.sort_reverse
        self._refill()

    @on(DataTable.HeaderSelected)
    def _header_clicked(self, event: DataTable.HeaderSelected) -> None:
        column = next((c for c in self.COLUMNS if c.key == event.column_key.value), None)
        if column is None or column.sort is None:
            return
        if column.sort == self.sort_by:
            self.sort_reverse = not self.sort_reverse
        else:
            self.sort_by, self.sort_reverse = column.sort, False
        self._refill()
