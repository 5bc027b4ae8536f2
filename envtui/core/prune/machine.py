"""Deleting what uv keeps outside its cache, plan first: project environments (by envtui, with the
same rules as in the cache), managed Pythons and installed tools (through uv itself).

Project environments live under the roots the user gave, not in the cache, so they get a root of
their own: each root is resolved once; a candidate is a directory holding a regular ``pyvenv.cfg``
strictly inside one, its parent compared in resolved form, itself no symlink; deletion is the
safety module's remover with that root (:func:`~envtui.core.prune.remover.remove_path`: by
directory file descriptor from the root down, never following a symlink, never crossing a
filesystem boundary or a mount point, which are left and reported), ``pyvenv.cfg`` first (an interrupted deletion leaves nothing taken for a venv), and never touches an
environment a running process uses or whose ``.lock`` a uv holds. Bytes follow the cache's rule:
an inode counts once, and only when every one of its links is deleted.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable, Iterable, Mapping

from ..disk.freed import Freed, freed_bytes
from ..disk.walk import walk_stats
from ..locks import entry_lock_held, lock_entry
from ..pythons import ManagedPython
from ..tools import Tool
from .executor import PruneResult
from .planner import Plan, PlanEntry, Skipped
from .inuse import processes_using
from .remover import Removal, _homes, remove_path

__all__ = [
    "MANAGED_PYTHON",
    "PROJECT_ENV",
    "TOOL",
    "UvAction",
    "UvPlan",
    "disk_usage_of",
    "execute_project_plan",
    "guard_project_env",
    "plan_project_envs",
    "plan_python_uninstall",
    "plan_tool_reinstall",
    "plan_tool_uninstall",
    "remove_project_env",
    "run_action",
]

PROJECT_ENV, MANAGED_PYTHON, TOOL = "project environment", "managed Python", "tool"


def _resolve_roots(roots: Iterable[str | os.PathLike]) -> list[str]:
    return [os.path.realpath(r) for r in roots]


def guard_project_env(roots: Iterable[str], path: str | os.PathLike) -> str | None:
    """Why the environment at ``path`` must not be deleted, or ``None`` when it may be.

    ``roots`` are resolved root directories. The parent of ``path`` is resolved (the path itself
    is not); the result must lie strictly inside a root, be a real directory (no symlink), hold a
    regular ``pyvenv.cfg``, and be neither ``/`` nor a home directory."""
    parent = os.path.realpath(os.path.dirname(os.path.abspath(path)))
    full = os.path.join(parent, os.path.basename(os.path.abspath(path)))
    if not any(full.startswith(r.rstrip(os.sep) + os.sep) for r in roots):
        return f"{full} is not inside the roots ({', '.join(roots) or 'none given'})"
    if full in _homes() or full == os.sep:
        return f"{full} is a home directory or the filesystem root"
    try:
        st = os.lstat(full)
    except OSError as err:
        return f"{full}: {err.strerror}"
    if not stat.S_ISDIR(st.st_mode):
        return f"{full} is {'a symlink' if stat.S_ISLNK(st.st_mode) else 'not a directory'}"
    try:
        if not stat.S_ISREG(os.lstat(os.path.join(full, "pyvenv.cfg")).st_mode):
            return f"{full}/pyvenv.cfg is not a regular file"
    except OSError:
        return f"{full} holds no pyvenv.cfg: not a virtual environment"
    return None


def _entry(path: Path, label: str) -> PlanEntry:
    return PlanEntry(PROJECT_ENV, path, (path / "pyvenv.cfg", path), label, ("marked",),
                     lock=path / ".lock", uses=(path,))


def plan_project_envs(
    envs: Iterable[tuple[str | os.PathLike, str]],
    roots: Iterable[str | os.PathLike],
    *,
    should_stop: Callable[[], bool] | None = None,
) -> Plan:
    """The plan deleting the project environments ``envs`` (``(path, label)`` pairs) found under
    ``roots``: each checked by :func:`guard_project_env`, not used by a running process, its uv
    lock (``.venv/.lock``) free; bytes freed exactly (hardlinks into the cache count only when
    every link is in the plan). ``Plan.root`` is the first resolved root."""
    resolved = _resolve_roots(roots)
    entries: list[PlanEntry] = []
    skipped: list[Skipped] = []
    for path, label in envs:
        path = Path(os.path.abspath(path))
        why = guard_project_env(resolved, path)
        if why:
            skipped.append(Skipped(path, PROJECT_ENV, f"unsafe: {why}"))
        else:
            entries.append(_entry(path, label))
    in_use = processes_using({str(e.path): e.uses for e in entries})
    kept = []
    for e in entries:
        if in_use.get(str(e.path)):
            skipped.append(Skipped(e.path, e.kind, "in use by a running process", tuple(in_use[str(e.path)])))
        elif entry_lock_held(e.lock):
            skipped.append(Skipped(e.path, e.kind, f"its lock {e.lock} is held: a uv is writing it"))
        else:
            kept.append(e)
    freed = Freed(should_stop=should_stop)
    for e in kept:
        freed.add(e.paths)
    kept = [replace(e, bytes_alone=a, bytes_with_plan=w) for e, a, w in zip(kept, freed.alone(), freed.per_entry())]
    disk, apparent = freed_bytes([p for e in kept for p in e.paths], should_stop=should_stop)
    root = Path(resolved[0]) if resolved else Path("/")
    return Plan(root, tuple(kept), tuple(skipped), disk, apparent, True)


def remove_project_env(path: str | os.PathLike, root: str) -> Removal:
    """Delete the environment at ``path`` inside the resolved root ``root`` through the safety
    module's remover (:func:`~envtui.core.prune.remover.remove_path` with ``root``: the parent
    opened component by component from the root without following a link, by directory file
    descriptor, nothing followed, another filesystem or a mount point left and reported in
    ``Removal.left``), ``pyvenv.cfg`` first. Raises ``OSError`` and ``UnsafePathError``."""
    acc = remove_path(os.path.join(path, "pyvenv.cfg"), root=root)
    return remove_path(path, root=root, acc=acc)


def _root_of(roots: Iterable[str], path: Path) -> str | None:
    real = os.path.realpath(os.path.dirname(path))
    return next((r for r in sorted(roots, key=len, reverse=True) if real == r or real.startswith(r.rstrip(os.sep) + os.sep)), None)


def disk_usage_of(paths: Iterable[str | os.PathLike]) -> int:
    """Disk bytes of all of ``paths`` together, each inode once: ``du -sB1 --total`` over them."""
    seen: set[tuple[int, int]] = set()
    total = 0
    for path in paths:
        for _p, st in walk_stats(path):
            if st.st_nlink > 1 and not stat.S_ISDIR(st.st_mode):
                key = (st.st_dev, st.st_ino)
                if key in seen:
                    continue
                seen.add(key)
            total += st.st_blocks * 512
    return total


def execute_project_plan(
    plan: Plan,
    roots: Iterable[str | os.PathLike],
    *,
    measure: Iterable[str | os.PathLike] = (),
    on_progress: Callable[[int, int, PlanEntry], None] | None = None,
) -> PruneResult:
    """Delete the project environments of ``plan`` (from :func:`plan_project_envs`), each checked
    again just before: inside the roots, not used by a running process, its ``.lock`` free (held
    while deleting). ``measure`` are the directories whose disk usage (each inode once) is taken
    before and after (the cache and the roots, to compare with ``du -sB1``); ``measured_bytes`` is
    the drop. A mount met inside an environment is left and reported in ``errors``."""
    resolved = _resolve_roots(roots)
    measure = list(measure)
    in_use = processes_using({str(e.path): e.uses for e in plan.entries})
    skipped = list(plan.skipped)
    todo = []
    for e in plan.entries:
        why = guard_project_env(resolved, e.path)
        if why:
            skipped.append(Skipped(e.path, e.kind, f"unsafe: {why}"))
        elif in_use.get(str(e.path)):
            skipped.append(Skipped(e.path, e.kind, "in use by a running process", tuple(in_use[str(e.path)])))
        else:
            todo.append(e)
    predicted = plan.bytes_freed if len(todo) == len(plan.entries) else freed_bytes([p for e in todo for p in e.paths])
    before = disk_usage_of(measure) if measure else 0
    deleted, errors = [], []
    for done, e in enumerate(todo, 1):
        try:
            fd = lock_entry(e.lock) if e.lock is not None else None
        except OSError:
            skipped.append(Skipped(e.path, e.kind, f"its lock {e.lock} is held: a uv is writing it"))
            continue
        try:
            removal = remove_project_env(e.path, _root_of(resolved, e.path))
            if removal.left:
                where, why = removal.left[0]
                errors.append((e.path, f"left {len(removal.left)} paths, e.g. {where}: {why}"))
            else:
                deleted.append(e)
        except OSError as err:
            errors.append((e.path, f"{err.filename or e.path}: {err.strerror or err}"))
        finally:
            if fd is not None:
                os.close(fd)
        if on_progress is not None:
            on_progress(done, len(todo), e)
    measured = before - disk_usage_of(measure) if measure else 0
    return PruneResult(plan, tuple(deleted), tuple(skipped), tuple(errors), predicted, measured, True)


# -- through uv ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class UvAction:
    """One uv command a plan runs (an uninstall or a reinstall)."""

    kind: str
    """:data:`MANAGED_PYTHON` or :data:`TOOL`."""
    path: Path
    """The installation or tool directory it removes or rebuilds."""
    label: str
    """A name for people: the installation key, the tool's name."""
    argv: tuple[str, ...]
    """The uv command."""
    env: tuple[tuple[str, str], ...] = ()
    """Variables set for it (``UV_PYTHON_INSTALL_DIR``, ``UV_TOOL_DIR``)."""
    bytes_freed: int = 0
    """Disk bytes removing ``path`` frees (each inode once, only when every link goes); 0 for a
    reinstall."""
    reason: str = ""
    """Why it is in the plan."""


