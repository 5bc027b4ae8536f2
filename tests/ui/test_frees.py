"""Every list of deletable things answers "what do I free?": its Frees column is what a plan of
that one row frees (planned through the core, bytes compared), sorting by Frees orders the rows
by it, and the header's arrow follows ``s``, ``S`` and header clicks, at 80x24 too."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from textual.widgets import DataTable

from envtui.app import EnvtuiApp
from envtui.core import CacheLocation
from envtui.core.prune.machine import plan_project_envs, plan_python_uninstall, plan_tool_uninstall
from envtui.core.prune.packages import plan_marked
from envtui.core.uvcli import PythonInstallation
from envtui.format import size
from envtui.screens.archive import BucketScreen
from envtui.screens.registry import SCREENS

from .helpers import header_text, settle, until
from .test_machine_screens import _until, world  # noqa: F401  (the fixture of the screens beside the cache)

KEY = {s.mode: s.key for s in SCREENS}


@pytest.fixture(autouse=True)
def _own_state_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("ENVTUI_STATE_DIR", str(tmp_path / "envtui-state"))


def _app(real_cache) -> EnvtuiApp:
    return EnvtuiApp(CacheLocation(real_cache.root, "--cache-dir"), known_scripts=[str(s) for s in real_cache.scripts])


def _cells(table: DataTable, column: str) -> dict[str, str]:
    """What the column shows, by row key (the entry's path, or the package's name)."""
    return {str(k.value): str(table.get_cell(k, column)).strip() for k in table.rows}


def _figures(screen, column: str = "frees") -> dict[str, int | None]:
    """The exact bytes behind a column, by row key, from the screen's rows."""
    return {r.key: r.sort.get(column) for r in screen.rows(screen.app.inventory)}


def _plan_of_one(inventory, record) -> int:
    plan = plan_marked(inventory, [record], exclusive=True)
    assert not plan.skipped, [s.reason for s in plan.skipped]
    return plan.bytes_freed


async def _list(app, pilot, key: str):
    await settle(pilot)
    await pilot.press(key)
    await settle(pilot)
    return app.screen, app.screen.query_one("#table", DataTable)


# -- the figures: a plan of each row frees what its Frees cell says ------------------------------------


async def test_environments_frees_what_a_plan_of_each_row_frees(real_cache) -> None:
    """Real uv installs by hardlink: the Frees of a cached environment is far below its Size,
    and it is the plan's figure, byte for byte."""
    app = _app(real_cache)
    async with app.run_test(size=(200, 50)) as pilot:
        screen, table = await _list(app, pilot, KEY["environments"])
        shown, exact, sizes = _cells(table, "frees"), _figures(screen), _figures(screen, "size")
        by_key = {str(e.path): e for e in app.inventory.environments}
        assert len(shown) == len(by_key) > 3
        for key, env in by_key.items():
            freed = _plan_of_one(app.inventory, env)
            assert exact[key] == freed, env.path
            assert shown[key] == size(freed), env.path
        assert any(exact[k] * 2 < sizes[k] for k in by_key)  # hardlinks: Size would mislead


async def test_interpreters_frees_what_a_plan_of_each_row_frees(real_cache) -> None:
    app = _app(real_cache)
    async with app.run_test(size=(200, 50)) as pilot:
        screen, table = await _list(app, pilot, KEY["interpreters"])
        shown, exact = _cells(table, "frees"), _figures(screen)
        assert len(shown) == len(app.inventory.interpreters) > 1
        for entry in app.inventory.interpreters:
            freed = _plan_of_one(app.inventory, entry)
            assert exact[str(entry.path)] == freed > 0 and shown[str(entry.path)] == size(freed), entry.path


