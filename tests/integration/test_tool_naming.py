"""A cached environment is named after the tool it was made from: the root of its installed
dependency graph that provides a command, not any distribution with an entry point. The case of
`uvx --with requests pycowsay`, which envtui called "idna", rebuilt offline with local wheels:
`tool` requires `dep`, and both provide a command named after themselves."""

from __future__ import annotations

import pytest

from envtui.core import CacheLocation, Policies, plan_prune, scan_inventory
from envtui.core.rebuild import rebuild, recipe_for
from envtui.demo.wheels import make_wheel
from tests.uvcache import UvCache

pytestmark = pytest.mark.integration


@pytest.fixture
def cache(tmp_path, monkeypatch) -> UvCache:
    monkeypatch.setenv("ENVTUI_STATE_DIR", str(tmp_path / "state"))
    house = tmp_path / "wheels"
    make_wheel(house, "dep", "1.0")
    for version in ("1.0", "2.0"):
        # The marker is true on every Python 3: evaluated, it keeps dep a dependency of tool.
        make_wheel(house, "tool", version, requires=('dep; python_version >= "3"', 'absent; python_version < "3"'))
    work = tmp_path / "work"
    work.mkdir()
    return UvCache(root=tmp_path / "cache", workdir=work, wheelhouse=house)


def _cached(c: UvCache):
    inv = scan_inventory(CacheLocation(c.root, "--cache-dir"))
    return inv, [e for e in inv.environments if e.kind == "cached"]


def test_with_a_dependency_that_has_a_command_the_environment_is_named_after_the_tool(cache):
    cache.uvx("tool==1.0", with_=("dep",))
    _, [env] = _cached(cache)
    assert {p.name for p in env.packages} == {"tool", "dep"}
    assert env.tool == "tool"


def test_keep_latest_groups_by_the_tool(cache):
    cache.uvx("tool==1.0", with_=("dep",))
    cache.uvx("tool==2.0", with_=("dep",))
    cache.uvx("dep")  # dep's own environment: a tool of its own, the latest (only) one
    inv, envs = _cached(cache)
    assert sorted(e.tool for e in envs) == ["dep", "tool", "tool"]
    plan = plan_prune(inv, Policies(keep_latest=1), exclusive=True)
    older = min((e for e in envs if e.tool == "tool"), key=lambda e: e.modified or 0)
    assert [e.path for e in plan.entries] == [older.path]


def test_rebuild_installs_from_the_tool_and_finds_the_same_key(cache):
    cache.uvx("tool==1.0", with_=("dep",))
    inv, [env] = _cached(cache)
    recipe = recipe_for(env, cache.uv)
    i = recipe.argv.index("--from")
    assert recipe.argv[i + 1] == "tool==1.0" and recipe.argv[i + 2:i + 4] == ("--with", "dep==1.0")
    result = rebuild(inv, env, lambda _line: None, uv=cache.uv, env=cache.env)
    assert result.ok, result.message
    _, [again] = _cached(cache)
    assert again.key == env.key and again.tool == "tool"
