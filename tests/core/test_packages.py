"""The cache per package, against what real uv 0.13 made and what ``uv cache clean NAME`` removes."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from envtui.core.disk import scan_disk
from envtui.core.packages import INDEX_PAGE, SDIST, WHEEL, scan_packages
from tests.pkgcache import PackageCache


@pytest.fixture(scope="session")
def package_cache(tmp_path_factory: pytest.TempPathFactory, pythons: list[str]) -> PackageCache:
    """Read-only: a cache with wheel, index page, flat index and source distribution entries."""
    base = tmp_path_factory.mktemp("pkgcache")
    (base / "work").mkdir()
    return PackageCache(base / "cache", base / "work", base / "wheels").build(pythons[0])


def copy_cache(cache: PackageCache, dest: Path) -> Path:
    subprocess.run(["cp", "-a", str(cache.root), str(dest)], check=True)
    return dest


def tree(root: Path) -> set[str]:
    """Every path under ``root``, relative, not following links."""
    out = set()
    for top, dirs, files in os.walk(root):
        for n in dirs + files:
            out.add(os.path.relpath(os.path.join(top, n), root))
    return out


def du(path: Path) -> int:
    return int(subprocess.run(["du", "-sB1", str(path)], capture_output=True, text=True, check=True).stdout.split()[0])


def test_every_package_is_listed_with_its_versions(package_cache: PackageCache) -> None:
    by_name = {p.name: p for p in scan_packages(package_cache.root)}
    assert set(by_name) == {"tabulate", "cowsay", "tinytool", "src-pkg"}
    assert by_name["tabulate"].versions == ("0.8", "0.9")
    kinds = {e.kind for e in by_name["tabulate"].entries}
    assert kinds == {WHEEL, INDEX_PAGE}
    assert [e.kind for e in by_name["src-pkg"].entries] == [SDIST]
    # Sorted by size, largest first: tabulate 0.9 carries 240 KiB of data.
    assert [p.name for p in scan_packages(package_cache.root)][0] == "tabulate"


@pytest.mark.parametrize("name", ["tabulate", "src-pkg", "cowsay"])
def test_paths_are_those_uv_cache_clean_removes(package_cache: PackageCache, tmp_path: Path, name: str) -> None:
    """Two copies: uv cache clean NAME on one; the paths gone are the package's entries and
    archive entries (with everything under them) and the flat index."""
    theirs = copy_cache(package_cache, tmp_path / "theirs")
    ours = copy_cache(package_cache, tmp_path / "ours")
    before = tree(theirs)
    env = {**package_cache.env(), "UV_CACHE_DIR": str(theirs)}
    subprocess.run([package_cache.uv, "cache", "clean", name], env=env, check=True, capture_output=True)
    removed = before - tree(theirs)
    (pkg,) = scan_packages(ours, names=[name])
    tops = [os.path.relpath(p, ours) for p in pkg.paths] + [d for d in before if d.startswith("flat-index-v") and os.sep not in d]
    predicted = {p for p in before if any(p == t or p.startswith(t + os.sep) for t in tops)}
    assert removed == predicted
    assert pkg.archives, "every package here has an unpacked wheel"


def test_freed_bytes_are_what_du_drops_and_users_are_named(package_cache: PackageCache, tmp_path: Path) -> None:
    ours = copy_cache(package_cache, tmp_path / "ours")
    (pkg,) = scan_packages(ours, names=["tabulate"])
    # The script environment and both tool environments hardlink tabulate's files.
    assert len(pkg.used_by) == 3
    assert pkg.freed < pkg.disk
    flat = [ours / d for d in os.listdir(ours) if d.startswith("flat-index-v")]
    before = du(ours)
    from envtui.core.prune import remove_path

    for p in pkg.paths:
        remove_path(p)
    assert before - du(ours) == pkg.freed
    assert flat and all(f.exists() for f in flat)


def test_used_by_from_the_disk_report_matches_the_walk(package_cache: PackageCache) -> None:
    walked = {p.name: p.used_by for p in scan_packages(package_cache.root)}
    report = scan_disk(package_cache.root)
    reported = {p.name: p.used_by for p in scan_packages(package_cache.root, report=report)}
    assert walked == reported
    assert walked["tinytool"] and walked["src-pkg"]


def test_a_name_is_normalised_and_an_unknown_one_is_empty(package_cache: PackageCache) -> None:
    (pkg,) = scan_packages(package_cache.root, names=["Src_Pkg"])
    assert pkg.name == "src-pkg" and pkg.entries
    (none,) = scan_packages(package_cache.root, names=["nothing-here"])
    assert none.entries == () and none.archives == () and none.freed == 0


def _plan_max_size(root: Path, limit: int):
    from envtui.core import CacheLocation, scan_inventory
    from envtui.core.prune import Policies, plan_prune

    inv = scan_inventory(CacheLocation(root, "test"))
    return plan_prune(inv, Policies(max_size=limit), exclusive=True)


def test_max_size_takes_index_pages_after_environments_and_reaches_the_target(package_cache, tmp_path) -> None:
    from envtui.core.prune import execute_plan

    ours = copy_cache(package_cache, tmp_path / "ours")
    before = du(ours)
    everything = _plan_max_size(ours, 1)
    envs = sum(e.bytes_with_plan for e in everything.entries if "environment" in str(e.kind))
    pages = [e for e in everything.entries if str(e.path).endswith(".rkyv")]
    assert pages, "the index pages are taken once the environments are not enough"
    # A target the environments alone miss by one page.
    limit = before - envs - 1
    plan = _plan_max_size(ours, limit)
    t = plan.size_target
    assert t.reached and t.before == before and t.after == before - plan.bytes_freed <= limit
    assert any(str(e.path).endswith(".rkyv") for e in plan.entries)
    assert t.held == ()
    execute_plan(plan)
    assert du(ours) == t.after


def test_max_size_says_how_close_it_got_and_what_holds_the_rest(package_cache, tmp_path) -> None:
    from envtui.core.prune import execute_plan

    ours = copy_cache(package_cache, tmp_path / "ours")
    plan = _plan_max_size(ours, 1)
    t = plan.size_target
    assert not t.reached and t.after == du(ours) - plan.bytes_freed
    # The rest, top-level entry by top-level entry, adds up exactly to what remains.
    assert sum(h.bytes for h in t.held) == t.after
    held = {h.name: h for h in t.held}
    assert held["archive-v0"].bytes > 0 and "--package" in held["archive-v0"].why
    execute_plan(plan)
    assert du(ours) == t.after
    after = {p.name for p in ours.iterdir()}
    assert {"archive-v0", "wheels-v8"} <= after
