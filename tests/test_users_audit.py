"""Users (argon2id, TOTP, throttling, sessions) and the hash-chained audit log, on SQLite and PostgreSQL,
and their commands."""

from __future__ import annotations

import json
import subprocess
import sys

import pyotp
import pytest
import sqlalchemy as sa

from dadkhah.audit import Actor, list_audit, record_audit, verify_audit
from dadkhah.errors import InputError
from dadkhah.model import AuditEvent, User
from dadkhah.store import open_store
from dadkhah.users import (
    LoginRefused,
    LoginThrottled,
    add_user,
    allowed,
    change_user,
    end_session,
    log_in,
    log_out,
    login_delay,
    session_user,
    set_language,
)
from dadkhah.workspace import load_workspace
from tests.cli.test_cli import run
from tests.conftest import TESTER, write

PASSWORD = "a long enough passphrase"


def test_roles_deny_by_default_and_hold_what_the_roles_below_hold():
    assert allowed("viewer", "registry") and not allowed("viewer", "review")
    assert allowed("analyst", "review") and allowed("analyst", "estimates") and not allowed("analyst", "vault")
    assert allowed("investigator", "vault") and not allowed("investigator", "audit")
    assert all(allowed("admin", p) for p in ("registry", "review", "vault", "users", "audit", "export", "keys"))
    assert not allowed("admin", "no such permission") and not allowed("root", "registry") and not allowed(None, "registry")


def test_passwords_are_argon2id_hashes_and_logins_open_sessions(store):
    add_user(store, "maryam", actor=TESTER, role="analyst", password=PASSWORD)
    with store.session() as session:
        stored = session.scalar(sa.select(User.password_hash).where(User.username == "maryam"))
        assert stored.startswith("$argon2id$") and PASSWORD not in stored
    _, started = log_in(store, "maryam", PASSWORD, address="127.0.0.1")
    with store.session() as session:
        found, web_session = session_user(session, started.token)
        assert found.username == "maryam" and web_session.csrf_token == started.csrf_token
        assert session_user(session, started.token + "x") is None
        end_session(session, started.token)
    with store.session() as session:
        assert session_user(session, started.token) is None


def test_failed_logins_throttle_one_address_and_only_slow_the_name_elsewhere(store):
    add_user(store, "reza", actor=TESTER, role="viewer", password=PASSWORD)
    for _ in range(5):
        with pytest.raises(LoginRefused):
            log_in(store, "reza", "wrong wrong wrong", address="10.0.0.9")
    with pytest.raises(LoginThrottled):
        log_in(store, "reza", PASSWORD, address="10.0.0.9")
    assert login_delay(store, "reza") == 1.0, "five failures (the refused sixth is not one): a one-second wait"
    assert log_in(store, "reza", PASSWORD, address="10.0.0.10")[0]["username"] == "reza", "not locked out elsewhere"
    with pytest.raises(LoginRefused):
        log_in(store, "nobody", PASSWORD)
    add_user(store, "sara", actor=TESTER, role="viewer", password=PASSWORD)
    token = log_in(store, "sara", PASSWORD)[1].token
    change_user(store, "sara", actor=TESTER, active=False)
    with store.session() as session:
        assert session_user(session, token) is None
    with pytest.raises(LoginRefused):
        log_in(store, "sara", PASSWORD)


def test_one_address_may_fail_twenty_times_in_all(store):
    add_user(store, "nasrin", actor=TESTER, role="admin", password=PASSWORD)
    for n in range(20):
        with pytest.raises(LoginRefused):
            log_in(store, f"guess{n % 4}", "wrong wrong wrong", address="10.0.0.66")
    with pytest.raises(LoginThrottled):
        log_in(store, "nasrin", PASSWORD, address="10.0.0.66")
    assert log_in(store, "nasrin", PASSWORD, address="10.0.0.7")[0]["username"] == "nasrin"


