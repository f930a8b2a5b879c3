"""Benchmark: demo generation, import, full recompute and each analysis step, at each book size.

    .venv/bin/python bench/bench_pipeline.py [--sizes 1000,10000,100000] [--fresh]

Every phase runs in its own process, so its peak RSS is its own. Each figure
is printed beside a floor measured in the same run on the same data: pyarrow
reading usage.csv (generation), a raw ``executemany`` of the same usage rows
(import), one SQLite scan of the usage table (recompute and the scoring steps)
and one float32 matrix product for the pair counts (the affinity steps).
Generated folders are cached under the temp dir, keyed by size, seed and the
generator's source, so a rerun starts at the import; ``--fresh`` regenerates.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import os
import resource
import shutil
import sqlite3
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import (
    ROOT,
    SUPER_LINEAR,
    Report,
    TreeMemory,
    answer,
    best_of,
    growth_text,
    mb_text,
    python_child,
    ratio_text,
    seconds_text,
    table,
)
from core.store import read_cache  # noqa: E402

SEED = 7
PRODUCTS = 40
AS_OF = date(2026, 11, 1)
PHASE_TIMEOUT = 1800
AFFINITY_STEPS = ("rules", "attach", "sequencing", "roles", "readiness", "suggestions")
CACHE = Path(tempfile.gettempdir()) / "quadrant-bench"


@dataclass
class SizeFigures:
    """Everything measured at one book size; a phase that failed leaves its error instead."""

    accounts: int
    folder: Path
    store: Path
    generate: dict[str, Any] = field(default_factory=dict)
    load: dict[str, Any] = field(default_factory=dict)
    recompute: dict[str, Any] = field(default_factory=dict)
    again: dict[str, Any] = field(default_factory=dict)  # a second recompute: results and to-dos in place
    baselines: dict[str, Any] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    @property
    def usage_rows(self) -> int | None:
        return self.load.get("written", {}).get("usage")

    @property
    def import_rate(self) -> float | None:
        """usage.csv rows per second of the whole import (every file counted in the time)."""
        if not self.usage_rows or not self.load.get("seconds"):
            return None
        return self.usage_rows / self.load["seconds"]

    def baseline_for(self, step: str) -> tuple[str, float | None]:
        if step in AFFINITY_STEPS:
            return "matmul", self.baselines.get("matmul")
        return "scan", self.baselines.get("scan")


# -- the phases, each run in a child process -------------------------------------------------------------


def phase_generate(folder: Path, accounts: int, seed: int) -> dict[str, Any]:
    """Write the demo folder (40 products, 24 months of usage); renamed into place only when complete."""
    from fixtures.demo import generate

    partial = folder.with_name(folder.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    started, cpu = time.perf_counter(), time.process_time()
    plan = generate(partial, accounts=accounts, seed=seed, as_of=AS_OF, products=PRODUCTS)
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    shutil.rmtree(folder, ignore_errors=True)
    partial.rename(folder)
    size = sum(p.stat().st_size for p in folder.iterdir())
    return {
        "seconds": seconds,
        "cpu": cpu,
        "rows": dict(plan.rows),
        "bytes": size,
        "load": os.getloadavg()[0],
    }


def phase_import(folder: Path, db: Path) -> dict[str, Any]:
    """Import the folder into a new store, as `quadrant import` does (without its progress bar)."""
    from core.importer import open_portfolio
    from core.store import Store

    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    store = Store(db)
    started, cpu = time.perf_counter(), time.process_time()
    written = store.import_portfolio(open_portfolio(folder))
    store.close()  # as `quadrant import` ends: once SQLite has copied the import into the store file
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    store.set_setting("as_of", AS_OF.isoformat())
    store.close()
    return {"seconds": seconds, "cpu": cpu, "written": written, "load": os.getloadavg()[0]}


def phase_recompute(db: Path) -> dict[str, Any]:
    """Every analysis, timed per step; on a failure, the steps before it and the error.

    A step runs from the moment the recompute announces it to the moment it announces the next, so the
    steps add up to the whole, helper work between the timed calls included (the report's own
    ``step_seconds``, which leave that out, are kept as ``timed_steps``).
    """
    from core.recompute import recompute
    from core.store import Store

    store = Store(db)
    locked = _lock_timer(store)
    marks: list[tuple[str, float, float]] = []
    cpu = time.process_time()

    def mark(step: str, done: int, total: int) -> None:
        marks.append((step, time.perf_counter(), time.process_time()))

    started = time.perf_counter()
    try:
        report = recompute(store, AS_OF, progress=mark)
        mark("end", 0, 0)
    except Exception as error:  # reported with the partial figures; the benchmark goes on
        mark("end", 0, 0)
        steps = {name: marks[i + 1][1] - at for i, (name, at, _) in enumerate(marks[:-1])}
        failed = marks[-2][0] if len(marks) > 1 else "start"
        return {"error": f"{type(error).__name__}: {error}", "failed_step": failed, "steps": steps}
    finally:
        store.close()  # waits for SQLite to copy the results from the WAL into the store file
    settled = time.perf_counter() - started
    helpers = os.times()  # the helper processes (core.store.bulk_read) are this phase's children
    return {
        "seconds": report.seconds,
        "settled_seconds": settled,
        "cpu": time.process_time() - cpu,
        "helper_cpu": helpers.children_user + helpers.children_system,
        "helper_peak_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
        "steps": {name: marks[i + 1][1] - at for i, (name, at, _) in enumerate(marks[:-1])},
        "cpu_steps": {name: marks[i + 1][2] - used for i, (name, _, used) in enumerate(marks[:-1])},
        "timed_steps": dict(report.step_seconds),
        "lock_seconds": sum(locked),
        "rows": dict(report.rows),
        "load": os.getloadavg()[0],
    }


def _lock_timer(store) -> list[float]:
    """How long each big write holds the store's write lock, commit included (appended per write).

    Another window's to-do change waits that long; the save swaps result tables in (``core.store.swap``).
    """
    held: list[float] = []
    writing = store.bulk_writing

    @contextlib.contextmanager
    def timed():
        with writing() as conn:
            started = time.perf_counter()
            yield conn
        held.append(time.perf_counter() - started)

    store.bulk_writing = timed
    return held


def phase_memory(db: Path) -> dict[str, Any]:
    """A recompute's memory with its helpers at one moment, on a copy of the store: sampling it would slow
    the timed run (see ``TreeMemory``)."""
    from core.recompute import recompute
    from core.store import Store

    store = Store(db)
    try:
        with TreeMemory() as memory:
            recompute(store, AS_OF)
    finally:
        store.close()
    return {"tree_peak_mb": memory.peak_mb, "tree_pss_mb": memory.peak_pss_mb}


def phase_baselines(folder: Path, db: Path, scratch: Path) -> dict[str, Any]:
    """The floors: read usage.csv, scan the usage table, insert the same rows raw, one pair-count product."""
    import numpy as np
    import pandas as pd
    import pyarrow.csv as pa_csv
    from threadpoolctl import threadpool_limits

    figures: dict[str, Any] = {"csv": best_of(lambda: pa_csv.read_csv(folder / "usage.csv"), 2)}
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    figures["scan"] = best_of(lambda: conn.execute("SELECT count(*), sum(key_events) FROM usage").fetchone())
    figures["insert"], figures["insert_rows"] = _raw_insert(conn, scratch / "raw-insert.db")
    owned = pd.read_sql_query(
        "SELECT DISTINCT account_id, product_id FROM subscriptions WHERE status = 'active' AND start_date <= ?",
        conn,
        params=[AS_OF.isoformat()],
    )
    conn.close()
    rows, _ = pd.factorize(owned["account_id"])
    cols, _ = pd.factorize(owned["product_id"])
    matrix = np.zeros((rows.max() + 1 if len(rows) else 0, PRODUCTS), dtype=np.float32)
    matrix[rows, cols] = 1.0
    with threadpool_limits(limits=1, user_api="blas"):  # as the attach matrix runs; threads only contend
        figures["matmul"] = best_of(lambda: matrix.T @ matrix, 5)
    figures["matrix"] = list(matrix.shape)
    figures["new_file"], figures["new_file_again"] = _fresh_writes(scratch / "fresh.bin", FRESH_MB)
    return figures


FRESH_MB = 512


def _fresh_writes(path: Path, megabytes: int) -> tuple[float, float]:
    """Seconds to write a new file of ``megabytes``, then the same again right after deleting it.

    A VM that hands freed memory back to its host (free page reporting) makes the kernel wait
    for the host on each page it takes for the page cache: measured here, up to 7 s per GB
    against 0.2 s for pages it freed a moment ago. Imports and saves write such pages (the
    scratch file, the write-ahead log), so their times vary with this figure.
    """
    block = b"\0" * (1 << 20)
    seconds = []
    for _ in range(2):
        started = time.perf_counter()
        with open(path, "wb") as sink:
            for _ in range(megabytes):
                sink.write(block)
        seconds.append(time.perf_counter() - started)
        path.unlink()
    return seconds[0], seconds[1]


def _raw_insert(source: sqlite3.Connection, target: Path) -> tuple[float, int]:
    """Seconds spent in plain ``executemany`` (one transaction) writing usage and usage_extra again."""
    for suffix in ("", "-wal", "-shm"):
        Path(f"{target}{suffix}").unlink(missing_ok=True)
    out = sqlite3.connect(target, isolation_level=None)
    out.execute("PRAGMA journal_mode = WAL")
    out.execute("PRAGMA synchronous = NORMAL")
    spent, count = 0.0, 0
    tables = [
        t for (t,) in source.execute("SELECT name FROM sqlite_master WHERE name IN ('usage', 'usage_extra')")
    ]
    for name in tables:
        out.execute(source.execute("SELECT sql FROM sqlite_master WHERE name = ?", [name]).fetchone()[0])
    out.execute("BEGIN")
    for name in tables:
        cursor = source.execute(f"SELECT * FROM {name}")
        marks = ",".join("?" * len(cursor.description))
        while chunk := cursor.fetchmany(200_000):
            started = time.perf_counter()
            out.executemany(f"INSERT INTO {name} VALUES ({marks})", chunk)
            spent += time.perf_counter() - started
            count += len(chunk)
    started = time.perf_counter()
    out.execute("COMMIT")
    spent += time.perf_counter() - started
    out.close()
    for suffix in ("", "-wal", "-shm"):
        Path(f"{target}{suffix}").unlink(missing_ok=True)
    return spent, count


# -- the parent: run the phases, cache the folders -------------------------------------------------------


def generator_key() -> str:
    """A short hash of the demo generator's source: a changed generator never reuses an old folder."""
    digest = hashlib.sha256()
    for path in sorted((ROOT / "fixtures").glob("*.py")):
        digest.update(path.read_bytes())
    return digest.hexdigest()[:10]


