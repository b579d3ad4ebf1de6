"""Backups and restoring them: a consistent snapshot taken while others write, signed, never the keys;
restored only when every byte checks, into a workspace whose chains verify and whose summary is the
original's, on SQLite and PostgreSQL."""

from __future__ import annotations

import base64
import io
import json
import os
import re
import subprocess
import sys
import tarfile
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from dadkhah.audit import list_audit, verify_audit
from dadkhah.cli import app
from dadkhah.errors import InputError
from dadkhah.report.summary import case_summary
from dadkhah.store import open_store
from dadkhah.vault.backup import (
    BackupError,
    BackupRefused,
    make_backup,
    read_backup,
    restore_backup,
)
from dadkhah.vault.custody import verify_chain
from dadkhah.vault.evidence import add_evidence, get_evidence
from dadkhah.vault.keys import key_file_path, load_keys, load_public_keys
from dadkhah.vault.testimony import add_testimony, show_testimony
from dadkhah.workspace import load_workspace
from tests.conftest import POSTGRES_URL, TESTER, write
from tests.vault.conftest import make_persons

runner = CliRunner()


@pytest.fixture(scope="session")
def dropping():
    """Drops the tests' databases in a thread of its own, and waits for the last at the session's end
    (pytest -n spreads this module's tests among others, so a module's end can come at any time).

    PostgreSQL 15 makes DROP DATABASE wait for a full checkpoint (every dirty page written): alone,
    about a second; beside the rest of the suite, up to 30 s, during which the test's teardown held
    its worker. The database is dropped just the same, only while the next tests run."""
    from concurrent.futures import ThreadPoolExecutor

    admin = sa.create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")

    def drop(name: str) -> None:
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="drop-database") as pool:
        drops = []
        yield lambda name: drops.append(pool.submit(drop, name))
    for done in drops:
        done.result()  # a failed drop fails here, as it failed the test's teardown before
    admin.dispose()


@pytest.fixture
def new_database(dropping):
    """Makes new, empty PostgreSQL databases, as ``createdb`` does (their URLs), dropped afterwards."""
    from tests.conftest import _postgres_available

    problem = _postgres_available()
    if problem:
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(f"PostgreSQL is required in CI but unreachable at {POSTGRES_URL}: {problem}")
        pytest.skip(f"PostgreSQL unreachable: {problem}")
    made = []

    def new() -> str:
        name = f"dadkhah_restore_{uuid.uuid4().hex[:10]}"
        admin = sa.create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
        admin.dispose()
        made.append(name)
        return sa.make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)

    yield new
    for name in made:
        dropping(name)


@pytest.fixture
def fresh_database(new_database):
    """A new, empty PostgreSQL database (its URL), dropped afterwards."""
    return new_database()


@pytest.fixture
def case(store, keys, tmp_path):
    """Records, persons, testimonies and evidence in a workspace with keys."""
    store.use_keys(keys)
    persons = make_persons(store, tmp_path, count=4)
    transcript = write(tmp_path / "t.txt", "synthetic transcript\n")
    testimony = add_testimony(store, keys, actor=TESTER, witness_name="Synthetic Witness Kappa", transcript=transcript,
                              language="en", consent="investigators", about=persons[:2])
    (tmp_path / "e.bin").write_bytes(os.urandom(200_000))
    evidence = add_evidence(store, keys, [tmp_path / "e.bin"], actor=TESTER, about=persons[1:3])
    return {"testimony": testimony["id"], "evidence": evidence[0]["id"], "file": tmp_path / "e.bin"}


def summary_of(workspace) -> dict:
    with open_store(workspace) as opened, opened.session() as session:
        return case_summary(session)


def check_restored(restored: dict, original_summary: dict, case: dict, tmp_path, database_url=None) -> None:
    assert restored["custody_intact"] and restored["audit_intact"]
    workspace = load_workspace(restored["into"], database_url=database_url)
    assert summary_of(workspace) == original_summary
    keys = load_keys(workspace)
    assert keys.head_tag == restored["heads_name"]
    with open_store(workspace, keys=keys) as store:
        assert show_testimony(store, keys, case["testimony"], actor=TESTER)["transcript"] == "synthetic transcript\n"
        out = tmp_path / f"back-{uuid.uuid4().hex[:6]}.bin"
        assert get_evidence(store, keys, case["evidence"], out, actor=TESTER)["verified"]
        assert out.read_bytes() == case["file"].read_bytes()
        with store.session() as session:
            assert verify_chain(session, keys)["valid"]
            restored_events = [e for e in list_audit(session, limit=None) if e["action"] == "workspace restored"]
        assert verify_audit(store)["intact"]
    assert restored_events and restored_events[0]["details"]["backup_sha256"] == restored["backup_sha256"]


