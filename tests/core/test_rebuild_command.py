"""``envtui rebuild TARGET`` run in-process, as a user runs it (envtui/commands/rebuild.py and
rebuild_tool.py): what TARGET names (a script, an entry's key or path, an interpreter entry, an
installed tool), a target that names several or nothing, and every exit code: 0 rebuilt, 1 not
rebuilt, 2 bad usage or no match. The rebuild and the tool reinstall are stand-ins that record
what they were asked (their own runs: test_rebuild_runs.py); caches and tool directories are made
by hand (tests/core/handmade.py); real uv: tests/integration/test_rebuild_uv.py, test_uvcli_uv.py."""

from __future__ import annotations

import importlib
import os
import re
from pathlib import Path
from types import SimpleNamespace

import pytest

from envtui import cli
from envtui.cli import build_parser
from envtui.core.errors import CacheError
from envtui.core.interpreters import InterpreterEntry

from .handmade import cached_env, make_cache, script_env

command = importlib.import_module("envtui.commands.rebuild")
tool_command = importlib.import_module("envtui.commands.rebuild_tool")

IHASH, RHASH = "0123456789abcdef", "fedcba9876543210"


class World:
    """A cache with a script environment (hello.py) and a cached environment, a tool directory
    (UV_TOOL_DIR) with tinytool, and stand-ins recording every rebuild and reinstall."""

    def __init__(self, tmp: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.tmp = tmp
        self.cache = make_cache(tmp / "cache", "environments-v2")
        self.scripts = tmp / "scripts"
        self.scripts.mkdir()
        self.script = self.scripts / "hello.py"
        self.script.write_text("print()\n")
        self.script_env = script_env(self.cache, self.script)
        self.cached = cached_env(self.cache, IHASH, RHASH, "ident")
        self.tools = tmp / "tools"
        self.tool = self.tools / "tinytool"
        self.tool.mkdir(parents=True)
        (self.tool / "uv-receipt.toml").write_text('[tool]\nrequirements = [{ name = "tinytool" }]\n')
        monkeypatch.setenv("UV_TOOL_DIR", str(self.tools))
        self.cwd = tmp / "cwd"
        self.cwd.mkdir()
        monkeypatch.chdir(self.cwd)
        self.rebuilt: list[tuple] = []
        self.records: list = []
        self.reinstalled: list[tuple] = []
        self.result = SimpleNamespace(ok=True, message="rebuilt it", changes=())
        self.said = ["uv says \x1b[31mred\x1b[0m"]
        self.raises: BaseException | None = None
        self.uv_found: str | None = "/found/uv"
        monkeypatch.setattr(command, "rebuild", self._rebuild)
        monkeypatch.setattr(tool_command, "reinstall_tool", self._reinstall)
        monkeypatch.setattr(tool_command, "find_uv", lambda: self.uv_found)

    def _rebuild(self, inv, record, on_line, *, uv=None, seen_scripts=()):
        self.rebuilt.append((inv.root, record.path, uv, list(seen_scripts)))
        self.records.append(record)
        for line in self.said:
            on_line(line)
        if self.raises is not None:
            raise self.raises
        return self.result

    def _reinstall(self, tool, tool_dir, cache_root, on_line, *, uv=None):
        self.reinstalled.append((tool.path, tool.receipt.requirements[0].name, tool_dir, cache_root, uv))
        for line in self.said:
            on_line(line)
        if self.raises is not None:
            raise self.raises
        return self.result

    def run(self, *argv: str, roots: bool = True) -> int:
        more = ["--roots", str(self.scripts)] if roots else []
        return cli.main(["rebuild", "--cache-dir", str(self.cache), *more, *argv])


@pytest.fixture
def world(tmp_path, monkeypatch) -> World:
    return World(tmp_path, monkeypatch)


# -- what TARGET names -------------------------------------------------------------------------------


def test_a_script_names_its_script_environment(world, capsys):
    assert world.run(str(world.script), "--uv", "/my/uv") == 0
    assert world.rebuilt == [(world.cache, world.script_env, "/my/uv", [str(world.script)])]
    out = capsys.readouterr()
    assert out.out == "rebuilt it\n"
    assert out.err == "uv says \\x1b[31mred\\x1b[0m\n"  # uv's words on stderr, escaped
    os.chdir(world.scripts)
    assert world.run("hello.py") == 0  # relative to where envtui runs
    assert world.rebuilt[-1] == (world.cache, world.script_env, None, [str(world.script)])


def test_a_script_outside_the_roots_is_found_by_its_environments_name(world):
    assert world.run(str(world.script), roots=False) == 0
    assert world.rebuilt[0][1] == world.script_env and world.rebuilt[0][3] == [str(world.script)]
    assert world.records[0].script == str(world.script)  # the scan was told it: the rebuild knows what to sync


def test_a_script_spelled_with_dot_dot_names_the_environment_uv_keys_by_that_spelling(world, capsys):
    # uv hashes a script's absolute path with its '..' kept: scripts/sub/../hello.py has an
    # environment of its own beside the one of scripts/hello.py, and names both ambiguously.
    (world.scripts / "sub").mkdir()
    spelled = world.scripts / "sub" / ".." / "hello.py"
    own = script_env(world.cache, spelled)
    assert own != world.script_env
    assert world.run(str(spelled)) == 2 and world.rebuilt == []
    head, _, listed = capsys.readouterr().err.rstrip("\n").partition(" matches 2 entries: ")
    assert head == f"envtui: {str(spelled)!r}" and sorted(listed.split(", ")) == sorted([str(world.script_env), str(own)])
    world.script_env.joinpath("pyvenv.cfg").unlink()
    for p in sorted(world.script_env.rglob("*"), reverse=True):
        p.rmdir() if p.is_dir() else p.unlink()
    world.script_env.rmdir()
    assert world.run(str(spelled)) == 0 and world.rebuilt[-1][1] == own


def test_a_target_not_ending_in_py_is_never_taken_for_a_script(world):
    noext = world.scripts / "serve"
    noext.write_text("print()\n")
    script_env(world.cache, noext)  # what `uv run --script serve` would make
    assert world.run(str(noext), roots=False) == 2 and world.rebuilt == []


def test_a_gone_script_still_names_its_environment_but_is_not_remembered(world):
    world.script.unlink()
    assert world.run(str(world.script)) == 0
    assert world.rebuilt == [(world.cache, world.script_env, None, [])]


def test_an_environment_by_its_key_its_resolution_hash_or_its_path(world):
    for target in (world.script_env.name, f"{IHASH}/{RHASH}", RHASH, str(world.cached), str(world.script_env)):
        assert world.run(target) == 0
    assert [r[1] for r in world.rebuilt] == [world.script_env, world.cached, world.cached, world.cached, world.script_env]
    os.chdir(world.cache / "environments-v2")
    assert world.run(world.script_env.name) == 0 and world.run(f"{IHASH}/{RHASH}") == 0  # also as relative paths
    assert [r[1] for r in world.rebuilt[-2:]] == [world.script_env, world.cached]


def test_a_path_through_a_link_to_the_cache_names_the_same_entry(world):
    link = world.tmp / "link-to-cache"
    link.symlink_to(world.cache)
    assert world.run(str(link / "environments-v2" / IHASH / RHASH)) == 0
    assert world.rebuilt[-1][1] == world.cached
    # and the other way round: the cache given through the link, the entry by its real path
    assert cli.main(["rebuild", str(world.script_env), "--cache-dir", str(link)]) == 0
    assert world.rebuilt[-1][1] == link / "environments-v2" / world.script_env.name


def test_dot_dot_after_a_link_is_read_as_the_kernel_reads_it(world, capsys):
    # environments-v2/<ihash>/<rhash> links to archive-v0/ident: <rhash>/../<name> is in archive-v0,
    # not the cached environment <ihash>/<name> that the spelling suggests.
    other = cached_env(world.cache, IHASH, "1111111111111111", "other")
    assert other.exists()
    target = str(world.cached / ".." / "1111111111111111")
    assert world.run(target) == 2 and world.rebuilt == []
    assert capsys.readouterr().err.startswith(f"envtui: no environment or interpreter entry in {world.cache}")


def test_an_archive_entry_a_cached_environment_links_to_is_not_the_environment(world):
    assert world.run(str(world.cache / "archive-v0" / "ident")) == 2 and world.rebuilt == []


def _entry(path: Path, executable: str) -> InterpreterEntry:
    return InterpreterEntry(path=path, bucket_version=5, shard="shard", key=path.stem, status="fresh",
                            shard_current=True, executable=executable)


@pytest.fixture
def entries(world, monkeypatch):
    """Two interpreter entries beside the scanned environments."""
    real = command.scan_inventory
    shard = world.cache / "interpreter-v5" / "shard"
    shard.mkdir(parents=True)
    made = [_entry(shard / "aaaa.msgpack", "/opt/py/bin/python3"), _entry(shard / "bbbb.msgpack", "/usr/bin/python3")]

    def scan(loc, known_scripts=()):
        inv = real(loc, known_scripts=known_scripts)
        return SimpleNamespace(root=inv.root, environments=inv.environments, interpreters=tuple(made))

    monkeypatch.setattr(command, "scan_inventory", scan)
    return made


def test_an_interpreter_entry_by_its_key_its_path_or_its_executable(world, entries):
    a, b = entries
    for target in ("aaaa", "shard/bbbb", str(a.path), "/usr/bin/python3", "/opt/py/bin/../bin/python3"):
        assert world.run(target) == 0
    assert [r[1] for r in world.rebuilt] == [a.path, b.path, a.path, b.path, a.path]


def test_an_executable_is_matched_as_spelled_since_uv_keys_it_so(world, entries, capsys):
    link = world.tmp / "opt-link"
    link.symlink_to("/opt")
    assert world.run(str(link / "py" / "bin" / "python3")) == 2 and world.rebuilt == []


# -- several, none, or nothing at all ----------------------------------------------------------------


def test_a_target_naming_several_entries_names_them_and_rebuilds_none(world, capsys):
    twin = cached_env(world.cache, "aaaaaaaaaaaaaaaa", RHASH, "twin")  # the same resolution on another Python
    assert world.run(RHASH) == 2 and world.rebuilt == []
    assert capsys.readouterr().err == f"envtui: {RHASH!r} matches 2 entries: {world.cached}, {twin}\n"


def test_a_target_naming_an_entry_and_a_tool_rebuilds_neither(world, capsys):
    shadow = world.tools / world.script_env.name
    shadow.mkdir()
    (shadow / "pyvenv.cfg").write_text("home = /usr/bin\n")
    assert world.run(world.script_env.name) == 2 and world.rebuilt == world.reinstalled == []
    assert capsys.readouterr().err == f"envtui: {world.script_env.name!r} matches 2 entries: {world.script_env}, {shadow}\n"


def test_no_match_is_bad_usage_naming_where_it_looked(world, capsys):
    assert world.run("nothing-\x1b]52;c;aGk=\x07") == 2 and world.rebuilt == world.reinstalled == []
    assert capsys.readouterr().err == (f"envtui: no environment or interpreter entry in {world.cache}, and no installed "
                                       f"tool in {world.tools}, matches 'nothing-\\x1b]52;c;aGk=\\x07'\n")


def test_an_empty_target_names_nothing(world, capsys, monkeypatch):
    # os.path.abspath('') is the working directory: '' named whatever envtui ran in.
    monkeypatch.setattr(command, "scan_inventory", lambda *a, **k: pytest.fail("scanned for an empty target"))
    os.chdir(world.tool)
    assert world.run("") == 2 and world.reinstalled == []
    assert capsys.readouterr().err == "envtui: an empty TARGET names nothing\n"


def test_a_directory_that_is_no_cache_is_bad_usage(world, capsys):
    assert cli.main(["rebuild", "tinytool", "--cache-dir", str(world.tmp)]) == 2 and world.reinstalled == []
    err = capsys.readouterr().err
    assert err.startswith("envtui: ") and err.endswith(" (cache location from --cache-dir)\n")


# -- what a rebuild said -----------------------------------------------------------------------------


def test_a_rebuild_that_did_not_happen_is_exit_1_with_its_reason(world, capsys):
    world.result = SimpleNamespace(ok=False, message="not rebuilt: in use\x07", changes=())
    assert world.run(str(world.script)) == 1
    assert capsys.readouterr().out == "not rebuilt: in use\\x07\n"


def test_what_a_query_changed_is_marked_field_by_field(world, capsys):
    world.result = SimpleNamespace(ok=True, message="queried again", changes=(
        ("version", "3.12.0", "3.12.1"), ("path", "/a\x1b", "/a\x1b"), ("status", "stale", "fresh")))
    assert world.run(str(world.script)) == 0
    assert capsys.readouterr().out == ("queried again\n* version: 3.12.0 -> 3.12.1\n  path: /a\\x1b\n"
                                       "* status: stale -> fresh\n")


def test_a_cache_root_never_to_prune_is_exit_2_and_uv_not_started_exit_1(world, capsys):
    world.raises = CacheError(world.cache, "is a home directory")
    assert world.run(str(world.cached)) == 2
    assert capsys.readouterr().err.endswith(f"envtui: {world.cache}: is a home directory\n")
    world.raises = FileNotFoundError(2, "No such file or directory", "/no/uv")
    assert world.run(str(world.cached)) == 1
    assert capsys.readouterr().err.endswith("envtui: not rebuilt: [Errno 2] No such file or directory: '/no/uv'\n")


def test_the_scripts_remembered_are_those_that_exist(world, monkeypatch):
    remembered = []

    def remember(root, scripts):
        remembered.append((root, list(scripts)))
        return ["what the state holds"]

    monkeypatch.setattr(command, "remember_scripts", remember)
    gone = world.scripts / "gone.py"
    assert world.run(str(gone)) == 2  # no environment of its own: nothing remembered, nothing rebuilt
    assert world.run(str(world.script)) == 0
    assert remembered == [(world.cache, [str(world.script)])]
    assert world.rebuilt[-1][3] == ["what the state holds"]


# -- installed tools -----------------------------------------------------------------------------------


def test_a_tool_by_its_name_is_reinstalled_from_its_receipt(world, capsys):
    assert world.run("tinytool", "--uv", "/my/uv") == 0
    assert world.reinstalled == [(world.tool, "tinytool", world.tools, world.cache, "/my/uv")] and world.rebuilt == []
    out = capsys.readouterr()
    assert out.out == "rebuilt it\n" and out.err == "uv says \\x1b[31mred\\x1b[0m\n"
    assert world.run("tinytool") == 0 and world.reinstalled[-1][-1] == "/found/uv"  # uv on PATH


def test_a_tool_by_its_path_however_reached(world):
    os.chdir(world.tools)
    assert world.run("tinytool") == 0 and world.run("./tinytool") == 0
    link = world.tmp / "tools-link"
    link.symlink_to(world.tools)
    assert world.run(str(link / "tinytool")) == 0 and world.run(str(world.tool)) == 0
    assert [r[0] for r in world.reinstalled] == [world.tool] * 4


def test_a_link_to_a_tool_is_not_the_tool(world):
    (world.cwd / "mine").symlink_to(world.tool)
    assert world.run("mine") == 2 and world.run(str(world.cwd / "mine")) == 2 and world.reinstalled == []


def test_a_tool_named_like_an_option_is_only_a_name(world):
    odd = world.tools / "--all"
    odd.mkdir()
    (odd / "uv-receipt.toml").write_text('[tool]\nrequirements = [{ name = "tinytool" }]\n')
    assert world.run("--", "--all") == 0
    assert world.reinstalled == [(odd, "tinytool", world.tools, world.cache, "/found/uv")]


def test_a_tool_not_reinstalled_is_exit_1_with_its_reason(world, capsys):
    world.result = SimpleNamespace(ok=False, message="uv does not list 'tinytool'\x1b", changes=())
    assert world.run("tinytool") == 1
    assert capsys.readouterr().out == "uv does not list 'tinytool'\\x1b\n"


def test_a_tool_without_uv_or_with_a_uv_that_cannot_start_is_exit_1(world, capsys):
    world.uv_found = None
    assert world.run("tinytool") == 1 and world.reinstalled == []
    assert capsys.readouterr().err == "envtui: uv is not installed: tools are reinstalled through uv\n"
    world.uv_found = "/found/uv"
    world.raises = PermissionError(13, "Permission denied")
    assert world.run("tinytool") == 1
    assert capsys.readouterr().err.endswith(f"envtui: {world.tool}: uv could not be started: [Errno 13] Permission denied\n")


def test_the_tool_directory_is_the_one_the_given_uv_prints(world, monkeypatch, tmp_path):
    monkeypatch.delenv("UV_TOOL_DIR")
    uv = tmp_path / "uv"
    uv.write_text(f"#!/bin/sh\n[ \"$1 $2\" = 'tool dir' ] && echo {world.tools}\n")
    uv.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path / "no-uv-here"))
    assert world.run("tinytool", "--uv", str(uv)) == 0
    assert world.reinstalled == [(world.tool, "tinytool", world.tools, world.cache, str(uv))]


# -- what users read -----------------------------------------------------------------------------------

HELP = Path(__file__).with_name("rebuild_help.txt")


def test_the_help_of_rebuild_is_what_users_read(monkeypatch, capsys):
    """``envtui rebuild --help`` (up to the options every command shares) and rebuild's line in
    ``envtui --help``, as committed in tests/core/rebuild_help.txt (whitespace folded: argparse
    wraps by the terminal's width). A change meant to the help: write the new text there."""
    monkeypatch.setenv("COLUMNS", "100")
    for argv in (["rebuild", "--help"], ["--help"]):
        with pytest.raises(SystemExit):
            build_parser().parse_args(argv)
    out = capsys.readouterr().out
    text = out.split("  --cache-dir DIR")[0]
    lines = out.splitlines()
    at = next(i for i, x in enumerate(lines) if x.strip().startswith("rebuild "))
    fold = lambda t: re.sub(r"\s+", " ", t).strip()  # noqa: E731
    assert fold(text + "\n" + "\n".join(lines[at:at + 2])) == fold(HELP.read_text()), "the help changed: see the docstring"
