"""Key care: rotating the workspace's keys, and splitting the key file into shares.

**Rotation** (:func:`rotate_keys`). A new master key wraps every data key again (in the database
and in the header of every sealed file) without sealing any file body again; a new Ed25519
signing key takes over the chains through one event in each (custody ``signing key rotated``,
audit ``keys rotated``) that the old key signs and that carries the new key's signature over both
public keys, so whoever trusts either key can follow the chain across the change
(:func:`dadkhah.chain.key_change_details`). A crash at any moment loses nothing:

1. the key file is rewritten (one rename) holding the old keys *and* the new ones (``rotation``);
   while it does, every other command refuses the keys and says to run the rotation again;
2. each sealed file's header is rewritten beside it and renamed into place (``rewrap_blob``): a
   file is always whole, under the old key or the new, and both are in the key file;
3. in one database transaction every wrapped data key is wrapped anew, and the two key-change
   events are appended (a crash before the commit leaves the database as it was);
4. a second pass wraps anew what another process added meanwhile;
5. the configuration and the key file are rewritten with the new keys only.

Running the rotation again resumes where it stopped: what is already under the new key is left
alone, and a database already rotated (its newest key change names the new key) is not rotated
twice. A passphrase-protected key file keeps its passphrase (sealed again with a fresh salt).

*Blind indexes* (a witness's name, a signer's email, ...) are keyed hashes that find equal values
without storing them. They cannot all be recomputed: a signer's email is gone once the signature
is erased, and client addresses are never kept, yet their indexes must keep matching (a withdrawn
signer is still known, throttling still counts). So the index key is kept apart from the master key
at the first rotation: it is HKDF-Extract of the original master key (what every index was always
derived from), which opens nothing the master key wraps, and it survives every rotation. The cost:
whoever held an old key file can still test guesses against the indexes of a database they obtain.

**Shares** (:func:`split_keys`, :func:`join_shares`). Shamir's secret sharing (pycryptodome) over
GF(2^128) shares 16-byte secrets. A random 16-byte *share key* is shared, K of N; its HKDF gives
the AES-256-GCM key that seals the whole key file (its secrets in plain form: the K holders
together replace the passphrase) once; each share file holds one share of the key and that same
sealed copy. Sharing a short random key rather than each 16-byte block of the key file keeps the
shares small and the key file's format free to change. Each share file names the workspace, its
index, K of N, the split it belongs to, and a checksum of its content, so a mistyped or damaged
share is named before anything is combined.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import signal
import uuid
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from dadkhah.audit import Actor, record_audit
from dadkhah.chain import canonical_json, key_change_details, parse_key_change
from dadkhah.errors import InputError
from dadkhah.model import CustodyEvent, EvidenceItem, Signature, Testimony, Witness
from dadkhah.store import Store, process_alive
from dadkhah.users import reseal_totp_secrets
from dadkhah.vault.crypto import (
    DecryptionError,
    blob_key_opens,
    index_root,
    read_header,
    rewrap_blob,
    unwrap_key,
    wrap_key,
)
from dadkhah.vault.custody import CUSTODY_CHAIN, append_event
from dadkhah.vault.keys import (
    LOGIN_KEY,
    VaultKeyError,
    VaultKeys,
    fingerprint,
    head_tag,
    key_file_lock,
    key_file_path,
    keys_from_secrets,
    public_key_bytes,
    read_key_document,
    seal_secrets,
    set_vault_config,
    stored_login_key,
    unlock_secrets,
    write_key_document,
)
from dadkhah.workspace import Workspace

# A documented test hook: with DADKHAH_TEST_CRASH_AT set to one of CRASH_POINTS, the rotation kills
# its own process (SIGKILL: no clean-up runs) at that point, as a power cut would.
ENV_CRASH_AT = "DADKHAH_TEST_CRASH_AT"
CRASH_POINTS = ("key-file", "first-blob", "database", "committed", "swept")

SHARE_FORMAT = "dadkhah-key-share/1"
MAX_SHARES = 64


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text.encode("ascii"), validate=True)


def _checkpoint(point: str) -> None:
    if os.environ.get(ENV_CRASH_AT) == point:
        os.kill(os.getpid(), signal.SIGKILL)


def _private_bytes(key: Ed25519PrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption())


# ----- rotation ----------------------------------------------------------------------------------------


def _wrapped_rows(session, workspace: Path):
    """Every wrapped data key in the database: (row, label, what to call it in an error)."""
    for row in session.scalars(sa.select(EvidenceItem).order_by(EvidenceItem.id)):
        blob = workspace / row.blob_path
        if not blob.is_file():
            raise InputError(f"{row.evidence_id}: its sealed file is missing from the blob store; restore it from a "
                             "backup before rotating the keys (nothing was changed)", file=row.blob_path)
        with open(blob, "rb") as handle:
            header, _raw = read_header(handle, name=row.evidence_id)
        yield row, header["label"], row.evidence_id
    for row in session.scalars(sa.select(Witness).order_by(Witness.id)):
        yield row, f"witness:{row.pseudonym}", row.pseudonym
    for row in session.scalars(sa.select(Testimony).order_by(Testimony.id)):
        yield row, f"testimony:{row.testimony_id}", row.testimony_id
    for row in session.scalars(sa.select(Signature).where(Signature.wrapped_key.is_not(None)).order_by(Signature.id)):
        yield row, f"signature:{row.id}", f"signature {row.id}"


def _opens(master: bytes, wrapped: bytes, label: str) -> bool:
    try:
        unwrap_key(master, wrapped, label=label)
        return True
    except DecryptionError:
        return False


def _rewrap_rows(session, workspace: Path, old: bytes, new: bytes) -> int:
    """Wrap under ``new`` every data key still under ``old``; returns how many were."""
    done = 0
    for row, label, name in list(_wrapped_rows(session, workspace)):
        if _opens(new, row.wrapped_key, label):
            continue
        try:
            data_key = unwrap_key(old, row.wrapped_key, label=label)
        except DecryptionError:
            raise VaultKeyError(f"{name}: its data key opens with neither the old master key nor the new one; "
                                "the rotation stopped before changing the database") from None
        row.wrapped_key = wrap_key(new, data_key, label=label)
        done += 1
    session.flush()
    return done


def _blobs(workspace: Path) -> list[Path]:
    folder = workspace / "blobs"
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.glob("*/*.sealed") if p.is_file() and p.parent.name != "incoming")


_REWRAP_LEFTOVER = re.compile(r"^\..+\.(\d+)\.rewrap$")


def _sweep_rewrap_leftovers(workspace: Path) -> int:
    removed = 0
    folder = workspace / "blobs"
    for path in folder.glob("*/.*.rewrap") if folder.is_dir() else ():
        match = _REWRAP_LEFTOVER.match(path.name)
        if match and not process_alive(int(match.group(1))):
            path.unlink(missing_ok=True)
            removed += 1
    return removed


def _rewrap_blobs(workspace: Path, old: bytes, new: bytes, progress=None, *, crash_point: str | None = None) -> int:
    blobs = _blobs(workspace)
    done = 0
    for number, path in enumerate(blobs, start=1):
        if rewrap_blob(path, old_keys=[old], new_master_key=new):
            done += 1
            if done == 1 and crash_point:
                _checkpoint(crash_point)
        if progress:
            progress(number, len(blobs))
    return done


def _preflight(store: Store, master: bytes, pending: bytes | None) -> None:
    """Refuse before changing anything when some item opens with none of the keys at hand."""
    workspace = store.workspace.path
    keys = [k for k in (master, pending) if k]
    for path in _blobs(workspace):
        if not any(blob_key_opens(path, k) for k in keys):
            raise VaultKeyError(f"{path.relative_to(workspace)}: its data key does not open with this key file; "
                                "nothing was changed")
    with store.session() as session:
        for row, label, name in _wrapped_rows(session, workspace):
            if not any(_opens(k, row.wrapped_key, label) for k in keys):
                raise VaultKeyError(f"{name}: its data key does not open with this key file's master key; nothing "
                                    "was changed")


def _database_rotated(session, new_public: bytes) -> bool:
    changes = CUSTODY_CHAIN.key_changes(session)
    last = parse_key_change(changes[-1].details) if changes else None
    return last is not None and last["new"] == new_public


def _one_rotation(path: Path):
    """One rotation at a time for a key file (a lock file beside it); a second is refused at once."""
    return key_file_lock(path, f"another key rotation of {path} is running: let it finish")


def rotate_keys(store: Store, *, actor: Actor, passphrase: str | None = None, progress=None) -> dict:
    """Rotate the workspace's master and signing keys (or finish a rotation that was interrupted).

    Returns the old and new fingerprints and what was wrapped anew: ``data_keys`` (database rows),
    ``blobs`` (sealed files), and ``resumed`` when an interrupted rotation was finished.
    ``progress(done, total)`` follows the sealed files.
    """
    path = key_file_path(store.workspace)
    with _one_rotation(path):
        return _rotate(store, path, actor=actor, passphrase=passphrase, progress=progress)


def _rotate(store: Store, path: Path, *, actor: Actor, passphrase: str | None, progress) -> dict:
    workspace = store.workspace
    document = read_key_document(path, workspace)
    inner = unlock_secrets(document, path, passphrase=passphrase)
    protected = (document.get("secrets") or {}).get("kdf") is not None
    if protected and not passphrase:
        passphrase = os.environ.get("DADKHAH_PASSPHRASE")
    resumed = bool(document.get("rotation")) and bool(inner.get("next"))
    tag = head_tag(workspace)
    current = {"master_key": inner["master_key"], "signing_key": inner["signing_key"],
               "index_key": inner.get("index_key") or _b64(index_root(_unb64(inner["master_key"])))}
    old_keys = keys_from_secrets(document, current, path, tag=tag)
    _preflight(store, old_keys.master_key, _unb64(inner["next"]["master_key"]) if resumed else None)
    # The login key (second factors) is renewed too, kept in clear beside the others as the key file keeps it.
    old_login = stored_login_key(document)
    if not resumed:
        signing = Ed25519PrivateKey.generate()
        following = {"master_key": _b64(os.urandom(32)), "signing_key": _b64(_private_bytes(signing))}
        public = public_key_bytes(signing)
        document = document | {"rotation": {"started_at": datetime.now(UTC).replace(microsecond=0).isoformat(),
                                            "new_public_key": _b64(public), "new_fingerprint": fingerprint(public),
                                            LOGIN_KEY: _b64(os.urandom(32))},
                               "secrets": seal_secrets(current | {"next": following}, document["workspace_id"], passphrase)}
        write_key_document(path, document, replace=True)
    else:
        following = inner["next"]
    # A rotation begun by a version that did not renew the login key keeps it.
    new_login = stored_login_key(document["rotation"]) or old_login or os.urandom(32)
    _checkpoint("key-file")
    new_signing = Ed25519PrivateKey.from_private_bytes(_unb64(following["signing_key"]))
    new_keys = VaultKeys(workspace_id=document["workspace_id"], master_key=_unb64(following["master_key"]),
                         signing_key=new_signing, public_key=public_key_bytes(new_signing), key_file=path,
                         index_secret=_unb64(current["index_key"]), head_tag=tag, login_secret=new_login)
    _sweep_rewrap_leftovers(workspace.path)
    blobs = _rewrap_blobs(workspace.path, old_keys.master_key, new_keys.master_key, progress, crash_point="first-blob")
    data_keys = 0
    store.use_keys(old_keys)  # the rotation's own events are signed by the key in force
    with store.session() as session:
        rotated_before = _database_rotated(session, new_keys.public_key)
        if not rotated_before:
            data_keys = _rewrap_rows(session, workspace.path, old_keys.master_key, new_keys.master_key)
            factors = reseal_totp_secrets(session, old_login, new_login)
            counts = {"data_keys": data_keys, "blobs": len(_blobs(workspace.path)), "second_factors": factors["sealed"]}
            change = key_change_details(old_keys.signing_key, new_keys.signing_key)
            said = {"old_fingerprint": old_keys.fingerprint, "new_fingerprint": new_keys.fingerprint} | counts
            append_event(session, old_keys, actor, item_kind="keys", item_id="signing-key",
                         action="signing key rotated", details=said | {"key_change": change})
            record_audit(session, store, actor, action="keys rotated", object_kind="keys", object_id="signing-key",
                         details=said | {"index_key": "kept", "key_change": change})
            _checkpoint("database")  # inside the transaction: a crash here rolls it back
    _checkpoint("committed")
    store.use_keys(new_keys)
    # What another process added meanwhile under the old key (it should have been stopped: see the guide).
    late_blobs = _rewrap_blobs(workspace.path, old_keys.master_key, new_keys.master_key)
    with store.session() as session:
        late_rows = _rewrap_rows(session, workspace.path, old_keys.master_key, new_keys.master_key)
        late_factors = reseal_totp_secrets(session, old_login, new_login)
    _checkpoint("swept")
    set_vault_config(workspace, {"public_key": _b64(new_keys.public_key), "fingerprint": new_keys.fingerprint})
    final = {k: v for k, v in document.items() if k != "rotation"} | {
        "public_key": _b64(new_keys.public_key), "fingerprint": new_keys.fingerprint,
        "rotated_at": datetime.now(UTC).replace(microsecond=0).isoformat(),
        "previous_fingerprints": [*document.get("previous_fingerprints", []), old_keys.fingerprint],
        LOGIN_KEY: _b64(new_login),
        "secrets": seal_secrets({"master_key": following["master_key"], "signing_key": following["signing_key"],
                                 "index_key": current["index_key"]}, document["workspace_id"], passphrase)}
    write_key_document(path, final, replace=True)
    return {"key_file": str(path), "old_fingerprint": old_keys.fingerprint, "new_fingerprint": new_keys.fingerprint,
            "data_keys": data_keys + late_rows, "blobs": blobs + late_blobs, "resumed": resumed,
            "second_factors": (0 if rotated_before else factors["sealed"]) + late_factors["sealed"],
            "second_factors_unreadable": late_factors["unreadable"],
            "database_rotated_before": rotated_before, "protected": protected, "index_key": "kept"}


# ----- shares ------------------------------------------------------------------------------------------


def is_share_document(document) -> bool:
    """Whether a JSON document read from a file is a key share's (of this format or another)."""
    return isinstance(document, dict) and str(document.get("format", "")).startswith(SHARE_FORMAT.split("/")[0] + "/")


