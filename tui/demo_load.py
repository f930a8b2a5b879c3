"""Loading the demo portfolio into a store: generate, import, recompute (no UI here).

The app runs :func:`load_demo` in a thread worker; ``progress`` is called as
``progress(step, done, total)`` like the recompute's.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

from core.store import Store

DEMO_ACCOUNTS = 500
DEMO_SEED = 7


def load_demo(
    store: Store,
    as_of: date,
    progress: Callable[[str, int, int], None] | None = None,
    accounts: int = DEMO_ACCOUNTS,
) -> Any:
    """Write the demo book into ``store`` and recompute; returns the recompute's report."""
    from core.importer import open_portfolio
    from core.recompute import recompute
    from fixtures.demo import generate

    def step(name: str, done: int) -> None:
        if progress is not None:
            progress(name, done, 3)

    with tempfile.TemporaryDirectory(prefix="quadrant-demo-") as folder:
        step("generating the demo", 0)
        generate(Path(folder), accounts=accounts, seed=DEMO_SEED, as_of=as_of)
        step("importing the demo", 1)
        store.import_portfolio(open_portfolio(Path(folder)))
    step("recomputing", 2)
    return recompute(store, as_of, progress=progress)
