"""Whatever a CSV holds, an import keeps its promises: rows = imported + rejected, or a located error."""

from __future__ import annotations

import csv
import io

import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dadkhah.errors import InputError
from dadkhah.ingest.importer import import_file
from dadkhah.model import Import, Record
from dadkhah.store import open_store
from dadkhah.workspace import create_workspace
from tests.conftest import TESTER

cell = st.one_of(
    st.sampled_from(["", " ", "Reza", "کریمی", "غلام رضا", "1367/05/08", "1367/13/40", "Rasht", "نامعلوم", "-", "M", "?", "a,b", 'say "x"', "line\nbreak"]),
    st.text(alphabet=st.sampled_from(list("abcxyzابپتکي ك۱۲3،,;\"'\n\u200c\u200f")), max_size=12),
)
header = st.lists(st.sampled_from(["id", "name", "نام", "نام خانوادگی", "surname", "date of death", "city", "notes", "extra", ""]),
                  min_size=1, max_size=6)


@st.composite
def csv_files(draw):
    columns = draw(header)
    rows = draw(st.lists(st.lists(cell, min_size=max(0, len(columns) - 1), max_size=len(columns) + 1), max_size=12))
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    writer.writerows(rows)
    return buffer.getvalue()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=csv_files())
def test_any_csv_is_imported_whole_or_refused_with_a_location(tmp_path_factory, monkeypatch, text):
    monkeypatch.delenv("DADKHAH_DATABASE_URL", raising=False)
    folder = tmp_path_factory.mktemp("prop")
    path = folder / "list.csv"
    path.write_text(text, encoding="utf-8")
    with open_store(create_workspace(folder / "ws")) as store:
        try:
            summary = import_file(store, path, source="s", actor=TESTER)
        except InputError as error:
            assert error.file == str(path)
            with store.session() as session:
                assert session.scalar(sa.select(sa.func.count()).select_from(Record)) == 0
                assert session.scalar(sa.select(sa.func.count()).select_from(Import)) == 0
            return
        assert summary.rows == summary.imported + summary.rejected
        with store.session() as session:
            lines = session.scalars(sa.select(Record.line)).all()
        assert len(lines) == summary.imported == len(set(lines))
        assert all(line > summary.header_line for line in lines)
        if summary.rejected:
            with open(summary.quarantine, encoding="utf-8-sig", newline="") as handle:
                assert len(list(csv.reader(handle))) == summary.rejected + 1
