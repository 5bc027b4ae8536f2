"""The demo cache: what `envtui --demo` opens must look like a real, lived-in uv cache."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from envtui.core import CacheLocation, scan_inventory, script_environment_name
from envtui.demo import build as demo
from envtui.demo.build import DAY, SCRIPTS, TOOLS, build_demo_cache
from envtui.demo.synthetic import build_synthetic_cache, fake_interpreters


def _by_status(items) -> dict[str, int]:
    out: dict[str, int] = {}
    for item in items:
        out[item.status] = out.get(item.status, 0) + 1
    return out


def _check_demo_content(inv, scripts: list[str]) -> None:
    envs = inv.environments
    script_envs = [e for e in envs if e.kind == "script"]
    assert sorted(e.script for e in script_envs) == sorted(scripts)
    for env in script_envs:
        assert env.key == script_environment_name(env.script)
        assert env.status == "ok"
    cached = [e for e in envs if e.kind == "cached"]
    assert _by_status(cached) == {"ok": len(TOOLS), "dangling": 1}
    assert {e.tool for e in cached if e.status == "ok"} == {"pyfmt", "linty", "bigdata"}
    assert _by_status(inv.interpreters).get("stale") == 1
    stale = next(e for e in inv.interpreters if e.status == "stale")
    assert stale.executable.endswith("old-project/.venv/bin/python3")
    # Installed files are hardlinks into archive-v0, as uv installs them on Linux.
    report = next(e for e in script_envs if e.script.endswith("report.py"))
    init = next(report.path.glob("lib/python*/site-packages/helperlib/__init__.py"))
    assert init.stat().st_nlink >= 2


def test_synthetic_cache_has_every_kind_of_entry(tmp_path: Path) -> None:
    now = time.time()
    cache, scripts = build_synthetic_cache(tmp_path, interpreters=fake_interpreters(tmp_path), now=now)
    inv = scan_inventory(CacheLocation(cache, "--demo"), known_scripts=[str(s) for s in scripts])
    _check_demo_content(inv, [str(s) for s in scripts])
    assert not [p for p in inv.problems if "is gone" not in p.message]
    fresh = [e for e in inv.interpreters if e.status == "fresh"]
    assert len(fresh) == 3 and all(e.key_verified for e in inv.interpreters)


def test_last_used_ages_survive_a_scan(tmp_path: Path) -> None:
    # Reading pyvenv.cfg used to reset its access time (relatime), so every scan made every
    # environment "used just now".
    now = time.time()
    cache, scripts = build_synthetic_cache(tmp_path, interpreters=fake_interpreters(tmp_path), now=now)
    loc = CacheLocation(cache, "--demo")
    for _ in range(2):
        inv = scan_inventory(loc, known_scripts=[str(s) for s in scripts])
    ages = {Path(e.script).name: round((now - e.last_used) / DAY, 1) for e in inv.environments if e.script}
    assert ages == {Path(s.relpath).name: s.used_days_ago for s in SCRIPTS}


def test_without_uv_the_demo_is_synthetic_and_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(demo, "find_uv", lambda: None)
    loc, note = build_demo_cache(tmp_path / "demo")
    assert not note.real_uv
    assert "Synthetic" in note.message and "not by uv" in note.message
    inv = scan_inventory(loc, known_scripts=note.scripts)
    assert len([e for e in inv.environments if e.kind == "script"]) == len(SCRIPTS)


@pytest.mark.integration
def test_demo_built_by_real_uv(tmp_path: Path) -> None:
    messages: list[str] = []
    loc, note = build_demo_cache(tmp_path / "demo", progress=messages.append)
    assert note.real_uv, note.message
    assert "Not everything worked" not in note.message
    assert loc.path == tmp_path / "demo" / "cache" and loc.source == "--demo"
    assert messages and messages[0].startswith("running uv")
    inv = scan_inventory(loc, known_scripts=note.scripts)
    _check_demo_content(inv, note.scripts)
    # uv queried every interpreter it ran, and envtui reproduces every key it wrote.
    assert all(e.key_verified for e in inv.interpreters)
    assert os.listdir(tmp_path / "demo" / "wheelhouse")
