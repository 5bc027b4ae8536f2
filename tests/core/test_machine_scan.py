"""One look at what uv keeps beside its cache (envtui/core/machine_scan.py): which environment runs
on which managed Python, found in the cache's environments, the tools, the project environments
under the roots and every venv uv ran in (its interpreter queries name it, wherever it lies); an
environment whose base cannot be read makes every Python unknown, never unused; and the
``ls --json`` form of it all. Hand-made caches (tests/core/handmade.py), Pythons and tools."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import pytest

from envtui.core.disk import freed_bytes, scan_disk
from envtui.core.errors import ScanCancelled
from envtui.core.interpreters import InterpreterEntry
from envtui.core.machine import PROJECTS, PYTHONS, TOOLS
from envtui.core.machine_scan import Machine, machine_to_json, measure, name_proven_scripts, scan_machine, shared_with_outside
from envtui.core.orphans import ProvenScript
from envtui.core.projects import read_venv
from envtui.core.tools import read_tool

from .handmade import cached_env, make_cache, pyvenv, scan, script_env

SCRIPT_ENV, CACHED_ENV, TOOL, PROJECT_ENV, INTERPRETER, QUERIED = (
    "script environment", "cached environment", "tool", "project environment", "interpreter entry",
    "environment uv ran in")


def _python(pydir: Path, minor: str) -> Path:
    install = pydir / f"cpython-3.{minor}-linux-x86_64-gnu"
    (install / "bin").mkdir(parents=True)
    (install / "bin" / f"python3.{minor.split('.')[0]}").write_bytes(b"\x7fELF" + b"x" * 3000)
    return install


def _query(where: Path, name: str, *, prefix: str | None, base: str | None, exe: str | None = None,
           base_exe: str | None = None) -> InterpreterEntry:
    return InterpreterEntry(where / "interpreter-v5" / "0011223344556677" / f"{name}.msgpack", 5, "0011223344556677",
                            name, "fresh", True, executable=exe, base_executable=base_exe, sys_prefix=prefix,
                            base_prefix=base)


def _tool(tool_dir: Path, name: str, home: str, *entry_points: str) -> Path:
    tool = pyvenv(tool_dir / name, home=home)
    points = "".join(f'  {{ name = "{e}", install-path = "{tool_dir.parent / "bin" / e}", from = "{name}" }},\n'
                     for e in entry_points)
    (tool / "uv-receipt.toml").write_text(f'[tool]\nrequirements = [{{ name = "{name}" }}]\n'
                                          f"entrypoints = [\n{points}]\n")
    return tool


def _unreadable_cfg(venv: Path) -> None:
    """A ``pyvenv.cfg`` that says nothing (no ``key = value`` line): what it runs on is unknown."""
    (venv / "pyvenv.cfg").write_text("garbage\n")


@pytest.fixture
def world(tmp_path):
    """A cache, a Python directory, a tool directory and a root, each Python used by one kind."""
    w = dataclasses.make_dataclass("World", ["tmp", "cache", "py", "tools", "root", "p", "inv", "envs"])
    py, tools, root = tmp_path / "py", tmp_path / "tools", tmp_path / "root"
    p = {m: _python(py, m) for m in ("12.1", "11.0", "10.0", "13.0", "9.0", "8.0", "14.0")}
    os.symlink(p["11.0"].name, py / "cpython-3.11-linux-x86_64-gnu")
    cache = make_cache(tmp_path / "cache", "environments-v2")
    script = root / "scripts" / "s.py"
    script.parent.mkdir(parents=True)
    script.write_text("print()\n")
    s_env = script_env(cache, script, home=str(p["12.1"] / "bin"))
    c_env = cached_env(cache, "0123456789abcdef", "fedcba9876543210", "cachedenv",
                       home=str(py / "cpython-3.11-linux-x86_64-gnu" / "bin"))
    _tool(tools, "black", str(p["10.0"] / "bin"), "black", "blackd")
    proj = pyvenv(root / "proj" / ".venv", home=str(p["13.0"] / "bin"))
    (root / "proj" / "pyproject.toml").write_text('[project]\nname = "proj"\nversion = "0.1"\n')
    far = pyvenv(tmp_path / "far" / ".venv", home=str(p["14.0"] / "bin"))
    inv = scan(cache, [script])
    inv = dataclasses.replace(inv, interpreters=(
        _query(cache, "base", prefix=str(p["9.0"]), base=str(p["9.0"]), exe=str(p["9.0"] / "bin" / "python3.9")),
        _query(cache, "far", prefix=str(far), base=str(p["14.0"]), exe=str(far / "bin" / "python"),
               base_exe="/nowhere/python"),
    ))
    return w(tmp_path, cache, py, tools, root, p, inv, {"script": s_env, "cached": c_env, "project": proj, "far": far})


def _used_by(machine: Machine) -> dict[str, list[tuple[str, Path]]]:
    return {p.key.split("-")[1]: [(u.kind, u.path) for u in p.used_by] for p in machine.pythons}


def test_each_python_is_used_by_what_runs_on_it_and_only_that(world):
    m = scan_machine(world.inv, [world.root], python_dir=world.py, tool_dir=world.tools)
    q = {e.key: e.path for e in world.inv.interpreters}
    assert _used_by(m) == {
        "3.10.0": [(TOOL, world.tools / "black")],
        "3.11.0": [(CACHED_ENV, world.envs["cached"])],        # through its minor-version link
        "3.12.1": [(SCRIPT_ENV, world.envs["script"])],
        "3.13.0": [(PROJECT_ENV, world.envs["project"])],
        "3.14.0": [(INTERPRETER, q["far"]), (QUERIED, world.envs["far"])],  # a venv far from the roots
        "3.8.0": [],
        "3.9.0": [(INTERPRETER, q["base"])],                  # a query alone keeps nothing alive
    }
    assert [p.environments for p in m.pythons if p.key.startswith("cpython-3.9.0")] == [()]
    assert m.unknown == () and m.python_dir == world.py and m.tool_dir == world.tools and m.roots == (world.root,)
    assert [t.name for t in m.tools] == ["black"] and [p.path for p in m.projects] == [world.envs["project"]]
    assert m.scripts == (ProvenScript(world.envs["script"], world.root / "scripts" / "s.py", True),)


def test_a_venv_uv_ran_in_counts_for_what_it_runs_on_now_and_once(world):
    far, p = world.envs["far"], world.p
    # Recreated on 3.8 since uv queried it on 3.14: it runs on 3.8 now.
    (far / "pyvenv.cfg").write_text(f"home = {p['8.0'] / 'bin'}\n")
    again = _query(world.cache, "again", prefix=str(far) + "/", base=str(p["14.0"]))
    inside = _query(world.cache, "proj", prefix=str(world.envs["project"]), base=str(p["12.1"]))
    tool = _query(world.cache, "tool", prefix=str(world.tools / "black"), base=str(p["12.1"]))
    inv = dataclasses.replace(world.inv, interpreters=(*world.inv.interpreters, again, inside, tool))
    m = scan_machine(inv, [world.root], python_dir=world.py, tool_dir=world.tools)
    used = _used_by(m)
    assert (QUERIED, far) in used["3.8.0"] and used["3.8.0"].count((QUERIED, far)) == 1
    assert [k for k, _ in used["3.14.0"]] == [INTERPRETER, INTERPRETER]  # the queries, no environment
    # A project or tool named by a query is what it is, counted once, for what its own pyvenv.cfg says.
    assert [k for k, _ in used["3.12.1"]] == [SCRIPT_ENV, INTERPRETER, INTERPRETER]
    assert used["3.13.0"] == [(PROJECT_ENV, world.envs["project"])] and m.unknown == ()


@pytest.mark.parametrize("prefix, base", [(None, "/b"), ("", "/b"), ("/p", None), ("/p", "/p/"), ("/p/x/..", "/p")])
def test_a_query_of_no_venv_names_no_environment(world, prefix, base):
    inv = dataclasses.replace(world.inv, interpreters=(_query(world.cache, "q", prefix=prefix, base=base),))
    m = scan_machine(inv, [], python_dir=world.py, tool_dir=world.tools)
    assert not any(u.kind == QUERIED for p in m.pythons for u in p.used_by) and m.unknown == ()


def test_a_venv_uv_ran_in_that_is_gone_keeps_nothing_and_hides_nothing(world):
    far = world.envs["far"]
    os.unlink(far / "pyvenv.cfg")
    m = scan_machine(world.inv, [], python_dir=world.py, tool_dir=world.tools)
    assert _used_by(m)["3.14.0"] == [(INTERPRETER, world.inv.interpreters[1].path)] and m.unknown == ()


def test_a_venv_uv_ran_in_whose_base_cannot_be_read_makes_every_python_unknown(world):
    far = world.envs["far"]
    _unreadable_cfg(far)
    m = scan_machine(world.inv, [], python_dir=world.py, tool_dir=world.tools)
    assert m.unknown == (f"{far}: what it runs on cannot be read ({far / 'pyvenv.cfg'}: no 'key = value' lines)",)
    # What the query says it ran on still counts.
    assert (QUERIED, far) in _used_by(m)["3.14.0"]


def test_a_venv_uv_ran_in_that_cannot_be_reached_is_unknown_never_gone(world, tmp_path):
    os.symlink("loop", tmp_path / "loop")
    hidden = tmp_path / "loop" / ".venv"  # lstat: ELOOP, neither there nor gone
    inv = dataclasses.replace(world.inv, interpreters=(
        _query(world.cache, "hidden", prefix=str(hidden), base=str(world.p["8.0"]), base_exe="/x/python"),))
    m = scan_machine(inv, [], python_dir=world.py, tool_dir=world.tools)
    # The loop is among the parents: the system's own words, not "a symlink"; unknown, never gone.
    assert m.unknown == (f"{hidden}: what it runs on cannot be read ({hidden / 'pyvenv.cfg'}: Too many levels of symbolic links)",)
    assert _used_by(m)["3.8.0"] == [(INTERPRETER, inv.interpreters[0].path), (QUERIED, hidden)]


def test_a_pyvenv_cfg_read_whole_without_a_home_is_unknown_saying_no_more(world):
    (world.envs["project"] / "pyvenv.cfg").write_text("version = 3.12.1\n")
    m = scan_machine(world.inv, [world.root], python_dir=world.py, tool_dir=world.tools)
    assert m.unknown == (f"{world.envs['project']}: what it runs on cannot be read",)


def test_a_venv_whose_bin_python_names_its_base_is_known_without_a_home(world):
    proj = world.envs["project"]
    _unreadable_cfg(proj)
    (proj / "bin").mkdir()
    os.symlink(world.p["8.0"] / "bin" / "python3.8", proj / "bin" / "python")
    m = scan_machine(world.inv, [world.root], python_dir=world.py, tool_dir=world.tools)
    assert m.unknown == () and _used_by(m)["3.8.0"] == [(PROJECT_ENV, proj)]


@pytest.mark.parametrize("which", ["project", "tool", "script", "cached"])
def test_an_environment_whose_base_cannot_be_read_makes_every_python_unknown(world, which):
    venv = {"tool": world.tools / "black", "cached": world.cache / "archive-v0" / "cachedenv"}.get(which) or world.envs[which]
    _unreadable_cfg(venv)
    inv = scan(world.cache, [world.root / "scripts" / "s.py"])
    m = scan_machine(inv, [world.root], python_dir=world.py, tool_dir=world.tools)
    named = {"cached": world.envs["cached"]}.get(which, venv)
    assert m.unknown == (f"{named}: what it runs on cannot be read ({venv / 'pyvenv.cfg'}: no 'key = value' lines)",)


def test_an_environment_with_no_pyvenv_cfg_at_all_runs_on_nothing(world):
    # A cached environment whose archive target is gone (a dangling link), a tool directory half
    # made: nothing runs on them, and nothing is unknown because of them.
    import shutil

    shutil.rmtree(world.cache / "archive-v0" / "cachedenv")
    os.unlink(world.tools / "black" / "pyvenv.cfg")
    m = scan_machine(scan(world.cache), [], python_dir=world.py, tool_dir=world.tools)
    assert m.unknown == () and _used_by(m)["3.11.0"] == [] and _used_by(m)["3.10.0"] == []


def test_the_roots_exclude_uvs_directories_and_are_made_absolute(world, monkeypatch):
    # The cache, the Python and the tool directories under the root: their venvs are not projects.
    root = world.tmp
    monkeypatch.chdir(root)
    m = scan_machine(world.inv, ["root", "far", "."], python_dir=world.py, tool_dir=world.tools)
    assert m.roots == (world.root, world.tmp / "far", world.tmp)
    assert [p.path for p in m.projects] == [world.envs["far"], world.envs["project"]]
    # The far venv is a project now: counted once, as a project, not as a venv uv ran in.
    assert _used_by(m)["3.14.0"] == [(PROJECT_ENV, world.envs["far"]), (INTERPRETER, world.inv.interpreters[1].path)]


def test_without_roots_or_cache_only_what_is_there_is_read(world):
    m = scan_machine(None, [], python_dir=world.py, tool_dir=world.tools)
    assert m.projects == () and m.scripts == () and m.unknown == ()
    assert _used_by(m)["3.10.0"] == [(TOOL, world.tools / "black")] and _used_by(m)["3.12.1"] == []
    no_roots = scan_machine(world.inv, [], python_dir=world.py, tool_dir=world.tools)
    assert no_roots.projects == () and no_roots.scripts == ()


def test_uvs_directories_are_located_as_uv_does_unless_given(world):
    env = {"UV_PYTHON_INSTALL_DIR": str(world.py), "UV_TOOL_DIR": str(world.tools), "PATH": ""}
    m = scan_machine(None, [], environ=env)
    assert m.python_dir == world.py and m.tool_dir == world.tools and len(m.pythons) == 7 and len(m.tools) == 1


def test_a_scan_cut_short_raises(world):
    asked = []

    def stop():
        asked.append(1)
        return len(asked) > 3

    with pytest.raises(ScanCancelled):
        scan_machine(world.inv, [world.root], python_dir=world.py, tool_dir=world.tools, should_stop=stop)


# -- what the rest of envtui reads -------------------------------------------------------------------


def test_proven_scripts_name_their_environments_and_gone_ones_are_orphans(world):
    script = world.root / "scripts" / "s.py"
    m = scan_machine(world.inv, [world.root], python_dir=world.py, tool_dir=world.tools)
    assert m.orphan_scripts() == []
    unnamed = scan(world.cache)  # envtui never saw the script
    assert [e.script for e in unnamed.environments] == [None, None]
    named = name_proven_scripts(unnamed, m)
    assert [e.script for e in named.environments] == [str(script), None]
    assert name_proven_scripts(unnamed, dataclasses.replace(m, scripts=())) is unnamed
    # A script already known keeps its path; only a script environment takes one.
    other = dataclasses.replace(m, scripts=(ProvenScript(world.envs["script"], Path("/else/s.py"), True),
                                            ProvenScript(world.envs["cached"], Path("/x.py"), True)))
    assert [e.script for e in name_proven_scripts(world.inv, other).environments] == [str(script), None]
    assert [e.script for e in name_proven_scripts(unnamed, other).environments] == ["/else/s.py", None]
    script.unlink()
    gone = dataclasses.replace(m, scripts=(ProvenScript(world.envs["script"], script, False),
                                           ProvenScript(world.envs["cached"], Path("/unknown.py"), None)))
    assert gone.orphan_scripts() == [str(script)]


def test_ls_json_without_sizes_says_what_is_where_and_what_runs_on_what(world):
    m = scan_machine(world.inv, [world.root], python_dir=world.py, tool_dir=world.tools)
    doc = machine_to_json(m)
    p12 = world.p["12.1"]
    assert doc["python_dir"] == str(world.py) and doc["tool_dir"] == str(world.tools) and doc["roots"] == [str(world.root)]
    assert "machine" not in doc
    assert doc["pythons"][2] == {
        "path": str(p12), "key": p12.name, "version": "3.12.1", "implementation": "cpython", "variant": None,
        "platform": "linux-x86_64-gnu", "executable": str(p12 / "bin" / "python3.12"), "links": [], "bytes": None,
        "used_by": [{"kind": SCRIPT_ENV, "path": str(world.envs["script"])}],
    }
    assert doc["pythons"][1]["links"] == [str(world.py / "cpython-3.11-linux-x86_64-gnu")]
    tool = read_tool(world.tools / "black")
    (world.tmp / "bin").mkdir()
    (world.tmp / "bin" / "black").write_text("")  # only one of its two commands is there
    doc = machine_to_json(m)
    assert doc["tools"] == [{
        "path": str(tool.path), "name": "black", "version": None, "requirements": ["black"], "python": None,
        "python_version": "3.12.1", "home": str(world.p["10.0"] / "bin"), "interpreter": None, "packages": [],
        "entry_points": [{"name": "black", "install_path": str(world.tmp / "bin" / "black"), "from": "black"},
                         {"name": "blackd", "install_path": str(world.tmp / "bin" / "blackd"), "from": "black"}],
        "last_used": tool.venv.last_used, "bytes": None,
        "used_by": [{"kind": "command", "path": str(world.tmp / "bin" / "black")}],
        "shares": None, "problems": [],
    }]
    proj = read_venv(world.envs["project"])
    assert doc["projects"] == [{
        "path": str(proj.path), "project": str(world.root / "proj"), "name": "proj", "version": "0.1",
        "python_version": "3.12.1", "home": str(world.p["13.0"] / "bin"), "interpreter": None, "packages": [],
        "last_used": proj.last_used, "bytes": None, "used_by": [{"kind": "project", "path": str(world.root / "proj")}],
        "shares": None, "problems": [],
    }]
    assert doc["proven_scripts"] == [{"environment": str(world.envs["script"]),
                                      "script": str(world.root / "scripts" / "s.py"), "exists": True}]


def test_ls_json_with_sizes_gives_each_item_its_bytes_and_what_it_shares(world):
    # The project shares one file with the cached environment, and one with the tool.
    archive = world.cache / "archive-v0" / "cachedenv"
    proj, tool = world.envs["project"], world.tools / "black"
    os.link(archive / "lib" / "own.py", proj / "lib" / "from-cache.py")
    os.link(tool / "lib" / "own.py", proj / "lib" / "from-tool.py")
    (world.root / "proj" / "pyproject.toml").unlink()
    m = scan_machine(world.inv, [world.root], python_dir=world.py, tool_dir=world.tools)
    usage = measure(m, scan_disk(world.cache))
    doc = machine_to_json(m, usage)
    block = os.lstat(archive / "lib" / "own.py").st_blocks * 512
    [project] = doc["projects"]
    assert project["project"] is None and project["name"] is None and project["used_by"] == []
    assert project["bytes"] == {"disk": usage.items[str(proj)].disk, "apparent": usage.items[str(proj)].apparent,
                                "exclusive": freed_bytes([proj])[0]}
    assert sorted(project["shares"], key=lambda s: s["part"]) == [
        {"path": str(archive), "part": "cache", "bytes": block}, {"path": str(tool), "part": TOOLS, "bytes": block}]
    assert doc["tools"][0]["shares"] == [{"path": str(proj), "part": PROJECTS, "bytes": block}]
    assert doc["pythons"][0]["bytes"] == {"disk": usage.items[str(world.p["10.0"])].disk,
                                          "apparent": usage.items[str(world.p["10.0"])].apparent,
                                          "exclusive": freed_bytes([world.p["10.0"]])[0]}
    assert doc["machine"] == {
        "total_disk": usage.total_disk, "total_apparent": usage.total_apparent,
        "parts": [{"name": p.name, "items": p.items, "disk": p.disk, "apparent": p.apparent} for p in usage.parts]}
    assert [p["name"] for p in doc["machine"]["parts"]] == ["cache", PYTHONS, TOOLS, PROJECTS]
    assert [p["items"] for p in doc["machine"]["parts"]][1:] == [7, 1, 1]
    # The cache side of the same sharing, for ls --json's environments.
    assert shared_with_outside(usage, [archive, world.envs["script"]]) == {
        str(archive): [{"path": str(proj), "part": PROJECTS, "bytes": block}]}
    # An item measured nowhere has no figures and shares nothing.
    lone = dataclasses.replace(m, projects=(*m.projects, dataclasses.replace(m.projects[0], venv=read_venv(world.tmp / "x"))))
    assert machine_to_json(lone, usage)["projects"][1]["bytes"] is None
    assert machine_to_json(lone, usage)["projects"][1]["shares"] == []


def test_an_environment_of_the_cache_is_known_by_its_bin_python_or_by_the_python_its_home_holds(world, tmp_path):
    archive = world.cache / "archive-v0" / "cachedenv"
    _unreadable_cfg(archive)
    (archive / "bin").mkdir()
    # A relative link, read from where it lies (archive-v0/<id>/bin), not from the link that
    # reaches it (environments-v2/<ihash>/<rhash>/bin: the same depth, another place).
    os.symlink(os.path.relpath(world.p["8.0"] / "bin" / "python3.8", archive / "bin"), archive / "bin" / "python")
    # A home holding a link to the Python (a directory of links): what it resolves to counts.
    links = tmp_path / "links"
    links.mkdir()
    os.symlink(world.p["9.0"] / "bin" / "python3.9", links / "python3.12")
    (world.envs["script"] / "pyvenv.cfg").write_text(f"home = {links}\nversion_info = 3.12.1\nprompt = s.py\n")
    m = scan_machine(scan(world.cache), [], python_dir=world.py, tool_dir=world.tools)
    used = _used_by(m)
    assert used["3.8.0"] == [(CACHED_ENV, world.envs["cached"])] and used["3.9.0"][0] == (SCRIPT_ENV, world.envs["script"])
    assert m.unknown == ()


def test_a_relative_bin_python_of_a_project_reached_through_a_linked_root_is_read_where_it_lies(world, tmp_path):
    proj = world.envs["project"]
    _unreadable_cfg(proj)
    (proj / "bin").mkdir()
    os.symlink(os.path.relpath(world.p["8.0"] / "bin" / "python3.8", proj / "bin"), proj / "bin" / "python")
    (tmp_path / "deep" / "er").mkdir(parents=True)
    os.symlink(world.root, tmp_path / "deep" / "er" / "root")  # the root given at another depth
    m = scan_machine(world.inv, [tmp_path / "deep" / "er" / "root"], python_dir=world.py, tool_dir=world.tools)
    assert _used_by(m)["3.8.0"] == [(PROJECT_ENV, tmp_path / "deep" / "er" / "root" / "proj" / ".venv")]
    assert m.unknown == ()


def test_a_tool_or_a_venv_uv_ran_in_is_known_by_its_bin_python_alone(world):
    tool, far = world.tools / "black", world.envs["far"]
    for venv, python in ((tool, world.p["8.0"]), (far, world.p["9.0"])):
        _unreadable_cfg(venv)
        (venv / "bin").mkdir()
        os.symlink(python / "bin" / "python3", venv / "bin" / "python")
    m = scan_machine(world.inv, [], python_dir=world.py, tool_dir=world.tools)
    assert (TOOL, tool) in _used_by(m)["3.8.0"] and (QUERIED, far) in _used_by(m)["3.9.0"] and m.unknown == ()


def test_every_venv_uv_ran_in_is_looked_at_whatever_came_before(world, tmp_path):
    p = world.p
    gone = pyvenv(tmp_path / "gone" / ".venv", home=str(p["12.1"] / "bin"))
    os.unlink(gone / "pyvenv.cfg")
    second = pyvenv(tmp_path / "second" / ".venv", home=str(p["8.0"] / "bin"))
    blind = pyvenv(tmp_path / "blind" / ".venv")
    _unreadable_cfg(blind)
    q = lambda name, prefix: _query(world.cache, name, prefix=str(prefix), base=str(p["13.0"]))  # noqa: E731
    inv = dataclasses.replace(world.inv, interpreters=(
        q("known", world.envs["project"]), q("gone", gone), q("far", world.envs["far"]), q("second", second),
        q("blind", blind), q("blind-again", blind)))
    m = scan_machine(inv, [world.root], python_dir=world.py, tool_dir=world.tools)
    used = _used_by(m)
    assert (QUERIED, world.envs["far"]) in used["3.14.0"] and (QUERIED, second) in used["3.8.0"]
    assert m.unknown == (f"{blind}: what it runs on cannot be read ({blind / 'pyvenv.cfg'}: no 'key = value' lines)",)


@pytest.mark.parametrize("phase", ["scan_tools", "scan_projects", "find_users", "prove_scripts"])
def test_every_phase_of_the_scan_can_be_stopped(world, phase):
    from .handmade import stop_within

    with pytest.raises(ScanCancelled):
        scan_machine(world.inv, [world.root], python_dir=world.py, tool_dir=world.tools, should_stop=stop_within(phase))


def test_measuring_can_be_stopped(world):
    from .handmade import stop_within

    m = scan_machine(world.inv, [world.root], python_dir=world.py, tool_dir=world.tools)
    with pytest.raises(ScanCancelled):
        measure(m, scan_disk(world.cache), should_stop=stop_within("measure_machine"))


def test_without_a_cache_the_roots_still_give_their_projects(world):
    m = scan_machine(None, [world.root], python_dir=world.py, tool_dir=world.tools)
    assert [p.path for p in m.projects] == [world.envs["project"]] and m.scripts == ()


def test_ls_json_names_packages_and_what_is_missing_as_null(world):
    (world.p["8.0"] / "bin" / "python3.8").unlink()
    info = world.envs["project"] / "lib" / "python3.12" / "site-packages" / "rich-13.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: rich\nVersion: 13.0\n")
    receipt = world.tools / "black" / "uv-receipt.toml"
    receipt.write_text('[tool]\nrequirements = [{ name = "black" }]\nentrypoints = [{ name = "black" }]\n')
    m = scan_machine(world.inv, [world.root], python_dir=world.py, tool_dir=world.tools)
    usage = measure(m, scan_disk(world.cache))
    doc = machine_to_json(m, usage)
    assert [p["executable"] for p in doc["pythons"] if p["version"] == "3.8.0"] == [None]
    assert doc["projects"][0]["packages"] == [{"name": "rich", "version": "13.0"}]
    assert doc["tools"][0]["entry_points"] == [{"name": "black", "install_path": None, "from": None}]
    assert doc["tools"][0]["used_by"] == []
    tool = str(world.tools / "black")
    assert doc["tools"][0]["bytes"] == {"disk": usage.items[tool].disk, "apparent": usage.items[tool].apparent,
                                        "exclusive": usage.items[tool].exclusive} and usage.items[tool].disk > 0
