"""Cached interpreter queries: ``interpreter-vN/<shard>/<key>.msgpack``.

uv runs a query script in every interpreter it meets and caches the answer, keyed by the
executable's absolute and canonical paths, sharded by host (architecture, OS type, OS release).
Mirrors ``InterpreterInfo::query_cached`` and ``InterpreterInfo::cache_entry``
(crates/uv-python/src/interpreter.rs).
"""

from __future__ import annotations

import os
import platform
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable

import msgpack

from .digest import PathKey, cache_digest
from .errors import EntryError, ScanCancelled
from .fsread import MIB, read_regular

#: An interpreter query is a few KiB; anything over this is not one (and is not read whole).
MAX_ENTRY_BYTES = 4 * MIB

__all__ = [
    "InterpreterEntry",
    "current_shard",
    "decode_interpreter_entry",
    "interpreter_key",
    "scan_interpreters",
]

FRESH, STALE, MISSING, CORRUPT, UNKNOWN_FORMAT = "fresh", "stale", "missing", "corrupt", "unknown format"

# Positions inside ``info[1]`` of an interpreter-v5 entry (uv 0.13): rmp-serde writes structs as
# positional arrays, so the layout is tied to the bucket version.
_V5_FIELDS = {
    "markers": 0,
    "manylinux_compatible": 3,
    "sys_prefix": 4,
    "sys_base_exec_prefix": 5,
    "sys_base_prefix": 6,
    "sys_base_executable": 7,
    "sys_executable": 8,
    "stdlib": 11,
    "standalone": 13,
    "pointer_size": 14,
    "gil_disabled": 15,
}


@dataclass(frozen=True)
class InterpreterEntry:
    """One cached interpreter query, decoded."""

    path: Path
    """The ``.msgpack`` file."""
    bucket_version: int
    """``N`` of the ``interpreter-vN`` bucket it lives in."""
    shard: str
    """The shard directory: ``cache_digest((ARCH, os type, os release))`` of the host that wrote it."""
    key: str
    """The file stem: ``cache_digest((absolute, canonical, PYTHONEXECUTABLE, __PYVENV_LAUNCHER__))``."""
    status: str
    """``fresh``, ``stale`` (the canonical interpreter changed since), ``missing`` (it is gone),
    ``corrupt`` (undecodable) or ``unknown format`` (a bucket version envtui cannot decode)."""
    shard_current: bool
    """Whether the shard is this host's (uv on this machine would read this entry)."""
    timestamp: float | None = None
    """The cached timestamp (epoch seconds): the canonical executable's ctime when uv queried it."""
    executable: str | None = None
    """``sys.executable`` reported by the interpreter."""
    base_executable: str | None = None
    """``sys._base_executable``, if reported."""
    version: str | None = None
    """``python_full_version`` marker, e.g. ``"3.12.1"``."""
    implementation: str | None = None
    """``implementation_name`` marker, e.g. ``"cpython"``."""
    sys_prefix: str | None = None
    """``sys.prefix``: the venv for a venv interpreter."""
    base_prefix: str | None = None
    """``sys.base_prefix``."""
    canonical: str | None = None
    """The canonical (symlinks resolved) executable, when it still exists."""
    key_verified: bool | None = None
    """Whether recomputing the key from the decoded paths reproduces the file name; ``None`` when
    it could not be tried (corrupt entry, unknown format)."""
    key_source: tuple[str, str] | None = None
    """The ``(absolute, canonical)`` pair that reproduced the key, when one did."""
    error: str | None = None
    """Why the entry is corrupt or stale beyond a changed timestamp, or what about its format is unknown."""
    size: int = 0
    """Size of the ``.msgpack`` file in bytes."""


def current_shard(machine: str | None = None, system: str | None = None, release: str | None = None) -> str:
    """The interpreter shard uv on this host writes to: ``cache_digest((ARCH, os type, os release))``.

    On Linux ``ARCH`` is Rust's ``std::env::consts::ARCH`` (``x86_64``, ``aarch64``), os type is
    ``uname -s`` and os release is ``uname -r``. Mirrors ``uv_platform::OsType``/``OsRelease``.
    """
    arch = machine or platform.machine()
    arch = {"amd64": "x86_64", "arm64": "aarch64"}.get(arch.lower(), arch)
    return cache_digest((arch, system or platform.system(), release or platform.release()))


