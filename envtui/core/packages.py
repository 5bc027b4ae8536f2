"""The cache per package: every entry ``uv cache clean NAME`` removes, with its bytes and users.

Mirrors ``Cache::remove`` and ``CacheBucket::remove`` (crates/uv-cache/src/lib.rs), which have
read the buckets the same way in every release from uv 0.4.0 to 0.13.9; each uv reads only the
buckets of its own version. envtui reads every generation the cache holds, each as the
``uv cache clean NAME`` of the uv that wrote it would: ``wheels-v2`` ... ``wheels-v8`` alike. For a
package NAME (validated and normalised as uv's ``PackageName``: :func:`package_name`) that is:

* ``wheels-vN/pypi/NAME``, ``wheels-vN/index/*/NAME``, ``wheels-vN/url/*/NAME``;
* ``sdists-vN/pypi/NAME``, ``sdists-vN/index/*/NAME``, and every ``sdists-vN/url/*`` and
  ``sdists-vN/path/*`` directory one of whose revisions holds a ``metadata.msgpack`` naming NAME,
  and every ``sdists-vN/git/*/<sha>`` that does;
* ``simple-vN/pypi/NAME.rkyv``, ``simple-vN/index/*/NAME.rkyv`` (the index pages);
* the whole ``flat-index-vN`` bucket ("we can't know if the flat index includes a package");
* then every ``archive-vN`` entry that links in ``wheels``/``sdists`` pointed at, all of which
  are now gone.

A newer uv's buckets are read but never deleted from (:attr:`Package.untouched`). envtui counts
links from every bucket of every version (``environments-vN`` and another generation's
``wheels-vN`` too): an archive entry another link still points at is kept. Files environments
hardlink from a deleted archive entry stay on disk; :attr:`Package.used_by` names them.

Paths are those of the cache root resolved (``os.path.realpath``), however the root was spelled.
"""

from __future__ import annotations

import bisect
import os
import re
import stat
from collections import defaultdict
from dataclasses import dataclass
from operator import attrgetter
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

import msgpack
from packaging.utils import canonicalize_name

from .archive import archive_links
from .buckets import Bucket, list_buckets
from .disk.freed import freed_bytes
from .disk.scan import DiskReport
from .disk.walk import walk_stats
from .errors import EntryError, ScanCancelled
from .fsread import MIB, read_regular

__all__ = [
    "DELETED_AGES", "INDEX_PAGE", "SDIST", "WHEEL", "Package", "PackageEntry", "clean_targets",
    "environment_inodes", "flat_index_buckets", "package_name", "package_names", "packages_to_json",
    "scan_packages", "users_of",
]

#: Kinds of a package's entry, by the bucket it lives in.
WHEEL, SDIST, INDEX_PAGE = "wheel cache", "source distribution", "index page"

#: The bucket a kind lives in, by uv's bucket name.
_BUCKET_OF = {WHEEL: "wheels", SDIST: "sdists", INDEX_PAGE: "simple"}
_SIDE_FILES = (".http", ".lock", ".msgpack", ".rev")
#: Bucket ages a package is deleted from: uv 0.13's own and older generations (as
#: :data:`envtui.core.prune.safety.DELETABLE_AGES`); a newer uv's buckets are only read.
DELETED_AGES = ("current", "older")
#: A name uv's ``PackageName`` accepts (PEP 508; crates/uv-normalize/src/lib.rs): ASCII only.
_NAME = re.compile(r"[A-Z0-9]|[A-Z0-9][A-Z0-9._-]*[A-Z0-9]", re.IGNORECASE | re.ASCII)
#: ``{truncated version}-{digest of the tags}``: uv's wheel cache key when ``{version}-{tags}``
#: is longer than 64 characters (``WheelFilename::cache_key``).
_DIGEST_KEY = re.compile(r"[0-9a-f]{16}")


def package_name(text: str) -> str:
    """``text`` normalised as uv's ``PackageName`` prints it (lowercase, each run of ``-_.`` one
    ``-``). Raises ``ValueError`` naming ``text`` when uv refuses it: empty, or not a PEP 508 name
    (``^([A-Z0-9]|[A-Z0-9][A-Z0-9._-]*[A-Z0-9])$``, case-insensitive, ASCII). Mirrors
    ``validate_and_normalize_ref`` (crates/uv-normalize/src/lib.rs)."""
    if not isinstance(text, str) or _NAME.fullmatch(text) is None:
        raise ValueError(f"not a package name: {text!r} (a name starts and ends with a letter or digit "
                         "and holds only letters, digits, '-', '_' and '.')")
    return str(canonicalize_name(text))


