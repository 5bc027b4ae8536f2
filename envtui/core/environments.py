"""Environments in ``environments-vN``: script environments and cached (tool, ``--with``) ones.

* A script environment is a real venv at ``environments-vN/{cache_name(stem)}-{digest}``, rebuilt
  in place (``ScriptInterpreter::root``, crates/uv/src/commands/project/mod.rs).
* A cached environment is a link ``environments-vN/{interpreter hash}/{resolution hash}`` into
  ``archive-v0/<id>``, next to a ``<resolution hash>.lock`` (``CachedEnvironment::from_resolution``,
  crates/uv/src/commands/project/environment.rs).

Generations (uv's source at each release tag, and caches the releases built):

* ``environments-v1``: uv 0.4.0 - 0.5.31; ``environments-v2``: uv 0.6.0 and later. Script
  environments exist from uv 0.5.31 (``ScriptEnvironment``); before, a script ran in a cached
  environment like a tool's.
* Links are absolute up to uv 0.10 and relative (``../../archive-v0/<id>``) from 0.11.
* The interpreter hash (``INTERPRETER_HASH_SCHEMES``) was the reported ``sys.executable`` up to
  0.7.13, its canonical path from 0.7.14, the canonical path with the canonical ``sys.prefix`` in
  0.7.19 - 0.7.22, and the canonical path again from 0.8.0.
"""

from __future__ import annotations

import os
import stat
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from .contain import below
from .digest import PathKey, cache_digest, script_environment_name
from .errors import EntryError, ScanCancelled
from .fsread import KIB, MIB, read_regular_text

__all__ = [
    "Distribution",
    "Environment",
    "ENVIRONMENTS_GENERATIONS",
    "INTERPRETER_HASH_SCHEMES",
    "interpreter_hashes",
    "recognise_interpreter_hashes",
    "read_distributions",
    "read_pyvenv_cfg",
    "scan_environments",
    "scan_environment_buckets",
    "SCRIPT",
    "CACHED",
]

SCRIPT, CACHED = "script", "cached"
OK, DANGLING, CORRUPT, IN_FLIGHT = "ok", "dangling", "corrupt", "in flight"

#: ``METADATA`` headers that may repeat; their values are joined with newlines.
_MULTI_HEADERS = frozenset({"Requires-Dist"})
_HEX16 = re.compile(r"^[0-9a-f]{16}$")

#: Which uv releases use each ``environments-vN`` bucket (``CacheBucket::Environments``).
ENVIRONMENTS_GENERATIONS = {
    1: "uv 0.4.0 - 0.5.31 (script environments only from 0.5.31; before, scripts ran in cached environments)",
    2: "uv 0.6.0 and later",
}

#: How each uv generation hashes a cached environment's interpreter (the ``environments-vN/<hash>``
#: directory), with the releases using it (``CachedEnvironment::from_resolution`` at each tag).
INTERPRETER_HASH_SCHEMES = {
    "executable": "cache_digest(sys.executable as reported) (uv 0.4 - 0.7.13)",
    "canonical": "cache_digest(canonical sys.executable) (uv 0.7.14 - 0.7.18, and 0.8.0 and later)",
    "canonical+prefix": "cache_digest((canonical sys.executable, canonical sys.prefix)) (uv 0.7.19 - 0.7.22)",
}
_SCRIPT_DIR = re.compile(r"^(?:(?P<stem>.+)-)?(?P<digest>[0-9a-f]{16})$")


@dataclass(frozen=True)
class Distribution:
    """An installed distribution found through its ``*.dist-info`` directory."""

    name: str
    """The project name from ``METADATA`` (as written), or from the directory name."""
    version: str
    """The version from ``METADATA``, or from the directory name."""
    console_scripts: tuple[str, ...] = ()
    """Console script names from ``entry_points.txt``."""
    problem: str | None = None
    """What was wrong with the dist-info (e.g. no ``METADATA``), if anything."""
    requires: tuple[str, ...] = ()
    """Its ``Requires-Dist`` headers from ``METADATA``, as written (PEP 508, markers included)."""


