"""Everything uv keeps, made by real uv offline: a cache, two managed Pythons (one unused), two
installed tools, two projects and scripts under one root. What ``envtui ls --json --sizes --roots``
says is checked against the environments themselves (their interpreters asked where they run)
and against ``du``; deletions are checked by what still runs afterwards."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.uvcache import UvCache

pytestmark = pytest.mark.integration

PYENV = Path(os.environ.get("PYENV_ROOT", os.path.expanduser("~/.pyenv"))) / "versions"
USED, UNUSED = "3.12.1", "3.13.0"


def _key(version: str) -> str:
    return f"cpython-{version}-linux-x86_64-gnu"


class Machine:
    """The directories uv uses, all in one temporary directory, and the environment to run uv in."""

    def __init__(self, base: Path, wheelhouse: Path) -> None:
        self.base = base
        self.uv = UvCache(root=base / "cache", workdir=base / "roots", wheelhouse=wheelhouse)
        self.pythons = base / "pythons"
        self.tools = base / "tools"
        self.bin = base / "bin"
        self.roots = base / "roots"
        self.state = base / "xdg-state"

    @property
    def env(self) -> dict[str, str]:
        env = self.uv.env
        env.pop("UV_NO_MANAGED_PYTHON", None)
        env.update(
            UV_PYTHON_INSTALL_DIR=str(self.pythons), UV_TOOL_DIR=str(self.tools), UV_TOOL_BIN_DIR=str(self.bin),
            UV_PYTHON_PREFERENCE="only-managed", XDG_STATE_HOME=str(self.state),
        )
        env.pop("ENVTUI_STATE_DIR", None)
        return env

    def run_uv(self, *args: str, cwd: Path | None = None, env: dict | None = None) -> subprocess.CompletedProcess:
        proc = subprocess.run([self.uv.uv, *args], capture_output=True, text=True, env=env or self.env,
                              cwd=cwd or self.roots, timeout=180)
        assert proc.returncode == 0, f"uv {' '.join(args)}:\n{proc.stdout}\n{proc.stderr}"
        return proc

    def envtui(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        proc = subprocess.run([sys.executable, "-m", "envtui", "--cache-dir", str(self.uv.root), *args],
                              capture_output=True, text=True, env=self.env, timeout=300)
        assert not check or proc.returncode == 0, f"envtui {' '.join(args)}:\n{proc.stdout}\n{proc.stderr}"
        return proc

    def ls(self) -> dict:
        return json.loads(self.envtui("ls", "--json", "--sizes", "--roots", str(self.roots)).stdout)


def _copy_python(version: str, dest: Path) -> None:
    src = PYENV / version
    if not (src / "bin" / "python3").exists():
        pytest.skip(f"needs pyenv's CPython {version} at {src} to make a managed Python from")
    dest.mkdir(parents=True)
    # bin/ is copied; lib/, include/ and share/ are linked (the interpreter finds its standard
    # library through dest/lib, so sys.prefix is dest). Never hardlinks: a new link changes the
    # ctime of pyenv's own executable, which is the timestamp every cached interpreter query of
    # it is checked against, so every other test's interpreter entries would turn stale.
    for child in src.iterdir():
        if child.name == "bin":
            shutil.copytree(child, dest / "bin", symlinks=True)
        else:
            (dest / child.name).symlink_to(child)


def _du(*paths: Path) -> int:
    out = subprocess.run(["du", "-sB1", "--total", *map(str, paths)], capture_output=True, text=True, check=True).stdout
    return int(out.splitlines()[-1].split()[0])


@pytest.fixture(scope="module")
def machine(tmp_path_factory, wheelhouse) -> Machine:
    m = Machine(tmp_path_factory.mktemp("machine"), wheelhouse)
    m.roots.mkdir()
    _copy_python(USED, m.pythons / _key(USED))
    _copy_python(UNUSED, m.pythons / _key(UNUSED))
    listed = m.run_uv("python", "list", "--only-installed", "--output-format", "json").stdout
    assert {_key(USED), _key(UNUSED)} <= {p["key"] for p in json.loads(listed)}, listed
    for name in ("keep", "old_report"):
        script = m.uv.write_script(f"scripts/{name}.py")
        m.run_uv("run", "--python", "3.12", str(script))
    m.run_uv("tool", "run", "--python", "3.12", "tinytool")
    m.run_uv("tool", "install", "--python", "3.12", "tinytool", "--with", "helperlib")
    other = shutil.which("python3.11") or str(PYENV / "3.11.7" / "bin" / "python3")
    m.run_uv("tool", "install", "--python-preference", "system", "--python", other, "bigtool")
    for name, dep in (("alpha", "bigtool"), ("beta", "tinytool")):
        project = m.roots / name
        project.mkdir()
        (project / "pyproject.toml").write_text(
            f'[project]\nname = "{name}"\nversion = "0.{len(name)}"\nrequires-python = ">=3.8"\ndependencies = ["{dep}"]\n'
        )
        m.run_uv("sync", "--python", "3.12", cwd=project)
    # Gone before envtui ever ran: only its environment's key says where it was.
    (m.roots / "scripts" / "old_report.py").unlink()
    return m


def _base_prefix(python: Path) -> str:
    out = subprocess.run([str(python), "-c", "import sys; print(sys.base_prefix)"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return os.path.realpath(out.stdout.strip())


def _venvs(doc: dict) -> dict[str, Path]:
    """Every environment the document lists that has a bin/python: its path -> the venv root."""
    out = {}
    for e in doc["environments"]:
        root = e["path"] if e["kind"] == "script" else e["link_target"]
        if root:
            out[e["path"]] = Path(root)
    for t in doc["tools"]:
        out[t["path"]] = Path(t["path"])
    for p in doc["projects"]:
        out[p["path"]] = Path(p["path"])
    return out


def test_ls_lists_pythons_tools_and_projects_with_who_uses_each_python(machine):
    doc = machine.ls()
    pythons = {p["key"]: p for p in doc["pythons"]}
    assert set(pythons) == {_key(USED), _key(UNUSED)}
    assert pythons[_key(USED)]["version"] == USED and pythons[_key(UNUSED)]["version"] == UNUSED
    # The oracle: ask each environment's interpreter where its base Python is.
    truth: dict[str, set[str]] = {_key(USED): set(), _key(UNUSED): set()}
    for path, root in _venvs(doc).items():
        base = _base_prefix(root / "bin" / "python")
        for key in truth:
            if base == os.path.realpath(machine.pythons / key):
                truth[key].add(path)
    said = {k: {u["path"] for u in p["used_by"] if u["kind"] != "interpreter entry"} for k, p in pythons.items()}
    assert said == truth
    assert truth[_key(USED)] and not truth[_key(UNUSED)]
    # uv queried it while looking for 3.12: a cached query, which keeps nothing alive.
    assert {u["kind"] for u in pythons[_key(UNUSED)]["used_by"]} <= {"interpreter entry"}
    queried = {e["path"] for e in doc["interpreters"] if os.path.realpath(e["base_prefix"] or "") == os.path.realpath(machine.pythons / _key(UNUSED))}
    assert {u["path"] for u in pythons[_key(UNUSED)]["used_by"]} == queried
    kinds = {u["kind"] for u in pythons[_key(USED)]["used_by"]}
    assert {"script environment", "cached environment", "tool", "project environment", "interpreter entry"} <= kinds
    for p in pythons.values():
        assert p["bytes"]["disk"] == _du(Path(p["path"]))


def test_ls_lists_tools_from_their_receipts_and_projects_with_their_bytes(machine):
    doc = machine.ls()
    tools = {t["name"]: t for t in doc["tools"]}
    assert set(tools) == {"tinytool", "bigtool"}
    assert tools["tinytool"]["requirements"] == ["tinytool", "helperlib"]
    assert tools["tinytool"]["python"] == "3.12" and tools["tinytool"]["python_version"] == USED
    assert [e["name"] for e in tools["tinytool"]["entry_points"]] == ["tinytool"]
    assert tools["tinytool"]["used_by"] == [{"kind": "command", "path": str(machine.bin / "tinytool")}]
    out = subprocess.run([str(machine.bin / "tinytool")], capture_output=True, text=True)
    assert out.stdout.strip() == f"tinytool {tools['tinytool']['version']}"
    projects = {Path(p["path"]).parent.name: p for p in doc["projects"]}
    assert set(projects) == {"alpha", "beta"}, "the tool and cache environments are not project environments"
    assert projects["alpha"]["name"] == "alpha" and projects["alpha"]["version"] == "0.5"
    assert [p["name"] for p in projects["alpha"]["packages"]] == ["bigtool"]
    for item in [*tools.values(), *projects.values()]:
        assert item["bytes"]["disk"] == _du(Path(item["path"]))
        # uv installs by hardlink: a tool or project shares its wheels' files with archive-v0.
        assert any(s["part"] == "cache" and "/archive-v0/" in s["path"] for s in item["shares"]), item["path"]
    # Every archive entry alpha shares files with names alpha among its sharers.
    shared = doc["archive_shared_outside_with"]
    alpha_archives = [s["path"] for s in projects["alpha"]["shares"] if s["part"] == "cache"]
    assert alpha_archives and all(projects["alpha"]["path"] in {u["path"] for u in shared[a]} for a in alpha_archives)
    bigtool_archive = alpha_archives[0]
    assert tools["bigtool"]["path"] in {u["path"] for u in shared[bigtool_archive]}


def test_the_total_counts_every_inode_once_across_all_four_parts(machine):
    doc = machine.ls()
    parts = {p["name"]: p for p in doc["machine"]["parts"]}
    assert set(parts) == {"cache", "pythons", "tools", "projects"}
    dirs = [Path(doc["cache_dir"])] + [Path(x["path"]) for k in ("pythons", "tools", "projects") for x in doc[k]]
    assert doc["machine"]["total_disk"] == _du(*dirs)
    assert parts["cache"]["disk"] == _du(Path(doc["cache_dir"])) == doc["total_disk"]
    assert doc["machine"]["total_disk"] < sum(p["disk"] for p in parts.values()), "shared files counted once"


def test_old_spelling_script_roots_still_works(machine):
    new = machine.envtui("ls", "--json", "--roots", str(machine.roots)).stdout
    old = machine.envtui("ls", "--json", "--script-roots", str(machine.roots)).stdout
    assert [p["path"] for p in json.loads(old)["projects"]] == [p["path"] for p in json.loads(new)["projects"]] != []


def test_orphans_on_a_fresh_state_dir_lists_the_deleted_scripts_environment_only(machine):
    assert not machine.state.exists(), "the state directory is fresh: envtui never saw old_report.py"
    out = machine.envtui("prune", "--orphans", "--roots", str(machine.roots), "--dry-run", "--json")
    plan = json.loads(out.stdout)
    doc = machine.ls()
    old = [e for e in doc["environments"] if e["prompt"] == "old_report.py"]
    assert [e["path"] for e in plan["entries"]] == [old[0]["path"]]
    assert str(machine.roots / "scripts" / "old_report.py") in plan["entries"][0]["reasons"][0]
    # And ls names where the script was, from the key alone.
    assert old[0]["script"] == str(machine.roots / "scripts" / "old_report.py")


def test_deleting_a_project_env_frees_what_it_said(machine):
    venv = machine.roots / "alpha" / ".venv"
    plan = json.loads(machine.envtui("prune", "--project-env", str(venv), "--roots", str(machine.roots),
                                     "--dry-run", "--json").stdout)["project_envs"]
    assert [e["path"] for e in plan["entries"]] == [str(venv)]
    before = _du(machine.uv.root, machine.roots)
    machine.envtui("prune", "--project-env", str(venv), "--roots", str(machine.roots), "--yes")
    assert not venv.exists()
    assert before - _du(machine.uv.root, machine.roots) == plan["bytes_freed"] > 0
    # The tool that shares its files still runs; the project syncs back offline.
    assert subprocess.run([str(machine.tools / "bigtool" / "bin" / "bigtool")], capture_output=True).returncode == 0
    machine.run_uv("sync", "--python", "3.12", cwd=machine.roots / "alpha")


def test_a_project_env_outside_the_roots_is_refused(machine, tmp_path):
    out = machine.envtui("prune", "--project-env", str(machine.roots / "beta" / ".venv"), "--roots", str(tmp_path),
                         "--yes", "--json")
    plan = json.loads(out.stdout)["project_envs"]
    assert plan["entries"] == [] and "is not inside" in plan["skipped"][0]["reason"]
    assert (machine.roots / "beta" / ".venv" / "pyvenv.cfg").exists()


def test_pruning_the_unused_python_leaves_every_environment_working(machine):
    plan = json.loads(machine.envtui("prune", "--unused-pythons", "--roots", str(machine.roots), "--dry-run",
                                     "--json").stdout)["pythons"]
    assert [a["label"] for a in plan["entries"]] == [_key(UNUSED)]
    assert plan["entries"][0]["command"][1:] == ["python", "uninstall", f"--install-dir={machine.pythons}", "--", _key(UNUSED)]
    assert [Path(s["path"]).name for s in plan["skipped"]] == [_key(USED)]
    doc = machine.ls()
    machine.envtui("prune", "--unused-pythons", "--roots", str(machine.roots), "--yes")
    listed = {p["key"] for p in json.loads(machine.run_uv("python", "list", "--only-installed", "--output-format", "json").stdout)}
    assert _key(UNUSED) not in listed and _key(USED) in listed
    for path, root in _venvs(doc).items():
        assert _base_prefix(root / "bin" / "python"), path
    run = machine.run_uv("run", "--python", "3.12", str(machine.roots / "scripts" / "keep.py"))
    assert "Installed" not in run.stderr
    assert subprocess.run([str(machine.bin / "tinytool")], capture_output=True).returncode == 0


def test_a_tool_is_rebuilt_and_uninstalled_through_uv(machine):
    receipt = (machine.tools / "tinytool" / "uv-receipt.toml").read_text()
    out = machine.envtui("rebuild", "tinytool")
    assert out.stdout == f"reinstalled tinytool ({machine.tools / 'tinytool'})\n"
    # The receipt's options come back (the wheelhouse it was installed from) with its Python and --with.
    ran = [line for line in out.stderr.splitlines() if line.startswith("$ ")]
    assert ran and "tool install --reinstall --find-links=file://" in ran[-1]
    assert ran[-1].endswith("--python=3.12 --with=helperlib -- tinytool")
    assert (machine.tools / "tinytool" / "uv-receipt.toml").read_text() == receipt
    assert subprocess.run([str(machine.bin / "tinytool")], capture_output=True).returncode == 0
    plan = json.loads(machine.envtui("prune", "--tool", "bigtool", "--dry-run", "--json").stdout)["tools"]
    assert [a["command"][1:] for a in plan["entries"]] == [["tool", "uninstall", "--", "bigtool"]]
    before = _du(machine.tools)
    machine.envtui("prune", "--tool", "bigtool", "--yes")
    assert not (machine.tools / "bigtool").exists() and not (machine.bin / "bigtool").exists()
    # What the plan said it frees is what leaving the tool directory frees (uv's own files aside).
    assert before - _du(machine.tools) >= plan["bytes_freed"] > 0
    assert subprocess.run([str(machine.roots / "alpha" / ".venv" / "bin" / "python"), "-c", "import bigtool"]).returncode == 0
