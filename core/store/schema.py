"""The store's schema as ordered migrations (sqlite-utils ``Migrations``).

Never edit a migration that has shipped: add a new one. A store's schema
version is the number of migrations applied to it; ``tests/data/store_v1.db``
was written by version 1 and must keep opening.
"""

from __future__ import annotations

from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

APPLICATION_ID = 0x51554144  # "QUAD": marks a SQLite file as a Quadrant store
MIGRATION_SET = "quadrant"

migrations = Migrations(MIGRATION_SET)

_V1 = """
CREATE TABLE accounts (
    account_id TEXT PRIMARY KEY, name TEXT NOT NULL, segment TEXT NOT NULL, industry TEXT, region TEXT,
    employees INTEGER, employees_prev INTEGER, annual_revenue REAL, owner TEXT, sales_rep TEXT,
    created_at TEXT);
CREATE TABLE products (
    product_id TEXT PRIMARY KEY, name TEXT NOT NULL, family TEXT, list_price REAL NOT NULL,
    unit TEXT NOT NULL DEFAULT 'seat', department TEXT);
CREATE TABLE subscriptions (
    account_id TEXT NOT NULL REFERENCES accounts(account_id),
    product_id TEXT NOT NULL REFERENCES products(product_id),
    start_date TEXT NOT NULL, end_date TEXT, quantity INTEGER NOT NULL DEFAULT 1, mrr REAL NOT NULL,
    status TEXT NOT NULL DEFAULT 'active', churned_at TEXT,
    PRIMARY KEY (account_id, product_id, start_date));
CREATE INDEX subscriptions_product ON subscriptions(product_id);
CREATE TABLE usage (
    account_id TEXT NOT NULL REFERENCES accounts(account_id),
    product_id TEXT NOT NULL REFERENCES products(product_id),
    period TEXT NOT NULL, active_users INTEGER, licensed_seats INTEGER, logins INTEGER, key_events INTEGER,
    PRIMARY KEY (account_id, product_id, period)) WITHOUT ROWID;
CREATE TABLE usage_extra (
    account_id TEXT NOT NULL, product_id TEXT NOT NULL, period TEXT NOT NULL, metric TEXT NOT NULL,
    value REAL, PRIMARY KEY (account_id, product_id, period, metric)) WITHOUT ROWID;
CREATE TABLE contacts (
    account_id TEXT NOT NULL REFERENCES accounts(account_id), email TEXT NOT NULL, name TEXT NOT NULL,
    title TEXT, department TEXT, role TEXT, last_contacted_at TEXT, PRIMARY KEY (account_id, email));
CREATE TABLE activities (
    activity_key TEXT PRIMARY KEY, account_id TEXT NOT NULL REFERENCES accounts(account_id),
    date TEXT NOT NULL, kind TEXT NOT NULL, subject TEXT, product_id TEXT, sentiment TEXT);
CREATE INDEX activities_account ON activities(account_id, date);
CREATE TABLE nps (
    account_id TEXT NOT NULL REFERENCES accounts(account_id), date TEXT NOT NULL,
    email TEXT NOT NULL DEFAULT '', score INTEGER NOT NULL, PRIMARY KEY (account_id, date, email));
CREATE TABLE bundles (
    bundle_id TEXT PRIMARY KEY, name TEXT NOT NULL, product_ids TEXT NOT NULL, price REAL,
    discount_pct REAL);

CREATE TABLE todos (
    todo_id TEXT PRIMARY KEY, account_id TEXT NOT NULL, kind TEXT NOT NULL, product_id TEXT NOT NULL DEFAULT '',
    quadrant TEXT, title TEXT, reason TEXT, priority INTEGER, priority_score REAL, below_line INTEGER DEFAULT 0,
    due TEXT, evidence_at TEXT, playbook TEXT, active INTEGER NOT NULL DEFAULT 1, generated_at TEXT,
    status TEXT NOT NULL DEFAULT 'open', snoozed_until TEXT, note TEXT, outcome TEXT,
    status_changed_at TEXT, created_at TEXT NOT NULL, updated_at TEXT NOT NULL);
CREATE INDEX todos_account ON todos(account_id);
CREATE TABLE todo_events (
    event_id INTEGER PRIMARY KEY AUTOINCREMENT, todo_id TEXT NOT NULL, at TEXT NOT NULL, action TEXT NOT NULL,
    from_status TEXT, to_status TEXT, snoozed_until TEXT, note TEXT, outcome TEXT, source TEXT,
    prev_snoozed_until TEXT, prev_note TEXT, prev_outcome TEXT);
CREATE INDEX todo_events_todo ON todo_events(todo_id, event_id);
CREATE TABLE playbooks (
    kind TEXT PRIMARY KEY, title TEXT NOT NULL, steps TEXT NOT NULL, edited INTEGER NOT NULL DEFAULT 0,
    updated_at TEXT);
CREATE TABLE product_role_overrides (
    product_id TEXT PRIMARY KEY, role TEXT NOT NULL, note TEXT, set_at TEXT);
CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL, updated_at TEXT);
CREATE TABLE runs (
    run_id INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL, started_at TEXT NOT NULL, finished_at TEXT,
    duration_s REAL, status TEXT NOT NULL, as_of TEXT, summary TEXT, error TEXT);

CREATE TABLE rules (segment TEXT, antecedents TEXT, consequents TEXT, support REAL, confidence REAL,
    lift REAL, leverage REAL, conviction REAL, count INTEGER);
CREATE TABLE attach (product_a TEXT, product_b TEXT, accounts_a INTEGER, accounts_both INTEGER,
    attach_rate REAL, label TEXT);
CREATE TABLE suggestions (account_id TEXT, product_id TEXT, rank INTEGER, score REAL, confidence REAL,
    lift REAL, reason TEXT);
CREATE INDEX suggestions_account ON suggestions(account_id);
CREATE TABLE scores (account_id TEXT PRIMARY KEY, risk REAL, expansion REAL, quadrant TEXT, arr REAL,
    renewal_date TEXT, risk_reasons TEXT, expansion_reasons TEXT);
CREATE TABLE score_components (account_id TEXT, axis TEXT, component TEXT, points REAL, reason TEXT);
CREATE INDEX score_components_account ON score_components(account_id);
CREATE TABLE pricing (account_id TEXT, option TEXT, products TEXT, monthly_price REAL, list_total REAL,
    discount_pct REAL, arr_delta REAL);
CREATE INDEX pricing_account ON pricing(account_id);
CREATE TABLE portfolio (metric TEXT, segment TEXT, value REAL);
"""


@migrations()
def m001_initial(db: Database) -> None:
    """Every imported table, the to-dos with their user state, settings, runs and the result tables."""
    for statement in _V1.split(";"):
        if statement.strip():
            db.execute(statement)
    db.execute(f"PRAGMA application_id = {APPLICATION_ID}")


@migrations()
def m002_views_and_history(db: Database) -> None:
    """Saved account-list views, the previous recompute's score components, who changed a to-do."""
    db.execute("CREATE TABLE saved_views (name TEXT PRIMARY KEY, spec TEXT NOT NULL, updated_at TEXT)")
    db.execute(
        "CREATE TABLE score_components_prev (account_id TEXT, axis TEXT, component TEXT, points REAL, reason TEXT)"
    )
    db.execute("CREATE INDEX score_components_prev_account ON score_components_prev(account_id)")
    db.execute("ALTER TABLE todo_events ADD COLUMN actor TEXT")


SCHEMA_VERSION = len(migrations._migrations)
KNOWN_MIGRATIONS = [m.name for m in migrations._migrations]
