"""API tokens in the web application: accepted only as ``Authorization: Bearer`` on /api/v1, with the
user's current role, no CSRF and no cookie; read tokens only read; refused when expired, revoked,
malformed, of a deactivated user, or sent beside a session cookie; never on pages; audited through
the channel ``api-token``; never stored or logged in clear. The pages a user manages their tokens
with, and the API documentation (Swagger UI, vendored) in Chromium."""

from __future__ import annotations

import contextlib
import logging
import re
import sqlite3
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from bs4 import BeautifulSoup
from fastapi.testclient import TestClient

from dadkhah.audit import list_audit
from dadkhah.model import ApiToken
from dadkhah.users import (
    MAX_FAILURES_PER_ADDRESS,
    TOKEN_PATTERN,
    change_user,
    create_token,
    revoke_token,
)
from dadkhah.workspace import DATABASE_NAME
from tests.conftest import TESTER
from tests.web.conftest import log_in
from tests.web.test_roles import api_routes, fill, sample_values


def _token(app, user: str, scope: str = "read", **extra) -> str:
    return create_token(app.state.store, user, actor=TESTER, scope=scope, **extra)["token"]


def _bearer(app, token: str) -> TestClient:
    """A client with no cookies that sends ``token`` with every request."""
    return TestClient(app, base_url="http://127.0.0.1", follow_redirects=False,
                      headers={"Authorization": f"Bearer {token}"})


def _events(app, after: int = 0) -> list[dict]:
    with app.state.store.session() as session:
        return [e for e in list_audit(session, limit=None, newest_first=False) if e["seq"] > after]


def _last_seq(app) -> int:
    events = _events(app)
    return events[-1]["seq"] if events else 0


def test_a_token_acts_as_its_user_on_the_api_with_no_cookie(app):
    token = _token(app, "analyst")
    answer = _bearer(app, token).get("/api/v1/me")
    assert answer.status_code == 200, answer.text
    me = answer.json()
    assert (me["username"], me["role"], me["csrf_token"]) == ("analyst", "analyst", None)
    assert me["token"] == {"id": TOKEN_PATTERN.fullmatch(token).group(1), "scope": "read"}
    assert "set-cookie" not in answer.headers, "a request with a token gets no session"
    assert _bearer(app, token).get("/api/v1/dashboard").status_code == 200


def test_a_write_token_needs_no_csrf_token_and_its_actions_are_audited_through_its_channel(app):
    """Through the job it submits too: the worker runs the estimate as the token's user, through its channel."""
    from dadkhah.jobs import run_worker

    token = _token(app, "analyst", scope="write")
    before = _last_seq(app)
    answer = _bearer(app, token).post("/api/v1/estimates/run", json={"method": "chao"})
    assert answer.status_code == 202, answer.text
    run_worker(app.state.store, once=True)
    assert _bearer(app, token).get(answer.headers["location"]).json()["status"] == "done"
    events = _events(app, before)
    assert [(e["action"], e["actor"], e["channel"], e["address"]) for e in events] == [
        ("job submitted", "analyst", "api-token", "testclient"), ("estimate run", "analyst", "api-token", "testclient")]
    assert all(e["details"]["token"] == TOKEN_PATTERN.fullmatch(token).group(1) and e["signed"] for e in events)


def test_a_read_token_cannot_write_even_when_its_user_could(app):
    token = _token(app, "admin", scope="read")
    before = _last_seq(app)
    for method, path, body in [("POST", "/api/v1/estimates/run", {"method": "chao"}),
                               ("POST", "/api/v1/persons/P-000001/withhold", {"reason": "asked by the family"}),
                               ("POST", "/api/v1/testimonies/T-0001/reveal-witness", None)]:
        answer = _bearer(app, token).request(method, path, json=body)
        assert answer.status_code == 403, (path, answer.text)
        assert answer.json()["error"] == {"message": "this token's scope is read: it may only GET and HEAD, not POST",
                                          "reason": "read-only token", "scope": "read"}
    assert _events(app, before) == [], "nothing was done"


