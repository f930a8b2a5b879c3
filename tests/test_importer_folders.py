"""The importer on the checked-in folders: the valid one read exactly, each defect reported exactly."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest

from core.importer import STORE_COLUMNS, ImportFailed, open_portfolio, read_portfolio

DATA = Path(__file__).parent / "data" / "import"
DEFECTS = sorted(p.name for p in DATA.glob("bad_*"))


def rows(frame: pd.DataFrame) -> list[tuple]:
    """Rows as plain tuples with every kind of missing as None, for exact comparison."""

    def plain(value: object) -> object:
        if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
            return None
        return value.item() if hasattr(value, "item") else value

    return [tuple(plain(v) for v in row) for row in frame.itertuples(index=False)]


@pytest.fixture(scope="module")
def valid() -> dict[str, pd.DataFrame]:
    return read_portfolio(DATA / "valid")


def test_every_table_has_the_store_columns_in_order(valid: dict[str, pd.DataFrame]) -> None:
    assert set(valid) == set(STORE_COLUMNS)
    for table, frame in valid.items():
        assert tuple(frame.columns) == STORE_COLUMNS[table], table


def test_accounts_keep_ids_as_text_and_map_segment_aliases(valid: dict[str, pd.DataFrame]) -> None:
    assert rows(valid["accounts"]) == [
        (
            "007",
            "Acme GmbH",
            "enterprise",
            "Manufacturing",
            "EMEA",
            1200,
            1100,
            1234500.5,
            "Dana",
            "Lee",
            "2019-03-01",
        ),
        ("A2", "Beta Ltd", "enterprise", "Retail", "APAC", 300, None, 2500000.0, "Dana", None, "2020-07-15"),
        ("A3", "Café Olé", "mid-market", "Food", "EMEA", 45, 50, None, "Sam", "Lee", None),
        ("A4", "北京科技有限公司", "mid-market", "Tech", "APAC", None, None, None, None, None, "2021-01-10"),
        ("A5", "Emoji 🚀 Inc", "smb", None, "NA", 8, 5, 99000.0, "Sam", None, None),
    ]


def test_products_header_is_case_and_space_insensitive_and_unit_defaults_to_seat(
    valid: dict[str, pd.DataFrame],
) -> None:
    assert rows(valid["products"]) == [
        ("P1", "CRM", "Core", 50.0, "seat", "Sales"),
        ("P2", "Marketing Hub", "Growth", 1200.0, "flat", "Marketing"),
        ("P3", "Analytics", "Growth", 20.0, "seat", "IT"),
        ("P4", "API Credits", "Platform", 0.5, "usage", "IT"),
    ]


def test_subscriptions_defaults_quantity_status_and_mrr_from_list_price(
    valid: dict[str, pd.DataFrame],
) -> None:
    assert rows(valid["subscriptions"]) == [
        ("007", "P1", "2020-01-01", "2025-01-01", 10, 450.0, "active", None),
        ("007", "P2", "2021-06-01", None, 1, 1200.0, "active", None),
        ("A2", "P1", "2020-05-01", "2024-05-01", 3, 150.0, "churned", "2023-05-01"),
        ("A3", "P3", "2022-02-01", None, 5, 100.0, "trial", None),
        ("A4", "P1", "2021-01-10", None, 2, 100.0, "active", None),
        ("A5", "P4", "2023-03-01", None, 1000, 500.0, "active", None),
    ]


def test_bundles_trim_and_join_product_ids(valid: dict[str, pd.DataFrame]) -> None:
    assert rows(valid["bundles"]) == [
        ("B1", "Growth Pack", "P1;P2", 1100.0, None),
        ("B2", "Data Pack", "P3;P4", None, 15.0),
    ]


def test_contacts_and_nps_with_missing_email_as_empty_text(valid: dict[str, pd.DataFrame]) -> None:
    assert rows(valid["contacts"])[0] == (
        "007", "jo@acme.example", "Jo Müller", "CTO", "IT", "decision_maker", "2024-01-15",
    )  # fmt: skip
    assert rows(valid["contacts"])[3] == ("A4", "wang@bj.example", "王芳", "经理", "IT", None, None)
    assert rows(valid["nps"]) == [
        ("007", "2024-01-01", "jo@acme.example", 9),
        ("007", "2024-01-01", "", 7),
        ("A2", "2023-06-01", "lee@beta.example", 3),
    ]


def test_activities_keep_quoted_newlines_and_drop_exact_repeats(valid: dict[str, pd.DataFrame]) -> None:
    activities = valid["activities"]
    assert len(activities) == 3
    assert activities["subject"].iloc[0] == "QBR, with notes\non two lines"
    assert activities["activity_key"].is_unique
    assert rows(activities.drop(columns="activity_key"))[2] == (
        "A2", "2023-04-01", "ticket", "Login issue", "P1", "negative",
    )  # fmt: skip


def test_activity_key_is_stable_across_imports(valid: dict[str, pd.DataFrame]) -> None:
    again = read_portfolio(DATA / "valid")["activities"]
    assert again["activity_key"].tolist() == valid["activities"]["activity_key"].tolist()


def test_activity_key_is_the_digest_earlier_versions_stored(valid: dict[str, pd.DataFrame]) -> None:
    """A re-import matches the stored activities by this key: its recipe may never change."""
    import hashlib

    for row in valid["activities"].itertuples(index=False):
        cells = [row.account_id, row.date, row.kind, row.subject, row.product_id, row.sentiment]
        text = "\x1f".join("" if pd.isna(cell) else str(cell) for cell in cells)
        assert row.activity_key == hashlib.blake2b(text.encode(), digest_size=12).hexdigest()


def test_usage_period_month_forms_and_extra_metrics(valid: dict[str, pd.DataFrame]) -> None:
    assert rows(valid["usage"]) == [
        ("007", "P1", "2024-01-01", 8, 10, 120, 40),
        ("007", "P1", "2024-02-01", 9, 10, 130, 45),
        ("A4", "P1", "2024-01-01", 2, 2, 10, None),
    ]
    assert sorted(rows(valid["usage_extra"])) == [
        ("007", "P1", "2024-01-01", "api calls", 1500.0),
        ("007", "P1", "2024-01-01", "exports", 3.0),
        ("A4", "P1", "2024-01-01", "api calls", 25.5),
    ]


def test_unknown_column_is_a_warning_not_an_error() -> None:
    reader = open_portfolio(DATA / "valid")
    for _ in reader.batches():
        pass
    assert reader.errors == []
    assert reader.warnings == ["accounts.csv: column 'notes' is not part of accounts and was ignored"]


def test_tables_come_in_dependency_order() -> None:
    order = [table for table, _ in open_portfolio(DATA / "valid").batches()]
    assert order == [
        "accounts", "products", "bundles", "subscriptions", "contacts", "activities", "nps", "usage",
        "usage_extra",
    ]  # fmt: skip


@pytest.mark.parametrize("folder", DEFECTS)
def test_each_defect_is_reported_with_file_line_column_and_value(folder: str) -> None:
    expected = (DATA / folder / "expected.txt").read_text(encoding="utf-8").splitlines()
    reader = open_portfolio(DATA / folder)
    for _ in reader.batches():
        pass
    assert [str(issue) for issue in reader.errors] == expected
    with pytest.raises(ImportFailed) as failure:
        reader.raise_if_failed()
    for line in expected:
        assert line in str(failure.value)


def test_defect_folders_cover_the_rules() -> None:
    assert len(DEFECTS) >= 35


@pytest.mark.parametrize("folder", ["bad_unknown_product", "bad_missing_file", "bad_not_csv"])
def test_read_portfolio_raises_import_failed_never_a_traceback(folder: str) -> None:
    with pytest.raises(ImportFailed) as failure:
        read_portfolio(DATA / folder)
    assert failure.value.total == 1
    assert str(failure.value).startswith("The import failed: 1 problem in 1 file.")
