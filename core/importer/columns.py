"""The portfolio format's files and columns, as data (spec/import-format.md).

One :class:`Column` per documented column says how a cell is read; the table
modules add the rules that span columns or files. ``STORE_COLUMNS`` is the
shape each table leaves the importer in, the order the store writes.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class Kind(Enum):
    TEXT = "text"
    ENUM = "enum"
    INTEGER = "integer"
    NUMBER = "number"
    DATE = "date"
    MONTH = "month"


@dataclass(frozen=True)
class Column:
    """How one column is read: its kind, whether a value is required, its bounds or choices.

    ``choices`` maps each accepted spelling (lower-case) to the stored value; ``shown`` is
    how the expectation reads in a message.
    """

    name: str
    kind: Kind = Kind.TEXT
    required: bool = False
    low: float | None = None
    high: float | None = None
    choices: dict[str, str] | None = None
    default: str | int | None = None

    @property
    def numeric(self) -> bool:
        return self.kind in (Kind.INTEGER, Kind.NUMBER)


def _choices(*values: str, **aliases: str) -> dict[str, str]:
    found = {v: v for v in values}
    found.update({k.lower(): v for k, v in aliases.items()})
    return found


SEGMENT_CHOICES = _choices("enterprise", "mid-market", "smb", KA="enterprise", CA="mid-market")
UNIT_CHOICES = _choices("seat", "flat", "usage")
STATUS_CHOICES = _choices("active", "churned", "trial")
ROLE_CHOICES = _choices("decision_maker", "champion", "evaluator", "user", "billing")
KIND_CHOICES = _choices("call", "meeting", "email", "qbr", "ticket", "note")
SENTIMENT_CHOICES = _choices("positive", "neutral", "negative")

_ID = Column("account_id", required=True)

SPECS: dict[str, tuple[Column, ...]] = {
    "accounts": (
        _ID,
        Column("name", required=True),
        Column("segment", Kind.ENUM, required=True, choices=SEGMENT_CHOICES),
        Column("industry"),
        Column("region"),
        Column("employees", Kind.INTEGER, low=0),
        Column("employees_prev", Kind.INTEGER, low=0),
        Column("annual_revenue", Kind.NUMBER, low=0),
        Column("owner"),
        Column("sales_rep"),
        Column("created_at", Kind.DATE),
    ),
    "products": (
        Column("product_id", required=True),
        Column("name", required=True),
        Column("family"),
        Column("list_price", Kind.NUMBER, required=True, low=0),
        Column("unit", Kind.ENUM, choices=UNIT_CHOICES, default="seat"),
        Column("department"),
    ),
    "subscriptions": (
        _ID,
        Column("product_id", required=True),
        Column("start_date", Kind.DATE, required=True),
        Column("end_date", Kind.DATE),
        Column("quantity", Kind.INTEGER, low=1, default=1),
        Column("mrr", Kind.NUMBER, low=0),
        Column("status", Kind.ENUM, choices=STATUS_CHOICES, default="active"),
        Column("churned_at", Kind.DATE),
    ),
    "usage": (
        _ID,
        Column("product_id", required=True),
        Column("period", Kind.MONTH, required=True),
        Column("active_users", Kind.INTEGER, low=0),
        Column("licensed_seats", Kind.INTEGER, low=0),
        Column("logins", Kind.INTEGER, low=0),
        Column("key_events", Kind.INTEGER, low=0),
    ),
    "contacts": (
        _ID,
        Column("name", required=True),
        Column("email", required=True),
        Column("title"),
        Column("department"),
        Column("role", Kind.ENUM, choices=ROLE_CHOICES),
        Column("last_contacted_at", Kind.DATE),
    ),
    "activities": (
        _ID,
        Column("date", Kind.DATE, required=True),
        Column("kind", Kind.ENUM, required=True, choices=KIND_CHOICES),
        Column("subject"),
        Column("product_id"),
        Column("sentiment", Kind.ENUM, choices=SENTIMENT_CHOICES),
    ),
    "nps": (
        _ID,
        Column("date", Kind.DATE, required=True),
        Column("score", Kind.INTEGER, required=True, low=0, high=10),
        Column("email"),
    ),
    "bundles": (
        Column("bundle_id", required=True),
        Column("name", required=True),
        Column("product_ids", required=True),
        Column("price", Kind.NUMBER, low=0),
        Column("discount_pct", Kind.NUMBER, low=0, high=100),
    ),
}

REQUIRED_FILES = ("accounts", "products", "subscriptions")
FILE_ORDER = ("accounts", "products", "bundles", "subscriptions", "contacts", "activities", "nps", "usage")

STORE_COLUMNS: dict[str, tuple[str, ...]] = {
    "accounts": (
        "account_id", "name", "segment", "industry", "region", "employees", "employees_prev",
        "annual_revenue", "owner", "sales_rep", "created_at",
    ),
    "products": ("product_id", "name", "family", "list_price", "unit", "department"),
    "subscriptions": (
        "account_id", "product_id", "start_date", "end_date", "quantity", "mrr", "status", "churned_at",
    ),
    "usage": ("account_id", "product_id", "period", "active_users", "licensed_seats", "logins", "key_events"),
    "usage_extra": ("account_id", "product_id", "period", "metric", "value"),
    "contacts": ("account_id", "email", "name", "title", "department", "role", "last_contacted_at"),
    "activities": ("activity_key", "account_id", "date", "kind", "subject", "product_id", "sentiment"),
    "nps": ("account_id", "date", "email", "score"),
    "bundles": ("bundle_id", "name", "product_ids", "price", "discount_pct"),
}  # fmt: skip

KEYS: dict[str, tuple[str, ...]] = {
    "accounts": ("account_id",),
    "products": ("product_id",),
    "bundles": ("bundle_id",),
    "subscriptions": ("account_id", "product_id", "start_date"),
    "contacts": ("account_id", "email"),
    "nps": ("account_id", "date", "email"),
    "usage": ("account_id", "product_id", "period"),
}


def file_name(table: str) -> str:
    return f"{table}.csv"


def column_names(table: str) -> tuple[str, ...]:
    return tuple(c.name for c in SPECS[table])
