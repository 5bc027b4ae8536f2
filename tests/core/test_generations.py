"""Caches written by real uv releases, 0.4.30 to 0.13.9, read back from golden fixtures, offline.

Each fixture (tests/fixtures/uv-X.Y/, made by scripts/capture_fixtures.py; see its NOTE.md) holds
the small files of a cache that release built and what that uv reported while building it. The
fixture is rebuilt in tmp_path and scanned; every decoded field is checked against the report.
Nothing here needs the fixture's original paths to exist.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from envtui.core import scan_inventory
from envtui.core.buckets import BUCKET_WRITERS, list_buckets
from envtui.core.digest import script_environment_name
from envtui.core.environments import CACHED, INTERPRETER_HASH_SCHEMES, SCRIPT
from envtui.core.interpreters import decode_interpreter_entry, key_inputs
from envtui.core.locate import CacheLocation
from tests.fixtures.materialize import FIXTURES, fixture_names, materialize, report

NAMES = fixture_names()


def _v(text: str) -> tuple[int, ...]:
    return tuple(int(x) for x in text.split("."))


def _releases(name: str) -> list[str]:
    return report(name)["releases"]


def _oracle(name: str) -> dict[str, dict]:
    """What each interpreter said about itself, by the executable path uv used: asked directly
    (``probes``) and from inside every program uv ran (``probe``)."""
    out: dict[str, dict] = {}
    for build in report(name)["builds"]:
        for run in build["runs"].values():
            if run["probe"]:
                out.setdefault(run["probe"]["sys_executable"], run["probe"])
        for exe, probe in build["probes"].items():
            out[exe] = probe
    return out


def _queried(name: str) -> set[str]:
    return {q for b in report(name)["builds"] for r in b["runs"].values() for q in r["queried"]}


@pytest.fixture(scope="module")
def caches(tmp_path_factory) -> dict[str, Path]:
    return {n: materialize(n, tmp_path_factory.mktemp(n.replace("+", "_")) / "cache") for n in NAMES}


def _inventory(root: Path):
    return scan_inventory(CacheLocation(root, "test"))


def test_fixtures_cover_every_generation_and_stay_small():
    assert {"uv-0.4", "uv-0.5", "uv-0.7", "uv-0.9", "uv-0.12", "uv-0.13", "uv-0.5+0.13"} <= set(NAMES)
    total = sum(f.stat().st_size for f in FIXTURES.rglob("*") if f.is_file())
    assert total < 400_000, f"fixtures are {total} bytes: keep them to kilobytes"
    for name in NAMES:
        said = [b["runs"]["version"]["stdout"].split()[1] for b in report(name)["builds"]]
        assert said == _releases(name)


@pytest.mark.parametrize("name", NAMES)
def test_every_interpreter_entry_decoded_as_that_uv_reported(caches, name):
    root = caches[name]
    files = sorted(p for p in root.glob("interpreter-v*/**/*.msgpack"))
    inv = _inventory(root)
    assert len(inv.interpreters) == len(files) > 0
    oracle = _oracle(name)
    for e in inv.interpreters:
        assert e.layout, (e.path, e.error)
        assert e.key_verified, e.path
        # The key recomputed from what the entry records alone, with no file of it existing here.
        absolute, canonical, scheme = key_inputs(e)
        said = oracle[absolute]
        assert e.executable == said["sys_executable"] == absolute
        assert e.version == said["python_full_version"]
        assert e.implementation == said["implementation_name"]
        assert e.sys_prefix == said["sys_prefix"]
        assert e.base_prefix == said["sys_base_prefix"]
        if scheme != "absolute":
            assert canonical == said["realpath"]
        if "canonical_ctime_ns" in said:
            assert abs(e.timestamp - said["canonical_ctime_ns"] / 1e9) < 1e-6
        # The inputs are those of the release that wrote it (0.7.18 added the canonical path,
        # 0.12.4 the launcher variables).
        writer = _v(_releases(name)[-1] if e.bucket_version == 5 else _releases(name)[0])
        expected = ("absolute" if writer < (0, 7, 18) else
                    "absolute+canonical" if writer < (0, 12, 4) else "absolute+canonical+launcher")
        assert scheme == expected, (e.path, scheme)
        # The shard: none before 0.5.9 (interpreter-v2/v3), ARCH to 0.6.3, the host digest since.
        if writer < (0, 5, 9):
            assert e.shard == "" and e.path.parent.name == f"interpreter-v{e.bucket_version}"
        elif writer < (0, 6, 4):
            assert e.shard == "x86_64" and e.shard_scheme.startswith("ARCH")
        else:
            assert len(e.shard) == 16 and e.shard_scheme.startswith("cache_digest((ARCH")
    # Every executable uv's trace log says it queried has its entry.
    assert _queried(name) <= {e.executable for e in inv.interpreters}


@pytest.mark.parametrize("name", NAMES)
def test_uv_python_find_names_a_decoded_entry(caches, name):
    inv = _inventory(caches[name])
    executables = {e.executable for e in inv.interpreters}
    for build in report(name)["builds"]:
        for run in ("find", "find_py312"):
            assert build["runs"][run]["rc"] == 0
            assert build["runs"][run]["stdout"].strip() in executables


@pytest.mark.parametrize("name", NAMES)
def test_every_environments_bucket_and_environment_listed(caches, name):
    root = caches[name]
    inv = _inventory(root)
    links = json.loads((FIXTURES / name / "links.json").read_text())
    cached_links = {l["path"] for l in links if l["path"].startswith("environments-v") and l["path"].count("/") == 2
                    and "/bin/" not in l["path"] and not l["path"].endswith("lib64")}
    script_dirs = {str(p.parent.relative_to(root)) for p in root.glob("environments-v*/*/pyvenv.cfg")}
    by_rel = {str(env.path.relative_to(root)): env for env in inv.environments}
    assert set(by_rel) == cached_links | script_dirs
    buckets = {b.version for b in list_buckets(root) if b.name == "environments"}
    assert {env.bucket_version for env in inv.environments} == buckets
    for env in inv.environments:
        assert env.status == "ok", (env.path, env.problems)
        if env.kind == CACHED:
            # Every cached environment's interpreter is recognised, whatever hash its uv used.
            assert env.interpreter and env.interpreter_hash_scheme, env.path
            writer = _v(env.uv_version)
            expected = ("executable" if writer < (0, 7, 14) else
                        "canonical+prefix" if (0, 7, 19) <= writer < (0, 8, 0) else "canonical")
            assert env.interpreter_hash_scheme == INTERPRETER_HASH_SCHEMES[expected]
            assert env.link_form == ("absolute" if writer < (0, 11) else "relative")
            assert os.path.isabs(env.link_text) == (env.link_form == "absolute")


@pytest.mark.parametrize("name", NAMES)
def test_environments_hold_what_the_programs_ran_in(caches, name):
    root = caches[name]
    inv = _inventory(root)
    envs = {env.path.name if env.kind == SCRIPT else env.link_target.name: env for env in inv.environments}
    for build in report(name)["builds"]:
        runs = build["runs"]
        oracle = _oracle(name)
        for run in ("run_hello", "run_other", "run_with_six"):
            said = runs[run]["probe"]
            if Path(said["sys_prefix"]).name.startswith(".tmp"):
                # uv 0.8+ runs `--with` in an ephemeral environment over the cached one.
                assert _v(build["uv"].split("/")[-3]) >= (0, 8)
                continue
            env = envs[Path(said["sys_prefix"]).name]
            assert env.python_version == said["python_full_version"]
            if env.kind == CACHED:
                real = oracle[said["sys_executable"]]["realpath"]
                # Where the base interpreter is not on this machine, it is named as uv hashed it.
                assert env.interpreter == real if os.path.exists(real) else env.interpreter.startswith(os.path.dirname(real))
        kinds = {Path(runs[r]["probe"]["sys_prefix"]).parent.name.split("-v")[0] for r in ("run_hello", "run_other")}
        # Stable script environments began with uv 0.5.31; before, a script ran in a cached one.
        assert kinds == ({"archive"} if _v(build["uv"].split("/")[-3]) < (0, 5, 31) else {"environments"})
        tools = {env.tool: {p.name for p in env.packages} for env in inv.environments if env.kind == CACHED and env.tool}
        assert tools["cowsay"] == {"cowsay"} and tools["pycowsay"] == {"pycowsay", "six"}
        assert any({p.name for p in env.packages} == {"six"} for env in inv.environments if env.kind == CACHED)


@pytest.mark.parametrize("name", NAMES)
def test_buckets_know_the_releases_that_wrote_them(caches, name):
    releases = [_v(r) for r in _releases(name)]
    for b in list_buckets(caches[name]):
        if b.kind != "bucket":
            continue
        assert b.written_by, b.dirname
        first, last = BUCKET_WRITERS[(b.name, b.version)]
        assert any(_v(first) <= r and (last is None or r <= _v(last)) for r in releases), b.dirname
        assert ("not read by uv 0.13.9" in b.written_by) == (b.age == "older")


def test_a_cache_shared_by_0_5_and_0_13_lists_both_generations(caches):
    inv = _inventory(caches["uv-0.5+0.13"])
    by_bucket = {}
    for env in inv.environments:
        by_bucket.setdefault(env.bucket_version, set()).add(env.kind)
    assert by_bucket == {1: {SCRIPT, CACHED}, 2: {SCRIPT, CACHED}}
    # The same script has the same environment name in both (uv 0.5.31 and 0.13.9 agree).
    scripts = report("uv-0.5+0.13")["builds"][0]["scripts"]
    for bucket in (1, 2):
        names = {e.path.name for e in inv.environments if e.kind == SCRIPT and e.bucket_version == bucket}
        assert names == {script_environment_name(s) for s in scripts}
    old = next(b for b in inv.buckets if b.dirname == "environments-v1")
    assert old.written_by == "uv 0.4.0 - 0.5.31, not read by uv 0.13.9"


def test_ls_json_lists_every_generation(caches):
    root = caches["uv-0.5+0.13"]
    out = subprocess.run([sys.executable, "-m", "envtui", "ls", "--json", "--cache-dir", str(root)],
                         capture_output=True, text=True, check=True)
    doc = json.loads(out.stdout)
    assert {(e["bucket_version"], e["key_verified"]) for e in doc["interpreters"]} == {(4, True), (5, True)}
    assert {e["bucket_version"] for e in doc["environments"]} == {1, 2}
    assert all(e["interpreter"] for e in doc["environments"] if e["kind"] == "cached")
    assert {b["written_by"] for b in doc["buckets"] if b["name"] == "interpreter"} == {
        "uv 0.5.9 - 0.13.7, not read by uv 0.13.9", "uv 0.13.8 and later"}


@pytest.mark.parametrize("name, bucket", [("uv-0.4", 1), ("uv-0.5", 1), ("uv-0.13", 2)])
def test_path_says_whose_naming_it_follows(caches, name, bucket):
    root = caches[name]
    script = report(name)["builds"][0]["scripts"][0]
    out = subprocess.run([sys.executable, "-m", "envtui", "path", "--cache-dir", str(root), script],
                         capture_output=True, text=True, check=True)
    assert Path(out.stdout.strip()) == root / f"environments-v{bucket}" / script_environment_name(script)
    exists = (Path(out.stdout.strip()) / "pyvenv.cfg").exists()
    assert exists == (name != "uv-0.4")  # uv 0.4.30 made no script environment
    if bucket == 1:
        assert "uv 0.5.31's naming" in out.stderr and "before 0.5.31 had no stable script environments" in out.stderr


def test_an_entry_of_no_known_layout_says_so_and_shows_what_it_can(caches, tmp_path):
    import msgpack

    src = next(caches["uv-0.9"].glob("interpreter-v4/*/*.msgpack"))
    ts, info = msgpack.unpackb(src.read_bytes(), raw=False)
    bad = tmp_path / src.name
    bad.write_bytes(msgpack.packb([ts, info + [123, "surprise"]]))
    e = decode_interpreter_entry(bad, 4, src.parent.name, src.parent.name)
    assert e.status == "unknown format" and e.layout is None
    assert "layout" in e.error and e.executable == info[9] and e.version


def test_absolute_links_of_a_moved_cache_name_the_entry_they_meant(tmp_path):
    # uv 0.5 wrote absolute links; after the cache moved they name the old place.
    root = materialize("uv-0.5", tmp_path / "cache", moved_from=str(tmp_path / "old-place"))
    cached = [e for e in _inventory(root).environments if e.kind == CACHED]
    assert cached
    for env in cached:
        assert env.status == "dangling" and env.link_form == "absolute"
        assert "moved or copied" in " ".join(env.problems)
        assert env.link_target_here == root / "archive-v0" / env.link_target.name
        assert (env.link_target_here / "pyvenv.cfg").is_file()


@pytest.mark.parametrize("name", ["uv-0.4", "uv-0.5", "uv-0.7", "uv-0.9", "uv-0.13"])
def test_rebuild_refuses_what_todays_uv_would_key_differently(caches, name):
    from envtui.core.rebuild import recipe_for

    for env in (e for e in _inventory(caches[name]).environments if e.kind == CACHED and e.tool):
        recipe = recipe_for(env, "uv")
        older = env.bucket_version == 1 or env.interpreter_hash_scheme != INTERPRETER_HASH_SCHEMES["canonical"]
        assert older == (_v(env.uv_version) < (0, 8)), env.path
        if older:
            assert recipe.problem and "another key" in recipe.problem and not recipe.argv
        elif os.path.exists(env.interpreter):
            assert recipe.problem is None and "--python" in recipe.argv
