"""Shared fixtures: real uv caches built offline."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.uvcache import UvCache, find_pythons, standard_wheels


@pytest.fixture(autouse=True)
def _private_state_dir(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """envtui's state (settings, the saved disk index) in a fresh directory per test, never the
    user's; a test may point ENVTUI_STATE_DIR elsewhere."""
    monkeypatch.setenv("ENVTUI_STATE_DIR", str(tmp_path_factory.mktemp("envtui-state")))


@pytest.fixture(scope="session")
def pythons() -> list[str]:
    """Distinct CPython executables on this machine (at least the running one)."""
    return find_pythons()


@pytest.fixture(scope="session")
def wheelhouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory of locally built wheels (see ``standard_wheels``)."""
    return standard_wheels(tmp_path_factory.mktemp("wheelhouse"))


@pytest.fixture
def uv_cache(tmp_path: Path, wheelhouse: Path, monkeypatch: pytest.MonkeyPatch) -> UvCache:
    """An empty uv cache in ``tmp_path/cache``, with a work directory for scripts."""
    work = tmp_path / "work"
    work.mkdir()
    state = tmp_path / "envtui-state"
    monkeypatch.setenv("ENVTUI_STATE_DIR", str(state))
    return UvCache(root=tmp_path / "cache", workdir=work, wheelhouse=wheelhouse)


class RealCache:
    """A cache that real uv filled: scripts (one per interpreter, one with spaces and non-ASCII in
    its path, one with a dependency), and cached tool environments (tinytool 1.0 and 2.0, with and
    without ``--with helperlib``, bigtool)."""

    def __init__(self, cache: UvCache, pythons: list[str]) -> None:
        self.cache = cache
        self.pythons = pythons
        self.scripts: list[Path] = []
        for i, py in enumerate(pythons[:3]):
            script = cache.write_script(f"scripts/s{i}.py")
            cache.run_script(script, python=py)
            self.scripts.append(script)
        odd = cache.write_script("dir with space/héllo wörld.py")
        cache.run_script(odd, python=pythons[0])
        self.scripts.append(odd)
        dep = cache.write_script("proj/uses_helper.py", deps=("helperlib",))
        cache.run_script(dep, python=pythons[0])
        self.scripts.append(dep)
        cache.uvx("tinytool==1.0", python=pythons[0])
        cache.uvx("tinytool==2.0", python=pythons[-1])
        cache.uvx("tinytool", python=pythons[0], with_=("helperlib",))
        cache.uvx("bigtool", python=pythons[0])

    @property
    def root(self) -> Path:
        return self.cache.root


@pytest.fixture(scope="session")
def _real_cache_template(tmp_path_factory: pytest.TempPathFactory, wheelhouse: Path, pythons: list[str]) -> RealCache:
    base = tmp_path_factory.mktemp("realcache")
    work = base / "work"
    work.mkdir()
    return RealCache(UvCache(root=base / "cache", workdir=work, wheelhouse=wheelhouse), pythons)


@pytest.fixture(scope="session")
def real_cache(_real_cache_template: RealCache) -> RealCache:
    """A read-only cache made by real uv, shared by the session. Tests must not change it: use
    ``real_cache_copy`` to mutate."""
    return _real_cache_template


@pytest.fixture
def real_cache_copy(_real_cache_template: RealCache, tmp_path: Path) -> RealCache:
    """A private copy of ``real_cache`` (``cp -a``: hardlinks inside the cache are kept; script
    paths and interpreters are the same as the template's)."""
    dest = tmp_path / "cache"
    subprocess.run(["cp", "-a", str(_real_cache_template.root), str(dest)], check=True)
    clone = object.__new__(RealCache)
    clone.cache = UvCache(root=dest, workdir=_real_cache_template.cache.workdir, wheelhouse=_real_cache_template.cache.wheelhouse)
    clone.pythons = _real_cache_template.pythons
    clone.scripts = list(_real_cache_template.scripts)
    return clone
