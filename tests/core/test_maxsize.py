"""``--max-size`` and ``--older-than`` over caches made by hand (envtui.core.prune.maxsize, and the
planner's choices through ``plan_prune``): each entry taken exactly while the cache is over the
target, never one more or one less; ages from the later of the access and modification times, in
days; any spelling of the root measured as the cache it names. Fast: the mutation run's tests."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

import pytest

from envtui.core.disk.walk import disk_usage
from envtui.core.prune import Policies, plan_prune
from envtui.core.prune import maxsize
from envtui.core.prune.maxsize import Holder, SizeTarget, describe, size_target
from envtui.core.prune.records import Plan
from tests.core.handmade import _no_process_scan  # noqa: F401 (an autouse fixture)
from envtui.core.prune import safety
from tests.core.handmade import (
    BLOCK,
    DAY,
    OLD,
    UsedBy,
    cached_env,
    make_cache,
    scan,
    script_env,
    unpacked,
    wheel_link,
)

NOW = 1_700_000_000


@pytest.fixture(autouse=True)
def _empty_working_directory(tmp_path_factory, monkeypatch):
    monkeypatch.chdir(tmp_path_factory.mktemp("cwd"))


def du(path: Path) -> int:
    """Disk bytes under ``path`` (itself included), each inode once, links not followed."""
    seen, total = set(), 0
    for p in [path, *path.rglob("*")] if path.is_dir() and not path.is_symlink() else [path]:
        st = os.lstat(p)
        if (st.st_dev, st.st_ino) not in seen:
            seen.add((st.st_dev, st.st_ino))
            total += st.st_blocks * 512
    return total


def names(plan) -> list[str]:
    return [Path(e.path).name for e in plan.entries]


def plan(root: Path, exclusive: bool = True, **policies):
    return plan_prune(scan(root), Policies(**policies), exclusive=exclusive, now=NOW)


_HELD: list[int] = []


def hold(env: Path) -> Path:
    """Hold the script environment's own lock (as a uv writing it would): every plan keeps it."""
    (env / ".lock").write_bytes(b"")
    fd = os.open(env / ".lock", os.O_RDWR)
    fcntl.flock(fd, fcntl.LOCK_EX)
    _HELD.append(fd)
    return env


@pytest.fixture(autouse=True)
def _release_locks():
    yield
    while _HELD:
        os.close(_HELD.pop())


def page(path: Path, when: float, size: int = 1) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"p" * size)
    os.utime(path, (when, when))
    return path


def lru_cache(tmp_path: Path) -> tuple[Path, list[Path]]:
    """Three things ``--max-size`` may take once the environments are not enough, oldest first: an
    unpacked wheel nothing links to, an index page, a flat index listing; and a linked wheel and
    a page of a newer uv, which it never takes."""
    root = make_cache(tmp_path / "cache", "wheels-v8", "simple-v28", "simple-v29", "flat-index-v7")
    first = unpacked(root, "Stray1", "stray", "1.0", size=3 * BLOCK, when=OLD)
    second = page(root / "simple-v28" / "pypi" / "tabulate.rkyv", OLD + DAY, size=2 * BLOCK)
    third = page(root / "flat-index-v7" / "html" / "0123456789abcdef.msgpack", OLD + 2 * DAY, size=5 * BLOCK)
    unpacked(root, "Linked", "linked", "1.0", when=OLD - DAY)
    wheel_link(root, "wheels-v8", "pypi", "linked", "1.0-py3-none-any", "Linked")
    page(root / "simple-v29" / "pypi" / "newer.rkyv", OLD - 2 * DAY)
    page(root / "simple-v28" / "pypi" / "tabulate.lock", OLD - 3 * DAY)  # no page: a lock file
    return root, [first, second, third]


