"""The one module that runs uv: every validator and command-line builder against hostile values
(fast: no real uv; the uv these tests start is a shell script printing what real uv 0.13.9 prints)."""

from __future__ import annotations

import json
import os
import stat
import sys
import signal
from pathlib import Path

import pytest

from envtui.core import uvcli
from envtui.core.tools import Receipt, ReceiptRequirement, read_receipt, read_tool
from envtui.core.uvcli import (
    PythonInstallation,
    UvFailed,
    installed_pythons,
    installed_tools,
    python_uninstall_argv,
    requirement_text,
    run_uv,
    tool_reinstall_argv,
    tool_uninstall_argv,
    uv_error,
    uv_output,
    uv_prints,
    valid_extra,
    valid_name,
    valid_python_key,
    valid_version,
)

HOSTILE_NAMES = ["", "--all", "-x", "-", "cowsay @ file:///x", "a==1; os_name", "a==1", "é", "naïve", " a", "a ",
                 "a\n", "a\nb", "a\x1b[31m", "a\x00", "a-", "_a", "a.", "a b", "a[x]", "a;b", "a/b", "a@b", "\u202ea"]


# -- validators ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["a", "Z", "7", "ab", "A1", "a.b-c_d", "Cowsay", "zope.interface", "a--b", "a__b"])
def test_a_pep_508_name_is_valid_and_kept_as_written(name):
    assert valid_name(name) == name
    assert valid_extra(name) == name


@pytest.mark.parametrize("name", HOSTILE_NAMES + [None, 1, b"abc", ["a"]])
def test_anything_else_is_refused_in_one_line_naming_it(name):
    with pytest.raises(ValueError) as err:
        valid_name(name)
    assert str(err.value) == f"not a valid distribution name: {name!r}" and "\n" not in str(err.value)
    with pytest.raises(ValueError) as err:
        valid_extra(name)
    assert str(err.value) == f"not a valid extra name: {name!r}"
    with pytest.raises(ValueError) as err:
        valid_name(name, "tool name")
    assert str(err.value) == f"not a valid tool name: {name!r}"


def test_a_long_value_is_shortened_in_the_message():
    assert uvcli._shown("x" * 78) == repr("x" * 78)  # 80 characters: whole
    assert uvcli._shown("x" * 79) == "'" + "x" * 76 + "..."  # 81: cut to 80
    with pytest.raises(ValueError) as err:
        valid_name("-" * 500)
    assert str(err.value) == "not a valid distribution name: '" + "-" * 76 + "..."


@pytest.mark.parametrize("given, normal", [
    ("1.0", "1.0"), ("1.0.0", "1.0.0"), ("v1.0", "1.0"), ("01.02", "1.2"), ("1.0+local.7", "1.0+local.7"),
    ("2.0rc1", "2.0rc1"), ("2.0-RC1", "2.0rc1"), ("1!2.0.post3.dev4", "1!2.0.post3.dev4"), ("6.1", "6.1"),
])
def test_a_pep_440_version_is_given_in_its_normal_form(given, normal):
    assert valid_version(given) == normal


@pytest.mark.parametrize("version", ["", " 1.0", "1.0 ", "1.0\n", "\t1.0", "1.0 ; os_name", "==1.0", "1.0,>2", "abc",
                                     "1.0; os_name == 'nt'", "1.0 @ file:///x", "1.0\x1b", "１.０", None, 1.0])
def test_a_version_with_anything_else_is_refused(version):
    with pytest.raises(ValueError) as err:
        valid_version(version)
    assert str(err.value) == f"not a valid version: {version!r}"


@pytest.mark.parametrize("key", [
    "cpython-3.12.1-linux-x86_64-gnu", "cpython-3.13.0+freethreaded-linux-x86_64-gnu", "cpython-3.14.0rc1-linux-x86_64-gnu",
    "cpython-3.13.0+freethreaded+debug-linux-aarch64-musl", "pypy-3.10.14-linux-x86_64-gnu", "cpython-3.12.10-macos-aarch64-none",
    "cpython-3.12.1-linux-x86_64_v3-gnu",
])
def test_a_complete_installation_key_is_valid(key):
    assert valid_python_key(key) == key


@pytest.mark.parametrize("key", [
    "cpython-3.12-linux-x86_64-gnu", "CPython-3.12.1-linux-x86_64-gnu", "cpython-3.12.01-linux-x86_64-gnu",
    "cpython-v3.12.1-linux-x86_64-gnu", "cpython-3.12.1.0-linux-x86_64-gnu", "cpython-3.12.1post1-linux-x86_64-gnu",
    "cpython-3.12.1-linux-x86_64", "cpython-3.12.1-Linux-x86_64-gnu", "cpython-3.12.1-linux-x86_64-gnu\n",
    " cpython-3.12.1-linux-x86_64-gnu", "cpython-3.12.1-linux-x86_64-gnu-x", "cpython-3.12.1+-linux-x86_64-gnu",
    "3.12", "3.12.1", "--all", "-x", "", "cpython", "cpython@3.12.1", None,
])
def test_a_request_that_is_not_one_complete_key_is_refused(key):
    with pytest.raises(ValueError) as err:
        valid_python_key(key)
    assert str(err.value) == f"not a complete Python installation key: {key!r}"


# -- requirements -----------------------------------------------------------------------------------


def _req(name="tool", **kw) -> ReceiptRequirement:
    return ReceiptRequirement(name, **kw)


@pytest.mark.parametrize("req, text", [
    (_req(), "tool"),
    (_req(specifier="==1.0"), "tool==1.0"),
    (_req(specifier=">=1,<2"), "tool<2,>=1"),
    (_req(extras=("b", "a")), "tool[a,b]"),
    (_req(extras=("B", "a")), "tool[a,B]"),
    (_req(extras=("x",), specifier="==2.0", marker="os_name == 'posix'"), 'tool[x]==2.0; os_name == "posix"'),
    (_req(marker="python_full_version >= '3'"), 'tool; python_full_version >= "3"'),
    (_req(source="url", location="https://example.org/tool-1.0.tar.gz"), "tool @ https://example.org/tool-1.0.tar.gz"),
    (_req(source="url", location="https://example.org/t.zip", subdirectory="sub/dir"), "tool @ https://example.org/t.zip#subdirectory=sub/dir"),
    (_req(source="url", location="https://example.org/t.zip#sha256=00"), "tool @ https://example.org/t.zip#sha256=00"),
    (_req(source="path", location="/w/tool-1.0-py3-none-any.whl"), "tool @ file:///w/tool-1.0-py3-none-any.whl"),
    (_req(source="directory", location="/src/with space"), "tool @ file:///src/with%20space"),
    (_req(source="directory", location="/src/t", marker="os_name == 'posix'"), 'tool @ file:///src/t ; os_name == "posix"'),
    (_req(source="git", location="file:///repo?rev=v1"), "tool @ git+file:///repo@v1"),
    (_req(source="git", location="https://h/r?tag=v2#0123abc"), "tool @ git+https://h/r@v2"),
    (_req(source="git", location="https://h/r?branch=main&subdirectory=pkg"), "tool @ git+https://h/r@main#subdirectory=pkg"),
    (_req(source="git", location="https://h/r"), "tool @ git+https://h/r"),
    (_req(source="git", location="https://h/r?rev=X1&subdirectory=Xs"), "tool @ git+https://h/r@X1#subdirectory=Xs"),
    (_req(source="url", location="https://h/t.zip", subdirectory="sub/Xdir"), "tool @ https://h/t.zip#subdirectory=sub/Xdir"),
])
def test_a_receipt_requirement_becomes_the_pep_508_string_of_its_parts(req, text):
    assert requirement_text(req) == text


