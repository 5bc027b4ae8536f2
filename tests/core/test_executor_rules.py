"""The executor's own rules (envtui.core.prune.executor), over caches and places beside them made by
hand: each entry deleted under its own lock and reported as what happened to it (deleted only when
nothing of it was left, failed with where and why, skipped when its lock was taken meanwhile), the
bytes measured while deleting (never the predicted ones), uv's root lock taken and released, a
stop asked before each entry, and uv's own uninstall judged by what it removed. uv is a stand-in
here (run_uv replaced). Fast: the mutation run's tests."""

from __future__ import annotations

import errno
import fcntl
import os
import shutil
import threading
from dataclasses import replace
from pathlib import Path

import pytest

from envtui.core.locks import ProcessInfo, entry_lock_held, probe_root_lock, try_lock_root
from envtui.core.prune import CacheBusy, Kind, PlanEntry, Policies, execute_plan, plan_entries, plan_prune
from envtui.core.prune import executor
from envtui.core.prune.executor import DELETED, FAILED, SKIPPED, PruneResult, Step, rules_for
from envtui.core.prune.machine import plan_outside, plan_project_envs
from envtui.core.prune.outside import OutsideRules
from envtui.core.prune.records import PROJECTS, TOOLS, Plan, Skipped, UvCommand
from envtui.core.prune.safety import Rules
from tests.core.handmade import _no_process_scan  # noqa: F401 (an autouse fixture)
from tests.core.handmade import BLOCK, OLD, cached_env, make_cache, pyvenv, scan, script_env, unpacked


@pytest.fixture(autouse=True)
def _empty_working_directory(tmp_path_factory, monkeypatch):
    monkeypatch.chdir(tmp_path_factory.mktemp("cwd"))


def du(*paths: Path) -> int:
    """Disk bytes under ``paths`` (themselves included), each inode once, links not followed."""
    seen, total = set(), 0
    for path in paths:
        if not os.path.lexists(path):
            continue
        for p in [path, *path.rglob("*")] if path.is_dir() and not path.is_symlink() else [path]:
            st = os.lstat(p)
            if (st.st_dev, st.st_ino) not in seen:
                seen.add((st.st_dev, st.st_ino))
                total += st.st_blocks * 512
    return total


def old_envs(tmp_path: Path, *names: str, size: int = 2 * BLOCK) -> tuple[Path, list[Path]]:
    root = make_cache(tmp_path / "cache", "environments-v2")
    return root, [script_env(root, tmp_path / "w" / f"{n}.py", used=OLD, built=OLD, size=size) for n in names]


def older(root: Path, **kw):
    return plan_prune(scan(root), Policies(older_than_days=1), exclusive=True, **kw)


class Recorder:
    """``on_step`` and ``on_progress`` at once."""

    def __init__(self) -> None:
        self.steps: list[Step] = []
        self.progress: list[tuple[int, int, Path]] = []

    def step(self, s: Step) -> None:
        self.steps.append(s)

    def __call__(self, done: int, total: int, entry: PlanEntry) -> None:
        self.progress.append((done, total, entry.path))


# -- what happened to each entry --------------------------------------------------------------------------


def test_each_entry_is_reported_as_it_is_deleted(tmp_path):
    root, (a, b) = old_envs(tmp_path, "a", "b")
    plan = older(root)
    rec = Recorder()
    before = du(root)
    result = execute_plan(plan, on_step=rec.step, on_progress=rec)
    assert [(s.done, s.total, s.entry, s.state, s.why) for s in rec.steps] == [
        (1, 2, plan.entries[0], DELETED, ""), (2, 2, plan.entries[1], DELETED, "")]
    assert rec.progress == [(1, 2, plan.entries[0].path), (2, 2, plan.entries[1].path)]
    assert result.deleted == plan.entries and result.errors == () and result.skipped == ()
    assert result.complete and result.cancelled is False and result.exclusive and result.measure == "walk"
    assert result.plan is plan
    assert result.measured_bytes == result.predicted_bytes == plan.bytes_freed == before - du(root)
    assert not a.exists() and not b.exists()


def test_an_entry_whose_lock_is_taken_right_before_its_turn_is_skipped_and_the_rest_go_on(tmp_path, monkeypatch):
    root, (a, b) = old_envs(tmp_path, "a", "b")
    for e in (a, b):
        (e / ".lock").write_bytes(b"")
    plan = older(root)
    real = executor.lock_entry

    def taken(lock):
        if lock == a / ".lock":
            raise BlockingIOError(errno.EAGAIN, "Resource temporarily unavailable")
        return real(lock)

    monkeypatch.setattr(executor, "lock_entry", taken)
    rec = Recorder()
    result = execute_plan(plan, on_step=rec.step, on_progress=rec)
    why = f"its lock {a / '.lock'} is held: a uv is writing it"
    assert [(s.done, s.total, s.entry.path, s.state, s.why) for s in rec.steps] == [
        (1, 2, a, SKIPPED, why), (2, 2, b, DELETED, "")]
    assert rec.progress == [(1, 2, a), (2, 2, b)]
    assert result.skipped == (Skipped(a, Kind.SCRIPT_ENV, why),)
    assert [e.path for e in result.deleted] == [b] and result.errors == () and not result.complete
    assert a.exists() and not b.exists()
    assert result.measured_bytes < result.predicted_bytes


