"""The real app in a real terminal: tmux drives the main path a CSM takes each morning.

Pilot tests exercise widgets; this proves the installed command starts, paints,
answers keys and saves a to-do change, the way a person would see it.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
SESSION = "quadrant-walk"
SOCKET = f"quadrant-walk-{os.getpid()}"  # a server of its own: no other session's options or sizes leak in


# A stale COLUMNS/LINES in the environment would override the pane's real size.
PANE_ENV = {name: value for name, value in os.environ.items() if name not in ("COLUMNS", "LINES")}


def tmux(*args: str) -> str:
    command = ["tmux", "-L", SOCKET, "-f", "/dev/null", *args]
    return subprocess.run(command, capture_output=True, text=True, check=False, env=PANE_ENV).stdout


def screen() -> str:
    return tmux("capture-pane", "-p", "-t", SESSION)


def wait_for(text: str, timeout: float = 60.0) -> str:
    deadline = time.monotonic() + timeout
    shown = ""
    while time.monotonic() < deadline:
        shown = screen()
        if text in shown:
            return shown
        time.sleep(0.25)
    raise AssertionError(f"{text!r} never appeared; the screen showed:\n{shown}")


def press(*keys: str) -> None:
    tmux("send-keys", "-t", SESSION, *keys)


@pytest.fixture()
def app_in_tmux(demo_store):
    db = demo_store.path
    demo_store.close()
    quadrant = Path(sys.executable).with_name("quadrant")
    command = f"{quadrant if quadrant.exists() else sys.executable + ' -m tui.cli'} --db {db}"
    tmux("new-session", "-d", "-s", SESSION, "-x", "120", "-y", "40", command)
    tmux("resize-window", "-t", SESSION, "-x", "120", "-y", "40")
    assert tmux("display", "-p", "-t", SESSION, "#{window_width}x#{window_height}").strip() == "120x40"
    yield db
    tmux("kill-server")


def test_morning_walk_through_every_screen(app_in_tmux: Path) -> None:
    db = app_in_tmux
    first = wait_for("daily cap")  # drawn once the to-dos have loaded
    assert "Rescue" in first and "Nurture" in first and "daily cap 15" in first, "not drawn at 120 columns"
    press("2")
    wait_for("Search by name")  # the account list
    press("Enter")
    brief = wait_for("Risk breakdown")
    assert "Products held" in brief and "ARR" in brief
    press("Escape")  # alone: a key right after Escape would read as Alt+key
    wait_for("Search by name")
    press("3")
    wait_for("Products/customer")
    press("4")
    wait_for("Confidence")
    press("5")
    wait_for("rules.min_support")
    press("1")
    wait_for("Fix & expand")
    press("d")
    deadline = time.monotonic() + 30
    done = 0
    while time.monotonic() < deadline and not done:
        if "Outcome" in screen() or "outcome" in screen():
            press("Escape")
        conn = sqlite3.connect(db)
        done = conn.execute(
            "SELECT count(*) FROM todo_events WHERE action = 'done' AND source = 'tui'"
        ).fetchone()[0]
        conn.close()
        time.sleep(0.3)
    assert done == 1, "pressing d on the first to-do saved nothing"
    press("q")
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and SESSION in tmux("list-sessions"):
        time.sleep(0.3)
    assert SESSION not in tmux("list-sessions"), "q did not quit the app"
