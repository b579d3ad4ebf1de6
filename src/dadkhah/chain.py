"""Hash chains: the append-only logs that the chain of custody and the audit log both are.

An event's fields are hashed in one canonical form (sorted, compact JSON in UTF-8). Each event
holds the hash of the one before it, and the first one a value unique to the workspace (its
*genesis*), so editing an event breaks its hash and removing or inserting one breaks the chain.
Events are signed with the instance's Ed25519 key when it is at hand, so forging a replacement
needs that key, which is kept outside the workspace. Removing the *newest* events leaves a shorter
chain that is still whole: to catch that, the newest event's number and hash (the *head*) are kept
beside the key file, outside the workspace, and the head only ever moves forward along the chain:
once the database no longer holds the event the head names, the head stays where it is and every
later verification reports it.

Two chains are kept this way: the chain of custody (:mod:`dadkhah.vault.custody`, where every event
must be signed) and the audit log (:mod:`dadkhah.audit`, signed whenever the command that wrote
it had the keys; verification names the unsigned stretches plainly).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

import sqlalchemy as sa
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy.orm import Session

from dadkhah.errors import DadkhahError, KeysOutdated


class ChainKeys(Protocol):
    """What signs a chain and where its head is kept (the workspace's keys: :class:`dadkhah.vault.keys.VaultKeys`)."""

    @property
    def signing_key(self) -> Ed25519PrivateKey | None: ...

    @property
    def public_key(self) -> bytes: ...

    def head_path(self, chain: str) -> Path | None: ...


def canonical_json(value) -> str:
    """The one JSON form that is hashed: keys sorted, no spaces, characters as they are."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def now_iso() -> str:
    """The moment an event happens, as it is hashed and kept (ISO 8601, UTC, microseconds)."""
    return datetime.now(UTC).isoformat(timespec="microseconds")


# Signatures this process has already found valid, as digests of (key, event hash, signature). An
# event whose content still matches its hash (checked every time) and whose signature was verified
# for that hash with that key needs no second Ed25519 check, which is two thirds of a verification
# (about 110 µs an event on two cores: 3.4 s for 20,000 events, at every load of the audit page). An
# edited or forged event has another hash or another signature, so it is checked afresh. Kept in
# this process's memory only: nothing written to the database can add to it.
_VERIFIED: set[bytes] = set()
_VERIFIED_MAX = 500_000  # digests of 16 bytes: some 50 MB at most; emptied when full


def _verified_digest(key_raw: bytes, event_sha256: str, signature: str) -> bytes:
    return hashlib.blake2b(b"%b|%b|%b" % (key_raw, event_sha256.encode(), signature.encode()), digest_size=16).digest()


def _this_transactions(session: Session, slot: str):
    """What :func:`_for_this_transaction` kept in ``slot`` during the session's current transaction
    (None in another transaction, or none yet). Its flushes, which SQLAlchemy runs as transactions of
    their own inside it, do not end it."""
    kept = session.info.get(slot)
    current = session.get_transaction()
    return kept[1] if kept is not None and current is not None and kept[0] is current else None


def _for_this_transaction(session: Session, slot: str, value) -> None:
    session.info[slot] = (session.get_transaction(), value)


# What :meth:`HashChain.verify` compares the chain with unless told otherwise: the head as it is
# read beside the key file when the check ends.
HEAD_BESIDE_KEY_FILE = object()


@dataclass(frozen=True)
class HashChain:
    """One chain: its table, the fields its hash covers, and whether every event must be signed.

    ``later_fields`` were added after events had been written: an event's hash covers them only
    when they are set, so events written before they existed verify as they always did.
    ``where`` names the columns that identify an event in a verification report.
    """

    name: str
    table: type
    fields: tuple[str, ...]
    later_fields: tuple[str, ...] = ()
    signatures_required: bool = False
    lock_key: int = 0
    where: tuple[str, ...] = ("action",)
    # The events that hand signing over to a new key: (column, value, action), e.g. ("item_id",
    # "signing-key", "signing key rotated"). Each is signed by the key in force and carries in its
    # details the new key's signature over :func:`key_change_statement` (see :func:`key_change_details`).
    key_change: tuple[str, str, str] | None = None

    def genesis(self, workspace_id: str) -> str:
        """What the first event points back to: unique to the chain and the workspace."""
        return hashlib.sha256(f"dadkhah-{self.name}-genesis:{workspace_id}".encode()).hexdigest()

    def canonical(self, event: Mapping) -> bytes:
        """The exact bytes that are hashed and signed."""
        body = {k: event[k] for k in self.fields}
        body |= {k: event[k] for k in self.later_fields if event.get(k) is not None}
        return canonical_json(body).encode("utf-8")

    def check(self, event: Mapping, public_key: Ed25519PublicKey | None, *, key_raw: bytes | None = None) -> list[str]:
        """What is wrong with one event on its own: its hash, and its signature when there is one.

        ``key_raw``: ``public_key``'s raw bytes, when the caller has them at hand (a signature this
        process verified before for the same key and event hash is not verified again)."""
        problems = []
        body = self.canonical(event)
        hash_fits = hashlib.sha256(body).hexdigest() == event.get("event_sha256")
        if not hash_fits:
            problems.append("its content does not match its hash: the event was edited")
        signature = event.get("signature")
        if signature is None:
            if self.signatures_required:
                problems.append("it is not signed: the event was forged or edited")
        elif public_key is not None:
            remembered = None
            if hash_fits and isinstance(signature, str):
                remembered = _verified_digest(key_raw or public_key_raw(public_key), event["event_sha256"], signature)
                if remembered in _VERIFIED:
                    return problems
            try:
                public_key.verify(base64.b64decode(signature), body)
            except (InvalidSignature, ValueError, TypeError):
                problems.append("its signature is not this instance's: the event was forged or edited")
            else:
                if remembered is not None:
                    if len(_VERIFIED) >= _VERIFIED_MAX:
                        _VERIFIED.clear()
                    _VERIFIED.add(remembered)
        return problems

    # ----- writing ---------------------------------------------------------------------------

    def append(self, session: Session, workspace_id: str, keys: ChainKeys | None, **values):
        """Append one event in the caller's transaction (it commits or rolls back with the action).

        ``values`` are the event's own fields; ``details`` may be a dict (it is stored in canonical
        form). The sequence number, time and link to the event before are filled in here.
        """
        signing_key = keys.signing_key if keys is not None else None
        if self.signatures_required and signing_key is None:
            raise DadkhahError(f"recording in the {self.name} chain needs the unlocked keys")
        self.lock(session)
        if signing_key is not None:
            self._check_key_in_force(session, keys)
        last = session.execute(sa.select(self.table.seq, self.table.event_sha256)
                               .order_by(self.table.seq.desc()).limit(1)).first()
        seq, prev = (last[0] + 1, last[1]) if last else (1, self.genesis(workspace_id))
        event = dict(values) | {"seq": seq, "prev_sha256": prev}
        event.setdefault("occurred_at", now_iso())
        if isinstance(event.get("details"), (dict, type(None))) and "details" in self.fields:
            event["details"] = canonical_json(event.get("details") or {})
        body = self.canonical(event)
        signature = base64.b64encode(signing_key.sign(body)).decode("ascii") if signing_key is not None else None
        row = self.table(**event, event_sha256=hashlib.sha256(body).hexdigest(), signature=signature)
        session.add(row)
        session.flush()
        self._remember(session, keys, last[0] if last else 0, {"seq": seq, "event_sha256": row.event_sha256})
        return row

    def _check_key_in_force(self, session: Session, keys: ChainKeys) -> None:
        """Refuse to sign with a key the chain has handed over from (:class:`KeysOutdated`).

        A server or a long command that loaded the keys before ``dadkhah keys rotate`` still holds the
        old signing key and the old master key, which the key file no longer keeps: what it signed
        would break the chain, and a data key it wrapped could never be opened again. Checked under
        the chain's lock, once per transaction (the lock is held to its end), so a rotation either
        committed before it (refused here) or waits for it (its late pass wraps what it added anew).
        """
        slot = f"dadkhah.chain.{self.name}.key_checked"
        if self.key_change is None or _this_transactions(session, slot) is keys:
            return
        self.refuse_outdated_keys(session, keys)
        _for_this_transaction(session, slot, keys)

    def refuse_outdated_keys(self, session: Session, keys: ChainKeys) -> None:
        """Raise :class:`KeysOutdated` when the chain's newest key change hands over from ``keys``
        (a process that loaded them before ``dadkhah keys rotate``). A read: no lock is taken."""
        if self.key_change is None:
            return
        column, value, action = self.key_change
        details = session.scalar(sa.select(self.table.details)
                                 .where(getattr(self.table, column) == value, self.table.action == action)
                                 .order_by(self.table.seq.desc()).limit(1))
        in_force = _new_public_key(details) if details is not None else None
        if in_force is not None and in_force != keys.public_key:
            raise KeysOutdated(f"the workspace's keys were rotated after this process loaded them: the signing key "
                               f"in force is {fingerprint(in_force)}, not {fingerprint(keys.public_key)}. "
                               "Nothing was saved; start it again with the key file as it is now")

    def _remember(self, session: Session, keys: ChainKeys | None, last_seq: int, head: dict) -> None:
        """Move the head to ``head`` once the transaction commits (once per transaction, however many
        events it appends), unless the chain no longer holds the head remembered before it."""
        path = keys.head_path(self.name) if keys is not None else None
        if path is None:
            return
        slot = f"dadkhah.chain.{self.name}.head"
        pending = session.info.get(slot)
        if pending is None:
            pending = session.info[slot] = {"head": None, "extends": self._extends_head(session, path, last_seq)}
            if pending["extends"]:
                sa.event.listen(session, "after_commit",
                                lambda s: advance_head(path, s.info.pop(slot)["head"]), once=True)
        if pending["extends"]:
            pending["head"] = head

    def _extends_head(self, session: Session, path: Path, last_seq: int) -> bool:
        """Whether the chain still holds the remembered head (so a new event may move it forward)."""
        head = read_head(path)
        if head is None:
            return True
        if head["seq"] > last_seq:
            return False  # events the head remembers are gone: keep the head as the evidence
        held = session.scalar(sa.select(self.table.event_sha256).where(self.table.seq == head["seq"]))
        return held == head["event_sha256"]

    # ----- reading ---------------------------------------------------------------------------

    def events(self, session: Session, *conditions, limit: int | None = None, offset: int = 0,
               newest_first: bool = True) -> list:
        """The chain's rows matching ``conditions``, newest first unless told otherwise."""
        query = sa.select(self.table).where(*conditions)
        query = query.order_by(self.table.seq.desc() if newest_first else self.table.seq).offset(offset)
        if limit is not None:
            query = query.limit(limit)
        return list(session.scalars(query))

    def lock(self, session: Session) -> None:
        """Become the one writer of this chain until the transaction ends (taken once per transaction:
        asking again in the same transaction costs nothing).

        Whatever numbers a new item from the rows already there (the next E-/T-/W- id, the next event)
        must hold this first, or two writers at once take the same number.
        """
        slot = f"dadkhah.chain.{self.name}.locked"
        if _this_transactions(session, slot):
            return  # held to the transaction's end: an intake appends thousands of events in one
        if session.get_bind().dialect.name == "postgresql":
            # One writer at a time extends the chain; the unique seq and prev_sha256 also refuse a fork.
            session.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": self.lock_key})
        else:
            # SQLite: take the write lock before reading (a transaction whose first statement is a
            # read would otherwise read outside the lock, and two processes could both take the same
            # next number).
            session.execute(sa.update(self.table).where(sa.false()).values(seq=self.table.seq))
        _for_this_transaction(session, slot, True)

    def is_key_change(self, row) -> bool:
        if self.key_change is None:
            return False
        column, value, action = self.key_change
        return getattr(row, column, None) == value and getattr(row, "action", None) == action

    def key_changes(self, session: Session) -> list:
        """The chain's key-change events, oldest first."""
        if self.key_change is None:
            return []
        column, value, action = self.key_change
        return self.events(session, getattr(self.table, column) == value, self.table.action == action,
                           newest_first=False)

    def first_key(self, session: Session, trusted: bytes) -> tuple[bytes, list[str]]:
        """The key that signed the chain's first events, found by following its key changes back from
        ``trusted`` (the key file's public key), and what breaks that line of keys."""
        changes = [parse_key_change(row.details) for row in self.key_changes(session)]
        changes = [c for c in changes if c is not None]
        if not changes:
            return trusted, []
        problems = []
        for before, after in zip(changes, changes[1:], strict=False):
            if after["old"] != before["new"]:
                problems.append("a key change does not start from the key the change before it introduced")
        if changes[-1]["new"] != trusted:
            problems.append("the chain's newest signing key is not the key file's: the key file is older than the "
                            "last key rotation (or another workspace's)")
        return changes[0]["old"], problems

    def verify(self, session: Session, workspace_id: str, keys: ChainKeys | None, *,
               earlier_ids: tuple[str, ...] = (), head=HEAD_BESIDE_KEY_FILE) -> dict:
        """Check every event's hash, signature and link, and the head kept outside the workspace.

        Positions count from 1 in the order of ``seq``. The first event may also point back to the
        genesis of one of ``earlier_ids`` (what identified the workspace when older versions began
        the chain). ``unsigned`` lists the stretches of events
        that carry no signature (where signatures are optional); ``signatures_checked`` says
        whether a public key was at hand to check the others.

        ``head``: the head to compare with, as read beside the key file *before* the events were
        (a backup reads it before its snapshot: writers may move it on past the snapshot
        meanwhile, never back); by default it is read here.
        """
        trusted = keys.public_key if keys is not None and keys.public_key else None
        problems: list[dict] = []
        public_key = None
        key_raw = None
        if trusted is not None:
            first, line_problems = self.first_key(session, trusted)
            public_key, key_raw = Ed25519PublicKey.from_public_bytes(first), first
            problems += [{"position": None, "seq": None, "id": None} | dict.fromkeys(self.where) | {"problem": problem}
                         for problem in line_problems]
        columns = (*self.fields, *self.later_fields, "event_sha256", "signature")
        unsigned: list[dict] = []
        expected_prev, expected_seq, count, last, signed = self.genesis(workspace_id), 1, 0, None, False
        first_links = {self.genesis(i) for i in (workspace_id, *earlier_ids) if i}
        query = sa.select(self.table).order_by(self.table.seq, self.table.id).execution_options(yield_per=2000)
        for position, row in enumerate(session.scalars(query), start=1):
            count, last = position, row
            event = {k: getattr(row, k) for k in columns}
            where = {"position": position, "seq": row.seq, "id": row.id} | {k: getattr(row, k) for k in self.where}
            problems.extend(where | {"problem": problem} for problem in self.check(event, public_key, key_raw=key_raw))
            if public_key is not None and self.is_key_change(row):
                change = parse_key_change(row.details)
                if change is None or change["old"] != public_key_raw(public_key) or not change["vouched"]:
                    problems.append(where | {"problem": "this key change is not signed by both the key in force and "
                                                        "the key it introduces"})
                else:
                    public_key, key_raw = Ed25519PublicKey.from_public_bytes(change["new"]), change["new"]
            signed = signed or row.signature is not None
            if row.signature is None and not self.signatures_required:
                if unsigned and unsigned[-1]["to"] == row.seq - 1:
                    unsigned[-1] |= {"to": row.seq, "events": unsigned[-1]["events"] + 1}
                else:
                    unsigned.append({"from": row.seq, "to": row.seq, "events": 1})
            if row.seq > expected_seq:
                one = row.seq == expected_seq + 1
                gone = f"event {expected_seq} before it is" if one else f"events {expected_seq} to {row.seq - 1} before it are"
                problems.append(where | {"problem": f"{gone} missing: removed"})
            elif row.prev_sha256 != expected_prev and not (position == 1 and row.prev_sha256 in first_links):
                problems.append(where | {"problem": "it does not follow the event before it: inserted, reordered or "
                                                    "the one before was replaced"})
            expected_prev, expected_seq = row.event_sha256, row.seq + 1
        head_path = keys.head_path(self.name) if keys is not None else None
        if head is HEAD_BESIDE_KEY_FILE:
            head = read_head(head_path)
        blank = {"id": None} | dict.fromkeys(self.where)
        if head is None and head_path is not None and signed:
            # Signed events mean the keys were at hand, and with them the head was kept: it was removed.
            problems.append(blank | {"position": None, "seq": last.seq if last else None,
                                     "problem": f"no newest event is remembered beside the key file ({head_path.name}) "
                                                "although signed events exist: that file was removed, or the keys "
                                                "were moved without it, so removing the newest events cannot be "
                                                "ruled out"})
        if head:
            if last is None or last.seq < head["seq"]:
                have = last.seq if last else 0
                problems.append(blank | {"position": count + 1, "seq": have + 1,
                                         "problem": f"the chain ends at event {have} but event {head['seq']} was "
                                                    "recorded: the last events were removed"})
            else:
                held = session.scalar(sa.select(self.table.event_sha256).where(self.table.seq == head["seq"]))
                if held != head["event_sha256"]:
                    problems.append(blank | {"position": None, "seq": head["seq"],
                                             "problem": "this event differs from the one remembered outside the "
                                                        "workspace: the newest events were removed or replaced"})
        return {"events": count, "intact": not problems, "problems": problems, "unsigned": unsigned,
                "signatures_checked": public_key is not None, "head_checked": head is not None}


