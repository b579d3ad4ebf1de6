"""Administration in the browser: users (add, change role, deactivate, reactivate) and the audit log,
through the real app and SQLite. Every change leaves its audit event; nobody demotes themselves."""

from __future__ import annotations

import json

import pyotp
import pytest
import sqlalchemy as sa
from bs4 import BeautifulSoup
from fastapi.testclient import TestClient

from dadkhah.audit import list_audit, verify_audit
from dadkhah.model import AuditEvent
from tests.web.conftest import CSRF_INPUT, PASSWORD, login

NEW_PASSWORD = "another synthetic passphrase"


def _page(answer) -> BeautifulSoup:
    return BeautifulSoup(answer.text, "html.parser")


def _events(app, action: str | None = None, **filters) -> list[dict]:
    """The events of what was done through the web (the served case was built at the command line)."""
    with app.state.store.session() as session:
        events = list_audit(session, limit=None, newest_first=False, **filters)
    return [e for e in events if (action is None or e["action"] == action) and e["channel"] == "web"]


def _user_changes(app) -> list[dict]:
    return [e for e in _events(app) if e["object_kind"] == "user" and e["action"].startswith("user ")]


def _rows(page: BeautifulSoup) -> dict[str, BeautifulSoup]:
    return {row["data-username"]: row for row in page.select("#users tbody tr")}


def _can_log_in(app, username: str, password: str = PASSWORD, **extra) -> bool:
    client = TestClient(app, base_url="http://127.0.0.1", follow_redirects=False)
    token = CSRF_INPUT.search(client.get("/login").text).group(1)
    answer = client.post("/login", data={"username": username, "password": password, "csrf_token": token, **extra})
    return answer.status_code == 303


def test_the_users_page_and_its_json_twin_agree(as_role):
    client = as_role("admin")
    data = client.get("/api/v1/users").json()
    assert [u["username"] for u in data["users"]] == ["admin", "analyst", "investigator", "viewer"]
    assert data["roles"] == ["viewer", "analyst", "investigator", "admin"]
    rows = _rows(_page(client.get("/users")))
    assert {name: row.select_one(".role")["data-role"] for name, row in rows.items()} == {
        u["username"]: u["role"] for u in data["users"]}
    assert all(row.select_one(".active")["data-active"] == "true" for row in rows.values())
    assert "password" not in json.dumps(data["users"]), "no hash or secret leaves the server"
    assert rows["admin"].find("form") is None, "no controls to change oneself"


@pytest.mark.parametrize("role", ["viewer", "analyst", "investigator"])
def test_only_admins_manage_users_and_read_the_audit_log(as_role, role):
    client = as_role(role)
    for path in ("/users", "/api/v1/users", "/audit", "/api/v1/audit"):
        assert client.get(path).status_code == 403, path
    assert client.post("/users", data={"csrf_token": client.csrf, "username": "intruder", "role": "admin",
                                       "password": NEW_PASSWORD, "password_again": NEW_PASSWORD}).status_code == 403
    assert client.post("/users/admin", data={"csrf_token": client.csrf, "active": "false"}).status_code == 403
    assert client.post("/api/v1/users/viewer", json={"role": "admin"}, headers={"X-CSRF-Token": client.csrf}).status_code == 403


def test_an_admin_adds_a_user_through_the_form(app, as_role):
    client = as_role("admin")
    form = _page(client.get("/users")).find("form", attrs={"action": "/users"})
    names = {i.get("name") for i in form.find_all(["input", "select"])}
    assert {"username", "role", "password", "password_again", "totp", "language", "csrf_token"} <= names
    answer = client.post("/users", data={"csrf_token": client.csrf, "username": "reviewer.two", "role": "analyst",
                                         "password": NEW_PASSWORD, "password_again": NEW_PASSWORD, "language": "fa"})
    assert answer.status_code == 303 and answer.headers["location"] == "/users?added=reviewer.two"
    page = _page(client.get(answer.headers["location"]))
    assert "reviewer.two" in page.select_one("#added").text
    assert _rows(page)["reviewer.two"].select_one(".role")["data-role"] == "analyst"
    [event] = _events(app, "user added")
    assert event["object_id"] == "reviewer.two" and event["actor"] == "admin"
    assert event["details"] == {"role": "analyst", "totp": False, "language": "fa"}
    assert NEW_PASSWORD not in json.dumps(_events(app))
    assert _can_log_in(app, "reviewer.two", NEW_PASSWORD)


