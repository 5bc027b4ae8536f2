"""``envtui prune`` beyond the cache: ``--project-env DIR``, ``--unused-pythons``, ``--tool NAME``.

The same shape as a cache prune: the plan first (``--dry-run`` stops there), then a question
(``--yes`` skips it), then the deletion, with the bytes freed measured against the bytes predicted.
"""

from __future__ import annotations

import argparse
import json
import os

from ..core import NotACacheError, scan_inventory
from ..core.errors import CacheError
from ..core.machine_scan import scan_machine
from ..core.prune.machine import plan_project_envs, plan_python_uninstall, plan_tool_uninstall
from ..core.uvcli import UvFailed, find_uv
from .common import effective_roots, fail, location
from .deletion import EXIT_OK, run_plan

__all__ = ["add_arguments", "wanted", "run_machine"]


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The flags of ``envtui prune`` that act outside the cache."""
    from .prune import package_argument

    g = p.add_argument_group("outside the cache")
    g.add_argument("--project-env", action="append", metavar="DIR", default=[],
                   help="delete this project environment (a .venv under --roots), with the cache's safety rules")
    g.add_argument("--unused-pythons", action="store_true",
                   help="uninstall (uv python uninstall) the managed Pythons no environment envtui can see runs on")
    g.add_argument("--tool", action="append", metavar="NAME", default=[], type=package_argument,
                   help="uninstall this installed tool (uv tool uninstall)")


def wanted(args: argparse.Namespace) -> bool:
    """Whether the arguments ask for anything outside the cache."""
    return bool(args.project_env or args.unused_pythons or args.tool)


def run_machine(args: argparse.Namespace) -> int:
    """Run the outside-the-cache part of ``envtui prune``: each plan (project environments, then
    Pythons, then tools) through :func:`~envtui.commands.deletion.run_plan`; the worst exit code."""
    loc = location(args)
    try:
        inv = scan_inventory(loc)
    except NotACacheError as err:
        return fail(f"{err} (cache location from {loc.source})")
    roots = effective_roots(args)
    if args.project_env and not roots:
        return fail("--project-env needs --roots: a project environment is deleted only inside a root you name")
    uv = None
    if args.unused_pythons or args.tool:
        uv = find_uv()
        if uv is None:
            return fail("uv is not installed: managed Pythons and tools are uninstalled through uv")
    machine = scan_machine(inv, roots)
    plans = []
    try:
        if args.project_env:
            envs = [(p, os.path.basename(os.path.dirname(os.path.abspath(p)))) for p in args.project_env]
            plans.append(("project_envs", plan_project_envs(
                envs, roots, keep_out=[inv.root, machine.python_dir, machine.tool_dir],
                ignore_uncertain=args.ignore_uninspectable)))
        if args.unused_pythons:
            from ..core.uvcli import installed_pythons

            installed = installed_pythons(uv, machine.python_dir)  # type: ignore[arg-type]  # found above (or returned)
            plans.append(("pythons", plan_python_uninstall(
                machine.pythons, uv, python_dir=machine.python_dir, cache_root=inv.root, installed=installed,  # type: ignore[arg-type]  # found above (or returned)
                unknown=machine.unknown, ignore_uncertain=args.ignore_uninspectable)))
        if args.tool:
            from ..core.uvcli import installed_tools

            names = set(args.tool)
            missing = names - {t.name for t in machine.tools}
            if missing:
                return fail(f"no installed tool named {', '.join(sorted(missing))} in {machine.tool_dir}")
            plans.append(("tools", plan_tool_uninstall(
                [t for t in machine.tools if t.name in names], uv, tool_dir=machine.tool_dir, cache_root=inv.root,  # type: ignore[arg-type]  # found above (or returned)
                installed=installed_tools(uv, machine.tool_dir), ignore_uncertain=args.ignore_uninspectable)))  # type: ignore[arg-type]  # found above (or returned)
    except (CacheError, OSError, ValueError, UvFailed) as err:
        return fail(str(err))
    docs: dict = {}
    code = EXIT_OK
    for key, plan in plans:
        code = max(code, run_plan(args, plan, docs=docs, key=key))
    if args.json:
        print(json.dumps(docs, indent=2))
    return code
