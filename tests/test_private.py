"""The workspace is its owner's alone, plaintext passes only through its private space, and what
interrupted runs leave behind is swept (and said) when it is next opened."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dadkhah.errors import DadkhahError
from dadkhah.store import open_store
from dadkhah.vault.keys import create_keys, key_file_path, load_keys
from dadkhah.workspace import create_workspace, new_private_folder, private_space
from tests.cli.test_cli import run
from tests.conftest import write


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_a_workspace_is_its_owners_alone_whatever_the_umask(tmp_path):
    old = os.umask(0o022)
    try:
        workspace = create_workspace(tmp_path / "ws")
        with open_store(workspace):
            pass
    finally:
        os.umask(old)
    root = workspace.path
    assert {name: oct(_mode(root / name)) for name in (".", "blobs", "quarantine", "private")} == dict.fromkeys(
        (".", "blobs", "quarantine", "private"), "0o700")
    assert oct(_mode(root / "dadkhah.toml")) == "0o600" and oct(_mode(root / "dadkhah.db")) == "0o600"
    with private_space(workspace, "upload") as folder:
        assert folder.parent == workspace.private_dir and oct(_mode(folder)) == "0o700"
    assert not folder.exists()


def test_a_key_file_others_may_read_is_refused_with_the_fix(tmp_path):
    workspace = create_workspace(tmp_path / "ws")
    create_keys(workspace, key_file=tmp_path / "keys" / "case.key")
    workspace = workspace.reloaded()
    path = key_file_path(workspace)
    os.chmod(path, 0o644)
    with pytest.raises(DadkhahError, match=f"chmod 600 {path}"):
        load_keys(workspace)
    os.chmod(path, 0o600)
    assert load_keys(workspace).master_key


def test_leftovers_of_interrupted_runs_are_swept_and_counted(tmp_path, monkeypatch):
    monkeypatch.delenv("DADKHAH_DATABASE_URL", raising=False)
    assert run("init", str(tmp_path / "ws"), "--json").exit_code == 0
    workspace = create_workspace(tmp_path / "ws")
    dead, alive = _dead_pid(), os.getpid()
    incoming = workspace.blobs_dir / "incoming"
    incoming.mkdir()
    (incoming / f"{dead}-{'ab' * 16}.part").write_bytes(b"x" * 2048)
    (incoming / f"{alive}-{'cd' * 16}.part").write_bytes(b"in use")
    (workspace.quarantine_dir / f"list-import9-20261205T0000Z.csv.{dead}.part").write_text("line,reason\n")
    orphan = workspace.quarantine_dir / "list-import7-20261101T0000Z.csv"
    orphan.write_text("line,reason\n")
    os.utime(orphan, (time.time() - 7200, time.time() - 7200))
    recent = workspace.quarantine_dir / "list-import8-20261205T0000Z.csv"
    recent.write_text("line,reason\n")  # perhaps an import committing right now: left alone
    left = new_private_folder(workspace, "upload")
    (left / "victims.csv").write_text("plaintext")
    os.rename(left, left.with_name(left.name.replace(f"-{alive}-", f"-{dead}-")))
    mine = new_private_folder(workspace, "casefile")
    result = run("sources", "list", "--json", workspace=tmp_path / "ws")
    assert result.exit_code == 0 and json.loads(result.stdout) == []
    assert "Removed what interrupted runs left in the workspace: 3 temporary files or folders" in result.stderr
    assert "1 quarantine report no import names" in result.stderr
    assert sorted(p.name for p in incoming.iterdir()) == [f"{alive}-{'cd' * 16}.part"]
    assert sorted(p.name for p in workspace.quarantine_dir.iterdir()) == [recent.name]
    assert [p.name for p in workspace.private_dir.iterdir()] == [mine.name], "a live process's folder stays"
    again = run("sources", "list", "--json", workspace=tmp_path / "ws")
    assert "Removed" not in again.stderr


def test_what_the_commands_write_out_is_private(tmp_path, monkeypatch):
    monkeypatch.delenv("DADKHAH_DATABASE_URL", raising=False)
    ws = tmp_path / "ws"
    old = os.umask(0o022)
    try:
        assert run("init", str(ws), "--key-file", str(tmp_path / "keys" / "k.key")).exit_code == 0
        note = write(tmp_path / "note.txt", "synthetic evidence\n")
        assert run("evidence", "add", str(note), workspace=ws).exit_code == 0
        assert run("evidence", "get", "E-000001", "--out", str(tmp_path / "out.txt"), workspace=ws).exit_code == 0
        exported = run("export", "casefile", "--out", str(tmp_path / "case"), "--recipient", "R", "--scope",
                       "investigators", "--all", workspace=ws)
        assert exported.exit_code == 0, exported.output
    finally:
        os.umask(old)
    assert oct(_mode(tmp_path / "out.txt")) == "0o600"
    modes = {oct(_mode(p)) for p in [tmp_path / "case", *(tmp_path / "case").rglob("*")]}
    assert modes <= {"0o700", "0o600"}, modes
    blobs = [p for p in (ws / "blobs").rglob("*") if p.is_file()]
    assert blobs and {oct(_mode(p)) for p in blobs} == {"0o600"}
