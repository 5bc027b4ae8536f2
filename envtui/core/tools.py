"""Installed tools: the environments ``uv tool install`` keeps in ``uv tool dir``.

Each tool is a venv at ``<tool dir>/<name>`` holding ``uv-receipt.toml``: the requirements it was
installed with, the Python asked for, and the entry points uv linked into the tool bin directory
(mirrors ``Tool`` and ``ToolEntrypoint``, crates/uv-tool/src/tool.rs, and
``InstalledTools::from_settings``, crates/uv-tool/src/lib.rs).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Mapping

from packaging.utils import canonicalize_name

from .errors import EntryError, ScanCancelled
from .fsread import KIB, read_regular
from .projects import Venv, read_venv
from .pythons import uv_data_dir, uv_prints_dir

__all__ = ["EntryPoint", "Tool", "locate_tool_dir", "scan_tools"]

try:  # Python 3.11+
    import tomllib as _toml
except ModuleNotFoundError:  # pragma: no cover - 3.10
    import tomli as _toml  # type: ignore[no-redef]

RECEIPT = "uv-receipt.toml"


@dataclass(frozen=True)
class EntryPoint:
    """A command uv installed for a tool."""

    name: str
    """The command's name."""
    install_path: Path | None
    """Where uv put it (in the tool bin directory)."""
    source: str | None
    """The distribution that provides it (``from``)."""


@dataclass(frozen=True)
class Tool:
    """One installed tool."""

    name: str
    """The tool's directory name (its distribution's name)."""
    venv: Venv
    """Its environment."""
    requirements: tuple[str, ...] = ()
    """The requirements it was installed with, as PEP 508 strings (``tinytool``, ``helperlib>=1``)."""
    python_request: str | None = None
    """The Python asked for (``python`` in the receipt: ``3.12``, a path), or ``None``."""
    entry_points: tuple[EntryPoint, ...] = ()
    """The commands uv linked for it."""
    version: str | None = None
    """The installed version of the distribution named ``name``."""
    problems: tuple[str, ...] = ()
    """What could not be read (the receipt, the venv), each naming the path."""

    @property
    def path(self) -> Path:
        """The tool's environment directory."""
        return self.venv.path


def locate_tool_dir(
    environ: Mapping[str, str] | None = None, *, uv: str | None = None, timeout: float = 5.0
) -> tuple[Path, str]:
    """uv's tool directory and which source gave it: ``UV_TOOL_DIR``, then what ``uv tool dir``
    prints, then ``<uv data dir>/tools``. The directory may not exist."""
    env = os.environ if environ is None else environ
    if env.get("UV_TOOL_DIR"):
        return Path(env["UV_TOOL_DIR"]).expanduser().absolute(), "UV_TOOL_DIR"
    found = uv_prints_dir(["tool", "dir"], env, uv, timeout)
    if found is not None:
        return found.absolute(), "uv tool dir"
    return uv_data_dir(env) / "tools", "platform default"


def _requirement(item: object) -> str | None:
    if isinstance(item, str):
        return item
    if not isinstance(item, dict) or not isinstance(item.get("name"), str):
        return None
    text = item["name"]
    extras = item.get("extras")
    if isinstance(extras, list) and extras:
        text += "[" + ",".join(map(str, extras)) + "]"
    for key in ("url", "path", "directory", "editable", "git"):
        if isinstance(item.get(key), str):
            return f"{text} @ {item[key]}"
    if isinstance(item.get("specifier"), str):
        text += item["specifier"]
    return text


def read_tool(path: Path) -> Tool:
    """Read the tool environment at ``path``. Never raises: problems are in ``problems``."""
    venv = read_venv(path)
    problems = list(venv.problems)
    receipt: dict = {}
    try:
        data = _toml.loads(read_regular(path / RECEIPT, 256 * KIB).decode("utf-8", "replace"))
        receipt = data.get("tool", {}) if isinstance(data.get("tool"), dict) else {}
    except (OSError, EntryError, ValueError) as err:
        problems.append(f"{path / RECEIPT}: {getattr(err, 'strerror', None) or err}")
    reqs = tuple(r for r in map(_requirement, receipt.get("requirements", ()) or ()) if r)
    points = []
    for e in receipt.get("entrypoints", ()) or ():
        if isinstance(e, dict) and isinstance(e.get("name"), str):
            where = e.get("install-path")
            points.append(EntryPoint(e["name"], Path(where) if isinstance(where, str) else None,
                                     e.get("from") if isinstance(e.get("from"), str) else None))
    python = receipt.get("python")
    own = canonicalize_name(path.name)
    version = next((d.version for d in venv.packages if canonicalize_name(d.name) == own), None)
    return Tool(path.name, venv, reqs, python if isinstance(python, str) else None, tuple(points), version,
                tuple(problems))


def scan_tools(tool_dir: Path, *, should_stop: Callable[[], bool] | None = None) -> list[Tool]:
    """Every tool in ``tool_dir`` (a directory holding ``uv-receipt.toml`` or ``pyvenv.cfg``),
    sorted by name; a missing directory gives ``[]``. Raises :class:`ScanCancelled`."""
    try:
        with os.scandir(tool_dir) as it:
            entries = sorted(it, key=lambda e: e.name)
    except OSError:
        return []
    out = []
    for e in entries:
        if should_stop is not None and should_stop():
            raise ScanCancelled()
        if e.name.startswith(".") or not e.is_dir(follow_symlinks=False):
            continue
        path = Path(e.path)
        if os.path.lexists(path / RECEIPT) or os.path.lexists(path / "pyvenv.cfg"):
            out.append(read_tool(path))
    return out
