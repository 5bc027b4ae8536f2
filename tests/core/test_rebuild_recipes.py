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
    # A dist-info without direct_url.json: installed from an index.
    (target / "lib" / "python3.11" / "site-packages" / "tinytool-1.0.dist-info").mkdir(parents=True, exist_ok=True)
    fields = dict(kind=CACHED, path=tmp_path / "environments-v2" / "i" / "r", key="i/r", status=OK, link_target=target,
                  interpreter=sys.executable, packages=tuple(Distribution(n, v) for n, v in packages), tool=tool,
                  bucket_version=2)
    fields.update(kw)
    return Environment(**fields)


def test_a_cached_environment_is_rebuilt_from_validated_pins_tool_first(tmp_path):
    env = _cached(tmp_path, [("helperlib", "0.1"), ("TinyTool", "v1.0"), ("zlib-ng", "2.0.0")], tool="tinytool")
    recipe = recipe_for(env, "uv")
    assert recipe == Recipe(
        "cached environment", env.path, ("uv", "tool", "run", "--python", sys.executable, "--from", "TinyTool==1.0",
                                         "--with", "helperlib==0.1", "--with", "zlib-ng==2.0.0", "python", "-c", ""),
        delete_first=True, proof="uv venv + uv pip install TinyTool==1.0 helperlib==0.1 zlib-ng==2.0.0 in a temporary "
        "directory outside the cache", pins=("TinyTool==1.0", "helperlib==0.1", "zlib-ng==2.0.0"), python=sys.executable)
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
    bad = version if why == "version" else name
    assert recipe_for(env, "uv") == Recipe("cached environment", env.path, problem=(
        f"its distribution metadata does not make a pin uv would read as meant: not a valid {why}: {bad!r}"))


def test_the_tool_itself_with_a_hostile_name_refuses_too(tmp_path):
    env = _cached(tmp_path, [("cowsay @ file:///tmp/evil", "6.1")], tool="cowsay @ file:///tmp/evil")
    assert recipe_for(env, "uv").problem.endswith("not a valid distribution name: 'cowsay @ file:///tmp/evil'")


def test_a_distribution_twice_or_a_missing_tool_refuses(tmp_path):
    twice = _cached(tmp_path, [("tinytool", "1.0"), ("Helper_Lib", "1"), ("helper-lib", "2")])
    assert recipe_for(twice, "uv") == Recipe("cached environment", twice.path, problem="it holds helper-lib twice")
    missing = _cached(tmp_path, [("helperlib", "1.0")], tool="TinyTool")
    assert recipe_for(missing, "uv") == Recipe("cached environment", missing.path,
                                               problem="its tool 'TinyTool' is not among its distributions")


def test_a_distribution_installed_from_a_url_refuses(tmp_path):
    env = _cached(tmp_path, [("tinytool", "1.0")])
    di = env.link_target / "lib" / "python3.11" / "site-packages" / "tinytool-1.0.dist-info"
    di.mkdir(exist_ok=True)
    (di / "direct_url.json").write_text('{"url": "file:///tmp/evil"}')
    assert recipe_for(env, "uv") == Recipe("cached environment", env.path, problem=(
        f"installed from a URL or path, which a version pin cannot reproduce: {di / 'direct_url.json'}"))


@pytest.mark.parametrize("interpreter", [None, "", "python", "/nonexistent/python"])
def test_an_unknown_relative_or_gone_interpreter_refuses(tmp_path, monkeypatch, interpreter):
    (tmp_path / "python").write_text("")  # "python" exists here, relative: refused all the same
    monkeypatch.chdir(tmp_path)
    env = _cached(tmp_path, [("tinytool", "1.0")], interpreter=interpreter)
    assert recipe_for(env, "uv") == Recipe("cached environment", env.path, problem=(
        "its base interpreter is unknown or gone, so the same interpreter hash cannot be made"))


@pytest.mark.parametrize("fields, made_by", [
    ({"bucket_version": 1, "uv_version": "0.5.31"}, "made by uv 0.5.31 under its own key scheme (environments-v1)"),
    ({"interpreter_hash_scheme": "sys.executable (uv 0.6 - 0.7)"}, "made by uv ? under its own key scheme (sys.executable (uv 0.6 - 0.7))"),
])
def test_an_environment_an_older_uv_keyed_differently_refuses(tmp_path, fields, made_by):
    env = _cached(tmp_path, [("tinytool", "1.0")], **fields)
    assert recipe_for(env, "uv") == Recipe("cached environment", env.path, problem=(
        f"{made_by}: this uv would make it under another key; run that uv's `uvx` to rebuild it, or prune it"))


def test_todays_key_scheme_is_rebuilt(tmp_path):
    from envtui.core.environments import INTERPRETER_HASH_SCHEMES

    env = _cached(tmp_path, [("tinytool", "1.0")], interpreter_hash_scheme=INTERPRETER_HASH_SCHEMES["canonical"], bucket_version=None)
    assert recipe_for(env, "uv").problem is None


