"""The demo portfolio generator: valid import format, deterministic, and the planted stories really hold.

Every planted property is checked in the CSV files as written (or the identical frames),
with counts computed here independently of the generator's own bookkeeping.
"""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from fixtures import catalog
from fixtures.demo import FILES, generate, generate_frames

AS_OF = date(2026, 11, 1)
TODAY = pd.Timestamp(AS_OF)
HEADERS = {
    "accounts": "account_id,name,segment,industry,region,employees,employees_prev,annual_revenue,owner,sales_rep,"
    "created_at",
    "products": "product_id,name,family,list_price,unit,department",
    "subscriptions": "account_id,product_id,start_date,end_date,quantity,mrr,status,churned_at",
    "usage": "account_id,product_id,period,active_users,licensed_seats,logins,key_events,api_calls",
    "contacts": "account_id,name,email,title,department,role,last_contacted_at",
    "activities": "account_id,date,kind,subject,product_id,sentiment",
    "nps": "account_id,date,score,email",
    "bundles": "bundle_id,name,product_ids,price,discount_pct",
}
KEYS = {
    "accounts": ["account_id"],
    "products": ["product_id"],
    "subscriptions": ["account_id", "product_id", "start_date"],
    "usage": ["account_id", "product_id", "period"],
    "contacts": ["account_id", "email"],
    "nps": ["account_id", "date", "email"],
    "bundles": ["bundle_id"],
}


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory):
    """The 300-account book the app's tests use, written to disk, read back as text."""
    folder = tmp_path_factory.mktemp("demo")
    plan = generate(folder, accounts=300, seed=7, as_of=AS_OF)
    tables = {name: pd.read_csv(folder / f"{name}.csv", dtype=str, keep_default_na=False) for name in FILES}
    return folder, plan, tables


@pytest.fixture(scope="module")
def big():
    """A 2,000-account book for the statistical properties (frames only, no disk)."""
    return generate_frames(accounts=2000, seed=11, as_of=AS_OF)


def dates(values: pd.Series) -> pd.Series:
    return pd.to_datetime(values.replace("", None), format="%Y-%m-%d")


def owned(subs: pd.DataFrame, when: pd.Timestamp) -> pd.DataFrame:
    """Subscriptions held on ``when``: started, and active or churned later; never trials."""
    start, churned = dates(subs["start_date"]), dates(subs["churned_at"])
    held = (subs["status"] == "active") | ((subs["status"] == "churned") & (churned > when))
    return subs[(start <= when) & held & (subs["status"] != "trial")]


def first_purchases(subs: pd.DataFrame) -> pd.DataFrame:
    bought = subs[subs["status"] != "trial"].assign(start=lambda s: dates(s["start_date"]))
    return bought.groupby(["account_id", "product_id"])["start"].min().unstack()


def usage_by_month(usage: pd.DataFrame, metric: str) -> pd.DataFrame:
    """account x month offset from as_of (-24..-1), summed over products."""
    month = (pd.PeriodIndex(usage["period"], freq="M") - TODAY.to_period("M")).map(lambda p: p.n)
    values = pd.to_numeric(usage[metric])
    return values.groupby([usage["account_id"], month]).sum().unstack(fill_value=0)


# --- format -------------------------------------------------------------------------------------------------


def test_same_arguments_give_identical_bytes_and_a_new_seed_a_new_book(tmp_path: Path) -> None:
    for name in ("a", "b", "c"):
        generate(tmp_path / name, accounts=150, seed=3 if name != "c" else 4, as_of=AS_OF)
    for file in FILES:
        first = (tmp_path / "a" / f"{file}.csv").read_bytes()
        assert first == (tmp_path / "b" / f"{file}.csv").read_bytes(), file
    assert (tmp_path / "a" / "accounts.csv").read_bytes() != (tmp_path / "c" / "accounts.csv").read_bytes()
    assert (tmp_path / "a" / "usage.csv").read_bytes() != (tmp_path / "c" / "usage.csv").read_bytes()


