"""Installed tools as envtui reads them (envtui/core/tools.py): where uv keeps them, what a receipt
records, and what a hostile or damaged tool directory makes of it: a problem or an odd receipt,
never a crash, a hang, or a value uv would read otherwise than the receipt says (fast: tool
directories and receipts made by hand; uv is a stand-in)."""

from __future__ import annotations

import importlib
import os
import shutil
import tempfile
import traceback
from pathlib import Path
from types import MappingProxyType

import pytest
from packaging.requirements import InvalidRequirement, Requirement

from envtui.core.errors import ScanCancelled
from envtui.core.tools import (
    EntryPoint,
    Receipt,
    ReceiptRequirement,
    locate_tool_dir,
    read_receipt,
    read_tool,
    scan_tools,
    tool_dirs,
)

tools = importlib.import_module("envtui.core.tools")

NOBODY = 65534


def as_nobody(fn) -> str:
    """``repr(fn())`` computed by a forked child running as uid/gid 65534 (skips unless root)."""
    if os.geteuid() != 0:
        pytest.skip("needs root to become another user")
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        text = "?"
        try:
            os.close(r)
            os.setgroups([])
            os.setgid(NOBODY)
            os.setuid(NOBODY)
            text = repr(fn())
        except BaseException:  # noqa: BLE001 - the child answers whatever happened
            text = "raised " + traceback.format_exc()
        finally:
            os.write(w, text.encode("utf-8", "surrogateescape"))
            os._exit(0)
    os.close(w)
    with os.fdopen(r, "rb") as fh:
        out = fh.read().decode("utf-8", "surrogateescape")
    os.waitpid(pid, 0)
    return out


