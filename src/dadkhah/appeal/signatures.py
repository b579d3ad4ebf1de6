"""Signatures: signing from the public page, confirming by email, withdrawing, paper signatures,
moderation (one by one or in bulk), and purging what a closed appeal no longer needs.

What is kept, and why:
- the signer's name, email, role and affiliation sealed with the workspace's keys (a database dump
  reveals none of them); the email's keyed hash, so one address signs once; the name's keyed
  cross-script key, so the same name from another address goes to a moderator, never merged;
- in clear, once verified and only when the signer asked to be named: the name, role and affiliation
  that the public page shows anyway; the kind and country, for the counts;
- the client's address only as a keyed hash, and only as long as throttling needs it.

Signing, confirming and withdrawing from the public page are the signer's own acts: the signature's
row is their record (when signed, confirmed, withdrawn), and no audit event keeps the signer's
address. What staff do (paper signatures, moderation, invalidation, purge) is audited.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import threading
import time
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from dadkhah.appeal.appeals import (
    KINDS,
    CountsCache,
    corrections,
    counts,
    current_text,
    deliveries,
    find_appeal,
    public_counts,
    public_signatories,
    purge_due,
)
from dadkhah.appeal.mail import email_domain, normalise_domain, normalise_email, queue_confirmation
from dadkhah.audit import Actor, record_audit
from dadkhah.errors import DadkhahError, InputError, NotFound
from dadkhah.model import Appeal, AppealMail, AppealRequest, Signature
from dadkhah.model.base import utcnow
from dadkhah.normalize.names import normalize_name
from dadkhah.normalize.script import INVISIBLE
from dadkhah.store import Store
from dadkhah.vault.crypto import blind_index, new_data_key, open_sealed, seal, unwrap_key, wrap_key
from dadkhah.vault.keys import VaultKeys

MAX_FIELD = 300
LANGUAGES = ("en", "fa")
DECISIONS = ("approve", "reject")


@dataclass(frozen=True)
class SigningLimits:
    """How much one client address (and one email address) may ask of the public page.

    ``requests`` signing requests per ``window`` from one address; at most ``pending`` unconfirmed
    signatures from one address at a time; from ``suspicious`` signatures in one window on, the
    address's further signatures wait for a moderator; at most ``mails`` confirmation emails to one
    address per day. Confirmation links work for ``confirm_days``.
    """

    requests: int = 30
    window: timedelta = timedelta(hours=1)
    pending: int = 10
    suspicious: int = 5
    mails: int = 3
    confirm_days: int = 14


DEFAULT_LIMITS = SigningLimits()


class Throttled(DadkhahError):
    """Too many signing requests from one address: try again later."""

    def __init__(self, message: str, retry_after: int):
        super().__init__(message)
        self.retry_after = retry_after

    def to_dict(self) -> dict:
        return {"message": str(self), "retry_after": self.retry_after}


def _field(value: str | None, *, field: str, required: bool = False) -> str | None:
    value = unicodedata.normalize("NFC", (value or "")).strip()
    value = " ".join(value.split())
    if INVISIBLE.search(value):  # a control character, or one that reverses how the public list shows a name
        raise InputError("holds control or text-direction characters", field=field)
    if len(value) > MAX_FIELD:
        raise InputError(f"is longer than {MAX_FIELD} characters", field=field)
    if required and not value:
        raise InputError("is required", field=field)
    return value or None


def name_key(name: str) -> str | None:
    """The registry's cross-script key of a whole name, its words in order of the key (so "Last,
    First" and "First Last", in Persian or Latin script, give one key)."""
    value = normalize_name(name, "family")
    if value is None or not value.key:
        return None
    return " ".join(sorted(value.key.split()))


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("ascii", "replace")).hexdigest()


def _index(keys: VaultKeys, value: str, purpose: str) -> str:
    return blind_index(keys.index_key, value, purpose=f"appeal-{purpose}")


def _need_keys(keys: VaultKeys | None) -> VaultKeys:
    if keys is None or not keys.master_key:
        raise InputError("the workspace's keys are needed to seal signers' details; signing is closed until the "
                         "server is started with them", field="keys")
    return keys


def _identity(keys: VaultKeys, signature: Signature) -> dict:
    label = f"signature:{signature.id}"
    data_key = unwrap_key(keys.master_key, signature.wrapped_key, label=label)
    return json.loads(open_sealed(data_key, signature.identity_sealed, label=f"{label}:identity"))


