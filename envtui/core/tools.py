"""Installed tools: the environments ``uv tool install`` keeps in ``uv tool dir``.

Each tool is a venv at ``<tool dir>/<name>`` holding ``uv-receipt.toml``: the requirements it was
installed with, the constraints, overrides, excludes and build constraints, the Python asked for,
the entry points uv linked into the tool bin directory, and the resolver and installer options
(``[tool.options]``). Mirrors ``Tool``/``ToolWire`` and ``ToolEntrypoint``
(crates/uv-tool/src/tool.rs), ``Requirement`` with ``RequirementSourceWire``
(crates/uv-distribution-types/src/requirement.rs), ``ToolOptionsWire``
(crates/uv-settings/src/settings.rs) and ``InstalledTools::from_settings``
(crates/uv-tool/src/lib.rs); where uv 0.13.9 writes something else, what it writes.

Everything here is read, never trusted: :mod:`envtui.core.uvcli` validates a receipt before any of
it reaches uv's command line.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Callable, Mapping

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from .contain import GONE_ERRNOS, presence
from .errors import EntryError, ScanCancelled
from .fsread import KIB, read_regular
from .projects import Venv, read_venv
from .pythons import uv_data_dir
from .uvcli import uv_prints

__all__ = ["EntryPoint", "Receipt", "ReceiptRequirement", "Tool", "locate_tool_dir", "read_receipt", "read_tool", "scan_tools",
           "tool_dirs"]

if sys.version_info >= (3, 11):
    import tomllib as _toml
else:  # pragma: no cover - 3.10
    import tomli as _toml

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


#: How a receipt's requirement says where it comes from (``RequirementSourceWire``'s keys), and
#: ``registry`` for a name with a specifier (and maybe an ``index``).
SOURCES = ("url", "path", "directory", "editable", "git", "virtual")


@dataclass(frozen=True)
class ReceiptRequirement:
    """One requirement of a receipt, as uv wrote it: read, not validated.

    uv writes a table (``{ name = "black", extras = ["d"], specifier = ">=24", marker = "..." }``,
    or one source key instead of ``specifier``: ``url`` (with ``subdirectory``), ``path``,
    ``directory``, ``editable``, ``git``, ``virtual``); receipts of old uv releases hold a PEP 508
    string instead, read here into the same fields."""

    name: str
    """The distribution's name as written."""
    extras: tuple[str, ...] = ()
    """Its extras as written."""
    specifier: str = ""
    """The version specifiers of a registry requirement (``>=24``, ``==1.0``), or ``""``."""
    marker: str = ""
    """Its environment marker (``os_name == 'posix'``), or ``""``."""
    source: str = "registry"
    """``registry`` or one of :data:`SOURCES`."""
    location: str = ""
    """The URL, path or git URL of a non-registry source (uv's own form: a git URL keeps the
    reference in its query, ``file:///repo?rev=v1``), or ``""``."""
    subdirectory: str = ""
    """The ``subdirectory`` of a ``url`` source, or ``""``."""
    index: str = ""
    """The index a registry requirement is pinned to, or ``""``."""
    odd: tuple[str, ...] = ()
    """What envtui did not understand (unknown keys, values of the wrong type), each said for a
    person: such a requirement is never passed to uv."""

    def display(self) -> str:
        """A PEP 508-like line for people (``black[d]>=24``, ``local @ /src/local``); never for uv."""
        text = self.name + (f"[{','.join(self.extras)}]" if self.extras else "")
        text += f" @ {self.location}" if self.location else self.specifier
        return text + (f" ; {self.marker}" if self.marker else "")


@dataclass(frozen=True)
class Receipt:
    """What ``uv-receipt.toml``'s ``[tool]`` table records, read but not validated."""

    requirements: tuple[ReceiptRequirement, ...] = ()
    """The tool first, then each ``--with``/``--with-editable``/``--with-executables-from``."""
    constraints: tuple[ReceiptRequirement, ...] = ()
    """``-c`` requirements."""
    overrides: tuple[ReceiptRequirement, ...] = ()
    """``--overrides`` requirements."""
    excludes: tuple[str, ...] = ()
    """``--excludes`` names."""
    build_constraints: tuple[ReceiptRequirement, ...] = ()
    """``-b`` requirements (``build-constraint-dependencies``)."""
    python: str | None = None
    """The Python request (``--python``), or ``None``."""
    options: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    """``[tool.options]`` as read (kebab-case keys; tables read-only mappings, arrays tuples)."""
    odd: tuple[str, ...] = ()
    """Keys or values of ``[tool]`` envtui did not understand, each said for a person."""
    entry_points: tuple[EntryPoint, ...] = ()
    """``entrypoints``: the commands uv linked (``ToolEntrypoint``: ``name``, ``install-path``,
    ``from``); one without a name is left out, and odd."""


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
    receipt: Receipt | None = None
    """Everything the receipt records, or ``None`` when there is no readable receipt."""

    @property
    def path(self) -> Path:
        """The tool's environment directory."""
        return self.venv.path


