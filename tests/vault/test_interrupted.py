"""Evidence and case files when the process dies midway (SIGKILL): nothing is left that the next
opening of the workspace does not sweep, no plaintext outside it, and the same action then succeeds.

Each test kills a real process at a chosen point (benchmarks/crash_bench.py kills the commands at
random moments; these pin the moments it found)."""

from __future__ import annotations

import errno
import hashlib
import os
import subprocess
import sys
from pathlib import Path

import sqlalchemy as sa

from dadkhah.model import EvidenceItem
from dadkhah.store import open_store
from dadkhah.vault.casefile import export_casefile
from dadkhah.vault.evidence import add_evidence, get_evidence
from dadkhah.vault.verify import verify_casefile
from dadkhah.workspace import load_workspace
from tests.conftest import TESTER

MARKER = b"SYNTHETIC-PLAINTEXT-MARKER "

# Runs one action in a process of its own that kills itself (SIGKILL) at the point a scenario names.
SCRIPT = r'''
import errno, os, shutil, signal, sys
from dadkhah.audit import Actor
from dadkhah.store import open_store
from dadkhah.vault.keys import load_keys
from dadkhah.workspace import load_workspace
import dadkhah.vault.casefile as casefile
import dadkhah.vault.evidence as evidence

def die(*args, **kwargs):
    os.kill(os.getpid(), signal.SIGKILL)

scenario, path, url, argument, out = sys.argv[1:6]
workspace = load_workspace(path, database_url=url or None)
store = open_store(workspace)
keys = load_keys(workspace)
actor = Actor("tester", "cli")
if scenario == "evidence-before-commit":
    evidence.append_event = die  # after the sealed file was moved into the blob store
elif scenario == "evidence-after-commit":
    evidence._placed_kept = die  # committed, the note of the placed file not yet removed
elif scenario == "casefile-while-signing":
    casefile._sign = die  # every file of the case file written, decrypted
elif scenario == "casefile-copying-to-another-drive":
    rename = os.rename
    def other_drive(source, target):
        if os.path.abspath(source).startswith(str(workspace.path)) and not os.path.abspath(target).startswith(str(workspace.path)):
            raise OSError(errno.EXDEV, "Invalid cross-device link")
        return rename(source, target)
    os.rename = other_drive
    copytree = shutil.copytree
    def copy_then_die(source, target, *args, **kwargs):
        copytree(source, target, *args, **kwargs)
        if str(target).endswith(".partial"):  # the whole copy written, not yet renamed
            die()
    shutil.copytree = copy_then_die
if scenario.startswith("evidence"):
    evidence.add_evidence(store, keys, [argument], actor=actor)
else:
    casefile.export_casefile(store, keys, out, actor=actor, recipient="R", scope="investigators", everything=True)
'''


def _killed(scenario: str, store, argument: Path | str = "", out: Path | str = "") -> None:
    done = subprocess.run([sys.executable, "-c", SCRIPT, scenario, str(store.workspace.path),
                           store.workspace.database_url, str(argument), str(out)], capture_output=True, text=True)
    assert done.returncode == -9, done.stderr


def _reopened(store):
    return open_store(load_workspace(store.workspace.path, database_url=store.workspace.database_url))


def _sealed(store) -> list[Path]:
    return sorted(p for p in (store.workspace.path / "blobs").glob("*/*.sealed") if p.parent.name != "incoming")


def _evidence_file(tmp_path: Path) -> Path:
    path = tmp_path / "photo.bin"
    path.write_bytes(MARKER * 40000)
    return path


def test_evidence_killed_once_its_file_is_in_the_blob_store_leaves_no_orphan(store, keys, tmp_path):
    photo = _evidence_file(tmp_path)
    _killed("evidence-before-commit", store, photo)
    incoming = store.workspace.path / "blobs" / "incoming"
    assert len(_sealed(store)) == 1 and list(incoming.glob("*.placing")), "placed, and noted as placed"
    with _reopened(store) as reopened:
        assert reopened.swept["files"] >= 2  # the sealed file no row names, and what was on its way in
    assert _sealed(store) == [] and list(incoming.iterdir()) == []
    [item] = add_evidence(store, keys, [photo], actor=TESTER)
    assert item["id"] == "E-000001" and not item["already_held"]
    back = get_evidence(store, keys, "E-000001", tmp_path / "back.bin", actor=TESTER)
    assert back["verified"] and (tmp_path / "back.bin").read_bytes() == photo.read_bytes()


def test_evidence_killed_just_after_it_committed_keeps_its_file(store, keys, tmp_path):
    photo = _evidence_file(tmp_path)
    _killed("evidence-after-commit", store, photo)
    with _reopened(store) as reopened:
        assert reopened.swept["files"] == 0
        with reopened.session() as session:
            [row] = session.scalars(sa.select(EvidenceItem)).all()
    assert list((store.workspace.path / "blobs" / "incoming").glob("*.placing")) == [], "the note is swept"
    assert [p.relative_to(store.workspace.path).as_posix() for p in _sealed(store)] == [row.blob_path]
    assert get_evidence(store, keys, row.evidence_id, tmp_path / "back.bin", actor=TESTER)["verified"]


