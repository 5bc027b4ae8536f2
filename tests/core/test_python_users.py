"""Which environment runs on which managed Python (envtui/core/pythons.py), and the plan that
uninstalls the unused ones (plan_python_uninstall): a Python reached through a symlink, its
minor-version link or another mount is in use; a Python a running process uses, or whose
directory's lock a uv holds, is not handed to uv; a look cut short is never "unused". Hand-made
installations in tmp_path (real uv: tests/integration/test_machine_uv.py)."""

from __future__ import annotations

import dataclasses
import fcntl
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from envtui.core.disk import freed_bytes
from envtui.core.errors import ScanCancelled
from envtui.core.locks import ProcessInfo
from envtui.core.prune import safety
from envtui.core.prune.machine import UNSEEN_VENVS, plan_python_uninstall
from envtui.core.prune.records import Kind, PlanEntry, Skipped, UvCommand
from envtui.core.pythons import ManagedPython, Use, find_users, locate_python_dir, scan_pythons, uv_data_dir
from envtui.core.uvcli import PythonInstallation

KEY = "cpython-3.12.1-linux-x86_64-gnu"


def _python(pydir: Path, key: str, exe: str | None = "python3.12", payload: int = 5000) -> Path:
    install = pydir / key
    (install / "bin").mkdir(parents=True)
    if exe:
        (install / "bin" / exe).write_bytes(b"\x7fELF" + b"x" * payload)
    return install


def _reported(*installs: Path) -> list[PythonInstallation]:
    """What ``uv python list`` reports for these installations (envtui.core.uvcli.installed_pythons)."""
    return [PythonInstallation(i.name, i.name.split("-")[1], i / "bin" / "python3.12", "cpython", "default",
                               "linux-x86_64-gnu", None, i) for i in installs]


def _fake_uv(tmp_path: Path, body: str) -> str:
    script = tmp_path / "bin" / "uv"
    script.parent.mkdir(exist_ok=True)
    script.write_text("#!/bin/sh\n" + body + "\n")
    script.chmod(0o755)
    return str(script)


# -- uv's Python directory ----------------------------------------------------------------------------


def test_every_field_of_an_installation_comes_from_its_name_and_its_bin(tmp_path):
    _python(tmp_path, "cpython-3.12.1-linux-x86_64-gnu")
    _python(tmp_path, "pypy-3.10.14+debug+freethreaded-linux-aarch64-musl", exe="python3")
    _python(tmp_path, "graalpy-3.11-linux-x86_64-gnu", exe="python")
    _python(tmp_path, "cpython-3.13.0rc1-linux-x86_64-gnu", exe=None)
    assert scan_pythons(tmp_path) == [
        ManagedPython(tmp_path / "cpython-3.12.1-linux-x86_64-gnu", "cpython-3.12.1-linux-x86_64-gnu", "cpython",
                      "3.12.1", None, "linux-x86_64-gnu", tmp_path / "cpython-3.12.1-linux-x86_64-gnu" / "bin" / "python3.12"),
        ManagedPython(tmp_path / "cpython-3.13.0rc1-linux-x86_64-gnu", "cpython-3.13.0rc1-linux-x86_64-gnu", "cpython",
                      "3.13.0rc1", None, "linux-x86_64-gnu", None),
        ManagedPython(tmp_path / "graalpy-3.11-linux-x86_64-gnu", "graalpy-3.11-linux-x86_64-gnu", "graalpy", "3.11",
                      None, "linux-x86_64-gnu", tmp_path / "graalpy-3.11-linux-x86_64-gnu" / "bin" / "python"),
        ManagedPython(tmp_path / "pypy-3.10.14+debug+freethreaded-linux-aarch64-musl",
                      "pypy-3.10.14+debug+freethreaded-linux-aarch64-musl", "pypy", "3.10.14", "debug+freethreaded",
                      "linux-aarch64-musl", tmp_path / "pypy-3.10.14+debug+freethreaded-linux-aarch64-musl" / "bin" / "python3"),
    ]
    assert scan_pythons(tmp_path)[0].minor == "3.12" and scan_pythons(tmp_path)[1].minor == "3.13"


def test_what_is_no_installation_is_passed_over_and_the_rest_still_read(tmp_path):
    (tmp_path / "cpython-3.11.0-linux-x86_64-gnu").write_text("a file named like a key")  # sorts first
    os.mkfifo(tmp_path / "cpython-3.11.1-linux-x86_64-gnu")
    os.symlink("nowhere", tmp_path / "cpython-3.11.2-linux-x86_64-gnu")  # a dangling link
    install = _python(tmp_path, KEY)
    os.symlink(install, tmp_path / "not-a-key")
    assert [p.path for p in scan_pythons(tmp_path)] == [install]
    assert scan_pythons(tmp_path / "missing") == [] and scan_pythons(install / "bin" / "python3.12") == []


