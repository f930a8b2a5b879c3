"""The account brief's sections as Rich renderables, shared by the screen and ``quadrant brief``.

Rich measures text in terminal cells, so CJK and accented names line up in
every table here.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from tui.brief_data import ROLE_LABELS, AccountBrief
from tui.formatting import MISSING, format_date, format_days, format_money, format_pct, format_score
from tui.widgets.user_text import clean

QUADRANT_STYLES = {
    "fix-and-expand": "bold yellow",
    "rescue": "bold red",
    "expand": "bold green",
    "nurture": "bold blue",
}
SENTIMENT_STYLES = {"positive": "green", "negative": "red", "neutral": "dim"}
BARS = "▁▂▃▄▅▆▇█"
NOT_COMPUTED = "not computed yet: press r (or run `quadrant recompute`)"


def _missing(value: Any) -> bool:
    try:
        return value is None or bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def text_sparkline(values: list[float]) -> str:
    """A one-line sparkline of ``values`` (for the printed brief; the screen uses Textual's Sparkline)."""
    if not values:
        return ""
    top = max(values)
    if top <= 0:
        return BARS[0] * len(values)
    return "".join(BARS[min(len(BARS) - 1, int(v / top * (len(BARS) - 1) + 0.5))] for v in values)


def title(brief: AccountBrief, name_limit: int | None = None) -> Text:
    """Name and id, then the facts that place the account: segment, industry, owner, size.

    ``name_limit``: longer names end in "…" after that many characters (the screen's title
    must leave the figures below it on screen, whatever a name holds).
    """
    a = brief.account
    text = Text()
    name = clean(a.get("name") or a["account_id"])
    if name_limit is not None and len(name) > name_limit:
        name = name[: name_limit - 1].rstrip() + "…"
    text.append(name, style="bold")
    text.append(f"  ({clean(a['account_id'])})", style="dim")
    facts = [a.get("segment"), a.get("industry"), a.get("region")]
    if a.get("owner"):
        facts.append(f"owner {clean(a['owner'])}")
    if a.get("sales_rep"):
        facts.append(f"rep {clean(a['sales_rep'])}")
    employees, before = a.get("employees"), a.get("employees_prev")
    if employees is not None:
        size = f"{int(employees):,} employees"
        if before:
            size += f" ({(employees / before - 1) * 100:+.0f}% in a year)"
        facts.append(size)
    if a.get("created_at"):
        facts.append(f"customer since {format_date(a['created_at'])}")
    text.append("\n" + " · ".join(clean(f) for f in facts if f), style="dim")
    return text


def kpi_values(brief: AccountBrief) -> list[tuple[str, str, str, str]]:
    """(label, value, detail, style) for each headline figure."""
    k = brief.kpis
    quadrant = k.get("quadrant")
    renewal = k.get("renewal_date")
    return [
        (
            "ARR",
            format_money(k["arr"], brief.currency),
            f"{k['products']} product{'s' if k['products'] != 1 else ''}",
            "bold",
        ),
        (
            "Renewal",
            format_date(renewal) if renewal else "none",
            format_days(k.get("renewal_days")) if renewal else "evergreen or lapsed",
            "bold yellow" if (k.get("renewal_days") or 999) <= 90 else "bold",
        ),
        (
            "Risk",
            f"{format_score(k.get('risk'))}/100" if not _missing(k.get("risk")) else MISSING,
            "high"
            if (k.get("risk") or 0) >= 50
            else ("low" if not _missing(k.get("risk")) else NOT_COMPUTED[:16]),
            "bold red" if (k.get("risk") or 0) >= 50 else "bold",
        ),
        (
            "Expansion",
            f"{format_score(k.get('expansion'))}/100" if not _missing(k.get("expansion")) else MISSING,
            f"≈ {format_money(k['expansion_arr'], brief.currency)} ARR"
            if not _missing(k.get("expansion_arr"))
            else ("high" if (k.get("expansion") or 0) >= 50 else "low")
            if not _missing(k.get("expansion"))
            else "",
            "bold green" if (k.get("expansion") or 0) >= 50 else "bold",
        ),
        quadrant_kpi(quadrant, k["products"]),
    ]


def quadrant_kpi(quadrant: Any, products: int) -> tuple[str, str, str, str]:
    """An account that owns nothing has churned: its old score places it in no quadrant."""
    if not products:
        return ("Quadrant", "churned", "no active product", "bold")
    if not quadrant:
        return ("Quadrant", MISSING, "not computed yet", "bold")
    return ("Quadrant", str(quadrant), "", QUADRANT_STYLES.get(str(quadrant), "bold"))


def kpi_table(brief: AccountBrief) -> Table:
    table = Table.grid(expand=True, padding=(0, 2))
    values = kpi_values(brief)
    for _ in values:
        table.add_column(ratio=1)
    table.add_row(*[Text(label, style="dim") for label, *_ in values])
    table.add_row(*[Text(value, style=style) for _, value, _, style in values])
    table.add_row(*[Text(detail, style="dim") for _, _, detail, _ in values])
    return table


def _table(*columns: str, right: tuple[str, ...] = (), flex: tuple[str, ...] = ()) -> Table:
    """A borderless table; the ``flex`` columns share the spare width, the others fit their content."""
    table = Table(expand=True, show_edge=False, pad_edge=False, box=None, header_style="bold dim")
    for column in columns:
        table.add_column(
            column,
            justify="right" if column in right else "left",
            overflow="fold",
            ratio=1 if column in flex else None,
            min_width=12 if column in flex else None,
        )
    return table


def products_table(brief: AccountBrief, sparklines: bool = True) -> RenderableType:
    frame = brief.products
    if frame.empty:
        return Text("No active products.", style="dim")
    columns = ["Product", "Licensed", "Active", "Used", "MRR", "Renews"]
    if sparklines:
        columns.append(f"Users, {len(brief.usage_months)} months" if brief.usage_months else "Usage")
    table = _table(*columns, right=("Licensed", "Active", "Used", "MRR"), flex=("Product",))
    table.columns[0].no_wrap, table.columns[0].overflow = True, "ellipsis"  # one line per product
    for row in frame.itertuples():
        name = Text(clean(row.name), no_wrap=True, overflow="ellipsis")
        if row.status != "active":
            name.append(f" ({row.status})", style="italic dim")
        util = row.utilisation
        used = Text(format_pct(util), style="red" if not _missing(util) and util < 0.4 else "")
        cells = [
            name,
            licensed_text(row.seats, row.unit),
            _count(row.active_users),
            used,
            format_money(row.mrr, brief.currency),
            format_date(row.end_date),
        ]
        if sparklines:
            cells.append(Text(text_sparkline(list(row.usage)), style="cyan"))
        table.add_row(*cells)
    return table


def licensed_text(quantity: Any, unit: Any) -> str:
    """Seats as a count; a flat fee as "flat"; usage-priced products in units."""
    if unit == "flat":
        return "flat"
    count = f"{int(quantity):,}"
    return f"{count} units" if unit == "usage" else count


def _count(value: Any) -> str:
    return MISSING if _missing(value) else f"{int(value):,}"


def breakdown_table(frame: pd.DataFrame, has_previous: bool, computed: bool = False) -> RenderableType:
    """A score's parts, biggest first, with the reason and the change since the last recompute."""
    if frame.empty:
        message = "No breakdown recorded for this account." if computed else f"Breakdown {NOT_COMPUTED}."
        return Text(message, style="dim")
    table = _table("Part", "Pts", "Change", "Why", right=("Pts", "Change"), flex=("Why",))
    for row in frame.itertuples():
        change = row.change
        if not has_previous:
            moved = Text("")
        elif _missing(change):
            moved = Text("new", style="dim")
        else:
            moved = Text(
                f"{change:+.0f}" if abs(change) >= 0.5 else "·",
                style="red" if change >= 0.5 else ("green" if change <= -0.5 else "dim"),
            )
        table.add_row(
            str(row.component).replace("_", " "),
            f"{row.points:.0f}",
            moved,
            Text(clean(row.reason), style="dim"),
        )
    return table


def moved_text(brief: AccountBrief) -> RenderableType:
    if not brief.scores_computed:
        return Text(f"Scores {NOT_COMPUTED}.", style="dim")
    if not brief.has_previous:
        return Text("No earlier recompute to compare with yet.", style="dim")
    if not brief.moved:
        return Text("Nothing moved by a point or more since the last recompute.", style="dim")
    return Text("\n".join(f"• {line}" for line in brief.moved))


def suggestions_table(brief: AccountBrief) -> RenderableType:
    frame = brief.suggestions
    if frame.empty:
        return Text(
            f"Suggestions {NOT_COMPUTED}." if not brief.scores_computed else "No suggestions.", style="dim"
        )
    table = _table(
        "#",
        "Product",
        "Why",
        "Conf.",
        "Lift",
        "Ready",
        "Buyer dept.",
        right=("#", "Conf.", "Lift"),
        flex=("Why",),
    )
    for row in frame.itertuples():
        ready = (
            Text("—", style="dim")
            if _missing(row.ready)
            else (Text("ready", style="green") if bool(row.ready) else Text("not yet", style="yellow"))
        )
        department = clean(row.department) if not _missing(row.department) else MISSING
        if _missing(row.has_department_contact):
            dept = Text(department)
        elif bool(row.has_department_contact):
            dept = Text(f"{department} ✓", style="green")
        else:
            dept = Text(f"{department}: no contact", style="yellow")
        name = row.product_name if not _missing(row.product_name) else row.product_id
        table.add_row(
            str(int(row.rank)) if not _missing(row.rank) else "",
            clean(name),
            Text(clean(row.reason)),
            format_pct(row.confidence),
            MISSING if _missing(row.lift) else f"{row.lift:.1f}×",
            ready,
            dept,
        )
    return table


def pricing_table(brief: AccountBrief) -> RenderableType:
    frame = brief.pricing
    if frame.empty:
        return Text(
            f"Bundle pricing {NOT_COMPUTED}." if not brief.scores_computed else "No pricing options.",
            style="dim",
        )
    c = brief.currency
    extra = [col for col in ("annual_price", "first_year_price") if col in frame]
    headers = (
        ["Option", "Products", "Monthly", "List", "Off"]
        + [{"annual_price": "Annual", "first_year_price": "First year"}[col] for col in extra]
        + ["ARR change", "Note"]
    )
    table = _table(
        *headers,
        right=("Monthly", "List", "Off", "Annual", "First year", "ARR change"),
        flex=("Products", "Note"),
    )
    cheapest = frame["monthly_price"].min() if "monthly_price" in frame else None
    for row in frame.to_dict("records"):
        style = "bold" if row.get("monthly_price") == cheapest else ""
        note = " ".join(str(row.get(k)) for k in ("flag", "note") if row.get(k) and not _missing(row.get(k)))
        delta = row.get("arr_delta")
        cells = [
            Text(str(row["option"]), style=style),
            Text(str(row.get("products") or "").replace(";", ", "), style="dim"),
            format_money(row.get("monthly_price"), c),
            format_money(row.get("list_total"), c),
            format_pct(row.get("discount_pct"), fraction=False),
            *[format_money(row.get(col), c) for col in extra],
            Text(
                MISSING if _missing(delta) else f"{'+' if delta >= 0 else ''}{format_money(delta, c)}",
                style="green" if not _missing(delta) and delta > 0 else "",
            ),
            Text(note, style="yellow" if row.get("flag") and not _missing(row.get("flag")) else "dim"),
        ]
        table.add_row(*cells)
    return table


def contacts_table(brief: AccountBrief) -> RenderableType:
    frame = brief.contacts
    parts: list[RenderableType] = []
    if brief.missing_decision_maker:
        parts.append(
            Text("⚠ No decision maker on file: find out who signs before the renewal.", style="bold yellow")
        )
    if frame.empty:
        parts.append(Text("No contacts on file.", style="dim"))
        return Group(*parts)
    table = _table("Role", "Name", "Title", "Department", "Last contact", flex=("Name", "Title"))
    for row in frame.itertuples():
        role = ROLE_LABELS.get(str(row.role), MISSING) if not _missing(row.role) else MISSING
        table.add_row(
            Text(role, style="bold" if row.role == "decision_maker" else ""),
            clean(row.name),
            clean(row.title),
            clean(row.department),
            format_date(row.last_contacted_at),
        )
    parts.append(table)
    return Group(*parts)


def timeline_table(brief: AccountBrief) -> RenderableType:
    frame = brief.timeline
    if frame.empty:
        return Text("No activities, tickets or NPS answers on file.", style="dim")
    table = _table("Date", "Kind", "What", flex=("What",))
    for row in frame.itertuples():
        style = SENTIMENT_STYLES.get(str(row.sentiment), "")
        kind = Text(str(row.kind), style="bold red" if row.kind == "ticket" else "")
        table.add_row(format_date(row.date), kind, Text(clean(row.text), style=style))
    return table


def todos_table(brief: AccountBrief) -> RenderableType:
    frame = brief.todos
    if frame.empty:
        return Text("No open to-dos for this account.", style="dim")
    table = _table("Pri.", "To-do", "Why", "Due", right=("Pri.",), flex=("To-do", "Why"))
    for row in frame.itertuples():
        title = Text(clean(row.title or row.kind))
        if row.status == "snoozed":
            title.append(f" (snoozed until {format_date(row.snoozed_until)})", style="dim")
        table.add_row(
            MISSING if _missing(row.priority) else str(int(row.priority)),
            title,
            Text(clean(row.reason), style="dim"),
            format_date(row.due),
        )
    return table


def notes_text(brief: AccountBrief) -> RenderableType:
    frame = brief.notes
    if frame.empty:
        return Text("No notes yet (add them on the to-do screen).", style="dim")
    lines = Text()
    for i, row in enumerate(frame.itertuples()):
        if i:
            lines.append("\n")
        lines.append(f"{format_date(row.updated_at)} ", style="dim")
        lines.append(clean(row.title or row.todo_id), style="bold")
        if not _missing(row.note) and row.note:
            lines.append(f": {clean(row.note, multiline=True)}")
        if not _missing(row.outcome) and row.outcome:
            lines.append(f" (outcome: {row.outcome})", style="italic")
    return lines


SECTIONS = (
    ("Products held", lambda b: products_table(b)),
    ("Risk breakdown", lambda b: breakdown_table(b.risk, b.has_previous, b.scores_computed)),
    ("Expansion breakdown", lambda b: breakdown_table(b.expansion, b.has_previous, b.scores_computed)),
    ("What moved since last time", moved_text),
    ("Suggestions", suggestions_table),
    ("Bundle pricing", pricing_table),
    ("Contacts", contacts_table),
    ("Timeline", timeline_table),
    ("Open to-dos", todos_table),
    ("Notes", notes_text),
)
"""Every section after the KPIs, in reading order: (title, renderer)."""
