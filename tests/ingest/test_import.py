"""Importing lists: counts, quarantine, warnings, atomicity, re-import, versions, encodings, formats.

Every test here runs on SQLite and on PostgreSQL (the ``store`` fixture).
"""

from __future__ import annotations

import csv
import datetime as dt
import json

import pytest
import sqlalchemy as sa

from dadkhah.errors import InputError, LimitExceeded
from dadkhah.ingest import importer
from dadkhah.ingest.importer import NO_NAME, import_file
from dadkhah.model import FieldWarning, Import, Record
from dadkhah.registry.records import iter_records
from tests.conftest import TESTER, write

PERSIAN_LIST = """شناسه,نام,نام خانوادگی,نام پدر,جنسیت,سال تولد,تاریخ اعدام,شهر,زندان,وابستگی
1,غلام رضا,کريمي,حسين,مرد,۱۳۴۰,۱۳۶۷/۰۵/۰۸,رشت,زندان لاکان,مجاهدین
2,سید علی,موسوی,محمد,مرد,1342,۸ مرداد ۱۳۶۷,Resht,,
3,فاطمه,رضایی,,زن,,مرداد ۱۳۶۷,اهواز,,
"""


def records_by_id(store, source=None):
    with store.session() as session:
        return {r["record_id"]: r for r in iter_records(session, source=source)}


def test_persian_list_imports_with_normalised_fields(store, tmp_path):
    summary = import_file(store, write(tmp_path / "ngo.csv", PERSIAN_LIST), source="ngo", actor=TESTER)
    assert (summary.rows, summary.imported, summary.rejected, summary.warning_count) == (3, 3, 0, 0)
    assert summary.columns["نام خانوادگی"] == "family_name" and summary.columns["تاریخ اعدام"] == "death_date"
    records = records_by_id(store, "ngo")
    first = records["1"]
    assert first["line"] == 2
    assert first["given_name"] == {"original": "غلام رضا", "normalized": "غلامرضا", "key": "QLMRZ"}
    assert first["family_name"]["normalized"] == "کریمی"  # Arabic yeh and kaf folded
    assert first["father_name"]["key"] == "HSYN"
    assert first["death_date"] == {"original": "۱۳۶۷/۰۵/۰۸", "calendar": "jalali", "precision": "day",
                                   "earliest": "1988-07-30", "latest": "1988-07-30"}
    assert first["birth_date"]["earliest"] == "1961-03-21" and first["birth_date"]["latest"] == "1962-03-20"
    assert first["city"] == {"original": "رشت", "place_id": "city:rasht", "name": "Rasht"}
    assert first["prison"]["place_id"] == "prison:lakan"
    assert first["gender"] == {"original": "مرد", "normalized": "male"}
    assert first["raw"]["نام"] == "غلام رضا"
    second = records["2"]
    assert second["titles"] == ["seyyed"] and second["given_name"]["normalized"] == "علی"
    assert second["city"]["place_id"] == "city:rasht"  # a variant spelling, same place
    assert second["death_date"]["earliest"] == "1988-07-30"
    third = records["3"]
    assert (third["death_date"]["precision"], third["death_date"]["earliest"], third["death_date"]["latest"]) == ("month", "1988-07-23", "1988-08-22")


def read_quarantine(path):
    with open(path, encoding="utf-8-sig", newline="") as handle:
        return list(csv.reader(handle))


