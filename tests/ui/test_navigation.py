"""Pilot tests: ``0``/``1``/``2`` from every screen, esc and Backspace back to where you came
from, and a missing cache that never leaves a list on "scanning…"."""

from __future__ import annotations

import pytest
from textual.widgets import DataTable, Static

from envtui.app import EnvtuiApp
from envtui.core import CacheLocation
from envtui.screens.archive import BucketScreen
from envtui.screens.environments import EnvironmentsScreen
from envtui.screens.interpreters import InterpretersScreen
from envtui.screens.overview import OverviewScreen

from .helpers import demo_app, settle


@pytest.fixture(autouse=True)
def _state(tmp_path, monkeypatch):
    monkeypatch.setenv("ENVTUI_STATE_DIR", str(tmp_path / "state"))


async def _open(app, pilot, dirname: str) -> None:
    table = app.screen.query_one("#table", DataTable)
    table.move_cursor(row=[str(c) for c in table.get_column("entry")].index(dirname))
    await pilot.press("enter")
    await pilot.pause()


@pytest.mark.parametrize("key, screen", [("0", OverviewScreen), ("1", EnvironmentsScreen), ("2", InterpretersScreen)])
async def test_number_keys_work_inside_a_bucket(tmp_path, key, screen):
    app = demo_app(tmp_path)
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot)
        await _open(app, pilot, "archive-v0/")
        assert isinstance(app.screen, BucketScreen)
        await pilot.press(key)
        await pilot.pause()
        assert isinstance(app.screen, screen)


@pytest.mark.parametrize("bucket, screen", [("interpreter-v5/", InterpretersScreen), ("environments-v2/", EnvironmentsScreen)])
@pytest.mark.parametrize("back", ["escape", "backspace"])
async def test_back_returns_to_the_overview_after_enter_on_a_bucket(tmp_path, bucket, screen, back):
    app = demo_app(tmp_path)
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot)
        await _open(app, pilot, bucket)
        assert isinstance(app.screen, screen)
        await pilot.press(back)
        await pilot.pause()
        assert isinstance(app.screen, OverviewScreen)


async def test_escape_clears_the_filter_before_going_back(tmp_path):
    app = demo_app(tmp_path)
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot)
        await pilot.press("1", "slash", "h", "e", "l")
        await pilot.pause()
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, EnvironmentsScreen)
        assert app.screen.query_one("#filter").value == ""
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, OverviewScreen)


@pytest.mark.parametrize("key", ["1", "2"])
async def test_with_no_cache_the_lists_say_so_instead_of_scanning(tmp_path, key):
    app = EnvtuiApp(CacheLocation(tmp_path / "no-cache-here", "--cache-dir"), known_scripts=[])
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press(key)
        await pilot.pause()
        status = str(app.screen.query_one("#status-line", Static).render())
        assert "scanning" not in status and "no uv cache" in status


async def test_the_overview_opens_on_its_largest_bucket_once_sizes_arrive(tmp_path):
    app = demo_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, BucketScreen) and app.screen.bucket.dirname == "archive-v0"