def test_totp_second_factor(keyed_store):
    store = keyed_store
    secret = add_user(store, "nasrin", actor=TESTER, role="admin", password=PASSWORD, totp=True)["totp_secret"]
    with pytest.raises(LoginRefused):
        log_in(store, "nasrin", PASSWORD, totp_code="000000" if pyotp.TOTP(secret).now() != "000000" else "111111")
    assert log_in(store, "nasrin", PASSWORD, totp_code=pyotp.TOTP(secret).now())[0]["username"] == "nasrin"


def test_bad_users_are_refused_by_field_and_leave_no_event(store):
    with pytest.raises(InputError, match="12 characters") as short:
        add_user(store, "ali", actor=TESTER, role="viewer", password="short")
    assert short.value.field == "password"
    with pytest.raises(InputError) as role:
        add_user(store, "ali", actor=TESTER, role="superuser", password=PASSWORD)
    assert role.value.field == "role"
    with pytest.raises(InputError):
        add_user(store, "../ali", actor=TESTER, role="viewer", password=PASSWORD)
    add_user(store, "ali", actor=TESTER, role="viewer", password=PASSWORD)
    with pytest.raises(InputError, match="already exists"):
        add_user(store, "ali", actor=TESTER, role="viewer", password=PASSWORD)
    with store.session() as session:
        assert [e["action"] for e in list_audit(session)] == ["user added"]


def test_every_change_to_a_user_is_one_event_by_its_actor_and_channel(keyed_store):
    store = keyed_store
    admin = Actor("nasrin", "web", "10.0.0.7")
    add_user(store, "nasrin", actor=TESTER, role="admin", password=PASSWORD)
    add_user(store, "reza", actor=admin, role="viewer", password=PASSWORD, totp=True)
    changed = change_user(store, "reza", actor=admin, role="analyst", active=False)
    assert changed["changes"] == {"role": ["viewer", "analyst"], "active": [True, False]}
    assert change_user(store, "reza", actor=admin, role="analyst")["changes"] == {}
    with pytest.raises(InputError, match="your own role") as own:
        change_user(store, "nasrin", actor=admin, role="viewer")
    assert own.value.field == "role"
    with pytest.raises(InputError, match="deactivate yourself"):
        change_user(store, "nasrin", actor=admin, active=False)
    with pytest.raises(LoginRefused):
        log_in(store, "nasrin", "wrong wrong wrong", address="10.0.0.7")
    user, started = log_in(store, "nasrin", PASSWORD, address="10.0.0.7")
    assert user["username"] == "nasrin"
    set_language(store, actor=admin, language="fa")
    with pytest.raises(InputError) as language:
        set_language(store, actor=admin, language="xx")
    assert language.value.field == "language"
    log_out(store, started.token, actor=admin)
    with store.session() as session:
        events = list_audit(session, newest_first=False)
        assert session_user(session, started.token) is None
    assert [(e["action"], e["object_id"], e["actor"], e["channel"], e["address"]) for e in events] == [
        ("user added", "nasrin", "tester", "cli", None),
        ("user added", "reza", "nasrin", "web", "10.0.0.7"),
        ("user role changed", "reza", "nasrin", "web", "10.0.0.7"),
        ("user deactivated", "reza", "nasrin", "web", "10.0.0.7"),
        ("login", "nasrin", "nasrin", "web", "10.0.0.7"),
        ("language set", "nasrin", "nasrin", "web", "10.0.0.7"),
        ("logout", "nasrin", "nasrin", "web", "10.0.0.7"),
    ]
    assert events[1]["details"] == {"role": "viewer", "totp": True, "language": "en"}
    assert events[2]["details"] == {"from": "viewer", "to": "analyst"}
    assert not any(PASSWORD in json.dumps(e) for e in events)


def test_an_actor_names_a_known_channel():
    with pytest.raises(ValueError, match="channel"):
        Actor("someone", "email")
    with pytest.raises(ValueError, match="name"):
        Actor(" ", "cli")


