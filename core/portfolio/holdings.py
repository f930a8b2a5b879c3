"""Who held what, and for how much, on a given date: the base of every breadth and retention figure."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from core.frames import Portfolio, owned_as_of
from core.portfolio.segments import AccountIndex, cents


@dataclass
class Subscriptions:
    """The book's subscriptions with integer account (``pos``) and product (``prod``) codes and exact ``cents``."""

    frame: pd.DataFrame
    product_count: int


@dataclass
class Holdings:
    """Per account on one date: distinct products held and monthly revenue in cents."""

    products: np.ndarray
    mrr: np.ndarray

    @property
    def customers(self) -> np.ndarray:
        """Accounts holding at least one product: the 'customers' every per-customer figure averages over."""
        return self.products > 0


def prepare(portfolio: Portfolio, index: AccountIndex) -> Subscriptions:
    """Code the subscriptions once; an empty ``mrr`` falls back to list price x quantity."""
    subs = portfolio.subscriptions
    pos = index.locate(subs["account_id"])
    product_ids = subs["product_id"].astype(str)
    product_codes, uniques = pd.factorize(product_ids)
    catalogue = portfolio.products.assign(product_id=portfolio.products["product_id"].astype(str))
    list_price = catalogue.drop_duplicates("product_id").set_index("product_id")["list_price"]
    price = pd.to_numeric(list_price, errors="coerce").reindex(uniques).to_numpy(dtype="float64")
    fallback = pd.Series(
        price[product_codes] * subs["quantity"].fillna(1).to_numpy(dtype="float64"), index=subs.index
    )
    mrr = pd.to_numeric(subs["mrr"], errors="coerce").fillna(fallback)
    frame = pd.DataFrame(
        {
            "pos": pos,
            "prod": product_codes,
            "product_id": product_ids,
            "cents": cents(mrr),
            "status": subs["status"].astype(str),
            "start_date": subs["start_date"],
            "end_date": subs["end_date"],
            "churned_at": subs["churned_at"],
        },
        index=subs.index,
    )
    return Subscriptions(frame[frame["pos"] >= 0].reset_index(drop=True), len(uniques))


def distinct_per_account(accounts: int, product_count: int, pos: np.ndarray, prod: np.ndarray) -> np.ndarray:
    """How many distinct products each account position has among the (pos, prod) rows."""
    width = max(product_count, 1)
    if accounts * width <= 50_000_000:
        seen = np.zeros((accounts, width), dtype=bool)
        seen[pos, prod] = True
        return seen.sum(axis=1).astype("int64")
    pairs = np.unique(pos * width + prod)
    return np.bincount(pairs // width, minlength=accounts).astype("int64")


def holdings(index: AccountIndex, subs: Subscriptions, as_of: pd.Timestamp) -> Holdings:
    """What every account owned on ``as_of`` (the contract's definition of owning) and its MRR then."""
    held = owned_as_of(subs.frame, as_of)
    pos = held["pos"].to_numpy()
    products = distinct_per_account(len(index), subs.product_count, pos, held["prod"].to_numpy())
    mrr = index.total(pos, held["cents"].to_numpy(dtype="float64")).astype("int64")
    return Holdings(products, mrr)


def product_holdings(index: AccountIndex, subs: Subscriptions, as_of: pd.Timestamp) -> pd.DataFrame:
    """Active (account position, product id) pairs on ``as_of`` with their monthly cents."""
    held = owned_as_of(subs.frame, as_of)
    return held.groupby(["pos", "product_id"], as_index=False, sort=False)["cents"].sum()
