"""The one way the command line takes a plan to an exit code (envtui/commands/deletion.py), called
in-process: the plan shown in full before anything is asked or deleted, a declined plan, a failed
deletion and a failed uv uninstall exit 1, no terminal and no --yes exits 2, each entry's outcome
said as it happened (never "deleted" for one that was not), text from disk escaped. And the values
``envtui prune`` takes (envtui/commands/prune.py's argument types, the parser, its help)."""

from __future__ import annotations

import argparse
import io
import json
import os
import re
import sys
from pathlib import Path

import pytest

from envtui.cli import build_parser
from envtui.commands import deletion, prune
from envtui.commands.deletion import exit_code, plan_text, plan_to_json, result_text, result_to_json, run_plan
from envtui.core.errors import CacheError
from envtui.core.locks import ProcessInfo
from envtui.core.prune import CacheBusy, PruneResult
from envtui.core.prune.machine import plan_outside, plan_project_envs
from envtui.core.prune.maxsize import Holder, SizeTarget
from envtui.core.prune.records import CACHE, TOOLS, Kind, Plan, PlanEntry, Skipped, UvCommand

ESC = "\x1b"

SCRIPT = PlanEntry(Kind.SCRIPT_ENV, Path("/c/environments-v2/hello-1"), (Path("/c/environments-v2/hello-1"),),
                   "hello.py", ("older than 30 days", "orphan"), last_used=1_700_000_000.0, bytes_alone=4096,
                   bytes_with_plan=8192)
TOOL = PlanEntry(Kind.TOOL, Path("/t/black"), (Path("/t/black"),), f"black{ESC}]52;c;eA==\x07", ("asked for",),
                 bytes_alone=4096, bytes_with_plan=4096,
                 command=UvCommand(("uv", "tool", "uninstall", "--", "black"), (("UV_TOOL_DIR", "/t"),)))
IN_USE = Skipped(Path("/c/environments-v2/x"), Kind.SCRIPT_ENV, "in use by a running process",
                 (ProcessInfo(9, f"python {ESC}[2Jx.py", "its working directory is inside"),))
MAYBE = Skipped(Path("/c/environments-v2/y"), Kind.SCRIPT_ENV, "may be in use",
                (ProcessInfo(11, "python", "cannot be inspected", uncertain=True),))


def _plan(**kw) -> Plan:
    fields = dict(root=Path("/c"), entries=(SCRIPT, TOOL), skipped=(IN_USE,), bytes_freed=12288, apparent_freed=10000,
                  exclusive=True)
    fields.update(kw)
    return Plan(**fields)


def _result(plan: Plan, *, deleted=(), skipped=(), errors=(), cancelled=False, measure="walk") -> PruneResult:
    return PruneResult(plan, tuple(deleted), (*plan.skipped, *skipped), tuple(errors), 8192, 4096, plan.exclusive,
                       cancelled, measure)


# -- what is shown -----------------------------------------------------------------------------------


def test_the_plan_text_says_everything_and_escapes_what_came_from_disk():
    plan = _plan(exclusive=False, lock_holders=(ProcessInfo(7, f"uv run {ESC}[2J x.py"),), skipped=(IN_USE, MAYBE),
                 size_target=SizeTarget(10000, 30000, 17712, (Holder("archive-v0", 7712, "kept"),)),
                 notes=(f"a note\x07{ESC}[1m",), unreadable=(("/c/a/x", "Permission denied"), ("/c/a/y", "Permission denied")))
    assert plan_text(plan) == "\n".join([
        "uv is running (it holds the cache lock); entries it may be writing are skipped:",
        "  pid 7: uv run \\x1b[2J x.py",
        "2 entries to delete, freeing 12.0 KiB (12288 bytes):",
        "  script environment     8.0 KiB  hello.py  [older than 30 days; orphan]",
        "      /c/environments-v2/hello-1",
        "  tool                   4.0 KiB  black\\x1b]52;c;eA==\\x07  [asked for]",
        "      /t/black",
        "      through: uv tool uninstall -- black",
        "  (per entry: bytes freed together with the rest of the plan; shared files count for each entry)",
        "2 skipped:",
        "  script environment  /c/environments-v2/x",
        "      in use by a running process",
        "        pid 9: python \\x1b[2Jx.py (its working directory is inside)",
        "  script environment  /c/environments-v2/y",
        "      may be in use",
        "        pid 11: python (cannot be inspected)",
        "max-size 9.8 KiB (10000 bytes): the cache goes from 29.3 KiB (30000 bytes) to 17.3 KiB (17712 bytes): "
        "7.5 KiB (7712 bytes) over the target, which this plan cannot reach. What holds the rest:",
        "  archive-v0          7.5 KiB (7712 bytes)  kept",
        "note: a note\\x07\\x1b[1m",
        "not exact: 2 paths inside the plan could not be read (e.g. /c/a/x: Permission denied); the bytes above "
        "leave them out",
    ])


