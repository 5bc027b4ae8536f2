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
from typing import Any, Callable, Iterable, TypedDict

import msgpack

from .contain import GONE_ERRNOS, presence
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
    "key_inputs",
    "scan_interpreters",
]

FRESH, STALE, MISSING, CORRUPT, UNKNOWN_FORMAT = "fresh", "stale", "missing", "corrupt", "unknown format"
#: The executable could not be checked (permission denied, I/O error): neither fresh nor missing.
UNREADABLE = "unreadable"

# rmp-serde writes uv's ``InterpreterInfo`` struct as a positional array, so an entry is read by
# its shape: the markers map (the one map holding ``python_full_version``) anchors the fields every
# release keeps in the same order after it (``scheme``, ``virtualenv``, ``manylinux_compatible``,
# ``sys_prefix``, ``sys_base_exec_prefix``, ``sys_base_prefix``, ``sys_base_executable``,
# ``sys_executable``, ``sys_path``); what follows ``sys_path`` tells the releases apart.
# uv 0.4 - 0.13.7 write ``[platform, markers, ...]`` (``Platform`` flattened into the struct);
# uv 0.13.8's interpreter-v5 writes ``[platform, [markers, ...]]``.
_HEAD = ("markers", "scheme", "virtualenv", "manylinux_compatible", "sys_prefix", "sys_base_exec_prefix",
         "sys_base_prefix", "sys_base_executable", "sys_executable", "sys_path")


@dataclass(frozen=True)
class _Layout:
    name: str
    """Which uv releases write it (``InterpreterInfo`` at their tags, crates/uv-python/src/interpreter.rs)."""
    tail: tuple[tuple[str, type], ...]
    """The fields after ``sys_path``, with the msgpack type each decodes to."""
    key_schemes: tuple[str, ...]
    """The key schemes (``_KEY_SCHEMES``) the releases writing this layout use."""
    nested: bool = False
    """Whether the fields sit in ``info[1]`` behind the platform (interpreter-v5) rather than after it."""


_S, _L, _B = str, list, bool
_TAIL_0_11_17 = (("site_packages", _L), ("stdlib", _S), ("extension_suffixes", _L), ("standalone", _B),
                 ("pointer_size", _S), ("gil_disabled", _B), ("debug_enabled", _B))
_LAYOUTS = (
    _Layout("uv 0.4.0 - 0.5.8", (("stdlib", _S), ("pointer_size", _S), ("gil_disabled", _B)), ("absolute",)),
    _Layout("uv 0.5.9 - 0.8.6", (("stdlib", _S), ("standalone", _B), ("pointer_size", _S), ("gil_disabled", _B)),
            ("absolute", "absolute+canonical")),
    _Layout("uv 0.8.7 - 0.8.17", (("site_packages", _L), ("stdlib", _S), ("standalone", _B), ("pointer_size", _S),
                                  ("gil_disabled", _B)), ("absolute+canonical",)),
    _Layout("uv 0.8.18 - 0.11.16", (("site_packages", _L), ("stdlib", _S), ("standalone", _B), ("pointer_size", _S),
                                    ("gil_disabled", _B), ("debug_enabled", _B)), ("absolute+canonical",)),
    _Layout("uv 0.11.17 - 0.13.7", _TAIL_0_11_17, ("absolute+canonical", "absolute+canonical+launcher")),
    _Layout("uv 0.13.8 and later", _TAIL_0_11_17, ("absolute+canonical+launcher",), nested=True),
)

#: The layout the newest uv envtui knows writes (uv 0.13.8 and later, interpreter-v5).
CURRENT_LAYOUT = _LAYOUTS[-1].name

#: The newest interpreter bucket version envtui has seen a uv write (uv 0.13.8 and later).
_NEWEST_BUCKET = 5

#: How each uv generation derives an interpreter entry's file name (``query_cached``/``cache_entry``).
_KEY_SCHEMES = {
    "absolute": ("cache_digest(absolute path)", "uv 0.4 - 0.7.17"),
    "absolute+canonical": ("cache_digest((absolute path, canonical path))", "uv 0.7.18 - 0.12.3"),
    "absolute+canonical+launcher": (
        "cache_digest((absolute path, canonical path, PYTHONEXECUTABLE, __PYVENV_LAUNCHER__))", "uv 0.12.4 and later"),
}