def test_each_entry_s_own_lock_is_held_while_it_is_deleted_and_released_after(tmp_path, monkeypatch):
    root = make_cache(tmp_path / "cache", "environments-v2")
    link = cached_env(root, "8b0cbae4892decd7", "80437497dd3db7a4", "Target", used=OLD, built=OLD)
    lock = link.with_name("80437497dd3db7a4.lock")
    plan = older(root)
    assert plan.entries[0].paths == (link, lock, root / "archive-v0" / "Target")
    held = []
    real = executor.remove_path

    def remove(path, **kw):
        held.append((Path(path).name, entry_lock_held(lock) if lock.exists() else "gone"))
        return real(path, **kw)

    monkeypatch.setattr(executor, "remove_path", remove)
    opened = []
    real_lock = executor.lock_entry
    monkeypatch.setattr(executor, "lock_entry", lambda p: opened.append(real_lock(p)) or opened[-1])
    assert execute_plan(plan).complete
    assert held == [("80437497dd3db7a4", True), ("80437497dd3db7a4.lock", True), ("Target", "gone")]
    with pytest.raises(OSError):  # its descriptor was closed
        os.fstat(opened[0])


def test_an_entry_the_remover_left_part_of_failed_and_only_what_went_is_counted(tmp_path, monkeypatch):
    """Something of the entry stayed (another filesystem, a directory replaced meanwhile): not
    deleted, an error naming the first thing left and how many more; measured bytes are what went."""
    root, (a, b, c) = old_envs(tmp_path, "a", "b", "c", size=4 * BLOCK)
    plan = older(root)
    real = executor.remove_path
    left = {a: 1, b: 3}

    def remove(path, *, root, acc):
        out = real(path, root=root, acc=acc)
        if Path(path) in left:
            for i in range(left[Path(path)]):
                acc.left.append((f"{path}/stuck{i}", "another filesystem"))
        return out

    monkeypatch.setattr(executor, "remove_path", remove)
    rec = Recorder()
    before = du(root)
    result = execute_plan(plan, on_step=rec.step)
    assert [(s.done, s.total, s.entry, s.state, s.why) for s in rec.steps] == [
        (1, 3, plan.entries[0], FAILED, f"{a}/stuck0: another filesystem"),
        (2, 3, plan.entries[1], FAILED, f"{b}/stuck0: another filesystem (and 2 more left)"),
        (3, 3, plan.entries[2], DELETED, ""),
    ]
    assert result.errors == ((a, f"{a}/stuck0: another filesystem"), (b, f"{b}/stuck0: another filesystem (and 2 more left)"))
    assert [e.path for e in result.deleted] == [c] and not result.complete
    assert result.measured_bytes == before - du(root) and result.predicted_bytes == plan.bytes_freed


def test_an_entry_whose_removal_fails_part_way_is_an_error_and_counts_what_went(tmp_path, monkeypatch):
    root, (a, b) = old_envs(tmp_path, "a", "b", size=6 * BLOCK)
    plan = older(root)
    real = executor.remove_path

    def remove(path, **kw):
        if Path(path) == a:
            raise PermissionError(errno.EACCES, "Permission denied", str(a / "lib"))
        if Path(path) == b:
            raise OSError("the disk fell off")
        return real(path, **kw)

    monkeypatch.setattr(executor, "remove_path", remove)
    before = du(root)
    result = execute_plan(plan)
    assert result.errors == ((a, f"{a / 'lib'}: Permission denied"), (b, f"{b}: the disk fell off"))
    assert result.deleted == () and not result.complete
    # Each pyvenv.cfg went, nothing else: that is what is measured, not what was predicted.
    assert not (a / "pyvenv.cfg").exists() and (a / "lib").exists()
    assert result.measured_bytes == before - du(root) < result.predicted_bytes == plan.bytes_freed


def test_an_entry_that_leads_out_of_the_cache_when_its_turn_comes_fails_and_the_rest_go_on(tmp_path, monkeypatch):
    """The bucket is swapped for a link out of the cache after the last check: the remover
    refuses the entry (opened from the root, it leads outside), which fails; the next goes."""
    root = make_cache(tmp_path / "cache", "environments-v2", "archive-v0")
    a = script_env(root, tmp_path / "w" / "a.py", used=OLD, built=OLD)
    stray = unpacked(root, "Stray", "stray", "1.0")
    plan = plan_prune(scan(root), Policies(older_than_days=1, unreferenced=True), exclusive=True)
    assert [e.path for e in plan.entries] == [a, stray]
    elsewhere = tmp_path / "elsewhere"
    real = executor.lock_entry

    def swap(lock):
        if lock == a / ".lock":
            os.rename(root / "environments-v2", elsewhere)
            os.symlink(elsewhere, root / "environments-v2")
        return real(lock)

    monkeypatch.setattr(executor, "lock_entry", swap)
    rec = Recorder()
    result = execute_plan(plan, on_step=rec.step)
    assert [(s.entry.path, s.state) for s in rec.steps] == [(a, FAILED), (stray, DELETED)]
    assert "outside the cache root" in result.errors[0][1] and result.errors[0][0] == a
    assert (elsewhere / a.name / "pyvenv.cfg").exists() and not stray.exists()
    assert probe_root_lock(root).free


# -- bytes ----------------------------------------------------------------------------------------------------


def test_measured_bytes_are_what_deleting_freed_not_what_was_predicted(tmp_path, monkeypatch):
    """A file of the entry gets a hardlink outside the cache after the last check: deleting frees
    less than predicted, and the result says so."""
    root, (a,) = old_envs(tmp_path, "a", size=10 * BLOCK)
    plan = older(root)
    keep = tmp_path / "kept-by-a-project.py"
    real = executor.lock_entry

    def meanwhile(lock):
        os.link(a / "lib" / "own.py", keep)
        return real(lock)

    monkeypatch.setattr(executor, "lock_entry", meanwhile)
    before = du(root, keep)
    result = execute_plan(plan)
    assert result.complete and keep.exists()
    assert result.measured_bytes == before - du(root, keep) == result.predicted_bytes - du(keep)
    assert result.predicted_bytes == plan.bytes_freed


