"""The planner's own rules (envtui.core.prune.planner), over caches made by hand: what each policy
takes and why it says so, how an environment becomes an entry (its paths in order, its own lock,
what a process must not be using), sizes parsed exactly, ages from the later of use and rebuild
in days, ``--max-size`` stopping exactly when the cache fits. Fast: the mutation run's tests."""

from __future__ import annotations

import fcntl
import os
import time
from dataclasses import replace
from pathlib import Path

import pytest

from envtui.core.environments import CORRUPT, DANGLING, IN_FLIGHT, OK, SCRIPT, Environment
from envtui.core.interpreters import InterpreterEntry
from envtui.core.locks import ProcessInfo, try_lock_root
from envtui.core.prune import Kind, PlanEntry, Policies, plan_entries, plan_prune, plan_selection, safety
from envtui.core.prune import planner
from envtui.core.prune.planner import MAX_SIZE, environment_entry, last_used, parse_size
from envtui.core.prune.records import CACHE
from envtui.core.prune.safety import LinkListing, Rules
from tests.core.handmade import _no_process_scan  # noqa: F401 (an autouse fixture)
from tests.core.handmade import BLOCK, DAY, OLD, UsedBy, cached_env, make_cache, pyvenv, scan, script_env, unpacked

NOW = 1_700_000_000.0


@pytest.fixture(autouse=True)
def _empty_working_directory(tmp_path_factory, monkeypatch):
    monkeypatch.chdir(tmp_path_factory.mktemp("cwd"))


_HELD: list[int] = []


def hold(lock: Path) -> Path:
    """Hold ``lock`` exclusively, as a uv writing its entry does (released after the test)."""
    lock.write_bytes(b"")
    fd = os.open(lock, os.O_RDWR)
    fcntl.flock(fd, fcntl.LOCK_EX)
    _HELD.append(fd)
    return lock


@pytest.fixture(autouse=True)
def _release_locks():
    yield
    while _HELD:
        os.close(_HELD.pop())


def du(*paths: Path) -> int:
    """Disk bytes under ``paths`` (themselves included), each inode once, links not followed."""
    seen, total = set(), 0
    for path in paths:
        for p in [path, *path.rglob("*")] if path.is_dir() and not path.is_symlink() else [path]:
            st = os.lstat(p)
            if (st.st_dev, st.st_ino) not in seen:
                seen.add((st.st_dev, st.st_ino))
                total += st.st_blocks * 512
    return total


def plan(root: Path, scripts=(), exclusive: bool = True, **policies):
    return plan_prune(scan(root, scripts), Policies(**policies), exclusive=exclusive, now=NOW,
                      known_scripts=[str(s) for s in scripts])


def names(p) -> list[str]:
    return [e.path.name for e in p.entries]


def env(**kw) -> Environment:
    fields = dict(kind=SCRIPT, path=Path("/c/environments-v2/s-0123456789abcdef"), key="s-0123456789abcdef", status=OK)
    fields.update(kw)
    return Environment(**fields)


# -- sizes -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("text,size", [
    ("0", 0), ("123", 123), (" 7 ", 7), ("1k", 1000), ("1K", 1000), ("1kB", 1000), ("1KB", 1000),
    ("1KiB", 1024), ("1kib", 1024), ("1Ki", 1024), ("1M", 10**6), ("1MiB", 2**20), ("2G", 2 * 10**9),
    ("2GiB", 2 * 2**30), ("1T", 10**12), ("1TiB", 2**40), ("1P", 10**15), ("1PiB", 2**50), ("1E", 10**18),
    ("1EiB", 2**60), ("1.5GB", 1_500_000_000), ("1.5GiB", 3 * 2**29), ("0.001k", 1), ("10 kB", 10_000),
    ("1b", 1), ("1B", 1), ("2.5", 2),
    # Exact: a float would round 2**53 + 1 and anything near the limit.
    (str(2**53 + 1), 2**53 + 1), (str(MAX_SIZE), MAX_SIZE), ("7.999999999999999999EiB", 9223372036854775806),
])
def test_sizes_are_parsed_exactly_in_humanize_s_units(text, size):
    assert parse_size(text) == size


@pytest.mark.parametrize("text", ["", "G", "lots", "-1", "1.", ".5G", "1e3", "1 G B", "1GG", "1iB x", "1Z",
                                  "\u0661", "1\u0660k", "1,5G", "0x10"])
def test_what_is_no_size_is_refused_naming_it(text):
    with pytest.raises(ValueError) as err:
        parse_size(text)
    assert str(err.value) == f"not a size: {text!r} (e.g. 500M, 5G, 2GiB)"


@pytest.mark.parametrize("text", [str(MAX_SIZE + 1), "8EiB", "9.3E", "10E", str(10**30)])
def test_a_size_beyond_what_st_size_can_say_is_refused(text):
    assert MAX_SIZE == 9223372036854775807
    with pytest.raises(ValueError) as err:
        parse_size(text)
    assert str(err.value) == f"not a size: {text!r} is more than any filesystem holds (9223372036854775807 bytes)"


# -- ages --------------------------------------------------------------------------------------------


def test_last_used_is_the_later_of_use_and_rebuild():
    assert last_used(env(last_used=NOW, modified=NOW - 40 * DAY)) == NOW
    assert last_used(env(last_used=NOW - 40 * DAY, modified=NOW)) == NOW
    assert last_used(env(last_used=None, modified=NOW - DAY)) == NOW - DAY
    assert last_used(env(last_used=NOW - DAY, modified=None)) == NOW - DAY
    assert last_used(env(last_used=0.0, modified=None)) == 0.0
    assert last_used(env()) is None


def test_an_environment_built_long_ago_and_used_today_is_not_old(tmp_path):
    """"Last used" is the later of pyvenv.cfg's access and modification times: built 40 days ago
    and used today is kept by --older-than 30, as is used 40 days ago and rebuilt today."""
    root = make_cache(tmp_path / "cache", "environments-v2")
    used_today = script_env(root, tmp_path / "w" / "used.py", used=NOW - 60, built=NOW - 40 * DAY)
    rebuilt_today = script_env(root, tmp_path / "w" / "rebuilt.py", used=NOW - 40 * DAY, built=NOW - 60)
    old = script_env(root, tmp_path / "w" / "old.py", used=NOW - 40 * DAY, built=NOW - 41 * DAY)
    p = plan(root, older_than_days=30)
    assert [e.path for e in p.entries] == [old]
    assert p.entries[0].reasons == ("older than 30 days (last used 40.0 days ago)",)
    assert p.entries[0].last_used == NOW - 40 * DAY
    assert used_today.exists() and rebuilt_today.exists()


