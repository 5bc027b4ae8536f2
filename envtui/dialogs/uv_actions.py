"""Uninstalling or reinstalling through uv: the plan (commands, bytes freed, what is skipped and
why), then, on "Run", uv's output live. "Run" is enabled only once the plan has been drawn."""

from __future__ import annotations

import shlex
from dataclasses import dataclass

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Button, Log, Static
from textual.worker import get_current_worker

from ..core.prune.machine import UvPlan, run_action
from ..format import size_exact
from ..widgets.plain import plain, plain_str


class UvActions(ModalScreen[bool]):
    """Shows a :class:`~envtui.core.prune.machine.UvPlan`; runs it on "Run" in a thread worker;
    answers whether anything ran (so the caller rescans)."""

    BINDINGS = [Binding("escape", "close", "Close", id="uv-actions.close", tooltip="Stop uv if it runs, and close")]

    @dataclass
    class Output(Message):
        """A line uv printed."""

        line: str

    @dataclass
    class Finished(Message):
        """Every action ran; ``failed`` lists those uv refused."""

        failed: tuple[str, ...]

    def __init__(self, plan: UvPlan, cache_root, title: str) -> None:
        super().__init__()
        self.plan = plan
        """The plan shown; the same plan runs."""
        self.cache_root = cache_root
        self.title_text = title
        self.started = False
        self.shown = False
        """Whether the plan has been drawn on screen: "Run" does nothing before."""

    def compose(self) -> ComposeResult:
        plan = self.plan
        with Vertical(id="uv-actions", classes="dialog"):
            head = f"{self.title_text}: {len(plan.actions)} through uv"
            if plan.bytes_freed:
                head += f", freeing {size_exact(plan.bytes_freed)}"
            yield Static(plain(head, "bold"), id="uv-actions-title")
            # Labels, reasons, commands and paths hold names from disk: each line plain, escaped.
            lines = []
            for a in plan.actions:
                lines += [plain(f"{a.label}  [{a.reason}]"), plain(f"  {shlex.join(a.argv)}")]
            lines += [plain(f"skipped {s.path}: {s.reason}") for s in plan.skipped]
            yield Static(Text("\n").join(lines or [Text("Nothing to do.")]), id="uv-actions-steps")
            yield Log(id="uv-actions-output", highlight=False)
            yield Static("", id="uv-actions-result")
            with Horizontal(classes="buttons"):
                yield Button("Run", id="start", variant="warning", disabled=True)
                yield Button("Close", id="close")

    def on_mount(self) -> None:
        self.query_one("#close", Button).focus()
        self.call_after_refresh(self._drawn)

    def _drawn(self) -> None:
        """The plan is on screen: "Run" may run it."""
        self.shown = True
        if self.plan.actions and not self.started:
            start = self.query_one("#start", Button)
            start.disabled = False
            start.focus()

    @on(Button.Pressed, "#start")
    def _start(self) -> None:
        if not self.shown or self.started:
            return
        self.started = True
        self.query_one("#start", Button).disabled = True
        self._run()

    @work(thread=True, exclusive=True, group="uv-actions", exit_on_error=False)
    def _run(self) -> None:
        worker = get_current_worker()
        failed = []
        for action in self.plan.actions:
            if worker.is_cancelled:
                break
            try:
                status = run_action(action, self.cache_root, lambda line: self.post_message(self.Output(line)),
                                    should_stop=lambda: worker.is_cancelled)
            except OSError as err:
                self.post_message(self.Output(f"could not start uv: {err}"))
                status = -1
            if status != 0:
                failed.append(action.label)
        self.post_message(self.Finished(tuple(failed)))

    @on(Output)
    def _output(self, message: Output) -> None:
        self.query_one(Log).write_line(plain_str(message.line))

    @on(Finished)
    def _finished(self, message: Finished) -> None:
        box = self.query_one("#uv-actions-result", Static)
        if message.failed:
            box.update(plain(f"uv failed for {', '.join(message.failed)}", "bold red"))
        else:
            box.update(Text("done", "bold green"))
        self.query_one("#close", Button).focus()

    def action_close(self) -> None:
        """Stop a running uv and close."""
        self.workers.cancel_group(self, "uv-actions")
        self.dismiss(self.started)

    @on(Button.Pressed, "#close")
    def _close(self) -> None:
        self.action_close()
