"""A bucket's entries: ``archive-vN`` named (which wheel or environment each id holds, who links
to it, which environments use it), or any other bucket's entries with their sizes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.text import Text

from ..core import ArchiveEntry, Bucket, Inventory, archive_use
from ..core.disk import DiskReport, EntryUsage
from ..core.prune.safety import DELETABLE_AGES
from textual.binding import Binding

from ..format import size
from ..widgets.columns import Column
from ..widgets.details import usage_rows
from ..widgets.plain import plain_str
from .base import Row
from .look_inside import LookInsideScreen

_USE_STYLE = {"linked": "green", "used": "cyan", "unreferenced": "bold yellow", "?": "dim"}


class BucketScreen(LookInsideScreen):
    """The entries of one bucket. For archive-v0: each random id named after the wheel or
    environment it holds, what links to it (wheels-vN, sdists-vN, environments-vN), how many
    environments hardlink its files, and whether it is unreferenced (nothing links to it and
    nothing uses it). Sizes: on disk, and what deleting the entry alone frees."""

    COLUMNS = (
        Column("Name", "name", 0, min=14, max=36, sort="name"),
        Column("On disk", "disk", 0, sort="size"),
        Column("Frees", "frees", 1, sort="frees"),
        Column("Status", "status", 1, sort="status"),
        Column("Used by", "used-by", 2),
        Column("Links", "links", 3),
        Column("Kind", "kind", 3),
        Column("Id", "id", 4, min=8),
    )
    SORTS = ("size", "name", "frees", "status")
    EMPTY = "This bucket is empty (or still being measured)."
    REBUILDS = False

    BINDINGS = [
        Binding("l", "open_files", "Files", id="bucket.files", tooltip="Look inside the highlighted entry"),
        Binding("right", "open_files", "Files", id="bucket.files-arrow", show=False, priority=True),
    ]

    def __init__(self, bucket: Bucket) -> None:
        super().__init__()
        self.bucket = bucket
        """The bucket whose entries are listed."""

    @property
    def deletable(self) -> bool:
        """Whether a plan may delete this bucket's entries (a current or older uv's bucket; a
        newer uv's is never touched, so its entries free nothing)."""
        return self.bucket.kind == "bucket" and self.bucket.age in DELETABLE_AGES

    def _frees(self, usage: EntryUsage | None) -> tuple[Text, int | None]:
        """The Frees cell and sort key of an entry: its exclusive bytes (what deleting it alone
        frees, the planner's rule), ``…`` while measuring, ``—`` where no plan deletes."""
        if not self.deletable:
            return Text("—", justify="right"), None
        n = usage.usage.exclusive if usage is not None else None
        return Text(size(n), justify="right"), n

    @property
    def is_archive(self) -> bool:
        """Whether this is an ``archive-vN`` bucket (named entries) rather than a generic one."""
        return self.bucket.kind == "bucket" and self.bucket.name == "archive"

    def on_mount(self) -> None:
        # Textual runs TableScreen.on_mount too (handlers run for every class in the MRO).
        self.sub_title = plain_str(self.bucket.path)
        for name in ("archive", "disk"):
            self.watch(self.app, name, self._refresh_rows, init=False)

    def _refresh_rows(self, _value: object = None) -> None:
        self.reload()

    def rows(self, inventory: Inventory) -> list[Row]:
        report = self.app.disk
        if self.is_archive:
            entries = [e for e in self.app.archive or () if e.path.parent == self.bucket.path]
            return [self._archive_row(e, report) for e in entries]
        if report is None:
            return []
        prefix = self.bucket.dirname
        return [self._generic_row(u) for u in report.entries.values() if u.bucket == prefix]

    def _archive_row(self, e: ArchiveEntry, report: DiskReport | None) -> Row:
        usage = report.entry(e.path) if report else None
        use = archive_use(e, report)
        links = ", ".join(sorted({p.relative_to(self.bucket.path.parent).parts[0] for p in e.linked_from})) or "—"
        used_by = "…" if usage is None else (str(len(usage.used_by)) if usage.used_by else "—")
        frees, frees_key = self._frees(usage)
        return Row(
            key=str(e.path),
            cells=(
                e.name,
                Text(size(usage.usage.disk if usage else None), justify="right"),
                frees,
                Text(use, _USE_STYLE.get(use, "")),
                used_by,
                links,
                e.kind,
                e.id,
            ),
            record=e,
            search=f"{e.name} {e.kind} {e.id} {use} {links}".lower(),
            sort={
                "name": e.name.lower(),
                "size": usage.usage.disk if usage else None,
                "frees": frees_key,
                "status": (use, e.name.lower()),
            },
        )

    def _generic_row(self, u: EntryUsage) -> Row:
        name = str(u.path.relative_to(self.bucket.path))
        frees, frees_key = self._frees(u)
        return Row(
            key=str(u.path),
            cells=(name, Text(size(u.usage.disk), justify="right"), frees, "", "", "", u.kind, ""),
            record=u,
            search=f"{name} {u.kind}".lower(),
            sort={"name": name.lower(), "size": u.usage.disk, "frees": frees_key, "status": None},
        )

    def _env_name(self, path: Path) -> str:
        """A person's name for an environment that uses an archive entry."""
        inventory = self.app.inventory
        for env in inventory.environments if inventory else ():
            if env.path == path or env.link_target == path:
                what = env.script or env.tool or env.prompt or env.key
                return f"{env.kind} environment {what} (Python {env.python_version or '?'})"
        return str(path)

    def explain(self, record: Any) -> tuple[str, list[tuple[str, str]]]:
        report = self.app.disk
        if isinstance(record, EntryUsage):
            return str(record.path.name), [("path", str(record.path)), ("kind", record.kind), *usage_rows(record.usage)]
        e: ArchiveEntry = record
        usage = report.entry(e.path) if report else None
        use = archive_use(e, report)
        rows = [("path", str(e.path)), ("holds", f"{e.kind}: {e.name}")]
        if e.environment is not None:
            rows.append(("environment", f"{e.environment.path}  (tool {e.environment.tool or '?'})"))
        rows.append(("status", {
            "linked": "linked: uv finds it through the links below",
            "used": "used: no link points at it, but environments hardlink its files",
            "unreferenced": "unreferenced: nothing links to it and no environment uses its files",
            "?": "not linked; whether environments use its files is known when the scan finishes",
        }[use]))
        rows += [("linked from", str(p)) for p in e.linked_from] or [("linked from", "nothing")]
        if usage is not None:
            if e.kind != "environment":
                rows.append(("used by", f"{len(usage.used_by)} environment(s) hardlink its files"))
                rows += [("  ", self._env_name(p)) for p in usage.used_by[:20]]
            if usage.uses:
                rows.append(("installs from", ", ".join(self._archive_name(p) for p in usage.uses)))
        rows += usage_rows(usage.usage if usage else None)
        if e.distributions and e.kind == "environment":
            rows.append(("packages", ", ".join(f"{d.name} {d.version}" for d in e.distributions)))
        return e.name, rows

    def _archive_name(self, path: Path) -> str:
        for e in self.app.archive or ():
            if e.path == path:
                return e.name
        return path.name

    def files_of(self, record: Any) -> tuple[str, list[Path]]:
        return getattr(record, "name", None) or record.path.name, [record.path]
