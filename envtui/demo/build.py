"""The demo cache behind ``envtui --demo``: a realistic uv cache built in seconds, offline.

With a uv (on ``PATH``, or the ``uv`` package from PyPI) the cache is made by uv itself: script
environments for PEP 723 scripts, cached tool environments (``uv tool run``) installed from a
local wheelhouse, one interpreter query per interpreter found (several where the machine has
them), one stale interpreter query (a venv whose interpreter changed after uv queried it) and one
dangling link (a cached environment whose archive entry was deleted). Without uv the same content
is written directly in uv 0.13's layout (see ``envtui.demo.synthetic``), and the note says so.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from ..core.digest import script_environment_name
from ..core.locate import CacheLocation
from ..core.uvcli import UvFailed, find_uv, uv_output
from .wheels import make_wheel

__all__ = ["DemoNote", "DemoScript", "DemoTool", "build_demo_cache", "find_interpreters"]

DAY = 86400.0


@dataclass(frozen=True)
class DemoScript:
    """A PEP 723 script the demo runs once."""

    relpath: str
    """Where it lives under the demo directory."""
    deps: tuple[str, ...]
    """Its ``dependencies``: names from ``WHEELS``."""
    python: int
    """Which interpreter runs it: an index into the interpreters found (modulo their number)."""
    used_days_ago: float
    """Its environment's "last used" age, in days (set on ``pyvenv.cfg``'s access time)."""


@dataclass(frozen=True)
class DemoTool:
    """A tool the demo runs once with ``uv tool run``: one cached environment."""

    name: str
    """The tool's distribution name, from ``WHEELS``."""
    version: str | None
    """A pinned version, or ``None`` for the newest in the wheelhouse."""
    with_: tuple[str, ...]
    """Extra distributions (``--with``)."""
    python: int
    """Index into the interpreters found (modulo their number)."""
    used_days_ago: float
    """The environment's "last used" age, in days."""


@dataclass(frozen=True)
class DemoNote:
    """What the demo built, for the TUI."""

    root: Path
    """The demo directory (cache, scripts, wheelhouse): delete it when done."""
    scripts: list[str] = field(default_factory=list)
    """Absolute paths of the demo's scripts, so script environments are named after them."""
    message: str = ""
    """One sentence for the user: what was built, and how (real uv or synthetic)."""
    real_uv: bool = False
    """Whether uv itself built the cache."""


#: (name, version, make_wheel options): the demo's wheelhouse.
WHEELS: tuple[tuple[str, str, dict], ...] = (
    ("pyfmt", "1.0", {}),
    ("pyfmt", "2.0", {}),
    ("linty", "0.3", {"requires": ("helperlib",)}),
    ("bigdata", "1.0", {"extra_files": 40, "file_size": 16384}),
    ("oldtool", "0.9", {}),
    ("helperlib", "0.1", {"console_script": False}),
    ("textwrapx", "1.2", {"console_script": False, "extra_files": 4}),
)

SCRIPTS: tuple[DemoScript, ...] = (
    DemoScript("scripts/fetch_weather.py", ("helperlib",), 0, 0.2),
    DemoScript("scripts/plot_sales.py", ("textwrapx",), 1, 3),
    DemoScript("scripts/report.py", ("helperlib", "textwrapx"), 2, 12),
    DemoScript("scripts/hello.py", (), 1, 1),
    DemoScript("notes/clean up notes.py", (), 0, 40),
)

TOOLS: tuple[DemoTool, ...] = (
    DemoTool("pyfmt", "1.0", (), 0, 20),
    DemoTool("pyfmt", "2.0", (), 1, 0.5),
    DemoTool("pyfmt", None, ("helperlib",), 0, 2),
    DemoTool("linty", None, (), 0, 5),
    DemoTool("bigdata", None, (), 2, 60),
)

#: Run, then its archive entry deleted: the dangling link.
DANGLING_TOOL = DemoTool("oldtool", "0.9", (), 0, 90)

SCRIPT_TEMPLATE = """# /// script
# requires-python = ">=3.8"
# dependencies = [{deps}]
# ///
import sys

print("{name}", sys.version_info[:2])
"""

