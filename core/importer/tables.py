"""The rules that span columns, rows or files: references, keys, defaults, bundles, churn.

Each table's cells are first read column by column (:mod:`core.importer.validate`);
the functions here add what one column cannot know on its own and return the
rows in the store's shape.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from core.importer.columns import KEYS, SPECS, STORE_COLUMNS
from core.importer.validate import IdLookup, RowChecks, parse_numbers

_MONTH_SPAN = 12 * 10_000
_KEY_SEP = "\x1f"


@dataclass
class Known:
    """What the folder's accounts.csv and products.csv hold, for the files that point at them.

    ``None`` means the file could not be read, so references to it are not checked (the file's
    own problem is already reported).
    """

    accounts: IdLookup | None = None
    products: IdLookup | None = None
    list_price: pd.Series | None = None


class SeenKeys:
    """Keys met so far in one file, as one sorted int64 array with the line each first appeared on.

    Sixteen bytes per row, so a streamed file is checked for repeated keys across chunks
    without holding its rows.
    """

    def __init__(self) -> None:
        self._keys = np.zeros(0, dtype=np.int64)
        self._lines = np.zeros(0, dtype=np.int64)

    def repeats(self, keys: np.ndarray, lines: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(rows whose key was already seen, the line it was first seen on); keys < 0 are skipped."""
        count = len(keys)
        first_line = np.full(count, -1, dtype=np.int64)
        if not count:
            return np.zeros(0, dtype=bool), first_line
        usable = keys >= 0
        order = np.argsort(keys)
        ordered = keys[order]
        starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
        leader_sorted = np.repeat(np.minimum.reduceat(order, starts), np.diff(np.r_[starts, count]))
        leader = np.empty(count, dtype=np.int64)
        leader[order] = leader_sorted
        repeated = usable & (leader != np.arange(count))
        first_line[repeated] = lines[leader[repeated]]
        slots = np.searchsorted(self._keys, ordered)
        if len(self._keys):
            position = np.minimum(slots, len(self._keys) - 1)
            hit_sorted = self._keys[position] == ordered
            if hit_sorted.any():
                hit = np.zeros(count, dtype=bool)
                hit[order[hit_sorted]] = True
                hit &= usable
                at = np.empty(count, dtype=np.int64)
                at[order] = position
                first_line[hit] = self._lines[at[hit]]
                repeated |= hit
        new = (usable & ~repeated)[order]
        if new.any():
            self._merge(slots[new], ordered[new], lines[order][new])
        return repeated, first_line

    def _merge(self, slots: np.ndarray, keys: np.ndarray, lines: np.ndarray) -> None:
        """Insert sorted new keys at their slots in one pass (``np.insert`` re-sorts the slots)."""
        total = len(self._keys) + len(keys)
        placed = slots + np.arange(len(keys))
        old = np.ones(total, dtype=bool)
        old[placed] = False
        merged_keys = np.empty(total, dtype=np.int64)
        merged_keys[placed] = keys
        merged_keys[old] = self._keys
        merged_lines = np.empty(total, dtype=np.int64)
        merged_lines[placed] = lines
        merged_lines[old] = self._lines
        self._keys, self._lines = merged_keys, merged_lines


def check_rows(
    table: str, checks: RowChecks, known: Known, seen: SeenKeys, metrics: tuple[str, ...] = ()
) -> dict[str, pd.DataFrame]:
    """Read, check and normalise one chunk of ``table``: its valid rows per store table.

    Returns ``{table: frame}`` with the columns of ``STORE_COLUMNS[table]`` (and, for usage,
    ``usage_extra`` with one row per extra ``metrics`` value); bad rows are reported through
    ``checks`` and left out. Reading accounts or products also adds to ``known``.
    """
    lookups = {"account_id": known.accounts if table != "accounts" else None}
    if table in ("subscriptions", "usage", "activities"):
        lookups["product_id"] = known.products
    values = {column.name: checks.read(column, lookups.get(column.name)) for column in SPECS[table]}
    rule = _RULES.get(table)
    if rule is not None:
        rule(checks, values, known)
    extras = {metric: _extra_metric(checks, metric) for metric in metrics}
    if table == "usage":
        keys = _usage_keys(checks, known)
    elif table in KEYS:
        keys = _group_keys(values, KEYS[table])
    else:
        keys = None
    if keys is not None:
        _flag_repeats(checks, table, values, seen.repeats(keys, checks.lines))
    good = ~checks.bad
    frame = pd.DataFrame({name: values[name] for name in STORE_COLUMNS[table]})
    if not good.all():
        frame = frame.loc[good]
    if table == "activities":
        frame = frame.drop_duplicates("activity_key")
    frames = {table: frame.reset_index(drop=True)}
    if metrics:
        frames["usage_extra"] = _extra_rows(frames["usage"], extras, good)
    if table in ("accounts", "products"):
        _remember(table, frames[table], values[KEYS[table][0]], known)
    return frames


