"""Readiness: the usage signals that came before accounts bought a product, and who shows them now.

A product's "magic number" is the threshold on one signal that best separated, some months ago,
the accounts that went on to buy it within ``readiness.horizon_months`` from those that did not.
An account that passes it today is flagged ready, with the numbers behind the claim, so a manager
can see why the moment is good rather than take a score on trust.

Everything works on account x month matrices built once from the monthly usage frame, so each
signal, each threshold count and each monthly series is a numpy operation over all accounts.
"""

from __future__ import annotations

import math
import re
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.compute as pc

from core.affinity.rules import check_portfolio
from core.frames import Portfolio, arrow_text, as_timestamp, positions_in
from core.settings import DEFAULTS

USAGE_COLUMNS = ("account_id", "period", "active_users", "licensed_seats", "logins", "key_events")
MENTIONS = "capability_mentions"
SIGNALS: dict[str, str] = {
    "active_users": "active users",
    "key_events_per_user": "key events per active user",
    "seat_saturation": "seat saturation",
    "usage_growth": "usage growth (3 months vs the 3 before)",
    "team_growth": "team growth",
    "dormancy_return": "logins back after 2+ quiet months",
    MENTIONS: "activities mentioning the product (3 months)",
}
USAGE_SIGNALS = [name for name in SIGNALS if name != MENTIONS]
MAGIC_COLUMNS = [
    "product_id",
    "signal",
    "threshold",
    "direction",
    "buyers_above",
    "accounts_above",
    "buyers_below",
    "accounts_below",
    "rate_above",
    "rate_below",
    "lift",
    "granger_p",
    "granger_lag",
    "note",
    "rank",
    "horizon_months",
]
FLAG_COLUMNS = ["account_id", "product_id", "ready", "readiness_reason", "signal"]
MENTION_MONTHS = 3
DORMANT_MONTHS = 2
RETURN_MONTHS = 3  # a return counts while it is this recent
GROWTH_MONTHS = 3
GRANGER_MAX_LAG = 3
GRANGER_MIN_MONTHS = 12
QUANTILES = np.linspace(0.05, 0.95, 19)
MAX_PASSING_SHARE = 0.5  # a "ready" side bigger than this singles nobody out
ONE_SIDED = {"dormancy_return", MENTIONS}  # only "at least" means ready for these
MAX_EXACT_CANDIDATES = 20
PROOF_NOTE = "Granger test: evidence of precedence, not proof of cause."
_INT_MIN = np.iinfo(np.int64).min
_INT_MAX = np.iinfo(np.int64).max


@dataclass
class _Panel:
    """Monthly usage as account x month matrices; NaN where the account has no row that month."""

    months: pd.DatetimeIndex
    active_users: np.ndarray
    licensed_seats: np.ndarray
    logins: np.ndarray
    key_events: np.ndarray
    seated_users: np.ndarray  # active users of products licensed by the seat: what saturation divides
    first_seen: np.ndarray  # month index of the account's first usage row (< 0 before the grid, len = never)


@dataclass
class _Subscriptions:
    """Subscriptions as index arrays: owning intervals [start, end) and purchase start dates (int64 ns)."""

    account: np.ndarray
    product: np.ndarray
    start: np.ndarray
    end: np.ndarray
    purchase: np.ndarray


@dataclass
class _Observations:
    """Accounts seen at each reference month: one row per account and month, in reference order."""

    account: np.ndarray
    month: np.ndarray
    population: np.ndarray  # row x product: did not own the product at the month's end
    bought: np.ndarray  # row x product: ...and started a purchase of it within the horizon


@dataclass
class _Ownership:
    """Month-end ownership as spans of grid months [first, stop), sorted by product.

    An account's spans for one product never overlap, so summing over spans counts each owning
    account once per month.
    """

    n_months: int
    account: np.ndarray
    product: np.ndarray
    first: np.ndarray
    stop: np.ndarray

    def of(self, code: int) -> tuple[np.ndarray, np.ndarray]:
        """The accounts of product ``code``'s spans and, per span, the months it covers (span x month)."""
        lo, hi = np.searchsorted(self.product, [code, code + 1])
        month = np.arange(self.n_months)
        covered = (month >= self.first[lo:hi, None]) & (month < self.stop[lo:hi, None])
        return self.account[lo:hi], covered


@dataclass
class _FlagGroup:
    """The accounts one magic row flags for one product, each pointing at one of a few distinct reasons."""

    accounts: np.ndarray
    product: int
    ready: bool
    sentences: np.ndarray
    which: np.ndarray  # per account: its position in ``sentences``
    signal: str


# -- public ------------------------------------------------------------------------------------------------


def signal_snapshot(portfolio: Portfolio, usage_account_monthly: pd.DataFrame, at: Any) -> pd.DataFrame:
    """Each account's readiness signals as of the month containing ``at``, from data up to that month only.

    Usage growth compares key events of the last 3 months with the 3 before (needs 6 months of history);
    a dormancy return is a month with logins after 2+ months without (months with no usage row, after
    the account's first one, count as without); mentions count activities of the last 3 months whose
    subject names the product or its family, or whose product_id is the product.

    Returns:
        DataFrame, one row per account of ``portfolio.accounts``, with columns ``account_id``,
        ``active_users``, ``key_events_per_user``, ``seat_saturation``, ``usage_growth``,
        ``team_growth``, ``dormancy_return`` (1.0 / 0.0), then ``capability_mentions:<product_id>``
        per catalogue product. Usage signals are NaN for an account with no usage yet.
    """
    check_portfolio(portfolio)
    _check_usage(usage_account_monthly)
    return pd.DataFrame(_snapshot(portfolio, usage_account_monthly, as_timestamp(at))[0])


