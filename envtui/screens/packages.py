"""Every package in the cache: its versions, bytes on disk, what deleting it frees (as ``uv cache
clean NAME`` would delete it), and the environments that hardlink its files."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from rich.text import Text
from textual import on, work
from textual.binding import Binding
from textual.message import Message
from textual.worker import get_current_worker

from ..core import Inventory
from ..core.errors import ScanCancelled
from ..core.packages import Package, scan_packages
from ..format import size
from ..widgets.columns import Column
from ..widgets.plain import notify
from .base import Row
from .look_inside import LookInsideScreen


class PackagesScreen(LookInsideScreen):
    """Every package with an entry in uv's wheel cache, source distributions or index pages:
    versions, bytes on disk (its entries and the unpacked wheels only they link to), what
    deleting it frees (hardlinked files environments still use stay), and who uses it. Mark
    packages and ``d`` to delete them as ``uv cache clean NAME`` does, the plan shown first;
    enter opens a package's files."""

    COLUMNS = (
        Column("Package", "package", 0, min=12, sort="name"),
        Column("Versions", "versions", 1, min=8),
        Column("On disk", "disk", 0, sort="size"),
        Column("Frees", "frees", 0, sort="frees"),
        Column("Used by", "used-by", 1, sort="used"),
        Column("Entries", "entries", 2),
    )
    SORTS = ("size", "name", "frees", "used")
    EMPTY = "No package in the cache (or still reading it)."
    REBUILDS = False

    BINDINGS = [
        Binding("l", "open_files", "Files", id="packages.files", tooltip="Look inside the package's entries"),
        Binding("right", "open_files", "Files", id="packages.files-arrow", show=False, priority=True),
    ]

    @dataclass
    class PackagesRead(Message):
        """The packages of ``inventory``'s cache were read."""

        inventory: Inventory
        packages: tuple[Package, ...]

    def __init__(self) -> None:
        super().__init__()
        self.packages: tuple[Package, ...] | None = None
        """The packages, once read (after each scan, again with the disk report's users)."""

    def on_mount(self) -> None:
        # Textual runs TableScreen.on_mount too (handlers run for every class in the MRO).
        self.watch(self.app, "disk", self._reload, init=False)

    def _inventory_changed(self, inventory: Inventory | None) -> None:
        super()._inventory_changed(inventory)
        if inventory is not None:
            self._load(inventory)

    def _reload(self, _value: object = None) -> None:
        inventory = getattr(self.app, "inventory", None)
        if inventory is not None:
            self._load(inventory)

    @work(thread=True, exclusive=True, group="packages", exit_on_error=False)
    def _load(self, inventory: Inventory) -> None:
        worker = get_current_worker()
        try:
            packages = scan_packages(inventory.root, report=getattr(self.app, "disk", None),
                                     should_stop=lambda: worker.is_cancelled)
        except ScanCancelled:
            return
        except OSError as err:
            notify(self, f"cannot read the packages: {err}", severity="error")  # thread-safe
            return
        self.post_message(self.PackagesRead(inventory, tuple(packages)))

    @on(PackagesRead)
    def _packages_read(self, message: PackagesRead) -> None:
        if message.inventory is getattr(self.app, "inventory", None):
            self.packages = message.packages
            self._rows = self.rows(message.inventory)
            self.marked &= {r.key for r in self._rows}
            self._refill()

    def rows(self, inventory: Inventory) -> list[Row]:
        return [self._row(p) for p in self.packages or ()]

    def _row(self, p: Package) -> Row:
        versions = ", ".join(p.versions) or "?"
        return Row(
            key=p.name,
            cells=(p.name, versions,
                   Text(size(p.disk), justify="right"), Text(size(p.freed), justify="right"),
                   str(len(p.used_by)) if p.used_by else "—", str(len(p.entries) + len(p.archives))),
            record=p,
            search=f"{p.name} {versions}".lower(),
            sort={"name": p.name, "size": p.disk, "frees": p.freed, "used": len(p.used_by)},
        )

    def _env_name(self, path) -> str:
        inventory = getattr(self.app, "inventory", None)
        for env in inventory.environments if inventory else ():
            if env.path == path or (env.link_target is not None and os.path.normpath(env.link_target) == str(path)):
                return f"{env.kind} environment {env.script or env.tool or env.prompt or env.key}"
        return str(path)

    def explain(self, record: Any) -> tuple[str, list[tuple[str, str]]]:
        p: Package = record
        inventory = self.app.inventory
        if inventory is None:  # no rows before the first scan
            return p.name, []
        root = inventory.root
        rows = [("versions", ", ".join(p.versions) or "?"),
                ("on disk", f"{size(p.disk)}  (its entries and the unpacked wheels only they link to)"),
                ("frees", f"{size(p.freed)}  (what deleting it gives back; hardlinked files stay)")]
        for e in p.entries:
            rows.append((e.kind, os.path.relpath(e.path, root) + (f"  ({', '.join(e.versions)})" if e.versions else "")))
        rows += [("unpacked wheel", os.path.relpath(a, root)) for a in p.archives]
        rows += [("kept", f"{os.path.relpath(a, root)}: another link points at it") for a in p.kept_archives]
        if p.used_by:
            rows.append(("used by", f"{len(p.used_by)} environment(s) hardlink its files; those bytes stay on disk"))
            rows += [("  ", self._env_name(u)) for u in p.used_by[:20]]
        else:
            rows.append(("used by", "no environment hardlinks its files"))
        rows.append(("d", "delete it as `uv cache clean " + p.name + "` would (the plan first)"))
        return p.name, rows

    def files_of(self, record: Any) -> tuple[str, tuple]:
        return f"package {record.name}", record.paths
