"""Pilot tests of the screens beyond the cache: managed Pythons, tools, project
environments, and the overview's line for all four parts."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest
from textual.widgets import Button, DataTable, Static

from envtui.app import EnvtuiApp
from envtui.core import CacheLocation
from envtui.demo.synthetic import build_synthetic_cache, fake_interpreters
from envtui.dialogs.confirm_prune import ConfirmPrune
from envtui.dialogs.rebuild_log import RebuildLog
from envtui.screens.registry import SCREENS

KEY = {s.mode: s.key for s in SCREENS}


def _venv(path: Path, home: str, payload: int = 0) -> Path:
    (path / "bin").mkdir(parents=True)
    (path / "pyvenv.cfg").write_text(f"home = {home}\nimplementation = CPython\nversion_info = 3.12.1\n")
    os.symlink(os.path.join(home, "python3.12"), path / "bin" / "python")
    if payload:
        (path / "lib").mkdir()
        (path / "lib" / "payload.py").write_bytes(b"p" * payload)
    return path


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A synthetic cache, two managed Pythons (one used by a tool), one tool, two projects."""
    monkeypatch.setenv("ENVTUI_STATE_DIR", str(tmp_path / "state"))
    cache, scripts = build_synthetic_cache(tmp_path / "c", interpreters=fake_interpreters(tmp_path / "c"), now=time.time())
    pydir, tooldir, roots = tmp_path / "py", tmp_path / "tools", tmp_path / "roots"
    for key in ("cpython-3.12.1-linux-x86_64-gnu", "cpython-3.11.9-linux-x86_64-gnu"):
        (pydir / key / "bin").mkdir(parents=True)
        (pydir / key / "bin" / "python3.12").write_bytes(b"x" * 4096)
    tool = _venv(tooldir / "tinytool", str(pydir / "cpython-3.12.1-linux-x86_64-gnu" / "bin"))
    (tool / "uv-receipt.toml").write_text('[tool]\nrequirements = [{ name = "tinytool" }]\npython = "3.12"\n')
    for name in ("alpha", "beta"):
        (roots / name).mkdir(parents=True)
        (roots / name / "pyproject.toml").write_text(f'[project]\nname = "{name}"\nversion = "1"\n')
        _venv(roots / name / ".venv", "/usr/bin", payload=50000)
    monkeypatch.setenv("UV_PYTHON_INSTALL_DIR", str(pydir))
    monkeypatch.setenv("UV_TOOL_DIR", str(tooldir))
    app = EnvtuiApp(CacheLocation(cache, "--cache-dir"), known_scripts=[str(s) for s in scripts])
    app.machine_scan = True
    app.machine_roots = [str(roots)]
    return app, cache, roots


async def _until(pilot, condition, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        await pilot.pause(0.05)


def _du(*paths: Path) -> int:
    out = subprocess.run(["du", "-sB1", "--total", *map(str, paths)], capture_output=True, text=True, check=True).stdout
    return int(out.splitlines()[-1].split()[0])


async def test_pythons_screen_says_which_python_is_unused(world) -> None:
    app, cache, roots = world
    async with app.run_test(size=(160, 40)) as pilot:
        await _until(pilot, lambda: app.machine_usage is not None)
        # Measured with the cache's own walk (not a second one): exact, each inode once; the walk's
        # inode table is freed once the measure is done.
        usage = app.machine_usage
        pydir, tooldir = Path(os.environ["UV_PYTHON_INSTALL_DIR"]), Path(os.environ["UV_TOOL_DIR"])
        assert usage.part("cache").disk == app.disk.total_disk == _du(cache)
        assert usage.total_disk == _du(cache, *pydir.iterdir(), *tooldir.iterdir(), *roots.glob("*/.venv"))
        assert app.disk.links is not None and app.disk.links._table is None
        overview_line = str(app.screen.query_one("#machine-parts").render())
        assert "Everything uv keeps" in overview_line and "Pythons" in overview_line and "projects" in overview_line
        await pilot.press(KEY["pythons"])
        await pilot.pause()
        table = app.screen.query_one("#table", DataTable)
        rows = {str(table.get_cell(k, "python")): str(table.get_cell(k, "used-by")) for k in table.rows}
        assert rows == {"cpython-3.11.9-linux-x86_64-gnu": "unused", "cpython-3.12.1-linux-x86_64-gnu": "1 environments"}
        await pilot.press(KEY["tools"])
        await pilot.pause()
        assert app.screen.query_one("#table", DataTable).row_count == 1


async def test_deleting_a_project_env_from_the_tui_frees_what_the_plan_said(world) -> None:
    app, cache, roots = world
    async with app.run_test(size=(160, 40)) as pilot:
        await _until(pilot, lambda: app.machine_usage is not None)
        await pilot.press(KEY["projects"])
        await _until(pilot, lambda: app.screen.query_one("#table", DataTable).row_count == 2)
        # Named by their path (it read "<cache>/alpha/.venv": relative to the first root, labelled as the cache).
        listed = app.screen.query_one("#table", DataTable)
        names = [str(listed.get_row_at(i)[1]) for i in range(2)]  # shortened in the middle to fit
        assert sorted(n[:5] + n[-12:] for n in names) == ["/tmp//alpha/.venv", "/tmp/s/beta/.venv"], names
        await pilot.press("d")
        await _until(pilot, lambda: isinstance(app.screen, ConfirmPrune))
        dialog = app.screen
        plan = dialog.plan
        assert [e.path for e in plan.entries] == [roots / "alpha" / ".venv"]
        # What y deletes is on screen first: the title, the environment's row, Delete enabled.
        await _until(pilot, lambda: not dialog.query_one("#delete", Button).disabled)
        assert str(dialog.query_one("#confirm-prune-title").render()).startswith("Delete 1 entry, freeing")
        table = dialog.query_one("#confirm-prune-entries", DataTable)
        assert [str(c) for c in table.get_row_at(0)][-1] == "alpha/.venv" and table.row_count == 1
        before = _du(cache, roots)
        await pilot.press("y")
        await _until(pilot, lambda: not (roots / "alpha" / ".venv").exists())
        await _until(pilot, lambda: any("Deleted 1 of 1" in n.message for n in app._notifications))
        assert before - _du(cache, roots) == plan.bytes_freed > 50000
        assert (roots / "beta" / ".venv" / "pyvenv.cfg").exists()


async def test_reinstalling_a_tool_shows_the_command_before_run_can_be_pressed(world) -> None:
    app, _cache, _roots = world
    async with app.run_test(size=(160, 40)) as pilot:
        await _until(pilot, lambda: app.machine is not None)
        await pilot.press(KEY["tools"])
        await _until(pilot, lambda: app.screen.query_one("#table", DataTable).row_count == 1)
        await pilot.press("b")
        await _until(pilot, lambda: isinstance(app.screen, RebuildLog))
        dialog = app.screen
        run = dialog.query_one("#start", Button)
        steps = str(dialog.query_one("#rebuild-steps", Static).render())
        # Every option of the receipt, the name after "--", and the proof before the real one.
        assert "tool install --reinstall --python=3.12 -- tinytool" in steps and "1. build aside:" in steps
        assert app.focused is run and not run.disabled
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, RebuildLog)
        assert (Path(os.environ["UV_TOOL_DIR"]) / "tinytool" / "uv-receipt.toml").exists()


