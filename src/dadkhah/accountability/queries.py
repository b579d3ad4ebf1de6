"""The questions accountability data answers: who held posts in an institution on a date, what an
official is alleged to have done and to whom, which acts touch a person or a site, what a site has
suffered and who may lie there.

Every answer lists, for each line, the claims behind it with their citations, review status and
likelihood; claims that disagree are all shown, marked ``conflict``. Sites' locations pass through
:func:`site_location`, which applies the site's publication policy for the audience asking.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date

import sqlalchemy as sa
from sqlalchemy.orm import Session

from dadkhah.accountability.claims import chunks, claim_public_id
from dadkhah.accountability.rows import ID_PREFIXES, query_keys
from dadkhah.accountability.vocabulary import ACT_TYPES, read_word
from dadkhah.errors import InputError, NotFound
from dadkhah.model import (
    Claim,
    ClaimCitation,
    ClaimVictim,
    Entity,
    EntityName,
    Person,
    PersonRecord,
    Place,
    Source,
)
from dadkhah.model.search import PersonSearch

AUDIENCES = ("public", "team", "investigators")
_AUDIENCE_RANK = {name: rank for rank, name in enumerate(AUDIENCES)}
KIND_NAMES = {"institution": "institution", "official": "official", "act": "act", "site": "site"}
MAX_LIMIT = 500

C = Claim.__table__
E = Entity.__table__


def _current(*where):
    return sa.and_(C.c.superseded_by.is_(None), *where)


# --------------------------------------------------------------------------------------------
# Finding entities

def find_entity(session: Session, kind: str, text: str, *, field: str | None = None) -> Entity:
    """The ``kind`` entity ``text`` names: its registry id (``O-000001``), the files' id, or, for
    officials and institutions, a name in either script that only one of them bears."""
    text = (text or "").strip()
    field = field or kind
    if not text:
        raise InputError(f"name the {kind}", field=field)
    if text.startswith(ID_PREFIXES[kind]) and text[2:].isdigit():
        found = session.scalar(sa.select(Entity).where(Entity.entity_id == text, Entity.kind == kind))
        if found is not None:
            return found
    found = session.scalar(sa.select(Entity).where(Entity.kind == kind, Entity.external_id == text))
    if found is not None:
        return found
    if kind in ("official", "institution", "site"):
        keys = query_keys(text)
        if keys:
            matches = list(session.scalars(sa.select(Entity).where(Entity.kind == kind, *_bears(keys))
                                           .order_by(Entity.id).limit(6)))
            if len(matches) == 1:
                return matches[0]
            if matches:
                listed = ", ".join(f"{m.entity_id} ({m.name or m.name_fa})" for m in matches[:5])
                raise InputError(f"{text!r} names more than one {kind}: {listed}; use the id", field=field)
    raise NotFound(f"no {kind} {text!r} (give its id, such as {ID_PREFIXES[kind]}000001, or the id the imported "
                   "files gave it)")


def _bears(keys: list[str]) -> list:
    """Conditions: the entity bears every one of ``keys`` among its name keys."""
    return [Entity.id.in_(sa.select(EntityName.entity_pk).where(EntityName.key == key)) for key in keys]


def entity_to_dict(entity: Entity, *, places: dict[str, str] | None = None) -> dict:
    """An entity's id and names; its place too, but never a site's (a site's location is shown only
    through :func:`site_location`, under its publication policy)."""
    shown = {"id": entity.entity_id, "kind": entity.kind, "external_id": entity.external_id, "name": entity.name,
             "name_fa": entity.name_fa, "category": entity.category}
    if entity.kind != "site":
        shown["place"] = (places or {}).get(entity.place_id, entity.place_id) if entity.place_id else None
    return shown


def _entities(session: Session, pks) -> dict[int, sa.Row]:
    """Entities by row id, as plain rows (their columns as attributes): read-only, and cheap."""
    found = {}
    for chunk in chunks(sorted(set(pks))):
        found.update((e.id, e) for e in session.execute(sa.select(E).where(E.c.id.in_(chunk))))
    return found


def _place_names(session: Session, ids) -> dict[str, str]:
    ids = sorted({i for i in ids if i})
    names = {}
    for chunk in chunks(ids):
        names.update(session.execute(sa.select(Place.id, Place.name_en).where(Place.id.in_(chunk))).all())
    return names


def list_entities(session: Session, kind: str, *, query: str | None = None, limit: int = 50, offset: int = 0,
                  audience: str = "team") -> dict:
    """Officials, institutions, acts or sites, by id; ``query`` finds by name in either script or by id.
    Sites carry their location as ``audience`` may see it."""
    limit = max(1, min(limit, MAX_LIMIT))
    statement = sa.select(Entity).where(Entity.kind == kind)
    if query and query.strip():
        text = query.strip()
        keys = query_keys(text)
        statement = statement.where(sa.or_(Entity.entity_id == text, Entity.external_id == text,
                                           sa.and_(*_bears(keys)) if keys else sa.false()))
    total = session.scalar(sa.select(sa.func.count()).select_from(statement.subquery()))
    rows = list(session.scalars(statement.order_by(Entity.id).limit(limit).offset(offset)))
    places = _place_names(session, [r.place_id for r in rows])
    items = [entity_to_dict(r, places=places) | ({"location": _site_place(session, r, audience)}
                                                  if kind == "site" else {}) for r in rows]
    return {"kind": kind, "total": total, "limit": limit, "offset": offset, "items": items}


# --------------------------------------------------------------------------------------------
# Claims as shown

def _interval(text, earliest, latest) -> dict | None:
    if text is None:
        return None
    return {"original": text, "earliest": earliest.isoformat() if earliest else None,
            "latest": latest.isoformat() if latest else None}


def citations_of(session: Session, claim_pks) -> dict[int, list[dict]]:
    found: dict[int, list[dict]] = defaultdict(list)
    table = ClaimCitation.__table__
    for chunk in chunks(sorted(set(claim_pks))):
        rows = session.execute(sa.select(table.c.claim_pk, Source.name, table.c.locator, table.c.testimony_id,
                                         table.c.evidence_id)
                               .join(Source, Source.id == table.c.source_id)
                               .where(table.c.claim_pk.in_(chunk)).order_by(table.c.id))
        for pk, source, locator, testimony_id, evidence_id in rows:
            citation = {"source": source}
            if locator:
                citation["locator"] = locator
            if testimony_id:
                citation["testimony"] = testimony_id
            if evidence_id:
                citation["evidence"] = evidence_id
            found[pk].append(citation)
    return found


def _claim_dict(row, citations: dict[int, list[dict]], sources: dict[int, str]) -> dict:
    data = dict(row.data or {})
    extra = data.pop("extra", None)
    claim = {"claim": claim_public_id(row.id), "kind": row.kind, "value": row.value, "review_status": row.review_status,
             "version": row.version, "claimed_by": sources.get(row.source_id)}
    if row.likelihood:
        claim["likelihood"] = row.likelihood
    if row.from_text is not None or row.kind in ("post", "relation"):
        claim["from"] = _interval(row.from_text, row.from_earliest, row.from_latest)
    if row.kind in ("post", "relation"):
        claim["to"] = _interval(row.to_text, row.to_earliest, row.to_latest)
    if data:
        claim["data"] = data
    if extra:
        claim["extra"] = extra
    claim["citations"] = citations.get(row.id, [])
    return claim


def _source_names(session: Session) -> dict[int, str]:
    """Sources' names by id, read once per session (a page shows many claims; sources are few)."""
    names = session.info.get("source_names")
    if names is None:
        names = session.info["source_names"] = dict(session.execute(sa.select(Source.id, Source.name)).all())
    return names


