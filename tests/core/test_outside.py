"""The one pipeline beside the cache: project environments, managed Pythons and tools planned by
the same vet, run by the same executor, checked again right before (OutsideRules, execute_plan with
uv commands). Hand-made layouts in tmp_path; uv's commands are stand-in scripts here (real uv:
tests/integration/test_machine_uv.py)."""

from __future__ import annotations

import fcntl
import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from envtui.core.prune import execute_plan
from envtui.core.prune.executor import DELETED, FAILED, Step, rules_for
from envtui.core.prune.machine import plan_outside, plan_project_envs, plan_tool_uninstall
from envtui.core.prune.outside import OutsideRules
from envtui.core.prune.records import CACHE, PROJECTS, PYTHONS, TOOLS, Kind, PlanEntry, UvCommand
from envtui.core.tools import read_tool


def _venv(path: Path, payload: int = 20000) -> Path:
    (path / "bin").mkdir(parents=True)
    (path / "pyvenv.cfg").write_text("home = /usr/bin\nversion_info = 3.12.1\n")
    (path / "lib").mkdir()
    (path / "lib" / "big").write_bytes(b"x" * payload)
    return path


def _du(*paths: Path) -> int:
    out = subprocess.run(["du", "-sB1", "--total", *map(str, paths)], capture_output=True, text=True, check=True).stdout
    return int(out.splitlines()[-1].split()[0])


def _fake_uv(tmp_path: Path, body: str) -> str:
    """A stand-in for uv: a shell script with ``body``; ``$@`` are the arguments after argv[0]."""
    script = tmp_path / f"fake-uv-{abs(hash(body))}"
    script.write_text("#!/bin/sh\n" + body + "\n")
    script.chmod(0o755)
    return str(script)


def _tool_entry(tool: Path, argv: tuple[str, ...], **kw) -> PlanEntry:
    return PlanEntry(Kind.TOOL, tool, (tool,), tool.name, ("asked for",), uses=(tool,), command=UvCommand(argv), **kw)


def _tool(tool_dir: Path, name: str) -> Path:
    tool = _venv(tool_dir / name)
    (tool / "uv-receipt.toml").write_text(f'[tool]\nrequirements = [{{ name = "{name}" }}]\n')
    return tool


# -- the rules -------------------------------------------------------------------------------------


def test_outside_rules_need_a_known_scope_and_a_root(tmp_path):
    with pytest.raises(ValueError, match="no rules"):
        OutsideRules(CACHE, [tmp_path])
    with pytest.raises(ValueError, match="needs a root"):
        OutsideRules(PROJECTS, [])


def test_the_guard_keeps_every_path_strictly_inside_a_root_and_out_of_uvs_own_directories(tmp_path):
    root, cache = tmp_path / "home", tmp_path / "home" / ".cache" / "uv"
    (cache / "environments-v2" / "s").mkdir(parents=True)
    (root / "p" / ".venv").mkdir(parents=True)
    os.symlink(tmp_path, root / "up")
    rules = OutsideRules(PROJECTS, [root], keep_out=[cache])
    assert rules.guard(root / "p" / ".venv") is None
    assert rules.guard(root / "p" / ".venv" / "pyvenv.cfg") is None
    assert "is not inside" in rules.guard(root)
    assert "is not inside" in rules.guard(tmp_path / "elsewhere")
    assert "is not inside" in rules.guard(root / "up" / "x")  # through a link out of the root
    assert "pruned by its own rules" in rules.guard(cache / "environments-v2" / "s")
    assert "no buckets" in rules.guard(root / "p", whole_bucket=True)
    assert rules.root_of(root / "p" / ".venv") == os.path.realpath(root)
    assert rules.root_of(root) is None and rules.root_of(tmp_path / "x") is None
    assert not rules.archive_related(str(root / "p")) and rules.archive_entry_of(str(root / "p")) is None


def test_a_home_directory_or_the_filesystem_root_is_never_an_entry(tmp_path, monkeypatch):
    from envtui.core.prune import outside

    (tmp_path / "ada").mkdir()
    monkeypatch.setattr(outside, "_homes", lambda: {str(tmp_path / "ada")})
    rules = OutsideRules(PROJECTS, [tmp_path])
    assert "home directory" in rules.guard(tmp_path / "ada")
    assert "is not inside" in OutsideRules(PROJECTS, ["/"]).guard("/")