def test_a_minor_version_link_belongs_to_the_installation_of_this_directory_it_reaches(tmp_path):
    pydir, elsewhere = tmp_path / "py", tmp_path / "elsewhere"
    install = _python(pydir, KEY)
    _python(elsewhere, KEY)  # the same name in another directory
    os.symlink(tmp_path / "py", tmp_path / "py-alias")
    os.symlink(KEY, pydir / "cpython-3.12-linux-x86_64-gnu")                               # relative
    os.symlink(tmp_path / "py-alias" / KEY, pydir / "cpython-3.12.9-linux-x86_64-gnu")             # absolute, through a link
    os.symlink(f"../py/{KEY}", pydir / "cpython-3.12.1+debug-linux-x86_64-gnu")             # up and back in
    os.symlink(elsewhere / KEY, pydir / "cpython-3.12.0-linux-x86_64-gnu")                  # out: not this one's
    os.symlink(f"../elsewhere/{KEY}", pydir / "cpython-3.12.2-linux-x86_64-gnu")            # out, relative
    [found] = scan_pythons(pydir)
    assert found.path == install and set(found.links) == {
        pydir / "cpython-3.12-linux-x86_64-gnu", pydir / "cpython-3.12.9-linux-x86_64-gnu",
        pydir / "cpython-3.12.1+debug-linux-x86_64-gnu"}
    # The Python directory itself reached through a link: the same installation, the same links.
    [again] = scan_pythons(tmp_path / "py-alias")
    assert again.path == tmp_path / "py-alias" / KEY and len(again.links) == 3


def test_uvs_python_directory_is_its_variable_then_what_uv_says_then_the_data_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert locate_python_dir({"UV_PYTHON_INSTALL_DIR": "rel/py", "PATH": ""}) == (tmp_path / "rel" / "py", "UV_PYTHON_INSTALL_DIR")
    assert locate_python_dir({"UV_PYTHON_INSTALL_DIR": "~/py", "HOME": str(tmp_path / "h"), "PATH": ""})[0] == Path(
        os.path.expanduser("~/py"))
    # The stand-in answers only `uv python dir`, as uv does.
    says = _fake_uv(tmp_path, 'if [ "$*" = "python dir" ]; then echo "warning: x"; echo "$0-dir/python"; else exit 2; fi')
    env = {"PATH": str(tmp_path / "bin"), "XDG_DATA_HOME": str(tmp_path / "data")}
    assert locate_python_dir(env) == (Path(says + "-dir/python"), "uv python dir")
    assert locate_python_dir({"PATH": "", "XDG_DATA_HOME": str(tmp_path / "data")}, uv=says) == (
        Path(says + "-dir/python"), "uv python dir")
    assert locate_python_dir({**env, "UV_PYTHON_INSTALL_DIR": ""}, uv=says)[1] == "uv python dir"  # empty: not set
    _fake_uv(tmp_path, "exit 2")
    assert locate_python_dir(env) == (tmp_path / "data" / "uv" / "python", "platform default")
    _fake_uv(tmp_path, "exit 0")  # says nothing
    assert locate_python_dir(env) == (tmp_path / "data" / "uv" / "python", "platform default")


def test_a_uv_that_hangs_is_given_up_on_after_the_timeout(tmp_path):
    _fake_uv(tmp_path, f"exec {shutil.which('sleep')} 8")  # PATH holds only the stand-in
    start = time.monotonic()
    found = locate_python_dir({"PATH": str(tmp_path / "bin"), "XDG_DATA_HOME": str(tmp_path / "d")}, timeout=0.3)
    assert found == (tmp_path / "d" / "uv" / "python", "platform default") and time.monotonic() - start < 3


def test_uvs_data_directory_follows_xdg_then_home(tmp_path, monkeypatch):
    assert uv_data_dir({"XDG_DATA_HOME": str(tmp_path / "x")}) == tmp_path / "x" / "uv"
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert uv_data_dir({"XDG_DATA_HOME": ""}) == tmp_path / "home" / ".local" / "share" / "uv"
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "mine"))
    assert uv_data_dir() == tmp_path / "mine" / "uv"  # the process's own environment by default


# -- what runs on which --------------------------------------------------------------------------------


