"""The accountability network as a file for analysts' tools (GraphML or JSON), for an audience.

For the team and for investigators it is the whole network (:func:`dadkhah.accountability.graph.build_graph`:
every current claim, whatever its review status or source; sites located as that audience may see
them). For the public it is what may be published (:func:`public_graph`), as in the other public
exports (:mod:`dadkhah.publish.exports`): only accepted claims whose source and cited sources are
public, officials' and institutions' names as such claims give them, sites as their publication
policy allows (a hidden site is not in it at all), and as victims only the published persons (a
withheld person, or one only a restricted list names, is not a node; the edges to them are not
drawn).
"""

from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy.orm import Session

from dadkhah.accountability.graph import FORMATS, build_graph, write_graph
from dadkhah.accountability.queries import AUDIENCES
from dadkhah.audit import Actor, record_audit
from dadkhah.errors import InputError
from dadkhah.outfiles import checked_out, deliver, format_for
from dadkhah.publish.exports import narrowed, public_record, published_victims
from dadkhah.store import Store

GRAPH_FORMAT = "dadkhah-accountability-graph/1"


def _original(interval: dict | None) -> str | None:
    return (interval or {}).get("original")


def public_graph(session: Session) -> dict:
    """The network as it may be published, in :func:`~dadkhah.accountability.graph.build_graph`'s shape."""
    record = public_record(session)
    victims = published_victims(session, record, burials=True)
    nodes, edges = [], []
    for entity_id in sorted(record["entities"]):
        entity = record["entities"][entity_id]
        nodes.append({"id": entity_id, "kind": entity["kind"], "label": entity["name"] or entity["name_fa"] or entity_id,
                      "name": entity["name"], "name_fa": entity["name_fa"], "category": entity["category"]})
    for act_id in sorted(record["acts"]):
        nodes.append({"id": act_id, "kind": "act", "label": act_id, "category": record["acts"][act_id]["type"]})
    for site_id in sorted(record["sites"]):
        site = record["sites"][site_id]
        location = site["location"]
        place = location.get("place") or {}
        nodes.append({"id": site_id, "kind": "site", "label": site["name"] or site["name_fa"] or site_id,
                      "name": site["name"], "name_fa": site["name_fa"], "category": site["kind"],
                      "place": place.get("name") or location.get("place_text"), "latitude": location.get("lat"),
                      "longitude": location.get("lon"), "publication": location["publication"]})

    def edge(claim: dict, kind: str, source: str, target: str, **more) -> dict:
        found = {"claim": claim["claim"], "kind": kind, "review_status": "accepted", "source": source,
                 "target": target} | more
        if claim.get("likelihood"):
            found["likelihood"] = claim["likelihood"]
        return found

    for relation in record["relations"]:
        edges.append(edge(relation, "relation", relation["unit"], relation["parent"], value=relation["relation"],
                          **{"from": _original(relation["from"]), "to": _original(relation["to"])}))
    for post in record["posts"]:
        edges.append(edge(post, "post", post["official"], post["institution"], value=post["role"],
                          **{"from": _original(post["from"]), "to": _original(post["to"])}))
    for involvement in record["involvements"]:
        edges.append(edge(involvement, "involvement", involvement["actor"], involvement["act"],
                          value=involvement["degree"]))
    persons = set()
    for act_id in sorted(record["acts"]):
        for account in record["acts"][act_id]["accounts"]:
            for person in narrowed(account, victims)[0]:
                persons.add(person)
                edges.append(edge(account, "victim", act_id, person))
    for site_id in sorted(record["sites"]):
        for burial in record["sites"][site_id]["burials"]:
            for person in burial["persons"]:
                if person in victims:
                    persons.add(person)
                    edges.append(edge(burial, "burial", person, site_id))
    nodes += [{"id": person, "kind": "person", "label": person} for person in sorted(persons)]
    return {"format": GRAPH_FORMAT, "audience": "public", "nodes": nodes, "edges": edges}


def export_graph(store: Store, out: str | os.PathLike, *, actor: Actor, format: str | None = None,
                 audience: str = "team", overwrite: bool = False) -> dict:
    """Write the network for ``audience`` to ``out`` (a new file, or one replaced when ``overwrite``)
    as GraphML or JSON (``format``; by default the one the file's extension names, else GraphML),
    with the audit event "network exported" (the file's SHA-256, its audience, nodes and edges) in
    the same transaction: the file is written beside its place and moved in, and removed if it cannot
    be recorded."""
    if audience not in AUDIENCES:
        raise InputError(f"must be one of {', '.join(AUDIENCES)}, not {audience!r}", field="audience")
    format = format_for(out, format, extensions=FORMATS, default="graphml")
    target = checked_out(out, overwrite=overwrite, workspace=store.workspace)

    def write(session: Session, partial: Path) -> dict:
        graph = public_graph(session) if audience == "public" else build_graph(session, audience=audience)
        write_graph(partial, graph, format)
        return {"format": format, "audience": audience, "nodes": len(graph["nodes"]), "edges": len(graph["edges"])}

    def audit(session: Session, digest: str, counts: dict) -> None:
        record_audit(session, store, actor, action="network exported", object_kind="export", object_id=digest,
                     details=counts | {"file": target.name})

    return deliver(store, target, overwrite=overwrite, write=write, audit=audit)
