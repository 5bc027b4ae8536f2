"""envtui's cache core: reads a uv cache into frozen records. Imports neither Textual nor Rich.

Every function takes the cache root (or a :class:`CacheLocation`) explicitly; errors carry the
path they are about.
"""

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
