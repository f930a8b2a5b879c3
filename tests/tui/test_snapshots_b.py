"""SVG snapshots of helper B's screens on the frozen hand-made store (time fixed, no cursor in an input).

Update after an intended change with ``pytest tests/tui/test_snapshots_b.py --snapshot-update``
and look at the SVGs before committing them.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from seed_b import AS_OF, NOW, build_store, stub_recompute

from tui.app import make_app


@pytest.fixture
def app(tmp_path: Path):
    return make_app(
        build_store(tmp_path / "store.db"), as_of=AS_OF, now=lambda: NOW, recompute_job=stub_recompute
    )


def keys(*presses: str):
    async def run_before(pilot) -> None:
        app = pilot.app
        for key in ("", *presses):
            if key:
                await pilot.press(key)
            await pilot.pause()
            await app.workers.wait_for_complete()
            await pilot.pause()

    return run_before


def test_todo_screen(snap_compare, app) -> None:
    assert snap_compare(app, terminal_size=(120, 40), run_before=keys("down"))


def test_todo_screen_80x24(snap_compare, app) -> None:
    assert snap_compare(app, terminal_size=(80, 24), run_before=keys())


def test_todo_screen_showing_closed_to_dos(snap_compare, app) -> None:
    assert snap_compare(app, terminal_size=(120, 40), run_before=keys("h", "right", "right", "down", "down"))


def test_portfolio_screen(snap_compare, app) -> None:
    assert snap_compare(app, terminal_size=(120, 40), run_before=keys("3"))


def test_rules_screen(snap_compare, app) -> None:
    assert snap_compare(app, terminal_size=(120, 40), run_before=keys("4"))


FROZEN_KEYS = (
    "rules.min_support",
    "rules.min_count",
    "rules.min_confidence",
    "quadrant.risk_threshold",
    "risk.weights",
    "todos.daily_cap",
    "pricing.policy_discount_pct",
    "pricing.credit_rates",
    "pricing.currency",
    "as_of",
)


def test_settings_screen(snap_compare, app, monkeypatch) -> None:
    """Frozen to a fixed set of keys, so a setting added elsewhere does not change this picture."""
    from core.settings import DEFAULTS
    from tui.screens import settings as screen

    monkeypatch.setattr(screen, "DEFAULTS", {key: DEFAULTS[key] for key in FROZEN_KEYS})
    app.store.set_setting("todos.daily_cap", 12)
    assert snap_compare(app, terminal_size=(120, 40), run_before=keys("5", "down"))
