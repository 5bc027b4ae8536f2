"""The remover at any depth: a directory chain thousands of levels deep is deleted completely
with a bounded number of open descriptors, none left open afterwards, whatever happens deep
down (an error, a level swapped for a link or another directory, a level deleted by someone
else, a mount point); the bytes it counts are what ``du`` loses. Fast enough for the mutation
run (see the README), which holds the remover to these tests too."""

from __future__ import annotations

import errno
import os
import resource
import stat
import subprocess
from pathlib import Path

import pytest

from envtui.core.prune import remover
from envtui.core.prune.remover import MAX_OPEN_DIRS, remove_path

_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


@pytest.fixture(autouse=True)
def _empty_working_directory(tmp_path_factory, monkeypatch):
    """A broken remover (a mutant) that resolves a name against the working directory finds
    nothing there that matters."""
    monkeypatch.chdir(tmp_path_factory.mktemp("cwd"))


@pytest.fixture(autouse=True)
def _no_deep_leftovers(tmp_path):
    """What a test leaves thousands of levels deep is removed by rm, which walks any depth
    (pytest's own clean-up recurses, and fails on it)."""
    yield
    for p in tmp_path.iterdir():
        subprocess.run(["rm", "-rf", "--one-file-system", str(p)], check=False)


Ident = tuple[int, int]


def ident(path: Path) -> Ident:
    st = os.lstat(path)
    return st.st_dev, st.st_ino


def chain(top: Path, depth: int, *, every: int = 100, keeper: Path | None = None) -> set[Ident]:
    """``top/d/d/.../d``, ``depth`` levels below ``top`` (made through descriptors: the path
    outgrows PATH_MAX), a file of 5,000 bytes every ``every`` levels, and every ``3 * every``
    levels a second link of that file at ``keeper`` (so deleting it frees nothing). Returns the
    ``(st_dev, st_ino)`` of every directory the remover may open: ``top``'s parent, ``top`` and
    each level."""
    os.mkdir(top)
    fd = os.open(top, _DIR)
    idents = {ident(top.parent), ident(top)}
    try:
        for i in range(depth):
            if i % every == 0:
                f = os.open("f", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644, dir_fd=fd)
                os.write(f, os.urandom(5000))
                os.close(f)
                if keeper is not None and i % (3 * every) == 0:
                    os.link("f", f"{keeper}-{i}", src_dir_fd=fd)
            os.mkdir("d", dir_fd=fd)
            nxt = os.open("d", _DIR, dir_fd=fd)
            os.close(fd)
            fd = nxt
            st = os.fstat(fd)
            idents.add((st.st_dev, st.st_ino))
    finally:
        os.close(fd)
    return idents


def level(top: Path, i: int) -> Path:
    """The path of the directory ``i`` levels below ``top`` (``i`` small enough for PATH_MAX)."""
    return top.joinpath(*["d"] * i)


def held(tree: set[Ident]) -> list[str]:
    """The descriptors this process holds on directories of ``tree``: what the remover holds
    (by inode: whatever else the process opens or closes meanwhile, a garbage-collected file of
    an earlier test, does not count)."""
    out = []
    for name in os.listdir("/proc/self/fd"):
        try:
            st = os.fstat(int(name))
        except OSError:  # listdir's own, closed by now
            continue
        if stat.S_ISDIR(st.st_mode) and (st.st_dev, st.st_ino) in tree:
            out.append(name)
    return out


def tree_of(top: Path) -> set[Ident]:
    """The ``(st_dev, st_ino)`` of ``top``'s parent and every directory in it (a shallow tree)."""
    return {ident(top.parent), *(ident(Path(d)) for d, _, _ in os.walk(top))}


def count(top: Path) -> int:
    """Names under ``top`` and ``top`` itself (find walks any depth; os.walk recurses)."""
    return len(subprocess.run(["find", str(top), "-printf", "x"], capture_output=True, check=True).stdout)


def du(path: Path, *apparent: str) -> int:
    out = subprocess.run(["du", "-sB1", *apparent, str(path)], capture_output=True, text=True, check=True).stdout
    return int(out.split()[0])


class Peak:
    """The most descriptors held on directories of ``tree`` each time the remover lists a
    directory it just opened: the deepest moment of every descent."""

    def __init__(self, monkeypatch, tree: set[Ident]):
        self.most = 0
        self.calls = 0
        real = remover._names

        def names(fd):
            self.calls += 1
            self.most = max(self.most, len(held(tree)))
            return real(fd)

        monkeypatch.setattr(remover, "_names", names)


