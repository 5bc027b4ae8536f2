"""What a rebuild would run, from records whose names came off the disk (fast: uv never runs)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from envtui.core.environments import CACHED, OK, SCRIPT, Distribution, Environment
from envtui.core.interpreters import InterpreterEntry
from envtui.core.rebuild import Recipe, _command_clash, recipe_for, tool_bin_dir
from envtui.core.tools import read_tool


def _cached(tmp_path: Path, packages, tool="tinytool", **kw) -> Environment:
    target = tmp_path / "archive-v0" / "abc"
    (target / "lib" / "python3.11" / "site-packages").mkdir(parents=True, exist_ok=True)
    fields = dict(kind=CACHED, path=tmp_path / "environments-v2" / "i" / "r", key="i/r", status=OK, link_target=target,
                  interpreter=sys.executable, packages=tuple(Distribution(n, v) for n, v in packages), tool=tool,
                  bucket_version=2)
    fields.update(kw)
    return Environment(**fields)


def test_a_cached_environment_is_rebuilt_from_validated_pins_tool_first(tmp_path):
    env = _cached(tmp_path, [("helperlib", "0.1"), ("TinyTool", "v1.0"), ("zlib-ng", "2.0.0")], tool="tinytool")
    recipe = recipe_for(env, "uv")
    assert recipe.problem is None and recipe.delete_first
    assert recipe.argv == ("uv", "tool", "run", "--python", sys.executable, "--from", "TinyTool==1.0",
                           "--with", "helperlib==0.1", "--with", "zlib-ng==2.0.0", "python", "-c", "")
    assert recipe.pins == ("TinyTool==1.0", "helperlib==0.1", "zlib-ng==2.0.0") and recipe.python == sys.executable
    assert "uv venv + uv pip install TinyTool==1.0 helperlib==0.1 zlib-ng==2.0.0" in recipe.proof
    assert recipe.steps() == (f"build aside: {recipe.proof}",
                              f"delete {env.path} (checked like a prune: not if in use or locked)",
                              "run: " + " ".join(recipe.argv[:-1]) + " ''")


@pytest.mark.parametrize("name, version, why", [
    ("cowsay @ file:///tmp/evil", "6.1", "distribution name"),
    ("--from", "1.0", "distribution name"),
    ("-x", "1.0", "distribution name"),
    ("a==1; os_name", "1.0", "distribution name"),
    ("", "1.0", "distribution name"),
    ("helper\nlib", "1.0", "distribution name"),
    ("helperlib", "1.0 @ file:///tmp/evil", "version"),
    ("helperlib", "1.0; os_name == 'nt'", "version"),
    ("helperlib", "1.0\n", "version"),
    ("helperlib", "", "version"),
    ("helperlib", "latest", "version"),
])
def test_a_distribution_whose_metadata_would_not_be_read_as_meant_refuses_the_rebuild(tmp_path, name, version, why):
    env = _cached(tmp_path, [("tinytool", "1.0"), (name, version)])
    recipe = recipe_for(env, "uv")
    assert recipe.argv == () and not recipe.delete_first
    assert recipe.problem.startswith("its distribution metadata does not make a pin uv would read as meant")
    assert why in recipe.problem


def test_the_tool_itself_with_a_hostile_name_refuses_too(tmp_path):
    env = _cached(tmp_path, [("cowsay @ file:///tmp/evil", "6.1")], tool="cowsay @ file:///tmp/evil")
    assert "distribution name" in recipe_for(env, "uv").problem


def test_a_distribution_twice_or_a_missing_tool_refuses(tmp_path):
    twice = _cached(tmp_path, [("tinytool", "1.0"), ("Helper_Lib", "1"), ("helper-lib", "2")])
    assert recipe_for(twice, "uv").problem == "it holds helper-lib twice"
    missing = _cached(tmp_path, [("helperlib", "1.0")], tool="tinytool")
    assert recipe_for(missing, "uv").problem == "its tool 'tinytool' is not among its distributions"


def test_a_distribution_installed_from_a_url_refuses(tmp_path):
    env = _cached(tmp_path, [("tinytool", "1.0")])
    di = env.link_target / "lib" / "python3.11" / "site-packages" / "tinytool-1.0.dist-info"
    di.mkdir()
    (di / "direct_url.json").write_text('{"url": "file:///tmp/evil"}')
    assert "installed from a URL or path" in recipe_for(env, "uv").problem


@pytest.mark.parametrize("interpreter", [None, "relative/python", "/nonexistent/python"])
def test_an_unknown_relative_or_gone_interpreter_refuses(tmp_path, interpreter):
    env = _cached(tmp_path, [("tinytool", "1.0")], interpreter=interpreter)
    assert "base interpreter is unknown or gone" in recipe_for(env, "uv").problem


def test_a_script_environment_gets_its_absolute_script(tmp_path, monkeypatch):
    script = tmp_path / "s.py"
    script.write_text("")
    monkeypatch.chdir(tmp_path)
    env = Environment(SCRIPT, tmp_path / "env", "s-1", OK, script="s.py")
    recipe = recipe_for(env, "uv")
    assert recipe.argv == ("uv", "sync", "--script", str(script)) and not recipe.delete_first and recipe.proof is None
    assert recipe.steps() == (f"run: uv sync --script {script}",)


def test_an_interpreter_entry_is_proven_with_a_throwaway_cache(tmp_path):
    entry = InterpreterEntry(path=tmp_path / "x.msgpack", bucket_version=5, shard="s", key="k", status="fresh", shard_current=True,
                             executable=sys.executable)
    recipe = recipe_for(entry, "uv")
    assert recipe.argv == ("uv", "python", "find", sys.executable) and recipe.delete_first
    assert "--no-cache" in recipe.proof and recipe.python == sys.executable
    relative = InterpreterEntry(path=tmp_path / "x.msgpack", bucket_version=5, shard="s", key="k", status="fresh", shard_current=True,
                                executable="python3")
    assert "is gone" in recipe_for(relative, "uv").problem


def _tool(tmp_path: Path, name: str, receipt: str):
    path = tmp_path / "tools" / name
    path.mkdir(parents=True)
    (path / "uv-receipt.toml").write_text(receipt)
    return read_tool(path)


def test_a_tools_bin_dir_is_where_all_its_commands_are(tmp_path):
    one = _tool(tmp_path, "a", '[tool]\nentrypoints = [{ name = "a", install-path = "/b/a" }, { name = "x", install-path = "/b/x" }]\n')
    assert tool_bin_dir(one) == "/b"
    two = _tool(tmp_path, "b", '[tool]\nentrypoints = [{ name = "a", install-path = "/b/a" }, { name = "x", install-path = "/c/x" }]\n')
    assert tool_bin_dir(two) is None
    assert tool_bin_dir(_tool(tmp_path, "c", "[tool]\n")) is None


def test_a_command_that_belongs_to_something_else_is_a_clash(tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    old = _tool(tmp_path, "tinytool", f'[tool]\nentrypoints = [{{ name = "tinytool", install-path = "{bin_dir}/tinytool" }}]\n')
    proven = _tool(tmp_path / "proof", "tinytool", '[tool]\nentrypoints = [{ name = "tinytool", install-path = "/t/tinytool" }, '
                   '{ name = "helper", install-path = "/t/helper" }]\n')
    (bin_dir / "tinytool").write_text("")  # its own: replaced by uv
    assert _command_clash(proven.path, old, str(bin_dir)) is None
    os.symlink("nowhere", bin_dir / "helper")  # a dangling link is still in the way
    assert _command_clash(proven.path, old, str(bin_dir)) == f"{bin_dir}/helper exists and is not one of tinytool's commands"
    assert _command_clash(proven.path, old, None) is None


def test_recipes_say_their_steps_in_order():
    r = Recipe("tool", Path("/t"), ("uv", "tool", "install", "--", "x y"), proof="p")
    assert r.steps() == ("build aside: p", "run: uv tool install -- 'x y'")
