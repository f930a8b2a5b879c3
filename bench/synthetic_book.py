"""A large synthetic store for the app benchmarks, written straight into SQLite.

Used while (or where) the demo generator, importer and recompute are not
available; the shapes follow core/store/schema.py and the result tables the
recompute writes. Names mix ASCII, accented and CJK text on purpose.
"""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd

from core.store import Store, frames_io

FIRST = [
    "Acme",
    "Globex",
    "Initech",
    "Umbrella",
    "Stark",
    "Wayne",
    "Hooli",
    "Vandelay",
    "Soylent",
    "Tyrell",
    "Société",
    "Müller",
    "Øresund",
    "Čapek",
    "São Paulo",
    "北京云图",
    "上海星河",
    "深圳万象",
    "東京精機",
    "서울테크",
]
SECOND = [
    "Industries",
    "Labs",
    "Systems",
    "Logistics",
    "Foods",
    "Générale",
    "Holding",
    "科技有限公司",
    "贸易",
    "株式会社",
    "Analytics",
    "Partners",
    "Retail",
    "Health",
    "Energy",
]
DEPARTMENTS = ["Sales", "Marketing", "IT", "Finance", "Support", "Operations", "HR"]
QUADS = np.array(["fix-and-expand", "rescue", "expand", "nurture"])