async def test_archive_and_overview_frees_what_a_plan_of_each_row_frees(real_cache) -> None:
    app = _app(real_cache)
    async with app.run_test(size=(200, 50)) as pilot:
        screen, table = await _list(app, pilot, KEY["overview"])
        shown, exact = _cells(table, "frees"), _figures(screen)
        for bucket in app.inventory.buckets:
            plan = plan_marked(app.inventory, [bucket], exclusive=True)
            if bucket.kind == "bucket":
                assert not plan.skipped and exact[str(bucket.path)] == plan.bytes_freed > 0, bucket.dirname
                assert shown[str(bucket.path)] == size(plan.bytes_freed)
            else:  # a marker or a foreign entry: no plan ever deletes it
                assert plan.skipped and not plan.entries and shown[str(bucket.path)] == "—", bucket.dirname
        archive = next(b for b in app.inventory.buckets if b.dirname.startswith("archive-v"))
        await until(pilot, lambda: app.archive is not None)
        app.push_screen(BucketScreen(archive))
        await settle(pilot)
        screen, table = app.screen, app.screen.query_one("#table", DataTable)
        shown, exact = _cells(table, "frees"), _figures(screen)
        assert len(shown) == len(app.archive) > 3
        for entry in app.archive:
            freed = _plan_of_one(app.inventory, entry)
            assert exact[str(entry.path)] == freed and shown[str(entry.path)] == size(freed), entry.name


async def test_packages_frees_what_a_plan_of_each_row_frees(real_cache) -> None:
    app = _app(real_cache)
    async with app.run_test(size=(200, 50)) as pilot:
        screen, table = await _list(app, pilot, KEY["packages"])
        await until(pilot, lambda: table.row_count > 0 and app.disk is not None)
        await settle(pilot)
        shown = _cells(table, "frees")
        assert len(shown) == len(screen.packages) > 1
        for package in screen.packages:
            freed = _plan_of_one(app.inventory, package)
            assert package.freed == freed and shown[package.name] == size(freed), package.name


async def test_pythons_tools_and_projects_free_what_a_plan_of_each_row_frees(world) -> None:  # noqa: F811
    app, cache, roots = world
    pydir, tooldir = Path(os.environ["UV_PYTHON_INSTALL_DIR"]), Path(os.environ["UV_TOOL_DIR"])
    # A hardlink kept outside the roots: deleting alpha's .venv leaves its payload on disk.
    os.link(roots / "alpha" / ".venv" / "lib" / "payload.py", roots.parent / "kept-payload.py")
    async with app.run_test(size=(200, 50)) as pilot:
        await _until(pilot, lambda: app.machine_usage is not None)
        machine = app.machine

        await pilot.press(KEY["projects"])
        await _until(pilot, lambda: app.screen.query_one("#table", DataTable).row_count == 2)
        table = app.screen.query_one("#table", DataTable)
        screen, shown, on_disk = app.screen, _cells(table, "frees"), _cells(table, "size")
        for p in machine.projects:
            plan = plan_project_envs([(p.path, "p")], [roots], keep_out=[cache, pydir, tooldir])
            assert _figures(screen)[str(p.path)] == plan.bytes_freed and shown[str(p.path)] == size(plan.bytes_freed)
        alpha, beta = (str(roots / name / ".venv") for name in ("alpha", "beta"))
        assert _figures(screen)[beta] > 50000 > _figures(screen)[alpha] and shown[alpha] != on_disk[alpha]

        await pilot.press(KEY["tools"])
        await _until(pilot, lambda: app.screen.query_one("#table", DataTable).row_count == 1)
        screen, shown = app.screen, _cells(app.screen.query_one("#table", DataTable), "frees")
        (tool,) = machine.tools
        plan = plan_tool_uninstall([tool], "uv", tool_dir=tooldir, cache_root=cache, installed=[tool.name])
        assert plan.entries and _figures(screen)[str(tool.path)] == plan.bytes_freed and shown[str(tool.path)] == size(plan.bytes_freed)

        await pilot.press(KEY["pythons"])
        await _until(pilot, lambda: app.screen.query_one("#table", DataTable).row_count == 2)
        screen, shown = app.screen, _cells(app.screen.query_one("#table", DataTable), "frees")
        unused = next(p for p in machine.pythons if not p.environments)  # the other one runs the tool: kept
        reported = PythonInstallation(unused.key, unused.version, unused.path / "bin" / "python3.12", "cpython",
                                      "default", "linux-x86_64-gnu", directory=unused.path)
        plan = plan_python_uninstall(machine.pythons, "uv", python_dir=pydir, cache_root=cache, installed=[reported],
                                     keys=[unused.key])
        assert plan.entries and _figures(screen)[str(unused.path)] == plan.bytes_freed >= 4096
        assert shown[str(unused.path)] == size(plan.bytes_freed)