def magic_numbers(
    portfolio: Portfolio, usage_account_monthly: pd.DataFrame, as_of: Any, settings: Mapping[str, Any]
) -> pd.DataFrame:
    """For each product, the signal thresholds that best told, in the past, who would buy it soon.

    Reference months are spaced ``readiness.horizon_months`` apart back from the latest month whose
    outcome window ends by ``as_of`` (``readiness.reference_months`` of them). At each, the population
    is the accounts with usage by then that did not own the product at the month's end; a buyer
    started a non-trial subscription to it in the next ``horizon_months`` months. With several
    reference months an account counts once per month. For each signal, thresholds at quantiles of
    the signal (or every value, when it has few) are tried in both directions; "above" means passing
    the threshold. A split needs ``readiness.min_accounts`` on each side and ``readiness.min_buyers``
    buyers above, and lift > 1. The best ``readiness.top_signals`` signals per product are kept; the
    strongest is checked with a Granger test (lags 1-3, smallest ssr F-test p-value): the monthly mean
    of the signal among non-owners against the product's new purchases per month.

    Returns:
        DataFrame with columns ``product_id``, ``signal``, ``threshold``, ``direction`` ('>=' | '<='),
        ``buyers_above``, ``accounts_above``, ``buyers_below``, ``accounts_below``, ``rate_above``,
        ``rate_below``, ``lift`` (rate_above / rate_below; inf when no account below bought),
        ``granger_p`` (float, NaN when not run), ``granger_lag`` (float, NaN when not run), ``note``,
        ``rank`` (1 = the product's strongest signal), ``horizon_months``; sorted by product_id, rank.
    """
    check_portfolio(portfolio)
    _check_usage(usage_account_monthly)
    stamp = as_timestamp(as_of)
    horizon, n_refs, min_accounts, min_buyers, top = _settings(settings)
    usage = usage_account_monthly[usage_account_monthly["period"] <= stamp]
    if usage["period"].notna().sum() == 0:
        return _empty_magic()
    accounts, products = _account_index(portfolio), _product_index(portfolio)
    first_month = usage["period"].min().to_period("M").to_timestamp()
    last_month = usage["period"].max().to_period("M").to_timestamp()
    panel = _build_panel(usage, accounts, first_month, last_month)
    cuts = _month_ends(panel.months)
    refs = _reference_months(cuts, stamp, horizon, n_refs)
    if not refs:
        return _empty_magic()
    signals = _signal_matrices(panel, _team_growth(portfolio, accounts))
    subs = _subscription_arrays(portfolio, accounts, products)
    events = _mention_events(
        portfolio, accounts, products, panel.months[0] - pd.DateOffset(months=MENTION_MONTHS), cuts[-1]
    )

    obs = _observations(panel, subs, cuts, refs, horizon, len(products))
    limits = (min_accounts, min_buyers)
    cells = _Cells.of(obs.population, obs.bought)
    found = [
        _best_splits(signals[name][obs.account, obs.month], cells, name, products, *limits)
        for name in USAGE_SIGNALS
    ]
    for code, mentioned in enumerate(
        _mentions_by_observation(events, obs, panel.months[0], len(accounts), len(products))
    ):
        values = np.bincount(mentioned, minlength=len(obs.account)).astype(float)
        found.append(_best_splits(values, cells.column(code), MENTIONS, products[[code]], *limits))
    found = [f for f in found if f]
    if not found:
        return _empty_magic()
    magic = pd.DataFrame({name: np.concatenate([f[name] for f in found]) for name in found[0]})
    magic = magic.sort_values(
        ["product_id", "strength", "buyers_above", "signal"],
        ascending=[True, False, False, True],
        ignore_index=True,
    )
    magic["rank"] = magic.groupby("product_id").cumcount() + 1
    magic = magic[magic["rank"] <= top].reset_index(drop=True)
    magic["horizon_months"] = horizon
    return _add_granger(magic, panel, signals, subs, events, products, stamp)[MAGIC_COLUMNS]


def readiness_flags(
    portfolio: Portfolio,
    usage_account_monthly: pd.DataFrame,
    magic: pd.DataFrame,
    as_of: Any,
    max_rank: int = 1,
    include_not_ready: bool = False,
) -> pd.DataFrame:
    """Which accounts pass a product's magic number today, for products they do not own, and why.

    Signals are taken at the latest usage month up to ``as_of``; only accounts with usage by then are
    judged. A pair is ready when the account passes one of the product's rows in ``magic`` ranked up
    to ``max_rank`` (1 = only the magic number itself); the reason quotes the best-ranked row passed.
    Products without a magic number get no rows: for them a missing pair means "no evidence".

    Args:
        max_rank: the lowest-ranked magic row per product that can make an account ready.
        include_not_ready: also return ready=False rows for every other judged, non-owned pair of a
            product that has a magic number (large at scale; off by default).

    Returns:
        DataFrame with columns ``account_id``, ``product_id``, ``ready`` (bool), ``readiness_reason``
        (one sentence with the numbers), ``signal``; sorted by account_id, product_id.
    """
    check_portfolio(portfolio)
    _check_usage(usage_account_monthly)
    _check_magic(magic)
    stamp = as_timestamp(as_of)
    usage = usage_account_monthly[usage_account_monthly["period"] <= stamp]
    accounts, products = _account_index(portfolio), _product_index(portfolio)
    magic = magic[(magic["lift"] > 1) & (magic["rank"] <= max_rank)]
    magic = magic.assign(product_id=magic["product_id"].astype(str))
    magic = magic[magic["product_id"].isin(products)].sort_values(["product_id", "rank"], ignore_index=True)
    if usage["period"].notna().sum() == 0 or magic.empty:
        return _empty_flags()
    snapshot, seen = _snapshot(portfolio, usage, usage["period"].max())
    subs = _subscription_arrays(portfolio, accounts, products)
    open_pairs = seen[:, None] & ~_owned_at(subs, stamp.value, len(accounts), len(products))
    names = dict(
        zip(portfolio.products["product_id"].astype(str), portfolio.products["name"].astype(str), strict=True)
    )

    groups = []
    for row in magic.itertuples(index=False):
        code = products.get_loc(row.product_id)
        column = f"{MENTIONS}:{row.product_id}" if row.signal == MENTIONS else row.signal
        values = snapshot[column]
        with np.errstate(invalid="ignore"):
            passes = values >= row.threshold if row.direction == ">=" else values <= row.threshold
        chosen = np.flatnonzero(passes & open_pairs[:, code])
        open_pairs[chosen, code] = False
        sentences, which = _reasons(row, values[chosen], names.get(row.product_id, row.product_id))
        groups.append(_FlagGroup(chosen, code, True, sentences, which, row.signal))
    if include_not_ready:
        for code in sorted({products.get_loc(p) for p in magic["product_id"]}):
            chosen = np.flatnonzero(open_pairs[:, code])
            sentences = np.array(["no signal past this product's magic number yet"], dtype=object)
            groups.append(
                _FlagGroup(chosen, code, False, sentences, np.zeros(len(chosen), dtype=np.int64), "")
            )
    return _flags_frame(groups, accounts, products)


