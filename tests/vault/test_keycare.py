"""Key care: rotating the keys (every data key wrapped anew, no file sealed again, the chains handed over
to the new signing key, safe against a crash at any step) and splitting the key file into shares."""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
import os
import re
import stat
import struct
import subprocess
import sys
from pathlib import Path

import pyotp
import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from typer.testing import CliRunner

from dadkhah.audit import list_audit, record_audit, verify_audit
from dadkhah.cli import app
from dadkhah.errors import InputError, KeysOutdated
from dadkhah.model import AuditEvent, CustodyEvent, EvidenceItem, Witness
from dadkhah.model import (
    Testimony as StoredTestimony,  # a name pytest does not take for a test class
)
from dadkhah.store import open_store
from dadkhah.users import add_user, log_in
from dadkhah.vault.casefile import export_casefile
from dadkhah.vault.crypto import MAGIC, DecryptionError, blob_key_opens, read_header, unwrap_key
from dadkhah.vault.custody import append_event, verify_chain
from dadkhah.vault.evidence import add_evidence, get_evidence
from dadkhah.vault.keycare import join_shares, rotate_keys, split_keys
from dadkhah.vault.keys import VaultKeyError, create_keys, key_file_path, load_keys
from dadkhah.vault.testimony import add_testimony, show_testimony
from dadkhah.vault.verify import verify_casefile
from dadkhah.workspace import create_workspace
from tests.conftest import TESTER, write

runner = CliRunner()


def seal_v1(path: Path, plaintext: bytes, *, data_key: bytes, wrapped_key: bytes, label: str) -> None:
    """A blob as versions before key rotation wrote it (header version 1, chunks bound to its exact
    bytes, wrapped key included): what a rotation must carry over without sealing it again."""
    prefix = os.urandom(7)
    header = json.dumps({"version": 1, "chunk": 1 << 20, "label": label, "nonce_prefix": prefix.hex(),
                         "wrapped_key": wrapped_key.hex()}, separators=(",", ":")).encode()
    nonce = prefix + struct.pack(">I", 0) + b"\x01"
    body = AESGCM(data_key).encrypt(nonce, plaintext, hashlib.sha256(header).digest())
    path.write_bytes(MAGIC + struct.pack(">I", len(header)) + header + body)


def body_of(path: Path) -> bytes:
    with open(path, "rb") as handle:
        _header, raw = read_header(handle, name=path.name)
        return path.read_bytes()[len(MAGIC) + 4 + len(raw):]


@pytest.fixture
def filled(store, keys, tmp_path):
    """A workspace with a witness, two testimonies, two evidence files (one sealed the old way)."""
    store.use_keys(keys)
    transcript = write(tmp_path / "t.txt", "synthetic transcript\n")
    first = add_testimony(store, keys, actor=TESTER, witness_name="Synthetic Witness Zeta", transcript=transcript,
                          language="en", consent="investigators")
    add_testimony(store, keys, actor=TESTER, witness_name="Another Synthetic", transcript=transcript, language="fa",
                  consent="investigators,courts")
    (tmp_path / "a.bin").write_bytes(os.urandom(70_000))
    (tmp_path / "b.bin").write_bytes(os.urandom(3000))
    items = add_evidence(store, keys, [tmp_path / "a.bin", tmp_path / "b.bin"], actor=TESTER)
    # The second file as an older version sealed it, under the same data key.
    with store.session() as session:
        row = session.scalar(sa.select(EvidenceItem).where(EvidenceItem.evidence_id == items[1]["id"]))
        blob = store.workspace.path / row.blob_path
        with open(blob, "rb") as handle:
            header, _raw = read_header(handle, name="b")
        data_key = unwrap_key(keys.master_key, row.wrapped_key, label=header["label"])
        seal_v1(blob, (tmp_path / "b.bin").read_bytes(), data_key=data_key,
                wrapped_key=bytes.fromhex(header["wrapped_key"]), label=header["label"])
    return {"testimony": first["id"], "witness": first["witness"], "evidence": [i["id"] for i in items],
            "files": [tmp_path / "a.bin", tmp_path / "b.bin"], "transcript": transcript}


