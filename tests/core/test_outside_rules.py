"""OutsideRules (envtui/core/prune/outside.py) question by question: where a deletion beside the
cache may reach (strictly inside a root, never in uv's own directories, the link itself and never
what it points at), what each scope deletes, and every refusal as a person reads it. Hand-made
layouts in tmp_path."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from envtui.core.prune import outside
from envtui.core.prune.outside import OutsideRules
from envtui.core.prune.records import PROJECTS, PYTHONS, TOOLS, Kind, PlanEntry


def _venv(path: Path) -> Path:
    (path / "bin").mkdir(parents=True)
    (path / "pyvenv.cfg").write_text("home = /usr/bin\n")
    return path


def _entry(path: Path, *more: Path, kind: Kind = Kind.PROJECT_ENV) -> PlanEntry:
    return PlanEntry(kind, path, (path, *more), "x")


def test_the_roots_are_resolved_once_and_the_first_is_the_plans_root(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    os.symlink(tmp_path / "a", tmp_path / "alias")
    rules = OutsideRules(TOOLS, [tmp_path / "alias", tmp_path / "b"], keep_out=[tmp_path / "alias" / "k"])
    assert rules.scope == TOOLS
    assert rules.root == Path(os.path.realpath(tmp_path / "a"))
    assert rules.roots == (Path(os.path.realpath(tmp_path / "a")), Path(os.path.realpath(tmp_path / "b")))
    assert [k.top for k in rules.keep_out] == [os.path.realpath(tmp_path / "a" / "k")]
    with pytest.raises(ValueError) as err:
        OutsideRules("elsewhere", [tmp_path])
    assert str(err.value) == "no rules for deleting 'elsewhere' outside the cache"
    with pytest.raises(ValueError) as err:
        OutsideRules(PYTHONS, iter(()))
    assert str(err.value) == "deleting managed Pythons needs a root to delete inside"


def test_every_refusal_names_the_path_and_the_roots(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    (a / "p").mkdir(parents=True)
    b.mkdir()
    rules = OutsideRules(PROJECTS, [a, b], keep_out=[a / "cache"])
    far = tmp_path / "far"
    assert rules.guard(far) == f"{far} is not inside {a} or {b}"
    assert rules.guard(a / "cache" / "x") == f"{a / 'cache' / 'x'} lies in {a / 'cache'}, which is pruned by its own rules, not as a project environment"
    assert OutsideRules(TOOLS, [a], keep_out=[a / "cache"]).guard(a / "cache" / "x").endswith("not as a tool")
    assert rules.guard(a / "p", whole_bucket=True) == f"{a / 'p'}: there are no buckets outside the cache"
    assert rules.guard(b / "p") is None and rules.root_of(b / "p") == str(b)


def test_a_link_inside_a_root_is_judged_where_it_lies_never_where_it_points(tmp_path):
    root, out, cache = tmp_path / "root", tmp_path / "out", tmp_path / "root" / "cache"
    (cache / "environments-v2").mkdir(parents=True)
    out.mkdir()
    os.symlink(out, root / "to-out")
    os.symlink(cache / "environments-v2", root / "to-cache")
    rules = OutsideRules(PROJECTS, [root], keep_out=[cache])
    # Deleting a link removes the link: it lies in the root, not in the cache, whatever it points at.
    assert rules.guard(root / "to-out") is None and rules.root_of(root / "to-out") == str(root)
    assert rules.guard(root / "to-cache") is None
    assert rules.resolve(root / "to-out") == str(root / "to-out")
    # A path reached through the link is where the link leads.
    assert rules.guard(root / "to-out" / "x") == f"{out / 'x'} is not inside {root}"
    assert "pruned by its own rules" in rules.guard(root / "to-cache" / "s")


def test_mounts_given_are_the_only_ones_and_one_at_or_below_a_path_is_named(tmp_path):
    root = tmp_path / "r"
    (root / "p" / "m").mkdir(parents=True)
    m = str(root / "p" / "m")
    rules = OutsideRules(PROJECTS, [root], mounts=[m, str(root / "q")])
    assert rules.mounts == {m, str(root / "q")}
    assert rules.mount_inside(root / "p") == m and rules.mount_inside(root / "p" / "m") == m
    assert rules.mount_inside(root / "p" / "m" / "x") is None and rules.mount_inside(root / "pp") is None
    assert OutsideRules(PROJECTS, [root], mounts=[]).mount_inside(root / "p") is None


def test_mount_points_are_read_once_and_only_those_strictly_inside_a_root_count(tmp_path, monkeypatch):
    root = tmp_path / "r"
    root.mkdir()
    reads = []

    def points():
        reads.append(1)
        return frozenset({str(root), str(root / "a"), str(tmp_path / "r2"), "/"})

    monkeypatch.setattr(outside, "mount_points", points)
    rules = OutsideRules(PROJECTS, [root])
    assert rules.mounts == {str(root / "a")} and rules.mounts == {str(root / "a")}
    assert reads == [1]


def test_check_entry_says_exactly_what_is_wrong(tmp_path):
    root = tmp_path / "r"
    venv = _venv(root / "v")
    (root / "file").write_text("x")
    os.mkfifo(root / "fifo")
    os.symlink(venv, root / "link")
    os.symlink("loop", root / "loop")
    projects = OutsideRules(PROJECTS, [root])
    assert projects.check_entry(_entry(venv)) is None
    assert projects.check_entry(_entry(root / "missing")) == f"{root / 'missing'} is gone"
    assert projects.check_entry(_entry(root / "file" / "x")) == f"{root / 'file' / 'x'} is gone"  # ENOTDIR
    assert projects.check_entry(_entry(root / "file")) == f"{root / 'file'} is a regular file"
    assert projects.check_entry(_entry(root / "fifo")) == f"{root / 'fifo'} is neither a directory, a regular file nor a symlink"
    assert projects.check_entry(_entry(root / "link")) == f"{root / 'link'} is a symlink"
    # An error other than "does not exist" is never "gone".
    assert projects.check_entry(_entry(root / "loop" / "x")) == f"{root / 'loop' / 'x'} is out of reach (Too many levels of symbolic links)"


@pytest.mark.parametrize("cfg", ["fifo", "dir", "link", "missing"])
def test_a_project_environment_needs_a_regular_pyvenv_cfg(tmp_path, cfg):
    venv = tmp_path / "r" / "v"
    venv.mkdir(parents=True)
    (tmp_path / "real.cfg").write_text("home = /usr/bin\n")
    {"fifo": lambda p: os.mkfifo(p), "dir": lambda p: p.mkdir(), "link": lambda p: os.symlink(tmp_path / "real.cfg", p),
     "missing": lambda p: None}[cfg](venv / "pyvenv.cfg")
    assert OutsideRules(PROJECTS, [tmp_path / "r"]).check_entry(_entry(venv)) == f"{venv} holds no regular pyvenv.cfg: not a virtual environment"


def test_a_python_or_a_tool_lies_directly_in_one_of_uvs_directories(tmp_path):
    pydir, other = tmp_path / "py", tmp_path / "py2"
    install = _venv(pydir / "cpython-3.12.1-linux-x86_64-gnu")
    second = _venv(other / "cpython-3.11.0-linux-x86_64-gnu")
    deeper = _venv(pydir / "sub" / "cpython-3.10.0-linux-x86_64-gnu")
    os.symlink(install.name, pydir / "cpython-3.12-linux-x86_64-gnu")
    os.symlink(install, other / "cpython-3.12-linux-x86_64-gnu")
    (pydir / "plain").write_text("x")
    pythons = OutsideRules(PYTHONS, [pydir, other])
    py = lambda path, *more: _entry(path, *more, kind=Kind.MANAGED_PYTHON)
    assert pythons.check_entry(py(install, pydir / "cpython-3.12-linux-x86_64-gnu", install)) is None
    assert pythons.check_entry(py(second)) is None  # in the second root
    assert pythons.check_entry(py(deeper)) == f"{deeper} is not directly in {pydir} or {other}"
    # Its other paths are links beside it, in the same directory.
    beside_elsewhere = other / "cpython-3.12-linux-x86_64-gnu"
    assert pythons.check_entry(py(install, beside_elsewhere)) == f"{beside_elsewhere} is not a link beside {install}"
    assert pythons.check_entry(py(install, pydir / "plain")) == f"{pydir / 'plain'} is not a link beside {install}"

    tools = OutsideRules(TOOLS, [tmp_path / "tools"])
    tool = _venv(tmp_path / "tools" / "black")
    assert tools.check_entry(_entry(tool, kind=Kind.TOOL)) == f"{tool} holds no regular uv-receipt.toml: not a tool uv installed"
    os.mkfifo(tool / "uv-receipt.toml")
    assert "holds no regular uv-receipt.toml" in tools.check_entry(_entry(tool, kind=Kind.TOOL))
    os.unlink(tool / "uv-receipt.toml")
    (tool / "uv-receipt.toml").write_text("[tool]\n")
    assert tools.check_entry(_entry(tool, kind=Kind.TOOL)) is None
    # A project environment may lie at any depth: only a tool or a Python must be directly there.
    assert OutsideRules(PROJECTS, [tmp_path]).check_entry(_entry(deeper)) is None
