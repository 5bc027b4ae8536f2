"""The overview screen: where the space goes, one row per top-level entry of the cache."""

from __future__ import annotations

from typing import Any

import humanize
from rich.text import Text
from textual import on
from textual.coordinate import Coordinate
from textual.widgets import DataTable, ProgressBar, Static

from ..core import Bucket, Inventory, find_bucket
from ..core.disk import BucketUsage, DiskProgress, DiskReport, Usage
from .base import Row, TableScreen

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
_COLOURS = ("dodger_blue2", "dark_orange", "green3", "magenta", "gold1", "cyan", "red3", "purple")


def size(n: int | None) -> str:
    """Bytes for a person (binary units), ``"…"`` while unknown."""
    return "…" if n is None else humanize.naturalsize(n, binary=True)


def usage_rows(usage: Usage | None) -> list[tuple[str, str]]:
    """Details-pane rows for an entry's bytes: on disk, freed if deleted, and shared with what."""
    if usage is None:
        return [("on disk", "measuring…")]
    rows = [
        ("on disk", f"{size(usage.disk)}  (allocated blocks, hardlinks once; {size(usage.apparent)} apparent)"),
        ("freed if deleted", f"{size(usage.exclusive)}  (inodes whose every link lies inside it)"),
    ]
    if usage.shared:
        rows.append(("shared", f"{size(usage.shared)} stay on disk, linked from elsewhere too:"))
        for label, n in (
            ("other environments", usage.shared_environments),
            ("the wheel cache (archive-v0)", usage.shared_wheels),
            ("other cache entries", usage.shared_other),
            ("outside the cache (e.g. project .venvs)", usage.shared_outside),
        ):
            if n:
                rows.append(("  with", f"{label}: {size(n)}"))
    return rows


def _label(b: Bucket) -> str:
    return f"{b.dirname}/" if b.kind == "bucket" else b.dirname


