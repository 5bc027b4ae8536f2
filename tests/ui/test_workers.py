"""Pilot tests: a failed worker is shown app-wide, and environments a running process uses are
marked, with the process in the details pane."""

from __future__ import annotations

import subprocess

import pytest
from textual.widgets import DataTable, Static

import envtui.app as app_module
from envtui.widgets.details import DetailsPane

from .helpers import demo_app, row_text, settle


@pytest.fixture(autouse=True)
def _state(tmp_path, monkeypatch):
    monkeypatch.setenv("ENVTUI_STATE_DIR", str(tmp_path / "state"))


async def test_a_scan_that_fails_is_shown_and_leaves_scanning(tmp_path, monkeypatch):
    def denied(location, **kwargs):
        raise PermissionError(13, "Permission denied", str(location.path))

    monkeypatch.setattr(app_module, "scan_inventory", denied)
    app = demo_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert any("Permission denied" in n.message for n in app._notifications)
        assert not app.scanning
        for key in ("0", "1"):
            await pilot.press(key)
            await pilot.pause()
            status = str(app.screen.query_one("#status-line", Static).render())
            assert "scanning" not in status and "Permission denied" in status


async def test_an_environment_in_use_is_marked_with_its_process(tmp_path):
    app = demo_app(tmp_path)
    async with app.run_test(size=(200, 50)) as pilot:
        await settle(pilot)
        env = next(e for e in app.inventory.environments if e.kind == "script")
        proc = subprocess.Popen(["sleep", "60"], cwd=env.path)
        try:
            await pilot.press("r")
            await settle(pilot)
            await pilot.press("1")
            await pilot.pause()
            screen = app.screen
            table = screen.query_one("#table", DataTable)
            row = next(i for i, r in enumerate(screen._shown) if r.key == str(env.path))
            assert "▶" in row_text(table, row)
            assert sum("▶" in row_text(table, i) for i in range(table.row_count)) == 1
            table.move_cursor(row=row)
            await pilot.pause()
            shown = app.export_screenshot().replace("&#160;", " ")
            assert f"pid {proc.pid}" in shown and screen.query_one(DetailsPane).display
        finally:
            proc.kill()
            proc.wait()
