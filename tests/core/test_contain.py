"""The one containment rule (envtui/core/contain.py): every spelling of a path, every link form,
another mount of the same directory; and "unknown is never gone"."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from envtui.core.contain import Container, ancestors, below, inside, inside_any, presence, resolve_parent, under_any


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    (tmp_path / "top" / "a" / "b").mkdir(parents=True)
    (tmp_path / "top2").mkdir()
    (tmp_path / "out").mkdir()
    os.symlink(tmp_path / "top", tmp_path / "alias")          # another spelling of top
    os.symlink("../../out", tmp_path / "top" / "a" / "to-out")  # a relative link inside top, pointing out
    os.symlink(tmp_path / "out", tmp_path / "top" / "abs-out")  # an absolute one
    return tmp_path


def test_below_compares_resolved_strings_at_separators():
    assert below("/a/b", "/a/b") and below("/a/b/c", "/a/b") and below("/a/b/c", "/a/b/")
    assert not below("/a/bc", "/a/b") and not below("/a", "/a/b") and not below("/a/b", "/a/b", strict=True)
    assert below("/x", "/") and below("/", "/") and not below("/", "/", strict=True)


@pytest.mark.parametrize("spelling", ["top/a/b", "alias/a/b", "top/a/../a/b", "top/./a//b", "alias/a/../../top/a/b"])
def test_every_spelling_of_a_path_inside_is_inside(tree, spelling):
    assert inside(tree / spelling, tree / "top", strict=True)
    assert inside(tree / spelling, tree / "alias", strict=True)


def test_the_top_itself_is_inside_unless_strict_in_every_spelling(tree):
    for spelled in (tree / "top", tree / "alias", tree / "top" / "a" / ".."):
        assert inside(spelled, tree / "top") and not inside(spelled, tree / "top", strict=True)


def test_links_out_are_outside_when_followed_and_inside_when_not(tree):
    for link in (tree / "top" / "a" / "to-out", tree / "top" / "abs-out"):
        assert not inside(link, tree / "top")                  # what it points at is not in top
        assert inside(link, tree / "top", follow=False)          # the link itself is
        assert inside(link, tree / "out") and not inside(link, tree / "out", follow=False)


def test_prefix_names_and_neighbours_are_outside(tree):
    assert not inside(tree / "top2", tree / "top")
    assert not inside(tree / "out" / "x", tree / "top")
    assert not inside(tree, tree / "top")


def test_a_path_that_does_not_exist_yet_is_judged_by_its_spelling(tree):
    assert inside(tree / "alias" / "new" / "file", tree / "top", strict=True)
    assert not inside(tree / "nowhere" / "file", tree / "top")
    missing = Container(tree / "missing-top")
    assert missing.ident is None and missing.holds(tree / "missing-top" / "x") and not missing.holds(tree / "top")


def test_resolve_parent_keeps_the_last_component(tree):
    link = tree / "alias" / "abs-out"
    assert resolve_parent(link) == os.path.join(os.path.realpath(tree / "top"), "abs-out")
    assert resolve_parent(tree / "alias" / "a" / "..") == os.path.realpath(tree / "top")
    assert resolve_parent("relative-name") == os.path.join(os.getcwd(), "relative-name")


def test_inside_any_names_the_first_top_holding_it(tree):
    tops = [Container(tree / "out"), Container(tree / "top")]
    assert inside_any(tree / "alias" / "a", tops).top == os.path.realpath(tree / "top")
    assert inside_any(tree / "top2", tops) is None


def test_presence_says_unknown_for_anything_but_does_not_exist(tmp_path):
    (tmp_path / "here").write_text("x")
    os.symlink(tmp_path / "nothing", tmp_path / "dangling")
    assert presence(tmp_path / "here") is True
    assert presence(tmp_path / "dangling") is True  # the link exists
    assert presence(tmp_path / "gone") is False
    assert presence(tmp_path / "here" / "below-a-file") is False  # ENOTDIR
    os.symlink("loop", tmp_path / "loop")
    assert presence(tmp_path / "loop" / "x") is None  # ELOOP: unknown, not gone


@pytest.mark.skipif(os.geteuid() != 0, reason="needs a user without root's read override")
def test_presence_behind_a_directory_nobody_may_search_is_unknown(tmp_path):
    locked = tmp_path / "locked"
    (locked / "sub").mkdir(parents=True)
    (locked / "sub" / "script.py").write_text("x")
    locked.chmod(0o700)
    tmp_path.chmod(0o755)
    probe = ("import sys; from envtui.core.contain import presence; "
             f"print(presence({str(locked / 'sub' / 'script.py')!r}), presence({str(locked / 'sub' / 'gone.py')!r}))")
    out = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", os.sys.executable, "-c", probe],
                         capture_output=True, text=True, cwd="/", env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])})
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["None", "None"]  # EACCES: neither there nor gone, unknown


@pytest.mark.skipif(os.geteuid() != 0, reason="bind mounts need root")
def test_another_mount_of_the_same_directory_is_the_same_directory(tree):
    mnt = tree / "mnt"
    mnt.mkdir()
    if subprocess.run(["mount", "--bind", str(tree / "top"), str(mnt)], capture_output=True).returncode != 0:
        pytest.skip("cannot bind-mount here")
    try:
        assert inside(mnt / "a" / "b", tree / "top", strict=True)      # through the mount
        assert inside(tree / "top" / "a", mnt, strict=True)             # and the other way round
        assert inside(mnt, tree / "top") and not inside(mnt, tree / "top", strict=True)
        assert not inside(mnt / "a" / "to-out", tree / "top")           # a link out stays out
        assert not inside(tree / "out", mnt)
    finally:
        subprocess.run(["umount", str(mnt)], check=False)


def test_resolve_parent_keeps_a_link_written_with_a_trailing_slash_and_reads_dot_as_the_directory(tree):
    real_top = os.path.realpath(tree / "top")
    # "link/" still names the link: a deletion removes it, never the directory it points at.
    assert resolve_parent(f"{tree / 'alias' / 'abs-out'}/") == os.path.join(real_top, "abs-out")
    assert resolve_parent(f"{tree / 'alias' / 'a'}/.") == os.path.join(real_top, "a")
    assert resolve_parent("/") == "/" and resolve_parent("") == os.getcwd()


def test_resolve_parent_reads_a_relative_path_from_the_working_directory(tree, monkeypatch):
    monkeypatch.chdir(tree / "alias" / "a")  # the working directory is the physical top/a
    assert resolve_parent("to-out") == os.path.join(os.path.realpath(tree / "top" / "a"), "to-out")
    assert resolve_parent("../abs-out") == os.path.join(os.path.realpath(tree / "top"), "abs-out")


def test_ancestors_are_every_directory_above_as_spelled_nearest_first():
    assert list(ancestors("a/b/c")) == ["a/b", "a"]  # relative: no "" at the end
    assert list(ancestors("/x/y")) == ["/x", "/"]
    assert list(ancestors("/")) == [] and list(ancestors("name")) == []


def test_under_any_is_one_of_the_tops_or_below_one():
    tops = {"/c/archive-v0/a", "/d"}
    assert under_any("/c/archive-v0/a", tops) and under_any("/c/archive-v0/a/lib/x", tops) and under_any("/d/e", tops)
    assert not under_any("/c/archive-v0/ab", tops) and not under_any("/c/archive-v0", tops)


def test_holds_takes_the_top_itself_and_follows_links_unless_told(tree):
    top = Container(tree / "alias")
    assert top.holds(tree / "top") and not top.holds(tree / "top", strict=True)
    assert top.holds_resolved(top.top) and not top.holds_resolved(top.top, strict=True)
    assert not top.holds(tree / "top" / "abs-out")                # followed: it points out
    assert top.holds(tree / "top" / "abs-out", follow=False)       # the link itself is inside
    assert inside_any(tree / "alias" / "abs-out", [Container(tree / "out"), top], follow=False) is top
    assert inside_any(tree / "alias" / "abs-out", [top, Container(tree / "out")]).top == os.path.realpath(tree / "out")
    assert inside_any(tree / "top", [top], strict=True) is None and inside_any(tree / "top", [top]) is top


def test_a_link_to_the_top_is_the_top_only_when_followed(tree):
    os.symlink(tree / "top", tree / "out" / "to-top")
    top = Container(tree / "top")
    assert top.holds(tree / "out" / "to-top") and not top.holds(tree / "out" / "to-top", follow=False)


def test_a_file_is_held_by_its_spelling_only_never_by_its_inode(tree):
    (tree / "top" / "f").write_text("x")
    os.link(tree / "top" / "f", tree / "out" / "f-again")  # one inode, two names
    f = Container(tree / "top" / "f")
    assert f.ident is None and f.holds(tree / "alias" / "f")
    assert not f.holds(tree / "out" / "f-again")
