"""Rebuild the defect folders from ``valid/``: one folder per kind of defect.

Each ``bad_*`` folder holds the three required files plus the file under test, with
exactly one defect, and ``expected.txt``: the complete list of messages the import
must report (one per line). Run from anywhere: ``python tests/data/import/build.py``.
"""

from __future__ import annotations

import csv
import io
import shutil
from pathlib import Path

HERE = Path(__file__).resolve().parent
VALID = HERE / "valid"
REQUIRED = ("accounts.csv", "products.csv", "subscriptions.csv")
HEADER_HINT = "(is a comma inside a value missing its quotes?)"
SEGMENTS = "enterprise, mid-market, smb; or KA, CA"
MONTH = "(expected YYYY-MM or the first day of a month, YYYY-MM-01)"


def replace(old: str, new: str):
    def edit(text: str) -> str:
        assert text.count(old) == 1, old
        return text.replace(old, new)

    return edit


# name: (file, edit of the valid file's text or None to delete it or bytes to write, expected messages)
DEFECTS: dict[str, tuple[str, object, list[str]]] = {
    "bad_missing_file": (
        "subscriptions.csv",
        None,
        [
            "subscriptions.csv: is missing: every portfolio folder needs accounts.csv, products.csv and "
            "subscriptions.csv"
        ],
    ),
    "bad_unknown_product": (
        "subscriptions.csv",
        replace("A2,P1,", "A2,P9,"),
        ["subscriptions.csv line 4, column product_id: 'P9' is not a product in products.csv"],
    ),
    "bad_unknown_product_case": (
        "subscriptions.csv",
        replace("A2,P1,", "A2,p1,"),
        ["subscriptions.csv line 4, column product_id: 'p1' is not a product in products.csv (did you mean 'P1'?)"],
    ),
    "bad_unknown_account": (
        "contacts.csv",
        replace("A4,王芳", "A9,王芳"),
        ["contacts.csv line 5, column account_id: 'A9' is not an account in accounts.csv"],
    ),
    "bad_segment": (
        "accounts.csv",
        replace(",KA,", ",Gold,"),
        [f"accounts.csv line 3, column segment: 'Gold' is not a valid segment (expected one of: {SEGMENTS})"],
    ),
    "bad_date": (
        "accounts.csv",
        replace("2019-03-01", "01/03/2019"),
        ["accounts.csv line 2, column created_at: '01/03/2019' is not a date (expected YYYY-MM-DD)"],
    ),
    "bad_calendar_date": (
        "subscriptions.csv",
        replace("2022-02-01", "2022-02-30"),
        ["subscriptions.csv line 5, column start_date: '2022-02-30' is not a date (expected YYYY-MM-DD)"],
    ),
    "bad_period": (
        "usage.csv",
        replace("2024-02-01", "2024-02-15"),
        [f"usage.csv line 3, column period: '2024-02-15' is not the first day of a month {MONTH}"],
    ),
    "bad_period_text": (
        "usage.csv",
        replace("A4,P1,2024-01,", "A4,P1,Jan 2024,"),
        [f"usage.csv line 4, column period: 'Jan 2024' is not a month {MONTH}"],
    ),
    "bad_currency": (
        "products.csv",
        replace("Growth,20,", "Growth,$20,"),
        ["products.csv line 4, column list_price: '$20' has a currency symbol; expected a plain number such as 1234.50"],
    ),
    "bad_decimal_comma": (
        "accounts.csv",
        replace('"1,234,500.50"', '"1.234.500,50"'),
        [
            "accounts.csv line 2, column annual_revenue: '1.234.500,50' is not a number "
            "(expected a plain decimal such as 1234.50)"
        ],
    ),
    "bad_too_many_fields": (
        "products.csv",
        replace("P3,Analytics,Growth,20,", "P3,Analytics,Growth,1,200,"),
        [f"products.csv line 4: has more fields than the header's 6 columns {HEADER_HINT}"],
    ),
    "bad_negative": (
        "accounts.csv",
        replace(",45,50,", ",-45,50,"),
        ["accounts.csv line 4, column employees: '-45' is out of range (expected a whole number >= 0)"],
    ),
    "bad_fraction": (
        "subscriptions.csv",
        replace(",5,100,trial", ",2.5,100,trial"),
        ["subscriptions.csv line 5, column quantity: '2.5' is not a whole number"],
    ),
    "bad_quantity_zero": (
        "subscriptions.csv",
        replace(",5,100,trial", ",0,100,trial"),
        ["subscriptions.csv line 5, column quantity: '0' is out of range (expected a whole number >= 1)"],
    ),
    "bad_duplicate_key": (
        "accounts.csv",
        lambda text: text + "A2,Beta again,smb,,,,,,,,,\n",
        ["accounts.csv line 7, column account_id: 'A2' repeats line 3: (account_id) must be unique in the file"],
    ),
    "bad_duplicate_subscription": (
        "subscriptions.csv",
        replace("A3,P3,2022-02-01", "007,P1,2020-01-01"),
        [
            "subscriptions.csv line 5, column account_id, product_id, start_date: '007 / P1 / 2020-01-01' "
            "repeats line 2: (account_id, product_id, start_date) must be unique in the file"
        ],
    ),
    "bad_churned_without_date": (
        "subscriptions.csv",
        replace("churned,2023-05-01", "churned,"),
        ["subscriptions.csv line 4, column churned_at: a date is required when status is 'churned'"],
    ),
    "bad_churned_before_start": (
        "subscriptions.csv",
        replace("churned,2023-05-01", "churned,2019-01-01"),
        [
            "subscriptions.csv line 4, column churned_at: '2019-01-01' is before start_date '2020-05-01' "
            "(a subscription cannot churn before it starts)"
        ],
    ),
    "bad_status": (
        "subscriptions.csv",
        replace(",trial,", ",cancelled,"),
        [
            "subscriptions.csv line 5, column status: 'cancelled' is not a valid status "
            "(expected one of: active, churned, trial)"
        ],
    ),
    "bad_bundle_one_product": (
        "bundles.csv",
        replace("P1; P2", "P1; P1"),
        [
            "bundles.csv line 2, column product_ids: 'P1; P1' lists fewer than 2 different products "
            "(a bundle needs at least 2)"
        ],
    ),
    "bad_bundle_unknown_product": (
        "bundles.csv",
        replace("P3;P4", "P3;P9"),
        ["bundles.csv line 3, column product_ids: 'P3;P9' names 'P9', which is not a product in products.csv"],
    ),
    "bad_bundle_no_price": (
        "bundles.csv",
        replace(",,15", ",,"),
        ["bundles.csv line 3, column price: a price or a discount_pct is required (both are empty)"],
    ),
    "bad_discount_range": (
        "bundles.csv",
        replace(",,15", ",,150"),
        ["bundles.csv line 3, column discount_pct: '150' is out of range (expected a number from 0 to 100)"],
    ),
    "bad_missing_column": (
        "accounts.csv",
        lambda text: _drop_column(text, 2),
        ["accounts.csv line 1, column segment: the header lacks this required column"],
    ),
    "bad_misspelt_column": (
        "products.csv",
        replace("LIST_PRICE", "list price"),
        ["products.csv line 1, column list_price: the header lacks this required column (did you mean 'list price'?)"],
    ),
    "bad_duplicate_column": (
        "products.csv",
        replace("department\n", "name\n"),
        ["products.csv line 1, column name: appears more than once in the header (columns 2 and 6)"],
    ),
    "bad_required_empty": (
        "accounts.csv",
        replace("A4,北京科技有限公司,", "A4, ,"),
        ["accounts.csv line 5, column name: a value is required (the cell is empty)"],
    ),
    "bad_nps_score": (
        "nps.csv",
        replace(",9,jo@", ",11,jo@"),
        ["nps.csv line 2, column score: '11' is out of range (expected a whole number from 0 to 10)"],
    ),
    "bad_role": (
        "contacts.csv",
        replace(",champion,", ",boss,"),
        [
            "contacts.csv line 3, column role: 'boss' is not a valid role "
            "(expected one of: decision_maker, champion, evaluator, user, billing)"
        ],
    ),
    "bad_kind_after_quoted_newline": (
        "activities.csv",
        replace(",email,Follow-up", ",lunch,Follow-up"),
        [
            "activities.csv line 4, column kind: 'lunch' is not a valid kind "
            "(expected one of: call, meeting, email, qbr, ticket, note)"
        ],
    ),
    "bad_activity_product": (
        "activities.csv",
        lambda text: text.replace("Login issue,P1,negative\n", "Login issue,P7,negative\n", 1),
        ["activities.csv line 5, column product_id: 'P7' is not a product in products.csv"],
    ),
    "bad_usage_extra": (
        "usage.csv",
        replace('"1,500",3', '"1,500",many'),
        ["usage.csv line 2, column exports: 'many' is not a number (expected a plain decimal such as 1234.50)"],
    ),
    "bad_usage_integer": (
        "usage.csv",
        replace(",130,", ",12k,"),
        ["usage.csv line 3, column logins: '12k' is not a number (expected a plain decimal such as 1234.50)"],
    ),
    "bad_usage_duplicate": (
        "usage.csv",
        replace("2024-02-01", "2024-01-01"),
        [
            "usage.csv line 3, column account_id, product_id, period: '007 / P1 / 2024-01-01' repeats line 2: "
            "(account_id, product_id, period) must be unique in the file"
        ],
    ),
    "bad_not_csv": (
        "accounts.csv",
        b"PK\x03\x04\x14\x00\x06\x00\x08\x00\x00\x00!\x00" + bytes(range(256)),
        ["accounts.csv: is an Excel workbook, not a CSV file: save it as CSV (UTF-8) and import again"],
    ),
    "bad_binary": (
        "products.csv",
        b"\x00\x01\x02binary\x00\xff" * 20,
        ["products.csv: is not a text CSV file (it contains binary data)"],
    ),
    "bad_empty_file": (
        "contacts.csv",
        b"",
        ["contacts.csv: is empty: a CSV file with a header row was expected"],
    ),
    "bad_undecodable": (
        "nps.csv",
        "account_id,date,score,email\n007,2024-01-01,9,jo@acme.example\nA2,2023-06-01,3,\xff\xfe\n".encode("latin-1"),
        [
            "nps.csv line 3: is neither UTF-8 nor GB18030 text (first bad byte on line 3): "
            "save it as CSV UTF-8 or give its encoding"
        ],
    ),
    "bad_unclosed_quote": (
        "contacts.csv",
        replace("Buyer,", '"Buyer,'),
        ["contacts.csv line 4: has a quote that is never closed: check for a stray double quote"],
    ),
}


def _drop_column(text: str, position: int) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    for row in csv.reader(io.StringIO(text)):
        writer.writerow(cell for i, cell in enumerate(row) if i != position)
    return out.getvalue()


def build() -> None:
    for old in HERE.glob("bad_*"):
        shutil.rmtree(old)
    for name, (file, edit, expected) in DEFECTS.items():
        folder = HERE / name
        folder.mkdir()
        for required in REQUIRED:
            shutil.copyfile(VALID / required, folder / required)
        if file not in REQUIRED:
            shutil.copyfile(VALID / file, folder / file)
        target = folder / file
        if edit is None:
            target.unlink()
        elif isinstance(edit, bytes):
            target.write_bytes(edit)
        else:
            target.write_text(edit(target.read_text(encoding="utf-8")), encoding="utf-8")
        (folder / "expected.txt").write_text("\n".join(expected) + "\n", encoding="utf-8")


if __name__ == "__main__":
    build()
