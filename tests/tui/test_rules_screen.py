"""The rules explorer: live filtering when tightening, save + background re-mine when loosening."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd
import pytest
from seed_b import AS_OF, NOW, build_store
from textual.widgets import Input

from core.store import Store
from tui.app import make_app
from tui.screens.rules import RulesScreen, parse_threshold, rule_columns, rule_sentence
from tui.widgets.book_table import BookTable

NAMES = {"MAIL": "Mail Studio", "JRN": "Journeys", "AUTO": "Automation", "CRM": "Contacts CRM"}


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return build_store(tmp_path / "store.db")


class RecordingJob:
    """Stands in for the recompute; remembers the settings it saw."""

    def __init__(self) -> None:
        self.calls: list[dict] = []

    def __call__(self, store: Store, as_of: date, progress) -> None:
        progress("rules", 0, 1)
        self.calls.append(store.settings())


async def open_rules(app, pilot) -> RulesScreen:
    await pilot.pause()
    await app.workers.wait_for_complete()
    await pilot.press("4")
    await pilot.pause()
    await app.workers.wait_for_complete()
    await pilot.pause()
    assert isinstance(app.screen, RulesScreen)
    return app.screen


def shown(screen: RulesScreen) -> list[tuple[str, str]]:
    return list(zip(screen.shown["antecedents"], screen.shown["consequents"], strict=True))


def explained(screen: RulesScreen) -> str:
    return str(screen.query_one("#rules-explain").content)


async def set_input(pilot, screen: RulesScreen, name: str, text: str) -> None:
    screen.query_one(f"#rules-{name}", Input).value = text
    await pilot.pause()


async def test_rules_sorted_by_lift_with_the_rule_in_words(store: Store) -> None:
    app = make_app(store, as_of=AS_OF, now=lambda: NOW, recompute_job=RecordingJob())
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_rules(app, pilot)
        assert shown(screen) == [("JRN;MAIL", "AUTO"), ("AUTO", "CRM;JRN"), ("MAIL", "JRN"), ("CRM", "MAIL")]
        table = screen.query_one(BookTable)
        assert table.value_at(0, "if_text") == "Journeys + Mail Studio"
        assert table.value_at(0, "confidence_text") == "71%"
        assert str(screen.query_one("#rules-count").content) == "4 of 4 rules · by lift"
        assert explained(screen) == (
            "Of the 100 accounts with Journeys and Mail Studio, 71% also own Automation — 2.4x the base rate."
        )
        await pilot.press("down")
        await pilot.pause()
        assert explained(screen).startswith(
            "Of the 50 accounts with Automation, 20% also own Contacts CRM and "
        )


async def test_s_cycles_the_sort_through_confidence_support_and_accounts(store: Store) -> None:
    app = make_app(store, as_of=AS_OF, now=lambda: NOW, recompute_job=RecordingJob())
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_rules(app, pilot)
        for key in ("confidence", "support", "count", "lift"):
            await pilot.press("s")
            await pilot.pause()
            values = screen.shown[key].astype(float).tolist()
            assert values == sorted(values, reverse=True), key
        assert str(screen.query_one("#rules-count").content).endswith("by lift")


async def test_tightening_filters_at_once_without_recomputing(store: Store) -> None:
    job = RecordingJob()
    app = make_app(store, as_of=AS_OF, now=lambda: NOW, recompute_job=job)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_rules(app, pilot)
        await set_input(pilot, screen, "confidence", "0.3")
        assert shown(screen) == [("JRN;MAIL", "AUTO"), ("MAIL", "JRN")]
        await set_input(pilot, screen, "lift", "1.5")
        assert shown(screen) == [("JRN;MAIL", "AUTO")]
        assert str(screen.query_one("#rules-count").content) == "1 of 4 rules · by lift"
        await set_input(pilot, screen, "lift", "abc")
        assert screen.query_one("#rules-lift", Input).has_class("-invalid")
        assert "must be a number" in str(screen.query_one("#rules-hint").content)
        assert shown(screen) == [("JRN;MAIL", "AUTO")]  # a typo keeps the last good filter
        await set_input(pilot, screen, "lift", "0")
        await set_input(pilot, screen, "confidence", "5%")
        assert len(shown(screen)) == 4
        screen.query_one("#rules-confidence", Input).focus()
        await pilot.press("enter")
        await pilot.pause()
        await app.workers.wait_for_complete()
        assert job.calls == []
        assert store.settings()["rules.min_confidence"] == 0.05


async def test_loosening_below_what_was_mined_saves_and_re_mines(store: Store) -> None:
    job = RecordingJob()
    app = make_app(store, as_of=AS_OF, now=lambda: NOW, recompute_job=job)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_rules(app, pilot)
        await set_input(pilot, screen, "support", "0.0005")
        assert "Below what was mined: support 0.0005 (mined at 0.001)" in str(
            screen.query_one("#rules-hint").content
        )
        assert store.settings()["rules.min_support"] == 0.001  # nothing saved until Enter
        screen.query_one("#rules-support", Input).focus()
        await pilot.press("enter")
        await pilot.pause()
        await app.workers.wait_for_complete()
        await pilot.pause()
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert store.settings()["rules.min_support"] == 0.0005
        assert len(job.calls) == 1 and job.calls[0]["rules.min_support"] == 0.0005
        assert screen.data is not None and screen.data.mined["support"] == 0.0005  # reloaded after the run
        assert screen.query_one("#rules-support", Input).value == "0.0005"


async def test_segment_switch_shows_that_segments_rules(store: Store) -> None:
    app = make_app(store, as_of=AS_OF, now=lambda: NOW, recompute_job=RecordingJob())
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_rules(app, pilot)
        await pilot.press("g")
        await pilot.pause()
        assert screen.segment == "enterprise"
        assert shown(screen) == [("MAIL", "AUTO")]
        assert explained(screen) == (
            "Of the 67 enterprise accounts with Mail Studio, 60% also own Automation — 1.9x the base rate."
        )
        await pilot.press("g")
        await pilot.pause()
        assert shown(screen) == [] and explained(screen) == "No rule at these minimums."


def test_rule_sentence_and_threshold_parsing() -> None:
    rule = {"antecedents": "AUTO", "consequents": "CRM;JRN", "confidence": 0.2, "count": 10, "lift": 1.8}
    assert rule_sentence(rule, NAMES) == (
        "Of the 50 accounts with Automation, 20% also own Contacts CRM and Journeys — 1.8x the base rate."
    )
    hostile = rule_sentence({**rule, "antecedents": "X"}, {**NAMES, "X": "[b]Evil[/b]\x1b"}, "smb")
    assert hostile.startswith("Of the 50 smb accounts with [b]Evil[/b]\ufffd,")
    assert parse_threshold("confidence", "5%") == pytest.approx(0.05)
    assert parse_threshold("lift", "12") == 12.0
    for name, text in (("support", "2"), ("confidence", "-0.1"), ("lift", "nan"), ("support", "")):
        with pytest.raises(ValueError):
            parse_threshold(name, text)


def test_columns_fit_the_width() -> None:
    for width in (80, 100, 120, 160):
        columns = rule_columns(width)
        assert sum(c.width + 2 for c in columns) <= width
        assert ("leverage_text" in {c.key for c in columns}) == (width >= 100)


def test_empty_rules_frame_loads(tmp_path: Path) -> None:
    from tui.screens.rules import load_rules, rule_rows

    store = build_store(tmp_path / "bare.db", results=False)
    data = load_rules(store)
    table, ordered = rule_rows(data.rules, data.names)
    assert table.num_rows == 0 and isinstance(ordered, pd.DataFrame)
    assert data.mined == {"support": 0.001, "confidence": 0.05, "lift": 0.0}
