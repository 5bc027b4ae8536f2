"""Naming a cached environment's tool from its distributions' Requires-Dist (no uv needed)."""

from __future__ import annotations

from envtui.core.environments import Distribution, _tool_of


def _d(name: str, *requires: str, script: bool = True) -> Distribution:
    return Distribution(name, "1.0", (name,) if script else (), None, requires)


def test_the_root_with_a_command_wins_over_a_dependency_with_one():
    # uvx --with requests pycowsay: charset-normalizer has a command but requests requires it.
    pkgs = [_d("charset-normalizer"), _d("idna", script=False), _d("pycowsay"),
            _d("requests", "charset_normalizer<4,>=2", "idna>=2.5", "PySocks!=1.5.7; extra == 'socks'", script=False)]
    assert _tool_of(pkgs, "3.12.1") == "pycowsay"


def test_markers_are_evaluated_for_the_environments_python():
    # Required only on Python < 3.9: in a 3.12 environment, dep stands alone as a root.
    pkgs = [_d("aaa"), _d("zzz", 'aaa; python_version < "3.9"')]
    assert _tool_of(pkgs, "3.12.1") == "aaa"
    assert _tool_of(pkgs, "3.8.10") == "zzz"


def test_a_dependency_behind_an_extra_is_still_a_dependency():
    pkgs = [_d("aaa"), _d("zzz", 'aaa; extra == "cli"')]
    assert _tool_of(pkgs, "3.12.1") == "zzz"


def test_without_any_root_with_a_command_any_command_names_it():
    assert _tool_of([_d("lib", script=False), _d("cmd", "lib")], None) == "cmd"
    assert _tool_of([_d("a", "b"), _d("b", "a")], None) == "a"  # a cycle: no root at all
    assert _tool_of([_d("lib", script=False)], None) is None
