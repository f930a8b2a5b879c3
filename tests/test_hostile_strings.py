"""Hostile text in names, subjects, notes and search boxes is data: stored, exported and shown verbatim.

Quotes, SQL fragments, Rich markup, terminal escapes, very long text,
right-to-left scripts, emoji and CJK go in through the importer (a name is a
string, so every one is accepted), come back unchanged from the store and from
`quadrant export`, and the app shows them as plain text: never executed, never
interpreted as markup or terminal codes, never breaking the layout.
"""

from __future__ import annotations

import csv
import io
import json
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest
from conftest import AS_OF
from rich.cells import cell_len

HOSTILE = [
    'O\'Brien "The Hammer" & Sons, Ltd.',
    "Robert'); DROP TABLE accounts; --",
    "[bold red]boom[/] [link=https://evil.example]click[/link]",
    "Bell\x07 Esc\x1b[31mRED\x1b[0m CR\rhere",
    "Long " + "x" * 9_995,
    "شركة الاختبار المحدودة עברית בע״מ",
    "Safe\u202eexe.FDP name",
    "Rocket 🚀 Labs 👩‍💻🇯🇵",
    "北京测试科技有限公司・東京テスト株式会社",
    "100% _real_ {0} %s \\N ${HOME} (a|b).*",
    "Two\nlines\tand a tab",
]
"""Each becomes the name of five accounts, the name of one contact and the subject of one activity."""
EVERY = 5  # account i*EVERY gets HOSTILE[i % len(HOSTILE)]
HOSTILE_ACCOUNTS = 55  # five accounts per string, within the 300-account demo
OWNER = "Robert'); DELETE FROM todos; --"
PRODUCT_NAME = '[b]Core[/b] CRM "Pro" \'; --'
NOW = datetime(2026, 11, 1, 12, tzinfo=UTC)
assert len(HOSTILE[4]) == 10_000


def _write(frame: pd.DataFrame, path: Path) -> None:
    # Every field quoted: Python's csv (and pandas) leave a bare \r unquoted when the line ends in \n.
    frame.to_csv(path, index=False, quoting=csv.QUOTE_ALL, lineterminator="\n")