def test_a_backup_restores_into_a_workspace_that_verifies_and_sums_up_alike(store, keys, case, tmp_path,
                                                                             database_url):
    original = summary_of(store.workspace)
    made = make_backup(store, keys, tmp_path / "case.backup", actor=TESTER)
    assert made["method"] == ("sqlite-backup" if database_url is None else "pg_dump")
    assert made["counts"]["testimonies"] == 1 and made["counts"]["evidence"] == 1 and made["counts"]["records"] == 4
    with store.session() as session:
        audited = [e for e in list_audit(session, limit=None) if e["action"] == "backup made"]
    assert audited[0]["details"]["sha256"] == made["sha256"] and audited[0]["details"]["size_bytes"] == made["size_bytes"]

    # Never the keys: no key file, no secret in any byte of the backup.
    archive = (tmp_path / "case.backup").read_bytes()
    document = json.loads(key_file_path(store.workspace).read_text())
    for secret in (keys.master_key, keys.index_key, bytes(keys.signing_key.private_bytes_raw())):
        assert secret not in archive and base64.b64encode(secret) not in archive and secret.hex().encode() not in archive
    assert document["secrets"]["plain"].encode() not in archive
    with tarfile.open(tmp_path / "case.backup") as opened:
        assert not [n for n in opened.getnames() if n.endswith(".key") or "head" in n]

    if database_url is not None:  # a PostgreSQL dump restores into PostgreSQL (the tests with a fresh database)
        with pytest.raises(InputError, match="PostgreSQL dump"):
            restore_backup(tmp_path / "case.backup", tmp_path / "restored", actor=TESTER)
        assert not (tmp_path / "restored").exists()
        return
    restored = restore_backup(tmp_path / "case.backup", tmp_path / "restored", actor=TESTER)
    check_restored(restored, original, case, tmp_path)


def pg_case_backed_up(database_url: str, tmp_path) -> tuple[dict, dict, dict]:
    """A workspace on PostgreSQL with persons, a testimony and an evidence file, backed up with
    pg_dump: (what the backup said, the workspace's summary, the case to check a restore by)."""
    from dadkhah.vault.keys import create_keys
    from dadkhah.workspace import create_workspace

    workspace = create_workspace(tmp_path / "ws", database_url=database_url)
    create_keys(workspace)
    workspace = workspace.reloaded()
    with open_store(workspace) as store:
        keys = load_keys(workspace)
        store.use_keys(keys)
        persons = make_persons(store, tmp_path, count=3)
        testimony = add_testimony(store, keys, actor=TESTER, witness_name="Synthetic Lambda",
                                  transcript=write(tmp_path / "t.txt", "synthetic transcript\n"), language="fa",
                                  consent="courts", about=persons[:1])
        (tmp_path / "e.bin").write_bytes(os.urandom(5000))
        evidence = add_evidence(store, keys, [tmp_path / "e.bin"], actor=TESTER)
        made = make_backup(store, keys, tmp_path / "pg.backup", actor=TESTER)
        with store.session() as session:
            made["schema_seen"] = session.scalar(sa.text("SELECT current_schema()"))
        original = summary_of(workspace)
    assert made["method"] == "pg_dump" and made["database"] == "postgresql"
    return made, original, {"testimony": testimony["id"], "evidence": evidence[0]["id"], "file": tmp_path / "e.bin"}


@pytest.mark.postgres
def test_postgresql_restores_into_a_fresh_database(postgres_url, fresh_database, tmp_path):
    made, original, case = pg_case_backed_up(postgres_url, tmp_path)
    assert made["schema_seen"] != "public"  # the tests' own schema, renamed on the way
    with pytest.raises(InputError, match="PostgreSQL dump"):
        restore_backup(tmp_path / "pg.backup", tmp_path / "r0", actor=TESTER)
    restored = restore_backup(tmp_path / "pg.backup", tmp_path / "restored", actor=TESTER, database_url=fresh_database)
    check_restored(restored, original, case, tmp_path, database_url=fresh_database)
    with pytest.raises(InputError, match="not empty"):
        restore_backup(tmp_path / "pg.backup", tmp_path / "again", actor=TESTER, database_url=fresh_database)


