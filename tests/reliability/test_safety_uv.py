"""Every situation of issue 10's deletion side, on copies of a cache real uv made, offline: the
cache root spelled with ``..`` or reached through a symlink, a symlinked bucket, absolute links
(uv <= 0.10), another uv version's environments bucket, a bind mount inside an entry, a
cached-environment link to something that is not an archive entry, a stale plan, and programs
that only their environment variables tie to a cached environment. Afterwards no link that
resolved before dangles, and kept scripts and tools run offline installing nothing."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from envtui.core import CacheLocation, execute_plan, plan_prune, scan_inventory
from envtui.core.prune import Policies
from tests.conftest import RealCache
from tests.reliability.helpers import listing
from tests.uvcache import UvCache

pytestmark = pytest.mark.integration


class CopyModeCache(UvCache):
    """A cache uv fills with ``UV_LINK_MODE=copy``: environments share no inode with the archive
    entries, so only links keep those entries alive (hardlinks would hide a broken link rule)."""

    @property
    def env(self) -> dict[str, str]:
        return dict(super().env, UV_LINK_MODE="copy")


@pytest.fixture(scope="session")
def _copy_mode_template(tmp_path_factory, wheelhouse, pythons) -> RealCache:
    base = tmp_path_factory.mktemp("copymode")
    (base / "work").mkdir()
    return RealCache(CopyModeCache(root=base / "cache", workdir=base / "work", wheelhouse=wheelhouse), pythons)


@pytest.fixture
def copy_cache(_copy_mode_template, tmp_path) -> RealCache:
    """A private copy of the copy-mode real cache (same scripts and interpreters)."""
    dest = tmp_path / "cache"
    subprocess.run(["cp", "-a", str(_copy_mode_template.root), str(dest)], check=True)
    clone = object.__new__(RealCache)
    template = _copy_mode_template.cache
    clone.cache = CopyModeCache(root=dest, workdir=template.workdir, wheelhouse=template.wheelhouse)
    clone.pythons = _copy_mode_template.pythons
    clone.scripts = list(_copy_mode_template.scripts)
    return clone


def envtui_prune(cache_dir: Path | str, *args: str) -> dict:
    proc = subprocess.run([sys.executable, "-m", "envtui", "prune", "--cache-dir", str(cache_dir), "--yes", "--json", *args],
                          capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    return json.loads(proc.stdout)


def links(root: Path) -> dict[str, bool]:
    """Every symlink in the cache (top-level buckets that are links followed once), and whether
    it resolves to something that exists."""
    out = {}
    tops = [root / n for n in os.listdir(root)]
    for top in tops:
        if os.path.islink(top):
            out[str(top)] = os.path.exists(top)
            if not os.path.isdir(top):
                continue
        for dirpath, dirnames, filenames in os.walk(top):
            for name in dirnames + filenames:
                p = os.path.join(dirpath, name)
                if os.path.islink(p):
                    out[p] = os.path.exists(p)
    return out


def assert_no_new_dangling(before: dict[str, bool], after: dict[str, bool]) -> None:
    broken = [p for p, ok in after.items() if before.get(p) and not ok]
    assert broken == [], broken


def assert_kept_run_offline(rc) -> None:
    """Every script environment and cached tool environment of the real cache still serves uv,
    offline, with nothing installed."""
    for script in rc.scripts:
        run = rc.cache.run("run", "--offline", str(script), check=False)
        assert run.returncode == 0 and "Installed" not in run.stderr, (script, run.stderr)
    py0, py_last = rc.pythons[0], rc.pythons[-1]
    for tool, python, with_ in (("tinytool==1.0", py0, ()), ("tinytool==2.0", py_last, ()),
                                ("tinytool", py0, ("helperlib",)), ("bigtool", py0, ())):
        run = rc.cache.uvx(tool, python=python, with_=with_, check=False)
        assert run.returncode == 0 and "Installed" not in run.stderr, (tool, run.stderr)


def stray(root: Path) -> Path:
    """An archive entry nothing links to or hardlinks: what --unreferenced must take."""
    d = Path(os.path.realpath(root / "archive-v0")) / "StrayEntry000000"
    d.mkdir()
    (d / "f.py").write_bytes(os.urandom(20000))
    return d


def _absolute_links(top: Path, root: Path, spelled: Path) -> None:
    """Rewrite the relative links under ``top`` as absolute ones, written through ``spelled``
    (another spelling of ``root``: the path the old uv was given)."""
    for dirpath, dirnames, filenames in os.walk(top):
        for name in dirnames + filenames:
            p = os.path.join(dirpath, name)
            if os.path.islink(p) and not os.readlink(p).startswith("/") and "archive-v" in os.readlink(p):
                target = Path(os.path.realpath(p)).relative_to(os.path.realpath(root))
                os.unlink(p)
                os.symlink(spelled / target, p)


def _move_and_link_back(root: Path, bucket: str, disk: Path) -> None:
    disk.mkdir(exist_ok=True)
    shutil.move(str(root / bucket), str(disk / bucket))
    (root / bucket).symlink_to(disk / bucket)


def _spelling(rc, tmp_path: Path, how: str) -> Path | str:
    root = rc.root
    if how == "root spelled with .. through a symlink":
        (tmp_path / "d").mkdir()
        (tmp_path / "d" / "x").symlink_to(root / "wheels-v8")
        return f"{tmp_path}/d/x/.."  # the kernel: the cache; read lexically: tmp/d
    if how == "symlinked root":
        (tmp_path / "cachelink").symlink_to(root)
        return tmp_path / "cachelink"
    if how == "symlinked archive bucket":
        _move_and_link_back(root, "archive-v0", tmp_path / "otherdisk")
    elif how == "symlinked wheels bucket, absolute links":
        _absolute_links(root / "wheels-v8", root, root)
        _move_and_link_back(root, "wheels-v8", tmp_path / "otherdisk")
    elif how == "absolute links (uv <= 0.10)":
        # Written by a uv that reached the cache as ~/.cache/uv, a link to where it is now.
        (tmp_path / "oldhome").mkdir()
        (tmp_path / "oldhome" / "uv").symlink_to(root)
        _absolute_links(root / "wheels-v8", root, tmp_path / "oldhome" / "uv")
        _absolute_links(root / "environments-v2", root, tmp_path / "oldhome" / "uv")
    elif how == "links in other uv versions' buckets":
        # A wheel and an environment that only an older and a newer uv's buckets link to.
        wheel_link = next(p for p in (root / "wheels-v8").rglob("*") if p.is_symlink() and "helperlib" in str(p))
        target = os.path.realpath(wheel_link)
        (root / "wheels-v5" / "pypi" / "helperlib").mkdir(parents=True)
        (root / "wheels-v5" / "pypi" / "helperlib" / "0.1-py3-none-any").symlink_to(target)  # uv 0.9: absolute
        wheel_link.unlink()
        env_link = next(p for p in (root / "environments-v2").glob("*/*") if p.is_symlink())
        (root / "environments-v3" / env_link.parent.name).mkdir(parents=True)
        (root / "environments-v3" / env_link.parent.name / env_link.name).symlink_to(os.readlink(env_link))
        env_link.unlink()
    return root


SITUATIONS = [
    "root spelled with .. through a symlink",
    "symlinked root",
    "symlinked archive bucket",
    "symlinked wheels bucket, absolute links",
    "absolute links (uv <= 0.10)",
    "links in other uv versions' buckets",
]


@pytest.mark.parametrize("how", SITUATIONS)
def test_unreferenced_keeps_what_any_link_points_at(copy_cache, tmp_path, how):
    rc = copy_cache
    cache_dir = _spelling(rc, tmp_path, how)
    extra = stray(rc.root)
    before = links(rc.root)
    result = envtui_prune(cache_dir, "--unreferenced")
    assert_no_new_dangling(before, links(rc.root))
    if how == "symlinked archive bucket":
        assert result.get("deleted", []) == [] and extra.exists()  # reached through a symlink: never deleted
    else:
        assert [Path(p).name for p in result["deleted"]] == [extra.name] and not extra.exists()
        assert result["measured_bytes"] == result["predicted_bytes"] > 20000
    if how == "links in other uv versions' buckets":
        return  # uv 0.13 reads neither bucket; what they link to is kept (checked above)
    assert_kept_run_offline(rc)


def test_a_link_to_something_not_an_archive_entry_goes_alone(real_cache_copy):
    rc = real_cache_copy
    root = rc.root
    group = next(p for p in (root / "environments-v2").iterdir() if p.is_dir() and len(p.name) == 16)
    odd = group / "ffffffffffffffff"
    index = next((root / "wheels-v8").iterdir())  # wheels-v8/index (or pypi): a whole wheel index
    odd.symlink_to(Path("..", "..", "wheels-v8", index.name))
    index_before = listing(index)
    result = envtui_prune(root, "--keep-latest", "0")
    assert str(odd) in result["deleted"] and not os.path.lexists(odd)
    entry = next(e for e in result["entries"] if e["path"] == str(odd))
    assert entry["paths"] == [str(odd), str(odd) + ".lock"]
    assert listing(index) == index_before
    # Script environments were kept (keep-latest is about cached ones) and still run, offline.
    for script in rc.scripts:
        run = rc.cache.run("run", "--offline", str(script), check=False)
        assert run.returncode == 0 and "Installed" not in run.stderr, run.stderr


@pytest.mark.skipif(os.geteuid() != 0, reason="mount --bind needs root")
def test_a_bind_mount_inside_an_entry_is_never_crossed(real_cache_copy, tmp_path):
    rc = real_cache_copy
    inv = scan_inventory(CacheLocation(rc.root, "--cache-dir"), known_scripts=[str(s) for s in rc.scripts])
    env = next(e for e in inv.environments if e.kind == "script")
    outside = tmp_path / "outside"
    outside.mkdir()
    for i in range(20):
        (outside / f"precious{i}.txt").write_text(f"precious {i}")
    mnt = next(env.path.glob("lib/python*/site-packages")) / "mounted"
    mnt.mkdir()
    if subprocess.run(["mount", "--bind", str(outside), str(mnt)]).returncode != 0:
        pytest.skip("mount --bind refused here")
    try:
        before = listing(outside)
        result = envtui_prune(rc.root, "--older-than", "0")
        assert listing(outside) == before
        skipped = {s["path"]: s["reason"] for s in result["skipped"]}
        assert "mounted at" in skipped[str(env.path)]
        assert str(env.path) not in result["deleted"] and len(result["deleted"]) >= 3
        assert (env.path / "pyvenv.cfg").exists()
    finally:
        subprocess.run(["umount", str(mnt)], check=True)


def test_a_stale_plan_keeps_an_archive_entry_uv_linked_meanwhile(copy_cache):
    rc = copy_cache
    root = rc.root
    # A plan made while a wheel's archive entry had no link yet (uv unpacks, renames into
    # archive-v0, then links) chooses it...
    wheel_link = next(p for p in (root / "wheels-v8").rglob("*") if p.is_symlink() and "helperlib" in str(p))
    target = os.readlink(wheel_link)
    unpacked = os.path.realpath(wheel_link)
    wheel_link.unlink()
    plan = plan_prune(scan_inventory(CacheLocation(root, "--cache-dir")), Policies(unreferenced=True), exclusive=True)
    assert unpacked in {os.path.realpath(e.path) for e in plan.entries}
    # ...then uv links it, and the plan runs: it is kept, and the result says why.
    os.symlink(target, wheel_link)
    result = execute_plan(plan)
    assert os.path.isdir(unpacked) and result.deleted == ()
    assert any(os.path.realpath(s.path) == unpacked and "since the plan was made" in s.reason for s in result.skipped)
    assert_kept_run_offline(rc)
    # uv installs from it offline: a new environment wanting helperlib.
    fresh = rc.cache.write_script("fresh/needs_helper.py", deps=("helperlib",))
    run = rc.cache.run("run", "--offline", str(fresh), check=False)
    assert run.returncode == 0, run.stderr


PROGRAM = """
import os, pathlib, sys, time
pathlib.Path(sys.argv[1]).write_text(str(os.getpid()))
stop = pathlib.Path(sys.argv[2])
for _ in range(2400):  # a cap, so a failed test never leaves it behind for long
    if stop.exists():
        break
    time.sleep(0.05)
