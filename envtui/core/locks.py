"""uv's locks, and the processes that use cache entries.

uv takes ``flock(2)`` locks (``LockedFile``, crates/uv-fs/src/locked_file.rs): every uv command
holds ``<cache>/.lock`` shared for its whole life (``uv run`` and ``uvx`` until the child exits);
``uv cache clean|prune`` take it exclusively, first without waiting. Per-entry locks
(``<resolution hash>.lock`` beside a cached environment's link, ``<venv>/.lock`` inside a script
environment) are exclusive and held only while uv writes the entry.

Only ``fcntl.flock`` interoperates with uv here (``fcntl.lockf`` takes POSIX record locks, which
uv never sees). A lock file is never deleted on release: a later uv must lock the same inode.
"""

from __future__ import annotations

import fcntl
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Mapping

import psutil

__all__ = [
    "ProcessInfo",
    "RootLock",
    "entry_lock_held",
    "lock_entry",
    "processes_using",
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
    """What ties it to the cache entry or lock (e.g. ``"holds <cache>/.lock open"``)."""


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


def try_lock_root(root: Path) -> RootLock | None:
    """Take uv's root lock ``<root>/.lock`` exclusively without waiting, as ``uv cache prune``
    does (``Cache::with_exclusive_lock_no_wait``, crates/uv-cache/src/lib.rs).

    Returns the held :class:`RootLock`, or ``None`` when another process holds it (shared or
    exclusive). Creates the file if missing, as uv does. Raises ``OSError`` (naming the path)
    when it cannot be opened.
    """
    path = Path(root) / ".lock"
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o666)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    except OSError:
        os.close(fd)
        raise
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
    true gives ``None`` at once.
    """
    deadline = time.monotonic() + timeout
    while True:
        lock = try_lock_root(root)
        if lock is not None:
            return lock
        if time.monotonic() >= deadline or (should_stop is not None and should_stop()):
            return None
        time.sleep(interval)


def entry_lock_held(lock_file: Path) -> bool:
    """Whether some process holds a ``flock`` on ``lock_file`` (a uv writing that entry).

    Probes with a non-blocking exclusive ``flock`` and releases it at once. A missing lock file
    means nobody holds it. Never creates the file. Raises nothing: an unreadable file counts as
    held (the safe answer).
    """
    try:
        fd = os.open(lock_file, os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW)
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
    ``os.close``), ``None`` if the file is missing, or raise ``BlockingIOError`` when held."""
    try:
        fd = os.open(lock_file, os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW)
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


def root_lock_holders(root: Path, *, default_root: Path | None = None) -> list[ProcessInfo]:
    """Processes that may hold uv's root lock of the cache at ``root``: those with
    ``<root>/.lock`` open, and uv processes whose ``UV_CACHE_DIR`` is ``root`` (or, when
    ``default_root`` is ``root``, that set none). Processes this user cannot inspect are skipped.
    """
    lock = os.path.realpath(Path(root) / ".lock")
    real_root = os.path.realpath(root)
    out: list[ProcessInfo] = []
    for proc in psutil.process_iter():
        if proc.pid == os.getpid():
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
            out.append(ProcessInfo(proc.pid, _cmdline(proc), why))
    return out


def __getattr__(name: str):
    # processes_using moved to envtui.core.prune.inuse; imported lazily (that package imports
    # this module).
    if name == "processes_using":
        from .prune.inuse import processes_using

        return processes_using
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
