"""What every benchmark needs: a phase in a child process with its peak memory, timing, and tables.

This machine is small and shared, so a figure alone says little: each one is
printed beside a baseline measured in the same run, and each phase runs in its
own process so its peak resident memory is its own.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

ROOT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
SUPER_LINEAR = 15.0
"""A step whose time grows more than this when the book grows tenfold is flagged."""


@dataclass
class ChildResult:
    """A finished child process: exit status, wall time, peak RSS, its output and its JSON answer."""

    argv: list[str]
    returncode: int
    seconds: float
    peak_mb: float
    stdout: str
    stderr: str
    payload: dict[str, Any] = field(default_factory=dict)
    timed_out: bool = False

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not self.timed_out

    def failure(self) -> str:
        """One line saying why the child failed: its last stderr line, a timeout or a signal."""
        if self.timed_out:
            return f"timed out after {self.seconds:.0f} s"
        if self.returncode < 0:
            return f"killed by signal {signal.Signals(-self.returncode).name}"
        lines = [line for line in self.stderr.strip().splitlines() if line.strip()]
        return lines[-1] if lines else f"exit status {self.returncode}"


def run_child(
    argv: Sequence[str], timeout: float | None = None, env: dict[str, str] | None = None
) -> ChildResult:
    """Run ``argv`` to the end and return its output and *its own* peak RSS (``os.wait4``).

    ``RUSAGE_CHILDREN`` keeps the maximum over every child ever waited for, so a small phase after a
    big one would inherit the big one's figure; ``wait4`` reports the one process. The child may
    write a JSON answer to the path in ``$BENCH_RESULT``; it lands in ``payload``.
    """
    with tempfile.TemporaryDirectory(prefix="bench-child-") as scratch:
        result_path = Path(scratch) / "result.json"
        out_path, err_path = Path(scratch) / "stdout", Path(scratch) / "stderr"
        child_env = {**os.environ, **(env or {}), "BENCH_RESULT": str(result_path)}
        child_env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), child_env.get("PYTHONPATH")]))
        started = time.perf_counter()
        with open(out_path, "wb") as out, open(err_path, "wb") as err:
            proc = subprocess.Popen(list(argv), stdout=out, stderr=err, env=child_env, cwd=ROOT)
            status, usage, timed_out = _wait(proc, timeout)
        seconds = time.perf_counter() - started
        payload = json.loads(result_path.read_text()) if result_path.exists() else {}
        return ChildResult(
            argv=list(argv),
            returncode=os.waitstatus_to_exitcode(status),
            seconds=seconds,
            peak_mb=usage.ru_maxrss / 1024,
            stdout=out_path.read_text(errors="replace"),
            stderr=err_path.read_text(errors="replace"),
            payload=payload,
            timed_out=timed_out,
        )


def _wait(proc: subprocess.Popen, timeout: float | None) -> tuple[int, Any, bool]:
    deadline = None if timeout is None else time.monotonic() + timeout
    timed_out = False
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            proc.returncode = os.waitstatus_to_exitcode(status)
            return status, usage, timed_out
        if deadline is not None and time.monotonic() > deadline and not timed_out:
            proc.kill()
            timed_out = True
        time.sleep(0.02)


def python_child(script: Path | str, *args: object, timeout: float | None = None) -> ChildResult:
    """Run a Python script of this repository in a child process (see :func:`run_child`)."""
    return run_child([PYTHON, str(script), *map(str, args)], timeout=timeout)


def answer(payload: dict[str, Any]) -> None:
    """In a child: hand ``payload`` back to the parent (a no-op when run by hand)."""
    target = os.environ.get("BENCH_RESULT")
    if target:
        Path(target).write_text(json.dumps(payload, default=str))


def best_of(fn: Callable[[], Any], repeat: int = 3) -> float:
    """The fastest of ``repeat`` runs of ``fn``, in seconds: the least disturbed by other work."""
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return min(times)


def peak_mb_self() -> float:
    """This process's peak RSS so far, in MB."""
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class TreeMemory:
    """The most memory this process and its children held at one moment, sampled every 50 ms.

    Helper processes run beside the main one, so the peak that matters is their sum at one time,
    which neither process's own peak shows. Two sums: RSS, which counts a file that several of them
    map (the book the helpers hand over) once per process, and PSS, which shares such pages out
    among the processes mapping them, so the tree's PSS is the memory it really holds. Linux only
    (reads /proc; PSS from ``smaps_rollup``, Linux 4.14+, else it stays at the RSS).

    Reading ``smaps_rollup`` walks a process's page tables: 7.8 ms for 1.5 GB of small pages,
    so sampling four processes takes about half a core. Time a run without it.
    """

    def __init__(self) -> None:
        import threading

        self.peak_mb = 0.0
        self.peak_pss_mb = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def __enter__(self) -> TreeMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _sample(self) -> None:
        while not self._stop.wait(0.05):
            rss = {pid: _memory_mb(pid, "VmRSS", "status") for pid in [os.getpid(), *_children(os.getpid())]}
            pss = sum(_memory_mb(pid, "Pss", "smaps_rollup") or mb for pid, mb in rss.items())
            self.peak_mb = max(self.peak_mb, sum(rss.values()))
            self.peak_pss_mb = max(self.peak_pss_mb, pss)


