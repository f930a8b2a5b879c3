"""Portfolio: the manager's view of the whole book — headline tiles, charts, owners, and how far to trust it."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual import events, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, Horizontal, HorizontalScroll, Vertical, VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static, Tabs
from textual_plotext import PlotextPlot

from core.frames import QUADRANTS
from tui.formatting import format_money, format_pct
from tui.messages import RecomputeFinished
from tui.widgets.app_header import AppHeader
from tui.widgets.attach_heatmap import AttachHeatmap
from tui.widgets.metric_tile import MetricTile
from tui.widgets.segment_tabs import SegmentTabs
from tui.widgets.user_text import user_text
from tui.worker_results import post_if_current

NOT_COMPUTED = "not computed yet — press r to recompute"
TILES = (
    ("accounts", "Accounts"),
    ("arr", "ARR"),
    ("ppc", "Products/customer"),
    ("multi", "Multi-product"),
    ("second", "To 2nd product"),
    ("churn", "Gross churn 12m"),
    ("nrr", "NRR 12m"),
    ("renew30", "Renewing ≤30d"),
    ("renew90", "Renewing ≤90d"),
    ("risk", "ARR at risk"),
)
RENEWAL_TILES = {
    "renew30": ("renewal_arr_30d", "ARR up for renewal"),
    "renew90": ("renewal_arr_90d", "ARR up for renewal"),
    "risk": ("renewal_arr_at_risk_90d", "≤90d renewals, high risk"),
}
TILE_METRICS = {
    "accounts",
    "arr",
    "products_per_customer_mean",
    "products_per_customer_median",
    "multi_product_revenue_share",
    "gross_churn_rate_single",
    "gross_churn_rate_multi",
    "nrr_single",
    "nrr_multi",
    "time_to_second_product_days_median",
    *(metric for metric, _ in RENEWAL_TILES.values()),
}
QUADRANT_COLOURS = {"fix-and-expand": "orange", "rescue": "red", "expand": "green", "nurture": "blue"}
SCATTER_POINTS = 2000
TILE_MIN_WIDTH = 23  # room for the longest tile title, "Products/customer", inside its border
TILE_HEIGHT = 5


@dataclass
class PortfolioData:
    """Every table the screen draws, read off the UI thread."""

    metrics: pd.DataFrame
    attach: pd.DataFrame
    scores: pd.DataFrame
    second: pd.DataFrame
    owners: pd.DataFrame
    roles: pd.DataFrame
    trust: pd.DataFrame
    names: dict[str, str] = field(default_factory=dict)
    currency: str = "USD"
    thresholds: tuple[float, float] = (50.0, 50.0)


def metric_text(name: str, value: float, currency: str) -> str:
    """A portfolio metric with its unit: rates and shares in %, NRR in %, ARR in money, days, counts."""
    words = set(name.split("_"))
    if words & {"rate", "share"} or name.startswith("nrr"):
        return format_pct(value, 1)
    if "arr" in words:
        return format_money(value, currency)
    if "days" in words:
        return f"{value:,.0f} days"
    return f"{value:,.0f}" if value == int(value) else f"{value:,.2f}"


def load_portfolio(store: Any) -> PortfolioData:
    """Read the portfolio, attach, scores (with segment), owner, role and trust tables."""
    settings = store.settings()
    scores = pd.DataFrame(columns=["risk", "expansion", "quadrant", "segment"])
    if store.has_table("scores"):
        scores = store.query(  # customers only: a churned account keeps a score but is in no quadrant
            "SELECT s.risk, s.expansion, s.quadrant, a.segment FROM scores s "
            "LEFT JOIN accounts a ON a.account_id = s.account_id WHERE EXISTS ("
            "SELECT 1 FROM subscriptions x WHERE x.account_id = s.account_id AND x.status = 'active')"
        )
    second = pd.DataFrame(columns=["first_date", "days", "segment"])
    if store.has_table("time_to_second"):
        second = store.query(
            "SELECT t.first_date, t.days, a.segment FROM time_to_second t "
            "LEFT JOIN accounts a ON a.account_id = t.account_id WHERE t.days IS NOT NULL"
        )
    products = store.query("SELECT product_id, name FROM products")
    return PortfolioData(
        metrics=store.result("portfolio"),
        attach=store.result("attach"),
        scores=scores,
        second=second,
        owners=store.result("owner_book"),
        roles=store.result("product_roles"),
        trust=store.result("model_metrics"),
        names=dict(zip(products["product_id"].astype(str), products["name"].astype(str), strict=True)),
        currency=str(settings.get("pricing.currency") or "USD"),
        thresholds=(
            float(settings.get("quadrant.risk_threshold", 50)),
            float(settings.get("quadrant.expansion_threshold", 50)),
        ),
    )


def metric_values(metrics: pd.DataFrame, segment: str) -> dict[str, float]:
    """``{metric: value}`` for one segment (NaN values dropped)."""
    if metrics.empty:
        return {}
    rows = metrics[metrics["segment"].fillna("all") == segment]
    return {
        str(m): float(v)
        for m, v in zip(rows["metric"], rows["value"], strict=True)
        if v is not None and not (isinstance(v, float) and math.isnan(v))
    }


def histogram_counts(values: dict[str, float]) -> list[tuple[str, float]]:
    """``products_per_customer_N`` metrics as (label N, accounts), in order of N."""
    prefix = "products_per_customer_"
    pairs = []
    for name, value in values.items():
        tail = name.removeprefix(prefix)
        if name.startswith(prefix) and tail.rstrip("+").isdigit():
            pairs.append((int(tail.rstrip("+")), tail, value))
    return [(label, value) for _, label, value in sorted(pairs)]


def bars(plt: Any, labels: list[str], values: list[float], colour: str, width: int) -> None:
    """A bar chart whose x labels never crowd: plotext orders crowded labels by string hash, so a chart
    with too many would differ from run to run. Shows every k-th label, enough to fit ``width``."""
    positions = list(range(1, len(labels) + 1))
    plt.bar(positions, values, color=colour, width=0.6)  # a gap between bars, also when there are many
    room = max((width or 56) - 8, 10)
    widest = max((len(label) for label in labels), default=1) + 3
    step = max(1, math.ceil(len(labels) * widest / room))
    plt.xticks(positions[::step], labels[::step])


def integer_ticks(top: float, count: int = 5) -> list[int]:
    """Whole-number axis ticks from 0 to at least ``top`` (account counts are never fractional)."""
    step = max(1, math.ceil(top / count))
    return list(range(0, int(top) + step + 1, step))


COHORT_PREFIX = "time_to_second_product_days_median_"


def metric_cohorts(values: dict[str, float]) -> list[tuple[str, float, int]]:
    """``time_to_second_product_days_median_<cohort>`` metrics as (cohort, median days, 0), oldest first."""
    found = [
        (name.removeprefix(COHORT_PREFIX), value)
        for name, value in values.items()
        if name.startswith(COHORT_PREFIX)
    ]
    return [(cohort, value, 0) for cohort, value in sorted(found)]


def cohort_medians(second: pd.DataFrame, segment: str) -> list[tuple[str, float, int]]:
    """Median days to a second product by cohort of first purchase: (cohort, median days, accounts)."""
    if second.empty:
        return []
    frame = second if segment == "all" else second[second["segment"] == segment]
    dates = pd.to_datetime(frame["first_date"], errors="coerce")
    frame = frame.assign(first=dates).dropna(subset=["first"])
    if frame.empty:
        return []
    years = frame["first"].dt.year
    if years.nunique() <= 3:
        cohort = (years % 100).astype(str).str.zfill(2) + "Q" + frame["first"].dt.quarter.astype(str)
    else:
        cohort = years.astype(str)
    grouped = frame.assign(cohort=cohort).groupby("cohort")["days"]
    return [
        (str(c), float(m), int(n)) for (c, m), n in zip(grouped.median().items(), grouped.size(), strict=True)
    ]


def trust_panel(trust: pd.DataFrame) -> Group:
    """Backtest hit rates beside the popularity baseline, and the risk score's AUC, each with its sample."""
    values = (
        {}
        if trust.empty
        else {
            str(n): (None if v is None or (isinstance(v, float) and math.isnan(v)) else float(v), str(d))
            for n, v, d in zip(trust["name"], trust["value"], trust["detail"], strict=True)
        }
    )

    def value(name: str) -> float | None:
        return values.get(name, (None, ""))[0]

    parts: list = [Text("How far to trust this", style="bold underline")]
    buyers, evaluated, months = (
        value("backtest.buyers"),
        value("backtest.accounts_evaluated"),
        value("backtest.months"),
    )
    if value("backtest.hit_rate_at_1") is None and value("backtest.hit_rate_at_3") is None:
        parts.append(
            Text("Suggestions: not measured yet — no backtest has been run on this store.", style="yellow")
        )
    else:
        window = f"the last {months:.0f} months" if months else "a past period"
        sample = f"{buyers:,.0f} accounts that bought" if buyers is not None else "an unknown sample"
        if evaluated is not None:
            sample += f", of {evaluated:,.0f} evaluated"
        parts.append(
            Text(f"Suggestions replayed over {window}: did the account buy what we suggested? ({sample})")
        )
        table = Table(box=None, padding=(0, 2), show_header=True, header_style="bold")
        table.add_column("")
        table.add_column("Our suggestions", justify="right")
        table.add_column("Most popular products", justify="right")
        table.add_column("Lift", justify="right")
        for label, key in (
            ("Top suggestion bought", "hit_rate_at_1"),
            ("Any of the top 3 bought", "hit_rate_at_3"),
            ("Share of the top 3 bought", "precision_at_3"),
        ):
            model, base = value(f"backtest.{key}"), value(f"backtest.baseline_{key}")
            if model is None and base is None:
                continue
            lift = f"{model / base:.1f}x" if model is not None and base else "—"
            table.add_row(label, format_pct(model), format_pct(base), lift)
        parts.append(table)
    parts += risk_lines(values)
    return Group(*parts)


