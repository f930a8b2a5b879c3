"""Result tables built beside the live ones while the analyses run, then swapped in by renaming.

Copying a recompute's results into the store takes seconds at 100,000 accounts (1.5M score
components, indexed), and a copy made in the save's transaction holds the write lock all that
time: a to-do marked done in another window waits for it. So each big result, once staged
(``core.store.staging``), is copied into a table of its own, ``_next_<token>_<table>``, in a
short transaction of a background thread, with its indexes. The save then only renames: the
live table becomes ``_old_<token>_<table>`` and the new one takes its name, in the same
transaction as the rest of the save, so readers see the old results or the new, never a mix.
The old tables are dropped afterwards, outside that transaction.

``token`` names the stage's working folder (``core.store.workdirs``): a table whose folder is
gone or unlocked was left by a killed process, and ``sweep`` drops it.
"""

from __future__ import annotations

import contextlib
import glob
import re
import sqlite3
import threading
from pathlib import Path

from core.store import workdirs
from core.store.connection import connect
from core.store.frames_io import own_indexes, quote

NEXT, OLD = "_next_", "_old_"
# An index of a table built beside its live twin takes a free name: base, base__alt, base__2, ...
_SUFFIX = "__"
_TABLE_NAME = re.compile(r'^\s*CREATE\s+TABLE\s+(?:"(?:[^"]|"")+"|\S+?)\s*\(', re.IGNORECASE)
_INDEX_HEAD = re.compile(
    r'^\s*CREATE\s+(UNIQUE\s+)?INDEX\s+(?:IF\s+NOT\s+EXISTS\s+)?(?:"(?:[^"]|"")+"|\S+)\s+ON\s+'
    r'(?:"(?:[^"]|"")+"|[^\s(]+)\s*\(',
    re.IGNORECASE,
)

background: list[threading.Thread] = []  # sweeps in progress, waited for with the checkpoints


def next_name(token: str, table: str) -> str:
    return f"{NEXT}{token}_{table}"


def table_named(sql: str, name: str) -> str:
    """A CREATE TABLE statement for a table called ``name`` in ``main``."""
    renamed, count = _TABLE_NAME.subn(f"CREATE TABLE main.{quote(name)} (", sql, count=1)
    if count != 1:
        raise ValueError(f"not a CREATE TABLE statement: {sql!r}")
    return renamed


def index_on(sql: str, name: str, table: str, schema: str = "main") -> str:
    """A CREATE INDEX statement as ``sql`` declares it, called ``name`` and on ``table``."""
    renamed, count = _INDEX_HEAD.subn(
        lambda m: f"CREATE {m.group(1) or ''}INDEX {schema}.{quote(name)} ON {quote(table)} (",
        sql,
        count=1,
    )
    if count != 1:
        raise ValueError(f"not a CREATE INDEX statement: {sql!r}")
    return renamed


def _free_index_name(taken: set[str], name: str) -> str:
    base = name.split(_SUFFIX)[0]
    for candidate in (base, f"{base}{_SUFFIX}alt", *(f"{base}{_SUFFIX}{n}" for n in range(2, 1000))):
        if candidate not in taken:
            return candidate
    raise ValueError(f"no free name for an index like {name!r}")


def build(store_path: Path, scratch_path: Path, schema: str, table: str, token: str) -> str | None:
    """Copy ``table`` from the scratch database into ``_next_<token>_<table>`` with the store's indexes.

    The scratch table must already carry the same indexes (``index_scratch``): SQLite then copies
    records and index entries as they are, with no sorting under the write lock. Returns the new
    table's name, or None when it could not be built (the save then copies the rows itself).
    """
    name = next_name(token, table)
    try:
        conn = connect(store_path)
    except Exception:  # noqa: BLE001 - the save's own copy reports what is wrong with the store
        return None
    try:
        # The save's checkpoint copies these pages into the file (``Store.bulk_writing``).
        conn.execute("PRAGMA wal_autocheckpoint = 0")
        conn.execute(f"ATTACH DATABASE ? AS {schema}", [str(scratch_path)])
        try:
            sql = conn.execute(
                f"SELECT sql FROM {schema}.sqlite_master WHERE type = 'table' AND name = ?", [table]
            ).fetchone()[0]
            conn.execute("BEGIN IMMEDIATE")
            try:
                conn.execute(table_named(sql, name))
                taken = {
                    r[0] for r in conn.execute("SELECT name FROM main.sqlite_master WHERE type = 'index'")
                }
                for index, index_sql in own_indexes(conn, table):
                    free = _free_index_name(taken, index)
                    taken.add(free)
                    conn.execute(index_on(index_sql, free, name))
                conn.execute(f"INSERT INTO main.{quote(name)} SELECT * FROM {schema}.{quote(table)}")
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
        finally:
            conn.execute(f"DETACH DATABASE {schema}")
    except (sqlite3.Error, ValueError):  # ValueError: a declaration this module cannot rename
        return None
    finally:
        conn.close()
    return name


