"""Pilot tests: the overview is the first screen, its sizes stream in from a background scan while
the lists stay usable, they match du, and a bucket opens onto its named entries."""

from __future__ import annotations

import os
import subprocess
import threading

import pytest
from textual.widgets import DataTable

import envtui.app as app_module
from envtui.app import EnvtuiApp
from envtui.core import CacheLocation
from envtui.screens.archive import BucketScreen
from envtui.screens.environments import EnvironmentsScreen
from envtui.screens.overview import OverviewScreen
from .helpers import wait_workers


def _app(real_cache) -> EnvtuiApp:
    return EnvtuiApp(CacheLocation(real_cache.root, "--cache-dir"), known_scripts=[str(s) for s in real_cache.scripts])


def _du(path) -> int:
    return int(subprocess.run(["du", "-sB1", str(path)], capture_output=True, text=True, check=True).stdout.split()[0])


def _column(table: DataTable, key: str) -> list[str]:
    return [str(cell) for cell in table.get_column(key)]


async def _settled(app, pilot) -> None:
    # The inventory scan, then (started by its result) the disk scan.
    for _ in range(3):
        await wait_workers(app)
        await pilot.pause()


async def test_overview_is_first_and_matches_du(real_cache):
    app = _app(real_cache)
    async with app.run_test(size=(160, 40)) as pilot:
        await _settled(app, pilot)
        assert isinstance(app.screen, OverviewScreen)
        assert app.disk is not None and app.disk_progress is None
        table = app.screen.query_one("#table", DataTable)
        names = {n.rstrip("/") for n in _column(table, "entry")}
        assert names == set(os.listdir(real_cache.root))
        assert "…" not in _column(table, "disk")  # every on-disk figure filled in
        assert app.disk.total_disk == _du(real_cache.root)
        shown = app.export_screenshot().replace("&#160;", " ")
        assert "Cache total" in shown and "hardlinks counted once" in shown


class _HeldScan:
    """Stands in for scan_disk: holds the disk scan until released, and records whether the
    worker asked it to stop."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.started = threading.Event()
        self.saw_cancel = threading.Event()
        self.real = app_module.scan_disk

    def __call__(self, root, *, should_stop, **kw):
        self.started.set()
        while not self.release.wait(0.01):
            if should_stop():
                self.saw_cancel.set()
                raise app_module.ScanCancelled()
        return self.real(root, should_stop=should_stop, **kw)


async def test_lists_are_usable_before_sizes_arrive(real_cache, monkeypatch):
    held = _HeldScan()
    monkeypatch.setattr(app_module, "scan_disk", held)
    app = _app(real_cache)
    async with app.run_test(size=(160, 40)) as pilot:
        await pilot.pause()
        while app.inventory is None:
            await pilot.pause(0.05)
        held.started.wait(10)
        await pilot.pause()
        # Buckets are listed, sizes are pending, and the keys work.
        table = app.screen.query_one("#table", DataTable)
        assert table.row_count == len(os.listdir(real_cache.root))
        assert set(_column(table, "disk")) == {"…"}
        await pilot.press("1")
        await pilot.pause()
        assert isinstance(app.screen, EnvironmentsScreen)
        sizes = _column(app.screen.query_one("#table", DataTable), "size")
        assert sizes and set(sizes) == {"…"}
        await pilot.press("0")
        held.release.set()
        await _settled(app, pilot)
        await pilot.press("1")
        await pilot.pause()
        sizes = _column(app.screen.query_one("#table", DataTable), "size")
        assert "…" not in sizes and all(s.strip()[0].isdigit() for s in sizes)


async def test_quitting_cancels_the_scan(real_cache, monkeypatch):
    held = _HeldScan()
    monkeypatch.setattr(app_module, "scan_disk", held)
    app = _app(real_cache)
    async with app.run_test(size=(160, 40)) as pilot:
        while not held.started.is_set():
            await pilot.pause(0.05)
        await pilot.press("q")
    assert held.saw_cancel.wait(5)


async def test_progress_messages_replace_each_other(real_cache):
    seen = []
    app = _app(real_cache)
    async with app.run_test(size=(160, 40), message_hook=seen.append) as pilot:
        await _settled(app, pilot)
    kinds = [type(m).__name__ for m in seen if isinstance(m, (EnvtuiApp.ScanFinished, EnvtuiApp.ArchiveListed,
                                                              EnvtuiApp.DiskProgressed, EnvtuiApp.DiskScanned))]
    # The lists come before the archive names; sizes stream in beside them (the disk walk starts
    # with the inventory scan) and end with one report.
    assert kinds.index("ScanFinished") < kinds.index("ArchiveListed")
    disk = [k for k in kinds if k.startswith("Disk")]
    assert "DiskProgressed" in disk and disk[-1] == "DiskScanned"
    a, b = EnvtuiApp.DiskProgressed(None, None), EnvtuiApp.DiskProgressed(None, None)
    assert a.can_replace(b)


async def test_enter_opens_a_bucket(real_cache):
    app = _app(real_cache)
    async with app.run_test(size=(160, 40)) as pilot:
        await _settled(app, pilot)
        table = app.screen.query_one("#table", DataTable)
        rows = _column(table, "entry")
        table.move_cursor(row=rows.index("archive-v0/"))
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, BucketScreen)
        archive = app.screen.query_one("#table", DataTable)
        names = _column(archive, "name")
        ids = {p.name for p in (real_cache.root / "archive-v0").iterdir()}
        assert archive.row_count == len(ids)
        assert "bigtool 1.0" in names and not ids & set(names)
        assert set(_column(archive, "status")) <= {"linked", "used"}
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, OverviewScreen)
        table = app.screen.query_one("#table", DataTable)
        table.move_cursor(row=_column(table, "entry").index("environments-v2/"))
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, EnvironmentsScreen)


@pytest.mark.parametrize("bucket", ["wheels-v8", "interpreter-v5"])
async def test_generic_bucket_lists_its_entries(real_cache, bucket):
    if not (real_cache.root / bucket).is_dir():
        pytest.skip(f"this uv made no {bucket}")
    app = _app(real_cache)
    async with app.run_test(size=(160, 40)) as pilot:
        await _settled(app, pilot)
        b = next(b for b in app.inventory.buckets if b.dirname == bucket)
        app.push_screen(BucketScreen(b))
        await pilot.pause()
        names = _column(app.screen.query_one("#table", DataTable), "name")
        top = real_cache.root / bucket
        if bucket.startswith("interpreter-"):
            # Its entries are the cached queries, <shard>/<key>.msgpack, not the shards.
            expected = [f"{shard}/{f}" for shard in os.listdir(top) for f in os.listdir(top / shard)]
        else:
            expected = os.listdir(top)
        assert sorted(names) == sorted(expected)


async def test_a_bucket_an_older_uv_left_opens_as_a_list(real_cache_copy):
    old = real_cache_copy.root / "environments-v1" / "old-script-0123456789abcdef"
    old.mkdir(parents=True)
    (old / "pyvenv.cfg").write_text("version_info = 3.8.0\n")
    app = _app(real_cache_copy)
    async with app.run_test(size=(160, 40)) as pilot:
        await _settled(app, pilot)
        table = app.screen.query_one("#table", DataTable)
        rows = _column(table, "entry")
        table.move_cursor(row=rows.index("environments-v1/"))
        assert "older" in _column(table, "kind")[rows.index("environments-v1/")]
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, BucketScreen)
        assert _column(app.screen.query_one("#table", DataTable), "name") == ["old-script-0123456789abcdef"]
