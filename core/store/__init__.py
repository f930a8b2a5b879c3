"""The SQLite store: the only part of core/ that does I/O on the database."""

from core.store.errors import DataChanged, StoreBusy, StoreError
from core.store.store import Store, default_path

__all__ = ["DataChanged", "Store", "StoreBusy", "StoreError", "default_path"]