@pytest.mark.parametrize("age_days,older_than,taken", [
    (2, 1, True), (2, 3, False), (2, 47, False), (2, 2, False), (2, 1.99, True), (0.5, 0.25, True), (0.5, 1, False),
])
def test_ages_are_counted_in_days(tmp_path, age_days, older_than, taken):
    """Days, not hours: unused for two days is older than one day and younger than three."""
    root = make_cache(tmp_path / "cache", "environments-v2")
    when = NOW - age_days * DAY
    e = script_env(root, tmp_path / "w" / "s.py", used=when, built=when)
    p = plan(root, older_than_days=older_than)
    assert names(p) == ([e.name] if taken else [])
    if taken:
        assert p.entries[0].reasons == (f"older than {older_than:g} days (last used {age_days:.1f} days ago)",)


def test_an_environment_of_no_known_age_is_never_old(tmp_path, monkeypatch):
    root = make_cache(tmp_path / "cache", "environments-v2")
    script_env(root, tmp_path / "w" / "s.py", used=OLD, built=OLD)
    inv = scan(root)
    inv = replace(inv, environments=tuple(replace(e, last_used=None, modified=None) for e in inv.environments))
    assert plan_prune(inv, Policies(older_than_days=0), exclusive=True, now=NOW).entries == ()


def test_now_is_the_clock_unless_given(tmp_path):
    root = make_cache(tmp_path / "cache", "environments-v2")
    recent = time.time() - 2 * DAY
    e = script_env(root, tmp_path / "w" / "s.py", used=recent, built=recent)
    assert [x.path for x in plan_prune(scan(root), Policies(older_than_days=1), exclusive=True).entries] == [e]
    assert plan_prune(scan(root), Policies(older_than_days=3), exclusive=True).entries == ()


# -- an environment as an entry -------------------------------------------------------------------------


def test_a_script_environment_is_its_pyvenv_cfg_then_its_directory_under_its_own_lock(tmp_path):
    root = make_cache(tmp_path / "cache", "environments-v2")
    script = tmp_path / "w" / "hello.py"
    e = script_env(root, script, used=OLD, built=OLD - DAY)
    inv = scan(root, [script])
    entry = environment_entry(inv, inv.environments[0])
    assert entry == PlanEntry(Kind.SCRIPT_ENV, e, (e / "pyvenv.cfg", e), str(script), (), lock=e / ".lock",
                              uses=(e,), needs_exclusive=False, last_used=OLD)
    # Without a known script: the prompt (the script's file name), else the key.
    inv = scan(root)
    assert environment_entry(inv, inv.environments[0]).label == "hello.py"
    bare = replace(inv.environments[0], prompt=None)
    assert environment_entry(inv, bare).label == e.name


def test_script_environments_are_deleted_only_under_their_own_lock(tmp_path, monkeypatch):
    root = make_cache(tmp_path / "cache", "environments-v2")
    locked = script_env(root, tmp_path / "w" / "locked.py", used=OLD, built=OLD)
    free = script_env(root, tmp_path / "w" / "free.py", used=OLD, built=OLD)
    (free / ".lock").write_bytes(b"")
    hold(locked / ".lock")
    p = plan(root, older_than_days=1)
    assert [e.path for e in p.entries] == [free]
    assert [(s.path, s.kind, s.reason) for s in p.skipped] == [
        (locked, Kind.SCRIPT_ENV, f"its lock {locked / '.lock'} is held: a uv is writing it")]
    # And the executor holds that lock while it deletes.
    from envtui.core.locks import entry_lock_held
    from envtui.core.prune import executor, execute_plan

    seen = []
    real = executor.remove_path

    def remove(path, **kw):
        seen.append((Path(path), entry_lock_held(free / ".lock")))
        return real(path, **kw)

    monkeypatch.setattr(executor, "remove_path", remove)
    result = execute_plan(p)
    assert seen == [(free / "pyvenv.cfg", True), (free, True)] and result.complete


@pytest.mark.parametrize("status", [IN_FLIGHT, CORRUPT])
def test_a_script_environment_uv_may_be_writing_needs_uv_s_lock(tmp_path, status):
    root = make_cache(tmp_path / "cache", "environments-v2")
    e = script_env(root, tmp_path / "w" / "s.py", used=OLD, built=OLD)
    inv = scan(root)
    odd = replace(inv.environments[0], status=status)
    assert environment_entry(inv, odd).needs_exclusive
    assert not environment_entry(inv, inv.environments[0]).needs_exclusive
    busy = plan_selection(inv, [odd], exclusive=False)
    assert busy.entries == () and [s.reason for s in busy.skipped] == [
        "a uv is running and may be writing it (uv's root lock is held)"]
    assert [x.path for x in plan_selection(inv, [odd], exclusive=True).entries] == [e]
    assert [x.path for x in plan_selection(inv, [inv.environments[0]], exclusive=False).entries] == [e]


def test_a_cached_environment_is_its_link_its_lock_then_its_archive_target(tmp_path):
    root = make_cache(tmp_path / "cache", "environments-v2")
    link = cached_env(root, "8b0cbae4892decd7", "80437497dd3db7a4", "Target", used=OLD, built=OLD)
    target = root / "archive-v0" / "Target"
    inv = scan(root)
    e = inv.environments[0]
    entry = environment_entry(inv, e)
    assert entry == PlanEntry(Kind.CACHED_ENV, link, (link, link.with_name("80437497dd3db7a4.lock"), target),
                              e.key, (), lock=link.with_name("80437497dd3db7a4.lock"), uses=(link, target),
                              last_used=OLD)
    # Its label: the tool, else its first package, else its key.
    assert environment_entry(inv, replace(e, tool="black")).label == "black"
    from envtui.core.environments import Distribution

    pkgs = (Distribution("attrs", "1.0"), Distribution("zope", "2.0"))
    assert environment_entry(inv, replace(e, packages=pkgs)).label == "attrs"
    assert environment_entry(inv, replace(e, packages=pkgs, tool="black")).label == "black"


