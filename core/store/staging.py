"""Big writes land in a scratch file beside the store first, then SQLite copies them in.

sqlite3's executemany turns every cell into a Python object: 1.5M score
components take about 5 s at 100,000 accounts, an import's 10M usage rows
about 30 s. The ADBC driver writes the same Arrow columns to a scratch SQLite
file in C several times faster, outside the store's write lock, and one
INSERT ... SELECT per table copies them in: a result table into a twin that the
save swaps in (``core.store.swap``), else under the save's lock. The store's own
transaction stays all-or-nothing; the scratch folder is deleted afterwards,
whatever happens.
"""

from __future__ import annotations

import contextlib
import queue
import sqlite3
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from core.store.frames_io import arrow_table, column_declarations, quote, records
from core.store.workdirs import WorkFolder

SCHEMA = "stage"
MIN_ROWS = 10_000  # below this, executemany is as fast and a result table needs no scratch copy


@dataclass(frozen=True)
class TableShape:
    """How the store declares a table: its CREATE TABLE statement and its columns, in order."""

    sql: str
    columns: tuple[str, ...]
    indexes: tuple[str, ...] = ()  # its CREATE INDEX statements (not its primary key's)


def write_failures() -> tuple[type[Exception], ...]:
    """What writing beside the store raises when the disk or the folder refuses."""
    import adbc_driver_sqlite.dbapi as adbc

    return OSError, sqlite3.Error, adbc.Error


class Scratch:
    """A scratch SQLite database that tables are appended to, frame by frame.

    Given ``like`` (the store's tables), each table is declared as the store declares it, or
    will once ``frames_io.ensure_table`` has made it fit the frame: values take the store's
    types here, and the copy into the store can move each record whole (see
    ``frames_io.staged_copy``), about twice as fast as decoding and encoding every cell.
    Without it, columns carry no declared type, so SQLite stores every value exactly as given
    and the store's columns apply their types during the copy. The driver's connection is
    opened per append and closed after it, so that this process never has the file open
    through two copies of SQLite at once (see ``core.store.bulk_read``).
    """

    def __init__(self, path: Path, like: dict[str, TableShape] | None = None) -> None:
        self.path = path
        self.like = like
        self.columns: dict[str, list[str]] = {}

    def append(self, table: str, frame: pd.DataFrame) -> None:
        """Add ``frame``'s rows to ``table`` (created from the first frame's columns)."""
        import adbc_driver_sqlite.dbapi as adbc

        names = [str(c) for c in frame.columns]
        arrow = arrow_table(frame)
        if arrow is None:  # a column mixing kinds of value: row tuples through sqlite3
            with contextlib.closing(sqlite3.connect(self.path, isolation_level=None)) as plain:
                self._create(plain.execute, table, frame)
                marks = ", ".join("?" for _ in names)
                plain.execute("BEGIN")
                columns = ", ".join(quote(c) for c in names)
                plain.executemany(f'INSERT INTO "{table}" ({columns}) VALUES ({marks})', records(frame))
                plain.execute("COMMIT")
            return
        with adbc.connect(str(self.path), autocommit=True) as writer, writer.cursor() as cursor:
            cursor.execute("PRAGMA journal_mode = OFF")  # a scratch file needs no crash safety
            cursor.execute("PRAGMA synchronous = OFF")
            self._create(cursor.execute, table, frame)
            cursor.adbc_ingest(table, arrow, mode="append")

    def _create(self, execute, table: str, frame: pd.DataFrame) -> None:
        names = [str(c) for c in frame.columns]
        if table not in self.columns:
            if self.like is None:
                execute(f'CREATE TABLE "{table}" ({", ".join(quote(c) for c in names)})')
            elif table not in self.like:  # as ``frames_io.ensure_table`` will create it in the store
                execute(f'CREATE TABLE "{table}" ({column_declarations(frame, names)})')
            else:  # as the store declares it, with the columns ``ensure_table`` will add
                shape = self.like[table]
                execute(shape.sql)
                for name in names:
                    if name not in shape.columns:
                        execute(f'ALTER TABLE "{table}" ADD COLUMN {column_declarations(frame, [name])}')
            self.columns[table] = names
        elif names != self.columns[table]:
            raise ValueError(f"{table}: a later batch has other columns than the first")


