"""Scripts envtui has seen, per uv cache, remembered in its own state directory (never in uv's
cache), so that a script environment can be called an orphan once its script is gone: a deleted
script can no longer be found under the script roots, and its environment's name does not say
where it was."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Iterable

from .state import settings_path

__all__ = ["load_seen_scripts", "remember_scripts", "seen_scripts_path"]


def seen_scripts_path() -> Path:
    """``scripts-seen.json`` beside envtui's settings (``$ENVTUI_STATE_DIR`` or platformdirs'
    ``user_state_dir("envtui")``): ``{cache root: [script path, ...]}``."""
    return settings_path().parent / "scripts-seen.json"


def _load() -> dict[str, list[str]]:
    try:
        data = json.loads(seen_scripts_path().read_text("utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict):
        return {}
    return {str(k): [str(p) for p in v] for k, v in data.items() if isinstance(v, list)}


def load_seen_scripts(cache_root: str | os.PathLike) -> list[str]:
    """Every script path remembered for the cache at ``cache_root`` (some may be gone). A missing
    or unreadable file gives ``[]``."""
    return _load().get(os.path.abspath(cache_root), [])


def remember_scripts(cache_root: str | os.PathLike, scripts: Iterable[str | os.PathLike]) -> list[str]:
    """Add ``scripts`` to those remembered for ``cache_root`` and return them all. Caches that no
    longer exist are forgotten. Written atomically; a state directory that cannot be written is not
    an error (the scripts are then not remembered)."""
    data = _load()
    key = os.path.abspath(cache_root)
    seen = data.get(key, [])
    new = [str(s) for s in scripts if str(s) not in seen]
    if not new:
        return seen
    data = {k: v for k, v in data.items() if os.path.isdir(k)}
    data[key] = seen = sorted({*seen, *new})
    path = seen_scripts_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data, indent=2), "utf-8")
        os.replace(tmp, path)
    except OSError:
        pass
    return seen
