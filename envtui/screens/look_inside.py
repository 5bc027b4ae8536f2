"""A list whose rows can be opened to look inside: ``enter`` (or ``l``/``→``) shows the files of
the highlighted row's entries as a tree with sizes (:class:`~.entry_files.EntryFilesScreen`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

from textual import on
from textual.widgets import DataTable

from .entry_files import open_entry_files, typing
from .prune_actions import PruneTableScreen


class LookInsideScreen(PruneTableScreen):
    """Adds the ``open_files`` action; a subclass says what a row holds in :meth:`files_of`."""

    def files_of(self, record: Any) -> tuple[str, Sequence[Path]]:
        """The title and the paths to look inside for the row ``record``."""
        raise NotImplementedError

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "open_files":
            return not typing(self) and self.selected is not None
        return super().check_action(action, parameters)

    @on(DataTable.RowSelected)
    def _open(self, _event: DataTable.RowSelected) -> None:
        self.action_open_files()

    def action_open_files(self) -> None:
        """Look inside the highlighted row: its files as a tree, with sizes."""
        record = self.selected
        if record is not None:
            open_entry_files(self.app, *self.files_of(record))
