"""Every CSV Dadkhah writes is safe to open in a spreadsheet: no cell, header included, starts a
formula (CSV injection). One helper (dadkhah.spreadsheet) writes them all; each exporter is run
here over hostile values."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import dadkhah
from dadkhah.ingest.importer import import_file
from dadkhah.link.run import run_linkage
from dadkhah.registry.persons import export_persons
from dadkhah.spreadsheet import FORMULA_START, safe_cell
from dadkhah.synth import generate_case
from tests.conftest import TESTER, write

HOSTILE = ['=HYPERLINK("http://example.invalid/x","id")', "=hyperlink", "@sum(1+1)", "+1+1", "-2+3", "\t=1", "\r=1"]


def _cells(path: Path) -> list[str]:
    with open(path, encoding="utf-8-sig", newline="") as handle:
        return [cell for row in csv.reader(handle) for cell in row]


def _dangerous(path: Path) -> list[str]:
    return [cell for cell in _cells(path) if cell.startswith(FORMULA_START)]


def test_the_helper_neutralises_exactly_the_formula_starts():
    assert [safe_cell(v) for v in HOSTILE] == ["'" + v for v in HOSTILE]
    assert [safe_cell(v) for v in ("Reza", "1367/05/08", "", None, 5, " =not at start")] == [
        "Reza", "1367/05/08", "", None, 5, " =not at start"]


def test_quarantine_reports_and_person_exports_carry_no_formula(store, tmp_path):
    header = ["id", "given_name", "family_name", "father_name", "city", '=HYPERLINK("http://example.invalid","h")',
              "@notes"]
    rows = [[f"r{i}", value, "Karimi", "Ali", "Rasht", value, value] for i, value in enumerate(HOSTILE)]
    rows.append(["r-bad", "=1+1", "Karimi"])  # too few cells: quarantined with its hostile cell
    buffer = io.StringIO()
    csv.writer(buffer).writerows([header, *rows])
    body = buffer.getvalue()
    summary = import_file(store, write(tmp_path / "hostile.csv", body), actor=TESTER, source="hostile")
    assert summary.imported == len(HOSTILE) and summary.rejected == 1 and summary.quarantine
    assert _dangerous(Path(summary.quarantine)) == []
    report_cells = _cells(Path(summary.quarantine))
    assert "'=1+1" in report_cells and "'=HYPERLINK(\"http://example.invalid\",\"h\")" in report_cells
    second = import_file(store, write(tmp_path / "again.csv", body), actor=TESTER, source="again")
    assert second.imported
    run_linkage(store, actor=TESTER)
    with store.session() as session:
        exported = export_persons(session, tmp_path / "persons.csv")
    assert exported["rows"] and _dangerous(tmp_path / "persons.csv") == []
    assert {"'=hyperlink", "'@sum"} <= set(_cells(tmp_path / "persons.csv")), "neutralised, not dropped"


def test_the_synthetic_generator_writes_through_the_helper_too(tmp_path):
    generate_case(tmp_path, victims=50, lists=2, seed=3)
    for path in tmp_path.glob("*.csv"):
        assert _dangerous(path) == [], path


def test_no_code_writes_csv_but_through_the_helper():
    """A future exporter cannot forget: csv.writer and DictWriter are used only in dadkhah.spreadsheet."""
    root = Path(dadkhah.__file__).parent
    writers = [str(p.relative_to(root)) for p in root.rglob("*.py") if p.name != "spreadsheet.py"
               and re.search(r"csv\.(writer|DictWriter)\(|openpyxl|xlsxwriter", p.read_text(encoding="utf-8"))]
    assert writers == []
