"""The demo cache written without uv, in uv 0.13's exact layout.

Used by ``envtui --demo`` when no uv is installed, and by the snapshot tests (fixed paths, fixed
times, stand-in interpreters) because it is deterministic. Every name is the one uv would use:
``CACHEDIR.TAG`` with its signature, ``interpreter-v5/<shard>/<key>.msgpack`` holding
``[timestamp, [platform, info]]`` in rmp-serde's positional layout, script environments named by
``script_environment_name``, cached environments linked from ``environments-v2/<cache_digest of the
interpreter>/<resolution hash>`` into ``archive-v0``, with files hardlinked from unpacked wheels.
"""

from __future__ import annotations

import base64
import hashlib
import os
import platform
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

import msgpack

from ..core.digest import PathKey, cache_digest, script_environment_name
from ..core.interpreters import current_shard, interpreter_key
from ..core.locate import CACHEDIR_TAG_SIGNATURE
from .build import DANGLING_TOOL, DAY, SCRIPTS, TOOLS, WHEELS, DemoTool, set_last_used, write_scripts
from .wheels import wheel_files

__all__ = ["Interpreter", "build_synthetic_cache", "fake_interpreters", "local_interpreters"]

UV_VERSION = "0.13.9"


@dataclass(frozen=True)
class Interpreter:
    """An interpreter the synthetic cache refers to."""

    executable: str
    """Absolute path of ``bin/python3``."""
    version: str
    """Full version, e.g. ``"3.12.1"``."""
    prefix: str
    """``sys.prefix`` (and base prefix): the directory above ``bin``."""

    @property
    def minor(self) -> str:
        """``"3.12"`` for ``"3.12.1"``."""
        return ".".join(self.version.split(".")[:2])


def local_interpreters(found: Iterable[tuple[str, str]]) -> list[Interpreter]:
    """Ask each ``(executable, "3.N")`` for its full version and prefix; drop those that fail."""
    out = []
    for exe, _minor in found:
        try:
            proc = subprocess.run(
                [exe, "-c", "import sys, platform; print(platform.python_version()); print(sys.base_prefix)"],
                capture_output=True, text=True, timeout=20,
            )
            version, prefix = proc.stdout.split()[:2]
        except (OSError, subprocess.SubprocessError, ValueError):
            continue
        out.append(Interpreter(exe, version, prefix))
    return out


def fake_interpreters(base: Path, versions: Sequence[str] = ("3.12.1", "3.11.7", "3.9.18")) -> list[Interpreter]:
    """Create stand-in interpreters (empty executable files) under ``base/pythons``: fixed paths for
    snapshot tests, where real interpreters would differ between machines."""
    out = []
    for version in versions:
        prefix = base / "pythons" / f"cpython-{version}"
        exe = prefix / "bin" / "python3"
        exe.parent.mkdir(parents=True, exist_ok=True)
        exe.write_text("#!/bin/sh\nexit 1\n")
        exe.chmod(0o755)
        out.append(Interpreter(str(exe), version, str(prefix)))
    return out


def _id(*parts: str) -> str:
    # archive-v0 ids are 16 URL-safe base64 characters (random in uv; derived here to stay stable).
    return base64.urlsafe_b64encode(hashlib.sha256("/".join(parts).encode()).digest())[:16].decode()


def _touch_markers(root: Path, lock: bool = True) -> None:
    (root / "CACHEDIR.TAG").write_bytes(CACHEDIR_TAG_SIGNATURE)
    (root / ".gitignore").write_text("*")
    if lock:
        (root / ".lock").touch()


def _query(interp: Interpreter, executable: str, prefix: str, timestamp_ns: int) -> bytes:
    minor = interp.minor
    markers = {
        "implementation_name": "cpython", "implementation_version": interp.version, "os_name": "posix",
        "platform_machine": platform.machine(), "platform_python_implementation": "CPython",
        "platform_release": platform.release(), "platform_system": platform.system(),
        "platform_version": "#1 SMP", "python_full_version": interp.version, "python_version": minor,
        "sys_platform": "linux",
    }
    site = f"{prefix}/lib/python{minor}/site-packages"
    fields = [
        markers,
        [site, site, f"{prefix}/bin", prefix, f"{prefix}/include/python{minor}"],
        [f"lib/python{minor}/site-packages", f"lib/python{minor}/site-packages", "bin", "", f"include/site/python{minor}"],
        True, prefix, interp.prefix, interp.prefix, interp.executable, executable,
        [f"{interp.prefix}/lib/python{minor}", site], [site], f"{interp.prefix}/lib/python{minor}",
        [".so"], False, "64", False, False,
    ]
    host = [["manylinux", 2, 36], platform.machine(), ["flags", ""]]
    return msgpack.packb([list(divmod(timestamp_ns, 1_000_000_000)), [host, fields]])


def _write_query(cache: Path, interp: Interpreter, executable: str, prefix: str, timestamp_ns: int | None = None) -> None:
    canonical = os.path.realpath(executable)
    if timestamp_ns is None:
        timestamp_ns = os.stat(canonical).st_ctime_ns  # fresh: uv compares this with the ctime
    shard = cache / "interpreter-v5" / current_shard()
    shard.mkdir(parents=True, exist_ok=True)
    (shard / f"{interpreter_key(executable, canonical)}.msgpack").write_bytes(_query(interp, executable, prefix, timestamp_ns))


