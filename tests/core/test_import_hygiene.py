"""The cache core and the demo builders import neither Textual nor Rich (checked in a fresh interpreter)."""

from __future__ import annotations

import pkgutil
import subprocess
import sys

import envtui.core
import envtui.demo


def test_core_modules_load_no_ui_library():
    modules = ["envtui.core"] + [f"envtui.core.{m.name}" for m in pkgutil.iter_modules(envtui.core.__path__)]
    modules += ["envtui.demo"] + [f"envtui.demo.{m.name}" for m in pkgutil.iter_modules(envtui.demo.__path__)]
    assert len(modules) > 5 and "envtui.demo.synthetic" in modules
    code = (
        "import importlib, sys\n"
        f"for m in {modules!r}: importlib.import_module(m)\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('textual', 'rich'))\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"envtui.core pulled in: {out.stdout.strip()}"


def test_commands_without_tui_load_no_ui_library():
    # `envtui ls` and `envtui path` must work without paying for Textual's import.
    code = "import sys; from envtui.cli import build_parser; build_parser(); print('textual' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
