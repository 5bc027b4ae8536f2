"""Starting the TUI from the command line."""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from contextlib import contextmanager
from typing import Iterator

from .commands.common import known_scripts, location


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


def run_tui(args: argparse.Namespace) -> int:
    """Run the app on the located cache (or a demo cache); print the chosen path with ``--print-path``.

    Textual draws on stderr, so ``$(envtui --print-path)`` still shows the interface. A demo cache
    is deleted on exit, unless its path was printed.
    """
    print_path = getattr(args, "print_path", False)
    demo_root = None
    if getattr(args, "demo", False):
        from .core.demo import build_demo_cache

        _say("building a demo cache…")
        started = time.monotonic()
        try:
            loc, note = build_demo_cache(progress=_say)
        except (OSError, ValueError) as err:
            _say(f"could not build the demo cache: {err}")
            return 1
        _say(f"demo cache ready in {time.monotonic() - started:.1f} s: {loc.path}")
        demo_root = note.root
        scripts = note.scripts
        notice = note.message
    else:
        loc = location(args)
        scripts = None if getattr(args, "script_roots", None) is None else known_scripts(args)
        notice = None
    # The walk first: it runs while Textual is imported and draws the first frame.
    from .core.disk.background import BackgroundScan
    from .state import settings_path

    early = BackgroundScan(loc.path, state_dir=settings_path().parent)
    from .app import EnvtuiApp

    app = EnvtuiApp(loc, known_scripts=scripts, notice=notice, print_path=print_path, disk_scan=early)
    try:
        with _terminal_on_stdout():
            chosen = app.run()
    finally:
        if demo_root is not None and not print_path:
            shutil.rmtree(demo_root, ignore_errors=True)
    if print_path:
        if demo_root is not None:
            _say(f"the demo cache stays in {demo_root} (delete it when done)")
        if not chosen:
            return 1
        print(chosen)
    return 0
