"""The plans beside the cache (envtui/core/prune/machine.py): project environments and tools, every
field the executor and the person reading the plan rely on; a tool or a project a running process
uses, or whose lock a uv holds, is skipped; a plan cut short is no plan. Hand-made layouts in
tmp_path (real uv: tests/integration/test_outside_uv.py)."""

from __future__ import annotations

import dataclasses
import fcntl
import os
import subprocess
import sys
from pathlib import Path

import pytest

from envtui.core.disk import freed_bytes
from envtui.core.errors import ScanCancelled
from envtui.core.locks import ProcessInfo
from envtui.core.prune import safety
from envtui.core.prune.machine import plan_outside, plan_project_envs, plan_tool_uninstall
from envtui.core.prune.records import PROJECTS, TOOLS, Kind, PlanEntry, Skipped, UvCommand
from envtui.core.tools import read_tool


def _venv(path: Path, payload: int = 9000) -> Path:
    (path / "lib").mkdir(parents=True)
    (path / "pyvenv.cfg").write_text("home = /usr/bin\n")
    (path / "lib" / "big").write_bytes(os.urandom(payload))
    return path


def _tool(tool_dir: Path, name: str, *install_paths: str | None) -> Path:
    tool = _venv(tool_dir / name)
    points = "".join(
        f'  {{ name = "c{i}", install-path = "{p}" }},\n' if p else f'  {{ name = "c{i}" }},\n'
        for i, p in enumerate(install_paths))
    (tool / "uv-receipt.toml").write_text(f'[tool]\nrequirements = [{{ name = "{name}" }}]\nentrypoints = [\n{points}]\n')
    return tool


class _Uninspectable:
    def using(self, uses, parents):
        return [ProcessInfo(4242, "x", "cannot be inspected (user bob, uid 1001): may use it", uncertain=True)]


# -- project environments --------------------------------------------------------------------------


def test_a_project_environment_is_planned_with_everything_the_executor_needs(tmp_path):
    root = tmp_path / "root"
    a, b = _venv(root / "a" / ".venv", 30000), _venv(root / "b" / ".venv", 50000)
    os.link(a / "lib" / "big", b / "lib" / "shared")  # one inode in both
    plan = plan_project_envs([(a, "a"), (str(root / "b" / "x" / ".." / ".venv"), "b")], [root],
                             keep_out=[tmp_path / "cache"])
    assert [dataclasses.replace(e, bytes_alone=0, bytes_with_plan=0) for e in plan.entries] == [
        PlanEntry(Kind.PROJECT_ENV, p, (p / "pyvenv.cfg", p), label, ("asked for",), lock=p / ".lock", uses=(p,))
        for p, label in ((a, "a"), (b, "b"))]
    both = freed_bytes([a, b])
    shared = os.lstat(a / "lib" / "big").st_blocks * 512
    # Alone, neither frees the file both hold; with the rest of the plan, it counts for each.
    assert [e.bytes_alone for e in plan.entries] == [freed_bytes([a])[0], freed_bytes([b])[0]]
    assert [e.bytes_with_plan for e in plan.entries] == [freed_bytes([a])[0] + shared, freed_bytes([b])[0] + shared]
    assert (plan.bytes_freed, plan.apparent_freed) == both
    assert plan.root == root and plan.roots == (root,) and plan.keep_out == (tmp_path / "cache",) and plan.exclusive
    assert plan.scope == PROJECTS and plan.skipped == () and plan.notes == () and plan.unreadable == ()


def test_a_project_environment_in_use_or_locked_is_skipped_and_the_rest_planned(tmp_path, monkeypatch):
    root = tmp_path / "root"
    used, locked, free = (_venv(root / n / ".venv") for n in ("used", "locked", "free"))
    (locked / ".lock").write_text("")
    fd = os.open(locked / ".lock", os.O_RDONLY)
    fcntl.flock(fd, fcntl.LOCK_EX)
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], cwd=used / "lib")
    try:
        plan = plan_project_envs([(used, "u"), (locked, "l"), (free, "f")], [root])
    finally:
        proc.kill()
        proc.wait()
        os.close(fd)
    assert [e.path for e in plan.entries] == [free]
    assert [(s.path, s.kind, s.reason) for s in plan.skipped] == [
        (used, Kind.PROJECT_ENV, "in use by a running process"),
        (locked, Kind.PROJECT_ENV, f"its lock {locked / '.lock'} is held: a uv is writing it")]
    monkeypatch.setattr(safety, "ProcessPaths", _Uninspectable)
    assert plan_project_envs([(free, "f")], [root]).entries == ()
    assert [e.path for e in plan_project_envs([(free, "f")], [root], ignore_uncertain=True).entries] == [free]


