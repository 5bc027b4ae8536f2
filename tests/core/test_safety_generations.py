"""Prune over caches older uvs wrote, from the golden fixtures (tests/fixtures/uv-*): every archive
entry one of their links names stays, whatever form the link has and wherever the cache now is."""

from __future__ import annotations

import json
import os

import pytest

from envtui.core import CacheLocation, scan_inventory
from envtui.core.prune import Policies, plan_prune
from tests.fixtures.materialize import FIXTURES, fixture_names, materialize


def _named_archive_entries(name: str) -> set[str]:
    """``archive-vN/<id>`` of every link the fixture's uv wrote into its archive bucket."""
    out = set()
    for link in json.loads((FIXTURES / name / "links.json").read_text()):
        parts = link["target"].split("/")
        for i, part in enumerate(parts[:-1]):
            if part.startswith("archive-v"):
                out.add(f"{part}/{parts[i + 1]}")
    return out


@pytest.mark.parametrize("moved", [False, True], ids=["in place", "copied elsewhere"])
@pytest.mark.parametrize("name", fixture_names())
def test_unreferenced_keeps_what_any_generations_links_name(tmp_path, name, moved):
    # A cache copied or moved after uv <= 0.10 wrote absolute links: they still name the old
    # place. The archive entries they mean are the ones here, and they stay.
    root = materialize(name, tmp_path / "cache", moved_from=str(tmp_path / "old-place") if moved else None)
    named = _named_archive_entries(name)
    inv = scan_inventory(CacheLocation(root, "--cache-dir"))
    plan = plan_prune(inv, Policies(unreferenced=True, dangling=False), exclusive=True)
    planned = {os.path.relpath(e.path, root) for e in plan.entries}
    assert not (planned & named), sorted(planned & named)
    if not named:
        pytest.skip(f"{name}'s uv wrote no link into its archive")
