"""Deleting inside a uv cache without ever following a symlink, leaving the cache root or crossing
into another filesystem; counting what it frees as it goes.

Mirrors the intent of uv's ``Remover::rm_rf`` (crates/uv-cache/src/removal.rs): links are removed,
never their targets; read-only files and directories are made deletable by chmod-ing the directory
that holds them.
"""

from __future__ import annotations

import errno
import os
import pwd
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from ..buckets import check_cache_root
from ..fsread import MIB, read_regular
from ..errors import CacheError, EntryError

__all__ = ["MAX_OPEN_DIRS", "Removal", "TMP_PREFIX", "UnsafePathError", "check_prune_root", "mount_points", "remove_path"]

#: Names uv gives its temporary files and directories (``tempfile::tempdir_in``), at the cache root
#: (crates/uv-distribution/src/distribution_database.rs) and inside buckets.
TMP_PREFIX = ".tmp"


class UnsafePathError(CacheError):
    """Deleting ``path`` would break a safety rule (outside the cache, a foreign entry, a bucket of
    a newer or unknown version, the root itself)."""


def _homes() -> set[str]:
    homes = {os.path.realpath(os.path.expanduser("~"))}
    try:
        homes |= {os.path.realpath(p.pw_dir) for p in pwd.getpwall() if p.pw_dir}
    except OSError:
        pass
    return homes


def check_prune_root(root: Path) -> Path:
    """Return the resolved cache root a deletion may work in.

    Raises :class:`~envtui.core.errors.NotACacheError` when ``root`` lacks uv's ``CACHEDIR.TAG``
    signature, and :class:`UnsafePathError` when it resolves to ``/`` or to a home directory.
    """
    check_cache_root(Path(root))
    real = Path(os.path.realpath(root))
    if real == Path(real.anchor):
        raise UnsafePathError(real, "refusing to delete under a filesystem root")
    if str(real) in _homes():
        raise UnsafePathError(real, "refusing to delete in a home directory")
    return real


@dataclass
class Removal:
    """What :func:`remove_path` did, counted while it deleted."""

    disk: int = 0
    """Disk bytes freed (``st_blocks * 512``): every directory removed, and every file whose last
    link was removed (``st_nlink`` was 1 just before the ``unlink``), as ``du`` counts them."""
    apparent: int = 0
    """The same in apparent bytes (``st_size``)."""
    removed: int = 0
    """Names removed (files, links, directories)."""
    left: list[tuple[str, str]] = field(default_factory=list)
    """``(path, why)`` of what was not removed: another filesystem, a mount point, a directory
    replaced (by a link) while it was being deleted."""


_MOUNTINFO_LIMIT = 64 * MIB  # a few hundred bytes per mount


def mount_points(mountinfo: str = "/proc/self/mountinfo") -> frozenset[str]:
    """Every mount point of this process's mount namespace (Linux ``mountinfo``, octal escapes
    such as ``\\040`` decoded, bytes decoded as paths are), or an empty set where there is no
    such file."""
    try:
        data = read_regular(mountinfo, _MOUNTINFO_LIMIT)
    except (OSError, EntryError):
        return frozenset()
    octal = re.compile(rb"\\([0-7]{3})")
    points = set()
    for line in data.splitlines():
        fields = line.split()
        if len(fields) > 4:
            points.add(os.fsdecode(octal.sub(lambda m: bytes([int(m[1], 8)]), fields[4])))
    return frozenset(points)


_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_PARENT_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC
_HANDLE_FLAGS = getattr(os, "O_PATH", 0) | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC

MAX_OPEN_DIRS = 64
"""Directory descriptors :func:`remove_path` holds open at once, at most, however deep the tree
(below 2**32 levels; the parent of the path it deletes included)."""
_WINDOW = 32
"""The deepest directories being emptied that stay open. Above them a directory at depth ``j``
stays open while the deepest is less than ``j``'s lowest set bit below it (:func:`_kept`): at
most one per power of two, so going back up opens each level again O(log depth) times."""


def _writable(fd: int) -> None:
    st = os.fstat(fd)
    os.fchmod(fd, stat.S_IMODE(st.st_mode) | stat.S_IRWXU)


def _at(fn: Callable[..., None], name: str, dir_fd: int) -> bool:
    """``fn(name, dir_fd=dir_fd)``, making the directory writable once if refused; ``False``
    when the name was already gone."""
    try:
        fn(name, dir_fd=dir_fd)
    except FileNotFoundError:
        return False
    except PermissionError:
        _writable(dir_fd)
        try:
            fn(name, dir_fd=dir_fd)
        except FileNotFoundError:
            return False
    return True


def _count(acc: Removal, st: os.stat_result, last_link: bool) -> None:
    acc.removed += 1
    if last_link:
        acc.disk += st.st_blocks * 512
        acc.apparent += st.st_size


