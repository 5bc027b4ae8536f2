"""Starting the TUI from the command line."""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from .commands.common import known_scripts, location, roots


def _say(text: str) -> None:
    # stderr: with --print-path, stdout carries only the chosen path.
    print(f"envtui: {text}", file=sys.stderr, flush=True)


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


def _stop(signum: int, _frame: object) -> None:
    # An exception in the main thread unwinds the app and every ``finally`` (the demo's cleanup),
    # where the default action of SIGTERM and SIGHUP (closing the terminal) would skip them.
    if signum == signal.SIGINT:
        raise KeyboardInterrupt
    raise SystemExit(128 + signum)


@contextmanager
def _signals_unwind() -> Iterator[None]:
    """SIGINT, SIGTERM and SIGHUP raise in the main thread while the app (or the demo's build)
    runs. Our own SIGINT handler also keeps ``asyncio.run`` from installing its own, which cancels
    the app's main task instead of raising, so the outcome is up to Textual."""
    signums = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
    saved = {n: signal.signal(n, _stop) for n in signums}
    try:
        yield
    finally:
        for n, handler in saved.items():
            signal.signal(n, handler)


def _lock_notice(root) -> str | None:
    """One line for the app to show when uv's root lock cannot be used (browsing still works)."""
    from .core.locks import UNAVAILABLE, probe_root_lock
    from .core.text import printable

    lock = probe_root_lock(root)
    if lock.state != UNAVAILABLE:
        return None
    _say(f"uv's cache lock cannot be used, so prune will refuse: {printable(lock.error())}")
    return f"Prune is unavailable: {printable(lock.error())}"


def run_tui(args: argparse.Namespace) -> int:
    """Run the app on the located cache (or a demo cache); print the chosen path with ``--print-path``.

    Textual draws on stderr, so ``$(envtui --print-path)`` still shows the interface; keys come
    from the controlling terminal when stdin is not one. A demo cache is deleted on exit, on
    SIGINT, SIGTERM and SIGHUP too, unless a path inside it was printed. Exit status 2 when there
    is no terminal to read keys from.
    """
    with _signals_unwind():
        try:
            with _keys_from_the_terminal():
                return _run(args)
        except OSError as err:
            if err.filename != "/dev/tty":
                raise
            _say("stdin is not a terminal, and there is no controlling terminal to read keys from; "
                 "`envtui ls` prints the same without one")
            return 2


def _run(args: argparse.Namespace) -> int:
    from .app import EnvtuiApp

    print_path = getattr(args, "print_path", False)
    demo_root = None
    chosen = None
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
        else:
            loc = location(args)
            scripts = None if getattr(args, "roots", None) is None else known_scripts(args)
            notice = _lock_notice(loc.path)
        app = EnvtuiApp(loc, known_scripts=scripts, notice=notice, print_path=print_path)
        app.machine_scan = demo_root is None  # the demo is a cache alone
        app.machine_roots = roots(args)
        with _terminal_on_stdout():
            chosen = app.run()
    finally:
        if demo_root is not None and not (print_path and chosen):
            for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):  # a second signal must not cut it short
                signal.signal(signum, signal.SIG_IGN)
            shutil.rmtree(demo_root, ignore_errors=True)
    if print_path:
        if not chosen:
            return 1
        if demo_root is not None:
            _say(f"the demo cache stays in {demo_root} (delete it when done)")
        print(chosen)
    return 0