# -- the order and the arrow ------------------------------------------------------------------------


async def test_sorting_by_frees_orders_rows_by_it_and_the_arrow_follows(real_cache) -> None:
    app = _app(real_cache)
    async with app.run_test(size=(80, 24)) as pilot:
        screen, table = await _list(app, pilot, KEY["environments"])
        assert "Size ▼" in header_text(table) and "Frees ▼" not in header_text(table)
        while screen.sort_by != "frees":
            await pilot.press("s")
        await pilot.pause()
        exact = _figures(screen)
        order = [exact[str(k.value)] for k in table.rows]
        assert order == sorted(order, reverse=True) and len(set(order)) > 1
        assert "Frees ▼" in header_text(table) and "Size ▼" not in header_text(table)
        await pilot.press("S")
        await pilot.pause()
        assert [exact[str(k.value)] for k in table.rows] == sorted(order)
        assert "Frees ▲" in header_text(table)
        assert "by frees ▲" in str(screen.query_one("#status-line").render())


async def test_a_header_click_sorts_and_moves_the_arrow(real_cache) -> None:
    app = _app(real_cache)
    async with app.run_test(size=(200, 50)) as pilot:
        screen, table = await _list(app, pilot, KEY["environments"])
        columns = list(table.columns.values())
        frees = next(i for i, c in enumerate(columns) if c.key.value == "frees")
        x = sum(c.get_render_width(table) for c in columns[:frees]) + 2
        await pilot.click("#table", offset=(x, 0))
        await pilot.pause()
        assert screen.sort_by == "frees" and "Frees ▼" in header_text(table) and "Size ▼" not in header_text(table)
        exact = _figures(screen)
        order = [exact[str(k.value)] for k in table.rows]
        assert order == sorted(order, reverse=True)
        await pilot.click("#table", offset=(x, 0))
        await pilot.pause()
        assert "Frees ▲" in header_text(table)
        assert [exact[str(k.value)] for k in table.rows] == sorted(order)


@pytest.mark.parametrize("size_", [(80, 24), (200, 50)], ids=["80x24", "200x50"])
async def test_every_list_shows_its_sort_arrow_and_frees(world, size_) -> None:  # noqa: F811
    """At 80x24 too, each list's header has Frees and the arrow on the column it is sorted by;
    Pythons, tools and projects open by Frees, largest first (the cache's lists by size)."""
    app, _cache, _roots = world
    opens_by = {"overview": "On disk ▼", "environments": "Size ▼", "interpreters": "Size ▼", "packages": "On disk ▼",
                "pythons": "Frees ▼", "tools": "Frees ▼", "projects": "Frees ▼"}
    async with app.run_test(size=size_) as pilot:
        await _until(pilot, lambda: app.machine_usage is not None)
        for mode, header in opens_by.items():
            await pilot.press(KEY[mode])
            await _until(pilot, lambda: app.screen.query_one("#table", DataTable).row_count > 0)
            shown = header_text(app.screen.query_one("#table", DataTable))
            assert header in shown and "Frees" in shown, (mode, shown)
            if header.startswith("Frees"):
                exact = _figures(app.screen)
                order = [exact[str(k.value)] for k in app.screen.query_one("#table", DataTable).rows]
                assert order == sorted(order, reverse=True), mode