@pytest.mark.postgres
def test_a_workspace_in_a_databases_own_schema_restores_into_a_database_made_by_createdb(new_database, tmp_path):
    """The usual deployment: a database of the case's own, its tables in the schema "public" that
    every new database already has (the dump creates it too)."""
    original_url, into_url = new_database(), new_database()
    made, original, case = pg_case_backed_up(original_url, tmp_path)
    assert made["schema_seen"] == "public"
    restored = restore_backup(tmp_path / "pg.backup", tmp_path / "restored", actor=TESTER, database_url=into_url)
    check_restored(restored, original, case, tmp_path, database_url=into_url)


@pytest.mark.postgres
def test_without_pg_dump_a_logical_dump_restores_into_sqlite_or_postgresql(postgres_url, fresh_database, tmp_path,
                                                                           monkeypatch):
    from dadkhah.vault.keys import create_keys
    from dadkhah.workspace import create_workspace

    workspace = create_workspace(tmp_path / "ws", database_url=postgres_url)
    create_keys(workspace)
    workspace = workspace.reloaded()
    with open_store(workspace) as store:
        keys = load_keys(workspace)
        store.use_keys(keys)
        make_persons(store, tmp_path, count=3)
        testimony = add_testimony(store, keys, actor=TESTER, witness_name="Synthetic Mu",
                                  transcript=write(tmp_path / "t.txt", "synthetic transcript\n"), language="en",
                                  consent="courts")
        (tmp_path / "e.bin").write_bytes(os.urandom(5000))
        evidence = add_evidence(store, keys, [tmp_path / "e.bin"], actor=TESTER)
        with monkeypatch.context() as patched:
            patched.setenv("PATH", "/nonexistent")  # no pg_dump on this machine
            made = make_backup(store, keys, tmp_path / "logical.backup", actor=TESTER)
        original = summary_of(workspace)
    assert made["method"] == "logical"
    case = {"testimony": testimony["id"], "evidence": evidence[0]["id"], "file": tmp_path / "e.bin"}
    check_restored(restore_backup(tmp_path / "logical.backup", tmp_path / "into-sqlite", actor=TESTER),
                   original, case, tmp_path)
    check_restored(restore_backup(tmp_path / "logical.backup", tmp_path / "into-pg", actor=TESTER,
                                  database_url=fresh_database), original, case, tmp_path, database_url=fresh_database)


@pytest.mark.postgres
def test_a_sqlite_backup_restores_into_postgresql(tmp_path, fresh_database, monkeypatch):
    from dadkhah.vault.keys import create_keys
    from dadkhah.workspace import create_workspace

    workspace = create_workspace(tmp_path / "ws")
    create_keys(workspace)
    workspace = workspace.reloaded()
    with open_store(workspace) as store:
        keys = load_keys(workspace)
        store.use_keys(keys)
        make_persons(store, tmp_path, count=2)
        testimony = add_testimony(store, keys, actor=TESTER, witness_name="Synthetic Nu",
                                  transcript=write(tmp_path / "t.txt", "synthetic transcript\n"), language="en",
                                  consent="courts")
        (tmp_path / "e.bin").write_bytes(os.urandom(5000))
        evidence = add_evidence(store, keys, [tmp_path / "e.bin"], actor=TESTER)
        make_backup(store, keys, tmp_path / "lite.backup", actor=TESTER)
        original = summary_of(workspace)
    case = {"testimony": testimony["id"], "evidence": evidence[0]["id"], "file": tmp_path / "e.bin"}
    check_restored(restore_backup(tmp_path / "lite.backup", tmp_path / "r", actor=TESTER, database_url=fresh_database),
                   original, case, tmp_path, database_url=fresh_database)


WRITER = """
import sys, time
from pathlib import Path
from dadkhah.audit import Actor
from dadkhah.store import open_store
from dadkhah.vault.keys import load_keys
from dadkhah.vault.testimony import add_testimony
from dadkhah.workspace import load_workspace

workspace = load_workspace(sys.argv[1], database_url=sys.argv[2] or None)
stop, transcript = Path(sys.argv[3]), Path(sys.argv[4])
with open_store(workspace) as store:
    keys = load_keys(workspace)
    store.use_keys(keys)
    n = 0
    while not stop.exists():
        add_testimony(store, keys, actor=Actor("writer", "cli"), witness_name=f"Synthetic Writer {n % 7}",
                      transcript=transcript, language="en", consent="courts")
        n += 1
        print(n, flush=True)
"""


