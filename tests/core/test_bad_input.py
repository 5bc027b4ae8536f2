"""Bad input: every broken entry is shown as broken, names its path, and nothing crashes."""

from __future__ import annotations

import errno
import json
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import msgpack
import pytest

from envtui.core import CacheLocation, NotACacheError, scan_inventory
from envtui.core.fsread import NotRegularError, read_regular
from envtui.core.locate import CACHEDIR_TAG_SIGNATURE


def _scan(root: Path):
    return scan_inventory(CacheLocation(root, "--cache-dir"))


def _ls(root: Path, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "envtui", "ls", "--cache-dir", str(root), *extra],
        capture_output=True, text=True, errors="surrogateescape", env={**os.environ, "PYTHONIOENCODING": "utf-8"},
    )


def _interp_files(root: Path) -> list[Path]:
    return sorted(root.glob("interpreter-v5/*/*.msgpack"))


def test_truncated_and_garbage_msgpack_are_corrupt(real_cache_copy):
    root = real_cache_copy.root
    first, second = _interp_files(root)[:2]
    first.write_bytes(first.read_bytes()[:40])
    second.write_bytes(b"\x00\xffnot msgpack at all")
    inv = _scan(root)
    by_path = {e.path: e for e in inv.interpreters}
    assert by_path[first].status == "corrupt" and by_path[first].error
    assert by_path[second].status == "corrupt" and by_path[second].error
    assert sum(e.status == "fresh" for e in inv.interpreters) == len(inv.interpreters) - 2
    out = _ls(root)
    assert out.returncode == 0 and "corrupt" in out.stdout


def test_wrong_shape_msgpack_is_corrupt(real_cache_copy):
    root = real_cache_copy.root
    f = _interp_files(root)[0]
    f.write_bytes(msgpack.packb([[1, 2], {"not": "an interpreter"}]))
    entry = next(e for e in _scan(root).interpreters if e.path == f)
    assert entry.status == "corrupt" and "layout" in entry.error


def test_unknown_interpreter_bucket_version_is_listed_not_fatal(real_cache_copy):
    root = real_cache_copy.root
    newer = root / "interpreter-v99" / "0123456789abcdef"
    newer.mkdir(parents=True)
    shutil.copy(_interp_files(root)[0], newer / "fedcba9876543210.msgpack")
    inv = _scan(root)
    unknown = [e for e in inv.interpreters if e.bucket_version == 99]
    assert len(unknown) == 1
    # Read by its shape, not its bucket name: the layout fits, and the entry says the bucket is newer.
    assert unknown[0].version and unknown[0].layout and "interpreter-v99" in unknown[0].error
    bucket = next(b for b in inv.buckets if b.dirname == "interpreter-v99")
    assert bucket.age == "newer"


def test_pyvenv_cfg_missing_or_garbled(real_cache_copy):
    root = real_cache_copy.root
    scripts = sorted(p for p in (root / "environments-v2").iterdir() if (p / "pyvenv.cfg").exists() and not p.is_symlink())
    (scripts[0] / "pyvenv.cfg").unlink()
    (scripts[1] / "pyvenv.cfg").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00garbage without equals")
    inv = _scan(root)
    envs = {e.path: e for e in inv.environments}
    for broken in scripts[:2]:
        assert envs[broken].status == "corrupt"
        assert any(str(broken / "pyvenv.cfg") in p for p in envs[broken].problems)
    assert {p.path for p in inv.problems} >= set(scripts[:2])


def test_dist_info_without_metadata(real_cache_copy):
    root = real_cache_copy.root
    metas = sorted(root.glob("environments-v2/*/*/lib/python*/site-packages/tinytool-*.dist-info/METADATA"))
    assert metas
    target = metas[0]
    target.unlink()
    inv = _scan(root)
    env = next(e for e in inv.environments if e.link_target and str(target).startswith(str(e.path)))
    pkg = next(p for p in env.packages if p.name == "tinytool")
    assert pkg.version  # taken from the directory name
    assert any("METADATA" in p for p in env.problems)


def test_non_utf8_names_do_not_crash(real_cache_copy):
    root = real_cache_copy.root
    bad_env = os.path.join(os.fsencode(root / "environments-v2"), b"caf\xe9-0123456789abcdef")
    os.mkdir(bad_env)
    with open(os.path.join(bad_env, b"pyvenv.cfg"), "wb") as fh:
        fh.write(b"home = /nowhere\nversion_info = 3.12.0\n")
    shard = next((root / "interpreter-v5").iterdir())
    with open(os.path.join(os.fsencode(shard), b"\xff\xfe.msgpack"), "wb") as fh:
        fh.write(b"junk")
    inv = _scan(root)
    assert any(os.fsencode(e.path) == bad_env for e in inv.environments)
    assert any(e.status == "corrupt" and os.fsencode(e.path).endswith(b"\xff\xfe.msgpack") for e in inv.interpreters)
    for args in ((), ("--json",)):
        out = _ls(root, *args)
        assert out.returncode == 0, out.stderr
    json.loads(_ls(root, "--json").stdout)


