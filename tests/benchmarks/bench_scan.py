"""Benchmark: envtui's disk figures against ``du -s`` (and ncdu, ``uv cache size``) on the same
synthetic trees, side by side in one run. Prints a Markdown table; asserts nothing, and pytest does
not collect it (not a ``test_*`` file)::

    python -m tests.benchmarks.bench_scan                       # 200k entries, 5 rounds
    python -m tests.benchmarks.bench_scan --million --million-rounds 2 --trees /tmp/bench-trees

Every figure is the median over rounds of a per-round ratio: each round runs every tool once, in
the same order, so a busy machine slows a round's du as much as its envtui. Before the rounds
each tool runs once to warm the page cache. What is measured:

* full scan, native and pure Python: ``scan_disk`` inside a child process (its own time, without
  interpreter start), against ``du -s`` run as a process;
* the scan alone as a process (``scan_disk`` after ``import``, start to exit), and the CLI:
  ``envtui ls --json --sizes`` as a process, start to exit (it also names packages, Pythons and
  tools);
* TUI, headless at 160x40, from process start, looking beyond the cache as ``envtui`` does: the
  first frame; the sizes with no saved index (cold: a fresh state directory), and with the index
  the previous run saved (shown at once, then the fresh walk's); the TUI's ratios are against the
  scan alone as a process and against the CLI too;
* prune: ``envtui prune --older-than 300 --yes`` deleting 100 environments (50 script, 50 cached
  with their archive targets) of a fresh ``cp -a`` of the tree, against ``rm -rf`` of the same
  paths in another copy; beside it, against the same ``rm -rf``, what any prune of envtui's pays
  whatever it deletes: ``find -type l`` of the whole cache and Python started with the prune
  command imported;
* peak memory: ``VmHWM`` of the scan's child process (interpreter and imports included).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.benchmarks.gencache import Scale, generate

_SCAN_CHILD = r"""
import json, sys, time
from pathlib import Path
from envtui.core.disk import scan_disk
def status_kib(field):
    # VmHWM, not ru_maxrss: Linux keeps ru_maxrss across fork and exec.
    with open("/proc/self/status") as fh:
        return next(int(line.split()[1]) for line in fh if line.startswith(field + ":"))
base = status_kib("VmRSS")
t = time.perf_counter()
report = scan_disk(Path(sys.argv[1]), native=sys.argv[2] == "native")
seconds = time.perf_counter() - t
print(json.dumps({"seconds": seconds, "peak_kib": status_kib("VmHWM"), "baseline_kib": base,
                  "total_disk": report.total_disk}))
"""

_SCAN_PROCESS = "import sys; from pathlib import Path; from envtui.core.disk import scan_disk; scan_disk(Path(sys.argv[1]))"

_TUI_CHILD = r"""
import time
t0 = time.perf_counter()
import sys
from pathlib import Path
# As `envtui --cache-dir ROOT` starts: the short parser, the location, the walk, then Textual.
from envtui.cli import parse_args
from envtui.commands.common import location
from envtui.tui import _start_walk
args = parse_args(["--cache-dir", sys.argv[1]])
early = _start_walk(location(args).path)
import asyncio, json
from textual import events
from envtui.app import EnvtuiApp
from envtui.core import CacheLocation
marks = {}
async def main():
    done = asyncio.Event()  # set by the hook: polling with the pilot would load the event loop
    def hook(message):
        now = time.perf_counter() - t0
        if isinstance(message, events.ScreenResume) and "first_frame" not in marks:
            marks["first_frame"] = now
            if app.disk is not None:  # the saved index's figures, there from the first frame on
                marks["recalled"] = now
        elif isinstance(message, EnvtuiApp.ScanFinished):
            marks.setdefault("lists", now)
        elif isinstance(message, EnvtuiApp.DiskRecalled):
            marks.setdefault("recalled", now)
        elif isinstance(message, EnvtuiApp.DiskScanned):
            marks.setdefault("sizes", now)
            done.set()
    app = EnvtuiApp(CacheLocation(Path(sys.argv[1]), "--cache-dir"), known_scripts=None, disk_scan=early)
    app.machine_scan, app.machine_roots = True, None  # as envtui.tui.run_tui: Pythons, tools, projects too
    async with app.run_test(size=(160, 40), message_hook=hook) as pilot:
        await asyncio.wait_for(done.wait(), 900)
        await pilot.pause()
        # The saved index is written once the sizes are shown: wait for it, outside the marks.
        for w in list(app.workers):
            await w.wait()
