"""The safety rules for anything that deletes from a uv cache, in one place (docs/uv-cache.md,
"envtui's safety rules"). The planner, the executor and rebuild all go through :class:`Rules` and :func:`vet`.

* One resolved root: the cache root is resolved once (``os.path.realpath``); every entry path,
  link target and bucket is compared in that one resolved form, however it was spelled (``..``,
  a symlinked root or bucket, relative or absolute links).
* Only uv's buckets, of a version uv 0.13 or older wrote, strictly inside the root; never the root,
  a marker file, a bucket as a whole (unless the entry is a :attr:`Kind.BUCKET` and uv's root
  lock is held), a bucket of a newer or unknown version, or anything a filesystem is mounted on.
* A reference is any symlink anywhere in the cache (any bucket, any version, symlinked buckets
  followed) whose target resolves into an ``archive-vN/<id>`` entry, and, for an archive entry on
  its own, any hardlink to one of its files from outside the plan. An archive entry something
  references outside the plan stays. A cached environment's link takes its target with it only
  when the target resolves to an ``archive-vN/<id>`` directory of this cache.
* Entries a running process uses, entries whose own uv lock is held, and entries that need uv's
  root lock when it is not held exclusively, are skipped, saying why.

Mirrors ``Cache::find_archive_references`` and ``Cache::prune`` (crates/uv-cache/src/lib.rs),
which canonicalize link targets before comparing them.
"""

from __future__ import annotations

import bisect
import os
import re
import stat
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterable, Mapping, Sequence

from ..buckets import Bucket, list_buckets
from ..contain import GONE_ERRNOS, below, resolve_parent
from ..disk.freed import Freed, under_any
from ..disk.walk import list_links
from ..errors import ScanCancelled
from ..locks import ProcessInfo, RootLock, entry_lock_held
from .inuse import ProcessPaths
from .paths import ParentDirs
from .records import Kind, PlanEntry, Skipped
from .remover import TMP_PREFIX, check_prune_root, mount_points

if TYPE_CHECKING:
    from .outside import OutsideRules

__all__ = ["DELETABLE_AGES", "BucketLinks", "LinkListing", "Look", "References", "Rules", "Vetted", "guard_path", "mount_points", "resolve_path", "vet"]

#: Bucket ages whose entries may be deleted; a ``newer`` or ``unknown`` bucket is never touched.
DELETABLE_AGES = ("current", "older")
#: Kinds that are only deleted while uv's root lock is held exclusively, whatever the entry says.
EXCLUSIVE_KINDS = (Kind.ARCHIVE, Kind.LEFTOVER, Kind.BUCKET)
_MAX_LINKS = 40  # symlinks followed while resolving one path, as the kernel's MAXSYMLINKS
#: An archive bucket's name, as :mod:`envtui.core.buckets` reads a bucket's (``\d``: any digit).
_ARCHIVE_BUCKET = re.compile(r"archive-v\d+")


def _dirname(path: str) -> str:
    """``os.path.dirname`` of a ``str`` (POSIX), without its generic argument handling: the
    resolver calls it for every ``..`` of every link in the cache."""
    i = path.rfind("/") + 1
    head = path[:i]
    return head.rstrip("/") or head


def _child(parent: str, name: str) -> str:
    """``os.path.join(parent, name)`` for a ``str`` ``parent`` and one component ``name`` (no
    ``/``, not empty)."""
    return parent + name if parent.endswith("/") or not parent else parent + "/" + name


