"""Association rules: hand-counted small books, then a brute-force second method on a random 2,000-account book."""

from __future__ import annotations

import math
from itertools import combinations

import numpy as np
import pandas as pd
import pytest

from core.affinity.rules import (
    RULE_COLUMNS,
    all_and_segment_rules,
    association_rules_frame,
    frequent_itemsets,
    ownership_onehot,
    segment_rules,
)
from core.frames import SEGMENTS, Portfolio
from core.settings import resolve

AS_OF = pd.Timestamp("2024-06-30")


def make_book(
    owned: dict[str, list[str]], segments: dict[str, str] | None = None, extra: list[dict] = ()
) -> Portfolio:
    """Accounts owning products through active subscriptions started in 2023 (plus any extra rows)."""
    ids = list(owned)
    products = sorted({p for items in owned.values() for p in items} | {"Z"})
    rows = [
        {"account_id": a, "product_id": p, "start_date": pd.Timestamp("2023-01-01"), "status": "active"}
        for a, items in owned.items()
        for p in items
    ] + list(extra)
    subs = pd.DataFrame(rows, columns=["account_id", "product_id", "start_date", "status", "churned_at"])
    subs = subs.assign(
        end_date=pd.NaT,
        quantity=1,
        mrr=100.0,
        churned_at=pd.to_datetime(subs["churned_at"]),
        start_date=pd.to_datetime(subs["start_date"]),
    )
    accounts = pd.DataFrame(
        {"account_id": ids, "name": ids, "segment": [(segments or {}).get(a, "smb") for a in ids]}
    )
    catalogue = pd.DataFrame(
        {"product_id": products, "name": [f"Product {p}" for p in products], "list_price": 1.0}
    )
    return Portfolio(accounts=accounts, products=catalogue, subscriptions=subs)


# Ten accounts; A is owned by 6, B by 5, C by 3; A&B by 4, A&C by 2, B&C by 2, A&B&C by 2. A09 owns nothing.
HAND = {
    "a0": ["A", "B", "C"],
    "a1": ["A", "B", "C"],
    "a2": ["A", "B"],
    "a3": ["A", "B"],
    "a4": ["A"],
    "a5": ["A"],
    "a6": ["B"],
    "a7": ["C"],
    "a8": [],
    "a9": [],
}


def settings(**changes: object) -> dict:
    base = {
        "rules.min_support": 0.0,
        "rules.min_count": 2,
        "rules.min_confidence": 0.0,
        "rules.min_lift": 0.0,
    }
    return resolve({**base, **{k.replace("_", ".", 1): v for k, v in changes.items()}})


def rule(frame: pd.DataFrame, left: str, right: str) -> pd.Series:
    found = frame[(frame["antecedents"] == left) & (frame["consequents"] == right)]
    assert len(found) == 1, f"{left} -> {right} missing"
    return found.iloc[0]


def test_columns_and_hand_counted_numbers() -> None:
    rules = association_rules_frame(make_book(HAND), settings(), AS_OF)
    assert list(rules.columns[:8]) == RULE_COLUMNS
    assert {"segment", "antecedent_count"} <= set(rules.columns)
    a_b = rule(rules, "A", "B")
    assert a_b["count"] == 4 and a_b["antecedent_count"] == 6
    assert a_b["support"] == 4 / 10  # accounts owning nothing count in the denominator
    assert a_b["confidence"] == 4 / 6
    assert a_b["lift"] == pytest.approx((4 / 6) / (5 / 10), abs=1e-12)
    assert a_b["leverage"] == pytest.approx(0.4 - 0.6 * 0.5, abs=1e-12)
    assert a_b["conviction"] == pytest.approx((1 - 0.5) / (1 - 4 / 6), abs=1e-12)
    ab_c = rule(rules, "A;B", "C")
    assert (ab_c["count"], ab_c["antecedent_count"], ab_c["confidence"]) == (2, 4, 0.5)
    c_ab = rule(rules, "C", "A;B")
    assert c_ab["confidence"] == 2 / 3
    assert c_ab["lift"] == pytest.approx((2 / 3) / (4 / 10), abs=1e-12)
    assert rules["segment"].eq("all").all()
    assert rules["count"].dtype == np.int64