def test_a_new_user_with_totp_sees_the_secret_once(app, as_role):
    client = as_role("admin")
    answer = client.post("/users", data={"csrf_token": client.csrf, "username": "field-investigator",
                                         "role": "investigator", "password": NEW_PASSWORD,
                                         "password_again": NEW_PASSWORD, "totp": "true"})
    assert answer.status_code == 201 and "no-store" in answer.headers["cache-control"]
    page = _page(answer)
    secret = page.select_one("#totp-secret").text
    assert page.select_one("#totp-uri").text.startswith("otpauth://totp/") and secret in page.select_one("#totp-uri").text
    assert secret not in client.get("/users").text and secret not in client.get("/api/v1/users").text
    assert secret not in json.dumps(_events(app))
    assert not _can_log_in(app, "field-investigator", NEW_PASSWORD), "the second factor is required"
    assert _can_log_in(app, "field-investigator", NEW_PASSWORD, totp=pyotp.TOTP(secret).now())
    assert _events(app, "user added")[0]["details"]["totp"] is True


def test_bad_new_users_are_explained_and_nothing_is_added(app, as_role):
    client = as_role("admin")
    good = {"csrf_token": client.csrf, "username": "synthetic-user", "role": "viewer", "password": NEW_PASSWORD,
            "password_again": NEW_PASSWORD}
    for change, said in (({"password_again": NEW_PASSWORD + "!"}, "differ"), ({"password": "short", "password_again": "short"}, "12"),
                         ({"username": "analyst"}, "already exists"), ({"username": "bad name!"}, "user name"),
                         ({"role": "owner"}, "role")):
        answer = client.post("/users", data=good | change)
        assert answer.status_code == 400, change
        page = _page(answer)
        assert said in page.select_one("#error").text, (change, page.select_one("#error").text)
        assert page.find("input", attrs={"name": "password"}).get("value") is None, "a password is never sent back"
    assert len(client.get("/api/v1/users").json()["users"]) == 4
    assert not _user_changes(app)


def test_changing_a_role_takes_effect_at_once_and_is_audited(app, as_role):
    admin, analyst = as_role("admin"), as_role("analyst")
    assert analyst.get("/testimonies").status_code == 403
    form = _rows(_page(admin.get("/users")))["analyst"].find("form", attrs={"action": "/users/analyst"})
    assert form.find("select", attrs={"name": "role"}) is not None
    answer = admin.post("/users/analyst", data={"csrf_token": admin.csrf, "role": "investigator"})
    assert answer.status_code == 303 and answer.headers["location"] == "/users?changed=analyst"
    assert _rows(_page(admin.get("/users")))["analyst"].select_one(".role")["data-role"] == "investigator"
    assert analyst.get("/testimonies").status_code == 200
    [event] = _events(app, "user role changed")
    assert event["object_id"] == "analyst" and event["details"] == {"from": "analyst", "to": "investigator"}
    admin.post("/users/analyst", data={"csrf_token": admin.csrf, "role": "investigator"})
    assert len(_events(app, "user role changed")) == 1, "no change, no event"
    assert admin.post("/users/analyst", data={"csrf_token": admin.csrf, "role": "owner"}).status_code == 400
    assert admin.post("/users/nobody", data={"csrf_token": admin.csrf, "role": "viewer"}).status_code == 404
    assert admin.post("/users/analyst", data={"role": "viewer"}).status_code == 403, "CSRF"


def test_deactivating_ends_the_users_sessions_and_reactivating_lets_them_back(app, as_role):
    admin, viewer = as_role("admin"), as_role("viewer")
    assert viewer.get("/api/v1/me").status_code == 200
    answer = admin.post("/users/viewer", data={"csrf_token": admin.csrf, "active": "false"})
    assert answer.status_code == 303
    assert viewer.get("/api/v1/me").status_code == 401
    assert not _can_log_in(app, "viewer")
    row = _rows(_page(admin.get("/users")))["viewer"]
    assert row.select_one(".active")["data-active"] == "false" and "inactive" in row["class"]
    assert admin.post("/api/v1/users/viewer", json={"active": True}, headers={"X-CSRF-Token": admin.csrf}).json()["active"] is True
    assert _can_log_in(app, "viewer")
    assert [(e["action"], e["object_id"]) for e in _user_changes(app)] == [("user deactivated", "viewer"),
                                                                           ("user reactivated", "viewer")]