def test_the_audit_chain_detects_edits_and_removals(store):
    investigator = Actor("investigator", "web", "127.0.0.1")
    with store.session() as session:
        for n in range(4):
            record_audit(session, store, investigator, action="testimony read", object_kind="testimony",
                         object_id=f"T-000{n}")
    report = verify_audit(store)
    assert (report["events"], report["intact"], report["problems"]) == (4, True, [])
    assert report["unsigned"] == [{"from": 1, "to": 4, "events": 4}]  # this store has no keys: said plainly
    assert not report["signatures_checked"] and not report["head_checked"]
    with store.session() as session:
        assert [e["object_id"] for e in list_audit(session, actor="investigator")] == ["T-0003", "T-0002", "T-0001", "T-0000"]
        session.execute(sa.update(AuditEvent).where(AuditEvent.seq == 2).values(actor="someone else"))
    report = verify_audit(store)
    assert not report["intact"] and report["problems"][0]["seq"] == 2
    with store.session() as session:
        session.execute(sa.update(AuditEvent).where(AuditEvent.seq == 2).values(actor="investigator"))
        session.execute(sa.update(AuditEvent).where(AuditEvent.seq == 4).values(channel="cli"))
    report = verify_audit(store)
    assert [p["seq"] for p in report["problems"]] == [4] and "edited" in report["problems"][0]["problem"]
    with store.session() as session:
        session.execute(sa.update(AuditEvent).where(AuditEvent.seq == 4).values(channel="web"))
        session.execute(sa.delete(AuditEvent).where(AuditEvent.seq == 3))
    report = verify_audit(store)
    assert [p["seq"] for p in report["problems"]] == [4] and "removed" in report["problems"][0]["problem"]


def test_an_audited_action_that_fails_leaves_no_event(store):
    with pytest.raises(InputError):
        add_user(store, "xy", actor=TESTER, role="viewer", password="short")
    with store.session() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(AuditEvent)) == 0
    add_user(store, "xy", actor=TESTER, role="viewer", password=PASSWORD)
    with store.session() as session:
        assert [e["action"] for e in list_audit(session)] == ["user added"]


def test_a_user_added_by_the_command_gets_a_hash_at_the_products_cost(tmp_path):
    """The suite hashes passwords cheaply in its own process (tests/conftest.py); the command,
    run as users run it, stores argon2id at 64 MiB, three passes, four lanes, and that hash opens
    a session."""
    workspace = tmp_path / "ws"
    assert run("init", str(workspace), "--json").exit_code == 0
    password = write(tmp_path / "pw.txt", PASSWORD + "\n")
    command = [sys.executable, "-c", "from dadkhah.cli import main; main()", "--workspace", str(workspace),
               "users", "add", "maryam", "--role", "analyst", "--password-file", str(password), "--json"]
    added = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert added.returncode == 0, added.stderr
    with open_store(load_workspace(workspace)) as store:
        with store.session() as session:
            stored = session.scalar(sa.select(User.password_hash).where(User.username == "maryam"))
        assert stored.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
        assert log_in(store, "maryam", PASSWORD, address="127.0.0.1")[1].token


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
    changed = run("users", "change", "maryam", "--role", "investigator", "--inactive", "--json", workspace=workspace)
    assert changed.exit_code == 0, changed.output
    assert json.loads(changed.stdout)["changes"] == {"role": ["analyst", "investigator"], "active": [True, False]}
    nothing = run("users", "change", "maryam", "--json", workspace=workspace)
    assert nothing.exit_code == 1 and json.loads(nothing.stdout)["error"]["option"] == "--role"
    events = json.loads(run("audit", "list", "--json", workspace=workspace, env={"DADKHAH_USER": "someone"}).stdout)
    assert [(e["action"], e["object_id"], e["channel"], e["signed"]) for e in events] == [
        ("user deactivated", "maryam", "cli", True), ("user role changed", "maryam", "cli", True),
        ("user added", "maryam", "cli", True)]
    verified = run("audit", "verify", "--json", workspace=workspace)
    report = json.loads(verified.stdout)
    assert verified.exit_code == 0 and report["intact"] is True and report["unsigned"] == []
    assert report["signatures_checked"] and report["head_checked"]