class _Resolver:
    """Resolves link targets as the kernel does (``..`` after the link it follows), starting from
    directories already known to be resolved, remembering every ``readlink`` it did."""

    def __init__(self) -> None:
        self._links: dict[str, str | None] = {}

    def _readlink(self, path: str) -> str | None:
        try:
            return self._links[path]
        except KeyError:
            pass
        try:
            target = os.readlink(path)
        except OSError:
            target = None
        self._links[path] = target
        return target

    def _walk(self, base: str, rel: str, depth: int) -> tuple[str, int]:
        """``rel`` (absolute, or relative to the resolved directory ``base``) resolved, following
        at most :data:`_MAX_LINKS` links, and how many links this level followed (``depth``
        included)."""
        cur = "/" if rel.startswith("/") else base
        for part in rel.split("/"):
            if part in ("", "."):
                pass
            elif part == "..":
                cur = _dirname(cur)
            else:
                cand = _child(cur, part)
                target = self._readlink(cand)
                if target is None or depth >= _MAX_LINKS:
                    cur = cand
                else:
                    depth += 1
                    cur = self._walk(cur, target, depth)[0]
        return cur, depth

    def named_and_resolved(self, base: str, rel: str) -> tuple[str, str]:
        """``(named, resolved)`` for the link target ``rel`` read in the resolved directory
        ``base``: what it names (resolved up to its last component, which is not followed) and
        what it finally resolves to, its directory part resolved once for both."""
        head, tail = os.path.split(rel)
        parent, depth = self._walk(base, head, 0)
        return os.path.normpath(os.path.join(parent, tail)), self._walk(parent, tail, depth)[0]


@dataclass
class References:
    """Links into archive entries: resolved archive entry path -> resolved paths of the links."""

    links: dict[str, set[str]] = field(default_factory=dict)
    unlisted: list[tuple[str, str]] = field(default_factory=list)
    """Directories that could not be listed (and links that could not be read), resolved, with
    why: a link in them may point anywhere, so while one is kept, every archive entry counts as
    referenced (:meth:`unknown`)."""

    _keys: list[str] | None = field(default=None, repr=False, compare=False)

    def add(self, entry: str, link: str) -> None:
        if entry not in self.links:
            self._keys = None
        self.links.setdefault(entry, set()).add(link)

    def unknown(self, deleting: Iterable[str] = ()) -> list[tuple[str, str]]:
        """The :attr:`unlisted` paths that do not lie inside one of the resolved paths
        ``deleting``: what they hold goes too, so their links keep nothing."""
        gone = set(deleting)
        return [(p, why) for p, why in self.unlisted if not under_any(p, gone)]

    def _entries_below(self, real: str) -> list[str]:
        """The referenced archive entries strictly inside ``real``: one bisection of the sorted
        entries (``"/"`` sorts just before ``"0"``), not a test of each."""
        if self._keys is None:
            self._keys = sorted(self.links)
        keys = self._keys
        return keys[bisect.bisect_left(keys, real + "/"):bisect.bisect_left(keys, real + "0")]

    def outside(self, rules: "Rules", path: str | os.PathLike[str], deleting: Iterable[str] = ()) -> list[str]:
        """Links (resolved) that reference what deleting ``path`` removes (the archive entry it is
        or lies in, or any archive entry under it) and that do not themselves lie inside one of
        the resolved paths ``deleting`` (or inside ``path``). Sorted. While a directory of
        :meth:`unknown` stays, an archive-related ``path`` is referenced by it (given as
        ``"<dir> (could not be listed: <why>)"``)."""
        real = rules.resolve(path)
        gone = set(deleting) | {real}
        unknown = self.unknown(gone) if rules.archive_related(real) else []
        if unknown:
            return [f"{p} (could not be listed: {why})" for p, why in unknown]
        entry = rules.archive_entry_of(real)
        hits = set(self.links.get(entry, ()))  # type: ignore[arg-type]  # None (in no archive entry) finds none
        for key in self._entries_below(real):
            hits |= self.links[key]
        return sorted(link for link in hits if not under_any(link, gone))


#: ``path`` as a deletion reaches it: its parent resolved, its last component not followed (a link
#: is removed, not what it points at); ``..`` resolved after the link it follows, as the kernel
#: does. The one rule's :func:`~envtui.core.contain.resolve_parent`.
resolve_path = resolve_parent


def guard_path(root: str | os.PathLike[str], path: str | os.PathLike[str], buckets: dict[str, Bucket], *,
               whole_bucket: bool = False) -> str | None:
    """Why ``path`` must not be deleted, or ``None`` when it may be.

    ``root`` is the resolved cache root; ``buckets`` maps top-level names to :class:`Bucket`.
    ``path`` is resolved with :func:`resolve_path` (its parent, not itself); the result must lie
    strictly inside ``root``, under a bucket uv owns whose version is current or older, or be one
    of uv's ``.tmp*`` leftovers at the root; a whole bucket only with ``whole_bucket``.
    """
    return _guard(str(root), buckets, resolve_path(path), whole_bucket)


