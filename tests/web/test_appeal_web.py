"""Appeals in the web application, through the real app, SQLite and the served case's keys: the public
page and its signing form (anonymous: a double-submit cookie, a honeypot, throttling, the same answer
whatever happened), the email's links, and the staff pages and API (moderation, bulk invalidation,
paper signatures, the appeal's life, deliveries, exports)."""

from __future__ import annotations

import re
import socket
import time
from email.header import decode_header, make_header

import pytest
import sqlalchemy as sa
from bs4 import BeautifulSoup
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from dadkhah.appeal import (
    SigningLimits,
    create_appeal,
    latest_day,
    mail_settings,
    publish_appeal,
    send_queued_mail,
    show_appeal,
)
from dadkhah.audit import list_audit
from dadkhah.model import AppealMail, Signature
from dadkhah.model.base import utcnow
from dadkhah.users import ROLES, allowed
from dadkhah.vault.keys import load_keys
from dadkhah.web import WebSettings, create_app
from dadkhah.workspace import load_workspace
from tests.appeal.conftest import LETTER, LETTER_FA, Mailbox
from tests.conftest import TESTER
from tests.web.conftest import login

SLUG = "inquiry"
CSRF_INPUT = re.compile(r'name="csrf_token" value="([^"]+)"')
# The appeal's routes open to anyone, by method and path: everything else needs a login.
PUBLIC_APPEAL_ROUTES = {
    ("GET", "/appeals/{slug}"), ("POST", "/appeals/{slug}/sign"),
    ("GET", "/appeals/{slug}/confirm/{token}"), ("POST", "/appeals/{slug}/confirm/{token}"),
    ("GET", "/appeals/{slug}/withdraw/{token}"), ("POST", "/appeals/{slug}/withdraw/{token}"),
    ("GET", "/api/v1/appeals/{slug}/public"),
}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def mailbox():
    """A real SMTP server on loopback that keeps what it receives."""
    from aiosmtpd.controller import Controller

    box = Mailbox()
    controller = Controller(box, hostname="127.0.0.1", port=_free_port())
    controller.start()
    box.settings = mail_settings(f"smtp://127.0.0.1:{controller.port}", "appeal@example.org")
    yield box
    controller.stop()


def make_app(folder, **settings):
    """The served case's app; its public pages count signatures at every request unless told otherwise."""
    workspace = load_workspace(folder)
    keys = settings.pop("keys", load_keys(workspace))
    return create_app(WebSettings(workspace=folder, keys=keys, **({"public_counts_seconds": 0} | settings)))


@pytest.fixture
def app(web_store_path):
    """The conftest's app, its public counts never kept (a test reads them right after each change)."""
    application = make_app(web_store_path)
    yield application
    application.state.store.close()


def add_appeal(store, slug: str = SLUG, *, publish: bool = True, **extra) -> dict:
    made = create_appeal(store, actor=TESTER, slug=slug, title="For an inquiry", title_fa="برای تحقیق",
                         text=LETTER, text_fa=LETTER_FA, addressee="The Secretary-General", **extra)
    if publish:
        publish_appeal(store, made["id"], actor=TESTER)
    return made


@pytest.fixture
def appeal(app) -> dict:
    return add_appeal(app.state.store)


def anonymous(app) -> TestClient:
    return TestClient(app, base_url="http://127.0.0.1", follow_redirects=False)


def _page(answer) -> BeautifulSoup:
    return BeautifulSoup(answer.text, "html.parser")


def open_page(client: TestClient, url: str = f"/appeals/{SLUG}") -> tuple[BeautifulSoup, str]:
    """The page and its form's CSRF token (its cookie is now in the client)."""
    answer = client.get(url)
    assert answer.status_code == 200, answer.text
    return _page(answer), CSRF_INPUT.search(answer.text).group(1)


def sign_as(client: TestClient, *, name="Sara Example", email="sara@example.org", public_name=True, slug=SLUG,
            lang: str | None = None, **extra):
    _, token = open_page(client, f"/appeals/{slug}" + (f"?lang={lang}" if lang else ""))
    data = {"name": name, "email": email, "affiliation": "", "role": "", "country": "", "kind": "person",
            "website": "", "csrf_token": token} | ({"public_name": "yes"} if public_name else {}) | extra
    return client.post(f"/appeals/{slug}/sign" + (f"?lang={lang}" if lang else ""), data=data)


def counts(app, slug=SLUG) -> dict:
    return show_appeal(app.state.store, slug)["counts"]


def queued(app) -> int:
    with app.state.store.session() as session:
        return session.scalar(sa.select(sa.func.count()).select_from(AppealMail))


def signatures(app) -> int:
    with app.state.store.session() as session:
        return session.scalar(sa.select(sa.func.count()).select_from(Signature))


def deliver_mail(app, box: Mailbox) -> None:
    send_queued_mail(app.state.store, app.state.settings.keys, box.settings)


def link_path(box: Mailbox, kind: str, index: int = -1) -> str:
    """The path of the newest (or ``index``) confirm or withdraw link the mailbox received."""
    return "/appeals/" + box.links(kind)[index].split("/appeals/", 1)[1]


def press(client: TestClient, path: str):
    """Open an email's link and press its page's button."""
    page, token = open_page(client, path)
    form = page.find("form", id="link-form")
    return client.post(form["action"], data={"csrf_token": token})


def confirm_newest(client: TestClient, app, box: Mailbox):
    deliver_mail(app, box)
    return press(client, link_path(box, "confirm"))


# ----- the public page ------------------------------------------------------------------------------