def cache_dir(accounts: int, seed: int = SEED) -> Path:
    """This size's cache folder; folders left by an older generator for the same size are removed."""
    home = CACHE / f"{accounts}-seed{seed}-p{PRODUCTS}-{AS_OF}-{generator_key()}"
    for stale in CACHE.glob(f"{accounts}-seed{seed}-p{PRODUCTS}-{AS_OF}-*"):
        if stale != home and stale.is_dir():
            shutil.rmtree(stale, ignore_errors=True)
    return home


def _phase(name: str, *args: object) -> Any:
    return python_child(Path(__file__), "--phase", name, *args, timeout=PHASE_TIMEOUT)


def measure(accounts: int, seed: int = SEED, fresh: bool = False, log=None) -> SizeFigures:
    """Generate (or reuse), import, recompute and measure the floors for one book size."""
    import json

    log = log or (lambda text: print(text, file=sys.stderr, flush=True))
    home = cache_dir(accounts, seed)
    home.mkdir(parents=True, exist_ok=True)
    figures = SizeFigures(accounts, folder=home / "portfolio", store=home / "store.db")
    cached = home / "generate.json"
    if fresh or not cached.exists() or not figures.folder.is_dir():
        cached.unlink(missing_ok=True)
        log(f"  {accounts:,} accounts: generating the demo folder…")
        child = _phase("generate", "--accounts", accounts, "--seed", seed, "--folder", figures.folder)
        if not child.ok:
            figures.errors.append(f"demo generation failed: {child.failure()}")
            return figures
        cached.write_text(json.dumps({**child.payload, "peak_mb": child.peak_mb}))
        figures.generate = {**child.payload, "peak_mb": child.peak_mb, "cached": False}
    else:
        figures.generate = {**json.loads(cached.read_text()), "cached": True}

    log(f"  {accounts:,} accounts: importing…")
    child = _phase("import", "--folder", figures.folder, "--db", figures.store)
    if not child.ok:
        figures.errors.append(f"import failed: {child.failure()}")
        return figures
    figures.load = {**child.payload, "peak_mb": child.peak_mb}

    log(f"  {accounts:,} accounts: recomputing on a copy, for its memory…")
    copy = home / "memory-run.db"
    shutil.copyfile(figures.store, copy)
    sampled = _phase("memory", "--db", copy)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{copy}{suffix}").unlink(missing_ok=True)
    shutil.rmtree(read_cache.root(copy), ignore_errors=True)  # what that recompute kept for its copy
    if not sampled.ok:
        figures.errors.append(f"recompute for its memory failed: {sampled.failure()}")

    log(f"  {accounts:,} accounts: recomputing…")
    child = _phase("recompute", "--db", figures.store)
    figures.recompute = {**child.payload, "peak_mb": child.peak_mb, **(sampled.payload if sampled.ok else {})}
    if not child.ok:
        figures.errors.append(f"recompute crashed: {child.failure()}")
    elif "error" in child.payload:
        figures.errors.append(
            f"recompute failed in step {child.payload['failed_step']!r}: {child.payload['error']}"
        )

    if child.ok and "error" not in child.payload:
        log(f"  {accounts:,} accounts: recomputing again, with results and to-dos in place…")
        again = _phase("recompute", "--db", figures.store)
        if again.ok and "error" not in again.payload:
            figures.again = {**again.payload, "peak_mb": again.peak_mb}
        else:
            figures.errors.append(
                f"the second recompute failed: {again.failure() if not again.ok else again.payload['error']}"
            )

    log(f"  {accounts:,} accounts: measuring the baselines…")
    child = _phase("baselines", "--folder", figures.folder, "--db", figures.store, "--scratch", home)
    if child.ok:
        figures.baselines = child.payload
    else:
        figures.errors.append(f"baselines failed: {child.failure()}")
    return figures