def test_an_editable_requirement_needs_the_caller_to_say_editable():
    req = _req(source="editable", location="/src/t")
    assert requirement_text(req, editable_ok=True) == "tool @ file:///src/t"
    with pytest.raises(ValueError) as err:
        requirement_text(req)
    assert str(err.value) == "requirement tool has a source envtui cannot give to uv: editable"


@pytest.mark.parametrize("req, message", [
    (_req("cowsay @ file:///x"), "not a valid distribution name: 'cowsay @ file:///x'"),
    (_req("a==1; os_name"), "not a valid distribution name: 'a==1; os_name'"),
    (_req("--all"), "not a valid distribution name: '--all'"),
    (_req(extras=("x] @ file:///y",)), "not a valid extra name: 'x] @ file:///y'"),
    (_req(extras=("",)), "not a valid extra name: ''"),
    (_req(specifier="==1; os_name == 'nt'"), "requirement tool: not a valid version specifier: \"==1; os_name == 'nt'\""),
    (_req(specifier="==1 @ file:///x"), "requirement tool: not a valid version specifier: '==1 @ file:///x'"),
    (_req(specifier=">=1\n--index-url=http://evil"), "requirement tool: not a valid version specifier: '>=1\\n--index-url=http://evil'"),
    (_req(marker="os_name == 'posix' and"), "requirement tool: not a valid marker: \"os_name == 'posix' and\""),
    (_req(marker="os_name == 'posix'; x"), "requirement tool: not a valid marker: \"os_name == 'posix'; x\""),
    (_req(index="https://private/simple"),
     "requirement tool is pinned to the index 'https://private/simple', which uv's command line cannot say"),
    (_req(source="virtual", location="/src/t"), "requirement tool has a source envtui cannot give to uv: virtual"),
    (_req(source="bogus", location="/src/t"), "requirement tool has a source envtui cannot give to uv: bogus"),
    (_req(source="url", location="https://h/a b.zip"), "not a valid URL: 'https://h/a b.zip'"),
    (_req(source="url", location="javascript:alert(1)"), "not a valid URL: 'javascript:alert(1)'"),
    (_req(source="url", location="ftp://h/t.zip"), "not a valid URL: 'ftp://h/t.zip'"),
    (_req(source="url", location="https://h/t.zip\n-r /etc/passwd"), "not a valid URL: 'https://h/t.zip\\n-r /etc/passwd'"),
    (_req(source="url", location="https://h/t.zip#sha256=00", subdirectory="a"), "requirement tool: not a valid subdirectory: 'a'"),
    (_req(source="url", location="https://h/t.zip", subdirectory="a#b"), "requirement tool: not a valid subdirectory: 'a#b'"),
    (_req(source="url", location="https://h/t.zip", subdirectory="a&b"), "requirement tool: not a valid subdirectory: 'a&b'"),
    (_req(source="url", location="https://h/t.zip", subdirectory="a b"), "requirement tool: not a valid subdirectory: 'a b'"),
    (_req(source="path", location="relative/t.whl"), "not an absolute path: 'relative/t.whl'"),
    (_req(source="path", location=""), "not a valid path: ''"),
    (_req(source="directory", location="/src/\x1b]52;c;x\x07"), "not a valid path: '/src/\\x1b]52;c;x\\x07'"),
    (_req(source="git", location="file:///repo?rev=v1&rev=v2"), "git source with several references cannot be given to uv: 'file:///repo?rev=v1&rev=v2'"),
    (_req(source="git", location="file:///repo?rev=v1&tag=v2"), "git source with several references cannot be given to uv: 'file:///repo?rev=v1&tag=v2'"),
    (_req(source="git", location="file:///repo?subdirectory=a&subdirectory=b"),
     "git source with several references cannot be given to uv: 'file:///repo?subdirectory=a&subdirectory=b'"),
    (_req(source="git", location="file:///repo?lfs=true&path=x"), "git source with lfs, path cannot be given to uv: 'file:///repo?lfs=true&path=x'"),
    (_req(source="git", location="file:///repo?rev=a@b"), "not a valid git reference or subdirectory: 'a@b'"),
    (_req(source="git", location="file:///repo?rev=a%20b"), "not a valid git reference or subdirectory: 'a b'"),
    (_req(source="git", location="file:///repo?subdirectory=a%23b"), "not a valid git reference or subdirectory: 'a#b'"),
    (_req(source="git", location="file:///repo?rev="), "not a valid git reference or subdirectory: ''"),
    (_req(source="git", location="ssh://git@h/r"), "not a valid git URL: 'ssh://git@h/r'"),
    (_req(source="directory", location="/src/t", specifier="==1"), "requirement tool: a directory source with a version or index as well"),
    (_req(source="path", location="/src/t.whl", index="http://i/simple"), "requirement tool: a path source with a version or index as well"),
    (_req("a b", odd=("unknown key 'groups'",)), "requirement 'a b': unknown key 'groups'"),
])
def test_a_requirement_envtui_cannot_pass_exactly_is_refused_saying_why(req, message):
    with pytest.raises(ValueError) as err:
        requirement_text(req)
    assert str(err.value) == message


def test_a_requirement_that_reads_back_as_another_is_refused(monkeypatch):
    class Backwards:  # what a parser would see if a part had smuggled in another
        def __init__(self, text):
            self.name, self.extras, self.specifier, self.url, self.marker = "other", set(), "", None, None

    monkeypatch.setattr(uvcli, "Requirement", Backwards)
    with pytest.raises(ValueError) as err:
        requirement_text(_req(specifier="==1"))
    assert str(err.value) == "requirement tool reads back as another requirement: 'tool==1'"


def test_a_requirement_that_does_not_parse_back_is_refused_in_one_line(monkeypatch):
    from packaging.requirements import InvalidRequirement

    def refuse(text):
        raise InvalidRequirement("two\nlines")

    monkeypatch.setattr(uvcli, "Requirement", refuse)
    with pytest.raises(ValueError) as err:
        requirement_text(_req())
    assert str(err.value) == "requirement tool does not make a valid requirement: 'tool'"


# -- uv's own words ---------------------------------------------------------------------------------


def test_uvs_reason_is_its_error_line_with_its_causes():
    lines = ["Resolved 2 packages", "error: Failed to install: tinytool-1.0", "  Caused by: not found",
             "hint: try --refresh", "warning: later"]
    assert uv_error(lines) == "error: Failed to install: tinytool-1.0 Caused by: not found"


def test_uvs_reason_follows_a_diagnostic_box():
    lines = ["  × No solution found when resolving dependencies:", "  ╰─▶ Because tinytool was not found, we can conclude",
             "      that your requirements are unsatisfiable.", "", "      hint: a hint", "Done"]
    assert uv_error(lines) == ("× No solution found when resolving dependencies: ╰─▶ Because tinytool was not found, "
                               "we can conclude that your requirements are unsatisfiable. hint: a hint")


def test_uvs_reason_keeps_what_explains_it_and_stops_at_the_next_message():
    lines = ["error: x", "hint: skipped", " one space", "Caused by: y", "next message", "  not this"]
    assert uv_error(lines) == "error: x one space Caused by: y"


