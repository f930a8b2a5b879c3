"""Moving frames in and out of SQLite: typed reads, fast bulk writes.

The only place that converts between pandas values and SQLite values, so
every table round-trips the same way (dates as ISO text, missing as NULL).
"""

from __future__ import annotations

import contextlib
import math
import re
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from core.frames import COLUMNS, DATE_COLUMNS


def read_frame(conn: sqlite3.Connection, sql: str, params: Sequence = ()) -> pd.DataFrame:
    return pd.read_sql_query(sql, conn, params=list(params))


ONE_BATCH = str(10**9)  # ADBC infers each column's type from its first batch: one batch sees every row
_ARROW_TYPES = {"INTEGER": pa.int64(), "REAL": pa.float64(), "TEXT": pa.string()}


def read_arrow(
    path: Path, sql: str, params: Sequence = (), declared: dict[str, str] | None = None
) -> pa.Table:
    """A query's rows as Arrow columns, converted in C by the ADBC SQLite driver.

    Only for a process with no sqlite3 connection to ``path``: the driver's own
    copy of SQLite would drop that connection's locks (see ``core.store.bulk_read``).
    A column whose first batch is all NULL would make the driver guess a type
    that a later value contradicts, so on that error the query runs again as one
    batch. A column that holds no value at all gets its ``declared`` SQL type
    instead of the driver's guess. Read-only, committed data only.
    """
    import adbc_driver_sqlite.dbapi as adbc

    uri = Path(path).resolve().as_uri() + "?mode=ro"

    def fetch(options: dict[str, str]) -> pa.Table:
        with adbc.connect(uri) as conn, conn.cursor() as cursor:
            cursor.adbc_statement.set_options(**options)
            cursor.execute(sql, list(params) or None)
            return cursor.fetch_arrow_table()

    try:
        table = fetch({})
    except (adbc.Error, OSError):  # a type mismatch surfaces from the Arrow reader as OSError
        table = fetch({"adbc.sqlite.query.batch_rows": ONE_BATCH})
    for name, sql_type in (declared or {}).items():
        wanted = _ARROW_TYPES.get(sql_type.upper())
        index = table.schema.get_field_index(name)
        if wanted is not None and index >= 0 and table.column(index).null_count == table.num_rows:
            table = table.set_column(index, name, pa.nulls(table.num_rows, wanted))
    return table


def dates_parsed(table: str, arrow: pa.Table) -> pa.Table:
    """``arrow`` with the table's ISO date text as timestamps, parsed in C (0.5 s less at 100,000 accounts).

    A column Arrow cannot parse whole is left as text for ``typed``, which reads it as pandas does.
    """
    for column in DATE_COLUMNS.get(table, ()):
        index = arrow.schema.get_field_index(column)
        kind = arrow.schema.field(index).type if index >= 0 else None
        if kind is None or not (pa.types.is_string(kind) or pa.types.is_large_string(kind)):
            continue
        try:
            arrow = arrow.set_column(index, column, pc.cast(arrow.column(index), pa.timestamp("us")))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            continue
    return arrow


def typed(table: str, frame: pd.DataFrame) -> pd.DataFrame:
    """Dates to datetime64 and numbers to float, as core/frames.py promises."""
    frame = frame.copy()
    for column in DATE_COLUMNS.get(table, ()):
        if column in frame:
            frame[column] = pd.to_datetime(frame[column], errors="coerce", format="ISO8601")
    numeric = {
        "accounts": ("employees", "employees_prev", "annual_revenue"),
        "products": ("list_price",),
        "subscriptions": ("mrr",),
        "bundles": ("price", "discount_pct"),
        "usage_monthly": ("active_users", "licensed_seats", "logins", "key_events", "seated_users"),
    }
    for column in numeric.get(table, ()):
        if column in frame:
            frame[column] = pd.to_numeric(frame[column], errors="coerce").astype("float64")
    if table == "subscriptions":
        frame["quantity"] = pd.to_numeric(frame["quantity"]).fillna(1).astype("int64")
    if table == "nps":
        frame["score"] = pd.to_numeric(frame["score"]).astype("int64")
    if table in COLUMNS:
        ordered = [c for c in COLUMNS[table] if c in frame]
        frame = frame[ordered + [c for c in frame.columns if c not in ordered]]
    return frame


