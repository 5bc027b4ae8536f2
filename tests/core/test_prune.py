"""Prune plans: each policy chooses exactly its entries; bytes are exact; deletion is safe."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from envtui.core import CacheLocation, NotACacheError, scan_inventory
from envtui.core.prune import execute_plan
from envtui.core.locate import CACHEDIR_TAG_SIGNATURE
from envtui.core.prune import Policies, parse_size, plan_prune, plan_selection
from envtui.core.prune import UnsafePathError, check_prune_root, guard_path, remove_path
from envtui.core.buckets import list_buckets

OLD = 1_000_000_000  # 2001: long unused


@pytest.fixture(autouse=True)
def _own_state_dir(tmp_path, monkeypatch):
    """envtui remembers scripts in its state directory: keep each test's apart (and off $HOME)."""
    monkeypatch.setenv("ENVTUI_STATE_DIR", str(tmp_path / "envtui-state"))


def scan(root: Path, scripts=()):
    return scan_inventory(CacheLocation(root, "--cache-dir"), known_scripts=[str(s) for s in scripts])


def plan(root: Path, scripts=(), exclusive=True, **policies):
    return plan_prune(scan(root, scripts), Policies(**policies), exclusive=exclusive)


def paths(p) -> set[str]:
    return {str(e.path) for e in p.entries}


def make_tag(root: Path) -> None:
    root.mkdir(parents=True, exist_ok=True)
    (root / "CACHEDIR.TAG").write_bytes(CACHEDIR_TAG_SIGNATURE + b"\n")


# -- safe deletion ---------------------------------------------------------------------------------


def test_remove_path_unlinks_links_and_never_follows_them(tmp_path):
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "payload.txt").write_text("payload")
    entry = tmp_path / "cache" / "entry"
    (entry / "sub").mkdir(parents=True)
    (entry / "sub" / "escape").symlink_to(victim)
    (entry / "file").write_text("x")
    link = tmp_path / "cache" / "link"
    link.symlink_to(victim)
    remove_path(link)
    remove_path(entry)
    assert not os.path.lexists(link) and not entry.exists()
    assert (victim / "payload.txt").read_text() == "payload"


def test_remove_path_deletes_read_only_trees(tmp_path):
    entry = tmp_path / "entry"
    (entry / "ro").mkdir(parents=True)
    (entry / "ro" / "f").write_text("x")
    os.chmod(entry / "ro" / "f", 0o444)
    os.chmod(entry / "ro", 0o555)
    remove_path(entry)
    assert not entry.exists()


def test_guard_refuses_what_uv_does_not_own_or_a_newer_uv_wrote(tmp_path):
    root = tmp_path / "cache"
    make_tag(root)
    for d in ("archive-v0/a", "archive-v9/b", "myfiles/c", "environments-v2/x"):
        (root / d).mkdir(parents=True)
    buckets = {b.dirname: b for b in list_buckets(root)}
    real = check_prune_root(root)
    assert guard_path(real, root / "archive-v0" / "a", buckets) is None
    assert guard_path(real, root / ".tmpABC123", buckets) is None
    assert "newer" in guard_path(real, root / "archive-v9" / "b", buckets)
    assert "not a bucket" in guard_path(real, root / "myfiles" / "c", buckets)
    assert "whole bucket" in guard_path(real, root / "archive-v0", buckets)
    assert "outside" in guard_path(real, tmp_path / "elsewhere", buckets)
    assert "outside" in guard_path(real, root / "archive-v0" / ".." / ".." / "x", buckets)


def test_roots_that_must_never_be_pruned(tmp_path, monkeypatch):
    with pytest.raises(NotACacheError):
        check_prune_root(tmp_path)  # no CACHEDIR.TAG
    make_tag(tmp_path / "home")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    with pytest.raises(UnsafePathError, match="home directory"):
        check_prune_root(tmp_path / "home")


@pytest.mark.parametrize(
    "text,expected",
    [("123", 123), ("5G", 5 * 10**9), ("500M", 500 * 10**6), ("1.5GB", 1_500_000_000), ("2GiB", 2 * 2**30), ("10 kB", 10_000)],
)
def test_parse_size(text, expected):
    assert parse_size(text) == expected


def test_parse_size_rejects_nonsense():
    with pytest.raises(ValueError, match="lots"):
        parse_size("lots")


# -- policies on a cache real uv made ---------------------------------------------------------------


def _age_all_but(inv, keep):
    for env in inv.environments:
        if env.path not in keep:
            os.utime(env.root / "pyvenv.cfg", (OLD, OLD))