def test_a_cached_environment_whose_target_another_link_names_goes_alone(tmp_path):
    root = make_cache(tmp_path / "cache", "environments-v2")
    link = cached_env(root, "8b0cbae4892decd7", "80437497dd3db7a4", "Target", used=OLD, built=OLD)
    other = root / "environments-v2" / "8b0cbae4892decd7" / "e11c95488aeebbd8"
    other.symlink_to("../../archive-v0/Target")
    inv = scan(root)
    entry = environment_entry(inv, next(e for e in inv.environments if e.path == link))
    assert entry.paths == (link, link.with_name("80437497dd3db7a4.lock"))
    assert entry.uses == (link, root / "archive-v0" / "Target")


def test_a_dangling_link_and_a_link_to_no_archive_entry_go_alone_with_their_lock(tmp_path):
    root = make_cache(tmp_path / "cache", "environments-v2")
    link = cached_env(root, "8b0cbae4892decd7", "80437497dd3db7a4", "Target", used=OLD, built=OLD)
    lock = link.with_name("80437497dd3db7a4.lock")
    inv = scan(root)
    e = inv.environments[0]
    for odd in (replace(e, status=DANGLING), replace(e, link_target=None)):
        assert environment_entry(inv, odd) == PlanEntry(Kind.LINK, link, (link, lock), e.key, (), lock=lock)
    # A link to a venv outside any archive bucket: the link and its lock go, never the venv.
    outside = pyvenv(tmp_path / "elsewhere" / "venv")
    link.unlink()
    link.symlink_to(outside)
    inv = scan(root)
    entry = environment_entry(inv, inv.environments[0])
    assert entry.kind == Kind.CACHED_ENV and entry.paths == (link, lock) and entry.uses == (link,)


# -- policies ---------------------------------------------------------------------------------------------


def test_keep_latest_keeps_the_most_recently_used_of_each_tool_by_its_normal_name(tmp_path):
    root = make_cache(tmp_path / "cache", "environments-v2")
    envs = []
    for i, ident in enumerate(("A", "B", "C")):
        envs.append(cached_env(root, "8b0cbae4892decd7", f"{i}0437497dd3db7a4", ident, used=OLD + i * DAY, built=OLD))
    lone = cached_env(root, "8b0cbae4892decd7", "f0437497dd3db7a4", "D", used=OLD, built=OLD)
    inv = scan(root)
    tools = {envs[0]: "Black", envs[1]: "black", envs[2]: "BLACK", lone: "ruff"}
    inv = replace(inv, environments=tuple(replace(e, tool=tools[e.path]) for e in inv.environments))
    p = plan_prune(inv, Policies(keep_latest=1), exclusive=True, now=NOW)
    assert [e.path for e in p.entries] == envs[:2]
    assert {e.reasons for e in p.entries} == {("keep-latest 1: 3 environments of black",)}
    assert [e.path for e in plan_prune(inv, Policies(keep_latest=2), exclusive=True).entries] == envs[:1]
    assert [e.path for e in plan_prune(inv, Policies(keep_latest=0), exclusive=True).entries] == [*envs, lone]
    assert plan_prune(inv, Policies(keep_latest=3), exclusive=True).entries == ()


def test_keep_latest_groups_by_first_package_else_as_one_unknown_tool(tmp_path):
    from envtui.core.environments import Distribution

    root = make_cache(tmp_path / "cache", "environments-v2")
    a = cached_env(root, "8b0cbae4892decd7", "00437497dd3db7a4", "A", used=OLD, built=OLD)
    b = cached_env(root, "8b0cbae4892decd7", "10437497dd3db7a4", "B", used=OLD + DAY, built=OLD)
    c = cached_env(root, "8b0cbae4892decd7", "20437497dd3db7a4", "C", used=OLD, built=OLD)
    d = cached_env(root, "8b0cbae4892decd7", "30437497dd3db7a4", "D", used=OLD + DAY, built=OLD)
    script_env(root, tmp_path / "w" / "s.py", used=OLD, built=OLD)  # never in a group
    inv = scan(root)
    pkgs = {a: (Distribution("Attrs", "1"),), b: (Distribution("attrs", "2"), Distribution("zope", "1"))}
    inv = replace(inv, environments=tuple(replace(e, tool=None, packages=pkgs.get(e.path, ())) for e in inv.environments))
    p = plan_prune(inv, Policies(keep_latest=1), exclusive=True)
    assert [(e.path, e.reasons) for e in p.entries] == [
        (a, ("keep-latest 1: 2 environments of attrs",)), (c, ("keep-latest 1: 2 environments of ?",))]
    del d


def test_an_environment_no_age_is_known_of_is_the_oldest_of_its_tool(tmp_path):
    root = make_cache(tmp_path / "cache", "environments-v2")
    a = cached_env(root, "8b0cbae4892decd7", "00437497dd3db7a4", "A", used=OLD, built=OLD)
    b = cached_env(root, "8b0cbae4892decd7", "10437497dd3db7a4", "B", used=OLD, built=OLD)
    inv = scan(root)
    inv = replace(inv, environments=tuple(
        replace(e, tool="t", last_used=None if e.path == b else e.last_used, modified=None if e.path == b else e.modified)
        for e in inv.environments))
    assert [e.path for e in plan_prune(inv, Policies(keep_latest=1), exclusive=True).entries] == [b]
    del a


def test_reasons_of_every_policy_that_chose_an_entry_are_kept_once_each(tmp_path):
    root = make_cache(tmp_path / "cache", "environments-v2")
    gone = tmp_path / "w" / "gone.py"
    e = script_env(root, gone, used=OLD, built=OLD)
    p = plan(root, [gone], older_than_days=1, orphans=True)
    # An orphan is not asked its age: one reason.
    assert [x.reasons for x in p.entries] == [(f"orphan: its script {gone} is gone",)]
    p = plan(root, older_than_days=1, max_size=0)
    assert [x.path for x in p.entries] == [e]
    assert p.entries[0].reasons == (f"older than 1 days (last used {(NOW - OLD) / DAY:.1f} days ago)",)
    entry = environment_entry(scan(root), scan(root).environments[0])
    twice = plan_entries(scan(root), [replace(entry, reasons=("a", "b")), replace(entry, reasons=("b", "c"))],
                         exclusive=True)
    assert [x.reasons for x in twice.entries] == [("a", "b", "c")]
    assert [x.reasons for x in plan_entries(scan(root), [entry], exclusive=True).entries] == [("marked",)]


