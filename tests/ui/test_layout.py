"""Pilot tests: every screen at 80x24 shows the sizes and names that tell rows apart, the footer
keeps ``?`` and ``q``, the details pane steps aside on a narrow terminal, dialogs fit, and the
overview's bar is always drawn, its shares summing to 100%."""

from __future__ import annotations

import re

import pytest
from textual.widgets import Button, DataTable, Input

from envtui.format import middle
from envtui.screens.archive import BucketScreen
from envtui.screens.overview import OverviewScreen
from envtui.widgets.columns import Column, fit_columns
from envtui.widgets.details import DetailsPane

from .helpers import demo_app, footer_keys, header_text, row_text, settle


@pytest.fixture(autouse=True)
def _state(tmp_path, monkeypatch):
    monkeypatch.setenv("ENVTUI_STATE_DIR", str(tmp_path / "state"))


SIZE = re.compile(r"\d+(\.\d)? (Bytes|KiB|MiB|GiB)")


@pytest.mark.parametrize("size", [(80, 24), (200, 50)])
async def test_every_list_shows_sizes_and_names_and_the_footer_keeps_help_and_quit(tmp_path, size):
    app = demo_app(tmp_path)
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        for key, name_column, size_column in (("0", "Entry", "On disk"), ("1", "Name", "Size"), ("2", "Executable", "Size")):
            await pilot.press(key)
            await pilot.pause()
            table = app.screen.query_one("#table", DataTable)
            header = header_text(table)
            assert name_column in header and size_column in header, (key, header)
            for row in range(min(table.row_count, 8)):
                assert SIZE.search(row_text(table, row)), (key, row_text(table, row))
            keys = footer_keys(app)
            for k in ("question_mark", "q"):
                assert k in keys and keys[k].region.width and keys[k].region.right <= size[0], (key, k)


async def test_archive_bucket_at_80_columns_shows_names_and_sizes(tmp_path):
    app = demo_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        screen = app.screen
        archive = next(b for b in app.inventory.buckets if b.dirname == "archive-v0")
        app.push_screen(BucketScreen(archive))
        await settle(pilot)
        table = app.screen.query_one("#table", DataTable)
        assert "Name" in header_text(table) and "On disk" in header_text(table) and "Frees" in header_text(table)
        assert SIZE.search(row_text(table, 0))
        assert screen is not app.screen


async def test_details_pane_hides_on_a_narrow_terminal_and_i_toggles_it(tmp_path):
    app = demo_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("1")
        await pilot.pause()
        pane = app.screen.query_one(DetailsPane)
        table = app.screen.query_one("#table", DataTable)
        assert not pane.display
        assert table.region.width >= 76
        await pilot.press("i")
        await pilot.pause()
        assert pane.display and pane.region.y > table.region.y  # below the table, not beside it
        assert table.region.width >= 76
        await pilot.press("i")
        await pilot.pause()
        assert not pane.display
    app = demo_app(tmp_path / "wide")
    async with app.run_test(size=(200, 50)) as pilot:
        await settle(pilot)
        await pilot.press("1")
        await pilot.pause()
        pane = app.screen.query_one(DetailsPane)
        assert pane.display and pane.region.x > 0  # beside the table
        await pilot.press("i")
        await pilot.pause()
        assert not pane.display


def test_columns_keep_the_important_ones_and_shorten_long_text_in_the_middle():
    columns = (Column("Name", "name", 0, min=8), Column("Size", "size", 0), Column("Packages", "pkgs", 3, min=10))
    rows = [("a-very-long-script-name.py · scripts/", "1.0 MiB", "x" * 40)]
    layout = dict(fit_columns(columns, rows, 30))
    assert set(layout) == {0, 1}  # the packages go first
    assert layout[1] == len("1.0 MiB") and layout[0] == 30 - 2 * 2 - len("1.0 MiB")
    assert middle("a-very-long-script-name.py · scripts/", 9) == "a-ve…pts/"
    assert len(middle("abcdef", 3)) == 3


@pytest.mark.parametrize("start", range(3))
async def test_overview_bar_is_drawn_at_once_and_shares_sum_to_100(tmp_path, start):
    app = demo_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, OverviewScreen)
        shown = app.export_screenshot().replace("&#160;", " ")
        assert "Cache total" in shown and "■" in shown and "█" in shown
        table = app.screen.query_one("#table", DataTable)
        shares = [int(str(c).rstrip("%")) for c in table.get_column("share")]
        shared = sum(p for name, _, p in app.screen.space_parts().parts if name == "shared")
        assert sum(shares) + shared == 100


async def test_dialogs_fit_in_80x24(tmp_path):
    app = demo_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("1", "o")
        await pilot.pause()
        for button in app.screen.query(Button):
            assert button.region.width and button.region.bottom <= 24, button.id
        await pilot.press("escape", "P")
        await pilot.pause()
        dialog = app.screen.query_one("#prune-policy")
        assert dialog.max_scroll_y == 0
        for widget in (*app.screen.query(Button), *app.screen.query(Input)):
            assert widget.region.width and dialog.region.contains_region(widget.region), widget.id
        await pilot.press("escape", "a", "d")
        await settle(pilot)
        for button in app.screen.query(Button):
            assert button.region.width and button.region.bottom <= 24, button.id
