"""Capture tables: what is read, what is refused (naming the line), and the digest that identifies one."""

from __future__ import annotations

import numpy as np
import pytest

from dadkhah.errors import InputError
from dadkhah.estimate import CaptureTable, EstimationError, read_table
from tests.conftest import write
from tests.estimate.conftest import MSE, table


def test_reads_lists_patterns_and_counts(tmp_path):
    path = write(tmp_path / "t.csv", "police,ngo,press,count\n1,0,0,40\n0,1,0,30\n1,1,1,2\n0,0,1,20\n")
    read = read_table(path)
    assert read.lists == ("police", "ngo", "press")
    assert read.observed == 92
    assert read.list_sizes() == {"police": 42, "ngo": 32, "press": 22}
    assert read.times_seen().tolist() == [90, 0, 2]


def test_count_column_may_sit_anywhere_and_zero_counts_are_dropped(tmp_path):
    path = write(tmp_path / "t.csv", "count,A,B\n5,1,0\n0,0,1\n7,1,1\n")
    read = read_table(path)
    assert read.lists == ("A", "B")
    assert read.to_dict()["cells"] == [{"pattern": "10", "count": 5}, {"pattern": "11", "count": 7}]


@pytest.mark.parametrize(("body", "line", "field", "words"), [
    ("A,B,count\n1,0,4\n0,2,3\n", 3, "B", "not 0 or 1"),
    ("A,B,count\n1,0,4\n0,1,-3\n", 3, "count", "whole number"),
    ("A,B,count\n1,0,4.5\n", 2, "count", "whole number"),
    ("A,B,count\n1,0,many\n", 2, "count", "not a number"),
    ("A,B,count\n1,0,1_000\n", 2, "count", "not a number"),  # Python's float() reads it as 1000
    ("A,B,count\n1,0,inf\n", 2, "count", "not a number"),
    ("A,B,count\n1,0,1e300\n", 2, "count", "more people"),
    ("A,B,count\n1,0,4\n1,1,2\n1,0,3\n", 4, None, "repeats line 2"),
    ("A,B,count\n1,0,4\n0,0,9\n", 3, None, "no list"),
    ("A,count\n1,4\n", 1, None, "at least two list"),
    ("A,B,total\n1,0,4\n", 1, None, "'count' column"),
    ("A,B,count\n1,0\n", 2, None, "2 cells"),
    ("A,B,count\n", 2, None, "no rows"),
    ("A,B,count\n1,0,0\n0,1,0\n", 2, "count", "records nobody"),
    ("A,B,C,count\n1,0,0,5\n0,1,0,0\n1,0,1,0\n", 1, None, "only list 'A' records anyone"),
])
def test_bad_tables_are_refused_naming_the_line(tmp_path, body, line, field, words):
    path = write(tmp_path / "bad.csv", body)
    with pytest.raises(InputError) as caught:
        read_table(path)
    message = str(caught.value)
    assert "bad.csv" in message and words in message
    assert caught.value.line == line
    if field:
        assert caught.value.field == field


def test_persian_digits_are_read_in_patterns_as_in_counts(tmp_path):
    """'۱' in a list's column was refused as "not 0 or 1" while '۵۰' was read as a count."""
    read = read_table(write(tmp_path / "fa.csv", "A,B,count\n۱,۰,۵۰\n0,1,40\n١,١,10\n"))
    assert {cell["pattern"]: cell["count"] for cell in read.to_dict()["cells"]} == {"10": 50, "01": 40, "11": 10}


@pytest.mark.parametrize(("name", "data"), [
    ("semicolons.csv", "زندان;دادگاه;Count\r\n1;0;40\r\n0;1;30\r\n1;1;2\r\n".encode("utf-8-sig")),
    ("tabs.tsv", "زندان\tدادگاه\tcount\n1\t0\t40\n0\t1\t30\n1\t1\t2\n".encode("utf-16")),
    ("windows.csv", "زندان,دادگاه,COUNT\n1,0,40\n0,1,30\n1,1,2\n".encode("cp1256")),
])
def test_a_table_saved_by_a_spreadsheet_is_read_as_written(tmp_path, name, data):
    """Semicolons (where the comma is the decimal mark), tabs, UTF-16 or Windows-1256, 'Count': read
    as the list importer reads a list, not refused (nor a traceback, as a Windows-1256 file gave)."""
    path = tmp_path / name
    path.write_bytes(data)
    read = read_table(path)
    assert read.lists == ("زندان", "دادگاه") and read.list_sizes() == {"زندان": 42, "دادگاه": 32}


def test_a_file_that_changes_encoding_is_refused_naming_it(tmp_path):
    path = tmp_path / "mixed.csv"
    blank = b"\n" * (1 << 20)  # past the part the encoding is told from
    path.write_bytes(b"A,B,count\n1,0,4\n" + b"0,1,3\n" + blank + b"1,1,\xff\n")
    with pytest.raises(InputError) as caught:
        read_table(path)
    assert "mixed.csv" in str(caught.value) and "encoding" in caught.value.message


def test_missing_file_is_named(tmp_path):
    with pytest.raises(InputError, match="nowhere.csv"):
        read_table(tmp_path / "nowhere.csv")


def test_digest_depends_on_content_not_on_row_order(tmp_path):
    one = read_table(write(tmp_path / "1.csv", "A,B,count\n1,0,4\n0,1,3\n1,1,2\n"))
    two = read_table(write(tmp_path / "2.csv", "A,B,count\n1,1,2\n0,1,3\n1,0,4\n"))
    three = read_table(write(tmp_path / "3.csv", "A,B,count\n1,1,2\n0,1,3\n1,0,5\n"))
    assert one.digest() == two.digest() != three.digest()
    assert len(one.digest()) == 64


def test_tables_are_immutable():
    made = table("AB", p10=4, p01=3, p11=2)
    with pytest.raises(ValueError):
        made.counts[0] = 99


def test_registry_construction_merges_repeats_and_refuses_the_unknown_pattern():
    merged = CaptureTable.from_patterns(("A", "B"), [[1, 0], [1, 0], [1, 1]], [3, 4, 2])
    assert merged.to_dict()["cells"] == [{"pattern": "10", "count": 7}, {"pattern": "11", "count": 2}]
    with pytest.raises(EstimationError, match="no list"):
        CaptureTable.from_patterns(("A", "B"), [[0, 0]], [3])
    with pytest.raises(EstimationError, match="two lists"):
        CaptureTable.from_patterns(("A",), [[1]], [3])


def test_every_published_table_reads():
    for path in sorted(MSE.glob("*.csv")):
        read = read_table(path)
        assert read.observed > 0 and read.n_lists >= 3, path.name
        assert np.all(read.patterns.sum(axis=1) > 0)