def test_row_problems_are_quarantined_with_line_and_reason(store, tmp_path):
    text = (
        "record_id,given_name,family_name,death_date\n"
        "A1,Reza,Karimi,1988-07-30\n"
        "A2,Hassan,Ahmadi\n"                        # too few cells
        "A3,,,1988-08-01\n"                         # no name at all
        "\n"                                         # blank: not a data row
        "A1,Reza,Karimi,1988-07-31\n"               # repeats A1
        "A5,Ali,Jafari,1988-08-02,extra\n"          # too many cells
        "A6,Mehdi,Sadeghi,1988-08-03,\n"            # an empty trailing cell is harmless
        "A7,نامعلوم,-,1988-08-04\n"                 # names marked unknown
    )
    summary = import_file(store, write(tmp_path / "list.csv", text), source="s", actor=TESTER)
    assert summary.rows == 7 and summary.blank == 1
    assert (summary.imported, summary.rejected) == (2, 5)
    assert summary.rows == summary.imported + summary.rejected
    rows = read_quarantine(summary.quarantine)
    assert rows[0] == ["line", "reason", "field", "record_id", "given_name", "family_name", "death_date"]
    by_line = {int(r[0]): r for r in rows[1:]}
    assert [int(r[0]) for r in rows[1:]] == [3, 4, 6, 7, 9], "in the file's order, the repeated id at its own line"
    assert "3 cells" in by_line[3][1] and by_line[3][3:] == ["A2", "Hassan", "Ahmadi"]
    assert "no name" in by_line[4][1]
    assert "repeats line 2" in by_line[6][1] and by_line[6][2] == "record_id" and by_line[6][3:] == ["A1", "Reza", "Karimi", "1988-07-31"]
    assert "5 cells" in by_line[7][1]
    assert "no name" in by_line[9][1]
    assert set(records_by_id(store)) == {"A1", "A6"}
    assert records_by_id(store)["A1"]["death_date"]["earliest"] == "1988-07-30"  # the first A1 is kept


def test_a_name_of_digits_alone_is_no_name(store, tmp_path):
    """A number in a name column (a list's row number pasted there) gives nothing to match a person on:
    alone, the row is refused as having no name; beside another name, it is left out of matching with
    a warning, and kept as given."""
    text = (
        "record_id,given_name,full_name\n"
        "1,,12345\n"          # digits alone
        "2,#12,(7)\n"         # signs and digits
        "3,Ali,۱۲۳۴\n"        # Persian digits beside a given name
        "4,,Reza Karimi\n"
    )
    summary = import_file(store, write(tmp_path / "d.csv", text), source="d", actor=TESTER)
    assert (summary.imported, summary.rejected) == (2, 2)
    refused = read_quarantine(summary.quarantine)[1:]
    assert [(r[0], r[1]) for r in refused] == [("2", NO_NAME), ("3", NO_NAME)]
    assert {(w["line"], w["field"]): w["message"] for w in summary.warnings} == {
        (4, "full_name"): "the full name holds no letters; not used for matching"}
    record = records_by_id(store)["3"]
    assert record["full_name"]["original"] == "۱۲۳۴" and record["full_name"]["normalized"] == "ali"


def test_a_date_column_in_month_first_order_is_not_read_day_first_in_silence(store, tmp_path):
    """'08/27/1988' can only be month first; read one value at a time, '03/04/1988' beside it was
    taken as 3 April. The list is refused until a mapping says the order, and then read that way."""
    text = "record_id,full_name,death_date\n1,Reza Karimi,03/04/1988\n2,Ali Jafari,08/27/1988\n3,Hassan Ahmadi,1988-08-01\n"
    path = write(tmp_path / "us.csv", text)
    with pytest.raises(InputError, match="'08/27/1988' month first, while '03/04/1988' \\(line 2\\)") as refused:
        import_file(store, path, source="us", actor=TESTER)
    assert (refused.value.file, refused.value.line, refused.value.field) == (str(path), 3, "death_date")
    assert records_by_id(store) == {}
    mapping = write(tmp_path / "m.toml", '[dates]\norder = "mdy"\n')
    assert import_file(store, path, source="us", mapping=mapping, actor=TESTER).imported == 3
    assert records_by_id(store)["1"]["death_date"]["earliest"] == "1988-03-04"
    # Day first throughout ('13/04/1988' can only be day first): read as before, without a word.
    dmy = write(tmp_path / "eu.csv", "record_id,full_name,death_date\n1,Reza Karimi,03/04/1988\n2,Ali Jafari,27/08/1988\n")
    summary = import_file(store, dmy, source="eu", actor=TESTER)
    assert (summary.imported, summary.warning_count) == (2, 0)
    assert records_by_id(store, "eu")["1"]["death_date"]["earliest"] == "1988-04-03"


