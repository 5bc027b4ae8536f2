"""Shown when there is no uv cache where envtui looked."""

from __future__ import annotations

from rich.markup import escape
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import Footer, Header, Static

from ..core import CacheLocation, NotACacheError


class NoCacheScreen(Screen[None]):
    """Says where envtui looked for a uv cache, which source chose that place, and why it is not one."""

    BINDINGS = [Binding("q", "app.quit", "Quit", id="no-cache.quit")]

    def __init__(self, location: CacheLocation, error: NotACacheError) -> None:
        super().__init__()
        self.location = location
        self.error = error

    def compose(self) -> ComposeResult:
        yield Header()
        tried = "\n".join(f"  - {t}" for t in self.location.tried) or "  - nothing else"
        text = (
            f"[b]No uv cache at[/b] {escape(str(self.location.path))}\n\n"
            f"{escape(self.error.message)}.\n\n"
            f"This place came from: [b]{escape(self.location.source)}[/b]\n"
            f"Before that, envtui tried:\n{escape(tried)}\n\n"
            "Run a uv command (for example `uv run script.py`) to create the cache, point envtui at one "
            "with --cache-dir DIR or UV_CACHE_DIR, or try `envtui --demo`."
        )
        with Vertical(id="no-cache"):
            yield Static(text, id="no-cache-text", markup=True)
        yield Footer()