def _claims(session: Session, *where, order=None, limit: int | None = None, offset: int = 0) -> list:
    statement = sa.select(C).where(_current(*where)).order_by(*(order or (C.c.id,)))
    if limit is not None:
        statement = statement.limit(limit).offset(offset)
    return list(session.execute(statement))


def _shown(session: Session, rows, *, audience: str = "team") -> list[dict]:
    """Claims as shown to ``audience``: a site's description never carries more of its location than
    the site's own (most restrictive) publication policy allows."""
    citations = citations_of(session, [r.id for r in rows])
    sources = _source_names(session)
    sites = _entities(session, [r.subject_pk for r in rows if r.kind == "site"])
    shown = []
    for row in rows:
        claim = _claim_dict(row, citations, sources)
        if row.kind == "site":
            if _AUDIENCE_RANK[audience] < _AUDIENCE_RANK["investigators"]:
                claim.pop("extra", None)  # a column of the row's own might say where the site is
            data = claim.setdefault("data", {})
            claim["location"] = site_location(sites[row.subject_pk].publication, latitude=data.pop("latitude", None),
                                              longitude=data.pop("longitude", None), place=data.pop("place", None),
                                              audience=audience)
        shown.append(claim)
    return shown


# --------------------------------------------------------------------------------------------
# Sites and their publication policy

