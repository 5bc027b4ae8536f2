"""``archive-vN`` entries named: which wheel or environment each random id holds, and who links to it.

uv unpacks every wheel it installs into ``archive-v0/<random id>`` and links to it from the wheel
cache (``wheels-vN/.../<name>/<version-tags>``, a symlink) or from ``sdists-vN`` (wheels built
from source); it persists cached environments there too and links them from
``environments-vN/<interpreter hash>/<resolution hash>`` (``Cache::persist``,
crates/uv-cache/src/lib.rs; ``CachedEnvironment::from_resolution``,
crates/uv/src/commands/project/environment.rs). Environments install wheels by hardlinking the
files of these entries. An entry that nothing links to may still be in use: with local
``--find-links`` wheels uv 0.13 keeps no wheel-cache link, and environments use the entry only
through hardlinks, which :mod:`envtui.core.disk` finds.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

from .buckets import Bucket, list_buckets
from .disk import DiskReport
from .errors import EntryError
from .environments import Distribution, Environment, read_distribution, read_distributions, read_pyvenv_cfg
from .errors import ScanCancelled

__all__ = ["ArchiveEntry", "archive_links", "WHEEL", "ENVIRONMENT", "SOURCE", "UNKNOWN", "IN_FLIGHT", "archive_use", "scan_archive"]

WHEEL, ENVIRONMENT, SOURCE, UNKNOWN, IN_FLIGHT = "wheel", "environment", "source tree", "unknown", "in flight"

#: Buckets whose links point into ``archive-vN`` (by bucket name, any version).
LINKING_BUCKETS = ("wheels", "sdists", "environments")
_MAX_DEPTH = 6


@dataclass(frozen=True)
class ArchiveEntry:
    """One ``archive-vN/<id>`` directory, named."""

    path: Path
    """The entry: ``<cache>/archive-v0/<id>``."""
    kind: str
    """``"wheel"`` (an unpacked wheel: ``<pkg>/`` and ``<pkg>-<ver>.dist-info/`` at its top),
    ``"environment"`` (a persisted cached environment: ``pyvenv.cfg`` at its top),
    ``"source tree"`` (``PKG-INFO`` or ``*.egg-info``), ``"in flight"`` (a ``.tmp`` name uv is
    still writing) or ``"unknown"``."""
    name: str
    """A human name: ``"tinytool 2.0"``, ``"tinytool environment, CPython 3.13.0"``..."""
    distributions: tuple[Distribution, ...] = ()
    """For a wheel, its ``*.dist-info``; for an environment, what is installed in it."""
    linked_from: tuple[Path, ...] = ()
    """Symlinks in ``wheels-vN``, ``sdists-vN`` or ``environments-vN`` that point at it."""
    environment: Environment | None = None
    """For a persisted environment: the cached environment whose link points at it, if any."""
    python_version: str | None = None
    """For a persisted environment: ``version_info`` from its ``pyvenv.cfg``."""

    @property
    def id(self) -> str:
        """The random id uv gave it (the directory name)."""
        return self.path.name


def _links_into(bucket: Path, archive_dirs: dict[str, str], should_stop: Callable[[], bool] | None) -> dict[str, list[Path]]:
    """Symlinks under ``bucket`` whose targets are directly inside one of ``archive_dirs`` (every
    spelling of an archive bucket -> the bucket as the root spells it), by target spelled from the
    root. A target's directory is compared as written, then resolved (a link written through
    another spelling of the cache), then, for an absolute link naming ``archive-vN/<id>`` of a
    cache that has moved (uv 0.10 and older wrote absolute links), by the bucket's name. Lists
    directories only (``d_type``): no ``stat`` per file."""
    out: dict[str, list[Path]] = {}
    by_name = {os.path.basename(d): d for d in archive_dirs.values()}
    resolved: dict[str, str | None] = {}

    def archive_dir(parent: str, absolute: bool) -> str | None:
        found = archive_dirs.get(parent)
        if found is None:
            if parent not in resolved:
                resolved[parent] = archive_dirs.get(os.path.realpath(parent))
            found = resolved[parent]
        if found is None and absolute:
            found = by_name.get(os.path.basename(parent))
        return found

    stack = [(str(bucket), 0)]
    while stack:
        if should_stop and should_stop():
            raise ScanCancelled()
        current, depth = stack.pop()
        try:
            it = os.scandir(current)
        except OSError:
            continue
        with it:
            for entry in it:
                try:
                    if entry.is_symlink():
                        text = os.readlink(entry.path)
                        target = os.path.normpath(os.path.join(current, text))
                        home = archive_dir(os.path.dirname(target), os.path.isabs(text))
                        if home is not None:
                            out.setdefault(os.path.join(home, os.path.basename(target)), []).append(Path(entry.path))
                    elif depth < _MAX_DEPTH and entry.is_dir(follow_symlinks=False) and entry.name != "src":
                        stack.append((entry.path, depth + 1))
                except OSError:
                    continue
    return out


def archive_links(
    buckets: Iterable[Bucket],
    *,
    names: Iterable[str] = LINKING_BUCKETS,
    should_stop: Callable[[], bool] | None = None,
) -> dict[str, list[Path]]:
    """Every symlink in the buckets called ``names`` (any version) that points directly into an
    ``archive-vN`` bucket, by target path spelled from the cache root, however the link spells it
    (see :func:`_links_into`; the target may no longer exist: a dangling link is still listed). ``buckets`` is :func:`~envtui.core.buckets.list_buckets` of the cache.
    Mirrors ``Cache::find_archive_references`` (crates/uv-cache/src/lib.rs), which walks
    ``wheels-vN`` and ``sdists-vN``; ``environments-vN`` links are included by default.
    Raises :class:`ScanCancelled` when ``should_stop()`` turns true."""
    buckets = list(buckets)
    archive_dirs: dict[str, str] = {}
    for b in buckets:
        if b.kind == "bucket" and b.name == "archive":
            archive_dirs[str(b.path)] = archive_dirs[os.path.realpath(b.path)] = str(b.path)
    wanted = set(names)
    links: dict[str, list[Path]] = {}
    for b in buckets:
        if b.kind == "bucket" and b.name in wanted:
            for target, found in _links_into(b.path, archive_dirs, should_stop).items():
                links.setdefault(target, []).extend(found)
    return links


def _describe_env(env: Environment | None, packages: tuple[Distribution, ...], cfg: dict[str, str]) -> str:
    tool = env.tool if env else None
    others = [d.name for d in packages if d.name != tool]
    if tool:
        what = f"{tool} environment" + (f" with {', '.join(others[:3])}" if others else "")
    else:
        what = f"environment with {', '.join(others[:3])}" if others else "empty environment"
    if len(others) > 3:
        what += f" and {len(others) - 3} more"
    python = f"{cfg.get('implementation', 'Python')} {cfg.get('version_info') or cfg.get('version') or '?'}"
    if env is None:
        return f"{what}, {python} (no link: abandoned or being written)"
    return f"{what}, {python}"


def _read_entry(path: Path, by_target: dict[str, Environment], links: list[Path]) -> ArchiveEntry:
    try:
        names = sorted(os.listdir(path))
    except OSError as err:
        return ArchiveEntry(path, UNKNOWN, f"unreadable ({err.strerror})", linked_from=tuple(links))
    env = by_target.get(str(path))
    if "pyvenv.cfg" in names:
        try:
            cfg = read_pyvenv_cfg(path / "pyvenv.cfg")
        except (OSError, ValueError, EntryError):
            cfg = {}
        packages = env.packages if env is not None else read_distributions(path)
        return ArchiveEntry(path, ENVIRONMENT, _describe_env(env, packages, cfg), packages, tuple(links), env,
                            cfg.get("version_info") or cfg.get("version"))
    dists = tuple(read_distribution(path / n) for n in names if n.endswith(".dist-info"))
    if dists:
        name = ", ".join(f"{d.name} {d.version}" for d in dists)
        return ArchiveEntry(path, WHEEL, name, dists, tuple(links))
    eggs = [n for n in names if n.endswith(".egg-info")]
    if eggs or "PKG-INFO" in names:
        label = eggs[0][: -len(".egg-info")] if eggs else path.name
        return ArchiveEntry(path, SOURCE, f"source tree {label}", linked_from=tuple(links))
    if path.name.startswith(".tmp"):
        return ArchiveEntry(path, IN_FLIGHT, "being written by uv", linked_from=tuple(links))
    shown = ", ".join(names[:3]) + (", …" if len(names) > 3 else "")
    return ArchiveEntry(path, UNKNOWN, f"unknown: {len(names)} item{'s' if len(names) != 1 else ''} ({shown or 'empty'})",
                        linked_from=tuple(links))


def scan_archive(
    root: Path,
    *,
    environments: Iterable[Environment] = (),
    should_stop: Callable[[], bool] | None = None,
) -> list[ArchiveEntry]:
    """Name every entry of every ``archive-vN`` bucket of the cache at ``root``, sorted by name.

    ``environments`` (from :func:`~envtui.core.inventory.scan_inventory`) say which cached
    environment each persisted environment belongs to. Reads each entry's top directory and its
    ``*.dist-info/METADATA``, and lists (without ``stat``) the buckets that link into the archive.
    Raises :class:`ScanCancelled` when ``should_stop()`` turns true, ``OSError`` if the root cannot
    be listed; an unreadable entry is still listed, named "unreadable".
    """
    buckets = list_buckets(root)
    archives = [b.path for b in buckets if b.kind == "bucket" and b.name == "archive"]
    links = archive_links(buckets, should_stop=should_stop)
    by_target = {os.path.normpath(str(e.link_target)): e for e in environments if e.link_target is not None}
    out = []
    for archive in archives:
        try:
            children = sorted(os.scandir(archive), key=lambda e: e.name)
        except OSError:
            continue
        for child in children:
            if should_stop and should_stop():
                raise ScanCancelled()
            if child.is_dir(follow_symlinks=False):
                out.append(_read_entry(Path(child.path), by_target, sorted(links.get(child.path, []))))
    out.sort(key=lambda e: (e.name.lower(), e.id))
    return out


def archive_use(entry: ArchiveEntry, report: DiskReport | None) -> str:
    """Whether anything needs ``entry``: ``"linked"`` (a link points at it), ``"used"`` (no link,
    but environments hardlink its files), ``"unreferenced"`` (neither: uv will not find it again),
    or ``"?"`` while the disk scan that finds hardlinks has not finished (``report`` is ``None``)."""
    if entry.linked_from:
        return "linked"
    if report is None:
        return "?"
    usage = report.entry(entry.path)
    if usage is not None and usage.used_by:
        return "used"
    return "unreferenced"