def test_max_size_takes_least_recently_used_entries_exactly_until_the_cache_fits(tmp_path):
    root, (a, b, c) = lru_cache(tmp_path)
    usage = du(root)
    fa, fb, fc = du(a), du(b), du(c)
    assert plan(root, max_size=usage).entries == ()
    assert plan(root, max_size=usage).cache_bytes == usage
    assert names(plan(root, max_size=usage - 1)) == ["Stray1"]
    assert names(plan(root, max_size=usage - fa)) == ["Stray1"]
    assert sorted(names(plan(root, max_size=usage - fa - 1))) == ["Stray1", "tabulate.rkyv"]
    assert sorted(names(plan(root, max_size=usage - fa - fb))) == ["Stray1", "tabulate.rkyv"]
    every = plan(root, max_size=usage - fa - fb - fc)
    assert sorted(names(every)) == ["0123456789abcdef.msgpack", "Stray1", "tabulate.rkyv"]
    assert every.size_target.reached and every.size_target.after == usage - fa - fb - fc
    assert every.bytes_freed == fa + fb + fc
    assert sorted(names(plan(root, max_size=1))) == sorted(names(every))


def test_the_reason_says_the_target(tmp_path):
    root, _ = lru_cache(tmp_path)
    (entry,) = plan(root, max_size=du(root) - 1).entries
    assert entry.reasons == (f"max-size {du(root) - 1} bytes: least recently used, nothing needs it",)


def test_index_pages_are_those_of_uv_s_own_and_older_page_buckets(tmp_path):
    root = make_cache(tmp_path / "cache", "simple-v15", "simple-v28", "simple-v29", "flat-index-v7", "foo-v1",
                      "wheels-v8")
    page(root / "simple-v15" / "pypi" / "old.rkyv", OLD)
    page(root / "simple-v28" / "index" / "1ab151bbfd4d315a" / "idx.rkyv", OLD)
    page(root / "flat-index-v7" / "html" / "listing.msgpack", OLD)
    page(root / "simple-v29" / "pypi" / "newer.rkyv", OLD)
    page(root / "foo-v1" / "pypi" / "foreign.rkyv", OLD)
    page(root / "wheels-v8" / "pypi" / "x.msgpack", OLD)
    page(root / "simple-v28" / "pypi" / "x.json", OLD)
    p = plan(root, max_size=1)
    assert sorted((e.label, e.kind, e.needs_exclusive, e.paths == (e.path,), e.uses == (e.path,)) for e in p.entries) == [
        ("index page idx (index/1ab151bbfd4d315a)", "cache entry", True, True, True),
        ("index page listing (html)", "cache entry", True, True, True),
        ("index page old (pypi)", "cache entry", True, True, True),
    ]


def test_without_uv_s_lock_max_size_takes_no_page_and_no_archive_entry(tmp_path):
    root, _ = lru_cache(tmp_path)
    p = plan(root, exclusive=False, max_size=1)
    assert p.entries == ()
    assert not p.size_target.reached


def test_an_entry_whose_age_cannot_be_read_is_not_taken(tmp_path, monkeypatch):
    root, (a, b, c) = lru_cache(tmp_path)
    real_lstat = os.lstat

    def lstat(path, *args, **kw):
        if os.fspath(path) == str(b):
            raise PermissionError(13, "Permission denied", str(b))
        return real_lstat(path, *args, **kw)

    monkeypatch.setattr(maxsize.os, "lstat", lstat)
    assert maxsize._mtime(b) is None and maxsize._mtime(a) == OLD
    assert maxsize._mtime(tmp_path / "gone") is None
    monkeypatch.undo()
    monkeypatch.setattr(maxsize, "_mtime", lambda p: None if p == b else os.lstat(p).st_mtime)
    usage = du(root)
    assert sorted(names(plan(root, max_size=usage - du(a) - 1))) == ["0123456789abcdef.msgpack", "Stray1"]


def test_an_unpacked_wheel_a_project_venv_hardlinks_is_passed_over_and_counted_right(tmp_path):
    root, (a, b, c) = lru_cache(tmp_path)
    (tmp_path / "project" / ".venv").mkdir(parents=True)
    os.link(a / "stray" / "__init__.py", tmp_path / "project" / ".venv" / "stray.py")
    usage = du(root)
    fb = du(b)
    # The oldest (a) is kept while a project's venv outside the cache hardlinks its file: the
    # page (b) is what goes, and what a would have freed is not counted.
    assert names(plan(root, max_size=usage - fb)) == ["tabulate.rkyv"]
    assert sorted(names(plan(root, max_size=usage - fb - 1))) == ["0123456789abcdef.msgpack", "tabulate.rkyv"]


