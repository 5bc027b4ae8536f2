"""Virtual environments under the roots (envtui/core/projects.py): what a venv says about itself,
field by field, whatever cannot be read named and never fatal; which directories are searched
(never through a link, never into a venv or uv's directories, at most so many, one unreadable
directory skipping only itself); the project around each. Hand-made venvs in tmp_path."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from envtui.core import projects
from envtui.core.environments import Distribution
from envtui.core.errors import ScanCancelled
from envtui.core.projects import ProjectEnv, Venv, find_venvs, read_venv, scan_projects


def _venv(path: Path, cfg: str = "home = /usr/bin\n") -> Path:
    path.mkdir(parents=True)
    (path / "pyvenv.cfg").write_text(cfg)
    return path


def _dist(venv: Path, dirname: str, metadata: str | None) -> None:
    info = venv / "lib" / "python3.12" / "site-packages" / dirname
    info.mkdir(parents=True)
    if metadata is not None:
        (info / "METADATA").write_text(metadata)


# -- one venv ------------------------------------------------------------------------------------------


def test_every_field_of_a_venv_is_what_its_pyvenv_cfg_and_bin_say(tmp_path):
    venv = _venv(tmp_path / "v", "home = /opt/py/bin\nimplementation = CPython\nversion_info = 3.12.1.final.0\n"
                                 "version = 3.12\nuv = 0.13.9\nprompt = app\n")
    (venv / "bin").mkdir()
    os.symlink("../../py/bin/python3.12", venv / "bin" / "python")  # relative, as uv writes it
    _dist(venv, "b_pkg-2.0.dist-info", "Metadata-Version: 2.1\nName: b-pkg\nVersion: 2.0\n")
    _dist(venv, "a-1.0.dist-info", "Metadata-Version: 2.1\nName: a\nVersion: 1.0\n")
    os.utime(venv / "pyvenv.cfg", (1_700_000_000, 1_600_000_000))  # used later than built
    assert read_venv(venv) == Venv(
        path=venv, python_version="3.12.1.final.0", implementation="CPython", home="/opt/py/bin",
        interpreter=str(tmp_path / "py" / "bin" / "python3.12"), uv_version="0.13.9", prompt="app",
        packages=(Distribution("a", "1.0"), Distribution("b-pkg", "2.0")),
        last_used=1_700_000_000, modified=1_600_000_000, problems=())


def test_a_venv_made_by_python_m_venv_says_less_and_that_is_no_problem(tmp_path):
    venv = _venv(tmp_path / "v", "home=/usr/bin\nversion = 3.11.4\n")
    (venv / "bin").mkdir()
    (venv / "bin" / "python").write_bytes(b"\x7fELF")  # copied, not linked
    got = read_venv(venv)
    assert (got.python_version, got.interpreter, got.uv_version, got.prompt, got.implementation) == ("3.11.4", None, None, None, None)
    assert got.home == "/usr/bin" and got.problems == ()


def test_what_cannot_be_read_is_named_never_raised(tmp_path):
    gone = read_venv(tmp_path / "nothing")
    assert gone == Venv(path=tmp_path / "nothing", problems=(f"{tmp_path / 'nothing' / 'pyvenv.cfg'}: No such file or directory",))
    fifo = tmp_path / "fifo"
    fifo.mkdir()
    os.mkfifo(fifo / "pyvenv.cfg")
    got = read_venv(fifo)
    assert got.home is None and got.last_used is not None and len(got.problems) == 1 and "FIFO" in got.problems[0]
    empty = _venv(tmp_path / "empty", "just words\n")
    _dist(empty, "broken-1.0.dist-info", None)  # no METADATA: a problem of its own
    got = read_venv(empty)
    assert got.problems[0] == f"{empty / 'pyvenv.cfg'}: no 'key = value' lines"
    assert len(got.problems) == 2 and "broken-1.0.dist-info" in got.problems[1]
    assert got.packages[0].problem == got.problems[1]


# -- which directories are searched --------------------------------------------------------------------


def test_venvs_are_yielded_as_reached_in_order_and_never_searched_inside(tmp_path):
    root = tmp_path / "root"
    a = _venv(root / "a" / ".venv")
    _venv(a / "inner")
    b = _venv(root / "b" / "deep" / "env")
    for skip in ("node_modules", ".git", "__pycache__", ".tox"):
        _venv(root / "c" / skip / "env")
    (root / "c" / "pyvenv.cfg.d").mkdir()
    os.symlink(root / "b", root / "z-link")
    assert list(find_venvs([root])) == [a, b]
    assert list(find_venvs([a])) == [a]  # a root that is a venv is one
    os.symlink(root, tmp_path / "alias")
    assert list(find_venvs([tmp_path / "alias"])) == [tmp_path / "alias" / "a" / ".venv", tmp_path / "alias" / "b" / "deep" / "env"]


def test_overlapping_roots_give_each_venv_once(tmp_path):
    root = tmp_path / "root"
    a = _venv(root / "a" / ".venv")
    b = _venv(root / "b" / ".venv")
    os.symlink(root, tmp_path / "alias")
    assert list(find_venvs([root / "b", root, tmp_path / "alias"])) == [b, a]


def test_excluded_directories_are_not_searched_however_spelled(tmp_path):
    root = tmp_path / "root"
    kept = _venv(root / "k" / ".venv")
    _venv(root / "cache" / "environments-v2" / "s")
    _venv(root / "py" / "cpython-3.12.1-linux-x86_64-gnu")
    os.symlink(root / "cache", tmp_path / "cache-alias")
    assert list(find_venvs([root], exclude=[tmp_path / "cache-alias", str(root / "py")])) == [kept]
    assert list(find_venvs([root / "cache"], exclude=[root / "cache"])) == []


def test_at_most_max_dirs_directories_are_listed(tmp_path):
    root = tmp_path / "root"
    (root / "a" / "b").mkdir(parents=True)
    c = _venv(root / "c" / ".venv")
    # Listed in order: root, a, a/b, c; a venv is not listed.
    assert list(find_venvs([root], max_dirs=4)) == [c]
    assert list(find_venvs([root], max_dirs=3)) == []
    assert list(find_venvs([root, root / "c"], max_dirs=3)) == []  # the bound holds across roots


def test_a_directory_that_cannot_be_listed_skips_only_itself(tmp_path, monkeypatch):
    root = tmp_path / "root"
    (root / "a-locked" / "x").mkdir(parents=True)
    later = _venv(root / "b" / ".venv")
    scandir = os.scandir

    def refuse(path="."):
        if os.fspath(path) == str(root / "a-locked"):
            raise PermissionError(13, "Permission denied", os.fspath(path))
        return scandir(path)

    monkeypatch.setattr(projects.os, "scandir", refuse)
    assert list(find_venvs([root])) == [later]


def test_a_search_cut_short_raises(tmp_path):
    _venv(tmp_path / "a" / ".venv")
    with pytest.raises(ScanCancelled):
        list(find_venvs([tmp_path], should_stop=lambda: True))
    with pytest.raises(ScanCancelled):
        scan_projects([tmp_path], should_stop=lambda: True)


# -- the projects ------------------------------------------------------------------------------------


def test_projects_are_sorted_by_path_and_named_from_their_pyproject(tmp_path):
    root = tmp_path / "root"
    deep = _venv(root / "a" / "x" / ".venv")         # found first, sorts last: "a-b" < "a/x"
    named = _venv(root / "a-b" / ".venv")
    (root / "a-b" / "pyproject.toml").write_text('[project]\nname = "ab"\nversion = "1.0"\n')
    assert scan_projects([root]) == [
        ProjectEnv(read_venv(named), root / "a-b", "ab", "1.0"), ProjectEnv(read_venv(deep), None, None, None)]


@pytest.mark.parametrize("text, meta", [
    (b'[project]\nname = "app"\nversion = "2"\n# caf\xe9 in Latin-1\n', ("app", "2")),  # bad UTF-8: read anyway
    (b'[project]\nname = 5\nversion = ["1"]\n', (None, None)),
    (b'[project]\nname = "only-name"\n', ("only-name", None)),
    (b'project = "a string"\n', (None, None)),
    (b'[tool.uv]\n', (None, None)),
    (b'[project\n', (None, None)),
])
def test_a_projects_name_and_version_are_read_only_as_strings(tmp_path, text, meta):
    _venv(tmp_path / "p" / ".venv")
    (tmp_path / "p" / "pyproject.toml").write_bytes(text)
    [found] = scan_projects([tmp_path])
    assert found.project == tmp_path / "p" and (found.project_name, found.project_version) == meta


def test_a_pyproject_too_big_or_no_file_is_a_project_without_a_name(tmp_path):
    _venv(tmp_path / "big" / ".venv")
    (tmp_path / "big" / "pyproject.toml").write_bytes(b'[project]\nname = "big"\n' + b"#" * (256 * 1024))
    _venv(tmp_path / "fifo" / ".venv")
    os.mkfifo(tmp_path / "fifo" / "pyproject.toml")
    _venv(tmp_path / "fits" / ".venv")
    (tmp_path / "fits" / "pyproject.toml").write_bytes(b'[project]\nname = "fits"\n' + b"#" * (255 * 1024))
    assert [(p.project, p.project_name) for p in scan_projects([tmp_path])] == [
        (tmp_path / "big", None), (tmp_path / "fifo", None), (tmp_path / "fits", "fits")]


def test_a_venv_whose_packages_cannot_be_listed_is_read_never_raised(tmp_path, monkeypatch):
    venv = _venv(tmp_path / "v", "home = /usr/bin\n")

    def refuse(path, problems=None):
        raise PermissionError(13, "Permission denied", str(path / "Lib" / "site-packages"))

    monkeypatch.setattr(projects, "read_distributions", refuse)
    got = read_venv(venv)
    assert got.home == "/usr/bin" and got.packages == ()
    assert got.problems == (f"{venv / 'Lib' / 'site-packages'}: Permission denied",)


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to make a directory another user cannot search")
def test_a_venv_another_user_cannot_reach_is_read_as_unknown_never_raised(tmp_path):
    import subprocess
    import sys

    venv = _venv(tmp_path / "closed" / "v")  # tmp_path is root's alone: nobody may search it
    probe = ("from pathlib import Path; from envtui.core.projects import read_venv; "
             f"v = read_venv(Path({str(venv)!r})); print(repr((v.home, v.problems)))")
    out = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", sys.executable, "-c", probe],
                         capture_output=True, text=True, cwd="/", check=False,
                         env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])})
    assert out.returncode == 0, out.stderr
    home, problems = eval(out.stdout)  # noqa: S307 - our own repr
    assert home is None and problems and all("Permission denied" in p for p in problems)
