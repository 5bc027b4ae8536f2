"""SVG snapshots of every screen (pytest-textual-snapshot), over a cache that never changes.

The tour is ``scripts/screenshots.py``'s ``TOUR``: a new screen is one line there. Determinism:
the synthetic demo cache is written at a fixed path with stand-in interpreters, the clock is frozen
(ages such as "3 days ago"), the time zone is UTC and the host (hence uv's interpreter shard) is
fixed. Update with ``pytest tests/ui/test_snapshots.py --snapshot-update`` and look at the SVGs.
"""

from __future__ import annotations

import fcntl
import importlib.util
import platform
import shutil
import sys
import time
from pathlib import Path

import pytest

from envtui.demo.synthetic import build_synthetic_cache, fake_interpreters

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("envtui_screenshots", ROOT / "scripts" / "screenshots.py")
tour = sys.modules.setdefault("envtui_screenshots", importlib.util.module_from_spec(_spec))
_spec.loader.exec_module(tour)

#: A fixed place: paths are on screen, and a per-run temporary directory would differ every run.
BASE = Path("/tmp/envtui-snapshot")
#: 2026-03-01 12:00 UTC: "now" for ages and for the cache's timestamps.
NOW = 1772366400.0


@pytest.fixture(scope="module")
def fixed_host():
    """uv's interpreter shard is a digest of (arch, OS, kernel release): pin them."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(platform, "machine", lambda: "x86_64")
        mp.setattr(platform, "system", lambda: "Linux")
        mp.setattr(platform, "release", lambda: "6.1.0-snapshot")
        mp.setenv("TZ", "UTC")
        time.tzset()
        yield
    time.tzset()


@pytest.fixture(scope="module")
def snapshot_cache(fixed_host) -> tuple[Path, list[str]]:
    """The synthetic demo cache at ``BASE/cache``, rebuilt for this module; one run at a time."""
    with open(f"{BASE}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        shutil.rmtree(BASE, ignore_errors=True)
        BASE.mkdir()
        try:
            cache, scripts = build_synthetic_cache(BASE, interpreters=fake_interpreters(BASE), now=NOW)
            yield cache, [str(s) for s in scripts]
        finally:
            shutil.rmtree(BASE, ignore_errors=True)


@pytest.fixture
def frozen_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    # Screens compute ages with time.time(); Textual's own timers use the monotonic clock.
    monkeypatch.setattr(time, "time", lambda: NOW)


@pytest.mark.parametrize("shot", tour.TOUR, ids=[s.name for s in tour.TOUR])
def test_screen(shot, snapshot_cache, frozen_clock, snap_compare, monkeypatch: pytest.MonkeyPatch) -> None:
    cache, scripts = snapshot_cache
    monkeypatch.setenv("ENVTUI_STATE_DIR", str(BASE / "state"))
    app = tour.make_app(shot, cache, scripts)

    async def run_before(pilot) -> None:
        await tour.play(pilot, shot)

    assert snap_compare(app, terminal_size=tour.SIZE, run_before=run_before)
