"""The safety rules and the remover, function by function, fast (no uv, no inventory, no process
scan): the tests the mutation run (``mutmut``, see the README) holds the rules to."""

from __future__ import annotations

import errno
import os
import stat
import sys
from pathlib import Path

import pytest

from envtui.core.buckets import list_buckets
from envtui.core.errors import NotACacheError, ScanCancelled
from envtui.core.locate import CACHEDIR_TAG_SIGNATURE
from envtui.core.locks import ProcessInfo
from envtui.core.prune import Kind, PlanEntry, Skipped
from envtui.core.disk.freed import under_any
from envtui.core.prune import remover, safety
from envtui.core.prune.remover import Removal, UnsafePathError, check_prune_root, mount_points, remove_path
from envtui.core.prune.safety import (
    LinkListing,
    Look,
    References,
    Rules,
    _Resolver,
    guard_path,
    hardlink_reason,
    references_reason,
    resolve_path,
    standalone_reason,
    vet,
)


def cache(tmp_path: Path, *dirs: str) -> Path:
    root = tmp_path / "cache"
    root.mkdir()
    (root / "CACHEDIR.TAG").write_bytes(CACHEDIR_TAG_SIGNATURE + b"\n")
    for d in ("archive-v0", "wheels-v8", "environments-v2", *dirs):
        (root / d).mkdir(parents=True, exist_ok=True)
    return root


def entry(kind: Kind, path: Path, *paths: Path, **kw) -> PlanEntry:
    return PlanEntry(kind, path, paths or (path,), path.name, ("marked",), **kw)


@pytest.fixture(autouse=True)
def _empty_working_directory(tmp_path_factory, monkeypatch):
    """Each test runs in an empty directory of its own: a broken remover (a mutant, say) that
    resolves a path against the working directory deletes nothing that matters."""
    monkeypatch.chdir(tmp_path_factory.mktemp("cwd"))


@pytest.fixture(autouse=True)
def _no_process_scan(monkeypatch):
    """Processes are scanned in test_safety.py; here nobody uses anything unless a test says so."""
    monkeypatch.setattr(safety, "ProcessPaths", lambda: FakeProcesses({}))


class FakeProcesses:
    """A look at the processes: ``uses`` maps a directory (str) to the processes inside it."""

    def __init__(self, uses):
        self.uses = uses
        self.asked = []

    def using(self, dirs, parents=None):
        self.asked.append([str(d) for d in dirs])
        return [p for d in dirs for p in self.uses.get(str(d), ())]


# -- paths ---------------------------------------------------------------------------------------------


def test_inside_means_equal_or_below_a_separator():
    from envtui.core.contain import below

    assert below("/a/b", "/a/b") and below("/a/b/c", "/a/b") and below("/a/b/c", "/a/b/")
    assert not below("/a/bc", "/a/b") and not below("/a", "/a/b")
    assert not below("/a/b", "/a/b", strict=True) and below("/a/b/c", "/a/b", strict=True)
    assert below("/x", "/") and not below("/", "/", strict=True)


def test_under_any_walks_up_to_the_filesystem_root():
    assert under_any("/a/b/c", {"/a/b"}) and under_any("/a/b", {"/a/b"}) and under_any("/x", {"/"})
    assert not under_any("/a/bc", {"/a/b"}) and not under_any("/a", {"/a/b"})


def test_resolve_path_resolves_the_parent_only(tmp_path, monkeypatch):
    (tmp_path / "real").mkdir()
    (tmp_path / "alias").symlink_to(tmp_path / "real")
    (tmp_path / "real" / "link").symlink_to("/etc")
    assert resolve_path(tmp_path / "alias" / "link") == str(tmp_path / "real" / "link")
    assert resolve_path(str(tmp_path / "alias" / "link") + "/") == str(tmp_path / "real" / "link")
    assert resolve_path(tmp_path / "alias" / "..") == str(tmp_path)
    assert resolve_path(str(tmp_path / "alias") + "/.") == str(tmp_path / "real")
    monkeypatch.chdir(tmp_path / "alias")
    assert resolve_path("link") == str(tmp_path / "real" / "link")
    assert resolve_path("/") == "/"


def test_resolver_follows_links_in_order_and_stops_at_loops(tmp_path, monkeypatch):
    base = os.path.realpath(tmp_path)
    (tmp_path / "d" / "e").mkdir(parents=True)
    (tmp_path / "up").symlink_to("d/e")  # up/.. is d, not tmp
    (tmp_path / "abs").symlink_to(tmp_path / "d")
    (tmp_path / "loop1").symlink_to("loop2")
    (tmp_path / "loop2").symlink_to("loop1")
    r = _Resolver()
    assert r.named_and_resolved(base, "up/../x")[1] == os.path.join(base, "d", "x")
    assert r.named_and_resolved(base, "./up//./f")[1] == os.path.join(base, "d", "e", "f")
    assert r.named_and_resolved(base, "up//")[1] == os.path.join(base, "d", "e")
    assert r.named_and_resolved(base, "abs/e")[1] == os.path.join(base, "d", "e")
    assert r.named_and_resolved(base, str(tmp_path / "up"))[1] == os.path.join(base, "d", "e")
    assert r.named_and_resolved(base, "up")[0] == os.path.join(base, "up")
    assert r.named_and_resolved(base, "abs/../up")[0] == os.path.join(base, "up")
    assert r.named_and_resolved(base, "up/")[0] == os.path.join(base, "d", "e")
    assert r.named_and_resolved(base, str(tmp_path / "abs"))[0] == os.path.join(base, "abs")
    assert r.named_and_resolved(base, "loop1")[1].startswith(base)  # ends, somewhere, instead of recursing forever
    calls = []
    real_readlink = os.readlink
    monkeypatch.setattr(os, "readlink", lambda p: calls.append(p) or real_readlink(p))
    r.named_and_resolved(base, "up/../x")
    assert calls == []  # every readlink remembered


def test_resolver_gives_up_following_after_forty_links(tmp_path):
    """40 links are followed (MAXSYMLINKS), in a target's directory part and its last part alike."""
    base = os.path.realpath(tmp_path)
    for i in range(41):
        (tmp_path / f"l{i}").symlink_to(f"l{i + 1}")
    (tmp_path / "l41" / "x").mkdir(parents=True)
    l41 = os.path.join(base, "l41")
    assert _Resolver().named_and_resolved(base, "l1") == (os.path.join(base, "l1"), l41)  # 40 links: to the end
    assert _Resolver().named_and_resolved(base, "l0")[1] == os.path.join(base, "l40")  # the 41st is not followed
    assert _Resolver().named_and_resolved(base, "l1/x") == (f"{l41}/x", f"{l41}/x")
    assert _Resolver().named_and_resolved(base, "l0/x")[1] == os.path.join(base, "l40", "x")


