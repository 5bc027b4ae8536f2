"""uv's cache_digest in Python, checked against fixed vectors and against what uv itself creates."""

from __future__ import annotations

import os

import pytest

from envtui.core.digest import (
    PathKey,
    Some,
    absolute_path,
    cache_digest,
    cache_name,
    file_stem,
    script_environment_name,
)
from envtui.core.interpreters import current_shard, interpreter_key


def test_design_example():
    # docs/uv-cache.md's worked example, verified with uv.
    assert script_environment_name("/home/ada/scripts/hello.py") == "hello-3365d0324796ffbf"


def test_diffuse_vectors_through_one_word():
    # Hashing differs for every change of byte, length and chunking boundary.
    seen = {cache_digest(PathKey(b"/" + b"a" * n)) for n in range(1, 40)}
    assert len(seen) == 39
    assert all(len(d) == 16 and int(d, 16) >= 0 for d in seen)


def test_path_hash_skips_dot_components_and_separators():
    a = cache_digest(PathKey(b"/home/ada/x.py"))
    assert cache_digest(PathKey(b"/home//ada/./x.py")) == a
    assert cache_digest(PathKey(b"/home/ada/x.py/")) == a
    # `..` is hashed as it is, not collapsed.
    assert cache_digest(PathKey(b"/home/ada/../ada/x.py")) != a
    # Component boundaries matter even where the bytes are the same.
    assert cache_digest(PathKey(b"/ab/c")) != cache_digest(PathKey(b"/a/bc"))


def test_str_and_option_encodings_differ_from_paths():
    assert cache_digest("abc") != cache_digest(PathKey(b"abc"))
    assert cache_digest((PathKey(b"/x"), None)) != cache_digest((PathKey(b"/x"), Some(PathKey(b"/x"))))
    with pytest.raises(TypeError):
        cache_digest(3.5)


@pytest.mark.parametrize(
    "name, expected",
    [("foo", "foo"), ("foo_bar", "foo-bar"), ("foo-_bar_baz_", "foo-bar-baz"), ("_+-_", None), ("héllo", "h-llo"),
     ("Hello World", "hello-world"), ("deadbeef", "deadbeef"), ("", None)],
)
def test_cache_name(name, expected):
    # uv's own unit tests (crates/uv-cache-key/src/digest.rs) plus the non-ASCII case.
    assert cache_name(name) == expected


def test_cache_name_truncation():
    assert len(cache_name("a" * 300, 100)) == 100
    assert len(cache_name("abcdef" * 50, 100)) == 100
    assert cache_name("aaaa_bbbb", 5) == "aaaa"


@pytest.mark.parametrize(
    "name, stem",
    [(b"x.py", b"x"), (b"a.b.py", b"a.b"), (b".hidden", b".hidden"), (b"noext", b"noext"), (b"..", None), (b".x.py", b".x")],
)
def test_file_stem_like_rust(name, stem):
    assert file_stem(name) == stem


def test_absolute_path_keeps_dotdot():
    assert absolute_path("a/../b.py", cwd="/w") == b"/w/a/../b.py"
    assert absolute_path("./b.py", cwd="/w/") == b"/w/b.py"


def test_interpreter_shard_and_key_of_this_host(real_cache):
    shards = {p.name for p in real_cache.root.glob("interpreter-v*/*")}
    assert shards == {current_shard()}
    keys = {p.stem for p in real_cache.root.glob("interpreter-v*/*/*.msgpack")}
    for py in real_cache.pythons:
        assert interpreter_key(py, os.path.realpath(py)) in keys


ODD_NAMES = [
    "with space/script one.py",
    "ünïcödé/naïve café.py",
    "dots/v1.2.3.script.py",
    "dots/.hidden.py",
    "a/../dotdot/up.py",
    "UPPER/MiXeD_Name.py",
    "digits/0123abcd.py",
    "symbols/#weird$name!.py",
]


def test_script_digest_matches_uv(uv_cache):
    """For each odd script path, envtui's environment name equals the one uv creates."""
    (uv_cache.workdir / "a").mkdir()  # so that `a/../` resolves
    for rel in ODD_NAMES:
        target = uv_cache.workdir / os.path.normpath(rel)
        uv_cache.write_script(os.path.normpath(rel))
        # uv is given the path as written (with `..` kept), relative to its working directory.
        uv_cache.run("sync", "--script", rel)
        expected = script_environment_name(rel, cwd=str(uv_cache.workdir))
        assert (uv_cache.root / "environments-v2" / expected / "pyvenv.cfg").exists(), (rel, expected, sorted(
            p.name for p in (uv_cache.root / "environments-v2").iterdir()))
        assert target.exists()
    made = {p.name for p in (uv_cache.root / "environments-v2").iterdir()}
    assert made == {script_environment_name(r, cwd=str(uv_cache.workdir)) for r in ODD_NAMES}
