"""uv-managed Pythons: the installations in ``uv python dir``, and what runs on each.

uv installs each Python in ``<python dir>/<key>``, the key being
``{implementation}-{version}[+{variant}]-{os}-{arch}-{libc}`` (``cpython-3.12.1-linux-x86_64-gnu``),
and links ``{implementation}-{major}.{minor}-{os}-{arch}-{libc}`` to the newest patch release
(mirrors ``ManagedPythonInstallations`` and ``PythonInstallationKey``, crates/uv-python/src/managed.rs
and installation.rs). Environments made from it name it in ``pyvenv.cfg`` (``home``) and through
their ``bin/python`` link, either through the installation's own directory or its minor-version link.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable, Iterable, Mapping

from .contain import Container, below
from .errors import ScanCancelled

__all__ = ["ManagedPython", "Use", "find_users", "locate_python_dir", "scan_pythons", "uv_data_dir"]

INTERPRETER_ENTRY = "interpreter entry"

_KEY = re.compile(
    r"^(?P<implementation>[a-z]+)-(?P<version>\d+\.\d+(?:\.\d+)?(?:(?:a|b|rc)\d+)?)(?P<variant>\+[a-z0-9+]+)?"
    r"-(?P<os>[a-z0-9_]+)-(?P<arch>[a-z0-9_]+)-(?P<libc>[a-z0-9_]+)$"
)


@dataclass(frozen=True)
class Use:
    """Something that runs on a managed Python, or shares files with an entry."""

    kind: str
    """``script environment``, ``cached environment``, ``tool``, ``project environment``,
    ``interpreter entry``, ``archive entry``..."""
    path: Path
    """The user: an environment's directory, an interpreter entry's ``.msgpack``."""


@dataclass(frozen=True)
class ManagedPython:
    """One installation in uv's Python directory."""

    path: Path
    """The installation's directory."""
    key: str
    """Its directory name, uv's installation key (``cpython-3.12.1-linux-x86_64-gnu``)."""
    implementation: str
    """``cpython``, ``pypy``, ``graalpy``..."""
    version: str
    """``3.12.1``."""
    variant: str | None
    """``freethreaded``, ``debug``..., or ``None``."""
    platform: str
    """``{os}-{arch}-{libc}``, e.g. ``linux-x86_64-gnu``."""
    executable: Path | None
    """``bin/python{major}.{minor}`` (or ``bin/python3``, ``bin/python``) if it exists."""
    links: tuple[Path, ...] = ()
    """Minor-version links (``cpython-3.12-linux-x86_64-gnu``) in the Python directory that point at it."""
    used_by: tuple[Use, ...] = ()
    """What runs on it (see :func:`find_users`); empty until filled."""

    @property
    def environments(self) -> tuple[Use, ...]:
        """The environments that run on it: ``used_by`` without interpreter entries (a cached
        query keeps nothing alive; it only turns ``missing`` once the Python is gone)."""
        return tuple(u for u in self.used_by if u.kind != INTERPRETER_ENTRY)

    @property
    def minor(self) -> str:
        """``3.12``."""
        return ".".join(self.version.split(".")[:2])


def uv_data_dir(environ: Mapping[str, str] | None = None) -> Path:
    """uv's data directory: ``$XDG_DATA_HOME/uv``, else ``~/.local/share/uv`` (uv-dirs' ``user_state_dir``)."""
    env = os.environ if environ is None else environ
    base = env.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return Path(base) / "uv"