def _open_dir(parent: int, name: str, st: os.stat_result, path: str, dev: int,
              mounts: frozenset[str], acc: Removal) -> int | None:
    """Open the directory ``name`` (just ``lstat``-ed as ``st``) below ``parent`` without following
    a link, or record why it is left alone and return ``None``."""
    if st.st_dev != dev:
        acc.left.append((path, "on another filesystem: never crossed"))
        return None
    if path in mounts:
        acc.left.append((path, "a mount point: never crossed"))
        return None
    try:
        try:
            fd = os.open(name, _DIR_FLAGS, dir_fd=parent)
        except PermissionError:
            # An unreadable directory of our own: made readable through a handle on that very
            # inode (O_PATH), never through its name, which could be swapped for a link meanwhile.
            handle = os.open(name, _HANDLE_FLAGS, dir_fd=parent)
            try:
                os.chmod(f"/proc/self/fd/{handle}", stat.S_IMODE(st.st_mode) | stat.S_IRWXU)
            finally:
                os.close(handle)
            fd = os.open(name, _DIR_FLAGS, dir_fd=parent)
    except FileNotFoundError:
        return None
    except OSError as err:
        acc.left.append((path, f"replaced while deleting ({err.strerror}): not followed"))
        return None
    now = os.fstat(fd)
    if (now.st_dev, now.st_ino) != (st.st_dev, st.st_ino):
        os.close(fd)
        acc.left.append((path, "replaced while deleting: not followed"))
        return None
    return fd


def _names(fd: int) -> list[str]:
    with os.scandir(fd) as it:
        return [e.name for e in it]


class _Dir:
    """A directory being emptied: its name in its parent, what ``lstat`` saw of it, its
    descriptor (``None`` while closed), the length of its path and the names in it still to
    delete."""

    __slots__ = ("name", "st", "fd", "end", "names")
    fd: int | None

    def __init__(self, name: str, st: os.stat_result, fd: int, end: int) -> None:
        self.name, self.st, self.fd, self.end = name, st, fd, end
        self.names: list[str]  # listed once the directory is on the stack (so it is closed if that fails)


def _kept(j: int, top: int) -> bool:
    """Whether the directory at depth ``j`` stays open while the deepest is at depth ``top``."""
    return top - j < max(_WINDOW, j & -j)


def _close_behind(stack: list[_Dir]) -> None:
    """Close what going one level down (to ``stack[-1]``) took out of the directories kept open:
    those at ``top - max(_WINDOW, 2**k)``, the only depths :func:`_kept` turns false at ``top``."""
    top = len(stack) - 1
    for k in range(top.bit_length()):
        j = top - max(_WINDOW, 1 << k)
        if j >= 0 and stack[j].fd is not None and not _kept(j, top):
            os.close(stack[j].fd)  # type: ignore[arg-type]  # checked not None just above
            stack[j].fd = None


def _reach(base: int, stack: list[_Dir], at: str, acc: Removal) -> bool:
    """Make sure the deepest directory of ``stack`` is open: if it is closed, open the levels
    again from the nearest open one above it (or ``base``, the parent's descriptor), name by name
    with ``O_NOFOLLOW | O_DIRECTORY``, each checked to be the very ``(st_dev, st_ino)`` seen on
    the way down, keeping open those :func:`_kept` keeps. ``at`` is a path of which every
    level's path is a prefix (its first ``end`` characters).

    Where a level is gone (someone deleted it) or was replaced (recorded in ``acc.left``), it
    and the levels below are dropped from ``stack`` and ``False`` is returned; the level above
    is then open. Raises ``OSError`` for any other error (each open level's ``fd`` set, for the
    caller to close)."""
    top = len(stack) - 1
    near = top
    while near >= 0 and stack[near].fd is None:
        near -= 1
    fd = base if near < 0 else stack[near].fd
    for j in range(near + 1, top + 1):
        d = stack[j]
        try:
            d.fd = os.open(d.name, _DIR_FLAGS, dir_fd=fd)
        except OSError as err:
            if err.errno not in (errno.ENOENT, errno.ELOOP, errno.ENOTDIR):
                raise
            del stack[j:]
            if err.errno != errno.ENOENT:
                acc.left.append((at[:d.end], f"replaced while deleting ({err.strerror}): not followed"))
            return False
        now = os.fstat(d.fd)
        if (now.st_dev, now.st_ino) != (d.st.st_dev, d.st.st_ino):
            os.close(d.fd)
            del stack[j:]
            acc.left.append((at[:d.end], "replaced while deleting: not followed"))
            return False
        if j > near + 1 and not _kept(j - 1, top):
            os.close(fd)  # type: ignore[arg-type]  # level j - 1, opened the turn before
            stack[j - 1].fd = None
        fd = d.fd
    return True


