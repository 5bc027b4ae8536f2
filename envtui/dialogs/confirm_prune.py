"""The confirmation every deletion passes through: the plan, entry by entry, and what is skipped."""

from __future__ import annotations

import humanize
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, DataTable, Static

from ..core.prune import Plan


def _size(n: int) -> str:
    return humanize.naturalsize(n, binary=True)


class ConfirmPrune(ModalScreen[bool]):
    """Shows a :class:`Plan` and answers ``True`` (delete) or ``False`` (cancel)."""

    BINDINGS = [
        Binding("y", "answer(True)", "Delete", id="confirm-prune.yes", tooltip="Delete the entries listed"),
        Binding("escape,n", "answer(False)", "Cancel", id="confirm-prune.no", tooltip="Delete nothing"),
    ]

    def __init__(self, plan: Plan) -> None:
        super().__init__()
        self.plan = plan
        """The plan shown; the same plan runs when the answer is yes."""

    def compose(self) -> ComposeResult:
        plan = self.plan
        with Vertical(id="confirm-prune", classes="dialog"):
            yield Static(
                Text.assemble(
                    ("Delete ", "bold"), (f"{len(plan.entries)} entr{'y' if len(plan.entries) == 1 else 'ies'}", "bold"), (", freeing ", "bold"),
                    (_size(plan.bytes_freed), "bold green"),
                    f"  ({plan.bytes_freed:,} bytes on disk; hardlinked files counted once)",
                ),
                id="confirm-prune-title",
            )
            if not plan.exclusive:
                who = "\n".join(f"  pid {p.pid}: {p.cmdline}" for p in plan.lock_holders) or "  (not visible to you)"
                yield Static(
                    Text(
                        "uv is running and holds its cache lock:\n" + who + "\nDeleting goes on entry by entry: "
                        "what these processes use, and what uv may be writing, is skipped.",
                        "yellow",
                    ),
                    id="confirm-prune-busy",
                )
            table: DataTable = DataTable(id="confirm-prune-entries", cursor_type="row", zebra_stripes=True)
            yield table
            if plan.skipped:
                lines = [f"{len(plan.skipped)} skipped:"]
                for s in plan.skipped:
                    where = s.path.relative_to(plan.root) if s.path.is_relative_to(plan.root) else s.path
                    lines.append(f"  {s.kind} {where}: {s.reason}")
                    lines += [f"      pid {p.pid}: {p.cmdline}" for p in s.processes]
                yield Static(Text("\n".join(lines), "dim"), id="confirm-prune-skipped")
            yield Static(
                Text("Frees: bytes the entry gives back with the rest of the plan; alone: if deleted by itself.", "dim"),
            )
            with Horizontal(classes="buttons"):
                yield Button(f"Delete {len(plan.entries)}", variant="error", id="delete")
                yield Button("Cancel", variant="primary", id="cancel")

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns("Kind", "Frees", "Alone", "Name", "Why", "Path")
        for e in self.plan.entries:
            table.add_row(
                e.kind, Text(_size(e.bytes_with_plan), justify="right"), Text(_size(e.bytes_alone), justify="right"),
                e.label, "; ".join(e.reasons), str(e.path.relative_to(self.plan.root)),
            )
        self.query_one("#cancel", Button).focus()

    def action_answer(self, yes: bool) -> None:
        """Close with ``yes``."""
        self.dismiss(yes)

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "delete")