asyncio.run(main())
print(json.dumps(marks))
"""


def _wall(cmd: list[str], env: dict | None = None) -> float:
    t = time.perf_counter()
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, check=True)
    return time.perf_counter() - t


def _child(code: str, *args: str, env: dict | None = None) -> dict:
    out = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, env=env)
    if out.returncode:
        raise RuntimeError(f"a measuring child failed ({out.returncode}):\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def _uv() -> str | None:
    try:
        from uv import find_uv_bin

        return find_uv_bin()
    except (ImportError, FileNotFoundError):
        return shutil.which("uv")


def _du_bytes(root: Path) -> int:
    return int(subprocess.run(["du", "-sB1", str(root)], capture_output=True, text=True, check=True).stdout.split()[0])


def _prune_targets(root: Path, n: int) -> list[str]:
    """Relative paths of ``n`` environments (half script, half cached with link, lock, target)."""
    envs = root / "environments-v2"
    scripts = sorted(p.name for p in envs.iterdir() if p.is_dir() and not p.is_symlink() and (p / "pyvenv.cfg").exists())
    groups = [g for g in envs.iterdir() if g.is_dir() and not (g / "pyvenv.cfg").exists()]
    links = sorted(str(link.relative_to(root)) for g in groups for link in g.iterdir() if link.is_symlink())
    out = [f"environments-v2/{s}" for s in scripts[: n // 2]]
    for link in links[: n - n // 2]:
        target = os.path.normpath(os.path.join(os.path.dirname(root / link), os.readlink(root / link)))
        out += [link, link + ".lock", str(Path(target).relative_to(root))]
    return out


def _age(root: Path, rel_paths: list[str]) -> None:
    """Make the chosen environments 400 days unused, every other one used just now."""
    old = time.time() - 400 * 86400
    chosen = {root / p for p in rel_paths}
    for cfg in list(root.glob("environments-v2/*/pyvenv.cfg")) + list(root.glob("archive-v0/*/pyvenv.cfg")):
        t = old if cfg.parent in chosen else time.time()
        os.utime(cfg, (t, t))


def _prune_round(root: Path, work: Path, env: dict) -> dict[str, float]:
    """One round: ``envtui prune`` on one fresh copy, ``rm -rf`` of the same paths on another,
    and, on that second copy before its ``rm``, the two costs every prune of envtui's pays
    whatever it deletes: ``find -type l`` of the whole cache (the fresh look at every link that
    safety rule 3 asks for) and starting Python with envtui's prune imported. The copies are
    ``sync``ed first, so that their writeback does not land in what is timed."""
    targets = _prune_targets(root, 100)
    a, b = work / "a", work / "b"
    for d in (a, b):
        shutil.rmtree(d, ignore_errors=True)
        subprocess.run(["cp", "-a", str(root), str(d)], check=True)
    _age(a, targets)
    subprocess.run(["sync"], check=True)
    t_prune = _wall([sys.executable, "-m", "envtui", "prune", "--older-than", "300", "--yes", "--cache-dir", str(a)], env)
    gone = sum(not os.path.lexists(a / p) for p in targets)
    if gone != len(targets):
        raise RuntimeError(f"prune deleted {gone} of the {len(targets)} chosen paths")
    t_find = _wall(["find", str(b), "-type", "l"])
    t_import = _wall([sys.executable, "-c", "import envtui.commands.prune"], env)
    t_rm = _wall(["rm", "-rf", *(str(b / p) for p in targets)])
    for d in (a, b):
        shutil.rmtree(d, ignore_errors=True)
    return {"prune": t_prune, "find": t_find, "import": t_import, "rm": t_rm}


def measure(root: Path, rounds: int, *, prune_rounds: int, work: Path) -> dict:
    """Run every tool ``rounds`` times on ``root``; return the median ratios and figures."""
    env = {**os.environ, "UV_CACHE_DIR": str(root), "UV_NO_CONFIG": "1"}
    uv, ncdu = _uv(), shutil.which("ncdu")
    cold_state, saved_state = work / "state-cold", work / "state-saved"

    def tui(state: Path) -> dict:
        if state == cold_state:
            shutil.rmtree(cold_state, ignore_errors=True)
        return _child(_TUI_CHILD, str(root), env={**env, "ENVTUI_STATE_DIR": str(state)})

    def one_round() -> dict[str, float]:
        r = {"du": _wall(["du", "-s", str(root)])}
        if ncdu:
            r["ncdu"] = _wall([ncdu, "-0", "-o", "/dev/null", str(root)])
        if uv:
            r["uv"] = _wall([uv, "cache", "size", "--preview-features", "cache-size"], env)
        native = _child(_SCAN_CHILD, str(root), "native")
        pure = _child(_SCAN_CHILD, str(root), "pure")
        r["native"], r["pure"] = native["seconds"], pure["seconds"]
        r["native_peak"], r["pure_peak"] = native["peak_kib"] / 1024, pure["peak_kib"] / 1024
        r["total_disk"] = native["total_disk"]
        r["scan_process"] = _wall([sys.executable, "-c", _SCAN_PROCESS, str(root)], env)
        r["cli"] = _wall([sys.executable, "-m", "envtui", "ls", "--json", "--sizes", "--cache-dir", str(root)], env)
        cold = tui(cold_state)
        saved = tui(saved_state)
        r["tui_first"], r["tui_cold"] = cold["first_frame"], cold["sizes"]
        r["tui_recalled"], r["tui_saved_fresh"] = saved.get("recalled", float("nan")), saved["sizes"]
        r["tui_recall_after_frame"] = saved.get("recalled", float("nan")) - saved["first_frame"]
        return r

    one_round()  # warm the page cache, and save the index the saved-index runs read
    rows = [one_round() for _ in range(rounds)]
    prunes = [_prune_round(root, work, env) for _ in range(prune_rounds)]
    med = lambda xs: statistics.median(xs) if xs else float("nan")  # noqa: E731
    ratio = lambda k, base="du": med([r[k] / r[base] for r in rows if k in r])  # noqa: E731
    out = {
        "du_seconds": med([r["du"] for r in rows]),
        "ratios": {k: ratio(k) for k in ("ncdu", "uv", "native", "pure", "scan_process", "cli", "tui_first", "tui_cold",
                                         "tui_recalled", "tui_recall_after_frame", "tui_saved_fresh") if k in rows[0]},
        "tui_over_cli": {k: ratio(k, "cli") for k in ("tui_cold", "tui_saved_fresh")},
        "tui_over_scan": {k: ratio(k, "scan_process") for k in ("tui_cold", "tui_saved_fresh")},
        "seconds": {k: med([r[k] for r in rows]) for k in rows[0] if k != "total_disk"},
        "peak_mib": {"native": max(r["native_peak"] for r in rows), "pure": max(r["pure_peak"] for r in rows)},
        "total_disk_equals_du": rows[0]["total_disk"] == _du_bytes(root),
        "prune_over_rm": med([p["prune"] / p["rm"] for p in prunes]),
        "find_over_rm": med([p["find"] / p["rm"] for p in prunes]),
        "import_over_rm": med([p["import"] / p["rm"] for p in prunes]),
        "prune_seconds": med([p["prune"] for p in prunes]),
        "rm_seconds": med([p["rm"] for p in prunes]),
        "rounds": rounds,
        "prune_rounds": len(prunes),
    }
    return out


def _count(root: Path) -> int:
    with subprocess.Popen(["find", str(root)], stdout=subprocess.PIPE) as find:
        return sum(chunk.count(b"\n") for chunk in iter(lambda: find.stdout.read(1 << 20), b""))


def _table(results: dict[str, dict]) -> str:
    cols = list(results)
    head = "| against `du -s` (median of per-round ratios) | " + " | ".join(cols) + " |"
    lines = [head, "| --- |" + " ---: |" * len(cols)]

    def row(label: str, get) -> None:
        cells = []
        for c in cols:
            try:
                v = get(results[c])
                cells.append(v if isinstance(v, str) else f"{v:.2f}")
            except (KeyError, TypeError):
                cells.append("–")
        lines.append(f"| {label} | " + " | ".join(cells) + " |")

    row("`du -s` (seconds)", lambda r: f"1.00 ({r['du_seconds']:.2f} s)")
    row("ncdu `-0 -o /dev/null`", lambda r: r["ratios"]["ncdu"])
    row("`uv cache size`", lambda r: r["ratios"]["uv"])
    row("full scan, native walker", lambda r: r["ratios"]["native"])
    row("full scan, pure Python (`ENVTUI_NO_NATIVE=1`)", lambda r: r["ratios"]["pure"])
    row("the scan alone as a process (`scan_disk`, start to exit)", lambda r: r["ratios"]["scan_process"])
    row("`envtui ls --json --sizes` (process: scan, packages, Pythons, tools)", lambda r: r["ratios"]["cli"])
    row("TUI first frame (process start)", lambda r: r["ratios"]["tui_first"])
    row("TUI sizes, cold index (process start)", lambda r: r["ratios"]["tui_cold"])
    row("TUI sizes, cold index, against the scan alone as a process", lambda r: r["tui_over_scan"]["tui_cold"])
    row("TUI sizes, cold index, against `ls --json --sizes`", lambda r: r["tui_over_cli"]["tui_cold"])
    row("TUI sizes from the saved index (process start)", lambda r: r["ratios"]["tui_recalled"])
    row("TUI sizes from the saved index (after the first frame)", lambda r: r["ratios"]["tui_recall_after_frame"])
    row("TUI fresh sizes with a saved index, against the scan alone as a process", lambda r: r["tui_over_scan"]["tui_saved_fresh"])
    row("prune of 100 environments, against `rm -rf` of the same paths", lambda r: f"{r['prune_over_rm']:.1f}x" if r["prune_rounds"] else "–")
    row("`find -type l` of the whole cache (rule 3's look at every link), against that `rm -rf`",
        lambda r: f"{r['find_over_rm']:.1f}x" if r["prune_rounds"] else "–")
    row("Python started with envtui's prune imported, against that `rm -rf`",
        lambda r: f"{r['import_over_rm']:.1f}x" if r["prune_rounds"] else "–")
    row("`rm -rf` of the 100 environments (seconds)", lambda r: f"{r['rm_seconds']:.2f} s" if r["prune_rounds"] else "–")
    row("peak memory, native scan (MiB, whole process)", lambda r: f"{r['peak_mib']['native']:.0f}")
    row("peak memory, pure scan (MiB, whole process)", lambda r: f"{r['peak_mib']['pure']:.0f}")
    row("`total_disk` equals `du -sB1`", lambda r: "yes" if r["total_disk_equals_du"] else "NO")
    row("rounds (scan / prune)", lambda r: f"{r['rounds']} / {r['prune_rounds']}")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--trees", type=Path, help="where the synthetic trees live (kept; made if missing)")
    parser.add_argument("--files", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--prune-rounds", type=int, default=3)
    parser.add_argument("--million", action="store_true", help="also measure a 1M-entry tree (slow)")
    parser.add_argument("--million-rounds", type=int, default=2)
    parser.add_argument("--million-prune", action="store_true", help="also time prune at 1M (two cp -a of the tree per round)")
    parser.add_argument("--json", action="store_true", help="print the raw figures as JSON too")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="envtui-bench-"))
    trees = args.trees or tmp
    scales = [(args.files, args.rounds, args.prune_rounds)]
    if args.million:
        scales.append((1_000_000, args.million_rounds, min(1, args.prune_rounds) if args.million_prune else 0))
    results = {}
    try:
        for files, rounds, prune_rounds in scales:
            root = trees / f"cache-{files}"
            if not root.exists():
                t = time.perf_counter()
                archives, envs = (2_000, 500) if files <= 200_000 else (8_000, 2_000)
                g = generate(root, Scale(files, archives, envs))
                print(f"generated {g.links} entries in {time.perf_counter() - t:.1f} s", file=sys.stderr)
            label = f"{_count(root) // 1000}k entries"
            print(f"measuring {label} ({rounds} rounds)…", file=sys.stderr)
            results[label] = measure(root, rounds, prune_rounds=prune_rounds, work=tmp / "work")
            if len(scales) > 1:  # what is measured so far, in case the larger tree takes too long
                print(_table(results), file=sys.stderr, flush=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(_table(results))
    if args.json:
        print(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
