"""Pilot tests: the app opened on a cache real uv made shows its entries and copies paths."""

from __future__ import annotations

from contextlib import asynccontextmanager
from pathlib import Path

from textual.widgets import DataTable

from envtui.app import EnvtuiApp
from envtui.core import CacheLocation
from .helpers import wait_workers


async def _loaded(app, pilot) -> None:
    await wait_workers(app)
    await pilot.pause()
    assert app.inventory is not None


@asynccontextmanager
async def _environments(real_cache):
    """The app on ``real_cache`` (its scripts known), scanned, on the environments screen."""
    app = EnvtuiApp(CacheLocation(real_cache.root, "--cache-dir"), known_scripts=[str(s) for s in real_cache.scripts])
    async with app.run_test(size=(160, 40)) as pilot:
        await _loaded(app, pilot)
        await pilot.press("1")
        await pilot.pause()
        yield app, pilot


def _column(table: DataTable, key: str) -> list[str]:
    return [str(cell) for cell in table.get_column(key)]


async def test_environments_and_interpreters_are_listed(real_cache):
    async with _environments(real_cache) as (app, pilot):
        table = app.screen.query_one("#table", DataTable)
        keys = {str(k.value) for k in table.rows}
        assert keys == {str(e.path) for e in app.inventory.environments}
        names = _column(table, "name")
        for script in real_cache.scripts:
            assert f"{script.name} · {script.parent.name}/" in names
        assert "bigtool" in names and "tinytool" in names

        await pilot.press("2")
        await pilot.pause()
        table = app.screen.query_one("#table", DataTable)
        assert table.row_count == len(list(real_cache.root.glob("interpreter-v*/*/*.msgpack")))
        key_ok = [c.key for c in app.screen.COLUMNS].index("key-ok")  # by its key: columns come and go
        assert {str(r.cells[key_ok]) for r in app.screen._rows} == {"yes"}  # Key ok, shown or not


async def test_copy_stable_path_and_python(real_cache):
    async with _environments(real_cache) as (app, pilot):
        screen = app.screen
        env = screen.selected
        assert env is not None
        await pilot.press("c")
        assert app.clipboard == str(env.path)
        await pilot.press("p")
        assert app.clipboard == str(env.path / "bin" / "python")
        assert Path(app.clipboard).exists()


async def test_details_pane_shows_key_derivation(real_cache):
    async with _environments(real_cache) as (app, pilot):
        shown = app.export_screenshot()
        env = app.screen.selected
        assert env.key in shown and "derived" in shown and (env.digest or env.interpreter_hash) in shown


async def test_missing_cache_says_where_it_looked(tmp_path):
    missing = tmp_path / "no-cache-here"
    app = EnvtuiApp(CacheLocation(missing, "UV_CACHE_DIR", ("--cache-dir: not given",)))
    async with app.run_test(size=(120, 30)) as pilot:
        await wait_workers(app)
        await pilot.pause()
        shown = app.export_screenshot().replace("&#160;", " ")
        assert str(missing) in shown and "UV_CACHE_DIR" in shown and "--demo" in shown
