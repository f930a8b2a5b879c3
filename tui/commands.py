"""One handler per `quadrant` command; each returns the exit status."""

from __future__ import annotations

import argparse
import csv
import json
import math
import shlex
import sys
import tempfile
from datetime import date
from pathlib import Path

from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

from core.exports import export_query, table_names
from core.settings import DESCRIPTIONS
from core.store import Store
from tui.cli import UsageError, UserError, as_of_for, err, open_store, out, parse_date


def _import_folder(store: Store, folder: Path, encoding: str | None) -> dict:
    """Validate and write a folder, with a progress bar on the terminal; errors become UserError."""
    from core.importer import ImportFailed, open_portfolio

    if not folder.is_dir():
        raise UserError(f"{folder} is not a folder: `quadrant import` reads a folder of CSV files.")
    try:
        reader = open_portfolio(folder, encoding=encoding)
        with Progress(
            TextColumn("importing"),
            BarColumn(),
            DownloadColumn(),
            TimeRemainingColumn(),
            console=err,
            transient=True,
            disable=not err.is_terminal,
        ) as bar:
            task = bar.add_task("import", total=None)

            def advance(done: int, total: int) -> None:
                bar.update(task, completed=done, total=total)

            written = store.import_portfolio(reader, progress=advance)
    except ImportFailed as failure:
        raise UserError(f"{failure}\nNothing was imported; the store is unchanged.") from None
    for warning in reader.warnings:
        err.print(f"[yellow]warning:[/] {warning}")
    return written


def _recompute(store: Store, as_of: date) -> None:
    from core.recompute import recompute

    with err.status("recomputing…", spinner="dots") if err.is_terminal else _null():
        report = recompute(store, as_of)
    out.print(report.describe())


class _null:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


def cmd_app(args: argparse.Namespace) -> int:
    store = open_store(args)
    from tui.app import run_app

    run_app(store)
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from fixtures.demo import generate

    if args.accounts < 1:
        raise UserError("--accounts must be at least 1.")
    store = open_store(args)
    as_of = as_of_for(args, store)
    with tempfile.TemporaryDirectory(prefix="quadrant-demo-") as folder:
        kwargs = {"accounts": args.accounts, "seed": args.seed, "as_of": as_of}
        if args.products:
            kwargs["products"] = args.products
        generate(Path(folder), **kwargs)
        written = _import_folder(store, Path(folder), None)
    out.print(
        f"Demo portfolio written: {written.get('accounts', 0):,} accounts, "
        f"{written.get('usage', 0):,} usage rows into {store.path}"
    )
    _recompute(store, as_of)
    if not args.no_tui:
        from tui.app import run_app

        run_app(store)
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    store = open_store(args)
    written = _import_folder(store, args.folder, args.encoding)
    summary = ", ".join(f"{n:,} {t}" for t, n in written.items())
    out.print(f"Imported {args.folder}: {summary or 'nothing new'}.")
    if not args.no_recompute:
        _recompute(store, as_of_for(args, store))
    return 0


def cmd_recompute(args: argparse.Namespace) -> int:
    store = open_store(args)
    _recompute(store, as_of_for(args, store))
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    if args.table not in table_names():
        raise UsageError(f"Unknown table {args.table!r}; expected one of: {', '.join(table_names())}.")
    store = open_store(args)
    filters = {"account": args.account, "owner": args.owner, "segment": args.segment}
    sql, params, columns = export_query(store, args.table, **filters)
    write = write_json if args.format == "json" else write_csv
    write(sys.stdout, columns, store.batches(sql, params))
    return 0


def write_json(out, columns: list[str], batches) -> None:
    """An array of records, one per line, as they come; an infinity (a rule's conviction) is null.

    One line per record keeps a big table greppable, and lets the C encoder do the work:
    the suggestions at 100,000 accounts print in seconds, not as one 1 GB frame.
    """
    encode = json.JSONEncoder(ensure_ascii=False, allow_nan=False).encode
    out.write("[")
    separator = "\n"
    for rows in batches:
        records = [dict(zip(columns, row, strict=True)) for row in rows]
        try:
            lines = [encode(record) for record in records]
        except ValueError:  # infinities are no JSON: this batch holds one
            lines = [encode({k: _finite(v) for k, v in record.items()}) for record in records]
        if lines:
            out.write(separator + ",\n".join(lines))
            separator = ",\n"
    out.write("\n]\n")


