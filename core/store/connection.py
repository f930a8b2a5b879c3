"""Opening a store file safely: checks, pragmas, migrations, and a backup first.

A connection never crosses threads, so every worker asks for its own.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from sqlite_utils import Database

from core.store.errors import StoreError, translate
from core.store.schema import APPLICATION_ID, KNOWN_MIGRATIONS, MIGRATION_SET, SCHEMA_VERSION, migrations

BUSY_TIMEOUT_MS = 15_000
SQLITE_HEADER = b"SQLite format 3\x00"


def connect(path: Path, readonly: bool = False) -> sqlite3.Connection:
    """A new autocommit connection with WAL, foreign keys and a busy timeout."""
    try:
        if readonly:
            conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None, timeout=15)
        else:
            conn = sqlite3.connect(str(path), isolation_level=None, timeout=BUSY_TIMEOUT_MS / 1000)
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        conn.execute("PRAGMA foreign_keys = ON")
        if not readonly:
            mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
            if mode != "wal":
                conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        # Some builds (Debian's) zero every freed page: a recompute that replaces its result tables
        # then writes ~450 MB of zeros at 100k accounts, twice (WAL, then the file). FAST still
        # zeroes deleted cells on the pages a change writes anyway.
        conn.execute("PRAGMA secure_delete = FAST")
        return conn
    except sqlite3.Error as error:
        raise translate(error, str(path)) from None


def check_file(path: Path) -> None:
    """Refuse, with a clear message, anything that is not a store we can open."""
    if not path.parent.exists():
        raise StoreError(f"The folder {path.parent} does not exist: create it or choose another --db path.")
    if path.is_dir():
        raise StoreError(f"{path} is a folder, not a store file.")
    if path.exists() and path.stat().st_size > 0:
        with open(path, "rb") as handle:
            if handle.read(16) != SQLITE_HEADER:
                raise StoreError(f"{path} is not a Quadrant store (not an SQLite file); nothing was changed.")


def applied_migrations(db: Database) -> list[str]:
    if not db["_sqlite_migrations"].exists():
        return []
    return [m.name for m in migrations.applied(db)]


def check_identity(conn: sqlite3.Connection, path: Path) -> None:
    """An SQLite file written by someone else, or by a newer Quadrant, is left untouched."""
    app_id = conn.execute("PRAGMA application_id").fetchone()[0]
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    if app_id != APPLICATION_ID and tables:
        raise StoreError(
            f"{path} is an SQLite database but not a Quadrant store; nothing was changed. "
            "Choose another --db path."
        )
    if "_sqlite_migrations" in tables:
        names = [
            r[0]
            for r in conn.execute(
                "SELECT name FROM _sqlite_migrations WHERE migration_set = ? ORDER BY rowid", [MIGRATION_SET]
            )
        ]
        unknown = [n for n in names if n not in KNOWN_MIGRATIONS]
        if unknown:
            raise StoreError(
                f"{path} was written by a newer Quadrant (schema {len(names)}, this version knows "
                f"{SCHEMA_VERSION}). Upgrade Quadrant to open it; nothing was changed."
            )


def migrate(conn: sqlite3.Connection, path: Path) -> str | None:
    """Apply pending migrations, backing the store up first when it already holds data.

    Returns the backup's path when one was written.
    """
    db = Database(conn)
    done = applied_migrations(db)
    pending = [m for m in KNOWN_MIGRATIONS if m not in done]
    if not pending:
        return None
    backup_path = None
    if done:
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
        backup_path = str(path.with_name(f"{path.name}.schema{len(done)}-{stamp}.bak"))
        target = sqlite3.connect(backup_path)
        with target:
            conn.backup(target)
        target.close()
    with write_lock(conn, path):
        migrations.apply(db)
    return backup_path


@contextlib.contextmanager
def write_lock(conn: sqlite3.Connection, path: Path) -> Iterator[sqlite3.Connection]:
    """One write transaction (BEGIN IMMEDIATE); waits up to the busy timeout for another writer."""
    try:
        conn.execute("BEGIN IMMEDIATE")
    except sqlite3.OperationalError as error:
        raise translate(error, str(path)) from None
    try:
        yield conn
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    else:
        try:
            conn.execute("COMMIT")
        except sqlite3.Error as error:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise translate(error, str(path)) from None
