"""Big writes land in a scratch file beside the store first, then SQLite copies them in.

sqlite3's executemany turns every cell into a Python object: 1.5M score
components take about 5 s at 100,000 accounts, an import's 10M usage rows
about 30 s. The ADBC driver writes the same Arrow columns to a scratch SQLite
file in C several times faster, outside the store's write lock, and one
INSERT ... SELECT per table copies them in under the lock. The store's own
transaction stays all-or-nothing; the scratch folder is deleted afterwards,
whatever happens.
"""

from __future__ import annotations

import contextlib
import queue
import sqlite3
import tempfile
import threading
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import pandas as pd

from core.store.frames_io import arrow_table, records

SCHEMA = "stage"
MIN_ROWS = 10_000  # below this, executemany is as fast and a result table needs no scratch copy


class Scratch:
    """A scratch SQLite database that tables are appended to, frame by frame.

    Its columns carry no declared type, so SQLite stores every value exactly as given;
    the store's columns apply their own types when the rows are copied in. The driver's
    connection is opened per append and closed after it, so that this process never has
    the file open through two copies of SQLite at once (see ``core.store.bulk_read``).
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.columns: dict[str, list[str]] = {}

    def append(self, table: str, frame: pd.DataFrame) -> None:
        """Add ``frame``'s rows to ``table`` (created from the first frame's columns)."""
        import adbc_driver_sqlite.dbapi as adbc

        names = [str(c) for c in frame.columns]
        arrow = arrow_table(frame)
        if arrow is None:  # a column mixing kinds of value: row tuples through sqlite3
            with contextlib.closing(sqlite3.connect(self.path, isolation_level=None)) as plain:
                self._create(plain.execute, table, names)
                marks = ", ".join("?" for _ in names)
                plain.execute("BEGIN")
                plain.executemany(f'INSERT INTO "{table}" VALUES ({marks})', records(frame))
                plain.execute("COMMIT")
            return
        with adbc.connect(str(self.path), autocommit=True) as writer, writer.cursor() as cursor:
            cursor.execute("PRAGMA journal_mode = OFF")  # a scratch file needs no crash safety
            cursor.execute("PRAGMA synchronous = OFF")
            self._create(cursor.execute, table, names)
            cursor.adbc_ingest(table, arrow, mode="append")

    def _create(self, execute, table: str, names: list[str]) -> None:
        if table not in self.columns:
            execute(f'CREATE TABLE "{table}" ({", ".join(_quote(c) for c in names)})')
            self.columns[table] = names
        elif names != self.columns[table]:
            raise ValueError(f"{table}: a later batch has other columns than the first")


@contextlib.contextmanager
def appending(database: Scratch) -> Iterator[Callable[[str, pd.DataFrame], None]]:
    """``append`` run by a background thread, so that the driver's writing (in C, without the GIL)
    overlaps the caller's reading of the next batch. At most two frames wait: memory stays bounded.

    A failed append is raised at the next call or on the way out.
    """
    waiting: queue.Queue = queue.Queue(maxsize=2)
    failures: list[BaseException] = []

    def work() -> None:
        while (item := waiting.get()) is not None:
            if not failures:
                try:
                    database.append(*item)
                except BaseException as error:  # handed to the caller's thread
                    failures.append(error)

    writer = threading.Thread(target=work, name="scratch-writer", daemon=True)
    writer.start()

    def append(table: str, frame: pd.DataFrame) -> None:
        if failures:
            raise failures[0]
        waiting.put((table, frame))

    try:
        yield append
    finally:
        waiting.put(None)
        writer.join()
    if failures:
        raise failures[0]


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


@contextlib.contextmanager
def scratch(store_path: Path) -> Iterator[Scratch]:
    """A scratch database in a folder of its own beside the store, removed on the way out."""
    with tempfile.TemporaryDirectory(prefix=f".{store_path.name}.stage-", dir=store_path.parent) as folder:
        yield Scratch(Path(folder) / "stage.db")


@contextlib.contextmanager
def attached(conn: sqlite3.Connection, database: Scratch) -> Iterator[str]:
    """``database`` attached to ``conn`` as schema ``stage``; enter it outside a transaction."""
    conn.execute(f"ATTACH DATABASE ? AS {SCHEMA}", [str(database.path)])
    try:
        yield SCHEMA
    finally:
        conn.execute(f"DETACH DATABASE {SCHEMA}")


@contextlib.contextmanager
def staged(
    conn: sqlite3.Connection,
    store_path: Path,
    frames: Mapping[str, pd.DataFrame],
    meanwhile: Callable[[], Mapping[str, pd.DataFrame]] | None = None,
) -> Iterator[set[str]]:
    """Attach a scratch database holding the big ``frames`` as tables of the same names.

    ``meanwhile()`` runs while the frames are being written (the driver needs no GIL)
    and returns more frames to stage. Yields the names staged; the small ones are for
    the caller to insert as usual, and so are all of them when nothing can be written
    beside the store (the store's own write then says why, should it fail too).
    """
    import adbc_driver_sqlite.dbapi as adbc

    names: set[str] = set()
    with contextlib.ExitStack() as cleanup:
        try:
            database = cleanup.enter_context(scratch(store_path))
        except OSError:  # no room or no right to write beside the store
            database = None
        if database is None:
            if meanwhile is not None:
                meanwhile()
            yield names
            return
        try:
            with appending(database) as append:
                for name, frame in frames.items():
                    if len(frame) >= MIN_ROWS:
                        append(name, frame)
                        names.add(name)
                for name, frame in (meanwhile() if meanwhile is not None else {}).items():
                    if len(frame) >= MIN_ROWS:
                        append(name, frame)
                        names.add(name)
        except (OSError, sqlite3.Error, adbc.Error):
            names = set()
        if names:
            cleanup.enter_context(attached(conn, database))
        yield names