def test_a_token_has_its_users_role_and_no_more(app, as_role):
    viewer = _bearer(app, _token(app, "viewer", scope="write"))
    answer = viewer.get("/api/v1/testimonies")
    assert answer.status_code == 403 and answer.json()["error"]["permission"] == "vault"
    assert viewer.post("/api/v1/estimates/run", json={"method": "chao"}).status_code == 403
    # On every GET of the API, a token answers as its user's session does.
    values, analyst, cookie = sample_values(app), _bearer(app, _token(app, "analyst")), as_role("analyst")
    checked = 0
    for method, path, _route in api_routes(app):
        if method != "GET" or not path.startswith("/api/v1/") or "{token}" in path:
            continue
        url = fill(path, values)
        assert analyst.get(url).status_code == cookie.get(url).status_code, url
        checked += 1
    assert checked > 20


def test_a_role_change_applies_at_once_and_a_deactivated_users_tokens_stop(app):
    client = _bearer(app, _token(app, "analyst"))
    assert client.get("/api/v1/testimonies").status_code == 403
    change_user(app.state.store, "analyst", actor=TESTER, role="investigator")
    assert client.get("/api/v1/testimonies").status_code == 200
    change_user(app.state.store, "analyst", actor=TESTER, active=False)
    answer = client.get("/api/v1/testimonies")
    assert answer.status_code == 401 and answer.json()["error"]["reason"] == "user deactivated"


def test_expired_revoked_and_malformed_tokens_are_refused_with_401(app):
    expiring = create_token(app.state.store, "viewer", actor=TESTER, scope="read",
                            expires=datetime.now(UTC) + timedelta(hours=1))
    with app.state.store.session() as session:
        session.execute(sa.update(ApiToken).where(ApiToken.token_id == expiring["id"])
                        .values(expires_at=datetime.now(UTC) - timedelta(minutes=1)))
    revoked = _token(app, "viewer")
    revoke_token(app.state.store, revoked, actor=TESTER)
    cases = {"expired": f"Bearer {expiring['token']}", "revoked": f"Bearer {revoked}",
             "invalid": f"Bearer {revoked[:-3]}abc"}
    malformed = ["Basic dmlld2VyOnBhc3N3b3Jk", "Bearer", "Bearer not-a-token", "dk_" + "0" * 12, "Bearer  " + "x" * 400]
    for header in [*cases.values(), *malformed]:
        answer = TestClient(app, base_url="http://127.0.0.1").get("/api/v1/me", headers={"Authorization": header})
        assert answer.status_code == 401, (header, answer.text)
        assert answer.headers["www-authenticate"].startswith("Bearer ")
        error = answer.json()["error"]
        expected = next((reason for reason, sent in cases.items() if sent == header), "invalid")
        assert error["reason"] == expected, header
        assert "set-cookie" not in answer.headers
    basic = TestClient(app).get("/api/v1/me", headers={"Authorization": malformed[0]})
    assert "Bearer" in basic.json()["error"]["message"], "the message says how to send a token"


def test_failed_tokens_are_throttled_like_failed_logins(app):
    client = TestClient(app, base_url="http://127.0.0.1", headers={"Authorization": "Bearer dk_" + "0" * 12 + "_" + "z" * 43})
    statuses = [client.get("/api/v1/me").status_code for _ in range(MAX_FAILURES_PER_ADDRESS + 1)]
    assert statuses == [401] * MAX_FAILURES_PER_ADDRESS + [429]
    answer = _bearer(app, _token(app, "viewer")).get("/api/v1/me")
    assert answer.status_code == 429 and int(answer.headers["retry-after"]) == 15 * 60, "even a valid token waits"
    assert answer.json()["error"]["reason"] == "throttled"


