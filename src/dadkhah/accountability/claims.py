"""Writing claims: entities found or made, corrections as new versions, agreement and conflict.

Rules, for a claim about the same thing (the same post of the same official in the same
institution, the same act, the same involvement: the claim's *key*) as claims already held:

* the same content from the same source is the same claim: nothing is added (imports are
  idempotent), a new citation at most;
* the same content from another source corroborates it: the citation is added to the claim held;
* other content from the same source, in a later import, is that source's correction: a new
  version that supersedes the source's earlier one (two rows of one import with one key, such as
  two terms in the same post, are both kept);
* other content from another source is a conflict: both are kept and both are marked ``conflict``
  until a reviewer decides (each change of status is a :class:`ClaimReview` row).
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.orm import Session

from dadkhah.accountability.rows import ID_PREFIXES, Draft, name_keys, role_key
from dadkhah.accountability.vocabulary import PUBLICATION_RANK
from dadkhah.errors import InputError
from dadkhah.model import (
    Claim,
    ClaimCitation,
    ClaimReview,
    ClaimVictim,
    Entity,
    EntityName,
    Person,
    Record,
    Source,
    Testimony,
)
from dadkhah.model.vault import EvidenceItem
from dadkhah.normalize.places import Gazetteer
from dadkhah.sources import validate_source_name
from dadkhah.store import insert_rows

CHUNK = 900  # ids per IN (...) list: under SQLite's default limit of variables


def claim_public_id(pk: int) -> str:
    return f"C-{pk:06d}"


def claim_pk(claim_id: str, *, field: str = "claim") -> int:
    text = (claim_id or "").strip()
    if not text.startswith("C-") or not text[2:].isascii() or not text[2:].isdigit():
        raise InputError(f"{claim_id!r} is not a claim id (C-000123)", field=field)
    return int(text[2:])


def chunks(values: list, size: int = CHUNK) -> Iterable[list]:
    for start in range(0, len(values), size):
        yield values[start:start + size]


@dataclass(slots=True)
class NewEntity:
    """An entity first defined by this import; its row is written with the claims."""

    kind: str
    external_id: str
    describes: dict
    pk: int | None = None


@dataclass(slots=True)
class Prepared:
    """A draft whose entities, victims, citation and place are known: ready to be written."""

    kind: str
    subject: int | NewEntity
    object: int | NewEntity | None
    value: str | None
    likelihood: str | None
    from_date: object
    to_date: object
    place_id: str | None
    count: int | None
    data: dict
    victims: list[tuple[int | None, str | None, str | None]]
    source: str
    locator: str | None
    testimony_id: str | None
    evidence_id: str | None
    review_status: str | None
    file: str | None
    line: int | None


class Lookups:
    """What reading rows needs to know of the workspace, loaded once each, as it is first needed."""

    def __init__(self, session: Session, gazetteer: Gazetteer, default_source: str | None):
        self.session = session
        self.gazetteer = gazetteer
        self.default_source = default_source
        self._external: dict[str, dict[str, int]] = {}
        self._registry: dict[str, tuple[str, int] | None] = {}
        self.new: dict[tuple[str, str], NewEntity] = {}
        self._sources: dict[str, int | None] = {}
        self._records: dict[int, set[str]] = {}
        self._persons: set[str] | None = None
        self._testimonies: set[str] | None = None
        self._evidence: set[str] | None = None
        self._places: set[str] | None = None

    # -- entities -------------------------------------------------------------------------------
    def external(self, kind: str) -> dict[str, int]:
        if kind not in self._external:
            self._external[kind] = dict(self.session.execute(
                sa.select(Entity.external_id, Entity.id).where(Entity.kind == kind, Entity.external_id.is_not(None))).all())
        return self._external[kind]

    def by_registry_id(self, entity_id: str) -> tuple[str, int] | None:
        if entity_id not in self._registry:
            row = self.session.execute(sa.select(Entity.kind, Entity.id).where(Entity.entity_id == entity_id)).first()
            self._registry[entity_id] = (row[0], row[1]) if row else None
        return self._registry[entity_id]

    def define(self, kind: str, external_id: str, describes: dict) -> int | NewEntity:
        """The entity a describing row is about: held already (by either id), defined earlier in this
        import, or new."""
        found = self.find(kind, external_id)
        if found is not None:
            return found
        entity = self.new[(kind, external_id)] = NewEntity(kind, external_id, describes)
        return entity

    def find(self, kind: str, text: str) -> int | NewEntity | None:
        if text.startswith(ID_PREFIXES[kind]) and text[2:].isdigit():
            found = self.by_registry_id(text)
            if found is not None and found[0] == kind:
                return found[1]
        pk = self.external(kind).get(text)
        if pk is not None:
            return pk
        return self.new.get((kind, text))

    def resolve(self, kind: str, text: str, *, field: str, either: tuple[str, ...] | None = None) -> int | NewEntity:
        """The entity ``text`` names (a registry id or a files' id) of ``kind`` (or any of ``either``)."""
        kinds = either or (kind,)
        found = [(k, e) for k in kinds if (e := self.find(k, text)) is not None]
        if not found:
            what = " or ".join(kinds)
            raise InputError(f"no {what} {text!r} is held or defined in this import", field=field)
        if len(found) > 1:
            raise InputError(f"{text!r} names both an {found[0][0]} and an {found[1][0]}: use its registry id",
                             field=field)
        return found[0][1]

    # -- sources, victims, vault items, places --------------------------------------------------
    def source_id(self, name: str) -> int | None:
        if name not in self._sources:
            self._sources[name] = self.session.scalar(sa.select(Source.id).where(Source.name == name))
        return self._sources[name]

    def victim(self, victim, *, field: str) -> tuple[int | None, str | None, str | None]:
        if victim.person_id:
            if self._persons is None:
                self._persons = set(self.session.scalars(sa.select(Person.person_id)))
            if victim.person_id not in self._persons:
                raise InputError(f"no person {victim.person_id} in the registry", field=field)
            return (None, None, victim.person_id)
        source_id = self.source_id(victim.source)
        if source_id is None:
            raise InputError(f"{victim.text!r}: no source {victim.source!r} holds records here", field=field)
        if source_id not in self._records:
            self._records[source_id] = set(self.session.scalars(
                sa.select(Record.record_id).where(Record.source_id == source_id)))
        if victim.record_id not in self._records[source_id]:
            raise InputError(f"{victim.text!r}: source {victim.source!r} has no record {victim.record_id!r}",
                             field=field)
        return (source_id, victim.record_id, None)

    def testimony(self, testimony_id: str, *, field: str) -> str:
        if self._testimonies is None:
            self._testimonies = set(self.session.scalars(sa.select(Testimony.testimony_id)))
        if testimony_id not in self._testimonies:
            raise InputError(f"no testimony {testimony_id} in the vault", field=field)
        return testimony_id

    def evidence(self, evidence_id: str, *, field: str) -> str:
        if self._evidence is None:
            self._evidence = set(self.session.scalars(sa.select(EvidenceItem.evidence_id)))
        if evidence_id not in self._evidence:
            raise InputError(f"no evidence item {evidence_id} in the vault", field=field)
        return evidence_id

    def place(self, text: str | None, types: tuple[str, ...]) -> tuple[str | None, str | None]:
        """(place id, warning): a gazetteer id or a name it knows; an unknown place is kept as written."""
        if not text:
            return None, None
        if self._places is None:
            from dadkhah.model import Place

            self._places = set(self.session.scalars(sa.select(Place.id)))
        if text in self._places:
            return text, None
        match = self.gazetteer.resolve(text, types)
        if match is None:
            return None, self.gazetteer.unknown_place(text, types)
        return match.place_id, None

    # -- one draft ------------------------------------------------------------------------------
    def prepare(self, draft: Draft, extra: dict) -> tuple[Prepared, list[tuple[str, str]]]:
        """``draft`` with everything it names looked up; raises InputError naming the field at fault."""
        warnings: list[tuple[str, str]] = []
        id_field = {"institution": "institution_id", "official": "official_id", "site": "site_id", "act": "act_id"}
        if draft.describes is not None:
            subject = self.find(draft.subject.kind, draft.subject.text)  # None: new, defined once the row is read
        else:
            subject = self.resolve(draft.subject.kind, draft.subject.text, field=_subject_field(draft))
        obj = None
        if draft.object is not None:
            if draft.kind == "involvement":
                obj = self.resolve("official", draft.object.text, field="actor_id", either=("official", "institution"))
            else:
                obj = self.resolve(draft.object.kind, draft.object.text,
                                   field="parent_id" if draft.kind == "relation" else id_field[draft.object.kind])
            if draft.kind == "relation" and obj == subject:
                raise InputError("an institution cannot be its own parent", field="parent_id")
        victim_field = "victim" if draft.kind == "burial" else "victims"
        victims = [self.victim(v, field=victim_field) for v in draft.victims]
        source = draft.citation_source or self.default_source
        if not source:
            raise InputError("no source: give the row a source, or name the source for the whole import", field="source")
        source = validate_source_name(source)
        testimony = self.testimony(draft.testimony_id, field="locator") if draft.testimony_id else None
        evidence = (self.evidence(draft.evidence_id, field="evidence" if draft.kind == "site-status" else "locator")
                    if draft.evidence_id else None)
        place_id = None
        if draft.place_text:
            types = ("city", "province") if draft.kind == "site" else ("prison", "mass_grave", "cemetery", "city",
                                                                       "province")
            place_id, warning = self.place(draft.place_text, types)
            if warning:
                warnings.append(("place", warning))
        data = dict(draft.data)
        if draft.place_text:
            data["place"] = draft.place_text
        if extra:
            data["extra"] = extra
        if subject is None:
            subject = self.define(draft.subject.kind, draft.subject.text, draft.describes | {"place_id": place_id})
        return Prepared(draft.kind, subject, obj, draft.value, draft.likelihood, draft.from_date, draft.to_date,
                        place_id, draft.count, data, victims, source, draft.locator, testimony, evidence,
                        draft.review_status, draft.file, draft.line), warnings


def _subject_field(draft: Draft) -> str:
    return {"post": "official_id", "official-status": "official_id", "involvement": "act_id",
            "site-status": "site_id", "burial": "site_id", "relation": "institution_id"}.get(draft.kind, "id")


# --------------------------------------------------------------------------------------------
# Writing

def _date_text(value) -> str | None:
    return value.original if value is not None else None


# The kinds of claim about something that has one value at a time, whatever the dates: two rows of one
# import that give it differently disagree. (A post or a relation may be held twice, in two periods.)
_ONE_VALUE = frozenset({"act", "institution", "official", "site", "involvement"})


def claim_key(kind: str, subject: int, obj: int | None, part: str) -> str:
    return hashlib.sha256(f"{kind}|{subject}|{obj or ''}|{part}".encode()).hexdigest()


def _key_part(item: Prepared) -> str:
    if item.kind == "relation":
        return item.value or ""
    if item.kind == "post":
        return role_key(item.value or "")
    if item.kind in ("official-status", "site-status"):
        return f"{item.value}|{item.from_date.earliest.isoformat() if item.from_date else ''}"
    if item.kind == "burial":
        return "|".join(str(v) for v in item.victims[0])
    return ""


_canonical = json.JSONEncoder(ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str).encode


def content_sha256(item: Prepared) -> str:
    """What the claim says (not who says it, nor the row's extra columns)."""
    data = {k: v for k, v in item.data.items() if k != "extra"} if item.data else None
    document = [item.kind, item.value, item.likelihood, _date_text(item.from_date), _date_text(item.to_date),
                item.place_id, item.count, data, sorted(item.victims, key=str) if item.victims else None]
    return hashlib.sha256(_canonical(document).encode()).hexdigest()


def reserve_ids(session: Session, table: sa.Table, count: int) -> list[int]:
    """``count`` fresh primary keys for ``table`` (the caller holds the write lock)."""
    if count == 0:
        return []
    if session.get_bind().dialect.name == "postgresql":
        sequence = session.scalar(sa.text("SELECT pg_get_serial_sequence(:t, 'id')"), {"t": table.name})
        return list(session.scalars(sa.text("SELECT nextval(CAST(:s AS regclass)) FROM generate_series(1, :n)"),
                                    {"s": sequence, "n": count}))
    start = (session.scalar(sa.select(sa.func.max(table.c.id))) or 0) + 1
    return list(range(start, start + count))


def lock_claims(session: Session) -> None:
    """Writers of claims take turns: SQLite's write lock, a transaction-scoped advisory lock on PostgreSQL."""
    from dadkhah.ingest.staging import take_write_lock

    if session.get_bind().dialect.name == "postgresql":
        session.execute(sa.text("SELECT pg_advisory_xact_lock(1988120512)"))
    else:
        take_write_lock(session)


@dataclass
class Written:
    """What :func:`write_claims` did."""

    claims: int = 0
    corroborated: int = 0
    unchanged: int = 0
    superseded: int = 0
    conflicts: int = 0
    entities: dict[str, int] = field(default_factory=dict)
    new_claim_ids: list[int] = field(default_factory=list)
    held_claim_ids: list[int] = field(default_factory=list)  # claims already held that say the same


@dataclass(slots=True)
class _Held:
    pk: int
    content: str
    source_id: int
    import_id: int | None
    version: int
    review_status: str
    extra: dict | None


BATCH = 20_000  # claims written at a time: an import of millions never holds all its rows twice


def write_claims(session: Session, items: list[Prepared], new_entities: Iterable[NewEntity], *, actor_name: str,
                 import_id: int | None, source_ids: dict[str, int]) -> Written:
    """Write ``items`` under the rules of the module's docstring; the caller holds the lock
    (:func:`lock_claims`) and commits. ``source_ids`` maps every source name the items use to its row.

    ``items`` is consumed: each is let go once written, so memory falls as the claims go in."""
    from dadkhah.model.base import utcnow

    now = utcnow()
    result = Written()
    new_entities = list(new_entities)
    _create_entities(session, new_entities, now, result)

    def pk_of(entity):
        return entity.pk if isinstance(entity, NewEntity) else entity

    keys: list[tuple[str, str]] = []
    old_subjects: dict[int, set[str]] = defaultdict(set)
    for item in items:
        subject = pk_of(item.subject)
        key = claim_key(item.kind, subject, pk_of(item.object) if item.object is not None else None, _key_part(item))
        keys.append((key, content_sha256(item)))
        if not isinstance(item.subject, NewEntity):  # a new entity has no claims held yet
            old_subjects[subject].add(key)
    held = _held_claims(session, old_subjects)
    claim_ids = iter(reserve_ids(session, Claim.__table__, len(items)))
    batch = _Rows()
    supersede: dict[int, int] = {}
    corrected: set[str] = set()  # keys on which a source corrected or withdrew a claim
    status_changes: dict[int, str] = {}  # applied once every claim is in
    described: Counter = Counter()
    citations_held = _citations_of(session, [h.pk for hs in held.values() for h in hs])
    for index, (key, content) in enumerate(keys):
        item = items[index]
        items[index] = None
        subject, obj = pk_of(item.subject), pk_of(item.object) if item.object is not None else None
        source_id = source_ids[item.source]
        citation = (source_id, item.locator, item.testimony_id, item.evidence_id)
        current = held.setdefault(key, [])
        extra = item.data.get("extra")
        same = [h for h in current if h.content == content]
        mine = next((h for h in same if h.source_id == source_id and (h.extra or None) == (extra or None)), None)
        if mine is None and same and not any(h.source_id == source_id for h in same):
            mine = same[0]  # another source's claim, corroborated
        if mine is not None:
            result.held_claim_ids.append(mine.pk)
            if citation in citations_held[mine.pk]:
                result.unchanged += 1
            else:
                citations_held[mine.pk].add(citation)
                batch.citations.append(_citation_row(mine.pk, citation, import_id, actor_name, now))
                result.corroborated += 1
            # a source that now says what another says has withdrawn what it said before
            withdrawn = [h for h in current if h.source_id == source_id and h.content != content
                         and (h.import_id != import_id or h.import_id is None)]
            for h in withdrawn:
                supersede[h.pk] = mine.pk
                current.remove(h)
                corrected.add(key)
            result.superseded += len(withdrawn)
            continue
        pk = next(claim_ids)
        replaced = [h for h in current if h.source_id == source_id and (h.import_id != import_id or h.import_id is None)]
        # another source that says otherwise; or, on one thing that holds one value (an act, an official's
        # or institution's or site's description, a degree of involvement), the same source saying
        # otherwise in this same import: a source contradicting itself, not a correction
        others = [h for h in current if h not in replaced and h.content != content
                  and (h.source_id != source_id or (item.kind in _ONE_VALUE and h.import_id == import_id))]
        status = "conflict" if others else (item.review_status or "work-needed")
        version = 1 + max((h.version for h in replaced), default=0)  # a source's corrections are its versions
        for h in replaced:
            supersede[h.pk] = pk
            current.remove(h)
            corrected.add(key)
        result.superseded += len(replaced)
        for h in others:
            if h.review_status != "conflict":
                h.review_status = "conflict"
                status_changes[h.pk] = "conflict"
                batch.reviews.append({"claim_pk": h.pk, "review_status": "conflict", "decided_by": actor_name,
                                      "decided_at": now, "reason": f"disagrees with {claim_public_id(pk)}"})
        if others:
            result.conflicts += 1
            batch.reviews.append({"claim_pk": pk, "review_status": "conflict", "decided_by": actor_name,
                                  "decided_at": now, "reason": "disagrees with " + ", ".join(
                                      claim_public_id(h.pk) for h in others)})
        current.append(_Held(pk, content, source_id, import_id, version, status, extra))
        citations_held[pk] = {citation}
        batch.claims.append({
            "id": pk, "kind": item.kind, "subject_pk": subject, "object_pk": obj, "value": item.value,
            "likelihood": item.likelihood, "from_text": _date_text(item.from_date),
            "from_earliest": item.from_date.earliest if item.from_date else None,
            "from_latest": item.from_date.latest if item.from_date else None,
            "to_text": _date_text(item.to_date), "to_earliest": item.to_date.earliest if item.to_date else None,
            "to_latest": item.to_date.latest if item.to_date else None, "place_id": item.place_id,
            "count": item.count, "data": item.data or None, "claim_key": key, "content_sha256": content,
            "version": version, "superseded_by": None, "review_status": status, "source_id": source_id,
            "import_id": import_id, "file": item.file, "line": item.line, "added_by": actor_name, "added_at": now,
        })
        batch.citations.append(_citation_row(pk, citation, import_id, actor_name, now))
        batch.victims.extend({"claim_pk": pk, "source_id": s, "record_id": r, "person_id": p}
                             for s, r, p in item.victims)
        result.new_claim_ids.append(pk)
        result.claims += 1
        if item.kind in ("institution", "official", "site", "act"):
            described[subject] += 1
        if len(batch.claims) >= BATCH:
            batch.write(session)
    # a disagreement that a correction has ended is no longer a conflict: back to work needed
    for key in corrected:
        current = held.get(key, [])
        if len({h.content for h in current}) == 1:
            for h in current:
                if h.review_status == "conflict":
                    h.review_status = "work-needed"
                    status_changes[h.pk] = "work-needed"
                    batch.reviews.append({"claim_pk": h.pk, "review_status": "work-needed", "decided_by": actor_name,
                                          "decided_at": now, "reason": "no other current claim disagrees"})
    batch.write(session)
    if supersede:
        session.execute(sa.update(Claim.__table__).where(Claim.__table__.c.id == sa.bindparam("old"))
                        .values(superseded_by=sa.bindparam("new")),
                        [{"old": old, "new": new} for old, new in supersede.items()])
    if status_changes:
        session.execute(sa.update(Claim.__table__).where(Claim.__table__.c.id == sa.bindparam("pk"))
                        .values(review_status=sa.bindparam("status")),
                        [{"pk": pk, "status": s} for pk, s in status_changes.items() if pk not in supersede])
    # entities described by this import: a new one is written as its first description gives it, so
    # only those described again (or held before) are read again from their claims
    new_pks = {e.pk for e in new_entities}
    refresh_entities(session, sorted(pk for pk, n in described.items() if pk not in new_pks or n > 1))
    return result


@dataclass
class _Rows:
    """Rows waiting to be written, a batch at a time."""

    claims: list[dict] = field(default_factory=list)
    citations: list[dict] = field(default_factory=list)
    victims: list[dict] = field(default_factory=list)
    reviews: list[dict] = field(default_factory=list)

    def write(self, session: Session) -> None:
        insert_rows(session, Claim.__table__, self.claims)
        insert_rows(session, ClaimCitation.__table__, self.citations)
        insert_rows(session, ClaimVictim.__table__, self.victims)
        insert_rows(session, ClaimReview.__table__, self.reviews)
        for rows in (self.claims, self.citations, self.victims, self.reviews):
            rows.clear()


def _citation_row(pk: int, citation: tuple, import_id: int | None, actor_name: str, now) -> dict:
    source_id, locator, testimony_id, evidence_id = citation
    return {"claim_pk": pk, "source_id": source_id, "locator": locator, "testimony_id": testimony_id,
            "evidence_id": evidence_id, "import_id": import_id, "added_by": actor_name, "added_at": now}


def _create_entities(session: Session, new: list[NewEntity], now, result: Written) -> None:
    if not new:
        return
    by_kind = defaultdict(list)
    for entity in new:
        by_kind[entity.kind].append(entity)
    ids = iter(reserve_ids(session, Entity.__table__, len(new)))
    rows, names = [], []
    for kind, entities in by_kind.items():
        taken = set()
        for chunk in chunks([e.external_id for e in entities]):
            taken.update(session.scalars(sa.select(Entity.external_id).where(Entity.kind == kind,
                                                                             Entity.external_id.in_(chunk))))
        if taken:
            raise InputError(f"another import defined {kind} {sorted(taken)[0]!r} while this one was read: "
                             "run the import again", field=f"{kind}_id")
        held = session.scalar(sa.select(sa.func.count()).select_from(Entity).where(Entity.kind == kind)) or 0
        for number, entity in enumerate(entities, start=held + 1):
            entity.pk = next(ids)
            described = entity.describes  # as its first describing row gives it (refreshed if another differs)
            rows.append({"id": entity.pk, "entity_id": f"{ID_PREFIXES[kind]}{number:06d}", "kind": kind,
                         "external_id": entity.external_id, "name": described.get("name"),
                         "name_fa": described.get("name_fa"), "category": described.get("category"),
                         "place_id": described.get("place_id"), "publication": described.get("publication"),
                         "created_at": now})
            if kind in ("institution", "official", "site"):
                keys = name_keys(described.get("name"), described.get("name_fa"), *(described.get("aliases") or ()))
                names.extend({"key": key[:200], "entity_pk": entity.pk} for key in sorted(keys))
        result.entities[kind] = len(entities)
    insert_rows(session, Entity.__table__, rows)
    insert_rows(session, EntityName.__table__, names)


def _held_claims(session: Session, keys_by_subject: dict[int, set[str]]) -> dict[str, list[_Held]]:
    """The current claims with the given keys, found through their subjects (every key names its subject)."""
    held: dict[str, list[_Held]] = defaultdict(list)
    table = Claim.__table__
    for chunk in chunks(sorted(keys_by_subject)):
        rows = session.execute(sa.select(table.c.subject_pk, table.c.claim_key, table.c.id, table.c.content_sha256,
                                         table.c.source_id, table.c.import_id, table.c.version, table.c.review_status,
                                         table.c.data)
                               .where(table.c.subject_pk.in_(chunk), table.c.superseded_by.is_(None)))
        for subject, key, pk, content, source_id, import_id, version, status, data in rows:
            if key in keys_by_subject[subject]:
                held[key].append(_Held(pk, content, source_id, import_id, version, status, (data or {}).get("extra")))
    return held


def _citations_of(session: Session, pks: list[int]) -> dict[int, set[tuple]]:
    found: dict[int, set[tuple]] = defaultdict(set)
    table = ClaimCitation.__table__
    for chunk in chunks(pks):
        for pk, *citation in session.execute(sa.select(table.c.claim_pk, table.c.source_id, table.c.locator,
                                                       table.c.testimony_id, table.c.evidence_id)
                                             .where(table.c.claim_pk.in_(chunk))):
            found[pk].add(tuple(citation))
    return found


def refresh_entities(session: Session, entity_pks: list[int]) -> None:
    """Entities' names, kind, place and publication read again from their current describing claims:
    the newest accepted one, else the newest; a site's publication the strictest of them."""
    table = Claim.__table__
    for chunk in chunks(entity_pks):
        rows = session.execute(sa.select(table.c.subject_pk, table.c.kind, table.c.value, table.c.data,
                                         table.c.place_id, table.c.review_status, table.c.id)
                               .where(table.c.subject_pk.in_(chunk), table.c.superseded_by.is_(None),
                                      table.c.kind.in_(("institution", "official", "site", "act")))
                               .order_by(table.c.subject_pk, table.c.id)).all()
        best: dict[int, tuple] = {}
        publication: dict[int, str] = {}
        aliases: dict[int, set[str]] = defaultdict(set)
        for subject, kind, value, data, place_id, status, _pk in rows:
            data = data or {}
            rank = 1 if status == "accepted" else 0
            if subject not in best or rank >= best[subject][0]:
                best[subject] = (rank, kind, value, data, place_id)
            if kind == "site":
                policy = data.get("publication") or "hidden"
                if PUBLICATION_RANK[policy] >= PUBLICATION_RANK.get(publication.get(subject, "exact"), 0):
                    publication[subject] = policy
            if kind in ("institution", "official", "site"):
                aliases[subject].update(name_keys(data.get("name"), data.get("name_fa"), *(data.get("aliases") or ())))
        updates = [{"pk": subject, "name": data.get("name"), "name_fa": data.get("name_fa"), "category": value,
                    "place_id": place_id, "publication": publication.get(subject)}
                   for subject, (_rank, kind, value, data, place_id) in best.items()]
        if updates:
            entities = Entity.__table__
            session.execute(sa.update(entities).where(entities.c.id == sa.bindparam("pk")).values(
                name=sa.bindparam("name"), name_fa=sa.bindparam("name_fa"), category=sa.bindparam("category"),
                place_id=sa.bindparam("place_id"), publication=sa.bindparam("publication")), updates)
        if aliases:
            names = EntityName.__table__
            session.execute(sa.delete(names).where(names.c.entity_pk.in_(list(aliases))))
            insert_rows(session, names, [{"key": key[:200], "entity_pk": subject}
                                         for subject, keys in aliases.items() for key in sorted(keys)])
