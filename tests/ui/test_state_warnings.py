"""envtui's own state read like the cache, in the TUI: a settings file, a scripts-seen file or a
saved disk index that is a FIFO neither hangs the app nor is fatal; each is one warning, and q
still quits."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from envtui.app import EnvtuiApp
from envtui.core import CacheLocation

from .helpers import demo_cache, settle


@pytest.mark.parametrize("name", ["settings.json", "scripts-seen.json"])
async def test_a_fifo_in_the_state_directory_is_a_warning_and_the_app_goes_on(tmp_path: Path, monkeypatch, name) -> None:
    state = tmp_path / "state"
    state.mkdir(mode=0o700)
    monkeypatch.setenv("ENVTUI_STATE_DIR", str(state))
    os.mkfifo(state / name)
    cache, _scripts = demo_cache(tmp_path / "c")
    app = EnvtuiApp(CacheLocation(cache, "--cache-dir"))  # no known scripts: the app reads its state
    started = time.monotonic()
    async with app.run_test(size=(120, 40), notifications=True) as pilot:
        await settle(pilot)
        assert app.inventory is not None and app.inventory.environments
        said = [n for n in app._notifications if n.title == "envtui's state"]
        assert said and str(state / name) in said[0].message and "FIFO" in said[0].message
        await pilot.press("q")
    assert time.monotonic() - started < 60
    assert (state / name).is_fifo()  # never replaced: it was read, not written over