def test_a_doubtful_orphan_is_listed_as_skipped_saying_what_could_not_be_checked(tmp_path, monkeypatch):
    root = make_cache(tmp_path / "cache", "environments-v2")
    hidden = tmp_path / "w" / "hidden.py"
    e = script_env(root, hidden, used=OLD, built=OLD)
    monkeypatch.setattr(planner, "presence", lambda p: None)
    from envtui.core.prune import references

    monkeypatch.setattr(references, "presence", lambda p: None, raising=False)
    p = plan(root, [hidden], orphans=True)
    assert p.entries == ()
    assert [(s.path, s.kind) for s in p.skipped] == [(e, Kind.SCRIPT_ENV)]
    assert str(hidden) in p.skipped[0].reason
    # Old as well: taken for its age, and then no doubt is listed.
    p = plan(root, [hidden], orphans=True, older_than_days=1)
    assert [x.path for x in p.entries] == [e] and p.skipped == ()
    # Two of them: both listed.
    other = tmp_path / "w" / "other.py"
    e2 = script_env(root, other, used=OLD, built=OLD)
    p = plan(root, [hidden, other], orphans=True)
    assert [s.path for s in p.skipped] == sorted([e, e2], key=str)
    reasons = {s.path: s.reason for s in p.skipped}
    assert f"its script {hidden} " in reasons[e] and f"its script {other} " in reasons[e2]


def test_interpreter_entries_go_when_stale_missing_or_corrupt_saying_why(tmp_path):
    root = make_cache(tmp_path / "cache", "interpreter-v5")
    shard = root / "interpreter-v5" / "0123456789abcdef"
    shard.mkdir()
    entries = []
    for i, (status, error, exe) in enumerate([("fresh", None, "/x/fresh"), ("stale", None, "/x/stale"),
                                              ("missing", "it is gone", "/x/missing"), ("corrupt", "bad bytes", None),
                                              ("unknown format", "what is this", "/x/unknown")]):
        path = shard / f"{i:016x}.msgpack"
        path.write_bytes(b"x")
        entries.append(InterpreterEntry(path, 5, shard.name, f"{i:016x}", status, True, executable=exe, error=error))
    inv = replace(scan(root), interpreters=tuple(entries))
    p = plan_prune(inv, Policies(interpreters=True), exclusive=True)
    assert [(e.kind, e.path, e.paths, e.label, e.reasons) for e in p.entries] == [
        (Kind.INTERPRETER, entries[1].path, (entries[1].path,), "/x/stale", ("interpreter entry stale",)),
        (Kind.INTERPRETER, entries[2].path, (entries[2].path,), "/x/missing", ("interpreter entry missing: it is gone",)),
        (Kind.INTERPRETER, entries[3].path, (entries[3].path,), entries[3].key, ("interpreter entry corrupt: bad bytes",)),
    ]
    assert plan_prune(inv, Policies(), exclusive=True).entries == ()
    marked = plan_selection(inv, [entries[0]], exclusive=True)
    assert [(e.path, e.reasons) for e in marked.entries] == [(entries[0].path, ("marked",))]


def test_dangling_links_and_leftovers_say_which_they_are(tmp_path):
    root = make_cache(tmp_path / "cache", "environments-v2")
    link = cached_env(root, "8b0cbae4892decd7", "80437497dd3db7a4", "Gone", used=OLD, built=OLD)
    import shutil

    shutil.rmtree(root / "archive-v0" / "Gone")
    tmp = root / ".tmpAbC123"
    tmp.mkdir()
    p = plan(root, dangling=True)
    assert [(e.path, e.kind, e.reasons) for e in p.entries] == [
        (link, Kind.LINK, ("dangling",)), (tmp, Kind.LEFTOVER, ("leftover of an interrupted uv",))]


def test_unreferenced_says_so(tmp_path):
    root = make_cache(tmp_path / "cache")
    stray = unpacked(root, "Stray", "stray", "1.0")
    p = plan(root, unreferenced=True)
    assert [(e.path, e.reasons) for e in p.entries] == [(stray, ("unreferenced: no link and no environment uses it",))]
    assert plan(root, unreferenced=True, exclusive=False).entries == ()


# -- max-size ----------------------------------------------------------------------------------------------


def test_max_size_takes_environments_oldest_first_exactly_until_the_cache_fits(tmp_path):
    root = make_cache(tmp_path / "cache", "environments-v2")
    a = script_env(root, tmp_path / "w" / "a.py", used=OLD, built=OLD, size=5 * BLOCK)
    b = script_env(root, tmp_path / "w" / "b.py", used=OLD + DAY, built=OLD, size=3 * BLOCK)
    c = script_env(root, tmp_path / "w" / "c.py", used=OLD + 2 * DAY, built=OLD, size=7 * BLOCK)
    usage = du(root)
    assert plan(root, max_size=usage).entries == ()
    assert plan(root, max_size=usage).cache_bytes == usage
    assert names(plan(root, max_size=usage - 1)) == [a.name]
    assert names(plan(root, max_size=usage - du(a))) == [a.name]
    assert sorted(names(plan(root, max_size=usage - du(a) - 1))) == sorted([a.name, b.name])
    assert sorted(names(plan(root, max_size=usage - du(a, b)))) == sorted([a.name, b.name])
    every = sorted([a.name, b.name, c.name])
    assert sorted(names(plan(root, max_size=usage - du(a, b) - 1))) == every
    assert sorted(names(plan(root, max_size=0))) == every
    p = plan(root, max_size=usage - 1)
    assert p.entries[0].reasons == (f"max-size {usage - 1} bytes: least recently used",)
    assert p.size_target is not None and p.size_target.reached and p.policies == Policies(max_size=usage - 1)
    assert plan(root, older_than_days=1).size_target is None and plan(root, older_than_days=1).cache_bytes is None


def test_max_size_counts_what_the_other_policies_already_free(tmp_path):
    root = make_cache(tmp_path / "cache", "environments-v2")
    old = script_env(root, tmp_path / "w" / "old.py", used=OLD, built=OLD, size=5 * BLOCK)
    mid = script_env(root, tmp_path / "w" / "mid.py", used=NOW - 10 * DAY, built=OLD, size=3 * BLOCK)
    usage = du(root)
    # --older-than 30 takes old; that already fits usage - du(old): nothing more.
    assert names(plan(root, older_than_days=30, max_size=usage - du(old))) == [old.name]
    assert sorted(names(plan(root, older_than_days=30, max_size=usage - du(old) - 1))) == sorted([old.name, mid.name])


