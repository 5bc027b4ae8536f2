"""Setting the script roots: directories searched for PEP 723 scripts (kept in envtui's state)."""

from __future__ import annotations

import os

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Footer, Static, TextArea

from ..widgets.plain import plain


class ScriptRoots(ModalScreen["tuple[str, ...] | None"]):
    """Edits the script roots, one directory per line; answers them (absolute, existing) or ``None``."""

    BINDINGS = [
        Binding("ctrl+s", "save", "Save", id="script-roots.save", tooltip="Save the roots and rescan"),
        Binding("escape", "cancel", "Cancel", id="script-roots.cancel", tooltip="Keep the roots as they were"),
    ]

    def __init__(self, roots: tuple[str, ...]) -> None:
        super().__init__()
        self.roots = roots
        """The roots when the dialog opened."""

    def compose(self) -> ComposeResult:
        with Vertical(id="script-roots", classes="dialog"):
            yield Static(Text.assemble(
                ("Script roots", "bold"),
                ": one directory per line. envtui finds the PEP 723 scripts under them, "
                "names the script behind each script environment, and can tell when a known script is gone. "
                "Saved in envtui's own state directory, never in uv's cache.",
            ))
            yield TextArea("\n".join(self.roots), id="script-roots-text")
            yield Static("", id="script-roots-error")
            with Horizontal(classes="buttons"):
                yield Button("Save", id="save", variant="primary", compact=True)
                yield Button("Cancel", id="cancel", compact=True)
        yield Footer()

    def action_cancel(self) -> None:
        """Close without saving."""
        self.dismiss(None)

    @on(Button.Pressed, "#cancel")
    def _cancel(self) -> None:
        self.dismiss(None)

    @on(Button.Pressed, "#save")
    def action_save(self) -> None:
        """Save the roots (each must be a directory)."""
        lines = [line.strip() for line in self.query_one(TextArea).text.splitlines() if line.strip()]
        roots = tuple(os.path.abspath(os.path.expanduser(line)) for line in lines)
        missing = [r for r in roots if not os.path.isdir(r)]
        if missing:
            self.query_one("#script-roots-error", Static).update(plain(f"not a directory: {missing[0]}", "red"))
            return
        self.dismiss(roots)
