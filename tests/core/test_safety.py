"""The safety rules (envtui.core.prune.safety) over hand-made link layouts and inode graphs: each
test fails when one rule breaks. Caches are built by hand here (exact layouts uv would write, and
the odd ones it meets); tests/integration/test_safety_uv.py repeats the situations with real uv."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from envtui.core import CacheLocation, scan_inventory
from envtui.core.disk.freed import Freed, freed_bytes
from envtui.core.locate import CACHEDIR_TAG_SIGNATURE
from envtui.core.prune import (
    Kind,
    Look,
    PlanEntry,
    Policies,
    Rules,
    execute_plan,
    guard_path,
    plan_entries,
    plan_prune,
    plan_selection,
    remove_path,
    resolve_path,
)
from envtui.core.prune.remover import mount_points
from tests.reliability.helpers import listing

BLOCK = 4096
OLD = 1_000_000_000


@pytest.fixture(autouse=True)
def _own_state_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("ENVTUI_STATE_DIR", str(tmp_path / "envtui-state"))


def make_cache(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "CACHEDIR.TAG").write_bytes(CACHEDIR_TAG_SIGNATURE + b"\n")
    for b in ("archive-v0", "wheels-v8", "environments-v2"):
        (root / b).mkdir(exist_ok=True)
    return root


def archive(root: Path, name: str, size: int = 3 * BLOCK) -> Path:
    d = root / "archive-v0" / name
    (d / "pkg").mkdir(parents=True)
    (d / "pkg" / "__init__.py").write_bytes(os.urandom(size))
    return d


def venv(path: Path, size: int = 2 * BLOCK, used: float = OLD) -> Path:
    (path / "lib").mkdir(parents=True)
    (path / "lib" / "own.py").write_bytes(os.urandom(size))
    cfg = path / "pyvenv.cfg"
    cfg.write_text("home = /nonexistent-envtui/bin\nimplementation = CPython\nversion_info = 3.12.1\n")
    os.utime(cfg, (used, used))
    return path


def scan(root: Path):
    return scan_inventory(CacheLocation(root, "--cache-dir"))


def planned(plan) -> set[str]:
    return {str(e.path) for e in plan.entries}


def du(*paths: Path) -> int:
    """``du -csB1``: disk bytes, each inode once across all ``paths``, links not followed."""
    out = subprocess.run(["du", "-csB1", *map(str, paths)], capture_output=True, text=True, check=True).stdout
    return int(out.splitlines()[-1].split()[0])


# -- one resolved form -------------------------------------------------------------------------------


def test_resolve_follows_symlinks_before_dotdot_as_the_kernel_does(tmp_path):
    (tmp_path / "deep" / "x").mkdir(parents=True)
    cache = make_cache(tmp_path / "deep" / "cache")
    (tmp_path / "alias").symlink_to(tmp_path / "deep" / "x")
    spelled = tmp_path / "alias" / ".." / "cache"  # the kernel: deep/x/.. = deep; normpath: tmp/cache
    assert resolve_path(spelled / "archive-v0" / "a") == str(cache / "archive-v0" / "a")
    assert Rules(spelled).root == cache
    # The last component is never followed: a link is deleted as itself.
    (cache / "archive-v0" / "link").symlink_to(tmp_path)
    assert resolve_path(cache / "archive-v0" / "link") == str(cache / "archive-v0" / "link")


def test_guard_resolves_the_parent_so_a_symlinked_directory_cannot_lead_out(tmp_path):
    root = make_cache(tmp_path / "cache")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "victim").write_text("precious")
    (root / "archive-v0" / "door").symlink_to(outside)
    rules = Rules(root)
    assert "outside" in rules.guard(root / "archive-v0" / "door" / "victim")
    assert "outside" in guard_path(rules.root, root / "archive-v0" / "door" / "victim", rules.buckets)
    assert rules.guard(root / "archive-v0" / "door") is None  # the link itself may go
    # Through the core API: a candidate routed through the door is refused, the file stays.
    entry = PlanEntry(Kind.CACHE_ENTRY, root / "archive-v0" / "door" / "victim",
                      (root / "archive-v0" / "door" / "victim",), "victim", ("marked",))
    plan = plan_entries(scan(root), [entry], exclusive=True)
    assert plan.entries == () and "outside" in plan.skipped[0].reason
    execute_plan(plan)
    assert (outside / "victim").read_text() == "precious"


def test_guard_refuses_the_root_markers_foreign_newer_and_whole_buckets(tmp_path):
    root = make_cache(tmp_path / "cache")
    for d in ("archive-v9/b", "myfiles/c", "wheels-v77/d"):
        (root / d).mkdir(parents=True)
    rules = Rules(root)
    assert rules.guard(root / "archive-v0" / "a") is None
    assert rules.guard(root / ".tmpABC123") is None
    assert "newer" in rules.guard(root / "archive-v9" / "b")
    assert "newer" in rules.guard(root / "wheels-v77" / "d")
    assert "not a bucket" in rules.guard(root / "myfiles" / "c")
    assert "not a bucket" in rules.guard(root / "CACHEDIR.TAG")
    assert "whole bucket" in rules.guard(root / "archive-v0")
    assert rules.guard(root / "archive-v0", whole_bucket=True) is None
    assert "outside" in rules.guard(root)
    assert "outside" in rules.guard(root / "archive-v0" / ".." / ".." / "x")


# -- references ----------------------------------------------------------------------------------------


def _layout(root: Path, tmp_path: Path, how: str) -> None:
    """Make the archive entry ``Target`` referenced in the way ``how`` names."""
    target = root / "archive-v0" / "Target"
    index = root / "wheels-v8" / "pypi" / "pkg"
    index.mkdir(parents=True, exist_ok=True)
    if how == "relative wheel link":
        (index / "1.0-py3-none-any").symlink_to("../../../archive-v0/Target")
    elif how == "absolute wheel link (uv <= 0.10)":
        (index / "1.0-py3-none-any").symlink_to(target)
    elif how == "absolute link through another spelling of the root":
        (tmp_path / "alias").symlink_to(root)
        (index / "1.0-py3-none-any").symlink_to(tmp_path / "alias" / "archive-v0" / "Target")
    elif how == "sdists link":
        d = root / "sdists-v11" / "pypi" / "pkg" / "1.0" / "abc"
        d.mkdir(parents=True)
        (d / "pkg-1.0-py3-none-any").symlink_to("../../../../../archive-v0/Target")
    elif how == "older uv's environments-v1 link":
        d = root / "environments-v1" / "0123456789abcdef"
        d.mkdir(parents=True)
        (d / "fedcba9876543210").symlink_to(target)
    elif how == "newer uv's environments-v3 link":
        d = root / "environments-v3" / "0123456789abcdef"
        d.mkdir(parents=True)
        (d / "fedcba9876543210").symlink_to("../../archive-v0/Target")
    elif how == "newer uv's wheels-v9 link":
        d = root / "wheels-v9" / "pypi" / "pkg"
        d.mkdir(parents=True)
        (d / "1.0-py3-none-any").symlink_to("../../../archive-v0/Target")
    elif how == "link in a foreign directory":
        (root / "mystuff").mkdir()
        (root / "mystuff" / "keep").symlink_to("../archive-v0/Target")
    elif how == "link deep in a file of another archive entry (link-mode symlink)":
        other = root / "archive-v0" / "Other" / "lib" / "site-packages" / "pkg"
        other.mkdir(parents=True)
        (other / "__init__.py").symlink_to(target / "pkg" / "__init__.py")
        # Other is linked itself, so it stays and keeps Target alive.
        (index / "2.0-py3-none-any").symlink_to("../../../archive-v0/Other")
    elif how == "symlinked wheels bucket (moved away, linked back)":
        moved = tmp_path / "otherdisk" / "wheels-v8"
        moved.parent.mkdir()
        os.rename(root / "wheels-v8", moved)
        (root / "wheels-v8").symlink_to(moved)
        (moved / "pypi" / "pkg" / "1.0-py3-none-any").symlink_to("../../../archive-v0/Target")
    elif how == "symlinked archive bucket":
        moved = tmp_path / "otherdisk" / "archive-v0"
        moved.parent.mkdir()
        os.rename(root / "archive-v0", moved)
        (root / "archive-v0").symlink_to(moved)
        (index / "1.0-py3-none-any").symlink_to("../../../archive-v0/Target")
    else:
        raise AssertionError(how)


LAYOUTS = [
    "relative wheel link",
    "absolute wheel link (uv <= 0.10)",
    "absolute link through another spelling of the root",
    "sdists link",
    "older uv's environments-v1 link",
    "newer uv's environments-v3 link",
    "newer uv's wheels-v9 link",
    "link in a foreign directory",
    "link deep in a file of another archive entry (link-mode symlink)",
    "symlinked wheels bucket (moved away, linked back)",
    "symlinked archive bucket",
]


@pytest.mark.parametrize("how", LAYOUTS)
@pytest.mark.parametrize("spelling", ["plain", "dotdot"])
def test_unreferenced_keeps_every_archive_entry_a_link_points_at(tmp_path, how, spelling):
    root = make_cache(tmp_path / "cache")
    archive(root, "Target")
    archive(root, "Stray")
    _layout(root, tmp_path, how)
    spelled = root if spelling == "plain" else root / "archive-v0" / ".." / ".." / "cache"
    before = listing(Path(os.path.realpath(root / "archive-v0")) / "Target")
    plan = plan_prune(scan(spelled), Policies(unreferenced=True), exclusive=True)
    names = {Path(p).name for p in planned(plan)}
    assert "Target" not in names
    if how != "symlinked archive bucket":  # entries reached through a symlinked bucket never go
        assert names == {"Stray"}
    execute_plan(plan)
    assert listing(Path(os.path.realpath(root / "archive-v0")) / "Target") == before


def test_links_inside_the_entry_itself_do_not_keep_it(tmp_path):
    root = make_cache(tmp_path / "cache")
    own = archive(root, "Own")
    (own / "lib64").symlink_to("pkg")  # as a venv's lib64 -> lib
    plan = plan_prune(scan(root), Policies(unreferenced=True), exclusive=True)
    assert planned(plan) == {str(own)}


def test_archive_target_only_for_a_directory_one_level_below_an_archive_bucket(tmp_path):
    root = make_cache(tmp_path / "cache")
    a = archive(root, "Env")
    (root / "archive-v9").mkdir()
    newer = archive(root, "x").rename(root / "archive-v9" / "Newer")
    (root / "archive-v0" / "Chain").symlink_to(tmp_path)
    (root / "wheels-v8" / "pypi").mkdir()
    group = root / "environments-v2" / "0123456789abcdef"
    group.mkdir()
    links = {}
    for name, target in [("archive", "../../archive-v0/Env"), ("deeper", "../../archive-v0/Env/pkg"),
                         ("index", "../../wheels-v8/pypi"), ("newer", "../../archive-v9/Newer"),
                         ("chain", "../../archive-v0/Chain"), ("absolute", str(a))]:
        links[name] = group / name
        links[name].symlink_to(target)
    rules = Rules(root)
    assert rules.archive_target(links["archive"]) == a
    assert rules.archive_target(links["absolute"]) == a
    for name in ("deeper", "index", "newer", "chain"):
        assert rules.archive_target(links[name]) is None, name
    assert newer.exists()


# -- freed bytes over hand-made inode graphs -------------------------------------------------------------


def _blocks(p: Path) -> int:
    return os.lstat(p).st_blocks * 512


def test_freed_counts_an_inode_once_and_only_when_every_link_goes(tmp_path):
    a, b, out = tmp_path / "a", tmp_path / "b", tmp_path / "outside"
    for d in (a, b, out):
        d.mkdir()
    (a / "own").write_bytes(os.urandom(5 * BLOCK))
    (a / "shared").write_bytes(os.urandom(7 * BLOCK))
    os.link(a / "shared", b / "shared")  # shared only between the two groups
    (a / "kept").write_bytes(os.urandom(11 * BLOCK))
    os.link(a / "kept", out / "kept")  # a link outside every group keeps it
    (b / "own").write_bytes(os.urandom(13 * BLOCK))
    own_a, own_b = _blocks(a / "own") + _blocks(a), _blocks(b / "own") + _blocks(b)
    shared = _blocks(a / "shared")
    freed = Freed()
    freed.add([a])
    freed.add([b])
    assert freed.alone() == [own_a, own_b]
    assert freed.per_entry() == [own_a + shared, own_b + shared]  # differs from alone: the shared file
    assert freed.total == own_a + own_b + shared == freed_bytes([a, b])[0]
    assert freed.subset_total([0]) == freed_bytes([a])
    assert freed.kept_links(0) == 1 and freed.kept_links(0, [0]) == 2 and freed.kept_links(1) == 0
    # Overlapping paths count once.
    assert freed_bytes([a, a / "own"]) == freed_bytes([a])


def _deleted_frees(tree: Path, work: Path, paths: list[Path]) -> int:
    """The oracle: ``du`` of a ``cp -a`` copy of ``tree``, before minus after ``rm -rf`` of ``paths``."""
    copy = work / f"copy-{len(list(work.iterdir())) if work.exists() else 0}"
    work.mkdir(exist_ok=True)
    subprocess.run(["cp", "-a", str(tree), str(copy)], check=True)
    before = du(copy)
    moved = [copy / p.relative_to(tree) for p in paths]
    subprocess.run(["rm", "-rf", *map(str, moved)], check=True)
    return before - du(copy)


@pytest.mark.parametrize("native", [True, False])
def test_freed_walks_around_paths_earlier_groups_hold(tmp_path, native):
    """Groups as plans make them: a script environment's pyvenv.cfg before its directory, an
    entry then the whole bucket holding it, a link, a path that is gone, hardlinks across groups
    and to outside. Each figure equals what deleting the same paths in a copy frees (du), with the
    C walker and without."""
    from envtui.core.disk import walk

    if native and walk._cwalk is None:
        pytest.skip("the C walker is not built")
    tree = tmp_path / "tree"
    root = make_cache(tree / "cache")
    env = _script_env(root, "env", OLD, size=5 * BLOCK)
    a, b = archive(root, "A", 7 * BLOCK), archive(root, "B", 3 * BLOCK)
    os.link(a / "pkg" / "__init__.py", env / "lib" / "from-a.py")  # env and A share a file
    os.link(b / "pkg" / "__init__.py", tree / "outside-link")  # B's file is kept by a link outside
    (a / "deep" / "er").mkdir(parents=True)
    (a / "deep" / "er" / "f").write_bytes(os.urandom(2 * BLOCK))
    (root / "wheels-v8" / "link").symlink_to("../archive-v0/A")
    groups = [
        [env / "pyvenv.cfg", env],  # as the planner gives a script environment
        [root / "archive-v0" / "A" / "deep"],
        [root / "archive-v0", root / "wheels-v8" / "link"],  # the bucket, around what is already counted
        [root / "archive-v0" / "A" / "deep" / "er"],  # inside an earlier group: counts nothing more
        [root / "gone"],
    ]
    freed = Freed(native=native)
    for g in groups:
        freed.add(g)
    everything = [p for g in groups for p in g]
    assert freed.total == freed.subset_total(range(5))[0] == _deleted_frees(tree, tmp_path / "work", everything)
    assert freed.alone()[3:] == [0, 0] and freed.per_entry()[3:] == [0, 0]
    # Per group: what deleting its paths frees, less what earlier groups hold (the bucket's
    # group holds all of archive-v0 but A/deep: its directories A and archive-v0 themselves, and
    # what a copy loses when the rest of what lies in them is deleted).
    assert freed.subset_total([0])[0] == _deleted_frees(tree, tmp_path / "work", groups[0])
    assert freed.subset_total([1])[0] == _deleted_frees(tree, tmp_path / "work", groups[1])
    rest_of_bucket = [b, a / "pkg", root / "wheels-v8" / "link"]
    assert freed.subset_total([0, 2])[0] == (
        _deleted_frees(tree, tmp_path / "work", groups[0] + rest_of_bucket) + _blocks(a) + _blocks(root / "archive-v0"))
    assert freed.kept_links(2, [2]) == 2 and freed.kept_links(2) == 1  # A's file (env's link), B's (outside)
    other = Freed(native=not native) if walk._cwalk is not None else None
    if other is not None:
        for g in groups:
            other.add(g)
        assert (other.total, other.apparent, other.alone(), other.per_entry()) == (freed.total, freed.apparent, freed.alone(), freed.per_entry())


def _du_apparent(*paths: Path) -> int:
    out = subprocess.run(["du", "-csb", *map(str, paths)], capture_output=True, text=True, check=True).stdout
    return int(out.splitlines()[-1].split()[0])


@pytest.mark.parametrize("native", [True, False])
def test_freed_apparent_bytes_alone_and_the_odd_paths(tmp_path, native, monkeypatch):
    """Sizes that are not whole blocks (so disk and apparent bytes differ), an inode with both its
    links in one group (freed by it alone), a path spelled with a trailing slash, a group whose
    first path an earlier group holds, a link an earlier path runs through, and what cannot be
    read going to ``on_error``."""
    from envtui.core.disk import freed as freed_mod
    from envtui.core.disk import walk

    if native and walk._cwalk is None:
        pytest.skip("the C walker is not built")
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    for d in (a, b, c):
        d.mkdir()
    (a / "odd").write_bytes(os.urandom(5000))
    os.link(a / "odd", a / "odd-again")  # both links in a: a alone frees it
    (b / "shared").write_bytes(os.urandom(7001))
    os.link(b / "shared", c / "shared")  # b and c share it
    (c / "own").write_bytes(os.urandom(123))
    (c / "sub").mkdir()
    (c / "sub" / "deep").write_bytes(os.urandom(9999))
    os.symlink("sub", c / "via")
    errors = []
    freed = Freed(native=native, on_error=lambda path, err: errors.append((path, err.errno, err.strerror, err.filename)))
    assert freed.add([f"{a}/"]) == 0  # a trailing slash is the same path
    assert freed.add([c / "sub" / "deep"]) == 1
    assert freed.add([a / "odd", b]) == 2  # a/odd is a's already; b is not
    assert freed.add([c]) == 3  # around c/sub/deep
    assert freed.alone() == [_blocks(a) + _blocks(a / "odd"), _blocks(c / "sub" / "deep"), _blocks(b),
                             _blocks(c) + _blocks(c / "own") + _blocks(c / "sub") + _blocks(c / "via")]

    assert freed.alone([2]) == [_blocks(b)]
    shared = _blocks(b / "shared")
    c_alone = _blocks(c) + _blocks(c / "own") + _blocks(c / "sub") + _blocks(c / "via")
    assert freed.per_entry([3, 2]) == [c_alone + shared, _blocks(b) + shared]
    everything = [a, b, c]
    assert (freed.total, freed.apparent) == (du(*everything), _du_apparent(*everything))
    assert freed.subset_total([0]) == (_blocks(a) + _blocks(a / "odd"), os.lstat(a).st_size + 5000)
    assert freed.subset_total([2])[1] == os.lstat(b).st_size
    assert freed.subset_total([2, 3])[1] == _du_apparent(b, c) - 9999  # c/sub/deep is group 1's
    assert errors == []
    # An earlier path that runs through a link: the link is not a directory to go around.
    through = Freed(native=native)
    through.add([c / "via" / "deep"])
    through.add([c / "via"])
    assert through.alone() == [_blocks(c / "sub" / "deep"), _blocks(c / "via")]
    assert through.subset_total([1]) == (_blocks(c / "via"), os.lstat(c / "via").st_size)
    # A path given again without its trailing slash, and a directory gone before it is gone around.
    again = Freed(native=native)
    again.add([f"{a}/"])
    again.add([a])
    again.add([tmp_path / "gone" / "inner"])
    again.add([tmp_path / "gone"])
    assert again.alone() == [_blocks(a) + _blocks(a / "odd"), 0, 0, 0] and again.subset_total([1, 2, 3]) == (0, 0)
    # Going around an earlier path, a directory that cannot be listed is said, not skipped silently.
    real_listdir = freed_mod.os.listdir

    def listdir(d):
        if d == str(tmp_path):
            raise PermissionError(13, "Permission denied", d)
        return real_listdir(d)

    monkeypatch.setattr(freed_mod.os, "listdir", listdir)
    assert freed.add([tmp_path]) == 4
    assert errors == [(str(tmp_path), 13, "Permission denied", str(tmp_path))]
    assert freed.alone([4]) == [_blocks(tmp_path)]
    assert freed.unreadable([4]) == freed.unreadable() == [(str(tmp_path), "Permission denied")]
    assert freed.unreadable([0, 1, 2, 3]) == []
    assert freed.figures([3, 2]) == (freed.alone([3, 2]), freed.per_entry([3, 2]), *freed.subset_total([3, 2]))
    quiet = Freed(native=native)  # no on_error: the same, said to nobody
    quiet.add([a])
    quiet.add([tmp_path])
    assert quiet.alone([1]) == [_blocks(tmp_path)]
    real_lstat = freed_mod.os.lstat

    def lstat(d, *rest, **kw):
        if str(d) == str(c):
            raise PermissionError(13, "Permission denied", str(d))
        return real_lstat(d, *rest, **kw)

    monkeypatch.setattr(freed_mod.os, "lstat", lstat)
    errors.clear()
    around = Freed(native=native, on_error=lambda path, err: errors.append((path, err.errno, err.strerror, err.filename)))
    around.add([c / "sub" / "deep"])
    around.add([c])  # to go around c/sub/deep, c must be lstat'ed: it cannot be
    assert errors == [(str(c), 13, "Permission denied", str(c))] and around.subset_total([1]) == (0, 0)


def test_freed_hands_the_walk_s_errors_on(tmp_path, monkeypatch):
    """What the walk cannot read reaches ``on_error`` as an OSError naming the path (the pure
    walker, made to fail here; the C one as another user in the next test), and is no error
    without an ``on_error``."""
    from envtui.core.disk import walk as walk_mod

    (tmp_path / "d" / "bad").mkdir(parents=True)
    (tmp_path / "d" / "bad" / "f").write_bytes(b"y" * 100)
    real_scandir = walk_mod.os.scandir

    def scandir(fd):
        if isinstance(fd, int) and os.path.samefile(f"/proc/self/fd/{fd}", tmp_path / "d" / "bad"):
            raise PermissionError(13, "Permission denied")
        return real_scandir(fd)

    monkeypatch.setattr(walk_mod.os, "scandir", scandir)
    errors = []
    freed = Freed(native=False, on_error=lambda path, err: errors.append((path, err.errno, err.strerror, err.filename)))
    freed.add([tmp_path / "d"])
    bad = str(tmp_path / "d" / "bad")
    assert errors == [(bad, 13, "Permission denied", bad)]
    assert freed.total == _blocks(tmp_path / "d") + _blocks(tmp_path / "d" / "bad")  # what was read
    quiet = Freed(native=False)
    quiet.add([tmp_path / "d"])
    assert quiet.total == freed.total


@pytest.mark.parametrize("native", [True, False])
def test_freed_reports_what_the_walk_cannot_read(tmp_path, native):
    """As another user (root drops the capabilities that override modes): the walker's errors
    reach ``on_error`` as OSErrors naming the path, in both walkers."""
    from envtui.core.disk import walk

    if native and walk._cwalk is None:
        pytest.skip("the C walker is not built")
    if os.geteuid() == 0 and shutil.which("setpriv") is None:
        pytest.skip("as root, needs setpriv(1) to drop CAP_DAC_OVERRIDE")
    top = tmp_path / "top"
    (top / "locked").mkdir(parents=True)
    (top / "locked" / "f").write_bytes(b"x" * 100)
    os.chmod(top / "locked", 0)
    code = (
        "import json, sys\n"
        "from envtui.core.disk.freed import Freed\n"
        "errors = []\n"
        "f = Freed(native=sys.argv[2] == 'native', on_error=lambda p, e: errors.append([p, e.errno, e.strerror, e.filename]))\n"
        "f.add([sys.argv[1]])\n"
        "print(json.dumps(errors))\n"
    )
    cmd = [sys.executable, "-c", code, str(top), "native" if native else "pure"]
    if os.geteuid() == 0:
        cmd = ["setpriv", "--bounding-set", "-dac_override,-dac_read_search", *cmd]
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, check=True, cwd=Path(__file__).parents[2])
    finally:
        os.chmod(top / "locked", 0o700)
    assert json.loads(out.stdout) == [[str(top / "locked"), 13, "Permission denied", str(top / "locked")]]


def _script_env(root: Path, stem: str, used: float, size: int = 2 * BLOCK) -> Path:
    return venv(root / "environments-v2" / f"{stem}-{abs(hash(stem)) % 16**16:016x}", size, used)


def test_bytes_alone_differ_from_bytes_with_the_plan_where_files_are_shared(tmp_path):
    root = make_cache(tmp_path / "cache")
    one = _script_env(root, "one", OLD)
    two = _script_env(root, "two", OLD)
    (one / "lib" / "big.py").write_bytes(os.urandom(9 * BLOCK))
    os.link(one / "lib" / "big.py", two / "lib" / "big.py")
    inv = scan(root)
    plan = plan_selection(inv, inv.environments, exclusive=True)
    big = _blocks(one / "lib" / "big.py")
    by = {e.path: e for e in plan.entries}
    for env in (one, two):
        assert by[env].bytes_with_plan - by[env].bytes_alone == big
        single = plan_selection(inv, [e for e in inv.environments if e.path == env], exclusive=True)
        assert single.bytes_freed == by[env].bytes_alone
    assert plan.bytes_freed == by[one].bytes_alone + by[two].bytes_alone + big == du(one, two)


def test_max_size_counts_files_shared_by_the_chosen_environments_once(tmp_path):
    root = make_cache(tmp_path / "cache")
    oldest = _script_env(root, "oldest", OLD)
    older = _script_env(root, "older", OLD + 100)
    newest = _script_env(root, "newest", OLD + 200)
    (oldest / "lib" / "big.py").write_bytes(os.urandom(40 * BLOCK))
    os.link(oldest / "lib" / "big.py", older / "lib" / "big.py")
    usage = du(root)
    # Freeing exactly what the two oldest free together (the big file once) reaches the limit;
    # a total that missed the shared file would take the newest too.
    need = freed_bytes([oldest, older])[0]
    plan = plan_prune(scan(root), Policies(max_size=usage - need), exclusive=True)
    assert plan.cache_bytes == usage
    assert planned(plan) == {str(oldest), str(older)}
    assert newest.exists()


# -- the rules a plan is vetted with ----------------------------------------------------------------------


def test_archive_entries_hardlinked_from_outside_the_plan_stay(tmp_path):
    root = make_cache(tmp_path / "cache")
    wheel = archive(root, "Wheel")
    env = _script_env(root, "user", time.time())
    os.link(wheel / "pkg" / "__init__.py", env / "lib" / "pkg.py")
    project = tmp_path / "project-venv"
    lone = archive(root, "Lone")
    project.mkdir()
    os.link(lone / "pkg" / "__init__.py", project / "pkg.py")
    stray = archive(root, "Stray")
    plan = plan_prune(scan(root), Policies(unreferenced=True), exclusive=True)
    assert planned(plan) == {str(stray)}
    reasons = {s.path.name: s.reason for s in plan.skipped}
    assert "hardlinks" in reasons["Wheel"] and "hardlinks" in reasons["Lone"]
    # With the environment in the plan, its wheel goes with it; the project's stays.
    os.utime(env / "pyvenv.cfg", (OLD, OLD))
    plan = plan_prune(scan(root), Policies(unreferenced=True, older_than_days=1), exclusive=True)
    assert planned(plan) == {str(stray), str(wheel), str(env)}


def test_archive_entries_and_leftovers_need_the_root_lock_whatever_they_say(tmp_path):
    root = make_cache(tmp_path / "cache")
    a = archive(root, "A")
    (root / ".tmpLeft12").mkdir()
    entries = [PlanEntry(Kind.ARCHIVE, a, (a,), "A", ("marked",)),
               PlanEntry(Kind.LEFTOVER, root / ".tmpLeft12", (root / ".tmpLeft12",), ".tmpLeft12", ("marked",))]
    busy = plan_entries(scan(root), entries, exclusive=False)
    assert busy.entries == () and all("root lock" in s.reason for s in busy.skipped)
    assert len(plan_entries(scan(root), entries, exclusive=True).entries) == 2


def test_a_whole_bucket_only_as_a_bucket_entry(tmp_path):
    root = make_cache(tmp_path / "cache")
    archive(root, "A")
    b = root / "archive-v0"
    inv = scan(root)
    assert plan_entries(inv, [PlanEntry(Kind.CACHE_ENTRY, b, (b,), "archive")], exclusive=True).entries == ()
    plan = plan_entries(inv, [PlanEntry(Kind.BUCKET, b, (b,), "archive")], exclusive=True)
    assert planned(plan) == {str(b)}
    # A bucket holding an archive entry something links to is referenced like the entry.
    (root / "wheels-v8" / "x").symlink_to("../archive-v0/A")
    assert plan_entries(scan(root), [PlanEntry(Kind.BUCKET, b, (b,), "archive")], exclusive=True).entries == ()


SLEEP = "import time; time.sleep(120)"


@pytest.mark.parametrize("variable", ["VIRTUAL_ENV", "PATH", "PYTHONPATH", "PYTHONHOME", "UV_PROJECT_ENVIRONMENT"])
def test_in_use_through_an_environment_variable_spelled_through_a_symlink(tmp_path, variable):
    root = make_cache(tmp_path / "cache")
    env = _script_env(root, "busy", OLD)
    (tmp_path / "alias").symlink_to(root)
    spelled = tmp_path / "alias" / "environments-v2" / env.name
    value = str(spelled / "bin") + os.pathsep + "/usr/bin" if variable == "PATH" else str(spelled)
    proc_env = {"PATH": "/usr/bin:/bin", variable: value}
    proc = subprocess.Popen(["sleep", "120"], env=proc_env, cwd=tmp_path)
    try:
        time.sleep(0.2)
        plan = plan_prune(scan(root), Policies(older_than_days=1), exclusive=True)
        assert plan.entries == ()
        [skip] = plan.skipped
        assert skip.reason == "in use by a running process"
        assert [p.pid for p in skip.processes] == [proc.pid] and variable in skip.processes[0].why
    finally:
        proc.kill()
        proc.wait()
    assert planned(plan_prune(scan(root), Policies(older_than_days=1), exclusive=True)) == {str(env)}


# -- the executor checks again, under the lock -----------------------------------------------------------


def test_a_stale_plan_keeps_what_became_referenced_since(tmp_path):
    root = make_cache(tmp_path / "cache")
    linked_later = archive(root, "LinkedLater")
    hardlinked_later = archive(root, "HardlinkedLater")
    stray = archive(root, "Stray")
    plan = plan_prune(scan(root), Policies(unreferenced=True), exclusive=True)
    assert planned(plan) == {str(linked_later), str(hardlinked_later), str(stray)}
    # Meanwhile a uv links one (a new cached environment) and hardlinks another's files.
    group = root / "environments-v2" / "0123456789abcdef"
    group.mkdir()
    (group / "fedcba9876543210").symlink_to("../../archive-v0/LinkedLater")
    new_env = venv(root / "environments-v2" / "new-0123456789abcdef", used=time.time())
    os.link(hardlinked_later / "pkg" / "__init__.py", new_env / "lib" / "pkg.py")
    before = du(root)
    result = execute_plan(plan)
    assert [e.path for e in result.deleted] == [stray]
    late = {s.path.name: s.reason for s in result.skipped}
    assert "since the plan was made" in late["LinkedLater"] and "fedcba9876543210" in late["LinkedLater"]
    assert "hardlinks" in late["HardlinkedLater"]
    assert linked_later.exists() and hardlinked_later.exists() and not stray.exists()
    assert result.predicted_bytes == result.measured_bytes == before - du(root) == freed_bytes_of(plan, stray)


def freed_bytes_of(plan, path: Path) -> int:
    return next(e.bytes_alone for e in plan.entries if e.path == path)


HOLD = """
import fcntl, os, sys
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o666)
fcntl.flock(fd, fcntl.LOCK_SH if sys.argv[2] == "shared" else fcntl.LOCK_EX)
print("held", flush=True)
sys.stdin.read()
"""


def _hold(path: Path, mode: str) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(path), mode], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "held"
    return proc


def _release(proc: subprocess.Popen) -> None:
    proc.stdin.close()
    proc.wait(timeout=30)


def test_the_executor_takes_the_root_lock_again_before_deleting(tmp_path):
    root = make_cache(tmp_path / "cache")
    a = archive(root, "A")
    env = _script_env(root, "old", OLD)
    plan = plan_prune(scan(root), Policies(unreferenced=True, older_than_days=1), exclusive=True)
    assert planned(plan) == {str(a), str(env)}
    uv = _hold(root / ".lock", "shared")  # a uv started after the plan was made
    try:
        from envtui.core.prune import CacheBusy

        with pytest.raises(CacheBusy):
            execute_plan(plan)
        assert a.exists() and env.exists()
        result = execute_plan(plan, go_on_if_busy=True)
        assert [e.path for e in result.deleted] == [env] and not result.exclusive
        assert any(s.path == a and "root lock" in s.reason for s in result.skipped)
        assert a.exists()
    finally:
        _release(uv)


def test_the_executor_checks_entry_locks_taken_since_the_plan(tmp_path):
    root = make_cache(tmp_path / "cache")
    env = _script_env(root, "old", OLD)
    (env / ".lock").write_text("")
    plan = plan_prune(scan(root), Policies(older_than_days=1), exclusive=True)
    assert planned(plan) == {str(env)}
    writer = _hold(env / ".lock", "exclusive")  # uv started rebuilding it
    try:
        # The holder has the lock file (inside the environment) open: in use, or locked.
        result = execute_plan(plan)
        assert result.deleted == () and env.exists()
        assert any(s.path == env and ("lock" in s.reason or s.processes) for s in result.skipped)
    finally:
        _release(writer)
    # Locked without holding anything inside the environment: the lock alone stops it.
    outside_lock = env.with_name(env.name + "-lock")
    entry = PlanEntry(Kind.SCRIPT_ENV, env, (env / "pyvenv.cfg", env), "old", ("marked",), lock=outside_lock)
    outside_lock.write_text("")
    plan = plan_entries(scan(root), [entry], exclusive=True)
    assert planned(plan) == {str(env)}
    writer = _hold(outside_lock, "exclusive")
    try:
        result = execute_plan(plan)
        assert result.deleted == () and env.exists()
        assert "is held" in result.skipped[-1].reason
    finally:
        _release(writer)


def test_the_executor_skips_what_a_process_started_using_since_the_plan(tmp_path):
    root = make_cache(tmp_path / "cache")
    env = _script_env(root, "old", OLD)
    plan = plan_prune(scan(root), Policies(older_than_days=1), exclusive=True)
    proc = subprocess.Popen(["sleep", "120"], cwd=env)
    try:
        time.sleep(0.2)
        result = execute_plan(plan)
        assert result.deleted == () and env.exists()
        assert [p.pid for p in result.skipped[-1].processes] == [proc.pid]
    finally:
        proc.kill()
        proc.wait()


def test_measured_bytes_are_counted_while_deleting_as_du_counts(tmp_path):
    root = make_cache(tmp_path / "cache")
    one = _script_env(root, "one", OLD, size=20 * BLOCK)
    two = _script_env(root, "two", OLD, size=3 * BLOCK)
    (one / "lib" / "shared.py").write_bytes(os.urandom(6 * BLOCK))
    os.link(one / "lib" / "shared.py", two / "lib" / "shared.py")
    project = tmp_path / "project"
    project.mkdir()
    (one / "lib" / "kept.py").write_bytes(os.urandom(8 * BLOCK))
    os.link(one / "lib" / "kept.py", project / "kept.py")
    plan = plan_prune(scan(root), Policies(older_than_days=1), exclusive=True)
    before = du(root, project)
    result = execute_plan(plan)
    assert len(result.deleted) == 2
    assert plan.bytes_freed == result.predicted_bytes == result.measured_bytes == before - du(root, project)
    assert (project / "kept.py").stat().st_nlink == 1


def test_a_plan_made_under_the_held_lock_runs_on_what_its_checks_saw(tmp_path, monkeypatch):
    """`prune --yes` holds uv's lock from the plan to the last deletion: the executor walks neither
    the references nor the plan's paths again, but still looks at running processes (and entry
    locks), which change without uv; and what it deletes and frees is what a fresh look gives."""
    from envtui.core.disk import freed as freed_mod
    from envtui.core.locks import try_lock_root
    from envtui.core.prune import safety

    root = make_cache(tmp_path / "cache")
    a = archive(root, "A")
    kept = archive(root, "Kept")
    (root / "wheels-v8" / "w").symlink_to("../archive-v0/Kept")
    old, used = _script_env(root, "old", OLD), _script_env(root, "used", OLD)
    walks = {"links": 0, "freed": 0}
    real_list_links, real_add = safety.list_links, freed_mod.Freed.add
    monkeypatch.setattr(safety, "list_links", lambda *a, **k: walks.__setitem__("links", walks["links"] + 1) or real_list_links(*a, **k))
    monkeypatch.setattr(freed_mod.Freed, "add", lambda self, paths: walks.__setitem__("freed", walks["freed"] + 1) or real_add(self, paths))
    lock = try_lock_root(root)
    try:
        plan = plan_prune(scan(root), Policies(unreferenced=True, older_than_days=1), exclusive=True, under=lock)
        assert planned(plan) == {str(a), str(old), str(used)} and plan.vetted is not None
        proc = subprocess.Popen(["sleep", "120"], cwd=used)  # started after the plan was made
        try:
            time.sleep(0.2)
            before, seen = du(root), dict(walks)
            result = execute_plan(plan, under=lock)
            assert walks == seen  # nothing walked again
            assert lock.held  # the caller's lock: the caller releases it
        finally:
            proc.kill()
            proc.wait()
        assert {e.path for e in result.deleted} == {a, old} and used.exists() and kept.exists()
        assert [p.pid for p in next(s for s in result.skipped if s.path == used).processes] == [proc.pid]
        assert result.predicted_bytes == result.measured_bytes == before - du(root)
        # A plan made without the lock, run under it, takes a fresh look.
        b = archive(root, "B")
        plan = plan_prune(scan(root), Policies(unreferenced=True), exclusive=True)
        assert planned(plan) == {str(b)}
        seen = dict(walks)
        assert [e.path for e in execute_plan(plan, under=lock).deleted] == [b]
        assert walks["links"] > seen["links"] and walks["freed"] > seen["freed"]
    finally:
        lock.release()
    with pytest.raises(ValueError, match="no longer held"):
        execute_plan(plan, under=lock)
    with pytest.raises(ValueError, match="no longer held"):
        plan_prune(scan(root), Policies(older_than_days=1), exclusive=True, under=lock)


def test_prune_yes_holds_uv_s_lock_from_the_plan_to_the_last_deletion(tmp_path):
    """A uv that starts while `prune --yes` plans waits for it, as for `uv cache prune`: the
    root lock is taken before the plan's checks, and released at the end."""
    root = make_cache(tmp_path / "cache")
    env = _script_env(root, "old", OLD)
    code = (
        "import sys, runpy\n"
        "from envtui.core.prune import planner\n"
        "from envtui.core.locks import probe_root_lock\n"
        "real = planner.plan_prune\n"
        "def spy(*a, **k):\n"
        "    print('lock while planning:', probe_root_lock(a[0].root).state, file=sys.stderr)\n"
        "    return real(*a, **k)\n"
        "import envtui.commands.prune as cmd\n"
        "cmd.plan_prune = spy\n"
        "sys.argv = ['envtui'] + sys.argv[1:]\n"
        "runpy.run_module('envtui', run_name='__main__')\n"
    )
    proc = subprocess.run([sys.executable, "-c", code, "prune", "--older-than", "1", "--yes", "--cache-dir", str(root)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "lock while planning: held" in proc.stderr and not env.exists()
    from envtui.core.locks import probe_root_lock

    assert probe_root_lock(root).free  # released
    # Without --yes (a person reads the plan first) nothing is held while planning.
    env = _script_env(root, "old2", OLD)
    proc = subprocess.run([sys.executable, "-c", code, "prune", "--older-than", "1", "--dry-run", "--cache-dir", str(root)],
                          capture_output=True, text=True, timeout=120)
    assert "lock while planning: free" in proc.stderr and env.exists()


# -- the remover -----------------------------------------------------------------------------------------


def test_remover_never_follows_a_directory_swapped_for_a_link_mid_walk(tmp_path, monkeypatch):
    from envtui.core.prune import remover

    entry = tmp_path / "cache" / "entry"
    (entry / "a" / "deep").mkdir(parents=True)
    (entry / "a" / "deep" / "f").write_text("x")
    (entry / "b").mkdir()
    (entry / "b" / "g").write_text("y")
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "precious").write_text("precious")
    real_open_dir = remover._open_dir

    def swap_then_open(parent, name, st, path, *rest):
        if name == "a":
            # After the lstat that saw a directory, before descending: "a" becomes a link.
            os.rename(entry / "a", tmp_path / "moved-a")
            (entry / "a").symlink_to(victim)
        return real_open_dir(parent, name, st, path, *rest)

    monkeypatch.setattr(remover, "_open_dir", swap_then_open)
    removal = remove_path(entry)
    assert (victim / "precious").read_text() == "precious"
    assert not (entry / "b").exists()
    assert [p for p, _ in removal.left] == [str(entry / "a")] and "replaced" in removal.left[0][1]
    assert os.path.islink(entry / "a")


def test_remover_leaves_another_filesystem_alone(tmp_path):
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    entry = tmp_path / "cache" / "archive-v0" / "X"
    (entry / "mnt").mkdir(parents=True)
    (entry / "own").write_text("own")
    if subprocess.run(["mount", "-t", "tmpfs", "none", str(entry / "mnt")]).returncode != 0:
        pytest.skip("mount -t tmpfs refused here")
    try:
        (entry / "mnt" / "other-fs").write_text("keep")
        removal = remove_path(entry)
        assert (entry / "mnt" / "other-fs").read_text() == "keep"
        assert not (entry / "own").exists()
        assert [p for p, _ in removal.left] == [str(entry / "mnt")]
    finally:
        subprocess.run(["umount", str(entry / "mnt")], check=True)


@pytest.fixture
def bind_mounted(tmp_path):
    """A cache whose old script environment has a directory from outside bind-mounted in it."""
    if os.geteuid() != 0:
        pytest.skip("mount --bind needs root")
    root = make_cache(tmp_path / "cache")
    env = _script_env(root, "mounted", OLD)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "precious.txt").write_text("precious")
    (env / "lib" / "data").mkdir()
    if subprocess.run(["mount", "--bind", str(outside), str(env / "lib" / "data")]).returncode != 0:
        pytest.skip("mount --bind refused here")
    yield root, env, outside
    subprocess.run(["umount", str(env / "lib" / "data")], check=True)


