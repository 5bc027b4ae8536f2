"""Asked when uv holds its cache lock: wait for it, go on entry by entry, or stop."""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Footer, Static

from ..core.locks import ProcessInfo
from ..widgets.plain import plain

#: How long "wait" waits for uv's cache lock, in seconds.
WAIT_SECONDS = 60.0


class LockBusy(ModalScreen["str | None"]):
    """Names the processes holding uv's cache lock; answers ``"wait"``, ``"go-on"`` or ``None``."""

    BINDINGS = [
        Binding("w", "answer('wait')", "Wait", id="lock-busy.wait", tooltip=f"Wait up to {WAIT_SECONDS:g} s for uv to finish"),
        Binding("g", "answer('go-on')", "Go on", id="lock-busy.go-on", tooltip="Go on entry by entry, skipping what uv may use"),
        Binding("escape", "answer(None)", "Cancel", id="lock-busy.cancel", tooltip="Delete nothing"),
    ]

    def __init__(self, holders: tuple[ProcessInfo, ...]) -> None:
        super().__init__()
        self.holders = holders
        """The processes holding (or likely holding) the lock."""

    def compose(self) -> ComposeResult:
        # Command lines are text from the processes: plain, escaped, one line each.
        who = [Text.assemble(f"  pid {p.pid}: ", plain(p.cmdline)) for p in self.holders]
        with Vertical(id="lock-busy", classes="dialog"):
            yield Static(Text("uv is running", "bold yellow"))
            yield Static(Text("\n").join([
                Text("These processes hold uv's cache lock (every uv command does, and `uv run`/`uvx` for as "
                     "long as the program they started runs):"),
                *(who or [Text("  (processes you cannot inspect)")]),
                Text(""),
                plain(f"Wait up to {WAIT_SECONDS:g} s for them to finish, or go on entry by entry: then every "
                      "environment a running process uses, every entry whose own lock is held, and every entry "
                      "uv may be writing (unlinked archive entries, .tmp leftovers) is skipped."),
            ]), id="lock-busy-text")
            with Horizontal(classes="buttons"):
                yield Button("Wait", id="wait", variant="primary", compact=True)
                yield Button("Go on, skipping", id="go-on", variant="warning", compact=True)
                yield Button("Cancel", id="cancel", compact=True)
        yield Footer()

    def action_answer(self, answer: str | None) -> None:
        """Close with ``answer``."""
        self.dismiss(answer)

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        self.dismiss(None if event.button.id == "cancel" else event.button.id)
