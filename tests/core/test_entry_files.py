"""Looking inside a cache entry: the tree's figures against du and the freed-bytes rule."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from envtui.core.archive import scan_archive
from envtui.core.disk import freed_bytes
from envtui.core.entry_files import DIRECTORY, LINK, FileNode, entry_tree


def du(path: Path) -> int:
    return int(subprocess.run(["du", "-sB1", str(path)], capture_output=True, text=True, check=True).stdout.split()[0])


def nodes(n: FileNode):
    yield n
    for c in n.children:
        yield from nodes(c)


def test_an_environment_tree_matches_du_and_the_freed_rule(real_cache) -> None:
    env = next(p for p in (real_cache.root / "environments-v2").iterdir() if (p / "pyvenv.cfg").exists())
    tree = entry_tree(env)
    assert tree.disk == du(env)
    assert tree.freed == freed_bytes([env])[0]
    for n in nodes(tree):
        if n.kind == DIRECTORY:
            assert [c.disk for c in n.children] == sorted((c.disk for c in n.children), reverse=True)
            assert n.freed == freed_bytes([n.path])[0], n.path
    site = next(n for n in nodes(tree) if n.name == "site-packages")
    assert site.role.startswith("installed distributions")
    # bin/python is a symlink to the base interpreter: shown, never followed.
    python = next(n for n in nodes(tree) if n.name == "python" and n.path.parent.name == "bin")
    assert python.kind == LINK and python.link_target and python.children == ()


def test_a_wheel_names_its_package_and_dist_info(real_cache) -> None:
    wheel = next(e for e in scan_archive(real_cache.root) if e.kind == "wheel" and e.name.startswith("bigtool"))
    tree = entry_tree(wheel.path)
    roles = {c.name: c.role for c in tree.children}
    assert roles["bigtool"] == "package of bigtool 1.0"
    assert roles["bigtool-1.0.dist-info"] == "metadata of bigtool 1.0 (dist-info)"
    # Environments hardlink bigtool's files: deleting the wheel keeps them, and the tree says so.
    pkg = next(c for c in tree.children if c.name == "bigtool")
    assert pkg.disk >= 40 * 16384 and pkg.elsewhere == pkg.disk - pkg.freed > 0


def test_two_links_inside_one_directory_are_freed_together(tmp_path: Path) -> None:
    d = tmp_path / "entry"
    (d / "a").mkdir(parents=True)
    (d / "b").mkdir()
    (d / "a" / "f").write_bytes(b"x" * 100_000)
    os.link(d / "a" / "f", d / "b" / "g")
    tree = entry_tree(d)
    a = next(c for c in tree.children if c.name == "a")
    # Its file has a second link in b: deleting a alone frees only the directory itself.
    assert a.freed == os.lstat(d / "a").st_blocks * 512
    assert a.elsewhere == os.lstat(d / "a" / "f").st_blocks * 512
    assert tree.freed == tree.disk == du(d)
    assert tree.files == 5
