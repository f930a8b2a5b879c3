"""Quadrant's benchmark: every figure, each beside a baseline measured in the same run.

    .venv/bin/python bench/run.py [--sizes 1000,10000,100000] [--quick] [--fresh]

Prints, and saves to bench/results/latest.txt: demo generation, import, full
recompute and each analysis step with peak memory at each book size (40
products, 24 months of usage); how each figure grows with the book; the
targets with PASS/MISS; then the affinity, scoring and app benchmarks
(bench/bench_affinity.py, bench_scoring.py, bench_app.py), each run in its
own process. ``--quick`` stops at 10,000 accounts. Demo folders are cached in
the temp dir; ``--fresh`` regenerates them. A full run takes tens of minutes.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.bench_pipeline import SEED, SizeFigures, measure, print_growth, print_size  # noqa: E402
from bench.common import ROOT, Report, mb_text, python_child, seconds_text, table, verdict  # noqa: E402

BENCH = ROOT / "bench"
RESULTS = BENCH / "results" / "latest.txt"
TARGET_SIZE = 100_000
SCRIPT_TIMEOUT = 1800


@dataclass(frozen=True)
class Target:
    """A promise from the issues, checked on the 100,000-account figures."""

    name: str
    limit: str
    value: str
    cpu: str
    met: bool | None


def targets(sizes: list[SizeFigures]) -> list[Target]:
    """The pipeline targets, judged on wall time at 100,000 accounts (n/a when that size did not run).

    The CPU column shows the same work in CPU seconds: far below the wall time means the machine was busy.
    """
    big = next((f for f in sizes if f.accounts == TARGET_SIZE), None)

    def get(phase: str, key: str) -> float | None:
        return getattr(big, phase).get(key) if big else None

    def add(a: float | None, b: float | None) -> float | None:
        return None if a is None or b is None else a + b

    def check(value: float | None, ok) -> bool | None:
        return None if value is None else ok(value)

    both, both_cpu = (
        add(get("load", "seconds"), get("recompute", "seconds")),
        add(get("load", "cpu"), get("recompute", "cpu")),
    )
    # The recompute and its helper processes at one moment, each page once: they map the same book files.
    together = get("recompute", "tree_pss_mb") or get("recompute", "tree_peak_mb")
    peaks = [get("load", "peak_mb"), max(get("recompute", "peak_mb") or 0.0, together or 0.0) or None]
    peak = None if None in peaks else max(peaks)
    rows = big.usage_rows if big else None
    rate = big.import_rate if big else None
    cpu_rate = rows / get("load", "cpu") if rows and get("load", "cpu") else None
    rc, gen = get("recompute", "seconds"), get("generate", "seconds")
    return [
        Target(
            "import + recompute, end to end",
            "< 60 s",
            seconds_text(both),
            seconds_text(both_cpu),
            check(both, lambda v: v < 60),
        ),
        Target(
            "import + recompute, peak memory (with helpers, PSS)",
            "< 2,048 MB",
            mb_text(peak),
            "",
            check(peak, lambda v: v < 2048),
        ),
        Target(
            "recompute alone",
            "< 10 s",
            seconds_text(rc),
            seconds_text(get("recompute", "cpu")),
            check(rc, lambda v: v < 10),
        ),
        Target(
            "import speed",
            ">= 250,000 usage rows/s",
            "—" if rate is None else f"{rate:,.0f} rows/s",
            "—" if cpu_rate is None else f"{cpu_rate:,.0f} rows/s",
            check(rate, lambda v: v >= 250_000),
        ),
        Target(
            "demo generation",
            "< 60 s",
            seconds_text(gen),
            seconds_text(get("generate", "cpu")),
            check(gen, lambda v: v < 60),
        ),
    ]


def print_targets(report: Report, sizes: list[SizeFigures]) -> None:
    rows = [[t.name, t.limit, t.value, t.cpu, verdict(t.met)] for t in targets(sizes)]
    title = f"Targets at {TARGET_SIZE:,} accounts x 40 products (judged on wall time)"
    report.print(
        table(title, ["target", "limit", "measured (wall)", "on CPU time", "verdict"], rows, numeric_from=2)
    )
    if not any(f.accounts == TARGET_SIZE for f in sizes):
        report.print(f"  (n/a: {TARGET_SIZE:,} accounts was not in this run; run without --quick)")
    else:
        report.print(
            "  Import and recompute run in separate processes; one `quadrant import` process peaks at least"
            " at the larger of the two."
        )


def run_script(report: Report, name: str, choose_args) -> None:
    """Run another benchmark script in its own process and print its output, or say why it could not run."""
    path = BENCH / name
    report.heading(f"{name}")
    if not path.exists():
        report.print(f"[yellow]{name} is not there yet: its figures are missing from this run.[/]")
        return
    usage = python_child(path, "--help", timeout=300)
    if not usage.ok:
        report.print(f"[bold red]{name} is broken:[/] `--help` failed: {usage.failure()}")
        return
    args = choose_args(usage.stdout)
    print(f"running {name} {' '.join(map(str, args))}…", file=sys.stderr, flush=True)
    child = python_child(path, *args, timeout=SCRIPT_TIMEOUT)
    report.raw(
        f"$ bench/{name} {' '.join(map(str, args))}   ({seconds_text(child.seconds)} wall, "
        f"peak RSS {mb_text(child.peak_mb)})"
    )
    report.raw(child.stdout)
    if not child.ok:
        report.print(f"[bold red]{name} failed:[/] {child.failure()}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000,100000", help="comma-separated account counts")
    parser.add_argument("--quick", action="store_true", help="1,000 and 10,000 accounts only")
    parser.add_argument("--fresh", action="store_true", help="regenerate the cached demo folders")
    parser.add_argument("--seed", type=int, default=SEED)
    args = parser.parse_args()
    try:
        sizes = [1_000, 10_000] if args.quick else sorted({int(n) for n in args.sizes.split(",")})
    except ValueError:
        parser.error(f"--sizes expects comma-separated whole numbers, got {args.sizes!r}")
    if not sizes or min(sizes) < 1:
        parser.error("--sizes needs at least one positive account count")

    started = time.perf_counter()
    report = Report()
    report.print(
        f"Quadrant benchmark, {time.strftime('%Y-%m-%d %H:%M')}: {os.cpu_count()} CPUs, load average "
        f"{os.getloadavg()[0]:.1f} at start, Python {platform.python_version()}, sizes "
        f"{', '.join(f'{n:,}' for n in sizes)} accounts (seed {args.seed})"
    )
    report.heading("Pipeline: demo generation, import, recompute (each phase in its own process)")
    figures = []
    for n in sizes:
        figures.append(measure(n, args.seed, args.fresh))
        print_size(report, figures[-1])
    print_growth(report, figures)
    report.print()
    print_targets(report, figures)

    largest = max(sizes)
    affinity_sizes = [n for n in sizes if n >= 10_000] or [largest]
    run_script(
        report,
        "bench_affinity.py",
        lambda usage: ["--sizes", *affinity_sizes] if "--sizes" in usage else [],
    )
    run_script(
        report,
        "bench_scoring.py",
        lambda usage: [
            *(["--accounts", largest] if "--accounts" in usage else []),
            *(["--skip-pandas"] if args.quick and "--skip-pandas" in usage else []),
        ],
    )
    big = figures[-1]
    usable = big.store.exists() and not big.errors
    run_script(
        report,
        "bench_app.py",
        lambda usage: (
            ["--db", big.store]
            if usable and "--db" in usage
            else (["--accounts", largest] if "--accounts" in usage else [])
        ),
    )

    report.heading("Run")
    report.print(
        f"Whole run {seconds_text(time.perf_counter() - started)}; load average {os.getloadavg()[0]:.1f} at the end. "
        "Ratios compare each figure with its floor measured in the same run, so they travel between machines "
        "better than the seconds do."
    )
    report.save(RESULTS)
    print(f"saved to {RESULTS.relative_to(ROOT)}", file=sys.stderr)


if __name__ == "__main__":
    main()
