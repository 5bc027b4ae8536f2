"""Choosing prune policies: the same ones as ``envtui prune``'s flags."""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Footer, Input, Label, Static

from ..core.prune import Policies, parse_size
from ..widgets.plain import plain


class PolicyBox(Checkbox):
    """A checkbox whose state reads in plain text too: ``[X]`` checked, ``[ ]`` not (Textual's
    draws ``X`` in both and tells them apart by colour only)."""

    BUTTON_LEFT, BUTTON_RIGHT = "[", "]"

    @property
    def BUTTON_INNER(self) -> str:  # type: ignore[override]  # Textual reads it at every render
        return "X" if self.value else " "


class PrunePolicy(ModalScreen["Policies | None"]):
    """Answers the chosen :class:`Policies` (at least one set), or ``None``."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="prune-policy.cancel", tooltip="Choose nothing")]

    def compose(self) -> ComposeResult:
        with Vertical(id="prune-policy", classes="dialog"):
            yield Static(Text.assemble(("Prune by policy", "bold"),
                                       ": every entry any chosen policy selects; the plan is shown first."))
            yield PolicyBox("unreferenced archive entries (no link, no environment uses them)", id="unreferenced", compact=True)
            yield PolicyBox("dangling links and .tmp leftovers", id="dangling", compact=True)
            yield PolicyBox("orphans (base interpreter or known script gone)", id="orphans", compact=True)
            yield PolicyBox("stale, missing and corrupt interpreter entries", id="interpreters", compact=True)
            with Grid(id="prune-policy-inputs"):
                yield Label("older than (days)")
                yield Input(placeholder="e.g. 30", id="older-than", type="number", compact=True)
                yield Label("keep latest per tool")
                yield Input(placeholder="e.g. 2", id="keep-latest", type="integer", compact=True)
                yield Label("max cache size")
                yield Input(placeholder="e.g. 5G, 500M", id="max-size", compact=True)
            yield Static("enter in a field: show the plan", id="prune-policy-error", classes="hint")
            with Horizontal(classes="buttons"):
                yield Button("Show plan", id="ok", variant="primary", compact=True)
                yield Button("Cancel", id="cancel", compact=True)
        yield Footer()

    def policies(self) -> Policies:
        """The policies the form describes. Raises ``ValueError`` naming a bad field."""
        def text(field: str) -> str:
            return self.query_one(f"#{field}", Input).value.strip()

        older, keep, size = text("older-than"), text("keep-latest"), text("max-size")
        try:
            older_days = float(older) if older else None
            keep_n = int(keep) if keep else None
        except ValueError:
            raise ValueError("older than and keep latest take numbers") from None
        if keep_n is not None and keep_n < 0:
            raise ValueError("keep latest must be 0 or more")
        return Policies(
            unreferenced=self.query_one("#unreferenced", Checkbox).value,
            dangling=self.query_one("#dangling", Checkbox).value,
            orphans=self.query_one("#orphans", Checkbox).value,
            interpreters=self.query_one("#interpreters", Checkbox).value,
            older_than_days=older_days,
            keep_latest=keep_n,
            max_size=parse_size(size) if size else None,
        )

    def action_cancel(self) -> None:
        """Close without choosing."""
        self.dismiss(None)

    @on(Button.Pressed, "#cancel")
    def _cancel(self) -> None:
        self.dismiss(None)

    @on(Button.Pressed, "#ok")
    @on(Input.Submitted)
    def _ok(self) -> None:
        error = self.query_one("#prune-policy-error", Static)
        try:
            policies = self.policies()
        except ValueError as err:
            error.update(plain(err, "red"))  # it may quote what was typed
            return
        if not policies.any():
            error.update(Text("choose at least one policy", "red"))
            return
        self.dismiss(policies)
