"""Shared by the reliability tests: envtui's state kept per test."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _own_state_dir(tmp_path, monkeypatch):
    """envtui remembers scripts in its state directory: keep each test's apart (and off $HOME)."""
    monkeypatch.setenv("ENVTUI_STATE_DIR", str(tmp_path / "envtui-state"))