def test_a_list_without_ids_imported_beside_earlier_records_says_both_are_current(store, tmp_path):
    """A corrected copy of a list without a record_id column doubled the source in silence: every person
    twice, the wrong father still current, the list sizes the estimates use inflated."""
    text = "given name,family name,father\nArash,Kaveh,Bahram\nBijan,Lavi,Cyrus\n"
    first = import_file(store, write(tmp_path / "noid.csv", text), source="noid", actor=TESTER)
    assert first.warning_count == 0, "nothing to replace yet"
    again = import_file(store, write(tmp_path / "noid-2.csv", text.replace("Cyrus", "Kourosh")), source="noid",
                        actor=TESTER)
    [warning] = again.warnings
    assert (warning["line"], warning["field"]) == (1, "record_id") and "both are now current" in warning["message"]
    assert len(records_by_id(store, "noid")) == 4
    other = import_file(store, write(tmp_path / "other.csv", text), source="other", actor=TESTER)
    assert other.warning_count == 0, "a source of its own holds nothing earlier"


@pytest.mark.parametrize("text", [
    "Victims of 1988; compiled 2019\nid,given name,family name,city\n1,Arash,Kaveh,Tehran\n2,Bijan,Lavi,Rasht\n",
    "Victims of 1988, compiled 2019\nid;given name;family name;city\n1;Arash;Kaveh;Tehran\n2;Bijan;Lavi;Rasht\n",
])
def test_a_title_line_does_not_decide_the_separator(store, tmp_path, text):
    """The separator was the one the first line used most: a title holding a ';' made a comma-separated
    list one column wide, and it was refused for having no name column."""
    summary = import_file(store, write(tmp_path / "titled.csv", text), source="t", actor=TESTER)
    assert (summary.imported, summary.rejected, summary.to_dict()["header_line"]) == (2, 0, 2)
    assert records_by_id(store)["2"]["city"]["place_id"] == "city:rasht"


def test_field_problems_keep_the_record_and_warn(store, tmp_path):
    text = (
        "record_id,full_name,gender,birth_date,death_date,city,prison\n"
        "1,Reza Karimi,X,1340,1367/07/31,Atlantis,Evin\n"
        "2,Ali Jafari,M,1989-01-01,1988-07-30,Tehran,Nowhere Prison\n"
    )
    summary = import_file(store, write(tmp_path / "w.csv", text), source="w", actor=TESTER)
    assert (summary.imported, summary.rejected) == (2, 0)
    warnings = {(w["line"], w["field"]) for w in summary.warnings}
    assert warnings == {(2, "gender"), (2, "death_date"), (2, "city"), (3, "prison"), (3, "death_date")}
    messages = {(w["line"], w["field"]): w["message"] for w in summary.warnings}
    assert "day 31" in messages[(2, "death_date")] and "Mehr" in messages[(2, "death_date")]
    assert "before the birth date" in messages[(3, "death_date")]
    record = records_by_id(store)["1"]
    assert record["death_date"]["original"] == "1367/07/31" and record["death_date"]["earliest"] is None
    assert record["city"] == {"original": "Atlantis", "place_id": None, "name": None}
    assert record["gender"] == {"original": "X", "normalized": None}
    assert record["given_name"]["normalized"] == "reza" and record["family_name"]["normalized"] == "karimi"
    assert record["prison"]["place_id"] == "prison:evin"


def test_control_and_text_direction_characters_leave_names_with_a_warning(store, tmp_path):
    """A right-to-left override shows a name reversed; a terminal's escape sequence recolours it. They
    are taken out of the fields, each removal a warning on its field; the row as given keeps them."""
    text = ("record_id,given_name,family_name,city,notes\n"
            "1,علی\u202eرضایی,Karimi,Rasht,\n"
            "2,Ctl\x01name,Name\x1b[31m,Tabriz,rang\x07twice\n"
            "3,Plain,Name\u200c,Qom,\u200fkept\n")
    summary = import_file(store, write(tmp_path / "c.csv", text), source="c", actor=TESTER)
    assert (summary.rows, summary.imported, summary.rejected) == (3, 3, 0)
    assert sorted((w["line"], w["field"]) for w in summary.warnings) == [
        (2, "given_name"), (3, "family_name"), (3, "given_name"), (3, "notes")]
    assert all("text-direction" in w["message"] for w in summary.warnings)
    records = records_by_id(store)
    assert records["1"]["given_name"]["original"] == "علیرضایی"
    assert (records["2"]["given_name"]["original"], records["2"]["family_name"]["original"]) == ("Ctlname", "Name[31m")
    assert records["3"]["family_name"]["original"] == "Name\u200c", "a joiner (ZWNJ) is Persian writing: kept"
    with store.session() as session:
        given = session.scalar(sa.select(Record.raw).where(Record.record_id == "1"))
    assert any("\u202e" in cell for cell in given), "the row as given keeps them"


