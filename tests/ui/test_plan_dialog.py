"""Pilot tests of the plan dialog at 80x24: what decides the answer (the total and whether it is
exact, a size target's verdict, what is skipped and why) is on screen before ``y``; ``enter`` goes
as ``y`` does; a dialog that runs its plan shows a spinner and the time elapsed, then what changed."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from textual.widgets import Static

from envtui.core.prune import Policies, plan_prune
from envtui.core.prune.executor import PruneResult
from envtui.core.prune.records import Skipped
from envtui.dialogs.confirm_prune import ConfirmPrune

from .helpers import demo_app, footer_keys, settle, until


@pytest.fixture(autouse=True)
def _state(tmp_path, monkeypatch):
    monkeypatch.setenv("ENVTUI_STATE_DIR", str(tmp_path / "state"))


def _shown(dialog: ConfirmPrune, widget_id: str) -> str:
    """The text of ``widget_id``, asserting it is drawn whole inside the terminal, above the footer."""
    widget = dialog.query_one(f"#{widget_id}", Static)
    text = str(widget.render())
    region, size = widget.region, dialog.app.size
    assert widget.display and region.height >= 1 and region.y >= 0 and region.bottom <= size.height - 1, (widget_id, region)
    assert region.height >= len(text.splitlines()), (widget_id, region, text)
    return text


async def _plan(app, **policies):
    return plan_prune(app.inventory, Policies(**policies), exclusive=True)


async def test_a_missed_size_target_its_skipped_entries_and_inexact_bytes_show_at_80x24(tmp_path):
    app = demo_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        plan = await _plan(app, max_size=1024)
        assert plan.size_target is not None and not plan.size_target.reached
        # Many entries (the list scrolls), three skipped for two reasons, a path not measured.
        skipped = tuple(Skipped(Path(f"/c/e{i}"), "script environment", why)
                        for i, why in enumerate(["in use by pid 7", "in use by pid 7", "locked by uv"]))
        plan = replace(plan, entries=plan.entries * 6, skipped=skipped, unreadable=(("/c/x", "permission denied"),))
        dialog = ConfirmPrune(plan)
        await app.push_screen(dialog)
        await until(pilot, lambda: dialog.shown is plan)
        title = _shown(dialog, "confirm-prune-title")
        assert title.startswith(f"Delete {len(plan.entries)} entries, freeing")
        assert "not exact: 1 path could not be measured" in title
        said = _shown(dialog, "confirm-prune-summary")
        over = plan.size_target.after - plan.size_target.limit
        from envtui.format import size

        assert "Target NOT reached" in said and f"{size(over)} over max-size" in said.replace("\n", " ")
        assert plan.size_target.held[0].name in said
        assert "3 skipped: in use by pid 7 (2); locked by uv (1)" in said.replace("\n", " ")
        assert {"y", "escape"} <= set(footer_keys(app))


async def test_a_reached_target_and_exact_bytes_say_so(tmp_path):
    app = demo_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        plan = await _plan(app, max_size=app.disk.total_disk - 1, dangling=True)
        assert plan.size_target.reached
        dialog = ConfirmPrune(plan)
        await app.push_screen(dialog)
        await until(pilot, lambda: dialog.shown is plan)
        assert "exact: " in _shown(dialog, "confirm-prune-title")
        assert _shown(dialog, "confirm-prune-summary").startswith("Target reached")


async def test_enter_goes_as_y_does_once_the_plan_is_drawn(tmp_path):
    app = demo_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        plan = await _plan(app, dangling=True)
        answers = []
        dialog = ConfirmPrune()
        await app.push_screen(dialog, answers.append)
        await pilot.press("enter")  # nothing shown yet: nothing to go with
        assert app.screen is dialog and answers == []
        dialog.show_plan(plan)
        await until(pilot, lambda: dialog.shown is plan)
        await pilot.press("enter")
        await until(pilot, lambda: answers)
        assert answers == [True]


class _Run:
    def __init__(self) -> None:
        self.plans, self.cancelled = [], False

    def __call__(self, plan):
        self.plans.append(plan)
        return self

    def cancel(self) -> None:
        self.cancelled = True


async def test_a_dialog_that_runs_its_plan_shows_time_elapsed_then_what_it_freed(tmp_path):
    app = demo_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        plan = await _plan(app, dangling=True)
        run, answers = _Run(), []
        dialog = ConfirmPrune(plan, run=run)
        await app.push_screen(dialog, answers.append)
        await until(pilot, lambda: dialog.shown is plan)
        await pilot.press("y")
        await until(pilot, lambda: run.plans)
        assert run.plans == [plan] and app.screen is dialog  # it stays open while the plan runs
        title = _shown(dialog, "confirm-prune-title")
        assert "deleting" in title and " s " in title and f"0 of {len(plan.entries)} done" in title
        assert set(footer_keys(app)) == {"escape"}  # Stop: y and enter mean nothing while it runs
        await pilot.press("y", "enter")
        assert app.screen is dialog and answers == [] and len(run.plans) == 1
        await pilot.press("escape")
        assert run.cancelled and app.screen is dialog
        dialog.finished(PruneResult(plan, plan.entries, (), (), plan.bytes_freed, plan.bytes_freed - 1, True))
        await pilot.pause()
        title = _shown(dialog, "confirm-prune-title")
        n = len(plan.entries)
        assert title.startswith(f"Deleted {n} of {n}: freed") and f"({plan.bytes_freed - 1:,} bytes;" in title
        await pilot.press("enter")
        await until(pilot, lambda: answers)
        assert answers == [True] and app.screen is not dialog
