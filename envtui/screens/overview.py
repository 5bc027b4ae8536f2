"""The overview screen: where the space goes, one row per top-level entry of the cache."""

from __future__ import annotations

import time
from typing import Any

import humanize
from rich.text import Text
from textual import on
from textual.widgets import DataTable, ProgressBar

from ..core import Bucket, Inventory, find_bucket
from ..core.disk import BucketUsage, DiskProgress, DiskReport
from ..core.prune.safety import DELETABLE_AGES
from ..format import percentages, size
from ..widgets.columns import Column
from ..widgets.plain import notify
from ..widgets.space_bar import SHARED, SpaceBar, SpaceParts
from .base import Row
from .prune_actions import PruneTableScreen

#: What each bucket holds, for the details pane (names as uv's ``CacheBucket`` has them).
BUCKET_ROLES = {
    "archive": "unpacked wheels and persisted cached environments, under random ids",
    "wheels": "the wheel cache: per index, name and version, a link into archive-v0 (plus HTTP metadata)",
    "sdists": "source distributions and the wheels built from them",
    "environments": "script environments, and links to the cached (tool, --with) environments in archive-v0",
    "interpreter": "cached interpreter queries",
    "simple": "package index responses (Simple API)",
    "flat-index": "--find-links and flat index listings",
    "builds": "build environments for source distributions",
    "git": "git checkouts",
    "python": "Python download metadata",
    "binaries": "downloaded tool binaries",
    "osv": "vulnerability data",
}


def _label(b: Bucket) -> str:
    return f"{b.dirname}/" if b.kind == "bucket" else b.dirname


