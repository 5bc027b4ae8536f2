"""envtui's own state files (its settings, the scripts it has seen, the saved disk index), read as
carefully as the cache and written atomically, in a directory only the user can write (safety
rule 12).

Reading never blocks, never follows a link and never fails: :func:`read_json` opens with
``O_NOFOLLOW | O_NONBLOCK`` (:func:`~envtui.core.fsread.read_regular`), reads only a regular
file, at most a cap of bytes, and hands back ``(value, problem)``: a FIFO, a symlink, a directory,
a file too large, bytes that are not JSON or JSON of the wrong shape give no value and one line
naming the path, for the command line to print as a warning and the TUI to notify.

Writing (:func:`write_json`) refuses a state directory that is a symlink, is not the user's, or
that group or others can write (``mode & 0o022``), and creates a missing one ``0700``. The bytes go
to a temporary file of a random name, created with ``O_CREAT | O_EXCL | O_NOFOLLOW`` and mode
``0600`` beside the target, are synced, and replace the target by ``rename``: a name planted
beside it (``settings.tmp -> ~/.bashrc``) is never followed, reused or overwritten.

In a refused directory a file is still read, but only one the user owns and alone can write.
"""

from __future__ import annotations

import errno
import json
import os
import secrets
import stat
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator, TypeVar

from .errors import EntryError
from .fsread import NotRegularError, TooLargeError, read_regular
from .text import printable

__all__ = ["UnsafeStateDirError", "dir_problem", "open_state_dir", "parse_json", "read_json", "read_state",
           "replace_file", "write_json"]

T = TypeVar("T")

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_READ_FLAGS = os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW | os.O_CLOEXEC
_TMP_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
_OTHERS_WRITE = stat.S_IWGRP | stat.S_IWOTH


class UnsafeStateDirError(PermissionError):
    """The state directory ``filename`` is not one only the user can write (``strerror`` says
    why): nothing is written there. An ``OSError`` (``EACCES``), so every caller that already
    copes with a state directory it cannot write copes with this one."""

    def __init__(self, path: str | os.PathLike[str], why: str) -> None:
        super().__init__(errno.EACCES, why, os.fspath(path))

    def __str__(self) -> str:
        return printable(f"{self.filename}: {self.strerror}")


def _why(st: os.stat_result) -> str | None:
    """Why a directory that ``lstat``/``fstat`` saw as ``st`` must not hold envtui's state."""
    if stat.S_ISLNK(st.st_mode):
        return "is a symlink: envtui keeps no state through one"
    if not stat.S_ISDIR(st.st_mode):
        return "is not a directory"
    if st.st_uid != os.geteuid():
        return f"belongs to uid {st.st_uid}, not to you (uid {os.geteuid()}): envtui writes no state there"
    if st.st_mode & _OTHERS_WRITE:
        return f"can be written by others (mode {stat.S_IMODE(st.st_mode):04o}): envtui writes no state there"
    return None


def dir_problem(directory: str | os.PathLike[str]) -> str | None:
    """One line saying why ``directory`` must not hold envtui's state (a symlink, not a
    directory, another user's, writable by group or others), or ``None`` when it may, or does
    not exist (it would be created ``0700``), or cannot be looked at (reading then says why)."""
    try:
        st = os.lstat(directory)
    except OSError:
        return None
    why = _why(st)
    return None if why is None else printable(f"{os.fspath(directory)}: {why}")


def _dirs(path: Path, within: Path | None) -> list[Path]:
    """The directories from ``within`` (default: ``path``'s own) down to ``path``'s parent."""
    parent = path.parent
    if within is None:
        return [parent]
    out = [Path(within)]
    for part in parent.relative_to(within).parts:
        out.append(out[-1] / part)
    return out


def _read_own(path: Path, limit: int) -> bytes:
    """:func:`read_regular`, for a directory others may write: the file must also be the user's
    and writable by the user alone, checked on the descriptor that is read (a name can be swapped
    between a look and an open; a descriptor cannot)."""
    try:
        fd = os.open(path, _READ_FLAGS)
    except OSError as err:
        if err.errno == errno.ELOOP:
            raise NotRegularError(path, "is a symlink, not a file") from None
        raise
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise NotRegularError(path, "is not a regular file")
        if st.st_uid != os.geteuid() or st.st_mode & _OTHERS_WRITE:
            raise NotRegularError(path, "is not yours alone to write, in a directory others can write")
        if st.st_size > limit:
            raise TooLargeError(path, f"holds {st.st_size} bytes, more than the {limit} read from such a file")
        # A state file is replaced by rename, never grown in place: what fstat says it holds,
        # and a byte more to see that it did not grow past the cap meanwhile.
        data = os.read(fd, min(st.st_size, limit) + 1)
    finally:
        os.close(fd)
    if len(data) > limit:
        raise TooLargeError(path, f"holds more than the {limit} bytes read from such a file")
    return data


def read_state(path: str | os.PathLike[str], limit: int, *, within: str | os.PathLike[str] | None = None) -> tuple[bytes | None, str | None]:
    """The bytes of the state file ``path`` (at most ``limit``), and one line about a problem.

    ``(None, None)``: there is no such file. ``(None, line)``: it could not be used (a symlink,
    FIFO, socket, device or directory, more than ``limit`` bytes, unreadable; or, in an unsafe
    directory, not the user's alone). ``(bytes, line)``: read, though a directory from
    ``within`` (default: ``path``'s parent) down to the file is unsafe (see :func:`dir_problem`):
    the line says so, and that nothing will be written there. Never raises, never blocks."""
    path = Path(path)
    unsafe = next((p for p in map(dir_problem, _dirs(path, None if within is None else Path(within))) if p), None)
    try:
        data = read_regular(path, limit) if unsafe is None else _read_own(path, limit)
    except FileNotFoundError:
        return None, unsafe
    except EntryError as err:
        return None, printable(f"{path}: {err.message}; ignored")
    except OSError as err:
        return None, printable(f"{path}: cannot be read ({err.strerror or err}); ignored")
    return data, unsafe


