"""Everything that deletes from a uv cache: plan records, the reference finder, the planner, the
executor and the remover. Every deletion is a :class:`Plan` first (shown, with exact bytes), then
run by :func:`execute_plan` under uv's root lock."""

from .executor import CacheBusy, PruneResult, execute_plan
from .planner import (
    ARCHIVE,
    CACHED_ENV,
    INTERPRETER,
    LEFTOVER,
    LINK,
    SCRIPT_ENV,
    Plan,
    PlanEntry,
    Policies,
    Skipped,
    interpreter_entry,
    last_used,
    parse_size,
    plan_prune,
    plan_selection,
)
from .remover import TMP_PREFIX, UnsafePathError, check_prune_root, guard_path, remove_path

__all__ = [
    "ARCHIVE",
    "CACHED_ENV",
    "INTERPRETER",
    "LEFTOVER",
    "LINK",
    "SCRIPT_ENV",
    "TMP_PREFIX",
    "CacheBusy",
    "Plan",
    "PlanEntry",
    "Policies",
    "PruneResult",
    "Skipped",
    "UnsafePathError",
    "check_prune_root",
    "execute_plan",
    "guard_path",
    "interpreter_entry",
    "last_used",
    "parse_size",
    "plan_prune",
    "plan_selection",
    "remove_path",
]
