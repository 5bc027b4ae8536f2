"""The demo behind ``envtui --demo``: builders that run uv (or write uv's layout without it) and
make wheels. Not part of reading uv's cache, so it lives outside ``envtui.core``, which it uses.

* :mod:`envtui.demo.build`: :func:`build_demo_cache`, the lived-in cache uv itself builds offline;
* :mod:`envtui.demo.synthetic`: the same content written without uv (the snapshot tests use it);
* :mod:`envtui.demo.wheels`: tiny pure-Python wheels (the demo's wheelhouse, and the tests').
"""

from __future__ import annotations

from .build import DemoNote, build_demo_cache

__all__ = ["DemoNote", "build_demo_cache"]
