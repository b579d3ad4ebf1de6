"""An admin's password reset: a temporary password shown once, the user's sessions ended and API
tokens revoked, the second factor kept (or replaced on request), and a next login that leads only to
choosing a new password. The core on SQLite and PostgreSQL, the web pages through the real app, and
the whole round in Chromium."""

from __future__ import annotations

import json

import pyotp
import pytest
import sqlalchemy as sa
from bs4 import BeautifulSoup
from fastapi.testclient import TestClient

from dadkhah.audit import Actor, list_audit, verify_audit
from dadkhah.errors import InputError, NotFound
from dadkhah.model import WebSession
from dadkhah.users import (
    LoginRefused,
    TokenRefused,
    add_user,
    authenticate_token,
    change_password,
    create_token,
    log_in,
    password_change_pending,
    reset_password,
    session_user,
    validate_password,
)
from tests.conftest import TESTER
from tests.web.conftest import CSRF_INPUT, PASSWORD, login

ADMIN = Actor("admin-at-the-terminal", "cli")
NEW_PASSWORD = "a passphrase of her own choosing"


def _events(store, action: str) -> list[dict]:
    with store.session() as session:
        return [e for e in list_audit(session, limit=None, newest_first=False) if e["action"] == action]


def _sessions(store, username: str) -> int:
    from dadkhah.model import User

    with store.session() as session:
        return session.scalar(sa.select(sa.func.count()).select_from(WebSession).join(User, User.id == WebSession.user_id)
                              .where(User.username == username))


def test_a_reset_gives_a_temporary_password_that_only_leads_to_choosing_a_new_one(store):
    add_user(store, "maryam", actor=TESTER, role="analyst", password=PASSWORD)
    _, old_session = log_in(store, "maryam", PASSWORD, address="10.0.0.1")
    token = create_token(store, "maryam", actor=TESTER, scope="read")
    reset = reset_password(store, "maryam", actor=ADMIN)

    temporary = reset["temporary_password"]
    assert validate_password(temporary) == temporary and len(temporary) == 23
    assert reset["reset_pending"] is True and reset["sessions_ended"] == 1
    assert reset["tokens_revoked"] == [token["id"]] and reset["totp_second_factor"] == "none"
    assert reset_password(store, "maryam", actor=ADMIN)["temporary_password"] != temporary, "random each time"
    temporary = reset_password(store, "maryam", actor=ADMIN)["temporary_password"]
    with store.session() as session:
        assert session_user(session, old_session.token) is None, "the sessions before the reset are gone"
    with pytest.raises(TokenRefused, match="revoked"):
        authenticate_token(store, token["token"])
    with pytest.raises(LoginRefused):
        log_in(store, "maryam", PASSWORD)

    user, pending = log_in(store, "maryam", temporary, address="10.0.0.2")
    assert user["reset_pending"] is True
    with store.session() as session:
        assert session_user(session, pending.token) is None, "the short session opens no page and no API call"
        assert password_change_pending(session, pending.token)[0].username == "maryam"
    for weak, field in (("short", "password"), (temporary, "password")):
        with pytest.raises(InputError) as refused:
            change_password(store, pending.token, password=weak, address="10.0.0.2")
        assert refused.value.field == field
    with pytest.raises(LoginRefused):
        change_password(store, "not the session", password=NEW_PASSWORD)

    user, started = change_password(store, pending.token, password=NEW_PASSWORD, address="10.0.0.2")
    assert user["reset_pending"] is False
    with store.session() as session:
        assert session_user(session, started.token)[0].username == "maryam", "an ordinary session now"
        assert session_user(session, pending.token) is None and password_change_pending(session, pending.token) is None
    with pytest.raises(LoginRefused):
        change_password(store, started.token, password="yet another passphrase", address="10.0.0.2")
    with pytest.raises(LoginRefused):
        log_in(store, "maryam", temporary)
    assert log_in(store, "maryam", NEW_PASSWORD)[0]["reset_pending"] is False
    assert _sessions(store, "maryam") == 2

    [first, *_] = _events(store, "password reset")
    assert (first["actor"], first["channel"], first["object_kind"], first["object_id"]) == (
        "admin-at-the-terminal", "cli", "user", "maryam")
    assert first["details"] == {"totp": "none", "sessions_ended": 1, "tokens_revoked": [token["id"]]}
    [revoked] = _events(store, "token revoked")
    assert revoked["object_id"] == token["id"] and revoked["details"] == {"user": "maryam", "reason": "password reset"}
    [changed] = _events(store, "password changed")
    assert (changed["actor"], changed["channel"], changed["address"], changed["object_id"]) == (
        "maryam", "web", "10.0.0.2", "maryam")
    logins = [e for e in _events(store, "login") if e["address"] == "10.0.0.2"]
    assert [e["details"] for e in logins] == [{"reset_pending": True}]
    everything = json.dumps(_events(store, "password reset") + _events(store, "password changed"))
    assert temporary not in everything and NEW_PASSWORD not in everything, "no password in the audit log"
    assert verify_audit(store)["intact"]