def test_a_json_lines_file_none_of_whose_lines_is_a_row_is_refused_saying_why(store, tmp_path):
    """It said "the file holds no rows"; a file with some such lines quarantines them, as before."""
    with pytest.raises(InputError, match="none of its 2 rows can be read.*not valid JSON") as refused:
        import_file(store, write(tmp_path / "g.jsonl", "garbage\nmore\n"), source="g", actor=TESTER)
    assert refused.value.line == 1
    summary = import_file(store, write(tmp_path / "h.jsonl", 'garbage\n{"id": "1", "name": "Ali"}\n'), source="h",
                          actor=TESTER)
    assert (summary.rows, summary.imported, summary.rejected) == (2, 1, 1)


def test_reimporting_the_same_file_adds_nothing(store, tmp_path):
    path = write(tmp_path / "ngo.csv", PERSIAN_LIST)
    first = import_file(store, path, source="ngo", actor=TESTER)
    again = import_file(store, path, source="ngo", actor=TESTER)
    assert again.already_imported and again.import_id == first.import_id
    assert (again.rows, again.imported) == (first.rows, first.imported)
    with store.session() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(Record)) == 3
        assert session.scalar(sa.select(sa.func.count()).select_from(Import)) == 1
    # The same file into another source is a different list.
    other = import_file(store, path, source="copy", actor=TESTER)
    assert not other.already_imported and other.imported == 3


def test_a_corrected_list_adds_versions_and_supersedes_nothing_else(store, tmp_path):
    import_file(store, write(tmp_path / "v1.csv", "id,name\n1,Reza Karimi\n2,Ali Jafari\n"), source="s", actor=TESTER)
    summary = import_file(store, write(tmp_path / "v2.csv", "id,name\n2,Ali Jafary\n3,Hassan Ahmadi\n"), source="s", actor=TESTER)
    assert summary.imported == 2
    current = records_by_id(store, "s")
    assert set(current) == {"1", "2", "3"}
    assert current["2"]["full_name"]["original"] == "Ali Jafary" and current["2"]["version"] == 2
    assert current["1"]["version"] == 1 and current["3"]["version"] == 1
    with store.session() as session:
        all_versions = list(iter_records(session, source="s", include_superseded=True))
    assert sorted((r["record_id"], r["version"]) for r in all_versions) == [("1", 1), ("2", 1), ("2", 2), ("3", 1)]


def test_an_import_that_fails_midway_leaves_nothing(store, tmp_path, monkeypatch):
    monkeypatch.setattr(importer, "BATCH_ROWS", 2)
    good = "".join(f"{i},Reza{i},Karimi\n" for i in range(1, 6))
    body = ("id,given_name,family_name\n" + good + "6,,\n" + good.replace("Reza", "Ali").replace("Karimi", "Jafari").replace("\n", "x\n", 1)).encode()
    bad_byte_at_end = body + b"99,\xff\xfe broken,name\n"
    path = tmp_path / "broken.csv"
    path.write_bytes(bad_byte_at_end)
    with pytest.raises(InputError) as failure:
        import_file(store, path, source="s", encoding="utf-8", actor=TESTER)
    assert failure.value.file == str(path) and failure.value.line is not None
    with store.session() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(Record)) == 0
        assert session.scalar(sa.select(sa.func.count()).select_from(Import)) == 0
        assert session.scalar(sa.select(sa.func.count()).select_from(FieldWarning)) == 0
    assert list(store.workspace.quarantine_dir.iterdir()) == []


SAMPLE = "شناسه,نام,نام خانوادگی,تاریخ اعدام,شهر\n1,علی,کریمی,۱۳۶۷/۰۵/۰۸,کرمانشاه\n2,حسین,یزدی,۱۳۶۷/۰۶/۰۱,تهران\n"


