"""The in-use check against real processes: started by relative paths, through another path to
the same directory (a bind mount), by another user (seen from a user who cannot inspect them), and
under a real ``uv run``; in project venvs, tools and managed Pythons alike (directories to the
check, whatever they are). The rules themselves, fast: tests/core/test_inuse.py."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil
import pytest

import envtui
from envtui.core.locks import flocks, root_lock_holders
from envtui.core.prune.inuse import processes_using
from envtui.demo.wheels import make_wheel
from tests.uvcache import uv_bin

pytestmark = pytest.mark.integration

SLEEP = "import time; time.sleep(120)"
needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="needs root: to start processes as other users, or to mount")
ENVTUI_SIDE, USER, SYSTEM_USER = 65534, 65533, 999


def world_python() -> str | None:
    """An interpreter of this Python version that every user can run (pyenv's live under /root)."""
    for d in ("/usr/local/bin", "/usr/bin", "/bin"):
        exe = os.path.join(d, f"python{sys.version_info.major}.{sys.version_info.minor}")
        if os.access(exe, os.X_OK):
            return exe
    return None


class Started:
    """Processes started by a test, killed at its end."""

    def __init__(self) -> None:
        self.procs: list[subprocess.Popen] = []

    def __call__(self, argv: list[str], *, cwd: Path | str, env: dict | None = None, uid: int | None = None,
                 expect: list[str] | None = None) -> subprocess.Popen:
        """Start ``argv`` in ``cwd`` (as ``uid`` through setpriv, which execs it: same pid), and wait
        until the process runs it (its command line is ``expect``, by default ``argv``)."""
        full = argv if uid is None else ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups", *argv]
        proc = subprocess.Popen(full, cwd=cwd, env=env, stdin=subprocess.DEVNULL)
        self.procs.append(proc)
        deadline = time.monotonic() + 20
        want = argv if expect is None else expect
        while True:
            try:
                if psutil.Process(proc.pid).cmdline() == want:
                    return proc
            except psutil.Error:
                pass
            assert proc.poll() is None, f"{argv} exited ({proc.returncode})"
            assert time.monotonic() < deadline, f"{argv} did not start"
            time.sleep(0.02)

    def stop(self) -> None:
        for proc in self.procs:
            proc.kill()
            proc.wait(timeout=30)


@pytest.fixture
def start():
    started = Started()
    yield started
    started.stop()


def make_venv(path: Path, python: str = sys.executable) -> Path:
    subprocess.run([python, "-m", "venv", "--without-pip", str(path)], check=True, capture_output=True, timeout=120)
    return path


def one(found: dict, ident: str, pid: int):
    """The ProcessInfo of ``pid`` among ``found[ident]``."""
    match = [p for p in found.get(ident, ()) if p.pid == pid]
    assert len(match) == 1, (ident, pid, found)
    return match[0]


# -- relative paths ----------------------------------------------------------------------------------


def test_a_venv_started_by_a_relative_path_is_in_use(tmp_path, start):
    proj = tmp_path / "proj"
    env = make_venv(proj / ".venv")
    (proj / "other").mkdir()
    proc = start([".venv/bin/python", "-c", SLEEP], cwd=proj)
    assert not os.path.realpath(psutil.Process(proc.pid).exe()).startswith(str(env))  # the kernel names the base
    found = processes_using({"venv": [env], "other": [proj / "other"]})
    assert set(found) == {"venv"}
    info = one(found, "venv", proc.pid)
    assert info.why == f"argument .venv/bin/python (from {proj})" and not info.uncertain


def test_a_relative_argument_into_a_venv_is_in_use(tmp_path, start):
    proj = tmp_path / "proj"
    env = make_venv(proj / ".venv")
    (env / "lib" / "sleeper.py").write_text(SLEEP + "\n")
    proc = start([sys.executable, "./.venv/lib/sleeper.py"], cwd=proj)
    info = one(processes_using({"venv": [env]}), "venv", proc.pid)
    assert info.why == f"argument ./.venv/lib/sleeper.py (from {proj})"


def test_relative_path_entries_and_a_working_directory_inside(tmp_path, start):
    proj = tmp_path / "proj"
    env = make_venv(proj / ".venv")
    by_path = start(["sleep", "120"], cwd=proj, env={"PATH": os.pathsep.join([".venv/bin", "/usr/bin", "/bin"])})
    by_venv = start(["sleep", "120"], cwd=proj, env={"PATH": "/usr/bin:/bin", "VIRTUAL_ENV": ".venv"})
    inside = start(["sleep", "120"], cwd=env / "lib", env={"PATH": "/usr/bin:/bin"})
    found = processes_using({"venv": [env]})
    assert one(found, "venv", by_path.pid).why == f"PATH .venv/bin (from {proj})"
    assert one(found, "venv", by_venv.pid).why == f"VIRTUAL_ENV .venv (from {proj})"
    assert one(found, "venv", inside.pid).why == f"working directory {env / 'lib'}"


def test_tools_managed_pythons_and_project_venvs_are_checked_alike(tmp_path, start):
    """A managed Python (a relocatable interpreter in a directory of its own), a project venv
    running on it, and a tool (a venv whose command is a script): each a directory to the check."""
    python = world_python()
    if python is None:
        pytest.skip("no interpreter of this version outside /root")
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    managed = tmp_path / "pythons" / f"cpython-{version}.0-linux-x86_64-gnu"
    (managed / "bin").mkdir(parents=True)
    shutil.copy2(python, managed / "bin" / f"python{version}")
    proj = tmp_path / "proj"
    env = make_venv(proj / ".venv", str(managed / "bin" / f"python{version}"))
    tool = make_venv(tmp_path / "tools" / "sleeper", str(managed / "bin" / f"python{version}"))
    (tool / "bin" / "sleeper").write_text(f"#!{tool}/bin/python\n{SLEEP}\n")
    (tool / "bin" / "sleeper").chmod(0o755)
    in_venv = start([".venv/bin/python", "-c", SLEEP], cwd=proj)
    in_tool = start(["sleeper"], cwd=tmp_path, env={"PATH": f"{tool}/bin:/usr/bin:/bin"},
                    expect=[f"{tool}/bin/python", f"{tool}/bin/sleeper"])
    found = processes_using({"python": [managed], "venv": [env], "tool": [tool]})
    assert {p.pid for p in found["python"]} == {in_venv.pid, in_tool.pid}
    assert one(found, "python", in_venv.pid).why == f"executable {managed}/bin/python{version}"
    assert [p.pid for p in found["venv"]] == [in_venv.pid]
    assert [p.pid for p in found["tool"]] == [in_tool.pid]
    assert one(found, "tool", in_tool.pid).why == f"argument {tool}/bin/python"


# -- another path to the same directory ------------------------------------------------------------


@needs_root
def test_a_bind_mount_is_the_same_directory(tmp_path, start):
    a, b = tmp_path / "a", tmp_path / "b"
    env = make_venv(a / "proj" / ".venv")
    (a / "other").mkdir()
    b.mkdir()
    if subprocess.run(["mount", "--bind", str(a), str(b)], capture_output=True).returncode != 0:
        pytest.skip("bind mounts are not permitted here")
    try:
        via_b = start([".venv/bin/python", "-c", SLEEP], cwd=b / "proj")
        via_a = start(["sleep", "120"], cwd=env / "lib")
        found = processes_using({"A": [env], "B": [b / "proj" / ".venv"], "other": [a / "other"]})
        assert {p.pid for p in found["A"]} == {p.pid for p in found["B"]} == {via_a.pid, via_b.pid}
        assert "other" not in found
        assert one(found, "A", via_b.pid).why == f"argument .venv/bin/python (from {b / 'proj'})"
        assert one(found, "B", via_a.pid).why == f"working directory {env / 'lib'}"
    finally:
        start.stop()
        start.procs.clear()
        subprocess.run(["umount", str(b)], check=False)


# -- other users ---------------------------------------------------------------------------------------


ENVTUI_CHILD = """
import json, sys
from envtui.core.locks import root_lock_holders
from envtui.core.prune.inuse import ProcessPaths
asked = json.loads(sys.argv[1])
look = ProcessPaths()
out = {"using": {k: [p.__dict__ for p in look.using(v)] for k, v in asked["using"].items()},
       "holders": [p.__dict__ for p in root_lock_holders(asked["cache"])] if asked.get("cache") else []}
print(json.dumps(out))
"""


def envtui_side(python: str, using: dict[str, list[str]], cache: Path | None = None) -> dict:
    """What envtui, run as uid 65534 (who cannot inspect other users' processes), finds."""
    path = os.pathsep.join([os.path.dirname(os.path.dirname(envtui.__file__)), os.path.dirname(os.path.dirname(psutil.__file__))])
    arg = json.dumps({"using": {k: [str(p) for p in v] for k, v in using.items()}, "cache": str(cache) if cache else None})
    out = subprocess.run(["setpriv", f"--reuid={ENVTUI_SIDE}", f"--regid={ENVTUI_SIDE}", "--clear-groups", python, "-c",
                          ENVTUI_CHILD, arg], capture_output=True, text=True, timeout=120, cwd="/",
                         env={"PYTHONPATH": path, "PATH": "/usr/bin:/bin", "HOME": "/nonexistent"})
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


@pytest.fixture
def shared():
    """A directory every user can search (pytest's tmp_path is private to root)."""
    path = Path(tempfile.mkdtemp(prefix="envtui-inuse-", dir="/tmp"))
    os.chmod(path, 0o755)
    yield Path(os.path.realpath(path))
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def python():
    exe = world_python()
    if exe is None:
        pytest.skip("no interpreter of this version that other users can run")
    return exe


@needs_root
def test_another_user_s_python_from_a_shared_venv_is_caught_and_root_s_daemons_are_not(shared, python, start):
    proj = shared / "proj"
    env = make_venv(proj / ".venv", python)
    (shared / "daemon.py").write_text(SLEEP + "\n")
    path_env = {"PATH": f"{env}/bin:/usr/bin:/bin"}
    relative = start([".venv/bin/python", "-c", SLEEP], cwd=proj, uid=USER)
    activated = start(["python", "-c", SLEEP], cwd="/", env=path_env, uid=USER)
    daemon = start([python, str(shared / "daemon.py")], cwd="/")  # root, like networkd-dispatcher
    system = start(["python", "-c", SLEEP], cwd=proj, env=path_env, uid=SYSTEM_USER)
    found = envtui_side(python, {"venv": [env], "proj": [proj]})["using"]
    by_pid = {p["pid"]: p for p in found["venv"]}
    assert set(by_pid) == {relative.pid, activated.pid}
    for pid in (relative.pid, activated.pid):
        assert by_pid[pid]["uncertain"] and f"uid {USER}): " in by_pid[pid]["why"], by_pid[pid]
        assert by_pid[pid]["why"].startswith("cannot be inspected (")
    assert by_pid[relative.pid]["why"].endswith(f"may be {env}/bin/python")
    assert by_pid[activated.pid]["why"].endswith(f"and {env}/bin/python exists")
    assert by_pid[relative.pid]["cmdline"] == f".venv/bin/python -c {SLEEP}"
    assert {p["pid"] for p in found["proj"]} == {relative.pid}  # the activated one's python is not in proj
    assert daemon.pid not in by_pid and system.pid not in by_pid
    # root sees everything: the same processes, certain, and none of root's or the system user's
    # that does not use the venv.
    as_root = processes_using({"venv": [env]})["venv"]
    assert {p.pid for p in as_root} == {relative.pid, activated.pid, system.pid}
    assert not any(p.uncertain for p in as_root)


@needs_root
def test_another_user_s_uv_run_on_a_shared_cache_is_caught_and_named(shared, python, start):
    home = shared / "home"
    home.mkdir()
    wheels = shared / "wheels"
    make_wheel(wheels, "helperlib", "0.1", console_script=False)
    cache = shared / "cache"
    cache.mkdir()
    for d in (home, cache):
        os.chown(d, USER, USER)
    os.chmod(wheels, 0o755)
    env = {"HOME": str(home), "PATH": "/usr/bin:/bin", "UV_CACHE_DIR": str(cache), "UV_OFFLINE": "1",
           "UV_NO_CONFIG": "1", "UV_PYTHON_DOWNLOADS": "never", "UV_NO_MANAGED_PYTHON": "1",
           "UV_FIND_LINKS": str(wheels), "UV_NO_PROGRESS": "1", "UV_PYTHON": python}
    argv = [uv_bin(), "run", "--no-project", "--with", "helperlib", "python", "-c", SLEEP]
    uv = start(argv, cwd=home, env=env, uid=USER)
    deadline = time.monotonic() + 60
    while not (children := psutil.Process(uv.pid).children()) or SLEEP not in " ".join(children[0].cmdline()):
        assert uv.poll() is None and time.monotonic() < deadline, "uv run did not start its program"
        time.sleep(0.05)
    program = children[0]
    links = [p for p in (cache / "environments-v2").glob("*/*") if p.is_symlink()]
    assert len(links) == 1
    entry = [links[0], links[0].resolve()]
    seen = envtui_side(python, {"env": entry}, cache)
    by_pid = {p["pid"]: p for p in seen["using"]["env"]}
    assert set(by_pid) == {uv.pid, program.pid}
    lock = os.path.realpath(cache / ".lock")
    assert by_pid[program.pid]["uncertain"] and by_pid[program.pid]["why"] == (
        f"cannot be inspected (uid {USER}): runs under process {uv.pid}, which holds {lock} (a uv using it)")
    assert by_pid[uv.pid]["why"].endswith(f"holds {lock} (a uv using it)")
    holders = {p["pid"]: p for p in seen["holders"]}
    assert set(holders) == {uv.pid}
    assert holders[uv.pid]["why"] == f"holds {lock} (shared flock, uid {USER})"
    assert holders[uv.pid]["cmdline"] == " ".join(argv)


# -- uv's own lock ----------------------------------------------------------------------------------


def test_proc_locks_name_a_uv_run_holding_the_root_lock(uv_cache, start):
    script = uv_cache.workdir / "sleeper.py"
    script.write_text(SLEEP + "\n")
    argv = [uv_cache.uv, "run", "--no-project", "--python", sys.executable, str(script)]
    uv = start(argv, cwd=uv_cache.workdir, env=uv_cache.env)
    lock = os.path.realpath(uv_cache.root / ".lock")
    deadline = time.monotonic() + 60
    while not any(f.pid == uv.pid for f in flocks()):
        assert time.monotonic() < deadline, "uv did not take its lock"
        time.sleep(0.05)
    st = os.stat(lock)
    mine = [f for f in flocks() if f.pid == uv.pid]
    assert [(f.dev, f.ino, f.exclusive, f.waiting) for f in mine] == [(st.st_dev, st.st_ino, False, False)]
    holders = root_lock_holders(uv_cache.root)
    assert [(h.pid, h.why, h.cmdline) for h in holders] == [(uv.pid, f"holds {lock} (shared flock)", " ".join(argv))]