def test_a_plain_plan_says_only_what_applies():
    entry = PlanEntry(Kind.ARCHIVE, Path("/c/archive-v0/a"), (Path("/c/archive-v0/a"),), "a 1.0", ("unreferenced",),
                      bytes_alone=1000, bytes_with_plan=1000)
    plan = _plan(entries=(entry,), skipped=(), bytes_freed=1000, exclusive=False, unreadable=(("/c/z", "EIO"),))
    assert plan_text(plan) == "\n".join([
        "uv is running (it holds the cache lock); entries it may be writing are skipped:",
        "  (processes not visible to this user)",
        "1 entry to delete, freeing 1000 Bytes (1000 bytes):",
        "  archive entry       1000 Bytes  a 1.0  [unreferenced]",
        "      /c/archive-v0/a",
        "not exact: 1 path inside the plan could not be read (e.g. /c/z: EIO); the bytes above leave them out",
    ])
    assert plan_text(_plan(entries=(), skipped=())) == "0 entries to delete, freeing 12.0 KiB (12288 bytes):"


def test_the_plan_as_json_has_every_field():
    plan = _plan(exclusive=False, lock_holders=(ProcessInfo(7, "uv run x.py", "holds the lock"),), skipped=(IN_USE, MAYBE),
                 cache_bytes=30000, size_target=SizeTarget(10000, 30000, 17712, (Holder("archive-v0", 7712, "kept"),)),
                 notes=("n",), unreadable=(("/c/a/x", "Permission denied"),), scope=TOOLS, roots=(Path("/t"),))
    assert plan_to_json(plan) == {
        "scope": TOOLS, "cache_dir": "/c", "roots": ["/t"], "bytes_freed": 12288, "apparent_freed": 10000,
        "cache_bytes": 30000, "exclusive": False,
        "lock_holders": [{"pid": 7, "cmdline": "uv run x.py", "why": "holds the lock", "uncertain": False}],
        "entries": [
            {"kind": "script environment", "path": "/c/environments-v2/hello-1", "paths": ["/c/environments-v2/hello-1"],
             "label": "hello.py", "reasons": ["older than 30 days", "orphan"], "last_used": 1_700_000_000.0,
             "bytes_alone": 4096, "bytes_with_plan": 8192, "command": None},
            {"kind": "tool", "path": "/t/black", "paths": ["/t/black"], "label": TOOL.label, "reasons": ["asked for"],
             "last_used": None, "bytes_alone": 4096, "bytes_with_plan": 4096,
             "command": ["uv", "tool", "uninstall", "--", "black"]},
        ],
        "skipped": [
            {"kind": "script environment", "path": "/c/environments-v2/x", "reason": "in use by a running process",
             "processes": [{"pid": 9, "cmdline": f"python {ESC}[2Jx.py", "why": "its working directory is inside",
                            "uncertain": False}]},
            {"kind": "script environment", "path": "/c/environments-v2/y", "reason": "may be in use",
             "processes": [{"pid": 11, "cmdline": "python", "why": "cannot be inspected", "uncertain": True}]},
        ],
        "size_target": {"limit": 10000, "before": 30000, "after": 17712, "reached": False,
                        "held": [{"name": "archive-v0", "bytes": 7712, "why": "kept"}]},
        "notes": ["n"], "bytes_exact": False, "unreadable": [{"path": "/c/a/x", "error": "Permission denied"}],
    }
    plain = plan_to_json(_plan(skipped=()))
    assert plain["size_target"] is None and plain["bytes_exact"] is True and plain["unreadable"] == []
    assert plain["scope"] == CACHE and plain["roots"] == [] and plain["lock_holders"] == [] and plain["skipped"] == []
    assert json.loads(json.dumps(plan_to_json(plan))) == plan_to_json(plan)  # what --json prints reads back