@dataclass(frozen=True)
class Environment:
    """One entry of ``environments-vN``."""

    kind: str
    """``"script"`` or ``"cached"``."""
    path: Path
    """The stable path: the venv for a script environment, the link for a cached one."""
    key: str
    """The cache key: ``<stem>-<digest>`` for a script, ``<interpreter hash>/<resolution hash>`` for a cached one."""
    status: str
    """``ok``, ``dangling`` (link target gone), ``corrupt`` (no or garbled ``pyvenv.cfg``) or
    ``in flight`` (a ``.tmp`` name uv is still writing)."""
    link_target: Path | None = None
    """For a cached environment: the ``archive-v0/<id>`` directory the link points to (not resolved further)."""
    python_version: str | None = None
    """``version_info`` from ``pyvenv.cfg``."""
    implementation: str | None = None
    """``implementation`` from ``pyvenv.cfg``."""
    home: str | None = None
    """``home`` from ``pyvenv.cfg``: the base interpreter's directory."""
    uv_version: str | None = None
    """The uv that made it (``uv`` in ``pyvenv.cfg``)."""
    interpreter: str | None = None
    """The base interpreter (canonical executable) when known: for a cached environment, the
    executable whose ``cache_digest`` equals the interpreter hash."""
    interpreter_hash: str | None = None
    """Cached environments: ``cache_digest(canonical base sys_executable)``."""
    resolution_hash: str | None = None
    """Cached environments: digest of the resolved distributions (not recomputable from the env)."""
    digest: str | None = None
    """Script environments: ``cache_digest(absolute script path)``."""
    stem: str | None = None
    """Script environments: the ``cache_name`` of the script's stem, from the directory name."""
    script: str | None = None
    """Script environments: the script path, when a known script hashes to this key."""
    prompt: str | None = None
    """``prompt`` from ``pyvenv.cfg`` (uv writes the script's file name there)."""
    packages: tuple[Distribution, ...] = ()
    """Installed distributions, sorted by name."""
    tool: str | None = None
    """Cached environments: the distribution that provides console scripts (the tool ``uvx`` ran)."""
    last_used: float | None = None
    """Access time of ``pyvenv.cfg`` (epoch seconds): Python reads it at every start; relatime
    makes it at most a day stale, and noatime mounts freeze it (then it is the mtime)."""
    modified: float | None = None
    """Modification time of ``pyvenv.cfg`` (epoch seconds): when the environment was (re)built."""
    problems: tuple[str, ...] = ()
    """Human-readable problems found while reading, each naming the path."""
    bucket_version: int | None = None
    """``N`` of the ``environments-vN`` bucket holding it (1: uv 0.4 - 0.5, 2: uv 0.6 and later)."""
    link_text: str | None = None
    """Cached environments: the link's target exactly as uv wrote it (``readlink``)."""
    link_form: str | None = None
    """Cached environments: ``"absolute"`` (uv up to 0.10) or ``"relative"`` (uv 0.11 and later)."""
    link_target_here: Path | None = None
    """Cached environments: when an absolute link points outside this cache (the cache was moved
    or copied since uv wrote it) at ``.../archive-vN/<id>``, this cache's own ``archive-vN/<id>``
    if it exists: what the link meant, and what a prune should keep while the link is kept."""
    interpreter_hash_scheme: str | None = None
    """Cached environments: how the interpreter hash was derived, when a known interpreter
    reproduces it (an ``INTERPRETER_HASH_SCHEMES`` value, naming the uv releases using it)."""

    @property
    def root(self) -> Path | None:
        """The directory holding the venv: the stable path, or the link target if that exists."""
        if self.kind == SCRIPT:
            return self.path
        return self.link_target

    @property
    def python(self) -> Path:
        """The environment's ``bin/python`` (``Scripts/python.exe`` on Windows) via the stable path."""
        if os.name == "nt":
            return self.path / "Scripts" / "python.exe"
        return self.path / "bin" / "python"


