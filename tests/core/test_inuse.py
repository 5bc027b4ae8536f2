"""The in-use check's rules, fast: processes are stand-ins for psutil's, ``/proc`` a directory
written by the test, the directories they use real ones (compared by inode). The same rules with
real processes, other users and a bind mount: tests/integration/test_inuse_processes.py."""

from __future__ import annotations

import os
import shutil
import signal
import struct
import tempfile
from pathlib import Path
from types import SimpleNamespace

import psutil
import pytest

from envtui.core.disk.freed import ancestors
from envtui.core.locks import ProcessInfo
from envtui.core.prune import inuse
from envtui.core.prune.inuse import ProcessPaths, processes_using
from envtui.core.prune.paths import ParentDirs

DENIED = "denied"
#: No /proc: mapped files come from the stand-in's memory_maps, no status, no locks.
NOPROC = "/nonexistent/proc"


class FakeProc:
    """A psutil process: each detail as given, ``DENIED`` (``AccessDenied``), an exception to raise,
    or, when not given, an empty answer (a process with nothing of interest)."""

    def __init__(self, pid, **details):
        self.pid = pid
        self.details = details

    def _get(self, name, empty):
        got = self.details.get(name, empty)
        if got == DENIED:
            raise psutil.AccessDenied(self.pid)
        if isinstance(got, BaseException):
            raise got
        return got

    def exe(self):
        return self._get("exe", "")

    def cwd(self):
        return self._get("cwd", "")

    def cmdline(self):
        return self._get("cmdline", [])

    def name(self):
        return "prog"

    def open_files(self):
        return [SimpleNamespace(path=p) for p in self._get("open_files", [])]

    def memory_maps(self, grouped=True):
        assert grouped  # one row per file
        return [SimpleNamespace(path=p) for p in self._get("memory_maps", [])]

    def environ(self):
        return self._get("environ", {})


def hidden(pid, **details):
    """Another user's process as a non-root user sees it: only the command line can be read."""
    base = {k: DENIED for k in ("exe", "cwd", "open_files", "memory_maps", "environ")}
    return FakeProc(pid, **{**base, **details})


class Proc:
    """A fake ``/proc``: ``status`` files and ``locks``."""

    def __init__(self, root: Path):
        self.root = root
        root.mkdir(exist_ok=True)
        (root / "locks").write_text("")

    def status(self, pid, ppid=1, uid=0, gid=0, groups=()):
        d = self.root / str(pid)
        d.mkdir(exist_ok=True)
        (d / "status").write_text(
            f"Name:\tprog\nUmask:\t0022\nPPid:\t{ppid}\nUid:\t{uid + 1}\t{uid}\t{uid}\t{uid}\n"
            f"Gid:\t{gid + 1}\t{gid}\t{gid}\t{gid}\nGroups:\t{' '.join(map(str, groups))}\n")

    def flock(self, pid, path, mode="READ", waiting=False):
        st = os.stat(path)
        arrow = "-> " if waiting else ""
        line = (f"1: {arrow}FLOCK  ADVISORY  {mode} {pid} {os.major(st.st_dev):02x}:{os.minor(st.st_dev):02x}:"
                f"{st.st_ino} 0 EOF\n")
        with open(self.root / "locks", "a") as fh:
            fh.write(line)


@pytest.fixture
def procs(monkeypatch):
    """``procs(*fakes)``: these are the running processes (psutil's view)."""
    def set_(*fakes):
        monkeypatch.setattr(inuse.psutil, "process_iter", lambda: iter(fakes))
    return set_


@pytest.fixture
def shared():
    """A directory every user can search (pytest's tmp_path is not)."""
    path = Path(tempfile.mkdtemp(prefix="envtui-inuse-", dir="/tmp"))
    os.chmod(path, 0o755)
    yield Path(os.path.realpath(path))
    shutil.rmtree(path, ignore_errors=True)


def venv(path: Path) -> Path:
    (path / "bin").mkdir(parents=True)
    (path / "bin" / "python").write_text("")
    (path / "lib").mkdir()
    return path


def up(path: str) -> list[str]:
    """``path`` and every directory above it."""
    return [path, *ancestors(path)]


def pids(found):
    return [p.pid for p in found]


# -- reading a process -----------------------------------------------------------------------------


def test_argument_path_is_the_argument_or_an_option_s_value():
    assert [inuse._argument_path(a) for a in ("x/y", "-m", "--python=.venv/bin/python", "-", "--o=", "-I=/a=b")] == [
        "x/y", "", ".venv/bin/python", "", "", "/a=b"]


def test_environment_paths_keep_relative_parts_and_leave_out_empty_ones():
    env = {"PATH": os.pathsep.join(["/usr/bin", "", ".venv/bin"]), "HOME": "/h", "UV_CACHE_DIR": "c",
           "VIRTUAL_ENV": "/v", "XUV_A": "/x", "PYTHONPATH": "", "CONDA_PREFIX": "/c", "PYTHONHOME": "/ph"}
    assert inuse.environment_paths(env) == [("PATH", "/usr/bin"), ("PATH", ".venv/bin"), ("UV_CACHE_DIR", "c"),
                                            ("VIRTUAL_ENV", "/v"), ("CONDA_PREFIX", "/c"), ("PYTHONHOME", "/ph")]


