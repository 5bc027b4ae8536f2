"""``envtui ls``: the inventory of the cache as text or JSON."""

from __future__ import annotations

import argparse
import json
import os

from ..core import NotACacheError, inventory_to_json, scan_inventory
from ..core.text import printable_tree
from ..format import size
from .common import effective_roots, fail, known_scripts, location


def register(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser("ls", help="list interpreters and environments", description="List what the uv cache holds.")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    p.add_argument(
        "--sizes",
        action="store_true",
        help="also measure disk use (hardlinks counted once; walks the whole cache): bytes per "
        "environment, per bucket and per package, and the cache total",
    )
    return p


def _size(n: int | None) -> str:
    return size(n, unknown="?")


def _text(doc: dict) -> str:
    doc = printable_tree(doc)  # names, versions and paths come out of the cache: no raw ESC
    lines = [f"cache {doc['cache_dir']}  (from {doc['cache_dir_source']})", "", "interpreters:"]
    for e in doc["interpreters"]:
        verified = {True: "key ok", False: "key MISMATCH", None: "key ?"}[e["key_verified"]]
        lines.append(
            f"  {(e['shard'] + '/') if e['shard'] else ''}{e['key']}  {e['status']:<14} {e['implementation'] or '?'} {e['version'] or '?':<9}"
            f" {e['executable'] or '-'}  ({verified})" + (f"  {e['error']}" if e.get("error") else "")
        )
    lines += ["", "environments:"]
    for env in doc["environments"]:
        pkgs = ", ".join(f"{p['name']} {p['version']}" for p in env["packages"]) or "no packages"
        what = env["script"] or env["tool"] or env["prompt"] or ""
        size = ""
        if env.get("bytes"):
            size = f"  {_size(env['bytes']['disk'])} on disk, {_size(env['bytes']['exclusive'])} freed if deleted"
        lines.append(
            f"  {env['kind']:<6} {env['key']:<40} {env['status']:<8} py {env['python_version'] or '?':<8} {what}  [{pkgs}]{size}"
        )
    if "total_disk" in doc:
        lines += ["", f"disk: {_size(doc['total_disk'])} in all (hardlinks counted once)"]
        for b in doc["buckets"]:
            lines.append(
                f"  {b['path'].rsplit('/', 1)[-1]:<20} {b['entries'] if b['entries'] is not None else '?':>6} entries"
                f"  {_size(b['disk']):>10} on disk  {_size(b['reclaimable']):>10} reclaimable"
            )
    if "packages" in doc:
        lines += ["", "packages:"]
        for p in doc["packages"]:
            lines.append(f"  {p['name']:<24} {_size(p['bytes']['disk']):>10} on disk  {_size(p['bytes']['freed']):>10} freed if deleted"
                         f"  {', '.join(p['versions']) or '?'}" + (f"  (used by {len(p['used_by'])})" if p["used_by"] else ""))
    if "pythons" in doc:
        lines += ["", f"managed Pythons ({doc['python_dir']}):"]
        for p in doc["pythons"]:
            size = f"  {_size(p['bytes']['disk'])}" if p.get("bytes") else ""
            users = ", ".join(u["path"] for u in p["used_by"]) or "unused"
            lines.append(f"  {p['key']:<40}{size}  used by: {users}")
        lines += ["", f"tools ({doc['tool_dir']}):"]
        for t in doc["tools"]:
            size = f"  {_size(t['bytes']['disk'])} on disk, {_size(t['bytes']['exclusive'])} freed if deleted" if t.get("bytes") else ""
            lines.append(f"  {t['name']:<20} {t['version'] or '?':<10} py {t['python_version'] or '?':<8} [{', '.join(t['requirements'])}]{size}")
        lines += ["", "project environments:"]
        for p in doc["projects"]:
            size = f"  {_size(p['bytes']['disk'])} on disk, {_size(p['bytes']['exclusive'])} freed if deleted" if p.get("bytes") else ""
            lines.append(f"  {p['path']}  py {p['python_version'] or '?'}  {len(p['packages'])} packages{size}")
        if "machine" in doc:
            lines += ["", f"everything uv keeps: {_size(doc['machine']['total_disk'])} (hardlinks counted once)"]
            lines += [f"  {p['name']:<10} {_size(p['disk']):>10}" for p in doc["machine"]["parts"]]
    if doc["problems"]:
        lines += ["", "problems:"]
        # A message about a file inside the entry names that file already: the path once, not twice.
        lines += [f"  {p['message']}" if p["message"].startswith(p["path"] + os.sep) else f"  {p['path']}: {p['message']}"
                  for p in doc["problems"]]
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    from ..core.machine_scan import machine_to_json, measure, name_proven_scripts, scan_machine, shared_with_outside

    loc = location(args)
    try:
        inv = scan_inventory(loc, known_scripts=known_scripts(args))
    except NotACacheError as err:
        return fail(f"{err} (cache location from {loc.source})")
    machine = scan_machine(inv, effective_roots(args))
    inv = name_proven_scripts(inv, machine)
    doc = inventory_to_json(inv)
    usage = None
    if args.sizes:
        from ..core.disk import add_sizes_to_json, scan_disk

        from ..core.packages import packages_to_json, scan_packages

        report = scan_disk(inv.root)
        add_sizes_to_json(doc, inv.environments, report)
        doc["packages"] = packages_to_json(scan_packages(inv.root, report=report))
        # What could not be walked is not counted: say so where the sizes are read.
        doc["problems"] += [{"path": str(path), "message": f"cannot measure: {why}; sizes above it are not exact"}
                            for path, why in report.errors]
        usage = measure(machine, report)  # the cache is not walked again: the report keeps its links
        shared = shared_with_outside(usage, [e.root for e in inv.environments if e.root is not None])
        for d, env in zip(doc["environments"], inv.environments):
            d["shared_outside_with"] = shared.get(str(env.root), []) if env.root is not None else []
        doc["archive_shared_outside_with"] = {
            path: uses for path, uses in shared_with_outside(usage, _archive_entries(inv)).items()
        }
    doc.update(machine_to_json(machine, usage))
    print(json.dumps(doc, indent=2) if args.json else _text(doc))
    return 0


def _archive_entries(inv) -> list:
    import os
    from pathlib import Path

    out = []
    for b in inv.buckets:
        if b.kind == "bucket" and b.name == "archive":
            try:
                out += [Path(e.path) for e in os.scandir(b.path)]
            except OSError:
                pass
    return out
