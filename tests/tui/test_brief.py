"""The account brief: its figures by hand, the Rich print-out, the CLI command and the screen."""

from __future__ import annotations

import pytest
from conftest import AS_OF, make_test_app, settle
from rich.console import Console

from core.store import StoreError
from tui.brief_data import load_brief
from tui.brief_render import licensed_text, quadrant_kpi, text_sparkline
from tui.brief_text import render_brief


def test_kpis_and_products_counted_by_hand(seeded_store) -> None:
    brief = load_brief(seeded_store, "A01", AS_OF)
    k = brief.kpis
    assert k["arr"] == 96_000 and k["products"] == 3
    assert str(k["renewal_date"]) == "2025-09-01" and k["renewal_days"] == 63
    assert (k["risk"], k["expansion"], k["quadrant"]) == (72.0, 81.0, "fix-and-expand")
    crm = brief.products.set_index("product_id").loc["CRM"]
    assert crm["seats"] == 120 and crm["active_users"] == 99  # int(120 x (0.5 + 0.03 x 11))
    assert crm["utilisation"] == pytest.approx(99 / 120)
    assert len(crm["usage"]) == 12 and crm["usage"][0] == 60 and crm["usage"][-1] == 99
    assert brief.usage_months[0] == "2024-07" and brief.usage_months[-1] == "2025-06"
    assert crm["unit"] == "seat"


def test_licensed_column_reads_seats_units_or_flat() -> None:
    assert licensed_text(1200, "seat") == "1,200"
    assert licensed_text(40, "usage") == "40 units"
    assert licensed_text(1, "flat") == "flat"


def test_breakdowns_and_what_moved_against_the_previous_recompute(seeded_store) -> None:
    brief = load_brief(seeded_store, "A01", AS_OF)
    risk = brief.risk.set_index("component")
    assert list(brief.risk["component"]) == ["usage_trend", "renewal_proximity", "sentiment"]  # biggest first
    assert risk.loc["usage_trend", "change"] == 8 and risk.loc["renewal_proximity", "change"] == 1
    assert risk["change"].isna()["sentiment"]  # new this time
    assert brief.moved[:2] == ["Risk score up 15 pts overall", "Expansion score up 16 pts overall"]
    assert "Risk · usage trend up 8 pts (now 20)" in brief.moved
    assert "Risk · renewal proximity up 1 pt (now 9)" in brief.moved


def test_contacts_suggestions_timeline_todos_and_notes(seeded_store) -> None:
    brief = load_brief(seeded_store, "A01", AS_OF)
    assert list(brief.contacts["role"]) == ["decision_maker", "champion"] and not brief.missing_decision_maker
    assert load_brief(seeded_store, "A02", AS_OF).missing_decision_maker
    assert list(brief.suggestions["product_name"]) == ["Automation", "Analytics"]
    assert list(brief.timeline["kind"]) == ["qbr", "ticket", "nps"]  # newest first, NPS included
    assert list(brief.todos["todo_id"]) == ["T1", "T3"]  # open and snoozed, not other accounts'
    assert brief.notes.iloc[0]["note"] == "Dana asked to wait for Q3 numbers"
    assert list(brief.pricing["option"]) == ["a-la-carte", "policy-bundle", "platform"]


def test_unknown_account_is_a_store_error(seeded_store) -> None:
    with pytest.raises(StoreError, match="no account 'NOPE'"):
        load_brief(seeded_store, "NOPE", AS_OF)


def test_text_sparkline_scales_to_the_maximum() -> None:
    assert text_sparkline([0, 5, 10]) == "▁▅█"
    assert text_sparkline([0, 0]) == "▁▁" and text_sparkline([]) == ""


def test_printed_brief_has_every_section_and_aligned_money(seeded_store) -> None:
    console = Console(width=110, record=True, color_system=None, file=open("/dev/null", "w"))  # noqa: SIM115
    render_brief(seeded_store, "A01", AS_OF, console)
    text = console.export_text()
    for heading in (
        "At a glance",
        "Products held",
        "Risk breakdown",
        "Expansion breakdown",
        "What moved",
        "Suggestions",
        "Bundle pricing",
        "Contacts",
        "Timeline",
        "Open to-dos",
        "Notes",
    ):
        assert heading in text
    assert "$96,000" in text and "$7,680" in text and "-$3,840" in text and "Marketing: no contact" in text
    assert "▅▅▆▆▆▇▇▇▇███" in text
    with pytest.raises(StoreError):
        render_brief(seeded_store, "NOPE", AS_OF, console)