# -- printing ---------------------------------------------------------------------------------------------


def _side_row(label: str, wall: str = "", cpu: str = "", peak: str = "") -> list[str]:
    """A row under a figure: some of its columns, no floor."""
    return [label, wall, cpu, peak, "", "", ""]


def _phase_row(label: str, phase: dict[str, Any], floor: str, floor_seconds: float | None) -> list[str]:
    """A phase's row: its wall and CPU time and peak memory, beside its floor and the ratio to it."""
    return [
        label,
        seconds_text(phase["seconds"]),
        seconds_text(phase.get("cpu")),
        mb_text(phase.get("peak_mb")),
        floor,
        seconds_text(floor_seconds),
        ratio_text(phase["seconds"], floor_seconds),
    ]


def print_size(report: Report, f: SizeFigures) -> None:
    """One size: every phase and step with its peak memory, its floor and the ratio."""
    b = f.baselines
    rows: list[list[Any]] = []
    gen = f.generate
    if gen:
        note = " (cached)" if gen.get("cached") else ""
        rows.append(_phase_row("demo generation" + note, gen, "pyarrow reads usage.csv", b.get("csv")))
    if f.load:
        rate = f.import_rate
        label = f"import ({rate:,.0f} usage rows/s)" if rate else "import"
        rows.append(_phase_row(label, f.load, "raw executemany, same rows", b.get("insert")))
    rc = f.recompute
    if rc.get("seconds") is not None:
        rows.append(_phase_row("recompute (all steps)", rc, "SQLite scan of usage", b.get("scan")))
        if rc.get("settled_seconds"):
            rows.append(
                _side_row("  until SQLite copied it into the file", wall=seconds_text(rc["settled_seconds"]))
            )
        if rc.get("helper_peak_mb"):
            rows += [
                _side_row(
                    "  its helper processes (largest)",
                    cpu=seconds_text(rc.get("helper_cpu")),
                    peak=mb_text(rc.get("helper_peak_mb")),
                ),
                _side_row("  it and its helpers at one moment (RSS)*", peak=mb_text(rc.get("tree_peak_mb"))),
                _side_row("  same, shared pages counted once (PSS)*", peak=mb_text(rc.get("tree_pss_mb"))),
            ]
    for step, seconds in rc.get("steps", {}).items():
        name, base = f.baseline_for(step)
        label = "pair-count matmul (1 thread)" if name == "matmul" else "SQLite scan of usage"
        failed = " (FAILED here)" if step == rc.get("failed_step") else ""
        rows.append(
            [
                f"  {step}{failed}",
                seconds_text(seconds),
                seconds_text(rc.get("cpu_steps", {}).get(step)),
                "",
                label,
                seconds_text(base),
                ratio_text(seconds, base),
            ]
        )
        if step == "save" and rc.get("lock_seconds"):
            rows.append(_side_row("    its write lock, held", wall=seconds_text(rc["lock_seconds"])))
    # What a CSM's daily recompute costs: the store already holds results and to-dos, and the book and
    # usage aggregates the first recompute read are kept (core.store.read_cache).
    if f.again.get("seconds") is not None:
        # From this size on, helpers read the store and what they read is kept.
        from core.store.store import BULK_FROM_ACCOUNTS

        rows.append(
            _phase_row(
                "recompute again (results, kept reads)"
                if f.accounts >= BULK_FROM_ACCOUNTS
                else "recompute again (results in place)",
                f.again,
                "SQLite scan of usage",
                b.get("scan"),
            )
        )
        rows.append(_side_row("  its save", wall=seconds_text(f.again.get("steps", {}).get("save"))))
        if f.again.get("lock_seconds"):
            rows.append(_side_row("  its write lock, held", wall=seconds_text(f.again["lock_seconds"])))
    if b.get("new_file") is not None:  # why saves and imports vary here: see _fresh_writes
        rows.append(
            [
                f"writing a new {FRESH_MB} MB file",
                seconds_text(b["new_file"]),
                "",
                "",
                "the same, right after",
                seconds_text(b["new_file_again"]),
                ratio_text(b["new_file"], b["new_file_again"]),
            ]
        )
    title = f"{f.accounts:,} accounts x {PRODUCTS} products, 24 months"
    if f.usage_rows:
        title += f" ({f.usage_rows:,} usage rows)"
    loads = [
        p["load"]
        for p in (f.generate, f.load, f.recompute)
        if p.get("load") is not None and not p.get("cached")
    ]
    if loads:
        title += f"; load average {min(loads):.1f}-{max(loads):.1f} on {os.cpu_count()} CPUs"
    headers = ["figure", "wall", "CPU", "peak RSS", "floor (baseline)", "floor wall", "ratio"]
    report.print(table(title, headers, rows))
    if rc.get("helper_peak_mb") and rc.get("tree_pss_mb"):
        report.print(
            "  * from a second recompute, on a copy of the store: sampling every 50 ms slows a recompute, "
            "so the timed one is not sampled."
        )
    for error in f.errors:
        report.print(f"  [bold red]problem:[/] {error}")


