"""Which screen lives where: a registry of "module:Class" strings imported on first use.

Importing lazily keeps start-up fast and lets a screen that is still being
written fail only when it is opened (it shows a placeholder saying why).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass

from textual.screen import Screen


@dataclass(frozen=True)
class ScreenEntry:
    """One top-level screen: its mode name, key, footer label and where its class lives."""

    name: str
    key: str
    label: str
    target: str


SCREENS: tuple[ScreenEntry, ...] = (
    ScreenEntry("todo", "1", "To-do", "tui.screens.todo:TodoScreen"),
    ScreenEntry("accounts", "2", "Accounts", "tui.screens.accounts:AccountsScreen"),
    ScreenEntry("portfolio", "3", "Portfolio", "tui.screens.portfolio:PortfolioScreen"),
    ScreenEntry("rules", "4", "Rules", "tui.screens.rules:RulesScreen"),
    ScreenEntry("settings", "5", "Settings", "tui.screens.settings:SettingsScreen"),
)
BRIEF = "tui.screens.brief:BriefScreen"
BY_NAME = {entry.name: entry for entry in SCREENS}


def load_class(target: str) -> type:
    """The class a "module:Class" string names (raises ImportError / AttributeError)."""
    module_name, _, class_name = target.partition(":")
    return getattr(importlib.import_module(module_name), class_name)


def make_screen(name: str) -> Screen:
    """A new instance of the named top-level screen, or a placeholder explaining why not."""
    entry = BY_NAME[name]
    try:
        return load_class(entry.target)()
    except Exception as error:  # a screen still being written must not take the app down
        from tui.screens.missing import MissingScreen

        return MissingScreen(entry.label, f"{type(error).__name__}: {error}")