def test_guard_messages(tmp_path):
    root = cache(tmp_path, "archive-v9", "flat-index-v99", "mystuff")
    (tmp_path / "cache2").mkdir()
    rules = Rules(root)
    r = str(rules.root)
    assert rules.guard(root / "archive-v0" / "x") is None
    assert rules.guard(root / ".tmpA1b2C3") is None and rules.guard(root / ".tmpA1b2C3" / "b") is None
    # Only uv's own naming (the tempfile crate's: .tmp and 6 letters or digits) at the root: a
    # cache root shared with other programs holds their temporary directories too.
    for name in (".tmpA", ".tmpA1b2C3x", ".tmp-1b2C3", ".tmp", ".tmpfile.txt"):
        assert "not named as uv names" in rules.guard(root / name), name
    assert rules.guard(tmp_path / "cache2" / "x") == f"{tmp_path / 'cache2' / 'x'} is outside the cache root {r}"
    assert rules.guard(root) == f"{r} is outside the cache root {r}"
    assert rules.guard(root / "mystuff" / "x") == "mystuff is not a bucket uv owns"
    assert rules.guard(root / "nothing" / "x") == "nothing is not a bucket uv owns"
    assert rules.guard(root / "CACHEDIR.TAG") == "CACHEDIR.TAG is not a bucket uv owns"
    assert rules.guard(root / "archive-v9" / "x") == "archive-v9 is a bucket of a newer version: never touched"
    assert rules.guard(root / "flat-index-v99" / "x") == "flat-index-v99 is a bucket of a newer version: never touched"
    assert rules.guard(root / "wheels-v8") == f"{r}/wheels-v8 is a whole bucket"
    assert rules.guard(root / "wheels-v8", whole_bucket=True) is None
    assert guard_path(rules.root, root / "wheels-v8", rules.buckets, whole_bucket=True) is None
    assert guard_path(rules.root, root / "wheels-v8", rules.buckets) == f"{r}/wheels-v8 is a whole bucket"
    (root / "unknown-v3").mkdir()
    rules = Rules(root)
    assert rules.guard(root / "unknown-v3" / "x") == "unknown-v3 is a bucket of a unknown version: never touched"
    (root / "wheels-v2").mkdir()
    assert Rules(root).guard(root / "wheels-v2" / "x") is None  # older: deletable


def test_check_prune_root_refuses_filesystem_roots_homes_and_non_caches(tmp_path, monkeypatch):
    with pytest.raises(NotACacheError):
        check_prune_root(tmp_path)
    root = cache(tmp_path)
    assert check_prune_root(root) == root
    assert check_prune_root(root / "wheels-v8" / "..") == root
    monkeypatch.setattr(remover, "check_cache_root", lambda p: None)
    with pytest.raises(UnsafePathError) as err:
        check_prune_root(Path("/"))
    assert err.value.message == "refusing to delete under a filesystem root"
    monkeypatch.setenv("HOME", str(root))
    with pytest.raises(UnsafePathError) as err:
        check_prune_root(root)
    assert err.value.message == "refusing to delete in a home directory"
    monkeypatch.setenv("HOME", str(tmp_path / "elsewhere"))

    class User:
        pw_dir = str(root)

    monkeypatch.setattr(remover.pwd, "getpwall", lambda: [User()])
    with pytest.raises(UnsafePathError, match="home directory"):
        check_prune_root(root)
    monkeypatch.setattr(remover.pwd, "getpwall", lambda: (_ for _ in ()).throw(OSError()))
    assert check_prune_root(root) == root


# -- buckets, archive entries, mounts ----------------------------------------------------------------


def test_the_deepest_archive_bucket_a_path_lies_in_names_its_entry(tmp_path):
    """Spellings of archive buckets may nest (one linked into an entry of another): a path gets
    the entry of the deepest; odd spellings of one path give the same entry, a bucket none."""
    root = cache(tmp_path)
    (root / "archive-v0" / "sub").mkdir()
    (root / "archive-v1").symlink_to("archive-v0/sub")
    rules = Rules(root)
    r = str(rules.root)
    assert rules.archive_entry_of(f"{r}/archive-v0/sub/E/x") == f"{r}/archive-v0/sub/E"
    assert rules.archive_entry_of(f"{r}/archive-v1/E") == f"{r}/archive-v0/sub/E"
    assert rules.archive_entry_of(f"{r}/archive-v0/sub") == f"{r}/archive-v0/sub"
    assert rules.archive_entry_of(f"{r}/archive-v0//E/") == f"{r}/archive-v0/E"
    assert rules.archive_entry_of(f"{r}/archive-v0/") is None
    assert rules.archive_entry_of(f"{r}/archive-v0sub/E") is None


def test_an_archive_bucket_linked_to_the_filesystem_root_holds_every_top_directory(tmp_path):
    root = cache(tmp_path)
    (root / "archive-v3").symlink_to("/")
    rules = Rules(root)
    assert rules.archive_entry_of("/usr/lib/x") == "/usr"
    assert rules.archive_entry_of("/") is None


@pytest.mark.parametrize("path", ["/", "//", "/a", "/a/", "/a//b", "/a/b/c", "/aX/b", "/a/bX/", "a", "a/b", "", "/a b/c.d"])
def test_the_resolver_s_path_helpers_are_posixpath_s(path):
    assert safety._dirname(path) == os.path.dirname(path)
    if path:
        assert safety._child(path, "nX") == os.path.join(path, "nX")
    assert safety._child("", "n") == os.path.join("", "n")


def test_archive_dirs_include_symlinked_archive_buckets_but_only_real_ones_are_deletable(tmp_path):
    root = cache(tmp_path, "archive-v1")
    (tmp_path / "moved").mkdir()
    (root / "archive-v7").symlink_to(tmp_path / "moved")
    rules = Rules(root)
    assert rules.archive_entry_of(str(tmp_path / "moved" / "X")) == str(tmp_path / "moved" / "X")
    assert rules.archive_entry_of(str(root / "archive-v1" / "Y" / "deep" / "z")) == str(root / "archive-v1" / "Y")
    assert rules.archive_entry_of(str(root / "archive-v0")) is None
    assert rules.archive_entry_of(str(root / "wheels-v8" / "a")) is None
    assert rules.archive_entry_of("/") is None
    for name in ("archive-v0", "archive-v1"):
        (root / name / "E").mkdir()
    (tmp_path / "moved" / "E").mkdir()
    group = root / "environments-v2" / "g"
    group.mkdir()
    for name in ("archive-v0", "archive-v1", "archive-v7"):
        (group / name).symlink_to(f"../../{name}/E")
    assert rules.archive_target(group / "archive-v0") == root / "archive-v0" / "E"
    assert rules.archive_target(group / "archive-v1") is None  # a newer uv's archive: never deleted
    assert rules.archive_target(group / "archive-v7") is None  # reached through a symlink
    (root / "archive-v0" / "F").write_text("a file, not an entry")
    (group / "file").symlink_to("../../archive-v0/F")
    (group / "gone").symlink_to("../../archive-v0/Gone")
    assert rules.archive_target(group / "file") is None and rules.archive_target(group / "gone") is None


def test_mounts_are_those_strictly_inside_the_root(tmp_path, monkeypatch):
    root = cache(tmp_path)
    inside = str(root / "archive-v0" / "E" / "m")
    monkeypatch.setattr(safety, "mount_points", lambda: frozenset({"/", str(root), inside, str(root) + "x/y"}))
    rules = Rules(root)
    assert rules.mounts == {inside}
    assert rules.mount_inside(root / "archive-v0" / "E") == inside
    assert rules.mount_inside(inside) == inside
    assert rules.mount_inside(root / "archive-v0" / "Other") is None
    assert Rules(root, mounts=["/x"]).mounts == {"/x"}
    assert Rules(root, mounts=[]).mount_inside(root / "archive-v0" / "E") is None


def test_mount_points_parse_mountinfo(tmp_path):
    info = tmp_path / "mountinfo"
    info.write_bytes(b"36 35 98:0 /mnt1 /a\\040b\\011c rw - ext3 /dev/root rw\nshort line\n\n"
                     b"a b c d /five\n1 2 3 4 /caf\xe9 rw\nfour fields only here\n")
    assert mount_points(str(info)) == {"/a b\tc", "/five", os.fsdecode(b"/caf\xe9")}
    assert mount_points(str(tmp_path / "none")) == frozenset()
    assert "/" in mount_points()