def interpreter_key(absolute: str | bytes, canonical: str | bytes,
                    python_executable: str | None = None, pyvenv_launcher: str | None = None) -> str:
    """Return the ``.msgpack`` file stem uv uses for an executable (16 hex characters).

    ``absolute`` is the path as uv was given it, made absolute; ``canonical`` is its realpath.
    The two optional arguments are the ``PYTHONEXECUTABLE`` and ``__PYVENV_LAUNCHER__`` variables.
    """
    from .digest import Some

    def opt(value: str | None):
        return None if value is None else Some(PathKey.of(value))

    return cache_digest((PathKey.of(absolute), PathKey.of(canonical), opt(python_executable), opt(pyvenv_launcher)))


def _as_str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _timestamp(value: Any) -> float | None:
    # `Timestamp(SystemTime)`: serde writes SystemTime as {secs_since_epoch, nanos_since_epoch}.
    if isinstance(value, (list, tuple)) and len(value) == 2 and all(isinstance(v, int) for v in value):
        return value[0] + value[1] / 1e9
    if isinstance(value, dict):
        secs, nanos = value.get("secs_since_epoch"), value.get("nanos_since_epoch")
        if isinstance(secs, int) and isinstance(nanos, int):
            return secs + nanos / 1e9
    return None


def _timestamp_ns(value: Any) -> int | None:
    if isinstance(value, (list, tuple)) and len(value) == 2 and all(isinstance(v, int) for v in value):
        return value[0] * 1_000_000_000 + value[1]
    return None


def _find_markers(obj: Any, depth: int = 0) -> dict | None:
    if isinstance(obj, dict) and "python_full_version" in obj:
        return obj
    if isinstance(obj, (list, tuple)) and depth < 4:
        for item in obj:
            found = _find_markers(item, depth + 1)
            if found is not None:
                return found
    return None


def _candidates(executable: str | None, base_executable: str | None) -> list[str]:
    out: list[str] = []
    for exe in (executable, base_executable):
        if not exe:
            continue
        out.append(exe)
        bindir = os.path.dirname(exe)
        try:
            names = sorted(os.listdir(bindir))
        except OSError:
            names = []
        for name in names:
            if name.startswith("python") and not name.endswith(("-config", ".py")):
                out.append(os.path.join(bindir, name))
    seen: set[str] = set()
    return [c for c in out if not (c in seen or seen.add(c))]


def _verify_key(key: str, candidates: list[str], extra_canonicals: Iterable[str]) -> tuple[str, str] | None:
    """Find the (absolute, canonical) pair that hashes to ``key``. The canonical side is tried as
    the path resolves today and as the interpreter reported itself (``sys._base_executable``): a
    venv recreated over another Python resolves elsewhere now, but its old key still verifies."""
    canonicals = [c for c in extra_canonicals if c]
    for absolute in candidates:
        tries = [absolute, *canonicals]
        if os.path.lexists(absolute):
            tries.insert(0, os.path.realpath(absolute))
        for canon in dict.fromkeys(tries):
            if interpreter_key(absolute, canon) == key:
                return absolute, canon
    return None