def test_measured_by_the_filesystem_s_free_blocks(tmp_path, monkeypatch):
    root, (a,) = old_envs(tmp_path, "a")
    plan = older(root)
    free = iter([1000, 5000])

    class Vfs:
        def __init__(self):
            self.f_bfree = next(free)
            self.f_bavail = 1
            self.f_frsize = 512
            self.f_bsize = 7

    asked = []
    monkeypatch.setattr(executor.os, "statvfs", lambda p: asked.append(p) or Vfs())
    result = execute_plan(plan, measure="statvfs")
    assert result.measured_bytes == (5000 - 1000) * 512 and result.measure == "statvfs"
    assert asked == [Path(os.path.realpath(root))] * 2


def test_walked_bytes_ask_the_filesystem_nothing(tmp_path, monkeypatch):
    root, (a,) = old_envs(tmp_path, "a")
    plan = older(root)
    monkeypatch.setattr(executor.os, "statvfs", lambda p: pytest.fail("asked the filesystem"))
    assert execute_plan(plan).measured_bytes == plan.bytes_freed


def test_the_free_bytes_are_the_free_blocks_in_fragment_units(monkeypatch):
    class Vfs:
        f_bfree, f_bavail, f_frsize, f_bsize = 10, 3, 512, 4096

    monkeypatch.setattr(executor.os, "statvfs", lambda p: Vfs())
    assert executor._free_bytes(Path("/")) == 5120


# -- uv's root lock ----------------------------------------------------------------------------------------


def _hold_shared(root: Path):
    fd = os.open(root / ".lock", os.O_RDWR | os.O_CREAT, 0o666)
    # A second open file description: flock sees it as another holder, as a uv would be.
    fcntl.flock(fd, fcntl.LOCK_SH)
    return fd


def test_a_busy_cache_is_refused_waited_for_or_gone_through_entry_by_entry(tmp_path, monkeypatch):
    root = make_cache(tmp_path / "cache", "environments-v2")
    a = script_env(root, tmp_path / "w" / "a.py", used=OLD, built=OLD)
    stray = unpacked(root, "Stray", "stray", "1.0")
    plan = plan_prune(scan(root), Policies(older_than_days=1, unreferenced=True), exclusive=True)
    holders = (ProcessInfo(11, "uv run a.py"),)
    monkeypatch.setattr(executor, "root_lock_holders", lambda r: list(holders) if r == Path(os.path.realpath(root)) else [])
    fd = _hold_shared(root)
    try:
        with pytest.raises(CacheBusy) as err:
            execute_plan(plan)
        assert err.value.holders == holders and "pid 11: uv run a.py" in str(err.value)
        assert a.exists() and stray.exists()
        with pytest.raises(CacheBusy):
            execute_plan(plan, wait=0.2)
        result = execute_plan(plan, go_on_if_busy=True)
        assert [e.path for e in result.deleted] == [a] and not result.exclusive and not result.complete
        assert [(s.path, s.reason) for s in result.skipped] == [
            (stray, "a uv is running and may be writing it (uv's root lock is held)")]
    finally:
        os.close(fd)
    # A uv that ends while envtui waits: the plan then runs under the lock.
    plan = plan_prune(scan(root), Policies(unreferenced=True), exclusive=True)
    fd = _hold_shared(root)
    threading.Timer(0.3, os.close, (fd,)).start()
    result = execute_plan(plan, wait=20)
    assert result.exclusive and [e.path for e in result.deleted] == [stray]


def test_cache_busy_names_who_holds_the_lock():
    assert str(CacheBusy(Path("/c"), ())) == "/c: uv's cache lock is held by a process envtui cannot see"
    two = (ProcessInfo(1, "uv sync"), ProcessInfo(2, "uvx black"))
    assert str(CacheBusy(Path("/c"), two)) == "/c: uv's cache lock is held by pid 1: uv sync; pid 2: uvx black"
    assert CacheBusy(Path("/c"), two).holders == two


def test_the_root_lock_is_taken_for_the_run_and_released_even_when_it_stops(tmp_path, monkeypatch):
    root, (a, b) = old_envs(tmp_path, "a", "b")
    plan = older(root)
    states = []
    real = executor.remove_path
    monkeypatch.setattr(executor, "remove_path",
                        lambda path, **kw: states.append(probe_root_lock(root).state) or real(path, **kw))
    execute_plan(plan)
    assert set(states) == {"held"} and probe_root_lock(root).free

    def boom(path, **kw):
        raise RuntimeError("unexpected")

    root2, _ = old_envs(tmp_path / "two", "c")
    monkeypatch.setattr(executor, "remove_path", boom)
    with pytest.raises(RuntimeError):
        execute_plan(older(root2))
    assert probe_root_lock(root2).free


def test_under_a_lock_the_caller_holds_it_is_used_and_kept(tmp_path):
    root, (a,) = old_envs(tmp_path, "a")
    lock = try_lock_root(root)
    try:
        plan = older(root, under=lock)
        result = execute_plan(plan, under=lock)
        assert result.complete and result.exclusive and lock.held
    finally:
        lock.release()
    with pytest.raises(ValueError, match=f"run under {lock.path}: that lock is no longer held"):
        execute_plan(plan, under=lock)


