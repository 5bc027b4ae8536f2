"""Every top-level screen of envtui in one place: its mode name, the key that opens it from
anywhere, and its title. A new screen is one line in ``SCREENS``; the app builds its modes and
its ``0``/``1``/``2``... bindings from this list."""

from __future__ import annotations

from dataclasses import dataclass

from textual.screen import Screen

from .environments import EnvironmentsScreen
from .interpreters import InterpretersScreen
from .overview import OverviewScreen
from .packages import PackagesScreen
from .projects import ProjectsScreen
from .pythons import PythonsScreen
from .tools import ToolsScreen


@dataclass(frozen=True)
class ScreenEntry:
    """One top-level screen."""

    mode: str
    """The app mode it lives in (its own screen stack)."""
    key: str
    """The key that opens it from every screen."""
    title: str
    """Its name in the footer, the help and the command palette."""
    screen: type[Screen]
    """The screen class (made once per app)."""
    tooltip: str = ""
    """What it shows, in a sentence."""


SCREENS: tuple[ScreenEntry, ...] = (
    ScreenEntry("overview", "0", "Overview", OverviewScreen, "Where the space goes, bucket by bucket"),
    ScreenEntry("environments", "1", "Environments", EnvironmentsScreen, "Script and cached (tool) environments"),
    ScreenEntry("interpreters", "2", "Interpreters", InterpretersScreen, "Cached interpreter queries"),
    ScreenEntry("packages", "3", "Packages", PackagesScreen, "Every package in the cache, by size"),
    ScreenEntry("pythons", "4", "Pythons", PythonsScreen, "uv-managed Pythons and what runs on each"),
    ScreenEntry("tools", "5", "Tools", ToolsScreen, "Tools installed with uv tool install"),
    ScreenEntry("projects", "6", "Projects", ProjectsScreen, "Project environments under the roots"),
)
