"""Evidence files: added once by content, sealed at rest, read back verified, every access recorded."""

from __future__ import annotations

import contextlib
import json
import os
import uuid
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.orm import Session

from dadkhah.audit import Actor, record_audit
from dadkhah.errors import InputError, NotFound
from dadkhah.model import EvidenceItem, EvidencePerson, Source
from dadkhah.places import load_gazetteer
from dadkhah.registry.persons import get_person
from dadkhah.sources import ensure_source
from dadkhah.store import Store
from dadkhah.vault.crypto import (
    DecryptionError,
    decrypt_stream,
    encrypt_stream,
    new_data_key,
    open_sealed,
    seal,
    unwrap_key,
    wrap_key,
)
from dadkhah.vault.custody import CUSTODY_CHAIN, append_event
from dadkhah.vault.files import checked_input_file, checked_output_path
from dadkhah.vault.keys import VaultKeys
from dadkhah.vault.metadata import HEAD_BYTES, detect_media_type, extract_metadata

SCOPES = ("investigators", "courts", "public")
DEFAULT_RELEASE = ("investigators", "courts")


def parse_scopes(text: str | list | tuple, *, field: str) -> list[str]:
    """``investigators,courts`` (or a list of them) → the scopes in their fixed order; unknown or
    empty ones refused, naming ``field``."""
    items = [s.strip().lower() for part in ([text] if isinstance(text, str) else text) for s in part.split(",")
             if s.strip()]
    unknown = [s for s in items if s not in SCOPES]
    if unknown or not items:
        raise InputError(f"takes some of {', '.join(SCOPES)}, not {text!r}", field=field)
    return [s for s in SCOPES if s in items]


def parse_moment(text: str | None, *, field: str) -> str | None:
    """An ISO 8601 date or date-time, kept as given (no time zone is invented)."""
    if not text or not text.strip():
        return None
    value = text.strip()
    try:
        (date.fromisoformat if len(value) == 10 else datetime.fromisoformat)(value)
    except ValueError:
        raise InputError(f"takes an ISO 8601 date or date-time (1988-07-30 or 1988-07-30T14:00), not {text!r}",
                         field=field) from None
    return value


def resolve_persons(session: Session, person_ids, *, field: str = "about") -> list[str]:
    """Check that each person exists; a person since merged is replaced by the one it was merged into.

    A person that does not exist is bad input in ``field``.
    """
    found = []
    for person_id in person_ids or ():
        try:
            person = get_person(session, person_id)
        except NotFound as exc:
            raise InputError(str(exc), field=field) from None
        found.append(person.merged_into if person.status == "merged" and person.merged_into else person.person_id)
    return sorted(set(found))


def resolve_place(session: Session, text: str | None) -> str | None:
    if not text:
        return None
    match = load_gazetteer(session).resolve(text, types=("city", "prison", "grave_site", "province"))
    return match.place_id if match else None


def _blob_path(workspace: Path, sha256: str) -> Path:
    return workspace / "blobs" / sha256[:2] / f"{sha256}.sealed"


# A sealed file moved into the blob store is noted as placed, in ``blobs/incoming/<pid>-<hex>.placing``
# (the blob's path, relative to the workspace), until its transaction ends: on commit the note goes,
# on rollback the blob goes with it, and if the process dies in between, the next opening of the
# workspace removes the blob unless a committed row names it (:func:`dadkhah.store.sweep_leftovers`).
PLACING_SUFFIX = ".placing"
_PLACED = "dadkhah.evidence.placed"