def test_what_became_referenced_since_the_plan_says_so_and_other_reasons_are_left_as_they_are(tmp_path):
    root = make_cache(tmp_path / "cache", "environments-v2", "wheels-v8")
    linked = unpacked(root, "Linked", "linked", "1.0")
    locked = unpacked(root, "Locked", "locked", "1.0")
    entries = [PlanEntry(Kind.ARCHIVE, p, (p,), p.name, ("m",), lock=p.with_name(p.name + ".lock")) for p in (linked, locked)]
    plan = plan_entries(scan(root), entries, exclusive=True)
    assert [e.path for e in plan.entries] == [linked, locked]
    (root / "wheels-v8" / "w").symlink_to("../archive-v0/Linked")
    lock = locked.with_name("Locked.lock")
    lock.write_bytes(b"")
    fd = os.open(lock, os.O_RDWR)
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        result = execute_plan(plan)
    finally:
        os.close(fd)
    # What a rule of its own refuses comes first, then what the others' links keep.
    assert [(s.path, s.reason) for s in result.skipped] == [
        (locked, f"its lock {lock} is held: a uv is writing it"),
        (linked, f"referenced: {os.path.realpath(root)}/wheels-v8/w links to {os.path.realpath(linked)} (since the plan was made)"),
    ]
    assert result.deleted == () and result.predicted_bytes == 0 == result.measured_bytes


def test_skipped_entries_of_the_plan_come_first(tmp_path, monkeypatch):
    root, (a,) = old_envs(tmp_path, "a")
    plan = older(root)
    before = Skipped(tmp_path / "x", Kind.ARCHIVE, "kept at plan time")
    plan = replace(plan, skipped=(before,))
    monkeypatch.setattr(executor, "lock_entry", lambda lock: (_ for _ in ()).throw(BlockingIOError(11, "held")))
    result = execute_plan(plan)
    assert [s.reason for s in result.skipped] == ["kept at plan time", f"its lock {a / '.lock'} is held: a uv is writing it"]


# -- stopping -----------------------------------------------------------------------------------------------


def test_a_stop_asked_before_each_entry_ends_the_run_there(tmp_path):
    root, (a, b, c) = old_envs(tmp_path, "a", "b", "c")
    plan = older(root)
    rec = Recorder()

    def should_stop():
        import sys

        caller = sys._getframe(1).f_code.co_name
        return "execute_plan" in caller and len(rec.steps) >= 1

    result = execute_plan(plan, on_step=rec.step, should_stop=should_stop)
    assert [e.path for e in result.deleted] == [a] and result.cancelled and not result.complete
    assert b.exists() and c.exists() and [s.entry.path for s in rec.steps] == [a]
    assert probe_root_lock(root).free


def test_complete_means_every_planned_entry_deleted_nothing_failed_nothing_cancelled(tmp_path):
    e = PlanEntry(Kind.ARCHIVE, tmp_path / "a", (tmp_path / "a",), "a")
    plan = Plan(tmp_path, (e,), (), 0, 0, True)

    def result(deleted=(e,), errors=(), cancelled=False):
        return PruneResult(plan, tuple(deleted), (), tuple(errors), 0, 0, True, cancelled)

    assert result().complete
    assert not result(deleted=()).complete
    assert not result(errors=((e.path, "x"),)).complete
    assert not result(cancelled=True).complete
    assert PruneResult(replace(plan, entries=()), (), (), (), 0, 0, True).complete
    assert PruneResult(plan, (e,), (), (), 0, 0, True).measure == "walk"
    assert PruneResult(plan, (e,), (), (), 0, 0, True).cancelled is False


# -- beside the cache --------------------------------------------------------------------------------------


def _venv(path: Path, size: int = 3 * BLOCK) -> Path:
    return pyvenv(path, size=size)


def test_rules_for_a_plan_are_its_place_s_resolved_afresh(tmp_path):
    root = make_cache(tmp_path / "cache")
    link = tmp_path / "cache-link"
    link.symlink_to(root)
    rules = rules_for(Plan(link, (), (), 0, 0, True))
    assert isinstance(rules, Rules) and rules.root == Path(os.path.realpath(root))
    projects = tmp_path / "projects"
    projects.mkdir()
    plan = plan_project_envs([], [projects, tmp_path / "more"], keep_out=[root])
    outside = rules_for(plan)
    assert isinstance(outside, OutsideRules) and outside.scope == PROJECTS
    assert outside.roots == (projects, tmp_path / "more") and [k.top for k in outside.keep_out] == [str(root)]


def test_outside_the_cache_each_entry_is_removed_from_its_own_root_with_no_root_lock(tmp_path, monkeypatch):
    one, two = tmp_path / "one", tmp_path / "two"
    a, b = _venv(one / "a" / ".venv"), _venv(two / "b" / ".venv")
    plan = plan_project_envs([(a, "a"), (b, "b")], [one, two])
    calls = []
    real = executor.remove_path
    monkeypatch.setattr(executor, "remove_path", lambda path, **kw: calls.append((Path(path), kw["root"])) or real(path, **kw))
    monkeypatch.setattr(executor, "try_lock_root", lambda r: pytest.fail("no root lock outside the cache"))
    result = execute_plan(plan)
    assert result.complete and result.exclusive
    assert calls == [(a / "pyvenv.cfg", str(one)), (a, str(one)), (b / "pyvenv.cfg", str(two)), (b, str(two))]


