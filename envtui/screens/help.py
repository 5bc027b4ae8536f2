"""The help screen (``?``): what the current screen shows, and every key it answers to.

Keys are read from the screen's active bindings, never written down twice: a binding a colleague
adds, or one ``check_action`` disables, shows up here (and in the command palette) as it is.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from functools import partial
from typing import Iterator

from rich.table import Table
from rich.text import Text
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.markup import escape
from textual.screen import ModalScreen, Screen
from textual.widgets import Static

from ..widgets.plain import plain


@dataclass(frozen=True)
class KeyHelp:
    """One active binding, as the help screen lists it."""

    key: str
    """The key as displayed (``/``, ``enter``, ``ctrl+p``)."""
    description: str
    """The binding's description."""
    tooltip: str
    """Its tooltip: a longer explanation, or ``""``."""
    where: str
    """``"this screen"``, ``"everywhere"``, or the focused widget's kind (``"table"``)."""
    enabled: bool
    """Whether it does something right now."""
    action: str
    """The action it runs, in its node's namespace."""


_ORDER = {"this screen": 0, "everywhere": 2}
# Textual's own screen keys (focus, copy selection) and a widget's moves (arrows, pages) say
# nothing about envtui: the help would drown in them.
_TEXTUAL_SCREEN_ACTIONS = {b.action for b in Screen.BINDINGS if isinstance(b, Binding)}
_MOVES = ("cursor_", "scroll_", "page_")


def key_help(screen: Screen) -> list[KeyHelp]:
    """The active bindings of ``screen`` that have a description: the screen's first, then the
    focused widget's, then the app's."""
    app = screen.app
    out = []
    for active in screen.active_bindings.values():
        binding = active.binding
        if not binding.description:
            continue
        node = active.node
        if (node is screen and binding.action in _TEXTUAL_SCREEN_ACTIONS) or (
            node is not screen and not isinstance(node, App) and binding.action.startswith(_MOVES)
        ):
            continue
        if isinstance(node, App) or binding.action.startswith("app."):
            where = "everywhere"
        elif node is screen:
            where = "this screen"
        else:
            where = node.id or type(node).__name__.lower()
        out.append(KeyHelp(app.get_key_display(binding), binding.description, active.tooltip or binding.tooltip,
                           where, active.enabled, binding.action))
    out.sort(key=lambda k: _ORDER.get(k.where, 1))
    return out


def screen_summary(screen: Screen) -> str:
    """The first line of the screen class's docstring, without reST backquotes."""
    doc = inspect.getdoc(type(screen)) or ""
    return doc.split("\n\n")[0].replace("\n", " ").replace("``", "")


def binding_commands(app: App, screen: Screen) -> Iterator[SystemCommand]:
    """Command palette entries for the enabled screen and app bindings of ``screen``, so every
    action can be found by name (Textual lists only its own system commands)."""
    taken = {"Quit", "Keys", "Theme"}
    for row in key_help(screen):
        if not row.enabled or row.where not in ("this screen", "everywhere") or row.description in taken:
            continue
        taken.add(row.description)
        node = screen if row.where == "this screen" else app
        # The palette reads help as markup: escape the key, which may be "[" or "/".
        help_text = escape(f"{row.tooltip} · key {row.key}" if row.tooltip else f"key {row.key}")
        yield SystemCommand(row.description, help_text, partial(app.run_action, row.action, node))


class HelpScreen(ModalScreen[None]):
    """Keys: lists the bindings of the screen it was opened from."""

    BINDINGS = [Binding("escape,question_mark,q", "dismiss", "Close", id="help.close", tooltip="Close the help")]

    def __init__(self, title: str, summary: str, keys: list[KeyHelp]) -> None:
        super().__init__()
        self.title_text = title
        """What the help is about (the screen's name)."""
        self.summary = summary
        """What that screen shows."""
        self.keys = keys
        """Its active bindings."""

    @classmethod
    def for_screen(cls, screen: Screen) -> "HelpScreen":
        """The help for ``screen``, read from its active bindings now (before this one covers it)."""
        name = type(screen).__name__.removesuffix("Screen")
        return cls(name, screen_summary(screen), key_help(screen))

    def compose(self) -> ComposeResult:
        grid = Table.grid(padding=(0, 2))
        grid.add_column(style="bold", no_wrap=True)
        grid.add_column()
        grid.add_column(style="dim")
        last = None
        for k in self.keys:
            if k.where != last:
                grid.add_row(Text(k.where, "underline"), "", "")
                last = k.where
            desc = Text(k.description, "" if k.enabled else "dim")
            grid.add_row(Text(k.key, "bold" if k.enabled else "dim"), desc, Text(k.tooltip))
        with VerticalScroll(id="help-box") as box:
            box.border_title = plain(f"{self.title_text}: keys")
            box.border_subtitle = "escape or ? to close · ctrl+p: every action by name"
            yield Static(Text(self.summary), id="help-summary")  # a docstring: never markup
            yield Static(grid, id="help-keys")