def test_conviction_is_inf_when_the_consequent_never_misses() -> None:
    rules = association_rules_frame(make_book(HAND), settings(), AS_OF)
    a_c_b = rule(rules, "A;C", "B")  # both a0 and a1 own B
    assert a_c_b["confidence"] == 1.0 and math.isinf(a_c_b["conviction"])


def test_thresholds_filter_itemsets_and_rules() -> None:
    book = make_book(HAND)
    strict = association_rules_frame(book, settings(rules_min_count=3), AS_OF)
    assert set(zip(strict["antecedents"], strict["consequents"], strict=True)) == {("A", "B"), ("B", "A")}
    by_share = association_rules_frame(book, settings(rules_min_support=0.35), AS_OF)  # 3.5 -> 4 accounts
    assert len(by_share) == 2
    confident = association_rules_frame(book, settings(rules_min_confidence=0.7), AS_OF)
    assert (confident["confidence"] >= 0.7).all() and ("A", "B") not in set(
        zip(confident["antecedents"], confident["consequents"], strict=True)
    )
    lifted = association_rules_frame(book, settings(rules_min_lift=1.2), AS_OF)
    assert (lifted["lift"] >= 1.2).all() and len(lifted) < len(
        association_rules_frame(book, settings(), AS_OF)
    )
    pairs_only = association_rules_frame(book, settings(rules_max_len=2), AS_OF)
    assert not pairs_only["antecedents"].str.contains(";").any()
    assert not pairs_only["consequents"].str.contains(";").any()


def test_ownership_is_as_of_the_date() -> None:
    extra = [
        {
            "account_id": "a8",
            "product_id": "A",
            "start_date": "2023-01-01",
            "status": "churned",
            "churned_at": "2024-09-01",
        },
        {"account_id": "a8", "product_id": "B", "start_date": "2023-01-01", "status": "trial"},
        {"account_id": "a9", "product_id": "A", "start_date": "2024-07-01", "status": "active"},
        {
            "account_id": "a9",
            "product_id": "B",
            "start_date": "2023-01-01",
            "status": "churned",
            "churned_at": "2024-01-01",
        },
    ]
    onehot = ownership_onehot(make_book(HAND, extra=extra), AS_OF)
    assert onehot.loc["a8"].tolist() == [True, False, False, False]  # churned later still owned; trial never
    assert not onehot.loc["a9"].any()  # starts after as_of; churned before
    assert list(onehot.columns) == ["A", "B", "C", "Z"]


def test_segment_rules_use_the_segment_as_denominator() -> None:
    segments = {a: ("enterprise" if a in {"a0", "a1", "a2", "a6", "a8"} else "smb") for a in HAND}
    book = make_book(HAND, segments)
    enterprise = association_rules_frame(book, settings(), AS_OF, segment="enterprise")
    a_b = rule(enterprise, "A", "B")
    assert (a_b["count"], a_b["support"], a_b["segment"]) == (3, 3 / 5, "enterprise")
    stacked = segment_rules(book, settings(rules_segment_min_accounts=5, rules_min_count=1), AS_OF)
    assert set(stacked["segment"]) == {"enterprise", "smb"}
    assert rule(stacked[stacked["segment"] == "smb"], "A", "B")["support"] == 1 / 5
    assert set(segment_rules(book, settings(rules_segment_min_accounts=5), AS_OF)["segment"]) == {
        "enterprise"
    }
    assert segment_rules(book, settings(rules_segment_min_accounts=6), AS_OF).empty  # both have 5


