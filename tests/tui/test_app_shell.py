"""The app shell: start-up routing, screen keys, help, palette, recompute worker, demo offer, theme."""

from __future__ import annotations

from conftest import AS_OF, FakeJob, make_test_app, seed_book, settle

from core.store import Store
from tui.dialogs.demo_offer import DemoOfferDialog
from tui.screens import SCREENS
from tui.screens.help import HelpScreen


async def test_opens_on_todo_when_the_store_has_todos_and_header_shows_store_and_time(seeded_store) -> None:
    app = make_test_app(seeded_store)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        assert app.current_mode == "todo"
        assert app.store_summary == "book.db · 8 accounts · 5 products · 2 open to-dos"
        assert app.status == f"as of {AS_OF.isoformat()} · computed 7 min ago"


async def test_opens_on_accounts_when_there_are_no_todos(tmp_path) -> None:
    store = Store(tmp_path / "plain.db")
    seed_book(store, with_results=False)
    app = make_test_app(store)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        assert app.current_mode == "accounts"
        assert "not computed yet" in app.status


async def test_keys_1_to_5_switch_screens_and_back(seeded_store) -> None:
    app = make_test_app(seeded_store)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        for entry in [*SCREENS[1:], SCREENS[0]]:
            await pilot.press(entry.key)
            await settle(app, pilot)
            assert app.current_mode == entry.name
            assert not app.screen.is_modal


async def test_question_mark_lists_every_binding_and_closes(seeded_store) -> None:
    app = make_test_app(seeded_store, start="accounts")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        described = {what for _where, _keys, what in app.screen.rows}
        assert {"Recompute", "Help", "To-do", "Settings", "Search", "Filter", "Views", "Sort"} <= described
        await pilot.press("question_mark")
        await pilot.pause()
        assert not isinstance(app.screen, HelpScreen)
        assert app.current_mode == "accounts"


async def test_palette_opens_an_account_by_name(seeded_store) -> None:
    app = make_test_app(seeded_store, start="accounts")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"Société")
        for _ in range(20):  # the palette searches in the background; wait for its hit, not a fixed time
            await pilot.pause(0.05)
            if "Open account" in str(
                app.screen.query("CommandList").first().get_option_at_index(0).prompt
                if app.screen.query("CommandList").first().option_count
                else ""
            ):
                break
        await pilot.press("enter")
        await settle(app, pilot)
        assert type(app.screen).__name__ == "BriefScreen"
        assert app.screen.account_id == "A03"


async def test_recompute_runs_in_a_worker_while_the_screens_stay_responsive(seeded_store) -> None:
    job = FakeJob()
    app = make_test_app(seeded_store, recompute_job=job, start="accounts")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        await pilot.press("r")
        assert job.started.wait(5)
        await pilot.pause()
        assert app.busy and app.status.startswith("⟳ recomputing")
        await pilot.press("question_mark", "escape")  # the UI answers while the worker is blocked
        await pilot.pause()
        assert app.current_mode == "accounts" and not app.screen.is_modal
        await pilot.press("slash", "g", "l", "o")
        await pilot.pause()
        assert app.screen.query_one("#accounts-search").value == "glo"
        await pilot.press("r")  # a second run is refused while one is going
        assert job.calls == 1
        job.release.set()
        await settle(app, pilot)
        assert not app.busy
        assert app.status.endswith("computed 7 min ago")


async def test_a_failed_recompute_says_so_and_keeps_the_results(seeded_store) -> None:
    job = FakeJob(fail="the rules step ran out of memory")
    job.release.set()
    app = make_test_app(seeded_store, recompute_job=job, start="accounts")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        await pilot.press("r")
        await settle(app, pilot)
        assert not app.busy
        assert app.status.startswith("recompute failed, last good results kept")
        assert any("out of memory" in n.message for n in app._notifications)
        assert seeded_store.scalar("SELECT count(*) FROM scores") == 8


async def test_an_empty_store_offers_the_demo_and_loads_it_on_yes(empty_store) -> None:
    calls = []

    def fake_demo(store, as_of, progress):
        calls.append(as_of)
        progress("importing the demo", 1, 3)
        seed_book(store)
        return None

    app = make_test_app(empty_store, demo_job=fake_demo)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        assert isinstance(app.screen, DemoOfferDialog)
        await pilot.press("y")
        await settle(app, pilot)
        assert calls == [AS_OF]
        assert app.current_mode == "accounts"
        assert "8 accounts" in app.store_summary
        assert app.screen.query_one("#accounts-count").content == "8 of 8 accounts"


async def test_declining_the_demo_leaves_an_empty_list_that_says_what_to_do(empty_store) -> None:
    app = make_test_app(empty_store)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        await pilot.press("n")
        await settle(app, pilot)
        assert not isinstance(app.screen, DemoOfferDialog)
        assert "quadrant import" in str(app.screen.query_one("#accounts-status").content)


async def test_theme_choice_is_remembered_in_the_store(seeded_store) -> None:
    app = make_test_app(seeded_store, start="accounts")
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        app.theme = "nord"
        await pilot.pause()
    assert seeded_store.settings()["ui.theme"] == "nord"
    again = make_test_app(seeded_store, start="accounts")
    async with again.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        assert again.theme == "nord"


async def test_q_quits(seeded_store) -> None:
    app = make_test_app(seeded_store, start="accounts")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        await pilot.press("q")
        await pilot.pause()
    assert app.return_code == 0
