"""Rebuilding cache entries through uv itself, as a subprocess whose output is streamed.

* a script environment: ``uv sync --script PATH`` (crates/uv/src/commands/project/sync.rs);
* a cached environment: deleted, then recreated by ``uv tool run --python <base interpreter>
  --from <tool>==<v> --with <dist>==<v>... python -c ""``: the same interpreter gives the same
  interpreter hash, the same distributions the same resolution hash (``CachedEnvironment::
  from_spec`` hashes the sorted resolved distributions), so the next ``uvx`` finds it;
* an interpreter entry: deleted, then queried again by ``uv python find <executable>``.

No lock is held while uv runs: :func:`~envtui.core.prune.execute_plan` releases them all.
"""

from __future__ import annotations

import glob
import os
import re
import shlex
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

from packaging.utils import canonicalize_name

from .digest import script_environment_name
from .environments import CACHED, INTERPRETER_HASH_SCHEMES, OK, SCRIPT, Environment
from .prune import check_prune_root, execute_plan, plan_selection
from .interpreters import InterpreterEntry, current_shard, decode_interpreter_entry
from .inventory import Inventory
from .locks import UNAVAILABLE, probe_root_lock
from .uvbin import find_uv

__all__ = ["Recipe", "RebuildResult", "rebuild", "recipe_for", "run_uv"]


@dataclass(frozen=True)
class Recipe:
    """How an entry would be rebuilt, or why it cannot be."""

    kind: str
    """``script environment``, ``cached environment`` or ``interpreter entry``."""
    path: Path
    """The entry."""
    argv: tuple[str, ...] = ()
    """The uv command (empty when it cannot be rebuilt)."""
    delete_first: bool = False
    """Whether the entry is deleted (through a prune plan, with its safety checks) before uv runs."""
    problem: str | None = None
    """Why it cannot be rebuilt exactly, for a person; ``None`` when it can."""


@dataclass(frozen=True)
class RebuildResult:
    """What a rebuild did."""

    recipe: Recipe
    """The recipe that ran."""
    returncode: int | None
    """uv's exit status; ``None`` when uv did not run."""
    ok: bool
    """Whether the entry is back as it should be."""
    message: str
    """What happened, for a person."""
    changes: tuple[tuple[str, str, str], ...] = ()
    """``(field, before, after)`` for an interpreter entry queried again."""


#: Lines by which uv 0.13 says it changed an environment: ``Creating script environment at: …``,
#: ``Installed 1 package in 1ms``, `` + helperlib==0.1``. An environment already in sync gets only
#: ``Using script environment at: …``, ``Resolved …`` and ``Checked 1 package in 0.05ms``.
_UV_CHANGED = re.compile(r"^(?:(?:Creating|Recreating|Removed) (?:script |virtual )?environment|(?:Installed|Uninstalled) \d+ package| [+~-] )")


def _url_installed(root: Path) -> list[str]:
    pattern = os.path.join(glob.escape(str(root)), "lib", "*", "site-packages", "*.dist-info", "direct_url.json")
    return sorted(glob.glob(pattern))


def _script_of(record: Environment, seen_scripts: Iterable[str]) -> str | None:
    if record.script:
        return record.script
    return next((s for s in seen_scripts if script_environment_name(s) == record.key), None)


def recipe_for(record: Environment | InterpreterEntry, uv: str, *, seen_scripts: Iterable[str] = ()) -> Recipe:
    """The :class:`Recipe` for an environment or interpreter entry, using the ``uv`` executable.

    ``seen_scripts`` are script paths envtui saw once (they may be gone since): a script
    environment whose script the scan did not find is matched against them by key, so that a
    deleted script is named as missing rather than as unknown."""
    if isinstance(record, InterpreterEntry):
        exe = record.key_source[0] if record.key_source else record.executable
        if not exe or not os.path.exists(exe):
            return Recipe("interpreter entry", record.path, problem=f"the interpreter {exe or '?'} is gone: prune the entry instead")
        return Recipe("interpreter entry", record.path, (uv, "python", "find", exe), delete_first=True)
    if record.kind == SCRIPT:
        script = _script_of(record, seen_scripts)
        if not script:
            return Recipe("script environment", record.path,
                          problem=f"its script is not known (uv wrote prompt = {record.prompt!r}): if the file "
                          "still exists, add its directory to the script roots")
        if not os.path.exists(script):
            return Recipe("script environment", record.path,
                          problem=f"its script file {script} is missing (deleted or moved): "
                          "there is nothing to rebuild it from; prune it instead")
        return Recipe("script environment", record.path, (uv, "sync", "--script", script))
    kind = "cached environment"
    if record.status != OK or record.link_target is None:
        return Recipe(kind, record.path, problem=f"it is {record.status}: its distributions cannot be read")
    if not record.interpreter or not os.path.exists(record.interpreter):
        return Recipe(kind, record.path, problem="its base interpreter is unknown or gone, so the same interpreter hash cannot be made")
    if record.bucket_version not in (None, 2) or record.interpreter_hash_scheme not in (None, INTERPRETER_HASH_SCHEMES["canonical"]):
        # An older uv's key (environments-v1, or another interpreter hash): today's uv would make
        # the environment under another key, and the old one would be deleted for nothing.
        return Recipe(kind, record.path, problem=f"made by uv {record.uv_version or '?'} under its own key scheme "
                      f"({record.interpreter_hash_scheme or f'environments-v{record.bucket_version}'}): this uv would "
                      "make it under another key; run that uv's `uvx` to rebuild it, or prune it")
    if not record.tool:
        return Recipe(kind, record.path, problem="no distribution provides a console script: it is not a tool environment")
    urls = _url_installed(record.link_target)
    if urls:
        return Recipe(kind, record.path, problem=f"installed from a URL or path, which a version pin cannot reproduce: {urls[0]}")
    tool = canonicalize_name(record.tool)
    pins = {canonicalize_name(d.name): f"{d.name}=={d.version}" for d in record.packages}
    argv = [uv, "tool", "run", "--python", record.interpreter, "--from", pins.pop(tool)]
    for pin in pins.values():
        argv += ["--with", pin]
    argv += ["python", "-c", ""]
    return Recipe(kind, record.path, tuple(argv), delete_first=True)