@pytest.mark.parametrize(
    "encoding",
    ["utf-8", "utf-8-sig", "utf-16", "utf-16-le", "cp1256"],
)
def test_encodings_are_detected(store, tmp_path, encoding):
    # Windows-1256 has Arabic yeh and kaf but no Persian ones, and no Persian digits.
    text = SAMPLE.replace("ی", "ي").replace("ک", "ك").translate(str.maketrans("۰۱۲۳۴۵۶۷۸۹", "0123456789")) if encoding == "cp1256" else SAMPLE
    summary = import_file(store, write(tmp_path / "enc.csv", text, encoding), source="s", actor=TESTER)
    assert (summary.imported, summary.rejected, summary.warning_count) == (2, 0, 0)
    record = records_by_id(store)["1"]
    assert record["family_name"]["normalized"] == "کریمی"
    assert record["city"]["place_id"] == "city:kermanshah"
    assert record["death_date"]["earliest"] == "1988-07-30"


def test_the_encoding_can_be_forced(store, tmp_path):
    text = SAMPLE.replace("ی", "ي").replace("ک", "ك").translate(str.maketrans("۰۱۲۳۴۵۶۷۸۹", "0123456789"))
    summary = import_file(store, write(tmp_path / "enc.csv", text, "cp1256"), source="s", encoding="cp1256", actor=TESTER)
    assert summary.encoding == "cp1256" and summary.imported == 2
    with pytest.raises(InputError, match="not valid"):
        import_file(store, write(tmp_path / "enc2.csv", text + "3,x,y,,\n", "cp1256"), source="t", encoding="utf-8", actor=TESTER)


@pytest.mark.parametrize("codec", ["utf-16-le", "utf-16-be", "utf-16"])
def test_utf16_can_be_forced_with_or_without_a_byte_order_mark(store, tmp_path, codec):
    """Without a BOM, --encoding utf-16 ended in a traceback ('UTF-16 stream does not start with BOM')."""
    summary = import_file(store, write(tmp_path / "u16.csv", SAMPLE, codec), source=codec, encoding="utf-16", actor=TESTER)
    assert (summary.imported, summary.rejected, summary.warning_count) == (2, 0, 0)
    assert records_by_id(store, codec)["1"]["family_name"]["normalized"] == "کریمی"


def test_semicolon_and_tab_delimited_lists(store, tmp_path):
    import_file(store, write(tmp_path / "a.csv", "id;name;city\n1;Reza Karimi;Tabriz\n"), source="a", actor=TESTER)
    import_file(store, write(tmp_path / "b.tsv", "id\tname\tcity\n1\tAli Jafari\tShiraz\n"), source="b", actor=TESTER)
    assert records_by_id(store, "a")["1"]["city"]["place_id"] == "city:tabriz"
    assert records_by_id(store, "b")["1"]["city"]["place_id"] == "city:shiraz"


def test_multiline_cells_count_as_one_spreadsheet_row(store, tmp_path):
    text = 'id,name,notes\n1,Reza Karimi,"two\nlines"\n2,Ali Jafari,\n3,,\n'
    summary = import_file(store, write(tmp_path / "m.csv", text), source="m", actor=TESTER)
    assert summary.rejected == 1
    assert read_quarantine(summary.quarantine)[1][0] == "4"
    assert records_by_id(store)["2"]["line"] == 3


def test_xlsx_rows_keep_their_sheet_line_numbers(store, tmp_path):
    openpyxl = pytest.importorskip("openpyxl")
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(["Record ID", "First name", "Surname", "Year of birth", "Date of execution", "City"])
    sheet.append([101, "Reza", "Karimi", 1340, dt.datetime(1988, 7, 30), "Ahwaz"])
    sheet.append([])
    sheet.append([103, "Ali", "Jafari", 1961.0, "8 Mordad 1367", "Esfahan"])
    sheet.append([104, None, None, None, None, None, "stray"])
    path = tmp_path / "list.xlsx"
    workbook.save(path)
    summary = import_file(store, path, source="x", actor=TESTER)
    assert (summary.rows, summary.imported, summary.rejected, summary.blank) == (3, 2, 1, 1)
    records = records_by_id(store)
    assert records["101"]["line"] == 2 and records["103"]["line"] == 4
    assert records["101"]["death_date"]["earliest"] == "1988-07-30"
    assert records["101"]["birth_date"]["calendar"] == "jalali"
    assert records["103"]["birth_date"] == {"original": "1961", "calendar": "gregorian", "precision": "year", "earliest": "1961-01-01", "latest": "1961-12-31"}
    assert records["101"]["city"]["place_id"] == "city:ahvaz" and records["103"]["city"]["place_id"] == "city:isfahan"
    assert read_quarantine(summary.quarantine)[1][0] == "5"


