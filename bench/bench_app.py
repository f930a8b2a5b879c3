"""How fast the app is on a 100,000-account store: start-up, a filter keystroke, a brief, a screen switch.

Run ``.venv/bin/python bench/bench_app.py`` (``--accounts 20000`` for a quicker look). The store
is built once and cached in the temp folder: the demo generator, importer and recompute when they
are installed, else synthetic rows written straight into SQLite (bench/synthetic_book.py). The
baseline is Textual's built-in DataTable loading the same rows; the ratio is printed.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import pty
import select
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

AS_OF = date(2025, 6, 30)
NOW = datetime(2025, 6, 30, 12, tzinfo=UTC)
SIZE = (160, 48)


def build_store(path: Path, accounts: int) -> str:
    """Write the benchmark book into ``path``; returns how it was made."""
    from core.store import Store

    store = Store(path)
    try:
        from core.importer import open_portfolio
        from core.recompute import recompute
        from fixtures.demo import generate
    except ImportError:
        from synthetic_book import write_synthetic

        write_synthetic(store, accounts, as_of=AS_OF)
        store.set_setting("as_of", AS_OF.isoformat())
        return "synthetic rows (demo generator or importer not installed)"
    with tempfile.TemporaryDirectory(prefix="quadrant-bench-") as folder:
        generate(Path(folder), accounts=accounts, seed=7, as_of=AS_OF)
        store.import_portfolio(open_portfolio(Path(folder)))
    store.set_setting("as_of", AS_OF.isoformat())
    recompute(store, AS_OF)
    return "demo generator + importer + recompute"


def cached_store(accounts: int, rebuild: bool) -> Path:
    folder = Path(tempfile.gettempdir()) / "quadrant-bench"
    folder.mkdir(exist_ok=True)
    path = folder / f"book-{accounts}.db"
    if rebuild:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
    if not path.exists():
        started = time.perf_counter()
        how = build_store(path, accounts)
        print(f"built {path} with {how} in {time.perf_counter() - started:.1f} s")
    return path


def process_first_paint(db: Path, timeout: float = 60.0) -> tuple[float, float]:
    """Seconds from spawning `quadrant --db DB` in a pseudo-terminal to its first frame, and to its header."""
    quadrant = Path(sys.executable).with_name("quadrant")
    command = (
        [str(quadrant), "--db", str(db)]
        if quadrant.exists()
        else [sys.executable, "-m", "tui.cli", "--db", str(db)]
    )
    leader, follower = pty.openpty()
    env = {**os.environ, "COLUMNS": str(SIZE[0]), "LINES": str(SIZE[1]), "TERM": "xterm-256color"}
    started = time.perf_counter()
    process = subprocess.Popen(
        command, stdin=follower, stdout=follower, stderr=follower, env=env, cwd=ROOT, close_fds=True
    )
    os.close(follower)
    seen, first, header = b"", None, None
    try:
        while time.perf_counter() - started < timeout and header is None:
            ready, _, _ = select.select([leader], [], [], 0.05)
            if ready:
                try:
                    chunk = os.read(leader, 65536)
                except OSError:
                    break
                seen += chunk
                if first is None and b"\x1b[" in seen:
                    first = time.perf_counter() - started
                if b"Quadrant" in seen and b"accounts" in seen:
                    header = time.perf_counter() - started
    finally:
        process.terminate()
        process.wait(10)
        os.close(leader)
    return first or float("nan"), header or float("nan")


async def in_app(db: Path) -> dict[str, float]:
    """Timings inside one app run (fresh interpreter not needed: the process figure covers start-up)."""
    from textual.geometry import Region

    from core.store import Store
    from tui.app import make_app
    from tui.widgets.book_table import BookTable

    figures: dict[str, float] = {}
    store = Store(db)
    started = time.perf_counter()
    app = make_app(store, as_of=AS_OF, now=lambda: NOW, start="accounts")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        figures["accounts screen painted (empty list)"] = time.perf_counter() - started
        screen = app.screen
        while screen.book is None:
            await asyncio.sleep(0.005)
        await pilot.pause()
        table = screen.query_one(BookTable)
        table.render_lines(Region(0, 0, table.size.width, table.size.height))
        figures["accounts list painted with every row"] = time.perf_counter() - started

        def keystroke(text: str) -> float:
            t = time.perf_counter()
            screen.query_state = replace(screen.query_state, search=text)
            screen.refresh_rows()
            table.render_lines(Region(0, 0, table.size.width, table.size.height))
            return time.perf_counter() - t

        samples = [
            keystroke(t) for t in ("a", "ac", "acm", "acme", "acme ", "acm", "北", "北京", "", "z", "")
        ]
        figures["filter keystroke (median, filter + repaint)"] = statistics.median(samples)
        figures["filter keystroke (worst)"] = max(samples)
        t = time.perf_counter()
        await pilot.press("slash", "g", "l", "o")
        await pilot.pause()
        figures["3 keystrokes typed through the Pilot (each)"] = (time.perf_counter() - t) / 3
        await pilot.press("escape", "escape")
        await pilot.pause()

        account = store.scalar("SELECT account_id FROM accounts ORDER BY account_id LIMIT 1 OFFSET 777")
        t = time.perf_counter()
        app.open_account(account)
        while not app.screen.query("#brief-title"):
            await asyncio.sleep(0.002)
        await pilot.pause()
        figures["open a brief (load + layout)"] = time.perf_counter() - t
        await pilot.press("escape")
        await pilot.pause()

        switches = []
        for key, name in (("1", "todo"), ("2", "accounts"), ("1", "todo"), ("2", "accounts")):
            t = time.perf_counter()
            await pilot.press(key)
            while app.current_mode != name:
                await asyncio.sleep(0.002)
            await pilot.pause()
            switches.append(time.perf_counter() - t)
        figures["first switch to the to-do screen (builds it)"] = switches[0]
        figures["screen switch, screens already built (median)"] = statistics.median(switches[1:])

        rows = screen.book.table
        figures["_rows"] = rows.num_rows
    return figures


async def builtin_datatable(db: Path, limit: int) -> tuple[float, int]:
    """Seconds for Textual's own DataTable to show the first ``limit`` rows of the same book, painted."""
    from textual.app import App
    from textual.geometry import Region
    from textual.widgets import DataTable

    from core.store import Store
    from tui.account_book import COLUMNS, read_book

    book = read_book(Store(db), AS_OF).slice(0, limit)
    rows = list(zip(*(book[c.key].to_pylist() for c in COLUMNS), strict=True))

    class Baseline(App):
        def compose(self):
            yield DataTable()

    app = Baseline()
    async with app.run_test(size=SIZE) as pilot:
        table = app.query_one(DataTable)
        table.add_columns(*(c.label for c in COLUMNS))
        started = time.perf_counter()
        table.add_rows(rows)
        await pilot.pause()
        table.render_lines(Region(0, 0, table.size.width, table.size.height))
        return time.perf_counter() - started, len(rows)