def everything_opens(store, keys, filled, tmp_path) -> None:
    assert show_testimony(store, keys, filled["testimony"], actor=TESTER, reveal_witness=True)["witness_name"] == \
        "Synthetic Witness Zeta"
    for evidence_id, original in zip(filled["evidence"], filled["files"], strict=True):
        out = tmp_path / f"back-{evidence_id}-{os.urandom(3).hex()}"
        assert get_evidence(store, keys, evidence_id, out, actor=TESTER)["verified"]
        assert out.read_bytes() == original.read_bytes()


def test_rotation_wraps_every_key_anew_and_hands_the_chains_to_the_new_signing_key(store, keys, filled, tmp_path):
    old = keys
    blobs = sorted((store.workspace.path / "blobs").glob("*/*.sealed"))
    bodies = {p: body_of(p) for p in blobs}
    result = rotate_keys(store, actor=TESTER)
    assert result["old_fingerprint"] == old.fingerprint != result["new_fingerprint"]
    assert (result["data_keys"], result["blobs"]) == (2 + 2 + 2, 2)  # 2 witnesses, 2 testimonies, 2 items; 2 files
    store.workspace = store.workspace.reloaded()
    new = load_keys(store.workspace)
    store.use_keys(new)
    assert new.fingerprint == result["new_fingerprint"] and new.master_key != old.master_key
    assert store.workspace.config["vault"]["fingerprint"] == new.fingerprint

    # No file body was sealed again; every header now opens with the new key only.
    assert {p: body_of(p) for p in blobs} == bodies
    assert all(blob_key_opens(p, new.master_key) and not blob_key_opens(p, old.master_key) for p in blobs)
    with store.session() as session:
        for row in session.scalars(sa.select(StoredTestimony)):
            with pytest.raises(DecryptionError):
                unwrap_key(old.master_key, row.wrapped_key, label=f"testimony:{row.testimony_id}")
    everything_opens(store, new, filled, tmp_path)

    # The blind index survives: the same witness, spelt as before, is recognised.
    again = add_testimony(store, new, actor=TESTER, witness_name="synthetic  witness zeta",
                          transcript=filled["transcript"], language="en", consent="investigators")
    assert again["witness"] == filled["witness"] and not again["new_witness"]

    # The chains verify across the change, and the change is recorded in both, by both keys.
    with store.session() as session:
        report = verify_chain(session, new)
        assert report["valid"], report["problems"]
        change = session.scalar(sa.select(CustodyEvent).where(CustodyEvent.action == "signing key rotated"))
        assert json.loads(change.details)["key_change"]["new_key_signature"]
        rotated = [e for e in list_audit(session, limit=None) if e["action"] == "keys rotated"]
    assert verify_audit(store)["intact"]
    assert rotated and rotated[0]["details"]["old_fingerprint"] == old.fingerprint
    assert rotated[0]["details"]["new_fingerprint"] == new.fingerprint
    text = json.dumps(rotated[0]["details"])
    assert old.master_key.hex() not in text and new.master_key.hex() not in text

    # A case file made now carries events signed by both keys, and verifies.
    made = export_casefile(store, new, tmp_path / "casefile", actor=TESTER, recipient="A synthetic court",
                           scope="investigators", everything=True)
    checked = verify_casefile(made["out"], expect_key=new.fingerprint)
    assert checked["valid"], checked["problems"]

    # An event signed afterwards with the retired key is refused (see the next test); one forged with it
    # (whoever kept the old key file, claiming the new key) is caught by verification.
    with pytest.raises(KeysOutdated):
        with store.session() as session:
            append_event(session, old, TESTER, item_kind="custody", item_id="chain", action="verified")
    forger = dataclasses.replace(old, public_key=new.public_key)
    with store.session() as session:
        append_event(session, forger, TESTER, item_kind="custody", item_id="chain", action="verified")
        session.commit()
    with store.session() as session:
        problems = verify_chain(session, new)["problems"]
    assert [p["problem"] for p in problems] == ["its signature is not this instance's: the event was forged or edited"]