def test_xlsx_line_numbers_count_the_empty_rows_above_the_header(store, tmp_path):
    """A sheet whose first rows are empty: the header on row 3 was reported on row 6 and every record
    and refused row three rows below where it is in the spreadsheet."""
    openpyxl = pytest.importorskip("openpyxl")
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet["A3"], sheet["B3"], sheet["C3"] = "id", "name", "surname"
    sheet["A4"], sheet["B4"], sheet["C4"] = "1", "Reza", "Karimi"
    sheet["A5"], sheet["D5"] = "2", "stray"
    path = tmp_path / "offset.xlsx"
    workbook.save(path)
    summary = import_file(store, path, source="o", actor=TESTER)
    assert (summary.imported, summary.rejected) == (1, 1)
    assert summary.to_dict()["header_line"] == 3
    assert records_by_id(store)["1"]["line"] == 4
    assert read_quarantine(summary.quarantine)[1][0] == "5"


def test_a_hidden_first_sheet_is_not_read_as_the_list(store, tmp_path):
    """A workbook whose first sheet is a hidden look-up table: its one row ('Tehran') was imported as a
    victim, without a word; the list a person sees is the first visible sheet."""
    openpyxl = pytest.importorskip("openpyxl")
    workbook = openpyxl.Workbook()
    lookup = workbook.active
    lookup.title, lookup.sheet_state = "lookup", "hidden"
    lookup.append(["name", "code"])
    lookup.append(["Tehran", 1])
    victims = workbook.create_sheet("Victims")
    victims.append(["id", "name", "surname"])
    victims.append(["1", "Reza", "Karimi"])
    workbook.active = 1
    workbook.save(tmp_path / "hidden.xlsx")
    summary = import_file(store, tmp_path / "hidden.xlsx", source="h", actor=TESTER)
    assert summary.imported == 1 and records_by_id(store)["1"]["family_name"]["original"] == "Karimi"
    asked = import_file(store, tmp_path / "hidden.xlsx", source="l", sheet="lookup", actor=TESTER)
    assert asked.imported == 1 and [r["full_name"]["original"] for r in records_by_id(store, "l").values()] == ["Tehran"]


def test_an_xlsx_cell_is_held_to_the_limit_of_a_line(store, tmp_path):
    """A 400 KB workbook whose one cell held 400 MB of text kept the web server busy for 78 s and at
    3 GB of memory, then failed inside the database; a CSV line is held to import.max_line_kb."""
    openpyxl = pytest.importorskip("openpyxl")
    workbook = openpyxl.Workbook()
    workbook.active.append(["id", "name", "notes"])
    workbook.active.append(["1", "Reza Karimi", "x" * 3000])
    workbook.save(tmp_path / "long.xlsx")
    store.workspace.config.setdefault("import", {})["max_line_kb"] = 2
    with pytest.raises(LimitExceeded, match="the cell in column 3 holds more text") as refused:
        import_file(store, tmp_path / "long.xlsx", source="x", actor=TESTER)
    assert (refused.value.file, refused.value.line) == (str(tmp_path / "long.xlsx"), 2)
    assert records_by_id(store) == {}


def test_json_and_json_lines(store, tmp_path):
    items = [{"id": "1", "name": "Reza Karimi", "city": "Rasht"}, {"id": "2", "name": "Ali Jafari", "age": 31}, ["not", "an", "object"]]
    array = import_file(store, write(tmp_path / "l.json", json.dumps(items)), source="j", actor=TESTER)
    assert (array.rows, array.imported, array.rejected) == (3, 2, 1)
    assert records_by_id(store, "j")["2"]["raw"] == {"id": "2", "name": "Ali Jafari", "city": "", "age": "31"}
    wrapped = import_file(store, write(tmp_path / "w.json", json.dumps({"records": items[:2]})), source="w", actor=TESTER)
    assert wrapped.imported == 2
    lines = "\n".join(json.dumps(i) for i in items[:2]) + "\n{broken\n"
    jsonl = import_file(store, write(tmp_path / "l.jsonl", lines), source="jl", actor=TESTER)
    assert (jsonl.imported, jsonl.rejected) == (2, 1)
    assert read_quarantine(jsonl.quarantine)[1][0] == "3"


