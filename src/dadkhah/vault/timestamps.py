"""What Dadkhah asks time-stamping authorities to timestamp, and how anyone can recompute it.

**The chains.** ``dadkhah timestamp`` timestamps the newest event (the *head*) of the chain of
custody and of the audit log at once. The bytes sent (as their SHA-256) are the canonical JSON
(keys sorted, no spaces, UTF-8) of::

    {"audit": {"event_sha256": "<hex>", "seq": 97},
     "custody": {"event_sha256": "<hex>", "seq": 41},
     "format": "dadkhah-chain-heads/1"}

where each head is that chain's newest event, its number and its ``event_sha256`` (an empty chain
is ``{"event_sha256": null, "seq": 0}``). Every event's hash covers the one before it, so a token
over the heads dates every event up to them. The statement, its SHA-256 and each token (with the
certificates it carries) are kept in the details of the custody event that records the act
(``TS-0001``, action ``timestamped``); those details are hashed and signed into the chain, so the
stored tokens are tamper-evident like everything else in it.

**Case files.** ``export casefile --tsa`` timestamps the exact bytes of the case file's
``signature.json`` (``sha256sum signature.json`` gives the imprint). The signature covers the tag
manifest, which covers every file; so the token dates the whole case file and, beyond that, the
moment it was signed, which still counts if the signing key is later stolen. The tokens travel in
``signature-timestamps.json`` beside ``signature.json``: they cannot be inside the manifests that
signature signs, since they were made after it; they need no signature of their own, because each
token is signed by its authority and bound by its imprint to ``signature.json``.
"""

from __future__ import annotations

import base64
import hashlib
import json

import sqlalchemy as sa
from cryptography import x509
from sqlalchemy.orm import Session

from dadkhah.chain import canonical_json
from dadkhah.errors import InputError
from dadkhah.model import AuditEvent, CustodyEvent
from dadkhah.vault.tsa import AuthorityError, check_token, check_url, request_timestamp

HEADS_FORMAT = "dadkhah-chain-heads/1"
SIGNATURE_TIMESTAMPS_FORMAT = "dadkhah-signature-timestamps/1"


def chain_heads(session: Session) -> dict:
    """The newest event of the chain of custody and of the audit log (``{"seq", "event_sha256"}`` each)."""
    heads = {}
    for name, table in (("custody", CustodyEvent), ("audit", AuditEvent)):
        last = session.execute(sa.select(table.seq, table.event_sha256).order_by(table.seq.desc()).limit(1)).first()
        heads[name] = {"seq": last[0], "event_sha256": last[1]} if last else {"seq": 0, "event_sha256": None}
    return heads


def heads_statement(heads: dict) -> bytes:
    """The bytes a chain timestamp is over: the canonical JSON naming both heads."""
    return canonical_json({"format": HEADS_FORMAT, "custody": heads["custody"], "audit": heads["audit"]}).encode("utf-8")


def checked_authorities(authorities) -> list[str]:
    """The authorities' addresses, once each, in the order given; at least one."""
    urls = []
    for url in authorities or ():
        try:
            url = check_url(url)
        except AuthorityError as exc:
            raise InputError(str(exc), field="authorities") from None
        if url not in urls:
            urls.append(url)
    if not urls:
        raise InputError("names no time-stamping authority: give at least one address", field="authorities")
    return urls


def obtain_timestamps(authorities: list[str], data: bytes) -> list[dict]:
    """A checked token over ``data`` from every authority, or an error naming the one that failed
    (then nothing is kept: ask again without it)."""
    entries = []
    for url in authorities:
        try:
            entries.append(request_timestamp(url, data))
        except AuthorityError as exc:
            others = f" ({len(entries)} other token(s) obtained are not kept either)" if entries else ""
            raise InputError(f"{exc}. Nothing was recorded{others}; try again later, or without that authority",
                             field="authorities") from None
    return entries


