"""The memorial site: only what may be published, in both languages, every link inside the site,
signed, rebuilt in place, and a merged person's old address still leads to them."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
import sqlalchemy as sa

from dadkhah.audit import list_audit
from dadkhah.errors import InputError
from dadkhah.model import LinkageRun, Source
from dadkhah.publish import verify_site
from dadkhah.publish.memorial import build_memorial
from dadkhah.registry.persons import assign_persons
from tests.conftest import TESTER, link_by_hand
from tests.publish.test_policy import MARKERS, _case


class _Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.links, self.dirs = [], []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        for name in ("href", "src"):
            if attrs.get(name):
                self.links.append(attrs[name])
        if tag == "html":
            self.dirs.append(attrs.get("dir"))


def _pages(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): p.read_text(encoding="utf-8") for p in folder.rglob("*.html")}


@pytest.fixture
def built(store, tmp_path):
    keys = _case(store, tmp_path)["keys"]
    out = tmp_path / "site"
    result = build_memorial(store, keys, out, actor=TESTER, contact="corrections@example.org")
    return store, keys, out, result


def test_the_site_holds_only_what_may_be_published(built):
    store, keys, out, result = built
    assert (result["persons"], result["languages"]) == (2, ["fa", "en"])
    for file in out.rglob("*"):
        if file.is_file():
            data = file.read_bytes()
            for marker in MARKERS:
                assert marker.encode() not in data, (file, marker)
    pages = _pages(out)
    assert "fa/p/P-000001/index.html" in pages and "en/p/P-000002/index.html" in pages
    assert "fa/p/P-000003/index.html" not in pages, "a withheld person has no page"
    person = pages["en/p/P-000001/index.html"]
    assert "Ava Rahimi" in person and "1988-08-01 (1367/05/10)" in person and "public-list" in person
    assert "mailto:corrections@example.org?subject=Correction%3A%20P-000001" in person
    assert "۱۳۶۷/۰۵/۱۰" in pages["fa/p/P-000001/index.html"]
    assert 'href="../../../en/incidents/incident-1/index.html"' in person and "Synthetic summer killings" in person
    incident = pages["en/incidents/incident-1/index.html"]
    assert incident.count("<li>") == 2 and result["incidents"] == 1


def test_every_page_is_in_its_language_and_every_link_stays_in_the_site(built):
    _, _, out, _ = built
    for name, html in _pages(out).items():
        parser = _Links()
        parser.feed(html)
        if name.startswith("fa/"):
            assert parser.dirs == ["rtl"], name
        elif name.startswith("en/"):
            assert parser.dirs == ["ltr"], name
        for link in parser.links:
            if link.startswith("mailto:"):
                continue
            assert not re.match(r"^[a-z]+:", link) and not link.startswith("/"), (name, link)
            target = (out / name).parent / link.split("#")[0]
            assert target.resolve().is_file(), (name, link)


def test_the_site_is_signed_rebuilt_in_place_and_audited(built):
    store, keys, out, first = built
    assert verify_site(out, expect_key=keys.fingerprint)["intact"]
    again = build_memorial(store, keys, out, actor=TESTER, contact="corrections@example.org")
    assert again["pages_written"] == 0 and again["pages_unchanged"] == first["pages_written"]
    assert verify_site(out, expect_key=keys.fingerprint)["intact"]
    with store.session() as session:
        assert [e["action"] for e in list_audit(session) if e["object_kind"] == "memorial"] == ["memorial published"] * 2


def test_a_merged_persons_address_leads_on_and_an_unpublished_person_is_removed(built, tmp_path):
    store, keys, out, _ = built
    with store.session() as session:
        ids = dict(session.execute(sa.select(Source.name, Source.id)).all())
        run_row = LinkageRun(engine="hand", threshold=0.5, review_low=0.2, review_high=0.9, parameters={},
                             run_by="t", software_version="0")
        session.add(run_row)
        session.flush()
        public, restricted = ids["public-list"], ids["restricted-source-marker"]
        assign_persons(session, run_row.id, {(public, "p1"): 1, (restricted, "r1"): 1, (public, "p2"): 1,
                                             (public, "p3"): 3, (restricted, "r9"): 4})
    result = build_memorial(store, keys, out, actor=TESTER)
    pages = _pages(out)
    assert result["persons"] == 1 and result["redirects"] == 1 and result["files_removed"] >= 0
    moved = next(name for name in ("fa/p/P-000001/index.html", "fa/p/P-000002/index.html")
                 if 'http-equiv="refresh"' in pages[name])
    assert "index.html" in pages[moved]
    assert verify_site(out, expect_key=keys.fingerprint)["intact"]


def test_a_folder_holding_other_files_is_refused(store, tmp_path):
    keys = _case(store, tmp_path)["keys"]
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "thesis.docx").write_text("not ours", encoding="utf-8")
    with pytest.raises(InputError) as refused:
        build_memorial(store, keys, folder, actor=TESTER)
    assert refused.value.field == "out" and (folder / "thesis.docx").exists()
    with pytest.raises(InputError) as bad:
        build_memorial(store, keys, tmp_path / "x", actor=TESTER, languages="fa,de")
    assert bad.value.field == "languages"


def test_what_happened_and_where_they_lie_only_as_accepted_public_claims_and_site_policies_allow(built):
    _, _, out, result = built
    pages = _pages(out)
    assert (result["acts"], result["sites"]) == (1, 2), "one accepted public act; the hidden grave is not published"
    first = pages["en/p/P-000001/index.html"]
    acts = first.split('<section class="acts">')[1]
    assert "execution" in acts and "Kamran Testari" in acts and "approved (certain)" in acts
    assert "O-000002</span>: planned (maybe)" in acts, "one only a restricted source names is shown by id"
    assert "public-book" in acts and "(<span dir=\"auto\">p. 20</span>)" in acts and "With 4 others." in acts
    assert "torture" not in acts, "a claim not yet accepted is not published"
    assert "unfair trial" not in acts, "an act only a restricted source tells of is not published"
    assert "allegations, not findings of a court" in acts
    assert 'sites/S-000001/index.html' in first and "Open Grave" in first
    second = pages["fa/p/P-000002/index.html"]
    assert "City Grave" in second and "اعدام" in second and "کامران تستاری" in second
    open_grave = pages["en/sites/S-000001/index.html"]
    assert "37.25000, 49.55000" in open_grave and "bulldozed" in open_grave and "P-000001" in open_grave
    city_grave = pages["en/sites/S-000002/index.html"]
    assert "Not published, to protect the site" in city_grave and "Rasht" in city_grave
    assert not any("S-000003" in name for name in pages), "a hidden site has no page"
    home = pages["en/index.html"]
    # the two graves and Rasht lie close together: one cluster on the map, naming each
    assert 'data-members="city-rasht S-000002 S-000001"' in home and "S-000003" not in home


def test_the_list_of_everyone_is_in_pages_each_linking_to_the_others(store, tmp_path, monkeypatch):
    import dadkhah.publish.memorial as memorial

    monkeypatch.setattr(memorial, "PERSONS_PER_PAGE", 1)
    keys = _case(store, tmp_path)["keys"]
    build_memorial(store, keys, tmp_path / "site", actor=TESTER)
    pages = _pages(tmp_path / "site")
    first, second = pages["en/persons/index.html"], pages["en/persons/2/index.html"]
    assert "P-000001" in first and "P-000002" not in first and "P-000002" in second
    assert 'href="../../en/persons/2/index.html"' in first and 'href="../../../en/persons/index.html"' in second
    assert 'href="../../../fa/persons/2/index.html"' in second and '<ol class="persons" start="2">' in second


def test_a_zipped_build_unzips_into_the_folder_a_build_writes_and_verifies_alike(built, tmp_path):
    import zipfile

    store, keys, out, result = built
    archive = tmp_path / "site.zip"
    zipped = build_memorial(store, keys, archive, actor=TESTER, contact="corrections@example.org", zipped=True)
    assert {k: v for k, v in zipped.items() if k not in ("out", "manifest_sha256", "pages_unchanged")} == \
        {k: v for k, v in result.items() if k not in ("out", "manifest_sha256", "pages_unchanged")}
    with zipfile.ZipFile(archive) as opened:
        assert all(name.startswith("memorial/") for name in opened.namelist())
        opened.extractall(tmp_path / "unzipped")
    unzipped = tmp_path / "unzipped" / "memorial"
    assert verify_site(unzipped, expect_key=keys.fingerprint)["intact"]
    mine, theirs = _pages(out), _pages(unzipped)
    assert mine.keys() == theirs.keys() and mine == theirs, "the same pages, byte for byte"
    assert (unzipped / ".dadkhah-memorial").is_file(), "the command line may rebuild an unzipped site in place"
    again = build_memorial(store, keys, unzipped, actor=TESTER, contact="corrections@example.org")
    assert again["pages_written"] == 0 and verify_site(unzipped, expect_key=keys.fingerprint)["intact"]
    with pytest.raises(InputError) as refused:  # a zip is written new, never over a file
        build_memorial(store, keys, archive, actor=TESTER, zipped=True)
    assert refused.value.field == "out"
    with pytest.raises(InputError) as refused:  # no keys: refused before anything is built
        build_memorial(store, None, tmp_path / "unsigned.zip", actor=TESTER, zipped=True)
    assert refused.value.field == "keys" and not (tmp_path / "unsigned.zip").exists()


def test_an_estimate_the_estimator_flagged_is_published_with_a_caution(store, tmp_path):
    """The site said nothing when the estimator had warned about the estimate it showed (the printed
    report did): it now says that it was flagged and how often, never what was said (a warning may
    name a source); the build tells the team the warnings themselves."""
    from dadkhah.estimate import estimate_table
    from dadkhah.estimate.registry import estimate_registry
    from dadkhah.model import Estimate

    keys = _case(store, tmp_path)["keys"]
    link_by_hand(store, {("public-list", "p1"): 1, ("restricted-source-marker", "r1"): 1, ("public-list", "p2"): 2,
                         ("public-list", "p3"): 3, ("restricted-source-marker", "r9"): 4})
    estimate_registry(store, estimate=lambda table: estimate_table(table, "lincoln-petersen"), actor=TESTER)

    def warned(said: list[str]) -> None:  # what the estimator said (Lincoln-Petersen always warns of independence)
        with store.session() as session:
            session.scalars(sa.select(Estimate).order_by(Estimate.id.desc())).first().warnings = said

    warned([])
    clean = build_memorial(store, keys, tmp_path / "clean", actor=TESTER)
    assert clean["estimate_warnings"] == []
    assert 'id="estimate"' in _pages(tmp_path / "clean")["en/numbers/index.html"]
    assert not any("estimate-warnings" in page for page in _pages(tmp_path / "clean").values())
    said = ["the chains disagree (R-hat 1.30) on restricted-source-marker", "few effective draws"]
    warned(said)
    flagged = build_memorial(store, keys, tmp_path / "flagged", actor=TESTER)
    assert flagged["estimate_warnings"] == said
    pages = _pages(tmp_path / "flagged")
    for name in ("en/index.html", "en/numbers/index.html", "fa/index.html", "fa/numbers/index.html"):
        caution = re.search(r'<p class="warning" id="estimate-warnings">([^<]*)</p>', pages[name])
        assert caution, name
        assert ("2 warnings" in caution.group(1)) if name.startswith("en") else ("۲ هشدار" in caution.group(1))
    assert not any("R-hat" in page or "restricted-source-marker" in page for page in pages.values())
    assert pages["en/numbers/index.html"].count("These figures are not final") == 1, "said once, in the footer"


def test_a_lower_bound_is_never_published_as_the_total_and_a_stale_estimate_says_so(store, tmp_path):
    """Whatever estimate was made last was published as "how many were killed", Chao's lower bound
    included; and an estimate made before the lists were linked again said nothing of it."""
    from dadkhah.estimate import estimate_table
    from dadkhah.estimate.registry import estimate_registry

    keys = _case(store, tmp_path)["keys"]
    people = {("public-list", "p1"): 1, ("restricted-source-marker", "r1"): 1, ("public-list", "p2"): 2,
              ("public-list", "p3"): 3, ("restricted-source-marker", "r9"): 4}
    link_by_hand(store, people)
    floor = estimate_registry(store, estimate=lambda table: estimate_table(table, "chao"), actor=TESTER)
    build_memorial(store, keys, tmp_path / "floor", actor=TESTER)
    assert 'id="estimate"' not in _pages(tmp_path / "floor")["en/numbers/index.html"]
    total = estimate_registry(store, estimate=lambda table: estimate_table(table, "lincoln-petersen"), actor=TESTER)
    estimate_registry(store, estimate=lambda table: estimate_table(table, "chao"), actor=TESTER)  # made later
    build_memorial(store, keys, tmp_path / "total", actor=TESTER)
    shown = re.search(r'<p id="estimate"><strong>([^<]*)</strong>', _pages(tmp_path / "total")["en/numbers/index.html"])
    assert shown and shown.group(1) == f"{round(total['estimate']):,}" and total["estimate"] != floor["estimate"]
    assert not any("estimate-stale" in page for page in _pages(tmp_path / "total").values())
    link_by_hand(store, people)  # the lists linked again
    build_memorial(store, keys, tmp_path / "stale", actor=TESTER)
    pages = _pages(tmp_path / "stale")
    for name in ("en/index.html", "en/numbers/index.html", "fa/index.html", "fa/numbers/index.html"):
        assert 'id="estimate-stale"' in pages[name], name


@pytest.mark.parametrize("contact, link", [
    ("corrections@example.org", "mailto:corrections@example.org?subject=Correction%3A%20P-000001"),
    ("https://example.org/form?lang=en", "https://example.org/form?lang=en&amp;entry=P-000001"),
    ("http://example.org/form", None),  # what readers write would travel unencrypted
    ("a@b.example?subject=<x>", None),  # a second query in the mail link
    ("https://example.org/form#top", None),  # the entry would land in the fragment
    ("https://alice:s3cret@example.org/form", None),  # on every page
    ("HTTPS://example.org/form", "https://example.org/form?entry=P-000001"),
    ("call the office", None),
])
def test_corrections_go_to_an_https_address_or_a_plain_email(store, tmp_path, contact, link):
    keys = _case(store, tmp_path)["keys"]
    if link is None:
        with pytest.raises(InputError) as refused:
            build_memorial(store, keys, tmp_path / "site", actor=TESTER, contact=contact)
        assert refused.value.field == "contact"
        return
    build_memorial(store, keys, tmp_path / "site", actor=TESTER, contact=contact)
    assert f'href="{link}"' in _pages(tmp_path / "site")["en/p/P-000001/index.html"]