def test_uvs_reason_without_an_error_line_is_its_last_line_and_is_capped():
    assert uv_error(["a", "b", "c", "  ", ""]) == "c"
    assert len(uv_error(["error: " + "y" * 1000])) == 400
    assert uv_error([]) == ""
    long = uv_error(["error: " + "x" * 1000], limit=50)
    assert len(long) == 50 and long.endswith("…")
    assert uv_error(["error: " + "x" * 43], limit=50) == "error: " + "x" * 43


# -- running uv ---------------------------------------------------------------------------------------


def _fake_uv(tmp_path: Path, stdout: str = "", stderr: str = "", code: int = 0, name: str = "uv") -> str:
    """A uv that prints ``stdout`` and ``stderr``, records its arguments, working directory and
    variables, and exits ``code``."""
    (tmp_path / f"{name}.out").write_text(stdout)
    (tmp_path / f"{name}.err").write_text(stderr)
    exe = tmp_path / name
    exe.write_text(
        f"#!{sys.executable}\nimport json, os, sys\n"
        f"json.dump({{'argv': sys.argv[1:], 'cwd': os.getcwd(), 'env': dict(os.environ)}}, open({str(tmp_path / (name + '.call'))!r}, 'w'))\n"
        f"sys.stdout.write(open({str(tmp_path / (name + '.out'))!r}).read())\n"
        f"sys.stderr.write(open({str(tmp_path / (name + '.err'))!r}).read())\n"
        f"sys.exit({code})\n"
    )
    exe.chmod(0o755)
    return str(exe)


def _call(tmp_path: Path, name: str = "uv") -> dict:
    return json.loads((tmp_path / f"{name}.call").read_text())


def test_run_uv_streams_every_line_with_the_cache_and_no_colour(tmp_path):
    uv = _fake_uv(tmp_path, "one\ntwo\n", "three\n", 3)
    lines: list[str] = []
    env = {"PATH": os.environ["PATH"], "FORCE_COLOR": "1", "KEEP": "me"}
    code = run_uv([uv, "tool", "run"], tmp_path / "cache", lines.append, env=env)
    assert code == 3 and sorted(lines) == ["one", "three", "two"]
    call = _call(tmp_path)
    assert call["argv"] == ["tool", "run"]
    assert call["env"]["UV_CACHE_DIR"] == str(tmp_path / "cache") and call["env"]["KEEP"] == "me"
    assert call["env"]["NO_COLOR"] == "1" and "FORCE_COLOR" not in call["env"] and call["env"]["UV_NO_PROGRESS"] == "1"
    assert env == {"PATH": os.environ["PATH"], "FORCE_COLOR": "1", "KEEP": "me"}  # the caller's copy is untouched


def test_run_uv_passes_lines_as_uv_wrote_them_and_undecodable_bytes_replaced(tmp_path, monkeypatch):
    # uv writes UTF-8 whatever the locale: in a Latin-1 locale (subprocess decodes text in the
    # locale's encoding unless told) 'é' read as 'Ã©', a path uv printed as another path.
    import locale

    monkeypatch.setattr(locale, "getencoding" if hasattr(locale, "getencoding") else "getpreferredencoding",
                        lambda *a: "latin-1")
    exe = tmp_path / "bytes"
    exe.write_text(f"#!{sys.executable}\nimport sys\nsys.stdout.buffer.write(b'MAX  \\nendsX\\nbad \\xff \\xc3\\xa9\\n')\n")
    exe.chmod(0o755)
    lines: list[str] = []
    assert run_uv([str(exe)], tmp_path, lines.append) == 0
    assert lines == ["MAX  ", "endsX", "bad \ufffd \u00e9"]
    assert uv_output([str(exe)], {}) == "MAX  \nendsX\nbad \ufffd \u00e9\n"


def test_uv_never_reads_envtuis_standard_input(tmp_path):
    exe = tmp_path / "reads"
    exe.write_text(f"#!{sys.executable}\nimport sys\nprint(repr(sys.stdin.read()))\n")
    exe.chmod(0o755)
    read, write = os.pipe()
    os.write(write, b"secret")
    os.close(write)
    saved = os.dup(0)
    os.dup2(read, 0)
    try:
        lines: list[str] = []
        run_uv([str(exe)], tmp_path, lines.append)
        out = uv_output([str(exe)], {})
    finally:
        os.dup2(saved, 0)
        os.close(saved)
        os.close(read)
    assert lines == ["''"] and out == "''\n"


def test_run_uv_keeps_a_progress_setting_the_caller_gave(tmp_path):
    uv = _fake_uv(tmp_path)
    run_uv([uv], tmp_path, lambda _l: None, env={"UV_NO_PROGRESS": "0"})
    assert _call(tmp_path)["env"]["UV_NO_PROGRESS"] == "0"


def test_run_uv_stops_uv_when_asked(tmp_path):
    exe = tmp_path / "slow"
    exe.write_text(f"#!{sys.executable}\nimport time\nprint('started', flush=True)\ntime.sleep(10)\nprint('late')\n")
    exe.chmod(0o755)
    lines: list[str] = []
    asked: list[str] = []
    code = run_uv([str(exe)], tmp_path, lines.append, should_stop=lambda: asked.append("asked") or True)
    assert code == -signal.SIGTERM and lines == ["started"] and asked == ["asked"]


def test_run_uv_raises_when_uv_cannot_start(tmp_path):
    with pytest.raises(OSError):
        run_uv([str(tmp_path / "missing")], tmp_path, lambda _l: None)


def test_uv_output_runs_from_the_root_and_names_uvs_error(tmp_path):
    uv = _fake_uv(tmp_path, "out\n")
    assert uv_output([uv, "x"], {"PATH": ""}) == "out\n"
    assert _call(tmp_path)["cwd"] == os.sep
    bad = _fake_uv(tmp_path, "", "warning: w\nerror: it broke\n  Caused by: this\n", 2, name="bad")
    with pytest.raises(UvFailed) as err:
        uv_output([bad, "tool", "list", "--show-paths"], {})
    assert err.value.reason == "error: it broke Caused by: this" and err.value.argv == (bad, "tool", "list", "--show-paths")
    assert str(err.value) == "tool list: error: it broke Caused by: this"
    silent = _fake_uv(tmp_path, "", "", 4, name="silent")
    with pytest.raises(UvFailed, match="exit status 4"):
        uv_output([silent], {})
    with pytest.raises(UvFailed) as err:
        uv_output([str(tmp_path / "missing")], {})
    assert "No such file or directory" in err.value.reason
    slow = tmp_path / "slow"
    slow.write_text(f"#!{sys.executable}\nimport time\ntime.sleep(3)\nprint('late')\n")
    slow.chmod(0o755)
    with pytest.raises(UvFailed, match="timed out"):
        uv_output([str(slow)], {}, timeout=0.5)


def test_uv_prints_gives_the_last_line_or_none(tmp_path):
    uv = _fake_uv(tmp_path, "warning\n/home/ada/.local/share/uv/tools\n")
    assert uv_prints(["tool", "dir"], {"KEEP": "1"}, uv) == "/home/ada/.local/share/uv/tools"
    call = _call(tmp_path)
    assert call["argv"] == ["tool", "dir"] and call["cwd"] == os.getcwd() and call["env"]["KEEP"] == "1"
    assert uv_prints(["tool", "dir"], {}, _fake_uv(tmp_path, "", name="empty")) is None
    assert uv_prints(["tool", "dir"], {}, _fake_uv(tmp_path, "x\n", "error: no\n", 1, name="fails")) is None
    assert uv_prints(["tool", "dir"], {"PATH": str(tmp_path / "nowhere")}) is None
    slow = tmp_path / "slow"
    slow.write_text(f"#!{sys.executable}\nimport time\ntime.sleep(3)\nprint('late')\n")
    slow.chmod(0o755)
    assert uv_prints(["tool", "dir"], {}, str(slow), timeout=0.5) is None
    found = tmp_path / "bin"
    found.mkdir()
    os.symlink(_fake_uv(tmp_path, "/on/path\n", name="onpath"), found / "uv")
    assert uv_prints(["python", "dir"], {"PATH": str(found)}) == "/on/path"


