"""The confirmation every deletion passes through: the plan, entry by entry, and what is skipped.

It opens at once, "planning…", and the plan fills it when the planner is done: keys pressed
while planning reach the dialog (``n`` cancels), never the screen under it. ``y`` (and the Delete
button) act only once the plan they would run has been drawn: a plan given before the dialog is
mounted is drawn at mount, and one replaced by "planning…" is no longer the one ``y`` runs.

What decides the answer stays in view at any terminal size, above the list of entries: the
total and whether it is exact, the verdict of a size target (reached or not, by how much, what
holds the rest), how many entries are skipped and why, and whether uv is running. A dialog given
``run`` keeps itself open after ``y``: a spinner and the time elapsed while the plan runs (uv
uninstalling Pythons or tools takes seconds), then what changed, measured.
"""

from __future__ import annotations

import shlex
import time
from collections import Counter
from pathlib import Path
from typing import Any, Callable

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, DataTable, Footer, Static

from ..core.prune import Plan, PruneResult
from ..format import size, size_exact
from ..widgets.plain import notify, plain


def _where(path: Path, root: Path) -> Path:
    """``path`` relative to the plan's ``root`` when inside it, else whole (a plan outside the
    cache may name what lies elsewhere)."""
    return path.relative_to(root) if path.is_relative_to(root) else path


def _processes(processes, indent: str) -> list[Text]:
    return [Text.assemble(f"{indent}pid {p.pid}: ", plain(p.cmdline)) for p in processes]


#: The spinner's frames, one per tenth of a second.
SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"


def _total(plan: Plan) -> list[Text]:
    """The title: what the plan deletes and frees, and whether those bytes are exact."""
    n = len(plan.entries)
    head = Text.assemble((f"Delete {n} entr{'y' if n == 1 else 'ies'}, freeing ", "bold"),
                         (size(plan.bytes_freed), "bold green"))
    if plan.unreadable:
        exact = plain(f"not exact: {len(plan.unreadable)} path{'s' if len(plan.unreadable) != 1 else ''} could not be "
                      f"measured, at least {plan.bytes_freed:,} bytes", "bold yellow")
    else:
        exact = plain(f"exact: {plan.bytes_freed:,} bytes on disk, hardlinked files counted once", "dim")
    return [head, exact]


def summary(plan: Plan) -> list[Text]:
    """What decides the answer, a line or two each, for above the entries: the size target's
    verdict, what is skipped (how many, and why), uv running, what runs through uv."""
    lines: list[Text] = []
    target = plan.size_target
    if target is not None:
        if target.reached:
            lines.append(Text.assemble(("Target reached: ", "bold green"),
                                       f"max-size {size(target.limit)}; the cache goes from {size(target.before)} "
                                       f"to {size(target.after)}."))
        else:
            held = ", ".join(f"{h.name} {size(h.bytes)}" for h in target.held[:3])
            more = f" and {len(target.held) - 3} more" if len(target.held) > 3 else ""
            lines.append(Text.assemble(
                ("Target NOT reached: ", "bold red"),
                (f"{size(target.after - target.limit)} over max-size {size(target.limit)}", "bold"),
                f" (the cache goes from {size(target.before)} to {size(target.after)}). ",
                plain(f"The rest is held by {held}{more} (why: below)." if held else "Nothing else can be deleted."),
            ))
    if plan.skipped:
        reasons = Counter(s.reason for s in plan.skipped).most_common()
        said = "; ".join(f"{why} ({k})" for why, k in reasons[:2])
        more = f"; {len(reasons) - 2} other reasons" if len(reasons) > 2 else ""
        lines.append(Text.assemble((f"{len(plan.skipped)} skipped", "bold yellow"), ": ", plain(said + more), " (below)"))
    if not plan.exclusive:
        lines.append(Text.assemble(("uv is running", "bold yellow"),
                                   ": what it uses, or may be writing, is skipped while deleting (below)."))
    commands = sum(1 for e in plan.entries if e.command is not None)
    if commands:
        lines.append(plain(f"Runs uv {commands} time{'s' if commands != 1 else ''}: the command line"
                           f"{'s are' if commands != 1 else ' is'} below."))
    return lines


def outcome(result: PruneResult, seconds: float) -> list[Text]:
    """What running the plan changed: deleted, freed (measured, and as predicted), skipped, failed."""
    ok = result.complete
    lines = [Text.assemble(
        (f"Deleted {len(result.deleted)} of {len(result.plan.entries)}: freed ", "bold green" if ok else "bold red"),
        (size(result.measured_bytes), "bold green" if ok else "bold red"),
        f" measured ({result.measured_bytes:,} bytes; {size(result.predicted_bytes)} predicted) in {seconds:.1f} s",
    )]
    late = result.skipped[len(result.plan.skipped):]
    if result.cancelled:
        lines.append(Text("stopped before the end: what was left is still there", "yellow"))
    lines += [Text.assemble(("skipped ", "yellow"), plain(f"{s.path}: {s.reason}")) for s in late]
    lines += [Text.assemble(("FAILED ", "bold red"), plain(f"{path}: {error}")) for path, error in result.errors]
    return lines


