"""Second-factor (TOTP) secrets are kept sealed under the login key of the workspace's key file: a
copy of the database holds no usable second factor, on SQLite and PostgreSQL. Secrets an older
version kept in clear still work and are sealed once; a key file that cannot open them refuses the
login and says why in the server's log, never to the person logging in."""

from __future__ import annotations

import base64
import json
import logging
import os
import stat
import time
from datetime import UTC, datetime

import pyotp
import pytest
import sqlalchemy as sa

from dadkhah.audit import list_audit, verify_audit
from dadkhah.errors import DadkhahError, KeysOutdated
from dadkhah.model import User
from dadkhah.users import (
    SEALED_TOTP,
    LoginRefused,
    add_user,
    log_in,
    reset_password,
    seal_totp_secrets,
)
from dadkhah.vault.keycare import join_shares, rotate_keys, split_keys
from dadkhah.vault.keys import LOGIN_KEY, VaultKeyError, key_file_path, load_keys, read_login_key
from tests.conftest import TESTER

PASSWORD = "a long enough passphrase"


def _kept(store, username: str) -> str:
    with store.session() as session:
        return session.scalar(sa.select(User.totp_secret).where(User.username == username))


def _set_kept(store, username: str, value: str) -> None:
    with store.session() as session:
        session.execute(sa.update(User).where(User.username == username).values(totp_secret=value))


def _key_document(store) -> dict:
    return json.loads(key_file_path(store.workspace).read_text())


def _write_key_document(store, document: dict) -> None:
    """The key file rewritten, and the store's keys read from it again (a process started anew: one
    already running keeps the login key it read)."""
    key_file_path(store.workspace).write_text(json.dumps(document))
    store.use_keys(load_keys(store.workspace))


def _every_users_row(store) -> str:
    with store.session() as session:
        return json.dumps([list(row) for row in session.execute(sa.select(User.__table__))], default=str)


def test_the_secret_is_kept_sealed_and_the_code_from_it_logs_in(keyed_store):
    store = keyed_store
    added = add_user(store, "nasrin", actor=TESTER, role="admin", password=PASSWORD, totp=True)
    secret = added["totp_secret"]
    kept = _kept(store, "nasrin")
    assert kept.startswith(SEALED_TOTP) and secret not in _every_users_row(store)
    with store.session() as session:
        assert secret not in json.dumps(list_audit(session, limit=None))
    if store.workspace.is_sqlite:  # the database's files themselves, as a copy of the workspace would carry them
        files = list(store.workspace.path.glob("dadkhah.db*"))
        assert files and not any(secret.encode() in f.read_bytes() for f in files)
    with pytest.raises(LoginRefused):
        log_in(store, "nasrin", PASSWORD)
    assert log_in(store, "nasrin", PASSWORD, totp_code=pyotp.TOTP(secret).now())[0]["totp"] is True
    renewed = reset_password(store, "nasrin", actor=TESTER, totp=True)
    assert _kept(store, "nasrin").startswith(SEALED_TOTP) and renewed["totp_secret"] not in _every_users_row(store)


def test_a_code_logs_in_once_and_never_after_a_later_one(keyed_store):
    """RFC 6238, 5.2: a code seen over a shoulder or in a proxy's log must not log in again, however
    quickly it is sent; nor may a code older than one already used. A step either side of now is
    still taken (a phone's clock a little off)."""
    store = keyed_store
    secret = add_user(store, "reza", actor=TESTER, role="viewer", password=PASSWORD, totp=True)["totp_secret"]
    totp, now = pyotp.TOTP(secret), time.time()
    assert log_in(store, "reza", PASSWORD, totp_code=totp.at(now))[0]["username"] == "reza"
    with pytest.raises(LoginRefused):
        log_in(store, "reza", PASSWORD, totp_code=totp.at(now))
    with pytest.raises(LoginRefused):
        log_in(store, "reza", PASSWORD, totp_code=totp.at(now - 30))  # the step before: older than the one used
    assert log_in(store, "reza", PASSWORD, totp_code=totp.at(now + 30))[0]["username"] == "reza"
    with pytest.raises(LoginRefused):
        log_in(store, "reza", PASSWORD, totp_code=totp.at(now + 30))
    with store.session() as session:
        assert session.scalar(sa.select(User.totp_last_step).where(User.username == "reza")) == totp.timecode(
            datetime.fromtimestamp(now + 30, UTC))
        actions = [e["action"] for e in list_audit(session, newest_first=False)]
    assert actions.count("login") == 2
    reset_password(store, "reza", actor=TESTER, totp=True)  # a new secret: its codes owe nothing to the old one's
    with store.session() as session:
        assert session.scalar(sa.select(User.totp_last_step).where(User.username == "reza")) is None


