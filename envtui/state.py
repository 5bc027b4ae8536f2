"""envtui's own settings, under platformdirs' ``user_state_dir("envtui")``: never in uv's cache."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import platformdirs

__all__ = ["Settings", "load_settings", "save_settings", "settings_path"]


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


def settings_path() -> Path:
    """``$ENVTUI_STATE_DIR/settings.json``, or ``user_state_dir("envtui")/settings.json``."""
    base = os.environ.get("ENVTUI_STATE_DIR") or platformdirs.user_state_dir("envtui", appauthor=False)
    return Path(base) / "settings.json"


def load_settings() -> Settings:
    """Read the settings; a missing or unreadable file gives the defaults."""
    try:
        data = json.loads(settings_path().read_text("utf-8"))
        return Settings(script_roots=tuple(str(r) for r in data.get("script_roots", data.get("roots", ()))))
    except (OSError, ValueError, AttributeError, TypeError):
        return Settings()


def save_settings(settings: Settings) -> Path:
    """Write the settings atomically; returns the file written. Raises ``OSError``."""
    path = settings_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(asdict(settings), indent=2), "utf-8")
    os.replace(tmp, path)
    return path