def test_the_second_factor_is_kept_unless_a_new_one_is_asked_for(keyed_store):
    store = keyed_store
    secret = add_user(store, "reza", actor=TESTER, role="viewer", password=PASSWORD, totp=True)["totp_secret"]
    kept = reset_password(store, "reza", actor=ADMIN)
    assert kept["totp_second_factor"] == "kept" and "totp_secret" not in kept
    with pytest.raises(LoginRefused):  # the code is still required
        log_in(store, "reza", kept["temporary_password"])
    log_in(store, "reza", kept["temporary_password"], totp_code=pyotp.TOTP(secret).now())

    renewed = reset_password(store, "reza", actor=ADMIN, totp=True)
    assert renewed["totp_second_factor"] == "new" and renewed["totp_secret"] != secret
    assert renewed["totp_uri"].startswith("otpauth://totp/Dadkhah:reza?") and renewed["totp_secret"] in renewed["totp_uri"]
    with pytest.raises(LoginRefused):
        log_in(store, "reza", renewed["temporary_password"], totp_code=pyotp.TOTP(secret).now())
    user, _ = log_in(store, "reza", renewed["temporary_password"], totp_code=pyotp.TOTP(renewed["totp_secret"]).now())
    assert user["totp"] is True and user["reset_pending"] is True
    assert _events(store, "password reset")[-1]["details"]["totp"] == "new"
    assert renewed["totp_secret"] not in json.dumps(_events(store, "password reset"))


def test_resetting_no_one_is_refused(store):
    with pytest.raises(NotFound):
        reset_password(store, "nobody", actor=ADMIN)
    assert _events(store, "password reset") == []


# ----- the web ----------------------------------------------------------------------------------


def _page(answer) -> BeautifulSoup:
    return BeautifulSoup(answer.text, "html.parser")


