"""Everything that deletes from a uv cache: plan records, the reference finder, the planner, the
one set of safety rules, the in-use check, the executor and the remover. Every deletion is a
:class:`Plan` first (shown, with exact bytes), then run by :func:`execute_plan` under uv's root
lock, checked again by the same rules (:mod:`envtui.core.prune.safety`)."""

from .executor import CacheBusy, PruneResult, execute_plan
from .inuse import processes_using
from .planner import (
    ARCHIVE,
    CACHED_ENV,
    INTERPRETER,
    LEFTOVER,
    LINK,
    ORDER,
    SCRIPT_ENV,
    environment_entry,
    interpreter_entry,
    last_used,
    parse_size,
    plan_entries,
    plan_prune,
    plan_selection,
)
from .records import Kind, Plan, PlanEntry, Policies, Skipped
from .remover import TMP_PREFIX, Removal, UnsafePathError, check_prune_root, remove_path
from .safety import Look, References, Rules, guard_path, resolve_path, vet

__all__ = [
    "ARCHIVE",
    "CACHED_ENV",
    "INTERPRETER",
    "LEFTOVER",
    "LINK",
    "ORDER",
    "SCRIPT_ENV",
    "TMP_PREFIX",
    "CacheBusy",
    "Kind",
    "Look",
    "Plan",
    "PlanEntry",
    "Policies",
    "PruneResult",
    "References",
    "Removal",
    "Rules",
    "Skipped",
    "UnsafePathError",
    "check_prune_root",
    "environment_entry",
    "execute_plan",
    "guard_path",
    "interpreter_entry",
    "last_used",
    "parse_size",
    "plan_entries",
    "plan_prune",
    "plan_selection",
    "processes_using",
    "remove_path",
    "resolve_path",
    "vet",
]