def test_max_size_passes_over_what_a_rule_refuses_and_lists_it(tmp_path, monkeypatch):
    root = make_cache(tmp_path / "cache", "environments-v2")
    a = script_env(root, tmp_path / "w" / "a.py", used=OLD, built=OLD, size=5 * BLOCK)
    b = script_env(root, tmp_path / "w" / "b.py", used=OLD + DAY, built=OLD, size=3 * BLOCK)
    monkeypatch.setattr(safety, "ProcessPaths", UsedBy(a))
    usage = du(root)
    p = plan(root, max_size=usage - 1)
    assert names(p) == [b.name]
    assert [(s.path, s.reason) for s in p.skipped] == [(a, "in use by a running process")]


# -- the plan as a whole ----------------------------------------------------------------------------------


def test_entries_are_planned_in_deletion_order_and_skipped_ones_by_path(tmp_path, monkeypatch):
    root = make_cache(tmp_path / "cache", "environments-v2", "interpreter-v5", "wheels-v8/pypi")
    link = cached_env(root, "8b0cbae4892decd7", "80437497dd3db7a4", "Target", used=OLD, built=OLD)
    s2 = script_env(root, tmp_path / "w" / "zz.py", used=OLD, built=OLD)
    s1 = script_env(root, tmp_path / "w" / "aa.py", used=OLD, built=OLD)
    stray = unpacked(root, "Stray", "stray", "1.0")
    tmp = root / ".tmpAbC123"
    tmp.mkdir()
    page = root / "wheels-v8" / "pypi" / "x.msgpack"
    page.write_bytes(b"x")
    msg = root / "interpreter-v5" / "0123456789abcdef" / "0123456789abcdef.msgpack"
    msg.parent.mkdir()
    msg.write_bytes(b"x")
    bucket = root / "wheels-v8"
    inv = scan(root)
    entries = [
        PlanEntry(Kind.BUCKET, bucket, (bucket,), "wheels", ("m",), needs_exclusive=True),
        PlanEntry(Kind.INTERPRETER, msg, (msg,), "i", ("m",)),
        PlanEntry(Kind.LEFTOVER, tmp, (tmp,), "t", ("m",)),
        PlanEntry(Kind.ARCHIVE, stray, (stray,), "a", ("m",)),
        PlanEntry(Kind.CACHE_ENTRY, page, (page,), "p", ("m",)),
        PlanEntry(Kind.LINK, link, (link,), "l", ("m",)),
        *(environment_entry(inv, e) for e in inv.environments if e.kind == SCRIPT),
    ]
    p = plan_entries(inv, entries, exclusive=True)
    assert [e.path for e in p.entries] == [s1, s2, link, page, stray, tmp, msg, bucket]
    monkeypatch.setattr(safety, "ProcessPaths", UsedBy(s1, s2))
    busy = plan_entries(inv, entries, exclusive=True)
    assert [s.path for s in busy.skipped] == sorted([s1, s2], key=str)


def test_a_plan_says_its_root_figures_and_lock_holders(tmp_path):
    root = make_cache(tmp_path / "cache", "environments-v2")
    e = script_env(root, tmp_path / "w" / "s.py", used=OLD, built=OLD, size=5 * BLOCK)
    holder = ProcessInfo(7, "uv run x", "holds uv's root lock")
    inv = scan(root)
    p = plan_prune(inv, Policies(older_than_days=1), exclusive=False, lock_holders=[holder], now=NOW)
    assert p.root == Path(os.path.realpath(root)) and p.scope == CACHE and p.exclusive is False
    assert p.lock_holders == (holder,) and p.vetted is None and p.unreadable == ()
    assert p.bytes_freed == du(e) == p.entries[0].bytes_alone == p.entries[0].bytes_with_plan
    assert p.apparent_freed == sum(os.lstat(x).st_size for x in [e, *e.rglob("*")])
    sel = plan_selection(inv, [inv.environments[0]], exclusive=False, lock_holders=[holder])
    assert sel.lock_holders == (holder,) and sel.policies is None and sel.bytes_freed == du(e)


def test_a_plan_made_under_uv_s_lock_carries_what_its_checks_saw(tmp_path):
    root = make_cache(tmp_path / "cache", "environments-v2")
    e = script_env(root, tmp_path / "w" / "s.py", used=OLD, built=OLD)
    stray = unpacked(root, "Stray", "stray", "1.0")
    lock = try_lock_root(root)
    try:
        listing = LinkListing(Rules(root))
        # Under the lock the caller holds, archive entries are planned whatever ``exclusive`` said.
        p = plan_prune(scan(root), Policies(older_than_days=1, unreferenced=True), exclusive=False, now=NOW,
                       under=lock, listing=listing)
        assert [x.path for x in p.entries] == [e, stray] and p.exclusive
        assert p.vetted is not None and p.vetted.lock is lock
        assert set(p.vetted.groups) == {e, stray}
        q = plan_entries(scan(root), list(p.entries), exclusive=True, under=lock)
        assert q.vetted is not None and q.vetted.lock is lock
    finally:
        lock.release()
    with pytest.raises(ValueError, match="no longer held"):
        plan_prune(scan(root), Policies(older_than_days=1), exclusive=True, under=lock)
    other = make_cache(tmp_path / "other")
    with pytest.raises(ValueError, match=f"links listed for {os.path.realpath(other)}, not for the cache at"):
        plan_prune(scan(root), Policies(older_than_days=1), exclusive=True, listing=LinkListing(Rules(other)))


