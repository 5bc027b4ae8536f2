"""The safety rules for deleting beside the cache: project environments under the roots a user
gave, managed Pythons in uv's Python directory, installed tools in uv's tool directory.

:class:`OutsideRules` answers the same questions as the cache's
:class:`~envtui.core.prune.safety.Rules` (is this path one the plan may delete, is a filesystem
mounted inside it, how is it resolved), so that these plans go through the very same pipeline:
:func:`~envtui.core.prune.safety.vet` to check them, :func:`~envtui.core.prune.execute_plan` to
run them, checked again right before. Nothing outside the cache is linked to by uv's buckets, so
the reference rules never apply here; the hardlinks into the cache count in the bytes as they do
for a cache entry (an inode is freed only when every one of its links goes).

Containment is :mod:`envtui.core.contain`'s one rule: resolved paths, then ``(st_dev, st_ino)``
where spellings differ.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Iterable

from ..contain import GONE_ERRNOS, Container, below, inside_any, resolve_parent
from .records import PROJECTS, PYTHONS, TOOLS, PlanEntry
from .remover import _homes, mount_points

__all__ = ["OutsideRules", "RECEIPT"]

RECEIPT = "uv-receipt.toml"


DIRECTORY, SYMLINK, REGULAR = "a directory", "a symlink", "a regular file"


def _kind(path: str) -> str:
    """What ``path`` is, not followed, said for a person: :data:`DIRECTORY`, :data:`SYMLINK`,
    :data:`REGULAR`, ``"neither a directory, a regular file nor a symlink"`` (a FIFO, a socket, a
    device), ``"gone"`` (``ENOENT``, ``ENOTDIR``) or ``"out of reach (<why>)"`` for any other
    error: unknown, never gone."""
    try:
        mode = os.lstat(path).st_mode
    except OSError as err:
        return "gone" if err.errno in GONE_ERRNOS else f"out of reach ({err.strerror})"
    if stat.S_ISDIR(mode):
        return DIRECTORY
    if stat.S_ISLNK(mode):
        return SYMLINK
    return REGULAR if stat.S_ISREG(mode) else "neither a directory, a regular file nor a symlink"


class OutsideRules:
    """The rules for one place beside the cache (``scope``: :data:`~envtui.core.prune.records.PROJECTS`,
    :data:`~envtui.core.prune.records.PYTHONS` or :data:`~envtui.core.prune.records.TOOLS`).

    ``roots`` are the directories every deleted path must lie strictly inside (the user's roots;
    uv's Python directory; uv's tool directory); ``keep_out`` are directories no deleted path may
    lie in (uv's cache, Python and tool directories, for project environments: what lies there is
    deleted by its own rules). Raises ``ValueError`` for an unknown scope or no root."""

    def __init__(self, scope: str, roots: Iterable[str | os.PathLike[str]], *,
                 keep_out: Iterable[str | os.PathLike[str]] = (), mounts: Iterable[str] | None = None) -> None:
        if scope not in (PROJECTS, PYTHONS, TOOLS):
            raise ValueError(f"no rules for deleting {scope!r} outside the cache")
        self.scope = scope
        """What is deleted."""
        self.containers = [Container(r) for r in roots]
        if not self.containers:
            raise ValueError(f"deleting {scope} needs a root to delete inside")
        self.root = Path(self.containers[0].top)
        """The first root, resolved."""
        self.roots = tuple(Path(c.top) for c in self.containers)
        """Every root, resolved."""
        self.keep_out = [Container(k) for k in keep_out]
        self._mounts = None if mounts is None else frozenset(mounts)

    # -- paths -------------------------------------------------------------------------------------

    def resolve(self, path: str | os.PathLike[str]) -> str:
        """``path`` as a deletion reaches it: its parent resolved, its last component not followed."""
        return resolve_parent(path)

    def root_of(self, path: str | os.PathLike[str]) -> str | None:
        """The resolved root that holds ``path`` strictly (its parent resolved), or ``None``."""
        found = inside_any(path, self.containers, strict=True, follow=False)
        return None if found is None else found.top

    def guard(self, path: str | os.PathLike[str], *, whole_bucket: bool = False) -> str | None:
        """Why ``path`` must not be deleted, or ``None``: it must lie strictly inside a root (by
        :mod:`~envtui.core.contain`'s rule, its parent resolved), never in a ``keep_out``
        directory, and never be a filesystem root or a home directory. ``whole_bucket`` has no
        meaning here (no bucket is ever deleted outside the cache)."""
        full = self.resolve(path)
        if whole_bucket:
            return f"{full}: there are no buckets outside the cache"
        if self.root_of(full) is None:
            return f"{full} is not inside {' or '.join(map(str, self.roots))}"
        if full == os.sep or full in _homes():
            return f"{full} is a home directory or the filesystem root"
        kept = inside_any(full, self.keep_out, follow=False)
        if kept is not None:
            return f"{full} lies in {kept.top}, which is pruned by its own rules, not as a {self.scope[:-1]}"
        return None

    def check_entry(self, entry: PlanEntry) -> str | None:
        """Why ``entry`` as a whole is not what its scope deletes, or ``None``: a project
        environment is a real directory (no symlink) holding a regular ``pyvenv.cfg``; a managed
        Python or a tool is a real directory directly in uv's directory (a tool holding a regular
        ``uv-receipt.toml``), and a Python's other paths are symlinks beside it."""
        path = os.path.abspath(entry.path)
        kind = _kind(path)
        if kind != DIRECTORY:
            return f"{path} is {kind}"
        if self.scope == PROJECTS:
            if _kind(os.path.join(path, "pyvenv.cfg")) != REGULAR:
                return f"{path} holds no regular pyvenv.cfg: not a virtual environment"
            return None
        parent = os.path.realpath(os.path.dirname(path))
        if parent not in (c.top for c in self.containers):
            return f"{path} is not directly in {' or '.join(map(str, self.roots))}"
        if self.scope == TOOLS and _kind(os.path.join(path, RECEIPT)) != REGULAR:
            return f"{path} holds no regular {RECEIPT}: not a tool uv installed"
        for extra in entry.paths:
            if os.path.abspath(extra) != path and (
                    _kind(os.fspath(extra)) != SYMLINK or os.path.realpath(os.path.dirname(extra)) != parent):
                return f"{extra} is not a link beside {path}"
        return None

    @property
    def mounts(self) -> frozenset[str]:
        """Mount points strictly inside the roots (read once)."""
        if self._mounts is None:
            tops = [c.top for c in self.containers]
            self._mounts = frozenset(m for m in mount_points() if any(below(m, t, strict=True) for t in tops))
        return self._mounts

    def mount_inside(self, path: str | os.PathLike[str]) -> str | None:
        """A mount point at or below ``path`` (its parent resolved), or ``None``: deleting never
        crosses into another filesystem, and a bind mount is one too."""
        real = self.resolve(path)
        return next((m for m in sorted(self.mounts) if below(m, real)), None)

    # -- references: none outside the cache --------------------------------------------------------

    def archive_related(self, real: str) -> bool:
        """Never: no uv bucket links into these places."""
        return False

    def archive_entry_of(self, path: str) -> str | None:
        """Never: there are no archive entries here."""
        return None