def test_check_entry_says_what_each_scope_deletes(tmp_path):
    root = tmp_path / "r"
    venv = _venv(root / "p" / ".venv")
    (root / "plain").mkdir()
    os.symlink(venv, root / "link")
    projects = OutsideRules(PROJECTS, [root])
    entry = lambda path, *more: PlanEntry(Kind.PROJECT_ENV, path, (path, *more), "x")  # noqa: E731
    assert projects.check_entry(entry(venv)) is None
    assert "no regular pyvenv.cfg" in projects.check_entry(entry(root / "plain"))
    assert "a symlink" in projects.check_entry(entry(root / "link"))
    assert "gone" in projects.check_entry(entry(root / "missing"))
    (root / "file").write_text("x")
    assert "is a regular file" in projects.check_entry(entry(root / "file"))
    (root / "p" / ".venv" / "pyvenv.cfg").unlink()
    (root / "p" / ".venv" / "pyvenv.cfg").mkdir()
    assert "no regular pyvenv.cfg" in projects.check_entry(entry(venv))

    pydir = tmp_path / "py"
    install = _venv(pydir / "cpython-3.12.1-linux-x86_64-gnu")
    os.symlink(install.name, pydir / "cpython-3.12-linux-x86_64-gnu")
    (pydir / "notalink").mkdir()
    nested = _venv(pydir / "cpython-3.12.1-linux-x86_64-gnu" / "nested")
    pythons = OutsideRules(PYTHONS, [pydir])
    assert pythons.check_entry(entry(install, pydir / "cpython-3.12-linux-x86_64-gnu")) is None
    assert "not a link beside" in pythons.check_entry(entry(install, pydir / "notalink"))
    assert "not directly in" in pythons.check_entry(entry(nested))

    tools = OutsideRules(TOOLS, [tmp_path / "tools"])
    tool = _tool(tmp_path / "tools", "black")
    assert tools.check_entry(entry(tool)) is None
    (tool / "uv-receipt.toml").unlink()
    assert "uv-receipt.toml" in tools.check_entry(entry(tool))


# -- planning ----------------------------------------------------------------------------------------


def test_an_outside_plan_counts_bytes_as_the_cache_does_and_plans_a_path_once(tmp_path):
    root = tmp_path / "r"
    a, b = _venv(root / "a" / ".venv", 30000), _venv(root / "b" / ".venv", 50000)
    os.link(a / "lib" / "big", b / "lib" / "shared")  # one inode in both
    plan = plan_project_envs([(a, "a"), (b, "b"), (root / "a" / ".venv", "again")], [root])
    assert [e.path for e in plan.entries] == [a, b]
    assert plan.bytes_freed == _du(a, b)
    assert [e.bytes_alone for e in plan.entries] == [_du(a, b) - _du(b), _du(a, b) - _du(a)]
    assert plan.scope == PROJECTS and plan.roots == (root,) and plan.exclusive
    assert all(e.lock == e.path / ".lock" and e.paths == (e.path / "pyvenv.cfg", e.path) for e in plan.entries)


def test_rules_for_a_plan_follow_its_scope(tmp_path):
    plan = plan_project_envs([], [tmp_path], keep_out=[tmp_path / "cache"])
    rules = rules_for(plan)
    assert isinstance(rules, OutsideRules) and rules.scope == PROJECTS and [str(k.top) for k in rules.keep_out] == [str(tmp_path / "cache")]


# -- running: envtui's remover -------------------------------------------------------------------------


def test_steps_say_what_happened_to_each_entry_and_the_result_is_complete(tmp_path):
    root = tmp_path / "r"
    a, b = _venv(root / "a" / ".venv"), _venv(root / "b" / ".venv")
    plan = plan_project_envs([(a, "a"), (b, "b")], [root])
    steps: list[Step] = []
    before = _du(root)
    result = execute_plan(plan, on_step=steps.append)
    assert [(s.done, s.total, s.entry.path, s.state) for s in steps] == [(1, 2, a, DELETED), (2, 2, b, DELETED)]
    assert result.complete and result.measured_bytes == before - _du(root) == plan.bytes_freed


def test_an_entry_whose_lock_a_uv_holds_right_before_is_skipped_and_the_run_incomplete(tmp_path):
    root = tmp_path / "r"
    a = _venv(root / "a" / ".venv")
    plan = plan_project_envs([(a, "a")], [root])
    (a / ".lock").write_text("")
    fd = os.open(a / ".lock", os.O_RDONLY)
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        steps: list[Step] = []
        result = execute_plan(plan, on_step=steps.append)
    finally:
        os.close(fd)
    assert result.deleted == () and not result.complete and a.exists()
    assert "lock" in result.skipped[-1].reason


