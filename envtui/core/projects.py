"""Virtual environments outside the cache: project ``.venv``s (and any other directory holding a
``pyvenv.cfg``) under the roots the user names.

uv writes a project's environment at ``<project>/.venv`` (``UV_PROJECT_ENVIRONMENT`` moves it),
installing by hardlink from ``archive-v0``, so its files are usually the same inodes as cache
entries: what deleting it frees is counted by :mod:`envtui.core.machine`.
"""

from __future__ import annotations

import os
import stat
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Iterator

from .environments import Distribution, read_distributions, read_pyvenv_cfg
from .errors import EntryError, ScanCancelled
from .fsread import KIB, read_regular

__all__ = ["ProjectEnv", "Venv", "find_venvs", "read_venv", "scan_projects"]

if sys.version_info >= (3, 11):
    import tomllib as _toml
else:  # pragma: no cover - 3.10
    import tomli as _toml

#: Directories never searched for environments: version control, caches, dependencies.
SKIP_DIRS = frozenset({".git", ".hg", ".svn", "node_modules", "__pycache__", ".mypy_cache", ".ruff_cache", ".pytest_cache", ".tox", ".nox"})


@dataclass(frozen=True)
class Venv:
    """What a ``pyvenv.cfg`` directory says about itself."""

    path: Path
    """The environment's directory (the one holding ``pyvenv.cfg``)."""
    python_version: str | None = None
    """``version_info`` from ``pyvenv.cfg``."""
    implementation: str | None = None
    """``implementation`` from ``pyvenv.cfg``."""
    home: str | None = None
    """``home`` from ``pyvenv.cfg``: the base interpreter's ``bin`` directory."""
    interpreter: str | None = None
    """Where ``bin/python`` points (the link's target, made absolute from the directory the link
    really lies in, not resolved further), or ``None`` when it is no link (a copied interpreter)."""
    uv_version: str | None = None
    """The uv that made it (``uv`` in ``pyvenv.cfg``), ``None`` for ``python -m venv``."""
    prompt: str | None = None
    """``prompt`` from ``pyvenv.cfg``."""
    packages: tuple[Distribution, ...] = ()
    """Installed distributions, sorted by name."""
    last_used: float | None = None
    """Access time of ``pyvenv.cfg``, epoch seconds (read at every start; relatime: a day stale)."""
    modified: float | None = None
    """Modification time of ``pyvenv.cfg``, epoch seconds."""
    problems: tuple[str, ...] = ()
    """What could not be read, each naming the path."""


def read_venv(path: Path) -> Venv:
    """Read the environment at ``path``. Never raises: what cannot be read is in ``problems``."""
    cfg_path = path / "pyvenv.cfg"
    problems: list[str] = []
    try:
        st = os.lstat(cfg_path)
        times: tuple[float | None, float | None] = (st.st_atime, st.st_mtime)
    except OSError:
        times = (None, None)
    cfg: dict[str, str] = {}
    try:
        cfg = read_pyvenv_cfg(cfg_path)
    except (OSError, EntryError, ValueError) as err:
        problems.append(str(err) if not isinstance(err, OSError) else f"{cfg_path}: {err.strerror or err}")
    python = path / "bin" / "python"
    try:
        target = os.readlink(python)
        # A relative target is read from where the link really lies: ".." after a link in the
        # path (a root given through a symlink) is not the spelled parent.
        interpreter = os.path.normpath(os.path.join(os.path.realpath(python.parent), target))
    except OSError:
        interpreter = None
    try:
        packages = read_distributions(path)
    except OSError as err:  # a directory above site-packages this user may not search
        packages = ()
        problems.append(f"{err.filename or path}: {err.strerror or err}")
    problems += [d.problem for d in packages if d.problem]
    return Venv(
        path=path,
        python_version=cfg.get("version_info") or cfg.get("version"),
        implementation=cfg.get("implementation"),
        home=cfg.get("home"),
        interpreter=interpreter,
        uv_version=cfg.get("uv"),
        prompt=cfg.get("prompt"),
        packages=packages,
        last_used=times[0],
        modified=times[1],
        problems=tuple(problems),
    )


@dataclass(frozen=True)
class ProjectEnv:
    """A virtual environment found under the roots."""

    venv: Venv
    """The environment itself."""
    project: Path | None
    """The directory holding it, when that directory has a ``pyproject.toml`` (a uv project)."""
    project_name: str | None = None
    """``[project] name`` from that ``pyproject.toml``."""
    project_version: str | None = None
    """``[project] version`` from that ``pyproject.toml``."""

    @property
    def path(self) -> Path:
        """The environment's directory."""
        return self.venv.path


def _is_venv(directory: str) -> bool:
    try:
        return stat.S_ISREG(os.lstat(os.path.join(directory, "pyvenv.cfg")).st_mode)
    except OSError:
        return False


def find_venvs(
    roots: Iterable[str | os.PathLike[str]],
    *,
    exclude: Iterable[str | os.PathLike[str]] = (),
    max_dirs: int = 200_000,
    should_stop: Callable[[], bool] | None = None,
) -> Iterator[Path]:
    """Yield every directory under ``roots`` (the roots included) that holds a regular
    ``pyvenv.cfg``, absolute and as reached (not resolved). Symlinked directories are not
    followed, a venv is not searched inside, and nothing under ``exclude`` (the cache, uv's
    Python and tool directories) is yielded. At most ``max_dirs`` directories are listed.
    Raises :class:`ScanCancelled` when ``should_stop()`` turns true (checked per directory)."""
    skip = {os.path.realpath(p) for p in exclude}
    listed = 0
    seen: set[str] = set()
    for root in roots:
        stack = [os.path.abspath(root)]
        while stack:
            if should_stop is not None and should_stop():
                raise ScanCancelled()
            current = stack.pop()
            real = os.path.realpath(current)
            if real in skip or real in seen:
                continue
            seen.add(real)
            if _is_venv(current):
                yield Path(current)
                continue
            listed += 1
            if listed > max_dirs:
                return
            try:
                with os.scandir(current) as it:
                    children = sorted(
                        (e.path for e in it if e.name not in SKIP_DIRS and e.is_dir(follow_symlinks=False)),
                        reverse=True,
                    )
            except OSError:
                continue
            stack += children


def _project_meta(project: Path) -> tuple[str | None, str | None]:
    try:
        data = _toml.loads(read_regular(project / "pyproject.toml", 256 * KIB).decode("utf-8", "replace"))
    except (OSError, EntryError, ValueError):
        return None, None
    table = data.get("project")
    if not isinstance(table, dict):
        return None, None
    name, version = table.get("name"), table.get("version")
    return (name if isinstance(name, str) else None), (version if isinstance(version, str) else None)


def scan_projects(
    roots: Iterable[str | os.PathLike[str]],
    *,
    exclude: Iterable[str | os.PathLike[str]] = (),
    should_stop: Callable[[], bool] | None = None,
) -> list[ProjectEnv]:
    """Every environment :func:`find_venvs` finds under ``roots``, read, sorted by path."""
    out = []
    for path in find_venvs(roots, exclude=exclude, should_stop=should_stop):
        project = path.parent if os.path.lexists(path.parent / "pyproject.toml") else None
        out.append(ProjectEnv(read_venv(path), project, *(_project_meta(project) if project else (None, None))))
    return sorted(out, key=lambda p: str(p.path))
