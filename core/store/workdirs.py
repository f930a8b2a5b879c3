"""Working folders beside the store (scratch databases, helper outputs), swept up after a crash.

Each folder holds a lock file that its process keeps locked (``flock``) while the folder is in
use. A process killed mid-import or mid-recompute cannot delete its folder, but its lock dies
with it, so the next opening of the store deletes every such folder whose lock is free.
"""

from __future__ import annotations

import contextlib
import glob
import shutil
import tempfile
import time
from pathlib import Path

try:
    import fcntl
except ImportError:  # not on Windows: folders are then only deleted by their own process
    fcntl = None

KINDS = ("stage", "read", "keep")
LOCK = ".lock"
GRACE_SECONDS = 60  # a folder without its lock file yet may be being created right now


class WorkFolder:
    """A folder beside ``store_path`` for one piece of work; ``cleanup`` deletes it."""

    def __init__(self, store_path: Path, kind: str) -> None:
        self._folder = tempfile.TemporaryDirectory(
            prefix=f".{store_path.name}.{kind}-", dir=store_path.parent, ignore_cleanup_errors=True
        )
        self.path = Path(self._folder.name)
        self._lock = open(self.path / LOCK, "w")  # noqa: SIM115  (held open until cleanup)
        if fcntl is not None:
            fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)

    def __enter__(self) -> WorkFolder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.cleanup()

    def cleanup(self) -> None:
        self._lock.close()
        self._folder.cleanup()


def sweep(store_path: Path) -> list[Path]:
    """Delete the working folders beside ``store_path`` that no living process holds; returns them."""
    if fcntl is None:
        return []
    swept = []
    for kind in KINDS:
        for name in glob.glob(glob.escape(str(store_path.parent / f".{store_path.name}.{kind}-")) + "*"):
            folder = Path(name)
            if folder.is_dir() and abandoned(folder):
                shutil.rmtree(folder, ignore_errors=True)
                swept.append(folder)
    return swept


def abandoned(folder: Path) -> bool:
    """True when no living process holds ``folder`` (its lock is free, or it never got one in time).

    Where locks cannot tell (no ``fcntl``), every folder counts as held.
    """
    if fcntl is None:
        return False
    lock = folder / LOCK
    if not lock.exists():
        try:
            return time.time() - folder.stat().st_mtime > GRACE_SECONDS
        except OSError:  # deleted meanwhile by its process
            return True
    with contextlib.suppress(OSError), open(lock, "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True
    return False