def test_a_process_is_read_in_order_relative_paths_from_its_working_directory():
    proc = FakeProc(1, exe="/usr/bin/python3", cwd="/w", cmdline=[".venv/bin/python", "-c", "--x=/o", "/a", "-q="],
                    open_files=["/f"], memory_maps=["[heap]", "/m.so"],
                    environ={"PATH": "/usr/bin:bin", "VIRTUAL_ENV": ".venv", "HOME": "/h"})
    read = inuse._read_process(proc, NOPROC)
    assert read.paths == [
        ("executable /usr/bin/python3", "/usr/bin/python3", True), ("working directory /w", "/w", True),
        ("argument .venv/bin/python (from /w)", "/w/.venv/bin/python", False),
        ("argument --x=/o", "/o", False), ("argument /a", "/a", False),
        ("open file /f", "/f", True), ("mapped file /m.so", "/m.so", True),
        ("PATH /usr/bin", "/usr/bin", False), ("PATH bin (from /w)", "/w/bin", False),
        ("VIRTUAL_ENV .venv (from /w)", "/w/.venv", False)]
    assert read.argv == (".venv/bin/python", "-c", "--x=/o", "/a", "-q=") and read.denied == frozenset()


def test_what_cannot_be_read_is_named_and_what_vanished_is_not():
    gone = psutil.NoSuchProcess(2)
    read = inuse._read_process(hidden(2, cmdline=["python", "rel/x", "/abs"]), NOPROC)
    assert read.paths == [("argument /abs", "/abs", False)]  # relative: no working directory to take it from
    assert read.denied == {"executable", "working directory", "open files", "mapped files", "environment"}
    read = inuse._read_process(FakeProc(3, exe=gone, cwd="/w", cmdline=DENIED, open_files=OSError(), memory_maps=gone,
                                        environ={"PATH": "b"}), NOPROC)
    assert read.paths == [("working directory /w", "/w", True), ("PATH b (from /w)", "/w/b", False)]
    assert read.denied == {"command line"} and read.argv == ()


def test_mapped_files_come_from_proc_maps_each_once(tmp_path, monkeypatch):
    (tmp_path / "5").mkdir()
    (tmp_path / "5" / "maps").write_text(
        "55d0-55d1 r--p 00000000 fe:00 131 /usr/bin/python3.11\n"
        "55d1-55d2 r-xp 00001000 fe:00 131 /usr/bin/python3.11\n"
        "7f00-7f01 rw-p 00000000 00:00 0 \n"
        "7f01-7f02 r--p 00000000 fe:00 77 /srv/my app/lib x.so\n"
        "7f02-7f03 r--p 00000000 fe:00 78 /gone.so (deleted)\n"
        "7ffd-7ffe rw-p 00000000 00:00 0                          [stack]\n")
    with open(tmp_path / "5" / "maps", "ab") as fh:
        fh.write(b"7f03-7f04 r--p 00000000 fe:00 79 /srv/caf\xe9.so\n")  # not UTF-8: as the filesystem spells it
    proc = FakeProc(5, memory_maps=["/not/read"])
    assert inuse._mapped_files(proc, str(tmp_path)) == [
        "/usr/bin/python3.11", "/srv/my app/lib x.so", "/gone.so (deleted)", "[stack]", os.fsdecode(b"/srv/caf\xe9.so")]
    assert inuse._mapped_files(FakeProc(6, memory_maps=["/from/psutil"]), str(tmp_path)) == ["/from/psutil"]  # no maps file
    read = inuse._read_process(proc, str(tmp_path))
    assert [p for _, p, _ in read.paths] == [
        "/usr/bin/python3.11", "/srv/my app/lib x.so", "/gone.so (deleted)", os.fsdecode(b"/srv/caf\xe9.so")]

    def denied(*a, **k):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(inuse, "read_regular", denied)
    with pytest.raises(psutil.AccessDenied):
        inuse._mapped_files(proc, str(tmp_path))
    assert inuse._read_process(proc, str(tmp_path)).denied == {"mapped files"}


def test_ident(tmp_path):
    st = os.stat(tmp_path)
    assert inuse._ident(str(tmp_path)) == (st.st_dev, st.st_ino)
    assert inuse._ident(str(tmp_path / "missing")) is None and inuse._ident("a\0b") is None


def test_realpath_of_entries_as_realpath_does(tmp_path):
    (tmp_path / "real" / "bucket" / "entry").mkdir(parents=True)
    (tmp_path / "real" / "bucket" / "link").symlink_to("entry")
    (tmp_path / "via").symlink_to(tmp_path / "real")
    parents = ParentDirs()
    for base in (tmp_path / "real" / "bucket", tmp_path / "via" / "bucket"):
        for name in ("entry", "link", "missing"):
            assert inuse._realpath(str(base / name), parents) == os.path.realpath(base / name)
    assert inuse._realpath("/", parents) == "/" and len(parents) == 2


def test_realpath_of_an_entry_that_is_no_link_costs_no_more_than_its_parent(tmp_path, monkeypatch):
    (tmp_path / "bucket" / "entry").mkdir(parents=True)
    parents = ParentDirs()
    parents.split(str(tmp_path / "bucket" / "x"))  # the parent, resolved once
    monkeypatch.setattr(inuse.os.path, "realpath", lambda p: pytest.fail(f"resolved {p} again"))
    assert inuse._realpath(str(tmp_path / "bucket" / "entry"), parents) == str(tmp_path / "bucket" / "entry")


# -- small files, users ------------------------------------------------------------------------------


@pytest.fixture
def no_hang():
    """Fail, rather than hang, when opening a FIFO blocks."""
    def expired(signum, frame):
        raise AssertionError("blocked: a read hung")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.alarm(10)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)