@dataclass(frozen=True)
class PackageEntry:
    """One cache entry of a package, as ``uv cache clean NAME`` removes it."""

    path: Path
    """The entry: ``wheels-v8/index/<digest>/NAME`` (a directory), ``simple-v28/pypi/NAME.rkyv``..."""
    kind: str
    """:data:`WHEEL`, :data:`SDIST` or :data:`INDEX_PAGE`."""
    source: str
    """Where uv got it: ``pypi``, ``index/<digest>``, ``url/<digest>``, ``path/<digest>``, ``git/<digest>/<sha>``."""
    versions: tuple[str, ...] = ()
    """For wheel cache entries: the versions it holds (from ``<version>-<tags>`` names)."""


@dataclass(frozen=True)
class Package:
    """Everything the cache holds for one package, and what deleting it would do."""

    name: str
    """The normalised name (``PackageName``): lowercase, runs of ``-_.`` as one ``-``."""
    versions: tuple[str, ...]
    """Versions found in its wheel cache entries and its archive entries, sorted."""
    entries: tuple[PackageEntry, ...]
    """Its entries in ``wheels-vN``, ``sdists-vN`` and ``simple-vN`` of uv 0.13 and every older
    generation (:data:`DELETED_AGES`), by bucket version."""
    archives: tuple[Path, ...]
    """``archive-vN`` entries only its entries link to: deleted with it."""
    kept_archives: tuple[Path, ...] = ()
    """``archive-vN`` entries its entries link to that another link still points at: kept."""
    used_by: tuple[Path, ...] = ()
    """Environments (script environments, persisted cached environments) that hardlink files of
    its archive entries: those files stay on disk when the package is deleted."""
    disk: int | None = None
    """Allocated bytes of its entries and archive entries (``st_blocks * 512``, each inode once)."""
    freed: int | None = None
    """Bytes deleting it frees: inodes whose every link lies in its entries and archive entries."""
    untouched: tuple[PackageEntry, ...] = ()
    """Its entries in a newer uv's buckets: read, never deleted (nor counted in the bytes)."""

    @property
    def paths(self) -> tuple[Path, ...]:
        """What deleting it deletes, entries (links) first, then archive entries."""
        return tuple(e.path for e in self.entries) + self.archives


def _dirs(path: Path) -> list[Path]:
    """Subdirectories of ``path`` (not following links), sorted; none if unreadable or missing.
    Mirrors ``directories()`` in crates/uv-cache/src/lib.rs."""
    try:
        with os.scandir(path) as it:
            return sorted(Path(e.path) for e in it if e.is_dir(follow_symlinks=False))
    except OSError:
        return []


def _names(path: Path) -> list[str]:
    try:
        return sorted(os.listdir(path))
    except OSError:
        return []


def _generations(buckets: Iterable[Bucket], name: str, ages: Iterable[str]) -> list[Bucket]:
    """Every bucket ``name`` (``wheels-v2`` ... ``wheels-v8``) of one of ``ages``, oldest first:
    the one each uv's ``cache.bucket(self)`` names."""
    ages = tuple(ages)
    return sorted((b for b in buckets if b.kind == "bucket" and b.name == name and b.age in ages),
                  key=attrgetter("version"))


def _metadata_name(revision: Path) -> str | None:
    """The name in ``revision/metadata.msgpack`` (rmp-serde of ``ResolutionMetadata``: a
    positional array whose first field is the name), normalised; ``None`` if unreadable."""
    try:
        data = msgpack.unpackb(read_regular(revision / "metadata.msgpack", 4 * MIB), strict_map_key=False)
    except (OSError, EntryError, ValueError, msgpack.UnpackException):
        return None
    name = data.get("name") if isinstance(data, dict) else data[0] if isinstance(data, list) and data else None
    return str(canonicalize_name(name)) if isinstance(name, str) else None


def _wheel_version(stem: str) -> str | None:
    """The version in a wheel cache key: ``{version}-{python}-{abi}-{platform}`` (uv 0.6 and
    later), ``{name}-{version}-{python}-{abi}-{platform}`` (uv 0.4 - 0.5: the wheel's stem), or
    ``{version}-{16 hex digits}`` (a long key, its version maybe truncated); else ``None``."""
    parts = stem.split("-")
    if len(parts) == 5:
        return parts[1]
    if len(parts) == 4 or (len(parts) == 2 and _DIGEST_KEY.fullmatch(parts[1])):
        return parts[0]
    return None


