"""Backups of a workspace, and restoring one: a single signed file, never the keys.

A backup (:func:`make_backup`) is one tar file holding

* ``database/``: a consistent snapshot of the database, taken while others keep writing. SQLite
  through its online backup API (one step, under one read transaction); PostgreSQL through
  ``pg_dump`` (custom format) on a snapshot exported from a transaction that also counts the rows,
  or, when ``pg_dump`` is not on the PATH or cannot talk to the server, a logical dump written
  here (one JSON-lines file per table, read in that same repeatable-read transaction);
* ``workspace/``: every file of the workspace folder: the configuration, the sealed blobs
  (evidence files, intake attachments), quarantine reports; not the live database, ``private/``
  (plaintext in passing), ``printed/`` (reports and memorial sites made by jobs for download, of
  what may be published: made again on request), nor temporary files;
* ``manifest.json``: every member with its SHA-256 and size, the database's kind, schema revision
  and row counts, the chains' newest events (*heads*) and the heads remembered beside the key file
  that they were checked against, when; and ``manifest.sig``, the workspace's Ed25519 signature over
  the manifest's exact bytes.

Never the key file, the keys or a passphrase: a backup opens nothing sealed without the key file
(kept, and backed up, apart; or split into shares).

**What is checked before anything is written.** A backup must not carry damage that, restored, would
no longer show: both chains are verified in the snapshot itself, as ``custody verify`` and ``audit
verify`` do, against the heads remembered beside the key file (read before the snapshot is taken,
since writers move them on meanwhile, never back), so a database put back from an older copy is
refused; every evidence item's sealed file is checked cheaply (present, the size its recorded
content needs, a header whose label opens the item's wrapped key: nothing is decrypted); and no file
of the workspace folder may be a key file or a key share, recognised by its content. Each problem is
named (:class:`BackupRefused`).

Restoring (:func:`restore_backup`) checks the signature against the key file the user names and
every member's SHA-256 and size against the manifest, refuses any member the manifest does not list
and any name that could land outside the target, all before writing anything; then writes a new
workspace folder (and database: the workspace's SQLite file, or an empty PostgreSQL database).

**The chains' heads.** The newest custody and audit events are remembered beside the key file, so
that removing the newest events is caught. A restored workspace is a copy of the workspace at the
moment of the backup: checking it against the original's heads would report a false rollback
whenever the original went on after the backup (and a restored copy moving those heads would make
the original report one). So a restored workspace remembers its heads under a name of its own
(``[vault] heads`` in its configuration, files ``<key file>.<name>.<chain>-head``), starting from
the heads the signed manifest records. A real rollback stays visible: the original's heads are left
untouched (the original, or a copy of its database put back by hand, is still checked against
them), and the restored workspace's audit log begins its new life with "workspace restored", which
names the backup and how many custody and audit events the original recorded after it (for a backup
made before backups checked the chains, those may instead have been removed before it: it says
whether the backup recorded the heads it was checked against).
"""

from __future__ import annotations

import base64
import datetime as dt
import decimal
import hashlib
import io
import json
import os
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
import uuid
from pathlib import Path, PurePosixPath

import sqlalchemy as sa
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy.orm import Session

from dadkhah import __version__
from dadkhah.audit import AUDIT_CHAIN, Actor, check_audit_chain, record_audit
from dadkhah.chain import advance_head, read_head
from dadkhah.errors import DadkhahError, InputError
from dadkhah.model import EvidenceItem
from dadkhah.store import (
    Store,
    create_engine,
    current_revision,
    migrate,
    normalise_database_url,
    open_store,
)
from dadkhah.vault.crypto import MAGIC, TAG, DecryptionError, read_header, unwrap_key
from dadkhah.vault.custody import CUSTODY_CHAIN, verify_chain
from dadkhah.vault.keycare import is_share_document
from dadkhah.vault.keys import (
    ENV_KEY_FILE,
    VaultKeys,
    fingerprint,
    is_key_document,
    load_keys_unattended,
    read_key_document,
    set_vault_config,
)
from dadkhah.workspace import CONFIG_NAME, DATABASE_NAME, load_workspace

FORMAT = "dadkhah-backup/1"
MANIFEST = "manifest.json"
SIGNATURE = "manifest.sig"
# What a backup leaves out of the workspace folder: the live database, plaintext in passing, what
# jobs made for download (made again on request), and what runs in progress write.
_SKIPPED_TOP = {DATABASE_NAME, f"{DATABASE_NAME}-wal", f"{DATABASE_NAME}-shm", f"{DATABASE_NAME}-journal",
                f"{DATABASE_NAME}-writer", "private", "printed"}
_SKIPPED_SUFFIXES = (".part", ".rewrap", ".new", ".lock", ".tmp")
COUNTED = {"persons": "persons", "records": "records", "sources": "sources", "testimonies": "testimonies",
           "witnesses": "witnesses", "evidence": "evidence_items", "custody_events": "custody_events",
           "audit_events": "audit_events"}


class BackupError(DadkhahError):
    """A backup cannot be made or restored (the message says which file or member, and why; ``file``
    names the backup when it is at fault)."""

    def __init__(self, message: str, file: str | None = None):
        super().__init__(message)
        self.file = file

    def to_dict(self) -> dict:
        return {"message": str(self)} | ({"file": self.file} if self.file else {})