#: How each uv generation names the shard directory (``cache.entry(CacheBucket::Interpreter, ...)``).
_SHARD_SCHEMES = {
    "none": "no shard: entries at the bucket's top (uv 0.4 - 0.5.8)",
    "arch": "ARCH (uv 0.5.9 - 0.6.3)",
    "host": "cache_digest((ARCH, os type, os release)) (uv 0.6.4 and later)",
}


@dataclass(frozen=True)
class InterpreterEntry:
    """One cached interpreter query, decoded."""

    path: Path
    """The ``.msgpack`` file."""
    bucket_version: int
    """``N`` of the ``interpreter-vN`` bucket it lives in."""
    shard: str
    """The shard directory: ``cache_digest((ARCH, os type, os release))`` of the host that wrote it
    (uv 0.6.4+), ``ARCH`` itself (uv 0.5.9 - 0.6.3), or ``""`` for an unsharded bucket (uv 0.4 - 0.5.8)."""
    key: str
    """The file stem: ``cache_digest((absolute, canonical, PYTHONEXECUTABLE, __PYVENV_LAUNCHER__))``."""
    status: str
    """``fresh``, ``stale`` (the canonical interpreter changed since), ``missing`` (it is gone),
    ``corrupt`` (undecodable) or ``unknown format`` (a layout no uv from 0.4 to 0.13 writes)."""
    shard_current: bool
    """Whether the shard is this host's in the naming of the uv that wrote it (that uv on this
    machine would read this entry); always true for an unsharded bucket."""
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
    layout: str | None = None
    """The positional layout the entry was read with, named by the uv releases that write it
    (``"uv 0.5.9 - 0.8.6"``); ``None`` when no known layout fits (status ``unknown format``)."""
    key_scheme: str | None = None
    """The key derivation that reproduced the file name, with the uv releases using it
    (``"cache_digest((absolute path, canonical path)) (uv 0.7.18 - 0.12.3)"``); ``None`` if none did."""
    shard_scheme: str | None = None
    """How the shard directory is named by the uv that wrote it (none, ``ARCH``, or the host digest)."""


class _Known(TypedDict):
    path: Path
    bucket_version: int
    shard: str
    key: str
    shard_current: bool
    shard_scheme: str


class _Common(_Known, total=False):
    """The fields every decoded ``InterpreterEntry`` gets, whatever its status."""

    size: int


def current_shard(machine: str | None = None, system: str | None = None, release: str | None = None) -> str:
    """The interpreter shard uv on this host writes to: ``cache_digest((ARCH, os type, os release))``.

    On Linux ``ARCH`` is Rust's ``std::env::consts::ARCH`` (``x86_64``, ``aarch64``), os type is
    ``uname -s`` and os release is ``uname -r``. Mirrors ``uv_platform::OsType``/``OsRelease``.
    """
    return cache_digest((_arch(machine), system or platform.system(), release or platform.release()))


def interpreter_key(absolute: str | bytes, canonical: str | bytes,
                    python_executable: str | None = None, pyvenv_launcher: str | None = None) -> str:
    """Return the ``.msgpack`` file stem uv uses for an executable (16 hex characters).

    ``absolute`` is the path as uv was given it, made absolute; ``canonical`` is its realpath.
    The two optional arguments are the ``PYTHONEXECUTABLE`` and ``__PYVENV_LAUNCHER__`` variables.
    """
    from .digest import Some

    def opt(value: str | None) -> Some | None:
        return None if value is None else Some(PathKey.of(value))

    return cache_digest((PathKey.of(absolute), PathKey.of(canonical), opt(python_executable), opt(pyvenv_launcher)))


def _as_str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _timestamp(value: Any) -> float | None:
    # `Timestamp(SystemTime)`: serde writes SystemTime as {secs_since_epoch, nanos_since_epoch}.
    if isinstance(value, (list, tuple)) and len(value) == 2 and all(isinstance(v, int) for v in value):
        secs, nanos = value
        return float(secs + nanos / 1e9)
    if isinstance(value, dict):
        secs, nanos = value.get("secs_since_epoch"), value.get("nanos_since_epoch")
        if isinstance(secs, int) and isinstance(nanos, int):
            return secs + nanos / 1e9
    return None


def _timestamp_ns(value: Any) -> int | None:
    if isinstance(value, (list, tuple)) and len(value) == 2 and all(isinstance(v, int) for v in value):
        secs, nanos = value
        return int(secs * 1_000_000_000 + nanos)
    return None