def _share_checksum(share: dict) -> str:
    return hashlib.sha256(canonical_json({k: v for k, v in share.items() if k != "checksum"}).encode()).hexdigest()


def _sealing_key(secret: bytes) -> bytes:
    return HKDF(algorithm=SHA256(), length=32, salt=None, info=b"dadkhah-key-shares").derive(secret)


def _aad(workspace_id: str, split_id: str, threshold: int, shares: int) -> bytes:
    return canonical_json({"workspace_id": workspace_id, "split_id": split_id, "threshold": threshold,
                           "shares": shares}).encode()


def _inside(path: Path, folder: Path) -> bool:
    return path.resolve().is_relative_to(folder.resolve())


def _write_private(path: Path, text: str, *, force: bool) -> None:
    if path.is_symlink():
        raise InputError("is a symbolic link: name the real destination", file=str(path))
    if path.exists() and not force:
        raise InputError("exists; choose another name, or say to replace it", file=str(path), field="force")
    temporary = path.with_name(f".{path.name}.{os.getpid()}.new")
    try:
        with os.fdopen(os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        if not force and path.exists():
            raise InputError("exists; choose another name, or say to replace it", file=str(path), field="force")
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def split_keys(store: Store, *, shares: int, threshold: int, out, actor: Actor, passphrase: str | None = None,
               force: bool = False) -> dict:
    """Split the key file into ``shares`` share files in the folder ``out``, any ``threshold`` of
    which rebuild it (:func:`join_shares`); one audit event "keys split" (never a share's content)."""
    from Crypto.Protocol.SecretSharing import Shamir

    if not isinstance(shares, int) or not 2 <= shares <= MAX_SHARES:
        raise InputError(f"takes a number of shares from 2 to {MAX_SHARES}, not {shares!r}", field="shares")
    if not isinstance(threshold, int) or not 2 <= threshold <= shares:
        raise InputError(f"takes how many shares rebuild the key: from 2 to the number of shares ({shares}), "
                         f"not {threshold!r}", field="threshold")
    workspace = store.workspace
    folder = Path(out).expanduser()
    if _inside(folder, workspace.path):
        raise InputError("is inside the workspace: shares must travel apart from it (a copy of the workspace would "
                         "carry its own key)", file=str(folder), field="out")
    if folder.exists() and not folder.is_dir():
        raise InputError("exists and is not a folder", file=str(folder), field="out")
    path = key_file_path(workspace)
    document = read_key_document(path, workspace)
    if document.get("rotation"):
        raise VaultKeyError("a key rotation was interrupted: finish it (`dadkhah keys rotate`) before splitting the keys")
    inner = unlock_secrets(document, path, passphrase=passphrase)
    keys = keys_from_secrets(document, inner, path)
    plain = {k: v for k, v in document.items() if k != "rotation"} | {
        "secrets": seal_secrets({k: v for k, v in inner.items() if k != "next"}, document["workspace_id"], None)}
    split_id = str(uuid.uuid4())
    made_at = datetime.now(UTC).replace(microsecond=0).isoformat()
    secret = os.urandom(16)
    nonce = os.urandom(12)
    sealed = AESGCM(_sealing_key(secret)).encrypt(nonce, json.dumps(plain).encode(),
                                                 _aad(document["workspace_id"], split_id, threshold, shares))
    names = [folder / f"dadkhah-key-{document['workspace_id'][:8]}-share-{index}-of-{shares}.json"
             for index in range(1, shares + 1)]
    if not force:
        for name in names:
            if name.exists() or name.is_symlink():
                raise InputError("exists; choose another folder, or say to replace it", file=str(name), field="force")
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    for (index, value), name in zip(Shamir.split(threshold, shares, secret), names, strict=True):
        share = {"format": SHARE_FORMAT,
                 "about": (f"Share {index} of {shares} of the key file of the Dadkhah workspace {document['workspace_id']}. "
                           f"Any {threshold} of the {shares} shares rebuild it with `dadkhah keys join`; fewer reveal "
                           "nothing. Keep it private, apart from the workspace and from the other shares."),
                 "workspace_id": document["workspace_id"], "workspace": document.get("workspace"),
                 "fingerprint": keys.fingerprint, "split_id": split_id, "made_at": made_at,
                 "share": index, "threshold": threshold, "shares": shares, "share_value": value.hex(),
                 "nonce": _b64(nonce), "sealed": _b64(sealed)}
        share["checksum"] = _share_checksum(share)
        _write_private(name, json.dumps(share, indent=1) + "\n", force=force)
    details = {"shares": shares, "threshold": threshold, "fingerprint": keys.fingerprint, "split_id": split_id}
    with store.session() as session:
        record_audit(session, store, actor, action="keys split", object_kind="keys", object_id=keys.fingerprint,
                     details=details)
    return details | {"out": str(folder), "files": [str(n) for n in names], "workspace_id": document["workspace_id"]}


def _read_share(path: Path) -> dict:
    name = str(path)
    if not path.is_file():
        raise InputError("is not a share file (not found, or not a file)", file=name)
    if path.stat().st_size > 1 << 20:
        raise InputError("is too large to be a key share", file=name)
    try:
        share = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"is not a key share: cannot be read ({type(exc).__name__}); it was damaged or mistyped",
                         file=name) from None
    if not isinstance(share, dict) or share.get("format") != SHARE_FORMAT:
        raise InputError(f"is not a Dadkhah key share ({SHARE_FORMAT})", file=name)
    if share.get("checksum") != _share_checksum(share):
        raise InputError("its checksum does not match its content: the share was mistyped or damaged; use another "
                         "share or a clean copy of this one", file=name)
    try:
        share["_value"] = bytes.fromhex(share["share_value"])
        if len(share["_value"]) != 16 or not 1 <= int(share["share"]) <= int(share["shares"]) <= MAX_SHARES:
            raise ValueError
        int(share["threshold"])
    except (KeyError, ValueError, TypeError):
        raise InputError("is not a well-formed key share", file=name) from None
    return share