async def fast_table_load(db: Path) -> tuple[float, int]:
    """Seconds for the fastdatatable (BookTable) to show the same book, given the Arrow table."""
    from textual.app import App
    from textual.geometry import Region

    from core.store import Store
    from tui.account_book import read_book
    from tui.screens.accounts import AccountsScreen
    from tui.widgets.book_table import BookTable, TableColumn

    book = read_book(Store(db), AS_OF)
    columns = AccountsScreen()._columns_for(SIZE[0])

    class Fast(App):
        def compose(self):
            yield BookTable([TableColumn(c.key, c.label, c.width, c.align) for c in columns])

    app = Fast()
    async with app.run_test(size=SIZE) as pilot:
        table = app.query_one(BookTable)
        started = time.perf_counter()
        table.show(book)
        table.render_lines(Region(0, 0, table.size.width, table.size.height))
        await pilot.pause()
        return time.perf_counter() - started, book.num_rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--db", type=Path, help="use this store instead of the cached benchmark book")
    parser.add_argument("--rebuild", action="store_true")
    parser.add_argument(
        "--baseline-rows",
        type=int,
        default=10_000,
        help="rows loaded into the built-in DataTable (its time is extrapolated linearly)",
    )
    args = parser.parse_args()
    db = args.db or cached_store(args.accounts, args.rebuild)

    from core.store import Store
    from tui.account_book import read_book

    t = time.perf_counter()
    read_book(Store(db), AS_OF)
    read_seconds = time.perf_counter() - t
    first, header = process_first_paint(db)
    figures = asyncio.run(in_app(db))
    fast, rows = asyncio.run(fast_table_load(db))
    slow, slow_rows = asyncio.run(builtin_datatable(db, args.baseline_rows))

    print(f"\nstore: {db} ({rows:,} accounts), terminal {SIZE[0]}x{SIZE[1]}, {os.cpu_count()} CPUs")
    print(f"{'process start -> first frame (quadrant --db, pty)':<52} {first * 1000:8.0f} ms")
    print(f"{'process start -> header with counts drawn':<52} {header * 1000:8.0f} ms")
    print(f"{'read the book from SQLite into Arrow (worker)':<52} {read_seconds * 1000:8.0f} ms")
    for name, value in figures.items():
        if not name.startswith("_"):
            print(f"{name:<52} {value * 1000:8.1f} ms")
    print(f"{'fastdatatable shows the book (Arrow in hand)':<52} {fast * 1000:8.1f} ms")
    baseline = f"built-in DataTable loads {slow_rows:,} rows"
    print(f"{baseline:<52} {slow * 1000:8.0f} ms")
    per_row = slow / max(slow_rows, 1) * rows
    note = "" if slow_rows == rows else f" (extrapolated to {rows:,} rows)"
    print(f"ratio built-in / fastdatatable: {per_row / fast:,.0f}x{note}")


if __name__ == "__main__":
    main()