def read_pyvenv_cfg(path: Path, *, complete: bool = False) -> dict[str, str]:
    """Parse a ``pyvenv.cfg`` into ``{key: value}`` (keys lowercased, values stripped).

    Raises ``OSError`` if unreadable, :class:`~envtui.core.errors.EntryError` if it is not a regular
    file or is over 64 KiB, and ``ValueError`` (naming the path) if no line is ``key = value``. With
    ``complete``, also ``ValueError`` for a file that looks cut short: no ``home`` line, or a last
    line without its newline (uv and ``venv`` write both, home first).
    """
    out: dict[str, str] = {}
    # pyvenv.cfg's access time is the "last used" we show: reading it the ordinary way would, on a
    # relatime mount, reset it to now for every entry untouched for a day.
    text = read_regular_text(path, 64 * KIB, noatime=True)
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep and key.strip():
            out[key.strip().lower()] = value.strip()
    if not out:
        raise ValueError(f"{path}: no 'key = value' lines")
    if complete and not out.get("home"):
        raise ValueError(f"{path}: no 'home' line: truncated, or not written by uv")
    if complete and not text.endswith("\n"):
        raise ValueError(f"{path}: its last line is cut short (no newline at the end): truncated")
    return out


def _site_packages(root: Path, problems: list[str] | None = None) -> list[Path]:
    found = []
    lib = root / "lib"
    try:
        for child in sorted(os.scandir(lib), key=lambda e: e.name):
            if child.name.startswith(("python", "pypy")) and child.is_dir(follow_symlinks=False):
                sp = Path(child.path) / "site-packages"
                if sp.is_dir():
                    found.append(sp)
    except FileNotFoundError:
        pass
    except OSError as err:
        if problems is not None:
            problems.append(f"{lib}: cannot list: {err.strerror or err}")
    win = root / "Lib" / "site-packages"
    try:
        if stat.S_ISDIR(os.stat(win).st_mode):
            found.append(win)
    except FileNotFoundError:
        pass
    except OSError as err:  # Path.is_dir raises PermissionError on 3.11: a problem, never fatal
        if problems is not None:
            problems.append(f"{win}: cannot look: {err.strerror or err}")
    return found


def _read_metadata_headers(path: str | os.PathLike[str]) -> dict[str, str]:
    headers: dict[str, str] = {}
    # Only the header block is wanted; a long description after it is cut, never read whole.
    for line in read_regular_text(path, MIB, truncate=True).splitlines():
        if not line:
            break
        key, sep, value = line.partition(":")
        if sep and not key.startswith((" ", "\t")):
            if key in _MULTI_HEADERS:
                headers[key] = f"{headers[key]}\n{value.strip()}" if key in headers else value.strip()
            elif key not in headers:
                headers[key] = value.strip()
    return headers


def _console_scripts(path: str | os.PathLike[str], problems: list[str]) -> tuple[str, ...]:
    try:
        text = read_regular_text(path, MIB)
    except FileNotFoundError:
        return ()
    except EntryError as err:
        problems.append(str(err))
        return ()
    except OSError as err:
        problems.append(f"{path}: {err.strerror or err}")
        return ()
    names = []
    section = None
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1].strip()
        elif section in ("console_scripts", "gui_scripts") and "=" in line:
            names.append(line.split("=", 1)[0].strip())
    return tuple(names)


def read_distribution(dist_info: str | os.PathLike[str]) -> Distribution:
    """Read one ``*.dist-info`` directory. Never raises: a missing or unreadable ``METADATA``
    falls back to the directory name and says so in ``problem``."""
    dist_info = os.fspath(dist_info)  # str joins: every environment of the cache has a few
    metadata = os.path.join(dist_info, "METADATA")
    stem = os.path.basename(dist_info)[: -len(".dist-info")]
    dir_name, _, dir_version = stem.partition("-")
    problem = None
    headers: dict[str, str] = {}
    try:
        headers = _read_metadata_headers(metadata)
        name = headers.get("Name") or dir_name
        version = headers.get("Version") or dir_version
        if "Name" not in headers or "Version" not in headers:
            problem = f"{metadata}: no Name or Version header"
    except EntryError as err:
        name, version = dir_name, dir_version
        problem = str(err)
    except OSError as err:
        name, version = dir_name, dir_version
        problem = f"{metadata}: {err.strerror or err}"
    others: list[str] = []
    scripts = _console_scripts(os.path.join(dist_info, "entry_points.txt"), others)
    requires = tuple(headers.get("Requires-Dist", "").splitlines())
    return Distribution(name, version, scripts, "; ".join(p for p in (problem, *others) if p) or None, requires)


