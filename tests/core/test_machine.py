"""Managed Pythons, tools, project environments, orphan proofs and their accounting, over
directories made by hand in tmp_path (real uv: tests/integration/test_machine_uv.py)."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import threading
from pathlib import Path

import pytest

from envtui.core.digest import script_environment_name
from envtui.core.disk import freed_bytes
from envtui.core.environments import SCRIPT, Environment
from envtui.core.errors import ScanCancelled
from envtui.core.disk import scan_disk
from envtui.core.machine import CACHE, PROJECTS, TOOLS, measure_machine
from envtui.core.orphans import prove_scripts
from envtui.core.projects import find_venvs, scan_projects
from envtui.core.prune import execute_plan
from envtui.core.prune.machine import plan_project_envs, plan_python_uninstall
from envtui.core.uvcli import PythonInstallation
from envtui.core.pythons import Use, find_users, locate_python_dir, scan_pythons
from envtui.core.tools import locate_tool_dir, read_tool


def _du(*paths: Path) -> int:
    out = subprocess.run(["du", "-sB1", "--total", *map(str, paths)], capture_output=True, text=True, check=True).stdout
    return int(out.splitlines()[-1].split()[0])


def _venv(path: Path, home: str, version: str = "3.12.1", prompt: str | None = None) -> Path:
    (path / "bin").mkdir(parents=True)
    cfg = f"home = {home}\nimplementation = CPython\nversion_info = {version}\n"
    (path / "pyvenv.cfg").write_text(cfg + (f"prompt = {prompt}\n" if prompt else ""))
    os.symlink(os.path.join(home, "python3.12"), path / "bin" / "python")
    return path


def _python(pydir: Path, key: str) -> Path:
    install = pydir / key
    (install / "bin").mkdir(parents=True)
    (install / "bin" / "python3.12").write_bytes(b"\x7fELF" + b"x" * 5000)
    return install


# -- managed Pythons -------------------------------------------------------------------------------


def test_pythons_are_read_from_uvs_names_and_minor_links_attach_to_their_target(tmp_path):
    _python(tmp_path, "cpython-3.12.1-linux-x86_64-gnu")
    _python(tmp_path, "cpython-3.13.0+freethreaded-linux-x86_64-gnu")
    os.symlink("cpython-3.12.1-linux-x86_64-gnu", tmp_path / "cpython-3.12-linux-x86_64-gnu")
    for junk in (".lock", ".temp", ".cache", "not-a-python"):
        (tmp_path / junk).mkdir()
    found = scan_pythons(tmp_path)
    assert [p.key for p in found] == ["cpython-3.12.1-linux-x86_64-gnu", "cpython-3.13.0+freethreaded-linux-x86_64-gnu"]
    assert found[0].version == "3.12.1" and found[0].minor == "3.12" and found[0].platform == "linux-x86_64-gnu"
    assert found[0].links == (tmp_path / "cpython-3.12-linux-x86_64-gnu",)
    assert found[0].executable == tmp_path / "cpython-3.12.1-linux-x86_64-gnu" / "bin" / "python3.12"
    assert found[1].variant == "freethreaded" and found[1].version == "3.13.0"
    assert scan_pythons(tmp_path / "missing") == []


def test_a_python_is_used_through_its_directory_or_its_minor_link_and_only_by_what_points_in(tmp_path):
    pydir = tmp_path / "py"
    used = _python(pydir, "cpython-3.12.1-linux-x86_64-gnu")
    _python(pydir, "cpython-3.12.0-linux-x86_64-gnu")
    os.symlink(used.name, pydir / "cpython-3.12-linux-x86_64-gnu")
    homes = {
        "a": str(used / "bin"),
        "b": str(pydir / "cpython-3.12-linux-x86_64-gnu" / "bin"),  # through the minor-version link
        "c": "/usr/bin",
        # A prefix of the name is not inside: ...-gnu-old is another directory.
        "d": str(pydir) + "/cpython-3.12.1-linux-x86_64-gnu-old/bin",
    }
    venvs = {name: _venv(tmp_path / name, home) for name, home in homes.items()}
    direct, via_link = venvs["a"], venvs["b"]
    candidates = [
        (Use("project environment", v), [homes[name], os.readlink(v / "bin" / "python")]) for name, v in venvs.items()
    ]
    candidates.append((Use("interpreter entry", tmp_path / "q.msgpack"), [str(used / "bin" / "python3.12")]))
    pythons = {p.key: p for p in find_users(scan_pythons(pydir), candidates)}
    assert [u.path for u in pythons[used.name].used_by] == [direct, via_link, tmp_path / "q.msgpack"]
    assert pythons[used.name].environments == (Use("project environment", direct), Use("project environment", via_link))
    assert pythons["cpython-3.12.0-linux-x86_64-gnu"].used_by == ()


def _reported(*installs: Path) -> list[PythonInstallation]:
    """What uv reports for these installations (as :func:`envtui.core.uvcli.installed_pythons`)."""
    return [PythonInstallation(i.name, i.name.split("-")[1], i / "bin" / "python3.12", "cpython", "default",
                               "linux-x86_64-gnu", None, i) for i in installs]


def test_uninstalling_pythons_skips_those_environments_run_on_but_not_those_only_queried(tmp_path):
    pydir = tmp_path / "py"
    a = _python(pydir, "cpython-3.12.1-linux-x86_64-gnu")
    b = _python(pydir, "cpython-3.11.0-linux-x86_64-gnu")
    c = _python(pydir, "cpython-3.10.0-linux-x86_64-gnu")
    env = _venv(tmp_path / "env", str(a / "bin"))
    candidates = [(Use("tool", env), [str(a / "bin")]), (Use("interpreter entry", tmp_path / "q"), [str(b / "bin" / "python3.12")])]
    plan = plan_python_uninstall(find_users(scan_pythons(pydir), candidates), "uv", python_dir=pydir,
                                 cache_root=tmp_path / "cache", installed=_reported(a, b, c))
    assert [x.label for x in plan.entries] == [c.name, b.name]
    assert "1 cached interpreter query" in plan.entries[1].reasons[0]
    assert plan.entries[0].command.argv == ("uv", "python", "uninstall", f"--install-dir={pydir}", "--", c.name)
    assert dict(plan.entries[0].command.env) == {"UV_PYTHON_INSTALL_DIR": str(pydir), "UV_CACHE_DIR": str(tmp_path / "cache")}
    assert plan.entries[0].bytes_alone == _du(c) and plan.bytes_freed == _du(b, c)
    assert [s.path for s in plan.skipped] == [a] and str(env) in plan.skipped[0].reason
    assert plan.scope == "managed Pythons" and plan.roots == (pydir,) and "seen only once uv has run in it" in plan.notes[0]


def test_a_python_uv_does_not_report_or_would_read_as_a_request_is_never_handed_to_it(tmp_path):
    pydir = tmp_path / "py"
    full = _python(pydir, "cpython-3.12.1-linux-x86_64-gnu")
    request = _python(pydir, "cpython-3.12-linux-x86_64-gnu")  # a directory named like a request
    hidden = _python(pydir, "cpython-3.11.0-linux-x86_64-gnu")  # uv does not list it
    plan = plan_python_uninstall(scan_pythons(pydir), "uv", python_dir=pydir, cache_root=tmp_path,
                                 installed=_reported(full, request))
    assert [e.path for e in plan.entries] == [full]
    why = {s.path: s.reason for s in plan.skipped}
    assert set(why) == {request, hidden}
    assert why[hidden].startswith("not handed to uv: uv does not report") and "not handed to uv" in why[request]


def test_no_python_is_unused_while_what_an_environment_runs_on_is_unknown(tmp_path):
    pydir = tmp_path / "py"
    a = _python(pydir, "cpython-3.12.1-linux-x86_64-gnu")
    pythons = scan_pythons(pydir)
    unused = plan_python_uninstall(pythons, "uv", python_dir=pydir, cache_root=tmp_path, installed=_reported(a),
                                   unknown=["/p/.venv/pyvenv.cfg: Permission denied"])
    assert unused.entries == () and "cannot tell whether it is unused: /p/.venv/pyvenv.cfg" in unused.skipped[0].reason
    asked = plan_python_uninstall(pythons, "uv", python_dir=pydir, cache_root=tmp_path, installed=_reported(a),
                                  keys=[a.name], unknown=["x"])
    assert [e.path for e in asked.entries] == [a] and asked.notes == ()


def test_uvs_directories_follow_its_variables_first(tmp_path):
    env = {"UV_PYTHON_INSTALL_DIR": str(tmp_path / "p"), "UV_TOOL_DIR": str(tmp_path / "t"), "PATH": ""}
    assert locate_python_dir(env) == (tmp_path / "p", "UV_PYTHON_INSTALL_DIR")
    assert locate_tool_dir(env) == (tmp_path / "t", "UV_TOOL_DIR")
    bare = {"XDG_DATA_HOME": str(tmp_path / "data"), "PATH": ""}
    assert locate_python_dir(bare) == (tmp_path / "data" / "uv" / "python", "platform default")
    assert locate_tool_dir(bare) == (tmp_path / "data" / "uv" / "tools", "platform default")


# -- tools -----------------------------------------------------------------------------------------


RECEIPT = """[tool]
requirements = [
    { name = "black", extras = ["d"], specifier = ">=24" },
    { name = "helperlib" },
    { name = "local", directory = "/src/local" },
]
python = "3.12"
entrypoints = [
    { name = "black", install-path = "/home/ada/.local/bin/black", from = "black" },
]
"""


def test_a_tool_is_read_from_its_receipt(tmp_path):
    tool = _venv(tmp_path / "black", "/usr/bin")
    (tool / "uv-receipt.toml").write_text(RECEIPT)
    t = read_tool(tool)
    assert t.requirements == ("black[d]>=24", "helperlib", "local @ /src/local")
    assert t.python_request == "3.12"
    assert [(e.name, str(e.install_path), e.source) for e in t.entry_points] == [("black", "/home/ada/.local/bin/black", "black")]
    assert t.problems == ()


def test_a_fifo_receipt_is_a_problem_never_a_hang(tmp_path):
    tool = _venv(tmp_path / "t", "/usr/bin")
    os.mkfifo(tool / "uv-receipt.toml")
    done = []
    worker = threading.Thread(target=lambda: done.append(read_tool(tool)), daemon=True)
    worker.start()
    worker.join(5)
    assert done and done[0].requirements == () and "FIFO" in done[0].problems[0]


# -- project environments --------------------------------------------------------------------------


def test_venvs_are_found_without_entering_links_venvs_or_excluded_directories(tmp_path):
    root = tmp_path / "root"
    a = _venv(root / "proj" / ".venv", "/usr/bin")
    (root / "proj" / "pyproject.toml").write_text('[project]\nname = "proj"\nversion = "1.2"\n')
    b = _venv(root / "deep" / "x" / "venv", "/usr/bin")
    _venv(a / "nested", "/usr/bin")  # inside a venv: never searched
    outside = _venv(tmp_path / "outside" / ".venv", "/usr/bin")
    os.symlink(outside.parent, root / "link")
    _venv(root / "cache" / "env", "/usr/bin")
    (root / "fifo-venv").mkdir()
    os.mkfifo(root / "fifo-venv" / "pyvenv.cfg")
    assert list(find_venvs([root], exclude=[root / "cache"])) == [b, a]
    projects = scan_projects([root], exclude=[root / "cache"])
    assert [(p.path, p.project_name, p.project_version) for p in projects] == [(b, None, None), (a, "proj", "1.2")]
    assert projects[1].venv.python_version == "3.12.1" and projects[1].venv.interpreter == "/usr/bin/python3.12"


# -- orphans proven by key -------------------------------------------------------------------------


def _script_env(cache: Path, script: Path) -> Environment:
    name = script_environment_name(script)
    stem, digest = name.rsplit("-", 1)
    return Environment(SCRIPT, cache / name, name, "ok", digest=digest, stem=stem, prompt=script.name)


def test_a_deleted_script_is_proven_from_its_environments_key(tmp_path):
    root = tmp_path / "root"
    (root / "a" / "b").mkdir(parents=True)
    gone, kept = root / "a" / "b" / "old report.py", root / "a" / "kept.py"
    kept.write_text("")
    elsewhere = tmp_path / "other" / "x.py"
    envs = [_script_env(tmp_path, p) for p in (gone, kept, elsewhere)]
    proven = {p.environment.name: p for p in prove_scripts(envs, [root])}
    assert set(proven) == {envs[0].key, envs[1].key}
    assert proven[envs[0].key].script == gone and not proven[envs[0].key].exists
    assert proven[envs[1].key].script == kept and proven[envs[1].key].exists


def test_the_proof_needs_the_same_file_name_and_stops_within_its_bounds(tmp_path):
    root = tmp_path / "root"
    (root / "d").mkdir(parents=True)
    env = _script_env(tmp_path, root / "d" / "report.py")
    renamed = Environment(SCRIPT, env.path, env.key, "ok", digest=env.digest, stem=env.stem, prompt="other.py")
    assert prove_scripts([renamed], [root]) == []
    assert prove_scripts([env], [root], max_dirs=1) == [], "only the root itself was listed"
    assert len(prove_scripts([env], [root], max_dirs=2)) == 1
    with pytest.raises(ScanCancelled):
        prove_scripts([env], [root], should_stop=lambda: True)


# -- accounting ------------------------------------------------------------------------------------


def test_totals_count_each_inode_once_across_parts_and_exclusive_is_what_deleting_frees(tmp_path):
    cache = tmp_path / "cache"
    archive = cache / "archive-v0" / "abc"
    archive.mkdir(parents=True)
    (cache / "CACHEDIR.TAG").write_text("Signature: 8a477f597d28d172789f06886806bc55\n")
    shared = archive / "shared.py"
    shared.write_bytes(b"s" * 40000)
    only_cache = archive / "own.py"
    only_cache.write_bytes(b"c" * 9000)
    p1, p2, tool = tmp_path / "p1" / ".venv", tmp_path / "p2" / ".venv", tmp_path / "tools" / "t"
    for d in (p1, p2, tool):
        d.mkdir(parents=True)
        (d / "mine.py").write_bytes(b"m" * 12000)
    os.link(shared, p1 / "shared.py")
    os.link(shared, tool / "shared.py")
    os.link(p1 / "mine.py", p2 / "from_p1.py")  # p1 and p2 share a file outside the cache
    usage = measure_machine({PROJECTS: [p1, p2], TOOLS: [tool]}, cache=scan_disk(cache))
    assert usage.total_disk == _du(cache, p1, p2, tool)
    assert usage.part(CACHE).disk == _du(cache)
    assert usage.part(PROJECTS).disk == _du(p1, p2)
    for d in (p1, p2, tool):
        item = usage.items[str(d)]
        assert item.disk == _du(d)
        assert item.exclusive == freed_bytes([d])[0]
    assert {s.path: s.bytes for s in usage.items[str(p1)].shares} == {
        archive: os.lstat(shared).st_blocks * 512, tool: os.lstat(shared).st_blocks * 512, p2: os.lstat(p2 / "from_p1.py").st_blocks * 512,
    }
    assert {s.path for s in usage.items[str(archive)].shares} == {p1, tool}


@pytest.mark.parametrize("native", [True, False])
def test_the_cache_s_items_come_from_its_own_walk(tmp_path, native):
    """The cache is not walked again: the parts' hardlinked inodes are looked up in the scan's
    links, C walker or pure Python alike. A cache item is a child of archive-vN or
    environments-vN (a script environment, a cached environment's group), or any other
    top-level entry whole; the interpreter shards' queries count for their bucket."""
    from envtui.core.disk import walk

    if native and walk._cwalk is None:
        pytest.skip("the C walker is not built")
    cache = tmp_path / "cache"
    (cache / "CACHEDIR.TAG").parent.mkdir(parents=True)
    (cache / "CACHEDIR.TAG").write_text("Signature: 8a477f597d28d172789f06886806bc55\n")
    places = {
        "archive": cache / "archive-v0" / "abc" / "f.py",
        "script": cache / "environments-v2" / "hello-0123456789abcdef" / "lib" / "f.py",
        "group": cache / "environments-v2" / "0123456789abcdef" / "fedcba9876543210.lock",
        "wheels": cache / "wheels-v5" / "pypi" / "x" / "f.whl",
        "shard": cache / "interpreter-v4" / "0011223344556677" / "k.msgpack",
    }
    tool = tmp_path / "tools" / "t"
    tool.mkdir(parents=True)
    for name, f in places.items():
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_bytes(name.encode() * 3000)
        os.link(f, tool / f"{name}.bin")
    (tool / "only-here.py").write_bytes(b"t" * 5000)
    report = scan_disk(cache, native=native)
    usage = measure_machine({TOOLS: [tool]}, cache=report)
    assert {s.path for s in usage.items[str(tool)].shares} == {
        cache / "archive-v0" / "abc", cache / "environments-v2" / "hello-0123456789abcdef",
        cache / "environments-v2" / "0123456789abcdef", cache / "wheels-v5", cache / "interpreter-v4",
    }
    assert usage.items[str(tool)].exclusive == freed_bytes([tool])[0] == _du(tool / "only-here.py") + os.lstat(tool).st_blocks * 512
    assert usage.total_disk == _du(cache, tool) and usage.part(CACHE).disk == _du(cache) == report.total_disk
    report.links.release()
    with pytest.raises(ValueError, match="keeps no links"):
        measure_machine({TOOLS: [tool]}, cache=dataclasses.replace(report, links=None))
    with pytest.raises(ValueError, match="released"):
        measure_machine({TOOLS: [tool]}, cache=report)


# -- deleting project environments -----------------------------------------------------------------


def _skipped(plan) -> dict[Path, str]:
    return {s.path: s.reason for s in plan.skipped}


def test_guard_refuses_outside_roots_links_non_venvs_and_routes_through_links(tmp_path):
    root, outside = tmp_path / "root", tmp_path / "outside"
    ok = _venv(root / "p" / ".venv", "/usr/bin")
    far = _venv(outside / ".venv", "/usr/bin")
    os.symlink(far, root / "linked-venv")
    os.symlink(ok, root / "linked-in")  # a link to a venv inside the roots: the link is no venv
    os.symlink(outside, root / "via")
    (root / "plain").mkdir()
    asked = [ok, far, root / "linked-venv", root / "linked-in", root / "via" / ".venv", root / "plain", root]
    plan = plan_project_envs([(p, "p") for p in asked], [root])
    assert [e.path for e in plan.entries] == [ok]
    why = _skipped(plan)
    assert "is not inside" in why[far]
    assert "is not inside" in why[root / "linked-venv"]
    assert "a symlink" in why[root / "linked-in"]
    assert "is not inside" in why[root / "via" / ".venv"]
    assert "no regular pyvenv.cfg" in why[root / "plain"]
    assert "is not inside" in why[root]


def test_deleting_a_project_env_never_follows_links_and_frees_what_the_plan_says(tmp_path):
    root, outside = tmp_path / "root", tmp_path / "outside"
    outside.mkdir()
    (outside / "precious").write_bytes(b"p" * 5000)
    keep = _venv(root / "keep" / ".venv", "/usr/bin")
    venv = _venv(root / "p" / ".venv", "/usr/bin")
    (venv / "lib").mkdir()
    (venv / "lib" / "big").write_bytes(b"b" * 100000)
    os.link(venv / "lib" / "big", keep / "shared")
    (venv / "lib" / "alone").write_bytes(b"a" * 30000)
    os.symlink(outside, venv / "lib" / "dirlink")
    os.symlink(outside / "precious", venv / "filelink")
    plan = plan_project_envs([(venv, "p")], [root])
    assert [e.path for e in plan.entries] == [venv]
    before = _du(root)
    result = execute_plan(plan)
    assert result.complete and result.errors == () and result.measured_bytes == plan.bytes_freed
    assert not venv.exists() and (outside / "precious").read_bytes() == b"p" * 5000
    assert before - _du(root) == plan.bytes_freed == plan.entries[0].bytes_alone
    assert (keep / "shared").stat().st_size == 100000


@pytest.mark.skipif(os.geteuid() != 0, reason="bind mounts need root")
def test_deleting_never_crosses_into_a_mount(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "precious").write_text("keep me")
    venv = _venv(tmp_path / "root" / "p" / ".venv", "/usr/bin")
    plan = plan_project_envs([(venv, "p")], [tmp_path / "root"])
    mnt = venv / "mnt"
    mnt.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "tmpfs", str(mnt)], capture_output=True).returncode != 0:
        pytest.skip("cannot mount a tmpfs here")
    try:
        (mnt / "inside").write_text("on another filesystem")
        result = execute_plan(plan)  # mounted after the plan was made: the check right before sees it
        assert result.deleted == () and not result.complete
        assert "mounted at" in result.skipped[-1].reason and str(mnt) in result.skipped[-1].reason
        assert (mnt / "inside").read_text() == "on another filesystem" and (venv / "pyvenv.cfg").exists()
    finally:
        subprocess.run(["umount", str(mnt)], check=False)


def test_a_project_env_swapped_for_a_link_after_planning_is_skipped_and_the_outside_kept(tmp_path):
    root, outside = tmp_path / "root", tmp_path / "outside"
    venv = _venv(root / "p" / ".venv", "/usr/bin", )
    far = _venv(outside / "p" / ".venv", "/usr/bin")
    (far / "precious").write_text("keep")
    plan = plan_project_envs([(venv, "p")], [root])
    assert [e.path for e in plan.entries] == [venv]
    os.rename(root / "p", tmp_path / "moved")
    os.symlink(outside / "p", root / "p")  # the project directory is now a link out of the root
    result = execute_plan(plan)
    assert result.deleted == () and "is not inside" in result.skipped[-1].reason and not result.complete
    assert (far / "precious").read_text() == "keep" and (far / "pyvenv.cfg").exists()
