"""The records of a prune: what a plan deletes (:class:`PlanEntry`), what it leaves alone and why
(:class:`Skipped`), the plan itself (:class:`Plan`) and the policies that choose (:class:`Policies`).
Every record is frozen; :mod:`envtui.core.prune.planner` makes them, the executor runs them."""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass, field
from pathlib import Path

from typing import TYPE_CHECKING

from ..locks import ProcessInfo

if TYPE_CHECKING:
    from .maxsize import SizeTarget
    from .safety import Vetted

__all__ = ["CACHE", "PROJECTS", "PYTHONS", "SCOPES", "TOOLS", "Kind", "Plan", "PlanEntry", "Policies", "Skipped", "UvCommand"]


class Kind(str, enum.Enum):
    """What a plan entry is. A ``str``: compares equal to, prints and serialises as its value
    (``Kind.SCRIPT_ENV == "script environment"``)."""

    SCRIPT_ENV = "script environment"
    """A script environment: a venv at its stable path in ``environments-vN``."""
    CACHED_ENV = "cached environment"
    """A cached environment: a link in ``environments-vN`` (with its lock, and its archive target)."""
    ARCHIVE = "archive entry"
    """An ``archive-vN/<id>`` entry on its own (nothing links to it)."""
    LINK = "link"
    """A link alone (a dangling one, or one whose target is not an archive entry)."""
    LEFTOVER = "leftover"
    """A ``.tmp*`` name an interrupted uv left."""
    INTERPRETER = "interpreter entry"
    """An interpreter query (``interpreter-vN/<shard>/<key>.msgpack``)."""
    CACHE_ENTRY = "cache entry"
    """Any other entry inside a bucket (a wheel-cache directory, an index page...)."""
    BUCKET = "bucket"
    """A whole ``NAME-vN`` bucket (as ``uv cache clean`` clears it): only with uv's root lock."""
    PROJECT_ENV = "project environment"
    """A virtual environment under a root the user gave (a project's ``.venv``), outside the cache."""
    MANAGED_PYTHON = "managed Python"
    """An installation in uv's Python directory, uninstalled through ``uv python uninstall``."""
    TOOL = "tool"
    """An installed tool in uv's tool directory, uninstalled through ``uv tool uninstall``."""

    def __str__(self) -> str:
        return self.value

    def __format__(self, spec: str) -> str:
        return format(self.value, spec)


@dataclass(frozen=True)
class Policies:
    """Which entries to prune; combinable (an entry any policy selects is in the plan)."""

    unreferenced: bool = False
    """Archive entries nothing links to and no kept environment shares an inode with."""
    dangling: bool = False
    """Links whose target is gone, and ``.tmp*`` leftovers whose writer is gone."""
    orphans: bool = False
    """Environments whose base interpreter is gone; script environments whose known script is gone."""
    older_than_days: float | None = None
    """Environments not used for this many days (see :func:`~envtui.core.prune.last_used`)."""
    keep_latest: int | None = None
    """Per tool, keep this many most recently used cached environments; prune the rest."""
    max_size: int | None = None
    """Bytes: prune least recently used environments until the cache's disk usage fits."""
    interpreters: bool = False
    """Stale, missing and corrupt interpreter entries."""

    def __post_init__(self) -> None:
        """Refuse values no policy can mean: raises ``ValueError`` naming the field and the value
        (a negative or non-finite age, a negative count or size)."""
        age, keep, limit = self.older_than_days, self.keep_latest, self.max_size
        if age is not None and (isinstance(age, bool) or not isinstance(age, (int, float))
                                or not math.isfinite(age) or age < 0):
            raise ValueError(f"older_than_days must be a finite number of days, 0 or more, not {age!r}")
        if keep is not None and (isinstance(keep, bool) or not isinstance(keep, int) or keep < 0):
            raise ValueError(f"keep_latest must be a whole number, 0 or more, not {keep!r}")
        if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 0):
            raise ValueError(f"max_size must be a whole number of bytes, 0 or more, not {limit!r}")

    def any(self) -> bool:
        """Whether at least one policy is set."""
        return any(
            (self.unreferenced, self.dangling, self.orphans, self.interpreters)
        ) or any(v is not None for v in (self.older_than_days, self.keep_latest, self.max_size))


#: Where a plan deletes: uv's cache (the default), or a place beside it with roots of its own.
CACHE, PROJECTS, PYTHONS, TOOLS = "cache", "project environments", "managed Pythons", "tools"
SCOPES = (CACHE, PROJECTS, PYTHONS, TOOLS)


