"""The Accounts screen and the book behind it: numbers, search, sort, filters, views, navigation."""

from __future__ import annotations

import random

import pandas as pd
import pyarrow as pa
import pytest
from conftest import AS_OF, make_test_app, settle
from rich.cells import cell_len

from tui.account_book import (
    AccountBook,
    BookQuery,
    decorate,
    fit_columns,
    printable,
    read_book,
    store_holders,
)
from tui.dialogs.account_filters import AccountFilters
from tui.dialogs.saved_views import SavedViews
from tui.widgets.book_table import BookTable

# -- the book (no UI) ---------------------------------------------------------------------------------


def test_read_book_counts_arr_products_and_renewal_by_hand(seeded_store) -> None:
    rows = {r["account_id"]: r for r in read_book(seeded_store, AS_OF).to_pylist()}
    assert len(rows) == 8
    a01 = rows["A01"]
    assert a01["arr"] == 12 * (4800 + 2000 + 1200)
    assert a01["arr_text"] == "$96,000"
    assert a01["products"] == 3
    assert a01["renewal_days"] == 63 and a01["renewal_text"] == "in 63 days"  # 2025-09-01
    assert (a01["risk"], a01["expansion"], a01["quadrant"]) == (72, 81, "fix-and-expand")
    a05 = rows["A05"]  # its churned Support Desk neither counts nor adds ARR
    assert (a05["products"], a05["arr"]) == (1, 12 * 2400)


def test_read_book_without_scores_leaves_them_empty(tmp_path) -> None:
    from conftest import seed_book

    from core.store import Store

    store = Store(tmp_path / "s.db")
    seed_book(store, with_results=False)
    table = read_book(store, AS_OF)
    assert table["quadrant"].null_count == 8 and table["risk_text"].null_count == 8


def _random_book(n: int, seed: int) -> tuple[pa.Table, dict[str, set[str]]]:
    rng = random.Random(seed)
    ids = [f"X{i:04d}" for i in range(n)]
    table = pa.table(
        {
            "account_id": ids,
            "name": [
                rng.choice(["Acme", "Глобекс", "北京", "Ünïcode", "Beta"]) + f" {rng.randint(0, 99)}"
                for _ in ids
            ],
            "segment": [rng.choice(["enterprise", "mid-market", "smb"]) for _ in ids],
            "owner": [rng.choice(["Ana", "Bo", None]) for _ in ids],
            "arr": [rng.choice([None, rng.uniform(0, 1e6)]) for _ in ids],
            "products": [rng.randint(0, 6) for _ in ids],
            "risk": [rng.choice([None, rng.uniform(0, 100)]) for _ in ids],
            "expansion": [rng.uniform(0, 100) for _ in ids],
            "quadrant": [rng.choice(["rescue", "expand", "nurture", None]) for _ in ids],
            "renewal_date": [
                rng.choice([None, f"2025-{rng.randint(7, 12):02d}-{rng.randint(1, 28):02d}"]) for _ in ids
            ],
        }
    )
    held = {p: {i for i in ids if rng.random() < 0.3} for p in ("P1", "P2")}
    return decorate(table, AS_OF), held


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_filters_search_and_sort_agree_with_pandas(seed: int) -> None:
    table, held = _random_book(400, seed)
    book = AccountBook(table, lambda p: sorted(held[p]))
    frame = table.to_pandas()
    query = BookQuery(
        search="a",
        segment="smb",
        owner="Ana",
        renewal_within=120,
        product_held="P1",
        product_not_held="P2",
        sort="risk_text",
        descending=True,
    )
    got = book.apply(query)["account_id"].to_pylist()
    days = frame["renewal_days"]
    mask = (
        frame["search_key"].str.contains("a", regex=False)
        & (frame["segment"] == "smb")
        & (frame["owner"] == "Ana")
        & days.between(0, 120)
        & frame["account_id"].isin(held["P1"])
        & ~frame["account_id"].isin(held["P2"])
    )
    expected = (
        frame[mask]
        .sort_values(["risk", "name_key", "account_id"], ascending=[False, True, True], na_position="last")[
            "account_id"
        ]
        .tolist()
    )
    assert got == expected and len(got) > 0 or (got == expected == [])
    assert book.apply(BookQuery(quadrant="rescue"))["quadrant"].to_pylist() == ["rescue"] * int(
        (frame["quadrant"] == "rescue").sum()
    )


