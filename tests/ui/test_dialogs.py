"""Pilot tests: the plan dialog's footer, keys pressed while it plans, a plan given before it
opens, the policy dialog's boxes and its enter, and the palette's Keys panel."""

from __future__ import annotations

import os
import time

import pytest
from textual.widgets import Button, Checkbox, DataTable, Input

import envtui.screens.prune_actions as prune_actions
from envtui.core.prune.packages import plan_marked
from envtui.dialogs.confirm_prune import ConfirmPrune
from envtui.dialogs.prune_policy import PrunePolicy

from .helpers import demo_app, footer_keys, settle


@pytest.fixture(autouse=True)
def _state(tmp_path, monkeypatch):
    monkeypatch.setenv("ENVTUI_STATE_DIR", str(tmp_path / "state"))


async def test_the_plan_dialogs_footer_shows_its_own_keys(tmp_path):
    app = demo_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("1", "d")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmPrune)
        keys = footer_keys(app)
        assert {"y", "escape"} <= set(keys) and not {"s", "slash", "space"} & set(keys)
        assert keys["y"].region.width and keys["y"].region.right <= 80


async def test_keys_pressed_while_planning_reach_the_dialog(tmp_path, monkeypatch):
    slow = prune_actions.plan_marked

    def slow_plan(*args, **kwargs):
        time.sleep(1.5)
        return slow(*args, **kwargs)

    monkeypatch.setattr(prune_actions, "plan_marked", slow_plan)
    app = demo_app(tmp_path)
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot)
        await pilot.press("1")
        await pilot.pause()
        screen = app.screen
        env, cursor = screen.selected, screen.query_one("#table").cursor_row
        await pilot.press("d", "j", "n")  # before the plan is made
        await settle(pilot)
        assert app.screen is screen and not screen.busy
        assert screen.query_one("#table").cursor_row == cursor  # j went to the dialog
        assert os.path.isdir(env.path)
        await pilot.press("d", "y")  # a yes before the plan is shown does not delete
        await pilot.pause()
        assert isinstance(app.screen, ConfirmPrune) and app.screen.plan is None, (app.screen, screen.busy)
        await settle(pilot)
        assert isinstance(app.screen, ConfirmPrune) and app.screen.plan is not None
        assert os.path.isdir(env.path)


async def test_unchecked_policy_boxes_read_differently_in_plain_text(tmp_path):
    app = demo_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("1", "P")
        await pilot.pause()
        box = app.screen.query_one("#dangling", Checkbox)
        off = str(box.render())
        box.value = True
        await pilot.pause()
        on = str(box.render())
        assert off != on and "X" in on and "X" not in off


async def test_enter_in_a_policy_field_shows_the_plan(tmp_path):
    app = demo_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("1", "P")
        await pilot.pause()
        assert isinstance(app.screen, PrunePolicy)
        app.screen.query_one("#older-than", Input).focus()
        await pilot.press("1", "enter")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmPrune), app.screen
        assert app.screen.plan.policies.older_than_days == 1


@pytest.mark.parametrize("field, typed, says", [
    ("older-than", "-5", "0 or more"), ("older-than", "nan", "finite"), ("older-than", "inf", "finite"),
    ("keep-latest", "-100", "0 or more"), ("keep-latest", "2.5", "take numbers"),
    ("max-size", "-5G", "not a size"), ("max-size", "99999999999999999999E", "more than any filesystem holds"),
])
async def test_a_policy_value_no_policy_can_mean_is_refused_in_the_dialog(tmp_path, field, typed, says):
    app = demo_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("1", "P")
        await pilot.pause()
        box = app.screen.query_one(f"#{field}", Input)
        box.focus()
        box.value = typed
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, PrunePolicy), "no plan for a value no policy can mean"
        assert says in str(app.screen.query_one("#prune-policy-error").render())


async def test_the_palettes_keys_panel_closes_with_escape(tmp_path):
    app = demo_app(tmp_path)
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot)
        await pilot.press("1")
        await pilot.pause()
        app.action_show_help_panel()
        await pilot.pause()
        assert app.screen.query("HelpPanel")
        await pilot.press("escape")
        await pilot.pause()
        assert not app.screen.query("HelpPanel")


def _drawn_plan(dialog: ConfirmPrune) -> tuple[str, list[str], bool]:
    """What the plan dialog shows: its title, its rows' names, whether Delete can be pressed."""
    table = dialog.query_one("#confirm-prune-entries", DataTable)
    names = [str(table.get_row_at(i)[3]) for i in range(table.row_count)]
    return str(dialog.query_one("#confirm-prune-title").render()), names, not dialog.query_one("#delete", Button).disabled


async def test_a_plan_given_before_the_dialog_opens_is_shown_before_y_acts(tmp_path):
    app = demo_app(tmp_path)
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot)
        envs = app.inventory.environments[:2]
        plan = plan_marked(app.inventory, envs, exclusive=True)
        answers = []
        dialog = ConfirmPrune(plan)
        await app.push_screen(dialog, answers.append)
        await pilot.pause()
        title, names, can_delete = _drawn_plan(dialog)
        assert title.startswith("Delete 2 entries") and names == [e.label for e in plan.entries] and can_delete
        # The plan is taken back (planning again): y no longer deletes what is not on screen.
        dialog.planning("planning…")
        await pilot.press("y")
        await pilot.pause()
        assert app.screen is dialog and answers == []
        assert _drawn_plan(dialog) == ("planning…", [], False)
        dialog.show_plan(plan)
        await pilot.pause()
        await pilot.press("y")
        await pilot.pause()
        assert answers == [True] and app.screen is not dialog
        assert all(os.path.isdir(e.path) for e in envs)  # the dialog answers; deleting is the screen's
