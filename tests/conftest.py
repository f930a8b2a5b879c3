"""Shared fixtures: a small seeded demo portfolio, imported and recomputed once per session.

Tests copy the finished store file, so each gets a throwaway store without
paying for the import and recompute again.
"""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import pytest

AS_OF = date(2026, 11, 1)
DEMO_ACCOUNTS = 300


@pytest.fixture(scope="session")
def demo_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from fixtures.demo import generate

    folder = tmp_path_factory.mktemp("demo") / "portfolio"
    folder.mkdir()
    generate(folder, accounts=DEMO_ACCOUNTS, seed=7, as_of=AS_OF)
    return folder


@pytest.fixture(scope="session")
def demo_plan():
    """What the generator planted in the demo book (the same arguments give the same book)."""
    from fixtures.demo import generate_frames

    return generate_frames(accounts=DEMO_ACCOUNTS, seed=7, as_of=AS_OF)[1]


@pytest.fixture(scope="session")
def demo_store_file(tmp_path_factory: pytest.TempPathFactory, demo_folder: Path) -> Path:
    from core.importer import open_portfolio
    from core.recompute import recompute
    from core.store import Store

    path = tmp_path_factory.mktemp("store") / "demo.db"
    store = Store(path)
    store.import_portfolio(open_portfolio(demo_folder))
    store.set_setting("as_of", AS_OF.isoformat())
    recompute(store, AS_OF)
    store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    store.close()
    return path


@pytest.fixture()
def demo_store(tmp_path: Path, demo_store_file: Path):
    """A private copy of the recomputed demo store."""
    from core.store import Store

    path = tmp_path / "demo.db"
    shutil.copy(demo_store_file, path)
    store = Store(path)
    yield store
    store.close()
