"""Walking cache entries without following symlinks.

Two walkers give the same figures: :class:`InodeTable` here, in pure Python, and the one in the
optional C extension ``_cwalk`` (built with the package where a compiler is found; it runs without
the GIL). :func:`inode_table` picks the native one unless it is missing or ``ENVTUI_NO_NATIVE=1``.
Both walk relative to directory file descriptors (``O_NOFOLLOW | O_DIRECTORY``, ``fstatat``
without following), and skip the ``lstat`` of a further link whose inode number, read from the
directory listing, is already in the table. That shortcut is guarded: for every entry that is
stat'ed, ``st_ino`` must equal the listing's inode number; at the first that differs (overlayfs,
some FUSE) the table stops trusting the listing and stats every entry.

:func:`list_links` lists every symlink below a directory the same way, in C or Python (the
references the safety rules look for); :class:`~envtui.core.disk.freed.Freed` and
:func:`~envtui.core.disk.scan.scan_disk` walk with the table.
"""

from __future__ import annotations

import errno
import os
import stat
import time
from array import array
from dataclasses import dataclass
from typing import Callable, Iterator, Protocol, Sequence

from ..errors import ScanCancelled

__all__ = ["FileStat", "InodeTable", "UnitWalk", "disk_usage", "inode_table", "list_links", "native_available", "walk_entry", "walk_stats", "walk_unit", "walk_units"]

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK
_STOP_EVERY = 64  # directories between two calls of should_stop, as in _cwalk.c

try:
    from . import _cwalk as _cwalk  # re-exported: scan.py classifies with it too
except ImportError:  # not built (no compiler where it was installed): the pure walker runs
    _cwalk = None  # type: ignore[assignment]  # the module or None: every use checks which

#: What one walker call gives per unit: ``(files, apparent, disk, own_apparent, own_disk, found,
#: inodes, new_apparent, new_disk, errors, crossings)``, the fields of :class:`UnitWalk` with
#: ``found`` and ``inodes`` as bytes of uint32 and ``errors``, ``crossings`` as lists.
UnitTuple = tuple[int, int, int, int, int, bytes, bytes, int, int, list[tuple[str, int]], list[str]]


class Table(Protocol):
    """What :func:`inode_table` gives: :class:`InodeTable` or the C walker's twin."""

    @property
    def trust_dino(self) -> bool: ...
    @property
    def mismatches(self) -> int: ...
    def __len__(self) -> int: ...
    def arrays(self, start: int = 0) -> tuple[bytes, bytes, bytes]: ...
    def find(self, dev: int, ino: int) -> int: ...
    def walk_unit(
        self, members: Sequence[str], mark: int, should_stop: Callable[[], bool] | None = None
    ) -> UnitTuple | None: ...
    def walk_units(
        self,
        units: Sequence[Sequence[str]],
        marks: Sequence[int],
        start: int = 0,
        budget: float = ...,
        should_stop: Callable[[], bool] | None = None,
    ) -> list[UnitTuple] | None: ...


def native_available() -> bool:
    """Whether the C walker is built and not switched off by ``ENVTUI_NO_NATIVE=1``."""
    return _cwalk is not None and os.environ.get("ENVTUI_NO_NATIVE", "") in ("", "0")


@dataclass(frozen=True, slots=True)
class UnitWalk:
    """What :meth:`InodeTable.walk_unit` found under one cache entry's paths."""

    files: int
    """Directory entries walked (files, directories and links)."""
    apparent: int
    """Sum of ``st_size`` in bytes, each inode once."""
    disk: int
    """Allocated bytes, each inode once."""
    own_apparent: int
    """``st_size`` of inodes with one link, and of directories (this unit's alone for sure)."""
    own_disk: int
    """Allocated bytes of those."""
    found: array[int]
    """``array("I")``: the table index of every hardlinked entry met, in walk order (a second
    link inside the unit appears twice)."""
    inodes: array[int]
    """``array("I")``: the table indices of :attr:`found`, each once."""
    new_apparent: int
    """``st_size`` of the hardlinked inodes no earlier unit with the same mark had met."""
    new_disk: int
    """Allocated bytes of those inodes."""
    errors: tuple[tuple[str, int], ...]
    """``(path, errno)`` of what could not be read (a vanished file is no error)."""
    crossings: tuple[str, ...]
    """Directories on another filesystem than their parent, walked into and counted."""


