"""The gazetteer in the database: listing places, adding aliases, building the look-up index."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from dadkhah.audit import Actor, record_audit
from dadkhah.errors import InputError, NotFound
from dadkhah.model import PLACE_FIELD_TYPES, Place, PlaceName, Record
from dadkhah.normalize.places import place_lookup_key
from dadkhah.store import (
    Store,
    current_records,
    load_gazetteer,
    resolve_places_anew,
    unresolved_spellings,
)


def get_place(session: Session, place_id: str) -> Place:
    place = session.get(Place, place_id)
    if place is None:
        raise NotFound(f"no place with id {place_id!r} (see `dadkhah places list`)")
    return place


ALIAS_MAX = 300  # characters: place_names.name


def add_place_alias(store: Store, place_id: str, alias: str, *, actor: Actor) -> dict:
    """Teach the gazetteer another spelling of a place, and resolve to it the records already
    imported whose place was left unresolved and now names it (as an import would today).

    Audited as "place alias added", with how many records of each field were resolved and which
    spellings they gave; a spelling it knows already changes nothing and logs nothing. Refuses a
    spelling that names another place. The answer's ``records_resolved`` maps a field (``city``,
    ``prison``) to its count; ``spellings_resolved`` maps it to each spelling resolved and its count:
    the alias itself, and any other the gazetteer now reads as it (a Latin "Msahad" reads as the
    Persian alias مسهد: the same consonants)."""
    with store.session() as session:
        added = _add_place_alias(session, place_id, alias)
        added |= {"records_resolved": {}, "spellings_resolved": {}}
        if added["added"]:
            spellings = resolve_records_again(session, added["place_id"])
            added |= {"records_resolved": {field: sum(counts.values()) for field, counts in spellings.items()},
                      "spellings_resolved": spellings}
            record_audit(session, store, actor, action="place alias added", object_kind="place",
                         object_id=added["place_id"], details={"alias": added["alias"], "normalized": added["normalized"],
                                                               "records_resolved": added["records_resolved"],
                                                               "spellings_resolved": spellings})
        return added


def resolve_records_again(session: Session, place_id: str) -> dict[str, dict[str, int]]:
    """Resolve to ``place_id`` every record whose place field (of the kinds that place may be) was
    left unresolved and whose text the gazetteer now resolves to it; in the caller's transaction
    (:func:`dadkhah.store.resolve_places_anew`). Answers, per field, each spelling resolved and how
    many current records gave it (fields and spellings with none left out: earlier versions of
    corrected records are resolved too, but not counted)."""
    place = get_place(session, place_id)
    resolved = resolve_places_anew(session, load_gazetteer(session), place=place)
    return {field: {spelling: n for spelling, (_, n) in spellings.items()} for field, spellings in resolved.items()}


def _add_place_alias(session: Session, place_id: str, alias: str) -> dict:
    place = get_place(session, place_id)
    if len((alias or "").strip()) > ALIAS_MAX:
        raise InputError(f"is at most {ALIAS_MAX} characters, not {len(alias.strip())}", field="alias")
    normalized = place_lookup_key(alias or "")
    if not normalized:
        raise InputError("needs some letters", field="alias")
    clash = session.execute(
        sa.select(PlaceName.place_id)
        .join(Place)
        .where(PlaceName.normalized == normalized, Place.type == place.type, PlaceName.place_id != place.id)
    ).first()
    if clash:
        raise InputError(f"{alias!r} already names {clash[0]}; an alias must name one place only", field="alias")
    existing = session.scalar(
        sa.select(PlaceName).where(PlaceName.place_id == place.id, PlaceName.normalized == normalized)
    )
    if existing is None:
        session.add(PlaceName(place_id=place.id, name=alias.strip(), normalized=normalized, origin="user"))
        session.flush()
    return {"place_id": place.id, "alias": alias.strip(), "normalized": normalized, "added": existing is None}


def unknown_spellings(session: Session, *, field: str = "city", limit: int | None = 50) -> dict:
    """The spellings of a record field (``city`` or ``prison``) that name no known place, most
    records first, each with the places it is a typo or two away from (for a person to confirm
    with :func:`add_place_alias`). Current records only. Answers the field, how many spellings and
    records there are in all, and the first ``limit`` spellings (all when None)."""
    if field not in PLACE_FIELD_TYPES:
        raise InputError(f"one of {', '.join(PLACE_FIELD_TYPES)}, not {field!r}", field="field")
    if limit is not None and limit < 1:
        raise InputError(f"at least 1, not {limit}", field="limit")
    text = getattr(Record, field)
    current = current_records()
    unresolved = unresolved_spellings(field).add_columns(current.label("records")).having(current > 0)
    totals = session.execute(sa.select(sa.func.count(), sa.func.coalesce(sa.func.sum(sa.literal_column("records")), 0))
                             .select_from(unresolved.subquery())).one()
    rows = session.execute(unresolved.order_by(current.desc(), text).limit(limit)).all()
    gazetteer, types = load_gazetteer(session), PLACE_FIELD_TYPES[field]
    return {"field": field, "spellings": totals[0], "records": int(totals[1]),
            "unknown": [{"spelling": spelling, "records": n,
                         "close": [{"place_id": m.place_id, "type": m.type, "name": m.name}
                                   for m in gazetteer.close_to(spelling, types)]} for spelling, n in rows]}


def list_places(session: Session, *, place_type: str | None = None) -> list[dict]:
    """Every place of the gazetteer (or of one type: a type it has none of is an error naming the
    types it has, not an empty list) with all its names."""
    query = sa.select(Place).order_by(Place.type, Place.id)
    if place_type:
        types = sorted(session.scalars(sa.select(Place.type).distinct()))
        if place_type not in types:
            raise InputError(f"is one of {', '.join(types)}, not {place_type!r}", field="place_type")
        query = query.where(Place.type == place_type)
    places = list(session.scalars(query))
    names: dict[str, list[str]] = {}
    for place_id, name in session.execute(sa.select(PlaceName.place_id, PlaceName.name).order_by(PlaceName.id)):
        names.setdefault(place_id, []).append(name)
    return [place_to_dict(p) | {"names": names.get(p.id, [])} for p in places]


def place_to_dict(place: Place) -> dict:
    return {
        "id": place.id,
        "type": place.type,
        "name_en": place.name_en,
        "name_fa": place.name_fa,
        "parent_id": place.parent_id,
        "province_now": place.province_now,
        "province_1988": place.province_1988,
        "lat": place.lat,
        "lon": place.lon,
        "coord_source": place.coord_source,
        "notes": place.notes,
        "origin": place.origin,
    }