def test_rules_from_one_shared_matrix_equal_those_built_per_segment(demo_store) -> None:
    """The recompute builds the ownership matrix once and takes each segment's rows from it."""
    book, as_of = demo_store.portfolio(), pd.Timestamp("2026-11-01")
    config = {**demo_store.settings(), "rules.segment_min_accounts": 1}
    owned = ownership_onehot(book, as_of)
    alone = [association_rules_frame(book, config, as_of, segment=s) for s in SEGMENTS]
    assert all(len(rules) for rules in alone)
    for segment, rules in zip(SEGMENTS, alone, strict=True):
        pd.testing.assert_frame_equal(association_rules_frame(book, config, as_of, segment, owned), rules)
    stacked = pd.concat(alone, ignore_index=True)
    pd.testing.assert_frame_equal(segment_rules(book, config, as_of, owned), stacked)
    pd.testing.assert_frame_equal(segment_rules(book, config, as_of), stacked)
    rules_all, rules_seg, shared = all_and_segment_rules(book, config, as_of)
    pd.testing.assert_frame_equal(rules_all, association_rules_frame(book, config, as_of))
    pd.testing.assert_frame_equal(rules_seg, stacked)
    pd.testing.assert_frame_equal(shared, owned)


def test_invalid_inputs_are_refused() -> None:
    book = make_book(HAND)
    with pytest.raises(ValueError, match="as_of"):
        association_rules_frame(book, settings(), None)
    with pytest.raises(ValueError, match="segment"):
        association_rules_frame(book, settings(), AS_OF, segment="huge")
    with pytest.raises(ValueError, match="settings lack"):
        association_rules_frame(book, {}, AS_OF)
    with pytest.raises(ValueError, match="min_support"):
        frequent_itemsets(ownership_onehot(book, AS_OF), 0.0, 3)
    broken = Portfolio(
        accounts=book.accounts.drop(columns="segment"),
        products=book.products,
        subscriptions=book.subscriptions,
    )
    with pytest.raises(ValueError, match="segment"):
        association_rules_frame(broken, settings(), AS_OF)


def test_no_accounts_or_no_pairs_give_an_empty_frame_with_columns() -> None:
    lonely = association_rules_frame(make_book({"x": ["A"], "y": ["B"]}), settings(), AS_OF)
    assert lonely.empty and list(lonely.columns[:8]) == RULE_COLUMNS


# -- second method -------------------------------------------------------------------------------------------


def random_book(n: int = 2000, p: int = 12, seed: int = 5) -> Portfolio:
    rng = np.random.default_rng(seed)
    ids = [f"acc{i:04d}" for i in range(n)]
    products = [f"P{j:02d}" for j in range(p)]
    owned = rng.random((n, p)) < rng.uniform(0.03, 0.4, p)
    owned[:, 1] |= owned[:, 0] & (rng.random(n) < 0.5)
    rows, cols = np.nonzero(owned)
    status = rng.choice(["active", "churned", "trial"], len(rows), p=[0.75, 0.2, 0.05])
    churned = pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 360, len(rows)), "D")
    subs = pd.DataFrame(
        {
            "account_id": np.array(ids)[rows],
            "product_id": np.array(products)[cols],
            "start_date": pd.Timestamp("2023-01-01"),
            "end_date": pd.NaT,
            "quantity": 1,
            "mrr": 10.0,
            "status": status,
            "churned_at": pd.Series(churned).where(status == "churned"),
        }
    )
    accounts = pd.DataFrame({"account_id": ids, "name": ids, "segment": rng.choice(SEGMENTS, n)})
    catalogue = pd.DataFrame({"product_id": products, "name": products, "list_price": 1.0})
    return Portfolio(accounts=accounts, products=catalogue, subscriptions=subs)


