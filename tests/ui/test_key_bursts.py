"""Keys typed in one burst (a paste, a fast typist, a loaded machine) reach the widget that has
focus in the order typed: ``/`` then letters filter, they do not mark every row.

Pilot's ``press`` waits after each key, which hid the bug: these tests queue every key before the
first is handled (``type_at_once``), and one writes the burst to a real terminal in one write."""

from __future__ import annotations

import os
import pty
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from textual.command import CommandInput, CommandPalette
from textual.widgets import Checkbox, Input, TextArea

from envtui.core.digest import script_environment_name
from envtui.dialogs.prune_policy import PrunePolicy
from envtui.dialogs.script_roots import ScriptRoots
from envtui.screens.archive import BucketScreen
from envtui.screens.entry_files import EntryFilesScreen

from .helpers import demo_app, demo_cache, settle, type_at_once, until


@pytest.fixture(autouse=True)
def _state(tmp_path, monkeypatch):
    monkeypatch.setenv("ENVTUI_STATE_DIR", str(tmp_path / "state"))


def _filter(app) -> str:
    return app.screen.query_one("#filter", Input).value


@pytest.mark.parametrize("key", ["0", "1", "2", "3"])
async def test_slash_and_letters_in_one_burst_filter_every_list(tmp_path, key):
    app = demo_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        type_at_once(app, key, "/", "a", "s", "i")
        await until(pilot, lambda: _filter(app) == "asi")
        assert _filter(app) == "asi"
        assert app.screen.marked == set()  # `a` marked every row; `s` changed the sort
        assert isinstance(app.focused, Input)


async def test_something_that_stays_busy_delays_keys_and_never_swallows_them(tmp_path, monkeypatch):
    from envtui.widgets import key_order

    app = demo_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("1", "/")
        await until(pilot, lambda: isinstance(app.focused, Input))
        monkeypatch.setattr(key_order, "MAX_WAIT", 0.05)
        monkeypatch.setattr(key_order, "busy", lambda pump: True)  # a widget that never settles
        type_at_once(app, "a", "s", "i")
        await until(pilot, lambda: _filter(app) == "asi")
        assert _filter(app) == "asi"  # each key waited MAX_WAIT, then went on, in order


async def test_a_burst_opens_a_bucket_and_an_entry_and_filters_each(tmp_path):
    app = demo_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        # Filter the overview to the archive bucket, open it, filter its entries: one burst.
        type_at_once(app, "0", "/", *"archive", "\r", "\r", "/", "x", "y")
        await until(pilot, lambda: isinstance(app.screen, BucketScreen) and _filter(app) == "xy")
        assert isinstance(app.screen, BucketScreen) and app.screen.bucket.name == "archive"
        assert _filter(app) == "xy"
        # Clear that filter, look inside the entry under the cursor, filter its files.
        type_at_once(app, "\x1b", "l", "/", "p", "y")
        await until(pilot, lambda: isinstance(app.screen, EntryFilesScreen) and _filter(app) == "py")
        assert isinstance(app.screen, EntryFilesScreen) and _filter(app) == "py"


async def test_one_burst_from_the_overview_picks_the_environment_typed(tmp_path):
    # The issue's `1 / ana ⏎` printed another environment than analyze.py's.
    app = demo_app(tmp_path, print_path=True)
    plot = next(s for s in app.known_scripts if s.endswith("plot_sales.py"))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        type_at_once(app, "1", "/", *"plot", "\r", "\r")
        await until(pilot, lambda: app.return_value is not None)
    assert app.return_value == str(app.location.path / "environments-v2" / script_environment_name(Path(plot)))


async def test_a_burst_types_into_the_script_roots_dialog(tmp_path):
    app = demo_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        type_at_once(app, "1", "o", *"/srv/x")
        await until(pilot, lambda: isinstance(app.screen, ScriptRoots) and "/srv/x" in app.screen.query_one(TextArea).text)
        assert isinstance(app.screen, ScriptRoots)
        assert "/srv/x" in app.screen.query_one(TextArea).text


async def test_a_burst_fills_the_prune_policy_form(tmp_path):
    app = demo_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        # space ticks the first policy, four tabs reach "older than (days)"
        type_at_once(app, "1", "P", " ", *"\t" * 4, *"30")
        await until(pilot, lambda: isinstance(app.screen, PrunePolicy) and app.screen.query_one("#older-than", Input).value == "30")
        assert isinstance(app.screen, PrunePolicy)
        assert app.screen.query_one("#unreferenced", Checkbox).value
        assert app.screen.query_one("#older-than", Input).value == "30"


async def test_a_burst_types_into_the_command_palette(tmp_path):
    app = demo_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        type_at_once(app, "ctrl+p", *"theme")
        await until(pilot, lambda: isinstance(app.screen, CommandPalette) and app.screen.query_one(CommandInput).value == "theme")
        assert isinstance(app.screen, CommandPalette)
        assert app.screen.query_one(CommandInput).value == "theme"


def test_a_burst_written_to_a_real_terminal_in_one_write(tmp_path):
    """``envtui --print-path`` on a pseudo-terminal: ``1/plot⏎⏎`` in one ``os.write`` prints the
    environment of plot_sales.py."""
    cache, scripts = demo_cache(tmp_path)
    plot = next(s for s in scripts if s.endswith("plot_sales.py"))
    empty = tmp_path / "none"
    empty.mkdir()
    master, slave = pty.openpty()
    name = os.ttyname(slave)
    env = {**os.environ, "ENVTUI_STATE_DIR": str(tmp_path / "state"), "TERM": "xterm-256color",
           "COLUMNS": "80", "LINES": "24", "UV_PYTHON_INSTALL_DIR": str(empty), "UV_TOOL_DIR": str(empty)}

    def own_terminal() -> None:  # after setsid: opening the tty makes it the controlling one
        os.close(os.open(name, os.O_RDWR))

    proc = subprocess.Popen(
        [sys.executable, "-m", "envtui", "--cache-dir", str(cache), "--roots", str(tmp_path), "--print-path"],
        stdin=slave, stdout=subprocess.PIPE, stderr=slave, start_new_session=True, preexec_fn=own_terminal, env=env,
    )
    os.close(slave)
    output = bytearray()

    def drain() -> None:
        while True:
            try:
                data = os.read(master, 65536)
            except OSError:
                return
            if not data:
                return
            output.extend(data)

    threading.Thread(target=drain, daemon=True).start()
    try:
        # The inventory is in once the dangling link of the demo is reported (a toast).
        deadline = time.monotonic() + 60
        while not re.search(rb"dangling", output) and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.05)
        assert re.search(rb"dangling", output), output.decode(errors="replace")[-2000:]
        os.write(master, b"1/plot\r\r")
        out, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(master)
    assert out.decode().strip() == str(cache / "environments-v2" / script_environment_name(Path(plot)))