@pytest.fixture
def shared():
    """A directory other users may search (tmp_path is root's alone)."""
    path = Path(tempfile.mkdtemp(prefix="envtui-tools-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path)


# -- where uv keeps its tools ------------------------------------------------------------------------


@pytest.fixture
def asked(monkeypatch):
    """``uv tool dir`` as a stand-in: what it was asked, and what it prints (``None``: uv said nothing)."""
    calls: list[tuple] = []
    answer: dict[str, str | None] = {"printed": None}

    def uv_prints(args, environ, uv=None, timeout=5.0):
        calls.append((args, environ, uv, timeout))
        return answer["printed"]

    monkeypatch.setattr(tools, "uv_prints", uv_prints)
    return calls, answer


def test_uv_tool_dir_is_made_absolute_as_uv_does_a_tilde_kept(tmp_path, monkeypatch, asked):
    calls, _ = asked
    monkeypatch.chdir(tmp_path)
    # uv 0.13.9: UV_TOOL_DIR='~/x' is the directory "~/x" under the working directory (`uv tool dir`
    # prints it so); the home directory's x would be another tool directory than uv's.
    assert locate_tool_dir({"UV_TOOL_DIR": "~/x"}) == (tmp_path / "~" / "x", "UV_TOOL_DIR")
    assert locate_tool_dir({"UV_TOOL_DIR": "rel"}) == (tmp_path / "rel", "UV_TOOL_DIR")
    monkeypatch.setenv("UV_TOOL_DIR", "/from/the/environment")
    assert locate_tool_dir() == (Path("/from/the/environment"), "UV_TOOL_DIR")
    assert calls == []  # uv is not asked what the variable says


def test_without_the_variable_uv_is_asked_then_the_platform_default(tmp_path, monkeypatch, asked):
    calls, answer = asked
    monkeypatch.chdir(tmp_path)
    env = {"UV_TOOL_DIR": "", "XDG_DATA_HOME": str(tmp_path / "data")}  # empty: uv ignores it too
    answer["printed"] = "printed/tools"
    assert locate_tool_dir(env, uv="/my/uv", timeout=0.5) == (tmp_path / "printed" / "tools", "uv tool dir")
    assert calls == [(["tool", "dir"], env, "/my/uv", 0.5)]
    answer["printed"] = None
    assert locate_tool_dir(env) == (tmp_path / "data" / "uv" / "tools", "platform default")
    assert calls[-1] == (["tool", "dir"], env, None, 5.0)
    monkeypatch.delenv("UV_TOOL_DIR", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "own"))
    assert locate_tool_dir() == (tmp_path / "own" / "uv" / "tools", "platform default")
    assert calls[-1][1] is os.environ


# -- what a receipt records ---------------------------------------------------------------------------


def _one(item) -> ReceiptRequirement:
    (req,) = read_receipt({"requirements": [item]}).requirements
    return req


def test_a_requirement_table_is_read_key_by_key():
    assert _one({"name": "Black", "extras": ["d", "jupyter"], "specifier": ">=24", "marker": "os_name == 'posix'",
                 "index": "https://idx/simple"}) == ReceiptRequirement(
        "Black", ("d", "jupyter"), ">=24", "os_name == 'posix'", "registry", "", "", "https://idx/simple")
    assert _one({"name": "b"}) == ReceiptRequirement("b")
    assert _one({"name": "w", "url": "https://h/w.zip", "subdirectory": "sub"}) == ReceiptRequirement(
        "w", source="url", location="https://h/w.zip", subdirectory="sub")
    for source in ("path", "directory", "editable", "git", "virtual"):
        assert _one({"name": "s", source: "/src/s"}) == ReceiptRequirement("s", source=source, location="/src/s")


def test_a_pep_508_string_of_an_old_receipt_is_read_into_the_same_fields():
    assert _one("Black[jupyter,d]>=24,<25; os_name == 'posix'") == ReceiptRequirement(
        "Black", ("d", "jupyter"), "<25,>=24", 'os_name == "posix"')
    assert _one("cowsay @ file:///src/cowsay") == ReceiptRequirement("cowsay", source="url", location="file:///src/cowsay")
    assert _one("plain") == ReceiptRequirement("plain")
    text = "not a requirement!"
    with pytest.raises(InvalidRequirement) as err:
        Requirement(text)
    assert len(str(err.value).splitlines()) > 1  # packaging's reason, then the text and a caret
    assert _one(text) == ReceiptRequirement(text, odd=(f"not a requirement: {str(err.value).splitlines()[0]}",))


def test_every_value_of_the_wrong_type_is_odd_and_read_as_empty():
    req = _one({"name": "a", "extras": "d", "specifier": 1, "marker": ["m"], "subdirectory": 2, "index": 3,
                "groups": ["g"], "conflict": {}})
    assert req == ReceiptRequirement("a", odd=(
        "unknown key 'groups'", "unknown key 'conflict'", "specifier is not a string", "marker is not a string",
        "subdirectory is not a string", "index is not a string", "extras is not a list of strings"))
    assert _one({"name": "e", "extras": ["x", 1]}).odd == ("extras is not a list of strings",)
    assert _one({"name": "e", "extras": ["x", 1]}).extras == ()
    assert _one({"name": "u", "url": 5}) == ReceiptRequirement("u", source="url", odd=("url is not a string",))


def test_what_is_odd_is_said_in_the_same_order_every_run():
    # The first oddity is what a refused reinstall says; the keys were walked in a set's order,
    # which changes with PYTHONHASHSEED.
    req = _one({"name": "a", "virtual": 1, "git": 2, "editable": 3, "directory": 4, "path": 5, "url": 6, "index": 7,
                "subdirectory": 8, "marker": 9, "specifier": 10})
    assert req.odd[:10] == tuple(f"{k} is not a string" for k in (
        "specifier", "marker", "subdirectory", "index", "url", "path", "directory", "editable", "git", "virtual"))


def test_a_requirement_with_two_sources_is_odd():
    assert _one({"name": "b", "url": "https://h/b.zip", "path": "/b.whl"}).odd == ("more than one source: url, path",)
    assert _one({"name": "c", "git": "g", "specifier": ">1"}) == ReceiptRequirement(
        "c", specifier=">1", source="git", location="g", odd=("more than one source: git, specifier",))
    assert _one({"name": "d", "specifier": ">1"}).odd == ()


def test_a_requirement_is_shown_to_people_as_pep_508_would_write_it():
    assert ReceiptRequirement("black", ("d", "jupyter"), ">=24", "os_name == 'posix'").display() == \
        "black[d,jupyter]>=24 ; os_name == 'posix'"
    assert ReceiptRequirement("local", source="directory", location="/src/local", specifier=">1").display() == \
        "local @ /src/local"
    assert ReceiptRequirement("plain").display() == "plain"


def test_a_receipt_is_read_list_by_list():
    r = read_receipt({
        "requirements": [{"name": "tinytool"}, "helper>=1"], "constraints": [{"name": "c", "specifier": "<2"}],
        "overrides": ["o==1"], "excludes": ["x", "y"], "build-constraint-dependencies": [{"name": "setuptools"}],
        "python": "3.12", "options": {"no-index": True, "find-links": ["/w", {"a": ["b"]}]},
    })
    assert r.requirements == (ReceiptRequirement("tinytool"), ReceiptRequirement("helper", specifier=">=1"))
    assert r.constraints == (ReceiptRequirement("c", specifier="<2"),)
    assert r.overrides == (ReceiptRequirement("o", specifier="==1"),)
    assert r.excludes == ("x", "y") and r.python == "3.12" and r.odd == ()
    assert r.build_constraints == (ReceiptRequirement("setuptools"),)
    assert r.options == {"no-index": True, "find-links": ("/w", {"a": ("b",)})}
    assert isinstance(r.options, MappingProxyType) and isinstance(r.options["find-links"][1], MappingProxyType)
    with pytest.raises(TypeError):
        r.options["find-links"][1]["a"] = ()  # type: ignore[index]


def test_a_receipt_of_the_wrong_shapes_says_each_and_keeps_nothing_of_them():
    r = read_receipt({"requirements": "black", "constraints": [5, {"name": 1}, {"name": "ok"}], "overrides": {},
                      "excludes": "x", "build-constraint-dependencies": None, "python": 3.12, "options": ["no-index"],
                      "extra": True, "tool": {}})
    assert r == Receipt(constraints=(ReceiptRequirement("ok"),), odd=(
        "unknown key 'extra'", "unknown key 'tool'", "excludes is not a list of strings", "python is not a string",
        "options is not a table", "requirements is not a list", "constraints holds an entry without a name",
        "constraints holds an entry without a name", "overrides is not a list",
        "build-constraint-dependencies is not a list"))
    assert read_receipt({"excludes": ["x", 1]}).excludes == ()
    assert read_receipt({"python": None}) == Receipt()


def test_a_tool_shows_its_requirements_python_and_version(tmp_path):
    path = _tool(tmp_path, '[tool]\nrequirements = [{ name = "tinytool", specifier = ">=1" }, { name = "local", '
                           'directory = "/src/local" }]\npython = "3.11"\n'
                           'entrypoints = [{ name = "tt", install-path = "/b/tt", from = "tinytool" }]\n')
    info = path / "lib" / "python3.12" / "site-packages"
    for name, version in (("other", "9"), ("TinyTool", "1.2"), ("tinytool", "3")):
        (info / f"{name}-{version}.dist-info").mkdir(parents=True)
        (info / f"{name}-{version}.dist-info" / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    (path / "pyvenv.cfg").write_text("home = /usr/bin\n")
    tool = read_tool(path)
    assert (tool.name, tool.path, tool.requirements, tool.python_request) == (
        "tinytool", path, ("tinytool>=1", "local @ /src/local"), "3.11")
    assert tool.version in ("1.2", "3") and tool.version == next(
        d.version for d in tool.venv.packages if d.name.lower() == "tinytool")
    assert tool.entry_points == (EntryPoint("tt", Path("/b/tt"), "tinytool"),) and tool.problems == ()
    assert tool.receipt == read_receipt({"requirements": [{"name": "tinytool", "specifier": ">=1"},
                                                          {"name": "local", "directory": "/src/local"}],
                                         "python": "3.11", "entrypoints": [
                                             {"name": "tt", "install-path": "/b/tt", "from": "tinytool"}]})


def test_a_tool_without_a_receipt_is_its_environment_alone(tmp_path):
    path = _tool(tmp_path, None)
    (path / "pyvenv.cfg").write_text("home = /usr/bin\n")
    info = path / "lib" / "python3.12" / "site-packages" / "tinytool-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: tinytool\nVersion: 1.0\n")
    tool = read_tool(path)
    assert (tool.receipt, tool.requirements, tool.python_request, tool.entry_points, tool.version) == (None, (), None, (), "1.0")
    assert tool.venv.home == "/usr/bin" and tool.problems == (f"{path / 'uv-receipt.toml'}: No such file or directory",)


# -- reading a tool ----------------------------------------------------------------------------------


def _tool(tmp_path: Path, receipt: str | bytes | None, name: str = "tinytool") -> Path:
    """A tool directory holding ``receipt`` (text, bytes, or none)."""
    path = tmp_path / "tools" / name
    path.mkdir(parents=True)
    if isinstance(receipt, str):
        (path / "uv-receipt.toml").write_text(receipt, encoding="utf-8")
    elif isinstance(receipt, bytes):
        (path / "uv-receipt.toml").write_bytes(receipt)
    return path


def test_a_receipt_is_read_up_to_256_kib(tmp_path):
    head = '[tool]\nrequirements = [{ name = "tinytool" }]\n'
    big = _tool(tmp_path, head + "#" * (256 * 1024 - len(head) - 1) + "\n", "big")
    assert read_tool(big).receipt.requirements == (ReceiptRequirement("tinytool"),)
    (big / "uv-receipt.toml").write_text(head + "#" * (256 * 1024 - len(head)) + "\n")
    tool = read_tool(big)
    assert tool.receipt is None
    assert tool.problems[-1] == f"{big / 'uv-receipt.toml'}: holds 262145 bytes, more than the 262144 read from such a file"


@pytest.mark.parametrize("nested", ["[" * 3000 + "]" * 3000, "{ a = " * 3000 + "1" + " }" * 3000])
def test_a_receipt_nested_too_deeply_is_a_problem_never_a_crash(tmp_path, nested):
    # 12 kB that tomllib reads by recursion: it raised RecursionError out of read_tool, and `envtui
    # ls`, prune and the tools screen stopped with a traceback.
    path = _tool(tmp_path, f'[tool]\nrequirements = [{{ name = "tinytool" }}]\noptions = {{ x = {nested} }}\n')
    _tool(tmp_path, '[tool]\nrequirements = [{ name = "other" }]\n', "other")
    tool = read_tool(path)
    assert tool.receipt is None and tool.requirements == () and tool.entry_points == ()
    assert tool.problems[-1] == f"{path / 'uv-receipt.toml'}: nested too deeply to be read"
    assert [t.name for t in scan_tools(tmp_path / "tools")] == ["other", "tinytool"]


@pytest.mark.parametrize("value", ["5", "true", '"black"', "{ name = \"black\" }", "1.5"])
def test_entry_points_that_are_not_a_list_are_odd_never_a_crash(tmp_path, value):
    # An integer raised TypeError out of read_tool; a string was read as no entry point at all.
    tool = read_tool(_tool(tmp_path, f'[tool]\nrequirements = [{{ name = "tinytool" }}]\nentrypoints = {value}\n'))
    assert tool.entry_points == () and tool.receipt.odd == ("entrypoints is not a list",)


def test_an_entry_point_uv_would_not_have_written_makes_the_receipt_odd(tmp_path):
    # The reinstall gives back --with-executables-from by an entry point's `from`: one left out
    # or read as `None` would quietly lose a distribution's commands.
    tool = read_tool(_tool(tmp_path, '[tool]\nrequirements = [{ name = "tinytool" }, { name = "helper" }]\nentrypoints = [\n'
                                     '  { name = "a", install-path = "/b/a", from = "tinytool" },\n'
                                     '  { name = 5, install-path = "/b/x", from = "helper" }, "h", { install-path = "/b/y" },\n'
                                     '  { name = "b", install-path = 7, from = ["helper"] },\n'
                                     '  { name = "c", from = "helper", kind = "gui" },\n'
                                     '  { name = "d", install-path = "/b/d" },\n]\n'))
    assert tool.entry_points == (EntryPoint("a", Path("/b/a"), "tinytool"), EntryPoint("b", None, None),
                                 EntryPoint("c", None, "helper"), EntryPoint("d", Path("/b/d"), None))
    assert tool.receipt.entry_points == tool.entry_points
    assert tool.receipt.odd == (
        "entrypoints holds an entry without a name", "entrypoints holds an entry without a name",
        "entrypoints holds an entry without a name", "entry point 'b': install-path is not a string",
        "entry point 'b': from is not a string", "entry point 'c': unknown key 'kind'",
        "entry point 'c': install-path is not a string",
    )
    assert read_receipt({"entrypoints": [{"name": "a", "install-path": "/b/a"}]}) == Receipt(
        entry_points=(EntryPoint("a", Path("/b/a"), None),))


def test_a_receipt_that_is_not_utf8_is_a_problem_not_a_receipt_with_replaced_bytes(tmp_path):
    # uv 0.13.9 refuses it ("stream did not contain valid UTF-8"); read with replacement, the
    # directory /src/café became /src/caf\ufffd, a path the receipt never named.
    path = _tool(tmp_path, b'[tool]\nrequirements = [{ name = "tinytool", directory = "/src/caf\xe9" }]\n')
    tool = read_tool(path)
    assert tool.receipt is None and tool.requirements == ()
    assert tool.problems[-1].startswith(f"{path / 'uv-receipt.toml'}: 'utf-8' codec can't decode byte 0xe9")


@pytest.mark.parametrize("text", ["", 'tool = 5\n', '[other]\nrequirements = [{ name = "tinytool" }]\n'])
def test_a_receipt_without_a_tool_table_is_a_problem(tmp_path, text):
    path = _tool(tmp_path, text)
    tool = read_tool(path)
    assert tool.receipt is None and tool.problems[-1] == f"{path / 'uv-receipt.toml'}: no [tool] table"


# -- finding the tools -------------------------------------------------------------------------------


def test_a_tool_is_a_plain_directory_holding_a_receipt_or_an_environment(tmp_path):
    tool_dir = tmp_path / "tools"
    receipt_only = _tool(tmp_path, '[tool]\nrequirements = [{ name = "b" }]\n', "b")
    venv_only = _tool(tmp_path, None, "a")
    (venv_only / "pyvenv.cfg").write_text("home = /usr/bin\n")
    dangling = _tool(tmp_path, None, "--all")  # named like an option: listed, never given to uv as one
    (dangling / "uv-receipt.toml").symlink_to(tmp_path / "nowhere")
    _tool(tmp_path, None, "empty")  # holds neither
    hidden = _tool(tmp_path, '[tool]\n', ".hidden")
    (tool_dir / "link").symlink_to(receipt_only)  # uv 0.13.9 does not list a linked directory either
    (tool_dir / "file").write_text("")
    (tool_dir / ".lock").write_text("")
    assert hidden.exists()
    assert tool_dirs(tool_dir) == [dangling, venv_only, receipt_only]
    assert [t.path for t in scan_tools(tool_dir)] == [dangling, venv_only, receipt_only]


def test_a_missing_tool_directory_has_no_tools_and_nothing_unknown(tmp_path):
    unknown: list[str] = []
    assert scan_tools(tmp_path / "missing", unknown=unknown) == [] and unknown == []
    (tmp_path / "file").write_text("")
    assert tool_dirs(tmp_path / "file", unknown=unknown) == [] and unknown == []  # ENOTDIR: not there either


def test_a_tool_directory_that_cannot_be_listed_is_said_unknown(tmp_path, shared):
    # Its tools may run on a managed Python: the caller must not take them for none.
    loop = tmp_path / "loop"
    loop.symlink_to("loop")
    unknown: list[str] = []
    assert scan_tools(loop, unknown=unknown) == [] and tool_dirs(loop) == []
    assert unknown == [f"{loop}: Too many levels of symbolic links"]
    closed = shared / "tools"
    _tool(shared, '[tool]\n', "black")
    closed.chmod(0o700)
    assert tool_dirs(closed, unknown=unknown) == [closed / "black"]  # root may list it

    def look():
        unknown: list[str] = []
        return scan_tools(closed, unknown=unknown), tool_dirs(closed), unknown

    assert as_nobody(look) == repr(([], [], [f"{closed}: Permission denied"]))


def test_a_tool_that_cannot_be_looked_into_is_listed_with_its_problem(shared):
    # os.path.lexists said "no receipt" for a directory nobody may search: the tool was passed
    # over as if it were none, and the Python it runs on could look unused.
    closed = _tool(shared, '[tool]\nrequirements = [{ name = "black" }]\n', "black")
    (closed / "pyvenv.cfg").write_text("home = /usr/bin\n")
    closed.chmod(0o700)
    (shared / "tools").chmod(0o755)
    assert [t.problems for t in scan_tools(shared / "tools")] == [()]  # root may look into it

    def look():
        found = scan_tools(shared / "tools")
        return [(t.name, t.receipt, t.venv.home, f"{closed / 'pyvenv.cfg'}: Permission denied" in t.problems,
                 t.problems[-1]) for t in found]

    assert as_nobody(look) == repr([("black", None, None, True, f"{closed / 'uv-receipt.toml'}: Permission denied")])


def test_a_scan_stops_between_entries_and_between_tools(tmp_path, monkeypatch):
    for name in ("a", "b"):
        _tool(tmp_path, '[tool]\n', name)
    asked = []

    def stop_at(n):
        def should_stop():
            asked.append(n)
            return len(asked) >= n
        return should_stop

    with pytest.raises(ScanCancelled):
        tool_dirs(tmp_path / "tools", should_stop=stop_at(1))
    read = []
    monkeypatch.setattr(tools, "read_tool", lambda path: read.append(path))
    asked.clear()
    with pytest.raises(ScanCancelled):
        scan_tools(tmp_path / "tools", should_stop=stop_at(4))  # 2 while listing, then before each read
    assert read == [tmp_path / "tools" / "a"]
    asked.clear()
    assert len(scan_tools(tmp_path / "tools", should_stop=stop_at(5))) == 2 and len(asked) == 4
