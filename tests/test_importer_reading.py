"""How files are read: encodings, delimiters, headers, physical line numbers, whole-file problems."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.importer import ImportFailed, open_portfolio, read_portfolio

ACCOUNTS = "account_id,name,segment\n007,Acme,enterprise\nA2,Beta,smb\n"
PRODUCTS = "product_id,name,list_price\nP1,CRM,10\nP2,Mail,5\n"
SUBSCRIPTIONS = "account_id,product_id,start_date\n007,P1,2024-01-01\nA2,P2,2024-02-01\n"


def folder(tmp_path: Path, **files: str | bytes) -> Path:
    """A portfolio folder: the minimal valid required files, overridden or extended by ``files``."""
    contents: dict[str, str | bytes] = {
        "accounts": ACCOUNTS,
        "products": PRODUCTS,
        "subscriptions": SUBSCRIPTIONS,
        **files,
    }
    for name, content in contents.items():
        path = tmp_path / (name if "." in name else f"{name}.csv")
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8", newline="")
    return tmp_path


def problems(path: Path, encoding: str | None = None, chunk_rows: int = 200_000) -> list[str]:
    reader = open_portfolio(path, encoding=encoding, chunk_rows=chunk_rows)
    for _ in reader.batches():
        pass
    return [str(issue) for issue in reader.errors]


# -- encodings -----------------------------------------------------------------------------------


@pytest.mark.parametrize("encoding", [None, "utf-8", "utf-8-sig"])
def test_utf8_with_bom_reads_the_first_column_name(tmp_path: Path, encoding: str | None) -> None:
    path = folder(tmp_path, accounts=b"\xef\xbb\xbf" + "account_id,name,segment\n007,Café,KA\n".encode())
    path.joinpath("subscriptions.csv").write_text("account_id,product_id,start_date\n007,P1,2024-01-01\n")
    accounts = read_portfolio(path, encoding=encoding)["accounts"]
    assert accounts["account_id"].tolist() == ["007"]
    assert accounts["name"].tolist() == ["Café"]


def test_gb18030_is_detected_and_chinese_names_survive(tmp_path: Path) -> None:
    text = "account_id,name,segment,industry\n007,北京科技有限公司,KA,制造业\nA2,上海贸易,CA,零售\n"
    path = folder(tmp_path, accounts=text.encode("gb18030"))
    reader = open_portfolio(path)
    frames = {t: f for t, f in reader.batches()}
    assert reader.errors == []
    assert frames["accounts"]["name"].tolist() == ["北京科技有限公司", "上海贸易"]
    assert frames["accounts"]["industry"].tolist() == ["制造业", "零售"]
    assert frames["accounts"]["segment"].tolist() == ["enterprise", "mid-market"]
    assert any("GB18030" in w for w in reader.warnings)


def test_gbk_given_explicitly(tmp_path: Path) -> None:
    path = folder(tmp_path, accounts="account_id,name,segment\n007,王芳科技,smb\nA2,李,smb\n".encode("gbk"))
    for name in ("products", "subscriptions"):
        text = path.joinpath(f"{name}.csv").read_text(encoding="utf-8")
        path.joinpath(f"{name}.csv").write_bytes(text.encode("gbk"))
    assert read_portfolio(path, encoding="gbk")["accounts"]["name"].tolist() == ["王芳科技", "李"]


def test_wrong_explicit_encoding_names_file_and_line(tmp_path: Path) -> None:
    path = folder(tmp_path, accounts="account_id,name,segment\n007,Acme,smb\nA2,Café,smb\n")
    assert problems(path, encoding="ascii") == [
        "accounts.csv line 3: cannot be decoded as ascii (first bad byte on line 3)"
    ]


def test_unknown_encoding_name_fails_at_open(tmp_path: Path) -> None:
    with pytest.raises(ImportFailed) as failure:
        open_portfolio(folder(tmp_path), encoding="klingon-8")
    assert "--encoding: 'klingon-8' is not an encoding Python knows" in str(failure.value)


def test_undecodable_bytes_are_refused_with_the_line(tmp_path: Path) -> None:
    path = folder(tmp_path, accounts=b"account_id,name,segment\n007,Acme,smb\nA2,\xff\xff,smb\n")
    assert problems(path) == [
        "accounts.csv line 3: is neither UTF-8 nor GB18030 text (first bad byte on line 3): "
        "save it as CSV UTF-8 or give its encoding"
    ]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "accounts.csv: is empty: a CSV file with a header row was expected"),
        (b"  \n\n \n", "accounts.csv: is empty: a CSV file with a header row was expected"),
        (b"\xef\xbb\xbf", "accounts.csv: is empty: a CSV file with a header row was expected"),
        (b"PK\x03\x04rest-of-zip", "accounts.csv: is an Excel workbook, not a CSV file"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1old-excel", "accounts.csv: is an Excel workbook, not a CSV file"),
        ("account_id,name\n".encode("utf-16"), "accounts.csv: is UTF-16 text"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "accounts.csv: is not a text CSV file"),
    ],
)
def test_files_that_are_not_csv_are_refused_clearly(tmp_path: Path, content: bytes, message: str) -> None:
    found = problems(folder(tmp_path, accounts=content))
    assert any(m.startswith(message) for m in found), found


# -- delimiters and headers ---------------------------------------------------------------------


@pytest.mark.parametrize("delimiter", [";", "\t"])
def test_semicolon_and_tab_files(tmp_path: Path, delimiter: str) -> None:
    rows = [["product_id", "name", "list_price"], ["P1", "CRM, basic", "10.5"], ["P2", "Mail", '"1,200"']]
    text = "\n".join(delimiter.join(r) for r in rows) + "\n"
    reader = open_portfolio(folder(tmp_path, products=text))
    frames = dict(reader.batches())
    assert reader.errors == []
    assert frames["products"]["name"].tolist() == ["CRM, basic", "Mail"]
    assert frames["products"]["list_price"].tolist() == [10.5, 1200.0]
    assert any("products.csv: the header splits on" in w for w in reader.warnings)


def test_header_splitting_on_commas_is_read_with_commas(tmp_path: Path) -> None:
    path = folder(tmp_path, products="product_id,name,list_price\nP1,CRM;Pro,10\nP2,Mail,5\n")
    assert read_portfolio(path)["products"]["name"].tolist() == ["CRM;Pro", "Mail"]


def test_header_names_ignore_case_and_surrounding_spaces(tmp_path: Path) -> None:
    path = folder(tmp_path, products="  PRODUCT_ID ,Name,  List_Price\nP1,CRM,10\nP2,Mail,5\n")
    assert read_portfolio(path)["products"]["list_price"].tolist() == [10.0, 5.0]


def test_missing_required_column_is_a_header_error_and_rows_are_not_checked(tmp_path: Path) -> None:
    path = folder(tmp_path, accounts="account_id,name\n007,Acme\nA2,\n")
    assert problems(path) == ["accounts.csv line 1, column segment: the header lacks this required column"]


def test_missing_optional_column_is_fine(tmp_path: Path) -> None:
    frames = read_portfolio(folder(tmp_path))
    assert frames["accounts"]["created_at"].isna().all()
    assert frames["products"]["unit"].tolist() == ["seat", "seat"]


def test_unknown_and_unnamed_columns_are_warnings(tmp_path: Path) -> None:
    path = folder(
        tmp_path, accounts="account_id,name,segment,Acount Owner,\n007,Acme,smb,x,\nA2,Beta,smb,y,\n"
    )
    reader = open_portfolio(path)
    frames = dict(reader.batches())
    assert reader.errors == []
    assert list(frames["accounts"]["owner"].isna()) == [True, True]
    assert "accounts.csv: column 'acount owner' is not part of accounts and was ignored" in reader.warnings[0]
    assert reader.warnings[1] == "accounts.csv: column 5 has no name in the header and was ignored"


def test_a_repeated_unknown_column_is_still_only_a_warning(tmp_path: Path) -> None:
    path = folder(tmp_path, accounts="account_id,name,segment,note,note\n007,Acme,smb,a,b\nA2,Beta,smb,,\n")
    reader = open_portfolio(path)
    list(reader.batches())
    assert reader.errors == []
    assert reader.warnings == ["accounts.csv: column 'note' is not part of accounts and was ignored"]


def test_a_repeated_usage_metric_is_an_error(tmp_path: Path) -> None:
    path = folder(tmp_path, usage="account_id,product_id,period,Calls,calls\n007,P1,2024-01,1,2\n")
    assert problems(path) == [
        "usage.csv line 1, column calls: appears more than once in the header (columns 4 and 5)"
    ]


def test_trailing_delimiter_on_data_rows_only_is_accepted(tmp_path: Path) -> None:
    path = folder(tmp_path, accounts="account_id,name,segment\n007,Acme,smb,\nA2,Beta,smb,\n")
    assert problems(path) == []


def test_unknown_csv_in_the_folder_is_a_warning_and_names_match_any_case(tmp_path: Path) -> None:
    path = folder(tmp_path, **{"Products.CSV": PRODUCTS, "customers.csv": "x\n1\n"})
    path.joinpath("products.csv").unlink()
    reader = open_portfolio(path)
    frames = dict(reader.batches())
    assert reader.errors == []
    assert len(frames["products"]) == 2
    assert "customers.csv is not part of the portfolio format and was ignored" in reader.warnings


def test_missing_required_files_are_each_named(tmp_path: Path) -> None:
    (tmp_path / "accounts.csv").write_text(ACCOUNTS)
    assert problems(tmp_path) == [
        "products.csv: is missing: every portfolio folder needs accounts.csv, products.csv and subscriptions.csv",
        "subscriptions.csv: is missing: every portfolio folder needs accounts.csv, products.csv and "
        "subscriptions.csv",
    ]


def test_not_a_folder(tmp_path: Path) -> None:
    with pytest.raises(ImportFailed, match="is not a folder of CSV files"):
        open_portfolio(tmp_path / "nowhere")


# -- line numbers --------------------------------------------------------------------------------


def test_line_numbers_count_quoted_newlines_blank_lines_and_crlf(tmp_path: Path) -> None:
    text = (
        "\r\n"
        "account_id,name,segment\r\n"
        '007,"Acme\r\nGroup\r\nHolding",smb\r\n'
        "\r\n"
        "A2,Beta,Gold\r\n"
        'A3,"x\ny",smb\r\n'
        "A4,Delta,Silver\r\n"
    )
    path = folder(tmp_path, accounts=text)
    assert [p.split(":")[0] for p in problems(path)] == [
        "accounts.csv line 7, column segment",
        "accounts.csv line 10, column segment",
    ]


@pytest.mark.parametrize("first", ["007,Acme,smb,x,y,z", "007,Acme,smb,x"])
def test_rows_with_too_many_fields_are_reported_and_later_lines_stay_right(
    tmp_path: Path, first: str
) -> None:
    text = f"account_id,name,segment\n{first}\nA2,Beta,smb,extra,more\nA3,Gamma,Gold\nA4,Delta,smb,x,y,z,w\n"
    subscriptions = "account_id,product_id,start_date\nA3,P1,2024-01-01\n"
    found = problems(folder(tmp_path, accounts=text, subscriptions=subscriptions))
    assert found == [
        "accounts.csv line 2: has more fields than the header's 3 columns "
        "(is a comma inside a value missing its quotes?)",
        "accounts.csv line 3: has more fields than the header's 3 columns "
        "(is a comma inside a value missing its quotes?)",
        "accounts.csv line 4, column segment: 'Gold' is not a valid segment "
        "(expected one of: enterprise, mid-market, smb; or KA, CA)",
        "accounts.csv line 5: has more fields than the header's 3 columns "
        "(is a comma inside a value missing its quotes?)",
    ]


def test_short_rows_count_as_empty_cells(tmp_path: Path) -> None:
    found = problems(folder(tmp_path, accounts="account_id,name,segment\n007,Acme\nA2,Beta,smb\n"))
    assert found == ["accounts.csv line 2, column segment: a value is required (the cell is empty)"]


def test_all_empty_rows_are_skipped_silently(tmp_path: Path) -> None:
    path = folder(tmp_path, accounts="account_id,name,segment\n007,Acme,smb\n,,\n\n,\nA2,Beta,smb\n")
    assert len(read_portfolio(path)["accounts"]) == 2


@pytest.mark.parametrize("chunk_rows", [1, 2, 3, 7, 1000])
def test_streamed_usage_line_numbers_do_not_depend_on_chunk_size(tmp_path: Path, chunk_rows: int) -> None:
    lines = ["account_id,product_id,period,active_users"]
    for month in range(1, 13):
        account = '"X\nY"' if month in (4, 8) else "007"
        users = "-1" if month in (3, 9, 12) else str(month)
        lines.append(f"{account},P1,2024-{month:02d},{users}")
        if month == 6:
            lines.append("007,P1,2023-01,1,too,many")
    path = folder(tmp_path, usage="\n".join(lines) + "\n")
    found = problems(path, chunk_rows=chunk_rows)
    assert [p.split(":")[0] for p in found] == [
        "usage.csv line 4, column active_users",
        "usage.csv line 5, column account_id",
        "usage.csv line 9",
        "usage.csv line 11, column account_id",
        "usage.csv line 13, column active_users",
        "usage.csv line 16, column active_users",
    ]


def test_unclosed_quote_is_a_file_problem(tmp_path: Path) -> None:
    found = problems(folder(tmp_path, accounts='account_id,name,segment\n007,"Acme,smb\nA2,Beta,smb\n'))
    assert found == ["accounts.csv line 2: has a quote that is never closed: check for a stray double quote"]


# -- progress ------------------------------------------------------------------------------------


def test_progress_goes_from_zero_to_the_folder_size(tmp_path: Path) -> None:
    usage = "account_id,product_id,period\n" + "".join(f"007,P1,20{y:02d}-01\n" for y in range(50))
    path = folder(tmp_path, usage=usage)
    total = sum(p.stat().st_size for p in path.glob("*.csv"))
    reader = open_portfolio(path, chunk_rows=10)
    assert reader.progress() == (0, total)
    seen = []
    for _ in reader.batches():
        seen.append(reader.progress()[0])
    assert seen == sorted(seen)
    assert reader.progress() == (total, total)


def test_batches_can_run_only_once(tmp_path: Path) -> None:
    reader = open_portfolio(folder(tmp_path))
    list(reader.batches())
    with pytest.raises(RuntimeError):
        list(reader.batches())


@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        (['007,"Acme\nGroup",smb', "A2,Beta,smb,x,y", "A3,Gamma,Gold"], ["line 4", "line 5, column segment"]),
        (["A3,Gamma,Gold", '007,"Acme\nGroup",smb', "A2,Beta,smb,x,y"], ["line 2, column segment", "line 5"]),
    ],
)
def test_a_skipped_row_after_a_multiline_row_gets_its_own_line(
    tmp_path: Path, rows: list[str], expected: list[str]
) -> None:
    text = "account_id,name,segment\n" + "\n".join(rows) + "\n"
    found = problems(folder(tmp_path, accounts=text, subscriptions="account_id,product_id,start_date\n"))
    assert [p.split(":")[0] for p in found] == [f"accounts.csv {e}" for e in expected]


def test_folders_and_dangling_links_named_like_tables_are_not_files(tmp_path: Path) -> None:
    path = folder(tmp_path)
    (path / "usage.csv").mkdir()
    (path / "contacts.csv").symlink_to(path / "nowhere.csv")
    assert problems(path) == []


def test_an_unreadable_file_is_reported_not_raised(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import core.importer.reader as reader_module

    real = reader_module.open_source

    def locked(path: Path, *args: object) -> object:
        if path.name == "nps.csv":
            raise PermissionError(13, "Permission denied", str(path))
        return real(path, *args)

    monkeypatch.setattr(reader_module, "open_source", locked)
    path = folder(tmp_path, nps="account_id,date,score\n")
    assert problems(path) == ["nps.csv: cannot be read: Permission denied"]