def test_environments_go_least_recently_used_first_then_pages(tmp_path):
    root, (a, b, c) = lru_cache(tmp_path)
    old = script_env(root, tmp_path / "work" / "old.py", used=OLD - 10 * DAY, built=OLD - 10 * DAY, size=6 * BLOCK)
    new = script_env(root, tmp_path / "work" / "new.py", used=NOW - DAY, built=NOW - DAY, size=6 * BLOCK)
    usage = du(root)
    assert names(plan(root, max_size=usage - du(old))) == [old.name]
    assert sorted(names(plan(root, max_size=usage - du(old) - 1))) == sorted([old.name, new.name])
    both = usage - du(old) - du(new)
    assert sorted(names(plan(root, max_size=both))) == sorted([old.name, new.name])
    assert sorted(names(plan(root, max_size=both - 1))) == sorted([old.name, new.name, "Stray1"])


# -- ages -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("used,built,older_than,taken", [
    (NOW, NOW - 40 * DAY, 30, False),            # built long ago, used today: kept
    (NOW - 40 * DAY, NOW, 30, False),            # used long ago, rebuilt today: kept (decided by last_used)
    (NOW - 31 * DAY, NOW - 31 * DAY, 30, True),
    (NOW - 29 * DAY, NOW - 29 * DAY, 30, False),
    (NOW - 30 * DAY, NOW - 30 * DAY, 30, False),  # exactly that old: not older
    (NOW - 30 * DAY - 1, NOW - 30 * DAY - 1, 30, True),
    (NOW - 2 * DAY, NOW - 2 * DAY, 1, True),      # days, not hours: two days is older than one day
    (NOW - 2 * DAY, NOW - 2 * DAY, 3, False),     # and younger than three days (72 hours)
    (NOW - 2 * DAY, NOW - 2 * DAY, 0.5, True),
])
def test_older_than_counts_days_from_the_later_of_use_and_rebuild(tmp_path, used, built, older_than, taken):
    root = make_cache(tmp_path / "cache", "environments-v2")
    env = script_env(root, tmp_path / "work" / "s.py", used=used, built=built)
    p = plan(root, older_than_days=older_than)
    assert names(p) == ([env.name] if taken else [])
    if taken:
        assert p.entries[0].reasons == (f"older than {older_than:g} days (last used {(NOW - max(used, built)) / DAY:.1f} days ago)",)


def test_older_than_reads_a_cached_environment_s_times_from_its_target(tmp_path):
    root = make_cache(tmp_path / "cache", "environments-v2")
    old = cached_env(root, "8b0cbae4892decd7", "80437497dd3db7a4", "Old", used=NOW - 40 * DAY, built=NOW - 40 * DAY)
    cached_env(root, "8b0cbae4892decd7", "e11c95488aeebbd8", "Used", used=NOW, built=NOW - 40 * DAY)
    p = plan(root, older_than_days=30)
    assert [e.path for e in p.entries] == [old]
    assert [x.name for x in p.entries[0].paths] == ["80437497dd3db7a4", "80437497dd3db7a4.lock", "Old"]


# -- the cache reached through another spelling of its root ------------------------------------------------