def test_symlink_loops(real_cache_copy):
    root = real_cache_copy.root
    group = next(p for p in (root / "environments-v2").iterdir() if p.is_dir() and not (p / "pyvenv.cfg").exists())
    os.symlink("loop-b", group / "loop-a")
    os.symlink("loop-a", group / "loop-b")
    os.symlink(".", root / "archive-v0" / "selfloop")
    inv = _scan(root)
    loops = [e for e in inv.environments if e.path.name.startswith("loop-")]
    assert len(loops) == 2 and all(e.status == "dangling" for e in loops)


def test_entries_vanishing_during_scan(real_cache_copy):
    """A thread deletes environments while envtui scans: the scan ends, listing what remained."""
    root = real_cache_copy.root
    bucket = root / "environments-v2"
    for i in range(200):  # enough entries for the deleter to overlap the scan
        d = bucket / f"filler{i}-{i:016x}"
        (d / "lib" / "python3.12" / "site-packages" / f"p{i}-1.0.dist-info").mkdir(parents=True)
        (d / "pyvenv.cfg").write_text("home = /x\nversion_info = 3.12.0\n")
        (d / "lib" / "python3.12" / "site-packages" / f"p{i}-1.0.dist-info" / "METADATA").write_text(f"Name: p{i}\nVersion: 1.0\n")
    victims = sorted(bucket.glob("filler*"))
    def deleter():
        for v in victims:
            shutil.rmtree(v, ignore_errors=True)

    t = threading.Thread(target=deleter)
    t.start()
    try:
        for _ in range(5):
            inv = _scan(root)
            assert all(e.path.name for e in inv.environments)
    finally:
        t.join()
    final = _scan(root)
    assert not any(e.path.name.startswith("filler") for e in final.environments)


def test_unreadable_directory_is_reported(real_cache_copy, monkeypatch):
    # Tests run as root in CI, where chmod 000 does not stop reads: simulate EACCES instead.
    root = real_cache_copy.root
    group = next(p for p in (root / "environments-v2").iterdir() if p.is_dir() and not (p / "pyvenv.cfg").exists())
    real_scandir = os.scandir

    def scandir(path="."):
        if os.fspath(path) == str(group):
            raise PermissionError(13, "Permission denied", str(group))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    inv = _scan(root)
    assert any(p.path == group and "Permission denied" in p.message for p in inv.problems)
    assert not any(e.path.parent == group for e in inv.environments)


@pytest.mark.parametrize("case", ["missing", "empty", "file", "no-signature", "root"])
def test_not_a_cache(tmp_path, case):
    root = {"missing": tmp_path / "nope", "empty": tmp_path, "file": tmp_path / "f", "no-signature": tmp_path,
            "root": Path("/")}[case]
    if case == "file":
        root.write_text("x")
    if case == "no-signature":
        (tmp_path / "CACHEDIR.TAG").write_text("Signature: something else\n")
    with pytest.raises(NotACacheError) as err:
        _scan(root)
    reason = {"missing": "no such directory", "empty": "no CACHEDIR.TAG", "file": "not a directory",
              "no-signature": "signature", "root": "CACHEDIR.TAG"}[case]
    assert str(root) in str(err.value) and reason in str(err.value)
    out = _ls(root)
    assert out.returncode == 2
    assert out.stderr.startswith("envtui: ") and str(root) in out.stderr and reason in out.stderr


def test_signature_check_accepts_uv_tag(tmp_path):
    (tmp_path / "CACHEDIR.TAG").write_bytes(CACHEDIR_TAG_SIGNATURE + b"\n")
    inv = _scan(tmp_path)
    assert inv.environments == () and inv.interpreters == ()


def test_a_file_reached_through_a_looping_parent_is_a_loop_not_a_symlink(tmp_path):
    # O_NOFOLLOW says ELOOP for a symlink at the end and for a loop among the parents alike:
    # only the first is "a symlink"; the second is the system's own error, naming the path.
    (tmp_path / "loop").symlink_to("loop")
    (tmp_path / "file").write_text("x")
    (tmp_path / "link").symlink_to("file")
    with pytest.raises(NotRegularError, match="is a symlink, not a file"):
        read_regular(tmp_path / "link", 10)
    with pytest.raises(OSError) as caught:
        read_regular(tmp_path / "loop" / "pyvenv.cfg", 10)
    assert not isinstance(caught.value, NotRegularError) and caught.value.errno == errno.ELOOP
