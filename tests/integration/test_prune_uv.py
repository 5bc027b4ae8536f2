"""`envtui prune` on caches real uv made: what it deletes, what still runs offline afterwards,
and what it must never touch while uv or a uv-started program runs."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from envtui.core import CacheLocation, scan_inventory
from tests.uvcache import UvCache, make_wheel

pytestmark = pytest.mark.integration


@pytest.fixture(autouse=True)
def _own_state_dir(tmp_path, monkeypatch):
    """envtui remembers scripts in its state directory: keep each test's apart (and off $HOME)."""
    monkeypatch.setenv("ENVTUI_STATE_DIR", str(tmp_path / "envtui-state"))

SLEEPER_MAIN = """
import os, pathlib, time
def main():
    pathlib.Path(os.environ["SLEEPER_STARTED"]).write_text(str(os.getpid()))
    stop = pathlib.Path(os.environ["SLEEPER_STOP"])
    for _ in range(6000):  # a cap, so a failed test never leaves it behind for long
        if stop.exists():
            break
        time.sleep(0.05)
    print("sleeper done")
"""


def make_sleeper_wheel(outdir: Path) -> Path:
    """A wheel ``sleeper 1.0`` whose ``sleeper`` command writes its pid to ``$SLEEPER_STARTED``
    and then waits until ``$SLEEPER_STOP`` exists."""
    wheel = make_wheel(outdir, "sleeper", "1.0")
    import zipfile

    rebuilt = outdir / "tmp.whl"
    with zipfile.ZipFile(wheel) as src, zipfile.ZipFile(rebuilt, "w") as dst:
        for item in src.infolist():
            data = src.read(item)
            if item.filename == "sleeper/__init__.py":
                data = SLEEPER_MAIN.encode()
            if item.filename.endswith("RECORD"):
                continue
            dst.writestr(item, data)
        dst.writestr("sleeper-1.0.dist-info/RECORD", "")
    rebuilt.replace(wheel)
    return wheel


def envtui(root: Path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "envtui", "prune", "--cache-dir", str(root), *args],
        capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL, env=env,
    )


def du(root: Path) -> int:
    return int(subprocess.run(["du", "-sB1", str(root)], capture_output=True, text=True, check=True).stdout.split()[0])


def tree(root: Path) -> dict[str, tuple[int, int]]:
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = os.path.join(dirpath, name)
            st = os.lstat(p)
            out[p] = (st.st_ino, st.st_mtime_ns)
    return out


def _inventory(rc):
    return scan_inventory(CacheLocation(rc.root, "--cache-dir"), known_scripts=[str(s) for s in rc.scripts])


def test_dry_run_lists_and_deletes_nothing(real_cache_copy):
    root = real_cache_copy.root
    before = tree(root)
    proc = envtui(root, "--older-than", "0", "--unreferenced", "--dangling", "--interpreters", "--orphans", "--dry-run", "--json")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    envs = {e.path for e in _inventory(real_cache_copy).environments}
    assert {e["path"] for e in doc["entries"] if "environment" in e["kind"]} == {str(p) for p in envs}
    assert doc["bytes_freed"] > 0
    assert tree(root) == before