@dataclass(frozen=True)
class UvPlan:
    """Uninstalls or reinstalls through uv: shown first, then run."""

    actions: tuple[UvAction, ...]
    """What runs, in order."""
    skipped: tuple[Skipped, ...]
    """What was asked for but is left alone, and why."""

    @property
    def bytes_freed(self) -> int:
        """Disk bytes all the actions free together (their directories are disjoint)."""
        return sum(a.bytes_freed for a in self.actions)


def plan_python_uninstall(
    pythons: Iterable[ManagedPython],
    uv: str,
    *,
    python_dir: str | os.PathLike,
    keys: Iterable[str] | None = None,
) -> UvPlan:
    """The plan uninstalling managed Pythons through ``uv python uninstall --install-dir DIR KEY``:
    those named by ``keys``, or every unused one (``keys`` ``None``). An installation anything
    runs on (``used_by``, see :func:`~envtui.core.pythons.find_users`) or a running process uses
    is skipped, saying which."""
    wanted = None if keys is None else set(keys)
    pythons = [p for p in pythons if wanted is None or p.key in wanted]
    in_use = processes_using({p.key: (p.path, *p.links) for p in pythons})
    actions, skipped = [], []
    for p in pythons:
        users = p.environments
        if users:
            names = ", ".join(f"{u.kind} {u.path}" for u in users[:3])
            more = f" and {len(users) - 3} more" if len(users) > 3 else ""
            skipped.append(Skipped(p.path, MANAGED_PYTHON, f"in use by {names}{more}"))
        elif in_use.get(p.key):
            skipped.append(Skipped(p.path, MANAGED_PYTHON, "in use by a running process", tuple(in_use[p.key])))
        else:
            disk, _ = freed_bytes([p.path, *p.links])
            actions.append(UvAction(
                MANAGED_PYTHON, p.path, p.key, (uv, "python", "uninstall", "--install-dir", str(python_dir), p.key),
                (("UV_PYTHON_INSTALL_DIR", str(python_dir)),), disk,
                _unused_reason(p) if wanted is None else "asked for",
            ))
    return UvPlan(tuple(actions), tuple(skipped))