class OverviewScreen(PruneTableScreen):
    """Where the space goes: every bucket of the cache (and every other top-level entry) with its
    entries, apparent and on-disk bytes (each inode once) and what deleting it would free.
    Enter opens a bucket's entries. Sizes stream in from a background scan. Marked buckets
    (space, then ``d``) are deleted whole, as ``uv cache clean`` does, once the plan is confirmed."""

    COLUMNS = (
        Column("Entry", "entry", 0, min=12, sort="name"),
        Column("On disk", "disk", 0, sort="size"),
        Column("Frees", "frees", 1, sort="frees"),
        Column("Share", "share", 1, sort="frees"),
        Column("Entries", "entries", 2),
        Column("Kind", "kind", 3),
        Column("Apparent", "apparent", 4),
    )
    SIZE_COLUMNS = ("disk", "frees", "share", "entries", "apparent")
    SORTS = ("size", "frees", "name")
    EMPTY = "The cache is empty."
    REBUILDS = False

    def on_mount(self) -> None:
        # Textual runs TableScreen.on_mount too (handlers run for every class in the MRO).
        progress_bar = ProgressBar(id="disk-progress", show_eta=False)
        progress_bar.display = False  # until the disk scan reports
        from ..widgets.machine_parts import MachineParts

        self.mount(SpaceBar(id="space-bar"), progress_bar, MachineParts(id="machine-parts"), before="#main")
        self.watch(self.app, "disk", self._sizes_done, init=False)
        self.watch(self.app, "disk_progress", self._sizes_arriving, init=False)
        self._draw_bar()

    # -- rows ------------------------------------------------------------------------------------

    def _figures(self) -> tuple[dict[str, BucketUsage], DiskReport | None, DiskProgress | None]:
        # While a scan runs its partial figures win over the previous scan's report.
        progress = self.app.disk_progress
        report = None if progress else self.app.disk
        source = progress.buckets if progress else report.buckets if report else ()
        return {str(b.bucket.path): b for b in source}, report, progress

    def space_parts(self) -> SpaceParts:
        """What the bar shows; the Share column shows the same percentages.

        Once the scan is done the parts are each bucket's reclaimable bytes plus what is shared
        (hardlinked across buckets or from outside): they add up to the cache total. While it runs,
        the buckets' on-disk bytes so far (a file linked from two buckets counts in both)."""
        _, report, progress = self._figures()
        if report is not None:
            parts = [(b.bucket.dirname, b.reclaimable or 0) for b in report.buckets]
            shared = max(0, report.total_disk - sum(n for _, n in parts))
            title = (f"Cache total: {size(report.total_disk)} on disk (hardlinks counted once), "
                     f"{size(report.total_apparent)} apparent")
            saved_at = self.app.disk_saved_at
            if saved_at is not None:
                title += f"  (sizes from {humanize.naturaltime(max(0.0, time.time() - saved_at))}, checking…)"
        elif progress is not None:
            parts = [(b.bucket.dirname, b.disk or 0) for b in progress.buckets]
            shared = 0
            title = f"Measuring… {progress.done} of {progress.total} entries, {size(progress.disk)} so far"
        else:
            return SpaceParts("Measuring where the space goes…")
        parts = sorted((p for p in parts if p[1]), key=lambda p: -p[1])
        if shared:
            parts.append((SHARED, shared))
        shares = percentages([n for _, n in parts])
        return SpaceParts(title, tuple((name, n, pct) for (name, n), pct in zip(parts, shares)))

    def rows(self, inventory: Inventory) -> list[Row]:
        figures, _, _ = self._figures()
        shares = {name: pct for name, _, pct in self.space_parts().parts}
        out = []
        for b in inventory.buckets:
            f = figures.get(str(b.path))
            share = f"{shares.get(b.dirname, 0)}%" if f is not None and shares else "…"
            kind = {"bucket": f"v{b.version} {b.age}", "marker": "uv marker", "foreign": "not uv's"}[b.kind]
            # What a plan of this row frees: a whole bucket's reclaimable bytes; nothing for what
            # no plan ever deletes (a marker, a foreign entry, a newer uv's bucket).
            deletable = b.kind == "bucket" and b.age in DELETABLE_AGES
            frees = f.reclaimable if f is not None and deletable else None
            out.append(
                Row(
                    key=str(b.path),
                    cells=(
                        _label(b),
                        Text(size(f.disk if f else None), justify="right"),
                        Text(size(frees, "…" if deletable else "—"), justify="right"),
                        Text(share, justify="right"),
                        str(f.entries) if f else "…",
                        Text(kind, "yellow" if b.age in ("older", "newer", "unknown") or b.kind == "foreign" else "dim"),
                        Text(size(f.apparent if f else None), justify="right"),
                    ),
                    record=(b, f),
                    search=f"{b.dirname} {b.kind} {b.age}".lower(),
                    sort={
                        "name": b.dirname,
                        "size": f.disk if f else None,
                        "frees": frees,
                    },
                )
            )
        return out

    def explain(self, record: Any) -> tuple[str, list[tuple[str, str]]]:
        b, f = record
        rows = [("path", str(b.path))]
        if b.kind == "bucket":
            rows.append(("holds", BUCKET_ROLES.get(b.name, "a bucket this envtui does not know")))
            rows.append(("version", f"v{b.version}: {b.age}"))
            if b.age == "older":
                rows.append(("note", "left by an older uv: the uv you run now never reads it"))
            elif b.age in ("newer", "unknown"):
                rows.append(("note", "written by a uv newer than envtui knows: read if possible, never deleted"))
        elif b.kind == "marker":
            rows.append(("holds", "a file uv keeps at the cache root; uv cache prune leaves it"))
        else:
            rows.append(("holds", "not uv's: uv cache prune deletes it, envtui never does"))
        inventory = self.app.inventory
        for problem in inventory.problems if inventory is not None else ():
            if problem.path == b.path or b.path in problem.path.parents:
                rows.append(("problem", f"{problem.path}: {problem.message}"))
        if f is None:
            rows.append(("sizes", "measuring…"))
            return _label(b), rows
        rows.append(("entries", str(f.entries)))
        rows.append(("apparent", f"{size(f.apparent)}  (st_size, each inode once)"))
        rows.append(("on disk", f"{size(f.disk)}  (allocated blocks, each inode once)"))
        if f.reclaimable is None:
            rows.append(("reclaimable", "known when the scan finishes"))
        else:
            rows.append(("reclaimable", f"{size(f.reclaimable)}  (what deleting all of it frees)"))
            rows.append(("shared", f"{size(f.disk - f.reclaimable)}  (hardlinked from other buckets or from outside the cache)"))
        if b.kind == "bucket":
            rows.append(("enter", "open its entries"))
        return _label(b), rows

    # -- sizes -----------------------------------------------------------------------------------

    def _sizes_done(self, _value: object = None) -> None:
        self.reload()
        self._draw_bar()

    def _sizes_arriving(self, progress: DiskProgress | None) -> None:
        # Rewrite the changed cells in place: rebuilding the table at every progress message
        # costs the main thread enough to starve the scan's thread of the GIL.
        inventory = self.app.inventory
        if progress is None or inventory is None or len(self._shown) != len(inventory.buckets):
            self._sizes_done()
            return
        self.update_rows({r.key: r for r in self.rows(inventory)})
        self._draw_bar()

    def _draw_bar(self) -> None:
        _, report, progress = self._figures()
        self.query_one(SpaceBar).parts = self.space_parts()
        progress_bar = self.query_one("#disk-progress", ProgressBar)
        measuring = report is None and progress is not None
        if progress_bar.display != measuring:
            progress_bar.display = measuring
        if measuring and progress is not None:  # measuring says so; mypy does not follow it
            progress_bar.update(total=progress.total or 1, progress=progress.done)

    # -- navigation ------------------------------------------------------------------------------

    @on(DataTable.RowSelected)
    def _open(self, _event: DataTable.RowSelected) -> None:
        record = self.selected
        if record is None:
            return
        b: Bucket = record[0]
        inventory = self.app.inventory
        read = find_bucket(list(inventory.buckets), "environments") if inventory else None
        if b.kind == "bucket" and b.name == "environments" and read is not None and read.path == b.path:
            # Only the bucket the environments screen reads; one an older uv left is listed as is.
            self.app.action_goto("environments")
        elif b.kind == "bucket" and b.name == "interpreter":
            self.app.action_goto("interpreters")
        elif b.kind == "bucket":
            from .archive import BucketScreen

            self.app.push_screen(BucketScreen(b))
        else:
            notify(self, f"{b.dirname} is a single file or foreign entry: nothing inside to list")
