"""Regenerate the README's screenshots from a seeded demo store: `python docs/screenshot.py`."""

from __future__ import annotations

import asyncio
import tempfile
from datetime import date, datetime
from pathlib import Path

from core.importer import open_portfolio
from core.recompute import recompute
from core.store import Store
from fixtures.demo import generate
from tui.app import make_app

AS_OF = date(2026, 11, 1)
HERE = Path(__file__).parent


async def shoot(store: Store, screen: str, keys: list[str], name: str) -> None:
    app = make_app(store, as_of=AS_OF, now=lambda: datetime(2026, 11, 1, 9, 0), start=screen)
    async with app.run_test(size=(140, 42)) as pilot:
        await pilot.pause(0.5)
        await app.workers.wait_for_complete()
        for key in keys:
            await pilot.press(key)
            await pilot.pause(0.3)
            await app.workers.wait_for_complete()
        await pilot.pause(0.5)
        app.save_screenshot(str(HERE / name))


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "demo"
        folder.mkdir()
        generate(folder, accounts=500, seed=7, as_of=AS_OF)
        store = Store(Path(tmp) / "demo.db")
        store.import_portfolio(open_portfolio(folder))
        recompute(store, AS_OF)
        asyncio.run(shoot(store, "todo", [], "todo-screen.svg"))
        asyncio.run(shoot(store, "accounts", ["enter"], "brief-screen.svg"))
        asyncio.run(shoot(store, "portfolio", [], "portfolio-screen.svg"))


if __name__ == "__main__":
    main()
