"""What the scores measure: usage windows per product, and the account's facts as of a date.

Both axes and the to-dos read the same account-level frame, so a number in a
reason sentence is the number the points were computed from. Every date filter
takes ``as_of`` explicitly, so the same code rebuilds an account's state at a
past cutoff for the trust measurement.
"""

from __future__ import annotations

from itertools import repeat

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from core.frames import Portfolio, owned_as_of
from core.money import CURRENCY_SYMBOLS
from core.usage import UsageCube
from core.usage import usage_features as features_of_cube

FEATURE_COLUMNS = (
    "account_id",
    "product_id",
    "users_recent",
    "users_prev",
    "events_recent",
    "events_prev",
    "logins_recent",
    "logins_prev",
    "seats_latest",
    "users_latest",
    "utilisation",
    "dormant_months_before_recent",
    "months_observed",
    "latest_period",
)
FLOAT_FEATURES = FEATURE_COLUMNS[2:11]
SENTIMENT_DAYS = 90
NPS_DAYS = 365
MEETING_KINDS = ("call", "meeting", "qbr", "email")


def typed_features(frame: pd.DataFrame) -> pd.DataFrame:
    """The per-product feature frame in its one canonical shape, whichever method computed it."""
    frame = frame.loc[:, list(FEATURE_COLUMNS)].copy()
    for column in FLOAT_FEATURES:
        frame[column] = pd.to_numeric(frame[column], errors="coerce").astype("float64")
    for column in ("dormant_months_before_recent", "months_observed"):
        frame[column] = pd.to_numeric(frame[column]).astype("int64")
    frame["latest_period"] = pd.to_datetime(frame["latest_period"], format="ISO8601").astype("datetime64[ns]")
    for column in ("account_id", "product_id"):
        frame[column] = frame[column].astype("str")
    return frame.sort_values(["account_id", "product_id"], ignore_index=True)


def usage_features(usage: pd.DataFrame | UsageCube, as_of: pd.Timestamp) -> pd.DataFrame:
    """Recent-versus-previous usage per account and product (see ``core.usage.usage_features``).

    ``usage`` is the store's ``UsageCube`` or monthly rows in memory (account_id,
    product_id, period and the four metrics). ``core.store.features_sql`` computes
    the same frame in SQL; a test checks that the two agree.
    """
    cube = usage if isinstance(usage, UsageCube) else UsageCube.from_frame(usage)
    return typed_features(features_of_cube(cube, pd.Timestamp(as_of)))


def positions(keys, values) -> np.ndarray:
    """Where each key first occurs in ``values`` (-1 if absent).

    Hashed by Arrow, several times faster than a pandas index of strings,
    which matters when every table is matched to 100,000 accounts.
    """

    def arrow(column) -> pa.Array:
        array = pa.array(pd.Series(column).astype("str").array)
        return array.combine_chunks() if isinstance(array, pa.ChunkedArray) else array

    found = pc.index_in(arrow(keys), value_set=arrow(values))
    return pc.fill_null(found, -1).to_numpy(zero_copy_only=False).astype(np.int64)


def _codes(index: pd.Index, account_ids) -> np.ndarray:
    """Each row's account as its position in ``index`` (-1 if unknown): strings are hashed once per table."""
    return positions(account_ids, index)


def _per_account(codes: np.ndarray, values, how: str, n: int) -> np.ndarray:
    """One aggregate per account position 0..n-1 (missing where an account has no rows)."""
    keep = codes >= 0
    values = pd.Series(values).to_numpy()[keep]
    if how == "count":
        return np.bincount(codes[keep], minlength=n).astype("float64")
    result = pd.Series(values).groupby(codes[keep]).agg(how)
    values = result.to_numpy()
    out = np.full(
        n,
        np.datetime64("NaT") if values.dtype.kind == "M" else np.nan,
        dtype=values.dtype if values.dtype.kind in "Mf" else "float64",
    )
    out[result.index.to_numpy()] = values
    return out


