"""End to end in Debian's Chromium, driven by Playwright, against the real server on loopback.

`make test` installs Chromium (`make browser`); nothing is downloaded by Playwright. Every request a
page makes is recorded: none may leave the app's own address.
"""

from __future__ import annotations

from tests.web.conftest import log_in


def test_log_in_and_see_the_dashboard(browser_page):
    page = browser_page
    page.goto("/")
    assert page.url.endswith("/login"), "an anonymous visitor is sent to the login page"
    log_in(page, "viewer")
    assert page.locator("#total-records").inner_text().strip() != ""
    assert page.locator("h1").inner_text() == "Dashboard"


def test_a_wrong_password_is_refused_in_the_browser(browser_page):
    page = browser_page
    page.goto("/login")
    page.fill("input[name=username]", "viewer")
    page.fill("input[name=password]", "not the password at all")
    page.click("button[type=submit]")
    assert page.locator("[role=alert]").is_visible()
    assert "/login" in page.url
    assert page.console_errors == ["Failed to load resource: the server responded with a status of 401 (Unauthorized)"]
    page.console_errors.clear()  # the refused login's own 401, expected


def _person_named_in_both_scripts(folder) -> tuple[str, str]:
    """(person id, a Latin family name of theirs) for a person whose records use both scripts."""
    import sqlalchemy as sa

    from dadkhah.model import Person, PersonRecord, Record
    from dadkhah.store import open_store
    from dadkhah.workspace import load_workspace

    with open_store(load_workspace(folder)) as store, store.session() as session:
        rows = session.execute(
            sa.select(Person.person_id, Record.name_script, Record.family_name)
            .join(PersonRecord, PersonRecord.person_pk == Person.id)
            .join(Record, sa.and_(Record.source_id == PersonRecord.source_id, Record.record_id == PersonRecord.record_id))
            .where(Record.family_name.is_not(None), Record.superseded_by.is_(None)).order_by(Person.id)).all()
    scripts: dict[str, dict[str, str]] = {}
    for person_id, script, family in rows:
        scripts.setdefault(person_id, {})[script] = family
    return next((pid, names["latin"]) for pid, names in scripts.items() if {"fa", "latin"} <= set(names))


def test_search_in_latin_finds_the_person_written_in_persian(browser_page, web_store_path):
    person_id, latin_family = _person_named_in_both_scripts(web_store_path)
    page = browser_page
    log_in(page, "viewer")
    page.click("nav a[href='/persons']")
    page.fill("input[name=q]", latin_family)
    page.click("form[role=search] button[type=submit]")
    page.wait_for_selector("#hits")
    row = page.locator("tr.hit", has=page.locator(f"a[href='/persons/{person_id}']"))
    if row.count() == 0:  # a common family name: narrow by the person's id
        page.goto(f"/persons?q={latin_family}&per_page=200")
        row = page.locator("tr.hit", has=page.locator(f"a[href='/persons/{person_id}']"))
    assert row.count() == 1
    assert any("\u0600" <= ch <= "\u06ff" for ch in row.locator(".names").inner_text()), "the Persian-script name is shown"
    row.locator(f"a[href='/persons/{person_id}']").click()
    page.wait_for_url(f"**/persons/{person_id}")
    assert person_id in page.locator("h1").inner_text()


WIDE_PAGES = ["/", "/acts", "/appeals", "/audit", "/casefile", "/custody", "/estimates", "/evidence", "/institutions",
              "/intake", "/jobs", "/officials", "/persons", "/places", "/review", "/sites", "/sources", "/testimonies",
              "/tokens", "/users", "/persons/P-000001"]


def test_no_page_scrolls_sideways_on_a_laptop_screen(browser_page):
    """At 1,280 pixels wide, in English and in Persian, every page fits across: the audit log's
    details (digests, lists of ids) wrap inside their cell instead of widening the table."""
    page = browser_page
    page.set_viewport_size({"width": 1280, "height": 800})
    log_in(page, "admin")
    wide = {}
    for language in ("en", "fa"):
        for path in WIDE_PAGES:
            assert page.goto(f"{path}?lang={language}").status == 200, path
            scroll, client = page.evaluate("[document.documentElement.scrollWidth, document.documentElement.clientWidth]")
            if scroll > client:
                wide[f"{path}?lang={language}"] = scroll
    assert not wide, f"pages wider than the screen (1,280 px): {wide}"