def test_the_public_page_renders_without_login_in_english(app, appeal):
    client = anonymous(app)
    answer = client.get(f"/appeals/{SLUG}")
    assert answer.status_code == 200
    page = _page(answer)
    assert page.html["dir"] == "ltr" and page.html["lang"] == "en"
    assert page.find("h1").get_text(strip=True) == "For an inquiry"
    assert "The Secretary-General" in page.find(id="addressee").get_text()
    assert "independent inquiry" in page.find(id="letter").get_text()
    assert page.find(id="verified").get_text(strip=True) == "0" and page.find(id="as-of").get_text(strip=True)
    assert page.find(id="people") and page.find(id="organisations")
    # The signing form has exactly these fields, and the honeypot is hidden from people.
    form = page.find("form", id="sign-form")
    assert form["method"] == "post" and form["action"].startswith(f"/appeals/{SLUG}/sign")
    names = {field["name"] for field in form.find_all(["input", "select", "textarea"])}
    assert names == {"name", "email", "affiliation", "role", "country", "kind", "public_name", "csrf_token", "website"}
    assert {r["value"] for r in form.find_all("input", attrs={"name": "kind"})} == {"person", "organisation"}
    assert form.find("input", attrs={"name": "public_name"})["type"] == "checkbox"
    assert not form.find("input", attrs={"name": "public_name"}).has_attr("checked"), "counted only, unless ticked"
    trap = form.find("input", attrs={"name": "website"})
    assert trap["autocomplete"] == "off" and trap["tabindex"] == "-1" and trap["aria-hidden"] == "true"
    assert "hp" in trap.find_parent("div")["class"] and trap.find_parent("div")["aria-hidden"] == "true"
    assert ".hp {" in client.get("/static/appeal.css").text
    # What is published and what is kept, and for how long, said plainly.
    privacy = page.find(id="privacy").get_text(" ", strip=True)
    assert "Show my name" in privacy and "only counted" in privacy and "90 days after the appeal closes" in privacy
    assert "withdraw" in privacy and "email" in privacy
    # The double-submit cookie: HttpOnly, SameSite=Strict, for /appeals only.
    cookie = answer.headers["set-cookie"]
    assert cookie.startswith("dadkhah_appeal_csrf=") and "HttpOnly" in cookie
    assert "samesite=strict" in cookie.lower() and "Path=/appeals" in cookie
    assert form.find("input", attrs={"name": "csrf_token"})["value"] == client.cookies["dadkhah_appeal_csrf"]
    # Nothing from another origin, no inline code or style (the CSP would refuse them anyway).
    for tag in page.find_all(True):
        assert "style" not in tag.attrs and not any(a.startswith("on") for a in tag.attrs)
        for attribute in ("src", "href", "action"):
            assert not (tag.get(attribute) or "").startswith(("http:", "https:", "//")), tag
    assert not page.find_all("style") and all(s.get("src", "").startswith("/static/") for s in page.find_all("script"))
    assert "default-src 'none'" in answer.headers["content-security-policy"]


def test_the_public_page_in_persian_is_right_to_left(app, appeal):
    client = anonymous(app)
    page = _page(client.get(f"/appeals/{SLUG}?lang=fa"))
    assert page.html["dir"] == "rtl" and page.html["lang"] == "fa"
    assert page.find("h1").get_text(strip=True) == "برای تحقیق"
    letter = page.find(id="letter")
    assert letter["lang"] == "fa" and letter["dir"] == "rtl" and "تابستان ۱۳۶۷" in letter.get_text()
    assert page.find(id="verified").get_text(strip=True) == "۰"
    assert "نامم نمایش داده شود" in page.find("form", id="sign-form").get_text()
    # The language is kept by its cookie, and the form posts in it.
    again = _page(client.get(f"/appeals/{SLUG}"))
    assert again.html["dir"] == "rtl" and "lang=fa" in again.find("form", id="sign-form")["action"]
    # A letter without Persian text is shown as written, and says so.
    made = create_appeal(app.state.store, actor=TESTER, slug="english-only", title="English only", text=LETTER,
                         addressee="Someone")
    publish_appeal(app.state.store, made["id"], actor=TESTER)
    page = _page(client.get("/appeals/english-only?lang=fa"))
    assert page.find(id="no-persian") and page.find(id="letter")["lang"] == "en"


def test_a_draft_or_an_unknown_appeal_is_not_found(app, appeal):
    add_appeal(app.state.store, "still-a-draft", publish=False)
    client = anonymous(app)
    for slug in ("still-a-draft", "no-such-appeal"):
        answer = client.get(f"/appeals/{slug}")
        assert answer.status_code == 404
        assert "no such appeal" in answer.text and "still-a-draft" not in _page(answer).find("main").get_text()
        assert client.get(f"/api/v1/appeals/{slug}/public").status_code == 404
        assert client.get(f"/appeals/{slug}/confirm/sometoken").status_code == 404


def test_the_public_api_is_the_public_page_as_json(app, appeal):
    answer = anonymous(app).get(f"/api/v1/appeals/{SLUG}/public")
    assert answer.status_code == 200
    document = answer.json()
    assert document["slug"] == SLUG and document["text_fa"] == LETTER_FA and document["keep_days"] == 90
    assert document["counts"]["verified"] == 0 and document["signatories"] == [] and document["has_more"] is False
    assert anonymous(app).get(f"/api/v1/appeals/{SLUG}/public?limit=101").status_code == 422