def granger_precedence(
    signal: np.ndarray, purchases: np.ndarray, max_lag: int = GRANGER_MAX_LAG
) -> tuple[float, float, str]:
    """Whether a monthly signal series helps predict a monthly purchase series (statsmodels Granger test).

    Returns:
        ``(p_value, lag, note)``: the smallest ssr F-test p-value over lags 1..max_lag and its lag, or
        ``(nan, nan, note)`` with the reason when the series are too short or constant.
    """
    from statsmodels.tools.sm_exceptions import InfeasibleTestError
    from statsmodels.tsa.stattools import grangercausalitytests

    x = np.asarray(signal, dtype=float)
    y = np.asarray(purchases, dtype=float)
    if x.shape != y.shape or x.ndim != 1:
        raise ValueError("signal and purchases must be 1-D series of the same length.")
    keep = np.isfinite(x) & np.isfinite(y)
    x, y = x[keep], y[keep]
    if len(x) < GRANGER_MIN_MONTHS:
        return (
            math.nan,
            math.nan,
            f"Granger test skipped: {len(x)} months of history, needs {GRANGER_MIN_MONTHS}.",
        )
    if np.ptp(x) == 0 or np.ptp(y) == 0:
        which = "signal" if np.ptp(x) == 0 else "purchase"
        return math.nan, math.nan, f"Granger test skipped: the monthly {which} series is constant."
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            results = grangercausalitytests(np.column_stack([y, x]), maxlag=max_lag)
    except (ValueError, np.linalg.LinAlgError, InfeasibleTestError) as error:
        return math.nan, math.nan, f"Granger test skipped: {error}"
    pvalues = {lag: float(res[0]["ssr_ftest"][1]) for lag, res in results.items()}
    pvalues = {lag: p for lag, p in pvalues.items() if np.isfinite(p)}
    if not pvalues:
        return math.nan, math.nan, "Granger test skipped: the fit was degenerate."
    lag = min(pvalues, key=lambda k: (pvalues[k], k))
    verdict = "led" if pvalues[lag] <= 0.05 else "did not clearly lead"
    note = (
        f"{PROOF_NOTE} The signal's monthly mean {verdict} new purchases (p={pvalues[lag]:.3g} at lag {lag})."
    )
    return pvalues[lag], float(lag), note


def _snapshot(
    portfolio: Portfolio, usage: pd.DataFrame, at: pd.Timestamp
) -> tuple[dict[str, Any], np.ndarray]:
    """The snapshot's columns, and which accounts had any usage by then (the ones readiness can judge)."""
    month = at.to_period("M").to_timestamp()
    accounts, products = _account_index(portfolio), _product_index(portfolio)
    start = month - pd.DateOffset(months=2 * GROWTH_MONTHS - 1)
    panel = _build_panel(usage, accounts, start, month)
    last = len(panel.months) - 1
    signals = _signal_matrices(panel, _team_growth(portfolio, accounts))
    columns = {"account_id": accounts.array} | {name: signals[name][:, last] for name in USAGE_SIGNALS}
    # only the last MENTION_MONTHS months of activities count
    events = _mention_events(
        portfolio, accounts, products, panel.months[-MENTION_MONTHS], _month_ends(panel.months)[-1]
    )
    mentions = _mentions_at(events, last, len(accounts), len(products), panel.months[0])
    columns |= {f"{MENTIONS}:{product}": mentions[code] for code, product in enumerate(products)}
    return columns, panel.first_seen <= last


# -- validation and settings -------------------------------------------------------------------------------


def _check_usage(usage: pd.DataFrame) -> None:
    if not isinstance(usage, pd.DataFrame):
        raise ValueError("usage_account_monthly must be a DataFrame.")
    missing = [c for c in USAGE_COLUMNS if c not in usage.columns]
    if missing:
        raise ValueError(f"usage_account_monthly lacks column(s): {', '.join(missing)}.")
    if len(usage) and not pd.api.types.is_datetime64_any_dtype(usage["period"]):
        raise ValueError("usage_account_monthly.period must be datetime64 (first day of each month).")


def _check_magic(magic: pd.DataFrame) -> None:
    if not isinstance(magic, pd.DataFrame):
        raise ValueError("magic must be the DataFrame magic_numbers() returned.")
    missing = [c for c in MAGIC_COLUMNS if c not in magic.columns]
    if missing:
        raise ValueError(f"magic lacks column(s): {', '.join(missing)}.")
    unknown = set(magic["signal"]) - set(SIGNALS)
    if unknown:
        raise ValueError(f"magic names unknown signal(s): {', '.join(sorted(map(str, unknown)))}.")


def _settings(settings: Mapping[str, Any]) -> tuple[int, int, int, int, int]:
    if not isinstance(settings, Mapping):
        raise ValueError("settings must be the dict core.settings.resolve() returns.")
    values = []
    for key in ("horizon_months", "reference_months", "min_accounts", "min_buyers", "top_signals"):
        value = settings.get(f"readiness.{key}", DEFAULTS.get(f"readiness.{key}"))
        try:
            number = int(value)
        except (TypeError, ValueError):
            raise ValueError(f"setting 'readiness.{key}' must be a whole number, got {value!r}.") from None
        if number < 1:
            raise ValueError(f"setting 'readiness.{key}' must be at least 1, got {value!r}.")
        values.append(number)
    return tuple(values)  # type: ignore[return-value]


def _empty_magic() -> pd.DataFrame:
    types = ["str", "str", "float64", "str"] + ["int64"] * 4 + ["float64"] * 5 + ["str", "int64", "int64"]
    return pd.DataFrame({c: pd.Series(dtype=t) for c, t in zip(MAGIC_COLUMNS, types, strict=True)})


def _empty_flags() -> pd.DataFrame:
    types = ["str", "str", "bool", "str", "str"]
    return pd.DataFrame({c: pd.Series(dtype=t) for c, t in zip(FLAG_COLUMNS, types, strict=True)})