# -- references ----------------------------------------------------------------------------------------


def test_references_found_in_every_bucket_and_spelling(tmp_path):
    root = cache(tmp_path, "sdists-v11/p", "environments-v1/g", "mystuff")
    for name in ("A", "B", "C", "D", "E", "F"):
        (root / "archive-v0" / name / "pkg").mkdir(parents=True)
    (tmp_path / "alias").symlink_to(root)
    (root / "wheels-v8" / "a").symlink_to("../archive-v0/A")
    (root / "sdists-v11" / "p" / "b").symlink_to(root / "archive-v0" / "B" / "pkg")
    (root / "environments-v1" / "g" / "c").symlink_to(tmp_path / "alias" / "archive-v0" / "C")
    (root / "mystuff" / "d").symlink_to("../archive-v0/D")
    (root / "archive-v0" / "E" / "pkg" / "e").symlink_to("../../F")  # one entry into another
    (root / "archive-v0" / "E" / "pkg" / "self").symlink_to("..")  # into itself
    (root / "stray-link").symlink_to("archive-v0/A")  # a link at the top level
    (root / "wheels-v8" / "x").symlink_to("/etc")  # not into the archive
    (root / "wheels-v8" / "broken").symlink_to("../archive-v0/Gone")
    r = str(Rules(root).root)
    refs = Rules(root).find_references()
    a = lambda n: f"{r}/archive-v0/{n}"  # noqa: E731
    assert refs.links == {
        a("A"): {f"{r}/wheels-v8/a", f"{r}/stray-link"},
        a("B"): {f"{r}/sdists-v11/p/b"},
        a("C"): {f"{r}/environments-v1/g/c"},
        a("D"): {f"{r}/mystuff/d"},
        a("F"): {f"{r}/archive-v0/E/pkg/e"},
        a("E"): {f"{r}/archive-v0/E/pkg/self"},
        a("Gone"): {f"{r}/wheels-v8/broken"},
    }


def test_references_through_symlinked_buckets_and_archive_level_links(tmp_path):
    root = cache(tmp_path)
    (root / "archive-v0" / "T").mkdir()
    (tmp_path / "disk").mkdir()
    os.rename(root / "wheels-v8", tmp_path / "disk" / "wheels-v8")
    (root / "wheels-v8").symlink_to(tmp_path / "disk" / "wheels-v8")
    (root / "wheels-v9").symlink_to(tmp_path / "disk" / "wheels-v8")  # the same directory twice
    (tmp_path / "disk" / "wheels-v8" / "p").mkdir()
    (tmp_path / "disk" / "wheels-v8" / "p" / "t").symlink_to("../../archive-v0/T")  # lexically only
    (root / "archive-v0" / "Chain").symlink_to(tmp_path / "outside")
    (root / "environments-v2" / "c").symlink_to("../archive-v0/Chain")
    (tmp_path / "movedarch").mkdir()
    (tmp_path / "movedarch" / "M").mkdir()
    (root / "archive-v5").symlink_to(tmp_path / "movedarch")
    (root / "environments-v2" / "m").symlink_to("../archive-v5/M/sub")
    rules = Rules(root)
    refs = rules.find_references()
    r = str(rules.root)
    where = str(tmp_path / "disk" / "wheels-v8" / "p" / "t")
    assert refs.links[f"{r}/archive-v0/T"] == {where}
    assert refs.links[f"{r}/archive-v0/Chain"] == {f"{r}/environments-v2/c"}
    assert refs.links[str(tmp_path / "movedarch" / "M")] == {f"{r}/environments-v2/m"}
    assert rules.archive_entry_of(f"{r}/archive-v5/M/x") == str(tmp_path / "movedarch" / "M")
    assert rules.archive_entry_of(f"{r}/archive-v5") is None
    assert rules.archive_entry_of(f"{r}/archive-v6/M") is None  # no such bucket


def test_find_references_stops_when_asked(tmp_path):
    root = cache(tmp_path)
    with pytest.raises(ScanCancelled):
        Rules(root).find_references(should_stop=lambda: True)


def test_outside_discounts_links_the_plan_deletes_and_the_entry_s_own(tmp_path):
    root = cache(tmp_path)
    rules = Rules(root)
    r = str(rules.root)
    refs = References()
    refs.add(f"{r}/archive-v0/A", f"{r}/wheels-v8/z")
    refs.add(f"{r}/archive-v0/A", f"{r}/environments-v2/g/l")
    refs.add(f"{r}/archive-v0/A", f"{r}/archive-v0/A/lib64")
    refs.add(f"{r}/archive-v0/B", f"{r}/wheels-v8/b")
    assert refs.outside(rules, root / "archive-v0" / "A") == [f"{r}/environments-v2/g/l", f"{r}/wheels-v8/z"]
    assert refs.outside(rules, root / "archive-v0" / "A", {f"{r}/environments-v2/g"}) == [f"{r}/wheels-v8/z"]
    assert refs.outside(rules, root / "archive-v0" / "A" / "pkg") == [f"{r}/archive-v0/A/lib64", f"{r}/environments-v2/g/l",
                                                                   f"{r}/wheels-v8/z"]
    assert refs.outside(rules, root / "archive-v0") == [f"{r}/environments-v2/g/l", f"{r}/wheels-v8/b", f"{r}/wheels-v8/z"]
    assert refs.outside(rules, root / "archive-v0", {f"{r}/wheels-v8"}) == [f"{r}/environments-v2/g/l"]
    assert refs.outside(rules, root / "wheels-v8" / "q") == []


# -- what a look and the reasons say ---------------------------------------------------------------------


def test_look_finds_references_once(tmp_path, monkeypatch):
    root = cache(tmp_path)
    rules = Rules(root)
    calls = []
    monkeypatch.setattr(rules, "find_references",
                        lambda should_stop=None, listed=None: calls.append((should_stop, listed)) or References())
    stop = lambda: False  # noqa: E731
    look = Look(rules, True, should_stop=stop)
    assert look.refs() is look.refs()
    assert calls == [(stop, None)]


def test_a_link_listing_gives_what_the_rules_list_and_the_references_they_find(tmp_path, monkeypatch):
    root = cache(tmp_path)
    (root / "archive-v0" / "A").mkdir()
    (root / "wheels-v8" / "w").mkdir(parents=True)
    (root / "wheels-v8" / "w" / "x").symlink_to("../../archive-v0/A")
    (tmp_path / "elsewhere").mkdir()
    (root / "sdists-v9").symlink_to(tmp_path / "elsewhere")
    (tmp_path / "elsewhere" / "y").symlink_to(root / "archive-v0" / "A")
    rules = Rules(root)
    listing = LinkListing(rules)
    listed = listing.result()
    assert listed == rules.list_links() and listing.result() is listed
    assert {b.path: b.target for b in listed}[str(root / "sdists-v9")] == str(tmp_path / "elsewhere")
    look = Look(rules, True, listing=listing)
    # Read from the listing, not the disk: a link made after it was taken is not seen.
    (root / "wheels-v8" / "w" / "z").symlink_to("../../archive-v0/A")
    elsewhere = os.path.realpath(tmp_path / "elsewhere")  # a link is recorded where it really is
    assert look.refs().links == {f"{rules.root}/archive-v0/A": {f"{rules.root}/wheels-v8/w/x", f"{elsewhere}/y"}}
    assert rules.find_references().links[f"{rules.root}/archive-v0/A"] >= {f"{rules.root}/wheels-v8/w/z"}