@pytest.mark.parametrize("spelling", ["symlink", "dotdot", "symlink to a symlink"])
def test_max_size_measures_the_cache_however_its_root_is_spelled(tmp_path, spelling):
    root, (a, b, c) = lru_cache(tmp_path)
    usage = du(root)
    if spelling == "symlink":
        (tmp_path / "alias").symlink_to(root)
        spelled = tmp_path / "alias"
    elif spelling == "dotdot":
        spelled = root / "simple-v28" / ".." / ".." / "cache"
    else:
        (tmp_path / "alias").symlink_to(root)
        (tmp_path / "alias2").symlink_to("alias")
        spelled = tmp_path / "alias2"
    p = plan(spelled, max_size=usage - du(a))
    assert p.cache_bytes == usage == disk_usage(root)
    assert names(p) == ["Stray1"]
    missed = plan(spelled, max_size=1)
    t = missed.size_target
    assert not t.reached and t.before == usage and t.after == usage - missed.bytes_freed
    # What holds the rest adds up to what is left, the planned paths counted nowhere.
    assert sum(h.bytes for h in t.held) == t.after
    assert "simple-v28" not in {h.name for h in t.held if "index pages" not in h.why}


# -- what holds the rest ------------------------------------------------------------------------------------


def test_holders_name_each_top_level_entry_and_why_its_bytes_stay(tmp_path):
    root = make_cache(tmp_path / "cache", "wheels-v8", "environments-v2", "interpreter-v5/x86", "builds-v0",
                      "git-v2", "my-vault", "python-v1")
    (root / ".gitignore").write_bytes(b"*")
    (root / ".lock").write_bytes(b"")
    unpacked(root, "Linked", "linked", "1.0", size=8 * BLOCK)
    wheel_link(root, "wheels-v8", "pypi", "linked", "1.0-py3-none-any", "Linked")
    kept = hold(script_env(root, tmp_path / "work" / "kept.py", used=NOW, built=NOW, size=4 * BLOCK))
    (root / "interpreter-v5" / "x86" / "k.msgpack").write_bytes(b"i" * BLOCK)
    (root / "my-vault" / "f").write_bytes(b"m" * 3 * BLOCK)
    (root / "python-v1" / "f").write_bytes(b"p" * BLOCK)
    (root / "builds-v0" / "empty").mkdir()
    p = plan(root, max_size=1)
    assert p.entries == ()
    t = p.size_target
    held = {h.name: h for h in t.held}
    assert held["archive-v0"].why == maxsize._WHY["archive"] and held["archive-v0"].bytes == du(root / "archive-v0")
    assert held["environments-v2"].why == maxsize._WHY["environments"]
    assert held["wheels-v8"].why == maxsize._WHY["wheels"]
    assert held["interpreter-v5"].why == maxsize._WHY["interpreter"]
    assert held["python-v1"].why == maxsize._WHY["python"]
    assert held["builds-v0"].why == "its directories (they go with the whole bucket)"
    assert held["git-v2"].why == "its directories (they go with the whole bucket)"
    assert held["my-vault"].why == "not deletable by envtui"
    assert held["CACHEDIR.TAG"].why == held[".gitignore"].why == "files uv keeps at the root"
    assert ".lock" not in held  # an empty file holds no block
    assert t.held[-1] == Holder(".", os.lstat(root).st_blocks * 512, "the cache directory itself")
    body = t.held[:-1]
    assert list(body) == sorted(body, key=lambda h: (-h.bytes, h.name))
    assert sum(h.bytes for h in t.held) == t.after == du(root)
    assert kept.exists()


def test_holders_skip_what_the_plan_deletes_and_count_a_shared_inode_once(tmp_path):
    root = make_cache(tmp_path / "cache", "environments-v2", "wheels-v8")
    unpacked(root, "Stray", "stray", "1.0", size=6 * BLOCK, when=OLD)
    linked = unpacked(root, "Linked", "linked", "1.0", size=5 * BLOCK)
    wheel_link(root, "wheels-v8", "pypi", "linked", "1.0-py3-none-any", "Linked")
    env = hold(script_env(root, tmp_path / "work" / "kept.py", used=NOW, built=NOW))
    os.link(linked / "linked" / "__init__.py", env / "lib" / "linked.py")
    p = plan(root, max_size=1)
    assert names(p) == ["Stray"]
    held = {h.name: h.bytes for h in p.size_target.held}
    shared = os.lstat(env / "lib" / "linked.py").st_blocks * 512
    assert held["archive-v0"] == du(root / "archive-v0") - du(root / "archive-v0" / "Stray")
    assert held["environments-v2"] == du(root / "environments-v2") - shared  # counted in archive-v0, first
    assert sum(held.values()) == p.size_target.after