def write_synthetic(
    store: Store,
    accounts: int,
    products: int = 40,
    as_of: date = date(2025, 6, 30),
    seed: int = 1,
    months: int = 12,
) -> None:
    """Fill ``store`` with ``accounts`` accounts and everything the screens read."""
    rng = np.random.default_rng(seed)
    ids = np.array([f"A{i:06d}" for i in range(accounts)])
    names = [
        f"{FIRST[a]} {SECOND[b]} {i}"
        for i, (a, b) in enumerate(
            zip(rng.integers(0, len(FIRST), accounts), rng.integers(0, len(SECOND), accounts))
        )
    ]
    segments = rng.choice(["enterprise", "mid-market", "smb"], accounts, p=[0.1, 0.3, 0.6])
    owners = np.array([f"csm{n:02d}" for n in range(50)])[rng.integers(0, 50, accounts)]
    account_frame = pd.DataFrame(
        {
            "account_id": ids,
            "name": names,
            "segment": segments,
            "industry": "software",
            "region": "EMEA",
            "employees": rng.integers(5, 20000, accounts),
            "owner": owners,
            "created_at": "2021-01-01",
        }
    )
    pids = [f"P{p:02d}" for p in range(1, products + 1)]
    product_frame = pd.DataFrame(
        {
            "product_id": pids,
            "name": [f"Product {p}" for p in range(1, products + 1)],
            "family": "core",
            "list_price": rng.integers(10, 200, products).astype(float),
            "unit": "seat",
            "department": [DEPARTMENTS[p % len(DEPARTMENTS)] for p in range(products)],
        }
    )
    held = rng.integers(1, 6, accounts)
    sub_account = np.repeat(np.arange(accounts), held)
    sub_product = rng.integers(0, products, len(sub_account))
    frame = pd.DataFrame({"a": sub_account, "p": sub_product}).drop_duplicates()
    n = len(frame)
    start = pd.Timestamp(as_of) - pd.to_timedelta(rng.integers(60, 1500, n), unit="D")
    end = pd.Timestamp(as_of) + pd.to_timedelta(rng.integers(1, 400, n), unit="D")
    status = np.where(rng.random(n) < 0.08, "churned", "active")
    quantity = rng.integers(1, 200, n)
    subs = pd.DataFrame(
        {
            "account_id": ids[frame["a"].to_numpy()],
            "product_id": np.array(pids)[frame["p"].to_numpy()],
            "start_date": start.strftime("%Y-%m-%d"),
            "end_date": end.strftime("%Y-%m-%d"),
            "quantity": quantity,
            "mrr": (quantity * rng.integers(10, 60, n)).astype(float),
            "status": status,
            "churned_at": np.where(
                status == "churned", (pd.Timestamp(as_of) - timedelta(days=30)).strftime("%Y-%m-%d"), None
            ),
        }
    )
    risk = rng.uniform(0, 100, accounts).round(1)
    expansion = rng.uniform(0, 100, accounts).round(1)
    quad = QUADS[np.where(risk >= 50, np.where(expansion >= 50, 0, 1), np.where(expansion >= 50, 2, 3))]
    scores = pd.DataFrame(
        {
            "account_id": ids,
            "risk": risk,
            "expansion": expansion,
            "quadrant": quad,
            "arr": 0.0,
            "renewal_date": None,
            "risk_reasons": "usage down 30%; renewal in 45 days",
            "expansion_reasons": "2 strong suggestions; seats 95% used",
        }
    )
    active = subs[subs["status"] == "active"]
    periods = pd.period_range(end=pd.Period(as_of, "M") - 1, periods=months, freq="M").strftime("%Y-%m-01")
    usage = pd.DataFrame(
        {
            "account_id": np.repeat(active["account_id"].to_numpy(), months),
            "product_id": np.repeat(active["product_id"].to_numpy(), months),
            "period": np.tile(np.asarray(periods), len(active)),
        }
    )
    seats = np.repeat(active["quantity"].to_numpy(), months)
    usage["licensed_seats"] = seats
    usage["active_users"] = (seats * rng.uniform(0.2, 1.0, len(usage))).astype(int)
    usage["logins"] = usage["active_users"] * 12
    usage["key_events"] = usage["active_users"] * 30
    contacts = pd.DataFrame(
        {
            "account_id": np.repeat(ids, 2),
            "email": [f"c{i}@example.com" for i in range(2 * accounts)],
            "name": "Alex Kim",
            "title": "Head of Ops",
            "department": rng.choice(DEPARTMENTS, 2 * accounts),
            "role": rng.choice(["decision_maker", "champion", "user", "billing"], 2 * accounts),
            "last_contacted_at": "2025-05-01",
        }
    )
    activities = pd.DataFrame(
        {
            "activity_key": [f"act{i}" for i in range(2 * accounts)],
            "account_id": np.repeat(ids, 2),
            "date": "2025-05-15",
            "kind": rng.choice(["call", "email", "ticket", "meeting"], 2 * accounts),
            "subject": "Quarterly check-in",
            "product_id": None,
            "sentiment": "neutral",
        }
    )
    with store.writing() as conn:
        frames_io.upsert(conn, "accounts", account_frame, ("account_id",))
        frames_io.upsert(conn, "products", product_frame, ("product_id",))
        frames_io.upsert(conn, "subscriptions", subs, ("account_id", "product_id", "start_date"))
        frames_io.insert(conn, "usage", usage, "ON CONFLICT DO NOTHING")
        frames_io.upsert(conn, "contacts", contacts, ("account_id", "email"))
        frames_io.upsert(conn, "activities", activities, ("activity_key",))
    top = rng.integers(0, products, accounts)
    suggestions = pd.DataFrame(
        {
            "account_id": ids,
            "product_id": np.array(pids)[top],
            "rank": 1,
            "score": rng.uniform(0, 1, accounts),
            "confidence": rng.uniform(0, 1, accounts),
            "lift": rng.uniform(1, 4, accounts),
            "reason": "Accounts like this one that hold the same products bought it within a year.",
            "department": np.array(DEPARTMENTS)[top % len(DEPARTMENTS)],
            "has_department_contact": 1,
            "ready": 1,
        }
    )
    components = pd.DataFrame(
        {
            "account_id": np.repeat(ids, 2),
            "axis": np.tile(["risk", "expansion"], accounts),
            "component": np.tile(["usage_trend", "suggestions"], accounts),
            "points": rng.uniform(0, 30, 2 * accounts),
            "weight": 25.0,
            "value": rng.uniform(-1, 1, 2 * accounts),
            "reason": "usage changed",
        }
    )
    todo_n = accounts // 5
    todos = pd.DataFrame(
        {
            "todo_id": [f"T{i:07d}" for i in range(todo_n)],
            "account_id": ids[:todo_n],
            "kind": "renewal_call",
            "product_id": "",
            "quadrant": quad[:todo_n],
            "title": "Renewal call",
            "reason": "renews soon",
            "priority": np.arange(todo_n) % 15 + 1,
            "priority_score": rng.uniform(0, 1, todo_n),
            "below_line": 0,
            "due": as_of.isoformat(),
            "playbook": "renewal_call",
            "active": 1,
            "status": "open",
            "created_at": as_of.isoformat(),
            "updated_at": as_of.isoformat(),
        }
    )
    store.write_results({"scores": scores, "suggestions": suggestions, "score_components": components})
    with store.writing() as conn:
        frames_io.insert(conn, "todos", todos)
    run = store.start_run("recompute", as_of)
    store.finish_run(run, "ok", summary={"synthetic": True})
