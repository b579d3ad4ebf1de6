"""The open letter as a PDF: what is printed reads back as written, Persian included, hostile names
stay text, only the bundled font is used, and one input always gives the same bytes.

Text is read back with pypdf, as a program would. Typst draws a right-to-left run's glyphs in
visual order, marks the run ``/ReversedChars``, and maps each glyph to the letters it stands for
(``/ToUnicode``; ``/ActualText`` where one glyph stands for different text in different places).
pypdf follows neither mark: it returns each word's letters in logical order by its own rule but a
line's words left to right, and it garbles a word whose glyph carries two characters (a letter
with the zero-width non-joiner before it, lam-alef). So the Persian checks with pypdf compare
plain words; where Poppler's ``pdftotext`` is installed, which orders whole lines, lines are
compared too, after dropping spaces and zero-width characters (it reverses the characters one
glyph stands for, so a ZWNJ comes out after the letter it precedes). The names are made up.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from pypdf import PdfReader

from dadkhah.errors import InputError
from dadkhah.typeset import DEFAULT_HEADINGS, letter_pdf
from dadkhah.typeset.letter import FONTS
from tests.typeset.structure import check_structure, reading_order

DOCS = Path(__file__).resolve().parents[2] / "docs"
PRESENTATION_FORMS = re.compile("[\ufb50-\ufdff\ufe70-\ufeff]")
# Invisible characters a reader may place differently: word joiners and bidirectional controls.
INVISIBLE = re.compile(r"[\s\u200c\u200d\u200e\u200f\u202a-\u202e\u2066-\u2069]")
HOSTILE = ['#read("/etc/passwd")', "*bold*", "$x$", "]", "[", "\\", "= heading", "#set page(width: 1cm)",
           "_under_ <label> @ref {pages}", "// comment", '#include "letter.typ"']

# `make test` installs Poppler; in CI its absence is a failure, not a skip.
needs_pdftotext = pytest.mark.skipif(shutil.which("pdftotext") is None and not os.environ.get("CI"),
                                     reason="Poppler's pdftotext is not installed")


def english(**changes) -> dict:
    letter = {
        "language": "en",
        "title": "An open letter for an independent inquiry",
        "addressee": "The Secretary-General of a fictional body",
        "text": "We, the undersigned, ask for an inquiry.\nWe ask it now.\n\nThe families have waited long enough.",
        "version": 2,
        "as_of": "2025-12-05T10:00:00+00:00",
        "counts": {"verified": 1234, "public_names": 3},
        "signatories": [
            {"name": "Observatory of Testimonies", "kind": "organisation", "role": None, "affiliation": "",
             "country": "Norway"},
            {"name": "Jane Roe", "kind": "person", "role": "Lawyer", "affiliation": "Bar of Nowhere",
             "country": "France"},
            {"name": "Parvin Karimi", "kind": "person", "role": None, "affiliation": None, "country": None},
        ],
    }
    return letter | changes


def persian(**changes) -> dict:
    letter = {
        "language": "fa",
        "title": "دادخواهی برای قربانیان",
        "addressee": "دبیرکل یک نهاد خیالی",
        "text": "ما خانواده‌ها دادخواهی می‌کنیم.\nاین خط دوم است.\n\nبند دوم با Human Rights Watch نوشته شد.",
        "version": 3,
        "as_of": "2025-12-05T10:00:00+03:30",
        "counts": {"verified": 12345, "public_names": 4},
        "signatories": [
            {"name": "کانون مدافعان خیالی", "kind": "organisation", "role": None, "affiliation": None,
             "country": "ایران"},
            {"name": "سمیه رضایی", "kind": "person", "role": "وکیل", "affiliation": "Imaginary Rights Watch (IRW)",
             "country": "آلمان"},
            {"name": "پرویز کریمی", "kind": "person", "role": "پژوهشگر", "affiliation": "دانشگاه خیالی",
             "country": "کانادا"},
            {"name": "John Smith Jr.", "kind": "person", "role": "Journalist", "affiliation": None, "country": "UK"},
        ],
    }
    return letter | changes


def text_of(path: Path) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(path).pages)


def squash(text: str) -> str:
    return INVISIBLE.sub("", text)


def pdftotext(path: Path, *options: str) -> str:
    return subprocess.run(["pdftotext", *options, str(path), "-"], capture_output=True, text=True, check=True).stdout


def test_an_english_letter_reads_back_as_written(tmp_path):
    out = tmp_path / "letter.pdf"
    written = letter_pdf(english(), out)

    text = text_of(out)
    lines = text.splitlines()
    for expected in ("An open letter for an independent inquiry", "To: The Secretary-General of a fictional body",
                     "Version 2 · As of 5 December 2025", "We, the undersigned, ask for an inquiry.", "We ask it now.",
                     "The families have waited long enough.", "Signatories",
                     "Signed by 1,234 people and organisations, of whom 3 are named below.",
                     "Observatory of Testimonies", "Jane Roe", "Lawyer", "Bar of Nowhere", "Parvin Karimi",
                     "Page 1 of 1"):
        assert expected in text
    assert "We ask it now." in lines  # a single newline is a line break
    assert lines.index("Organisations") < lines.index("People")
    data = out.read_bytes()
    assert written == {"path": str(out), "pages": len(PdfReader(out).pages), "sha256": hashlib.sha256(data).hexdigest(),
                       "tagged": True,
                       "bytes": len(data)}


def test_a_group_heading_is_printed_wherever_the_kind_changes(tmp_path):
    org = {"name": "Second Observatory", "kind": "organisation"}
    letter = english()
    letter["signatories"] = [*letter["signatories"], org]
    letter_pdf(letter, tmp_path / "letter.pdf")

    headings = [line for line in text_of(tmp_path / "letter.pdf").splitlines() if line in ("Organisations", "People")]
    assert headings == ["Organisations", "People", "Organisations"]


def test_a_long_list_breaks_across_pages_and_the_footer_counts_them(tmp_path):
    letter = english(signatories=[{"name": f"Signer {i}", "kind": "person", "country": "Chile"} for i in range(400)])
    written = letter_pdf(letter, tmp_path / "letter.pdf")

    reader = PdfReader(tmp_path / "letter.pdf")
    assert written["pages"] == len(reader.pages) > 1
    last = reader.pages[-1].extract_text()
    assert "Signer 399" in last and f"Page {written['pages']} of {written['pages']}" in last
    assert "Name" in reader.pages[1].extract_text()  # the table's header row is repeated


def test_persian_comes_back_as_persian_letters_in_logical_order(tmp_path):
    out = tmp_path / "letter.pdf"
    letter_pdf(persian(), out)

    text = text_of(out)
    assert not PRESENTATION_FORMS.search(text)
    words = ["دادخواهی", "برای", "قربانیان", "دبیرکل", "خیالی", "امضاکنندگان", "افراد", "سازمان", "آذر", "دسامبر",
             "سمیه", "رضایی", "وکیل", "پرویز", "کریمی", "پژوهشگر", "دانشگاه", "کانادا", "کانون", "مدافعان"]
    assert [word for word in words if word not in text] == []
    assert [word for word in words if word[::-1] in text] == []
    assert "Imaginary Rights Watch" in text and "John Smith Jr." in text


def test_the_pdf_maps_its_glyphs_to_letters_not_presentation_forms(tmp_path):
    """What any reader extracts comes from the fonts' ToUnicode maps: they must hold Persian letters."""
    out = tmp_path / "letter.pdf"
    letter_pdf(persian(), out)

    mapped = ""
    for page in PdfReader(out).pages:
        for font in page["/Resources"]["/Font"].values():
            cmap = font.get_object()["/ToUnicode"].get_object().get_data().decode("ascii")
            for hex_text in re.findall(r"<[0-9A-Fa-f]{4}>\s*<([0-9A-Fa-f]+)>", cmap):
                mapped += bytes.fromhex(hex_text).decode("utf-16-be")
    assert not PRESENTATION_FORMS.search(mapped)
    assert set("دادخواهیسمرضپژوشگکنتبآ") <= set(mapped)