def decode_interpreter_entry(path: Path, bucket_version: int, shard: str, this_shard: str) -> InterpreterEntry:
    """Decode one ``.msgpack`` interpreter entry. Never raises for bad content: a file that cannot be
    read or decoded gives status ``corrupt`` with the reason in ``error``; a bucket version other
    than 5 gives ``unknown format`` with whatever could be recognised (version, implementation).
    """
    key = path.stem
    base = dict(path=path, bucket_version=bucket_version, shard=shard, key=key, shard_current=shard == this_shard)
    try:
        data = read_regular(path, MAX_ENTRY_BYTES)
    except EntryError as err:
        return InterpreterEntry(status=CORRUPT, error=err.message, **base)
    except OSError as err:
        return InterpreterEntry(status=CORRUPT, error=f"cannot read: {err.strerror}", **base)
    base["size"] = len(data)
    try:
        top = msgpack.unpackb(data, raw=False, strict_map_key=False)
    except Exception as err:  # msgpack raises several unrelated types for bad input
        return InterpreterEntry(status=CORRUPT, error=f"not valid msgpack: {err}", **base)
    if bucket_version != 5:
        markers = _find_markers(top) or {}
        return InterpreterEntry(
            status=UNKNOWN_FORMAT,
            error=f"interpreter-v{bucket_version} is not a layout envtui knows (it reads v5)",
            version=_as_str(markers.get("python_full_version")),
            implementation=_as_str(markers.get("implementation_name")),
            **base,
        )
    try:
        timestamp_raw, info = top
        fields = info[1]
        markers = fields[_V5_FIELDS["markers"]]
        if not isinstance(markers, dict):
            raise TypeError("markers are not a map")
        executable = fields[_V5_FIELDS["sys_executable"]]
        if not isinstance(executable, str):
            raise TypeError("sys_executable is not a string")
    except (TypeError, ValueError, IndexError, KeyError) as err:
        return InterpreterEntry(status=CORRUPT, error=f"unexpected interpreter-v5 layout: {err}", **base)
    base_executable = _as_str(fields[_V5_FIELDS["sys_base_executable"]])
    timestamp = _timestamp(timestamp_raw)
    source = _verify_key(key, _candidates(executable, base_executable), [base_executable or ""])
    # uv compares the cached timestamp with the ctime of the canonical path it hashed (the
    # Timestamp is the ctime on Unix: crates/uv-cache-info/src/timestamp.rs).
    keyed_canonical = source[1] if source else None
    status, canonical, error = FRESH, None, None
    try:
        canonical = os.path.realpath(keyed_canonical or executable, strict=True)
        st = os.stat(canonical)
        now_ns = st.st_ctime_ns if os.name == "posix" else st.st_mtime_ns
        if _timestamp_ns(timestamp_raw) != now_ns:
            status = STALE
        if source and os.path.lexists(source[0]) and os.path.realpath(source[0]) != source[1]:
            status = STALE
            error = f"{source[0]} now resolves to {os.path.realpath(source[0])}, not {source[1]}: uv will never read this entry again"
    except OSError:
        status, canonical = MISSING, None
    # uv looks an executable up by the path it was given: once that path is gone (a deleted venv,
    # a removed cached environment), nothing reads the entry again, even while the base
    # interpreter it resolved to still exists.
    absolute = source[0] if source else executable
    if not os.path.lexists(absolute):
        status, error = MISSING, f"{absolute} is gone: uv will never read this entry again"
    return InterpreterEntry(
        status=status,
        timestamp=timestamp,
        executable=executable,
        base_executable=base_executable,
        version=_as_str(markers.get("python_full_version")),
        implementation=_as_str(markers.get("implementation_name")),
        sys_prefix=_as_str(fields[_V5_FIELDS["sys_prefix"]]),
        base_prefix=_as_str(fields[_V5_FIELDS["sys_base_prefix"]]),
        canonical=canonical,
        key_verified=source is not None,
        key_source=source,
        error=error,
        **base,
    )


def scan_interpreters(
    bucket_dirs: Iterable[tuple[Path, int]],
    *,
    should_stop: Callable[[], bool] | None = None,
    on_problem: Callable[[Path, str], None] | None = None,
) -> list[InterpreterEntry]:
    """Decode every entry of the given ``(interpreter-vN path, N)`` buckets, sorted by executable.

    A shard or file that vanishes mid-scan is skipped; an unreadable shard is reported through
    ``on_problem(path, message)``. Raises :class:`ScanCancelled` when ``should_stop()`` is true.
    """
    this_shard = current_shard()
    out: list[InterpreterEntry] = []
    for bucket, version in bucket_dirs:
        try:
            shards = sorted(os.scandir(bucket), key=lambda e: e.name)
        except OSError as err:
            if on_problem and not isinstance(err, FileNotFoundError):
                on_problem(bucket, f"cannot list: {err.strerror}")
            continue
        for shard in shards:
            if not shard.is_dir(follow_symlinks=False):
                continue
            try:
                files = sorted(os.scandir(shard.path), key=lambda e: e.name)
            except OSError as err:
                if on_problem and not isinstance(err, FileNotFoundError):
                    on_problem(Path(shard.path), f"cannot list: {err.strerror}")
                continue
            for f in files:
                if should_stop and should_stop():
                    raise ScanCancelled()
                # A FIFO, socket or link named *.msgpack is listed (corrupt, saying what it is), not hidden.
                if not f.name.endswith(".msgpack") or f.is_dir(follow_symlinks=False):
                    continue
                out.append(decode_interpreter_entry(Path(f.path), version, shard.name, this_shard))
    out.sort(key=lambda e: (e.executable or "\uffff", e.key))
    return out
