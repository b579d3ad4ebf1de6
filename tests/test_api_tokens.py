"""Personal API tokens in the core (on SQLite and PostgreSQL) and at the command line: made with their
audit event and shown once, kept only as a hash, found by their id, refused when revoked, expired or
their user is deactivated, throttled like logins, and never listed with their secret."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa

from dadkhah.audit import Actor, list_audit, verify_audit
from dadkhah.errors import InputError, NotFound
from dadkhah.model import ApiToken, LoginAttempt
from dadkhah.users import (
    LAST_USED_EVERY,
    MAX_FAILURES_PER_ADDRESS,
    TOKEN_PATTERN,
    LoginThrottled,
    TokenRefused,
    add_user,
    authenticate_token,
    change_user,
    create_token,
    list_tokens,
    parse_expiry,
    revoke_token,
)
from tests.cli.test_cli import run
from tests.conftest import TESTER, write

PASSWORD = "a long enough passphrase"


@pytest.fixture
def maryam(store):
    add_user(store, "maryam", actor=TESTER, role="analyst", password=PASSWORD)
    return "maryam"


def test_a_token_is_shown_once_kept_as_a_hash_and_made_with_its_audit_event(store, maryam):
    made = create_token(store, maryam, actor=TESTER, scope="read", expires="2999-01-31", name="nightly export")
    token = made["token"]
    match = TOKEN_PATTERN.fullmatch(token)
    assert match and match.group(1) == made["id"] and len(match.group(2)) == 43  # 32 random bytes
    assert made["expires_at"] == "2999-02-01T00:00:00+00:00", "a date means to the end of that day, UTC"
    with store.session() as session:
        row = session.scalar(sa.select(ApiToken))
        assert row.token_sha256 == hashlib.sha256(token.encode()).hexdigest() and token not in row.token_sha256
        listed = list_tokens(session)
        events = list_audit(session)
    assert "token" not in listed[0] and token not in json.dumps(listed)
    assert listed[0] | {"last_used_at": None} == {k: v for k, v in made.items() if k != "token"}
    assert [(e["action"], e["object_kind"], e["object_id"], e["actor"], e["channel"]) for e in events] == [
        ("token created", "token", made["id"], "tester", "cli"), ("user added", "user", "maryam", "tester", "cli")]
    assert events[0]["details"] == {"user": "maryam", "scope": "read", "expires_at": "2999-02-01T00:00:00+00:00"}
    assert token not in json.dumps(events, default=str) and match.group(2) not in json.dumps(events, default=str)


def test_a_token_acts_for_its_user_with_their_current_role(store, maryam):
    token = create_token(store, maryam, actor=TESTER, scope="write")["token"]
    holder = authenticate_token(store, token, address="10.0.0.1")
    assert (holder.username, holder.role, holder.scope) == ("maryam", "analyst", "write")
    change_user(store, maryam, actor=TESTER, role="investigator")
    assert authenticate_token(store, token, address="10.0.0.1").role == "investigator", "a role change applies at once"
    change_user(store, maryam, actor=TESTER, active=False)
    with pytest.raises(TokenRefused) as refused:
        authenticate_token(store, token, address="10.0.0.1")
    assert refused.value.reason == "user deactivated"
    with pytest.raises(InputError) as no_new:
        create_token(store, maryam, actor=TESTER, scope="read")
    assert no_new.value.field == "username"


def test_revoked_expired_and_wrong_tokens_are_refused(store, maryam):
    made = create_token(store, maryam, actor=TESTER, scope="read")
    wrong = made["token"][:-4] + ("AAAA" if not made["token"].endswith("AAAA") else "BBBB")
    for token in (wrong, "dk_000000000000_" + "x" * 43, "not a token", "", "dk_" + "a" * 500):
        with pytest.raises(TokenRefused) as refused:
            authenticate_token(store, token, address="10.0.0.2")
        assert refused.value.reason == "invalid"
    revoked = revoke_token(store, made["token"], actor=TESTER)  # the whole token, as found where it leaked
    assert revoked["status"] == "revoked" and revoked["revoked_by"] == "tester"
    with pytest.raises(TokenRefused) as refused:
        authenticate_token(store, made["token"], address="10.0.0.2")
    assert refused.value.reason == "revoked"
    with pytest.raises(InputError, match="already revoked"):
        revoke_token(store, made["id"], actor=TESTER)
    later = create_token(store, maryam, actor=TESTER, scope="read", expires=datetime.now(UTC) + timedelta(hours=1))
    with store.session() as session:
        session.execute(sa.update(ApiToken).where(ApiToken.token_id == later["id"])
                        .values(expires_at=datetime.now(UTC) - timedelta(seconds=1)))
    with pytest.raises(TokenRefused) as refused:
        authenticate_token(store, later["token"], address="10.0.0.2")
    assert refused.value.reason == "expired"
    with store.session() as session:
        failures = session.scalar(sa.select(sa.func.count()).select_from(LoginAttempt)
                                  .where(LoginAttempt.address == "10.0.0.2"))
    assert failures == 5, "wrong and malformed tokens count as failed logins; revoked and expired ones do not"


def test_others_tokens_are_not_found_and_bad_input_names_its_field(store, maryam):
    add_user(store, "reza", actor=TESTER, role="viewer", password=PASSWORD)
    made = create_token(store, "reza", actor=TESTER, scope="read")
    with pytest.raises(NotFound):
        revoke_token(store, made["id"], actor=Actor("maryam", "web", "10.0.0.3"), of_user="maryam")
    with pytest.raises(NotFound):
        create_token(store, "nobody", actor=TESTER, scope="read")
    for arguments, field in [({"scope": "admin"}, "scope"), ({"scope": "read", "expires": "2001-01-01"}, "expires"),
                             ({"scope": "read", "expires": "next week"}, "expires"),
                             ({"scope": "read", "name": "x" * 201}, "name")]:
        with pytest.raises(InputError) as refused:
            create_token(store, maryam, actor=TESTER, **arguments)
        assert refused.value.field == field, arguments
    with pytest.raises(InputError) as refused:
        revoke_token(store, "abc", actor=TESTER)
    assert refused.value.field == "token_id"
    assert parse_expiry(date(2999, 1, 1)) == datetime(2999, 1, 2, tzinfo=UTC)
    assert parse_expiry("2999-01-01T12:00") == datetime(2999, 1, 1, 12, tzinfo=UTC), "no zone: UTC"
    assert parse_expiry(None) is None and parse_expiry(" ") is None


def test_failed_tokens_throttle_their_address_as_failed_logins_do(store, maryam):
    token = create_token(store, maryam, actor=TESTER, scope="read")["token"]
    for _ in range(MAX_FAILURES_PER_ADDRESS):
        with pytest.raises(TokenRefused):
            authenticate_token(store, "dk_000000000000_" + "y" * 43, address="203.0.113.9")
    with pytest.raises(LoginThrottled):
        authenticate_token(store, token, address="203.0.113.9")  # refused unchecked, even the right one
    assert authenticate_token(store, token, address="203.0.113.10").username == "maryam", "elsewhere it works"


def test_last_use_is_written_at_most_once_a_minute(store, maryam):
    made = create_token(store, maryam, actor=TESTER, scope="read")

    def last_used():
        with store.session() as session:
            return session.execute(sa.select(ApiToken.last_used_at, ApiToken.last_used_address)).one()

    assert last_used() == (None, None)
    authenticate_token(store, made["token"], address="10.0.0.4")
    first, where = last_used()
    assert first is not None and where == "10.0.0.4"
    authenticate_token(store, made["token"], address="10.0.0.5")
    assert last_used() == (first, "10.0.0.4"), "within the minute nothing is written"
    with store.session() as session:
        session.execute(sa.update(ApiToken).values(last_used_at=first - LAST_USED_EVERY))
    authenticate_token(store, made["token"], address="10.0.0.5")
    assert last_used()[0] > first and last_used()[1] == "10.0.0.5"


def test_an_actor_through_a_token_names_it_in_every_event(store):
    with pytest.raises(ValueError):
        Actor("maryam", "api-token")
    with pytest.raises(ValueError):
        Actor("maryam", "web", token="0123456789ab")
    from dadkhah.audit import record_audit

    with store.session() as session:
        record_audit(session, store, Actor("maryam", "api-token", "10.0.0.6", token="0123456789ab"),
                     action="testimony read", object_kind="testimony", object_id="T-0001", details={"reveal": False})
        [event] = list_audit(session)
    assert (event["channel"], event["details"]) == ("api-token", {"reveal": False, "token": "0123456789ab"})
    assert verify_audit(store)["intact"]


def test_tokens_commands(tmp_path):
    workspace = tmp_path / "ws"
    assert run("init", str(workspace), "--json").exit_code == 0
    password = write(tmp_path / "pw.txt", PASSWORD + "\n")
    assert run("users", "add", "maryam", "--role", "analyst", "--password-file", str(password),
               workspace=workspace).exit_code == 0
    made = run("tokens", "create", "--user", "maryam", "--scope", "read", "--expires", "2999-06-30", "--name",
               "nightly", "--json", workspace=workspace, env={"DADKHAH_USER": "admin-at-terminal"})
    assert made.exit_code == 0, made.output
    document = json.loads(made.stdout)
    secret = document["token"]
    assert TOKEN_PATTERN.fullmatch(secret) and document["scope"] == "read" and document["name"] == "nightly"
    plain = run("tokens", "create", "--user", "maryam", "--scope", "write", workspace=workspace)
    assert plain.exit_code == 0 and TOKEN_PATTERN.fullmatch(plain.stdout.strip()), "stdout holds the token alone"
    for listing in (run("tokens", "list", "--json", workspace=workspace),
                    run("tokens", "list", "--user", "maryam", workspace=workspace)):
        assert listing.exit_code == 0 and document["id"] in listing.output
        assert secret not in listing.output and secret.split("_", 2)[2] not in listing.output
        assert plain.stdout.strip().split("_", 2)[2] not in listing.output
    listed = json.loads(run("tokens", "list", "--json", workspace=workspace).stdout)
    assert [t["status"] for t in listed] == ["active", "active"] and listed[1]["created_by"] == "admin-at-terminal"
    bad = run("tokens", "create", "--user", "maryam", "--scope", "all", "--json", workspace=workspace)
    assert bad.exit_code == 1 and json.loads(bad.stdout)["error"]["option"] == "--scope"
    past = run("tokens", "create", "--user", "maryam", "--scope", "read", "--expires", "2001-01-01", "--json",
               workspace=workspace)
    assert past.exit_code == 1 and json.loads(past.stdout)["error"]["option"] == "--expires"
    revoked = run("tokens", "revoke", document["id"], "--json", workspace=workspace)
    assert revoked.exit_code == 0 and json.loads(revoked.stdout)["status"] == "revoked"
    again = run("tokens", "revoke", document["id"], "--json", workspace=workspace)
    assert again.exit_code == 1 and json.loads(again.stdout)["error"]["option"] == "TOKEN"
    events = json.loads(run("audit", "list", "--json", workspace=workspace).stdout)
    assert [e["action"] for e in events[:3]] == ["token revoked", "token created", "token created"]
    assert secret not in json.dumps(events)
