"""The one way the command line takes a plan to an exit code, whatever it deletes (cache entries,
project environments, managed Pythons, tools): the plan shown in full (or as JSON), ``--dry-run``
stops there, a question (``--yes`` skips it), the same plan run by
:func:`~envtui.core.prune.execute_plan` (checked again right before), each entry's outcome as it
happens, then what was freed, measured against what was predicted.

Exit codes: 0 when everything the plan listed was deleted (or a dry run, or nothing to do); 1 when
anything planned did not happen (declined, skipped while running, failed, stopped); 2 when there
is no terminal to ask on and no ``--yes``.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from ..core.errors import CacheError
from ..core.prune import CacheBusy, Plan, PruneResult, execute_plan
from ..core.prune.executor import DELETED, Step
from ..core.text import printable
from ..format import size
from .common import ask, fail, size_bytes

__all__ = ["EXIT_BUSY", "EXIT_OK", "EXIT_PROBLEM", "EXIT_USAGE", "exit_code", "plan_text", "plan_to_json",
           "result_text", "result_to_json", "run_plan"]

EXIT_OK, EXIT_PROBLEM, EXIT_USAGE, EXIT_BUSY = 0, 1, 2, 3


def _entries(n: int) -> str:
    return f"{n} entr{'y' if n == 1 else 'ies'}"


def exit_code(result: PruneResult) -> int:
    """0 when everything the plan listed was deleted, else 1 (see the module docstring)."""
    return EXIT_OK if result.complete else EXIT_PROBLEM


def _processes(items) -> list[dict[str, Any]]:
    return [{"pid": p.pid, "cmdline": p.cmdline, "why": p.why, "uncertain": p.uncertain} for p in items]


def _skipped(items) -> list[dict[str, Any]]:
    return [{"kind": s.kind, "path": str(s.path), "reason": s.reason, "processes": _processes(s.processes)}
            for s in items]


def plan_to_json(plan: Plan) -> dict:
    """The plan as JSON: ``scope``, ``cache_dir`` (the first root outside the cache), ``roots``,
    ``bytes_freed``, ``apparent_freed``, ``exclusive``, ``entries`` (``kind``, ``path``, ``paths``,
    ``label``, ``reasons``, ``bytes_alone``, ``bytes_with_plan``, ``command`` or ``null``),
    ``skipped`` (``kind``, ``path``, ``reason``, ``processes``), ``lock_holders``, ``notes``,
    ``bytes_exact`` and ``unreadable``."""
    return {
        "scope": plan.scope,
        "cache_dir": str(plan.root),
        "roots": [str(r) for r in plan.roots],
        "bytes_freed": plan.bytes_freed,
        "apparent_freed": plan.apparent_freed,
        "cache_bytes": plan.cache_bytes,
        "exclusive": plan.exclusive,
        "lock_holders": _processes(plan.lock_holders),
        "entries": [
            {
                "kind": e.kind, "path": str(e.path), "paths": [str(p) for p in e.paths], "label": e.label,
                "reasons": list(e.reasons), "last_used": e.last_used,
                "bytes_alone": e.bytes_alone, "bytes_with_plan": e.bytes_with_plan,
                "command": list(e.command.argv) if e.command is not None else None,
            }
            for e in plan.entries
        ],
        "skipped": _skipped(plan.skipped),
        "size_target": _target_json(plan),
        "notes": list(plan.notes),
        "bytes_exact": not plan.unreadable,
        "unreadable": [{"path": p, "error": m} for p, m in plan.unreadable],
    }


def _target_json(plan: Plan) -> dict | None:
    t = plan.size_target
    if t is None:
        return None
    return {"limit": t.limit, "before": t.before, "after": t.after, "reached": t.reached,
            "held": [{"name": h.name, "bytes": h.bytes, "why": h.why} for h in t.held]}


def result_to_json(result: PruneResult) -> dict:
    """The result as JSON: the plan's fields, plus ``deleted`` (paths), ``errors``,
    ``predicted_bytes``, ``measured_bytes``, ``complete`` and ``cancelled``; ``skipped``
    includes entries skipped while running."""
    doc = plan_to_json(result.plan)
    doc["skipped"] = _skipped(result.skipped)
    doc.update(
        deleted=[str(e.path) for e in result.deleted],
        errors=[{"path": str(p), "error": m} for p, m in result.errors],
        predicted_bytes=result.predicted_bytes,
        measured_bytes=result.measured_bytes,
        measure=result.measure,
        exclusive=result.exclusive,
        cancelled=result.cancelled,
        complete=result.complete,
    )
    return doc


def plan_text(plan: Plan) -> str:
    """The plan for a person: one line per entry with what it frees (and the uv command that
    deletes it, where uv does), then the skipped ones, what the plan could not see, and whether
    its bytes are exact. What came from disk (labels, paths, reasons, command lines) is made
    :func:`~envtui.core.text.printable`."""
    p = printable
    lines = []
    if not plan.exclusive:
        lines.append("uv is running (it holds the cache lock); entries it may be writing are skipped:")
        lines += [f"  pid {h.pid}: {p(h.cmdline)}" for h in plan.lock_holders] or ["  (processes not visible to this user)"]
    lines.append(f"{_entries(len(plan.entries))} to delete, freeing {size_bytes(plan.bytes_freed)}:")
    for e in plan.entries:
        lines.append(
            f"  {e.kind:<19} {size(e.bytes_with_plan):>10}  {p(e.label)}  "
            f"[{'; '.join(p(r) for r in e.reasons)}]\n      {p(e.path)}"
        )
        if e.command is not None:
            lines.append(f"      through: {p(' '.join(e.command.argv))}")
    if any(e.bytes_alone != e.bytes_with_plan for e in plan.entries):
        lines.append("  (per entry: bytes freed together with the rest of the plan; shared files count for each entry)")
    if plan.skipped:
        lines.append(f"{len(plan.skipped)} skipped:")
        for s in plan.skipped:
            lines.append(f"  {s.kind:<19} {p(s.path)}\n      {p(s.reason)}")
            lines += [f"        pid {h.pid}: {p(h.cmdline)} ({p(h.why)})" for h in s.processes]
    if plan.size_target is not None:
        from ..core.prune.maxsize import describe

        lines += describe(plan.size_target, size_bytes)
    lines += [f"note: {p(n)}" for n in plan.notes]
    if plan.unreadable:
        path, why = plan.unreadable[0]
        n = len(plan.unreadable)
        lines.append(f"not exact: {n} path{'s' if n != 1 else ''} inside the plan could not be read "
                     f"(e.g. {p(path)}: {p(why)}); the bytes above leave them out")
    return "\n".join(lines)


def result_text(result: PruneResult) -> str:
    """What a run did, for a person: how many of the planned entries went, freed bytes measured
    against predicted, and every entry that did not go, with why."""
    lines = [
        f"Deleted {len(result.deleted)} of {len(result.plan.entries)} entries.",
        f"Freed {size_bytes(result.measured_bytes)} measured "
        f"({'counted while deleting' if result.measure == 'walk' else 'filesystem free space'}), "
        f"{size_bytes(result.predicted_bytes)} predicted.",
    ]
    for s in result.skipped[len(result.plan.skipped):]:
        lines.append(f"  skipped {printable(s.path)}: {printable(s.reason)}")
    for path, message in result.errors:
        lines.append(f"  FAILED {printable(path)}: {printable(message)}")
    if result.cancelled:
        lines.append("Stopped early.")
    return "\n".join(lines)


def _step(step: Step) -> None:
    what = step.state if step.state == DELETED else f"{step.state.upper()} ({step.why})"
    print(printable(f"[{step.done}/{step.total}] {what} {step.entry.path}"), file=sys.stderr)  # line-buffered


def _uv_line(line: str) -> None:
    print(f"  uv: {printable(line)}", file=sys.stderr)


def run_plan(args: argparse.Namespace, plan: Plan, *, docs: dict | None = None, key: str = "", **run: Any) -> int:
    """Show ``plan``, ask (unless ``--yes`` or ``--dry-run``), run it, report; the exit code.

    With ``--json`` the plan (or the result) goes to ``docs[key]`` when ``docs`` is given (the
    caller prints them all), else is printed. ``run`` goes to
    :func:`~envtui.core.prune.execute_plan` (``wait``, ``go_on_if_busy``, ``under``, ``measure``)."""
    as_json = args.json

    def emit(doc: dict, text: str) -> None:
        if not as_json:
            print(text)
        elif docs is not None:
            docs[key] = doc
        else:
            print(json.dumps(doc, indent=2))

    if args.dry_run or not plan.entries:
        emit(plan_to_json(plan), plan_text(plan))
        return EXIT_OK
    if not args.yes and not sys.stdin.isatty():
        return fail("not a terminal: pass --yes to delete, or --dry-run to see the plan")
    if not as_json:
        print(plan_text(plan))
    elif not args.yes:
        print(plan_text(plan), file=sys.stderr)  # read before the answer; stdout stays JSON
    if not args.yes:
        if not ask(f"Delete {_entries(len(plan.entries))}, freeing {size_bytes(plan.bytes_freed)}? [y/N] "):
            print("Nothing deleted.")
            return EXIT_PROBLEM
    try:
        result = execute_plan(plan, on_step=None if as_json else _step, on_line=_uv_line,
                              ignore_uncertain=args.ignore_uninspectable, **run)
    except CacheBusy as err:
        return fail(f"{err.message}; pass --wait SECONDS or --skip-in-use", EXIT_BUSY)
    except CacheError as err:
        return fail(str(err))
    emit(result_to_json(result), result_text(result))
    return exit_code(result)
