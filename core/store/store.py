"""The Quadrant store: the one module in core/ that touches SQLite.

Analyses receive frames from here and hand frames back; user state (to-do
status, notes, snoozes, outcomes, settings, playbooks) is written only by
explicit user actions, never by an import or a recompute.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import sqlite3
import threading
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
from platformdirs import user_data_dir

from core import memory
from core.frames import COLUMNS, Portfolio
from core.settings import resolve, validate
from core.store import frames_io, todo_state, workdirs
from core.store.connection import check_file, check_identity, connect, migrate, write_lock
from core.store.errors import DataChanged, StoreError, translate
from core.usage import METRICS, UsageCube

IMPORT_KEYS: dict[str, tuple[str, ...]] = {
    "accounts": ("account_id",),
    "products": ("product_id",),
    "bundles": ("bundle_id",),
    "subscriptions": ("account_id", "product_id", "start_date"),
    "contacts": ("account_id", "email"),
    "activities": ("activity_key",),
    "nps": ("account_id", "date", "email"),
    "usage": ("account_id", "product_id", "period"),
    "usage_extra": ("account_id", "product_id", "period", "metric"),
}
HASHED_KEYS = frozenset({"activities"})  # keys are digests, so rows arrive in random key order
_MONTH = "CAST(substr(period, 1, 4) AS INTEGER) * 12 + CAST(substr(period, 6, 2) AS INTEGER) - 1"
USAGE_CUBE_SQL = f"SELECT account_id, product_id, {_MONTH} AS month, {', '.join(METRICS)} FROM usage"
BULK_FROM_ACCOUNTS = (
    20_000  # measured: at 10,000 accounts in-process is 0.6 s faster, at 100,000 helpers save ~10 s
)
DERIVE_TODO_COLUMNS = todo_state.STANDING  # what the manager's figures count of each to-do
_TODO_STAGE = "merged_todos"  # the scratch table of a recompute's to-do rows
_PREVIOUS = {"score_components": "score_components_prev"}  # results whose last rows are kept beside them
ANY_VERSION = object()  # write_results without a data-version check
AUTOCHECKPOINT_PAGES = 1000  # SQLite's default WAL size that triggers a checkpoint at commit
DATA_TABLES = ("accounts", "products", "subscriptions", "contacts", "activities", "nps", "bundles")


_checkpoints: list[threading.Thread] = []  # started by Store.bulk_writing, waited for at exit


@atexit.register
def finish_checkpoints() -> None:
    """Wait for the background checkpoints, so that a command leaves its store file whole and tidy.

    Interrupted (Ctrl-C at exit), it stops waiting: the next connection copies what is left.
    """
    from core.store import swap

    try:
        while _checkpoints:
            _checkpoints.pop().join()
        while swap.background:
            swap.background.pop().join()
    except KeyboardInterrupt:
        pass


def _checkpoint(path: Path) -> None:
    """Copy the WAL's pages into the store file without waiting for anyone (see ``Store.bulk_writing``)."""
    try:
        conn = connect(path)
    except StoreError:
        return  # the next commit's automatic checkpoint copies them
    try:
        conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
    except sqlite3.Error:
        pass  # as above
    finally:
        conn.close()


def default_path() -> Path:
    """``QUADRANT_DB`` when set, else ``quadrant.db`` in the per-user data folder."""
    env = os.environ.get("QUADRANT_DB")
    if env:
        return Path(env).expanduser()
    return Path(user_data_dir("quadrant", appauthor=False)) / "quadrant.db"


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _record_import(conn: sqlite3.Connection, written: dict[str, int]) -> None:
    """Log the import in its own transaction: its run row then versions the book (``_data_version``).

    The row's random token tells this import from one of a store that was deleted and
    rebuilt at the same path within the same second (same run id, same time).
    """
    at = now_iso()
    conn.execute(
        "INSERT INTO runs (kind, started_at, finished_at, status, summary) VALUES ('import', ?, ?, 'ok', ?)",
        [at, at, json.dumps({"rows": written, "token": uuid.uuid4().hex})],
    )


def _data_version(conn: sqlite3.Connection) -> tuple | None:
    """The last import's run id, time and token: only an import changes the book, and each logs itself."""
    row = conn.execute(
        "SELECT run_id, started_at, summary FROM runs WHERE kind = 'import' ORDER BY run_id DESC LIMIT 1"
    ).fetchone()
    return tuple(row) if row else None


