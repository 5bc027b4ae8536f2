"""envtui's cache core: reads a uv cache into frozen records. Imports neither Textual nor Rich.

Every function takes the cache root (or a :class:`CacheLocation`) explicitly; errors carry the
path they are about.

Names are imported on first use (PEP 562): ``import envtui.core.disk`` then costs only what the
disk walk needs, so a TUI can start its walk before the rest of the core is imported.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .archive import ArchiveEntry, archive_use, scan_archive
    from .buckets import Bucket, check_cache_root, find_bucket, list_buckets
    from .disk import BucketUsage, DiskProgress, DiskReport, EntryUsage, Usage, scan_disk
    from .digest import PathKey, cache_digest, cache_name, script_environment_name
    from .environments import CACHED, SCRIPT, Distribution, Environment, scan_environments
    from .errors import CacheError, EntryError, NotACacheError, ScanCancelled
    from .interpreters import InterpreterEntry, current_shard, interpreter_key, scan_interpreters
    from .inventory import Inventory, Problem, inventory_to_json, scan_inventory
    from .locate import CacheLocation, locate_cache
    from .locks import ProcessInfo, RootLock, entry_lock_held, root_lock_holders, try_lock_root
    from .prune.inuse import processes_using
    from .prune import CacheBusy, Plan, PlanEntry, Policies, PruneResult, Skipped, UnsafePathError, execute_plan, parse_size, plan_prune, plan_selection
    from .rebuild import Recipe, RebuildResult, rebuild, recipe_for
    from .scripts import find_scripts

#: Each public name -> the module of this package that defines it.
_EXPORTS = {
    "ArchiveEntry": "archive",
    "archive_use": "archive",
    "scan_archive": "archive",
    "Bucket": "buckets",
    "check_cache_root": "buckets",
    "find_bucket": "buckets",
    "list_buckets": "buckets",
    "BucketUsage": "disk",
    "DiskProgress": "disk",
    "DiskReport": "disk",
    "EntryUsage": "disk",
    "Usage": "disk",
    "scan_disk": "disk",
    "PathKey": "digest",
    "cache_digest": "digest",
    "cache_name": "digest",
    "script_environment_name": "digest",
    "CACHED": "environments",
    "SCRIPT": "environments",
    "Distribution": "environments",
    "Environment": "environments",
    "scan_environments": "environments",
    "CacheError": "errors",
    "EntryError": "errors",
    "NotACacheError": "errors",
    "ScanCancelled": "errors",
    "InterpreterEntry": "interpreters",
    "current_shard": "interpreters",
    "interpreter_key": "interpreters",
    "scan_interpreters": "interpreters",
    "Inventory": "inventory",
    "Problem": "inventory",
    "inventory_to_json": "inventory",
    "scan_inventory": "inventory",
    "CacheLocation": "locate",
    "locate_cache": "locate",
    "ProcessInfo": "locks",
    "RootLock": "locks",
    "entry_lock_held": "locks",
    "root_lock_holders": "locks",
    "try_lock_root": "locks",
    "processes_using": "prune.inuse",
    "CacheBusy": "prune",
    "Plan": "prune",
    "PlanEntry": "prune",
    "Policies": "prune",
    "PruneResult": "prune",
    "Skipped": "prune",
    "UnsafePathError": "prune",
    "execute_plan": "prune",
    "parse_size": "prune",
    "plan_prune": "prune",
    "plan_selection": "prune",
    "Recipe": "rebuild",
    "RebuildResult": "rebuild",
    "rebuild": "rebuild",
    "recipe_for": "rebuild",
    "find_scripts": "scripts",
}


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS})


__all__ = [
    "CacheBusy",
    "Plan",
    "PlanEntry",
    "Policies",
    "ProcessInfo",
    "PruneResult",
    "RebuildResult",
    "Recipe",
    "RootLock",
    "Skipped",
    "UnsafePathError",
    "entry_lock_held",
    "execute_plan",
    "parse_size",
    "plan_prune",
    "plan_selection",
    "processes_using",
    "rebuild",
    "recipe_for",
    "root_lock_holders",
    "try_lock_root",
    "ArchiveEntry",
    "BucketUsage",
    "DiskProgress",
    "DiskReport",
    "EntryUsage",
    "Usage",
    "archive_use",
    "scan_archive",
    "scan_disk",
    "Bucket",
    "CACHED",
    "CacheError",
    "CacheLocation",
    "Distribution",
    "EntryError",
    "Environment",
    "InterpreterEntry",
    "Inventory",
    "NotACacheError",
    "PathKey",
    "Problem",
    "SCRIPT",
    "ScanCancelled",
    "cache_digest",
    "cache_name",
    "check_cache_root",
    "current_shard",
    "find_bucket",
    "find_scripts",
    "interpreter_key",
    "inventory_to_json",
    "list_buckets",
    "locate_cache",
    "scan_environments",
    "scan_interpreters",
    "scan_inventory",
    "script_environment_name",
]
