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


# -- a name that is a prefix of another, every generation, names uv refuses, a symlinked root --------------


def _index(base: Path, *wheels: tuple[str, str]) -> Path:
    """A PEP 503 index in ``base/index`` holding the wheels ``(name, version)``."""
    import hashlib

    from envtui.demo.wheels import make_wheel

    index = base / "index"
    for name, version in wheels:
        make_wheel(index / name, name, version, extra_files=3)
    for project in sorted(p for p in index.iterdir() if p.is_dir()):
        links = "".join(f'<a href="{w.name}#sha256={hashlib.sha256(w.read_bytes()).hexdigest()}">{w.name}</a>\n'
                        for w in sorted(project.glob("*.whl")))
        (project / "index.html").write_text(f"<html><body>\n{links}</body></html>\n")
    return index


def _run(uv: str, cache: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("UV_", "VIRTUAL_ENV", "PYTHONHOME"))}
    env.update(UV_CACHE_DIR=str(cache), UV_NO_CONFIG="1", UV_PYTHON_DOWNLOADS="never", UV_NO_PROGRESS="1")
    return subprocess.run([uv, *args], env=env, capture_output=True, text=True, cwd=cwd, timeout=180)


def _copy_in_place(src: Path, dest: Path) -> Path:
    """``cp -a``, then the absolute links uv <= 0.10 wrote into ``src`` pointed into ``dest``: a
    copy each uv and envtui read as the cache it is (not as a cache moved away from ``src``)."""
    subprocess.run(["cp", "-a", str(src), str(dest)], check=True)
    for top, dirs, files in os.walk(dest):
        for n in dirs + files:
            p = os.path.join(top, n)
            if os.path.islink(p) and os.readlink(p).startswith(str(src) + os.sep):
                target = str(dest) + os.readlink(p)[len(str(src)):]
                os.unlink(p)
                os.symlink(target, p)
    return dest


def _plan_and_run(root: Path, names: list[str]):
    from envtui.core import CacheLocation, scan_inventory
    from envtui.core.prune import execute_plan
    from envtui.core.prune.packages import plan_packages

    plan = plan_packages(scan_inventory(CacheLocation(root, "test")), names, exclusive=True)
    return plan, execute_plan(plan)


#: uv releases to check every generation against, one ``<dir>/<version>/uv`` each (the wheels from
#: PyPI unpacked: ``pip download --no-deps uv==0.5.31``...). Unset: the test is skipped (offline CI).
UV_RELEASES = os.environ.get("ENVTUI_UV_RELEASES")


@pytest.fixture(scope="module")
def prefix_cache(tmp_path_factory: pytest.TempPathFactory, pythons: list[str]) -> Path:
    """A cache where uv 0.13 (and each release under ``$ENVTUI_UV_RELEASES``) installed tabulate
    and tabulate-extras from an index."""
    from tests.pkgcache import serve
    from tests.uvcache import uv_bin

    base = tmp_path_factory.mktemp("prefix")
    index = _index(base, ("tabulate", "0.9"), ("tabulate-extras", "1.0"))
    uvs = sorted(Path(UV_RELEASES).glob("*/uv")) if UV_RELEASES else []
    with serve(index) as url:
        for uv in [*map(str, uvs), uv_bin()]:
            for name in ("tabulate", "tabulate-extras"):
                done = _run(uv, base / "cache", "tool", "run", "--python", pythons[0], "--index-url", url,
                            "--from", name, name, cwd=base)
                assert done.returncode == 0, done.stderr
    return base / "cache"


@pytest.mark.parametrize("names", [["tabulate"], ["tabulate-extras"], ["Tabulate_Extras", "TABULATE"]])
def test_prune_package_takes_what_every_uv_s_cache_clean_takes_with_a_longer_name_cached(prefix_cache, tmp_path, names):
    """tabulate's own unpacked wheel goes though ``tabulate-extras`` sorts between its name and
    its directory; with ``$ENVTUI_UV_RELEASES``, each older uv's ``cache clean`` runs on its own
    generation of the same cache, and envtui's one plan removes exactly what they all removed."""
    from tests.uvcache import uv_bin

    theirs = _copy_in_place(prefix_cache, tmp_path / "theirs")
    ours = _copy_in_place(prefix_cache, tmp_path / "ours")
    before = _tree(theirs)
    uvs = sorted(Path(UV_RELEASES).glob("*/uv")) if UV_RELEASES else []
    for uv in [*map(str, uvs), uv_bin()]:
        done = _run(uv, theirs, "cache", "clean", *names, cwd=tmp_path)
        assert done.returncode == 0, done.stderr
    removed = before - _tree(theirs)
    plan, result = _plan_and_run(ours, names)
    assert plan.skipped == ()
    assert before - _tree(ours) == removed
    wheels = {n.partition("/")[2] for n in removed if n.startswith("archive-v0/") and n.count("/") == 1}
    # One unpacked wheel per package per uv that installed it.
    assert len(wheels) == len(names) * (len(uvs) + 1), sorted(removed)
    assert result.complete and result.measured_bytes == result.predicted_bytes == plan.bytes_freed


