"""Rebuilding cache entries and installed tools through uv itself, as subprocesses whose output is
streamed; nothing is deleted before uv has shown it can build the replacement.

* a script environment: ``uv sync --script PATH`` (crates/uv/src/commands/project/sync.rs), in
  place: envtui deletes nothing;
* a cached environment: first built aside (``uv venv`` + ``uv pip install`` of the same pins in a
  temporary directory outside the cache, against the same cache and the user's settings), then
  deleted through a prune plan, then recreated by ``uv tool run --python <base interpreter> --from
  <tool>==<v> --with <dist>==<v>... python -c ""``: the same interpreter gives the same interpreter
  hash, the same distributions the same resolution hash (``CachedEnvironment::from_spec`` hashes
  the sorted resolved distributions), so the next ``uvx`` finds it. Every name and version is
  validated (:mod:`~envtui.core.uvcli`); a distribution installed from a URL or path is refused;
* an interpreter entry: first queried with a throwaway cache (``uv python find --no-cache``), then
  deleted and queried again by ``uv python find <executable>``;
* an installed tool (:func:`reinstall_tool`): ``uv tool install --reinstall`` with everything its
  receipt records (:func:`~envtui.core.uvcli.tool_reinstall_argv`), first into a temporary tool
  directory. A failed ``uv tool install --reinstall`` can leave no tool at all (uv 0.13.9 removes the
  environment before it installs into the new one: an offline install whose wheel is gone, or a
  command another tool owns, ends with the tool gone), hence the proof.

No lock is held while uv runs: :func:`~envtui.core.prune.execute_plan` releases them all.
"""

from __future__ import annotations

import glob
import os
import re
import shlex
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Mapping

from packaging.utils import canonicalize_name

from .contain import inside, presence
from .digest import script_environment_name
from .environments import CACHED, INTERPRETER_HASH_SCHEMES, OK, SCRIPT, Distribution, Environment
from .prune import check_prune_root, execute_plan, plan_selection
from .prune.inuse import processes_using
from .interpreters import InterpreterEntry, current_shard, decode_interpreter_entry
from .inventory import Inventory
from .locks import UNAVAILABLE, probe_root_lock
from .tools import RECEIPT, Tool, read_tool
from .uvcli import UvFailed, find_uv, installed_tools, run_uv, tool_reinstall_argv, uv_error, valid_name, valid_version

__all__ = ["Recipe", "RebuildResult", "rebuild", "recipe_for", "reinstall_tool", "run_uv", "tool_bin_dir", "tool_recipe"]


@dataclass(frozen=True)
class Recipe:
    """How an entry would be rebuilt, or why it cannot be."""

    kind: str
    """``script environment``, ``cached environment``, ``interpreter entry`` or ``tool``."""
    path: Path
    """The entry."""
    argv: tuple[str, ...] = ()
    """The uv command (empty when it cannot be rebuilt)."""
    delete_first: bool = False
    """Whether the entry is deleted (through a prune plan, with its safety checks) before uv runs."""
    problem: str | None = None
    """Why it cannot be rebuilt exactly, for a person; ``None`` when it can."""
    proof: str | None = None
    """What is built or asked first, aside, to show uv can make the replacement before anything is
    deleted or replaced, for a person; ``None`` when nothing is deleted first."""
    pins: tuple[str, ...] = ()
    """A cached environment's validated ``name==version`` pins (the tool's first)."""
    python: str = ""
    """A cached environment's base interpreter (absolute), or an interpreter entry's executable;
    ``""`` for the others."""

    def steps(self) -> tuple[str, ...]:
        """What a rebuild does, in order, one line each for a person (not escaped)."""
        out = [f"build aside: {self.proof}"] if self.proof else []
        if self.delete_first:
            out.append(f"delete {self.path} (checked like a prune: not if in use or locked)")
        return (*out, f"run: {shlex.join(self.argv)}")


@dataclass(frozen=True)
class RebuildResult:
    """What a rebuild did."""

    recipe: Recipe
    """The recipe that ran."""
    returncode: int | None
    """uv's exit status; ``None`` when uv did not run the rebuild itself."""
    ok: bool
    """Whether the entry is back as it should be."""
    message: str
    """What happened, for a person (not escaped): when not ``ok``, why, in uv's words when uv
    said it, and whether the old entry is still there."""
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