def test_small_files_are_read_capped_and_never_from_a_fifo(tmp_path, no_hang):
    (tmp_path / "big").write_text("x" * (inuse._READ_CAP + 10))
    assert inuse._read_small(str(tmp_path / "big")) == "x" * inuse._READ_CAP
    (tmp_path / "bad").write_bytes(b"UID_MIN\t\xff500\n")
    assert inuse._read_small(str(tmp_path / "bad")) == "UID_MIN\t\ufffd500\n"
    os.mkfifo(tmp_path / "fifo")  # opened without blocking, then refused
    assert inuse._read_small(str(tmp_path / "fifo")) == ""
    assert inuse._read_small(str(tmp_path / "missing")) == ""
    assert inuse._read_small(str(tmp_path)) == ""  # a directory cannot be read
    if os.path.exists("/proc/self/mem"):
        assert inuse._read_small("/proc/self/mem") == ""  # a regular file whose read fails (EIO at offset 0)


def test_uid_min_from_login_defs(tmp_path):
    defs = tmp_path / "login.defs"
    defs.write_text("# UID_MIN 5\nUID_MAX 60000\nUID_MIN\nUID_MIN x\nUID_MIN 500\nUID_MIN 700\n")
    assert inuse.uid_min(str(defs)) == 500
    defs.write_text("\tUID_MIN   600 # humans\n")
    assert inuse.uid_min(str(defs)) == 600
    defs.write_bytes(b"UID_MIN \xff\nUID_MIN 800\n")  # not UTF-8: read all the same
    assert inuse.uid_min(str(defs)) == 800
    defs.write_text("UID_MAX 60000\n")
    assert inuse.uid_min(str(defs)) == inuse.DEFAULT_UID_MIN == 1000
    assert inuse.uid_min(str(tmp_path / "missing")) == 1000


def test_uid_min_reads_shadow_s_file(monkeypatch):
    asked = []
    monkeypatch.setattr(inuse, "_read_small", lambda p: asked.append(p) or "UID_MIN 4321\n")
    assert inuse.uid_min() == 4321 and asked == ["/etc/login.defs"]


def test_status_gives_parent_effective_uid_and_groups(tmp_path):
    proc = Proc(tmp_path)
    proc.status(10, ppid=4, uid=1001, gid=100, groups=(27, 1001))
    assert inuse._status(str(tmp_path), 10) == inuse._Status(4, 1001, frozenset({100, 27, 1001}))
    proc.status(11, groups=())
    assert inuse._status(str(tmp_path), 11) == inuse._Status(1, 0, frozenset({0}))
    assert inuse._status(str(tmp_path), 12) is None  # gone
    (tmp_path / "13").mkdir()
    for text in ("PPid:\t1\nGid:\t0\t0\n", "PPid:\t1\nUid:\t0\nGid:\t0\t0\n", "PPid:\tx\nUid:\t0\t0\nGid:\t0\t0\n",
                 "Uid:\t0\t0\nGid:\t0\t0\n"):
        (tmp_path / "13" / "status").write_text(text)
        assert inuse._status(str(tmp_path), 13) is None, text
    (tmp_path / "13" / "status").write_bytes(b"Name:\tx\xff:Uid:\t9\t9\nPPid:\t3\nUid:\t0\t5\nGid:\t0\t6\n")  # no Groups line
    assert inuse._status(str(tmp_path), 13) == inuse._Status(3, 5, frozenset({6}))


def test_user_label():
    assert inuse._user(0) == "user root, uid 0"
    assert inuse._user(3999999) == "uid 3999999"
    assert inuse._user(2**40) == f"uid {2**40}"


def test_relatives_of_a_command_line():
    assert inuse._relatives(("python", "app.py", "./.venv/lib/x.py", "/abs", "-c", "--p=../env/bin/x", "..", "./", "-")) == (
        ("app.py", ("app.py",)), ("./.venv/lib/x.py", (".venv", "lib", "x.py")), ("--p=../env/bin/x", ("env", "bin", "x")))
    assert inuse._relatives((".venv/bin/python", "bin/x")) == (
        (".venv/bin/python", (".venv", "bin", "python")), ("bin/x", ("bin", "x")))
    assert inuse._relatives(("-bash",)) == () and inuse._relatives(()) == ()


# -- the index by inode -------------------------------------------------------------------------------


def test_directories_match_by_inode_whatever_their_spelling(tmp_path, procs):
    env = venv(tmp_path / "real" / "env")
    (tmp_path / "alias").symlink_to("real")
    via = tmp_path / "alias" / "env"
    other = venv(tmp_path / "real" / "other")
    procs(FakeProc(os.getpid(), cwd=str(env)),  # this process: never counted
          FakeProc(11, cmdline=["python", f"{via}/bin/tool"]),
          FakeProc(12, environ={"PATH": os.pathsep.join(["/usr/bin", f"{via}/bin"])}),
          FakeProc(13, exe=f"{via}/bin/python"),
          FakeProc(14, cmdline=["relative/path", ""], cwd=str(tmp_path / "elsewhere")),
          FakeProc(15, memory_maps=[f"{env}/lib"], open_files=[f"{env}/bin/python"]),
          FakeProc(16, cwd=str(via / "lib")),
          FakeProc(17, cwd=str(tmp_path), cmdline=["x", "real/./env/../env/bin"]))
    look = ProcessPaths(procfs=NOPROC, human_uid_min=0)
    found = look.using([env])
    assert [(p.pid, p.why) for p in found] == [
        (11, f"argument {via}/bin/tool"), (12, f"PATH {via}/bin"), (13, f"executable {via}/bin/python"),
        (15, f"open file {env}/bin/python"), (16, f"working directory {via / 'lib'}"),
        (17, f"argument real/./env/../env/bin (from {tmp_path})")]
    assert [p.cmdline for p in found][:2] == [f"python {via}/bin/tool", "prog"]
    assert not any(p.uncertain for p in found)
    assert look.using([via]) == found and look.using([tmp_path / "alias" / ".." / "real" / "env"]) == found
    assert look.using([other]) == [] and look.using([tmp_path / "missing"]) == []
    assert pids(look.using([tmp_path / "elsewhere"])) == []  # does not exist: nothing matches it
    assert pids(look.using([tmp_path])) == [11, 12, 13, 14, 15, 16, 17]


