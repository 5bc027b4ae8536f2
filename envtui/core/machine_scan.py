"""One look at everything uv keeps on this machine beside its cache: managed Pythons (with what runs
on each), installed tools, project environments under the roots, and the scripts proven from the
keys of script environments; and its ``envtui ls --json`` form."""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Mapping

from .contain import presence
from .environments import SCRIPT, Distribution
from .inventory import Inventory
from .disk.scan import DiskReport
from .machine import PROJECTS, PYTHONS, TOOLS, MachineUsage, measure_machine
from .orphans import ProvenScript, prove_scripts
from .projects import ProjectEnv, read_venv, scan_projects
from .pythons import ManagedPython, Use, find_users, locate_python_dir, scan_pythons
from .tools import Tool, locate_tool_dir, scan_tools

__all__ = ["Machine", "machine_to_json", "measure", "name_proven_scripts", "scan_machine", "shared_with_outside"]

SCRIPT_ENV, CACHED_ENV, TOOL, PROJECT_ENV, INTERPRETER, QUERIED_VENV = (
    "script environment", "cached environment", "tool", "project environment", "interpreter entry",
    "environment uv ran in",
)


@dataclass(frozen=True)
class Machine:
    """What uv keeps outside its cache, and how it ties to the cache."""

    python_dir: Path
    """uv's managed Python directory (see :func:`~envtui.core.pythons.locate_python_dir`)."""
    tool_dir: Path
    """uv's tool directory (see :func:`~envtui.core.tools.locate_tool_dir`)."""
    roots: tuple[Path, ...]
    """The roots searched for project environments and scripts."""
    pythons: tuple[ManagedPython, ...]
    """Every managed Python, ``used_by`` filled."""
    tools: tuple[Tool, ...]
    """Every installed tool."""
    projects: tuple[ProjectEnv, ...]
    """Every environment under the roots (outside the cache, the Python and the tool directory)."""
    scripts: tuple[ProvenScript, ...] = ()
    """Script environments whose script path their key proves (gone or not)."""
    unknown: tuple[str, ...] = ()
    """Environments whose base interpreter could not be read (their ``pyvenv.cfg`` and
    ``bin/python`` unreadable), each as ``"<path>: <why>"``: any Python may be theirs, so none is
    unused while they stay."""

    def orphan_scripts(self) -> list[str]:
        """The proven script paths that are gone (not those that could not be checked)."""
        return [str(p.script) for p in self.scripts if p.exists is False]


def _venv_paths(home: str | None, interpreter: str | None, *more: str | None) -> list[str | None]:
    return [home, interpreter, *more]


def _link_target(python: Path) -> str | None:
    """Where the link ``python`` points, absolute: a relative target is read from the directory
    the link really lies in (a cached environment is reached through its link in
    ``environments-vN``, and ``..`` after a link is not the link's parent)."""
    try:
        return os.path.normpath(os.path.join(os.path.realpath(python.parent), os.readlink(python)))
    except OSError:
        return None


def _base_unknown(path: str | os.PathLike[str], home: str | None, interpreter: str | None,
                  problems: Iterable[str]) -> str | None:
    """Why what the environment at ``path`` runs on is unknown (no ``home`` in its ``pyvenv.cfg``
    and no ``bin/python`` link could be read), as ``"<path>: <why>"``; ``None`` when it is known,
    or when no ``pyvenv.cfg`` is there at all (gone, a cached environment whose target is: nothing
    runs on it). A ``pyvenv.cfg`` that cannot even be reached is unknown, never gone."""
    if home or interpreter:
        return None
    if presence(os.path.join(path, "pyvenv.cfg")) is False:
        return None
    first = next(iter(problems), None)
    return f"{path}: what it runs on cannot be read" + (f" ({first})" if first else "")


def _queried_venvs(inv: Inventory, known: set[str]) -> Iterator[tuple[Use, list[str | None]] | str]:
    """The virtual environments uv ran in, found through its interpreter queries (a project's
    ``.venv`` anywhere on disk, whatever the roots): each whose ``sys.prefix`` is not its
    ``base_prefix`` and still holds a ``pyvenv.cfg``, with what it runs on now (read afresh, so
    an environment recreated on another Python counts for that one); or, when that cannot be
    read, what the query says it ran on and a reason string (its base is unknown)."""
    for e in inv.interpreters:
        prefix = e.sys_prefix
        if not prefix or not e.base_prefix or os.path.normpath(prefix) == os.path.normpath(e.base_prefix):
            continue
        prefix = os.path.abspath(prefix)
        if os.path.realpath(prefix) in known:
            continue
        known.add(os.path.realpath(prefix))
        venv = read_venv(Path(prefix))
        if venv.home or venv.interpreter:
            yield Use(QUERIED_VENV, Path(prefix)), _venv_paths(venv.home, venv.interpreter)
            continue
        why = _base_unknown(prefix, None, None, venv.problems)
        if why is None:
            continue  # no pyvenv.cfg there: the environment is gone, its query keeps nothing alive
        yield Use(QUERIED_VENV, Path(prefix)), [e.base_prefix, e.base_executable]
        yield why


