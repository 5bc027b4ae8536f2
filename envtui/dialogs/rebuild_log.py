"""Rebuilding one entry through uv (an environment, an interpreter entry, an installed tool): what
will run (and be deleted or proven first), then uv's output live."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

from rich.text import Text
from textual import getters, on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Button, Footer, Log, Static
from textual.worker import get_current_worker

from ..core.environments import Environment
from ..core.interpreters import InterpreterEntry
from ..core.inventory import Inventory
from ..core.rebuild import Recipe, RebuildResult, rebuild, reinstall_tool
from ..core.tools import Tool
from ..scripts_seen import load_seen_scripts
from ..widgets.plain import plain, plain_str

if TYPE_CHECKING:
    from ..app import EnvtuiApp


#: What the dialog runs: ``job(on_line, should_stop)`` -> what happened.
Job = Callable[[Callable[[str], None], Callable[[], bool]], RebuildResult]


class RebuildLog(ModalScreen[bool]):
    """Shows the recipe, runs it on "Rebuild" in a thread worker, streams uv's output; answers
    whether anything was changed (so the caller rescans)."""

    if TYPE_CHECKING:
        app = getters.app(EnvtuiApp)

    BINDINGS = [
        Binding("escape", "close", "Close", id="rebuild.close", tooltip="Stop uv if it runs, and close"),
    ]

    @dataclass
    class Output(Message):
        """A line uv printed."""

        line: str

    @dataclass
    class Finished(Message):
        """The rebuild ended (``result``), or failed to start (``error``)."""

        result: RebuildResult | None
        error: str | None = None

    def __init__(self, inventory: Inventory, record: Environment | InterpreterEntry | Tool, recipe: Recipe,
                 job: Job | None = None) -> None:
        super().__init__()
        self.inventory = inventory
        self.record = record
        self.recipe = recipe
        """What will run."""
        self.job: Job = job or self._rebuild
        """``job(on_line, should_stop)``: runs it, in a thread worker, and says what happened."""
        self.started = False
        """Whether the rebuild was started (then the cache may have changed)."""

    @classmethod
    def for_tool(cls, inventory: Inventory, tool: Tool, recipe: Recipe, tool_dir: str | os.PathLike,
                 uv: str) -> "RebuildLog":
        """The dialog reinstalling the installed ``tool`` through :func:`~envtui.core.rebuild.reinstall_tool`
        (``recipe``: :func:`~envtui.core.rebuild.tool_recipe`, shown; proven first in a temporary
        tool directory: the tool stays when uv cannot build it)."""

        def job(on_line: Callable[[str], None], should_stop: Callable[[], bool]) -> RebuildResult:
            return reinstall_tool(tool, tool_dir, inventory.root, on_line, uv=uv, should_stop=should_stop)

        return cls(inventory, tool, recipe, job)

    def _rebuild(self, on_line: Callable[[str], None], should_stop: Callable[[], bool]) -> RebuildResult:
        record = self.record
        if isinstance(record, Tool):  # uv reinstalls a tool: for_tool gives the job
            raise TypeError(f"a tool is reinstalled through RebuildLog.for_tool, not rebuilt: {record.name}")
        return rebuild(self.inventory, record, on_line, uv=self.recipe.argv[0], should_stop=should_stop,
                       seen_scripts=load_seen_scripts(self.inventory.root, on_problem=self.app.state_problem))

    def compose(self) -> ComposeResult:
        r = self.recipe
        with Vertical(id="rebuild-log", classes="dialog"):
            yield Static(plain(f"Rebuild {r.kind} {r.path}", "bold"), id="rebuild-title")
            steps = [plain(f"{i}. {step}") for i, step in enumerate(r.steps(), 1)]
            yield Static(Text("\n").join(steps), id="rebuild-steps")
            yield Log(id="rebuild-output", highlight=False)
            yield Static("", id="rebuild-result")
            with Horizontal(classes="buttons"):
                yield Button("Rebuild", id="start", variant="warning", compact=True)
                yield Button("Close", id="close", compact=True)
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#start", Button).focus()

    @on(Button.Pressed, "#start")
    def _start(self) -> None:
        self.started = True
        self.query_one("#start", Button).disabled = True
        self._run()

    @work(thread=True, exclusive=True, group="rebuild", exit_on_error=False)
    def _run(self) -> None:
        worker = get_current_worker()

        def on_line(line: str) -> None:
            self.post_message(self.Output(line))

        try:
            result = self.job(on_line, lambda: worker.is_cancelled)
        except Exception as err:  # OSError (uv missing), CacheError: shown, not raised in the UI
            self.post_message(self.Finished(None, str(err)))
            return
        self.post_message(self.Finished(result))

    @on(Output)
    def _output(self, message: Output) -> None:
        self.query_one(Log).write_line(plain_str(message.line))

    @on(Finished)
    def _finished(self, message: Finished) -> None:
        box = self.query_one("#rebuild-result", Static)
        if message.result is None:
            box.update(plain(f"failed: {message.error}", "bold red"))
            return
        result = message.result
        lines = [plain(result.message, "bold green" if result.ok else "bold red")]
        for field, before, after in result.changes:
            lines.append(plain(f"  {field}: {before}" + ("" if before == after else f"  →  {after}"),
                               "yellow" if before != after else ""))
        box.update(Text("\n").join(lines))
        self.query_one("#close", Button).focus()

    def action_close(self) -> None:
        """Stop a running uv and close."""
        self.workers.cancel_group(self, "rebuild")
        self.dismiss(self.started)

    @on(Button.Pressed, "#close")
    def _close(self) -> None:
        self.action_close()