# ----- handing signing over to a new key -------------------------------------------------------------

KEY_CHANGE_PURPOSE = "dadkhah signing key change"


def public_key_raw(key: Ed25519PublicKey | Ed25519PrivateKey) -> bytes:
    from cryptography.hazmat.primitives import serialization

    public = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    return public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def key_change_statement(old_public: bytes, new_public: bytes) -> bytes:
    """What the new key signs to accept the chain from the old one."""
    return canonical_json({"purpose": KEY_CHANGE_PURPOSE, "old_public_key": base64.b64encode(old_public).decode("ascii"),
                           "new_public_key": base64.b64encode(new_public).decode("ascii")}).encode("utf-8")


def key_change_details(old_key: Ed25519PrivateKey, new_key: Ed25519PrivateKey) -> dict:
    """The ``key_change`` part of a key-change event's details: both public keys and the new key's
    signature over :func:`key_change_statement` (the event itself is signed by the old key)."""
    old_public, new_public = public_key_raw(old_key), public_key_raw(new_key)
    return {"old_public_key": base64.b64encode(old_public).decode("ascii"),
            "new_public_key": base64.b64encode(new_public).decode("ascii"),
            "new_key_signature": base64.b64encode(new_key.sign(key_change_statement(old_public, new_public))).decode("ascii")}


