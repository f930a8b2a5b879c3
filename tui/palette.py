"""The command palette's "open account …": searches account names and ids as you type.

The search runs in SQL on a worker thread (the store gives each thread its own
connection), so it stays instant on a 100,000-account book.
"""

from __future__ import annotations

import asyncio
from functools import partial

from textual.command import DiscoveryHit, Hit, Hits, Provider

LIMIT = 15


def find_accounts(store, text: str, limit: int = LIMIT) -> list[tuple[str, str, str]]:
    """(account_id, name, segment) of accounts whose name or id contains ``text``, prefix matches first."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    rows = store.conn.execute(
        "SELECT account_id, name, segment FROM accounts "
        "WHERE name LIKE ? ESCAPE '\\' OR account_id LIKE ? ESCAPE '\\' "
        "ORDER BY (name LIKE ? ESCAPE '\\') DESC, name LIMIT ?",
        [f"%{escaped}%", f"%{escaped}%", f"{escaped}%", limit],
    ).fetchall()
    return [(str(r[0]), str(r[1]), str(r[2] or "")) for r in rows]


class AccountSearch(Provider):
    """Palette hits "Open account: NAME" for every account matching what was typed."""

    async def search(self, query: str) -> Hits:
        text = query.strip()
        for prefix in ("open account", "open", "account"):
            if text.lower().startswith(prefix):
                text = text[len(prefix) :].strip(" :…")
                break
        if not text:
            return
        app = self.app
        store = getattr(app, "store", None)
        if store is None:
            return
        rows = await asyncio.to_thread(find_accounts, store, text)
        matcher = self.matcher(text)
        for account_id, name, segment in rows:
            label = f"{name} ({account_id})"
            score = max(matcher.match(label), 0.1)
            yield Hit(
                score,
                matcher.highlight(f"Open account: {label}"),
                partial(app.open_account, account_id),
                text=f"Open account: {label}",
                help=f"{segment} · open the account brief",
            )

    async def discover(self) -> Hits:
        yield DiscoveryHit(
            "Open account …",
            self._hint,
            help="Type part of an account's name or id to open its brief",
        )

    def _hint(self) -> None:
        self.app.notify("Open the palette (ctrl+p) and type part of an account's name or id.")
