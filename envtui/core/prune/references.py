"""What prune plans need to know beyond the inventory: archive entries, dangling links and
``.tmp*`` leftovers, orphans, and the cache's disk usage. Who links to what is found by
:meth:`envtui.core.prune.safety.Rules.find_references` (every link, every bucket, any version);
hardlinks into archive entries are judged by :func:`envtui.core.prune.safety.vet`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterator

from ..buckets import Bucket
from ..contain import presence
from ..environments import CACHED, DANGLING, SCRIPT, Environment
from ..inventory import Inventory
from .records import Kind, PlanEntry
from .remover import TMP_PREFIX
from .safety import DELETABLE_AGES, UV_TEMP_NAME, Rules
from ..disk.walk import disk_usage

if TYPE_CHECKING:
    from .planner import _Planner

__all__ = ["CacheFacts", "gather_facts"]


@dataclass
class CacheFacts:
    """Archive entries, environments and leftovers of one cache, gathered once per plan."""

    root: Path
    """The cache root, as the inventory has it."""
    rules: Rules
    """The safety rules of the cache (its resolved root, its buckets, its references)."""
    buckets: dict[str, Bucket]
    """Top-level name to :class:`Bucket`."""
    environments: tuple[Environment, ...]
    """Every environment of the inventory."""
    archives: list[Path] = field(default_factory=list)
    """Entries of the ``archive-vN`` buckets of known age, ``.tmp*`` names excluded."""

    def _buckets(self, *names: str) -> list[Bucket]:
        """The buckets called ``names`` that may be deleted from (uv 0.13's and older)."""
        return [b for b in self.buckets.values() if b.kind == "bucket" and b.name in names and b.age in DELETABLE_AGES]

    def archive_entry(self, path: Path) -> PlanEntry:
        """The plan entry deleting one archive entry on its own."""
        return PlanEntry(Kind.ARCHIVE, path, (path,), path.name, uses=(path,), needs_exclusive=True)

    def orphan_reason(self, env: Environment, gone_scripts: dict[str, str]) -> str | None:
        """Why ``env`` is an orphan (its known script or its base interpreter is gone), or ``None``.
        ``gone_scripts`` maps script environment names to known script paths that no longer exist
        (each is asked again here). Gone means the system said so (``ENOENT``/``ENOTDIR``, see
        :func:`~envtui.core.contain.presence`): a script, interpreter or directory that cannot be
        checked (permission denied, I/O error) is unknown, never gone, and makes no orphan
        (:meth:`orphan_doubt` says why)."""
        return self._orphan(env, gone_scripts)[0]

    def orphan_doubt(self, env: Environment, gone_scripts: dict[str, str]) -> str | None:
        """When ``env`` is no orphan (:meth:`orphan_reason` is ``None``) only because something it
        needs could not be checked: what, for a plan to list it as skipped; else ``None``."""
        return self._orphan(env, gone_scripts)[1]

    def _orphan(self, env: Environment, gone_scripts: dict[str, str]) -> tuple[str | None, str | None]:
        """``(why it is an orphan, None)``, or ``(None, what could not be checked or None)``."""
        doubts = []
        if env.kind == SCRIPT:
            for script in dict.fromkeys(s for s in (env.script, gone_scripts.get(env.key)) if s):
                there = presence(script)
                if there is False:
                    return f"orphan: its script {script} is gone", None
                if there is None:
                    doubts.append(f"its script {script}")
        # Through the stable path: a cached environment's link leads to its venv, a dangling one nowhere.
        python = env.python
        if os.path.islink(python):
            there = presence(os.path.realpath(python))
            if there is False:
                return f"orphan: its base interpreter {os.readlink(python)} is gone", None
            if there is None:
                doubts.append(f"its base interpreter {os.readlink(python)}")
        if env.home and os.path.isabs(env.home):
            there = presence(os.path.realpath(env.home))
            if there is False:
                return f"orphan: its base interpreter's directory {env.home} is gone", None
            if there is None:
                doubts.append(f"its base interpreter's directory {env.home}")
        return None, f"not known to be an orphan: {' and '.join(doubts)} could not be checked" if doubts else None

    def dangling(self, pl: "_Planner") -> Iterator[PlanEntry]:
        """Environment links whose target is gone; ``wheels``/``sdists`` links likewise (gone as
        :func:`~envtui.core.contain.presence` says: ``ENOENT``/``ENOTDIR``, never a target that
        cannot be checked); and ``.tmp*`` leftovers at the root, in buckets and in environment
        groups."""
        for env in self.environments:
            # Gone as the system says it: a target that cannot be checked is unknown, not gone.
            if env.kind == CACHED and env.status == DANGLING and presence(os.path.realpath(env.path)) is False:
                yield pl.env_entry(env)
        deletable = {os.path.join(str(self.rules.root), b.dirname) for b in self._buckets("wheels", "sdists")}
        links = sorted({link for found in pl.look.refs().links.values() for link in found})
        for link in links:
            top = os.path.join(str(self.rules.root), os.path.relpath(link, self.rules.root).partition(os.sep)[0])
            if top in deletable and presence(os.path.realpath(link)) is False:
                path = Path(link)
                yield PlanEntry(Kind.LINK, path, (path,), path.name, needs_exclusive=True)
        places = [self.root] + [b.path for b in self.buckets.values() if b.kind == "bucket" and b.age in DELETABLE_AGES]
        for b in self._buckets("environments"):
            places += [Path(e.path) for e in _scandir(b.path) if e.is_dir(follow_symlinks=False) and len(e.name) == 16]
        for place in places:
            for e in _scandir(place):
                # Only uv's own naming (the tempfile crate's): a cache root shared with other
                # programs (UV_CACHE_DIR=~/.cache) holds their temporary directories too.
                if UV_TEMP_NAME.fullmatch(e.name):
                    path = Path(e.path)
                    yield PlanEntry(Kind.LEFTOVER, path, (path,), e.name, uses=(path,), needs_exclusive=True)

    def unreferenced(self, pl: "_Planner") -> Iterator[PlanEntry]:
        """Archive entries no link outside the plan points at. Whether something kept still
        hardlinks their files is judged with the whole plan (:func:`~envtui.core.prune.safety.vet`)."""
        rules = self.rules
        planned = {rules.resolve(p) for d in pl.drafts.values() for p in d.entry.paths}
        refs = pl.look.refs()
        for path in self.archives:
            if rules.resolve(path) not in planned and not refs.outside(rules, path, planned):
                yield self.archive_entry(path)

    def cache_usage(self, *, should_stop: Callable[[], bool] | None = None) -> int:
        """Disk bytes of the whole cache, each inode once (``du -sB1``), walked from its root
        resolved: a root spelled through a symlink is the cache, not the link."""
        return disk_usage(self.rules.root, should_stop=should_stop)


def _scandir(path: Path) -> list[os.DirEntry[str]]:
    try:
        with os.scandir(path) as it:
            return sorted(it, key=lambda e: e.name)
    except OSError:
        return []


def gather_facts(inv: Inventory, rules: Rules, *, should_stop: Callable[[], bool] | None = None) -> CacheFacts:
    """Collect the archive entries of the cache ``inv`` was scanned from. Unreadable
    directories are passed over (their entries are then never candidates)."""
    facts = CacheFacts(inv.root, rules, {b.dirname: b for b in inv.buckets}, inv.environments)
    facts.archives = [Path(e.path) for b in facts._buckets("archive") for e in _scandir(b.path)
                      if not e.name.startswith(TMP_PREFIX)]
    return facts
