"""The memorial site in Chromium, served by a plain static server and opened from a disk: search finds
names across scripts, the Persian pages run right to left, no page asks for anything outside the
site, every page is valid HTML and reachable from the home page, and the browser's key function is
the registry's, word for word."""

from __future__ import annotations

import contextlib
import functools
import os
import random
import shutil
import threading
from datetime import UTC, datetime
from html.parser import HTMLParser
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import html5lib
import pytest
import sqlalchemy as sa

from dadkhah.estimate import estimate_table
from dadkhah.estimate.registry import estimate_registry
from dadkhah.ingest.importer import import_file
from dadkhah.model import LinkageRun, Record, Source
from dadkhah.publish.memorial import build_memorial
from dadkhah.registry.persons import assign_persons
from dadkhah.registry.search import query_terms
from dadkhah.sources import set_release
from dadkhah.store import open_store
from dadkhah.synth.population import load_name_tables
from dadkhah.vault.keys import create_keys, load_keys
from dadkhah.workspace import create_workspace
from tests.conftest import TESTER, write
from tests.web.conftest import CHROMIUM

# One person per row; a Persian-only and a Latin-only writing of the same name are different persons
# here, so that each search direction is seen on its own.
ROWS = ("id,given_name,family_name,death_date,city\n"
        "f1,محمد,رضایی,1367/05/10,Rasht\n"
        "l1,Hossein,Karimi,1367/05/11,Tabriz\n"
        "l2,Hassan,Karimi,1367/05/12,Tabriz\n"
        "f2,سید علی,موسوی,1367/05/13,Tehran\n"
        "l3,Mahmoud,Rezaei,1367/05/14,Tehran\n")
# A second list, restricted, naming two of them again: enough overlap for an estimate (its chart is
# drawn on "about the numbers").
SECOND = ("id,given_name,family_name,death_date,city\n"
          "s1,Hossein,Karimi,1367/05/11,Tabriz\n"
          "s2,Mahmoud,Rezaei,1367/05/14,Tehran\n"
          "s3,Parviz,Nikbakht,1367/05/15,Tehran\n")


class _Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.links = []

    def handle_starttag(self, tag, attrs):
        self.links += [value for name, value in attrs if name in ("href", "src") and value]


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("memorial")
    workspace = create_workspace(folder / "ws")
    create_keys(workspace)
    workspace = workspace.reloaded()
    with open_store(workspace) as store:
        import_file(store, write(folder / "list.csv", ROWS), source="public-list", actor=TESTER)
        import_file(store, write(folder / "second.csv", SECOND), source="second-list", actor=TESTER)
        with store.session() as session:
            ids = dict(session.execute(sa.select(Source.name, Source.id)).all())
            first, second = ids["public-list"], ids["second-list"]
            records = list(session.scalars(sa.select(Record.record_id).where(Record.source_id == first)))
            run = LinkageRun(engine="hand", threshold=0.5, review_low=0.2, review_high=0.9, parameters={},
                             run_by="t", software_version="0", finished_at=datetime.now(UTC))
            session.add(run)
            session.flush()
            clusters = {(first, r): n for n, r in enumerate(sorted(records))}
            clusters |= {(second, "s1"): clusters[(first, "l1")], (second, "s2"): clusters[(first, "l3")],
                         (second, "s3"): 99}
            assign_persons(session, run.id, clusters)
        set_release(store, "public-list", "public", actor=TESTER)
        estimate_registry(store, estimate=lambda table: estimate_table(table, "lincoln-petersen"), actor=TESTER)
        build_memorial(store, load_keys(workspace), folder / "site", actor=TESTER)
    return folder / "site"


@pytest.fixture(scope="module")
def served(site):
    handler = functools.partial(_Quiet, directory=str(site))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@contextlib.contextmanager
