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


def test_the_tui_starts_its_walk_before_importing_the_rest():
    """`envtui` (no subcommand) parses its options without importing a subcommand's module, and
    the disk walk it starts first needs neither the inventory nor prune nor Textual: on two cores
    the walk then runs while they are imported."""
    code = (
        "import sys\n"
        "from envtui.cli import parse_args\n"
        "from envtui.commands.common import location\n"
        "from envtui.tui import _start_walk\n"
        "args = parse_args(['--cache-dir', sys.argv[1]])\n"
        "early = _start_walk(location(args).path)\n"
        "print(args.command, sorted(m for m in sys.modules if m.startswith(('envtui.commands.', 'envtui.core.inventory',"
        " 'envtui.core.prune', 'envtui.core.environments', 'textual'))))\n"
    )
    out = subprocess.run([sys.executable, "-c", code, "/nonexistent-envtui-cache"], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "None ['envtui.commands.common']", out.stdout


def test_subcommands_typos_and_help_still_go_through_the_whole_parser():
    from envtui.cli import parse_args

    assert parse_args(["--cache-dir", "x"]).command is None
    assert parse_args(["--cache-dir", "ls"]).command is None  # an option's value that names a command
    assert parse_args(["ls", "--json"]).command == "ls"
    assert parse_args(["--roots", "/r", "prune", "--dangling"]).command == "prune"
    for argv in (["lss"], ["--no-such-option"], ["-h"]):
        out = subprocess.run([sys.executable, "-m", "envtui", *argv], capture_output=True, text=True)
        assert (out.returncode, argv) == (0 if argv == ["-h"] else 2, argv)
        assert ("invalid choice: 'lss'" in out.stderr) if argv == ["lss"] else True
        assert "COMMAND ..." in out.stdout + out.stderr, out.stdout + out.stderr  # the whole usage