def test_uncertain_processes_keep_an_environment_unless_told_to_ignore_them(tmp_path, monkeypatch):
    root = make_cache(tmp_path / "cache", "environments-v2")
    e = script_env(root, tmp_path / "w" / "s.py", used=OLD, built=OLD)
    hidden = ProcessInfo(99, "?", "cannot be inspected (user bob, uid 1001): may use it", uncertain=True)

    class Hidden:
        def __call__(self):
            return self

        def using(self, dirs, parents=None):
            return [hidden]

    monkeypatch.setattr(safety, "ProcessPaths", Hidden())
    inv = scan(root)
    p = plan_prune(inv, Policies(older_than_days=1), exclusive=True, now=NOW)
    assert p.entries == () and p.skipped[0].processes == (hidden,)
    assert [x.path for x in plan_prune(inv, Policies(older_than_days=1), exclusive=True, now=NOW,
                                       ignore_uncertain=True).entries] == [e]
    assert [x.path for x in plan_selection(inv, inv.environments, exclusive=True, ignore_uncertain=True).entries] == [e]
    assert plan_selection(inv, inv.environments, exclusive=True).entries == ()
    entry = environment_entry(inv, inv.environments[0])
    assert [x.path for x in plan_entries(inv, [entry], exclusive=True, ignore_uncertain=True).entries] == [e]
    assert plan_entries(inv, [entry], exclusive=True).entries == ()


# -- the policies themselves ---------------------------------------------------------------------------


@pytest.mark.parametrize("field,value", [
    ("older_than_days", 0), ("older_than_days", 0.0), ("older_than_days", 30), ("older_than_days", 0.5),
    ("keep_latest", 0), ("keep_latest", 3), ("max_size", 0), ("max_size", MAX_SIZE),
])
def test_policies_take_every_value_that_means_something(field, value):
    p = Policies(**{field: value})
    assert getattr(p, field) == value and p.any()


@pytest.mark.parametrize("value", [-1, -0.5, -1e-9, float("nan"), float("inf"), float("-inf"), True, False, "30", None])
def test_an_age_that_is_no_number_of_days_is_refused_naming_it(value):
    if value is None:
        assert Policies(older_than_days=None).older_than_days is None
        return
    with pytest.raises(ValueError) as err:
        Policies(older_than_days=value)
    assert str(err.value) == f"older_than_days must be a finite number of days, 0 or more, not {value!r}"


@pytest.mark.parametrize("field,what", [("keep_latest", "a whole number"), ("max_size", "a whole number of bytes")])
@pytest.mark.parametrize("value", [-1, -100, 1.0, 2.5, float("nan"), True, False, "3"])
def test_a_count_or_size_that_is_no_whole_number_is_refused_naming_it(field, what, value):
    with pytest.raises(ValueError) as err:
        Policies(**{field: value})
    assert str(err.value) == f"{field} must be {what}, 0 or more, not {value!r}"


def test_policies_are_any_when_one_is_set():
    assert not Policies().any()
    for p in (Policies(unreferenced=True), Policies(dangling=True), Policies(orphans=True), Policies(interpreters=True),
              Policies(older_than_days=0), Policies(keep_latest=0), Policies(max_size=0)):
        assert p.any(), p


def test_a_kind_is_its_value_as_text():
    assert str(Kind.SCRIPT_ENV) == "script environment" and Kind.TOOL == "tool"
    assert f"{Kind.ARCHIVE}|{Kind.LINK:>6}|{Kind.BUCKET:<8}|" == "archive entry|  link|bucket  |"
    assert format(Kind.INTERPRETER, "") == "interpreter entry"


# -- what the plan lists, and in which order -----------------------------------------------------------------


def test_every_environment_a_rule_refuses_is_listed_as_skipped(tmp_path, monkeypatch):
    root = make_cache(tmp_path / "cache", "environments-v2")
    a = script_env(root, tmp_path / "w" / "a.py", used=OLD, built=OLD, size=5 * BLOCK)
    b = script_env(root, tmp_path / "w" / "b.py", used=OLD + DAY, built=OLD, size=3 * BLOCK)
    monkeypatch.setattr(safety, "ProcessPaths", UsedBy(a, b))
    for p in (plan(root, older_than_days=1), plan(root, max_size=0)):
        assert p.entries == ()
        assert [(s.path, s.kind, s.reason) for s in p.skipped] == [
            (a, Kind.SCRIPT_ENV, "in use by a running process"), (b, Kind.SCRIPT_ENV, "in use by a running process")]


def test_skipped_entries_are_listed_by_path_as_text_whatever_refused_them_first(tmp_path, monkeypatch):
    """Sorted as text (``b-c`` before ``b/c``, where path parts would put ``b`` first), not in
    the order the rules met them, nor by anything else they hold."""
    root = make_cache(tmp_path / "cache", "environments-v2", "wheels-v8")
    link = cached_env(root, "8b0cbae4892decd7", "80437497dd3db7a4", "Target", used=OLD, built=OLD)
    stray = unpacked(root, "Stray", "stray", "1.0")
    page = root / "wheels-v8" / "b-c"
    page.mkdir()
    nested = root / "wheels-v8" / "b" / "c"
    nested.mkdir(parents=True)
    quoted = root / "wheels-v8" / "d'x"
    quoted.mkdir()
    inv = scan(root)
    entries = [environment_entry(inv, inv.environments[0]),
               PlanEntry(Kind.ARCHIVE, stray, (stray,), "s", ("m",), uses=(stray,)),
               *(PlanEntry(Kind.CACHE_ENTRY, p, (p,), p.name, ("m",), uses=(p,)) for p in (quoted, nested, page))]
    monkeypatch.setattr(safety, "ProcessPaths", UsedBy(link, stray, page, nested, quoted))
    p = plan_entries(inv, entries, exclusive=True)
    assert p.entries == ()
    assert [s.path for s in p.skipped] == [stray, link, page, nested, quoted]


def test_what_the_walk_of_the_planned_entries_could_not_read_is_said(tmp_path, monkeypatch):
    from dataclasses import replace as _replace

    from envtui.core.disk import freed as freed_mod

    root = make_cache(tmp_path / "cache", "environments-v2", "wheels-v8")
    a = script_env(root, tmp_path / "w" / "a.py", used=OLD, built=OLD)
    kept = unpacked(root, "Kept", "kept", "1.0")
    (root / "wheels-v8" / "w").symlink_to("../archive-v0/Kept")
    real = freed_mod.walk_unit

    def walk(table, members, index, should_stop):
        w = real(table, members, index, should_stop)
        tops = [t for t in (a, kept) if any(m == str(t) or m.startswith(f"{t}/") for m in members)]
        return _replace(w, errors=w.errors + tuple((f"{t}/locked", 13) for t in tops))

    monkeypatch.setattr(freed_mod, "walk_unit", walk)
    inv = scan(root)
    entries = [environment_entry(inv, inv.environments[0]), PlanEntry(Kind.ARCHIVE, kept, (kept,), "k", ("m",))]
    p = plan_entries(inv, entries, exclusive=True)
    # Kept is walked, then kept for the link: what could not be read in it is in no figure.
    assert [e.path for e in p.entries] == [a] and [s.path for s in p.skipped] == [kept]
    assert p.unreadable == ((f"{a}/locked", "Permission denied"),)