def locate_tool_dir(
    environ: Mapping[str, str] | None = None, *, uv: str | None = None, timeout: float = 5.0
) -> tuple[Path, str]:
    """uv's tool directory and which source gave it: ``UV_TOOL_DIR`` (made absolute as uv does:
    against the working directory, a ``~`` kept as a directory name), then what ``uv tool dir``
    prints, then ``<uv data dir>/tools``. The directory may not exist."""
    env = os.environ if environ is None else environ
    if env.get("UV_TOOL_DIR"):
        return Path(env["UV_TOOL_DIR"]).absolute(), "UV_TOOL_DIR"
    found = uv_prints(["tool", "dir"], env, uv, timeout)
    if found:
        return Path(found).absolute(), "uv tool dir"
    return uv_data_dir(env) / "tools", "platform default"


def _freeze(value: Any) -> Any:
    if isinstance(value, dict):
        return MappingProxyType({k: _freeze(v) for k, v in value.items()})
    if isinstance(value, list):
        return tuple(_freeze(v) for v in value)
    return value


#: A requirement table's keys whose values are strings, in the order their oddities are said.
_TEXT_KEYS = ("specifier", "marker", "subdirectory", "index", *SOURCES)
_REQUIREMENT_KEYS = {"name", "extras", *_TEXT_KEYS}


def _strings(value: object) -> tuple[str, ...] | None:
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(value)
    return None


def _read_requirement(item: object) -> ReceiptRequirement | None:
    """One entry of a receipt's requirement list; ``None`` for something that names nothing."""
    if isinstance(item, str):  # a PEP 508 string: receipts of old uv releases
        try:
            req = Requirement(item)
        except InvalidRequirement as err:
            return ReceiptRequirement(item, odd=(f"not a requirement: {str(err).splitlines()[0]}",))
        return ReceiptRequirement(req.name, tuple(sorted(req.extras)), str(req.specifier),
                                  str(req.marker) if req.marker else "", "url" if req.url else "registry", req.url or "")
    if not isinstance(item, dict) or not isinstance(item.get("name"), str):
        return None
    odd = [f"unknown key {k!r}" for k in item if k not in _REQUIREMENT_KEYS]
    text = {}
    for key in _TEXT_KEYS:
        value = item.get(key, "")
        if isinstance(value, str):
            text[key] = value
        else:
            odd.append(f"{key} is not a string")
            text[key] = ""
    extras = _strings(item.get("extras", []))
    if extras is None:
        odd.append("extras is not a list of strings")
    sources = [k for k in SOURCES if k in item]
    if len(sources) > 1 or (sources and "specifier" in item):
        odd.append(f"more than one source: {', '.join(sources + (['specifier'] if 'specifier' in item else []))}")
    source = sources[0] if sources else "registry"
    return ReceiptRequirement(item["name"], extras or (), text["specifier"], text["marker"], source,
                              text[source] if sources else "", text["subdirectory"], text["index"], tuple(odd))


def _read_requirements(table: dict[str, Any], key: str, odd: list[str]) -> tuple[ReceiptRequirement, ...]:
    items = table.get(key, [])
    if not isinstance(items, list):
        odd.append(f"{key} is not a list")
        return ()
    out = []
    for item in items:
        req = _read_requirement(item)
        if req is None:
            odd.append(f"{key} holds an entry without a name")
        else:
            out.append(req)
    return tuple(out)


_RECEIPT_KEYS = {"requirements", "constraints", "overrides", "excludes", "build-constraint-dependencies",
                 "python", "entrypoints", "options"}
_ENTRY_POINT_KEYS = {"name", "install-path", "from"}


def _read_entry_points(items: object, odd: list[str]) -> tuple[EntryPoint, ...]:
    if not isinstance(items, list):
        odd.append("entrypoints is not a list")
        return ()
    out = []
    for item in items:
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            odd.append("entrypoints holds an entry without a name")
            continue
        name, where, source = item["name"], item.get("install-path"), item.get("from")
        odd += [f"entry point {name!r}: unknown key {k!r}" for k in item if k not in _ENTRY_POINT_KEYS]
        if not isinstance(where, str):
            odd.append(f"entry point {name!r}: install-path is not a string")
            where = None
        if not isinstance(source, (str, type(None))):
            odd.append(f"entry point {name!r}: from is not a string")
            source = None
        out.append(EntryPoint(name, Path(where) if where is not None else None, source))
    return tuple(out)