def test_a_bind_mount_inside_an_entry_is_never_emptied(bind_mounted):
    root, env, outside = bind_mounted
    assert str(env / "lib" / "data") in mount_points()
    plan = plan_prune(scan(root), Policies(older_than_days=1), exclusive=True)
    assert plan.entries == () and "mounted" in plan.skipped[0].reason
    # Even a plan that skipped the check (made before the mount) never crosses it.
    entry = PlanEntry(Kind.SCRIPT_ENV, env, (env / "pyvenv.cfg", env), "mounted", ("marked",))
    from envtui.core.prune.records import Plan

    stale = Plan(Rules(root).root, (entry,), (), 0, 0, True)
    result = execute_plan(stale)
    assert result.deleted == ()
    assert (outside / "precious.txt").read_text() == "precious"
    # The remover alone, with no word about mounts, reads them itself: a same-device bind mount
    # has the same st_dev as the entry, only its path gives it away.
    removal = remove_path(env)
    assert (outside / "precious.txt").read_text() == "precious"
    assert [p for p, _ in removal.left] == [str(env / "lib" / "data")]


def test_remover_alone_leaves_a_bind_mount_it_is_told_about(bind_mounted):
    root, env, outside = bind_mounted
    removal = remove_path(env, root=Rules(root).root, mounts=mount_points())
    assert (outside / "precious.txt").read_text() == "precious"
    assert [p for p, _ in removal.left] == [str(env / "lib" / "data")]
    assert not (env / "pyvenv.cfg").exists()