def test_a_mapping_file_names_columns_and_calendars(store, tmp_path):
    mapping = write(tmp_path / "map.toml", '[columns]\n"Nom" = "family_name"\n"Prénom" = "given_name"\n'
                    '"Exécution" = { field = "death_date", calendar = "gregorian", order = "mdy" }\n"Âge" = "ignore"\n"Missing" = "notes"\n')
    text = "Nom,Prénom,Exécution,Âge\nKarimi,Reza,07/08/1988,27\n"
    summary = import_file(store, write(tmp_path / "fr.csv", text), source="fr", mapping=mapping, actor=TESTER)
    assert summary.imported == 1
    record = next(iter(records_by_id(store).values()))
    assert record["death_date"]["earliest"] == "1988-07-08"  # month first, as the mapping says
    assert record["family_name"]["normalized"] == "karimi" and record["raw"]["Âge"] == "27"
    assert [w["field"] for w in summary.warnings] == ["Missing"] and summary.warnings[0]["line"] == 1


@pytest.mark.parametrize(
    ("mapping", "fragment", "field"),
    [
        ('[columns]\n"X" = "birthday"\n', "field must be one of", "X"),
        ('[columns]\n"X" = { field = "city", calendar = "jalali" }\n', "date fields only", "X"),
        ('[columns]\n"X" = { field = "death_date", calendar = "lunar" }\n', "calendar must be", "X"),
        ('[other]\n', "unknown section", None),
        ('[columns\n', "not valid TOML", None),
    ],
)
def test_a_bad_mapping_is_refused_naming_file_and_column(store, tmp_path, mapping, fragment, field):
    path = write(tmp_path / "bad.toml", mapping)
    with pytest.raises(InputError, match=fragment) as failure:
        import_file(store, write(tmp_path / "l.csv", "X,name\n1,Reza\n"), source="s", mapping=path, actor=TESTER)
    assert failure.value.file == str(path) and failure.value.field == field


def test_a_mapping_that_is_not_toml_is_refused_naming_its_line(store, tmp_path):
    mapping = write(tmp_path / "m.toml", "[columns]\nname = \n")
    with pytest.raises(InputError, match="not valid TOML") as refused:
        import_file(store, write(tmp_path / "l.csv", "id,name\n1,Ali\n"), source="l", mapping=mapping, actor=TESTER)
    assert (refused.value.file, refused.value.line) == (str(mapping), 2)


def test_a_name_column_is_required_and_ambiguous_columns_are_refused(store, tmp_path):
    with pytest.raises(InputError, match="no column holds a name") as failure:
        import_file(store, write(tmp_path / "a.csv", "id,city\n1,Rasht\n"), source="a", actor=TESTER)
    assert (failure.value.line, failure.value.field) == (1, "full_name")
    assert "this file's columns: 'id', 'city'" in failure.value.message
    with pytest.raises(InputError, match="both look like family_name"):
        import_file(store, write(tmp_path / "b.csv", "surname,last name\nKarimi,Karimi\n"), source="b", actor=TESTER)
    # Two columns of one name: the suggested '"city" = "ignore"' left out both, and "city (2)" was refused.
    with pytest.raises(InputError, match="columns 4 and 5 are both named 'city'; rename one") as same:
        import_file(store, write(tmp_path / "c.csv", "id,name,surname,city,city\n1,Ali,Testi,Tehran,Rasht\n"),
                    source="c", actor=TESTER)
    assert (same.value.line, same.value.field) == (1, "city")
    with store.session() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(Import)) == 0


def test_name_alone_means_given_name_beside_a_surname_column_else_full_name(store, tmp_path):
    import_file(store, write(tmp_path / "a.csv", "Name,Surname\nReza,Karimi\n"), source="a", actor=TESTER)
    import_file(store, write(tmp_path / "b.csv", "Name\nReza Karimi\n"), source="b", actor=TESTER)
    a = next(iter(records_by_id(store, "a").values()))
    b = next(iter(records_by_id(store, "b").values()))
    assert a["given_name"]["original"] == "Reza" and a["full_name"]["normalized"] == "reza karimi"
    assert b["given_name"]["original"] is None and b["given_name"]["normalized"] == "reza"
    assert a["full_name"]["key"] == b["full_name"]["key"]


