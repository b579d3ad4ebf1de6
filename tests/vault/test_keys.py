"""Keys live outside the workspace, optionally behind a passphrase, and refuse every misuse clearly."""

from __future__ import annotations

import json
import os
import stat

import pytest

from dadkhah.vault.keys import (
    VaultKeyError,
    create_keys,
    key_file_path,
    load_keys,
    load_public_keys,
)
from dadkhah.workspace import create_workspace, load_workspace


@pytest.fixture
def workspace(tmp_path, monkeypatch):
    monkeypatch.delenv("DADKHAH_DATABASE_URL", raising=False)
    return create_workspace(tmp_path / "ws")


def test_keys_are_created_once_outside_the_workspace(workspace):
    created = create_keys(workspace)
    reloaded = load_workspace(workspace.path)
    path = key_file_path(reloaded)
    assert created["created"] and path.is_file() and not path.resolve().is_relative_to(workspace.path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert reloaded.config["vault"]["fingerprint"] == created["fingerprint"].strip()
    keys = load_keys(reloaded)
    assert len(keys.master_key) == 32 and keys.fingerprint == created["fingerprint"]
    assert keys.master_key.hex() not in repr(keys)
    again = create_keys(reloaded)
    assert not again["created"] and again["fingerprint"] == created["fingerprint"]
    # Nothing secret is written into the workspace's configuration.
    secret = json.loads(path.read_text())["secrets"]["plain"]
    assert secret not in reloaded.config_path.read_text()


def test_a_key_file_inside_the_workspace_is_refused(workspace):
    with pytest.raises(VaultKeyError, match="must not be inside the workspace"):
        create_keys(workspace, key_file=workspace.path / "keys" / "k.key")


def test_a_key_file_moved_into_the_workspace_is_refused(workspace, monkeypatch):
    create_keys(workspace)
    reloaded = load_workspace(workspace.path)
    inside = workspace.path / "moved.key"
    inside.write_bytes(key_file_path(reloaded).read_bytes())
    monkeypatch.setenv("DADKHAH_KEY_FILE", str(inside))
    with pytest.raises(VaultKeyError, match="move it out"):
        load_keys(reloaded)


def test_passphrase_protects_the_key_file(workspace, tmp_path):
    created = create_keys(workspace, key_file=tmp_path / "elsewhere" / "case.key", passphrase="long enough words")
    reloaded = load_workspace(workspace.path)
    assert created["protected"] and "long enough words" not in (tmp_path / "elsewhere" / "case.key").read_text()
    with pytest.raises(VaultKeyError, match="protected by a passphrase"):
        load_keys(reloaded)
    with pytest.raises(VaultKeyError, match="wrong passphrase"):
        load_keys(reloaded, passphrase="not it")
    assert load_keys(reloaded, passphrase="long enough words").fingerprint == created["fingerprint"]
    assert load_public_keys(reloaded).fingerprint == created["fingerprint"]  # verifying needs no passphrase


def test_missing_foreign_and_altered_key_files_are_named(workspace, tmp_path, monkeypatch):
    create_keys(workspace)
    reloaded = load_workspace(workspace.path)
    path = key_file_path(reloaded)
    other = create_workspace(tmp_path / "other")
    create_keys(other)
    monkeypatch.setenv("DADKHAH_KEY_FILE", str(key_file_path(load_workspace(other.path))))
    with pytest.raises(VaultKeyError, match="belongs to another workspace"):
        load_keys(reloaded)
    monkeypatch.delenv("DADKHAH_KEY_FILE")
    document = json.loads(path.read_text())
    document["public_key"] = json.loads(key_file_path(load_workspace(other.path)).read_text())["public_key"]
    path.write_text(json.dumps(document))
    with pytest.raises(VaultKeyError, match="altered"):
        load_keys(reloaded)
    os.remove(path)
    with pytest.raises(VaultKeyError, match="missing. Restore it from your backup"):
        load_keys(reloaded)