def test_find_uv_prefers_path_then_the_pypi_binary(tmp_path, monkeypatch):
    (tmp_path / "uv").write_text("#!/bin/sh\n")
    (tmp_path / "uv").chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    assert uvcli.find_uv() == str(tmp_path / "uv")
    monkeypatch.setenv("PATH", str(tmp_path / "none"))
    import uv as uv_package

    assert uvcli.find_uv() == uv_package.find_uv_bin()
    monkeypatch.setattr(uv_package, "find_uv_bin", lambda: (_ for _ in ()).throw(FileNotFoundError()))
    assert uvcli.find_uv() is None


# -- what uv lists ----------------------------------------------------------------------------------


def _py(key: str, path: str, **kw) -> dict:
    impl, version, *_ = key.split("-")
    item = {"key": key, "version": version.split("+")[0], "version_parts": {}, "path": path, "symlink": None, "url": None,
            "os": "linux", "variant": "default", "implementation": impl, "arch": "x86_64", "libc": "gnu"}
    item.update(kw)
    return item


def test_installed_pythons_keeps_what_uv_reports_in_the_directory(tmp_path):
    pdir = tmp_path / "py"
    for name in ("cpython-3.12.1-linux-x86_64-gnu", "cpython-3.13.0-linux-x86_64-gnu"):
        (pdir / name / "bin").mkdir(parents=True)
    os.symlink("cpython-3.12.1-linux-x86_64-gnu", pdir / "cpython-3.12-linux-x86_64-gnu")
    listed = [
        _py("cpython-3.13.0-linux-x86_64-gnu", f"{pdir}/cpython-3.13.0-linux-x86_64-gnu/bin/python3.13", symlink="python3"),
        _py("cpython-3.12.1-linux-x86_64-gnu", f"{pdir}/cpython-3.12.1-linux-x86_64-gnu/bin/python3.12", variant="freethreaded",
            symlink=5),
        _py("cpython-3.12.1-linux-x86_64-gnu", f"{pdir}/cpython-3.12-linux-x86_64-gnu/bin/python3.12"),  # a minor link
        _py("cpython-3.11.2-linux-x86_64-gnu", "/usr/bin/python3.11"),  # not managed here
        _py("cpython-3.10.0-linux-x86_64-gnu", f"{pdir}x/cpython-3.10.0-linux-x86_64-gnu/bin/python3"),  # beside, not in
        {"key": "cpython-3.9.0-linux-x86_64-gnu", "path": f"{pdir}/cpython-3.9.0-linux-x86_64-gnu/bin/python3"},  # fields missing
        _py("cpython-3.8.0-linux-x86_64-gnu", 7),
        "garbage",
    ]
    uv = _fake_uv(tmp_path, json.dumps(listed))
    found = installed_pythons(uv, pdir, {"UV_PYTHON_INSTALL_DIR": "/elsewhere", "KEEP": "1", "UV_PYTHON_PREFERENCE": "only-managed"})
    call = _call(tmp_path)
    assert "UV_PYTHON_PREFERENCE" not in call["env"]  # uv 0.13.9 refuses --managed-python beside it
    assert call["argv"] == ["python", "list", "--only-installed", "--managed-python", "--output-format", "json"]
    assert call["env"]["UV_PYTHON_INSTALL_DIR"] == str(pdir) and call["env"]["KEEP"] == "1" and call["cwd"] == os.sep
    assert found == [
        PythonInstallation("cpython-3.13.0-linux-x86_64-gnu", "3.13.0", pdir / "cpython-3.13.0-linux-x86_64-gnu/bin/python3.13",
                           "cpython", "default", "linux-x86_64-gnu", "python3", pdir / "cpython-3.13.0-linux-x86_64-gnu"),
        PythonInstallation("cpython-3.12.1-linux-x86_64-gnu", "3.12.1", pdir / "cpython-3.12.1-linux-x86_64-gnu/bin/python3.12",
                           "cpython", "freethreaded", "linux-x86_64-gnu", None, pdir / "cpython-3.12.1-linux-x86_64-gnu"),
    ]


@pytest.mark.parametrize("stdout, reason", [("not json", "printed something other than JSON"), ("", "printed something other than JSON"),
                                            ('{"key": "x"}', "printed something other than a JSON list")])
def test_installed_pythons_refuses_anything_but_a_json_list(tmp_path, stdout, reason):
    with pytest.raises(UvFailed) as err:
        installed_pythons(_fake_uv(tmp_path, stdout), tmp_path)
    assert err.value.reason == reason


def test_installed_pythons_says_why_uv_failed(tmp_path):
    with pytest.raises(UvFailed, match="error: cannot read"):
        installed_pythons(_fake_uv(tmp_path, "[]", "error: cannot read\n", 2), tmp_path)


def test_installed_tools_are_the_names_uv_prints_at_their_own_directory(tmp_path):
    tdir = tmp_path / "tools"
    out = "\n".join([
        f"black v24.1.0 ({tdir}/black)",
        f"- black ({tmp_path}/bin/black)",
        f"- blackd ({tmp_path}/bin/blackd)",
        f"zope.interface v6.0+local ({tdir}/zope.interface)",
        f"my-tool v1.0 ({tdir}/My_Tool)",  # not where uv would act for my-tool
        f"other v1.0 ({tmp_path}/elsewhere/other)",
        f"spaced v1.0 ({tdir}/spaced) extra",
        f"- --all v1.0 ({tdir}/--all)",
        "No tools installed",
        f"novers ({tdir}/novers)",
        f"tinytool v2.0 ({tdir}/tinytool)",
    ]) + "\n"
    uv = _fake_uv(tmp_path, out, "warning: Ignoring tool directory `tools/--all` with an invalid package name\n")
    assert installed_tools(uv, tdir, {"UV_TOOL_DIR": "/elsewhere", "KEEP": "1"}) == ["black", "zope.interface", "tinytool"]
    call = _call(tmp_path)
    assert call["argv"] == ["tool", "list", "--show-paths"] and call["env"]["UV_TOOL_DIR"] == str(tdir)
    assert call["env"]["KEEP"] == "1" and call["cwd"] == os.sep


def test_installed_tools_fail_with_uvs_reason(tmp_path):
    with pytest.raises(UvFailed, match="error: locked"):
        installed_tools(_fake_uv(tmp_path, "", "error: locked\n", 2), tmp_path)


# -- uninstalling a managed Python ------------------------------------------------------------------

KEY = "cpython-3.12.1-linux-x86_64-gnu"


def _installation(pdir: Path, key: str = KEY, dirname: str | None = None) -> PythonInstallation:
    directory = pdir / (dirname or key)
    return PythonInstallation(key, "3.12.1", directory / "bin" / "python3.12", "cpython", "default", "linux-x86_64-gnu",
                              None, directory)


