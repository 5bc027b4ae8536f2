"""``envtui prune`` run in-process, as a user runs it (envtui/commands/prune.py's run and
envtui/commands/prune_machine.py): every refusal and its exit code, uv's cache lock held by another
process, the lock taken and let go with --yes, the plan of managed Pythons, tools and project
environments through a stand-in uv, the worst exit code of several plans. Hand-made caches
(tests/core/handmade.py); real uv: tests/integration/test_cli_refuses.py, test_outside_uv.py."""

from __future__ import annotations

import fcntl
import io
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from envtui.cli import build_parser
from envtui.commands import prune, prune_machine
from envtui.core.digest import script_environment_name
from envtui.core.errors import CacheError
from envtui.core.locks import ProcessInfo
from envtui.core.prune import safety

from .handmade import OLD, make_cache, pyvenv, script_env, unpacked, wheel_link


class _Stdin(io.StringIO):
    def isatty(self) -> bool:
        return False


@pytest.fixture(autouse=True)
def _quiet(tmp_path, monkeypatch):
    """envtui's state in tmp_path; no terminal (every deleting run says --yes)."""
    monkeypatch.setenv("ENVTUI_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setattr(sys, "stdin", _Stdin())


def _run(*argv: str) -> int:
    args = build_parser().parse_args(["prune", *argv])
    return args.run(args)


@pytest.fixture
def cache(tmp_path):
    root = make_cache(tmp_path / "cache", "environments-v2")
    (tmp_path / "scripts").mkdir()
    old, new = tmp_path / "scripts" / "old.py", tmp_path / "scripts" / "new.py"
    for s in (old, new):
        s.write_text("print()\n")
    script_env(root, old, used=OLD, built=OLD)
    script_env(root, new)
    return root


def _envs(cache: Path) -> list[str]:
    return sorted(p.name for p in (cache / "environments-v2").iterdir())


# -- the cache -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("argv, says", [
    ([], "choose at least one policy (--unreferenced, --dangling, --orphans, --older-than, --keep-latest, "
         "--max-size, --interpreters, --package)"),
    (["--older-than", "1", "--package", "x"], "--package runs on its own: give the policies in a second prune"),
    (["--older-than", "1", "--tool", "x"], "prune the cache and what lies outside it (--project-env, "
                                            "--unused-pythons, --tool) in two runs"),
    (["--package", "x", "--unused-pythons"], "prune the cache and what lies outside it"),
    (["--interpreters", "--project-env", "p"], "prune the cache and what lies outside it"),
])
def test_what_cannot_be_done_in_one_run_is_refused_with_exit_2(cache, capsys, argv, says):
    assert _run("--cache-dir", str(cache), "--yes", *argv) == 2
    assert capsys.readouterr().err.startswith(f"envtui: {says}") and len(_envs(cache)) == 2


def test_no_cache_and_a_root_that_must_never_be_pruned_exit_2(cache, tmp_path, capsys, monkeypatch):
    assert _run("--cache-dir", str(tmp_path / "nothing"), "--older-than", "0", "--yes") == 2
    err = capsys.readouterr().err
    assert err.startswith(f"envtui: {tmp_path / 'nothing'}") and err.endswith("(cache location from --cache-dir)\n")
    from envtui.core.prune import remover

    monkeypatch.setattr(remover, "_homes", lambda: {str(cache)})
    assert _run("--cache-dir", str(cache), "--older-than", "0", "--yes") == 2
    assert "home directory" in capsys.readouterr().err and len(_envs(cache)) == 2


