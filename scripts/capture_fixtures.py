#!/usr/bin/env python3
"""Capture golden fixtures of the caches real uv releases write: ``tests/fixtures/uv-X.Y/``.

Run by hand (it needs PyPI: it installs each uv release and lets uv fetch cowsay, pycowsay and
six); the tests never run it, they read what it left. For every release in ``RELEASES``, and
once for a cache shared by 0.5.31 then 0.13.9, it

1. installs the release with ``pip install --isolated --no-deps --target`` (the wheel's binary);
2. builds a small cache in ``WORK/<name>/cache``: two PEP 723 scripts with ``dependencies = []``
   (one on pyenv's 3.12 through a symlinked ``python3``, one on the system ``python3``),
   ``uvx cowsay``, ``uvx --with six pycowsay``, ``uv run --with six python -c ...``;
3. records what that uv reports (``uv --version``, ``uv cache dir``, ``uv python find``, ``uv
   python find PY``, ``uv python find --script S`` where it exists, each run's ``sys`` as the
   program printed it, and the executables uv said it queried, from its ``-vv`` log) in
   ``report.json``;
4. copies the small files that matter into ``tree/`` at their cache-relative paths: interpreter
   entries (``*.msgpack``), every ``pyvenv.cfg``, every ``.dist-info``'s ``METADATA`` (header
   block only) and ``entry_points.txt``, ``CACHEDIR.TAG`` and ``.lock``; and writes every symlink
   of the cache with its target, as uv wrote it, to ``links.json``. No wheels, no other files.

The caches stay in WORK (default /tmp/envtui-gen-caches) for inspection.

    python scripts/capture_fixtures.py [--work DIR] [--out tests/fixtures] [--only 0.7.22 ...] [--python PY]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

RELEASES = ["0.4.30", "0.5.31", "0.7.22", "0.9.30", "0.12.24", "0.13.9"]
SHARED = ("0.5.31", "0.13.9")
PY312 = "/root/.pyenv/versions/3.12.1/bin/python3"  # a symlink to python3.12: absolute != canonical
PATH = "/usr/bin:/bin"  # the system python3 (a symlink to python3.11) is the one uv finds on PATH

PROBE = (
    "import json, sys, platform, os; print('ENVTUI-PROBE ' + json.dumps({"
    "'sys_executable': sys.executable, 'sys_prefix': sys.prefix, 'sys_base_prefix': sys.base_prefix, "
    "'sys_base_exec_prefix': sys.base_exec_prefix, "
    "'base_executable': getattr(sys, '_base_executable', None), "
    "'python_full_version': platform.python_version(), 'implementation_name': sys.implementation.name, "
    "'realpath': os.path.realpath(sys.executable)}))"
)

SCRIPT = """# /// script
# dependencies = []
# ///
{probe}
"""

# uv's -vv log names each executable it runs its query script in (InterpreterInfo::query_cached).
_QUERIED = re.compile(r"Querying interpreter executable at:? `?([^`\s]+)|Probing interpreter info for:? `?([^`\s]+)")


def _run(argv: list[str], env: dict, cwd: Path) -> dict:
    proc = subprocess.run(argv, env=env, cwd=cwd, capture_output=True, text=True, timeout=600)
    probe = None
    for line in proc.stdout.splitlines():
        if line.startswith("ENVTUI-PROBE "):
            probe = json.loads(line[len("ENVTUI-PROBE "):])
    queried = sorted({a or b for a, b in _QUERIED.findall(proc.stderr)})
    tail = [l for l in proc.stderr.splitlines() if not l.startswith(("DEBUG", "TRACE", " "))][-8:]
    return {"argv": [os.path.basename(argv[0]), *argv[1:]], "rc": proc.returncode,
            "stdout": proc.stdout if probe is None else None, "probe": probe, "queried": queried,
            "stderr_tail": tail}


def install_uv(version: str, work: Path) -> Path:
    target = work / "releases" / version
    uv = target / "bin" / "uv"
    if not uv.exists():
        subprocess.run([sys.executable, "-m", "pip", "install", "--isolated", "--quiet", "--no-deps",
                        "--target", str(target), f"uv=={version}"], check=True)
    return uv


def build(uv: Path, home: Path, cache: Path, python: str = PY312) -> dict:
    """Run the workload with ``uv`` against ``cache``; return what uv reported."""
    scripts = home / "scripts"
    scripts.mkdir(parents=True, exist_ok=True)
    hello, other = scripts / "hello.py", scripts / "Other Tool.py"
    for s in (hello, other):
        s.write_text(SCRIPT.format(probe=PROBE))
    env = {
        "PATH": PATH, "HOME": str(home), "XDG_CONFIG_HOME": str(home / "config"),
        "XDG_DATA_HOME": str(home / "data"), "XDG_CACHE_HOME": str(home / "xdg-cache"),
        "UV_CACHE_DIR": str(cache), "UV_PYTHON_INSTALL_DIR": str(home / "python"),
        "UV_TOOL_DIR": str(home / "tools"), "UV_PYTHON_DOWNLOADS": "never", "UV_NO_PROGRESS": "1",
        "SSL_CERT_FILE": "/etc/ssl/certs/ca-certificates.crt", "TMPDIR": str(home / "tmp"),
        # uv before 0.6 logs its interpreter queries at trace level only under RUST_LOG.
        "RUST_LOG": "uv=trace,uv_python=trace",
    }
    (home / "tmp").mkdir(exist_ok=True)
    u, PY312 = str(uv), python  # noqa: N806 - the name the commands below read
    runs = {
        "version": [u, "--version"],
        "cache_dir": [u, "cache", "dir"],
        "run_hello": [u, "-vv", "run", "--python", PY312, str(hello)],
        "run_other": [u, "-vv", "run", str(other)],
        "run_hello_again": [u, "-vv", "run", "--python", PY312, str(hello)],
        "uvx_cowsay": [u, "-vv", "tool", "run", "--python", PY312, "cowsay", "-t", "moo"],
        "uvx_with_six": [u, "-vv", "tool", "run", "--python", PY312, "--with", "six", "pycowsay", "moo"],
        "run_with_six": [u, "-vv", "run", "--no-project", "--python", PY312, "--with", "six", "python", "-c", PROBE],
        "find": [u, "-vv", "python", "find"],
        "find_py312": [u, "-vv", "python", "find", PY312],
        "find_script_hello": [u, "-vv", "python", "find", "--script", str(hello)],
        "find_script_other": [u, "-vv", "python", "find", "--script", str(other)],
    }
    out = {name: _run(argv, env, home) for name, argv in runs.items()}
    # What each interpreter uv queried says about itself, asked directly (not through uv).
    probes = {}
    for exe in sorted({q for r in out.values() for q in r["queried"]}):
        if os.path.exists(exe):
            p = _run([exe, "-c", PROBE], {"PATH": PATH}, home)
            st = os.stat(os.path.realpath(exe))  # uv's Timestamp: the canonical executable's ctime
            probes[exe] = {**p["probe"], "canonical_ctime_ns": st.st_ctime_ns, "canonical_mtime_ns": st.st_mtime_ns}
    return {"uv": str(uv), "home": str(home), "cache": str(cache), "scripts": [str(hello), str(other)],
            "python": python, "path": PATH, "runs": out, "probes": probes}


def _keep(rel: Path) -> bool:
    name = rel.name
    if rel.parts[0].startswith("interpreter-v") and name.endswith(".msgpack"):
        return True
    if name in ("pyvenv.cfg", "CACHEDIR.TAG", ".lock") and (len(rel.parts) == 1 or name == "pyvenv.cfg"):
        return True
    return rel.parent.name.endswith(".dist-info") and name in ("METADATA", "entry_points.txt")


def snapshot(cache: Path, dest: Path) -> dict:
    """Copy the small files of ``cache`` into ``dest/tree`` and list its symlinks."""
    tree = dest / "tree"
    if tree.exists():
        shutil.rmtree(tree)
    links, copied, top = [], 0, []
    for entry in sorted(os.scandir(cache), key=lambda e: e.name):
        top.append({"name": entry.name, "dir": entry.is_dir(follow_symlinks=False)})
    for dirpath, dirnames, filenames in os.walk(cache):
        dirnames.sort()
        for name in sorted(dirnames + filenames):
            path = Path(dirpath) / name
            rel = path.relative_to(cache)
            if path.is_symlink():
                links.append({"path": str(rel), "target": os.readlink(path)})
                continue
            if name in filenames and _keep(rel):
                out = tree / rel
                out.parent.mkdir(parents=True, exist_ok=True)
                data = path.read_bytes()
                if name == "METADATA":  # the header block is what envtui reads; drop the long description
                    data = data.split(b"\n\n", 1)[0] + b"\n"
                out.write_bytes(data)
                copied += 1
    (dest / "links.json").write_text(json.dumps(links, indent=1) + "\n")
    return {"top_level": top, "files_copied": copied, "links": len(links)}


def _note(name: str, versions: list[str], reports: list[dict], layout: dict) -> str:
    b = reports[0]
    runs = "\n".join(f"- `{' '.join(r['argv'])}` (exit {r['rc']})" for r in b["runs"].values())
    said = "\n".join(f"- {r['runs']['version']['stdout'].strip()}" for r in reports)
    return f"""# {name}: a cache written by uv {' then '.join(versions)}