class InodeTable:
    """The hardlinked inodes (``st_nlink > 1``, not directories) of one scan, each a small
    integer, with their ``st_nlink``, allocated bytes and ``st_size`` in arrays; and the walker that
    fills it. The pure-Python twin of ``_cwalk.InodeTable`` (same methods, same figures)."""

    def __init__(self, trust_dino: bool = True) -> None:
        self._index: dict[tuple[int, int], int] = {}
        self._nlink, self._blocks, self._size, self._mark = array("q"), array("q"), array("q"), array("q")
        self.trust_dino = trust_dino
        """Whether further links are still skipped by the listing's inode number."""
        self.mismatches = 0
        """Entries stat'ed whose ``st_ino`` differed from the listing's inode number."""

    def __len__(self) -> int:
        return len(self._nlink)

    def arrays(self, start: int = 0) -> tuple[bytes, bytes, bytes]:
        """``(nlink, blocks, size)``: the table's int64 columns from row ``start`` on, as bytes
        (blocks in bytes). Rows are only ever appended: a caller can keep its own copy current."""
        return self._nlink[start:].tobytes(), self._blocks[start:].tobytes(), self._size[start:].tobytes()

    def find(self, dev: int, ino: int) -> int:
        """The table index of the inode ``(dev, ino)``, or -1 if the walk never met it."""
        return self._index.get((dev, ino), -1)

    def walk_units(
        self,
        units: Sequence[Sequence[str]],
        marks: Sequence[int],
        start: int = 0,
        budget: float = float("inf"),
        should_stop: Callable[[], bool] | None = None,
    ) -> list[UnitTuple] | None:
        """Walk ``units[start:]`` (each a list of paths, with marks ``marks[start:]``) until all are
        done or ``budget`` seconds have passed (checked between units). Returns ``None`` if
        ``should_stop()`` turned true, else one :meth:`walk_unit` tuple per unit walked. The C
        twin walks them all without taking the GIL back, which a thread rendering a TUI would
        otherwise hold for a switch interval per unit."""
        out: list[UnitTuple] = []
        began = time.monotonic()
        for members, mark in zip(units[start:], marks[start:]):
            r = self.walk_unit(members, mark, should_stop)
            if r is None:
                return None
            out.append(r)
            if time.monotonic() - began >= budget:
                break
        return out

    def walk_unit(self, members: Sequence[str], mark: int,
                  should_stop: Callable[[], bool] | None = None) -> UnitTuple | None:
        """Walk every path of ``members`` and what lies below it, never following a symlink.

        Returns ``None`` if ``should_stop()`` turned true (checked every 64 directories), else the
        fields of a :class:`UnitWalk` as a tuple (``found`` and ``inodes`` as bytes of uint32).
        ``mark`` (an int >= 0, e.g. the bucket) decides what counts as new: an inode is new
        unless a previous call with the same mark met it.
        """
        w = _PyWalk(self, should_stop)
        for member in members:
            if not w.walk_path(member):
                return None
        found = w.found
        inodes = array("I")
        marks, sizes, blocks = self._mark, self._size, self._blocks
        app, disk, new_app, new_disk = w.apparent, w.blocks * 512, 0, 0
        for k in found:
            m = marks[k]
            if m == -2 or m == -3:
                continue  # a second link inside the unit
            app += sizes[k]
            disk += blocks[k]
            if m != mark:
                new_app += sizes[k]
                new_disk += blocks[k]
            marks[k] = -3 if m != mark else -2
            inodes.append(k)
        for k in inodes:
            marks[k] = mark
        return (w.files, app, disk, w.apparent, w.blocks * 512, found.tobytes(), inodes.tobytes(), new_app, new_disk, w.errors, w.crossings)