def _cached_pins(packages: Iterable[Distribution], tool_name: str) -> tuple[list[str], str | None]:
    """The validated ``name==version`` pins of a cached environment's ``packages``, the tool's
    first; or ``([], why)``."""
    tool = canonicalize_name(tool_name)
    pins: dict[str, str] = {}
    for d in packages:
        try:
            pin = f"{valid_name(d.name)}=={valid_version(d.version)}"
        except ValueError as err:
            return [], f"its distribution metadata does not make a pin uv would read as meant: {err}"
        key = canonicalize_name(d.name)
        if key in pins:
            return [], f"it holds {d.name} twice"
        pins[key] = pin
    if tool not in pins:
        return [], f"its tool {tool_name!r} is not among its distributions"
    return [pins.pop(tool), *pins.values()], None


def recipe_for(record: Environment | InterpreterEntry, uv: str, *, seen_scripts: Iterable[str] = ()) -> Recipe:
    """The :class:`Recipe` for an environment or interpreter entry, using the ``uv`` executable.

    ``seen_scripts`` are script paths envtui saw once (they may be gone since): a script
    environment whose script the scan did not find is matched against them by key, so that a
    deleted script is named as missing rather than as unknown. Paths reach uv only absolute (never
    read as an option); names and versions only validated (:func:`~envtui.core.uvcli.valid_name`,
    :func:`~envtui.core.uvcli.valid_version`)."""
    if isinstance(record, InterpreterEntry):
        exe = record.key_source[0] if record.key_source else record.executable
        if not exe or not os.path.isabs(exe) or not os.path.exists(exe):
            return Recipe("interpreter entry", record.path, problem=f"the interpreter {exe or '?'} is gone: prune the entry instead")
        return Recipe("interpreter entry", record.path, (uv, "python", "find", exe), delete_first=True,
                      proof=f"uv python find --no-cache {exe} (uv queries it with a throwaway cache)", python=exe)
    if record.kind == SCRIPT:
        script = _script_of(record, seen_scripts)
        if not script:
            return Recipe("script environment", record.path,
                          problem=f"its script is not known (uv wrote prompt = {record.prompt!r}): if the file "
                          "still exists, add its directory to the script roots")
        script = os.path.abspath(script)
        if not os.path.exists(script):
            return Recipe("script environment", record.path,
                          problem=f"its script file {script} is missing (deleted or moved): "
                          "there is nothing to rebuild it from; prune it instead")
        return Recipe("script environment", record.path, (uv, "sync", "--script", script))
    kind = "cached environment"
    if record.status != OK or record.link_target is None:
        return Recipe(kind, record.path, problem=f"it is {record.status}: its distributions cannot be read")
    if not record.interpreter or not os.path.isabs(record.interpreter) or not os.path.exists(record.interpreter):
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
    pins, why = _cached_pins(record.packages, record.tool)
    if why:
        return Recipe(kind, record.path, problem=why)
    argv = [uv, "tool", "run", "--python", record.interpreter, "--from", pins[0]]
    for pin in pins[1:]:
        argv += ["--with", pin]
    argv += ["python", "-c", ""]
    return Recipe(kind, record.path, tuple(argv), delete_first=True,
                  proof=f"uv venv + uv pip install {' '.join(pins)} in a temporary directory outside the cache",
                  pins=tuple(pins), python=record.interpreter)


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


class _Said:
    """uv's lines, passed on to ``on_line`` (prefixed while proving) and kept for its reason."""

    def __init__(self, on_line: Callable[[str], None], prefix: str = "") -> None:
        self.on_line, self.prefix = on_line, prefix
        self.lines: list[str] = []

    def __call__(self, line: str) -> None:
        self.lines.append(line)
        self.on_line(self.prefix + line)

    def reason(self, code: int) -> str:
        return uv_error(self.lines) or f"uv exited with status {code}"


def _scratch(cache_root: Path) -> str:
    """A private temporary directory (mode 0700) outside the cache: uv's own ``cache prune`` deletes
    what it does not know in the cache, and a build aside must not be mistaken for an entry."""
    work = tempfile.mkdtemp(prefix="envtui-rebuild-")
    if inside(work, cache_root):
        os.rmdir(work)
        raise OSError(f"the temporary directory {work} would be inside the cache {cache_root}: set TMPDIR elsewhere")
    return work