def audience_for(scope_or_role: str) -> str:
    """The audience a case-file scope or a web role stands for."""
    if scope_or_role in ("investigators", "courts", "investigator", "admin"):
        return "investigators"
    if scope_or_role == "public":
        return "public"
    return "team"


def site_location(publication: str | None, *, latitude, longitude, place: str | None, audience: str) -> dict:
    """What of a site's location ``audience`` may see under ``publication``.

    ``exact``: the coordinates and the place, to anyone. ``city``: the place to anyone, the
    coordinates to investigators only. ``hidden`` (and a site with no policy): nothing but to
    investigators. The answer says what was withheld, so no one mistakes it for "unknown".
    """
    rank = _AUDIENCE_RANK[audience]
    policy = publication or "hidden"
    coordinates = policy == "exact" or rank >= _AUDIENCE_RANK["investigators"]
    city = policy in ("exact", "city") or rank >= _AUDIENCE_RANK["investigators"]
    location = {"publication": policy}
    if city:
        location["place"] = place
    if coordinates and latitude is not None:
        location["latitude"], location["longitude"] = latitude, longitude
    if not coordinates:
        location["withheld"] = "coordinates" if city else "location"
    return location


def _site_place(session: Session, site: Entity, audience: str) -> dict:
    rows = _claims(session, C.c.subject_pk == site.id, C.c.kind == "site")
    data = next((dict(r.data or {}) for r in reversed(rows) if r.review_status == "accepted"),
                dict(rows[-1].data or {}) if rows else {})
    place = _place_names(session, [site.place_id]).get(site.place_id) if site.place_id else data.get("place")
    return site_location(site.publication, latitude=data.get("latitude"), longitude=data.get("longitude"),
                         place=place, audience=audience)


def site_summary(session: Session, site: Entity, audience: str) -> dict:
    return {"id": site.entity_id, "external_id": site.external_id, "name": site.name, "name_fa": site.name_fa,
            "kind": site.category, "location": _site_place(session, site, audience)}


def show_site(session: Session, site_ref: str, *, audience: str = "team", victims_limit: int = 100) -> dict:
    """A site: certainty, location as its policy allows, status history, burial claims."""
    site = find_entity(session, "site", site_ref, field="site")
    description = _shown(session, _claims(session, C.c.subject_pk == site.id, C.c.kind == "site"), audience=audience)
    history = _shown(session, _claims(session, C.c.subject_pk == site.id, C.c.kind == "site-status",
                                      order=(C.c.from_earliest, C.c.id)))
    burial_rows = _claims(session, C.c.subject_pk == site.id, C.c.kind == "burial")
    burials = _shown(session, burial_rows[:victims_limit])
    victims = victims_of(session, [r.id for r in burial_rows[:victims_limit]])
    for claim, row in zip(burials, burial_rows[:victims_limit], strict=True):
        claim["victim"] = (victims.get(row.id) or [None])[0]
    certainty = sorted({(c.get("data") or {}).get("certainty") for c in description} - {None})
    return {**site_summary(session, site, audience), "certainty": certainty, "claims": description,
            "status_history": history, "burials": burials, "burials_total": len(burial_rows), "audience": audience}


def list_sites(session: Session, *, audience: str = "team") -> list[dict]:
    """Every site with what of its location ``audience`` may see (for maps)."""
    sites = list(session.scalars(sa.select(Entity).where(Entity.kind == "site").order_by(Entity.id)))
    return [site_summary(session, s, audience) for s in sites]


# --------------------------------------------------------------------------------------------
# Victims

def victims_of(session: Session, claim_pks: list[int]) -> dict[int, list[dict]]:
    """The victims each act or burial claim names, as persons now: a record follows its record into the
    person that holds it after merges and splits; a person id follows the person's merges."""
    found: dict[int, list[dict]] = defaultdict(list)
    V = ClaimVictim.__table__
    for chunk in chunks(sorted(set(claim_pks))):
        rows = session.execute(
            sa.select(V.c.claim_pk, Source.name, V.c.record_id, V.c.person_id, Person.person_id.label("holder"))
            .outerjoin(Source, Source.id == V.c.source_id)
            .outerjoin(PersonRecord, sa.and_(PersonRecord.source_id == V.c.source_id,
                                             PersonRecord.record_id == V.c.record_id))
            .outerjoin(Person, Person.id == PersonRecord.person_pk)
            .where(V.c.claim_pk.in_(chunk)).order_by(V.c.id)).all()
        merged = _survivors(session, {r.person_id for r in rows if r.person_id})
        for pk, source, record_id, person_id, holder in rows:
            victim = {"person": holder or merged.get(person_id)}
            if record_id is not None:
                victim["record"] = f"{source}:{record_id}"
            else:
                victim["as_given"] = person_id
            found[pk].append(victim)
    _add_names(session, [v for victims in found.values() for v in victims])
    return found