def _unused_reason(p: ManagedPython) -> str:
    queries = len(p.used_by) - len(p.environments)
    if not queries:
        return "unused: no environment runs on it"
    return (f"unused: no environment runs on it ({queries} cached interpreter "
            f"quer{'y' if queries == 1 else 'ies'} of it turn missing: prune them with --interpreters)")


def _tool_env(tool_dir: str | os.PathLike, bin_dir: str | os.PathLike | None) -> tuple[tuple[str, str], ...]:
    env = [("UV_TOOL_DIR", str(tool_dir))]
    if bin_dir is not None:
        env.append(("UV_TOOL_BIN_DIR", str(bin_dir)))
    return tuple(env)


def _bin_dir(tool: Tool) -> str | None:
    dirs = {str(e.install_path.parent) for e in tool.entry_points if e.install_path is not None}
    return dirs.pop() if len(dirs) == 1 else None


def _running(tools: list[Tool]) -> dict:
    return processes_using({str(t.path): (t.path,) for t in tools})


def plan_tool_uninstall(tools: Iterable[Tool], uv: str, *, tool_dir: str | os.PathLike) -> UvPlan:
    """The plan uninstalling ``tools`` through ``uv tool uninstall NAME`` (which also removes their
    commands); a tool a running process uses is skipped."""
    tools = list(tools)
    in_use = _running(tools)
    actions, skipped = [], []
    for t in tools:
        if in_use.get(str(t.path)):
            skipped.append(Skipped(t.path, TOOL, "in use by a running process", tuple(in_use[str(t.path)])))
            continue
        disk, _ = freed_bytes([t.path])
        actions.append(UvAction(TOOL, t.path, t.name, (uv, "tool", "uninstall", t.name),
                                _tool_env(tool_dir, _bin_dir(t)), disk, "asked for"))
    return UvPlan(tuple(actions), tuple(skipped))


