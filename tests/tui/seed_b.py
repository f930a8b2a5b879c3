"""A small, hand-made store for TUI helper B's tests: every result table the screens read, frozen in time.

Names are deliberately hostile (markup, control codes, CJK, right-to-left, emoji)
so every screen is tested against them.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pandas as pd

from core.store import Store

AS_OF = date(2025, 6, 30)
NOW = datetime(2025, 6, 30, 9, 0, tzinfo=UTC)
STAMP = "2025-06-30T08:48:00+00:00"

HOSTILE = "[bold red]Evil[/] Corp \x1b[31m"
ACCOUNTS = [
    # account_id, name, segment, owner, quadrant, arr, risk, expansion
    ("A01", "Acme Analytics", "enterprise", "Alice Chen", "fix-and-expand", 240_000, 72, 81),
    ("A02", "東京精密工業株式会社", "enterprise", "Alice Chen", "rescue", 180_000, 88, 20),
    ("A03", "Société Générale Énergie", "mid-market", "Bob Martin", "expand", 96_000, 12, 77),
    ("A04", HOSTILE, "smb", "Bob Martin", "nurture", 12_000, 20, 15),
    ("A05", "شركة المثال للتقنية", "mid-market", "Alice Chen", "expand", 60_000, 30, 66),
    ("A06", "Rocket 🚀 Labs", "smb", "山田 太郎", "rescue", 24_000, 70, 10),
    ("A07", "Northwind Traders", "mid-market", "山田 太郎", "fix-and-expand", 130_000, 61, 58),
    ("A08", "Globex", "smb", "Bob Martin", "nurture", 8_400, 5, 12),
]
PRODUCTS = [("MAIL", "Mail Studio"), ("JRN", "Journeys"), ("AUTO", "Automation"), ("CRM", "Contacts CRM")]
# todo_id, account, kind, product, quadrant, title, reason, priority, below_line, due, status, note
TODOS = [
    (
        "t01",
        "A01",
        "cross-sell",
        "AUTO",
        "fix-and-expand",
        "Offer Automation",
        "71% of accounts with Mail Studio and Journeys also own Automation (2.4x the base rate).",
        1,
        0,
        "2025-07-02",
        "open",
        "",
    ),
    (
        "t02",
        "A07",
        "renewal-call",
        "",
        "fix-and-expand",
        "Renewal call before 2025-08-15",
        "Renews in 46 days; usage down 32% over 3 months.",
        2,
        0,
        "2025-07-05",
        "open",
        "",
    ),
    (
        "t03",
        "A02",
        "executive-sponsor",
        "",
        "rescue",
        "Bring in an executive sponsor",
        "3 negative tickets in 60 days; NPS fell from 8 to 4.",
        1,
        0,
        "2025-06-28",
        "open",
        "",
    ),
    (
        "t04",
        "A06",
        "usage-recovery",
        "",
        "rescue",
        "Recover usage of Journeys",
        "Active users down 45% (40 -> 22) since March.",
        2,
        0,
        "2025-07-03",
        "open",
        "",
    ),
    (
        "t05",
        "A03",
        "seat-upsell",
        "MAIL",
        "expand",
        "Offer 20 more Mail Studio seats",
        "Seats 98% used (49/50) for 4 months; headcount +12%.",
        1,
        0,
        "2025-07-04",
        "open",
        "",
    ),
    (
        "t06",
        "A05",
        "bundle-offer",
        "",
        "expand",
        "Offer the Growth bundle",
        "Saves 18% on 3 products they own or are likely to buy.",
        2,
        1,
        "2025-07-10",
        "open",
        "",
    ),
    (
        "t07",
        "A04",
        "qbr",
        "",
        "nurture",
        "Quarterly review with [b]boss[/b]",
        "No meeting for 140 days; stable usage.",
        1,
        0,
        "2025-07-15",
        "open",
        "Call [red]Ana[/red] first\nthen Bo",
    ),
    (
        "t08",
        "A08",
        "qbr",
        "",
        "nurture",
        "Quarterly review",
        "No meeting for 200 days.",
        2,
        1,
        "2025-07-20",
        "open",
        "",
    ),
    (
        "t09",
        "A08",
        "add-decision-maker",
        "",
        "nurture",
        "Find the decision maker",
        "No decision maker known.",
        3,
        0,
        "2025-07-22",
        "done",
        "met the CFO",
    ),
]


def add_accounts(store: Store) -> None:
    with store.writing() as conn:
        conn.executemany(
            "INSERT INTO accounts (account_id, name, segment, owner) VALUES (?,?,?,?)",
            [(a[0], a[1], a[2], a[3]) for a in ACCOUNTS],
        )
        conn.executemany("INSERT INTO products (product_id, name, list_price) VALUES (?,?,10)", PRODUCTS)
        conn.executemany(  # every account a customer: one active subscription carrying its ARR
            "INSERT INTO subscriptions (account_id, product_id, start_date, quantity, mrr, status) "
            "VALUES (?, 'CRM', '2024-01-01', 1, ?, 'active')",
            [(a[0], a[5] / 12) for a in ACCOUNTS],
        )
        conn.executemany(
            "INSERT INTO scores (account_id, risk, expansion, quadrant, arr, renewal_date) VALUES (?,?,?,?,?,?)",
            [(a[0], a[6], a[7], a[4], a[5], "2025-09-30") for a in ACCOUNTS],
        )


def add_todos(store: Store, todos: list[tuple] = TODOS) -> None:
    with store.writing() as conn:
        conn.executemany(
            "INSERT INTO todos (todo_id, account_id, kind, product_id, quadrant, title, reason, priority, "
            "priority_score, below_line, due, playbook, active, status, note, created_at, updated_at) "
            "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,1,?,?,?,?)",
            [
                (
                    t[0],
                    t[1],
                    t[2],
                    t[3],
                    t[4],
                    t[5],
                    t[6],
                    t[7],
                    100 - t[7],
                    t[8],
                    t[9],
                    t[2],
                    t[10],
                    t[11] or None,
                    STAMP,
                    STAMP,
                )
                for t in todos
            ],
        )


def add_results(store: Store) -> None:
    rules = pd.DataFrame(
        [
            ("all", "JRN;MAIL", "AUTO", 0.071, 0.71, 2.4, 0.04, 3.1, 71),
            ("all", "MAIL", "JRN", 0.30, 0.50, 1.25, 0.06, 1.2, 300),
            ("all", "CRM", "MAIL", 0.02, 0.10, 0.9, -0.002, 0.98, 20),
            ("all", "AUTO", "CRM;JRN", 0.01, 0.20, 1.8, 0.004, 1.1, 10),
            ("enterprise", "MAIL", "AUTO", 0.2, 0.6, 1.9, 0.09, 2.0, 40),
        ],
        columns=[
            "segment",
            "antecedents",
            "consequents",
            "support",
            "confidence",
            "lift",
            "leverage",
            "conviction",
            "count",
        ],
    )
    attach_rows = []
    for a, _ in PRODUCTS:
        for b, _ in PRODUCTS:
            if a != b:
                rate = {("MAIL", "JRN"): 0.5, ("JRN", "AUTO"): 0.45, ("CRM", "MAIL"): 0.03}.get((a, b), 0.2)
                attach_rows.append((a, b, 100, int(rate * 100), rate, "strong" if rate >= 0.4 else ""))
    attach = pd.DataFrame(
        attach_rows, columns=["product_a", "product_b", "accounts_a", "accounts_both", "attach_rate", "label"]
    )
    metrics = {
        "accounts": 8,
        "arr": 750_400,
        "products_per_customer_mean": 1.9,
        "products_per_customer_median": 2,
        "multi_product_revenue_share": 0.74,
        "gross_churn_rate_single": 0.18,
        "gross_churn_rate_multi": 0.06,
        "nrr_single": 0.94,
        "nrr_multi": 1.12,
        "time_to_second_product_days_median": 142,
        "renewal_arr_30d": 120_000,
        "renewal_arr_90d": 310_000,
        "renewal_arr_at_risk_90d": 180_000,
        "products_per_customer_1": 3,
        "products_per_customer_2": 3,
        "products_per_customer_3": 1,
        "products_per_customer_4": 1,
    }
    portfolio = pd.DataFrame(
        [(k, "all", float(v)) for k, v in metrics.items()]
        + [
            ("accounts", "enterprise", 2.0),
            ("arr", "enterprise", 420_000.0),
            ("nrr_multi", "enterprise", 1.2),
        ],
        columns=["metric", "segment", "value"],
    )
    owner_book = pd.DataFrame(
        [
            ("Alice Chen", 3, 480_000.0, 1, 1, 1, 0, 3, 1),
            ("Bob Martin", 3, 116_400.0, 0, 0, 1, 2, 3, 0),
            ("山田 太郎", 2, 154_000.0, 1, 1, 0, 0, 2, 0),
        ],
        columns=[
            "owner",
            "accounts",
            "arr",
            "fix-and-expand",
            "rescue",
            "expand",
            "nurture",
            "open_todos",
            "overdue_todos",
        ],
    )
    roles = pd.DataFrame(
        [
            ("MAIL", "anchor", "Bought first by 60% of customers."),
            ("JRN", "attach", "50% of Mail owners own it."),
            ("AUTO", "strategic", "Holders churn 8% less."),
            ("CRM", "sunset", "New purchases down 40%."),
        ],
        columns=["product_id", "role", "reason"],
    )
    trust = pd.DataFrame(
        [
            ("risk.auc_hand", 0.74, "0.74"),
            ("risk.auc_logit_cv", 0.78, "0.78"),
            ("risk.auc_logit_folds", None, "[0.7, 0.8]"),
            ("risk.n", 800.0, "800"),
            ("risk.positives", 41.0, "41"),
            ("backtest.months", 6.0, "6"),
            ("backtest.buyers", 120.0, "120"),
            ("backtest.accounts_evaluated", 760.0, "760"),
            ("backtest.hit_rate_at_1", 0.31, "0.31"),
            ("backtest.baseline_hit_rate_at_1", 0.18, "0.18"),
            ("backtest.hit_rate_at_3", 0.55, "0.55"),
            ("backtest.baseline_hit_rate_at_3", 0.41, "0.41"),
        ],
        columns=["name", "value", "detail"],
    )
    second = pd.DataFrame(
        [
            (
                f"A0{i}",
                "MAIL",
                pd.Timestamp(f"{2022 + i % 3}-0{1 + i % 6}-01"),
                "JRN",
                pd.Timestamp(f"{2022 + i % 3}-0{1 + i % 6}-01") + pd.Timedelta(days=30 * i),
                float(30 * i),
            )
            for i in range(1, 9)
        ],
        columns=["account_id", "first_product", "first_date", "second_product", "second_date", "days"],
    )
    store.write_results(
        {
            "rules": rules,
            "attach": attach,
            "portfolio": portfolio,
            "owner_book": owner_book,
            "product_roles": roles,
            "model_metrics": trust,
            "time_to_second": second,
        }
    )


def add_run(store: Store) -> None:
    with store.writing() as conn:
        conn.execute(
            "INSERT INTO runs (kind, started_at, finished_at, duration_s, status, as_of, summary) "
            "VALUES ('recompute', ?, ?, 1.5, 'ok', ?, '{}')",
            [STAMP, STAMP, AS_OF.isoformat()],
        )


def build_store(path: Path, todos: bool = True, results: bool = True) -> Store:
    """A store with 8 accounts, 4 products, scores, 9 to-dos (one done) and every result table."""
    store = Store(path)
    add_accounts(store)
    if todos:
        add_todos(store)
    if results:
        add_results(store)
    add_run(store)
    return store


def stub_recompute(store: Store, as_of: date, progress) -> None:
    """Stands in for core.recompute in tests that only need the app's recompute plumbing."""
    progress("rules", 0, 1)
    return None
