"""Big reads of the store in helper processes, as Arrow columns.

The ADBC driver turns SQLite rows into Arrow columns in C, about 3x faster than
sqlite3's row tuples (5M usage rows: 2.4 s against 6.3 s). But it links its
own copy of SQLite, and two copies of SQLite must never have one file open in
the same process: POSIX locks belong to the process, so when one copy closes
its descriptor the other copy's locks are silently gone, and a writer in
another process can then change pages under a reader (SQLite's "How To Corrupt
An SQLite Database File", 2.2.1). Tried in-process, the two-process test saw
"database disk image is malformed". So the driver runs in spawned processes of
its own; each writes its result as an Arrow IPC file in a folder beside the
store, which this process reads back. Two helpers run side by side on two
cores while this process waits.
"""

from __future__ import annotations

import multiprocessing
import tempfile
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

import pyarrow as pa

HELPERS = 2

Query = tuple[str, dict[str, str] | None]  # SQL, and the declared types of the table it reads


class BulkReadFailed(Exception):
    """The helper processes could not read; the caller reads in-process instead."""


def read_tables(store_path: Path, queries: dict[str, Query]) -> dict[str, pa.Table]:
    """Run each named query in a helper process; its rows as an Arrow table by name."""
    try:
        with tempfile.TemporaryDirectory(prefix=f".{store_path.name}.read-", dir=store_path.parent) as folder:
            context = multiprocessing.get_context("spawn")  # a fresh process: no sqlite3 handle of ours
            with ProcessPoolExecutor(min(HELPERS, len(queries)), mp_context=context) as pool:
                outputs = {name: str(Path(folder) / f"{index}.arrow") for index, name in enumerate(queries)}
                running = [
                    pool.submit(read_into, str(store_path), sql, declared, outputs[name])
                    for name, (sql, declared) in queries.items()
                ]
                for future in running:
                    future.result()
            return {name: _load(path) for name, path in outputs.items()}
    except (OSError, BrokenProcessPool, pa.ArrowException) as error:
        raise BulkReadFailed(str(error)) from error


def _load(path: str) -> pa.Table:
    with pa.OSFile(path) as source:
        return pa.ipc.open_file(source).read_all()


def read_into(store_path: str, sql: str, declared: dict[str, str] | None, output: str) -> None:
    """In the helper process: read with ADBC and write the rows as an Arrow IPC file."""
    import adbc_driver_sqlite.dbapi as adbc

    from core.store.frames_io import read_arrow

    try:
        table = read_arrow(Path(store_path), sql, (), declared)
    except adbc.Error as error:  # not picklable as is: the caller only needs to know it failed
        raise OSError(f"ADBC read failed: {error}") from None
    with pa.OSFile(output, "wb") as sink, pa.ipc.new_file(sink, table.schema) as writer:
        writer.write_table(table)
