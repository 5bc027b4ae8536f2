"""`envtui rebuild` through real uv, offline: the rebuilt entry is the one uv looks for next."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from envtui.core import CacheLocation, scan_inventory
from envtui.core.rebuild import rebuild, recipe_for
from envtui.core.prune import remove_path

pytestmark = pytest.mark.integration


@pytest.fixture(autouse=True)
def _own_state_dir(tmp_path, monkeypatch):
    """envtui remembers scripts in its state directory: keep each test's apart (and off $HOME)."""
    monkeypatch.setenv("ENVTUI_STATE_DIR", str(tmp_path / "envtui-state"))


def _inv(rc):
    return scan_inventory(CacheLocation(rc.root, "--cache-dir"), known_scripts=[str(s) for s in rc.scripts])


def test_cached_environment_is_recreated_under_the_same_key(real_cache_copy):
    rc = real_cache_copy
    env = next(e for e in _inv(rc).environments if {p.name for p in e.packages} == {"tinytool", "helperlib"})
    old_target = env.link_target
    lines: list[str] = []
    result = rebuild(_inv(rc), env, lines.append, uv=rc.cache.uv, env=rc.cache.env)
    assert result.ok, (result.message, lines)
    assert any(line.startswith("$ ") and "--with helperlib==0.1" in line for line in lines)
    assert os.path.realpath(env.path) != os.path.realpath(old_target)  # a new archive entry
    assert not old_target.exists()
    # The next uvx finds it: nothing is installed.
    run = rc.cache.uvx("tinytool", python=rc.pythons[0], with_=("helperlib",))
    assert "Installed" not in run.stderr, run.stderr


def test_script_environment_rebuilt_with_uv_sync(real_cache_copy):
    rc = real_cache_copy
    script = rc.scripts[-1]
    env = next(e for e in _inv(rc).environments if e.script == str(script))
    lines: list[str] = []
    result = rebuild(_inv(rc), env, lines.append, uv=rc.cache.uv, env=rc.cache.env)
    assert result.ok, (result.message, lines)
    assert lines[0] == f"$ {rc.cache.uv} sync --script {script}"
    run = rc.cache.run("run", "--offline", str(script))
    assert "Installed" not in run.stderr and "uses_helper" in run.stdout


def test_interpreter_entry_queried_again_shows_what_changed(real_cache_copy):
    rc = real_cache_copy
    entry = next(e for e in _inv(rc).interpreters if e.executable == rc.pythons[0] or e.key_source)
    lines: list[str] = []
    result = rebuild(_inv(rc), entry, lines.append, uv=rc.cache.uv, env=rc.cache.env)
    assert result.ok, (result.message, lines)
    changes = {f: (a, b) for f, a, b in result.changes}
    assert changes["status"][1] == "fresh"
    assert changes["version"] == (entry.version, entry.version)
    assert entry.path.exists()