def _sealed_identity(keys: VaultKeys, signature_id: int, identity: dict) -> tuple[bytes, dict]:
    """A new data key for the signature, and its columns: the wrapped key and the sealed identity."""
    label = f"signature:{signature_id}"
    data_key = new_data_key()
    return data_key, {"wrapped_key": wrap_key(keys.master_key, data_key, label=label),
                      "identity_sealed": seal(data_key, json.dumps(identity, ensure_ascii=False).encode("utf-8"),
                                              label=f"{label}:identity")}


def _publish(signature: Signature, identity: dict) -> None:
    """A verified signature's public fields, when the signer asked to be named."""
    if signature.status == "verified" and signature.wants_public:
        signature.public_name = identity["name"]
        signature.public_role = identity.get("role")
        signature.public_affiliation = identity.get("affiliation")
    else:
        signature.public_name = signature.public_role = signature.public_affiliation = None


def _erase(signature: Signature) -> None:
    signature.identity_sealed = signature.wrapped_key = None
    signature.public_name = signature.public_role = signature.public_affiliation = None
    signature.confirm_token_hash = signature.withdraw_token_hash = None
    signature.address_index = signature.name_index = signature.domain_index = None
    signature.erased_at = utcnow()


def _duplicate_of(session: Session, appeal: Appeal, name_index: str | None, exclude: int | None) -> Signature | None:
    if name_index is None:
        return None
    query = sa.select(Signature).where(Signature.appeal_pk == appeal.id, Signature.name_index == name_index,
                                       Signature.status.in_(("pending", "held", "verified")))
    if exclude is not None:
        query = query.where(Signature.id != exclude)
    return session.scalars(query.order_by(Signature.id).limit(1)).first()


def _details(name, email, affiliation, role, country, kind, public_name, language) -> dict:
    name = _field(name, field="name", required=True)
    kind = (kind or "person").strip().lower()
    if kind not in KINDS:
        raise InputError(f"is person or organisation, not {kind!r}", field="kind")
    language = language if language in LANGUAGES else "en"
    return {"name": name, "email": email, "affiliation": _field(affiliation, field="affiliation"),
            "role": _field(role, field="role"), "country": _field(country, field="country"), "kind": kind,
            "public": bool(public_name), "language": language}


def _throttle(session: Session, limits: SigningLimits, address_index: str | None, now: datetime) -> int:
    """Refuse a request over the address's limits; returns how many signatures it made this window.
    (The caller records the request when it writes.)"""
    if address_index is None:
        return 0
    since = now - limits.window
    asked, signed, pending = session.execute(sa.select(
        sa.select(sa.func.count()).select_from(AppealRequest)
        .where(AppealRequest.address_index == address_index, AppealRequest.at > since).scalar_subquery(),
        sa.select(sa.func.count()).select_from(Signature)
        .where(Signature.address_index == address_index, Signature.created_at > since).scalar_subquery(),
        sa.select(sa.func.count()).select_from(Signature)
        .where(Signature.address_index == address_index, Signature.created_at > since,
               Signature.status == "pending").scalar_subquery())).one()
    retry = int(limits.window.total_seconds())
    if asked >= limits.requests:
        raise Throttled("too many signing requests from your network; try again in an hour", retry)
    if pending >= limits.pending:
        raise Throttled("too many unconfirmed signatures from your network; confirm them by email first", retry)
    return signed


def forget_addresses(session: Session, limits: SigningLimits = DEFAULT_LIMITS) -> int:
    """Drop client addresses older than the throttling window; returns how many were dropped."""
    cutoff = utcnow() - limits.window
    dropped = session.execute(sa.delete(AppealRequest).where(AppealRequest.at <= cutoff)).rowcount or 0
    dropped += session.execute(sa.update(Signature).where(Signature.address_index.is_not(None),
                                                          Signature.created_at <= cutoff)
                               .values(address_index=None)).rowcount or 0
    return dropped


_FORGET_EVERY = 60.0  # seconds between two sweeps of expired client addresses, per process
_forgotten_at = [0.0]


