"""A cache two uv generations share lists each generation's environment of the same script or
tool; the rows must tell them apart without the details pane (hidden at 80 columns)."""

from __future__ import annotations

from envtui.core import CacheLocation, scan_inventory
from envtui.screens.environments import _name
from tests.fixtures.materialize import materialize


def test_an_older_uvs_environments_say_their_bucket(tmp_path):
    root = materialize("uv-0.5+0.13", tmp_path / "cache")
    envs = scan_inventory(CacheLocation(root, "--cache-dir")).environments
    old = [e for e in envs if e.bucket_version == 1]
    new = [e for e in envs if e.bucket_version == 2]
    assert old and new
    assert all(_name(e).endswith(" · v1") for e in old)
    assert not any(" · v" in _name(e) for e in new)
    # The same script in both buckets: two rows, two names.
    scripts = {}
    for e in envs:
        if e.kind == "script":
            scripts.setdefault(e.prompt, set()).add(_name(e))
    assert any(len(names) == 2 for names in scripts.values()), scripts