class BackupRefused(BackupError):
    """The workspace cannot be backed up as it is, and nothing was written: a chain is not intact, a
    sealed file is missing or damaged, or a key file (or key share) lies in the workspace folder.
    ``problems`` lists each: ``{"chain", "seq", "problem"}``, ``{"evidence_id", "file", "problem"}``
    or ``{"key", "file", "problem"}`` (files relative to the workspace)."""

    def __init__(self, message: str, problems: list[dict]):
        super().__init__(message)
        self.problems = problems

    def to_dict(self) -> dict:
        return super().to_dict() | {"problems": self.problems}


# ----- small helpers -----------------------------------------------------------------------------------


def _now() -> str:
    return dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()


def _sha256_file(path: Path) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    with open(path, "rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
            size += len(block)
    return digest.hexdigest(), size


def _encode(value):
    if isinstance(value, bytes | bytearray | memoryview):
        return {"$b64": base64.b64encode(bytes(value)).decode("ascii")}
    if isinstance(value, dt.datetime):
        return {"$dt": value.isoformat()}
    if isinstance(value, dt.date):
        return {"$d": value.isoformat()}
    if isinstance(value, decimal.Decimal):
        return {"$dec": str(value)}
    if isinstance(value, dict | list):
        return {"$json": value}
    return value


def _decode(value):
    if isinstance(value, dict) and len(value) == 1:
        (tag, inner), = value.items()
        if tag == "$b64":
            return base64.b64decode(inner)
        if tag == "$dt":
            return dt.datetime.fromisoformat(inner)
        if tag == "$d":
            return dt.date.fromisoformat(inner)
        if tag == "$dec":
            return decimal.Decimal(inner)
        if tag == "$json":
            return inner
    return value


def _long(name: str, value: str) -> str:
    """A long option of a PostgreSQL client program that has no short form."""
    return "-" * 2 + f"{name}={value}"


def _libpq(url: sa.URL) -> tuple[str, dict]:
    """A libpq connection string for ``pg_dump``/``pg_restore`` and the environment giving its password."""
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    plain = url.set(drivername="postgresql", password=None)
    return plain.render_as_string(hide_password=False), env


def _tables(connection: sa.Connection) -> list[sa.Table]:
    metadata = sa.MetaData()
    metadata.reflect(bind=connection)
    return [t for t in metadata.sorted_tables if t.name != "alembic_version"]


def _counts_and_heads(connection: sa.Connection) -> tuple[dict, dict, dict]:
    """Rows per table, the summary counts, and the chains' newest events, as ``connection`` sees them."""
    tables = {t.name: connection.scalar(sa.select(sa.func.count()).select_from(t)) for t in _tables(connection)}
    counts = {name: tables.get(table, 0) for name, table in COUNTED.items()}
    heads = {}
    for chain in (CUSTODY_CHAIN, AUDIT_CHAIN):
        row = connection.execute(sa.select(chain.table.seq, chain.table.event_sha256)
                                 .order_by(chain.table.seq.desc()).limit(1)).first()
        heads[chain.name] = {"seq": row[0], "event_sha256": row[1]} if row else None
    return tables, counts, heads


# ----- making a backup ---------------------------------------------------------------------------------


def _snapshot_sqlite(store: Store, folder: Path, inspect) -> tuple[list[tuple[str, Path]], dict]:
    database = Path(store.engine.url.database)
    copy = folder / DATABASE_NAME
    source = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    try:
        target = sqlite3.connect(copy)
        try:
            source.backup(target)  # all pages in one step, under one read transaction: a consistent snapshot
            target.execute("PRAGMA journal_mode=DELETE")
        finally:
            target.close()
    finally:
        source.close()
    engine = sa.create_engine(f"sqlite:///{copy}", hide_parameters=True)
    try:
        with engine.connect() as connection:
            tables, counts, heads = _counts_and_heads(connection)
            revision = connection.scalar(sa.text("SELECT version_num FROM alembic_version"))
            inspected = inspect(connection)
    finally:
        engine.dispose()
    return [(f"database/{DATABASE_NAME}", copy)], {"kind": "sqlite", "method": "sqlite-backup", "schema": None,
                                                   "schema_revision": revision, "tables": tables, "counts": counts,
                                                   "heads": heads, "inspected": inspected}


def _logical_dump(connection: sa.Connection, folder: Path) -> list[tuple[str, Path]]:
    members = []
    (folder / "tables").mkdir()
    for table in _tables(connection):
        path = folder / "tables" / f"{table.name}.jsonl"
        order = [c for c in table.primary_key.columns] or list(table.columns)[:1]
        with open(path, "w", encoding="utf-8") as handle:
            result = connection.execution_options(yield_per=2000).execute(sa.select(table).order_by(*order))
            for row in result.mappings():
                handle.write(json.dumps({k: _encode(v) for k, v in row.items()}, ensure_ascii=False,
                                        separators=(",", ":")) + "\n")
        members.append((f"database/tables/{table.name}.jsonl", path))
    return members


def _snapshot_postgres(store: Store, folder: Path, inspect) -> tuple[list[tuple[str, Path]], dict]:
    with store.engine.connect().execution_options(isolation_level="REPEATABLE READ") as connection:
        schema = connection.scalar(sa.text("SELECT current_schema()"))
        revision = connection.scalar(sa.text("SELECT version_num FROM alembic_version"))
        tables, counts, heads = _counts_and_heads(connection)
        info = {"kind": "postgresql", "schema": schema, "schema_revision": revision, "tables": tables,
                "counts": counts, "heads": heads, "inspected": inspect(connection)}
        if info["inspected"]["problems"]:
            connection.rollback()
            return [], info  # refused before anything is dumped
        snapshot = connection.scalar(sa.text("SELECT pg_export_snapshot()"))
        if shutil.which("pg_dump"):
            url, env = _libpq(store.engine.url)
            dump = folder / "postgres.dump"
            done = subprocess.run(["pg_dump", "-Fc", "-O", "-x", "-n", f"\"{schema}\"", _long("snapshot", snapshot),
                                   "-f", str(dump), "-d", url], env=env, capture_output=True, text=True, check=False)
            if done.returncode == 0:
                connection.rollback()
                return [("database/postgres.dump", dump)], info | {"method": "pg_dump"}
            info["pg_dump_refused"] = (done.stderr or "").strip()[-300:]
            dump.unlink(missing_ok=True)
        members = _logical_dump(connection, folder)
        connection.rollback()
        return members, info | {"method": "logical"}


def _workspace_files(root: Path, out: Path) -> list[tuple[str, Path]]:
    files = []
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root)
        parts = relative.parts
        if parts[0] in _SKIPPED_TOP or parts[:2] == ("blobs", "incoming") or path.is_symlink() or not path.is_file():
            continue
        if path.name.endswith(_SKIPPED_SUFFIXES) or path.resolve() == out.resolve():
            continue
        files.append((f"workspace/{relative.as_posix()}", path))
    return files