def test_a_closed_appeal_shows_closed_and_no_form(app, appeal, as_role):
    client = as_role("investigator")
    assert client.post(f"/api/v1/appeals/{SLUG}/close", headers={"x-csrf-token": client.csrf}).status_code == 200
    visitor = anonymous(app)
    page = _page(visitor.get(f"/appeals/{SLUG}"))
    assert page.find(id="closed") and page.find("form", id="sign-form") is None
    token = visitor.cookies["dadkhah_appeal_csrf"]
    answer = visitor.post(f"/appeals/{SLUG}/sign", data={"name": "Late", "email": "late@example.org",
                                                          "csrf_token": token})
    assert answer.status_code == 409 and signatures(app) == 0


# ----- signing ----------------------------------------------------------------------------------------


def test_signing_without_the_cookie_or_with_another_token_is_refused(app, appeal):
    client = anonymous(app)
    _, token = open_page(client)
    stranger = anonymous(app)  # a forged form from elsewhere: no cookie
    answer = stranger.post(f"/appeals/{SLUG}/sign", data={"name": "Forged", "email": "forged@example.org",
                                                           "csrf_token": token})
    assert answer.status_code == 403 and "CSRF" in answer.text
    answer = client.post(f"/appeals/{SLUG}/sign", data={"name": "Forged", "email": "forged@example.org",
                                                          "csrf_token": "x" * 43})
    assert answer.status_code == 403
    assert signatures(app) == 0 and queued(app) == 0


def test_signing_queues_a_confirmation_and_answers_check_your_email(app, appeal):
    client = anonymous(app)
    answer = sign_as(client)
    assert answer.status_code == 200
    assert _page(answer).find(id="answer")["data-outcome"] == "check-your-email"
    assert queued(app) == 1 and counts(app)["pending"] == 1 and counts(app)["verified"] == 0
    # The same answer, and no second mail, when the address signs again (it never says it has signed).
    again = sign_as(client)
    assert _page(again).find(id="answer").get_text() == _page(answer).find(id="answer").get_text()
    assert queued(app) == 1 and signatures(app) == 1
    # Signing wrote no audit event (the signer's own act; their address is kept nowhere in clear).
    with app.state.store.session() as session:
        assert not [e for e in list_audit(session, limit=None) if e["channel"] == "web"]


def test_the_honeypot_gets_the_same_answer_and_stores_nothing(app, appeal):
    human = sign_as(anonymous(app), email="human@example.org")
    stored = signatures(app), queued(app)
    bot = sign_as(anonymous(app), email="bot@example.org", website="http://spam.example")
    assert bot.status_code == human.status_code == 200
    assert _page(bot).find("main").get_text() == _page(human).find("main").get_text()
    assert (signatures(app), queued(app)) == stored


def test_a_mistake_shows_the_form_again_with_the_error_beside_its_field(app, appeal):
    client = anonymous(app)
    answer = sign_as(client, name="Sara Example", email="not an address", role="Lawyer", country="Iran")
    assert answer.status_code == 400
    page = _page(answer)
    error = page.find(id="error-email")
    assert error["data-field"] == "email" and "Email" in error.get_text() and "not an email address" in error.get_text()
    assert error.find_previous("input")["name"] == "email", "the error sits beside its field"
    form = page.find("form", id="sign-form")
    assert form.find("input", attrs={"name": "name"})["value"] == "Sara Example"
    assert form.find("input", attrs={"name": "role"})["value"] == "Lawyer"
    assert form.find("input", attrs={"name": "email"})["value"] == "not an address"
    assert form.find("input", attrs={"name": "public_name"}).has_attr("checked")
    assert signatures(app) == 0
    # In Persian, the field's label and the core's words are Persian.
    page = _page(sign_as(client, name="", email="sara@example.org", lang="fa"))
    assert "لازم است" in page.find(id="error-name").get_text()


def test_too_many_requests_from_one_address_are_answered_429(web_store_path):
    app = make_app(web_store_path, signing_limits=SigningLimits(requests=2, pending=10))
    try:
        add_appeal(app.state.store)
        client = anonymous(app)
        for n in range(2):
            assert sign_as(client, email=f"person{n}@example.org", name=f"Person {n}").status_code == 200
        answer = sign_as(client, email="person3@example.org", name="Person Three")
        assert answer.status_code == 429 and int(answer.headers["retry-after"]) == 3600
        assert "Too many signing requests" in answer.text and "60 minutes" in answer.text
        assert signatures(app) == 2
    finally:
        app.state.store.close()


def test_without_the_keys_signing_is_not_available_yet(web_store_path, as_role):
    app = make_app(web_store_path, keys=None)
    try:
        add_appeal(app.state.store)
        client = anonymous(app)
        page = _page(client.get(f"/appeals/{SLUG}"))
        assert page.find(id="not-yet") and page.find("form", id="sign-form") is None
        token = client.cookies["dadkhah_appeal_csrf"]
        answer = client.post(f"/appeals/{SLUG}/sign", data={"name": "Sara", "email": "sara@example.org",
                                                             "csrf_token": token})
        assert answer.status_code == 503 and signatures(app) == 0
        staff = login(app, "analyst")
        moderate = staff.get(f"/appeals/{SLUG}/moderate")
        assert moderate.status_code == 200 and _page(moderate).find(id="keys-missing")
        assert _page(moderate).find("form", id="paper-form") is None
        answer = staff.get(f"/api/v1/appeals/{SLUG}/queue")
        assert answer.status_code == 400 and answer.json()["error"]["field"] == "keys"
    finally:
        app.state.store.close()


# ----- the email's links ----------------------------------------------------------------------------


