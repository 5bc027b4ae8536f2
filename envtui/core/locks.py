"""uv's locks, and the processes that hold the root lock (those that use an entry: prune/inuse.py).

uv takes ``flock(2)`` locks (``LockedFile``, crates/uv-fs/src/locked_file.rs): every uv command
holds ``<cache>/.lock`` shared for its whole life (``uv run`` and ``uvx`` until the child exits);
``uv cache clean|prune`` take it exclusively, first without waiting. Per-entry locks
(``<resolution hash>.lock`` beside a cached environment's link, ``<venv>/.lock`` inside a script
environment) are exclusive and held only while uv writes the entry.

Only ``fcntl.flock`` interoperates with uv here (``fcntl.lockf`` takes POSIX record locks, which
uv never sees). A lock file is never deleted on release: a later uv must lock the same inode. A
lock file is opened ``O_NOFOLLOW | O_NONBLOCK`` and used only if it is a regular file, so a
symlink, FIFO or directory where uv keeps a lock neither hangs envtui nor sends it elsewhere.
"""

from __future__ import annotations

import errno
import fcntl
import os
import pwd
import stat
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import psutil

from .errors import CacheError

__all__ = [
    "Flock",
    "LockUnavailable",
    "ProcessInfo",
    "RootLock",
    "RootLockState",
    "entry_lock_held",
    "flocks",
    "lock_entry",
    "parse_locks",
    "probe_root_lock",
    "root_lock_holders",
    "try_lock_root",
    "wait_lock_root",
]


@dataclass(frozen=True)
class ProcessInfo:
    """A running process, as a person would want it named."""

    pid: int
    """Process id."""
    cmdline: str
    """The command line, space-joined (or the process name when it cannot be read)."""
    why: str = ""
    """What ties it to the cache entry or lock (e.g. ``"holds <cache>/.lock (shared flock)"``)."""
    uncertain: bool = False
    """Set when the process cannot be inspected (another user's) and only *may* be using the
    entry (see :mod:`envtui.core.prune.inuse`); ``why`` then starts ``"cannot be inspected
    (user bob, uid 1001): "``. Callers skip such an entry unless the user forces it."""


@dataclass(frozen=True)
class Flock:
    """One ``flock(2)`` lock of ``/proc/locks``: held, or waited for."""

    pid: int
    """The process that took it (or waits for it); a child that inherited the descriptor holds it
    too, and the lock outlives this pid while such a child runs."""
    dev: int
    """``st_dev`` of the locked file."""
    ino: int
    """``st_ino`` of the locked file."""
    exclusive: bool
    """``LOCK_EX`` (``WRITE``), else ``LOCK_SH`` (``READ``)."""
    waiting: bool = False
    """Whether the process waits for the lock (a ``->`` line) rather than holds it."""


def parse_locks(text: str) -> list[Flock]:
    """The ``FLOCK`` lines of ``/proc/locks`` (``"1: FLOCK  ADVISORY  READ 1234 fe:00:2154501 0
    EOF"``: major and minor in hex, inode in decimal; a waiter's line has ``->`` before ``FLOCK``).
    POSIX, OFD locks and leases, which uv never takes, and lines that do not parse are left out.
    Kernel source: ``lock_get_status``, fs/locks.c."""
    out = []
    for line in text.splitlines():
        words = line.split()[1:]
        waiting = words[:1] == ["->"]
        words = words[1:] if waiting else words
        if len(words) < 5 or words[0] != "FLOCK" or words[2] not in ("READ", "WRITE"):
            continue
        try:
            major, minor, ino = words[4].split(":")
            out.append(Flock(int(words[3]), os.makedev(int(major, 16), int(minor, 16)), int(ino),
                             words[2] == "WRITE", waiting))
        except ValueError:
            continue
    return out


#: Bytes read at most from ``/proc/locks`` (about 100,000 locks).
_LOCKS_CAP = 1 << 23


