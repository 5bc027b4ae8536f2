"""What prune plans need to know beyond the inventory: archive entries and who links to them,
dangling links and ``.tmp*`` leftovers, inodes kept environments share, and disk accounting.

Mirrors ``Cache::find_archive_references`` (crates/uv-cache/src/lib.rs), which counts only the
``wheels-vN``/``sdists-vN`` symlinks; here the links of ``environments-vN`` count too, and so do
hardlinks: uv 0.13 installing from a local ``--find-links`` leaves archive entries with no link at
all that environments hardlink their files from.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterable, Iterator

from ..buckets import Bucket
from ..environments import CACHED, DANGLING, SCRIPT, Environment
from ..inventory import Inventory
from .remover import TMP_PREFIX
from ..archive import archive_links
from ..disk.walk import disk_usage, walk_entry

if TYPE_CHECKING:
    from .planner import PlanEntry, _Planner

__all__ = ["CacheFacts", "gather_facts"]


@dataclass
class CacheFacts:
    """Links, archive entries and leftovers of one cache, gathered once per plan."""

    root: Path
    """The cache root, as the inventory has it."""
    buckets: dict[str, Bucket]
    """Top-level name to :class:`Bucket`."""
    environments: tuple[Environment, ...]
    """Every environment of the inventory."""
    references: dict[str, set[str]] = field(default_factory=dict)
    """Normalised archive path to the links (environment, wheel, sdist) pointing at it."""
    bucket_links: list[str] = field(default_factory=list)
    """Symlinks found in ``wheels-vN``/``sdists-vN`` buckets (any version)."""
    archives: list[Path] = field(default_factory=list)
    """Entries of the ``archive-vN`` buckets of known age, ``.tmp*`` names excluded."""

    def _buckets(self, *names: str, deletable: bool = True) -> list[Bucket]:
        return [
            b for b in self.buckets.values()
            if b.kind == "bucket" and b.name in names and (not deletable or b.age in ("current", "older"))
        ]

    def archive_entry(self, path: Path) -> "PlanEntry":
        from .planner import ARCHIVE, PlanEntry

        return PlanEntry(ARCHIVE, path, (path,), path.name, (), uses=(path,), needs_exclusive=True)

    def all_entries(self, pl: "_Planner") -> Iterator["PlanEntry"]:
        """Every archive entry and environment: what a running process could be using."""
        for path in self.archives:
            yield self.archive_entry(path)
        for env in self.environments:
            yield pl.env_entry(env)

    def orphan_reason(self, env: Environment, gone_scripts: dict[str, str]) -> str | None:
        """Why ``env`` is an orphan (its known script or its base interpreter is gone), or ``None``.
        ``gone_scripts`` maps script environment names to known script paths that no longer exist."""
        if env.kind == SCRIPT:
            script = env.script if env.script and not os.path.lexists(env.script) else gone_scripts.get(env.key)
            if script:
                return f"orphan: its script {script} is gone"
        root = env.root
        if root is None:
            return None
        python = root / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
        if os.path.islink(python) and not os.path.exists(python):
            return f"orphan: its base interpreter {os.readlink(python)} is gone"
        if env.home and not os.path.isdir(env.home):
            return f"orphan: its base interpreter's directory {env.home} is gone"
        return None

    def dangling(self, pl: "_Planner") -> Iterator["PlanEntry"]:
        """Environment links whose target is gone; ``wheels``/``sdists`` links likewise; and
        ``.tmp*`` leftovers at the root, in buckets and in environment groups."""
        from .planner import LEFTOVER, LINK, PlanEntry

        for env in self.environments:
            if env.kind == CACHED and env.status == DANGLING:
                yield pl.env_entry(env)
        deletable = {b.dirname for b in self._buckets("wheels", "sdists")}
        for link in self.bucket_links:
            top = os.path.relpath(link, self.root).split(os.sep, 1)[0]
            if top in deletable and not os.path.exists(link):
                yield PlanEntry(LINK, Path(link), (Path(link),), os.path.basename(link), (), needs_exclusive=True)
        places = [self.root] + [b.path for b in self.buckets.values() if b.kind == "bucket" and b.age in ("current", "older")]
        for b in self._buckets("environments"):
            places += [Path(e.path) for e in _scandir(b.path) if e.is_dir(follow_symlinks=False) and len(e.name) == 16]
        for place in places:
            for e in _scandir(place):
                if e.name.startswith(TMP_PREFIX):
                    path = Path(e.path)
                    yield PlanEntry(LEFTOVER, path, (path,), e.name, (), uses=(path,), needs_exclusive=True)

    def unreferenced(self, pl: "_Planner") -> Iterator[tuple["PlanEntry", str | None]]:
        """Archive entries no link points at, each with ``None``, or with why it stays (a kept
        environment shares an inode with it)."""
        planned = set(pl.drafts)
        kept_inodes: dict[tuple[int, int], str] = {}
        for env in self.environments:
            if env.path in planned or env.root is None:
                continue
            for fs in walk_entry(env.root, should_stop=pl.should_stop):
                if not fs.is_dir and fs.nlink > 1:
                    kept_inodes.setdefault((fs.dev, fs.ino), str(env.path))
        for path in self.archives:
            if os.path.normpath(path) in self.references:
                continue
            user = next(
                (kept_inodes[(fs.dev, fs.ino)] for fs in walk_entry(path, should_stop=pl.should_stop)
                 if not fs.is_dir and (fs.dev, fs.ino) in kept_inodes),
                None,
            )
            entry = self.archive_entry(path)
            yield entry, (None if user is None else f"no link, but the environment {user} hardlinks its files")

    def cache_usage(self, *, should_stop: Callable[[], bool] | None = None) -> int:
        """Disk bytes of the whole cache, each inode once."""
        return disk_usage(self.root, should_stop=should_stop)


def _scandir(path: Path) -> list[os.DirEntry]:
    try:
        with os.scandir(path) as it:
            return sorted(it, key=lambda e: e.name)
    except OSError:
        return []


def gather_facts(inv: Inventory, *, should_stop: Callable[[], bool] | None = None) -> CacheFacts:
    """Collect links, archive entries and references of the cache ``inv`` was scanned from.
    Unreadable directories are passed over (their entries are then never candidates)."""
    facts = CacheFacts(inv.root, {b.dirname: b for b in inv.buckets}, inv.environments)
    for env in inv.environments:
        if env.kind == CACHED and env.link_target is not None:
            facts.references.setdefault(os.path.normpath(env.link_target), set()).add(str(env.path))
    links = archive_links(facts.buckets.values(), names=("wheels", "sdists"), should_stop=should_stop)
    for target, found in links.items():
        facts.references.setdefault(target, set()).update(map(str, found))
        facts.bucket_links += map(str, found)
    for bucket in facts._buckets("archive"):
        facts.archives += [Path(e.path) for e in _scandir(bucket.path) if not e.name.startswith(TMP_PREFIX)]
    return facts