def test_a_program_started_in_an_environment_after_the_plan_keeps_it(tmp_path):
    root = tmp_path / "r"
    venv = _venv(root / "p" / ".venv")
    plan = plan_project_envs([(venv, "p")], [root])
    assert [e.path for e in plan.entries] == [venv]
    # Started after the plan was shown, from inside the venv, by a relative path.
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], cwd=venv / "lib")
    try:
        time.sleep(0.3)
        result = execute_plan(plan)
    finally:
        proc.kill()
        proc.wait()
    assert result.deleted == () and "in use by a running process" in result.skipped[-1].reason
    assert (venv / "pyvenv.cfg").exists() and not result.complete


def test_a_failure_part_way_is_an_error_not_a_deletion(tmp_path):
    root = tmp_path / "r"
    venv = _venv(root / "p" / ".venv")
    plan = plan_project_envs([(venv, "p")], [root])
    steps: list[Step] = []
    (venv / "lib").chmod(0o500)
    real_unlink = os.unlink

    def refuse(path, *, dir_fd=None):
        if path == "big":
            raise PermissionError(13, "Permission denied", "big")
        return real_unlink(path, dir_fd=dir_fd)

    import envtui.core.prune.remover as remover

    orig = remover.os.unlink
    remover.os.unlink = refuse
    try:
        result = execute_plan(plan, on_step=steps.append)
    finally:
        remover.os.unlink = orig
        (venv / "lib").chmod(0o700)
    assert result.deleted == () and not result.complete
    assert [s.state for s in steps] == [FAILED] and "Permission denied" in steps[0].why
    assert result.errors[0][0] == venv


# -- running: uv's own uninstall ------------------------------------------------------------------------


def test_a_uv_command_counts_as_deleted_only_when_its_paths_are_gone(tmp_path):
    tools = tmp_path / "tools"
    good, kept, greedy, failing = (_tool(tools, n) for n in ("good", "kept", "greedy", "failing"))
    bystander = _tool(tools, "bystander")
    removes = _fake_uv(tmp_path, 'rm -rf "$1"')
    leaves = _fake_uv(tmp_path, "echo nothing to do; exit 0")
    too_much = _fake_uv(tmp_path, f'rm -rf "$1" "{bystander}"')
    fails = _fake_uv(tmp_path, "echo 'error: No such tool' >&2; exit 2")
    entries = [_tool_entry(good, (removes, str(good))), _tool_entry(kept, (leaves,)),
               _tool_entry(greedy, (too_much, str(greedy))), _tool_entry(failing, (fails,))]
    plan = plan_outside(TOOLS, [tools], entries)
    assert [e.path for e in plan.entries] == [good, kept, greedy, failing]
    lines: list[str] = []
    steps: list[Step] = []
    result = execute_plan(plan, on_step=steps.append, on_line=lines.append)
    assert [s.state for s in steps] == [DELETED, FAILED, FAILED, FAILED]
    why = dict(result.errors)
    assert "is still there" in why[kept] and "uv also removed" in why[greedy] and str(bystander) in why[greedy]
    assert why[failing] == "uv exited with status 2: error: No such tool"
    assert "nothing to do" in lines and not result.complete
    assert result.deleted == (plan.entries[0],) and result.measured_bytes == plan.entries[0].bytes_alone > 0


def test_a_uv_command_is_run_with_the_entrys_variables_and_no_lock_held(tmp_path):
    tools = tmp_path / "tools"
    tool = _tool(tools, "black")
    (tools / ".lock").write_text("")
    seen = tmp_path / "seen"
    # The stand-in takes the tool directory's lock the way uv does: it must be free while uv runs.
    script = _fake_uv(tmp_path, f'echo "$UV_TOOL_DIR $UV_CACHE_DIR" > {seen}; flock -n -x {tools / ".lock"} rm -rf "$1"')
    entry = _tool_entry(tool, (script, str(tool)), lock=tools / ".lock")
    entry = PlanEntry(**{**entry.__dict__, "command": UvCommand((script, str(tool)), (("UV_TOOL_DIR", str(tools)), ("UV_CACHE_DIR", "/c")))})
    result = execute_plan(plan_outside(TOOLS, [tools], [entry]))
    assert result.complete, result.errors
    assert seen.read_text().split() == [str(tools), "/c"]


