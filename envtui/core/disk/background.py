"""A disk scan started before the interface is imported, so the walk overlaps the seconds a
terminal UI takes to import and draw its first frame (the C walker runs without the GIL)."""

from __future__ import annotations

import threading
from pathlib import Path

from ..buckets import check_cache_root
from ..errors import NotACacheError, ScanCancelled
from .index import SavedReport, load_index
from .scan import DiskProgress, DiskReport, PreparedScan, prepare_scan, scan_disk

__all__ = ["BackgroundScan"]


class BackgroundScan:
    """:func:`~envtui.core.disk.scan.scan_disk` of ``root`` in a daemon thread, started at once.

    Read :attr:`saved` at once, :attr:`progress` while it runs; after :meth:`wait` returns true, :attr:`report` or
    :attr:`error` is set (neither when ``root`` is no uv cache, or the scan was cancelled).
    """

    def __init__(self, root: Path, *, state_dir: Path | None = None, progress_interval: float = 1.0) -> None:
        self.root = Path(root)
        """The cache root being measured."""
        self.saved: SavedReport | None = load_index(self.root, state_dir) if state_dir is not None else None
        """The last scan's figures from the saved index in ``state_dir`` (read before the walk
        starts: a few milliseconds), to show until :attr:`report` arrives; never to plan from."""
        self.progress: DiskProgress | None = None
        """The latest progress, or ``None``."""
        self.report: DiskReport | None = None
        """The figures, once done."""
        self.error: OSError | None = None
        """Why the root could not be walked, once done."""
        self._stop = threading.Event()
        self._done = threading.Event()
        self._interval = progress_interval
        # The listing here, before the caller goes on to import and draw: in the thread, beside
        # them, each of its system calls would wait a switch interval for the GIL (2.6 s instead
        # of 15 ms for 2,500 entries).
        self._prepared: PreparedScan | BaseException | None = None
        try:
            check_cache_root(self.root)
            self._prepared = prepare_scan(self.root)
        except (NotACacheError, OSError) as err:
            self._prepared = err
        threading.Thread(target=self._run, name="envtui-disk-scan", daemon=True).start()

    def _run(self) -> None:
        try:
            if isinstance(self._prepared, BaseException):
                raise self._prepared
            self.report = scan_disk(self.root, should_stop=self._stop.is_set, on_progress=self._progressed,
                                    progress_interval=self._interval, prepared=self._prepared)
        except (NotACacheError, ScanCancelled):
            pass
        except OSError as err:
            self.error = err
        finally:
            self._done.set()

    def _progressed(self, progress: DiskProgress) -> None:
        self.progress = progress

    def wait(self, timeout: float | None = None) -> bool:
        """Whether the scan has ended, waiting up to ``timeout`` seconds."""
        return self._done.wait(timeout)

    def cancel(self) -> None:
        """Ask the scan to stop (it checks every 50 ms or so)."""
        self._stop.set()
