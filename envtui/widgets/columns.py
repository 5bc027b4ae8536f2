"""Columns with priorities: which of a table's columns fit a width, and how wide each one is."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

from rich.text import Text

from ..format import middle

#: Cells DataTable adds around every column (``cell_padding`` 1 on each side).
PADDING = 2


@dataclass(frozen=True)
class Column:
    """One column of a list screen."""

    label: str
    """The header."""
    key: str
    """The column key (stable, whatever columns are shown)."""
    priority: int = 1
    """0 always stays; when the table is too narrow the highest numbers go first."""
    min: int | None = None
    """For long text (names, paths): the narrowest it may become, shortened in the middle;
    ``None``: always as wide as its widest cell."""
    max: int = 60
    """The widest it gets, however long its cells."""
    sort: str | None = None
    """The sort key a click on the header sorts by, if any."""


def cell_len(cell: Any) -> int:
    """How many terminal cells ``cell`` takes on one line."""
    return cell.cell_len if isinstance(cell, Text) else len(str(cell))


def fit_columns(columns: Sequence[Column], rows: Sequence[Sequence[Any]], width: int) -> tuple[tuple[int, int], ...]:
    """The columns that fit ``width`` cells, as ``(index, width)`` in display order.

    The columns of priority 0 always stay: at their narrowest (a long-text column at its
    ``min``), then widened toward their widest cell as far as ``width`` allows. The others follow
    by priority (ties in order) at their widest cell while they fit; the first that does not fit
    is shown shortened if it is long text and its ``min`` fits, and the rest are left out.
    """
    natural = []
    for i, c in enumerate(columns):
        widest = max([len(c.label), *(cell_len(r[i]) for r in rows)])
        natural.append(min(widest, c.max))
    widths = {i: min(natural[i], c.min) if c.min is not None else natural[i]
              for i, c in enumerate(columns) if c.priority == 0}
    spare = width - sum(w + PADDING for w in widths.values())
    for i in sorted(widths):
        grow = max(0, min(spare, natural[i] - widths[i]))
        widths[i] += grow
        spare -= grow
    for i in sorted((i for i, c in enumerate(columns) if c.priority > 0), key=lambda i: columns[i].priority):
        c = columns[i]
        if natural[i] + PADDING <= spare:
            widths[i] = natural[i]
            spare -= natural[i] + PADDING
            continue
        if c.min is not None and min(c.min, natural[i]) + PADDING <= spare:
            widths[i] = spare - PADDING
        break
    return tuple(sorted(widths.items()))


def fit_cell(cell: Any, width: int) -> Any:
    """``cell`` shortened in the middle to ``width`` cells (a ``Text`` keeps its style)."""
    if cell_len(cell) <= width:
        return cell
    if isinstance(cell, Text):
        return Text(middle(cell.plain, width), style=cell.style, justify=cell.justify)
    return middle(str(cell), width)
