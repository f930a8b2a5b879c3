"""How fast product affinity is on synthetic books of 10,000 and 100,000 accounts x 40 products.

Run ``.venv/bin/python bench/bench_affinity.py`` (``--sizes 10000`` for a quick look). Each book is
a numpy one-hot with planted correlations, turned into a Portfolio of active subscriptions. Every
figure is the best of ``--repeat`` runs after a warm-up, printed with its ratio to a baseline
measured in the same run: one float32 matrix product X.T @ X (all pair counts). Peak memory is
measured in a separate tracemalloc pass (Python-side allocations, numpy and Arrow buffers included).
BLAS runs on one thread throughout, as the attach matrix does in the app: on a busy machine two
OpenBLAS threads made the same 100,000 x 40 product take 0.1-0.9 s instead of 5 ms.
Target: rules + attach + suggestions for 100,000 x 40 under 1 s and 500 MB.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mlxtend.frequent_patterns import apriori, fpgrowth, hmine  # noqa: E402

from core.affinity.attach import attach_from_onehot, attach_matrix  # noqa: E402
from core.affinity.roles import product_roles  # noqa: E402
from core.affinity.rules import (  # noqa: E402
    association_rules_frame,
    min_itemset_count,
    ownership_onehot,
    rules_from_onehot,
    segment_rules,
)
from core.affinity.sequencing import time_to_attach  # noqa: E402
from core.affinity.suggestions import suggest, suggest_loop  # noqa: E402
from core.frames import SEGMENTS, Portfolio  # noqa: E402
from core.settings import resolve  # noqa: E402

AS_OF = pd.Timestamp("2025-06-30")
PRODUCTS = 40
LOOP_SAMPLE = 2000


def onehot_book(n: int, p: int = PRODUCTS, seed: int = 0) -> np.ndarray:
    """Independent base rates plus planted affinities: 0 -> 4, {1, 4} -> 5, 2 -> 6, 7 -> 8 -> 9."""
    rng = np.random.default_rng(seed)
    base = rng.uniform(0.01, 0.15, p)
    base[:3] = [0.5, 0.3, 0.2]
    owned = rng.random((n, p)) < base
    owned[:, 4] |= owned[:, 0] & (rng.random(n) < 0.4)
    owned[:, 5] |= owned[:, 1] & owned[:, 4] & (rng.random(n) < 0.6)
    owned[:, 6] |= owned[:, 2] & (rng.random(n) < 0.5)
    owned[:, 8] |= owned[:, 7] & (rng.random(n) < 0.7)
    owned[:, 9] |= owned[:, 8] & (rng.random(n) < 0.5)
    return owned


def to_portfolio(owned: np.ndarray, seed: int = 0) -> Portfolio:
    """Active subscriptions for every owned cell, started over four years; half the accounts have a contact."""
    rng = np.random.default_rng(seed)
    n, p = owned.shape
    ids = np.array([f"A{i:06d}" for i in range(n)], dtype=object)
    products = np.array([f"P{j:02d}" for j in range(p)], dtype=object)
    rows, cols = np.nonzero(owned)
    start = AS_OF - pd.to_timedelta(rng.integers(30, 1500, len(rows)), "D")
    subs = pd.DataFrame(
        {
            "account_id": pd.array(ids[rows], dtype="str"),
            "product_id": pd.array(products[cols], dtype="str"),
            "start_date": start,
            "end_date": pd.Series(pd.NaT, index=range(len(rows)), dtype="datetime64[ns]"),
            "quantity": 1,
            "mrr": 100.0,
            "status": pd.array(np.full(len(rows), "active", dtype=object), dtype="str"),
            "churned_at": pd.Series(pd.NaT, index=range(len(rows)), dtype="datetime64[ns]"),
        }
    )
    departments = np.array(["Marketing", "IT", "Sales", "Finance"], dtype=object)
    contacts = rng.choice(n, n // 2, replace=False)
    return Portfolio(
        accounts=pd.DataFrame(
            {
                "account_id": pd.array(ids, dtype="str"),
                "name": pd.array(ids, dtype="str"),
                "segment": pd.array(np.array(SEGMENTS, dtype=object)[rng.integers(0, 3, n)], dtype="str"),
            }
        ),
        products=pd.DataFrame(
            {
                "product_id": pd.array(products, dtype="str"),
                "name": pd.array([f"Product {j}" for j in range(p)], dtype="str"),
                "list_price": 10.0,
                "department": pd.array(departments[np.arange(p) % 4], dtype="str"),
            }
        ),
        subscriptions=subs,
        contacts=pd.DataFrame(
            {
                "account_id": pd.array(ids[contacts], dtype="str"),
                "name": "c",
                "email": "c@example.com",
                "department": pd.array(departments[rng.integers(0, 4, len(contacts))], dtype="str"),
            }
        ),
    )


def best_of(fn: Callable[[], object], repeat: int) -> tuple[float, float]:
    """Best wall-clock and best CPU seconds over ``repeat`` runs after a warm-up (CPU time is
    steadier when other processes share the machine)."""
    fn()
    walls, cpus = [], []
    for _ in range(repeat):
        wall, cpu = time.perf_counter(), time.process_time()
        fn()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return min(walls), min(cpus)


def peak_mb(fn: Callable[[], object]) -> float:
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1] / 1e6
    finally:
        tracemalloc.stop()


def sample(book: Portfolio, size: int) -> Portfolio:
    keep = book.accounts["account_id"].iloc[:size]
    return Portfolio(
        accounts=book.accounts.iloc[:size],
        products=book.products,
        subscriptions=book.subscriptions[book.subscriptions["account_id"].isin(keep)],
        contacts=book.contacts[book.contacts["account_id"].isin(keep)],
    )


def run(n: int, repeat: int, with_memory: bool) -> None:
    settings = resolve()
    owned = onehot_book(n)
    onehot = pd.DataFrame(owned, columns=[f"P{j:02d}" for j in range(PRODUCTS)])
    book = to_portfolio(owned)
    threshold = min_itemset_count(n, settings) / n
    as_float = owned.astype(np.float32)
    baseline, baseline_cpu = best_of(lambda: as_float.T @ as_float, repeat)

    rules_all = rules_from_onehot(onehot, settings)
    rules_seg = segment_rules(book, settings, AS_OF)
    attach = attach_from_onehot(onehot, settings)
    seq = time_to_attach(book)
    roles = product_roles(book, attach, AS_OF, settings)
    pipeline = (book, rules_all, rules_seg, attach, roles, seq, AS_OF, settings)

    figures: list[tuple[str, Callable[[], object]]] = [
        ("rules (as chosen: apriori or hmine)", lambda: rules_from_onehot(onehot, settings)),
        ("  itemsets: apriori low_memory", lambda: apriori(onehot, threshold, max_len=3, low_memory=True)),
        ("  itemsets: hmine", lambda: hmine(onehot, threshold, max_len=3)),
        ("  itemsets: fpgrowth", lambda: fpgrowth(onehot, threshold, max_len=3)),
    ]
    if n <= 20_000:  # plain apriori materialises every candidate column: 3.4 GB at 100,000 accounts
        figures.append(("  itemsets: apriori (plain)", lambda: apriori(onehot, threshold, max_len=3)))
    figures += [
        ("attach matrix", lambda: attach_from_onehot(onehot, settings)),
        ("suggestions (all accounts)", lambda: suggest(*pipeline)),
        ("ownership one-hot from subscriptions", lambda: ownership_onehot(book, AS_OF)),
        ("rules from the portfolio (all)", lambda: association_rules_frame(book, settings, AS_OF)),
        ("segment rules (3 segments)", lambda: segment_rules(book, settings, AS_OF)),
        ("attach from the portfolio", lambda: attach_matrix(book, AS_OF, settings)),
        ("time to attach", lambda: time_to_attach(book)),
        ("product roles", lambda: product_roles(book, attach, AS_OF, settings)),
    ]
    print(
        f"\n{n:,} accounts x {PRODUCTS} products: {int(owned.sum()):,} holdings, "
        f"{len(rules_all):,} rules (all), {len(rules_seg):,} segment rules"
    )
    print(f"baseline: float32 X.T @ X = {baseline * 1000:.1f} ms wall, {baseline_cpu * 1000:.1f} ms CPU")
    print(f"{'step':<40} {'wall s':>8} {'x base':>7} {'CPU s':>8} {'x base':>7} {'peak MB':>8}")
    seconds, cpu = {}, {}
    for name, fn in figures:
        repeats = 1 if "fpgrowth" in name or "plain" in name else repeat
        seconds[name], cpu[name] = best_of(fn, repeats)
        memory = f"{peak_mb(fn):8.0f}" if with_memory else f"{'-':>8}"
        print(
            f"{name:<40} {seconds[name]:8.3f} {seconds[name] / baseline:7.0f} {cpu[name]:8.3f} "
            f"{cpu[name] / baseline_cpu:7.0f} {memory}"
        )

    core = ("rules (as chosen: apriori or hmine)", "attach matrix", "suggestions (all accounts)")
    total, total_cpu = sum(seconds[k] for k in core), sum(cpu[k] for k in core)

    def together() -> None:
        rules_from_onehot(onehot, settings)
        attach_from_onehot(onehot, settings)
        suggest(*pipeline)

    memory = f", peak {peak_mb(together):.0f} MB" if with_memory else ""
    print(
        f"{'rules + attach + suggestions':<40} {total:8.3f} {total / baseline:7.0f} {total_cpu:8.3f} "
        f"{total_cpu / baseline_cpu:7.0f}{memory}   (target < 1 s and 500 MB at 100,000)"
    )

    small = sample(book, min(LOOP_SAMPLE, n))
    small_args = (small, rules_all, rules_seg, attach, roles, seq, AS_OF, settings)
    loop = best_of(lambda: suggest_loop(*small_args), 1)[1]
    fast = best_of(lambda: suggest(*small_args), repeat)[1]
    scaled = loop * n / len(small.accounts)
    full = cpu["suggestions (all accounts)"]
    print(
        f"suggestions CPU, per-account loop on {len(small.accounts):,} accounts: {loop:.2f} s vs vectorised "
        f"{fast:.3f} s ({loop / fast:.0f}x); loop scaled to {n:,}: {scaled:.0f} s vs {full:.2f} s "
        f"({scaled / full:.0f}x)"
    )


def main() -> None:
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=1, user_api="blas")
    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} (figures are best of several runs)")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-memory", action="store_true", help="skip the tracemalloc passes (faster)")
    args = parser.parse_args()
    for n in args.sizes:
        run(n, args.repeat, not args.no_memory)


if __name__ == "__main__":
    main()