def _candidates(inv: Inventory | None, tools: Iterable[Tool], projects: Iterable[ProjectEnv],
                unknown: list[str]) -> Iterator[tuple[Use, list[str | None]]]:
    """What may run on a managed Python, each as ``(Use, paths)`` for
    :func:`~envtui.core.pythons.find_users`; every environment whose base cannot be read is
    added to ``unknown`` (see :func:`_base_unknown`)."""
    known: set[str] = set()

    def env(use: Use, home: str | None, interpreter: str | None, problems: Iterable[str],
            *more: str | None) -> tuple[Use, list[str | None]]:
        known.add(os.path.realpath(use.path))  # a cached environment: its archive target
        why = _base_unknown(use.path, home, interpreter, problems)
        if why is not None:
            unknown.append(why)
        return use, _venv_paths(home, interpreter, *more)

    if inv is not None:
        for e in inv.environments:
            kind = SCRIPT_ENV if e.kind == SCRIPT else CACHED_ENV
            yield env(Use(kind, e.path), e.home, _link_target(e.python), e.problems, e.interpreter)
    for t in tools:
        yield env(Use(TOOL, t.path), t.venv.home, t.venv.interpreter, t.venv.problems)
    for p in projects:
        yield env(Use(PROJECT_ENV, p.path), p.venv.home, p.venv.interpreter, p.venv.problems)
    if inv is not None:
        for q in inv.interpreters:
            yield Use(INTERPRETER, q.path), [q.executable, q.base_executable, q.canonical, q.sys_prefix, q.base_prefix]
        for found in _queried_venvs(inv, known):
            if isinstance(found, str):
                unknown.append(found)
            else:
                yield found