def _prove(
    recipe: Recipe, uv: str, cache_root: Path, on_line: Callable[[str], None],
    should_stop: Callable[[], bool] | None, env: Mapping[str, str] | None,
) -> str | None:
    """Show uv can make what ``recipe`` would make, without touching the entry: ``None`` when it
    can, else uv's reason. Raises ``OSError`` when uv cannot be started."""
    if recipe.kind == "interpreter entry":
        said = _Said(on_line, "[proof] ")
        argv: tuple[str, ...] = (uv, "--no-cache", "python", "find", "--", recipe.python)
        on_line("[proof] $ " + shlex.join(argv))
        code = run_uv(argv, cache_root, said, should_stop=should_stop, env=env)
        return None if code == 0 else said.reason(code)
    work = _scratch(cache_root)
    try:
        venv = os.path.join(work, "venv")
        for argv in ((uv, "venv", "--no-project", "--python", recipe.python, "--", venv),
                     (uv, "pip", "install", "--python", os.path.join(venv, "bin", "python"), "--", *recipe.pins)):
            said = _Said(on_line, "[proof] ")
            on_line("[proof] $ " + shlex.join(argv))
            code = run_uv(argv, cache_root, said, should_stop=should_stop, env=env)
            if code != 0:
                return said.reason(code)
        return None
    finally:
        shutil.rmtree(work, ignore_errors=True)


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

    uv's output goes to ``on_line`` line by line (the proof's prefixed ``[proof] ``). An entry
    deleted first is first proven (:attr:`Recipe.proof`): when uv cannot build it aside, nothing
    is deleted and the message gives uv's reason. Deleting goes through a prune plan: an entry in
    use or locked is not deleted and uv does not run. Never raises for uv failing; raises
    ``OSError`` when uv cannot be started and ``CacheError`` for a root that must not be pruned.
    """
    uv = uv or find_uv()
    if uv is None:
        return RebuildResult(Recipe("?", record.path), None, False, "no uv found on PATH")
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
        why = _prove(recipe, uv, inv.root, on_line, should_stop, env)
        if why is not None:
            return RebuildResult(recipe, None, False, f"not rebuilt, {recipe.path} kept: uv cannot build it: {why}")
        result = execute_plan(plan, go_on_if_busy=True)
        if len(result.deleted) != len(plan.entries):
            why = result.skipped[-1].reason if result.skipped else (result.errors[0][1] if result.errors else "?")
            return RebuildResult(recipe, None, False, f"not deleted, so not rebuilt: {why}")
        on_line(f"deleted {recipe.path}")
    said = _Said(on_line)
    on_line("$ " + shlex.join(recipe.argv))
    code = run_uv(recipe.argv, inv.root, said, should_stop=should_stop, env=env)
    if code != 0:
        gone = " (it was deleted first and is gone)" if recipe.delete_first else ""
        return RebuildResult(recipe, code, False, f"uv failed{gone}: {said.reason(code)}")
    if isinstance(record, InterpreterEntry):
        after, changes = _reread_interpreter(record)
        if after is None:
            return RebuildResult(recipe, code, False, "uv ran, but wrote no interpreter entry for this executable")
        changed = [f"{f}: {a} -> {b}" for f, a, b in changes if a != b]
        return RebuildResult(recipe, code, True, "queried again; " + ("; ".join(changed) or "nothing changed"), changes)
    if record.kind == CACHED and not (os.path.islink(record.path) and os.path.isdir(record.path)):
        return RebuildResult(recipe, code, False,
                             f"uv ran, but made its environment under another key than {record.key}")
    if record.kind == SCRIPT and not any(_UV_CHANGED.match(line) for line in said.lines):
        return RebuildResult(recipe, code, True,
                             f"already up to date: uv checked {record.path} and installed nothing")
    return RebuildResult(recipe, code, True, f"rebuilt {record.path}")


# -- installed tools -------------------------------------------------------------------------------


def tool_bin_dir(tool: Tool) -> str | None:
    """The directory uv put ``tool``'s commands in (every entry point's ``install-path`` parent),
    or ``None`` when the receipt names none or several."""
    dirs = {str(e.install_path.parent) for e in tool.entry_points if e.install_path is not None}
    return dirs.pop() if len(dirs) == 1 else None


def _command_clash(proof_tool: Path, tool: Tool, bin_dir: str | None) -> str | None:
    """A command the proven install makes that ``bin_dir`` already holds for something other than
    ``tool``: uv 0.13.9 fails there after removing the old environment."""
    if bin_dir is None:
        return None
    own = {str(e.install_path) for e in tool.entry_points if e.install_path is not None}
    for e in read_tool(proof_tool).entry_points:
        where = os.path.join(bin_dir, e.name)
        if where not in own and presence(where) is not False:
            return f"{where} exists and is not one of {tool.name}'s commands"
    return None


#: How a reinstall's requirement files are shown before they exist (see :func:`tool_recipe`).
INPUTS_SHOWN = "<temporary directory>"


def tool_recipe(tool: Tool, uv: str) -> Recipe:
    """What :func:`reinstall_tool` would run for ``tool``, to show before it runs: the command (the
    receipt's requirement files shown under :data:`INPUTS_SHOWN`: they are written when it runs),
    or the ``problem`` that refuses it. Runs nothing; writes only in a temporary directory it removes."""
    with tempfile.TemporaryDirectory(prefix="envtui-recipe-") as work:
        try:
            argv = tool_reinstall_argv(uv, tool, workdir=work)
        except ValueError as err:
            return Recipe("tool", tool.path, problem=str(err))
    shown = tuple(a.replace(work, INPUTS_SHOWN) for a in argv)
    return Recipe("tool", tool.path, shown, proof="the same uv tool install into a temporary tool directory")


def reinstall_tool(
    tool: Tool,
    tool_dir: str | os.PathLike[str],
    cache_root: str | os.PathLike[str],
    on_line: Callable[[str], None],
    *,
    uv: str | None = None,
    env: Mapping[str, str] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> RebuildResult:
    """Reinstall the installed ``tool`` (read from ``tool_dir``) with ``uv tool install --reinstall``
    and everything its receipt records (:func:`~envtui.core.uvcli.tool_reinstall_argv`), using the
    uv cache ``cache_root`` and ``env`` (default: this process's) with ``UV_TOOL_DIR=tool_dir`` and
    ``UV_TOOL_BIN_DIR`` where the receipt's commands are.

    Refused, with nothing run: a tool ``uv tool list`` does not print, one a running process uses,
    a receipt holding a value that does not validate or that uv's command line cannot give. Then
    proven: the same command into a temporary tool and bin directory (outside the cache); when uv
    fails there, or a command it would link already belongs to something else, the tool is left as
    it is and the message gives uv's reason. Only then the real reinstall; if that fails the
    message says whether the tool is still there. Never raises for uv failing; raises ``OSError``
    when uv cannot be started."""
    uv = uv or find_uv()
    recipe = Recipe("tool", tool.path)
    if uv is None:
        return RebuildResult(recipe, None, False, "no uv found on PATH: tools are reinstalled through uv")
    tool_dir = os.path.abspath(tool_dir)
    cache_root = Path(cache_root)
    base = dict(os.environ if env is None else env)
    try:
        if tool.name not in installed_tools(uv, tool_dir, {**base, "UV_CACHE_DIR": str(cache_root)}):
            return RebuildResult(recipe, None, False, f"uv does not list {tool.name!r} among the tools in {tool_dir}")
    except UvFailed as err:
        return RebuildResult(recipe, None, False, f"uv tool list failed: {err.reason}")
    users = processes_using({str(tool.path): (tool.path,)}).get(str(tool.path))
    if users:
        p = users[0]
        how = "may be in use (its details cannot be read)" if p.uncertain else "is in use"
        return RebuildResult(recipe, None, False, f"not rebuilt: it {how} by process {p.pid} ({p.cmdline})"
                             + (f": {p.why}" if p.why else ""))
    work = _scratch(cache_root)
    try:
        inputs = os.path.join(work, "inputs")
        os.mkdir(inputs, 0o700)
        try:
            argv = tool_reinstall_argv(uv, tool, workdir=inputs)
        except ValueError as err:
            return RebuildResult(recipe, None, False, f"cannot rebuild {tool.path}: {err}")
        recipe = Recipe("tool", tool.path, argv, proof="the same uv tool install into a temporary tool directory")
        proof_env = {**base, "UV_TOOL_DIR": os.path.join(work, "tools"), "UV_TOOL_BIN_DIR": os.path.join(work, "bin")}
        said = _Said(on_line, "[proof] ")
        on_line("[proof] $ " + shlex.join(argv))
        code = run_uv(argv, cache_root, said, should_stop=should_stop, env=proof_env)
        if code != 0:
            return RebuildResult(recipe, None, False, f"not rebuilt, {tool.path} kept: uv cannot build it: {said.reason(code)}")
        bin_dir = tool_bin_dir(tool)
        clash = _command_clash(Path(work, "tools", tool.name), tool, bin_dir)
        if clash:
            return RebuildResult(recipe, None, False, f"not rebuilt, {tool.path} kept: {clash}")
        real_env = {**base, "UV_TOOL_DIR": tool_dir}
        if bin_dir is not None:
            real_env["UV_TOOL_BIN_DIR"] = bin_dir
        said = _Said(on_line)
        on_line("$ " + shlex.join(argv))
        code = run_uv(argv, cache_root, said, should_stop=should_stop, env=real_env)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if code != 0:
        there = {True: "still there", False: "gone", None: "in an unknown state"}[presence(tool.path / RECEIPT)]
        return RebuildResult(recipe, code, False, f"uv failed after the proof ({tool.path} is {there}): {said.reason(code)}")
    return RebuildResult(recipe, code, True, f"reinstalled {tool.name} ({tool.path})")
