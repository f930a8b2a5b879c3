"""Errors a user can act on: each carries a message fit to print without a traceback."""

from __future__ import annotations

import sqlite3


class StoreError(Exception):
    """The store cannot do what was asked; the message says why and what to do."""


class DataChanged(StoreError):
    """An import committed while a recompute read the book: its results would mix two imports."""


class StoreBusy(StoreError):
    """Another Quadrant process held the write lock for longer than we wait."""


def translate(error: sqlite3.Error, path: str) -> StoreError:
    """Turn a low-level SQLite error into a message that names the store and the remedy."""
    text = str(error).lower()
    if "locked" in text or "busy" in text:
        return StoreBusy(
            f"The store {path} is busy: another Quadrant process is writing to it. "
            "Nothing was changed; try again in a moment."
        )
    if "readonly" in text or "read-only" in text:
        return StoreError(
            f"The store {path} is read-only: nothing was changed. Check the file's permissions."
        )
    if "disk is full" in text or "database or disk is full" in text:
        return StoreError(f"The disk holding {path} is full: nothing was changed. Free some space and retry.")
    if "not a database" in text or "malformed" in text or "file is not a database" in text:
        return StoreError(f"{path} is not a Quadrant store (or it is damaged): {error}.")
    if "unable to open" in text:
        return StoreError(f"Cannot open the store {path}: {error}.")
    return StoreError(f"The store {path} reported an error: {error}.")
