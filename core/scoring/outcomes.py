"""Closing the loop: did acting on the to-dos sell anything?

Conversion by suggestion rule and to-do kind comes from the outcomes users
record on done to-dos. The control-group uplift compares the attach rate of
accounts that got cross-sell to-dos with a random hold-out that did not, with
a two-proportion z-test, so a team knows whether the suggestions work.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from core.frames import Portfolio, owned_as_of

OUTCOMES = ("won", "lost", "no-decision")
MIN_GROUP = 10


def _rule_labels(decided: pd.DataFrame, suggestions: pd.DataFrame | None) -> pd.Series:
    """The rule behind each decided to-do's product: the suggestion's rule, else 'owned -> product'."""
    fallback = "→ " + decided["product_id"].astype("str")
    if suggestions is None or suggestions.empty:
        return fallback
    source = suggestions.drop_duplicates(["account_id", "product_id"]).set_index(["account_id", "product_id"])
    if "rule" in source.columns:
        label = source["rule"].astype("str")
    else:
        column = next((c for c in ("rule_antecedents", "antecedents") if c in source.columns), None)
        if column is None:
            return fallback
        label = source[column].astype("str") + " → " + source.index.get_level_values("product_id")
        label = label.where(source[column].notna() & source[column].astype("str").ne(""))
    keys = pd.MultiIndex.from_arrays(
        [decided["account_id"].astype("str"), decided["product_id"].astype("str")]
    )
    return pd.Series(label.reindex(keys).to_numpy(), index=decided.index).fillna(fallback)


def conversion_rates(todos: pd.DataFrame, suggestions: pd.DataFrame | None = None) -> pd.DataFrame:
    """Won / decided, by to-do kind and by the suggestion rule behind cross-sell and upsell to-dos.

    A to-do counts as decided when it is done with an outcome (won, lost,
    no-decision); no-decision counts in the denominator.

    Returns:
        dimension ('kind' | 'rule'), group, decided, won, lost, no_decision,
        conversion (won / decided).
    """
    for column in ("account_id", "kind", "product_id", "status", "outcome"):
        if column not in todos.columns:
            raise ValueError(f"todos lack column {column!r}")
    decided = todos[todos["status"].eq("done") & todos["outcome"].isin(OUTCOMES)]
    columns = ["dimension", "group", "decided", "won", "lost", "no_decision", "conversion"]
    if decided.empty:
        return pd.DataFrame(columns=columns)
    selling = decided[decided["kind"].isin(["cross-sell", "bundle-offer", "seat-upsell"])]
    tables = []
    for dimension, frame, group in (
        ("kind", decided, decided["kind"].astype("str")),
        ("rule", selling, _rule_labels(selling, suggestions)),
    ):
        if frame.empty:
            continue
        counts = pd.crosstab(group.rename("group"), frame["outcome"]).reindex(
            columns=list(OUTCOMES), fill_value=0
        )
        table = pd.DataFrame(
            {
                "dimension": dimension,
                "group": counts.index.astype("str"),
                "decided": counts.sum(axis=1).to_numpy(),
                "won": counts["won"].to_numpy(),
                "lost": counts["lost"].to_numpy(),
                "no_decision": counts["no-decision"].to_numpy(),
            }
        )
        table["conversion"] = table["won"] / table["decided"]
        tables.append(table.sort_values(["decided", "group"], ascending=[False, True]))
    return pd.concat(tables, ignore_index=True)[columns]


def attached_accounts(portfolio: Portfolio, since: pd.Timestamp, as_of: pd.Timestamp) -> pd.Series:
    """Accounts that started a product they did not own on ``since``, in (since, as_of]; trials excluded.

    Returns:
        The account ids, as a series of str.
    """
    subs = portfolio.subscriptions
    new = subs[(subs["start_date"] > since) & (subs["start_date"] <= as_of) & subs["status"].ne("trial")]
    held = owned_as_of(subs, since)[["account_id", "product_id"]].drop_duplicates().assign(_held=True)
    new = new.merge(held, on=["account_id", "product_id"], how="left")
    return pd.Series(new.loc[new["_held"].isna(), "account_id"].astype("str").unique(), dtype="str")


def control_uplift(
    portfolio: Portfolio,
    control: pd.Series,
    since: pd.Timestamp,
    as_of: pd.Timestamp,
    alternative: str = "two-sided",
) -> dict:
    """Attach rate of treated versus control accounts, with a two-proportion z-test (statsmodels).

    ``control`` is ``control_group``'s boolean series (True = held out);
    ``since`` is when the hold-out started.

    Returns:
        dict with treated_accounts, treated_attached, treated_rate,
        control_accounts, control_attached, control_rate, uplift (treated rate
        minus control rate), z, p_value, alternative, note. z and p_value are
        None when a group has fewer than 10 accounts or no account attached.
    """
    if alternative not in ("two-sided", "larger", "smaller"):
        raise ValueError(f"alternative must be two-sided, larger or smaller, got {alternative!r}")
    since, as_of = pd.Timestamp(since), pd.Timestamp(as_of)
    if since >= as_of:
        raise ValueError(f"since {since.date()} must be before as_of {as_of.date()}")
    held_out = pd.Series(control).astype(bool)
    held_out.index = held_out.index.astype("str")
    attached = held_out.index.isin(attached_accounts(portfolio, since, as_of))
    n_t, n_c = int((~held_out).sum()), int(held_out.sum())
    x_t, x_c = int((attached & ~held_out.to_numpy()).sum()), int((attached & held_out.to_numpy()).sum())
    rate_t = x_t / n_t if n_t else float("nan")
    rate_c = x_c / n_c if n_c else float("nan")
    result = {
        "treated_accounts": n_t,
        "treated_attached": x_t,
        "treated_rate": rate_t,
        "control_accounts": n_c,
        "control_attached": x_c,
        "control_rate": rate_c,
        "uplift": rate_t - rate_c,
        "z": None,
        "p_value": None,
        "alternative": alternative,
    }
    if min(n_t, n_c) < MIN_GROUP or x_t + x_c == 0 or x_t + x_c == n_t + n_c:
        result["note"] = (
            f"not enough to test: {n_t} treated and {n_c} control accounts, {x_t + x_c} attached "
            f"(need at least {MIN_GROUP} in each group and some, not all, attaching)"
        )
        return result
    from statsmodels.stats.proportion import proportions_ztest

    z, p = proportions_ztest(np.array([x_t, x_c]), np.array([n_t, n_c]), alternative=alternative)
    result.update(
        z=float(z),
        p_value=float(p),
        note=(
            f"Treated accounts attached a product at {rate_t:.1%} ({x_t} of {n_t}), the control group at "
            f"{rate_c:.1%} ({x_c} of {n_c}): uplift {100 * (rate_t - rate_c):+.1f} points, p = {p:.3g}."
        ),
    )
    return result
