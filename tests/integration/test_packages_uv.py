"""``envtui prune --package`` against ``uv cache clean`` on two copies of one cache real uv made."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.pkgcache import PackageCache


@pytest.fixture(scope="module")
def package_cache(tmp_path_factory: pytest.TempPathFactory, pythons: list[str]) -> PackageCache:
    base = tmp_path_factory.mktemp("pkgcache-int")
    (base / "work").mkdir()
    return PackageCache(base / "cache", base / "work", base / "wheels").build(pythons[0])


def _copy(cache: PackageCache, dest: Path) -> PackageCache:
    subprocess.run(["cp", "-a", str(cache.root), str(dest)], check=True)
    return PackageCache(dest, cache.work, cache.wheelhouse, cache.uv, cache.script)


def _tree(root: Path) -> set[str]:
    out = set()
    for top, dirs, files in os.walk(root):
        out.update(os.path.relpath(os.path.join(top, n), root) for n in dirs + files)
    return out


def _du(path: Path) -> int:
    return int(subprocess.run(["du", "-sB1", str(path)], capture_output=True, text=True, check=True).stdout.split()[0])


def _envtui(cache: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "envtui", "--cache-dir", str(cache), *args],
                          capture_output=True, text=True, timeout=120)


def _still_runs(cache: PackageCache, python: str) -> None:
    """The script and the tools that do not need the cleaned package's index page run offline."""
    py = ["--python", python]
    out = cache.uv_run("run", *py, str(cache.script)).stdout
    assert "both tabulate cowsay" in out
    assert "tinytool 1.0" in cache.uv_run("tool", "run", *py, "--find-links", str(cache.wheelhouse), "tinytool").stdout
    cache.uv_run("tool", "run", *py, "--from", str(cache.work / "srcpkg"), "python", "-c", "import src_pkg")


@pytest.mark.parametrize("names", [("tabulate",), ("src-pkg",), ("cowsay", "Tabulate")])
def test_prune_package_deletes_what_uv_cache_clean_deletes(package_cache: PackageCache, tmp_path: Path,
                                                            pythons: list[str], names: tuple[str, ...]) -> None:
    theirs = _copy(package_cache, tmp_path / "theirs")
    ours = _copy(package_cache, tmp_path / "ours")
    before = _tree(theirs.root)
    theirs.uv_run("cache", "clean", *names)
    removed_by_uv = before - _tree(theirs.root)

    args = [a for n in names for a in ("--package", n)]
    dry = _envtui(ours.root, "prune", *args, "--dry-run", "--json")
    assert dry.returncode == 0, dry.stderr
    plan = json.loads(dry.stdout)
    assert plan["skipped"] == []
    tops = [os.path.relpath(p, ours.root) for e in plan["entries"] for p in e["paths"]]
    planned = {p for p in before if any(p == t or p.startswith(t + os.sep) for t in tops)}
    assert planned == removed_by_uv
    # The plan names the environments that keep the package's files through hardlinks.
    assert any("stay on disk" in r for e in plan["entries"] for r in e["reasons"])

    du_before = _du(ours.root)
    done = _envtui(ours.root, "prune", *args, "--yes", "--json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["bytes_freed"] == plan["bytes_freed"] == du_before - _du(ours.root) == result["measured_bytes"]
    assert _tree(ours.root) == _tree(theirs.root)
    _still_runs(ours, pythons[0])


def test_prune_package_text_and_unknown_names(package_cache: PackageCache, tmp_path: Path) -> None:
    ours = _copy(package_cache, tmp_path / "ours")
    text = _envtui(ours.root, "prune", "--package", "tabulate", "--dry-run")
    assert text.returncode == 0
    assert "with the unpacked wheels only it links to:" in text.stdout and "0.8 (" in text.stdout
    assert "flat-index-v" in text.stdout
    # uv cache clean removes the flat index for any name, one it has never seen included.
    none = _envtui(ours.root, "prune", "--package", "no-such-package", "--dry-run", "--json")
    assert [e["kind"] for e in json.loads(none.stdout)["entries"]] == ["bucket"]
    both = _envtui(ours.root, "prune", "--package", "tabulate", "--dangling", "--dry-run")
    assert both.returncode == 2 and "--package" in both.stderr


def test_ls_json_sizes_lists_packages(package_cache: PackageCache) -> None:
    out = _envtui(package_cache.root, "ls", "--json", "--sizes")
    assert out.returncode == 0, out.stderr
    packages = {p["name"]: p for p in json.loads(out.stdout)["packages"]}
    assert set(packages) == {"tabulate", "cowsay", "tinytool", "src-pkg"}
    tab = packages["tabulate"]
    assert tab["versions"] == ["0.8", "0.9"]
    assert 0 < tab["bytes"]["freed"] < tab["bytes"]["disk"]
    assert len(tab["used_by"]) == 3
