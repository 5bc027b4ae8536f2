"""Deleting inside a uv cache without ever following a symlink or leaving the cache root.

Mirrors the intent of uv's ``Remover::rm_rf`` (crates/uv-cache/src/removal.rs): links are removed,
never their targets; read-only files and directories are made deletable by chmod-ing the directory
that holds them.
"""

from __future__ import annotations

import os
import pwd
import stat
from pathlib import Path

from ..buckets import Bucket, check_cache_root
from ..errors import CacheError

__all__ = ["UnsafePathError", "check_prune_root", "guard_path", "remove_path"]

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


def guard_path(root: Path, path: Path, buckets: dict[str, Bucket]) -> str | None:
    """Why ``path`` must not be deleted, or ``None`` when it may be.

    ``root`` is the resolved cache root; ``buckets`` maps top-level names to :class:`Bucket`. The
    parent of ``path`` is resolved (the path itself is not: it may be a link to remove); the
    result must lie strictly inside ``root``, under a bucket uv owns whose version is current or
    older, or be one of uv's ``.tmp*`` leftovers at the root.
    """
    parent = os.path.realpath(os.path.dirname(os.path.abspath(path)))
    full = os.path.join(parent, os.path.basename(path))
    base = str(root)
    if not full.startswith(base + os.sep):
        return f"{full} is outside the cache root {base}"
    top = full[len(base) + 1 :].split(os.sep, 1)[0]
    if top.startswith(TMP_PREFIX):
        return None
    bucket = buckets.get(top)
    if bucket is None or bucket.kind != "bucket":
        return f"{top} is not a bucket uv owns"
    if bucket.age not in ("current", "older"):
        return f"{top} is a bucket of a {bucket.age} version: never touched"
    if full == os.path.join(base, top):
        return f"{full} is a whole bucket"
    return None


def _make_writable(directory: str) -> None:
    st = os.lstat(directory)
    if stat.S_ISDIR(st.st_mode):
        os.chmod(directory, stat.S_IMODE(st.st_mode) | stat.S_IRWXU)


def _retry(fn, path: str) -> None:
    try:
        fn(path)
    except FileNotFoundError:
        pass
    except PermissionError:
        _make_writable(os.path.dirname(path))
        try:
            fn(path)
        except FileNotFoundError:
            pass


def _listing(path: str) -> list[os.DirEntry]:
    try:
        with os.scandir(path) as it:
            return list(it)
    except FileNotFoundError:
        return []
    except PermissionError:
        _make_writable(path)
        with os.scandir(path) as it:
            return list(it)


def remove_path(path: Path) -> None:
    """Delete ``path``: a link or file is unlinked (a link's target is left alone); a directory
    is emptied depth first, unlinking every link inside it, then removed.

    Nothing is followed. A path that vanishes meanwhile is not an error. Raises ``OSError`` (with
    the path) for anything else.
    """
    top = os.fspath(path)
    try:
        st = os.lstat(top)
    except FileNotFoundError:
        return
    if not stat.S_ISDIR(st.st_mode):
        _retry(os.unlink, top)
        return
    stack: list[tuple[str, bool]] = [(top, False)]
    while stack:
        current, emptied = stack.pop()
        if emptied:
            _retry(os.rmdir, current)
            continue
        stack.append((current, True))
        for entry in _listing(current):
            if entry.is_dir(follow_symlinks=False):
                stack.append((entry.path, False))
            else:
                _retry(os.unlink, entry.path)