def _chromium():
    if not shutil.which(CHROMIUM) and not os.path.exists(CHROMIUM):
        if os.environ.get("CI") == "true":
            pytest.fail(f"Chromium is not installed at {CHROMIUM} (make browser installs it)")
        pytest.skip(f"Chromium is not installed at {CHROMIUM} (make browser installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page()
        page.requests, page.errors = [], []
        page.on("request", lambda request: page.requests.append(request.url))
        page.on("console", lambda message: message.type == "error" and page.errors.append(message.text))
        page.on("pageerror", lambda error: page.errors.append(str(error)))
        page.set_default_timeout(15000)
        yield page
        browser.close()


@pytest.fixture(scope="module")
def browser():
    with _chromium() as page:
        yield page


def _search(page, address: str, query: str) -> list[str]:
    page.goto(address)
    page.fill("#q", query)
    page.press("#q", "Enter")
    page.wait_for_function("q => document.getElementById('results').dataset.query === q", arg=query)
    return page.eval_on_selector_all("#results a", "links => links.map(a => a.getAttribute('href'))")


def _ids(links: list[str]) -> set[str]:
    return {link.split("/p/")[1].split("/")[0] for link in links}


def _person(site: Path, text: str) -> str:
    return next(p.parent.name for p in (site / "en" / "p").glob("*/index.html") if text in p.read_text("utf-8"))


def test_a_latin_query_finds_persian_written_names_and_the_reverse(site, served, browser):
    rezaei_fa, karimi_hossein = _person(site, "محمد"), _person(site, "Hossein Karimi")
    found = _ids(_search(browser, f"{served}/en/search/index.html", "Mohammad Rezaei"))
    assert found == {rezaei_fa}, "Latin letters find the name written only in Persian, and not Mahmoud Rezaei"
    found = _ids(_search(browser, f"{served}/fa/search/index.html", "حسین کریمی"))
    assert found == {karimi_hossein}, "Persian letters find the name written only in Latin, and not Hassan"
    assert "یافته شد" in browser.text_content("#found")
    found = _ids(_search(browser, f"{served}/en/search/index.html", "Seyed Ali Mousavi"))
    assert found == {_person(site, "موسوی")}, "a title is dropped, as the registry's search drops it"
    browser.goto(f"{served}/fa/search/index.html?q=Karimi")
    browser.wait_for_function("document.getElementById('results').dataset.query === 'Karimi'")
    assert len(browser.query_selector_all("#results li")) == 2, "a query in the address is run on opening"
    assert browser.evaluate("getComputedStyle(document.body).direction") == "rtl"
    outside = [url for url in browser.requests if not url.startswith(served)]
    assert not outside and not browser.errors, (outside, browser.errors)


def test_the_search_works_from_a_disk(site, browser):
    browser.errors.clear()
    links = _search(browser, (site / "fa" / "search" / "index.html").as_uri(), "rezaei")
    assert len(links) == 2 and not browser.errors, browser.errors
    browser.click("#results a >> nth=0")
    assert browser.url.startswith("file://") and "/fa/p/P-" in browser.url
    assert browser.evaluate("document.documentElement.dir") == "rtl"


def test_every_page_is_valid_html_reachable_from_home_and_asks_for_nothing_outside(site, served, browser):
    pages = {p.relative_to(site).as_posix() for p in site.rglob("*.html")}
    reached, queue = set(), ["index.html"]
    while queue:
        name = queue.pop()
        if name in reached:
            continue
        reached.add(name)
        text = (site / name).read_text("utf-8")
        html5lib.HTMLParser(strict=True, namespaceHTMLElements=False).parse(text)  # raises on any parse error
        parser = _Links()
        parser.feed(text)
        for link in parser.links:
            target = ((site / name).parent / link.split("#")[0].split("?")[0]).resolve()
            if target.suffix == ".html" and target.is_file():
                queue.append(target.relative_to(site.resolve()).as_posix())
    assert reached == pages, f"not reachable from the home page: {sorted(pages - reached)}"
    assert "<svg" in (site / "fa" / "numbers" / "index.html").read_text("utf-8"), "the estimate's chart is drawn"
    browser.requests.clear()
    browser.goto(f"{served}/index.html")  # the root page sends the reader on to the first language
    browser.wait_for_url(f"{served}/fa/index.html")
    for name in sorted(pages - {"index.html"}):
        browser.goto(f"{served}/{name}")
        assert browser.evaluate("document.documentElement.dir") == ("rtl" if name.startswith("fa/") else "ltr")
    outside = [url for url in browser.requests if not url.startswith((served, site.as_uri()))]
    assert not outside and not browser.errors, (outside, browser.errors)


def test_the_browsers_keys_are_the_registrys_word_for_word(served, browser):
    tables = load_name_tables()
    rng = random.Random(5)
    given = [e for e in tables.given_male + tables.given_female]
    family = list(tables.family)
    names = []
    for entry in given + family:
        names += [entry.fa, *entry.latin]
    for _ in range(1500):
        first, last = rng.choice(given), rng.choice(family)
        if rng.random() < 0.5:
            names.append(f"{first.fa} {last.fa}")
        else:
            names.append(f"{rng.choice(first.latin)} {rng.choice(last.latin)}")
    names += ["Seyyed Mohammad-Ali Hosseini", "سيد محمدعلي حسيني", "Hossein Zadeh", "Pour Mohammadi", "Ja'far Ṭāherī",
              "Ali (Reza) Karimi", "حاج  آقا رضا", "علی‌اکبر ‌ کریمی", "ییحیی", "Mirza Kuchak", "unknown", "  ", "P-000012",
              "Gholam-Reza Mostafavi", "حجت‌الاسلام علی فلاحیان", "Sheykh Abdollah Nouri", "Mousavi-Khoeiniha"]
    browser.goto(f"{served}/en/search/index.html")
    port = browser.evaluate("names => names.map(n => window.dadkhahSearch.queryTerms(n))", names)
    mismatches = [(n, got, query_terms(n)) for n, got in zip(names, port, strict=True) if got != query_terms(n)]
    assert not mismatches, mismatches[:10]
    assert sum(1 for terms in port if terms) > 2000, "the names give keys: the comparison is not of empty lists"


def test_more_hits_than_are_listed_come_a_page_at_a_time(site, browser, tmp_path):
    copy = tmp_path / "site"
    shutil.copytree(site, copy)
    script = copy / "search" / "search.js"
    text = script.read_text("utf-8")
    assert "SHOWN = 50" in text
    script.write_text(text.replace("SHOWN = 50", "SHOWN = 1"), "utf-8")  # one hit to a page, to see the paging
    links = _search(browser, (copy / "en" / "search" / "index.html").as_uri(), "Karimi")
    assert len(links) == 1 and "2 found. The first 1 are listed." in browser.text_content("#found")
    browser.click("#more")
    browser.wait_for_function("document.querySelectorAll('#results li').length === 2")
    assert browser.is_hidden("#more") and browser.text_content("#found").strip() == "2 found."