def test_what_a_run_did_is_said_entry_by_entry_and_as_json():
    plan = _plan()
    late = Skipped(Path("/c/environments-v2/hello-1"), Kind.SCRIPT_ENV, f"its lock {ESC}x is held")
    result = _result(plan, deleted=[TOOL], skipped=[late], errors=[(Path("/t/x\nz"), "uv exited with status 2")],
                     cancelled=True)
    assert result_text(result) == "\n".join([
        "Deleted 1 of 2 entries.",
        "Freed 4.0 KiB (4096 bytes) measured (counted while deleting), 8.0 KiB (8192 bytes) predicted.",
        "  skipped /c/environments-v2/hello-1: its lock \\x1bx is held",
        "  FAILED /t/x\\x0az: uv exited with status 2",
        "Stopped early.",
    ])
    assert result_text(_result(plan, deleted=[SCRIPT, TOOL], measure="statvfs")) == (
        "Deleted 2 of 2 entries.\nFreed 4.0 KiB (4096 bytes) measured (filesystem free space), 8.0 KiB (8192 bytes) predicted.")
    doc = result_to_json(result)
    assert {k: doc[k] for k in ("deleted", "errors", "predicted_bytes", "measured_bytes", "measure", "exclusive",
                                "cancelled", "complete")} == {
        "deleted": ["/t/black"], "errors": [{"path": "/t/x\nz", "error": "uv exited with status 2"}],
        "predicted_bytes": 8192, "measured_bytes": 4096, "measure": "walk", "exclusive": True, "cancelled": True,
        "complete": False}
    assert [s["path"] for s in doc["skipped"]] == ["/c/environments-v2/x", "/c/environments-v2/hello-1"]
    assert doc["skipped"][1] == {"kind": "script environment", "path": "/c/environments-v2/hello-1",
                                 "reason": f"its lock {ESC}x is held", "processes": []}
    assert doc["entries"] == plan_to_json(plan)["entries"] and doc["scope"] == CACHE
    # Whether uv's lock was held throughout is the run's, not the plan's.
    ran = PruneResult(_plan(exclusive=False), (), (), (), 0, 0, True)
    assert plan_to_json(ran.plan)["exclusive"] is False and result_to_json(ran)["exclusive"] is True


@pytest.mark.parametrize("deleted, skipped, errors, cancelled, code", [
    ((SCRIPT, TOOL), (), (), False, 0),
    ((SCRIPT,), (), ((TOOL.path, "uv exited with status 1"),), False, 1),  # a failed uv uninstall
    ((SCRIPT,), (Skipped(TOOL.path, Kind.TOOL, "in use"),), (), False, 1),  # skipped while running
    ((SCRIPT, TOOL), (), (), True, 1),
    ((SCRIPT, TOOL), (), ((Path("/x"), "left"),), False, 1),
])
def test_exit_1_whenever_anything_planned_did_not_happen(deleted, skipped, errors, cancelled, code):
    assert exit_code(_result(_plan(), deleted=deleted, skipped=skipped, errors=errors, cancelled=cancelled)) == code


# -- run_plan ------------------------------------------------------------------------------------------