@pytest.mark.parametrize("depth", [1_500, 10_000])
def test_a_chain_of_any_depth_is_deleted_with_few_descriptors(tmp_path, monkeypatch, depth):
    box = tmp_path / "box"
    box.mkdir()
    tree = chain(box / "chain", depth, keeper=box / "keeper")
    disk, apparent = du(box), du(box, "--apparent-size")
    peak = Peak(monkeypatch, tree)
    # As many descriptors as the bound, beyond those open: the old remover held one per level.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(map(int, os.listdir("/proc/self/fd"))) + MAX_OPEN_DIRS + 8, hard))
    try:
        acc = remove_path(box / "chain", mounts=frozenset())
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    assert not (box / "chain").exists() and acc.left == []
    assert held(tree) == []
    assert peak.calls == depth + 1 and 0 < peak.most <= MAX_OPEN_DIRS
    assert acc.removed == depth + 1 + depth // 100  # every directory and every file
    assert (acc.disk, acc.apparent) == (disk - du(box), apparent - du(box, "--apparent-size"))
    assert acc.disk > 0 and sorted(p.name for p in box.iterdir()) == sorted(f"keeper-{i}" for i in range(0, depth, 300))


def test_a_tree_as_deep_as_the_window_opens_each_directory_once(tmp_path, monkeypatch):
    """Nothing is opened again while the tree is no deeper than the directories kept open (a
    venv never is); one level more, and the top is opened again on the way up."""
    opened = []
    real_open = os.open

    def counting(path, flags, *a, **kw):
        opened.append(path)
        return real_open(path, flags, *a, **kw)

    chain(tmp_path / "w", remover._WINDOW - 1)
    chain(tmp_path / "x", remover._WINDOW)
    monkeypatch.setattr(remover.os, "open", counting)
    remove_path(tmp_path / "w", mounts=frozenset())
    assert opened.count("d") == remover._WINDOW - 1 and opened.count("w") == 1 and not (tmp_path / "w").exists()
    remove_path(tmp_path / "x", mounts=frozenset())
    assert opened.count("x") == 2 and not (tmp_path / "x").exists()


def test_going_back_up_opens_each_level_again_a_logarithmic_number_of_times(tmp_path, monkeypatch):
    opened = []
    real_open = os.open
    tree = chain(tmp_path / "c", 2_000, every=2_000)
    monkeypatch.setattr(remover.os, "open", lambda p, *a, **kw: opened.append(p) or real_open(p, *a, **kw))
    peak = Peak(monkeypatch, tree)
    remove_path(tmp_path / "c", mounts=frozenset())
    # Each level once on the way down, then again at most once per power of two above it.
    assert 2_000 < opened.count("d") < 2_000 * 11
    assert peak.most <= 1 + remover._WINDOW + (2_000).bit_length()


def _held(depth_of: dict[int, int]) -> list[int]:
    """The depths of the chain's directories this process holds open."""
    held = []
    for name in os.listdir("/proc/self/fd"):
        try:
            st = os.fstat(int(name))
        except OSError:  # listdir's own, closed by now
            continue
        if stat.S_ISDIR(st.st_mode) and st.st_ino in depth_of:
            held.append(depth_of[st.st_ino])
    return sorted(held)


@pytest.mark.parametrize("window", [1, 4])
def test_only_the_directories_the_rule_keeps_are_open(tmp_path, monkeypatch, window):
    """On the way down exactly the directories :func:`remover._kept` keeps are open; on the way
    back up, at each rmdir, the parent and none but directories the rule keeps."""
    monkeypatch.setattr(remover, "_WINDOW", window)
    top = tmp_path / "c"
    chain(top, 600, every=1_000)
    depth_of = {os.lstat(level(top, i)).st_ino: i for i in range(601)}
    down, up = [], []
    real_names, real_rmdir = remover._names, os.rmdir

    def names(fd):
        t = depth_of[os.fstat(fd).st_ino]
        down.append((t, _held(depth_of)))
        return real_names(fd)

    def rmdir(name, *, dir_fd):
        t = depth_of.get(os.fstat(dir_fd).st_ino, -1)
        up.append((t, _held(depth_of)))
        return real_rmdir(name, dir_fd=dir_fd)

    monkeypatch.setattr(remover, "_names", names)
    monkeypatch.setattr(remover.os, "rmdir", rmdir)
    remove_path(top, mounts=frozenset())
    assert not top.exists() and len(down) == len(up) == 601
    for t, held in down:
        assert held == [j for j in range(t + 1) if remover._kept(j, t)], t
    for t, held in up:
        assert (t < 0 or t in held) and all(remover._kept(j, t) for j in held), (t, held)
    assert max(len(held) for _, held in down + up) <= window + (600).bit_length()


