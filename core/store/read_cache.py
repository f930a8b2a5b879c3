"""The book and its usage aggregates as a recompute's helpers wrote them, kept until an import changes the book.

A recompute on a big book spends seconds reading: the book (1.2 s of ADBC at 100,000
accounts), 5M usage rows (2.9 s), and working out the usage aggregates. None of it changes
until the next import, yet a CSM recomputes every day. The helpers already hand these over
as Arrow files (``core.store.bulk_read``): the recompute links them into a folder beside the
store, and the next recompute on the same import maps them instead.

A kept folder is named by its key: the import that wrote the book (``Store.data_version``),
the store's schema and this module's format, so an import, a restore or a newer program
never finds a stale one. Files are linked into a working folder while the recompute runs
and the folder becomes the cache only once the results are saved, when the save has
checked that no import came in between; a recompute that fails or is killed leaves
nothing (its working folder is swept like any other). Links share the helpers' files, so
keeping costs no copy; where the file system cannot link, nothing is kept.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

from core.store.schema import SCHEMA_VERSION
from core.store.workdirs import LOCK, WorkFolder

FORMAT = 1  # bump when what a part holds changes: older folders are then never read
KIND = "keep"  # the working folder's kind (see ``core.store.workdirs``)


def root(store_path: Path) -> Path:
    return store_path.parent / f".{store_path.name}.cache"


def key(version: tuple | None) -> str | None:
    """The folder name for a book version; None when the book has no import to name it by."""
    if version is None:
        return None
    digest = hashlib.sha256(repr((tuple(version), SCHEMA_VERSION, FORMAT)).encode()).hexdigest()[:16]
    return f"v{version[0]}-{digest}"


def lookup(store_path: Path, folder_key: str | None, names: list[str]) -> dict[str, Path] | None:
    """The kept parts ``names`` of ``folder_key``, or None unless every one of them is there."""
    if folder_key is None:
        return None
    folder = root(store_path) / folder_key
    parts = {name: folder / name for name in names}
    return parts if all(path.is_dir() for path in parts.values()) else None


class Keeping:
    """Parts linked aside during one recompute; ``commit`` makes them the cache, ``discard`` drops them."""

    def __init__(self, store_path: Path, folder_key: str | None) -> None:
        self.store_path, self.folder_key = store_path, folder_key
        self._work: WorkFolder | None = None
        self.kept: list[str] = []

    def link(self, name: str, part: Path) -> None:
        """Hard-link the Arrow files of a helper's ``part`` folder as the part ``name``."""
        if self.folder_key is None:
            return
        try:
            if self._work is None:
                self._work = WorkFolder(self.store_path, KIND)
            target = self._work.path / name
            target.mkdir()
            for file in part.glob("*.arrow"):
                os.link(file, target / file.name)
            self.kept.append(name)
        except OSError:  # no hard links here, or the part is gone: keep nothing this time
            self.discard()
            self.folder_key = None

    def commit(self) -> None:
        """The linked parts become the kept folder of ``folder_key``, with nothing else in it: other
        keys' folders go, and so do parts of the same key that this recompute did not use (another
        month's usage aggregates)."""
        if self._work is None or self.folder_key is None:
            return
        cache, work = root(self.store_path), self._work
        target = cache / self.folder_key
        try:
            cache.mkdir(exist_ok=True)
            (work.path / LOCK).unlink()
            if not target.exists():
                os.rename(work.path, target)
            else:  # kept by an earlier recompute of the same import: the same book, maybe other months
                for part in target.iterdir():
                    if part.name not in self.kept:
                        shutil.rmtree(part, ignore_errors=True)
                for name in self.kept:
                    if not (target / name).exists():
                        os.rename(work.path / name, target / name)
        except OSError:
            self.discard()
            return
        self._work = None
        work.cleanup()  # closes its lock; deletes the folder unless it became the kept one
        for folder in cache.iterdir():
            if folder.name != self.folder_key:
                shutil.rmtree(folder, ignore_errors=True)

    def discard(self) -> None:
        if self._work is not None:
            self._work.cleanup()
            self._work = None
        self.kept = []