def _survivors(session: Session, person_ids: set[str]) -> dict[str, str]:
    """Each person id → the active person it now stands for (itself, or where it was merged)."""
    result = {}
    for person_id in person_ids:
        current, seen = person_id, set()
        while current and current not in seen:
            seen.add(current)
            row = session.execute(sa.select(Person.status, Person.merged_into).where(Person.person_id == current)).first()
            if row is None or row.status != "merged" or not row.merged_into:
                break
            current = row.merged_into
        result[person_id] = current
    return result


def _add_names(session: Session, victims: list[dict]) -> None:
    ids = sorted({v["person"] for v in victims if v.get("person")})
    names = {}
    for chunk in chunks(ids):
        names.update((pid, (fa, latin)) for pid, fa, latin in session.execute(
            sa.select(PersonSearch.person_id, PersonSearch.name_fa, PersonSearch.name_latin)
            .where(PersonSearch.person_id.in_(chunk))))
    for victim in victims:
        if victim.get("person") in names:
            victim["name_fa"], victim["name"] = names[victim["person"]]


def _person_claim_pks(session: Session, person_id: str, kinds: tuple[str, ...]) -> sa.Select:
    """The act or burial claims naming ``person_id`` (by any of its records, or by it or an id merged into it)."""
    from dadkhah.registry.dossier import _absorbed_ids

    person = session.scalar(sa.select(Person).where(Person.person_id == person_id))
    if person is None:
        raise NotFound(f"no person {person_id}")
    ids = _absorbed_ids(session, person_id)
    V = ClaimVictim.__table__
    by_record = (sa.select(V.c.claim_pk).join(PersonRecord, sa.and_(PersonRecord.source_id == V.c.source_id,
                                                                     PersonRecord.record_id == V.c.record_id))
                 .where(PersonRecord.person_pk == person.id))
    by_id = sa.select(V.c.claim_pk).where(V.c.person_id.in_(ids))
    return sa.select(C.c.id).where(_current(C.c.kind.in_(kinds), C.c.id.in_(sa.union(by_record, by_id))))


# --------------------------------------------------------------------------------------------
# Acts

def _acts(session: Session, act_pks: list[int], *, involvement_of: int | None = None) -> list[dict]:
    """Acts as shown: their claims (type, date, place, victims), and who is alleged to be involved."""
    entities = _entities(session, act_pks)
    descriptions = defaultdict(list)
    rows = []
    for chunk in chunks(act_pks):
        rows += _claims(session, C.c.subject_pk.in_(chunk), C.c.kind == "act")
    shown = _shown(session, rows)
    victims = victims_of(session, [r.id for r in rows])
    places = _place_names(session, [r.place_id for r in rows])
    for row, claim in zip(rows, shown, strict=True):
        claim["date"] = claim.pop("from", None)
        claim["place"] = places.get(row.place_id) or (claim.get("data") or {}).get("place")
        claim["unnamed_victims"] = row.count or 0
        claim["victims"] = victims.get(row.id, [])
        descriptions[row.subject_pk].append(claim)
    involved = []
    for chunk in chunks(act_pks):
        involved += _claims(session, C.c.subject_pk.in_(chunk), C.c.kind == "involvement")
    actors = _entities(session, [r.object_pk for r in involved])
    involvement_claims = _shown(session, involved)
    by_act = defaultdict(list)
    of_interest = defaultdict(list)
    for row, claim in zip(involved, involvement_claims, strict=True):
        actor = actors[row.object_pk]
        claim["actor"] = {"id": actor.entity_id, "kind": actor.kind, "name": actor.name, "name_fa": actor.name_fa}
        claim["degree"] = claim.pop("value")
        by_act[row.subject_pk].append(claim)
        if row.object_pk == involvement_of:
            of_interest[row.subject_pk].append(claim)
    result = []
    for pk in act_pks:
        act = entities[pk]
        claims = descriptions.get(pk, [])
        entry = {"id": act.entity_id, "external_id": act.external_id, "type": act.category,
                 "conflict": any(c["review_status"] == "conflict" for c in claims), "claims": claims,
                 "involvements": by_act.get(pk, [])}
        if involvement_of is not None:
            entry["involvement"] = of_interest.get(pk, [])
        result.append(entry)
    return result