def _open_parent(path: str, root: str | None) -> tuple[int, str]:
    """An fd of ``path``'s parent (resolved), opened component by component from ``root``
    without following a link when ``root`` is given; and ``path``'s last name."""
    parent, name = os.path.split(path)
    real = os.path.realpath(parent)
    if root is None:
        return os.open(real, _PARENT_FLAGS), name
    rel = os.path.relpath(real, root)
    if rel == os.pardir or rel.startswith(os.pardir + os.sep) or os.path.isabs(rel):
        raise UnsafePathError(Path(path), f"outside the cache root {root}")
    fd = os.open(root, _PARENT_FLAGS)
    for part in rel.split(os.sep):  # "." for the root itself: opens it again
        try:
            nxt = os.open(part, _DIR_FLAGS, dir_fd=fd)
        finally:
            os.close(fd)
        fd = nxt
    return fd, name


def remove_path(path: str | os.PathLike[str], *, root: str | os.PathLike[str] | None = None,
                mounts: frozenset[str] | None = None, acc: Removal | None = None) -> Removal:
    """Delete ``path``: a link or file is unlinked (a link's target is left alone); a directory
    is emptied depth first, then removed. Returns the :class:`Removal` (``acc``, when given,
    is added to), counting the bytes freed while deleting.

    Walks by directory file descriptor (``O_NOFOLLOW | O_DIRECTORY``, ``scandir(fd)``, ``unlinkat``):
    nothing is followed, and a directory swapped for a link mid-walk is left, not followed. With
    ``root`` (the resolved cache root) the parent is opened component by component from it. A
    directory on another filesystem than ``path`` itself, or at one of ``mounts`` (default: this
    process's mount points, :func:`mount_points`; a bind mount of the same filesystem has the same
    ``st_dev``), is left alone (``rm --one-file-system``), and so are the directories above it.

    However deep the tree, at most :data:`MAX_OPEN_DIRS` descriptors are open at once: a
    directory closed on the way down is opened again, on the way up, from its nearest open
    ancestor, name by name (``O_NOFOLLOW | O_DIRECTORY``), and must be the very ``(st_dev,
    st_ino)`` seen before; one replaced meanwhile is left (``Removal.left``), with what it holds.
    Every descriptor is closed on return, whether it returns or raises.

    A path that vanishes meanwhile is not an error. Raises ``OSError`` (with the path) for
    anything else, and :class:`UnsafePathError` for a ``path`` outside ``root``.
    """
    acc = Removal() if acc is None else acc
    mounts = mount_points() if mounts is None else mounts
    full = os.fspath(path)
    try:
        parent, name = _open_parent(full, None if root is None else os.fspath(root))
    except FileNotFoundError:
        return acc
    here = os.path.join(os.path.realpath(os.path.dirname(full)), name)
    stack: list[_Dir] = []
    try:
        try:
            st = os.lstat(name, dir_fd=parent)
        except FileNotFoundError:
            return acc
        if not stat.S_ISDIR(st.st_mode):
            if _at(os.unlink, name, parent):
                _count(acc, st, st.st_nlink <= 1)
            return acc
        dev = st.st_dev
        fd = _open_dir(parent, name, st, here, dev, mounts, acc)
        if fd is None:
            return acc
        # The directories from ``path`` down to the one being emptied. ``at`` is the path of the
        # deepest seen so far; each one's path is its first ``end`` characters (one string for
        # all the levels, not one per level: a chain 10,000 deep would hold 100 MB of paths).
        stack.append(_Dir(name, st, fd, len(here)))
        stack[-1].names = _names(fd)
        at = here
        while stack:
            top = stack[-1]
            at = at[:top.end]
            if top.names:
                child = top.names.pop()
                try:
                    cst = os.lstat(child, dir_fd=top.fd)
                except FileNotFoundError:
                    continue
                if stat.S_ISDIR(cst.st_mode):
                    cpath = at + os.sep + child
                    cfd = _open_dir(top.fd, child, cst, cpath, dev, mounts, acc)  # type: ignore[arg-type]  # the deepest level is open
                    if cfd is not None:
                        stack.append(_Dir(child, cst, cfd, len(cpath)))
                        at = cpath
                        _close_behind(stack)
                        stack[-1].names = _names(cfd)
                elif _at(os.unlink, child, top.fd):  # type: ignore[arg-type]  # the deepest level is open
                    _count(acc, cst, cst.st_nlink <= 1)
                continue
            stack.pop()
            os.close(top.fd)  # type: ignore[arg-type]  # the deepest level is open
            # Its parent may have been closed to stay within MAX_OPEN_DIRS: opened again from
            # above; when that parent is gone or was replaced, the directory stays with it.
            if stack and not _reach(parent, stack, at, acc):
                continue
            try:
                if _at(os.rmdir, top.name, stack[-1].fd if stack else parent):  # type: ignore[arg-type]  # _reach opened it
                    _count(acc, top.st, True)
            except OSError as err:
                if err.errno not in (errno.ENOTEMPTY, errno.EBUSY, errno.EEXIST) or not acc.left:
                    raise
        return acc
    finally:
        for d in stack:
            if d.fd is not None:
                os.close(d.fd)
        os.close(parent)