def _args(**kw) -> argparse.Namespace:
    return argparse.Namespace(**{"dry_run": False, "yes": False, "json": False, "ignore_uninspectable": False, **kw})


class _Terminal(io.StringIO):
    def __init__(self, tty: bool) -> None:
        super().__init__()
        self.tty = tty

    def isatty(self) -> bool:
        return self.tty


@pytest.fixture
def runs(monkeypatch):
    """``execute_plan`` recorded instead of run; what it returns is ``runs.result``."""
    calls = []

    class Runs(list):
        result = None

    runs = Runs()

    def execute(plan, **kw):
        calls.append((plan, kw))
        return runs.result if runs.result is not None else _result(plan, deleted=plan.entries)

    monkeypatch.setattr(deletion, "execute_plan", execute)
    runs.calls = calls
    return runs


def _terminal(monkeypatch, tty: bool, answers=()) -> list[str]:
    asked = []
    monkeypatch.setattr(sys, "stdin", _Terminal(tty))
    replies = iter(answers)

    def ask(question):
        asked.append(question)
        return next(replies)

    monkeypatch.setattr(deletion, "ask", ask)
    return asked


def test_a_dry_run_or_an_empty_plan_shows_the_plan_and_deletes_nothing(runs, capsys, monkeypatch):
    _terminal(monkeypatch, False)
    plan = _plan()
    assert run_plan(_args(dry_run=True, yes=True), plan) == 0
    assert capsys.readouterr().out == plan_text(plan) + "\n"
    empty = _plan(entries=())
    assert run_plan(_args(), empty) == 0  # nothing to ask about, even without a terminal
    assert capsys.readouterr().out == plan_text(empty) + "\n"
    assert run_plan(_args(dry_run=True, json=True), plan) == 0
    assert capsys.readouterr().out == json.dumps(plan_to_json(plan), indent=2) + "\n"
    docs: dict = {}
    assert run_plan(_args(dry_run=True, json=True), plan, docs=docs, key="tools") == 0
    assert docs == {"tools": plan_to_json(plan)} and capsys.readouterr().out == ""
    assert runs.calls == []


def test_without_a_terminal_and_without_yes_nothing_is_asked_or_deleted_and_exit_is_2(runs, capsys, monkeypatch):
    asked = _terminal(monkeypatch, False)
    assert run_plan(_args(), _plan()) == 2
    out = capsys.readouterr()
    assert out.err == "envtui: not a terminal: pass --yes to delete, or --dry-run to see the plan\n" and out.out == ""
    assert asked == [] and runs.calls == []


def test_a_declined_plan_is_shown_first_deletes_nothing_and_exits_1(runs, capsys, monkeypatch):
    asked = _terminal(monkeypatch, True, [False])
    plan = _plan()
    assert run_plan(_args(), plan) == 1
    assert capsys.readouterr().out == plan_text(plan) + "\nNothing deleted.\n"
    assert asked == ["Delete 2 entries, freeing 12.0 KiB (12288 bytes)? [y/N] "] and runs.calls == []
    _terminal(monkeypatch, True, [False])
    assert run_plan(_args(json=True), plan) == 1
    out = capsys.readouterr()
    assert out.err == plan_text(plan) + "\n"  # read before the answer, stdout left to JSON


def test_an_accepted_plan_runs_exactly_as_shown_and_says_what_happened(runs, capsys, monkeypatch):
    asked = _terminal(monkeypatch, True, [True])
    plan = _plan(entries=(SCRIPT,))
    runs.result = _result(plan, deleted=[SCRIPT])
    assert run_plan(_args(ignore_uninspectable=True), plan, wait=2.0, measure="statvfs") == 0
    assert asked == ["Delete 1 entry, freeing 12.0 KiB (12288 bytes)? [y/N] "]
    [(ran, kw)] = runs.calls
    assert ran is plan and kw == {"on_step": deletion._step, "on_line": deletion._uv_line, "ignore_uncertain": True,
                                  "wait": 2.0, "measure": "statvfs"}
    assert capsys.readouterr().out == plan_text(plan) + "\n" + result_text(runs.result) + "\n"