def _tree(top: Path) -> list[Path]:
    """A small tree of several branches of uneven depth, with files everywhere."""
    made = []
    for branch in ("a/b/c/d/e/f/g", "a/b/x/y/z", "a/q", "m/n/o/p/q/r/s/t/u/v", "m/n/o/w"):
        d = top / branch
        d.mkdir(parents=True, exist_ok=True)
        for p in [d, *d.relative_to(top).parents]:
            f = top / p / "file"
            if not f.exists():
                f.write_bytes(os.urandom(700))
                made.append(f)
    return made


@pytest.mark.parametrize("window", [1, 2, 3])
def test_a_tree_is_deleted_whole_with_a_tiny_window(tmp_path, monkeypatch, window):
    """With one, two or three directories kept open at the bottom, most steps back up open
    levels again: every branch is still deleted, the bytes counted are what du loses, and
    no more descriptors are held than the rule allows."""
    monkeypatch.setattr(remover, "_WINDOW", window)
    box = tmp_path / "box"
    _tree(box / "t")
    (box / "t" / "a" / "b" / "hard").write_bytes(b"h" * 9000)
    os.link(box / "t" / "a" / "b" / "hard", box / "keeper")
    disk, apparent = du(box), du(box, "--apparent-size")
    entries = count(box / "t")
    tree = tree_of(box / "t")
    peak = Peak(monkeypatch, tree)
    acc = remove_path(box / "t", mounts=frozenset())
    assert not (box / "t").exists() and acc.left == [] and held(tree) == []
    assert (acc.disk, acc.apparent) == (disk - du(box), apparent - du(box, "--apparent-size"))
    assert acc.removed == entries
    assert peak.most <= 1 + window + (10).bit_length()  # the parent, the window, one per power of two


def test_an_error_deep_down_is_raised_with_nothing_left_open(tmp_path, monkeypatch):
    top = tmp_path / "c"
    tree = chain(top, 1_500)
    deep = os.lstat(level(top, 1_200)).st_ino
    real_unlink = os.unlink

    def failing(name, *, dir_fd):
        if os.fstat(dir_fd).st_ino == deep:
            raise OSError(errno.EIO, "Input/output error", name)
        return real_unlink(name, dir_fd=dir_fd)

    monkeypatch.setattr(remover.os, "unlink", failing)
    with pytest.raises(OSError) as err:
        remove_path(top, mounts=frozenset())
    assert err.value.errno == errno.EIO and held(tree) == []
    assert (level(top, 1_200) / "f").exists()
    monkeypatch.setattr(remover.os, "unlink", real_unlink)
    assert remove_path(top, mounts=frozenset()).left == [] and not top.exists()


def test_an_error_opening_a_level_again_is_raised_with_nothing_left_open(tmp_path, monkeypatch):
    tree = chain(tmp_path / "c", 1_500)
    real_open = os.open
    calls = []

    def failing(path, flags, *a, **kw):
        calls.append(path)
        if len(calls) > 1_502:  # after the way down, the first level opened again
            raise OSError(errno.EMFILE, "Too many open files", path)
        return real_open(path, flags, *a, **kw)

    monkeypatch.setattr(remover.os, "open", failing)
    with pytest.raises(OSError) as err:
        remove_path(tmp_path / "c", mounts=frozenset())
    assert err.value.errno == errno.EMFILE and held(tree) == []
    monkeypatch.setattr(remover.os, "open", real_open)
    assert remove_path(tmp_path / "c", mounts=frozenset()).left == [] and not (tmp_path / "c").exists()


def _at_depth(monkeypatch, depth: int, act) -> None:
    """Call ``act()`` when the remover first lists a directory ``depth`` levels down a chain."""
    real = remover._names
    calls = []

    def names(fd):
        calls.append(fd)
        if len(calls) == depth + 1:
            act()
        return real(fd)

    monkeypatch.setattr(remover, "_names", names)