def _new_public_key(details) -> bytes | None:
    """The key a key-change event hands signing to (its signature is checked on verification, not here)."""
    try:
        document = json.loads(details) if isinstance(details, str) else details
        return base64.b64decode(document["key_change"]["new_public_key"], validate=True)
    except (ValueError, KeyError, TypeError):
        return None


def fingerprint(public_key: bytes) -> str:
    """``SHA256:`` and the unpadded base64 of the raw key's SHA-256, as OpenSSH shows keys."""
    return "SHA256:" + base64.b64encode(hashlib.sha256(public_key).digest()).decode("ascii").rstrip("=")


def parse_key_change(details) -> dict | None:
    """``{"old", "new", "vouched"}`` from a key-change event's details (a dict or its JSON), or None
    when they hold no readable key change; ``vouched``: the new key's signature holds."""
    try:
        document = json.loads(details) if isinstance(details, str) else details
        change = document["key_change"]
        old = base64.b64decode(change["old_public_key"], validate=True)
        new = base64.b64decode(change["new_public_key"], validate=True)
        signature = base64.b64decode(change["new_key_signature"], validate=True)
        Ed25519PublicKey.from_public_bytes(old)  # both must be keys (a ValueError otherwise)
        try:
            Ed25519PublicKey.from_public_bytes(new).verify(signature, key_change_statement(old, new))
            vouched = True
        except InvalidSignature:
            vouched = False
        return {"old": old, "new": new, "vouched": vouched}
    except (ValueError, KeyError, TypeError):
        return None


# ----- the head, kept beside the key file ------------------------------------------------------------


def read_head(path: Path | None) -> dict | None:
    """The remembered newest event ``{"seq", "event_sha256"}``, or None when there is none (or it is unreadable)."""
    if path is None or not path.is_file():
        return None
    try:
        head = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if isinstance(head, dict) and isinstance(head.get("seq"), int) and isinstance(head.get("event_sha256"), str):
        return head
    return None


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """One process at a time reads and moves a head (the lock file sits beside it)."""
    try:
        import fcntl
    except ImportError:  # not on POSIX: a rare race may keep an older head, which loses nothing
        yield
        return
    with open(path.with_name(path.name + ".lock"), "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def advance_head(path: Path, head: dict) -> None:
    """Move the remembered head forward to ``head``; never back, never sideways.

    Best effort: it runs after the action has committed, so a failure here (the key file's folder
    unreachable) loses nothing but this one step of protection.
    """
    try:
        with _locked(path):
            previous = read_head(path)
            if previous is not None and previous["seq"] >= head["seq"]:
                return
            temporary = path.with_name(path.name + ".tmp")
            fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(json.dumps(head))
            temporary.replace(path)
    except OSError:
        pass