def test_a_link_listing_hands_on_what_its_thread_raised(tmp_path, monkeypatch):
    rules = Rules(cache(tmp_path))

    def fail(*, should_stop=None):
        raise PermissionError(13, "denied", str(rules.root))

    monkeypatch.setattr(rules, "list_links", fail)
    listing = LinkListing(rules)
    with pytest.raises(PermissionError):
        listing.result()
    with pytest.raises(PermissionError):
        Look(rules, True, listing=listing).refs()


def test_look_reads_the_processes_once_for_every_question(tmp_path, monkeypatch):
    root = cache(tmp_path)
    a, b, c = (entry(Kind.SCRIPT_ENV, root / "environments-v2" / n, uses=(root / "environments-v2" / n,)) for n in "abc")
    nouse = entry(Kind.INTERPRETER, root / "interp")
    p = ProcessInfo(1, "x", "why")
    looks = []

    def read():
        looks.append(FakeProcesses({str(b.path): [p], str(c.path): [p]}))
        return looks[-1]

    monkeypatch.setattr(safety, "ProcessPaths", read)
    look = Look(Rules(root), True)
    assert look.processes(nouse) == [] and looks == []  # an entry that uses nothing reads nothing
    assert look.processes(a) == [] and look.processes(b) == [p] and look.processes(c) == [p]
    assert len(looks) == 1 and looks[0].asked == [[str(a.path)], [str(b.path)], [str(c.path)]]
    assert Look(Rules(root), True).processes(c) == [p] and len(looks) == 2  # a new look reads again


def test_standalone_reasons_in_order(tmp_path, monkeypatch):
    root = cache(tmp_path)
    a = root / "archive-v0" / "A"
    a.mkdir()
    env = root / "environments-v2" / "e"
    env.mkdir()
    (env / ".lock").write_text("")
    p = ProcessInfo(7, "prog", "cwd")
    monkeypatch.setattr(safety, "ProcessPaths", lambda: FakeProcesses({str(env): [p]}))
    monkeypatch.setattr(safety, "mount_points", lambda: frozenset({str(env / "m")}))
    held = {str(env / ".lock")}
    monkeypatch.setattr(safety, "entry_lock_held", lambda lock: str(lock) in held)
    rules = Rules(root)
    free, busy = Look(rules, True), Look(rules, False)
    outside = entry(Kind.SCRIPT_ENV, env, tmp_path / "x", env)
    assert standalone_reason(outside, free) == Skipped(env, Kind.SCRIPT_ENV, f"unsafe: {tmp_path / 'x'} is outside the cache root {rules.root}")
    mounted = entry(Kind.SCRIPT_ENV, env, env)
    assert standalone_reason(mounted, free) == Skipped(env, Kind.SCRIPT_ENV, f"a filesystem is mounted at {env / 'm'}: never deleted across it")
    monkeypatch.setattr(safety, "mount_points", lambda: frozenset())
    rules = Rules(root)
    free, busy = Look(rules, True), Look(rules, False)
    for kind in (Kind.ARCHIVE, Kind.LEFTOVER, Kind.BUCKET):
        e = entry(kind, a)
        assert standalone_reason(e, busy) == Skipped(a, kind, "a uv is running and may be writing it (uv's root lock is held)")
    bucket = entry(Kind.BUCKET, root / "wheels-v8")
    assert standalone_reason(bucket, free) is None
    assert standalone_reason(entry(Kind.CACHE_ENTRY, root / "wheels-v8"), free).reason.endswith("is a whole bucket")
    assert standalone_reason(entry(Kind.SCRIPT_ENV, a, needs_exclusive=True), busy) is not None
    assert standalone_reason(entry(Kind.SCRIPT_ENV, a), busy) is None
    used = entry(Kind.SCRIPT_ENV, env, env, uses=(env,), lock=env / ".lock")
    assert standalone_reason(used, free) == Skipped(env, Kind.SCRIPT_ENV, "in use by a running process", (p,))
    locked = entry(Kind.SCRIPT_ENV, env, env, lock=env / ".lock")
    assert standalone_reason(locked, free) == Skipped(env, Kind.SCRIPT_ENV, f"its lock {env / '.lock'} is held: a uv is writing it")
    held.clear()
    assert standalone_reason(locked, free) is None


def test_references_and_hardlink_reasons(tmp_path):
    root = cache(tmp_path)
    rules = Rules(root)
    r = str(rules.root)
    look = Look(rules, True, references=References())
    look.references.add(f"{r}/archive-v0/A", f"{r}/wheels-v8/one")
    look.references.add(f"{r}/archive-v0/A", f"{r}/wheels-v8/two")
    look.references.add(f"{r}/archive-v0/A", f"{r}/wheels-v8/three")
    a = entry(Kind.ARCHIVE, root / "archive-v0" / "A")
    assert references_reason(a, look, set()) == Skipped(
        a.path, Kind.ARCHIVE, f"referenced: {r}/wheels-v8/one links to {r}/archive-v0/A (and 2 more)")
    assert references_reason(a, look, {f"{r}/wheels-v8/one", f"{r}/wheels-v8/two"}).reason == \
        f"referenced: {r}/wheels-v8/three links to {r}/archive-v0/A"
    assert references_reason(a, look, {f"{r}/wheels-v8"}) is None
    bucket = entry(Kind.BUCKET, root / "archive-v0")
    assert references_reason(bucket, look, set()) is not None
    # The root as a whole would take every link with it (the guard refuses it anyway).
    assert references_reason(entry(Kind.BUCKET, root), look, set()) is None
    assert references_reason(entry(Kind.LINK, root / "wheels-v8" / "one"), look, set()) is None
    assert hardlink_reason(a, 0) is None and hardlink_reason(entry(Kind.SCRIPT_ENV, a.path), 3) is None
    assert hardlink_reason(a, 3) == Skipped(a.path, Kind.ARCHIVE, "no link, but something kept hardlinks 3 of its files "
                                            "(an environment, or a project outside the cache)")


def test_vet_drops_until_the_rest_passes_together(tmp_path, monkeypatch):
    root = cache(tmp_path)
    av = root / "archive-v0"
    for n in ("A", "B", "C", "D"):
        (av / n).mkdir()
        (av / n / "f").write_bytes(b"x" * 5000)
    # B's link into A: A may go only with B. B hardlinks C's file: C may go only with B.
    (av / "B" / "to-a").symlink_to("../A")
    os.link(av / "C" / "f", av / "B" / "c-file")
    (root / "environments-v2" / "B.lock").write_text("")
    entries = [entry(Kind.ARCHIVE, av / n, lock=(root / "environments-v2" / "B.lock") if n == "B" else None) for n in "ABCD"]
    look = Look(Rules(root), True)
    kept, skipped, freed, groups = vet(entries, look)
    assert [e.path.name for e in kept] == ["A", "B", "C", "D"] and skipped == [] and groups == [0, 1, 2, 3]
    assert freed.subset_total(groups)[0] == sum(os.lstat(p).st_blocks * 512 for p in [av / n / "f" for n in "ABCD"]) + \
        sum(os.lstat(av / n).st_blocks * 512 for n in "ABCD") + os.lstat(av / "B" / "to-a").st_blocks * 512
    # B's lock is held: B stays, so A (linked from B) and C (hardlinked from B) stay too.
    monkeypatch.setattr(safety, "entry_lock_held", lambda lock: True)
    kept, skipped, freed, groups = vet(entries, Look(Rules(root), True))
    assert [e.path.name for e in kept] == ["D"] and groups == [2]
    reasons = {s.path.name: s.reason for s in skipped}
    assert set(reasons) == {"A", "B", "C"}
    assert reasons["A"].startswith("referenced:") and "hardlinks" in reasons["C"] and "lock" in reasons["B"]
    assert len(freed) == 3  # every entry that passed the standalone rules was walked, once