def _flags_frame(groups: list[_FlagGroup], accounts: pd.Index, products: pd.Index) -> pd.DataFrame:
    """The flag rows sorted by account_id, product_id.

    Text columns are taken from their few distinct values by position, so no Python string is made
    or converted per row.
    """
    sizes = [len(g.accounts) for g in groups]
    account = np.concatenate([g.accounts for g in groups])
    product = np.repeat([g.product for g in groups], sizes)
    offsets = np.cumsum([0] + [len(g.sentences) for g in groups[:-1]])
    sentence = np.concatenate([g.which + offset for g, offset in zip(groups, offsets, strict=True)])
    account_rank = pc.rank(arrow_text(accounts), sort_keys="ascending", tiebreaker="first").to_numpy()
    order = np.lexsort((product, account_rank[account]))
    return pd.DataFrame(
        {
            "account_id": _texts_at(accounts, account[order]),
            "product_id": _texts_at(products, product[order]),
            "ready": np.repeat([g.ready for g in groups], sizes)[order].astype(bool),
            "readiness_reason": _texts_at(np.concatenate([g.sentences for g in groups]), sentence[order]),
            "signal": _texts_at([g.signal for g in groups], np.repeat(np.arange(len(groups)), sizes)[order]),
        }
    )


def _texts_at(texts: Any, positions: np.ndarray) -> pd.api.extensions.ExtensionArray:
    """``texts[positions]`` as a ``str`` array, converting each distinct text once."""
    return pd.array(texts, dtype="str").take(positions)


# -- the panel and its signals -----------------------------------------------------------------------------


def _account_index(portfolio: Portfolio) -> pd.Index:
    return pd.Index(portfolio.accounts["account_id"].astype(str), name="account_id")


def _product_index(portfolio: Portfolio) -> pd.Index:
    return pd.Index(sorted(portfolio.products["product_id"].astype(str).unique()), name="product_id")


def _month_ends(months: pd.DatetimeIndex) -> pd.DatetimeIndex:
    return months + pd.offsets.MonthEnd(0)


def _month_offsets(dates: pd.Series, origin: pd.Timestamp) -> tuple[np.ndarray, np.ndarray]:
    """Whole months from ``origin`` to each date, and which dates are present.

    Dates repeat (usage is monthly, activities daily), so each distinct date is converted once.
    """
    codes, distinct = pd.factorize(dates)
    base = np.datetime64(origin.to_period("M").to_timestamp(), "M")
    months = (distinct.to_numpy(dtype="datetime64[ns]").astype("datetime64[M]") - base).astype(np.int64)
    return np.append(months, 0)[codes], codes >= 0


def _build_panel(usage: pd.DataFrame, accounts: pd.Index, start: pd.Timestamp, end: pd.Timestamp) -> _Panel:
    """Sum the usage rows into account x month matrices for the months from ``start`` to ``end``."""
    months = pd.date_range(start.to_period("M").to_timestamp(), end.to_period("M").to_timestamp(), freq="MS")
    n_accounts, n_months = len(accounts), len(months)
    account = positions_in(usage["account_id"], accounts)
    month, present = _month_offsets(usage["period"], months[0])
    known = (account >= 0) & present & (month < n_months)
    first_seen = np.full(n_accounts, n_months, dtype=np.int64)
    np.minimum.at(first_seen, account[known], month[known])
    inside = known & (month >= 0)
    cell = account[inside] * n_months + month[inside]
    size = n_accounts * n_months
    numbers = {column: pd.to_numeric(usage[column], errors="coerce") for column in USAGE_COLUMNS[2:]}
    numbers["seated_users"] = (
        pd.to_numeric(usage["seated_users"], errors="coerce")
        if "seated_users" in usage
        else numbers["active_users"].where(numbers["licensed_seats"] > 0)
    )
    single = np.bincount(cell, minlength=size).max(initial=0) <= 1
    matrices = {
        column: _cell_sums(cell, series.to_numpy(dtype=float)[inside], size, single).reshape(
            n_accounts, n_months
        )
        for column, series in numbers.items()
    }
    return _Panel(months=months, first_seen=first_seen, **matrices)


def _cell_sums(cell: np.ndarray, values: np.ndarray, size: int, single: bool) -> np.ndarray:
    """The sum of the non-NaN values per cell, NaN where a cell has none.

    With at most one row per cell (the usual account x month usage) the values are placed rather
    than summed: a NaN lands as NaN, and adding 0.0 turns -0.0 into 0.0 just as the sum would.
    """
    if single:
        sums = np.full(size, np.nan)
        sums[cell] = values + 0.0
        return sums
    has = ~np.isnan(values)
    total = np.bincount(cell[has], weights=values[has], minlength=size)
    count = np.bincount(cell[has], minlength=size)
    return np.where(count > 0, total, np.nan)


