"""The command line says what happened, and only that: a script environment uv found in sync is
not "rebuilt", a deleted script is named as missing, a dangling link is one problem said once,
and bad arguments get a message that names them."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

from envtui.core import CacheLocation, scan_inventory

pytestmark = pytest.mark.integration


def envtui(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "envtui", *args], capture_output=True, text=True, timeout=120,
                          env=env)


def _uv_env(uv_cache) -> dict[str, str]:
    env = dict(uv_cache.env)
    env["PATH"] = os.path.dirname(uv_cache.uv) + os.pathsep + env["PATH"]
    return env


def test_rebuild_says_up_to_date_when_uv_installed_nothing_and_rebuilt_when_it_did(uv_cache):
    script = uv_cache.write_script("tools/needs_helper.py", deps=("helperlib",))
    uv_cache.run_script(script)
    env = _uv_env(uv_cache)
    proc = envtui("rebuild", str(script), "--cache-dir", str(uv_cache.root), env=env)
    assert proc.returncode == 0, proc.stderr
    assert "Checked 1 package" in proc.stderr  # what uv 0.13.9 prints for an environment in sync
    assert proc.stdout.startswith("already up to date") and "rebuilt" not in proc.stdout
    # Take helperlib out of the environment: now uv reinstalls it, and that is a rebuild.
    venv = next(e.path for e in scan_inventory(CacheLocation(uv_cache.root, "--cache-dir")).environments)
    for p in venv.glob("lib/python*/site-packages/helperlib*"):
        shutil.rmtree(p)
    proc = envtui("rebuild", str(script), "--cache-dir", str(uv_cache.root), env=env)
    assert proc.returncode == 0, proc.stderr
    assert "Installed 1 package" in proc.stderr
    assert proc.stdout.startswith(f"rebuilt {venv}")


def test_rebuilding_a_script_whose_file_is_gone_names_the_missing_file(uv_cache):
    script = uv_cache.write_script("gone/vanished.py")
    uv_cache.run_script(script)
    script.unlink()
    proc = envtui("rebuild", str(script), "--cache-dir", str(uv_cache.root), env=_uv_env(uv_cache))
    assert proc.returncode == 1
    assert f"its script file {script} is missing" in proc.stderr + proc.stdout
    assert "script roots" not in proc.stderr + proc.stdout


def test_a_dangling_link_is_one_problem_naming_link_and_target_printed_once(uv_cache):
    uv_cache.uvx("tinytool")
    link = next(uv_cache.root.glob("environments-v2/*/*[!k]"))
    target = os.path.normpath(link.parent / os.readlink(link))
    shutil.rmtree(target)
    proc = envtui("ls", "--cache-dir", str(uv_cache.root))
    assert proc.returncode == 0, proc.stderr
    problems = proc.stdout.split("problems:\n", 1)[1].splitlines()
    assert problems == [f"  {link}: dangling link: its target {target} is gone (`envtui prune --dangling` removes the link)"]


def test_max_size_that_is_not_a_size_is_a_one_line_error_naming_the_option(uv_cache):
    uv_cache.root.mkdir()
    proc = envtui("prune", "--max-size", "5X", "--dry-run", "--cache-dir", str(uv_cache.root))
    assert proc.returncode == 2
    assert proc.stderr.splitlines()[-1] == (
        "envtui prune: error: argument --max-size: not a size: '5X' (e.g. 500M, 5G, 2GiB)")


def test_path_of_a_directory_says_it_is_not_a_script(uv_cache, tmp_path):
    proc = envtui("path", str(tmp_path), "--cache-dir", str(uv_cache.root))
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert f"{tmp_path} is a directory, not a script" in proc.stderr
    assert "uv run" not in proc.stderr


def test_a_problem_with_a_file_inside_an_environment_names_the_file_once(uv_cache):
    script = uv_cache.write_script("s/garbled.py")
    uv_cache.run_script(script)
    venv = next(uv_cache.root.glob("environments-v2/garbled-*"))
    (venv / "pyvenv.cfg").write_text("no equals sign here\n")
    proc = envtui("ls", "--cache-dir", str(uv_cache.root))
    problems = proc.stdout.split("problems:\n", 1)[1].splitlines()
    assert problems == [f"  {venv / 'pyvenv.cfg'}: no 'key = value' lines"]