@dataclass(frozen=True)
class UvCommand:
    """A uv command that deletes an entry in uv's own way (an uninstall), built only from values
    uv itself reported (see :mod:`envtui.core.uvcli`)."""

    argv: tuple[str, ...]
    """The command, uv first."""
    env: tuple[tuple[str, str], ...] = ()
    """Variables set for it (``UV_CACHE_DIR``, ``UV_PYTHON_INSTALL_DIR``, ``UV_TOOL_DIR``...)."""


@dataclass(frozen=True)
class PlanEntry:
    """One cache entry the plan deletes (or a candidate for it: see ``plan_entries``)."""

    kind: Kind
    """What it is."""
    path: Path
    """The entry: a stable path, a link, an archive directory, a ``.msgpack`` file."""
    paths: tuple[Path, ...]
    """What is deleted, in order: a cached environment's link, then its lock, then its target."""
    label: str
    """A name for people: the tool, the script, the executable."""
    reasons: tuple[str, ...] = ()
    """Why it is in the plan (the policies that chose it, or "marked")."""
    lock: Path | None = None
    """The entry's own uv lock (``<rhash>.lock``, ``<venv>/.lock``), probed before deleting and
    held while deleting."""
    uses: tuple[Path, ...] = ()
    """Directories a running process must not be using (the venv, link and archive target)."""
    needs_exclusive: bool = False
    """Only safe while uv's root lock is held exclusively (an unlinked archive entry or a
    ``.tmp*`` name may be a uv's work in flight)."""
    last_used: float | None = None
    """Epoch seconds, for environments (see :func:`~envtui.core.prune.last_used`)."""
    bytes_alone: int = 0
    """Disk bytes deleting only this entry frees."""
    bytes_with_plan: int = 0
    """Disk bytes of this entry freed when the whole plan runs (files it shares with other
    planned entries count for each of them)."""
    command: UvCommand | None = None
    """When set, the entry is deleted by running this uv command (no lock held meanwhile), not
    by envtui's remover; afterwards every one of ``paths`` must be gone, and nothing else in
    their directory."""


@dataclass(frozen=True)
class Skipped:
    """An entry a policy chose (or was marked) but the plan, or its run, leaves alone."""

    path: Path
    """The entry."""
    kind: Kind
    """As :attr:`PlanEntry.kind`."""
    reason: str
    """Why, for a person."""
    processes: tuple[ProcessInfo, ...] = ()
    """The processes using it, when that is the reason."""


@dataclass(frozen=True)
class Plan:
    """What a prune deletes: shown first, then run as it is (checked again)."""

    root: Path
    """The resolved cache root."""
    entries: tuple[PlanEntry, ...]
    """Entries to delete, in deletion order."""
    skipped: tuple[Skipped, ...]
    """Entries chosen but left alone, with reasons."""
    bytes_freed: int
    """Disk bytes deleting every entry frees (``st_blocks * 512``; hardlinks counted once, only
    inodes whose every link is in the plan)."""
    apparent_freed: int
    """The same in apparent bytes (``st_size``)."""
    exclusive: bool
    """Whether uv's root lock was free when the plan was made (no uv was running)."""
    lock_holders: tuple[ProcessInfo, ...] = ()
    """The processes holding uv's root lock, when it was not free."""
    cache_bytes: int | None = None
    """The cache's disk usage before the prune, when a policy needed it (``--max-size``)."""
    policies: Policies | None = None
    """The policies, or ``None`` for a plan of marked entries."""
    size_target: "SizeTarget | None" = None
    """With ``--max-size``: how close the plan brings the cache to it, and what holds the rest."""
    unreadable: tuple[tuple[str, str], ...] = ()
    """``(path, why)`` of what inside the entries could not be walked (a directory this user may
    not read): its bytes are in none of the figures, which are then not exact."""
    scope: str = CACHE
    """Where it deletes: :data:`CACHE`, or :data:`PROJECTS`, :data:`PYTHONS`, :data:`TOOLS` (outside
    the cache, inside :attr:`roots`)."""
    roots: tuple[Path, ...] = ()
    """Outside the cache: the directories every entry must lie strictly inside (the roots the
    user gave, uv's Python directory, uv's tool directory), resolved."""
    keep_out: tuple[Path, ...] = ()
    """Outside the cache: directories no entry may lie in (uv's cache, Python and tool directories,
    for project environments: what lies there is deleted by its own rules)."""
    notes: tuple[str, ...] = ()
    """What the plan could not see and a person should know before saying yes (venvs outside the
    roots, processes of other users...)."""
    vetted: "Vetted | None" = field(default=None, compare=False, repr=False)
    """Set when the plan was made under a root lock the caller holds (``under=``): what its
    checks saw, which :func:`~envtui.core.prune.execute_plan` reuses under that same lock."""
