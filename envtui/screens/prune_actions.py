"""A table screen whose entries can be pruned (marked, or by policy) and rebuilt.

Every deletion goes: :class:`ConfirmPrune` opens at once, "planning…", while a thread worker
makes the plan (keys pressed meanwhile reach the dialog) -> (uv running? wait / go on / stop) ->
the plan in the dialog -> the same plan run in a thread worker, progress on the status line ->
what was freed, measured, in a notification -> a rescan. The marked rows' total ("3 marked ·
frees 1.2 GiB") is the same planner's figure, made in a worker as marks change.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, ClassVar

from textual import on, work
from textual.binding import Binding
from textual.message import Message
from textual.worker import Worker, WorkerState, get_current_worker

from ..core.errors import CacheError, ScanCancelled
from ..core.prune import PruneResult, execute_plan
from ..core.locks import UNAVAILABLE, probe_root_lock
from ..core.prune import Plan, PlanEntry, Policies, plan_prune
from ..core.prune.packages import plan_marked
from ..core.rebuild import recipe_for
from ..core.uvcli import find_uv
from ..dialogs.confirm_prune import ConfirmPrune
from ..dialogs.lock_busy import WAIT_SECONDS, LockBusy
from ..dialogs.prune_policy import PrunePolicy
from ..dialogs.rebuild_log import RebuildLog
from ..format import size
from ..scripts_seen import load_seen_scripts, remember_scripts
from ..widgets.plain import notify
from .base import TableScreen


class PruneTableScreen(TableScreen):
    """Adds prune (marked rows or the highlighted one), prune by policy, and rebuild."""

    MARKABLE: ClassVar[bool] = True
    REBUILDS: ClassVar[bool] = True
    """Whether ``b`` (rebuild through uv) applies to this screen's entries."""

    BINDINGS = [
        Binding("d,delete", "prune_marked", "Prune", id="prune.marked",
                tooltip="Delete the marked entries (or the highlighted one); the plan is shown first"),
        Binding("P", "prune_policy", "Prune by policy", id="prune.policy",
                tooltip="Choose policies (unreferenced, dangling, orphans, age, size...); the plan is shown first"),
        Binding("b", "rebuild", "Rebuild", id="rebuild.entry", tooltip="Rebuild the highlighted entry through uv",
                show=False),
    ]

    @dataclass
    class MarkedMeasured(Message):
        """What deleting the marked rows ``keys`` frees (``plan``), or why it is unknown (``error``)."""

        keys: frozenset[str]
        plan: Plan | None
        error: str | None = None

        def can_replace(self, message: Message) -> bool:
            return isinstance(message, PruneTableScreen.MarkedMeasured)

    @dataclass
    class PlanReady(Message):
        """A plan was made (``plan``), or could not be (``error``)."""

        plan: Plan | None
        error: str | None = None
        waited: bool = False
        ticket: int = 0
        """Which request it answers: a cancelled request's late answer is ignored."""

    @dataclass
    class Progress(Message):
        """Deleting: ``done`` of ``total`` entries; the latest replaces the previous."""

        done: int
        total: int
        path: str

        def can_replace(self, message: Message) -> bool:
            return isinstance(message, PruneTableScreen.Progress)

    @dataclass
    class PruneDone(Message):
        """A plan ran (``result``), or failed (``error``)."""

        result: PruneResult | None
        error: str | None = None

    busy: bool = False
    _ticket: int = 0
    _dialog: ConfirmPrune | None = None
    _marked_frees: str = "frees …"

    # -- actions -----------------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "prune_marked":
            return not self.busy and (bool(self.marked) or self.selected is not None)
        if action == "prune_policy":
            return not self.busy and self.app.inventory is not None
        if action == "rebuild":
            return self.REBUILDS and not self.busy and self.selected is not None
        return super().check_action(action, parameters)

    def action_prune_marked(self) -> None:
        """Plan the deletion of the marked rows (or the highlighted one) and ask."""
        records = self.marked_records or ([self.selected] if self.selected is not None else [])
        if records:
            self._start_plan(records=records, policies=None)

    def action_prune_policy(self) -> None:
        """Ask for policies, then plan and ask."""

        def chosen(policies: Policies | None) -> None:
            if policies is not None:
                self._start_plan(records=None, policies=policies)

        self.app.push_screen(PrunePolicy(), chosen)

    def action_rebuild(self) -> None:
        """Show how the highlighted entry would be rebuilt, and rebuild it on request."""
        record, inventory = self.selected, self.app.inventory
        if record is None or inventory is None:
            return
        uv = find_uv()
        if uv is None:
            notify(self, "no uv found on PATH", severity="error")
            return
        recipe = recipe_for(record, uv, seen_scripts=load_seen_scripts(inventory.root, on_problem=self.app.state_problem))
        if recipe.problem:
            notify(self, f"Cannot rebuild: {recipe.problem}", severity="warning", timeout=10)
            return

        def closed(changed: bool | None) -> None:
            if changed:
                self.app.rescan()

        self.app.push_screen(RebuildLog(inventory, record, recipe), closed)

    # -- planning ------------------------------------------------------------------------------------

    def _start_plan(self, *, records: list[Any] | None, policies: Policies | None, wait: bool = False) -> None:
        self.busy = True
        self.refresh_bindings()
        self._pending = (records, policies)
        if self._dialog is None:
            self._dialog = ConfirmPrune()
            self.app.push_screen(self._dialog, self._answered)
        # The dialog says so; not the status line under it, which a screen under a modal one
        # repaints at no fixed moment: "planning…" stayed there under the finished plan.
        self._dialog.planning("waiting for uv to finish…" if wait else "planning…")
        self._ticket += 1
        self._plan(records, policies, wait, self._ticket)

    def _make_plan(self, records: list[Any] | None, policies: Policies | None, wait: bool, stop) -> Plan:
        inventory = self.app.inventory
        if inventory is None:  # no rows, so nothing to plan, before the first scan
            raise CacheError(self.app.location.path, "not scanned yet")
        # Read-only, never held while you read the plan: the executor takes it when it runs.
        lock = probe_root_lock(inventory.root, wait=WAIT_SECONDS if wait else 0, should_stop=stop)
        if lock.state == UNAVAILABLE:
            raise lock.error()
        exclusive, holders = lock.free, lock.holders
        if records is not None:
            return plan_marked(inventory, records, exclusive=exclusive, lock_holders=holders, should_stop=stop)
        if policies is None:
            raise ValueError("a plan needs the marked records or the policies")
        seen = remember_scripts(
            inventory.root, (e.script for e in inventory.environments if e.script and os.path.exists(e.script)),
            on_problem=self.app.state_problem,
        )
        return plan_prune(inventory, policies, exclusive=exclusive, lock_holders=holders,
                          known_scripts=seen, should_stop=stop)

    @work(thread=True, exclusive=True, group="prune", exit_on_error=False)
    def _plan(self, records: list[Any] | None, policies: Policies | None, wait: bool, ticket: int) -> None:
        worker = get_current_worker()
        try:
            plan = self._make_plan(records, policies, wait, lambda: worker.is_cancelled)
        except ScanCancelled:
            self.post_message(self.PlanReady(None, ticket=ticket))
            return
        except (CacheError, OSError) as err:
            self.post_message(self.PlanReady(None, str(err), ticket=ticket))
            return
        self.post_message(self.PlanReady(plan, waited=wait, ticket=ticket))

    @on(PlanReady)
    def _plan_ready(self, message: PlanReady) -> None:
        dialog, plan = self._dialog, message.plan
        if dialog is None or message.ticket != self._ticket:
            return  # cancelled while planning
        if plan is None:
            dialog.dismiss(False)
            if message.error:
                notify(self, message.error, title="Cannot prune", severity="error", timeout=10)
            return
        if not plan.exclusive and not message.waited:
            def answered(answer: str | None) -> None:
                if answer == "wait":
                    records, policies = self._pending
                    self._start_plan(records=records, policies=policies, wait=True)
                elif answer == "go-on":
                    self._show(plan)
                else:
                    dialog.dismiss(False)

            self.app.push_screen(LockBusy(plan.lock_holders), answered)
            return
        self._show(plan)

    def _show(self, plan: Plan) -> None:
        dialog = self._dialog
        if dialog is None:
            return  # closed while the plan was made
        if not plan.entries:
            why = "; ".join(sorted({s.reason for s in plan.skipped})) if plan.skipped else "no entry matches"
            dialog.dismiss(False)
            notify(self, f"Nothing to delete ({why})", title="Prune", timeout=10)
            return
        dialog.show_plan(plan)

    def _answered(self, yes: bool | None) -> None:
        dialog, self._dialog = self._dialog, None
        plan = dialog.shown if dialog is not None else None  # the plan on screen when y was pressed
        if yes and plan is not None:
            self._status(f"deleting 0 of {len(plan.entries)}…")
            self._execute(plan)
        else:
            self.workers.cancel_group(self, "prune")
            self._done_busy()

    # -- what the marks free ---------------------------------------------------------------------------

    def marks_changed(self) -> None:
        self._marked_frees = "frees …"
        if self.marked and self.app.inventory is not None:
            self._measure_marked(frozenset(self.marked), self.marked_records)
        super().marks_changed()

    def marked_summary(self) -> str:
        return f"{len(self.marked)} marked · {self._marked_frees}"

    @work(thread=True, exclusive=True, group="marked", exit_on_error=False)
    def _measure_marked(self, keys: frozenset[str], records: list[Any]) -> None:
        worker = get_current_worker()
        inventory = self.app.inventory
        if inventory is None:  # started only once there is one (marks_changed)
            return
        try:
            plan = plan_marked(inventory, records, exclusive=True, should_stop=lambda: worker.is_cancelled)
        except ScanCancelled:
            return
        except (CacheError, OSError) as err:
            self.post_message(self.MarkedMeasured(keys, None, str(err)))
            return
        self.post_message(self.MarkedMeasured(keys, plan))

    @on(MarkedMeasured)
    def _marked_measured(self, message: MarkedMeasured) -> None:
        if message.keys != self.marked:
            return  # the marks changed since
        plan = message.plan
        if plan is None:
            self._marked_frees = f"frees ? ({message.error})"
        else:
            self._marked_frees = f"frees {size(plan.bytes_freed)}"
            if plan.skipped:
                self._marked_frees += f" ({len(plan.skipped)} would be skipped)"
        if not self.busy:
            self._update_status()

    # -- deleting ------------------------------------------------------------------------------------

    @work(thread=True, exclusive=True, group="prune", exit_on_error=False)
    def _execute(self, plan: Plan) -> None:
        worker = get_current_worker()

        def progress(done: int, total: int, entry: PlanEntry) -> None:
            self.post_message(self.Progress(done, total, str(entry.path)))

        try:
            result = execute_plan(plan, go_on_if_busy=True, should_stop=lambda: worker.is_cancelled, on_progress=progress)
        except (CacheError, OSError) as err:
            self.post_message(self.PruneDone(None, str(err)))
            return
        self.post_message(self.PruneDone(result))

    @on(Progress)
    def _progress(self, message: Progress) -> None:
        self._status(f"deleting {message.done} of {message.total}: {message.path}")

    @on(PruneDone)
    def _prune_done(self, message: PruneDone) -> None:
        self._done_busy()
        result = message.result
        if result is None:
            notify(self, message.error or "?", title="Prune failed", severity="error", timeout=10)
            return
        text = (f"Deleted {len(result.deleted)} of {len(result.plan.entries)}: freed {size(result.measured_bytes)} "
                f"measured, {size(result.predicted_bytes)} predicted")
        late = result.skipped[len(result.plan.skipped):]
        if late:
            text += f"; {len(late)} skipped while deleting ({late[0].reason})"
        if result.errors:
            text += f"; {len(result.errors)} failed: {result.errors[0][1]}"
        notify(self, text, title="Pruned", severity="error" if result.errors else "information", timeout=12)
        self.marked.clear()
        self.app.rescan(deleted=[p for e in result.deleted for p in e.paths])

    @on(Worker.StateChanged)
    def _worker_failed(self, event: Worker.StateChanged) -> None:
        # exit_on_error=False: an unexpected error must still end "busy"; the app shows it.
        if event.worker.group == "prune" and event.state == WorkerState.ERROR:
            if self._dialog is not None:
                self._dialog.dismiss(False)
            self._done_busy()

    def _done_busy(self) -> None:
        self.busy = False
        self.refresh_bindings()
        self._update_status()
