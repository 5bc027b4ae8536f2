"""The envtui application: wires the screens together and owns the one scan of the cache."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from textual import on, work
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.message import Message
from textual.reactive import reactive
from textual.screen import Screen
from textual.worker import get_current_worker

from .core import CacheLocation, Inventory, NotACacheError, ScanCancelled, scan_inventory
from .paths import styles_dir
from .screens.environments import EnvironmentsScreen
from .screens.help import HelpScreen, binding_commands
from .screens.interpreters import InterpretersScreen
from .screens.no_cache import NoCacheScreen


class EnvtuiApp(App[str | None]):
    """envtui. Returns the path chosen with enter (for ``--print-path``), or ``None``."""

    TITLE = "envtui"
    CSS_PATH = [str(styles_dir() / "envtui.tcss")]
    MODES = {
        "interpreters": InterpretersScreen,
        "environments": EnvironmentsScreen,
    }
    DEFAULT_MODE = "environments"
    BINDINGS = [
        Binding("1", "switch_mode('environments')", "Environments", id="mode.environments"),
        Binding("2", "switch_mode('interpreters')", "Interpreters", id="mode.interpreters"),
        Binding("r", "rescan", "Rescan", id="app.rescan"),
        Binding("question_mark", "help", "Help", id="app.help", tooltip="The keys of this screen, and what it shows"),
        Binding("q", "quit", "Quit", id="app.quit"),
    ]

    inventory: reactive[Inventory | None] = reactive(None, init=False)
    """The latest scan of the cache; ``None`` until the first scan finishes."""
    scanning: reactive[bool] = reactive(False)
    """Whether a scan is running."""

    @dataclass
    class ScanFinished(Message):
        """A scan of the cache finished: ``inventory`` or ``error`` is set."""

        inventory: Inventory | None
        error: NotACacheError | None

    def __init__(
        self,
        location: CacheLocation,
        *,
        known_scripts: list[str] | None = None,
        notice: str | None = None,
        print_path: bool = False,
    ) -> None:
        super().__init__()
        self.print_path = print_path
        """With ``--print-path``: enter on an environment exits and returns its stable path."""
        self.location = location
        """Where the cache is and which source said so."""
        self.known_scripts = known_scripts
        """Scripts to map to their environments; ``None`` reads envtui's saved script roots."""
        self.notice = notice
        self.sub_title = f"{location.path}  ({location.source})"

    def on_mount(self) -> None:
        if self.notice:
            self.notify(self.notice, timeout=8)
        self.action_rescan()

    def action_help(self) -> None:
        """Show the keys of the current screen (read from its bindings)."""
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen.for_screen(self.screen))

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        """Textual's commands (theme, keys, screenshot, quit) and every enabled binding by name."""
        yield from super().get_system_commands(screen)
        yield from binding_commands(self, screen)

    def action_rescan(self) -> None:
        """Scan the cache again in a thread worker (cancelling a running scan)."""
        self.scanning = True
        self._scan()

    @work(thread=True, exclusive=True, group="scan", exit_on_error=False)
    def _scan(self) -> None:
        worker = get_current_worker()
        scripts = self.known_scripts
        if scripts is None:
            from .core import find_scripts
            from .state import load_settings

            scripts = [str(p) for p in find_scripts(load_settings().script_roots, should_stop=lambda: worker.is_cancelled)]
        try:
            inventory = scan_inventory(self.location, known_scripts=scripts, should_stop=lambda: worker.is_cancelled)
        except ScanCancelled:
            return
        except NotACacheError as err:
            self.post_message(self.ScanFinished(None, err))
            return
        self.post_message(self.ScanFinished(inventory, None))

    @on(ScanFinished)
    def _scan_finished(self, message: ScanFinished) -> None:
        self.scanning = False
        if message.error is not None:
            self.push_screen(NoCacheScreen(self.location, message.error))
            return
        self.inventory = message.inventory
        if message.inventory and message.inventory.problems:
            n = len(message.inventory.problems)
            self.notify(f"{n} entr{'y' if n == 1 else 'ies'} could not be read; see the details pane", severity="warning")