def test_every_file_is_utf8_with_the_import_format_header(written) -> None:
    folder, _, _ = written
    for name, header in HEADERS.items():
        text = (folder / f"{name}.csv").read_text(encoding="utf-8")
        assert text.splitlines()[0] == header
        assert not text.startswith("\ufeff") and "\r" not in text


def test_keys_are_unique_and_every_reference_exists(written) -> None:
    _, _, t = written
    for name, key in KEYS.items():
        assert not t[name].duplicated(key).any(), name
    accounts, products = set(t["accounts"]["account_id"]), set(t["products"]["product_id"])
    for name in ("subscriptions", "usage", "contacts", "activities", "nps"):
        assert set(t[name]["account_id"]) <= accounts, name
    for name in ("subscriptions", "usage"):
        assert set(t[name]["product_id"]) <= products, name
    assert set(t["activities"]["product_id"]) - {""} <= products
    for ids in t["bundles"]["product_ids"]:
        assert len(ids.split(";")) >= 2 and set(ids.split(";")) <= products
    assert set(t["accounts"]["account_id"]) == set(t["subscriptions"]["account_id"])


def test_values_follow_the_import_rules(written) -> None:
    _, _, t = written
    a, s, u = t["accounts"], t["subscriptions"], t["usage"]
    assert set(a["segment"]) == {"enterprise", "mid-market", "smb"}
    assert set(a["region"]) <= {"NA", "EMEA", "APAC", "LATAM"}
    for column in ("employees", "employees_prev", "annual_revenue"):
        values = pd.to_numeric(a[column].replace("", None))
        assert (values.dropna() >= 0).all() and values.notna().mean() > 0.95
    dates(a["created_at"])
    assert set(s["status"]) == {"active", "churned", "trial"}
    assert (pd.to_numeric(s["quantity"]) >= 1).all() and (pd.to_numeric(s["mrr"]) >= 0).all()
    churned = s[s["status"] == "churned"]
    assert (churned["churned_at"] != "").all()
    assert (dates(churned["churned_at"]) >= dates(churned["start_date"])).all()
    assert (s.loc[s["status"] != "churned", "churned_at"] == "").all()
    assert u["period"].str.fullmatch(r"\d{4}-\d{2}").all()
    for column in ("active_users", "logins", "key_events", "api_calls"):
        assert (pd.to_numeric(u[column]) >= 0).all(), column
    seats = pd.to_numeric(u["licensed_seats"].replace("", None))
    assert seats.notna().any() and seats.isna().any()  # seat products only
    assert (pd.to_numeric(u["active_users"])[seats.notna()] <= seats.dropna()).all()
    assert set(t["contacts"]["role"]) == {"decision_maker", "champion", "evaluator", "user", "billing"}
    assert t["contacts"]["email"].str.fullmatch(r"[a-z0-9.\-]+@[a-z0-9.\-]+\.[a-z]+").all()
    assert set(t["activities"]["kind"]) == {"call", "meeting", "email", "qbr", "ticket", "note"}
    assert set(t["activities"]["sentiment"]) == {"positive", "neutral", "negative", ""}
    assert pd.to_numeric(t["nps"]["score"]).between(0, 10).all()
    products = t["products"]
    assert (
        set(products["unit"]) == {"seat", "flat", "usage"}
        and (pd.to_numeric(products["list_price"]) > 0).all()
    )
    bundles = t["bundles"]
    assert ((bundles["price"] != "") | (bundles["discount_pct"] != "")).all()
    assert (bundles["price"] != "").any() and (bundles["discount_pct"] != "").any()


