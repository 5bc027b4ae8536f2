"""Where is the uv cache? The same answer uv would give, and which source gave it."""

from __future__ import annotations

import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

import platformdirs

__all__ = ["CacheLocation", "locate_cache", "CACHEDIR_TAG_SIGNATURE"]

#: First line of the ``CACHEDIR.TAG`` that uv writes at the cache root (bford.info/cachedir).
CACHEDIR_TAG_SIGNATURE = b"Signature: 8a477f597d28d172789f06886806bc55"


@dataclass(frozen=True)
class CacheLocation:
    """The cache root envtui will read, and how it was found."""

    path: Path
    """Absolute path of the cache root (it may not exist)."""
    source: str
    """Which source won: ``"--cache-dir"``, ``"UV_CACHE_DIR"``, ``"uv cache dir"`` or ``"platform default"``."""
    tried: tuple[str, ...] = ()
    """What was consulted before the winner, in order, with why it was passed over."""


def _uv_cache_dir(uv: str, timeout: float, env: dict[str, str]) -> Path | None:
    from .uvcli import uv_prints  # the one way uv is run; imported only when uv is asked

    found = uv_prints(["cache", "dir"], env, uv, timeout)
    return Path(found) if found else None


def _platform_default() -> Path:
    # uv follows the XDG layout on every Unix, macOS included (``~/.cache/uv``), and
    # ``%LOCALAPPDATA%\\uv\\cache`` on Windows.
    if sys.platform == "win32":
        return Path(platformdirs.user_cache_dir("uv", appauthor=False))
    from platformdirs.unix import Unix

    return Path(Unix("uv").user_cache_dir)


def locate_cache(
    cache_dir: str | os.PathLike[str] | None = None,
    *,
    environ: dict[str, str] | None = None,
    uv: str | None = None,
    timeout: float = 5.0,
) -> CacheLocation:
    """Find the uv cache root.

    Order: ``cache_dir`` (the ``--cache-dir`` flag), then ``UV_CACHE_DIR``, then what
    ``uv cache dir`` prints when a uv is on ``PATH`` (or ``uv`` names one; it honours uv's own
    configuration files), then the platform default (``$XDG_CACHE_HOME/uv`` or ``~/.cache/uv`` on Unix and macOS,
    as uv uses, through platformdirs' XDG implementation).
    Never raises for a missing directory: the result says where to look, the caller checks it.
    Mirrors ``uv_cache::CacheArgs`` resolution (crates/uv-cache/src/cli.rs).
    """
    env = os.environ if environ is None else environ
    tried: list[str] = []
    if cache_dir:
        return CacheLocation(Path(cache_dir).expanduser().absolute(), "--cache-dir")
    tried.append("--cache-dir: not given")
    value = env.get("UV_CACHE_DIR")
    if value:
        return CacheLocation(Path(value).expanduser().absolute(), "UV_CACHE_DIR", tuple(tried))
    tried.append("UV_CACHE_DIR: not set")
    exe = uv or shutil.which("uv", path=env.get("PATH"))
    if exe:
        found = _uv_cache_dir(exe, timeout, dict(env))
        if found is not None:
            return CacheLocation(found.absolute(), "uv cache dir", tuple(tried))
        tried.append(f"uv cache dir: {exe} gave no answer")
    else:
        tried.append("uv cache dir: no uv on PATH")
    default = _platform_default()
    return CacheLocation(default, "platform default", tuple(tried))
