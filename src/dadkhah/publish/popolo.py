"""The accountability record as Popolo JSON (popoloproject.com): officials as ``persons``,
institutions as ``organizations``, the posts held in them as ``posts`` and ``memberships``, acts as
``events``; only what the publication policy allows (:mod:`dadkhah.publish.exports`).

Popolo gives each object its ``sources`` (links); ours are claims, each with its own citations and
review status, and most cite a book or a report by page rather than an address. So every object
carries the claims behind it in ``extra`` (the subdocument Popolo's own JSON patterns suggest for
properties outside the specification): ``extra.claims``, each with its claim id, review status,
likelihood and citations (source and locator); a citation whose locator is a web address is also
one of the object's Popolo ``sources``.

Dates: Popolo's are ``YYYY``, ``YYYY-MM`` or ``YYYY-MM-DD``. A date the sources give only in part
(a Jalali month, which spans two Gregorian months) is written as the finest of those that is still
true (the year), or left out when none is (a Jalali year spans two Gregorian years); ``extra``
keeps the date as written with the first and last day it can mean. Nothing is made more precise
than the sources are.
"""

from __future__ import annotations

import os
from datetime import UTC, date, datetime
from pathlib import Path
from urllib.parse import urlsplit

from sqlalchemy.orm import Session

from dadkhah import __version__
from dadkhah.audit import Actor, record_audit
from dadkhah.outfiles import write_json
from dadkhah.publish.exports import (
    AUDIENCE,
    actor_names,
    checked_out,
    deliver,
    grouped,
    narrowed,
    public_record,
    published_victims,
)
from dadkhah.store import Store

FORMAT = "dadkhah-popolo/1"
SCHEME = "dadkhah"  # the scheme of our registry ids among a Popolo object's identifiers
ALLEGATION = ("Each act is an allegation by the sources cited, not the finding of a court. Only claims a "
              "reviewer accepted, made and cited by public sources, are included.")


def popolo_date(interval: dict | None) -> str | None:
    """The finest Popolo date (day, month or year) that holds every day ``interval`` can mean."""
    if not interval or not interval.get("earliest") or not interval.get("latest"):
        return None
    first, last = date.fromisoformat(interval["earliest"]), date.fromisoformat(interval["latest"])
    if first == last:
        return first.isoformat()
    if (first.year, first.month) == (last.year, last.month):
        return f"{first.year:04d}-{first.month:02d}"
    if first.year == last.year:
        return f"{first.year:04d}"
    return None


def _links(claims: list[dict]) -> list[dict]:
    """The citations whose locator is a web address, as Popolo ``sources``."""
    links = {}
    for claim in claims:
        for citation in claim["citations"]:
            locator = (citation.get("locator") or "").strip()
            parts = urlsplit(locator)
            if parts.scheme in ("http", "https") and parts.netloc and not any(c.isspace() for c in locator):
                links.setdefault(locator, {"url": locator, "note": citation["source"]})
    return list(links.values())


def _names(entity: dict) -> list[dict]:
    names = []
    if entity.get("name_fa") and entity.get("name"):
        names.append({"name": entity["name_fa"], "note": "Persian script"})
    names += [{"name": alias, "note": "alias"} for alias in entity.get("aliases") or []]
    return names


def _dated(target: dict, interval: dict | None, field: str) -> None:
    shown = popolo_date(interval)
    if shown:
        target[field] = shown


def _claim_extra(claim: dict, *drop: str) -> dict:
    return {k: v for k, v in claim.items() if k not in drop}


