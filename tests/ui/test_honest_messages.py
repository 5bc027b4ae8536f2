"""Pilot tests: what the TUI says is true. A script environment uv found in sync is not called
rebuilt; a deleted script is named as missing; a dangling link is one problem, told once and shown
in the overview's details pane; `.lock` does not offer to open; an interpreter query's stored
timestamp is called the executable's ctime."""

from __future__ import annotations

import io
import os
import shutil

from rich.console import Console
from textual.widgets import DataTable, Static

from envtui.app import EnvtuiApp
from envtui.core import CacheLocation
from envtui.dialogs.rebuild_log import RebuildLog
from envtui.scripts_seen import remember_scripts
from envtui.state import Settings, save_settings


def _app(root, scripts) -> EnvtuiApp:
    return _recording(EnvtuiApp(CacheLocation(root, "--cache-dir"), known_scripts=[str(s) for s in scripts]))


def _recording(app: EnvtuiApp) -> EnvtuiApp:
    """``app.told``: every notification's message, kept (Textual drops a toast once it times out,
    which on a loaded machine can be before the test looks)."""
    app.told = []
    notify = app.notify

    def recorded(message, *args, **kwargs):
        app.told.append(str(message))
        return notify(message, *args, **kwargs)

    app.notify = recorded
    return app


async def _settle(app, pilot) -> None:
    for _ in range(3):
        await app.workers.wait_for_complete()
        await pilot.pause()


def _cursor_to(screen, match) -> None:
    index = next(i for i, row in enumerate(screen._shown) if match(row.record))
    screen.query_one("#table", DataTable).move_cursor(row=index)


def _pane_text(screen) -> str:
    """The details pane's content as plain text, wide enough that nothing wraps."""
    console = Console(width=500, file=io.StringIO(), record=True)
    console.print(screen.query_one("#details-body", Static).content)
    return console.export_text()


def _uv_on_path(uv_cache, monkeypatch) -> None:
    for key, value in uv_cache.env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("PATH", os.path.dirname(uv_cache.uv) + os.pathsep + os.environ["PATH"])


async def _rebuild(app, pilot, script) -> str:
    await pilot.press("1")
    await pilot.pause()
    _cursor_to(app.screen, lambda e: e.script == str(script))
    await pilot.press("b")
    await pilot.pause()
    dialog = app.screen
    assert isinstance(dialog, RebuildLog)
    await pilot.click("#start")
    await _settle(app, pilot)
    result = str(dialog.query_one("#rebuild-result", Static).content)
    await pilot.press("escape")
    await _settle(app, pilot)
    return result


async def test_rebuild_is_up_to_date_when_uv_installed_nothing_and_rebuilt_when_it_did(uv_cache, monkeypatch):
    _uv_on_path(uv_cache, monkeypatch)
    script = uv_cache.write_script("s/needs_helper.py", deps=("helperlib",))
    uv_cache.run_script(script)
    app = _app(uv_cache.root, [script])
    async with app.run_test(size=(160, 40)) as pilot:
        await _settle(app, pilot)
        said = await _rebuild(app, pilot, script)
        assert said.startswith("already up to date") and "rebuilt" not in said
        venv = next(e.path for e in app.inventory.environments if e.script == str(script))
        for p in venv.glob("lib/python*/site-packages/helperlib*"):
            shutil.rmtree(p)
        assert (await _rebuild(app, pilot, script)) == f"rebuilt {venv}"


async def test_rebuild_of_a_script_whose_file_is_gone_names_the_missing_file(uv_cache, monkeypatch):
    _uv_on_path(uv_cache, monkeypatch)
    script = uv_cache.write_script("s/vanished.py")
    uv_cache.run_script(script)
    remember_scripts(uv_cache.root, [script])  # seen once, then deleted
    script.unlink()
    app = _app(uv_cache.root, [])
    async with app.run_test(size=(160, 40)) as pilot:
        await _settle(app, pilot)
        await pilot.press("1")
        await pilot.pause()
        await pilot.press("b")
        await pilot.pause()
        told = [m for m in app.told if "rebuild" in m.lower()]
        assert told and f"its script file {script} is missing" in told[-1]
        assert "script roots" not in told[-1]


async def test_a_dangling_link_is_one_problem_told_once_and_shown_in_the_overview(uv_cache):
    uv_cache.uvx("tinytool")
    link = next(uv_cache.root.glob("environments-v2/*/*[!k]"))
    target = os.path.normpath(link.parent / os.readlink(link))
    shutil.rmtree(target)
    app = _app(uv_cache.root, [])
    async with app.run_test(size=(160, 40)) as pilot:
        await _settle(app, pilot)
        problem = f"{link}: dangling link: its target {target} is gone"
        assert [m for m in app.told if problem in m] and not [m for m in app.told if "could not be read" in m]
        await pilot.press("r")
        await _settle(app, pilot)
        assert len([m for m in app.told if problem in m]) == 1  # not again at every scan
        screen = app.screen
        _cursor_to(screen, lambda r: r[0].dirname == "environments-v2")
        await pilot.pause()
        assert problem in _pane_text(screen)


async def test_lock_file_does_not_offer_to_open_its_entries(uv_cache):
    uv_cache.uvx("tinytool")
    app = _app(uv_cache.root, [])
    async with app.run_test(size=(160, 40)) as pilot:
        await _settle(app, pilot)
        screen = app.screen
        _cursor_to(screen, lambda r: r[0].dirname == ".lock")
        await pilot.pause()
        assert ".lock" in _pane_text(screen) and "open its entries" not in _pane_text(screen)
        _cursor_to(screen, lambda r: r[0].dirname == "archive-v0")
        await pilot.pause()
        assert "open its entries" in _pane_text(screen)


async def test_interpreter_timestamp_is_called_the_executables_ctime(uv_cache):
    uv_cache.uvx("tinytool")
    app = _app(uv_cache.root, [])
    async with app.run_test(size=(160, 40)) as pilot:
        await _settle(app, pilot)
        await pilot.press("2")
        await pilot.pause()
        text = _pane_text(app.screen)
        assert "executable ctime" in text and "cached at" not in text


async def test_a_script_found_under_the_script_roots_then_deleted_is_named_as_missing(uv_cache, monkeypatch):
    _uv_on_path(uv_cache, monkeypatch)
    script = uv_cache.write_script("roots/later_gone.py")
    uv_cache.run_script(script)
    save_settings(Settings(script_roots=(str(script.parent),)))
    app = _recording(EnvtuiApp(CacheLocation(uv_cache.root, "--cache-dir")))  # the saved script roots
    async with app.run_test(size=(160, 40)) as pilot:
        await _settle(app, pilot)
        assert [e.script for e in app.inventory.environments] == [str(script)]
        script.unlink()
        await pilot.press("r")
        await _settle(app, pilot)
        await pilot.press("1")
        await pilot.pause()
        await pilot.press("b")
        await pilot.pause()
        told = [m for m in app.told if "rebuild" in m.lower()]
        assert told and f"its script file {script} is missing" in told[-1]