def test_unknown_script_cannot_be_rebuilt_and_nothing_is_deleted(real_cache_copy):
    rc = real_cache_copy
    inv = scan_inventory(CacheLocation(rc.root, "--cache-dir"))  # no known scripts
    env = next(e for e in inv.environments if e.kind == "script")
    recipe = recipe_for(env, rc.cache.uv)
    assert recipe.argv == () and "script roots" in recipe.problem
    proc = subprocess.run(
        [sys.executable, "-m", "envtui", "rebuild", env.key, "--cache-dir", str(rc.root), "--script-roots", str(rc.root)],
        capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 1 and "its script is not known" in proc.stdout
    assert env.path.is_dir()


def test_recreated_venv_interpreter_entry_shows_the_version_change(real_cache_copy, tmp_path):
    """The bug behind these keys: a .venv recreated over another Python. Rebuilding the old entry
    queries the path again and shows the version and prefix it now has."""
    rc = real_cache_copy
    versions = {}
    for py in rc.pythons:
        versions.setdefault(subprocess.run([py, "-c", "import platform; print(platform.python_version())"],
                                           capture_output=True, text=True).stdout.strip(), py)
    if len(versions) < 2:
        pytest.skip("needs two Python versions")
    (old_version, old_py), (new_version, new_py) = list(versions.items())[:2]
    venv = tmp_path / "proj" / ".venv"
    subprocess.run([old_py, "-m", "venv", "--without-pip", str(venv)], check=True)
    rc.cache.run("python", "find", str(venv / "bin" / "python"))
    remove_path(venv)
    subprocess.run([new_py, "-m", "venv", "--without-pip", str(venv)], check=True)
    old = next(e for e in _inv(rc).interpreters if e.executable == str(venv / "bin" / "python"))
    assert old.version == old_version
    lines: list[str] = []
    result = rebuild(_inv(rc), old, lines.append, uv=rc.cache.uv, env=rc.cache.env)
    assert result.ok, (result.message, lines)
    changes = {f: (a, b) for f, a, b in result.changes}
    assert changes["version"] == (old_version, new_version)
    assert not old.path.exists() or changes["path"][0] == changes["path"][1]


# -- nothing is deleted before uv has shown it can build the replacement --------------------------


@pytest.fixture
def lone_cache(tmp_path, monkeypatch):
    """A cache of its own with a wheelhouse of its own (the tests delete wheels from both), holding
    one cached environment: ``uvx --with helperlib tinytool``."""
    from envtui.demo.wheels import make_wheel
    from tests.uvcache import UvCache

    house = tmp_path / "wheels"
    make_wheel(house, "tinytool", "1.0")
    make_wheel(house, "helperlib", "0.1", console_script=False)
    work = tmp_path / "work"
    work.mkdir()
    cache = UvCache(root=tmp_path / "cache", workdir=work, wheelhouse=house)
    cache.uvx("tinytool", with_=("helperlib",))
    return cache


def _only_cached(cache):
    inv = scan_inventory(CacheLocation(cache.root, "--cache-dir"))
    [env] = [e for e in inv.environments if e.kind == "cached"]
    return inv, env


def _works(env) -> bool:
    run = subprocess.run([str(env.path / "bin" / "python"), "-c", "import helperlib, tinytool; tinytool.main()"],
                         capture_output=True, text=True, timeout=60)
    return run.returncode == 0 and run.stdout == "tinytool 1.0\n"


def test_a_rebuild_uv_cannot_do_offline_keeps_the_working_environment(lone_cache, tmp_path, monkeypatch):
    """The wheel is gone from the wheelhouse and from the cache: uv cannot build the environment
    again, so the one that works must stay (it used to be deleted first, leaving nothing)."""
    import tempfile

    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    (lone_cache.wheelhouse / "helperlib-0.1-py3-none-any.whl").unlink()
    lone_cache.run("cache", "clean", "helperlib")
    inv, env = _only_cached(lone_cache)
    assert _works(env)
    lines: list[str] = []
    result = rebuild(inv, env, lines.append, uv=lone_cache.uv, env=lone_cache.env)
    assert not result.ok and result.returncode is None
    assert result.message.startswith(f"not rebuilt, {env.path} kept: uv cannot build it: ")
    assert "helperlib" in result.message and "not found" in result.message  # uv's own reason
    assert any(line.startswith("[proof] $ ") and " pip install " in line for line in lines)
    assert not any(line.startswith("deleted ") for line in lines)
    assert os.path.realpath(env.path) == os.path.realpath(env.link_target) and _works(env)
    # The build aside was made outside the cache, and removed.
    assert any(f" {scratch}/envtui-rebuild-" in line for line in lines) and os.listdir(scratch) == []


def test_envtui_rebuild_exits_1_with_uvs_reason_and_the_environment_stays(lone_cache):
    (lone_cache.wheelhouse / "helperlib-0.1-py3-none-any.whl").unlink()
    lone_cache.run("cache", "clean", "helperlib")
    _, env = _only_cached(lone_cache)
    proc = subprocess.run(
        [sys.executable, "-m", "envtui", "rebuild", env.key, "--cache-dir", str(lone_cache.root), "--uv", lone_cache.uv],
        capture_output=True, text=True, timeout=300, env=lone_cache.env,
    )
    assert proc.returncode == 1, proc.stderr
    assert "kept: uv cannot build it" in proc.stdout and "helperlib" in proc.stdout
    assert _works(env)


def test_a_rebuild_uv_can_do_offline_replaces_it_under_the_same_key(lone_cache):
    inv, env = _only_cached(lone_cache)
    lines: list[str] = []
    result = rebuild(inv, env, lines.append, uv=lone_cache.uv, env=lone_cache.env)
    assert result.ok, (result.message, lines)
    proof = [i for i, line in enumerate(lines) if line.startswith("[proof] $ ")]
    deleted = lines.index(f"deleted {env.path}")
    assert len(proof) == 2 and proof[-1] < deleted  # proven before deleting
    _, again = _only_cached(lone_cache)
    assert again.key == env.key and again.link_target != env.link_target and _works(again)


def test_a_hostile_dist_info_name_never_reaches_uv(lone_cache, tmp_path):
    """The case of the issue: a dist-info ``Name: tinytool @ file:///…`` became ``--from
    "tinytool @ file:///…==1.0"`` and uv ran that tree's build backend."""
    evil = tmp_path / "evil"
    evil.mkdir()
    (evil / "pyproject.toml").write_text('[build-system]\nrequires = []\nbuild-backend = "backend"\nbackend-path = ["."]\n')
    (evil / "backend.py").write_text(f"open({str(tmp_path / 'ran')!r}, 'w').write('ran')\n")
    _, env = _only_cached(lone_cache)
    [meta] = (env.link_target / "lib").glob("python*/site-packages/tinytool-1.0.dist-info/METADATA")
    meta.write_text(meta.read_text().replace("Name: tinytool", f"Name: tinytool @ {evil.as_uri()}"))
    inv, env = _only_cached(lone_cache)
    recipe = recipe_for(env, lone_cache.uv)
    assert recipe.argv == () and "distribution name" in recipe.problem
    proc = subprocess.run(
        [sys.executable, "-m", "envtui", "rebuild", env.key, "--cache-dir", str(lone_cache.root), "--uv", lone_cache.uv],
        capture_output=True, text=True, timeout=300, env=lone_cache.env,
    )
    assert proc.returncode == 1 and "distribution name" in proc.stdout
    assert not (tmp_path / "ran").exists() and _works(env)
