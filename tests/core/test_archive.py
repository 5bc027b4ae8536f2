"""archive-v0 entries named, and who links to or uses them, on caches that real uv made."""

from __future__ import annotations

import os
import shutil

from envtui.core import CacheLocation, scan_inventory
from envtui.core.archive import ENVIRONMENT, WHEEL, archive_use, scan_archive
from envtui.core.disk import scan_disk


def _scan(root):
    inv = scan_inventory(CacheLocation(root, "--cache-dir"))
    return inv, scan_archive(root, environments=inv.environments)


def test_every_archive_entry_has_a_human_name(real_cache):
    inv, entries = _scan(real_cache.root)
    ids = {p.name for p in (real_cache.root / "archive-v0").iterdir()}
    assert {e.id for e in entries} == ids
    for e in entries:
        assert e.kind in (WHEEL, ENVIRONMENT), (e.path, e.kind, e.name)
        assert e.id not in e.name
    wheels = {e.name for e in entries if e.kind == WHEEL}
    assert {"tinytool 1.0", "tinytool 2.0", "helperlib 0.1", "bigtool 1.0"} <= wheels
    # Each persisted environment is named after the tool and Python of the link that points at it.
    cached = [e for e in inv.environments if e.kind == "cached"]
    envs = {e.path: e for e in entries if e.kind == ENVIRONMENT}
    assert len(envs) == len(cached)
    for env in cached:
        entry = envs[env.link_target]
        assert entry.environment == env
        assert entry.linked_from == (env.path,)
        assert entry.name.startswith(f"{env.tool} environment") and env.python_version in entry.name
    with_helper = [e for e in envs.values() if "with helperlib" in e.name]
    assert len(with_helper) == 1


def test_links_and_use_through_hardlinks(real_cache):
    _, entries = _scan(real_cache.root)
    report = scan_disk(real_cache.root)
    for e in entries:
        if e.kind == WHEEL:
            # The wheel cache links it; the environments that installed it share its inodes.
            assert any("wheels-v" in str(p) for p in e.linked_from) or report.entry(e.path).used_by
        assert archive_use(e, report) in ("linked", "used")
        assert archive_use(e, None) in ("linked", "?")


def test_unreferenced_entries_are_flagged(real_cache_copy):
    root = real_cache_copy.root
    inv, entries = _scan(root)
    bigtool_env = next(e for e in inv.environments if e.tool == "bigtool")
    bigtool_wheel = next(e for e in entries if e.name == "bigtool 1.0")
    # Without its wheel-cache link, the wheel is still used: the environment hardlinks its files
    # (as with local --find-links wheels, which uv 0.13 keeps no wheel-cache link for).
    for link in bigtool_wheel.linked_from:
        os.unlink(link)
    _, entries = _scan(root)
    wheel = next(e for e in entries if e.name == "bigtool 1.0")
    assert wheel.linked_from == ()
    assert archive_use(wheel, scan_disk(root)) == "used"
    # Remove the environment's link (leaving its archive entry, as an interrupted deletion would):
    # now neither the persisted environment nor the wheel is linked or used.
    os.unlink(bigtool_env.path)
    inv, entries = _scan(root)
    report = scan_disk(root)
    orphan_env = next(e for e in entries if e.path == bigtool_env.link_target)
    assert "no link" in orphan_env.name and "bigtool" in orphan_env.name
    assert archive_use(orphan_env, report) == "unreferenced"
    wheel = next(e for e in entries if e.name == "bigtool 1.0")
    assert archive_use(wheel, report) == "used"  # the orphaned environment still hardlinks it
    shutil.rmtree(bigtool_env.link_target)
    _, entries = _scan(root)
    wheel = next(e for e in entries if e.name == "bigtool 1.0")
    assert archive_use(wheel, scan_disk(root)) == "unreferenced"
    # Everything else is still linked.
    assert [e.name for e in entries if archive_use(e, scan_disk(root)) == "unreferenced"] == ["bigtool 1.0"]


def test_links_into_archive_entries_are_found_however_they_spell_the_cache(tmp_path):
    """A link written through another spelling of the cache (a symlinked directory), or an
    absolute one of a cache that has moved (uv 0.10 and older), names the same archive entry."""
    from envtui.core.archive import archive_links
    from envtui.core.buckets import list_buckets

    root = tmp_path / "cache"
    (root / "archive-v0" / "ABC").mkdir(parents=True)
    (root / "archive-v0" / "DEF").mkdir()
    (root / "CACHEDIR.TAG").write_text("Signature: 8a477f597d28d172789f06886806bc55")
    os.symlink(root, tmp_path / "alias")
    wheels = root / "wheels-v8" / "pypi" / "x"
    wheels.mkdir(parents=True)
    os.symlink("../../../archive-v0/ABC", wheels / "relative")
    os.symlink(tmp_path / "alias" / "archive-v0" / "ABC", wheels / "through-alias")
    os.symlink("/old/home/.cache/uv/archive-v0/DEF", wheels / "moved-absolute")
    os.symlink("../../../not-archive/ABC", wheels / "elsewhere")
    links = archive_links(list_buckets(root))
    assert {k: sorted(p.name for p in v) for k, v in links.items()} == {
        str(root / "archive-v0" / "ABC"): ["relative", "through-alias"],
        str(root / "archive-v0" / "DEF"): ["moved-absolute"],
    }
