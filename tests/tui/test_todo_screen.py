"""The to-do screen: every key action saves to the store at once, updates the row in place, and survives a recompute."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pandas as pd
import pytest
from rich.console import Console
from seed_b import AS_OF, NOW, build_store, stub_recompute
from textual.app import App
from textual.widgets import Static

from core.store import Store, StoreError
from tui.app import QUADRANT_COLOURS, make_app
from tui.dialogs.note import NoteDialog
from tui.dialogs.outcome import OutcomeDialog
from tui.dialogs.owner_pick import OwnerPickDialog
from tui.dialogs.snooze import SnoozeDialog, add_month, parse_snooze_date
from tui.screens.todo import TodoScreen, quadrant_title
from tui.widgets.todo_detail import TodoDetailView
from tui.widgets.todo_list import CapDivider, TodoList
from tui.widgets.todo_row import TodoRow, render_todo_row
from tui.widgets.user_text import clean


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return build_store(tmp_path / "store.db")


def app_for(store: Store, recompute_job=stub_recompute):
    return make_app(store, as_of=AS_OF, now=lambda: NOW, recompute_job=recompute_job)


async def settle(app, pilot) -> None:
    await pilot.pause()
    await app.workers.wait_for_complete()
    await pilot.pause()


def screen_of(app) -> TodoScreen:
    screen = app.screen
    assert isinstance(screen, TodoScreen)
    return screen


def ids(todo_list: TodoList) -> list[str]:
    return [line.todo_id if isinstance(line, TodoRow) else "|cap|" for line in todo_list.lines]


def status(store: Store, todo_id: str) -> dict:
    return store.todos("WHERE todo_id = ?", [todo_id]).iloc[0].to_dict()


def plain(renderable, width: int = 100) -> str:
    console = Console(width=width, record=True, color_system=None, legacy_windows=False)
    console.print(renderable)
    return console.export_text()


async def test_quadrants_sorted_with_counts_arr_and_the_cap_line(store: Store) -> None:
    app = app_for(store)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        screen = screen_of(app)
        assert ids(screen.list_for("fix-and-expand")) == ["t01", "t02"]
        assert ids(screen.list_for("rescue")) == ["t03", "t04"]
        assert ids(screen.list_for("expand")) == ["t05", "|cap|", "t06"]
        assert ids(screen.list_for("nurture")) == ["t07", "|cap|", "t08"]  # t09 is done: hidden
        assert screen.list_for("fix-and-expand").border_title == "Fix & expand · 2 to-dos · $370,000 ARR"
        assert screen.list_for("nurture").border_title == "Nurture · 2 to-dos · $20,400 ARR"
        divider = screen.list_for("expand").lines[1]
        assert isinstance(divider, CapDivider) and divider.label == "daily cap (15 per owner)"
        assert screen.focused is screen.list_for("fix-and-expand")


async def test_done_asks_the_outcome_of_sales_to_dos_only(store: Store) -> None:
    app = app_for(store)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        await pilot.press("d")
        await pilot.pause()
        assert isinstance(app.screen, OutcomeDialog)  # t01 is a cross-sell
        await pilot.press("escape")  # cancels the whole action
        await pilot.pause()
        assert status(store, "t01")["status"] == "open"
        await pilot.press("d", "w")
        await pilot.pause()
        saved = status(store, "t01")
        assert (saved["status"], saved["outcome"]) == ("done", "won")
        assert store.todo_events("t01").iloc[-1]["source"] == "tui"
        row = screen_of(app).list_for("fix-and-expand").rows[0]
        assert (row.todo_id, row.status, row.outcome) == ("t01", "done", "won")
        assert screen_of(app).list_for("fix-and-expand").border_title.startswith("Fix & expand · 1 to-do ·")
        await pilot.press("down", "d")  # t02 is a renewal call: no question
        await pilot.pause()
        assert isinstance(app.screen, TodoScreen) and status(store, "t02")["status"] == "done"
        await pilot.press("down", "d", "s")  # below the last row: expand, t05 seat-upsell, outcome skipped
        await pilot.pause()
        saved = status(store, "t05")
        assert saved["status"] == "done" and saved["outcome"] is None


async def test_snooze_validates_the_date_and_offers_quick_picks(store: Store) -> None:
    app = app_for(store)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        await pilot.press("down", "s")
        await pilot.pause()
        dialog = app.screen
        assert isinstance(dialog, SnoozeDialog)
        field = dialog.query_one("#snooze-input")
        field.value = "2025-02-30"
        await pilot.press("enter")
        await pilot.pause()
        assert app.screen is dialog
        assert "YYYY-MM-DD" in str(dialog.query_one("#snooze-error").render())
        field.value = AS_OF.isoformat()
        await pilot.press("enter")
        await pilot.pause()
        assert "after 2025-06-30" in str(dialog.query_one("#snooze-error").render())
        field.value = "2025-07-09"
        await pilot.press("enter")
        await pilot.pause()
        saved = status(store, "t02")
        assert (saved["status"], saved["snoozed_until"]) == ("snoozed", "2025-07-09")
        # a quick pick on another to-do: +1 month
        await pilot.press("right", "s")
        await pilot.pause()
        await pilot.click("#snooze-month")
        await pilot.pause()
        assert status(store, "t03")["snoozed_until"] == "2025-07-30"


def test_snooze_date_rules() -> None:
    assert add_month(date(2025, 1, 31)) == date(2025, 2, 28)
    assert add_month(date(2024, 12, 15)) == date(2025, 1, 15)
    assert parse_snooze_date(" 2025-07-01 ", AS_OF) == date(2025, 7, 1)
    with pytest.raises(ValueError, match="after"):
        parse_snooze_date("2025-06-30", AS_OF)
    with pytest.raises(ValueError, match="YYYY-MM-DD"):
        parse_snooze_date("next week", AS_OF)


async def test_dismiss_saves_and_dims_the_row_in_place(store: Store) -> None:
    app = app_for(store)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        await pilot.press("right", "x")
        await pilot.pause()
        assert status(store, "t03")["status"] == "dismissed"
        rescue = screen_of(app).list_for("rescue")
        assert ids(rescue) == ["t03", "t04"]  # still shown, in place, until the next reload
        assert rescue.rows[0].status == "dismissed"
        assert "×" in render_todo_row(rescue.rows[0], 60).plain


async def test_note_saves_and_shows_hostile_text_literally(store: Store) -> None:
    app = app_for(store)
    hostile = "[red]call[/red] 東京 \x1b[2J ok"
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        await pilot.press("n")
        await pilot.pause()
        dialog = app.screen
        assert isinstance(dialog, NoteDialog)
        dialog.query_one("#note-text").text = hostile
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert status(store, "t01")["note"] == hostile
        row = screen_of(app).list_for("fix-and-expand").highlighted_row
        assert row is not None and row.note == hostile
        shown = plain(TodoDetailView(row, ["Step one"], "Cross-sell"))
        assert "[red]call[/red] 東京 \ufffd[2J ok" in shown
        assert "1. Step one" in shown and "Why" in shown
        # cancelling leaves the note as it was
        await pilot.press("n", "escape")
        await pilot.pause()
        assert status(store, "t01")["note"] == hostile


async def test_undo_reverts_the_last_change_made_here(store: Store) -> None:
    app = app_for(store)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        await pilot.press("down", "d", "up", "x")
        await pilot.pause()
        assert status(store, "t02")["status"] == "done"
        assert status(store, "t01")["status"] == "dismissed"
        await pilot.press("u")
        await pilot.pause()
        assert status(store, "t01")["status"] == "open"
        assert status(store, "t02")["status"] == "done"
        await pilot.press("u")
        await pilot.pause()
        assert status(store, "t02")["status"] == "open"
        assert [r.status for r in screen_of(app).list_for("fix-and-expand").rows] == ["open", "open"]
        assert list(store.todo_events("t02")["action"]) == ["done", "undo"]


async def test_owner_filter_cycles_and_is_remembered(store: Store) -> None:
    app = app_for(store)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        await pilot.press("o")
        await settle(app, pilot)
        screen = screen_of(app)
        assert screen.owner == "Alice Chen"
        every = [
            i for q in ("fix-and-expand", "rescue", "expand", "nurture") for i in ids(screen.list_for(q))
        ]
        assert every == ["t01", "t03", "|cap|", "t06"]  # t06 stays under her cap line, even alone
        assert screen.list_for("expand").highlighted_row.todo_id == "t06"
        assert store.settings()["ui.todo_owner"] == "Alice Chen"
        assert "Alice Chen's book" in str(screen.query_one("#todo-filter").render())
    again = app_for(store)
    async with again.run_test(size=(120, 40)) as pilot:
        await settle(again, pilot)
        assert screen_of(again).owner == "Alice Chen"
        assert ids(screen_of(again).list_for("rescue")) == ["t03"]
        await pilot.press("o")  # Bob has nothing in fix-and-expand: focus moves to a list with work
        await settle(again, pilot)
        assert screen_of(again).focused is screen_of(again).list_for("expand")
        await pilot.press("o", "o")  # 山田, then everyone again
        await settle(again, pilot)
        assert screen_of(again).owner == ""
        assert store.settings()["ui.todo_owner"] is None


async def test_the_filter_line_says_loading_until_the_switched_book_is_read(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Everyone's to-dos take seconds on a big book: the line must not claim the old book meanwhile."""
    import threading

    from tui.screens import todo as todo_module

    release = threading.Event()
    read = todo_module.load_todos

    def held(*args, **kwargs):
        release.wait(10)
        return read(*args, **kwargs)

    app = app_for(store)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        screen = screen_of(app)
        line = screen.query_one("#todo-filter")
        assert str(line.render()).startswith("Showing everyone's to-dos")
        monkeypatch.setattr(todo_module, "load_todos", held)
        await pilot.press("o")
        await pilot.pause()
        assert str(line.render()).startswith("Showing everyone's to-dos")  # no flash for a quick read
        await pilot.pause(todo_module.LOADING_DELAY + 0.1)
        assert str(line.render()) == "Loading Alice Chen's book · open only…"
        assert ids(screen.list_for("rescue")) != ["t03"]  # still the previous lists
        release.set()
        await settle(app, pilot)
        assert str(line.render()).startswith("Showing Alice Chen's book (o next owner")
        assert ids(screen.list_for("rescue")) == ["t03"]


