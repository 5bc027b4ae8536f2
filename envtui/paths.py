"""Where envtui's own shipped files are, installed or in a checkout."""

from __future__ import annotations

from importlib import resources
from pathlib import Path


def styles_dir() -> Path:
    """The directory of the ``.tcss`` files: ``envtui/styles`` inside an installed wheel, or the
    top-level ``styles/`` of a source checkout (editable installs)."""
    shipped = Path(str(resources.files("envtui"))) / "styles"
    if shipped.is_dir():
        return shipped
    return Path(__file__).resolve().parent.parent / "styles"