def growth_rows(sizes: list[SizeFigures]) -> list[list[Any]]:
    """Each figure at every size, then the growth factor from each size to the next."""
    names: list[tuple[str, Any]] = [
        ("demo generation", lambda f: f.generate.get("seconds")),
        ("import", lambda f: f.load.get("seconds")),
        ("recompute", lambda f: f.recompute.get("seconds")),
    ]
    steps: list[str] = []
    for f in sizes:
        steps += [s for s in f.recompute.get("steps", {}) if s not in steps]
    names += [(f"  {s}", lambda f, s=s: f.recompute.get("steps", {}).get(s)) for s in steps]
    names += [
        ("floor: usage scan", lambda f: f.baselines.get("scan")),
        ("floor: raw insert", lambda f: f.baselines.get("insert")),
        ("floor: pair matmul", lambda f: f.baselines.get("matmul")),
    ]
    rows = []
    for label, get in names:
        values = [get(f) for f in sizes]
        growth = [growth_text(a, b) for a, b in zip(values, values[1:], strict=False)]
        rows.append([label, *(seconds_text(v) for v in values), *growth])
    memory = [
        ("peak RSS: generation", lambda f: f.generate.get("peak_mb")),
        ("peak RSS: import", lambda f: f.load.get("peak_mb")),
        ("peak RSS: recompute", lambda f: f.recompute.get("peak_mb")),
    ]
    for label, get in memory:
        values = [get(f) for f in sizes]
        growth = [growth_text(a, b) for a, b in zip(values, values[1:], strict=False)]
        rows.append([label, *(mb_text(v) for v in values), *growth])
    return rows