def test_a_backup_taken_while_another_process_writes_is_consistent(store, keys, case, tmp_path, database_url):
    stop = tmp_path / "stop"
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(store.workspace.path), database_url or "", str(stop),
                               str(tmp_path / "t.txt")], stdout=subprocess.PIPE, text=True,
                              env=os.environ | {"PYTHONPATH": str(Path(__file__).resolve().parents[2])})
    try:
        assert writer.stdout.readline().strip()  # it is writing
        made = [make_backup(store, keys, tmp_path / f"during-{i}.backup", actor=TESTER) for i in range(2)]
    finally:
        stop.touch()
        writer.wait(timeout=60)
    assert writer.returncode == 0
    with store.session() as session:
        total = session.scalar(sa.text("SELECT count(*) FROM testimonies"))
    assert made[0]["counts"]["testimonies"] < total  # the writer went on after the snapshot
    if database_url is not None:
        return  # the restore of a pg_dump is checked with a fresh database above
    for number, backup in enumerate(made):
        restored = restore_backup(tmp_path / f"during-{number}.backup", tmp_path / f"restored-{number}", actor=TESTER)
        assert restored["custody_intact"] and restored["audit_intact"]
        with open_store(load_workspace(restored["into"])) as opened, opened.session() as session:
            assert session.scalar(sa.text("SELECT count(*) FROM testimonies")) == backup["counts"]["testimonies"]
            assert session.scalar(sa.text("SELECT count(*) FROM custody_events")) == backup["counts"]["custody_events"]


def rewrite(source: Path, target: Path, change) -> None:
    """A copy of the backup with its members passed through ``change(info, data)`` (None drops one)."""
    with tarfile.open(source) as old, tarfile.open(target, "w", format=tarfile.PAX_FORMAT) as new:
        for info in old.getmembers():
            data = old.extractfile(info).read()
            changed = change(info, data)
            if changed is None:
                continue
            info, data = changed
            info.size = len(data)
            new.addfile(info, io.BytesIO(data))


def test_a_tampered_backup_is_refused_naming_the_member_and_nothing_is_written(store, keys, case, tmp_path):
    made = make_backup(store, keys, tmp_path / "good.backup", actor=TESTER)
    assert read_backup(tmp_path / "good.backup")["counts"] == made["counts"]

    def flip_blob(info, data):
        if info.name.startswith("workspace/blobs/"):
            data = data[:-1] + bytes([data[-1] ^ 1])
        return info, data

    rewrite(tmp_path / "good.backup", tmp_path / "blob.backup", flip_blob)
    with pytest.raises(BackupError) as raised:
        restore_backup(tmp_path / "blob.backup", tmp_path / "r1", actor=TESTER)
    blob = next(n for n in tarfile.open(tmp_path / "good.backup").getnames() if n.startswith("workspace/blobs/"))
    assert f"the member {blob} differs from the manifest" in str(raised.value)
    assert not (tmp_path / "r1").exists()

    def edit_manifest(info, data):
        if info.name == "manifest.json":
            data = data.replace(b'"testimonies": 1', b'"testimonies": 9')
        return info, data

    rewrite(tmp_path / "good.backup", tmp_path / "manifest.backup", edit_manifest)
    with pytest.raises(BackupError, match="manifest.json does not match its signature"):
        restore_backup(tmp_path / "manifest.backup", tmp_path / "r2", actor=TESTER)

    def add_escape(info, data):
        if info.name == "manifest.json":
            extra = tarfile.TarInfo("workspace/../../escaped.txt")
            return extra, b"planted"
        return info, data

    rewrite(tmp_path / "good.backup", tmp_path / "escape.backup", add_escape)
    with pytest.raises(BackupError, match="could land outside"):
        restore_backup(tmp_path / "escape.backup", tmp_path / "r3", actor=TESTER)
    assert not (tmp_path / "escaped.txt").exists() and not (tmp_path / "r3").exists()

    with tarfile.open(tmp_path / "good.backup") as old, tarfile.open(tmp_path / "added.backup", "w") as new:
        for info in old.getmembers():
            new.addfile(info, old.extractfile(info))
        planted = tarfile.TarInfo("workspace/blobs/aa/planted.sealed")
        planted.size = 3
        new.addfile(planted, io.BytesIO(b"bad"))
    with pytest.raises(BackupError, match="workspace/blobs/aa/planted.sealed is not in the signed manifest"):
        restore_backup(tmp_path / "added.backup", tmp_path / "r4", actor=TESTER)

    (tmp_path / "full").mkdir()
    write(tmp_path / "full" / "x.txt", "something")
    with pytest.raises(InputError, match="not an empty folder"):
        restore_backup(tmp_path / "good.backup", tmp_path / "full", actor=TESTER)


