"""A report of blocks as a PDF: every kind of block prints, what people wrote stays text, a block in
the other language keeps its own direction, one input gives the same bytes, and a malformed report
is refused naming the field."""

from __future__ import annotations

import hashlib
import io
import os
import re

import pytest
from pypdf import PdfReader

from dadkhah.errors import DadkhahError, InputError
from dadkhah.typeset import render_report, report_pdf
from dadkhah.typeset.compile import compile_pdf, moment_of
from dadkhah.typeset.report import TEMPLATE, _blocks, _parts
from tests.typeset.structure import check_structure, reading_order
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


# --- a long report, set in parts ------------------------------------------------------------------

def long_report(cities: dict[str, int]) -> dict:
    """A report listing, city by city, as many persons as ``cities`` says (ids P-000001 onwards)."""
    blocks, number = [{"kind": "heading", "level": 2, "text": "Summary"},
                      {"kind": "paragraph", "text": "Synthetic persons, listed by city."},
                      {"kind": "page-break"}, {"kind": "heading", "level": 2, "text": "The list"}], 0
    for city, count in cities.items():
        rows = [[f"P-{number + i:06d}", f"Synthetic Person {number + i}"] for i in range(1, count + 1)]
        number += count
        blocks += [{"kind": "heading", "level": 3, "text": f"{city} ({count})"},
                   {"kind": "table", "columns": ["Id", "Name"], "rows": rows}]
    return report(blocks=blocks)


def outline_of(reader: PdfReader, outline=None, depth: int = 1) -> list[tuple[int, str, int]]:
    """(depth, title, page index) of every bookmark, in order."""
    found = []
    for entry in reader.outline if outline is None else outline:
        if isinstance(entry, list):
            found += outline_of(reader, entry, depth + 1)
        else:
            found.append((depth, entry.title, reader.get_destination_page_number(entry)))
    return found


def test_a_long_report_is_set_in_parts_numbered_and_bookmarked_as_one(tmp_path):
    """Parts of at most 60 rows: every person once and in order, "Page k of n" on every page with
    one n, a city cut between parts keeps its column headings, bookmarks nested by heading level
    across the parts, the same bytes twice, the progress told part by part, and one structure tree
    that a screen reader follows through every part in order."""
    document = long_report({"Aleppo": 70, "Basra": 20, "Cairo": 45, "Dhaka": 130})
    told = []
    pdf = render_report(document, part_rows=60, whole_rows=60, progress=lambda done, total: told.append((done, total)))
    assert pdf == render_report(document, part_rows=60, whole_rows=60)
    out = tmp_path / "long.pdf"
    out.write_bytes(pdf)
    reader = PdfReader(out)
    pages = [page.extract_text() for page in reader.pages]
    text = "\n".join(pages)
    ids = re.findall(r"P-\d{6}", text)
    assert ids == [f"P-{n:06d}" for n in range(1, 266)], "every person once, in order"
    assert [re.search(r"Page (\d+) of (\d+)", page).groups() for page in pages] == \
        [(str(k), str(len(pages))) for k in range(1, len(pages) + 1)]
    parts = told[-1][1] // 2
    assert parts >= 5 and told == [(k, 2 * parts) for k in range(1, 2 * parts + 1)]
    assert all(page.count("Id") >= 1 for page in pages if re.search(r"P-\d{6}", page)), "headings on every page"
    assert text.count("A synthetic report") == len(pages) + 1, "the title opens the report once (and is in each footer)"
    marks = outline_of(reader)
    assert [(depth, title) for depth, title, _ in marks] == [
        (1, "A synthetic report"), (2, "Summary"), (2, "The list"),
        (3, "Aleppo (70)"), (3, "Basra (20)"), (3, "Cairo (45)"), (3, "Dhaka (130)")]
    for _, title, page in marks[3:]:
        assert title.split(" (")[0] in pages[page], f"{title}'s bookmark leads to its page"
    root = reader.trailer["/Root"]
    assert root["/Lang"] == "en" and reader.metadata.title == "A synthetic report"
    structure = check_structure(pdf)
    assert structure["identifiers"] > 2 * 2, "each part's column headings keep identifiers of their own"
    order = reading_order(out, r"P-\d{6}")
    if order is not None:
        assert order == [f"P-{n:06d}" for n in range(1, 266)], "a screen reader reads every person once, in order"