@contextlib.contextmanager
def appending(database: Scratch, go: threading.Event | None = None) -> Iterator[Callable[..., None]]:
    """``append`` run by a background thread, so that the driver's writing (in C, without the GIL)
    overlaps the caller's reading of the next batch. At most two frames wait: memory stays bounded.

    ``append(table, frame, then)`` calls ``then(table)`` in that thread once the rows are written,
    no other frame waits (a waiting frame is memory the caller may have let go of already) and
    ``go`` is set, when given. A failed append is raised at the next call or on the way out.
    """
    waiting: queue.Queue = queue.Queue(maxsize=2)
    failures: list[BaseException] = []
    after: list[tuple[Callable[[str], None], str]] = []  # the ``then`` calls still to make
    if go is None:
        go = threading.Event()
        go.set()

    def attempt(step: Callable, *args) -> None:
        if not failures:
            try:
                step(*args)
            except BaseException as error:  # handed to the caller's thread
                failures.append(error)

    def work() -> None:
        while True:
            ready = bool(after) and go.is_set()
            try:  # a ``then`` call waits for ``go``: look again every 50 ms
                item = waiting.get(block=not ready, timeout=0.05 if after and not ready else None)
            except queue.Empty:
                if ready:
                    attempt(*after.pop(0))
                continue
            if item is None:
                break
            table, frame, then = item
            item = None
            attempt(database.append, table, frame)
            frame = None
            if then is not None:
                after.append((then, table))
        while after:
            attempt(*after.pop(0))

    writer = threading.Thread(target=work, name="scratch-writer", daemon=True)
    writer.start()

    def append(table: str, frame: pd.DataFrame, then: Callable[[str], None] | None = None) -> None:
        if failures:
            raise failures[0]
        waiting.put((table, frame, then))

    try:
        yield append
    finally:
        waiting.put(None)
        writer.join()
    if failures:
        raise failures[0]


@contextlib.contextmanager
def scratch(store_path: Path, like: dict[str, TableShape] | None = None) -> Iterator[Scratch]:
    """A scratch database in a folder of its own beside the store, removed on the way out."""
    with WorkFolder(store_path, "stage") as folder:
        yield Scratch(folder.path / "stage.db", like)


@contextlib.contextmanager
def attached(conn: sqlite3.Connection, database: Scratch) -> Iterator[str]:
    """``database`` attached to ``conn`` as schema ``stage``; enter it outside a transaction."""
    conn.execute(f"ATTACH DATABASE ? AS {SCHEMA}", [str(database.path)])
    try:
        yield SCHEMA
    finally:
        conn.execute(f"DETACH DATABASE {SCHEMA}")


class StageLost(OSError):
    """A released result's rows were lost with a failed scratch write; the save cannot go on."""