def test_a_process_that_loaded_the_keys_before_a_rotation_writes_nothing_with_them(store, keys, filled, tmp_path):
    """A server or a long command left running through ``keys rotate`` holds the old signing key and the
    old master key, which the key file no longer keeps: a file it sealed could never be opened again, an
    event it signed would break the chain. It is refused, by name, and leaves nothing behind."""
    stale = keys
    with open_store(store.workspace) as other:  # the rotation, as another process runs it
        rotated = rotate_keys(other, actor=TESTER)
    blobs = sorted(p.name for p in (store.workspace.path / "blobs").rglob("*") if p.is_file())
    with store.session() as session:
        counts = [session.scalar(sa.select(sa.func.count()).select_from(t))
                  for t in (EvidenceItem, StoredTestimony, CustodyEvent, AuditEvent)]
    (tmp_path / "late.bin").write_bytes(os.urandom(5000))
    store.use_keys(stale)
    in_force = rotated["new_fingerprint"]
    with pytest.raises(KeysOutdated, match=f"the signing key in force is {re.escape(in_force)}, not "
                                           f"{re.escape(stale.fingerprint)}"):
        add_evidence(store, stale, [tmp_path / "late.bin"], actor=TESTER)
    with pytest.raises(KeysOutdated):
        add_testimony(store, stale, actor=TESTER, witness_name="Late Synthetic", transcript=filled["transcript"],
                      language="en", consent="investigators")
    with pytest.raises(KeysOutdated):  # the audit log alone (a login, a decision) is refused too
        with store.session() as session:
            record_audit(session, store, TESTER, action="login", object_kind="user", object_id="tester")
    assert sorted(p.name for p in (store.workspace.path / "blobs").rglob("*") if p.is_file()) == blobs
    with store.session() as session:
        assert [session.scalar(sa.select(sa.func.count()).select_from(t))
                for t in (EvidenceItem, StoredTestimony, CustodyEvent, AuditEvent)] == counts
    # Started again with the key file as it is now, the same work is done and everything verifies.
    store.workspace = store.workspace.reloaded()
    new = load_keys(store.workspace)
    store.use_keys(new)
    [added] = add_evidence(store, new, [tmp_path / "late.bin"], actor=TESTER)
    assert get_evidence(store, new, added["id"], tmp_path / "late.back", actor=TESTER)["verified"]
    with store.session() as session:
        assert verify_chain(session, new)["valid"]
    assert verify_audit(store)["intact"]


def test_a_rotation_refuses_to_start_when_an_item_cannot_be_opened(store, keys, filled):
    with store.session() as session:
        row = session.scalar(sa.select(EvidenceItem).order_by(EvidenceItem.id).limit(1))
        missing = store.workspace.path / row.blob_path
    moved = missing.with_name("elsewhere")
    missing.rename(moved)
    before = key_file_path(store.workspace).read_bytes()
    with pytest.raises(InputError, match="E-000001: its sealed file is missing"):
        rotate_keys(store, actor=TESTER)
    assert key_file_path(store.workspace).read_bytes() == before
    moved.rename(missing)


def test_a_protected_key_file_keeps_its_passphrase(tmp_path):
    workspace = create_workspace(tmp_path / "ws")
    create_keys(workspace, passphrase="correct horse battery")
    workspace = workspace.reloaded()
    from dadkhah.store import open_store

    with open_store(workspace) as store:
        keys = load_keys(workspace, passphrase="correct horse battery")
        store.use_keys(keys)
        added = add_testimony(store, keys, actor=TESTER, witness_name="Synthetic Eta",
                              transcript=write(tmp_path / "t.txt", "synthetic\n"), language="en", consent="courts")
        with pytest.raises(VaultKeyError, match="wrong passphrase"):
            rotate_keys(store, actor=TESTER, passphrase="wrong")
        rotate_keys(store, actor=TESTER, passphrase="correct horse battery")
        workspace = workspace.reloaded()
        with pytest.raises(VaultKeyError, match="protected by a passphrase"):
            load_keys(workspace)
        new = load_keys(workspace, passphrase="correct horse battery")
        assert new.fingerprint != keys.fingerprint
        assert show_testimony(store, new, added["id"], actor=TESTER)["transcript"] == "synthetic\n"


# ----- a rotation killed at each step, then run again -------------------------------------------------


