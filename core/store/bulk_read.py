"""Big reads of the store in helper processes, as Arrow columns.

The ADBC driver turns SQLite rows into Arrow columns in C, about 3x faster than
sqlite3's row tuples (5M usage rows: 2.4 s against 6.3 s). But it links its
own copy of SQLite, and two copies of SQLite must never have one file open in
the same process: POSIX locks belong to the process, so when one copy closes
its descriptor the other copy's locks are silently gone, and a writer in
another process can then change pages under a reader (SQLite's "How To Corrupt
An SQLite Database File", 2.2.1). Tried in-process, the two-process test saw
"database disk image is malformed". So the driver runs in helper processes
(``python -m core.store.bulk_read``); each writes its results as Arrow IPC
files in a folder beside the store, which this process reads back. The
helpers run side by side on two cores while this process waits.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

import pyarrow as pa

Query = tuple[str, dict[str, str] | None]  # SQL, and the declared types of the table it reads


class BulkReadFailed(Exception):
    """The helper processes could not read; the caller reads in-process instead."""


def read_tables(store_path: Path, helpers: list[dict[str, Query]]) -> dict[str, pa.Table]:
    """Run each helper's named queries in a process of its own; every query's rows by name."""
    helpers = [queries for queries in helpers if queries]
    try:
        with tempfile.TemporaryDirectory(prefix=f".{store_path.name}.read-", dir=store_path.parent) as folder:
            outputs: dict[str, str] = {}
            running = []
            for index, queries in enumerate(helpers):
                jobs = {}
                for name, (sql, declared) in queries.items():
                    outputs[name] = str(Path(folder) / f"{len(outputs)}.arrow")
                    jobs[name] = [sql, declared, outputs[name]]
                errors = Path(folder) / f"helper-{index}.err"
                with open(errors, "w") as stderr:
                    process = subprocess.Popen(
                        [sys.executable, "-m", "core.store.bulk_read", str(store_path)],
                        stdin=subprocess.PIPE,
                        stdout=subprocess.DEVNULL,
                        stderr=stderr,
                        text=True,
                    )
                with process.stdin:
                    process.stdin.write(json.dumps(jobs))
                running.append((process, errors))
            for process, errors in running:
                if process.wait() != 0:
                    lines = errors.read_text().strip().splitlines()
                    raise BulkReadFailed(lines[-1] if lines else f"helper exited with {process.returncode}")
            return {name: _load(path) for name, path in outputs.items()}
    except (OSError, pa.ArrowException) as error:
        raise BulkReadFailed(str(error)) from error


def _load(path: str) -> pa.Table:
    with pa.OSFile(path) as source:
        return pa.ipc.open_file(source).read_all()


def main() -> None:
    """The helper: read the jobs on stdin ({name: [sql, declared, output]}) with ADBC, write Arrow files."""
    from core.store.frames_io import read_arrow

    store_path = Path(sys.argv[1])
    for sql, declared, output in json.load(sys.stdin).values():
        table = read_arrow(store_path, sql, (), declared)
        with pa.OSFile(output, "wb") as sink, pa.ipc.new_file(sink, table.schema) as writer:
            writer.write_table(table)


if __name__ == "__main__":
    main()