def test_a_whole_bucket_the_plan_deletes_holds_nothing(tmp_path):
    root = make_cache(tmp_path / "cache", "flat-index-v7")
    page(root / "flat-index-v7" / "html" / "a.msgpack", OLD, size=BLOCK)
    (root / "archive-v0" / "big").write_bytes(b"b" * 8 * BLOCK)
    inv = scan(root)
    from envtui.core.prune import plan_entries
    from envtui.core.prune.records import Kind, PlanEntry

    bucket = root / "flat-index-v7"
    p = plan_entries(inv, [PlanEntry(Kind.BUCKET, bucket, (bucket,), "flat", ("marked",), needs_exclusive=True)],
                     exclusive=True)
    assert names(p) == ["flat-index-v7"]
    t = size_target(p, 1, du(root))
    assert "flat-index-v7" not in {h.name for h in t.held}
    assert sum(h.bytes for h in t.held) == t.after


def test_size_target_walks_only_when_the_target_is_missed(tmp_path, monkeypatch):
    root = make_cache(tmp_path / "cache")
    p = Plan(Path(os.path.realpath(root)), (), (), 100, 100, True, ())
    monkeypatch.setattr(maxsize, "_holders", lambda plan, stop: pytest.fail("walked"))
    t = size_target(p, 900, 1000)
    assert t == SizeTarget(900, 1000, 900, ()) and t.reached
    monkeypatch.setattr(maxsize, "_holders", lambda plan, stop: (Holder("x", 1, "y"),))
    assert size_target(p, 899, 1000).held == (Holder("x", 1, "y"),)


def test_size_target_hands_should_stop_to_the_walk(tmp_path):
    from envtui.core.errors import ScanCancelled

    root, _ = lru_cache(tmp_path)
    p = plan(root, max_size=10**15)
    with pytest.raises(ScanCancelled):
        size_target(p, 1, du(root), should_stop=lambda: True)


def test_describe_says_where_the_cache_goes_and_what_holds_the_rest():
    size = lambda n: f"{n}B"  # noqa: E731
    assert describe(SizeTarget(10, 30, 10), size) == ["max-size 10B: the cache goes from 30B to 10B: the target is reached."]
    assert SizeTarget(10, 30, 10).reached and not SizeTarget(10, 30, 11).reached
    lines = describe(SizeTarget(10, 30, 12, (Holder("archive-v0", 7, "why a"), Holder(".", 5, "root"))), size)
    assert lines == [
        "max-size 10B: the cache goes from 30B to 12B: 2B over the target, which this plan cannot reach. What holds the rest:",
        "  archive-v0                  7B  why a",
        "  .                           5B  root",
    ]


# -- what the first mutation run let through ------------------------------------------------------------------


def test_entries_of_the_same_age_go_in_path_order(tmp_path):
    root = make_cache(tmp_path / "cache", "simple-v28")
    b = page(root / "simple-v28" / "pypi" / "b.rkyv", OLD, size=BLOCK)
    a = page(root / "simple-v28" / "pypi" / "a.rkyv", OLD, size=BLOCK)
    assert names(plan(root, max_size=du(root) - 1)) == ["a.rkyv"]
    assert maxsize._by_age([]) == []
    assert b.exists() and a.exists()


def test_an_entry_a_rule_refuses_is_passed_over_for_the_next(tmp_path, monkeypatch):
    root, (a, b, c) = lru_cache(tmp_path)
    monkeypatch.setattr(safety, "ProcessPaths", UsedBy(a))
    p = plan(root, max_size=du(root) - 1)
    assert names(p) == ["tabulate.rkyv"] and p.skipped == ()


def test_without_uv_s_lock_what_needs_it_is_passed_over_not_listed(tmp_path):
    root, _ = lru_cache(tmp_path)
    p = plan(root, exclusive=False, max_size=1)
    assert p.entries == () and p.skipped == ()