class ConfirmPrune(ModalScreen[bool]):
    """Shows a :class:`Plan` and answers ``True`` (delete) or ``False`` (cancel).

    Given ``run`` (called with the plan on ``y``; returns what ``esc`` stops, a worker), it stays
    open while the plan runs and until closed, and answers ``True`` then."""

    BINDINGS = [
        Binding("y", "answer(True)", "Delete", id="confirm-prune.yes", tooltip="Delete the entries listed"),
        Binding("enter", "answer(True)", "Delete", id="confirm-prune.enter", show=False, priority=True,
                tooltip="Delete the entries listed"),
        Binding("escape,n", "answer(False)", "Cancel", id="confirm-prune.no", tooltip="Delete nothing"),
        Binding("escape", "stop", "Stop", id="confirm-prune.stop",
                tooltip="Stop after the entry being deleted (the rest stays)"),
        Binding("enter,escape", "close", "Close", id="confirm-prune.close", priority=True, tooltip="Close"),
    ]

    def __init__(self, plan: Plan | None = None, *, run: Callable[[Plan], Any] | None = None) -> None:
        super().__init__()
        self.plan = plan
        """The plan to show (``None`` while planning); the same plan runs when the answer is yes."""
        self.shown: Plan | None = None
        """The plan drawn on screen, once it has been: what ``y`` runs; ``None`` until then."""
        self.run = run
        """Runs the plan from the dialog (``None``: the caller runs it once the dialog answers)."""
        self.state = "planning"
        """``planning``, ``plan`` (shown, waiting for an answer), ``running`` or ``done``."""
        self._planning = "planning…"
        self._composed = False
        self._running: Any = None
        self._started = 0.0
        self._progress = ""

    def compose(self) -> ComposeResult:
        with Vertical(id="confirm-prune", classes="dialog"):
            yield Static(Text(self._planning, "bold"), id="confirm-prune-title")
            yield Static("", id="confirm-prune-summary")
            yield DataTable(id="confirm-prune-entries", cursor_type="row", zebra_stripes=True)
            with VerticalScroll(id="confirm-prune-details"):
                yield Static("", id="confirm-prune-busy")
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
        self.query_one("#confirm-prune-summary").display = False
        self.query_one("#cancel", Button).focus()
        # is_mounted is still false here: fill the widgets directly, not through show_plan's guard.
        self._composed = True
        if self.plan is not None:
            self._fill(self.plan)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # One key, one meaning per state: y and enter go, esc cancels; while it runs esc stops;
        # once done enter and esc close.
        if action == "answer":
            return self.state in ("planning", "plan")
        if action == "stop":
            return self.state == "running"
        if action == "close":
            return self.state == "done"
        return True

    def _set_state(self, state: str) -> None:
        self.state = state
        self.refresh_bindings()

    def planning(self, text: str) -> None:
        """Show that the plan is being made (``text``: "planning…", "waiting for uv…"); ``y`` does
        nothing until the next plan is shown."""
        self.plan, self.shown, self._planning = None, None, text
        self._set_state("planning")
        if not self._composed:
            return  # compose shows it
        self.query_one("#confirm-prune-title", Static).update(Text(text, "bold"))
        self.query_one("#delete", Button).disabled = True
        self.query_one(DataTable).clear()
        self.query_one("#confirm-prune-summary").display = False
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
        self.query_one("#confirm-prune-title", Static).update(Text("\n").join(_total(plan)))
        said = summary(plan)
        box = self.query_one("#confirm-prune-summary", Static)
        box.display = bool(said)
        box.update(Text("\n").join(said))
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
        commands = [e.command for e in plan.entries if e.command is not None]
        if commands:  # what will run comes first
            lines.append(Text("Through uv:"))
            lines += [plain(f"  {shlex.join(c.argv)}") for c in commands]
        if plan.size_target is not None:
            from ..core.prune.maxsize import describe

            lines += [plain(line) for line in describe(plan.size_target, size)]
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
            self._set_state("plan")
            self.query_one("#delete", Button).disabled = False

    def action_answer(self, yes: bool) -> None:
        """Close with ``yes``; a yes before the plan is on screen is answered, not acted on. With
        ``run``, a yes runs the plan here instead."""
        if yes and (self.shown is None or self.shown is not self.plan):
            notify(self, "The plan is not on screen yet: y deletes once it is shown.", title="Prune")
            return
        if yes and self.run is not None and self.shown is not None:
            self._start(self.shown)
            return
        self.dismiss(yes)

    # -- running the plan here (with ``run``) --------------------------------------------------------

    def _start(self, plan: Plan) -> None:
        self._set_state("running")
        self._started = time.monotonic()
        self._progress = f"0 of {len(plan.entries)} done"
        for button in self.query(Button):
            button.display = False
        self._tick()
        self._spinner = self.set_interval(0.1, self._tick)
        assert self.run is not None
        self._running = self.run(plan)

    def _tick(self) -> None:
        frame = SPINNER[int((time.monotonic() - self._started) * 10) % len(SPINNER)]
        self.query_one("#confirm-prune-title", Static).update(Text.assemble(
            (f"{frame} deleting", "bold"), f"  {time.monotonic() - self._started:.1f} s  ", plain(self._progress),
        ))

    def progress(self, text: str) -> None:
        """While it runs: what the latest step was (``"1 of 2 deleted: <path>"``)."""
        self._progress = text
        if self.state == "running":
            self._tick()

    def finished(self, result: PruneResult | None, error: str | None = None) -> None:
        """The run ended: show what changed (``result``), or why it failed (``error``); enter and esc close."""
        seconds = time.monotonic() - self._started
        self._spinner.stop()
        self._set_state("done")
        lines = outcome(result, seconds) if result is not None else [plain(f"failed: {error}", "bold red")]
        self.query_one("#confirm-prune-title", Static).update(lines[0])
        box = self.query_one("#confirm-prune-summary", Static)
        box.display = len(lines) > 1
        box.update(Text("\n").join(lines[1:]))

    def action_stop(self) -> None:
        """Stop the run after the entry being deleted."""
        if self._running is not None:
            self._running.cancel()
        self._progress += " · stopping after this entry"
        self._tick()

    def action_close(self) -> None:
        """Close, once the run is done."""
        self.dismiss(True)

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        self.action_answer(event.button.id == "delete")