def test_restoring_keeps_the_original_s_rollback_check_and_counts_what_the_backup_lacks(store, keys, case, tmp_path,
                                                                                      database_url, request):
    target_url = request.getfixturevalue("fresh_database") if database_url else None
    make_backup(store, keys, tmp_path / "early.backup", actor=TESTER)
    for _ in range(3):
        add_testimony(store, keys, actor=TESTER, witness_name="Synthetic Later", transcript=tmp_path / "t.txt",
                      language="en", consent="courts")
    restored = restore_backup(tmp_path / "early.backup", tmp_path / "restored", actor=TESTER, database_url=target_url)
    # 3 testimonies recorded (and the witness once) after the backup: missing from the restored copy, and said so.
    assert restored["events_after_backup"]["custody"] == 4 and restored["custody_intact"]
    # The restored copy goes on with its own heads; the original still verifies against its own.
    restored_ws = load_workspace(restored["into"], database_url=target_url)
    copy_keys = load_keys(restored_ws)
    with open_store(restored_ws, keys=copy_keys) as copy:
        add_testimony(copy, copy_keys, actor=TESTER, witness_name="Synthetic Copy", transcript=tmp_path / "t.txt",
                      language="en", consent="courts")
        with copy.session() as session:
            assert verify_chain(session, copy_keys)["valid"]
    with store.session() as session:
        assert verify_chain(session, keys)["valid"]
    # Putting the early database back by hand over the original is still caught as a rollback.
    if store.workspace.is_sqlite:
        store.engine.dispose()
        with tarfile.open(tmp_path / "early.backup") as opened:
            early = opened.extractfile("database/dadkhah.db").read()
        for suffix in ("-wal", "-shm"):
            Path(str(store.workspace.path / "dadkhah.db") + suffix).unlink(missing_ok=True)
        (store.workspace.path / "dadkhah.db").write_bytes(early)
        with open_store(store.workspace) as rolled, rolled.session() as session:
            problems = verify_chain(session, keys)["problems"]
        assert any("last events were removed" in p["problem"] for p in problems)


def test_restore_needs_the_key_file_that_signed_the_backup(store, keys, case, tmp_path):
    make_backup(store, keys, tmp_path / "b.backup", actor=TESTER)
    from dadkhah.vault.keys import create_keys
    from dadkhah.workspace import create_workspace

    other = create_workspace(tmp_path / "other")
    create_keys(other, key_file=tmp_path / "other.key")
    with pytest.raises(BackupError, match="belongs to workspace"):
        restore_backup(tmp_path / "b.backup", tmp_path / "r", actor=TESTER, key_file=tmp_path / "other.key")
    with pytest.raises(InputError, match="key file .* is missing"):
        restore_backup(tmp_path / "b.backup", tmp_path / "r", actor=TESTER, key_file=tmp_path / "nowhere.key")
    assert not (tmp_path / "r").exists()
    assert load_public_keys(store.workspace).fingerprint == keys.fingerprint


def test_backup_and_restore_commands(tmp_path, monkeypatch):
    monkeypatch.delenv("DADKHAH_DATABASE_URL", raising=False)
    ws = tmp_path / "ws"

    def ok(*args, workspace=ws):
        result = runner.invoke(app, [*(["--workspace", str(workspace)] if workspace else []), *args, "--json"],
                               catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout)

    ok("init", str(ws))
    write(tmp_path / "t.txt", "synthetic\n")
    write(tmp_path / "w.toml", 'name = "Synthetic Witness Xi"\n')
    ok("testimony", "add", "--witness-file", str(tmp_path / "w.toml"), "--transcript", str(tmp_path / "t.txt"),
       "--language", "en", "--consent", "investigators")
    made = ok("backup", "--out", str(tmp_path / "ws.backup"))
    refused = runner.invoke(app, ["--workspace", str(ws), "backup", "--out", str(tmp_path / "ws.backup"), "--json"])
    assert refused.exit_code == 1 and json.loads(refused.stdout)["error"]["field"] == "force"
    restored = ok("restore", str(tmp_path / "ws.backup"), "--into", str(tmp_path / "restored"), workspace=None)
    assert restored["backup_sha256"] == made["sha256"] and restored["custody_intact"]
    assert ok("custody", "verify", workspace=tmp_path / "restored")["valid"]
    assert ok("report", "summary", workspace=tmp_path / "restored") == ok("report", "summary")
    assert ok("testimony", "show", "T-0001", workspace=tmp_path / "restored")["transcript"] == "synthetic\n"
    # a file that is not a backup, or one cut short: the error names it, for scripts as for people
    write(tmp_path / "not.backup", "not a tar file")
    cut = tmp_path / "cut.backup"
    cut.write_bytes((tmp_path / "ws.backup").read_bytes()[:5000])
    for bad in (tmp_path / "not.backup", cut):
        refused = runner.invoke(app, ["restore", str(bad), "--into", str(tmp_path / "again"), "--json"])
        error = json.loads(refused.stdout)["error"]
        assert refused.exit_code == 1 and error["file"] == str(bad), error


