"""Property tests: random valid folders import exactly; one injected defect is found where it was put."""

from __future__ import annotations

import csv
import io
import string
import tempfile
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.importer import open_portfolio

SEGMENTS = {"enterprise": "enterprise", "mid-market": "mid-market", "smb": "smb", "KA": "enterprise",
            "ka": "enterprise", "CA": "mid-market", "Ca": "mid-market", "SMB": "smb", "Smb": "smb"}  # fmt: skip
IDS = st.text(string.ascii_letters + string.digits + "-_", min_size=1, max_size=6)
NAME_CHARS = st.one_of(
    st.characters(codec="utf-8", categories=("L", "N", "P", "S", "Zs"), exclude_characters="\r\x85"),
    st.sampled_from(["\n", ",", ";", '"', "\t", " ", "🚀", "名"]),
)
ONE_LINE = st.text(NAME_CHARS, min_size=1, max_size=12).filter(lambda s: s.strip() != "")
NAMES = st.one_of(ONE_LINE, st.builds(lambda a, b: f"{a}\n{b}", ONE_LINE, ONE_LINE))
DATES = st.dates(date(1990, 1, 1), date(2035, 12, 31))


@dataclass
class Folder:
    """A portfolio as header + rows per file, written in one encoding with one delimiter."""

    files: dict[str, tuple[list[str], list[list[str]]]] = field(default_factory=dict)
    encoding: str = "utf-8"
    delimiter: str = ","

    def write(self, path: Path) -> dict[str, list[int]]:
        """Write every file; return the physical line each data row starts on."""
        starts: dict[str, list[int]] = {}
        for name, (header, rows) in self.files.items():
            out = io.StringIO()
            writer = csv.writer(out, delimiter=self.delimiter, lineterminator="\n")
            writer.writerow(header)
            starts[name] = []
            for row in rows:
                starts[name].append(out.getvalue().count("\n") + 1)
                writer.writerow(row)
            (path / f"{name}.csv").write_bytes(out.getvalue().encode(self.encoding))
        return starts


@st.composite
def folders(draw: st.DrawFn) -> tuple[Folder, dict]:
    """A random valid folder and what the import must produce from it."""
    account_ids = draw(st.lists(IDS, min_size=1, max_size=5, unique=True))
    product_ids = draw(st.lists(IDS, min_size=2, max_size=4, unique=True))
    folder = Folder(
        encoding=draw(st.sampled_from(["utf-8", "utf-8-sig", "gb18030"])),
        delimiter=draw(st.sampled_from([",", ";", "\t"])),
    )
    expected: dict = {"accounts": [], "products": {}, "subscriptions": 0, "usage": 0}
    accounts = []
    for account in account_ids:
        name = draw(NAMES)
        segment = draw(st.sampled_from(sorted(SEGMENTS)))
        employees = draw(st.one_of(st.just(""), st.integers(0, 10**6).map(str)))
        created = draw(st.one_of(st.just(""), DATES.map(date.isoformat)))
        accounts.append([account, name, segment, employees, created])
        expected["accounts"].append((account, name.strip(), SEGMENTS[segment]))
    folder.files["accounts"] = (["account_id", "name", "segment", "employees", "created_at"], accounts)
    products = []
    for product in product_ids:
        cents = draw(st.integers(0, 10**9))
        price = f"{cents / 100:,.2f}" if draw(st.booleans()) else f"{cents / 100:.2f}"
        products.append([product, draw(NAMES), price])
        expected["products"][product] = round(cents / 100, 2)
    folder.files["products"] = (["product_id", "name", "list_price"], products)
    pairs = draw(st.lists(st.tuples(st.sampled_from(account_ids), st.sampled_from(product_ids)), unique=True))
    subscriptions = [
        [a, p, draw(DATES).isoformat(), draw(st.sampled_from(["", "1", "12"]))] for a, p in pairs
    ]
    folder.files["subscriptions"] = (["account_id", "product_id", "start_date", "quantity"], subscriptions)
    expected["subscriptions"] = len(subscriptions)
    if draw(st.booleans()):
        months = st.tuples(st.integers(2000, 2030), st.integers(1, 12))
        keys = draw(
            st.lists(
                st.tuples(st.sampled_from(account_ids), st.sampled_from(product_ids), months), unique=True
            )
        )
        usage = []
        for account, product, (year, month) in keys:
            period = f"{year}-{month:02d}" + draw(st.sampled_from(["", "-01"]))
            usage.append([account, product, period, draw(st.sampled_from(["", "0", "17"]))])
        folder.files["usage"] = (["account_id", "product_id", "period", "logins"], usage)
        expected["usage"] = len(usage)
    return folder, expected


def import_folder(folder: Folder, chunk_rows: int = 3) -> tuple[dict, list, dict[str, list[int]]]:
    with tempfile.TemporaryDirectory() as tmp:
        starts = folder.write(Path(tmp))
        encoding = "gb18030" if folder.encoding == "gb18030" else None
        reader = open_portfolio(Path(tmp), encoding=encoding, chunk_rows=chunk_rows)
        parts: dict[str, list] = {}
        for table, frame in reader.batches():
            parts.setdefault(table, []).append(frame)
        return parts, reader.errors, starts


SLOW = settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SLOW
@given(folders())
def test_random_valid_folders_are_accepted_exactly(case: tuple[Folder, dict]) -> None:
    folder, expected = case
    parts, errors, _ = import_folder(folder)
    assert errors == []
    accounts = parts["accounts"][0]
    assert (
        list(zip(accounts["account_id"], accounts["name"], accounts["segment"], strict=True))
        == expected["accounts"]
    )
    products = parts["products"][0]
    assert dict(zip(products["product_id"], products["list_price"], strict=True)) == expected["products"]
    assert sum(len(f) for f in parts.get("subscriptions", [])) == expected["subscriptions"]
    assert sum(len(f) for f in parts.get("usage", [])) == expected["usage"]


DEFECTS = [
    ("accounts", "segment", "Gold"),
    ("accounts", "employees", "-3"),
    ("accounts", "created_at", "2024-13-01"),
    ("accounts", "name", ""),
    ("products", "list_price", "$5"),
    ("products", "name", "  "),
    ("subscriptions", "account_id", "NOPE!"),
    ("subscriptions", "product_id", "NOPE!"),
    ("subscriptions", "start_date", "yesterday"),
    ("subscriptions", "quantity", "0"),
    ("usage", "period", "2024-00"),
    ("usage", "logins", "many"),
]


@SLOW
@given(folders(), st.sampled_from(DEFECTS), st.data())
def test_one_injected_defect_is_reported_with_its_file_line_and_column(
    case: tuple[Folder, dict], defect: tuple[str, str, str], data: st.DataObject
) -> None:
    folder, _ = case
    file, column, bad = defect
    if file not in folder.files or not folder.files[file][1]:
        file, column, bad = DEFECTS[0]
    header, rows = folder.files[file]
    row = data.draw(st.integers(0, len(rows) - 1))
    rows[row][header.index(column)] = bad
    _, errors, starts = import_folder(folder, chunk_rows=data.draw(st.sampled_from([1, 2, 1000])))
    assert [(e.file, e.line, e.column) for e in errors] == [(f"{file}.csv", starts[file][row], column)]
    assert errors[0].value == (bad.strip() or None)