def _forget_now_and_then(session: Session, limits: SigningLimits) -> None:
    """Drop expired client addresses at most once a minute, in a signing's own transaction."""
    now = time.monotonic()
    if now - _forgotten_at[0] >= _FORGET_EVERY:
        _forgotten_at[0] = now
        forget_addresses(session, limits)


def sign(store: Store, keys: VaultKeys | None, slug: str, *, name: str, email: str, base_url: str,
         affiliation: str | None = None, role: str | None = None, country: str | None = None, kind: str = "person",
         public_name: bool = False, language: str = "en", address: str | None = None, honeypot: str | None = None,
         limits: SigningLimits = DEFAULT_LIMITS) -> dict:
    """Sign an open appeal from its public page; the signature counts once the email is confirmed.

    The answer is the same whether the address is new, already signed, or the request was a bot's
    (``honeypot`` filled): the page never tells anyone whether an address has signed. Returns
    ``{"status": "check-your-email"}`` plus, for tests and logs, ``"queued"`` (a mail was queued).
    """
    keys = _need_keys(keys)
    answer = {"status": "check-your-email", "queued": False}
    if honeypot:
        return answer
    details = _details(name, email, affiliation, role, country, kind, public_name, language)
    given, normal = normalise_email(email)
    now = utcnow()
    # Signing is the public page's hot path: plain statements, no object tracking; everything is read
    # and sealed first, and the writes then take the database's write lock for as short a time as can be.
    with store.session() as session:
        appeal = session.execute(sa.select(Appeal.id, Appeal.status, Appeal.version).where(
            Appeal.slug == (slug or "").strip().lower())).first()
        if appeal is None:
            raise NotFound(f"no appeal {slug!r}")
        if appeal.status != "open":
            raise InputError("this appeal is not taking signatures", field="slug")
        address_index = _index(keys, address, "address") if address else None
        recent = _throttle(session, limits, address_index, now)
        email_index = _index(keys, normal, "email")
        existing = session.execute(sa.select(Signature.id, Signature.status, Signature.mails_sent,
                                             Signature.last_mail_at).where(Signature.appeal_pk == appeal.id,
                                                                           Signature.email_index == email_index)).first()
        # Counted once; a moderator's rejection stands; confirmation mail is bounded per day, and one
        # already on its way is enough.
        silent = existing is not None and (existing.status in ("verified", "held", "rejected") or (
            existing.status == "pending" and (
                (existing.mails_sent >= limits.mails and existing.last_mail_at is not None
                 and existing.last_mail_at > now - timedelta(days=1))
                or session.scalar(sa.select(AppealMail.id).where(AppealMail.signature_pk == existing.id)) is not None)))
        key = name_key(details["name"])
        name_index = _index(keys, key, "name") if key else None
        twin = None
        if name_index is not None and not silent:
            twin = session.scalar(sa.select(Signature.id).where(
                Signature.appeal_pk == appeal.id, Signature.name_index == name_index,
                Signature.status.in_(("pending", "held", "verified")),
                *([Signature.id != existing.id] if existing is not None else [])).order_by(Signature.id).limit(1))
    if silent:
        if address_index is not None:
            _write_together(store, _Signing(keys=keys, limits=limits, now=now, address_index=address_index))
        return answer
    flag = flag_detail = None
    if twin is not None:
        flag, flag_detail = "duplicate", f"the same name as signature {twin}"
    elif recent >= limits.suspicious:
        flag, flag_detail = "suspicious", f"{recent + 1} signatures from one network in an hour"
    elif details["kind"] == "organisation":
        flag, flag_detail = "organisation", "an organisation: a reviewer confirms it"
    tokens = {"confirm": secrets.token_urlsafe(32), "withdraw": secrets.token_urlsafe(32)}
    values = {"version": appeal.version, "kind": details["kind"], "status": "pending", "flag": flag,
              "flag_detail": flag_detail, "country": details["country"], "language": details["language"],
              "wants_public": details["public"], "domain_index": _index(keys, email_domain(normal), "domain"),
              "name_index": name_index, "address_index": address_index, "created_at": now, "withdrawn_at": None,
              "erased_at": None, "public_name": None, "public_role": None, "public_affiliation": None,
              "confirm_token_hash": _token_hash(tokens["confirm"]), "withdraw_token_hash": _token_hash(tokens["withdraw"])}
    identity = {"name": details["name"], "email": given, "affiliation": details["affiliation"],
                "role": details["role"]}
    queued = _write_together(store, _Signing(
        keys=keys, limits=limits, now=now, address_index=address_index, appeal_pk=appeal.id,
        email_index=email_index, existing_id=existing.id if existing is not None else None, values=values,
        identity=identity, tokens=tokens, base_url=base_url))
    return answer | {"queued": queued}


