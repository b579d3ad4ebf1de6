"""A report of blocks as a PDF: every kind of block prints, what people wrote stays text, a block in
the other language keeps its own direction, one input gives the same bytes, and a malformed report
is refused naming the field."""

from __future__ import annotations

import hashlib

import pytest
from pypdf import PdfReader

from dadkhah.errors import InputError
from dadkhah.typeset import render_report, report_pdf
from tests.typeset.test_letter import HOSTILE


def report(**changes) -> dict:
    document = {
        "language": "en", "title": "A synthetic report", "subtitle": "Printed on 5 December 2025",
        "as_of": "2025-12-05T10:00:00+00:00",
        "blocks": [
            {"kind": "heading", "level": 2, "text": "Summary"},
            {"kind": "paragraph", "text": "First line.\nSecond line.\n\nA second paragraph."},
            {"kind": "facts", "rows": [["Named", "12"], ["Sources", "public-list"]]},
            {"kind": "note", "text": "A small note."},
            {"kind": "table", "columns": ["Id", "Name", "Persian"], "widths": [1, 2, 2], "share": 0.8,
             "rows": [["P-000001", "Ava Rahimi", "آوا رحیمی"], ["P-000002", "Two\nlines", ""]]},
            {"kind": "page-break"},
            {"kind": "heading", "level": 2, "text": "به فارسی", "lang": "fa"},
            {"kind": "paragraph", "text": "این بند به فارسی است.", "lang": "fa"},
        ],
    }
    return document | changes


def text_of(path) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(path).pages)


def test_every_kind_of_block_prints(tmp_path):
    out = tmp_path / "r.pdf"
    written = report_pdf(report(), out)
    text = text_of(out)
    for expected in ("A synthetic report", "Printed on 5 December 2025", "Summary", "First line.", "Second line.",
                     "A second paragraph.", "Named", "public-list", "A small note.", "P-000001", "Ava Rahimi", "Two",
                     "lines", "Page 1 of 2", "Page 2 of 2"):
        assert expected in text, expected
    assert "رحیمی" in text and "فارسی" in text
    assert written["pages"] == 2 and written["sha256"] == hashlib.sha256(out.read_bytes()).hexdigest()
    assert not list(tmp_path.glob(".r.pdf.*")), "no temporary file is left"


def test_the_same_report_gives_the_same_bytes():
    assert render_report(report()) == render_report(report())


def test_what_people_wrote_stays_text(tmp_path):
    out = tmp_path / "hostile.pdf"
    blocks = [{"kind": "paragraph", "text": "\n".join(HOSTILE)},
              {"kind": "table", "columns": ["Name"], "rows": [[name] for name in HOSTILE]},
              {"kind": "facts", "rows": [[name, name] for name in HOSTILE]}]
    report_pdf(report(title=HOSTILE[0], blocks=blocks), out)
    text = text_of(out)
    assert all(name.strip() in text for name in HOSTILE if name.strip())
    assert "root:" not in text


@pytest.mark.parametrize(("changes", "field"), [
    ({"language": "de"}, "language"),
    ({"title": ""}, "title"),
    ({"as_of": "yesterday"}, "as_of"),
    ({"blocks": "no"}, "blocks"),
    ({"blocks": [{"kind": "video"}]}, "blocks[0].kind"),
    ({"blocks": [{"kind": "heading", "level": 4, "text": "x"}]}, "blocks[0].level"),
    ({"blocks": [{"kind": "table", "columns": ["a", "b"], "rows": [["only one"]]}]}, "blocks[0].rows[0]"),
    ({"blocks": [{"kind": "table", "columns": ["a"], "widths": [0], "rows": []}]}, "blocks[0].widths"),
    ({"blocks": [{"kind": "table", "columns": ["a"], "share": 2, "rows": []}]}, "blocks[0].share"),
    ({"blocks": [{"kind": "paragraph", "text": "x", "lang": "de"}]}, "blocks[0].lang"),
])
def test_a_malformed_report_is_refused_naming_the_field(tmp_path, changes, field):
    with pytest.raises(InputError) as raised:
        report_pdf(report(**changes), tmp_path / "bad.pdf")
    assert raised.value.field == field
    assert not (tmp_path / "bad.pdf").exists()
