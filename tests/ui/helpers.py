"""Helpers of the Pilot tests: the synthetic demo cache, waiting for the scans, reading what a
row or the footer shows."""

from __future__ import annotations

import time
from pathlib import Path

from textual.widgets import DataTable
from textual.widgets._footer import FooterKey
from textual.worker import WorkerCancelled

from envtui.app import EnvtuiApp
from envtui.core import CacheLocation
from envtui.demo.synthetic import build_synthetic_cache, fake_interpreters


def demo_cache(tmp_path: Path) -> tuple[Path, list[str]]:
    """The synthetic demo cache in ``tmp_path``: (cache root, script paths)."""
    cache, scripts = build_synthetic_cache(tmp_path, interpreters=fake_interpreters(tmp_path), now=time.time())
    return cache, [str(s) for s in scripts]


def demo_app(tmp_path: Path, **kw) -> EnvtuiApp:
    """The app on a fresh synthetic demo cache."""
    cache, scripts = demo_cache(tmp_path)
    return EnvtuiApp(CacheLocation(cache, "--cache-dir"), known_scripts=scripts, **kw)


async def wait_workers(app) -> None:
    """Until every worker has ended; one cancelled on purpose (a rescan, a cancelled plan) too."""
    try:
        await app.workers.wait_for_complete()
    except WorkerCancelled:
        pass


async def settle(pilot) -> None:
    """Until the inventory and the disk figures have arrived and no worker runs."""
    app = pilot.app
    for _ in range(100):
        await wait_workers(app)
        await pilot.pause()
        if (app.inventory is None or app.disk is not None) and all(w.is_finished for w in app.workers):
            break
    await pilot.pause()


def row_text(table: DataTable, row: int) -> str:
    """What the table draws for ``row`` (scrolled to the top)."""
    return table.render_line(row + table.header_height - int(table.scroll_y)).text


def header_text(table: DataTable) -> str:
    """What the table draws as its header."""
    return table.render_line(0).text


def footer_keys(app) -> dict[str, FooterKey]:
    """The footer's keys on the current screen, by key."""
    return {k.key: k for k in app.screen.query(FooterKey)}


_KEY_NAMES = {"/": "slash", " ": "space", "\r": "enter", "\t": "tab", "\x1b": "escape", ".": "full_stop", "-": "minus"}


def type_at_once(app, *keys: str) -> None:
    """Post ``keys`` to ``app`` as one read from a terminal delivers a burst (a paste, a fast
    typist): every key is queued before the first is handled. A key is a character (``"/"``,
    ``"\\r"``...) or a key name (``"ctrl+p"``). Pilot's ``press`` waits after each key instead."""
    from textual import events

    for key in keys:
        if len(key) == 1:
            app.post_message(events.Key(_KEY_NAMES.get(key, key), key))
        else:
            app.post_message(events.Key(key, None))


async def until(pilot, shown, rounds: int = 60) -> None:
    """Pause until ``shown()`` is true, at most ``rounds`` times (the caller asserts it after)."""
    for _ in range(rounds):
        if shown():
            return
        await pilot.pause()
