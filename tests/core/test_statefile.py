"""envtui's own state (settings, scripts seen, the saved disk index) is read like the cache and
written atomically in a directory only the user can write (safety rule 12): a FIFO, a link, a
directory, a huge file, bad JSON or a wrong shape is one line naming the path and is ignored,
never a hang; a planted name is never followed; a directory others can write is never written."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from envtui.core import statefile
from envtui.core.disk import index as disk_index
from envtui.core.disk.scan import DiskReport
from envtui.core.locate import CACHEDIR_TAG_SIGNATURE
from envtui.core.statefile import UnsafeStateDirError, dir_problem, read_json, write_json
from envtui.scripts_seen import load_seen_scripts, read_seen_scripts, remember_scripts, seen_scripts_path
from envtui.state import MAX_SETTINGS_BYTES, Settings, load_settings, read_settings, save_settings, settings_path

root_only = pytest.mark.skipif(os.geteuid() != 0, reason="changing a file's owner needs root")


@pytest.fixture
def state(tmp_path, monkeypatch) -> Path:
    """A fresh state directory, as envtui would create it (0700)."""
    d = tmp_path / "state"
    d.mkdir(mode=0o700)
    monkeypatch.setenv("ENVTUI_STATE_DIR", str(d))
    return d


def promptly(fn, seconds: float = 10.0):
    """``fn()``'s result, failing (not hanging) when it takes longer than ``seconds``."""
    out: list = []
    t = threading.Thread(target=lambda: out.append(fn()), daemon=True)
    t.start()
    t.join(seconds)
    assert out, f"still blocked after {seconds} s"
    return out[0]


def _unblock(path: Path) -> None:
    """Open the FIFO for writing once, so a reader a failed test left blocked can go on."""
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_NONBLOCK))
    except OSError:
        pass


# -- reading ---------------------------------------------------------------------------------------


def test_settings_round_trip_and_the_old_name(state):
    assert read_settings() == (Settings(), None)  # nothing saved yet
    path = save_settings(Settings(script_roots=("/a", "/b c")))
    assert path == settings_path() == state / "settings.json"
    assert read_settings() == (Settings(script_roots=("/a", "/b c")), None)
    assert json.loads(path.read_text()) == {"script_roots": ["/a", "/b c"]}
    path.write_text(json.dumps({"roots": ["/old"]}))  # what older envtui wrote
    assert load_settings(on_problem=None).roots == ("/old",)


@pytest.mark.parametrize("which", ["settings", "seen"])
def test_a_fifo_is_ignored_at_once_with_one_line(state, which):
    path = settings_path() if which == "settings" else seen_scripts_path()
    os.mkfifo(path)
    try:
        if which == "settings":
            value, problem = promptly(read_settings)
            assert value == Settings()
        else:
            value, problem = promptly(lambda: read_seen_scripts("/cache"))
            assert value == []
        assert problem == f"{path}: is a FIFO, not a regular file; ignored"
    finally:
        _unblock(path)


def test_a_symlink_is_not_followed(state, tmp_path):
    elsewhere = tmp_path / "elsewhere.json"
    elsewhere.write_text(json.dumps({"script_roots": ["/planted"]}))
    settings_path().symlink_to(elsewhere)
    assert read_settings() == (Settings(), f"{settings_path()}: is a symlink, not a file; ignored")
    # Saving replaces the link itself; what it pointed to is untouched.
    save_settings(Settings(script_roots=("/mine",)))
    assert not settings_path().is_symlink() and json.loads(elsewhere.read_text()) == {"script_roots": ["/planted"]}
    assert read_settings() == (Settings(script_roots=("/mine",)), None)


def test_a_directory_and_a_huge_file_are_ignored(state):
    settings_path().mkdir()
    assert read_settings() == (Settings(), f"{settings_path()}: is a directory, not a regular file; ignored")
    settings_path().rmdir()
    settings_path().write_bytes(b" " * (MAX_SETTINGS_BYTES + 1))
    settings, problem = read_settings()
    assert settings == Settings() and problem == (
        f"{settings_path()}: holds {MAX_SETTINGS_BYTES + 1} bytes, more than the {MAX_SETTINGS_BYTES} read from such a file; ignored")


