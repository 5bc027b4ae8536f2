"""Reading files out of a uv cache without ever blocking or following a link.

Every read of a cache file goes through :func:`read_regular`: a FIFO, a device or a socket where a
file is expected is refused without being opened for reading in blocking mode, a symlink is refused
instead of followed, and what is read is capped, so a hostile or damaged cache can make an entry
"corrupt" but never hang envtui or fill its memory.
"""

from __future__ import annotations

import errno
import os
import stat

from .errors import EntryError

__all__ = ["KIB", "MIB", "NotRegularError", "TooLargeError", "read_regular", "read_regular_text"]

KIB = 1024
MIB = 1024 * 1024

_FLAGS = os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)


class NotRegularError(EntryError):
    """The path is a symlink, a directory, a FIFO, a socket or a device, not a regular file."""


class TooLargeError(EntryError):
    """The file holds more bytes than the caller's cap."""


def _open(path: str | os.PathLike[str], noatime: bool) -> int:
    if noatime and hasattr(os, "O_NOATIME"):
        # O_NOATIME keeps pyvenv.cfg's access time (our "last used"); it needs us to own the file.
        try:
            return os.open(path, _FLAGS | os.O_NOATIME)
        except PermissionError:
            pass
    return os.open(path, _FLAGS)


def read_regular(path: str | os.PathLike[str], limit: int, *, noatime: bool = False, truncate: bool = False) -> bytes:
    """Return the bytes of the regular file ``path``, at most ``limit`` of them.

    Opened with ``O_NOFOLLOW | O_NONBLOCK`` (and ``O_NOATIME`` when ``noatime`` and permitted), then
    checked with ``fstat`` to be a regular file before a byte is read.

    Raises :class:`NotRegularError` (naming the path and what it is) for a symlink, FIFO, socket,
    device or directory; :class:`TooLargeError` when the file holds more than ``limit`` bytes,
    unless ``truncate`` is true (then the first ``limit`` bytes are returned); ``FileNotFoundError``
    and other ``OSError`` as the system raises them.
    """
    try:
        fd = _open(path, noatime)
    except OSError as err:
        # O_NOFOLLOW gives ELOOP for a symlink at the end, as a loop among the parents does.
        if err.errno == errno.ELOOP and _is_link(path):
            raise NotRegularError(path, "is a symlink, not a file") from None
        raise
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise NotRegularError(path, f"is a {_kind(st.st_mode)}, not a regular file")
        if st.st_size > limit and not truncate:
            raise TooLargeError(path, f"holds {st.st_size} bytes, more than the {limit} read from such a file")
        chunks: list[bytes] = []
        left = limit + 1
        while left > 0:
            # First what fstat says it holds and one byte more (so the end is seen without a
            # buffer of the whole limit for every small file), then what it grew by, if it did.
            chunk = os.read(fd, min(left, 1 << 20 if chunks else st.st_size + 1))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
        data = b"".join(chunks)
    finally:
        os.close(fd)
    if len(data) > limit:
        if not truncate:
            raise TooLargeError(path, f"holds more than the {limit} bytes read from such a file")
        data = data[:limit]
    return data


def read_regular_text(path: str | os.PathLike[str], limit: int, *, noatime: bool = False, truncate: bool = False) -> str:
    """:func:`read_regular` decoded as UTF-8 (undecodable bytes replaced); same errors."""
    return read_regular(path, limit, noatime=noatime, truncate=truncate).decode("utf-8", "replace")


def _is_link(path: str | os.PathLike[str]) -> bool:
    try:
        return stat.S_ISLNK(os.lstat(path).st_mode)
    except OSError:
        return False


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "directory"
    if stat.S_ISFIFO(mode):
        return "FIFO"
    if stat.S_ISSOCK(mode):
        return "socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "device"
    if stat.S_ISLNK(mode):
        return "symlink"
    return "special file"
