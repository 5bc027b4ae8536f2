"""Which running processes use which directories: cache entries, tools, managed Pythons, project
venvs alike (psutil, and ``/proc`` for what psutil cannot read).

**What a process uses.** Its executable, working directory, command-line arguments, open files,
memory-mapped files, and the paths in its environment (``VIRTUAL_ENV``, ``PATH``, ``PYTHONHOME``,
``PYTHONPATH``, ``CONDA_PREFIX``, every ``UV_*``). The environment matters most: ``uvx tool`` and
``uv run --with pkg`` start the base interpreter and only ``VIRTUAL_ENV`` and ``PATH`` name the
cached environment. A relative argument or environment path is taken from the process's own working
directory (``cd proj && .venv/bin/python serve.py`` uses ``proj/.venv``); an option's value counts
too (``--python=.venv/bin/python``).

**Compared by inode.** A process uses a directory ``E`` when ``E`` has the ``(st_dev, st_ino)`` of
one of its paths or of a directory above one, each path taken as spelled and, unless the kernel
gave it resolved already (executable, working directory, open and mapped files), resolved: ``E``
spelled otherwise (``..``, a symlink, a bind mount of it) is the same ``E``. Every path is
``stat``-ed once per look, whatever number of processes share it.

**Processes that cannot be inspected** (``psutil.AccessDenied``: another user's, when not root).
What is still readable counts as for any process: the absolute paths of ``/proc/<pid>/cmdline``.
Beyond that such a process *may* be using ``E`` -- reported with ``ProcessInfo.uncertain`` set, and
``why`` starting ``"cannot be inspected (user bob, uid 1001): "`` -- when it can reach ``E`` (search
permission on ``E`` and every directory above it, for the process's effective uid and groups from
``/proc/<pid>/status``; a directory with a POSIX ACL, or one envtui cannot ``stat``, counts as
reachable) and one of:

1. **uv**: it, or a process above it in the process tree, holds a ``flock`` (``/proc/locks``) on a
   ``.lock`` file in ``E`` or in a directory above ``E``: it runs under a ``uv run``/``uvx`` of that
   cache (uv holds ``<cache>/.lock`` shared for the whole life of the program it runs). Any user.
2. **A program it may run from E**, for a human user only -- effective uid at least ``UID_MIN`` of
   ``/etc/login.defs`` (1000 when unset) and not 65534 (``nobody``, also what unmapped uids show
   as) -- when its executable is unreadable and ``argv[0]`` is a bare name ``N`` found through a
   ``PATH`` it does not show, and ``E/bin/N`` exists (``python`` in an activated venv);
3. or, for such a user, when its working directory is unreadable and a relative path in its
   command line could name ``E`` or something in it from ``E`` or a directory above ``E``: the
   path's leading components equal ``E``'s last ones and the rest exists in ``E``
   (``.venv/bin/python`` from ``proj``, ``bin/python`` from ``.venv``).

So root's daemons and system users' ones (``networkd-dispatcher``, started as ``/usr/bin/python3
/usr/bin/networkd-dispatcher``) never hold up a non-root user's prune unless their command line
names ``E`` or they run under a uv of ``E``'s cache; another human user's ``uvx`` on a shared cache,
or their ``python`` started from a shared venv, is caught. Not seen: what such a process reaches
through its hidden environment alone (``PYTHONPATH``), a program it started with an absolute path
elsewhere that then opens ``E``, a relative path from a working directory below ``E``, root's or a
system user's program run from ``E`` through a bare name or a relative path, and every process of
another user when ``/proc`` is mounted ``hidepid``. Linux: ``/proc`` is read directly for
``maps``, ``status`` and ``locks``; elsewhere psutil gives the mapped files and only the rules it
serves apply.
"""

from __future__ import annotations

import os
import pwd
import stat
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping

import psutil

from ..contain import ancestors
from ..fsread import MIB, read_regular
from ..locks import Flock, ProcessInfo, flocks
from .paths import ParentDirs

