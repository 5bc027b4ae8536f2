"""Pilot tests of a newcomer's first minutes: find, copy, choose, sort, ask for help, use the palette."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from textual.widgets import DataTable

from envtui.app import EnvtuiApp
from envtui.core import CacheLocation, script_environment_name
from envtui.demo.synthetic import build_synthetic_cache, fake_interpreters
from envtui.screens.base import TableScreen
from envtui.machine_ui import MACHINE_MODES
from envtui.screens.machine_table import MachineTableScreen
from envtui.screens.help import HelpScreen
from .helpers import wait_workers


@pytest.fixture
def demo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, list[str]]:
    """The synthetic demo cache in ``tmp_path``: (cache root, script paths)."""
    monkeypatch.setenv("ENVTUI_STATE_DIR", str(tmp_path / "state"))
    cache, scripts = build_synthetic_cache(tmp_path, interpreters=fake_interpreters(tmp_path), now=time.time())
    return cache, [str(s) for s in scripts]


def _app(demo, **kw) -> EnvtuiApp:
    cache, scripts = demo
    return EnvtuiApp(CacheLocation(cache, "--cache-dir"), known_scripts=scripts, **kw)


async def _loaded(pilot) -> None:
    await wait_workers(pilot.app)
    await pilot.pause()


def _stable_path(demo, name: str) -> str:
    cache, scripts = demo
    script = next(s for s in scripts if s.endswith(name))
    return str(cache / "environments-v2" / script_environment_name(script))


async def test_find_a_script_environment_and_copy_its_path(demo) -> None:
    # The promise of the README: `1` (environments), `/`, part of the name, enter, `c`.
    app = _app(demo)
    async with app.run_test(size=(140, 40)) as pilot:
        await _loaded(pilot)
        await pilot.press("1", "slash", "w", "e", "a", "enter", "c")
        assert app.clipboard == _stable_path(demo, "fetch_weather.py")
        assert Path(app.clipboard).is_dir()
        assert any("Copied stable environment path" in (n.title or "") for n in app._notifications)


async def test_print_path_returns_the_environment_chosen_with_enter(demo) -> None:
    app = _app(demo, print_path=True)
    async with app.run_test(size=(140, 40)) as pilot:
        await _loaded(pilot)
        await pilot.press("1", "slash", "h", "e", "l", "l", "enter", "enter")
    assert app.return_value == _stable_path(demo, "hello.py")


async def test_every_table_screen_filters_as_you_type(demo) -> None:
    app = _app(demo)
    async with app.run_test(size=(140, 40)) as pilot:
        await _loaded(pilot)
        for mode in app.MODES:
            await app.switch_mode(mode)
            await pilot.pause()
            screen = app.screen
            tables = list(screen.query(DataTable))
            if not tables or (isinstance(screen, MachineTableScreen) and not app.machine_scan):
                continue  # the Pythons, tools and projects screens: tests/ui/test_machine_screens.py
            assert isinstance(screen, TableScreen), f"{mode}: a table that `/` does not filter"
            table = screen.query_one("#table", DataTable)
            before = table.row_count
            assert before > 0, mode
            await pilot.press("slash", "z", "z", "q")
            await pilot.pause()
            assert table.row_count == 0, mode
            await pilot.press("escape")
            await pilot.pause()
            assert table.row_count == before, mode


async def test_sort_cycles_to_last_used(demo) -> None:
    app = _app(demo)
    async with app.run_test(size=(140, 40)) as pilot:
        await _loaded(pilot)
        await pilot.press("1")
        screen = app.screen
        assert screen.sort_by == "size"  # lists open sorted by size, as ncdu's do
        while screen.sort_by != "used":
            await pilot.press("s")
        used = [r.sort["used"] for r in screen._shown if r.sort.get("used") is not None]
        assert used == sorted(used, reverse=True) and len(used) > 1
        # fetch_weather.py was used 0.2 days ago: the most recent.
        assert str(screen._shown[0].record.script).endswith("fetch_weather.py")


async def test_help_lists_the_current_screens_own_bindings(demo) -> None:
    app = _app(demo)
    async with app.run_test(size=(140, 40)) as pilot:
        await _loaded(pilot)
        await pilot.press("1", "question_mark")
        help_screen = app.screen
        assert isinstance(help_screen, HelpScreen)
        described = {k.description for k in help_screen.keys}
        assert {"Filter", "Sort", "Copy path", "Copy bin/python", "Help", "Quit"} <= described
        await pilot.press("escape", "2", "question_mark")
        described = {k.description for k in app.screen.keys}
        assert "Filter" in described and "Copy path" not in described
        await pilot.press("escape")
        assert not isinstance(app.screen, HelpScreen)


async def test_command_palette_offers_every_binding_and_themes(demo) -> None:
    app = _app(demo)
    async with app.run_test(size=(140, 40)) as pilot:
        await _loaded(pilot)
        await pilot.press("1")
        screen = app.screen
        commands = {c.title: c for c in app.get_system_commands(screen)}
        # The Pythons, tools and projects screens are off where the app does not look beyond the cache.
        off = {f"mode.{m}" for m in MACHINE_MODES} if not app.machine_scan else set()
        wanted = {b.description for b in (*app.BINDINGS, *screen.BINDINGS, *TableScreen.BINDINGS) if b.show and b.id not in off}
        assert wanted <= set(commands), wanted - set(commands)
        assert "Theme" in commands
        await commands["Copy path"].callback()
        assert app.clipboard == str(screen.selected.path)


def test_captured_stdout_still_sizes_the_app_to_the_terminal(tmp_path: Path) -> None:
    # `code --python "$(envtui --print-path)"`: stdout is a pipe, the terminal is on stderr.
    # Textual sizes itself from stdout, so without the fix the app is drawn at 80x24.
    import fcntl
    import os
    import pty
    import struct
    import subprocess
    import sys
    import termios

    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 43, 132, 0, 0))
    code = (
        "import shutil, sys\n"
        "from envtui.tui import _terminal_on_stdout\n"
        "with _terminal_on_stdout():\n"
        "    size = shutil.get_terminal_size()\n"
        "print(size.columns, size.lines)\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    proc = subprocess.run([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=follower, env=env, timeout=60)
    os.close(follower)
    os.close(leader)
    assert proc.stdout.decode().split() == ["132", "43"]