def test_a_token_never_opens_a_page(app, as_role):
    token = _token(app, "admin", scope="write")
    for path in ("/", "/persons", "/users", "/audit", "/tokens", "/api-docs"):
        answer = _bearer(app, token).get(path)
        assert answer.status_code == 303 and answer.headers["location"] == "/login", path
    assert _bearer(app, token).post("/users", data={"username": "x2", "role": "admin"}).status_code == 303
    # With a session too, a page is the session's: the header is ignored there.
    viewer = as_role("viewer")
    answer = viewer.get("/users", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 403


def test_a_session_cookie_and_a_token_together_are_refused(app, as_role):
    viewer, token = as_role("viewer"), _token(app, "admin")
    for method, path in [("GET", "/api/v1/me"), ("GET", "/api/v1/users"), ("POST", "/api/v1/estimates/run")]:
        answer = viewer.request(method, path, headers={"Authorization": f"Bearer {token}", "X-CSRF-Token": viewer.csrf})
        assert answer.status_code == 400, path
        assert answer.json()["error"] == {"message": "send either a session cookie or a bearer token, not both",
                                          "reason": "both credentials"}


def test_reading_sealed_material_through_a_token_is_audited_under_the_token(app):
    token = _token(app, "investigator")
    token_id = TOKEN_PATTERN.fullmatch(token).group(1)
    client = _bearer(app, token)
    before = _last_seq(app)
    assert "guard read names" in client.get("/api/v1/testimonies/T-0001").json()["transcript"]
    assert client.get("/api/v1/evidence/E-000001/file").content == b"page,line\n1,synthetic\n"
    events = _events(app, before)
    assert [(e["action"], e["object_id"], e["actor"], e["channel"], e["details"].get("token")) for e in events] == [
        ("testimony read", "T-0001", "investigator", "api-token", token_id),
        ("evidence file read", "E-000001", "investigator", "api-token", token_id)]
    with app.state.store.session() as session:
        row = session.scalar(sa.select(ApiToken).where(ApiToken.token_id == token_id))
    assert row.last_used_at is not None and row.last_used_address == "testclient"


def test_the_secret_is_never_stored_or_logged_in_clear(app, as_role, web_store_path, caplog):
    caplog.set_level(logging.DEBUG)
    admin = as_role("admin")
    made = admin.post("/api/v1/tokens", json={"scope": "write", "name": "dump check"},
                      headers={"X-CSRF-Token": admin.csrf})
    assert made.status_code == 201, made.text
    token = made.json()["token"]
    secret = TOKEN_PATTERN.fullmatch(token).group(2)
    assert _bearer(app, token).get("/api/v1/testimonies/T-0001").status_code == 200
    assert _bearer(app, token).get("/api/v1/tokens").status_code == 200
    listed = admin.get("/api/v1/tokens").text + admin.get("/tokens").text
    assert made.json()["id"] in listed and secret not in listed
    app.state.store.engine.dispose()
    database = web_store_path / DATABASE_NAME
    assert database.is_file()
    with contextlib.closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True)) as connection:
        dumped = "\n".join(connection.iterdump())
    assert made.json()["id"] in dumped and secret not in dumped and token not in dumped
    for path in web_store_path.rglob("*"):  # the database, its write-ahead log, and every other file
        if path.is_file():
            assert secret.encode() not in path.read_bytes(), path
    assert secret not in caplog.text


def test_tokens_are_managed_by_a_logged_in_person_never_by_a_token(app, as_role):
    token = _token(app, "admin", scope="write")
    client = _bearer(app, token)
    for path, body in [("/api/v1/tokens", {"scope": "write"}),
                       (f"/api/v1/tokens/{TOKEN_PATTERN.fullmatch(token).group(1)}/revoke", None)]:
        answer = client.post(path, json=body)
        assert answer.status_code == 403 and answer.json()["error"]["reason"] == "needs a session", path
    assert client.get("/api/v1/tokens").status_code == 200, "listing them is a read"


def test_users_are_managed_by_a_logged_in_person_never_by_a_token(app, as_role):
    """An admin's write token made a new admin account (which outlives the token) and reset another
    admin's password and second factor: a stolen token made itself a successor after all."""
    token = _token(app, "admin", scope="write")
    client = _bearer(app, token)
    for path, body in [("/api/v1/users", {"username": "minted", "role": "admin", "password": "Minted-by-a-token-123",
                                          "language": "en"}),
                       ("/api/v1/users/analyst", {"role": "admin"}),
                       ("/api/v1/users/analyst/reset-password", {"totp": True})]:
        answer = client.post(path, json=body)
        assert answer.status_code == 403 and answer.json()["error"]["reason"] == "needs a session", path
    assert "minted" not in client.get("/api/v1/users").text, "listing them is a read"


