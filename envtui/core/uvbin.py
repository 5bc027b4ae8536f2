"""Finding the uv executable that envtui runs (rebuilds, and the demo's builder)."""

from __future__ import annotations

import shutil

__all__ = ["find_uv"]


def find_uv() -> str | None:
    """The uv executable: ``uv`` on ``PATH``, else the binary the ``uv`` package from PyPI ships
    beside this Python (``uv.find_uv_bin``); ``None`` if neither exists."""
    found = shutil.which("uv")
    if found:
        return found
    try:
        from uv import find_uv_bin  # type: ignore[import-not-found]

        return find_uv_bin()
    except Exception:  # not installed, or installed without its binary
        return None