AUC_LABELS = {
    "risk.auc_hand": "Risk score (our weights)",
    "risk.auc_logit_cv": "A fitted logistic model (cross-validated)",
}


def auc_verdict(auc: float) -> str:
    if auc >= 0.75:
        return "good"
    if auc >= 0.65:
        return "fair"
    return "weak" if auc > 0.55 else "no better than chance"


def risk_lines(values: dict[str, tuple[float | None, str]]) -> list[Text]:
    """The risk score's AUC on past churn (and a fitted model's, for comparison), with the sample."""
    names = [k for k in values if k.startswith("risk.") and "auc" in k and not k.endswith("_folds")]
    names.sort(key=lambda k: (k not in AUC_LABELS, k))
    n, positives = values.get("risk.n", (None, ""))[0], values.get("risk.positives", (None, ""))[0]
    note = values.get("risk.note", (None, ""))[1]
    if not names or all(values[k][0] is None for k in names):
        why = f": {note}" if note and note != "None" else " — no AUC on past churn yet"
        return [Text(f"Risk score: not measured{why}.", style="yellow")]
    lines = [Text("Does the risk score rank the accounts that later churned first? (AUC on past churn)")]
    for name in names:
        auc = values[name][0]
        label = AUC_LABELS.get(name, name.removeprefix("risk.").replace("_", " "))
        if auc is None:
            lines.append(Text(f"  {label}: not measured", style="yellow"))
        else:
            lines.append(Text(f"  {label}: {auc:.2f} ({auc_verdict(auc)}; 0.5 = chance, 1 = perfect)"))
    if n is not None:
        churned = f", {positives:,.0f} of which churned" if positives is not None else ""
        lines.append(Text(f"  sample: {n:,.0f} accounts{churned}", style="dim"))
    return lines


