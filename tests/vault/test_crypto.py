"""Sealing: values and streams open only with their key and label, and any change is detected."""

from __future__ import annotations

import hashlib
import io
import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dadkhah.vault.crypto import (
    CHUNK,
    DecryptionError,
    blind_index,
    decrypt_stream,
    encrypt_stream,
    new_data_key,
    open_sealed,
    seal,
    unwrap_key,
    wrap_key,
)

MASTER = bytes(range(32))


def test_values_open_only_with_their_key_and_label():
    data_key = new_data_key()
    wrapped = wrap_key(MASTER, data_key, label="witness:W-0001")
    assert unwrap_key(MASTER, wrapped, label="witness:W-0001") == data_key
    with pytest.raises(DecryptionError):
        unwrap_key(MASTER, wrapped, label="witness:W-0002")
    sealed = seal(data_key, "نام شاهد".encode(), label="witness:W-0001:name")
    assert "نام شاهد".encode() not in sealed
    assert open_sealed(data_key, sealed, label="witness:W-0001:name").decode() == "نام شاهد"
    with pytest.raises(DecryptionError):
        open_sealed(data_key, sealed, label="witness:W-0001:contact")
    tampered = bytearray(sealed)
    tampered[-1] ^= 1
    with pytest.raises(DecryptionError):
        open_sealed(data_key, bytes(tampered), label="witness:W-0001:name")


@pytest.mark.parametrize("size", [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK + 5])
def test_streams_round_trip_and_hash_in_one_pass(tmp_path, size):
    data = os.urandom(size)
    data_key = new_data_key()
    target = tmp_path / "blob.sealed"
    with open(target, "wb") as handle:
        digest, written = encrypt_stream(io.BytesIO(data[100:]), handle, data_key=data_key, first=data[:100],
                                         wrapped_key=wrap_key(MASTER, data_key, label="blob:x"), label="blob:x")
    assert (digest, written) == (hashlib.sha256(data).hexdigest(), size)
    assert b"".join(decrypt_stream(target, master_key=MASTER)) == data
    if size >= 64:
        assert data[:64] not in target.read_bytes()


def _damage(path, how):
    raw = bytearray(path.read_bytes())
    header_end = 12 + int.from_bytes(raw[8:12], "big")
    body = raw[header_end:]
    step = CHUNK + 16
    if how == "flip":
        body[5] ^= 0x01
    elif how == "cut":
        body = body[:step]
    elif how == "swap":
        body = body[step:2 * step] + body[:step] + body[2 * step:]
    path.write_bytes(bytes(raw[:header_end] + body))


@pytest.mark.parametrize("how", ["flip", "cut", "swap"])
def test_altered_reordered_or_truncated_streams_are_refused(tmp_path, how):
    data = os.urandom(2 * CHUNK + 10)
    data_key = new_data_key()
    target = tmp_path / "blob.sealed"
    with open(target, "wb") as handle:
        encrypt_stream(io.BytesIO(data), handle, data_key=data_key, wrapped_key=wrap_key(MASTER, data_key, label="b"), label="b")
    _damage(target, how)
    with pytest.raises(DecryptionError, match="chunk"):
        b"".join(decrypt_stream(target, master_key=MASTER))


def test_another_master_key_opens_nothing(tmp_path):
    data_key = new_data_key()
    target = tmp_path / "blob.sealed"
    with open(target, "wb") as handle:
        encrypt_stream(io.BytesIO(b"evidence"), handle, data_key=data_key, wrapped_key=wrap_key(MASTER, data_key, label="b"), label="b")
    with pytest.raises(DecryptionError, match="master key"):
        b"".join(decrypt_stream(target, master_key=bytes(32)))


@settings(max_examples=30, deadline=None)
@given(st.text(min_size=1, max_size=40), st.text(min_size=1, max_size=40))
def test_blind_index_is_equal_exactly_for_equal_values(a, b):
    assert (blind_index(MASTER, a, purpose="p") == blind_index(MASTER, b, purpose="p")) == (a == b)
    assert blind_index(MASTER, a, purpose="p") != blind_index(bytes(32), a, purpose="p")
