"""Testimonies: the witness known by a pseudonym everywhere; name, contact and transcript sealed.

A witness named again (in any spelling that folds to the same text) is recognised through a keyed
hash of the name, so their testimonies share one pseudonym without the name being stored in clear.
Since two people may share a name, the match is reported, and a contact given with a later
testimony is kept beside the earlier ones, never over them: it may be the only way to reach someone.
Reading a transcript, or revealing who a witness is, is recorded in the chain of custody.
"""

from __future__ import annotations

import hashlib
import os
import re
import unicodedata

import sqlalchemy as sa
from sqlalchemy.orm import Session

from dadkhah.audit import Actor, record_audit
from dadkhah.errors import InputError, NotFound
from dadkhah.ingest.readers import text_encoding
from dadkhah.model import Testimony, TestimonyPerson, Witness
from dadkhah.normalize.script import fold_text
from dadkhah.store import Store
from dadkhah.vault.crypto import blind_index, new_data_key, open_sealed, seal, unwrap_key, wrap_key
from dadkhah.vault.custody import append_event
from dadkhah.vault.evidence import next_public_id, parse_scopes, resolve_persons, resolve_place
from dadkhah.vault.files import checked_input_file
from dadkhah.vault.keys import VaultKeys

MAX_TRANSCRIPT_BYTES = 20 * 1024 * 1024
_LANGUAGE = re.compile(r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$")


def read_transcript(transcript: str | os.PathLike | bytes) -> tuple[str, str]:
    """The transcript's text and the SHA-256 of what was given: a text file (UTF-8, UTF-16 or
    Windows-1256) named by its path, or its bytes as they were uploaded."""
    if isinstance(transcript, bytes):
        data, where = transcript, {"field": "transcript"}
    else:
        checked = checked_input_file(transcript)
        where = {"file": str(transcript)}
        size = checked.stat().st_size
        if size > MAX_TRANSCRIPT_BYTES:
            raise InputError(f"is {size:,} bytes; a transcript may be at most {MAX_TRANSCRIPT_BYTES:,} "
                             "(add recordings as evidence)", **where)
        data = checked.read_bytes()
    if len(data) > MAX_TRANSCRIPT_BYTES:
        raise InputError(f"a transcript may be at most {MAX_TRANSCRIPT_BYTES:,} bytes (add recordings as evidence)",
                         **where)
    encoding = text_encoding(data)
    try:
        if encoding is None:
            raise UnicodeDecodeError("unknown", b"", 0, 1, "no encoding fits")
        text = data.decode(encoding)
    except (UnicodeDecodeError, LookupError):
        raise InputError("is not text in UTF-8, UTF-16 or Windows-1256; a transcript must be a text file",
                         **where) from None
    text = text.lstrip("\ufeff")
    if not text.strip():
        raise InputError("the transcript is empty", **where)
    controls = sum(1 for ch in text if unicodedata.category(ch) == "Cc" and ch not in "\n\r\t\f")
    if controls > len(text) / 100:
        raise InputError("looks like a binary file, not a transcript", **where)
    return text, hashlib.sha256(data).hexdigest()


def _witness_key(name: str) -> str:
    folded = fold_text(unicodedata.normalize("NFC", name or ""))
    if not folded:
        raise InputError("the witness's name is needed (it is stored sealed, and shown only when revealed on purpose)",
                         field="witness_name")
    return folded


def _witness(session: Session, keys: VaultKeys, actor: Actor, name: str) -> tuple[Witness, bool]:
    """The witness of that name (recorded before: ``False``), or a new one without a contact yet."""
    index = blind_index(keys.index_key, _witness_key(name), purpose="witness-name")
    witness = session.scalar(sa.select(Witness).where(Witness.name_index == index))
    if witness is not None:
        return witness, False
    pseudonym = next_public_id(session, Witness.pseudonym, "W-", 4)
    data_key = new_data_key()
    witness = Witness(
        pseudonym=pseudonym, name_index=index,
        wrapped_key=wrap_key(keys.master_key, data_key, label=f"witness:{pseudonym}"),
        name_sealed=seal(data_key, name.strip().encode("utf-8"), label=f"witness:{pseudonym}:name"),
        created_by=actor.name,
    )
    session.add(witness)
    session.flush()
    append_event(session, keys, actor, item_kind="witness", item_id=pseudonym, action="recorded")
    return witness, True


def _contact_label(pseudonym: str, testimony_id: str) -> str:
    return f"witness:{pseudonym}:contact:{testimony_id}"


def witness_contacts(session: Session, keys: VaultKeys, witness: Witness) -> list[dict]:
    """Every contact the witness was given with, decrypted, oldest first: ``contact`` and
    ``testimony`` (the one it came with; the first contact, kept on the witness, is given the
    witness's first testimony). The caller records the reveal."""
    data_key = unwrap_key(keys.master_key, witness.wrapped_key, label=f"witness:{witness.pseudonym}")
    rows = session.execute(sa.select(Testimony.testimony_id, Testimony.witness_contact_sealed)
                           .where(Testimony.witness_pk == witness.id).order_by(Testimony.id)).all()
    found = []
    if witness.contact_sealed:
        found.append({"contact": open_sealed(data_key, witness.contact_sealed,
                                             label=f"witness:{witness.pseudonym}:contact").decode("utf-8"),
                      "testimony": rows[0][0] if rows else None})
    for testimony_id, sealed in rows:
        if sealed:
            found.append({"contact": open_sealed(data_key, sealed, label=_contact_label(witness.pseudonym, testimony_id))
                          .decode("utf-8"), "testimony": testimony_id})
    return found


def _keep_contact(session: Session, keys: VaultKeys, witness: Witness, new_witness: bool, row: Testimony,
                  contact: str | None) -> str:
    """Keep the contact given with testimony ``row``, never over one known before; says what became
    of it: ``none`` (none given), ``first`` (the witness's first contact), ``known`` (one the witness
    already has) or ``added`` (kept beside the witness's earlier contacts)."""
    if not contact:
        return "none"
    data_key = unwrap_key(keys.master_key, witness.wrapped_key, label=f"witness:{witness.pseudonym}")
    if new_witness:
        witness.contact_sealed = seal(data_key, contact.encode("utf-8"), label=f"witness:{witness.pseudonym}:contact")
        return "first"
    if contact in {c["contact"] for c in witness_contacts(session, keys, witness)}:
        return "known"
    row.witness_contact_sealed = seal(data_key, contact.encode("utf-8"),
                                      label=_contact_label(witness.pseudonym, row.testimony_id))
    return "added"


def check_testimony(*, witness_name: str, transcript: str | os.PathLike | bytes, language: str, consent) -> dict:
    """A testimony's given parts checked and normalised (``language``, ``scopes``, ``text``,
    ``file_sha256``), or an :class:`InputError` naming the field: what :func:`add_testimony` refuses,
    found before anything is written."""
    language = (language or "").strip()
    if not _LANGUAGE.match(language):
        raise InputError(f"takes a language code such as fa, en, ku or az, not {language!r}", field="language")
    scopes = parse_scopes(consent, field="consent")
    text, file_sha256 = read_transcript(transcript)
    _witness_key(witness_name)
    return {"language": language, "scopes": scopes, "text": text, "file_sha256": file_sha256}


def add_testimony(store: Store, keys: VaultKeys, *, actor: Actor, witness_name: str,
                  transcript: str | os.PathLike | bytes, language: str, consent, witness_contact: str | None = None,
                  about=(), place: str | None = None, interviewer: str | None = None) -> dict:
    """Record a testimony; returns its id and the witness's pseudonym (never the name).

    ``transcript`` is a text file's path, or its bytes. Custody records the witness (when new) and
    the testimony; the audit log records "testimony added"; all in one transaction.

    A name that folds to one recorded before gives that witness: ``name_matched`` says which (and
    ``earlier_testimonies`` theirs), for the user to check it is the same person. A contact is never
    replaced: one not known for that witness is kept beside the earlier ones, with this testimony
    (``contact``: ``none``, ``first``, ``known`` or ``added``).
    """
    checked = check_testimony(witness_name=witness_name, transcript=transcript, language=language, consent=consent)
    with store.session() as session:
        return add_testimony_in(session, store, keys, actor=actor, witness_name=witness_name, checked=checked,
                                witness_contact=witness_contact, about=about, place=place, interviewer=interviewer)


def add_testimony_in(session: Session, store: Store, keys: VaultKeys, *, actor: Actor, witness_name: str,
                     checked: dict, witness_contact: str | None = None, about=(), place: str | None = None,
                     interviewer: str | None = None, custody: dict | None = None) -> dict:
    """:func:`add_testimony` inside the caller's transaction, with the parts :func:`check_testimony`
    returned, for an action that records testimonies among other things (an intake from a field
    tool); ``custody`` adds to the details of the testimony's "recorded" custody event (where it came
    from: never a witness's identity)."""
    language, scopes, text, file_sha256 = checked["language"], checked["scopes"], checked["text"], checked["file_sha256"]
    witness_contact = (witness_contact or "").strip() or None
    place = (place or "").strip() or None
    interviewer = (interviewer or "").strip() or None
    persons = resolve_persons(session, about)
    place_id = resolve_place(session, place)
    witness, new_witness = _witness(session, keys, actor, witness_name)
    earlier = [] if new_witness else list(session.scalars(
        sa.select(Testimony.testimony_id).where(Testimony.witness_pk == witness.id).order_by(Testimony.id)))
    testimony_id = next_public_id(session, Testimony.testimony_id, "T-", 4)
    data_key = new_data_key()
    body = text.encode("utf-8")
    row = Testimony(
        testimony_id=testimony_id, witness_pk=witness.id, language=language, consent=scopes, place=place,
        place_id=place_id, wrapped_key=wrap_key(keys.master_key, data_key, label=f"testimony:{testimony_id}"),
        transcript_sealed=seal(data_key, body, label=f"testimony:{testimony_id}:transcript"),
        transcript_sha256=hashlib.sha256(body).hexdigest(),
        interviewer_sealed=seal(data_key, interviewer.encode("utf-8"), label=f"testimony:{testimony_id}:interviewer")
        if interviewer else None,
        recorded_by=actor.name,
    )
    contact = _keep_contact(session, keys, witness, new_witness, row, witness_contact)
    session.add(row)
    session.flush()
    for person_id in persons:
        session.add(TestimonyPerson(testimony_pk=row.id, person_id=person_id))
    append_event(session, keys, actor, item_kind="testimony", item_id=testimony_id, action="recorded",
                 details={"witness": witness.pseudonym, "language": language, "consent": scopes, "about": persons,
                          "place": place, "transcript_sha256": row.transcript_sha256,
                          "file_sha256": file_sha256, "characters": len(text)} | (custody or {}))
    if contact == "added":
        append_event(session, keys, actor, item_kind="witness", item_id=witness.pseudonym, action="contact added",
                     details={"for": testimony_id, "kept": "beside the earlier contacts"})
    record_audit(session, store, actor, action="testimony added", object_kind="testimony", object_id=testimony_id,
                 details={"witness": witness.pseudonym, "new_witness": new_witness,
                          "name_matched": None if new_witness else witness.pseudonym, "contact": contact,
                          "language": language, "consent": scopes, "about": persons})
    return testimony_to_dict(session, row) | {
        "new_witness": new_witness, "name_matched": None if new_witness else witness.pseudonym,
        "earlier_testimonies": earlier, "contact": contact}


def witness_match_warning(added: dict) -> str:
    """What to tell the user when a testimony's witness was found by name (``add_testimony``'s answer)."""
    earlier = ", ".join(added["earlier_testimonies"]) or "none"
    kept = {"added": " The contact given was kept beside the earlier one; nothing was replaced.",
            "known": " The contact given is one this witness already had."}.get(added["contact"], "")
    return (f"{added['id']}: the witness's name matched witness {added['name_matched']}, recorded before "
            f"(testimonies {earlier}); check it is the same person (reveal the witness of {added['id']})."
            + kept)


def testimony_to_dict(session: Session, row: Testimony) -> dict:
    """What may be shown without decrypting anything."""
    about = list(session.scalars(sa.select(TestimonyPerson.person_id).where(TestimonyPerson.testimony_pk == row.id)
                                 .order_by(TestimonyPerson.person_id)))
    pseudonym = session.scalar(sa.select(Witness.pseudonym).where(Witness.id == row.witness_pk))
    return {"id": row.testimony_id, "witness": pseudonym, "language": row.language, "consent": row.consent,
            "about": about, "place": row.place, "place_id": row.place_id, "transcript_sha256": row.transcript_sha256,
            "has_interviewer": row.interviewer_sealed is not None, "recorded_by": row.recorded_by,
            "recorded_at": row.recorded_at.isoformat() if row.recorded_at else None}


def get_testimony(session: Session, testimony_id: str) -> Testimony:
    row = session.scalar(sa.select(Testimony).where(Testimony.testimony_id == testimony_id.strip().upper()))
    if row is None:
        raise NotFound(f"no testimony with id {testimony_id!r} (see `dadkhah testimony list`)")
    return row


def list_testimonies(session: Session, *, limit: int | None = None, offset: int = 0) -> list[dict]:
    query = sa.select(Testimony).order_by(Testimony.id).offset(offset)
    if limit is not None:
        query = query.limit(limit)
    return [testimony_to_dict(session, row) for row in session.scalars(query)]


def open_testimony(keys: VaultKeys, row: Testimony) -> dict:
    """The sealed parts of a testimony, decrypted (the caller records the reading)."""
    data_key = unwrap_key(keys.master_key, row.wrapped_key, label=f"testimony:{row.testimony_id}")
    transcript = open_sealed(data_key, row.transcript_sealed, label=f"testimony:{row.testimony_id}:transcript").decode("utf-8")
    interviewer = (open_sealed(data_key, row.interviewer_sealed, label=f"testimony:{row.testimony_id}:interviewer").decode("utf-8")
                   if row.interviewer_sealed else None)
    return {"transcript": transcript, "interviewer": interviewer}


def show_testimony(store: Store, keys: VaultKeys, testimony_id: str, *, actor: Actor,
                   reveal_witness: bool = False) -> dict:
    """A testimony with its transcript; with ``reveal_witness``, also who the witness is.

    Each reading is recorded, in the transaction that decrypts it: custody "viewed" and audit
    "testimony read"; revealing adds custody "identity revealed" and audit "witness identity
    revealed". If decryption fails, nothing is recorded and nothing is shown.
    """
    with store.session() as session:
        row = get_testimony(session, testimony_id)
        document = testimony_to_dict(session, row) | open_testimony(keys, row)
        append_event(session, keys, actor, item_kind="testimony", item_id=row.testimony_id, action="viewed",
                     details={"what": "transcript and interviewer"})
        record_audit(session, store, actor, action="testimony read", object_kind="testimony",
                     object_id=row.testimony_id, details={"what": "transcript"})
        if reveal_witness:
            witness = session.get(Witness, row.witness_pk)
            data_key = unwrap_key(keys.master_key, witness.wrapped_key, label=f"witness:{witness.pseudonym}")
            document["witness_name"] = open_sealed(data_key, witness.name_sealed, label=f"witness:{witness.pseudonym}:name").decode("utf-8")
            contacts = witness_contacts(session, keys, witness)
            given = [c["contact"] for c in contacts if c["testimony"] == row.testimony_id]
            # The contact given with this testimony; else the witness's first one.
            document["witness_contact"] = given[-1] if given else contacts[0]["contact"] if contacts else None
            document["witness_contacts"] = contacts
            append_event(session, keys, actor, item_kind="witness", item_id=witness.pseudonym, action="identity revealed",
                         details={"for": row.testimony_id})
            record_audit(session, store, actor, action="witness identity revealed", object_kind="witness",
                         object_id=witness.pseudonym, details={"testimony": row.testimony_id})
        return document | {"revealed": reveal_witness}