def read_distributions(root: Path, problems: list[str] | None = None) -> tuple[Distribution, ...]:
    """Every distribution installed in the venv at ``root``, sorted by canonical name. A directory
    that cannot be listed is skipped and, when ``problems`` is given, named there."""
    out = []
    for sp in _site_packages(root, problems):
        try:
            entries = list(os.scandir(sp))
        except OSError as err:
            if problems is not None and not isinstance(err, FileNotFoundError):
                problems.append(f"{sp}: cannot list: {err.strerror or err}")
            continue
        for entry in entries:
            if entry.name.endswith(".dist-info") and entry.is_dir(follow_symlinks=False):
                out.append(read_distribution(entry.path))
    out.sort(key=lambda d: (canonicalize_name(d.name), d.version))
    return tuple(out)


def _required_names(dist: Distribution, markers: dict[str, str]) -> set[str]:
    """Canonical names ``dist`` requires in an environment whose marker values are ``markers``; a
    requirement behind an extra counts (an installed extra pulled it in), and one whose marker
    cannot be evaluated counts too."""
    names: set[str] = set()
    for text in dist.requires:
        try:
            req = Requirement(text)
        except InvalidRequirement:
            continue
        if req.marker is not None:
            try:
                wanted = any(req.marker.evaluate({**markers, "extra": e}) for e in ("", *_marker_extras(text)))
            except Exception:  # an undefined marker variable: assume it applies
                wanted = True
            if not wanted:
                continue
        names.add(canonicalize_name(req.name))
    return names


def _marker_extras(text: str) -> list[str]:
    return re.findall(r"""extra\s*==\s*['"]([^'"]+)['"]""", text)


def _tool_of(packages: Iterable[Distribution], python_version: str | None = None) -> str | None:
    """The distribution a cached environment was made from (``uvx TOOL``, ``uvx --from TOOL``): a
    root of the installed dependency graph (no other installed distribution requires it, markers
    evaluated for ``python_version``) that provides a console script; among several roots (``uvx
    --with black ruff``) the one with a command named after it, then the first by name. Without
    such a root, any distribution with a console script; ``None`` when none has one."""
    packages = list(packages)
    markers: dict[str, str] = {}
    if python_version:
        parts = python_version.split(".")
        markers = {"python_version": ".".join(parts[:2]), "python_full_version": ".".join(parts[:3])}
    required: set[str] = set()
    for d in packages:
        required |= _required_names(d, markers) - {canonicalize_name(d.name)}
    with_scripts = [d for d in packages if d.console_scripts]
    roots = [d for d in with_scripts if canonicalize_name(d.name) not in required]
    for candidates in (roots, with_scripts):
        # A tool's own scripts are usually named after it; prefer that one among several.
        for d in candidates:
            if canonicalize_name(d.name) in {canonicalize_name(s) for s in d.console_scripts}:
                return d.name
        if candidates:
            return candidates[0].name
    return None


def interpreter_hashes(executables: Iterable[str]) -> dict[str, str]:
    """Map ``cache_digest(canonical executable)`` to that canonical executable, for every given
    executable (the interpreter hash of cached environments, uv 0.8 and later)."""
    return {h: m["canonical"] for h, m in recognise_interpreter_hashes(executables, schemes=("canonical",)).items()}


def _canonical(path: str) -> str:
    try:
        return os.path.realpath(path, strict=True)
    except (OSError, TypeError, ValueError):
        return path