def test_a_backup_made_before_a_rotation_restores_with_the_key_file_of_its_time(store, keys, case, tmp_path,
                                                                                database_url, request):
    from dadkhah.vault.keycare import join_shares, rotate_keys, split_keys

    target_url = request.getfixturevalue("fresh_database") if database_url else None

    shares = split_keys(store, shares=3, threshold=2, out=tmp_path / "shares", actor=TESTER)["files"]
    make_backup(store, keys, tmp_path / "before.backup", actor=TESTER)
    rotated = rotate_keys(store, actor=TESTER)
    with pytest.raises(BackupError, match=re.escape(f"signed by the key {keys.fingerprint}, not by this key file's "
                                                    f"{rotated['new_fingerprint']}")):
        restore_backup(tmp_path / "before.backup", tmp_path / "r", actor=TESTER, database_url=target_url)
    assert not (tmp_path / "r").exists()
    old = join_shares(shares[:2], tmp_path / "old.key")["key_file"]
    restored = restore_backup(tmp_path / "before.backup", tmp_path / "r", actor=TESTER, key_file=old,
                              database_url=target_url)
    assert restored["custody_intact"] and restored["audit_intact"]
    workspace = load_workspace(restored["into"], database_url=target_url)
    opened = load_keys(workspace)
    assert opened.fingerprint == keys.fingerprint
    with open_store(workspace, keys=opened) as restored_store:
        assert show_testimony(restored_store, opened, case["testimony"], actor=TESTER)["transcript"] == \
            "synthetic transcript\n"


def test_what_jobs_made_for_download_is_left_out_and_a_file_removed_meanwhile_is_a_clear_error(store, keys, case,
                                                                                               tmp_path, monkeypatch):
    import dadkhah.vault.backup as backup

    printed = store.workspace.printed_dir / ("a" * 32)  # a report a job printed, kept for its download
    printed.mkdir(parents=True)
    (printed / "report.pdf").write_bytes(b"%PDF-1.7 synthetic")
    made = make_backup(store, keys, tmp_path / "case.backup", actor=TESTER)
    with tarfile.open(tmp_path / "case.backup") as opened:
        names = opened.getnames()
    assert "workspace/dadkhah.toml" in names and not [n for n in names if n.startswith("workspace/printed")]
    assert made["sha256"]

    # A list waiting for its import when the backup lists the files, removed by its job before it is read.
    upload = store.workspace.uploads_dir / ("b" * 32) / "list.csv"
    upload.parent.mkdir(parents=True)
    upload.write_text("given_name,family_name\nReza,Karimi\n", encoding="utf-8")
    listed = backup._workspace_files

    def listed_then_removed(root, out):
        files = listed(root, out)
        upload.unlink()
        return files

    monkeypatch.setattr(backup, "_workspace_files", listed_then_removed)
    with pytest.raises(backup.BackupError, match="was removed while the backup was made"):
        make_backup(store, keys, tmp_path / "again.backup", actor=TESTER)
    assert not (tmp_path / "again.backup").exists() and not list(tmp_path.glob(".again.backup*"))


def no_backup_written(tmp_path: Path, name: str) -> bool:
    """Neither the backup nor anything of its making (the partial file, the snapshot's folder) is left."""
    return not (tmp_path / name).exists() and not list(tmp_path.glob(f".{name}*"))


def test_a_workspace_whose_newest_events_were_removed_is_not_backed_up(store, keys, case, tmp_path):
    """Putting an older copy of the database back removes the newest custody and audit events: the
    verifications see it against the heads kept beside the key file, and so must the backup, which
    would otherwise carry the shortened chains into a copy that verifies as intact."""
    from dadkhah.model import AuditEvent, CustodyEvent

    tables = {"custody_events": CustodyEvent, "audit_events": AuditEvent}
    with store.session() as session:
        kept = {name: session.scalar(sa.select(sa.func.max(table.seq))) for name, table in tables.items()}
    show_testimony(store, keys, case["testimony"], actor=TESTER, reveal_witness=True)  # custody and audit events
    with store.session() as session:
        recorded = {name: session.scalar(sa.select(sa.func.max(table.seq))) for name, table in tables.items()}
        for name, table in tables.items():  # what an older copy of the database put back lacks
            session.execute(sa.delete(table).where(table.seq > kept[name]))
    with pytest.raises(BackupRefused) as refused:
        make_backup(store, keys, tmp_path / "rolled.backup", actor=TESTER)
    message = str(refused.value)
    assert message.startswith("No backup was made.")
    assert (f"The chain of custody is not intact: event {kept['custody_events'] + 1}: the chain ends at event "
            f"{kept['custody_events']} but event {recorded['custody_events']} was recorded: the last events were "
            "removed") in message
    assert (f"The audit log is not intact: event {kept['audit_events'] + 1}: the chain ends at event "
            f"{kept['audit_events']} but event {recorded['audit_events']} was recorded") in message
    assert {p["chain"] for p in refused.value.problems} == {"custody", "audit"}
    assert no_backup_written(tmp_path, "rolled.backup")
    with store.session() as session:  # a refused backup records nothing
        assert not [e for e in list_audit(session, limit=None) if e["action"] == "backup made"]


