"""The `quadrant` command line (spec/cli.md): headless commands, and the door to the TUI.

Every user mistake ends in a one-paragraph message on stderr and exit 1
(bad input) or 2 (bad usage), never a traceback.
"""

from __future__ import annotations

import argparse
import sys
from datetime import date
from pathlib import Path

from rich.console import Console

from core.store import Store, StoreError

err = Console(stderr=True, highlight=False, soft_wrap=True)
out = Console(highlight=False, soft_wrap=True)


class UserError(Exception):
    """A mistake the user can fix; printed without a traceback, exit 1."""


class UsageError(UserError):
    """The command was called wrongly (a missing option, an unknown name): exit 2, as argparse does."""


def _add_db(parser: argparse.ArgumentParser, top: bool = False) -> None:
    parser.add_argument(
        "--db",
        metavar="PATH",
        default=None if top else argparse.SUPPRESS,
        help="store file (default: $QUADRANT_DB, else quadrant.db in the user data folder)",
    )


def _add_as_of(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--as-of", metavar="DATE", default=argparse.SUPPRESS, help="analyse as of this date (YYYY-MM-DD)"
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="quadrant", description="What to do today, for which customer, and why."
    )
    _add_db(parser, top=True)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("demo", help="write the demo portfolio into the store, recompute, open the app")
    p.add_argument("--accounts", type=int, default=500, metavar="N")
    p.add_argument("--seed", type=int, default=7, metavar="S")
    p.add_argument("--products", type=int, default=None, metavar="N", help="catalogue size (default 16)")
    p.add_argument("--no-tui", action="store_true", help="stop after writing")
    _add_as_of(p)

    p = sub.add_parser("import", help="import a portfolio folder, then recompute")
    p.add_argument("folder", type=Path)
    p.add_argument("--encoding", default=None, help="file encoding (default: detect UTF-8 / GB18030)")
    p.add_argument("--no-recompute", action="store_true")
    _add_as_of(p)

    p = sub.add_parser("recompute", help="rerun every analysis on the store")
    _add_as_of(p)

    p = sub.add_parser("export", help="print one table to stdout")
    p.add_argument("table")
    p.add_argument("--format", choices=("csv", "json"), default="csv")
    p.add_argument("--account", metavar="ID")
    p.add_argument("--owner", metavar="NAME")
    p.add_argument("--segment", default=None, help="rules: a segment's rule set (default: all accounts)")

    p = sub.add_parser("todo", help="change a to-do's state: done, snooze, dismiss, reopen")
    p.add_argument("action", choices=("done", "snooze", "dismiss", "reopen", "note", "outcome"))
    p.add_argument("todo_id")
    p.add_argument("--until", metavar="DATE")
    p.add_argument("--note", metavar="TEXT")
    p.add_argument("--outcome", choices=("won", "lost", "no-decision"))

    p = sub.add_parser("brief", help="print an account brief for call prep")
    p.add_argument("account_id")
    p.add_argument("--width", type=int, default=None)
    _add_as_of(p)

    p = sub.add_parser("backtest", help="how well would the suggestions have predicted purchases")
    p.add_argument("--months", type=int, default=6)
    _add_as_of(p)

    p = sub.add_parser("settings", help="show or change a setting")
    p.add_argument("key", nargs="?")
    p.add_argument("value", nargs="?")
    p.add_argument("--reset", action="store_true")

    p = sub.add_parser("backup", help="copy the store to PATH (online, consistent)")
    p.add_argument("path", type=Path)
    p = sub.add_parser("restore", help="replace the store with a backup")
    p.add_argument("path", type=Path)

    p = sub.add_parser("serve", help="serve the app in a web browser on localhost")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--host", default="localhost")

    for name, subparser in sub.choices.items():
        _add_db(subparser)
        del name
    return parser


def parse_date(text: str, flag: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise UserError(f"{flag} expects a date as YYYY-MM-DD, got {text!r}.") from None


def as_of_for(args: argparse.Namespace, store: Store) -> date:
    """The analysis date: --as-of, else the store's `as_of` setting, else today."""
    if getattr(args, "as_of", None):
        return parse_date(args.as_of, "--as-of")
    frozen = store.settings().get("as_of")
    return parse_date(frozen, "setting as_of") if frozen else date.today()


def open_store(args: argparse.Namespace) -> Store:
    return Store.open_default(args.db)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        from tui import commands

        handler = getattr(commands, f"cmd_{(args.command or 'app').replace('-', '_')}")
        return int(handler(args) or 0)
    except (UserError, StoreError) as error:
        err.print(f"[bold red]quadrant:[/] {error}")
        return 2 if isinstance(error, UsageError) else 1
    except KeyboardInterrupt:
        err.print("quadrant: interrupted; nothing half-written was kept.")
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    # Through the imported module, not this __main__ copy: its error classes are the ones commands raise.
    from tui.cli import main as imported_main

    sys.exit(imported_main())