def scan_machine(
    inv: Inventory | None,
    roots: Iterable[str | os.PathLike[str]] = (),
    *,
    python_dir: str | os.PathLike[str] | None = None,
    tool_dir: str | os.PathLike[str] | None = None,
    environ: Mapping[str, str] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> Machine:
    """Scan uv's Python and tool directories (located as uv does unless given), the project
    environments under ``roots``, and prove the scripts of ``inv``'s script environments under
    ``roots`` (:func:`~envtui.core.orphans.prove_scripts`). A managed Python is used by the
    environments of the cache, the tools, the project environments under ``roots`` and every
    other virtual environment uv ran in (its interpreter queries name them), wherever it lies;
    one whose base cannot be read goes to :attr:`Machine.unknown`. No disk accounting (see
    :func:`measure`).
    Raises :class:`~envtui.core.errors.ScanCancelled` when ``should_stop()`` turns true."""
    root_paths = tuple(Path(os.path.abspath(r)) for r in roots)
    pdir = Path(python_dir) if python_dir is not None else locate_python_dir(environ)[0]
    tdir = Path(tool_dir) if tool_dir is not None else locate_tool_dir(environ)[0]
    pythons = scan_pythons(pdir)
    tools = scan_tools(tdir, should_stop=should_stop)
    exclude = [pdir, tdir] + ([inv.root] if inv is not None else [])
    projects = scan_projects(root_paths, exclude=exclude, should_stop=should_stop)
    unknown: list[str] = []
    pythons = find_users(pythons, _candidates(inv, tools, projects, unknown), should_stop=should_stop)
    scripts = prove_scripts(inv.environments, root_paths, should_stop=should_stop) if inv is not None else []
    return Machine(pdir, tdir, root_paths, tuple(pythons), tuple(tools), tuple(projects), tuple(scripts), tuple(unknown))


def measure(machine: Machine, cache: DiskReport | None, *, should_stop: Callable[[], bool] | None = None) -> MachineUsage:
    """:func:`~envtui.core.machine.measure_machine` over the Pythons, tools and projects of
    ``machine`` and the cache whose walk gave ``cache`` (a fresh :func:`~envtui.core.disk.scan_disk`
    report, which keeps its links)."""
    parts = {
        PYTHONS: [p.path for p in machine.pythons],
        TOOLS: [t.path for t in machine.tools],
        PROJECTS: [p.path for p in machine.projects],
    }
    return measure_machine(parts, cache=cache, should_stop=should_stop)


def _uses(uses: Iterable[Use]) -> list[dict[str, str]]:
    return [{"kind": u.kind, "path": str(u.path)} for u in uses]


def _bytes(usage: MachineUsage | None, path: Path) -> dict[str, int] | None:
    if usage is None:
        return None
    item = usage.items.get(os.path.abspath(path))
    if item is None:
        return None
    return {"disk": item.disk, "apparent": item.apparent, "exclusive": item.exclusive}


def _shares(usage: MachineUsage | None, path: Path) -> list[dict[str, Any]] | None:
    if usage is None:
        return None
    item = usage.items.get(os.path.abspath(path))
    return [] if item is None else [{"path": str(s.path), "part": s.part, "bytes": s.bytes} for s in item.shares]


def _packages(dists: Iterable[Distribution]) -> list[dict[str, str]]:
    return [{"name": d.name, "version": d.version} for d in dists]


def machine_to_json(machine: Machine, usage: MachineUsage | None = None) -> dict[str, Any]:
    """The ``pythons``, ``tools`` and ``projects`` arrays of ``envtui ls --json`` (and
    ``python_dir``, ``tool_dir``, ``roots``, ``proven_scripts``). Each item has ``path``,
    ``version``, ``bytes`` (``{"disk", "apparent", "exclusive"}`` with ``usage``, else ``null``)
    and ``used_by`` (``[{"kind", "path"}]``); tools and projects also ``shares`` (the cache
    entries, tools and projects holding links to their files, ``[{"path", "part", "bytes"}]``,
    ``null`` without ``usage``). With ``usage``: ``machine`` (``total_disk``, ``total_apparent``,
    ``parts``). Bytes throughout; times are epoch seconds."""
    doc: dict[str, Any] = {
        "python_dir": str(machine.python_dir),
        "tool_dir": str(machine.tool_dir),
        "roots": [str(r) for r in machine.roots],
        "pythons": [
            {
                "path": str(p.path), "key": p.key, "version": p.version, "implementation": p.implementation,
                "variant": p.variant, "platform": p.platform,
                "executable": str(p.executable) if p.executable else None,
                "links": [str(x) for x in p.links], "bytes": _bytes(usage, p.path), "used_by": _uses(p.used_by),
            }
            for p in machine.pythons
        ],
        "tools": [
            {
                "path": str(t.path), "name": t.name, "version": t.version, "requirements": list(t.requirements),
                "python": t.python_request, "python_version": t.venv.python_version, "home": t.venv.home,
                "interpreter": t.venv.interpreter, "packages": _packages(t.venv.packages),
                "entry_points": [
                    {"name": e.name, "install_path": str(e.install_path) if e.install_path else None, "from": e.source}
                    for e in t.entry_points
                ],
                "last_used": t.venv.last_used, "bytes": _bytes(usage, t.path),
                "used_by": [
                    {"kind": "command", "path": str(e.install_path)}
                    for e in t.entry_points if e.install_path is not None and os.path.lexists(e.install_path)
                ],
                "shares": _shares(usage, t.path), "problems": list(t.problems),
            }
            for t in machine.tools
        ],
        "projects": [
            {
                "path": str(p.path), "project": str(p.project) if p.project else None, "name": p.project_name,
                "version": p.project_version, "python_version": p.venv.python_version, "home": p.venv.home,
                "interpreter": p.venv.interpreter, "packages": _packages(p.venv.packages),
                "last_used": p.venv.last_used, "bytes": _bytes(usage, p.path),
                "used_by": [{"kind": "project", "path": str(p.project)}] if p.project else [],
                "shares": _shares(usage, p.path), "problems": list(p.venv.problems),
            }
            for p in machine.projects
        ],
        "proven_scripts": [
            {"environment": str(s.environment), "script": str(s.script), "exists": s.exists} for s in machine.scripts
        ],
    }
    if usage is not None:
        doc["machine"] = {
            "total_disk": usage.total_disk,
            "total_apparent": usage.total_apparent,
            "parts": [{"name": p.name, "items": p.items, "disk": p.disk, "apparent": p.apparent} for p in usage.parts],
        }
    return doc


def shared_with_outside(usage: MachineUsage, cache_paths: Iterable[Path]) -> dict[str, list[dict[str, Any]]]:
    """For each of ``cache_paths`` (archive entries, script environments) that shares files with a
    tool or a project environment: ``{path: [{"path", "part", "bytes"}]}``."""
    out = {}
    for path in cache_paths:
        item = usage.items.get(os.path.abspath(path))
        if item is not None and item.shares:
            out[str(path)] = [{"path": str(s.path), "part": s.part, "bytes": s.bytes} for s in item.shares]
    return out


def name_proven_scripts(inv: Inventory, machine: Machine) -> Inventory:
    """``inv`` with each script environment whose script the key proves (and that had no known
    script) given that script's path, so that lists and the orphan policy see where it lived."""
    proven = {s.environment: str(s.script) for s in machine.scripts}
    if not proven:
        return inv
    envs = tuple(
        replace(e, script=proven[e.path]) if e.kind == SCRIPT and e.script is None and e.path in proven else e
        for e in inv.environments
    )
    return replace(inv, environments=envs)