def test_a_sealed_file_already_in_place_is_never_overwritten(store, keys, tmp_path):
    """Another process adding the same file at the same moment seals it under its own key: neither may
    replace the other's file (one of the two transactions fails; the other's row must still open)."""
    photo = _evidence_file(tmp_path)
    sha = hashlib.sha256(photo.read_bytes()).hexdigest()
    theirs = store.workspace.path / "blobs" / sha[:2] / f"{sha}.sealed"
    theirs.parent.mkdir(parents=True)
    theirs.write_bytes(b"another process's sealed file")
    [item] = add_evidence(store, keys, [photo], actor=TESTER)
    assert theirs.read_bytes() == b"another process's sealed file"
    with store.session() as session:
        blob_path = session.scalar(sa.select(EvidenceItem.blob_path).where(EvidenceItem.evidence_id == item["id"]))
    assert blob_path != theirs.relative_to(store.workspace.path).as_posix()
    assert get_evidence(store, keys, item["id"], tmp_path / "back.bin", actor=TESTER)["verified"]


def test_a_case_file_killed_while_written_leaves_no_plaintext_outside_the_workspace(store, keys, tmp_path):
    add_evidence(store, keys, [_evidence_file(tmp_path)], actor=TESTER)
    handover = tmp_path / "handover"
    _killed("casefile-while-signing", store, out=handover / "un")
    assert list(handover.iterdir()) == [], "nothing beside the case file's folder"
    left = [p for p in store.workspace.private_dir.rglob("*") if p.is_file() and MARKER in p.read_bytes()[:64]]
    assert left, "the decrypted evidence was only ever in the private space"
    with _reopened(store) as reopened:
        assert reopened.swept["files"] >= 1
    assert list(store.workspace.private_dir.iterdir()) == []
    made = export_casefile(store, keys, handover / "un", actor=TESTER, recipient="R", scope="investigators",
                           everything=True)
    assert made["casefile"] == "C-0001" and verify_casefile(handover / "un")["valid"]


def test_a_case_file_killed_while_copied_to_another_drive_is_swept_from_there(store, keys, tmp_path):
    add_evidence(store, keys, [_evidence_file(tmp_path)], actor=TESTER)
    handover = tmp_path / "usb"
    _killed("casefile-copying-to-another-drive", store, out=handover / "court")
    [partial] = handover.iterdir()
    assert partial.name.startswith(".court.") and partial.name.endswith(".partial")
    with _reopened(store) as reopened:
        assert reopened.swept["files"] >= 2  # the copy beside the target, and the private folder
    assert list(handover.iterdir()) == [] and list(store.workspace.private_dir.iterdir()) == []


def test_a_case_file_for_another_drive_is_copied_then_renamed(store, keys, tmp_path, monkeypatch):
    add_evidence(store, keys, [_evidence_file(tmp_path)], actor=TESTER)
    rename = os.rename

    def other_drive(source, target):
        inside = str(store.workspace.path)
        if os.path.abspath(source).startswith(inside) and not os.path.abspath(target).startswith(inside):
            raise OSError(errno.EXDEV, "Invalid cross-device link")
        return rename(source, target)

    monkeypatch.setattr(os, "rename", other_drive)
    made = export_casefile(store, keys, tmp_path / "usb" / "court.zip", actor=TESTER, recipient="R",
                           scope="investigators", everything=True, as_zip=True)
    assert [p.name for p in (tmp_path / "usb").iterdir()] == ["court.zip"] and made["casefile"] == "C-0001"
    assert list(store.workspace.private_dir.iterdir()) == []


IMPORT_SCRIPT = r"""
import os, signal, sys
import dadkhah.ingest.importer as importer
from dadkhah.audit import Actor
from dadkhah.store import open_store
from dadkhah.workspace import load_workspace

publish = importer._publish
def publish_then_die(*args, **kwargs):  # the report has its name; the import has not committed
    publish(*args, **kwargs)
    os.kill(os.getpid(), signal.SIGKILL)
importer._publish = publish_then_die
importer.import_file(open_store(load_workspace(sys.argv[1], database_url=sys.argv[2] or None)), sys.argv[3],
                     source="killed", actor=Actor("tester", "cli"))
"""


def test_an_import_killed_before_its_commit_leaves_no_quarantine_report(store, tmp_path):
    """Found by benchmarks/crash_bench.py: the report took its name before the import committed, and a
    report no import names stayed (with the refused rows' cells) for an hour."""
    listed = tmp_path / "list.csv"
    listed.write_text("record_id,given_name,family_name\n1,Ali,Rezaei\n2,Reza\n", encoding="utf-8")
    done = subprocess.run([sys.executable, "-c", IMPORT_SCRIPT, str(store.workspace.path),
                           store.workspace.database_url or "", str(listed)], capture_output=True, text=True)
    assert done.returncode == -9, done.stderr
    quarantine = store.workspace.quarantine_dir
    assert any(p.suffix == ".csv" for p in quarantine.iterdir()), "killed after the report took its name"
    reopened = _reopened(store)
    try:
        assert reopened.swept["quarantine_reports"] == 1
        assert list(quarantine.iterdir()) == [], "no report, no note"
    finally:
        reopened.close()
