"""The portfolio screen: tiles, charts and tables from the result tables, per segment, and honest about gaps."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from rich.console import Console
from seed_b import AS_OF, NOW, build_store, stub_recompute
from textual.widgets import DataTable

from core.store import Store
from tui.app import make_app
from tui.screens.portfolio import (
    PortfolioScreen,
    cohort_medians,
    histogram_counts,
    integer_ticks,
    metric_cohorts,
    metric_text,
    metric_values,
    trust_panel,
)
from tui.widgets.attach_heatmap import cell_colour, heatmap_table
from tui.widgets.metric_tile import MetricTile


def plain(renderable, width: int = 120) -> str:
    console = Console(width=width, record=True, color_system=None, legacy_windows=False)
    console.print(renderable)
    return console.export_text()


async def open_portfolio(app, pilot) -> PortfolioScreen:
    await pilot.pause()
    await app.workers.wait_for_complete()
    await pilot.press("3")
    await pilot.pause()
    await app.workers.wait_for_complete()
    await pilot.pause()
    assert isinstance(app.screen, PortfolioScreen)
    return app.screen


def tile(screen: PortfolioScreen, key: str) -> str:
    return plain(screen.query_one(f"#tile-{key}", MetricTile).content, 40)


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return build_store(tmp_path / "store.db")


async def test_tiles_charts_and_tables_for_all_accounts(store: Store) -> None:
    app = make_app(store, as_of=AS_OF, now=lambda: NOW, recompute_job=stub_recompute)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_portfolio(app, pilot)
        assert tile(screen, "accounts").startswith("8\n")
        assert "$750,400" in tile(screen, "arr") and "74% from 2+ products" in tile(screen, "arr")
        assert "1.90" in tile(screen, "ppc") and "median 2" in tile(screen, "ppc")
        assert "6.0% vs 18.0%" in tile(screen, "churn")
        assert "112% vs 94%" in tile(screen, "nrr")
        assert "142 days" in tile(screen, "second")
        assert "$120,000" in tile(screen, "renew30") and "$180,000" in tile(screen, "risk")
        owners = screen.query_one("#portfolio-owners", DataTable)
        assert owners.row_count == 3
        assert str(owners.get_row_at(0)[0]) == "Alice Chen"  # largest ARR first
        roles = plain(screen.query_one("#portfolio-roles").content).splitlines()
        expected = [
            ("Mail Studio", "anchor"),
            ("Journeys", "attach"),
            ("Automation", "strategic"),
            ("Contacts CRM", "sunset"),
        ]
        assert [line.split("  ")[0].strip() for line in roles[1:]] == [name for name, _ in expected]
        assert all(role in line for line, (_, role) in zip(roles[1:], expected, strict=True))
        assert roles[1].rstrip().endswith("Bought first by 60% of customers.")
        trust = plain(screen.query_one("#portfolio-trust").content, 200)
        assert "Top suggestion bought" in trust and "31%" in trust and "18%" in trust and "1.7x" in trust
        assert "120 accounts that bought, of 760 evaluated" in trust
        assert "Risk score (our weights): 0.74 (fair" in trust
        assert "800 accounts, 41 of which churned" in trust
        assert (
            "Risk (→) against expansion (↑), 8 customers;"
            in screen.query_one("#portfolio-scatter").render().plain
        )
        histogram = screen.query_one("#portfolio-histogram").render().plain
        assert "Customers by number of products" in histogram and "products held" in histogram


async def test_scatter_leaves_out_accounts_that_churned_out(store: Store) -> None:
    with store.writing() as conn:
        conn.execute(
            "UPDATE subscriptions SET status = 'churned', churned_at = '2025-05-01' WHERE account_id = 'A08'"
        )
    app = make_app(store, as_of=AS_OF, now=lambda: NOW, recompute_job=stub_recompute)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_portfolio(app, pilot)
        assert "7 customers;" in screen.query_one("#portfolio-scatter").render().plain


async def test_segment_switch_redraws_the_segment_figures(store: Store) -> None:
    app = make_app(store, as_of=AS_OF, now=lambda: NOW, recompute_job=stub_recompute)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_portfolio(app, pilot)
        await pilot.press("g")
        await pilot.pause()
        assert screen.segment == "enterprise"
        assert tile(screen, "accounts").startswith("2\n")
        assert "$420,000" in tile(screen, "arr")
        assert "120% vs" in tile(screen, "nrr")
        assert tile(screen, "ppc").startswith("—") and "not computed" in tile(screen, "ppc")
        assert (
            "Risk (→) against expansion (↑), 2 customers;"
            in screen.query_one("#portfolio-scatter").render().plain
        )
        await pilot.press("g", "g")
        await pilot.pause()
        assert screen.segment == "smb"
        empty = screen.query_one("#portfolio-empty")
        assert empty.display and "No portfolio figures for this segment" in str(empty.content)
        await pilot.press("g")
        await pilot.pause()
        assert screen.segment == "all" and not screen.query_one("#portfolio-empty").display


async def test_not_computed_store_says_so_everywhere(tmp_path: Path) -> None:
    store = build_store(tmp_path / "bare.db", results=False)
    app = make_app(store, as_of=AS_OF, now=lambda: NOW, recompute_job=stub_recompute)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_portfolio(app, pilot)
        assert "not computed" in tile(screen, "arr")
        assert "press r to recompute" in str(screen.query_one("#portfolio-empty").content)
        assert "not computed yet" in plain(screen.query_one("#portfolio-attach").content)
        trust = plain(screen.query_one("#portfolio-trust").content)
        assert "Suggestions: not measured yet" in trust and "Risk score: not measured" in trust


def test_metric_helpers_against_hand_counts() -> None:
    metrics = pd.DataFrame(
        [
            ("products_per_customer_2", "all", 5.0),
            ("products_per_customer_1", "all", 7.0),
            ("products_per_customer_10+", "all", 1.0),
            ("arr", "smb", 9.0),
            ("nrr_multi", "all", float("nan")),
        ],
        columns=["metric", "segment", "value"],
    )
    values = metric_values(metrics, "all")
    assert "nrr_multi" not in values and "arr" not in values
    assert histogram_counts(values) == [("1", 7.0), ("2", 5.0), ("10+", 1.0)]
    assert integer_ticks(7) == [0, 2, 4, 6, 8]
    assert integer_ticks(3) == [0, 1, 2, 3, 4]
    second = pd.DataFrame(
        {
            "first_date": ["2023-01-05", "2023-02-01", "2023-04-01", "2024-01-01", None],
            "days": [10.0, 30.0, 5.0, 100.0, 1.0],
            "segment": ["smb", "smb", "enterprise", "smb", "smb"],
        }
    )
    assert cohort_medians(second, "all") == [("23Q1", 20.0, 2), ("23Q2", 5.0, 1), ("24Q1", 100.0, 1)]
    assert cohort_medians(second, "enterprise") == [("23Q2", 5.0, 1)]
    cohorts = {
        "time_to_second_product_days_median_2021": 40.0,
        "time_to_second_product_days_median_2019": 20.0,
        "time_to_second_product_days_median": 30.0,
    }
    assert metric_cohorts(cohorts) == [("2019", 20.0, 0), ("2021", 40.0, 0)]


def test_more_figures_carry_their_units() -> None:
    assert metric_text("logo_churn_rate_single", 0.2692, "USD") == "26.9%"
    assert metric_text("nrr", 1.206, "USD") == "120.6%"
    assert metric_text("second_product_share", 0.628, "USD") == "62.8%"
    assert metric_text("quadrant_arr_rescue", 1825366.2, "EUR") == "€1,825,366"
    assert metric_text("time_to_second_product_days_median_2021", 70.0, "USD") == "70 days"
    assert metric_text("retention_accounts_single", 52.0, "USD") == "52"
    assert metric_text("products_per_customer_mean_2025Q1", 3.4942, "USD") == "3.49"


def test_trust_panel_is_plain_about_what_was_not_measured() -> None:
    trust = pd.DataFrame(
        [
            ("risk.auc_hand", None, "None"),
            ("risk.n", 40.0, "40"),
            ("risk.positives", 2.0, "2"),
            ("risk.note", None, "not enough churn history to measure: 2 of 40 accounts churned"),
        ],
        columns=["name", "value", "detail"],
    )
    text = plain(trust_panel(trust))
    assert "Risk score: not measured: not enough churn history to measure: 2 of 40" in text
    assert "Suggestions: not measured yet" in text


def test_heatmap_shows_rates_and_hostile_names_literally() -> None:
    attach = pd.DataFrame(
        [("A", "B", 10, 5, 0.5, ""), ("B", "A", 20, 5, 0.25, ""), ("A", "C", 10, 0, 0.0, "weak")],
        columns=["product_a", "product_b", "accounts_a", "accounts_both", "attach_rate", "label"],
    )
    text = plain(heatmap_table(attach, {"A": "[bold]Alpha[/]", "B": "Beta"}))
    lines = text.splitlines()
    assert lines[0].split()[-3:] == ["1", "2", "3"]  # most owners first: B, A, then C (never a row's product)
    assert lines[2].split() == ["2", "[bold]Alpha[/]", "50%", "·", "0%"]  # shown as typed, not as markup
    assert lines[1].split() == ["1", "Beta", "·", "25%", "—"]  # B's owners: itself; 25% own A; no B->C pair
    assert cell_colour(1.0).triplet.green > cell_colour(0.0).triplet.green


def test_bar_labels_thin_out_instead_of_crowding() -> None:
    from tui.screens.portfolio import bars

    class Recorder:
        def bar(self, x, y, color, width=None):
            self.x, self.y = x, y

        def xticks(self, ticks, labels):
            self.ticks, self.labels = ticks, labels

    plt = Recorder()
    years = [str(y) for y in range(2010, 2026)]
    bars(plt, years, list(range(16)), "cyan", 56)
    assert plt.x == list(range(1, 17))
    assert plt.labels == years[::3] and plt.ticks == list(
        range(1, 17, 3)
    )  # 16 labels x 7 cells in 48: every 3rd
    bars(plt, ["1", "2", "3"], [3, 2, 1], "cyan", 56)
    assert plt.labels == ["1", "2", "3"]
