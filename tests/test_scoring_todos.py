"""To-dos: what is generated and when it is due, stable ids, the reconcile rules, the daily cap, the hold-out."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from test_scoring_book import AS_OF, SETTINGS, account, frame, sub
from test_scoring_quadrants import planted_book

from core.scoring import (
    account_features,
    apply_daily_cap,
    combine_scores,
    control_group,
    expansion_scores,
    generate_todos,
    reconcile,
    risk_scores,
    usage_features,
)
from core.scoring.features import concat
from core.scoring.playbooks import DEFAULT_PLAYBOOKS
from core.scoring.todos import TODO_COLUMNS, _join
from core.settings import resolve

DAY = pd.Timedelta(days=1)
SAMPLE = Path(__file__).resolve().parents[2] / "shared" / "contract" / "sample"


def run(portfolio, monthly, suggestions, as_of=AS_OF, settings=SETTINGS) -> tuple[pd.DataFrame, pd.DataFrame]:
    feats = account_features(usage_features(monthly, as_of), portfolio, as_of)
    risk, risk_parts = risk_scores(portfolio, feats, as_of, settings)
    expansion, expansion_parts = expansion_scores(portfolio, feats, suggestions, None, as_of, settings)
    scores = combine_scores(portfolio, risk, expansion, as_of, settings)
    components = pd.concat([risk_parts, expansion_parts], ignore_index=True)
    return scores, generate_todos(scores, components, suggestions, portfolio, as_of, settings)


def planted_todos(settings=SETTINGS) -> tuple[pd.DataFrame, pd.DataFrame]:
    portfolio, monthly, suggestions = planted_book()
    portfolio.accounts = pd.concat(
        [portfolio.accounts, frame("accounts", [account("LATER")])], ignore_index=True
    )
    later = frame("subscriptions", [sub("LATER", "P1", 10, 50.0, end_date=AS_OF + 110 * DAY)])
    portfolio.subscriptions = pd.concat([portfolio.subscriptions, later], ignore_index=True)
    return run(portfolio, monthly, suggestions, settings=settings)


def test_planted_accounts_get_the_right_actions_with_reasons_and_playbooks() -> None:
    scores, todos = planted_todos()
    assert list(todos.columns) == list(TODO_COLUMNS)
    kinds = {(r.account_id, r.kind, r.product_id) for r in todos.itertuples()}
    assert {
        ("TROUBLE", k, "")
        for k in ("renewal-call", "usage-recovery", "executive-sponsor", "qbr", "add-decision-maker")
    } <= kinds
    assert ("GROWTH", "seat-upsell", "P1") in kinds and ("GROWTH", "cross-sell", "P3") in kinds
    assert not any(a == "HEALTHY" for a, _, _ in kinds)
    assert todos["reason"].str.len().gt(20).all() and todos["playbook"].isin(DEFAULT_PLAYBOOKS).all()
    assert todos["quadrant"].eq(todos["account_id"].map(scores.set_index("account_id")["quadrant"])).all()
    by = todos.set_index(["account_id", "kind"])
    call = by.loc[("TROUBLE", "renewal-call")]
    assert call["due"] == AS_OF  # renews in 40 days: 90 days before is already past, so due today
    assert call["priority_score"] == pytest.approx(60000 * 1.0 * 0.967, rel=1e-3)
    assert call["title"] == "Renewal call with Account TROUBLE"
    assert call["reason"].startswith("Renews on 2026-10-25 (in 40 days), $60,000 ARR, risk 97: Active users")
    later = by.loc[("LATER", "renewal-call")]
    assert later["due"] == AS_OF + 20 * DAY  # 110 days out: due 90 days before the renewal
    assert later["evidence_at"] == AS_OF + 110 * DAY - 120 * DAY
    risk_later = scores.set_index("account_id").loc["LATER", "risk"]
    assert later["priority_score"] == pytest.approx(6000 * 30 / 50 * max(risk_later / 100, 0.1), rel=1e-6)
    assert by.loc[("GROWTH", "cross-sell"), "title"] == "Offer Journeys to Account GROWTH"
    assert by.loc[("GROWTH", "seat-upsell"), "title"] == "Offer more Core CRM seats to Account GROWTH"
    assert todos["priority_score"].is_monotonic_decreasing


def test_ids_are_stable_short_hashes_of_account_kind_product() -> None:
    _, first = planted_todos()
    _, again = planted_todos()
    assert first["todo_id"].tolist() == again["todo_id"].tolist()
    assert first["todo_id"].str.fullmatch(r"t[0-9a-f]{12}").all() and first["todo_id"].is_unique
    row = first[(first["account_id"] == "GROWTH") & (first["kind"] == "cross-sell")].iloc[0]
    assert row["todo_id"] == "t" + hashlib.sha1(b"GROWTH|cross-sell|P3").hexdigest()[:12]


def test_bundle_offer_replaces_the_cross_sell_it_covers() -> None:
    portfolio, monthly, suggestions = planted_book()
    portfolio.bundles = pd.DataFrame(
        {
            "bundle_id": ["B1"],
            "name": ["Marketing Suite"],
            "product_ids": ["P2;P3"],
            "price": [np.nan],
            "discount_pct": [20.0],
        }
    )
    _, todos = run(portfolio, monthly, suggestions)
    growth = todos[todos["account_id"] == "GROWTH"].set_index("kind")
    assert "cross-sell" not in growth.index
    offer = growth.loc["bundle-offer"]
    assert (
        offer["product_id"] == "B1" and offer["title"] == "Offer the Marketing Suite bundle to Account GROWTH"
    )
    assert "(Journeys)" in offer["reason"] and "$10,800 a year" in offer["reason"]


def test_each_account_gets_its_most_valuable_completable_bundle() -> None:
    # GROWTH owns P1 and P2 (50 seats each) and is suggested P3 (45% x $40 x 50 seats x 12 = $10,800)
    # and P4 (flat: 50% x $100 x 1 x 12 = $600).
    portfolio, monthly, suggestions = planted_book()
    extra = suggestions.iloc[:1].assign(product_id="P4", rank=2, confidence=0.5, reason="r3")
    suggestions = pd.concat([suggestions, extra], ignore_index=True)
    portfolio.bundles = pd.DataFrame(
        {
            "bundle_id": ["B1", "B0", "B2", "B3"],
            "name": ["Core Pair", "Full Suite", "Add-ons", "Needs P9"],
            "product_ids": ["P1;P3", "P4;P2; P3", "P3;P4", "P1;P3;P9"],
            "price": [np.nan] * 4,
            "discount_pct": [20.0] * 4,
        }
    )
    _, todos = run(portfolio, monthly, suggestions)
    growth = todos[todos["account_id"] == "GROWTH"]
    # B1 completes for $10,800 and B0 for $10,800 + $600; B2 owns nothing, B3 lacks P9.
    offers = growth[growth["kind"] == "bundle-offer"]
    assert offers["product_id"].tolist() == ["B0"]
    assert "suggestions (Journeys, Help Desk), expected $11,400 a year" in offers["reason"].iloc[0]
    assert not growth["kind"].eq("cross-sell").any()  # P3 is part of the offer


def test_sentences_are_glued_only_between_two_non_empty_ones() -> None:
    first = pd.Series(["Usage down", "", "", None, "Idle seats"])
    second = pd.Series(["idle seats", "idle seats", "", "x", None])
    assert _join(first, second).tolist() == ["Usage down. idle seats", "idle seats", "", "x", "Idle seats"]
    pieces = (
        "Renews on ",
        pd.Series(["2026-01-02", "2026-03-04"]),
        " (in ",
        np.array(["5", "66"], dtype=object),
    )
    assert concat(*pieces, ")").tolist() == ["Renews on 2026-01-02 (in 5)", "Renews on 2026-03-04 (in 66)"]


def test_control_group_is_deterministic_and_withholds_cross_sell() -> None:
    ids = pd.Index([f"A{i:05d}" for i in range(10_000)])
    held = control_group(ids, 20, seed=1)
    assert held.equals(control_group(ids[::-1], 20, seed=1).reindex(ids))
    assert 0.185 < held.mean() < 0.215
    assert not control_group(ids, 0, 1).any() and control_group(ids, 100, 1).all()
    assert (held != control_group(ids, 20, seed=2)).any()
    with pytest.raises(ValueError, match="percent"):
        control_group(ids, 150, 1)
    _, todos = planted_todos(resolve({"todos.control_group_pct": 100.0}))
    assert not todos["kind"].isin(["cross-sell", "bundle-offer"]).any()
    assert (todos["kind"] == "seat-upsell").any()


def generated(evidence: dict[str, str]) -> pd.DataFrame:
    ids = list(evidence)
    return pd.DataFrame(
        {
            "todo_id": ids,
            "account_id": ["A"] * len(ids),
            "kind": ids,
            "product_id": [""] * len(ids),
            "quadrant": ["rescue"] * len(ids),
            "title": [f"title {i}" for i in ids],
            "reason": [f"reason {i}" for i in ids],
            "priority_score": [1.0] * len(ids),
            "due": pd.to_datetime(["2026-09-20"] * len(ids)),
            "evidence_at": pd.to_datetime(list(evidence.values())),
            "playbook": ids,
        }
    )


def stored(rows: list[dict]) -> pd.DataFrame:
    """To-dos as the store returns them: dates as ISO text, status_changed_at with a time and zone."""
    base = {
        "product_id": "",
        "kind": "k",
        "account_id": "A",
        "snoozed_until": None,
        "note": None,
        "outcome": None,
        "status_changed_at": None,
        "evidence_at": "2026-09-01",
        "title": "old",
        "reason": "old",
        "priority": 1,
        "active": 1,
    }
    return pd.DataFrame([{**base, **r} for r in rows])


def test_reconcile_keeps_user_state_and_applies_only_its_two_rules() -> None:
    existing = stored(
        [
            {
                "todo_id": "done_same",
                "status": "done",
                "status_changed_at": "2026-09-10T09:00:00+00:00",
                "note": "n1",
            },
            {
                "todo_id": "done_newer",
                "status": "done",
                "status_changed_at": "2026-09-10T09:00:00+00:00",
                "note": "n2",
                "outcome": "won",
            },
            {
                "todo_id": "done_before_mark",
                "status": "done",
                "status_changed_at": "2026-09-10T09:00:00+00:00",
            },
            {
                "todo_id": "dismissed_newer",
                "status": "dismissed",
                "status_changed_at": "2026-09-02T00:00:00+00:00",
            },
            {"todo_id": "snoozed", "status": "snoozed", "snoozed_until": "2026-09-20", "note": "wait"},
            {
                "todo_id": "gone",
                "status": "dismissed",
                "note": "n3",
                "status_changed_at": "2026-09-01T00:00:00+00:00",
            },
            {"todo_id": "open_gone", "status": "open"},
        ]
    )
    fresh = generated(
        {
            "done_same": "2026-09-01",
            "done_newer": "2026-09-12",
            "done_before_mark": "2026-09-05",
            "dismissed_newer": "2026-09-03",
            "snoozed": "2026-09-01",
            "brand_new": "2026-09-14",
        }
    )
    out = reconcile(existing, fresh, pd.Timestamp("2026-09-19")).set_index("todo_id")
    status = out["status"].to_dict()
    assert status == {
        "done_same": "done",
        "done_newer": "open",
        "done_before_mark": "done",
        "dismissed_newer": "open",
        "snoozed": "snoozed",
        "brand_new": "open",
        "gone": "dismissed",
        "open_gone": "open",
    }
    assert out.loc["done_newer", "status_changed_at"] == "2026-09-19T00:00:00"
    assert out.loc["done_same", "status_changed_at"] == "2026-09-10T09:00:00+00:00"
    assert out["note"].to_dict() == {
        "done_same": "n1",
        "done_newer": "n2",
        "done_before_mark": None,
        "dismissed_newer": None,
        "snoozed": "wait",
        "brand_new": None,
        "gone": "n3",
        "open_gone": None,
    }
    assert out.loc["done_newer", "outcome"] == "won"
    assert out["active"].to_dict() == {
        **dict.fromkeys(fresh["todo_id"], True),
        "gone": False,
        "open_gone": False,
    }
    assert out.loc["done_same", "title"] == "title done_same" and out.loc["gone", "title"] == "old"

    woken = reconcile(existing, fresh, pd.Timestamp("2026-09-20")).set_index("todo_id")
    assert woken.loc["snoozed", "status"] == "open" and woken.loc["snoozed", "snoozed_until"] is None
    assert woken.loc["snoozed", "note"] == "wait"


def test_reconcile_first_run_and_bad_input() -> None:
    fresh = generated({"a": "2026-09-01", "b": "2026-09-02"})
    out = reconcile(pd.DataFrame(), fresh, AS_OF)
    assert out["status"].tolist() == ["open", "open"] and out["active"].all()
    with pytest.raises(ValueError, match="repeat"):
        reconcile(pd.DataFrame(), pd.concat([fresh, fresh]), AS_OF)


def test_daily_cap_ranks_each_owners_open_list() -> None:
    todos = pd.DataFrame(
        {
            "todo_id": ["a", "b", "c", "d", "e", "f", "g"],
            "account_id": ["L1", "L2", "L1", "L1", "M1", "L2", "X"],
            "priority_score": [10.0, 30.0, 20.0, 99.0, 1.0, 5.0, 7.0],
            "due": pd.to_datetime(["2026-09-20"] * 7),
            "status": ["open", "open", "open", "done", "open", "open", "open"],
            "active": [True, True, True, True, True, False, True],
        }
    )
    accounts = pd.DataFrame({"account_id": ["L1", "L2", "M1", "X"], "owner": ["Lin", "Lin", "Maya", None]})
    out = apply_daily_cap(todos, accounts, resolve({"todos.daily_cap": 2})).set_index("todo_id")
    assert out["priority"].fillna(0).to_dict() == {"a": 3, "b": 1, "c": 2, "d": 0, "e": 1, "f": 0, "g": 1}
    assert out["priority"].isna().tolist() == [False, False, False, True, False, True, False]
    assert out["below_line"].to_dict() == {
        "a": True,
        "b": False,
        "c": False,
        "d": False,
        "e": False,
        "f": False,
        "g": False,
    }
    with pytest.raises(ValueError, match="daily_cap"):
        apply_daily_cap(todos, accounts, resolve({"todos.daily_cap": 0}))


def test_state_survives_recompute_and_reimport_in_a_real_store(tmp_path: Path) -> None:
    from core.importer import open_portfolio
    from core.store import Store
    from core.store.todo_state import merge_generated

    as_of = pd.Timestamp("2026-11-15")
    store = Store(tmp_path / "q.db")
    store.import_portfolio(open_portfolio(SAMPLE))

    def recompute() -> pd.DataFrame:
        portfolio = store.portfolio()
        feats = account_features(store.usage_features(as_of), portfolio, as_of)
        risk, risk_parts = risk_scores(portfolio, feats, as_of, SETTINGS)
        no_suggestions = pd.DataFrame(
            columns=["account_id", "product_id", "score", "confidence", "lift", "reason"]
        )
        expansion, expansion_parts = expansion_scores(portfolio, feats, no_suggestions, None, as_of, SETTINGS)
        scores = combine_scores(portfolio, risk, expansion, as_of, SETTINGS)
        components = pd.concat([risk_parts, expansion_parts])
        todos = generate_todos(scores, components, no_suggestions, portfolio, as_of, SETTINGS)
        accounts = store.query("SELECT account_id, owner FROM accounts")
        with store.writing() as conn:
            merge_generated(
                conn, todos, lambda old, new: apply_daily_cap(reconcile(old, new, as_of), accounts, SETTINGS)
            )
        return store.todos()

    first = recompute()
    assert len(first) > 0 and set(first["status"]) == {"open"}
    done, snoozed = first["todo_id"].iloc[0], first["todo_id"].iloc[1]
    store.change_todo(done, "done", note="spoke to the champion")
    store.change_todo(snoozed, "snooze", until="2027-01-01", note="after the holidays")
    again = recompute().set_index("todo_id")
    store.import_portfolio(open_portfolio(SAMPLE))
    after = recompute().set_index("todo_id")
    for table in (again, after):
        assert table.loc[done, "status"] == "done" and table.loc[done, "note"] == "spoke to the champion"
        assert (
            table.loc[snoozed, "status"] == "snoozed" and table.loc[snoozed, "snoozed_until"] == "2027-01-01"
        )
        assert table.loc[snoozed, "note"] == "after the holidays"
    assert len(after) == len(first) and pd.isna(after.loc[done, "priority"])


def test_components_in_any_row_order_give_the_same_todos() -> None:
    portfolio, monthly, suggestions = planted_book()
    feats = account_features(usage_features(monthly, AS_OF), portfolio, AS_OF)
    risk, risk_parts = risk_scores(portfolio, feats, AS_OF, SETTINGS)
    expansion, expansion_parts = expansion_scores(portfolio, feats, suggestions, None, AS_OF, SETTINGS)
    scores = combine_scores(portfolio, risk, expansion, AS_OF, SETTINGS)
    components = pd.concat([risk_parts, expansion_parts], ignore_index=True)
    shuffled = components.sample(frac=1.0, random_state=3).astype({"axis": "object", "component": "object"})
    shuffled = shuffled[~((shuffled["account_id"] == "HEALTHY") & (shuffled["component"] == "sentiment"))]
    expected = generate_todos(scores, components, suggestions, portfolio, AS_OF, SETTINGS)
    got = generate_todos(scores, shuffled, suggestions, portfolio, AS_OF, SETTINGS)
    pd.testing.assert_frame_equal(got, expected)