def _pythons(tmp_path: Path, *names: str) -> Path:
    pdir = tmp_path / "py"
    pdir.mkdir(parents=True)
    for name in names:
        (pdir / name / "bin").mkdir(parents=True)
    return pdir


def test_a_python_is_uninstalled_by_its_exact_key_after_dashes(tmp_path):
    pdir = _pythons(tmp_path, KEY)
    assert python_uninstall_argv("uv", _installation(pdir), pdir) == (
        "uv", "python", "uninstall", f"--install-dir={pdir}", "--", KEY)


@pytest.mark.parametrize("other", [
    "cpython-3.12.2-linux-x86_64-gnu", "cpython-3.12.10-linux-x86_64-gnu", "cpython-3.12-linux-x86_64-gnu",
    "cpython-3.12.1+freethreaded-linux-x86_64-gnu", "cpython-3.12.1+debug-linux-x86_64-gnu",
    "cpython-3.12.1-linux-x86_64-musl", "cpython-3.12.1-linux-aarch64-gnu", "pypy-3.12.1-linux-x86_64-gnu",
    "cpython-3.12.1-linux-x86_64-gnu-extra", "cpython-3.12.1-linux-x86_64", ".cpython-3.12.1-linux-x86_64-gnu",
    ".temp", ".cache", "cpython-3.11.1-linux-x86_64-gnu", "cpython-2.12.1-linux-x86_64-gnu",
])
def test_other_installations_uv_would_not_match_do_not_stop_it(tmp_path, other):
    pdir = _pythons(tmp_path, KEY, other)
    assert python_uninstall_argv("uv", _installation(pdir), pdir)[-1] == KEY


@pytest.mark.parametrize("alias", [
    # Each of these uv 0.13.9 removes along with `uv python uninstall cpython-3.12.1-linux-x86_64-gnu`.
    "CPython-3.12.1-linux-x86_64-gnu", "CPYTHON-3.12.1-linux-x86_64-gnu", "cpython-3.12.01-linux-x86_64-gnu",
    "cpython-03.012.001-linux-x86_64-gnu", "cpython-v3.12.1-linux-x86_64-gnu", "cpython-3.12.1.0-linux-x86_64-gnu",
    "cpython-3.12.1post1-linux-x86_64-gnu",
    # and these are refused to be safe: uv's parser might take them for it too
    "cpython-3.12.1+default-linux-x86_64-gnu", "cpython-3.12.1-LINUX-x86_64-gnu", "cpython-3.12.1rc1-linux-x86_64-gnu",
])
def test_a_directory_uv_would_read_as_the_same_key_stops_it(tmp_path, alias):
    pdir = _pythons(tmp_path, KEY, alias)
    with pytest.raises(ValueError, match="too and remove it") as err:
        python_uninstall_argv("uv", _installation(pdir), pdir)
    assert repr(alias) in str(err.value)


@pytest.mark.parametrize("alias", ["cpython-3.12-linux-x86_64-gnu", "cpython-3.12.0.0.0-linux-x86_64-gnu", "cpython-3.12.00-linux-x86_64-gnu"])
def test_a_missing_patch_is_read_as_0(tmp_path, alias):
    key = "cpython-3.12.0-linux-x86_64-gnu"
    pdir = _pythons(tmp_path, key, alias)
    with pytest.raises(ValueError) as err:
        python_uninstall_argv("uv", _installation(pdir, key), pdir)
    assert str(err.value) == f"uv would read the directory {alias!r} as {key} too and remove it with it"


def test_a_file_a_link_or_a_hidden_directory_named_like_the_key_does_not_stop_it(tmp_path):
    pdir = _pythons(tmp_path, KEY, ".CPython-3.12.1-linux-x86_64-gnu")
    (pdir / "CPython-3.12.1-linux-x86_64-gnu").write_text("")
    os.symlink(KEY, pdir / "cpython-3.12.01-linux-x86_64-gnu")
    assert python_uninstall_argv("uv", _installation(pdir), pdir)[-1] == KEY


def test_a_directory_named_like_a_request_is_never_passed(tmp_path):
    """The case of the issue: a real directory `cpython-3.12-linux-x86_64-gnu` holding a 3.12.1,
    which uv reports as `cpython-3.12.1-...`: its name is a request for every 3.12."""
    pdir = _pythons(tmp_path, "cpython-3.12-linux-x86_64-gnu", "cpython-3.12.2-linux-x86_64-gnu")
    with pytest.raises(ValueError, match="uv would read its name as another request"):
        python_uninstall_argv("uv", _installation(pdir, dirname="cpython-3.12-linux-x86_64-gnu"), pdir)
    short = PythonInstallation("cpython-3.12-linux-x86_64-gnu", "3.12", pdir / "x", "cpython", "default", "linux-x86_64-gnu",
                               None, pdir / "cpython-3.12-linux-x86_64-gnu")
    with pytest.raises(ValueError, match="not a complete Python installation key"):
        python_uninstall_argv("uv", short, pdir)


@pytest.mark.parametrize("key", ["--all", "-x", "cpython-3.12.1-linux-x86_64-gnu\n--all", ""])
def test_a_hostile_key_is_refused(tmp_path, key):
    pdir = _pythons(tmp_path)
    with pytest.raises(ValueError, match="not a complete Python installation key"):
        python_uninstall_argv("uv", _installation(pdir, key=key, dirname="x"), pdir)


def test_an_installation_outside_the_directory_or_not_a_directory_is_refused(tmp_path):
    pdir = _pythons(tmp_path, KEY)
    elsewhere = _pythons(tmp_path / "other", KEY)
    with pytest.raises(ValueError, match="not in the managed Python directory"):
        python_uninstall_argv("uv", _installation(elsewhere), pdir)
    nested = PythonInstallation(KEY, "3.12.1", pdir / "x", "cpython", "default", "p", None, pdir / KEY / KEY)
    with pytest.raises(ValueError, match="not in the managed Python directory"):
        python_uninstall_argv("uv", nested, pdir)
    unmanaged = PythonInstallation(KEY, "3.12.1", Path("/usr/bin/python3"), "cpython", "default", "p", None, None)
    with pytest.raises(ValueError, match="not in the managed Python directory"):
        python_uninstall_argv("uv", unmanaged, pdir)
    gone = _pythons(tmp_path / "gone")
    with pytest.raises(ValueError, match="No such file"):
        python_uninstall_argv("uv", _installation(gone), gone)
    linked = _pythons(tmp_path / "linked", "real")
    os.symlink("real", linked / KEY)
    with pytest.raises(ValueError, match="minor-version link"):
        python_uninstall_argv("uv", _installation(linked), linked)
    filed = _pythons(tmp_path / "filed")
    (filed / KEY).write_text("")
    with pytest.raises(ValueError, match="not a directory of"):
        python_uninstall_argv("uv", _installation(filed), filed)


def test_a_relative_python_directory_is_made_absolute(tmp_path, monkeypatch):
    pdir = _pythons(tmp_path, KEY)
    monkeypatch.chdir(tmp_path)
    assert python_uninstall_argv("uv", _installation(pdir), "py")[3] == f"--install-dir={pdir}"


def test_an_unreadable_python_directory_refuses(tmp_path, monkeypatch):
    pdir = _pythons(tmp_path, KEY)

    def denied(path):
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(uvcli.os, "scandir", denied)
    with pytest.raises(ValueError) as err:
        python_uninstall_argv("uv", _installation(pdir), pdir)
    assert str(err.value) == f"{pdir}: Permission denied"