def _plain(value: object) -> object:
    """One cell as a value sqlite3 accepts: NULL for every kind of missing."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float):
        return None if math.isnan(value) else value
    if isinstance(value, np.generic):
        value = value.item()
        if isinstance(value, float) and math.isnan(value):
            return None
        return value
    if isinstance(value, pd.Timestamp):
        return value.date().isoformat() if value == value.normalize() else value.isoformat()
    if isinstance(value, (list, tuple, set, frozenset)):
        return ";".join(sorted(map(str, value)))
    return value


def _column_values(series: pd.Series) -> list:
    """One column as SQLite-ready Python values, converted a whole column at a time.

    Float NaN is passed through: SQLite stores a NaN it is given as NULL.
    """
    if pd.api.types.is_datetime64_any_dtype(series):
        series = series.dt.strftime("%Y-%m-%d")
    elif pd.api.types.is_bool_dtype(series) and series.dtype != object:
        return (
            series.astype("int64").to_numpy().tolist()
            if not series.isna().any()
            else [None if v is pd.NA else int(v) for v in series.tolist()]
        )
    if series.dtype == object:
        if pd.api.types.infer_dtype(series, skipna=True) in ("string", "empty"):
            return series.where(series.notna(), None).tolist()  # text with gaps: no per-cell work
        return [_plain(v) for v in series.tolist()]
    if pd.api.types.is_float_dtype(series) or pd.api.types.is_integer_dtype(series):
        if isinstance(series.dtype, pd.api.extensions.ExtensionDtype):
            return series.to_numpy(dtype=object, na_value=None).tolist()
        return series.to_numpy().tolist()
    return series.to_numpy(dtype=object, na_value=None).tolist()


_TEXT_SAMPLE = 4096  # rows looked at to tell repeated text from mostly distinct text


def iso_dates(stamps: pa.Array) -> pa.Array:
    """Timestamps as their calendar days' "YYYY-MM-DD" text (the time of day is dropped).

    A cast through date32 is 20 times faster than ``strftime`` (1.5M score components:
    0.03 s against 0.65 s); a zoned timestamp keeps ``strftime``, which reads its local day.
    """
    if getattr(stamps.type, "tz", None):
        return pc.strftime(stamps, "%Y-%m-%d")
    return stamps.cast(pa.date32()).cast(pa.string())


def text_array(series: pd.Series) -> pa.Array:
    """A column of Python strings (or gaps) as Arrow text.

    Sentences repeat: 1.5M score components hold a few thousand distinct reasons. Those are
    encoded once each and spread by code in C, ten times faster than encoding every row
    (1.5M rows: 0.18 s against 1.7-2.8 s). Text that is mostly distinct in its first rows is
    encoded row by row, as hashing it first would cost more.
    """
    head = series.iloc[:_TEXT_SAMPLE]
    if head.nunique(dropna=False) * 2 > len(head):
        return pa.array(series, type=pa.string(), from_pandas=True)
    codes, distinct = pd.factorize(series)
    indices = pa.array(codes, mask=codes < 0)
    return pa.DictionaryArray.from_arrays(indices, pa.array(distinct, type=pa.string())).cast(pa.string())


def arrow_table(frame: pd.DataFrame) -> pa.Table | None:
    """``frame`` as Arrow columns holding the values ``records`` would write, or None.

    None when a column mixes kinds of value (text and numbers) that Arrow cannot hold in one column.
    """
    columns = {}
    for name in frame.columns:
        series = frame[name]
        try:
            if pd.api.types.is_datetime64_any_dtype(series):
                array = iso_dates(pa.array(series, from_pandas=True))
            elif series.dtype != object and (
                pd.api.types.is_float_dtype(series)
                or pd.api.types.is_integer_dtype(series)
                or pd.api.types.is_string_dtype(series)
            ):
                array = pa.array(series, from_pandas=True)
            elif pd.api.types.infer_dtype(series, skipna=True) in ("string", "empty"):
                array = text_array(series)
            else:
                array = pa.array(_column_values(series), from_pandas=True)
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
            return None
        if pa.types.is_large_string(array.type):
            array = array.cast(pa.string())
        columns[str(name)] = array
    return pa.table(columns)


def records(frame: pd.DataFrame) -> Iterable[tuple]:
    """Rows of ``frame`` as tuples of SQLite-ready values."""
    return zip(*(_column_values(frame[name]) for name in frame.columns))


def sqlite_type(series: pd.Series) -> str:
    if pd.api.types.is_bool_dtype(series) or pd.api.types.is_integer_dtype(series):
        return "INTEGER"
    if pd.api.types.is_float_dtype(series):
        return "REAL"
    return "TEXT"


def declared_columns(conn: sqlite3.Connection, table: str, schema: str = "main") -> list[tuple]:
    """Each column's name, declared type, NOT NULL, default and primary-key position, in order."""
    return [tuple(row[1:]) for row in conn.execute(f'PRAGMA "{schema}".table_info("{table}")')]