def plan_tool_reinstall(tools: Iterable[Tool], uv: str, *, tool_dir: str | os.PathLike) -> UvPlan:
    """The plan rebuilding ``tools`` through ``uv tool install --reinstall``, from their receipts:
    the first requirement is the tool, the others ``--with``, the Python asked for ``--python``.
    A tool without a receipt, or one a running process uses, is skipped."""
    tools = list(tools)
    in_use = _running(tools)
    actions, skipped = [], []
    for t in tools:
        if not t.requirements:
            skipped.append(Skipped(t.path, TOOL, "no requirements in its uv-receipt.toml: uv cannot reinstall it"))
            continue
        if in_use.get(str(t.path)):
            skipped.append(Skipped(t.path, TOOL, "in use by a running process", tuple(in_use[str(t.path)])))
            continue
        argv = [uv, "tool", "install", "--reinstall"]
        if t.python_request:
            argv += ["--python", t.python_request]
        for req in t.requirements[1:]:
            argv += ["--with", req]
        argv.append(t.requirements[0])
        actions.append(UvAction(TOOL, t.path, t.name, tuple(argv), _tool_env(tool_dir, _bin_dir(t)), 0, "rebuild"))
    return UvPlan(tuple(actions), tuple(skipped))


def run_action(
    action: UvAction,
    cache_root: str | os.PathLike,
    on_line: Callable[[str], None],
    *,
    env: Mapping[str, str] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> int:
    """Run ``action`` through uv (``UV_CACHE_DIR=cache_root`` and the action's variables),
    streaming its output to ``on_line``; returns uv's exit status. No lock is held while uv runs.
    Raises ``OSError`` when uv cannot be started."""
    from ..rebuild import run_uv

    environ = dict(os.environ if env is None else env)
    environ.update(action.env)
    return run_uv(action.argv, Path(cache_root), on_line, should_stop=should_stop, env=environ)