@contextlib.contextmanager
def _references_trusted(conn: sqlite3.Connection) -> Iterator[None]:
    """No foreign-key lookups for an import's copy: the importer already refused every row that
    names an account or product missing from the folder's own accounts.csv and products.csv
    (both required). Halves the copy of 5M usage rows; tests check the result with
    ``PRAGMA foreign_key_check``."""
    conn.execute("PRAGMA foreign_keys = OFF")
    try:
        yield
    finally:
        conn.execute("PRAGMA foreign_keys = ON")


_BULK_SQL = {table: f"SELECT {', '.join(COLUMNS[table])} FROM {table}" for table in DATA_TABLES}
_BULK_SQL["usage"] = USAGE_CUBE_SQL
HELPER_TABLES = "core.store.store:helper_tables"


def helper_tables(
    store_path: Path,
    tables: list[str],
    usage_months: tuple[str, str] | None = None,
    accounts: tuple[str | None, str | None] = (None, None),
) -> dict[str, pa.Table]:
    """A helper-process task (``core.store.bulk_read``): the named tables as Arrow, read with ADBC.

    ``usage`` is read as the cube's columns, only periods from ``usage_months[0]`` to before
    ``usage_months[1]`` ('YYYY-MM') when given, and only account ids from ``accounts[0]`` to
    before ``accounts[1]`` (either end open when None; the key's order makes it a range scan).
    Every other name is a portfolio table.
    """
    from core.store.frames_io import read_arrow

    out = {}
    for name in tables:
        types = read_arrow(store_path, "SELECT name, type FROM pragma_table_info(?)", [name])
        declared = dict(zip(types.column("name").to_pylist(), types.column("type").to_pylist(), strict=True))
        where, params = _usage_bounds(usage_months, accounts) if name == "usage" else ([], [])
        sql = f"{_BULK_SQL[name]} WHERE {' AND '.join(where)}" if where else _BULK_SQL[name]
        out[name] = read_arrow(store_path, sql, params, declared)
    return out


def _usage_bounds(
    months: tuple[str, str] | None, accounts: tuple[str | None, str | None]
) -> tuple[list[str], list[str]]:
    """The WHERE tests and their parameters that keep the usage rows in ``months`` and ``accounts``."""
    bounds = [
        *zip(("period >= ?", "period < ?"), months or (None, None)),
        *zip(("account_id >= ?", "account_id < ?"), accounts),
    ]
    kept = [(test, value) for test, value in bounds if value is not None]
    return [test for test, _ in kept], [value for _, value in kept]


def portfolio_from_tables(tables: dict[str, pa.Table]) -> Portfolio:
    """The portfolio from its tables' rows, typed as core/frames.py describes."""
    return Portfolio(
        **{
            name: frames_io.typed(name, frames_io.dates_parsed(name, tables[name]).to_pandas())
            for name in DATA_TABLES
        }
    )