def test_a_plan_cut_short_is_no_plan(tmp_path):
    root = tmp_path / "root"
    venv = _venv(root / "a" / ".venv")
    tool = _tool(tmp_path / "tools", "black")
    with pytest.raises(ScanCancelled):
        plan_project_envs([(venv, "a")], [root], should_stop=lambda: True)
    with pytest.raises(ScanCancelled):
        plan_tool_uninstall([read_tool(tool)], "uv", tool_dir=tmp_path / "tools", cache_root=tmp_path,
                            installed=["black"], should_stop=lambda: True)
    with pytest.raises(ScanCancelled):
        plan_outside(PROJECTS, [root], [PlanEntry(Kind.PROJECT_ENV, venv, (venv,), "a")], should_stop=lambda: True)


def test_an_outside_plan_keeps_what_it_was_given_and_adds_what_it_skipped(tmp_path):
    root, other = tmp_path / "root", tmp_path / "other"
    venv = _venv(root / "a" / ".venv")
    other.mkdir()
    os.symlink(root, tmp_path / "alias")
    given = Skipped(tmp_path / "x", Kind.PROJECT_ENV, "given")
    outside = PlanEntry(Kind.PROJECT_ENV, tmp_path / "far", (tmp_path / "far",), "far")
    plan = plan_outside(PROJECTS, [tmp_path / "alias", other], iter([PlanEntry(Kind.PROJECT_ENV, venv, (venv,), "a"), outside]),
                        skipped=[given], notes=iter(["a note"]), keep_out=[other / "k"])
    assert [e.path for e in plan.entries] == [venv]
    assert plan.skipped == (given, Skipped(tmp_path / "far", Kind.PROJECT_ENV,
                                           f"unsafe: {tmp_path / 'far'} is not inside {root} or {other}"))
    assert plan.root == root and plan.roots == (root, other) and plan.notes == ("a note",) and plan.keep_out == (other / "k",)


# -- tools ---------------------------------------------------------------------------------------------


def test_a_tool_is_planned_with_the_variables_uv_needs_to_find_it_and_its_commands(tmp_path):
    tools, bin_dir = tmp_path / "tools", tmp_path / "bin"
    one = _tool(tools, "black", f"{bin_dir}/black", None, f"{bin_dir}/blackd")
    spread = _tool(tools, "ruff", f"{bin_dir}/ruff", f"{tmp_path}/elsewhere/ruff")
    none = _tool(tools, "tox")
    plan = plan_tool_uninstall([read_tool(t) for t in (one, spread, none)], "uv", tool_dir=tools,
                               cache_root=tmp_path / "cache", installed=["black", "ruff", "tox"])
    base = (("UV_TOOL_DIR", str(tools)), ("UV_CACHE_DIR", str(tmp_path / "cache")))
    assert [dataclasses.replace(e, bytes_alone=0, bytes_with_plan=0) for e in plan.entries] == [
        PlanEntry(Kind.TOOL, t, (t,), t.name, ("asked for",), lock=tools / ".lock", uses=(t,),
                  command=UvCommand(("uv", "tool", "uninstall", "--", t.name), env))
        for t, env in ((one, (*base, ("UV_TOOL_BIN_DIR", str(bin_dir)))), (spread, base), (none, base))]
    assert [e.bytes_alone for e in plan.entries] == [freed_bytes([t])[0] for t in (one, spread, none)]
    assert plan.scope == TOOLS and plan.roots == (tools,) and plan.notes == () and plan.skipped == ()


