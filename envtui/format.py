"""Formatting for people: bytes, ages and shortened text, shared by the command line and the screens.

Plain strings only (no Rich, no Textual), so ``envtui ls`` and the TUI print the same figures.
"""

from __future__ import annotations

import time

import humanize

__all__ = ["ago", "middle", "size", "size_exact", "percentages"]


def size(n: int | None, unknown: str = "…") -> str:
    """Bytes in binary units (``"1.2 GiB"``); ``unknown`` while ``n`` is ``None``."""
    return unknown if n is None else humanize.naturalsize(n, binary=True)


def size_exact(n: int) -> str:
    """Bytes in binary units and exactly: ``"1.2 GiB (1,288,490,188 bytes)"``."""
    return f"{size(n)} ({n:,} bytes)"


def ago(ts: float | None, now: float | None = None, unknown: str = "?") -> str:
    """An epoch timestamp (seconds) as an age, ``"3 days ago"``; ``unknown`` for ``None``."""
    if ts is None:
        return unknown
    return humanize.naturaltime((time.time() if now is None else now) - ts)


def middle(text: str, width: int) -> str:
    """``text`` cut to ``width`` characters by replacing its middle with ``…``: both ends of a
    name or path tell entries apart (``hello.py · scripts/`` and a version at the end)."""
    if width <= 0:
        return ""
    if len(text) <= width:
        return text
    if width == 1:
        return "…"
    head = (width - 1 + 1) // 2
    tail = width - 1 - head
    return text[:head] + "…" + (text[-tail:] if tail else "")


def percentages(parts: list[int]) -> list[int]:
    """Whole percentages of ``parts`` that sum to exactly 100 (largest remainder), or all 0 when
    the parts sum to 0."""
    total = sum(parts)
    if total <= 0:
        return [0] * len(parts)
    exact = [100 * p / total for p in parts]
    out = [int(e) for e in exact]
    order = sorted(range(len(parts)), key=lambda i: exact[i] - out[i], reverse=True)
    for i in order[: 100 - sum(out)]:
        out[i] += 1
    return out
