"""Installed tools as envtui reads them (envtui/core/tools.py): where uv keeps them, what a receipt
records, and what a hostile or damaged tool directory makes of it: a problem or an odd receipt,
never a crash, a hang, or a value uv would read otherwise than the receipt says (fast: tool
directories and receipts made by hand; uv is a stand-in)."""

from __future__ import annotations

import importlib
import os
from pathlib import Path

import pytest

tools = importlib.import_module("envtui.core.tools")
from envtui.core.tools import EntryPoint, Receipt, ReceiptRequirement, locate_tool_dir, read_receipt, read_tool, scan_tools


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
