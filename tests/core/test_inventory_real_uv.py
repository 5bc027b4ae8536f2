"""The inventory of caches that real uv made, checked against what uv itself reports."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from envtui.core import CacheLocation, scan_inventory, script_environment_name


def _scan(root: Path, scripts=()):
    return scan_inventory(CacheLocation(root, "--cache-dir"), known_scripts=[str(s) for s in scripts])


def test_every_environment_listed_and_keyed(real_cache):
    inv = _scan(real_cache.root, real_cache.scripts)
    bucket = real_cache.root / "environments-v2"
    on_disk = set()
    for entry in bucket.iterdir():
        if (entry / "pyvenv.cfg").exists() and not entry.is_symlink():
            on_disk.add(entry.name)
        elif entry.is_dir():
            on_disk |= {f"{entry.name}/{link.name}" for link in entry.iterdir() if not link.name.endswith(".lock")}
    assert {e.key for e in inv.environments} == on_disk
    scripts = [e for e in inv.environments if e.kind == "script"]
    assert len(scripts) == len(real_cache.scripts)
    # Every script environment is traced to its script, and every cached one to its interpreter.
    assert {e.script for e in scripts} == {str(s) for s in real_cache.scripts}
    cached = [e for e in inv.environments if e.kind == "cached"]
    assert len(cached) == 4
    assert all(e.interpreter for e in cached), [e.key for e in cached if not e.interpreter]
    assert {e.tool for e in cached} == {"tinytool", "bigtool"}
    with_helper = [e for e in cached if {p.name for p in e.packages} == {"tinytool", "helperlib"}]
    assert len(with_helper) == 1 and with_helper[0].tool == "tinytool"


def test_script_environment_matches_uv_python_find(real_cache):
    inv = _scan(real_cache.root, real_cache.scripts)
    by_script = {e.script: e for e in inv.environments if e.kind == "script"}
    for script in real_cache.scripts:
        found = real_cache.cache.run("python", "find", "--script", str(script)).stdout.strip()
        env = by_script[str(script)]
        assert Path(found) == env.python
        assert Path(found).parent.parent == env.path
        assert env.path.name == script_environment_name(script)


def test_interpreter_entries_decoded_and_keys_verified(real_cache):
    inv = _scan(real_cache.root)
    files = sorted(real_cache.root.glob("interpreter-v*/*/*.msgpack"))
    assert len(inv.interpreters) == len(files) > 0
    for e in inv.interpreters:
        assert e.status == "fresh", (e.path, e.status, e.error)
        assert e.key_verified, e.path
        assert e.shard_current
        assert e.version and e.executable and e.sys_prefix
    # Each base interpreter the tests used is there, with the version it reports itself.
    for py in real_cache.pythons:
        version = subprocess.run([py, "-c", "import platform; print(platform.python_version())"],
                                 capture_output=True, text=True, check=True).stdout.strip()
        real = os.path.realpath(py)
        matching = [e for e in inv.interpreters if e.canonical == real and e.sys_prefix == e.base_prefix]
        assert matching, f"no interpreter entry for {py}"
        assert all(e.version == version for e in matching)


def test_ls_json_shape(real_cache):
    proc = subprocess.run(
        [sys.executable, "-m", "envtui", "ls", "--json", "--cache-dir", str(real_cache.root),
         "--script-roots", str(real_cache.cache.workdir)],
        capture_output=True, text=True, check=True,
    )
    doc = json.loads(proc.stdout)
    assert doc["cache_dir"] == str(real_cache.root)
    for e in doc["interpreters"]:
        assert {"key", "shard", "executable", "version", "implementation", "sys_prefix", "status", "key_verified"} <= e.keys()
    kinds = {e["kind"] for e in doc["environments"]}
    assert kinds == {"script", "cached"}
    for e in doc["environments"]:
        assert {"kind", "path", "key", "python_version", "interpreter", "packages", "script", "link_target"} <= e.keys()
        assert all(set(p) == {"name", "version"} for p in e["packages"])
        if e["kind"] == "cached":
            assert e["link_target"] and e["interpreter"]
        else:
            assert e["link_target"] is None and e["script"]


def test_path_command_equals_uv(real_cache, tmp_path):
    for script in real_cache.scripts:
        # Relative to the working directory, as a user types it.
        rel = os.path.relpath(script, real_cache.cache.workdir)
        out = subprocess.run(
            [sys.executable, "-m", "envtui", "path", "--python", "--cache-dir", str(real_cache.root), rel],
            capture_output=True, text=True, check=True, cwd=real_cache.cache.workdir,
        )
        found = real_cache.cache.run("python", "find", "--script", rel).stdout.strip()
        assert out.stdout.strip() == found
        assert out.stderr == ""


def test_path_command_for_a_script_not_yet_run(uv_cache):
    script = uv_cache.write_script("later/new_script.py")
    out = subprocess.run(
        [sys.executable, "-m", "envtui", "path", "--cache-dir", str(uv_cache.root), str(script)],
        capture_output=True, text=True, check=True,
    )
    assert "does not exist yet" in out.stderr
    uv_cache.run_script(script)
    found = uv_cache.run("python", "find", "--script", str(script)).stdout.strip()
    assert out.stdout.strip() == str(Path(found).parent.parent)


def _version(py: str) -> str:
    return subprocess.run([py, "-c", "import platform; print(platform.python_version())"],
                          capture_output=True, text=True, check=True).stdout.strip()


def _two_versions(pythons: list[str]) -> tuple[str, str]:
    by_version = {}
    for py in pythons:
        by_version.setdefault(_version(py), py)
    if len(by_version) < 2:
        pytest.skip(f"needs two Python versions; this machine has only {sorted(by_version)}")
    (va, a), (vb, b) = list(by_version.items())[:2]
    return a, b


def test_recreated_venv_keeps_answers_apart(uv_cache, pythons):
    """The bug behind interpreter keys: a `.venv/bin/python` recreated over another Python must
    not read the old answer. uv keys by (absolute, canonical); envtui shows both entries, the old
    one stale and explained, the new one fresh with the new version."""
    a, b = _two_versions(pythons)
    venv = uv_cache.workdir / "proj" / ".venv"
    exe = venv / "bin" / "python"
    uv_cache.run("venv", "--python", a, str(venv))
    assert uv_cache.run("python", "find", str(exe)).stdout.strip() == str(exe)
    shutil.rmtree(venv)
    uv_cache.run("venv", "--python", b, str(venv))
    uv_cache.run("python", "find", str(exe))
    inv = _scan(uv_cache.root)
    entries = [e for e in inv.interpreters if e.executable == str(exe)]
    assert len(entries) == 2
    assert all(e.key_verified for e in entries)
    by_status = {e.status: e for e in entries}
    assert by_status["fresh"].version == _version(b)
    assert by_status["stale"].version == _version(a)
    assert "now resolves to" in by_status["stale"].error


def test_cached_environments_across_interpreters(uv_cache, pythons):
    a, b = _two_versions(pythons)
    uv_cache.uvx("tinytool", python=a)
    uv_cache.uvx("tinytool", python=b)
    inv = _scan(uv_cache.root)
    cached = [e for e in inv.environments if e.kind == "cached"]
    assert len(cached) == 2
    assert len({e.interpreter_hash for e in cached}) == 2
    assert {e.interpreter for e in cached} == {os.path.realpath(a), os.path.realpath(b)}
    assert {e.python_version for e in cached} == {_version(a), _version(b)}


def test_deleted_venv_entry_is_missing(uv_cache, pythons):
    """uv looks an interpreter up by the path it was given: once a venv is deleted its entry can
    never be read again, although the base interpreter it resolved to still exists."""
    venv = uv_cache.workdir / "gone" / ".venv"
    uv_cache.run("venv", "--python", pythons[0], str(venv))
    uv_cache.run("python", "find", str(venv / "bin" / "python"))
    shutil.rmtree(venv)
    inv = _scan(uv_cache.root)
    entry = next(e for e in inv.interpreters if e.executable == str(venv / "bin" / "python"))
    assert entry.status == "missing"
    assert entry.key_verified and "is gone" in entry.error


def test_script_roots_option_leaves_positionals_alone(real_cache):
    script = real_cache.scripts[0]
    out = subprocess.run(
        [sys.executable, "-m", "envtui", "path", "--script-roots", str(real_cache.cache.workdir), str(script),
         "--cache-dir", str(real_cache.root)],
        capture_output=True, text=True, check=True,
    )
    assert out.stdout.strip() == str(real_cache.root / "environments-v2" / script_environment_name(script))
    joined = os.pathsep.join([str(script.parent), str(real_cache.cache.workdir / "dir with space")])
    doc = json.loads(subprocess.run(
        [sys.executable, "-m", "envtui", "--cache-dir", str(real_cache.root), "ls", "--json", "--script-roots", joined],
        capture_output=True, text=True, check=True,
    ).stdout)
    named = {e["script"] for e in doc["environments"] if e["script"]}
    assert named == {str(s) for s in real_cache.scripts if s.parent in (script.parent, real_cache.cache.workdir / "dir with space")}
