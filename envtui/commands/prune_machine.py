"""``envtui prune`` beyond the cache: ``--project-env DIR``, ``--unused-pythons``, ``--tool NAME``.

The same shape as a cache prune: the plan first (``--dry-run`` stops there), then a question
(``--yes`` skips it), then the deletion, with the bytes freed measured against the bytes predicted.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from ..core import NotACacheError, scan_inventory
from ..core.machine_scan import scan_machine
from ..core.prune.machine import (
    UvPlan,
    execute_project_plan,
    plan_project_envs,
    plan_python_uninstall,
    plan_tool_uninstall,
    run_action,
)
from ..core.uvbin import find_uv
from ..format import size
from .common import ask, effective_roots, fail, known_scripts, location, size_bytes

__all__ = ["add_arguments", "wanted", "run_machine"]


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The flags of ``envtui prune`` that act outside the cache."""
    g = p.add_argument_group("outside the cache")
    g.add_argument("--project-env", action="append", metavar="DIR", default=[],
                   help="delete this project environment (a .venv under --roots), with the cache's safety rules")
    g.add_argument("--unused-pythons", action="store_true",
                   help="uninstall (uv python uninstall) the managed Pythons nothing runs on")
    g.add_argument("--tool", action="append", metavar="NAME", default=[],
                   help="uninstall this installed tool (uv tool uninstall)")


def wanted(args: argparse.Namespace) -> bool:
    """Whether the arguments ask for anything outside the cache."""
    return bool(args.project_env or args.unused_pythons or args.tool)


def _confirm(args: argparse.Namespace, text: str, question: str) -> bool | None:
    """``None`` to go on, else the exit code's truth: printed plan, dry run, declined."""
    if args.dry_run or args.yes:
        return True
    if not sys.stdin.isatty():
        print("envtui: not a terminal: pass --yes to delete, or --dry-run to see the plan", file=sys.stderr)
        return False
    return ask(question)


def _uv_plan_doc(plan: UvPlan) -> dict:
    return {
        "bytes_freed": plan.bytes_freed,
        "actions": [{"kind": a.kind, "path": str(a.path), "label": a.label, "argv": list(a.argv),
                     "bytes_freed": a.bytes_freed, "reason": a.reason} for a in plan.actions],
        "skipped": [{"kind": s.kind, "path": str(s.path), "reason": s.reason} for s in plan.skipped],
    }


def _uv_plan_text(plan: UvPlan) -> str:
    lines = [f"{len(plan.actions)} to uninstall through uv, freeing {size_bytes(plan.bytes_freed)}:"]
    for a in plan.actions:
        lines.append(f"  {a.kind:<19} {size(a.bytes_freed):>10}  {a.label}  [{a.reason}]\n"
                     f"      {' '.join(a.argv)}")
    if plan.skipped:
        lines.append(f"{len(plan.skipped)} skipped:")
        lines += [f"  {s.kind:<19} {s.path}\n      {s.reason}" for s in plan.skipped]
    return "\n".join(lines)


def run_machine(args: argparse.Namespace) -> int:
    """Run the outside-the-cache part of ``envtui prune``; returns the exit code."""
    from .prune import plan_text, plan_to_json, result_text, result_to_json

    loc = location(args)
    try:
        inv = scan_inventory(loc, known_scripts=known_scripts(args))
    except NotACacheError as err:
        return fail(f"{err} (cache location from {loc.source})")
    roots = effective_roots(args)
    code = 0
    docs: dict = {}
    if args.project_env:
        if not roots:
            return fail("--project-env needs --roots: a project environment is deleted only inside a root you name")
        plan = plan_project_envs([(p, os.path.basename(os.path.dirname(os.path.abspath(p)))) for p in args.project_env], roots)
        if args.json:
            docs["project_envs"] = plan_to_json(plan)
        else:
            print(plan_text(plan))
        if plan.entries and not args.dry_run:
            if not _confirm(args, "", f"Delete {len(plan.entries)} environments, freeing {size_bytes(plan.bytes_freed)}? [y/N] "):
                print("Nothing deleted.")
                return 1
            result = execute_project_plan(plan, roots, measure=[inv.root, *roots])
            if args.json:
                docs["project_envs"] = result_to_json(result)
            else:
                print(result_text(result))
            code = 1 if result.errors else code
    if args.unused_pythons or args.tool:
        uv = find_uv()
        if uv is None:
            return fail("uv is not installed: managed Pythons and tools are uninstalled through uv")
        machine = scan_machine(inv, roots)
        plans = []
        if args.unused_pythons:
            plans.append(("pythons", plan_python_uninstall(machine.pythons, uv, python_dir=machine.python_dir)))
        if args.tool:
            names = set(args.tool)
            missing = names - {t.name for t in machine.tools}
            if missing:
                return fail(f"no installed tool named {', '.join(sorted(missing))} in {machine.tool_dir}")
            plans.append(("tools", plan_tool_uninstall([t for t in machine.tools if t.name in names], uv, tool_dir=machine.tool_dir)))
        for name, plan in plans:
            if args.json:
                docs[name] = _uv_plan_doc(plan)
            else:
                print(_uv_plan_text(plan))
            if not plan.actions or args.dry_run:
                continue
            if not _confirm(args, "", f"Run {len(plan.actions)} uv commands, freeing {size_bytes(plan.bytes_freed)}? [y/N] "):
                print("Nothing uninstalled.")
                return 1
            for action in plan.actions:
                status = run_action(action, inv.root, lambda line: print(line, file=sys.stderr, flush=True))
                if status != 0:
                    print(f"envtui: {' '.join(action.argv)} failed (exit {status})", file=sys.stderr)
                    code = 1
    if args.json:
        print(json.dumps(docs, indent=2))
    return code