@pytest.mark.parametrize("content, why", [
    (b"\xff\xfe not json", "is not JSON"),
    (b'{"script_roots": ["/a"]', "is not JSON"),
    (b"[" * 100_000 + b"]" * 100_000, "is not JSON"),  # deeper than the parser recurses
    (b"[]", "is not envtui's settings (TypeError: not an object)"),
    (b'"roots"', "is not envtui's settings (TypeError: not an object)"),
    (b'{"script_roots": "/a"}', "is not envtui's settings (TypeError: script_roots is not a list of directories)"),
    (b'{"script_roots": [1]}', "is not envtui's settings (TypeError: script_roots is not a list of directories)"),
    (b'{"script_roots": [""]}', "is not envtui's settings (TypeError: script_roots is not a list of directories)"),
    (b'{"script_roots": ["/a\\u0000b"]}', "is not envtui's settings (TypeError: script_roots is not a list of directories)"),
    (b'{"roots": {"/a": 1}}', "is not envtui's settings (TypeError: script_roots is not a list of directories)"),
])
def test_bad_json_or_a_wrong_shape_is_one_line_and_the_defaults(state, content, why):
    settings_path().write_bytes(content)
    settings, problem = read_settings()
    assert settings == Settings()
    assert problem.startswith(f"{settings_path()}: {why}") and problem.endswith("; ignored") and "\n" not in problem


@pytest.mark.parametrize("doc", [[], {"/c": "/s.py"}, {"/c": [1]}, {"/c": [["/s.py"]]}, "x"])
def test_a_wrong_shape_of_scripts_seen_is_ignored(state, doc):
    seen_scripts_path().write_text(json.dumps(doc))
    scripts, problem = read_seen_scripts("/c")
    assert scripts == [] and problem.startswith(f"{seen_scripts_path()}: is not a list of scripts seen (TypeError")


def test_scripts_seen_round_trip(state, tmp_path):
    cache = tmp_path / "cache"
    cache.mkdir()
    said = []
    assert remember_scripts(cache, ["/s/b.py", "/s/a.py"], on_problem=said.append) == ["/s/a.py", "/s/b.py"]
    assert remember_scripts(cache, ["/s/a.py"], on_problem=said.append) == ["/s/a.py", "/s/b.py"]
    assert read_seen_scripts(cache) == (["/s/a.py", "/s/b.py"], None) and said == []
    assert load_seen_scripts(tmp_path / "other") == []
    # A cache that is gone is forgotten at the next write.
    data = json.loads(seen_scripts_path().read_text())
    data["/no/such/cache"] = ["/x.py"]
    seen_scripts_path().write_text(json.dumps(data))
    remember_scripts(cache, ["/s/c.py"])
    assert set(json.loads(seen_scripts_path().read_text())) == {str(cache)}


def test_a_bad_scripts_seen_file_is_said_and_replaced(state, tmp_path, capsys):
    os.mkfifo(seen_scripts_path())
    try:
        seen = promptly(lambda: remember_scripts(tmp_path, ["/s.py"]))
    finally:
        _unblock(seen_scripts_path())
    assert seen == ["/s.py"] and stat.S_ISREG(os.lstat(seen_scripts_path()).st_mode)
    err = capsys.readouterr().err
    assert err == f"envtui: warning: {seen_scripts_path()}: is a FIFO, not a regular file; ignored\n"
    assert read_seen_scripts(tmp_path) == (["/s.py"], None)


def test_a_problem_line_escapes_control_characters(tmp_path, monkeypatch):
    d = tmp_path / "st\x1b]52;c;aGk=\x07ate"
    d.mkdir(mode=0o700)
    monkeypatch.setenv("ENVTUI_STATE_DIR", str(d))
    os.mkfifo(settings_path())
    _, problem = read_settings()
    assert "\x1b" not in problem and "\x07" not in problem and "\\x1b]52" in problem