def locate_python_dir(
    environ: Mapping[str, str] | None = None, *, uv: str | None = None, timeout: float = 5.0
) -> tuple[Path, str]:
    """uv's managed Python directory and which source gave it: ``UV_PYTHON_INSTALL_DIR``, then
    what ``uv python dir`` prints, then ``<uv data dir>/python``. The directory may not exist.
    Mirrors ``ManagedPythonInstallations::from_settings`` (crates/uv-python/src/managed.rs)."""
    env = os.environ if environ is None else environ
    if env.get("UV_PYTHON_INSTALL_DIR"):
        return Path(env["UV_PYTHON_INSTALL_DIR"]).expanduser().absolute(), "UV_PYTHON_INSTALL_DIR"
    from .uvcli import uv_prints  # the one module that runs uv

    found = uv_prints(["python", "dir"], env, uv, timeout)
    if found:
        return Path(found).absolute(), "uv python dir"
    return uv_data_dir(env) / "python", "platform default"


def _executable(path: Path, version: str) -> Path | None:
    major, minor = version.split(".")[:2]  # a key's version always has both
    for name in (f"python{major}.{minor}", f"python{major}", "python"):
        if os.path.lexists(path / "bin" / name):
            return path / "bin" / name
    return None


def scan_pythons(python_dir: Path) -> list[ManagedPython]:
    """Every installation in ``python_dir``, sorted by key (a missing directory gives ``[]``).
    Names that are not installation keys (``.lock``, ``.temp``, ``.cache``) are passed over;
    symlinks are minor-version links, attached to the installation they point at: a directory
    of ``python_dir`` itself (however the link spells it), never one of the same name elsewhere."""
    try:
        with os.scandir(python_dir) as it:
            entries = sorted(it, key=lambda e: e.name)
    except OSError:
        return []
    home = os.path.realpath(python_dir)
    links: dict[str, list[Path]] = {}
    found: list[ManagedPython] = []
    for e in entries:
        m = _KEY.match(e.name)
        if not m:
            continue
        if e.is_symlink():
            target = os.path.realpath(e.path)
            if os.path.dirname(target) == home:
                links.setdefault(os.path.basename(target), []).append(Path(e.path))
            continue
        if not e.is_dir(follow_symlinks=False):
            continue
        path = Path(e.path)
        found.append(ManagedPython(
            path=path, key=e.name, implementation=m["implementation"], version=m["version"],
            variant=m["variant"][1:] if m["variant"] else None,
            platform=f"{m['os']}-{m['arch']}-{m['libc']}", executable=_executable(path, m["version"]),
        ))
    return [replace(p, links=tuple(links.get(p.key, ()))) for p in found]


def find_users(
    pythons: Iterable[ManagedPython],
    candidates: Iterable[tuple[Use, Iterable[str | None]]],
    *,
    should_stop: Callable[[], bool] | None = None,
) -> list[ManagedPython]:
    """Fill ``used_by`` of each of ``pythons``: a candidate uses an installation when one of its
    paths (a venv's ``pyvenv.cfg`` ``home`` and ``bin/python`` link target, an interpreter
    entry's executables and prefixes) lies inside the installation's directory or one of its
    minor-version links: as written (a link is followed by the venv, whatever it points at
    later), resolved, or through another mount of the same directory (:mod:`~envtui.core.contain`'s
    rule). Raises :class:`~envtui.core.errors.ScanCancelled` when ``should_stop()`` turns true
    (checked per candidate): a look cut short would make a Python look unused."""
    pythons = list(pythons)
    spelled: list[list[str]] = [[os.path.abspath(b) for b in (p.path, *p.links)] for p in pythons]
    tops = [Container(p.path) for p in pythons]
    users: list[list[Use]] = [[] for _ in pythons]
    for use, paths in candidates:
        if should_stop is not None and should_stop():
            raise ScanCancelled()
        hit: set[int] = set()
        for raw in paths:
            if not raw:
                continue
            written = os.path.abspath(raw)
            real = os.path.realpath(written)
            for i, top in enumerate(tops):
                if i not in hit and (any(below(written, b) for b in spelled[i]) or top.holds_resolved(real)):
                    hit.add(i)
        for i in sorted(hit):
            if use not in users[i]:
                users[i].append(use)
    return [replace(p, used_by=tuple(u)) for p, u in zip(pythons, users)]
