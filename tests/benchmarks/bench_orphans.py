"""Benchmark: what proving scripts from script environments' keys costs (``envtui.core.orphans``).

Prints figures; asserts nothing, and pytest does not collect it::

    python -m tests.benchmarks.bench_orphans --dirs 20000 --prompts 20
    python -m tests.benchmarks.bench_orphans --root /tmp/tree --dirs 100000 --keep

Builds a tree of ``--dirs`` directories (fan-out 10, a few files each) and ``--prompts`` script
environments whose scripts lived in random directories of it (every other one deleted), then times
:func:`~envtui.core.orphans.prove_scripts` over the tree (best of ``--repeat``, warm cache), beside
``find -type d`` (the listing alone) and a naive search that hashes every full path from scratch.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from envtui.core.digest import PathKey, cache_digest, script_environment_name
from envtui.core.environments import SCRIPT, Environment
from envtui.core.orphans import prove_scripts


def build(root: Path, dirs: int, prompts: int, seed: int = 0) -> list[Environment]:
    """Make the tree and the environments; return the environments (half their scripts gone)."""
    rng = random.Random(seed)
    made = [root]
    root.mkdir(parents=True, exist_ok=True)
    i = 0
    while len(made) < dirs:
        parent = made[i // 10]
        child = parent / f"d{i}"
        child.mkdir(exist_ok=True)
        (child / "notes.txt").write_text("x")
        made.append(child)
        i += 1
    envs = []
    for n in range(prompts):
        script = rng.choice(made) / f"script_{n}.py"
        if n % 2 == 0:
            script.write_text("# /// script\n# dependencies = []\n# ///\n")
        name = script_environment_name(script)
        stem, digest = name.rsplit("-", 1)
        envs.append(Environment(SCRIPT, Path("/cache/environments-v2") / name, name, "ok", digest=digest, stem=stem,
                                prompt=script.name))
    return envs


def naive(envs: list[Environment], root: Path) -> int:
    """The search without the parent's hasher state: every path hashed whole."""
    wanted = {(e.prompt, e.digest) for e in envs}
    prompts = {e.prompt for e in envs}
    hits = 0
    for dirpath, _dirnames, _files in os.walk(root):
        for p in prompts:
            if (p, cache_digest(PathKey.of(os.path.join(dirpath, p)))) in wanted:
                hits += 1
    return hits


def best(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--root", type=Path)
    ap.add_argument("--dirs", type=int, default=20000)
    ap.add_argument("--prompts", type=int, default=20)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()
    base = args.root or Path(tempfile.mkdtemp(prefix="bench-orphans-"))
    try:
        envs = build(base / "tree", args.dirs, args.prompts)
        root = base / "tree"
        found = prove_scripts(envs, [root], max_dirs=10 * args.dirs)
        assert len(found) == args.prompts, (len(found), args.prompts)
        best(lambda: prove_scripts(envs, [root], max_dirs=10 * args.dirs), 1)  # warm the page cache
        ours = best(lambda: prove_scripts(envs, [root], max_dirs=10 * args.dirs), args.repeat)
        listing = best(lambda: subprocess.run(["find", str(root), "-type", "d"], capture_output=True, check=True), args.repeat)
        whole = best(lambda: naive(envs, root), 1)
        distinct = len({e.prompt for e in envs})
        print(f"{args.dirs} directories, {args.prompts} script environments ({distinct} distinct prompts), "
              f"{sum(not p.exists for p in found)} scripts gone")
        print(f"  prove_scripts       {ours:7.3f} s  ({args.dirs / ours:,.0f} directories/s, "
              f"{ours / (args.dirs * distinct) * 1e6:.2f} µs per directory and prompt)")
        print(f"  find -type d        {listing:7.3f} s  (the listing alone)")
        print(f"  naive full hashing  {whole:7.3f} s")
    finally:
        if not args.keep and args.root is None:
            shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
