"""Benchmark: envtui's full disk scan against ``du -s`` and ``uv cache size`` on the same tree.

Prints figures; asserts nothing, and pytest does not collect it (not a ``test_*`` file)::

    python -m tests.benchmarks.bench_scan --files 200000            # generate, then measure
    python -m tests.benchmarks.bench_scan --root /tmp/big --files 1000000 --keep

Each tool runs once to warm the page cache, then ``--repeat`` times; the best time counts. envtui's
scan runs in a child process so its peak RSS (``VmHWM``) is its own; the interpreter and
imports alone are measured too and reported beside it. The first frame is the time from the start
of a child process (before importing Textual) to the overview screen being shown, headless; the
lists are usable when the inventory scan's result arrives, and sizes when the disk scan's does.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.benchmarks.gencache import Scale, generate

_SCAN_CHILD = r"""
import json, sys, time, tracemalloc
from pathlib import Path
from envtui.core.disk import scan_disk
def status_kib(field):
    # VmHWM, not ru_maxrss: Linux keeps ru_maxrss across fork and exec, so a child would report
    # its parent's peak if that was higher.
    with open("/proc/self/status") as fh:
        return next(int(line.split()[1]) for line in fh if line.startswith(field + ":"))
base = status_kib("VmRSS")
if sys.argv[2] == "trace":
    tracemalloc.start()
t = time.perf_counter()
report = scan_disk(Path(sys.argv[1]))
seconds = time.perf_counter() - t
peak = tracemalloc.get_traced_memory()[1] if sys.argv[2] == "trace" else None
print(json.dumps({"seconds": seconds, "maxrss_kib": status_kib("VmHWM"),
                  "baseline_kib": base, "traced_peak": peak, "total_disk": report.total_disk,
                  "entries": len(report.entries)}))
"""

_FRAME_CHILD = r"""
import time
t0 = time.perf_counter()
import asyncio, json, sys
from pathlib import Path
from textual import events
from envtui.app import EnvtuiApp
from envtui.core import CacheLocation
from envtui.screens.overview import OverviewScreen
marks = {}
async def main():
    done = asyncio.Event()  # set by the hook: polling with the pilot would load the event loop
    def hook(message):
        now = time.perf_counter() - t0
        if isinstance(message, events.ScreenResume) and "first_screen" not in marks:
            marks["first_screen"] = now
        elif isinstance(message, EnvtuiApp.ScanFinished):
            marks.setdefault("lists", now)
        elif isinstance(message, EnvtuiApp.DiskScanned):
            marks.setdefault("sizes", now)
            done.set()
    app = EnvtuiApp(CacheLocation(Path(sys.argv[1]), "--cache-dir"), known_scripts=[])
    async with app.run_test(size=(160, 40), message_hook=hook):
        await asyncio.wait_for(done.wait(), 600)
        marks["screen_is_overview"] = isinstance(app.screen, OverviewScreen)
asyncio.run(main())
print(json.dumps(marks))
"""


def _best(cmd: list[str], repeat: int, env: dict | None = None) -> float:
    subprocess.run(cmd, capture_output=True, env=env, check=True)  # warm
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        subprocess.run(cmd, capture_output=True, env=env, check=True)
        best = min(best, time.perf_counter() - t)
    return best


def _child(code: str, *args: str) -> dict:
    out = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def _uv() -> str:
    from uv import find_uv_bin

    return find_uv_bin()


def _count(root: Path) -> int:
    with subprocess.Popen(["find", str(root)], stdout=subprocess.PIPE) as find:
        return sum(chunk.count(b"\n") for chunk in iter(lambda: find.stdout.read(1 << 20), b""))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--root", type=Path, help="cache to measure; generated there if it does not exist")
    parser.add_argument("--files", type=int, default=200_000)
    parser.add_argument("--archives", type=int, default=2_000)
    parser.add_argument("--environments", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--keep", action="store_true", help="keep a generated cache")
    parser.add_argument("--tracemalloc", action="store_true", help="also report Python's traced peak (slow)")
    args = parser.parse_args()

    tmp = None
    root = args.root
    if root is None:
        tmp = Path(tempfile.mkdtemp(prefix="envtui-bench-"))
        root = tmp / "cache"
    if not root.exists():
        t = time.perf_counter()
        g = generate(root, Scale(args.files, args.archives, args.environments))
        print(f"generated {g.links} entries ({g.wheels} wheels, {g.environments} environments) in {time.perf_counter() - t:.1f} s")
    try:
        n = _count(root)
        print(f"cache {root}: {n} directory entries")
        du = _best(["du", "-s", str(root)], args.repeat)
        env = {**os.environ, "UV_CACHE_DIR": str(root), "UV_NO_CONFIG": "1"}
        uv = _best([_uv(), "cache", "size", "--preview-features", "cache-size"], args.repeat, env)
        _child(_SCAN_CHILD, str(root), "plain")  # warm
        scans = [_child(_SCAN_CHILD, str(root), "plain") for _ in range(args.repeat)]
        scan = min(s["seconds"] for s in scans)
        rss = max(s["maxrss_kib"] for s in scans) / 1024
        base = min(s["baseline_kib"] for s in scans) / 1024
        du_bytes = int(subprocess.run(["du", "-sB1", str(root)], capture_output=True, text=True).stdout.split()[0])
        print(f"du -s            {du:7.2f} s")
        print(f"uv cache size    {uv:7.2f} s")
        print(f"envtui scan      {scan:7.2f} s   = {scan / du:.2f} x du, {scan / uv:.2f} x uv cache size")
        print(f"envtui total     {scans[0]['total_disk']} bytes; du -sB1 {du_bytes} ({'equal' if scans[0]['total_disk'] == du_bytes else 'DIFFERENT'})")
        print(f"envtui peak RSS  {rss:7.1f} MiB  (the process; {base:.1f} MiB of it before the scan: interpreter and imports)")
        if args.tracemalloc:
            traced = _child(_SCAN_CHILD, str(root), "trace")["traced_peak"] / 2**20
            print(f"envtui traced    {traced:7.1f} MiB  (tracemalloc peak of the scan's Python allocations)")
        frame = _child(_FRAME_CHILD, str(root))
        print(
            f"first frame      {frame['first_screen']:7.2f} s   (process start to overview shown; lists usable at "
            f"{frame['lists']:.2f} s, sizes at {frame['sizes']:.2f} s)"
        )
    finally:
        if tmp is not None and not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
