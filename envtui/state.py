"""envtui's own settings, under platformdirs' ``user_state_dir("envtui")``: never in uv's cache.

Read and written through :mod:`envtui.core.statefile` (safety rule 12): a settings file that is
a FIFO, a link, too large, not JSON or not of the expected shape is ignored with one line naming
it, and is never waited on; a state directory others can write is never written to.
"""

from __future__ import annotations

import os
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable

import platformdirs

from .core.fsread import MIB
from .core.statefile import read_json, write_json

__all__ = ["MAX_SETTINGS_BYTES", "Settings", "load_settings", "read_settings", "save_settings", "settings_path",
           "state_dir", "warn"]

MAX_SETTINGS_BYTES = 1 * MIB
"""The largest settings file read or written."""


@dataclass(frozen=True)
class Settings:
    """What envtui remembers between runs."""

    script_roots: tuple[str, ...] = ()
    """Directories searched for PEP 723 scripts and project environments (``--roots``; the
    name is the one older envtui wrote)."""

    @property
    def roots(self) -> tuple[str, ...]:
        """The roots (``--roots``): the same as :attr:`script_roots`."""
        return self.script_roots


def state_dir() -> Path:
    """``$ENVTUI_STATE_DIR``, or platformdirs' ``user_state_dir("envtui")``: envtui's state
    directory (created ``0700`` when first written)."""
    return Path(os.environ.get("ENVTUI_STATE_DIR") or platformdirs.user_state_dir("envtui", appauthor=False))


def settings_path() -> Path:
    """``$ENVTUI_STATE_DIR/settings.json``, or ``user_state_dir("envtui")/settings.json``."""
    return state_dir() / "settings.json"


def warn(problem: str) -> None:
    """Print ``envtui: warning: problem`` on stderr (``problem`` is already one printable line).
    Inside the TUI, Textual captures stderr: the TUI asks :func:`read_settings` and notifies."""
    print(f"envtui: warning: {problem}", file=sys.stderr)


def _settings(doc: Any) -> Settings:
    if not isinstance(doc, dict):
        raise TypeError("not an object")
    roots = doc.get("script_roots", doc.get("roots", []))  # "roots": what older envtui wrote
    if not isinstance(roots, list) or not all(isinstance(r, str) and r and "\0" not in r for r in roots):
        raise TypeError("script_roots is not a list of directories")
    return Settings(script_roots=tuple(roots))


def read_settings() -> tuple[Settings, str | None]:
    """The settings, and one line about a problem with them (or ``None``). A missing settings
    file gives the defaults; so does an unusable one (a FIFO, a link, a directory, more than
    :data:`MAX_SETTINGS_BYTES`, not JSON, not ``{"script_roots": [str, ...]}``), with the line
    naming it. Never raises, never blocks."""
    settings, problem = read_json(settings_path(), _settings, limit=MAX_SETTINGS_BYTES, what="envtui's settings")
    return settings or Settings(), problem


def load_settings(*, on_problem: Callable[[str], None] | None = warn) -> Settings:
    """:func:`read_settings`, a problem handed to ``on_problem`` (default :func:`warn`: a line on
    stderr; ``None``: ignored)."""
    settings, problem = read_settings()
    if problem is not None and on_problem is not None:
        on_problem(problem)
    return settings


def save_settings(settings: Settings) -> Path:
    """Write the settings atomically (:func:`envtui.core.statefile.write_json`); returns the file
    written. Raises ``OSError``: :class:`~envtui.core.statefile.UnsafeStateDirError` when the
    state directory is a link, another user's, or writable by others."""
    return write_json(settings_path(), asdict(settings), limit=MAX_SETTINGS_BYTES, indent=2)