def test_older_than_takes_exactly_the_environments_unused_that_long(real_cache_copy):
    root = real_cache_copy.root
    inv = scan(root, real_cache_copy.scripts)
    old = [e for e in inv.environments][::2]
    for env in old:
        os.utime(env.root / "pyvenv.cfg", (OLD, OLD))
    p = plan(root, real_cache_copy.scripts, older_than_days=30)
    assert paths(p) == {str(e.path) for e in old}
    cached = next(e for e in p.entries if e.kind == "cached environment")
    link_target = next(e.link_target for e in inv.environments if str(e.path) == str(cached.path))
    assert [str(x) for x in cached.paths] == [str(cached.path), str(cached.path) + ".lock", str(link_target)]


def test_keep_latest_keeps_the_most_recently_used_per_tool(real_cache_copy):
    root = real_cache_copy.root
    inv = scan(root)
    tiny = sorted((e for e in inv.environments if e.tool == "tinytool"), key=lambda e: str(e.path))
    for i, env in enumerate(tiny):
        os.utime(env.root / "pyvenv.cfg", (OLD + i * 1000, OLD + i * 1000))
    p = plan(root, keep_latest=1)
    assert paths(p) == {str(e.path) for e in tiny[:-1]}  # bigtool has one: kept


def test_max_size_takes_least_recently_used_until_it_fits(real_cache_copy):
    root = real_cache_copy.root
    inv = scan(root, real_cache_copy.scripts)
    lru = min(inv.environments, key=lambda e: str(e.path))
    os.utime(lru.root / "pyvenv.cfg", (OLD, OLD))
    usage = plan(root, max_size=10**15).cache_bytes
    p = plan(root, real_cache_copy.scripts, max_size=usage - 1)
    assert paths(p) == {str(lru.path)}
    assert plan(root, max_size=usage).entries == ()


def test_dangling_links_and_leftovers(real_cache_copy, tmp_path):
    root = real_cache_copy.root
    inv = scan(root)
    victim = next(e for e in inv.environments if e.kind == "cached")
    remove_path(victim.link_target)
    leftovers = [root / ".tmpAbC123", root / "archive-v0" / ".tmpXyZ789", root / "builds-v0" / ".tmp123456"]
    for d in leftovers:
        d.mkdir(parents=True)
        (d / "partial").write_text("x")
    (root / "myfiles").mkdir()
    (root / "myfiles" / ".tmpNotOur").mkdir()
    # A cache root shared with other programs (UV_CACHE_DIR=~/.cache): their temporary
    # directories are named otherwise, or belong to someone else.
    for other in (".tmpfoo", ".tmp_1a2b3c", ".tmp1a2b3c4", ".tmpXXXX.d"):
        (root / other).mkdir()
    foreign = root / ".tmpQ1w2E3"
    foreign.mkdir()
    if os.geteuid() == 0:
        os.chown(foreign, 65534, 65534)
    p = plan(root, dangling=True)
    assert paths(p) == {str(victim.path)} | {str(d) for d in leftovers} | (set() if os.geteuid() == 0 else {str(foreign)})
    if os.geteuid() == 0:
        assert [(s.path, s.reason) for s in p.skipped] == [
            (foreign, "unsafe: .tmpQ1w2E3 belongs to uid 65534, the cache to uid 0: not uv's")]
    assert next(e for e in p.entries if e.path == victim.path).paths == (victim.path, Path(str(victim.path) + ".lock"))
    # While a uv holds the root lock, its temporary directories may be in use: skipped.
    busy = plan(root, dangling=True, exclusive=False)
    assert paths(busy) == {str(victim.path)}
    assert {str(s.path) for s in busy.skipped} == {str(d) for d in leftovers} | {str(foreign)}


def test_unreferenced_archive_entries(real_cache_copy):
    root = real_cache_copy.root
    stray = root / "archive-v0" / "StrayEntry000000"
    stray.mkdir()
    (stray / "f.py").write_text("x" * 10000)
    newer = root / "archive-v9" / "FromANewerUv00000"
    newer.mkdir(parents=True)
    p = plan(root, unreferenced=True)
    assert paths(p) == {str(stray)}
    assert p.bytes_freed > 10000
    # A wheel archive with no link that an environment hardlinks is in use: kept, and said why.
    inv = scan(root)
    bigtool = next(e for e in inv.environments if e.tool == "bigtool")
    links = [l for l in root.glob("wheels-v*/**/bigtool/*") if l.is_symlink()]
    wheel_archive = Path(os.path.normpath(links[0].parent / os.readlink(links[0])))
    links[0].unlink()
    p = plan(root, unreferenced=True)
    assert paths(p) == {str(stray)}
    assert any(s.path == wheel_archive and "hardlinks" in s.reason for s in p.skipped)
    # Pruning the environment too frees the archive with it, and counts the shared files once.
    _age_all_but(inv, keep={e.path for e in inv.environments if e.path != bigtool.path})
    p = plan(root, unreferenced=True, older_than_days=30)
    assert paths(p) == {str(stray), str(bigtool.path), str(wheel_archive)}
    alone = plan_selection(scan(root), [bigtool], exclusive=True)
    assert p.bytes_freed > alone.bytes_freed + 40 * 16384  # bigtool's 40 files of 16 KiB, once