def _unpack_wheels(cache: Path) -> dict[tuple[str, str], Path]:
    """Unpack every demo wheel into ``archive-v0`` and link it from ``wheels-v8`` as uv does."""
    out = {}
    index = cache / "wheels-v8" / "index" / cache_digest("file-wheelhouse")
    for name, version, options in WHEELS:
        entry = cache / "archive-v0" / _id("wheel", name, version)
        for rel, data in wheel_files(name, version, **options).items():
            (entry / rel).parent.mkdir(parents=True, exist_ok=True)
            (entry / rel).write_bytes(data)
        link = index / name / f"{version}-py3-none-any"
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(os.path.relpath(entry, link.parent))
        link.with_name(link.name + ".lock").touch()
        out[(name, version)] = entry
    return out


def _resolve(names: Iterable[str], pins: dict[str, str] | None = None) -> list[tuple[str, str]]:
    """Names to ``(name, version)``, with their requirements: the newest version unless pinned."""
    pins = pins or {}
    todo, done = list(names), {}
    while todo:
        name = todo.pop()
        if name in done:
            continue
        versions = [(v, o) for n, v, o in WHEELS if n == name]
        version, options = next(((v, o) for v, o in versions if v == pins.get(name)), versions[-1])
        done[name] = version
        todo.extend(options.get("requires", ()))
    return sorted(done.items())


def _venv(root: Path, interp: Interpreter, dists: list[tuple[str, str]], wheels: dict, prompt: str | None) -> None:
    root.mkdir(parents=True)
    _touch_markers(root)
    cfg = f"home = {os.path.dirname(interp.executable)}\nimplementation = CPython\nuv = {UV_VERSION}\n"
    cfg += f"version_info = {interp.version}\ninclude-system-site-packages = false\n"
    (root / "pyvenv.cfg").write_text(cfg + (f"prompt = {prompt}\n" if prompt else ""))
    bindir = root / "bin"
    bindir.mkdir()
    (bindir / "python").symlink_to(interp.executable)
    for alias in ("python3", f"python{interp.minor}"):
        (bindir / alias).symlink_to("python")
    (root / "lib64").symlink_to("lib")
    site = root / "lib" / f"python{interp.minor}" / "site-packages"
    for name, version in dists:
        entry = wheels[(name, version)]
        for src in entry.rglob("*"):
            dest = site / src.relative_to(entry)
            if src.is_dir():
                dest.mkdir(parents=True, exist_ok=True)
            else:
                dest.parent.mkdir(parents=True, exist_ok=True)
                os.link(src, dest)  # uv's default link mode on Linux: hardlinks into archive-v0
        if (entry / f"{name}-{version}.dist-info" / "entry_points.txt").exists():
            (bindir / name).write_text(f"#!{root}/bin/python\nfrom {name} import main\nmain()\n")


def _cached_env(cache: Path, tool: DemoTool, interp: Interpreter, wheels: dict, *, dangling: bool = False) -> Path:
    pins = {tool.name: tool.version} if tool.version else {}
    dists = _resolve([tool.name, *tool.with_], pins)
    resolution = cache_digest(tuple(f"{n}=={v}" for n, v in dists))
    target = cache / "archive-v0" / _id("env", interp.executable, resolution)
    if not dangling:
        _venv(target, interp, dists, wheels, None)
    group = cache / "environments-v2" / cache_digest(PathKey.of(os.path.realpath(interp.executable)))
    group.mkdir(parents=True, exist_ok=True)
    link = group / resolution
    link.symlink_to(Path("..", "..", "archive-v0", target.name))
    (group / f"{resolution}.lock").touch()
    return target / "pyvenv.cfg"


def build_synthetic_cache(base: Path, *, interpreters: Sequence[Interpreter], now: float) -> tuple[Path, list[Path]]:
    """Write the demo cache at ``base/cache`` and its scripts under ``base``, without running uv.

    ``interpreters`` (at least one) are what the entries refer to; ``now`` (epoch seconds) is the
    moment "last used" ages count back from. Returns ``(cache root, script paths)``. Raises
    ``ValueError`` with no interpreters, ``FileExistsError`` naming the path if ``base/cache`` exists.
    """
    if not interpreters:
        raise ValueError("the synthetic demo cache needs at least one interpreter")
    cache = base / "cache"
    cache.mkdir(parents=True)
    _touch_markers(cache)
    for interp in interpreters:
        _write_query(cache, interp, interp.executable, interp.prefix)
    # A venv with its own copy of an interpreter, queried a month ago and changed since: stale.
    stale = base / "old-project" / ".venv"
    (stale / "bin").mkdir(parents=True, exist_ok=True)
    (stale / "bin" / "python3").write_text("#!/bin/sh\nexit 1\n")
    # A month before ``now``: never the file's ctime, and the same on every build.
    _write_query(cache, interpreters[0], str(stale / "bin" / "python3"), str(stale), int(now - 30 * DAY) * 10**9)
    wheels = _unpack_wheels(cache)
    scripts = write_scripts(base)
    for spec, script in zip(SCRIPTS, scripts):
        interp = interpreters[spec.python % len(interpreters)]
        env = cache / "environments-v2" / script_environment_name(script)
        _venv(env, interp, _resolve(spec.deps), wheels, script.name)
        set_last_used(env / "pyvenv.cfg", spec.used_days_ago, now)
    for tool in TOOLS:
        cfg = _cached_env(cache, tool, interpreters[tool.python % len(interpreters)], wheels)
        set_last_used(cfg, tool.used_days_ago, now)
    _cached_env(cache, DANGLING_TOOL, interpreters[0], wheels, dangling=True)
    return cache, scripts