class ResultStage:
    """Big result tables written to a scratch file in the background, each as soon as it is ready.

    ``add`` hands a frame to a writer thread and returns at once, so the writing (in C,
    without the GIL) overlaps the analyses still running; ``attached`` waits for the
    writer and attaches the file for the copy under the write lock. When nothing can be
    written beside the store, no name is staged and the caller inserts every table as usual
    (the store's own write then says why, should it fail too). ``like`` gives the store's
    declarations of its tables (see ``Scratch``); with it, the writer also builds each
    staged result as a table in the store, ready to be swapped in (``core.store.swap``):
    ``built`` names them, once ``attached`` has waited for the writer.
    """

    def __init__(self, store_path: Path, like: dict[str, TableShape] | None = None) -> None:
        self.names: set[str] = set()
        self.rows: dict[str, int] = {}
        self.built: dict[str, str] = {}  # result table -> its twin built in the store (written by the writer)
        self.token = ""  # names the twins: the working folder's own part (see ``core.store.swap``)
        self._store_path, self._like = store_path, like
        self._released: set[str] = set()
        self._failure: BaseException | None = None
        self._go = threading.Event()  # twins wait for it (``start_building``)
        self._files = contextlib.ExitStack()
        self._writer = contextlib.ExitStack()
        self._database: Scratch | None = None
        try:
            self._database = self._files.enter_context(scratch(store_path, like))
            self.token = self._database.path.parent.name.removeprefix(f".{store_path.name}.stage-")
            self._append = self._writer.enter_context(appending(self._database, self._go))
        except OSError:
            self._database = None

    def __enter__(self) -> ResultStage:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def add(self, name: str, frame: pd.DataFrame, swap: bool = True) -> None:
        """Stage ``frame`` as table ``name`` when it is big enough to gain from it (once per name).

        ``swap``: a result table that replaces the store's, so its twin is built in the store.
        """
        if self._database is None or name in self.names or len(frame) < MIN_ROWS:
            return
        try:
            self._append(name, frame, self._build if swap and self._like is not None else None)
            self.names.add(name)
            self.rows[name] = len(frame)
        except write_failures() as error:
            self._database, self._failure = None, error

    def release(self, name: str, frame: pd.DataFrame) -> pd.DataFrame:
        """``frame`` after its last reader: an empty frame of its columns when the scratch file has its rows.

        The recompute's biggest results then leave memory long before the save copies them
        in. Should the scratch write fail later, the save cannot fall back to inserting them
        and says so (``attached`` raises).
        """
        if name not in self.names:
            return frame
        self._released.add(name)
        return frame.iloc[:0]

    def start_building(self) -> None:
        """Let the writer build the twins (the save does, at the latest).

        A recompute lets it once its scores are final: built from the start, the twins took
        CPU from the analyses at their memory peak, which then lasted longer (the trust
        helper's peak overlapped it more often); from there on they overlap the to-dos,
        the pricing and the planning of the to-do merge.
        """
        self._go.set()

    def _build(self, table: str) -> None:
        """In the writer thread: ``table``'s twin in the store, its indexes first built in the scratch file."""
        from core.store import swap

        shape = self._like.get(table) if self._like else None
        try:
            swap.index_scratch(self._database.path, table, list(shape.indexes) if shape else [])
        except (sqlite3.Error, ValueError, OSError):
            return  # the save copies the staged rows instead
        built = swap.build(self._store_path, self._database.path, SCHEMA, table, self.token)
        if built is not None:
            self.built[table] = built

    def _finish(self) -> set[str]:
        """Wait for the writer; the names staged (none if any write failed)."""
        try:
            self._writer.close()
        except write_failures() as error:
            self._database, self._failure = None, error
        if self._database is None and self._released:
            raise StageLost(
                f"The results could not be written beside the store ({self._failure}); "
                "check the free space there. The previous results are kept."
            )
        return set(self.names) if self._database is not None else set()

    @contextlib.contextmanager
    def attached(self, conn: sqlite3.Connection) -> Iterator[set[str]]:
        """The staged names, their scratch file attached to ``conn``; enter it outside a transaction."""
        names = self._finish()
        if not names:
            yield set()
            return
        with attached(conn, self._database):
            yield names

    def close(self, sweep: bool = True) -> None:
        """Stop the writer and delete the scratch file (a failed write no longer matters here).

        The twins not swapped in, and the tables the swaps set aside, are dropped in the background,
        unless ``sweep`` is False: the caller then calls ``swap.sweep_in_background`` once its own
        writes are done (the drops hold the write lock for a second or two at 100,000 accounts).
        """
        from core.store import swap

        try:
            with contextlib.suppress(*write_failures()):
                self._writer.close()
        finally:
            self._files.close()
            if self.built and sweep:
                swap.sweep_in_background(self._store_path, self.token)