def _removed(path) -> BackupError:
    """A file listed for the backup was gone when it was read: a job that ended meanwhile removed it
    (a list uploaded for import, say)."""
    return BackupError(f"{path} was removed while the backup was made (a background job ended, say): try again")


class _Hashing(io.RawIOBase):
    """A file read through once, its SHA-256 taken on the way (into the tar)."""

    def __init__(self, handle) -> None:
        self.handle, self.digest, self.size = handle, hashlib.sha256(), 0

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        block = self.handle.read(size)
        self.digest.update(block)
        self.size += len(block)
        return block


# ----- what a backup checks before it writes ------------------------------------------------------------

_CHAINS = {"custody": "the chain of custody", "audit": "the audit log"}


def _inspect_snapshot(connection: sa.Connection, store: Store, keys: VaultKeys, remembered: dict) -> dict:
    """What the snapshot holds that the backup must check: both chains, verified as ``custody verify``
    and ``audit verify`` do, against the heads ``remembered`` beside the key file before the snapshot
    was taken (problems as ``{"chain", "seq", "problem"}``); and the evidence items, whose sealed
    files are checked against the workspace folder afterwards."""
    with Session(bind=connection) as session:
        reports = {"custody": verify_chain(session, keys, head=remembered["custody"]),
                   "audit": check_audit_chain(session, store.workspace, keys, head=remembered["audit"])}
    problems = [{"chain": chain, "seq": p.get("seq"), "problem": p["problem"]}
                for chain, report in reports.items() for p in report["problems"]]
    items = connection.execute(sa.select(EvidenceItem.evidence_id, EvidenceItem.blob_path, EvidenceItem.size_bytes,
                                         EvidenceItem.wrapped_key).order_by(EvidenceItem.id)).all()
    return {"problems": problems, "evidence": items}


def _sealed_file_problem(root: Path, item, listed: set[str], master_key: bytes) -> str | None:
    """What is wrong with the sealed file of one evidence item, by cheap checks (nothing is decrypted
    but its data key): it is in the folder and goes into the backup, it begins as a sealed file does,
    its size is the one its content's recorded size needs, and its header goes with the key the
    database keeps for the item (not another item's file put in its place)."""
    evidence_id, relative, size, wrapped = item
    path = root / relative
    if f"workspace/{PurePosixPath(relative).as_posix()}" not in listed:
        if path.is_symlink():
            return "the sealed file is a link to another place, which a backup does not follow"
        return "the sealed file is missing from the blob store"
    try:
        with open(path, "rb") as handle:
            header, raw = read_header(handle, name=relative)
            actual = os.fstat(handle.fileno()).st_size
    except DecryptionError:
        return "the sealed file is damaged: it does not begin as a sealed file does"
    except OSError as exc:
        return f"the sealed file cannot be read ({exc.strerror})"
    chunk, label = header.get("chunk") if isinstance(header, dict) else None, \
        header.get("label") if isinstance(header, dict) else None
    if not isinstance(chunk, int) or chunk <= 0 or not isinstance(label, str):
        return "the sealed file is damaged: its header is incomplete"
    expected = len(MAGIC) + 4 + len(raw) + size + TAG * max(1, -(-size // chunk))
    if actual != expected:
        return (f"the sealed file is damaged: it holds {actual:,} bytes where a sealed file of {size:,} bytes holds "
                f"{expected:,} (cut short, or altered)")
    if master_key:
        try:
            unwrap_key(master_key, bytes(wrapped), label=label)
        except DecryptionError:
            return ("the sealed file is not this item's: its header does not go with the key the database keeps for "
                    "it (another file was put in its place, or the header was altered)")
    return None


def _key_material(path: Path) -> str | None:
    """``key file`` or ``key share`` when the file at ``path`` is one, by its content (whatever its name)."""
    try:
        if path.stat().st_size > 1 << 20:  # a key file or a share is a few kilobytes
            return None
        with open(path, "rb") as handle:
            start = handle.read(64)
            if not start.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"{"):
                return None
            document = json.loads((start + handle.read()).decode("utf-8-sig"))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError):
        return None
    if is_key_document(document):
        return "key file"
    if is_share_document(document):
        return "key share"
    return None