class Store:
    """A Quadrant store file; each thread gets its own connection."""

    def __init__(self, path: Path | str, *, create: bool = True) -> None:
        self.path = Path(path).expanduser()
        self._local = threading.local()
        self.backup_written: str | None = None
        check_file(self.path)
        workdirs.sweep(self.path)  # working folders a killed process left beside the store
        if not self.path.exists() and not create:
            raise StoreError(f"There is no store at {self.path}.")
        if self.path.exists() and self.path.stat().st_size > 0:
            probe = connect(self.path, readonly=True)
            try:
                check_identity(probe, self.path)
            finally:
                probe.close()
        conn = self.conn
        if self._needs_migration(conn):
            self.backup_written = migrate(conn, self.path)
        self._seed_playbooks()

    @classmethod
    def open_default(cls, path: Path | str | None = None) -> Store:
        """The store a command line names, creating the per-user folder for the default path."""
        if path is None:
            path = default_path()
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        return cls(path)

    # -- connections -------------------------------------------------------------------------------------

    @property
    def conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = connect(self.path)
            self._local.conn = conn
        return conn

    def close(self) -> None:
        """Close this thread's connection, once the checkpoints ``bulk_writing`` started are done."""
        finish_checkpoints()
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    def _needs_migration(self, conn: sqlite3.Connection) -> bool:
        from core.store.schema import KNOWN_MIGRATIONS

        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if "_sqlite_migrations" not in tables:
            return True
        count = conn.execute("SELECT count(*) FROM _sqlite_migrations").fetchone()[0]
        return count < len(KNOWN_MIGRATIONS)

    @contextlib.contextmanager
    def writing(self) -> Iterator[sqlite3.Connection]:
        """One all-or-nothing write transaction; SQLite errors become StoreError messages."""
        try:
            with write_lock(self.conn, self.path) as conn:
                yield conn
        except sqlite3.Error as error:
            raise translate(error, str(self.path)) from None

    @contextlib.contextmanager
    def bulk_writing(self) -> Iterator[sqlite3.Connection]:
        """``writing`` for a big transaction, whose pages reach the store file afterwards, in a thread.

        SQLite would copy them from the WAL at COMMIT, in the committing thread: 600 MB after a
        recompute at 100,000 accounts, 0.9-4 s before its results could show. A passive checkpoint
        waits for no reader or writer, and readers find the pages in the WAL meanwhile. ``close``
        waits for it, and so does the process before it exits (``finish_checkpoints``).
        """
        self.conn.execute("PRAGMA wal_autocheckpoint = 0")
        try:
            with self.writing() as conn:
                yield conn
        finally:
            self.conn.execute(f"PRAGMA wal_autocheckpoint = {AUTOCHECKPOINT_PAGES}")
        thread = threading.Thread(target=_checkpoint, args=(self.path,), name="checkpoint", daemon=True)
        thread.start()
        _checkpoints[:] = [*(t for t in _checkpoints if t.is_alive()), thread]

    def query(self, sql: str, params: list | tuple = ()) -> pd.DataFrame:
        try:
            return frames_io.read_frame(self.conn, sql, params)
        except sqlite3.Error as error:
            raise translate(error, str(self.path)) from None

    def scalar(self, sql: str, params: list | tuple = ()) -> Any:
        try:
            row = self.conn.execute(sql, list(params)).fetchone()
        except sqlite3.Error as error:
            raise translate(error, str(self.path)) from None
        return None if row is None else row[0]

    def batches(self, sql: str, params: list | tuple = (), size: int = 5_000) -> Iterator[list[tuple]]:
        """A query's rows, ``size`` at a time, from one read transaction: a big table without a big frame."""
        try:
            cursor = self.conn.execute(sql, list(params))
            while rows := cursor.fetchmany(size):
                yield rows
        except sqlite3.Error as error:
            raise translate(error, str(self.path)) from None

    def has_table(self, name: str) -> bool:
        return bool(self.scalar("SELECT 1 FROM sqlite_master WHERE type='table' AND name=?", [name]))

    # -- reading the portfolio ---------------------------------------------------------------------------

    def _bulk(self, tables: tuple[str, ...], helpers: bool | None) -> dict[str, pa.Table] | None:
        """The big reads as Arrow tables from helper processes (see ``core.store.bulk_read``).

        Usage, the largest, has a helper to itself. None when the book is small (under
        BULK_FROM_ACCOUNTS accounts: starting a helper costs more than it saves) or a helper
        failed: the caller then reads through sqlite3.
        """
        from core.store import bulk_read

        if helpers is None:
            helpers = self.is_big()
        if not helpers:
            return None
        groups = [[t for t in tables if t == "usage"], [t for t in tables if t != "usage"]]
        running = []
        try:
            running = [
                bulk_read.Helper(self.path, HELPER_TABLES, {"tables": group}) for group in groups if group
            ]
            return {name: table for helper in running for name, table in helper.tables().items()}
        except bulk_read.BulkReadFailed:
            return None
        finally:
            for helper in running:
                helper.close()

    def is_big(self) -> bool:
        """Whether reads and heavy work pay for helper processes (BULK_FROM_ACCOUNTS accounts or more)."""
        return (self.scalar("SELECT count(*) FROM accounts") or 0) >= BULK_FROM_ACCOUNTS

    def middle_account(self) -> str | None:
        """The account id that splits the book in two halves of accounts (None for an empty book)."""
        return self.scalar(
            "SELECT account_id FROM accounts ORDER BY account_id LIMIT 1 OFFSET (SELECT count(*) / 2 FROM accounts)"
        )

    def portfolio(self, helpers: bool | None = None) -> Portfolio:
        """Every imported table but raw usage, typed as core/frames.py describes."""
        return self.portfolio_and_usage(helpers, usage=False)[0]

    def usage_cube(self, helpers: bool | None = None) -> UsageCube:
        """Every usage row as coded columns, the input of every usage aggregate."""
        tables = self._bulk(("usage",), helpers) or {}
        return self._cube(tables.get("usage"))

    def portfolio_and_usage(
        self, helpers: bool | None = None, usage: bool = True
    ) -> tuple[Portfolio, UsageCube | None]:
        """The portfolio and, when ``usage``, the usage cube; on a big book read side by side in helpers.

        ``helpers`` forces the helper processes on or off; None decides by the book's size.
        """
        names = (*DATA_TABLES, "usage") if usage else DATA_TABLES
        tables = self._bulk(names, helpers)
        if tables is None:
            frames = {table: frames_io.typed(table, self.query(_BULK_SQL[table])) for table in DATA_TABLES}
            book, tables = Portfolio(**frames), {}
        else:
            book = portfolio_from_tables(tables)
        return book, (self._cube(tables.get("usage")) if usage else None)

    def _cube(self, table: pa.Table | None) -> UsageCube:
        """The cube from a helper's Arrow table, or read through sqlite3 when there is none."""
        if table is None:
            table = pa.Table.from_pandas(self.query(USAGE_CUBE_SQL), preserve_index=False)
        return UsageCube.from_arrow(table)

    def usage_monthly(self, account_id: str | None = None) -> pd.DataFrame:
        """Raw monthly usage, for one account (the brief) or all (small books and tests only)."""
        sql = "SELECT * FROM usage"
        params: list = []
        if account_id is not None:
            sql += " WHERE account_id = ?"
            params.append(account_id)
        frame = self.query(sql + " ORDER BY account_id, product_id, period", params)
        return frames_io.typed("usage_monthly", frame)

    def usage_account_monthly(self) -> pd.DataFrame:
        """Usage summed over each account's products per month, aggregated in SQL.

        The recompute uses ``core.usage.account_monthly``; this SQL is the second method its tests check against.
        """
        frame = self.query(
            "SELECT account_id, period, sum(active_users) AS active_users, "
            "sum(licensed_seats) AS licensed_seats, sum(logins) AS logins, sum(key_events) AS key_events, "
            "sum(CASE WHEN licensed_seats > 0 THEN active_users END) AS seated_users "
            "FROM usage GROUP BY account_id, period"
        )
        return frames_io.typed("usage_monthly", frame)

    def usage_product_monthly(self) -> pd.DataFrame:
        """Usage summed over accounts per product and month, in SQL (the cross-check of ``core.usage``)."""
        frame = self.query(
            "SELECT product_id, period, count(*) AS accounts, sum(active_users) AS active_users, "
            "sum(key_events) AS key_events FROM usage GROUP BY product_id, period"
        )
        return frames_io.typed("usage_monthly", frame)

    def usage_features(self, as_of: date | pd.Timestamp) -> pd.DataFrame:
        """Recent-versus-previous usage per account and product by SQL GROUP BY (the cross-check of ``core.usage``)."""
        from core.store.features_sql import usage_features_sql

        try:
            return usage_features_sql(self.conn, as_of)
        except sqlite3.Error as error:
            raise translate(error, str(self.path)) from None

    def counts(self) -> dict[str, int]:
        return {t: self.scalar(f"SELECT count(*) FROM {t}") for t in (*DATA_TABLES, "usage", "todos")}

    def result(self, table: str, where: str = "", params: list | tuple = ()) -> pd.DataFrame:
        """A result table's rows (empty frame when it was never computed)."""
        if not self.has_table(table):
            return pd.DataFrame()
        return self.query(f'SELECT * FROM "{table}" {where}', params)

    # -- importing ---------------------------------------------------------------------------------------

    @memory.small_pages()
    def import_portfolio(self, reader: Any, progress: Callable[[int, int], None] | None = None) -> dict:
        """Write a validated portfolio in one transaction; any error leaves the store as it was.

        ``reader`` is a ``core.importer.PortfolioReader``. Every valid row first goes to a scratch
        database beside the store (see ``core.store.staging``); only when the whole folder
        passed does one transaction copy them in, so the store is locked for the copy alone.
        Returns rows written per table.
        """
        from core.store import staging
        from core.store.staging import write_failures

        written: dict[str, int] = {}
        try:
            with staging.scratch(self.path) as scratch:
                with staging.appending(scratch) as append:
                    for table, frame in reader.batches():
                        if not reader.errors and len(frame):
                            append(table, frame)
                            written[table] = written.get(table, 0) + len(frame)
                        if progress is not None:
                            progress(*reader.progress())
                reader.raise_if_failed()
                with (
                    staging.attached(self.conn, scratch) as schema,
                    _references_trusted(self.conn),
                    self.bulk_writing() as conn,
                ):
                    for table, columns in scratch.columns.items():
                        source = f'"{schema}"."{table}"'
                        ordered = table in HASHED_KEYS
                        frames_io.upsert_from(
                            conn, table, source, columns, IMPORT_KEYS[table], key_order=ordered
                        )
                    _record_import(conn, written)
        except sqlite3.Error as error:  # attaching the working copy
            raise translate(error, str(self.path)) from None
        except write_failures() as error:
            raise StoreError(
                f"Could not write the import's working copy beside {self.path} ({error}); "
                "check the free space there. Nothing was changed."
            ) from None
        return written

    # -- settings, playbooks, role overrides, saved views ---------------------------------------------

    def settings(self) -> dict[str, Any]:
        overrides = {r[0]: json.loads(r[1]) for r in self.conn.execute("SELECT key, value FROM settings")}
        return resolve(overrides)

    def set_setting(self, key: str, value: Any) -> Any:
        value = validate(key, value)
        with self.writing() as conn:
            conn.execute(
                "INSERT INTO settings (key, value, updated_at) VALUES (?, ?, ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
                [key, json.dumps(value), now_iso()],
            )
        return value

    def reset_setting(self, key: str) -> None:
        with self.writing() as conn:
            conn.execute("DELETE FROM settings WHERE key = ?", [key])

    def _seed_playbooks(self) -> None:
        """Add playbooks for to-do kinds the library lacks; never touch ones a team has."""
        try:
            from core.scoring.playbooks import DEFAULT_PLAYBOOKS
        except ImportError:
            return
        known = {r[0] for r in self.conn.execute("SELECT kind FROM playbooks")}
        missing = {k: v for k, v in DEFAULT_PLAYBOOKS.items() if k not in known}
        if not missing:
            return
        with self.writing() as conn:
            for kind, book in missing.items():
                conn.execute(
                    "INSERT OR IGNORE INTO playbooks (kind, title, steps, edited, updated_at) VALUES (?,?,?,0,?)",
                    [kind, book["title"], json.dumps(book["steps"]), now_iso()],
                )

    def playbooks(self) -> pd.DataFrame:
        frame = self.query("SELECT kind, title, steps, edited, updated_at FROM playbooks ORDER BY kind")
        frame["steps"] = frame["steps"].map(json.loads)
        return frame

    def set_playbook(self, kind: str, title: str, steps: list[str]) -> None:
        with self.writing() as conn:
            conn.execute(
                "INSERT INTO playbooks (kind, title, steps, edited, updated_at) VALUES (?,?,?,1,?) "
                "ON CONFLICT (kind) DO UPDATE SET title=excluded.title, steps=excluded.steps, edited=1, "
                "updated_at=excluded.updated_at",
                [kind, title, json.dumps(list(steps)), now_iso()],
            )

    def role_overrides(self) -> pd.DataFrame:
        return self.query("SELECT product_id, role, note, set_at FROM product_role_overrides")

    def set_role_override(self, product_id: str, role: str | None, note: str = "") -> None:
        with self.writing() as conn:
            if role is None:
                conn.execute("DELETE FROM product_role_overrides WHERE product_id = ?", [product_id])
            else:
                conn.execute(
                    "INSERT INTO product_role_overrides VALUES (?,?,?,?) ON CONFLICT (product_id) DO UPDATE "
                    "SET role=excluded.role, note=excluded.note, set_at=excluded.set_at",
                    [product_id, role, note, now_iso()],
                )

    def saved_views(self) -> dict[str, dict]:
        return {r[0]: json.loads(r[1]) for r in self.conn.execute("SELECT name, spec FROM saved_views")}

    def save_view(self, name: str, spec: dict) -> None:
        with self.writing() as conn:
            conn.execute(
                "INSERT INTO saved_views VALUES (?,?,?) ON CONFLICT (name) DO UPDATE SET spec=excluded.spec, "
                "updated_at=excluded.updated_at",
                [name, json.dumps(spec), now_iso()],
            )

    def delete_view(self, name: str) -> None:
        with self.writing() as conn:
            conn.execute("DELETE FROM saved_views WHERE name = ?", [name])

    # -- runs and results --------------------------------------------------------------------------------

    def data_version(self) -> tuple | None:
        """Which import the book's tables come from (None before any); see ``_record_import``."""
        return _data_version(self.conn)

    def start_run(self, kind: str, as_of: date | None = None) -> int:
        with self.writing() as conn:
            cursor = conn.execute(
                "INSERT INTO runs (kind, started_at, status, as_of) VALUES (?, ?, 'running', ?)",
                [kind, now_iso(), None if as_of is None else str(as_of)],
            )
            return int(cursor.lastrowid)

    def finish_run(
        self, run_id: int, status: str, summary: dict | None = None, error: str | None = None
    ) -> None:
        with self.writing() as conn:
            started = conn.execute("SELECT started_at FROM runs WHERE run_id = ?", [run_id]).fetchone()[0]
            finished = datetime.now(UTC)
            duration = (finished - datetime.fromisoformat(started)).total_seconds()
            conn.execute(
                "UPDATE runs SET finished_at=?, duration_s=?, status=?, summary=?, error=? WHERE run_id=?",
                [
                    finished.isoformat(timespec="seconds"),
                    duration,
                    status,
                    json.dumps(summary or {}),
                    error,
                    run_id,
                ],
            )

    def last_run(self, kind: str = "recompute", status: str = "ok") -> dict | None:
        row = self.query(
            "SELECT * FROM runs WHERE kind = ? AND status = ? ORDER BY run_id DESC LIMIT 1", [kind, status]
        )
        if row.empty:
            return None
        record = row.iloc[0].to_dict()
        record["summary"] = json.loads(record["summary"] or "{}")
        return record

    def write_results(
        self,
        results: dict[str, pd.DataFrame],
        todos: pd.DataFrame | None = None,
        reconcile: Callable[[pd.DataFrame, pd.DataFrame], pd.DataFrame] | None = None,
        derive: Callable[[pd.DataFrame], dict[str, pd.DataFrame]] | None = None,
        stage: Any = None,
        planned: Callable[[], None] | None = None,
        data_version: tuple | None | object = ANY_VERSION,
    ) -> dict[str, int]:
        """Swap in a recompute's results and merge its to-dos, all in one transaction.

        The to-dos are reconciled with the stored ones before the write lock, and
        the big tables written to a scratch file (see ``core.store.staging``) and from
        there to tables of their own in the store (``core.store.swap``), so the store is
        locked only for renaming them and for merging the to-dos. Should the to-dos change in between
        (``todo_state.version`` tells), the reconcile runs again under the lock:
        a user's change made while the analysis ran is never overwritten.
        ``derive(todos)`` then computes the tables that count the merged to-dos
        (the manager's figures) in the same transaction; it gets the columns
        ``DERIVE_TODO_COLUMNS``. ``stage`` is a ``result_stage()`` that may already
        hold some of ``results`` (the recompute stages each table when it is ready).
        ``planned()`` is called once the to-dos are planned, before the write lock: work that
        ``derive`` will need can start then, beside the copy. Given a ``data_version`` (what
        ``data_version()`` said before the results were worked out, None included), nothing is
        written and ``DataChanged`` is raised when an import has committed since.
        """
        from core.store import staging, swap

        changed: dict[str, int] = {}
        merging = todos is not None and reconcile is not None
        plan, version = None, None
        with contextlib.ExitStack() as cleanup:
            if stage is None:
                stage = cleanup.enter_context(self.result_stage())
            for table, frame in results.items():
                stage.add(table, frame)
            stage.start_building()
            if merging:  # planned while the writer thread writes
                version = todo_state.version(self.conn)
                plan = todo_state.plan_merge(self.conn, todos, reconcile)
                stage.add(_TODO_STAGE, plan.rows, swap=False)
            if planned is not None:
                planned()
            with stage.attached(self.conn) as staged, self.bulk_writing() as conn:
                if data_version is not ANY_VERSION and _data_version(conn) != data_version:
                    raise DataChanged(
                        "The portfolio was imported again while the recompute ran; its results "
                        "were not saved, so that they never mix two imports."
                    )
                for table, frame in results.items():
                    previous = _PREVIOUS.get(table)  # the brief shows how each component moved
                    built = stage.built.get(table) if table in staged else None
                    if built is not None and swap.swap_in(conn, table, built, stage.token, previous):
                        changed[table] = stage.rows[table]
                        continue
                    if previous is not None:
                        frames_io.rotate(conn, table, previous)
                    frames_io.replace_rows(conn, table, frame, staging.SCHEMA if table in staged else None)
                    changed[table] = stage.rows[table] if table in staged else len(frame)
                if merging:
                    source = staging.SCHEMA if _TODO_STAGE in staged else None
                    if todo_state.version(conn) != version or not todo_state.dormant_unchanged(conn, plan):
                        plan, source = todo_state.plan_merge(conn, todos, reconcile), None
                    changed["todos"] = todo_state.apply_merge(conn, plan, source, _TODO_STAGE)
                if derive is not None:
                    if merging and plan.standing is not None:  # the plan was checked under this lock
                        merged = plan.standing
                    else:
                        merged = frames_io.read_frame(
                            conn, f"SELECT {', '.join(DERIVE_TODO_COLUMNS)} FROM todos"
                        )
                    for table, frame in derive(merged).items():
                        frames_io.replace_rows(conn, table, frame)
                        changed[table] = len(frame)
        return changed

    def result_stage(self):
        """A ``core.store.staging.ResultStage`` beside this store, for ``write_results(stage=...)``."""
        from core.store import staging

        declared = self.conn.execute(
            "SELECT name, sql FROM main.sqlite_master WHERE type = 'table'"
        ).fetchall()
        like = {
            name: staging.TableShape(
                sql,
                tuple(frames_io.table_columns(self.conn, name)),
                tuple(sql for _, sql in frames_io.own_indexes(self.conn, name)),
            )
            for name, sql in declared
        }
        return staging.ResultStage(self.path, like)

    # -- to-do state -------------------------------------------------------------------------------------

    def todos(self, where: str = "", params: list | tuple = ()) -> pd.DataFrame:
        return self.query(f"SELECT * FROM todos {where}", params)

    def change_todo(
        self,
        todo_id: str,
        action: str,
        until: date | str | None = None,
        note: str | None = None,
        outcome: str | None = None,
        source: str = "cli",
    ) -> dict:
        """Apply a user's action to a to-do and log it; returns the to-do after the change."""
        with self.writing() as conn:
            return todo_state.change(conn, todo_id, action, until, note, outcome, source)

    def undo_todo(self, todo_id: str, source: str = "tui") -> dict:
        """Revert the to-do's last user change (itself logged as an event)."""
        with self.writing() as conn:
            return todo_state.undo(conn, todo_id, source)

    def todo_events(self, todo_id: str | None = None) -> pd.DataFrame:
        if todo_id is None:
            return self.query("SELECT * FROM todo_events ORDER BY event_id")
        return self.query("SELECT * FROM todo_events WHERE todo_id = ? ORDER BY event_id", [todo_id])

    # -- backup and restore ------------------------------------------------------------------------------

    def backup(self, target: Path | str) -> Path:
        """An online, consistent copy of the store (SQLite backup API)."""
        target = Path(target).expanduser()
        if not target.parent.exists():
            raise StoreError(f"The folder {target.parent} does not exist.")
        if target.resolve() == self.path.resolve():
            raise StoreError("The backup must go to another file than the store itself.")
        try:
            dest = sqlite3.connect(str(target))
            with dest:
                self.conn.backup(dest)
            dest.close()
        except sqlite3.Error as error:
            raise translate(error, str(target)) from None
        return target

    def restore(self, source: Path | str) -> None:
        """Replace the store's contents with a backup, after checking it is a Quadrant store."""
        source = Path(source).expanduser()
        if not source.exists():
            raise StoreError(f"There is no backup at {source}.")
        check_file(source)
        src = connect(source, readonly=True)
        try:
            check_identity(src, source)
            src.backup(self.conn)
        except sqlite3.Error as error:
            raise translate(error, str(self.path)) from None
        finally:
            src.close()
        if self._needs_migration(self.conn):
            self.backup_written = migrate(self.conn, self.path)