def test_outside_an_entry_whose_root_no_longer_holds_it_fails_and_nothing_outside_goes(tmp_path, monkeypatch):
    """The project directory is swapped for a link out of the root after the last check: the
    entry fails and the venv it now leads to stays."""
    root, far = tmp_path / "root", tmp_path / "far"
    venv = _venv(root / "p" / ".venv")
    there = _venv(far / "p" / ".venv")
    plan = plan_project_envs([(venv, "p")], [root])
    real = executor.lock_entry

    def swap(lock):
        os.rename(root / "p", tmp_path / "moved")
        os.symlink(far / "p", root / "p")
        return real(lock)

    monkeypatch.setattr(executor, "lock_entry", swap)
    rec = Recorder()
    result = execute_plan(plan, on_step=rec.step)
    why = f"{venv / 'pyvenv.cfg'}: no longer inside {root}"
    assert [(s.done, s.entry, s.state, s.why) for s in rec.steps] == [(1, plan.entries[0], FAILED, why)]
    assert result.errors == ((venv, why),) and result.deleted == () and not result.complete
    assert (there / "pyvenv.cfg").exists() and (there / "lib" / "own.py").exists()


def test_outside_the_message_names_every_root_an_entry_is_no_longer_in(tmp_path, monkeypatch):
    one, two = tmp_path / "one", tmp_path / "two"
    venv = _venv(two / "p" / ".venv")
    (one / "x").mkdir(parents=True)
    plan = plan_project_envs([(venv, "p")], [one, two])
    far = tmp_path / "far"
    _venv(far / "p" / ".venv")

    def swap(lock):
        os.rename(two / "p", tmp_path / "moved")
        os.symlink(far / "p", two / "p")

    monkeypatch.setattr(executor, "lock_entry", swap)
    result = execute_plan(plan)
    assert result.errors == ((venv, f"{venv / 'pyvenv.cfg'}: no longer inside {one} or {two}"),)


# -- uv's own uninstall -------------------------------------------------------------------------------------


class FakeUv:
    """``run_uv`` replaced: ``action(argv, env)`` does what uv would, then its lines and status."""

    def __init__(self, action=None, lines=(), status=0, raises=None):
        self.action, self.lines, self.status, self.raises = action, lines, status, raises
        self.calls = []

    def __call__(self, argv, cache_root, on_line, *, should_stop=None, env=None):
        self.calls.append((tuple(argv), None if cache_root is None else Path(cache_root), should_stop, dict(env)))
        if self.raises is not None:
            raise self.raises
        if self.action is not None:
            self.action(argv, env)
        for line in self.lines:
            on_line(line)
        return self.status


def _tool(tools: Path, name: str) -> Path:
    t = _venv(tools / name)
    (t / "uv-receipt.toml").write_text("[tool]\n")
    return t


def _uninstall(tool: Path, *extra: Path, **kw) -> PlanEntry:
    return PlanEntry(Kind.TOOL, tool, (tool, *extra), tool.name, ("asked for",), uses=(tool,),
                     command=UvCommand(("uv", "tool", "uninstall", "--", tool.name),
                                       (("UV_TOOL_DIR", str(tool.parent)), ("UV_CACHE_DIR", str(tool.parent.parent / "cache")))),
                     **kw)


@pytest.fixture
def fake_uv(monkeypatch):
    from envtui.core import uvcli

    def install(**kw) -> FakeUv:
        fake = FakeUv(**kw)
        monkeypatch.setattr(uvcli, "run_uv", fake)
        return fake

    return install


def test_a_uv_command_that_removes_its_entry_and_nothing_else_deletes_it(tmp_path, fake_uv):
    tools = tmp_path / "tools"
    black, ruff = _tool(tools, "black"), _tool(tools, "ruff")
    plan = plan_outside(TOOLS, [tools], [_uninstall(black), _uninstall(ruff)])
    fake = fake_uv(action=lambda argv, env: shutil.rmtree(tools / argv[-1]), lines=["Uninstalled 1 executable"])
    lines, rec = [], Recorder()
    stop = lambda: False
    result = execute_plan(plan, on_line=lines.append, on_step=rec.step, on_progress=rec, should_stop=stop,
                          environ={"PATH": "/bin", "UV_TOOL_DIR": "/wrong"})
    assert result.complete and [s.state for s in rec.steps] == [DELETED, DELETED]
    assert rec.progress == [(1, 2, black), (2, 2, ruff)]
    assert lines == ["Uninstalled 1 executable"] * 2
    assert result.measured_bytes == plan.entries[0].bytes_alone + plan.entries[1].bytes_alone == plan.bytes_freed > 0
    argv, cache, asked, env = fake.calls[0]
    assert argv == ("uv", "tool", "uninstall", "--", "black") and asked is stop
    assert env == {"PATH": "/bin", "UV_TOOL_DIR": str(tools), "UV_CACHE_DIR": str(tmp_path / "cache")}
    assert cache == tmp_path / "cache"


def test_a_uv_command_runs_in_this_process_s_environment_and_with_the_cache_it_names(tmp_path, fake_uv, monkeypatch):
    tools = tmp_path / "tools"
    black = _tool(tools, "black")
    entry = _uninstall(black)
    entry = replace(entry, command=UvCommand(entry.command.argv, (("UV_CACHE_DIR", "/the/cache"),)))
    monkeypatch.setenv("ENVTUI_SEEN", "yes")
    monkeypatch.setenv("UV_CACHE_DIR", "/users/cache")
    fake = fake_uv(action=lambda argv, env: shutil.rmtree(tools / argv[-1]))
    assert execute_plan(plan_outside(TOOLS, [tools], [entry])).complete
    _, cache, _, env = fake.calls[0]
    assert cache == Path("/the/cache") and env["ENVTUI_SEEN"] == "yes" and env["UV_CACHE_DIR"] == "/the/cache"
    # Named by the environment only: that one.
    ruff = _tool(tools, "ruff")
    entry = replace(_uninstall(ruff), command=UvCommand(("uv", "tool", "uninstall", "--", "ruff")))
    assert execute_plan(plan_outside(TOOLS, [tools], [entry])).complete
    assert fake.calls[-1][1] == Path("/users/cache")