@needs_pdftotext
def test_persian_lines_read_back_in_order_with_poppler(tmp_path):
    out = tmp_path / "letter.pdf"
    letter_pdf(persian(), out)

    lines = {squash(line) for line in pdftotext(out).splitlines()}
    for expected in ("دادخواهی برای قربانیان", "خطاب به: دبیرکل یک نهاد خیالی", "ما خانواده‌ها دادخواهی می‌کنیم.",
                     "این خط دوم است.", "بند دوم با Human Rights Watch نوشته شد.",
                     "۱۲٬۳۴۵ فرد و سازمان این نامه را امضا کرده‌اند که نام ۴ تن از آنان در زیر آمده است.",
                     "سمیه رضایی", "پرویز کریمی"):
        assert squash(expected) in lines, expected
    assert any(line.endswith(squash("۱ از ۱")) for line in lines)  # the footer's page numbers


def test_a_field_in_the_other_script_keeps_its_own_direction(tmp_path):
    """An English name in a Persian letter is one left-to-right run: set right to left, its full
    stop and its leading "#" would be drawn as runs of their own at the wrong ends."""
    out = tmp_path / "letter.pdf"
    letter = persian()
    letter["signatories"].append({"name": HOSTILE[0], "kind": "person"})
    letter_pdf(letter, out)

    runs = []
    PdfReader(out).pages[0].extract_text(visitor_text=lambda text, *_: runs.append(text.strip()))
    assert "John Smith Jr." in runs and HOSTILE[0] in runs and "Imaginary Rights Watch" in runs


