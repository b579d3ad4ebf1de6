"""The memorial site in Debian's Chromium, served by a plain static server on loopback: Persian right
to left, from the home page to a person and their city, in both languages, with no request outside
the site and no error (the pages' own Content-Security-Policy included)."""

from __future__ import annotations

import functools
import http.server
import threading

import pytest

from dadkhah.publish.memorial import build_memorial
from dadkhah.store import open_store
from dadkhah.workspace import create_workspace
from tests.conftest import TESTER
from tests.publish.test_policy import _case


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:  # the test's output is for failures
        pass


@pytest.fixture
def live_server(tmp_path):
    """The memorial of a small case, served as static files (this replaces the app's server here)."""
    with open_store(create_workspace(tmp_path / "ws")) as store:
        keys = _case(store, tmp_path)["keys"]
        build_memorial(store, keys, tmp_path / "site", actor=TESTER, contact="https://example.org/corrections")
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(tmp_path / "site")))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_from_the_home_page_to_a_person_in_persian_and_in_english(browser_page):
    page = browser_page
    page.goto("/")
    page.wait_for_url("**/fa/index.html")
    assert page.locator("html").get_attribute("dir") == "rtl"
    assert page.locator("#named").inner_text() == "۲"
    assert page.locator("figure.map svg [data-province]").count() == 31, "the map's provinces"
    assert page.locator("figure.map svg [data-province='province:gilan']").get_attribute("data-value") == "1"
    page.click("nav a[href$='persons/index.html']")
    page.click("ol.persons a >> nth=0")
    assert page.locator("h1 .name-latin").inner_text() == "Ava Rahimi"
    assert "۱۳۶۷/۰۵/۱۰" in page.locator("dd.death").inner_text()
    page.click("dd a[href*='cities/']")
    assert page.locator("ol.persons li").count() == 1
    page.click("nav a[lang=en]")
    assert page.locator("html").get_attribute("dir") == "ltr" and page.locator("html").get_attribute("lang") == "en"
    page.goto("/en/p/P-000001/index.html")
    assert page.locator("a.correct").get_attribute("href") == "https://example.org/corrections?entry=P-000001"
    assert "1988-08-01 (1367/05/10)" in page.locator("dd.death").inner_text()
