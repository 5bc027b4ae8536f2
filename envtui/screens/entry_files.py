"""Inside one cache entry: its files, a directory at a time, largest first, with what each holds
on disk, what deleting it would free, and what stays because it is hardlinked elsewhere."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from rich.text import Text
from textual import on, work
from textual.binding import Binding
from textual.message import Message
from textual.widgets import DataTable, Input
from textual.worker import get_current_worker

from ..core import Inventory
from ..core.entry_files import DIRECTORY, LINK, FileNode, entries_tree, entry_tree
from ..core.errors import ScanCancelled
from ..format import size
from ..widgets.columns import Column
from ..widgets.plain import notify, plain_str
from .base import Row, TableScreen


class EntryFilesScreen(TableScreen):
    """The files of a cache entry (an environment, an archive entry, a package's entries) as a
    tree: enter, ``l`` or → opens a directory, ``h``, ← or backspace goes up, escape goes back.
    Each row: bytes on disk, bytes freed if it alone were deleted, bytes that stay because they
    are hardlinked from outside it; a wheel's package and ``.dist-info`` are named."""

    COLUMNS = (
        Column("Name", "name", 0, min=16, sort="name"),
        Column("On disk", "disk", 0, sort="size"),
        Column("Frees", "frees", 1, sort="frees"),
        Column("Elsewhere", "elsewhere", 1),
        Column("Files", "files", 2),
        Column("What", "what", 3, min=12),
    )
    SORTS = ("size", "name", "frees")
    EMPTY = "Reading the files…"

    BINDINGS = [
        Binding("l", "open", "Open", id="files.open", tooltip="Open the highlighted directory"),
        # Priority: the table would take the arrows to scroll sideways; not while typing a filter.
        Binding("right", "open", "Open", id="files.open-arrow", show=False, priority=True),
        Binding("h,backspace", "up", "Up", id="files.up", tooltip="Go up to the parent directory"),
        Binding("left", "up", "Up", id="files.up-arrow", show=False, priority=True),
        Binding("escape", "back", "Back", id="files.back", tooltip="Clear the filter, go up, or close"),
    ]

    @dataclass
    class TreeRead(Message):
        """The tree was read (``tree``), or could not be (``error``)."""

        tree: FileNode | None
        error: str | None = None

    def __init__(self, title: str, paths: Sequence[Path]) -> None:
        super().__init__()
        self.title_text = title
        """What is shown: the entry's name."""
        self.paths = tuple(paths)
        """The entry's paths (one, or several for a package)."""
        self.file_tree: FileNode | None = None
        """The whole tree, once read."""
        self.trail: list[FileNode] = []
        """The directories opened, from the root to the one shown."""

    def on_mount(self) -> None:
        # Textual runs TableScreen.on_mount too (handlers run for every class in the MRO).
        self.sub_title = plain_str(self.title_text)
        self._read()

    @work(thread=True, exclusive=True, group="files", exit_on_error=False)
    def _read(self) -> None:
        worker = get_current_worker()
        stop = lambda: worker.is_cancelled  # noqa: E731
        try:
            if len(self.paths) == 1:
                tree = entry_tree(self.paths[0], should_stop=stop)
            else:
                tree = entries_tree(self.title_text, self.paths, should_stop=stop)
        except ScanCancelled:
            return
        except OSError as err:
            self.post_message(self.TreeRead(None, f"{err.filename or self.paths[0]}: {err.strerror or err}"))
            return
        self.post_message(self.TreeRead(tree))

    @on(TreeRead)
    def _tree_read(self, message: TreeRead) -> None:
        if message.tree is None:
            notify(self, message.error or "?", title="Cannot read the entry", severity="error", timeout=10)
            self._status(message.error or "")
            return
        self.file_tree = message.tree
        self.trail = [message.tree]
        self._show_current()

    # -- the table ---------------------------------------------------------------------------------

    @property
    def current(self) -> FileNode | None:
        """The directory shown."""
        return self.trail[-1] if self.trail else None

    def _inventory_changed(self, inventory: Inventory | None) -> None:
        # The rows are the current directory's, not the inventory's.
        if self.current is not None:
            self._show_current()

    def rows(self, inventory: Inventory | None = None) -> list[Row]:
        node = self.current
        return [self._row(c) for c in node.children] if node else []

    def _row(self, n: FileNode) -> Row:
        name = n.name + ("/" if n.kind == DIRECTORY else "")
        if n.kind == LINK:
            name += f" → {n.link_target}"
        what = n.role or ("" if n.kind in (DIRECTORY, "file") else n.kind)
        return Row(
            key=str(n.path),
            cells=(name, Text(size(n.disk), justify="right"), Text(size(n.freed), justify="right"),
                   Text(size(n.elsewhere) if n.elsewhere else "—", justify="right"), str(n.files), what),
            record=n,
            search=f"{n.name} {n.role}".lower(),
            sort={"name": n.name.lower(), "size": n.disk, "frees": n.freed},
        )

    def _show_current(self) -> None:
        self._rows = self.rows()
        self._refill()
        node = self.current
        if node is not None:
            where = "/".join(n.name for n in self.trail)
            self.sub_title = plain_str(f"{where}  ·  {size(node.disk)} on disk, {size(node.freed)} freed if deleted")

    def _update_status(self) -> None:
        self._status(f"{len(self._shown)} of {len(self._rows)} · by {self.sort_by} {self.sort_arrow} · "
                     f"{'/'.join(n.name for n in self.trail) or 'reading…'}")

    def explain(self, record: Any) -> tuple[str, list[tuple[str, str]]]:
        n: FileNode = record
        rows = [("path", str(n.path)), ("kind", n.kind)]
        if n.role:
            rows.append(("holds", n.role))
        if n.link_target:
            rows.append(("points to", f"{n.link_target}  (a symlink: never followed)"))
        rows += [
            ("on disk", f"{size(n.disk)}  (allocated blocks, each inode once)"),
            ("freed if deleted", f"{size(n.freed)}  (inodes whose every link lies inside it)"),
            ("hardlinked elsewhere", f"{size(n.elsewhere)}  (stay on disk: linked from outside it too)"),
            ("files", str(n.files)),
        ]
        if n.error:
            rows.append(("unreadable", n.error))
        if n.kind == DIRECTORY:
            rows.append(("enter", "open it"))
        return n.name, rows

    # -- navigation --------------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "open":
            n = self.selected
            return not typing(self) and n is not None and n.kind == DIRECTORY
        if action == "up":
            return not typing(self) and len(self.trail) > 1
        return super().check_action(action, parameters)

    @on(DataTable.RowSelected)
    def _selected(self, _event: DataTable.RowSelected) -> None:
        self.action_open()

    def action_open(self) -> None:
        """Open the highlighted directory."""
        n = self.selected
        if n is not None and n.kind == DIRECTORY:
            self.trail.append(n)
            self._show_current()
            self.query_one(DataTable).move_cursor(row=0)

    def action_up(self) -> None:
        """Go up to the parent directory, with the cursor on the one just left."""
        if len(self.trail) > 1:
            left = self.trail.pop()
            self._show_current()
            for i, row in enumerate(self._shown):
                if row.record is left:
                    self.query_one(DataTable).move_cursor(row=i)
                    break

    def action_back(self) -> None:
        """Clear the filter if there is one, else go up, else close."""
        box = self.query_one("#filter")
        if not box.has_class("hidden"):
            self.action_clear_filter()
        elif len(self.trail) > 1:
            self.action_up()
        else:
            super().action_back()


def typing(screen) -> bool:
    """Whether the focus is in a text box (the filter): the arrow keys are then the box's."""
    return isinstance(screen.focused, Input)


def open_entry_files(app, title: str, paths: Sequence[Path | str]) -> None:
    """Push the :class:`EntryFilesScreen` of ``paths`` (those that exist; a cached environment's
    link is opened at its archive target)."""
    real = [Path(p) for p in paths if os.path.lexists(p)]
    if not real:
        notify(app, f"{title}: nothing on disk to show", severity="warning")
        return
    app.push_screen(EntryFilesScreen(title, real))
