"""Starting the TUI from the command line."""

from __future__ import annotations

import argparse
import sys

from .commands.common import known_scripts, location


def run_tui(args: argparse.Namespace) -> int:
    """Run the app on the located cache (or a demo cache); print the chosen path with ``--print-path``."""
    from .app import EnvtuiApp

    if getattr(args, "demo", False):
        from .core.demo import build_demo_cache

        loc, note = build_demo_cache()
        scripts = note.scripts
        notice = note.message
    else:
        loc = location(args)
        scripts = None if getattr(args, "script_roots", None) is None else known_scripts(args)
        notice = None
    app = EnvtuiApp(loc, known_scripts=scripts, notice=notice, print_path=getattr(args, "print_path", False))
    chosen = app.run()
    if getattr(args, "print_path", False):
        if not chosen:
            return 1
        print(chosen)
    return 0
