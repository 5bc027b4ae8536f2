"""Orphans, dangling links, leftovers and unreferenced archive entries (envtui.core.prune.references),
and scripts proven from their environment's key (envtui.core.orphans), over caches made by hand.
Gone means the system said "no such file"; a script, interpreter or directory that cannot be
checked (permission denied) is unknown: never gone, never an orphan. Fast: the mutation run's tests."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from envtui.core import orphans
from envtui.core.digest import PathKey, SeaHasher, cache_digest
from envtui.core.environments import SCRIPT, Environment
from envtui.core.errors import ScanCancelled
from envtui.core.orphans import ProvenScript, prove_scripts
from envtui.core.prune import Kind, Policies, Rules, plan_prune
from envtui.core.prune.references import CacheFacts, gather_facts
from tests.core.handmade import _no_process_scan  # noqa: F401 (an autouse fixture)
from tests.core.handmade import OLD, cached_env, make_cache, pyvenv, scan, script_env, unpacked, wheel_link


@pytest.fixture(autouse=True)
def _empty_working_directory(tmp_path_factory, monkeypatch):
    monkeypatch.chdir(tmp_path_factory.mktemp("cwd"))


def deny(monkeypatch, *dirs: Path) -> None:
    """Make everything strictly below ``dirs`` fail as a directory without search permission does
    for another user (``EACCES``): we run as root, whom the kernel never refuses."""
    real_lstat, real_stat = os.lstat, os.stat
    tops = tuple(os.fspath(d).rstrip("/") + "/" for d in dirs)

    def check(path):
        p = os.fspath(path)
        if isinstance(p, str) and p.startswith(tops):
            raise PermissionError(errno.EACCES, "Permission denied", p)

    def lstat(path, *a, **kw):
        check(path)
        return real_lstat(path, *a, **kw)

    def stat_(path, *a, **kw):
        check(path)
        return real_stat(path, *a, **kw)

    monkeypatch.setattr(os, "lstat", lstat)
    monkeypatch.setattr(os, "stat", stat_)


def facts(root: Path, scripts=()) -> CacheFacts:
    return gather_facts(scan(root, scripts), Rules(root))


def env_of(root: Path, scripts, path: Path) -> Environment:
    return next(e for e in scan(root, scripts).environments if e.path == path)


def orphan_plan(root: Path, scripts=()):
    return plan_prune(scan(root, scripts), Policies(orphans=True), exclusive=True, known_scripts=[str(s) for s in scripts])


# -- a script that is gone, there, or unknown -------------------------------------------------------------


def test_a_script_that_is_gone_makes_an_orphan_and_one_that_is_there_does_not(tmp_path):
    root = make_cache(tmp_path / "cache", "environments-v2")
    gone, there = tmp_path / "work" / "gone.py", tmp_path / "work" / "there.py"
    there.parent.mkdir()
    there.write_text("print()")
    g = script_env(root, gone)
    script_env(root, there)
    p = orphan_plan(root, [gone, there])
    assert [(e.path, e.reasons) for e in p.entries] == [(g, (f"orphan: its script {gone} is gone",))]
    f = facts(root, [gone, there])
    assert f.orphan_reason(env_of(root, [gone, there], g), {}) == f"orphan: its script {gone} is gone"
    assert f.orphan_doubt(env_of(root, [gone, there], g), {}) is None


def test_a_script_known_only_by_name_is_asked_again(tmp_path):
    root = make_cache(tmp_path / "cache", "environments-v2")
    script = tmp_path / "work" / "s.py"
    e = script_env(root, script)
    f = facts(root)
    env = env_of(root, [], e)
    assert env.script is None
    assert f.orphan_reason(env, {env.key: str(script)}) == f"orphan: its script {script} is gone"
    assert f.orphan_reason(env, {"other-0123456789abcdef": str(script)}) is None
    # Said gone by the planner, there by now: no orphan.
    script.parent.mkdir()
    script.write_text("")
    assert f.orphan_reason(env, {env.key: str(script)}) is None


def test_a_script_that_cannot_be_checked_is_unknown_never_an_orphan(tmp_path, monkeypatch):
    root = make_cache(tmp_path / "cache", "environments-v2")
    locked = tmp_path / "locked"
    script = locked / "s.py"
    e = script_env(root, script)
    inv = scan(root, [script])
    f = gather_facts(inv, Rules(root))
    env = next(x for x in inv.environments if x.path == e)
    deny(monkeypatch, locked)
    assert f.orphan_reason(env, {env.key: str(script)}) is None
    assert f.orphan_doubt(env, {env.key: str(script)}) == (
        f"not known to be an orphan: its script {script} could not be checked")
    p = plan_prune(inv, Policies(orphans=True), exclusive=True, known_scripts=[str(script)])
    assert p.entries == ()


def test_a_script_link_that_dangles_is_there(tmp_path):
    # lstat: the link itself is what uv ran; what it points at is the script's business.
    root = make_cache(tmp_path / "cache", "environments-v2")
    script = tmp_path / "work" / "s.py"
    script.parent.mkdir()
    script.symlink_to("nowhere.py")
    script_env(root, script)
    assert orphan_plan(root, [script]).entries == ()


# -- a base interpreter that is gone, there, or unknown ---------------------------------------------------


def venv_with_python(root: Path, tmp_path: Path, target: str | None, home: str) -> Path:
    script = tmp_path / "work" / "s.py"
    script.parent.mkdir(exist_ok=True)
    script.write_text("")
    env = script_env(root, script, home=home)
    (env / "bin").mkdir()
    if target is not None:
        (env / "bin" / "python").symlink_to(target)
    return env


@pytest.fixture
def base(tmp_path) -> Path:
    """A base interpreter that exists: ``base/bin/python3``."""
    (tmp_path / "base" / "bin").mkdir(parents=True)
    (tmp_path / "base" / "bin" / "python3").write_text("")
    return tmp_path / "base"


@pytest.mark.parametrize("target,home,reason", [
    ("/nonexistent-envtui/python3", "BASE/bin", "orphan: its base interpreter /nonexistent-envtui/python3 is gone"),
    ("BASE/bin/python3", "/nonexistent-envtui/bin", "orphan: its base interpreter's directory /nonexistent-envtui/bin is gone"),
    ("BASE/bin/python3", "BASE/bin", None),
    ("python3", "BASE/bin", "orphan: its base interpreter python3 is gone"),  # bin/python3 missing
    ("BASE/bin/python3/x", "BASE/bin", "orphan: its base interpreter BASE/bin/python3/x is gone"),  # ENOTDIR
    (None, "BASE/bin", None),  # no bin/python link (a copied interpreter): nothing to say
    (None, "", None),
    (None, "relative/bin", None),  # not a directory anyone could mean
])
def test_a_base_interpreter_that_is_gone_makes_an_orphan(tmp_path, base, target, home, reason):
    root = make_cache(tmp_path / "cache", "environments-v2")
    fill = lambda s: s.replace("BASE", str(base)) if s else s  # noqa: E731
    env = venv_with_python(root, tmp_path, fill(target), fill(home))
    p = orphan_plan(root, [tmp_path / "work" / "s.py"])
    assert [e.reasons for e in p.entries] == ([(fill(reason),)] if reason else [])
    if reason:
        assert [e.path for e in p.entries] == [env]


def test_a_link_chain_to_an_interpreter_that_exists_is_no_orphan(tmp_path, base):
    root = make_cache(tmp_path / "cache", "environments-v2")
    env = venv_with_python(root, tmp_path, "python3", str(base / "bin"))
    (env / "bin" / "python3").symlink_to(base / "bin" / "python3")
    assert orphan_plan(root, [tmp_path / "work" / "s.py"]).entries == ()
    (tmp_path / "alias").symlink_to(base)
    env2 = venv_with_python(make_cache(tmp_path / "cache2", "environments-v2"), tmp_path, str(tmp_path / "alias" / "bin" / "python3"),
                            str(tmp_path / "alias" / "bin"))
    assert orphan_plan(tmp_path / "cache2", [tmp_path / "work" / "s.py"]).entries == ()
    assert env2.exists()


@pytest.mark.parametrize("what", ["interpreter", "home", "both"])
def test_a_base_interpreter_that_cannot_be_checked_is_unknown_never_an_orphan(tmp_path, monkeypatch, what):
    root = make_cache(tmp_path / "cache", "environments-v2")
    locked = tmp_path / "locked"
    python = str(locked / "bin" / "python3") if what != "home" else "/usr/bin/env"
    home = str(locked / "bin") if what != "interpreter" else "/usr/bin"
    env = venv_with_python(root, tmp_path, python, home)
    script = tmp_path / "work" / "s.py"
    inv = scan(root, [script])
    f = gather_facts(inv, Rules(root))
    e = next(x for x in inv.environments if x.path == env)
    deny(monkeypatch, locked)
    assert f.orphan_reason(e, {}) is None
    doubts = {"interpreter": f"its base interpreter {python}", "home": f"its base interpreter's directory {home}",
              "both": f"its base interpreter {python} and its base interpreter's directory {home}"}
    assert f.orphan_doubt(e, {}) == f"not known to be an orphan: {doubts[what]} could not be checked"
    assert plan_prune(inv, Policies(orphans=True), exclusive=True, known_scripts=[str(script)]).entries == ()


def test_what_is_gone_outweighs_what_is_unknown(tmp_path, monkeypatch):
    root = make_cache(tmp_path / "cache", "environments-v2")
    locked = tmp_path / "locked"
    env = venv_with_python(root, tmp_path, str(locked / "python3"), "/nonexistent-envtui/bin")
    inv = scan(root)
    f = gather_facts(inv, Rules(root))
    e = next(x for x in inv.environments if x.path == env)
    deny(monkeypatch, locked)
    assert f.orphan_reason(e, {e.key: str(locked / "s.py")}) == (
        "orphan: its base interpreter's directory /nonexistent-envtui/bin is gone")
    assert f.orphan_doubt(e, {e.key: str(locked / "s.py")}) is None


def test_a_cached_environment_is_judged_by_its_interpreter_and_one_with_no_venv_not_at_all(tmp_path, base):
    root = make_cache(tmp_path / "cache", "environments-v2")
    gone = cached_env(root, "8b0cbae4892decd7", "80437497dd3db7a4", "Gone", home="/nonexistent-envtui/bin")
    cached_env(root, "8b0cbae4892decd7", "e11c95488aeebbd8", "Fine", home=str(base / "bin"))
    dangling = root / "environments-v2" / "8b0cbae4892decd7" / "a2238bca14ac34c7"
    dangling.symlink_to("../../archive-v0/Missing")
    p = orphan_plan(root)
    assert [e.path for e in p.entries] == [gone]
    f = facts(root)
    d = next(x for x in scan(root).environments if x.path == dangling)
    assert f.orphan_reason(d, {}) is None and f.orphan_doubt(d, {}) is None


def test_a_script_environment_with_no_script_known_and_a_fine_interpreter_is_no_orphan(tmp_path, base):
    root = make_cache(tmp_path / "cache", "environments-v2")
    script_env(root, tmp_path / "work" / "s.py", home=str(base / "bin"))
    f = facts(root)
    (e,) = scan(root).environments
    assert f.orphan_reason(e, {}) is None and f.orphan_doubt(e, {}) is None


# -- dangling links and leftovers ----------------------------------------------------------------------------


def dangling_cache(tmp_path: Path) -> Path:
    root = make_cache(tmp_path / "cache", "wheels-v8", "wheels-v5", "wheels-v9", "sdists-v11", "environments-v2",
                      "builds-v0", "mine")
    unpacked(root, "There", "there", "1.0")
    wheel_link(root, "wheels-v8", "pypi", "there", "1.0-py3-none-any", "There")
    wheel_link(root, "wheels-v8", "pypi", "gone", "1.0-py3-none-any", "Gone")
    wheel_link(root, "wheels-v5", "pypi", "old", "1.0-py3-none-any", "Gone5", absolute=True)
    wheel_link(root, "wheels-v9", "pypi", "newer", "1.0-py3-none-any", "Gone9")
    sd = root / "sdists-v11" / "pypi" / "s" / "1.0" / "rev"
    sd.mkdir(parents=True)
    (sd / "s-1.0-py3-none-any").symlink_to("../../../../../archive-v0/GoneS")
    (root / "mine" / "link").symlink_to("../archive-v0/GoneM")
    cached_env(root, "8b0cbae4892decd7", "80437497dd3db7a4", "Fine")
    (root / "environments-v2" / "8b0cbae4892decd7" / "e11c95488aeebbd8").symlink_to("../../archive-v0/GoneE")
    for d in (".tmpRoot1", "archive-v0/.tmpA1b2C3", "builds-v0/.tmpB1b2C3", "wheels-v9/.tmpNewer", "mine/.tmpMine1",
              "environments-v2/8b0cbae4892decd7/.tmpG1b2C3", "environments-v2/notsixteenchars/.tmpH1b2C3"):
        (root / d).mkdir(parents=True)
    (root / "builds-v0" / "tmpNotDot").mkdir()
    (root / "builds-v0" / ".tmpF1b2C3").write_bytes(b"")
    return root


def test_dangling_takes_links_whose_target_is_gone_and_uv_s_leftovers(tmp_path):
    root = dangling_cache(tmp_path)
    p = plan_prune(scan(root), Policies(dangling=True), exclusive=True)
    got = {os.path.relpath(e.path, root): (e.kind, e.label, e.reasons, e.needs_exclusive) for e in p.entries}
    leftover = ("leftover of an interrupted uv",)
    assert got == {
        "wheels-v8/pypi/gone/1.0-py3-none-any": (Kind.LINK, "1.0-py3-none-any", ("dangling",), True),
        "wheels-v5/pypi/old/1.0-py3-none-any": (Kind.LINK, "1.0-py3-none-any", ("dangling",), True),
        "sdists-v11/pypi/s/1.0/rev/s-1.0-py3-none-any": (Kind.LINK, "s-1.0-py3-none-any", ("dangling",), True),
        "environments-v2/8b0cbae4892decd7/e11c95488aeebbd8": (Kind.LINK, "8b0cbae4892decd7/e11c95488aeebbd8",
                                                              ("dangling",), False),
        "archive-v0/.tmpA1b2C3": (Kind.LEFTOVER, ".tmpA1b2C3", leftover, True),
        "builds-v0/.tmpB1b2C3": (Kind.LEFTOVER, ".tmpB1b2C3", leftover, True),
        "builds-v0/.tmpF1b2C3": (Kind.LEFTOVER, ".tmpF1b2C3", leftover, True),
        "environments-v2/8b0cbae4892decd7/.tmpG1b2C3": (Kind.LEFTOVER, ".tmpG1b2C3", leftover, True),
    }
    # A name uv does not give its temporary directories is not even offered (.tmpRoot1, .tmpNewer
    # in a newer bucket, .tmpMine1 in a directory uv does not own are kept without a word).
    assert p.skipped == () and (root / ".tmpRoot1").is_dir()
    f = facts(root)
    for e in p.entries:
        if e.kind == Kind.LEFTOVER or e.path.parent.name != "8b0cbae4892decd7":
            assert e.paths == (e.path,)
        if e.kind == Kind.LEFTOVER:
            assert e.uses == (e.path,)
    assert f.archive_entry(root / "archive-v0" / "X") == f.archive_entry(root / "archive-v0" / "X")


def test_a_link_whose_target_cannot_be_checked_is_not_dangling(tmp_path, monkeypatch):
    root = make_cache(tmp_path / "cache", "wheels-v8")
    locked = unpacked(root, "Locked", "locked", "1.0")
    wheel_link(root, "wheels-v8", "pypi", "locked", "1.0-py3-none-any", "Locked/sub")
    (locked / "sub").mkdir()
    wheel_link(root, "wheels-v8", "pypi", "gone", "1.0-py3-none-any", "Gone")
    inv = scan(root)
    deny(monkeypatch, locked)
    p = plan_prune(inv, Policies(dangling=True), exclusive=True)
    assert [os.path.relpath(e.path, root) for e in p.entries] == ["wheels-v8/pypi/gone/1.0-py3-none-any"]


# -- unreferenced archive entries, and the facts gathered for them --------------------------------------------


def test_facts_list_archive_entries_of_known_age_but_no_leftover(tmp_path):
    root = make_cache(tmp_path / "cache", "archive-v1", "wheels-v8")
    unpacked(root, "A", "a", "1.0")
    unpacked(root, "B", "b", "1.0")
    (root / "archive-v0" / ".tmpC").mkdir()
    unpacked(root, "Newer", "n", "1.0", archive="archive-v1")
    f = facts(root)
    assert [p.name for p in f.archives] == ["A", "B"]
    assert f.root == root and set(f.buckets) == {"CACHEDIR.TAG", "archive-v0", "archive-v1", "wheels-v8"}
    e = f.archive_entry(root / "archive-v0" / "A")
    assert (e.kind, e.path, e.paths, e.label, e.uses, e.needs_exclusive) == (
        Kind.ARCHIVE, root / "archive-v0" / "A", (root / "archive-v0" / "A",), "A", (root / "archive-v0" / "A",), True)


def test_unreferenced_takes_what_no_link_outside_the_plan_points_at(tmp_path):
    root = make_cache(tmp_path / "cache", "wheels-v8", "environments-v2")
    unpacked(root, "Stray", "stray", "1.0")
    unpacked(root, "Linked", "linked", "1.0")
    wheel_link(root, "wheels-v8", "pypi", "linked", "1.0-py3-none-any", "Linked")
    old = cached_env(root, "8b0cbae4892decd7", "80437497dd3db7a4", "OldEnv", used=OLD, built=OLD)
    p = plan_prune(scan(root), Policies(unreferenced=True), exclusive=True)
    assert [e.path.name for e in p.entries] == ["Stray"]
    assert p.entries[0].reasons == ("unreferenced: no link and no environment uses it",)
    both = plan_prune(scan(root), Policies(unreferenced=True, older_than_days=30), exclusive=True)
    # The environment's archive goes with its link, not a second time as unreferenced.
    assert sorted(e.path.name for e in both.entries) == ["80437497dd3db7a4", "Stray"]
    assert [x.name for x in next(e for e in both.entries if e.path == old).paths] == [
        "80437497dd3db7a4", "80437497dd3db7a4.lock", "OldEnv"]


# -- scripts proven from their environment's key ----------------------------------------------------------------


def test_the_inlined_digest_is_uv_s_cache_digest_for_every_length():
    for depth in range(4):
        parts = [b"d" * (i + 1) for i in range(depth)] + [b"x" * (depth * 3)]
        h, bits = SeaHasher(), 0
        for part in parts:
            if part:
                h, bits = orphans._push(h, bits, part)
        directory = b"/" + b"/".join(p for p in parts if p)
        for n in range(1, 40):
            name = (b"abcdefghij" * 4)[:n] + b".py"
            assert orphans._digest(h, bits, name) == cache_digest(PathKey(directory.rstrip(b"/") + b"/" + name)), (depth, n)


def proven_layout(tmp_path: Path) -> tuple[Path, Path]:
    root = make_cache(tmp_path / "cache", "environments-v2")
    work = tmp_path / "work"
    for d in ("a/b", "a/.git", "venv/sub", "real", "c"):
        (work / d).mkdir(parents=True)
    (work / "venv" / "pyvenv.cfg").write_text("home = /x\n")
    (work / "link").symlink_to(work / "real")
    return root, work


def test_scripts_are_proven_where_their_key_says_gone_or_not(tmp_path):
    root, work = proven_layout(tmp_path)
    there, gone = work / "a" / "b" / "there.py", work / "c" / "gone.py"
    there.write_text("")
    e1, e2 = script_env(root, there), script_env(root, gone)
    hidden = [work / "a" / ".git" / "in_git.py", work / "venv" / "sub" / "in_venv.py", work / "link" / "through_link.py",
              tmp_path / "elsewhere" / "outside.py"]
    for h in hidden:
        script_env(root, h)
    found = prove_scripts(scan(root).environments, [work])
    assert found == sorted([ProvenScript(e1, there, True), ProvenScript(e2, gone, False)], key=lambda p: str(p.environment))


def test_a_proven_script_that_cannot_be_checked_is_unknown(tmp_path, monkeypatch):
    root, work = proven_layout(tmp_path)
    env = script_env(root, work / "c" / "s.py")
    envs = scan(root).environments
    deny(monkeypatch, work / "c")
    assert prove_scripts(envs, [work]) == [ProvenScript(env, work / "c" / "s.py", None)]


def test_the_roots_themselves_are_searched_even_a_venv_and_each_environment_is_proven_once(tmp_path):
    root, work = proven_layout(tmp_path)
    in_root = script_env(root, work / "venv" / "top.py")
    found = prove_scripts(scan(root).environments, [work / "venv", work / "venv"])
    assert [(p.environment, p.script) for p in found] == [(in_root, work / "venv" / "top.py")]
    os.chdir(work)
    rel = prove_scripts(scan(root).environments, ["venv"])
    assert [p.script for p in rel] == [work / "venv" / "top.py"]
    # uv hashes std::path::absolute: ``..`` stays, so a root spelled with it proves nothing here.
    assert prove_scripts(scan(root).environments, ["venv/../venv"]) == []
    trailing = prove_scripts(scan(root).environments, [str(work / "venv") + "/"])
    assert [p.script for p in trailing] == [work / "venv" / "top.py"]


def test_only_script_environments_whose_prompt_and_stem_agree_are_proven(tmp_path):
    root, work = proven_layout(tmp_path)
    script = work / "a" / "report.py"
    env = script_env(root, script)
    (e,) = scan(root).environments
    assert prove_scripts([e], [work]) == [ProvenScript(env, script, False)]
    from dataclasses import replace

    for bad in (replace(e, kind="cached"), replace(e, prompt=None), replace(e, digest=None), replace(e, prompt="a/report.py"),
                replace(e, stem="other")):
        assert prove_scripts([bad], [work]) == []
    # No stem from the key (a digest-only name) or the prompt (``..``): the digest alone decides.
    assert prove_scripts([replace(e, stem=None)], [work]) == [ProvenScript(env, script, False)]
    assert prove_scripts([], [work]) == []


def test_the_search_is_bounded_cancellable_and_reports_progress(tmp_path):
    root, work = proven_layout(tmp_path)
    deep = work / "many"
    for i in range(1100):
        (deep / f"d{i:04}").mkdir(parents=True)
    last = deep / "d1099" / "s.py"
    env = script_env(root, last)
    envs = scan(root).environments
    seen = []
    assert prove_scripts(envs, [work], on_progress=seen.append) == [ProvenScript(env, last, False)]
    assert seen == [1000]
    assert prove_scripts(envs, [work], max_dirs=50) == []
    assert prove_scripts(envs, [work], max_dirs=1200) == [ProvenScript(env, last, False)]
    with pytest.raises(ScanCancelled):
        prove_scripts(envs, [work], should_stop=lambda: True)
    calls = []
    with pytest.raises(ScanCancelled):
        prove_scripts(envs, [work], should_stop=lambda: calls.append(1) or len(calls) > 5)
    assert len(calls) == 6


def test_an_unlistable_directory_is_passed_over(tmp_path, monkeypatch):
    root, work = proven_layout(tmp_path)
    env = script_env(root, work / "c" / "s.py")
    envs = scan(root).environments
    real = os.scandir

    def scandir(path):
        if os.fsdecode(path) == str(work / "a"):
            raise PermissionError(errno.EACCES, "Permission denied", path)
        return real(path)

    monkeypatch.setattr(orphans.os, "scandir", scandir)
    assert prove_scripts(envs, [work]) == [ProvenScript(env, work / "c" / "s.py", False)]


def test_environment_records_built_by_hand_are_proven_too(tmp_path):
    script = tmp_path / "w" / "x.py"
    from envtui.core.digest import script_environment_name

    name = script_environment_name(script)
    stem, digest = name.rsplit("-", 1)
    env = Environment(SCRIPT, tmp_path / name, name, "ok", prompt="x.py", digest=digest, stem=stem)
    assert prove_scripts([env], [tmp_path]) == []  # no directory w to search
    script.parent.mkdir()
    assert prove_scripts([env], [tmp_path]) == [ProvenScript(env.path, script, False)]
    pyvenv(tmp_path / "w")  # a venv is searched itself, not below: a script right in it is still found
    assert prove_scripts([env], [tmp_path]) == [ProvenScript(env.path, script, False)]


# -- what the first mutation run let through ------------------------------------------------------------------


def test_leftovers_are_looked_for_in_real_environment_groups_only(tmp_path):
    root = make_cache(tmp_path / "cache", "environments-v2")
    away = tmp_path / "away"
    (away / ".tmpAbC123").mkdir(parents=True)
    (root / "environments-v2" / "0123456789abcdef").symlink_to(away)
    p = plan_prune(scan(root), Policies(dangling=True), exclusive=True)
    assert p.entries == () and p.skipped == () and (away / ".tmpAbC123").is_dir()


def test_a_cached_environment_whose_target_cannot_be_checked_is_not_dangling(tmp_path, monkeypatch):
    root = make_cache(tmp_path / "cache", "environments-v2")
    link = cached_env(root, "8b0cbae4892decd7", "80437497dd3db7a4", "Env")
    locked = root / "archive-v0" / "Env"
    gone = root / "environments-v2" / "8b0cbae4892decd7" / "e11c95488aeebbd8"
    gone.symlink_to("../../archive-v0/Gone")
    from dataclasses import replace

    inv = scan(root)
    # An inventory that could not check the target takes the link for dangling (is_dir is false).
    inv = replace(inv, environments=tuple(replace(e, status="dangling") if e.path == link else e for e in inv.environments))
    deny(monkeypatch, locked)
    p = plan_prune(inv, Policies(dangling=True), exclusive=True)
    assert [e.path for e in p.entries] == [gone]


def test_an_archive_entry_only_a_planned_environment_links_to_goes_with_unreferenced(tmp_path):
    root = make_cache(tmp_path / "cache", "environments-v2")
    unpacked(root, "Wheel", "w", "1.0")
    cached_env(root, "8b0cbae4892decd7", "80437497dd3db7a4", "OldEnv", used=OLD, built=OLD)
    (root / "archive-v0" / "OldEnv" / "lib" / "w").symlink_to("../../Wheel")  # link mode: symlink
    assert plan_prune(scan(root), Policies(unreferenced=True), exclusive=True).entries == ()
    both = plan_prune(scan(root), Policies(unreferenced=True, older_than_days=30), exclusive=True)
    assert sorted(e.path.name for e in both.entries) == ["80437497dd3db7a4", "Wheel"]


def test_a_prompt_holding_a_slash_proves_nothing_even_with_a_key_made_for_it(tmp_path):
    from dataclasses import replace

    root, work = proven_layout(tmp_path)
    script = work / "a" / "report.py"
    env = script_env(root, script)
    (e,) = scan(root).environments
    h, bits = SeaHasher(), 0
    for part in os.fsencode(work).split(b"/"):
        if part:
            h, bits = orphans._push(h, bits, part)
    crafted = orphans._digest(h, bits, b"a/report.py")  # one component holding a slash
    assert prove_scripts([replace(e, prompt="a/report.py", digest=crafted, stem=None)], [work]) == []
    # Refusing one environment goes on to the next.
    assert prove_scripts([replace(e, prompt=None), replace(e, stem="other"), e], [work]) == [
        ProvenScript(env, script, False)]


def test_a_long_stem_is_compared_as_uv_cuts_it(tmp_path):
    root, work = proven_layout(tmp_path)
    script = work / "c" / ("s" * 150 + ".py")
    env = script_env(root, script)
    (e,) = scan(root).environments
    assert len(e.stem) == 100
    assert prove_scripts([e], [work]) == [ProvenScript(env, script, False)]


def test_a_prompt_that_is_not_utf8_is_compared_with_replacement_characters(tmp_path):
    from envtui.core.digest import cache_name

    root, work = proven_layout(tmp_path)
    raw = os.fsencode(work / "c") + b"/\xffname.py"
    digest = cache_digest(PathKey(raw))
    env = Environment(SCRIPT, root / "environments-v2" / f"name-{digest}", f"name-{digest}", "ok",
                      prompt=os.fsdecode(b"\xffname.py"), digest=digest, stem=cache_name("\ufffdname", 100))
    assert prove_scripts([env], [work]) == [ProvenScript(env.path, Path(os.fsdecode(raw)), False)]


def test_the_search_stops_at_exactly_max_dirs(tmp_path):
    root = make_cache(tmp_path / "cache", "environments-v2")
    work = tmp_path / "work"
    for d in ("a", "b", "c"):
        (work / d).mkdir(parents=True)
    env = script_env(root, work / "c" / "s.py")
    envs = scan(root).environments
    # Listed in order: work, a, b, c: c is the fourth.
    assert prove_scripts(envs, [work], max_dirs=4) == [ProvenScript(env, work / "c" / "s.py", False)]
    assert prove_scripts(envs, [work], max_dirs=3) == []
    import inspect

    assert inspect.signature(prove_scripts).parameters["max_dirs"].default == orphans.MAX_DIRS == 100_000


@pytest.mark.parametrize("spelled", ["{work}/./c", "{work}//c", "{work}/c/", "{work}/c/."])
def test_a_root_spelled_with_dots_and_slashes_hashes_as_uv_does(tmp_path, spelled):
    root = make_cache(tmp_path / "cache", "environments-v2")
    work = tmp_path / "work"
    (work / "c").mkdir(parents=True)
    env = script_env(root, work / "c" / "s.py")
    (found,) = prove_scripts(scan(root).environments, [spelled.format(work=work)])
    assert (found.environment, found.exists) == (env, False)
    assert os.path.normpath(found.script) == str(work / "c" / "s.py")


def test_a_venv_met_first_does_not_end_the_search(tmp_path):
    root = make_cache(tmp_path / "cache", "environments-v2")
    work = tmp_path / "work"
    pyvenv(work / "a_venv")
    (work / "zz").mkdir(parents=True)
    env = script_env(root, work / "zz" / "s.py")
    assert prove_scripts(scan(root).environments, [work]) == [ProvenScript(env, work / "zz" / "s.py", False)]