def test_the_confirmation_link_shows_a_button_and_only_its_press_counts(app, appeal, mailbox):
    client = anonymous(app)
    sign_as(client, name="Sara Example", email="sara@example.org", public_name=True, role="Lawyer",
            affiliation="Bar association", country="Iran")
    deliver_mail(app, mailbox)
    path = link_path(mailbox, "confirm")
    for _ in range(2):  # a mail scanner opening the link changes nothing
        page, _token = open_page(anonymous(app), path)
        assert page.find("form", id="link-form") and page.find("h1").get_text(strip=True) == "Confirm your signature"
    assert counts(app)["verified"] == 0
    answer = press(client, path)
    assert answer.status_code == 200
    done = _page(answer)
    assert done.find(id="answer")["data-outcome"] == "verified" and done.find(id="named")
    assert counts(app)["verified"] == 1
    page = _page(client.get(f"/appeals/{SLUG}"))
    assert page.find(id="verified").get_text(strip=True) == "1"
    row = page.find("tr", class_="signatory")
    assert [td.get_text(strip=True) for td in row.find_all("td")] == ["Sara Example", "Lawyer", "Bar association", "Iran"]
    assert "sara@example.org" not in page.text and "sara@example.org" not in client.get(
        f"/api/v1/appeals/{SLUG}/public").text
    # The link works once; then it is a plain "not found".
    again = press(client, path)
    assert again.status_code == 404 and "used already" in again.text
    # A link pressed without the page's cookie is refused.
    assert anonymous(app).post(path, data={"csrf_token": "x" * 43}).status_code == 403


def test_a_count_only_signer_is_counted_and_never_named(app, appeal, mailbox):
    client = anonymous(app)
    sign_as(client, name="Quiet Signer", email="quiet@example.org", public_name=False, role="Teacher",
            affiliation="Quiet School", country="Iran")
    answer = confirm_newest(client, app, mailbox)
    assert _page(answer).find(id="counted-only")
    assert counts(app)["verified"] == 1 and counts(app)["public_names"] == 0
    for text in (client.get(f"/appeals/{SLUG}").text, client.get(f"/appeals/{SLUG}?lang=fa").text,
                 client.get(f"/api/v1/appeals/{SLUG}/public").text):
        assert "Quiet Signer" not in text and "Quiet School" not in text and "quiet@example.org" not in text
    assert _page(client.get(f"/appeals/{SLUG}?lang=en")).find(id="verified").get_text(strip=True) == "1"


def test_an_organisation_waits_for_a_moderator(app, appeal, mailbox, as_role):
    client = anonymous(app)
    sign_as(client, name="Justice Org", email="contact@justice.example", kind="organisation")
    answer = confirm_newest(client, app, mailbox)
    assert _page(answer).find(id="answer")["data-outcome"] == "held" and _page(answer).find(id="named-later")
    assert counts(app)["verified"] == 0 and counts(app)["awaiting_moderation"] == 1
    staff = as_role("analyst")
    queue = staff.get(f"/api/v1/appeals/{SLUG}/queue").json()
    [held] = queue["signatures"]
    assert held["status"] == "held" and held["name"] == "Justice Org" and held["flag"] == "organisation"
    decided = staff.post(f"/api/v1/appeals/{SLUG}/decide", json={"signatures": [held["id"]], "decision": "approve"},
                         headers={"x-csrf-token": staff.csrf})
    assert decided.status_code == 200 and decided.json()["verified_after"] == 1
    page = _page(client.get(f"/appeals/{SLUG}"))
    assert page.find(id="organisations").get_text(strip=True) == "1"
    assert page.find("tr", class_="signatory")["data-kind"] == "organisation"


def test_withdrawing_stops_the_count(app, appeal, mailbox):
    client = anonymous(app)
    sign_as(client, name="Changed Mind", email="changed@example.org")
    confirm_newest(client, app, mailbox)
    assert counts(app)["verified"] == 1
    path = link_path(mailbox, "withdraw")
    page, _token = open_page(anonymous(app), path)  # opening the link changes nothing
    assert page.find("h1").get_text(strip=True) == "Withdraw your signature" and counts(app)["verified"] == 1
    answer = press(client, path)
    assert answer.status_code == 200 and _page(answer).find(id="answer")["data-outcome"] == "withdrawn"
    assert counts(app)["verified"] == 0 and counts(app)["withdrawn"] == 1
    assert "Changed Mind" not in client.get(f"/appeals/{SLUG}").text
    assert press(client, path).status_code == 404


def test_a_busy_public_page_counts_at_most_every_few_seconds_and_says_when(web_store_path, mailbox):
    app = make_app(web_store_path, public_counts_seconds=1.0)
    try:
        add_appeal(app.state.store)
        client = anonymous(app)
        before = _page(client.get(f"/appeals/{SLUG}"))
        sign_as(client, name="Sara Example", email="sara@example.org")
        confirm_newest(client, app, mailbox)
        kept = _page(client.get(f"/appeals/{SLUG}"))
        if kept.find(id="as-of")["datetime"] == before.find(id="as-of")["datetime"]:  # within the second
            assert kept.find(id="verified")["data-count"] == "0"
        time.sleep(1.1)
        fresh = _page(client.get(f"/appeals/{SLUG}"))
        assert fresh.find(id="verified")["data-count"] == "1"
        assert fresh.find(id="as-of")["datetime"] > before.find(id="as-of")["datetime"]
    finally:
        app.state.store.close()