def list_acts(session: Session, *, official: str | None = None, institution: str | None = None,
              person: str | None = None, site: str | None = None, act_type: str | None = None, limit: int = 50,
              offset: int = 0) -> dict:
    """Acts matching every filter given (an official or institution involved, a person among the
    victims, a site where a victim is claimed to lie, the act's type), oldest first, a page at a time."""
    limit = max(1, min(limit, MAX_LIMIT))
    where = [Entity.kind == "act"]
    filters = {}
    if official:
        who = find_entity(session, "official", official, field="official")
        where.append(Entity.id.in_(sa.select(C.c.subject_pk).where(_current(C.c.kind == "involvement",
                                                                               C.c.object_pk == who.id))))
        filters["official"] = who.entity_id
    if institution:
        body = find_entity(session, "institution", institution, field="institution")
        where.append(Entity.id.in_(sa.select(C.c.subject_pk).where(_current(C.c.kind == "involvement",
                                                                               C.c.object_pk == body.id))))
        filters["institution"] = body.entity_id
    if person:
        where.append(Entity.id.in_(sa.select(C.c.subject_pk).where(C.c.id.in_(
            _person_claim_pks(session, person.strip(), ("act",))))))
        filters["person"] = person.strip()
    if site:
        place = find_entity(session, "site", site, field="site")
        persons = _buried_persons(session, place.id)
        act_claims = set()
        for person_id in persons:
            act_claims.update(session.scalars(_person_claim_pks(session, person_id, ("act",))))
        where.append(Entity.id.in_(sa.select(C.c.subject_pk).where(C.c.id.in_(sorted(act_claims)))))
        filters["site"] = place.entity_id
    if act_type:
        kind = read_word(act_type, ACT_TYPES, field="type")
        where.append(Entity.category == kind)
        filters["type"] = kind
    total = session.scalar(sa.select(sa.func.count()).select_from(Entity).where(*where))
    pks = list(session.scalars(sa.select(Entity.id).where(*where).order_by(Entity.id).limit(limit).offset(offset)))
    return {"filters": filters, "total": total, "limit": limit, "offset": offset, "acts": _acts(session, pks)}


def _buried_persons(session: Session, site_pk: int) -> list[str]:
    rows = _claims(session, C.c.subject_pk == site_pk, C.c.kind == "burial")
    victims = victims_of(session, [r.id for r in rows])
    return sorted({v["person"] for vs in victims.values() for v in vs if v.get("person")})


# --------------------------------------------------------------------------------------------
# Institutions

def _held_on(on: date):
    """Claims whose interval may include ``on`` (an unknown start or end does not exclude it)."""
    return sa.and_(sa.or_(C.c.from_earliest.is_(None), C.c.from_earliest <= on),
                   sa.or_(C.c.to_latest.is_(None), C.c.to_latest >= on))


def _certainly_on(row, on: date) -> bool:
    started = row.from_latest is not None and row.from_latest <= on
    ongoing = row.to_text is None or (row.to_earliest is not None and row.to_earliest >= on)
    return started and ongoing