def test_vet_reuses_an_earlier_walk_by_group(tmp_path, monkeypatch):
    """As the executor does under the lock the plan was made under: entries found in ``groups``
    are not walked again, and every rule reads their own group, wherever it sits in ``freed``."""
    from envtui.core.disk.freed import Freed

    root = cache(tmp_path)
    av = root / "archive-v0"
    for n in ("Z", "A", "B", "C", "D"):
        (av / n).mkdir()
        (av / n / "f").write_bytes(b"x" * 5000)
    (av / "B" / "to-a").symlink_to("../A")
    os.link(av / "C" / "f", av / "B" / "c-file")
    os.link(av / "Z" / "f", av / "D" / "z-file")  # D shares a file with Z, which is not deleted
    (root / "environments-v2" / "B.lock").write_text("")
    entries = [entry(Kind.ARCHIVE, av / n, lock=(root / "environments-v2" / "B.lock") if n == "B" else None) for n in "ABCD"]
    earlier = Freed()
    earlier.add([av / "Z"])  # group 0: not an entry of this vet
    groups = {e.path: earlier.add(e.paths) for e in entries}
    kept, skipped, freed, out = vet(entries, Look(Rules(root), True), freed=earlier, groups=groups)
    assert freed is earlier and len(earlier) == 5  # nothing walked again
    assert [e.path.name for e in kept] == ["A", "B", "C"] and out == [1, 2, 3]
    assert [s.path.name for s in skipped] == ["D"] and "hardlinks 1 of its files" in skipped[0].reason
    assert freed.subset_total(out) == vet(entries[:3], Look(Rules(root), True))[2].subset_total([0, 1, 2])
    # B's lock is held: B stays, and so do A (linked from B) and C (hardlinked from B).
    monkeypatch.setattr(safety, "entry_lock_held", lambda lock: True)
    kept, skipped, freed, out = vet(entries, Look(Rules(root), True), freed=earlier, groups=groups)
    assert kept == [] and out == [] and len(earlier) == 5
    reasons = {s.path.name: s.reason for s in skipped}
    assert "hardlinks" in reasons["C"] and reasons["A"].startswith("referenced:") and "lock" in reasons["B"]
    # An entry the earlier walk does not know is walked now.
    (av / "E").mkdir()
    kept, _, freed, out = vet([entry(Kind.ARCHIVE, av / "E")], Look(Rules(root), True), freed=earlier, groups=groups)
    assert [e.path.name for e in kept] == ["E"] and out == [5] and len(earlier) == 6


# -- the remover -----------------------------------------------------------------------------------------


def test_remove_path_counts_what_it_frees(tmp_path):
    d = tmp_path / "e"
    (d / "sub").mkdir(parents=True)
    (d / "sub" / "own").write_bytes(os.urandom(9000))
    (d / "shared").write_bytes(os.urandom(5000))
    os.link(d / "shared", tmp_path / "keeper")
    (d / "link").symlink_to("/etc")
    expect_disk = sum(os.lstat(p).st_blocks * 512 for p in (d, d / "sub", d / "sub" / "own", d / "link"))
    expect_size = sum(os.lstat(p).st_size for p in (d, d / "sub", d / "sub" / "own", d / "link"))
    acc = remove_path(d)
    assert not d.exists() and (tmp_path / "keeper").exists()
    assert (acc.disk, acc.apparent, acc.removed, acc.left) == (expect_disk, expect_size, 5, [])
    f = tmp_path / "single"
    f.write_bytes(b"y" * 100)
    blocks = os.lstat(f).st_blocks * 512
    again = remove_path(f, acc=acc)
    assert again is acc and acc.disk == expect_disk + blocks and acc.removed == 6
    keeper = remove_path(tmp_path / "keeper")  # now the last link
    assert keeper.disk == 8192 or keeper.disk == os.stat(tmp_path).st_blksize or keeper.disk > 0
    assert remove_path(tmp_path / "missing") == Removal()


def test_remove_path_inside_a_root_opens_from_it(tmp_path):
    root = tmp_path / "root"
    (root / "a" / "b").mkdir(parents=True)
    (root / "a" / "b" / "f").write_text("x")
    remove_path(root / "a" / "b", root=root)
    assert not (root / "a" / "b").exists() and (root / "a").exists()
    with pytest.raises(UnsafePathError) as err:
        remove_path(tmp_path / "elsewhere", root=root)
    assert err.value.message == f"outside the cache root {root}"
    (root / "with space" / "in it").mkdir(parents=True)
    (root / "with space" / "in it" / "f").write_text("x")
    remove_path(root / "with space" / "in it" / "f", root=root)
    assert not (root / "with space" / "in it" / "f").exists()
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "f").write_text("keep")
    (root / "door").symlink_to(tmp_path / "outside")
    with pytest.raises(UnsafePathError):  # the parent resolves outside the root
        remove_path(root / "door" / "f", root=root)
    assert (tmp_path / "outside" / "f").exists()
    (root / "x").mkdir()
    remove_path(root / "x", root=root)
    assert not (root / "x").exists()


def test_remove_path_never_opens_a_parent_through_a_link_swapped_in(tmp_path, monkeypatch):
    root = tmp_path / "root"
    (root / "a").mkdir(parents=True)
    (root / "a" / "f").write_text("x")
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "f").write_text("keep")
    real = os.path.realpath

    def swap(p):
        out = real(p)
        if out == str(root / "a"):  # resolved while it was a directory; a link by the time it is opened
            os.rename(root / "a", tmp_path / "gone")
            (root / "a").symlink_to(tmp_path / "outside")
        return out

    monkeypatch.setattr(remover.os.path, "realpath", swap)
    with pytest.raises(OSError) as err:
        remove_path(root / "a" / "f", root=root)
    assert err.value.errno in (errno.ELOOP, errno.ENOTDIR)
    assert (tmp_path / "outside" / "f").read_text() == "keep"


def test_remove_path_leaves_mount_points_and_other_devices(tmp_path, monkeypatch):
    d = tmp_path / "e"
    (d / "m" / "deep").mkdir(parents=True)
    (d / "m" / "deep" / "f").write_text("keep")
    (d / "own").write_text("x")
    monkeypatch.setattr(remover, "mount_points", lambda: frozenset({str(d / "m")}))
    acc = remove_path(d)
    assert acc.left == [(str(d / "m"), "a mount point: never crossed")]
    assert (d / "m" / "deep" / "f").exists() and not (d / "own").exists()
    acc = remove_path(d, mounts=frozenset({str(d / "m" / "deep")}))
    assert acc.left == [(str(d / "m" / "deep"), "a mount point: never crossed")]
    def other_dev(path, *a, **kw):
        st = real_stat(path, *a, **kw)
        if path == "deep":
            return os.stat_result((st.st_mode, st.st_ino, st.st_dev + 1) + tuple(st)[3:])
        return st

    real_stat = os.lstat
    monkeypatch.setattr(remover.os, "lstat", other_dev)
    acc = remove_path(d, mounts=frozenset())
    assert acc.left == [(str(d / "m" / "deep"), "on another filesystem: never crossed")]
    assert (d / "m" / "deep" / "f").exists()


