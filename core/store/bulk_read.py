"""Big reads of the store, and work built on them, in helper processes.

The ADBC driver turns SQLite rows into Arrow columns in C, about 3x faster than
sqlite3's row tuples (5M usage rows: 2.4 s against 6.3 s). But it links its
own copy of SQLite, and two copies of SQLite must never have one file open in
the same process: POSIX locks belong to the process, so when one copy closes
its descriptor the other copy's locks are silently gone, and a writer in
another process can then change pages under a reader (SQLite's "How To Corrupt
An SQLite Database File", 2.2.1). Tried in-process, the two-process test saw
"database disk image is malformed". So the driver runs only in helper
processes (``python -m core.store.bulk_read``). A helper runs one task, a
function of the store's path that returns named tables; it writes them as
Arrow IPC files in a folder beside the store, which this process maps. Helpers
also put the machine's second core to work beside this process.
"""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pyarrow as pa

from core.store.workdirs import WorkFolder

TIMEOUT_SECONDS = 900  # a helper that hangs is stopped and its work done in-process


class BulkReadFailed(Exception):
    """A helper could not do its task; the caller does the work in-process instead."""


class Helper:
    """One helper process running ``task`` ("module:function") with keyword ``params`` on the store."""

    def __init__(self, store_path: Path, task: str, params: dict) -> None:
        try:
            self._folder = WorkFolder(store_path, "read")
            self._errors = self._folder.path / "helper.err"
            with open(self._errors, "w") as stderr:
                self._process = subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "core.store.bulk_read",
                        task,
                        str(store_path),
                        str(self._folder.path),
                    ],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.DEVNULL,
                    stderr=stderr,
                    text=True,
                )
            with self._process.stdin:
                self._process.stdin.write(json.dumps(params))
        except OSError as error:
            raise BulkReadFailed(str(error)) from error

    def tables(self) -> dict[str, pa.Table]:
        """Wait for the helper; its tables by name (memory-mapped: the mapping outlives the files)."""
        try:
            if self._process.wait(timeout=TIMEOUT_SECONDS) != 0:
                lines = self._errors.read_text().strip().splitlines()
                raise BulkReadFailed(lines[-1] if lines else f"helper exited with {self._process.returncode}")
            folder = self._folder.path
            return {
                p.stem: pa.ipc.open_file(pa.memory_map(str(p))).read_all() for p in folder.glob("*.arrow")
            }
        except (OSError, pa.ArrowException, subprocess.TimeoutExpired) as error:
            raise BulkReadFailed(str(error)) from error
        finally:
            self.close()

    def frames(self) -> dict[str, pd.DataFrame]:
        return {name: table.to_pandas() for name, table in self.tables().items()}

    def close(self) -> None:
        """Stop the helper if it still runs and delete its folder."""
        if self._process.poll() is None:
            self._process.kill()
            self._process.wait()
        self._folder.cleanup()


def main() -> None:
    """The helper: run the task named on the command line, write each table it returns."""
    task, store_path, folder = sys.argv[1:4]
    module, function = task.split(":")
    outputs = getattr(importlib.import_module(module), function)(Path(store_path), **json.load(sys.stdin))
    for name, table in outputs.items():
        if isinstance(table, pd.DataFrame):
            table = pa.Table.from_pandas(table, preserve_index=False)
        with (
            pa.OSFile(str(Path(folder) / f"{name}.arrow"), "wb") as sink,
            pa.ipc.new_file(sink, table.schema) as writer,
        ):
            writer.write_table(table)


if __name__ == "__main__":
    main()