def flocks(path: str = "/proc/locks") -> list[Flock]:
    """:func:`parse_locks` of the file ``path`` (``[]`` when it cannot be read: not Linux). Every
    user may read ``/proc/locks``, so other users' locks are seen too."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError:
        return []
    try:
        chunks, size = [], 0
        while size < _LOCKS_CAP and (chunk := os.read(fd, 1 << 16)):
            chunks.append(chunk)
            size += len(chunk)
    except OSError:
        return []
    finally:
        os.close(fd)
    return parse_locks(b"".join(chunks).decode("ascii", "replace"))


class RootLock:
    """An exclusive ``flock`` on ``<cache>/.lock``, held until :meth:`release` (or the ``with``
    block ends). The lock file is never deleted."""

    def __init__(self, path: Path, fd: int) -> None:
        self.path = path
        """The lock file."""
        self._fd: int | None = fd

    @property
    def held(self) -> bool:
        """Whether the lock is still held."""
        return self._fd is not None

    def release(self) -> None:
        """Unlock and close; idempotent."""
        if self._fd is not None:
            try:
                fcntl.flock(self._fd, fcntl.LOCK_UN)
            finally:
                os.close(self._fd)
                self._fd = None

    def __enter__(self) -> "RootLock":
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


#: Flags for opening any lock file: never follow a symlink, never block opening a FIFO.
_LOCK_FLAGS = os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)

#: The mode uv gives a lock file it creates, whatever the umask (``LockedFile::create``,
#: crates/uv-fs/src/locked_file.rs), so that every user sharing a cache can lock it.
LOCK_FILE_MODE = 0o666

FREE, HELD, UNAVAILABLE = "free", "held", "unavailable"


class LockUnavailable(CacheError):
    """uv's root lock ``path`` cannot be opened or locked at all (a directory, a FIFO, a dangling
    symlink, no permission, a read-only cache); ``message`` is one line saying why."""


@dataclass(frozen=True)
class RootLockState:
    """What a probe of uv's root lock ``<cache>/.lock`` found."""

    path: Path
    """The lock file (``<cache>/.lock``)."""
    state: str
    """``"free"`` (no uv holds it), ``"held"`` (a running uv holds it, shared or exclusive) or
    ``"unavailable"`` (it cannot be opened or locked; ``reason`` says why)."""
    holders: tuple[ProcessInfo, ...] = ()
    """When held: the processes that may hold it (empty when they cannot be inspected)."""
    reason: str = ""
    """When unavailable: why, after the path (``"is a FIFO, not a lock file"``)."""

    @property
    def free(self) -> bool:
        """Whether no uv holds the lock (a prune may take it)."""
        return self.state == FREE

    def error(self) -> LockUnavailable:
        """The :class:`LockUnavailable` to raise or print for an unavailable lock: one line,
        ``"<path>: <reason>"``."""
        return LockUnavailable(self.path, self.reason)


def _why(path: Path, err: OSError) -> LockUnavailable:
    """The one-line :class:`LockUnavailable` for ``err`` raised while opening the lock ``path``."""
    if err.errno == errno.ELOOP:
        why = "is a symlink; envtui never opens uv's lock through a link"
    elif err.errno == errno.ENOENT and os.path.islink(path):
        why = "is a dangling symlink; envtui never creates uv's lock through a link"
    elif err.errno == errno.EISDIR:
        why = "is a directory, not a lock file"
    elif err.errno in (errno.EACCES, errno.EPERM):
        why = f"permission denied (the file or the cache is owned by uid {_owner(path)}, you are uid {os.getuid()})"
    elif err.errno == errno.EROFS:
        why = "cannot be opened for writing: the cache is on a read-only filesystem"
    else:
        why = err.strerror or str(err)
    return LockUnavailable(path, why)


def _owner(path: Path) -> str:
    for p in (path, path.parent):
        try:
            return str(os.lstat(p).st_uid)
        except OSError:
            continue
    return "?"


def _open_lock(path: Path, *, create: bool, write: bool) -> int:
    """Open the lock file ``path`` without following a link or blocking; with ``create``, make it
    when missing, mode 0666 like uv. Raises ``OSError``, or :class:`LockUnavailable` for a file that
    is not a regular file."""
    access = os.O_RDWR if write else os.O_RDONLY
    try:
        fd = os.open(path, access | _LOCK_FLAGS)
    except FileNotFoundError:
        if not create or os.path.islink(path):
            raise
        try:
            # O_EXCL never follows a symlink, even a dangling one: nothing is made outside the cache.
            fd = os.open(path, access | os.O_CREAT | os.O_EXCL | _LOCK_FLAGS, LOCK_FILE_MODE)
        except FileExistsError:
            fd = os.open(path, access | _LOCK_FLAGS)  # another process made it first
        else:
            try:
                os.fchmod(fd, LOCK_FILE_MODE)  # os.open's mode is masked by the umask; uv's is not
            except OSError:
                pass
    try:
        st = os.fstat(fd)
    except OSError:
        os.close(fd)
        raise
    if not stat.S_ISREG(st.st_mode):
        os.close(fd)
        raise LockUnavailable(path, f"is a {_kind(st.st_mode)}, not a lock file")
    return fd


