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
from .core.archive import ArchiveEntry, scan_archive
from .core.disk import DiskProgress, DiskReport, scan_disk
from .paths import styles_dir
from .screens.environments import EnvironmentsScreen
from .screens.help import HelpScreen, binding_commands
from .screens.interpreters import InterpretersScreen
from .screens.no_cache import NoCacheScreen
from .screens.overview import OverviewScreen
from .screens.projects import ProjectsScreen
from .screens.pythons import PythonsScreen
from .screens.tools import ToolsScreen
from .machine_ui import prove_in_scan, start_machine_scan


class EnvtuiApp(App[str | None]):
    """envtui. Returns the path chosen with enter (for ``--print-path``), or ``None``."""

    TITLE = "envtui"
    CSS_PATH = [str(styles_dir() / "envtui.tcss")]
    MODES = {
        "overview": OverviewScreen,
        "interpreters": InterpretersScreen,
        "environments": EnvironmentsScreen,
        "pythons": PythonsScreen,
        "tools": ToolsScreen,
        "projects": ProjectsScreen,
    }
    DEFAULT_MODE = "overview"
    BINDINGS = [
        Binding("0", "switch_mode('overview')", "Overview", id="mode.overview", tooltip="Where the space goes, bucket by bucket"),
        Binding("1", "switch_mode('environments')", "Environments", id="mode.environments"),
        Binding("2", "switch_mode('interpreters')", "Interpreters", id="mode.interpreters"),
        Binding("3", "switch_mode('pythons')", "Pythons", id="mode.pythons", tooltip="uv-managed Pythons and what runs on each"),
        Binding("4", "switch_mode('tools')", "Tools", id="mode.tools", tooltip="Tools installed with uv tool install"),
        Binding("5", "switch_mode('projects')", "Projects", id="mode.projects", tooltip="Project environments under the roots"),
        Binding("r", "rescan", "Rescan", id="app.rescan"),
        Binding("question_mark", "help", "Help", id="app.help", tooltip="The keys of this screen, and what it shows"),
        Binding("q", "quit", "Quit", id="app.quit"),
    ]

    inventory: reactive[Inventory | None] = reactive(None, init=False)
    """The latest scan of the cache; ``None`` until the first scan finishes."""
    scanning: reactive[bool] = reactive(False)
    """Whether a scan is running."""
    archive: reactive[tuple[ArchiveEntry, ...] | None] = reactive(None, init=False)
    """The ``archive-vN`` entries, named; ``None`` until listed (after each scan)."""
    disk: reactive[DiskReport | None] = reactive(None, init=False)
    """Where the space goes; ``None`` until the first disk scan finishes."""
    disk_progress: reactive[DiskProgress | None] = reactive(None, init=False)
    """The running disk scan's latest progress (partial bucket figures), or ``None``."""
    machine = reactive(None, init=False)
    """Managed Pythons, tools and project environments (:class:`~envtui.core.machine_scan.Machine`);
    ``None`` until scanned (see :mod:`envtui.machine_ui`)."""
    machine_usage = reactive(None, init=False)
    """Their bytes with the cache's, hardlinks once (:class:`~envtui.core.machine.MachineUsage`)."""
    machine_scan: bool = False
    """Whether to look beyond the cache (uv's Python and tool directories, the roots); ``envtui`` sets it."""
    machine_roots: list[str] | None = None
    """``--roots``; ``None`` reads the roots saved in envtui's settings."""

    @dataclass
    class ArchiveListed(Message):
        """The archive entries of ``inventory``'s cache were named."""

        inventory: Inventory
        entries: tuple[ArchiveEntry, ...]

    @dataclass
    class DiskProgressed(Message):
        """The disk scan of ``inventory``'s cache got further; replaces the previous one."""

        inventory: Inventory
        progress: DiskProgress

        def can_replace(self, message: Message) -> bool:
            return isinstance(message, EnvtuiApp.DiskProgressed)

    @dataclass
    class DiskScanned(Message):
        """The disk scan of ``inventory``'s cache finished: ``report`` or ``error`` is set."""

        inventory: Inventory
        report: DiskReport | None
        error: str | None = None

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
        self._problems_told: tuple = ()
        self.sub_title = f"{location.path}  ({location.source})"

    def on_mount(self) -> None:
        if self.notice:
            self.notify(self.notice, timeout=8)
        self.action_rescan()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # Without the look beyond the cache, its three screens have nothing to show.
        if action == "switch_mode" and parameters and parameters[0] in ("pythons", "tools", "projects"):
            return self.machine_scan
        return True

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
            inventory = prove_in_scan(self, inventory, lambda: worker.is_cancelled)
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
        if message.inventory is not None:
            self._measure(message.inventory)
            start_machine_scan(self, message.inventory)
        problems = message.inventory.problems if message.inventory else ()
        if problems and problems != self._problems_told:  # said once, not at every rescan
            first = f"{problems[0].path}: {problems[0].message}"
            more = f" (and {len(problems) - 1} more; the overview's details pane shows them per bucket)" if len(problems) > 1 else ""
            self.notify(first + more, title="Problem" if len(problems) == 1 else "Problems", severity="warning")
        self._problems_told = problems

    @work(thread=True, exclusive=True, group="disk", exit_on_error=False)
    def _measure(self, inventory: Inventory) -> None:
        """Name the archive entries, then walk the whole cache once for sizes (streaming progress)."""
        worker = get_current_worker()
        stop = lambda: worker.is_cancelled  # noqa: E731
        try:
            entries = scan_archive(inventory.root, environments=inventory.environments, should_stop=stop)
            self.post_message(self.ArchiveListed(inventory, tuple(entries)))
            report = scan_disk(
                inventory.root,
                should_stop=stop,
                on_progress=lambda p: self.post_message(self.DiskProgressed(inventory, p)),
                progress_interval=0.25,
            )
        except ScanCancelled:
            return
        except OSError as err:
            self.post_message(self.DiskScanned(inventory, None, f"{err.filename or inventory.root}: {err.strerror or err}"))
            return
        self.post_message(self.DiskScanned(inventory, report))

    @on(ArchiveListed)
    def _archive_listed(self, message: ArchiveListed) -> None:
        if message.inventory is self.inventory:
            self.archive = message.entries

    @on(DiskProgressed)
    def _disk_progressed(self, message: DiskProgressed) -> None:
        if message.inventory is self.inventory:
            self.disk_progress = message.progress

    @on(DiskScanned)
    def _disk_scanned(self, message: DiskScanned) -> None:
        if message.inventory is not self.inventory:
            return  # a rescan started since
        if message.error is not None:
            self.notify(f"could not measure the cache: {message.error}", severity="error")
            return
        self.disk = message.report
        self.disk_progress = None
        if message.report and message.report.errors:
            n = len(message.report.errors)
            self.notify(f"{n} path{'s' if n != 1 else ''} could not be measured, e.g. {message.report.errors[0][0]}", severity="warning")
