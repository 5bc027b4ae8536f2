"""One scan of a uv cache into immutable records, and their JSON form."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable

from .buckets import Bucket, check_cache_root, list_buckets
from .environments import DANGLING, Environment, scan_environment_buckets
from .interpreters import InterpreterEntry, scan_interpreters
from .locate import CacheLocation

__all__ = ["Inventory", "Problem", "scan_inventory", "inventory_to_json"]


@dataclass(frozen=True)
class Problem:
    """Something that could not be read; the scan went on without it."""

    path: Path
    """The file or directory concerned."""
    message: str
    """What went wrong, for a person."""


@dataclass(frozen=True)
class Inventory:
    """What a uv cache holds: interpreters, environments and buckets (no sizes)."""

    location: CacheLocation
    """Where the cache is and how it was found."""
    buckets: tuple[Bucket, ...]
    """Every top-level entry of the cache root."""
    interpreters: tuple[InterpreterEntry, ...]
    """Every cached interpreter query, across every ``interpreter-vN`` bucket."""
    environments: tuple[Environment, ...]
    """Script environments first, then cached environments, each sorted by key."""
    problems: tuple[Problem, ...] = ()
    """What could not be read."""

    @property
    def root(self) -> Path:
        """The cache root."""
        return self.location.path


def scan_inventory(
    location: CacheLocation,
    *,
    known_scripts: Iterable[str] = (),
    should_stop: Callable[[], bool] | None = None,
) -> Inventory:
    """Scan the cache at ``location.path`` (no disk accounting; see ``envtui.core.disk``).

    Raises :class:`~envtui.core.errors.NotACacheError` when the root is missing, not a directory or
    lacks uv's ``CACHEDIR.TAG``; :class:`~envtui.core.errors.ScanCancelled` when ``should_stop()``
    turns true. Everything else unreadable becomes a :class:`Problem`.
    """
    root = location.path
    check_cache_root(root)
    problems: list[Problem] = []

    def on_problem(path: Path, message: str) -> None:
        problems.append(Problem(path, message))

    buckets = list_buckets(root)
    interp_buckets = [(b.path, b.version) for b in buckets
                      if b.kind == "bucket" and b.name == "interpreter" and b.version is not None]
    interpreters = scan_interpreters(interp_buckets, should_stop=should_stop, on_problem=on_problem)
    # Every environments-vN bucket: uv 0.5 and 0.13 sharing a cache each keep their own.
    env_buckets = [b.path for b in buckets if b.kind == "bucket" and b.name == "environments"]
    executables: list[str] = []
    for entry in interpreters:
        executables.extend(x for x in (entry.executable, entry.base_executable, entry.canonical) if x)
    environments: list[Environment] = scan_environment_buckets(
        env_buckets,
        known_executables=executables,
        known_prefixes=[(e.executable, e.sys_prefix) for e in interpreters if e.executable and e.sys_prefix],
        known_scripts=known_scripts,
        should_stop=should_stop,
        on_problem=on_problem,
    )
    for env in environments:
        if env.status == DANGLING and env.link_target is not None:
            problems.append(Problem(env.path, f"dangling link: its target {env.link_target} is gone "
                                              "(`envtui prune --dangling` removes the link)"))
            continue
        problems.extend(_problem(env.path, message) for message in env.problems)
    return Inventory(location, tuple(buckets), tuple(interpreters), tuple(environments), tuple(problems))


def _problem(path: Path, message: str) -> Problem:
    """The environment at ``path``'s problem, naming the path once: a message that begins with
    the environment's own path loses that prefix (one about a file inside it keeps the file's full
    path, so the file is named exactly)."""
    prefix = f"{path}: "
    return Problem(path, message[len(prefix):] if message.startswith(prefix) else message)


def _jsonable(value: Any) -> Any:
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, tuple):
        return [_jsonable(v) for v in value]
    if dataclasses.is_dataclass(value):
        return {f.name: _jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    return value


def inventory_to_json(inv: Inventory) -> dict[str, Any]:
    """The ``envtui ls --json`` document: ``cache_dir``, ``cache_dir_source``, ``interpreters``,
    ``environments`` (each with ``kind``, ``path``, ``key``, ``python_version``, ``interpreter``,
    ``packages`` as ``[{"name", "version"}]``, ``script``, ``link_target``), ``buckets`` and
    ``problems``. Paths are strings; times are epoch seconds."""
    interpreters = []
    for e in inv.interpreters:
        d = _jsonable(e)
        d["key_source"] = list(e.key_source) if e.key_source else None
        interpreters.append(d)
    environments = []
    for env in inv.environments:
        d = _jsonable(env)
        d["packages"] = [{"name": p.name, "version": p.version} for p in env.packages]
        d["python"] = str(env.python)
        environments.append(d)
    return {
        "cache_dir": str(inv.root),
        "cache_dir_source": inv.location.source,
        "interpreters": interpreters,
        "environments": environments,
        "buckets": [
            {"name": b.name, "version": b.version, "path": str(b.path), "kind": b.kind, "age": b.age,
             "written_by": b.written_by}
            for b in inv.buckets
        ],
        "problems": [{"path": str(p.path), "message": p.message} for p in inv.problems],
    }
