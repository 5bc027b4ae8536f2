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

from ..locks import ProcessInfo
from .paths import ParentDirs

__all__ = ["ENV_VARIABLES", "processes_using"]

#: Environment variables whose paths (``os.pathsep``-separated) tie a process to an environment;
#: every ``UV_*`` variable counts too.
ENV_VARIABLES = ("VIRTUAL_ENV", "PATH", "PYTHONHOME", "PYTHONPATH", "CONDA_PREFIX")


def _cmdline(proc: psutil.Process) -> str:
    try:
        return " ".join(proc.cmdline()) or proc.name()
    except (psutil.Error, OSError):
        return "?"


def _owner(path: str, owners: Mapping[str, str]) -> str | None:
    """The owner of the deepest directory in ``owners`` that holds ``path`` (or is it)."""
    while True:
        ident = owners.get(path)
        if ident is not None:
            return ident
        parent = os.path.dirname(path)
        if parent == path:
            return None
        path = parent


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


def processes_using(roots: Mapping[str, Iterable[str | os.PathLike]]) -> dict[str, list[ProcessInfo]]:
    """Which running processes use which entries.

    ``roots`` maps an entry's id to the directories that make it up (for a cached environment:
    its link and its archive target); each is compared as given and resolved. A process uses an
    entry when its executable, working directory, a command-line argument, an open file, a
    memory-mapped file, or a path in ``VIRTUAL_ENV``, ``PATH``, ``PYTHONHOME``, ``PYTHONPATH`` or
    any ``UV_*`` variable lies inside one of them. Returns ``{entry id: [ProcessInfo]}`` for
    entries in use only, ``ProcessInfo.why`` naming what matched. Processes this user cannot
    inspect are skipped; this process is never counted.
    """
    owners: dict[str, str] = {}
    parents = ParentDirs()  # thousands of entries share a few buckets: resolve each once
    for ident, dirs in roots.items():
        for d in dirs:
            spelled = os.path.abspath(d)
            owners.setdefault(spelled, ident)
            owners.setdefault(_realpath(spelled, parents), ident)
    if not owners:
        return {}
    found: dict[str, list[ProcessInfo]] = {}
    me = os.getpid()
    resolved_paths: dict[str, str] = {}  # PATH entries repeat from process to process

    def real(path: str) -> str:
        try:
            return resolved_paths[path]
        except KeyError:
            out = resolved_paths[path] = os.path.realpath(path)
            return out

    for proc in psutil.process_iter():
        if proc.pid == me:
            continue
        hits: dict[str, str] = {}
        for what, path, resolved in _process_paths(proc):
            if not path or not path.startswith("/"):
                continue
            spellings = (path,) if resolved else (path, real(path))
            for spelled in spellings:
                ident = _owner(os.path.normpath(spelled), owners)
                if ident is not None and ident not in hits:
                    hits[ident] = f"{what} {path}"
        if hits:
            cmd = _cmdline(proc)
            for ident, why in hits.items():
                found.setdefault(ident, []).append(ProcessInfo(proc.pid, cmd, why))
    return found
