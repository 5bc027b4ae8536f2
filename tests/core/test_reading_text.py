"""Text read out of a cache never reaches the terminal raw: escape sequences in a wheel's METADATA,
newlines and escapes in directory names, shown as visible escapes by every command."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from envtui.core.text import printable, printable_tree

OSC52 = "\x1b]52;c;ZWNobyBwd25lZA==\x07"  # writes the clipboard when printed raw
CLEAR = "\x1b[2J"
CSI8 = "\x9b2J"  # the 8-bit CSI an old terminal reads as ESC [


def envtui(*args: str) -> subprocess.CompletedProcess:
    try:
        return subprocess.run([sys.executable, "-m", "envtui", *args], capture_output=True, timeout=60, input=b"",
                              env={**os.environ, "PYTHONIOENCODING": "utf-8"})
    except subprocess.TimeoutExpired:
        pytest.fail(f"envtui {' '.join(args)} hung")


def raw_controls(data: bytes) -> set[int]:
    """Control bytes in ``data`` a terminal would act on (newline and tab aside), and the UTF-8
    encoding of C1 controls."""
    text = data.decode("utf-8", "surrogateescape")
    return {ord(c) for c in text if (ord(c) < 0x20 and c not in "\n\t") or 0x7F <= ord(c) <= 0x9F}


@pytest.fixture
def hostile_cache(real_cache_copy):
    """The real cache with tinytool's METADATA rewritten to carry escapes in Name, Version and
    Summary, and a script environment whose directory name holds an escape and a newline."""
    root = real_cache_copy.root
    meta = next(root.glob("archive-v0/*/lib/python*/site-packages/tinytool-*.dist-info/METADATA"))
    meta.unlink()  # a new inode: the wheel's own unpacked copy stays as it was
    meta.write_text(f"Metadata-Version: 2.1\nName: tiny{OSC52}tool\nVersion: 1.0{CLEAR}\nSummary: {CLEAR}{CSI8}x\n",
                    "utf-8")
    evil = root / "environments-v2" / f"ev{CLEAR}il\nline-0123456789abcdef"
    evil.mkdir()
    (evil / "pyvenv.cfg").write_text(f"home = /nowhere{CLEAR}\nversion_info = 3.12.0\nprompt = p{OSC52}\n", "utf-8")
    return root, meta, evil


def test_ls_text_and_json_carry_no_raw_escape(hostile_cache):
    root, meta, evil = hostile_cache
    out = envtui("ls", "--cache-dir", str(root))
    assert out.returncode == 0, out.stderr
    assert not raw_controls(out.stdout) and not raw_controls(out.stderr)
    text = out.stdout.decode()
    assert "tiny\\x1b]52;c;ZWNobyBwd25lZA==\\x07tool 1.0\\x1b[2J" in text  # shown, visibly
    assert "ev\\x1b[2Jil\\x0aline-0123456789abcdef" in text  # one line, not two
    out = envtui("ls", "--json", "--cache-dir", str(root))
    assert b"\x1b" not in out.stdout and not raw_controls(out.stdout)
    doc = json.loads(out.stdout)  # valid JSON, the escapes escaped (\u001b) and the data exact
    names = {p["name"] for e in doc["environments"] for p in e["packages"]}
    assert f"tiny{OSC52}tool" in names
    assert str(evil) in {e["path"] for e in doc["environments"]}


def test_prune_plan_and_errors_carry_no_raw_escape(hostile_cache):
    root, meta, evil = hostile_cache
    out = envtui("prune", "--dry-run", "--older-than", "0", "--orphans", "--cache-dir", str(root))
    assert out.returncode == 0, out.stderr
    assert not raw_controls(out.stdout) and not raw_controls(out.stderr)
    assert "\\x1b" in out.stdout.decode()  # the hostile entries are in the plan, escaped
    out = envtui("prune", "--dry-run", "--json", "--older-than", "0", "--cache-dir", str(root))
    assert not raw_controls(out.stdout)
    assert str(evil) in {e["path"] for e in json.loads(out.stdout)["entries"]}


def test_messages_naming_hostile_paths_are_escaped(tmp_path):
    missing = tmp_path / f"no{CLEAR}such\ncache"
    for args in (("ls",), ("prune", "--dry-run", "--unreferenced"), ("rebuild", "x")):
        out = envtui(*args, "--cache-dir", str(missing))
        assert out.returncode == 2 and not raw_controls(out.stderr)
        assert len(out.stderr.strip().splitlines()) == 1 and b"no\\x1b[2Jsuch\\x0acache" in out.stderr
    out = envtui("path", f"s{CLEAR}.py", "--cache-dir", str(tmp_path))
    assert not raw_controls(out.stderr) and not raw_controls(out.stdout)


def test_non_utf8_name_is_shown_as_its_bytes(real_cache_copy):
    root = real_cache_copy.root
    bad = os.path.join(os.fsencode(root / "environments-v2"), b"caf\xe9\x9b-0123456789abcdef")
    os.mkdir(bad)
    with open(os.path.join(bad, b"pyvenv.cfg"), "wb") as fh:
        fh.write(b"home = /nowhere\nversion_info = 3.12.0\n")
    out = envtui("ls", "--cache-dir", str(root))
    assert out.returncode == 0
    assert b"caf\\xe9\\x9b-0123456789abcdef" in out.stdout and b"\x9b" not in out.stdout


@pytest.mark.parametrize("raw, shown", [
    ("plain text, ünïcode ✓", "plain text, ünïcode ✓"),
    ("a\x1bb", "a\\x1bb"),
    ("\x00\x07\x08\x7f", "\\x00\\x07\\x08\\x7f"),
    ("c1 \x85\x9b", "c1 \\x85\\x9b"),
    ("tab\there\nnewline", "tab\\x09here\\x0anewline"),
    ("bidi \u202egnp.exe", "bidi \\u202egnp.exe"),
    ("line\u2028sep", "line\\u2028sep"),
    ("byte \udce9", "byte \\xe9"),
])
def test_printable(raw, shown):
    assert printable(raw) == shown
    assert printable(shown) == shown  # an escape shown stays as it is


def test_printable_multiline_keeps_tab_and_newline_only():
    assert printable("a\tb\nc\x1b[2J\r", multiline=True) == "a\tb\nc\\x1b[2J\\x0d"


def test_printable_tree():
    doc = {"k\x1b": ["v\x1b", ("t\n",), 3, None, {"n": 1.5}]}
    assert printable_tree(doc) == {"k\\x1b": ["v\\x1b", ("t\\x0a",), 3, None, {"n": 1.5}]}