async def test_a_failed_read_says_so_and_the_line_names_the_book_still_shown(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tui.screens import todo as todo_module

    def broken(*args, **kwargs):
        raise OSError("disk I/O error")

    app = app_for(store)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        screen = screen_of(app)
        before = ids(screen.list_for("rescue"))
        monkeypatch.setattr(todo_module, "load_todos", broken)
        await pilot.press("o")
        await settle(app, pilot)
        await pilot.pause(todo_module.LOADING_DELAY + 0.1)  # the loading line's timer is stopped too
        assert str(screen.query_one("#todo-filter").render()).startswith("Showing everyone's to-dos")
        assert ids(screen.list_for("rescue")) == before
        assert any("disk I/O error" in str(n.message) for n in app._notifications)


async def test_a_slow_read_that_a_newer_one_replaced_is_dropped(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """o twice: Alice's book is read slowly, Bob's at once; Alice's, arriving last, must not win."""
    import threading

    from tui.screens import todo as todo_module

    release = threading.Event()
    read = todo_module.load_todos

    def alice_slowly(store_, owner, show_hidden):
        if owner == "Alice Chen":
            release.wait(10)
        return read(store_, owner, show_hidden)

    app = app_for(store)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        monkeypatch.setattr(todo_module, "load_todos", alice_slowly)
        await pilot.press("o", "o")
        await pilot.pause(0.3)
        screen = screen_of(app)
        assert screen.owner == "Bob Martin"
        release.set()
        await settle(app, pilot)
        assert screen.owner == "Bob Martin"
        assert "Bob Martin's book" in str(screen.query_one("#todo-filter").render())


async def test_pick_owner_by_typing_then_open_an_account(store: Store) -> None:
    app = app_for(store)
    opened: list[str] = []
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        app.open_account = opened.append  # the brief screen belongs to the other helper
        await pilot.press("O")
        await pilot.pause()
        assert isinstance(app.screen, OwnerPickDialog)
        await pilot.press("山", "田", "enter")
        await settle(app, pilot)
        screen = screen_of(app)
        assert screen.owner == "山田 太郎"
        assert ids(screen.list_for("rescue")) == ["t04"] and ids(screen.list_for("fix-and-expand")) == ["t02"]
        assert screen.list_for("expand").lines == []
        await pilot.press("right", "enter")
        await pilot.pause()
        assert opened == ["A06"]


async def test_h_shows_and_hides_closed_to_dos(store: Store) -> None:
    app = app_for(store)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        await pilot.press("h")
        await settle(app, pilot)
        nurture = screen_of(app).list_for("nurture")
        assert ids(nurture) == ["t07", "t09", "|cap|", "t08"]
        assert nurture.rows[1].status == "done" and nurture.rows[1].note == "met the CFO"
        await pilot.press("h")
        await settle(app, pilot)
        assert "t09" not in ids(screen_of(app).list_for("nurture"))


async def test_failed_save_says_why_and_keeps_the_row(store: Store, monkeypatch) -> None:
    app = app_for(store)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)

        def locked(*args, **kwargs):
            raise StoreError("The store is locked by another program; try again in a moment.")

        monkeypatch.setattr(store, "change_todo", locked)
        await pilot.press("x")
        await pilot.pause()
        assert status(store, "t01")["status"] == "open"
        assert screen_of(app).list_for("fix-and-expand").rows[0].status == "open"
        messages = [n.message for n in app._notifications]
        assert any("Could not save (dismiss)" in m and "locked" in m for m in messages)
        assert screen_of(app).undo_stack == []


async def test_arrows_and_tab_move_between_quadrants(store: Store) -> None:
    app = app_for(store)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        screen = screen_of(app)
        await pilot.press("right")
        assert screen.focused is screen.list_for("rescue")
        await pilot.press("down", "down")  # past the last row: into the quadrant below
        assert screen.focused is screen.list_for("nurture")
        assert screen.list_for("nurture").highlighted_row.todo_id == "t07"
        await pilot.press("left")
        assert screen.focused is screen.list_for("expand")
        await pilot.press("up")
        assert screen.focused is screen.list_for("fix-and-expand")
        assert screen.list_for("fix-and-expand").highlighted_row.todo_id == "t02"
        await pilot.press("tab")
        assert screen.focused is screen.list_for("rescue")
        await pilot.press("down", "down", "down")  # the cap divider is skipped
        expand = screen.list_for("nurture")
        assert screen.focused is expand and expand.highlighted_row.todo_id == "t08"
        await pilot.pause()
        body = plain(screen.query_one("#todo-detail-body", Static).content)
        assert "Quarterly review" in body and "No meeting for 200 days." in body


async def test_j_and_k_move_like_the_arrows(store: Store) -> None:
    app = app_for(store)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        screen = screen_of(app)
        await pilot.press("right", "j", "j")  # as down, down: past the last row into the quadrant below
        assert screen.focused is screen.list_for("nurture")
        assert screen.list_for("nurture").highlighted_row.todo_id == "t07"
        await pilot.press("left", "k")
        assert screen.focused is screen.list_for("fix-and-expand")
        assert screen.list_for("fix-and-expand").highlighted_row.todo_id == "t02"


def regenerate(store: Store, as_of: date, progress) -> None:
    """A recompute's save step with the real reconcile and daily cap: to-dos generated afresh."""
    from core.scoring import apply_daily_cap, reconcile

    generated = store.todos()[
        [
            "todo_id",
            "account_id",
            "kind",
            "product_id",
            "quadrant",
            "title",
            "reason",
            "priority_score",
            "due",
            "playbook",
        ]
    ]
    generated = generated.assign(title=generated["title"] + " (refreshed)", evidence_at="2025-06-01")
    accounts = store.query("SELECT account_id, owner FROM accounts")
    settings = store.settings()

    def merge(existing: pd.DataFrame, fresh: pd.DataFrame) -> pd.DataFrame:
        return apply_daily_cap(reconcile(existing, fresh, pd.Timestamp(as_of)), accounts, settings)

    store.write_results({}, generated, merge)


async def test_done_and_note_survive_a_recompute(store: Store) -> None:
    app = app_for(store, recompute_job=regenerate)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        await pilot.press("down", "n")
        await pilot.pause()
        app.screen.query_one("#note-text").text = "spoke to Ana; renewal agreed"
        await pilot.press("ctrl+s", "d")
        await pilot.pause()
        assert status(store, "t02")["status"] == "done"
        await pilot.press("r")
        await settle(app, pilot)
        await settle(app, pilot)
        saved = status(store, "t02")
        assert (saved["status"], saved["note"]) == ("done", "spoke to Ana; renewal agreed")
        assert saved["title"].endswith("(refreshed)")
        screen = screen_of(app)
        assert ids(screen.list_for("fix-and-expand")) == ["t01"]  # reloaded: done is hidden now
        assert screen.list_for("fix-and-expand").rows[0].title.endswith("(refreshed)")
        await pilot.press("h")
        await settle(app, pilot)
        row = next(r for r in screen.list_for("fix-and-expand").rows if r.todo_id == "t02")
        assert (row.status, row.note) == ("done", "spoke to Ana; renewal agreed")


def test_rows_align_cjk_and_crop_hostile_text_to_the_width() -> None:
    names = [
        "東京精密工業株式会社",
        "Société Générale",
        "[bold]x[/bold]\x07",
        "Rocket 🚀 Labs",
        "شركة المثال",
    ]
    from rich.cells import cell_len

    for width in (38, 56, 80, 120):
        lines = [
            render_todo_row(
                TodoRow(
                    todo_id=str(i), account_id="A", name=n, kind="qbr", title="T" * 200, due="2025-07-01"
                ),
                width,
                AS_OF,
            )
            for i, n in enumerate(names)
        ]
        assert {cell_len(line.plain) for line in lines} == {width}
        due_columns = {cell_len(line.plain[: line.plain.rindex("07-01")]) for line in lines}
        assert len(due_columns) == 1  # the due dates line up whatever the name's script
    assert clean("a\x1b[31mb\nc\u202ed") == "a\ufffd[31mb cd"


def test_quadrant_title_counts_open_to_dos_and_distinct_account_arr() -> None:
    rows = [
        TodoRow(todo_id="1", account_id="A", arr=100.0),
        TodoRow(todo_id="2", account_id="A", arr=100.0),
        TodoRow(todo_id="3", account_id="B", arr=50.0),
        TodoRow(todo_id="4", account_id="C", arr=1000.0, status="done"),
    ]
    assert quadrant_title("rescue", rows, "USD") == "Rescue · 3 to-dos · $150 ARR"
    assert quadrant_title("expand", [], "USD") == "Expand · 0 to-dos · $0 ARR"
    assert quadrant_title("rescue", rows, "USD", width=32) == "Rescue · 3 to-dos · $150 ARR"
    assert quadrant_title("rescue", rows, "USD", width=31) == "Rescue 3 · $150"


class BareApp(App):
    """Just enough app for one screen: what TodoScreen reads from ``self.app``."""

    def __init__(self, store: Store) -> None:
        super().__init__()
        self.store, self.as_of, self.now = store, AS_OF, lambda: NOW

    def get_theme_variable_defaults(self) -> dict[str, str]:
        return {**super().get_theme_variable_defaults(), **QUADRANT_COLOURS}

    def on_mount(self) -> None:
        self.push_screen(TodoScreen())


async def test_empty_store_says_how_to_fill_it(tmp_path: Path) -> None:
    app = BareApp(build_store(tmp_path / "empty.db", todos=False, results=False))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        todo_list = screen_of(app).list_for("rescue")
        assert todo_list.lines == [] and todo_list.empty_text == "No to-dos yet — press r to recompute."
        assert screen_of(app).list_for("rescue").border_title == "Rescue · 0 to-dos · $0 ARR"


def test_overdue_due_dates_are_marked() -> None:
    late = TodoRow(todo_id="1", account_id="A", name="n", due=(AS_OF - timedelta(days=2)).isoformat())
    text = render_todo_row(late, 80, AS_OF)
    assert any("red" in str(span.style) for span in text.spans)


@pytest.mark.slow
async def test_done_and_note_survive_the_real_recompute(tmp_path: Path) -> None:
    """The whole path on a generated demo book: mark done with a note in the TUI, press r, still done."""
    pytest.importorskip("fixtures.demo")
    from core.importer import open_portfolio
    from core.recompute import recompute
    from fixtures.demo import generate

    generate(tmp_path / "demo", accounts=60, seed=3, as_of=AS_OF)
    store = Store(tmp_path / "demo.db")
    store.import_portfolio(open_portfolio(tmp_path / "demo"))
    recompute(store, AS_OF)
    app = make_app(store, as_of=AS_OF, now=lambda: NOW)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        screen = screen_of(app)
        quadrant = next(
            q for q in ("fix-and-expand", "rescue", "expand", "nurture") if screen.list_for(q).rows
        )
        todo_list = screen.list_for(quadrant)
        todo_list.focus()
        row = todo_list.highlighted_row
        await pilot.press("n")
        await pilot.pause()
        app.screen.query_one("#note-text").text = "agreed next steps with Ana"
        await pilot.press("ctrl+s", "d")
        await pilot.pause()
        if isinstance(app.screen, OutcomeDialog):
            await pilot.press("l")
            await pilot.pause()
        assert status(store, row.todo_id)["status"] == "done"
        await pilot.press("r")
        await settle(app, pilot)
        await app.workers.wait_for_complete()
        await settle(app, pilot)
        assert not app.busy
        saved = status(store, row.todo_id)
        assert (saved["status"], saved["note"]) == ("done", "agreed next steps with Ana")
        assert row.todo_id not in {r.todo_id for r in screen.list_for(quadrant).rows}  # reloaded: hidden