def read_receipt(table: dict[str, Any]) -> Receipt:
    """The :class:`Receipt` of a receipt's ``[tool]`` table (as ``tomllib`` read it). Never raises
    for what the table holds."""
    odd = [f"unknown key {k!r}" for k in table if k not in _RECEIPT_KEYS]
    excludes = _strings(table.get("excludes", []))
    if excludes is None:
        odd.append("excludes is not a list of strings")
    python = table.get("python")
    if python is not None and not isinstance(python, str):
        odd.append("python is not a string")
        python = None
    options = table.get("options", {})
    if not isinstance(options, dict):
        odd.append("options is not a table")
        options = {}
    points = _read_entry_points(table.get("entrypoints", []), odd)
    return Receipt(
        _read_requirements(table, "requirements", odd), _read_requirements(table, "constraints", odd),
        _read_requirements(table, "overrides", odd), excludes or (),
        _read_requirements(table, "build-constraint-dependencies", odd), python, _freeze(options), tuple(odd), points,
    )


def read_tool(path: Path) -> Tool:
    """Read the tool environment at ``path``. Never raises: problems are in ``problems``."""
    venv = read_venv(path)
    problems = list(venv.problems)
    receipt = None
    try:
        # Strictly UTF-8, as uv reads it: a byte replaced would make a path or a request another one.
        data = _toml.loads(read_regular(path / RECEIPT, 256 * KIB).decode("utf-8"))
        if not isinstance(data.get("tool"), dict):
            raise ValueError("no [tool] table")
        receipt = read_receipt(data["tool"])
    except EntryError as err:  # its message names the receipt already
        problems.append(str(err))
    except (OSError, ValueError) as err:
        problems.append(f"{path / RECEIPT}: {getattr(err, 'strerror', None) or err}")
    except RecursionError:  # tomllib reads nested arrays and tables by recursion
        problems.append(f"{path / RECEIPT}: nested too deeply to be read")
    own = canonicalize_name(path.name)
    version = next((d.version for d in venv.packages if canonicalize_name(d.name) == own), None)
    if receipt is None:
        return Tool(path.name, venv, version=version, problems=tuple(problems))
    return Tool(path.name, venv, tuple(r.display() for r in receipt.requirements), receipt.python,
                receipt.entry_points, version, tuple(problems), receipt)


def tool_dirs(tool_dir: Path, *, should_stop: Callable[[], bool] | None = None,
              unknown: list[str] | None = None) -> list[Path]:
    """The tool directories in ``tool_dir``, sorted by name: each directory (not a link, not a
    hidden name) holding ``uv-receipt.toml`` or ``pyvenv.cfg``, or that cannot be looked into
    (permission denied: unknown is never "no tool"). A missing ``tool_dir`` gives ``[]``; one
    that cannot be listed for another reason gives ``[]`` and, when ``unknown`` is given, adds
    ``"<tool_dir>: <why>"`` to it. Raises :class:`ScanCancelled` when ``should_stop()`` turns true."""
    try:
        with os.scandir(tool_dir) as it:
            entries = sorted(it, key=lambda e: e.name)
    except OSError as err:
        if unknown is not None and err.errno not in GONE_ERRNOS:
            unknown.append(f"{tool_dir}: {err.strerror or err}")
        return []
    out = []
    for e in entries:
        if should_stop is not None and should_stop():
            raise ScanCancelled()
        if e.name.startswith(".") or not e.is_dir(follow_symlinks=False):
            continue
        path = Path(e.path)
        if presence(path / RECEIPT) is not False or presence(path / "pyvenv.cfg") is not False:
            out.append(path)
    return out


def scan_tools(tool_dir: Path, *, should_stop: Callable[[], bool] | None = None,
               unknown: list[str] | None = None) -> list[Tool]:
    """Every tool of :func:`tool_dirs` (``unknown`` as it says), read (:func:`read_tool`).
    Raises :class:`ScanCancelled`."""
    out = []
    for path in tool_dirs(tool_dir, should_stop=should_stop, unknown=unknown):
        if should_stop is not None and should_stop():
            raise ScanCancelled()
        out.append(read_tool(path))
    return out