def _read(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def hostile_folder(demo: Path, target: Path) -> dict[str, str]:
    """The demo folder with hostile account names, owner, product name, contacts and subjects.

    Returns {account_id: name} for the accounts renamed.
    """
    shutil.copytree(demo, target)
    accounts = _read(target / "accounts.csv")
    renamed = {}
    for i in range(HOSTILE_ACCOUNTS):
        row = i * EVERY
        accounts.loc[row, "name"] = HOSTILE[i % len(HOSTILE)]
        renamed[accounts.loc[row, "account_id"]] = HOSTILE[i % len(HOSTILE)]
    accounts.loc[1, "owner"] = OWNER
    _write(accounts, target / "accounts.csv")
    products = _read(target / "products.csv")
    products.loc[0, "name"] = PRODUCT_NAME
    _write(products, target / "products.csv")
    ids = list(renamed)[: len(HOSTILE)]
    contacts = _read(target / "contacts.csv")
    extra = pd.DataFrame(
        {
            "account_id": ids,
            "name": HOSTILE,
            "email": [f"hostile{i}@example.test" for i in range(len(ids))],
            "role": "champion",
        }
    )
    _write(pd.concat([contacts, extra], ignore_index=True).fillna(""), target / "contacts.csv")
    activities = _read(target / "activities.csv")
    extra = pd.DataFrame({"account_id": ids, "date": "2026-10-20", "kind": "call", "subject": HOSTILE})
    _write(pd.concat([activities, extra], ignore_index=True).fillna(""), target / "activities.csv")
    return renamed


@pytest.fixture(scope="module")
def hostile_store_file(tmp_path_factory: pytest.TempPathFactory, demo_folder: Path) -> tuple[Path, dict]:
    from core.importer import open_portfolio
    from core.recompute import recompute
    from core.store import Store

    home = tmp_path_factory.mktemp("hostile")
    renamed = hostile_folder(demo_folder, home / "portfolio")
    store = Store(home / "hostile.db")
    reader = open_portfolio(home / "portfolio")
    store.import_portfolio(reader)
    store.set_setting("as_of", AS_OF.isoformat())
    recompute(store, AS_OF)
    store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    store.close()
    return home / "hostile.db", renamed


@pytest.fixture()
def hostile(tmp_path: Path, hostile_store_file: tuple[Path, dict]):
    """(a private copy of the store, {account_id: hostile name})."""
    from core.store import Store

    source, renamed = hostile_store_file
    shutil.copy(source, tmp_path / "hostile.db")
    store = Store(tmp_path / "hostile.db")
    yield store, renamed
    store.close()


def cli(store, capsys, *args: str) -> tuple[int, str, str]:
    from tui.cli import main

    capsys.readouterr()
    code = main(["--db", str(store.path), *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


# -- the importer and the store ------------------------------------------------------------------------


def test_the_importer_accepts_every_hostile_string_and_the_store_keeps_it_verbatim(hostile) -> None:
    store, renamed = hostile
    names = store.query("SELECT account_id, name FROM accounts").set_index("account_id")["name"]
    assert names[list(renamed)].to_dict() == renamed
    assert store.scalar("SELECT count(*) FROM accounts") == 300  # nothing dropped, nothing executed
    assert store.scalar("SELECT owner FROM accounts WHERE owner LIKE 'Robert%'") == OWNER
    assert PRODUCT_NAME in set(store.query("SELECT name FROM products")["name"])
    contacts = set(store.query("SELECT name FROM contacts WHERE email LIKE 'hostile%'")["name"])
    subjects = set(
        store.query("SELECT subject FROM activities WHERE date = '2026-10-20' AND kind = 'call'")["subject"]
    )
    assert contacts == set(HOSTILE) and set(HOSTILE) <= subjects
    assert store.scalar("PRAGMA integrity_check") == "ok"


def test_todo_titles_carry_the_names_verbatim(hostile) -> None:
    store, renamed = hostile
    todos = store.todos()
    mine = todos[todos["account_id"].isin(list(renamed))]
    assert len(mine) > 0
    for account_id, title in zip(mine["account_id"], mine["title"], strict=True):
        assert renamed[account_id] in title


# -- the command line ----------------------------------------------------------------------------------


def test_export_accounts_csv_and_json_give_back_the_exact_names(hostile, capsys) -> None:
    store, renamed = hostile
    code, out, _ = cli(store, capsys, "export", "accounts", "--format", "json")
    assert code == 0
    rows = {r["account_id"]: r["name"] for r in json.loads(out)}
    assert {a: rows[a] for a in renamed} == renamed
    for name in HOSTILE:
        if "\r" in name:
            continue  # see test_export_csv_quotes_a_carriage_return
        account = next(a for a, n in renamed.items() if n == name)
        code, out, _ = cli(store, capsys, "export", "accounts", "--account", account)
        assert code == 0
        parsed = list(csv.DictReader(io.StringIO(out)))
        assert [(r["account_id"], r["name"]) for r in parsed] == [(account, name)]


def test_export_csv_quotes_a_carriage_return(hostile, capsys) -> None:
    store, renamed = hostile
    code, out, _ = cli(store, capsys, "export", "accounts")
    parsed = pd.read_csv(io.StringIO(out), dtype=str, keep_default_na=False)
    assert code == 0 and parsed.set_index("account_id")["name"][list(renamed)].to_dict() == renamed


def test_export_todos_and_scores_match_the_store_exactly(hostile, capsys) -> None:
    from core.exports import export_query

    store, renamed = hostile
    for table in ("todos", "scores"):
        code, out, _ = cli(store, capsys, "export", table, "--format", "json")
        assert code == 0
        exported = pd.DataFrame(json.loads(out))
        expected = store.query(*export_query(store, table)[:2])
        assert len(exported) == len(expected)
        for column in ("todo_id", "title", "reason") if table == "todos" else ("account_id", "risk_reasons"):
            assert exported[column].fillna("").tolist() == expected[column].fillna("").tolist()
    code, out, _ = cli(store, capsys, "export", "todos", "--format", "json")
    titles = " ".join(r["title"] for r in json.loads(out))
    assert "Robert'); DROP TABLE accounts; --" in titles and "[bold red]boom[/]" in titles


def test_export_by_a_hostile_owner_filters_by_value(hostile, capsys) -> None:
    store, _ = hostile
    code, out, _ = cli(store, capsys, "export", "accounts", "--owner", OWNER, "--format", "json")
    rows = json.loads(out)
    assert code == 0 and [r["owner"] for r in rows] == [OWNER]
    code, out, _ = cli(store, capsys, "export", "accounts", "--owner", "' OR 1=1 --", "--format", "json")
    assert code == 0 and json.loads(out) == []


@pytest.mark.parametrize(
    "note",
    [HOSTILE[1], HOSTILE[2], HOSTILE[3], HOSTILE[4], HOSTILE[5], HOSTILE[7], HOSTILE[10]],
    ids=["sql", "markup", "controls", "10k-chars", "rtl", "emoji", "newline-tab"],
)
def test_todo_notes_from_the_command_line_are_stored_verbatim(hostile, capsys, note: str) -> None:
    store, _ = hostile
    todo_id = store.query("SELECT todo_id FROM todos WHERE status = 'open' ORDER BY todo_id LIMIT 1")[
        "todo_id"
    ][0]
    code, out, err = cli(store, capsys, "todo", "done", todo_id, "--note", note)
    assert code == 0, err
    row = store.todos("WHERE todo_id = ?", [todo_id]).iloc[0]
    assert row["status"] == "done" and row["note"] == note
    last = store.todo_events(todo_id).iloc[-1]
    assert (last["action"], last["to_status"], last["note"]) == ("done", "done", note)
    code, out, _ = cli(store, capsys, "export", "events", "--format", "json")
    assert code == 0 and [e["note"] for e in json.loads(out) if e["todo_id"] == todo_id][-1] == note


def test_hostile_ids_on_the_command_line_are_refused_cleanly(hostile, capsys) -> None:
    store, _ = hostile
    for bad in ("[bold red]boom[/]'); DROP TABLE todos; --", "[link=x]\x1b[31m"):
        code, out, err = cli(store, capsys, "todo", "done", bad)
        assert code == 1 and "Traceback" not in err and "\x1b[31m" not in err
        code, out, err = cli(store, capsys, "brief", bad)
        assert code == 1 and "Traceback" not in err
    assert store.scalar("SELECT count(*) FROM todos") > 0


def test_printed_brief_shows_names_as_text(hostile, capsys) -> None:
    store, renamed = hostile
    by_name = {name: account for account, name in renamed.items()}
    for name in (HOSTILE[2], HOSTILE[3], HOSTILE[6], HOSTILE[4]):
        code, out, err = cli(store, capsys, "brief", by_name[name], "--width", "100")
        assert code == 0, err
        assert "\x1b" not in out and "\x07" not in out and "\u202e" not in out
        lines = out.splitlines()
        assert max(cell_len(line) for line in lines) <= 100
    code, out, _ = cli(store, capsys, "brief", by_name[HOSTILE[2]], "--width", "100")
    assert "[bold red]boom[/]" in out


# -- the app ---------------------------------------------------------------------------------------------


def _app(store):
    from tui.app import make_app

    return make_app(store, as_of=AS_OF, now=lambda: NOW, recompute_job=lambda s, a, p: None, start="accounts")


async def _settle(app, pilot) -> None:
    for _ in range(2):
        await app.workers.wait_for_complete()
        await pilot.pause()


async def test_account_list_and_search_treat_hostile_names_as_text(hostile) -> None:
    from textual.widgets import Input

    from tui.widgets.book_table import BookTable

    store, renamed = hostile
    books = store.query("SELECT account_id, name FROM accounts")
    app = _app(store)
    async with app.run_test(size=(120, 40)) as pilot:
        await _settle(app, pilot)
        screen = app.screen
        table = screen.query_one(BookTable)
        assert table.row_count == 300
        search = screen.query_one("#accounts-search", Input)
        for needle in [
            "'); DROP TABLE",
            "[bold red]boom[/]",
            "[link=",
            "🚀",
            "北京测试",
            "東京テスト",
            "الاختبار",
            "עברית",
            "100%",
            "_real_",
            "(a|b).*",
            "\\N",
            '"The Hammer"',
            "x" * 300,
        ]:
            search.value = needle
            await _settle(app, pilot)
            lower = needle.lower()
            expected = {
                a for a, n in zip(books["account_id"], books["name"], strict=True) if lower in n.lower()
            }
            shown = set(table.shown["account_id"].to_pylist())
            assert shown == expected and expected, needle
            lines = [table.render_line(y).text for y in range(0, min(len(expected), 30) + 1)]
            assert len({cell_len(line) for line in lines}) == 1, needle  # every row as wide as the header
            assert not any(c in "".join(lines) for c in "\x1b\x07\r\n\u202e"), needle
        search.value = "[bold red]boom[/]"
        await _settle(app, pilot)
        assert "[bold red]boom[/]" in table.render_line(1).text
        search.value = ""
        await pilot.press("slash", *"'); drop")  # typed key by key into the box
        assert search.value == "'); drop"
        await _settle(app, pilot)
        assert set(table.shown["account_id"].to_pylist()) == {
            a for a, n in renamed.items() if "'); drop" in n.lower()
        }


async def _open_briefs(store, account_ids: list[str]) -> list[tuple[str, str, list]]:
    """Open each account's brief in turn; returns (account_id, title text, KPI tile regions) for each."""
    from textual.widgets import Static

    from tui.widgets.kpi import KpiTile

    seen = []
    app = _app(store)
    async with app.run_test(size=(120, 40)) as pilot:
        await _settle(app, pilot)
        for account_id in account_ids:
            app.open_account(account_id)
            await _settle(app, pilot)
            screen = app.screen
            assert type(screen).__name__ == "BriefScreen" and screen.account_id == account_id
            assert not screen.query("#brief-loading"), account_id
            title = str(screen.query_one("#brief-title", Static).render())
            seen.append((account_id, title, [tile.region for tile in screen.query(KpiTile)]))
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen.query_one("#accounts-search")
    return seen


async def test_the_brief_shows_hostile_names_as_text_with_the_kpis_in_place(hostile) -> None:
    store, renamed = hostile
    by_name = {name: account for account, name in renamed.items()}
    names = [HOSTILE[i] for i in (2, 3, 5, 6, 10)]
    titles = {}
    for (_, title, tiles), name in zip(
        await _open_briefs(store, [by_name[n] for n in names]), names, strict=True
    ):
        assert not any(c in title for c in "\x1b\x07\r\u202e"), name
        assert len(tiles) == 5
        assert all(t.bottom <= 40 and t.right <= 120 for t in tiles), name
        titles[name] = title
    assert HOSTILE[2] in titles[HOSTILE[2]]  # markup shown as typed, not applied
    assert "Esc\ufffd[31mRED" in titles[HOSTILE[3]]  # an escape code shown as a visible replacement
    assert HOSTILE[5] in titles[HOSTILE[5]] and "Safeexe.FDP name" in titles[HOSTILE[6]]
    assert "Two lines and a tab" in titles[HOSTILE[10]]  # one line: the layout below stays put


async def test_a_ten_thousand_character_name_leaves_the_kpis_on_screen(hostile) -> None:
    store, renamed = hostile
    account = next(a for a, n in renamed.items() if n == HOSTILE[4])
    [(_, title, tiles)] = await _open_briefs(store, [account])
    assert len(tiles) == 5 and all(t.bottom <= 40 for t in tiles)
    name_line = title.splitlines()[0]
    assert name_line.startswith("Long xxx") and "…" in name_line  # the name is cut, visibly
    assert f"({account})" in title and "employees" in title  # the id and the facts still show