def test_the_background_sender_mails_the_confirmation(web_store_path, mailbox):
    app = make_app(web_store_path, mail=mailbox.settings, mail_interval=0.1, public_url="https://appeal.example.org")
    try:
        add_appeal(app.state.store)
        with TestClient(app, base_url="http://127.0.0.1", follow_redirects=False) as client:  # runs the lifespan
            sign_as(client, name="Sara Example", email="sara@example.org", lang="fa")
            deadline = time.monotonic() + 15
            # The message reaches the mailbox before the sender's transaction that takes it off the
            # queue commits: wait for both.
            while (not mailbox.messages or queued(app)) and time.monotonic() < deadline:
                time.sleep(0.05)
            assert len(mailbox.messages) == 1
            message = mailbox.messages[0]
            assert message["To"] == "sara@example.org" and "برای تحقیق" in str(make_header(decode_header(message["Subject"])))
            [link] = mailbox.links("confirm")
            assert link.startswith(f"https://appeal.example.org/appeals/{SLUG}/confirm/")
            assert queued(app) == 0
        # The lifespan ended: the sender stopped with it (a new signature stays queued).
        sign_as(anonymous(app), name="Later Signer", email="later@example.org")
        time.sleep(0.3)
        assert queued(app) == 1 and len(mailbox.messages) == 1
    finally:
        app.state.store.close()



@pytest.mark.parametrize("public_url", [None, "https://appeal.example.org"])
def test_a_forged_host_header_never_names_the_links_in_the_email(web_store_path, mailbox, public_url):
    """Anyone may send a signing request with Host: attacker.example; the email the organisation then
    sends carries the signer's confirm and withdraw tokens, so its links name the configured public
    address or, without one, the address the server was started on, never the request's host."""
    own = "http://127.0.0.1:8123"
    app = make_app(web_store_path, listen_url=own, **({"public_url": public_url} if public_url else {}))
    try:
        add_appeal(app.state.store)
        forged = TestClient(app, base_url="http://attacker.example", follow_redirects=False)
        answer = sign_as(forged, name="Sara Example", email="sara@example.org")
        assert answer.status_code == 200 and forged.get(f"/appeals/{SLUG}").status_code == 200
        with app.state.store.session() as session:
            assert session.scalars(sa.select(AppealMail.base_url)).all() == [public_url or own]
        deliver_mail(app, mailbox)
        body = mailbox.messages[0].get_payload(decode=True).decode("utf-8")
        assert "attacker.example" not in body
        links = mailbox.links("confirm") + mailbox.links("withdraw")
        assert len(links) == 2 and all(link.startswith(f"{public_url or own}/appeals/{SLUG}/") for link in links)
        assert press(anonymous(app), link_path(mailbox, "confirm")).status_code == 200
        assert counts(app)["verified"] == 1
    finally:
        app.state.store.close()


# ----- staff: moderation -------------------------------------------------------------------------


def _api(client, path, body=None):
    return client.post(path, json=body or {}, headers={"x-csrf-token": client.csrf})


def test_moderation_refuses_a_viewer_and_works_for_an_analyst(app, appeal, mailbox, as_role):
    sign_as(anonymous(app), name="Waiting Person", email="waiting@example.org")
    viewer = as_role("viewer")
    for url in (f"/appeals/{SLUG}/moderate", f"/api/v1/appeals/{SLUG}/queue", "/appeals", f"/appeals/{SLUG}/manage"):
        assert viewer.get(url).status_code == 403, url
    assert viewer.post(f"/api/v1/appeals/{SLUG}/decide", json={"signatures": [1], "decision": "reject", "reason": "x"},
                       headers={"x-csrf-token": viewer.csrf}).status_code == 403
    assert 'href="/appeals"' not in viewer.get("/").text
    analyst = as_role("analyst")
    assert 'href="/appeals"' in analyst.get("/").text
    page = _page(analyst.get(f"/appeals/{SLUG}/moderate"))
    row = page.find("tr", class_="signature")
    assert row.find("td", class_="name").get_text(strip=True) == "Waiting Person", "unsealed for the moderator"
    assert "example.org" in row.get_text() and "waiting@example.org" not in page.text
    with app.state.store.session() as session:
        assert [e["action"] for e in list_audit(session, actor="analyst", limit=None)].count("signatures read") == 1
    # An analyst moderates; the appeal's life is for investigators.
    assert _api(analyst, f"/api/v1/appeals/{SLUG}/close").status_code == 403
    assert analyst.get(f"/appeals/{SLUG}/manage").status_code == 200
    assert _page(analyst.get(f"/appeals/{SLUG}/manage")).find("form", id="close-form") is None
    assert _page(as_role("investigator").get(f"/appeals/{SLUG}/manage")).find("form", id="close-form")


def test_rejecting_and_invalidating_change_the_counts_and_the_public_page_says_so(app, appeal, mailbox, as_role):
    client = anonymous(app)
    for n, email in enumerate(["ava@example.org", "babak@spam.example", "cyrus@spam.example", "dina@example.org"]):
        sign_as(client, name=f"Signer {'ABCD'[n]} Person", email=email)
        confirm_newest(client, app, mailbox)
    assert counts(app)["verified"] == 4
    staff = as_role("analyst")
    ids = {s["name"]: s["id"] for s in staff.get(f"/api/v1/appeals/{SLUG}/queue?status=verified").json()["signatures"]}
    # A rejection needs a reason: the API names the field.
    refused = _api(staff, f"/api/v1/appeals/{SLUG}/decide", {"signatures": [ids["Signer A Person"]], "decision": "reject"})
    assert refused.status_code == 400 and refused.json()["error"]["field"] == "reason"
    rejected = _api(staff, f"/api/v1/appeals/{SLUG}/decide",
                    {"signatures": [ids["Signer A Person"]], "decision": "reject", "reason": "not a real person"})
    assert rejected.status_code == 200 and rejected.json()["verified_after"] == 3
    invalidated = _api(staff, f"/api/v1/appeals/{SLUG}/invalidate",
                       {"domain": "spam.example", "reason": "a burst from a throwaway domain"})
    assert invalidated.status_code == 200 and invalidated.json()["removed"] == 2
    assert counts(app)["verified"] == 1 and counts(app)["rejected"] == 3
    page = _page(client.get(f"/appeals/{SLUG}"))
    assert page.find(id="verified").get_text(strip=True) == "1"
    corrections = page.find(id="corrections").get_text(" ", strip=True)
    assert "a burst from a throwaway domain" in corrections and "2 signatures were invalidated" in corrections
    assert "not a real person" in corrections and "4 before, 3 after" in corrections
    assert "spam.example" not in corrections
    names = page.find(id="signatory-list").get_text()
    assert "Signer D Person" in names and "Signer A Person" not in names and "Signer B Person" not in names
    fa = _page(client.get(f"/appeals/{SLUG}?lang=fa")).find(id="corrections").get_text()
    assert "۲ امضا باطل شد" in fa


