"""The letter printed with its public signatories: only what the page shows, Persian text that copies out intact."""

from __future__ import annotations

import csv
import re
import subprocess

import pytest
from pypdf import PdfReader

from dadkhah.appeal import add_paper_signature, export_appeal, public_page
from dadkhah.errors import InputError
from tests.conftest import TESTER


def _text(path) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(path).pages)


@pytest.fixture
def signed(store, keys, appeal):
    for name, kind, public in (("Justice Watch Example", "organisation", True), ("Jane Roe", "person", True),
                               ("سمیه دادخواه‌نژاد", "person", True), ("Quiet Counted", "person", False)):
        add_paper_signature(store, keys, "inquiry", actor=TESTER, name=name, kind=kind, public_name=public,
                            role="Jurist", country="UK", verified_by="maryam")
    return appeal


def test_the_english_pdf_holds_the_letter_and_only_the_named_signatories(store, signed, tmp_path):
    done = export_appeal(store, "inquiry", actor=TESTER, format="pdf", out=tmp_path / "en.pdf", language="en")
    assert done["signatories"] == 3 and done["pages"] >= 1
    text = _text(tmp_path / "en.pdf")
    assert "For an inquiry" in text and "The Secretary-General" in text
    assert "independent inquiry into the killings" in " ".join(text.split())
    assert "Jane Roe" in text and "Justice Watch Example" in text
    assert "Quiet Counted" not in text, "a count-only signer is never printed"
    assert text.index("Justice Watch Example") < text.index("Jane Roe"), "organisations first"


def test_the_persian_pdf_gives_back_the_same_persian_words(store, signed, tmp_path):
    """As Poppler's pdftotext copies it (whole lines in reading order). A zero-width non-joiner or a
    combining mark inside a word may come back one place off (the reader's handling of a cluster),
    so such words are compared without them; every other word must come back letter for letter."""
    export_appeal(store, "inquiry", actor=TESTER, format="pdf", out=tmp_path / "fa.pdf", language="fa")
    copied = subprocess.run(["pdftotext", str(tmp_path / "fa.pdf"), "-"], capture_output=True, text=True,
                            check=True).stdout
    copied = re.sub("[\u202a-\u202e]", "", copied)  # the reader's own direction marks
    words = set(copied.split())
    for word in ("برای", "تحقیق", "امضاکنندگان", "خواستار", "مستقل", "سمیه", "Jane", "Roe"):
        assert word in words, word
    squashed = re.sub(r"[\s\u200c\u0654]", "", copied)
    for word in ("خانواده‌ها", "دادخواه‌نژاد", "نامهٔ", "هستیم"):
        assert re.sub("[\u200c\u0654]", "", word) in squashed, word
    assert "Quiet Counted" not in copied
    assert not any("\ufb50" <= ch <= "\ufeff" for ch in copied), "real letters, not presentation forms"


def test_exports_refuse_a_draft_and_a_bad_format(store, keys, appeal, tmp_path):
    from dadkhah.appeal import create_appeal

    create_appeal(store, actor=TESTER, slug="draft", title="D", text="Draft text.", addressee="X")
    with pytest.raises(InputError) as draft:
        export_appeal(store, "draft", actor=TESTER, format="csv", out=tmp_path / "d.csv")
    assert draft.value.field == "appeal"
    with pytest.raises(InputError) as bad:
        export_appeal(store, "inquiry", actor=TESTER, format="docx", out=tmp_path / "d.docx")
    assert bad.value.field == "format"


def test_the_csv_pages_in_the_order_asked(store, signed, tmp_path):
    export_appeal(store, "inquiry", actor=TESTER, format="csv", out=tmp_path / "a.csv", order="alphabetical")
    with open(tmp_path / "a.csv", encoding="utf-8-sig", newline="") as handle:
        names = [row["name"] for row in csv.DictReader(handle)]
    assert names == sorted(names) and len(names) == 3
    page = public_page(store, "inquiry", limit=1, offset=1, order="people-first")
    assert [p["name"] for p in page["signatories"]] == ["سمیه دادخواه‌نژاد"] and page["has_more"]