def test_a_tool_uv_does_not_list_is_skipped_and_the_next_still_planned(tmp_path):
    tools = tmp_path / "tools"
    hidden, listed = _tool(tools, "a-hidden"), _tool(tools, "b-listed")
    plan = plan_tool_uninstall([read_tool(hidden), read_tool(listed)], "uv", tool_dir=tools, cache_root=tmp_path,
                               installed=iter(["b-listed"]))
    assert [e.path for e in plan.entries] == [listed]
    assert plan.skipped == (Skipped(hidden, Kind.TOOL, "not handed to uv: uv does not list a tool named 'a-hidden'"),)


def test_a_tool_in_use_or_locked_is_skipped(tmp_path, monkeypatch):
    tools = tmp_path / "tools"
    tool = _tool(tools, "black")
    (tools / ".lock").write_text("")
    fd = os.open(tools / ".lock", os.O_RDONLY)
    fcntl.flock(fd, fcntl.LOCK_SH)
    try:
        plan = plan_tool_uninstall([read_tool(tool)], "uv", tool_dir=tools, cache_root=tmp_path, installed=["black"])
    finally:
        os.close(fd)
    assert plan.entries == () and plan.skipped[0].reason == f"its lock {tools / '.lock'} is held: a uv is writing it"
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], cwd=tool / "lib")
    try:
        plan = plan_tool_uninstall([read_tool(tool)], "uv", tool_dir=tools, cache_root=tmp_path, installed=["black"])
    finally:
        proc.kill()
        proc.wait()
    assert plan.entries == () and plan.skipped[0].reason == "in use by a running process"
    monkeypatch.setattr(safety, "ProcessPaths", _Uninspectable)
    kept = plan_tool_uninstall([read_tool(tool)], "uv", tool_dir=tools, cache_root=tmp_path, installed=["black"])
    forced = plan_tool_uninstall([read_tool(tool)], "uv", tool_dir=tools, cache_root=tmp_path, installed=["black"],
                                 ignore_uncertain=True)
    assert kept.entries == () and [e.path for e in forced.entries] == [tool]


def test_beside_the_cache_no_root_lock_is_needed_and_uninspectable_processes_keep_what_they_may_use(tmp_path, monkeypatch):
    root = tmp_path / "root"
    venv = _venv(root / "a" / ".venv")
    entry = PlanEntry(Kind.PROJECT_ENV, venv, (venv,), "a", uses=(venv,), needs_exclusive=True)
    assert [e.path for e in plan_outside(PROJECTS, [root], [entry]).entries] == [venv]
    monkeypatch.setattr(safety, "ProcessPaths", _Uninspectable)
    assert plan_outside(PROJECTS, [root], [entry]).entries == ()
    assert [e.path for e in plan_outside(PROJECTS, [root], [entry], ignore_uncertain=True).entries] == [venv]


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to make a directory another user cannot read")
def test_what_the_plan_could_not_read_is_named_and_the_bytes_say_they_are_not_exact():
    import shutil
    import tempfile

    top = Path(tempfile.mkdtemp(prefix="envtui-unreadable-", dir="/tmp"))
    try:
        top.chmod(0o755)
        root = top / "root"
        venv = _venv(root / "a" / ".venv")
        (venv / "secret").mkdir(mode=0o700)
        (venv / "secret" / "x").write_bytes(b"x" * 10000)
        for d in (root, root / "a", venv, venv / "lib"):
            d.chmod(0o755)
        as_root = plan_project_envs([(venv, "a")], [root], ignore_uncertain=True)
        assert [e.path for e in as_root.entries] == [venv] and as_root.unreadable == ()  # root reads it all
        probe = ("from envtui.core.prune.machine import plan_project_envs; "
                 f"plan = plan_project_envs([({str(venv)!r}, 'a')], [{str(root)!r}], ignore_uncertain=True); "
                 "print(repr((plan.unreadable, [str(e.path) for e in plan.entries])))")
        out = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", sys.executable, "-c", probe],
                             capture_output=True, text=True, cwd="/", check=False,
                             env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])})
        assert out.returncode == 0, out.stderr
        unreadable, entries = eval(out.stdout)  # noqa: S307 - our own repr
        assert entries == [str(venv)] and [p for p, _ in unreadable] == [str(venv / "secret")]
        assert "Permission denied" in unreadable[0][1]
    finally:
        shutil.rmtree(top)