def _remember(table: str, frame: pd.DataFrame, everything: pd.Series, known: Known) -> None:
    """Keep the ids (and list prices) later files are checked against.

    ``everything`` holds every id written in the file, valid row or not, so one bad account row
    does not make each of its subscriptions an error too.
    """
    if table == "accounts":
        known.accounts = IdLookup.of(everything, "is not an account in accounts.csv", known.accounts)
    else:
        known.products = IdLookup.of(everything, "is not a product in products.csv", known.products)
        prices = frame.set_index("product_id")["list_price"]
        if known.list_price is not None:
            prices = pd.concat([known.list_price, prices])
        known.list_price = prices[~prices.index.duplicated()]


def _extra_metric(checks: RowChecks, metric: str) -> tuple[np.ndarray, np.ndarray]:
    """An extra usage column: (values, rows holding one); a cell that is not a number is flagged."""
    raw = checks.raw(metric)
    values, missing, problems = parse_numbers(raw)
    wrong = problems != ""
    checks.flag(wrong, metric, problems, raw)
    return values, ~missing & ~wrong


def _extra_rows(
    usage: pd.DataFrame, extras: dict[str, tuple[np.ndarray, np.ndarray]], good: np.ndarray
) -> pd.DataFrame:
    """Long (account_id, product_id, period, metric, value) rows for the good usage rows."""
    pieces = []
    for metric, (values, present) in extras.items():
        keep = present[good]
        if not keep.any():
            continue
        piece = usage.loc[keep, ["account_id", "product_id", "period"]]
        piece["metric"] = metric
        piece["value"] = values[good][keep]
        pieces.append(piece)
    if not pieces:
        empty = {c: pd.Series(dtype="str") for c in STORE_COLUMNS["usage_extra"]}
        empty["value"] = pd.Series(dtype="float64")
        return pd.DataFrame(empty)
    frame = pd.concat(pieces, ignore_index=True)
    frame["metric"] = frame["metric"].astype("str")
    return frame


def _group_keys(values: dict[str, pd.Series], key: tuple[str, ...]) -> np.ndarray:
    """One int64 per row for its combination of key values (-1 when a part is missing)."""
    combined, usable = None, None
    for name in key:
        codes, uniques = pd.factorize(values[name])
        usable = codes >= 0 if usable is None else usable & (codes >= 0)
        combined = codes if combined is None else pd.factorize(combined * (len(uniques) + 1) + codes)[0]
    return np.where(usable, combined, -1).astype(np.int64)


def _usage_keys(checks: RowChecks, known: Known) -> np.ndarray | None:
    """(account, product, month) packed into one int64 per row, -1 where a part is unusable."""
    if known.accounts is None or known.products is None:
        return None
    accounts = checks.positions["account_id"]
    products = checks.positions["product_id"]
    months = checks.month_index["period"]
    if len(known.accounts) * max(len(known.products), 1) * _MONTH_SPAN >= 2**62:
        return None
    keys = (accounts * len(known.products) + products) * _MONTH_SPAN + months
    return np.where((accounts < 0) | (products < 0) | (months < 0), -1, keys)