def test_loose_keys_widen_what_uv_parses():
    loose = uvcli._loose_key
    assert loose("CPython-03.12.1.7+FreeThreaded+default-Linux-X86_64-GNU") == (
        "cpython", (3, 12, 1), frozenset({"freethreaded"}), "linux-x86_64-gnu")
    assert loose("cpython-3.12-linux-x86_64-gnu")[1] == (3, 12, 0)
    assert loose("cpython-3.12.1-linux-x86_64") is None and loose("cpython-3.12.1-linux-x86_64-gnu-x") is None
    assert loose("a-b-c-d-e") == ("a", (0, 0, 0), frozenset(), "c-d-e")


# -- uninstalling a tool ----------------------------------------------------------------------------


def test_a_tool_uv_lists_is_uninstalled_after_dashes():
    assert tool_uninstall_argv("uv", "black", installed=["black", "ruff"]) == ("uv", "tool", "uninstall", "--", "black")


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_a_hostile_tool_name_is_refused_even_if_listed(name):
    with pytest.raises(ValueError) as err:
        tool_uninstall_argv("uv", name, installed=[name])
    assert str(err.value) == f"not a valid tool name: {name!r}"


def test_a_tool_uv_does_not_list_is_refused():
    with pytest.raises(ValueError) as err:
        tool_uninstall_argv("uv", "My_Tool", installed=["my-tool"])
    assert str(err.value) == "uv does not list a tool named 'My_Tool'"


# -- reinstalling a tool ------------------------------------------------------------------------------

FULL_RECEIPT = """[tool]
requirements = [
    { name = "tinytool", specifier = "==1.0" },
    { name = "helperlib", marker = "os_name == 'posix'" },
    { name = "mytool", extras = ["x"] },
    { name = "mytool", editable = "/src/mytool" },
]
constraints = [{ name = "helperlib", specifier = "==0.1" }]
overrides = [{ name = "helperlib", specifier = ">=0.1" }]
excludes = ["zzz"]
build-constraint-dependencies = [{ name = "setuptools", specifier = "<99" }]
python = "3.11"
entrypoints = [
    { name = "mytool", install-path = "/b/mytool", from = "mytool" },
    { name = "tinytool", install-path = "/b/tinytool", from = "tinytool" },
]

[tool.options]
index = [{ name = "priv", url = "http://127.0.0.1:1/simple", explicit = false, default = false, format = "simple", authenticate = "auto" }, { url = "http://127.0.0.1:4/simple?x=1", default = true }]
index-url = "http://127.0.0.1:3/simple"
extra-index-url = ["http://127.0.0.1:2/simple"]
no-index = true
find-links = ["file:///w/wheels", "/abs/dir"]
index-strategy = "unsafe-best-match"
keyring-provider = "disabled"
resolution = "lowest-direct"
prerelease = "allow"
prerelease-package = { helperlib = "allow" }
fork-strategy = "fewest"
config-settings = { a = ["b", "c"], d = "e" }
config-settings-package = { tinytool = { x = "y" } }
build-isolation = { shared-package = ["bar"] }
exclude-newer = "2026-11-30T06:21:42.379867871Z"
exclude-newer-span = "P1W"
exclude-newer-package = { helperlib = "2029-01-02T00:00:00Z", other = { timestamp = "2026-12-04T06:19:06Z", span = "P3D" } }
link-mode = "copy"
compile-bytecode = true
no-sources = true
no-sources-package = ["qq"]
no-build = false
no-build-package = ["zz"]
no-binary = true
no-binary-package = ["foo"]
torch-backend = "cpu"
"""


def _tool(tmp_path: Path, receipt: str, name: str = "tinytool"):
    path = tmp_path / "tools" / name
    path.mkdir(parents=True)
    (path / "uv-receipt.toml").write_text(receipt)
    return read_tool(path)


def test_a_reinstall_gives_back_everything_the_receipt_records(tmp_path):
    tool = _tool(tmp_path, FULL_RECEIPT)
    work = tmp_path / "work"
    work.mkdir()
    argv = tool_reinstall_argv("uv", tool, workdir=work)
    assert argv == (
        "uv", "tool", "install", "--reinstall",
        "--index=priv=http://127.0.0.1:1/simple", "--default-index=http://127.0.0.1:4/simple?x=1",
        "--index-url=http://127.0.0.1:3/simple", "--extra-index-url=http://127.0.0.1:2/simple", "--no-index",
        "--find-links=file:///w/wheels", "--find-links=/abs/dir", "--index-strategy=unsafe-best-match",
        "--keyring-provider=disabled", "--resolution=lowest-direct", "--prerelease=allow",
        "--prerelease-package=helperlib=allow", "--fork-strategy=fewest", "--config-setting=a=b", "--config-setting=a=c",
        "--config-setting=d=e", "--config-settings-package=tinytool:x=y", "--no-build-isolation-package=bar",
        "--exclude-newer=P1W", "--exclude-newer-package=helperlib=2029-01-02T00:00:00Z", "--exclude-newer-package=other=P3D",
        "--link-mode=copy", "--compile-bytecode", "--no-sources", "--no-sources-package=qq", "--build",
        "--no-build-package=zz", "--no-binary", "--no-binary-package=foo", "--torch-backend=cpu",
        "--python=3.11", '--with=helperlib; os_name == "posix"', "--with-executables-from=mytool[x]",
        "--with-editable=mytool @ file:///src/mytool",
        f"--constraints={work}/constraints.txt", f"--overrides={work}/overrides.txt",
        f"--build-constraints={work}/build-constraints.txt", f"--excludes={work}/excludes.txt",
        "--", "tinytool==1.0",
    )
    assert (work / "constraints.txt").read_text() == "helperlib==0.1\n"
    assert (work / "overrides.txt").read_text() == "helperlib>=0.1\n"
    assert (work / "build-constraints.txt").read_text() == "setuptools<99\n"
    assert (work / "excludes.txt").read_text() == "zzz\n"
    assert stat.S_IMODE((work / "constraints.txt").stat().st_mode) == 0o600


def test_a_plain_receipt_needs_no_directory(tmp_path):
    tool = _tool(tmp_path, '[tool]\nrequirements = [{ name = "tinytool" }]\n')
    assert tool_reinstall_argv("uv", tool) == ("uv", "tool", "install", "--reinstall", "--", "tinytool")


def test_an_editable_tool_is_reinstalled_editable(tmp_path):
    tool = _tool(tmp_path, '[tool]\nrequirements = [{ name = "mytool", editable = "/src/mytool" }]\n'
                 'entrypoints = [{ name = "mytool", install-path = "/b/mytool", from = "mytool" }]\n', "mytool")
    assert tool_reinstall_argv("uv", tool)[-3:] == ("--editable", "--", "mytool @ file:///src/mytool")


def test_false_options_give_their_negation_or_uvs_default(tmp_path):
    tool = _tool(tmp_path, '[tool]\nrequirements = [{ name = "tinytool" }]\n[tool.options]\ncompile-bytecode = false\n'
                 'no-index = false\nno-sources = false\nno-binary = false\nexclude-newer = false\nbuild-isolation = "isolate"\n')
    assert tool_reinstall_argv("uv", tool)[4:-2] == ("--no-compile-bytecode", "--binary", "--exclude-newer=false", "--build-isolation")
    shared = _tool(tmp_path / "s", '[tool]\nrequirements = [{ name = "tinytool" }]\n[tool.options]\nbuild-isolation = "shared"\n')
    assert tool_reinstall_argv("uv", shared)[4] == "--no-build-isolation"