def test_a_uv_command_whose_lock_is_held_is_skipped_before_uv_runs(tmp_path):
    tools = tmp_path / "tools"
    tool = _tool(tools, "black")
    (tools / ".lock").write_text("")
    marker = tmp_path / "ran"
    plan = plan_outside(TOOLS, [tools], [_tool_entry(tool, (_fake_uv(tmp_path, f"touch {marker}"),), lock=tools / ".lock")])
    fd = os.open(tools / ".lock", os.O_RDONLY)
    fcntl.flock(fd, fcntl.LOCK_SH)
    try:
        result = execute_plan(plan)
    finally:
        os.close(fd)
    assert not marker.exists() and tool.exists() and "lock" in result.skipped[-1].reason and not result.complete


def test_a_minor_version_link_uv_points_elsewhere_counts_as_gone(tmp_path):
    pydir = tmp_path / "py"
    new, old = _venv(pydir / "cpython-3.12.2-linux-x86_64-gnu"), _venv(pydir / "cpython-3.12.1-linux-x86_64-gnu")
    link = pydir / "cpython-3.12-linux-x86_64-gnu"
    os.symlink(new.name, link)
    # As uv does when the newest patch goes: the installation removed, the link moved to the next.
    script = _fake_uv(tmp_path, f'rm -rf "{new}" && rm "{link}" && ln -s {old.name} "{link}"')
    entry = PlanEntry(Kind.MANAGED_PYTHON, new, (new, link), new.name, ("asked for",), uses=(new, link),
                      command=UvCommand((script,)))
    result = execute_plan(plan_outside(PYTHONS, [pydir], [entry]))
    assert result.complete, result.errors
    assert os.readlink(link) == old.name and old.exists()


def test_a_tool_used_by_a_program_started_after_the_plan_is_not_handed_to_uv(tmp_path):
    tools = tmp_path / "tools"
    tool = _tool(tools, "black")
    exe = tool / "bin" / "black"
    os.symlink(sys.executable, tool / "bin" / "python")
    marker = tmp_path / "ran"
    plan = plan_tool_uninstall([read_tool(tool)], _fake_uv(tmp_path, f"touch {marker}"), tool_dir=tools,
                               cache_root=tmp_path / "cache", installed=["black"])
    assert [e.path for e in plan.entries] == [tool]
    exe.write_text(f"#!{tool / 'bin' / 'python'}\nimport time\ntime.sleep(60)\n")
    exe.chmod(exe.stat().st_mode | stat.S_IXUSR)
    proc = subprocess.Popen([str(exe)])
    try:
        time.sleep(0.5)
        result = execute_plan(plan)
    finally:
        proc.kill()
        proc.wait()
    assert not marker.exists() and tool.exists()
    assert "in use by a running process" in result.skipped[-1].reason and not result.complete


def test_a_tool_name_uv_does_not_list_is_never_handed_to_it(tmp_path):
    tools = tmp_path / "tools"
    hostile = _tool(tools, "--all")
    listed = _tool(tools, "black")
    plan = plan_tool_uninstall([read_tool(hostile), read_tool(listed)], "uv", tool_dir=tools, cache_root=tmp_path,
                               installed=["black"])
    assert [e.path for e in plan.entries] == [listed]
    assert plan.entries[0].command.argv == ("uv", "tool", "uninstall", "--", "black")
    assert "not handed to uv" in plan.skipped[0].reason and plan.skipped[0].path == hostile


def test_a_uv_command_beside_the_cache_never_gets_a_place_of_its_own_as_the_cache(tmp_path, monkeypatch):
    """A command that names no cache runs with the user's (or uv's default), never with the tool
    or Python directory as UV_CACHE_DIR, where uv would make a cache of its own."""
    tools = tmp_path / "tools"
    tool = _tool(tools, "black")
    seen = tmp_path / "seen"
    script = _fake_uv(tmp_path, f'echo "cache=${{UV_CACHE_DIR-unset}}" > {seen}; rm -rf "$1"')
    monkeypatch.delenv("UV_CACHE_DIR", raising=False)
    result = execute_plan(plan_outside(TOOLS, [tools], [_tool_entry(tool, (script, str(tool)))]))
    assert result.complete and seen.read_text().strip() == "cache=unset"
    tool = _tool(tools, "black")
    monkeypatch.setenv("UV_CACHE_DIR", str(tmp_path / "users-cache"))
    assert execute_plan(plan_outside(TOOLS, [tools], [_tool_entry(tool, (script, str(tool)))])).complete
    assert seen.read_text().strip() == f"cache={tmp_path / 'users-cache'}"
    assert sorted(p.name for p in tools.iterdir()) == []  # and nothing of a cache was made there
