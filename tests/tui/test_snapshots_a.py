"""SVG snapshots of the screens helper A owns, at 120x40, on the frozen hand-made store.

Update after an intended change with ``pytest tests/tui/test_snapshots_a.py --snapshot-update``
and look at the SVGs before committing them.
"""

from __future__ import annotations

from conftest import make_test_app, settle

SIZE = (120, 40)


def _run(*steps):
    async def run_before(pilot) -> None:
        app = pilot.app
        await settle(app, pilot)
        for step in steps:
            result = step(app)
            if result is not None:
                await result
            await settle(app, pilot)

    return run_before


def test_accounts_screen(snap_compare, seeded_store) -> None:
    app = make_test_app(seeded_store, start="accounts")
    assert snap_compare(app, terminal_size=SIZE, run_before=_run())


def test_accounts_screen_searched_and_filtered(snap_compare, seeded_store) -> None:
    from tui.account_book import BookQuery

    app = make_test_app(seeded_store, start="accounts")
    assert snap_compare(
        app,
        terminal_size=SIZE,
        run_before=_run(
            lambda a: a.screen.apply_query(
                BookQuery(search="e", segment="mid-market", sort="name", descending=False)
            )
        ),
    )


def test_accounts_screen_80x24(snap_compare, seeded_store) -> None:
    app = make_test_app(seeded_store, start="accounts")
    assert snap_compare(app, terminal_size=(80, 24), run_before=_run())


def test_brief_screen(snap_compare, seeded_store) -> None:
    app = make_test_app(seeded_store, start="accounts")
    assert snap_compare(app, terminal_size=SIZE, run_before=_run(lambda a: a.open_account("A01")))


def test_help_screen(snap_compare, seeded_store) -> None:
    app = make_test_app(seeded_store, start="accounts")
    assert snap_compare(app, terminal_size=SIZE, run_before=_run(lambda a: a.action_help()))


def test_demo_offer_on_an_empty_store(snap_compare, empty_store) -> None:
    app = make_test_app(empty_store)
    assert snap_compare(app, terminal_size=SIZE, run_before=_run())