def run_uv(
    argv: tuple[str, ...] | list[str],
    cache_root: Path,
    on_line: Callable[[str], None],
    *,
    should_stop: Callable[[], bool] | None = None,
    env: dict[str, str] | None = None,
) -> int:
    """Run uv with ``UV_CACHE_DIR=cache_root``, passing each line of its merged stdout and stderr
    to ``on_line`` as it comes. ``should_stop()`` is checked per line; when it turns true uv is
    terminated. Returns uv's exit status. Raises ``OSError`` when uv cannot be started."""
    environ = dict(os.environ if env is None else env)
    environ["UV_CACHE_DIR"] = str(cache_root)
    environ.setdefault("UV_NO_PROGRESS", "1")
    proc = subprocess.Popen(
        list(argv), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        text=True, errors="replace", bufsize=1, env=environ,
    )
    assert proc.stdout is not None
    with proc.stdout:
        for line in proc.stdout:
            on_line(line.rstrip("\n"))
            if should_stop is not None and should_stop():
                proc.terminate()
                break
    return proc.wait()


def _reread_interpreter(before: InterpreterEntry) -> tuple[InterpreterEntry | None, tuple[tuple[str, str, str], ...]]:
    after = None
    if before.path.exists():
        after = decode_interpreter_entry(before.path, before.bucket_version, before.shard, current_shard())
    else:
        for path in sorted(before.path.parent.glob("*.msgpack")):
            cand = decode_interpreter_entry(path, before.bucket_version, before.shard, current_shard())
            if cand.executable == before.executable:
                after = cand
                break
    if after is None:
        return None, ()
    fields = ("path", "status", "version", "executable", "sys_prefix", "base_prefix")
    changes = tuple(
        (f, str(getattr(before, f)), str(getattr(after, f))) for f in fields
    )
    return after, changes


def rebuild(
    inv: Inventory,
    record: Environment | InterpreterEntry,
    on_line: Callable[[str], None],
    *,
    uv: str | None = None,
    should_stop: Callable[[], bool] | None = None,
    env: dict[str, str] | None = None,
    seen_scripts: Iterable[str] = (),
) -> RebuildResult:
    """Rebuild one entry of the cache ``inv`` was scanned from (see the module docstring).

    A script environment uv found in sync (it printed only ``Checked N packages``) is reported
    as already up to date, not as rebuilt. ``seen_scripts``: see :func:`recipe_for`.

    uv's output goes to ``on_line`` line by line. Deleting first goes through a prune plan: an
    entry in use or locked is not deleted and uv does not run. Never raises for uv failing; raises
    ``OSError`` when uv cannot be started and ``CacheError`` for a root that must not be pruned.
    """
    uv = uv or find_uv()
    said: list[str] = []

    def on_uv_line(line: str) -> None:
        said.append(line)
        on_line(line)

    if uv is None:
        return RebuildResult(Recipe("?", Path(str(getattr(record, "path", "?")))), None, False, "no uv found on PATH")
    recipe = recipe_for(record, uv, seen_scripts=seen_scripts)
    if recipe.problem:
        return RebuildResult(recipe, None, False, f"cannot rebuild {recipe.path}: {recipe.problem}")
    if recipe.delete_first:
        check_prune_root(inv.root)  # refuse the root before its lock is opened
        lock = probe_root_lock(inv.root)
        if lock.state == UNAVAILABLE:
            raise lock.error()
        plan = plan_selection(inv, [record], exclusive=lock.free, lock_holders=lock.holders)
        if plan.skipped:
            return RebuildResult(recipe, None, False, f"not deleted, so not rebuilt: {plan.skipped[0].reason}")
        result = execute_plan(plan, go_on_if_busy=True)
        if len(result.deleted) != len(plan.entries):
            why = result.skipped[-1].reason if result.skipped else (result.errors[0][1] if result.errors else "?")
            return RebuildResult(recipe, None, False, f"not deleted, so not rebuilt: {why}")
        on_line(f"deleted {recipe.path}")
    on_line("$ " + shlex.join(recipe.argv))
    code = run_uv(recipe.argv, inv.root, on_uv_line, should_stop=should_stop, env=env)
    if code != 0:
        return RebuildResult(recipe, code, False, f"uv exited with status {code}")
    if isinstance(record, InterpreterEntry):
        after, changes = _reread_interpreter(record)
        if after is None:
            return RebuildResult(recipe, code, False, "uv ran, but wrote no interpreter entry for this executable")
        changed = [f"{f}: {a} -> {b}" for f, a, b in changes if a != b]
        return RebuildResult(recipe, code, True, "queried again; " + ("; ".join(changed) or "nothing changed"), changes)
    if record.kind == CACHED and not (os.path.islink(record.path) and os.path.isdir(record.path)):
        return RebuildResult(recipe, code, False,
                             f"uv ran, but made its environment under another key than {record.key}")
    if record.kind == SCRIPT and not any(_UV_CHANGED.match(line) for line in said):
        return RebuildResult(recipe, code, True,
                             f"already up to date: uv checked {record.path} and installed nothing")
    return RebuildResult(recipe, code, True, f"rebuilt {record.path}")
