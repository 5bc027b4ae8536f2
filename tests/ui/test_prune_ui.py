"""Pilot tests: marking, pruning through the plan dialog, policies, script roots and rebuild."""

from __future__ import annotations

import json
import os

import pytest
from textual.widgets import DataTable, Input

from envtui.app import EnvtuiApp
from envtui.core import CacheLocation
from envtui.dialogs.confirm_prune import ConfirmPrune
from envtui.dialogs.prune_policy import PrunePolicy
from envtui.dialogs.rebuild_log import RebuildLog
from envtui.dialogs.script_roots import ScriptRoots
from .helpers import wait_workers


@pytest.fixture(autouse=True)
def _own_state_dir(tmp_path, monkeypatch):
    """envtui remembers scripts in its state directory: keep each test's apart (and off $HOME)."""
    monkeypatch.setenv("ENVTUI_STATE_DIR", str(tmp_path / "envtui-state"))


def _app(rc, scripts=True) -> EnvtuiApp:
    known = [str(s) for s in rc.scripts] if scripts else None
    return EnvtuiApp(CacheLocation(rc.root, "--cache-dir"), known_scripts=known)


async def _environments(app, pilot):
    await wait_workers(app)
    await pilot.pause()
    await pilot.press("1")
    await pilot.pause()
    return app.screen


async def _settle(app, pilot):
    for _ in range(3):
        await wait_workers(app)
        await pilot.pause()


def _cursor_to(screen, path) -> None:
    index = next(i for i, row in enumerate(screen._shown) if row.record.path == path)
    screen.query_one("#table", DataTable).move_cursor(row=index)


async def test_marked_entries_are_pruned_after_the_plan_is_confirmed(real_cache_copy):
    app = _app(real_cache_copy)
    async with app.run_test(size=(160, 40)) as pilot:
        screen = await _environments(app, pilot)
        tiny = [e for e in app.inventory.environments if e.tool == "tinytool"][:2]
        others = [e for e in app.inventory.environments if e not in tiny]
        for env in tiny:
            _cursor_to(screen, env.path)
            await pilot.press("space")
        assert screen.marked == {str(e.path) for e in tiny}
        await pilot.press("d")
        await _settle(app, pilot)
        dialog = app.screen
        assert isinstance(dialog, ConfirmPrune)
        assert {e.path for e in dialog.plan.entries} == {e.path for e in tiny}
        assert dialog.plan.bytes_freed > 0
        await pilot.press("y")
        await _settle(app, pilot)
        assert not any(os.path.lexists(e.path) for e in tiny)
        assert not any(e.link_target.exists() for e in tiny)
        assert all(os.path.isdir(e.path) for e in others)
        assert {e.path for e in app.inventory.environments} == {e.path for e in others}
        assert screen.marked == set()
        assert any("freed" in n.message and "measured" in n.message for n in app._notifications)


async def test_cancelling_the_plan_deletes_nothing(real_cache_copy):
    app = _app(real_cache_copy)
    async with app.run_test(size=(160, 40)) as pilot:
        screen = await _environments(app, pilot)
        env = screen.selected
        await pilot.press("d")
        await _settle(app, pilot)
        assert isinstance(app.screen, ConfirmPrune)
        await pilot.press("escape")
        await _settle(app, pilot)
        assert app.screen is screen
        assert os.path.isdir(env.path)


async def test_mark_all_marks_only_the_filtered_rows(real_cache_copy):
    app = _app(real_cache_copy)
    async with app.run_test(size=(160, 40)) as pilot:
        screen = await _environments(app, pilot)
        await pilot.press("slash", *"tinytool", "enter")
        await pilot.pause()
        await pilot.press("a")
        expected = {str(e.path) for e in app.inventory.environments if e.tool == "tinytool"}
        assert screen.marked == expected
        await pilot.press("a")  # all shown are marked: unmark them
        assert screen.marked == set()


async def test_prune_by_policy_shows_the_plan_of_the_chosen_policies(real_cache_copy):
    app = _app(real_cache_copy)
    async with app.run_test(size=(160, 40)) as pilot:
        await _environments(app, pilot)
        await pilot.press("P")
        await pilot.pause()
        assert isinstance(app.screen, PrunePolicy)
        app.screen.query_one("#keep-latest", Input).value = "1"
        await pilot.click("#ok")
        await _settle(app, pilot)
        dialog = app.screen
        assert isinstance(dialog, ConfirmPrune)
        tiny = sorted((e for e in app.inventory.environments if e.tool == "tinytool"), key=lambda e: e.last_used or 0)
        assert {e.path for e in dialog.plan.entries} == {e.path for e in tiny[:-1]}
        await pilot.press("escape")
        await _settle(app, pilot)
        assert all(os.path.isdir(e.path) for e in tiny)


async def test_script_roots_are_saved_in_envtuis_state_and_name_the_scripts(real_cache_copy, tmp_path, monkeypatch):
    state = tmp_path / "state"
    monkeypatch.setenv("ENVTUI_STATE_DIR", str(state))
    app = _app(real_cache_copy, scripts=False)
    async with app.run_test(size=(160, 40)) as pilot:
        await _environments(app, pilot)
        assert not any(e.script for e in app.inventory.environments)
        await pilot.press("o")
        await pilot.pause()
        assert isinstance(app.screen, ScriptRoots)
        root = str(real_cache_copy.scripts[0].parent.parent)
        app.screen.query_one("TextArea").text = root
        await pilot.click("#save")
        await _settle(app, pilot)
        assert json.loads((state / "settings.json").read_text())["script_roots"] == [root]
        assert not list(real_cache_copy.root.rglob("settings.json"))
        named = {e.script for e in app.inventory.environments if e.script}
        assert named == {str(s) for s in real_cache_copy.scripts}


async def test_rebuild_shows_the_command_and_uvs_output(real_cache_copy, monkeypatch):
    for key, value in real_cache_copy.cache.env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("PATH", os.path.dirname(real_cache_copy.cache.uv) + os.pathsep + os.environ["PATH"])
    app = _app(real_cache_copy)
    async with app.run_test(size=(160, 40)) as pilot:
        screen = await _environments(app, pilot)
        script = real_cache_copy.scripts[-1]
        env = next(e for e in app.inventory.environments if e.script == str(script))
        _cursor_to(screen, env.path)
        await pilot.press("b")
        await pilot.pause()
        dialog = app.screen
        assert isinstance(dialog, RebuildLog)
        assert dialog.recipe.argv[1:] == ("sync", "--script", str(script))
        await pilot.click("#start")
        await _settle(app, pilot)
        log = "\n".join(dialog.query_one("#rebuild-output").lines)
        assert f"sync --script {script}" in log and "Using script environment" in log
        # uv found it in sync ("Checked 1 package"): that is not a rebuild.
        assert "already up to date" in str(dialog.query_one("#rebuild-result").render())