def test_typing_narrows_incrementally_to_the_same_answer_as_a_fresh_search() -> None:
    table, _held = _random_book(500, 7)
    typed, fresh = AccountBook(table), AccountBook(table)
    for text in ["a", "ac", "acm", "acme", "acme 1", "acme", "北", "北京 2", ""]:
        query = BookQuery(search=text, sort="name")
        assert (
            typed.apply(query)["account_id"].to_pylist()
            == fresh.filtered(query.without_search())
            .filter(
                pa.compute.match_substring(fresh.filtered(query.without_search())["search_key"], text.lower())
            )["account_id"]
            .to_pylist()
        )


def test_nulls_sort_last_both_ways() -> None:
    table, _ = _random_book(100, 4)
    book = AccountBook(table)
    for descending in (True, False):
        risks = book.apply(BookQuery(sort="risk_text", descending=descending))["risk"].to_pylist()
        present = [r for r in risks if r is not None]
        assert risks[: len(present)] == present and all(r is None for r in risks[len(present) :])
        assert present == sorted(present, reverse=descending)


def test_saved_view_spec_round_trips_and_ignores_junk() -> None:
    query = BookQuery(search="gen", segment="smb", renewal_within=30, sort="name", descending=False)
    assert BookQuery.from_spec(query.to_spec()) == query
    assert BookQuery.from_spec({"sort": "nope", "colour": "red", "renewal_within": "14"}) == BookQuery(
        renewal_within=14
    )


def test_user_text_is_made_printable() -> None:
    cleaned = printable(pa.array(["a\x1b[31mb", "x\u202ey", "l1\nl2", None])).to_pylist()
    assert cleaned == ["a\ufffd[31mb", "xy", "l1 l2", None]


def test_columns_fit_the_terminal_and_drop_owner_first() -> None:
    wide = fit_columns(160)
    assert [c.key for c, _ in wide][0] == "name" and len(wide) == 9
    narrow = fit_columns(80)
    keys = [c.key for c, _ in narrow]
    assert "owner" not in keys and {"name", "arr_text", "risk_text", "quadrant"} <= set(keys)
    assert sum(w + 2 for _, w in narrow) <= 78


# -- the screen ---------------------------------------------------------------------------------------


async def _accounts(app, pilot):
    await settle(app, pilot)
    assert app.current_mode == "accounts"
    return app.screen, app.screen.query_one(BookTable)


def _names(table: BookTable) -> list[str]:
    return table.shown["name"].to_pylist()


async def test_lists_the_book_by_arr_and_cjk_names_keep_the_columns_aligned(seeded_store) -> None:
    app = make_test_app(seeded_store, start="accounts")
    async with app.run_test(size=(120, 40)) as pilot:
        screen, table = await _accounts(app, pilot)
        assert table.row_count == 8
        assert _names(table)[:3] == ["北京云图科技有限公司", "Northwind Traders", "Acme Analytics"]
        lines = [table.render_line(y).text for y in range(1, 9)]
        widths = {cell_len(line) for line in lines}
        assert len(widths) == 1
        dollar_cells = {cell_len(line[: line.index("$")]) for line in lines}
        assert len(dollar_cells) > 1  # right-aligned amounts start at different cells ...
        ends = {cell_len(line[: line.index("$")]) + len(line[line.index("$") :].split()[0]) for line in lines}
        assert len(ends) == 1  # ... and end at the same one, CJK rows included
        assert screen.query_one("#accounts-count").content == "8 of 8 accounts"


