"""The benchmark's synthetic cache, at a small scale: envtui reads it as it reads a real one."""

from __future__ import annotations

import subprocess

from envtui.core import CacheLocation, scan_archive, scan_disk, scan_inventory
from tests.benchmarks.gencache import Scale, generate


def test_generated_cache_has_uv_layout(tmp_path):
    g = generate(tmp_path / "cache", Scale(files=3_000, archives=30, environments=8, wheels_per_env=3))
    inv = scan_inventory(CacheLocation(g.root, "--cache-dir"))
    assert sorted(e.kind for e in inv.environments) == ["cached"] * 4 + ["script"] * 4
    assert all(e.status == "ok" and len(e.packages) == 3 for e in inv.environments)
    entries = scan_archive(g.root, environments=inv.environments)
    assert sum(e.kind == "wheel" for e in entries) == 30
    assert all(e.linked_from for e in entries)
    report = scan_disk(g.root)
    du = int(subprocess.run(["du", "-sB1", str(g.root)], capture_output=True, text=True, check=True).stdout.split()[0])
    assert report.total_disk == du
    # Environments hardlink their wheels' files, as uv does.
    for env in inv.environments:
        entry = report.entry(env.link_target or env.path)
        assert len(entry.uses) == 3 and entry.usage.shared_wheels > 0
    walked = sum(u.usage.files for u in report.entries.values())
    assert abs(walked - g.links) < 0.1 * g.links and 2_500 < g.links < 3_500
