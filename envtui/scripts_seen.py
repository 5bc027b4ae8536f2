"""Scripts envtui has seen, remembered in its own state directory (never in uv's cache), so that a
script environment can be called an orphan once its script is gone: a deleted script can no longer
be found under the script roots, and its environment's name does not say where it was."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Iterable

from .state import settings_path

__all__ = ["load_seen_scripts", "remember_scripts", "seen_scripts_path"]


def seen_scripts_path() -> Path:
    """``scripts-seen.json`` beside envtui's settings (``$ENVTUI_STATE_DIR`` or platformdirs'
    ``user_state_dir("envtui")``)."""
    return settings_path().parent / "scripts-seen.json"


def load_seen_scripts() -> list[str]:
    """Every script path remembered so far (absolute, as found; some may be gone). A missing or
    unreadable file gives ``[]``."""
    try:
        data = json.loads(seen_scripts_path().read_text("utf-8"))
    except (OSError, ValueError):
        return []
    return [str(p) for p in data] if isinstance(data, list) else []


def remember_scripts(scripts: Iterable[str | os.PathLike]) -> list[str]:
    """Add ``scripts`` to the remembered ones and return them all. Written atomically; a state
    directory that cannot be written is not an error (the scripts are then not remembered)."""
    seen = load_seen_scripts()
    new = [str(s) for s in scripts if str(s) not in seen]
    if not new:
        return seen
    seen = sorted({*seen, *new})
    path = seen_scripts_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(seen, indent=2), "utf-8")
        os.replace(tmp, path)
    except OSError:
        pass
    return seen