def check_entries(entries, digest: bytes, roots: list[x509.Certificate] | None) -> list[dict]:
    """Each stored token checked against ``digest``: who, when, whether the root was checked, problems."""
    results = []
    for number, entry in enumerate(entries if isinstance(entries, list) else [], start=1):
        try:
            token = base64.b64decode(entry["token"], validate=True)
            checked = check_token(token, digest, roots=roots)
        except (KeyError, TypeError, ValueError) as exc:
            checked = {"time": None, "tsa": None, "name": None, "root_checked": False,
                       "problems": [f"the token is unreadable ({type(exc).__name__})"]}
        named = entry.get("authority") if isinstance(entry, dict) else None
        results.append({"number": number, "authority": named, "name": checked["name"], "tsa": checked["tsa"],
                        "time": checked["time"], "root_checked": checked["root_checked"],
                        "valid": not checked["problems"], "problems": checked["problems"]})
    if not results:
        results.append({"number": 1, "authority": None, "name": None, "tsa": None, "time": None,
                        "root_checked": False, "valid": False, "problems": ["no token is recorded"]})
    return results


def check_timestamp_events(session: Session, roots: list[x509.Certificate] | None = None) -> tuple[list[dict], list[dict]]:
    """Every timestamp recorded in the chain of custody, checked: for the chains' heads, that the
    statement recomputes from the events it names as they are now held; for case files, against the
    digest of ``signature.json`` recorded with them; and every token's imprint and signature (and
    chain to ``roots`` when given). Returns (one entry per token, problems as the chain reports them)."""
    timestamps, problems = [], []
    rows = session.scalars(sa.select(CustodyEvent).where(CustodyEvent.action == "timestamped").order_by(CustodyEvent.seq))
    for row in rows:
        where = {"position": None, "seq": row.seq, "id": row.id, "item_id": row.item_id, "action": row.action}
        try:
            details = json.loads(row.details)
            if not isinstance(details, dict):
                raise TypeError
        except (TypeError, ValueError):
            problems.append(where | {"problem": "its details are unreadable"})
            continue
        if row.item_kind == "timestamp":
            covers, digest, found = _heads_digest(session, row, details)
        else:
            covers, digest, found = _file_digest(row, details)
        problems.extend(where | {"problem": problem} for problem in found)
        if digest is None:
            continue
        for result in check_entries(details.get("timestamps"), digest, roots):
            timestamps.append({"seq": row.seq, "item_id": row.item_id, "covers": covers} | result)
            problems.extend(where | {"problem": f"timestamp {result['number']} (by {result['name'] or result['authority']}): "
                                                f"{problem}"} for problem in result["problems"])
    return timestamps, problems


def _heads_digest(session: Session, row: CustodyEvent, details: dict) -> tuple[str, bytes | None, list[str]]:
    statement = details.get("statement")
    if not isinstance(statement, dict) or statement.get("format") != HEADS_FORMAT:
        return "the chains' heads", None, [f"it does not record a {HEADS_FORMAT} statement"]
    problems = []
    for name, table in (("custody", CustodyEvent), ("audit", AuditEvent)):
        head = statement.get(name)
        if not isinstance(head, dict) or not isinstance(head.get("seq"), int):
            return "the chains' heads", None, [f"its statement names no {name} head"]
        if name == "custody" and head["seq"] >= row.seq:
            problems.append("its statement names a custody event that is not before it")
        if head["seq"] == 0:
            continue
        held = session.scalar(sa.select(table.event_sha256).where(table.seq == head["seq"]))
        if held is None:
            problems.append(f"the {name} event {head['seq']} it timestamps is missing")
        elif held != head.get("event_sha256"):
            problems.append(f"the {name} event {head['seq']} it timestamps is not the one now held: it was replaced")
    digest = hashlib.sha256(heads_statement(statement)).digest()
    if details.get("sha256") != digest.hex():
        problems.append("the SHA-256 it records is not that of its statement")
    covers = (f"custody events 1–{statement['custody']['seq']} and audit events 1–{statement['audit']['seq']}"
              if not problems else "the chains' heads")
    return covers, digest, problems


def _file_digest(row: CustodyEvent, details: dict) -> tuple[str, bytes | None, list[str]]:
    covers = details.get("covers")
    try:
        digest = bytes.fromhex(covers["sha256"])
        if len(digest) != 32:
            raise ValueError
    except (TypeError, KeyError, ValueError):
        return "a file", None, ["it does not record the SHA-256 of what it timestamps"]
    return f"{row.item_id} {covers.get('file')}", digest, []