def test_the_backup_command_refuses_a_database_put_back_by_hand(tmp_path, monkeypatch):
    """The tester's report: an older copy of the database put back, then `backup` (it exited 0)."""
    monkeypatch.delenv("DADKHAH_DATABASE_URL", raising=False)
    ws = tmp_path / "ws"

    def run(*args):
        return runner.invoke(app, ["--workspace", str(ws), *args, "--json"])

    assert run("init", str(ws)).exit_code == 0
    write(tmp_path / "t.txt", "synthetic\n")
    write(tmp_path / "w.toml", 'name = "Synthetic Witness Omicron"\n')
    assert run("testimony", "add", "--witness-file", str(tmp_path / "w.toml"), "--transcript", str(tmp_path / "t.txt"),
               "--language", "en", "--consent", "investigators").exit_code == 0
    import sqlite3

    with sqlite3.connect(ws / "dadkhah.db") as live, sqlite3.connect(tmp_path / "old.db") as old:
        live.backup(old)
    assert run("testimony", "show", "T-0001", "--reveal-witness").exit_code == 0
    for suffix in ("-wal", "-shm"):
        Path(f"{ws / 'dadkhah.db'}{suffix}").unlink(missing_ok=True)
    (ws / "dadkhah.db").write_bytes((tmp_path / "old.db").read_bytes())
    # (in a process of its own: this one may still hold the database it replaced open)
    refused = subprocess.run([sys.executable, "-m", "dadkhah", "--workspace", str(ws), "backup", "--out",
                              str(tmp_path / "ws.backup"), "--json"], capture_output=True, text=True, check=False,
                             env=os.environ | {"PYTHONPATH": str(Path(__file__).resolve().parents[2] / "src")})
    assert refused.returncode == 1, refused.stderr
    error = json.loads(refused.stdout)["error"]
    assert "chain of custody is not intact" in error["message"] and "audit log is not intact" in error["message"]
    assert any("the last events were removed" in p["problem"] for p in error["problems"] if p["chain"] == "custody")
    assert no_backup_written(tmp_path, "ws.backup")


def older_version_backup(source: Path, target: Path, keys) -> None:
    """``source`` as a version that did not check the chains first made it: no remembered heads in its
    manifest (signed again with the workspace's key, as that version signed it)."""
    def drop_heads(info, data):
        if info.name == "manifest.json":
            manifest = json.loads(data)
            manifest.pop("remembered_heads")
            data = (json.dumps(manifest, indent=1, ensure_ascii=False) + "\n").encode("utf-8")
            drop_heads.body = data
        elif info.name == "manifest.sig":
            signature = json.loads(data)
            signature["signature"] = base64.b64encode(keys.signing_key.sign(drop_heads.body)).decode("ascii")
            data = (json.dumps(signature, indent=1) + "\n").encode()
        return info, data

    rewrite(source, target, drop_heads)