def index_scratch(scratch_path: Path, table: str, index_sqls: list[str]) -> None:
    """Give the scratch ``table`` the store's indexes, so that ``build`` copies them without sorting."""
    with contextlib.closing(sqlite3.connect(scratch_path, isolation_level=None)) as conn:
        for n, sql in enumerate(index_sqls):
            conn.execute(index_on(sql, f"stage_index_{table}_{n}", table))


def swap_in(
    conn: sqlite3.Connection, table: str, built: str, token: str, previous: str | None = None
) -> bool:
    """Inside the caller's transaction: ``built`` takes ``table``'s name; False when it is gone.

    The live table becomes ``previous`` when given (whose rows are then set aside), else it is
    set aside; ``sweep`` drops what was set aside once the transaction has committed.
    """

    def exists(name: str) -> bool:
        found = conn.execute("SELECT 1 FROM main.sqlite_master WHERE type = 'table' AND name = ?", [name])
        return found.fetchone() is not None

    if not exists(built):  # dropped by another process's sweep: the caller copies the rows instead
        return False
    if previous is not None and exists(previous):
        conn.execute(f"ALTER TABLE main.{quote(previous)} RENAME TO {quote(f'{OLD}{token}_{previous}')}")
    if exists(table):
        aside = previous if previous is not None else f"{OLD}{token}_{table}"
        conn.execute(f"ALTER TABLE main.{quote(table)} RENAME TO {quote(aside)}")
    conn.execute(f"ALTER TABLE main.{quote(built)} RENAME TO {quote(table)}")
    return True


def _live_tokens(store_path: Path) -> list[str]:
    """The tokens of the stage folders beside the store that a living process holds."""
    prefix = str(store_path.parent / f".{store_path.name}.stage-")
    return [
        name[len(prefix) :]
        for name in glob.glob(glob.escape(prefix) + "*")
        if Path(name).is_dir() and not workdirs.abandoned(Path(name))
    ]


def leftovers(conn: sqlite3.Connection, store_path: Path, token: str | None) -> list[str]:
    """Tables built or set aside by ``token``, and by stages no living process holds any more."""
    live = [t for t in _live_tokens(store_path) if t != token]
    names = [
        r[0]
        for r in conn.execute(
            "SELECT name FROM main.sqlite_master WHERE type = 'table' "
            "AND (name LIKE '\\_next\\_%' ESCAPE '\\' OR name LIKE '\\_old\\_%' ESCAPE '\\')"
        )
    ]

    def held(name: str) -> bool:
        rest = name.removeprefix(NEXT) if name.startswith(NEXT) else name.removeprefix(OLD)
        return any(rest.startswith(f"{t}_") for t in live)

    return [name for name in names if not held(name)]


def sweep(store_path: Path, token: str | None = None) -> None:
    """Drop the tables ``leftovers`` names, each in a transaction of its own (a big one takes 0.5 s)."""
    if not store_path.exists():  # deleted meanwhile: connecting would create an empty store
        return
    try:
        conn = connect(store_path)
    except Exception:  # noqa: BLE001 - a later sweep drops them
        return
    try:
        for name in leftovers(conn, store_path, token):
            conn.execute(f"DROP TABLE IF EXISTS main.{quote(name)}")
    except (sqlite3.Error, OSError):
        pass  # a later sweep drops them
    finally:
        conn.close()


def sweep_in_background(store_path: Path, token: str | None = None) -> None:
    """``sweep`` in a thread; the process waits for it before it exits (``store.finish_checkpoints``)."""
    thread = threading.Thread(target=sweep, args=(store_path, token), name="sweep-results", daemon=True)
    thread.start()
    background[:] = [*(t for t in background if t.is_alive()), thread]