def _guard(base: str, buckets: dict[str, Bucket], full: str, whole_bucket: bool) -> str | None:
    if not below(full, base, strict=True):
        return f"{full} is outside the cache root {base}"
    top = full[len(base) + 1:].partition(os.sep)[0]
    if top.startswith(TMP_PREFIX):
        return _temp_reason(base, top)
    bucket = buckets.get(top)
    if bucket is None or bucket.kind != "bucket":
        return f"{top} is not a bucket uv owns"
    if bucket.age not in DELETABLE_AGES:
        return f"{top} is a bucket of a {bucket.age} version: never touched"
    if full == os.path.join(base, top) and not whole_bucket:
        return f"{full} is a whole bucket"
    return None


#: The names uv gives the temporary directories and files it makes at the cache root and in its
#: buckets: the tempfile crate's default, ``.tmp`` and six ASCII letters or digits
#: (``tempfile::tempdir_in``: crates/uv-distribution/src/distribution_database.rs,
#: crates/uv-python/src/interpreter.rs, crates/uv-installer/src/compile.rs, crates/uv-fs).
UV_TEMP_NAME = re.compile(r"\.tmp[A-Za-z0-9]{6}")


def _temp_reason(base: str, top: str) -> str | None:
    """Why the top-level ``.tmp*`` name ``top`` of the cache at ``base`` is not uv's, or ``None``:
    only uv's exact naming, owned by the cache root's owner, is uv's. A cache root shared with
    other programs (``UV_CACHE_DIR=~/.cache``) holds their temporary directories too."""
    if not UV_TEMP_NAME.fullmatch(top):
        return f"{top} is not named as uv names its temporary directories (.tmp and 6 letters or digits): not uv's"
    try:
        owner, mine = os.lstat(os.path.join(base, top)).st_uid, os.stat(base).st_uid
    except OSError as err:
        if err.errno in GONE_ERRNOS:
            return None  # gone: nothing to delete, and nothing the guard has to keep
        return f"{top}: its owner cannot be checked ({err.strerror or err}): not known to be uv's"
    if owner != mine:
        return f"{top} belongs to uid {owner}, the cache to uid {mine}: not uv's"
    return None


@dataclass(frozen=True)
class BucketLinks:
    """The links of one top-level directory of the cache, as :meth:`Rules.list_links` found them."""

    path: str
    """The directory as the root spells it."""
    target: str | None
    """Its own link target when it is a symlink, else ``None``."""
    real: str
    """The directory resolved, where it was listed."""
    links: list[tuple[str, str]]
    """``(path, target)`` of every link below it, ``path`` spelled from :attr:`real`; empty when it
    was not listed (not a directory, or one listed already under another name)."""
    errors: list[tuple[str, int]]
    """``(path, errno)`` of what could not be listed or read."""


class LinkListing:
    """:meth:`Rules.list_links` in a thread of its own, so that the link walk (C, without the GIL)
    runs while the caller reads the inventory. Start it once uv's root lock is held, so that what
    it lists is what the plan's checks see; :meth:`result` waits for it and re-raises what it
    raised."""

    def __init__(self, rules: "Rules") -> None:
        self.rules = rules
        """The rules it lists for; a plan given this listing uses them."""
        self._result: list[BucketLinks]  # set by the thread, or _error
        self._error: BaseException | None = None
        # A daemon: a command that fails meanwhile exits without waiting for the walk.
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            self._result = self.rules.list_links()
        except BaseException as err:  # handed to the caller by result()
            self._error = err

    def result(self) -> list[BucketLinks]:
        """What :meth:`Rules.list_links` returned, once the thread is done; raises what it raised."""
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self._result


