"""Making text read out of a uv cache safe to print on a terminal.

Names, versions, summaries and paths in a cache are whatever a wheel's author or a directory's
creator chose: an ``ESC`` in a ``METADATA`` ``Summary`` can clear the screen, retitle the window
or write the clipboard (OSC 52) when printed raw; a newline in a directory name can forge a line
of output. :func:`printable` turns every such character into a visible escape instead.
"""

from __future__ import annotations

import re
from typing import Any

__all__ = ["printable", "printable_tree"]

# C0 controls but tab and newline (those two are decided by the caller), DEL, C1 controls
# (U+0080-U+009F: 8-bit terminals read U+009B as CSI), the line and paragraph separators, the bidi
# embedding, override and isolate controls that reorder what is shown ("Trojan Source"), and
# the lone surrogates that stand for undecodable bytes of a file name (surrogateescape).
_UNSAFE = "\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\udc80-\udcff"
_INLINE = re.compile(f"[{_UNSAFE}\t\n]")
_BLOCK = re.compile(f"[{_UNSAFE}]")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    if 0xDC80 <= code <= 0xDCFF:
        return f"\\x{code - 0xDC00:02x}"  # the byte the file name held
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}"


def printable(text: object, *, multiline: bool = False) -> str:
    """``str(text)`` with every control character written as a visible escape (``ESC`` becomes
    the four characters ``\\x1b``; a byte of a non-UTF-8 file name held as a surrogate becomes
    ``\\xNN``; bidi controls become ``\\u202e``).

    Tab and newline are escaped too unless ``multiline`` (then they are kept: text of several
    lines, such as uv's output). Text without such characters is returned unchanged. For Rich or
    Textual markup, escape the result with ``rich.markup.escape`` as well: this function knows
    nothing of ``[tags]``.
    """
    s = text if isinstance(text, str) else str(text)
    return (_BLOCK if multiline else _INLINE).sub(_escape, s)


def printable_tree(value: Any) -> Any:
    """A copy of a JSON-like ``value`` (dicts, lists, tuples, strings, numbers) with
    :func:`printable` applied to every string, keys included; other values are returned as they
    are."""
    if isinstance(value, str):
        return printable(value)
    if isinstance(value, dict):
        return {printable_tree(k): printable_tree(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(printable_tree(v) for v in value)
    return value
