"""A table screen over what uv keeps beside its cache (the app's ``machine`` and ``machine_usage``),
with its deletions (project environments, managed Pythons, tools) through the one pipeline: the
plan dialog opens at once ("planning…") while a thread worker makes the plan, shows it in full,
and ``y`` runs that very plan (:func:`~envtui.core.prune.execute_plan`, which checks every entry
again right before) in the dialog, a spinner and the time elapsed while uv runs, then what
changed, measured, in the dialog and a notification, and a rescan."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Callable, ClassVar

from rich.text import Text
from textual import on, work
from textual.message import Message
from textual.widgets import Static
from textual.worker import Worker, WorkerState, get_current_worker

from ..core.errors import CacheError, ScanCancelled
from ..core.inventory import Inventory
from ..core.machine import ItemUsage
from ..core.prune import Plan, PruneResult, execute_plan
from ..core.prune.executor import DELETED, Step
from ..dialogs.confirm_prune import ConfirmPrune
from ..format import size, size_exact
from ..widgets.plain import notify, plain
from .base import Row, TableScreen, bytes_cell

#: A plan maker run in a thread worker: given ``should_stop``, the plan (or raises).
PlanMaker = Callable[[Callable[[], bool]], Plan]


class MachineTableScreen(TableScreen):
    """Base for the Pythons, tools and projects screens: subclasses give ``COLUMNS``,
    ``machine_rows(machine, usage)`` and ``explain()``."""

    NOT_SCANNED: ClassVar[str] = "Not looked at: start envtui from the command line to see beyond the cache."

    @dataclass
    class OutsidePlanned(Message):
        """A plan beside the cache was made (``plan``), or could not be (``error``)."""

        plan: Plan | None
        error: str | None = None

    @dataclass
    class OutsideStep(Message):
        """One entry of the running plan was dealt with; the latest replaces the previous."""

        step: Step

        def can_replace(self, message: Message) -> bool:
            return isinstance(message, MachineTableScreen.OutsideStep)

    @dataclass
    class OutsideDone(Message):
        """The plan ran (``result``), or failed (``error``)."""

        result: PruneResult | None
        error: str | None = None

    _outside_dialog: ConfirmPrune | None = None

    def on_mount(self) -> None:
        self.watch(self.app, "machine", self._machine_changed, init=False)
        self.watch(self.app, "machine_usage", self._machine_changed, init=False)

    def _machine_changed(self, _value: object = None) -> None:
        self.reload()

    # -- deleting beside the cache: one pipeline ---------------------------------------------------

    def delete_outside(self, make: PlanMaker) -> None:
        """Open the plan dialog at once, make the plan with ``make`` in a thread worker, show it,
        and on ``y`` run exactly the plan shown."""
        if self._outside_dialog is not None:
            return
        dialog = self._outside_dialog = ConfirmPrune(run=self._run_outside)
        self.app.push_screen(dialog, self._outside_answered)
        dialog.planning("planning…")
        self._make_outside(make)

    @work(thread=True, exclusive=True, group="outside-plan", exit_on_error=False)
    def _make_outside(self, make: PlanMaker) -> None:
        worker = get_current_worker()
        try:
            plan = make(lambda: worker.is_cancelled)
        except ScanCancelled:
            return
        except (CacheError, OSError, ValueError) as err:
            self.post_message(self.OutsidePlanned(None, str(err)))
            return
        self.post_message(self.OutsidePlanned(plan))

    @on(OutsidePlanned)
    def _outside_planned(self, message: OutsidePlanned) -> None:
        dialog, plan = self._outside_dialog, message.plan
        if dialog is None:
            return  # cancelled while planning
        if plan is None or not plan.entries:
            dialog.dismiss(False)
            if plan is None:
                notify(self, message.error or "?", title="Cannot delete", severity="error", timeout=10)
            else:
                why = "; ".join(sorted({s.reason for s in plan.skipped})) or "nothing asked for"
                notify(self, f"Nothing to delete ({why})", title="Delete", timeout=12)
            return
        dialog.show_plan(plan)

    def _outside_answered(self, yes: bool | None) -> None:
        # The dialog ran the plan itself (``run``): yes is its close once done.
        self._outside_dialog = None
        if not yes:
            self.workers.cancel_group(self, "outside-plan")

    @work(thread=True, exclusive=True, group="outside-run", exit_on_error=False)
    def _run_outside(self, plan: Plan) -> None:
        worker = get_current_worker()

        def on_step(step: Step) -> None:
            self.post_message(self.OutsideStep(step))

        try:
            result = execute_plan(plan, should_stop=lambda: worker.is_cancelled, on_step=on_step)
        except (CacheError, OSError, ValueError) as err:
            self.post_message(self.OutsideDone(None, str(err)))
            return
        self.post_message(self.OutsideDone(result))

    @on(OutsideStep)
    def _outside_step(self, message: OutsideStep) -> None:
        step = message.step
        what = "deleted" if step.state == DELETED else step.state
        text = f"{step.done} of {step.total} {what}: {step.entry.path}"
        self._status_text(text)
        if self._outside_dialog is not None:
            self._outside_dialog.progress(text)

    @on(OutsideDone)
    def _outside_done(self, message: OutsideDone) -> None:
        r = message.result
        if self._outside_dialog is not None:
            self._outside_dialog.finished(r, message.error)
        if r is None:
            notify(self, message.error or "?", title="Delete failed", severity="error", timeout=10)
            self._update_status()
            return
        text = plain(f"Deleted {len(r.deleted)} of {len(r.plan.entries)}: freed {size_exact(r.measured_bytes)} "
                     f"measured, {size_exact(r.predicted_bytes)} predicted")
        for s in r.skipped[len(r.plan.skipped):]:
            text.append_text(Text.assemble("\n", plain(f"skipped {s.path}: {s.reason}")))
        for path, error in r.errors:
            text.append_text(Text.assemble("\n", plain(f"FAILED {path}: {error}")))
        notify(self, text, title="Deleted" if r.complete else "Not everything was deleted",
               severity="information" if r.complete else "error", timeout=12)
        self.clear_marks()
        self.app.rescan(deleted=[p for e in r.deleted for p in e.paths])

    @on(Worker.StateChanged)
    def _outside_failed(self, event: Worker.StateChanged) -> None:
        # exit_on_error=False: a run that raised must not leave the dialog spinning (the app shows the error).
        if event.worker.group == "outside-run" and event.state == WorkerState.ERROR and self._outside_dialog is not None:
            self._outside_dialog.finished(None, f"{type(event.worker.error).__name__}: {event.worker.error}")

    def _status_text(self, text: str) -> None:
        self.query_one("#status-line", Static).update(plain(text))

    def rows(self, inventory: Inventory) -> list[Row]:
        machine = getattr(self.app, "machine", None)
        if machine is None:
            return []
        return self.machine_rows(machine, getattr(self.app, "machine_usage", None))

    def machine_rows(self, machine: Any, usage: Any) -> list[Row]:
        """Rows for ``machine`` (sizes from ``usage``, ``None`` while measuring)."""
        raise NotImplementedError

    @staticmethod
    def item(usage: Any, path: os.PathLike) -> ItemUsage | None:
        """The figures of the item at ``path``, or ``None`` while measuring."""
        return None if usage is None else usage.items.get(os.path.abspath(path))

    @staticmethod
    def size_rows(item: ItemUsage | None, freed_label: str = "freed if deleted") -> list[tuple[str, str]]:
        """Details-pane rows for an item's bytes and whom it shares them with."""
        if item is None:
            return [("sizes", "measuring…")]
        rows = [("on disk", f"{size(item.disk)}  (allocated blocks, each inode once)"),
                (freed_label, f"{size(item.exclusive)}  (files no other link keeps alive)")]
        for s in item.shares[:8]:
            rows.append(("shares", f"{size(s.bytes)} with {s.part}: {s.path}"))
        if len(item.shares) > 8:
            rows.append(("shares", f"… and {len(item.shares) - 8} more"))
        return rows

    @staticmethod
    def cells_of(item: ItemUsage | None) -> tuple[Text, Text]:
        """The "On disk" and "Frees" cells: the item's disk bytes, and what deleting it alone
        frees (its exclusive bytes: inodes all of whose links lie inside it, hardlinks into the
        cache counted, as the plan counts them); ``…`` while measuring."""
        if item is None:
            return bytes_cell(None), bytes_cell(None)
        return bytes_cell(item.disk), bytes_cell(item.exclusive)

    @staticmethod
    def dim(text: str) -> Text:
        """``text`` dimmed, as plain text."""
        return plain(text, "dim")