class Rules:
    """The safety rules for the cache at ``root``, resolved once.

    Raises :class:`~envtui.core.errors.NotACacheError` for a root without uv's ``CACHEDIR.TAG``
    signature and :class:`~envtui.core.prune.UnsafePathError` for ``/`` or a home directory,
    before anything in it is touched. ``buckets`` and ``mounts`` may be given (tests)."""

    def __init__(self, root: str | os.PathLike[str], *, buckets: Iterable[Bucket] | None = None,
                 mounts: Iterable[str] | None = None) -> None:
        self.root: Path = check_prune_root(Path(root))
        """The resolved cache root."""
        self._root = str(self.root)
        self.buckets: dict[str, Bucket] = {b.dirname: b for b in (list_buckets(self.root) if buckets is None else buckets)}
        """Top-level name to :class:`Bucket` (as :func:`~envtui.core.buckets.list_buckets`)."""
        self._mounts = None if mounts is None else frozenset(mounts)
        self._resolver = _Resolver()
        self._parents = ParentDirs()
        # Where links may point to reach an archive entry: every archive-vN, symlinked or not, by
        # each of its spellings (as the root spells it, and resolved) -> resolved.
        self._archive_dirs: dict[str, str] = {}
        for name in self.buckets:
            if _ARCHIVE_BUCKET.fullmatch(name):
                here = os.path.join(self._root, name)
                self._archive_dirs[here] = self._archive_dirs[os.path.realpath(here)] = os.path.realpath(here)
        # The same, longest first (the deepest archive directory a path lies in wins), each as a
        # prefix ending in the separator.
        self._archive_prefixes = sorted(
            ((d if d.endswith(os.sep) else d + os.sep, real) for d, real in self._archive_dirs.items()),
            key=lambda pr: -len(pr[0]))
        # Where an archive entry may be deleted: real archive buckets of a known age.
        self._deletable_archives = {
            os.path.join(self._root, name) for name, b in self.buckets.items()
            if b.kind == "bucket" and b.name == "archive" and b.age in DELETABLE_AGES
        }

    # -- paths -----------------------------------------------------------------------------------

    def resolve(self, path: str | os.PathLike[str]) -> str:
        """:func:`resolve_path`, each parent directory resolved once per :class:`Rules` (a plan
        resolves every path of every entry, and entries share their few parents). The guard
        resolves afresh."""
        p = os.fspath(path)
        parts = self._parents.split(p)
        return resolve_path(p) if parts is None else os.path.join(*parts)

    def guard(self, path: str | os.PathLike[str], *, whole_bucket: bool = False) -> str | None:
        """:func:`guard_path` in this cache."""
        return _guard(self._root, self.buckets, resolve_path(path), whole_bucket)

    def check_entry(self, entry: PlanEntry) -> str | None:
        """Why ``entry`` as a whole may not be deleted beyond what :meth:`guard` says of each of its
        paths: in the cache, ``None`` (the guard says it all)."""
        return None

    @property
    def mounts(self) -> frozenset[str]:
        """Mount points strictly inside the root (read once)."""
        if self._mounts is None:
            self._mounts = frozenset(m for m in mount_points() if below(m, self._root, strict=True))
        return self._mounts

    def mount_inside(self, path: str | os.PathLike[str]) -> str | None:
        """A mount point at or below ``path`` (resolved), or ``None``: deleting never crosses
        into another filesystem (``rm --one-file-system``), and a bind mount is one too."""
        real = self.resolve(path)
        return next((m for m in sorted(self.mounts) if below(m, real)), None)

    def archive_entry_of(self, path: str) -> str | None:
        """The ``archive-vN/<id>`` entry (resolved) that ``path`` (resolved, or spelled from the
        root) is or lies in, in any archive bucket of this cache, or ``None``. A bucket itself is
        not an entry. One prefix test per spelling of an archive bucket (a handful), not a
        ``dirname`` per component: every link of the cache is looked up here."""
        for prefix, real in self._archive_prefixes:
            if path.startswith(prefix):
                name = path[len(prefix):].lstrip(os.sep).partition(os.sep)[0]
                return os.path.join(real, name) if name else None
        return None

    def archive_related(self, real: str) -> bool:
        """Whether the resolved path ``real`` is, lies in, or holds an archive entry (the only
        paths a link can make referenced)."""
        return self.archive_entry_of(real) is not None or any(below(a, real) for a in self._archive_dirs)

    def archive_target(self, link: str | os.PathLike[str]) -> Path | None:
        """The directory a cached environment's ``link`` takes with it: its target fully resolved,
        when that is a directory exactly one level below a real, deletable ``archive-vN`` bucket
        of this cache; else ``None`` (then only the link goes)."""
        real = os.path.realpath(link)
        if os.path.dirname(real) not in self._deletable_archives:
            return None
        try:
            st = os.lstat(real)
        except OSError:
            return None
        return Path(real) if stat.S_ISDIR(st.st_mode) else None

    # -- references ------------------------------------------------------------------------------

    def list_links(self, *, should_stop: Callable[[], bool] | None = None) -> list[BucketLinks]:
        """The links of every top-level directory of the cache (buckets reached through a symlink
        included, each directory once), fresh from disk: what :meth:`find_references` reads.
        Directories are listed by ``d_type`` (:func:`~envtui.core.disk.walk.list_links`, in C
        where built, without the GIL): one ``readlink`` per link, no ``stat`` per file. Raises
        :class:`~envtui.core.errors.ScanCancelled` when ``should_stop()`` turns true."""
        out: list[BucketLinks] = []
        seen: set[tuple[int, int]] = set()
        for name in sorted(self.buckets):
            if should_stop is not None and should_stop():
                raise ScanCancelled()
            here = os.path.join(self._root, name)
            try:
                target: str | None = os.readlink(here)
            except OSError:
                target = None  # not a link (EINVAL), or gone
            links: list[tuple[str, str]]
            errors: list[tuple[str, int]]
            real, links, errors = here, [], []
            try:
                st = os.stat(here)  # a bucket moved away and linked back is read where it is
            except OSError:
                st = None
            if st is not None and stat.S_ISDIR(st.st_mode) and (st.st_dev, st.st_ino) not in seen:
                seen.add((st.st_dev, st.st_ino))
                real = os.path.realpath(here)  # opened resolved: the walk follows no link, not even this one
                links, errors = list_links(real, should_stop=should_stop)
            out.append(BucketLinks(here, target, real, links, errors))
        return out

    def find_references(self, *, should_stop: Callable[[], bool] | None = None,
                        listed: Sequence[BucketLinks] | None = None) -> References:
        """Every symlink in the cache (every top-level directory, buckets reached through a
        symlink included, any version) whose target resolves into an archive entry, from
        ``listed`` (what :meth:`list_links` gave, under the same root lock) or fresh from disk.
        A link counts both for what it names (an ``archive-vN/<id>`` that may itself be a link)
        and for what it finally resolves to. Links into their own archive entry are recorded too
        (:meth:`References.outside` discounts them). A directory that cannot be listed goes to
        :attr:`References.unlisted` (what it holds is unknown). Raises
        :class:`~envtui.core.errors.ScanCancelled` when ``should_stop()`` turns true."""
        if listed is None:
            listed = self.list_links(should_stop=should_stop)
        refs = References()
        for bucket in listed:
            if should_stop is not None and should_stop():
                raise ScanCancelled()
            here, real = bucket.path, bucket.real
            if bucket.target is not None:
                self._record(refs, here, self._root, bucket.target)
            for path, target in bucket.links:
                self._record(refs, here + path[len(real):], os.path.dirname(path), target)
            refs.unlisted += [(path, os.strerror(errno)) for path, errno in bucket.errors]
        return refs

    def _record(self, refs: References, link: str, real_parent: str, target: str) -> None:
        where = os.path.join(real_parent, os.path.basename(link))
        # What the link names, what it finally resolves to (as uv's canonicalize), and, when in
        # doubt, what it names read lexically from where it sits in the cache (a bucket moved
        # away and linked back breaks relative links for the kernel, not for a person).
        candidates = [*self._resolver.named_and_resolved(real_parent, target),
                      os.path.normpath(os.path.join(os.path.dirname(link), target))]
        # uv 0.10 and older wrote absolute links: in a cache that was copied or moved they still
        # name the old place. The archive entry they mean is the one of the same name here.
        here = _archive_entry_named(self._root, target)
        if here is not None:
            candidates.append(here)
        for resolved in dict.fromkeys(candidates):  # most links give one path three times
            entry = self.archive_entry_of(resolved)
            if entry is not None:
                refs.add(entry, where)


