"""Users (argon2id, TOTP, throttling, sessions) and the hash-chained audit log, on SQLite and PostgreSQL,
and their commands."""

from __future__ import annotations

import json

import pyotp
import pytest
import sqlalchemy as sa

from dadkhah.audit import AuditedStore, list_audit, record_audit, verify_audit, workspace_ident
from dadkhah.errors import InputError
from dadkhah.model import AuditEvent, User
from dadkhah.users import (
    LoginRefused,
    LoginThrottled,
    add_user,
    allowed,
    authenticate,
    end_session,
    session_user,
    start_session,
    update_user,
)
from tests.cli.test_cli import run
from tests.conftest import write

PASSWORD = "a long enough passphrase"


def test_roles_deny_by_default_and_hold_what_the_roles_below_hold():
    assert allowed("viewer", "registry") and not allowed("viewer", "review")
    assert allowed("analyst", "review") and allowed("analyst", "estimates") and not allowed("analyst", "vault")
    assert allowed("investigator", "vault") and not allowed("investigator", "audit")
    assert all(allowed("admin", p) for p in ("registry", "review", "vault", "users", "audit", "export", "keys"))
    assert not allowed("admin", "no such permission") and not allowed("root", "registry") and not allowed(None, "registry")


def test_passwords_are_argon2id_hashes_and_logins_open_sessions(store):
    with store.session() as session:
        add_user(session, "maryam", role="analyst", password=PASSWORD)
    with store.session() as session:
        stored = session.scalar(sa.select(User.password_hash).where(User.username == "maryam"))
        assert stored.startswith("$argon2id$") and PASSWORD not in stored
        user = authenticate(session, "maryam", PASSWORD, address="127.0.0.1")
        started = start_session(session, user)
    with store.session() as session:
        found, web_session = session_user(session, started.token)
        assert found.username == "maryam" and web_session.csrf_token == started.csrf_token
        assert session_user(session, started.token + "x") is None
        end_session(session, started.token)
    with store.session() as session:
        assert session_user(session, started.token) is None


def test_failed_logins_throttle_and_deactivation_ends_sessions(store):
    with store.session() as session:
        add_user(session, "reza", role="viewer", password=PASSWORD)
    for _ in range(5):
        with store.session() as session, pytest.raises(LoginRefused):
            authenticate(session, "reza", "wrong wrong wrong", address="10.0.0.9")
    with store.session() as session, pytest.raises(LoginThrottled):
        authenticate(session, "reza", PASSWORD, address="10.0.0.9")
    with store.session() as session, pytest.raises(LoginRefused):
        authenticate(session, "nobody", PASSWORD)
    with store.session() as session:
        add_user(session, "sara", role="viewer", password=PASSWORD)
    with store.session() as session:
        token = start_session(session, authenticate(session, "sara", PASSWORD)).token
        update_user(session, "sara", active=False)
    with store.session() as session:
        assert session_user(session, token) is None
        with pytest.raises(LoginRefused):
            authenticate(session, "sara", PASSWORD)


def test_totp_second_factor(store):
    with store.session() as session:
        secret = add_user(session, "nasrin", role="admin", password=PASSWORD, totp=True)["totp_secret"]
    with store.session() as session, pytest.raises(LoginRefused):
        authenticate(session, "nasrin", PASSWORD, totp_code="000000" if pyotp.TOTP(secret).now() != "000000" else "111111")
    with store.session() as session:
        assert authenticate(session, "nasrin", PASSWORD, totp_code=pyotp.TOTP(secret).now()).username == "nasrin"


def test_bad_users_are_refused_by_field(store):
    with store.session() as session:
        with pytest.raises(InputError, match="12 characters") as short:
            add_user(session, "ali", role="viewer", password="short")
        assert short.value.field == "password"
        with pytest.raises(InputError) as role:
            add_user(session, "ali", role="superuser", password=PASSWORD)
        assert role.value.field == "role"
        with pytest.raises(InputError):
            add_user(session, "../ali", role="viewer", password=PASSWORD)


def test_the_audit_chain_detects_edits_and_removals(store):
    ident = workspace_ident(store.workspace)
    with store.session() as session:
        for n in range(4):
            record_audit(session, ident, action="testimony read", object_kind="testimony", object_id=f"T-000{n}",
                         actor="investigator", address="127.0.0.1")
    with store.session() as session:
        assert verify_audit(session, ident) == {"events": 4, "intact": True, "problems": []}
        assert [e["object_id"] for e in list_audit(session, actor="investigator")] == ["T-0003", "T-0002", "T-0001", "T-0000"]
        session.execute(sa.update(AuditEvent).where(AuditEvent.seq == 2).values(actor="someone else"))
    with store.session() as session:
        report = verify_audit(session, ident)
        assert not report["intact"] and report["problems"][0]["seq"] == 2
        session.execute(sa.update(AuditEvent).where(AuditEvent.seq == 2).values(actor="investigator"))
        session.execute(sa.delete(AuditEvent).where(AuditEvent.seq == 3))
    with store.session() as session:
        report = verify_audit(session, ident)
        assert [p["seq"] for p in report["problems"]] == [4] and "removed" in report["problems"][0]["problem"]


def test_an_audited_action_that_fails_leaves_no_event(store):
    audited = AuditedStore(store, action="user added", object_kind="user", object_id="x")
    with pytest.raises(InputError), audited.session() as session:
        add_user(session, "xy", role="viewer", password="short")
    with store.session() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(AuditEvent)) == 0
    with audited.session() as session:
        add_user(session, "xy", role="viewer", password=PASSWORD)
    with store.session() as session:
        assert [e["action"] for e in list_audit(session)] == ["user added"]


def test_users_and_audit_commands(tmp_path):
    workspace = tmp_path / "ws"
    assert run("init", str(workspace), "--json").exit_code == 0
    password = write(tmp_path / "pw.txt", PASSWORD + "\n")
    added = run("users", "add", "maryam", "--role", "analyst", "--password-file", str(password), "--totp", "--json",
                workspace=workspace)
    assert added.exit_code == 0, added.output
    document = json.loads(added.stdout)
    assert document["role"] == "analyst" and document["totp_uri"].startswith("otpauth://totp/Dadkhah:maryam")
    short = run("users", "add", "ali", "--role", "viewer", "--password-file", str(write(tmp_path / "s.txt", "short")),
                "--json", workspace=workspace)
    assert short.exit_code == 1
    error = json.loads(short.stdout)["error"]
    assert error["file"].endswith("s.txt") and error["field"] == "password"
    listed = json.loads(run("users", "list", "--json", workspace=workspace).stdout)
    assert [u["username"] for u in listed] == ["maryam"] and listed[0]["totp"] is True
    events = json.loads(run("audit", "list", "--json", workspace=workspace).stdout)
    assert [(e["action"], e["object_id"]) for e in events] == [("user added", "maryam")]
    verified = run("audit", "verify", "--json", workspace=workspace)
    assert verified.exit_code == 0 and json.loads(verified.stdout)["intact"] is True
