"""uv's cache keys, computed exactly as uv computes them.

``cache_digest`` mirrors ``uv_cache_key::cache_digest`` (crates/uv-cache-key/src/digest.rs): the
value is fed through uv's ``CacheKey`` encoding into SeaHash's streaming ``SeaHasher`` (Rust crate
seahash 4.1, default seeds), and the resulting u64 is printed as the hex of its little-endian bytes.

Supported key shapes (the ones uv uses for the entries envtui reads):

* ``str`` -- Rust ``Hash for str``: the UTF-8 bytes, then the byte ``0xff``.
* ``os.PathLike`` / :class:`PathKey` -- Rust ``Hash for Path`` on Unix: the bytes of each
  component (separators and ``.`` components skipped) and a final ``usize`` of the rotated
  component lengths.
* ``tuple`` -- the elements in order (Rust tuples carry no length).
* ``None`` / :class:`Some` -- Rust ``Option``: ``usize 0``, or ``usize 1`` then the value.
* ``int`` -- a ``usize`` (8 little-endian bytes).
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass
from typing import Union

__all__ = [
    "PathKey",
    "SeaHasher",
    "Some",
    "cache_digest",
    "cache_name",
    "file_stem",
    "script_environment_name",
]

_MASK = (1 << 64) - 1
_MUL = 0x6EED0E9DA4D94A4F
_SEEDS = (0x16F11FE89B0D677C, 0xB480A793D8E6C86C, 0x6FE2E5AAF078EBC9, 0x14F994A4C5259381)


def _diffuse(x: int) -> int:
    x = (x * _MUL) & _MASK
    x ^= (x >> 32) >> (x >> 60)
    return (x * _MUL) & _MASK


class SeaHasher:
    """SeaHash's streaming hasher (seahash 4.1 ``stream.rs``), fed with raw bytes.

    The Rust hasher buffers input into 8-byte little-endian words; however the input is chunked,
    the result equals hashing the concatenation, so this keeps a byte buffer and consumes whole
    words from it.
    """

    __slots__ = ("_state", "_written", "_buf")

    def __init__(self) -> None:
        self._state = list(_SEEDS)
        self._written = 0
        self._buf = bytearray()

    def write(self, data: bytes) -> None:
        """Feed ``data`` (bytes) to the hasher."""
        self._buf += data
        whole = len(self._buf) - len(self._buf) % 8
        if not whole:
            return
        state = self._state
        for (word,) in struct.iter_unpack("<Q", self._buf[:whole]):
            new = _diffuse(state[0] ^ word)
            state[0], state[1], state[2] = state[1], state[2], state[3]
            state[3] = new
        self._written += whole
        del self._buf[:whole]

    def write_usize(self, n: int) -> None:
        """Feed a 64-bit ``usize`` as 8 little-endian bytes."""
        self.write((n & _MASK).to_bytes(8, "little"))

    def finish(self) -> int:
        """Return the u64 digest of everything written so far (the hasher stays usable)."""
        a, b, c, d = self._state
        ntail = len(self._buf)
        if ntail:
            a = _diffuse(a ^ int.from_bytes(bytes(self._buf), "little"))
        return _diffuse(a ^ b ^ c ^ d ^ ((self._written + ntail) & _MASK))


@dataclass(frozen=True)
class PathKey:
    """A filesystem path hashed as Rust hashes ``Path``; ``raw`` is the OS byte string."""

    raw: bytes

    @classmethod
    def of(cls, path: Union[str, bytes, os.PathLike[str], os.PathLike[bytes]]) -> "PathKey":
        """Wrap ``path`` (str, bytes or path-like); str is encoded with the filesystem encoding."""
        return cls(os.fsencode(path))


@dataclass(frozen=True)
class Some:
    """Rust's ``Some(value)`` for an ``Option`` inside a key; ``None`` is Rust's ``None``."""

    value: object


def _hash_path(hasher: SeaHasher, raw: bytes) -> None:
    # std's `impl Hash for Path` (library/std/src/path.rs), Unix branch: no prefix, `/` only.
    component_start = 0
    chunk_bits = 0
    n = len(raw)
    for i in range(n):
        if raw[i] != 0x2F:
            continue
        if i > component_start:
            chunk = raw[component_start:i]
            chunk_bits = ((chunk_bits + len(chunk)) & _MASK)
            chunk_bits = ((chunk_bits >> 2) | (chunk_bits << 62)) & _MASK
            hasher.write(chunk)
        component_start = i + 1
        tail = raw[component_start:component_start + 2]
        if tail == b"." or (len(tail) == 2 and tail[0] == 0x2E and tail[1] == 0x2F):
            component_start += 1
    if component_start < n:
        chunk = raw[component_start:]
        chunk_bits = ((chunk_bits + len(chunk)) & _MASK)
        chunk_bits = ((chunk_bits >> 2) | (chunk_bits << 62)) & _MASK
        hasher.write(chunk)
    hasher.write_usize(chunk_bits)


def _feed(hasher: SeaHasher, value: object) -> None:
    if isinstance(value, str):
        hasher.write(value.encode("utf-8"))
        hasher.write(b"\xff")
    elif isinstance(value, PathKey):
        _hash_path(hasher, value.raw)
    elif isinstance(value, os.PathLike):
        _hash_path(hasher, os.fsencode(value))
    elif isinstance(value, tuple):
        for item in value:
            _feed(hasher, item)
    elif value is None:
        hasher.write_usize(0)
    elif isinstance(value, Some):
        hasher.write_usize(1)
        _feed(hasher, value.value)
    elif isinstance(value, bool):
        hasher.write(bytes([int(value)]))
    elif isinstance(value, int):
        hasher.write_usize(value)
    else:
        raise TypeError(f"no uv CacheKey encoding for {type(value).__name__}")


def cache_digest(value: object) -> str:
    """Return uv's ``cache_digest(value)``: 16 lowercase hex characters.

    ``value`` is a str, a path (``os.PathLike`` or :class:`PathKey`), an int (``usize``), ``None``
    or :class:`Some`, or a tuple of those. A plain ``str`` is hashed as a Rust ``str``: wrap paths
    in ``pathlib.Path`` or :class:`PathKey`. Raises ``TypeError`` for other types.
    Mirrors ``uv_cache_key::cache_digest`` (crates/uv-cache-key/src/digest.rs).
    """
    hasher = SeaHasher()
    _feed(hasher, value)
    return hasher.finish().to_bytes(8, "little").hex()


def cache_name(name: str, max_len: int | None = None) -> str | None:
    """Return uv's ``cache_name(name, max_len)``, or ``None`` when nothing alphanumeric remains.

    A name made only of ``0-9a-f`` is kept as it is (truncated to ``max_len`` bytes); otherwise
    each run of bytes other than ASCII letters and digits becomes one ``-``, letters are lowercased,
    and a trailing ``-`` is dropped. Mirrors ``uv_cache_key::cache_name``.
    """
    raw = name.encode("utf-8")
    limit = len(raw) if max_len is None else max_len
    if all(0x30 <= b <= 0x39 or 0x61 <= b <= 0x66 for b in raw):
        return raw[:limit].decode("utf-8", "replace") if raw else None
    out = []
    dash = False
    for b in raw[:limit]:
        if 0x30 <= b <= 0x39 or 0x61 <= b <= 0x7A or 0x41 <= b <= 0x5A:
            out.append(chr(b).lower())
            dash = False
        elif not dash:
            out.append("-")
            dash = True
    normalized = "".join(out)
    if normalized.endswith("-"):
        normalized = normalized[:-1]
    return normalized or None


def file_stem(raw_name: bytes) -> bytes | None:
    """Return Rust's ``Path::file_stem`` of a final path component (bytes), or ``None``.

    ``..`` has no stem; a name starting with its only dot (``.hidden``) is its own stem; otherwise
    everything before the last dot.
    """
    if not raw_name or raw_name == b"..":
        return None
    if raw_name.startswith(b".") and raw_name.count(b".") == 1:
        return raw_name
    before, dot, _after = raw_name.rpartition(b".")
    return before if dot else raw_name


def absolute_path(path: Union[str, bytes, os.PathLike[str], os.PathLike[bytes]], cwd: Union[str, bytes, None] = None) -> bytes:
    """Return ``std::path::absolute(path)`` on Unix as bytes: joined to ``cwd``, ``..`` kept.

    Unlike ``os.path.abspath``, ``..`` components are not collapsed: uv hashes them as they are.
    Repeated separators and ``.`` components are dropped, a trailing separator is removed.
    """
    raw = os.fsencode(path)
    if not raw.startswith(b"/"):
        base = os.fsencode(cwd) if cwd is not None else os.getcwdb()
        raw = base + b"/" + raw
    leading = b"//" if raw.startswith(b"//") and not raw.startswith(b"///") else b"/"
    parts = [p for p in raw.split(b"/") if p and p != b"."]
    return leading + b"/".join(parts)


def script_environment_name(script: Union[str, bytes, os.PathLike[str], os.PathLike[bytes]], cwd: Union[str, bytes, None] = None) -> str:
    """Return the directory name of a script's environment in ``environments-v2``.

    ``{cache_name(stem, 100)}-{cache_digest(absolute script path)}``, or the digest alone when the
    stem is not UTF-8 or normalizes to nothing. Mirrors ``ScriptInterpreter::root``
    (crates/uv/src/commands/project/mod.rs).
    """
    absolute = absolute_path(script, cwd)
    digest = cache_digest(PathKey(absolute))
    stem = file_stem(absolute.rsplit(b"/", 1)[-1])
    name = None
    if stem is not None:
        try:
            name = cache_name(stem.decode("utf-8"), 100)
        except UnicodeDecodeError:
            name = None
    return f"{name}-{digest}" if name else digest