def _find_markers(obj: Any, depth: int = 0) -> dict[Any, Any] | None:
    if isinstance(obj, dict) and "python_full_version" in obj:
        return obj
    if isinstance(obj, (list, tuple)) and depth < 4:
        for item in obj:
            found = _find_markers(item, depth + 1)
            if found is not None:
                return found
    return None


def _fields_of(info: Any) -> tuple[list[Any], bool] | None:
    """The positional ``InterpreterInfo`` fields, starting at the markers map, and whether they are
    nested: ``info[1:]`` when ``Platform`` is flattened in front (uv 0.4 - 0.13.7), ``info[1]`` when
    it is nested (interpreter-v5)."""
    if not isinstance(info, list) or len(info) < 2:
        return None
    if isinstance(info[1], dict):
        return info[1:], False
    if len(info) == 2 and isinstance(info[1], list) and info[1] and isinstance(info[1][0], dict):
        return info[1], True
    return None


def _head_ok(fields: list[Any]) -> bool:
    if len(fields) < len(_HEAD):
        return False
    f = dict(zip(_HEAD, fields))
    return (
        isinstance(f["markers"], dict)
        and isinstance(f["manylinux_compatible"], bool)
        and all(isinstance(f[k], str) for k in ("sys_prefix", "sys_base_exec_prefix", "sys_base_prefix", "sys_executable"))
        and (f["sys_base_executable"] is None or isinstance(f["sys_base_executable"], str))
        and isinstance(f["sys_path"], list)
    )


def _match_layout(fields: list[Any], nested: bool) -> _Layout | None:
    tail = fields[len(_HEAD):]
    for layout in _LAYOUTS:
        if layout.nested == nested and len(tail) == len(layout.tail) and all(
            isinstance(v, t) and not (t is not bool and isinstance(v, bool)) for v, (_, t) in zip(tail, layout.tail)
        ):
            return layout
    return None


def _shape(fields: list[Any]) -> str:
    tail = fields[len(_HEAD):] if len(fields) >= len(_HEAD) else fields
    return ", ".join(type(v).__name__ for v in tail) or "nothing"


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
    return list(dict.fromkeys(out))


def _lexical_canonicals(executable: str, base_executable: str | None, base_prefix: str | None,
                        version: str | None) -> list[str]:
    """Where the canonical executable most likely is, from the entry alone (no file needs to exist):
    the reported ``sys._base_executable`` and ``<base prefix>/bin/pythonX.Y``, the name a
    ``python3`` symlink usually resolves to."""
    out = [base_executable or "", executable]
    parts = (version or "").split(".")
    if len(parts) >= 2:
        name = f"python{parts[0]}.{parts[1]}"
        for d in (base_prefix and os.path.join(base_prefix, "bin"), base_executable and os.path.dirname(base_executable),
                  os.path.dirname(executable)):
            if d:
                out.append(os.path.join(d, name))
    return [c for c in dict.fromkeys(out) if c]


def _scheme_key(scheme: str, absolute: str, canonical: str) -> str:
    if scheme == "absolute":
        return cache_digest(PathKey.of(absolute))
    if scheme == "absolute+canonical":
        return cache_digest((PathKey.of(absolute), PathKey.of(canonical)))
    return interpreter_key(absolute, canonical)


def _verify_key(key: str, candidates: list[str], extra_canonicals: Iterable[str],
                schemes: Iterable[str] = ("absolute+canonical+launcher",),
                use_filesystem: bool = True) -> tuple[tuple[str, str], str] | None:
    """Find the (absolute, canonical) pair and the key scheme that hash to ``key``. The canonical
    side is tried as the path resolves today and as the entry itself suggests (``sys._base_executable``,
    ``<base prefix>/bin/pythonX.Y``): a venv recreated over another Python resolves elsewhere now, and
    an entry copied from another machine names paths that do not exist here, but the key still
    verifies against what was hashed."""
    canonicals = [c for c in extra_canonicals if c]
    for scheme in schemes:
        for absolute in candidates:
            tries = [absolute, *canonicals] if scheme != "absolute" else [absolute]
            if use_filesystem and os.path.lexists(absolute) and scheme != "absolute":
                tries.insert(0, os.path.realpath(absolute))
            for canon in dict.fromkeys(tries):
                if _scheme_key(scheme, absolute, canon) == key:
                    if scheme == "absolute":  # not hashed: shown as it resolves, for the freshness check
                        canon = os.path.realpath(absolute) if use_filesystem and os.path.lexists(absolute) else absolute
                    return (absolute, canon), scheme
    return None