def _archive_entry_named(root: str, target: str) -> str | None:
    """``<root>/archive-vN/<id>`` for an absolute link ``target`` that names an ``archive-vN/<id>``
    (at any depth) outside ``root``, or ``None``."""
    if not target.startswith("/") or below(os.path.normpath(target), root):
        return None
    parts = [p for p in target.split("/") if p and p != "."]
    for i in range(len(parts) - 2, -1, -1):
        if _ARCHIVE_BUCKET.fullmatch(parts[i]) and parts[i + 1] != "..":
            return os.path.join(root, parts[i], parts[i + 1])
    return None


@dataclass
class Look:
    """A look at the cache (or a place beside it) at one moment: references, uv's root lock,
    running processes. The planner takes one when it plans; the executor takes a fresh one under
    the root lock."""

    rules: "Rules | OutsideRules"
    """The rules of the cache."""
    exclusive: bool
    """Whether uv's root lock is (or was just) free / held by us exclusively."""
    references: References | None = None
    """Links into archive entries; ``None`` until :meth:`refs` finds them."""
    listing: LinkListing | None = None
    """The links, listed ahead (:class:`LinkListing`) under the same root lock; ``None``: listed when first needed."""
    running: ProcessPaths | None = None
    """What the running processes use, read when :meth:`processes` is first asked; ``None`` until then."""
    should_stop: Callable[[], bool] | None = None
    ignore_uncertain: bool = False
    """Whether entries only processes envtui cannot inspect may be using are deleted anyway
    (the user said so); by default they are skipped, saying which processes."""
    _parents: ParentDirs = field(default_factory=ParentDirs, repr=False)

    def refs(self) -> References:
        """The references, found on first use."""
        if self.references is None:
            listed = self.listing.result() if self.listing is not None else None
            self.references = self.rules.find_references(  # type: ignore[union-attr]  # asked of the cache's Rules only
                should_stop=self.should_stop, listed=listed)
        return self.references

    def processes(self, entry: PlanEntry) -> list[ProcessInfo]:
        """The running processes using ``entry`` (its ``uses`` directories). The first question
        reads every process once (:class:`~envtui.core.prune.inuse.ProcessPaths`); later ones
        are looked up in what it read."""
        if not entry.uses:
            return []
        if self.running is None:
            self.running = ProcessPaths()
        return self.running.using(entry.uses, self._parents)