def _team_growth(portfolio: Portfolio, accounts: pd.Index) -> np.ndarray:
    frame = portfolio.accounts
    if "employees" not in frame or "employees_prev" not in frame:
        return np.full(len(accounts), np.nan)
    now = pd.to_numeric(frame["employees"], errors="coerce").to_numpy(dtype=float)
    before = pd.to_numeric(frame["employees_prev"], errors="coerce").to_numpy(dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(before > 0, now / before - 1, np.nan)


def _signal_matrices(panel: _Panel, team_growth: np.ndarray) -> dict[str, np.ndarray]:
    """Every usage signal for every account and month (column j uses months up to j only)."""
    users, seats, logins, events = panel.active_users, panel.licensed_seats, panel.logins, panel.key_events
    n_accounts, n_months = users.shape
    month = np.arange(n_months)[None, :]
    with np.errstate(divide="ignore", invalid="ignore"):
        per_user = np.where(users > 0, events / users, np.nan)
        saturation = np.where(seats > 0, panel.seated_users / seats, np.nan)
        running = np.zeros((n_accounts, n_months + 1))
        np.cumsum(np.nan_to_num(events), axis=1, out=running[:, 1:])
        window = GROWTH_MONTHS
        growth = np.full((n_accounts, n_months), np.nan)
        if n_months >= 2 * window:
            recent = running[:, 2 * window :] - running[:, window:-window]
            prior = running[:, window:-window] - running[:, : -2 * window]
            growth[:, 2 * window - 1 :] = np.where(prior > 0, recent / prior - 1, np.nan)
        growth[month < panel.first_seen[:, None] + 2 * window - 1] = np.nan

    observed = month >= panel.first_seen[:, None]
    active = logins >= 1
    quiet = observed & ~active
    back = np.zeros((n_accounts, n_months), dtype=bool)
    if n_months > DORMANT_MONTHS:
        back[:, DORMANT_MONTHS:] = active[:, DORMANT_MONTHS:]
        for gap in range(1, DORMANT_MONTHS + 1):
            back[:, DORMANT_MONTHS:] &= quiet[:, DORMANT_MONTHS - gap : n_months - gap]
    recent_back = back.copy()
    for shift in range(1, RETURN_MONTHS):
        recent_back[:, shift:] |= back[:, :-shift]
    dormancy = np.where(observed, recent_back.astype(float), np.nan)
    return {
        "active_users": users,
        "key_events_per_user": per_user,
        "seat_saturation": saturation,
        "usage_growth": growth,
        "team_growth": np.broadcast_to(team_growth[:, None], (n_accounts, n_months)),
        "dormancy_return": dormancy,
    }


# -- subscriptions -----------------------------------------------------------------------------------------


def _as_ns(series: pd.Series) -> np.ndarray:
    return pd.to_datetime(series, errors="coerce").to_numpy(dtype="datetime64[ns]").astype(np.int64)


def _subscription_arrays(portfolio: Portfolio, accounts: pd.Index, products: pd.Index) -> _Subscriptions:
    """Owning intervals by the rule of ``core.frames.owned_as_of``; purchases are non-trial starts."""
    subs = portfolio.subscriptions
    account = positions_in(subs["account_id"], accounts)
    product = positions_in(subs["product_id"], products)
    start = _as_ns(subs["start_date"])
    churned_at = _as_ns(subs["churned_at"])
    status = subs["status"].astype("str")
    active, churned = (status == "active").to_numpy(), (status == "churned").to_numpy()
    end = np.where(active, _INT_MAX, np.where(churned, churned_at, _INT_MIN))
    end = np.where(end == _INT_MIN, start, end)
    keep = (account >= 0) & (product >= 0) & (start != _INT_MIN)
    purchase = (status != "trial").to_numpy()
    return _Subscriptions(account[keep], product[keep], start[keep], end[keep], purchase[keep])


def _owned_at(subs: _Subscriptions, cut: int, n_accounts: int, n_products: int) -> np.ndarray:
    owned = np.zeros((n_accounts, n_products), dtype=bool)
    hit = (subs.start <= cut) & (cut < subs.end)
    owned[subs.account[hit], subs.product[hit]] = True
    return owned


def _bought_between(
    subs: _Subscriptions, after: int, until: int, n_accounts: int, n_products: int
) -> np.ndarray:
    bought = np.zeros((n_accounts, n_products), dtype=bool)
    hit = subs.purchase & (subs.start > after) & (subs.start <= until)
    bought[subs.account[hit], subs.product[hit]] = True
    return bought


def _ownership_by_month(subs: _Subscriptions, cuts: pd.DatetimeIndex, n_accounts: int) -> _Ownership:
    """Every subscription's span of owning month-ends, with overlaps within an account and product cut away.

    Sorted by start within each (product, account), a span only adds the months past the furthest
    end of the spans before it.
    """
    cut_ns = cuts.to_numpy(dtype="datetime64[ns]").astype(np.int64)
    first = np.searchsorted(cut_ns, subs.start, side="left")
    stop = np.searchsorted(cut_ns, subs.end, side="left")
    width = len(cuts) + 1  # more than any stop
    pair = subs.product * n_accounts + subs.account
    order = np.argsort(pair * width + first)
    pair, first, stop = pair[order], first[order], stop[order]
    new_pair = np.diff(pair, prepend=-1) != 0
    offset = (np.cumsum(new_pair) - 1) * width
    reach = np.maximum.accumulate(stop + offset) - offset  # furthest end so far within the pair
    first = np.where(new_pair, first, np.maximum(first, np.roll(reach, 1)))
    spans = first < stop
    return _Ownership(
        len(cuts), pair[spans] % n_accounts, pair[spans] // n_accounts, first[spans], stop[spans]
    )


def _observations(
    panel: _Panel,
    subs: _Subscriptions,
    cuts: pd.DatetimeIndex,
    refs: list[int],
    horizon: int,
    n_products: int,
) -> _Observations:
    """Every account with usage by a reference month, at that month, with who could buy what and who did."""
    n_accounts = len(panel.first_seen)
    account, month, population, bought = [], [], [], []
    for j in refs:
        rows = np.flatnonzero(panel.first_seen <= j)
        owned = _owned_at(subs, cuts[j].value, n_accounts, n_products)[rows]
        window_end = (cuts[j] + pd.offsets.MonthEnd(horizon)).value
        buyers = _bought_between(subs, cuts[j].value, window_end, n_accounts, n_products)[rows]
        account.append(rows)
        month.append(np.full(len(rows), j))
        population.append(~owned)
        bought.append(buyers & ~owned)
    return _Observations(*(np.concatenate(parts) for parts in (account, month, population, bought)))


# -- mentions ----------------------------------------------------------------------------------------------


def _mention_events(
    portfolio: Portfolio, accounts: pd.Index, products: pd.Index, start: pd.Timestamp, end: pd.Timestamp
) -> pd.DataFrame:
    """Activities between ``start`` and ``end`` that concern a product: by product_id or subject words.

    A subject mentions a product when it contains the product's name or family as a whole word
    (case-insensitive; ASCII letters and digits bound a word, so CJK names match inside text).

    Returns a DataFrame with columns ``account`` and ``product`` (codes) and ``date``, one row per
    activity and product concerned.
    """
    acts = portfolio.activities
    empty = pd.DataFrame(
        {
            "account": pd.Series(dtype="int64"),
            "product": pd.Series(dtype="int64"),
            "date": pd.Series(dtype="datetime64[ns]"),
        }
    )
    if acts is None or len(acts) == 0 or "account_id" not in acts or "date" not in acts:
        return empty
    dates = pd.to_datetime(acts["date"], errors="coerce")
    inside = ((dates >= start) & (dates <= end)).to_numpy()
    acts = acts[[c for c in ("account_id", "product_id", "subject") if c in acts]][inside]
    account = positions_in(acts["account_id"], accounts)
    row = np.arange(len(acts))
    product = positions_in(acts["product_id"], products) if "product_id" in acts else np.full(len(acts), -1)
    if "subject" in acts and len(acts):
        named_row, named = _subject_mentions(acts["subject"], portfolio.products, products)
        again = named == product[named_row]  # the activity's own product, named in its subject too
        row = np.concatenate([row, named_row[~again]])
        product = np.concatenate([product, named[~again]])
    keep = (product >= 0) & (account[row] >= 0)
    row, product = row[keep], product[keep]
    return pd.DataFrame(
        {
            "account": account[row].astype(np.int64),
            "product": product.astype(np.int64),
            "date": dates.to_numpy(dtype="datetime64[ns]")[inside][row],
        }
    )


def _mention_terms(catalogue: pd.DataFrame, products: pd.Index) -> dict[str, set[int]]:
    """Words that point at products: each name and family, and name words no other product's name has.

    A term that contains another as a whole word points at that one's products too, so "marketing
    automation" still mentions the "marketing" family even though the regex consumes the longer term.
    """
    terms: dict[str, set[int]] = {}
    names = catalogue["name"] if "name" in catalogue else pd.Series(dtype="str")
    families = catalogue["family"] if "family" in catalogue else pd.Series([None] * len(catalogue))
    name_words: dict[str, set[int]] = {}
    for pid, name, family in zip(catalogue["product_id"].astype(str), names, families, strict=True):
        code = products.get_loc(pid)
        for text in (name, family):
            if isinstance(text, str) and len(text.strip()) >= 2:
                terms.setdefault(text.strip().lower(), set()).add(code)
        if isinstance(name, str):
            for word in set(re.findall(r"[0-9a-z]{4,}", name.lower())):
                name_words.setdefault(word, set()).add(code)
    for word, codes in name_words.items():
        if len(codes) == 1:
            terms.setdefault(word, set()).update(codes)
    for term in list(terms):
        for other in terms:
            if (
                other != term
                and other in term
                and re.search(rf"(?<![0-9a-z]){re.escape(other)}(?![0-9a-z])", term)
            ):
                terms[term] = terms[term] | terms[other]
    return terms


def _subject_mentions(
    subjects: pd.Series, catalogue: pd.DataFrame, products: pd.Index
) -> tuple[np.ndarray, np.ndarray]:
    """(row, product code) for every subject that names a product, matching each distinct subject once."""
    terms = _mention_terms(catalogue, products)
    if not terms:
        return np.array([], dtype=np.int64), np.array([], dtype=np.int64)
    alternatives = "|".join(re.escape(t) for t in sorted(terms, key=len, reverse=True))
    pattern = re.compile(rf"(?<![0-9a-z])(?:{alternatives})(?![0-9a-z])")
    codes, distinct = pd.factorize(subjects.astype("str"))  # subjects repeat: lower-case each one once
    lowered = distinct.str.lower()
    named = [
        sorted({code for word in set(pattern.findall(text)) for code in terms[word]}) for text in lowered
    ]
    # one row per distinct subject, padded with -1; the last row, for a missing subject, names nothing
    table = np.full((len(named) + 1, max(map(len, named), default=0)), -1, dtype=np.int64)
    for i, named_codes in enumerate(named):
        table[i, : len(named_codes)] = named_codes
    rows = np.arange(len(codes))
    named_rows, named_products = [rows[:0]], [rows[:0]]
    for nth in table.T:  # each subject's nth product: only rows that named an (n-1)th can name one
        product = nth[codes[rows]]
        named = product >= 0
        rows, product = rows[named], product[named]
        named_rows.append(rows)
        named_products.append(product)
    return np.concatenate(named_rows), np.concatenate(named_products)


def _mentions_at(
    events: pd.DataFrame, j: int, n_accounts: int, n_products: int, origin: pd.Timestamp
) -> np.ndarray:
    """Mentions per product and account (product x account, so a product's row is contiguous) in the
    ``MENTION_MONTHS`` months ending with grid month ``j``.
    """
    month, _ = _month_offsets(events["date"], origin)
    hit = (month <= j) & (month > j - MENTION_MONTHS)
    cell = events["product"].to_numpy()[hit] * n_accounts + events["account"].to_numpy()[hit]
    counts = np.zeros(n_products * n_accounts)
    np.add.at(counts, cell, 1.0)
    return counts.reshape(n_products, n_accounts)


def _mentions_by_observation(
    events: pd.DataFrame, obs: _Observations, origin: pd.Timestamp, n_accounts: int, n_products: int
) -> list[np.ndarray]:
    """For each product, the observation row each of its mentions counts toward (repeated per mention).

    A row counts the mentions of the ``MENTION_MONTHS`` months ending with its month. Mentions are
    few next to rows x products, so they are listed rather than counted into a dense matrix.
    """
    month, _ = _month_offsets(events["date"], origin)
    account, product = events["account"].to_numpy(), events["product"].to_numpy()
    row_of = np.full(n_accounts, -1)
    rows, products = [row_of[:0]], [row_of[:0]]
    for j in np.unique(obs.month):
        mine = np.flatnonzero(obs.month == j)
        row_of[:] = -1
        row_of[obs.account[mine]] = mine
        hit = np.flatnonzero((month <= j) & (month > j - MENTION_MONTHS))
        at = row_of[account[hit]]
        rows.append(at[at >= 0])
        products.append(product[hit][at >= 0])
    rows, products = np.concatenate(rows), np.concatenate(products)
    order = np.argsort(products, kind="stable")
    return np.split(rows[order], np.searchsorted(products[order], np.arange(1, n_products)))


# -- thresholds --------------------------------------------------------------------------------------------


def _reference_months(cuts: pd.DatetimeIndex, as_of: pd.Timestamp, horizon: int, count: int) -> list[int]:
    """Grid months whose outcome window (the next ``horizon`` months) has fully passed by ``as_of``."""
    ends = cuts + pd.offsets.MonthEnd(horizon)
    done = np.flatnonzero(ends <= as_of)
    if len(done) == 0:
        return []
    last = int(done[-1])
    return [last - k * horizon for k in range(count) if last - k * horizon >= 0]


def _candidates(values: np.ndarray) -> np.ndarray:
    distinct = np.unique(values)
    if len(distinct) <= MAX_EXACT_CANDIDATES:
        return distinct
    points = np.quantile(values, QUANTILES)
    with np.errstate(divide="ignore", invalid="ignore"):
        scale = 10.0 ** (np.floor(np.log10(np.abs(points))) - 1)
    rounded = np.where(points != 0, np.round(points / np.where(points != 0, scale, 1)) * scale, 0.0)
    return np.unique(np.round(rounded, 12))


@dataclass
class _Cells:
    """The (row, product) cells left out of the population and those of its buyers, found once.

    Owners are few next to non-owners, so the population per bin is every row in it less the owners:
    counting the few cells rather than the many.
    """

    width: int
    left_out: tuple[np.ndarray, np.ndarray]
    buyers: tuple[np.ndarray, np.ndarray]

    @classmethod
    def of(cls, population: np.ndarray, buyers: np.ndarray) -> _Cells:
        """The cells of (row x product) tables, listed product by product."""
        left_out, buyers = np.nonzero(~population.T), np.nonzero(buyers.T)
        return cls(population.shape[1], left_out[::-1], buyers[::-1])

    def column(self, code: int) -> _Cells:
        """One product's cells, as a table one column wide (for a signal that differs by product)."""
        return _Cells(1, _in_column(self.left_out, code), _in_column(self.buyers, code))

    def per_bin(self, bins: np.ndarray, n_bins: int) -> tuple[np.ndarray, np.ndarray]:
        """Population and buyer counts per bin of the signal (rows of the result) and product."""
        everyone = np.bincount(bins, minlength=n_bins)[:, None]
        return everyone - self._count(self.left_out, bins, n_bins), self._count(self.buyers, bins, n_bins)

    def _count(self, cells: tuple[np.ndarray, np.ndarray], bins: np.ndarray, n_bins: int) -> np.ndarray:
        rows, cols = cells
        flat = bins[rows] * self.width + cols
        return np.bincount(flat, minlength=n_bins * self.width).reshape(n_bins, self.width)


def _in_column(cells: tuple[np.ndarray, np.ndarray], code: int) -> tuple[np.ndarray, np.ndarray]:
    rows, cols = cells
    lo, hi = np.searchsorted(cols, [code, code + 1])
    return rows[lo:hi], np.zeros(hi - lo, dtype=np.int64)


def _best_splits(
    values: np.ndarray,
    cells: _Cells,
    signal: str,
    products: pd.Index,
    min_accounts: int,
    min_buyers: int,
) -> dict[str, np.ndarray]:
    """The best threshold on one signal for each product column, as the columns of the magic frame.

    Each observation falls in a bin, between two candidate thresholds or on one, so the counts on
    either side of every threshold, in both directions and for every product, are running sums of
    one bincount. Candidates are ranked by
    lift shrunk toward the base rate with ``min_accounts`` pseudo-accounts per side, so a small side
    with no buyers cannot win on an infinite lift; the reported lift is the exact one.
    """
    valid = ~np.isnan(values)
    if not valid.any():
        return {}
    thresholds = _candidates(values[valid])
    n = len(thresholds)
    # bin 2k: between thresholds k-1 and k; bin 2k+1: equal to threshold k; bin 2n+1: no value
    below = np.searchsorted(thresholds, values, side="left")
    bins = 2 * below + (thresholds[np.minimum(below, n - 1)] == values)
    bins[~valid] = 2 * n + 1
    pop_bins, buy_bins = cells.per_bin(bins, 2 * n + 2)
    pop_upto, buy_upto = np.cumsum(pop_bins[: 2 * n + 1], axis=0), np.cumsum(buy_bins[: 2 * n + 1], axis=0)
    total_accounts, total_buyers = pop_upto[-1], buy_upto[-1]
    sides = {">=": (total_accounts - pop_upto[: 2 * n : 2], total_buyers - buy_upto[: 2 * n : 2])}
    if signal not in ONE_SIDED:
        sides["<="] = (pop_upto[1::2], buy_upto[1::2])
    base = total_buyers / np.maximum(total_accounts, 1)
    passing = []
    for direction, (a_acc, a_buy) in sides.items():
        b_acc, b_buy = total_accounts - a_acc, total_buyers - a_buy
        with np.errstate(divide="ignore", invalid="ignore"):
            rate_a = np.where(a_acc > 0, a_buy / np.maximum(a_acc, 1), 0.0)
            rate_b = np.where(b_acc > 0, b_buy / np.maximum(b_acc, 1), 0.0)
            lift = np.where(rate_b > 0, rate_a / rate_b, np.inf)
            shrunk = ((a_buy + min_accounts * base) / (a_acc + min_accounts)) / (
                (b_buy + min_accounts * base) / (b_acc + min_accounts)
            )
        ok = (a_acc >= min_accounts) & (b_acc >= min_accounts) & (a_buy >= min_buyers) & (lift > 1)
        ok &= a_acc <= MAX_PASSING_SHARE * total_accounts
        t, code = np.nonzero(ok)
        passing.append(
            {
                "code": code,
                "threshold": thresholds[t],
                "direction": np.full(len(t), direction, dtype=object),
                "buyers_above": a_buy[t, code],
                "accounts_above": a_acc[t, code],
                "buyers_below": b_buy[t, code],
                "accounts_below": b_acc[t, code],
                "rate_above": rate_a[t, code],
                "rate_below": rate_b[t, code],
                "lift": lift[t, code],
                "strength": shrunk[t, code],
            }
        )
    found = {name: np.concatenate([p[name] for p in passing]) for name in passing[0]}
    best = _strongest_per_code(found)
    if len(best) == 0:
        return {}
    code = found.pop("code")[best]
    columns = {"product_id": products.to_numpy()[code], "signal": np.full(len(best), signal, dtype=object)}
    return columns | {name: column[best] for name, column in found.items()}


def _strongest_per_code(found: dict[str, np.ndarray]) -> np.ndarray:
    """Positions of each product code's strongest split, in code order.

    Strongest is the highest strength, then most buyers, then most accounts above; the earlier
    candidate wins a full tie.
    """
    order = np.lexsort((-found["accounts_above"], -found["buyers_above"], -found["strength"], found["code"]))
    return order[np.diff(found["code"][order], prepend=-1) != 0]


# -- Granger -----------------------------------------------------------------------------------------------


def _add_granger(
    magic: pd.DataFrame,
    panel: _Panel,
    signals: dict[str, np.ndarray],
    subs: _Subscriptions,
    events: pd.DataFrame,
    products: pd.Index,
    as_of: pd.Timestamp,
) -> pd.DataFrame:
    """Granger-test each product's strongest signal: its non-owner monthly mean vs new purchases."""
    cuts = _month_ends(panel.months)
    complete = np.asarray(cuts <= as_of)
    n_months = len(panel.months)
    start_month, present = _month_offsets(pd.Series(subs.start.astype("datetime64[ns]")), panel.months[0])
    counted = present & subs.purchase & (start_month >= 0) & (start_month < n_months)
    purchases = np.bincount(
        subs.product[counted] * n_months + start_month[counted], minlength=len(products) * n_months
    ).reshape(len(products), n_months)
    ownership = _ownership_by_month(subs, cuts, panel.active_users.shape[0])
    means = _non_owner_means(magic[magic["rank"] == 1], panel, signals, ownership, events, products)
    p_values, lags, notes = [], [], []
    for row in magic.itertuples(index=False):
        if row.rank != 1:
            p_values.append(math.nan)
            lags.append(math.nan)
            notes.append("Granger test run on the product's strongest signal only.")
            continue
        code = products.get_loc(row.product_id)
        p, lag, note = granger_precedence(
            means[row.product_id][complete], purchases[code][complete].astype(float)
        )
        p_values.append(p)
        lags.append(lag)
        notes.append(note)
    return magic.assign(
        granger_p=np.array(p_values, dtype=float),
        granger_lag=np.array(lags, dtype=float),
        note=pd.array(notes, dtype="str"),
    )


def _non_owner_means(
    tested: pd.DataFrame,
    panel: _Panel,
    signals: dict[str, np.ndarray],
    ownership: _Ownership,
    events: pd.DataFrame,
    products: pd.Index,
) -> dict[str, np.ndarray]:
    """Each tested product's monthly mean of its signal among the customers not owning it, by product_id.

    Products sharing a usage signal share its sums over all customers; mentions are per product.
    """
    customer = np.arange(len(panel.months))[None, :] >= panel.first_seen[:, None]
    means = {}
    for signal, product_ids in tested.groupby("signal")["product_id"]:
        if signal == MENTIONS:
            for product_id in product_ids:
                code = products.get_loc(product_id)
                means[product_id] = _mention_means(events, code, ownership, panel, customer)
            continue
        sums = _CustomerSums(signals[signal], customer)
        for product_id in product_ids:
            means[product_id] = sums.mean_without(*ownership.of(products.get_loc(product_id)))
    return means


def _mention_means(
    events: pd.DataFrame, code: int, ownership: _Ownership, panel: _Panel, customer: np.ndarray
) -> np.ndarray:
    """Product ``code``'s monthly mean of its mentions among the customers not owning it.

    Mentions are whole counts and mostly zero, so the sum walks the mentions, each counted in its own
    month and the next ones, rather than an account x month matrix; whole counts add up exactly.
    """
    n_months = len(panel.months)
    mine = events[events["product"] == code]
    month, _ = _month_offsets(mine["date"], panel.months[0])
    counted = (month[:, None] + np.arange(MENTION_MONTHS)).ravel()
    account = np.repeat(mine["account"].to_numpy(), MENTION_MONTHS)
    inside = (counted >= 0) & (counted < n_months)
    account, counted = account[inside], counted[inside]
    owners, covered = ownership.of(code)
    span, owned_month = np.nonzero(covered)
    owned = np.zeros(customer.shape, dtype=bool)
    owned[owners[span], owned_month] = True
    cell = account * n_months + counted
    among = customer.ravel()[cell] & ~owned.ravel()[cell]
    total = np.bincount(counted[among], minlength=n_months).astype(float)
    count = (customer & ~owned).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / count, np.nan)


