"""The settings screen: every setting shown, edited with inline validation, reset, saved at once, recomputed."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from seed_b import AS_OF, NOW, build_store
from textual.widgets import DataTable, Input

from core.settings import DEFAULTS
from core.store import Store
from tui.app import make_app
from tui.screens import settings as settings_screen
from tui.screens.settings import SettingRow, SettingsScreen, parse_setting, setting_rows, show_value


class RecordingJob:
    def __init__(self) -> None:
        self.calls: list[dict] = []

    def __call__(self, store: Store, as_of: date, progress) -> None:
        self.calls.append(store.settings())


@pytest.fixture
def store(tmp_path: Path, monkeypatch) -> Store:
    monkeypatch.setattr(settings_screen, "RECOMPUTE_DELAY", 0.01)
    return build_store(tmp_path / "store.db")


async def settle(app, pilot) -> None:
    await pilot.pause()
    await app.workers.wait_for_complete()
    await pilot.pause()


async def open_settings(app, pilot) -> SettingsScreen:
    await settle(app, pilot)
    await pilot.press("5")
    await pilot.pause()
    assert isinstance(app.screen, SettingsScreen)
    return app.screen


async def go_to(pilot, screen: SettingsScreen, row_key: str) -> None:
    table = screen.query_one(DataTable)
    table.move_cursor(row=table.get_row_index(row_key))
    table.focus()
    await pilot.pause()


def cell(screen: SettingsScreen, row_key: str, column: str) -> str:
    return str(screen.query_one(DataTable).get_cell(row_key, column))


async def edit(pilot, screen: SettingsScreen, row_key: str, text: str) -> None:
    await go_to(pilot, screen, row_key)
    await pilot.press("enter")
    await pilot.pause()
    field = screen.query_one("#settings-input", Input)
    assert field.has_focus
    field.value = text
    await pilot.press("enter")
    await pilot.pause()


async def test_every_setting_is_listed_with_value_and_default(store: Store) -> None:
    store.set_setting("todos.daily_cap", 10)
    app = make_app(store, as_of=AS_OF, now=lambda: NOW, recompute_job=RecordingJob())
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_settings(app, pilot)
        table = screen.query_one(DataTable)
        assert table.row_count == len(setting_rows())
        assert cell(screen, "todos.daily_cap", "value") == "10 ●"
        assert cell(screen, "todos.daily_cap", "default") == "15"
        assert cell(screen, "risk.weights\x1fusage_trend", "value") == "25"
        assert (
            cell(screen, "rules.min_support", "help")
            == "a rule's itemset must be owned by at least this fraction of all accounts"
        )
        store.set_setting("rules.min_support", 0.002)  # as the rules screen does
        await pilot.press("1", "5")
        await pilot.pause()
        assert cell(screen, "rules.min_support", "value") == "0.002 ●"
        await go_to(pilot, screen, "rules.min_count")
        assert "Association rules and affinity › rules.min_count" in str(
            screen.query_one("#settings-info").content
        )


async def test_edit_saves_at_once_and_recomputes_in_the_background(store: Store) -> None:
    job = RecordingJob()
    app = make_app(store, as_of=AS_OF, now=lambda: NOW, recompute_job=job)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_settings(app, pilot)
        await edit(pilot, screen, "todos.daily_cap", "12")
        assert store.settings()["todos.daily_cap"] == 12
        assert cell(screen, "todos.daily_cap", "value") == "12 ●"
        assert not screen.query_one("#settings-editor").display
        await pilot.pause(0.05)
        await settle(app, pilot)
        assert len(job.calls) == 1 and job.calls[0]["todos.daily_cap"] == 12
        await edit(pilot, screen, "risk.weights\x1fusage_trend", "30")
        weights = store.settings()["risk.weights"]
        assert weights["usage_trend"] == 30 and weights["sentiment"] == 15
        await edit(pilot, screen, "pricing.credit_rates", '{"MAIL": 2.5}')
        assert store.settings()["pricing.credit_rates"] == {"MAIL": 2.5}
        await edit(pilot, screen, "ui.theme", "textual-light")
        assert store.settings()["ui.theme"] == "textual-light"
        await pilot.pause(0.05)
        await settle(app, pilot)
        assert len(job.calls) == 3  # one per analysis edit; the theme needs no recompute
        assert job.calls[-1]["pricing.credit_rates"] == {"MAIL": 2.5}


async def test_bad_values_are_refused_inline_and_not_saved(store: Store) -> None:
    job = RecordingJob()
    app = make_app(store, as_of=AS_OF, now=lambda: NOW, recompute_job=job)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_settings(app, pilot)
        for key, text, message in (
            ("todos.daily_cap", "abc", "Type a whole number"),
            ("pricing.credit_rates", "[1, 2]", "JSON object"),
            ("ui.theme", "no-such-theme", "Unknown theme"),
        ):
            await edit(pilot, screen, key, text)
            error = str(screen.query_one("#settings-error").content)
            assert error.startswith("Not saved") and message in error, (key, error)
            assert screen.query_one("#settings-input", Input).has_class("-invalid")
            assert screen.query_one("#settings-editor").display
            await pilot.press("escape")
            await pilot.pause()
            assert not screen.query_one("#settings-editor").display
        assert store.query("SELECT * FROM settings WHERE key != 'ui.theme'").empty
        assert job.calls == []


async def test_reset_to_default(store: Store) -> None:
    store.set_setting("todos.daily_cap", 9)
    store.set_setting("risk.weights", {"usage_trend": 40, "sentiment": 1})
    app = make_app(store, as_of=AS_OF, now=lambda: NOW, recompute_job=RecordingJob())
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_settings(app, pilot)
        await go_to(pilot, screen, "todos.daily_cap")
        await pilot.press("x")
        await pilot.pause()
        assert store.settings()["todos.daily_cap"] == 15
        assert store.scalar("SELECT count(*) FROM settings WHERE key = 'todos.daily_cap'") == 0
        assert cell(screen, "todos.daily_cap", "value") == "15"
        await go_to(pilot, screen, "risk.weights\x1fusage_trend")
        await pilot.press("x")
        await pilot.pause()
        assert store.settings()["risk.weights"]["usage_trend"] == 25
        assert store.settings()["risk.weights"]["sentiment"] == 1  # the other weight keeps its change
        await go_to(pilot, screen, "risk.weights\x1fsentiment")
        await pilot.press("x")
        await pilot.pause()
        assert store.scalar("SELECT count(*) FROM settings WHERE key = 'risk.weights'") == 0


def test_rows_cover_every_default_and_values_round_trip() -> None:
    rows = setting_rows()
    assert {row.key for row in rows} == set(DEFAULTS)
    assert all(row.help for row in rows), "every setting says what it does"
    assert sum(1 for row in rows if row.key == "risk.weights") == len(DEFAULTS["risk.weights"])
    settings = dict(DEFAULTS)
    for row in rows:
        if row.key in ("as_of", "ui.todo_owner"):
            continue
        text = show_value(row.current(settings))
        assert parse_setting(row, text, settings, {"textual-dark"}) == (
            settings[row.key] if row.sub else row.current(settings)
        ), row.label


def test_parse_setting_types() -> None:
    settings = dict(DEFAULTS)
    assert parse_setting(SettingRow("todos.daily_cap"), " 20 ", settings) == 20
    assert parse_setting(SettingRow("as_of"), "", settings) is None
    assert parse_setting(SettingRow("as_of"), "2025-01-31", settings) == "2025-01-31"
    merged = parse_setting(SettingRow("expansion.weights", "readiness"), "12.5", settings)
    assert (
        merged["readiness"] == 12.5 and merged["suggestions"] == DEFAULTS["expansion.weights"]["suggestions"]
    )
    for key, text, message in (
        ("todos.daily_cap", "1.5", "whole number"),
        ("todos.daily_cap", "0", "1 or more"),
        ("quadrant.risk_threshold", "-5", "0 or more"),
        ("rules.min_support", "inf", "finite"),
        ("pricing.credit_rates", '{"MAIL": "x"}', "number"),
        ("as_of", "yesterday", "YYYY-MM-DD"),
        ("pricing.currency", "", "Type a value"),
    ):
        with pytest.raises(ValueError, match=message):
            parse_setting(SettingRow(key), text, settings)