def test_restore_says_events_came_after_the_backup_only_when_the_backup_checked_the_chains(
        store, keys, case, tmp_path, monkeypatch, database_url, request):
    urls = {name: request.getfixturevalue("new_database")() if database_url else None for name in ("checked", "older")}
    make_backup(store, keys, tmp_path / "checked.backup", actor=TESTER)
    older_version_backup(tmp_path / "checked.backup", tmp_path / "older.backup", keys)
    show_testimony(store, keys, case["testimony"], actor=TESTER)  # the original goes on after both
    monkeypatch.delenv("DADKHAH_DATABASE_URL", raising=False)
    said = {}
    for name, url in urls.items():
        result = runner.invoke(app, ["restore", str(tmp_path / f"{name}.backup"), "--into", str(tmp_path / name),
                                     *(["--database-url", url] if url else [])])
        assert result.exit_code == 0, result.output
        said[name] = result.stderr
    # 1 custody event (the testimony read), 2 audit events ("backup made", "testimony read")
    assert "The original recorded events after this backup that the restored workspace lacks: 1 custody, 2 audit." \
        in said["checked"]
    # An older backup may have been made of a database put back by hand: what it lacks may have been
    # removed before it, and restore must not say they were recorded after it.
    assert "recorded events after this backup" not in said["older"]
    assert "made by an older version of Dadkhah, which did not check the chains first" in said["older"]
    restored = load_workspace(tmp_path / "older", database_url=urls["older"])
    with open_store(restored) as opened, opened.session() as session:
        event = next(e for e in list_audit(session, limit=None) if e["action"] == "workspace restored")
    assert event["details"]["chains_checked_when_made"] is False
    # A restored workspace keeps its heads apart from the original's, and is backed up like any other.
    copied = load_workspace(tmp_path / "checked", database_url=urls["checked"])
    restored_keys = load_keys(copied)
    with open_store(copied, keys=restored_keys) as copy:
        assert make_backup(copy, restored_keys, tmp_path / "of-the-copy.backup", actor=TESTER)["sha256"]


def test_missing_or_damaged_sealed_files_are_not_backed_up(store, keys, case, tmp_path):
    """A sealed file gone from the blob store, cut short or replaced by another item's: the backup
    names each item and file instead of carrying it into a copy where only `evidence get` fails."""
    for name in ("f.bin", "g.bin", "h.bin"):
        (tmp_path / name).write_bytes(os.urandom(3_000_000))  # three chunks each, the same size
    added = add_evidence(store, keys, [tmp_path / n for n in ("f.bin", "g.bin", "h.bin")], actor=TESTER)
    with store.session() as session:
        blobs = dict(session.execute(sa.text("SELECT evidence_id, blob_path FROM evidence_items")).all())
    first, cut, swapped = case["evidence"], added[0]["id"], added[1]["id"]
    root = store.workspace.path
    (root / blobs[first]).unlink()
    with open(root / blobs[cut], "r+b") as handle:
        handle.truncate(handle.seek(0, 2) - 100)
    (root / blobs[swapped]).write_bytes((root / blobs[added[2]["id"]]).read_bytes())
    with pytest.raises(BackupRefused) as refused:
        make_backup(store, keys, tmp_path / "blobs.backup", actor=TESTER)
    message = str(refused.value)
    assert f"{first} ({blobs[first]}): the sealed file is missing from the blob store" in message
    assert f"{cut} ({blobs[cut]}): the sealed file is damaged" in message
    assert f"{swapped} ({blobs[swapped]}): the sealed file is not this item's" in message
    assert {(p["evidence_id"], p["file"]) for p in refused.value.problems} == \
        {(first, blobs[first]), (cut, blobs[cut]), (swapped, blobs[swapped])}
    assert no_backup_written(tmp_path, "blobs.backup")


def test_a_key_file_or_share_left_in_the_workspace_is_not_backed_up(store, keys, case, tmp_path):
    """"Never the keys": a copy of the key file or a key share inside the workspace folder, whatever its
    name, is named, and the backup refused until it is moved out."""
    from dadkhah.vault.keycare import split_keys

    shares = split_keys(store, shares=2, threshold=2, out=tmp_path / "shares", actor=TESTER)["files"]
    notes = store.workspace.path / "notes"
    notes.mkdir()
    (notes / "keep-this.txt").write_bytes(key_file_path(store.workspace).read_bytes())
    (store.workspace.path / "quarantine" / "share.json").write_bytes(Path(shares[0]).read_bytes())
    write(notes / "ordinary.json", json.dumps({"format": 1, "secrets": "none here", "share": 1}))
    with pytest.raises(BackupRefused) as refused:
        make_backup(store, keys, tmp_path / "keys.backup", actor=TESTER)
    message = str(refused.value)
    assert "notes/keep-this.txt is a key file" in message and "quarantine/share.json is a key share" in message
    assert "move them out of the workspace folder" in message
    assert [(p["key"], p["file"]) for p in refused.value.problems] == [("key file", "notes/keep-this.txt"),
                                                                     ("key share", "quarantine/share.json")]
    assert no_backup_written(tmp_path, "keys.backup")
    (notes / "keep-this.txt").unlink()
    (store.workspace.path / "quarantine" / "share.json").unlink()
    make_backup(store, keys, tmp_path / "keys.backup", actor=TESTER)
    with tarfile.open(tmp_path / "keys.backup") as opened:
        assert "workspace/notes/ordinary.json" in opened.getnames()
