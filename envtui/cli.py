"""The command line: the TUI by default, and non-interactive subcommands over the same core.

Exit codes: 0 success (a dry run included); 1 the command ran but found a problem (a failed
deletion, a declined prune plan, an entry that could not be rebuilt); 2 bad usage, no uv cache
where one was expected, or a cache root that must not be pruned; 3 ``prune``: uv is running and
holds its cache lock, and neither ``--wait`` nor ``--skip-in-use`` was given; 130 interrupted.
"""

from __future__ import annotations

import argparse
import os
import importlib
import sys
from typing import Sequence

from . import __version__

#: Subcommand modules under ``envtui.commands``; each has ``register(subparsers)`` and ``run(args) -> int``.
COMMANDS = ("ls", "path", "prune", "rebuild")


def add_cache_options(parser: argparse.ArgumentParser) -> None:
    """Options every command shares: where the cache is, and which scripts are known."""
    # SUPPRESS: a subcommand's copy of an option must not reset what was given before it.
    parser.add_argument(
        "--cache-dir",
        metavar="DIR",
        default=argparse.SUPPRESS,
        help="the uv cache to read (default: $UV_CACHE_DIR, then `uv cache dir`, then ~/.cache/uv)",
    )
    parser.add_argument(
        "--roots",
        "--script-roots",  # the old spelling
        dest="roots",
        metavar="DIR",
        action="append",
        default=argparse.SUPPRESS,
        help=f"a directory searched for PEP 723 scripts (to tell each script environment its script, "
        f"and prove where a deleted one lived) and for project environments (repeat the option, or "
        f"join directories with {os.pathsep!r}; --script-roots is the old spelling)",
    )


def build_parser(*, commands: bool = True) -> argparse.ArgumentParser:
    """The parser; without ``commands``, the TUI's options alone (no subcommand module imported)."""
    parser = argparse.ArgumentParser(
        prog="envtui",
        description="See into uv's cache: interpreters, script and tool environments, and where the space goes.",
    )
    parser.add_argument("--version", action="version", version=f"envtui {__version__}")
    add_cache_options(parser)
    parser.add_argument("--demo", action="store_true", help="open a demo cache built in a temporary directory")
    parser.add_argument(
        "--print-path",
        action="store_true",
        help="on exit, print the environment chosen with enter to stdout",
    )
    if not commands:
        return parser
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        module = importlib.import_module(f".commands.{name}", __package__)
        cmd = module.register(sub)
        add_cache_options(cmd)
        cmd.set_defaults(run=module.run)
    return parser


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """``argv`` parsed. Where it names no subcommand (the TUI), the subcommands' modules are not
    imported: the TUI's disk walk starts a quarter of a second sooner. Anything the short parser
    does not take (a subcommand, ``--help``, a typo) is parsed by the whole one, so usage and
    errors read the same."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not any(a in COMMANDS or a in ("-h", "--help") for a in argv):
        args, rest = build_parser(commands=False).parse_known_args(argv)
        if not rest:
            args.command = None
            return args
    return build_parser().parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    # Paths that are not valid UTF-8 are printed as the bytes they are, not as a crash.
    for stream in (sys.stdout, sys.stderr):
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="surrogateescape")
    from .commands.common import fail
    from .core.errors import CacheError

    try:
        if getattr(args, "run", None) is not None:
            return args.run(args)
        from .tui import run_tui

        return run_tui(args)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0
    except CacheError as err:
        # Whatever a command did not expect about the cache (its lock, an unreadable bucket) is
        # one line naming the path, never a traceback.
        return fail(str(err))
    except OSError as err:
        where = f"{err.filename}: " if err.filename else ""
        return fail(f"{where}{err.strerror or err}")