class _PyWalk:
    """One :meth:`InodeTable.walk_unit`: its counters and the walk itself."""

    def __init__(self, table: InodeTable, should_stop: Callable[[], bool] | None) -> None:
        self.t, self.should_stop = table, should_stop
        self.files = self.apparent = self.blocks = 0
        self.found = array("I")
        self.errors: list[tuple[str, int]] = []
        self.crossings: list[str] = []
        self.dirs = 0
        self.last_check = time.monotonic()

    def _stop_now(self) -> bool:
        # As the C walker: ask at most every 50 ms.
        now = time.monotonic()
        if now - self.last_check < 0.05:
            return False
        self.last_check = now
        return self.should_stop is not None and self.should_stop()

    def account(self, st: os.stat_result) -> None:
        self.files += 1
        if st.st_nlink <= 1 or stat.S_ISDIR(st.st_mode):
            self.apparent += st.st_size
            self.blocks += st.st_blocks
            return
        t = self.t
        key = (st.st_dev, st.st_ino)
        k = t._index.get(key)
        if k is None:
            k = t._index[key] = len(t._nlink)
            t._nlink.append(st.st_nlink)
            t._blocks.append(st.st_blocks * 512)
            t._size.append(st.st_size)
            t._mark.append(-1)
        self.found.append(k)

    def walk_path(self, top: str) -> bool:
        """Walk ``top``; false if stopped."""
        try:
            st = os.lstat(top)
        except FileNotFoundError:
            return True
        except OSError as err:
            self.errors.append((top, err.errno or 0))
            return True
        self.account(st)
        if not stat.S_ISDIR(st.st_mode):
            return True
        try:
            fd = os.open(top, _DIR_FLAGS)
        except FileNotFoundError:
            return True
        except OSError as err:
            self.errors.append((top, err.errno or 0))
            return True
        return self.walk_dir(fd, top, st.st_dev)

    def walk_dir(self, fd: int, top: str, top_dev: int) -> bool:
        # Depth first, each directory listed whole before its subdirectories are opened (relative
        # to its descriptor, which stays open until they are done): open descriptors = depth.
        t = self.t
        index, nlink, blocks, size, marks = t._index, t._nlink, t._blocks, t._size, t._mark
        found_append, errors, is_dir = self.found.append, self.errors, stat.S_ISDIR
        files = app = blk = 0
        stack: list[tuple[int, str, int, list[str]]] = []
        pending = [(fd, top, top_dev)]  # opened, not yet listed
        try:
            while pending or stack:
                if pending:
                    dfd, dpath, dev = pending.pop()
                    subdirs: list[str] = []
                    stack.append((dfd, dpath, dev, subdirs))
                    try:
                        it = os.scandir(dfd)
                    except OSError as err:
                        errors.append((dpath, err.errno or 0))
                        continue
                    with it:
                        for e in it:
                            name = e.name
                            ino = e.inode()
                            if t.trust_dino and not e.is_dir(follow_symlinks=False):
                                k = index.get((dev, ino))
                                if k is not None:  # a further link to a known inode
                                    files += 1
                                    found_append(k)
                                    continue
                            try:
                                st = os.stat(name, dir_fd=dfd, follow_symlinks=False)
                            except FileNotFoundError:
                                continue
                            except OSError as err:
                                errors.append((dpath + "/" + name, err.errno or 0))
                                continue
                            if st.st_ino != ino:
                                t.trust_dino = False
                                t.mismatches += 1
                            files += 1
                            if st.st_nlink <= 1 or is_dir(st.st_mode):
                                app += st.st_size
                                blk += st.st_blocks
                                if is_dir(st.st_mode):
                                    subdirs.append(name)
                                continue
                            key = (st.st_dev, st.st_ino)
                            k = index.get(key)
                            if k is None:
                                k = index[key] = len(nlink)
                                nlink.append(st.st_nlink)
                                blocks.append(st.st_blocks * 512)
                                size.append(st.st_size)
                                marks.append(-1)
                            found_append(k)
                    subdirs.reverse()  # popped from the end: in listing order
                    continue
                dfd, dpath, dev, subdirs = stack[-1]
                if not subdirs:
                    os.close(dfd)
                    stack.pop()
                    continue
                name = subdirs.pop()
                self.dirs += 1
                if self.should_stop is not None and self.dirs % _STOP_EVERY == 0 and self._stop_now():
                    return False
                path = dpath + "/" + name
                try:
                    cfd = os.open(name, _DIR_FLAGS, dir_fd=dfd)
                    cdev = os.fstat(cfd).st_dev
                except FileNotFoundError:
                    continue
                except OSError as err:
                    errors.append((path, err.errno or 0))
                    continue
                if cdev != dev:
                    self.crossings.append(path)
                pending.append((cfd, path, cdev))
        finally:
            for dfd, *_ in stack:
                os.close(dfd)
            for dfd, *_ in pending:
                os.close(dfd)
            self.files += files
            self.apparent += app
            self.blocks += blk
        return True


