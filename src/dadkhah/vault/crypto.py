"""Envelope encryption: a fresh data key per item, wrapped by the workspace's master key.

Small fields (a witness's name, a transcript) are sealed whole with AES-256-GCM. Files of any size
are sealed as a stream of 1 MiB chunks, each its own AES-256-GCM message whose nonce carries the
chunk's number and a last-chunk flag, so that chunks cannot be reordered, dropped or the stream cut
short without detection (the STREAM construction of Hoang, Reyhanitabar, Rogaway and Vizár, 2015).
The file's SHA-256 is computed in the same single pass, so memory stays constant for any size.

Every sealed value is bound to what it is (``associated data``): a transcript sealed for testimony
T-0001 does not open as T-0002's, nor as a witness's name.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDFExpand

from dadkhah.errors import DadkhahError

CHUNK = 1 << 20
MAGIC = b"DKHBLOB1"
NONCE = 12
TAG = 16


class DecryptionError(DadkhahError):
    """A sealed value or file does not open: wrong key, or it has been altered or damaged."""


def new_data_key() -> bytes:
    return os.urandom(32)


def wrap_key(master_key: bytes, data_key: bytes, *, label: str) -> bytes:
    """The data key sealed under the master key (nonce ‖ ciphertext), bound to ``label``."""
    nonce = os.urandom(NONCE)
    return nonce + AESGCM(master_key).encrypt(nonce, data_key, b"dadkhah-data-key:" + label.encode())


def unwrap_key(master_key: bytes, wrapped: bytes, *, label: str) -> bytes:
    try:
        return AESGCM(master_key).decrypt(wrapped[:NONCE], wrapped[NONCE:], b"dadkhah-data-key:" + label.encode())
    except InvalidTag:
        raise DecryptionError(f"the key of {label} does not open with this workspace's master key") from None


def seal(data_key: bytes, plaintext: bytes, *, label: str) -> bytes:
    nonce = os.urandom(NONCE)
    return nonce + AESGCM(data_key).encrypt(nonce, plaintext, label.encode())


def open_sealed(data_key: bytes, sealed: bytes, *, label: str) -> bytes:
    try:
        return AESGCM(data_key).decrypt(sealed[:NONCE], sealed[NONCE:], label.encode())
    except InvalidTag:
        raise DecryptionError(f"{label} does not open: it was altered, or sealed under another key") from None


def index_root(master_key: bytes) -> bytes:
    """The key blind indexes are derived from, for a workspace whose key file has none of its own:
    HKDF-Extract (RFC 5869, no salt) of the master key. It cannot open anything the master key
    wraps, so a key rotation keeps it, and every index stays valid (see :mod:`dadkhah.vault.keycare`)."""
    return hmac.new(bytes(32), master_key, hashlib.sha256).digest()


def blind_index(index_key: bytes, value: str, *, purpose: str) -> str:
    """A keyed hash of ``value``: equal values give equal indexes, and nobody without the key can test a guess.

    ``index_key`` is the workspace's index key (:attr:`dadkhah.vault.keys.VaultKeys.index_key`); the
    per-purpose key is its HKDF-Expand, so indexes equal those the master key gave through HKDF before
    the index key was kept apart.
    """
    key = HKDFExpand(algorithm=SHA256(), length=32, info=b"dadkhah-index:" + purpose.encode()).derive(index_key)
    return hmac.new(key, value.encode("utf-8"), hashlib.sha256).hexdigest()


def _chunk_nonce(prefix: bytes, counter: int, last: bool) -> bytes:
    return prefix + struct.pack(">I", counter) + (b"\x01" if last else b"\x00")


def encrypt_stream(source: BinaryIO, target: BinaryIO, *, data_key: bytes, wrapped_key: bytes, label: str,
                   first: bytes = b"", progress=None) -> tuple[str, int]:
    """Seal everything readable from ``source`` into ``target``; returns (SHA-256 of the plaintext, size).

    ``first`` holds bytes already read from ``source`` (to sniff the type); they come first.
    Layout: MAGIC, 4-byte header length, JSON header, then chunks of at most CHUNK + 16 bytes.
    The chunks are bound to the header's fields but not to its wrapped key, so that a key rotation
    can wrap the data key anew without sealing the file again (:func:`rewrap_blob`).
    """
    prefix = os.urandom(7)
    fields = {"version": 2, "chunk": CHUNK, "label": label, "nonce_prefix": prefix.hex()}
    header = json.dumps(fields | {"wrapped_key": wrapped_key.hex()}, separators=(",", ":")).encode()
    target.write(MAGIC + struct.pack(">I", len(header)) + header)
    aad = _header_aad(fields, header)
    aead = AESGCM(data_key)
    digest = hashlib.sha256()
    size = 0
    counter = 0
    pending = bytearray(first)
    while len(pending) < CHUNK:
        more = source.read(CHUNK - len(pending))
        if not more:
            break
        pending += more
    while True:
        following = source.read(CHUNK)
        while following and len(following) < CHUNK:  # short reads (pipes): fill the chunk before sealing
            more = source.read(CHUNK - len(following))
            if not more:
                break
            following += more
        last = not following
        chunk = bytes(pending)
        digest.update(chunk)
        size += len(chunk)
        target.write(aead.encrypt(_chunk_nonce(prefix, counter, last), chunk, aad))
        if progress:
            progress(size)
        if last:
            break
        counter += 1
        pending = bytearray(following)
    return digest.hexdigest(), size


def _header_aad(header: dict, raw: bytes) -> bytes:
    """What a blob's chunks are bound to. Version 1: the header's exact bytes (its wrapped key
    included). Version 2: its fields but the wrapped key, or, for a version-1 blob whose key was
    wrapped anew, the digest it was first sealed with (``aad``)."""
    if header.get("version") == 1:
        return hashlib.sha256(raw).digest()
    if header.get("aad"):
        return bytes.fromhex(header["aad"])
    fields = {k: header[k] for k in ("version", "chunk", "label", "nonce_prefix")}
    return hashlib.sha256(json.dumps(fields, sort_keys=True, separators=(",", ":")).encode()).digest()


def read_header(handle: BinaryIO, *, name: str) -> tuple[dict, bytes]:
    start = handle.read(len(MAGIC) + 4)
    if len(start) < len(MAGIC) + 4 or start[: len(MAGIC)] != MAGIC:
        raise DecryptionError(f"{name} is not a sealed Dadkhah blob")
    (length,) = struct.unpack(">I", start[len(MAGIC):])
    if length > 65536:
        raise DecryptionError(f"{name}: the blob header is damaged")
    raw = handle.read(length)
    try:
        return json.loads(raw), raw
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise DecryptionError(f"{name}: the blob header is damaged") from None


def decrypt_stream(path: Path, *, master_key: bytes, handle=None) -> Iterator[bytes]:
    """The plaintext of a sealed blob, chunk by chunk; raises if any chunk was altered, moved or cut.

    With ``handle`` (the blob already open), it is read from its start and left open: what was
    checked is what is then read, even if the file's name is pointed elsewhere meanwhile.
    """
    if handle is None:
        with open(path, "rb") as opened:
            yield from decrypt_stream(path, master_key=master_key, handle=opened)
        return
    handle.seek(0)
    header, raw = read_header(handle, name=path.name)
    data_key = unwrap_key(master_key, bytes.fromhex(header["wrapped_key"]), label=header["label"])
    aead = AESGCM(data_key)
    prefix = bytes.fromhex(header["nonce_prefix"])
    aad = _header_aad(header, raw)
    counter = 0
    block = handle.read(header["chunk"] + TAG)
    while True:
        following = handle.read(header["chunk"] + TAG)
        last = not following
        try:
            yield aead.decrypt(_chunk_nonce(prefix, counter, last), block, aad)
        except InvalidTag:
            raise DecryptionError(f"{path.name}: chunk {counter} does not open (altered, reordered or cut short)") from None
        if last:
            return
        counter += 1
        block = following


def blob_key_opens(path: Path, master_key: bytes) -> bool:
    """Whether the data key in the header of the sealed file at ``path`` opens with ``master_key``."""
    with open(path, "rb") as handle:
        header, _ = read_header(handle, name=path.name)
    try:
        unwrap_key(master_key, bytes.fromhex(header["wrapped_key"]), label=header["label"])
    except DecryptionError:
        return False
    return True


def rewrap_blob(path: Path, *, old_keys, new_master_key: bytes) -> bool:
    """Wrap the data key in the header of the sealed file at ``path`` under ``new_master_key``,
    leaving its sealed chunks as they are; returns False when it already was (nothing is written).

    The file is rewritten beside itself and put in place with one rename: at every moment the name
    holds either the old file or the new one, whole. The data key is unwrapped with whichever of
    ``old_keys`` opens it; none opening is a :class:`DecryptionError` naming the file.
    """
    with open(path, "rb") as handle:
        header, raw = read_header(handle, name=path.name)
        body_start = len(MAGIC) + 4 + len(raw)
        wrapped = bytes.fromhex(header["wrapped_key"])
        try:
            unwrap_key(new_master_key, wrapped, label=header["label"])
            if header.get("version") != 1:
                return False
        except DecryptionError:
            pass
        data_key = None
        for key in [new_master_key, *old_keys]:
            try:
                data_key = unwrap_key(key, wrapped, label=header["label"])
                break
            except DecryptionError:
                continue
        if data_key is None:
            raise DecryptionError(f"{path.name}: its data key opens with none of the keys given")
        aad = _header_aad(header, raw)
        fields = {"version": 2, "chunk": header["chunk"], "label": header["label"], "nonce_prefix": header["nonce_prefix"]}
        if header.get("version") == 1 or header.get("aad"):
            fields["aad"] = aad.hex()
        new_header = json.dumps(fields | {"wrapped_key": wrap_key(new_master_key, data_key, label=header["label"]).hex()},
                                separators=(",", ":")).encode()
        temporary = path.with_name(f".{path.name}.{os.getpid()}.rewrap")
        try:
            with open(os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as target:
                target.write(MAGIC + struct.pack(">I", len(new_header)) + new_header)
                handle.seek(body_start)
                while block := handle.read(CHUNK * 4):
                    target.write(block)
                target.flush()
                os.fsync(target.fileno())
            os.replace(temporary, path)
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise
    _fsync_folder(path.parent)
    return True


def _fsync_folder(folder: Path) -> None:
    try:
        descriptor = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)
