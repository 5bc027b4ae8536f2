"""Inside one cache entry: its files as a tree, each node with its bytes on disk, what deleting it
frees, and what stays because it is hardlinked from elsewhere.

A node's figures follow the one freed-bytes rule (:mod:`envtui.core.disk.freed`): an inode is
freed only when every one of its ``st_nlink`` links lies inside the node. Symlinks are shown as
themselves, never followed. The directories of an unpacked wheel or an installed distribution
are named after it: its package or module (from the ``RECORD`` of its ``*.dist-info``), its
``.dist-info`` (metadata) and its ``.data`` directory.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

from .errors import EntryError, ScanCancelled
from .fsread import MIB, read_regular_text

__all__ = ["DIRECTORY", "FILE", "LINK", "OTHER", "FileNode", "entries_tree", "entry_tree"]

DIRECTORY, FILE, LINK, OTHER = "directory", "file", "link", "other"
_MAX_DEPTH = 64


@dataclass(frozen=True)
class FileNode:
    """One file or directory of a cache entry, with its subtree's figures."""

    name: str
    """The file name (the entry's own name at the root)."""
    path: Path
    """Absolute path."""
    kind: str
    """:data:`DIRECTORY`, :data:`FILE`, :data:`LINK` (a symlink, not followed) or :data:`OTHER`
    (a FIFO, socket or device)."""
    disk: int
    """Allocated bytes of the subtree (``st_blocks * 512``), each inode once."""
    freed: int
    """Bytes deleting this node (its whole subtree) alone frees: inodes all of whose links lie in it."""
    files: int
    """Directory entries in the subtree, itself included."""
    role: str = ""
    """What it is, when envtui can tell: ``"package of tabulate 0.9"``, ``"metadata of tabulate
    0.9 (dist-info)"``, ``"installed distributions (site-packages)"``..."""
    link_target: str | None = None
    """For a symlink: what it points to (as written, not followed)."""
    children: tuple["FileNode", ...] = ()
    """For a directory: its entries, largest first, then by name."""
    error: str | None = None
    """Why the directory could not be read (its figures then lack what is inside)."""

    @property
    def elsewhere(self) -> int:
        """Bytes that stay on disk when this node is deleted: hardlinked from outside it."""
        return self.disk - self.freed


class _Acc:
    """Figures of a subtree while it is built: one-link bytes, and multi-link inodes with how
    many of their links were seen inside."""

    __slots__ = ("single", "multi", "files")

    def __init__(self) -> None:
        self.single = 0
        self.multi: dict[tuple[int, int], list[int]] = {}  # key -> [links seen, st_nlink, blocks]
        self.files = 0

    def merge(self, other: "_Acc") -> "_Acc":
        big, small = (self, other) if len(self.multi) >= len(other.multi) else (other, self)
        for key, (seen, nlink, blocks) in small.multi.items():
            rec = big.multi.get(key)
            if rec is None:
                big.multi[key] = [seen, nlink, blocks]
            else:
                rec[0] += seen
        big.single += small.single
        big.files += small.files
        return big

    def figures(self) -> tuple[int, int]:
        disk = freed = self.single
        for seen, nlink, blocks in self.multi.values():
            disk += blocks
            if seen >= nlink:
                freed += blocks
        return disk, freed


def _dist_roles(directory: str, names: list[str]) -> dict[str, str]:
    """Roles of the entries of a directory holding ``*.dist-info`` (a wheel's root, a
    site-packages): each distribution's top-level files and directories from its ``RECORD``."""
    roles: dict[str, str] = {}
    for n in names:
        if not n.endswith(".dist-info"):
            continue
        dist_name, _, version = n[: -len(".dist-info")].partition("-")
        who = f"{dist_name} {version}".strip()
        roles[n] = f"metadata of {who} (dist-info)"
        roles[f"{dist_name}-{version}.data"] = f"data of {who} (scripts, headers, data files)"
        try:
            record = read_regular_text(os.path.join(directory, n, "RECORD"), 4 * MIB)
        except (OSError, EntryError):
            continue
        for line in record.splitlines():
            top = line.split(",", 1)[0].split("/", 1)[0]
            if top and top not in roles and not top.startswith(".."):
                is_pkg = "/" in line.split(",", 1)[0]
                roles[top] = f"{'package' if is_pkg else 'module'} of {who}"
    return roles