def recognise_interpreter_hashes(
    executables: Iterable[str],
    with_prefixes: Iterable[tuple[str, str]] = (),
    schemes: Iterable[str] = tuple(INTERPRETER_HASH_SCHEMES),
) -> dict[str, dict[str, str]]:
    """Map every interpreter hash the given interpreters can have under each uv generation's
    scheme to ``{scheme: canonical executable}``.

    ``executables`` are paths as uv may have seen them (a ``python3`` symlink, a ``pyvenv.cfg``
    home's ``pythonX.Y``); ``with_prefixes`` are ``(executable, sys.prefix)`` pairs of the
    interpreters uv ran with (a base interpreter and its prefix, a project venv's python and the
    venv), which 0.7.19 - 0.7.22 hashed together. A path that does not exist here is hashed as
    written, so hashes copied from another machine are still recognised. Digests mirror uv's
    ``cache_digest``; each costs about 0.1 ms, so pairs are hashed as given, never crossed.
    """
    schemes = tuple(schemes)
    out: dict[str, dict[str, str]] = {}
    for exe in dict.fromkeys(e for e in executables if e):
        canonical = _canonical(exe)
        if "executable" in schemes:
            out.setdefault(cache_digest(PathKey.of(exe)), {}).setdefault("executable", canonical)
        if "canonical" in schemes:
            out.setdefault(cache_digest(PathKey.of(canonical)), {}).setdefault("canonical", canonical)
    if "canonical+prefix" in schemes:
        for exe, prefix in dict.fromkeys((e, p) for e, p in with_prefixes if e and p):
            canonical = _canonical(exe)
            digest = cache_digest((PathKey.of(canonical), PathKey.of(_canonical(prefix))))
            out.setdefault(digest, {}).setdefault("canonical+prefix", canonical)
    return out


def _schemes_for(uv_version: str | None) -> tuple[str, ...]:
    """The hash schemes to try for an environment ``pyvenv.cfg`` says uv ``uv_version`` made,
    that release's own scheme first."""
    try:
        v = tuple(int(x) for x in (uv_version or "").split(".")[:3])
    except ValueError:
        v = ()
    if v and v < (0, 7, 14):
        return ("executable", "canonical", "canonical+prefix")
    if (0, 7, 19) <= v < (0, 8, 0):
        return ("canonical+prefix", "canonical", "executable")
    return ("canonical", "canonical+prefix", "executable")


def _home_candidates(home: str | None, version: str | None) -> list[str]:
    """The executables a ``pyvenv.cfg`` home names (``python``, ``python3``, ``pythonX.Y``, as
    written; they need not exist)."""
    if not home:
        return []
    names = ["python", "python3"]
    parts = (version or "").split(".")
    if len(parts) >= 2:
        names.append(f"python{parts[0]}.{parts[1]}")
    return [os.path.join(home, n) for n in names]


def _times(cfg: Path) -> tuple[float | None, float | None]:
    try:
        st = cfg.stat()
    except OSError:
        return None, None
    return st.st_atime, st.st_mtime


def _venv_fields(root: Path, problems: list[str]) -> dict[str, Any]:
    cfg_path = root / "pyvenv.cfg"
    fields: dict[str, Any] = {}
    # Before reading: where O_NOATIME is refused, the read itself may bump the access time.
    last_used, modified = _times(cfg_path)
    try:
        cfg = read_pyvenv_cfg(cfg_path, complete=True)
    except FileNotFoundError:
        problems.append(f"{cfg_path}: missing")
        return fields
    except EntryError as err:
        problems.append(str(err))
        return fields
    except (OSError, ValueError) as err:
        # read_pyvenv_cfg's ValueError names the file already.
        problems.append(str(err) if isinstance(err, ValueError) else f"{cfg_path}: {err.strerror or err}")
        return fields
    fields["python_version"] = cfg.get("version_info") or cfg.get("version")
    fields["implementation"] = cfg.get("implementation")
    fields["home"] = cfg.get("home")
    fields["uv_version"] = cfg.get("uv")
    fields["prompt"] = cfg.get("prompt")
    fields["last_used"], fields["modified"] = last_used, modified
    packages = read_distributions(root, problems)
    fields["packages"] = packages
    problems.extend(d.problem for d in packages if d.problem)
    return fields


