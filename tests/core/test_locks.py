"""uv's locks as envtui takes and probes them, against locks held by other processes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import filelock
import pytest

from envtui.core.locks import entry_lock_held, processes_using, root_lock_holders, try_lock_root

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
