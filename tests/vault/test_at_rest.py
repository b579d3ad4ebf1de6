"""A copy of the workspace, or a dump of its database, reveals no witness and no transcript."""

from __future__ import annotations

import shutil

import sqlalchemy as sa

from dadkhah.model import Base
from dadkhah.vault.evidence import add_evidence
from dadkhah.vault.testimony import add_testimony, show_testimony
from tests.conftest import TESTER, write
from tests.vault.conftest import make_persons

NAME_LATIN = "Synthetic Witness Zeta Qwertyuiop"
NAME_PERSIAN = "شاهد ساختگی زتا"
CONTACT = "synthetic-contact-7731@example.org"
INTERVIEWER = "Synthetic Interviewer Xylophone"
TRANSCRIPT = "The synthetic guard said the convoy left at dawn toward Khavaran (test sentence 4471)."
EVIDENCE_MARKER = b"SYNTHETIC EVIDENCE CONTENT 9917"
SECRETS = [NAME_LATIN, NAME_PERSIAN, CONTACT, INTERVIEWER, "convoy left at dawn", "test sentence 4471"]


def _fill(store, keys, tmp_path):
    persons = make_persons(store, tmp_path, count=1)
    for name in (NAME_LATIN, NAME_PERSIAN):
        add_testimony(store, keys, witness_name=name, witness_contact=CONTACT, interviewer=INTERVIEWER,
                      transcript=write(tmp_path / "t.txt", TRANSCRIPT + "\n"), language="en",
                      consent="investigators", about=persons, actor=TESTER)
    (tmp_path / "evidence.txt").write_bytes(EVIDENCE_MARKER * 1000)
    add_evidence(store, keys, [tmp_path / "evidence.txt"], about=persons, actor=TESTER)
    show_testimony(store, keys, "T-0001", reveal_witness=True, actor=TESTER)  # reading must not leave plaintext behind either


def _needles() -> list[bytes]:
    found = []
    for text in SECRETS:
        for encoding in ("utf-8", "utf-16-le", "utf-16-be"):
            found.append(text.encode(encoding))
    return found + [EVIDENCE_MARKER]


def test_a_copy_of_the_workspace_holds_no_witness_and_no_transcript(store, keys, tmp_path):
    _fill(store, keys, tmp_path)
    copy = tmp_path / "copied-workspace"
    shutil.copytree(store.workspace.path, copy)
    files = [p for p in copy.rglob("*") if p.is_file()]
    assert any(p.suffix == ".sealed" for p in files)
    for path in files:
        data = path.read_bytes()
        for needle in _needles():
            assert needle not in data, f"{needle[:30]!r} found in {path.relative_to(copy)}"


def test_a_dump_of_the_database_holds_no_witness_and_no_transcript(store, keys, tmp_path):
    _fill(store, keys, tmp_path)
    with store.engine.connect() as connection:
        dumped = []
        for table in Base.metadata.sorted_tables:
            for row in connection.execute(sa.select(table)):
                dumped.extend(value if isinstance(value, bytes) else str(value).encode("utf-8") for value in row)
    blob = b"\n".join(dumped)
    for needle in _needles():
        assert needle not in blob