def test_a_path_through_a_link_into_an_entry_matches_it_and_the_link_s_spelling_too(tmp_path, procs):
    env = venv(tmp_path / "cache" / "env")
    (tmp_path / "home").mkdir()
    (tmp_path / "home" / "tool").symlink_to(env / "bin" / "python")  # a file link: only its target is in env
    (tmp_path / "home" / "lib").symlink_to(env / "lib")  # a directory link into a subdirectory of env
    procs(FakeProc(21, cmdline=["x", str(tmp_path / "home" / "tool")]),
          FakeProc(22, environ={"PYTHONPATH": str(tmp_path / "home" / "lib" / "site")}),
          FakeProc(23, cmdline=["x", str(tmp_path / "home" / "nothing")]))
    look = ProcessPaths(procfs=NOPROC)
    assert pids(look.using([env])) == [21, 22]
    assert pids(look.using([tmp_path / "home"])) == [21, 22, 23]  # as spelled, they lie in home too
    assert pids(look.using([tmp_path / "home" / "tool"])) == [21]  # an entry may be a file link


def test_a_process_is_told_by_the_first_thing_it_uses_in_any_of_the_directories(tmp_path, procs):
    a, b = venv(tmp_path / "a"), venv(tmp_path / "b")
    procs(FakeProc(31, cwd=str(b), environ={"VIRTUAL_ENV": str(a)}))
    look = ProcessPaths(procfs=NOPROC)
    assert [p.why for p in look.using([a, b])] == [f"working directory {b}"]
    assert [p.why for p in look.using([b, a])] == [f"working directory {b}"]
    assert [p.why for p in look.using([a])] == [f"VIRTUAL_ENV {a}"]


def test_each_path_and_directory_is_stat_ed_once_per_look(tmp_path, procs, monkeypatch):
    env = venv(tmp_path / "env")
    many = [FakeProc(100 + i, cwd=str(env / "lib"), environ={"PATH": f"{env}/bin"}) for i in range(20)]
    procs(*many)
    seen = []
    real_ident = inuse._ident
    monkeypatch.setattr(inuse, "_ident", lambda p: seen.append(p) or real_ident(p))
    look = ProcessPaths(procfs=NOPROC)
    assert len(seen) == len(set(seen))
    assert set(seen) == {str(env / "lib"), str(env / "bin"), *up(str(env))}
    assert pids(look.using([env])) == [100 + i for i in range(20)]


def test_chains_are_built_once_and_stop_at_the_root(tmp_path, procs):
    deep = tmp_path.joinpath(*["d"] * 1200)  # deeper than Python's recursion limit
    procs(FakeProc(41, cmdline=["x", str(deep / "f")]))
    look = ProcessPaths(procfs=NOPROC)
    assert pids(look.using([tmp_path])) == [41]
    assert look._chains["/"] == (inuse._ident("/"),)
    assert look._chains[str(tmp_path)] == tuple(inuse._ident(p) for p in up(str(tmp_path)))


def test_command_is_read_once(procs):
    class Counting(FakeProc):
        calls = 0

        def cmdline(self):
            Counting.calls += 1
            return ["prog", "x"]

    procs(Counting(51))
    look = ProcessPaths(procfs=NOPROC)
    calls = Counting.calls
    assert look.command(51) == "prog x" and look.command(51) == "prog x" and Counting.calls == calls + 1
    assert inuse._cmdline(FakeProc(3)) == "prog" and inuse._cmdline(FakeProc(3, cmdline=psutil.ZombieProcess(3))) == "?"


def test_processes_using_answers_per_entry_from_one_look(tmp_path, procs, monkeypatch):
    env, other = venv(tmp_path / "env"), venv(tmp_path / "other")
    procs(FakeProc(61, cwd=str(env)))
    looks = []
    real = inuse.ProcessPaths
    monkeypatch.setattr(inuse, "ProcessPaths", lambda: looks.append(1) or real(procfs=NOPROC))
    assert processes_using({}) == {} and looks == []
    found = processes_using({"env": [env], "other": [other], "both": (other, env)})
    assert list(found) == ["env", "both"] and looks == [1]
    assert found["env"] == [ProcessInfo(61, "prog", f"working directory {env}")]


# -- processes that cannot be inspected ------------------------------------------------------------


