"""Input is refused, not interpreted; exit 1 whenever anything planned did not happen. ``envtui
prune`` run as a user runs it, over a copy of a cache real uv made."""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.integration


def envtui(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "envtui", *args], capture_output=True, text=True, timeout=120,
                          input=stdin)


@pytest.mark.parametrize("flag, value, says", [
    ("--keep-latest", "-100", "'-100' is negative"),
    ("--keep-latest", "2.5", "not a whole number: '2.5'"),
    ("--keep-latest", "many", "not a whole number: 'many'"),
    ("--older-than", "-5", "'-5' is negative"),
    ("--older-than", "nan", "not a finite number: 'nan'"),
    ("--older-than", "inf", "not a finite number: 'inf'"),
    ("--older-than", "1e999", "not a finite number: '1e999'"),
    ("--older-than", "ten", "not a number: 'ten'"),
    ("--max-size", "-5G", "not a size: '-5G'"),
    ("--max-size", "5X", "not a size: '5X'"),
    ("--max-size", "99999999999999999999E", "more than any filesystem holds"),
    ("--max-size", "\u0665G", "not a size"),  # an Arabic-Indic digit: not a size uv or du would read
    ("--wait", "-1", "'-1' is negative"),
    ("--package", "", "not a valid package name: ''"),
    ("--package", "tabulate extras", "not a valid package name"),
    ("--package", "-x", "not a valid package name: '-x'"),
    ("--package", "../../etc", "not a valid package name"),
    ("--tool", "--all", "not a valid package name: '--all'"),
    ("--tool", "", "not a valid package name: ''"),
])
def test_a_value_no_policy_can_mean_is_refused_with_one_line_and_exit_2(real_cache_copy, flag, value, says):
    before = sorted(p.name for p in real_cache_copy.root.iterdir())
    proc = envtui("prune", "--cache-dir", str(real_cache_copy.root), f"{flag}={value}", "--yes")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert says in proc.stderr and proc.stdout == ""
    assert proc.stderr.strip().splitlines()[-1].startswith("envtui prune: error: argument")
    assert sorted(p.name for p in real_cache_copy.root.iterdir()) == before


def test_zero_is_a_policy_value_where_it_means_something(real_cache_copy):
    for flag in ("--keep-latest=0", "--older-than=0", "--max-size=0", "--wait=0"):
        proc = envtui("prune", "--cache-dir", str(real_cache_copy.root), flag, "--dry-run", "--json",
                      *(["--unreferenced"] if flag == "--wait=0" else []))
        assert proc.returncode == 0, (flag, proc.stderr)
        json.loads(proc.stdout)


def test_a_declined_plan_exits_1_and_deletes_nothing(real_cache_copy):
    env_dir = next((real_cache_copy.root / "environments-v2").iterdir())
    proc = subprocess.run(
        ["script", "-qec", f"{sys.executable} -m envtui prune --cache-dir {real_cache_copy.root} --older-than 0", "/dev/null"],
        input="n\n", capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1, proc.stdout
    assert "Nothing deleted." in proc.stdout and env_dir.exists()


def test_without_a_terminal_and_without_yes_nothing_is_asked_and_exit_is_2(real_cache_copy):
    proc = envtui("prune", "--cache-dir", str(real_cache_copy.root), "--older-than", "0", stdin="y\n")
    assert proc.returncode == 2 and "not a terminal" in proc.stderr


def test_an_entry_skipped_while_running_makes_exit_1_and_its_line_says_so(real_cache_copy, monkeypatch):
    """A script environment whose own lock a uv takes between the plan and the run: skipped, and
    the run is not complete (exit 1), never "deleted"."""
    from envtui.commands import deletion

    envs = [p for p in (real_cache_copy.root / "environments-v2").iterdir() if (p / "pyvenv.cfg").exists()]
    target = envs[0]
    (target / ".lock").touch()
    fd = os.open(target / ".lock", os.O_RDONLY)
    try:
        real_execute = deletion.execute_plan

        def lock_then_run(plan, **kw):
            fcntl.flock(fd, fcntl.LOCK_EX)  # a uv starts writing it after the plan was shown
            return real_execute(plan, **kw)

        monkeypatch.setattr(deletion, "execute_plan", lock_then_run)
        from envtui.cli import main

        code = main(["prune", "--cache-dir", str(real_cache_copy.root), "--older-than", "0", "--yes"])
    finally:
        os.close(fd)
    assert code == 1 and target.exists() and (target / "pyvenv.cfg").exists()


def test_each_line_of_progress_says_what_happened_to_its_entry(real_cache_copy, capsys):
    from envtui.cli import main

    envs = sorted(p for p in (real_cache_copy.root / "environments-v2").iterdir() if (p / "pyvenv.cfg").exists())
    code = main(["prune", "--cache-dir", str(real_cache_copy.root), "--older-than", "0", "--yes"])
    err = capsys.readouterr().err
    assert code == 0
    progress = [line for line in err.splitlines() if line.startswith("[")]
    assert progress and all(" deleted " in line for line in progress)
    assert any(str(envs[0]) in line for line in progress)