def test_text_that_looks_like_pdf_syntax_survives_the_join(tmp_path):
    """Headings are kept in the structure tree and the bookmarks as text: the join renumbers
    references and renames identifiers around such text and leaves the text itself as it was."""
    import pikepdf

    cities = {"Qom (5 0 R)": 40, "Ilam \\ 12 0 R )": 40, "/ID (U1x0y0) /Headers [(U1x0y0)]": 40, "Arak 7 0 obj": 40}
    pdf = render_report(long_report(cities), part_rows=30, whole_rows=30)
    check_structure(pdf)
    out = tmp_path / "odd.pdf"
    out.write_bytes(pdf)
    titles = [title for _, title, _ in outline_of(PdfReader(out))]
    assert titles[3:] == [f"{city} (40)" for city in cities]
    with pikepdf.open(out) as document:
        headings, stack = [], [document.Root.StructTreeRoot]
        while stack:
            element = stack.pop()
            if str(element.get("/S")) == "/H3":
                headings.append(str(element.T))
            kids = element.get("/K")
            kids = list(kids) if isinstance(kids, pikepdf.Array) else [kids] if kids is not None else []
            stack += reversed([kid for kid in kids if isinstance(kid, pikepdf.Dictionary)])
    assert headings == [f"{city} (40)" for city in cities]


def test_a_persian_report_in_parts_reads_right_to_left():
    pdf = render_report(long_report({"Tabriz": 50, "Shiraz": 50}) | {"language": "fa"}, part_rows=40, whole_rows=40)
    root = PdfReader(io.BytesIO(pdf)).trailer["/Root"]
    assert root["/Lang"] == "fa" and root["/ViewerPreferences"]["/Direction"] == "/R2L"


def test_a_report_within_the_limit_is_one_tagged_document():
    """Up to the limit for a whole document (more rows than a part holds), nothing changes: one
    document, tagged for screen readers, the bytes a report set whole has always had. Past it, the
    parts are joined, and tagged as well."""
    document = long_report({"Aleppo": 100, "Basra": 50})
    pdf = render_report(document, part_rows=60, whole_rows=150)
    assert "/StructTreeRoot" in PdfReader(io.BytesIO(pdf)).trailer["/Root"]
    assert pdf == compile_pdf(TEMPLATE, {"report": {"lang": "en", "digits": "1", "title": document["title"],
                                                    "subtitle": document["subtitle"], "footer": "Page {page} of {pages}",
                                                    "blocks": _blocks(document["blocks"], "en")}},
                              moment=moment_of(document["as_of"]))
    joined = render_report(document, part_rows=60, whole_rows=149)
    assert joined != pdf and check_structure(joined)["pages"] > check_structure(pdf)["pages"], \
        "one row past the limit, set in parts and joined, tagged too"


@pytest.mark.parametrize("rows_per_part", [1, 7, 60, 1000])
def test_parts_keep_every_block_and_row_in_order_within_the_limit(rows_per_part):
    document = long_report({"Aleppo": 70, "Basra": 0, "Cairo": 45, "Dhaka": 130})
    blocks = document["blocks"]
    parts = _parts(blocks, rows_per_part)
    tables = [b for part in parts for b in part if b["kind"] == "table"]
    assert [row for table in tables for row in table["rows"]] == [row for b in blocks if b["kind"] == "table"
                                                                  for row in b["rows"]]
    assert [b for part in parts for b in part if b["kind"] != "table"] == [b for b in blocks if b["kind"] != "table"]
    assert all(sum(len(b["rows"]) for b in part if b["kind"] == "table") <= rows_per_part for part in parts)
    for part in parts[:-1]:
        assert part[-1]["kind"] == "table", "a heading goes with its table into the next part"
    if rows_per_part >= 245:
        assert len(parts) == 1


def test_a_part_ends_between_tables_once_half_full():
    """50 rows of 60 taken: Basra's 20 would not fit, so the part ends before Basra's heading rather
    than cutting its table; 20 taken: Cairo's 45 would not fit, and the part is cut inside it."""
    blocks = long_report({"Aleppo": 50, "Basra": 20})["blocks"]
    first, second = _parts(blocks, 60)
    assert [b.get("text") for b in second] == ["Basra (20)", None] and len(first[-1]["rows"]) == 50
    blocks = long_report({"Aleppo": 20, "Cairo": 45})["blocks"]
    first, second = _parts(blocks, 60)
    assert len(first[-1]["rows"]) == 40 and len(second) == 1 and len(second[0]["rows"]) == 5


def _die(job):
    """A part's process dying as one out of memory would (killed, nothing sent back)."""
    os._exit(9)


def test_a_part_whose_process_dies_is_a_clear_error_not_a_traceback(monkeypatch, tmp_path):
    monkeypatch.setattr("dadkhah.typeset.parts._set_part", _die)
    with pytest.raises(DadkhahError) as raised:
        render_report(long_report({"Aleppo": 130}), part_rows=60, whole_rows=60)
    message = str(raised.value)
    assert "processes setting the parts of the report stopped before finishing" in message
    assert "print the list by city or by incident" in message