def _versions(package_dir: Path) -> tuple[str, ...]:
    """Versions of a wheel cache package directory, from its entries' names (side files too)."""
    found = set()
    for n in _names(package_dir):
        stem = next((n[: -len(s)] for s in _SIDE_FILES if n.endswith(s)), n)
        version = _wheel_version(stem)
        if version:
            found.add(version)
    return tuple(sorted(found))


def _index_roots(bucket: Path) -> list[tuple[str, Path]]:
    """``(source, directory)`` holding one entry per package: ``pypi`` and each ``index/<digest>``."""
    return [("pypi", bucket / "pypi")] + [(f"index/{d.name}", d) for d in _dirs(bucket / "index")]


def clean_targets(buckets: Iterable[Bucket], name: str, *, ages: Iterable[str] = DELETED_AGES) -> list[PackageEntry]:
    """The entries ``uv cache clean NAME`` removes outright from the ``wheels``, ``sdists`` and
    ``simple`` buckets of ``ages`` (each generation as its own uv reads it; the archive entries
    they alone link to come on top, and the whole ``flat-index`` bucket: see
    :func:`flat_index_buckets`). Only existing paths; unreadable directories hold nothing.
    Raises ``ValueError`` for a name uv refuses (:func:`package_name`). Mirrors
    ``CacheBucket::remove``."""
    buckets = list(buckets)
    name = package_name(name)
    ages = tuple(ages)
    out: list[PackageEntry] = []
    for wheels in _generations(buckets, "wheels", ages):
        roots = _index_roots(wheels.path) + [(f"url/{d.name}", d) for d in _dirs(wheels.path / "url")]
        for source, d in roots:
            if os.path.lexists(d / name):
                out.append(PackageEntry(d / name, WHEEL, source, _versions(d / name)))
    for sdists in _generations(buckets, "sdists", ages):
        for source, d in _index_roots(sdists.path):
            if os.path.lexists(d / name):
                out.append(PackageEntry(d / name, SDIST, source))
        for kind in ("url", "path"):
            for d in _dirs(sdists.path / kind):
                if any(_metadata_name(rev) == name for rev in _dirs(d)):
                    out.append(PackageEntry(d, SDIST, f"{kind}/{d.name}"))
        for repo in _dirs(sdists.path / "git"):
            for sha in _dirs(repo):
                if _metadata_name(sha) == name:
                    out.append(PackageEntry(sha, SDIST, f"git/{repo.name}/{sha.name}"))
    for simple in _generations(buckets, "simple", ages):
        for source, d in _index_roots(simple.path):
            if os.path.lexists(d / f"{name}.rkyv"):
                out.append(PackageEntry(d / f"{name}.rkyv", INDEX_PAGE, source))
    return out


def flat_index_buckets(buckets: Iterable[Bucket], *, ages: Iterable[str] = DELETED_AGES) -> list[Bucket]:
    """The ``flat-index-vN`` buckets of ``ages``, oldest first: ``uv cache clean NAME`` removes its
    own whole for any NAME (it cannot tell which packages a flat index lists)."""
    return _generations(buckets, "flat-index", ages)


def package_names(buckets: Iterable[Bucket]) -> list[str]:
    """Every package name with an entry in a ``wheels``, ``sdists`` or ``simple`` bucket of any
    generation (a newer uv's too), sorted. Source distributions by URL, path or git are named by
    their ``metadata.msgpack``. Only names uv writes there: valid and normalised (a directory
    ``Tabulate`` or ``a b`` is no package uv would clean)."""
    buckets = list(buckets)
    ages = ("current", "older", "newer")
    names: set[str] = set()
    for b in _generations(buckets, "wheels", ages) + _generations(buckets, "sdists", ages):
        roots = _index_roots(b.path) + ([(f"url/{d.name}", d) for d in _dirs(b.path / "url")] if b.name == "wheels" else [])
        for _source, d in roots:
            names.update(p.name for p in _dirs(d))
        if b.name == "sdists":
            for kind in ("url", "path"):
                for d in _dirs(b.path / kind):
                    names.update(n for n in map(_metadata_name, _dirs(d)) if n)
            for repo in _dirs(b.path / "git"):
                names.update(n for n in map(_metadata_name, _dirs(repo)) if n)
    for simple in _generations(buckets, "simple", ages):
        for _source, d in _index_roots(simple.path):
            names.update(n[: -len(".rkyv")] for n in _names(d) if n.endswith(".rkyv"))
    return sorted(n for n in names if _NAME.fullmatch(n) and str(canonicalize_name(n)) == n)