__all__ = ["ENV_VARIABLES", "NOBODY", "ProcessPaths", "environment_paths", "processes_using", "uid_min"]

#: Environment variables whose paths (``os.pathsep``-separated) tie a process to an environment;
#: every ``UV_*`` variable counts too.
ENV_VARIABLES = ("VIRTUAL_ENV", "PATH", "PYTHONHOME", "PYTHONPATH", "CONDA_PREFIX")

#: The overflow uid (``nobody``): what daemons run as, and what a uid unmapped in this user
#: namespace shows as. Never taken for a human user.
NOBODY = 65534

#: ``UID_MIN`` when ``/etc/login.defs`` does not say (shadow's default).
DEFAULT_UID_MIN = 1000

#: Bytes read at most from a ``/proc/<pid>/status`` or ``/etc/login.defs``.
_READ_CAP = 1 << 16

Key = tuple[int, int]
#: ``(argument, its path components)`` for each relative path of a command line.
_Relatives = tuple[tuple[str, tuple[str, ...]], ...]


def _cmdline(proc: psutil.Process) -> str:
    try:
        return " ".join(proc.cmdline()) or proc.name()
    except (psutil.Error, OSError):
        return "?"


def environment_paths(environ: Mapping[str, str]) -> list[tuple[str, str]]:
    """``(variable, path)`` for every non-empty path in the variables of :data:`ENV_VARIABLES` and
    in every ``UV_*`` variable of ``environ`` (values split on ``os.pathsep``); relative ones too,
    for the caller to take from the process's working directory."""
    out = []
    for name, value in environ.items():
        if name in ENV_VARIABLES or name.startswith("UV_"):
            for part in value.split(os.pathsep):
                if part:
                    out.append((name, part))
    return out


def _argument_path(arg: str) -> str:
    """The path an argument may name: the argument, or an option's value (``--opt=VALUE``);
    ``""`` for an option without one."""
    if arg.startswith("-"):
        return arg.partition("=")[2]
    return arg


@dataclass(frozen=True)
class _Read:
    """What could be read of one process."""

    paths: list[tuple[str, str, bool]]
    """``(why, absolute path, resolved by the kernel already)``, in the order to report them."""
    argv: tuple[str, ...]
    """The command line (empty when unreadable)."""
    denied: frozenset[str]
    """What could not be read for lack of permission: ``"executable"``, ``"working directory"``,
    ``"command line"``, ``"open files"``, ``"mapped files"``, ``"environment"``."""


_MAPS_LIMIT = 64 * MIB  # a line per mapping: a process maps a few thousand


def _mapped_files(proc: psutil.Process, procfs: str) -> list[str]:
    """The files ``proc`` maps, each once, in order: the paths of ``<procfs>/<pid>/maps`` (psutil's
    ``memory_maps`` parses ``smaps``, ten times the text: most of a look's time), or psutil's answer
    where that file does not exist (not Linux; a process gone: psutil says so). Raises
    ``psutil.AccessDenied`` when it may not be read (another user's process)."""
    try:
        # Through fsread, as every read of the core: /proc is a regular file, read capped.
        text = os.fsdecode(read_regular(os.path.join(procfs, str(proc.pid), "maps"), _MAPS_LIMIT, truncate=True))
    except FileNotFoundError:
        return [m.path for m in proc.memory_maps(grouped=True)]
    except PermissionError:
        raise psutil.AccessDenied() from None
    # "start-end perms offset dev inode   path": the path is the rest of the line (spaces and all).
    return list(dict.fromkeys(f[5] for f in (line.split(None, 5) for line in text.splitlines()) if len(f) == 6))


