"""Caches made by hand in ``tmp_path``, in the layouts uv writes (checked against real uv in
tests/integration/test_packages_uv.py and the golden fixtures of tests/fixtures): fast enough for
the mutation run of the modules that choose what a policy deletes."""

from __future__ import annotations

import os
import re
import sys
import time
from pathlib import Path

import msgpack
import pytest

from envtui.core import CacheLocation, scan_inventory
from envtui.core.digest import script_environment_name
from envtui.core.locate import CACHEDIR_TAG_SIGNATURE
from envtui.core.prune import safety

BLOCK = 4096
DAY = 86400.0
#: A moment long past (2001), for "unused for years".
OLD = 1_000_000_000.0
#: A base interpreter's directory that exists: the running Python's.
HOME = os.path.dirname(sys.executable)


def make_cache(root: Path, *buckets: str) -> Path:
    """A cache at ``root`` with uv's ``CACHEDIR.TAG`` and the buckets named (``archive-v0`` always)."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "CACHEDIR.TAG").write_bytes(CACHEDIR_TAG_SIGNATURE + b"\n")
    for b in ("archive-v0", *buckets):
        (root / b).mkdir(parents=True, exist_ok=True)
    return root


def unpacked(root: Path, ident: str, name: str, version: str, size: int = 2 * BLOCK, *, archive: str = "archive-v0",
             when: float | None = None) -> Path:
    """``archive-vN/<ident>``: an unpacked wheel of ``name`` ``version`` with one module of ``size``
    random bytes; its modification time set to ``when``."""
    d = root / archive / ident
    module = name.replace("-", "_").replace(".", "_")
    (d / module).mkdir(parents=True)
    (d / module / "__init__.py").write_bytes(os.urandom(size))
    info = d / f"{module}-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    if when is not None:
        os.utime(d, (when, when))
    return d


def wheel_link(root: Path, bucket: str, where: str, name: str, key: str, ident: str | None, *,
               absolute: bool = False, side: tuple[str, ...] = (".msgpack", ".lock")) -> Path:
    """``<bucket>/<where>/<name>/<key>`` (``where``: ``pypi``, ``index/<digest>``, ``url/<digest>``)
    linking to ``archive-v0/<ident>`` as uv does (relative from uv 0.11, absolute before), with
    its side files; a plain directory when ``ident`` is ``None``."""
    d = root / bucket / where / name
    d.mkdir(parents=True, exist_ok=True)
    link = d / key
    if ident is None:
        link.mkdir()
    elif absolute:
        link.symlink_to(root / "archive-v0" / ident)
    else:
        up = "../" * (len(Path(bucket, where, name).parts))
        link.symlink_to(f"{up}archive-v0/{ident}")
    for s in side:
        (d / f"{key}{s}").write_bytes(b"x")
    return link


def sdist_revision(root: Path, bucket: str, kind: str, digest: str, revision: str, name: str | None, *,
                   form: str = "list") -> Path:
    """``<bucket>/<kind>/<digest>/<revision>`` (``kind``: ``url``, ``path``; for ``git``, ``digest``
    is the repository and ``revision`` the sha) with a ``metadata.msgpack`` naming ``name`` as
    rmp-serde writes ``ResolutionMetadata`` (``form``: ``list``, positional; ``map``; ``garbage``)."""
    d = root / bucket / kind / digest / revision
    d.mkdir(parents=True)
    if form == "list":
        (d / "metadata.msgpack").write_bytes(msgpack.packb([name, "1.0", [], None, [], []]))
    elif form == "map":
        (d / "metadata.msgpack").write_bytes(msgpack.packb({"name": name, "version": "1.0"}))
    elif form == "garbage":
        (d / "metadata.msgpack").write_bytes(b"\xc1\xc1")
    return d


def pyvenv(path: Path, *, home: str = HOME, prompt: str | None = None,
           used: float | None = None, built: float | None = None, size: int = 2 * BLOCK) -> Path:
    """A venv at ``path``: ``pyvenv.cfg`` (its access time ``used``, modification time ``built``;
    both now when not given) and one file of ``size`` random bytes."""
    (path / "lib").mkdir(parents=True)
    (path / "lib" / "own.py").write_bytes(os.urandom(size))
    cfg = path / "pyvenv.cfg"
    text = f"home = {home}\nimplementation = CPython\nversion_info = 3.12.1\n"
    if prompt:
        text += f"prompt = {prompt}\n"
    cfg.write_text(text)
    now = time.time()
    os.utime(cfg, (now if used is None else used, now if built is None else built))
    return path


def script_env(root: Path, script: Path, **kw) -> Path:
    """The script environment uv makes for ``script``: ``environments-v2/<stem>-<digest>``."""
    return pyvenv(root / "environments-v2" / script_environment_name(script), prompt=script.name, **kw)


def cached_env(root: Path, ihash: str, rhash: str, ident: str, **kw) -> Path:
    """A cached environment: ``environments-v2/<ihash>/<rhash>`` (with its ``.lock``) linking to the
    persisted venv ``archive-v0/<ident>``; returns the link."""
    pyvenv(root / "archive-v0" / ident, **kw)
    group = root / "environments-v2" / ihash
    group.mkdir(parents=True, exist_ok=True)
    (group / rhash).symlink_to(f"../../archive-v0/{ident}")
    (group / f"{rhash}.lock").write_bytes(b"")
    return group / rhash


def scan(root: Path, scripts=()):
    return scan_inventory(CacheLocation(root, "--cache-dir"), known_scripts=[str(s) for s in scripts])


def tree(root: Path) -> set[str]:
    """Every path under ``root``, relative, links not followed."""
    out = set()
    for top, dirs, files in os.walk(root):
        out.update(os.path.relpath(os.path.join(top, n), root) for n in dirs + files)
    return out


class NoProcesses:
    """A look at the processes in which nobody uses anything (the in-use check has its own tests,
    tests/core/test_locks.py and test_safety.py): a plan here costs no read of /proc."""

    def using(self, dirs, parents=None):
        return []


@pytest.fixture(autouse=True)
def _no_process_scan(monkeypatch):
    monkeypatch.setattr(safety, "ProcessPaths", NoProcesses)


def _named(frame, function: str) -> bool:
    # The mutation run renames a module's functions and methods: x_NAME__mutmut_orig,
    # x_NAME__mutmut_12, x\u01c1Class\u01c1NAME__mutmut_3.
    name = frame.f_code.co_name
    return name == function or re.fullmatch(rf"x(_|\u01c1.*\u01c1){re.escape(function)}__mutmut_(orig|\d+)", name) is not None


def _code_frame(frame):
    """``frame``, or the first frame above it that is not the mutation run's trampoline (which
    calls a function's original or a mutant from a wrapper of its own: two frames between a
    function and its caller, in every module mutated)."""
    while frame is not None and frame.f_code.co_filename.endswith(_TRAMPOLINE):
        frame = frame.f_back
    return frame


_TRAMPOLINE = os.path.join("mutmut", "mutation", "trampoline.py")


def stop_in(*callers: str):
    """A ``should_stop`` that turns true only when asked from the frames ``callers``, innermost
    first (``stop_in("walk_stats", "users_of")``: by ``walk_stats`` called by ``users_of``): proof
    that a caller hands its cancellation on to that walk."""

    def should_stop() -> bool:
        frame = _code_frame(sys._getframe(1))
        for caller in callers:
            if frame is None or not _named(frame, caller):
                return False
            frame = _code_frame(frame.f_back)
        return True

    return should_stop


def stop_within(function: str):
    """A ``should_stop`` that turns true when asked anywhere inside ``function``."""

    def should_stop() -> bool:
        frame = sys._getframe(1)
        while frame is not None:
            if _named(frame, function):
                return True
            frame = frame.f_back
        return False

    return should_stop


class UsedBy:
    """A look at the processes in which one process uses the directories ``paths``."""

    def __init__(self, *paths: Path) -> None:
        from envtui.core.locks import ProcessInfo

        self.paths = {str(p) for p in paths}
        self.process = ProcessInfo(4242, "python serve.py", "uses it")

    def __call__(self):
        return self

    def using(self, dirs, parents=None):
        return [self.process] if any(str(d) in self.paths for d in dirs) else []