def standalone_reason(entry: PlanEntry, look: Look) -> Skipped | None:
    """Why ``entry`` must be skipped whatever else the plan holds, or ``None``: a path outside
    the rules (:meth:`Rules.guard`), a filesystem mounted inside it, uv's root lock not held for
    an entry that needs it, a running process using it, its own uv lock held. Checked in that
    order; the first reason wins."""
    rules = look.rules
    for p in entry.paths:
        why = rules.guard(p, whole_bucket=entry.kind == Kind.BUCKET)
        if why:
            return Skipped(entry.path, entry.kind, f"unsafe: {why}")
    why = rules.check_entry(entry)
    if why:
        return Skipped(entry.path, entry.kind, f"unsafe: {why}")
    for p in entry.paths:
        mount = rules.mount_inside(p)
        if mount:
            return Skipped(entry.path, entry.kind, f"a filesystem is mounted at {mount}: never deleted across it")
    if (entry.needs_exclusive or entry.kind in EXCLUSIVE_KINDS) and not look.exclusive:
        return Skipped(entry.path, entry.kind, "a uv is running and may be writing it (uv's root lock is held)")
    procs = look.processes(entry)
    if procs:
        seen = [p for p in procs if not p.uncertain]
        if seen:
            return Skipped(entry.path, entry.kind, "in use by a running process", tuple(seen))
        if not look.ignore_uncertain:
            return Skipped(entry.path, entry.kind, "may be in use by a process envtui cannot inspect "
                           "(another user's); go on only if you know it is not", tuple(procs))
    if entry.lock is not None and entry_lock_held(entry.lock):
        return Skipped(entry.path, entry.kind, f"its lock {entry.lock} is held: a uv is writing it")
    return None