def test_an_admin_resets_a_password_on_the_users_page_and_the_user_must_choose_a_new_one(app, as_role):
    viewer = as_role("viewer")
    admin = as_role("admin")
    assert viewer.get("/api/v1/me").status_code == 200
    rows = {row["data-username"]: row for row in _page(admin.get("/users")).select("#users tbody tr")}
    assert rows["admin"].select_one("form.reset-password") is None, "no reset of oneself from the page"
    form = rows["viewer"].select_one("form.reset-password")
    assert form["action"] == "/users/viewer/reset-password" and form["method"] == "post" and form["data-confirm"]
    assert form.select_one("input[name=csrf_token]")["value"] == admin.csrf

    assert admin.post("/users/viewer/reset-password", data={}).status_code == 403, "refused without the CSRF token"
    answer = admin.post("/users/viewer/reset-password", data={"csrf_token": admin.csrf})
    assert answer.status_code == 200, answer.text
    page = _page(answer)
    temporary = page.select_one("#temporary-password").text
    assert len(temporary) == 23 and page.select_one("#sessions-ended").text == "1"
    assert page.select_one("#totp-secret") is None and page.select_one("svg") is None, "no new second factor asked"
    assert viewer.get("/api/v1/me").status_code == 401, "the user's session ended"
    users = admin.get("/api/v1/users").json()["users"]
    assert next(u for u in users if u["username"] == "viewer")["reset_pending"] is True
    assert "must-change" in str(_page(admin.get("/users")).select_one("tr[data-username=viewer]"))

    client = TestClient(app, base_url="http://127.0.0.1", follow_redirects=False)
    csrf = CSRF_INPUT.search(client.get("/login").text).group(1)
    refused = client.post("/login", data={"username": "viewer", "password": PASSWORD, "csrf_token": csrf})
    assert refused.status_code == 401, "the old password no longer works"
    csrf = CSRF_INPUT.search(refused.text).group(1)  # the form comes back with a new token
    answer = client.post("/login", data={"username": "viewer", "password": temporary, "csrf_token": csrf})
    assert answer.status_code == 303 and answer.headers["location"] == "/password"
    for path in ("/", "/persons", "/users"):  # every page sends them to the login, which sends them back
        assert client.get(path).headers["location"] == "/login", path
    assert client.get("/login").headers["location"] == "/password"
    assert client.get("/api/v1/me").status_code == 401
    form = _page(client.get("/password"))
    token = form.select_one("#password-change input[name=csrf_token]")["value"]
    with app.state.store.session() as session:  # the page is in the user's own language (it was always English)
        session.execute(sa.text("UPDATE users SET language = 'fa' WHERE username = 'viewer'"))
        session.commit()
    assert _page(client.get("/password")).html["lang"] == "fa"
    assert _page(client.get("/password?lang=en")).html["lang"] == "en", "unless the page is asked for in another"
    assert client.post("/password", data={"password": NEW_PASSWORD, "password_again": NEW_PASSWORD}).status_code == 403
    refused = client.post("/password", data={"password": NEW_PASSWORD, "password_again": "something else entirely",
                                              "csrf_token": token})
    assert refused.status_code == 400 and _page(refused).select_one("#password-error")["data-field"] == "password_again"
    refused = client.post("/password", data={"password": temporary, "password_again": temporary, "csrf_token": token})
    assert refused.status_code == 400 and _page(refused).select_one("#password-error")["data-field"] == "password"
    done = client.post("/password", data={"password": NEW_PASSWORD, "password_again": NEW_PASSWORD, "csrf_token": token})
    assert done.status_code == 303 and done.headers["location"] == "/"
    assert client.get("/api/v1/me").json()["username"] == "viewer"
    assert client.get("/password").headers["location"] == "/login", "nothing left to change"
    assert login(app, "viewer", NEW_PASSWORD).get("/api/v1/me").json()["username"] == "viewer"

    with app.state.store.session() as session:
        events = [e for e in list_audit(session, limit=None, newest_first=False) if e["object_id"] == "viewer"]
    since_reset = events[max(i for i, e in enumerate(events) if e["action"] == "password reset"):]
    assert [(e["action"], e["actor"], e["channel"], e["details"]) for e in since_reset] == [
        ("password reset", "admin", "web", {"totp": "none", "sessions_ended": 1, "tokens_revoked": []}),
        ("login", "viewer", "web", {"reset_pending": True}),  # with the temporary password
        ("password changed", "viewer", "web", {}),
        ("login", "viewer", "web", {}),  # with the new one
    ]


