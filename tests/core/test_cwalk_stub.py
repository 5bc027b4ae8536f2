"""The C walker's type stub (``_cwalk.pyi``, what mypy reads in place of the extension) names what
the built extension has, with the same parameters, and the pure-Python ``InodeTable`` has the same
methods: a stub that drifted from ``_cwalk.c`` would let mypy pass calls that fail at run time."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import pytest

from envtui.core.disk import walk as walk_mod

STUB = Path(walk_mod.__file__).with_name("_cwalk.pyi")


def _stub_names() -> dict[str, list[str]]:
    """``{"function": [parameters]}`` and ``{"InodeTable.method": [parameters]}`` of the stub."""
    out: dict[str, list[str]] = {}
    for node in ast.parse(STUB.read_text()).body:
        if isinstance(node, ast.FunctionDef):
            out[node.name] = [a.arg for a in node.args.args]
        elif isinstance(node, ast.ClassDef):
            for item in node.body:
                if isinstance(item, ast.FunctionDef):
                    out[f"{node.name}.{item.name}"] = [a.arg for a in item.args.args]
    return out


def test_the_stub_names_the_walkers_and_their_parameters():
    names = _stub_names()
    assert {"list_links", "classify", "InodeTable.walk_unit", "InodeTable.walk_units", "InodeTable.find",
            "InodeTable.arrays", "InodeTable.trust_dino", "InodeTable.mismatches"} <= set(names)
    assert names["InodeTable.walk_unit"] == ["self", "members", "mark", "should_stop"]
    assert names["list_links"] == ["top", "should_stop"]


@pytest.mark.skipif(walk_mod._cwalk is None, reason="the C walker is not built (no compiler at install)")
def test_the_built_extension_has_what_the_stub_says():
    native = walk_mod._cwalk
    for name, params in _stub_names().items():
        owner, _, attr = name.rpartition(".")
        obj = getattr(native.InodeTable if owner else native, attr, None)
        assert obj is not None, f"_cwalk.pyi names {name}, which _cwalk.c does not define"
        if attr.startswith("__"):
            continue  # the C type's __init__ and __len__ take (*args, **kwargs)
        try:
            signature = inspect.signature(obj)  # from the "name(args)\n--\n\n" docstrings
        except (TypeError, ValueError):
            continue  # a property, or a default inspect cannot read (walk_units' budget=inf)
        assert [p for p in signature.parameters if p != "self"] == [p for p in params if p != "self"], name


def test_the_pure_table_has_the_stubs_methods():
    for name in _stub_names():
        owner, _, attr = name.rpartition(".")
        if owner == "InodeTable":
            assert hasattr(walk_mod.InodeTable(), attr), name
