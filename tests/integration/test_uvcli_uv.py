"""uv's command line from envtui, against the real uv, offline: managed Pythons named like requests,
tool directories named like options, and tool reinstalls that keep every option of the receipt and
never lose the tool."""

from __future__ import annotations

import os
import shutil
import subprocess
import textwrap
import zipfile
from pathlib import Path

import pytest

from envtui.core.prune.remover import remove_path
from envtui.core.rebuild import reinstall_tool
from envtui.core.tools import read_tool
from envtui.core.uvcli import installed_pythons, installed_tools, python_uninstall_argv, tool_reinstall_argv, tool_uninstall_argv
from envtui.demo.wheels import _record_hash, make_wheel, wheel_files
from tests.uvcache import UvCache

pytestmark = pytest.mark.integration

PYENV = Path(os.environ.get("PYENV_ROOT", os.path.expanduser("~/.pyenv"))) / "versions"
PLATFORM = "linux-x86_64-gnu"


def _key(version: str, variant: str = "") -> str:
    return f"cpython-{version}{variant}-{PLATFORM}"


def _copy_python(version: str, dest: Path) -> None:
    """A managed-Python directory made from pyenv's: ``bin/`` copied, the rest linked (see
    tests/integration/test_machine_uv.py for why never hardlinks)."""
    src = PYENV / version
    if not (src / "bin" / "python3").exists():
        pytest.skip(f"needs pyenv's CPython {version} at {src}")
    dest.mkdir(parents=True)
    for child in src.iterdir():
        if child.name == "bin":
            shutil.copytree(child, dest / "bin", symlinks=True)
        else:
            (dest / child.name).symlink_to(child)


def _env(base: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("UV_", "VIRTUAL_ENV", "PYTHONHOME"))}
    env.update(UV_CACHE_DIR=str(base / "cache"), UV_OFFLINE="1", UV_NO_CONFIG="1", UV_PYTHON_DOWNLOADS="never",
               UV_NO_PROGRESS="1", UV_PYTHON_BIN_DIR=str(base / "pybin"), UV_TOOL_BIN_DIR=str(base / "bin"),
               UV_TOOL_DIR=str(base / "tools"), UV_PYTHON_INSTALL_DIR=str(base / "py"))
    env.update(extra)
    return env


