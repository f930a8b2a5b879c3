"""Attach rates: of the accounts that own product A, how many also own B.

One matrix product of the ownership one-hot gives every pair count at once; the
table is the plainest view of affinity for a manager ("52% of X accounts also
have Y") and the input that product roles read.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import numpy as np
import pandas as pd

from core.affinity.rules import ownership_onehot
from core.frames import Portfolio

ATTACH_COLUMNS = ["product_a", "product_b", "accounts_a", "accounts_both", "attach_rate", "label"]


def pair_counts(onehot: np.ndarray) -> np.ndarray:
    """Accounts owning both products of each pair (diagonal: owners of each product), as int64.

    float32 is exact for counts below 2**24 and lets BLAS do the work; larger books fall back to float64.
    """
    dtype = np.float32 if onehot.shape[0] < 2**24 else np.float64
    values = np.asarray(onehot, dtype=dtype)
    with single_thread_blas():
        return np.rint(values.T @ values).astype("int64")


@contextmanager
def single_thread_blas() -> Iterator[None]:
    """Run BLAS on one thread: products this thin gain nothing from threads, and on a busy machine
    OpenBLAS threads waiting for each other turned a 5 ms product into 0.1-0.9 s (measured)."""
    global _BLAS
    if _BLAS is None:
        try:
            from threadpoolctl import ThreadpoolController

            _BLAS = ThreadpoolController()
        except ImportError:  # pragma: no cover - threadpoolctl comes with scikit-learn
            _BLAS = False
    if not _BLAS:
        yield
        return
    with _BLAS.limit(limits=1, user_api="blas"):
        yield


_BLAS: Any = None


def attach_from_onehot(onehot: pd.DataFrame, settings: Mapping[str, Any]) -> pd.DataFrame:
    """The attach table for every ordered pair of distinct columns of a one-hot frame.

    Returns:
        The columns of :func:`attach_matrix`.
    """
    strong, weak = float(settings["attach.strong"]), float(settings["attach.weak"])
    products = np.asarray([str(c) for c in onehot.columns], dtype=object)
    both = pair_counts(onehot.to_numpy(dtype=bool))
    owners = np.diag(both)
    a_idx, b_idx = np.nonzero(~np.eye(len(products), dtype=bool))
    accounts_a = owners[a_idx]
    accounts_both = both[a_idx, b_idx]
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = np.where(accounts_a > 0, accounts_both / np.maximum(accounts_a, 1), 0.0)
    label = np.where(rate >= strong, "strong", np.where(rate <= weak, "weak", ""))
    return pd.DataFrame(
        {
            "product_a": pd.array(products[a_idx], dtype="str"),
            "product_b": pd.array(products[b_idx], dtype="str"),
            "accounts_a": accounts_a,
            "accounts_both": accounts_both,
            "attach_rate": rate,
            "label": pd.array(label, dtype="str"),
        }
    )


def attach_matrix(
    portfolio: Portfolio, as_of: Any, settings: Mapping[str, Any], onehot: pd.DataFrame | None = None
) -> pd.DataFrame:
    """How often each product's owners also own each other product, on ``as_of``.

    Every ordered pair of distinct catalogue products appears, also when nobody owns A
    (then attach_rate is 0.0). ``label`` is 'strong' at or above ``attach.strong``, 'weak'
    at or below ``attach.weak``, else ''. ``onehot``: ``ownership_onehot(portfolio, as_of)``
    when the caller has it.

    Returns:
        DataFrame with columns ``product_a``, ``product_b``, ``accounts_a`` (owners of A),
        ``accounts_both`` (owners of A and B), ``attach_rate`` (accounts_both / accounts_a)
        and ``label``; sorted by product_a, product_b.
    """
    missing = [k for k in ("attach.strong", "attach.weak") if k not in settings]
    if missing:
        raise ValueError(f"settings lack {', '.join(missing)}: pass the merged settings from resolve().")
    return attach_from_onehot(ownership_onehot(portfolio, as_of) if onehot is None else onehot, settings)
