"""The whole pipeline on the seeded demo: what was planted must come back out of the analyses.

The generator's plan is the ground truth; these tests read only the store the
real import and recompute wrote, as a user's export would.
"""

from __future__ import annotations


def quadrant_share(store, account_ids, quadrants) -> float:
    scores = store.result("scores").set_index("account_id")["quadrant"]
    chosen = scores.reindex(account_ids).dropna()
    assert len(chosen) == len(account_ids)
    return float(chosen.isin(quadrants).mean())


def test_planted_at_risk_accounts_land_in_rescue_or_fix_and_expand(demo_store, demo_plan) -> None:
    assert len(demo_plan.at_risk) >= 5
    assert quadrant_share(demo_store, demo_plan.at_risk, {"rescue", "fix-and-expand"}) >= 0.8


def test_planted_growth_accounts_land_in_expand_or_fix_and_expand(demo_store, demo_plan) -> None:
    assert len(demo_plan.growth) >= 5
    assert quadrant_share(demo_store, demo_plan.growth, {"expand", "fix-and-expand"}) >= 0.8


def test_strained_growth_accounts_fill_fix_and_expand(demo_store, demo_plan) -> None:
    """At-risk signs plus a fast-hiring company: trouble now and room to grow."""
    assert len(demo_plan.strained_growth) >= 5
    assert quadrant_share(demo_store, demo_plan.strained_growth, {"rescue", "fix-and-expand"}) == 1.0
    assert quadrant_share(demo_store, demo_plan.strained_growth, {"fix-and-expand"}) >= 0.6


def test_healthy_accounts_land_in_nurture_or_expand(demo_store, demo_plan) -> None:
    assert quadrant_share(demo_store, demo_plan.healthy, {"nurture", "expand"}) >= 0.8


def test_strong_affinity_targets_get_the_consequent_first(demo_store, demo_plan) -> None:
    """A target of a strong habit sees its product first, unless another strong habit competes for the slot."""
    suggestions = demo_store.result("suggestions")
    first = suggestions[suggestions["rank"] == 1].set_index("account_id")["product_id"]
    top3 = suggestions[suggestions["rank"] <= 3].groupby("account_id")["product_id"].agg(set)
    strong = [
        a for a in demo_plan.affinities if a.label == "strong" and a.strength >= 0.5 and len(a.targets) >= 3
    ]
    assert strong
    for affinity in strong:
        rivals = {t for other in strong if other is not affinity for t in other.targets}
        alone = [t for t in affinity.targets if t not in rivals]
        in_top3 = [affinity.consequent in top3.get(t, set()) for t in affinity.targets]
        assert sum(in_top3) / len(in_top3) >= 0.8, f"{affinity.consequent} missing from the top 3"
        if len(alone) >= 3:
            share = float((first.reindex(alone) == affinity.consequent).mean())
            assert share >= 0.6, f"{affinity.antecedents} -> {affinity.consequent}: first for {share:.0%}"


def test_no_owned_or_sunset_product_is_suggested(demo_store, demo_plan) -> None:
    suggestions = demo_store.result("suggestions")
    owned = demo_store.query("SELECT account_id, product_id FROM subscriptions WHERE status = 'active'")
    clash = suggestions.merge(owned, on=["account_id", "product_id"])
    assert clash.empty
    assert demo_plan.sunset not in set(suggestions["product_id"])
    roles = demo_store.result("product_roles").set_index("product_id")["role"]
    assert roles[demo_plan.anchor] == "anchor" and roles[demo_plan.sunset] == "sunset"


def test_every_score_and_todo_explains_itself(demo_store) -> None:
    scores = demo_store.result("scores")
    assert scores["risk"].between(0, 100).all() and scores["expansion"].between(0, 100).all()
    high = scores[scores["risk"] > 0]
    assert high["risk_reasons"].str.len().gt(0).all()
    todos = demo_store.todos("WHERE active = 1")
    assert len(todos) and todos["reason"].str.len().gt(0).all() and todos["playbook"].notna().all()
    kinds = set(demo_store.playbooks()["kind"])
    assert set(todos["playbook"]) <= kinds


def test_trust_figures_are_measured_on_the_demo_history(demo_store) -> None:
    metrics = demo_store.result("model_metrics").set_index("name")["value"]
    assert metrics["risk.positives"] >= 5
    assert 0.5 < metrics["risk.auc_hand"] <= 1 and 0.5 < metrics["risk.auc_logit_cv"] <= 1
    assert metrics["backtest.hit_rate_at_1"] > metrics["backtest.baseline_hit_rate_at_1"]
    assert metrics["backtest.hit_rate_at_3"] > metrics["backtest.baseline_hit_rate_at_3"]


def test_single_product_customers_churn_more_than_multi_product(demo_store) -> None:
    values = demo_store.result("portfolio")
    all_ = values[values["segment"] == "all"].set_index("metric")["value"]
    assert all_["logo_churn_rate_single"] > 2 * all_["logo_churn_rate_multi"]
    assert all_["nrr_multi"] > all_["nrr_single"]


def test_the_saved_manager_figures_are_portfolio_metrics_of_the_saved_results(demo_store) -> None:
    """The recompute works out the figures beside the save and adds the to-do counts under the lock."""
    from datetime import date

    import pandas as pd

    from core.portfolio import portfolio_metrics
    from core.recompute import recompute
    from core.store.store import DERIVE_TODO_COLUMNS

    open_todo = demo_store.todos("WHERE status = 'open' AND active = 1 LIMIT 1")["todo_id"].iloc[0]
    demo_store.change_todo(open_todo, "done")  # a user's mark the counts must see
    recompute(demo_store, date(2026, 11, 1))
    todos = demo_store.query(f"SELECT {', '.join(DERIVE_TODO_COLUMNS)} FROM todos")
    live = todos[todos["active"].astype(bool) | todos["status"].ne("open")]
    expected = portfolio_metrics(
        demo_store.portfolio(),
        demo_store.result("scores"),
        live,
        demo_store.result("product_roles"),
        demo_store.result("attach"),
        pd.Timestamp("2026-11-01"),
        demo_store.settings(),
    )
    pd.testing.assert_frame_equal(demo_store.result("portfolio"), expected, check_dtype=False)


def test_the_report_counts_the_accounts_that_changed_quadrant(demo_store) -> None:
    from datetime import date

    from core.recompute import recompute

    before = demo_store.result("scores").set_index("account_id")["quadrant"]
    demo_store.set_setting("quadrant.risk_threshold", 20)  # lower: more accounts count as at risk
    report = recompute(demo_store, date(2026, 11, 1))
    after = demo_store.result("scores").set_index("account_id")["quadrant"]
    moved = int((before.reindex(after.index) != after).sum())
    assert moved > 0 and report.quadrant_moves == moved
    assert f"{moved:,} accounts changed quadrant" in report.describe()