def parse_json(path: str | os.PathLike[str], data: bytes, shape: Callable[[Any], T], what: str) -> tuple[T | None, str | None]:
    """``shape(json.loads(data))`` and ``None``; or ``None`` and one line naming ``path`` when
    ``data`` is not JSON (nesting too deep included) or ``shape`` refuses it (by raising
    ``TypeError``, ``ValueError``, ``KeyError``, ``IndexError`` or ``AttributeError``: not
    ``what``)."""
    try:
        doc = json.loads(data)
    except (ValueError, RecursionError) as err:
        return None, printable(f"{os.fspath(path)}: is not JSON ({err}); ignored")
    try:
        return shape(doc), None
    except (TypeError, ValueError, KeyError, IndexError, AttributeError, RecursionError) as err:
        return None, printable(f"{os.fspath(path)}: is not {what} ({type(err).__name__}: {err}); ignored")


def read_json(path: str | os.PathLike[str], shape: Callable[[Any], T], *, limit: int, what: str,
              within: str | os.PathLike[str] | None = None) -> tuple[T | None, str | None]:
    """The state file ``path`` read (:func:`read_state`) and parsed (:func:`parse_json`):
    ``(value, problem)``, where ``value`` is ``None`` when the file is missing or unusable and
    ``problem`` is one printable line naming the path, or ``None``. Never raises, never blocks."""
    data, problem = read_state(path, limit, within=within)
    if data is None:
        return None, problem
    value, bad = parse_json(path, data, shape, what)
    return value, bad or problem


def _open_dir(path: Path) -> int:
    try:
        return os.open(path, _DIR_FLAGS)
    except OSError as err:
        if err.errno not in (errno.ELOOP, errno.ENOTDIR):
            raise
    raise UnsafeStateDirError(path, _why(os.lstat(path)) or "was replaced while being opened")


def _checked(fd: int, path: Path) -> int:
    why = _why(os.fstat(fd))
    if why is not None:
        os.close(fd)
        raise UnsafeStateDirError(path, why)
    return fd


@contextmanager
def open_state_dir(directory: str | os.PathLike[str], *, within: str | os.PathLike[str] | None = None) -> Iterator[int]:
    """A descriptor of the state directory ``directory``, for :func:`replace_file`; closed on exit.

    Every directory from ``within`` (default: ``directory`` itself) down to ``directory`` is
    opened without following a link (each below ``within`` through its parent's descriptor),
    created ``0700`` when missing (and so are missing parents of ``within``), and checked on its
    descriptor: the user's, not writable by group or others. Raises
    :class:`UnsafeStateDirError` (nothing is written then), ``OSError`` when it cannot be made."""
    directory = Path(directory)
    top = directory if within is None else Path(within)
    missing = []
    here = top
    while not os.path.lexists(here):
        missing.append(here)
        here = here.parent
    for d in reversed(missing):
        try:
            os.mkdir(d, 0o700)
        except FileExistsError:
            pass
    fd = _checked(_open_dir(top), top)
    try:
        here = top
        for part in directory.relative_to(top).parts:
            here = here / part
            try:
                os.mkdir(part, 0o700, dir_fd=fd)
            except FileExistsError:
                pass
            try:
                sub = os.open(part, _DIR_FLAGS, dir_fd=fd)
            except OSError as err:
                if err.errno not in (errno.ELOOP, errno.ENOTDIR):
                    raise
                raise UnsafeStateDirError(here, _why(os.lstat(part, dir_fd=fd)) or "was replaced while being opened") from None
            os.close(fd)
            fd = -1
            fd = _checked(sub, here)
        yield fd
    finally:
        if fd >= 0:
            os.close(fd)


def replace_file(dir_fd: int, name: str, data: bytes) -> None:
    """Make ``name`` in the directory ``dir_fd`` hold ``data``, atomically: written to a new file
    of a random name (``O_CREAT | O_EXCL | O_NOFOLLOW``, mode ``0600``), synced, renamed over
    ``name`` (a link there is replaced, not followed), and the directory synced. Raises ``OSError``
    (the temporary file is removed then)."""
    while True:
        tmp = f".{name}.{secrets.token_hex(8)}.tmp"
        try:
            fd = os.open(tmp, _TMP_FLAGS, 0o600, dir_fd=dir_fd)
            break
        except FileExistsError:  # 64 random bits taken: someone plants names; draw again
            continue
    try:
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
    except BaseException:
        try:
            os.unlink(tmp, dir_fd=dir_fd)
        except OSError:
            pass
        raise
    os.fsync(dir_fd)


def write_json(path: str | os.PathLike[str], value: Any, *, limit: int, within: str | os.PathLike[str] | None = None,
               indent: int | None = None) -> Path:
    """Write ``value`` as JSON to the state file ``path`` through :func:`open_state_dir` (with
    ``within``) and :func:`replace_file`; return ``path``. Raises :class:`UnsafeStateDirError`,
    ``OSError`` (``EFBIG`` when the JSON would exceed ``limit`` bytes, which nothing would read
    back), ``TypeError``/``ValueError`` for a value JSON cannot hold."""
    path = Path(path)
    data = json.dumps(value, indent=indent, separators=None if indent else (",", ":")).encode()
    if len(data) > limit:
        raise OSError(errno.EFBIG, f"would hold {len(data)} bytes, more than the {limit} read back", os.fspath(path))
    with open_state_dir(path.parent, within=within) as fd:
        replace_file(fd, path.name, data)
    return path