import helperlib  # imported only now: the environment must still be there
print("imported", helperlib.__name__)
"""


def test_programs_tied_to_a_cached_environment_only_by_their_environment_keep_it(real_cache_copy, tmp_path):
    rc = real_cache_copy
    wheel = next(rc.cache.wheelhouse.glob("helperlib-*.whl"))
    stop = tmp_path / "stop"
    starts = [tmp_path / "uvx-started", tmp_path / "run-started"]
    commands = [
        ["tool", "run", "--from", str(wheel), "python", "-c", PROGRAM, str(starts[0]), str(stop)],
        ["run", "--no-project", "--with", str(wheel), "python", "-c", PROGRAM, str(starts[1]), str(stop)],
    ]
    procs = [subprocess.Popen([rc.cache.uv, *cmd], env=rc.cache.env, cwd=tmp_path, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for cmd in commands]
    try:
        for start, proc in zip(starts, procs):
            while not start.exists():
                assert proc.poll() is None, proc.communicate()
                time.sleep(0.05)
        inv = scan_inventory(CacheLocation(rc.root, "--cache-dir"))
        helper_envs = [e for e in inv.environments if e.kind == "cached" and [d.name for d in e.packages] == ["helperlib"]]
        assert helper_envs  # uvx --from and uv run --with share one cached environment
        result = envtui_prune(rc.root, "--older-than", "0", "--unreferenced", "--dangling", "--skip-in-use")
        skipped = {s["path"]: s for s in result["skipped"]}
        for env in helper_envs:
            assert skipped[str(env.path)]["reason"] == "in use by a running process"
            whys = " ".join(p["why"] for p in skipped[str(env.path)]["processes"])
            assert "PATH" in whys, whys
            assert os.path.isdir(env.path)
        assert result["deleted"]  # the other environments went
    finally:
        stop.write_text("")
        outs = [p.communicate(timeout=120) for p in procs]
    for proc, (out, err) in zip(procs, outs):
        assert proc.returncode == 0, err
        assert "imported helperlib" in out