def _users(pydir: Path, *candidates) -> dict[str, tuple[Use, ...]]:
    return {p.key: p.used_by for p in find_users(scan_pythons(pydir), candidates)}


def test_a_python_reached_through_a_symlink_is_used(tmp_path):
    pydir = tmp_path / "py"
    install = _python(pydir, KEY)
    os.symlink(install, tmp_path / "my-python")          # a link to the installation
    os.symlink(pydir, tmp_path / "pythons")             # a link to the Python directory
    via_link, via_dir = Use("project environment", tmp_path / "a"), Use("tool", tmp_path / "b")
    users = _users(pydir, (via_link, [str(tmp_path / "my-python" / "bin")]),
                   (via_dir, [None, str(tmp_path / "pythons" / KEY / "bin" / "python3.12")]))
    assert users[KEY] == (via_link, via_dir)


def test_a_venv_names_its_python_as_it_wrote_it_even_where_the_link_now_points_elsewhere(tmp_path):
    pydir = tmp_path / "py"
    old, new = _python(pydir, "cpython-3.12.0-linux-x86_64-gnu"), _python(pydir, KEY)
    link = pydir / "cpython-3.12-linux-x86_64-gnu"
    os.symlink(new.name, link)
    env = Use("script environment", tmp_path / "e")
    # Written through the minor link: the venv follows the link, so it runs on whatever the link
    # names; today that is the newest, and the older one is not its Python.
    users = _users(pydir, (env, ["", str(link / "bin"), None]))
    assert users == {old.name: (), new.name: (env,)}


def test_a_venv_that_reaches_its_python_through_the_installation_uses_it_wherever_that_leads(tmp_path):
    pydir = tmp_path / "py"
    install = _python(pydir, KEY)
    os.symlink(sys.executable, install / "bin" / "python3")  # leads out of the installation
    env = Use("project environment", tmp_path / "v")
    # The venv's bin/python goes through the installation's directory: uninstalling it breaks the venv.
    assert _users(pydir, (env, [str(install / "bin" / "python3")]))[KEY] == (env,)


def test_every_candidate_counts_once_per_python_and_only_what_lies_inside(tmp_path):
    pydir = tmp_path / "py"
    a, b = _python(pydir, KEY), _python(pydir, "cpython-3.11.0-linux-x86_64-gnu")
    os.symlink(a / "bin" / "python3.12", tmp_path / "python-out")
    same = Use("project environment", tmp_path / "p")
    both = Use("tool", tmp_path / "t")
    users = _users(pydir,
                   (same, [str(a / "bin"), str(a / "bin" / "python3.12")]),
                   (same, [str(a)]),
                   (both, [str(b / "bin"), str(tmp_path / "python-out")]),
                   (Use("tool", tmp_path / "u"), [str(pydir), str(pydir) + "/cpython-3.12.1-linux-x86_64-gnu-old/bin"]))
    assert users == {KEY: (same, both), b.name: (both,)}


@pytest.mark.skipif(os.geteuid() != 0, reason="bind mounts need root")
def test_a_python_reached_through_another_mount_of_it_is_used(tmp_path):
    pydir = tmp_path / "py"
    install = _python(pydir, KEY)
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    if subprocess.run(["mount", "--bind", str(install), str(mnt)], capture_output=True, check=False).returncode != 0:
        pytest.skip("cannot bind-mount here")
    try:
        env = Use("project environment", tmp_path / "v")
        assert _users(pydir, (env, [str(mnt / "bin")]))[KEY] == (env,)
        assert _users(pydir, (env, [str(mnt)]))[KEY] == (env,)  # the installation's own directory
    finally:
        subprocess.run(["umount", str(mnt)], check=False)


def test_a_look_cut_short_is_never_an_answer(tmp_path):
    _python(tmp_path, KEY)
    asked = []

    def stop():
        asked.append(1)
        return len(asked) > 1  # the second candidate is never looked at

    with pytest.raises(ScanCancelled):
        find_users(scan_pythons(tmp_path), [(Use("tool", tmp_path / "t"), ["/usr/bin"]),
                                            (Use("tool", tmp_path / "u"), [str(tmp_path / KEY)])], should_stop=stop)


# -- the plan ------------------------------------------------------------------------------------------


def _plan(pydir: Path, pythons, *installs: Path, **kw):
    return plan_python_uninstall(pythons, "uv", python_dir=pydir, cache_root=pydir.parent / "cache",
                                 installed=_reported(*installs), **kw)


