"""What lies beside the cache, deleted through the one pipeline, tried as a hostile user would on
managed Pythons and tools real uv lists (offline; Pythons copied from pyenv's): a venv outside the
roots keeps its Python, a directory named like a request is never handed to uv, a tool directory
named like an option never reaches uv's command line, and uv's own answer is checked afterwards."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.test_machine_uv import PYENV, Machine, _copy_python, _key

pytestmark = pytest.mark.integration


@pytest.fixture
def world(tmp_path, wheelhouse) -> Machine:
    m = Machine(tmp_path, wheelhouse)
    m.roots.mkdir()
    return m


def _listed(m: Machine) -> set[str]:
    out = m.run_uv("python", "list", "--only-installed", "--output-format", "json").stdout
    return {p["key"] for p in json.loads(out)}


def _have(*versions: str) -> None:
    for v in versions:
        if not (PYENV / v / "bin" / "python3").exists():
            pytest.skip(f"needs pyenv's CPython {v} to make a managed Python from")


def test_a_python_only_a_venv_outside_the_roots_runs_on_is_kept(world):
    _have("3.12.1", "3.10.13")
    _copy_python("3.12.1", world.pythons / _key("3.12.1"))
    _copy_python("3.10.13", world.pythons / _key("3.10.13"))
    # A project far from the roots, made and run by uv on the managed 3.10: uv's interpreter
    # query of its .venv is all that ties the two together.
    far = world.base / "elsewhere" / "app"
    far.mkdir(parents=True)
    (far / "pyproject.toml").write_text('[project]\nname = "app"\nversion = "1"\nrequires-python = ">=3.8"\ndependencies = []\n')
    world.run_uv("sync", "--python", "3.10", cwd=far)
    world.run_uv("run", "python", "-c", "pass", cwd=far)  # used: uv queries the .venv's interpreter now
    proc = world.envtui("prune", "--unused-pythons", "--roots", str(world.roots), "--yes", "--json")
    doc = json.loads(proc.stdout)["pythons"]
    assert [e["label"] for e in doc["entries"]] == [_key("3.12.1")]
    kept = {Path(s["path"]).name: s["reason"] for s in doc["skipped"]}
    assert str(far / ".venv") in kept[_key("3.10.13")], kept
    assert _listed(world) >= {_key("3.10.13")} and _key("3.12.1") not in _listed(world)
    ran = subprocess.run([str(far / ".venv" / "bin" / "python"), "-c", "print(1)"], capture_output=True, text=True)
    assert ran.returncode == 0 and ran.stdout.strip() == "1"
    assert any(line.startswith("note: a virtual environment outside the roots is seen only once uv has run in it") for line in
               world.envtui("prune", "--unused-pythons", "--roots", str(world.roots), "--dry-run").stdout.splitlines())


def test_a_python_directory_named_like_a_request_is_never_handed_to_uv(world):
    _have("3.12.1")
    _copy_python("3.12.1", world.pythons / _key("3.12.1"))
    # A real directory named as a request: uv lists the Python in it under its own key, and
    # `uv python uninstall cpython-3.12-linux-x86_64-gnu` would remove every 3.12.
    _copy_python("3.12.1", world.pythons / "cpython-3.12-linux-x86_64-gnu")
    os.unlink(world.pythons / "cpython-3.12-linux-x86_64-gnu" / "lib")
    (world.pythons / "cpython-3.12-linux-x86_64-gnu" / "lib").symlink_to(PYENV / "3.12.1" / "lib")
    user = world.base / "user"
    world.run_uv("venv", "--python", str(world.pythons / _key("3.12.1") / "bin" / "python3"), str(user))
    before = sorted(p.name for p in world.pythons.iterdir())
    out = world.envtui("prune", "--unused-pythons", "--roots", str(world.base), "--yes", "--json", check=False)
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)["pythons"]
    assert doc["entries"] == []
    why = {Path(s["path"]).name: s["reason"] for s in doc["skipped"]}
    assert why["cpython-3.12-linux-x86_64-gnu"].startswith("not handed to uv"), why
    assert sorted(p.name for p in world.pythons.iterdir()) == before
    assert subprocess.run([str(user / "bin" / "python"), "-c", "pass"]).returncode == 0


def test_a_tool_directory_named_like_an_option_never_reaches_uv(world):
    (world.tools / "--all").mkdir(parents=True)
    (world.tools / "--all" / "uv-receipt.toml").write_text('[tool]\nrequirements = [{ name = "tinytool" }]\n')
    world.run_uv("tool", "install", "--python-preference", "system", "--python", sys.executable, "tinytool")
    refused = world.envtui("prune", "--tool=--all", "--yes", check=False)
    assert refused.returncode == 2 and "not a valid package name: '--all'" in refused.stderr
    assert (world.tools / "tinytool").exists() and (world.tools / "--all").exists()
    # Named by hand into a plan, it is skipped, and the real tool goes alone.
    from envtui.core.prune import execute_plan
    from envtui.core.prune.machine import plan_tool_uninstall
    from envtui.core.tools import scan_tools
    from envtui.core.uvcli import installed_tools

    env = world.env
    installed = installed_tools(world.uv.uv, world.tools, env)
    assert installed == ["tinytool"]
    plan = plan_tool_uninstall(scan_tools(world.tools), world.uv.uv, tool_dir=world.tools, cache_root=world.uv.root,
                               installed=installed)
    assert [e.label for e in plan.entries] == ["tinytool"] and plan.skipped[0].path.name == "--all"
    result = execute_plan(plan, environ=env)
    assert result.complete, result.errors
    assert not (world.tools / "tinytool").exists() and (world.tools / "--all" / "uv-receipt.toml").exists()