def test_the_api_resets_with_a_new_second_factor_and_only_admins_may(app, as_role):
    admin = as_role("admin")
    for role in ("viewer", "analyst", "investigator"):
        client = as_role(role)
        assert client.post("/api/v1/users/viewer/reset-password", json={},
                           headers={"X-CSRF-Token": client.csrf}).status_code == 403
    answer = admin.post("/api/v1/users/analyst/reset-password", json={"totp": True}, headers={"X-CSRF-Token": admin.csrf})
    assert answer.status_code == 200
    reset = answer.json()
    assert reset["totp_second_factor"] == "new" and reset["totp_uri"].startswith("otpauth://")
    assert admin.post("/api/v1/users/nobody/reset-password", json={},
                      headers={"X-CSRF-Token": admin.csrf}).status_code == 404
    # Nobody resets themselves through the web: a stolen session or token could take the account over.
    own = admin.post("/api/v1/users/admin/reset-password", json={"totp": True}, headers={"X-CSRF-Token": admin.csrf})
    assert own.status_code == 400 and "your own password" in own.json()["error"]["message"], own.text
    page = admin.post("/users/admin/reset-password", data={"csrf_token": admin.csrf})
    assert page.status_code == 400 and "your own password" in page.text
    assert admin.get("/api/v1/me").status_code == 200, "the admin's own session goes on"
    with app.state.store.session() as session:
        resets = [e["object_id"] for e in list_audit(session, limit=10) if e["action"] == "password reset"]
    assert resets == ["analyst"], resets
    client = TestClient(app, base_url="http://127.0.0.1", follow_redirects=False)
    csrf = CSRF_INPUT.search(client.get("/login").text).group(1)
    answer = client.post("/login", data={"username": "analyst", "password": reset["temporary_password"],
                                         "totp": pyotp.TOTP(reset["totp_secret"]).now(), "csrf_token": csrf})
    assert answer.headers["location"] == "/password"
    token = _page(client.get("/password")).select_one("input[name=csrf_token]")["value"]
    left = client.post("/password/cancel", data={"csrf_token": token})
    assert left.headers["location"] == "/login" and client.get("/password").headers["location"] == "/login"


def test_in_chromium_an_admin_resets_and_the_user_must_choose_a_new_password(browser_page, live_server):
    admin = browser_page
    browser = admin.context.browser
    user_context = browser.new_context(base_url=live_server)
    user = user_context.new_page()
    user.set_default_timeout(15000)
    try:
        # The user is logged in somewhere before the reset.
        _browser_log_in(user, "analyst", PASSWORD)
        assert user.locator("h1").inner_text() == "Dashboard"

        _browser_log_in(admin, "admin", PASSWORD)
        admin.goto("/users")
        admin.on("dialog", lambda dialog: dialog.accept())  # the confirmation asked before resetting
        admin.locator("tr[data-username=analyst] form.reset-password button").click()
        admin.wait_for_selector("#temporary-password")
        temporary = admin.locator("#temporary-password").inner_text().strip()
        assert len(temporary) == 23

        user.goto("/persons")
        assert user.url.endswith("/login"), "the session from before the reset is gone"
        _browser_log_in(user, "analyst", PASSWORD, expect="**/login")
        assert user.locator("[role=alert]").is_visible(), "the old password no longer works"
        _browser_log_in(user, "analyst", temporary, expect="**/password")
        user.goto("/persons")
        assert user.url.endswith("/password"), "no page opens before a new password is chosen"
        user.fill("input[name=password]", NEW_PASSWORD)
        user.fill("input[name=password_again]", NEW_PASSWORD)
        user.click("#password-change button[type=submit]")
        user.wait_for_url("**/")
        assert user.locator("h1").inner_text() == "Dashboard"
        user.click("header form[action='/logout'] button")
        user.wait_for_url("**/login")
        _browser_log_in(user, "analyst", NEW_PASSWORD)
        assert user.locator("h1").inner_text() == "Dashboard"
    finally:
        user_context.close()


def _browser_log_in(page, username: str, password: str, *, expect: str = "**/") -> None:
    page.goto("/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_url(expect)