_NAMED = {
    "site-packages": "installed distributions (site-packages)",
    "pyvenv.cfg": "venv configuration (read at every start: its access time is \"last used\")",
    "__pycache__": "compiled bytecode",
}


def _role(name: str, parent_roles: dict[str, str], kind: str) -> str:
    if name in parent_roles:
        return parent_roles[name]
    if name == "bin" and kind == DIRECTORY:
        return "scripts and interpreter links"
    return _NAMED.get(name, "")


def entry_tree(path: str | os.PathLike[str], *, should_stop: Callable[[], bool] | None = None) -> FileNode:
    """The files of the cache entry at ``path`` as a frozen tree (see :class:`FileNode`).

    ``path`` itself may be a file or a symlink (a one-node tree). Unreadable directories are
    nodes with ``error`` set. Raises ``FileNotFoundError`` if ``path`` does not exist and
    :class:`ScanCancelled` when ``should_stop()`` turns true (checked per directory).
    """
    top = os.fspath(path)
    st = os.lstat(top)
    node, _acc = _node(top, os.path.basename(top.rstrip(os.sep)) or top, st, "", 0, should_stop)
    return node


def _leaf_acc(st: os.stat_result) -> _Acc:
    acc = _Acc()
    acc.files = 1
    blocks = st.st_blocks * 512
    if st.st_nlink > 1 and not stat.S_ISDIR(st.st_mode):
        acc.multi[(st.st_dev, st.st_ino)] = [1, st.st_nlink, blocks]
    else:
        acc.single = blocks
    return acc


def _node(path: str, name: str, st: os.stat_result, role: str, depth: int,
          should_stop: Callable[[], bool] | None) -> tuple[FileNode, _Acc]:
    acc = _leaf_acc(st)
    if stat.S_ISLNK(st.st_mode):
        try:
            target = os.readlink(path)
        except OSError:
            target = None
        disk, freed = acc.figures()
        return FileNode(name, Path(path), LINK, disk, freed, 1, role, target), acc
    if not stat.S_ISDIR(st.st_mode):
        disk, freed = acc.figures()
        return FileNode(name, Path(path), FILE if stat.S_ISREG(st.st_mode) else OTHER, disk, freed, 1, role), acc
    if should_stop is not None and should_stop():
        raise ScanCancelled()
    error = None
    children: list[FileNode] = []
    try:
        with os.scandir(path) as it:
            listing = sorted(it, key=lambda e: e.name)
    except OSError as err:
        listing, error = [], err.strerror or str(err)
    names = [e.name for e in listing]
    roles = _dist_roles(path, names) if any(n.endswith(".dist-info") for n in names) else {}
    for entry in listing:
        try:
            cst = entry.stat(follow_symlinks=False)
        except OSError:
            continue
        kind = DIRECTORY if stat.S_ISDIR(cst.st_mode) else FILE
        if depth >= _MAX_DEPTH and kind == DIRECTORY:
            continue  # deeper than any wheel or venv: a loop of bind mounts, or hostile
        child, cacc = _node(entry.path, entry.name, cst, _role(entry.name, roles, kind), depth + 1, should_stop)
        children.append(child)
        acc = acc.merge(cacc)
    children.sort(key=lambda n: (-n.disk, n.name))
    disk, freed = acc.figures()
    return FileNode(name, Path(path), DIRECTORY, disk, freed, acc.files, role, None, tuple(children), error), acc


def entries_tree(name: str, paths: Sequence[str | os.PathLike[str]], *, role: str = "",
                 should_stop: Callable[[], bool] | None = None) -> FileNode:
    """Several cache entries (a package's wheel cache entries and archive entries) as the
    children of one node called ``name``, whose figures count them together (a file hardlinked
    between two of them is freed once both go). Its ``path`` is the first path's parent. Paths
    that do not exist are left out. Raises :class:`ScanCancelled` as :func:`entry_tree`."""
    acc = _Acc()
    acc.files = 0
    children = []
    for p in paths:
        top = os.fspath(p)
        try:
            st = os.lstat(top)
        except FileNotFoundError:
            continue
        child, cacc = _node(top, os.path.basename(top), st, "", 0, should_stop)
        children.append(child)
        acc = acc.merge(cacc)
    children.sort(key=lambda n: (-n.disk, n.name))
    disk, freed = acc.figures()
    parent = Path(os.fspath(paths[0])).parent if paths else Path(".")
    return FileNode(name, parent, DIRECTORY, disk, freed, acc.files, role, None, tuple(children))