def test_the_moderation_forms(app, appeal, mailbox, as_role):
    client = anonymous(app)
    sign_as(client, name="Held Org", email="org@example.org", kind="organisation")
    confirm_newest(client, app, mailbox)
    staff = as_role("analyst")
    page = _page(staff.get(f"/appeals/{SLUG}/moderate"))
    approve = page.find("form", class_="approve")
    answer = staff.post(approve["action"], data={i["name"]: i["value"] for i in approve.find_all("input")})
    assert answer.status_code == 303 and answer.headers["location"] == f"/appeals/{SLUG}/moderate?done=decided"
    assert counts(app)["verified"] == 1
    # A rejection without a reason: the page again, with the error.
    answer = staff.post(f"/appeals/{SLUG}/decide", data={"signatures": "1", "decision": "reject",
                                                         "csrf_token": staff.csrf})
    assert answer.status_code == 400 and _page(answer).find(id="error")["data-field"] == "reason"
    # A paper signature, vouched for by the user unless someone else is named.
    answer = staff.post(f"/appeals/{SLUG}/signatures", data={"name": "Paper Signer", "kind": "person",
                                                             "public_name": "yes", "verified_by": "",
                                                             "csrf_token": staff.csrf})
    assert answer.status_code == 303 and counts(app)["verified"] == 2
    with app.state.store.session() as session:
        assert session.scalar(sa.select(Signature.verified_by).where(Signature.channel == "paper")) == "analyst"
    assert "Paper Signer" in client.get(f"/appeals/{SLUG}").text
    # The paper form keeps what was typed on a refusal.
    answer = staff.post(f"/appeals/{SLUG}/signatures", data={"name": "Another", "email": "nope", "kind": "person",
                                                             "verified_by": "Maryam", "csrf_token": staff.csrf})
    page = _page(answer)
    assert answer.status_code == 400 and page.find(id="error-email")
    assert page.find("form", id="paper-form").find("input", attrs={"name": "verified_by"})["value"] == "Maryam"
    # Bulk invalidation by a time window, from the form.
    answer = staff.post(f"/appeals/{SLUG}/invalidate", data={"since": "2000-01-01T00:00", "until": "",
                                                             "domain": "", "reason": "test window",
                                                             "csrf_token": staff.csrf})
    assert answer.status_code == 303 and "n=" in answer.headers["location"]
    assert counts(app)["verified"] == 0
    answer = staff.post(f"/appeals/{SLUG}/invalidate", data={"since": "", "until": "", "domain": "",
                                                             "reason": "nothing", "csrf_token": staff.csrf})
    assert answer.status_code == 400 and _page(answer).find(id="error-domain")


# ----- staff: the appeal's life ---------------------------------------------------------------------