def key_inputs(entry: InterpreterEntry) -> tuple[str, str, str] | None:
    """Recompute ``entry``'s key from what the entry itself records, touching no file: return
    ``(absolute, canonical, scheme)`` that hash to ``entry.key`` under one of the key schemes of
    the uv releases writing its layout, or ``None``. Works for an entry copied from another
    machine, where none of its paths exist. ``scheme`` names the inputs, e.g.
    ``"absolute+canonical"``: ``cache_digest((absolute, canonical))`` (uv 0.7.18 - 0.12.3)."""
    layout = next((l for l in _LAYOUTS if l.name == entry.layout), None)
    if layout is None or not entry.executable:
        return None
    found = _verify_key(entry.key, [entry.executable],
                        _lexical_canonicals(entry.executable, entry.base_executable, entry.base_prefix, entry.version),
                        layout.key_schemes, use_filesystem=False)
    return (found[0][0], found[0][1], found[1]) if found else None


def _shard_scheme(shard: str) -> str:
    if shard == "":
        return "none"
    return "host" if len(shard) == 16 and all(c in "0123456789abcdef" for c in shard) else "arch"


def decode_interpreter_entry(path: Path, bucket_version: int, shard: str, this_shard: str) -> InterpreterEntry:
    """Decode one ``.msgpack`` interpreter entry written by any uv from 0.4 to 0.13.

    The layout is chosen by what the entry holds (see ``_LAYOUTS``), not by the bucket version;
    the key is verified with the key schemes of the releases writing that layout. ``shard`` is
    ``""`` for the unsharded interpreter-v2/v3 buckets; ``this_shard`` is this host's
    :func:`current_shard`. Never raises for bad content: a file that cannot be read or decoded gives
    status ``corrupt`` with the reason in ``error``; a well-formed entry of no known layout gives
    ``unknown format`` with whatever could be recognised (version, implementation, executable).
    """
    key = path.stem
    shard_scheme = _shard_scheme(shard)
    current = {"none": True, "arch": shard == _arch(), "host": shard == this_shard}[shard_scheme]
    base = _Common(path=path, bucket_version=bucket_version, shard=shard, key=key, shard_current=current,
                   shard_scheme=_SHARD_SCHEMES[shard_scheme])
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
    if not (isinstance(top, list) and len(top) == 2):
        return InterpreterEntry(status=CORRUPT, error="unexpected layout: not a [timestamp, info] pair", **base)
    timestamp_raw, info = top
    found_fields = _fields_of(info)
    if found_fields is None:
        markers = _find_markers(top)
        if markers is None:
            return InterpreterEntry(status=CORRUPT, error="unexpected layout: no interpreter markers", **base)
        return InterpreterEntry(
            status=UNKNOWN_FORMAT, timestamp=_timestamp(timestamp_raw),
            error=f"interpreter-v{bucket_version}: the markers are not where any uv from 0.4 to 0.13 puts them",
            version=_as_str(markers.get("python_full_version")),
            implementation=_as_str(markers.get("implementation_name")), **base)
    fields, nested = found_fields
    layout = _match_layout(fields, nested) if _head_ok(fields) else None
    head = dict(zip(_HEAD, fields))
    markers = head["markers"] if isinstance(head.get("markers"), dict) else {}
    if layout is None:
        readable = _head_ok(fields)
        return InterpreterEntry(
            status=UNKNOWN_FORMAT, timestamp=_timestamp(timestamp_raw),
            error=(f"interpreter-v{bucket_version}: {len(fields)} fields ending in ({_shape(fields)}), a layout no uv "
                   "from 0.4 to 0.13 writes; the fields every release keeps in place are shown"),
            version=_as_str(markers.get("python_full_version")),
            implementation=_as_str(markers.get("implementation_name")),
            executable=_as_str(head.get("sys_executable")) if readable else None,
            base_executable=_as_str(head.get("sys_base_executable")) if readable else None,
            sys_prefix=_as_str(head.get("sys_prefix")) if readable else None,
            base_prefix=_as_str(head.get("sys_base_prefix")) if readable else None,
            **base)
    executable = head["sys_executable"]
    base_executable = head["sys_base_executable"]
    version = _as_str(markers.get("python_full_version"))
    timestamp = _timestamp(timestamp_raw)
    found = _verify_key(key, _candidates(executable, base_executable),
                        _lexical_canonicals(executable, base_executable, head["sys_base_prefix"], version),
                        layout.key_schemes)
    source, scheme = found if found else (None, None)
    # uv compares the cached timestamp with the ctime of the canonical path (the Timestamp is the
    # ctime on Unix: crates/uv-cache-info/src/timestamp.rs, the same in every release since 0.4).
    keyed_canonical = source[1] if source else None
    status, canonical, error = FRESH, None, None
    try:
        canonical = os.path.realpath(keyed_canonical or executable, strict=True)
        st = os.stat(canonical)
        now_ns = st.st_ctime_ns if os.name == "posix" else st.st_mtime_ns
        if _timestamp_ns(timestamp_raw) != now_ns:
            status = STALE
        if (source and scheme != "absolute" and os.path.lexists(source[0])
                and os.path.realpath(source[0]) != source[1]):
            status = STALE
            error = f"{source[0]} now resolves to {os.path.realpath(source[0])}, not {source[1]}: uv will never read this entry again"
    except OSError as err:
        # Gone only when the system says so; any other error leaves it unknown, never missing.
        if err.errno in GONE_ERRNOS:
            status, canonical = MISSING, None
        else:
            status, canonical = UNREADABLE, None
            error = f"{err.filename or keyed_canonical or executable}: {err.strerror or err}: cannot tell whether uv will read this entry again"
    # uv looks an executable up by the path it was given: once that path is gone (a deleted venv,
    # a removed cached environment), nothing reads the entry again, even while the base
    # interpreter it resolved to still exists.
    absolute = source[0] if source else executable
    if presence(absolute) is False:
        status, error = MISSING, f"{absolute} is gone: uv will never read this entry again"
    if bucket_version > _NEWEST_BUCKET and error is None:
        error = (f"interpreter-v{bucket_version} is newer than any uv envtui knows (up to v{_NEWEST_BUCKET}); "
                 f"its entries still fit the {layout.name} layout and were read with it")
    scheme_text = None
    if scheme:
        formula, releases = _KEY_SCHEMES[scheme]
        scheme_text = f"{formula} ({releases})"
    return InterpreterEntry(
        status=status,
        timestamp=timestamp,
        executable=executable,
        base_executable=base_executable,
        version=version,
        implementation=_as_str(markers.get("implementation_name")),
        sys_prefix=head["sys_prefix"],
        base_prefix=head["sys_base_prefix"],
        canonical=canonical,
        key_verified=source is not None,
        key_source=source,
        error=error,
        layout=layout.name,
        key_scheme=scheme_text,
        **base,
    )


