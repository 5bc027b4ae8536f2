"""What each cache key was derived from, as (label, value) rows a person can read.

Used by the TUI's details pane and by ``envtui ls``; pure data, no rendering.
"""

from __future__ import annotations

from datetime import datetime, timezone

from .digest import script_environment_name
from .environments import CACHED, ENVIRONMENTS_GENERATIONS, INTERPRETER_HASH_SCHEMES, Environment
from .interpreters import CURRENT_LAYOUT, InterpreterEntry, current_shard

__all__ = ["explain_environment", "explain_interpreter"]

Rows = list[tuple[str, str]]


def _when(ts: float | None) -> str:
    if ts is None:
        return "unknown"
    return datetime.fromtimestamp(ts, tz=timezone.utc).astimezone().strftime("%Y-%m-%d %H:%M:%S %Z")


def explain_interpreter(e: InterpreterEntry) -> Rows:
    """Rows describing an interpreter entry: file, shard and key derivation, status and the answer."""
    rows: Rows = [("entry", str(e.path)), ("status", e.status)]
    if e.error:
        rows.append(("problem", e.error))
    # What the newest uv writes is explained as before; older generations say which uv wrote them.
    current_key = "cache_digest((absolute path, canonical path, PYTHONEXECUTABLE, __PYVENV_LAUNCHER__))"
    if e.layout != CURRENT_LAYOUT:
        rows.append(("layout", f"as {e.layout} write it" if e.layout else "no known layout (see problem)"))
    rows.append(("shard", e.shard or "(none)"))
    shard_from = e.shard_scheme
    if shard_from is None or shard_from.startswith("cache_digest"):
        shard_from = "cache_digest((ARCH, os type, os release)) of the host that queried it"
    rows.append(
        (
            "  derived from",
            shard_from + "; "
            + ("this host's shard" if e.shard_current else f"not this host's ({current_shard()}): uv here never reads it"),
        )
    )
    rows.append(("key", e.key))
    rows.append(("  derived from", current_key if not e.key_scheme or e.key_scheme.startswith(current_key) else e.key_scheme))
    if e.key_source:
        rows.append(("  absolute", e.key_source[0]))
        rows.append(("  canonical", e.key_source[1]))
        rows.append(("  verified", "yes: recomputing the digest from these paths gives the file name"))
    elif e.key_verified is False:
        rows.append(
            (
                "  verified",
                "no: no path envtui can see hashes to this key (the executable moved, or uv was given "
                "another path or PYTHONEXECUTABLE was set)",
            )
        )
    rows += [
        ("executable", e.executable or "?"),
        ("canonical", e.canonical or "(gone)"),
        ("version", f"{e.implementation or '?'} {e.version or '?'}"),
        ("sys.prefix", e.sys_prefix or "?"),
        ("sys.base_prefix", e.base_prefix or "?"),
        ("executable ctime", _when(e.timestamp) + "  (the canonical executable's ctime, which uv stored when it "
                             "queried it, not when it cached the answer; uv asks again once it changes)"),
    ]
    if e.status == "stale":
        rows.append(("stale", "the canonical executable changed since: uv will query it again on next use"))
    if e.status == "missing":
        rows.append(("missing", "the interpreter is gone: this entry can never be used again"))
    if e.status == "unreadable":
        rows.append(("unreadable", "the interpreter could not be checked (see the error): kept, never pruned as missing"))
    return rows


def explain_environment(env: Environment) -> Rows:
    """Rows describing an environment: stable path, key derivation, interpreter and packages."""
    rows: Rows = [("kind", f"{env.kind} environment"), ("stable path", str(env.path)), ("status", env.status)]
    # The newest generation (environments-v2, relative links, canonical hash) is explained as
    # before; what older uvs wrote says which uv wrote it.
    if env.bucket_version is not None and env.bucket_version != 2:
        rows.append(("bucket", f"environments-v{env.bucket_version}: "
                     + ENVIRONMENTS_GENERATIONS.get(env.bucket_version, "a version envtui does not know")))
    if env.kind == CACHED:
        rows.append(("link target", str(env.link_target) if env.link_target else "(not a link)"))
        if env.link_form == "absolute":
            rows.append(("  link", f"{env.link_text}  (absolute, as uv up to 0.10 writes them)"))
        rows.append(("key", env.key))
        rows.append(("interpreter hash", env.interpreter_hash or "?"))
        hash_from = env.interpreter_hash_scheme
        if hash_from in (None, INTERPRETER_HASH_SCHEMES["canonical"]):
            hash_from = "cache_digest(canonical path of the base interpreter's sys.executable)"
        rows.append(("  derived from", hash_from))
        if env.interpreter:
            rows.append(("  interpreter", f"{env.interpreter}  (verified: its digest is {env.interpreter_hash})"))
        else:
            rows.append(("  interpreter", "unknown: no interpreter envtui knows of hashes to it (removed or moved?)"))
        rows.append(("resolution hash", env.resolution_hash or "?"))
        rows.append(("  derived from", "hash_digest of the resolved distributions; not recomputable from the environment"))
        rows.append(("tool", env.tool or "(no console scripts)"))
    else:
        rows.append(("key", env.key))
        rows.append(("  derived from", "cache_name(script stem, 100) + '-' + cache_digest(absolute script path)"))
        rows.append(("  stem", env.stem or "(none: the stem had no letters or digits)"))
        rows.append(("  digest", env.digest or "?"))
        if env.script:
            ok = script_environment_name(env.script) == env.key
            rows.append(("  script", f"{env.script}  ({'verified' if ok else 'MISMATCH'})"))
        else:
            rows.append(("  script", f"unknown (uv wrote prompt = {env.prompt!r}); if it still exists, add its directory to the script roots"))
    rows += [
        ("python", f"{env.implementation or '?'} {env.python_version or '?'}"),
        ("base home", env.home or "?"),
        ("bin/python", str(env.python)),
        ("made by", f"uv {env.uv_version}" if env.uv_version else "?"),
        ("built", _when(env.modified)),
        ("last used", _when(env.last_used) + "  (pyvenv.cfg access time; relatime: up to a day stale)"),
    ]
    if env.packages:
        rows.append(("packages", ", ".join(f"{p.name} {p.version}" for p in env.packages)))
    else:
        rows.append(("packages", "none"))
    rows += [("problem", p) for p in env.problems]
    return rows
