"""Signing an appeal end to end in Debian's Chromium: the public page in Persian, right to left; the
form; the confirmation email, sent by the server's background sender to an SMTP server on loopback;
its link opened in the browser and its button pressed; the counts and names as the page then shows
them. Every request the page makes is recorded (``browser_page``): none may leave the app."""

from __future__ import annotations

import time

import pytest

from dadkhah.appeal import create_appeal, mail_settings, publish_appeal
from dadkhah.store import open_store
from dadkhah.workspace import load_workspace
from tests.appeal.conftest import LETTER, LETTER_FA, Mailbox
from tests.conftest import TESTER
from tests.web.conftest import serving
from tests.web.test_appeal_web import _free_port

SLUG = "inquiry"


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


@pytest.fixture
def live_server(web_store_path, mailbox):
    """The served case with a published appeal, its server sending mail to ``mailbox`` (this replaces
    the conftest's ``live_server`` for ``browser_page`` in this module)."""
    with open_store(load_workspace(web_store_path)) as store:
        made = create_appeal(store, actor=TESTER, slug=SLUG, title="For an inquiry", title_fa="برای تحقیق",
                             text=LETTER, text_fa=LETTER_FA, addressee="The Secretary-General")
        publish_appeal(store, made["id"], actor=TESTER)
    with serving(web_store_path, mail=mailbox.settings, mail_interval=0.2) as address:
        yield address


def _wait_for_mail(box: Mailbox, count: int, seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while len(box.messages) < count:
        assert time.monotonic() < deadline, f"{count} emails expected, {len(box.messages)} arrived"
        time.sleep(0.1)


def _sign(page, *, name: str, email: str, show_name: bool, role: str = "", affiliation: str = "",
          country: str = "") -> None:
    page.goto(f"/appeals/{SLUG}")
    page.fill("input[name=name]", name)
    page.fill("input[name=email]", email)
    page.fill("input[name=role]", role)
    page.fill("input[name=affiliation]", affiliation)
    page.fill("input[name=country]", country)
    if show_name:
        page.check("input[name=public_name]")
    page.click("#sign-form button[type=submit]")
    page.wait_for_selector("#answer[data-outcome=check-your-email]")


def _confirm(page, link: str) -> str:
    page.goto(link)
    assert page.locator("html").get_attribute("dir") == "rtl"
    page.click("#link-form button[type=submit]")
    page.wait_for_selector("#answer[data-outcome]")
    return page.locator("#answer").get_attribute("data-outcome")


def _verified(page, expected: int | None = None) -> int:
    """The verified count the public page shows; with ``expected``, reloaded until it shows it (the
    page's counts may be a few seconds old: it says so)."""
    deadline = time.monotonic() + 10
    while True:
        page.goto(f"/appeals/{SLUG}")
        shown = int(page.locator("#verified").get_attribute("data-count"))
        if expected is None or shown == expected or time.monotonic() > deadline:
            return shown
        time.sleep(0.3)


def test_sign_in_persian_confirm_by_email_and_be_counted_once(browser_page, live_server, mailbox):
    page = browser_page
    page.goto(f"/appeals/{SLUG}?lang=fa")
    assert page.locator("html").get_attribute("dir") == "rtl" and page.locator("html").get_attribute("lang") == "fa"
    assert page.locator("h1").inner_text() == "برای تحقیق"
    assert "تابستان ۱۳۶۷" in page.locator("#letter").inner_text()
    assert page.locator("#verified").inner_text() == "۰"
    trap = page.locator("div.hp")  # the honeypot's box: one pixel, clipped, transparent
    box = trap.bounding_box()
    assert box["width"] <= 1 and box["height"] <= 1
    assert trap.evaluate("e => getComputedStyle(e).opacity") == "0"

    # The first signer, named.
    _sign(page, name="Sara Example", email="firstlast@gmail.com", show_name=True, role="وکیل",
          affiliation="Bar association", country="Iran")
    assert "ایمیل خود را ببینید" in page.locator("h1").inner_text()
    _wait_for_mail(mailbox, 1)
    [link] = mailbox.links("confirm")
    assert link.startswith(f"{live_server}/appeals/{SLUG}/confirm/")
    assert _verified(page) == 0, "not counted before the link's button is pressed"
    assert _confirm(page, link) == "verified"
    assert page.locator("#named").is_visible()
    assert _verified(page, 1) == 1
    assert page.locator("#verified").inner_text() == "۱"
    assert "Sara Example" in page.locator("#signatory-list").inner_text()

    # The second, counted only.
    _sign(page, name="Quiet Signer", email="quiet@example.org", show_name=False, affiliation="Quiet School")
    _wait_for_mail(mailbox, 2)
    assert _confirm(page, mailbox.links("confirm")[-1]) == "verified"
    assert page.locator("#counted-only").is_visible()
    assert _verified(page, 2) == 2
    assert "Quiet Signer" not in page.content() and "Quiet School" not in page.content()
    assert page.locator("tr.signatory").count() == 1

    # The first signer again, as their provider also reads their address: counted once, no new email.
    _sign(page, name="Sara Example", email="First.Last+x@gmail.com", show_name=True)
    time.sleep(2.5)  # several turns of the background sender, and longer than the page keeps its counts
    assert len(mailbox.messages) == 2
    assert _verified(page) == 2
    assert page.locator("tr.signatory").count() == 1
