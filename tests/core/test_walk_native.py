"""The C walker and the pure-Python walker give the same figures, on trees made to trip them up:
hardlinks across entries and inside one, symlinks (to files, directories, nowhere and out of the
cache), empty and unreadable directories, a FIFO, sparse files, names with newlines and bytes that
are not UTF-8, another filesystem mounted inside; and both agree with du(1)."""

from __future__ import annotations

import dataclasses
import errno
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from envtui.core.disk import scan_disk
from envtui.core.disk import walk as walk_mod
from envtui.core.disk.walk import InodeTable, disk_usage, inode_table, native_available
from envtui.core.errors import ScanCancelled
from tests.benchmarks.gencache import Scale, generate

needs_native = pytest.mark.skipif(walk_mod._cwalk is None, reason="the C walker is not built (no compiler at install)")
pytestmark = pytest.mark.skipif(shutil.which("du") is None, reason="needs du(1) as the oracle")


def du(path: Path, *flags: str) -> int:
    out = subprocess.run(["du", "-s", *flags, str(path)], capture_output=True, text=True, check=True)
    return int(out.stdout.split()[0])


def hostile_cache(root: Path) -> Path:
    """A small synthetic uv cache (gencache) with every awkward kind of entry added."""
    generate(root, Scale(files=2_000, archives=12, environments=6, wheels_per_env=3))
    archive = root / "archive-v0"
    odd = archive / "odd-entry"
    odd.mkdir()
    (odd / "empty").mkdir()
    (odd / "deep" / "er" / "still").mkdir(parents=True)
    (odd / "data.bin").write_bytes(b"x" * 10_000)
    os.link(odd / "data.bin", odd / "deep" / "same-inode-again")  # two links inside one entry
    os.link(odd / "data.bin", root / "environments-v2" / "stray-link")  # and one in another bucket
    os.symlink("data.bin", odd / "to-file")
    os.symlink("deep", odd / "to-dir")
    os.symlink("/nonexistent/target", odd / "dangling")
    os.symlink("/etc", odd / "out-of-cache")
    os.mkfifo(odd / "fifo")
    with open(odd / "sparse", "wb") as fh:  # 64 MiB apparent, a few KiB allocated
        fh.seek(64 << 20)
        fh.write(b"end")
    weird = os.fsencode(odd) + b"/new\nline-\xff\xfe-not-utf8"
    os.mkdir(weird)
    with open(weird + b"/\x80file\n", "wb") as fh:
        fh.write(b"y" * 5000)
    os.link(weird + b"/\x80file\n", os.fsencode(odd) + b"/\xc3(link")
    locked = archive / "locked-entry"
    (locked / "inside").mkdir(parents=True)
    (locked / "inside" / "secret").write_bytes(b"z" * 3000)
    os.link(odd / "data.bin", locked / "inside" / "link-to-data")
    (root / "environments-v2" / "empty-script-env").mkdir()
    return locked


def figures(report):
    """Every figure of a DiskReport, in an order-free form (not the time it took)."""
    d = dataclasses.asdict(report)
    d.pop("seconds")
    d.pop("links")  # the walk's inode table: not a figure
    d["errors"] = sorted(d["errors"])
    return d


@needs_native
def test_native_and_pure_give_identical_reports(tmp_path):
    root = tmp_path / "cache"
    hostile_cache(root)
    native = scan_disk(root, native=True)
    pure = scan_disk(root, native=False)
    assert figures(native) == figures(pure)
    assert native.total_disk == du(root, "-B1")
    assert native.total_apparent == du(root, "-b")
    odd = native.entry(root / "archive-v0" / "odd-entry")
    assert odd.usage.apparent > 64 << 20 > odd.usage.disk  # the sparse file counts its blocks only
    assert odd.usage.shared_other >= 12288  # data.bin, linked from environments-v2 too
    assert native.errors == ()


@needs_native
def test_unreadable_directory_reported_alike(tmp_path):
    """Root reads everything, so as root both walkers run without the capabilities that override
    file modes (setpriv); a user's own scan runs as is."""
    root = tmp_path / "cache"
    locked = hostile_cache(root)
    os.chmod(locked / "inside", 0o000)
    try:
        out = _as_a_user(_FIGURES_CHILD, root)
        assert out["native"] == out["pure"]
        assert "locked-entry/inside'" in out["native"] and "Permission denied" in out["native"]
    finally:
        os.chmod(locked / "inside", 0o700)


def _as_a_user(code: str, root: Path) -> dict:
    """Run ``code`` on ``root`` in a child that file modes bind: as root, without the capabilities
    that override them (setpriv); its JSON output."""
    cmd = [sys.executable, "-c", code, str(root)]
    if os.geteuid() == 0:
        if shutil.which("setpriv") is None:
            pytest.skip("as root, needs setpriv(1) to drop CAP_DAC_OVERRIDE")
        cmd = ["setpriv", "--bounding-set", "-dac_override,-dac_read_search", *cmd]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=Path(__file__).parents[2])
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


