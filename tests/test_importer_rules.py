"""Rules across rows and files: keys, references, churn, bundles, the error cap, streaming usage."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from core.importer import MAX_PER_FILE, ImportFailed, ImportIssue, open_portfolio, read_portfolio
from core.importer.tables import SeenKeys

ACCOUNTS = "account_id,name,segment\n007,Acme,enterprise\nA2,Beta,smb\n"
PRODUCTS = "product_id,name,list_price\nP1,CRM,10\nP2,Mail,5\nP3,Chat,2.5\n"
SUBSCRIPTIONS = "account_id,product_id,start_date\n007,P1,2024-01-01\nA2,P2,2024-02-01\n"


def folder(tmp_path: Path, **files: str) -> Path:
    contents = {"accounts": ACCOUNTS, "products": PRODUCTS, "subscriptions": SUBSCRIPTIONS, **files}
    for name, text in contents.items():
        (tmp_path / f"{name}.csv").write_text(text, encoding="utf-8")
    return tmp_path


def run(path: Path, chunk_rows: int = 200_000) -> tuple[dict[str, pd.DataFrame], list[str], object]:
    reader = open_portfolio(path, chunk_rows=chunk_rows)
    parts: dict[str, list[pd.DataFrame]] = {}
    for table, frame in reader.batches():
        parts.setdefault(table, []).append(frame)
    frames = {t: pd.concat(f, ignore_index=True) for t, f in parts.items()}
    return frames, [str(i) for i in reader.errors], reader


# -- keys ----------------------------------------------------------------------------------------


def test_duplicate_keys_are_reported_at_each_repeat_and_the_first_row_is_kept(tmp_path: Path) -> None:
    accounts = ACCOUNTS + "007,Acme again,smb\nA2,Beta again,smb\n007,Thrice,smb\n"
    frames, found, _ = run(folder(tmp_path, accounts=accounts))
    assert found == [
        "accounts.csv line 4, column account_id: '007' repeats line 2: (account_id) must be unique in the file",
        "accounts.csv line 5, column account_id: 'A2' repeats line 3: (account_id) must be unique in the file",
        "accounts.csv line 6, column account_id: '007' repeats line 2: (account_id) must be unique in the file",
    ]
    assert frames["accounts"]["name"].tolist() == ["Acme", "Beta"]


def test_keys_compare_normalised_values(tmp_path: Path) -> None:
    usage = "account_id,product_id,period\n007,P1,2024-01\n 007 ,P1,2024-01-01\n"
    _, found, _ = run(folder(tmp_path, usage=usage))
    assert found == [
        "usage.csv line 3, column account_id, product_id, period: '007 / P1 / 2024-01-01' repeats line 2: "
        "(account_id, product_id, period) must be unique in the file"
    ]


def test_same_account_product_with_another_start_date_is_a_new_subscription(tmp_path: Path) -> None:
    subscriptions = SUBSCRIPTIONS + "007,P1,2022-01-01,,,,churned,2023-01-01\n"
    subscriptions = subscriptions.replace(
        "start_date\n", "start_date,end_date,quantity,mrr,status,churned_at\n"
    )
    frames, found, _ = run(folder(tmp_path, subscriptions=subscriptions))
    assert found == []
    assert len(frames["subscriptions"]) == 3


def test_nps_key_includes_the_email_and_an_empty_email_counts_once(tmp_path: Path) -> None:
    nps = "account_id,date,score,email\n007,2024-01-01,9,a@x\n007,2024-01-01,8,b@x\n007,2024-01-01,7,\n007,2024-01-01,6,\n"
    frames, found, _ = run(folder(tmp_path, nps=nps))
    assert found == [
        "nps.csv line 5, column account_id, date, email: '007 / 2024-01-01 / ' repeats line 4: "
        "(account_id, date, email) must be unique in the file"
    ]
    assert frames["nps"]["email"].tolist() == ["a@x", "b@x", ""]


def test_contacts_key_is_account_and_email(tmp_path: Path) -> None:
    contacts = "account_id,name,email\n007,Jo,jo@x\nA2,Jo,jo@x\n007,Joanne,jo@x\n"
    _, found, _ = run(folder(tmp_path, contacts=contacts))
    assert found == [
        "contacts.csv line 4, column account_id, email: '007 / jo@x' repeats line 2: "
        "(account_id, email) must be unique in the file"
    ]


def test_activities_have_no_key_and_exact_repeats_collapse(tmp_path: Path) -> None:
    activities = "account_id,date,kind,subject\n007,2024-01-01,call,Hi\n007,2024-01-01,Call, Hi \n007,2024-01-01,call,Bye\n"
    frames, found, _ = run(folder(tmp_path, activities=activities))
    assert found == []
    assert frames["activities"]["subject"].tolist() == ["Hi", "Bye"]


def test_seen_keys_against_a_second_method() -> None:
    rng = np.random.default_rng(7)
    keys = rng.integers(-1, 400, 3000)
    lines = np.arange(2, 3002)
    seen = SeenKeys()
    got_repeat, got_first = [], []
    for start in range(0, 3000, 250):
        repeated, first = seen.repeats(keys[start : start + 250], lines[start : start + 250])
        got_repeat.append(repeated)
        got_first.append(first)
    first_line: dict[int, int] = {}
    want_repeat, want_first = [], []
    for key, line in zip(keys.tolist(), lines.tolist(), strict=True):
        again = key >= 0 and key in first_line
        want_repeat.append(again)
        want_first.append(first_line[key] if again else -1)
        if key >= 0:
            first_line.setdefault(key, line)
    assert np.concatenate(got_repeat).tolist() == want_repeat
    assert np.concatenate(got_first).tolist() == want_first


# -- references ----------------------------------------------------------------------------------


def test_every_reference_is_checked(tmp_path: Path) -> None:
    files = {
        "subscriptions": "account_id,product_id,start_date\n007,P1,2024-01-01\nA9,P2,2024-01-01\n007,P9,2024-01-01\n",
        "contacts": "account_id,name,email\nA9,Jo,jo@x\n",
        "activities": "account_id,date,kind,product_id\n007,2024-01-01,call,P9\nA9,2024-01-01,call,\n",
        "nps": "account_id,date,score\nA9,2024-01-01,5\n",
        "usage": "account_id,product_id,period\nA9,P1,2024-01\n007,P9,2024-01\n",
        "bundles": "bundle_id,name,product_ids,price\nB1,X,P1;P9;P8,10\n",
    }
    _, found, _ = run(folder(tmp_path, **files))
    assert found == [
        "bundles.csv line 2, column product_ids: 'P1;P9;P8' names 'P9', 'P8', which are not products in products.csv",
        "subscriptions.csv line 3, column account_id: 'A9' is not an account in accounts.csv",
        "subscriptions.csv line 4, column product_id: 'P9' is not a product in products.csv",
        "contacts.csv line 2, column account_id: 'A9' is not an account in accounts.csv",
        "activities.csv line 2, column product_id: 'P9' is not a product in products.csv",
        "activities.csv line 3, column account_id: 'A9' is not an account in accounts.csv",
        "nps.csv line 2, column account_id: 'A9' is not an account in accounts.csv",
        "usage.csv line 2, column account_id: 'A9' is not an account in accounts.csv",
        "usage.csv line 3, column product_id: 'P9' is not a product in products.csv",
    ]


def test_a_bad_account_row_still_counts_as_an_account_for_references(tmp_path: Path) -> None:
    _, found, _ = run(folder(tmp_path, accounts="account_id,name,segment\n007,Acme,gold\nA2,Beta,smb\n"))
    assert found == [
        "accounts.csv line 2, column segment: 'gold' is not a valid segment "
        "(expected one of: enterprise, mid-market, smb; or KA, CA)"
    ]


def test_an_unreadable_accounts_file_does_not_cascade_and_other_files_are_still_checked(
    tmp_path: Path,
) -> None:
    path = folder(tmp_path, accounts="account_id,name\n007,Acme\n", products=PRODUCTS + "P4,Bad,-1\n")
    _, found, _ = run(path)
    assert found == [
        "accounts.csv line 1, column segment: the header lacks this required column",
        "products.csv line 5, column list_price: '-1' is out of range (expected a number >= 0)",
    ]


# -- subscriptions and bundles -------------------------------------------------------------------

SUB_HEADER = "account_id,product_id,start_date,end_date,quantity,mrr,status,churned_at\n"


def test_churn_rules(tmp_path: Path) -> None:
    subscriptions = SUB_HEADER + (
        "007,P1,2024-01-01,,,,churned,2024-06-01\n"
        "007,P2,2024-01-01,,,,churned,\n"
        "007,P3,2024-01-01,,,,churned,2023-12-31\n"
        "A2,P1,2024-01-01,,,,churned,2024-01-01\n"
        "A2,P2,2024-01-01,,,,active,2024-03-01\n"
    )
    frames, found, _ = run(folder(tmp_path, subscriptions=subscriptions))
    assert found == [
        "subscriptions.csv line 3, column churned_at: a date is required when status is 'churned'",
        "subscriptions.csv line 4, column churned_at: '2023-12-31' is before start_date '2024-01-01' "
        "(a subscription cannot churn before it starts)",
    ]
    assert len(frames["subscriptions"]) == 3


def test_mrr_defaults_to_list_price_times_quantity(tmp_path: Path) -> None:
    subscriptions = SUB_HEADER + "007,P1,2024-01-01,,4,,,\n007,P3,2024-01-01,,,,,\nA2,P2,2024-01-01,,3,7,,\n"
    frames, found, _ = run(folder(tmp_path, subscriptions=subscriptions))
    assert found == []
    assert frames["subscriptions"]["mrr"].tolist() == [40.0, 2.5, 7.0]
    assert frames["subscriptions"]["quantity"].tolist() == [4, 1, 3]


def test_bundle_price_rules(tmp_path: Path) -> None:
    bundles = (
        "bundle_id,name,product_ids,price,discount_pct\n"
        "B1,Both,P1;P2,12,10\nB2,Price,P1;P3,0,\nB3,Discount,P2;P3,,0\nB4,Neither,P1;P2,,\nB5,Three,P1;P2;P3,,50\n"
    )
    frames, found, _ = run(folder(tmp_path, bundles=bundles))
    assert found == [
        "bundles.csv line 5, column price: a price or a discount_pct is required (both are empty)"
    ]
    assert frames["bundles"]["bundle_id"].tolist() == ["B1", "B2", "B3", "B5"]
    assert frames["bundles"]["product_ids"].tolist() == ["P1;P2", "P1;P3", "P2;P3", "P1;P2;P3"]


# -- all errors, the cap and the report ----------------------------------------------------------


def test_every_error_in_a_row_and_in_every_file_is_reported(tmp_path: Path) -> None:
    accounts = "account_id,name,segment,employees,created_at\n007,,gold,-1,yesterday\nA2,Beta,smb,,\n"
    usage = "account_id,product_id,period,logins\nA2,P1,2024-01,x\n"
    _, found, reader = run(folder(tmp_path, accounts=accounts, usage=usage))
    assert [f.split(":")[0] for f in found] == [
        "accounts.csv line 2, column name",
        "accounts.csv line 2, column segment",
        "accounts.csv line 2, column employees",
        "accounts.csv line 2, column created_at",
        "usage.csv line 2, column logins",
    ]
    assert reader.error_counts == {"accounts.csv": 4, "usage.csv": 1}


def test_the_list_is_capped_at_50_per_file_with_the_total(tmp_path: Path) -> None:
    accounts = "account_id,name,segment\n" + "".join(f"A{i},N{i},gold\n" for i in range(120))
    products = "product_id,name,list_price\n" + "".join(f"P{i},N,-{i + 1}\n" for i in range(60))
    path = folder(
        tmp_path, accounts=accounts, products=products, subscriptions="account_id,product_id,start_date\n"
    )
    reader = open_portfolio(path)
    for _ in reader.batches():
        pass
    assert reader.error_counts == {"accounts.csv": 120, "products.csv": 60}
    listed = reader.errors
    assert len(listed) == 2 * MAX_PER_FILE
    assert [i.line for i in listed if i.file == "accounts.csv"] == list(range(2, 52))
    with pytest.raises(ImportFailed) as failure:
        reader.raise_if_failed()
    report = str(failure.value)
    assert report.startswith("The import failed: 180 problems in 2 files.")
    assert "  … and 70 more in accounts.csv (120 in all)." in report
    assert "  … and 10 more in products.csv (60 in all)." in report
    assert failure.value.total == 180
    assert failure.value.totals == {"accounts.csv": 120, "products.csv": 60}
    assert all(isinstance(i, ImportIssue) for i in failure.value.issues)


def test_cap_keeps_the_earliest_lines_across_chunks(tmp_path: Path) -> None:
    usage = "account_id,product_id,period,logins\n" + "".join(
        f"007,P1,{2000 + i}-01,-1\n" for i in range(130)
    )
    reader = open_portfolio(folder(tmp_path, usage=usage), chunk_rows=16)
    for _ in reader.batches():
        pass
    assert reader.error_counts == {"usage.csv": 130}
    assert [i.line for i in reader.errors] == list(range(2, 52))


def test_invalid_rows_are_left_out_and_valid_rows_kept(tmp_path: Path) -> None:
    usage = "account_id,product_id,period,logins\n007,P1,2024-01,1\n007,P1,2024-02,x\n007,P1,2024-03,3\n"
    frames, found, reader = run(folder(tmp_path, usage=usage))
    assert len(found) == 1
    assert frames["usage"]["period"].tolist() == ["2024-01-01", "2024-03-01"]
    with pytest.raises(ImportFailed):
        reader.raise_if_failed()


def test_a_clean_folder_does_not_raise(tmp_path: Path) -> None:
    reader = open_portfolio(folder(tmp_path))
    list(reader.batches())
    reader.raise_if_failed()


# -- streaming usage and extra metrics -----------------------------------------------------------


def test_usage_streams_in_bounded_chunks_and_finds_repeats_across_chunks(tmp_path: Path) -> None:
    body = "".join(f"007,P{1 + i % 3},{2000 + i // 3}-01,{i}\n" for i in range(30))
    usage = "account_id,product_id,period,logins\n" + body + "007,P2,2000-01,99\n"
    reader = open_portfolio(folder(tmp_path, usage=usage), chunk_rows=4)
    sizes = [len(frame) for table, frame in reader.batches() if table == "usage"]
    assert max(sizes) <= 4 and sum(sizes) == 30
    assert [str(i) for i in reader.errors] == [
        "usage.csv line 32, column account_id, product_id, period: '007 / P2 / 2000-01-01' repeats line 3: "
        "(account_id, product_id, period) must be unique in the file"
    ]


def test_extra_usage_columns_become_usage_extra_rows(tmp_path: Path) -> None:
    usage = (
        "account_id,product_id,period,logins, API Calls ,Storage_GB\n"
        '007,P1,2024-01,3,"1,500",2.5\n'
        "007,P1,2024-02,4,,-0.5\n"
        "A2,P2,2024-01,,7,\n"
    )
    frames, found, reader = run(folder(tmp_path, usage=usage), chunk_rows=2)
    assert found == [] and reader.warnings == []
    extra = frames["usage_extra"].sort_values(["metric", "account_id", "period"]).reset_index(drop=True)
    assert extra.to_dict("list") == {
        "account_id": ["007", "A2", "007", "007"],
        "product_id": ["P1", "P2", "P1", "P1"],
        "period": ["2024-01-01", "2024-01-01", "2024-01-01", "2024-02-01"],
        "metric": ["api calls", "api calls", "storage_gb", "storage_gb"],
        "value": [1500.0, 7.0, 2.5, -0.5],
    }


def test_no_extra_columns_means_no_usage_extra_batches(tmp_path: Path) -> None:
    reader = open_portfolio(folder(tmp_path, usage="account_id,product_id,period\n007,P1,2024-01\n"))
    assert [t for t, _ in reader.batches()][-1] == "usage"


def test_usage_frames_have_store_types(tmp_path: Path) -> None:
    usage = (
        "account_id,product_id,period,active_users,licensed_seats,logins,key_events\n007,P1,2024-01,1,,3,4\n"
    )
    frames = read_portfolio(folder(tmp_path, usage=usage))
    usage_frame = frames["usage"]
    assert str(usage_frame["account_id"].dtype) == "str"
    assert str(usage_frame["logins"].dtype) == "Int64"
    assert usage_frame["licensed_seats"].isna().tolist() == [True]