def test_remove_path_leaves_a_directory_replaced_between_lstat_and_open(tmp_path, monkeypatch):
    d = tmp_path / "e"
    (d / "sub").mkdir(parents=True)
    (d / "other").mkdir()
    real_fstat = os.fstat

    def moved(fd):
        st = real_fstat(fd)
        if os.path.basename(os.readlink(f"/proc/self/fd/{fd}")) == "other":
            return os.stat_result((st.st_mode, st.st_ino + 1) + tuple(st)[2:])
        return st

    monkeypatch.setattr(remover.os, "fstat", moved)
    acc = remove_path(d, mounts=frozenset())
    assert acc.left == [(str(d / "other"), "replaced while deleting: not followed")]
    assert (d / "other").is_dir() and not (d / "sub").exists()


def test_remove_path_makes_read_only_directories_writable(tmp_path, monkeypatch):
    d = tmp_path / "e"
    (d / "ro").mkdir(parents=True)
    (d / "ro" / "f").write_text("x")
    os.chmod(d / "ro", 0o500)
    refused = []
    real_unlink, real_rmdir = os.unlink, os.rmdir

    def unlink(name, *, dir_fd):
        if not stat.S_IMODE(os.fstat(dir_fd).st_mode) & stat.S_IWUSR:
            refused.append(name)
            raise PermissionError(errno.EACCES, "denied", name)  # what a non-root user gets
        return real_unlink(name, dir_fd=dir_fd)

    monkeypatch.setattr(remover.os, "unlink", unlink)
    remove_path(d, mounts=frozenset())
    assert refused == ["f"] and not d.exists()
    assert not hasattr(remover.os, "O_PATH") or remover._HANDLE_FLAGS & remover.os.O_PATH
    monkeypatch.setattr(remover.os, "unlink", real_unlink)
    (tmp_path / "gone").mkdir()
    calls = []

    def rmdir_then_gone(name, *, dir_fd):
        calls.append(name)
        if len(calls) == 1:
            raise PermissionError(errno.EACCES, "denied", name)
        real_rmdir(name, dir_fd=dir_fd)
        raise FileNotFoundError(errno.ENOENT, "gone", name)  # someone else removed it meanwhile

    monkeypatch.setattr(remover.os, "rmdir", rmdir_then_gone)
    acc = remove_path(tmp_path / "gone", mounts=frozenset())
    assert calls == ["gone", "gone"] and acc.removed == 0 and not (tmp_path / "gone").exists()


def test_remove_path_opens_an_unreadable_directory_through_its_inode(tmp_path, monkeypatch):
    d = tmp_path / "e"
    (d / "locked").mkdir(parents=True)
    (d / "locked" / "f").write_text("x")
    os.chmod(d / "locked", 0o000)
    real_open = os.open
    denied = []

    def open_(path, flags, *a, dir_fd=None, **kw):
        # What a non-root user meets: a directory without read permission cannot be opened.
        unreadable = path == "locked" and not os.stat(path, dir_fd=dir_fd).st_mode & stat.S_IRUSR
        if unreadable and not flags & os.O_PATH:
            denied.append(True)
            raise PermissionError(errno.EACCES, "denied", path)
        return real_open(path, flags, *a, dir_fd=dir_fd, **kw)

    monkeypatch.setattr(remover.os, "open", open_)
    remove_path(d, mounts=frozenset())
    assert denied == [True] and not d.exists()
    # Swapped for a link to someone's unreadable directory while being opened: left, untouched.
    (d / "locked").mkdir(parents=True)
    os.chmod(d / "locked", 0o000)
    theirs = tmp_path / "theirs"
    theirs.mkdir(mode=0o000)

    def swap_when_denied(path, flags, *a, dir_fd=None, **kw):
        if path == "locked" and not flags & os.O_PATH and not os.path.islink(d / "locked"):
            os.rmdir(d / "locked")
            (d / "locked").symlink_to(theirs)
            raise PermissionError(errno.EACCES, "denied", path)
        return real_open(path, flags, *a, dir_fd=dir_fd, **kw)

    monkeypatch.setattr(remover.os, "open", swap_when_denied)
    acc = remove_path(d, mounts=frozenset())
    assert [p for p, _ in acc.left] == [str(d / "locked")] and "replaced while deleting" in acc.left[0][1]
    assert stat.S_IMODE(theirs.stat().st_mode) == 0 and os.path.islink(d / "locked")


def test_remove_path_raises_when_a_directory_stays_full_for_no_reason_it_knows(tmp_path, monkeypatch):
    d = tmp_path / "e"
    d.mkdir()

    def full(name, *, dir_fd):
        raise OSError(errno.ENOTEMPTY, "Directory not empty", name)

    monkeypatch.setattr(remover.os, "rmdir", full)
    with pytest.raises(OSError):
        remove_path(d, mounts=frozenset())
    acc = Removal(left=[("x", "a mount point: never crossed")])
    assert remove_path(d, mounts=frozenset(), acc=acc) is acc  # a left mount explains it

    def denied(name, *, dir_fd):
        raise OSError(errno.EIO, "I/O error", name)

    monkeypatch.setattr(remover.os, "rmdir", denied)
    with pytest.raises(OSError):
        remove_path(d, mounts=frozenset(), acc=acc)


def test_remove_path_skips_what_vanishes_meanwhile(tmp_path, monkeypatch):
    d = tmp_path / "e"
    d.mkdir()
    for n in "abc":
        (d / n).write_text(n)
    real_names = remover._names

    def names_then_vanish(fd):
        out = real_names(fd)
        os.unlink(d / "b")
        return out

    monkeypatch.setattr(remover, "_names", names_then_vanish)
    acc = remove_path(d, mounts=frozenset())
    assert not d.exists() and acc.removed == 3  # a, c and the directory


def test_remove_path_takes_a_link_to_a_directory_as_a_link(tmp_path):
    (tmp_path / "target").mkdir()
    (tmp_path / "target" / "f").write_text("keep")
    (tmp_path / "link").symlink_to(tmp_path / "target")
    acc = remove_path(tmp_path / "link", mounts=frozenset())
    assert not os.path.lexists(tmp_path / "link") and (tmp_path / "target" / "f").exists()
    assert acc.left == [] and acc.removed == 1


def test_remove_path_counts_a_file_with_another_link_as_not_freed(tmp_path, monkeypatch):
    (tmp_path / "f").write_bytes(b"z" * 9000)
    os.link(tmp_path / "f", tmp_path / "g")
    acc = remove_path(tmp_path / "f", mounts=frozenset())
    assert (acc.disk, acc.apparent, acc.removed) == (0, 0, 1)
    monkeypatch.chdir(tmp_path)
    acc = remove_path("g", mounts=frozenset())  # relative to the working directory
    assert acc.apparent == 9000 and not (tmp_path / "g").exists()


def test_remove_path_reports_a_top_level_mount_point(tmp_path):
    (tmp_path / "m").mkdir()
    acc = remove_path(tmp_path / "m", mounts=frozenset({str(tmp_path / "m")}))
    assert acc.left == [(str(tmp_path / "m"), "a mount point: never crossed")] and (tmp_path / "m").exists()


def test_remove_path_does_not_count_what_vanished_before_its_unlink(tmp_path, monkeypatch):
    d = tmp_path / "e"
    d.mkdir()
    (d / "a").write_text("a")
    real_unlink = os.unlink

    def someone_else_first(name, *, dir_fd):
        real_unlink(name, dir_fd=dir_fd)
        real_unlink(name, dir_fd=dir_fd)

    monkeypatch.setattr(remover.os, "unlink", someone_else_first)
    acc = remove_path(d, mounts=frozenset())
    assert acc.removed == 1 and not d.exists()  # the directory only