def test_nothing_is_looked_for_when_the_cache_fits_already(tmp_path, monkeypatch):
    root, _ = lru_cache(tmp_path)
    monkeypatch.setattr(maxsize, "_index_pages", lambda pl: pytest.fail("looked for pages"))
    assert plan(root, max_size=du(root)).entries == ()
    env = script_env(root, tmp_path / "work" / "s.py", used=OLD, built=OLD, size=8 * BLOCK)
    # The environment alone brings the cache under the target: no page is looked for either.
    assert names(plan(root, max_size=du(root) - 1)) == [env.name]


def test_what_the_hardlink_rule_keeps_is_counted_as_freeing_nothing(tmp_path):
    """Oldest first: a page (a), two unpacked wheels a project's venv hardlinks (k1, k2: each with
    more bytes of its own than the page c), then pages c and d."""
    root = make_cache(tmp_path / "cache", "simple-v28")
    a = page(root / "simple-v28" / "pypi" / "a.rkyv", OLD, size=BLOCK)
    project = tmp_path / "project" / ".venv"
    project.mkdir(parents=True)
    for i, ident in enumerate(("K1", "K2")):
        k = unpacked(root, ident, f"k{i}", "1.0", size=BLOCK, when=OLD + (i + 1) * DAY)
        (k / "k_own.py").write_bytes(os.urandom(6 * BLOCK))
        os.link(k / f"k{i}" / "__init__.py", project / f"k{i}.py")
        os.utime(k, (OLD + (i + 1) * DAY,) * 2)
    c = page(root / "simple-v28" / "pypi" / "c.rkyv", OLD + 5 * DAY, size=2 * BLOCK)
    page(root / "simple-v28" / "pypi" / "d.rkyv", OLD + 6 * DAY, size=BLOCK)
    usage = du(root)
    assert sorted(names(plan(root, max_size=usage - du(a) - du(c)))) == ["a.rkyv", "c.rkyv"]


def test_holders_go_on_past_a_whole_bucket_the_plan_deletes(tmp_path):
    root = make_cache(tmp_path / "cache", "flat-index-v7", "wheels-v8/pypi")
    page(root / "flat-index-v7" / "html" / "a.msgpack", OLD, size=BLOCK)
    (root / "wheels-v8" / "pypi" / "w.msgpack").write_bytes(b"w" * BLOCK)
    from envtui.core.prune import plan_entries
    from envtui.core.prune.records import Kind, PlanEntry

    bucket = root / "flat-index-v7"
    p = plan_entries(scan(root), [PlanEntry(Kind.BUCKET, bucket, (bucket,), "flat", ("marked",), needs_exclusive=True)],
                     exclusive=True)
    held = {h.name for h in size_target(p, 1, du(root)).held}
    assert "wheels-v8" in held and "flat-index-v7" not in held


def test_a_bucket_holding_files_is_told_from_one_holding_directories_only(tmp_path):
    root = make_cache(tmp_path / "cache", "builds-v0/a", "builds-v0/z", "git-v2/only/dirs")
    (root / "builds-v0" / "a" / "f").write_bytes(b"f" * BLOCK)
    (root / "notes.txt").write_bytes(b"n" * BLOCK)
    p = plan(root, max_size=1)
    held = {h.name: h.why for h in p.size_target.held}
    assert held["builds-v0"] == maxsize._WHY["builds"]
    assert held["git-v2"] == "its directories (they go with the whole bucket)"
    assert held["notes.txt"] == "not deletable by envtui"


def test_max_size_hands_cancellation_to_the_measure_of_the_cache(tmp_path, monkeypatch):
    # The native walk asks at most every 50 ms: what it is handed is checked instead.
    from envtui.core.prune import references

    root, _ = lru_cache(tmp_path)
    asked = []
    monkeypatch.setattr(references, "disk_usage", lambda path, should_stop=None: asked.append((path, should_stop)) or 7)
    stop = lambda: False  # noqa: E731
    p = plan_prune(scan(root), Policies(max_size=10), exclusive=True, should_stop=stop)
    assert asked == [(Path(os.path.realpath(root)), stop)] and p.cache_bytes == 7
