"""Helpers shared by the subcommands: locating the cache and the known scripts."""

from __future__ import annotations

import argparse
import os
import sys

from ..core import CacheLocation, find_scripts, locate_cache
from ..core.text import printable
from ..state import load_settings


def location(args: argparse.Namespace) -> CacheLocation:
    """The cache location the arguments ask for (``--cache-dir`` or the usual search)."""
    return locate_cache(getattr(args, "cache_dir", None))


def script_roots(args: argparse.Namespace) -> list[str] | None:
    """The directories given with ``--script-roots`` (each may join several with ``os.pathsep``),
    or ``None`` when the option was not given."""
    given = getattr(args, "script_roots", None)
    if given is None:
        return None
    return [part for value in given for part in value.split(os.pathsep) if part]


def known_scripts(args: argparse.Namespace) -> list[str]:
    """Scripts found under ``--script-roots``, or under the roots saved in envtui's settings."""
    roots = script_roots(args)
    if roots is None:
        roots = list(load_settings().script_roots)
    return [str(p) for p in find_scripts(roots)]


def fail(message: str, code: int = 2) -> int:
    """Print ``envtui: message`` to stderr, on one line and without control characters (it often
    names a path out of the cache), and return ``code``."""
    print(f"envtui: {printable(message)}", file=sys.stderr)
    return code