def _home_interpreter(home: str | None, version: str | None) -> str | None:
    if not home:
        return None
    names = []
    if version:
        parts = version.split(".")
        if len(parts) >= 2:
            names.append(f"python{parts[0]}.{parts[1]}")
        names.append(f"python{parts[0]}")
    names.append("python")
    for name in names:
        candidate = os.path.join(home, name)
        if os.path.exists(candidate):
            return os.path.realpath(candidate)
    return None


def _read_script_env(path: Path, scripts_by_name: Mapping[str, str]) -> Environment:
    problems: list[str] = []
    m = _SCRIPT_DIR.match(path.name)
    fields = _venv_fields(path, problems)
    status = OK if "python_version" in fields else CORRUPT
    if path.name.startswith(".tmp"):
        status = IN_FLIGHT
    interp = _home_interpreter(fields.get("home"), fields.get("python_version"))
    return Environment(
        kind=SCRIPT,
        path=path,
        key=path.name,
        status=status,
        digest=m["digest"] if m else None,
        stem=m["stem"] if m else None,
        script=scripts_by_name.get(path.name),
        interpreter=interp,
        problems=tuple(problems),
        **fields,
    )


def _inside(path: Path, root: Path) -> bool:
    """Whether the link text ``path`` names something strictly below ``root``, read lexically as
    uv wrote it (a link of a moved cache is judged by what it says, not what it reaches)."""
    return below(os.path.normpath(path), os.path.normpath(root), strict=True)


def _read_cached_env(link: Path, ihash: str) -> Environment:
    problems: list[str] = []
    try:
        target_text = os.readlink(link)
    except OSError as err:
        target_text = None
        problems.append(f"{link}: not a link ({err.strerror})")
    # uv up to 0.10 writes absolute links, later releases relative ones; joining handles both.
    target = (link.parent / target_text) if target_text else None
    status = OK
    fields: dict[str, Any] = {}
    here = None
    if target is not None and target_text is not None:
        target = Path(os.path.normpath(target))
        root = link.parent.parent.parent
        # uv up to 0.10 links absolutely: in a cache moved or copied since, the link names the
        # old place; the same archive entry here is what that link meant.
        if os.path.isabs(target_text) and not _inside(target, root) and target.parent.name.startswith("archive-v"):
            same = root / target.parent.name / target.name
            here = same if same.is_dir() else None
        if not target.is_dir():
            status = DANGLING
            moved = ""
            if os.path.isabs(target_text) and not _inside(target, link.parent.parent.parent):
                moved = " (an absolute link outside this cache: the cache was moved or copied since uv wrote it)"
            problems.append(f"{link}: link target {target} is gone{moved}")
        else:
            fields = _venv_fields(target, problems)
            if "python_version" not in fields:
                status = CORRUPT
    else:
        status = CORRUPT
    packages = fields.get("packages", ())
    return Environment(
        kind=CACHED,
        path=link,
        key=f"{ihash}/{link.name}",
        status=status,
        link_target=target,
        link_text=target_text,
        link_form=None if target_text is None else ("absolute" if os.path.isabs(target_text) else "relative"),
        link_target_here=here,
        interpreter_hash=ihash,
        resolution_hash=link.name,
        tool=_tool_of(packages, fields.get("python_version")),
        problems=tuple(problems),
        **fields,
    )