def institution_chart(session: Session, institution_ref: str, *, on: date, limit: int = 200, offset: int = 0) -> dict:
    """Who held which post in the institution and its sub-units on ``on``, with the claims behind each.

    A sub-unit is an institution ``child-of`` or ``member-of`` it (or of a sub-unit) on that date.
    A post counts when its dates may include the day; ``on_date`` says whether they certainly do
    ("certain") or only may, because a date is partial or missing ("possible"). Every unit is listed
    with how many posts it had that day; the posts themselves come a page at a time (``limit``,
    ``offset``), unit by unit, as a national body's chart can hold thousands. The relation that makes
    a unit part of the chart is shown with its citations for the units on the page and those above
    them; for the others, its claim id and status.
    """
    limit = max(1, min(limit, MAX_LIMIT))
    root = find_entity(session, "institution", institution_ref, field="institution")
    depth = {root.id: 0}
    parent_of: dict[int, tuple[int, dict]] = {}
    frontier = [root.id]
    relation_rows = []
    while frontier:
        rows = []
        for chunk in chunks(frontier):  # the tree only: a national body has a thousand units
            rows += session.execute(sa.select(C.c.id, C.c.subject_pk, C.c.object_pk, C.c.value, C.c.review_status)
                                    .where(_current(C.c.kind == "relation", C.c.object_pk.in_(chunk), _held_on(on)))
                                    .order_by(C.c.id)).all()
        frontier = []
        for row in rows:
            if row.subject_pk not in depth:
                depth[row.subject_pk] = depth[row.object_pk] + 1
                frontier.append(row.subject_pk)
                relation_rows.append(row)
    for row in relation_rows:
        parent_of.setdefault(row.subject_pk, (row.object_pk, row))
    order = sorted(depth, key=lambda p: (depth[p], p))
    counts: dict[int, int] = {}
    for chunk in chunks(order):
        counts.update(session.execute(sa.select(C.c.object_pk, sa.func.count())
                                      .where(_current(C.c.kind == "post", C.c.object_pk.in_(chunk), _held_on(on)))
                                      .group_by(C.c.object_pk)).all())
    total = sum(counts.values())
    # the page: units in chart order, whole units before the offset skipped; the units the page takes
    # whole are read in one query, a unit cut by the page's start or end on its own
    room, skipped, takes = limit, 0, []
    for pk in order:
        held = counts.get(pk, 0)
        if not held or room <= 0:
            continue
        if skipped + held <= offset:
            skipped += held
            continue
        start = max(0, offset - skipped)
        take = min(held - start, room)
        takes.append((pk, start, take, held))
        skipped += held
        room -= take
    post_order = (C.c.from_earliest, C.c.id)
    by_unit_rows: dict[int, list] = defaultdict(list)
    whole = [pk for pk, start, take, held in takes if start == 0 and take == held]
    for chunk in chunks(whole):
        for row in _claims(session, C.c.kind == "post", C.c.object_pk.in_(chunk), _held_on(on),
                           order=(C.c.object_pk, *post_order)):
            by_unit_rows[row.object_pk].append(row)
    for pk, start, take, held in takes:
        if not (start == 0 and take == held):
            by_unit_rows[pk] = _claims(session, C.c.kind == "post", C.c.object_pk == pk, _held_on(on),
                                       order=post_order, limit=take, offset=start)
    posts = [row for pk, *_ in takes for row in by_unit_rows.get(pk, [])]
    # the relation claims (with their citations) of the units on this page and the units above them;
    # every other unit is listed by name, parent and count alone
    cited = set()
    for pk, *_ in takes:
        while pk in parent_of and pk not in cited:
            cited.add(pk)
            pk = parent_of[pk][0]
    cited_rows = []
    for chunk in chunks(sorted(parent_of[pk][1].id for pk in cited)):
        cited_rows += _claims(session, C.c.id.in_(chunk))
    relations = dict(zip([r.id for r in cited_rows], _shown(session, cited_rows), strict=True))
    shown = _shown(session, posts)
    entities = _entities(session, list(depth) + [p.subject_pk for p in posts])
    by_unit = defaultdict(list)
    for row, claim in zip(posts, shown, strict=True):
        official = entities[row.subject_pk]
        claim["official"] = {"id": official.entity_id, "external_id": official.external_id, "name": official.name,
                             "name_fa": official.name_fa}
        claim["role"] = claim.pop("value")
        claim["on_date"] = "certain" if _certainly_on(row, on) else "possible"
        by_unit[row.object_pk].append(claim)
    units = []
    for pk in order:
        unit = entities[pk]
        entry = entity_to_dict(unit) | {"depth": depth[pk], "posts_total": counts.get(pk, 0),
                                        "posts": by_unit.get(pk, [])}
        if pk in parent_of:
            entry["parent"] = entities[parent_of[pk][0]].entity_id
            row = parent_of[pk][1]
            entry["relation"] = relations.get(row.id) or {"claim": claim_public_id(row.id), "value": row.value,
                                                          "review_status": row.review_status}
        units.append(entry)
    return {"institution": entity_to_dict(root), "on": on.isoformat(), "units": units, "posts": total,
            "limit": limit, "offset": offset, "shown": len(posts)}


# --------------------------------------------------------------------------------------------
# Officials