def test_a_sealed_secret_opens_only_for_its_own_user(keyed_store, caplog):
    """Whoever may write to the database cannot give one user another's second factor."""
    store = keyed_store
    known = add_user(store, "reza", actor=TESTER, role="viewer", password=PASSWORD, totp=True)["totp_secret"]
    add_user(store, "maryam", actor=TESTER, role="admin", password=PASSWORD, totp=True)
    _set_kept(store, "maryam", _kept(store, "reza"))
    with caplog.at_level(logging.ERROR, logger="dadkhah.users"), pytest.raises(LoginRefused) as refused:
        log_in(store, "maryam", PASSWORD, totp_code=pyotp.TOTP(known).now())
    assert str(refused.value) == "wrong user name, password or code", "the person logging in learns nothing more"
    assert "second factor of maryam" in caplog.text and "does not open with the key file's login key" in caplog.text


def test_a_key_file_without_the_login_key_refuses_the_login_and_the_log_says_how_to_recover(keyed_store, caplog):
    store = keyed_store
    secret = add_user(store, "reza", actor=TESTER, role="viewer", password=PASSWORD, totp=True)["totp_secret"]
    document = _key_document(store)
    _write_key_document(store, {k: v for k, v in document.items() if k != LOGIN_KEY})  # an older copy
    with caplog.at_level(logging.ERROR, logger="dadkhah.users"), pytest.raises(LoginRefused):
        log_in(store, "reza", PASSWORD, totp_code=pyotp.TOTP(secret).now())
    assert "keeps no login key" in caplog.text and "a password reset with a new second factor" in caplog.text
    # Another key's login key (a key file of another time) does not open it either.
    _write_key_document(store, document | {LOGIN_KEY: base64.b64encode(os.urandom(32)).decode()})
    caplog.clear()
    with caplog.at_level(logging.ERROR, logger="dadkhah.users"), pytest.raises(LoginRefused):
        log_in(store, "reza", PASSWORD, totp_code=pyotp.TOTP(secret).now())
    assert "does not open with the key file's login key" in caplog.text
    _write_key_document(store, document)
    assert log_in(store, "reza", PASSWORD, totp_code=pyotp.TOTP(secret).now())[0]["username"] == "reza"


def test_an_older_key_file_gets_a_login_key_the_first_time_one_is_needed(keyed_store):
    store = keyed_store
    path = key_file_path(store.workspace)
    document = _key_document(store)
    older = {k: v for k, v in document.items() if k != LOGIN_KEY}
    path.write_text(json.dumps(older))
    path.chmod(0o600)
    store.use_keys(load_keys(store.workspace))
    with pytest.raises(VaultKeyError, match="keeps no login key"):
        read_login_key(path, older["workspace_id"])
    secret = add_user(store, "reza", actor=TESTER, role="viewer", password=PASSWORD, totp=True)["totp_secret"]
    now = _key_document(store)
    assert {k: v for k, v in now.items() if k != LOGIN_KEY} == older, "nothing else in the key file changed"
    assert len(base64.b64decode(now[LOGIN_KEY])) == 32 and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert log_in(store, "reza", PASSWORD, totp_code=pyotp.TOTP(secret).now())[0]["username"] == "reza"