def test_markup_from_the_public_stays_text(tmp_path):
    out = tmp_path / "letter.pdf"
    hostile = "\n".join(HOSTILE)
    letter = english(title="#read(\"/etc/passwd\") *title*", addressee="$x$ ] [", text=hostile,
                     signatories=[{"name": name, "kind": "person", "role": name, "affiliation": name, "country": name}
                                  for name in HOSTILE])
    letter_pdf(letter, out)

    text = text_of(out)
    lines = text.splitlines()
    for value in HOSTILE:
        assert value in lines  # a body line, as written
        assert squash(text).count(squash(value)) >= 5  # and each cell of its row (a cell may wrap)
    assert '#read("/etc/passwd") *title*' in text and "To: $x$ ] [" in text
    assert "root:" not in text
    assert len(PdfReader(out).pages) == 1  # "#set page(width: 1cm)" did not run


# Found by fuzzing: each made Typst 0.15 panic (a Rust panic, not an error) before it was cleaned.
PANICS = ["\u06a9\u06d6\u200b", "\uc861\u202eW\x1f\u064d", "q\u202eX\U0001f803\u064c\u200c", "T\u202e\u5742\u064b\xad",
          "\u05fe\u0670\u05c9\u200d", "\u2067x \U0001f3fb\u200b", "\u202bP \u05c9\u202b",
          "\u2068\u069d\U000133d1\u06cc\u200d\U0001f926\u2067"]


def test_characters_that_draw_nothing_are_taken_out(tmp_path):
    letter_pdf(english(text="Cafe\u0301\ttab\x00\x1b[31m\r\n\u202eRLO\u202d LRO\x85\rИван\u2068\u0306"),
               tmp_path / "letter.pdf")

    text = text_of(tmp_path / "letter.pdf")
    assert "Café tab[31m\nRLO LRO\n\ufffd\ufffd\ufffd\ufffd\n" in text  # Vazirmatn has no Cyrillic
    assert not re.search("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202d\u202e]", text)


@pytest.mark.parametrize("make", [english, persian])
def test_what_made_typst_panic_is_printed(tmp_path, make):
    letter = make(text="\n".join(PANICS), signatories=[{"name": name, "kind": "person", "role": name} for name in PANICS])
    assert letter_pdf(letter, tmp_path / "letter.pdf")["pages"] == 1


def test_a_name_of_nothing_printable_is_refused(tmp_path):
    with pytest.raises(InputError) as raised:
        letter_pdf(english(signatories=[{"name": "\u202e\x00 ", "kind": "person"}]), tmp_path / "letter.pdf")
    assert raised.value.field == "signatories[0].name"


def test_only_the_bundled_font_is_embedded(tmp_path):
    out = tmp_path / "letter.pdf"
    letter_pdf(persian(), out)

    names = set()
    for page in PdfReader(out).pages:
        for font in page["/Resources"]["/Font"].values():
            font = font.get_object()
            [descendant] = font["/DescendantFonts"]
            descriptor = descendant.get_object()["/FontDescriptor"].get_object()
            assert "/FontFile2" in descriptor  # embedded, not referenced
            names.add(str(font["/BaseFont"]).lstrip("/").split("+", 1)[-1])  # without the subset's tag
    assert names == {"Vazirmatn-Regular", "Vazirmatn-Bold"}


def test_the_same_letter_gives_the_same_bytes(tmp_path):
    first = letter_pdf(persian(), tmp_path / "first.pdf")
    second = letter_pdf(persian(), tmp_path / "second.pdf")
    later = letter_pdf(persian(as_of="2025-12-06T10:00:00+03:30"), tmp_path / "later.pdf")

    assert first["sha256"] == second["sha256"] != later["sha256"]
    assert (tmp_path / "first.pdf").read_bytes() == (tmp_path / "second.pdf").read_bytes()
    created = PdfReader(tmp_path / "first.pdf").metadata.creation_date
    assert created.isoformat() == "2025-12-05T06:30:00+00:00"  # the letter's as_of, not the clock


def test_headings_default_by_language_and_can_be_replaced(tmp_path):
    letter_pdf(english(headings={"signatories": "Co-signers", "people": "Individuals"}), tmp_path / "en.pdf")
    letter_pdf(persian(headings=None), tmp_path / "fa.pdf")

    lines = text_of(tmp_path / "en.pdf").splitlines()
    assert "Co-signers" in lines and "Individuals" in lines and "Organisations" in lines
    assert "Signatories" not in lines
    assert set(DEFAULT_HEADINGS["en"]) == set(DEFAULT_HEADINGS["fa"])
    assert DEFAULT_HEADINGS["fa"]["signatories"] in text_of(tmp_path / "fa.pdf")