# -- writing ---------------------------------------------------------------------------------------


def test_a_planted_temporary_name_is_never_followed(state, tmp_path, monkeypatch):
    victim = tmp_path / "victim"
    victim.write_text("precious")
    for name in ("settings.tmp", "scripts-seen.tmp", ".settings.json.tmp", "settings.json.tmp"):
        (state / name).symlink_to(victim)
    # Even the random name drawn first, planted: drawn again, the planted link untouched.
    planted = state / ".settings.json.0000000000000000.tmp"
    planted.symlink_to(victim)
    draws = iter(["0000000000000000", "1111111111111111"])
    with monkeypatch.context() as m:
        m.setattr(statefile.secrets, "token_hex", lambda n: next(draws))
        save_settings(Settings(script_roots=("/r",)))
    remember_scripts(tmp_path, ["/dry-run.py"])  # what a dry run writes
    assert victim.read_text() == "precious"
    assert all(os.readlink(state / n) == str(victim) for n in ("settings.tmp", "scripts-seen.tmp", planted.name))
    assert read_settings() == (Settings(script_roots=("/r",)), None)
    assert sorted(p.name for p in state.iterdir() if not p.is_symlink()) == ["scripts-seen.json", "settings.json"]


def test_writes_are_atomic_private_and_leave_nothing_behind(state, monkeypatch):
    save_settings(Settings(script_roots=("/one",)))
    old = os.open(settings_path(), os.O_RDONLY)
    before = os.fstat(old)
    save_settings(Settings(script_roots=("/two",)))
    after = os.lstat(settings_path())
    # A new file took the name: whoever had the old one open still reads it whole.
    assert after.st_ino != before.st_ino and json.loads(os.read(old, 1000)) == {"script_roots": ["/one"]}
    os.close(old)
    assert stat.S_IMODE(after.st_mode) == 0o600 and os.listdir(state) == ["settings.json"]
    synced = []
    real_fsync = os.fsync
    with monkeypatch.context() as m:
        m.setattr(statefile.os, "fsync", lambda fd: synced.append(stat.S_IFMT(os.fstat(fd).st_mode)) or real_fsync(fd))
        save_settings(Settings(script_roots=("/three",)))
    assert synced == [stat.S_IFREG, stat.S_IFDIR]  # the file's bytes, then the rename

    def broken(*a, **kw):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(statefile.os, "replace", broken)
    with pytest.raises(OSError):
        save_settings(Settings(script_roots=("/four",)))
    assert os.listdir(state) == ["settings.json"] and read_settings()[0].roots == ("/three",)
    monkeypatch.setattr(statefile.os, "write", broken)
    with pytest.raises(OSError):
        save_settings(Settings(script_roots=("/five",)))
    assert os.listdir(state) == ["settings.json"]


def test_a_value_too_large_to_read_back_is_not_written(state):
    with pytest.raises(OSError) as err:
        write_json(state / "x.json", "y" * 100, limit=50)
    assert err.value.errno == 27 and err.value.filename == str(state / "x.json") and not (state / "x.json").exists()
    assert write_json(state / "x.json", "y" * 10, limit=50) == state / "x.json"
    assert read_json(state / "x.json", str, limit=50, what="text") == ("y" * 10, None)


def test_missing_state_directories_are_created_0700(tmp_path, monkeypatch):
    monkeypatch.setenv("ENVTUI_STATE_DIR", str(tmp_path / "a" / "b" / "state"))
    mask = os.umask(0)  # not the umask: 0700 whatever it is
    try:
        save_settings(Settings())
        disk_index.save_index(DiskReport(tmp_path / "cache", 0, 0, (), {}), tmp_path / "a" / "b" / "state")
    finally:
        os.umask(mask)
    for d in ("a", "a/b", "a/b/state", "a/b/state/disk-index"):
        assert stat.S_IMODE(os.lstat(tmp_path / d).st_mode) == 0o700, d
    assert read_settings() == (Settings(), None)


# -- a state directory others can write ------------------------------------------------------------