def test_an_investigator_creates_publishes_revises_delivers_and_closes_an_appeal(app, as_role, tmp_path):
    staff = as_role("investigator")
    page = _page(staff.get("/appeals"))
    assert page.find("form", id="new-appeal")
    assert _page(as_role("analyst").get("/appeals")).find("form", id="new-appeal") is None
    form = {"slug": "Bad Slug", "title": "A letter", "title_fa": "", "addressee": "Someone", "text": "Dear all.",
            "text_fa": "", "order": "alphabetical", "keep_days": "", "csrf_token": staff.csrf}
    answer = staff.post("/appeals", data=form)
    assert answer.status_code == 400
    page = _page(answer)
    assert page.find(id="error-slug") and page.find("textarea", attrs={"name": "text"}).get_text() == "Dear all."
    answer = staff.post("/appeals", data=form | {"slug": "a-letter"})
    assert answer.status_code == 303 and answer.headers["location"] == "/appeals/a-letter/manage?done=created"
    page = _page(staff.get(answer.headers["location"]))
    assert page.find(id="status")["data-status"] == "draft" and page.find("form", id="publish-form")
    assert anonymous(app).get("/appeals/a-letter").status_code == 404
    assert staff.post("/appeals/a-letter/publish", data={"csrf_token": staff.csrf}).status_code == 303
    assert anonymous(app).get("/appeals/a-letter").status_code == 200
    # A revision of a published text is a new version, which the public page lists as a correction.
    answer = staff.post("/appeals/a-letter/revise", data={"title": "A letter", "title_fa": "", "addressee": "Someone",
                                                          "text": "Dear all, again.", "text_fa": "", "order": "",
                                                          "keep_days": "", "csrf_token": staff.csrf})
    assert answer.status_code == 303
    public = anonymous(app).get("/appeals/a-letter")
    assert "Dear all, again." in public.text and "version 2" in _page(public).find(id="corrections").get_text()
    answer = staff.post("/appeals/a-letter/revise", data={"title": "A letter", "text": "Dear all, again.",
                                                          "csrf_token": staff.csrf})
    assert answer.status_code == 400 and "nothing would change" in answer.text
    # A delivery, with its proof kept in the vault; then as JSON through the API. The form's date runs
    # from the day the letter was published to today; a day outside is refused beside the field.
    today = utcnow().date().isoformat()
    day_field = _page(staff.get("/appeals/a-letter/manage")).find("form", id="deliver-form").find(
        "input", attrs={"name": "on"})
    assert day_field["min"] <= today <= day_field["max"] == latest_day().isoformat()
    answer = staff.post("/appeals/a-letter/deliver", data={"to": "The Office", "on": today,
                                                           "csrf_token": staff.csrf},
                        files={"evidence": ("receipt.txt", b"received, with thanks", "text/plain")})
    assert answer.status_code == 303, answer.text
    for wrong in ("2999-01-01", "2024-01-02"):  # in the future; before the letter was published
        answer = staff.post("/appeals/a-letter/deliver", data={"to": "The Office", "on": wrong,
                                                               "csrf_token": staff.csrf})
        assert answer.status_code == 400 and _page(answer).find(id="error-on"), wrong
    refused = staff.post("/api/v1/appeals/a-letter/deliver", json={"to": "Another Office", "on": "2024-02-03"},
                         headers={"x-csrf-token": staff.csrf})
    assert refused.status_code == 400 and "before A-0001 was published" in refused.text
    api = staff.post("/api/v1/appeals/a-letter/deliver", json={"to": "Another Office", "on": today},
                     headers={"x-csrf-token": staff.csrf})
    assert api.status_code == 200 and api.json()["evidence"] is None and api.json()["version"] == 2
    shown = staff.get("/api/v1/appeals/A-0001").json()
    assert [d["to"] for d in shown["deliveries"]] == ["The Office", "Another Office"]
    assert shown["deliveries"][0]["evidence"].startswith("E-")
    assert not list((app.state.store.workspace.path / "private").glob("upload-*")), "the upload's folder is gone"
    public = _page(anonymous(app).get("/appeals/a-letter")).find(id="deliveries").get_text()
    assert "The Office" in public and "Another Office" in public
    # Closing; purging a closed appeal too soon is refused with its field.
    assert _api(staff, "/api/v1/appeals/a-letter/close").json()["status"] == "closed"
    answer = staff.post("/appeals/a-letter/purge", data={"older_than": "30", "csrf_token": staff.csrf})
    assert answer.status_code == 400 and _page(answer).find(id="error-older_than")
    answer = _api(staff, "/api/v1/appeals/a-letter/purge", {"older_than": 0})
    assert answer.status_code == 200 and answer.json()["older_than_days"] == 0
    listed = staff.get("/api/v1/appeals").json()["appeals"]
    assert [(a["slug"], a["status"]) for a in listed] == [("a-letter", "closed")]
    actions = [e["action"] for e in staff.get("/api/v1/appeals/a-letter").json()["history"]]
    assert actions == ["appeal created", "appeal published", "appeal revised", "appeal delivered", "appeal delivered",
                       "appeal closed", "appeal purged"]



def test_the_team_page_lists_the_newest_history_and_says_where_the_rest_is(app, as_role, monkeypatch):
    import dadkhah.appeal.appeals as appeals

    staff = as_role("investigator")
    assert _api(staff, "/api/v1/appeals", {"slug": "long", "title": "Long", "addressee": "X", "text": "T."}).status_code == 201
    _api(staff, "/api/v1/appeals/long/publish")
    _api(staff, "/api/v1/appeals/long/close")
    monkeypatch.setattr(appeals, "HISTORY_SHOWN", 2)
    shown = staff.get("/api/v1/appeals/long").json()
    assert [e["action"] for e in shown["history"]] == ["appeal published", "appeal closed"] and shown["history_total"] == 3
    page = _page(staff.get("/appeals/long/manage"))
    assert page.find(id="history-shown").get_text(" ", strip=True) == "The newest 2 of 3 events. The audit log holds every one."
    assert len(page.find(id="history").find("tbody").find_all("tr")) == 2
    admin = _page(as_role("admin").get("/appeals/long/manage")).find(id="history-shown").find("a")
    assert admin["href"] == f"/audit?object_id={shown['id']}", "an admin may follow it to the audit log"


def test_the_api_creates_and_names_the_field_of_a_mistake(app, as_role):
    staff = as_role("investigator")
    body = {"slug": "via-api", "title": "Via the API", "addressee": "Someone", "text": "Text.", "keep_days": 30}
    made = _api(staff, "/api/v1/appeals", body)
    assert made.status_code == 201 and made.json()["keep_days"] == 30
    again = _api(staff, "/api/v1/appeals", body)
    assert again.status_code == 400 and again.json()["error"]["field"] == "slug"
    assert _api(staff, "/api/v1/appeals/via-api/revise", {"order": "sideways"}).json()["error"]["field"] == "order"
    assert _api(staff, "/api/v1/appeals/via-api/publish").json()["status"] == "open"
    assert _api(staff, "/api/v1/appeals/nope/publish").status_code == 404
    assert staff.post("/api/v1/appeals", json=body).status_code == 403, "no CSRF token"