def test_mountinfo_escapes_are_decoded(tmp_path):
    info = tmp_path / "mountinfo"
    info.write_text("36 35 98:0 /mnt1 /mnt/with\\040space rw,noatime master:1 - ext3 /dev/root rw\n"
                    "37 35 98:0 / / rw - ext4 /dev/sda1 rw\n")
    assert mount_points(str(info)) == {"/mnt/with space", "/"}


def test_a_plan_refuses_the_link_listing_of_another_cache(tmp_path):
    from envtui.core.prune.safety import LinkListing

    root = make_cache(tmp_path / "cache")
    other = make_cache(tmp_path / "other")
    _script_env(root, "e", OLD)
    with pytest.raises(ValueError, match="links listed for"):
        plan_prune(scan(root), Policies(older_than_days=1), exclusive=True, listing=LinkListing(Rules(other)))
    (tmp_path / "alias").symlink_to(root)  # the same cache by another spelling is the same cache
    plan = plan_prune(scan(root), Policies(older_than_days=1), exclusive=True, listing=LinkListing(Rules(tmp_path / "alias")))
    assert len(plan.entries) == 1


def test_a_plan_reads_the_processes_once_for_all_its_entries(tmp_path, monkeypatch):
    from envtui.core.prune import inuse, safety

    root = make_cache(tmp_path / "cache")
    envs = [_script_env(root, f"e{i}", OLD) for i in range(3)]
    looks = []

    class Counted(inuse.ProcessPaths):
        def __init__(self):
            looks.append(self)
            super().__init__()

    monkeypatch.setattr(safety, "ProcessPaths", Counted)
    plan = plan_prune(scan(root), Policies(older_than_days=1), exclusive=True)
    assert planned(plan) == {str(e) for e in envs}
    assert len(looks) == 1
    assert Look(Rules(root), True).processes(plan.entries[0]) == [] and len(looks) == 2