def show_official(session: Session, official_ref: str, *, acts_limit: int = 50, acts_offset: int = 0,
                  victims_limit: int = 200) -> dict:
    """An official's dossier: posts over time, acts with degree and likelihood, their victims (named,
    and how many unnamed), status observations, and the posts that began after the acts."""
    official = find_entity(session, "official", official_ref, field="official")
    acts_limit = max(0, min(acts_limit, MAX_LIMIT))
    description = _shown(session, _claims(session, C.c.subject_pk == official.id, C.c.kind == "official"))
    post_rows = _claims(session, C.c.subject_pk == official.id, C.c.kind == "post", order=(C.c.from_earliest, C.c.id))
    posts = _shown(session, post_rows)
    institutions = _entities(session, [r.object_pk for r in post_rows])
    for row, claim in zip(post_rows, posts, strict=True):
        body = institutions[row.object_pk]
        claim["role"] = claim.pop("value")
        claim["institution"] = {"id": body.entity_id, "name": body.name, "name_fa": body.name_fa,
                                "kind": body.category}
    involved = sa.select(C.c.subject_pk).where(_current(C.c.kind == "involvement", C.c.object_pk == official.id))
    act_claims = sa.select(C.c.id, C.c.count, C.c.from_earliest, C.c.from_latest).where(
        _current(C.c.kind == "act", C.c.subject_pk.in_(involved))).subquery()
    totals = session.execute(sa.select(sa.func.count(), sa.func.coalesce(sa.func.sum(act_claims.c.count), 0),
                                       sa.func.min(act_claims.c.from_earliest),
                                       sa.func.max(act_claims.c.from_latest))).one()
    acts_total = session.scalar(sa.select(sa.func.count()).select_from(involved.distinct().subquery()))
    V = ClaimVictim.__table__
    # a victim is the person holding the record named (or the person named); a record no linkage
    # run has placed yet counts as itself
    unplaced = Source.name + ":" + V.c.record_id
    victim_refs = (sa.select(sa.func.coalesce(Person.person_id, V.c.person_id, unplaced).label("person"))
                   .select_from(V).outerjoin(Source, Source.id == V.c.source_id).outerjoin(PersonRecord, sa.and_(PersonRecord.source_id == V.c.source_id,
                                                                   PersonRecord.record_id == V.c.record_id))
                   .outerjoin(Person, Person.id == PersonRecord.person_pk)
                   .where(V.c.claim_pk.in_(sa.select(act_claims.c.id))))
    named = session.scalars(victim_refs.distinct().order_by("person").limit(victims_limit + 1)).all()
    named_total = session.scalar(sa.select(sa.func.count()).select_from(victim_refs.distinct().subquery()))
    page = list(session.scalars(involved.distinct().order_by(C.c.subject_pk).limit(acts_limit).offset(acts_offset)))
    acts = _acts(session, page, involvement_of=official.id)
    last_act = totals[3]
    later = [p for p, row in zip(posts, post_rows, strict=True)
             if last_act is not None and row.from_earliest is not None and row.from_earliest > last_act]
    status = _shown(session, _claims(session, C.c.subject_pk == official.id, C.c.kind == "official-status",
                                     order=(C.c.from_earliest, C.c.id)))
    for claim in status:
        claim["status"] = claim.pop("value")
        claim["observed_on"] = claim.pop("from", None)
    return {
        "official": entity_to_dict(official) | {"aliases": sorted({a for c in description
                                                                    for a in (c.get("data") or {}).get("aliases", [])})},
        "claims": description, "posts": posts, "later_posts": later, "status": status,
        "acts_total": acts_total, "acts_limit": acts_limit, "acts_offset": acts_offset, "acts": acts,
        "acts_period": {"from": totals[2].isoformat() if totals[2] else None,
                        "to": totals[3].isoformat() if totals[3] else None},
        "victims": {"named_total": named_total, "unnamed_total": int(totals[1] or 0),
                    "named": [p for p in named[:victims_limit] if p], "named_truncated": len(named) > victims_limit},
    }


# --------------------------------------------------------------------------------------------
# Persons

