"""The environments screen: script environments and cached (tool, ``--with``) environments."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from rich.text import Text
from textual import on
from textual.binding import Binding
from textual.widgets import DataTable

from ..core import SCRIPT, Environment, Inventory
from ..core.buckets import CURRENT_BUCKET_VERSIONS
from ..core.explain import explain_environment
from ..format import ago
from ..widgets.columns import Column
from ..widgets.details import usage_rows
from ..widgets.plain import notify
from .base import Row, bytes_cell
from .prune_actions import PruneTableScreen

_STATUS_STYLE = {"ok": "green", "dangling": "red", "corrupt": "bold red", "in flight": "yellow"}


def _name(env: Environment) -> str:
    """The row's name; an environment of an older uv's bucket says which (``hello.py · v1``): a
    cache shared by uv 0.5 and 0.13 holds the same script's environment in both."""
    name = _plain_name(env)
    current = CURRENT_BUCKET_VERSIONS.get("environments")
    if env.bucket_version is not None and env.bucket_version != current:
        name += f" · v{env.bucket_version}"
    return name


def _plain_name(env: Environment) -> str:
    if env.kind == SCRIPT:
        if env.script:
            # The file name and its folder: whole paths push the other columns off screen; the
            # details pane and the filter have the full path.
            script = Path(env.script)
            return f"{script.name} · {script.parent.name}/" if script.parent.name else script.name
        return env.prompt or env.stem or env.key
    return env.tool or (env.packages[0].name if env.packages else env.key)


