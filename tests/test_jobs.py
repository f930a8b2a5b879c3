"""Memory handed back: freed pages leave the process, and the recompute does it before its save."""

from __future__ import annotations

import ctypes
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from core import jobs


def resident_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS line")


@pytest.mark.skipif(
    sys.platform != "linux"
    or not hasattr(ctypes.CDLL(None), "malloc_trim")
    or not Path("/proc/self/status").exists(),
    reason="needs glibc's malloc_trim and /proc",
)
def test_freed_memory_held_below_a_live_block_leaves_the_process() -> None:
    """glibc keeps freed blocks under a live one; only a trim hands those pages back."""
    blocks = [bytearray(100_000) for _ in range(2_000)]  # 200 MB in small blocks, each touched (zeroed)
    pin = bytearray(100_000)  # allocated after them, it stops free() from shrinking the heap itself
    del blocks
    before = resident_mb()
    jobs.return_free_memory()
    after = resident_mb()
    assert before - after > 100, (before, after)
    assert len(pin) == 100_000


def test_handing_memory_back_starts_no_process(monkeypatch: pytest.MonkeyPatch) -> None:
    """Finding libc by name runs ldconfig: a fork of the whole recompute, 1.6 GB at 100,000 accounts."""
    started: list = []
    popen = subprocess.Popen

    def spy(*args, **kwargs):
        started.append(args)
        return popen(*args, **kwargs)

    monkeypatch.setattr(subprocess, "Popen", spy)
    jobs.return_free_memory()
    assert started == []


def test_the_recompute_hands_memory_back_before_its_save(
    tmp_path: Path, demo_store_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import shutil

    from core.recompute import recompute
    from core.store import Store

    calls: list[str] = []
    trim, write = jobs.return_free_memory, Store.write_results

    def trimming() -> None:
        calls.append("trim")
        trim()

    def writing(self, *args, **kwargs):
        calls.append("save")
        return write(self, *args, **kwargs)

    monkeypatch.setattr(jobs, "return_free_memory", trimming)
    monkeypatch.setattr(Store, "write_results", writing)
    shutil.copy(demo_store_file, tmp_path / "q.db")
    store = Store(tmp_path / "q.db")
    recompute(store, date(2026, 11, 1))
    store.close()
    assert calls == ["trim", "save"]