@dataclass
class _Signing:
    """One signing's writes, read and sealed beforehand; written with others in one transaction."""

    keys: VaultKeys
    limits: SigningLimits
    now: datetime
    address_index: str | None
    appeal_pk: int | None = None  # None: only the request is recorded (an answer that signs nothing)
    email_index: str | None = None
    existing_id: int | None = None
    values: dict | None = None
    identity: dict | None = None
    tokens: dict | None = None
    base_url: str = ""
    done: bool = False
    queued: bool = False
    error: BaseException | None = None


_batches_lock = threading.Lock()


def _write_together(store: Store, signing: _Signing) -> bool:
    """Write ``signing``, together with whatever other signings of this process are waiting.

    The first request to get the writer's turn writes every signing queued by then in one
    transaction (one lock, one commit, for tens of signatures at a busy moment); those whose
    signing it wrote find it done when their turn comes. Returns whether a confirmation was queued.
    """
    with _batches_lock:
        store.waiting.setdefault("signing", []).append(signing)
    with store.one_writer():
        if not signing.done:
            with _batches_lock:
                batch, store.waiting["signing"] = store.waiting["signing"], []
            try:
                with store.session() as session:
                    for item in batch:
                        item.queued = _write_signing(session, item)
                    _forget_now_and_then(session, signing.limits)
            except BaseException as exc:  # every signing of the batch failed with it: each says so
                for item in batch:
                    item.error = exc
                raise
            finally:
                for item in batch:
                    item.done = True
    if signing.error is not None:
        raise signing.error
    return signing.queued


def _write_signing(session: Session, item: _Signing) -> bool:
    if item.address_index is not None:  # the request counts against its network, whatever it did
        session.execute(sa.insert(AppealRequest).values(address_index=item.address_index, at=item.now))
    if item.appeal_pk is None:
        return False
    # Under the writer's turn nobody else writes: what was read before is checked once more.
    now_there = session.execute(sa.select(Signature.id, Signature.status).where(
        Signature.appeal_pk == item.appeal_pk, Signature.email_index == item.email_index)).first()
    if now_there is not None and (now_there.id != item.existing_id or now_there.status not in ("pending", "withdrawn")):
        return False  # the same address signed a moment ago: it counts once
    if now_there is None:
        signature_id = session.execute(sa.insert(Signature).values(
            appeal_pk=item.appeal_pk, email_index=item.email_index, channel="web", mails_sent=0, **item.values)
            .returning(Signature.id)).scalar_one()
    else:
        signature_id = now_there.id
        session.execute(sa.update(Signature).where(Signature.id == signature_id).values(**item.values))
    data_key, sealed = _sealed_identity(item.keys, signature_id, item.identity)
    session.execute(sa.update(Signature).where(Signature.id == signature_id).values(**sealed))
    queue_confirmation(session, signature_id, base_url=item.base_url, sealed_tokens=seal(
        data_key, json.dumps(item.tokens).encode(), label=f"signature:{signature_id}:mail"))
    return True


def _by_token(session: Session, slug: str, token: str, column) -> tuple[Appeal, Signature]:
    appeal = find_appeal(session, slug, field="slug")
    signature = session.scalar(sa.select(Signature).where(column == _token_hash(token or ""),
                                                          Signature.appeal_pk == appeal.id))
    if signature is None or not token:
        raise NotFound("this link has been used already, or it is not a link we sent")
    return appeal, signature


def confirm(store: Store, keys: VaultKeys | None, slug: str, token: str,
            limits: SigningLimits = DEFAULT_LIMITS) -> dict:
    """The signer opened the link in the confirmation email: the signature counts (or, when a
    moderator must look first, waits for them). The link works once."""
    keys = _need_keys(keys)
    with store.session() as session:
        appeal, signature = _by_token(session, slug, token, Signature.confirm_token_hash)
        if signature.created_at < utcnow() - timedelta(days=limits.confirm_days):
            raise InputError(f"this link was valid for {limits.confirm_days} days; sign again to get a new one",
                             field="token")
        if appeal.status != "open":
            raise InputError("this appeal no longer takes signatures", field="slug")
        signature.confirm_token_hash = None
        signature.confirmed_at = utcnow()
        signature.status = "held" if signature.flag else "verified"
        _publish(signature, _identity(keys, signature))
        # "public": the name will be shown (at once when verified, once a moderator approves when held).
        return {"status": signature.status, "public": signature.wants_public, "version": signature.version}


