"""Walking cache entries without following symlinks."""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from typing import Callable, Iterable, Iterator

from ..errors import ScanCancelled

__all__ = ["FileStat", "disk_usage", "walk_entry", "walk_stats"]


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
    path: str | os.PathLike,
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
    path: str | os.PathLike,
    *,
    should_stop: Callable[[], bool] | None = None,
    on_error: Callable[[str, OSError], None] | None = None,
) -> Iterator[FileStat]:
    """:func:`walk_stats` as :class:`FileStat` records (same order, errors and cancellation)."""
    for p, st in walk_stats(path, should_stop=should_stop, on_error=on_error):
        yield _stat(p, st)


def disk_usage(path: str | os.PathLike, *, should_stop: Callable[[], bool] | None = None) -> int:
    """Disk bytes the tree at ``path`` occupies, each inode once: what ``du -sB1`` prints.

    Only inodes with more than one link are remembered (a file with ``st_nlink == 1`` cannot be
    met twice), so memory follows the number of hardlinked files, not of all files.
    Raises :class:`ScanCancelled` when ``should_stop()`` turns true.
    """
    seen: set[tuple[int, int]] = set()
    total = 0
    for fs in walk_entry(path, should_stop=should_stop):
        if fs.nlink > 1 and not fs.is_dir:
            key = (fs.dev, fs.ino)
            if key in seen:
                continue
            seen.add(key)
        total += fs.blocks
    return total
