"""Which running processes use which cache entries (psutil).

A process uses an entry when its executable, working directory, a command-line argument, an open
file, a memory-mapped file, or a path in its environment lies inside one of the entry's
directories. The environment matters most: ``uvx tool`` and ``uv run --with pkg`` start the base
interpreter (``/usr/bin/python3.12``, ``argv[0]`` is ``python``) and only ``VIRTUAL_ENV`` and
``PATH`` name the cached environment. Every path is compared resolved (``os.path.realpath``), so a
cache reached through a symlink or spelled with ``..`` matches, and so does a cached environment's
archive target.
"""

from __future__ import annotations

import os
from typing import Iterable, Mapping

import psutil

from ..disk.freed import ancestors
from ..locks import ProcessInfo
from .paths import ParentDirs

__all__ = ["ENV_VARIABLES", "ProcessPaths", "processes_using"]

#: Environment variables whose paths (``os.pathsep``-separated) tie a process to an environment;
#: every ``UV_*`` variable counts too.
ENV_VARIABLES = ("VIRTUAL_ENV", "PATH", "PYTHONHOME", "PYTHONPATH", "CONDA_PREFIX")


def _cmdline(proc: psutil.Process) -> str:
    try:
        return " ".join(proc.cmdline()) or proc.name()
    except (psutil.Error, OSError):
        return "?"


def environment_paths(environ: Mapping[str, str]) -> list[tuple[str, str]]:
    """``(variable, path)`` for every absolute path in the variables of :data:`ENV_VARIABLES` and
    in every ``UV_*`` variable of ``environ`` (values split on ``os.pathsep``)."""
    out = []
    for name, value in environ.items():
        if name in ENV_VARIABLES or name.startswith("UV_"):
            for part in value.split(os.pathsep):
                if part.startswith("/"):
                    out.append((name, part))
    return out


def _process_paths(proc: psutil.Process) -> Iterable[tuple[str, str, bool]]:
    """``(what, path, resolved already)`` for everything of ``proc`` that can lie in an entry."""
    getters = (
        ("executable", lambda: [proc.exe()], True),
        ("working directory", lambda: [proc.cwd()], True),
        ("argument", proc.cmdline, False),
        ("open file", lambda: [f.path for f in proc.open_files()], True),
        ("mapped file", lambda: [m.path for m in proc.memory_maps(grouped=True)], True),
    )
    for what, getter, resolved in getters:
        try:
            for path in getter():
                yield what, path, resolved
        except (psutil.Error, OSError):
            continue
    try:
        environ = proc.environ()
    except (psutil.Error, OSError):
        return
    for name, path in environment_paths(environ):
        yield name, path, False


def _realpath(path: str, parents: ParentDirs) -> str:
    """``os.path.realpath`` of the absolute, normalized ``path``, its parent resolved once per
    ``parents``: one ``lstat`` for the last component."""
    parts = parents.split(path)
    if parts is None:
        return os.path.realpath(path)
    here = os.path.join(*parts)
    return os.path.realpath(here) if os.path.islink(here) else here


class ProcessPaths:
    """What every running process uses, read once (psutil): its executable, working directory,
    command-line arguments, open and memory-mapped files, and the paths in its environment (see
    :func:`processes_using`), each as given and resolved. :meth:`using` then answers for any
    entry without reading a process again, so a plan asks about each of its entries for the cost
    of one look at the processes, however many entries the cache holds. Processes this user
    cannot inspect are skipped; this process is never counted. A process started after the look
    is not seen: take a new one right before deleting."""

    def __init__(self) -> None:
        # Every path a process uses, and every directory above it -> {pid: (rank, why)}: rank
        # orders what matched as the process gives it (executable first), so an entry is told
        # the first thing that lies inside it.
        self._under: dict[str, dict[int, tuple[int, str]]] = {}
        self._procs: dict[int, psutil.Process] = {}
        self._commands: dict[int, str] = {}
        me = os.getpid()
        resolved_paths: dict[str, str] = {}  # PATH entries repeat from process to process
        for proc in psutil.process_iter():
            if proc.pid == me:
                continue
            self._procs[proc.pid] = proc
            for rank, (what, path, resolved) in enumerate(_process_paths(proc)):
                if not path.startswith("/"):  # empty or relative: names nothing of ours
                    continue
                why = (rank, f"{what} {path}")
                if resolved:
                    spellings = (path,)
                else:
                    real = resolved_paths.get(path)
                    if real is None:
                        real = resolved_paths[path] = os.path.realpath(path)
                    spellings = (path, real)
                for spelled in spellings:
                    self._add(os.path.normpath(spelled), proc.pid, why)

    def _add(self, path: str, pid: int, why: tuple[int, str]) -> None:
        for here in (path, *ancestors(path)):
            self._under.setdefault(here, {}).setdefault(pid, why)

    def command(self, pid: int) -> str:
        """The command line of process ``pid`` (``"?"`` once it is gone), read once."""
        cmd = self._commands.get(pid)
        if cmd is None:
            cmd = self._commands[pid] = _cmdline(self._procs[pid])
        return cmd

    def using(self, dirs: Iterable[str | os.PathLike], parents: ParentDirs | None = None) -> list[ProcessInfo]:
        """The processes using any of ``dirs`` (each compared as given and resolved; ``parents``
        remembers resolved parent directories across calls), by pid; ``why`` names the first thing
        of the process found inside them."""
        parents = ParentDirs() if parents is None else parents
        best: dict[int, tuple[int, str]] = {}
        for d in dirs:
            spelled = os.path.abspath(d)
            for form in dict.fromkeys((spelled, _realpath(spelled, parents))):
                for pid, why in self._under.get(form, {}).items():
                    if pid not in best or why < best[pid]:
                        best[pid] = why
        return [ProcessInfo(pid, self.command(pid), best[pid][1]) for pid in sorted(best)]


def processes_using(roots: Mapping[str, Iterable[str | os.PathLike]]) -> dict[str, list[ProcessInfo]]:
    """Which running processes use which entries.

    ``roots`` maps an entry's id to the directories that make it up (for a cached environment:
    its link and its archive target); each is compared as given and resolved. A process uses an
    entry when its executable, working directory, a command-line argument, an open file, a
    memory-mapped file, or a path in ``VIRTUAL_ENV``, ``PATH``, ``PYTHONHOME``, ``PYTHONPATH`` or
    any ``UV_*`` variable lies inside one of them. Returns ``{entry id: [ProcessInfo]}`` for
    entries in use only, ``ProcessInfo.why`` naming what matched. Processes this user cannot
    inspect are skipped; this process is never counted. One :class:`ProcessPaths` look for all.
    """
    if not roots:
        return {}
    look = ProcessPaths()
    parents = ParentDirs()  # thousands of entries share a few buckets: resolve each once
    found = {}
    for ident, dirs in roots.items():
        procs = look.using(dirs, parents)
        if procs:
            found[ident] = procs
    return found