def test_a_script_known_only_to_the_planner_makes_an_orphan_when_gone_and_a_doubt_when_unknown(tmp_path, monkeypatch):
    """The inventory was read before the scripts were proven (``prune --orphans``): the
    planner's own list of known scripts finds the environments of those that are gone."""
    from envtui.core.prune import references

    root = make_cache(tmp_path / "cache", "environments-v2")
    gone, there, hidden = (tmp_path / "w" / f"{n}.py" for n in ("gone", "there", "hidden"))
    envs = {s: script_env(root, s, used=NOW, built=NOW) for s in (gone, there, hidden)}
    there.parent.mkdir(parents=True, exist_ok=True)
    there.write_text("")
    hidden.write_text("")
    inv = scan(root)  # no script known
    assert all(e.script is None for e in inv.environments)
    real = references.presence
    monkeypatch.setattr(references, "presence", lambda p: None if str(p) == str(hidden) else real(p))
    monkeypatch.setattr(planner, "presence", lambda p: None if str(p) == str(hidden) else real(p))
    p = plan_prune(inv, Policies(orphans=True), exclusive=True, known_scripts=[str(gone), str(there), str(hidden)])
    assert [(e.path, e.reasons) for e in p.entries] == [(envs[gone], (f"orphan: its script {gone} is gone",))]
    assert [(s.path, s.kind, s.reason) for s in p.skipped] == [
        (envs[hidden], Kind.SCRIPT_ENV, f"not known to be an orphan: its script {hidden} could not be checked")]


def test_a_cached_environment_whose_interpreter_cannot_be_checked_is_a_doubt_of_its_kind(tmp_path, monkeypatch):
    from envtui.core.prune import references

    root = make_cache(tmp_path / "cache", "environments-v2")
    home = tmp_path / "python" / "bin"
    home.mkdir(parents=True)
    link = cached_env(root, "8b0cbae4892decd7", "80437497dd3db7a4", "Target", home=str(home), used=NOW, built=NOW)
    monkeypatch.setattr(references, "presence", lambda p: None)
    p = plan(root, orphans=True)
    assert p.entries == ()
    assert [(s.path, s.kind, s.reason) for s in p.skipped] == [
        (link, Kind.CACHED_ENV, f"not known to be an orphan: its base interpreter's directory {home} could not be checked")]


def test_an_environment_of_unknown_age_is_older_than_any_known_even_the_epoch(tmp_path):
    root = make_cache(tmp_path / "cache", "environments-v2")
    a = cached_env(root, "8b0cbae4892decd7", "00437497dd3db7a4", "A", used=0.5, built=0.5, size=BLOCK)
    b = cached_env(root, "8b0cbae4892decd7", "10437497dd3db7a4", "B", used=0.5, built=0.5, size=BLOCK)
    inv = scan(root)
    unknown = tuple(replace(e, tool="t", last_used=None if e.path == b else 0.5, modified=None if e.path == b else 0.5)
                    for e in inv.environments)
    inv = replace(inv, environments=unknown)
    assert [e.path for e in plan_prune(inv, Policies(keep_latest=1), exclusive=True).entries] == [b]
    usage = du(root)
    assert [e.path for e in plan_prune(inv, Policies(max_size=usage - 1), exclusive=True).entries] == [b]
    del a


def test_marked_environments_say_so_and_plans_carry_their_policies(tmp_path):
    root = make_cache(tmp_path / "cache", "environments-v2")
    e = script_env(root, tmp_path / "w" / "s.py", used=NOW, built=NOW)
    inv = scan(root)
    p = plan_selection(inv, inv.environments, exclusive=True)
    assert [(x.path, x.reasons) for x in p.entries] == [(e, ("marked",))] and p.policies is None
    policies = Policies(unreferenced=True)
    entry = environment_entry(inv, inv.environments[0])
    assert plan_entries(inv, [entry], exclusive=True, policies=policies).policies is policies
    assert plan_entries(inv, [entry], exclusive=True).policies is None


# -- cancellation is handed on ---------------------------------------------------------------------------------


def _cancelled(fn) -> bool:
    from envtui.core.errors import ScanCancelled

    try:
        fn()
    except ScanCancelled:
        return True
    return False


def test_every_plan_hands_its_stop_to_the_walk_of_its_entries_and_the_look_for_links(tmp_path):
    from tests.core.handmade import stop_within

    root = make_cache(tmp_path / "cache", "environments-v2")
    script_env(root, tmp_path / "w" / "s.py", used=OLD, built=OLD)
    stray = unpacked(root, "Stray", "stray", "1.0")
    inv = scan(root)
    entries = [environment_entry(inv, inv.environments[0]), PlanEntry(Kind.ARCHIVE, stray, (stray,), "s", ("m",))]
    for where in ("add", "find_references"):  # Freed.add: the walk of an entry's paths
        stop = stop_within(where)
        assert _cancelled(lambda: plan_prune(inv, Policies(older_than_days=1, unreferenced=True), exclusive=True,
                                             should_stop=stop)), where  # noqa: B023 (called at once)
        assert _cancelled(lambda: plan_entries(inv, entries, exclusive=True, should_stop=stop)), where  # noqa: B023 (called at once)
    assert _cancelled(lambda: plan_selection(inv, inv.environments, exclusive=True, should_stop=stop_within("add")))
    # Through a listing made ahead, too.
    assert _cancelled(lambda: plan_prune(inv, Policies(unreferenced=True), exclusive=True,
                                         listing=LinkListing(Rules(root)), should_stop=stop_within("find_references")))


def test_max_size_hands_its_stop_to_its_own_walk_and_to_the_size_target(tmp_path):
    from tests.core.handmade import stop_in, stop_within

    root = make_cache(tmp_path / "cache", "environments-v2")
    script_env(root, tmp_path / "w" / "s.py", used=OLD, built=OLD)
    inv = scan(root)
    # The running total of what the chosen environments free.
    assert _cancelled(lambda: plan_prune(inv, Policies(max_size=0), exclusive=True, should_stop=stop_in("add", "_apply_max_size")))
    # What still holds the bytes, when the target is missed (nothing more may go without uv's lock).
    assert _cancelled(lambda: plan_prune(inv, Policies(max_size=0), exclusive=False, should_stop=stop_within("size_target")))
    assert not _cancelled(lambda: plan_prune(inv, Policies(max_size=0), exclusive=False, should_stop=lambda: False))