def test_an_unused_python_is_planned_with_everything_the_executor_needs(tmp_path):
    pydir = tmp_path / "py"
    install = _python(pydir, KEY, payload=20000)
    os.symlink(KEY, pydir / "cpython-3.12-linux-x86_64-gnu")
    plan = _plan(pydir, scan_pythons(pydir), install)
    [entry] = plan.entries
    link = pydir / "cpython-3.12-linux-x86_64-gnu"
    assert dataclasses.replace(entry, bytes_alone=0, bytes_with_plan=0) == PlanEntry(
        Kind.MANAGED_PYTHON, install, (install, link), KEY, ("unused: no environment envtui can see runs on it",),
        lock=pydir / ".lock", uses=(install, link),
        command=UvCommand(("uv", "python", "uninstall", f"--install-dir={pydir}", "--", KEY),
                          (("UV_PYTHON_INSTALL_DIR", str(pydir)), ("UV_CACHE_DIR", str(tmp_path / "cache")))))
    disk, apparent = freed_bytes([install, link])
    assert entry.bytes_alone == entry.bytes_with_plan == plan.bytes_freed == disk and plan.apparent_freed == apparent
    assert plan.root == pydir and plan.roots == (pydir,) and plan.scope == "managed Pythons" and plan.exclusive
    assert plan.notes == (UNSEEN_VENVS,) and plan.skipped == () and plan.unreadable == () and plan.keep_out == ()


def test_only_the_pythons_asked_for_are_planned_whatever_their_order(tmp_path):
    pydir = tmp_path / "py"
    installs = [_python(pydir, f"cpython-3.1{n}.0-linux-x86_64-gnu") for n in (0, 1, 2)]
    plan = _plan(pydir, scan_pythons(pydir), *installs, keys=[installs[2].name, installs[1].name])
    assert [e.path for e in plan.entries] == installs[1:]
    assert all(e.reasons == ("asked for",) for e in plan.entries) and plan.notes == () and plan.skipped == ()


def test_a_python_a_running_process_uses_is_skipped_when_planned_and_when_run(tmp_path):
    from envtui.core.prune import execute_plan

    pydir = tmp_path / "py"
    install = _python(pydir, KEY)
    os.symlink(KEY, pydir / "cpython-3.12-linux-x86_64-gnu")
    # Started from the minor-version link's spelling: the kernel holds the real directory.
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"],
                            cwd=pydir / "cpython-3.12-linux-x86_64-gnu" / "bin")
    try:
        plan = _plan(pydir, scan_pythons(pydir), install)
        assert plan.entries == ()
        [skipped] = plan.skipped
        assert (skipped.path, skipped.kind, skipped.reason) == (install, Kind.MANAGED_PYTHON, "in use by a running process")
        assert [p.pid for p in skipped.processes] == [proc.pid]
    finally:
        proc.kill()
        proc.wait()
    plan = _plan(pydir, scan_pythons(pydir), install)
    assert [e.path for e in plan.entries] == [install]
    marker = tmp_path / "uv-ran"
    entry = dataclasses.replace(plan.entries[0], command=UvCommand((_fake_uv(tmp_path, f"touch {marker}"),)))
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], cwd=install)
    try:
        result = execute_plan(dataclasses.replace(plan, entries=(entry,)))
    finally:
        proc.kill()
        proc.wait()
    assert not marker.exists() and result.skipped[-1].reason == "in use by a running process" and not result.complete


def test_a_python_whose_directory_lock_a_uv_holds_is_skipped(tmp_path):
    pydir = tmp_path / "py"
    install = _python(pydir, KEY)
    (pydir / ".lock").write_text("")
    fd = os.open(pydir / ".lock", os.O_RDONLY)
    fcntl.flock(fd, fcntl.LOCK_SH)
    try:
        plan = _plan(pydir, scan_pythons(pydir), install)
    finally:
        os.close(fd)
    assert plan.entries == () and plan.skipped[0].reason == f"its lock {pydir / '.lock'} is held: a uv is writing it"


class _Uninspectable:
    """Every directory may be used by a process envtui cannot inspect (another user's)."""

    def using(self, uses, parents):
        return [ProcessInfo(4242, "python serve.py", "cannot be inspected (user bob, uid 1001): may use it", uncertain=True)]


def test_a_python_a_process_envtui_cannot_inspect_may_use_is_kept_unless_the_user_says_so(tmp_path, monkeypatch):
    pydir = tmp_path / "py"
    install = _python(pydir, KEY)
    monkeypatch.setattr(safety, "ProcessPaths", _Uninspectable)
    kept = _plan(pydir, scan_pythons(pydir), install)
    assert kept.entries == () and kept.skipped[0].reason.startswith("may be in use by a process envtui cannot inspect")
    forced = _plan(pydir, scan_pythons(pydir), install, ignore_uncertain=True)
    assert [e.path for e in forced.entries] == [install]