def test_another_user_s_python_from_a_venv_may_be_using_it(shared, tmp_path, procs):
    proj = shared / "proj"
    env = venv(proj / ".venv")
    tool = venv(shared / "tools" / "cowsay")
    (tool / "bin" / "cowsay").write_text("")
    proc = Proc(tmp_path / "proc")
    for pid in (71, 72, 73, 74, 75, 76, 77):
        proc.status(pid, uid=1001, gid=1001)
    proc.status(78, uid=999)  # a system user
    proc.status(79, uid=inuse.NOBODY)
    proc.status(80, uid=0)
    procs(hidden(71, cmdline=[".venv/bin/python", "serve.py"]),       # cd proj && .venv/bin/python
          hidden(72, cmdline=["python", "-m", "http.server"]),        # an activated venv: PATH
          hidden(73, cmdline=["bin/python"]),                         # from inside the venv
          hidden(74, cmdline=["/usr/bin/python3", "./proj/.venv/lib"]),  # a relative argument
          hidden(75, cmdline=["vim", ".venv"]),                       # names the venv itself
          hidden(76, cmdline=["bash", "serve.py", "-c", "other/bin/python", "../x/.venv/bin/none"]),
          hidden(77, cmdline=["cowsay"]),
          hidden(78, cmdline=["python"]), hidden(79, cmdline=["python"]), hidden(80, cmdline=[".venv/bin/python"]))
    look = ProcessPaths(procfs=str(tmp_path / "proc"), human_uid_min=1000)
    found = look.using([env])
    assert pids(found) == [71, 72, 73, 74, 75] and all(p.uncertain for p in found)
    why = {p.pid: p.why for p in found}
    assert why[71] == (f"cannot be inspected (uid 1001): its argument .venv/bin/python, from a working directory it "
                       f"does not show, may be {env}/bin/python")
    assert why[72] == f"cannot be inspected (uid 1001): runs python through a PATH it does not show, and {env}/bin/python exists"
    assert why[73].endswith(f"its argument bin/python, from a working directory it does not show, may be {env}/bin/python")
    assert why[74].endswith(f"its argument ./proj/.venv/lib, from a working directory it does not show, may be {env}/lib")
    assert why[75].endswith(f"its argument .venv, from a working directory it does not show, may be {env}")
    assert found[0].cmdline == ".venv/bin/python serve.py"
    assert pids(look.using([tool])) == [72, 73, 77]  # its bin/ has python and cowsay
    assert look.using([shared / "missing"]) == []


def test_what_another_user_s_command_line_shows_is_certain(shared, tmp_path, procs):
    env = venv(shared / "env")
    proc = Proc(tmp_path / "proc")
    proc.status(81, uid=1001)
    proc.status(82, uid=0)
    procs(hidden(81, cmdline=[f"{env}/bin/python", "x.py"]), hidden(82, cmdline=["/usr/bin/python3", f"{env}/lib/d.py"]))
    found = ProcessPaths(procfs=str(tmp_path / "proc")).using([env])
    assert [(p.pid, p.uncertain, p.why) for p in found] == [
        (81, False, f"argument {env}/bin/python"), (82, False, f"argument {env}/lib/d.py")]


def test_root_s_and_system_users_daemons_do_not_hold_up_a_prune(shared, tmp_path, procs):
    env = venv(shared / "env")
    proc = Proc(tmp_path / "proc")
    for pid, uid in ((91, 0), (92, 999), (93, inuse.NOBODY), (94, 1000), (95, 999)):
        proc.status(pid, uid=uid)
    procs(hidden(91, cmdline=["/usr/bin/python3", "/usr/bin/networkd-dispatcher", "--run-startup-triggers"]),
          hidden(92, cmdline=["python", "daemon.py"]), hidden(93, cmdline=["python"]),
          hidden(94, cmdline=["python"]), hidden(95, cmdline=["python"]))
    look = ProcessPaths(procfs=str(tmp_path / "proc"), human_uid_min=1000)
    assert pids(look.using([env])) == [94]  # UID_MIN itself is a human's
    assert set(look._suspects) == {94}  # the others are not asked about at all
    assert pids(ProcessPaths(procfs=str(tmp_path / "proc"), human_uid_min=999).using([env])) == [92, 94, 95]


def test_a_hidden_detail_counts_only_for_what_it_hides(shared, tmp_path, procs):
    env = venv(shared / "env")
    proc = Proc(tmp_path / "proc")
    for pid in (101, 102, 103):
        proc.status(pid, uid=1001)
    procs(FakeProc(101, exe="/usr/bin/python3", cwd=DENIED, cmdline=["python"]),  # the executable is known
          FakeProc(102, exe=DENIED, cwd="/", cmdline=["env/bin/python"]),  # the working directory is known
          FakeProc(103, environ=DENIED, cmdline=["python", "bin/python"]))
    assert ProcessPaths(procfs=str(tmp_path / "proc"), human_uid_min=1000).using([env]) == []


def test_another_user_who_cannot_reach_the_directory_is_not_using_it(shared, tmp_path, procs):
    private = shared / "private"
    env = venv(private / "env")
    os.chmod(private, 0o700)
    proc = Proc(tmp_path / "proc")
    procs(hidden(111, cmdline=["python"]), hidden(112, cmdline=["python"]))
    for pid in (111, 112):
        proc.status(pid, uid=4242, gid=4242)
    assert ProcessPaths(procfs=str(tmp_path / "proc"), human_uid_min=1).using([env]) == []
    if os.geteuid() == 0:
        os.chown(private, 4242, 4242)
    st = os.stat(private)  # owned by 4242 (root chowned it), or by this user
    if st.st_uid == inuse.NOBODY:
        pytest.skip("run as nobody, who is never taken for a human user")
    proc.status(111, uid=st.st_uid, gid=st.st_gid)
    proc.status(112, uid=st.st_uid + 1, gid=77, groups=(st.st_gid,))
    look = ProcessPaths(procfs=str(tmp_path / "proc"), human_uid_min=1)
    assert pids(look.using([env])) == [111]  # the owner; 112 is in its group, which has no access
    os.chmod(private, 0o710)
    assert pids(ProcessPaths(procfs=str(tmp_path / "proc"), human_uid_min=1).using([env])) == [111, 112]