async def test_uninstalling_pythons_uv_does_not_report_hands_nothing_to_uv(world) -> None:
    """The Pythons screen's plan is made in a worker from what uv itself reports: two directories
    that only look like installations (uv cannot run them) are never handed to uv."""
    app, _cache, _roots = world
    pydir = Path(os.environ["UV_PYTHON_INSTALL_DIR"])
    async with app.run_test(size=(160, 40), notifications=True) as pilot:
        await _until(pilot, lambda: app.machine is not None)
        await pilot.press(KEY["pythons"])
        await _until(pilot, lambda: app.screen.query_one("#table", DataTable).row_count == 2)
        await pilot.press("U")
        await _until(pilot, lambda: any("Nothing to delete" in n.message for n in app._notifications), timeout=60)
        said = next(n.message for n in app._notifications if "Nothing to delete" in n.message)
        assert "not handed to uv: uv does not report" in said
        assert not isinstance(app.screen, ConfirmPrune)
        assert sorted(p.name for p in pydir.iterdir()) == ["cpython-3.11.9-linux-x86_64-gnu", "cpython-3.12.1-linux-x86_64-gnu"]


async def test_the_delete_dialog_stays_open_while_it_runs_and_ends_with_what_it_freed(world) -> None:
    """Beside the cache the plan runs in its dialog (uv uninstalling takes seconds): its own
    footer, then the bytes freed as measured; enter closes it."""
    app, cache, roots = world
    async with app.run_test(size=(80, 24)) as pilot:
        await _until(pilot, lambda: app.machine_usage is not None)
        await pilot.press(KEY["projects"])
        await _until(pilot, lambda: app.screen.query_one("#table", DataTable).row_count == 2)
        await pilot.press("d")
        await _until(pilot, lambda: isinstance(app.screen, ConfirmPrune) and app.screen.shown is not None)
        dialog = app.screen
        await pilot.press("enter")
        await _until(pilot, lambda: dialog.state == "done")
        assert app.screen is dialog and not (roots / "alpha" / ".venv").exists()
        title = str(dialog.query_one("#confirm-prune-title").render())
        assert title.startswith("Deleted 1 of 1: freed") and "measured" in title and f"{dialog.shown.bytes_freed:,}" in title
        await pilot.press("enter")
        await _until(pilot, lambda: app.screen is not dialog)


async def test_pythons_tools_and_projects_are_measured_even_when_the_cache_walk_crashes(world, monkeypatch) -> None:
    # Their measure waits for the cache's walk to reuse its links; a walk that raised (not an
    # OSError: a bug, a crashed walker) left it waiting for ever, and "rescanning…" never ended.
    import envtui.app as app_module

    def crashed(*args, **kwargs):
        raise RuntimeError("the walker crashed")

    monkeypatch.setattr(app_module, "scan_disk", crashed)
    app, cache, roots = world
    async with app.run_test(size=(160, 40)) as pilot:
        await _until(pilot, lambda: app.machine_usage is not None, timeout=20)
        assert app.fresh_disk[1] is None  # measured by a walk of their own
        await _until(pilot, lambda: not app.scanning, timeout=20)