class _CustomerSums:
    """A signal's monthly count and sum over the customers that have it, once for every product.

    A product's non-owner mean is then these less its owners' share, which costs as much as its owners
    rather than as much as the whole book (and can differ from adding up the non-owners directly in
    the last bits of a fractional sum).
    """

    def __init__(self, matrix: np.ndarray, customer: np.ndarray) -> None:
        self.valid = customer & ~np.isnan(matrix)
        self.values = np.where(self.valid, matrix, 0.0)
        self.count = self.valid.sum(axis=0)
        self.total = self.values.sum(axis=0)

    def mean_without(self, accounts: np.ndarray, owned: np.ndarray) -> np.ndarray:
        """The monthly mean leaving out ``accounts`` in the months ``owned`` (accounts x month) marks."""
        owned = owned & self.valid[accounts]
        count = self.count - owned.sum(axis=0)
        total = self.total - np.where(owned, self.values[accounts], 0.0).sum(axis=0)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(count > 0, total / count, np.nan)


# -- reasons -----------------------------------------------------------------------------------------------


def _display(signal: str, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Values as short text for a reason: each distinct rounded value formatted once, and which is whose."""
    if signal in ("seat_saturation",):
        rounded, text = np.round(values * 100), lambda v: f"{v:.0f}%"
    elif signal in ("usage_growth", "team_growth"):
        rounded, text = np.round(values * 100), lambda v: f"{v:+.0f}%"
    elif signal == "key_events_per_user":
        rounded, text = np.round(values, 1), lambda v: f"{v:.1f}"
    else:
        rounded, text = np.round(values), lambda v: f"{v:,.0f}"
    distinct, inverse = np.unique(rounded, return_inverse=True)
    return np.array([text(v) for v in distinct], dtype=object), inverse


def _reasons(row: Any, values: np.ndarray, product_name: str) -> tuple[np.ndarray, np.ndarray]:
    """One sentence per distinct shown value (its value, the threshold, what accounts past it did), and
    which sentence each account gets.
    """
    side = "above" if row.direction == ">=" else "below"
    how = f"{row.lift:.1f}x as often" if np.isfinite(row.lift) else "while none of the others did"
    evidence = (
        f"bought {product_name} {how} within {row.horizon_months} months, "
        f"{row.buyers_above} of {row.accounts_above} accounts)"
    )
    if row.signal == "dormancy_return":
        sentence = f"{SIGNALS[row.signal]} (accounts like this {evidence}"
        return np.array([sentence], dtype=object), np.zeros(len(values), dtype=np.int64)
    op = "≥" if row.direction == ">=" else "≤"
    threshold = _display(row.signal, np.array([row.threshold]))[0][0]
    shown, which = _display(row.signal, values)
    tail = f" ({op} {threshold}: accounts {side} {evidence}"
    if row.signal == MENTIONS:
        nouns = np.where(shown == "1", " activity", " activities")
        return shown + nouns + f" mentioning {product_name} in the last {MENTION_MONTHS} months{tail}", which
    return SIGNALS[row.signal].split(" (")[0] + " " + shown + tail, which