def _arch(machine: str | None = None) -> str:
    arch = machine or platform.machine()
    return {"amd64": "x86_64", "arm64": "aarch64"}.get(arch.lower(), arch)


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
            top = sorted(os.scandir(bucket), key=lambda e: e.name)
        except OSError as err:
            if on_problem and not isinstance(err, FileNotFoundError):
                on_problem(bucket, f"cannot list: {err.strerror}")
            continue
        # interpreter-v2 and -v3 (uv 0.4 - 0.5.8) keep entries at the top, with no shard directory.
        groups: list[tuple[str, list[os.DirEntry[str]]]] = [("", top)]
        for shard in top:
            if not shard.is_dir(follow_symlinks=False):
                continue
            try:
                groups.append((shard.name, sorted(os.scandir(shard.path), key=lambda e: e.name)))
            except OSError as err:
                if on_problem and not isinstance(err, FileNotFoundError):
                    on_problem(Path(shard.path), f"cannot list: {err.strerror}")
        for shard_name, files in groups:
            for f in files:
                if should_stop and should_stop():
                    raise ScanCancelled()
                # A FIFO, socket or link named *.msgpack is listed (corrupt, saying what it is), not hidden.
                if not f.name.endswith(".msgpack") or f.is_dir(follow_symlinks=False):
                    continue
                out.append(decode_interpreter_entry(Path(f.path), version, shard_name, this_shard))
    out.sort(key=lambda e: (e.executable or "\uffff", e.key))
    return out
