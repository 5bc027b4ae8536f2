"""A uv cache, and the world around it, where every name a person did not choose through envtui
is hostile: Textual markup, unbalanced brackets, terminal escape sequences (OSC 52 writes the
clipboard, CSI clears the screen), a C1 control, a bidi override and newlines, in script names,
pyvenv.cfg prompts, package names and versions, wheel and archive entries, interpreter paths,
top-level cache entries, tool names and receipts, project directories and process command lines.

Only for the tests: :func:`build_hostile_world` writes it without uv, in uv 0.13's layout (over
the synthetic demo cache), and :func:`hostile_processes` starts the processes whose command lines
the TUI shows.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from envtui.core.digest import script_environment_name
from envtui.demo.synthetic import build_synthetic_cache, fake_interpreters

#: Names that are valid file names (no ``/``, no NUL); each is used where a file name goes.
NAMES = (
    "[x=1:2]colon.py",
    "[link=a:b]x.txt",
    "[bold]bold.py",
    "un[bal.py",
    "un]bal.py",
    "[@click=app.quit]x.py",
    "\x1b]52;c;aGkK\x07osc.py",
    "\x1b[2Jcsi.py",
    "\x9b31mc1.py",
    "\u202eyp.evil",
    "new\nline.py",
    "report [old].py",
)
#: What only text can hold (a ``/``): package metadata, receipts, command lines.
TEXT_ONLY = ("[/]", "a[/]b", "[/bold]")
EVERYTHING = NAMES + TEXT_ONLY


@dataclass(frozen=True)
class HostileWorld:
    """Where :func:`build_hostile_world` put things."""

    cache: Path
    """The cache root (its own path holds markup too)."""
    scripts: tuple[Path, ...]
    """The scripts behind the hostile script environments (and the demo's own)."""
    environments: dict[str, Path]
    """Each hostile script environment, by the script's file name."""
    python_dir: Path
    """``UV_PYTHON_INSTALL_DIR``."""
    tool_dir: Path
    """``UV_TOOL_DIR``."""
    roots: Path
    """The directory the project environments are found under."""


def _toml(value: str) -> str:
    return json.dumps(value)  # a JSON string is a TOML basic string (\uXXXX escapes included)


def _dist_info(site: Path, name: str, version: str) -> None:
    d = site / f"{name.replace('-', '_').replace('/', '_')}-{version.replace('/', '_')}.dist-info"
    d.mkdir(parents=True, exist_ok=True)
    # Header values cannot hold a newline; everything else goes in as it is.
    summary = " ".join(EVERYTHING).replace("\n", " ")
    meta = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\nSummary: {summary}\n"
    (d / "METADATA").write_text(meta, encoding="utf-8")


def wheel_name(name: str) -> str:
    """The ``Name`` the unpacked wheel of the hostile package ``name`` gives in its METADATA."""
    return name.replace("\n", " ").rsplit(".", 1)[0]


def _venv(path: Path, home: str, *, prompt: str | None = None, packages: tuple[str, ...] = ()) -> Path:
    site = path / "lib" / "python3.12" / "site-packages"
    site.mkdir(parents=True)
    (path / "bin").mkdir()
    os.symlink(os.path.join(home, "python3"), path / "bin" / "python")
    cfg = f"home = {home}\nimplementation = CPython\nuv = 0.13.9\nversion_info = 3.12.1\n"
    if prompt is not None:
        cfg += f"prompt = {prompt}\n"
    (path / "pyvenv.cfg").write_text(cfg, encoding="utf-8")
    for i, name in enumerate(packages):
        _dist_info(site, name.replace("\n", " "), f"{i}.0{TEXT_ONLY[i % len(TEXT_ONLY)]}")
    for name in NAMES:  # files with hostile names, for the look inside
        (site / name).write_bytes(b"x" * 100)
    return path


def build_hostile_world(base: Path) -> HostileWorld:
    """Write the synthetic demo cache under ``base/"c[x=1:2]"`` (stand-in interpreters under a
    hostile directory), then the hostile entries beside the demo's; the managed Python, tool and
    project directories beside it. Raises ``OSError`` naming a path that cannot be written."""
    top = base / "c[x=1:2] [bold]"
    interpreters = fake_interpreters(top / "[link=a:b]py")
    cache, demo_scripts = build_synthetic_cache(top, interpreters=interpreters, now=time.time())
    home = str(Path(interpreters[0].executable).parent)
    scripts, environments = [], {}
    for name in NAMES:
        script = top / "hostile" / name
        script.parent.mkdir(exist_ok=True)
        script.write_text("# /// script\n# dependencies = []\n# ///\n")
        env = cache / "environments-v2" / script_environment_name(script)
        _venv(env, home, prompt=name.replace("\n", " "), packages=EVERYTHING if name == NAMES[0] else ())
        scripts.append(script)
        environments[name] = env
    # A script environment whose script nobody knows: rebuilding it is refused, naming its prompt.
    _venv(cache / "environments-v2" / "orphan-0123456789abcdef", home, prompt="[x=1:2]orphan [/]")
    for i, name in enumerate(NAMES):
        (cache / name).write_bytes(b"f" * 10)  # a top-level entry uv does not own
        # A package in the wheel cache (its name one uv accepts: envtui lists no other), its one
        # version the hostile name, a link into an unpacked wheel whose METADATA names it hostile.
        package, version = f"hostile{i}", name
        index = cache / "wheels-v8" / "index" / "0123456789abcdef" / package
        index.mkdir(parents=True)
        entry = cache / "archive-v0" / f"hostile{i:09d}"
        (entry / package).mkdir(parents=True)
        (entry / package / "__init__.py").write_text("")
        dist_info = entry / f"{package}-{version}.dist-info"
        dist_info.mkdir()
        (dist_info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {wheel_name(name)}\nVersion: {version}\n")
        (index / f"{version}-py3-none-any").symlink_to(os.path.relpath(entry, index))
    python_dir, tool_dir, roots = base / "pythons", base / "tools", base / "roots"
    managed = python_dir / "cpython-3.12.1-linux-x86_64-gnu" / "bin"
    managed.mkdir(parents=True)
    (managed / "python3").write_bytes(b"\x7fELF" + b"p" * 4096)
    for name in NAMES:
        tool = _venv(tool_dir / name, str(managed), packages=(name,))
        receipt = "[tool]\nrequirements = [" + ", ".join(f"{{ name = {_toml(t)} }}" for t in (name, *TEXT_ONLY)) + "]\n"
        receipt += f"python = {_toml(name)}\n"
        receipt += f"entrypoints = [{{ name = {_toml(name)}, install-path = {_toml(str(base / name))} }}]\n"
        (tool / "uv-receipt.toml").write_text(receipt, encoding="utf-8")
        project = roots / name.replace(".", "_")
        project.mkdir(parents=True)
        (project / "pyproject.toml").write_text(f"[project]\nname = {_toml(name)}\nversion = {_toml(TEXT_ONLY[0])}\n")
        _venv(project / ".venv", str(managed), packages=(name, *TEXT_ONLY))
    return HostileWorld(cache, (*map(Path, demo_scripts), *scripts), environments, python_dir, tool_dir, roots)


#: Sleeps with hostile arguments; with a path as its first argument, holds a shared flock on it
#: first (as every uv command holds the cache's root lock).
_SLEEPER = """
import fcntl, os, sys, time
if sys.argv[1] != "-":
    fd = os.open(sys.argv[1], os.O_RDWR)
    fcntl.flock(fd, fcntl.LOCK_SH)
print("ready", flush=True)
time.sleep(600)
"""


@contextmanager
def hostile_processes(world: HostileWorld) -> Iterator[list[subprocess.Popen]]:
    """Two processes whose command lines hold every hostile name: one working inside the first
    hostile script environment (so it is in use), one holding uv's root lock of the cache (so a
    prune finds uv "running"). Both are ended on leaving."""
    procs = []
    try:
        for lock, cwd in (("-", world.environments[NAMES[0]]), (str(world.cache / ".lock"), world.cache)):
            p = subprocess.Popen([sys.executable, "-c", _SLEEPER, lock, *EVERYTHING], cwd=cwd,
                                 stdout=subprocess.PIPE, text=True)
            procs.append(p)
            assert p.stdout.readline() == "ready\n"
        yield procs
    finally:
        for p in procs:
            p.kill()
            p.wait()
