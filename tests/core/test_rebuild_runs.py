"""The order a rebuild runs in: prove aside, then delete, then rebuild, and stop at the first step
that fails, saying why (fast: the prune pipeline is recorded, and uv is a script that fails where
told to)."""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path
from types import SimpleNamespace

import pytest

import importlib

rb = importlib.import_module("envtui.core.rebuild")
from envtui.core.environments import CACHED, OK, SCRIPT, Distribution, Environment
from envtui.core.interpreters import InterpreterEntry
from envtui.core.locks import UNAVAILABLE
from envtui.core.tools import read_tool

FAKE_UV = r'''
import json, os, sys
args = sys.argv[1:]
log = os.environ["FAKE_LOG"]
with open(log, "a") as f:
    inputs = [a.split("=", 1)[1] for a in args if a.startswith("--constraints=")]
    mode = oct(os.stat(os.path.dirname(inputs[0])).st_mode & 0o777) if inputs else None
    f.write(json.dumps({"argv": args, "tool_dir": os.environ.get("UV_TOOL_DIR"), "bin_dir": os.environ.get("UV_TOOL_BIN_DIR"),
                        "cache": os.environ.get("UV_CACHE_DIR"), "inputs": inputs, "mode": mode}) + "\n")
words = [a for a in args if not a.startswith(("-", "/"))]
what = " ".join(words[:2]) if words[0] in ("tool", "pip", "python") else words[0]
if what in os.environ.get("FAKE_SILENT", "").split(","):
    sys.exit(3)
if what in os.environ.get("FAKE_FAIL", "").split(","):
    print("Resolved 1 package")
    print("error: " + what + " failed here", file=sys.stderr)
    print("  Caused by: the wheel is gone", file=sys.stderr)
    sys.exit(2)
if what == "tool list":
    for name in os.environ.get("FAKE_LISTED", "").split(","):
        if name:
            print(f"{name} v1.0 ({os.environ['UV_TOOL_DIR']}/{name})")
elif what == "tool install":
    tool = os.path.join(os.environ["UV_TOOL_DIR"], "tinytool")
    os.makedirs(tool, exist_ok=True)
    cmds = os.environ.get("FAKE_COMMANDS", "tinytool").split(",")
    points = ", ".join(f'{{ name = "{c}", install-path = "{os.environ.get("UV_TOOL_BIN_DIR", "/b")}/{c}" }}' for c in cmds)
    with open(os.path.join(tool, "uv-receipt.toml"), "w") as f:
        f.write(f'[tool]\nrequirements = [{{ name = "tinytool" }}]\nentrypoints = [{points}]\n')
elif what == "sync":
    print(os.environ.get("FAKE_SYNC", "Checked 1 package in 1ms"))
elif what == "tool run":
    if not os.environ.get("FAKE_DANGLING"):
        os.makedirs(os.environ["FAKE_TARGET"], exist_ok=True)
    link = os.environ["FAKE_LINK"]
    if os.path.lexists(link):
        os.unlink(link)
    os.symlink(os.environ["FAKE_TARGET"], link)
print("done")
'''


