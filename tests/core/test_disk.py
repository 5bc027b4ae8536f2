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


# -- the saved scan index ------------------------------------------------------------------------

from envtui.core.disk import index as disk_index  # noqa: E402


def _figures(report):
    import dataclasses

    d = dataclasses.asdict(report)
    d.pop("seconds")
    d.pop("links")  # the walk's inode table: not a figure (a saved index keeps none)
    return d


def test_index_gives_back_the_saved_report(real_cache, tmp_path):
    report = scan_disk(real_cache.root)
    path = disk_index.save_index(report, tmp_path / "state", now=1_000.0)
    assert path is not None and path.parent.parent == tmp_path / "state"
    assert not str(path).startswith(str(real_cache.root))
    saved = disk_index.load_index(real_cache.root, tmp_path / "state")
    assert saved is not None and saved.saved_at == 1_000.0 and saved.age(now=1_180.0) == 180.0
    assert _figures(saved.report) == _figures(report)
    assert saved.report.entry(next(iter(report.entries))) is not None


def test_index_of_another_root_is_not_used(real_cache, tmp_path):
    state = tmp_path / "state"
    path = disk_index.save_index(scan_disk(real_cache.root), state)
    other = tmp_path / "other-cache"
    # Even when the file sits where the other root's index would be, its root gives it away.
    os.makedirs(disk_index.index_path(other, state).parent, exist_ok=True)
    os.replace(path, disk_index.index_path(other, state))
    assert disk_index.load_index(other, state) is None
    assert not disk_index.index_path(other, state).exists()  # discarded


@pytest.mark.parametrize("damage", ["version", "truncated", "garbage", "negative", "escape", "fifo", "symlink", "too-large"])
def test_corrupt_or_foreign_index_is_discarded(real_cache, tmp_path, damage, monkeypatch):
    import json

    state = tmp_path / "state"
    path = disk_index.save_index(scan_disk(real_cache.root), state)
    doc = json.loads(path.read_bytes())
    if damage == "version":
        doc["format"] = disk_index.FORMAT + 1
        path.write_text(json.dumps(doc))
    elif damage == "truncated":
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    elif damage == "garbage":
        path.write_bytes(os.urandom(4096))
    elif damage == "negative":
        doc["total"][0] = -1
        path.write_text(json.dumps(doc))
    elif damage == "escape":
        doc["entries"][0][0] = "../../etc"
        path.write_text(json.dumps(doc))
    elif damage == "fifo":
        path.unlink()
        os.mkfifo(path)
    elif damage == "symlink":
        moved = tmp_path / "elsewhere.json"
        os.replace(path, moved)
        os.symlink(moved, path)
    elif damage == "too-large":
        monkeypatch.setattr(disk_index, "MAX_BYTES", path.stat().st_size - 1)
    assert disk_index.load_index(real_cache.root, state) is None  # returns at once, never raises


def test_index_is_bounded(real_cache, tmp_path, monkeypatch):
    state = tmp_path / "state"
    report = scan_disk(real_cache.root)
    monkeypatch.setattr(disk_index, "MAX_BYTES", 100)
    assert disk_index.save_index(report, state) is None  # too large: not saved
    monkeypatch.undo()
    import dataclasses

    for i in range(disk_index.MAX_FILES + 3):
        p = disk_index.save_index(dataclasses.replace(report, root=tmp_path / f"root{i}", entries={}, buckets=()), state)
        os.utime(p, (i, i))
    assert len(os.listdir(state / "disk-index")) == disk_index.MAX_FILES
    assert disk_index.load_index(tmp_path / "root0", state) is None
    assert disk_index.load_index(tmp_path / f"root{disk_index.MAX_FILES + 2}", state) is not None


def test_index_is_never_written_inside_the_cache(real_cache):
    report = scan_disk(real_cache.root)
    assert disk_index.save_index(report, real_cache.root / "envtui-state") is None
    assert not (real_cache.root / "envtui-state").exists()