def test_remove_path_leaves_a_directory_swapped_for_a_link_before_it_is_opened(tmp_path, monkeypatch):
    d = tmp_path / "e"
    (d / "sub").mkdir(parents=True)
    (tmp_path / "theirs").mkdir()
    (tmp_path / "theirs" / "f").write_text("keep")
    real_open_dir = remover._open_dir

    def swap(parent, name, st, *rest):
        if name == "sub":
            os.rmdir(d / "sub")
            (d / "sub").symlink_to(tmp_path / "theirs")
        return real_open_dir(parent, name, st, *rest)

    monkeypatch.setattr(remover, "_open_dir", swap)
    acc = remove_path(d, mounts=frozenset())
    assert acc.left == [(str(d / "sub"), "replaced while deleting (Not a directory): not followed")]
    assert (tmp_path / "theirs" / "f").exists()


def test_rules_use_the_buckets_given(tmp_path):
    root = cache(tmp_path)
    only_archive = [b for b in list_buckets(root) if b.dirname == "archive-v0"]
    rules = Rules(root, buckets=only_archive)
    assert rules.guard(root / "archive-v0" / "x") is None
    assert rules.guard(root / "wheels-v8" / "x") == "wheels-v8 is not a bucket uv owns"
    assert rules.guard(root / "archive-v0" / "x" / "deep" / "er") is None


def test_find_references_goes_on_past_what_it_cannot_read(tmp_path, monkeypatch):
    root = cache(tmp_path)
    (root / "archive-v0" / "A").mkdir()
    (root / "aaa-dangling").symlink_to("nowhere")  # sorts first: its stat fails
    (root / "environments-v2" / "bad").mkdir()
    (root / "environments-v2" / "good").mkdir()
    (root / "environments-v2" / "good" / "l").symlink_to("../../archive-v0/A")
    (root / "wheels-v8" / "l").symlink_to(root / "archive-v0" / "A")
    rules = Rules(root)
    listed = []
    real_list_links = safety.list_links

    def list_links(top, **kw):
        listed.append(top)
        links, errors = real_list_links(top, **kw)
        if top.endswith("environments-v2"):  # as a directory root cannot be kept out of
            errors.append((top + "/bad", errno.EACCES))
        return links, errors

    monkeypatch.setattr(safety, "list_links", list_links)
    refs = rules.find_references()
    r = str(rules.root)
    assert refs.links == {f"{r}/archive-v0/A": {f"{r}/environments-v2/good/l", f"{r}/wheels-v8/l"}}
    assert refs.unlisted == [(f"{r}/environments-v2/bad", "Permission denied")]
    assert len(listed) == len(set(listed))  # each directory once
    assert not any(p.endswith(("CACHEDIR.TAG", "aaa-dangling")) for p in listed)
    # What the unlisted directory holds is unknown: every archive entry counts as referenced.
    assert refs.outside(rules, f"{r}/archive-v0/B") == [f"{r}/environments-v2/bad (could not be listed: Permission denied)"]
    assert refs.outside(rules, f"{r}/wheels-v8/x") == []  # nothing links into a wheels entry that matters
    entry = PlanEntry(Kind.ARCHIVE, root / "archive-v0" / "B", (root / "archive-v0" / "B",), "B", ())
    why = references_reason(entry, Look(rules, True, references=refs), set())
    assert why is not None and why.reason.startswith(f"cannot tell what links to {r}/archive-v0/B: {r}/environments-v2/bad could not be listed")


def test_unlisted_directories_keep_every_archive_entry_unless_they_go_too(tmp_path):
    root = cache(tmp_path)
    rules = Rules(root)
    r = str(rules.root)
    refs = References(unlisted=[(f"{r}/environments-v2/x", "Permission denied")])
    a = entry(Kind.ARCHIVE, root / "archive-v0" / "A")
    look = Look(rules, True, references=refs)
    assert references_reason(a, look, set()) == Skipped(
        a.path, Kind.ARCHIVE, f"cannot tell what links to {r}/archive-v0/A: {r}/environments-v2/x could not be listed (Permission denied)")
    # Deleted with the plan, what it holds links to nothing that stays.
    assert references_reason(a, look, {f"{r}/environments-v2"}) is None
    assert refs.outside(rules, a.path, [f"{r}/environments-v2/x"]) == []
    assert refs.unknown([f"{r}/environments-v2/x/deeper"]) == refs.unlisted
    # Two: the first is named, with how many more.
    refs.unlisted.append((f"{r}/wheels-v8/y", "Input/output error"))
    assert references_reason(a, look, set()).reason == (
        f"cannot tell what links to {r}/archive-v0/A: {r}/environments-v2/x could not be listed (Permission denied) (and 1 more)")
    assert refs.outside(rules, a.path) == [f"{r}/environments-v2/x (could not be listed: Permission denied)",
                                           f"{r}/wheels-v8/y (could not be listed: Input/output error)"]
    # Only what is, lies in or holds an archive entry can be referenced.
    assert refs.outside(rules, root / "wheels-v8" / "z") == []
    assert references_reason(entry(Kind.LINK, root / "wheels-v8" / "z"), look, set()) is None
    assert references_reason(entry(Kind.BUCKET, root / "archive-v0"), look, set()).reason.startswith(
        f"cannot tell what links to {r}/archive-v0:")


def test_outside_finds_entries_below_by_their_whole_name(tmp_path):
    """Archive entries under a deleted path are found by bisection of the sorted names: a sibling
    whose name merely starts the same (A, AB) is not below A, and an entry referenced after a
    first question is still found."""
    root = cache(tmp_path)
    rules = Rules(root)
    r = str(rules.root)
    refs = References()
    refs.add(f"{r}/archive-v0/AB", f"{r}/wheels-v8/ab")
    assert refs.outside(rules, root / "archive-v0" / "A") == []
    assert refs.outside(rules, root / "archive-v0") == [f"{r}/wheels-v8/ab"]
    refs.add(f"{r}/archive-v0/A", f"{r}/wheels-v8/a")  # a new entry after the names were sorted
    assert refs.outside(rules, root / "archive-v0") == [f"{r}/wheels-v8/a", f"{r}/wheels-v8/ab"]
    assert refs.outside(rules, root / "archive-v0" / "A") == [f"{r}/wheels-v8/a"]
    refs.add(f"{r}/archive-v0/A", f"{r}/wheels-v8/a2")  # a known entry: the sorted names still hold
    assert refs.outside(rules, root / "archive-v0") == [f"{r}/wheels-v8/a", f"{r}/wheels-v8/a2", f"{r}/wheels-v8/ab"]


def test_find_references_hands_should_stop_to_the_walk(tmp_path):
    """Asked only by the link lister (not between buckets), a stop still ends the walk."""
    root = cache(tmp_path)
    deep = root / "archive-v0" / "D"
    for i in range(100):
        deep = deep / f"d{i}"
    deep.mkdir(parents=True)
    from_walker = lambda: sys._getframe(1).f_code.co_name in ("list_links", "_py_list_links")  # noqa: E731
    with pytest.raises(ScanCancelled):
        Rules(root).find_references(should_stop=from_walker)