def test_a_uv_command_in_the_cache_runs_with_that_cache(tmp_path, fake_uv, monkeypatch):
    root = make_cache(tmp_path / "cache", "wheels-v8")
    page = root / "wheels-v8" / "p"
    page.mkdir()
    monkeypatch.delenv("UV_CACHE_DIR", raising=False)
    entry = PlanEntry(Kind.CACHE_ENTRY, page, (page,), "p", ("m",), command=UvCommand(("uv", "cache", "clean", "--", "p")))
    fake = fake_uv(action=lambda argv, env: page.rmdir())
    assert execute_plan(plan_entries(scan(root), [entry], exclusive=True)).complete
    assert fake.calls[0][1] == Path(os.path.realpath(root))


@pytest.mark.parametrize("lines,status,why", [
    (["error: No such tool", "", "  "], 2, "uv exited with status 2: error: No such tool"),
    (["  warning: x  ", "error: last  "], 1, "uv exited with status 1: error: last"),
    ([], 3, "uv exited with status 3"),
    (["", " "], -9, "uv exited with status -9"),
])
def test_a_uv_command_that_fails_is_an_error_with_its_status_and_last_words(tmp_path, fake_uv, lines, status, why):
    tools = tmp_path / "tools"
    black = _tool(tools, "black")
    fake_uv(lines=lines, status=status)
    rec = Recorder()
    plan = plan_outside(TOOLS, [tools], [_uninstall(black)])
    result = execute_plan(plan, on_step=rec.step)
    assert result.errors == ((black, why),) and [(s.done, s.total, s.entry, s.state, s.why) for s in rec.steps] == [
        (1, 1, plan.entries[0], FAILED, why)]
    assert result.measured_bytes == 0 and black.exists() and not result.complete


def test_a_uv_that_cannot_be_started_is_an_error(tmp_path, fake_uv):
    tools = tmp_path / "tools"
    black = _tool(tools, "black")
    fake_uv(raises=FileNotFoundError(errno.ENOENT, "No such file or directory", "uv"))
    result = execute_plan(plan_outside(TOOLS, [tools], [_uninstall(black)]))
    assert result.errors == ((black, "uv could not be started: No such file or directory"),)
    fake_uv(raises=OSError("odd"))
    result = execute_plan(plan_outside(TOOLS, [tools], [_uninstall(black)]))
    assert result.errors == ((black, "uv could not be started: odd"),)


def test_a_uv_command_whose_lock_is_held_right_before_is_skipped_without_running_uv(tmp_path, fake_uv, monkeypatch):
    tools = tmp_path / "tools"
    black = _tool(tools, "black")
    lock = tools / ".lock"
    lock.write_bytes(b"")
    plan = plan_outside(TOOLS, [tools], [_uninstall(black, lock=lock)])
    fake = fake_uv()
    monkeypatch.setattr(executor, "entry_lock_held", lambda p: p == lock)
    rec = Recorder()
    result = execute_plan(plan, on_step=rec.step)
    why = f"its lock {lock} is held: a uv is changing it"
    assert fake.calls == [] and [(s.done, s.total, s.entry, s.state, s.why) for s in rec.steps] == [
        (1, 1, plan.entries[0], SKIPPED, why)]
    assert result.skipped == (Skipped(black, Kind.TOOL, why),) and result.errors == () and not result.complete
    monkeypatch.setattr(executor, "entry_lock_held", lambda p: False)
    fake_uv(action=lambda argv, env: shutil.rmtree(black))
    assert execute_plan(plan).complete


def test_a_uv_command_that_leaves_any_of_its_paths_failed(tmp_path, fake_uv):
    from envtui.core.prune.records import PYTHONS

    pydir = tmp_path / "py"
    link = pydir / "cpython-3.12-linux-x86_64-gnu"
    other = _venv(pydir / "cpython-3.12.1-linux-x86_64-gnu")

    def python_plan(patch: int) -> tuple[Path, Plan]:
        new = _venv(pydir / f"cpython-3.12.{patch}-linux-x86_64-gnu")
        if os.path.lexists(link):
            link.unlink()
        link.symlink_to(new.name)
        entry = PlanEntry(Kind.MANAGED_PYTHON, new, (new, link), new.name, ("asked for",), uses=(new, link),
                          command=UvCommand(("uv", "python", "uninstall", "--", new.name)))
        plan = plan_outside(PYTHONS, [pydir], [entry])
        assert [e.path for e in plan.entries] == [new]
        return new, plan

    # The installation goes, the link stays (pointing at nothing): failed.
    new, plan = python_plan(2)
    fake_uv(action=lambda argv, env: shutil.rmtree(new))
    assert execute_plan(plan).errors == ((new, f"uv exited 0, but {link} is still there"),)
    # The link goes, the installation stays: failed as well.
    new, plan = python_plan(3)
    fake_uv(action=lambda argv, env: link.unlink())
    assert execute_plan(plan).errors == ((new, f"uv exited 0, but {new} is still there"),)
    # A link uv pointed elsewhere counts as gone.
    new, plan = python_plan(4)

    def repoint(argv, env):
        shutil.rmtree(new)
        link.unlink()
        link.symlink_to(other.name)

    fake_uv(action=repoint)
    result = execute_plan(plan)
    assert result.complete, result.errors
    # A link made again, pointing where it did, is still there.
    new, plan = python_plan(5)

    def same(argv, env):
        shutil.rmtree(new)
        link.unlink()
        link.symlink_to(new.name)

    fake_uv(action=same)
    assert execute_plan(plan).errors == ((new, f"uv exited 0, but {link} is still there"),)


