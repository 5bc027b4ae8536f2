"""``envtui path SCRIPT``: the stable environment path uv uses for a script."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from ..core import find_bucket, list_buckets, script_environment_name
from ..core.text import printable
from .common import fail, location

#: Which uv's naming a script environment path follows, by ``environments-vN`` version
#: (``ScriptInterpreter::root``, crates/uv/src/commands/project/mod.rs, since 0.5.31).
NAMING = {
    1: "uv 0.5.31's naming (environments-v1/<name>-<digest>; uv 0.6 and later use environments-v2)",
    2: "the naming of uv 0.6 and later (environments-v2/<name>-<digest>)",
}
NO_SCRIPT_ENVS_BEFORE = (
    "uv before 0.5.31 had no stable script environments: it ran each script in a cached "
    "environment (environments-v1/<interpreter hash>/<resolution hash>) and never makes this path"
)


def register(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "path",
        help="print a script's stable environment path",
        description="Print the environment uv uses for SCRIPT (`uv run SCRIPT`), whether or not it exists yet. "
        "The path follows the naming of the newest environments-vN bucket in the cache (uv 0.6 and later: "
        "environments-v2; uv 0.5.31: environments-v1). " + NO_SCRIPT_ENVS_BEFORE + ".",
    )
    p.add_argument("script", help="the script, as you would pass it to `uv run`")
    p.add_argument("--python", action="store_true", help="print the environment's bin/python instead")
    return p


def _bucket_version(root: Path) -> int:
    try:
        bucket = find_bucket(list_buckets(root), "environments")
    except OSError:
        bucket = None
    return bucket.version if bucket and bucket.version is not None else 2


def script_environment_path(root: Path, script: str) -> Path:
    """``<root>/environments-vN/<stem>-<digest>`` for ``script`` (relative to the working directory).

    The bucket is the one present in the cache (the current version if several), or
    ``environments-v2`` when there is none yet."""
    return root / f"environments-v{_bucket_version(root)}" / script_environment_name(script)


def run(args: argparse.Namespace) -> int:
    if os.path.isdir(args.script):
        return fail(f"{args.script} is a directory, not a script: give the PEP 723 script file itself")
    loc = location(args)
    env = script_environment_path(loc.path, args.script)
    version = _bucket_version(loc.path)
    naming = NAMING.get(version, f"environments-v{version}, a bucket version envtui does not know")
    out = env / ("Scripts/python.exe" if os.name == "nt" else "bin/python") if args.python else env
    exists = os.path.lexists(env / "pyvenv.cfg")
    if version == 1:
        made = "" if exists else f"{printable(env)} does not exist yet; uv 0.5.31 creates it on `uv run {printable(args.script)}`. "
        print(f"envtui: {made}This path follows {naming}; {NO_SCRIPT_ENVS_BEFORE}", file=sys.stderr)
    elif not exists:
        print(f"envtui: {printable(env)} does not exist yet; `uv run {printable(args.script)}` creates it (this path follows {naming})",
              file=sys.stderr)
    if not Path(args.script).exists():
        print(f"envtui: note: {printable(args.script)} does not exist", file=sys.stderr)
    # A control character here can only come from --cache-dir (the key is made of [a-z0-9-]); a
    # path printed escaped would name another directory, so say so rather than print it.
    if printable(out) != str(out):
        print(f"envtui: the path holds control characters: {printable(out)}", file=sys.stderr)
        return 1
    print(out)
    return 0