def table_columns(conn: sqlite3.Connection, table: str) -> list[str]:
    return [column[0] for column in declared_columns(conn, table)]


def ensure_table(conn: sqlite3.Connection, table: str, frame: pd.DataFrame) -> None:
    """Create a result table from a frame's columns, or add the columns it lacks."""
    existing = table_columns(conn, table)
    if not existing:
        conn.execute(f'CREATE TABLE main."{table}" ({column_declarations(frame, frame.columns)})')
        return
    for column in frame.columns:
        if column not in existing:
            conn.execute(f'ALTER TABLE main."{table}" ADD COLUMN {column_declarations(frame, [column])}')


def column_declarations(frame: pd.DataFrame, columns: Sequence) -> str:
    """'"name" TYPE, ...' for ``frame``'s ``columns``, typed as a result table declares them."""
    return ", ".join(f'"{c}" {sqlite_type(frame[c])}' for c in columns)


def replace_rows(
    conn: sqlite3.Connection, table: str, frame: pd.DataFrame, staged: str | None = None
) -> None:
    """Swap a result table's rows for ``frame``'s (inside the caller's transaction).

    ``staged`` names an attached database already holding ``frame``'s rows as a table of the
    same name (see ``core.store.staging``): then one INSERT ... SELECT copies them in C
    (``staged_copy``), and ``frame`` only gives the columns.
    The table's indexes are rebuilt after the insert (1.5M score components at 100k accounts).
    """
    ensure_table(conn, table, frame)
    with indexes_rebuilt(conn, table):
        conn.execute(f'DELETE FROM main."{table}"')
        if staged is None:
            insert(conn, table, frame)
        else:  # ``frame`` may be an empty stand-in (see ``ResultStage.release``)
            conn.execute(staged_copy(conn, table, frame.columns, staged))


def staged_copy(conn: sqlite3.Connection, table: str, columns: Sequence, staged: str) -> str:
    """The INSERT that copies ``table``'s ``columns`` in from the attached database ``staged``.

    ``SELECT *`` with no column list when both tables declare the same columns: SQLite's
    transfer optimisation then moves each record whole, without decoding and encoding every cell.
    """
    if declared_columns(conn, table) == declared_columns(conn, table, staged):
        return f'INSERT INTO main."{table}" SELECT * FROM "{staged}"."{table}"'
    names = ", ".join(f'"{c}"' for c in columns)
    return f'INSERT INTO main."{table}" ({names}) SELECT {names} FROM "{staged}"."{table}"'


def quote(name: str) -> str:
    """``name`` as an SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def _schema(conn: sqlite3.Connection, kind: str, table: str, schema: str = "main") -> list[tuple[str, str]]:
    """(name, CREATE statement) of ``table`` itself or of its own indexes (not primary keys)."""
    return conn.execute(
        f"SELECT name, sql FROM {schema}.sqlite_master WHERE type = ? AND tbl_name = ? AND sql IS NOT NULL",
        [kind, table],
    ).fetchall()


def own_indexes(conn: sqlite3.Connection, table: str, schema: str = "main") -> list[tuple[str, str]]:
    """(name, CREATE statement) of ``table``'s declared indexes (not those of its primary key)."""
    return _schema(conn, "index", table, schema)


