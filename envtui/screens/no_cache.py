"""Shown when there is no uv cache where envtui looked."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import Footer, Header, Static

from ..core import CacheLocation, NotACacheError
from ..widgets.plain import plain


class NoCacheScreen(Screen[None]):
    """Says where envtui looked for a uv cache, which source chose that place, and why it is not one."""

    BINDINGS = [Binding("q", "app.quit", "Quit", id="no-cache.quit")]

    def __init__(self, location: CacheLocation, error: NotACacheError) -> None:
        super().__init__()
        self.location = location
        self.error = error

    def compose(self) -> ComposeResult:
        yield Header()
        tried = [plain(f"  - {t}") for t in self.location.tried] or [Text("  - nothing else")]
        text = Text("\n").join([
            Text.assemble(("No uv cache at", "bold"), " ", plain(self.location.path)),
            Text(""),
            Text.assemble(plain(self.error.message), "."),
            Text(""),
            Text.assemble("This place came from: ", plain(self.location.source, "bold")),
            Text("Before that, envtui tried:"),
            *tried,
            Text(""),
            Text("Run a uv command (for example `uv run script.py`) to create the cache, point envtui at one "
                 "with --cache-dir DIR or UV_CACHE_DIR, or try `envtui --demo`."),
        ])
        with Vertical(id="no-cache"):
            yield Static(text, id="no-cache-text")
        yield Footer()