def _refusal(problems: list[dict]) -> BackupRefused:
    """One message naming every problem found (a few of each kind; ``problems`` holds them all)."""

    def some(found: list[dict], say) -> str:
        shown = "; ".join(say(p) for p in found[:5])
        return shown + (f"; and {len(found) - 5:,} more" if len(found) > 5 else "")

    sentences = []
    for chain, name in _CHAINS.items():
        found = [p for p in problems if p.get("chain") == chain]
        if found:
            sentences.append(f"{name[0].upper()}{name[1:]} is not intact: "
                             + some(found, lambda p: (f"event {p['seq']}: " if p["seq"] is not None else "") + p["problem"])
                             + ".")
    if sentences:
        sentences.append("A backup would carry this damage and, restored, show the chains as intact: find out what "
                         "happened first (dadkhah custody verify and dadkhah audit verify say the same; see the "
                         "operator's guide, Backups).")
    found = [p for p in problems if "evidence_id" in p]
    if found:
        sentences.append("Sealed files of evidence are missing or damaged: "
                         + some(found, lambda p: f"{p['evidence_id']} ({p['file']}): {p['problem']}")
                         + ". Put them back from an older backup or from where they were first taken in; until then "
                           "these items cannot be opened.")
    found = [p for p in problems if "key" in p]
    if found:
        them = "it" if len(found) == 1 else "them"
        sentences.append(some(found, lambda p: f"{p['file']} is a {p['key']}") + " inside the workspace folder, and "
                         f"a backup never holds the keys: move {them} out of the workspace folder (keep {them} apart, "
                         "as the key file is kept), then back up again.")
    return BackupRefused("No backup was made. " + " ".join(sentences), problems)


