"""How the big jobs (import, recompute, their helpers) take memory from the system and give it back.

Linux only; elsewhere these do nothing. They call libc through ``ctypes.CDLL(None)``,
the libc already loaded: ``ctypes.util.find_library`` runs ldconfig in a child
process, a fork of the whole process (1.6 GB at the recompute's save).
"""

from __future__ import annotations

import contextlib
import ctypes
import sys
from collections.abc import Iterator

import pyarrow as pa

PR_SET_THP_DISABLE = 41  # prctl options, <linux/prctl.h>
PR_GET_THP_DISABLE = 42


def _libc() -> ctypes.CDLL | None:
    return ctypes.CDLL(None) if sys.platform == "linux" else None


def allow_huge_pages(allowed: bool) -> bool | None:
    """Let this process (and the processes it starts) take transparent huge pages or not.

    Returns whether they were allowed before; None where the system cannot say (not
    Linux, a libc without prctl, a kernel before 3.15).
    """
    libc = _libc()
    if libc is None:
        return None
    off, zero = ctypes.c_ulong(int(not allowed)), ctypes.c_ulong(0)  # prctl reads unsigned longs
    with contextlib.suppress(AttributeError):  # a libc without prctl
        before = libc.prctl(PR_GET_THP_DISABLE, zero, zero, zero, zero)
        if before >= 0 and libc.prctl(PR_SET_THP_DISABLE, off, zero, zero, zero) == 0:
            return before == 0
    return None


@contextlib.contextmanager
def small_pages() -> Iterator[None]:
    """No transparent huge pages while a big job runs; the process's setting comes back after.

    numpy and Arrow ask for 2 MB pages on big arrays, and the kernel zeroes each one
    whole on first touch. On a VM that backs its memory lazily and takes freed blocks
    back (Firecracker; ``page_reporting``), that zeroing runs at host-fault speed: at
    100,000 accounts the recompute spent 9.4-10.4 s of system time with them and
    3.4-3.6 s without (24.6 s against 19.0 s in all), the import 7.5 s against 3.6 s
    (21.3 s against 17.5 s). A process then touches only the small pages it writes, and
    the kernel can hand it ones freed a moment before, still backed by the host.
    """
    before = allow_huge_pages(False)
    try:
        yield
    finally:
        if before:
            allow_huge_pages(True)


def return_free_memory() -> None:
    """Hand the memory freed so far back to the system (Arrow's pool, then glibc's arenas).

    The recompute and its helpers share one memory budget: pages a process no longer uses
    should not count in it. Elsewhere than glibc only Arrow's pool is trimmed.
    """
    pa.default_memory_pool().release_unused()
    libc = _libc()
    with contextlib.suppress(AttributeError):  # a libc without malloc_trim (musl)
        if libc is not None:
            libc.malloc_trim(0)
