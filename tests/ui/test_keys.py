"""Pilot tests: the keys people bring from ncdu, gdu, dua, npkill and lazygit, sorting, and marks
that stay on their rows with a running total of what they free."""

from __future__ import annotations

import os

import pytest
from textual.widgets import DataTable

from envtui.core.disk import freed_bytes
from envtui.dialogs.confirm_prune import ConfirmPrune
from envtui.format import size
from envtui.screens.archive import BucketScreen
from envtui.screens.overview import OverviewScreen

from .helpers import demo_app, row_text, settle


@pytest.fixture(autouse=True)
def _state(tmp_path, monkeypatch):
    monkeypatch.setenv("ENVTUI_STATE_DIR", str(tmp_path / "state"))


async def _environments(app, pilot):
    await settle(pilot)
    await pilot.press("1")
    await pilot.pause()
    return app.screen, app.screen.query_one("#table", DataTable)


async def test_lists_open_sorted_by_size_and_S_reverses(tmp_path):
    app = demo_app(tmp_path)
    async with app.run_test(size=(140, 40)) as pilot:
        screen, table = await _environments(app, pilot)
        sizes = [r.sort["size"] for r in screen._shown if r.sort["size"] is not None]
        assert len(sizes) > 3 and sizes == sorted(sizes, reverse=True)
        await pilot.press("S")
        sizes = [r.sort["size"] for r in screen._shown if r.sort["size"] is not None]
        assert sizes == sorted(sizes)


async def test_clicking_a_header_sorts_by_it_and_again_reverses(tmp_path):
    app = demo_app(tmp_path)
    async with app.run_test(size=(200, 50)) as pilot:
        screen, table = await _environments(app, pilot)
        x = sum(c.get_render_width(table) for c in list(table.columns.values())[:2])  # flags, kind: then name
        await pilot.click("#table", offset=(x + 2, 0))
        await pilot.pause()
        assert screen.sort_by == "name"
        names = [r.sort["name"] for r in screen._shown]
        assert names == sorted(names)
        await pilot.click("#table", offset=(x + 2, 0))
        await pilot.pause()
        assert [r.sort["name"] for r in screen._shown] == sorted(names, reverse=True)


async def test_vim_keys_move_and_jump(tmp_path):
    app = demo_app(tmp_path)
    async with app.run_test(size=(140, 40)) as pilot:
        screen, table = await _environments(app, pilot)
        await pilot.press("j", "j")
        assert table.cursor_row == 2
        await pilot.press("k")
        assert table.cursor_row == 1
        await pilot.press("G")
        assert table.cursor_row == table.row_count - 1
        await pilot.press("g")
        assert table.cursor_row == 0
        await pilot.press("end")
        assert table.cursor_row == table.row_count - 1
        await pilot.press("home")
        assert table.cursor_row == 0


async def test_l_opens_a_bucket_and_h_or_backspace_goes_back(tmp_path):
    app = demo_app(tmp_path)
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot)
        table = app.screen.query_one("#table", DataTable)
        for back in ("h", "backspace", "left"):
            rows = [str(c) for c in table.get_column("entry")]
            table.move_cursor(row=rows.index("archive-v0/"))
            await pilot.press("l")
            await pilot.pause()
            assert isinstance(app.screen, BucketScreen)
            await pilot.press(back)
            await pilot.pause()
            assert isinstance(app.screen, OverviewScreen), back


async def test_delete_key_prunes_like_d(tmp_path):
    app = demo_app(tmp_path)
    async with app.run_test(size=(140, 40)) as pilot:
        screen, table = await _environments(app, pilot)
        env = screen.selected
        await pilot.press("delete")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmPrune)
        assert {e.path for e in app.screen.plan.entries} == {env.path}
        await pilot.press("n")
        await settle(pilot)
        assert os.path.isdir(env.path)


async def test_a_mark_made_after_sorting_shows_on_its_row_and_rows_stay(tmp_path):
    app = demo_app(tmp_path)
    async with app.run_test(size=(140, 40)) as pilot:
        screen, table = await _environments(app, pilot)
        for _ in range(len(screen.SORTS)):
            await pilot.press("s")
            await pilot.pause()
            order = [r.key for r in screen._shown]
            await pilot.press("j", "space")
            await pilot.pause()
            row = table.cursor_row
            assert screen._shown[row].key in screen.marked
            assert "●" in row_text(table, row), screen.sort_by
            assert [r.key for r in screen._shown] == order
            assert [str(k.value) for k in table.rows] == order  # the table's own order too
            await pilot.press("space")
            await pilot.pause()
            assert "●" not in row_text(table, row)


async def test_marked_rows_show_what_they_free_exactly(tmp_path):
    app = demo_app(tmp_path)
    async with app.run_test(size=(140, 40)) as pilot:
        screen, table = await _environments(app, pilot)
        cached = [i for i, r in enumerate(screen._shown) if r.record.kind == "cached" and r.record.status == "ok"][:3]
        for i in cached:
            table.move_cursor(row=i)
            await pilot.press("space")
        await settle(pilot)
        envs = [screen._shown[i].record for i in cached]
        paths = [p for e in envs for p in (e.path, e.path.with_name(e.path.name + ".lock"), e.link_target)]
        expected, _ = freed_bytes(p for p in paths if os.path.lexists(p))
        status = str(screen.query_one("#status-line").render())
        assert f"3 marked · frees {size(expected)}" in status


async def test_marks_after_sorting_on_a_cache_real_uv_made(real_cache, monkeypatch, tmp_path):
    from envtui.app import EnvtuiApp
    from envtui.core import CacheLocation

    app = EnvtuiApp(CacheLocation(real_cache.root, "--cache-dir"), known_scripts=[str(s) for s in real_cache.scripts])
    async with app.run_test(size=(80, 24)) as pilot:
        screen, table = await _environments(app, pilot)
        for _ in range(len(screen.SORTS)):
            await pilot.press("s")
            await pilot.pause()
            order = [str(k.value) for k in table.rows]
            await pilot.press("space", "j", "space")
            await settle(pilot)
            assert [str(k.value) for k in table.rows] == order, screen.sort_by
            for row in (table.cursor_row - 1, table.cursor_row):
                assert "●" in row_text(table, row), (screen.sort_by, row)
            await pilot.press("a", "a")  # mark all, unmark all
            await settle(pilot)
            assert not screen.marked and [str(k.value) for k in table.rows] == order