class OverviewScreen(TableScreen):
    """Where the space goes: every bucket of the cache (and every other top-level entry) with its
    entries, apparent and on-disk bytes (each inode once) and what deleting it would free.
    Enter opens a bucket's entries. Sizes stream in from a background scan."""

    COLUMNS = ("Entry", "Kind", "Entries", "Apparent", "On disk", "Reclaimable", "Share")
    SORTS = ("size", "name", "reclaimable")
    EMPTY = "The cache is empty."

    def on_mount(self) -> None:
        # Textual runs TableScreen.on_mount too (handlers run for every class in the MRO).
        progress_bar = ProgressBar(id="disk-progress", show_eta=False)
        progress_bar.display = False  # until the disk scan reports
        from ..widgets.machine_parts import MachineParts

        self.mount(Static("", id="space-bar"), progress_bar, MachineParts(id="machine-parts"), before="#main")
        self.watch(self.app, "disk", self._sizes_done, init=False)
        self.watch(self.app, "disk_progress", self._sizes_arriving, init=False)
        self.call_after_refresh(self._draw_bar)

    # -- rows ------------------------------------------------------------------------------------

    def _figures(self) -> tuple[dict[str, BucketUsage], DiskReport | None, DiskProgress | None]:
        # While a scan runs its partial figures win over the previous scan's report.
        progress: DiskProgress | None = getattr(self.app, "disk_progress", None)
        report: DiskReport | None = None if progress else getattr(self.app, "disk", None)
        source = progress.buckets if progress else report.buckets if report else ()
        return {str(b.bucket.path): b for b in source}, report, progress

    def rows(self, inventory: Inventory) -> list[Row]:
        figures, report, _ = self._figures()
        total = report.total_disk if report else sum(b.disk or 0 for b in figures.values()) or None
        out = []
        for b in inventory.buckets:
            f = figures.get(str(b.path))
            share = f"{100 * f.disk / total:.0f}%" if f and f.disk is not None and total else "…"
            kind = {"bucket": f"v{b.version} {b.age}", "marker": "uv marker", "foreign": "not uv's"}[b.kind]
            out.append(
                Row(
                    key=str(b.path),
                    cells=(
                        _label(b),
                        Text(kind, "yellow" if b.age in ("older", "newer", "unknown") or b.kind == "foreign" else "dim"),
                        str(f.entries) if f else "…",
                        size(f.apparent if f else None),
                        size(f.disk if f else None),
                        size(f.reclaimable if f else None),
                        share,
                    ),
                    record=(b, f),
                    search=f"{b.dirname} {b.kind} {b.age}".lower(),
                    sort={
                        "name": b.dirname,
                        "size": f.disk if f else None,
                        "reclaimable": f.reclaimable if f else None,
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
        inventory = getattr(self.app, "inventory", None)
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
        inventory = getattr(self.app, "inventory", None)
        if inventory is not None:
            self._rows = self.rows(inventory)
            self._refill()
        self._draw_bar()

    def _sizes_arriving(self, progress: DiskProgress | None) -> None:
        # Rewrite the changed cells in place: rebuilding the table at every progress message
        # costs the main thread enough to starve the scan's thread of the GIL.
        inventory = getattr(self.app, "inventory", None)
        if progress is None or inventory is None or len(self._shown) != len(inventory.buckets):
            self._sizes_done()
            return
        table = self.query_one(DataTable)
        fresh = {r.key: r for r in self.rows(inventory)}
        for i, old in enumerate(self._shown):
            new = fresh.get(old.key)
            if new is None:
                continue
            for column in range(2, len(self.COLUMNS)):
                if str(new.cells[column]) != str(old.cells[column]):
                    table.update_cell_at(Coordinate(i, column), new.cells[column], update_width=True)
            self._shown[i] = new
        self._rows = [fresh.get(r.key, r) for r in self._rows]
        self._draw_bar()

    def on_resize(self) -> None:
        self._draw_bar()

    def _draw_bar(self) -> None:
        bars = self.query("#space-bar")
        progress_bars = self.query("#disk-progress")
        if not bars or not progress_bars:
            return  # not mounted yet
        bar, progress_bar = bars.first(Static), progress_bars.first(ProgressBar)
        figures, report, progress = self._figures()
        if report is None and progress is None:
            bar.update(Text("Measuring where the space goes…", "dim"))
            return
        if progress_bar.display != (report is None):
            progress_bar.display = report is None
        if report is None:
            progress_bar.update(total=progress.total or 1, progress=progress.done)
        width = max(10, self.size.width - 4)
        if report is not None:
            parts = [(b.bucket.dirname, b.reclaimable or 0) for b in report.buckets]
            shared = max(0, report.total_disk - sum(n for _, n in parts))
            total = report.total_disk
            title = f"Cache total: {size(total)} on disk (hardlinks counted once), {size(report.total_apparent)} apparent"
        else:
            parts = [(b.bucket.dirname, b.disk or 0) for b in progress.buckets]
            shared, total = 0, sum(n for _, n in parts)
            title = f"Measuring… {progress.done} of {progress.total} entries, {size(progress.disk)} so far"
        parts = sorted((p for p in parts if p[1]), key=lambda p: -p[1])
        if shared:
            parts.append(("shared (hardlinked across buckets or from outside)", shared))
        line, legend = Text(), Text()
        used = 0
        for i, (name, n) in enumerate(parts):
            colour = "grey50" if name.startswith("shared") or i >= len(_COLOURS) else _COLOURS[i]
            cells = round(width * n / total) if total else 0
            cells = min(cells, width - used)
            line.append("█" * cells, colour)
            used += cells
            if i < 6 or name.startswith("shared"):
                legend.append("■ ", colour)
                legend.append(f"{name} {size(n)}  ")
        bar.update(Text.assemble(Text(title, "bold"), "\n", line, "\n", legend))

    # -- navigation ------------------------------------------------------------------------------

    @on(DataTable.RowSelected)
    def _open(self, _event: DataTable.RowSelected) -> None:
        record = self.selected
        if record is None:
            return
        b: Bucket = record[0]
        inventory = getattr(self.app, "inventory", None)
        read = find_bucket(list(inventory.buckets), "environments") if inventory else None
        if b.kind == "bucket" and b.name == "environments" and read is not None and read.path == b.path:
            # Only the bucket the environments screen reads; one an older uv left is listed as is.
            self.app.switch_mode("environments")
        elif b.kind == "bucket" and b.name == "interpreter":
            self.app.switch_mode("interpreters")
        elif b.kind == "bucket":
            from .archive import BucketScreen

            self.app.push_screen(BucketScreen(b))
        else:
            self.notify(f"{b.dirname} is a single file or foreign entry: nothing inside to list")
