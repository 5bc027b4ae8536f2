"""Helpers shared by the subcommands: locating the cache and the known scripts."""

from __future__ import annotations

import argparse
import os
import sys

from ..core import CacheLocation, find_scripts, locate_cache
from ..core.text import printable
from ..format import size
from ..state import load_settings


def location(args: argparse.Namespace) -> CacheLocation:
    """The cache location the arguments ask for (``--cache-dir`` or the usual search)."""
    return locate_cache(getattr(args, "cache_dir", None))


def roots(args: argparse.Namespace) -> list[str] | None:
    """The directories given with ``--roots`` (or its old spelling ``--script-roots``; each may
    join several with ``os.pathsep``), or ``None`` when the option was not given."""
    given = getattr(args, "roots", None)
    if given is None:
        return None
    return [part for value in given for part in value.split(os.pathsep) if part]


#: The old name of :func:`roots`.
script_roots = roots


def effective_roots(args: argparse.Namespace) -> list[str]:
    """``--roots``, or the roots saved in envtui's settings."""
    given = roots(args)
    if given is not None:
        return given
    if not hasattr(args, "saved_roots"):  # read once per command: a bad settings file is said once
        args.saved_roots = list(load_settings().roots)
    return list(args.saved_roots)


def known_scripts(args: argparse.Namespace) -> list[str]:
    """Scripts found under ``--roots``, or under the roots saved in envtui's settings."""
    return [str(p) for p in find_scripts(effective_roots(args))]


def fail(message: str, code: int = 2) -> int:
    """Print ``envtui: message`` to stderr, on one line and without control characters (it often
    names a path out of the cache), and return ``code``."""
    print(f"envtui: {printable(message)}", file=sys.stderr)
    return code


def ask(question: str) -> bool:
    """Ask a yes/no question on the terminal (the question on stderr: stdout may be ``--json``);
    only ``y``/``yes`` (any case) is yes, and the end of input is no."""
    print(question, end="", file=sys.stderr, flush=True)
    try:
        return input().strip().lower() in ("y", "yes")
    except EOFError:
        return False


def size_bytes(n: int) -> str:
    """Bytes for a plan or a result: binary units, then the exact count (``"1.2 MiB (1258291 bytes)"``)."""
    return f"{size(n)} ({n} bytes)"