def _flag_repeats(
    checks: RowChecks, table: str, values: dict[str, pd.Series], found: tuple[np.ndarray, np.ndarray]
) -> None:
    repeated, first_line = found
    if not repeated.any():
        return
    key = KEYS[table]
    rows = np.flatnonzero(repeated)
    head = rows[: checks.log.cap]
    shown = np.full(len(checks), None, dtype=object)
    shown[head] = [
        " / ".join("" if v is None or v != v else str(v) for v in parts)
        for parts in zip(*(values[name].iloc[head].tolist() for name in key), strict=True)
    ]
    problems = np.full(len(checks), "", dtype=object)
    joined = ", ".join(key)
    problems[head] = [
        f"repeats line {line}: ({joined}) must be unique in the file" for line in first_line[head]
    ]
    checks.flag(repeated, joined, problems, shown)


def _subscriptions(checks: RowChecks, values: dict[str, pd.Series], known: Known) -> None:
    status, start, churned = values["status"], values["start_date"], values["churned_at"]
    is_churned = (status == "churned").fillna(False).to_numpy(dtype=bool)
    no_date = checks.distinct["churned_at"].missing
    checks.flag(
        is_churned & no_date, "churned_at", "a date is required when status is 'churned'", show_value=False
    )
    early = (churned < start).fillna(False).to_numpy(dtype=bool)
    problems = np.full(len(checks), "", dtype=object)
    rows = np.flatnonzero(early)[: checks.log.cap]
    problems[rows] = [
        f"is before start_date {s!r} (a subscription cannot churn before it starts)" for s in start.iloc[rows]
    ]
    checks.flag(early, "churned_at", problems, churned)
    if known.list_price is not None:
        price = values["product_id"].map(known.list_price).astype("float64")
    else:
        price = pd.Series(np.nan, index=values["mrr"].index)
    default = price * values["quantity"].astype("float64").fillna(1.0)
    values["mrr"] = values["mrr"].fillna(default)


def _bundles(checks: RowChecks, values: dict[str, pd.Series], known: Known) -> None:
    listed = values["product_ids"]
    pieces = listed.fillna("").str.split(";")
    cleaned = [list(dict.fromkeys(p.strip() for p in items if p.strip())) for items in pieces]
    values["product_ids"] = pd.Series([";".join(items) or None for items in cleaned], dtype="str")
    has_list = listed.notna().to_numpy()
    too_few = has_list & np.array([len(items) < 2 for items in cleaned], dtype=bool)
    checks.flag(
        too_few, "product_ids", "lists fewer than 2 different products (a bundle needs at least 2)", listed
    )
    if known.products is not None:
        product_set = set(known.products.ids.to_pylist())
        missing = [[p for p in items if p not in product_set] for items in cleaned]
        bad = np.array([bool(m) for m in missing], dtype=bool)
        problems = np.array([_unknown_products(m) for m in missing], dtype=object)
        checks.flag(bad, "product_ids", problems, listed)
    neither = checks.empty("price") & checks.empty("discount_pct")
    checks.flag(neither, "price", "a price or a discount_pct is required (both are empty)", show_value=False)


def _unknown_products(names: list[str]) -> str:
    if not names:
        return ""
    listed = ", ".join(map(repr, names))
    if len(names) == 1:
        return f"names {listed}, which is not a product in products.csv"
    return f"names {listed}, which are not products in products.csv"


def _activities(checks: RowChecks, values: dict[str, pd.Series], known: Known) -> None:
    """An activity has no id of its own: its key is a digest of its cells, joined by Arrow in C."""
    columns = ("account_id", "date", "kind", "subject", "product_id", "sentiment")
    text = pa.large_string()
    cells = [pc.fill_null(pa.array(values[name], type=text), "") for name in columns]
    joined = pc.binary_join_element_wise(*cells, pa.scalar(_KEY_SEP, text))
    digests = [hashlib.blake2b(row.encode(), digest_size=12).hexdigest() for row in joined.to_pylist()]
    values["activity_key"] = pd.Series(
        pa.array(digests, type=text), dtype="str", index=values[columns[0]].index
    )


def _nps(checks: RowChecks, values: dict[str, pd.Series], known: Known) -> None:
    values["email"] = values["email"].fillna("")


_RULES = {"subscriptions": _subscriptions, "bundles": _bundles, "activities": _activities, "nps": _nps}