def test_a_uv_holding_the_lock_above_marks_what_runs_under_it(shared, tmp_path, procs):
    cache = shared / "cache"
    env = venv(cache / "archive-v0" / "X")
    (cache / ".lock").write_text("")
    elsewhere = venv(shared / "elsewhere")
    (shared / "elsewhere-lock").mkdir()
    (shared / "elsewhere-lock" / ".lock").write_text("")
    proc = Proc(tmp_path / "proc")
    proc.status(120, ppid=1, uid=1001)  # a shell
    proc.status(121, ppid=120, uid=1001)  # uv run
    proc.status(122, ppid=121, uid=1001)  # its program
    proc.status(123, ppid=122, uid=0)  # something the program started, as root
    proc.status(124, ppid=120, uid=1001)  # a sibling: not under uv
    proc.status(125, ppid=1, uid=1001)
    proc.flock(125, cache / ".lock", "WRITE", waiting=True)  # waits: runs nothing yet
    proc.flock(121, cache / ".lock")
    proc.flock(124, shared / "elsewhere-lock" / ".lock")
    procs(hidden(120, cmdline=["-bash"]), hidden(121, cmdline=["uv", "run", "x.py"]),
          hidden(122, cmdline=["/usr/bin/python3", "x.py"]), hidden(123, cmdline=["/bin/sleep", "9"]),
          hidden(124, cmdline=["/bin/true"]), hidden(125, cmdline=["uv", "clean"]))
    look = ProcessPaths(procfs=str(tmp_path / "proc"), human_uid_min=1000)
    found = look.using([env])
    assert pids(found) == [121, 122, 123] and all(p.uncertain for p in found)
    assert found[0].why == f"cannot be inspected (uid 1001): holds {cache}/.lock (a uv using it)"
    assert found[1].why == f"cannot be inspected (uid 1001): runs under process 121, which holds {cache}/.lock (a uv using it)"
    assert found[2].why.startswith("cannot be inspected (user root, uid 0): runs under process 121")
    assert pids(look.using([cache])) == [121, 122, 123]  # a .lock in the directory itself
    (cache / "archive-v0" / ".lock").write_text("")  # held by nobody
    assert pids(look.using([env])) == [121, 122, 123]
    assert look.using([elsewhere]) == []
    (shared / "alias").symlink_to(cache)
    assert pids(look.using([shared / "alias" / "archive-v0" / "X"])) == [121, 122, 123]


def test_a_uv_lock_counts_only_where_its_process_can_reach(shared, tmp_path, procs):
    cache = shared / "cache"
    env = venv(cache / "archive-v0" / "X")
    (cache / ".lock").write_text("")
    os.chmod(cache / "archive-v0", 0o700)
    proc = Proc(tmp_path / "proc")
    proc.status(131, uid=4242)
    proc.flock(131, cache / ".lock")
    procs(hidden(131, cmdline=["uv", "run"]))
    assert ProcessPaths(procfs=str(tmp_path / "proc")).using([env]) == []


def test_certain_beats_uncertain_and_each_process_is_told_once(shared, tmp_path, procs):
    cache = shared / "cache"
    env = venv(cache / "env")
    other = venv(cache / "other")
    (cache / ".lock").write_text("")
    proc = Proc(tmp_path / "proc")
    proc.status(141, uid=1001)
    proc.flock(141, cache / ".lock")
    proc.flock(141, cache / ".lock")  # listed twice
    procs(hidden(141, cmdline=["python", f"{env}/x.py", "bin/python"]))
    look = ProcessPaths(procfs=str(tmp_path / "proc"), human_uid_min=1000)
    assert [(p.uncertain, p.why) for p in look.using([other, env])] == [(False, f"argument {env}/x.py")]
    found = look.using([other, env / "lib"])
    assert len(found) == 1 and found[0].uncertain and "holds" in found[0].why


def test_no_locks_and_no_hidden_processes_read_nothing_more(tmp_path, procs, monkeypatch):
    env = venv(tmp_path / "env")
    procs(FakeProc(151, cwd="/"))
    monkeypatch.setattr(inuse, "flocks", lambda path: pytest.fail("read /proc/locks with nobody hidden"))
    monkeypatch.setattr(inuse, "uid_min", lambda: pytest.fail("read login.defs with nobody hidden"))
    assert ProcessPaths(procfs=NOPROC).using([env]) == []


def test_a_hidden_process_gone_before_its_status_is_read_is_left_out(shared, tmp_path, procs):
    env = venv(shared / "env")
    Proc(tmp_path / "proc").status(162, uid=1001)
    procs(hidden(161, cmdline=["python"]), hidden(162, cmdline=["python"]))
    look = ProcessPaths(procfs=str(tmp_path / "proc"), human_uid_min=0)
    assert pids(look.using([env])) == [162] and [h.pid for h in look._hidden] == [162]