def _place_blob(session: Session, workspace: Path, temporary: Path, sha256: str) -> Path:
    """Move a sealed file into the blob store, never over another file: when ``<sha256>.sealed`` is
    already there (left by a run that died, or being added right now by another process under its
    own key), this one takes a name of its own beside it. Returns where it went."""
    final = _blob_path(workspace, sha256)
    final.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    note = workspace / "blobs" / "incoming" / f"{os.getpid()}-{uuid.uuid4().hex}{PLACING_SUFFIX}"
    for target in (final, final.with_name(f"{sha256}.{uuid.uuid4().hex[:16]}.sealed")):
        descriptor = os.open(note, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(target.relative_to(workspace).as_posix())
        try:
            os.link(temporary, target)  # fails rather than replace a file already there
        except FileExistsError:
            continue
        except OSError:  # a file system without hard links
            if target.exists():
                continue
            os.replace(temporary, target)
        _track(session, note, target)
        return target
    note.unlink(missing_ok=True)
    raise FileExistsError(f"cannot place a sealed file for {sha256}: both names are taken")


def _track(session: Session, note: Path, blob: Path) -> None:
    if not session.info.get(_PLACED + ".listening"):  # once per session: a listener may not be removed as it runs
        session.info[_PLACED + ".listening"] = True
        sa.event.listen(session, "after_commit", _placed_kept)
        sa.event.listen(session, "after_rollback", _placed_undone)
    session.info.setdefault(_PLACED, []).append((note, blob))


def _placed_kept(session: Session) -> None:
    """Committed: the rows name their blobs; the notes go. (Never raises: the other listeners of the
    commit, such as the one that moves the chains' heads forward, must still run.)"""
    for note, _blob in session.info.pop(_PLACED, []):
        with contextlib.suppress(OSError):
            note.unlink(missing_ok=True)


def _placed_undone(session: Session) -> None:
    """Rolled back: no row names the blobs this transaction placed; they go, then their notes (what
    cannot be removed now is swept when the workspace is next opened)."""
    for note, blob in session.info.pop(_PLACED, []):
        with contextlib.suppress(OSError):
            blob.unlink(missing_ok=True)
            note.unlink(missing_ok=True)


def next_public_id(session: Session, column, prefix: str, width: int) -> str:
    """The next free public id (E-000001, W-0001, T-0001): one more than the rows there are.

    Counted under the custody chain's writer lock, held to the end of the transaction (the item's
    custody event takes the same lock), so two uploads at once cannot both take the same id.
    """
    CUSTODY_CHAIN.lock(session)
    count = session.scalar(sa.select(sa.func.count()).select_from(column.class_)) or 0
    number = count + 1
    while session.scalar(sa.select(sa.func.count()).where(column == f"{prefix}{number:0{width}d}")):
        number += 1
    return f"{prefix}{number:0{width}d}"


def _seal_file(workspace: Path, keys: VaultKeys, path: Path, progress=None) -> dict:
    """Hash and seal a file in one streamed pass into the blob store; returns what was learnt."""
    data_key = new_data_key()
    label = f"blob:{uuid.uuid4()}"
    wrapped = wrap_key(keys.master_key, data_key, label=label)
    staging = workspace / "blobs" / "incoming"
    staging.mkdir(parents=True, exist_ok=True, mode=0o700)
    temporary = staging / f"{os.getpid()}-{uuid.uuid4().hex}.part"  # the process id: a leftover is recognised
    try:
        with open(path, "rb") as source, _owner_only(temporary) as target:
            head = source.read(HEAD_BYTES)
            media_type = detect_media_type(head, name=path.name)
            sha256, size = encrypt_stream(source, target, data_key=data_key, wrapped_key=wrapped, label=label,
                                          first=head, progress=progress)
            target.flush()
            os.fsync(target.fileno())
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return {"temporary": temporary, "sha256": sha256, "size": size, "media_type": media_type,
            "data_key": data_key, "wrapped_key": wrapped, "label": label}


def add_evidence(store: Store, keys: VaultKeys, paths, *, actor: Actor, source: str | None = None,
                 description: str | None = None, captured_at: str | None = None, captured_where: str | None = None,
                 acquired_how: str | None = None, release=DEFAULT_RELEASE, about=(), progress=None) -> list[dict]:
    """Add files as evidence: all of them or none. Each is hashed and sealed in one streamed pass.

    A file already held (same SHA-256) is not stored twice: its item is returned, and the new
    submission is recorded in its custody. One audit event "evidence added" names every item.
    ``progress(done_bytes, total_bytes)`` follows the work.
    """
    with store.session() as session:
        return add_evidence_in(session, store, keys, paths, actor=actor, source=source, description=description,
                               captured_at=captured_at, captured_where=captured_where, acquired_how=acquired_how,
                               release=release, about=about, progress=progress)


def add_evidence_in(session: Session, store: Store, keys: VaultKeys, paths, *, actor: Actor,
                    source: str | None = None, description: str | None = None, captured_at: str | None = None,
                    captured_where: str | None = None, acquired_how: str | None = None, release=DEFAULT_RELEASE,
                    about=(), progress=None, custody: dict | None = None, sealed_metadata: dict | None = None,
                    names=None) -> list[dict]:
    """:func:`add_evidence` inside the caller's transaction, for an action that keeps a file as its
    proof (the evidence, its custody and its audit event commit or roll back with that action).

    For an intake from a field tool: ``custody`` adds to the details of each item's custody event
    (the tool, the submission, when it was captured), ``sealed_metadata`` to the metadata sealed
    with it (what could locate a witness: the place, the device), and ``names`` gives each file's
    original name when the file on disk had to be named otherwise.
    """
    files = [checked_input_file(p) for p in paths]
    if not files:
        raise InputError("name at least one file", field="files")
    scopes = parse_scopes(release, field="release")
    captured_at = parse_moment(captured_at, field="captured_at")
    source, description, captured_where, acquired_how = (
        (value or "").strip() or None for value in (source, description, captured_where, acquired_how))
    workspace = store.workspace.path
    total = sum(f.stat().st_size for f in files)
    done = 0
    sealed = []
    try:
        for path in files:
            base = done
            sealed.append(_seal_file(workspace, keys, path, progress=(lambda n, b=base: progress(b + n, total)) if progress else None))
            done += sealed[-1]["size"]
        results = []
        persons = resolve_persons(session, about)
        place_id = resolve_place(session, captured_where)
        source_row = ensure_source(session, source) if source else None
        for path, item in zip(files, sealed, strict=True):
            results.append(_record(session, keys, actor, workspace, path, item, source=source_row,
                                   description=description, captured_at=captured_at, captured_where=captured_where,
                                   place_id=place_id, acquired_how=acquired_how, scopes=scopes, persons=persons,
                                   custody=custody, sealed_metadata=sealed_metadata,
                                   name=names.get(path.name) if names else None))
        record_audit(session, store, actor, action="evidence added", object_kind="evidence",
                     object_id=results[0]["id"],
                     details={"items": [{"id": r["id"], "sha256": r["sha256"], "size_bytes": r["size_bytes"],
                                         "already_held": r["already_held"]} for r in results],
                              "source": source, "release": scopes, "about": persons})
        return results
    finally:
        for item in sealed:
            item["temporary"].unlink(missing_ok=True)


def _record(session: Session, keys: VaultKeys, actor: Actor, workspace: Path, path: Path, item: dict, *, source,
            description, captured_at, captured_where, place_id, acquired_how, scopes, persons, custody=None,
            sealed_metadata=None, name=None) -> dict:
    existing = session.scalar(sa.select(EvidenceItem).where(EvidenceItem.sha256 == item["sha256"]))
    submission = {"source": source.name if source else None, "description": description, "captured_at": captured_at,
                  "captured_where": captured_where, "acquired_how": acquired_how} | (custody or {})
    if existing is not None:
        append_event(session, keys, actor, item_kind="evidence", item_id=existing.evidence_id, action="submitted again",
                     details={"sha256": item["sha256"]} | {k: v for k, v in submission.items() if v})
        return evidence_to_dict(session, existing) | {"already_held": True}
    final = _place_blob(session, workspace, item["temporary"], item["sha256"])
    sha = item["sha256"]
    metadata = extract_metadata(path, media_type=item["media_type"]) | (sealed_metadata or {})
    evidence_id = next_public_id(session, EvidenceItem.evidence_id, "E-", 6)
    row = EvidenceItem(
        evidence_id=evidence_id, sha256=sha, size_bytes=item["size"], media_type=item["media_type"],
        blob_path=str(final.relative_to(workspace)), wrapped_key=item["wrapped_key"],
        original_name_sealed=seal(item["data_key"], (name or path.name).encode("utf-8"), label=f"evidence:{sha}:name"),
        metadata_sealed=seal(item["data_key"], json.dumps(metadata, ensure_ascii=False, default=str).encode("utf-8"),
                             label=f"evidence:{sha}:metadata"),
        source_id=source.id if source else None, description=description, captured_at=captured_at,
        captured_where=captured_where, captured_place_id=place_id, acquired_how=acquired_how, release=scopes,
        added_by=actor.name,
    )
    session.add(row)
    session.flush()
    for person_id in persons:
        session.add(EvidencePerson(evidence_pk=row.id, person_id=person_id))
    append_event(session, keys, actor, item_kind="evidence", item_id=evidence_id, action="added",
                 details={"sha256": sha, "size_bytes": item["size"], "media_type": item["media_type"], "release": scopes,
                          "about": persons} | {k: v for k, v in submission.items() if v})
    return evidence_to_dict(session, row) | {"already_held": False}


def evidence_to_dict(session: Session, row: EvidenceItem) -> dict:
    """What may be shown without decrypting anything."""
    source = session.get(Source, row.source_id).name if row.source_id else None
    about = list(session.scalars(sa.select(EvidencePerson.person_id).where(EvidencePerson.evidence_pk == row.id)
                                 .order_by(EvidencePerson.person_id)))
    return {"id": row.evidence_id, "sha256": row.sha256, "size_bytes": row.size_bytes, "media_type": row.media_type,
            "source": source, "description": row.description, "captured_at": row.captured_at,
            "captured_where": row.captured_where, "captured_place_id": row.captured_place_id,
            "acquired_how": row.acquired_how, "release": row.release, "about": about, "added_by": row.added_by,
            "added_at": row.added_at.isoformat() if row.added_at else None}


def get_evidence_item(session: Session, evidence_id: str) -> EvidenceItem:
    row = session.scalar(sa.select(EvidenceItem).where(EvidenceItem.evidence_id == evidence_id.strip().upper()))
    if row is None:
        raise NotFound(f"no evidence with id {evidence_id!r} (see `dadkhah evidence list`)")
    return row


def list_evidence(session: Session, *, limit: int | None = None, offset: int = 0) -> list[dict]:
    query = sa.select(EvidenceItem).order_by(EvidenceItem.id).offset(offset)
    if limit is not None:
        query = query.limit(limit)
    return [evidence_to_dict(session, row) for row in session.scalars(query)]


def evidence_data_key(keys: VaultKeys, workspace: Path, row: EvidenceItem) -> bytes:
    from dadkhah.vault.crypto import read_header

    with open(workspace / row.blob_path, "rb") as handle:
        header, _ = read_header(handle, name=row.evidence_id)
    return unwrap_key(keys.master_key, row.wrapped_key, label=header["label"])


def show_evidence(store: Store, keys: VaultKeys, evidence_id: str, *, actor: Actor) -> dict:
    """An item with its decrypted metadata (EXIF, C2PA) and original file name; custody "viewed" and
    audit "evidence metadata read" in the transaction that decrypts them."""
    with store.session() as session:
        row = get_evidence_item(session, evidence_id)
        data_key = evidence_data_key(keys, store.workspace.path, row)
        name = open_sealed(data_key, row.original_name_sealed, label=f"evidence:{row.sha256}:name").decode("utf-8")
        metadata = json.loads(open_sealed(data_key, row.metadata_sealed, label=f"evidence:{row.sha256}:metadata"))
        append_event(session, keys, actor, item_kind="evidence", item_id=row.evidence_id, action="viewed",
                     details={"what": "metadata and original name"})
        record_audit(session, store, actor, action="evidence metadata read", object_kind="evidence",
                     object_id=row.evidence_id, details={"what": "metadata and original name"})
        return evidence_to_dict(session, row) | {"original_name": name, "metadata": metadata}


def _owner_only(path: Path):
    """A new file for writing that only its owner may read (0600), whatever the umask."""
    return os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb")


def write_evidence(workspace: Path, keys: VaultKeys, row: EvidenceItem, target: Path | None, progress=None, *,
                   blob=None) -> None:
    """Decrypt an item's bytes to ``target``, checking the SHA-256; a mismatch leaves nothing behind.

    With ``target`` None the bytes are only decrypted and checked, and nothing is written; ``blob``
    is the sealed file already open, to be read (and later read again) through that handle.
    """
    import hashlib

    temporary = target.with_name(f".{target.name}.{uuid.uuid4().hex}.part") if target is not None else None
    digest = hashlib.sha256()
    done = 0
    try:
        with _owner_only(temporary) if temporary is not None else open(os.devnull, "wb") as handle:
            for chunk in decrypt_stream(workspace / row.blob_path, master_key=keys.master_key, handle=blob):
                digest.update(chunk)
                handle.write(chunk)
                done += len(chunk)
                if progress:
                    progress(done, row.size_bytes)
        if digest.hexdigest() != row.sha256 or done != row.size_bytes:
            raise DecryptionError(f"{row.evidence_id}: the stored file does not match its SHA-256; it is damaged")
        if temporary is not None:
            os.replace(temporary, target)
    except BaseException:
        if temporary is not None:
            temporary.unlink(missing_ok=True)
        raise


def get_evidence(store: Store, keys: VaultKeys, evidence_id: str, out: str | os.PathLike | None = None, *,
                 actor: Actor, force: bool = False, progress=None) -> dict:
    """An item's original bytes, verified against its SHA-256, and its original file name; custody
    "retrieved" and audit "evidence file read" in the transaction, which commits only once the bytes
    are checked.

    The bytes go to ``out`` (a new file outside the workspace, for the owner alone), or, without
    ``out``, are handed back as ``content``: decrypted again as they are read, after the check, so
    that no decrypted copy rests anywhere (a download streams them).
    """
    target = checked_output_path(out, workspace=store.workspace.path, force=force) if out is not None else None
    blob = None
    try:
        with store.session() as session:
            row = get_evidence_item(session, evidence_id)
            blob_path = store.workspace.path / row.blob_path
            if not blob_path.is_file():
                raise InputError("the sealed file is missing from the blob store", file=row.blob_path)
            data_key = evidence_data_key(keys, store.workspace.path, row)
            name = open_sealed(data_key, row.original_name_sealed, label=f"evidence:{row.sha256}:name").decode("utf-8")
            append_event(session, keys, actor, item_kind="evidence", item_id=row.evidence_id, action="retrieved",
                         details={"sha256": row.sha256, "verified": True, "what": "file and original name"})
            record_audit(session, store, actor, action="evidence file read", object_kind="evidence",
                         object_id=row.evidence_id, details={"what": "original bytes", "sha256": row.sha256})
            blob = open(blob_path, "rb") if target is None else None  # noqa: SIM115 - closed when the content ends
            write_evidence(store.workspace.path, keys, row, target, progress=progress, blob=blob)
            found = {"id": row.evidence_id, "sha256": row.sha256, "size_bytes": row.size_bytes,
                     "media_type": row.media_type, "original_name": name,
                     "out": str(target) if target is not None else None, "verified": True}
    except BaseException:
        if blob is not None:
            blob.close()
        raise
    if blob is not None:
        found["content"] = _content(blob_path, keys, blob)
    return found


def _content(path: Path, keys: VaultKeys, blob) -> Iterator[bytes]:
    """The checked bytes again, from the same open blob, which is closed when they end (or are abandoned)."""
    try:
        yield from decrypt_stream(path, master_key=keys.master_key, handle=blob)
    finally:
        blob.close()
