"""Hostile links: symlinks planted in a real uv cache that point outside it, at a directory full
of someone's files. Scanning must not count those files, pruning must never delete them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from envtui.core import CacheLocation, execute_plan, plan_prune, plan_selection, scan_disk, scan_inventory
from envtui.core.prune import Policies
from tests.reliability.helpers import du, listing

OLD = 1_000_000_000  # 2001: long unused
FILES, FILE_SIZE = 128, 64 * 1024  # 8 MiB of someone's data


@dataclass
class Hostile:
    """A cache with planted links, and the outside directory they point at."""

    root: Path
    precious: Path
    links: dict[str, Path]
    """What each planted link is, to where it sits."""
    script_env: Path
    """A script environment with a link inside it (site-packages/evil -> precious)."""


def make_precious(where: Path) -> Path:
    """A directory outside the cache that looks like a venv with a tool (so environment policies
    would choose a link to it), with a base interpreter that is gone (so --orphans would too), old
    (so --older-than would), and 8 MiB of files."""
    d = where / "precious"
    sp = d / "lib" / "python3.12" / "site-packages"
    info = sp / "eviltool-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: eviltool\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[console_scripts]\neviltool = eviltool:main\n")
    (d / "bin").mkdir()
    (d / "bin" / "python").symlink_to("/nonexistent-envtui-hostile/python3")
    data = d / "data"
    data.mkdir()
    for i in range(FILES):
        (data / f"f{i:03}.bin").write_bytes(os.urandom(FILE_SIZE))
    cfg = d / "pyvenv.cfg"
    cfg.write_text("home = /nonexistent-envtui-hostile\nimplementation = CPython\nversion_info = 3.12.1\n")
    os.utime(cfg, (OLD, OLD))
    return d


def plant(root: Path, precious: Path) -> dict[str, Path]:
    env_bucket = root / "environments-v2"
    group = next(p for p in sorted(env_bucket.iterdir()) if p.is_dir() and not p.is_symlink() and len(p.name) == 16)
    links = {
        # A cached environment link (uv's own links are relative, into archive-v0).
        "env link": group / "ffffffffffffffff",
        # A top-level entry of the environments bucket, as a script environment would be named.
        "env top-level": env_bucket / "evil-0123456789abcdef",
        # A top-level .tmp name: what --dangling takes for an interrupted uv's leftover.
        "env .tmp": env_bucket / ".tmpEvil01",
        # An archive entry, and an archive .tmp leftover.
        "archive": root / "archive-v0" / "EvilArchive00000",
        "archive .tmp": root / "archive-v0" / ".tmpEvil01",
        # A wheel link.
        "wheels": root / next((p.name for p in root.glob("wheels-v*")), "wheels-v8") / "evilindex" / "eviltool" / "eviltool-1.0-py3-none-any",
    }
    for link in links.values():
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(precious)
    # A chain: an ordinary-looking relative environment link into archive-v0, whose entry is a
    # link out of the cache.
    chain_archive = root / "archive-v0" / "ChainArchive0000"
    chain_archive.symlink_to(precious)
    chain = group / "eeeeeeeeeeeeeeee"
    chain.symlink_to(Path("..", "..", "archive-v0", chain_archive.name))
    (group / "eeeeeeeeeeeeeeee.lock").write_text("")
    links["env link chain"] = chain
    links["archive chain"] = chain_archive
    return links


@pytest.fixture
def hostile(real_cache_copy, tmp_path) -> Hostile:
    root = real_cache_copy.root
    precious = make_precious(tmp_path)
    links = plant(root, precious)
    script_env = next(p for p in sorted((root / "environments-v2").iterdir())
                      if not p.is_symlink() and (p / "pyvenv.cfg").exists())
    sp = next(script_env.glob("lib/*/site-packages"))
    (sp / "evil").symlink_to(precious)
    links["inside a script environment"] = sp / "evil"
    # Everything in the cache is old too: environment policies choose every environment.
    for cfg in root.glob("environments-v2/*/pyvenv.cfg"):
        os.utime(cfg, (OLD, OLD))
    for cfg in root.glob("archive-v0/*/pyvenv.cfg"):
        if not cfg.parent.is_symlink():
            os.utime(cfg, (OLD, OLD))
    return Hostile(root, precious, links, script_env)


def envtui(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "envtui", *args], capture_output=True, text=True, timeout=300,
                          stdin=subprocess.DEVNULL)


def check_links(h: Hostile) -> set[str]:
    """The planted links that are gone. Any that remains is still the same link (never replaced
    by a copy, never followed)."""
    gone = set()
    for what, link in h.links.items():
        if os.path.lexists(link):
            assert os.path.islink(link), what
        else:
            gone.add(what)
    return gone


# -- scanning --------------------------------------------------------------------------------------


def test_scanning_does_not_count_what_links_point_at(real_cache_copy, tmp_path):
    root = real_cache_copy.root
    before = json.loads(envtui("ls", "--json", "--sizes", "--cache-dir", str(root)).stdout)
    assert before["total_disk"] == du(root)
    precious = make_precious(tmp_path)
    plant(root, precious)
    precious_bytes = sum(f.stat().st_blocks * 512 for f in precious.rglob("*.bin"))
    assert precious_bytes >= FILES * FILE_SIZE

    proc = envtui("ls", "--json", "--sizes", "--cache-dir", str(root))
    assert proc.returncode == 0, proc.stderr
    after = json.loads(proc.stdout)
    # The total is what du says (du does not follow links): the links add a few blocks at most.
    assert after["total_disk"] == du(root)
    assert after["total_disk"] - before["total_disk"] < 64 * 1024
    buckets_before = {b["name"] + str(b["version"]): b["disk"] or 0 for b in before["buckets"]}
    for b in after["buckets"]:
        assert (b["disk"] or 0) - buckets_before.get(b["name"] + str(b["version"]), 0) < 64 * 1024, b
    # The links that look like environments are listed (they are in the cache), at their own size.
    hostile_envs = [e for e in after["environments"] if "eviltool" in {p["name"] for p in e["packages"]}]
    assert len(hostile_envs) == 2
    for env in hostile_envs:
        assert env["bytes"]["disk"] < 64 * 1024, env

    report = scan_disk(root)
    assert report.total_disk == du(root)
    for env in scan_inventory(CacheLocation(root, "--cache-dir")).environments:
        usage = report.environment(env.path, env.link_target)
        assert usage is not None and usage.disk < precious_bytes / 4, env.path


# -- pruning ---------------------------------------------------------------------------------------

# Which planted links each policy deletes (the link only); the rest must stay as they are.
# "env link" (a cached environment whose target is outside the cache) is chosen by every
# environment policy: the link goes, what it points at never does. "env link chain" points at an
# archive-v0 name that is itself a link out of the cache: not an archive directory, so the
# environment's link goes alone and "archive chain" stays (until --unreferenced, with the
# environment link in the same plan, takes it as a link).
ENV_POLICY_GONE = {"env link", "env link chain"}
POLICIES = {
    "older-than": (Policies(older_than_days=0), ENV_POLICY_GONE | {"inside a script environment"}),
    "keep-latest": (Policies(keep_latest=0), ENV_POLICY_GONE),
    "orphans": (Policies(orphans=True), ENV_POLICY_GONE),
    # Past the environments --max-size takes unreferenced archive entries too: planted links, as links.
    "max-size": (Policies(max_size=0), ENV_POLICY_GONE | {"inside a script environment", "archive", "archive chain"}),
    "dangling": (Policies(dangling=True), {"env .tmp", "archive .tmp"}),
    "unreferenced": (Policies(unreferenced=True), {"archive"}),
}


def _inside(root: Path, path: Path) -> bool:
    parent = os.path.realpath(path.parent)
    return parent == str(root) or parent.startswith(str(root) + os.sep)


@pytest.mark.parametrize("name", list(POLICIES))
def test_each_policy_removes_links_never_their_targets(hostile, name):
    policies, expected_gone = POLICIES[name]
    before = listing(hostile.precious)
    inv = scan_inventory(CacheLocation(hostile.root, "--cache-dir"))
    plan = plan_prune(inv, policies, exclusive=True)
    for entry in plan.entries:
        for p in entry.paths:
            assert _inside(plan.root, p) and not str(p).startswith(str(hostile.precious)), (entry, p)
    result = execute_plan(plan)
    assert listing(hostile.precious) == before
    assert check_links(hostile) == expected_gone
    assert result.errors == ()
    if expected_gone >= ENV_POLICY_GONE:  # an environment policy: it chose the outside link too
        entry = next(e for e in plan.entries if e.path == hostile.links["env link"])
        assert all(_inside(plan.root, p) for p in entry.paths)


def test_marked_environments_remove_links_never_their_targets(hostile):
    before = listing(hostile.precious)
    inv = scan_inventory(CacheLocation(hostile.root, "--cache-dir"))
    plan = plan_selection(inv, inv.environments, exclusive=True)
    result = execute_plan(plan)
    assert listing(hostile.precious) == before
    assert check_links(hostile) == ENV_POLICY_GONE | {"inside a script environment"}
    assert result.errors == ()
    assert not hostile.script_env.exists()


def test_prune_command_with_every_policy(hostile):
    before = listing(hostile.precious)
    du_before = du(hostile.root)
    proc = envtui("prune", "--cache-dir", str(hostile.root), "--yes", "--json", "--older-than", "0", "--keep-latest", "0",
                  "--orphans", "--max-size", "0", "--dangling", "--unreferenced", "--interpreters")
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert listing(hostile.precious) == before
    assert check_links(hostile) == set().union(*(gone for _, gone in POLICIES.values())) | {"archive chain"}
    # What it says it freed is what the cache lost, and far less than the data behind the links
    # would have been had it been counted... or deleted.
    assert result["measured_bytes"] == result["predicted_bytes"] == du_before - du(hostile.root)
    assert str(hostile.links["env link"]) in result["deleted"]
