"""Plans for deleting what uv keeps beside its cache: project environments (by envtui's remover),
managed Pythons and installed tools (through uv's own uninstall). Each is a :class:`Plan` of the
one pipeline: checked by the same :func:`~envtui.core.prune.safety.vet` (containment in a root of
its own by :class:`~envtui.core.prune.outside.OutsideRules`, no filesystem mounted inside, no
running process using it, its uv lock free), bytes counted by the same rule (an inode is freed
only when every one of its links goes, hardlinks into the cache included), shown in full, then
run by :func:`~envtui.core.prune.execute_plan`, which checks every entry again right before.

uv is told only what uv itself reported: a Python by the installation key ``uv python list``
printed for that very directory, a tool by a name ``uv tool list`` printed, each after ``--``
(:mod:`envtui.core.uvcli`).
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterable

from ..pythons import ManagedPython
from ..tools import Tool
from .outside import OutsideRules
from .records import PROJECTS, PYTHONS, TOOLS, Kind, Plan, PlanEntry, Skipped, UvCommand
from .safety import Look, vet

if TYPE_CHECKING:
    from ..uvcli import PythonInstallation

__all__ = [
    "MANAGED_PYTHON",
    "PROJECT_ENV",
    "TOOL",
    "UNSEEN_VENVS",
    "plan_outside",
    "plan_project_envs",
    "plan_python_uninstall",
    "plan_tool_uninstall",
]

PROJECT_ENV, MANAGED_PYTHON, TOOL = Kind.PROJECT_ENV, Kind.MANAGED_PYTHON, Kind.TOOL

#: What no plan of unused Pythons can see, said in every such plan.
UNSEEN_VENVS = ("a virtual environment outside the roots is seen only once uv has run in it (uv's interpreter "
                "queries name it; one uv only made, or pip or python -m venv made, is not): a Python only such an "
                "environment runs on looks unused")


def plan_outside(
    scope: str,
    roots: Iterable[str | os.PathLike[str]],
    entries: Iterable[PlanEntry],
    *,
    skipped: Iterable[Skipped] = (),
    keep_out: Iterable[str | os.PathLike[str]] = (),
    notes: Iterable[str] = (),
    should_stop: Callable[[], bool] | None = None,
    ignore_uncertain: bool = False,
) -> Plan:
    """The plan deleting ``entries`` beside the cache (``scope``: project environments, managed
    Pythons or tools, strictly inside ``roots``, never in ``keep_out``), each through every rule
    of :func:`~envtui.core.prune.safety.vet` with :class:`~envtui.core.prune.outside.OutsideRules`,
    with exact bytes (``bytes_alone``, ``bytes_with_plan``, the total). An entry given twice
    (same path) is planned once. ``skipped`` and ``notes`` are added to the plan's own. Raises
    ``ValueError`` for an unknown scope or no root, ``ScanCancelled`` when ``should_stop()``
    turns true."""
    rules = OutsideRules(scope, roots, keep_out=keep_out)
    # No root lock and no references beside the cache (what Look's should_stop would cut short):
    # the walk of the entries is what stops.
    look = Look(rules, True, ignore_uncertain=ignore_uncertain)
    unique = list({os.path.abspath(e.path): e for e in entries}.values())
    kept, late, freed, groups = vet(unique, look, should_stop=should_stop)
    alone, with_plan, disk, apparent = freed.figures(groups)
    kept = [replace(e, bytes_alone=a, bytes_with_plan=w) for e, a, w in zip(kept, alone, with_plan)]
    return Plan(rules.root, tuple(kept), (*skipped, *late), disk, apparent, True, scope=scope, roots=rules.roots,
                keep_out=tuple(Path(k.top) for k in rules.keep_out), notes=tuple(notes),
                unreadable=tuple(freed.unreadable(groups)))


def plan_project_envs(
    envs: Iterable[tuple[str | os.PathLike[str], str]],
    roots: Iterable[str | os.PathLike[str]],
    *,
    keep_out: Iterable[str | os.PathLike[str]] = (),
    should_stop: Callable[[], bool] | None = None,
    ignore_uncertain: bool = False,
) -> Plan:
    """The plan deleting the project environments ``envs`` (``(path, label)`` pairs): each a real
    directory holding a regular ``pyvenv.cfg`` strictly inside one of ``roots`` (its parent
    compared resolved, and by inode), never in ``keep_out`` (uv's cache, Python and tool
    directories), not used by a running process, its uv lock (``.venv/.lock``) free.
    ``pyvenv.cfg`` goes first: an interrupted deletion leaves nothing taken for a venv. Bytes:
    hardlinks into the cache count only when every link is in the plan."""
    entries = []
    for path, label in envs:
        path = Path(os.path.abspath(path))
        entries.append(PlanEntry(PROJECT_ENV, path, (path / "pyvenv.cfg", path), label, ("asked for",),
                                 lock=path / ".lock", uses=(path,)))
    return plan_outside(PROJECTS, roots, entries, keep_out=keep_out, should_stop=should_stop,
                        ignore_uncertain=ignore_uncertain)


def _users(p: ManagedPython) -> str:
    users = p.environments
    names = ", ".join(f"{u.kind} {u.path}" for u in users[:3])
    return names + (f" and {len(users) - 3} more" if len(users) > 3 else "")


def _unused_reason(p: ManagedPython) -> str:
    queries = len(p.used_by)  # no environment runs on it: only interpreter entries name it
    if not queries:
        return "unused: no environment envtui can see runs on it"
    return (f"unused: no environment envtui can see runs on it ({queries} cached interpreter "
            f"quer{'y' if queries == 1 else 'ies'} of it turn{'s' if queries == 1 else ''} missing: prune them with --interpreters)")


def plan_python_uninstall(
    pythons: Iterable[ManagedPython],
    uv: str,
    *,
    python_dir: str | os.PathLike[str],
    cache_root: str | os.PathLike[str],
    installed: Iterable["PythonInstallation"],
    keys: Iterable[str] | None = None,
    unknown: Iterable[str] = (),
    should_stop: Callable[[], bool] | None = None,
    ignore_uncertain: bool = False,
) -> Plan:
    """The plan uninstalling managed Pythons through uv: those named by ``keys``, or every one
    nothing runs on (``keys`` ``None``).

    ``installed`` is what uv itself reports for ``python_dir``
    (:func:`envtui.core.uvcli.installed_pythons`): a directory uv does not report, or one whose
    name uv would read as a wider request (``cpython-3.12-linux-x86_64-gnu``, say: see
    :func:`envtui.core.uvcli.python_uninstall_argv`), is never handed to uv. An installation an
    environment runs on (``used_by``) or a running process uses is skipped, saying which; so is
    every one while ``unknown`` holds reasons why what an environment runs on could not be read
    (unknown is never unused). Each entry runs its ``uv python uninstall`` with
    ``UV_PYTHON_INSTALL_DIR`` and ``UV_CACHE_DIR`` set, and must remove exactly its directory
    (and its minor-version links, or point them elsewhere)."""
    from ..uvcli import python_uninstall_argv

    wanted = None if keys is None else set(keys)
    unknown = list(unknown)
    by_dir = {os.path.realpath(i.directory): i for i in installed if i.directory is not None}
    entries, skipped = [], []
    for p in pythons:
        if wanted is not None and p.key not in wanted:
            continue
        reported = by_dir.get(os.path.realpath(p.path))
        try:
            if reported is None:
                raise ValueError(f"uv does not report {p.path} as an installed Python")
            argv = python_uninstall_argv(uv, reported, python_dir)
        except ValueError as err:
            skipped.append(Skipped(p.path, MANAGED_PYTHON, f"not handed to uv: {err}"))
            continue
        if p.environments:
            skipped.append(Skipped(p.path, MANAGED_PYTHON, f"in use by {_users(p)}"))
        elif wanted is None and unknown:
            more = f" (and {len(unknown) - 1} more)" if len(unknown) > 1 else ""
            skipped.append(Skipped(p.path, MANAGED_PYTHON, f"cannot tell whether it is unused: {unknown[0]}{more}"))
        else:
            command = UvCommand(argv, (("UV_PYTHON_INSTALL_DIR", str(python_dir)), ("UV_CACHE_DIR", str(cache_root))))
            entries.append(PlanEntry(MANAGED_PYTHON, p.path, (p.path, *p.links), p.key,
                                     (_unused_reason(p) if wanted is None else "asked for",),
                                     lock=Path(python_dir) / ".lock", uses=(p.path, *p.links), command=command))
    notes = [UNSEEN_VENVS] if wanted is None else []
    return plan_outside(PYTHONS, [python_dir], entries, skipped=skipped, notes=notes, should_stop=should_stop,
                        ignore_uncertain=ignore_uncertain)


def _bin_dir(tool: Tool) -> str | None:
    dirs = {str(e.install_path.parent) for e in tool.entry_points if e.install_path is not None}
    return dirs.pop() if len(dirs) == 1 else None


def plan_tool_uninstall(
    tools: Iterable[Tool],
    uv: str,
    *,
    tool_dir: str | os.PathLike[str],
    cache_root: str | os.PathLike[str],
    installed: Iterable[str],
    should_stop: Callable[[], bool] | None = None,
    ignore_uncertain: bool = False,
) -> Plan:
    """The plan uninstalling ``tools`` through ``uv tool uninstall -- NAME`` (which also removes
    their commands). ``installed`` are the names ``uv tool list`` printed
    (:func:`envtui.core.uvcli.installed_tools`): a directory uv does not list under that name
    (``--all``, say) is never handed to uv. A tool a running process uses is skipped."""
    from ..uvcli import tool_uninstall_argv

    names = set(installed)
    entries, skipped = [], []
    for t in tools:
        try:
            argv = tool_uninstall_argv(uv, t.name, installed=names)
        except ValueError as err:
            skipped.append(Skipped(t.path, TOOL, f"not handed to uv: {err}"))
            continue
        env = [("UV_TOOL_DIR", str(tool_dir)), ("UV_CACHE_DIR", str(cache_root))]
        bin_dir = _bin_dir(t)
        if bin_dir is not None:
            env.append(("UV_TOOL_BIN_DIR", bin_dir))
        entries.append(PlanEntry(TOOL, t.path, (t.path,), t.name, ("asked for",), lock=Path(tool_dir) / ".lock",
                                 uses=(t.path,), command=UvCommand(argv, tuple(env))))
    return plan_outside(TOOLS, [tool_dir], entries, skipped=skipped, should_stop=should_stop,
                        ignore_uncertain=ignore_uncertain)