def join_shares(paths, out, *, force: bool = False, passphrase: str | None = None,
                workspace: Workspace | None = None) -> dict:
    """Rebuild a key file at ``out`` from share files (at least the threshold they name).

    With ``passphrase`` the rebuilt key file is protected by it; with ``workspace`` the shares must
    be that workspace's and ``out`` must lie outside it. Nothing is written unless the key file
    rebuilt opens and its public key matches its signing key.
    """
    from Crypto.Protocol.SecretSharing import Shamir

    files = [Path(p).expanduser() for p in paths]
    if not files:
        raise InputError("name the share files", field="paths")
    read = [(path, _read_share(path)) for path in files]
    first_path, first = read[0]
    for path, share in read[1:]:
        if share["workspace_id"] != first["workspace_id"]:
            raise InputError(f"belongs to workspace {share['workspace_id']}, but {first_path} to "
                             f"{first['workspace_id']}: shares of different workspaces cannot be joined", file=str(path))
        if (share["split_id"], share["threshold"], share["shares"]) != (first["split_id"], first["threshold"], first["shares"]):
            raise InputError(f"comes from another split of the keys (made {share.get('made_at')}) than {first_path} "
                             f"(made {first.get('made_at')}): use shares of one split", file=str(path))
    indexes = [share["share"] for _p, share in read]
    for path, share in read:
        if indexes.count(share["share"]) > 1:
            raise InputError(f"is share {share['share']}, given twice", file=str(path))
    if workspace is not None:
        from dadkhah.vault.keys import workspace_id as ident

        if ident(workspace) and first["workspace_id"] != ident(workspace):
            raise InputError(f"belongs to workspace {first['workspace_id']}, not to {workspace.path} "
                             f"({ident(workspace)})", file=str(first_path))
    threshold = int(first["threshold"])
    if len(read) < threshold:
        raise InputError(f"{len(read)} share{'s' if len(read) != 1 else ''} given, but this key needs {threshold} of "
                         f"{first['shares']}: fewer reveal nothing", field="paths")
    secret = Shamir.combine([(share["share"], share["_value"]) for _p, share in read[:threshold]])
    try:
        plain = AESGCM(_sealing_key(secret)).decrypt(_unb64(first["nonce"]), _unb64(first["sealed"]),
                                                     _aad(first["workspace_id"], first["split_id"], threshold,
                                                          int(first["shares"])))
    except (InvalidTag, ValueError):
        raise InputError("these shares do not rebuild the key: one of them was altered (its checksum recomputed) or "
                         "they are not of one split", file=", ".join(str(p) for p in files)) from None
    document = json.loads(plain)
    target = Path(out).expanduser()
    if workspace is not None and _inside(target, workspace.path):
        raise InputError("is inside the workspace: the key file must be kept outside it", file=str(target), field="out")
    inner = unlock_secrets(document, target)
    keys = keys_from_secrets(document, inner, target)
    if keys.fingerprint != first["fingerprint"]:
        raise InputError("the key rebuilt is not the one the shares name", file=str(first_path))
    if passphrase:
        document = document | {"secrets": seal_secrets(inner, document["workspace_id"], passphrase)}
    target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    _write_private(target, json.dumps(document, indent=1), force=force)
    return {"key_file": str(target), "workspace_id": document["workspace_id"], "fingerprint": keys.fingerprint,
            "shares_used": sorted(indexes[:threshold]), "threshold": threshold, "shares": int(first["shares"]),
            "split_id": first["split_id"], "protected": bool(passphrase)}


def record_join(store: Store, joined: dict, *, actor: Actor) -> None:
    """The audit event "keys joined" in the workspace whose key file was rebuilt (never a share's content)."""
    with store.session() as session:
        record_audit(session, store, actor, action="keys joined", object_kind="keys", object_id=joined["fingerprint"],
                     details={k: joined[k] for k in ("shares_used", "threshold", "shares", "split_id", "fingerprint",
                                                     "protected")})


def latest_key_change(session) -> dict | None:
    """The newest key rotation the chain of custody records: when, and the fingerprints."""
    row = session.scalar(sa.select(CustodyEvent).where(CustodyEvent.item_id == "signing-key",
                                                       CustodyEvent.action == "signing key rotated")
                         .order_by(CustodyEvent.seq.desc()).limit(1))
    if row is None:
        return None
    details = json.loads(row.details)
    return {"seq": row.seq, "occurred_at": row.occurred_at, "old_fingerprint": details.get("old_fingerprint"),
            "new_fingerprint": details.get("new_fingerprint")}