def test_prune_frees_the_predicted_bytes_and_kept_entries_run_offline(real_cache_copy):
    rc = real_cache_copy
    root = rc.root
    inv = _inventory(rc)
    kept_script = rc.scripts[-1]  # uses helperlib
    kept_script_env = next(e for e in inv.environments if e.script == str(kept_script))
    bigtool = next(e for e in inv.environments if e.tool == "bigtool")
    # Everything else looks a month old: --older-than 7 must take exactly that.
    old = 1_000_000_000
    for env in inv.environments:
        if env.path not in (kept_script_env.path, bigtool.path):
            os.utime(env.root / "pyvenv.cfg", (old, old))
    dry = json.loads(envtui(root, "--older-than", "7", "--unreferenced", "--dry-run", "--json").stdout)
    chosen = {e["path"] for e in dry["entries"] if "environment" in e["kind"]}
    assert chosen == {str(e.path) for e in inv.environments} - {str(kept_script_env.path), str(bigtool.path)}
    before = du(root)
    proc = envtui(root, "--older-than", "7", "--unreferenced", "--yes", "--json")
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert sorted(result["deleted"]) == sorted(e["path"] for e in dry["entries"])
    assert result["predicted_bytes"] == dry["bytes_freed"] == before - du(root) == result["measured_bytes"]
    # What was kept still runs offline, from the cache, installing nothing.
    run = rc.cache.run("run", "--offline", str(kept_script))
    assert "uses_helper" in run.stdout and "Installed" not in run.stderr, run.stderr
    tool = rc.cache.uvx("bigtool", python=rc.pythons[0])
    assert "bigtool 1.0" in tool.stdout and "Installed" not in tool.stderr, tool.stderr


@pytest.fixture
def sleeper_cache(real_cache_copy, tmp_path):
    """The copy of the real cache, with a wheelhouse that also holds ``sleeper``."""
    house = tmp_path / "wheelhouse"
    shutil.copytree(real_cache_copy.cache.wheelhouse, house)
    make_sleeper_wheel(house)
    return UvCache(root=real_cache_copy.root, workdir=real_cache_copy.cache.workdir, wheelhouse=house)


def test_running_uvx_program_is_never_broken(sleeper_cache, tmp_path):
    cache = sleeper_cache
    started, stop = tmp_path / "started", tmp_path / "stop"
    env = dict(cache.env, SLEEPER_STARTED=str(started), SLEEPER_STOP=str(stop))
    proc = subprocess.Popen([cache.uv, "tool", "run", "sleeper"], env=env, cwd=cache.workdir,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        while not started.exists():
            assert proc.poll() is None, proc.communicate()
            time.sleep(0.02)
        sleeper = next(e for e in scan_inventory(CacheLocation(cache.root, "x")).environments if e.tool == "sleeper")
        # uvx holds uv's root lock shared: without a choice, prune stops and says who holds it.
        busy = envtui(cache.root, "--older-than", "0", "--yes")
        assert busy.returncode == 3
        assert str(proc.pid) in busy.stderr and "tool run sleeper" in busy.stderr
        # Going on entry by entry skips the running program's environment, and archive entries.
        proc2 = envtui(cache.root, "--older-than", "0", "--unreferenced", "--yes", "--skip-in-use", "--json")
        assert proc2.returncode == 0, proc2.stderr
        result = json.loads(proc2.stdout)
        skipped = {s["path"]: s for s in result["skipped"]}
        assert str(sleeper.path) in skipped
        assert skipped[str(sleeper.path)]["reason"] == "in use by a running process"
        assert str(sleeper.path) not in result["deleted"] and result["deleted"]
        assert not any("archive-v0" in p for p in result["deleted"])
        assert os.path.isdir(sleeper.path)
    finally:
        stop.write_text("")
        out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert "sleeper done" in out


def test_orphan_when_a_script_envtui_has_seen_is_gone(uv_cache):
    script = uv_cache.write_script("scripts/going.py")
    uv_cache.run_script(script)
    kept = uv_cache.write_script("scripts/staying.py")
    uv_cache.run_script(kept)
    roots = ("--script-roots", str(uv_cache.workdir))
    first = json.loads(envtui(uv_cache.root, "--orphans", "--dry-run", "--json", *roots).stdout)
    assert first["entries"] == []
    script.unlink()  # now no script root can find it; envtui remembers it
    doc = json.loads(envtui(uv_cache.root, "--orphans", "--dry-run", "--json", *roots).stdout)
    [entry] = doc["entries"]
    assert entry["kind"] == "script environment"
    assert entry["reasons"] == [f"orphan: its script {script} is gone"]