def rotate(conn: sqlite3.Connection, table: str, previous: str) -> None:
    """``table``'s rows become ``previous``'s by renaming the table, not copying 1.5M rows.

    Its indexes move with it and need no rebuilding (0.5 s for the components at 100,000
    accounts). ``table`` starts again empty, with its schema and its indexes under the other
    of two names each (the moved ones keep theirs). Inside the caller's transaction.
    """
    table_sql = _schema(conn, "table", table)[0][1]
    indexes = own_indexes(conn, table)
    conn.execute(f'DROP TABLE IF EXISTS main."{previous}"')  # and its indexes
    conn.execute(f'ALTER TABLE main."{table}" RENAME TO "{previous}"')
    conn.execute(table_sql)
    for name, sql in indexes:
        conn.execute(_index_named(sql, name, _other_name(name)))


_ALTERNATE = "__alt"


def _other_name(index: str) -> str:
    """The name an index of a rotated table takes while its twin holds ``index`` (the two alternate)."""
    return index.removesuffix(_ALTERNATE) if index.endswith(_ALTERNATE) else index + _ALTERNATE


def _index_named(sql: str, old: str, new: str) -> str:
    """A CREATE INDEX statement with the index called ``new``."""
    pattern = (
        r"^(\s*CREATE\s+(?:UNIQUE\s+)?INDEX\s+(?:IF\s+NOT\s+EXISTS\s+)?)([\"`\[]?)"
        + re.escape(old)
        + r"[\"`\]]?"
    )
    renamed, count = re.subn(pattern, lambda m: f'{m.group(1)}"{new}"', sql, count=1, flags=re.IGNORECASE)
    if count != 1:
        raise ValueError(f"cannot rename index {old!r} in {sql!r}")
    return renamed


@contextlib.contextmanager
def indexes_rebuilt(conn: sqlite3.Connection, table: str) -> Iterator[None]:
    """Drop ``table``'s own indexes for a bulk write and build them again after it.

    One sorted build is several times cheaper than updating an index row by row.
    Primary keys stay: they are part of the table.
    """
    indexes = own_indexes(conn, table)
    for name, _ in indexes:
        conn.execute(f'DROP INDEX main."{name}"')
    yield
    for _, sql in indexes:
        conn.execute(sql)


def insert(conn: sqlite3.Connection, table: str, frame: pd.DataFrame, conflict: str = "") -> None:
    """Bulk insert; ``conflict`` is an SQL suffix such as an ON CONFLICT clause or '' ."""
    if frame.empty:
        return
    names = ", ".join(f'"{c}"' for c in frame.columns)
    marks = ", ".join("?" for _ in frame.columns)
    conn.executemany(f'INSERT INTO main."{table}" ({names}) VALUES ({marks}) {conflict}', records(frame))


def _upsert_clause(columns: Sequence[str], keys: Sequence[str], updates: Sequence[str] | None = None) -> str:
    updates = [c for c in columns if c not in keys] if updates is None else updates
    key_list = ", ".join(f'"{k}"' for k in keys)
    if updates:
        sets = ", ".join(f'"{c}" = excluded."{c}"' for c in updates)
        return f"ON CONFLICT ({key_list}) DO UPDATE SET {sets}"
    return f"ON CONFLICT ({key_list}) DO NOTHING"


def upsert(
    conn: sqlite3.Connection,
    table: str,
    frame: pd.DataFrame,
    keys: Sequence[str],
    updates: Sequence[str] | None = None,
) -> None:
    """Insert or update by key; a row whose key exists updates ``updates`` (default: all but the keys)."""
    insert(conn, table, frame, _upsert_clause(list(frame.columns), keys, updates))


def upsert_from(
    conn: sqlite3.Connection,
    table: str,
    source: str,
    columns: Sequence[str],
    keys: Sequence[str],
    updates: Sequence[str] | None = None,
    key_order: bool = False,
) -> None:
    """``upsert`` of every row of the table ``source`` (same column names), copied by SQLite itself.

    A row whose key exists updates ``updates`` (default: every column but the keys).
    A key given twice keeps its last row, as ``upsert`` does. ``key_order`` sorts the rows
    by key first: twice as fast into a big table whose keys arrive in random order (a hash).
    """
    names = ", ".join(f'"{c}"' for c in columns)
    order = ", ".join([*(f'"{k}"' for k in keys), "rowid"] if key_order else ["rowid"])
    clause = _upsert_clause(columns, keys, updates)
    with indexes_rebuilt(conn, table):
        conn.execute(
            f'INSERT INTO main."{table}" ({names}) SELECT {names} FROM {source} ORDER BY {order} {clause}'
        )