def _listing(d: Path) -> dict[str, tuple[int, int]]:
    return {p.name: (p.lstat().st_ino, p.lstat().st_mtime_ns) for p in d.iterdir()}


@pytest.mark.parametrize("how", ["world-writable", "group-writable", "symlink", "other-owner"])
def test_an_unsafe_state_directory_is_never_written(tmp_path, monkeypatch, capsys, how):
    real = tmp_path / "state"
    real.mkdir(mode=0o700)
    (real / "settings.json").write_text(json.dumps({"script_roots": ["/mine"]}))
    os.chmod(real / "settings.json", 0o600)
    state = real
    if how == "world-writable":
        os.chmod(real, 0o777)
        why = "can be written by others (mode 0777): envtui writes no state there"
    elif how == "group-writable":
        os.chmod(real, 0o770)
        why = "can be written by others (mode 0770): envtui writes no state there"
    elif how == "symlink":
        state = tmp_path / "link"
        state.symlink_to(real)
        why = "is a symlink: envtui keeps no state through one"
    else:
        if os.geteuid() != 0:
            pytest.skip("changing a directory's owner needs root")
        os.chown(real, 65534, 65534)
        why = f"belongs to uid 65534, not to you (uid {os.geteuid()}): envtui writes no state there"
    monkeypatch.setenv("ENVTUI_STATE_DIR", str(state))
    line = f"{state}: {why}"
    assert dir_problem(state) == line
    victim = tmp_path / "victim"
    victim.write_text("precious")
    (real / "scripts-seen.tmp").symlink_to(victim)  # the planted name of the report
    before = _listing(real)
    with pytest.raises(UnsafeStateDirError) as err:
        save_settings(Settings(script_roots=("/x",)))
    assert str(err.value) == line and err.value.filename == str(state)
    assert remember_scripts(tmp_path, ["/dry-run.py"]) == ["/dry-run.py"]  # not an error: not remembered
    assert capsys.readouterr().err == f"envtui: warning: {line}; the scripts seen are not remembered\n"
    with pytest.raises(UnsafeStateDirError):
        disk_index.save_index(DiskReport(tmp_path / "cache", 0, 0, (), {}), state)
    assert _listing(real) == before and victim.read_text() == "precious"
    # Reading goes on, of a file of the user's alone, and says why nothing will be saved.
    assert read_settings() == (Settings(script_roots=("/mine",)), line)


def test_in_an_unsafe_directory_only_a_file_of_the_user_s_alone_is_read(tmp_path, monkeypatch):
    state = tmp_path / "state"
    state.mkdir(mode=0o700)
    os.chmod(state, 0o777)
    monkeypatch.setenv("ENVTUI_STATE_DIR", str(state))
    path = settings_path()
    path.write_text(json.dumps({"script_roots": ["/theirs"]}))
    os.chmod(path, 0o666)
    assert read_settings() == (Settings(), f"{path}: is not yours alone to write, in a directory others can write; ignored")
    os.chmod(path, 0o644)
    assert read_settings()[0].roots == ("/theirs",)
    if os.geteuid() == 0:
        os.chown(path, 65534, 65534)
        assert read_settings()[0] == Settings()
    path.unlink()
    os.mkfifo(path)
    try:
        assert promptly(read_settings) == (Settings(), f"{path}: is not a regular file; ignored")
    finally:
        _unblock(path)
    path.unlink()
    path.symlink_to(tmp_path / "elsewhere")
    assert read_settings()[1] == f"{path}: is a symlink, not a file; ignored"
    path.unlink()
    path.write_bytes(b" " * (MAX_SETTINGS_BYTES + 1))
    os.chmod(path, 0o600)
    assert "more than the" in read_settings()[1]
    path.unlink()
    assert read_settings() == (Settings(), f"{state}: can be written by others (mode 0777): envtui writes no state there")