_PYENV_VERSION = re.compile(r"^3\.(\d+)\.(\d+)$")


def find_interpreters(limit: int = 3) -> list[tuple[str, str]]:
    """Up to ``limit`` CPython interpreters of distinct minor versions (3.8 or newer), newest first,
    as ``(absolute executable, "3.N")``: pyenv's versions, then ``python3.N`` on ``PATH`` (never
    pyenv's shims, never a venv's), then the base interpreter running envtui. Reads names only:
    runs nothing."""
    candidates: list[tuple[str, tuple[int, int]]] = []
    pyenv = Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv") / "versions"
    if pyenv.is_dir():
        for d in pyenv.iterdir():
            m = _PYENV_VERSION.match(d.name)
            if m and int(m[1]) >= 8 and (d / "bin" / "python3").exists():
                candidates.append((str(d / "bin" / "python3"), (3, int(m[1]))))
    for minor in range(20, 7, -1):
        exe = shutil.which(f"python3.{minor}")
        # A venv's python (envtui's own, first on PATH) is not a base interpreter.
        if exe and "shims" not in Path(exe).parts and not (Path(exe).parent.parent / "pyvenv.cfg").exists():
            candidates.append((os.path.abspath(exe), (3, minor)))
    base = getattr(sys, "_base_executable", None) or sys.executable
    if base and os.path.exists(base):
        candidates.append((os.path.abspath(base), sys.version_info[:2]))
    candidates.sort(key=lambda c: c[1], reverse=True)
    out: list[tuple[str, str]] = []
    minors: set[tuple[int, int]] = set()
    for exe, version in candidates:
        if version in minors:
            continue
        minors.add(version)
        out.append((exe, f"{version[0]}.{version[1]}"))
        if len(out) >= limit:
            break
    return out


def write_scripts(base: Path) -> list[Path]:
    """Write the demo's ``SCRIPTS`` under ``base``; returns their absolute paths, in order."""
    out = []
    for s in SCRIPTS:
        path = (base / s.relpath).absolute()
        path.parent.mkdir(parents=True, exist_ok=True)
        deps = ", ".join(f'"{d}"' for d in s.deps)
        path.write_text(SCRIPT_TEMPLATE.format(deps=deps, name=path.stem), "utf-8")
        out.append(path)
    return out


def set_last_used(cfg: Path, days_ago: float, now: float) -> None:
    """Make ``cfg`` (a ``pyvenv.cfg``) look last used ``days_ago`` days before ``now`` (epoch
    seconds) and built a week before that. Raises ``OSError`` naming the file."""
    used = now - days_ago * DAY
    os.utime(cfg, (used, used - 7 * DAY))


def _uv_env(cache: Path, wheelhouse: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("UV_", "VIRTUAL_ENV", "PYTHONHOME"))}
    env.update(
        UV_CACHE_DIR=str(cache),
        UV_OFFLINE="1",
        UV_NO_CONFIG="1",
        UV_PYTHON_DOWNLOADS="never",
        UV_NO_MANAGED_PYTHON="1",
        UV_FIND_LINKS=str(wheelhouse),
        UV_NO_PROGRESS="1",
    )
    return env


def _tool_args(tool: DemoTool, python: str) -> list[str]:
    args = ["tool", "run", "--python", python]
    for w in tool.with_:
        args += ["--with", w]
    return args + [f"{tool.name}=={tool.version}" if tool.version else tool.name]


def _links(cache: Path) -> list[Path]:
    return sorted(p for p in cache.glob("environments-v*/*/*") if p.is_symlink())


