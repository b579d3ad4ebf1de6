"""The printed report (`dadkhah report pdf`): Persian that copies out as the same words, only what the
publication policy allows (a byte search for markers planted in restricted and withheld material),
the list narrowed to a city or an incident, an official's dossier of accepted public claims only,
the audit event, and the command line's one JSON document.

Text is read back with Poppler's ``pdftotext`` (as a reader copying from the PDF would get it) and
with pypdf; spaces and invisible characters are dropped before comparing, since Poppler places a
zero-width non-joiner one letter off (see tests/typeset/test_letter.py). Names with a lam-alef
ligature or a tashdid are left out of the comparison: readers return those in another order
(docs/publishing-guide.md). The Persian names are the synthetic generator's.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import sqlalchemy as sa
from pypdf import PdfReader

from dadkhah.accountability import import_accountability
from dadkhah.accountability.queries import show_official, show_site
from dadkhah.accountability.review import review_claim
from dadkhah.audit import list_audit
from dadkhah.errors import InputError
from dadkhah.estimate import estimate_table
from dadkhah.estimate.registry import estimate_registry
from dadkhah.ingest.importer import import_file
from dadkhah.model import Record, Source
from dadkhah.publish import published_persons
from dadkhah.publish.report import print_report
from dadkhah.sources import set_release
from dadkhah.synth import generate_case
from tests.accountability.conftest import FILES, VICTIMS, write_set
from tests.cli.test_cli import run
from tests.conftest import TESTER, link_by_hand, write
from tests.publish.test_policy import MARKERS, _case
from tests.typeset.structure import check_structure, reading_order

needs_pdftotext = pytest.mark.skipif(shutil.which("pdftotext") is None, reason="Poppler's pdftotext is not installed")
INVISIBLE = re.compile(r"[\s\u200c\u200d\u200e\u200f\u202a-\u202e\u2066-\u2069]")
UNRELIABLE = re.compile("لا|لله|\u0651")  # lam-alef, the ligature of الله, tashdid: readers copy these out in another order
SECRET_ROLE = "SECRET-ROLE-MARKER"


def squash(text: str) -> str:
    return INVISIBLE.sub("", text)


def pdftotext(path: Path) -> str:
    return subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True, check=True).stdout


def read_back(path: Path) -> str:
    """What readers copy out: Poppler's text where it is installed, and pypdf's."""
    text = "\n".join(page.extract_text() for page in PdfReader(path).pages)
    return (pdftotext(path) + "\n" + text) if shutil.which("pdftotext") else text


@pytest.fixture
def case(store, tmp_path):
    """The policy's case (a public list, a restricted one, a withheld person, sealed material, all with
    markers), plus a public Persian list from the synthetic generator, linked by hand, and an estimate."""
    _case(store, tmp_path)
    synthetic = tmp_path / "synthetic"
    generate_case(synthetic, victims=100, lists=2, seed=5)
    import_file(store, synthetic / "list-1.csv", source="ngo-persian", actor=TESTER,
                incident="Synthetic prison executions")
    with store.session() as session:
        persian = list(session.scalars(sa.select(Record.record_id).join(Source).where(Source.name == "ngo-persian")
                                       .order_by(Record.record_id)))
    mapping = {("public-list", "p1"): 1, ("restricted-source-marker", "r1"): 1, ("public-list", "p2"): 2,
               ("public-list", "p3"): 3, ("restricted-source-marker", "r9"): 4}
    mapping |= {("ngo-persian", record): 100 + i for i, record in enumerate(persian)}
    link_by_hand(store, mapping)
    set_release(store, "ngo-persian", "public", actor=TESTER)
    estimate_registry(store, estimate=lambda table: estimate_table(table, "bma"), actor=TESTER)
    return store


def test_a_persian_report_copies_out_as_the_same_persian_words(case, tmp_path):
    out = tmp_path / "report-fa.pdf"
    result = print_report(case, out, actor=TESTER, language="fa")

    with case.session() as session:
        published = list(published_persons(session))
    assert result["published"] == result["persons"] == len(published) > 25
    names = [record["full_name"] or f"{record['given_name']} {record['family_name']}"
             for person in published for record in person["records"] if record["script"] == "fa"]
    names = [name for name in names if not UNRELIABLE.search(name)]
    assert len(names) > 15
    copied = read_back(out)
    squashed = squash(copied)
    assert [name for name in names if squash(name) not in squashed] == []
    assert [name for name in names if squash(name)[::-1] in squashed and squash(name) != squash(name)[::-1]] == []
    for word in ("برآورد", "جان‌باختگان", "فهرست‌ها", "Ava Rahimi", "P-000001"):
        assert squash(word) in squashed, word
    assert re.search("[۰-۹]", copied), "Persian digits"
    assert result["pages"] == len(PdfReader(out).pages) and result["sha256"] == hashlib.sha256(out.read_bytes()).hexdigest()
    assert result["tagged"] is True, "a list within the limit is one document, tagged for screen readers"


@needs_pdftotext
def test_persian_names_read_back_as_whole_lines_with_poppler(case, tmp_path):
    out = tmp_path / "report-fa.pdf"
    print_report(case, out, actor=TESTER, language="fa")
    lines = {squash(line) for line in pdftotext(out).splitlines()}
    with case.session() as session:
        names = [r["full_name"] or f"{r['given_name']} {r['family_name']}" for p in published_persons(session)
                 for r in p["records"] if r["script"] == "fa"]
    names = [name for name in names if not UNRELIABLE.search(name)]
    assert [name for name in names if squash(name) not in lines] == []


@pytest.mark.parametrize("language", ["fa", "en"])
def test_the_report_holds_only_what_may_be_published(case, tmp_path, language):
    out = tmp_path / f"report-{language}.pdf"
    print_report(case, out, actor=TESTER, language=language)
    text, data = read_back(out), out.read_bytes()
    for marker in MARKERS:
        assert marker not in text, marker
        assert marker.encode() not in data, marker
    assert "P-000003" not in text and "P-000004" not in text, "the withheld and the restricted-only persons"
    assert "Ava Rahimi" in text and "Babak Tehrani" in text


def test_city_and_incident_narrow_the_list(case, tmp_path):
    rasht = print_report(case, tmp_path / "rasht.pdf", actor=TESTER, language="en", city="Rasht")
    text = read_back(tmp_path / "rasht.pdf")
    assert rasht["persons"] == 1 and rasht["city"] == "city:rasht"
    assert "Ava Rahimi" in text and "Babak Tehrani" not in text and "The victims in Rasht" in text
    by_id = print_report(case, tmp_path / "rasht-2.pdf", actor=TESTER, language="en", city="city:rasht")
    assert by_id["persons"] == 1
    incident = print_report(case, tmp_path / "summer.pdf", actor=TESTER, language="en",
                            incident="synthetic summer killings")
    text = read_back(tmp_path / "summer.pdf")
    assert incident["persons"] == 2 and incident["incident"] == "Synthetic summer killings"
    assert "Ava Rahimi" in text and "Babak Tehrani" in text and "P-000005" not in text


def test_errors_name_the_field_and_write_nothing(case, tmp_path):
    out = tmp_path / "never.pdf"
    for kwargs, field in (({"city": "Atlantis"}, "city"), ({"incident": "no such thing"}, "incident"),
                          ({"language": "de"}, "language"), ({"official": "O-000001", "city": "Rasht"}, "official")):
        with pytest.raises(InputError) as raised:
            print_report(case, out, actor=TESTER, **kwargs)
        assert raised.value.field == field
    with pytest.raises(InputError) as raised:
        print_report(case, tmp_path / "missing" / "r.pdf", actor=TESTER)
    assert raised.value.field == "out"
    assert not out.exists() and not list(tmp_path.glob(".never.pdf.*"))
    with case.session() as session:
        assert not [e for e in list_audit(session) if e["action"] == "report printed"]


def test_printing_is_audited_with_the_pdfs_digest(case, tmp_path):
    out = tmp_path / "report.pdf"
    result = print_report(case, out, actor=TESTER, language="en", city="Tabriz")
    with case.session() as session:
        [event] = [e for e in list_audit(session) if e["action"] == "report printed"]
    assert event["object_kind"] == "report" and event["object_id"] == hashlib.sha256(out.read_bytes()).hexdigest()
    assert event["actor"] == "tester" and event["details"]["city"] == "city:tabriz"
    assert event["details"]["persons"] == result["persons"] >= 1
    assert result["estimate"] == event["details"]["estimate"] is not None


# --- an official's dossier -----------------------------------------------------------------------

@pytest.fixture
def dossier_case(store, tmp_path):
    """The hand-written accountability set (tests/accountability) from a public report, its victims'
    list public and linked; some claims accepted, some not; one accepted claim from a restricted source."""
    import_file(store, write(tmp_path / "victims.csv", VICTIMS), source="s", actor=TESTER)
    link_by_hand(store, {("s", f"V{i}"): i for i in range(1, 9)})
    import_accountability(store, write_set(tmp_path / "set", FILES), actor=TESTER, source="report-1")
    from dadkhah.accountability import add_claim

    add_claim(store, "posts", {"official_id": "OF1", "institution_id": "JUD", "role": SECRET_ROLE, "from": "1990"},
              actor=TESTER, source="secret-report")
    for source in ("s", "report-1"):
        set_release(store, source, "public", actor=TESTER)
    with store.session() as session:
        dossier = show_official(session, "OF1")
        hidden = show_site(session, "G-HID")
    a1 = next(a for a in dossier["acts"] if a["external_id"] == "A1")
    a2 = next(a for a in dossier["acts"] if a["external_id"] == "A2")
    accepted = [dossier["claims"][0]["claim"], dossier["posts"][0]["claim"], a1["claims"][0]["claim"],
                a1["involvement"][0]["claim"], a2["claims"][0]["claim"], hidden["claims"][0]["claim"],
                *[b["claim"] for b in hidden["burials"]]]
    accepted += [p["claim"] for p in dossier["posts"] if p["role"] == SECRET_ROLE]
    for claim in accepted:
        review_claim(store, claim, status="accepted", reason="checked against the source", actor=TESTER)
    return store, a1["id"], a2["id"]


def test_an_officials_dossier_shows_accepted_public_acts_only(dossier_case, tmp_path):
    store, a1, a2 = dossier_case
    out = tmp_path / "official.pdf"
    result = print_report(store, out, actor=TESTER, language="en", official="OF1")
    text, data = squash(read_back(out)), out.read_bytes()  # table cells wrap: compare without spaces
    assert result["official"] == "O-000001" and result["persons"] == 0
    assert squash("Kamran Testari") in text and "judge" in text
    assert a1 in text and squash("approved (certain)") in text, "an accepted act with the official's accepted part in it"
    assert squash("Given1 Family1") in text and squash("Given2 Family2") in text, "its victims, published persons"
    assert a2 not in text, "an act whose involvement claim is not accepted"
    assert squash("Given3 Family3") not in text, "nor its victim"
    for secret in (SECRET_ROLE, "secret-report", "Hidden Grave", "37.123456", "49.654321"):
        assert squash(secret) not in text and secret.encode() not in data, secret
    assert squash("report-1 (p. 20)") in text, "each act cites its public source and locator"


def test_an_official_with_nothing_published_is_refused(dossier_case, tmp_path):
    store, _, _ = dossier_case
    with pytest.raises(InputError) as raised:
        print_report(store, tmp_path / "of2.pdf", actor=TESTER, official="OF2")
    assert raised.value.field == "official" and not (tmp_path / "of2.pdf").exists()
    with pytest.raises(InputError) as unknown:
        print_report(store, tmp_path / "x.pdf", actor=TESTER, official="Nobody At All")
    assert unknown.value.field == "official"


# --- the command line ----------------------------------------------------------------------------

def test_the_command_prints_one_json_document_and_names_the_option_in_errors(case, database_url, tmp_path):
    out = tmp_path / "cli.pdf"
    workspace = case.workspace.path
    env = {"DADKHAH_DATABASE_URL": database_url} if database_url else None
    answer = run("report", "pdf", "--out", str(out), "--lang", "en", "--city", "Rasht", "--json", workspace=workspace,
                 env=env)
    assert answer.exit_code == 0, answer.output
    document = json.loads(answer.stdout)
    assert document["out"] == str(out) and document["persons"] == 1 and document["language"] == "en"
    assert document["sha256"] == hashlib.sha256(out.read_bytes()).hexdigest()
    bad = run("report", "pdf", "--out", str(tmp_path / "bad.pdf"), "--city", "Atlantis", "--json", workspace=workspace,
              env=env)
    error = json.loads(bad.stdout)["error"]
    assert bad.exit_code != 0 and (error["field"], error["option"]) == ("city", "--city")
    assert not (tmp_path / "bad.pdf").exists()


def test_the_report_draws_the_memorials_map_of_the_published_victims(case, tmp_path):
    out = tmp_path / "report-en.pdf"
    print_report(case, out, actor=TESTER, language="en")
    text = squash(read_back(out))
    assert squash("Named victims by province") in text, "the map's legend, drawn as text"
    assert squash("the graves whose place may be published") in text, "and its caption"


def test_an_official_is_named_as_the_public_sources_name_them(dossier_case, tmp_path):
    """A restricted source's accepted claim renames the official in the registry: the report keeps the
    public source's name, and does not print the other."""
    store, _, _ = dossier_case
    from dadkhah.accountability import add_claim

    add_claim(store, "officials", {"official_id": "OF1", "name": "Secretname Markerov"}, actor=TESTER,
              source="secret-report")
    with store.session() as session:  # the two sources now disagree: a reviewer accepts both
        described = [c["claim"] for c in show_official(session, "OF1")["claims"]]
    for claim in described:
        review_claim(store, claim, status="accepted", reason="both checked", actor=TESTER)
    with store.session() as session:
        assert show_official(session, "OF1")["official"]["name"] == "Secretname Markerov"
    out = tmp_path / "official.pdf"
    print_report(store, out, actor=TESTER, language="en", official="OF1")
    text = squash(read_back(out))
    assert squash("Kamran Testari") in text and squash("Markerov") not in text and b"Markerov" not in out.read_bytes()


