"""Resolving many paths that share a few parent directories (a plan's entries, the directories
the in-use check compares), each parent once."""

from __future__ import annotations

import os

__all__ = ["ParentDirs"]


class ParentDirs:
    """Parent directories resolved once each (``os.path.realpath``): a plan resolves thousands of
    entry paths that share a few buckets. Keep one per plan or per check; a directory swapped for
    a link later is not seen by it."""

    def __init__(self) -> None:
        self._real: dict[str, str] = {}

    def __len__(self) -> int:
        return len(self._real)

    def split(self, path: str) -> tuple[str, str] | None:
        """``(resolved parent, last component)`` of ``path``, or ``None`` when its last component
        is empty, ``.`` or ``..`` (such a path is to be resolved whole)."""
        parent, name = os.path.split(path.rstrip(os.sep) or os.sep)
        if name in ("", ".", ".."):
            return None
        real = self._real.get(parent)
        if real is None:
            real = self._real[parent] = os.path.realpath(parent)
        return real, name