def person_accountability(session: Session, person_id: str, *, audience: str = "team") -> dict:
    """The person page's "acts" and "burial" sections: acts naming the person, who is alleged to be
    involved, and the sites where the person may lie (each location as its policy allows)."""
    act_claims = list(session.scalars(_person_claim_pks(session, person_id, ("act",))))
    act_pks = sorted({pk for pk, in session.execute(sa.select(C.c.subject_pk).where(C.c.id.in_(act_claims)))}) \
        if act_claims else []
    burial_rows = []
    burial_pks = list(session.scalars(_person_claim_pks(session, person_id, ("burial",))))
    for chunk in chunks(burial_pks):
        burial_rows += _claims(session, C.c.id.in_(chunk))
    burials = _shown(session, burial_rows)
    sites = _entities(session, [r.subject_pk for r in burial_rows])
    for row, claim in zip(burial_rows, burials, strict=True):
        claim["site"] = site_summary(session, sites[row.subject_pk], audience)
    return {"acts": _acts(session, act_pks[:MAX_LIMIT]), "acts_total": len(act_pks), "burials": burials}


# --------------------------------------------------------------------------------------------
# Case files

def official_casefile(session: Session, official_ref: str, *, audience: str) -> dict:
    """An official's whole dossier for a case file: every act (not a page), the victims as person ids,
    the sites where they are claimed to lie (as ``audience`` may see them), and the testimonies and
    evidence items the claims cite."""
    first = show_official(session, official_ref, acts_limit=MAX_LIMIT, victims_limit=0)
    acts = list(first["acts"])
    while len(acts) < first["acts_total"]:
        page = show_official(session, official_ref, acts_limit=MAX_LIMIT, acts_offset=len(acts), victims_limit=0)
        if not page["acts"]:
            break
        acts += page["acts"]
    dossier = first | {"acts": acts, "acts_limit": len(acts), "acts_offset": 0}
    persons = sorted({v["person"] for act in acts for claim in act["claims"] for v in claim["victims"]
                      if v.get("person")})
    site_pks = set()
    for person_id in persons:
        burial_pks = list(session.scalars(_person_claim_pks(session, person_id, ("burial",))))
        for chunk in chunks(burial_pks):
            site_pks.update(session.scalars(sa.select(C.c.subject_pk).where(C.c.id.in_(chunk))))
    sites = [show_site(session, entity.entity_id, audience=audience, victims_limit=MAX_LIMIT)
             for entity in sorted(_entities(session, site_pks).values(), key=lambda e: e.id)]
    cited = {"testimonies": set(), "evidence": set()}

    def collect(claim: dict) -> None:
        for citation in claim.get("citations", []):
            if citation.get("testimony"):
                cited["testimonies"].add(citation["testimony"])
            if citation.get("evidence"):
                cited["evidence"].add(citation["evidence"])

    for claim in dossier["claims"] + dossier["posts"] + dossier["status"]:
        collect(claim)
    for act in acts:
        for claim in act["claims"] + act["involvements"]:
            collect(claim)
    for site in sites:
        for claim in site["claims"] + site["status_history"] + site["burials"]:
            collect(claim)
    return {"dossier": dossier, "persons": persons, "sites": sites,
            "cited": {k: sorted(v) for k, v in cited.items()}}


# --------------------------------------------------------------------------------------------
# One act, one claim

def show_act(session: Session, act_ref: str) -> dict:
    """One act: what each source says it was (type, date, place, victims) and who is alleged to be involved."""
    act = find_entity(session, "act", act_ref, field="act")
    return _acts(session, [act.id])[0]


def show_claim(session: Session, claim: str) -> dict:
    """A claim: what it is about, its review status and every decision on it. A site's description is
    not repeated here (its location is shown only on the site's page, under its policy)."""
    from dadkhah.accountability.claims import claim_pk
    from dadkhah.accountability.review import claim_reviews

    pk = claim_pk(claim)
    row = session.execute(sa.select(C).where(C.c.id == pk)).first()
    if row is None:
        raise NotFound(f"no claim {claim_public_id(pk)}")
    entities = _entities(session, [key for key in (row.subject_pk, row.object_pk) if key is not None])

    def entity(key):
        if key is None:
            return None
        found = entities[key]
        return {"id": found.entity_id, "kind": found.kind, "external_id": found.external_id, "name": found.name,
                "name_fa": found.name_fa}

    return {"claim": claim_public_id(pk), "kind": row.kind, "value": row.value, "likelihood": row.likelihood,
            "review_status": row.review_status, "version": row.version,
            "superseded_by": claim_public_id(row.superseded_by) if row.superseded_by else None,
            "subject": entity(row.subject_pk), "object": entity(row.object_pk),
            "citations": citations_of(session, [pk]).get(pk, []), "reviews": claim_reviews(session, claim)}
