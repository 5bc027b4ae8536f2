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


def _shoot(name: str, size: tuple[int, int], snapshot_cache, snap_compare, monkeypatch) -> bool:
    shot = next(s for s in tour.TOUR if s.name == name)
    cache, scripts = snapshot_cache
    monkeypatch.setenv("ENVTUI_STATE_DIR", str(BASE / "state"))
    app = tour.make_app(shot, cache, scripts)

    async def run_before(pilot) -> None:
        await tour.play(pilot, shot)
        # A blinking cursor is drawn or not depending on when the shot is taken: keep it drawn.
        for box in pilot.app.screen.query("TextArea, Input"):
            box.cursor_blink = False
        await pilot.pause()

    return snap_compare(app, terminal_size=size, run_before=run_before)


SIZES = pytest.mark.parametrize("size", [tour.SIZE, tour.SMALL], ids=lambda s: f"{s[0]}x{s[1]}")


@pytest.fixture
def shoot(snapshot_cache, frozen_clock, snap_compare, monkeypatch):
    """``shoot(name, size)``: the snapshot of the tour's shot ``name`` at ``size`` matches."""
    return lambda name, size: _shoot(name, size, snapshot_cache, snap_compare, monkeypatch)


@SIZES
class TestOverview:
    def test_overview(self, shoot, size):
        assert shoot("overview", size)


@SIZES
class TestArchive:
    def test_archive(self, shoot, size):
        assert shoot("archive", size)


@SIZES
class TestEnvironments:
    def test_environments(self, shoot, size):
        assert shoot("environments", size)

    def test_filtered(self, shoot, size):
        assert shoot("environments-filtered", size)

    def test_marked(self, shoot, size):
        assert shoot("marked", size)

    def test_details(self, shoot, size):
        assert shoot("details", size)


@SIZES
class TestInterpreters:
    def test_interpreters(self, shoot, size):
        assert shoot("interpreters", size)


@SIZES
class TestHelp:
    def test_help(self, shoot, size):
        assert shoot("help", size)


@SIZES
class TestConfirmPrune:
    def test_plan(self, shoot, size):
        assert shoot("prune", size)


@SIZES
class TestPrunePolicy:
    def test_policies(self, shoot, size):
        assert shoot("prune-policy", size)


@SIZES
class TestScriptRoots:
    def test_script_roots(self, shoot, size):
        assert shoot("script-roots", size)


@SIZES
class TestNoCache:
    def test_no_cache(self, shoot, size):
        assert shoot("no-cache", size)


def test_every_shot_of_the_tour_has_a_snapshot():
    tested = {"overview", "archive", "environments", "environments-filtered", "marked", "details", "interpreters",
              "help", "prune", "prune-policy", "script-roots", "no-cache"}
    assert {s.name for s in tour.TOUR} == tested