class EnvironmentsScreen(PruneTableScreen):
    """Every environment in ``environments-vN``: its size, what deleting it frees, its key and what it was derived from."""

    # What tells entries apart and the size stay; the long columns (packages, key) go first.
    COLUMNS = (
        Column("Kind", "kind", 2, sort="kind"),
        Column("Name", "name", 0, min=14, max=32, sort="name"),
        Column("Python", "python", 1),
        Column("Status", "status", 1),
        Column("Size", "size", 0, sort="size"),
        # Most of an environment's files are hardlinks to archive entries: what deleting it frees
        # is often a small part of its size, and it is what a prune decides on.
        Column("Frees", "frees", 0, sort="frees"),
        Column("Last used", "used", 2, sort="used"),
        # Two environments of one tool on one Python differ by their packages (--with).
        Column("Packages", "packages", 1, min=12, max=40),
        Column("Key", "key", 4, min=12),
    )
    SORTS = ("size", "frees", "used", "name", "kind")
    SIZE = 4
    """The index of the Size column."""
    FREES = 5
    """The index of the Frees column."""
    EMPTY = "uv has no script or cached environments in this cache."

    BINDINGS = [
        Binding("c", "copy_path", "Copy path", id="env.copy-path", tooltip="Copy the stable environment path"),
        Binding("l", "open_files", "Files", id="env.files", tooltip="Look inside the environment: its files, with sizes"),
        Binding("right", "open_files", "Files", id="env.files-arrow", show=False, priority=True),
        Binding("p", "copy_python", "Copy bin/python", id="env.copy-python", tooltip="Copy the environment's bin/python"),
        Binding(
            "o", "script_roots", "Script roots", id="env.script-roots",
            tooltip="Set the directories searched for PEP 723 scripts (saved in envtui's state)",
        ),
    ]

    def rows(self, inventory: Inventory) -> list[Row]:
        out = []
        for env in inventory.environments:
            pkgs = ", ".join(f"{p.name} {p.version}" for p in env.packages) or "—"
            name = _name(env)
            out.append(
                Row(
                    key=str(env.path),
                    cells=(
                        env.kind,
                        name,
                        env.python_version or "?",
                        Text(env.status, _STATUS_STYLE.get(env.status, "")),
                        self._size_cell(env),
                        self._frees_cell(env),
                        ago(env.last_used),
                        pkgs,
                        env.key,
                    ),
                    record=env,
                    search=" ".join(
                        filter(None, [env.kind, name, env.key, env.python_version, env.tool, env.script, env.prompt, pkgs])
                    ).lower(),
                    sort={
                        "name": name.lower(),
                        "used": env.last_used,
                        "kind": (env.kind, name.lower()),
                        "size": self._disk_bytes(env),
                        "frees": self._frees(env),
                    },
                )
            )
        return out

    def explain(self, record: Any) -> tuple[str, list[tuple[str, str]]]:
        assert isinstance(record, Environment)
        rows = explain_environment(record)
        report = self.app.disk
        if report is not None:
            rows += usage_rows(report.environment(record.path, record.link_target))
            entry = report.entry(record.link_target or record.path)
            if entry is not None and entry.uses:
                names = {e.path: e.name for e in self.app.archive or ()}
                rows.append(("installs from", ", ".join(names.get(p, p.name) for p in entry.uses)))
        else:
            rows.append(("on disk", "measuring…"))
        return f"{record.kind} environment {_name(record)}", rows

    # -- sizes, filled in as the disk scan reaches each environment ---------------------------------

    def on_mount(self) -> None:
        # Textual runs TableScreen.on_mount too (handlers run for every class in the MRO).
        self.watch(self.app, "disk", self._sizes_done, init=False)
        self.watch(self.app, "disk_progress", self._sizes_arriving, init=False)

    def _disk_bytes(self, env: Environment) -> int | None:
        """The environment's on-disk bytes (a cached one with its archive target), if known."""
        progress = self.app.disk_progress
        if progress is not None:
            own = progress.entry_disk.get(str(env.path))
            target = progress.entry_disk.get(str(env.link_target)) if env.link_target else 0
            return None if own is None or target is None else own + target
        report = self.app.disk
        usage = report.environment(env.path, env.link_target) if report is not None else None
        return usage.disk if usage is not None else None

    def _size_cell(self, env: Environment) -> Text:
        return bytes_cell(self._disk_bytes(env))

    def _frees(self, env: Environment) -> int | None:
        """Disk bytes deleting the environment alone frees (a cached one with its archive
        target): the disk scan's exclusive bytes, the planner's rule (an inode counts once every
        one of its links is deleted). ``None`` until a scan has finished (it depends on every
        link in the cache); while a rescan runs, the last scan's figure."""
        report = self.app.disk
        usage = report.environment(env.path, env.link_target) if report is not None else None
        return usage.exclusive if usage is not None else None

    def _frees_cell(self, env: Environment) -> Text:
        return bytes_cell(self._frees(env))

    def _sizes_arriving(self, _progress: object) -> None:
        # Only the cells that changed: redrawing every row per progress message starves the scan.
        fresh = {}
        for row in self._shown:
            cell = self._size_cell(row.record)
            if str(cell) != str(row.cells[self.SIZE]):
                fresh[row.key] = replace(row, cells=(*row.cells[:self.SIZE], cell, *row.cells[self.SIZE + 1:]),
                                         sort={**row.sort, "size": self._disk_bytes(row.record)})
        self.update_rows(fresh)

    def _sizes_done(self, _report: object) -> None:
        self.reload()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("copy_path", "copy_python"):
            return self.selected is not None
        if action == "open_files":
            from .entry_files import typing

            return not typing(self) and self.selected is not None
        return super().check_action(action, parameters)

    def action_script_roots(self) -> None:
        """Edit the script roots; saving them rescans with the scripts found under them."""
        from ..dialogs.script_roots import ScriptRoots
        from ..state import Settings, load_settings, save_settings

        def saved(roots: tuple[str, ...] | None) -> None:
            if roots is None:
                return
            try:
                path = save_settings(Settings(script_roots=roots))
            except OSError as err:
                notify(self, f"{err.filename}: {err.strerror}", title="Not saved", severity="error")
                return
            self.app.known_scripts = None  # read from the settings again
            notify(self, f"{len(roots)} script roots saved to {path}", title="Script roots")
            self.app.rescan()

        self.app.push_screen(ScriptRoots(load_settings(on_problem=self.app.state_problem).script_roots), saved)

    def _copy(self, text: str, what: str) -> None:
        # OSC 52: works in most terminals, and over SSH, where a local clipboard tool would not.
        self.app.copy_to_clipboard(text)
        notify(self, text, title=f"Copied {what}")

    def action_copy_path(self) -> None:
        """Copy the selected environment's stable path."""
        env = self.selected
        if env is not None:
            self._copy(str(env.path), "stable environment path")

    def action_copy_python(self) -> None:
        """Copy the selected environment's ``bin/python``."""
        env = self.selected
        if env is not None:
            self._copy(str(env.python), "bin/python")

    @on(DataTable.RowSelected)
    def _chosen(self, _event: DataTable.RowSelected) -> None:
        # enter: with --print-path, exit and hand the stable path to the shell.
        env = self.selected
        if env is not None and self.app.print_path:
            self.app.exit(str(env.path))
        elif env is not None:
            self.action_open_files()

    def action_open_files(self) -> None:
        """Look inside the highlighted environment (a cached one at its archive target)."""
        from .entry_files import open_entry_files

        env = self.selected
        if env is not None:
            open_entry_files(self.app, env.script or env.tool or env.prompt or env.key, [env.link_target or env.path])