def test_constraints_need_a_directory_and_never_overwrite(tmp_path):
    receipt = '[tool]\nrequirements = [{ name = "tinytool" }]\nconstraints = [{ name = "helperlib" }]\n'
    with pytest.raises(ValueError) as err:
        tool_reinstall_argv("uv", _tool(tmp_path, receipt))
    assert str(err.value) == "the receipt records constraints: a directory for its requirements file is needed"
    work = tmp_path / "work"
    work.mkdir()
    (work / "constraints.txt").symlink_to(tmp_path / "victim")
    with pytest.raises(OSError):
        tool_reinstall_argv("uv", _tool(tmp_path / "b", receipt), workdir=work)
    assert not (tmp_path / "victim").exists()


CANNOT = "cannot be given on uv's command line"
OPTION_REFUSALS = [
    ('dependency-metadata = [{ name = "a", version = "1" }]', f"the receipt's option 'dependency-metadata' {CANNOT}"),
    ('extra-build-dependencies = { a = ["b"] }', f"the receipt's option 'extra-build-dependencies' {CANNOT}"),
    ('extra-build-variables = { a = { B = "c" } }', f"the receipt's option 'extra-build-variables' {CANNOT}"),
    ('made-up = 1', f"the receipt's option 'made-up' {CANNOT}"),
    ('index-strategy = "all"', "not a valid index-strategy: 'all'"),
    ('resolution = ["highest"]', "not a valid resolution: ('highest',)"),
    ('link-mode = "--force"', "not a valid link-mode: '--force'"),
    ('no-index = "yes"', "the receipt's option no-index is not true or false: 'yes'"),
    ('no-build-package = ["--all"]', "not a valid distribution name: '--all'"),
    ('no-binary-package = "foo"', "the receipt's option no-binary-package is not a list"),
    ('find-links = "file:///w"', "the receipt's option find-links is not a list"),
    ('find-links = ["file:///w\\n--index-url=http://evil"]', "not a valid index URL: 'file:///w\\n--index-url=http://evil'"),
    ('find-links = ["relative/dir"]', "not a valid index URL: 'relative/dir'"),
    ('find-links = ["/abs/a=b"]', "not a valid index URL: '/abs/a=b'"),
    ('find-links = ["file:///with space"]', "not a valid index URL: 'file:///with space'"),
    ('extra-index-url = ["ftp://h/simple"]', "not a valid index URL: 'ftp://h/simple'"),
    ('index-url = ""', "not a valid index URL: ''"),
    ('index = [{ url = "http://h/simple", explicit = true }]', f"the receipt's index option explicit = True {CANNOT}"),
    ('index = [{ url = "http://h/simple", format = "flat" }]', f"the receipt's index option format = 'flat' {CANNOT}"),
    ('index = [{ url = "http://h/simple", authenticate = "always" }]', f"the receipt's index option authenticate = 'always' {CANNOT}"),
    ('index = [{ url = "http://h/simple", ignore-error-codes = [403] }]', f"the receipt's index option ignore-error-codes = (403,) {CANNOT}"),
    ('index = [{ name = "a=b", url = "http://h/simple" }]', "not a valid index name: 'a=b'"),
    ('index = [{ name = "-x", url = "http://h/simple" }]', "not a valid index name: '-x'"),
    ('index = [{ name = 7, url = "http://h/simple" }]', "not a valid index name: 7"),
    ('index = { url = "http://h/simple" }', "the receipt's option 'index' is not a list"),
    ('index = ["http://h/simple"]', "the receipt's option 'index' holds something other than a table"),
    ('prerelease-package = { helperlib = "sometimes" }', "not a valid prerelease: 'sometimes'"),
    ('prerelease-package = { "--all" = "allow" }', "not a valid distribution name: '--all'"),
    ('prerelease-package = ["a"]', "the receipt's option 'prerelease-package' is not a table"),
    ('exclude-newer = "yesterday"', "not a valid exclude-newer date: 'yesterday'"),
    ('exclude-newer = "2020-01-01T00:00:00Z"\nexclude-newer-span = "1 week; rm"', "not a valid exclude-newer span: '1 week; rm'"),
    ('exclude-newer-package = { a = { timestamp = "2020-01-01", other = 1 } }',
     "not a valid exclude-newer date: mappingproxy({'timestamp': '2020-01-01', 'other': 1})"),
    ('config-settings = { "a=b" = "c" }', "not a valid config setting: 'a=b'"),
    ('config-settings = { "t:x" = "c" }', "not a valid config setting: 't:x'"),
    ('config-settings = { "" = "c" }', "not a valid config setting: ''"),
    ('config-settings = { a = "b\\nc" }', "not a valid config setting value: 'b\\nc'"),
    ('config-settings = ["a"]', "the receipt's option config-settings is not a table"),
    ('config-settings-package = { tinytool = "x" }', "the receipt's option config-settings-package is not a table of tables"),
    ('config-settings-package = { "t:x" = { a = "b" } }', "not a valid distribution name: 't:x'"),
    ('build-isolation = "sometimes"', "not a valid build-isolation: 'sometimes'"),
    ('build-isolation = { shared-package = "bar" }', "not a valid build-isolation: mappingproxy({'shared-package': 'bar'})"),
    ('build-isolation = { shared-package = ["--all"] }', "not a valid distribution name: '--all'"),
    ('torch-backend = "--cpu"', "not a valid torch-backend: '--cpu'"),
]


@pytest.mark.parametrize("option, message", OPTION_REFUSALS)
def test_an_option_uvs_command_line_cannot_give_exactly_refuses_the_reinstall(tmp_path, option, message):
    tool = _tool(tmp_path, f'[tool]\nrequirements = [{{ name = "tinytool" }}]\n[tool.options]\n{option}\n')
    with pytest.raises(ValueError) as err:
        tool_reinstall_argv("uv", tool, workdir=tmp_path)
    assert str(err.value) == message


def test_every_option_is_given_in_the_receipts_order(tmp_path):
    tool = _tool(tmp_path, '[tool]\nrequirements = [{ name = "tinytool" }]\nconstraints = [{ name = "a" }, { name = "b", specifier = "<2" }]\n'
                 '[tool.options]\nno-index = true\nindex = [{ url = "http://h/simple" }]\nconfig-settings = { k = "vv" }\n'
                 'exclude-newer-package = { a = { timestamp = "2026-12-04T06:19:06Z" } }\n')
    argv = tool_reinstall_argv("uv", tool, workdir=tmp_path)
    assert argv[4:-3] == ("--no-index", "--index=http://h/simple", "--config-setting=k=vv",
                          "--exclude-newer-package=a=2026-12-04T06:19:06Z")
    assert (tmp_path / "constraints.txt").read_text() == "a\nb<2\n"