def scan_environments(
    bucket: Path,
    *,
    known_executables: Iterable[str] = (),
    known_prefixes: Iterable[tuple[str, str]] = (),
    known_scripts: Iterable[str] = (),
    should_stop: Callable[[], bool] | None = None,
    on_problem: Callable[[Path, str], None] | None = None,
) -> list[Environment]:
    """Read every script and cached environment in the ``environments-vN`` directory ``bucket``.

    ``known_executables`` (and ``known_prefixes``, ``(executable, sys.prefix)`` pairs) identify the
    interpreter hash of cached environments under every uv generation's scheme
    (:func:`recognise_interpreter_hashes`); the interpreters ``pyvenv.cfg`` ``home`` directories
    name are added automatically. ``known_scripts`` are script paths; each is mapped to its
    environment by key. A vanished entry is skipped; unreadable ones are reported through
    ``on_problem``. Raises :class:`ScanCancelled` when ``should_stop()`` turns true.
    """
    m = re.match(r"^environments-v(\d+)$", bucket.name)
    version = int(m[1]) if m else None
    scripts_by_name: dict[str, str] = {}
    for script in known_scripts:
        scripts_by_name.setdefault(script_environment_name(script), str(script))
    try:
        entries = sorted(os.scandir(bucket), key=lambda e: e.name)
    except FileNotFoundError:
        return []
    except OSError as err:
        if on_problem:
            on_problem(bucket, f"cannot list: {err.strerror}")
        return []
    scripts: list[Environment] = []
    groups: list[os.DirEntry[str]] = []
    for entry in entries:
        if should_stop and should_stop():
            raise ScanCancelled()
        try:
            if not entry.is_dir(follow_symlinks=False):
                continue
        except OSError:
            continue
        path = Path(entry.path)
        if os.path.lexists(path / "pyvenv.cfg") or not _HEX16.match(entry.name):
            scripts.append(replace(_read_script_env(path, scripts_by_name), bucket_version=version))
        else:
            groups.append(entry)
    cached: list[Environment] = []
    for group in groups:
        try:
            links = sorted(os.scandir(group.path), key=lambda e: e.name)
        except OSError as err:
            if on_problem and not isinstance(err, FileNotFoundError):
                on_problem(Path(group.path), f"cannot list: {err.strerror}")
            continue
        for link in links:
            if should_stop and should_stop():
                raise ScanCancelled()
            if link.name.endswith(".lock"):
                continue
            cached.append(replace(_read_cached_env(Path(link.path), group.name), bucket_version=version))
    # Identify interpreter hashes from every interpreter we know of, including the homes the
    # environments themselves name, under each generation's scheme.
    executables, pairs = list(known_executables), list(known_prefixes)
    for env in [*scripts, *cached]:
        exes = _home_candidates(env.home, env.python_version)
        executables += exes
        # A tool's base interpreter ran with its own prefix, the directory above the home.
        pairs += [(exe, os.path.dirname(env.home.rstrip("/")) or "/") for exe in exes if env.home]
    # Each uv's own scheme first (the pairs scheme costs a digest per interpreter entry, so it
    # is computed only for environments a 0.7.19 - 0.7.22 made); all schemes only if one is left.
    needed = {_schemes_for(env.uv_version)[0] for env in cached} | {"canonical"}
    known = recognise_interpreter_hashes(executables, pairs, needed) if cached else {}
    if any(env.interpreter_hash not in known for env in cached):
        known = recognise_interpreter_hashes(executables, pairs)
    out = list(scripts)
    for env in cached:
        matches = known.get(env.interpreter_hash or "", {})
        scheme = next((s for s in _schemes_for(env.uv_version) if s in matches), None)
        if scheme:
            env = replace(env, interpreter=matches[scheme], interpreter_hash_scheme=INTERPRETER_HASH_SCHEMES[scheme])
        out.append(env)
    return out


def scan_environment_buckets(
    buckets: Iterable[Path],
    **kwargs: Any,
) -> list[Environment]:
    """:func:`scan_environments` over every given ``environments-vN`` bucket (all the versions a
    cache holds, oldest first: a cache shared by uv 0.5 and 0.13 has both), concatenated. Keyword
    arguments are passed on."""
    def version(path: Path) -> int:
        m = re.match(r"^environments-v(\d+)$", path.name)
        return int(m[1]) if m else -1

    out: list[Environment] = []
    for bucket in sorted(buckets, key=version):
        out += scan_environments(bucket, **kwargs)
    return out