def first_per_account(codes: np.ndarray, *order_keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each account, the row that sorts first by ``order_keys`` (most significant first).

    Returns (account positions, row numbers).
    """
    rows = np.flatnonzero(codes >= 0)
    keys = [k[rows] for k in reversed(order_keys)] + [codes[rows]]
    rows = rows[np.lexsort(keys)]
    first = np.r_[True, codes[rows][1:] != codes[rows][:-1]] if len(rows) else np.zeros(0, bool)
    return codes[rows][first], rows[first]


def _owned_facts(portfolio: Portfolio, index: pd.Index, as_of: pd.Timestamp) -> pd.DataFrame:
    """ARR, products, seats, the nearest renewal and the last purchase, from what is owned on ``as_of``."""
    n = len(index)
    owned = owned_as_of(portfolio.subscriptions, as_of)
    codes = _codes(index, owned["account_id"])
    product_codes, products = pd.factorize(owned["product_id"])
    units = portfolio.products.drop_duplicates("product_id").set_index("product_id")["unit"]
    seat = units.reindex(products).fillna("seat").eq("seat").to_numpy()[product_codes]
    mrr = owned["mrr"].to_numpy(dtype="float64")
    quantity = owned["quantity"].to_numpy(dtype="float64")
    ends = owned["end_date"].where(owned["end_date"] >= as_of.normalize())
    distinct = pd.Series(codes * (len(products) + 1) + product_codes).drop_duplicates().to_numpy()
    return pd.DataFrame(
        {
            "arr": np.nan_to_num(_per_account(codes, mrr, "sum", n)) * 12,
            "n_products": np.bincount(distinct[distinct >= 0] // (len(products) + 1), minlength=n).astype(
                float
            ),
            "seat_arr": np.nan_to_num(_per_account(codes, np.where(seat, mrr, 0.0), "sum", n)) * 12,
            "seat_count": np.nan_to_num(_per_account(codes, np.where(seat, quantity, 0.0), "sum", n)),
            "seat_quantity_median": _per_account(codes, np.where(seat, quantity, np.nan), "median", n),
            "renewal_date": _per_account(codes, ends, "min", n),
            "last_purchase_at": _per_account(codes, owned["start_date"], "max", n),
        }
    )


def arr_and_renewal(portfolio: Portfolio, account_ids: pd.Index, as_of: pd.Timestamp) -> pd.DataFrame:
    """ARR (12 x the owned subscriptions' mrr) and the nearest renewal date, one row per account.

    Returns:
        Indexed by account_id: arr, renewal_date.
    """
    index = pd.Index(account_ids)
    facts = _owned_facts(portfolio, index, pd.Timestamp(as_of))[["arr", "renewal_date"]]
    return facts.set_axis(index)


def _contact_facts(portfolio: Portfolio, index: pd.Index, as_of: pd.Timestamp) -> pd.DataFrame:
    n, contacts = len(index), portfolio.contacts
    codes = _codes(index, contacts["account_id"])
    touched = pd.to_datetime(contacts["last_contacted_at"])
    known = touched.where(touched <= as_of)
    role = contacts["role"]
    is_dm = role.eq("decision_maker").fillna(False).to_numpy(dtype=bool)
    is_champion = role.eq("champion").fillna(False).to_numpy(dtype=bool)
    return pd.DataFrame(
        {
            "last_contact_at": _per_account(codes, known, "max", n),
            "has_decision_maker": _per_account(np.where(is_dm, codes, -1), is_dm, "count", n) > 0,
            "has_champion": _per_account(np.where(is_champion, codes, -1), is_champion, "count", n) > 0,
            "champion_last_at": _per_account(np.where(is_champion, codes, -1), known, "max", n),
        }
    )


def _activity_facts(portfolio: Portfolio, index: pd.Index, as_of: pd.Timestamp) -> pd.DataFrame:
    n, acts = len(index), portfolio.activities
    date = pd.to_datetime(acts["date"])
    codes = np.where((date <= as_of).to_numpy(), _codes(index, acts["account_id"]), -1)
    recent = (date > as_of - pd.Timedelta(days=SENTIMENT_DAYS)).to_numpy()
    kind, sentiment = acts["kind"], acts["sentiment"]
    negative = np.where(
        recent & kind.eq("ticket").to_numpy() & sentiment.eq("negative").to_numpy(), codes, -1
    )
    positive = np.where(recent & sentiment.eq("positive").to_numpy(), codes, -1)
    meetings = np.where(kind.isin(MEETING_KINDS).to_numpy(), codes, -1)
    return pd.DataFrame(
        {
            "last_meeting_at": _per_account(meetings, date, "max", n),
            "neg_tickets_90d": _per_account(negative, date, "count", n),
            "last_negative_at": _per_account(negative, date, "max", n),
            "positive_90d": _per_account(positive, date, "count", n),
            "last_positive_at": _per_account(positive, date, "max", n),
        }
    )


def _nps_facts(portfolio: Portfolio, index: pd.Index, as_of: pd.Timestamp) -> pd.DataFrame:
    """The latest NPS answer within a year (the lowest score when several share the latest date)."""
    n, nps = len(index), portfolio.nps
    date = pd.to_datetime(nps["date"])
    keep = ((date <= as_of) & (date > as_of - pd.Timedelta(days=NPS_DAYS))).to_numpy()
    codes = np.where(keep, _codes(index, nps["account_id"]), -1)
    score = nps["score"].to_numpy(dtype="float64")
    accounts, rows = first_per_account(codes, -date.to_numpy().astype("int64"), score)
    latest_score, latest_date = np.full(n, np.nan), np.full(n, np.datetime64("NaT"), dtype="datetime64[ns]")
    latest_score[accounts] = score[rows]
    latest_date[accounts] = date.to_numpy()[rows]
    return pd.DataFrame({"nps_latest": latest_score, "nps_latest_at": latest_date})


def _validate_portfolio(portfolio: Portfolio) -> None:
    if not isinstance(portfolio, Portfolio):
        raise ValueError("expected a core.frames.Portfolio")
    for table in ("accounts", "subscriptions", "contacts", "activities", "nps"):
        if "account_id" not in getattr(portfolio, table).columns:
            raise ValueError(f"portfolio.{table} lacks account_id")
    if portfolio.accounts["account_id"].duplicated().any():
        raise ValueError("portfolio.accounts repeats an account_id")


def _rollup_usage(features: pd.DataFrame, index: pd.Index) -> pd.DataFrame:
    """Per-product usage summed to the account, with the products that stand out named."""
    n = len(index)
    codes = _codes(index, features["account_id"])
    out = {
        column: _per_account(codes, features[column], "sum", n)
        for column in (
            "users_recent",
            "users_prev",
            "events_recent",
            "events_prev",
            "logins_recent",
            "logins_prev",
            "seats_latest",
            "users_latest",
        )
    }
    for column in out:  # a sum over no values is missing, not zero
        out[column] = np.where(
            _per_account(codes, features[column].notna(), "sum", n) > 0, out[column], np.nan
        )
    seats = features["seats_latest"].to_numpy()
    seated = np.where(seats > 0, codes, -1)
    seat_sum = np.nan_to_num(_per_account(seated, seats, "sum", n))
    user_sum = np.nan_to_num(_per_account(seated, features["users_latest"], "sum", n))
    out["utilisation"] = np.where(seat_sum > 0, user_sum / np.where(seat_sum > 0, seat_sum, 1), np.nan)
    out["seated_users_latest"] = np.where(seat_sum > 0, user_sum, np.nan)  # the users behind utilisation
    out["min_utilisation"] = _per_account(codes, features["utilisation"], "min", n)
    out["dormant_months_before_recent"] = _per_account(
        codes, features["dormant_months_before_recent"], "min", n
    )
    out["months_observed"] = _per_account(codes, features["months_observed"], "max", n)
    out["latest_period"] = _per_account(codes, features["latest_period"], "max", n)
    out["products_with_usage"] = _per_account(codes, codes, "count", n)

    product_order = pd.factorize(features["product_id"], sort=True)[0]
    utilisation = features["utilisation"].to_numpy()
    accounts, rows = first_per_account(seated, -np.nan_to_num(utilisation, nan=-1.0), product_order)
    drop = (features["users_prev"] - features["users_recent"]).to_numpy()
    falling_accounts, falling_rows = first_per_account(np.where(drop > 0, codes, -1), -drop, product_order)
    products = features["product_id"].to_numpy(dtype=object)
    for prefix, (at, picked), columns in (
        (
            "sat_",
            (accounts, rows),
            {
                "product_id": products,
                "users": features["users_latest"].to_numpy(),
                "seats": seats,
                "utilisation": utilisation,
            },
        ),
        (
            "decline_",
            (falling_accounts, falling_rows),
            {
                "product_id": products,
                "users_prev": features["users_prev"].to_numpy(),
                "users_recent": features["users_recent"].to_numpy(),
            },
        ),
    ):
        for name, values in columns.items():
            column = np.full(n, np.nan, dtype=object if name == "product_id" else "float64")
            column[at] = values[picked]
            out[prefix + name] = column
    return pd.DataFrame(out)


def account_features(features: pd.DataFrame, portfolio: Portfolio, as_of: pd.Timestamp) -> pd.DataFrame:
    """Everything both scores need about an account on ``as_of``, one row per account.

    Usage comes from the per-product ``features`` (computed for the same
    ``as_of``); the rest from the portfolio using only what was known on
    ``as_of``: subscriptions owned then, activities and NPS dated up to then, and
    contacts' last touch only when it is not later (a later touch is unknown,
    not absent).

    Returns:
        One row per account in ``portfolio.accounts``: account_id, name, segment,
        owner, created_at, employees, employees_prev, headcount_growth; usage sums
        users_recent, users_prev, events_recent, events_prev, logins_recent,
        logins_prev, seats_latest, users_latest, seated_users_latest, utilisation, min_utilisation,
        dormant_months_before_recent, months_observed, latest_period,
        products_with_usage, sat_product_id, sat_users, sat_seats,
        sat_utilisation, decline_product_id, decline_users_prev,
        decline_users_recent; ownership arr, n_products, seat_arr, seat_count,
        seat_quantity_median, renewal_date, days_to_renewal, last_purchase_at;
        engagement last_contact_at, last_meeting_at, last_touch_at,
        days_since_touch, has_decision_maker, has_champion, champion_last_at,
        champion_quiet_days; sentiment neg_tickets_90d, last_negative_at,
        positive_90d, last_positive_at, nps_latest, nps_latest_at.
    """
    _validate_portfolio(portfolio)
    missing = [c for c in FEATURE_COLUMNS if c not in features.columns]
    if missing:
        raise ValueError(f"features lack column(s) {', '.join(missing)}")
    features = typed_features(features)
    as_of = pd.Timestamp(as_of)
    accounts = portfolio.accounts
    index = pd.Index(accounts["account_id"])
    employees = accounts["employees"].to_numpy(dtype="float64")
    before = accounts["employees_prev"].to_numpy(dtype="float64")
    out = pd.concat(
        [
            pd.DataFrame(
                {
                    "account_id": accounts["account_id"].to_numpy(),
                    "name": accounts["name"].to_numpy(),
                    "segment": accounts["segment"].to_numpy(),
                    "owner": accounts["owner"].fillna("").to_numpy(),
                    "created_at": pd.to_datetime(accounts["created_at"]).to_numpy(),
                    "employees": employees,
                    "employees_prev": before,
                    "headcount_growth": np.where(
                        before > 0, employees / np.where(before > 0, before, 1) - 1, np.nan
                    ),
                }
            ),
            _rollup_usage(features, index),
            _owned_facts(portfolio, index, as_of),
            _contact_facts(portfolio, index, as_of),
            _activity_facts(portfolio, index, as_of),
            _nps_facts(portfolio, index, as_of),
        ],
        axis=1,
    )
    for column in (
        "latest_period",
        "renewal_date",
        "last_purchase_at",
        "last_contact_at",
        "champion_last_at",
        "last_meeting_at",
        "last_negative_at",
        "last_positive_at",
        "nps_latest_at",
    ):
        out[column] = pd.to_datetime(out[column]).astype("datetime64[ns]")
    for column in (
        "n_products",
        "neg_tickets_90d",
        "positive_90d",
        "dormant_months_before_recent",
        "months_observed",
        "products_with_usage",
    ):
        out[column] = out[column].astype("float64")
    out["days_to_renewal"] = (out["renewal_date"] - as_of.normalize()).dt.days
    out["last_touch_at"] = out[["last_contact_at", "last_meeting_at"]].max(axis=1)
    out["days_since_touch"] = (as_of - out["last_touch_at"]).dt.days
    out["champion_quiet_days"] = (as_of - out["champion_last_at"]).dt.days
    return out


# -- stating numbers in reason sentences -------------------------------------------------------------------
# Sentences are built from object-dtype series (plain Python strings): concatenating those costs tens of
# nanoseconds a row, while every conversion to or from pandas' Arrow-backed ``str`` costs microseconds.


def _format_unique(values, render, key=None) -> pd.Series:
    """Format each distinct value once: reasons repeat few distinct numbers across many accounts.

    ``key`` maps the values to what the text shows (e.g. whole percents), so
    values that print alike are formatted once.
    """
    values = pd.Series(values)
    codes, distinct = pd.factorize(values if key is None else key(values))
    table = np.array([render(v) for v in distinct] + [""], dtype=object)
    return pd.Series(table[codes], index=values.index, dtype="object")


def join_text(values: pd.Series, by, sep: str) -> pd.Series:
    """``values.groupby(by).agg(sep.join)`` in one Arrow pass: a Python call per group costs seconds at 100k.

    Groups come out sorted by key, values joined in their order of appearance, as pandas does.
    """
    grouped = values.groupby(by)
    if not len(values):
        return grouped.agg(sep.join)
    table = pa.table({"group": grouped.ngroup().to_numpy(), "value": pa.array(values.astype("str"))})
    lists = table.group_by("group", use_threads=False).aggregate([("value", "list")])
    joined = np.empty(grouped.ngroups, dtype=object)
    joined[lists["group"].to_numpy()] = pc.binary_join(
        lists["value_list"], pa.scalar(sep, table["value"].type)
    ).to_numpy(zero_copy_only=False)
    return pd.Series(joined, index=grouped.size().index, dtype="str", name=values.name)


def fmt_num(values, decimals: int = 0) -> pd.Series:
    """Numbers with thousands separators: 1,234 (empty where missing)."""
    return _format_unique(values, lambda v: f"{v:,.{decimals}f}", lambda v: v.astype(float).round(decimals))


def fmt_days(values) -> np.ndarray:
    """Day counts with their unit: "1 day", "12 days", "1,234 days" (empty where missing)."""
    days = pd.Series(values).reset_index(drop=True)
    return concat(
        fmt_num(days), pick(days.eq(1).to_numpy(), " day", pick(days.isna().to_numpy(), "", " days"))
    )


def fmt_ago(values) -> np.ndarray:
    """How long ago, from a day count: "today", "1 day ago", "12 days ago" (empty where missing)."""
    days = pd.Series(values).reset_index(drop=True)
    return pick(
        days.eq(0).to_numpy(), "today", pick(days.isna().to_numpy(), "", concat(fmt_days(days), " ago"))
    )


def fmt_pct(values) -> pd.Series:
    """Fractions as whole percents: 0.42 -> 42% (empty where missing)."""
    return _format_unique(values, lambda v: f"{v:.0f}%", lambda v: (v.astype(float) * 100).round())


def fmt_money(values, currency: str, digits: int = 0) -> pd.Series:
    """Currency amounts as the screens show them: $12,345; with ``digits`` > 0, to that many significant digits."""
    symbol = CURRENCY_SYMBOLS.get(currency.strip().upper())
    prefix = symbol if symbol else f"{currency} "

    def text(v: float) -> str:
        return f"{'-' if v < 0 else ''}{prefix}{abs(v):,.0f}"

    if digits <= 0:
        return _format_unique(values, text, lambda v: v.astype(float).round())

    def significant(v: pd.Series) -> pd.Series:
        v = v.astype(float)
        scale = 10.0 ** (np.floor(np.log10(v.abs().where(v != 0, 1.0))) - digits + 1)
        return (v / scale).round() * scale

    return _format_unique(values, text, significant)


def fmt_price(values) -> pd.Series:
    """Prices to the cent without a trailing '.00': 1,234.5 -> 1,234.50, 40 -> 40 (empty where missing)."""
    return _format_unique(
        values, lambda v: f"{v:,.2f}".removesuffix(".00"), lambda v: v.astype(float).round(2)
    )


def fmt_date(values) -> pd.Series:
    """Dates as YYYY-MM-DD (empty where missing)."""
    return _format_unique(pd.to_datetime(pd.Series(values)), lambda v: v.strftime("%Y-%m-%d"))


def as_text(values) -> pd.Series:
    """Any text column as plain Python strings, missing as NaN, converting each distinct value once."""
    values = pd.Series(values)
    if values.dtype == object:
        return values
    codes, distinct = pd.factorize(values)
    table = np.append(np.asarray(distinct.to_numpy(dtype=object), dtype=object), np.nan)
    return pd.Series(table[codes], index=values.index, dtype="object")


def lookup(keys, table: pd.Series) -> pd.Series:
    """``table[key]`` for each key as plain Python strings, NaN where the key is missing or unknown."""
    keys = pd.Series(keys)
    at = positions(keys, table.index)
    values = np.append(as_text(table).to_numpy(dtype=object), np.nan)
    return pd.Series(values[at], index=keys.index, dtype="object")


def product_label(product: pd.Series, names: pd.Series) -> pd.Series:
    """Each product's display name from ``names`` (product_id -> name); the id when unnamed, '' when none."""
    return lookup(product, names).fillna(product).fillna("")


def pick(condition, yes, no) -> np.ndarray:
    """``np.where`` on text, kept as Python strings: numpy would copy every row padded to the longest."""
    return np.where(condition, np.asarray(yes, dtype=object), np.asarray(no, dtype=object))


def _exact(column: pd.Series):
    """A float column as its bit patterns, so -0.0 and 0.0, which print differently, are told apart."""
    if not (isinstance(column.dtype, np.dtype) and column.dtype.kind == "f"):
        return column
    values = column.to_numpy()
    return values.view(f"i{values.dtype.itemsize}")


def per_distinct(build, keys: pd.DataFrame) -> np.ndarray:
    """``build`` run once per distinct row of ``keys``, its sentences spread back to every row.

    Reasons repeat: 100,000 renewals fall on a few hundred dates, so building each
    distinct sentence once saves most of the string work. ``build`` must read
    nothing but ``keys``; it gets the distinct rows (first occurrences, in order,
    indexed 0..m-1) and returns their sentences. Floats are told apart bit by bit,
    so -0.0 and 0.0, which print differently, never share a sentence.
    """
    rows = np.zeros(len(keys), dtype=np.int64)
    for _, column in keys.items():
        codes, distinct = pd.factorize(_exact(column))
        rows = pd.factorize(rows * (len(distinct) + 1) + codes + 1)[0]
    first = np.unique(rows, return_index=True)[1]
    sentences = np.asarray(build(keys.take(first).reset_index(drop=True)), dtype=object)
    return sentences[rows]


def concat(*parts, rows: np.ndarray | None = None) -> np.ndarray:
    """Each row's parts joined into one sentence; a plain string part is repeated on every row.

    One ``str.join`` per row builds each sentence once, where chaining ``+`` over
    object series builds every intermediate string, two to three times the work.
    With ``rows`` (a boolean mask) only those rows are joined. At least one part
    must be a column. Returns an object array of Python strings.
    """
    columns = [
        part
        if isinstance(part, str)
        else np.asarray(part, dtype=object)[slice(None) if rows is None else rows]
        for part in parts
    ]
    n = next(len(column) for column in columns if not isinstance(column, str))
    columns = [repeat(column, n) if isinstance(column, str) else column for column in columns]
    return np.array(list(map("".join, zip(*columns))), dtype=object)