_FIGURES_CHILD = """
import json, sys
from pathlib import Path
from envtui.core.disk import scan_disk
from tests.core.test_walk_native import figures
print(json.dumps({n: repr(figures(scan_disk(Path(sys.argv[1]), native=n == "native"))) for n in ("native", "pure")}))
"""


@needs_native
@pytest.mark.skipif(os.geteuid() != 0, reason="mounts a tmpfs: needs root")
def test_other_filesystem_is_walked_and_reported(tmp_path):
    root = tmp_path / "cache"
    hostile_cache(root)
    mnt = root / "archive-v0" / "odd-entry" / "mnt"
    mnt.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mnt)], capture_output=True).returncode:
        pytest.skip("cannot mount a tmpfs here")
    try:
        (mnt / "on-tmpfs").write_bytes(b"t" * 8192)
        native, pure = scan_disk(root, native=True), scan_disk(root, native=False)
        assert figures(native) == figures(pure)
        assert native.crossings == (mnt,)
        assert native.total_disk == du(root, "-B1")  # du crosses too, without -x
    finally:
        subprocess.run(["umount", str(mnt)], check=True)


@needs_native
@pytest.mark.parametrize("native", [True, False])
def test_distrusting_the_listing_gives_the_same_figures(tmp_path, native):
    """Where d_ino cannot be trusted (overlayfs), every entry is stat'ed: same figures. On an
    ordinary filesystem the guard never trips."""
    root = tmp_path / "cache"
    hostile_cache(root)
    trusted = inode_table(native)
    distrusted = walk_mod._cwalk.InodeTable(trust_dino=False) if native else InodeTable(trust_dino=False)
    members = [str(root)]
    a, b = trusted.walk_unit(members, 0), distrusted.walk_unit(members, 0)
    assert a[:5] == b[:5] and sorted(a[5]) == sorted(b[5]) and a[7:] == b[7:]
    assert trusted.mismatches == 0 and trusted.trust_dino
    assert disk_usage(root, native=native) == du(root, "-B1")


def test_a_listing_that_lies_about_inodes_trips_the_guard(tmp_path, monkeypatch):
    """A listing whose inode numbers differ from st_ino (as on overlayfs) must not make the walk
    take one file for another: here every entry claims the first hardlinked inode's number."""
    root = tmp_path / "cache"
    hostile_cache(root)
    truth = InodeTable()
    expected = truth.walk_unit([str(root)], 0)
    real_scandir = os.scandir
    lie = {}

    class Lying:
        def __init__(self, e):
            self._e, self.name, self.path = e, e.name, e.path

        def inode(self):
            return lie.setdefault("ino", self._e.inode()) if not self._e.is_dir(follow_symlinks=False) else self._e.inode()

        def is_dir(self, follow_symlinks=True):
            return self._e.is_dir(follow_symlinks=follow_symlinks)

    class Listing:
        def __init__(self, fd):
            self._it = real_scandir(fd)

        def __iter__(self):
            return (Lying(e) for e in self._it)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self._it.close()

    monkeypatch.setattr(walk_mod.os, "scandir", Listing)
    guarded = InodeTable()
    got = guarded.walk_unit([str(root)], 0)
    assert guarded.mismatches > 0 and not guarded.trust_dino
    assert got[:5] == expected[:5] and sorted(got[5]) == sorted(expected[5]) and got[7:] == expected[7:]


@pytest.mark.skipif(os.geteuid() != 0, reason="mounts an overlayfs: needs root")
def test_overlayfs_figures_equal_du(tmp_path):
    lower, upper, work, merged = (tmp_path / n for n in ("lower", "upper", "work", "merged"))
    for d in (upper, work, merged):
        d.mkdir()
    hostile_cache(lower)
    opts = f"lowerdir={lower},upperdir={upper},workdir={work}"
    if subprocess.run(["mount", "-t", "overlay", "overlay", "-o", opts, str(merged)], capture_output=True).returncode:
        pytest.skip("cannot mount an overlayfs here")
    try:
        reports = [scan_disk(merged, native=n) for n in ([True, False] if walk_mod._cwalk else [False])]
        assert all(figures(r) == figures(reports[0]) for r in reports)
        assert reports[0].total_disk == du(merged, "-B1")
    finally:
        subprocess.run(["umount", str(merged)], check=True)


def test_env_var_selects_the_pure_walker(monkeypatch):
    monkeypatch.setenv("ENVTUI_NO_NATIVE", "1")
    assert not native_available()
    assert isinstance(inode_table(), InodeTable)
    monkeypatch.delenv("ENVTUI_NO_NATIVE")
    assert native_available() == (walk_mod._cwalk is not None)


@pytest.mark.parametrize("native", [True, False])
def test_cancel_stops_both(tmp_path, native):
    if native and walk_mod._cwalk is None:
        pytest.skip("the C walker is not built")
    root = tmp_path / "cache"
    generate(root, Scale(files=3_000, archives=10, environments=2))
    calls = []

    def stop() -> bool:
        calls.append(1)
        return len(calls) > 3

    with pytest.raises(ScanCancelled):
        scan_disk(root, should_stop=stop, native=native)


