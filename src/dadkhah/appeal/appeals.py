"""Appeals: an open letter's life (draft, open, closed), its versioned text, its counts and history,
its deliveries, and its exports (the letter with its public signatories, as CSV or PDF).

The text of a published appeal is never edited: a change is a new version, and every signature
keeps the version it was given on. Each action here writes its audit event in its own
transaction, for an explicit actor; the history of an appeal is those events, so a correction
of the counts after publication (a rejection, an invalidation in bulk) stays visible.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
import threading
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.orm import Session

from dadkhah.audit import Actor, record_audit
from dadkhah.errors import InputError, NotFound
from dadkhah.ingest.readers import text_encoding
from dadkhah.model import Appeal, AppealDelivery, AppealVersion, AuditEvent, Signature
from dadkhah.model.base import utcnow
from dadkhah.outfiles import checked_out, format_for
from dadkhah.spreadsheet import SafeWriter
from dadkhah.store import Store
from dadkhah.vault.evidence import add_evidence_in, next_public_id
from dadkhah.vault.files import checked_input_file
from dadkhah.vault.keys import VaultKeys

STATUSES = ("draft", "open", "closed")
ORDERS = ("organisations-first", "people-first", "alphabetical", "signed")
KINDS = ("person", "organisation")
MAX_TEXT_BYTES = 1024 * 1024
_SLUG = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,78}[a-z0-9])?$")
# Counted: what the public page and `appeal show` say. "pending" includes signatures a moderator holds.
COUNTED = ("verified", "pending", "rejected", "withdrawn")


def _clean(text: str | None) -> str | None:
    text = (text or "").strip()
    return text or None


def read_letter(text: str | os.PathLike | bytes | None, *, field: str) -> str | None:
    """The letter's text: a text file named by its path, or its bytes as uploaded (UTF-8, UTF-16 or
    Windows-1256), or a string as typed in a form."""
    if text is None:
        return None
    where = {"field": field}
    if isinstance(text, str) and not isinstance(text, os.PathLike):
        value = text
    else:
        if isinstance(text, bytes):
            data = text
        else:
            path = checked_input_file(text)
            where = {"file": str(text), "field": field}
            if path.stat().st_size > MAX_TEXT_BYTES:
                raise InputError(f"a letter may be at most {MAX_TEXT_BYTES:,} bytes", **where)
            data = path.read_bytes()
        if len(data) > MAX_TEXT_BYTES:
            raise InputError(f"a letter may be at most {MAX_TEXT_BYTES:,} bytes", **where)
        encoding = text_encoding(data)
        try:
            value = data.decode(encoding or "utf-8")
        except (UnicodeDecodeError, LookupError):
            raise InputError("is not text in UTF-8, UTF-16 or Windows-1256", **where) from None
    value = value.lstrip("\ufeff").replace("\r\n", "\n").replace("\r", "\n").strip()
    if not value:
        raise InputError("the letter's text is empty", **where)
    if len(value.encode("utf-8")) > MAX_TEXT_BYTES:
        raise InputError(f"a letter may be at most {MAX_TEXT_BYTES:,} bytes", **where)
    return value


def _version_sha(title, title_fa, text, text_fa) -> str:
    canonical = json.dumps([title, title_fa, text, text_fa], ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def find_appeal(session: Session, ref: str, *, field: str = "appeal", lock: bool = False) -> Appeal:
    """An appeal by its id (A-0001) or its slug."""
    ref = (ref or "").strip()
    query = sa.select(Appeal).where(sa.or_(Appeal.appeal_id == ref.upper(), Appeal.slug == ref.lower()))
    if lock:
        query = query.with_for_update()
    appeal = session.scalar(query)
    if appeal is None:
        raise NotFound(f"no appeal {ref!r}: give its id (A-0001) or its slug")
    return appeal


def current_text(session: Session, appeal: Appeal, version: int | None = None) -> AppealVersion:
    return session.scalar(sa.select(AppealVersion).where(AppealVersion.appeal_pk == appeal.id,
                                                         AppealVersion.version == (version or appeal.version)))


def _check_order(order: str | None) -> str | None:
    if order is not None and order not in ORDERS:
        raise InputError(f"is one of {', '.join(ORDERS)}, not {order!r}", field="order")
    return order


def _check_keep_days(days) -> int | None:
    if days is None:
        return None
    try:
        days = int(days)
    except (TypeError, ValueError):
        raise InputError(f"{days!r} is not a number of days", field="keep_days") from None
    if not 1 <= days <= 3650:
        raise InputError("is between 1 and 3,650 days", field="keep_days")
    return days


def create_appeal(store: Store, *, actor: Actor, slug: str, title: str, text, addressee: str,
                  title_fa: str | None = None, text_fa=None, order: str | None = None, keep_days=None) -> dict:
    """A new appeal, as a draft: ``text`` and ``text_fa`` are file paths, uploaded bytes or strings."""
    slug = (slug or "").strip().lower()
    if not _SLUG.match(slug):
        raise InputError("takes lower-case letters, digits and hyphens (at most 80), as in un-inquiry-1988",
                         field="slug")
    title, title_fa, addressee = _clean(title), _clean(title_fa), _clean(addressee)
    if title is None:
        raise InputError("the appeal needs a title", field="title")
    if addressee is None:
        raise InputError("say to whom the appeal is addressed", field="addressee")
    body, body_fa = read_letter(text, field="text"), read_letter(text_fa, field="text_fa")
    if body is None:
        raise InputError("the appeal needs its text", field="text")
    order, keep_days = _check_order(order), _check_keep_days(keep_days)
    with store.session() as session:
        if session.scalar(sa.select(Appeal.id).where(Appeal.slug == slug)) is not None:
            raise InputError(f"another appeal already has the address {slug!r}", field="slug")
        appeal = Appeal(appeal_id=next_public_id(session, Appeal.appeal_id, "A-", 4), slug=slug, addressee=addressee,
                        created_by=actor.name, **({"signatory_order": order} if order else {}),
                        **({"keep_days": keep_days} if keep_days else {}))
        session.add(appeal)
        session.flush()
        version = AppealVersion(appeal_pk=appeal.id, version=1, title=title, title_fa=title_fa, text=body,
                                text_fa=body_fa, sha256=_version_sha(title, title_fa, body, body_fa),
                                created_by=actor.name)
        session.add(version)
        record_audit(session, store, actor, action="appeal created", object_kind="appeal", object_id=appeal.appeal_id,
                     details={"slug": slug, "version": 1, "sha256": version.sha256})
        return appeal_summary(session, appeal)


def revise_appeal(store: Store, ref: str, *, actor: Actor, title: str | None = None, title_fa: str | None = None,
                  text=None, text_fa=None, addressee: str | None = None, order: str | None = None,
                  keep_days=None) -> dict:
    """Change an appeal. A draft's text is changed in place; a published appeal's becomes a new version."""
    body, body_fa = read_letter(text, field="text"), read_letter(text_fa, field="text_fa")
    order, keep_days = _check_order(order), _check_keep_days(keep_days)
    with store.session() as session:
        appeal = find_appeal(session, ref, lock=True)
        if appeal.status == "closed":
            raise InputError(f"{appeal.appeal_id} is closed: its text can no longer change", field="appeal")
        old = current_text(session, appeal)
        new = {"title": _clean(title) or old.title, "title_fa": _clean(title_fa) or old.title_fa,
               "text": body or old.text, "text_fa": body_fa or old.text_fa}
        sha = _version_sha(new["title"], new["title_fa"], new["text"], new["text_fa"])
        details: dict = {"version": appeal.version}
        if sha != old.sha256:
            if appeal.status == "draft":
                for key, value in new.items():
                    setattr(old, key, value)
                old.sha256 = sha
            else:
                appeal.version += 1
                session.add(AppealVersion(appeal_pk=appeal.id, version=appeal.version, sha256=sha,
                                          created_by=actor.name, **new))
            details |= {"version": appeal.version, "previous_sha256": old.sha256 if appeal.status != "draft" else None,
                        "sha256": sha}
        if _clean(addressee) and _clean(addressee) != appeal.addressee:
            appeal.addressee = _clean(addressee)
            details["addressee"] = appeal.addressee
        if order and order != appeal.signatory_order:
            appeal.signatory_order = details["order"] = order
        if keep_days and keep_days != appeal.keep_days:
            appeal.keep_days = details["keep_days"] = keep_days
        if len(details) == 1:
            raise InputError("nothing would change: give a new title, text, addressee, order or keep-days",
                             field="text")
        record_audit(session, store, actor, action="appeal revised", object_kind="appeal", object_id=appeal.appeal_id,
                     details=details)
        return appeal_summary(session, appeal)


def _set_status(store: Store, ref: str, *, actor: Actor, to: str, allowed_from: tuple[str, ...]) -> dict:
    with store.session() as session:
        appeal = find_appeal(session, ref, lock=True)
        if appeal.status == to:
            return appeal_summary(session, appeal) | {"changed": False}
        if appeal.status not in allowed_from:
            raise InputError(f"{appeal.appeal_id} is {appeal.status}; only an appeal that is "
                             f"{' or '.join(allowed_from)} can be {'published' if to == 'open' else 'closed'}", field="appeal")
        appeal.status = to
        if to == "open":
            appeal.published_at = appeal.published_at or utcnow()
        else:
            appeal.closed_at = utcnow()
        details = {"version": appeal.version, "counts": counts(session, appeal)["counts"]}
        if to == "open":
            record_audit(session, store, actor, action="appeal published", object_kind="appeal",
                         object_id=appeal.appeal_id, details=details)
        else:
            record_audit(session, store, actor, action="appeal closed", object_kind="appeal",
                         object_id=appeal.appeal_id, details=details)
        return appeal_summary(session, appeal) | {"changed": True}


def publish_appeal(store: Store, ref: str, *, actor: Actor) -> dict:
    """Open the appeal for signatures: its public page appears. A closed appeal can be opened again."""
    return _set_status(store, ref, actor=actor, to="open", allowed_from=("draft", "closed"))


def close_appeal(store: Store, ref: str, *, actor: Actor) -> dict:
    """Stop taking signatures; the page and the counts stay."""
    return _set_status(store, ref, actor=actor, to="closed", allowed_from=("open",))


def counts(session: Session, appeal: Appeal) -> dict:
    """The counts of signatures by status, and of verified ones by kind and by country; of the named
    ones (the verified who asked to be named) by kind and by country. For the campaign's team:
    :func:`public_counts` says what of it is published.

    The first query reads an index alone (``ix_signatures_counts``); the second the named ones'
    rows (``ix_signatures_public`` finds them).
    """
    rows = session.execute(
        sa.select(Signature.status, Signature.kind, Signature.country, sa.func.count())
        .where(Signature.appeal_pk == appeal.id).group_by(Signature.status, Signature.kind, Signature.country)).all()
    totals = dict.fromkeys(COUNTED, 0)
    held = 0
    by_kind = dict.fromkeys(KINDS, 0)
    by_country: dict[str, int] = {}
    for status, kind, country, n in rows:
        if status == "held":
            held += n
            status = "pending"
        totals[status] = totals.get(status, 0) + n
        if status == "verified":
            by_kind[kind] = by_kind.get(kind, 0) + n
            key = country or "unknown"
            by_country[key] = by_country.get(key, 0) + n
    named: dict[str, int] = {}
    named_by_country: dict[str, int] = {}
    for kind, country, n in session.execute(
            sa.select(Signature.kind, Signature.country, sa.func.count()).where(
                Signature.appeal_pk == appeal.id, Signature.status == "verified", Signature.public_name.is_not(None))
            .group_by(Signature.kind, Signature.country)):
        named[kind] = named.get(kind, 0) + n
        named_by_country[country or "unknown"] = named_by_country.get(country or "unknown", 0) + n
    return {"counts": totals | {"public_names": sum(named.values()), "awaiting_moderation": held},
            "by_kind": by_kind, "named_by_kind": dict.fromkeys(KINDS, 0) | named,
            "by_country": _by_count(by_country), "named_by_country": _by_count(named_by_country)}


def _by_count(counted: dict[str, int]) -> dict[str, int]:
    return dict(sorted(counted.items(), key=lambda item: (-item[1], item[0])))


def public_counts(tally: dict) -> dict:
    """What of :func:`counts` the public may see. Not ``by_country``, which counts the signers who
    asked to be counted only: set beside the named signatories' countries, it would tell that
    someone of a country signed without their name (one more in Norway than Norway's names). The
    public get ``named_by_country`` instead, the countries of the names they can read anyway; those
    counted only are in ``counts.verified`` and nowhere else, as the page promised them."""
    return {k: v for k, v in tally.items() if k != "by_country"}


class CountsCache:
    """Counts remembered for ``seconds`` (per appeal, per database), for a page that many read at once.

    Counting 100,000 signatures takes tens of milliseconds; a public page read many times a second
    shows counts at most that old, and says when they were counted (``as_of``).
    """

    def __init__(self, seconds: float = 2.0):
        self.seconds = seconds
        self._lock = threading.Lock()
        self._kept: dict[tuple[str, int], tuple[float, datetime, dict]] = {}

    def get(self, session: Session, appeal: Appeal) -> tuple[datetime, dict]:
        key = (str(session.get_bind().url), appeal.id)
        now = time.monotonic()
        with self._lock:
            kept = self._kept.get(key)
        if kept is not None and now - kept[0] < self.seconds:
            return kept[1], kept[2]
        as_of, tally = utcnow(), counts(session, appeal)
        with self._lock:
            self._kept[key] = (now, as_of, tally)
        return as_of, tally


def appeal_summary(session: Session, appeal: Appeal) -> dict:
    text = current_text(session, appeal)
    return {"id": appeal.appeal_id, "slug": appeal.slug, "status": appeal.status, "version": appeal.version,
            "title": text.title, "title_fa": text.title_fa, "addressee": appeal.addressee,
            "order": appeal.signatory_order, "keep_days": appeal.keep_days,
            "created_at": appeal.created_at, "published_at": appeal.published_at, "closed_at": appeal.closed_at}


def list_appeals(session: Session) -> list[dict]:
    return [appeal_summary(session, a) | counts(session, a)
            for a in session.scalars(sa.select(Appeal).order_by(Appeal.id))]


HISTORY_SHOWN = 200  # the newest events of an appeal's history that `appeal show` and its page list


def _events_about(appeal: Appeal):
    return (AuditEvent.object_kind == "appeal", AuditEvent.object_id == appeal.appeal_id)


def history(session: Session, appeal: Appeal, *, actions: tuple[str, ...] | None = None,
            newest: int | None = None) -> list[dict]:
    """What happened to the appeal, oldest first: the audited actions about it (no personal data);
    only ``actions`` when given, only the ``newest`` when given."""
    query = sa.select(AuditEvent).where(*_events_about(appeal))
    if actions is not None:
        query = query.where(AuditEvent.action.in_(actions))
    if newest is not None:
        query = query.order_by(AuditEvent.seq.desc()).limit(newest)
    events = sorted(session.scalars(query).all(), key=lambda e: e.seq)
    return [{"seq": e.seq, "at": e.occurred_at, "action": e.action, "actor": e.actor,
             "details": json.loads(e.details)} for e in events]


def history_total(session: Session, appeal: Appeal) -> int:
    return session.scalar(sa.select(sa.func.count()).select_from(AuditEvent).where(*_events_about(appeal)))


CORRECTIONS = ("signatures invalidated", "signature decided", "appeal revised")


def corrections(session: Session, appeal: Appeal) -> list[dict]:
    """Changes after publication that a reader of the counts should know of: rejections of counted
    signatures, invalidations in bulk, new versions of the text. Reads only those events and the
    publication (the public page asks at every request; an appeal's history holds an event for each
    signature added on paper and each moderation decision)."""
    found = []
    published = False
    for event in history(session, appeal, actions=(*CORRECTIONS, "appeal published")):
        published = published or event["action"] == "appeal published"
        if not published or event["action"] not in CORRECTIONS:
            continue
        details = event["details"]
        if event["action"] == "signature decided" and not details.get("was_counted"):
            continue
        if event["action"] == "appeal revised" and "sha256" not in details:
            continue
        found.append({"at": event["at"], "action": event["action"], "details": {
            k: v for k, v in details.items() if k in ("removed", "version", "reason", "decision", "before", "after")}})
    return found


def versions(session: Session, appeal: Appeal) -> list[dict]:
    return [{"version": v.version, "title": v.title, "title_fa": v.title_fa, "sha256": v.sha256,
             "created_at": v.created_at, "created_by": v.created_by}
            for v in session.scalars(sa.select(AppealVersion).where(AppealVersion.appeal_pk == appeal.id)
                                     .order_by(AppealVersion.version))]


def deliveries(session: Session, appeal: Appeal) -> list[dict]:
    return [{"to": d.delivered_to, "on": d.delivered_on, "version": d.version, "verified": d.verified_count,
             "evidence": d.evidence_id, "recorded_by": d.recorded_by, "recorded_at": d.recorded_at}
            for d in session.scalars(sa.select(AppealDelivery).where(AppealDelivery.appeal_pk == appeal.id)
                                     .order_by(AppealDelivery.delivered_on, AppealDelivery.id))]


def show_appeal(store: Store, ref: str) -> dict:
    """The appeal with its counts, versions, deliveries, corrections and history (what ``appeal show``
    prints): the newest :data:`HISTORY_SHOWN` events of it, and ``history_total``, how many there are
    (the audit log holds every one: ``audit list --object`` and the appeal's id)."""
    from dadkhah.appeal.mail import queued_mail

    with store.session() as session:
        appeal = find_appeal(session, ref)
        text = current_text(session, appeal)
        return (appeal_summary(session, appeal) | counts(session, appeal)
                | {"as_of": utcnow(), "text": text.text, "text_fa": text.text_fa, "sha256": text.sha256,
                   "versions": versions(session, appeal), "deliveries": deliveries(session, appeal),
                   "corrections": corrections(session, appeal),
                   "history": history(session, appeal, newest=HISTORY_SHOWN), "history_total": history_total(session, appeal),
                   "mail": queued_mail(session), "purge_due": purge_due(session, appeal)})


def purge_due(session: Session, appeal: Appeal) -> bool:
    """Whether the appeal closed ``keep_days`` ago or more and signers' details are still kept: the
    page promised to erase them by then (``appeal purge``)."""
    if appeal.status != "closed" or appeal.closed_at is None:
        return False
    if (utcnow() - appeal.closed_at).days < appeal.keep_days:
        return False
    return session.scalar(sa.select(Signature.id).where(Signature.appeal_pk == appeal.id,
                                                        Signature.identity_sealed.is_not(None)).limit(1)) is not None


def _parse_day(text: str | None, *, field: str) -> str:
    try:
        return date.fromisoformat((text or "").strip()).isoformat()
    except ValueError:
        raise InputError(f"takes a date as YYYY-MM-DD, not {text!r}", field=field) from None


def counted_until(session: Session, appeal: Appeal, end: datetime) -> int:
    """How many signatures counted as verified at the moment ``end``, as far as the signatures' rows tell.

    A signature counted from the moment it was confirmed (web or paper) or, when a moderator had to
    look at it first (it carries a flag), from their approval; it stopped counting when it was
    withdrawn or rejected (one by one or in bulk). One that counted at ``end`` and was withdrawn or
    rejected later is counted: it was on the list that day. The rows keep only the latest decision,
    so a flagged signature approved and later rejected is not counted for days before its rejection.
    """
    became_counted = sa.case((Signature.flag.is_(None), Signature.confirmed_at), else_=Signature.decided_at)
    still_then = sa.or_(
        Signature.status == "verified",
        sa.and_(Signature.status == "withdrawn", Signature.withdrawn_at >= end),
        sa.and_(Signature.status == "rejected", Signature.decided_at >= end),
    )
    return session.scalar(sa.select(sa.func.count()).select_from(Signature).where(
        Signature.appeal_pk == appeal.id, became_counted.is_not(None), became_counted < end, still_then)) or 0


def version_on(session: Session, appeal: Appeal, end: datetime) -> int:
    """The version of the text in force at the moment ``end``: the newest one made before it."""
    return session.scalar(sa.select(sa.func.max(AppealVersion.version)).where(
        AppealVersion.appeal_pk == appeal.id, AppealVersion.created_at < end)) or 1


def latest_day(now: datetime | None = None) -> date:
    """The latest date it is anywhere on Earth now: in UTC+14 (Kiribati's Line Islands), where a new day
    begins first. A day after it has not begun anywhere."""
    return ((now or datetime.now(UTC)).astimezone(UTC) + timedelta(hours=14)).date()


def deliver_appeal(store: Store, ref: str, *, actor: Actor, to: str, on: str, evidence=None,
                   keys: VaultKeys | None = None) -> dict:
    """Record that the letter was delivered to ``to`` on the day ``on``; ``evidence`` (a file: the
    covering email, a receipt, a photo) goes into the vault with its chain of custody.

    The delivery keeps the count of verified signatures at the end of that day (UTC) and the version
    of the text in force then, not today's. The day is neither before the letter was published nor
    after today anywhere on Earth (UTC+14: a campaigner east of UTC, just after their midnight, records
    their own date)."""
    to = _clean(to)
    if to is None:
        raise InputError("say to whom the letter was delivered", field="to")
    day = _parse_day(on, field="on")
    if day > latest_day().isoformat():
        raise InputError(f"{day} is in the future: record a delivery once it has happened", field="on")
    if evidence is not None and (keys is None or not keys.master_key):
        raise InputError("the vault's keys are needed to keep the proof of delivery", field="evidence")
    with store.session() as session:
        appeal = find_appeal(session, ref, lock=True)
        if appeal.status == "draft" or appeal.published_at is None:
            raise InputError(f"{appeal.appeal_id} has not been published", field="appeal")
        published = appeal.published_at.astimezone(UTC).date()
        if day < published.isoformat():
            raise InputError(f"{day} is before {appeal.appeal_id} was published, on {published.isoformat()}: "
                             "a letter is delivered after it is published", field="on")
        end = datetime.combine(date.fromisoformat(day) + timedelta(days=1), datetime.min.time(), tzinfo=UTC)
        evidence_id = None
        if evidence is not None:
            item = add_evidence_in(session, store, keys, [evidence], actor=actor,
                                   description=f"Delivery of appeal {appeal.appeal_id} to {to} on {day}",
                                   acquired_how="proof of delivery of an appeal")[0]
            evidence_id = item["id"]
        verified = counted_until(session, appeal, end)
        version = version_on(session, appeal, end)
        session.add(AppealDelivery(appeal_pk=appeal.id, version=version, delivered_to=to, delivered_on=day,
                                   verified_count=verified, evidence_id=evidence_id, recorded_by=actor.name))
        record_audit(session, store, actor, action="appeal delivered", object_kind="appeal", object_id=appeal.appeal_id,
                     details={"to": to, "on": day, "version": version, "verified": verified,
                              "evidence": evidence_id})
        return {"id": appeal.appeal_id, "to": to, "on": day, "version": version, "verified": verified,
                "evidence": evidence_id}


def public_signatories(session: Session, appeal: Appeal, *, order: str | None = None, limit: int | None = None,
                       offset: int = 0, named_by_kind: dict | None = None) -> list[dict]:
    """The verified signatories who asked to be named, in the appeal's order (or ``order``): what the
    public sees of each, and no row id (their gaps and order would tell of the signers who are only
    counted, pending or refused, and when they signed).

    Each page is read along an index (by kind and name, by name, or by when they signed), so the
    hundredth page costs what the first does. ``named_by_kind`` (from :func:`counts`) saves a count
    when the order puts one kind first.
    """
    order = _check_order(order) or appeal.signatory_order
    columns = (Signature.id, Signature.kind, Signature.public_name, Signature.public_role,
               Signature.public_affiliation, Signature.country, Signature.confirmed_at, Signature.version)
    named = (Signature.appeal_pk == appeal.id, Signature.status == "verified", Signature.public_name.is_not(None))

    def read(*where, order_by, skip: int, take: int | None) -> list:
        query = sa.select(*columns).where(*named, *where).order_by(*order_by)
        if take is not None:
            query = query.limit(take)
        if skip:
            query = query.offset(skip)
        return list(session.execute(query))

    if order in ("organisations-first", "people-first"):
        first, then = ("organisation", "person") if order == "organisations-first" else ("person", "organisation")
        if named_by_kind is None:
            named_by_kind = counts(session, appeal)["named_by_kind"]
        ahead = named_by_kind.get(first, 0)
        by_name = (Signature.public_name, Signature.id)
        rows = read(Signature.kind == first, order_by=by_name, skip=offset, take=limit) if offset < ahead else []
        wanted = None if limit is None else limit - len(rows)
        if wanted is None or wanted > 0:
            rows += read(Signature.kind == then, order_by=by_name, skip=max(0, offset - ahead), take=wanted)
    elif order == "alphabetical":
        rows = read(order_by=(Signature.public_name, Signature.id), skip=offset, take=limit)
    else:
        rows = read(order_by=(Signature.id,), skip=offset, take=limit)
    return [{"kind": r.kind, "name": r.public_name, "role": r.public_role,
             "affiliation": r.public_affiliation, "country": r.country, "version": r.version,
             "signed_on": r.confirmed_at.date().isoformat() if r.confirmed_at else None} for r in rows]


def export_appeal(store: Store, ref: str, *, actor: Actor, format: str, out, language: str = "en",
                  order: str | None = None, overwrite: bool = False, progress=None) -> dict:
    """Write the letter with its public signatories: ``csv`` (one row per signatory) or ``pdf``
    (the letter in ``language``, then the names). Only what the public page shows is written.
    ``out`` is written whole or not at all; an existing file is replaced only when ``overwrite``,
    and one of the workspace's own never (:func:`dadkhah.outfiles.checked_out`).
    ``progress`` is told (parts set, parts to set) when a long letter is set in parts."""
    format = format_for(out, format, extensions={".csv": "csv", ".pdf": "pdf"}, default="pdf", may_omit=False)
    if language not in ("en", "fa"):
        raise InputError(f"is en or fa, not {language!r}", field="language")
    out = checked_out(out, overwrite=overwrite, workspace=store.workspace)
    with store.session() as session:
        appeal = find_appeal(session, ref)
        if appeal.status == "draft":
            raise InputError(f"{appeal.appeal_id} has not been published: nobody has signed it yet", field="appeal")
        text = current_text(session, appeal)
        people = public_signatories(session, appeal, order=order)
        tally = counts(session, appeal)
        as_of = utcnow()
        if format == "csv":
            handle, partial = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".part", dir=out.parent)
            try:
                with os.fdopen(handle, "w", encoding="utf-8-sig", newline="") as stream:
                    writer = SafeWriter(stream)
                    writer.writerow(["name", "kind", "role", "affiliation", "country", "signed_on", "version"])
                    for p in people:
                        writer.writerow([p["name"], p["kind"], p["role"], p["affiliation"], p["country"],
                                         p["signed_on"], p["version"]])
                os.replace(partial, out)  # whole or not at all
            except BaseException:
                Path(partial).unlink(missing_ok=True)
                raise
            written = {"path": str(out), "rows": len(people)}
        else:
            from dadkhah.typeset import letter_pdf

            persian = language == "fa"
            written = letter_pdf({
                "language": language, "title": (text.title_fa if persian and text.title_fa else text.title),
                "addressee": appeal.addressee, "text": (text.text_fa if persian and text.text_fa else text.text),
                "version": appeal.version, "as_of": as_of.isoformat(),
                "counts": {"verified": tally["counts"]["verified"], "public_names": tally["counts"]["public_names"]},
                "signatories": [{k: p[k] for k in ("name", "kind", "role", "affiliation", "country")} for p in people],
            }, out, progress=progress)
        sha = hashlib.sha256(out.read_bytes()).hexdigest()
        record_audit(session, store, actor, action="appeal exported", object_kind="appeal", object_id=appeal.appeal_id,
                     details={"format": format, "language": language, "signatories": len(people), "sha256": sha,
                              "version": appeal.version})
        return {"id": appeal.appeal_id, "format": format, "language": language, "path": str(out),
                "signatories": len(people), "sha256": sha, "as_of": as_of,
                **{k: v for k, v in written.items() if k in ("pages", "tagged")}}