def test_a_letter_without_an_addressee_or_body_has_no_such_lines(tmp_path):
    letter_pdf(english(addressee=None, text=""), tmp_path / "letter.pdf")

    text = text_of(tmp_path / "letter.pdf")
    assert "To:" not in text and "Jane Roe" in text


@pytest.mark.parametrize(("changes", "field"), [
    ({"language": "de"}, "language"),
    ({"title": " "}, "title"),
    ({"as_of": "yesterday"}, "as_of"),
    ({"version": "2"}, "version"),
    ({"counts": {"verified": -1, "public_names": 0}}, "counts.verified"),
    ({"headings": {"signatorys": "Signed"}}, "headings"),
    ({"signatories": [{"name": "", "kind": "person"}]}, "signatories[0].name"),
    ({"signatories": [{"name": "A", "kind": "person"}, {"name": "B", "kind": "group"}]}, "signatories[1].kind"),
    ({"signatories": [{"name": "A", "kind": "person", "country": 7}]}, "signatories[0].country"),
])
def test_a_malformed_letter_is_refused_naming_the_field(tmp_path, changes, field):
    with pytest.raises(InputError) as raised:
        letter_pdf(english(**changes), tmp_path / "letter.pdf")
    assert raised.value.field == field
    assert not (tmp_path / "letter.pdf").exists()


def test_the_fonts_are_described_in_the_data_sources():
    sources = (DOCS / "data-sources.md").read_text(encoding="utf-8")
    for path in sorted(FONTS.iterdir()):
        assert f"`{path.name}` | `{hashlib.sha256(path.read_bytes()).hexdigest()}` |" in sources


def test_a_letter_with_many_signatories_is_set_in_parts_and_reads_as_one(tmp_path):
    """Parts of at most 50 signatories: the letter itself once, every signatory once and in order,
    "Page k of n" on every page, a group cut between parts going on without its heading, the
    bookmarks of the letter and of each group, the same bytes twice, and one structure tree a screen
    reader follows through every part."""
    organisations = [{"name": f"Observatory {i:03d}", "kind": "organisation", "country": "Chile"} for i in range(30)]
    people = [{"name": f"Signer {i:03d}", "kind": "person", "country": "Peru"} for i in range(170)]
    letter = english(signatories=organisations + people)
    told = []
    written = letter_pdf(letter, tmp_path / "long.pdf", part_rows=50, whole_rows=50, progress=lambda done, total: told.append(total))
    assert told and told[-1] >= 8, "four parts or more, each set twice"
    assert written["tagged"] is True
    pdf = (tmp_path / "long.pdf").read_bytes()
    check_structure(pdf)
    order = reading_order(tmp_path / "long.pdf", r"(?:Observatory|Signer) \d{3}")
    assert order is None or order == [s["name"] for s in organisations + people], "a screen reader reads them all"
    letter_pdf(letter, tmp_path / "again.pdf", part_rows=50, whole_rows=50)
    assert (tmp_path / "again.pdf").read_bytes() == pdf
    reader = PdfReader(tmp_path / "long.pdf")
    pages = [page.extract_text() for page in reader.pages]
    text = "\n".join(pages)
    names = re.findall(r"(?:Observatory|Signer) \d{3}", text)
    assert names == [s["name"] for s in organisations + people]
    assert [re.search(r"Page (\d+) of (\d+)", page).groups() for page in pages] == \
        [(str(k), str(written["pages"])) for k in range(1, written["pages"] + 1)]
    assert text.count("We, the undersigned, ask for an inquiry.") == 1
    assert [line for line in text.splitlines() if line in ("Organisations", "People")] == ["Organisations", "People"]
    marks = []

    def walk(outline, depth):
        for entry in outline:
            if isinstance(entry, list):
                walk(entry, depth + 1)
            else:
                marks.append((depth, entry.title))

    walk(reader.outline, 1)
    assert marks == [(1, letter["title"]), (2, "Signatories"), (3, "Organisations"), (3, "People")]


def test_a_persian_letter_in_parts_keeps_its_direction_and_digits(tmp_path):
    letter = persian()
    letter["signatories"] = [{"name": f"امضاکننده {i}", "kind": "person"} for i in range(120)]
    written = letter_pdf(letter, tmp_path / "fa.pdf", part_rows=40, whole_rows=40)
    reader = PdfReader(tmp_path / "fa.pdf")
    root = reader.trailer["/Root"]
    assert root["/Lang"] == "fa" and root["/ViewerPreferences"]["/Direction"] == "/R2L"
    last = reader.pages[-1].extract_text()
    total = str(written["pages"]).translate(str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹"))
    assert f"از {total}" in last