def _memory_mb(pid: int, field: str, source: str) -> float:
    """``field`` (in kB) of ``/proc/pid/source``, in MB; 0 when the process or the field is gone."""
    try:
        with open(f"/proc/{pid}/{source}") as lines:
            for line in lines:
                if line.startswith(f"{field}:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _children(root: int) -> list[int]:
    """The processes whose parent is ``root``."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    parent = int(stat.read().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            if parent == root:
                found.append(int(entry))
    return found


# -- formatting ------------------------------------------------------------------------------------------


def seconds_text(value: float | None) -> str:
    if value is None:
        return "—"
    if value < 0.01:
        return f"{value * 1000:.2f} ms"
    if value < 1:
        return f"{value * 1000:.0f} ms"
    return f"{value:.2f} s"


def ratio_text(value: float | None, base: float | None) -> str:
    """``value / base`` as "12.3x", or "—" when either is missing."""
    if value is None or not base:
        return "—"
    times = value / base
    return f"{times:,.0f}x" if times >= 100 else f"{times:.1f}x"


def mb_text(value: float | None) -> str:
    return "—" if value is None else f"{value:,.0f} MB"


def verdict(met: bool | None) -> Text:
    if met is None:
        return Text("n/a", style="dim")
    return Text("PASS", style="bold green") if met else Text("MISS", style="bold red")


def growth_text(small: float | None, large: float | None) -> Text:
    """The growth factor from one size to the next, flagged when it is super-linear for x10 accounts."""
    if small is None or large is None or small <= 0:
        return Text("—")
    factor = large / small
    text = f"x{factor:.1f}"
    if factor > SUPER_LINEAR:
        return Text(text + " super-linear", style="bold red")
    return Text(text)


def table(title: str, headers: Sequence[str], rows: Iterable[Sequence[Any]], numeric_from: int = 1) -> Table:
    """A plain Rich table; columns from ``numeric_from`` on are right-aligned."""
    grid = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False)
    for i, header in enumerate(headers):
        grid.add_column(header, justify="right" if i >= numeric_from else "left", no_wrap=True)
    for row in rows:
        grid.add_row(*(cell if isinstance(cell, Text) else Text(str(cell)) for cell in row))
    return grid


class Report:
    """Everything printed, also kept so it can be saved as plain text."""

    def __init__(self, width: int = 128) -> None:
        self.console = Console(record=True, width=width, highlight=False, soft_wrap=True)

    def print(self, *items: Any) -> None:
        self.console.print(*items)

    def heading(self, text: str) -> None:
        self.console.print()
        self.console.rule(Text(text, style="bold"), align="left")

    def raw(self, text: str) -> None:
        """Another script's output, verbatim (never parsed as markup)."""
        self.console.print(Text(text.rstrip("\n")), soft_wrap=True)

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(self.console.export_text(styles=False))
