"""uv's locks as envtui takes and probes them, against locks held by other processes."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from pathlib import Path

import filelock
import pytest

from envtui.core.locks import entry_lock_held, root_lock_holders, try_lock_root
from envtui.core.prune.inuse import processes_using

HOLDER = """
import fcntl, os, sys, time
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT)
fcntl.flock(fd, fcntl.LOCK_SH if sys.argv[2] == "shared" else fcntl.LOCK_EX)
print("locked", flush=True)
sys.stdin.read()
"""


@pytest.fixture
def hold(tmp_path):
    """Start a process holding a ``flock`` on a file (shared or exclusive) until the test ends."""
    procs = []

    def start(path: Path, mode: str = "shared", cwd: Path | None = None) -> subprocess.Popen:
        proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(path), mode], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, text=True, cwd=cwd)
        assert proc.stdout.readline().strip() == "locked"
        procs.append(proc)
        return proc

    yield start
    for proc in procs:
        proc.stdin.close()
        proc.wait(timeout=30)


def test_root_lock_refused_while_a_uv_holds_it_shared(tmp_path, hold):
    proc = hold(tmp_path / ".lock", "shared")
    assert try_lock_root(tmp_path) is None
    holders = root_lock_holders(tmp_path)
    assert [h.pid for h in holders] == [proc.pid]
    assert "holds" in holders[0].why and str(tmp_path / ".lock") in holders[0].why


def test_root_lock_taken_when_free_and_the_lock_file_survives_release(tmp_path):
    lock = try_lock_root(tmp_path)
    assert lock is not None and lock.held
    inode = os.stat(tmp_path / ".lock").st_ino
    # Held exclusively: filelock (what uv interoperates with) cannot take it either.
    with pytest.raises(filelock.Timeout):
        filelock.UnixFileLock(str(tmp_path / ".lock"), timeout=0).acquire()
    lock.release()
    assert os.stat(tmp_path / ".lock").st_ino == inode
    fl = filelock.UnixFileLock(str(tmp_path / ".lock"), timeout=0)
    fl.acquire()
    assert try_lock_root(tmp_path) is None
    fl.release()
    assert os.stat(tmp_path / ".lock").st_ino == inode
    again = try_lock_root(tmp_path)
    assert again is not None
    again.release()


def test_entry_lock_probe(tmp_path, hold):
    lock_file = tmp_path / "abc.lock"
    assert not entry_lock_held(lock_file)  # missing: nobody holds it
    assert not lock_file.exists()  # and the probe did not create it
    lock_file.write_text("")
    assert not entry_lock_held(lock_file)
    hold(lock_file, "exclusive")
    assert entry_lock_held(lock_file)


def test_processes_using_finds_a_working_directory_inside_an_entry(tmp_path, hold):
    venv = tmp_path / "env"
    venv.mkdir()
    other = tmp_path / "other"
    other.mkdir()
    proc = hold(tmp_path / "x.lock", "shared", cwd=venv)
    found = processes_using({"env": [venv], "other": [other]})
    assert set(found) == {"env"}
    assert [p.pid for p in found["env"]] == [proc.pid]
    assert found["env"][0].why.startswith("working directory")


def test_processes_using_tells_every_entry_that_holds_what_a_process_uses(tmp_path):
    """Entries may nest (a bucket and an archive entry in it): each is told; and an entry made
    of several directories is told the first thing the process uses in any of them."""
    outer = tmp_path / "bucket"
    inner = outer / "entry"
    (inner / "sub").mkdir(parents=True)
    other = tmp_path / "venv"
    (other / "bin").mkdir(parents=True)
    (tmp_path / "alias").symlink_to(outer)
    proc = subprocess.Popen(["sleep", "60"], cwd=inner / "sub", env={"PATH": "/usr/bin:/bin", "VIRTUAL_ENV": str(other)})
    try:
        time.sleep(0.2)
        found = processes_using({"outer": [outer], "inner": [tmp_path / "alias" / "entry"], "both": [other, inner],
                                 "venv": [other], "none": [tmp_path / "nothing"]})
    finally:
        proc.kill()
        proc.wait()
    assert set(found) == {"outer", "inner", "both", "venv"}
    assert all([p.pid for p in found[k]] == [proc.pid] for k in found)
    assert found["both"][0].why == f"working directory {inner / 'sub'}"  # before the environment
    assert found["venv"][0].why == f"VIRTUAL_ENV {other}"
    assert "sleep" in found["inner"][0].cmdline


# -- the root lock against hostile and unusable lock files --------------------------------------

import io
import json
import select
import shutil
import signal
import tempfile
import traceback

from envtui.core.locks import (
    FREE, HELD, UNAVAILABLE, LockUnavailable, lock_entry, probe_root_lock,
)
from envtui.core.locate import CACHEDIR_TAG_SIGNATURE
from tests.uvcache import uv_bin


def envtui(*args: str, env: dict | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
    try:
        return subprocess.run([sys.executable, "-m", "envtui", *args], capture_output=True, text=True, input="",
                              timeout=timeout, env={**os.environ, **(env or {})})
    except subprocess.TimeoutExpired:
        pytest.fail(f"envtui {' '.join(args)} hung")


def one_line_error(out: subprocess.CompletedProcess, *needles: str) -> None:
    assert out.returncode == 2, (out.returncode, out.stdout, out.stderr)
    assert "Traceback" not in out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("envtui: "), out.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]


def small_cache(root: Path) -> Path:
    """A uv cache holding one unreferenced archive entry (something for a prune to delete)."""
    (root / "archive-v0" / "Aunreferenced000" / "pkg").mkdir(parents=True)
    (root / "archive-v0" / "Aunreferenced000" / "pkg" / "f.py").write_text("x = 1\n")
    (root / "CACHEDIR.TAG").write_bytes(CACHEDIR_TAG_SIGNATURE + b"\n")
    return root


def make_bad_lock(root: Path, kind: str, outside: Path) -> None:
    lock = root / ".lock"
    if lock.exists() or lock.is_symlink():
        lock.unlink()
    if kind == "fifo":
        os.mkfifo(lock)
    elif kind == "directory":
        lock.mkdir()
    elif kind == "dangling symlink":
        os.symlink(outside, lock)
    elif kind == "symlink to a file":
        outside.write_text("not uv's\n")
        os.symlink(outside, lock)


@contextlib.contextmanager
def deadline(seconds: int = 20):
    """Fail, rather than hang the suite, when an in-process call blocks (say, opening a FIFO):
    SIGALRM interrupts the blocked system call and raises here."""
    def expired(signum, frame):
        raise AssertionError(f"blocked for {seconds} s: a read or a lock probe hung")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


@pytest.fixture
def no_hang():
    """:func:`deadline` around the whole test."""
    with deadline():
        yield


BAD_LOCKS = {"fifo": "FIFO", "directory": "directory", "dangling symlink": "symlink", "symlink to a file": "symlink"}


@pytest.mark.parametrize("kind", sorted(BAD_LOCKS))
def test_unusable_root_lock_is_one_line_in_every_command(real_cache_copy, tmp_path, kind):
    root = real_cache_copy.root
    outside = tmp_path / "outside-target"
    make_bad_lock(root, kind, outside)
    before = outside.read_text() if outside.exists() else None
    with deadline():  # in this process; the commands below each have their own timeout
        state = probe_root_lock(root)
        assert state.state == UNAVAILABLE and BAD_LOCKS[kind] in state.reason
        with pytest.raises(LockUnavailable, match=BAD_LOCKS[kind]):
            try_lock_root(root)
    cache = ("--cache-dir", str(root))
    one_line_error(envtui("prune", "--unreferenced", "--older-than", "0", "--yes", *cache), str(root / ".lock"), BAD_LOCKS[kind])
    interp = sorted(root.glob("interpreter-v5/*/*.msgpack"))[0]
    one_line_error(envtui("rebuild", "--uv", uv_bin(), f"{interp.parent.name}/{interp.stem}", *cache), BAD_LOCKS[kind])
    dry = envtui("prune", "--dry-run", "--older-than", "0", *cache)
    assert dry.returncode == 0 and "Traceback" not in dry.stderr
    assert "assumes uv is running" in dry.stderr and str(root / ".lock") in dry.stderr
    assert "to delete" in dry.stdout
    for args in (("ls",), ("ls", "--json"), ("path", str(real_cache_copy.scripts[0]))):
        out = envtui(*args, *cache)
        assert out.returncode == 0 and "Traceback" not in out.stderr
    # Nothing was made or written outside the cache through the link, and the entries are all there.
    assert (outside.read_text() if outside.exists() else None) == before
    assert all(p.exists() for p in real_cache_copy.scripts)
    assert interp.exists()


def test_tui_says_at_start_that_prune_is_unavailable(tmp_path, no_hang):
    from envtui.tui import _lock_notice

    root = small_cache(tmp_path / "cache")
    assert _lock_notice(root) is None
    os.mkfifo(root / ".lock")
    notice = _lock_notice(root)
    assert notice and str(root / ".lock") in notice and "FIFO" in notice


def test_missing_lock_is_created_0666_whatever_the_umask(tmp_path):
    old = os.umask(0o022)
    try:
        lock = try_lock_root(tmp_path)
    finally:
        os.umask(old)
    assert lock is not None
    lock.release()
    st = os.lstat(tmp_path / ".lock")
    assert stat_mode(st) == 0o666 and not os.path.islink(tmp_path / ".lock")


def test_uv_creates_its_lock_0666_too(uv_cache):
    """The oracle: the mode envtui gives a new lock file is the one uv gives it."""
    old = os.umask(0o022)
    try:
        uv_cache.run("cache", "dir")
        uv_cache.run("run", "--no-project", "python", "-c", "")
    finally:
        os.umask(old)
    assert stat_mode(os.lstat(uv_cache.root / ".lock")) == 0o666


def stat_mode(st: os.stat_result) -> int:
    import stat as _stat

    return _stat.S_IMODE(st.st_mode)


def test_dangling_symlink_lock_creates_nothing_outside(tmp_path, no_hang):
    root = small_cache(tmp_path / "cache")
    outside = tmp_path / "elsewhere" / "made-by-envtui"
    outside.parent.mkdir()
    os.symlink(outside, root / ".lock")
    for args in (("prune", "--dry-run", "--unreferenced"), ("prune", "--unreferenced", "--yes")):
        envtui(*args, "--cache-dir", str(root))
    with pytest.raises(LockUnavailable):
        try_lock_root(root)
    assert not outside.exists() and os.listdir(outside.parent) == []
    assert (root / "archive-v0" / "Aunreferenced000").is_dir()  # not deleted without the lock


def test_dry_run_creates_and_writes_nothing(real_cache_copy):
    root = real_cache_copy.root
    (root / ".lock").unlink()

    def tree() -> dict[str, tuple]:
        out = {}
        for dirpath, dirnames, filenames in os.walk(root):
            for name in dirnames + filenames:
                st = os.lstat(os.path.join(dirpath, name))
                out[os.path.join(dirpath, name)] = (st.st_mode, st.st_size, st.st_mtime_ns, st.st_ino)
        return out

    before = tree()
    out = envtui("prune", "--dry-run", "--unreferenced", "--older-than", "0", "--interpreters", "--cache-dir", str(root))
    assert out.returncode == 0 and "to delete" in out.stdout
    assert tree() == before and not os.path.lexists(root / ".lock")


def test_a_refused_root_gets_no_lock(tmp_path):
    """A cache signature in a home directory: refused before its lock is opened or created."""
    home = small_cache(tmp_path / "home")
    env = {"HOME": str(home)}
    for args in (("prune", "--dry-run", "--unreferenced"), ("prune", "--unreferenced", "--yes")):
        one_line_error(envtui(*args, "--cache-dir", str(home), env=env), "home directory")
    assert not os.path.lexists(home / ".lock")
    assert (home / "archive-v0" / "Aunreferenced000").is_dir()


def test_probe_tells_free_from_held_read_only(tmp_path, hold):
    assert probe_root_lock(tmp_path).state == FREE and not os.path.lexists(tmp_path / ".lock")
    proc = hold(tmp_path / ".lock", "shared")
    os.chmod(tmp_path / ".lock", 0o444)  # read-only is enough for a probe
    state = probe_root_lock(tmp_path)
    assert state.state == HELD and [h.pid for h in state.holders] == [proc.pid]


def test_fifo_and_symlink_entry_locks_never_block(tmp_path, no_hang):
    fifo = tmp_path / "fifo.lock"
    os.mkfifo(fifo)
    real = tmp_path / "real.lock"
    real.write_text("")
    link = tmp_path / "link.lock"
    os.symlink(real, link)
    for path in (fifo, link):
        assert entry_lock_held(path)  # the safe answer: such an entry is not deleted
        with pytest.raises(OSError):
            lock_entry(path)
    assert not entry_lock_held(real)


# -- a cache this user may not write: another user's, or on a read-only filesystem --------------

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="needs root: to drop to another user, or to mount")


@pytest.fixture
def shared_tmp():
    """A directory every user can enter (pytest's tmp_path is private to root)."""
    path = Path(tempfile.mkdtemp(prefix="envtui-shared-", dir="/tmp"))
    os.chmod(path, 0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def run_as(uid: int, argv: list[str], timeout: float = 60) -> tuple[int, str]:
    """``envtui.cli.main(argv)`` in a forked child running as ``uid``: its exit code and output.

    Forked, not exec'd: the interpreter lives under /root, which another user cannot enter, so
    every module the command needs is imported here first."""
    from envtui import cli
    import envtui.core.disk  # noqa: F401  imported lazily by some commands

    cli.build_parser()
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        code = 99
        try:
            os.close(r)
            stream = io.TextIOWrapper(os.fdopen(w, "wb"), write_through=True)
            sys.stdout = sys.stderr = stream
            os.setgroups([])
            os.setgid(uid)
            os.setuid(uid)
            code = cli.main(argv)
        except BaseException:
            traceback.print_exc()
        finally:
            sys.stdout.flush()
            os._exit(code)
    os.close(w)
    chunks, deadline = [], time.monotonic() + timeout
    with os.fdopen(r, "rb") as fh:
        while True:
            ready, _, _ = select.select([fh], [], [], max(0.0, deadline - time.monotonic()))
            if not ready:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                pytest.fail(f"envtui {argv} hung as uid {uid}")
            chunk = os.read(fh.fileno(), 65536)
            if not chunk:
                break
            chunks.append(chunk)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status), b"".join(chunks).decode("utf-8", "replace")


NOBODY = 65534


@needs_root
@pytest.mark.parametrize("lock", ["missing", "root's, mode 0644"])
def test_another_users_cache_says_why_in_one_line(shared_tmp, monkeypatch, lock):
    root = small_cache(shared_tmp / "cache")
    if lock != "missing":
        (root / ".lock").write_text("")
        os.chmod(root / ".lock", 0o644)
    state = shared_tmp / "state"
    state.mkdir()
    os.chown(state, NOBODY, NOBODY)
    monkeypatch.setenv("ENVTUI_STATE_DIR", str(state))
    monkeypatch.setenv("HOME", str(state))
    code, out = run_as(NOBODY, ["prune", "--dry-run", "--unreferenced", "--cache-dir", str(root)])
    assert code == 0 and "Traceback" not in out and "to delete" in out
    code, out = run_as(NOBODY, ["prune", "--unreferenced", "--yes", "--cache-dir", str(root)])
    assert code == 2 and "Traceback" not in out, out
    line = out.strip().splitlines()
    assert len(line) == 1 and "permission denied" in line[0] and str(root / ".lock") in line[0], out
    code, out = run_as(NOBODY, ["ls", "--cache-dir", str(root)])
    assert code == 0 and "Traceback" not in out
    assert os.path.lexists(root / ".lock") == (lock != "missing")
    assert (root / "archive-v0" / "Aunreferenced000").is_dir()


@needs_root
def test_read_only_mount(real_cache_copy, tmp_path):
    src = real_cache_copy.root
    (src / ".lock").unlink()
    mnt = tmp_path / "ro"
    mnt.mkdir()
    if subprocess.run(["mount", "--bind", str(src), str(mnt)], capture_output=True).returncode != 0:
        pytest.skip("bind mounts are not permitted here")
    try:
        subprocess.run(["mount", "-o", "remount,ro,bind", str(mnt)], check=True, capture_output=True)
        dry = envtui("prune", "--dry-run", "--older-than", "0", "--cache-dir", str(mnt))
        assert dry.returncode == 0 and "to delete" in dry.stdout and "Traceback" not in dry.stderr
        one_line_error(envtui("prune", "--older-than", "0", "--yes", "--cache-dir", str(mnt)), "read-only")
        with (src / ".lock").open("w"):
            pass  # an existing lock on a read-only filesystem cannot be opened for writing either
        one_line_error(envtui("prune", "--older-than", "0", "--yes", "--cache-dir", str(mnt)), "read-only")
        assert json.loads(envtui("ls", "--json", "--cache-dir", str(mnt)).stdout)["environments"]
    finally:
        subprocess.run(["umount", str(mnt)], check=False)


def test_envtui_and_uv_lock_the_same_inode(uv_cache, no_hang):
    """fcntl.flock against real uv: a running `uv run` holds the root lock shared (the probe says
    held, naming it); once it exits the lock is free; envtui's lock and release keep uv's inode."""
    uv_cache.run("run", "--no-project", "python", "-c", "")
    lock_file = uv_cache.root / ".lock"
    inode = os.stat(lock_file).st_ino
    proc = subprocess.Popen([uv_cache.uv, "run", "--no-project", "python", "-c", "import sys; sys.stdin.read()"],
                            env=uv_cache.env, stdin=subprocess.PIPE, cwd=uv_cache.workdir)
    try:
        deadline = time.monotonic() + 15
        while (state := probe_root_lock(uv_cache.root)).state != HELD and time.monotonic() < deadline:
            time.sleep(0.05)
        assert state.state == HELD
        assert proc.pid in [h.pid for h in state.holders]
        assert try_lock_root(uv_cache.root) is None
    finally:
        proc.stdin.close()
        proc.wait(timeout=30)
    assert probe_root_lock(uv_cache.root).state == FREE
    lock = try_lock_root(uv_cache.root)
    assert lock is not None
    lock.release()
    uv_cache.run("run", "--no-project", "python", "-c", "")
    assert os.stat(lock_file).st_ino == inode


# -- /proc/locks: who holds uv's lock, any user -----------------------------------------------------

from envtui.core.locks import Flock, flocks, parse_locks


def test_parse_locks_keeps_flock_holders_and_waiters():
    text = (
        "1: FLOCK  ADVISORY  READ 22569 fe:00:2154501 0 EOF\n"
        "1: -> FLOCK  ADVISORY  WRITE 22600 fe:00:2154501 0 EOF\n"
        " 2: FLOCK  ADVISORY  WRITE 7 103:0a:12 0 EOF\n"
        "3: POSIX  ADVISORY  WRITE 812 00:19:1187 0 EOF\n"
        "4: OFDLCK ADVISORY  READ  -1 00:06:9 0 EOF\n"
        "5: FLOCK  ADVISORY  UNLCK 9 00:06:9 0 EOF\n"
        "6: FLOCK  ADVISORY  READ x 00:06:9 0 EOF\n"
        "7: FLOCK  ADVISORY  READ 9 00:06 0 EOF\n"
        "8: FLOCK  ADVISORY  READ 9 zz:06:9 0 EOF\n"
        "9: FLOCK  ADVISORY  READ\n"
        "\n"
        "10: FLOCK  ADVISORY  READ 11 00:06:9\n"
    )
    assert parse_locks(text) == [
        Flock(22569, os.makedev(0xFE, 0), 2154501, False, False),
        Flock(22600, os.makedev(0xFE, 0), 2154501, True, True),
        Flock(7, os.makedev(0x103, 0x0A), 12, True, False),
        Flock(11, os.makedev(0, 6), 9, False, False),
    ]


def test_flocks_read_the_file_whole_and_nothing_when_it_cannot_be_read(tmp_path, hold, no_hang):
    assert flocks(str(tmp_path / "missing")) == []
    os.mkfifo(tmp_path / "fifo")
    assert flocks(str(tmp_path / "fifo")) == []  # opened without blocking: no writer, nothing read
    many = tmp_path / "locks"
    many.write_text("".join(f"{i}: FLOCK  ADVISORY  READ {i} 00:01:{i} 0 EOF\n" for i in range(1, 3001)))
    assert [f.pid for f in flocks(str(many))] == list(range(1, 3001))  # more than one read's worth
    proc = hold(tmp_path / "x.lock", "exclusive")
    st = os.stat(tmp_path / "x.lock")
    assert Flock(proc.pid, st.st_dev, st.st_ino, True, False) in flocks()


WAITER = """
import fcntl, os, sys
fd = os.open(sys.argv[1], os.O_RDWR)
fcntl.flock(fd, fcntl.LOCK_EX)
"""


def test_root_lock_holders_name_holders_and_waiters_from_proc_locks(tmp_path, hold):
    holder = hold(tmp_path / ".lock", "shared")
    waiter = subprocess.Popen([sys.executable, "-c", WAITER, str(tmp_path / ".lock")])
    try:
        st = os.stat(tmp_path / ".lock")
        deadline = time.monotonic() + 15
        while not any(f.pid == waiter.pid and f.waiting for f in flocks()) and time.monotonic() < deadline:
            time.sleep(0.02)
        holders = root_lock_holders(tmp_path)
        lock = os.path.realpath(tmp_path / ".lock")
        assert [(h.pid, h.why) for h in holders] == [
            (holder.pid, f"holds {lock} (shared flock)"), (waiter.pid, f"waits for {lock} (exclusive flock)")]
        assert WAITER.strip().splitlines()[0] in holders[1].cmdline
        assert all((f.dev, f.ino) == (st.st_dev, st.st_ino) for f in flocks() if f.pid in (holder.pid, waiter.pid))
    finally:
        waiter.kill()
        waiter.wait()


def test_root_lock_holders_with_no_lock_file_or_a_gone_holder(tmp_path, monkeypatch):
    assert root_lock_holders(tmp_path) == []  # no .lock: nobody named from /proc/locks
    (tmp_path / ".lock").write_text("")
    st = os.stat(tmp_path / ".lock")
    fake = tmp_path / "locks"
    gone = 2**22 + 12345  # above any pid_max: no such process
    fake.write_text(f"1: FLOCK  ADVISORY  WRITE {gone} {os.major(st.st_dev):x}:{os.minor(st.st_dev):x}:{st.st_ino} 0 EOF\n"
                    f"2: FLOCK  ADVISORY  READ {os.getpid()} {os.major(st.st_dev):x}:{os.minor(st.st_dev):x}:{st.st_ino} 0 EOF\n"
                    f"3: FLOCK  ADVISORY  READ 1 {os.major(st.st_dev):x}:{os.minor(st.st_dev):x}:{st.st_ino + 1} 0 EOF\n")
    holders = root_lock_holders(tmp_path, locks=str(fake))
    assert [(h.pid, h.cmdline, h.why) for h in holders] == [
        (gone, "?", f"holds {os.path.realpath(tmp_path / '.lock')} (exclusive flock)")]  # never this process