def test_orphans_script_gone_and_base_interpreter_gone(uv_cache, real_cache_copy):
    script = uv_cache.write_script("gone.py")
    uv_cache.run_script(script)
    kept = uv_cache.write_script("kept.py")
    uv_cache.run_script(kept)
    script.unlink()
    p = plan(uv_cache.root, [script, kept], orphans=True)
    assert [e.reasons for e in p.entries] == [(f"orphan: its script {script} is gone",)]
    # A copied cache whose environment's base interpreter link points nowhere.
    root = real_cache_copy.root
    env = next(e for e in scan(root).environments if e.kind == "script")
    (env.path / "bin" / "python").unlink()
    (env.path / "bin" / "python").symlink_to("/nonexistent/python3")
    p = plan(root, orphans=True)
    assert paths(p) == {str(env.path)}
    assert "base interpreter /nonexistent/python3 is gone" in p.entries[0].reasons[0]


def test_interpreters_policy_takes_missing_and_corrupt_entries(real_cache_copy, tmp_path):
    root = real_cache_copy.root
    assert plan(root, interpreters=True).entries == ()
    venv = tmp_path / "venv"
    # --copies: the venv's own binary is the canonical path uv keys the entry by.
    subprocess.run([sys.executable, "-m", "venv", "--copies", "--without-pip", str(venv)], check=True)
    real_cache_copy.cache.run("python", "find", str(venv / "bin" / "python"))
    remove_path(venv)
    shard = next(root.glob("interpreter-v5/*"))
    (shard / "0000000000000000.msgpack").write_bytes(b"\xc1garbage")
    after = scan(root)
    statuses = {str(e.path): e.status for e in after.interpreters}
    expected = {p for p, s in statuses.items() if s in ("missing", "corrupt")}
    assert statuses[str(shard / "0000000000000000.msgpack")] == "corrupt"
    assert sorted(statuses[p] for p in expected) == ["corrupt", "missing"]
    assert paths(plan(root, interpreters=True)) == expected
    # A venv queried through its bin/python: once the venv is gone, so is the path uv keyed it by.
    venv2 = tmp_path / "venv2"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv2)], check=True)
    real_cache_copy.cache.run("python", "find", str(venv2 / "bin" / "python"))
    entry = next(e for e in scan(root).interpreters if e.executable == str(venv2 / "bin" / "python"))
    remove_path(venv2)
    p = plan(root, interpreters=True)
    assert paths(p) == expected | {str(entry.path)}
    assert f"{venv2 / 'bin' / 'python'} is gone" in next(e for e in p.entries if e.path == entry.path).reasons[0]


def test_per_entry_bytes_alone_and_with_the_plan(real_cache_copy):
    root = real_cache_copy.root
    inv = scan(root)
    tiny = [e for e in inv.environments if e.tool == "tinytool"]
    p = plan_selection(inv, tiny, exclusive=True)
    # Files shared only among the planned entries are freed by the plan, by no entry alone.
    assert sum(e.bytes_alone for e in p.entries) <= p.bytes_freed <= sum(e.bytes_with_plan for e in p.entries)
    assert all(e.bytes_with_plan >= e.bytes_alone for e in p.entries)
    for entry in p.entries:
        single = plan_selection(inv, [next(e for e in tiny if e.path == entry.path)], exclusive=True)
        assert single.bytes_freed == entry.bytes_alone


def test_entries_whose_own_lock_is_held_are_skipped(real_cache_copy):
    root = real_cache_copy.root
    inv = scan(root)
    cached = next(e for e in inv.environments if e.kind == "cached")
    script = next(e for e in inv.environments if e.kind == "script")
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(cached.path) + ".lock", str(script.path / ".lock")],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        p = plan_selection(inv, [cached, script], exclusive=True)
        assert p.entries == ()
        skipped = {s.path: s for s in p.skipped}
        assert "is held" in skipped[cached.path].reason
        # The holder has a file inside the script environment open: in use, which is checked first.
        assert [q.pid for q in skipped[script.path].processes] == [holder.pid]
        result = execute_plan(plan_selection(inv, [cached], exclusive=True))
        assert result.deleted == () and os.path.islink(cached.path)
    finally:
        holder.stdin.close()
        holder.wait(timeout=30)
    assert len(plan_selection(scan(root), [cached, script], exclusive=True).entries) == 2


HOLDER = """
import fcntl, os, sys
fds = [os.open(p, os.O_RDWR) for p in sys.argv[1:]]
for fd in fds:
    fcntl.flock(fd, fcntl.LOCK_EX)
print("locked", flush=True)
sys.stdin.read()
"""
