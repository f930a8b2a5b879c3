"""Shared fixtures for the TUI tests: a small hand-made store frozen in time, and the app on it.

The store holds every table the screens read, with names that must align
(CJK, accented) and one account with no decision maker. Building it takes a
few milliseconds, so each test gets its own throwaway copy.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from core.store import Store, frames_io

AS_OF = date(2025, 6, 30)
NOW = datetime(2025, 6, 30, 12, 0, tzinfo=UTC)
RUN_FINISHED = "2025-06-30T11:53:00+00:00"  # "computed 7 min ago" at NOW

PRODUCTS = [
    ("CRM", "Contacts CRM", 40.0, "Sales"),
    ("MAIL", "Mail Studio", 25.0, "Marketing"),
    ("AUTO", "Automation", 60.0, "Marketing"),
    ("DESK", "Support Desk", 30.0, "Support"),
    ("BI", "Analytics", 80.0, "IT"),
]
# account_id, name, segment, owner, quadrant, risk, expansion
ACCOUNTS = [
    ("A01", "Acme Analytics", "enterprise", "Ana", "fix-and-expand", 72.0, 81.0),
    ("A02", "北京云图科技有限公司", "enterprise", "Chen", "rescue", 88.0, 20.0),
    ("A03", "Société Générale Énergie", "mid-market", "Bo", "expand", 12.0, 77.0),
    ("A04", "Globex", "smb", "Bo", "nurture", 20.0, 15.0),
    ("A05", "Müller Logistik GmbH", "mid-market", "Ana", "expand", 30.0, 66.0),
    ("A06", "東京精機株式会社", "smb", "Chen", "rescue", 70.0, 10.0),
    ("A07", "Northwind Traders", "mid-market", "Ana", "fix-and-expand", 61.0, 58.0),
    ("A08", "Initech", "smb", "Bo", "nurture", 5.0, 12.0),
]
# account, product, start, end, quantity, mrr, status
SUBSCRIPTIONS = [
    ("A01", "CRM", "2022-01-10", "2025-09-01", 120, 4800.0, "active"),
    ("A01", "MAIL", "2022-06-01", "2025-09-01", 80, 2000.0, "active"),
    ("A01", "DESK", "2023-02-01", "2026-02-01", 40, 1200.0, "active"),
    ("A02", "CRM", "2021-03-01", "2025-07-20", 300, 12000.0, "active"),
    ("A02", "BI", "2022-03-01", "2025-07-20", 20, 1600.0, "active"),
    ("A03", "MAIL", "2023-05-01", "2026-05-01", 50, 1250.0, "active"),
    ("A03", "AUTO", "2024-01-01", "2026-05-01", 10, 600.0, "active"),
    ("A04", "CRM", "2024-02-01", "2025-12-31", 5, 200.0, "active"),
    ("A05", "CRM", "2022-09-01", "2025-10-15", 60, 2400.0, "active"),
    ("A05", "DESK", "2021-01-01", None, 10, 300.0, "churned"),
    ("A06", "DESK", "2023-07-01", "2025-08-05", 15, 450.0, "active"),
    ("A07", "CRM", "2020-05-01", "2025-08-15", 150, 6000.0, "active"),
    ("A07", "MAIL", "2021-05-01", "2025-08-15", 100, 2500.0, "active"),
    ("A07", "BI", "2022-05-01", "2025-08-15", 10, 800.0, "active"),
    ("A08", "MAIL", "2024-11-01", "2025-11-01", 3, 75.0, "active"),
]


def seed_book(store: Store, with_results: bool = True) -> None:
    """Write the hand-made book (and, unless told not to, every result table) into ``store``."""
    accounts = pd.DataFrame(
        [(a, n, s, "software", "EMEA", 1200, 1000, o, "Rae", "2021-01-01") for a, n, s, o, *_ in ACCOUNTS],
        columns=[
            "account_id",
            "name",
            "segment",
            "industry",
            "region",
            "employees",
            "employees_prev",
            "owner",
            "sales_rep",
            "created_at",
        ],
    )
    products = pd.DataFrame(
        [(p, n, "core", price, "seat", d) for p, n, price, d in PRODUCTS],
        columns=["product_id", "name", "family", "list_price", "unit", "department"],
    )
    subs = pd.DataFrame(
        SUBSCRIPTIONS,
        columns=["account_id", "product_id", "start_date", "end_date", "quantity", "mrr", "status"],
    )
    subs["churned_at"] = subs["status"].map({"churned": "2024-12-01"})
    months = pd.period_range("2024-07", "2025-06", freq="M")
    usage_rows = []
    for a, p, *_rest, quantity, _mrr, status in SUBSCRIPTIONS:
        if status != "active":
            continue
        for i, month in enumerate(months):
            trend = 0.9 - 0.04 * i if a == "A02" else 0.5 + 0.03 * i
            usage_rows.append(
                (a, p, month.strftime("%Y-%m-01"), int(quantity * trend), quantity, 100 + i, 10 * i)
            )
    usage = pd.DataFrame(
        usage_rows,
        columns=[
            "account_id",
            "product_id",
            "period",
            "active_users",
            "licensed_seats",
            "logins",
            "key_events",
        ],
    )
    contacts = pd.DataFrame(
        [
            ("A01", "dana@acme.test", "Dana Smith", "VP Sales", "Sales", "decision_maker", "2025-06-01"),
            ("A01", "lee@acme.test", "Lee Park", "Ops lead", "Support", "champion", "2025-06-20"),
            ("A02", "wang@bj.test", "王伟", "IT 经理", "IT", "user", "2025-03-01"),
            (
                "A03",
                "claire@sg.test",
                "Claire Dubois",
                "Directrice marketing",
                "Marketing",
                "decision_maker",
                "2025-05-05",
            ),
        ],
        columns=["account_id", "email", "name", "title", "department", "role", "last_contacted_at"],
    )
    activities = pd.DataFrame(
        [
            ("k1", "A01", "2025-06-10", "qbr", "Quarterly business review", None, "positive"),
            ("k2", "A01", "2025-05-02", "ticket", "Export to CSV times out", "CRM", "negative"),
            ("k3", "A02", "2025-04-15", "call", "Budget freeze announced", None, "negative"),
        ],
        columns=["activity_key", "account_id", "date", "kind", "subject", "product_id", "sentiment"],
    )
    nps = pd.DataFrame(
        [("A01", "2025-03-01", "dana@acme.test", 9), ("A02", "2025-02-01", "", 4)],
        columns=["account_id", "date", "email", "score"],
    )
    with store.writing() as conn:
        frames_io.upsert(conn, "accounts", accounts, ("account_id",))
        frames_io.upsert(conn, "products", products, ("product_id",))
        frames_io.upsert(conn, "subscriptions", subs, ("account_id", "product_id", "start_date"))
        frames_io.insert(conn, "usage", usage)
        frames_io.upsert(conn, "contacts", contacts, ("account_id", "email"))
        frames_io.upsert(conn, "activities", activities, ("activity_key",))
        frames_io.upsert(conn, "nps", nps, ("account_id", "date", "email"))
    if with_results:
        write_results(store)


def write_results(store: Store) -> None:
    """Scores, components (twice, so "what moved" has a previous run), suggestions, pricing, to-dos, a run."""
    arr = {
        a: 12 * sum(m for acc, _p, _s, _e, _q, m, st in SUBSCRIPTIONS if acc == a and st == "active")
        for a, *_ in ACCOUNTS
    }
    scores = pd.DataFrame(
        [
            (a, r, e, q, float(arr[a]), None, "usage down 32%; renews in 51 days", "2 strong suggestions")
            for a, _n, _s, _o, q, r, e in ACCOUNTS
        ],
        columns=[
            "account_id",
            "risk",
            "expansion",
            "quadrant",
            "arr",
            "renewal_date",
            "risk_reasons",
            "expansion_reasons",
        ],
    )
    before = pd.DataFrame(
        [
            ("A01", "risk", "usage_trend", 12.0, 25.0, -0.1, "usage down 10% over 3 months"),
            ("A01", "risk", "renewal_proximity", 8.0, 15.0, 90.0, "renews in 90 days"),
            ("A01", "expansion", "suggestions", 30.0, 35.0, 2.0, "2 strong suggestions"),
        ],
        columns=["account_id", "axis", "component", "points", "weight", "value", "reason"],
    )
    after = pd.DataFrame(
        [
            ("A01", "risk", "usage_trend", 20.0, 25.0, -0.32, "usage down 32% over 3 months"),
            ("A01", "risk", "renewal_proximity", 9.0, 15.0, 63.0, "renews in 63 days"),
            ("A01", "risk", "sentiment", 6.0, 15.0, -1.0, "a negative ticket in May"),
            ("A01", "expansion", "suggestions", 30.0, 35.0, 2.0, "2 strong suggestions"),
            ("A01", "expansion", "seat_saturation", 16.0, 20.0, 0.95, "CRM seats 95% used"),
        ],
        columns=["account_id", "axis", "component", "points", "weight", "value", "reason"],
    )
    suggestions = pd.DataFrame(
        [
            (
                "A01",
                "AUTO",
                1,
                0.82,
                0.71,
                2.4,
                "71% of accounts with Contacts CRM and Mail Studio also own Automation (2.4x the base rate).",
                "Marketing",
                0,
                1,
            ),
            ("A01", "BI", 2, 0.55, 0.38, 1.6, "38% of accounts with Contacts CRM own Analytics.", "IT", 0, 0),
        ],
        columns=[
            "account_id",
            "product_id",
            "rank",
            "score",
            "confidence",
            "lift",
            "reason",
            "department",
            "has_department_contact",
            "ready",
        ],
    )
    pricing = pd.DataFrame(
        [
            (
                "A01",
                "a-la-carte",
                "AUTO;CRM;DESK;MAIL",
                9600.0,
                9600.0,
                0.0,
                19200.0,
                115200.0,
                112800.0,
                "",
                "",
            ),
            (
                "A01",
                "policy-bundle",
                "AUTO;CRM;DESK;MAIL",
                7680.0,
                9600.0,
                20.0,
                -3840.0,
                92160.0,
                90000.0,
                "",
                "20% off 2+ products",
            ),
            (
                "A01",
                "platform",
                "AUTO;BI;CRM;DESK;MAIL",
                9156.0,
                13080.0,
                30.0,
                13872.0,
                109872.0,
                104000.0,
                "deep discount",
                "whole catalogue",
            ),
        ],
        columns=[
            "account_id",
            "option",
            "products",
            "monthly_price",
            "list_total",
            "discount_pct",
            "arr_delta",
            "annual_price",
            "first_year_price",
            "flag",
            "note",
        ],
    )
    store.write_results({"score_components": before})
    store.write_results(
        {"scores": scores, "score_components": after, "suggestions": suggestions, "pricing": pricing}
    )
    todos = pd.DataFrame(
        [
            (
                "T1",
                "A01",
                "cross-sell",
                "AUTO",
                "fix-and-expand",
                "Offer Automation",
                "71% of lookalikes own it",
                1,
                "open",
                None,
            ),
            (
                "T2",
                "A02",
                "renewal-call",
                "",
                "rescue",
                "Renewal call",
                "renews in 20 days; usage down 40%",
                1,
                "open",
                None,
            ),
            (
                "T3",
                "A01",
                "qbr",
                "",
                "fix-and-expand",
                "Book a QBR",
                "no QBR in 9 months",
                2,
                "snoozed",
                "Dana asked to wait for Q3 numbers",
            ),
        ],
        columns=[
            "todo_id",
            "account_id",
            "kind",
            "product_id",
            "quadrant",
            "title",
            "reason",
            "priority",
            "status",
            "note",
        ],
    )
    todos["due"] = "2025-07-02"
    todos["snoozed_until"] = todos["status"].map({"snoozed": "2025-07-15"})
    todos["active"] = 1
    todos["below_line"] = 0
    todos["created_at"] = todos["updated_at"] = "2025-06-29T09:00:00+00:00"
    with store.writing() as conn:
        frames_io.insert(conn, "todos", todos)
        conn.execute(
            "INSERT INTO runs (kind, started_at, finished_at, duration_s, status, as_of, summary) "
            "VALUES ('recompute', '2025-06-30T11:52:00+00:00', ?, 60, 'ok', ?, '{}')",
            [RUN_FINISHED, AS_OF.isoformat()],
        )


@pytest.fixture
def seeded_store(tmp_path: Path) -> Store:
    store = Store(tmp_path / "book.db")
    seed_book(store)
    return store


@pytest.fixture
def empty_store(tmp_path: Path) -> Store:
    return Store(tmp_path / "empty.db")


class FakeJob:
    """A stand-in recompute: blocks until released, so a test can act while it runs."""

    def __init__(self, fail: str | None = None) -> None:
        self.started = threading.Event()
        self.release = threading.Event()
        self.fail = fail
        self.calls = 0

    def __call__(self, store: Store, as_of: date, progress: Callable[[str, int, int], None]) -> Any:
        self.calls += 1
        self.started.set()
        progress("rules", 1, 4)
        self.release.wait(10)
        if self.fail:
            raise RuntimeError(self.fail)
        return _Report()


class _Report:
    def describe(self) -> str:
        return "Recomputed (test)."


def make_test_app(store: Store, **kwargs: Any):
    """The app on ``store`` with time frozen at NOW and the recompute replaced by a no-op."""
    from tui.app import make_app

    kwargs.setdefault("recompute_job", lambda s, a, p: _Report())
    return make_app(store, as_of=AS_OF, now=lambda: NOW, **kwargs)


async def settle(app, pilot) -> None:
    """Wait for every worker, then for the screen to process what they posted."""
    await app.workers.wait_for_complete()
    await pilot.pause()
    await app.workers.wait_for_complete()
    await pilot.pause()