def test_a_plan_cut_short_is_never_a_plan(tmp_path):
    pydir = tmp_path / "py"
    install = _python(pydir, KEY)
    with pytest.raises(ScanCancelled):
        _plan(pydir, scan_pythons(pydir), install, should_stop=lambda: True)


def _with_users(p: ManagedPython, *kinds: str) -> ManagedPython:
    return dataclasses.replace(p, used_by=tuple(Use(k, Path(f"/u{i}")) for i, k in enumerate(kinds)))


def test_what_a_skipped_or_planned_python_says_about_its_users(tmp_path):
    pydir = tmp_path / "py"
    installs = [_python(pydir, f"cpython-3.1{n}.0-linux-x86_64-gnu") for n in range(7)]
    p = scan_pythons(pydir)
    env, query = "project environment", "interpreter entry"
    pythons = [_with_users(p[0], env, env, env, query), _with_users(p[1], env, env, env, env, env, env),
               _with_users(p[2], query), _with_users(p[3], query, query), _with_users(p[4], env, query), p[5],
               _with_users(p[6], env, env, env, env)]
    plan = _plan(pydir, pythons, *installs)
    why = {s.path: s.reason for s in plan.skipped}
    assert why == {
        installs[0]: "in use by project environment /u0, project environment /u1, project environment /u2",
        installs[1]: "in use by project environment /u0, project environment /u1, project environment /u2 and 3 more",
        installs[4]: "in use by project environment /u0",
        installs[6]: "in use by project environment /u0, project environment /u1, project environment /u2 and 1 more",
    }
    assert all(s.kind == Kind.MANAGED_PYTHON for s in plan.skipped)
    reasons = {e.path: e.reasons for e in plan.entries}
    assert reasons == {
        installs[2]: ("unused: no environment envtui can see runs on it (1 cached interpreter query of it turns "
                      "missing: prune them with --interpreters)",),
        installs[3]: ("unused: no environment envtui can see runs on it (2 cached interpreter queries of it turn "
                      "missing: prune them with --interpreters)",),
        installs[5]: ("unused: no environment envtui can see runs on it",),
    }


def test_while_what_an_environment_runs_on_is_unknown_no_python_is_unused(tmp_path):
    pydir = tmp_path / "py"
    a, b = _python(pydir, KEY), _python(pydir, "cpython-3.11.0-linux-x86_64-gnu")
    one = _plan(pydir, scan_pythons(pydir), a, b, unknown=["/p/.venv: what it runs on cannot be read"])
    assert one.entries == () and [(s.path, s.kind, s.reason) for s in one.skipped] == [
        (p, Kind.MANAGED_PYTHON, "cannot tell whether it is unused: /p/.venv: what it runs on cannot be read") for p in (b, a)]
    three = _plan(pydir, scan_pythons(pydir), a, b, unknown=iter(["/p: x", "/q: y", "/r: z"]))
    assert three.skipped[0].reason == "cannot tell whether it is unused: /p: x (and 2 more)"
    two = _plan(pydir, scan_pythons(pydir), a, b, unknown=["/p: x", "/q: y"])
    assert two.skipped[0].reason == "cannot tell whether it is unused: /p: x (and 1 more)"
    asked = _plan(pydir, scan_pythons(pydir), a, keys=[KEY], unknown=["/p: x"])
    assert [e.path for e in asked.entries] == [a]


def test_a_python_uv_does_not_report_is_skipped_saying_so(tmp_path):
    pydir = tmp_path / "py"
    a, b = _python(pydir, KEY), _python(pydir, "cpython-3.11.0-linux-x86_64-gnu")
    plan = _plan(pydir, scan_pythons(pydir), a)
    assert [e.path for e in plan.entries] == [a]
    assert plan.skipped == (Skipped(b, Kind.MANAGED_PYTHON, f"not handed to uv: uv does not report {b} as an installed Python"),)
    os.symlink(pydir, tmp_path / "alias")
    # The Python directory given through a link: uv's report of it matches the same installations.
    spelled = _plan(tmp_path / "alias", scan_pythons(tmp_path / "alias"), *(tmp_path / "alias" / p.name for p in (a, b)))
    assert [e.path for e in spelled.entries] == [tmp_path / "alias" / b.name, tmp_path / "alias" / KEY]