def inode_table(native: bool | None = None) -> Table:
    """A fresh inode table with its walker: the C one when ``native`` is true, or when it is
    ``None`` and :func:`native_available`; else :class:`InodeTable`. Raises ``RuntimeError`` if
    ``native`` is true and the extension is not built."""
    if native is None:
        native = native_available()
    if native:
        if _cwalk is None:
            raise RuntimeError("envtui's C walker (envtui.core.disk._cwalk) is not built")
        return _cwalk.InodeTable()
    return InodeTable()


def walk_unit(table: Table, members: Sequence[str], mark: int,
              should_stop: Callable[[], bool] | None = None) -> UnitWalk:
    """``table.walk_unit(...)`` as a :class:`UnitWalk`; raises :class:`ScanCancelled` when
    ``should_stop()`` turned true."""
    r = table.walk_unit(members, mark, should_stop)
    if r is None:
        raise ScanCancelled()
    return _unit_walk(r)


def walk_units(table: Table, units: Sequence[Sequence[str]], marks: Sequence[int], start: int = 0,
               budget: float = float("inf"), should_stop: Callable[[], bool] | None = None) -> list[UnitWalk]:
    """``table.walk_units(...)`` as :class:`UnitWalk` records; raises :class:`ScanCancelled` when
    ``should_stop()`` turned true."""
    r = table.walk_units(units, marks, start, budget, should_stop)
    if r is None:
        raise ScanCancelled()
    return [_unit_walk(t) for t in r]


def _unit_walk(r: UnitTuple) -> UnitWalk:
    files, app, disk, own_app, own_disk, found, inodes, new_app, new_disk, errors, crossings = r
    return UnitWalk(files, app, disk, own_app, own_disk, array("I", found), array("I", inodes), new_app, new_disk, tuple(errors), tuple(crossings))


def list_links(
    top: str | os.PathLike[str],
    *,
    should_stop: Callable[[], bool] | None = None,
    native: bool | None = None,
) -> tuple[list[tuple[str, str]], list[tuple[str, int]]]:
    """Every symlink below the directory ``top`` (``top`` itself excluded), never following one.

    Returns ``(links, errors)``: ``links`` as ``(path, target)`` pairs, ``path`` spelled from
    ``top`` (a str) and ``target`` as ``readlink`` gives it, in no particular order; ``errors`` as
    ``(path, errno)`` for directories that could not be opened or listed and links that could not
    be read (an entry that vanished meanwhile is no error). Lists directories by ``d_type``
    relative to their descriptors (``O_NOFOLLOW | O_DIRECTORY``): one ``readlinkat`` per link, an
    ``lstat`` only where the file system gives no type, none per file. ``native`` picks the walker
    as :func:`inode_table` does; both give the same links. Raises :class:`ScanCancelled` when
    ``should_stop()`` turns true (asked every 64 directories, at most every 50 ms).
    """
    top = os.fspath(top)
    if native is None:
        native = native_available()
    if native:
        if _cwalk is None:
            raise RuntimeError("envtui's C walker (envtui.core.disk._cwalk) is not built")
        r = _cwalk.list_links(top, should_stop)
        if r is None:
            raise ScanCancelled()
        return r
    return _py_list_links(top, should_stop)


_GONE = (errno.ENOENT,)
_REPLACED = (errno.ENOENT, errno.ENOTDIR, errno.ELOOP)  # a directory swapped for another kind since the listing


def _py_list_links(top: str, should_stop: Callable[[], bool] | None) -> tuple[list[tuple[str, str]], list[tuple[str, int]]]:
    links: list[tuple[str, str]] = []
    errors: list[tuple[str, int]] = []
    try:
        fd = os.open(top, _DIR_FLAGS)
    except OSError as err:
        if err.errno not in _GONE:
            errors.append((top, err.errno or 0))
        return links, errors
    dirs = 0
    last_check = float("-inf")  # the first question comes after 64 directories
    stack = [(fd, top)]  # opened, not yet listed
    try:
        while stack:
            dfd, dpath = stack.pop()
            try:
                with os.scandir(dfd) as it:
                    entries = list(it)
            except OSError as err:
                errors.append((dpath, err.errno or 0))
                os.close(dfd)
                continue
            try:
                for e in entries:
                    name = e.name
                    try:
                        is_link = e.is_symlink()  # d_type; an lstat only where it is unknown
                        is_dir = not is_link and e.is_dir(follow_symlinks=False)
                    except OSError as err:
                        if err.errno not in _GONE:
                            errors.append((dpath + "/" + name, err.errno or 0))
                        continue
                    if is_link:
                        try:
                            links.append((dpath + "/" + name, os.readlink(name, dir_fd=dfd)))
                        except OSError as err:
                            if err.errno not in (*_GONE, errno.EINVAL):  # EINVAL: no longer a link
                                errors.append((dpath + "/" + name, err.errno or 0))
                        continue
                    if not is_dir:
                        continue
                    dirs += 1
                    if should_stop is not None and dirs % _STOP_EVERY == 0 and time.monotonic() - last_check >= 0.05:
                        last_check = time.monotonic()
                        if should_stop():
                            raise ScanCancelled()
                    try:
                        stack.append((os.open(name, _DIR_FLAGS, dir_fd=dfd), dpath + "/" + name))
                    except OSError as err:
                        if err.errno not in _REPLACED:
                            errors.append((dpath + "/" + name, err.errno or 0))
            finally:
                os.close(dfd)
    finally:
        for dfd, _ in stack:
            os.close(dfd)
    return links, errors


