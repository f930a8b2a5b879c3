"""How the big jobs use memory: small pages while they run, and freed pages handed back before the save."""

from __future__ import annotations

import ctypes
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from core import memory


def proc_mb(file: str, field: str) -> float:
    for line in Path("/proc/self", file).read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    raise AssertionError(f"no {field} line in {file}")


def resident_mb() -> float:
    return proc_mb("status", "VmRSS")


def huge_pages_off() -> bool:
    """Read straight from the kernel (PR_GET_THP_DISABLE), not through the module under test."""
    return ctypes.CDLL(None).prctl(42, 0, 0, 0, 0) == 1


needs_prctl = pytest.mark.skipif(
    sys.platform != "linux" or ctypes.CDLL(None).prctl(42, 0, 0, 0, 0) < 0,
    reason="needs Linux's PR_GET_THP_DISABLE",
)


@needs_prctl
def test_small_pages_turn_huge_pages_off_and_bring_back_the_setting() -> None:
    assert not huge_pages_off()
    with memory.small_pages():
        assert huge_pages_off()
        with memory.small_pages():  # nested: leaving the inner job keeps the outer one on small pages
            assert huge_pages_off()
        assert huge_pages_off()
    assert not huge_pages_off()


@needs_prctl
def test_a_process_already_on_small_pages_stays_on_them() -> None:
    memory.allow_huge_pages(False)
    try:
        with memory.small_pages():
            pass
        assert huge_pages_off()
    finally:
        memory.allow_huge_pages(True)
    assert not huge_pages_off()


@needs_prctl
def test_a_big_array_built_under_small_pages_takes_no_huge_pages() -> None:
    import numpy as np

    def huge_mb_for_new_array() -> float:
        before = proc_mb("smaps_rollup", "AnonHugePages")
        block = np.ones(64 * 2**20 // 8)  # 64 MB, written: numpy asks for huge pages on arrays this big
        grown = proc_mb("smaps_rollup", "AnonHugePages") - before
        del block
        return grown

    given = huge_mb_for_new_array()
    if given == 0:
        pytest.skip("this system gives no transparent huge pages (turned off, or none free)")
    with memory.small_pages():
        assert huge_mb_for_new_array() == 0, f"huge pages given under small_pages ({given} MB outside)"


@needs_prctl
def test_the_import_and_the_recompute_run_on_small_pages(tmp_path: Path, demo_folder: Path) -> None:
    from core.importer import open_portfolio
    from core.recompute import recompute
    from core.store import Store

    seen: list[tuple[str, bool]] = []
    store = Store(tmp_path / "q.db")
    store.import_portfolio(
        open_portfolio(demo_folder), progress=lambda *_: seen.append(("import", huge_pages_off()))
    )
    recompute(store, date(2026, 11, 1), progress=lambda step, *_: seen.append((step, huge_pages_off())))
    store.close()
    assert len(seen) > 10 and all(off for _, off in seen), seen
    assert not huge_pages_off()


@needs_prctl
def test_the_backtest_and_the_demo_generator_run_on_small_pages(
    tmp_path: Path, demo_store, monkeypatch: pytest.MonkeyPatch
) -> None:
    import fixtures.demo
    from core import jobs
    from core.recompute import run_backtest

    seen: dict[str, bool] = {}

    def spying(module, name: str) -> None:
        real = getattr(module, name)

        def spy(*args, **kwargs):
            seen[name] = huge_pages_off()
            return real(*args, **kwargs)

        monkeypatch.setattr(module, name, spy)

    spying(jobs, "backtest_rows")
    spying(fixtures.demo, "build_usage")
    run_backtest(demo_store, date(2026, 11, 1), 6)
    (tmp_path / "demo").mkdir()
    fixtures.demo.generate(tmp_path / "demo", accounts=50, seed=3, as_of=date(2026, 11, 1))
    assert seen == {"backtest_rows": True, "build_usage": True}
    assert not huge_pages_off()


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
    memory.return_free_memory()
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
    memory.return_free_memory()
    assert started == []


def test_the_recompute_hands_memory_back_before_its_save(
    tmp_path: Path, demo_store_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import shutil

    from core.recompute import recompute
    from core.store import Store

    calls: list[str] = []
    trim, write = memory.return_free_memory, Store.write_results

    def trimming() -> None:
        calls.append("trim")
        trim()

    def writing(self, *args, **kwargs):
        calls.append("save")
        return write(self, *args, **kwargs)

    monkeypatch.setattr(memory, "return_free_memory", trimming)
    monkeypatch.setattr(Store, "write_results", writing)
    shutil.copy(demo_store_file, tmp_path / "q.db")
    store = Store(tmp_path / "q.db")
    recompute(store, date(2026, 11, 1))
    store.close()
    assert calls == ["trim", "save"]