@pytest.mark.skipif(not UV_RELEASES, reason="set ENVTUI_UV_RELEASES to a directory of uv releases (<version>/uv)")
def test_every_generation_is_read_and_a_newer_uv_s_is_left(prefix_cache, tmp_path):
    from envtui.core.buckets import list_buckets
    from envtui.core.packages import scan_packages

    buckets = {b.name for b in list_buckets(prefix_cache) if b.kind == "bucket" and b.age == "older"}
    assert {"wheels", "simple"} <= buckets, "the releases wrote older generations"
    (pkg,) = scan_packages(prefix_cache, names=["tabulate"])
    generations = {os.path.relpath(e.path, prefix_cache).split(os.sep)[0] for e in pkg.entries}
    assert len({g for g in generations if g.startswith("wheels-v")}) == len(list(Path(UV_RELEASES).glob("*/uv"))) + 1


@pytest.mark.parametrize("name,accepted", [
    ("", False), ("-tabulate", False), ("tabulate-", False), ("a b", False), ("..", False), ("a/b", False),
    ("caf\u00e9", False), ("tabulate", True), ("Tabulate_Extras", True), ("a.b-c_d", True), ("7", True),
])
def test_what_uv_refuses_as_a_package_name_envtui_refuses(tmp_path, name, accepted):
    from envtui.core.packages import package_name
    from tests.uvcache import uv_bin

    cache = tmp_path / "cache"
    done = _run(uv_bin(), cache, "cache", "clean", "--", name, cwd=tmp_path)
    assert (done.returncode == 0) == accepted, done.stderr
    if accepted:
        package_name(name)
    else:
        with pytest.raises(ValueError, match="not a package name"):
            package_name(name)


@pytest.mark.parametrize("spelling", ["symlink", "dotdot"])
def test_max_size_through_another_spelling_of_the_root_measures_and_frees_the_cache(package_cache, tmp_path, spelling):
    from envtui.core import CacheLocation, scan_inventory
    from envtui.core.prune import Policies, execute_plan, plan_prune

    ours = _copy(package_cache, tmp_path / "ours")
    if spelling == "symlink":
        (tmp_path / "alias").symlink_to(ours.root)
        spelled = tmp_path / "alias"
    else:
        spelled = ours.root / "wheels-v8" / ".." / ".." / "ours"
    before = _du(ours.root)
    plan = plan_prune(scan_inventory(CacheLocation(spelled, "test")), Policies(max_size=before - 1), exclusive=True)
    assert plan.cache_bytes == before
    assert plan.entries and plan.size_target.reached
    execute_plan(plan)
    assert _du(ours.root) == plan.size_target.after <= before - 1


def test_prune_max_size_through_a_symlinked_root_from_the_command_line(package_cache, tmp_path):
    """As the issue saw it: ``--max-size`` on a cache given through a symlink measured 0 bytes
    and planned nothing."""
    ours = _copy(package_cache, tmp_path / "ours")
    (tmp_path / "alias").symlink_to(ours.root)
    before = _du(ours.root)
    dry = _envtui(tmp_path / "alias", "prune", "--max-size", str(before - 1), "--dry-run", "--json")
    assert dry.returncode == 0, dry.stderr
    doc = json.loads(dry.stdout)
    assert doc["cache_bytes"] == before and doc["entries"]
    done = _envtui(tmp_path / "alias", "prune", "--max-size", str(before - 1), "--yes", "--json")
    assert done.returncode == 0, done.stderr
    assert _du(ours.root) == before - json.loads(done.stdout)["bytes_freed"] <= before - 1
