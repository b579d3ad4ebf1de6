"""The accountability network for analysts' tools (Gephi, Cytoscape, networkx): GraphML or JSON.

Nodes are institutions, officials, acts, sites and the victims (as persons, by id only, or as the
record ``SOURCE:RECORD_ID`` while no linkage run has placed it in a person); edges are
the current claims: ``relation`` (unit → parent), ``post`` (official → institution), ``involvement``
(official or institution → act), ``victim`` (act → person) and ``burial`` (person → site), each with
its claim id, review status, likelihood and dates. A site carries only what of its location the
chosen audience may see. This is the team's network, every current claim whatever its review
status or source; what of it may be published (the audience ``public``) is
:func:`dadkhah.publish.network.public_graph`, and the export, either way,
:func:`dadkhah.publish.network.export_graph`.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.orm import Session

from dadkhah.accountability.claims import chunks, claim_public_id
from dadkhah.accountability.queries import site_summary, victims_of
from dadkhah.model import Claim, Entity
from dadkhah.outfiles import write_json

FORMATS = {".graphml": "graphml", ".xml": "graphml", ".json": "json"}  # by the file's extension
_EDGE_KINDS = {"relation": "relation", "post": "post", "involvement": "involvement"}


def build_graph(session: Session, *, audience: str = "team") -> dict:
    """The network as ``{"nodes": [...], "edges": [...]}``."""
    nodes, edges = [], []
    entities = {}
    for entity in session.scalars(sa.select(Entity).order_by(Entity.id)):
        entities[entity.id] = entity.entity_id
        node = {"id": entity.entity_id, "kind": entity.kind, "label": entity.name or entity.name_fa or entity.entity_id,
                "name": entity.name, "name_fa": entity.name_fa, "category": entity.category,
                "external_id": entity.external_id}
        if entity.kind == "site":
            location = site_summary(session, entity, audience)["location"]
            node.update({k: v for k, v in location.items() if k in ("place", "latitude", "longitude", "publication")})
        nodes.append(node)
    C = Claim.__table__
    rows = session.execute(sa.select(C.c.id, C.c.kind, C.c.subject_pk, C.c.object_pk, C.c.value, C.c.likelihood,
                                     C.c.review_status, C.c.from_text, C.c.to_text)
                           .where(C.c.superseded_by.is_(None),
                                  C.c.kind.in_(("relation", "post", "involvement", "act", "burial")))
                           .order_by(C.c.id)).all()
    persons = set()
    victim_claims = [r for r in rows if r.kind in ("act", "burial")]
    victims = {}
    for chunk in chunks([r.id for r in victim_claims], 5000):
        victims.update(victims_of(session, chunk))
    for row in rows:
        edge = {"claim": claim_public_id(row.id), "kind": row.kind, "review_status": row.review_status}
        if row.likelihood:
            edge["likelihood"] = row.likelihood
        if row.kind in _EDGE_KINDS:
            source, target = entities[row.subject_pk], entities[row.object_pk]
            if row.kind == "involvement":
                source, target = target, source  # the actor → the act
            edges.append(edge | {"source": source, "target": target, "value": row.value, "from": row.from_text,
                                 "to": row.to_text})
            continue
        for victim in victims.get(row.id, []):
            # a victim is the person now holding the record, or the record itself before linkage places it
            person = victim.get("person") or victim.get("record")
            if not person:
                continue
            persons.add(person)
            if row.kind == "act":
                edges.append(edge | {"kind": "victim", "source": entities[row.subject_pk], "target": person})
            else:
                edges.append(edge | {"source": person, "target": entities[row.subject_pk]})
    nodes += [{"id": person, "kind": "person" if person.startswith("P-") and ":" not in person else "record",
               "label": person} for person in sorted(persons)]
    return {"format": "dadkhah-accountability-graph/1", "audience": audience, "nodes": nodes, "edges": edges}


def _graphml(graph: dict) -> ET.ElementTree:
    root = ET.Element("graphml", xmlns="http://graphml.graphdrawing.org/xmlns")
    node_keys = sorted({k for n in graph["nodes"] for k in n} - {"id"})
    edge_keys = sorted({k for e in graph["edges"] for k in e} - {"source", "target"})
    types = {"latitude": "double", "longitude": "double"}
    for scope, keys in (("node", node_keys), ("edge", edge_keys)):
        for key in keys:
            ET.SubElement(root, "key", {"id": f"{scope[0]}_{key}", "for": scope, "attr.name": key,
                                        "attr.type": types.get(key, "string")})
    body = ET.SubElement(root, "graph", id="accountability", edgedefault="directed")
    for node in graph["nodes"]:
        element = ET.SubElement(body, "node", id=node["id"])
        for key in node_keys:
            if node.get(key) is not None:
                ET.SubElement(element, "data", key=f"n_{key}").text = str(node[key])
    for number, edge in enumerate(graph["edges"], start=1):
        element = ET.SubElement(body, "edge", id=f"e{number}", source=edge["source"], target=edge["target"])
        for key in edge_keys:
            if edge.get(key) is not None:
                ET.SubElement(element, "data", key=f"e_{key}").text = str(edge[key])
    return ET.ElementTree(root)


def write_graph(path: Path, graph: dict, format: str) -> None:
    """Write ``graph`` (:func:`build_graph`'s shape) to ``path`` as ``graphml`` or ``json``."""
    if format == "json":
        write_json(path, graph, end="")
        return
    tree = _graphml(graph)
    ET.indent(tree)
    with open(path, "wb") as stream:
        tree.write(stream, encoding="utf-8", xml_declaration=True)
