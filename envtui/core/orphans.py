"""Where did a script environment's script live? Proven from its key, even once the script is gone.

A script environment is ``environments-vN/{cache_name(stem)}-{cache_digest(absolute script path)}``
and uv writes the script's file name in its ``pyvenv.cfg`` (``prompt = report.py``). So for each
directory ``D`` below the roots, ``cache_digest(D/prompt)`` either reproduces the key's digest or it
does not: a match proves the script was ``D/prompt``, and if that file is gone, the environment is an
orphan, whether or not envtui ever saw the script.

The search lists directories only (never reads a file) and hashes each directory's path once per
distinct prompt, reusing the hasher state of its parent, so its cost is one ``scandir`` per
directory plus a few microseconds per prompt. It is bounded (``max_dirs``) and cancellable.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

from .contain import presence
from .digest import SeaHasher, absolute_path, cache_name, file_stem
from .environments import SCRIPT, Environment
from .errors import ScanCancelled
from .projects import SKIP_DIRS

__all__ = ["MAX_DIRS", "ProvenScript", "prove_scripts"]

_MASK = (1 << 64) - 1
_MUL = 0x6EED0E9DA4D94A4F  # SeaHash's multiplier (seahash 4.1 helper.rs: diffuse)
_SKIP = frozenset(os.fsencode(d) for d in SKIP_DIRS)
#: Directories :func:`prove_scripts` lists at most, by default.
MAX_DIRS = 100_000


@dataclass(frozen=True)
class ProvenScript:
    """A script environment whose script path was reproduced from its key."""

    environment: Path
    """The script environment's stable path."""
    script: Path
    """The script's path: ``cache_digest`` of it equals the key's digest."""
    exists: bool | None
    """Whether the script is still there: ``True``; ``False`` when the system says it is not
    (the environment is an orphan); ``None`` when that cannot be checked (permission denied...):
    unknown, never gone (:func:`~envtui.core.contain.presence`)."""


def _fork(h: SeaHasher) -> SeaHasher:
    new = SeaHasher.__new__(SeaHasher)
    new._state = list(h._state)
    new._written = h._written
    new._buf = bytearray(h._buf)
    return new


def _rotate(bits: int, length: int) -> int:
    bits = (bits + length) & _MASK
    return ((bits >> 2) | (bits << 62)) & _MASK


def _push(h: SeaHasher, bits: int, component: bytes) -> tuple[SeaHasher, int]:
    h = _fork(h)
    h.write(component)
    return h, _rotate(bits, len(component))


def _digest(h: SeaHasher, bits: int, name: bytes) -> str:
    """``cache_digest`` of the directory hashed into ``h`` (``bits``: its chunk bits) joined with
    the file ``name``: SeaHash's word loop and finish inlined, with no hasher copied, since this
    runs once per directory and prompt."""
    bits = (bits + len(name)) & _MASK
    bits = ((bits >> 2) | (bits << 62)) & _MASK
    data = bytes(h._buf) + name + bits.to_bytes(8, "little")
    a, b, c, d = h._state
    whole = len(data) - len(data) % 8
    for (word,) in struct.iter_unpack("<Q", data[:whole]):
        x = ((a ^ word) * _MUL) & _MASK
        x ^= (x >> 32) >> (x >> 60)
        a, b, c, d = b, c, d, (x * _MUL) & _MASK
    tail = data[whole:]
    if tail:
        x = ((a ^ int.from_bytes(tail, "little")) * _MUL) & _MASK
        x ^= (x >> 32) >> (x >> 60)
        a = (x * _MUL) & _MASK
    x = ((a ^ b ^ c ^ d ^ ((h._written + len(data)) & _MASK)) * _MUL) & _MASK
    x ^= (x >> 32) >> (x >> 60)
    return ((x * _MUL) & _MASK).to_bytes(8, "little").hex()


def prove_scripts(
    environments: Iterable[Environment],
    roots: Iterable[str | os.PathLike[str]],
    *,
    max_dirs: int = MAX_DIRS,
    should_stop: Callable[[], bool] | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> list[ProvenScript]:
    """For each script environment with a ``prompt`` and a digest, the script path under
    ``roots`` (the roots themselves and every directory below them) whose ``cache_digest``
    reproduces its key, if one does; sorted by environment path.

    Paths are hashed as uv hashes them (``std::path::absolute``, not resolved); symlinked
    directories, version-control directories and virtual environments are not entered. At most
    ``max_dirs`` directories are listed. ``on_progress(dirs listed)`` is called every 1,000
    directories. Raises :class:`ScanCancelled` when ``should_stop()`` turns true (checked per
    directory). Mirrors ``ScriptInterpreter::root`` (crates/uv/src/commands/project/mod.rs).
    """
    wanted: dict[bytes, dict[str, Environment]] = {}
    for env in environments:
        if env.kind != SCRIPT or not env.prompt or not env.digest or "/" in env.prompt:
            continue
        name = os.fsencode(env.prompt)
        stem = file_stem(name)
        # The stem in the key must be the prompt's: two scripts of different names never collide.
        if stem is not None and env.stem is not None and cache_name(stem.decode("utf-8", "replace"), 100) != env.stem:
            continue
        wanted.setdefault(name, {})[env.digest] = env
    found: dict[Path, ProvenScript] = {}
    if not wanted:
        return []
    listed = 0
    for root in roots:
        raw = absolute_path(root)
        h, bits = SeaHasher(), 0
        for part in filter(None, raw.split(b"/")):  # absolute_path drops "." and empty parts
            h, bits = _push(h, bits, part)
        stack: list[tuple[bytes, SeaHasher, int]] = [(raw, h, bits)]
        while stack and listed < max_dirs:
            if should_stop is not None and should_stop():
                raise ScanCancelled()
            directory, h, bits = stack.pop()
            for name, by_digest in wanted.items():
                hit = by_digest.get(_digest(h, bits, name))
                if hit is not None and hit.path not in found:
                    script = os.fsdecode(os.path.join(directory, name))
                    found[hit.path] = ProvenScript(hit.path, Path(script), presence(script))
            listed += 1
            if on_progress is not None and listed % 1000 == 0:
                on_progress(listed)
            try:
                with os.scandir(directory) as it:
                    entries = list(it)
            except OSError:
                continue
            if any(e.name == b"pyvenv.cfg" for e in entries) and directory != raw:
                continue  # a virtual environment: no script lives inside one
            children = [e.name for e in entries if e.name not in _SKIP and e.is_dir(follow_symlinks=False)]
            for child in sorted(children, reverse=True):
                stack.append((os.path.join(directory, child), *_push(h, bits, child)))
    return sorted(found.values(), key=lambda p: str(p.environment))