def test_a_loop_or_a_gap_in_the_process_tree_ends_the_lineage(shared, tmp_path, procs):
    cache = shared / "cache"
    env = venv(cache / "env")
    (cache / ".lock").write_text("")
    proc = Proc(tmp_path / "proc")
    proc.status(171, ppid=172, uid=1001)
    proc.status(172, ppid=171, uid=1001)  # a loop (cannot happen, but must not hang)
    proc.status(173, ppid=999999, uid=1001)  # its parent is gone
    proc.flock(172, cache / ".lock")
    procs(hidden(171, cmdline=["/bin/true"]), hidden(173, cmdline=["/bin/true"]))
    look = ProcessPaths(procfs=str(tmp_path / "proc"), human_uid_min=1000)
    assert pids(look.using([env])) == [171]
    assert {h.pid: h.lineage for h in look._hidden} == {171: {171, 172}, 173: {173, 999999}}


def test_hidden_program_and_relatives_only_for_what_is_hidden(tmp_path, procs):
    proc = Proc(tmp_path / "proc")
    for pid in (181, 182, 183, 184):
        proc.status(pid, uid=1001)
    procs(hidden(181, cmdline=["python", "a/b"]), FakeProc(182, exe=DENIED, cmdline=["python", "a/b"], cwd="/"),
          FakeProc(183, cwd=DENIED, exe="/x", cmdline=["python", "a/b"]), hidden(184, cmdline=["./py"]))
    look = ProcessPaths(procfs=str(tmp_path / "proc"), human_uid_min=1000)
    got = {h.pid: (h.program, h.relatives, h.human) for h in look._hidden}
    assert got == {181: ("python", (("a/b", ("a", "b")),), True), 182: ("python", (), True),
                   183: (None, (("a/b", ("a", "b")),), True), 184: (None, (("./py", ("py",)),), True)}


def test_reach_by_owner_group_and_other_bits(tmp_path):
    d = tmp_path / "d"
    d.mkdir()
    st = os.stat(d)
    for mode, owner, group, other in ((0o700, True, False, False), (0o070, False, True, False),
                                      (0o007, False, False, True), (0o000, False, False, False)):
        os.chmod(d, mode)
        assert inuse._searchable(str(d), st.st_uid, frozenset({st.st_gid})) == owner
        assert inuse._searchable(str(d), st.st_uid + 5000, frozenset({st.st_gid})) == group
        assert inuse._searchable(str(d), st.st_uid + 5000, frozenset({st.st_gid + 5000})) == other
    os.chmod(d, 0o644)  # read without search is not enough
    assert not inuse._searchable(str(d), st.st_uid + 5000, frozenset())
    assert inuse._searchable(str(tmp_path / "missing"), 5, frozenset())  # unknown: may be reachable


def test_a_posix_acl_counts_as_reachable(tmp_path):
    d = tmp_path / "acl"
    d.mkdir()
    os.chmod(d, 0o750)
    entries = [(1, 7, 0xFFFFFFFF), (2, 1, 12345), (4, 5, 0xFFFFFFFF), (0x10, 5, 0xFFFFFFFF), (0x20, 0, 0xFFFFFFFF)]
    try:
        os.setxattr(d, "system.posix_acl_access",
                    struct.pack("<I", 2) + b"".join(struct.pack("<HHI", *e) for e in entries))
    except OSError as err:
        pytest.skip(f"no POSIX ACLs here: {err}")
    assert inuse._searchable(str(d), 12345, frozenset())
    plain = tmp_path / "plain"
    plain.mkdir(mode=0o750)
    assert not inuse._searchable(str(plain), 12345, frozenset())


def test_reaches_checks_every_directory_above_once(shared, tmp_path, procs, monkeypatch):
    env = venv(shared / "a" / "env")
    proc = Proc(tmp_path / "proc")
    proc.status(191, uid=4242)
    proc.status(192, uid=0)
    procs(hidden(191, cmdline=["python"]), hidden(192, cmdline=["python"]))
    look = ProcessPaths(procfs=str(tmp_path / "proc"), human_uid_min=0)
    asked = []
    real = inuse._searchable
    monkeypatch.setattr(inuse, "_searchable", lambda p, u, g: asked.append((p, u)) or real(p, u, g))
    h191, h192 = look._hidden
    assert look._reaches(h191, str(env)) and look._reaches(h191, str(env))
    assert asked == [(p, 4242) for p in up(str(env))]
    assert look._reaches(h192, "/nonexistent/x") and len(asked) == len(up(str(env)))  # root: always
    os.chmod(shared / "a", 0o700)
    assert look._reaches(h191, str(env))  # remembered for this look
    assert not ProcessPaths(procfs=str(tmp_path / "proc"), human_uid_min=0)._reaches(h191, str(env))


def test_could_name_splits_a_relative_path_at_every_component(shared, tmp_path, procs):
    env = venv(shared / "p" / "q" / ".venv")
    proc = Proc(tmp_path / "proc")
    proc.status(201, uid=1001)
    cases = {
        "q/.venv/bin/python": f"{env}/bin/python",  # from p
        "q/.venv": str(env),  # names it, from p
        "p/q/.venv/lib": f"{env}/lib",
        "bin": f"{env}/bin",
        ".venv/../.venv/bin": f"{env}/bin",
        "x/.venv/bin/python": None,  # q is not x
        ".venv/bin/nothing": None,
        "q": None,  # a directory above: not in it
        "r/q/.venv": None,
    }
    for arg, target in cases.items():
        procs(hidden(201, cmdline=["/bin/ls", arg]))
        found = ProcessPaths(procfs=str(tmp_path / "proc"), human_uid_min=1000).using([env])
        if target is None:
            assert found == [], arg
        else:
            assert [p.why.rpartition(" may be ")[2] for p in found] == [target], arg