def test_secrets_an_older_version_kept_in_clear_work_and_are_sealed_once(keyed_store):
    store = keyed_store
    add_user(store, "reza", actor=TESTER, role="viewer", password=PASSWORD)
    add_user(store, "maryam", actor=TESTER, role="viewer", password=PASSWORD)
    clear = pyotp.random_base32()
    _set_kept(store, "reza", clear)  # as versions before sealing kept it
    # The step before now: the code of now is still to come, after sealing (a code logs in once).
    assert log_in(store, "reza", PASSWORD, totp_code=pyotp.TOTP(clear).at(time.time() - 30))[0]["username"] == "reza"
    assert seal_totp_secrets(store, actor=TESTER) == {"sealed": ["reza"]}
    assert _kept(store, "reza").startswith(SEALED_TOTP) and clear not in _every_users_row(store)
    assert _kept(store, "maryam") is None, "a user without a second factor gets none"
    assert log_in(store, "reza", PASSWORD, totp_code=pyotp.TOTP(clear).now())[0]["username"] == "reza", \
        "the codes the user's app makes are unchanged"
    with pytest.raises(LoginRefused):
        log_in(store, "reza", PASSWORD)
    assert seal_totp_secrets(store, actor=TESTER) == {"sealed": []}
    with store.session() as session:
        sealed = [e for e in list_audit(session, limit=None) if e["action"] == "second factors sealed"]
    assert [(e["actor"], e["details"]) for e in sealed] == [(TESTER.name, {"users": ["reza"]})]
    assert clear not in json.dumps(sealed) and verify_audit(store)["intact"]


def test_a_rotation_renews_the_login_key_and_seals_every_second_factor_anew(keyed_store, tmp_path):
    """After a key file was taken, a rotation must shut its holder out: the login key is renewed and
    every second factor sealed anew under it (the codes users' apps make are unchanged). Shares made
    before rebuild the old key file, with its old login key; shares made after, the new."""
    from dadkhah.users import open_totp

    store = keyed_store
    secret = add_user(store, "reza", actor=TESTER, role="viewer", password=PASSWORD, totp=True)["totp_secret"]
    before, sealed_before = _key_document(store)[LOGIN_KEY], _kept(store, "reza")
    old_shares = split_keys(store, shares=3, threshold=2, out=tmp_path / "old", actor=TESTER)["files"]
    rotated = rotate_keys(store, actor=TESTER)
    assert rotated["second_factors"] == 1 and rotated["second_factors_unreadable"] == []
    after = _key_document(store)[LOGIN_KEY]
    assert after != before and "rotation" not in _key_document(store)
    with pytest.raises(DadkhahError):
        open_totp(base64.b64decode(before), _kept(store, "reza"), "reza")
    assert _kept(store, "reza") != sealed_before
    assert log_in(store, "reza", PASSWORD, totp_code=pyotp.TOTP(secret).now())[0]["username"] == "reza"
    with store.session() as session:
        [event] = [e for e in list_audit(session, limit=None) if e["action"] == "keys rotated"]
    assert event["details"]["second_factors"] == 1
    join_shares(old_shares[1:], tmp_path / "old.key")
    assert json.loads((tmp_path / "old.key").read_text())[LOGIN_KEY] == before
    new_shares = split_keys(store, shares=3, threshold=2, out=tmp_path / "new", actor=TESTER)["files"]
    join_shares(new_shares[:2], tmp_path / "new.key")
    assert json.loads((tmp_path / "new.key").read_text())[LOGIN_KEY] == after


def test_a_second_factor_whose_login_key_was_lost_is_named_by_a_rotation_not_carried(keyed_store):
    store = keyed_store
    add_user(store, "reza", actor=TESTER, role="viewer", password=PASSWORD, totp=True)
    lost = _key_document(store)
    _write_key_document(store, lost | {LOGIN_KEY: base64.b64encode(os.urandom(32)).decode()})
    rotated = rotate_keys(store, actor=TESTER)
    assert rotated["second_factors"] == 0 and rotated["second_factors_unreadable"] == ["reza"]


