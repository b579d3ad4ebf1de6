"""Every case file carries ``data/summary.pdf``: what it holds and how to check it, in English and in
Persian, covered by the manifests and the signature like every other file, and naming no witness."""

from __future__ import annotations

import json
import re
import shutil
import subprocess

import pytest
from pypdf import PdfReader

from dadkhah.vault.casefile import export_casefile
from dadkhah.vault.verify import verify_casefile
from tests.conftest import TESTER
from tests.vault.test_casefile import WITNESS, _case

needs_pdftotext = pytest.mark.skipif(shutil.which("pdftotext") is None, reason="Poppler's pdftotext is not installed")
INVISIBLE = re.compile(r"[\s\u200c\u200d\u200e\u200f\u202a-\u202e\u2066-\u2069]")


@pytest.fixture
def exported(store, keys, tmp_path):
    persons = _case(store, keys, tmp_path)
    out = tmp_path / "handover" / "tribunal"
    result = export_casefile(store, keys, out, recipient="Synthetic Tribunal <b>", scope="investigators",
                             persons=persons[:1], actor=TESTER)
    return out, result


def test_the_summary_is_in_the_payload_and_the_case_file_still_verifies(keys, exported):
    out, result = exported
    summary = out / "data" / "summary.pdf"
    assert summary.read_bytes().startswith(b"%PDF-")
    manifest = (out / "manifest-sha256.txt").read_text(encoding="utf-8")
    assert re.search(r"^[0-9a-f]{64}\s+data/summary\.pdf$", manifest, re.M), "the manifest covers it"
    document = json.loads((out / "data" / "casefile.json").read_text(encoding="utf-8"))
    assert document["summary"]["path"] == "data/summary.pdf"
    report = verify_casefile(out, expect_key=keys.fingerprint)
    assert report["valid"], report["problems"]
    summary.write_bytes(summary.read_bytes() + b"\n% edited\n")
    problems = verify_casefile(out, expect_key=keys.fingerprint)["problems"]
    assert any(p["file"] == "data/summary.pdf" for p in problems), "an edited summary is caught"


def test_the_summary_says_what_the_case_file_holds_in_both_languages(keys, exported):
    out, result = exported
    reader = PdfReader(out / "data" / "summary.pdf")
    text = "\n".join(page.extract_text() for page in reader.pages)
    assert len(reader.pages) == 2
    for expected in ("Case file C-0001", "Synthetic Tribunal <b>", "investigators", "dadkhah verify", "expect-key",
                     keys.fingerprint):
        assert expected in text, expected
    assert WITNESS not in text and "Synthetic Interviewer" not in text
    assert WITNESS.encode() not in (out / "data" / "summary.pdf").read_bytes()


@needs_pdftotext
def test_the_persian_page_reads_back_with_persian_digits(keys, exported):
    out, result = exported
    copied = subprocess.run(["pdftotext", "-f", "2", "-l", "2", str(out / "data" / "summary.pdf"), "-"],
                            capture_output=True, text=True, check=True).stdout
    lines = {INVISIBLE.sub("", line) for line in copied.splitlines()}
    assert INVISIBLE.sub("", "آنچه در این پرونده است") in lines
    assert "بازرسان" in copied and "۱" in copied  # the scope in Persian; one person, in Persian digits