@dataclass(frozen=True, slots=True)
class FileStat:
    """What accounting needs from one ``lstat``."""

    path: str
    """The path (a str, for speed)."""
    dev: int
    ino: int
    nlink: int
    """``st_nlink``: every link to the inode, inside the cache or not."""
    size: int
    """``st_size`` in bytes (apparent size)."""
    blocks: int
    """Allocated bytes: ``st_blocks * 512``."""
    is_dir: bool


def _stat(path: str, st: os.stat_result) -> FileStat:
    return FileStat(path, st.st_dev, st.st_ino, st.st_nlink, st.st_size, st.st_blocks * 512, stat.S_ISDIR(st.st_mode))


def walk_stats(
    path: str | os.PathLike[str],
    *,
    should_stop: Callable[[], bool] | None = None,
    on_error: Callable[[str, OSError], None] | None = None,
) -> Iterator[tuple[str, os.stat_result]]:
    """Yield ``(path, lstat result)`` for ``path`` and everything below it, never following a
    symlink (a symlink is yielded as itself). Directories come before their contents.

    The hot loop of disk accounting: no record per entry. A file that vanishes mid-walk is
    skipped silently; any other error (e.g. permission denied) goes to ``on_error(path, err)``
    and the walk goes on. Raises :class:`ScanCancelled` when ``should_stop()`` turns true
    (checked once per directory).
    """
    top = os.fspath(path)
    try:
        st = os.lstat(top)
    except FileNotFoundError:
        return
    except OSError as err:
        if on_error:
            on_error(top, err)
        return
    yield top, st
    if not stat.S_ISDIR(st.st_mode):
        return
    is_dir = stat.S_ISDIR
    stack = [top]
    while stack:
        if should_stop is not None and should_stop():
            raise ScanCancelled()
        current = stack.pop()
        try:
            it = os.scandir(current)
        except FileNotFoundError:
            continue
        except OSError as err:
            if on_error:
                on_error(current, err)
            continue
        with it:
            for entry in it:
                try:
                    est = entry.stat(follow_symlinks=False)
                except FileNotFoundError:
                    continue
                except OSError as err:
                    if on_error:
                        on_error(entry.path, err)
                    continue
                yield entry.path, est
                if is_dir(est.st_mode):
                    stack.append(entry.path)


def walk_entry(
    path: str | os.PathLike[str],
    *,
    should_stop: Callable[[], bool] | None = None,
    on_error: Callable[[str, OSError], None] | None = None,
) -> Iterator[FileStat]:
    """:func:`walk_stats` as :class:`FileStat` records (same order, errors and cancellation)."""
    for p, st in walk_stats(path, should_stop=should_stop, on_error=on_error):
        yield _stat(p, st)


def disk_usage(path: str | os.PathLike[str], *, should_stop: Callable[[], bool] | None = None, native: bool | None = None) -> int:
    """Disk bytes the tree at ``path`` occupies, each inode once: what ``du -sB1`` prints.

    Only inodes with more than one link are remembered (a file with ``st_nlink == 1`` cannot be
    met twice), so memory follows the number of hardlinked files, not of all files. Unreadable
    paths are skipped. Raises :class:`ScanCancelled` when ``should_stop()`` turns true.
    """
    table = inode_table(native)
    w = walk_unit(table, [os.fspath(path)], 0, should_stop)
    return w.own_disk + sum(array("q", table.arrays()[1]))
