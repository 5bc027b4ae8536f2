#!/usr/bin/env python3
"""Write an SVG of every screen of envtui to ``screenshots/``, from the demo cache.

    python scripts/screenshots.py              # the demo cache, built by uv if there is one
    python scripts/screenshots.py --synthetic  # the synthetic demo cache (no uv run)

``TOUR`` is the list of screens; the snapshot tests (``tests/ui/test_snapshots.py``) take the same
tour over a deterministic cache. A new screen is one ``Shot`` line here.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SIZE = (140, 40)
"""Terminal size of every screenshot (columns, rows); the snapshots also take each at ``SMALL``."""
SMALL = (80, 24)
"""The smallest terminal envtui is made for."""


@dataclass(frozen=True)
class Shot:
    """One screen to photograph."""

    name: str
    """File stem (``screenshots/<name>.svg``) and snapshot test id."""
    keys: tuple[str, ...] = ()
    """Keys pressed once the first scan has finished, e.g. ``("2",)``."""
    missing_cache: bool = False
    """Open a directory that is not a uv cache instead of the demo cache."""
    caption: str = ""
    """What the screen shows, for the README."""


TOUR: tuple[Shot, ...] = (
    Shot("overview", ("0",), caption="Where the space goes, bucket by bucket, hardlinks counted once"),
    Shot("archive", ("0", "slash", "a", "r", "c", "h", "enter", "enter"), caption="The archive entries, named"),
    Shot("environments", ("1",), caption="Script and cached environments, their keys and what each key was derived from"),
    Shot("environments-filtered", ("1", "slash", "w", "e", "a", "enter"), caption="`/` filters as you type"),
    Shot("interpreters", ("2",), caption="Cached interpreter queries: fresh, stale, missing; keys recomputed"),
    Shot("help", ("1", "question_mark"), caption="`?`: the keys of the current screen"),
    Shot("marked", ("1", "down", "space", "down", "space"), caption="Marked rows and what deleting them frees"),
    Shot("details", ("1", "i"), caption="`i`: the details pane, beside the table or below it"),
    Shot("prune", ("1", "down", "space", "down", "space", "d"), caption="Prune: the plan, bytes freed, before anything goes"),
    Shot("prune-policy", ("1", "P"), caption="Prune by policy: unused, dangling, orphaned, older than..."),
    Shot("script-roots", ("1", "o"), caption="`o`: the directories searched for PEP 723 scripts"),
    Shot("no-cache", missing_cache=True, caption="No cache where envtui looked: where it looked and why"),
)


def make_app(shot: Shot, cache: Path, scripts: list[str]):
    """The app a shot photographs: the cache, or a directory that is none."""
    from envtui.app import EnvtuiApp
    from envtui.core import CacheLocation

    if shot.missing_cache:
        app = EnvtuiApp(CacheLocation(cache.parent / "no-cache-here", "--cache-dir"), known_scripts=[])
    else:
        app = EnvtuiApp(CacheLocation(cache, "--demo"), known_scripts=scripts)
    # Toasts come and go on the wall clock, and one raised on a screen under a dialog outlived
    # clear_notifications(): no shot shows one.
    app.notify = lambda *args, **kwargs: None
    return app


async def settle(pilot) -> None:
    """Until no worker is left: wait for the workers, then for the messages they posted (a
    finished scan starts the disk measurement, whose result then updates the screens)."""
    app = pilot.app
    for _ in range(200):
        await app.workers.wait_for_complete()
        await pilot.pause()
        # The disk worker only starts once the inventory's message is handled: "no worker left"
        # is not enough, the sizes must have arrived (no inventory: the no-cache screen).
        measured = getattr(app, "inventory", None) is None or getattr(app, "disk", None) is not None
        if measured and all(w.is_finished for w in app.workers):
            break
    await pilot.wait_for_scheduled_animations()
    await pilot.pause()


async def play(pilot, shot: Shot) -> None:
    """Wait for the scans, then press the shot's keys, letting each take effect."""
    await settle(pilot)
    for key in shot.keys:
        await pilot.press(key)
        await pilot.pause()
    await settle(pilot)
    # Toasts time out on the wall clock: whether one is still up depends on how fast this ran.
    pilot.app.clear_notifications()
    await pilot.pause()


async def _take(shot: Shot, cache: Path, scripts: list[str], out: Path) -> Path:
    app = make_app(shot, cache, scripts)
    async with app.run_test(size=SIZE) as pilot:
        await play(pilot, shot)
        return Path(app.save_screenshot(f"{shot.name}.svg", str(out)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--synthetic", action="store_true", help="write the demo cache without uv")
    parser.add_argument("--out", type=Path, default=ROOT / "screenshots", help="where the SVGs go")
    parser.add_argument("only", nargs="*", help="shot names to take (default: all)")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    from envtui.demo import build_demo_cache

    loc, note = build_demo_cache(synthetic=args.synthetic, progress=lambda text: print(text, file=sys.stderr))
    args.out.mkdir(parents=True, exist_ok=True)
    try:
        for shot in TOUR:
            if args.only and shot.name not in args.only:
                continue
            print(asyncio.run(_take(shot, loc.path, note.scripts, args.out)))
    finally:
        shutil.rmtree(note.root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