def _build_with_uv(uv: str, base: Path, now: float, progress: Callable[[str], None]) -> tuple[Path, list[Path], list[str]]:
    cache, wheelhouse = base / "cache", base / "wheelhouse"
    env = _uv_env(cache, wheelhouse)
    pythons = [exe for exe, _ in find_interpreters()]
    if not pythons:
        raise RuntimeError("no Python 3.8+ interpreter found for uv to use")
    problems: list[str] = []

    def uv_run(args: list[str]) -> None:
        try:
            uv_output([uv, *args], env, timeout=120, cwd=str(base))
        except UvFailed as err:
            problems.append(f"uv {' '.join(args[:2])} failed: {err.reason}")

    scripts = write_scripts(base)
    progress(f"running uv with {len(pythons)} interpreter(s): {', '.join(pythons)}")
    # The stale interpreter query: a venv with its own copy of the interpreter, queried, then changed.
    old_venv = base / "old-project" / ".venv"
    venv = subprocess.run([pythons[0], "-m", "venv", "--copies", "--without-pip", str(old_venv)], capture_output=True, timeout=60)
    jobs = [["run", "--python", pythons[s.python % len(pythons)], str(p)] for s, p in zip(SCRIPTS, scripts)]
    jobs += [_tool_args(t, pythons[t.python % len(pythons)]) for t in TOOLS]
    if venv.returncode == 0:
        jobs.append(["python", "find", str(old_venv / "bin" / "python3")])
    else:
        problems.append(f"no stale interpreter query: could not make a venv at {old_venv}")
    uv_run(_tool_args(DANGLING_TOOL, pythons[0]))
    doomed = {link.resolve() for link in _links(cache)}
    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(uv_run, jobs))
    if venv.returncode == 0:
        os.utime(old_venv / "bin" / "python3")  # a new ctime: uv's cached answer is now stale
    for target in doomed:
        shutil.rmtree(target, ignore_errors=True)
    for s, p in zip(SCRIPTS, scripts):
        cfg = cache / "environments-v2" / script_environment_name(p) / "pyvenv.cfg"
        if cfg.exists():
            set_last_used(cfg, s.used_days_ago, now)
    for i, link in enumerate(_links(cache)):
        cfg = link / "pyvenv.cfg"
        if cfg.exists():
            set_last_used(cfg, TOOLS[i % len(TOOLS)].used_days_ago, now)
    return cache, scripts, problems


def build_demo_cache(
    base: Path | None = None,
    *,
    uv: str | None = None,
    synthetic: bool = False,
    progress: Callable[[str], None] | None = None,
) -> tuple[CacheLocation, DemoNote]:
    """Build the demo cache under ``base`` (default: a new ``envtui-demo-*`` temporary directory).

    Uses ``uv`` (default: :func:`find_uv`) unless ``synthetic`` is true or no uv is found; then
    writes the same content in uv's layout without running uv. ``progress(text)`` is told what is
    happening. Returns the cache location (source ``"--demo"``) and a :class:`DemoNote`. Raises
    ``OSError`` naming the path if ``base`` cannot be written. Takes about a second with uv.
    """
    say = progress or (lambda _text: None)
    base = Path(tempfile.mkdtemp(prefix="envtui-demo-")) if base is None else base
    base.mkdir(parents=True, exist_ok=True)
    base = base.absolute()
    now = time.time()
    uv = None if synthetic else (uv or find_uv())
    reason = "asked for" if synthetic else "no uv found on PATH or as the `uv` Python package"
    if uv is not None:
        for name, version, options in WHEELS:
            make_wheel(base / "wheelhouse", name, version, **options)
        try:
            cache, scripts, problems = _build_with_uv(uv, base, now, say)
        except (OSError, RuntimeError, subprocess.SubprocessError) as err:
            reason = f"uv failed ({err})"
            shutil.rmtree(base / "cache", ignore_errors=True)
        else:
            message = f"Demo cache built by {uv} in {base}: scripts, tools, a stale interpreter query, a dangling link."
            if problems:
                message += " Not everything worked: " + "; ".join(problems[:3])
            note = DemoNote(base, [str(p) for p in scripts], message, real_uv=True)
            return CacheLocation(cache, "--demo"), note
    from .synthetic import build_synthetic_cache, local_interpreters

    say(f"writing a synthetic cache ({reason})")
    cache, scripts = build_synthetic_cache(base, interpreters=local_interpreters(find_interpreters()), now=now)
    message = f"Synthetic demo cache in {base} ({reason}): uv's layout, written by envtui, not by uv."
    return CacheLocation(cache, "--demo"), DemoNote(base, [str(p) for p in scripts], message, real_uv=False)
