"""The confirmation every deletion passes through: the plan, entry by entry, and what is skipped.

It opens at once, "planning…", and the plan fills it when the planner is done: keys pressed
while planning reach the dialog (``n`` cancels), never the screen under it.
"""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, DataTable, Footer, Static

from ..core.prune import Plan
from ..format import size, size_exact


class ConfirmPrune(ModalScreen[bool]):
    """Shows a :class:`Plan` and answers ``True`` (delete) or ``False`` (cancel)."""

    BINDINGS = [
        Binding("y", "answer(True)", "Delete", id="confirm-prune.yes", tooltip="Delete the entries listed"),
        Binding("escape,n", "answer(False)", "Cancel", id="confirm-prune.no", tooltip="Delete nothing"),
    ]

    def __init__(self, plan: Plan | None = None) -> None:
        super().__init__()
        self.plan = plan
        """The plan shown (``None`` while planning); the same plan runs when the answer is yes."""
        self._planning = "planning…"

    def compose(self) -> ComposeResult:
        with Vertical(id="confirm-prune", classes="dialog"):
            yield Static(Text(self._planning, "bold"), id="confirm-prune-title")
            yield Static("", id="confirm-prune-busy")
            yield DataTable(id="confirm-prune-entries", cursor_type="row", zebra_stripes=True)
            yield Static("", id="confirm-prune-skipped")
            yield Static(
                Text("Frees: bytes the entry gives back with the rest of the plan; alone: if deleted by itself.", "dim"),
                id="confirm-prune-note",
            )
            with Horizontal(classes="buttons"):
                yield Button("Delete", variant="error", id="delete", disabled=True, compact=True)
                yield Button("Cancel", variant="primary", id="cancel", compact=True)
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(DataTable).add_columns("Kind", "Frees", "Alone", "Name", "Why", "Path")
        self.query_one("#confirm-prune-busy").display = False
        self.query_one("#confirm-prune-skipped").display = False
        self.query_one("#cancel", Button).focus()
        if self.plan is not None:
            self.show_plan(self.plan)

    def planning(self, text: str) -> None:
        """Show that the plan is being made (``text``: "planning…", "waiting for uv…")."""
        self.plan, self._planning = None, text
        if not self.is_mounted:
            return  # compose shows it
        self.query_one("#confirm-prune-title", Static).update(Text(text, "bold"))
        self.query_one("#delete", Button).disabled = True
        self.query_one(DataTable).clear()

    def show_plan(self, plan: Plan) -> None:
        """Fill the dialog with ``plan``; ``y`` deletes from now on."""
        self.plan = plan
        if not self.is_mounted:
            return  # on_mount shows it
        n = len(plan.entries)
        self.query_one("#confirm-prune-title", Static).update(Text.assemble(
            (f"Delete {n} entr{'y' if n == 1 else 'ies'}, freeing ", "bold"), (size(plan.bytes_freed), "bold green"),
            f"  ({plan.bytes_freed:,} bytes on disk; hardlinked files counted once)",
        ))
        busy = self.query_one("#confirm-prune-busy", Static)
        busy.display = not plan.exclusive
        if not plan.exclusive:
            who = "\n".join(f"  pid {p.pid}: {p.cmdline}" for p in plan.lock_holders) or "  (not visible to you)"
            busy.update(Text(
                "uv is running and holds its cache lock:\n" + who + "\nDeleting goes on entry by entry: "
                "what these processes use, and what uv may be writing, is skipped.",
                "yellow",
            ))
        table = self.query_one(DataTable)
        table.clear()
        for e in plan.entries:
            table.add_row(
                e.kind, Text(size(e.bytes_with_plan), justify="right"), Text(size(e.bytes_alone), justify="right"),
                e.label, "; ".join(e.reasons), str(e.path.relative_to(plan.root)),
            )
        skipped = self.query_one("#confirm-prune-skipped", Static)
        skipped.display = bool(plan.skipped) or plan.size_target is not None
        if plan.skipped or plan.size_target is not None:
            from ..core.prune.maxsize import describe

            lines = describe(plan.size_target, size) if plan.size_target is not None else []
            lines += [f"{len(plan.skipped)} skipped:"] if plan.skipped else []
            for s in plan.skipped:
                where = s.path.relative_to(plan.root) if s.path.is_relative_to(plan.root) else s.path
                lines.append(f"  {s.kind} {where}: {s.reason}")
                lines += [f"      pid {p.pid}: {p.cmdline}" for p in s.processes]
            skipped.update(Text("\n".join(lines), "dim"))
        delete = self.query_one("#delete", Button)
        delete.label = f"Delete {n}"
        delete.disabled = False
        delete.tooltip = size_exact(plan.bytes_freed)

    def action_answer(self, yes: bool) -> None:
        """Close with ``yes``; a yes before the plan is shown is answered, not acted on."""
        if yes and self.plan is None:
            self.notify("The plan is not ready yet: y deletes once it is shown.", title="Prune")
            return
        self.dismiss(yes)

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        self.action_answer(event.button.id == "delete")