def test_a_uv_command_that_removed_more_than_its_entry_failed_naming_what(tmp_path, fake_uv):
    tools = tmp_path / "tools"
    black, ruff, isort = _tool(tools, "black"), _tool(tools, "ruff"), _tool(tools, "isort")
    (tools / "zz-file").write_bytes(b"")

    def greedy(argv, env):
        for t in (black, ruff, isort):
            shutil.rmtree(t)
        os.unlink(tools / "zz-file")

    fake_uv(action=greedy)
    result = execute_plan(plan_outside(TOOLS, [tools], [_uninstall(black)]))
    assert result.errors == ((black, f"uv also removed {isort}, {ruff}, {tools / 'zz-file'}, which the plan did not list"),)
    assert result.deleted == () and result.measured_bytes == 0


def test_a_uv_command_is_judged_only_by_what_it_changed_in_its_entry_s_directory(tmp_path, fake_uv):
    tools = tmp_path / "tools"
    black = _tool(tools, "black")
    plan = plan_outside(TOOLS, [tools], [_uninstall(black)])

    def and_adds(argv, env):
        shutil.rmtree(black)
        (tools / "new-receipt").write_bytes(b"")  # something new is no loss

    fake_uv(action=and_adds)
    assert execute_plan(plan).complete


def test_the_listing_of_a_directory_names_links_by_their_target(tmp_path):
    (tmp_path / "d").mkdir()
    (tmp_path / "f").write_bytes(b"")
    (tmp_path / "l").symlink_to("somewhere")
    assert executor._listing(str(tmp_path)) == {"d": None, "f": None, "l": "somewhere"}
    assert executor._listing(str(tmp_path / "missing")) == {}
    assert executor._listing(str(tmp_path / "f")) == {}


def test_a_link_whose_target_cannot_be_read_is_listed_as_no_link(tmp_path, monkeypatch):
    (tmp_path / "l").symlink_to("somewhere")
    monkeypatch.setattr(executor.os, "readlink", lambda p: (_ for _ in ()).throw(PermissionError(13, "no")))
    assert executor._listing(str(tmp_path)) == {"l": None}


def test_a_plan_mixing_uv_commands_and_envtui_s_remover(tmp_path, fake_uv):
    tools = tmp_path / "tools"
    black = _tool(tools, "black")
    plain = _tool(tools, "plain")
    entries = [_uninstall(black), PlanEntry(Kind.TOOL, plain, (plain,), "plain", ("asked for",), uses=(plain,))]
    plan = plan_outside(TOOLS, [tools], entries)
    fake_uv(action=lambda argv, env: shutil.rmtree(black))
    before = du(tools)
    result = execute_plan(plan)
    assert result.complete and not black.exists() and not plain.exists()
    assert result.measured_bytes == before - du(tools) == plan.bytes_freed


def test_a_bind_mount_made_inside_an_entry_after_the_last_check_is_never_emptied(tmp_path, monkeypatch):
    """The mount points are read as the entry is deleted, not when the plan was checked: a
    directory from outside bind-mounted in meanwhile (same filesystem, same st_dev) stays."""
    import subprocess

    if os.geteuid() != 0:
        pytest.skip("mount --bind needs root")
    root, (a, b) = old_envs(tmp_path, "a", "b")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "precious.txt").write_text("precious")
    (a / "lib" / "data").mkdir()
    plan = older(root)
    assert [e.path for e in plan.entries] == [a, b]
    mounted = []
    real = executor.lock_entry

    def mount_meanwhile(lock):
        if lock == a / ".lock" and not mounted:
            if subprocess.run(["mount", "--bind", str(outside), str(a / "lib" / "data")]).returncode != 0:
                pytest.skip("mount --bind refused here")
            mounted.append(a / "lib" / "data")
        return real(lock)

    monkeypatch.setattr(executor, "lock_entry", mount_meanwhile)
    try:
        rec = Recorder()
        result = execute_plan(plan, on_step=rec.step)
        assert (outside / "precious.txt").read_text() == "precious"
        assert [(s.entry.path, s.state) for s in rec.steps] == [(a, FAILED), (b, DELETED)]
        assert result.errors[0][1].startswith(f"{a / 'lib' / 'data'}: ")
    finally:
        for m in mounted:
            subprocess.run(["umount", str(m)], check=True)


def test_what_uninstalled_tools_shared_is_counted_once_both_are_gone(tmp_path, fake_uv):
    tools = tmp_path / "tools"
    black, ruff, isort = _tool(tools, "black"), _tool(tools, "ruff"), _tool(tools, "isort")
    (black / "lib" / "shared.py").write_bytes(os.urandom(8 * BLOCK))
    os.link(black / "lib" / "shared.py", ruff / "lib" / "shared.py")
    os.link(black / "lib" / "shared.py", isort / "lib" / "shared.py")
    plan = plan_outside(TOOLS, [tools], [_uninstall(black), _uninstall(ruff)])
    assert plan.bytes_freed == sum(e.bytes_alone for e in plan.entries)  # isort keeps the shared file
    fake_uv(action=lambda argv, env: shutil.rmtree(tools / argv[-1]))
    before = du(tools)
    result = execute_plan(plan)
    assert result.complete and result.measured_bytes == before - du(tools) == plan.bytes_freed
    # isort goes too: the shared file is freed with the last of the three, and counted.
    plan = plan_outside(TOOLS, [tools], [_uninstall(isort)])
    before = du(tools)
    assert execute_plan(plan).measured_bytes == before - du(tools) == plan.bytes_freed
    # Two that share a file, uninstalled together: it is freed, and counted, once.
    a, b = _tool(tools, "a"), _tool(tools, "b")
    (a / "lib" / "shared.py").write_bytes(os.urandom(8 * BLOCK))
    os.link(a / "lib" / "shared.py", b / "lib" / "shared.py")
    plan = plan_outside(TOOLS, [tools], [_uninstall(a), _uninstall(b)])
    before = du(tools)
    result = execute_plan(plan)
    assert result.measured_bytes == before - du(tools) == plan.bytes_freed > sum(e.bytes_alone for e in plan.entries)
    # One of the two fails: only what the other frees alone is counted.
    a, b = _tool(tools, "a"), _tool(tools, "b")
    (a / "lib" / "shared.py").write_bytes(os.urandom(8 * BLOCK))
    os.link(a / "lib" / "shared.py", b / "lib" / "shared.py")
    plan = plan_outside(TOOLS, [tools], [_uninstall(a), _uninstall(b)])
    fake_uv(action=lambda argv, env: shutil.rmtree(tools / argv[-1]) if argv[-1] == "a" else None)
    before = du(tools)
    result = execute_plan(plan)
    assert [e.path for e in result.deleted] == [a]
    assert result.measured_bytes == before - du(tools) == plan.entries[0].bytes_alone


