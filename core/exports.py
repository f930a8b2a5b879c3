"""The export tables of spec/cli.md: which rows, which columns, in which order.

`quadrant export` streams them, as CSV or JSON, in batches of rows straight from
the store; the columns of spec/cli.md come first, then whatever else the analysis wrote.
"""

from __future__ import annotations

from core.store import Store, StoreError

SPEC_COLUMNS: dict[str, list[str]] = {
    "rules": [
        "antecedents",
        "consequents",
        "support",
        "confidence",
        "lift",
        "leverage",
        "conviction",
        "count",
    ],
    "attach": ["product_a", "product_b", "accounts_a", "accounts_both", "attach_rate"],
    "suggestions": ["account_id", "product_id", "rank", "score", "confidence", "lift", "reason"],
    "scores": [
        "account_id",
        "risk",
        "expansion",
        "quadrant",
        "arr",
        "renewal_date",
        "risk_reasons",
        "expansion_reasons",
    ],
    "todos": ["todo_id", "account_id", "quadrant", "kind", "title", "reason", "priority", "due", "status"],
    "pricing": [
        "account_id",
        "option",
        "products",
        "monthly_price",
        "list_total",
        "discount_pct",
        "arr_delta",
    ],
    "portfolio": ["metric", "segment", "value"],
}
# Further tables a script may want; their columns are whatever the analysis wrote.
EXTRA_TABLES = {
    "roles": "product_roles",
    "readiness": "readiness",
    "sequences": "time_to_attach",
    "next-product": "next_product",
    "second-product": "time_to_second",
    "components": "score_components",
    "owners": "owner_book",
    "metrics": "model_metrics",
    "events": "todo_events",
    "accounts": "accounts",
    "products": "products",
}
ORDER_BY = {
    "rules": "ORDER BY lift DESC, confidence DESC, antecedents, consequents",
    "attach": "ORDER BY product_a, product_b",
    "suggestions": "ORDER BY account_id, rank",
    "scores": "ORDER BY account_id",
    "todos": "ORDER BY status != 'open', priority, todo_id",
    "pricing": "ORDER BY account_id, rowid",
    "portfolio": "ORDER BY rowid",
}


def table_names() -> list[str]:
    return [*SPEC_COLUMNS, *EXTRA_TABLES]


def export_query(
    store: Store,
    table: str,
    account: str | None = None,
    owner: str | None = None,
    segment: str | None = None,
) -> tuple[str, list, list[str]]:
    """The SELECT of one export table, filtered to an account or an owner's book: (sql, params, columns).

    Columns come in export order: the spec's first, then the rest as stored. The command line
    prints its rows in batches as SQLite stores them (``Store.batches``): a frame of the
    suggestions at 100,000 accounts took 880 MB and 8 s, and made a whole number in an INTEGER
    column with gaps print as 3.0.
    """
    if table not in SPEC_COLUMNS and table not in EXTRA_TABLES:
        raise StoreError(f"Unknown table {table!r}; expected one of: {', '.join(table_names())}.")
    source = EXTRA_TABLES.get(table, table)
    if not store.has_table(source):
        raise StoreError(f"The table {table!r} has not been computed yet: run `quadrant recompute`.")
    stored = list(store.query(f'SELECT * FROM "{source}" LIMIT 0').columns)
    where, params = [], []
    if table == "rules":
        where.append("segment = ?")
        params.append(segment or "all")
        stored.remove("segment")
    if table == "todos":
        where.append("active = 1 OR status != 'open'")
    if account is not None and "account_id" in stored:
        if not store.scalar("SELECT 1 FROM accounts WHERE account_id = ?", [account]):
            raise StoreError(f"There is no account {account!r} in the store.")
        where.append("account_id = ?")
        params.append(account)
    if owner is not None and "account_id" in stored:
        where.append("account_id IN (SELECT account_id FROM accounts WHERE owner = ?)")
        params.append(owner)
    clause = ("WHERE " + " AND ".join(f"({w})" for w in where)) if where else ""
    front = [c for c in SPEC_COLUMNS.get(table, []) if c in stored]
    columns = front + [c for c in stored if c not in front]
    selected = ", ".join('"' + c.replace('"', '""') + '"' for c in columns)
    return f'SELECT {selected} FROM "{source}" {clause} {ORDER_BY.get(table, "")}', params, columns
