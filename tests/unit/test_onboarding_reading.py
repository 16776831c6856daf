"""Reading a file nobody has described yet: its delimiter, its text encoding, a sample of a
large file, and an error naming the file when it cannot be read."""

from __future__ import annotations

from pathlib import Path

import pytest

from experiments.io import InputError
from experiments.onboarding.reading import detect_delimiter, detect_encoding, read_raw_table

LINES = ["id;amount;city;outcome", "1;1,5;Köln;bad", '2;2,25;"Paris; 3e";good', "3;;Nîmes;good"]


def write(tmp_path: Path, text: str, encoding: str = "utf-8", name: str = "loans.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
def test_the_delimiter_is_the_one_that_splits_every_line_alike(delimiter: str) -> None:
    text = "\n".join(
        delimiter.join(row)
        for row in [("id", "note", "amount"), ("1", "a, b; c", "2.5"), ("2", "x|y", "3")]
    )
    quoted = text.replace("a, b; c", '"a, b; c"').replace("x|y", '"x|y"')

    assert detect_delimiter(quoted + "\n", Path("loans.csv")) == delimiter


def test_semicolons_with_decimal_commas_are_read_as_such(tmp_path: Path) -> None:
    table = read_raw_table(write(tmp_path, "\n".join(LINES) + "\n"), seed=1)

    assert (table.delimiter, table.encoding) == (";", "utf-8")
    assert table.frame.to_dict("list") == {
        "id": ["1", "2", "3"],
        "amount": ["1,5", "2,25", ""],  # cells as written: the profile sees the file's tokens
        "city": ["Köln", "Paris; 3e", "Nîmes"],
        "outcome": ["bad", "good", "good"],
    }


def test_a_file_that_is_not_utf8_is_read_as_cp1252(tmp_path: Path) -> None:
    path = write(tmp_path, "\n".join(LINES).replace("1,5", "1,5 €") + "\n", "cp1252")

    table = read_raw_table(path, seed=1)

    assert table.encoding == "cp1252"
    assert table.encoding_note == "not UTF-8 (byte 0x80 at offset 29); every byte decodes as cp1252"
    assert table.frame["city"].tolist() == ["Köln", "Paris; 3e", "Nîmes"]
    assert table.frame["amount"].tolist() == ["1,5 €", "2,25", ""]


@pytest.mark.parametrize(
    ("data", "encoding"),
    [
        (b"\xef\xbb\xbfid,outcome\n1,bad\n", "utf-8-sig"),
        ("id,outcome\n1,bad\n".encode("utf-16"), "utf-16"),
        (b"id,city\n1,K\xc3\xb6ln\n", "utf-8"),
        (b"id,city\n1,\x81K\xf6ln\n", "latin-1"),  # 0x81 is not a cp1252 character
    ],
)
def test_the_encoding(tmp_path: Path, data: bytes, encoding: str) -> None:
    path = tmp_path / "loans.csv"
    path.write_bytes(data)

    assert detect_encoding(path)[0] == encoding
    assert read_raw_table(path, seed=1).frame.columns[0] == "id"


def test_a_large_file_is_profiled_on_a_random_sample(tmp_path: Path) -> None:
    rows = [f"{i},{i % 7},{'bad' if i % 4 else 'good'}" for i in range(1000)]
    path = write(tmp_path, "\n".join(["id,code,outcome", *rows]) + "\n")

    table = read_raw_table(path, seed=1, max_rows=100)

    assert table.sampled and table.n_rows == 1000
    assert 50 < len(table.frame) < 150
    ids = table.frame["id"].astype(int)
    assert ids.is_monotonic_increasing and ids.max() > 500  # file order kept, whole file seen


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("gone.csv", None, "{path}: file not found"),
        ("empty.csv", "", "{path}: the file is empty (0 bytes)"),
        ("loans.tsv", "a\tb\n1\t2\n",
         "{path}: unsupported file type '.tsv'; riskgrade reads .csv (any delimiter, detected) "
         "and .parquet: rename or convert the file"),
        ("loans.csv", "just one column\nvalue\n",
         "{path}: no delimiter among , ; tab | splits its lines into several columns; riskgrade "
         "init needs a header line and one line per customer"),
    ],
)  # fmt: skip
def test_unreadable_files_are_named(
    tmp_path: Path, name: str, content: str | None, message: str
) -> None:
    path = tmp_path / name
    if content is not None:
        path.write_text(content)

    with pytest.raises(InputError) as error:
        read_raw_table(path, seed=1)

    assert str(error.value) == message.format(path=path)


def test_a_broken_parquet_file_is_named_with_pyarrow_s_reason(tmp_path: Path) -> None:
    path = write(tmp_path, "not parquet", name="loans.parquet")

    with pytest.raises(InputError) as error:
        read_raw_table(path, seed=1)

    assert str(error.value).startswith(f"{path}: cannot be read as parquet: ")
    assert "magic bytes" in str(error.value)
