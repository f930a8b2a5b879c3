"""Suggestions: hand-set rules and accounts with hand-computed scores and sentences; the vectorised
version against the per-account loop on a random book; the pipeline's invariants."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.affinity.attach import attach_matrix
from core.affinity.roles import product_roles
from core.affinity.rules import association_rules_frame, ownership_onehot, segment_rules
from core.affinity.sequencing import time_to_attach
from core.affinity.suggestions import (
    SUGGESTION_COLUMNS,
    _department_contacts,
    _reason_codes,
    _top_columns,
    suggest,
    suggest_loop,
)
from core.frames import SEGMENTS, Portfolio
from core.settings import resolve

AS_OF = pd.Timestamp("2024-06-30")
NAMES = {"A": "Marketing Hub", "B": "Automation", "C": "Analytics", "D": "Legacy", "E": "Ops"}
DEPARTMENTS = {"A": "Marketing", "B": "Marketing", "C": "IT", "D": "IT", "E": None}


def make_book(
    holdings: dict[str, dict[str, str]], segments: dict[str, str], contacts: list[tuple] = ()
) -> Portfolio:
    rows = [
        {"account_id": a, "product_id": p, "start_date": pd.Timestamp(day), "status": "active"}
        for a, held in holdings.items()
        for p, day in held.items()
    ]
    subs = pd.DataFrame(rows, columns=["account_id", "product_id", "start_date", "status"]).assign(
        end_date=pd.NaT, quantity=1, mrr=10.0, churned_at=pd.NaT
    )
    return Portfolio(
        accounts=pd.DataFrame(
            {"account_id": list(holdings), "name": list(holdings), "segment": list(segments.values())}
        ),
        products=pd.DataFrame(
            {
                "product_id": list(NAMES),
                "name": list(NAMES.values()),
                "list_price": 1.0,
                "department": list(DEPARTMENTS.values()),
            }
        ),
        subscriptions=subs,
        contacts=pd.DataFrame(contacts, columns=["account_id", "name", "email", "department"]),
    )


def rules(rows: list[tuple], segment: str = "all") -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["antecedents", "consequents", "confidence", "lift", "count"])
    return frame.assign(support=0.1, leverage=0.0, conviction=1.0, segment=segment)


HOLDINGS = {
    "x1": {"A": "2024-01-01"},
    "x2": {"A": "2023-01-01", "C": "2024-05-01"},
    "x3": {"B": "2023-01-01"},
    "x4": {},
    "x6": {"A": "2020-01-01"},
    "x7": {"A": "2020-01-01"},
}
SEGMENT_OF = {"x1": "smb", "x2": "smb", "x3": "smb", "x4": "smb", "x6": "enterprise", "x7": "smb"}
RULES_ALL = rules(
    [
        ("A", "B", 0.71, 2.4, 312),
        ("A", "C", 0.5, 3.0, 100),
        ("C", "B", 0.3, 1.1, 50),
        ("A;C", "B", 0.8, 2.6, 40),
        ("A", "D", 0.9, 3.0, 90),
        ("A", "B;C", 0.4, 3.0, 20),  # two consequents: not a product to offer
    ]
)
RULES_SEGMENT = rules([("A", "C", 0.9, 2.0, 30)], "enterprise")
ROLES = pd.DataFrame({"product_id": list(NAMES), "role": ["anchor", "attach", "core", "sunset", "core"]})
SEQ = pd.DataFrame({"product_a": ["A", "C"], "product_b": ["B", "B"], "median_days": [300.0, 60.0]})
READINESS = pd.DataFrame(
    {
        "account_id": ["x7", "x7"],
        "product_id": ["B", "C"],
        "ready": [False, True],
        "readiness_reason": ["no usage yet", "usage up 40%."],
    }
)


def strength(confidence: float, lift: float) -> float:
    return confidence * min(lift, 3.0) / 3.0


def hand_suggestions(**settings: object) -> pd.DataFrame:
    book = make_book(HOLDINGS, SEGMENT_OF, [("x1", "Ann", "ann@x", " marketing ")])
    config = resolve({k.replace("_", ".", 1): v for k, v in settings.items()})
    return suggest(book, RULES_ALL, RULES_SEGMENT, None, ROLES, SEQ, AS_OF, config, READINESS)


def test_columns_and_order() -> None:
    table = hand_suggestions()
    assert list(table.columns[:7]) == SUGGESTION_COLUMNS
    assert list(table.columns[7:15]) == [
        "rule_antecedents",
        "rule_segment",
        "support_count",
        "department",
        "has_department_contact",
        "months_held",
        "typical_gap_months",
        "ready",
    ]
    assert table[["account_id", "rank"]].values.tolist() == [
        ["x1", 1],
        ["x1", 2],
        ["x2", 1],
        ["x6", 1],
        ["x6", 2],
        ["x7", 1],
        ["x7", 2],
    ]


def test_a_strong_rule_puts_its_consequent_first_with_a_full_sentence() -> None:
    x1 = hand_suggestions().query("account_id == 'x1'").set_index("rank")
    assert x1["product_id"].tolist() == ["B", "C"]  # D is sunset, A owned, E has no rule
    timing = 0.8 + 0.2 * 181 / 300  # held 181 days of a typical 300
    assert x1.loc[1, "score"] == pytest.approx(100 * strength(0.71, 2.4) * timing)
    assert x1.loc[2, "score"] == pytest.approx(100 * strength(0.5, 3.0))
    assert (x1.loc[1, "confidence"], x1.loc[1, "lift"], x1.loc[1, "support_count"]) == (0.71, 2.4, 312)
    assert (x1.loc[1, "months_held"], x1.loc[1, "typical_gap_months"]) == (5.9, 9.9)
    assert not x1.loc[1, "ready"] and np.isnan(x1.loc[2, "typical_gap_months"]) and x1.loc[2, "ready"]
    assert x1.loc[1, "has_department_contact"] and x1.loc[1, "department"] == "Marketing"
    assert x1.loc[1, "reason"] == (
        "71% of accounts with Marketing Hub also own Automation (lift 2.4, 312 accounts); this account has "
        "had Marketing Hub for 6 months, typical gap 10 months; needs a buyer in Marketing, where it has a contact."
    )


def test_the_best_applicable_rule_and_the_antecedent_bought_last() -> None:
    x2 = hand_suggestions().query("account_id == 'x2'").iloc[0]
    assert (x2["product_id"], x2["rule_antecedents"], x2["rule_segment"]) == ("B", "A;C", "all")
    assert x2["score"] == pytest.approx(100 * strength(0.8, 2.6))  # 60 days of C, typical C -> B 60 days
    assert x2["reason"] == (
        "80% of accounts with Marketing Hub and Analytics also own Automation (lift 2.6, 40 accounts); this "
        "account has had Analytics for 2 months, typical gap 2 months; needs a buyer in Marketing — no contact "
        "there yet."
    )


def test_the_segment_rule_wins_where_it_applies() -> None:
    x6 = hand_suggestions().query("account_id == 'x6'").set_index("product_id")
    assert x6.loc["C", "rank"] == 1 and x6.loc["C", "rule_segment"] == "enterprise"
    assert x6.loc["C", "score"] == pytest.approx(100 * strength(0.9, 2.0))
    assert x6.loc["B", "rule_segment"] == "all"  # no enterprise rule for B
    assert x6.loc["C", "reason"].startswith(
        "90% of enterprise accounts with Marketing Hub also own Analytics"
    )
    assert "for 54 months; needs a buyer in IT" in x6.loc["C", "reason"]


def test_readiness_moves_the_order_and_joins_the_sentence() -> None:
    x7 = hand_suggestions().query("account_id == 'x7'").set_index("product_id")
    assert x7.loc["C", "rank"] == 1 and x7.loc["C", "score"] == pytest.approx(100 * strength(0.5, 3.0) * 1.25)
    assert x7.loc["B", "score"] == pytest.approx(100 * strength(0.71, 2.4) * 0.8)
    assert x7.loc["C", "ready"] and not x7.loc["B", "ready"]
    assert x7.loc["C", "reason"].endswith("no contact there yet; usage up 40%.")
    assert x7.loc["B", "reason"].endswith("; no usage yet.")


def test_top_k_and_the_loop_agree_on_the_hand_book() -> None:
    assert hand_suggestions(suggestions_top_k=1)["rank"].eq(1).all()
    book = make_book(HOLDINGS, SEGMENT_OF)
    config = resolve({"suggestions.top_k": 2})
    args = (book, RULES_ALL, RULES_SEGMENT, None, ROLES, SEQ, AS_OF, config, READINESS)
    pd.testing.assert_frame_equal(suggest(*args), suggest_loop(*args))


def test_bad_inputs_are_refused() -> None:
    book = make_book(HOLDINGS, SEGMENT_OF)
    with pytest.raises(ValueError, match="settings lack"):
        suggest(book, RULES_ALL, None, None, ROLES, SEQ, AS_OF, {})
    with pytest.raises(ValueError, match="rules_all lacks"):
        suggest(book, RULES_ALL.drop(columns="lift"), None, None, ROLES, SEQ, AS_OF, resolve())
    with pytest.raises(ValueError, match="readiness lacks"):
        suggest(book, RULES_ALL, None, None, ROLES, SEQ, AS_OF, resolve(), READINESS.drop(columns="ready"))
    with pytest.raises(ValueError, match="early_factor"):
        suggest(book, RULES_ALL, None, None, ROLES, SEQ, AS_OF, resolve({"suggestions.early_factor": 1.5}))


# -- the pipeline on a random book ---------------------------------------------------------------------------


def random_book(n: int = 800, p: int = 10, seed: int = 4) -> Portfolio:
    rng = np.random.default_rng(seed)
    ids = np.array([f"r{i:04d}" for i in range(n)])
    products = np.array([f"P{j}" for j in range(p)])
    owned = rng.random((n, p)) < rng.uniform(0.05, 0.45, p)
    owned[:, 1] |= owned[:, 0] & (rng.random(n) < 0.6)
    owned[:, 2] |= owned[:, 1] & owned[:, 3] & (rng.random(n) < 0.7)
    rows, cols = np.nonzero(owned)
    start = pd.Timestamp("2021-01-01") + pd.to_timedelta(rng.integers(0, 1200, len(rows)), "D")
    status = rng.choice(["active", "churned"], len(rows), p=[0.85, 0.15])
    subs = pd.DataFrame(
        {
            "account_id": ids[rows],
            "product_id": products[cols],
            "start_date": start,
            "end_date": pd.NaT,
            "quantity": 1,
            "mrr": 10.0,
            "status": status,
            "churned_at": pd.Series(start + pd.Timedelta(days=200)).where(status == "churned"),
        }
    )
    departments = np.array(["Marketing", "IT", "Sales", None], dtype=object)
    contacts = pd.DataFrame(
        {
            "account_id": rng.choice(ids, n // 2),
            "name": "c",
            "email": "c@x",
            "department": rng.choice(["Marketing", "it", "Finance"], n // 2),
        }
    )
    return Portfolio(
        accounts=pd.DataFrame(
            {"account_id": ids, "name": ids, "segment": rng.choice(SEGMENTS, n, p=[0.3, 0.3, 0.4])}
        ),
        products=pd.DataFrame(
            {
                "product_id": products,
                "name": [f"Product {j}" for j in range(p)],
                "list_price": 1.0,
                "department": departments[np.arange(p) % 4],
            }
        ),
        subscriptions=subs,
        contacts=contacts,
    )


def pipeline(book: Portfolio, readiness: pd.DataFrame | None = None) -> tuple:
    config = resolve({"rules.segment_min_accounts": 300})  # smb only
    rules_all = association_rules_frame(book, config, AS_OF)
    attach = attach_matrix(book, AS_OF, config)
    roles = product_roles(book, attach, AS_OF, config).assign(
        role=lambda f: np.where(f["product_id"] == "P9", "sunset", f["role"])
    )
    return (
        book,
        rules_all,
        segment_rules(book, config, AS_OF),
        attach,
        roles,
        time_to_attach(book),
        AS_OF,
        config,
        readiness,
    )


def random_readiness(book: Portfolio, seed: int = 8) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    pairs = pd.DataFrame(
        {
            "account_id": rng.choice(book.accounts["account_id"], 600),
            "product_id": rng.choice(book.products["product_id"], 600),
        }
    ).drop_duplicates()
    ready = rng.random(len(pairs)) < 0.5
    return pairs.assign(ready=ready, readiness_reason=np.where(ready, "seats nearly full.", "usage flat"))


@pytest.mark.parametrize("with_readiness", [False, True])
def test_vectorised_equals_the_per_account_loop(with_readiness: bool) -> None:
    book = random_book()
    args = pipeline(book, random_readiness(book) if with_readiness else None)
    fast, slow = suggest(*args), suggest_loop(*args)
    assert len(fast) > 1500 and set(fast["rule_segment"]) >= {"all", "smb"}
    assert fast["rule_antecedents"].str.contains(";").any()
    pd.testing.assert_frame_equal(fast, slow)


def test_without_reasons_the_ranking_is_the_same_and_every_reason_empty() -> None:
    book = random_book(seed=10)
    args = pipeline(book, random_readiness(book))
    full, ranked = suggest(*args), suggest(*args, reasons=False)
    assert full["reason"].str.len().min() > 20 and ranked["reason"].eq("").all()
    assert ranked["reason"].dtype == full["reason"].dtype
    pd.testing.assert_frame_equal(ranked.drop(columns="reason"), full.drop(columns="reason"))


def test_never_an_owned_or_sunset_product_and_ranks_follow_scores() -> None:
    book = random_book(seed=9)
    table = suggest(*pipeline(book))
    owned = ownership_onehot(book, AS_OF)
    assert not owned.to_numpy()[
        owned.index.get_indexer(table["account_id"]), owned.columns.get_indexer(table["product_id"])
    ].any()
    assert "P9" not in set(table["product_id"])
    assert table.groupby("account_id")["rank"].max().max() == 5
    assert (table.groupby("account_id")["score"].diff().dropna() <= 0).all()
    assert table.groupby("account_id")["rank"].apply(lambda r: r.tolist() == list(range(1, len(r) + 1))).all()
    assert table["reason"].str.count(r"\.$").eq(1).all() and table["reason"].str.contains("Product").all()


def test_top_columns_is_a_stable_descending_sort_cut_at_k() -> None:
    board = np.array([[1.0, 3.0, 3.0, -np.inf], [-np.inf] * 4, [2.0, 5.0, 1.0, 0.0]])
    order, valid = _top_columns(board.copy(), 3)
    assert order[0].tolist() == [1, 2, 0] and valid[0].tolist() == [True, True, True]
    assert valid[1].tolist() == [False, False, False]
    assert order[2].tolist() == [1, 0, 2] and valid[2].all()
    order, valid = _top_columns(board.copy(), 9)
    assert order.shape == (3, 4) and valid.sum(axis=1).tolist() == [3, 0, 4]


def test_reason_codes_clean_each_text_and_blank_means_none() -> None:
    raw = pd.Series([" Usage up 20%. ", "Usage up 20%", None, "", "Seats full."], dtype="str")
    codes, texts = _reason_codes(raw)
    looked_up = [([""] + texts)[c] for c in codes]
    assert looked_up == ["Usage up 20%", "Usage up 20%", "", "", "Seats full"]
    assert codes[0] == codes[1] and codes[2] == codes[3] == 0


def test_department_contacts_ignore_case_spaces_and_unknown_accounts() -> None:
    contacts = pd.DataFrame(
        {
            "account_id": ["a1", "a1", "a2", "zz", "a3"],
            "department": [" marketing ", None, "IT", "IT", "Legal"],
        }
    )
    departments = np.array(["Marketing", "IT", "Marketing", None], dtype=object)
    found = _department_contacts(contacts, pd.Index(["a1", "a2", "a3"]), departments)
    assert found.tolist() == [
        [True, False, True, False],
        [False, True, False, False],
        [False, False, False, False],
    ]
