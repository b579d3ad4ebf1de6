"""The fast import stores exactly what a plain row-by-row reading of the same rules gives.

The importer stages rows in bulk (tuples, cached outcomes per cell, COPY on PostgreSQL) for speed.
These tests hold it to a slow reference written here, row by row, from the same normalisation
functions (names, dates, genders, places, folding) and the import's documented rules: which rows are
refused and why, which warnings are kept, every stored column of every record, the ids (in line
order), and the quarantine report. They run on SQLite and on PostgreSQL (the ``store`` fixture), on
synthetic lists with bad rows mixed in.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import sqlalchemy as sa

from dadkhah.ingest.columns import plan_columns
from dadkhah.ingest.importer import import_file, raw_json
from dadkhah.model import FieldWarning, Import, Record
from dadkhah.normalize.dates import DateParseError, parse_date
from dadkhah.normalize.gender import GenderParseError, parse_gender
from dadkhah.normalize.names import normalize_name, split_full_name
from dadkhah.normalize.script import fold_text
from dadkhah.places import load_gazetteer
from dadkhah.spreadsheet import safe_row
from dadkhah.store import json_text
from dadkhah.synth import generate_case
from tests.conftest import TESTER

# --- the slow reference -----------------------------------------------------------------------


def _names(given_text, family_text, full_text) -> dict | None:
    given = normalize_name(given_text, "given") if given_text else None
    family = normalize_name(family_text, "family") if family_text else None
    full = split_full_name(full_text) if full_text else None
    # A name without a letter ("12345", "#12") is left out, as if empty.
    letterless = [field for field, value in (("given_name", given), ("family_name", family),
                                             ("full_name", full.full if full else None))
                  if value is not None and not any(c.isalpha() for c in value.normalized or "")]
    given = None if "given_name" in letterless else given
    family = None if "family_name" in letterless else family
    full = None if "full_name" in letterless else full
    if given is None and family is None and full is None:
        return None
    given_v = given or (full.given if full else None)
    family_v = family or (full.family if full else None)
    if full is not None:
        full_norm, full_key = full.full.normalized, full.full.key
    else:
        full_norm = " ".join(v.normalized for v in (given_v, family_v) if v) or None
        full_key = " ".join(v.key for v in (given_v, family_v) if v and v.key) or None
    values = [v for v in (given, family, full.full if full else None) if v is not None]
    titles = " ".join(dict.fromkeys(t for v in values for t in v.titles)) or None
    aliases = list(dict.fromkeys(a for v in values for a in v.aliases))
    scripts = {v.script for v in values if v.script}
    return {
        "given_name_norm": given_v.normalized if given_v else None, "given_name_key": given_v.key if given_v else None,
        "family_name_norm": family_v.normalized if family_v else None,
        "family_name_key": family_v.key if family_v else None,
        "full_name_norm": full_norm, "full_name_key": full_key,
        "name_script": (scripts.pop() if len(scripts) == 1 else "mixed") if scripts else None,
        "titles": titles, "aliases": json.dumps(aliases, ensure_ascii=False) if aliases else None,
        "letterless": letterless,
    }


FIELDS = ("record_id", "given_name", "family_name", "full_name", "father_name", "gender", "birth_date", "death_date",
          "city", "prison", "affiliation", "notes")


def reference_import(path: Path, gazetteer, import_id: int):
    """(records in line order, warnings in order, quarantine rows) for one CSV file, row by row."""
    with open(path, encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    header = [c.strip() for c in rows[0]]
    plan = plan_columns(header)
    position = {spec.field: i for i, spec in enumerate(plan.specs) if spec is not None}
    width = len(header)
    records, warnings, refused, repeated, first_line = [], [], [], [], {}
    for line, cells in enumerate(rows[1:], start=2):
        if all(not c.strip() for c in cells):
            continue  # blank: not a data row
        if len(cells) > width and not any(c.strip() for c in cells[width:]):
            cells = cells[:width]
        if len(cells) != width:
            refused.append([line, f"the row has {len(cells)} cells but the header has {width} columns", "", *cells])
            continue
        v = {name: (cells[position[name]].strip() or None) if name in position else None for name in FIELDS}
        names = _names(v["given_name"], v["family_name"], v["full_name"])
        if names is None:
            refused.append([line, "no name: the given, family and full name are all empty, marked unknown or hold no letters", "", *cells])
            continue
        row_warnings = []
        for field in names.pop("letterless"):
            row_warnings.append((field, f"the {field.replace('_', ' ')} holds no letters; not used for matching", v[field]))
        father = normalize_name(v["father_name"], "father") if v["father_name"] else None
        record = {"line": line, "raw": list(cells), **names,
                  "father_name_norm": father.normalized if father else None, "father_name_key": father.key if father else None}
        for name in ("given_name", "family_name", "full_name", "father_name", "gender", "birth_date", "death_date",
                     "city", "prison", "affiliation", "notes"):
            record[name] = v[name]
        record["gender_norm"] = None
        if v["gender"]:
            try:
                record["gender_norm"] = parse_gender(v["gender"])
            except GenderParseError as exc:
                row_warnings.append(("gender", str(exc), v["gender"]))
        for name, prefix in (("birth_date", "birth"), ("death_date", "death")):
            parsed = None
            if v[name]:
                try:
                    parsed = parse_date(v[name])
                except DateParseError as exc:
                    row_warnings.append((name, str(exc), v[name]))
            record[f"{prefix}_calendar"] = parsed.calendar if parsed else None
            record[f"{prefix}_precision"] = ("approximate" if parsed.approximate else parsed.precision) if parsed else None
            record[f"{prefix}_earliest"] = parsed.earliest if parsed else None
            record[f"{prefix}_latest"] = parsed.latest if parsed else None
        if record["birth_earliest"] and record["death_latest"] and record["death_latest"] < record["birth_earliest"]:
            row_warnings.append(("death_date", "the death date is before the birth date; both kept as given",
                                 v["death_date"]))
        for name, types in (("city", ("city", "province")), ("prison", ("prison",))):
            match = gazetteer.resolve(v[name], types) if v[name] else None
            if v[name] and match is None:
                row_warnings.append((name, gazetteer.unknown_place(v[name], types), v[name]))
            record[f"{name}_place_id"] = match.place_id if match else None
        record["affiliation_norm"] = fold_text(v["affiliation"]) if v["affiliation"] else None
        record_id = v["record_id"]
        if record_id is not None and len(record_id) > 200:
            row_warnings.append(("record_id", "record_id is longer than 200 characters; a generated id is used",
                                 record_id))
            record_id = None
        elif record_id is None and "record_id" in position:
            row_warnings.append(("record_id", "the record_id is empty; a generated id is used", None))
        if record_id is not None and record_id in first_line:
            repeated.append([line, f"record_id {record_id!r} repeats line {first_line[record_id]}", "record_id", *cells])
            continue
        if record_id is not None:
            first_line[record_id] = line
        record.update(record_id=record_id or f"#{import_id}.{line}", version=1, superseded_by=None)
        records.append(record)
        warnings.extend((line, *w) for w in row_warnings)
    # The report lists refused rows in the file's order, a repeated id at its own line.
    return records, warnings, sorted(refused + repeated, key=lambda row: row[0])


# --- the lists ------------------------------------------------------------------------------------


def damaged(source: Path, out: Path, *, approximate: bool = True) -> Path:
    """``source`` with every kind of trouble mixed in: refused rows, warnings, awkward cells."""
    with open(source, encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    header, body = rows[0], rows[1:]
    col = {name: i for i, name in enumerate(header)}
    name_cols = [col[n] for n in ("given_name", "family_name", "full_name") if n in col]
    out_rows = [header]
    for number, row in enumerate(body):
        row = list(row)
        kind = number % 23
        if kind == 1:
            row = row[:-1]  # a missing cell
        elif kind == 2:
            row = [*row, "extra"]  # a cell too many
        elif kind == 3:
            row = [*row, "", " "]  # blank cells past the end: kept
        elif kind == 4:
            for i in name_cols:
                row[i] = "نامعلوم" if number % 2 else ""  # no name
        elif kind == 5 and len(out_rows) > 3:
            row[col["record_id"]] = out_rows[-2][col["record_id"]]  # an id an earlier row used
        elif kind == 6:
            row[col["death_date"]] = "1367/13/45"  # an impossible date
        elif kind == 7:
            row[col["city"]] = "Atlantis"  # an unknown place
        elif kind == 8:
            row[col["gender"]] = "xyz"  # an unknown gender
        elif kind == 9:
            row[col["affiliation"]] = 'گروه "الف"\\ب\tج'  # quotes, a backslash and a tab
        elif kind == 10:
            row[col["record_id"]] = ""  # no record_id
        elif kind == 11:
            row[col["record_id"]] = "x" * 201  # too long a record_id
        elif kind == 12:
            row[col["birth_date"]], row[col["death_date"]] = "1370", "1367/05/10"  # death before birth
        elif kind == 13:
            row[name_cols[0]] = "سید علی (ابوالفضل)"  # a title and an alias
        elif kind == 14:
            out_rows.append([""] * len(header))  # a blank row
        elif kind == 15:
            row[col["prison"]] = "Evin Prison, Tehran"
        elif kind == 16:
            row[col["affiliation"]] = "line one\nline two"  # a line break inside a cell
        elif kind == 17 and approximate:
            row[col["birth_date"]] = "حدود ۱۳۴۰" if number % 2 else "c. 1960"  # approximate dates
        elif kind == 18:
            row[col["birth_date"]] = row[col["death_date"]] = "1367/05/10"  # born and died the same day
        elif kind == 19:
            row[col["death_date"]] = "Mordad 1367"  # a month
        elif kind == 20:
            for i in name_cols:
                row[i] = "12345"  # a number where the name should be: no name
        elif kind == 21 and len(name_cols) > 1:
            row[name_cols[-1]] = "#۱۲۳۴"  # a name of a sign and digits beside another name
        out_rows.append(row)
    with open(out, "w", encoding="utf-8", newline="") as handle:
        csv.writer(handle, lineterminator="\n").writerows(out_rows)
    return out


@pytest.fixture(scope="module")
def all_lists(tmp_path_factory) -> dict[str, list[Path]]:
    folder = tmp_path_factory.mktemp("equivalence")
    generate_case(folder / "case", victims=500, lists=3, seed=11, difficulty="hard")
    paths = sorted((folder / "case").glob("list-*.csv"))
    damaged_lists = [damaged(path, folder / f"damaged-{path.name}") for path in paths]
    return {"sqlite": damaged_lists, "postgres": damaged_lists}


@pytest.fixture
def lists(all_lists, database) -> list[Path]:
    return all_lists[database]


def stored(store, import_id: int):
    columns = [c for c in Record.__table__.columns if c.name not in ("id", "source_id", "import_id")]
    with store.session() as session:
        records = session.execute(sa.select(Record.id, *columns).where(Record.import_id == import_id)
                                  .order_by(Record.id)).mappings().all()
        warnings = session.execute(sa.select(FieldWarning.line, FieldWarning.field, FieldWarning.message,
                                             FieldWarning.value).where(FieldWarning.import_id == import_id)
                                   .order_by(FieldWarning.id)).all()
        batch = session.get(Import, import_id)
    return [dict(r) for r in records], [tuple(w) for w in warnings], batch


# --- the tests ----------------------------------------------------------------------------------


def test_import_stores_what_the_row_by_row_reference_gives(store, lists):
    with store.session() as session:
        gazetteer = load_gazetteer(session)
    for path in lists:
        summary = import_file(store, path, source=path.stem, actor=TESTER)
        records, warnings, refused = reference_import(path, gazetteer, summary.import_id)
        got, got_warnings, batch = stored(store, summary.import_id)

        assert summary.rows == summary.imported + summary.rejected
        assert (summary.imported, summary.rejected) == (len(records), len(refused))
        assert {r[2] for r in refused} >= {"record_id"}  # the lists do hold repeated ids
        # Records: every column, in line order, with ids in that order.
        assert [r["line"] for r in got] == [r["line"] for r in records]
        ids = [r.pop("id") for r in got]
        assert ids == sorted(ids) and len(set(ids)) == len(ids)
        assert got == records
        # Warnings: each one, in the order they were found.
        assert got_warnings == warnings
        assert batch.warning_count == len(warnings)
        # The quarantine report: every refused row with its reason and cells, in the file's line order.
        with open(summary.quarantine, encoding="utf-8-sig", newline="") as handle:
            report = list(csv.reader(handle))
        assert report[0][:3] == ["line", "reason", "field"]
        assert report[1:] == [[str(r[0]), *safe_row(r[1:])] for r in refused]


def test_both_databases_give_the_same_ids(tmp_path, all_lists, postgres_url):
    """The same file gives the same records under the same ids on SQLite and on PostgreSQL."""
    from dadkhah.store import open_store
    from dadkhah.workspace import create_workspace

    results = []
    for name, url in (("sqlite", None), ("postgres", postgres_url)):
        with open_store(create_workspace(tmp_path / name, database_url=url)) as store:
            summary = import_file(store, all_lists["postgres"][0], source="ngo", actor=TESTER)
            results.append(stored(store, summary.import_id)[:2])
    assert results[0] == results[1]


@pytest.mark.parametrize("cells", [[], [""], ["a"], ['a"b', "c"], ["a\\b"], ["x\ny", "\t"], ["\x1f", "\x7f"],
                                   ["\u2028", "ZWNJ\u200c", "نام"], ['"'], ["", "", ""], ["a", '""'], ["\ud800"]])
def test_raw_cells_are_stored_as_the_workspace_json_writer_writes_them(cells):
    assert raw_json(cells) == json_text(cells)


@pytest.mark.postgres
def test_an_approximate_date_imports_on_postgres(tmp_path, postgres_url):
    """records.birth_precision and death_precision were VARCHAR(10), and 'approximate' has 11 letters:
    PostgreSQL refused every list holding such a date (SQLite does not enforce the length)."""
    from dadkhah.store import open_store
    from dadkhah.workspace import create_workspace

    path = tmp_path / "approx.csv"
    path.write_text("record_id,given_name,family_name,birth_date\n1,Ali,Rezaei,c. 1960\n", encoding="utf-8")
    with open_store(create_workspace(tmp_path / "ws", database_url=postgres_url)) as store:
        assert import_file(store, path, source="ngo", actor=TESTER).imported == 1


# --- a large list read by two processes at once ------------------------------------------------


def _workspace_reading_in_parts(path: Path):
    """A SQLite workspace that reads every CSV list in two parts at once (import.parallel_from_mb = 0)."""
    from dadkhah.workspace import create_workspace

    workspace = create_workspace(path)
    config = workspace.config_path.read_text(encoding="utf-8")
    workspace.config_path.write_text(config.replace("parallel_from_mb = 8", "parallel_from_mb = 0"), encoding="utf-8")
    return workspace.reloaded()


def test_a_list_read_in_two_parts_at_once_stores_what_the_reference_gives(tmp_path, all_lists, second_parts):
    """Records, ids, warnings, the quarantine report and counts are those of the row-by-row reference,
    including record_ids repeated across the cut (each part sees only its own) and a cell with a line
    break and quotes on either side of it."""
    from dadkhah.store import open_store

    source = all_lists["sqlite"][0]
    with open(source, encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    col = rows[0].index("record_id")
    # The last rows repeat ids of the first part's first rows: refused, naming the line in the first part.
    tail = [[*row[:col], rows[1 + i][col], *row[col + 1:]] for i, row in enumerate(rows[-8:]) if rows[1 + i][col]]
    path = tmp_path / "across.csv"
    with open(path, "w", encoding="utf-8", newline="") as handle:
        csv.writer(handle, lineterminator="\n").writerows([*rows, *tail])
    with open_store(_workspace_reading_in_parts(tmp_path / "ws")) as store:
        with store.session() as session:
            gazetteer = load_gazetteer(session)
        summary = import_file(store, path, source="across", actor=TESTER)
        records, warnings, refused = reference_import(path, gazetteer, summary.import_id)
        got, got_warnings, batch = stored(store, summary.import_id)
    [second] = second_parts
    assert second.part.clean and 0 < second.part.rows_read < len(rows) and second.exit_code == 0
    assert (summary.rows, summary.imported, summary.rejected) == (len(records) + len(refused), len(records), len(refused))
    repeated_across = [r for r in refused if r[0] > second.part.rows_read and r[2] == "record_id"
                       and int(r[1].rsplit(" ", 1)[1]) <= second.part.rows_read]
    assert len(repeated_across) >= 3
    ids = [r.pop("id") for r in got]
    assert ids == sorted(ids) and got == records
    assert got_warnings == warnings and batch.warning_count == len(warnings)
    with open(summary.quarantine, encoding="utf-8-sig", newline="") as handle:
        assert list(csv.reader(handle))[1:] == [[str(r[0]), *safe_row(r[1:])] for r in refused]


def test_a_cut_that_falls_inside_a_quoted_cell_reads_the_list_whole(tmp_path, second_parts):
    """A quote inside an unquoted cell (5'7" tall) fools the count of quotes, so the cut falls inside a
    cell that holds a line break: the two parts are thrown away and the list is read whole, with the same
    result as when it is never cut."""
    from dadkhah.store import open_store
    from dadkhah.workspace import create_workspace

    lines = ["record_id,given_name,family_name,notes", 'r0,Ali,Tall,5\'7" tall']
    lines += [f"r{i},Given{i},Family{i},plain" for i in range(1, 400)]
    lines += [f'r{i},Given{i},Family{i},"first line\nsecond line"' for i in range(400, 800)]
    path = tmp_path / "fooled.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    results = []
    for workspace in (_workspace_reading_in_parts(tmp_path / "parts"), create_workspace(tmp_path / "whole")):
        with open_store(workspace) as store:
            summary = import_file(store, path, source="fooled", actor=TESTER)
            results.append((summary.rows, summary.imported, summary.rejected, stored(store, summary.import_id)[:2]))
    [cut] = second_parts
    assert cut.part.clean is False
    assert results[0] == results[1] and results[0][:3] == (800, 800, 0)
    assert results[0][3][0][-1]["notes"] == "first line\nsecond line"


def test_a_bad_byte_names_its_own_line_whether_the_list_is_read_whole_or_in_parts(tmp_path, second_parts):
    """An undecodable byte deep in a list (text is decoded a block ahead of the rows read): the import stops
    naming the line that holds it, read whole or past the cut of a list read in two parts, and keeps
    nothing."""
    from dadkhah.errors import InputError
    from dadkhah.store import open_store
    from dadkhah.workspace import create_workspace

    body = "".join(f'r{i},Given{i},"Family{i}\nsecond line"\n' for i in range(1, 2001)).encode()
    at = body.index(b"r1800,")
    path = tmp_path / "broken.csv"
    path.write_bytes(b"record_id,given_name,family_name\n" + body[:at] + b"r1800,Giv\xff\xfeen,Family\n" + body[at:])
    for workspace in (_workspace_reading_in_parts(tmp_path / "parts"), create_workspace(tmp_path / "whole")):
        with open_store(workspace) as store:
            with pytest.raises(InputError) as refused:
                import_file(store, path, source="broken", actor=TESTER, encoding="utf-8")
            with store.session() as session:
                assert session.scalar(sa.select(sa.func.count()).select_from(Record)) == 0
        assert (refused.value.line, refused.value.field) == (1801, "encoding") and refused.value.file == str(path)
        assert not list((workspace.path / "quarantine").glob("*"))
    assert len(second_parts) == 1 and second_parts[0].part.clean


@pytest.mark.parametrize("at", [3, 1800])
def test_a_quote_never_closed_refuses_the_list_naming_its_row_whether_read_whole_or_in_parts(tmp_path, second_parts,
                                                                                            at):
    """A stray quote opening a cell (row ``at``: in the first part, or past the cut) that nothing closes
    would make every row after it one cell: the rows were lost without a word. The import stops, naming
    the row and the column, and keeps nothing; a quote inside a cell that is closed is read as before."""
    from dadkhah.errors import InputError
    from dadkhah.store import open_store
    from dadkhah.workspace import create_workspace

    rows = [f"r{i},Given{i},Family{i}" for i in range(1, 2001)]
    rows[at - 2] = f'r{at - 1},Given{at - 1},"Family{at - 1}'
    path = tmp_path / "unclosed.csv"
    path.write_text("record_id,given_name,family_name\n" + "\n".join(rows) + "\n", encoding="utf-8")
    for workspace in (_workspace_reading_in_parts(tmp_path / "parts"), create_workspace(tmp_path / "whole")):
        with open_store(workspace) as store:
            with pytest.raises(InputError, match="never closed") as refused:
                import_file(store, path, source="unclosed", actor=TESTER)
            with store.session() as session:
                assert session.scalar(sa.select(sa.func.count()).select_from(Record)) == 0
        assert (refused.value.line, refused.value.field, refused.value.file) == (at, "family_name", str(path))
    closed = tmp_path / "closed.csv"
    closed.write_text('record_id,given_name,family_name\nr1,Ali,"Mo""sav\ni"\nr2,Reza,Tehrani\n', encoding="utf-8")
    with open_store(create_workspace(tmp_path / "fine")) as store:
        summary = import_file(store, closed, source="closed", actor=TESTER)
        assert (summary.rows, summary.imported) == (2, 2)


def test_the_row_limit_counts_the_rows_of_both_parts(tmp_path, second_parts):
    from dadkhah.errors import LimitExceeded
    from dadkhah.store import open_store

    workspace = _workspace_reading_in_parts(tmp_path / "ws")
    config = workspace.config_path.read_text(encoding="utf-8")
    workspace.config_path.write_text(config.replace("max_rows = 5000000", "max_rows = 600"), encoding="utf-8")
    path = tmp_path / "long.csv"
    path.write_text("id,name\n" + "".join(f"r{i},Name{i}\n" for i in range(1000)), encoding="utf-8")
    with open_store(workspace.reloaded()) as store, pytest.raises(LimitExceeded, match="import.max_rows"):
        import_file(store, path, actor=TESTER, source="long")
    [second] = second_parts
    assert second.part.rows_read < 600 and 1000 - second.part.rows_read < 600  # neither part alone is over


def _in_a_thread(work):
    """``work()`` run in another thread (as a web server imports an upload): its answer, or its error raised."""
    import threading

    done = {}

    def run():
        try:
            done["answer"] = work()
        except BaseException as exc:  # noqa: BLE001 - raised again in the test's thread
            done["error"] = exc

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    if "error" in done:
        raise done["error"]
    return done["answer"]


def test_an_import_run_in_a_thread_reads_the_second_part_in_a_fresh_interpreter(tmp_path, second_parts):
    """A web server imports an upload in a thread while its other threads use SQLite: no fork there (see
    dadkhah.ingest.parallel), the second part is read by a fresh interpreter, with the result of reading
    the list whole: records, warnings, refused rows (a repeat across the cut, a row without a name) and
    the lines they name."""
    from dadkhah.store import open_store
    from dadkhah.workspace import create_workspace

    rows = [f"r{i},Given{i},Family{i},{'1367/05/08' if i % 7 else '1367/13/40'},Rasht" for i in range(2000)]
    rows += ["r5,Again,Repeated,1367/05/08,Rasht", "r9999,,,1367/05/08,Rasht"]
    path = tmp_path / "upload.csv"
    path.write_text("record_id,given_name,family_name,death_date,city\n" + "\n".join(rows) + "\n", encoding="utf-8")
    results = []
    for workspace in (_workspace_reading_in_parts(tmp_path / "parts"), create_workspace(tmp_path / "whole")):
        with open_store(workspace) as store:
            summary = _in_a_thread(lambda store=store: import_file(store, path, actor=TESTER, source="up"))
            with open(summary.quarantine, encoding="utf-8-sig", newline="") as handle:
                refused = list(csv.reader(handle))[1:]
            results.append((summary.rows, summary.imported, summary.rejected, refused, stored(store, summary.import_id)[:2]))
            assert not list(workspace.private_dir.glob("import-*")), "nothing of the import is left behind"
    [second] = second_parts
    assert second._fresh is not None and second.exit_code == 0 and second.part.clean
    assert results[0] == results[1] and results[0][:3] == (2002, 2000, 2)
    assert sorted(row[0] for row in results[0][3]) == ["2002", "2003"], "the refused rows' lines as the whole file numbers them"


def test_a_fresh_interpreter_that_is_killed_stops_the_import_and_keeps_nothing(tmp_path, monkeypatch):
    import os
    import signal

    from dadkhah.ingest import parallel
    from dadkhah.store import open_store

    class Killed(parallel.SecondPart):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            os.kill(self.pid, signal.SIGKILL)

    monkeypatch.setattr(parallel, "SecondPart", Killed)
    path = tmp_path / "list.csv"
    path.write_text("id,name\n" + "".join(f"r{i},Name{i}\n" for i in range(3000)), encoding="utf-8")
    workspace = _workspace_reading_in_parts(tmp_path / "ws")
    with open_store(workspace) as store:
        with pytest.raises(RuntimeError, match=r"(?s)second part of .*list\.csv failed; nothing was imported.*"
                                               r"stopped \(exit code -9\)"):
            _in_a_thread(lambda: import_file(store, path, actor=TESTER, source="list"))
        with store.session() as session:
            assert session.scalar(sa.select(sa.func.count()).select_from(Record)) == 0
        assert not list(workspace.private_dir.glob("import-*")) and not list((workspace.path / "quarantine").glob("*"))


@pytest.mark.parametrize("how", ["fails", "is killed"])
def test_when_the_second_process_fails_or_is_killed_nothing_is_imported(tmp_path, second_parts, monkeypatch, how):
    """The process reading the second part hits a fault (a full disk, say) or is killed by the system: the
    import stops saying so, keeps nothing (no record, no quarantine report, no staging file), and the same
    list imports afterwards."""
    import os
    import signal

    from dadkhah.ingest import parallel
    from dadkhah.store import open_store

    path = tmp_path / "list.csv"
    path.write_text("id,name\n" + "".join(f"r{i},Name{i}\n" for i in range(3000)) + "r1,Name1\n", encoding="utf-8")
    workspace = _workspace_reading_in_parts(tmp_path / "ws")
    parent = os.getpid()
    writing = parallel._PartSink.write

    def broken(self, batch):
        if os.getpid() != parent:  # in the child only (it was forked with this method)
            if how == "is killed":
                os.kill(os.getpid(), signal.SIGKILL)
            raise OSError(28, "No space left on device")
        writing(self, batch)

    monkeypatch.setattr(parallel._PartSink, "write", broken)
    with open_store(workspace) as store:
        said = "No space left on device" if how == "fails" else r"stopped \(exit code -9\)"
        with pytest.raises(RuntimeError, match=r"(?s)the process reading the second part of .*list\.csv failed; "
                                               f"nothing was imported.*{said}"):
            import_file(store, path, actor=TESTER, source="list")
        with store.session() as session:
            assert session.scalar(sa.select(sa.func.count()).select_from(Record)) == 0
            assert session.scalar(sa.select(sa.func.count()).select_from(Import)) == 0
        assert not list((workspace.path / "quarantine").glob("*"))
        assert not [p for p in workspace.private_dir.glob("import-*")]
        monkeypatch.setattr(parallel._PartSink, "write", writing)
        summary = import_file(store, path, actor=TESTER, source="list")
    assert (summary.imported, summary.rejected) == (3000, 1) and len(second_parts) == 2