@pytest.mark.parametrize("status, target", [("corrupt", True), (OK, False)])
def test_an_environment_whose_distributions_cannot_be_read_refuses(tmp_path, status, target):
    env = _cached(tmp_path, [("tinytool", "1.0")], status=status)
    if not target:
        env = Environment(**{**env.__dict__, "link_target": None})
    assert recipe_for(env, "uv") == Recipe("cached environment", env.path,
                                           problem=f"it is {status}: its distributions cannot be read")


def test_an_environment_without_a_command_refuses(tmp_path):
    env = _cached(tmp_path, [("helperlib", "1.0")], tool=None)
    assert recipe_for(env, "uv") == Recipe("cached environment", env.path, problem=(
        "no distribution provides a console script: it is not a tool environment"))


def test_a_script_environment_gets_its_absolute_script(tmp_path, monkeypatch):
    script = tmp_path / "s.py"
    script.write_text("")
    monkeypatch.chdir(tmp_path)
    env = Environment(SCRIPT, tmp_path / "env", "s-1", OK, script="s.py")
    recipe = recipe_for(env, "uv")
    assert recipe == Recipe("script environment", env.path, ("uv", "sync", "--script", str(script)))
    assert recipe.steps() == (f"run: uv sync --script {script}",)


def test_a_script_environment_is_found_among_the_scripts_seen(tmp_path):
    from envtui.core.digest import script_environment_name

    script = tmp_path / "seen.py"
    script.write_text("")
    env = Environment(SCRIPT, tmp_path / "env", script_environment_name(str(script)), OK, prompt="seen.py")
    assert recipe_for(env, "uv") == Recipe("script environment", env.path, problem=(
        "its script is not known (uv wrote prompt = 'seen.py'): if the file still exists, add its directory to the script roots"))
    seen = [str(tmp_path / "other.py"), str(script), str(script) + "x"]
    assert recipe_for(env, "uv", seen_scripts=seen) == Recipe("script environment", env.path, ("uv", "sync", "--script", str(script)))
    script.unlink()
    assert recipe_for(env, "uv", seen_scripts=seen) == Recipe("script environment", env.path, problem=(
        f"its script file {script} is missing (deleted or moved): there is nothing to rebuild it from; prune it instead"))


def test_an_interpreter_entry_is_proven_with_a_throwaway_cache(tmp_path):
    entry = InterpreterEntry(path=tmp_path / "x.msgpack", bucket_version=5, shard="s", key="k", status="fresh", shard_current=True,
                             executable=sys.executable)
    assert recipe_for(entry, "uv") == Recipe(
        "interpreter entry", entry.path, ("uv", "python", "find", sys.executable), delete_first=True,
        proof=f"uv python find --no-cache {sys.executable} (uv queries it with a throwaway cache)", python=sys.executable)


def test_an_interpreter_entry_is_queried_by_the_path_its_key_came_from(tmp_path):
    entry = InterpreterEntry(path=tmp_path / "x.msgpack", bucket_version=5, shard="s", key="k", status="fresh",
                             shard_current=True, executable="/usr/bin/elsewhere", key_source=(sys.executable, "/canonical"))
    assert recipe_for(entry, "uv").argv == ("uv", "python", "find", sys.executable)


@pytest.mark.parametrize("exe, shown", [(None, "?"), ("", "?"), ("python3", "python3"), ("/nonexistent/python", "/nonexistent/python")])
def test_an_interpreter_entry_whose_executable_is_gone_or_relative_is_not_rebuilt(tmp_path, monkeypatch, exe, shown):
    (tmp_path / "python3").write_text("")
    monkeypatch.chdir(tmp_path)
    entry = InterpreterEntry(path=tmp_path / "x.msgpack", bucket_version=5, shard="s", key="k", status="fresh",
                             shard_current=True, executable=exe)
    assert recipe_for(entry, "uv") == Recipe("interpreter entry", entry.path,
                                             problem=f"the interpreter {shown} is gone: prune the entry instead")


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


def test_a_tools_recipe_shows_the_command_before_anything_runs(tmp_path):
    from envtui.core.rebuild import INPUTS_SHOWN, tool_recipe

    tool = _tool(tmp_path, "tinytool", '[tool]\nrequirements = [{ name = "tinytool" }]\nconstraints = [{ name = "helperlib" }]\n'
                 'python = "3.12"\n')
    assert tool_recipe(tool, "uv") == Recipe("tool", tool.path, (
        "uv", "tool", "install", "--reinstall", "--python=3.12", f"--constraints={INPUTS_SHOWN}/constraints.txt", "--", "tinytool"),
        proof="the same uv tool install into a temporary tool directory")
    bad = _tool(tmp_path / "b", "tinytool", '[tool]\nrequirements = [{ name = "tinytool" }]\n[tool.options]\nmade-up = 1\n')
    assert tool_recipe(bad, "uv") == Recipe("tool", bad.path, problem="the receipt's option 'made-up' cannot be given on uv's command line")