@pytest.mark.parametrize("problem", ["missing", "folder"])
def test_unreadable_paths_are_refused(store, tmp_path, problem):
    path = tmp_path / ("nope.csv" if problem == "missing" else "folder.csv")
    if problem == "folder":
        path.mkdir()
    with pytest.raises(InputError) as failure:
        import_file(store, path, source="s", actor=TESTER)
    assert failure.value.file == str(path)


def test_source_names_may_not_hold_a_colon(store, tmp_path):
    with pytest.raises(Exception, match="may not contain"):
        import_file(store, write(tmp_path / "a.csv", "name\nReza\n"), source="un:2020", actor=TESTER)


def test_a_row_holding_a_nul_character_is_quarantined_on_either_database(store, tmp_path):
    """A NUL (code 0) in a cell is damage, not a name: PostgreSQL cannot store it, and the import
    failed there with a database error. The row goes to the quarantine, the rest is imported, and a
    header holding one refuses the file, naming its line."""
    text = "record_id,given_name,family_name\nN1,Reza,Karimi\nN2,Ha\x00ssan,Ahmadi\nN3,Ali,Jafari\n"
    summary = import_file(store, write(tmp_path / "nul.csv", text), source="s", actor=TESTER)
    assert (summary.rows, summary.imported, summary.rejected) == (3, 2, 1)
    [_, row] = read_quarantine(summary.quarantine)
    assert row[0] == "3" and "NUL character" in row[1] and row[3:] == ["N2", "Hassan", "Ahmadi"]
    lines = '{"record_id": "J1", "given_name": "Reza"}\n{"record_id": "J2", "given_name": "Re\\u0000za"}\n'
    summary = import_file(store, write(tmp_path / "nul.jsonl", lines), source="j", actor=TESTER)
    assert (summary.imported, summary.rejected) == (1, 1)
    assert set(records_by_id(store)) == {"N1", "N3", "J1"}
    with pytest.raises(InputError) as refused:
        import_file(store, write(tmp_path / "head.csv", "given\x00name,family_name\nReza,Karimi\n"), source="h",
                    actor=TESTER)
    assert refused.value.line == 1 and "NUL" in refused.value.message


@pytest.mark.parametrize(("source", "incident", "field"), [("un\x00", None, "source"), ("a\tb", None, "source"),
                                                            ("s", "1988\x00", "incident"), ("s", "a\nb", "incident")])
def test_source_and_incident_names_hold_no_control_character(store, tmp_path, source, incident, field):
    with pytest.raises(InputError) as refused:
        import_file(store, write(tmp_path / "a.csv", "name\nReza\n"), source=source, incident=incident, actor=TESTER)
    assert refused.value.field == field


def test_titles_above_the_header_are_passed_over(store, tmp_path):
    text = "List of victims compiled by a family association,,\nLast updated 2019,,\n,,\nID,Name,City\n7,Reza Karimi,Rasht\n"
    summary = import_file(store, write(tmp_path / "t.csv", text), source="t", actor=TESTER)
    assert (summary.header_line, summary.rows, summary.imported, summary.blank) == (4, 1, 1, 0)
    record = records_by_id(store)["7"]
    assert record["line"] == 5 and record["city"]["place_id"] == "city:rasht"


def test_import_never_fails_on_odd_cells(store, tmp_path):
    """Quotes, separators, line breaks, formulas and stray scripts inside cells are data, not errors."""
    text = ('id,name,notes\n1,"Karimi, Reza","said ""he was moved"" on\n8 Mordad"\n2,=HYPERLINK("x"),\t\n'
            '3,"رضا كريمي","؛،٫"\n4,Ali\u200f Jafari\u200e,\u202e\n')
    summary = import_file(store, write(tmp_path / "odd.csv", text), source="odd", actor=TESTER)
    assert (summary.rows, summary.imported, summary.rejected) == (4, 4, 0)
    records = records_by_id(store)
    assert records["1"]["given_name"]["normalized"] == "reza" and records["1"]["family_name"]["normalized"] == "karimi"
    assert records["1"]["notes"]["original"] == 'said "he was moved" on\n8 Mordad'
    assert records["4"]["full_name"]["normalized"] == "ali jafari"