def test_with_yes_the_plan_is_still_shown_and_json_says_the_result(runs, capsys, monkeypatch):
    asked = _terminal(monkeypatch, False)
    plan = _plan()
    runs.result = _result(plan, deleted=[SCRIPT], errors=[(TOOL.path, "uv exited with status 2")])
    assert run_plan(_args(yes=True), plan) == 1  # a failed uv uninstall
    assert capsys.readouterr().out == plan_text(plan) + "\n" + result_text(runs.result) + "\n" and asked == []
    assert run_plan(_args(yes=True, json=True), plan) == 1
    out = capsys.readouterr()
    assert json.loads(out.out) == result_to_json(runs.result) and out.err == ""
    assert runs.calls[-1][1]["on_step"] is None and runs.calls[-1][1]["ignore_uncertain"] is False
    docs: dict = {"before": 1}
    assert run_plan(_args(yes=True, json=True), plan, docs=docs, key="k") == 1
    assert docs == {"before": 1, "k": result_to_json(runs.result)} and capsys.readouterr().out == ""


def test_a_busy_cache_exits_3_and_a_cache_error_2(monkeypatch, capsys):
    _terminal(monkeypatch, False)

    def busy(plan, **kw):
        raise CacheBusy(Path("/c"), (ProcessInfo(5, "uv sync"),))

    monkeypatch.setattr(deletion, "execute_plan", busy)
    assert run_plan(_args(yes=True), _plan()) == 3
    assert capsys.readouterr().err.endswith(
        "envtui: uv's cache lock is held by pid 5: uv sync; pass --wait SECONDS or --skip-in-use\n")

    def broken(plan, **kw):
        raise CacheError(Path("/c"), "not a uv cache")

    monkeypatch.setattr(deletion, "execute_plan", broken)
    assert run_plan(_args(yes=True), _plan()) == 2
    assert capsys.readouterr().err == "envtui: /c: not a uv cache\n"


def _venv(path: Path) -> Path:
    (path / "lib").mkdir(parents=True)
    (path / "pyvenv.cfg").write_text("home = /usr/bin\n")
    (path / "lib" / "x").write_bytes(b"x" * 5000)
    return path


def test_a_deletion_that_fails_is_said_failed_never_deleted_and_exits_1(tmp_path, capsys, monkeypatch):
    _terminal(monkeypatch, False)
    root = tmp_path / "root"
    good, bad = _venv(root / "good" / ".venv"), _venv(root / "bad" / ".venv")
    plan = plan_project_envs([(good, "good"), (bad, "bad")], [root])
    import envtui.core.prune.remover as remover

    unlink = os.unlink

    def refuse(path, *, dir_fd=None):
        if path == "pyvenv.cfg" and dir_fd is not None and os.readlink(f"/proc/self/fd/{dir_fd}") == str(bad):
            raise PermissionError(13, "Permission denied", path)
        return unlink(path, dir_fd=dir_fd)

    monkeypatch.setattr(remover.os, "unlink", refuse)
    assert run_plan(_args(yes=True), plan) == 1
    out = capsys.readouterr()
    assert out.err.splitlines() == [f"[1/2] deleted {good}", f"[2/2] FAILED (pyvenv.cfg: Permission denied) {bad}"]
    assert "Deleted 1 of 2 entries." in out.out and f"  FAILED {bad}: pyvenv.cfg: Permission denied" in out.out
    assert not good.exists() and (bad / "pyvenv.cfg").exists()