def test_a_cached_environment_s_target_that_other_links_reference_stays(tmp_path):
    root = make_cache(tmp_path / "cache")
    shared = venv(root / "archive-v0" / "Shared")
    own = venv(root / "archive-v0" / "Own")
    group = root / "environments-v2" / "0123456789abcdef"
    group.mkdir()
    (group / "aaaaaaaaaaaaaaaa").symlink_to("../../archive-v0/Shared")
    (group / "bbbbbbbbbbbbbbbb").symlink_to("../../archive-v0/Own")
    (root / "wheels-v8" / "pypi").mkdir()
    (root / "wheels-v8" / "pypi" / "also").symlink_to("../../archive-v0/Shared")
    plan = plan_prune(scan(root), Policies(older_than_days=1), exclusive=True)
    by = {e.path.name: e for e in plan.entries}
    assert set(by) == {"aaaaaaaaaaaaaaaa", "bbbbbbbbbbbbbbbb"}
    assert Path(shared) not in by["aaaaaaaaaaaaaaaa"].paths and by["bbbbbbbbbbbbbbbb"].paths[-1] == own
    result = execute_plan(plan)
    assert len(result.deleted) == 2
    assert (shared / "pyvenv.cfg").exists() and not own.exists()
    # Both environments linking one target: both links go, the target with the last of them.
    (group / "cccccccccccccccc").symlink_to("../../archive-v0/Shared")
    (group / "dddddddddddddddd").symlink_to("../../archive-v0/Shared")
    (root / "wheels-v8" / "pypi" / "also").unlink()
    plan = plan_prune(scan(root), Policies(older_than_days=1, unreferenced=True), exclusive=True)
    execute_plan(plan)
    assert not os.path.lexists(group / "cccccccccccccccc") and not os.path.lexists(group / "dddddddddddddddd")
    assert not shared.exists()