def test_could_name_through_the_entry_s_own_spelling(shared, tmp_path, procs):
    """The other user's working directory may be spelled as envtui was given the entry, not resolved."""
    env = venv(shared / "store" / "x1")
    (shared / "proj").mkdir()
    (shared / "proj" / ".venv").symlink_to(env)
    proc = Proc(tmp_path / "proc")
    proc.status(211, uid=1001)
    procs(hidden(211, cmdline=["/bin/ls", ".venv/lib"]))
    look = ProcessPaths(procfs=str(tmp_path / "proc"), human_uid_min=1000)
    assert [p.why.rpartition(" may be ")[2] for p in look.using([shared / "proj" / ".venv"])] == [
        f"{shared}/proj/.venv/lib"]
    assert look.using([env]) == []


# -- what a look reads, and how often ------------------------------------------------------------------


def test_a_look_reads_the_real_proc_by_default(procs, monkeypatch):
    asked = []
    monkeypatch.setattr(inuse, "_read_process", lambda proc, procfs: asked.append(procfs) or inuse._Read([], (), frozenset()))
    procs(FakeProc(1))
    ProcessPaths()
    assert asked == ["/proc"]


def test_paths_the_kernel_did_not_resolve_are_resolved_once_per_look(tmp_path, procs, monkeypatch):
    env = venv(tmp_path / "env")
    procs(*[FakeProc(300 + i, exe=f"{env}/bin/python", cwd=str(env), open_files=[f"{env}/lib"],
                     environ={"PATH": f"{env}/bin", "VIRTUAL_ENV": str(env)}) for i in range(3)])
    resolved = []
    real = os.path.realpath
    monkeypatch.setattr(inuse.os.path, "realpath", lambda p: resolved.append(p) or real(p))
    look = ProcessPaths(procfs=NOPROC)
    assert sorted(resolved) == sorted([f"{env}/bin", str(env)])  # PATH and VIRTUAL_ENV, once each
    assert pids(look.using([env])) == [300, 301, 302]


def test_pid_1_may_hold_the_lock_and_pid_0_is_nobody_s(shared, tmp_path, procs):
    """In a container, ``uv run`` may be pid 1; a lock taken in another pid namespace shows pid 0
    in /proc/locks, and every top process has parent 0: it must not tie them all to that lock."""
    cache = shared / "cache"
    env = venv(cache / "env")
    (cache / ".lock").write_text("")
    other = shared / "other"
    venv(other / "env")
    (other / ".lock").write_text("")
    proc = Proc(tmp_path / "proc")
    proc.status(1, ppid=0, uid=0)
    proc.status(2, ppid=1, uid=1001)
    proc.status(3, ppid=0, uid=1001)
    proc.flock(1, cache / ".lock")
    proc.flock(0, other / ".lock")
    procs(hidden(2, cmdline=["/usr/bin/python3", "app.py"]), hidden(3, cmdline=["/usr/bin/python3", "app.py"]))
    look = ProcessPaths(procfs=str(tmp_path / "proc"), human_uid_min=1000)
    assert [(p.pid, p.why.partition(": ")[2]) for p in look.using([env])] == [
        (2, f"runs under process 1, which holds {cache}/.lock (a uv using it)")]
    assert look.using([other / "env"]) == []


def test_a_root_process_under_uv_does_not_hide_a_human_s_from_the_next_rule(shared, tmp_path, procs):
    cache = shared / "cache"
    (cache / "x").mkdir(parents=True)
    (cache / ".lock").write_text("")
    env = venv(shared / "env")
    proc = Proc(tmp_path / "proc")
    proc.status(401, uid=0)
    proc.status(402, uid=1001)
    proc.flock(401, cache / ".lock")
    procs(hidden(401, cmdline=["python"]), hidden(402, cmdline=["python"]))
    look = ProcessPaths(procfs=str(tmp_path / "proc"), human_uid_min=1000)
    assert set(look._suspects) == {401, 402}
    assert pids(look.using([env])) == [402]
    assert pids(look.using([cache / "x"])) == [401]  # 402's python is no cache/x/bin/python


def test_the_caller_s_parent_directories_are_used_and_existence_asked_once(shared, tmp_path, procs, monkeypatch):
    env = venv(shared / "env")
    proc = Proc(tmp_path / "proc")
    for pid in (501, 502, 503):
        proc.status(pid, uid=1001)
    procs(*[hidden(pid, cmdline=["python"]) for pid in (501, 502, 503)])
    look = ProcessPaths(procfs=str(tmp_path / "proc"), human_uid_min=1000)
    asked = []
    real = os.path.lexists
    monkeypatch.setattr(inuse.os.path, "lexists", lambda p: asked.append(p) or real(p))
    parents = ParentDirs()
    assert pids(look.using([env], parents)) == [501, 502, 503]
    assert pids(look.using([env], parents)) == [501, 502, 503]
    assert asked == [f"{env}/bin/python"] and len(parents) == 1


def test_processes_using_resolves_parents_once_for_all_entries(tmp_path, procs, monkeypatch):
    procs(FakeProc(601, cwd="/"))
    given = []

    class Spy(ProcessPaths):
        def __init__(self):
            super().__init__(procfs=NOPROC)

        def using(self, dirs, parents=None):
            given.append(parents)
            return super().using(dirs, parents)

    monkeypatch.setattr(inuse, "ProcessPaths", Spy)
    processes_using({"a": [tmp_path / "a"], "b": [tmp_path / "b"]})
    assert len(given) == 2 and isinstance(given[0], ParentDirs) and given[0] is given[1]
