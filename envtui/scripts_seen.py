"""Scripts envtui has seen, per uv cache, remembered in its own state directory (never in uv's
cache), so that a script environment can be called an orphan once its script is gone: a deleted
script can no longer be found under the script roots, and its environment's name does not say
where it was.

Read and written through :mod:`envtui.core.statefile` (safety rule 12): an unusable file is
ignored with one line naming it, never waited on; a state directory others can write is never
written to (the scripts are then not remembered, and the line says why).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable, Iterable

from .core.fsread import MIB
from .core.statefile import UnsafeStateDirError, read_json, write_json
from .core.text import printable
from .state import settings_path, warn

__all__ = ["MAX_SEEN_BYTES", "load_seen_scripts", "read_seen_scripts", "remember_scripts", "seen_scripts_path"]

MAX_SEEN_BYTES = 16 * MIB
"""The largest ``scripts-seen.json`` read or written (some 100,000 script paths)."""


def seen_scripts_path() -> Path:
    """``scripts-seen.json`` beside envtui's settings (``$ENVTUI_STATE_DIR`` or platformdirs'
    ``user_state_dir("envtui")``): ``{cache root: [script path, ...]}``."""
    return settings_path().parent / "scripts-seen.json"


def _seen(doc: Any) -> dict[str, list[str]]:
    if not isinstance(doc, dict):
        raise TypeError("not an object")
    for scripts in doc.values():
        if not isinstance(scripts, list) or not all(isinstance(s, str) for s in scripts):
            raise TypeError("not {cache root: [script path, ...]}")
    return doc


def _read() -> tuple[dict[str, list[str]], str | None]:
    seen, problem = read_json(seen_scripts_path(), _seen, limit=MAX_SEEN_BYTES, what="a list of scripts seen")
    return seen or {}, problem


def read_seen_scripts(cache_root: str | os.PathLike[str]) -> tuple[list[str], str | None]:
    """Every script path remembered for the cache at ``cache_root`` (some may be gone), and one
    line about a problem with the file (or ``None``). A missing or unusable file gives ``[]``.
    Never raises, never blocks."""
    seen, problem = _read()
    return seen.get(os.path.abspath(cache_root), []), problem


def load_seen_scripts(cache_root: str | os.PathLike[str], *, on_problem: Callable[[str], None] | None = warn) -> list[str]:
    """:func:`read_seen_scripts`, a problem handed to ``on_problem`` (default: a line on stderr)."""
    scripts, problem = read_seen_scripts(cache_root)
    if problem is not None and on_problem is not None:
        on_problem(problem)
    return scripts


def remember_scripts(cache_root: str | os.PathLike[str], scripts: Iterable[str | os.PathLike[str]], *,
                     on_problem: Callable[[str], None] | None = warn) -> list[str]:
    """Add ``scripts`` to those remembered for ``cache_root`` and return them all. Caches that no
    longer exist are forgotten. Written atomically (:func:`envtui.core.statefile.write_json`); a
    file that cannot be used is replaced. A state directory that cannot or must not be written is
    not an error (the scripts are then not remembered). Each problem is one line handed to
    ``on_problem`` (default: a line on stderr). Never raises ``OSError``."""
    data, problem = _read()
    problems = [] if problem is None else [problem]
    key = os.path.abspath(cache_root)
    seen = data.get(key, [])
    new = [str(s) for s in scripts if str(s) not in seen]
    if new:
        data = {k: v for k, v in data.items() if os.path.isdir(k)}
        data[key] = seen = sorted({*seen, *new})
        path = seen_scripts_path()
        try:
            write_json(path, data, limit=MAX_SEEN_BYTES, indent=2)
        except UnsafeStateDirError as err:
            if str(err) in problems:  # already said when reading
                problems.remove(str(err))
            problems.append(f"{err}; the scripts seen are not remembered")
        except OSError as err:
            problems.append(printable(f"{path}: cannot be written ({err.strerror or err}); the scripts seen are not remembered"))
    if on_problem is not None:
        for line in problems:
            on_problem(line)
    return seen