def build_popolo(session: Session, *, generated_at: datetime | None = None) -> dict:
    """The Popolo document of what may be published."""
    record = public_record(session)
    victims = published_victims(session, record)
    entities = record["entities"]
    posts_of = grouped(record["posts"], "official")
    statuses_of = grouped(record["statuses"], "official")
    relations_of = grouped(record["relations"], "unit")
    involvements_of = grouped(record["involvements"], "act")

    persons, organizations = [], []
    for entity_id in sorted(entities):
        entity = entities[entity_id]
        shown = {"id": entity_id, "name": entity["name"] or entity["name_fa"],
                 "identifiers": [{"identifier": entity_id, "scheme": SCHEME}]}
        if _names(entity):
            shown["other_names"] = _names(entity)
        described = entity["claims"]
        extra = {"kind": entity["kind"], "described": entity["described"], "name": entity["name"],
                 "name_fa": entity["name_fa"], "claims": [_claim_extra(c) for c in described]}
        if entity["kind"] == "official":
            if entity.get("gender"):
                shown["gender"] = entity["gender"]
            _dated(shown, entity.get("birth_date"), "birth_date")
            if entity.get("birth_date"):
                extra["birth_date"] = entity["birth_date"]
            extra["status"] = [_claim_extra(s, "official") for s in statuses_of.get(entity_id, [])]
            described = described + statuses_of.get(entity_id, []) + posts_of.get(entity_id, [])
            shown["sources"] = _links(described)
            shown["extra"] = extra
            persons.append(shown)
        else:
            relations = relations_of.get(entity_id, [])
            if entity["category"]:
                shown["classification"] = entity["category"]
            parents = {r["parent"] for r in relations if r["relation"] == "child-of"}
            if len(parents) == 1:
                shown["parent_id"] = parents.pop()
            extra["relations"] = [_claim_extra(r, "unit") for r in relations]
            shown["sources"] = _links(described + relations)
            shown["extra"] = extra
            organizations.append(shown)

    posts, memberships, post_ids = [], [], {}
    for post in record["posts"]:
        key = (post["institution"], post["role"])
        if key not in post_ids:
            post_ids[key] = f"{post['institution']}/post-{len([k for k in post_ids if k[0] == key[0]]) + 1}"
            posts.append({"id": post_ids[key], "label": post["role"], "role": post["role"],
                          "organization_id": post["institution"]})
        membership = {"id": post["claim"], "person_id": post["official"], "organization_id": post["institution"],
                      "post_id": post_ids[key], "role": post["role"], "label": post["role"],
                      "sources": _links([post]),
                      "extra": {"claims": [_claim_extra(post, "official", "institution", "role")]}}
        _dated(membership, post["from"], "start_date")
        _dated(membership, post["to"], "end_date")
        memberships.append(membership)
    for relation in record["relations"]:
        if relation["relation"] != "member-of":
            continue
        membership = {"id": relation["claim"], "member": {"@type": "Organization", "id": relation["unit"]},
                      "organization_id": relation["parent"], "role": "member", "sources": _links([relation]),
                      "extra": {"claims": [_claim_extra(relation, "unit", "parent")]}}
        _dated(membership, relation["from"], "start_date")
        _dated(membership, relation["to"], "end_date")
        memberships.append(membership)

    events = []
    for act_id in sorted(record["acts"]):
        act = record["acts"][act_id]
        accounts = []
        for account in act["accounts"]:
            shown, unnamed = narrowed(account, victims)
            accounts.append({"claim": account["claim"], "review_status": "accepted", "type": account["type"],
                             "date": account["date"], "place": account["place"], "place_text": account["place_text"],
                             "victims": [{"id": p, **victims[p]} for p in shown], "unnamed_victims": unnamed,
                             "likelihood": account["likelihood"], "citations": account["sources"]})
        involvements = []
        for involvement in involvements_of.get(act_id, []):
            name, name_fa = actor_names(record, involvement["actor"])
            involvements.append(_claim_extra(involvement, "act") | {"actor_name": name, "actor_name_fa": name_fa})
        places = {(a["place"] or {}).get("name") or a["place_text"] for a in act["accounts"]} - {None}
        event = {"id": act_id, "name": act["type"].replace("-", " ") + (f", {sorted(places)[0]}" if places else ""),
                 "classification": act["type"], "identifiers": [{"identifier": act_id, "scheme": SCHEME}],
                 "sources": _links(accounts + involvements),
                 "extra": {"allegation": True, "claims": accounts, "involvements": involvements}}
        days = {popolo_date(a["date"]) for a in act["accounts"]}
        if len(days) == 1 and None not in days:
            event["start_date"] = days.pop()
        if len(places) == 1:
            event["location"] = places.pop()
        events.append(event)

    when = (generated_at or datetime.now(UTC)).replace(microsecond=0)
    return {"persons": persons, "organizations": organizations, "posts": posts, "memberships": memberships,
            "events": events,
            "extra": {"format": FORMAT, "generated_at": when.isoformat(), "software": f"dadkhah {__version__}",
                      "audience": AUDIENCE, "public_sources": record["public"], "note": ALLEGATION}}


def export_popolo(store: Store, out: str | os.PathLike, *, actor: Actor, overwrite: bool = False) -> dict:
    """Write the published accountability record as one Popolo JSON file.

    Example:
        >>> export_popolo(store, "popolo.json", actor=Actor("ana", "cli"))
        {'out': 'popolo.json', 'persons': 12, 'organizations': 5, 'posts': 7, 'memberships': 9, 'events': 40, …}
    """
    target = checked_out(out, overwrite=overwrite)

    def write(session: Session, partial: Path) -> dict:
        document = build_popolo(session)
        write_json(partial, document)
        return {key: len(document[key]) for key in ("persons", "organizations", "posts", "memberships", "events")}

    def audit(session: Session, digest: str, counts: dict) -> None:
        record_audit(session, store, actor, action="popolo exported", object_kind="export", object_id=digest,
                     details=counts | {"audience": AUDIENCE})

    return deliver(store, target, overwrite=overwrite, write=write, audit=audit)