def test_a_uv_uninstall_that_fails_or_removes_nothing_exits_1_and_says_why(tmp_path, capsys, monkeypatch):
    _terminal(monkeypatch, False)
    tools = tmp_path / "tools"
    a, b = (_venv(tools / n) for n in ("a", "b"))
    for t in (a, b):
        (t / "uv-receipt.toml").write_text("[tool]\n")
    uv = tmp_path / "uv"
    uv.write_text('#!/bin/sh\nif [ "$1" = a ]; then echo "error: \033[31mno\033[0m" >&2; exit 2; fi\necho "Uninstalled $1"\n')
    uv.chmod(0o755)
    entries = [PlanEntry(Kind.TOOL, t, (t,), t.name, ("asked for",), uses=(t,), command=UvCommand((str(uv), t.name)))
               for t in (a, b)]
    assert run_plan(_args(yes=True), plan_outside(TOOLS, [tools], entries)) == 1
    err = capsys.readouterr().err.splitlines()
    assert err == ["  uv: error: \\x1b[31mno\\x1b[0m",
                   f"[1/2] FAILED (uv exited with status 2: error: \\x1b[31mno\\x1b[0m) {a}",
                   "  uv: Uninstalled b",
                   f"[2/2] FAILED (uv exited 0, but {b} is still there) {b}"]


def test_the_step_line_names_what_happened(capsys):
    from envtui.core.prune.executor import DELETED, SKIPPED, Step

    deletion._step(Step(1, 3, SCRIPT, DELETED))
    deletion._step(Step(2, 3, TOOL, SKIPPED, "its lock\nis held"))
    deletion._uv_line(f"Removed {ESC}[2J")
    assert capsys.readouterr().err == (
        "[1/3] deleted /c/environments-v2/hello-1\n[2/3] SKIPPED (its lock\\x0ais held) /t/black\n  uv: Removed \\x1b[2J\n")


# -- the values prune takes ----------------------------------------------------------------------------


def test_numbers_are_finite_and_not_negative():
    assert prune.days_argument("1.5") == 1.5 and prune.days_argument("0") == 0.0 and prune.seconds_argument("30") == 30.0
    assert prune.count_argument("3") == 3 and prune.count_argument("0") == 0
    for func, text, says in [
        (prune.days_argument, "-5", "'-5' is negative"), (prune.seconds_argument, "-0.5", "'-0.5' is negative"),
        (prune.days_argument, "nan", "not a finite number: 'nan'"), (prune.seconds_argument, "-inf", "not a finite number: '-inf'"),
        (prune.days_argument, "ten", "not a number: 'ten'"), (prune.count_argument, "-1", "'-1' is negative"),
        (prune.count_argument, "2.5", "not a whole number: '2.5'"), (prune.count_argument, "0x10", "not a whole number: '0x10'"),
        (prune.count_argument, "a", "not a whole number: 'a'"),
        (prune.size_argument, "5X", "not a size: '5X' (e.g. 500M, 5G, 2GiB)"),
        (prune.package_argument, "", "not a valid package name: ''"),
        (prune.package_argument, "-x", "not a valid package name: '-x'"),
    ]:
        with pytest.raises(argparse.ArgumentTypeError) as err:
            func(text)
        assert str(err.value) == says, (func, text)
    assert prune.size_argument("2K") == 2000 and prune.size_argument("2KiB") == 2048 and prune.size_argument("0") == 0
    assert prune.package_argument("Tabulate_Extras.x") == "Tabulate_Extras.x"


def _parse(*argv: str) -> argparse.Namespace:
    return build_parser().parse_args(["prune", *argv])


