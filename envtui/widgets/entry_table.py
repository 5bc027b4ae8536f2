"""The table of every list screen, with the keys people bring from ncdu, gdu, dua and lazygit."""

from __future__ import annotations

from textual import events
from textual.binding import Binding
from textual.message import Message
from textual.widgets import DataTable


class EntryTable(DataTable):
    """A row-cursor DataTable: ``j``/``k`` move, ``g``/Home and ``G``/End jump, ``l``/→ open
    (as enter does), ``h``/←/Backspace go back (the screen's ``back`` action)."""

    BINDINGS = [
        Binding("j", "cursor_down", "Down", show=False),
        Binding("k", "cursor_up", "Up", show=False),
        Binding("g,home", "first_row", "First row", show=False),
        Binding("G,end", "last_row", "Last row", show=False),
        Binding("l,right", "select_cursor", "Open", show=False),
        Binding("h,left,backspace", "screen.back", "Back", show=False),
    ]

    class Resized(Message):
        """The table's width changed: the screen fits its columns again."""

    def __init__(self, **kwargs) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, **kwargs)

    def action_first_row(self) -> None:
        """Move to the first row."""
        self.move_cursor(row=0)

    def action_last_row(self) -> None:
        """Move to the last row."""
        if self.row_count:
            self.move_cursor(row=self.row_count - 1)

    def on_resize(self, event: events.Resize) -> None:
        self.post_message(self.Resized())