def _read_process(proc: psutil.Process, procfs: str) -> _Read:
    """Everything of ``proc`` that can lie in a directory, relative paths taken from its working
    directory; what was denied. A detail that vanishes meanwhile is left out."""
    paths: list[tuple[str, str, bool]] = []
    denied: set[str] = set()

    def get(what: str, getter: Callable[[], Any]) -> Any:
        try:
            return getter()
        except psutil.AccessDenied:
            denied.add(what)
        except (psutil.Error, OSError):
            pass
        return None

    exe = get("executable", proc.exe)
    if exe:
        paths.append((f"executable {exe}", exe, True))
    cwd = get("working directory", proc.cwd)
    if cwd:
        paths.append((f"working directory {cwd}", cwd, True))

    def named(what: str, value: str) -> None:
        if value.startswith("/"):
            paths.append((what, value, False))
        elif cwd:
            paths.append((f"{what} (from {cwd})", os.path.join(cwd, value), False))

    argv = tuple(get("command line", proc.cmdline) or ())
    for arg in argv:
        value = _argument_path(arg)
        if value:
            named(f"argument {arg}", value)
    for what, files in (("open file", get("open files", lambda: [f.path for f in proc.open_files()])),
                        ("mapped file", get("mapped files", lambda: _mapped_files(proc, procfs)))):
        for path in files or ():
            if path.startswith("/"):  # not "[heap]", "[vdso]"...
                paths.append((f"{what} {path}", path, True))
    for name, part in environment_paths(get("environment", proc.environ) or {}):
        named(f"{name} {part}", part)
    return _Read(paths, argv, frozenset(denied))


def _ident(path: str) -> Key | None:
    """``(st_dev, st_ino)`` of ``path``, links followed; ``None`` when it cannot be ``stat``-ed."""
    try:
        st = os.stat(path)
    except (OSError, ValueError):
        return None
    return st.st_dev, st.st_ino


def _realpath(path: str, parents: ParentDirs) -> str:
    """``os.path.realpath`` of the absolute, normalized ``path``, its parent resolved once per
    ``parents``: one ``lstat`` for the last component."""
    parts = parents.split(path)
    if parts is None:
        return os.path.realpath(path)
    here = os.path.join(*parts)
    return os.path.realpath(here) if os.path.islink(here) else here