def _kind(mode: int) -> str:
    for test, name in ((stat.S_ISDIR, "directory"), (stat.S_ISFIFO, "FIFO"), (stat.S_ISSOCK, "socket"),
                       (stat.S_ISCHR, "device"), (stat.S_ISBLK, "device")):
        if test(mode):
            return name
    return "special file"


def try_lock_root(root: Path) -> RootLock | None:
    """Take uv's root lock ``<root>/.lock`` exclusively without waiting, as ``uv cache prune``
    does (``Cache::with_exclusive_lock_no_wait``, crates/uv-cache/src/lib.rs).

    Call it only on a root already accepted by ``check_prune_root``: it creates a missing lock file
    (mode 0666 whatever the umask, as uv does), never through a symlink. Returns the held
    :class:`RootLock`, or ``None`` when another process holds it (shared or exclusive). Raises
    :class:`LockUnavailable` (one line naming the path) when it cannot be opened or locked.
    """
    path = Path(root) / ".lock"
    try:
        fd = _open_lock(path, create=True, write=True)
    except OSError as err:
        raise _why(path, err) from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    except OSError as err:
        os.close(fd)
        raise LockUnavailable(path, f"cannot be locked: {err.strerror or err}") from None
    return RootLock(path, fd)


def wait_lock_root(
    root: Path,
    timeout: float,
    *,
    should_stop: Callable[[], bool] | None = None,
    interval: float = 0.25,
) -> RootLock | None:
    """Poll :func:`try_lock_root` until it succeeds or ``timeout`` seconds pass (``None`` then).

    Polling rather than a blocking ``flock`` keeps the wait cancellable: ``should_stop()`` turning
    true gives ``None`` at once. Raises :class:`LockUnavailable` as :func:`try_lock_root` does.
    """
    deadline = time.monotonic() + timeout
    while True:
        lock = try_lock_root(root)
        if lock is not None:
            return lock
        if time.monotonic() >= deadline or (should_stop is not None and should_stop()):
            return None
        time.sleep(interval)


def _probe_once(path: Path) -> str | None:
    """``FREE`` or ``HELD`` for the lock file ``path``, opened read-only and never created;
    raises ``OSError``/:class:`LockUnavailable`."""
    try:
        fd = _open_lock(path, create=False, write=False)
    except FileNotFoundError:
        if os.path.islink(path):
            raise
        return FREE  # no lock file: no uv has locked this cache since it was made
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return HELD
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return FREE
    finally:
        os.close(fd)


def probe_root_lock(
    root: Path,
    *,
    wait: float = 0.0,
    should_stop: Callable[[], bool] | None = None,
    interval: float = 0.25,
    default_root: Path | None = None,
) -> RootLockState:
    """Whether uv's root lock ``<root>/.lock`` is free, held (and by whom), or unavailable (and why),
    waiting up to ``wait`` seconds for it to become free (cancellable through ``should_stop``).

    Read-only: the file is opened ``O_RDONLY | O_NOFOLLOW | O_NONBLOCK``, never created and never
    written, and the exclusive ``flock`` that tells free from held is released at once (the
    executor takes it again, after refusing roots that must not be pruned). A missing lock file
    is free. Never raises for the lock file; ``holders`` comes from :func:`root_lock_holders`.
    """
    path = Path(root) / ".lock"
    deadline = time.monotonic() + wait
    while True:
        try:
            state = _probe_once(path)
        except LockUnavailable as err:
            return RootLockState(path, UNAVAILABLE, reason=err.message)
        except OSError as err:
            return RootLockState(path, UNAVAILABLE, reason=_why(path, err).message)
        if state == FREE:
            return RootLockState(path, FREE)
        if time.monotonic() >= deadline or (should_stop is not None and should_stop()):
            return RootLockState(path, HELD, tuple(root_lock_holders(root, default_root=default_root)))
        time.sleep(interval)


def _open_entry_lock(lock_file: Path) -> int:
    fd = os.open(lock_file, os.O_RDONLY | _LOCK_FLAGS)
    try:
        is_file = stat.S_ISREG(os.fstat(fd).st_mode)
    except OSError:
        os.close(fd)
        raise
    if not is_file:
        os.close(fd)
        raise OSError(errno.EINVAL, "not a regular file, so not a lock uv can take", str(lock_file))
    return fd