def _uv(uv: str, env: dict[str, str], *args: str, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run([uv, *args], capture_output=True, text=True, env=env, timeout=300, cwd="/")
    assert not check or proc.returncode == 0, f"uv {' '.join(args)}:\n{proc.stdout}\n{proc.stderr}"
    return proc


# -- managed Pythons ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pythons(tmp_path_factory):
    """A managed-Python directory: 3.12.1 and 3.13.0 under their keys, a real directory named like
    the request ``cpython-3.12-...`` holding another 3.12.1, and a ``+freethreaded`` directory
    holding a default-build 3.13.0."""
    base = tmp_path_factory.mktemp("pythons")
    pdir = base / "py"
    for version, name in (("3.12.1", _key("3.12.1")), ("3.12.1", "cpython-3.12-" + PLATFORM),
                          ("3.13.0", _key("3.13.0")), ("3.13.0", _key("3.13.0", "+freethreaded"))):
        _copy_python(version, pdir / name)
    return base


def _fresh(pythons: Path, tmp_path: Path) -> Path:
    base = tmp_path / "m"
    shutil.copytree(pythons, base, symlinks=True)
    return base


def test_uv_reports_each_installation_under_the_interpreters_key(pythons):
    from tests.uvcache import uv_bin

    found = installed_pythons(uv_bin(), pythons / "py", _env(pythons))
    by_dir = {p.directory.name: p for p in found}
    # uv leaves out a "+freethreaded" directory whose interpreter is a default build.
    assert set(by_dir) == {_key("3.12.1"), "cpython-3.12-" + PLATFORM, _key("3.13.0")}
    assert by_dir["cpython-3.12-" + PLATFORM].key == _key("3.12.1")  # not its directory's name
    for p in found:
        assert p.path.is_file() and p.directory == pythons / "py" / p.directory.name and p.platform == PLATFORM


def test_only_an_installation_named_by_its_own_key_is_handed_to_uv(pythons):
    from tests.uvcache import uv_bin

    uv = uv_bin()
    pdir = pythons / "py"
    by_dir = {p.directory.name: p for p in installed_pythons(uv, pdir, _env(pythons))}
    with pytest.raises(ValueError, match="uv would read its name as another request"):
        python_uninstall_argv(uv, by_dir["cpython-3.12-" + PLATFORM], pdir)
    assert python_uninstall_argv(uv, by_dir[_key("3.12.1")], pdir)[-2:] == ("--", _key("3.12.1"))


def test_uninstalling_one_removes_it_and_nothing_else(pythons, tmp_path):
    from tests.uvcache import uv_bin

    uv = uv_bin()
    base = _fresh(pythons, tmp_path)
    env = _env(base)
    pdir = base / "py"
    by_dir = {p.directory.name: p for p in installed_pythons(uv, pdir, env)}
    for key in (_key("3.12.1"), _key("3.13.0")):
        argv = python_uninstall_argv(uv, by_dir[key], pdir)
        _uv(argv[0], env, *argv[1:], check=False)  # uv then fails to relink 3.12 over the real directory
        assert not (pdir / key).exists()
    assert sorted(n for n in os.listdir(pdir) if not n.startswith(".")) == sorted(
        ["cpython-3.12-" + PLATFORM, _key("3.13.0", "+freethreaded")])
    assert (pdir / ("cpython-3.12-" + PLATFORM) / "bin").is_dir()
    assert (pdir / _key("3.13.0", "+freethreaded") / "bin").is_dir()


ALIASES = ["CPython-3.12.1-" + PLATFORM, "cpython-3.12.01-" + PLATFORM, "cpython-v3.12.1-" + PLATFORM,
           "cpython-3.12.1.0-" + PLATFORM, "cpython-3.12.1post1-" + PLATFORM]
KEPT = [_key("3.12.2"), _key("3.12.1", "+freethreaded"), _key("3.12.1", "+debug"), "cpython-3.12.1-linux-x86_64-musl",
        _key("3.12.1rc1")]


@pytest.mark.parametrize("other", ALIASES + KEPT)
def test_envtui_refuses_exactly_the_directories_uv_would_remove_with_the_key(tmp_path, other):
    """The oracle for the widened key rule: real uv removes each alias along with the key, and
    envtui refuses the key then; the others uv keeps (envtui also refuses an ``rc`` of the same
    patch and ``+default``, to be safe)."""
    from envtui.core.uvcli import PythonInstallation
    from tests.uvcache import uv_bin

    pdir = tmp_path / "py"
    for name in (_key("3.12.1"), other):
        (pdir / name / "bin").mkdir(parents=True)
    installation = PythonInstallation(_key("3.12.1"), "3.12.1", pdir / _key("3.12.1") / "bin" / "python3.12", "cpython",
                                      "default", PLATFORM, None, pdir / _key("3.12.1"))
    refused = other in ALIASES or "rc1" in other
    if refused:
        with pytest.raises(ValueError, match="too and remove it"):
            python_uninstall_argv("uv", installation, pdir)
    else:
        assert python_uninstall_argv("uv", installation, pdir)[-1] == _key("3.12.1")
    _uv(uv_bin(), _env(tmp_path), "python", "uninstall", f"--install-dir={pdir}", "--", _key("3.12.1"), check=False)
    assert (pdir / other).exists() == (other in KEPT)


def test_a_directory_name_as_a_request_would_remove_every_minor_release(tmp_path):
    """Why a directory named like a request never reaches uv: uv reads it as one."""
    from tests.uvcache import uv_bin

    pdir = tmp_path / "py"
    for name in ("cpython-3.12-" + PLATFORM, _key("3.12.1"), _key("3.12.2"), _key("3.13.0")):
        (pdir / name / "bin").mkdir(parents=True)
    _uv(uv_bin(), _env(tmp_path), "python", "uninstall", f"--install-dir={pdir}", "--", "cpython-3.12-" + PLATFORM, check=False)
    assert sorted(n for n in os.listdir(pdir) if not n.startswith(".")) == [_key("3.13.0")]


# -- tools ------------------------------------------------------------------------------------------


def _two_command_wheel(outdir: Path, name: str, version: str, commands: tuple[str, ...]) -> None:
    files = wheel_files(name, version)
    di = f"{name}-{version}.dist-info"
    files.pop(f"{di}/RECORD")
    files[f"{di}/entry_points.txt"] = ("[console_scripts]\n" + "".join(f"{c} = {name}:main\n" for c in commands)).encode()
    record = [f"{p},{_record_hash(d)},{len(d)}" for p, d in files.items()] + [f"{di}/RECORD,,"]
    files[f"{di}/RECORD"] = ("\n".join(record) + "\n").encode()
    with zipfile.ZipFile(outdir / f"{name}-{version}-py3-none-any.whl", "w") as zf:
        for path, data in files.items():
            zf.writestr(zipfile.ZipInfo(path, date_time=(2024, 1, 1, 0, 0, 0)), data)


BACKEND = textwrap.dedent('''
    import base64, hashlib, os, zipfile
    NAME, VERSION = "srctool", "0.5"
    def _files():
        di = f"{NAME}-{VERSION}.dist-info"
        f = {f"{NAME}/__init__.py": b"def main():\\n    print('srctool 0.5')\\n",
             f"{di}/METADATA": f"Metadata-Version: 2.1\\nName: {NAME}\\nVersion: {VERSION}\\n".encode(),
             f"{di}/entry_points.txt": f"[console_scripts]\\n{NAME} = {NAME}:main\\n".encode(),
             f"{di}/WHEEL": b"Wheel-Version: 1.0\\nGenerator: t\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n"}
        rec = [f"{p},sha256={base64.urlsafe_b64encode(hashlib.sha256(d).digest()).rstrip(b'=').decode()},{len(d)}" for p, d in f.items()]
        f[f"{di}/RECORD"] = ("\\n".join(rec + [f"{di}/RECORD,,"]) + "\\n").encode()
        return f
    def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
        name = f"{NAME}-{VERSION}-py3-none-any.whl"
        with zipfile.ZipFile(os.path.join(wheel_directory, name), "w") as z:
            for p, d in _files().items():
                z.writestr(p, d)
        return name
    build_editable = build_wheel
    def get_requires_for_build_wheel(config_settings=None):
        return []
    get_requires_for_build_editable = get_requires_for_build_wheel
''')


class Tools:
    """A tool directory, a bin directory, a private wheelhouse and a public one, and a cache."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.private = base / "private"
        self.public = base / "public"
        make_wheel(self.private, "tinytool", "1.0")
        make_wheel(self.private, "helperlib", "0.1", console_script=False)
        make_wheel(self.public, "tinytool", "5.0")
        self.src = base / "srctool"
        self.src.mkdir()
        (self.src / "pyproject.toml").write_text('[build-system]\nrequires = []\nbuild-backend = "backend"\n'
                                                 'backend-path = ["."]\n[project]\nname = "srctool"\nversion = "0.5"\n')
        (self.src / "backend.py").write_text(BACKEND)
        work = base / "work"
        work.mkdir()
        self.uv = UvCache(root=base / "cache", workdir=work, wheelhouse=self.private).uv
        self.tool_dir = base / "tools"
        self.bin = base / "bin"

    def env(self, **extra: str) -> dict[str, str]:
        return _env(self.base, **extra)

    def run(self, *args: str, check: bool = True, **extra: str) -> subprocess.CompletedProcess:
        return _uv(self.uv, self.env(**extra), *args, check=check)

    def receipt(self, name: str) -> str:
        return (self.tool_dir / name / "uv-receipt.toml").read_text()

    def command(self, name: str) -> str:
        return subprocess.run([str(self.bin / name)], capture_output=True, text=True, timeout=60).stdout


@pytest.fixture
def tools(tmp_path) -> Tools:
    return Tools(tmp_path)


def test_only_tools_uv_lists_under_their_own_name_are_uninstalled(tools):
    tools.run("tool", "install", "--no-index", f"--find-links={tools.private}", "tinytool")
    for hostile in ("--all", "-x", "My_Tool"):
        shutil.copytree(tools.tool_dir / "tinytool", tools.tool_dir / hostile, symlinks=True)
    names = installed_tools(tools.uv, tools.tool_dir, tools.env())
    assert names == ["tinytool"]
    for hostile in ("--all", "-x", "My_Tool"):
        with pytest.raises(ValueError):
            tool_uninstall_argv(tools.uv, hostile, installed=names)
    argv = tool_uninstall_argv(tools.uv, "tinytool", installed=names)
    tools.run(*argv[1:])
    assert sorted(n for n in os.listdir(tools.tool_dir) if not n.startswith(".")) == ["--all", "-x", "My_Tool"]


RICH = ("--no-index", "--index-strategy", "unsafe-best-match", "--resolution", "lowest-direct", "--prerelease", "allow",
        "--exclude-newer", "2030-01-01", "--exclude-newer-package", "helperlib=2029-01-01", "--compile-bytecode",
        "--link-mode", "copy", "--no-binary-package", "zz", "-C", "a=b", "-C", "a=c",
        "--config-settings-package", "tinytool:x=y", "--no-build-isolation-package", "bar", "--no-sources",
        "--fork-strategy", "fewest", "--keyring-provider", "disabled", "--prerelease-package", "helperlib=allow",
        "--index", "priv=http://127.0.0.1:9/simple", "--extra-index-url", "http://127.0.0.1:9/extra",
        "--index-url", "http://127.0.0.1:9/main", "--no-sources-package", "qq", "--no-build-package", "yy")


def test_a_reinstall_keeps_every_option_the_receipt_records(tools):
    for name, text in (("c.txt", "helperlib==0.1\n"), ("o.txt", "helperlib>=0.1\n"), ("b.txt", "setuptools<99\n"),
                       ("e.txt", "zzz\n")):
        (tools.base / name).write_text(text)
    tools.run("tool", "install", *RICH, f"--find-links={tools.private}", "--python", os.path.realpath(shutil.which("python3") or "python3"),
              "--with", 'helperlib ; os_name == "posix"', "--with-editable", str(tools.src),
              "-c", str(tools.base / "c.txt"), "--overrides", str(tools.base / "o.txt"),
              "-b", str(tools.base / "b.txt"), "--excludes", str(tools.base / "e.txt"), "--", "tinytool==1.0")
    before = tools.receipt("tinytool")
    assert "constraints" in before and "no-index = true" in before and "editable" in before
    tool = read_tool(tools.tool_dir / "tinytool")
    lines: list[str] = []
    result = reinstall_tool(tool, tools.tool_dir, tools.base / "cache", lines.append, uv=tools.uv, env=tools.env())
    assert result.ok, (result.message, lines)
    assert tools.receipt("tinytool") == before
    assert tools.command("tinytool") == "tinytool 1.0\n"
    editable = subprocess.run([str(tools.tool_dir / "tinytool" / "bin" / "python"), "-c", "import srctool; srctool.main()"],
                              capture_output=True, text=True, timeout=60)
    assert editable.stdout == "srctool 0.5\n"
    assert any(line.startswith("[proof] $ ") for line in lines) and "Installed 1 executable" in "\n".join(lines)


def test_a_private_tool_is_not_replaced_by_a_public_one_of_the_same_name(tools):
    """`rebuild TOOL` used to drop --no-index/--find-links: uv then took tinytool 5.0 from wherever the
    user's settings point (here UV_FIND_LINKS, standing for PyPI) instead of the private 1.0."""
    tools.run("tool", "install", "--no-index", f"--find-links={tools.private}", "tinytool")
    tool = read_tool(tools.tool_dir / "tinytool")
    public = tools.env(UV_FIND_LINKS=str(tools.public))
    result = reinstall_tool(tool, tools.tool_dir, tools.base / "cache", lambda _l: None, uv=tools.uv, env=public)
    assert result.ok, result.message
    assert tools.command("tinytool") == "tinytool 1.0\n" and read_tool(tools.tool_dir / "tinytool").version == "1.0"
    # What the options prevent: the same reinstall without them takes the public one.
    bare = _uv(tools.uv, public, "tool", "install", "--reinstall", "--", "tinytool")
    assert "+ tinytool==5.0" in bare.stderr


def test_a_reinstall_uv_would_fail_halfway_keeps_the_tool(tools):
    """A newer tinytool brings a command `helper` that the bin directory already holds: uv 0.13.9's
    own `tool install --reinstall` then removes the tool and fails (shown beside, in a second tool
    and bin directory); envtui proves the install aside, sees the clash and leaves the tool as it was."""
    beside = tools.env(UV_TOOL_DIR=str(tools.base / "beside" / "tools"), UV_TOOL_BIN_DIR=str(tools.base / "beside" / "bin"))
    for env in (tools.env(), beside):
        _uv(tools.uv, env, "tool", "install", "--no-index", f"--find-links={tools.private}", "tinytool")
        helper = Path(env["UV_TOOL_BIN_DIR"]) / "helper"
        helper.write_text("#!/bin/sh\necho mine\n")
        helper.chmod(0o755)
    before = tools.receipt("tinytool")
    _two_command_wheel(tools.private, "tinytool", "2.0", ("tinytool", "helper"))
    raw = _uv(tools.uv, beside, *tool_reinstall_argv(tools.uv, read_tool(tools.base / "beside" / "tools" / "tinytool"))[1:],
              check=False)
    assert raw.returncode != 0 and "Executable already exists: helper" in raw.stderr
    assert not (tools.base / "beside" / "tools" / "tinytool").exists()  # uv lost it
    tool = read_tool(tools.tool_dir / "tinytool")
    result = reinstall_tool(tool, tools.tool_dir, tools.base / "cache", lambda _l: None, uv=tools.uv, env=tools.env())
    assert not result.ok and result.returncode is None
    assert result.message == f"not rebuilt, {tool.path} kept: {tools.bin}/helper exists and is not one of tinytool's commands"
    assert tools.command("tinytool") == "tinytool 1.0\n" and tools.command("helper") == "mine\n"
    assert tools.receipt("tinytool") == before


def test_a_reinstall_uv_cannot_do_offline_keeps_the_tool_and_says_why(tools):
    tools.run("tool", "install", "--no-index", f"--find-links={tools.private}", "tinytool", "--with", "helperlib")
    (tools.private / "helperlib-0.1-py3-none-any.whl").unlink()
    tools.run("cache", "clean", "helperlib")
    tool = read_tool(tools.tool_dir / "tinytool")
    result = reinstall_tool(tool, tools.tool_dir, tools.base / "cache", lambda _l: None, uv=tools.uv, env=tools.env())
    assert not result.ok and result.message.startswith(f"not rebuilt, {tool.path} kept: uv cannot build it: ")
    assert "helperlib" in result.message
    assert tools.command("tinytool") == "tinytool 1.0\n"


def test_envtui_rebuild_tool_exits_0_then_1_with_uvs_reason(tools):
    import sys

    tools.run("tool", "install", "--no-index", f"--find-links={tools.private}", "tinytool", "--with", "helperlib")
    cmd = [sys.executable, "-m", "envtui", "rebuild", "--cache-dir", str(tools.base / "cache"), "--uv", tools.uv, "tinytool"]
    ok = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=tools.env())
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout == f"reinstalled tinytool ({tools.tool_dir / 'tinytool'})\n"
    (tools.private / "helperlib-0.1-py3-none-any.whl").unlink()
    tools.run("cache", "clean", "helperlib")
    bad = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=tools.env())
    assert bad.returncode == 1 and "kept: uv cannot build it" in bad.stdout and "helperlib" in bad.stdout
    assert tools.command("tinytool") == "tinytool 1.0\n"
    hostile = subprocess.run([*cmd[:-1], "--", "--all"], capture_output=True, text=True, timeout=300, env=tools.env())
    assert hostile.returncode == 2, hostile.stderr  # no entry, no tool: bad usage
    shutil.copytree(tools.tool_dir / "tinytool", tools.tool_dir / "--all", symlinks=True)
    listed_not = subprocess.run([*cmd[:-1], "--", "--all"], capture_output=True, text=True, timeout=300, env=tools.env())
    assert listed_not.returncode == 1 and "uv does not list '--all'" in listed_not.stdout
    remove_path(tools.tool_dir / "--all")


def test_a_directory_without_a_patch_is_the_patch_0_release_to_uv(tmp_path):
    """uv reads a missing patch as 0: `uv python uninstall cpython-3.12.0-...` also removes a
    directory named `cpython-3.12-...`, so envtui refuses that key while such a directory exists."""
    from envtui.core.uvcli import PythonInstallation
    from tests.uvcache import uv_bin

    pdir = tmp_path / "py"
    for name in (_key("3.12.0"), "cpython-3.12-" + PLATFORM):
        (pdir / name / "bin").mkdir(parents=True)
    installation = PythonInstallation(_key("3.12.0"), "3.12.0", pdir / _key("3.12.0") / "bin" / "python3.12", "cpython",
                                      "default", PLATFORM, None, pdir / _key("3.12.0"))
    with pytest.raises(ValueError, match="too and remove it"):
        python_uninstall_argv("uv", installation, pdir)
    _uv(uv_bin(), _env(tmp_path), "python", "uninstall", f"--install-dir={pdir}", "--", _key("3.12.0"), check=False)
    assert not (pdir / ("cpython-3.12-" + PLATFORM)).exists()