def withdraw(store: Store, slug: str, token: str) -> dict:
    """The signer withdraws: the signature stops counting, and their name and email are erased."""
    with store.session() as session:
        _, signature = _by_token(session, slug, token, Signature.withdraw_token_hash)
        signature.status = "withdrawn"
        signature.withdrawn_at = utcnow()
        session.execute(sa.delete(AppealMail).where(AppealMail.signature_pk == signature.id))
        _erase(signature)
        return {"status": "withdrawn"}


def add_paper_signature(store: Store, keys: VaultKeys | None, ref: str, *, actor: Actor, name: str,
                        verified_by: str, email: str | None = None, affiliation: str | None = None,
                        role: str | None = None, country: str | None = None, kind: str = "person",
                        public_name: bool = True, language: str = "en") -> dict:
    """A signature given on paper or offline, vouched for by ``verified_by``: counted at once
    (unless its name matches another signature's, when a moderator decides)."""
    keys = _need_keys(keys)
    verified_by = _field(verified_by, field="verified_by", required=True)
    details = _details(name, email, affiliation, role, country, kind, public_name, language)
    normal = normalise_email(email)[1] if (email or "").strip() else None
    with store.session() as session:
        appeal = find_appeal(session, ref, lock=True)
        if appeal.status == "draft":
            raise InputError(f"{appeal.appeal_id} has not been published", field="appeal")
        email_index = _index(keys, normal, "email") if normal else None
        if email_index and session.scalar(sa.select(Signature.id).where(Signature.appeal_pk == appeal.id,
                                                                        Signature.email_index == email_index)):
            raise InputError("this email address has already signed this appeal", field="email")
        key = name_key(details["name"])
        signature = Signature(appeal_pk=appeal.id, version=appeal.version, kind=details["kind"], channel="paper",
                              country=details["country"], language=details["language"],
                              wants_public=details["public"], email_index=email_index,
                              domain_index=_index(keys, email_domain(normal), "domain") if normal else None,
                              name_index=_index(keys, key, "name") if key else None, verified_by=verified_by,
                              confirmed_at=utcnow(), status="verified")
        session.add(signature)
        session.flush()
        twin = _duplicate_of(session, appeal, signature.name_index, signature.id)
        if twin is not None:
            signature.status, signature.flag = "held", "duplicate"
            signature.flag_detail = f"the same name as signature {twin.id}"
        identity = {"name": details["name"], "email": email.strip() if normal else None,
                    "affiliation": details["affiliation"], "role": details["role"]}
        for column, value in _sealed_identity(keys, signature.id, identity)[1].items():
            setattr(signature, column, value)
        _publish(signature, identity)
        record_audit(session, store, actor, action="signature added", object_kind="appeal",
                     object_id=appeal.appeal_id, details={"signature": signature.id, "kind": signature.kind,
                                                          "verified_by": verified_by, "status": signature.status})
        return {"appeal": appeal.appeal_id, "signature": signature.id, "status": signature.status,
                "flag": signature.flag, "public": signature.public_name is not None}