def test_everything_is_dated_relative_to_as_of(written) -> None:
    _, _, t = written
    s, u = t["subscriptions"], t["usage"]
    assert sorted(set(u["period"]))[0] == "2024-11" and sorted(set(u["period"]))[-1] == "2026-10"
    assert len(set(u["period"])) == 24
    assert (dates(s["start_date"]) <= TODAY).all()
    assert (dates(s["churned_at"]).dropna() <= TODAY).all()
    renewals = dates(s.loc[s["status"] == "active", "end_date"]).dropna()
    assert (renewals > TODAY).all() and (renewals <= TODAY + pd.DateOffset(years=1)).all()
    by_quarter = ((renewals - TODAY).dt.days // 92).value_counts()
    assert len(by_quarter) == 4 and by_quarter.min() > 0.1 * len(renewals)  # spread over the year
    for name, column in (("activities", "date"), ("nps", "date"), ("contacts", "last_contacted_at")):
        assert (dates(t[name][column]).dropna() <= TODAY).all(), name
    later = generate_frames(accounts=60, seed=7, as_of=date(2027, 3, 15))[0]
    assert sorted(set(later["usage"]["period"]))[-1] == "2027-02"


def test_the_segment_mix_is_ten_thirty_sixty(written) -> None:
    _, _, t = written
    assert t["accounts"]["segment"].value_counts().to_dict() == {
        "smb": 180,
        "mid-market": 90,
        "enterprise": 30,
    }


def test_names_are_unique_company_like_and_international(written) -> None:
    _, _, t = written
    names = t["accounts"]["name"]
    assert names.is_unique
    assert {"上海云杉科技", "株式会社サクラ", "Zoë Café Group", "Müller & Söhne"} <= set(names)
    assert names.str.contains(r"[\u4e00-\u9fff]").sum() >= 5
    assert names.str.contains(r"[\u30a0-\u30ff]").any()
    assert names.str.contains(r"[À-ɏ]").sum() >= 5
    assert names.str.contains(r"\b(?:Inc\.|LLC|GmbH|Ltd|S\.A\.)").sum() > 50
    assert t["contacts"]["name"].str.contains(r"[\u4e00-\u9fff]").any()
    assert 4 <= t["accounts"]["owner"].nunique() <= 8


def test_the_price_book_has_believable_products(written) -> None:
    _, plan, t = written
    products = t["products"]
    assert len(products) == 16 and products["name"].is_unique
    assert products["family"].nunique() >= 5 and products["department"].nunique() >= 5
    names = dict(zip(products["product_id"], products["name"], strict=True))
    assert names[plan.anchor] == "Core CRM"
    assert {plan.anchor, plan.strategic, plan.sunset, *plan.attach} <= set(names)
    wide = generate_frames(accounts=200, seed=7, as_of=AS_OF, products=40)[0]
    assert len(wide["products"]) == 40 and wide["products"]["name"].is_unique
    extras = set(wide["products"]["product_id"][16:])
    assert extras & set(wide["subscriptions"]["product_id"])  # the add-ons sell
    assert len(generate_frames(accounts=50, seed=7, as_of=AS_OF, products=12)[0]["products"]) == 12


@pytest.mark.parametrize("kwargs", [{"products": 11}, {"products": 41}, {"accounts": 0}])
def test_impossible_requests_are_refused(kwargs: dict) -> None:
    with pytest.raises(ValueError):
        generate_frames(**{"accounts": 20, **kwargs})


def test_mrr_is_list_price_times_quantity_with_some_negotiated_discounts(written) -> None:
    _, _, t = written
    price = dict(zip(t["products"]["product_id"], pd.to_numeric(t["products"]["list_price"]), strict=True))
    paid = t["subscriptions"][t["subscriptions"]["status"] != "trial"]
    list_total = paid["product_id"].map(price) * pd.to_numeric(paid["quantity"])
    ratio = pd.to_numeric(paid["mrr"]) / list_total
    assert ratio.between(0.69, 1.0 + 1e-9).all()
    assert 0.2 < (ratio < 1).mean() < 0.9


# --- planted account kinds -------------------------------------------------------------------------------------


def test_at_risk_accounts_show_every_warning_sign(written) -> None:
    _, plan, t = written
    risky = plan.at_risk
    assert 0.02 * 300 <= len(risky) <= 0.06 * 300
    events = usage_by_month(t["usage"], "key_events").reindex(risky, fill_value=0)
    assert (events[[-3, -2, -1]].sum(axis=1) < 0.6 * events[[-6, -5, -4]].sum(axis=1)).all()
    subs = t["subscriptions"]
    live = subs[subs["account_id"].isin(risky) & (subs["status"] == "active")]
    renewal = dates(live["end_date"]).groupby(live["account_id"]).min()
    assert ((renewal - TODAY).dt.days.between(1, 60)).all() and len(renewal) == len(risky)
    acts = t["activities"].assign(when=lambda a: dates(a["date"]))
    recent = acts[acts["account_id"].isin(risky) & (acts["when"] > TODAY - pd.Timedelta(days=60))]
    negative = recent[(recent["kind"] == "ticket") & (recent["sentiment"] == "negative")]
    assert set(negative["account_id"]) == set(risky)
    quiet = acts[acts["account_id"].isin(risky) & (acts["when"] > TODAY - pd.Timedelta(days=90))]
    assert set(quiet["kind"]) <= {"ticket"}
    contacts = t["contacts"][t["contacts"]["account_id"].isin(risky)]
    assert (dates(contacts["last_contacted_at"]) < TODAY - pd.Timedelta(days=90)).all()
    nps = t["nps"].assign(when=lambda n: dates(n["date"]))
    latest = nps[nps["account_id"].isin(risky)].sort_values("when").groupby("account_id").last()
    assert len(latest) == len(risky) and (pd.to_numeric(latest["score"]) <= 6).all()
    assert (latest["when"] > TODAY - pd.Timedelta(days=90)).all()


def test_growth_accounts_are_saturated_growing_and_hiring(written) -> None:
    _, plan, t = written
    growth = plan.growth
    hiring = [*growth, *plan.strained_growth]  # strained growth: at-risk accounts that hire as fast
    accounts = t["accounts"].set_index("account_id").loc[hiring]
    assert (pd.to_numeric(accounts["employees"]) >= 1.5 * pd.to_numeric(accounts["employees_prev"])).all()
    others = t["accounts"][~t["accounts"]["account_id"].isin(hiring)]
    ratio = pd.to_numeric(others["employees"].replace("", None)) / pd.to_numeric(
        others["employees_prev"].replace("", None)
    )
    assert (ratio.dropna() < 1.5).all()
    usage = t["usage"][t["usage"]["account_id"].isin(growth) & (t["usage"]["licensed_seats"] != "")]
    usage = usage[usage["product_id"] != plan.sunset]  # the legacy product fades even here
    last = usage[usage["period"] >= "2026-08"]
    assert (pd.to_numeric(last["active_users"]) >= 0.95 * pd.to_numeric(last["licensed_seats"])).all()
    assert set(last["account_id"]) == set(growth)
    events = usage_by_month(t["usage"], "key_events").loc[growth]
    assert (events[list(range(-6, 0))].sum(axis=1) > events[list(range(-12, -6))].sum(axis=1)).all()


def test_healthy_accounts_are_steady_promoters_with_a_recent_qbr(written) -> None:
    _, plan, t = written
    healthy = plan.healthy
    users = usage_by_month(t["usage"], "active_users").loc[healthy]
    change = users[[-3, -2, -1]].sum(axis=1) / users[[-6, -5, -4]].sum(axis=1)
    assert change.between(0.75, 1.25).all()
    nps = t["nps"].assign(when=lambda n: dates(n["date"]))
    latest = nps[nps["account_id"].isin(healthy)].sort_values("when").groupby("account_id").last()
    assert len(latest) == len(healthy) and (pd.to_numeric(latest["score"]) >= 9).all()
    acts = t["activities"]
    qbr = acts[(acts["kind"] == "qbr") & acts["account_id"].isin(healthy)]
    recent = qbr[dates(qbr["date"]) > TODAY - pd.Timedelta(days=60)]
    assert set(recent["account_id"]) == set(healthy)


def test_reactivated_accounts_went_dormant_then_spiked(written) -> None:
    _, plan, t = written
    logins = usage_by_month(t["usage"], "logins").loc[plan.reactivated]
    dormant = logins[list(range(-8, -2))].mean(axis=1)
    before = logins[list(range(-14, -8))].mean(axis=1)
    spike = logins[[-2, -1]].mean(axis=1)
    assert (dormant < 0.15 * before).all() and (spike > 5 * dormant.clip(lower=1)).all()


def test_no_decision_maker_accounts_lack_only_that_role(written) -> None:
    _, plan, t = written
    contacts = t["contacts"]
    has_dm = set(contacts.loc[contacts["role"] == "decision_maker", "account_id"])
    assert not has_dm & set(plan.no_decision_maker)
    assert set(plan.no_decision_maker) <= set(contacts["account_id"])
    assert has_dm == set(t["accounts"]["account_id"]) - set(plan.no_decision_maker)


def test_planted_kinds_are_disjoint_live_customers(written) -> None:
    _, plan, t = written
    chosen = [a for ids in plan.kinds.values() for a in ids]
    assert len(chosen) == len(set(chosen))
    customers = set(owned(t["subscriptions"], TODAY)["account_id"])
    assert set(chosen) <= customers
    assert all(len(ids) >= 0.02 * 300 for ids in plan.kinds.values())


# --- planted portfolio economics and affinities -----------------------------------------------------------------


def retention(subs: pd.DataFrame) -> dict[str, float]:
    """Logo churn, gross revenue churn and NRR over the last 12 months of single vs multi-product customers."""
    year_ago = TODAY - pd.DateOffset(months=12)
    then = owned(subs, year_ago)
    count = then.groupby("account_id")["product_id"].nunique()
    now = set(owned(subs, TODAY)["account_id"])
    mrr = pd.to_numeric(subs["mrr"])
    start, churned = dates(subs["start_date"]), dates(subs["churned_at"])
    out = {}
    for label, group in (("single", count[count == 1].index), ("multi", count[count >= 2].index)):
        base = mrr[then.index][then["account_id"].isin(group)].sum()
        lost = mrr[then.index][then["account_id"].isin(group) & (churned[then.index] <= TODAY)].sum()
        new = (start > year_ago) & (subs["status"] == "active") & subs["account_id"].isin(group)
        out[f"logo_{label}"] = 1 - len(set(group) & now) / len(group)
        out[f"gross_{label}"] = lost / base
        out[f"nrr_{label}"] = (base - lost + mrr[new].sum()) / base
    return out


def test_single_product_customers_churn_several_times_more(written, big) -> None:
    _, _, t = written
    small = retention(t["subscriptions"])
    assert small["logo_single"] >= 2.5 * small["logo_multi"]
    large = retention(big[0]["subscriptions"])
    assert large["logo_single"] >= 4 * large["logo_multi"]
    assert large["gross_single"] >= 2 * large["gross_multi"]
    assert large["nrr_multi"] - large["nrr_single"] >= 0.08


def test_the_anchor_comes_first_and_attaches_follow_months_later(big) -> None:
    frames, plan = big
    firsts = first_purchases(frames["subscriptions"])
    entry = firsts.eq(firsts.min(axis=1), axis=0).sum()
    assert entry.idxmax() == plan.anchor and entry[plan.anchor] > 0.6 * len(firsts)
    assert (entry.drop(plan.anchor) < 0.25 * len(firsts)).all()
    gap = (firsts.sub(firsts[plan.anchor], axis=0)).apply(lambda c: c.dt.days)
    fast = gap[plan.attach[0]][gap[plan.attach[0]] > 0].median()
    slow = (firsts["journeys"] - firsts["mkt-automation"]).dt.days
    assert 15 < fast < slow[slow > 0].median()  # time to attach varies by pair


def test_planted_affinities_differ_in_strength_and_leave_cross_sell_targets(big) -> None:
    frames, plan = big
    now = owned(frames["subscriptions"], TODAY)
    held = pd.crosstab(now["account_id"], now["product_id"]).astype(bool)

    def rate(antecedents: tuple[str, ...], consequent: str, rows=slice(None)) -> float:
        owners = held.loc[rows][list(antecedents)].all(axis=1)
        return held.loc[rows].loc[owners, consequent].mean()

    strong, medium, weak = (
        next(a for a in plan.affinities if a.label == label and len(a.antecedents) == 1 and not a.by_segment)
        for label in ("strong", "medium", "weak")
    )
    rates = [rate(r.antecedents, r.consequent) for r in (strong, medium, weak)]
    assert rates[0] > rates[1] > rates[2] > 0
    for rule in plan.affinities:
        if rule.label:
            assert rule.targets and rule.owners == held[list(rule.antecedents)].all(axis=1).sum()
            assert not held.reindex(list(rule.targets))[rule.consequent].any()
    both = held["sales-engage"] & held["cpq"]
    one = held["sales-engage"] ^ held["cpq"]
    assert held.loc[both, "forecasting"].mean() > 0.5 > 3 * held.loc[one, "forecasting"].mean()
    segment = frames["accounts"].set_index("account_id")["segment"].reindex(held.index)
    inside = rate(("integrations",), "security-shield", segment == "enterprise")
    outside = rate(("integrations",), "security-shield", segment != "enterprise")
    assert inside > 0.4 and inside > 2 * outside


def test_deep_usage_of_the_antecedent_predicts_the_next_purchase(big) -> None:
    frames, _ = big
    firsts = first_purchases(frames["subscriptions"])
    cut = TODAY - pd.DateOffset(months=12)
    usage = frames["usage"]
    period = pd.PeriodIndex(usage["period"], freq="M").to_timestamp()
    waiting = firsts.index[(firsts["mkt-automation"] <= cut) & ~(firsts["journeys"] <= cut)]
    window = usage[
        (usage["product_id"] == "mkt-automation")
        & usage["account_id"].isin(waiting)
        & (period > cut - pd.DateOffset(months=6))
        & (period <= cut)
    ]
    totals = window[["key_events", "active_users"]].apply(pd.to_numeric).groupby(window["account_id"]).sum()
    per_user = totals["key_events"] / totals["active_users"].clip(lower=1)
    bought = firsts["journeys"].reindex(per_user.index) > cut
    deep = per_user > per_user.median()
    assert len(per_user) > 100 and bought[deep].mean() > 1.6 * bought[~deep].mean()


def test_the_strategic_product_keeps_accounts_and_the_sunset_one_fades(big) -> None:
    frames, plan = big
    subs = frames["subscriptions"]
    year_ago = TODAY - pd.DateOffset(months=12)
    then, now = owned(subs, year_ago), owned(subs, TODAY)
    breadth = then.groupby("account_id")["product_id"].nunique().clip(upper=5)
    holder = breadth.index.isin(then.loc[then["product_id"] == plan.strategic, "account_id"])
    lost = ~breadth.index.isin(now["account_id"])
    mrr_then = pd.to_numeric(then["mrr"]).groupby(then["account_id"]).sum().reindex(breadth.index)
    mrr_now = pd.to_numeric(now["mrr"]).groupby(now["account_id"]).sum().reindex(breadth.index, fill_value=0)
    like = pd.DataFrame(
        {"breadth": breadth, "holder": holder, "lost": lost, "then": mrr_then, "now": mrr_now}
    )
    by = like.groupby(["holder", "breadth"])[["lost", "then", "now"]].agg(["sum", "count"])
    held, other = by.loc[True], by.loc[False].reindex(by.loc[True].index)
    weights = held[("lost", "count")]
    other_churn = (other[("lost", "sum")] / other[("lost", "count")] * weights).sum() / weights.sum()
    assert held[("lost", "sum")].sum() / weights.sum() < 0.5 * other_churn  # against accounts as broad
    other_nrr = (other[("now", "sum")] / other[("then", "sum")] * held[("then", "sum")]).sum()
    assert (
        held[("now", "sum")].sum() / held[("then", "sum")].sum()
        > other_nrr / held[("then", "sum")].sum() + 0.1
    )
    arr = pd.to_numeric(now["mrr"]).groupby(now["product_id"]).sum()
    assert arr[plan.strategic] / arr.sum() < 0.05
    held_now = pd.crosstab(now["account_id"], now["product_id"]).astype(bool)
    for product in plan.attach:
        assert held_now.loc[held_now[plan.anchor], product].mean() >= 0.45
    assert held_now.loc[held_now[plan.anchor], plan.strategic].mean() < 0.35

    sunset_then = set(then.loc[then["product_id"] == plan.sunset, "account_id"])
    sunset_now = set(now.loc[now["product_id"] == plan.sunset, "account_id"])
    assert len(sunset_then - sunset_now) / len(sunset_then) >= 0.25
    firsts = first_purchases(subs)[plan.sunset].dropna()
    recent = (firsts > TODAY - pd.DateOffset(months=12)).sum()
    prior = ((firsts > TODAY - pd.DateOffset(months=24)) & (firsts <= TODAY - pd.DateOffset(months=12))).sum()
    assert recent < 0.5 * prior
    sunset_use = usage_by_month(
        frames["usage"][frames["usage"]["product_id"] == plan.sunset], "active_users"
    ).sum()
    assert sunset_use[list(range(-6, 0))].sum() < 0.75 * sunset_use[list(range(-12, -6))].sum()
    attach_in = held_now[held_now[plan.sunset]].drop(columns=plan.sunset).sum() / held_now.sum().drop(
        plan.sunset
    )
    assert attach_in[held_now.sum() >= 20].max() < 0.2


def test_the_plan_names_what_happens_next(written) -> None:
    _, plan, t = written
    subs = t["subscriptions"]
    live = set(zip(*owned(subs, TODAY)[["account_id", "product_id"]].to_numpy().T, strict=True))
    assert plan.upcoming_purchases and not {(a, p) for a, p, _ in plan.upcoming_purchases} & live
    assert all(1 <= m <= 6 for _, _, m in plan.upcoming_purchases)
    trials = subs[subs["status"] == "trial"]
    assert set(zip(trials["account_id"], trials["product_id"], strict=True)) == set(plan.trials)
    assert (dates(trials["end_date"]) > TODAY).all() and (pd.to_numeric(trials["mrr"]) == 0).all()
    capabilities = {p.product_id: p.capability for p in catalog.CATALOGUE}
    asked = t["activities"][t["activities"]["subject"].str.startswith("Asked about ")]
    for account, product in plan.capability_mentions:
        mine = asked[asked["account_id"] == account]["subject"]
        assert (mine == f"Asked about {capabilities[product]}").any()
    assert set(plan.upcoming_churn) <= set(owned(subs, TODAY)["account_id"])
    assert plan.rows == {name: len(frame) for name, frame in t.items()}


def test_usage_keeps_an_unknown_metric_column_and_real_shapes(written) -> None:
    _, _, t = written
    usage = t["usage"]
    assert "api_calls" in usage.columns and pd.to_numeric(usage["api_calls"]).gt(0).mean() > 0.5
    users = usage_by_month(usage, "active_users")
    steady = users[(users > 0).all(axis=1)]
    change = steady[-1] / steady[-12]
    assert (change > 1.3).mean() > 0.05 and (change < 0.7).mean() > 0.05  # growth and decline both present
    month = pd.PeriodIndex(usage["period"], freq="M").month
    by_month = pd.to_numeric(usage["logins"]).groupby(month).sum() / usage.groupby(month).size()
    assert by_month[8] < by_month[[3, 4, 5, 9, 10]].mean()  # the August dip
    assert re.fullmatch(r"\d+", usage["key_events"].iloc[0])
    assert np.isfinite(pd.to_numeric(usage["logins"])).all()