def make_backup(store: Store, keys: VaultKeys, out, *, actor: Actor, force: bool = False, progress=None) -> dict:
    """Write a backup of the workspace to the new file ``out`` (outside the workspace) and record
    "backup made" in its audit log. ``keys`` (unlocked) sign the manifest; they are not in the backup.
    ``progress(done, total)`` follows the bytes written.

    Before writing it, checks what it would hold and refuses (:class:`BackupRefused`, naming every
    problem) when the chain of custody or the audit log in the snapshot is not intact (compared with
    the newest events remembered beside the key file, as their verifications do), when the sealed file
    of an evidence item is missing or damaged, or when a key file or key share lies in the workspace."""
    if keys is None or keys.signing_key is None:
        raise BackupError("a backup is signed with the workspace's signing key: unlock the keys first")
    workspace = store.workspace
    target = Path(out).expanduser()
    if target.resolve().is_relative_to(workspace.path.resolve()):
        raise InputError("is inside the workspace: keep backups elsewhere (and a backup inside it would hold the "
                         "ones before it)", file=str(target), field="out")
    if target.is_symlink() or (target.exists() and not target.is_file()):
        raise InputError("exists and is not a file", file=str(target), field="out")
    if target.exists() and not force:
        raise InputError("exists; choose another name, or say to replace it", file=str(target), field="force")
    if not target.parent.is_dir():
        raise InputError("its folder does not exist", file=str(target), field="out")
    # The heads are read before the snapshot: a writer may move them on past it meanwhile, never back.
    remembered = {chain: read_head(keys.head_path(chain)) for chain in _CHAINS}
    folder = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))  # 0700; beside the backup
    partial = target.with_name(f".{target.name}.{os.getpid()}.part")
    try:
        snapshot = _snapshot_sqlite if store.engine.dialect.name == "sqlite" else _snapshot_postgres
        database_members, database = snapshot(store, folder, lambda connection: _inspect_snapshot(
            connection, store, keys, remembered))
        inspected = database.pop("inspected")
        files = _workspace_files(workspace.path, target)
        listed_names = {name for name, _path in files}
        problems = inspected["problems"]
        for item in inspected["evidence"]:
            problem = _sealed_file_problem(workspace.path, item, listed_names, keys.master_key)
            if problem:
                problems.append({"evidence_id": item[0], "file": item[1], "problem": problem})
        for name, path in files:
            kind = _key_material(path)
            if kind:
                problems.append({"key": kind, "file": name.removeprefix("workspace/"),
                                 "problem": f"a {kind} inside the workspace folder"})
        if problems:
            raise _refusal(problems)
        members = database_members + files
        try:
            total = sum(path.stat().st_size for _name, path in members) or 1
        except FileNotFoundError as exc:
            raise _removed(exc.filename) from None
        done = 0
        listed = []
        with open(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as raw, \
                tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as archive:
            for name, path in members:
                try:
                    handle = open(path, "rb")
                except FileNotFoundError:
                    raise _removed(path) from None
                with handle:
                    info = tarfile.TarInfo(name)
                    opened = os.fstat(handle.fileno())  # (the file as opened, even if removed since)
                    info.size, info.mode, info.mtime = opened.st_size, 0o600, int(opened.st_mtime)
                    hashing = _Hashing(handle)
                    archive.addfile(info, hashing)
                    if hashing.size != info.size:
                        raise BackupError(f"{path} changed while it was copied: try again")
                listed.append({"path": name, "sha256": hashing.digest.hexdigest(), "size": info.size})
                done += info.size
                if progress:
                    progress(done, total)
            manifest = {"format": FORMAT, "made_at": _now(), "software": {"dadkhah": __version__},
                        "workspace_id": keys.workspace_id, "workspace_created_at": str(workspace.config.get("created_at", "")),
                        "fingerprint": keys.fingerprint, "database": {k: v for k, v in database.items() if k != "counts"
                                                                      and k != "heads"},
                        "counts": database["counts"], "heads": database["heads"],
                        # the newest events remembered beside the key file, which the chains were checked against
                        "remembered_heads": remembered, "files": listed}
            body = (json.dumps(manifest, indent=1, ensure_ascii=False) + "\n").encode("utf-8")
            signature = {"algorithm": "Ed25519", "signed_file": MANIFEST, "fingerprint": keys.fingerprint,
                         "public_key": base64.b64encode(keys.public_key).decode("ascii"),
                         "signature": base64.b64encode(keys.signing_key.sign(body)).decode("ascii")}
            for name, data in ((MANIFEST, body), (SIGNATURE, (json.dumps(signature, indent=1) + "\n").encode())):
                info = tarfile.TarInfo(name)
                info.size, info.mode, info.mtime = len(data), 0o600, int(dt.datetime.now().timestamp())
                archive.addfile(info, io.BytesIO(data))
            archive.close()
            raw.flush()
            os.fsync(raw.fileno())
        sha256, size = _sha256_file(partial)
        os.replace(partial, target)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    details = {"sha256": sha256, "size_bytes": size, "counts": manifest["counts"], "files": len(listed),
               "rows": sum(database["tables"].values()),
               "database": database["kind"], "method": database["method"],
               "schema_revision": database["schema_revision"]}
    with store.session() as session:
        record_audit(session, store, actor, action="backup made", object_kind="backup", object_id=sha256[:16],
                     details=details)
    return details | {"out": str(target), "made_at": manifest["made_at"], "fingerprint": keys.fingerprint,
                      "heads": manifest["heads"]}


# ----- checking a backup -------------------------------------------------------------------------------


def _safe_member_name(name: str, shown: str) -> PurePosixPath:
    path = PurePosixPath(name)
    if (not name or name.startswith("/") or "\\" in name or "\x00" in name or any(p in ("", ".", "..") for p in name.split("/"))
            or (path.parts[0] not in ("database", "workspace") and name not in (MANIFEST, SIGNATURE))):
        raise BackupError(f"{shown}: holds the member {name!r}, whose name could land outside the folder it is "
                          "restored into: nothing was restored", file=shown)
    return path


def read_backup(path, *, public_key: bytes | None = None, check_files: bool = True) -> dict:
    """Check the backup at ``path`` whole: the signature over its manifest (by ``public_key`` when
    given), every member listed with the SHA-256 and size the manifest records, nothing else in it,
    no name that could leave the target. Returns the manifest; raises :class:`BackupError` naming
    the member at fault. Nothing is written."""
    source = Path(path).expanduser()
    shown = str(source)
    if not source.is_file():
        raise InputError("is not a file", file=shown)
    try:
        archive = tarfile.open(source, mode="r:")
    except (tarfile.TarError, OSError) as exc:
        raise BackupError(f"{shown}: not a Dadkhah backup (not a tar file: {exc})", file=shown) from None
    with archive:
        try:
            members = archive.getmembers()
        except (tarfile.TarError, OSError, EOFError) as exc:
            raise BackupError(f"{shown}: the backup is damaged or cut short ({exc})", file=shown) from None
        seen: dict[str, tarfile.TarInfo] = {}
        for member in members:
            _safe_member_name(member.name, shown)
            if not member.isfile():
                raise BackupError(f"{shown}: the member {member.name} is not a plain file (a link or a device): "
                                  "nothing was restored", file=shown)
            if member.name in seen:
                raise BackupError(f"{shown}: holds the member {member.name} twice: nothing was restored", file=shown)
            seen[member.name] = member
        if MANIFEST not in seen or SIGNATURE not in seen:
            raise BackupError(f"{shown}: not a Dadkhah backup (no {MANIFEST} and {SIGNATURE})", file=shown)
        body = archive.extractfile(seen[MANIFEST]).read()
        try:
            signature = json.loads(archive.extractfile(seen[SIGNATURE]).read())
            signer = base64.b64decode(signature["public_key"], validate=True)
            Ed25519PublicKey.from_public_bytes(signer).verify(base64.b64decode(signature["signature"], validate=True), body)
        except (InvalidSignature, ValueError, KeyError, TypeError):
            raise BackupError(f"{shown}: {MANIFEST} does not match its signature: the backup was altered", file=shown) from None
        if public_key is not None and signer != public_key:
            raise BackupError(f"{shown}: signed by the key {fingerprint(signer)}, not by this key file's "
                              f"{fingerprint(public_key)}. Use the key file that was current when the backup was made "
                              "(keep old key files, or their shares, as long as the backups made with them)", file=shown)
        manifest = json.loads(body)
        if manifest.get("format") != FORMAT:
            raise BackupError(f"{shown}: a backup of a format this version does not read ({manifest.get('format')!r})", file=shown)
        listed = {entry["path"]: entry for entry in manifest["files"]}
        if not check_files:  # the signature only (to learn whose backup it is)
            manifest["_signer"] = signer
            return manifest
        for name in seen:
            if name not in listed and name not in (MANIFEST, SIGNATURE):
                raise BackupError(f"{shown}: the member {name} is not in the signed manifest: it was added", file=shown)
        for name, entry in listed.items():
            _safe_member_name(name, shown)
            member = seen.get(name)
            if member is None:
                raise BackupError(f"{shown}: the member {name} is listed in the manifest but missing", file=shown)
            digest = hashlib.sha256()
            handle = archive.extractfile(member)
            while block := handle.read(1 << 20):
                digest.update(block)
            if member.size != entry["size"] or digest.hexdigest() != entry["sha256"]:
                raise BackupError(f"{shown}: the member {name} differs from the manifest (its SHA-256 or size): the "
                                  "backup was altered or damaged; nothing was restored", file=shown)
        manifest["_signer"] = signer
        return manifest


# ----- restoring ---------------------------------------------------------------------------------------


def _empty_database(url: str) -> None:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            tables = sa.inspect(connection).get_table_names()
    except sa.exc.OperationalError as exc:
        raise InputError(f"cannot open the database: {exc.orig}", field="database_url") from None
    finally:
        engine.dispose()
    if tables:
        raise InputError(f"the database is not empty ({len(tables)} tables): restore into a new, empty database",
                         field="database_url")


def _insert_rows(connection: sa.Connection, rows_of) -> None:
    """Fill the (migrated, emptied) tables from ``rows_of(table_name)``, keys and all; references
    to a row of the same table are set once every row is in."""
    tables = _tables(connection)
    if connection.dialect.name == "sqlite":
        connection.execute(sa.text("PRAGMA defer_foreign_keys = ON"))
    for table in reversed(tables):
        connection.execute(table.delete())
    for table in tables:
        selfish = [fk.parent.name for fk in table.foreign_keys if fk.column.table.name == table.name]
        later = []
        batch = []
        for row in rows_of(table.name):
            row = {k: v for k, v in row.items() if k in table.columns}
            if selfish and table.primary_key.columns:
                keys = {c.name: row[c.name] for c in table.primary_key.columns}
                if any(row.get(c) is not None for c in selfish):
                    later.append((keys, {c: row[c] for c in selfish}))
                    row = row | dict.fromkeys(selfish)
            batch.append(row)
            if len(batch) >= 1000:
                connection.execute(table.insert(), batch)
                batch = []
        if batch:
            connection.execute(table.insert(), batch)
        for keys, values in later:
            connection.execute(table.update().where(*[table.c[k] == v for k, v in keys.items()]).values(values))
        if connection.dialect.name == "postgresql" and "id" in table.columns and \
                isinstance(table.c.id.type, sa.Integer):
            highest = connection.scalar(sa.select(sa.func.max(table.c.id)))
            quoted = connection.dialect.identifier_preparer.quote(table.name)  # a name from the schema itself
            connection.execute(sa.text("SELECT setval(pg_get_serial_sequence(:t, 'id'), :n, :called) "
                                       "WHERE pg_get_serial_sequence(:t, 'id') IS NOT NULL"),
                               {"t": quoted, "n": highest or 1, "called": highest is not None})


def _load_rows(url: str, revision: str, rows_of) -> None:
    engine = create_engine(url)
    try:
        migrate(engine, revision)
        with engine.begin() as connection:
            _insert_rows(connection, rows_of)
    finally:
        engine.dispose()


def _pg_restore(url: str, dump: Path, source_schema: str) -> None:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            target_schema = connection.scalar(sa.text("SELECT current_schema()")) or "public"
            if source_schema != target_schema and connection.scalar(
                    sa.text("SELECT count(*) FROM information_schema.tables WHERE table_schema = :s"), {"s": source_schema}):
                raise InputError(f"the database already holds tables in the schema {source_schema!r} the backup "
                                 "restores into", field="database_url")
            schema_exists = bool(connection.scalar(sa.text("SELECT count(*) FROM pg_namespace WHERE nspname = :s"),
                                                   {"s": source_schema}))
        libpq, env = _libpq(engine.url)
        # -O -x: no owners, no grants (the restoring user owns it all); -1: one transaction; -e: stop at an error.
        command = ["pg_restore", "-O", "-x", "-1", "-e", "-d", libpq]
        if schema_exists:
            # The dump creates its schema (and comments on it). A new database made by createdb already has
            # "public", where a workspace usually lies: restore into it rather than fail on creating it.
            listing = subprocess.run(["pg_restore", "-l", str(dump)], capture_output=True, text=True, check=False)
            if listing.returncode != 0:
                raise BackupError(f"pg_restore could not read the database dump: {(listing.stderr or '').strip()[-500:]}")
            contents = dump.with_name("restore.list")
            contents.write_text("".join(line + "\n" for line in listing.stdout.splitlines()
                                        if not _creates_schema(line, source_schema)), encoding="utf-8")
            command += ["-L", str(contents)]
        done = subprocess.run([*command, str(dump)], env=env, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise BackupError(f"pg_restore refused the database dump: {(done.stderr or '').strip()[-500:]}")
        if source_schema != target_schema:
            with engine.begin() as connection:
                connection.execute(sa.text(f'DROP SCHEMA IF EXISTS "{target_schema}" RESTRICT'))
                connection.execute(sa.text(f'ALTER SCHEMA "{source_schema}" RENAME TO "{target_schema}"'))
                if source_schema == "public":
                    connection.execute(sa.text("CREATE SCHEMA public"))
    finally:
        engine.dispose()


def _creates_schema(entry: str, schema: str) -> bool:
    """Whether a line of ``pg_restore -l`` creates the schema, or comments on it
    ("4; 2615 2200 SCHEMA - public owner", "3947; 0 0 COMMENT - SCHEMA public owner")."""
    words = entry.split()
    if entry.lstrip().startswith(";") or len(words) < 6 or not words[0].rstrip(";").isdigit() or words[4] != "-":
        return False
    return (words[3] == "SCHEMA" and words[5] == schema) or (
        words[3] == "COMMENT" and len(words) > 6 and words[5] == "SCHEMA" and words[6] == schema)


def _jsonl_rows(archive: tarfile.TarFile, name: str):
    def rows_of(table: str):
        try:
            member = archive.getmember(f"database/tables/{table}.jsonl")
        except KeyError:
            return
        for line in archive.extractfile(member):
            yield {k: _decode(v) for k, v in json.loads(line).items()}
    return rows_of


def _sqlite_rows(path: Path):
    engine = sa.create_engine(f"sqlite:///{path}", hide_parameters=True)

    def rows_of(table: str):
        with engine.connect() as connection:
            metadata = sa.MetaData()
            try:
                source = sa.Table(table, metadata, autoload_with=connection)
            except sa.exc.NoSuchTableError:
                return
            order = list(source.primary_key.columns) or list(source.columns)[:1]
            for row in connection.execution_options(yield_per=2000).execute(sa.select(source).order_by(*order)).mappings():
                yield dict(row)
    return rows_of, engine


def known_revisions() -> set[str]:
    """The schema revisions this version's migrations know."""
    from alembic.script import ScriptDirectory

    from dadkhah.store import _alembic_config

    return {script.revision for script in ScriptDirectory.from_config(_alembic_config()).walk_revisions()}


def _key_file_for(config_text: str, workspace_id: str, key_file) -> Path:
    if key_file:
        return Path(key_file).expanduser()
    if os.environ.get(ENV_KEY_FILE):
        return Path(os.environ[ENV_KEY_FILE]).expanduser()
    import tomllib

    chosen = (tomllib.loads(config_text).get("vault") or {}).get("key_file")
    if chosen:
        return Path(chosen).expanduser()
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "dadkhah" / "keys" / f"{workspace_id}.key"


def restore_backup(path, into, *, actor: Actor, database_url: str | None = None, key_file=None,
                   progress=None) -> dict:
    """Restore the backup at ``path`` into the new (or empty) folder ``into``, and its database into
    the workspace's SQLite file or, with ``database_url``, into an empty PostgreSQL database.

    The key file (``key_file``, else ``DADKHAH_KEY_FILE``, else where the backed-up configuration
    says) must be the one that signed the backup; only its public key is read. Everything is checked
    before anything is written (:func:`read_backup`). The restored workspace remembers its chains'
    heads apart from the original's (see the module's notes) and records "workspace restored".
    """
    source = Path(path).expanduser()
    target = Path(into).expanduser()
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise InputError("exists and is not an empty folder: restore into a new one", file=str(target), field="into")
    url = normalise_database_url(database_url.strip()) if database_url and database_url.strip() else None
    if url and not url.startswith("postgresql"):
        raise InputError("names a PostgreSQL database (postgresql://...); without it the workspace's own SQLite file "
                         "is used", field="database_url")
    manifest = read_backup(source, check_files=False)
    with tarfile.open(source, mode="r:") as archive:
        config_text = archive.extractfile(archive.getmember(f"workspace/{CONFIG_NAME}")).read().decode("utf-8")
    key_path = _key_file_for(config_text, manifest["workspace_id"], key_file)
    try:
        document = read_key_document(key_path)
    except DadkhahError as exc:
        raise InputError(f"{exc}. The restored workspace needs its key file: name it, or rebuild it from its shares "
                         "(dadkhah keys join)", field="key_file") from None
    if document.get("workspace_id") != manifest["workspace_id"]:
        raise BackupError(f"the key file {key_path} belongs to workspace {document.get('workspace_id')}, the backup to "
                          f"{manifest['workspace_id']}")
    manifest = read_backup(source, public_key=base64.b64decode(document["public_key"]))
    database = manifest["database"]
    if database["method"] == "pg_dump" and not url:
        raise InputError("this backup holds a PostgreSQL dump: restore it into an empty PostgreSQL database",
                         field="database_url")
    if database["schema_revision"] not in known_revisions():
        raise BackupError(f"the backup's database is at schema revision {database['schema_revision']}, which this "
                          "version of Dadkhah does not know: restore it with the version that made it (or newer)")
    if url:
        _empty_database(url)
    staging = target.parent / f".{target.name}.{os.getpid()}.restoring"
    staging.mkdir(parents=True, mode=0o700)
    scratch = Path(tempfile.mkdtemp(prefix=".restore-", dir=target.parent))
    tag = f"restored-{uuid.uuid4().hex[:12]}"
    try:
        total = sum(e["size"] for e in manifest["files"]) or 1
        done = 0
        with tarfile.open(source, mode="r:") as archive:
            for entry in manifest["files"]:
                name = PurePosixPath(entry["path"])
                if database["method"] == "logical" and name.parts[0] == "database":
                    continue  # loaded straight from the archive below (checked above)
                if name.parts[0] == "workspace":
                    destination = staging.joinpath(*name.parts[1:])
                elif database["method"] == "sqlite-backup" and not url:
                    destination = staging / DATABASE_NAME
                else:
                    destination = scratch.joinpath(*name.parts[1:])
                if not destination.resolve().is_relative_to((staging if destination.is_relative_to(staging) else scratch).resolve()):
                    raise BackupError(f"{source}: the member {entry['path']} would land outside the folder", file=str(source))
                destination.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
                digest = hashlib.sha256()
                with archive.extractfile(archive.getmember(entry["path"])) as member, \
                        open(os.open(destination, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as out:
                    while block := member.read(1 << 20):
                        digest.update(block)
                        out.write(block)
                if digest.hexdigest() != entry["sha256"]:
                    raise BackupError(f"{source}: the member {entry['path']} changed while it was restored: the backup "
                                      "file is being altered; nothing usable was restored", file=str(source))
                done += entry["size"]
                if progress:
                    progress(done, total)
            if database["method"] == "logical":
                _load_rows(url or f"sqlite:///{(staging / DATABASE_NAME).resolve()}", database["schema_revision"],
                           _jsonl_rows(archive, source.name))
        if database["method"] == "sqlite-backup" and url:
            rows_of, engine = _sqlite_rows(scratch / DATABASE_NAME)
            try:
                _load_rows(url, database["schema_revision"], rows_of)
            finally:
                engine.dispose()
        elif database["method"] == "pg_dump":
            _pg_restore(url, scratch / "postgres.dump", database.get("schema") or "public")
        if target.exists():
            target.rmdir()
        staging.rename(target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    workspace = load_workspace(target, database_url=url)
    original_tag = (workspace.config.get("vault") or {}).get("heads")
    values = {"heads": tag}
    if key_file:
        values["key_file"] = str(key_path.resolve())
    set_vault_config(workspace, values)
    workspace = workspace.reloaded()
    public = VaultKeys(workspace_id=manifest["workspace_id"], public_key=base64.b64decode(document["public_key"]),
                       key_file=key_path, head_tag=tag)
    original = VaultKeys(workspace_id=manifest["workspace_id"], key_file=key_path, head_tag=original_tag)
    later = {}
    for chain, head in manifest["heads"].items():
        if head:
            advance_head(public.head_path(chain), head)
        remembered = read_head(original.head_path(chain))
        later[chain] = max(0, remembered["seq"] - (head or {}).get("seq", 0)) if remembered else None
    # A backup made since backups check the chains first records the heads it checked them against:
    # whatever the original remembers beyond the backup's newest events was recorded after it. An
    # older backup may have been made of a database put back by hand (its newest events removed):
    # what it lacks may then have been removed before it, which only the original's own check shows.
    details = {"backup_sha256": _sha256_file(source)[0], "made_at": manifest["made_at"],
               "fingerprint": manifest["fingerprint"], "database": "postgresql" if url else "sqlite",
               "method": database["method"], "counts": manifest["counts"], "heads": manifest["heads"],
               "chains_checked_when_made": "remembered_heads" in manifest, "events_after_backup": later}
    with open_store(workspace, keys=lambda: load_keys_unattended(workspace)) as store:
        with store.session() as session:
            record_audit(session, store, actor, action="workspace restored", object_kind="backup",
                         object_id=details["backup_sha256"][:16], details=details)
            revision = current_revision(store.engine)
        from dadkhah.audit import verify_audit
        from dadkhah.vault.custody import verify_chain

        audit = verify_audit(store)
        with store.session() as session:
            custody = verify_chain(session, public)
    return details | {"into": str(target), "key_file": str(key_path), "heads_name": tag,
                      "schema_revision": revision, "custody_intact": custody["valid"],
                      "audit_intact": audit["intact"], "files": len(manifest["files"])}