class Fake:
    """A uv that logs every call, and a prune pipeline that records what it was asked."""

    def __init__(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.tmp = tmp_path
        self.uv = str(tmp_path / "uv")
        Path(self.uv).write_text(f"#!{sys.executable}\n{FAKE_UV}")
        os.chmod(self.uv, 0o755)
        self.log = tmp_path / "uv.log"
        self.env = {"PATH": os.environ["PATH"], "FAKE_LOG": str(self.log)}
        self.events: list[str] = []
        self.skipped: tuple = ()
        self.deleted = True
        self.lock = SimpleNamespace(state="free", free=True, holders=("holder",), error=lambda: OSError("lock unavailable"))
        cwd = tmp_path / "cwd"  # empty: a path that should be absolute finds nothing here
        cwd.mkdir()
        monkeypatch.chdir(cwd)
        scratch = tmp_path / "tmp"
        scratch.mkdir()
        monkeypatch.setattr(tempfile, "tempdir", str(scratch))
        self.scratch = scratch
        monkeypatch.setattr(rb, "check_prune_root", lambda root: self.events.append(f"check {root}"))
        monkeypatch.setattr(rb, "probe_root_lock", lambda root: self.events.append(f"lock {root}") or self.lock)
        monkeypatch.setattr(rb, "plan_selection", self._plan)
        monkeypatch.setattr(rb, "execute_plan", self._execute)

    def _plan(self, inv, records, *, exclusive, lock_holders):
        self.events.append(f"plan {inv.root} {[r.path for r in records]} exclusive={exclusive} holders={lock_holders}")
        self.plan = SimpleNamespace(entries=("entry",), skipped=self.skipped)
        return self.plan

    def _execute(self, plan, *, go_on_if_busy):
        assert plan is self.plan
        self.events.append(f"delete after {len(self.calls())} uv calls, going on if busy: {go_on_if_busy}")
        if self.deleted is True:
            return SimpleNamespace(deleted=("entry",), skipped=(), errors=())
        return SimpleNamespace(deleted=(), skipped=self.deleted[0], errors=self.deleted[1])

    def calls(self) -> list[dict]:
        if not self.log.exists():
            return []
        return [json.loads(line) for line in self.log.read_text().splitlines()]


@pytest.fixture
def fake(tmp_path, monkeypatch) -> Fake:
    return Fake(tmp_path, monkeypatch)


def _cached(fake: Fake) -> Environment:
    target = fake.tmp / "cache" / "archive-v0" / "old"
    (target / "lib").mkdir(parents=True)
    link = fake.tmp / "cache" / "environments-v2" / "i" / "r"
    link.parent.mkdir(parents=True)
    link.symlink_to(target)
    fake.env.update(FAKE_LINK=str(link), FAKE_TARGET=str(fake.tmp / "cache" / "archive-v0" / "new"))
    return Environment(CACHED, link, "i/r", OK, link_target=target, interpreter=sys.executable, tool="tinytool",
                       packages=(Distribution("tinytool", "1.0"), Distribution("helperlib", "0.1")), bucket_version=2)


def _inv(fake: Fake):
    return SimpleNamespace(root=fake.tmp / "cache")


REASON = "Caused by: the wheel is gone"


def _result(fake, record, *args, **kw) -> rb.RebuildResult:
    return rb.RebuildResult(rb.recipe_for(record, fake.uv, **kw), *args)


def test_a_cached_environment_is_proven_aside_then_deleted_then_rebuilt(fake):
    env = _cached(fake)
    lines: list[str] = []
    result = rb.rebuild(_inv(fake), env, lines.append, uv=fake.uv, env=fake.env)
    assert result == _result(fake, env, 0, True, f"rebuilt {env.path}")
    venv, pip, run = fake.calls()
    assert run["argv"] == ["tool", "run", "--python", sys.executable, "--from", "tinytool==1.0", "--with", "helperlib==0.1",
                           "python", "-c", ""]
    assert venv["argv"][:5] == ["venv", "--no-project", "--python", sys.executable, "--"]
    assert venv["argv"][5].startswith(f"{fake.scratch}/envtui-rebuild-") and venv["argv"][5].endswith("/venv")
    assert pip["argv"] == ["pip", "install", "--python", venv["argv"][5] + "/bin/python", "--", "tinytool==1.0", "helperlib==0.1"]
    assert {c["cache"] for c in fake.calls()} == {str(fake.tmp / "cache")}
    cache = fake.tmp / "cache"
    assert fake.events == [f"check {cache}", f"lock {cache}", f"plan {cache} [{env.path!r}] exclusive=True holders=('holder',)",
                           "delete after 2 uv calls, going on if busy: True"]
    assert os.listdir(fake.scratch) == []  # the build aside is gone
    assert lines == [f"[proof] $ {fake.uv} venv --no-project --python {sys.executable} -- {venv['argv'][5]}", "[proof] done",
                     f"[proof] $ {fake.uv} pip install --python {pip['argv'][3]} -- tinytool==1.0 helperlib==0.1", "[proof] done",
                     f"deleted {env.path}", f"$ {fake.uv} tool run --python {sys.executable} --from tinytool==1.0 --with helperlib==0.1 python -c ''",
                     "done"]


def test_every_uv_run_can_be_stopped(fake, monkeypatch):
    env = _cached(fake)
    stop = lambda: False  # noqa: E731
    seen = []
    real = rb.run_uv

    def record(argv, cache_root, on_line, *, should_stop=None, env=None):
        seen.append((cache_root, should_stop))
        return real(argv, cache_root, on_line, should_stop=should_stop, env=env)

    monkeypatch.setattr(rb, "run_uv", record)
    assert rb.rebuild(_inv(fake), env, lambda _l: None, uv=fake.uv, env=fake.env, should_stop=stop).ok
    entry = InterpreterEntry(path=fake.tmp / "cache" / "x.msgpack", bucket_version=5, shard="s", key="k", status="fresh",
                             shard_current=True, executable=sys.executable)
    fake.env["FAKE_FAIL"] = "python find"
    rb.rebuild(_inv(fake), entry, lambda _l: None, uv=fake.uv, env=fake.env, should_stop=stop)
    monkeypatch.setattr(rb, "processes_using", lambda roots: {})
    del fake.env["FAKE_FAIL"]
    assert _reinstall(fake, _tool(fake), should_stop=stop).ok
    assert seen == [(fake.tmp / "cache", stop)] * 6


@pytest.mark.parametrize("failing, calls", [("pip install", 2), ("venv", 1)])
def test_when_uv_cannot_build_it_aside_nothing_is_deleted(fake, failing, calls):
    env = _cached(fake)
    fake.env["FAKE_FAIL"] = failing
    lines: list[str] = []
    result = rb.rebuild(_inv(fake), env, lines.append, uv=fake.uv, env=fake.env)
    assert result == _result(fake, env, None, False,
                             f"not rebuilt, {env.path} kept: uv cannot build it: error: {failing} failed here {REASON}")
    assert len(fake.calls()) == calls and not [e for e in fake.events if e.startswith("delete")]
    assert os.listdir(fake.scratch) == [] and os.path.islink(env.path)
    assert f"[proof] error: {failing} failed here" in lines


def test_an_entry_the_plan_skips_is_neither_proven_nor_deleted(fake):
    env = _cached(fake)
    fake.skipped = (SimpleNamespace(reason="in use by process 7"), SimpleNamespace(reason="and more"))
    result = rb.rebuild(_inv(fake), env, lambda _l: None, uv=fake.uv, env=fake.env)
    assert result == _result(fake, env, None, False, "not deleted, so not rebuilt: in use by process 7")
    assert fake.calls() == []


@pytest.mark.parametrize("outcome, why", [
    (((SimpleNamespace(reason="a"), SimpleNamespace(reason="b"), SimpleNamespace(reason="its lock is held")), ()), "its lock is held"),
    (((), ((Path("/x"), "Permission denied"), (Path("/y"), "other"))), "Permission denied"),
    (((), ()), "?"),
])
def test_an_entry_that_was_not_deleted_is_not_rebuilt(fake, outcome, why):
    env = _cached(fake)
    fake.deleted = outcome
    result = rb.rebuild(_inv(fake), env, lambda _l: None, uv=fake.uv, env=fake.env)
    assert result == _result(fake, env, None, False, f"not deleted, so not rebuilt: {why}")
    assert [c["argv"][0] for c in fake.calls()] == ["venv", "pip"]


def test_uv_failing_after_the_delete_says_the_entry_is_gone(fake):
    env = _cached(fake)
    fake.env["FAKE_FAIL"] = "tool run"
    result = rb.rebuild(_inv(fake), env, lambda _l: None, uv=fake.uv, env=fake.env)
    assert result == _result(fake, env, 2, False, f"uv failed (it was deleted first and is gone): error: tool run failed here {REASON}")


@pytest.mark.parametrize("how", ["elsewhere", "dangling"])
def test_uv_making_another_key_is_not_a_rebuild(fake, how):
    env = _cached(fake)
    if how == "elsewhere":
        fake.env["FAKE_LINK"] = str(fake.tmp / "elsewhere")
        os.unlink(env.path)
    else:
        fake.env["FAKE_DANGLING"] = "1"
    result = rb.rebuild(_inv(fake), env, lambda _l: None, uv=fake.uv, env=fake.env)
    assert result == _result(fake, env, 0, False, "uv ran, but made its environment under another key than i/r")


def test_an_unavailable_lock_raises_before_anything_runs(fake):
    env = _cached(fake)
    fake.lock = SimpleNamespace(state=UNAVAILABLE, free=False, holders=(), error=lambda: OSError("lock unavailable"))
    with pytest.raises(OSError, match="lock unavailable"):
        rb.rebuild(_inv(fake), env, lambda _l: None, uv=fake.uv, env=fake.env)
    assert fake.calls() == [] and fake.events == [f"check {fake.tmp / 'cache'}", f"lock {fake.tmp / 'cache'}"]


def test_a_build_aside_inside_the_cache_is_refused(fake, monkeypatch):
    env = _cached(fake)
    monkeypatch.setattr(tempfile, "tempdir", str(fake.tmp / "cache"))
    with pytest.raises(OSError) as err:
        rb.rebuild(_inv(fake), env, lambda _l: None, uv=fake.uv, env=fake.env)
    assert str(err.value).startswith(f"the temporary directory {fake.tmp / 'cache'}/envtui-rebuild-")
    assert str(err.value).endswith(f" would be inside the cache {fake.tmp / 'cache'}: set TMPDIR elsewhere")
    assert fake.calls() == [] and [p for p in os.listdir(fake.tmp / "cache") if p.startswith("envtui")] == []


def _entry(fake: Fake, path: Path, executable: str = sys.executable, **kw) -> InterpreterEntry:
    return InterpreterEntry(path=path, bucket_version=5, shard="s", key=path.stem, status=kw.pop("status", "fresh"),
                            shard_current=True, executable=executable, **kw)


def test_an_interpreter_entry_is_queried_with_a_throwaway_cache_first(fake):
    entry = _entry(fake, fake.tmp / "cache" / "x.msgpack")
    fake.env["FAKE_FAIL"] = "python find"
    lines: list[str] = []
    result = rb.rebuild(_inv(fake), entry, lines.append, uv=fake.uv, env=fake.env)
    assert result == _result(fake, entry, None, False,
                             f"not rebuilt, {entry.path} kept: uv cannot build it: error: python find failed here {REASON}")
    assert [c["argv"] for c in fake.calls()] == [["--no-cache", "python", "find", "--", sys.executable]]
    assert lines[0] == f"[proof] $ {fake.uv} --no-cache python find -- {sys.executable}" and "[proof] Resolved 1 package" in lines
    assert not [e for e in fake.events if e.startswith("delete")]


@pytest.fixture
def entries(fake, monkeypatch):
    """Interpreter entries decoded from what a test puts in ``fake.decoded`` (path -> entry)."""
    fake.decoded = {}

    def decode(path, bucket_version, shard, this_shard):
        assert (bucket_version, shard) == (5, "s") and this_shard == rb.current_shard()
        return fake.decoded[Path(path)]

    monkeypatch.setattr(rb, "decode_interpreter_entry", decode)
    shard = fake.tmp / "cache" / "interpreter-v5" / "s"
    shard.mkdir(parents=True)
    return shard


def test_an_interpreter_entry_queried_again_shows_what_changed(fake, entries):
    before = _entry(fake, entries / "a.msgpack", version="3.12.0", sys_prefix="/p", status="stale")
    before.path.write_text("")
    fake.decoded[before.path] = _entry(fake, before.path, version="3.12.1", sys_prefix="/p")
    result = rb.rebuild(_inv(fake), before, lambda _l: None, uv=fake.uv, env=fake.env)
    changes = (("path", str(before.path), str(before.path)), ("status", "stale", "fresh"), ("version", "3.12.0", "3.12.1"),
               ("executable", sys.executable, sys.executable), ("sys_prefix", "/p", "/p"), ("base_prefix", "None", "None"))
    assert result == _result(fake, before, 0, True, "queried again; status: stale -> fresh; version: 3.12.0 -> 3.12.1", changes)
    fake.decoded[before.path] = before
    again = rb.rebuild(_inv(fake), before, lambda _l: None, uv=fake.uv, env=fake.env)
    assert again.message == "queried again; nothing changed" and again.ok


def test_an_interpreter_entry_under_a_new_key_is_found_by_its_executable(fake, entries):
    before = _entry(fake, entries / "old.msgpack")
    for name, exe in (("a", "/other/python"), ("b", sys.executable), ("c", sys.executable)):
        (entries / f"{name}.msgpack").write_text("")
        fake.decoded[entries / f"{name}.msgpack"] = _entry(fake, entries / f"{name}.msgpack", exe)
    result = rb.rebuild(_inv(fake), before, lambda _l: None, uv=fake.uv, env=fake.env)
    assert result.ok and dict((f, (a, b)) for f, a, b in result.changes)["path"] == (str(before.path), str(entries / "b.msgpack"))


def test_an_interpreter_entry_uv_did_not_write_is_said(fake, entries):
    before = _entry(fake, entries / "old.msgpack")
    (entries / "a.msgpack").write_text("")
    fake.decoded[entries / "a.msgpack"] = _entry(fake, entries / "a.msgpack", "/other/python")
    result = rb.rebuild(_inv(fake), before, lambda _l: None, uv=fake.uv, env=fake.env)
    assert result == _result(fake, before, 0, False, "uv ran, but wrote no interpreter entry for this executable")


def test_a_script_environment_is_synced_in_place(fake):
    script = fake.tmp / "s.py"
    script.write_text("")
    env = Environment(SCRIPT, fake.tmp / "env", "s-1", OK, script=str(script))
    result = rb.rebuild(_inv(fake), env, lambda _l: None, uv=fake.uv, env=fake.env)
    assert result == _result(fake, env, 0, True, f"already up to date: uv checked {env.path} and installed nothing")
    fake.env["FAKE_SYNC"] = "Installed 1 package in 1ms"
    result = rb.rebuild(_inv(fake), env, lambda _l: None, uv=fake.uv, env=fake.env)
    assert result == _result(fake, env, 0, True, f"rebuilt {env.path}")
    fake.env["FAKE_FAIL"] = "sync"
    result = rb.rebuild(_inv(fake), env, lambda _l: None, uv=fake.uv, env=fake.env)
    assert result == _result(fake, env, 2, False, f"uv failed: error: sync failed here {REASON}")
    assert fake.events == [] and [c["argv"] for c in fake.calls()] == [["sync", "--script", str(script)]] * 3


def test_a_script_known_only_from_the_scripts_seen_is_rebuilt(fake):
    from envtui.core.digest import script_environment_name

    script = fake.tmp / "seen.py"
    script.write_text("")
    env = Environment(SCRIPT, fake.tmp / "env", script_environment_name(str(script)), OK)
    seen = [str(fake.tmp / "other.py"), str(script)]
    result = rb.rebuild(_inv(fake), env, lambda _l: None, uv=fake.uv, env=fake.env, seen_scripts=seen)
    assert result == _result(fake, env, 0, True, f"already up to date: uv checked {env.path} and installed nothing",
                             seen_scripts=seen)
    assert fake.calls()[0]["argv"] == ["sync", "--script", str(script)]


def test_a_recipe_with_a_problem_runs_nothing(fake):
    env = Environment(SCRIPT, fake.tmp / "env", "s-1", OK, prompt="gone.py")
    result = rb.rebuild(_inv(fake), env, lambda _l: None, uv=fake.uv, env=fake.env)
    assert result == _result(fake, env, None, False, f"cannot rebuild {env.path}: " + rb.recipe_for(env, fake.uv).problem)
    assert fake.calls() == [] and fake.events == []


def test_no_uv_no_rebuild(fake, monkeypatch):
    monkeypatch.setattr(rb, "find_uv", lambda: None)
    env = _cached(fake)
    result = rb.rebuild(_inv(fake), env, lambda _l: None)
    assert result == rb.RebuildResult(rb.Recipe("?", env.path), None, False, "no uv found on PATH")
    tool = _tool(fake)
    assert rb.reinstall_tool(tool, fake.tmp / "tools", fake.tmp / "cache", lambda _l: None) == rb.RebuildResult(
        rb.Recipe("tool", tool.path), None, False, "no uv found on PATH: tools are reinstalled through uv")


def test_found_uv_is_used(fake, monkeypatch):
    monkeypatch.setattr(rb, "find_uv", lambda: fake.uv)
    env = _cached(fake)
    assert rb.rebuild(_inv(fake), env, lambda _l: None, env=fake.env).recipe.argv[0] == fake.uv


# -- tools ------------------------------------------------------------------------------------------

RECEIPT = ('[tool]\nrequirements = [{{ name = "tinytool" }}]\n'
           'entrypoints = [{{ name = "tinytool", install-path = "{bin}/tinytool", from = "tinytool" }}]\n'
           '[tool.options]\nno-index = true\n')


def _tool(fake: Fake, receipt: str | None = None):
    bin_dir = fake.tmp / "bin"
    bin_dir.mkdir(exist_ok=True)
    path = fake.tmp / "tools" / "tinytool"
    path.mkdir(parents=True, exist_ok=True)
    (path / "uv-receipt.toml").write_text(receipt or RECEIPT.format(bin=bin_dir))
    fake.env["FAKE_LISTED"] = "tinytool"
    return read_tool(path)


def _reinstall(fake: Fake, tool, **kw):
    return rb.reinstall_tool(tool, fake.tmp / "tools", fake.tmp / "cache", kw.pop("on_line", lambda _l: None),
                             uv=fake.uv, env=kw.pop("env", fake.env), **kw)


def _argv(fake: Fake) -> tuple[str, ...]:
    return (fake.uv, "tool", "install", "--reinstall", "--no-index", "--", "tinytool")


def _tool_result(fake, tool, code, ok, message) -> rb.RebuildResult:
    recipe = rb.Recipe("tool", tool.path, _argv(fake), proof="the same uv tool install into a temporary tool directory")
    return rb.RebuildResult(recipe, code, ok, message)


def test_a_tool_is_reinstalled_aside_first_then_in_place(fake, monkeypatch):
    monkeypatch.setattr(rb, "processes_using", lambda roots: {})
    tool = _tool(fake)
    lines: list[str] = []
    result = _reinstall(fake, tool, on_line=lines.append)
    assert result == _tool_result(fake, tool, 0, True, f"reinstalled tinytool ({tool.path})")
    listing, proof, real = fake.calls()
    assert listing["argv"] == ["tool", "list", "--show-paths"] and listing["tool_dir"] == str(fake.tmp / "tools")
    assert proof["argv"] == real["argv"] == ["tool", "install", "--reinstall", "--no-index", "--", "tinytool"]
    assert proof["tool_dir"].startswith(f"{fake.scratch}/envtui-rebuild-") and proof["tool_dir"].endswith("/tools")
    assert proof["bin_dir"] == proof["tool_dir"][:-5] + "bin"
    assert (real["tool_dir"], real["bin_dir"]) == (str(fake.tmp / "tools"), str(fake.tmp / "bin"))
    assert {c["cache"] for c in fake.calls()} == {str(fake.tmp / "cache")}
    assert os.listdir(fake.scratch) == []
    command = f"{fake.uv} tool install --reinstall --no-index -- tinytool"
    assert lines == [f"[proof] $ {command}", "[proof] done", f"$ {command}", "done"]


def test_a_receipts_files_are_written_in_a_private_directory(fake, monkeypatch):
    monkeypatch.setattr(rb, "processes_using", lambda roots: {})
    tool = _tool(fake, '[tool]\nrequirements = [{ name = "tinytool" }]\nconstraints = [{ name = "helperlib" }]\n')
    assert _reinstall(fake, tool).ok
    _, proof, real = fake.calls()
    assert proof["inputs"] == real["inputs"] and proof["inputs"][0].endswith("/inputs/constraints.txt")
    assert proof["inputs"][0].startswith(f"{fake.scratch}/envtui-rebuild-") and proof["mode"] == "0o700"


def test_a_tool_without_one_bin_dir_keeps_the_users(fake, monkeypatch):
    monkeypatch.setattr(rb, "processes_using", lambda roots: {})
    tool = _tool(fake, '[tool]\nrequirements = [{ name = "tinytool" }]\n')
    fake.env["UV_TOOL_BIN_DIR"] = str(fake.tmp / "users-bin")
    assert _reinstall(fake, tool).ok
    assert fake.calls()[-1]["bin_dir"] == str(fake.tmp / "users-bin")


def test_without_an_environment_envtuis_own_is_used(fake, monkeypatch):
    monkeypatch.setattr(rb, "processes_using", lambda roots: {})
    tool = _tool(fake)
    for key, value in fake.env.items():
        monkeypatch.setenv(key, value)
    assert _reinstall(fake, tool, env=None).ok and len(fake.calls()) == 3


def test_a_tool_uv_does_not_list_is_left_alone(fake):
    tool = _tool(fake)
    fake.env["FAKE_LISTED"] = "other"
    result = _reinstall(fake, tool)
    assert result == rb.RebuildResult(rb.Recipe("tool", tool.path), None, False,
                                      f"uv does not list 'tinytool' among the tools in {fake.tmp / 'tools'}")
    assert len(fake.calls()) == 1
    fake.env["FAKE_FAIL"] = "tool list"
    assert _reinstall(fake, tool) == rb.RebuildResult(rb.Recipe("tool", tool.path), None, False,
                                                      f"uv tool list failed: error: tool list failed here {REASON}")


@pytest.mark.parametrize("uncertain, how", [(False, "is in use"), (True, "may be in use (its details cannot be read)")])
def test_a_tool_in_use_is_left_alone(fake, monkeypatch, uncertain, how):
    tool = _tool(fake)
    user = SimpleNamespace(pid=7, cmdline="tinytool --serve", why="runs its python", uncertain=uncertain)
    seen = {}
    monkeypatch.setattr(rb, "processes_using", lambda roots: seen.update(roots) or {str(tool.path): [user]})
    result = _reinstall(fake, tool)
    assert result == rb.RebuildResult(rb.Recipe("tool", tool.path), None, False,
                                      f"not rebuilt: it {how} by process 7 (tinytool --serve): runs its python")
    assert seen == {str(tool.path): (tool.path,)} and len(fake.calls()) == 1
    user.why = ""
    assert _reinstall(fake, tool).message == f"not rebuilt: it {how} by process 7 (tinytool --serve)"


def test_a_receipt_that_cannot_be_given_back_runs_nothing(fake, monkeypatch):
    monkeypatch.setattr(rb, "processes_using", lambda roots: {})
    tool = _tool(fake, '[tool]\nrequirements = [{ name = "tinytool" }]\n[tool.options]\ndependency-metadata = []\n')
    result = _reinstall(fake, tool)
    assert result == rb.RebuildResult(rb.Recipe("tool", tool.path), None, False, (
        f"cannot rebuild {tool.path}: the receipt's option 'dependency-metadata' cannot be given on uv's command line"))
    assert len(fake.calls()) == 1 and os.listdir(fake.scratch) == []


def test_a_reinstall_uv_cannot_prove_leaves_the_tool(fake, monkeypatch):
    monkeypatch.setattr(rb, "processes_using", lambda roots: {})
    tool = _tool(fake)
    fake.env["FAKE_FAIL"] = "tool install"
    lines: list[str] = []
    result = _reinstall(fake, tool, on_line=lines.append)
    assert result == _tool_result(fake, tool, None, False,
                                  f"not rebuilt, {tool.path} kept: uv cannot build it: error: tool install failed here {REASON}")
    assert len(fake.calls()) == 2 and fake.calls()[1]["tool_dir"] != str(fake.tmp / "tools")
    assert "[proof] error: tool install failed here" in lines and os.listdir(fake.scratch) == []


def test_a_command_in_the_way_leaves_the_tool(fake, monkeypatch):
    monkeypatch.setattr(rb, "processes_using", lambda roots: {})
    tool = _tool(fake)
    fake.env["FAKE_COMMANDS"] = "tinytool,helper"
    (fake.tmp / "bin" / "helper").write_text("mine")
    result = _reinstall(fake, tool)
    assert result == _tool_result(fake, tool, None, False,
                                  f"not rebuilt, {tool.path} kept: {fake.tmp / 'bin'}/helper exists and is not one of tinytool's commands")
    assert len(fake.calls()) == 2


@pytest.mark.parametrize("state", ["still there", "gone", "in an unknown state"])
def test_a_reinstall_failing_after_the_proof_says_whether_the_tool_is_there(fake, monkeypatch, state):
    monkeypatch.setattr(rb, "processes_using", lambda roots: {})
    tool = _tool(fake)
    real_run = rb.run_uv

    def run(argv, cache_root, on_line, *, should_stop=None, env=None):
        if env["UV_TOOL_DIR"] == str(fake.tmp / "tools"):
            if state == "gone":
                os.unlink(tool.path / "uv-receipt.toml")
            env = {**env, "FAKE_FAIL": "tool install"}
        return real_run(argv, cache_root, on_line, should_stop=should_stop, env=env)

    monkeypatch.setattr(rb, "run_uv", run)
    if state == "in an unknown state":
        monkeypatch.setattr(rb, "presence", lambda path: None)
    result = _reinstall(fake, tool)
    assert result == _tool_result(fake, tool, 2, False,
                                  f"uv failed after the proof ({tool.path} is {state}): error: tool install failed here {REASON}")


@pytest.mark.parametrize("silent, what", [("python find", "interpreter"), ("pip install", "cached"), ("tool run", "cached"),
                                          ("tool install", "tool")])
def test_uv_failing_without_a_word_is_said_with_its_status(fake, monkeypatch, entries, silent, what):
    fake.env["FAKE_SILENT"] = silent
    if what == "tool":
        monkeypatch.setattr(rb, "processes_using", lambda roots: {})
        message = _reinstall(fake, _tool(fake)).message
    else:
        record = _cached(fake) if what == "cached" else _entry(fake, entries / "a.msgpack")
        message = rb.rebuild(_inv(fake), record, lambda _l: None, uv=fake.uv, env=fake.env).message
    assert message.endswith(": uv exited with status 3")


def test_a_tool_install_failing_silently_after_the_proof_is_said_with_its_status(fake, monkeypatch):
    monkeypatch.setattr(rb, "processes_using", lambda roots: {})
    tool = _tool(fake)
    real_run = rb.run_uv

    def run(argv, cache_root, on_line, *, should_stop=None, env=None):
        if env["UV_TOOL_DIR"] == str(fake.tmp / "tools"):
            env = {**env, "FAKE_SILENT": "tool install"}
        return real_run(argv, cache_root, on_line, should_stop=should_stop, env=env)

    monkeypatch.setattr(rb, "run_uv", run)
    assert _reinstall(fake, tool).message == f"uv failed after the proof ({tool.path} is still there): uv exited with status 3"