def cli(workspace: Path, *args, env: dict, check: bool = True) -> subprocess.CompletedProcess:
    done = subprocess.run([sys.executable, "-m", "dadkhah", "--workspace", str(workspace), *args],
                          env=env, capture_output=True, text=True, timeout=300, check=False)
    if check:
        assert done.returncode == 0, done.stderr
    return done


@pytest.mark.parametrize("point", ["key-file", "first-blob", "database", "committed", "swept"])
def test_a_rotation_killed_at_any_step_finishes_when_run_again(store, keys, filled, tmp_path, point, database_url):
    if database_url and point in ("key-file", "swept"):
        pytest.skip("PostgreSQL: the steps around the database suffice (the files steps do not touch it)")
    env = {k: v for k, v in os.environ.items() if k != "DADKHAH_TEST_CRASH_AT"} | {"DADKHAH_USER": "tester"}
    if database_url:
        env["DADKHAH_DATABASE_URL"] = database_url
    old = keys
    secret = add_user(store, "reza", actor=TESTER, role="viewer", password="a long enough passphrase",
                      totp=True)["totp_secret"]
    killed = cli(store.workspace.path, "keys", "rotate", "--json", env=env | {"DADKHAH_TEST_CRASH_AT": point},
                 check=False)
    assert killed.returncode == -9, killed.stderr
    assert not list((store.workspace.path / "blobs").glob("*/.*.rewrap"))  # rewritten files are whole
    # Until it is finished, the keys are refused with a plain instruction (nothing is read under a half-rotated key).
    refused = cli(store.workspace.path, "testimony", "show", filled["testimony"], "--json", env=env, check=False)
    assert refused.returncode == 1 and "keys rotate" in json.loads(refused.stdout)["error"]["message"]
    finished = json.loads(cli(store.workspace.path, "keys", "rotate", "--json", env=env).stdout)
    assert finished["resumed"] and finished["old_fingerprint"] == old.fingerprint
    store.workspace = store.workspace.reloaded()
    new = load_keys(store.workspace)
    store.use_keys(new)
    everything_opens(store, new, filled, tmp_path)
    assert log_in(store, "reza", "a long enough passphrase", totp_code=pyotp.TOTP(secret).now())[0]["totp"], \
        "the second factor was sealed anew under the new login key, once"
    with store.session() as session:
        assert verify_chain(session, new)["valid"]
        assert session.scalar(sa.select(sa.func.count()).select_from(CustodyEvent)
                              .where(CustodyEvent.action == "signing key rotated")) == 1
        for row in session.scalars(sa.select(Witness)):
            unwrap_key(new.master_key, row.wrapped_key, label=f"witness:{row.pseudonym}")
    assert verify_audit(store)["intact"]


# ----- shares -----------------------------------------------------------------------------------------


def test_split_three_of_five_and_any_three_rebuild_the_key_file(store, keys, filled, tmp_path, monkeypatch):
    out = tmp_path / "shares"
    made = split_keys(store, shares=5, threshold=3, out=out, actor=TESTER)
    files = [Path(f) for f in made["files"]]
    assert len(files) == 5 and all(stat.S_IMODE(f.stat().st_mode) == 0o600 for f in files)
    share = json.loads(files[0].read_text())
    assert (share["workspace_id"], share["share"], share["threshold"], share["shares"]) == \
        (keys.workspace_id, 1, 3, 5) and share["checksum"]
    for combination in itertools.combinations(files, 3):
        rebuilt = tmp_path / f"rebuilt-{'-'.join(str(files.index(f) + 1) for f in combination)}.key"
        joined = join_shares(combination, rebuilt)
        assert joined["fingerprint"] == keys.fingerprint and stat.S_IMODE(rebuilt.stat().st_mode) == 0o600
    monkeypatch.setenv("DADKHAH_KEY_FILE", str(rebuilt))
    again = load_keys(store.workspace)
    assert (again.master_key, again.public_key, again.index_key) == (keys.master_key, keys.public_key, keys.index_key)
    assert show_testimony(store, again, filled["testimony"], actor=TESTER)["transcript"] == "synthetic transcript\n"
    with store.session() as session:
        split = [e for e in list_audit(session, limit=None) if e["action"] == "keys split"]
    assert split[0]["details"] == {"shares": 5, "threshold": 3, "fingerprint": keys.fingerprint,
                                   "split_id": share["split_id"]}
    assert share["share_value"] not in json.dumps(split)