def test_each_user_manages_their_own_tokens_and_an_admin_everyones(app, as_role):
    viewer, admin = as_role("viewer"), as_role("admin")
    mine = viewer.post("/api/v1/tokens", json={"scope": "read", "expires": "2999-12-31"},
                       headers={"X-CSRF-Token": viewer.csrf})
    assert mine.status_code == 201 and mine.json()["user"] == "viewer"
    others = _token(app, "analyst")
    other_id = TOKEN_PATTERN.fullmatch(others).group(1)
    assert [t["id"] for t in viewer.get("/api/v1/tokens").json()["tokens"]] == [mine.json()["id"]]
    assert viewer.get("/api/v1/tokens", params={"user": "analyst"}).status_code == 403
    refused = viewer.post(f"/api/v1/tokens/{other_id}/revoke", headers={"X-CSRF-Token": viewer.csrf})
    assert refused.status_code == 404, "another's token is not found"
    assert {t["user"] for t in admin.get("/api/v1/tokens").json()["tokens"]} == {"viewer", "analyst"}
    assert [t["id"] for t in admin.get("/api/v1/tokens", params={"user": "analyst"}).json()["tokens"]] == [other_id]
    # the page answers as its JSON twin: one user's tokens for an admin, a refusal for anyone else
    page = BeautifulSoup(admin.get("/tokens", params={"user": "analyst"}).text, "html.parser")
    assert other_id in page.text and mine.json()["id"] not in page.text
    assert viewer.get("/tokens", params={"user": "analyst"}).status_code == 403
    revoked = admin.post(f"/api/v1/tokens/{other_id}/revoke", headers={"X-CSRF-Token": admin.csrf})
    assert revoked.status_code == 200 and revoked.json()["status"] == "revoked" and revoked.json()["revoked_by"] == "admin"
    assert _bearer(app, others).get("/api/v1/me").status_code == 401
    bad = viewer.post("/api/v1/tokens", json={"scope": "read", "expires": "2000-01-01"}, headers={"X-CSRF-Token": viewer.csrf})
    assert bad.status_code == 400 and bad.json()["error"]["field"] == "expires"


def test_making_and_revoking_a_token_through_the_pages(app, as_role):
    from bs4 import BeautifulSoup

    client = as_role("analyst")
    made = client.post("/tokens", data={"csrf_token": client.csrf, "scope": "write", "name": "my script",
                                        "expires": ""})
    assert made.status_code == 201
    page = BeautifulSoup(made.text, "html.parser")
    token = page.find(id="token").get_text()
    assert TOKEN_PATTERN.fullmatch(token) and made.headers["cache-control"] == "no-store"
    assert _bearer(app, token).get("/api/v1/me").json()["username"] == "analyst"
    listing = client.get("/tokens")
    token_id = TOKEN_PATTERN.fullmatch(token).group(1)
    assert token_id in listing.text and token not in listing.text and "my script" in listing.text
    bad = client.post("/tokens", data={"csrf_token": client.csrf, "scope": "write", "expires": "1999-01-01"})
    assert bad.status_code == 400 and 'data-field="expires"' in bad.text
    forged = client.post(f"/tokens/{token_id}/revoke", data={"csrf_token": "forged"})
    assert forged.status_code == 403
    revoked = client.post(f"/tokens/{token_id}/revoke", data={"csrf_token": client.csrf})
    assert revoked.status_code == 303 and revoked.headers["location"] == f"/tokens?revoked={token_id}"
    again = client.post(f"/tokens/{token_id}/revoke", data={"csrf_token": client.csrf})
    assert again.status_code == 400 and "already revoked" in again.text
    assert _bearer(app, token).get("/api/v1/me").status_code == 401
    persian = client.get("/tokens", params={"lang": "fa"})
    assert 'dir="rtl"' in persian.text and re.search("[\u0600-\u06ff]", BeautifulSoup(persian.text, "html.parser").h1.text)