def _links_under(index: list[tuple[str, str]], tops: Iterable[str]) -> dict[str, int]:
    """Archive target -> how many of its links are one of ``tops`` or lie below one (each counted
    once), from ``index``: every ``(link path, target)``, sorted, in the same resolved spelling
    as ``tops``. Below ``top`` is the range from ``top + "/"`` up to ``top + "0"`` (``"0"``
    follows ``"/"``): ``tabulate-extras/...`` and ``tabulate.x`` sort between ``tabulate`` and
    ``tabulate/``, and are not tabulate's."""
    found: dict[str, set[str]] = defaultdict(set)
    for top in tops:
        i = bisect.bisect_left(index, (top,))
        if i < len(index) and index[i][0] == top:
            found[index[i][1]].add(top)
        for path, target in index[bisect.bisect_left(index, (top + os.sep,)):bisect.bisect_left(index, (top + "0",))]:
            found[target].add(path)
    return {target: len(paths) for target, paths in found.items()}


def _archive_version(archive: Path) -> str | None:
    """The version in the name of the unpacked wheel's ``*.dist-info`` (``{name}-{version}``; a
    version holds no ``-``), or ``None``."""
    for n in _names(archive):
        if n.endswith(".dist-info"):
            return n[: -len(".dist-info")].rpartition("-")[2] or None
    return None


def environment_inodes(
    buckets: Iterable[Bucket], *, should_stop: Callable[[], bool] | None = None
) -> dict[tuple[int, int], list[Path]]:
    """``(st_dev, st_ino)`` of every hardlinked file (``st_nlink > 1``) in an environment of the
    cache (script environments in ``environments-vN``, persisted cached environments in
    ``archive-vN``: directories with a ``pyvenv.cfg``), to the environments linking it.
    Raises :class:`ScanCancelled` when ``should_stop()`` turns true."""
    envs: list[Path] = []
    for b in buckets:
        if b.kind == "bucket" and b.name in ("environments", "archive"):
            envs += [d for d in _dirs(b.path) if os.path.lexists(d / "pyvenv.cfg")]
    out: dict[tuple[int, int], list[Path]] = defaultdict(list)
    for env in envs:
        for _p, st in walk_stats(env, should_stop=should_stop):
            if st.st_nlink > 1 and not stat.S_ISDIR(st.st_mode):
                holders = out[(st.st_dev, st.st_ino)]
                if not holders or holders[-1] != env:
                    holders.append(env)
    return dict(out)


def users_of(
    archives: Iterable[Path],
    env_inodes: Mapping[tuple[int, int], list[Path]],
    *,
    should_stop: Callable[[], bool] | None = None,
) -> tuple[Path, ...]:
    """The environments (from :func:`environment_inodes`) that hardlink a file of ``archives``, sorted."""
    users: set[Path] = set()
    for archive in archives:
        for _p, st in walk_stats(archive, should_stop=should_stop):
            users.update(env_inodes.get((st.st_dev, st.st_ino), ()))
    users.difference_update(archives)
    return tuple(sorted(users))


def _respell(path: Path | str, old_root: Path | str, new_root: Path) -> Path:
    """``path``, spelled from ``old_root``, spelled from ``new_root`` (the same directory)."""
    return new_root / os.path.relpath(path, old_root)


def _package(
    name: str,
    buckets: list[Bucket],
    links: Mapping[str, list[Path]],
    link_index: list[tuple[str, str]],
    users: Callable[[list[Path]], tuple[Path, ...]],
    sizes: bool,
    should_stop: Callable[[], bool] | None,
) -> Package:
    entries = clean_targets(buckets, name)
    untouched = clean_targets(buckets, name, ages=("newer",))
    tops = [str(e.path) for e in entries]
    archives: list[Path] = []
    kept: list[Path] = []
    for target, mine in _links_under(link_index, tops).items():
        if not os.path.isdir(target):
            continue
        (archives if mine == len(set(links[target])) else kept).append(Path(target))
    archives.sort()
    kept.sort()
    versions = {v for e in entries for v in e.versions}
    versions.update(v for v in map(_archive_version, archives + kept) if v)
    disk = freed = None
    if sizes:
        paths = tops + [str(a) for a in archives]
        seen: set[tuple[int, int]] = set()
        disk = 0
        for p in paths:
            for _f, st in walk_stats(p, should_stop=should_stop):
                if (st.st_dev, st.st_ino) not in seen:
                    seen.add((st.st_dev, st.st_ino))
                    disk += st.st_blocks * 512
        freed = freed_bytes(paths, should_stop=should_stop)[0]
    return Package(name, tuple(sorted(versions)), tuple(entries), tuple(archives), tuple(kept), users(archives), disk,
                   freed, tuple(untouched))


