"""Cell by cell: every accepted and every refused form of ids, numbers, dates, months and enums."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest

from core.importer import open_portfolio

ROWS = {
    "accounts": {
        "account_id": "007", "name": "Acme", "segment": "smb", "employees": "10", "employees_prev": "8",
        "annual_revenue": "100", "created_at": "2020-01-01",
    },
    "products": {"product_id": "P1", "name": "CRM", "list_price": "10", "unit": "seat"},
    "subscriptions": {
        "account_id": "007", "product_id": "P1", "start_date": "2024-01-01", "end_date": "", "quantity": "2",
        "mrr": "", "status": "active", "churned_at": "",
    },
    "usage": {"account_id": "007", "product_id": "P1", "period": "2024-01", "active_users": "3", "logins": "9"},
    "contacts": {"account_id": "007", "name": "Jo", "email": "jo@x.example", "role": "user"},
    "activities": {"account_id": "007", "date": "2024-01-01", "kind": "call", "sentiment": "neutral"},
    "nps": {"account_id": "007", "date": "2024-01-01", "score": "7"},
    "bundles": {"bundle_id": "B1", "name": "Pack", "product_ids": "P1;P2", "price": "", "discount_pct": "10"},
}  # fmt: skip
EXTRA_PRODUCT = "P2,Mail,5,flat"


def one_cell(tmp_path: Path, table: str, column: str, raw: str) -> tuple[object, list[str]]:
    """Import a minimal folder whose ``table`` row has ``raw`` written verbatim in ``column``.

    Returns (the stored value of that cell or None when the row was refused, the problems).
    """
    rows = {
        name: dict(row)
        for name, row in ROWS.items()
        if name in (table, "accounts", "products", "subscriptions")
    }
    rows[table][column] = raw
    for name, row in rows.items():
        text = ",".join(row) + "\n" + ",".join(row.values()) + "\n"
        if name == "products":
            text += EXTRA_PRODUCT + "\n"
        (tmp_path / f"{name}.csv").write_text(text, encoding="utf-8")
    reader = open_portfolio(tmp_path)
    frames = {t: f for t, f in reader.batches()}
    found = [str(issue) for issue in reader.errors]
    frame = frames.get(table, pd.DataFrame())
    if table == "products":
        frame = frame[frame["product_id"] == "P1"]
    if not len(frame):
        return None, found
    value = frame[column].iloc[0]
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        value = None
    return (value.item() if hasattr(value, "item") else value), found


@pytest.mark.parametrize(
    ("table", "column", "raw", "stored"),
    [
        ("accounts", "account_id", "007", "007"),
        ("accounts", "account_id", " 007 ", "007"),
        ("bundles", "bundle_id", "1.0", "1.0"),
        ("bundles", "bundle_id", "00123", "00123"),
        ("accounts", "name", '"Acme, Inc."', "Acme, Inc."),
        ("accounts", "name", '"The ""Best"" Co"', 'The "Best" Co'),
        ("accounts", "name", "Ünïcødé 🚀 名字", "Ünïcødé 🚀 名字"),
        ("accounts", "segment", "enterprise", "enterprise"),
        ("accounts", "segment", "Mid-Market", "mid-market"),
        ("accounts", "segment", "SMB", "smb"),
        ("accounts", "segment", "KA", "enterprise"),
        ("accounts", "segment", "ka", "enterprise"),
        ("accounts", "segment", " Ca ", "mid-market"),
        ("accounts", "employees", "0", 0),
        ("accounts", "employees", "12.0", 12),
        ("accounts", "employees", '"1,200"', 1200),
        ("accounts", "employees", "", None),
        ("accounts", "annual_revenue", "1234.50", 1234.5),
        ("accounts", "annual_revenue", '"1,234.50"', 1234.5),
        ("accounts", "annual_revenue", '"12,345,678"', 12345678.0),
        ("accounts", "annual_revenue", " 99 ", 99.0),
        ("accounts", "annual_revenue", ".5", 0.5),
        ("accounts", "created_at", "2024-02-29", "2024-02-29"),
        ("accounts", "created_at", "", None),
        ("products", "list_price", "0", 0.0),
        ("products", "unit", "", "seat"),
        ("products", "unit", "Usage", "usage"),
        ("subscriptions", "quantity", "", 1),
        ("subscriptions", "mrr", "", 20.0),
        ("subscriptions", "mrr", "0", 0.0),
        ("subscriptions", "status", "", "active"),
        ("subscriptions", "status", "TRIAL", "trial"),
        ("subscriptions", "end_date", "2025-01-01", "2025-01-01"),
        ("usage", "period", "2024-03", "2024-03-01"),
        ("usage", "period", "2024-03-01", "2024-03-01"),
        ("usage", "logins", "", None),
        ("contacts", "role", "Decision_Maker", "decision_maker"),
        ("contacts", "role", "", None),
        ("activities", "kind", "QBR", "qbr"),
        ("activities", "sentiment", "", None),
        ("nps", "score", "0", 0),
        ("nps", "score", "10", 10),
        ("bundles", "product_ids", " P1 ; P2 ;", "P1;P2"),
        ("bundles", "discount_pct", "100", 100.0),
    ],
)
def test_accepted_forms(tmp_path: Path, table: str, column: str, raw: str, stored: object) -> None:
    value, found = one_cell(tmp_path, table, column, raw)
    assert found == []
    assert value == stored
    assert type(value) is type(stored)


NUMBER = "is not a number (expected a plain decimal such as 1234.50)"
CURRENCY = "has a currency symbol; expected a plain number such as 1234.50"
DATE = "is not a date (expected YYYY-MM-DD)"
MONTH = "is not a month (expected YYYY-MM or the first day of a month, YYYY-MM-01)"
REQUIRED = "a value is required (the cell is empty)"


@pytest.mark.parametrize(
    ("table", "column", "raw", "message"),
    [
        ("contacts", "account_id", "", f"contacts.csv line 2, column account_id: {REQUIRED}"),
        (
            "contacts",
            "account_id",
            "7",
            "contacts.csv line 2, column account_id: '7' is not an account in accounts.csv",
        ),
        ("accounts", "name", "   ", f"accounts.csv line 2, column name: {REQUIRED}"),
        (
            "accounts",
            "segment",
            "mid market",
            "accounts.csv line 2, column segment: 'mid market' is not a valid",
        ),
        ("accounts", "segment", "key account", "column segment: 'key account' is not a valid segment"),
        (
            "accounts",
            "employees",
            "-1",
            "column employees: '-1' is out of range (expected a whole number >= 0)",
        ),
        ("accounts", "employees", "3.5", "column employees: '3.5' is not a whole number"),
        ("accounts", "employees", "ten", f"column employees: 'ten' {NUMBER}"),
        ("accounts", "employees_prev", "1e400", "column employees_prev: 'inf' is not a finite number"),
        ("accounts", "annual_revenue", "$100", f"column annual_revenue: '$100' {CURRENCY}"),
        ("accounts", "annual_revenue", '"$1,200.00"', f"column annual_revenue: '$1,200.00' {CURRENCY}"),
        ("accounts", "annual_revenue", "100 USD", f"column annual_revenue: '100 USD' {CURRENCY}"),
        ("accounts", "annual_revenue", "€5", f"column annual_revenue: '€5' {CURRENCY}"),
        ("accounts", "annual_revenue", "¥5", f"column annual_revenue: '¥5' {CURRENCY}"),
        ("accounts", "annual_revenue", '"1.234,50"', f"column annual_revenue: '1.234,50' {NUMBER}"),
        ("accounts", "annual_revenue", '"1,23"', f"column annual_revenue: '1,23' {NUMBER}"),
        ("accounts", "annual_revenue", "inf", "column annual_revenue: 'inf' is not a finite number"),
        ("accounts", "annual_revenue", "nan", f"column annual_revenue: 'nan' {NUMBER}"),
        ("accounts", "annual_revenue", "12%", f"column annual_revenue: '12%' {NUMBER}"),
        (
            "accounts",
            "annual_revenue",
            "-5",
            "column annual_revenue: '-5' is out of range (expected a number >= 0)",
        ),
        ("accounts", "created_at", "2023-02-29", f"column created_at: '2023-02-29' {DATE}"),
        ("accounts", "created_at", "2024-2-3", f"column created_at: '2024-2-3' {DATE}"),
        ("accounts", "created_at", "2024/02/03", f"column created_at: '2024/02/03' {DATE}"),
        ("accounts", "created_at", "03.02.2024", f"column created_at: '03.02.2024' {DATE}"),
        ("accounts", "created_at", "20240203", f"column created_at: '20240203' {DATE}"),
        ("accounts", "created_at", "2024-02-03T10:00", f"column created_at: '2024-02-03T10:00' {DATE}"),
        ("products", "list_price", "", f"products.csv line 2, column list_price: {REQUIRED}"),
        (
            "products",
            "unit",
            "seats",
            "column unit: 'seats' is not a valid unit (expected one of: seat, flat, usage)",
        ),
        ("subscriptions", "start_date", "", f"subscriptions.csv line 2, column start_date: {REQUIRED}"),
        (
            "subscriptions",
            "quantity",
            "0",
            "column quantity: '0' is out of range (expected a whole number >= 1)",
        ),
        ("subscriptions", "mrr", "-1", "column mrr: '-1' is out of range (expected a number >= 0)"),
        ("usage", "period", "2024-3", f"usage.csv line 2, column period: '2024-3' {MONTH}"),
        ("usage", "period", "2024-13", f"column period: '2024-13' {MONTH}"),
        ("usage", "period", "2024-00-01", f"column period: '2024-00-01' {MONTH}"),
        ("usage", "period", "2024-03-02", "column period: '2024-03-02' is not the first day of a month"),
        ("usage", "period", "", f"usage.csv line 2, column period: {REQUIRED}"),
        (
            "usage",
            "active_users",
            "-2",
            "column active_users: '-2' is out of range (expected a whole number >= 0)",
        ),
        ("contacts", "email", "", f"contacts.csv line 2, column email: {REQUIRED}"),
        ("contacts", "role", "owner", "column role: 'owner' is not a valid role"),
        ("activities", "date", "", f"activities.csv line 2, column date: {REQUIRED}"),
        ("activities", "kind", "", f"activities.csv line 2, column kind: {REQUIRED}"),
        ("activities", "sentiment", "happy", "column sentiment: 'happy' is not a valid sentiment"),
        ("nps", "score", "", f"nps.csv line 2, column score: {REQUIRED}"),
        ("nps", "score", "11", "column score: '11' is out of range (expected a whole number from 0 to 10)"),
        ("nps", "score", "-1", "column score: '-1' is out of range (expected a whole number from 0 to 10)"),
        ("nps", "score", "7.5", "column score: '7.5' is not a whole number"),
        ("bundles", "name", "", f"bundles.csv line 2, column name: {REQUIRED}"),
        ("bundles", "product_ids", "", f"bundles.csv line 2, column product_ids: {REQUIRED}"),
        ("bundles", "product_ids", "P1", "column product_ids: 'P1' lists fewer than 2 different products"),
        ("bundles", "discount_pct", "100.5", "column discount_pct: '100.5' is out of range"),
        ("bundles", "price", "-3", "column price: '-3' is out of range (expected a number >= 0)"),
    ],
)
def test_refused_forms(tmp_path: Path, table: str, column: str, raw: str, message: str) -> None:
    value, found = one_cell(tmp_path, table, column, raw)
    assert value is None, "a refused row must be left out of the batch"
    assert len(found) == 1, found
    assert message in found[0]
    assert found[0].startswith(f"{table}.csv line 2")