def test_exports_are_downloads_recorded_in_the_audit_log(app, appeal, mailbox, as_role):
    client = anonymous(app)
    sign_as(client, name="=HYPERLINK(\"x\")", email="formula@example.org")
    confirm_newest(client, app, mailbox)
    staff = as_role("analyst")
    answer = staff.get(f"/appeals/{SLUG}/export?format=csv")
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/csv")
    assert "attachment" in answer.headers["content-disposition"] and answer.headers["x-dadkhah-sha256"]
    text = answer.content.decode("utf-8-sig")
    assert text.splitlines()[0].startswith("name,kind") and "'=HYPERLINK" in text
    assert staff.get(f"/api/v1/appeals/{SLUG}/export?format=xls").status_code == 422
    with app.state.store.session() as session:
        assert "appeal exported" in [e["action"] for e in list_audit(session, actor="analyst", limit=None)]
    assert not list((app.state.store.workspace.path / "private").glob("appeal-export-*"))
    try:
        from dadkhah.typeset import letter_pdf  # noqa: F401  (written alongside)
    except ImportError:
        pytest.skip("the PDF typesetter is not there yet")
    for language in ("en", "fa"):
        answer = staff.get(f"/api/v1/appeals/{SLUG}/export?format=pdf&language={language}")
        assert answer.status_code == 200 and answer.content.startswith(b"%PDF")
        assert answer.headers["content-type"] == "application/pdf"



def test_a_letter_with_more_signatories_than_one_document_holds_downloads_whole(app, appeal, as_role, monkeypatch):
    """Past the limit for one document, the letter is set in parts by processes of its own, started
    from the server's request: the download is one PDF, every name in it, numbered as one."""
    from io import BytesIO

    from pypdf import PdfReader

    monkeypatch.setattr("dadkhah.typeset.letter.WHOLE_ROWS", 10)
    monkeypatch.setattr("dadkhah.typeset.letter.PART_ROWS", 10)
    admin = as_role("admin")
    names = [f"Paper Signer {chr(65 + i // 26)}{chr(65 + i % 26)}" for i in range(32)]
    for name in names:
        answer = admin.post(f"/api/v1/appeals/{SLUG}/signatures", json={"name": name, "verified_by": "m"},
                            headers={"X-CSRF-Token": admin.csrf})
        assert answer.status_code in (200, 201), answer.text
    listed = [line.split(",")[0] for line in
              admin.get(f"/api/v1/appeals/{SLUG}/export?format=csv").content.decode("utf-8-sig").splitlines()[1:]]
    assert len(listed) > 20, "most are counted at once (a name close to another's waits for a moderator)"
    answer = admin.get(f"/api/v1/appeals/{SLUG}/export?format=pdf&language=en")
    assert answer.status_code == 200 and answer.content.startswith(b"%PDF")
    pages = [page.extract_text() for page in PdfReader(BytesIO(answer.content)).pages]
    text = "\n".join(pages)
    assert sorted(re.findall(r"Paper Signer [A-Z]{2}", text)) == sorted(listed), "the names the CSV lists, once each"
    assert all(f"of {len(pages)}" in page for page in pages) and len(pages) >= 3

# ----- every appeal route, with every role ------------------------------------------------------------


def _appeal_routes(app):
    def walk(routes):
        for route in routes:
            if isinstance(route, APIRoute):
                yield route
            elif hasattr(route, "original_router"):
                yield from walk(route.original_router.routes)

    for route in walk(app.routes):
        if route.path.startswith(("/appeals", "/api/v1/appeals")):
            for method in sorted(route.methods - {"HEAD"}):
                yield method, route.path, [d.call.permission for d in route.dependant.dependencies
                                           if hasattr(d.call, "permission")]


@pytest.mark.parametrize("role", [None, *ROLES])
def test_every_appeal_route_is_public_by_intent_or_needs_its_permission(app, appeal, as_role, role):
    client = as_role(role) if role else anonymous(app)
    values = {"slug": SLUG, "ref": "A-0001", "token": "not-a-token"}
    seen = set()
    for method, path, permissions in _appeal_routes(app):
        url = re.sub(r"\{([^}:]+)[^}]*\}", lambda m: values[m.group(1)], path)
        answer = client.get(url) if method == "GET" else client.request(method, url, headers={"accept": "application/json"})
        where = f"{role} {method} {url}: {answer.status_code} {answer.text[:200]}"
        if (method, path) in PUBLIC_APPEAL_ROUTES:
            assert permissions == [], where
            if method == "GET":
                assert answer.status_code == 200, where
            else:  # no form, no token: refused as forged
                assert answer.status_code in (403, 422), where
            seen.add((method, path))
            continue
        assert len(permissions) == 1 and permissions[0] in ("signatures", "appeals"), where
        if role is None:
            assert answer.status_code in (401, 303), where
        elif not allowed(role, permissions[0]):
            assert answer.status_code == 403, where
        elif method == "GET":
            assert answer.status_code == 200, where
        else:
            assert answer.status_code == 403 and "csrf" in answer.text.lower(), where
    assert seen == PUBLIC_APPEAL_ROUTES


def test_the_workers_take_the_mail_settings_from_the_serve_command(web_store_path, monkeypatch):
    import json

    from dadkhah.web.app import SETTINGS_ENV, app_from_environment

    monkeypatch.setenv(SETTINGS_ENV, json.dumps({
        "workspace": str(web_store_path), "vault": True, "smtp_url": "smtp://127.0.0.1:2525",
        "mail_from": "appeal@example.org", "public_url": "https://appeal.example.org",
        "listen_url": "http://127.0.0.1:9999"}))
    app = app_from_environment()
    try:
        settings = app.state.settings
        assert settings.mail.host == "127.0.0.1" and settings.mail.port == 2525
        assert settings.mail.mail_from == "appeal@example.org" and settings.public_url == "https://appeal.example.org"
        assert settings.listen_url == "http://127.0.0.1:9999"
        assert settings.keys is not None
    finally:
        app.state.store.close()