def test_the_disk_index_s_own_directory_is_checked_too(tmp_path):
    state = tmp_path / "state"
    (state / "disk-index").mkdir(parents=True, mode=0o700)
    os.chmod(state / "disk-index", 0o777)
    report = DiskReport(tmp_path / "cache", 7, 9, (), {})
    with pytest.raises(UnsafeStateDirError) as err:
        disk_index.save_index(report, state)
    assert err.value.filename == str(state / "disk-index") and os.listdir(state / "disk-index") == []
    os.chmod(state / "disk-index", 0o700)
    saved = disk_index.save_index(report, state)
    assert disk_index.read_index(tmp_path / "cache", state)[0].report.total_disk == 7
    # Not deleted when its directory is others' to write: envtui writes nothing there, not even that.
    os.chmod(state / "disk-index", 0o777)
    saved.write_text("{}")
    os.chmod(saved, 0o600)
    saved_at, problem = disk_index.read_index(tmp_path / "cache", state)
    assert saved_at is None and problem.startswith(f"{saved}: is not an envtui disk index (KeyError") and saved.exists()
    os.chmod(state / "disk-index", 0o700)
    assert disk_index.read_index(tmp_path / "cache", state)[1].startswith(f"{saved}: is not an envtui disk index")
    assert not saved.exists()  # discarded


def test_the_disk_index_is_never_written_through_a_link(tmp_path):
    state = tmp_path / "state"
    state.mkdir(mode=0o700)
    (tmp_path / "elsewhere").mkdir()
    (state / "disk-index").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(UnsafeStateDirError) as err:
        disk_index.save_index(DiskReport(tmp_path / "cache", 0, 0, (), {}), state)
    assert err.value.strerror == "is a symlink: envtui keeps no state through one"
    assert os.listdir(tmp_path / "elsewhere") == []
    (state / "disk-index").unlink()
    (state / "disk-index").write_text("a file")
    with pytest.raises(UnsafeStateDirError) as err:
        disk_index.save_index(DiskReport(tmp_path / "cache", 0, 0, (), {}), state)
    assert err.value.strerror == "is not a directory"


def test_another_format_version_of_the_index_is_dropped_without_a_word(tmp_path):
    state = tmp_path / "state"
    path = disk_index.save_index(DiskReport(tmp_path / "cache", 0, 0, (), {}), state)
    doc = json.loads(path.read_text())
    doc["format"] = disk_index.FORMAT + 1
    path.write_text(json.dumps(doc))
    assert disk_index.read_index(tmp_path / "cache", state) == (None, None) and not path.exists()
    doc["kind"] = "something else"
    path.write_text(json.dumps(doc))
    assert disk_index.read_index(tmp_path / "cache", state)[1].endswith("(ValueError: another kind of file); ignored")


# -- the command line ------------------------------------------------------------------------------


def _cache(root: Path) -> Path:
    root.mkdir()
    (root / "CACHEDIR.TAG").write_bytes(CACHEDIR_TAG_SIGNATURE + b"\n")
    for d in ("archive-v0", "wheels-v8", "environments-v2"):
        (root / d).mkdir()
    return root


@pytest.mark.parametrize("fifo, command", [
    ("settings.json", ["ls"]),
    ("scripts-seen.json", ["prune", "--dry-run", "--orphans"]),
    ("settings.json", ["prune", "--dry-run", "--orphans"]),
])
def test_a_command_returns_promptly_with_a_warning_when_state_is_a_fifo(tmp_path, fifo, command):
    state = tmp_path / "state"
    state.mkdir(mode=0o700)
    os.mkfifo(state / fifo)
    cache = _cache(tmp_path / "cache")
    env = {**os.environ, "ENVTUI_STATE_DIR": str(state), "UV_CACHE_DIR": str(cache)}
    started = time.monotonic()
    try:
        proc = subprocess.run([sys.executable, "-m", "envtui", *command, "--cache-dir", str(cache)],
                              capture_output=True, text=True, timeout=60, env=env, stdin=subprocess.DEVNULL)
    finally:
        _unblock(state / fifo)
    assert proc.returncode == 0, proc.stderr
    assert f"envtui: warning: {state / fifo}: is a FIFO, not a regular file; ignored" in proc.stderr.splitlines()
    assert time.monotonic() - started < 60
