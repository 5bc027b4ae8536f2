"""Building real uv caches for tests, offline: local wheels, PEP 723 scripts, several interpreters.

Everything here drives the uv installed from PyPI as a test dependency (our oracle), with
``UV_OFFLINE=1`` and no managed-Python downloads, so no test needs the network.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from envtui.demo.wheels import make_wheel


def uv_bin() -> str:
    """The uv executable from the test environment (``uv`` on PyPI ships ``find_uv_bin``)."""
    try:
        from uv import find_uv_bin

        return find_uv_bin()
    except Exception as err:  # pragma: no cover - fall back to PATH
        found = shutil.which("uv")
        if not found:
            raise RuntimeError("uv is not installed: pip install -e '.[test]'") from err
        return found


def find_pythons(limit: int = 4) -> list[str]:
    """Distinct CPython executables (>= 3.8) on this machine, by canonical path: the running one
    first, then pyenv's versions, then ``python3.N`` on ``PATH``. Absolute paths, never shims."""
    candidates = [sys.executable]
    pyenv_root = os.environ.get("PYENV_ROOT") or os.path.expanduser("~/.pyenv")
    candidates += sorted(glob.glob(os.path.join(pyenv_root, "versions", "3.*", "bin", "python3")), reverse=True)
    for minor in range(14, 7, -1):
        exe = shutil.which(f"python3.{minor}")
        if exe and "shims" not in exe:
            candidates.append(exe)
    out: list[str] = []
    seen: set[str] = set()
    for exe in candidates:
        if not exe or not os.path.exists(exe):
            continue
        try:
            real = os.path.realpath(exe)
            version = subprocess.run(
                [exe, "-c", "import sys; print(sys.version_info >= (3, 8))"],
                capture_output=True, text=True, timeout=20,
            ).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            continue
        if version != "True" or real in seen:
            continue
        seen.add(real)
        out.append(exe)
        if len(out) >= limit:
            break
    return out


SCRIPT_TEMPLATE = """# /// script
# requires-python = ">=3.8"
# dependencies = [{deps}]
# ///
import sys
print("{name}", sys.version_info[:2])
"""


@dataclass
class UvCache:
    """A uv cache in ``root`` that tests fill through real uv, offline."""

    root: Path
    workdir: Path
    wheelhouse: Path
    uv: str = field(default_factory=uv_bin)

    @property
    def env(self) -> dict[str, str]:
        """The environment uv runs with: this cache, offline, no config files, no downloads."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(("UV_", "VIRTUAL_ENV", "PYTHONHOME"))}
        env.update(
            UV_CACHE_DIR=str(self.root),
            UV_OFFLINE="1",
            UV_NO_CONFIG="1",
            UV_PYTHON_DOWNLOADS="never",
            UV_NO_MANAGED_PYTHON="1",
            UV_FIND_LINKS=str(self.wheelhouse),
            UV_NO_PROGRESS="1",
        )
        return env

    def run(self, *args: str, check: bool = True, cwd: Path | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
        """Run ``uv *args`` and return the completed process (stdout and stderr as text)."""
        proc = subprocess.run(
            [self.uv, *args], capture_output=True, text=True, env=self.env, cwd=cwd or self.workdir, timeout=timeout
        )
        if check and proc.returncode != 0:
            raise AssertionError(f"uv {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
        return proc

    def write_script(self, relpath: str, deps: tuple[str, ...] = ()) -> Path:
        """Write a PEP 723 script at ``workdir/relpath`` and return its absolute path."""
        path = self.workdir / relpath
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(SCRIPT_TEMPLATE.format(deps=", ".join(f'"{d}"' for d in deps), name=path.stem), "utf-8")
        return path

    def run_script(self, script: Path | str, python: str | None = None, **kw) -> subprocess.CompletedProcess:
        """``uv run [--python P] SCRIPT``: creates or reuses the script environment."""
        args = ["run"] + (["--python", python] if python else []) + [str(script)]
        return self.run(*args, **kw)

    def uvx(self, tool: str, *args: str, python: str | None = None, with_: tuple[str, ...] = (), **kw) -> subprocess.CompletedProcess:
        """``uvx [--python P] [--with W]... TOOL ARGS``: creates or reuses a cached environment."""
        cmd = ["tool", "run"] + (["--python", python] if python else [])
        for w in with_:
            cmd += ["--with", w]
        return self.run(*cmd, tool, *args, **kw)


def standard_wheels(wheelhouse: Path) -> Path:
    """The wheels the tests use: ``tinytool`` 1.0 and 2.0 (a console script), ``helperlib`` 0.1
    (a library), and ``bigtool`` 1.0 (a console script with 40 files of 16 KiB)."""
    make_wheel(wheelhouse, "tinytool", "1.0")
    make_wheel(wheelhouse, "tinytool", "2.0")
    make_wheel(wheelhouse, "helperlib", "0.1", console_script=False)
    make_wheel(wheelhouse, "bigtool", "1.0", extra_files=40, file_size=16384)
    return wheelhouse