# -- what the run is handed ------------------------------------------------------------------------------------


def test_the_root_lock_is_waited_for_only_when_asked_and_with_the_stop(tmp_path, monkeypatch):
    root, (a,) = old_envs(tmp_path, "a")
    plan = older(root)
    waits = []
    monkeypatch.setattr(executor, "wait_lock_root", lambda r, wait, should_stop=None: waits.append((r, wait, should_stop)))
    # Free: taken at once, never waited for.
    assert execute_plan(plan, wait=5).complete and waits == []
    root, (a,) = old_envs(tmp_path / "busy", "a")
    plan = older(root)
    fd = _hold_shared(root)
    try:
        with pytest.raises(CacheBusy):
            execute_plan(plan)  # no wait by default
        with pytest.raises(CacheBusy):
            execute_plan(plan, wait=0)
        assert waits == []
        stop = lambda: False
        with pytest.raises(CacheBusy):
            execute_plan(plan, wait=0.5, should_stop=stop)
        assert waits == [(Path(os.path.realpath(root)), 0.5, stop)]
    finally:
        os.close(fd)


class Hidden:
    """Processes in which one that cannot be inspected may be using everything."""

    process = ProcessInfo(99, "?", "cannot be inspected (user bob, uid 1001): may use it", uncertain=True)

    def __call__(self):
        return self

    def using(self, dirs, parents=None):
        return [self.process]


def test_what_only_a_process_envtui_cannot_inspect_may_use_is_kept_unless_told(tmp_path, monkeypatch):
    from envtui.core.prune import safety

    root, (a,) = old_envs(tmp_path, "a")
    plan = older(root)
    monkeypatch.setattr(safety, "ProcessPaths", Hidden())
    result = execute_plan(plan)
    assert result.deleted == () and [(s.path, s.kind, s.processes) for s in result.skipped] == [
        (a, Kind.SCRIPT_ENV, (Hidden.process,))]
    assert result.skipped[0].reason == ("may be in use by a process envtui cannot inspect (another user's); "
                                        "go on only if you know it is not")
    assert [e.path for e in execute_plan(plan, ignore_uncertain=True).deleted] == [a]


def test_a_plan_s_own_checks_are_reused_only_under_the_very_lock_it_was_made_under(tmp_path):
    root = make_cache(tmp_path / "cache", "environments-v2", "wheels-v8")
    stray = unpacked(root, "Stray", "stray", "1.0")
    lock = try_lock_root(root)
    try:
        plan = plan_prune(scan(root), Policies(unreferenced=True), exclusive=True, under=lock)
    finally:
        lock.release()
    assert plan.vetted is not None
    # A uv linked it since the lock was released: a fresh look sees it.
    (root / "wheels-v8" / "w").symlink_to("../archive-v0/Stray")
    result = execute_plan(plan)
    assert result.deleted == () and stray.exists() and "since the plan was made" in result.skipped[0].reason
    other = try_lock_root(root)
    try:
        assert execute_plan(plan, under=other).deleted == () and stray.exists()
    finally:
        other.release()


def test_the_run_hands_its_stop_to_the_walk_and_the_look_for_links(tmp_path):
    from envtui.core.errors import ScanCancelled
    from tests.core.handmade import stop_within

    root = make_cache(tmp_path / "cache", "environments-v2")
    stray = unpacked(root, "Stray", "stray", "1.0")
    plan = plan_prune(scan(root), Policies(unreferenced=True), exclusive=True)
    for where in ("add", "find_references"):  # Freed.add: the walk of the entries' paths
        with pytest.raises(ScanCancelled):
            execute_plan(plan, should_stop=stop_within(where))
        assert stray.exists() and probe_root_lock(root).free


def test_what_is_not_what_its_place_deletes_is_refused_whole_before_anything_else(tmp_path, monkeypatch):
    """A project environment that holds no pyvenv.cfg any more is skipped as unsafe, saying
    what it is, even while a process uses it (its place's own rule is asked first)."""
    from envtui.core.prune import safety

    root = tmp_path / "r"
    venv = _venv(root / "p" / ".venv")
    plan = plan_project_envs([(venv, "p")], [root])
    (venv / "pyvenv.cfg").unlink()
    monkeypatch.setattr(safety, "ProcessPaths", Hidden())
    result = execute_plan(plan)
    assert result.skipped == (Skipped(venv, Kind.PROJECT_ENV, f"unsafe: {venv} holds no regular pyvenv.cfg: not a virtual environment"),)
    assert result.deleted == () and venv.exists()