@pytest.mark.parametrize("receipt, message", [
    ("[tool]\n", "tool 'tinytool' has no requirements in its receipt: uv cannot reinstall it"),
    ('[tool]\nrequirements = [{ name = "tinytool" }]\nmade-up = 1\n', "tool 'tinytool''s receipt: unknown key 'made-up'"),
    ('[tool]\nrequirements = [{ name = "other" }]\n', "the receipt of tool 'tinytool' installs 'other', another tool"),
    ('[tool]\nrequirements = [{ name = "TinyTool" }]\n', None),  # the same name, normalized: fine
    ('[tool]\nrequirements = [{ name = "tiny_tool" }]\n', "the receipt of tool 'tinytool' installs 'tiny_tool', another tool"),
    ('[tool]\nrequirements = [{ name = "tinytool @ file:///x" }]\n', "not a valid distribution name: 'tinytool @ file:///x'"),
    ('[tool]\nrequirements = [{ name = "tinytool", virtual = "/x" }]\n', "requirement tinytool has a source envtui cannot give to uv: virtual"),
    ('[tool]\nrequirements = [{ name = "tinytool" }, { name = "--all" }]\n', "not a valid distribution name: '--all'"),
    ('[tool]\nrequirements = [{ name = "tinytool" }, { name = "x", index = "http://p/simple" }]\n',
     "requirement x is pinned to the index 'http://p/simple', which uv's command line cannot say"),
    ('[tool]\nrequirements = [{ name = "tinytool" }]\npython = "3.12\\n--no-index"\n', "not a valid Python request: '3.12\\n--no-index'"),
    ('[tool]\nrequirements = [{ name = "tinytool" }]\npython = ""\n', "not a valid Python request: ''"),
    ('[tool]\nrequirements = [{ name = "tinytool" }]\npython = "3.12\\u007f"\n', "not a valid Python request: '3.12\\x7f'"),
    ('[tool]\nrequirements = [{ name = "tinytool" }]\npython = "3.12\\u009f"\n', "not a valid Python request: '3.12\\x9f'"),
    ('[tool]\nrequirements = [{ name = "tinytool" }]\nexcludes = ["--all"]\n', "not a valid distribution name: '--all'"),
    ('[tool]\nrequirements = [{ name = "tinytool" }]\nconstraints = [{ name = "x", editable = "/x" }]\n',
     "requirement x has a source envtui cannot give to uv: editable"),
    ('[tool]\nrequirements = [{ name = "tinytool" }]\n'
     'entrypoints = [{ name = "x", install-path = "/b/x", from = "helper" }]\n', "the receipt's commands come from helper, which it does not require"),
    ('[tool]\nrequirements = [{ name = "tinytool" }]\n'
     'entrypoints = [{ name = "x", install-path = "/b/x", from = "-x" }]\n', "not a valid distribution name: '-x'"),
])
def test_a_receipt_that_cannot_be_given_back_exactly_is_refused(tmp_path, receipt, message):
    tool = _tool(tmp_path, receipt)
    if message is None:
        assert tool_reinstall_argv("uv", tool, workdir=tmp_path)[-1] == "TinyTool"
        return
    with pytest.raises(ValueError) as err:
        tool_reinstall_argv("uv", tool, workdir=tmp_path)
    assert str(err.value) == message


def test_a_python_request_may_hold_any_printable_character(tmp_path):
    tool = _tool(tmp_path, '[tool]\nrequirements = [{ name = "tinytool" }]\npython = "/opt/py\\u00a0thon"\n')
    assert tool_reinstall_argv("uv", tool)[4] == "--python=/opt/py\u00a0thon"


def test_a_tool_without_a_receipt_or_named_like_an_option_is_refused(tmp_path):
    bare = tmp_path / "tools" / "bare"
    bare.mkdir(parents=True)
    with pytest.raises(ValueError) as err:
        tool_reinstall_argv("uv", read_tool(bare))
    assert str(err.value) == "tool 'bare' has no requirements in its receipt: uv cannot reinstall it"
    with pytest.raises(ValueError) as err:
        tool_reinstall_argv("uv", _tool(tmp_path, '[tool]\nrequirements = [{ name = "all" }]\n', "--all"))
    assert str(err.value) == "not a valid tool name: '--all'"


def test_executables_from_a_requirement_named_twice_take_the_last_one(tmp_path):
    tool = _tool(tmp_path, '[tool]\nrequirements = [{ name = "tinytool" }, { name = "helper", specifier = ">=1" }, '
                 '{ name = "Helper", specifier = "==2" }]\n'
                 'entrypoints = [{ name = "h", install-path = "/b/h", from = "helper" }]\n')
    assert tool_reinstall_argv("uv", tool)[4:-2] == ("--with=helper>=1", "--with-executables-from=Helper==2")


# -- reading receipts -------------------------------------------------------------------------------


def test_a_receipt_is_read_whole_and_frozen(tmp_path):
    tool = _tool(tmp_path, FULL_RECEIPT)
    r = tool.receipt
    assert r.python == "3.11" and r.excludes == ("zzz",) and r.odd == ()
    assert r.requirements[3] == ReceiptRequirement("mytool", source="editable", location="/src/mytool")
    assert r.requirements[1].marker == "os_name == 'posix'" and r.requirements[2].extras == ("x",)
    assert r.build_constraints == (ReceiptRequirement("setuptools", specifier="<99"),)
    assert r.options["find-links"] == ("file:///w/wheels", "/abs/dir")
    assert r.options["config-settings"]["a"] == ("b", "c")
    with pytest.raises(TypeError):
        r.options["no-index"] = False  # type: ignore[index]
    assert tool.requirements == ("tinytool==1.0", "helperlib ; os_name == 'posix'", "mytool[x]", "mytool @ /src/mytool")


def test_odd_receipts_are_read_saying_what_is_odd():
    r = read_receipt({
        "requirements": ["black[d]>=24; os_name == 'posix'", "cowsay @ file:///x", "not a requirement!", {"nameless": 1},
                         {"name": "a", "extras": "x", "specifier": 1, "groups": ["g"]},
                         {"name": "b", "url": "https://h/b.zip", "path": "/b.whl"}, {"name": "c", "git": "g", "specifier": ">1"}],
        "constraints": "x", "excludes": [1], "python": 3, "options": [], "extra": True,
    })
    black, cowsay, bad, a, b, c = r.requirements
    assert black == ReceiptRequirement("black", ("d",), ">=24", 'os_name == "posix"')
    assert (cowsay.source, cowsay.location) == ("url", "file:///x")
    assert bad.odd and bad.odd[0].startswith("not a requirement")
    assert set(a.odd) == {"unknown key 'groups'", "specifier is not a string", "extras is not a list of strings"}
    assert b.odd == ("more than one source: url, path",) and c.odd == ("more than one source: git, specifier",)
    assert r.python is None and r.excludes == () and dict(r.options) == {}
    assert set(r.odd) == {"unknown key 'extra'", "requirements holds an entry without a name", "constraints is not a list",
                          "excludes is not a list of strings", "python is not a string", "options is not a table"}


def test_an_empty_receipt_is_empty():
    assert read_receipt({}) == Receipt()


def test_requirement_files_are_utf_8_whatever_the_locale(tmp_path):
    # uv reads a constraints file as UTF-8: written in the locale's encoding (ASCII under LC_ALL=C
    # with Python's UTF-8 mode off) a path with an accent failed, or in Latin-1 named another path.
    import subprocess

    work = tmp_path / "work"
    work.mkdir()
    code = ("import sys; from pathlib import Path; from envtui.core import uvcli; "
            "uvcli._spill(Path(sys.argv[1]), 'constraints', ['helperlib @ file:///src/caf\\u00e9'])")
    env = {**os.environ, "LC_ALL": "C", "LANG": "C", "PYTHONUTF8": "0", "PYTHONCOERCECLOCALE": "0"}
    proc = subprocess.run([sys.executable, "-c", code, str(work)], capture_output=True, text=True, env=env, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert (work / "constraints.txt").read_bytes() == "helperlib @ file:///src/café\n".encode()
