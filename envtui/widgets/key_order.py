"""Keys in the order typed: the app hands a key on only once the previous one has been dealt with.

Textual forwards every key to the focused widget as soon as it is read, but runs a key's binding
only when the key has travelled back up to the app (one hop through each widget's message queue),
and a focus change takes effect later still (``Widget.focus`` is deferred; a pushed or switched
screen focuses once it is mounted and resumed). Keys read in one write (a paste, a fast typist, a
loaded machine) were all forwarded before the first one's binding ran: ``/`` then ``a`` marked
every row instead of filtering, and ``1 / ana`` typed the filter into the overview. The same race
inside one ``Input`` is Textual issue 6605.

:class:`KeysInOrderApp` holds each key read from the terminal until the one before it, and all it
set off (its binding's action, the focus it moved, the screen it opened), has been processed, so a
key reaches the widget that has focus when it is its turn, whatever the keys' timing.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Any, Iterator, TypeVar

from textual import events
from textual.app import App
from textual.message_pump import MessagePump
from textual.screen import Screen

ReturnType = TypeVar("ReturnType")

#: Looks at the widgets this many times between two turns of the event loop before pausing between
#: looks (a widget that waits on something outside, a thread say, must not make the wait spin).
SPINS = 100
#: The pause (seconds) between two looks after that.
PAUSE = 0.002
#: The longest a key waits (seconds): something that stays busy (a widget that never finishes
#: mounting, a stream of messages) delays keys by this much, never swallows them.
MAX_WAIT = 1.0


def current_screen(app: App[Any]) -> Screen[Any] | None:
    """The screen on top, or ``None`` before the first one (or after the last one) is there."""
    try:
        return app.screen
    except Exception:  # ScreenStackError, or an unknown mode while the app starts
        return None


def _pumps(app: App[Any], screens: set[Screen[Any] | None]) -> Iterator[MessagePump]:
    yield app
    for screen in screens:
        if screen is not None:
            yield from screen.walk_children(with_self=True)


def busy(pump: MessagePump) -> bool:
    """Whether ``pump`` (the app, a screen or a widget) has a message waiting, or is mounting.

    Reads Textual's message pump internals (no public API says "idle"): the queue, the message
    peeked from it, a widget not yet mounted (composing), callbacks of ``call_next`` that run right
    after the queue empties. Without them (another Textual) keys are handed on at once, as Textual
    does. A message being processed is not seen, but until it ends no other code runs unless its
    handler awaits, and Textual's handlers await only what is itself seen here (a mount, a screen)."""
    if getattr(pump, "_closed", True) or getattr(pump, "_closing", True):
        return False
    queue = pump.__dict__.get("_message_queue")  # a cached property: never made here
    return bool(
        (queue is not None and not queue.empty())
        or getattr(pump, "_pending_message", None) is not None
        or getattr(pump, "_next_callbacks", None)
        or not getattr(pump, "_is_mounted", True)
    )


async def until_settled(app: App[Any], screen: Screen[Any] | None) -> None:
    """Return once the app, ``screen`` (the one a key was sent to) and the screen on top now, with
    all their widgets, have no message waiting, once the app exits, or after :data:`MAX_WAIT`."""
    spins = 0
    deadline = asyncio.get_running_loop().time() + MAX_WAIT
    while not getattr(app, "_exit", False) and any(map(busy, _pumps(app, {screen, current_screen(app)}))):
        if asyncio.get_running_loop().time() >= deadline:
            return
        spins += 1
        await asyncio.sleep(0 if spins < SPINS else PAUSE)


class KeysInOrderApp(App[ReturnType]):
    """An ``App`` that hands the keys read from the terminal on one at a time (see the module)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._typed: deque[events.Key] = deque()
        """Keys read and not yet handed on, oldest first."""
        self._handing_on: events.Key | None = None
        """The key posted again to be handed on (to let through once)."""
        self._key_task: asyncio.Task[None] | None = None
        """Hands the keys of ``_typed`` on while a key is being dealt with; ``None`` when idle."""

    async def on_event(self, event: events.Event) -> None:
        if isinstance(event, events.Key) and not event.is_forwarded:
            if event is self._handing_on:
                self._handing_on = None
            elif self._key_task is not None:
                self._typed.append(event)
                return
            else:
                # The first key goes at once; the next waits until it has been dealt with.
                self._key_task = asyncio.create_task(self._hand_on(current_screen(self)))
        await super().on_event(event)

    async def _hand_on(self, screen: Screen[Any] | None) -> None:
        try:
            while True:
                await until_settled(self, screen)
                if not self._typed or self._exit:
                    return
                key = self._typed.popleft()
                screen = current_screen(self)
                self._handing_on = key
                self.post_message(key)
        finally:
            self._key_task = None
