"""The confirmation every deletion passes through: the plan, entry by entry, and what is skipped.

It opens at once, "planning…", and the plan fills it when the planner is done: keys pressed
while planning reach the dialog (``n`` cancels), never the screen under it. ``y`` (and the Delete
button) act only once the plan they would run has been drawn: a plan given before the dialog is
mounted is drawn at mount, and one replaced by "planning…" is no longer the one ``y`` runs.
"""

from __future__ import annotations

import shlex
from pathlib import Path

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, DataTable, Footer, Static

from ..core.prune import Plan
from ..format import size, size_exact
from ..widgets.plain import notify, plain


def _where(path: Path, root: Path) -> Path:
    """``path`` relative to the plan's ``root`` when inside it, else whole (a plan outside the
    cache may name what lies elsewhere)."""
    return path.relative_to(root) if path.is_relative_to(root) else path


def _processes(processes, indent: str) -> list[Text]:
    return [Text.assemble(f"{indent}pid {p.pid}: ", plain(p.cmdline)) for p in processes]


class ConfirmPrune(ModalScreen[bool]):
    """Shows a :class:`Plan` and answers ``True`` (delete) or ``False`` (cancel)."""

    BINDINGS = [
        Binding("y", "answer(True)", "Delete", id="confirm-prune.yes", tooltip="Delete the entries listed"),
        Binding("escape,n", "answer(False)", "Cancel", id="confirm-prune.no", tooltip="Delete nothing"),
    ]

    def __init__(self, plan: Plan | None = None) -> None:
        super().__init__()
        self.plan = plan
        """The plan to show (``None`` while planning); the same plan runs when the answer is yes."""
        self.shown: Plan | None = None
        """The plan drawn on screen, once it has been: what ``y`` runs; ``None`` until then."""
        self._planning = "planning…"
        self._composed = False

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
        # is_mounted is still false here: fill the widgets directly, not through show_plan's guard.
        self._composed = True
        if self.plan is not None:
            self._fill(self.plan)

    def planning(self, text: str) -> None:
        """Show that the plan is being made (``text``: "planning…", "waiting for uv…"); ``y`` does
        nothing until the next plan is shown."""
        self.plan, self.shown, self._planning = None, None, text
        if not self._composed:
            return  # compose shows it
        self.query_one("#confirm-prune-title", Static).update(Text(text, "bold"))
        self.query_one("#delete", Button).disabled = True
        self.query_one(DataTable).clear()
        self.query_one("#confirm-prune-busy").display = False
        self.query_one("#confirm-prune-skipped").display = False

    def show_plan(self, plan: Plan) -> None:
        """Fill the dialog with ``plan``; ``y`` deletes once it has been drawn."""
        self.plan, self.shown = plan, None
        if self._composed:
            self._fill(plan)
        # else: on_mount fills it

    def _fill(self, plan: Plan) -> None:
        n = len(plan.entries)
        self.query_one("#confirm-prune-title", Static).update(Text.assemble(
            (f"Delete {n} entr{'y' if n == 1 else 'ies'}, freeing ", "bold"), (size(plan.bytes_freed), "bold green"),
            f"  ({plan.bytes_freed:,} bytes on disk; hardlinked files counted once)",
        ))
        busy = self.query_one("#confirm-prune-busy", Static)
        busy.display = not plan.exclusive
        if not plan.exclusive:
            who = _processes(plan.lock_holders, "  ") or [Text("  (not visible to you)")]
            busy.update(Text("\n", "yellow").join([
                Text("uv is running and holds its cache lock:"), *who,
                Text("Deleting goes on entry by entry: what these processes use, and what uv may be writing, is skipped."),
            ]))
        table = self.query_one(DataTable)
        table.clear()
        for e in plan.entries:
            table.add_row(
                plain(e.kind), plain(size(e.bytes_with_plan), justify="right"), plain(size(e.bytes_alone), justify="right"),
                plain(e.label), plain("; ".join(e.reasons)), plain(_where(e.path, plan.root)),
            )
        lines: list[Text] = []
        if plan.size_target is not None:
            from ..core.prune.maxsize import describe

            lines += [plain(line) for line in describe(plan.size_target, size)]
        commands = [e for e in plan.entries if e.command is not None]
        if commands:  # what will run comes first: the rest may need scrolling at 80x24
            lines.append(Text("Through uv:"))
            lines += [plain(f"  {shlex.join(e.command.argv)}") for e in commands]
        if plan.unreadable:
            lines.append(plain(f"{len(plan.unreadable)} not measured (their bytes are in none of the figures):"))
            lines += [Text.assemble("  ", plain(path), ": ", plain(why)) for path, why in plan.unreadable]
        if plan.skipped:
            lines.append(plain(f"{len(plan.skipped)} skipped:"))
        for s in plan.skipped:
            lines.append(Text.assemble(f"  {s.kind} ", plain(_where(s.path, plan.root)), ": ", plain(s.reason)))
            lines += _processes(s.processes, "      ")
        lines += [Text.assemble("note: ", plain(note)) for note in plan.notes]
        skipped = self.query_one("#confirm-prune-skipped", Static)
        skipped.display = bool(lines)
        if lines:
            skipped.update(Text("\n", "dim").join(lines))
        delete = self.query_one("#delete", Button)
        delete.label = plain(f"Delete {n}")
        delete.tooltip = size_exact(plan.bytes_freed)
        self.call_after_refresh(self._drawn, plan)

    def _drawn(self, plan: Plan) -> None:
        """``plan`` is on screen: from now on ``y`` runs it (unless another replaced it meanwhile)."""
        if plan is self.plan:
            self.shown = plan
            self.query_one("#delete", Button).disabled = False

    def action_answer(self, yes: bool) -> None:
        """Close with ``yes``; a yes before the plan is on screen is answered, not acted on."""
        if yes and (self.shown is None or self.shown is not self.plan):
            notify(self, "The plan is not on screen yet: y deletes once it is shown.", title="Prune")
            return
        self.dismiss(yes)

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        self.action_answer(event.button.id == "delete")