def test_a_server_goes_on_checking_codes_when_the_key_file_is_taken_away_after_it_started(keyed_store, tmp_path):
    """An operator may start the server from a key file on a removable drive and then take the drive
    away: the login key was read with the keys, and second factors are still checked."""
    store = keyed_store
    secret = add_user(store, "reza", actor=TESTER, role="viewer", password=PASSWORD, totp=True)["totp_secret"]
    store.use_keys(load_keys(store.workspace))  # as `serve` unlocks them when it starts
    path = key_file_path(store.workspace)
    path.rename(tmp_path / "on-the-drive-taken-away.key")
    assert log_in(store, "reza", PASSWORD, totp_code=pyotp.TOTP(secret).now())[0]["username"] == "reza"
    with pytest.raises(LoginRefused):
        log_in(store, "reza", PASSWORD, totp_code="000000" if pyotp.TOTP(secret).now() != "000000" else "111111")


def test_a_server_left_running_through_a_rotation_says_so_at_a_login_with_a_code(keyed_store):
    """A rotation seals every second factor under a new login key. A server started before it holds the
    old one: a code-checked login there must say that the server has to be started again (as every other
    action does), not "wrong code"; and the attempt must not count against the user's name."""
    from dadkhah.model import LoginAttempt
    from dadkhah.store import open_store

    store = keyed_store
    secret = add_user(store, "reza", actor=TESTER, role="viewer", password=PASSWORD, totp=True)["totp_secret"]
    with open_store(store.workspace) as other:  # the rotation, as another process runs it
        rotate_keys(other, actor=TESTER)
    with pytest.raises(KeysOutdated, match="rotated after this process loaded them"):
        log_in(store, "reza", PASSWORD, totp_code=pyotp.TOTP(secret).now(), address="192.0.2.7")
    with pytest.raises(LoginRefused):  # a wrong password is still just refused, and counted
        log_in(store, "reza", "not the password", address="192.0.2.7")
    with store.session() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(LoginAttempt)) == 1
    # Started again with the key file as it is now, the same code logs in.
    store.workspace = store.workspace.reloaded()
    store.use_keys(load_keys(store.workspace))
    assert log_in(store, "reza", PASSWORD, totp_code=pyotp.TOTP(secret).now())[0]["username"] == "reza"


def test_keys_show_says_how_the_second_factors_stand_with_the_key_file(tmp_path, monkeypatch):
    """An operator who rebuilt the key file from old shares learns from `keys show` who cannot log in,
    before they say so."""
    from typer.testing import CliRunner

    from dadkhah.cli import app
    from dadkhah.store import open_store
    from dadkhah.workspace import load_workspace

    monkeypatch.delenv("DADKHAH_DATABASE_URL", raising=False)
    runner, ws = CliRunner(), tmp_path / "ws"

    def run(*args, json_out=True):
        done = runner.invoke(app, ["--workspace", str(ws), *args, *(["--json"] if json_out else [])],
                             catch_exceptions=False)
        assert done.exit_code == 0, done.output
        return json.loads(done.stdout) if json_out else done

    run("init", str(ws))
    (tmp_path / "pw.txt").write_text(PASSWORD + "\n")
    for name in ("maryam", "reza", "older"):
        run("users", "add", name, "--role", "viewer", "--password-file", str(tmp_path / "pw.txt"), "--totp")
    shown = run("keys", "show")
    assert shown["login_key"] is True and shown["second_factors"] == {"sealed": 3, "clear": 0, "unreadable": []}
    with open_store(load_workspace(ws)) as store:
        _set_kept(store, "older", pyotp.random_base32())  # as an older version kept it
        _set_kept(store, "reza", _kept(store, "maryam"))  # sealed for another user: opens for no one
    assert run("keys", "show")["second_factors"] == {"sealed": 1, "clear": 1, "unreadable": ["reza"]}
    said = run("keys", "show", json_out=False)
    assert "1 sealed under the key file's login key, 1 in clear" in said.stdout
    assert "does not open the second factors of reza" in said.stderr