def test_a_level_swapped_for_a_link_deep_down_is_never_followed(tmp_path, monkeypatch):
    top = tmp_path / "c"
    tree = chain(top, 1_500)
    victim = tmp_path / "victim"
    (victim / "d").mkdir(parents=True)  # the same names as the chain: followed, it would go
    (victim / "d" / "precious").write_text("precious")
    swapped = level(top, 500)

    def swap():  # level 500 is closed by now: it will be opened again by name
        os.rename(swapped, tmp_path / "moved")
        swapped.symlink_to(victim)

    _at_depth(monkeypatch, 1_200, swap)
    acc = remove_path(top, mounts=frozenset())
    assert acc.left == [(str(swapped), "replaced while deleting (Not a directory): not followed")]
    assert (victim / "d" / "precious").read_text() == "precious" and swapped.is_symlink()
    assert held(tree) == []
    assert (tmp_path / "moved").is_dir() and level(top, 499).is_dir()
    assert not (level(top, 400) / "f").exists() and not (top / "f").exists()  # above it, the rest went


def test_a_level_replaced_by_another_directory_deep_down_is_left(tmp_path, monkeypatch):
    top = tmp_path / "c"
    tree = chain(top, 1_500)
    swapped = level(top, 500)

    def replace():
        os.rename(swapped, tmp_path / "moved")
        swapped.mkdir()  # empty, and of the same name as the directory emptied below it

    _at_depth(monkeypatch, 1_200, replace)
    acc = remove_path(top, mounts=frozenset())
    assert acc.left == [(str(swapped), "replaced while deleting: not followed")]
    assert swapped.is_dir() and held(tree) == []


def test_a_level_deleted_by_someone_else_deep_down_is_not_an_error(tmp_path, monkeypatch):
    top = tmp_path / "c"
    tree = chain(top, 1_500)
    entries = count(top)
    _at_depth(monkeypatch, 1_200, lambda: os.rename(level(top, 500), tmp_path / "gone"))
    acc = remove_path(top, mounts=frozenset())
    assert acc.left == [] and not top.exists() and held(tree) == []
    # Counted: what the deletion removed, not what is left where it went.
    assert (tmp_path / "gone").is_dir() and acc.removed == entries - count(tmp_path / "gone")


def test_the_top_level_replaced_while_deep_down_is_left(tmp_path, monkeypatch):
    top = tmp_path / "c"
    chain(top, 200)

    def swap():
        os.rename(top, tmp_path / "moved")
        top.symlink_to(tmp_path / "moved")

    _at_depth(monkeypatch, 150, swap)
    acc = remove_path(top, mounts=frozenset())
    assert acc.left == [(str(top), "replaced while deleting (Not a directory): not followed")]
    assert top.is_symlink() and (tmp_path / "moved" / "d").is_dir()


@pytest.mark.parametrize("how", ["tmpfs", "bind"])
def test_a_mount_point_deep_down_is_never_crossed(tmp_path, how):
    """Another filesystem (its own st_dev), or a bind mount of this one (the same st_dev: only
    the mount table tells), 1,000 levels down."""
    if os.geteuid() != 0:
        pytest.skip("mounting needs root")
    top = tmp_path / "c"
    tree = chain(top, 1_500)
    mnt = level(top, 1_000)
    (tmp_path / "outside").mkdir()
    source = ["-t", "tmpfs", "none"] if how == "tmpfs" else ["--bind", str(tmp_path / "outside")]
    if subprocess.run(["mount", *source, str(mnt)], capture_output=True).returncode != 0:
        pytest.skip(f"mount {how} refused here")
    try:
        (mnt / "other-fs").write_text("keep")
        acc = remove_path(top)  # the mount points read from /proc/self/mountinfo
        why = "on another filesystem" if how == "tmpfs" else "a mount point"
        assert acc.left == [(str(mnt), f"{why}: never crossed")]
        assert (mnt / "other-fs").read_text() == "keep" and held(tree) == []
        assert not (level(top, 900) / "f").exists() and not (top / "f").exists()
    finally:
        subprocess.run(["umount", str(mnt)], check=True)
    assert remove_path(top).left == [] and not top.exists()