def moderation_queue(store: Store, keys: VaultKeys | None, ref: str, *, actor: Actor, status: str | None = None,
                     limit: int = 50, offset: int = 0) -> dict:
    """What waits for a moderator: held signatures (duplicates, suspicious, organisations) first,
    then pending ones, with the names and email domains unsealed for the moderator (a read of
    sealed details: audited)."""
    keys = _need_keys(keys)
    shown = ("held", "pending") if status is None else (status,)
    if any(s not in ("held", "pending", "verified", "rejected") for s in shown):
        raise InputError("is held, pending, verified or rejected", field="status")
    with store.session() as session:
        appeal = find_appeal(session, ref)
        query = (sa.select(Signature).where(Signature.appeal_pk == appeal.id, Signature.status.in_(shown))
                 .order_by(sa.case((Signature.status == "held", 0), else_=1), Signature.id))
        total = session.scalar(sa.select(sa.func.count()).select_from(Signature).where(
            Signature.appeal_pk == appeal.id, Signature.status.in_(shown))) or 0
        items = []
        for signature in session.scalars(query.limit(limit).offset(offset)):
            identity = _identity(keys, signature) if signature.identity_sealed else {}
            email = identity.get("email")
            twin = None
            if signature.flag == "duplicate":
                other = _duplicate_of(session, appeal, signature.name_index, signature.id)
                if other is not None:
                    twin = {"id": other.id, "status": other.status, "kind": other.kind,
                            "name": (_identity(keys, other).get("name") if other.identity_sealed else None)}
            items.append({"id": signature.id, "status": signature.status, "kind": signature.kind,
                          "flag": signature.flag, "flag_detail": signature.flag_detail, "name": identity.get("name"),
                          "email_domain": email.rsplit("@", 1)[1].lower() if email else None,
                          "role": identity.get("role"), "affiliation": identity.get("affiliation"),
                          "country": signature.country, "public": signature.wants_public,
                          "channel": signature.channel, "created_at": signature.created_at,
                          "confirmed_at": signature.confirmed_at, "duplicate_of": twin})
        record_audit(session, store, actor, action="signatures read", object_kind="appeal",
                     object_id=appeal.appeal_id, details={"signatures": [i["id"] for i in items],
                                                          "status": list(shown)})
        return {"id": appeal.appeal_id, "total": total, "limit": limit, "offset": offset, "signatures": items}


def decide(store: Store, keys: VaultKeys | None, ref: str, signature_ids, *, actor: Actor, decision: str,
           reason: str | None = None) -> dict:
    """A moderator's decision on signatures: ``approve`` (count a held one, or vouch for an
    organisation) or ``reject`` (with a reason). Pending signatures can only be rejected: approving
    one would skip the email's confirmation."""
    if decision not in DECISIONS:
        raise InputError(f"is approve or reject, not {decision!r}", field="decision")
    reason = _field(reason, field="reason")
    if decision == "reject" and not reason:
        raise InputError("say why (it is kept in the appeal's history)", field="reason")
    ids = sorted({_signature_number(s) for s in (signature_ids or [])})
    if not ids:
        raise InputError("name at least one signature", field="signatures")
    keys = _need_keys(keys) if decision == "approve" else keys
    with store.session() as session:
        appeal = find_appeal(session, ref, lock=True)
        before = counts(session, appeal)["counts"]["verified"]
        found = {s.id: s for s in session.scalars(sa.select(Signature).where(Signature.appeal_pk == appeal.id,
                                                                              Signature.id.in_(ids)))}
        missing = [i for i in ids if i not in found]
        if missing:
            raise NotFound(f"{appeal.appeal_id} has no signature {', '.join(map(str, missing))}")
        was_counted = False
        for signature in found.values():
            if decision == "approve":
                if signature.status not in ("held", "verified"):
                    raise InputError(f"signature {signature.id} is {signature.status}: only a confirmed signature "
                                     "can be approved", field="signatures")
                signature.status = "verified"
                signature.verified_by = signature.verified_by or actor.name
                _publish(signature, _identity(keys, signature) if signature.identity_sealed else {"name": None})
            else:
                if signature.status in ("withdrawn", "rejected"):
                    raise InputError(f"signature {signature.id} is already {signature.status}", field="signatures")
                was_counted = was_counted or signature.status == "verified"
                signature.status = "rejected"
                signature.confirm_token_hash = None
                _publish(signature, {})
                session.execute(sa.delete(AppealMail).where(AppealMail.signature_pk == signature.id))
            signature.decided_by, signature.decided_at, signature.decision_reason = actor.name, utcnow(), reason
        session.flush()
        after = counts(session, appeal)["counts"]["verified"]
        record_audit(session, store, actor, action="signature decided", object_kind="appeal",
                     object_id=appeal.appeal_id, details={"signatures": ids, "decision": decision, "reason": reason,
                                                          "was_counted": was_counted, "before": before,
                                                          "after": after})
        return {"id": appeal.appeal_id, "decision": decision, "signatures": ids, "verified_before": before,
                "verified_after": after}