def _finite(value):
    return None if isinstance(value, float) and not math.isfinite(value) else value


def write_csv(out, columns: list[str], batches) -> None:
    """A header row, then the rows, as they come; None prints empty.

    A text with a bare carriage return is quoted as well (the csv module quotes only the
    line terminator's characters, and ours is a bare newline): its row is written with every
    text quoted, so a reader never splits it.
    """
    plain = csv.writer(out, lineterminator="\n")
    quoted = csv.writer(out, lineterminator="\n", quoting=csv.QUOTE_NONNUMERIC)
    plain.writerow(columns)
    for rows in batches:
        if any("\r" in value for row in rows for value in row if isinstance(value, str)):
            for row in rows:
                (quoted if any(isinstance(v, str) and "\r" in v for v in row) else plain).writerow(row)
        else:
            plain.writerows(rows)


def cmd_todo(args: argparse.Namespace) -> int:
    if args.action == "snooze" and not args.until:
        raise UsageError("`quadrant todo snooze` needs --until YYYY-MM-DD.")
    until = parse_date(args.until, "--until") if args.until else None
    store = open_store(args)
    after = store.change_todo(args.todo_id, args.action, until=until, note=args.note, outcome=args.outcome)
    detail = f" until {after['snoozed_until']}" if after["status"] == "snoozed" else ""
    out.print(f"{args.todo_id}: {after['status']}{detail}")
    return 0


def cmd_brief(args: argparse.Namespace) -> int:
    from tui.brief_text import render_brief

    store = open_store(args)
    console = type(out)(width=args.width, highlight=False)  # wraps long lines, unlike the soft-wrapping `out`
    render_brief(store, args.account_id, as_of_for(args, store), console)
    return 0


def cmd_backtest(args: argparse.Namespace) -> int:
    import pandas as pd
    from rich.table import Table

    from core.recompute import run_backtest

    if args.months < 1:
        raise UserError("--months must be at least 1.")
    store = open_store(args)
    figures = run_backtest(store, as_of_for(args, store), args.months)
    out.print(
        f"Backtest: suggestions made as of {pd.Timestamp(figures['cutoff']).date()} against what accounts bought by "
        f"{pd.Timestamp(figures['as_of']).date()} ({figures['months']} months); {figures['buyers']:,} of "
        f"{figures['accounts_evaluated']:,} accounts bought a product they lacked."
    )
    table = Table("measure", "suggestions", "most-popular baseline", "lift over baseline")
    for key, label in (
        ("hit_rate_at_1", "hit rate @1"),
        ("hit_rate_at_3", "hit rate @3"),
        ("precision_at_3", "precision @3"),
    ):
        ours, base = figures[key], figures[f"baseline_{key}"]
        ratio = f"{ours / base:.2f}x" if base else "—"
        table.add_row(label, f"{ours:.1%}", f"{base:.1%}", ratio)
    out.print(table)
    return 0


def cmd_settings(args: argparse.Namespace) -> int:
    store = open_store(args)
    if args.key is None:
        for key, value in store.settings().items():
            out.print(f"{key:<36} {json.dumps(value):<16} [dim]{DESCRIPTIONS.get(key, '')}[/]")
        return 0
    if args.reset:
        store.reset_setting(args.key)
    elif args.value is not None:
        try:
            value = json.loads(args.value)
        except json.JSONDecodeError:
            value = args.value
        try:
            store.set_setting(args.key, value)
        except ValueError as error:
            raise UserError(str(error)) from None
    out.print(f"{args.key} = {json.dumps(store.settings().get(args.key))}")
    return 0


def cmd_backup(args: argparse.Namespace) -> int:
    store = open_store(args)
    target = store.backup(args.path)
    out.print(f"Backed up {store.path} to {target}")
    return 0


def cmd_restore(args: argparse.Namespace) -> int:
    store = open_store(args)
    store.restore(args.path)
    out.print(f"Restored {store.path} from {args.path}")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from textual_serve.server import Server

    db = args.db or str(Store.open_default(None).path)
    # -P: the app's own `tui`, not a package of that name in the folder the server runs from
    command = f"{shlex.quote(sys.executable)} -P -m tui.cli --db {shlex.quote(db)}"
    Server(command, host=args.host, port=args.port).serve()
    return 0