def test_an_admin_cannot_demote_or_deactivate_themselves(app, as_role):
    admin = as_role("admin")
    for fields, said in (({"role": "viewer"}, "your own role"), ({"active": "false"}, "deactivate yourself")):
        answer = admin.post("/users/admin", data={"csrf_token": admin.csrf} | fields)
        assert answer.status_code == 400 and said in _page(answer).select_one("#error").text
    api = admin.post("/api/v1/users/admin", json={"role": "analyst"}, headers={"X-CSRF-Token": admin.csrf})
    assert api.status_code == 400 and api.json()["error"]["field"] == "role"
    assert {u["username"]: (u["role"], u["active"]) for u in admin.get("/api/v1/users").json()["users"]}["admin"] == ("admin", True)
    assert not _user_changes(app)
    other = admin.post("/api/v1/users", json={"username": "second-admin", "role": "admin", "password": NEW_PASSWORD},
                       headers={"X-CSRF-Token": admin.csrf})
    assert other.status_code == 201 and "totp_secret" not in other.json()
    second = login(app, "second-admin", NEW_PASSWORD)
    assert second.post("/api/v1/users/admin", json={"role": "analyst"},
                       headers={"X-CSRF-Token": second.csrf}).json()["changes"] == {"role": ["admin", "analyst"]}


def test_the_audit_page_agrees_with_its_json_twin_and_the_chain_is_intact(app, as_role):
    admin = as_role("admin")
    admin.post("/users/viewer", data={"csrf_token": admin.csrf, "role": "analyst"})
    as_role("investigator").get("/testimonies/T-0001")
    data = admin.get("/api/v1/audit").json()
    page = _page(admin.get("/audit"))
    assert [int(r["data-seq"]) for r in page.select("#audit tbody tr")] == [e["seq"] for e in data["events"]]
    assert [r.select_one(".action")["data-action"] for r in page.select("#audit tbody tr")] == [e["action"] for e in data["events"]]
    assert data["events"][0]["action"] == "testimony read", "newest first"
    assert data["verification"] == verify_audit(app.state.store)
    assert data["verification"]["signatures_checked"] and data["verification"]["head_checked"]
    assert all(e["signed"] for e in data["events"] if e["channel"] == "web"), "the server holds the keys: it signs"
    assert data["verification"]["intact"] is True
    banner = page.select_one("#chain-status")
    assert banner["data-intact"] == "true" and "NOT" not in banner.text
    mine = admin.get("/api/v1/audit", params={"actor": "investigator"}).json()["events"]
    assert {e["actor"] for e in mine} == {"investigator"} and {"login", "testimony read"} <= {e["action"] for e in mine}
    about = admin.get("/api/v1/audit", params={"object_id": "viewer"}).json()["events"]
    assert [(e["action"], e["channel"]) for e in about] == [("user role changed", "web"), ("user added", "cli")]
    filtered = _page(admin.get("/audit", params={"object_id": "viewer"}))
    assert [r.select_one(".action")["data-action"] for r in filtered.select("#audit tbody tr")] == [
        "user role changed", "user added"]
    one = admin.get("/api/v1/audit", params={"per_page": 1}).json()
    two = admin.get("/api/v1/audit", params={"per_page": 1, "page": 2}).json()
    assert one["has_next"] and [one["events"][0]["seq"], two["events"][0]["seq"]] == [e["seq"] for e in data["events"][:2]]
    assert admin.get("/api/v1/audit", params={"per_page": 201}).status_code == 422


def test_an_edited_audit_event_shows_the_chain_broken(app, as_role):
    admin = as_role("admin")
    with app.state.store.session() as session:
        first = session.scalar(sa.select(AuditEvent).order_by(AuditEvent.seq).limit(1))
        first.actor = "someone-else"
    data = admin.get("/api/v1/audit").json()
    assert data["verification"]["intact"] is False and data["verification"]["problems"][0]["seq"] == 1
    banner = _page(admin.get("/audit")).select_one("#chain-status")
    assert banner["data-intact"] == "false" and "NOT intact" in banner.text and "edited" in banner.text


def test_the_admin_pages_speak_persian(as_role):
    client = as_role("admin")
    users = _page(client.get("/users", params={"lang": "fa"}))
    assert users.html["dir"] == "rtl" and "افزودن کاربر" in users.text and "پژوهشگر" in users.text
    refused = _page(client.post("/users/admin", data={"csrf_token": client.csrf, "role": "viewer"}))
    assert "نمی‌توانید نقش خودتان را تغییر دهید" in refused.select_one("#error").text
    audit = _page(client.get("/audit"))
    assert "گزارش ممیزی دست‌نخورده است" in audit.select_one("#chain-status").text
