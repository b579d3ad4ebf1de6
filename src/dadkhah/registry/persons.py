"""Persons: stable ids across re-linking, what happened to them, and what their records say.

**Stable ids.** After each linkage run, every new cluster of records is matched to the persons of
the previous run by the records they share. Each old person keeps its id on the cluster holding
most of its records (its "home"). A cluster that is home to several old persons is a merge: it
keeps the oldest id and the others are marked merged into it. A cluster that is home to none gets
a new id; if it took records from an existing person, that person was split (the larger part keeps
the id). Re-running on unchanged data changes no id and writes no event.

**Attributes.** A person's given name, dates, city... are not stored: they are read from the
records, each value with the records that support it, and a conflict is reported wherever the
records disagree (different names, dates that cannot be the same, different places).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import sqlalchemy as sa
from sqlalchemy.orm import Bundle, Session

from dadkhah.audit import Actor, record_audit
from dadkhah.errors import DadkhahError, InputError, NotFound
from dadkhah.model import (
    Import,
    Person,
    PersonRecord,
    PersonWithholding,
    Place,
    Record,
    RegistryEvent,
    Source,
)
from dadkhah.model.base import utcnow
from dadkhah.outfiles import checked_out, deliver
from dadkhah.registry.records import raw_row
from dadkhah.spreadsheet import SafeWriter
from dadkhah.store import Store, insert_rows

RecordKey = tuple[int, str]  # (source_id, record_id): survives a corrected version of the record


def format_person_id(number: int) -> str:
    return f"P-{number:06d}"


def _number(person_id: str) -> int:
    return int(person_id.split("-", 1)[1])


@dataclass
class Assignment:
    persons: int = 0
    created: int = 0
    merged: int = 0
    split: int = 0
    unchanged: int = 0
    records_moved: int = 0
    events: list[dict] = field(default_factory=list)
    # Row ids of the persons whose records or status this assignment changed (new persons too).
    touched: set[int] = field(default_factory=set)

    def to_dict(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if k not in ("events", "touched")}


def assign_persons(session: Session, run_id: int, clusters: Mapping[RecordKey, int]) -> Assignment:
    """Give every cluster a person id, keeping the ids of the previous run wherever possible."""
    previous: dict[RecordKey, int] = {
        (source_id, record_id): person_pk
        for source_id, record_id, person_pk in session.execute(
            sa.select(PersonRecord.source_id, PersonRecord.record_id, PersonRecord.person_pk)
        )
    }
    persons = {pk: pid for pk, pid in session.execute(sa.select(Person.id, Person.person_id).where(Person.status == "active"))}
    result = Assignment(persons=len(set(clusters.values())))
    # A cluster whose records all belong to one active person, who has no record elsewhere, keeps
    # that person as it is: nothing to decide or write. Found at once for all such clusters (most
    # of them, when a run adds a list): a second run on 58,000 records spent half a second deciding
    # them one by one.
    settled = _settled(clusters, previous, persons)
    result.unchanged = len(settled)
    label_person: dict[int, int | str] = dict(settled)  # label -> existing person pk, or the id of a new person
    clusters = {key: label for key, label in clusters.items() if label not in settled}
    members: dict[int, list[RecordKey]] = defaultdict(list)
    for key, label in clusters.items():
        members[label].append(key)

    # Each old person's home: the cluster holding most of its records (ties: the cluster whose
    # smallest record comes first, so the choice never depends on iteration order).
    overlap: dict[int, Counter] = defaultdict(Counter)
    for key, label in clusters.items():
        old = previous.get(key)
        if old is not None and old in persons:
            overlap[old][label] += 1
    first_key = {label: min(keys) for label, keys in members.items()}
    home: dict[int, int] = {}
    for person_pk, counts in overlap.items():
        home[person_pk] = min(counts, key=lambda label: (-counts[label], first_key[label]))
    claimants: dict[int, list[int]] = defaultdict(list)
    for person_pk, label in home.items():
        claimants[label].append(person_pk)

    next_number = max((_number(pid) for pid in session.scalars(sa.select(Person.person_id))), default=0) + 1
    new_persons: list[dict] = []
    now = utcnow()
    for label in sorted(members, key=lambda lb: first_key[lb]):
        keys = members[label]
        owners = sorted(claimants.get(label, []), key=lambda pk: _number(persons[pk]))
        if owners:
            keeper = owners[0]
            keeper_id = persons[keeper]
            for loser in owners[1:]:
                session.execute(sa.update(Person).where(Person.id == loser).values(
                    status="merged", merged_into=keeper_id, updated_in_run=run_id))
                result.touched.add(loser)
                result.events.append({"run_id": run_id, "kind": "merged", "person_id": persons[loser],
                                      "other_person_id": keeper_id, "details": {"records": overlap[loser][label]}, "at": now})
                result.merged += 1
            label_person[label] = keeper
        else:
            keeper_id = format_person_id(next_number)
            next_number += 1
            new_persons.append({"person_id": keeper_id, "status": "active", "merged_into": None,
                                "created_in_run": run_id, "updated_in_run": run_id, "created_at": now})
            label_person[label] = keeper_id
        # Records that came from a person whose home is another cluster: that person was split.
        origins = sorted({previous[k] for k in keys if previous.get(k) in overlap and previous[k] not in owners},
                         key=lambda pk: _number(persons[pk]))
        for origin in origins:
            result.events.append({"run_id": run_id, "kind": "split", "person_id": persons[origin],
                                  "other_person_id": keeper_id,
                                  "details": {"records": overlap[origin][label], "new_person": not owners}, "at": now})
            result.split += 1
        if not owners and not origins:
            result.events.append({"run_id": run_id, "kind": "created", "person_id": keeper_id,
                                  "other_person_id": None, "details": {"records": len(keys)}, "at": now})
            result.created += 1
        if len(owners) == 1 and not origins and all(previous.get(k) == owners[0] for k in keys) and overlap[owners[0]].total() == len(keys):
            result.unchanged += 1

    # New persons in bulk, then their row ids.
    for start in range(0, len(new_persons), 5000):
        insert_rows(session, Person.__table__, new_persons[start:start + 5000])
    if new_persons:
        created = dict(session.execute(sa.select(Person.person_id, Person.id).where(Person.created_in_run == run_id)).all())
        for label, keeper in label_person.items():
            if isinstance(keeper, str):
                label_person[label] = created[keeper]
                persons[created[keeper]] = keeper

    # Write only what changed: a re-run on unchanged data writes nothing here.
    inserts, moves = [], defaultdict(list)
    for key, label in clusters.items():
        person_pk = label_person[label]
        old = previous.get(key)
        if old is None:
            inserts.append({"source_id": key[0], "record_id": key[1], "person_pk": person_pk, "run_id": run_id})
            result.touched.add(person_pk)
        elif old != person_pk:
            moves[person_pk].append(key)
            result.touched.update((old, person_pk))
    # One statement per record, each found by the primary key: SQLite scans the whole table for a
    # (source_id, record_id) IN (...) list (a run that moved 11,299 of 985,199 records spent 316 s so).
    moved = [{"key_source": key[0], "key_record": key[1], "to_person": person_pk}
             for person_pk, keys in moves.items() for key in keys]
    result.records_moved = len(moved)
    table = PersonRecord.__table__
    move = (sa.update(table).where(table.c.source_id == sa.bindparam("key_source"),
                                   table.c.record_id == sa.bindparam("key_record"))
            .values(person_pk=sa.bindparam("to_person"), run_id=run_id))
    for start in range(0, len(moved), 5000):
        session.execute(move, moved[start:start + 5000])
    for start in range(0, len(inserts), 5000):
        insert_rows(session, PersonRecord.__table__, inserts[start:start + 5000])
    for start in range(0, len(result.events), 5000):
        insert_rows(session, RegistryEvent.__table__, result.events[start:start + 5000])
    # A person none of whose records remain with it (all moved to others) is retired.
    emptied = set(persons) - set(label_person.values()) - {pk for pk, _ in _merged(result, persons)}
    for person_pk in sorted(emptied, key=lambda pk: _number(persons[pk])):
        session.execute(sa.update(Person).where(Person.id == person_pk).values(status="retired", updated_in_run=run_id))
        result.touched.add(person_pk)
        insert_rows(session, RegistryEvent.__table__, [{"run_id": run_id, "kind": "retired", "person_id": persons[person_pk],
                                                        "other_person_id": None, "details": None, "at": now}])
    return result


def _settled(clusters: Mapping[RecordKey, int], previous: Mapping[RecordKey, int], persons: Mapping[int, str]) -> dict[int, int]:
    """label -> person pk, for the clusters whose records all belong to that one active person, none
    of whose records lies in another cluster."""
    if not clusters:
        return {}
    labels = np.fromiter(clusters.values(), dtype=np.int64, count=len(clusters))
    owner = np.fromiter((previous.get(key, -1) for key in clusters), dtype=np.int64, count=len(clusters))
    active = np.fromiter(persons, dtype=np.int64, count=len(persons))
    owner[~np.isin(owner, active)] = -1  # new records, and those of persons no longer active
    # One owner for the whole cluster, and nobody's records without one...
    order = np.lexsort((owner, labels))
    labels, owner = labels[order], owner[order]
    starts = np.flatnonzero(np.r_[True, labels[1:] != labels[:-1]])
    lowest, highest = np.minimum.reduceat(owner, starts), np.maximum.reduceat(owner, starts)
    single = (lowest == highest) & (lowest >= 0)
    # ...who owns records in no other cluster.
    pairs = np.unique(np.column_stack([owner, labels])[owner >= 0], axis=0)
    owners, spread = np.unique(pairs[:, 0], return_counts=True)
    alone = np.isin(lowest, owners[spread == 1])
    keep = single & alone
    return dict(zip(labels[starts][keep].tolist(), lowest[keep].tolist(), strict=True))


def _merged(result: Assignment, persons: dict[int, str]) -> list[tuple[int, str]]:
    merged_ids = {e["person_id"] for e in result.events if e["kind"] == "merged"}
    return [(pk, pid) for pk, pid in persons.items() if pid in merged_ids]


# --- reading persons -----------------------------------------------------------------------

def get_person(session: Session, person_id: str) -> Person:
    person = session.scalar(sa.select(Person).where(Person.person_id == person_id.strip().upper()))
    if person is None:
        raise NotFound(f"no person with id {person_id!r}")
    return person


# What :func:`person_attributes` reads of a record: enough for a table of persons, read as plain
# columns (loading whole records, with their raw rows, was 40% of `persons export`).
_ATTRIBUTE_COLUMNS = tuple(getattr(Record, name) for name in (
    "record_id", "given_name_key", "given_name_norm", "family_name_key", "family_name_norm", "father_name_key",
    "father_name_norm", "gender_norm", "birth_date", "birth_earliest", "birth_latest", "death_date", "death_earliest",
    "death_latest", "city_place_id", "prison_place_id", "affiliation_norm"))


def _person_records(session: Session, person_pks: list[int], *,
                    whole: bool = True) -> dict[int, list[tuple[Record, str, list | None]]]:
    """Current records of each person, with the source name and the import's header; or, not
    ``whole``, only the columns :func:`person_attributes` reads (and no header)."""
    if whole:
        query = sa.select(PersonRecord.person_pk, Record, Source.name, Import.header)
    else:
        query = sa.select(PersonRecord.person_pk, Bundle("record", *_ATTRIBUTE_COLUMNS), Source.name, sa.null())
    query = (
        query.join(Source, Source.id == PersonRecord.source_id)
        .join(Record, sa.and_(Record.source_id == PersonRecord.source_id, Record.record_id == PersonRecord.record_id,
                              Record.superseded_by.is_(None)))
        .where(PersonRecord.person_pk.in_(person_pks))
        .order_by(Source.name, Record.record_id)
    )
    if whole:
        query = query.join(Import, Import.id == Record.import_id)
    grouped: dict[int, list] = defaultdict(list)
    for person_pk, record, source, header in session.execute(query):
        grouped[person_pk].append((record, source, header))
    return grouped


def _ref(record: Record, source: str) -> str:
    return f"{source}:{record.record_id}"


def _name_values(rows, field: str) -> dict:
    by_key: dict[str, dict] = {}
    for record, source in rows:
        key = getattr(record, f"{field}_key")
        if not key:
            continue
        entry = by_key.setdefault(key, {"key": key, "spellings": Counter(), "records": []})
        entry["spellings"][getattr(record, f"{field}_norm")] += 1
        entry["records"].append(_ref(record, source))
    values = [{"value": e["spellings"].most_common(1)[0][0], "spellings": sorted(e["spellings"]), "key": e["key"],
               "records": e["records"]} for e in by_key.values()]
    values.sort(key=lambda v: -len(v["records"]))
    return {"values": values, "conflict": len(values) > 1}


def _date_values(rows, prefix: str) -> dict:
    values: dict[tuple, dict] = {}
    for record, source in rows:
        earliest, latest = getattr(record, f"{prefix}_earliest"), getattr(record, f"{prefix}_latest")
        if earliest is None:
            continue
        key = (earliest, latest)
        entry = values.setdefault(key, {"earliest": earliest.isoformat(), "latest": latest.isoformat(),
                                        "original": getattr(record, f"{prefix}_date"), "records": []})
        entry["records"].append(_ref(record, source))
    ordered = sorted(values.values(), key=lambda v: -len(v["records"]))
    # Intervals that all share a day agree (a year and a day within it); otherwise they conflict.
    consistent = not ordered or max(v["earliest"] for v in ordered) <= min(v["latest"] for v in ordered)
    agreed = {"earliest": max(v["earliest"] for v in ordered), "latest": min(v["latest"] for v in ordered)} if ordered and consistent else None
    return {"values": ordered, "conflict": not consistent, "agreed": agreed}


def _simple_values(rows, field: str, label=None) -> dict:
    values: dict[str, dict] = {}
    for record, source in rows:
        value = getattr(record, field)
        if value is None:
            continue
        entry = values.setdefault(value, {"value": value, "records": []})
        if label:
            entry["name"] = label(value)
        entry["records"].append(_ref(record, source))
    ordered = sorted(values.values(), key=lambda v: -len(v["records"]))
    return {"values": ordered, "conflict": len(ordered) > 1}


def person_attributes(rows, place_names: Mapping[str, str]) -> dict:
    """Each attribute with every value the records give, the records behind it, and conflicts."""
    return {
        "given_name": _name_values(rows, "given_name"),
        "family_name": _name_values(rows, "family_name"),
        "father_name": _name_values(rows, "father_name"),
        "gender": _simple_values(rows, "gender_norm"),
        "birth_date": _date_values(rows, "birth"),
        "death_date": _date_values(rows, "death"),
        "city": _simple_values(rows, "city_place_id", label=lambda v: place_names.get(v, v)),
        "prison": _simple_values(rows, "prison_place_id", label=lambda v: place_names.get(v, v)),
        "affiliation": _simple_values(rows, "affiliation_norm"),
    }


def describe_person(session: Session, person_id: str) -> dict:
    """Everything about one person: records field by field, attributes with conflicts, events."""
    person = get_person(session, person_id)
    if person.status == "merged":
        return {"person_id": person.person_id, "status": "merged", "merged_into": person.merged_into,
                "events": _events(session, person.person_id)}
    place_names = dict(session.execute(sa.select(Place.id, Place.name_en)).all())
    rows = _person_records(session, [person.id]).get(person.id, [])
    records = []
    for record, source, header in rows:
        records.append({
            "source": source, "record_id": record.record_id, "line": record.line, "version": record.version,
            "given_name": record.given_name_norm, "family_name": record.family_name_norm,
            "full_name": record.full_name, "father_name": record.father_name_norm,
            "birth_date": record.birth_date, "death_date": record.death_date,
            "city": record.city, "prison": record.prison, "raw": raw_row(header, record.raw),
        })
    attributes = person_attributes([(r, s) for r, s, _ in rows], place_names)
    return {
        "person_id": person.person_id,
        "status": person.status,
        "records": records,
        "sources": sorted({r["source"] for r in records}),
        "attributes": attributes,
        "conflicts": sorted(name for name, attr in attributes.items() if attr["conflict"]),
        "events": _events(session, person.person_id),
        "withheld": withholding(session, person.person_id),
    }


def _events(session: Session, person_id: str) -> list[dict]:
    rows = session.execute(
        sa.select(RegistryEvent).where(sa.or_(RegistryEvent.person_id == person_id, RegistryEvent.other_person_id == person_id))
        .order_by(RegistryEvent.id)
    ).scalars()
    return [{"kind": e.kind, "person_id": e.person_id, "other_person_id": e.other_person_id, "run_id": e.run_id,
             "details": e.details, "at": e.at.isoformat()} for e in rows]


def list_persons(session: Session, *, limit: int | None = None, offset: int = 0) -> list[dict]:
    counts = (
        sa.select(PersonRecord.person_pk, sa.func.count().label("n"), sa.func.count(sa.distinct(PersonRecord.source_id)).label("s"))
        .group_by(PersonRecord.person_pk).subquery()
    )
    query = (sa.select(Person.person_id, counts.c.n, counts.c.s).join(counts, counts.c.person_pk == Person.id)
             .where(Person.status == "active").order_by(Person.person_id).offset(offset))
    if limit is not None:
        query = query.limit(limit)
    return [{"person_id": pid, "records": n, "sources": s} for pid, n, s in session.execute(query)]


def _best(values: list[dict], field: str = "value"):
    return values[0][field] if values else None


def export_persons(session: Session, out: str | Path, *, batch: int = 2000) -> dict:
    """One row per record: person_id, source, record_id, then the person's best attributes.

    "Best" is the value most of the person's records give; dates are the interval all records
    agree on, left empty when they conflict (``persons show`` explains each conflict).
    """
    out = Path(out)
    if out.exists() and out.is_dir():
        raise DadkhahError(f"{out} is a folder; give a file name")
    place_names = dict(session.execute(sa.select(Place.id, Place.name_en)).all())
    person_pks = [pk for (pk,) in session.execute(sa.select(Person.id).where(Person.status == "active").order_by(Person.person_id))]
    ids = dict(session.execute(sa.select(Person.id, Person.person_id)).all())
    columns = ["person_id", "source", "record_id", "given_name", "family_name", "father_name", "gender",
               "birth_earliest", "birth_latest", "death_earliest", "death_latest", "city_id", "city", "prison_id",
               "prison", "records", "sources", "conflicts"]
    rows_written = 0
    with open(out, "w", encoding="utf-8", newline="") as handle:
        writer = SafeWriter(handle)
        writer.writerow(columns)
        for start in range(0, len(person_pks), batch):
            chunk = person_pks[start:start + batch]
            grouped = _person_records(session, chunk, whole=False)
            for person_pk in chunk:
                rows = grouped.get(person_pk, [])
                attributes = person_attributes([(r, s) for r, s, _ in rows], place_names)
                birth = attributes["birth_date"]["agreed"] or {}
                death = attributes["death_date"]["agreed"] or {}
                city = attributes["city"]["values"]
                prison = attributes["prison"]["values"]
                best = [
                    _best(attributes["given_name"]["values"]), _best(attributes["family_name"]["values"]),
                    _best(attributes["father_name"]["values"]), _best(attributes["gender"]["values"]),
                    birth.get("earliest"), birth.get("latest"), death.get("earliest"), death.get("latest"),
                    _best(city), _best(city, "name"), _best(prison), _best(prison, "name"), len(rows),
                    len({s for _, s, _ in rows}), " ".join(n for n, a in attributes.items() if a["conflict"]),
                ]
                for record, source, _ in rows:
                    writer.writerow([ids[person_pk], source, record.record_id, *best])
                    rows_written += 1
            session.expunge_all()
    return {"file": str(out), "rows": rows_written, "persons": len(person_pks)}


def export_registry(store: Store, out: str | Path, *, actor: Actor, overwrite: bool = False) -> dict:
    """:func:`export_persons` as the action ``persons export``: the whole registry (every current
    person, restricted sources included: for the team, not the public) written beside ``out`` and
    moved into place (an existing file is replaced only when ``overwrite``, and one of the
    workspace's own never), with its audit event "registry exported" naming the file's SHA-256, rows
    and persons, in one transaction: a file that could not be recorded is removed. (What may be
    published: ``export persons``.)"""
    target = checked_out(out, overwrite=overwrite, workspace=store.workspace)

    def audit(session: Session, digest: str, counts: dict) -> None:
        record_audit(session, store, actor, action="registry exported", object_kind="export", object_id=digest,
                     details={"rows": counts["rows"], "persons": counts["persons"], "file": target.name})

    written = deliver(store, target, overwrite=overwrite, write=lambda session, partial: {
        k: v for k, v in export_persons(session, partial).items() if k != "file"}, audit=audit)
    return written | {"file": written["out"]}


def iter_memberships(session: Session) -> Iterator[tuple[str, str, str]]:
    """(source, record_id, person_id) for every linked record."""
    query = (sa.select(Source.name, PersonRecord.record_id, Person.person_id)
             .join(Source, Source.id == PersonRecord.source_id).join(Person, Person.id == PersonRecord.person_pk))
    yield from session.execute(query)


def surviving_person_id(session: Session, person_id: str) -> str:
    """The active person a (possibly merged) person id now stands for."""
    person = get_person(session, person_id)
    seen = {person.person_id}
    while person.status == "merged" and person.merged_into and person.merged_into not in seen:
        person = get_person(session, person.merged_into)
        seen.add(person.person_id)
    return person.person_id


def _active_withholding(session: Session, person_id: str) -> PersonWithholding | None:
    return session.scalar(sa.select(PersonWithholding).where(PersonWithholding.person_id == person_id,
                                                             PersonWithholding.released_at.is_(None)))


def withhold_person(store: Store, person_id: str, *, actor: Actor, reason: str) -> dict:
    """Keep a person out of everything published (the memorial, printed reports, public exports),
    for instance at the family's request. The reason stays with the team: it is never published.
    A person merged later into another carries the withholding with them."""
    reason = (reason or "").strip()
    if not reason:
        raise InputError("say why (for the team; it is never published)", field="reason")
    with store.session() as session:
        person = get_person(session, person_id)
        if _active_withholding(session, person.person_id) is not None:
            raise InputError(f"{person.person_id} is already withheld", field="person_id")
        session.add(PersonWithholding(person_id=person.person_id, reason=reason, withheld_by=actor.name))
        record_audit(session, store, actor, action="person withheld", object_kind="person",
                     object_id=person.person_id, details={"reason": reason})
        return {"person_id": person.person_id, "withheld": True}


def release_person(store: Store, person_id: str, *, actor: Actor, reason: str | None = None) -> dict:
    """Let a withheld person be published again."""
    reason = (reason or "").strip() or None
    with store.session() as session:
        person = get_person(session, person_id)
        held = _active_withholding(session, person.person_id)
        if held is None:
            inherited = _withholdings(session).get(person.person_id)
            if inherited is not None:
                raise InputError(f"{person.person_id} is withheld as {inherited.person_id}, whose records it holds since "
                                 f"a merge or a split: release {inherited.person_id} (every person its records went "
                                 "to is released with it), then withhold again any that should stay withheld",
                                 field="person_id")
            raise InputError(f"{person.person_id} is not withheld", field="person_id")
        held.released_by, held.released_at, held.release_reason = actor.name, utcnow(), reason
        record_audit(session, store, actor, action="person released", object_kind="person",
                     object_id=person.person_id, details={"reason": reason})
        return {"person_id": person.person_id, "withheld": False}


def _withholdings(session: Session) -> dict[str, PersonWithholding]:
    """Each withheld person's id, with its withholding, and every id the person's records have gone
    to since it was withheld: the person they were merged into, and each person a linkage run split
    some of their records off to (new or existing). Nobody can tell which half of a split person the
    family asked about, so both stay withheld until someone releases one."""
    rows = session.scalars(sa.select(PersonWithholding).where(PersonWithholding.released_at.is_(None))
                           .order_by(PersonWithholding.id)).all()
    if not rows:
        return {}
    merged = dict(session.execute(sa.select(Person.person_id, Person.merged_into)
                                  .where(Person.status == "merged", Person.merged_into.is_not(None))).all())
    found: dict[str, PersonWithholding] = {}
    frontier = [(row.person_id, row) for row in rows]
    seen: set[tuple[str, int]] = set()
    while frontier:
        frontier = [(p, row) for p, row in frontier if (p, row.id) not in seen]
        seen.update((p, row.id) for p, row in frontier)
        for person_id, row in frontier:
            found.setdefault(person_id, row)
        following = [(merged[p], row) for p, row in frontier if p in merged]
        splits: dict[str, list[tuple]] = defaultdict(list)
        origins = sorted({p for p, _ in frontier})
        for chunk in (origins[start:start + 5000] for start in range(0, len(origins), 5000)):
            for origin, other, at in session.execute(
                    sa.select(RegistryEvent.person_id, RegistryEvent.other_person_id, RegistryEvent.at)
                    .where(RegistryEvent.kind == "split", RegistryEvent.person_id.in_(chunk),
                           RegistryEvent.other_person_id.is_not(None))):
                splits[origin].append((other, at))
        following += [(other, row) for p, row in frontier for other, at in splits.get(p, ())
                      if at >= row.withheld_at]
        frontier = following
    return found


def withheld_persons(session: Session) -> set[str]:
    """Every person id that may not be published: those withheld, and the persons their records have
    since gone to, by a merge or a split (a withholding follows the person's records, whatever id
    they now bear)."""
    return set(_withholdings(session))


def withholding(session: Session, person_id: str) -> dict | None:
    """Why a person is withheld, for the team's own pages (never published), or None."""
    row = _withholdings(session).get(person_id)
    return None if row is None else {"reason": row.reason, "by": row.withheld_by, "at": row.withheld_at.isoformat(),
                                     "as": row.person_id}