def entry_lock_held(lock_file: Path) -> bool:
    """Whether some process holds a ``flock`` on ``lock_file`` (a uv writing that entry).

    Probes with a non-blocking exclusive ``flock`` and releases it at once. A missing lock file
    means nobody holds it. Never creates the file, never follows a symlink, never blocks on a FIFO.
    Raises nothing: an unreadable or non-regular file counts as held (the safe answer).
    """
    try:
        fd = _open_entry_lock(lock_file)
    except FileNotFoundError:
        return False
    except OSError:
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return True
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    finally:
        os.close(fd)


def lock_entry(lock_file: Path) -> int | None:
    """Take an existing entry lock exclusively without waiting; return its fd (release with
    ``os.close``), ``None`` if the file is missing. Raises ``BlockingIOError`` when held, and
    ``OSError`` when it is a symlink, a FIFO or anything but a regular file (never blocks)."""
    try:
        fd = _open_entry_lock(lock_file)
    except FileNotFoundError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        raise
    return fd


def _cmdline(proc: psutil.Process) -> str:
    try:
        return " ".join(proc.cmdline()) or proc.name()
    except (psutil.Error, OSError):
        return "?"


def _is_uv(proc: psutil.Process) -> bool:
    try:
        name = proc.name()
    except (psutil.Error, OSError):
        return False
    return name in ("uv", "uvx", "uvw")


def _user_note(proc: psutil.Process) -> str:
    """``", user bob, uid 1001"`` for another user's process, ``""`` for this user's."""
    try:
        uid = proc.uids().effective
    except (psutil.Error, OSError):
        return ""
    if uid == os.geteuid():
        return ""
    try:
        return f", user {pwd.getpwuid(uid).pw_name}, uid {uid}"
    except (KeyError, OverflowError):
        return f", uid {uid}"


def root_lock_holders(root: Path, *, default_root: Path | None = None, locks: str = "/proc/locks") -> list[ProcessInfo]:
    """Processes that hold (or wait for) uv's root lock of the cache at ``root``, by pid.

    First those ``locks`` (``/proc/locks``, readable by every user) names for the inode of
    ``<root>/.lock``, any user's: ``why`` says ``"holds <lock> (shared flock)"`` or ``"waits for
    <lock> (exclusive flock)"``, and names another user (``"..., user bob, uid 1001)"``). Then,
    from what this user can inspect: processes with ``<root>/.lock`` open, and uv processes whose
    ``UV_CACHE_DIR`` is ``root`` (or, when ``default_root`` is ``root``, that set none).
    """
    lock = os.path.realpath(Path(root) / ".lock")
    real_root = os.path.realpath(root)
    me = os.getpid()
    out: dict[int, ProcessInfo] = {}
    try:
        st = os.stat(lock)
    except OSError:
        held: list[Flock] = []
    else:
        held = [f for f in flocks(locks) if (f.dev, f.ino) == (st.st_dev, st.st_ino) and f.pid != me]
    for f in sorted(held, key=lambda f: f.waiting):  # a pid that holds it is named as holding
        if f.pid in out:
            continue
        try:
            proc = psutil.Process(f.pid)
        except (psutil.Error, OSError):
            cmd, note = "?", ""
        else:
            cmd, note = _cmdline(proc), _user_note(proc)
        verb = "waits for" if f.waiting else "holds"
        mode = "exclusive" if f.exclusive else "shared"
        out[f.pid] = ProcessInfo(f.pid, cmd, f"{verb} {lock} ({mode} flock{note})")
    for proc in psutil.process_iter():
        if proc.pid == me or proc.pid in out:
            continue
        why = ""
        try:
            if any(os.path.realpath(f.path) == lock for f in proc.open_files()):
                why = f"holds {lock} open"
        except (psutil.Error, OSError):
            pass
        if not why and _is_uv(proc):
            try:
                env_dir = proc.environ().get("UV_CACHE_DIR")
            except (psutil.Error, OSError):
                env_dir = None
            if env_dir and os.path.realpath(env_dir) == real_root:
                why = "uv with UV_CACHE_DIR set to this cache"
            elif env_dir is None and default_root is not None and os.path.realpath(default_root) == real_root:
                why = "uv using the default cache"
        if why:
            out[proc.pid] = ProcessInfo(proc.pid, _cmdline(proc), why)
    return [out[pid] for pid in sorted(out)]