Made by `scripts/capture_fixtures.py` (run by hand, with PyPI reachable), one run per release:
{said}

Original paths (every absolute path inside these files refers to them; they need not exist here):
- cache: `{b['cache']}` (the real cache is kept there for inspection)
- scripts: {', '.join(f'`{s}`' for s in b['scripts'])} (PEP 723, `dependencies = []`)
- `--python {b['python']}` (a symlink to python3.12); `PATH={b['path']}` (its `python3` links to python3.11)

Commands, in order (each release ran them all), each with `UV_CACHE_DIR` set to the cache and `UV_PYTHON_DOWNLOADS=never`:
{runs}

Files:
- `report.json`: each command's exit code, what the program printed about its `sys` (`probe`), uv's
  own output (`stdout`), the executables uv's trace log says it queried (`queried`), and each
  queried executable asked directly (`probes`, with its canonical path's ctime and mtime).
- `tree/`: at their cache-relative paths, {layout['files_copied']} files: interpreter entries
  (`*.msgpack`), every `pyvenv.cfg`, `.dist-info` `METADATA` (header block only) and
  `entry_points.txt`, `CACHEDIR.TAG` and `.lock` where uv made one. No wheels, nothing else.
- `links.json`: every symlink of the cache ({layout['links']}), with its target exactly as uv wrote it.
"""


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", type=Path, default=Path("/tmp/envtui-gen-caches"))
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parent.parent / "tests" / "fixtures")
    ap.add_argument("--only", nargs="*", help="releases to capture (and 'shared')")
    ap.add_argument("--python", default=PY312, help="a python3 symlink to run scripts and tools with")
    args = ap.parse_args()
    plans = [(f"uv-{'.'.join(v.split('.')[:2])}", [v]) for v in RELEASES]
    plans.append(("uv-0.5+0.13", list(SHARED)))
    for name, versions in plans:
        if args.only and not ({*versions} & {*args.only} if len(versions) == 1 else "shared" in args.only):
            continue
        print(f"capture {name}: uv {' then '.join(versions)}", file=sys.stderr, flush=True)
        home = args.work / name
        if home.exists():
            shutil.rmtree(home)
        cache = home / "cache"
        reports = [build(install_uv(v, args.work), home, cache, args.python) for v in versions]
        dest = args.out / name
        dest.mkdir(parents=True, exist_ok=True)
        layout = snapshot(cache, dest)
        report = {"releases": versions, "builds": reports, "layout": layout}
        (dest / "report.json").write_text(json.dumps(report, indent=1, sort_keys=True) + "\n")
        (dest / "NOTE.md").write_text(_note(name, versions, reports, layout))
        print(f"  {layout['files_copied']} files, {layout['links']} links -> {dest}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
