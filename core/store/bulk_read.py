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
function of the store's path that returns named tables, or yields several sets
of them one after another (parts: the caller takes the first while the helper
works on the next); it writes them as Arrow IPC files in a folder beside the
store, which this process maps. Helpers also put the machine's second core to
work beside this process.
"""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pyarrow as pa

from core import memory
from core.store.workdirs import WorkFolder

TIMEOUT_SECONDS = 900  # a helper that hangs is stopped and its work done in-process
POLL_SECONDS = 0.01  # how often a caller waiting for a part looks for it


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
                        "-P",  # not the working folder's modules: a `core` package there is not ours
                        "-m",
                        "core.store.bulk_read",
                        task,
                        str(store_path),
                        str(self._folder.path),
                    ],
                    env=_helper_env(),
                    stdin=subprocess.PIPE,
                    stdout=subprocess.DEVNULL,
                    stderr=stderr,
                    text=True,
                )
            with self._process.stdin:
                self._process.stdin.write(json.dumps(params))
        except OSError as error:
            raise BulkReadFailed(str(error)) from error

    def part_folder(self, part: int = 0) -> Path:
        """Where the helper's ``part`` will appear: another helper may map it (see ``shared_part``)."""
        return self._folder.path / f"part-{part}"

    def tables(self, part: int = 0, last: bool = True, seen=None) -> dict[str, pa.Table]:
        """Wait for the helper's ``part``-th set of tables; by name, memory-mapped (the mapping outlives the files).

        The helper is stopped and its folder deleted after the ``last`` part asked for (or a failure).
        ``seen(folder)`` is called once the part is there, while its folder still is.
        """
        done = True
        try:
            folder = self._wait_for(self.part_folder(part))
            if seen is not None:
                seen(folder)
            done = last
            return mapped(folder)
        except (OSError, pa.ArrowException) as error:
            raise BulkReadFailed(str(error)) from error
        finally:
            if done:
                self.close()

    def _wait_for(self, folder: Path) -> Path:
        """``folder`` once the helper has written it whole; BulkReadFailed if it never will."""
        deadline = time.monotonic() + TIMEOUT_SECONDS
        while not folder.exists():
            code = self._process.poll()
            if code is not None and not folder.exists():
                lines = self._errors.read_text().strip().splitlines() if code else []
                raise BulkReadFailed(
                    lines[-1] if lines else f"helper exited with {code} before {folder.name}"
                )
            if time.monotonic() > deadline:
                raise BulkReadFailed(f"helper still running after {TIMEOUT_SECONDS} s")
            time.sleep(POLL_SECONDS)
        return folder

    def frames(self, part: int = 0, last: bool = True, seen=None) -> dict[str, pd.DataFrame]:
        return {name: table.to_pandas() for name, table in self.tables(part, last, seen).items()}

    def close(self) -> None:
        """Stop the helper if it still runs and delete its folder."""
        if self._process.poll() is None:
            self._process.kill()
            self._process.wait()
        self._folder.cleanup()


CODE_ROOT = Path(__file__).resolve().parents[2]  # the folder holding the ``core`` package of this process


def _helper_env() -> dict[str, str]:
    """This process's environment, with its own code first on the helper's import path.

    A helper then runs the same ``core`` as the process that started it, whatever folder the
    user runs Quadrant from and whatever else is installed.
    """
    paths = [str(CODE_ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(paths)}


def mapped(folder: Path) -> dict[str, pa.Table]:
    """A part's tables by name, memory-mapped: nothing is parsed or copied, and the mapping outlives the files."""
    if not folder.is_dir():
        raise FileNotFoundError(folder)
    return {p.stem: pa.ipc.open_file(pa.memory_map(str(p))).read_all() for p in folder.glob("*.arrow")}


def shared_part(folder: Path) -> dict[str, pa.Table] | None:
    """Inside a helper: another helper's part (``Helper.part_folder``), mapped once it appears.

    None when that helper's folder is gone: it failed or was stopped, and the caller reads the
    tables itself. The process that started both keeps the folder until this helper is done.
    """
    while not folder.exists():
        if not folder.parent.exists():
            return None
        time.sleep(POLL_SECONDS)
    return mapped_if_there(folder)


def mapped_if_there(folder: Path) -> dict[str, pa.Table] | None:
    """``mapped(folder)``, or None when the folder is gone or unreadable (the caller reads instead)."""
    try:
        return mapped(folder)
    except (OSError, pa.ArrowException):
        return None


def main() -> None:
    """The helper: run the task named on the command line, write each set of tables it hands over."""
    task, store_path, folder = sys.argv[1:4]
    memory.allow_huge_pages(False)  # for good: see memory.small_pages (7 s of system time at 100k)
    module, function = task.split(":")
    outputs = getattr(importlib.import_module(module), function)(Path(store_path), **json.load(sys.stdin))
    several = not isinstance(outputs, dict)
    for number, tables in enumerate(outputs if several else [outputs]):
        _write_part(Path(folder) / f"part-{number}", tables)
        if several:  # on disk now: the next part is worked out without it in memory
            del tables
            memory.return_free_memory()
    # Every part is on disk. Tearing down the interpreter would hold this helper's tables (350 MB
    # for the book at 100,000 accounts) 0.1-0.3 s longer, beside the recompute's own peak.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def with_large_strings(table: pa.Table) -> pa.Table:
    """``table`` with its text columns as ``large_string``, the layout pandas' str dtype keeps.

    Mapped from a helper's file, such columns become frames without a copy: the book at
    100,000 accounts converts in 0.13 s and 14 MB, against 1.15 s and 147 MB from ``string``
    columns (the ADBC driver's), which pandas casts. Each process mapping the book then
    shares its text in the page cache instead of holding its own copy.
    """
    if not any(pa.types.is_string(field.type) for field in table.schema):
        return table
    return table.cast(
        pa.schema(
            [
                field.with_type(pa.large_string()) if pa.types.is_string(field.type) else field
                for field in table.schema
            ],
            metadata=table.schema.metadata,
        )
    )


def _write_part(folder: Path, tables: dict) -> None:
    """Tables as Arrow IPC files in ``folder``, which appears whole (renamed into place) or not at all."""
    writing = folder.with_name(folder.name + ".writing")
    writing.mkdir()
    for name, table in tables.items():
        if isinstance(table, pd.DataFrame):
            table = pa.Table.from_pandas(table, preserve_index=False)
        table = with_large_strings(table)
        with (
            pa.OSFile(str(writing / f"{name}.arrow"), "wb") as sink,
            pa.ipc.new_file(sink, table.schema) as writer,
        ):
            writer.write_table(table)
    writing.rename(folder)


if __name__ == "__main__":
    main()