def _signature_number(value) -> int:
    try:
        number = int(str(value).strip().lstrip("#"))
    except ValueError:
        raise InputError(f"{value!r} is not a signature's number", field="signatures") from None
    if number <= 0:
        raise InputError(f"{value!r} is not a signature's number", field="signatures")
    return number


def _moment(value, *, field: str) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        moment = value
    else:
        try:
            moment = datetime.fromisoformat(str(value).strip())
        except ValueError:
            raise InputError(f"takes a date or a time as 2026-12-05 or 2026-12-05T14:30, not {value!r}",
                             field=field) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def invalidate(store: Store, keys: VaultKeys | None, ref: str, *, actor: Actor, reason: str,
               domain: str | None = None, since=None, until=None) -> dict:
    """Reject in bulk every signature not already withdrawn or rejected from an email ``domain``
    and/or signed in a time window (``since`` ≤ signed < ``until``), with the reason; counted
    signatures removed this way are a correction the appeal's history shows."""
    reason = _field(reason, field="reason")
    if not reason:
        raise InputError("say why (it is kept in the appeal's history)", field="reason")
    start, end = _moment(since, field="since"), _moment(until, field="until")
    if domain is None and start is None and end is None:
        raise InputError("give a domain, a time window, or both", field="domain")
    if start and end and end <= start:
        raise InputError("the window ends before it begins", field="until")
    conditions = [Signature.status.in_(("pending", "held", "verified"))]
    if domain is not None:
        keys = _need_keys(keys)
        conditions.append(Signature.domain_index == _index(keys, normalise_domain(domain), "domain"))
    if start is not None:
        conditions.append(Signature.created_at >= start)
    if end is not None:
        conditions.append(Signature.created_at < end)
    with store.session() as session:
        appeal = find_appeal(session, ref, lock=True)
        tally = counts(session, appeal)["counts"]
        hit = sa.select(Signature.id).where(Signature.appeal_pk == appeal.id, *conditions)
        counted = session.scalar(sa.select(sa.func.count()).select_from(Signature).where(
            Signature.appeal_pk == appeal.id, Signature.status == "verified", *conditions)) or 0
        session.execute(sa.delete(AppealMail).where(AppealMail.signature_pk.in_(hit)))
        removed = session.execute(
            sa.update(Signature).where(Signature.appeal_pk == appeal.id, *conditions)
            .values(status="rejected", decided_by=actor.name, decided_at=utcnow(), decision_reason=reason,
                    confirm_token_hash=None, public_name=None, public_role=None, public_affiliation=None)
            .execution_options(synchronize_session=False)).rowcount or 0
        after = counts(session, appeal)["counts"]
        details = {"domain": normalise_domain(domain) if domain else None,
                   "since": start.isoformat() if start else None, "until": end.isoformat() if end else None,
                   "reason": reason, "removed": removed, "was_counted": counted,
                   "before": tally["verified"], "after": after["verified"]}
        record_audit(session, store, actor, action="signatures invalidated", object_kind="appeal",
                     object_id=appeal.appeal_id, details=details)
        return {"id": appeal.appeal_id} | details


