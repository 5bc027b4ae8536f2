"""Kept for the importers of ``find_uv``: it lives in :mod:`envtui.core.uvcli`, the one module that runs uv."""

from .uvcli import find_uv as find_uv  # noqa: F401

__all__ = ["find_uv"]