def _read_small(path: str) -> str:
    """The text of the small regular file ``path`` (at most :data:`_READ_CAP` bytes, undecodable
    bytes replaced), read without blocking; ``""`` when it cannot be read."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return ""
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return ""
        return os.read(fd, _READ_CAP).decode(errors="replace")
    except OSError:
        return ""
    finally:
        os.close(fd)


def uid_min(login_defs: str = "/etc/login.defs") -> int:
    """The lowest uid of a human user: ``UID_MIN`` of ``login_defs`` (shadow's file), or
    :data:`DEFAULT_UID_MIN` when the file or the setting is missing or not a number."""
    for line in _read_small(login_defs).splitlines():
        words = line.split()
        if len(words) >= 2 and words[0] == "UID_MIN" and words[1].isdigit():
            return int(words[1])
    return DEFAULT_UID_MIN


@dataclass(frozen=True)
class _Status:
    """The fields of ``/proc/<pid>/status`` the rules use."""

    ppid: int
    uid: int
    """Effective uid."""
    groups: frozenset[int]
    """Effective gid and supplementary groups."""


def _status(procfs: str, pid: int) -> _Status | None:
    """``/proc/<pid>/status`` parsed; ``None`` when it cannot be read or lacks a field."""
    fields = {}
    for line in _read_small(os.path.join(procfs, str(pid), "status")).splitlines():
        name, _, value = line.partition(":")
        fields[name] = value.split()
    try:
        return _Status(int(fields["PPid"][0]), int(fields["Uid"][1]),
                       frozenset(int(g) for g in (fields["Gid"][1], *fields.get("Groups", ()))))
    except (KeyError, IndexError, ValueError):
        return None


def _user(uid: int) -> str:
    try:
        return f"user {pwd.getpwuid(uid).pw_name}, uid {uid}"
    except (KeyError, OverflowError):
        return f"uid {uid}"


@dataclass(frozen=True)
class _Hidden:
    """A process that could not be fully inspected, with what the rules use of it."""

    pid: int
    status: _Status
    label: str
    """``"user bob, uid 1001"``."""
    lineage: frozenset[int]
    """Its pid and those of every process above it."""
    human: bool
    program: str | None
    """``argv[0]`` when it is a bare name and the executable is unreadable (found through PATH)."""
    relatives: _Relatives
    """``(argument, its components)`` for each relative path of the command line, when the
    working directory is unreadable; leading ``..`` dropped."""


def _relatives(argv: tuple[str, ...]) -> _Relatives:
    out = []
    for i, arg in enumerate(argv):
        value = _argument_path(arg)
        if value.startswith("/") or (i == 0 and "/" not in value):
            continue  # absolute: indexed as it is; a bare argv[0]: found through PATH
        parts = tuple(p for p in os.path.normpath(value).split("/") if p not in (".", ".."))
        if parts:
            out.append((arg, parts))
    return tuple(out)


class ProcessPaths:
    """What every running process uses, read once: see the module's documentation for the rules.

    The constructor reads every process (psutil) and ``stat``-s each path and each directory above
    it once, into an index by ``(st_dev, st_ino)``; :meth:`using` then answers for any set of
    directories without reading a process again, so a plan asks about each of its entries for the
    cost of one look. This process is never counted. A process started after the look is not
    seen: take a new one right before deleting. ``procfs`` is where ``/proc`` is (``status`` and
    ``locks`` are read from it); ``human_uid_min`` overrides ``UID_MIN`` of ``/etc/login.defs``."""

    def __init__(self, *, procfs: str = "/proc", human_uid_min: int | None = None) -> None:
        # (st_dev, st_ino) of every path a process uses and of every directory above it ->
        # {pid: (rank, why)}: rank orders what matched as the process gives it (executable
        # first), so a directory is told the first thing of the process that lies in it. Looked up
        # by a path's key or None (it could not be stat-ed): nothing is stored under None.
        self._index: dict[Key | None, dict[int, tuple[int, str]]] = {}
        self._chains: dict[str, tuple[Key, ...]] = {}  # path -> the keys of it and its directories
        self._real: dict[str, str] = {}  # PATH entries repeat from process to process
        self._procs: dict[int, psutil.Process] = {}
        self._commands: dict[int, str] = {}
        self._hidden: list[_Hidden] = []
        self._locked: dict[Key | None, list[tuple[int, int]]] = {}  # lock file -> [(hidden pid, holder)]; as _index
        self._named: dict[tuple[str | None, _Relatives], list[_Hidden]] = {}  # (program, relatives) -> who
        self._lock_keys: dict[str, Key | None] = {}
        self._exists: dict[str, bool] = {}
        self._reach: dict[tuple[int, frozenset[int], str], bool] = {}
        me = os.getpid()
        denied: list[tuple[int, _Read]] = []
        for proc in psutil.process_iter():
            if proc.pid == me:
                continue
            self._procs[proc.pid] = proc
            read = _read_process(proc, procfs)
            for rank, (why, path, resolved) in enumerate(read.paths):
                self._add(proc.pid, (rank, why), path, resolved)
            if read.denied:
                denied.append((proc.pid, read))
        # The hidden processes some rule may apply to (reading /proc/locks and login.defs only
        # when a process was hidden at all).
        self._suspects = self._find_hidden(denied, procfs, human_uid_min) if denied else {}

    def _add(self, pid: int, why: tuple[int, str], path: str, resolved: bool) -> None:
        spelled = os.path.normpath(path)
        chains = [self._chain(spelled)]
        if not resolved:
            real = self._real.get(path)
            if real is None:
                real = self._real[path] = os.path.realpath(path)
            if real != spelled:
                chains.append(self._chain(real))
        for chain in chains:
            for key in chain:
                self._index.setdefault(key, {}).setdefault(pid, why)

    def _chain(self, path: str) -> tuple[Key, ...]:
        """The keys of ``path`` and of every directory above it (those that can be ``stat``-ed),
        each directory ``stat``-ed once per look."""
        todo = []
        here = path
        above: tuple[Key, ...] = ()
        while here not in self._chains:
            todo.append(here)
            parent = os.path.dirname(here)
            if parent == here:
                break
            here = parent
        else:
            above = self._chains[here]
        for p in reversed(todo):
            key = _ident(p)
            if key is not None:
                above = (key, *above)
            self._chains[p] = above
        return above

    def _find_hidden(self, denied: list[tuple[int, _Read]], procfs: str,
                     lowest_human: int | None) -> dict[int, _Hidden]:
        if lowest_human is None:
            lowest_human = uid_min()
        statuses: dict[int, _Status | None] = {}

        def status(pid: int) -> _Status | None:
            if pid not in statuses:
                statuses[pid] = _status(procfs, pid)
            return statuses[pid]

        for pid, read in denied:
            own = status(pid)
            if own is None:  # gone meanwhile
                continue
            lineage = {pid}
            up = own.ppid
            while up > 0 and up not in lineage:
                lineage.add(up)
                above = status(up)
                if above is None:
                    break
                up = above.ppid
            uid = own.uid
            self._hidden.append(_Hidden(
                pid, own, _user(uid), frozenset(lineage), uid >= lowest_human and uid != NOBODY,
                read.argv[0] if read.argv and "/" not in read.argv[0] and "executable" in read.denied else None,
                _relatives(read.argv) if "working directory" in read.denied else ()))
        self._add_locks(flocks(os.path.join(procfs, "locks")))
        for h in self._hidden:  # the same command is looked at once for all who run it
            if h.human and (h.program or h.relatives):
                self._named.setdefault((h.program, h.relatives), []).append(h)
        suspects = {pid for users in self._locked.values() for pid, _ in users}
        suspects.update(h.pid for group in self._named.values() for h in group)
        return {h.pid: h for h in self._hidden if h.pid in suspects}

    def _add_locks(self, locks: Iterable[Flock]) -> None:
        for lock in locks:
            if lock.waiting:
                continue
            for h in self._hidden:
                if lock.pid in h.lineage:
                    self._locked.setdefault((lock.dev, lock.ino), []).append((h.pid, lock.pid))

    def command(self, pid: int) -> str:
        """The command line of process ``pid`` (``"?"`` once it is gone), read once."""
        cmd = self._commands.get(pid)
        if cmd is None:
            cmd = self._commands[pid] = _cmdline(self._procs[pid])
        return cmd

    def using(self, dirs: Iterable[str | os.PathLike[str]], parents: ParentDirs | None = None) -> list[ProcessInfo]:
        """The processes using any of ``dirs`` (compared by ``(st_dev, st_ino)``; a directory that
        cannot be ``stat``-ed matches nothing), by pid. ``why`` names the first thing of the
        process found in them. A process that cannot be inspected and only may be using them
        comes with ``uncertain`` set (see the module's rules). ``parents`` remembers resolved
        parent directories across calls (those rules compare resolved paths)."""
        absolute = [os.path.abspath(d) for d in dirs]
        best: dict[int, tuple[int, str]] = {}
        for d in absolute:
            for pid, why in self._index.get(_ident(d), {}).items():  # no key is None
                best[pid] = min(why, best.get(pid, why))
        found = [ProcessInfo(pid, self.command(pid), why) for pid, (_, why) in best.items()]
        if self._suspects:
            maybe = self._maybe(absolute, ParentDirs() if parents is None else parents, set(best))
            found += [ProcessInfo(pid, self.command(pid), why, uncertain=True) for pid, why in maybe.items()]
        return sorted(found, key=lambda p: p.pid)

    def _maybe(self, dirs: list[str], parents: ParentDirs, known: set[int]) -> dict[int, str]:
        """``{pid: why}`` for the processes not in ``known`` that cannot be inspected and may be
        using one of ``dirs`` (the module's rules, in their order)."""
        out: dict[int, str] = {}
        hidden = {pid: h for pid, h in self._suspects.items() if pid not in known}
        for d in dirs:
            real = _realpath(d, parents)
            forms = tuple(dict.fromkeys((real, d)))
            for pid, holder, lock in self._lock_users(forms):
                h = hidden.get(pid)
                if h is not None and pid not in out and self._reaches(h, real):
                    held = "holds" if holder == pid else f"runs under process {holder}, which holds"
                    out[pid] = f"cannot be inspected ({h.label}): {held} {lock} (a uv using it)"
            for (program, relatives), group in self._named.items():
                why = self._could_name(program, relatives, forms)
                for h in group:
                    if why and h.pid in hidden and h.pid not in out and self._reaches(h, real):
                        out[h.pid] = f"cannot be inspected ({h.label}): {why}"
        return out

    def _lock_users(self, forms: tuple[str, ...]) -> list[tuple[int, int, str]]:
        """``(hidden pid, holder pid, lock file)`` for the ``.lock`` files in or above ``forms``
        that a process holds."""
        if not self._locked:
            return []
        out = []
        for form in forms:
            for here in (form, *ancestors(form)):
                lock = os.path.join(here, ".lock")
                if lock not in self._lock_keys:
                    self._lock_keys[lock] = _ident(lock)
                for pid, holder in self._locked.get(self._lock_keys[lock], ()):  # no key is None
                    out.append((pid, holder, lock))
        return out

    def _exists_(self, path: str) -> bool:
        found = self._exists.get(path)
        if found is None:
            found = self._exists[path] = os.path.lexists(path)
        return found

    def _could_name(self, program: str | None, relatives: _Relatives, forms: tuple[str, ...]) -> str | None:
        """Why a command line (``program`` found through PATH, ``relatives`` from an unknown working
        directory) may name something in the directory spelled ``forms``; ``None``: it cannot."""
        for form in forms:
            if program is not None and self._exists_(target := os.path.join(form, "bin", program)):
                return f"runs {program} through a PATH it does not show, and {target} exists"
            tail = tuple(form.split("/"))
            for arg, parts in relatives:
                for k in range(len(parts) + 1):
                    if k and tail[-k:] != parts[:k]:
                        continue
                    target = os.path.join(form, *parts[k:])
                    if k == len(parts) or self._exists_(target):
                        return f"its argument {arg}, from a working directory it does not show, may be {target}"
        return None

    def _reaches(self, h: _Hidden, real: str) -> bool:
        """Whether ``h``'s effective uid and groups have search permission on ``real`` and every
        directory above it (by the mode bits; a POSIX ACL, or a directory that cannot be
        ``stat``-ed, counts as granting it)."""
        uid, groups = h.status.uid, h.status.groups
        if uid == 0:
            return True
        for here in (real, *ancestors(real)):
            memo = (uid, groups, here)
            if memo not in self._reach:
                self._reach[memo] = _searchable(here, uid, groups)
            if not self._reach[memo]:
                return False
        return True


def _searchable(path: str, uid: int, groups: frozenset[int]) -> bool:
    try:
        st = os.stat(path)
    except OSError:
        return True  # unknown: may be reachable
    if st.st_uid == uid:
        bit = stat.S_IXUSR
    elif st.st_gid in groups:
        bit = stat.S_IXGRP
    else:
        bit = stat.S_IXOTH
    if st.st_mode & bit:
        return True
    try:
        os.getxattr(path, "system.posix_acl_access")
    except OSError:
        return False
    return True


def processes_using(roots: Mapping[str, Iterable[str | os.PathLike[str]]]) -> dict[str, list[ProcessInfo]]:
    """Which running processes use which entries (a cache entry, a tool, a managed Python, a
    project venv: any directories).

    ``roots`` maps an entry's id to the directories that make it up (for a cached environment:
    its link and its archive target). Returns ``{entry id: [ProcessInfo]}`` for entries in use
    only, ``ProcessInfo.why`` naming what matched and ``ProcessInfo.uncertain`` set for a process
    that cannot be inspected and only may be using it (see :class:`ProcessPaths`). One look at the
    processes for all; this process is never counted.
    """
    if not roots:
        return {}
    look = ProcessPaths()
    parents = ParentDirs()  # thousands of entries share a few buckets: resolve each once
    found = {}
    for ident, dirs in roots.items():
        procs = look.using(dirs, parents)
        if procs:
            found[ident] = procs
    return found