@pytest.mark.parametrize("target, named", [
    ("/old/cache/archive-v0/X", "archive-v0/X"),
    ("/old/cache/archive-v0/X/lib/python3.12/site-packages/pkg", "archive-v0/X"),
    ("/old//cache/./archive-v1/Y/", "archive-v1/Y"),
    ("/a/archive-v0/b/archive-v2/Z/f", "archive-v2/Z"),  # the last archive bucket on the way
    ("/old/cache/archive-v0/./X/f", "archive-v0/X"),
    ("/old/cache/archive-v0//X", "archive-v0/X"),
    ("/archive-v0/X", "archive-v0/X"),  # a cache that was at the root of a disk
    ("/old/cache/archive-v0/..", None),
    ("/old/cache/archive-v0", None),
    ("/old/cache/archive-vX/Y", None),
    ("/old/cache/my-archive-v0/Y", None),
    ("../../archive-v0/X", None),  # relative: resolved where it sits, not by name
    ("archive-v0/X", None),
])
def test_an_absolute_link_of_a_moved_cache_names_the_entry_of_the_same_name_here(tmp_path, target, named):
    """uv 0.10 and older wrote absolute links: copied or moved, the cache's links name the old place."""
    root = cache(tmp_path)
    r = str(Rules(root).root)
    assert safety._archive_entry_named(r, target) == (f"{r}/{named}" if named else None)
    assert safety._archive_entry_named(r, f"{r}/archive-v0/X") is None  # inside this root: read as it is


def test_find_references_counts_a_moved_cache_s_absolute_links_for_the_entry_here(tmp_path):
    root = cache(tmp_path)
    (root / "archive-v0" / "X").mkdir()
    (root / "wheels-v8" / "x").symlink_to("/where/it/was/archive-v0/X")
    rules = Rules(root)
    r = str(rules.root)
    assert rules.find_references().links == {f"{r}/archive-v0/X": {f"{r}/wheels-v8/x"}}


def test_find_references_reads_a_directory_reached_twice_once(tmp_path, monkeypatch):
    root = cache(tmp_path)
    (root / "wheels-v9").symlink_to(root / "wheels-v8")
    rules = Rules(root)
    listed = []
    real_list_links = safety.list_links
    monkeypatch.setattr(safety, "list_links", lambda top, **kw: listed.append(top) or real_list_links(top, **kw))
    rules.find_references()
    assert sorted(listed) == sorted(str(rules.root / n) for n in ("archive-v0", "environments-v2", "wheels-v8"))


def test_references_by_absolute_links_to_archive_level_links_and_moved_buckets(tmp_path):
    root = cache(tmp_path)
    (root / "archive-v0" / "Chain").symlink_to(tmp_path)
    (root / "environments-v2" / "abs").symlink_to(root / "archive-v0" / "Chain")
    (tmp_path / "moved").mkdir()
    (tmp_path / "moved" / "M").mkdir()
    (root / "archive-v3").symlink_to(tmp_path / "moved")
    (root / "environments-v2" / "direct").symlink_to(tmp_path / "moved" / "M")
    rules = Rules(root)
    refs = rules.find_references()
    r = str(rules.root)
    assert refs.links == {f"{r}/archive-v0/Chain": {f"{r}/environments-v2/abs"},
                          str(tmp_path / "moved" / "M"): {f"{r}/environments-v2/direct"}}


def test_references_reason_looks_at_every_path_of_an_entry(tmp_path):
    root = cache(tmp_path)
    rules = Rules(root)
    r = str(rules.root)
    look = Look(rules, True, references=References())
    look.references.add(f"{r}/archive-v0/A", f"{r}/wheels-v8/one")
    look.references.add(f"{r}/archive-v0/A", f"{r}/wheels-v8/two")
    env = root / "environments-v2" / "g" / "link"
    e = entry(Kind.CACHED_ENV, env, env, root / "environments-v2" / "g" / "link.lock", root / "archive-v0" / "A")
    assert references_reason(e, look, set()) == Skipped(
        env, Kind.CACHED_ENV, f"referenced: {r}/wheels-v8/one links to {r}/archive-v0/A (and 1 more)")


def test_vet_passes_cancellation_to_the_walk(tmp_path):
    root = cache(tmp_path)
    (root / "archive-v0" / "A" / "sub").mkdir(parents=True)
    with pytest.raises(ScanCancelled):
        vet([entry(Kind.ARCHIVE, root / "archive-v0" / "A")], Look(Rules(root), True), should_stop=lambda: True)


def test_vet_counts_hardlinks_only_among_what_is_still_planned(tmp_path):
    root = cache(tmp_path)
    av = root / "archive-v0"
    for n in ("X", "Y"):
        (av / n).mkdir()
    (av / "X" / "f").write_bytes(b"x" * 5000)
    os.link(av / "X" / "f", av / "Y" / "f")  # X and Y share a file, nothing else does
    (root / "wheels-v8" / "x").symlink_to("../archive-v0/X")  # X stays: something links to it
    kept, skipped, freed, groups = vet([entry(Kind.ARCHIVE, av / "X"), entry(Kind.ARCHIVE, av / "Y")], Look(Rules(root), True))
    assert kept == [] and groups == []
    assert [s.path.name for s in skipped] == ["X", "Y"] and "hardlinks 1 of its files" in skipped[1].reason


def test_references_reason_consults_references_only_for_what_can_be_referenced(tmp_path, monkeypatch):
    root = cache(tmp_path)
    rules = Rules(root)
    look = Look(rules, True, references=References())
    asked = []
    real_outside = References.outside
    monkeypatch.setattr(References, "outside", lambda self, *a: asked.append(a[1]) or real_outside(self, *a))
    link = root / "environments-v2" / "g" / "l"
    references_reason(entry(Kind.CACHED_ENV, link, link, root / "wheels-v8" / "x", root / "archive-v0" / "A"), look, set())
    assert asked == [f"{rules.root}/archive-v0/A"]  # one scan of the references, for the archive entry


def test_in_use_resolves_entries_as_realpath_does(tmp_path):
    """processes_using resolves each entry's parent once: every spelling still gives realpath's."""
    from envtui.core.prune.inuse import _realpath

    (tmp_path / "real" / "bucket" / "entry").mkdir(parents=True)
    (tmp_path / "real" / "bucket" / "target").mkdir()
    (tmp_path / "real" / "bucket" / "link").symlink_to("target")
    (tmp_path / "real" / "bucket" / "chain").symlink_to("link")
    (tmp_path / "real" / "bucket" / "dangling").symlink_to("nowhere")
    (tmp_path / "via").symlink_to(tmp_path / "real")
    from envtui.core.prune.paths import ParentDirs

    parents = ParentDirs()
    for base in (tmp_path / "real" / "bucket", tmp_path / "via" / "bucket"):
        for name in ("entry", "link", "chain", "dangling", "missing"):
            path = str(base / name)
            assert _realpath(path, parents) == os.path.realpath(path), path
    assert _realpath("/", parents) == "/"
    assert len(parents) == 2  # one per parent directory spelled


def test_rules_resolve_as_resolve_path_does(tmp_path):
    """Rules.resolve remembers each parent's resolution: every spelling still gives resolve_path's."""
    root = cache(tmp_path)
    (root / "archive-v0" / "A" / "sub").mkdir(parents=True)
    (root / "archive-v0" / "L").symlink_to("A")
    (tmp_path / "via").symlink_to(root)
    rules = Rules(root)
    spelled = [root / "archive-v0" / "A", root / "archive-v0" / "L", root / "archive-v0" / "L" / "sub",
               tmp_path / "via" / "archive-v0" / "L" / "sub" / "..", f"{tmp_path}/via/archive-v0/./A/",
               tmp_path / "via" / "archive-v0" / "missing", "/", f"{root}/archive-v0/A/sub/."]
    for _ in range(2):  # the second time from what was remembered
        for path in spelled:
            assert rules.resolve(path) == resolve_path(path), path
    assert len(rules._parents) == 4