def _scan(
    root: Path,
    names: Iterable[str] | None,
    report: DiskReport | None,
    sizes: bool,
    should_stop: Callable[[], bool] | None,
) -> tuple[list[Package], dict[str, list[Path]]]:
    """:func:`scan_packages`, and the links it read (:func:`~envtui.core.archive.archive_links`
    of the cache resolved), for a caller that groups a package's entries by them."""
    wanted = None if names is None else sorted({package_name(n) for n in names})
    root = Path(os.path.realpath(root))
    buckets = list_buckets(root)
    if wanted is None:
        wanted = package_names(buckets)
    links = archive_links(buckets, should_stop=should_stop)
    # Each package looks up the links under its own entries: a sorted list, not every link per
    # package (2,000 packages by 2,200 links took 17 s).
    index = sorted((str(p), target) for target, found in links.items() for p in set(found))
    if report is None:
        env_inodes = environment_inodes(buckets, should_stop=should_stop)

        def users(archives: list[Path]) -> tuple[Path, ...]:
            return users_of(archives, env_inodes, should_stop=should_stop)
    else:
        measured = report

        def users(archives: list[Path]) -> tuple[Path, ...]:
            # The report spells paths from the root it was given; these are from the resolved root.
            found: set[Path] = set()
            for a in archives:
                usage = measured.entry(_respell(a, root, Path(measured.root)))
                found.update(_respell(u, measured.root, root) for u in (usage.used_by if usage else ()))
            return tuple(sorted(found))

    out = []
    for name in wanted:
        if should_stop is not None and should_stop():
            raise ScanCancelled()
        out.append(_package(name, buckets, links, index, users, sizes, should_stop))
    if sizes:
        out.sort(key=attrgetter("disk"), reverse=True)  # stable: names stay in order among equals
    return out, links


def scan_packages(
    root: Path,
    *,
    names: Iterable[str] | None = None,
    report: DiskReport | None = None,
    sizes: bool = True,
    should_stop: Callable[[], bool] | None = None,
) -> list[Package]:
    """Every package of the cache at ``root`` (or only ``names``, normalised; a name with no
    entry gives a :class:`Package` with none), largest first (then by name; by name alone
    without ``sizes``). Paths are spelled from ``root`` resolved (a symlink, ``..``: one
    spelling for every comparison).

    With ``sizes``, ``disk`` and ``freed`` are measured (a walk of the package's entries and
    archive entries; bytes). ``used_by`` comes from ``report`` (:func:`~envtui.core.disk.scan_disk`)
    when given, else from a walk of the cache's environments. Raises ``ValueError`` naming a
    name uv refuses (:func:`package_name`) before reading anything, ``OSError`` if the root
    cannot be listed and :class:`ScanCancelled` when ``should_stop()`` turns true.
    """
    return _scan(root, names, report, sizes, should_stop)[0]


def packages_to_json(packages: Iterable[Package]) -> list[dict[str, Any]]:
    """The ``packages`` list of ``envtui ls --json --sizes``: ``name``, ``versions``, ``bytes``
    (``disk``, ``freed``; ``null`` when not measured), ``used_by`` (environment paths),
    ``entries`` and ``archives`` (paths), and ``untouched`` (paths in a newer uv's buckets)."""
    return [
        {
            "name": p.name,
            "versions": list(p.versions),
            "bytes": {"disk": p.disk, "freed": p.freed},
            "used_by": [str(u) for u in p.used_by],
            "entries": [{"path": str(e.path), "kind": e.kind, "source": e.source} for e in p.entries],
            "archives": [str(a) for a in p.archives],
            "untouched": [str(e.path) for e in p.untouched],
        }
        for p in packages
    ]
