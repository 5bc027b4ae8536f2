"""Pilot tests: the packages screen, deleting from the overview and the archive screen, and
looking inside an entry."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from textual.widgets import DataTable

from envtui.app import EnvtuiApp
from envtui.core import CacheLocation
from envtui.core.packages import scan_packages
from envtui.dialogs.confirm_prune import ConfirmPrune
from envtui.screens.archive import BucketScreen
from envtui.screens.entry_files import EntryFilesScreen
from envtui.screens.packages import PackagesScreen
from tests.pkgcache import PackageCache


@pytest.fixture(autouse=True)
def _own_state_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("ENVTUI_STATE_DIR", str(tmp_path / "envtui-state"))


@pytest.fixture(scope="module")
def package_cache(tmp_path_factory: pytest.TempPathFactory, pythons: list[str]) -> PackageCache:
    base = tmp_path_factory.mktemp("pkgcache-ui")
    (base / "work").mkdir()
    return PackageCache(base / "cache", base / "work", base / "wheels").build(pythons[0])


@pytest.fixture
def cache_copy(package_cache: PackageCache, tmp_path: Path) -> Path:
    dest = tmp_path / "cache"
    subprocess.run(["cp", "-a", str(package_cache.root), str(dest)], check=True)
    return dest


def du(path: Path) -> int:
    return int(subprocess.run(["du", "-sB1", str(path)], capture_output=True, text=True, check=True).stdout.split()[0])


async def _settle(app, pilot, rounds: int = 4) -> None:
    for _ in range(rounds):
        await app.workers.wait_for_complete()
        await pilot.pause()


async def _packages_screen(app, pilot) -> PackagesScreen:
    await _settle(app, pilot)
    await pilot.press("3")
    await _settle(app, pilot)
    screen = app.screen
    assert isinstance(screen, PackagesScreen)
    while screen.packages is None or app.disk is None:
        await _settle(app, pilot, 1)
    await _settle(app, pilot)
    return screen


def _cursor_to(screen, key: str) -> None:
    index = next(i for i, row in enumerate(screen._shown) if row.key == key)
    screen.query_one("#table", DataTable).move_cursor(row=index)


async def test_packages_screen_lists_every_package_by_size(package_cache: PackageCache):
    app = EnvtuiApp(CacheLocation(package_cache.root, "--cache-dir"), known_scripts=[])
    async with app.run_test(size=(160, 40)) as pilot:
        screen = await _packages_screen(app, pilot)
        expected = scan_packages(package_cache.root)
        table = screen.query_one("#table", DataTable)
        assert table.row_count == len(expected)
        assert [r.record.name for r in screen._shown] == [p.name for p in expected]
        assert [p.disk for p in expected] == sorted((p.disk for p in expected), reverse=True)
        first = table.get_row_at(0)
        tab = next(p for p in expected if p.name == "tabulate")
        assert screen._shown[0].record.name == "tabulate"
        assert "0.8, 0.9" in map(str, first)
        assert str(len(tab.used_by)) == "3" and "3" in map(str, first)


async def test_marking_a_package_deletes_what_the_dialog_said(cache_copy: Path):
    app = EnvtuiApp(CacheLocation(cache_copy, "--cache-dir"), known_scripts=[])
    async with app.run_test(size=(160, 40)) as pilot:
        screen = await _packages_screen(app, pilot)
        _cursor_to(screen, "cowsay")
        await pilot.press("space", "d")
        await _settle(app, pilot)
        dialog = app.screen
        assert isinstance(dialog, ConfirmPrune)
        plan = dialog.plan
        assert not plan.skipped, plan.skipped
        assert {e.path.name for e in plan.entries} >= {"cowsay", "cowsay.rkyv"}
        before = du(cache_copy)
        await pilot.press("y")
        await _settle(app, pilot)
        assert before - du(cache_copy) == plan.bytes_freed
        assert not any(p.name == "cowsay" for p in scan_packages(cache_copy))


async def test_overview_marks_a_whole_bucket_and_archive_entries(cache_copy: Path):
    app = EnvtuiApp(CacheLocation(cache_copy, "--cache-dir"), known_scripts=[])
    async with app.run_test(size=(160, 40)) as pilot:
        await _settle(app, pilot)
        while app.disk is None:
            await _settle(app, pilot, 1)
        overview = app.screen
        simple = next(cache_copy.glob("simple-v*"))
        # Into archive-v0: mark the two largest entries (one linked, one maybe not).
        _cursor_to(overview, str(cache_copy / "archive-v0"))
        await pilot.press("enter")
        await _settle(app, pilot)
        bucket = app.screen
        assert isinstance(bucket, BucketScreen)
        await pilot.press("space", "down", "space", "d")
        await _settle(app, pilot)
        dialog = app.screen
        assert isinstance(dialog, ConfirmPrune)
        paths = {e.path for e in dialog.plan.entries}
        assert len(paths) == 2
        before = du(cache_copy)
        await pilot.press("y")
        await _settle(app, pilot)
        assert before - du(cache_copy) == dialog.plan.bytes_freed
        assert not any(p.exists() for p in paths)
        # The links went first: none is left dangling.
        for link in cache_copy.rglob("*"):
            if link.is_symlink():
                assert link.exists(), link
        await pilot.press("escape")
        await _settle(app, pilot)
        assert app.screen is overview
        _cursor_to(overview, str(simple))
        await pilot.press("space", "d")
        await _settle(app, pilot)
        dialog = app.screen
        assert isinstance(dialog, ConfirmPrune)
        assert [e.path for e in dialog.plan.entries] == [simple]
        before = du(cache_copy)
        await pilot.press("y")
        await _settle(app, pilot)
        assert not simple.exists()
        assert before - du(cache_copy) == dialog.plan.bytes_freed > 0


async def test_enter_on_an_environment_shows_its_files(package_cache: PackageCache):
    app = EnvtuiApp(CacheLocation(package_cache.root, "--cache-dir"), known_scripts=[str(package_cache.script)])
    async with app.run_test(size=(160, 40)) as pilot:
        await _settle(app, pilot)
        await pilot.press("1")
        await _settle(app, pilot)
        envs = app.screen
        script_env = next(r for r in envs._shown if r.record.kind == "script")
        _cursor_to(envs, script_env.key)
        await pilot.press("enter")
        await _settle(app, pilot)
        files = app.screen
        assert isinstance(files, EntryFilesScreen)
        names = [r.record.name for r in files._shown]
        assert {"lib", "bin", "pyvenv.cfg"} <= set(names)
        assert [r.record.disk for r in files._shown] == sorted((r.record.disk for r in files._shown), reverse=True)
        _cursor_to(files, str(script_env.record.path / "lib"))
        await pilot.press("l")  # lib/
        await pilot.press("right")  # pythonX.Y/
        await pilot.press("enter")  # site-packages/
        await pilot.pause()
        roles = {r.record.name: r.record.role for r in files._shown}
        assert roles["tabulate"] == "package of tabulate 0.9"
        assert roles["cowsay-6.0.dist-info"] == "metadata of cowsay 6.0 (dist-info)"
        await pilot.press("h", "h", "h")
        await pilot.pause()
        assert len(files.trail) == 1
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen is envs
