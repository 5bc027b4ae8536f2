"""Reopening envtui on a cache it measured before: the saved figures show at once, marked with
their age, and the fresh walk replaces them."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import threading
import time

import envtui.app as app_module
from envtui.app import EnvtuiApp
from envtui.core import CacheLocation
from envtui.core.disk import index as disk_index
from envtui.core.disk import scan_disk
from envtui.state import settings_path


def _du(path) -> int:
    return int(subprocess.run(["du", "-sB1", str(path)], capture_output=True, text=True, check=True).stdout.split()[0])


async def test_saved_figures_show_at_once_then_fresh_ones_replace_them(real_cache, monkeypatch):
    state = settings_path().parent
    # A saved index whose total no walk would give: what the screen shows first comes from it.
    old = dataclasses.replace(scan_disk(real_cache.root), total_disk=7 * 2**30)
    disk_index.save_index(old, state, now=time.time() - 180)
    release, started = threading.Event(), threading.Event()
    real = app_module.scan_disk

    def held(root, **kw):
        started.set()
        release.wait(30)
        return real(root, **kw)

    monkeypatch.setattr(app_module, "scan_disk", held)
    app = EnvtuiApp(CacheLocation(real_cache.root, "--cache-dir"), known_scripts=[])
    async with app.run_test(size=(160, 40)) as pilot:
        while not started.is_set() or app.disk is None:
            await pilot.pause(0.02)
        await pilot.pause()
        assert app.disk.total_disk == 7 * 2**30 and app.disk_saved_at is not None
        shown = app.export_screenshot().replace("&#160;", " ")
        assert "7.0 GiB" in shown and "sizes from 3 minutes ago, checking…" in shown
        release.set()
        while app.disk_saved_at is not None:
            await pilot.pause(0.02)
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert app.disk.total_disk == _du(real_cache.root)
        shown = app.export_screenshot().replace("&#160;", " ")
        assert "checking…" not in shown and "7.0 GiB" not in shown
    # The fresh figures are saved for the next start.
    assert disk_index.load_index(real_cache.root, state).report.total_disk == _du(real_cache.root)
    assert os.path.realpath(state) != os.path.realpath(real_cache.root)


async def test_a_scan_started_before_the_app_gives_the_first_sizes(real_cache, monkeypatch):
    """``envtui`` starts the walk before importing Textual; the app takes its figures instead of
    walking again."""
    from envtui.core.disk.background import BackgroundScan

    state = settings_path().parent
    disk_index.save_index(dataclasses.replace(scan_disk(real_cache.root), total_disk=5 * 2**30), state)
    early = BackgroundScan(real_cache.root, state_dir=state)
    assert early.saved.report.total_disk == 5 * 2**30  # read before the walk began
    assert early.wait(60)
    walks = []
    monkeypatch.setattr(app_module, "scan_disk", lambda *a, **k: walks.append(a))
    app = EnvtuiApp(CacheLocation(real_cache.root, "--cache-dir"), known_scripts=[], disk_scan=early)
    assert app.disk is early.saved.report  # shown from the first frame on
    async with app.run_test(size=(160, 40)) as pilot:
        while app.disk_saved_at is not None:  # until the early walk's figures replace them
            await pilot.pause(0.02)
        assert app.disk is early.report and app.disk.total_disk == _du(real_cache.root)
        assert walks == []
        await pilot.press("r")  # a rescan walks afresh
        while not walks:
            await pilot.pause(0.02)


async def test_the_saved_figures_are_in_the_first_frame(real_cache, monkeypatch):
    """With an early scan that found a saved index, the first frame already draws its total
    (it is not left for a message handled after that frame)."""
    from textual import events

    from envtui.core.disk import background
    from envtui.core.disk.background import BackgroundScan

    state = settings_path().parent
    disk_index.save_index(dataclasses.replace(scan_disk(real_cache.root), total_disk=5 * 2**30), state, now=time.time() - 120)
    release = threading.Event()
    real = background.scan_disk
    monkeypatch.setattr(background, "scan_disk", lambda *a, **k: release.wait(30) and real(*a, **k))  # the walk waits
    early = BackgroundScan(real_cache.root, state_dir=state)
    app = EnvtuiApp(CacheLocation(real_cache.root, "--cache-dir"), known_scripts=[], disk_scan=early)
    at_first_frame = []

    def hook(message):
        if isinstance(message, events.ScreenResume) and not at_first_frame:
            at_first_frame.append((app.disk, app.disk_saved_at))

    async with app.run_test(size=(160, 40), message_hook=hook) as pilot:
        await pilot.pause()
        (disk, saved_at), = at_first_frame
        assert disk is early.saved.report and disk.total_disk == 5 * 2**30 and saved_at == early.saved.saved_at
        shown = app.export_screenshot().replace("&#160;", " ")
        assert "5.0 GiB" in shown and "sizes from 2 minutes ago, checking…" in shown
        release.set()
        while app.disk_saved_at is not None:
            await pilot.pause(0.02)
        assert app.disk is early.report and app.disk.total_disk == _du(real_cache.root)
