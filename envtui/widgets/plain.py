"""The one way text from disk reaches the screen: plain text, never markup, never raw escapes.

File names, ``METADATA`` fields, receipts, ``pyvenv.cfg`` values, process command lines, uv's
output and error messages holding paths are whatever someone chose. Textual reads a ``str`` as
markup in a ``DataTable`` cell, a ``Static``, a notification, a button label and a border title:
``[x=1:2]colon.py`` crashes the app (``MarkupError``), ``report [old].py`` loses ``[old]``,
``[@click=app.quit]x`` becomes an action. And nothing in Textual or Rich escapes ``ESC``: an OSC 52
sequence in a script's name writes the clipboard when the row is drawn.

So every such string goes through :func:`plain` (or, where Textual takes only a ``str`` and
shows it literally, :func:`plain_str`; for notifications, :func:`notify`): built as Rich
``Text`` (never parsed), with control, C1 and bidi characters written as visible escapes by
:func:`envtui.core.text.printable`, exactly as ``envtui ls`` prints them. Text envtui writes
itself may carry styles: assemble it with ``Text.assemble`` around :func:`plain` parts, never by
putting a disk string into markup.
"""

from __future__ import annotations

from typing import Literal

from rich.style import StyleType
from rich.text import Text
from textual.app import App
from textual.widget import Widget

from ..core.text import printable

__all__ = ["notify", "plain", "plain_str"]

Justify = Literal["default", "left", "center", "right", "full"] | None


def plain(text: object, style: StyleType = "", *, multiline: bool = False, justify: Justify = None) -> Text:
    """``str(text)`` as display content: a Rich ``Text`` in ``style``, never read as markup, with
    every control, C1 and bidi character escaped (``ESC`` shows as ``\\x1b``).

    A newline or tab is escaped too unless ``multiline`` (uv's output, an error of several
    lines). Safe in every Textual place that takes a renderable or ``Text``: ``DataTable`` cells,
    ``Static.update``, ``border_title``, ``Button`` labels, tooltips.
    """
    return Text(printable(text, multiline=multiline), style=style, justify=justify, end="")


def plain_str(text: object) -> str:
    """``str(text)`` escaped as :func:`plain` does, for the few places Textual takes only a
    ``str`` and shows it literally (a screen's ``title`` and ``sub_title``, a ``Log`` line)."""
    return printable(text)


def notify(
    node: Widget | App,
    message: Text | str,
    *,
    title: object = "",
    severity: Literal["information", "warning", "error"] = "information",
    timeout: float | None = None,
) -> None:
    """Show ``message`` as a notification from ``node`` (a screen, a widget or the app), never as
    markup: a ``Text`` (built with :func:`plain` parts) keeps its lines; a ``str`` is one line,
    escaped like :func:`plain`. ``title`` is escaped too. Safe from any thread, as Textual's
    ``notify`` is."""
    body = printable(message.plain, multiline=True) if isinstance(message, Text) else printable(message)
    kwargs = {} if timeout is None else {"timeout": timeout}
    node.notify(body, title=printable(title), severity=severity, markup=False, **kwargs)