async def test_search_as_you_type_by_name_or_id_and_escape(seeded_store) -> None:
    app = make_test_app(seeded_store, start="accounts")
    async with app.run_test(size=(120, 40)) as pilot:
        screen, table = await _accounts(app, pilot)
        await pilot.press("slash", *"énerg")
        await pilot.pause()
        assert _names(table) == ["Société Générale Énergie"]
        await pilot.press("escape")  # leaves the box, keeps the search
        assert table.has_focus and _names(table) == ["Société Générale Énergie"]
        await pilot.press("escape")  # clears it
        await pilot.pause()
        assert table.row_count == 8
        await pilot.press("slash", *"a06", "enter")
        await pilot.pause()
        assert _names(table) == ["東京精機株式会社"] and table.has_focus
        await pilot.press("slash", "ctrl+a", "backspace", *"zzz")
        await pilot.pause()
        assert table.row_count == 0 and "Nothing matches" in str(screen.query_one("#accounts-status").content)


async def test_sort_keys_and_header_click(seeded_store) -> None:
    app = make_test_app(seeded_store, start="accounts")
    async with app.run_test(size=(120, 40)) as pilot:
        screen, table = await _accounts(app, pilot)
        await pilot.press("s", "s", "s")  # ARR -> products -> risk -> expansion
        await pilot.pause()
        assert screen.query_state.sort == "expansion_text" and screen.query_state.descending
        assert table.shown["expansion"].to_pylist() == sorted(
            table.shown["expansion"].to_pylist(), reverse=True
        )
        assert "▼" in str(table.ordered_columns[6].label)
        await pilot.press("S")
        await pilot.pause()
        assert table.shown["expansion"].to_pylist() == sorted(table.shown["expansion"].to_pylist())
        assert await pilot.click(BookTable, offset=(3, 0))  # the Name header
        await pilot.pause()
        assert screen.query_state.sort == "name" and not screen.query_state.descending
        assert _names(table)[0] == "Acme Analytics"
        assert await pilot.click(BookTable, offset=(3, 0))
        await pilot.pause()
        assert screen.query_state.descending and _names(table)[0] == "東京精機株式会社"


async def test_filter_dialog_applies_and_x_clears(seeded_store) -> None:
    app = make_test_app(seeded_store, start="accounts")
    async with app.run_test(size=(120, 40)) as pilot:
        screen, table = await _accounts(app, pilot)
        await pilot.press("f")
        await pilot.pause()
        dialog = app.screen
        assert isinstance(dialog, AccountFilters)
        dialog.query_one("#segment").value = "mid-market"
        dialog.query_one("#product_held").value = "CRM"
        dialog.query_one("#renewal_within").value = "120"
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert app.screen is screen
        assert sorted(_names(table)) == ["Müller Logistik GmbH", "Northwind Traders"]
        status = str(screen.query_one("#accounts-status").content)
        assert "segment mid-market" in status and "holds CRM" in status and "within 120 days" in status
        await pilot.press("f")
        await pilot.pause()
        app.screen.query_one("#product_held").value = app.screen.query_one("#product_held").NULL
        app.screen.query_one("#product_not_held").value = "MAIL"
        app.screen.query_one("#renewal_within").value = ""
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert _names(table) == ["Müller Logistik GmbH"]
        await pilot.press("x")
        await pilot.pause()
        assert table.row_count == 8


async def test_filter_dialog_refuses_a_bad_day_count_and_escape_cancels(seeded_store) -> None:
    app = make_test_app(seeded_store, start="accounts")
    async with app.run_test(size=(120, 40)) as pilot:
        screen, table = await _accounts(app, pilot)
        await pilot.press("f")
        await pilot.pause()
        app.screen.query_one("#renewal_within").value = "-3"
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert isinstance(app.screen, AccountFilters)
        assert "whole number" in str(app.screen.query_one("#filters-error").content)
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen is screen and table.row_count == 8


