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

from ..buckets import check_cache_root
from ..fsread import MIB, read_regular
from ..errors import CacheError, EntryError

__all__ = ["Removal", "TMP_PREFIX", "UnsafePathError", "check_prune_root", "mount_points", "remove_path"]

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


def _writable(fd: int) -> None:
    st = os.fstat(fd)
    os.fchmod(fd, stat.S_IMODE(st.st_mode) | stat.S_IRWXU)


def _at(fn, name: str, dir_fd: int) -> bool:
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


def remove_path(path: str | os.PathLike, *, root: str | os.PathLike | None = None,
                mounts: frozenset[str] | None = None, acc: Removal | None = None) -> Removal:
    """Delete ``path``: a link or file is unlinked (a link's target is left alone); a directory
    is emptied depth first, then removed. Returns the :class:`Removal` (``acc``, when given,
    is added to), counting the bytes freed while deleting.

    Walks by directory file descriptor (``O_NOFOLLOW | O_DIRECTORY``, ``scandir(fd)``, ``unlinkat``):
    nothing is followed, and a directory swapped for a link mid-walk is left, not followed. With
    ``root`` (the resolved cache root) the parent is opened component by component from it. A
    directory on another filesystem than ``path`` itself, or at one of ``mounts`` (default: this
    process's mount points, :func:`mount_points`; a bind mount of the same filesystem has the same
    ``st_dev``), is left alone (``rm --one-file-system``), and so are the directories above it. A path that vanishes
    meanwhile is not an error. Raises ``OSError`` (with the path) for anything else, and
    :class:`UnsafePathError` for a ``path`` outside ``root``.
    """
    acc = Removal() if acc is None else acc
    mounts = mount_points() if mounts is None else mounts
    full = os.fspath(path)
    try:
        parent, name = _open_parent(full, None if root is None else os.fspath(root))
    except FileNotFoundError:
        return acc
    here = os.path.join(os.path.realpath(os.path.dirname(full)), name)
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
        # Each frame: (fd, names left, parent fd, name, lstat, path)
        frames = [(fd, _names(fd), parent, name, st, here)]
        while frames:
            fd, names, pfd, dname, dst, dpath = frames[-1]
            if names:
                child = names.pop()
                cpath = dpath + os.sep + child
                try:
                    cst = os.lstat(child, dir_fd=fd)
                except FileNotFoundError:
                    continue
                if stat.S_ISDIR(cst.st_mode):
                    cfd = _open_dir(fd, child, cst, cpath, dev, mounts, acc)
                    if cfd is not None:
                        frames.append((cfd, _names(cfd), fd, child, cst, cpath))
                elif _at(os.unlink, child, fd):
                    _count(acc, cst, cst.st_nlink <= 1)
                continue
            frames.pop()
            os.close(fd)
            try:
                if _at(os.rmdir, dname, pfd):
                    _count(acc, dst, True)
            except OSError as err:
                if err.errno not in (errno.ENOTEMPTY, errno.EBUSY, errno.EEXIST) or not acc.left:
                    raise
        return acc
    finally:
        os.close(parent)
