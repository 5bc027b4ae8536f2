"""Pilot tests: one source of truth after a change. A prune on one screen (or ``r``) updates every
screen, the archive bucket's list too, whichever of the rescan's inventory scan and disk walk ends
first; ``r`` says that it rescans and when it has finished."""

from __future__ import annotations

import os
import re
import threading

import pytest
from textual.widgets import DataTable

import envtui.app as app_module
from envtui.app import EnvtuiApp
from envtui.core import CacheLocation
from envtui.dialogs.confirm_prune import ConfirmPrune
from envtui.screens.archive import BucketScreen
from envtui.screens.packages import PackagesScreen
from .helpers import wait_workers


@pytest.fixture(autouse=True)
def _own_state_dir(tmp_path, monkeypatch):
    """envtui remembers scripts in its state directory: keep each test's apart (and off $HOME)."""
    monkeypatch.setenv("ENVTUI_STATE_DIR", str(tmp_path / "envtui-state"))


def _app(rc) -> EnvtuiApp:
    return EnvtuiApp(CacheLocation(rc.root, "--cache-dir"), known_scripts=[str(s) for s in rc.scripts])


async def _settle(app, pilot) -> None:
    for _ in range(4):
        await wait_workers(app)
        await pilot.pause()


def _column(table: DataTable, key: str) -> list[str]:
    return [str(cell) for cell in table.get_column(key)]


async def _open_archive(app, pilot) -> BucketScreen:
    await pilot.press("0")
    await pilot.pause()
    table = app.screen.query_one("#table", DataTable)
    table.move_cursor(row=_column(table, "entry").index("archive-v0/"))
    await pilot.press("enter")
    await pilot.pause()
    assert isinstance(app.screen, BucketScreen)
    return app.screen


async def _prune_tinytool(app, pilot, rc) -> list:
    """Mark the tinytool environments on the environments screen and prune them: their paths."""
    await pilot.press("1")
    await pilot.pause()
    screen = app.screen
    tiny = [e for e in app.inventory.environments if e.tool == "tinytool"]
    assert tiny
    for env in tiny:
        index = next(i for i, row in enumerate(screen._shown) if row.record.path == env.path)
        screen.query_one("#table", DataTable).move_cursor(row=index)
        await pilot.press("space")
    await pilot.press("d")
    await _settle(app, pilot)
    assert isinstance(app.screen, ConfirmPrune)
    await pilot.press("y")
    await _settle(app, pilot)
    assert not any(e.link_target.exists() for e in tiny)
    return tiny


def _archive_ids(rc) -> set[str]:
    return {p.name for p in (rc.root / "archive-v0").iterdir() if not p.name.startswith(".")}


def _archive_shown(screen: BucketScreen) -> set[str]:
    table = screen.query_one("#table", DataTable)
    return {os.path.basename(str(key.value)) for key in table.rows}


class _WalkFirst:
    """``scan_inventory`` that, from the second scan on, returns only once the app shows the
    disk walk of that rescan (the order the user saw: the walk ends before the inventory)."""

    def __init__(self, app_ref: list) -> None:
        self.real = app_module.scan_inventory
        self.app_ref = app_ref
        self.calls = 0

    def __call__(self, *args, **kw):
        self.calls += 1
        app = self.app_ref[0]
        before = app.disk
        inventory = self.real(*args, **kw)
        if self.calls > 1:
            changed = threading.Event()
            for _ in range(1000):  # at most 10 s: a walk of this small cache takes milliseconds
                if app.disk is not before:
                    break
                changed.wait(0.01)
        return inventory


@pytest.mark.parametrize("walk_first", [False, True], ids=["natural-order", "walk-ends-first"])
async def test_a_prune_on_the_environments_screen_updates_the_archive_screen(real_cache_copy, monkeypatch, walk_first):
    rc = real_cache_copy
    app = _app(rc)
    if walk_first:
        monkeypatch.setattr(app_module, "scan_inventory", _WalkFirst([app]))
    async with app.run_test(size=(160, 40)) as pilot:
        await _settle(app, pilot)
        archive = await _open_archive(app, pilot)  # open before the prune: it must follow
        before = _archive_shown(archive)
        assert before == _archive_ids(rc)
        await _prune_tinytool(app, pilot, rc)
        await pilot.press("0")
        await _settle(app, pilot)
        assert app.screen is archive
        shown = _archive_shown(archive)
        assert shown == _archive_ids(rc) and shown < before
        status = str(archive.query_one("#status-line").render())
        assert status.startswith(f"{len(shown)} of {len(shown)}")
        # The overview's archive row counts what is on disk too.
        await pilot.press("escape")
        await pilot.pause()
        table = app.screen.query_one("#table", DataTable)
        row = _column(table, "entry").index("archive-v0/")
        assert _column(table, "entries")[row].strip() == str(len(_archive_ids(rc)))


async def test_a_prune_updates_the_packages_screen(real_cache_copy):
    rc = real_cache_copy
    app = _app(rc)
    async with app.run_test(size=(160, 40)) as pilot:
        await _settle(app, pilot)
        await pilot.press("3")
        await _settle(app, pilot)
        assert isinstance(app.screen, PackagesScreen)
        packages = app.screen
        tiny = {e.link_target for e in app.inventory.environments if e.tool == "tinytool"}
        assert any(set(r.record.used_by) & tiny for r in packages._rows)  # the prune changes something here
        await _prune_tinytool(app, pilot, rc)
        await pilot.press("3")
        await _settle(app, pilot)
        assert app.screen is packages
        for row in packages._rows:
            p = row.record
            for path in (*(e.path for e in p.entries), *p.archives, *p.used_by):
                assert os.path.lexists(path), f"{p.name} lists {path}, which was deleted"
        table = packages.query_one("#table", DataTable)
        for row in packages._rows:
            shown = str(table.get_cell(row.key, "used-by")).strip()
            assert shown == (str(len(row.record.used_by)) if row.record.used_by else "—")


class _HeldRescan:
    """``scan_inventory`` whose rescans wait for ``go`` (the first scan runs at once)."""

    def __init__(self) -> None:
        self.real = app_module.scan_inventory
        self.go = threading.Event()
        self.calls = 0

    def __call__(self, *args, **kw):
        self.calls += 1
        if self.calls > 1:
            assert self.go.wait(30)
        return self.real(*args, **kw)


async def test_r_says_it_rescans_and_when_it_finished(real_cache, monkeypatch):
    held = _HeldRescan()
    monkeypatch.setattr(app_module, "scan_inventory", held)
    app = _app(real_cache)
    async with app.run_test(size=(80, 24)) as pilot:
        await _settle(app, pilot)
        await pilot.press("1")
        await pilot.pause()
        status = str(app.screen.query_one("#status-line").render())
        assert "rescanning" not in status
        await pilot.press("r")
        await pilot.pause()
        status = str(app.screen.query_one("#status-line").render())
        assert status.startswith("rescanning… · 9 of 9")  # at 80 columns, first
        assert not any("rescanned" in n.message for n in app._notifications)
        held.go.set()
        await _settle(app, pilot)
        status = str(app.screen.query_one("#status-line").render())
        assert "rescanning" not in status and status.startswith("9 of 9")
        told = [n.message for n in app._notifications]
        assert any(re.fullmatch(r"rescanned in \d+(\.\d s| ms)", m) for m in told), told