def test_too_few_foreign_mistyped_or_misplaced_shares_are_refused_by_name(store, keys, tmp_path):
    out = tmp_path / "shares"
    files = [Path(f) for f in split_keys(store, shares=5, threshold=3, out=out, actor=TESTER)["files"]]
    with pytest.raises(InputError, match="2 shares given, but this key needs 3 of 5"):
        join_shares(files[:2], tmp_path / "k.key")
    assert not (tmp_path / "k.key").exists()

    other = create_workspace(tmp_path / "other")
    create_keys(other)
    from dadkhah.store import open_store

    with open_store(other.reloaded()) as other_store:
        foreign = [Path(f) for f in split_keys(other_store, shares=3, threshold=2, out=tmp_path / "other-shares",
                                               actor=TESTER)["files"]]
    with pytest.raises(InputError) as raised:
        join_shares([*files[:2], foreign[0]], tmp_path / "k.key")
    assert raised.value.file == str(foreign[0]) and "belongs to workspace" in raised.value.message
    with pytest.raises(InputError, match="belongs to workspace"):
        join_shares(foreign[:2], tmp_path / "k.key", workspace=store.workspace)

    typo = json.loads(files[2].read_text())
    digits = typo["share_value"]
    typo["share_value"] = ("0" if digits[0] != "0" else "1") + digits[1:]
    mistyped = write(tmp_path / "mistyped.json", json.dumps(typo))
    with pytest.raises(InputError) as raised:
        join_shares([files[0], files[1], mistyped], tmp_path / "k.key")
    assert raised.value.file == str(mistyped) and "checksum" in raised.value.message

    with pytest.raises(InputError, match="inside the workspace"):
        split_keys(store, shares=3, threshold=2, out=store.workspace.path / "shares", actor=TESTER)
    with pytest.raises(InputError, match="exists"):
        split_keys(store, shares=5, threshold=3, out=out, actor=TESTER)
    with pytest.raises(InputError, match="from 2 to the number of shares"):
        split_keys(store, shares=3, threshold=4, out=tmp_path / "x", actor=TESTER)
    join_shares(files[2:], tmp_path / "k.key")
    with pytest.raises(InputError, match="exists"):
        join_shares(files[:3], tmp_path / "k.key")
    assert join_shares(files[:3], tmp_path / "k.key", force=True)["fingerprint"] == keys.fingerprint


def test_keys_commands(tmp_path, monkeypatch):
    monkeypatch.delenv("DADKHAH_DATABASE_URL", raising=False)
    ws = tmp_path / "ws"

    def ok(*args):
        result = runner.invoke(app, ["--workspace", str(ws), *args, "--json"], catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout)

    ok("init", str(ws))
    write(tmp_path / "t.txt", "synthetic\n")
    write(tmp_path / "w.toml", 'name = "Synthetic Witness Iota"\n')
    ok("testimony", "add", "--witness-file", str(tmp_path / "w.toml"), "--transcript", str(tmp_path / "t.txt"),
       "--language", "en", "--consent", "investigators")
    split = ok("keys", "split", "--shares", "3", "--threshold", "2", "--out", str(tmp_path / "shares"))
    rotated = ok("keys", "rotate")
    assert rotated["old_fingerprint"] == split["fingerprint"] != rotated["new_fingerprint"]
    assert ok("keys", "show")["fingerprint"] == rotated["new_fingerprint"]
    # The shares made before the rotation rebuild the old key file (for backups made before it).
    joined = ok("keys", "join", *split["files"][1:], "--out", str(tmp_path / "old.key"))
    assert joined["fingerprint"] == split["fingerprint"] and joined["audited"]
    refused = runner.invoke(app, ["keys", "join", split["files"][0], "--out", str(tmp_path / "x.key"), "--json"])
    assert refused.exit_code == 1 and "needs 2 of 3" in json.loads(refused.stdout)["error"]["message"]
    assert ok("custody", "verify")["valid"]