async def test_save_and_recall_a_view(seeded_store) -> None:
    app = make_test_app(seeded_store, start="accounts")
    async with app.run_test(size=(120, 40)) as pilot:
        screen, table = await _accounts(app, pilot)
        screen.apply_query(BookQuery(segment="smb", sort="name", descending=False))
        await pilot.press("v")
        await pilot.pause()
        assert isinstance(app.screen, SavedViews)
        await pilot.press(*"Small ones", "enter")
        await pilot.pause()
        assert seeded_store.saved_views()["Small ones"] == {
            "segment": "smb",
            "sort": "name",
            "descending": False,
        }
        await pilot.press("x")
        await pilot.pause()
        assert table.row_count == 8
        await pilot.press("v")
        await pilot.pause()
        await pilot.press("enter")  # the list has focus when views exist: recall the first
        await pilot.pause()
        assert screen.query_state == BookQuery(segment="smb", sort="name", descending=False)
        assert _names(table) == ["Globex", "Initech", "東京精機株式会社"]
        await pilot.press("v")
        await pilot.pause()
        await pilot.press("delete")
        await pilot.pause()
        assert seeded_store.saved_views() == {}


async def test_enter_opens_the_brief_and_escape_comes_back(seeded_store) -> None:
    app = make_test_app(seeded_store, start="accounts")
    async with app.run_test(size=(120, 40)) as pilot:
        screen, table = await _accounts(app, pilot)
        await pilot.press("down", "down", "enter")
        await settle(app, pilot)
        assert type(app.screen).__name__ == "BriefScreen" and app.screen.account_id == "A01"
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen is screen and table.cursor_row == 2
        await pilot.press("enter")
        await settle(app, pilot)
        await pilot.press("2")  # the screen's own key also leaves the brief for the list
        await pilot.pause()
        assert app.screen is screen


async def test_double_click_opens_the_clicked_account(seeded_store) -> None:
    app = make_test_app(seeded_store, start="accounts")
    async with app.run_test(size=(120, 40)) as pilot:
        _screen, table = await _accounts(app, pilot)
        assert await pilot.click(BookTable, offset=(5, 4), times=2)  # the 4th row: Müller Logistik
        await settle(app, pilot)
        assert type(app.screen).__name__ == "BriefScreen" and app.screen.account_id == "A05"


async def test_the_list_reloads_after_a_recompute(seeded_store) -> None:
    app = make_test_app(seeded_store, start="accounts")
    async with app.run_test(size=(120, 40)) as pilot:
        screen, table = await _accounts(app, pilot)
        with seeded_store.writing() as conn:
            conn.execute("UPDATE scores SET quadrant = 'nurture', risk = 1 WHERE account_id = 'A02'")
        await pilot.press("r")
        await settle(app, pilot)
        row = table.shown["account_id"].to_pylist().index("A02")
        assert table.shown["quadrant"][row].as_py() == "nurture"


async def test_narrow_terminal_drops_columns_but_keeps_the_essentials(seeded_store) -> None:
    app = make_test_app(seeded_store, start="accounts")
    async with app.run_test(size=(80, 24)) as pilot:
        _screen, table = await _accounts(app, pilot)
        keys = [c.key for c in table.table_columns]
        assert "owner" not in keys and {"name", "arr_text", "quadrant", "renewal_text"} <= set(keys)
        assert table.virtual_size.width <= 80


def test_holders_come_from_active_subscriptions(seeded_store) -> None:
    holders = store_holders(seeded_store)
    assert sorted(holders("DESK")) == ["A01", "A06"]  # A05's Support Desk churned
    frame = pd.DataFrame(read_book(seeded_store, AS_OF).to_pylist())
    assert set(frame["account_id"]) >= set(holders("CRM"))


def test_an_account_that_churned_out_reads_churned_not_its_quadrant() -> None:
    table = pa.table(
        {
            "account_id": ["LIVE", "GONE", "UNSCORED"],
            "name": ["Live", "Gone", "Unscored"],
            "segment": ["smb"] * 3,
            "owner": ["Ana"] * 3,
            "arr": [1200.0, 0.0, 0.0],
            "products": [1, 0, 0],
            "risk": [20.0, 30.0, None],
            "expansion": [10.0, 5.0, None],
            "quadrant": ["nurture", "nurture", None],
            "renewal_date": ["2025-09-01", None, None],
        }
    )
    assert decorate(table, AS_OF)["quadrant"].to_pylist() == ["nurture", "churned", None]
    book = AccountBook(decorate(table, AS_OF))
    assert book.apply(BookQuery(quadrant="churned"))["account_id"].to_pylist() == ["GONE"]