def test_every_flag_of_prune_parses_to_what_the_command_reads():
    args = _parse()
    assert {k: v for k, v in vars(args).items() if k not in ("run", "demo", "print_path")} == {
        "command": "prune", "unreferenced": False, "dangling": False, "orphans": False, "older_than": None,
        "keep_latest": None, "max_size": None, "interpreters": False, "package": [], "dry_run": False, "json": False,
        "yes": False, "wait": 0.0, "skip_in_use": False, "ignore_uninspectable": False, "measure": "walk",
        "project_env": [], "unused_pythons": False, "tool": []}
    args = _parse("--unreferenced", "--dangling", "--orphans", "--older-than", "30", "--keep-latest", "2",
                  "--max-size", "1K", "--interpreters", "--package", "a", "--package", "b", "--dry-run", "--json",
                  "-y", "--wait", "1.5", "--skip-in-use", "--ignore-uninspectable", "--measure", "statvfs",
                  "--project-env", "p1", "--project-env", "p2", "--unused-pythons", "--tool", "black", "--tool", "ruff")
    assert {k: v for k, v in vars(args).items() if k not in ("run", "command", "demo", "print_path")} == {
        "unreferenced": True, "dangling": True, "orphans": True, "older_than": 30.0, "keep_latest": 2, "max_size": 1000,
        "interpreters": True, "package": ["a", "b"], "dry_run": True, "json": True, "yes": True, "wait": 1.5,
        "skip_in_use": True, "ignore_uninspectable": True, "measure": "statvfs", "project_env": ["p1", "p2"],
        "unused_pythons": True, "tool": ["black", "ruff"]}
    assert args.run is prune.run and _parse("--yes").yes is True


def test_the_policies_are_what_the_flags_say():
    from envtui.core.prune import Policies

    assert prune.policies_from(_parse()) == Policies() and not prune.policies_from(_parse()).any()
    assert prune.policies_from(_parse("--unreferenced", "--dangling", "--orphans", "--older-than", "7", "--keep-latest",
                                      "2", "--max-size", "5G", "--interpreters")) == Policies(
        unreferenced=True, dangling=True, orphans=True, older_than_days=7.0, keep_latest=2, max_size=5_000_000_000,
        interpreters=True)
    for flag, field, value in [("--unreferenced", "unreferenced", True), ("--dangling", "dangling", True),
                               ("--keep-latest=0", "keep_latest", 0), ("--max-size=0", "max_size", 0)]:
        assert prune.policies_from(_parse(flag)) == Policies(**{field: value})


@pytest.mark.parametrize("argv, says", [
    (["--older-than", "-1"], "argument --older-than: '-1' is negative"),
    (["--keep-latest", "x"], "argument --keep-latest: not a whole number: 'x'"),
    (["--max-size", "5X"], "argument --max-size: not a size: '5X'"),
    (["--wait", "nan"], "argument --wait: not a finite number: 'nan'"),
    (["--package", "a b"], "argument --package: not a valid package name: 'a b'"),
    (["--tool", "--all"], "argument --tool: expected one argument"),
    (["--tool=--all"], "argument --tool: not a valid package name: '--all'"),
    (["--measure", "du"], "argument --measure: invalid choice: 'du'"),
])
def test_a_value_no_policy_can_mean_is_refused_with_one_line_and_exit_2(argv, says, capsys):
    with pytest.raises(SystemExit) as done:
        _parse(*argv)
    assert done.value.code == 2 and says in capsys.readouterr().err


HELP = Path(__file__).with_name("prune_help.txt")


def _fold(text: str) -> str:
    """Whitespace folded (argparse wraps by the terminal's width, and Python releases differ in
    how), without the options every command shares (envtui/cli.py's, not prune's)."""
    text = re.sub(r"\s+", " ", text).strip().replace(" [--cache-dir DIR] [--roots DIR]", "")
    return re.sub(r" --cache-dir DIR .*?(?= policies:)", "", text)


def test_the_help_of_prune_is_what_users_read(monkeypatch, capsys):
    """``envtui prune --help`` (and prune's line in ``envtui --help``) as committed in
    tests/core/prune_help.txt. A change meant to the help: write the new text there
    (``COLUMNS=100 envtui prune --help``, then prune's line of ``envtui --help``)."""
    monkeypatch.setenv("COLUMNS", "100")
    for argv in (["prune", "--help"], ["--help"]):
        with pytest.raises(SystemExit):
            build_parser().parse_args(argv)
    out = capsys.readouterr().out
    text = out.split("usage: envtui [-h]")[0]
    line = next(x for x in out.splitlines() if x.strip().startswith("prune "))
    assert _fold(text + "\n" + line) == _fold(HELP.read_text()), "the help changed: see this test's docstring"
