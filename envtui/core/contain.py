"""The one containment rule: is this path inside that one? And the one answer to "is it still
there?", where anything but "it does not exist" is *unknown*, never *gone*.

Every guard of envtui that decides what may be deleted, what an environment runs on or whether a
script is gone asks here, so that a path spelled with ``..``, through a symlink, or through
another mount of the same directory (a bind mount) gets the same answer everywhere.

* :func:`inside` compares resolved paths (``os.path.realpath``), then, when the spellings differ,
  the ``(st_dev, st_ino)`` of the path's directories against the top's: a bind mount of a directory
  is the same inode on the same device, whatever it is called.
* :func:`presence` is ``True`` (there), ``False`` (``ENOENT``/``ENOTDIR``: gone) or ``None``
  (permission denied, I/O error...: unknown). An unknown script, interpreter or Python is never
  taken for a missing one.
"""

from __future__ import annotations

import errno
import os
import stat
from typing import Iterable, Iterator

__all__ = ["Container", "GONE_ERRNOS", "ancestors", "below", "inside", "inside_any", "presence", "resolve_parent", "under_any"]

#: The errors that say a path does not exist; any other error leaves it unknown.
GONE_ERRNOS = frozenset({errno.ENOENT, errno.ENOTDIR})


def presence(path: str | os.PathLike[str]) -> bool | None:
    """Whether ``path`` exists (``lstat``: a dangling symlink exists): ``True``; ``False`` only when
    the system says it does not (``ENOENT``, ``ENOTDIR``); ``None`` for any other error
    (``EACCES`` on a directory above it, ``EIO``, ``ELOOP``...): unknown, never gone."""
    try:
        os.lstat(path)
    except OSError as err:
        return False if err.errno in GONE_ERRNOS else None
    return True


def resolve_parent(path: str | os.PathLike[str]) -> str:
    """``path`` absolute, its parent resolved and its last component kept as it is (a deletion
    removes a link, not what it points at). ``..`` is resolved after the link it follows, as the
    kernel does."""
    # Not abspath: its ".." would be read before the links. realpath makes a relative parent
    # absolute against the working directory, as the kernel reads it.
    parent, name = os.path.split(os.fspath(path).rstrip(os.sep))
    if name in ("", ".", ".."):  # "/" (all stripped), "", "x/.", "x/..": no last component to keep
        return os.path.realpath(path)
    return os.path.join(os.path.realpath(parent), name)


def below(path: str, top: str, *, strict: bool = False) -> bool:
    """Whether the already resolved ``path`` is ``top`` (unless ``strict``) or lies below it,
    compared as spelled: for paths that are resolved once and compared many times (mount points
    from ``mountinfo``, a plan's resolved paths). Anything else asks :func:`inside`."""
    if path == top:
        return not strict
    return path.startswith(top if top.endswith(os.sep) else top + os.sep)


def ancestors(path: str) -> Iterator[str]:
    """The directories above ``path`` (as spelled, not resolved), nearest first, ``/`` last for an
    absolute path."""
    while True:
        parent = os.path.dirname(path)
        if parent in (path, ""):  # "/" is its own parent; a relative path ends with ""
            return
        yield parent
        path = parent


def under_any(path: str, tops: set[str] | dict[str, object]) -> bool:
    """Whether the already resolved ``path`` is one of the resolved ``tops`` or lies below one of
    them (:func:`below` against a set: one lookup per directory above ``path``)."""
    return path in tops or any(a in tops for a in ancestors(path))


def _ident(path: str) -> tuple[int, int] | None:
    """``(st_dev, st_ino)`` of the directory ``path``, not followed: callers pass resolved paths,
    or (``resolve_parent``) a last component that, being a link, must not count as its target."""
    try:
        st = os.lstat(path)
    except OSError:
        return None
    return (st.st_dev, st.st_ino) if stat.S_ISDIR(st.st_mode) else None


class Container:
    """The directory ``top``, resolved once (path and ``(st_dev, st_ino)``), to ask whether paths
    lie inside it. ``top`` need not exist (then only spellings are compared)."""

    def __init__(self, top: str | os.PathLike[str]) -> None:
        self.top = os.path.realpath(os.fspath(top))
        """``top`` resolved."""
        self.ident = _ident(self.top)
        """``(st_dev, st_ino)`` of ``top``, or ``None`` when it cannot be stat-ed."""
        self._idents: dict[str, tuple[int, int] | None] = {}

    def _ident_of(self, directory: str) -> tuple[int, int] | None:
        try:
            return self._idents[directory]
        except KeyError:
            found = self._idents[directory] = _ident(directory)
            return found

    def holds(self, path: str | os.PathLike[str], *, strict: bool = False, follow: bool = True) -> bool:
        """Whether ``path`` is ``top`` (unless ``strict``) or lies below it.

        ``path`` is made absolute and resolved: whole with ``follow``, else its parent only (see
        :func:`resolve_parent`; a link inside ``top`` pointing out is still inside). When the
        resolved spelling is not below ``top``, each directory above it (and, with ``follow``, it)
        is compared with ``top`` by ``(st_dev, st_ino)``: another mount of the same directory is
        the same directory. A directory that cannot be stat-ed matches nothing."""
        real = os.path.realpath(os.fspath(path)) if follow else resolve_parent(path)
        return self.holds_resolved(real, strict=strict)

    def holds_resolved(self, real: str, *, strict: bool = False) -> bool:
        """:meth:`holds` for a ``path`` already resolved as it says (``os.path.realpath``, or
        :func:`resolve_parent` when a last component that is a link is not to be followed): for
        callers that ask about one path against many tops."""
        if below(real, self.top, strict=strict):
            return True
        if self.ident is None:
            return False
        if not strict and _ident(real) == self.ident:
            return True  # the top itself, spelled through another mount
        here = real
        while True:
            parent = os.path.dirname(here)
            if parent == here:
                return False
            here = parent
            if self._ident_of(here) == self.ident:
                return True


def inside(path: str | os.PathLike[str], top: str | os.PathLike[str], *, strict: bool = False, follow: bool = True) -> bool:
    """Whether ``path`` is ``top`` (unless ``strict``) or lies below it, both resolved, and by
    ``(st_dev, st_ino)`` where the spellings differ (a bind mount). See :meth:`Container.holds`."""
    return Container(top).holds(path, strict=strict, follow=follow)


def inside_any(path: str | os.PathLike[str], tops: Iterable[Container], *, strict: bool = False,
               follow: bool = True) -> Container | None:
    """The first of ``tops`` holding ``path`` (see :meth:`Container.holds`), or ``None``."""
    return next((t for t in tops if t.holds(path, strict=strict, follow=follow)), None)