def test_links_listed_ahead_are_the_ones_the_plan_reads(tmp_path, monkeypatch):
    root = make_cache(tmp_path / "cache", "environments-v2", "wheels-v8")
    stray = unpacked(root, "Stray", "stray", "1.0")
    unpacked(root, "Kept", "kept", "1.0")
    (root / "wheels-v8" / "w").symlink_to("../archive-v0/Kept")
    listing = LinkListing(Rules(root))
    listing.result()
    monkeypatch.setattr(safety, "list_links", lambda *a, **k: pytest.fail("the links were listed again"))
    p = plan_prune(scan(root), Policies(unreferenced=True), exclusive=True, listing=listing)
    assert [e.path for e in p.entries] == [stray]


# -- uv's temporary directories at the root --------------------------------------------------------------------


def test_a_leftover_is_uv_s_only_when_its_owner_is_known_to_be_the_cache_s(tmp_path, monkeypatch):
    root = make_cache(tmp_path / "cache")
    mine, theirs, hidden = root / ".tmpAbC123", root / ".tmpQ1w2E3", root / ".tmpZz9Yy8"
    for d in (mine, theirs, hidden):
        d.mkdir()
    real_lstat = os.lstat
    uid = os.stat(root).st_uid

    class Other:
        def __init__(self, st):
            self.st_uid, self.st_mode = uid + 1, st.st_mode

    def lstat(path, *a, **kw):
        if os.fspath(path) == str(hidden):
            raise PermissionError(13, "Permission denied", str(hidden))
        st = real_lstat(path, *a, **kw)
        return Other(st) if os.fspath(path) == str(theirs) else st

    monkeypatch.setattr(safety.os, "lstat", lstat)
    rules = Rules(root)
    assert rules.guard(mine) is None and rules.guard(mine / "inside") is None
    assert rules.guard(theirs) == f".tmpQ1w2E3 belongs to uid {uid + 1}, the cache to uid {uid}: not uv's"
    assert rules.guard(hidden) == ".tmpZz9Yy8: its owner cannot be checked (Permission denied): not known to be uv's"
    # Gone meanwhile: nothing to keep.
    assert rules.guard(root / ".tmpGone00") is None
    monkeypatch.setattr(safety.os, "lstat", lambda p, *a, **kw: (_ for _ in ()).throw(OSError(5, "Input/output error")))
    assert rules.guard(mine) == ".tmpAbC123: its owner cannot be checked (Input/output error): not known to be uv's"
    monkeypatch.setattr(safety.os, "lstat", lambda p, *a, **kw: (_ for _ in ()).throw(NotADirectoryError(20, "Not a directory")))
    assert rules.guard(mine) is None


# -- what the look at the cache reads once ------------------------------------------------------------------


def test_a_link_listing_leaves_no_thread_a_failing_command_would_wait_for(tmp_path, monkeypatch):
    """The walk runs in a daemon thread: a command that fails while it runs exits at once."""
    import threading

    root = make_cache(tmp_path / "cache")
    gate = threading.Event()
    monkeypatch.setattr(Rules, "list_links", lambda self, should_stop=None: gate.wait(10) and [])
    before = set(threading.enumerate())
    listing = LinkListing(Rules(root))
    try:
        started = [t for t in threading.enumerate() if t not in before]
        assert started and all(t.daemon for t in started)
    finally:
        gate.set()
    assert listing.result() == []


def test_the_links_of_each_top_level_directory_name_its_own_target_only_when_it_is_a_link(tmp_path):
    root = make_cache(tmp_path / "cache", "wheels-v8")
    elsewhere = tmp_path / "elsewhere" / "simple-v28"
    elsewhere.mkdir(parents=True)
    (root / "simple-v28").symlink_to(elsewhere)
    assert {Path(b.path).name: b.target for b in Rules(root).list_links()} == {
        "CACHEDIR.TAG": None, "archive-v0": None, "wheels-v8": None, "simple-v28": str(elsewhere)}


def test_rules_resolve_each_parent_directory_once(tmp_path, monkeypatch):
    root = make_cache(tmp_path / "cache", "wheels-v8")
    rules = Rules(root)
    monkeypatch.setattr(safety, "resolve_path", lambda p: pytest.fail(f"{p} resolved afresh"))
    real = os.path.realpath(root)
    assert rules.resolve(root / "wheels-v8" / "a") == f"{real}/wheels-v8/a"
    assert rules.resolve(str(root / "wheels-v8" / "b")) == f"{real}/wheels-v8/b"


def test_a_look_hands_its_one_set_of_resolved_parents_to_every_question(tmp_path, monkeypatch):
    root = make_cache(tmp_path / "cache", "environments-v2")
    a = script_env(root, tmp_path / "w" / "a.py", used=OLD, built=OLD)
    b = script_env(root, tmp_path / "w" / "b.py", used=OLD, built=OLD)
    asked = []

    class Processes:
        def using(self, dirs, parents=None):
            asked.append(parents)
            return []

    monkeypatch.setattr(safety, "ProcessPaths", Processes)
    assert len(plan(root, older_than_days=1).entries) == 2
    assert len(asked) == 4 and asked[0] is not None and all(p is asked[0] for p in asked)
    del a, b


def test_dangling_looks_for_leftovers_only_where_this_uv_writes(tmp_path):
    # A newer uv's buckets (and their temporary directories) are never looked into: their
    # leftovers are neither planned nor listed as skipped, as if envtui had wanted them.
    root = make_cache(tmp_path / "cache", "archive-v0", "wheels-v8", "wheels-v9", "environments-v2", "environments-v3")
    for bucket in ("wheels-v8", "wheels-v9", "environments-v3"):
        (root / bucket / ".tmpAbC123").mkdir()
    plan = plan_prune(scan(root), Policies(dangling=True), exclusive=True)
    assert [e.path for e in plan.entries] == [root / "wheels-v8" / ".tmpAbC123"] and plan.skipped == ()