def test_with_yes_the_old_environment_goes_under_uvs_lock_and_the_lock_is_let_go(cache, capsys, monkeypatch):
    ran = {}
    real = prune.run_plan

    def run_plan(args, plan, **kw):
        ran.update(kw, exclusive=plan.exclusive, vetted=plan.vetted)
        ran["held during the run"] = kw["under"] is not None and kw["under"].held
        return real(args, plan, **kw)

    monkeypatch.setattr(prune, "run_plan", run_plan)
    assert _run("--cache-dir", str(cache), "--older-than", "30", "--yes", "--wait", "2", "--measure", "statvfs") == 0
    assert _envs(cache) == [script_environment_name(cache.parent / "scripts" / "new.py")]
    assert ran["held during the run"] and ran["exclusive"] and ran["wait"] == 2.0 and ran["measure"] == "statvfs"
    assert ran["go_on_if_busy"] is False and not ran["under"].held  # released once the run is over
    # The plan was checked under that same lock: the run reuses what those checks saw.
    assert ran["vetted"] is not None and ran["vetted"].lock is ran["under"]
    fd = os.open(cache / ".lock", os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # nobody holds it any more
    finally:
        os.close(fd)
    assert "Deleted 1 of 1 entries." in capsys.readouterr().out


def test_a_dry_run_takes_no_lock_and_deletes_nothing(cache, capsys, monkeypatch):
    seen = []
    monkeypatch.setattr(prune, "try_lock_root", lambda root: seen.append(root))
    assert _run("--cache-dir", str(cache), "--older-than", "30", "--dry-run", "--yes", "--json") == 0
    doc = json.loads(capsys.readouterr().out)
    assert [Path(e["path"]).name for e in doc["entries"]] == [script_environment_name(cache.parent / "scripts" / "old.py")]
    assert seen == [] and len(_envs(cache)) == 2


@pytest.fixture
def uv_holds_the_lock(cache):
    """Another process holds uv's root lock shared, as a running uv does."""
    (cache / ".lock").write_text("")
    proc = subprocess.Popen(["flock", "-s", str(cache / ".lock"), "sleep", "60"])
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        fd = os.open(cache / ".lock", os.O_RDONLY)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            break
        finally:
            os.close(fd)
        time.sleep(0.02)
    yield proc
    proc.kill()
    proc.wait()


def test_a_held_cache_lock_exits_3_naming_the_holder_after_waiting_if_asked(cache, uv_holds_the_lock, capsys):
    assert _run("--cache-dir", str(cache), "--older-than", "30", "--yes") == 3
    err = capsys.readouterr().err
    assert err.startswith(f"envtui: uv's cache lock is held by pid {uv_holds_the_lock.pid}: flock -s ")
    assert err.endswith("; pass --wait SECONDS or --skip-in-use\n")
    start = time.monotonic()
    assert _run("--cache-dir", str(cache), "--older-than", "30", "--yes", "--wait", "0.3") == 3
    assert time.monotonic() - start >= 0.3
    assert capsys.readouterr().err.startswith("envtui: uv is running; waiting up to 0.3 s for it to finish\n")
    assert len(_envs(cache)) == 2


def test_a_held_cache_lock_lets_a_dry_run_show_and_skip_in_use_go_on(cache, uv_holds_the_lock, capsys):
    start = time.monotonic()
    assert _run("--cache-dir", str(cache), "--older-than", "30", "--dry-run", "--wait", "5") == 0
    assert time.monotonic() - start < 4  # a dry run never waits
    out = capsys.readouterr()
    assert out.out.startswith("uv is running (it holds the cache lock)") and "waiting" not in out.err
    assert _run("--cache-dir", str(cache), "--older-than", "30", "--yes", "--skip-in-use") == 0
    assert _envs(cache) == [script_environment_name(cache.parent / "scripts" / "new.py")]


def test_a_cache_lock_that_cannot_be_used_is_refused_unless_only_looking(cache, capsys):
    os.mkfifo(cache / ".lock")
    assert _run("--cache-dir", str(cache), "--older-than", "30", "--yes") == 2
    assert capsys.readouterr().err.startswith(f"envtui: cannot take uv's cache lock: {cache / '.lock'}: ")
    assert _run("--cache-dir", str(cache), "--older-than", "30", "--dry-run") == 0
    out = capsys.readouterr()
    assert out.err.startswith(f"envtui: note: uv's cache lock cannot be used ({cache / '.lock'}: ")
    assert out.err.endswith("); the plan assumes uv is running\n") and out.out.startswith("uv is running")


def test_orphans_are_proven_from_their_keys_and_from_the_scripts_seen_before(cache, tmp_path, capsys):
    scripts = tmp_path / "scripts"
    lost = scripts / "lost.py"  # never seen: deleted before envtui ever ran
    env = script_env(cache, lost)
    assert _run("--cache-dir", str(cache), "--orphans", "--dry-run", "--json", "--roots", str(scripts)) == 0
    assert [e["path"] for e in json.loads(capsys.readouterr().out)["entries"]] == [str(env)]
    # Seen once, under the roots; gone since: an orphan without the roots too.
    (scripts / "new.py").unlink()
    assert _run("--cache-dir", str(cache), "--orphans", "--dry-run", "--json") == 0
    assert [Path(e["path"]).name for e in json.loads(capsys.readouterr().out)["entries"]] == [
        env.name, script_environment_name(scripts / "new.py")]


def test_a_package_is_pruned_alone_and_with_yes_checked_under_uvs_lock(cache, capsys, monkeypatch):
    unpacked(cache, "abc", "tabulate", "0.9.0")
    wheel_link(cache, "wheels-v8", "pypi", "tabulate", "tabulate-0.9.0-py3-none-any", "abc")
    assert _run("--cache-dir", str(cache), "--package", "tabulate", "--dry-run", "--json") == 0
    [entry] = json.loads(capsys.readouterr().out)["entries"]
    assert entry["path"] == str(cache / "wheels-v8" / "pypi" / "tabulate")
    assert str(cache / "archive-v0" / "abc") in entry["paths"]
    plans = []
    real = prune.run_plan
    monkeypatch.setattr(prune, "run_plan", lambda args, plan, **kw: plans.append((plan, kw["under"])) or real(args, plan, **kw))
    assert _run("--cache-dir", str(cache), "--package", "tabulate", "--yes") == 0
    [(plan, under)] = plans
    assert plan.vetted is not None and plan.vetted.lock is under
    assert not (cache / "wheels-v8" / "pypi" / "tabulate").exists() and not (cache / "archive-v0" / "abc").exists()


def test_a_cache_that_cannot_be_read_or_planned_exits_2(cache, capsys, monkeypatch):
    def broken(*a, **kw):
        raise CacheError(cache, "cannot list environments-v2")

    monkeypatch.setattr(prune, "plan_prune", broken)
    assert _run("--cache-dir", str(cache), "--older-than", "0", "--dry-run") == 2
    assert capsys.readouterr().err == f"envtui: {cache}: cannot list environments-v2\n"
    monkeypatch.setattr(prune, "plan_packages", broken)
    assert _run("--cache-dir", str(cache), "--package", "x", "--dry-run") == 2
    monkeypatch.setattr(prune, "scan_inventory", broken)
    assert _run("--cache-dir", str(cache), "--older-than", "0", "--dry-run") == 2
    assert capsys.readouterr().err.count("cannot list environments-v2") == 2


# -- beside the cache ------------------------------------------------------------------------------------

FAKE_UV = r'''#!{python}
"""A stand-in for uv: lists what is in UV_PYTHON_INSTALL_DIR and UV_TOOL_DIR as uv 0.13 does, and
uninstalls by removing the directory; an uninstall of what the file FAIL next to it names
(python, tool) fails."""
import json, os, re, shutil, sys
here = os.path.dirname(os.path.abspath(__file__))
args = sys.argv[1:]
fail = os.path.join(here, "FAIL")
if os.path.exists(fail) and args[:2] == [open(fail).read(), "uninstall"]:
    print("error: it broke"); sys.exit(1)
if args[:2] == ["python", "list"]:
    d = os.environ["UV_PYTHON_INSTALL_DIR"]
    out = []
    for n in sorted(os.listdir(d)):
        m = re.match(r"^(cpython)-(\d+\.\d+\.\d+)-(linux)-(x86_64)-(gnu)$", n)
        if m and not os.path.islink(os.path.join(d, n)):
            out.append({{"key": n, "version": m[2], "path": os.path.join(d, n, "bin", "python3"),
                        "implementation": m[1], "variant": "default", "os": m[3], "arch": m[4], "libc": m[5]}})
    print(json.dumps(out))
elif args[:2] == ["tool", "list"]:
    d = os.environ["UV_TOOL_DIR"]
    for n in sorted(os.listdir(d)):
        print(f"{{n}} v1.0 ({{os.path.join(d, n)}})")
elif args[:2] == ["python", "uninstall"]:
    open(os.path.join(here, "cache-dir"), "w").write(os.environ["UV_CACHE_DIR"])
    shutil.rmtree(os.path.join(args[2].split("=", 1)[1], args[-1]))
    print(f"Uninstalled {{args[-1]}}")
elif args[:2] == ["tool", "uninstall"]:
    open(os.path.join(here, "cache-dir"), "w").write(os.environ["UV_CACHE_DIR"])
    shutil.rmtree(os.path.join(os.environ["UV_TOOL_DIR"], args[-1]))
'''


def _python(pydir: Path, version: str) -> Path:
    install = pydir / f"cpython-{version}-linux-x86_64-gnu"
    (install / "bin").mkdir(parents=True)
    (install / "bin" / "python3").write_bytes(b"\x7fELF" + b"x" * 4000)
    return install


@pytest.fixture
def machine(cache, tmp_path, monkeypatch):
    """A Python directory (3.12.1 used by a project, 3.11.0 unused), a tool directory (black),
    a root with two projects, and a stand-in uv."""
    py, tools, root = tmp_path / "py", tmp_path / "tools", tmp_path / "root"
    used, unused = _python(py, "3.12.1"), _python(py, "3.11.0")
    pyvenv(root / "app" / ".venv", home=str(used / "bin"))
    pyvenv(root / "lib" / ".venv", home=str(used / "bin"))
    black = pyvenv(tools / "black", home=str(used / "bin"))
    (black / "uv-receipt.toml").write_text('[tool]\nrequirements = [{ name = "black" }]\n')
    uv = tmp_path / "uvbin" / "uv"
    uv.parent.mkdir()
    uv.write_text(FAKE_UV.format(python=sys.executable))
    uv.chmod(0o755)
    monkeypatch.setenv("UV_PYTHON_INSTALL_DIR", str(py))
    monkeypatch.setenv("UV_TOOL_DIR", str(tools))
    monkeypatch.setattr(prune_machine, "find_uv", lambda: str(uv))
    return {"py": py, "tools": tools, "root": root, "used": used, "unused": unused, "black": black, "uv": uv}


def test_the_unused_python_is_uninstalled_through_uv_and_the_used_one_kept(cache, machine, capsys):
    assert _run("--cache-dir", str(cache), "--roots", str(machine["root"]), "--unused-pythons", "--yes") == 0
    out = capsys.readouterr()
    assert not machine["unused"].exists() and machine["used"].exists()
    assert (machine["uv"].parent / "cache-dir").read_text() == str(cache)  # uv told which cache is envtui's
    assert (f"in use by tool {machine['black']}, project environment {machine['root'] / 'app' / '.venv'}, "
            f"project environment {machine['root'] / 'lib' / '.venv'}") in out.out
    assert out.err.splitlines() == [f"  uv: Uninstalled {machine['unused'].name}", f"[1/1] deleted {machine['unused']}"]


def test_without_the_roots_a_python_only_a_project_runs_on_is_still_kept_by_what_the_tool_runs_on(cache, machine, capsys):
    # The tool runs on 3.12.1 too: whatever the roots, it stays.
    assert _run("--cache-dir", str(cache), "--unused-pythons", "--dry-run", "--json") == 0
    doc = json.loads(capsys.readouterr().out)
    assert [e["path"] for e in doc["pythons"]["entries"]] == [str(machine["unused"])]
    assert doc["pythons"]["skipped"][0]["reason"] == f"in use by tool {machine['black']}"


def test_while_a_projects_base_cannot_be_read_no_python_is_uninstalled(cache, machine, capsys):
    (machine["root"] / "lib" / ".venv" / "pyvenv.cfg").write_text("garbage\n")
    assert _run("--cache-dir", str(cache), "--roots", str(machine["root"]), "--unused-pythons", "--yes") == 0
    assert machine["unused"].exists() and "cannot tell whether it is unused" in capsys.readouterr().out


def test_a_failed_uv_uninstall_exits_1_and_says_why(cache, machine, capsys):
    (machine["uv"].parent / "FAIL").write_text("python")
    assert _run("--cache-dir", str(cache), "--roots", str(machine["root"]), "--unused-pythons", "--yes") == 1
    assert f"[1/1] FAILED (uv exited with status 1: error: it broke) {machine['unused']}" in capsys.readouterr().err
    assert machine["unused"].exists()


def test_a_tool_is_uninstalled_by_name_and_one_not_installed_is_refused(cache, machine, capsys):
    assert _run("--cache-dir", str(cache), "--tool", "ruff", "--tool", "flake8", "--tool", "black", "--yes") == 2
    assert capsys.readouterr().err == f"envtui: no installed tool named flake8, ruff in {machine['tools']}\n"
    assert machine["black"].exists()
    assert _run("--cache-dir", str(cache), "--tool", "black", "--yes") == 0
    assert not machine["black"].exists() and f"[1/1] deleted {machine['black']}" in capsys.readouterr().err
    assert (machine["uv"].parent / "cache-dir").read_text() == str(cache)


def test_a_tool_a_process_envtui_cannot_inspect_may_use_is_kept_unless_forced(cache, machine, capsys, monkeypatch):
    class Uninspectable:
        def using(self, uses, parents):
            return [ProcessInfo(4242, "x", "cannot be inspected (user bob, uid 1001): may use it", uncertain=True)]

    monkeypatch.setattr(safety, "ProcessPaths", Uninspectable)
    assert _run("--cache-dir", str(cache), "--tool", "black", "--yes") == 0
    assert machine["black"].exists() and "may be in use by a process envtui cannot inspect" in capsys.readouterr().out
    assert _run("--cache-dir", str(cache), "--tool", "black", "--yes", "--ignore-uninspectable") == 0
    assert not machine["black"].exists()


def test_project_environments_are_deleted_only_inside_the_roots_and_never_in_uvs_directories(cache, machine, capsys):
    root = machine["root"]
    assert _run("--cache-dir", str(cache), "--project-env", str(root / "app" / ".venv")) == 2
    assert capsys.readouterr().err == ("envtui: --project-env needs --roots: a project environment is deleted only "
                                       "inside a root you name\n")
    in_cache = pyvenv(cache / "environments-v2" / "lookalike")
    argv = ["--cache-dir", str(cache), "--roots", str(machine["py"].parent), "--yes", "--json",
            "--project-env", str(root / "app" / ".venv"), "--project-env", str(in_cache),
            "--project-env", str(machine["black"])]
    assert _run(*argv) == 0
    doc = json.loads(capsys.readouterr().out)
    assert list(doc) == ["project_envs"]
    assert doc["project_envs"]["deleted"] == [str(root / "app" / ".venv")]
    assert [e["label"] for e in doc["project_envs"]["entries"]] == ["app"]
    assert [s["reason"] for s in doc["project_envs"]["skipped"]] == [
        f"unsafe: {in_cache / 'pyvenv.cfg'} lies in {cache}, which is pruned by its own rules, not as a project environment",
        f"unsafe: {machine['black'] / 'pyvenv.cfg'} lies in {machine['tools']}, which is pruned by its own rules, not as a "
        "project environment"]
    assert in_cache.exists() and machine["black"].exists() and (root / "lib" / ".venv").exists()


def test_several_plans_run_in_turn_and_the_worst_exit_code_wins(cache, machine, capsys):
    (machine["uv"].parent / "FAIL").write_text("python")
    root = machine["root"]
    assert _run("--cache-dir", str(cache), "--roots", str(root), "--project-env", str(root / "lib" / ".venv"),
                "--unused-pythons", "--tool", "black", "--yes", "--json") == 1
    out = capsys.readouterr().out
    doc = json.loads(out)
    assert out == json.dumps(doc, indent=2) + "\n"
    assert list(doc) == ["project_envs", "pythons", "tools"]
    assert [d["complete"] for d in doc.values()] == [True, False, True]  # the last one went well
    assert not (root / "lib" / ".venv").exists() and machine["unused"].exists() and not machine["black"].exists()


def test_beside_the_cache_no_cache_no_uv_or_a_uv_that_fails_exits_2(cache, machine, tmp_path, capsys, monkeypatch):
    assert _run("--cache-dir", str(tmp_path / "nothing"), "--tool", "black", "--yes") == 2
    assert capsys.readouterr().err.endswith("(cache location from --cache-dir)\n")
    monkeypatch.setattr(prune_machine, "find_uv", lambda: None)
    assert _run("--cache-dir", str(cache), "--unused-pythons", "--yes") == 2
    assert capsys.readouterr().err == ("envtui: uv is not installed: managed Pythons and tools are uninstalled "
                                       "through uv\n")
    root = machine["root"]
    # A project environment needs no uv.
    assert _run("--cache-dir", str(cache), "--roots", str(root), "--project-env", str(root / "app" / ".venv"), "--yes") == 0
    broken = tmp_path / "uvbin" / "broken"
    broken.write_text("#!/bin/sh\necho 'error: no python here' >&2\nexit 2\n")
    broken.chmod(0o755)
    monkeypatch.setattr(prune_machine, "find_uv", lambda: str(broken))
    capsys.readouterr()
    assert _run("--cache-dir", str(cache), "--unused-pythons", "--yes") == 2
    assert capsys.readouterr().err == "envtui: python list: error: no python here\n"
    assert machine["unused"].exists()


def test_a_python_an_environment_of_the_cache_runs_on_is_kept(cache, machine, tmp_path, capsys):
    script = tmp_path / "scripts" / "on-311.py"
    env = script_env(cache, script, home=str(machine["unused"] / "bin"))
    assert _run("--cache-dir", str(cache), "--unused-pythons", "--dry-run", "--json") == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["pythons"]["entries"] == []
    assert f"in use by script environment {env}" in [s["reason"] for s in doc["pythons"]["skipped"]]


def test_a_project_or_python_a_process_envtui_cannot_inspect_may_use_is_kept_unless_forced(cache, machine, capsys,
                                                                                            monkeypatch):
    class Uninspectable:
        def using(self, uses, parents):
            return [ProcessInfo(4242, "x", "cannot be inspected (user bob, uid 1001): may use it", uncertain=True)]

    monkeypatch.setattr(safety, "ProcessPaths", Uninspectable)
    root = machine["root"]
    argv = ["--cache-dir", str(cache), "--roots", str(root), "--project-env", str(root / "app" / ".venv"),
            "--unused-pythons", "--dry-run", "--json"]
    assert _run(*argv) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["project_envs"]["entries"] == [] and doc["pythons"]["entries"] == []
    assert _run(*argv, "--ignore-uninspectable") == 0
    doc = json.loads(capsys.readouterr().out)
    assert [e["path"] for e in doc["project_envs"]["entries"]] == [str(root / "app" / ".venv")]
    assert [e["path"] for e in doc["pythons"]["entries"]] == [str(machine["unused"])]


@pytest.mark.parametrize("holders, who", [
    ((ProcessInfo(1, "uv sync"), ProcessInfo(2, "uv run x.py")), "pid 1: uv sync; pid 2: uv run x.py"),
    ((), "processes you cannot inspect"),
])
def test_the_holders_of_uvs_lock_are_named_or_said_unseen(cache, capsys, monkeypatch, holders, who):
    from envtui.core.locks import HELD, RootLockState

    monkeypatch.setattr(prune, "probe_root_lock", lambda root, wait=0.0: RootLockState(root / ".lock", HELD, holders))
    assert _run("--cache-dir", str(cache), "--older-than", "30", "--yes") == 3
    assert capsys.readouterr().err == f"envtui: uv's cache lock is held by {who}; pass --wait SECONDS or --skip-in-use\n"


def test_the_plan_says_whether_uv_runs_and_who_holds_its_lock(cache, uv_holds_the_lock, capsys):
    unpacked(cache, "abc", "tabulate", "0.9.0")
    wheel_link(cache, "wheels-v8", "pypi", "tabulate", "tabulate-0.9.0-py3-none-any", "abc")
    for policy in (["--older-than", "30"], ["--package", "tabulate"]):
        assert _run("--cache-dir", str(cache), *policy, "--dry-run") == 0
        lines = capsys.readouterr().out.splitlines()
        assert lines[0] == "uv is running (it holds the cache lock); entries it may be writing are skipped:"
        assert lines[1].startswith(f"  pid {uv_holds_the_lock.pid}: flock -s {cache / '.lock'} sleep 60")


def test_a_free_lock_makes_an_exclusive_plan(cache, capsys):
    assert _run("--cache-dir", str(cache), "--older-than", "30", "--dry-run", "--json") == 0
    assert json.loads(capsys.readouterr().out)["exclusive"] is True


PEP723 = "# /// script\n# dependencies = []\n# ///\nprint()\n"


def test_a_script_found_under_the_roots_names_its_environment(cache, tmp_path, capsys):
    old = tmp_path / "scripts" / "old.py"
    old.write_text(PEP723)
    assert _run("--cache-dir", str(cache), "--older-than", "30", "--dry-run", "--json", "--roots", str(old.parent)) == 0
    assert [e["label"] for e in json.loads(capsys.readouterr().out)["entries"]] == [str(old)]


def test_a_script_found_under_the_roots_is_remembered_even_when_its_key_proves_nothing(cache, tmp_path, capsys):
    script = tmp_path / "scripts" / "quiet.py"
    script.write_text(PEP723)
    env = pyvenv(cache / "environments-v2" / script_environment_name(script))  # no prompt: no proof by key
    assert _run("--cache-dir", str(cache), "--orphans", "--dry-run", "--json", "--roots", str(script.parent)) == 0
    assert json.loads(capsys.readouterr().out)["entries"] == []
    script.unlink()
    assert _run("--cache-dir", str(cache), "--orphans", "--dry-run", "--json") == 0
    assert [e["path"] for e in json.loads(capsys.readouterr().out)["entries"]] == [str(env)]
