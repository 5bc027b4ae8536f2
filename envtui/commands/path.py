"""``envtui path SCRIPT``: the stable environment path uv uses for a script."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from ..core import find_bucket, list_buckets, script_environment_name
from ..core.text import printable
from .common import fail, location


def register(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "path",
        help="print a script's stable environment path",
        description="Print the environment uv uses for SCRIPT (`uv run SCRIPT`), whether or not it exists yet.",
    )
    p.add_argument("script", help="the script, as you would pass it to `uv run`")
    p.add_argument("--python", action="store_true", help="print the environment's bin/python instead")
    return p


def script_environment_path(root: Path, script: str) -> Path:
    """``<root>/environments-vN/<stem>-<digest>`` for ``script`` (relative to the working directory).

    The bucket is the one present in the cache, or ``environments-v2`` when there is none yet."""
    try:
        bucket = find_bucket(list_buckets(root), "environments")
    except OSError:
        bucket = None
    bucket_dir = bucket.path if bucket else root / "environments-v2"
    return bucket_dir / script_environment_name(script)


def run(args: argparse.Namespace) -> int:
    if os.path.isdir(args.script):
        return fail(f"{args.script} is a directory, not a script: give the PEP 723 script file itself")
    loc = location(args)
    env = script_environment_path(loc.path, args.script)
    out = env / ("Scripts/python.exe" if os.name == "nt" else "bin/python") if args.python else env
    if not os.path.lexists(env / "pyvenv.cfg"):
        print(f"envtui: {printable(env)} does not exist yet; `uv run {printable(args.script)}` creates it", file=sys.stderr)
    if not Path(args.script).exists():
        print(f"envtui: note: {printable(args.script)} does not exist", file=sys.stderr)
    # A control character here can only come from --cache-dir (the key is made of [a-z0-9-]); a
    # path printed escaped would name another directory, so say so rather than print it.
    if printable(out) != str(out):
        print(f"envtui: the path holds control characters: {printable(out)}", file=sys.stderr)
        return 1
    print(out)
    return 0