# -- the link lister the reference finder uses ------------------------------------------------------


def find_links(top: Path) -> list[tuple[str, str]]:
    """find(1) as the oracle: every symlink below ``top`` and its target, as bytes decoded like Python."""
    out = subprocess.run(["find", str(top), "-mindepth", "1", "-type", "l", "-printf", r"%p\0%l\0"],
                         capture_output=True, check=True).stdout.split(b"\0")[:-1]
    return sorted((os.fsdecode(p), os.fsdecode(t)) for p, t in zip(out[::2], out[1::2]))


def hostile_links(root: Path) -> Path:
    """The hostile cache, with links of every shape: relative, absolute, dangling, to a directory
    (never followed), a chain, a loop, odd bytes in the name and the target, 200 levels deep."""
    hostile_cache(root)
    odd = root / "archive-v0" / "odd-entry"
    os.symlink("loop", odd / "loop")
    os.symlink("../odd-entry/to-file", odd / "deep" / "chain")
    os.symlink(b"\x01target\n\xff", os.fsencode(odd) + b"/name\n\xfe")
    deep = root / "environments-v2" / "deep"
    p = deep
    for i in range(200):
        p = p / f"d{i}"
    p.mkdir(parents=True)
    os.symlink("../../../../archive-v0/odd-entry", p / "bottom")
    return root


@pytest.mark.parametrize("native", [True, False])
def test_list_links_finds_what_find_finds(tmp_path, native):
    if native and walk_mod._cwalk is None:
        pytest.skip("the C walker is not built")
    root = hostile_links(tmp_path / "cache")
    links, errors = walk_mod.list_links(root, native=native)
    assert sorted(links) == find_links(root) and len(links) > 10
    assert errors == []
    # A link given as the top is not followed: it cannot be opened as a directory.
    links, errors = walk_mod.list_links(root / "archive-v0" / "odd-entry" / "to-dir", native=native)
    assert links == [] and [e for _, e in errors] == [errno.ENOTDIR]  # O_NOFOLLOW | O_DIRECTORY on a link
    assert walk_mod.list_links(tmp_path / "nowhere", native=native) == ([], [])  # gone: no error


def test_list_links_unreadable_directory_reported_alike(tmp_path):
    """As test_unreadable_directory_reported_alike: without the capabilities that override modes."""
    root = hostile_links(tmp_path / "cache")
    locked = root / "archive-v0" / "locked-entry" / "inside"
    os.symlink("x", locked / "hidden-link")
    os.chmod(locked, 0o000)
    try:
        out = _as_a_user(_LINKS_CHILD, root)
        assert out["pure"] == out.get("native", out["pure"])
        assert out["pure"]["errors"] == [[str(locked), errno.EACCES]]
        assert str(locked / "hidden-link") not in {p for p, _ in out["pure"]["links"]}
    finally:
        os.chmod(locked, 0o700)


_LINKS_CHILD = """
import json, sys
from envtui.core.disk import walk
out = {}
for n in ("native", "pure") if walk._cwalk else ("pure",):
    links, errors = walk.list_links(sys.argv[1], native=n == "native")
    out[n] = {"links": sorted(links), "errors": sorted(errors)}
print(json.dumps(out))
"""


@pytest.mark.parametrize("native", [True, False])
def test_list_links_stops_when_asked(tmp_path, native):
    """The first question comes after 64 directories (the deep chain has 200), later ones at most
    every 50 ms."""
    if native and walk_mod._cwalk is None:
        pytest.skip("the C walker is not built")
    root = hostile_links(tmp_path / "cache")
    with pytest.raises(ScanCancelled):
        walk_mod.list_links(root, should_stop=lambda: True, native=native)


@needs_native
@pytest.mark.parametrize("seed", range(20))
def test_classify_in_c_equals_the_pure_python_one(seed):
    """Random inode graphs: links spread over units of every kind and bucket, inodes with links
    outside (nlink larger than found), units without inodes, an inode no unit holds."""
    import random
    from array import array

    from envtui.core.disk import scan

    rng = random.Random(seed)
    n = rng.randrange(0, 60)
    nlink = array("q", (rng.randrange(2, 6) for _ in range(n)))
    blocks = array("q", (4096 * rng.randrange(0, 5) for _ in range(n)))
    nbuckets = rng.randrange(1, 4)
    units = []
    for _ in range(rng.randrange(0, 12)):
        held = sorted(rng.sample(range(n), rng.randrange(0, min(n, 8) + 1))) if n else []
        found = array("I", [k for k in held for _ in range(rng.randrange(1, 3))])
        units.append((found, array("I", held), rng.randrange(3), rng.randrange(nbuckets)))
    assert walk_mod._cwalk.classify(nlink.tobytes(), blocks.tobytes(), units, nbuckets) == \
        scan._classify_units(nlink.tobytes(), blocks.tobytes(), units, nbuckets)
    with pytest.raises(ValueError):
        walk_mod._cwalk.classify(nlink.tobytes(), blocks.tobytes(), [(array("I", [n]), array("I", [n]), 0, 0)], nbuckets)