class PortfolioScreen(Screen):
    """Tiles, charts and tables for one segment; attach, owners, roles and trust cover the whole book."""

    CSS_PATH = "portfolio.tcss"
    BINDINGS = [Binding("g", "next_segment", "Segment")]

    class Loaded(Message):
        def __init__(self, data: PortfolioData | None, error: str = "") -> None:
            super().__init__()
            self.data = data
            self.error = error

    def __init__(self) -> None:
        super().__init__()
        self.data: PortfolioData | None = None

    def compose(self) -> ComposeResult:
        yield AppHeader()
        yield SegmentTabs(id="portfolio-segment")
        with VerticalScroll(id="portfolio-body"):
            yield Static("", id="portfolio-empty", classes="empty-state", markup=False)
            with Grid(id="portfolio-tiles"):
                for key, label in TILES:
                    yield MetricTile(label, id=f"tile-{key}")
            with Horizontal(classes="portfolio-row"):
                yield PlotextPlot(id="portfolio-histogram", classes="portfolio-chart")
                yield PlotextPlot(id="portfolio-second", classes="portfolio-chart")
            with HorizontalScroll(id="portfolio-attach-box", classes="portfolio-box"):
                yield AttachHeatmap(id="portfolio-attach")
            yield PlotextPlot(id="portfolio-scatter", classes="portfolio-chart")
            with Vertical(id="portfolio-tables"):
                yield DataTable(id="portfolio-owners", cursor_type="row", zebra_stripes=True)
                yield Static("", id="portfolio-roles", classes="portfolio-box")
            yield Static("", id="portfolio-trust")
            yield Static("", id="portfolio-more")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#portfolio-attach-box").border_title = "Attach rates (all accounts)"
        self.query_one("#portfolio-owners").border_title = "Owners (all accounts)"
        self.query_one("#portfolio-roles").border_title = "Product roles"
        self.query_one("#portfolio-body").focus()
        self.reload()

    @work(thread=True, exclusive=True, exit_on_error=False, group="portfolio-load")
    def reload(self) -> None:
        try:
            post_if_current(self, self.Loaded(load_portfolio(self.app.store)))
        except Exception as error:
            post_if_current(self, self.Loaded(None, f"{type(error).__name__}: {error}"))

    def on_portfolio_screen_loaded(self, message: Loaded) -> None:
        if message.data is None:
            self.notify(f"Could not read the portfolio: {message.error}", severity="error")
            return
        self.data = message.data
        self._draw_book_wide()
        self._draw_segment()

    def on_recompute_finished(self, message: RecomputeFinished) -> None:
        self.reload()

    def on_resize(self, event: events.Resize) -> None:
        """Fewer tiles a row on a narrow terminal, so no tile title is cut short."""
        columns = max(2, min(len(TILES) // 2, event.size.width // TILE_MIN_WIDTH))
        tiles = self.query_one("#portfolio-tiles", Grid)
        tiles.styles.grid_size_columns = columns
        tiles.styles.height = math.ceil(len(TILES) / columns) * TILE_HEIGHT

    @property
    def segment(self) -> str:
        return self.query_one(SegmentTabs).segment

    def action_next_segment(self) -> None:
        self.query_one(SegmentTabs).cycle()

    def on_tabs_tab_activated(self, event: Tabs.TabActivated) -> None:
        if self.data is not None:
            self._draw_segment()

    # -- per segment -----------------------------------------------------------------------------------

    def _draw_segment(self) -> None:
        data = self.data
        assert data is not None
        values = metric_values(data.metrics, self.segment)
        empty = self.query_one("#portfolio-empty", Static)
        empty.display = not values
        empty.update(f"No portfolio figures for this segment: {NOT_COMPUTED}." if not values else "")
        self._draw_tiles(values, data.currency)
        self._draw_histogram(values)
        self._draw_second()
        self._draw_scatter()
        self._draw_more(values)

    def _tile(self, key: str, value: str | None, context: str = "") -> None:
        tile = self.query_one(f"#tile-{key}", MetricTile)
        if value is None:
            tile.set("—", "not computed", missing=True)
        else:
            tile.set(value, context)

    def _draw_tiles(self, values: dict[str, float], currency: str) -> None:
        get = values.get

        def pair(multi: str, single: str, fmt) -> str | None:
            if get(multi) is None and get(single) is None:
                return None
            return f"{fmt(get(multi))} vs {fmt(get(single))}"

        self._tile(
            "accounts", None if get("accounts") is None else f"{get('accounts'):,.0f}", "active customers"
        )
        share = get("multi_product_revenue_share")
        self._tile(
            "arr",
            None if get("arr") is None else format_money(get("arr"), currency),
            "" if share is None else f"{format_pct(share)} from 2+ products",
        )
        mean, median = get("products_per_customer_mean"), get("products_per_customer_median")
        self._tile(
            "ppc",
            None if mean is None else f"{mean:.2f}",
            "mean" + ("" if median is None else f" · median {median:g}"),
        )
        self._tile("multi", None if share is None else format_pct(share), "of ARR from 2+ products")
        days = get("time_to_second_product_days_median")
        self._tile("second", None if days is None else f"{days:,.0f} days", "median, 1st to 2nd buy")
        self._tile(
            "churn",
            pair("gross_churn_rate_multi", "gross_churn_rate_single", lambda v: format_pct(v, 1)),
            "2+ products vs 1",
        )
        self._tile("nrr", pair("nrr_multi", "nrr_single", format_pct), "2+ products vs 1")
        for key, (metric, context) in RENEWAL_TILES.items():
            value = get(metric)
            self._tile(key, None if value is None else format_money(value, currency), context)

    def _draw_histogram(self, values: dict[str, float]) -> None:
        plot = self.query_one("#portfolio-histogram", PlotextPlot)
        plt = plot.plt
        plt.clear_data()
        plt.clear_figure()
        counts = histogram_counts(values)
        plt.title("Customers by number of products")
        if counts:
            bars(plt, [label for label, _ in counts], [v for _, v in counts], "cyan", plot.size.width)
            plt.yticks(integer_ticks(max(v for _, v in counts)))
            plt.xlabel("products held")
        else:
            plt.title(f"Products per customer: {NOT_COMPUTED}")
        plot.refresh()

    def _draw_second(self) -> None:
        plot = self.query_one("#portfolio-second", PlotextPlot)
        plt = plot.plt
        plt.clear_data()
        plt.clear_figure()
        cohorts = metric_cohorts(metric_values(self.data.metrics, self.segment)) if self.data else []
        if not cohorts and self.data is not None:
            cohorts = cohort_medians(self.data.second, self.segment)
        if cohorts:
            plt.title("Median days to a 2nd product, by cohort")
            bars(plt, [c for c, _, _ in cohorts], [m for _, m, _ in cohorts], "magenta", plot.size.width)
        else:
            plt.title(f"Time to 2nd product by cohort: {NOT_COMPUTED}")
        plot.refresh()

    def _draw_scatter(self) -> None:
        plot = self.query_one("#portfolio-scatter", PlotextPlot)
        plt = plot.plt
        plt.clear_data()
        plt.clear_figure()
        scores = self.data.scores if self.data is not None else pd.DataFrame()
        if not scores.empty and self.segment != "all":
            scores = scores[scores["segment"] == self.segment]
        if scores.empty:
            plt.title(f"Risk x expansion: {NOT_COMPUTED}")
            plot.refresh()
            return
        total = len(scores)
        if total > SCATTER_POINTS:
            scores = scores.sample(SCATTER_POINTS, random_state=0)
        shown = f"{len(scores):,} of {total:,} customers" if len(scores) < total else f"{total:,} customers"
        plt.title(f"Risk (→) against expansion (↑), {shown}; lines at the quadrant thresholds")
        for quadrant in QUADRANTS:
            part = scores[scores["quadrant"] == quadrant]
            if len(part):
                plt.scatter(
                    part["risk"].astype(float).tolist(),
                    part["expansion"].astype(float).tolist(),
                    color=QUADRANT_COLOURS[quadrant],
                    label=quadrant,
                    marker="dot",
                )
        risk_line, expansion_line = self.data.thresholds
        plt.vline(risk_line, "gray")
        plt.hline(expansion_line, "gray")
        plt.xlim(0, 100)
        plt.ylim(0, 100)
        plot.refresh()

    def _draw_more(self, values: dict[str, float]) -> None:
        extra = {
            k: v
            for k, v in values.items()
            if k not in TILE_METRICS and not k.startswith(("products_per_customer_", COHORT_PREFIX))
        }
        more = self.query_one("#portfolio-more", Static)
        if not extra:
            more.display = False
            return
        table = Table(
            title="More figures", title_justify="left", title_style="bold", box=None, padding=(0, 2)
        )
        table.add_column("metric")
        table.add_column("value", justify="right")
        currency = self.data.currency if self.data is not None else "USD"
        for name, value in sorted(extra.items()):
            table.add_row(user_text(name.replace("_", " ")), metric_text(name, value, currency))
        more.display = True
        more.update(table)

    # -- whole book ------------------------------------------------------------------------------------

    def _draw_book_wide(self) -> None:
        data = self.data
        assert data is not None
        self.query_one(AttachHeatmap).show(data.attach, data.names)
        self._fill_owners(data.owners, data.currency)
        self._fill_roles(data.roles, data.names)
        self.query_one("#portfolio-trust", Static).update(trust_panel(data.trust))

    def _fill_owners(self, owners: pd.DataFrame, currency: str) -> None:
        table = self.query_one("#portfolio-owners", DataTable)
        table.clear(columns=True)
        if owners.empty:
            table.add_column("Owners")
            table.add_row(Text(NOT_COMPUTED, style="dim italic"))
            return
        columns = list(owners.columns)
        for column in columns:
            numeric = column != "owner"
            table.add_column(
                Text(column.replace("_", " "), justify="right" if numeric else "left"), key=column
            )
        for record in (
            owners.sort_values("arr", ascending=False).to_dict("records") if "arr" in owners else []
        ):
            cells = []
            for column in columns:
                value = record[column]
                if column == "owner":
                    cells.append(user_text(value))
                elif column == "arr":
                    cells.append(Text(format_money(value, currency), justify="right"))
                else:
                    cells.append(
                        Text("—" if value is None or value != value else f"{value:,.0f}", justify="right")
                    )
            table.add_row(*cells)

    def _fill_roles(self, roles: pd.DataFrame, names: dict[str, str]) -> None:
        box = self.query_one("#portfolio-roles", Static)
        if roles.empty:
            box.update(Text(NOT_COMPUTED, style="dim italic"))
            return
        table = Table(box=None, padding=(0, 1), expand=True, header_style="bold")
        table.add_column("product", no_wrap=True)
        table.add_column("role", no_wrap=True)
        table.add_column("why", ratio=1)
        for record in roles.to_dict("records"):
            product = str(record.get("product_id"))
            table.add_row(
                user_text(names.get(product, product)),
                user_text(record.get("role"), "bold"),
                user_text(record.get("reason")),
            )
        box.update(table)