def brute_force_rules(book: Portfolio, config: dict, accounts: list[str]) -> pd.DataFrame:
    """Count every itemset with Python sets, derive every rule with textbook float formulas."""
    subs = book.subscriptions
    holding = subs[
        (subs["start_date"] <= AS_OF)
        & ((subs["status"] == "active") | ((subs["status"] == "churned") & (subs["churned_at"] > AS_OF)))
    ]
    owners: dict[str, set[str]] = {}
    for account, product in zip(holding["account_id"], holding["product_id"], strict=True):
        if account in set(accounts):
            owners.setdefault(product, set()).add(account)
    n = len(accounts)
    need = max(config["rules.min_count"], math.ceil(config["rules.min_support"] * n - 1e-9))
    counts: dict[tuple[str, ...], int] = {}
    for size in range(1, config["rules.max_len"] + 1):
        for itemset in combinations(sorted(owners), size):
            count = len(set.intersection(*(owners[p] for p in itemset)))
            if count >= need:
                counts[itemset] = count
    rows = []
    for itemset, count in counts.items():
        for size in range(1, len(itemset)):
            for left in combinations(itemset, size):
                right = tuple(p for p in itemset if p not in left)
                confidence = count / counts[left]
                right_support = counts[right] / n
                if (
                    confidence < config["rules.min_confidence"]
                    or confidence / right_support < config["rules.min_lift"]
                ):
                    continue
                rows.append(
                    {
                        "antecedents": ";".join(left),
                        "consequents": ";".join(right),
                        "support": count / n,
                        "confidence": confidence,
                        "lift": confidence / right_support,
                        "leverage": count / n - (counts[left] / n) * right_support,
                        "conviction": math.inf if confidence == 1 else (1 - right_support) / (1 - confidence),
                        "count": count,
                    }
                )
    return pd.DataFrame(rows, columns=RULE_COLUMNS)


@pytest.mark.parametrize("segment", [None, "smb"])
def test_random_book_matches_brute_force_counting(segment: str | None) -> None:
    book = random_book()
    config = resolve(
        {"rules.min_count": 5, "rules.min_support": 0.004, "rules.min_confidence": 0.1, "rules.min_lift": 0.9}
    )
    ours = association_rules_frame(book, config, AS_OF, segment=segment)
    members = book.accounts if segment is None else book.accounts[book.accounts["segment"] == segment]
    expected = brute_force_rules(book, config, list(members["account_id"]))
    assert len(ours) > 300 and (ours["antecedents"].str.count(";") == 1).any()
    key = ["antecedents", "consequents"]
    ours = ours[RULE_COLUMNS].sort_values(key).reset_index(drop=True)
    expected = expected.sort_values(key).reset_index(drop=True)
    pd.testing.assert_frame_equal(ours[key], expected[key], check_dtype=False)
    assert (ours["count"].to_numpy() == expected["count"].to_numpy()).all()
    assert (ours["support"].to_numpy() == expected["support"].to_numpy()).all()  # count / n, bit for bit
    for column in ("confidence", "lift", "leverage", "conviction"):
        np.testing.assert_allclose(ours[column], expected[column], rtol=1e-12, atol=1e-12)


def test_frequent_itemsets_counts_match_numpy() -> None:
    rng = np.random.default_rng(2)
    onehot = pd.DataFrame(rng.random((500, 6)) < 0.3, columns=list("fedcba"))
    found = frequent_itemsets(onehot, 0.02, 3)
    for itemset, count in zip(found["itemsets"], found["count"], strict=True):
        assert list(itemset) == sorted(itemset)
        assert count == int(onehot[list(itemset)].all(axis=1).sum())
    expected = sum(
        1
        for size in (1, 2, 3)
        for combo in combinations(onehot.columns, size)
        if onehot[list(combo)].all(axis=1).sum() >= 10
    )
    assert len(found) == expected


@pytest.mark.parametrize("threshold", [1, 7, 40])
def test_apriori_and_hmine_find_the_same_itemsets_with_the_same_counts(threshold: int) -> None:
    """Large books switch to hmine (faster there): the answer must not change with the algorithm."""
    from core.affinity.rules import _itemset_counts

    rng = np.random.default_rng(threshold)
    values = rng.random((3_000, 9)) < rng.uniform(0.01, 0.4, 9)
    values[:, 1] |= values[:, 0] & (rng.random(3_000) < 0.5)  # a planted pair
    results = {}
    for algorithm in ("apriori", "hmine"):
        items, counts = _itemset_counts(values, threshold, 3, algorithm)
        results[algorithm] = {tuple(row[row >= 0]): int(c) for row, c in zip(items, counts, strict=True)}
    assert results["apriori"] == results["hmine"] and len(results["apriori"]) > 9
    for itemset, count in results["hmine"].items():  # and both equal a direct count
        assert count == int(values[:, list(itemset)].all(axis=1).sum()) >= threshold
