"""Text from disk never styles the screen and never reaches the terminal raw.

Every name in the world :func:`~tests.ui.hostile.build_hostile_world` writes holds Textual markup,
unbalanced brackets, escape sequences, a C1 control, a bidi override or a newline. The test walks
every screen, the details pane, the look inside, the help, the plan, policy, "uv is running",
rebuild dialogs (an environment's, a tool's), and the notifications that carry those names; at each step it
reads what the screen draws and fails on a crash, on a link or a click action, on a raw control,
C1 or bidi character, and on a name that is not shown whole (escaped as ``envtui ls`` prints it).
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

import pytest
from textual.widgets import DataTable, Input, Log, Static
from textual.widgets._toast import Toast

from envtui.app import EnvtuiApp
from envtui.core import CacheLocation
from envtui.core.text import printable
from envtui.dialogs.confirm_prune import ConfirmPrune
from envtui.dialogs.lock_busy import LockBusy
from envtui.dialogs.prune_policy import PrunePolicy
from envtui.dialogs.rebuild_log import RebuildLog
from envtui.screens.entry_files import EntryFilesScreen
from envtui.screens.help import HelpScreen
from envtui.screens.registry import SCREENS

from .hostile import EVERYTHING, NAMES, TEXT_ONLY, build_hostile_world, hostile_processes, wheel_name

KEY = {s.mode: s.key for s in SCREENS}
#: What must never reach the terminal as it is: C0 controls, DEL, C1 controls, bidi controls.
RAW = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def shown(name: object) -> str:
    """How a name from disk must appear: whole, escaped as ``envtui ls`` escapes it."""
    return printable(name)


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    world = build_hostile_world(tmp_path)
    monkeypatch.setenv("UV_PYTHON_INSTALL_DIR", str(world.python_dir))
    monkeypatch.setenv("UV_TOOL_DIR", str(world.tool_dir))
    with hostile_processes(world) as procs:
        app = EnvtuiApp(CacheLocation(world.cache, "--cache-dir"), known_scripts=[str(s) for s in world.scripts])
        app.machine_scan = True
        app.machine_roots = [str(world.roots)]
        yield app, world, procs


async def _until(pilot, condition, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        await pilot.pause(0.05)


def look(app) -> str:
    """The frame the screen draws now (the screens under a dialog and the notifications
    included), as text, one line per row. Fails on a raw control, C1 or bidi character, a link
    or a click action in it: envtui draws none of them, so any came from a name."""
    assert app.is_running, "the app is no longer running"
    # What export_screenshot() prints, as segments: the SVG keeps neither links nor actions.
    update = app.screen._compositor.render_update(full=True, screen_stack=app._background_screens)
    lines = []
    for strips in update.strips:
        line = []
        for strip in strips:
            for segment in strip:
                if segment.control:
                    continue
                assert not RAW.search(segment.text), f"raw {RAW.search(segment.text).group()!r} in {segment.text!r}"
                style = segment.style
                if style is not None:
                    assert not style.link, f"a link ({style.link}) in {segment.text!r}"
                    assert not any("@click" in key for key in (style.meta or {})), f"an action in {segment.text!r}"
                line.append(segment.text)
        lines.append("".join(line))
    return "\n".join(lines)


def text_of(widget) -> str:
    """What ``widget`` renders, before it is cut into lines (a wrapped line would split a name)."""
    return str(widget.render())


def toasts(app) -> str:
    """The notifications on screen, each unwrapped."""
    return "\n".join(text_of(t) for t in app.screen.query(Toast))


async def _told(pilot, text: str) -> None:
    """Until a notification holding ``text`` is on screen; then it is drawn safely."""
    await _until(pilot, lambda: text in toasts(pilot.app), timeout=10)
    look(pilot.app)


async def _rows(pilot, table: DataTable) -> str:
    """Every row of ``table``, each highlighted in turn (its details pane drawn), as one text."""
    seen = [look(pilot.app)]
    for row in range(table.row_count):
        table.move_cursor(row=row)
        await pilot.pause()
        seen.append(look(pilot.app))
    return "\n".join(seen)


async def _cursor_to(pilot, match) -> None:
    screen = pilot.app.screen
    table = screen.query_one("#table", DataTable)
    for row in range(table.row_count):
        table.move_cursor(row=row)
        if screen.selected is not None and match(screen.selected):
            await pilot.pause()
            return
    raise AssertionError("no such row")


def _assert_all_shown(text: str, names, where: str) -> None:
    missing = [n for n in names if shown(n) not in text]
    assert not missing, f"{where}: not shown whole: {missing}"


async def _overview(pilot, world) -> None:
    app = pilot.app
    await pilot.press(KEY["overview"])
    seen = await _rows(pilot, app.screen.query_one("#table", DataTable))
    _assert_all_shown(seen, NAMES, "overview")  # the top-level entries uv does not own
    assert shown(world.cache) in seen  # the header's subtitle: the cache root
    # enter on an entry uv does not own: a notification names it.
    for name in ("[x=1:2]colon.py", "[@click=app.quit]x.py", "\x1b]52;c;aGkK\x07osc.py", "report [old].py"):
        await _cursor_to(pilot, lambda r: r[0].dirname == name)  # noqa: B023 (called at once)
        await pilot.press("enter")
        await _told(pilot, f"{shown(name)} is a single file")
    await _cursor_to(pilot, lambda r: r[0].dirname == "archive-v0")
    await pilot.press("enter")
    await pilot.pause()
    archive = await _rows(pilot, app.screen.query_one("#table", DataTable))
    _assert_all_shown(archive, map(wheel_name, NAMES), "archive-v0")
    await pilot.press("escape")


async def _environments(pilot, world, procs) -> None:
    app = pilot.app
    await pilot.press(KEY["environments"])
    await _until(pilot, lambda: str(world.environments[NAMES[0]]) in app.in_use)
    screen = app.screen
    seen = await _rows(pilot, screen.query_one("#table", DataTable))
    _assert_all_shown(seen, NAMES, "environments and their details")
    _assert_all_shown(seen, EVERYTHING, "the packages of an environment")
    assert "report [old].py · hostile/" in seen  # in its row, not only in the details
    # In use: the details name the process by its command line.
    await _cursor_to(pilot, lambda e: e.path == world.environments[NAMES[0]])
    assert f"pid {procs[0].pid}: " in look(app)
    await pilot.press("c")  # the copied path, in a notification
    await _told(pilot, shown(world.environments[NAMES[0]]))
    # The look inside: files with hostile names.
    await pilot.press("l")
    await _until(pilot, lambda: isinstance(app.screen, EntryFilesScreen) and app.screen.current is not None)
    for directory in ("lib", "python3.12", "site-packages"):
        await _cursor_to(pilot, lambda n: n.name == directory)  # noqa: B023 (called at once)
        await pilot.press("enter")
    files = await _rows(pilot, app.screen.query_one("#table", DataTable))
    _assert_all_shown(files, NAMES, "the files inside")
    while app.screen is not screen:
        await pilot.press("escape")
    # A plan of a hostile environment and one in use, with uv "running" (a process holds its lock).
    for env in (world.environments[NAMES[0]], world.environments[NAMES[-1]]):
        await _cursor_to(pilot, lambda e: e.path == env)  # noqa: B023 (called at once)
        await pilot.press("space")
    await pilot.press("d")
    await _until(pilot, lambda: isinstance(app.screen, LockBusy))
    look(app)
    _assert_all_shown(text_of(app.screen.query_one("#lock-busy-text", Static)), EVERYTHING, "uv is running")
    await pilot.press("g")
    await _until(pilot, lambda: isinstance(app.screen, ConfirmPrune) and app.screen.shown is not None)
    dialog = app.screen
    drawn = look(app)
    assert shown(dialog.plan.entries[0].label) in drawn
    _assert_all_shown(text_of(dialog.query_one("#confirm-prune-skipped", Static)), EVERYTHING, "skipped, in use")
    _assert_all_shown(text_of(dialog.query_one("#confirm-prune-busy", Static)), EVERYTHING, "the lock's holders")
    await pilot.press("escape")
    await _until(pilot, lambda: app.screen is screen and not screen.busy)
    assert all(os.path.isdir(p) for p in world.environments.values())
    # Rebuild: refused for the environment whose script is unknown, naming its prompt.
    await _cursor_to(pilot, lambda e: e.prompt == "[x=1:2]orphan [/]")
    await pilot.press("b")
    await _told(pilot, "prompt = '[x=1:2]orphan [/]'")
    # Rebuild: the plan names the script; uv's output and the error are shown as they are.
    script = world.scripts[-1]
    await _cursor_to(pilot, lambda e: e.script == str(script))
    await pilot.press("b")
    await _until(pilot, lambda: isinstance(app.screen, RebuildLog))
    dialog = app.screen
    assert shown(script) in text_of(dialog.query_one("#rebuild-steps", Static))
    for line in EVERYTHING:
        dialog.post_message(RebuildLog.Output(line))
    dialog.post_message(RebuildLog.Finished(None, " ".join(EVERYTHING)))
    await pilot.pause()
    look(app)
    _assert_all_shown("\n".join(dialog.query_one(Log).lines), EVERYTHING, "uv's output")
    _assert_all_shown(text_of(dialog.query_one("#rebuild-result", Static)), EVERYTHING, "the rebuild's error")
    await pilot.press("escape")
    # Help and the policy dialog (a value typed in is quoted back in the error).
    await pilot.press("question_mark")
    await _until(pilot, lambda: isinstance(app.screen, HelpScreen))
    look(app)
    await pilot.press("escape")
    await pilot.press("P")
    await _until(pilot, lambda: isinstance(app.screen, PrunePolicy))
    box = app.screen.query_one("#max-size", Input)
    box.focus()
    box.value = "[x=1:2][@click=app.quit]"
    await pilot.press("enter")
    await pilot.pause()
    look(app)
    assert "[x=1:2][@click=app.quit]" in text_of(app.screen.query_one("#prune-policy-error", Static))
    await pilot.press("escape")


async def _listed(pilot, mode: str, names, where: str) -> str:
    app = pilot.app
    await pilot.press(KEY[mode])
    await _until(pilot, lambda: app.screen.query_one("#table", DataTable).row_count > 0)
    seen = await _rows(pilot, app.screen.query_one("#table", DataTable))
    _assert_all_shown(seen, names, where)
    return seen


async def _tool_rebuild(pilot, world) -> None:
    """Reinstalling a tool named like markup: uv's command line never gets the name, and the
    refusal shows it whole, as text."""
    app = pilot.app
    await _cursor_to(pilot, lambda t: t.name == NAMES[-1])
    await pilot.press("b")
    await _told(pilot, "Cannot rebuild: ")
    assert f"not a valid tool name: {NAMES[-1]!r}" in toasts(app)
    assert not isinstance(app.screen, RebuildLog)


async def test_no_name_from_disk_styles_the_screen_or_reaches_the_terminal_raw(world) -> None:
    app, world, procs = world
    async with app.run_test(size=(360, 90), notifications=True) as pilot:
        await _until(pilot, lambda: app.machine_usage is not None and app.archive is not None)
        await _overview(pilot, world)
        await _environments(pilot, world, procs)
        await _listed(pilot, "interpreters", ["[link=a:b]py"], "interpreters")
        await _listed(pilot, "packages", NAMES, "the versions of packages")
        await _cursor_to(pilot, lambda p: p.name == "hostile0")
        await pilot.press("l")  # the look inside a package
        await _until(pilot, lambda: isinstance(app.screen, EntryFilesScreen) and app.screen.current is not None)
        look(app)
        await pilot.press("escape")
        await _listed(pilot, "pythons", [world.tool_dir / n for n in NAMES], "what runs on a Python")
        await _listed(pilot, "tools", [*NAMES, *TEXT_ONLY], "tools")
        await _tool_rebuild(pilot, world)
        await _listed(pilot, "projects", [*NAMES, *TEXT_ONLY], "projects")
        await _cursor_to(pilot, lambda p: p.project_name == "report [old].py")
        await pilot.press("d")  # the plan of a project environment, named by its project
        await _until(pilot, lambda: isinstance(app.screen, ConfirmPrune) and app.screen.shown is not None)
        assert [str(c) for c in app.screen.query_one(DataTable).get_row_at(0)][3:] == [
            "report [old].py", "asked for", "report [old]_py/.venv"]
        look(app)
        await pilot.press("escape")
        await pilot.pause()
        look(app)
        assert (world.roots / "report [old]_py" / ".venv" / "pyvenv.cfg").exists()