def print_growth(report: Report, sizes: list[SizeFigures]) -> None:
    if len(sizes) < 2:
        return
    headers = ["figure", *(f"{f.accounts:,}" for f in sizes)]
    headers += [f"{a.accounts:,}→{b.accounts:,}" for a, b in zip(sizes, sizes[1:], strict=False)]
    report.print(table("How cost grows with the book", headers, growth_rows(sizes)))
    report.print(
        f"  Growth factor from each size to the next (wall time); more than x{SUPER_LINEAR:.0f} for ten times the "
        "accounts is flagged super-linear. Small books are dominated by fixed costs."
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000,100000", help="comma-separated account counts")
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--fresh", action="store_true", help="regenerate cached demo folders")
    parser.add_argument(
        "--phase", choices=("generate", "import", "recompute", "memory", "baselines"), help=argparse.SUPPRESS
    )
    parser.add_argument("--accounts", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--folder", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--db", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--scratch", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase == "generate":
        answer(phase_generate(args.folder, args.accounts, args.seed))
    elif args.phase == "import":
        answer(phase_import(args.folder, args.db))
    elif args.phase == "recompute":
        answer(phase_recompute(args.db))
    elif args.phase == "memory":
        answer(phase_memory(args.db))
    elif args.phase == "baselines":
        answer(phase_baselines(args.folder, args.db, args.scratch))
    else:
        report = Report()
        sizes = [measure(int(n), args.seed, args.fresh) for n in args.sizes.split(",")]
        for figures in sizes:
            print_size(report, figures)
        print_growth(report, sizes)


if __name__ == "__main__":
    main()
