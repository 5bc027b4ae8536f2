"""The envtui application: wires the screens together and owns the one scan of the cache."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from textual import on, work
from textual.app import SystemCommand
from textual.binding import Binding
from textual.message import Message
from textual.reactive import reactive
from textual.screen import Screen
from textual.worker import Worker, WorkerState, get_current_worker

from .core import CacheLocation, Inventory, NotACacheError, ScanCancelled, scan_inventory
from .core.archive import ArchiveEntry, scan_archive
from .core.disk import DiskProgress, DiskReport, scan_disk
from .core.disk.background import BackgroundScan
from .core.disk.index import SavedReport, read_index, save_index
from .core.statefile import UnsafeStateDirError
from .core.locks import ProcessInfo
from .core.prune.inuse import processes_using
from .paths import styles_dir
from .screens.help import HelpScreen, binding_commands
from .screens.no_cache import NoCacheScreen
from .screens.registry import SCREENS
from .machine_ui import MACHINE_MODES, prove_in_scan, start_machine_scan
from .widgets.key_order import KeysInOrderApp
from .widgets.plain import notify, plain_str

#: How often the app looks again for running processes that use an environment, in seconds.
IN_USE_INTERVAL = 15.0


class EnvtuiApp(KeysInOrderApp[str | None]):
    """envtui. Returns the path chosen with enter (for ``--print-path``), or ``None``. Keys reach
    the widget that has focus in the order typed (:mod:`envtui.widgets.key_order`)."""

    TITLE = "envtui"
    CSS_PATH = [str(styles_dir() / "envtui.tcss")]
    MODES = {s.mode: s.screen for s in SCREENS}
    DEFAULT_MODE = SCREENS[0].mode
    BINDINGS = [
        Binding("question_mark", "help", "Help", id="app.help", tooltip="The keys of this screen, and what it shows"),
        Binding("q", "quit", "Quit", id="app.quit"),
        *(
            Binding(s.key, f"goto('{s.mode}')", s.title, id=f"mode.{s.mode}", tooltip=s.tooltip,
                    group=Binding.Group("Screens", compact=True))
            for s in SCREENS
        ),
        Binding("r", "rescan", "Rescan", id="app.rescan", show=False,
                tooltip="Scan the cache again: every list says rescanning… until it is done, then how long it took"),
    ]

    inventory: reactive[Inventory | None] = reactive(None, init=False)
    """The latest scan of the cache; ``None`` until the first scan finishes."""
    scanning: reactive[bool] = reactive(False, always_update=True)  # a rescan during a scan says so too
    """Whether a scan is running: from :meth:`rescan` until everything derived from it (the
    inventory, the disk walk, the archive listing, the machine's scan) has arrived or failed."""
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
    disk_saved_at: float | None = None
    """When ``disk``'s figures were measured (epoch seconds) while they come from the saved index
    and a fresh walk is checking them; ``None`` once they are fresh. Set before ``disk``."""
    scan_error: reactive[str | None] = reactive(None, init=False)
    """Why the last scan gave no inventory (no cache there, a failed worker), or ``None``."""
    in_use: reactive[dict[str, tuple[ProcessInfo, ...]]] = reactive(dict, init=False)
    """Running processes by the directory (an environment, or a cached one's archive target)
    they use; only directories in use are keys."""

    _generation: int = 0
    """Counts the scans started: a message of an older scan is dropped."""
    _measured: int = 0
    """The generation whose disk walk has ended (with figures or an error)."""
    _archive_listing: int = 0
    """The generation whose archive entries are being (or were) named."""
    _inventory_of: int = 0
    """The generation ``inventory`` comes from: the archive is named from this scan's inventory,
    never from the one before (whose listing would be dropped as stale, leaving deleted entries
    listed)."""
    _waiting: frozenset[str] = frozenset()
    """What the running scan still waits for: ``inventory``, ``disk``, ``archive``, ``machine``."""
    _started_at: float = 0.0
    """When the running scan started (``time.monotonic()`` seconds)."""
    _tell_when_done: bool = False
    """Whether to say how long the running scan took (``r`` asked for it)."""
    _older: tuple[Worker, ...] = ()
    """The workers running when the running scan started: their end says nothing about it."""
    fresh_disk: tuple[int, DiskReport | None] = (0, None)
    """The generation whose disk walk ended last, with its report (``None`` if it failed): the
    report the machine's measure reads the cache's links from (:mod:`envtui.machine_ui`)."""

    @dataclass
    class ArchiveListed(Message):
        """The archive entries of ``inventory``'s cache were named."""

        inventory: Inventory
        entries: tuple[ArchiveEntry, ...]
        generation: int = 0
        """The scan whose inventory named them."""

    @dataclass
    class DiskProgressed(Message):
        """The disk scan ``generation`` got further; replaces the previous one."""

        generation: int
        progress: DiskProgress

        def can_replace(self, message: Message) -> bool:
            return isinstance(message, EnvtuiApp.DiskProgressed)

    @dataclass
    class DiskRecalled(Message):
        """The last scan's figures of the cache, read from the saved index, to show until the
        fresh walk's arrive (never to plan from)."""

        saved: SavedReport

    @dataclass
    class DiskScanned(Message):
        """The disk scan ``generation`` finished: ``report`` or ``error`` is set."""

        generation: int
        report: DiskReport | None
        error: str | None = None

    @dataclass
    class ScanFinished(Message):
        """A scan of the cache finished: ``inventory`` or ``error`` is set."""

        inventory: Inventory | None
        error: NotACacheError | None
        generation: int = 0
        """The scan that made it (an older one's result is dropped)."""

    def __init__(
        self,
        location: CacheLocation,
        *,
        known_scripts: list[str] | None = None,
        notice: str | None = None,
        print_path: bool = False,
        disk_scan: BackgroundScan | None = None,
    ) -> None:
        super().__init__()
        self._early_scan = disk_scan
        """A disk scan of ``location`` started before Textual was imported: the first scan's sizes."""
        self.print_path = print_path
        """With ``--print-path``: enter on an environment exits and returns its stable path."""
        self.location = location
        """Where the cache is and which source said so."""
        self.known_scripts = known_scripts
        """Scripts to map to their environments; ``None`` reads envtui's saved script roots."""
        self.notice = notice
        self._problems_told: tuple = ()
        self.sub_title = plain_str(f"{location.path}  ({location.source})")
        self._history: list[str] = []
        if disk_scan is not None and disk_scan.saved is not None:
            # The saved index's figures are there before the first frame is drawn (a message
            # posted at mount waits behind that frame's own work).
            self.disk_saved_at = disk_scan.saved.saved_at
            self.set_reactive(EnvtuiApp.disk, disk_scan.saved.report)

    def on_mount(self) -> None:
        if self.notice:
            notify(self, self.notice, timeout=8)
        if self._early_scan is not None and self._early_scan.saved is not None:
            self.post_message(self.DiskRecalled(self._early_scan.saved))  # for whoever watches messages
        self.rescan()
        self.set_interval(IN_USE_INTERVAL, self._look_for_users)

    # -- navigation ------------------------------------------------------------------------------

    def action_goto(self, mode: str) -> None:
        """Open ``mode``'s screen; on it already (inside a bucket, say), go back to its top."""
        if mode == self.current_mode:
            while len(self.screen_stack) > 1 and not isinstance(self.screen, NoCacheScreen):
                self.pop_screen()
            return
        self._history = [*self._history[-49:], self.current_mode]
        self.switch_mode(mode)

    async def action_back(self) -> None:
        """``app.back``: :meth:`go_back` (async, as Textual's own ``action_back`` is)."""
        self.go_back()

    def go_back(self) -> None:
        """Back to where you came from: the screen this one was opened from, or the last mode."""
        if len(self.screen_stack) > 1:
            self.pop_screen()
        elif self._history:
            self.switch_mode(self._history.pop())

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """A worker that failed is shown, and a scan that failed leaves "scanning…"."""
        if event.worker.group == "machine" and event.state == WorkerState.SUCCESS and event.worker not in self._older:
            self._arrived("machine")  # measured, or said why not (a cancelled one was replaced)
        if event.state != WorkerState.ERROR:
            return
        if event.worker.group == "disk":
            # The measure of Pythons, tools and projects waits for this walk: it walks alone.
            self.fresh_disk = (self._generation, None)
            self._walk_ended(self._generation)  # the archive is named without the sizes
        elif event.worker.group in ("archive", "machine") and event.worker not in self._older:
            self._arrived(event.worker.group)
        error = event.worker.error
        text = f"{type(error).__name__}: {error}"
        if event.worker.group == "scan":
            self._arrived("inventory", "archive", "machine")
            self.scan_error = f"the scan failed: {text}"
        notify(self, text, title=f"{event.worker.name or 'A background task'} failed", severity="error", timeout=15)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # Without the look beyond the cache, its three screens have nothing to show.
        if action == "goto" and parameters and parameters[0] in MACHINE_MODES:
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
        """``r``: :meth:`rescan`, saying so on every list's status line ("rescanning…") and, once
        everything has arrived, how long it took ("rescanned in 0.8 s")."""
        self.rescan(tell=True)

    def rescan(self, *, deleted: Iterable[Path] = (), tell: bool = False) -> None:
        """The one way the app's lists are refreshed, after any change (a prune from any screen,
        an uninstall, a project environment deleted, a rebuild, new script roots) or on ``r``.

        ``deleted``: the paths just deleted (each :class:`~envtui.core.prune.PlanEntry`'s
        ``paths``); the archive entries among them (or inside them) leave the archive listing at
        once, before the rescan names the rest. Then the cache is scanned again in thread workers
        (cancelling running scans): the inventory, and beside it the disk walk, whose C walker runs
        without the GIL; after both, the archive listing and the machine's scan. Every screen
        watches these and refills itself, in any mode, shown or not. ``tell``: notify how long
        the whole rescan took, in seconds, once it has finished."""
        gone = {str(p) for p in deleted}
        if gone and self.archive is not None:
            self.archive = tuple(e for e in self.archive if not _inside_any(str(e.path), gone))
        self._generation += 1
        self._waiting = frozenset({"inventory", "disk", "archive"} | ({"machine"} if self.machine_scan else set()))
        self._started_at, self._tell_when_done = time.monotonic(), tell
        self._older = tuple(w for w in self.workers if not w.is_finished)
        self.scanning = True
        self._scan(self._generation)
        self._measure(self._generation)

    @property
    def rescanning(self) -> bool:
        """Whether a scan runs while lists from an earlier one are shown (they may be stale)."""
        return self.scanning and self._generation > 1

    def _arrived(self, *parts: str, generation: int | None = None) -> None:
        """``parts`` of the scan ``generation`` (default: the running one) arrived or failed; when
        nothing is awaited any more, the scan has finished."""
        if generation not in (None, self._generation) or not self._waiting:
            return
        self._waiting = self._waiting.difference(parts)
        if self._waiting:
            return
        self.scanning = False
        if self._tell_when_done:
            self._tell_when_done = False
            took = time.monotonic() - self._started_at
            notify(self, f"rescanned in {took:.1f} s" if took >= 0.1 else f"rescanned in {took * 1000:.0f} ms",
                   title="Rescan", timeout=4)

    def state_problem(self, line: str) -> None:
        """Say, as a warning, what was wrong with envtui's own state (a settings file that is a
        FIFO, a state directory others can write...): from any thread; it was ignored."""
        notify(self, line, title="envtui's state", severity="warning", timeout=12)

    @work(thread=True, exclusive=True, group="scan", exit_on_error=False)
    def _scan(self, generation: int) -> None:
        worker = get_current_worker()
        scripts = self.known_scripts
        if scripts is None:
            from .core import find_scripts
            from .scripts_seen import remember_scripts
            from .state import load_settings

            roots = load_settings(on_problem=self.state_problem).script_roots
            scripts = [str(p) for p in find_scripts(roots, should_stop=lambda: worker.is_cancelled)]
            # So that a script deleted later is named as missing.
            remember_scripts(self.location.path, scripts, on_problem=self.state_problem)
        try:
            inventory = scan_inventory(self.location, known_scripts=scripts, should_stop=lambda: worker.is_cancelled)
            inventory = prove_in_scan(self, inventory, lambda: worker.is_cancelled)
        except ScanCancelled:
            return
        except NotACacheError as err:
            self.post_message(self.ScanFinished(None, err, generation))
            return
        self.post_message(self.ScanFinished(inventory, None, generation))

    @on(ScanFinished)
    def _scan_finished(self, message: ScanFinished) -> None:
        if message.generation != self._generation:
            return  # a rescan started since
        self._inventory_of = message.generation
        if message.error is not None:
            self._arrived("inventory", "archive", "machine")
            self.scan_error = f"no uv cache at {self.location.path}: {message.error.message}"
            if not isinstance(self.screen, NoCacheScreen):
                self.push_screen(NoCacheScreen(self.location, message.error))
            return
        self.scan_error = None
        self.inventory = message.inventory
        self._arrived("inventory")
        self._maybe_list_archive()
        if message.inventory is not None:
            start_machine_scan(self, message.inventory)
            self._look_for_users()
        problems = message.inventory.problems if message.inventory else ()
        if problems and problems != self._problems_told:  # said once, not at every rescan
            first = f"{problems[0].path}: {problems[0].message}"
            more = f" (and {len(problems) - 1} more; the overview's details pane shows them per bucket)" if len(problems) > 1 else ""
            notify(self, first + more, title="Problem" if len(problems) == 1 else "Problems", severity="warning")
        self._problems_told = problems

    def _maybe_list_archive(self) -> None:
        # After the disk walk: on two shared cores, naming the archive entries (Python, like the
        # inventory) beside the walk slowed the sizes by half.
        if (self.inventory is None or self._inventory_of != self._generation
                or self._measured != self._generation or self._archive_listing == self._generation):
            return
        self._archive_listing = self._generation
        self._list_archive(self.inventory, self._generation)

    @work(thread=True, exclusive=True, group="archive", exit_on_error=False)
    def _list_archive(self, inventory: Inventory, generation: int) -> None:
        """Name the archive entries (which environment or wheel each is) for the scan ``generation``."""
        worker = get_current_worker()
        try:
            entries = scan_archive(inventory.root, environments=inventory.environments, should_stop=lambda: worker.is_cancelled)
        except ScanCancelled:
            return
        self.post_message(self.ArchiveListed(inventory, tuple(entries), generation))

    @work(thread=True, exclusive=True, group="disk", exit_on_error=False)
    def _measure(self, generation: int) -> None:
        """Walk the whole cache once for sizes. On the first scan the saved index's figures are
        shown meanwhile; otherwise progress streams in."""
        from .core.buckets import check_cache_root
        from .state import settings_path

        worker = get_current_worker()
        stop = lambda: worker.is_cancelled  # noqa: E731
        root = self.location.path

        def progressed(progress: DiskProgress) -> None:
            self.post_message(self.DiskProgressed(generation, progress))

        try:
            check_cache_root(root)
        except NotACacheError:
            self.call_from_thread(setattr, self, "fresh_disk", (generation, None))
            self.call_from_thread(self._walk_ended, generation)
            return  # the inventory scan says so
        state_dir = settings_path().parent
        early, self._early_scan = self._early_scan, None
        if early is not None:
            saved = early.saved  # posted at mount already
        else:
            saved, problem = read_index(root, state_dir) if self.disk is None else (None, None)
            if problem is not None:
                self.state_problem(problem)
            if saved is not None:
                self.post_message(self.DiskRecalled(saved))
        try:
            if early is not None and early.root == root:
                report = self._await_scan(early, worker, generation, quiet=saved is not None)
            else:
                report = scan_disk(
                    root,
                    should_stop=stop,
                    # Partial figures would replace the saved ones, which are closer to the truth.
                    on_progress=None if saved else progressed,
                    progress_interval=1.0,  # each message redraws the table: the CPU the walk needs
                )
        except ScanCancelled:
            return
        except OSError as err:
            self.post_message(self.DiskScanned(generation, None, f"{err.filename or root}: {err.strerror or err}"))
            return
        self.post_message(self.DiskScanned(generation, report))
        try:
            save_index(report, state_dir)
        except UnsafeStateDirError as err:
            self.state_problem(str(err))  # another user could write there: nothing is written
        except OSError:
            pass  # the index only saves time; a read-only state directory costs nothing else

    def _await_scan(self, early: BackgroundScan, worker, generation: int, *, quiet: bool) -> DiskReport:
        """The early scan's report, posting its progress (unless ``quiet``) meanwhile. Raises
        :class:`ScanCancelled` (cancelling it) when the worker is, ``OSError`` as scan_disk."""
        while not early.wait(0.05 if quiet else 1.0):
            if worker.is_cancelled:
                early.cancel()
                raise ScanCancelled()
            if not quiet and early.progress is not None:
                self.post_message(self.DiskProgressed(generation, early.progress))
        if early.error is not None:
            raise early.error
        if early.report is None:
            raise ScanCancelled()  # cancelled, or no cache: the inventory scan says which
        return early.report

    def _look_for_users(self) -> None:
        if self.inventory is not None:
            self._find_users(self.inventory)

    @work(thread=True, exclusive=True, group="in-use", exit_on_error=False)
    def _find_users(self, inventory: Inventory) -> None:
        """Which running processes use which environments (its directory or its archive target)."""
        dirs = {}
        for env in inventory.environments:
            dirs[str(env.path)] = [env.path]
            if env.link_target is not None:
                dirs[str(env.link_target)] = [env.link_target]
        found = processes_using(dirs)
        by_env: dict[str, tuple[ProcessInfo, ...]] = {}
        for env in inventory.environments:
            users = (*found.get(str(env.path), ()), *found.get(str(env.link_target), ()))
            if users:
                for key in filter(None, (env.path, env.link_target)):
                    by_env[str(key)] = users
        self.call_from_thread(setattr, self, "in_use", by_env)

    @on(ArchiveListed)
    def _archive_listed(self, message: ArchiveListed) -> None:
        if message.inventory is self.inventory:
            self.archive = message.entries
            self._arrived("archive", generation=message.generation)

    @on(DiskProgressed)
    def _disk_progressed(self, message: DiskProgressed) -> None:
        if message.generation == self._generation:
            self.disk_progress = message.progress

    def _walk_ended(self, generation: int) -> None:
        if generation == self._generation:
            self._measured = generation
            self._arrived("disk")
            self._maybe_list_archive()

    @on(DiskRecalled)
    def _disk_recalled(self, message: DiskRecalled) -> None:
        if self.disk is None and self.disk_progress is None:
            self.disk_saved_at = message.saved.saved_at
            self.disk = message.saved.report

    @on(DiskScanned)
    def _disk_scanned(self, message: DiskScanned) -> None:
        if message.generation != self._generation:
            return  # a rescan started since
        self._walk_ended(message.generation)
        self.fresh_disk = (message.generation, message.report)
        if not self.machine_scan and message.report is not None and message.report.links is not None:
            message.report.links.release()  # only the machine's measure reads them
        recalled, self.disk_saved_at = self.disk_saved_at is not None, None
        if message.error is not None:
            if recalled:
                self.disk = None  # never leave the index's figures on screen as if checked
            notify(self, f"could not measure the cache: {message.error}", severity="error")
            return
        self.disk = message.report
        self.disk_progress = None
        if message.report and message.report.errors:
            n = len(message.report.errors)
            notify(self, f"{n} path{'s' if n != 1 else ''} could not be measured, e.g. {message.report.errors[0][0]}",
                   severity="warning")
        if message.report and message.report.crossings:
            n, first = len(message.report.crossings), message.report.crossings[0]
            notify(self, f"{n} director{'y' if n == 1 else 'ies'} on another filesystem counted in the sizes (as du does), "
                   f"e.g. {first}; prune never crosses into them", severity="warning")


def _inside_any(path: str, paths: set[str]) -> bool:
    """Whether ``path`` is one of ``paths`` or inside one of them (strings as the records hold them)."""
    return path in paths or any(path.startswith(p + os.sep) for p in paths)
