"""Starting the TUI from the command line."""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import signal
import sys
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from .commands.common import known_scripts, location, roots


def _say(text: str) -> None:
    # stderr: with --print-path, stdout carries only the chosen path. Paths and errors in it come
    # from disk: escaped before they reach the terminal.
    from .core.text import printable

    print(f"envtui: {printable(text)}", file=sys.stderr, flush=True)


@contextmanager
def _terminal_on_stdout() -> Iterator[None]:
    """With stdout captured (``$(envtui --print-path)``), lend it the terminal while the app runs.

    Textual draws on stderr but sizes the screen from stdout (``shutil.get_terminal_size``): on a
    pipe that gives 80x24 whatever the window. The real stdout comes back for the printed path.
    """
    if sys.stdout.isatty() or not sys.stderr.isatty():
        yield
        return
    sys.stdout.flush()
    saved = os.dup(1)
    os.dup2(2, 1)
    try:
        yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)


@contextmanager
def _keys_from_the_terminal() -> Iterator[None]:
    """With stdin not a terminal (``envtui </dev/null``), lend fd 0 the controlling terminal.

    Textual reads keys from fd 0: at end of file its input thread spins (select says readable, read
    returns nothing), at most of a core, and never sees a key. Raises ``OSError`` when there is no
    controlling terminal (``/dev/tty``) to read keys from.
    """
    if os.isatty(0):
        yield
        return
    tty = os.open("/dev/tty", os.O_RDWR)
    try:
        saved = os.dup(0)
    except OSError:  # fd 0 was closed
        saved = None
    os.dup2(tty, 0)
    os.close(tty)
    try:
        yield
    finally:
        if saved is not None:
            os.dup2(saved, 0)
            os.close(saved)


class _Stopped(BaseException):
    """Raised (in the main thread) for SIGINT, SIGTERM or SIGHUP outside the app's event loop; a
    ``BaseException``, so no ``except Exception`` on the way swallows it."""


@dataclass
class _Signals:
    """SIGINT, SIGTERM and SIGHUP end the run the way ``q`` does, so every ``finally`` runs (the
    demo's cleanup) where their default action, or closing the terminal, would skip it.

    Inside the app's event loop the handler asks the app to exit (``call_soon_threadsafe``:
    Textual then restores the terminal and stops its workers); before the app runs (the demo's
    build) it raises. Our SIGINT handler also keeps ``asyncio.run`` from installing its own.
    """

    received: int | None = None
    """The signal that arrived, if one did."""
    app: Any = None
    """The app, once there is one: what a signal asks to exit."""

    def _handle(self, signum: int, _frame: object) -> None:
        self.received = signum
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        if loop is None or self.app is None:
            raise _Stopped()
        loop.call_soon_threadsafe(self.app.exit)

    def raise_if_received(self) -> None:
        """After the app: ``KeyboardInterrupt`` for SIGINT, ``SystemExit(128 + signal)`` otherwise."""
        if self.received == signal.SIGINT:
            raise KeyboardInterrupt
        if self.received is not None:
            raise SystemExit(128 + self.received)

    @contextmanager
    def installed(self) -> Iterator["_Signals"]:
        signums = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
        saved = {n: signal.signal(n, self._handle) for n in signums}
        try:
            try:
                yield self
            except _Stopped:
                pass
            self.raise_if_received()
        finally:
            for n, handler in saved.items():
                signal.signal(n, handler)


def _start_walk(root: Path):
    """The disk walk, started before anything else is imported: it runs while Textual is
    imported and draws the first frame (:class:`~envtui.core.disk.background.BackgroundScan`)."""
    from .core.disk.background import BackgroundScan
    from .state import settings_path

    return BackgroundScan(root, state_dir=settings_path().parent)


def _lock_notice(root) -> str | None:
    """One line for the app to show when uv's root lock cannot be used (browsing still works)."""
    from .core.locks import UNAVAILABLE, probe_root_lock

    lock = probe_root_lock(root)
    if lock.state != UNAVAILABLE:
        return None
    _say(f"uv's cache lock cannot be used, so prune will refuse: {lock.error()}")
    return f"Prune is unavailable: {lock.error()}"  # the app shows it as plain text


def run_tui(args: argparse.Namespace) -> int:
    """Run the app on the located cache (or a demo cache); print the chosen path with ``--print-path``.

    Textual draws on stderr, so ``$(envtui --print-path)`` still shows the interface; keys come
    from the controlling terminal when stdin is not one. A demo cache is deleted on exit, on
    SIGINT, SIGTERM and SIGHUP too (then the exit status is 130, 143 or 129), unless a path inside
    it was printed. Exit status 2 when there is no terminal to read keys from.
    """
    signals = _Signals()
    with signals.installed():
        try:
            with _keys_from_the_terminal():
                return _run(args, signals)
        except OSError as err:
            if err.filename != "/dev/tty":
                raise
            _say("stdin is not a terminal, and there is no controlling terminal to read keys from; "
                 "`envtui ls` prints the same without one")
            return 2
    return 1  # not reached: a signal that stopped the run raises on leaving ``installed``


def _run(args: argparse.Namespace, signals: _Signals) -> int:
    print_path = getattr(args, "print_path", False)
    demo_root = None
    chosen = None
    scripts: list[str] | None  # the scripts known, or None for the app to find them
    notice: str | None
    try:
        if getattr(args, "demo", False):
            from .demo import build_demo_cache

            demo_root = Path(tempfile.mkdtemp(prefix="envtui-demo-"))
            _say("building a demo cache…")
            started = time.monotonic()
            try:
                loc, note = build_demo_cache(demo_root, progress=_say)
            except (OSError, ValueError) as err:
                _say(f"could not build the demo cache: {err}")
                return 1
            _say(f"demo cache ready in {time.monotonic() - started:.1f} s: {loc.path}")
            scripts = note.scripts
            notice = note.message
            early = _start_walk(loc.path)
        else:
            loc = location(args)
            early = _start_walk(loc.path)
            scripts = None if getattr(args, "roots", None) is None else known_scripts(args)
            notice = _lock_notice(loc.path)
        from .app import EnvtuiApp

        signals.app = app = EnvtuiApp(loc, known_scripts=scripts, notice=notice, print_path=print_path, disk_scan=early)
        app.machine_scan = demo_root is None  # the demo is a cache alone
        app.machine_roots = roots(args)
        with _terminal_on_stdout():
            chosen = app.run()
        signals.raise_if_received()
    finally:
        if demo_root is not None and not (print_path and chosen and signals.received is None):
            for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):  # a second one must not cut this short
                signal.signal(signum, signal.SIG_IGN)
            shutil.rmtree(demo_root, ignore_errors=True)
    if print_path:
        if not chosen:
            return 1
        if demo_root is not None:
            _say(f"the demo cache stays in {demo_root} (delete it when done)")
        print(chosen)
    return 0
