"""What the app knows about everything uv keeps beside its cache, fetched in thread workers.

The app calls :func:`prove_in_scan` inside its cache scan (so every screen sees the script each
script environment's key proves) and :func:`start_machine_scan` once a scan finished; results land
in the app's ``machine`` and ``machine_usage`` reactives. Both only run when the app's
``machine_scan`` is true (``envtui`` sets it; tests over fixed caches leave it off, so their
screens never depend on this machine's uv directories).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Callable

from textual.worker import get_current_worker

from .core.errors import ScanCancelled
from .core.inventory import Inventory
from .core.machine_scan import Machine, measure, name_proven_scripts, scan_machine
from .core.orphans import prove_scripts
from .state import load_settings
from .widgets.plain import notify

if TYPE_CHECKING:
    from .app import EnvtuiApp

__all__ = ["MACHINE_MODES", "machine_roots", "prove_in_scan", "start_machine_scan"]

#: The app modes of the screens beyond the cache (see ``screens/registry.py``).
MACHINE_MODES = ("pythons", "tools", "projects")


def machine_roots(app: EnvtuiApp) -> list[str]:
    """The roots: the app's ``machine_roots`` (``--roots``), else those saved in the settings."""
    given = getattr(app, "machine_roots", None)
    return list(given) if given is not None else list(load_settings(on_problem=None).roots)  # the scan said it


def prove_in_scan(app: EnvtuiApp, inventory: Inventory, should_stop: Callable[[], bool]) -> Inventory:
    """``inventory`` with the scripts the keys prove under the roots named (call it in the scan's
    worker; bounded and cancellable: see :func:`~envtui.core.orphans.prove_scripts`)."""
    if not getattr(app, "machine_scan", False):
        return inventory
    roots = machine_roots(app)
    if not roots:
        return inventory
    proven = prove_scripts(inventory.environments, roots, should_stop=should_stop)
    return name_proven_scripts(inventory, Machine(inventory.root, inventory.root, (), (), (), (), tuple(proven)))


def start_machine_scan(app: EnvtuiApp, inventory: Inventory) -> None:
    """Scan the managed Pythons, tools and project environments in a thread worker, then measure
    them with the cache once the app's disk walk of the same scan has ended (its report keeps the
    cache's links: the cache is not walked twice); set ``app.machine``, then
    ``app.machine_usage``. A newer scan replaces it."""
    if not getattr(app, "machine_scan", False):
        return
    generation = getattr(app, "_generation", 0)

    def work() -> None:
        worker = get_current_worker()
        stop = lambda: worker.is_cancelled  # noqa: E731
        try:
            machine = scan_machine(inventory, machine_roots(app), should_stop=stop)
            app.call_from_thread(setattr, app, "machine", machine)
            while app.fresh_disk[0] < generation:  # set on the app's thread when the walk ends
                if stop():
                    return
                time.sleep(0.05)
            report = app.fresh_disk[1]
            usage = measure(machine, report if report is not None and report.links is not None else None, should_stop=stop)
            if report is not None and report.links is not None:
                report.links.release()  # the table is no longer needed: free it
        except ScanCancelled:
            return
        except OSError as err:
            notify(app, f"could not measure Pythons, tools and projects: {err}", severity="error")  # thread-safe
            return
        app.call_from_thread(setattr, app, "machine_usage", usage)

    app.run_worker(work, thread=True, exclusive=True, group="machine", exit_on_error=False)
