"""Finding PEP 723 scripts on disk, so that script environments can be traced to their script."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Callable, Iterable, Iterator

from .errors import EntryError
from .fsread import read_regular

__all__ = ["find_scripts", "has_script_metadata"]

# The reference regex of PEP 723 (packaging.python.org, "Inline script metadata").
_BLOCK = re.compile(rb"(?m)^# /// (?P<type>[a-zA-Z0-9-]+)$\s(?P<content>(^#(| .*)$\s)+)^# ///$")
_SKIP_DIRS = frozenset({".git", ".hg", ".svn", ".venv", "venv", "node_modules", "__pycache__", "site-packages", ".tox", ".nox", ".mypy_cache"})
_MAX_BYTES = 1 << 20


def has_script_metadata(path: Path) -> bool:
    """Whether the file at ``path`` holds a PEP 723 ``script`` block (only its first MiB is read).
    Unreadable files give ``False``."""
    try:
        data = read_regular(path, _MAX_BYTES, truncate=True)
    except (OSError, EntryError):
        # A FIFO named *.py must never be opened for a blocking read; it is simply not a script.
        return False
    return any(m["type"] == b"script" for m in _BLOCK.finditer(data))


def find_scripts(
    roots: Iterable[str | os.PathLike[str]],
    *,
    should_stop: Callable[[], bool] | None = None,
) -> Iterator[Path]:
    """Yield every ``*.py`` file with a PEP 723 script block under ``roots`` (absolute paths, as
    given, not resolved: uv hashes the path it was given). Version-control directories, virtual
    environments and ``node_modules`` are skipped; symlinked directories are not followed.
    A root that is a file is checked itself."""
    for root in roots:
        root = Path(os.path.abspath(root))
        if root.is_file():
            if has_script_metadata(root):
                yield root
            continue
        for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
            if should_stop and should_stop():
                return
            dirnames[:] = sorted(d for d in dirnames if d not in _SKIP_DIRS and not d.startswith(".tmp"))
            for name in sorted(filenames):
                if name.endswith(".py"):
                    path = Path(dirpath) / name
                    if has_script_metadata(path):
                        yield path