def test_the_schema_says_how_to_authenticate_and_what_each_operation_needs(app, as_role):
    schema = _bearer(app, _token(app, "viewer")).get("/api/v1/openapi.json").json()
    assert schema["components"]["securitySchemes"]["apiToken"] == {
        "type": "http", "scheme": "bearer", "bearerFormat": "dk_<id>_<secret>",
        "description": schema["components"]["securitySchemes"]["apiToken"]["description"]}
    testimony = schema["paths"]["/api/v1/testimonies/{testimony_id}"]["get"]
    assert testimony["x-permission"] == "vault" and "investigator" in testimony["description"]
    assert testimony["security"] == [{"apiToken": []}, {"session": []}]
    assert schema["paths"]["/api/v1/appeals/{slug}/public"]["get"]["security"] == []
    assert schema["paths"]["/api/v1/tokens"]["post"]["security"] == [{"session": []}]
    assert "write token" in schema["paths"]["/api/v1/estimates/run"]["post"]["description"]
    assert TestClient(app).get("/api/v1/openapi.json").status_code == 401


def test_the_api_documentation_page_needs_a_login_and_loads_only_the_apps_files(app, as_role):
    from bs4 import BeautifulSoup

    assert TestClient(app, follow_redirects=False).get("/api-docs").status_code == 303
    page = as_role("viewer").get("/api-docs")
    assert page.status_code == 200
    soup = BeautifulSoup(page.text, "html.parser")
    assert [s["src"] for s in soup.find_all("script")] == ["/static/swagger-ui/swagger-ui-bundle.js",
                                                            "/static/api-docs.js"]
    assert soup.find(id="swagger-ui")["data-spec"] == "/api/v1/openapi.json"
    for asset in ("/static/swagger-ui/swagger-ui-bundle.js", "/static/swagger-ui/swagger-ui.css", "/static/api-docs.js"):
        assert TestClient(app).get(asset).status_code == 200, asset
    assert "unsafe-inline" not in page.headers["content-security-policy"]
    assert "unsafe-eval" not in page.headers["content-security-policy"]


@pytest.mark.usefixtures("web_store_path")
def test_the_api_documentation_renders_in_chromium_from_the_apps_own_files(browser_page, live_server):
    page = browser_page
    log_in(page, "investigator")
    page.goto("/api-docs")
    page.wait_for_selector(".opblock", timeout=30000)
    paths = page.locator(".opblock-summary-path").all_inner_texts()
    assert any("/api/v1/persons" in p for p in paths) and any("/api/v1/tokens" in p for p in paths)
    assert len(paths) > 40
    # Try it out, as the logged-in user: the request goes to this app, with the session.
    page.locator("#operations-me-me_api_v1_me_get .opblock-summary").click()
    page.get_by_role("button", name="Try it out").click()
    page.get_by_role("button", name="Execute").click()
    status = page.locator(".live-responses-table tbody .response-col_status").first
    status.wait_for()
    assert status.inner_text().strip() == "200"
    assert '"username": "investigator"' in page.locator(".live-responses-table .microlight").first.inner_text()
    assert any(url.endswith("/api/v1/me") for url in page.requests)
    # A POST carries the session's CSRF token, as the forms do (else it would be refused with 403).
    operation = page.locator("#operations-custody-custody_verify_api_api_v1_custody_verify_post")
    operation.locator(".opblock-summary").click()
    operation.get_by_role("button", name="Try it out").click()
    operation.get_by_role("button", name="Execute").click()
    status = operation.locator(".live-responses-table tbody .response-col_status").first
    status.wait_for()
    assert status.inner_text().strip() == "200", operation.locator(".live-responses-table").inner_text()
    # (browser_page asserts no request left the app and the console reported no error, CSP included)


def test_the_vendored_swagger_ui_is_described_in_the_data_sources():
    import hashlib
    from pathlib import Path

    import dadkhah.web

    sources = (Path(__file__).resolve().parents[2] / "docs" / "data-sources.md").read_text(encoding="utf-8")
    folder = Path(dadkhah.web.__file__).parent / "static" / "swagger-ui"
    files = sorted(folder.iterdir())
    assert {p.name for p in files} >= {"swagger-ui-bundle.js", "swagger-ui.css", "LICENSE", "NOTICE"}
    for path in files:
        assert f"`{path.name}` | `{hashlib.sha256(path.read_bytes()).hexdigest()}` |" in sources, path.name
