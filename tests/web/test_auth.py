"""Logging in: forms, CSRF, throttling, TOTP, cookies, redirects and 401s."""

from __future__ import annotations

import pyotp
from bs4 import BeautifulSoup
from fastapi.testclient import TestClient

from dadkhah.users import add_user
from tests.conftest import TESTER
from tests.web.conftest import CSRF_INPUT, PASSWORD, login


def _anonymous(app) -> TestClient:
    return TestClient(app, base_url="http://127.0.0.1", follow_redirects=False)


def test_login_form_posts_username_password_and_csrf_token_to_login(app):
    page = _anonymous(app).get("/login")
    form = BeautifulSoup(page.text, "html.parser").find("form", attrs={"action": "/login"})
    assert form["method"] == "post"
    names = {i.get("name") for i in form.find_all("input")}
    assert {"username", "password", "csrf_token"} <= names


def test_a_login_sets_an_httponly_samesite_strict_session_cookie(app):
    client = _anonymous(app)
    token = CSRF_INPUT.search(client.get("/login").text).group(1)
    answer = client.post("/login", data={"username": "viewer", "password": PASSWORD, "csrf_token": token})
    assert answer.status_code == 303 and answer.headers["location"] == "/"
    cookie = [h for h in answer.headers.get_list("set-cookie") if h.startswith("dadkhah_session=")][0]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie.replace("Strict", "strict")
    assert client.get("/").status_code == 200


def test_a_login_without_the_csrf_token_is_refused(app):
    client = _anonymous(app)
    client.get("/login")
    answer = client.post("/login", data={"username": "viewer", "password": PASSWORD, "csrf_token": "forged"})
    assert answer.status_code == 403
    assert "dadkhah_session" not in answer.headers.get("set-cookie", "")


def test_wrong_passwords_are_refused_and_then_throttled(app):
    client = _anonymous(app)
    for attempt in range(6):
        token = CSRF_INPUT.search(client.get("/login").text).group(1)
        answer = client.post("/login", data={"username": "analyst", "password": "wrong password here", "csrf_token": token})
        assert answer.status_code == (401 if attempt < 5 else 429)
    token = CSRF_INPUT.search(client.get("/login").text).group(1)
    answer = client.post("/login", data={"username": "analyst", "password": PASSWORD, "csrf_token": token})
    assert answer.status_code == 429, "the right password must wait out the throttle too"


def test_totp_is_required_when_the_user_has_it(app):
    secret = add_user(app.state.store, "second", actor=TESTER, role="viewer", password=PASSWORD, totp=True)["totp_secret"]
    client = _anonymous(app)
    token = CSRF_INPUT.search(client.get("/login").text).group(1)
    answer = client.post("/login", data={"username": "second", "password": PASSWORD, "csrf_token": token})
    assert answer.status_code == 401
    code = pyotp.TOTP(secret).now()
    login(app, "second", totp=code)
    # The same code again (seen over a shoulder, or in a proxy's log) logs in no more.
    token = CSRF_INPUT.search(client.get("/login").text).group(1)
    again = client.post("/login", data={"username": "second", "password": PASSWORD, "csrf_token": token,
                                        "totp": code})
    assert again.status_code == 401 and "dadkhah_session" not in again.headers.get("set-cookie", "")


def test_anonymous_pages_redirect_to_login_and_the_api_answers_401(app):
    client = _anonymous(app)
    assert client.get("/").status_code == 303 and client.get("/").headers["location"] == "/login"
    assert client.get("/api/v1/dashboard").status_code == 401


def test_a_post_without_the_session_csrf_token_is_refused(app):
    client = login(app, "admin")
    assert client.post("/logout", data={}).status_code == 403
    assert client.post("/logout", data={"csrf_token": "x" * 43}).status_code == 403
    assert client.get("/api/v1/me").status_code == 200, "the refused logout did not end the session"
    assert client.post("/logout", data={"csrf_token": client.csrf}).status_code == 303
    assert client.get("/api/v1/me").status_code == 401


def test_every_answer_carries_the_content_security_policy(app):
    client = login(app, "viewer")
    for path in ("/", "/login", "/static/app.css", "/api/v1/dashboard"):
        policy = client.get(path).headers["content-security-policy"]
        assert "default-src 'none'" in policy and "script-src 'self'" in policy


def test_dashboard_page_and_its_json_twin_agree(app):
    client = login(app, "viewer")
    data = client.get("/api/v1/dashboard").json()
    page = BeautifulSoup(client.get("/").text, "html.parser")
    assert page.find(id="total-records").text.replace(",", "") == str(data["records"])
    assert data["latest_estimate"]["method"] == "chao"
    # no list of this case was imported with an incident: a sentence says so, not an empty table
    assert data["incidents"] == [] and page.find(id="no-incident") is not None
    headers = [th.text for th in page.find_all("th")]
    assert "Incident" not in headers and "City" in headers


def test_persian_pages_are_right_to_left(app):
    client = login(app, "viewer")
    page = BeautifulSoup(client.get("/?lang=fa").text, "html.parser")
    assert page.html["dir"] == "rtl" and page.html["lang"] == "fa"
    assert any(c["place_id"] is None for c in client.get("/api/v1/dashboard").json()["cities"])
    assert "(نامعلوم یا خالی)" in page.text and "unresolved" not in page.text
    again = BeautifulSoup(client.get("/").text, "html.parser")
    assert again.html["dir"] == "rtl", "the choice is kept in a cookie"


def test_behind_https_cookies_are_secure_and_browsers_are_told_to_stay_on_https(web_store_path):
    from dadkhah.vault.keys import load_keys
    from dadkhah.web import WebSettings, create_app
    from dadkhah.workspace import load_workspace

    app = create_app(WebSettings(workspace=web_store_path, keys=load_keys(load_workspace(web_store_path)),
                                 secure_cookies=True))
    try:
        client = TestClient(app, base_url="https://127.0.0.1", follow_redirects=False)
        page = client.get("/login")
        assert page.headers["strict-transport-security"] == "max-age=31536000"
        token = CSRF_INPUT.search(page.text).group(1)
        assert "Secure" in page.headers["set-cookie"]
        answer = client.post("/login", data={"username": "viewer", "password": PASSWORD, "csrf_token": token})
        assert answer.status_code == 303 and "Secure" in answer.headers["set-cookie"]
    finally:
        app.state.store.close()