def test_brief_command_prints_the_brief(seeded_store, capsys, monkeypatch) -> None:
    from tui.cli import main

    code = main(["--db", str(seeded_store.path), "brief", "A02", "--as-of", "2025-06-30", "--width", "100"])
    out = capsys.readouterr()
    assert code == 0
    assert "北京云图科技有限公司" in out.out and "No decision maker on file" in out.out
    monkeypatch.setenv("COLUMNS", "60")  # a narrow terminal, no --width
    narrow = main(["--db", str(seeded_store.path), "brief", "A02", "--as-of", "2025-06-30"])
    printed = capsys.readouterr().out
    assert narrow == 0 and "customer since" in printed  # long lines wrap at 60 columns, never cut off
    assert max(len(line) for line in printed.splitlines()) <= 60
    assert main(["--db", str(seeded_store.path), "brief", "NOPE"]) == 1
    assert "no account 'NOPE'" in capsys.readouterr().err


async def test_brief_screen_shows_kpis_sparklines_and_copies_as_text(seeded_store) -> None:
    from textual.widgets import Sparkline

    from tui.widgets.kpi import KpiTile

    app = make_test_app(seeded_store, start="accounts")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        app.open_account("A01")
        await settle(app, pilot)
        screen = app.screen
        assert type(screen).__name__ == "BriefScreen"
        tiles = {t.label: t.value for t in screen.query(KpiTile)}
        assert tiles == {
            "ARR": "$96,000",
            "Renewal": "2025-09-01",
            "Risk": "72/100",
            "Expansion": "81/100",
            "Quadrant": "fix-and-expand",
        }
        assert [list(s.data) for s in screen.query(Sparkline)][0][-1] == 99
        assert len(screen.query(".brief-section")) == 10
        await pilot.press("c")
        assert "Offer Automation" in app.clipboard and "Dana Smith" in app.clipboard
        await pilot.press("j", "k")
        app.open_account("A02")  # a second brief replaces the first
        await settle(app, pilot)
        assert app.screen.account_id == "A02" and len(app.screen_stack) == 2
        await pilot.press("escape")
        await pilot.pause()
        assert app.current_mode == "accounts" and len(app.screen_stack) == 1


async def test_the_loaded_brief_replaces_the_body_only(seeded_store, monkeypatch) -> None:
    """The header and the footer (a widget per key) are built once per brief, not again when it loads."""
    import threading

    from textual.widgets import Footer

    from tui.screens import brief as brief_screen
    from tui.widgets.app_header import AppHeader

    release = threading.Event()

    def held(*args):
        release.wait(10)
        return load_brief(*args)

    monkeypatch.setattr(brief_screen, "load_brief", held)
    app = make_test_app(seeded_store, start="accounts")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        app.open_account("A01")
        await pilot.pause()
        screen = app.screen
        assert screen.query_one("#brief-loading")  # the brief is still being read
        header, footer = screen.query_one(AppHeader), screen.query_one(Footer)
        release.set()
        await settle(app, pilot)
        assert screen.query_one("#brief-title") and not screen.query("#brief-loading")
        assert screen.query_one(AppHeader) is header and screen.query_one(Footer) is footer
        assert screen.focused is screen.query_one("#brief-body")


async def test_brief_screen_for_an_unknown_account_says_so(seeded_store) -> None:
    app = make_test_app(seeded_store, start="accounts")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        app.open_account("NOPE")
        await settle(app, pilot)
        assert "no account 'NOPE'" in str(app.screen.query_one("#brief-loading").content)


async def test_narrow_terminal_stacks_the_sections(seeded_store) -> None:
    app = make_test_app(seeded_store, start="accounts")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        app.open_account("A01")
        await settle(app, pilot)
        rows = app.screen.query(".brief-row")
        assert len(rows) == 6 and all(row.has_class("-narrow") for row in rows)
        # The sparkline header stays on one line, so each sparkline sits on its product's row.
        table = app.screen.query_one("#brief-products-table")
        first_spark = app.screen.query(".spark").first()
        assert app.screen.query_one(".spark-head").region.height == 1
        assert first_spark.region.y == table.region.y + 1  # the table's header row, then the first product


def test_an_account_without_products_reads_churned_not_its_old_quadrant() -> None:
    assert quadrant_kpi("nurture", 0)[1:3] == ("churned", "no active product")
    assert quadrant_kpi("rescue", 2)[1] == "rescue"
    assert quadrant_kpi(None, 2)[2] == "not computed yet"
