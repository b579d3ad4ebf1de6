"""The gazetteer in the database: listing places, adding aliases, building the look-up index."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from dadkhah.audit import Actor, record_audit
from dadkhah.errors import InputError, NotFound
from dadkhah.model import PLACE_FIELD_TYPES, Place, PlaceName, Record, Setting
from dadkhah.model.search import SEARCH_INDEX_SETTING
from dadkhah.normalize.places import Gazetteer, place_lookup_key
from dadkhah.store import Store


def load_gazetteer(session: Session) -> Gazetteer:
    """A look-up index over every place name in the database, built-in and user-added."""
    rows = session.execute(sa.select(PlaceName.name, PlaceName.place_id, Place.type).join(Place))
    display = dict(session.execute(sa.select(Place.id, Place.name_en)).all())
    return Gazetteer(((name, place_id, place_type) for name, place_id, place_type in rows), display)


def get_place(session: Session, place_id: str) -> Place:
    place = session.get(Place, place_id)
    if place is None:
        raise NotFound(f"no place with id {place_id!r} (see `dadkhah places list`)")
    return place


# A number that grows each time records' places are resolved anew: what linkage features were worked
# out under (dadkhah.link.features.features_context), so that the next run works them out again.
PLACES_REVISION_SETTING = "records_places_revision"
ALIAS_MAX = 300  # characters: place_names.name
_UPDATE_AT_ONCE = 500  # spellings per UPDATE statement (bound parameters stay far below any limit)


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
    left unresolved and whose text the gazetteer now resolves to it; in the caller's transaction.

    The record's text is untouched: only the gazetteer id worked out from it changes, as a new
    import of the same row would give it now. When any record changes, the linkage's next run works
    its features out again and the next search rebuilds its index. Answers, per field, each
    spelling resolved and how many current records gave it (fields and spellings with none left out:
    earlier versions of corrected records are resolved too, but not counted)."""
    place = get_place(session, place_id)
    gazetteer = load_gazetteer(session)
    resolved: dict[str, dict[str, int]] = {}
    spellings_updated = False
    for field, types in PLACE_FIELD_TYPES.items():
        if place.type not in types:
            continue
        text, place_column = getattr(Record, field), getattr(Record, f"{field}_place_id")
        # Every version of a record is resolved alike; the counts are of current records, as
        # `places unknown` counts them (an earlier version of a corrected record is not one more).
        unresolved = session.execute(_unresolved(field).add_columns(_current_records()))
        counts = {t: int(n or 0) for t, n in unresolved
                  if (match := gazetteer.resolve(t, types)) and match.place_id == place.id}
        spellings = sorted(counts)
        for start in range(0, len(spellings), _UPDATE_AT_ONCE):
            session.execute(
                sa.update(Record).where(text.in_(spellings[start:start + _UPDATE_AT_ONCE]), place_column.is_(None))
                .values({place_column: place.id}).execution_options(synchronize_session=False))
        spellings_updated = spellings_updated or bool(spellings)
        counts = {t: n for t, n in counts.items() if n}
        if counts:
            resolved[field] = {t: counts[t] for t in sorted(counts, key=lambda t: (-counts[t], t))}
    if spellings_updated:
        revision = session.get(Setting, PLACES_REVISION_SETTING)
        if revision is None:
            session.add(Setting(key=PLACES_REVISION_SETTING, value="1"))
        else:
            revision.value = str(int(revision.value) + 1)
        session.execute(sa.delete(Setting).where(Setting.key == SEARCH_INDEX_SETTING))
        session.flush()
    return resolved


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


def _unresolved(field: str) -> sa.Select:
    """The spellings of ``field`` that name no known place, one row each (every version of a record).

    Written so that the partial index on them (ix_records_unresolved_city, _prison) is the one a
    database takes: a condition on ``superseded_by`` here made SQLite read the index of current
    records instead, every record (0.23 s against 0.01 s at 215,172 records)."""
    text, place_column = getattr(Record, field), getattr(Record, f"{field}_place_id")
    return sa.select(text).where(text.is_not(None), place_column.is_(None)).group_by(text)


def _current_records():
    """How many of a group's records are current (not an earlier version of a corrected record)."""
    return sa.func.sum(sa.case((Record.superseded_by.is_(None), 1), else_=0))


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
    current = _current_records()
    unresolved = _unresolved(field).add_columns(current.label("records")).having(current > 0)
    totals = session.execute(sa.select(sa.func.count(), sa.func.coalesce(sa.func.sum(sa.literal_column("records")), 0))
                             .select_from(unresolved.subquery())).one()
    rows = session.execute(unresolved.order_by(current.desc(), text).limit(limit)).all()
    gazetteer, types = load_gazetteer(session), PLACE_FIELD_TYPES[field]
    return {"field": field, "spellings": totals[0], "records": int(totals[1]),
            "unknown": [{"spelling": spelling, "records": n,
                         "close": [{"place_id": m.place_id, "type": m.type, "name": m.name}
                                   for m in gazetteer.close_to(spelling, types)]} for spelling, n in rows]}


def list_places(session: Session, *, place_type: str | None = None) -> list[dict]:
    query = sa.select(Place).order_by(Place.type, Place.id)
    if place_type:
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