@needs_pdftotext
def test_a_long_list_printed_in_parts_names_the_same_persons_and_nothing_else(case, tmp_path, monkeypatch):
    """Past the part size the report is set in parts and joined: the same persons in the same order
    as one document gives, Persian names read back whole, the policy's markers absent, the audited
    digest the file's."""
    whole = tmp_path / "whole.pdf"
    print_report(case, whole, actor=TESTER, language="fa")
    monkeypatch.setattr("dadkhah.typeset.report.PART_ROWS", 15)
    monkeypatch.setattr("dadkhah.typeset.report.WHOLE_ROWS", 15)
    out = tmp_path / "parts.pdf"
    told = []
    result = print_report(case, out, actor=TESTER, language="fa", progress=lambda done, total: told.append(total))
    assert told[-1] >= 6, "three parts or more, each set twice"
    assert result["tagged"] is True
    ids = re.compile(r"P-\d{6}")
    assert ids.findall(pdftotext(out)) == ids.findall(pdftotext(whole))
    check_structure(out.read_bytes())
    assert reading_order(out, ids.pattern) == reading_order(whole, ids.pattern), "a screen reader reads them alike"
    lines = {squash(line) for line in pdftotext(out).splitlines()}
    with case.session() as session:
        names = [r["full_name"] or f"{r['given_name']} {r['family_name']}" for p in published_persons(session)
                 for r in p["records"] if r["script"] == "fa"]
    assert [name for name in names if not UNRELIABLE.search(name) and squash(name) not in lines] == []
    text, data = read_back(out), out.read_bytes()
    for marker in MARKERS:
        assert marker not in text and marker.encode() not in data, marker
    with case.session() as session:
        [event] = [e for e in list_audit(session) if e["action"] == "report printed" and e["object_id"] != hashlib.sha256(whole.read_bytes()).hexdigest()]
    assert event["object_id"] == hashlib.sha256(out.read_bytes()).hexdigest() == result["sha256"]
