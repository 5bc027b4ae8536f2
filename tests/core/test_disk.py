"""Disk accounting checked against du(1) on caches that real uv made, with a project .venv
outside the cache that hardlinks the same files."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from envtui.core import CacheLocation, scan_inventory
from envtui.core.disk import ARCHIVE, ARCHIVE_ENV, ENV_LINK, SCRIPT_ENV, scan_disk
from envtui.core.errors import ScanCancelled
from envtui.core.disk import disk_usage

pytestmark = pytest.mark.skipif(shutil.which("du") is None, reason="needs du(1) as the oracle")


def du(*paths: Path) -> int:
    """``du -sB1 --total``: allocated bytes under ``paths``, each inode once."""
    out = subprocess.run(["du", "-sB1", "--total", *map(str, paths)], capture_output=True, text=True, check=True)
    return int(out.stdout.strip().splitlines()[-1].split()[0])


def du_apparent(path: Path) -> int:
    out = subprocess.run(["du", "-sb", str(path)], capture_output=True, text=True, check=True)
    return int(out.stdout.split()[0])


@pytest.fixture
def cache_and_project(real_cache_copy, tmp_path):
    """A private copy of the real cache, plus a project .venv outside it that uv filled by hardlink
    from that cache (tinytool 1.0 and bigtool)."""
    cache = real_cache_copy.cache
    venv = tmp_path / "project" / ".venv"
    cache.run("venv", str(venv), "--python", real_cache_copy.pythons[0])
    cache.run("pip", "install", "--python", str(venv / "bin" / "python"), "--link-mode", "hardlink", "tinytool==1.0", "bigtool")
    return real_cache_copy, venv


def test_total_equals_du(cache_and_project):
    real, venv = cache_and_project
    report = scan_disk(real.root)
    assert report.total_disk == du(real.root)
    # The light walk prune uses for --max-size and for measuring a prune agrees with both.
    assert disk_usage(real.root) == report.total_disk
    assert report.total_apparent == du_apparent(real.root)
    # Every top-level entry of the root is a row, and a whole bucket's reclaimable bytes are what
    # deleting it frees.
    assert {b.bucket.dirname for b in report.buckets} == set(os.listdir(real.root))
    archive = next(b for b in report.buckets if b.bucket.dirname == "archive-v0")
    before = du(real.root, venv)
    shutil.rmtree(real.root / "archive-v0")
    assert before - du(real.root, venv) == archive.reclaimable


def test_project_venv_counts_as_outside(cache_and_project):
    real, venv = cache_and_project
    report = scan_disk(real.root)
    bigtool_wheel = [e for e in report.entries.values() if e.kind == ARCHIVE and (e.path / "bigtool").is_dir()]
    assert len(bigtool_wheel) == 1
    usage = bigtool_wheel[0].usage
    # The 40 data files of 16 KiB are linked from the project .venv: they stay when the entry goes.
    assert usage.shared_outside >= 40 * 16384
    assert usage.exclusive < usage.disk - 40 * 16384


def _delete_environment(env) -> None:
    if env.kind == "cached":
        os.unlink(env.path)
        os.unlink(str(env.path) + ".lock")
        shutil.rmtree(env.link_target)
    else:
        shutil.rmtree(env.path)


@pytest.mark.parametrize("pick", ["script", "cached-bigtool", "cached-with", "wheel-outside", "wheel-inside"])
def test_deleting_one_entry_frees_exactly_its_exclusive_bytes(cache_and_project, pick):
    real, venv = cache_and_project
    root = real.root
    inv = scan_inventory(CacheLocation(root, "--cache-dir"), known_scripts=[str(s) for s in real.scripts])
    report = scan_disk(root)
    if pick.startswith("wheel"):
        wanted = "bigtool" if pick == "wheel-outside" else "helperlib"
        entry = next(e for e in report.entries.values() if e.kind == ARCHIVE and (e.path / wanted).is_dir())
        expected = entry.usage.exclusive
        delete = lambda: shutil.rmtree(entry.path)  # noqa: E731
    else:
        envs = {
            "script": [e for e in inv.environments if e.kind == "script" and e.packages],
            "cached-bigtool": [e for e in inv.environments if e.tool == "bigtool"],
            "cached-with": [e for e in inv.environments if len(e.packages) == 2 and e.kind == "cached"],
        }[pick]
        env = envs[0]
        usage = report.environment(env.path, env.link_target)
        assert usage is not None
        expected = usage.exclusive
        delete = lambda: _delete_environment(env)  # noqa: E731
    assert expected > 0
    before = du(root, venv)
    delete()
    assert before - du(root, venv) == expected


def test_cached_environment_is_link_plus_target(real_cache):
    inv = scan_inventory(CacheLocation(real_cache.root, "--cache-dir"))
    report = scan_disk(real_cache.root)
    for env in (e for e in inv.environments if e.kind == "cached"):
        link = report.entry(env.path)
        target = report.entry(env.link_target)
        assert link.kind == ENV_LINK and target.kind == ARCHIVE_ENV
        assert link.usage.files == 2  # the link and its .lock, never what the link points to
        both = report.environment(env.path, env.link_target)
        assert both.disk == link.usage.disk + target.usage.disk
        # Its packages come from unpacked wheels in archive-v0, found through shared inodes.
        assert target.uses and all(report.entry(w).kind == ARCHIVE for w in target.uses)
        assert all(env.link_target in report.entry(w).used_by for w in target.uses)
    scripts = [e for e in report.entries.values() if e.kind == SCRIPT_ENV]
    assert len(scripts) == len(real_cache.scripts)


def test_progress_streams_and_cancel_stops(real_cache):
    seen = []
    report = scan_disk(real_cache.root, on_progress=seen.append, progress_interval=0)
    assert seen and seen[-1].done == seen[-1].total == len(report.entries)
    assert [p.done for p in seen] == sorted(p.done for p in seen)
    # Environments are measured first, so their sizes reach the screens first.
    first = next(iter(seen[0].entry_disk))
    assert "environments-v" in first
    with pytest.raises(ScanCancelled):
        scan_disk(real_cache.root, should_stop=lambda: True)



def test_ls_json_sizes(real_cache):
    import json
    import sys

    proc = subprocess.run(
        [sys.executable, "-m", "envtui", "ls", "--json", "--sizes", "--cache-dir", str(real_cache.root)],
        capture_output=True, text=True, check=True,
    )
    doc = json.loads(proc.stdout)
    assert doc["total_disk"] == du(real_cache.root)
    assert doc["environments"]
    for env in doc["environments"]:
        b = env["bytes"]
        assert set(b) == {"apparent", "disk", "exclusive"}
        assert 0 < b["exclusive"] <= b["disk"]
    by_name = {b["path"].rsplit("/", 1)[-1]: b for b in doc["buckets"]}
    archive = by_name["archive-v0"]
    assert {"name", "version", "entries", "apparent", "disk"} <= archive.keys()
    assert archive["name"] == "archive" and archive["version"] == 0
    assert archive["entries"] == len(os.listdir(real_cache.root / "archive-v0"))
    assert archive["disk"] == du(real_cache.root / "archive-v0")