def references_reason(entry: PlanEntry, look: Look, deleting: Iterable[str]) -> Skipped | None:
    """Why ``entry`` must stay because something outside the plan links into what it deletes
    (``deleting``: every resolved path the plan deletes), or ``None``. Only paths that are, lie
    in or hold archive entries are looked at (others cannot be referenced)."""
    rules = look.rules
    gone = set(deleting)
    for real in map(rules.resolve, entry.paths):
        if not rules.archive_related(real):
            continue  # nothing links into it that matters
        refs = look.refs()
        unknown = refs.unknown(gone)
        if unknown:
            where, why = unknown[0]
            more = f" (and {len(unknown) - 1} more)" if len(unknown) > 1 else ""
            return Skipped(entry.path, entry.kind, f"cannot tell what links to {real}: {where} could not be listed ({why}){more}")
        links = refs.outside(rules, real, gone)  # type: ignore[arg-type]  # archive_related: the cache's Rules
        if links:
            more = f" (and {len(links) - 1} more)" if len(links) > 1 else ""
            return Skipped(entry.path, entry.kind, f"referenced: {links[0]} links to {real}{more}")
    return None


def hardlink_reason(entry: PlanEntry, kept_links: int) -> Skipped | None:
    """Why an archive entry on its own must stay: ``kept_links`` of its files have hardlinks
    outside the plan (a kept environment, or a project outside the cache, still uses them;
    deleting it would free little and lose uv's copy). ``None`` for other kinds."""
    if entry.kind == Kind.ARCHIVE and kept_links:
        return Skipped(entry.path, entry.kind,
                       f"no link, but something kept hardlinks {kept_links} of its files "
                       "(an environment, or a project outside the cache)")
    return None


@dataclass(frozen=True)
class Vetted:
    """What the checks of a plan made under a root lock the caller holds saw. While that lock
    stays held no uv writes to the cache, so the executor reuses the references and the walk of
    the plan's paths, and looks again only at what can change without uv: running processes and
    the entries' own locks."""

    lock: RootLock
    """The root lock held while the plan was made."""
    look: Look
    """The look the plan was checked with (its references)."""
    freed: Freed
    """The walk of every entry that passed the checks of :func:`standalone_reason`."""
    groups: dict[Path, int]
    """Each planned entry's path -> its group in :attr:`freed`."""


def vet(
    entries: Sequence[PlanEntry],
    look: Look,
    *,
    should_stop: Callable[[], bool] | None = None,
    freed: Freed | None = None,
    groups: Mapping[Path, int] | None = None,
) -> tuple[list[PlanEntry], list[Skipped], Freed, list[int]]:
    """Run every rule over ``entries`` (in deletion order) and keep those that pass together.

    Returns ``(kept entries, skipped, freed, groups)``: ``freed`` has one group per entry that
    passed :func:`standalone_reason` (its paths walked once), ``groups`` are the kept entries'
    groups in it. An earlier walk can be given as ``freed`` with ``groups`` (entry path -> group):
    entries found there are not walked again. References and hardlinks depend on what else
    goes: entries are dropped until none references or hardlinks outside the remaining set.
    Raises ``ScanCancelled``."""
    skipped: list[Skipped] = []
    passed: list[PlanEntry] = []
    for entry in entries:
        why = standalone_reason(entry, look)
        if why is None:
            passed.append(entry)
        else:
            skipped.append(why)
    if freed is None:
        freed = Freed(should_stop=should_stop)
    known = groups or {}
    group = [known[e.path] if e.path in known else freed.add(e.paths) for e in passed]
    resolved = [[look.rules.resolve(p) for p in entry.paths] for entry in passed]
    alive = list(range(len(passed)))
    while True:
        # Dropping an entry only ever adds references and hardlinks outside the set: repeat
        # until every remaining entry passes with the others.
        deleting = {r for i in alive for r in resolved[i]}
        members = {group[i] for i in alive}
        failed = {}
        for i in alive:
            why = references_reason(passed[i], look, deleting) or hardlink_reason(
                passed[i], freed.kept_links(group[i], members))
            if why is not None:
                failed[i] = why
        if not failed:
            break
        skipped += failed.values()
        alive = [i for i in alive if i not in failed]
    return [passed[i] for i in alive], skipped, freed, [group[i] for i in alive]