def purge(store: Store, ref: str, *, actor: Actor, older_than_days: int, only_if_due: bool = False) -> dict | None:
    """Erase what a closed appeal no longer needs from signatures untouched for ``older_than_days``:
    sealed names and emails, keyed hashes, links, the mail queue, the client addresses. The counts,
    and the names of verified signatories who asked to be named, stay. ``only_if_due``: only if the
    appeal's promised erasure is due (else None, nothing written), decided under the appeal's lock."""
    try:
        days = int(older_than_days)
    except (TypeError, ValueError):
        raise InputError(f"{older_than_days!r} is not a number of days", field="older_than") from None
    if days < 0:
        raise InputError("is a number of days, 0 or more", field="older_than")
    cutoff = utcnow() - timedelta(days=days)
    with store.session() as session:
        appeal = find_appeal(session, ref, lock=True)
        if only_if_due and not purge_due(session, appeal):  # (another process purged it first)
            return None
        if appeal.status != "closed":
            raise InputError(f"{appeal.appeal_id} is {appeal.status}: close it first (signers' details are "
                             "needed while it takes signatures)", field="appeal")
        if appeal.closed_at and appeal.closed_at > cutoff:
            raise InputError(f"{appeal.appeal_id} was closed {(utcnow() - appeal.closed_at).days} days ago, "
                             f"less than {days}", field="older_than")
        last_change = sa.func.coalesce(Signature.decided_at, Signature.withdrawn_at, Signature.confirmed_at,
                                       Signature.created_at)
        due = sa.select(Signature.id).where(Signature.appeal_pk == appeal.id, Signature.erased_at.is_(None),
                                            last_change <= cutoff)
        mail = session.execute(sa.delete(AppealMail).where(AppealMail.signature_pk.in_(due))).rowcount or 0
        stamp = utcnow()
        erased = session.execute(sa.update(Signature).where(Signature.id.in_(due)).values(
            identity_sealed=None, wrapped_key=None, email_index=None, domain_index=None, name_index=None,
            address_index=None, confirm_token_hash=None, withdraw_token_hash=None, erased_at=stamp)
            .execution_options(synchronize_session=False)).rowcount or 0
        # Unconfirmed signatures were never counted, only waiting: now they are refused for good.
        expired = session.execute(sa.update(Signature).where(Signature.appeal_pk == appeal.id,
                                                             Signature.erased_at == stamp,
                                                             Signature.status == "pending")
                                  .values(status="rejected", decision_reason="never confirmed; purged",
                                          decided_at=stamp, decided_by=actor.name)
                                  .execution_options(synchronize_session=False)).rowcount or 0
        forgotten = forget_addresses(session)
        after = counts(session, appeal)
        details = {"older_than_days": days, "erased": erased, "unconfirmed_refused": expired, "mail_dropped": mail,
                   "addresses_forgotten": forgotten, "verified": after["counts"]["verified"],
                   "public_names": after["counts"]["public_names"]}
        record_audit(session, store, actor, action="appeal purged", object_kind="appeal",
                     object_id=appeal.appeal_id, details=details)
        return {"id": appeal.appeal_id} | details


def purge_due_appeals(store: Store, *, actor: Actor) -> list[dict]:
    """Keep the promise every appeal's page makes: signers' details are erased ``keep_days`` after it
    closed. Each closed appeal whose time has come and which still holds such details is purged
    whole (:func:`purge`, untouched for 0 days: every signature), each in its own transaction with
    its "appeal purged" event. Appeals not yet due, or purged already, are left as they are and
    leave no event: answers the purges made, oldest appeal first. ``dadkhah worker`` (and so ``dadkhah
    serve``) runs this every hour; ``dadkhah appeal purge-due`` runs it now."""
    with store.session() as session:
        closed = session.scalars(sa.select(Appeal).where(Appeal.status == "closed").order_by(Appeal.id)).all()
        due = [appeal.appeal_id for appeal in closed if purge_due(session, appeal)]
    done = (purge(store, appeal_id, actor=actor, older_than_days=0, only_if_due=True) for appeal_id in due)
    return [purged for purged in done if purged is not None]


def public_page(store: Store, slug: str, *, limit: int = 100, offset: int = 0, order: str | None = None,
                cache: CountsCache | None = None) -> dict:
    """What the public page shows: the current text in both languages, the live counts (``as_of``
    when they were counted: now, or at most ``cache.seconds`` ago), the corrections since
    publication, the deliveries, and a page of public signatories."""
    with store.session() as session:
        appeal = find_appeal(session, slug, field="slug")
        if appeal.status == "draft":
            raise NotFound(f"no appeal {slug!r}")
        text = current_text(session, appeal)
        as_of, tally = cache.get(session, appeal) if cache is not None else (utcnow(), counts(session, appeal))
        people = public_signatories(session, appeal, order=order, limit=limit + 1, offset=offset,
                                    named_by_kind=tally["named_by_kind"])
        return {"id": appeal.appeal_id, "slug": appeal.slug, "status": appeal.status, "version": appeal.version,
                "title": text.title, "title_fa": text.title_fa, "text": text.text, "text_fa": text.text_fa,
                "addressee": appeal.addressee, "keep_days": appeal.keep_days, "published_at": appeal.published_at,
                "closed_at": appeal.closed_at, "as_of": as_of, **public_counts(tally),
                "corrections": corrections(session, appeal), "deliveries": [
                    {k: d[k] for k in ("to", "on", "version", "verified")} for d in deliveries(session, appeal)],
                "signatories": people[:limit], "has_more": len(people) > limit, "limit": limit, "offset": offset}
