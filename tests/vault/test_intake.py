"""Intake from field tools, on SQLite and PostgreSQL: files built exactly as ODK Central, KoboToolbox and
Tella write them; each submission once; all of a file or none of it; refusals in the quarantine report;
witnesses sealed; custody naming the tool, the submission and the capture."""

from __future__ import annotations

import csv
import hashlib
import json
import re
import zipfile

import pytest
import sqlalchemy as sa

from dadkhah import model
from dadkhah.audit import list_audit
from dadkhah.errors import InputError
from dadkhah.model import Base, EvidenceItem, Intake, IntakeSubmission, Record
from dadkhah.vault.custody import events_for, verify_chain
from dadkhah.vault.evidence import show_evidence
from dadkhah.vault.intake import intake_kobo, intake_odk, intake_tella, list_intakes, load_mapping
from dadkhah.vault.testimony import show_testimony
from tests.conftest import TESTER, write
from tests.vault.intake_files import (
    CONTACTS,
    INTERVIEWER,
    KOBO_MAPPING,
    ODK_MAPPING,
    STATEMENTS,
    WITNESSES,
    jpeg,
    kobo_files,
    kobo_json,
    kobo_submission,
    odk_submission,
    odk_zip,
    tella_file,
)


def _report(path: str) -> list[dict]:
    with open(path, encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


def _dump(store) -> bytes:
    """Every value of every table, as a database dump would hold them."""
    found = []
    with store.engine.connect() as connection:
        for table in Base.metadata.sorted_tables:
            for row in connection.execute(sa.select(table)):
                found.extend(v if isinstance(v, bytes) else str(v).encode("utf-8") for v in row)
    return b"\n".join(found)


SECRETS = [*WITNESSES, *CONTACTS, INTERVIEWER, "convoy left for the hills", "test sentence 5521", "جملهٔ آزمایشی ۵۵۲۲",
           "synthetic field phone 1", "SyntheticDevice1", "synthetic_enumerator", "synthetic-device-7a3f",
           "35.7000123", "10.0.0.77", "synthetic-net-1"]


def _assert_nothing_in_clear(store) -> None:
    blob = _dump(store)
    for secret in SECRETS:
        for encoding in ("utf-8", "utf-16-le"):
            assert secret.encode(encoding) not in blob, secret
    for report in store.workspace.quarantine_dir.glob("*.csv"):
        text = report.read_text(encoding="utf-8-sig")
        assert not any(s in text for s in SECRETS[:7]), report


# ----- ODK Central -------------------------------------------------------------------------------


def test_an_odk_export_is_taken_in_whole_then_once(store, keys, tmp_path):
    mapping = write(tmp_path / "odk.toml", ODK_MAPPING)
    export = odk_zip(tmp_path / "witness_statement.zip", [odk_submission(1), odk_submission(2), odk_submission(3)])
    summary = intake_odk(store, keys, export, mapping=mapping, actor=TESTER)
    assert (summary.rows, summary.imported, summary.already_held, summary.rejected) == (3, 3, 0, 0)
    assert summary.testimonies == ["T-0001", "T-0002", "T-0003"] and summary.evidence == ["E-000001", "E-000002", "E-000003"]
    assert summary.records == 3 and summary.source == "field-team-odk" and summary.form_id == "witness_statement"
    assert summary.rows == summary.imported + summary.already_held + summary.rejected

    with store.session() as session:
        records = session.execute(sa.select(Record.record_id, Record.given_name, Record.city_place_id, Record.death_earliest)
                                  .order_by(Record.line)).all()
        assert [r.record_id for r in records] == [f"uuid:6b1f0c2e-0000-4000-8000-{n:012d}/victims[1]" for n in (1, 2, 3)]
        assert records[0].given_name == "Reza" and records[0].city_place_id == "city:rasht"
        assert str(records[1].death_earliest) == "1988-07-30"  # 1367/05/08, Jalali
        taken = session.scalars(sa.select(IntakeSubmission).order_by(IntakeSubmission.line)).all()
        assert [(t.testimony_id, t.evidence_ids) for t in taken] == [("T-0001", ["E-000001"]), ("T-0002", ["E-000002"]),
                                                                     ("T-0003", ["E-000003"])]
        evidence = session.scalar(sa.select(EvidenceItem).where(EvidenceItem.evidence_id == "E-000001"))
        assert evidence.captured_at == "2024-03-01T09:40:51.000+03:30" and evidence.media_type == "image/jpeg"
        assert evidence.description == "photo taken with the statement"
        photo_events = events_for(session, "E-000001")
        testimony_events = events_for(session, "T-0001")
        assert verify_chain(session, keys)["valid"]
        actions = [e["action"] for e in list_audit(session, newest_first=False)]
    assert actions.count("field submissions taken in") == 1 and actions.count("list imported") == 1
    assert actions.count("testimony added") == 3 and actions.count("evidence added") == 3
    intake = photo_events[0]["details"]["intake"]
    assert intake["tool"] == "odk" and intake["submission"] == "uuid:6b1f0c2e-0000-4000-8000-000000000001"
    assert intake["form"] == "witness_statement" and intake["submitted_at"] == "2024-03-01T10:21:33.001Z"
    assert intake["answer"] == "photo" and intake["sealed"] == ["device_id", "submitter_id", "submitter_name"]
    assert testimony_events[0]["details"]["intake"]["submission"] == intake["submission"]

    shown = show_testimony(store, keys, "T-0001", reveal_witness=True, actor=TESTER)
    assert shown["transcript"] == STATEMENTS[0] and shown["witness_name"] == WITNESSES[0]
    assert shown["witness_contact"] == CONTACTS[0] and shown["interviewer"] == INTERVIEWER
    assert shown["consent"] == ["investigators", "courts"] and shown["language"] == "fa"
    metadata = show_evidence(store, keys, "E-000001", actor=TESTER)
    assert metadata["original_name"] == "1709634093101.jpg"
    assert metadata["metadata"]["intake"]["submitter_name"] == "synthetic field phone 1"
    _assert_nothing_in_clear(store)

    again = intake_odk(store, keys, export, mapping=mapping, actor=TESTER)
    assert again.nothing_new and (again.rows, again.imported, again.already_held, again.rejected) == (3, 0, 3, 0)
    # A later download holds the old submissions and a new one: only the new one is taken in.
    later = odk_zip(tmp_path / "later.zip", [odk_submission(1), odk_submission(2), odk_submission(3), odk_submission(4)])
    more = intake_odk(store, keys, later, mapping=mapping, actor=TESTER)
    assert (more.rows, more.imported, more.already_held, more.rejected) == (4, 1, 3, 0)
    assert more.testimonies == ["T-0004"] and more.records == 1
    with store.session() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(model.Testimony)) == 4
        assert session.scalar(sa.select(sa.func.count()).select_from(Record)) == 4
        assert session.scalar(sa.select(sa.func.count()).select_from(Intake)) == 2  # the run that added nothing left no row
        assert [i["imported"] for i in list_intakes(session)] == [1, 3]
        actions = [e["action"] for e in list_audit(session, newest_first=False)]
    assert actions.count("field submissions taken in") == 3


def test_a_submission_naming_a_witness_held_before_is_reported_and_keeps_the_earlier_contact(store, keys, tmp_path):
    """A field intake whose witness's name matches one recorded before says so, by line, testimony and
    witness; the witness's earlier contact is kept beside the new one, never replaced."""
    mapping = write(tmp_path / "odk.toml", ODK_MAPPING)
    intake_odk(store, keys, odk_zip(tmp_path / "first.zip", [odk_submission(1)]), mapping=mapping, actor=TESTER)
    later = odk_submission(4, **{"witness-name": WITNESSES[0].upper(), "witness-contact": "synthetic-contact-9999@example.org"})
    summary = intake_odk(store, keys, odk_zip(tmp_path / "later.zip", [later]), mapping=mapping, actor=TESTER)
    assert summary.testimonies == ["T-0002"]
    assert summary.matched_witnesses == [{"line": 2, "submission": later["KEY"], "testimony": "T-0002",
                                          "witness": "W-0001", "earlier_testimonies": ["T-0001"], "contact": "added"}]
    assert any("matched witness W-0001" in w and "nothing was replaced" in w for w in summary.warnings)
    assert show_testimony(store, keys, "T-0001", reveal_witness=True, actor=TESTER)["witness_contact"] == CONTACTS[0]
    assert show_testimony(store, keys, "T-0002", reveal_witness=True, actor=TESTER)["witness_contact"] == "synthetic-contact-9999@example.org"
    with store.session() as session:
        [taken] = [e for e in list_audit(session) if e["action"] == "field submissions taken in"][:1]
    assert taken["details"]["matched_witnesses"] == [{"testimony": "T-0002", "witness": "W-0001", "contact": "added"}]


def test_odk_refuses_a_submission_whole_and_reports_it_without_sealed_answers(store, keys, tmp_path):
    mapping = write(tmp_path / "odk.toml", ODK_MAPPING)
    submissions = [
        odk_submission(1),
        odk_submission(2, photo="1709634099999.jpg", AttachmentsPresent="0"),  # the photo never reached Central
        odk_submission(3, language="Farsi please"),
        odk_submission(4, victims=[("", "", "", "1988-07-30", "Rasht")]),  # a victim with no name
        odk_submission(5, ReviewState="rejected"),
        odk_submission(6, Status="not decrypted"),
    ]
    media = {"1709634093101.jpg": jpeg((1, 2, 3)), **{f"17096340931{n:02d}.jpg": jpeg((n, 9, 9)) for n in (3, 4, 5, 6)}}
    summary = intake_odk(store, keys, odk_zip(tmp_path / "w.zip", submissions, media=media), mapping=mapping,
                         actor=TESTER)
    assert (summary.rows, summary.imported, summary.rejected) == (6, 1, 5)
    reasons = {r["line"]: r for r in summary.rejections}
    assert "'1709634099999.jpg' (answer 'photo') is not in the export's media folder" in reasons[3]["reason"]
    assert "received 0 of the 1 files" in reasons[3]["reason"] and reasons[3]["field"] == "photo"
    assert reasons[4]["reason"].startswith("testimony.language: takes a language code") and reasons[4]["field"] == "language"
    assert "no name" in reasons[5]["reason"]
    assert "rejected in ODK Central's review" in reasons[6]["reason"]
    assert "not decrypted" in reasons[7]["reason"]
    rows = _report(summary.quarantine)
    assert [int(r["line"]) for r in rows] == [3, 4, 5, 6, 7]
    assert rows[1]["witness-name"] == "(sealed: not written here)" and rows[1]["language"] == "Farsi please"
    assert "statement" in rows[0] and all(r["statement"] == "(sealed: not written here)" for r in rows)
    with store.session() as session:  # the refused submissions left nothing behind
        assert session.scalar(sa.select(sa.func.count()).select_from(model.Testimony)) == 1
        assert session.scalar(sa.select(sa.func.count()).select_from(Record)) == 1
        assert session.scalar(sa.select(sa.func.count()).select_from(EvidenceItem)) == 1
        assert session.scalar(sa.select(Intake.quarantine_path)) == summary.quarantine
    _assert_nothing_in_clear(store)


def test_a_failure_midway_leaves_nothing_and_no_report(store, keys, tmp_path, monkeypatch):
    mapping = write(tmp_path / "odk.toml", ODK_MAPPING)
    submissions = [odk_submission(1), odk_submission(2, language="??")]
    export = odk_zip(tmp_path / "w.zip", submissions)
    import dadkhah.vault.intake.take as take

    def broken(*args, **kwargs):
        raise OSError("disk full (simulated)")

    monkeypatch.setattr(take, "add_evidence_in", broken)
    with pytest.raises(OSError, match="simulated"):
        intake_odk(store, keys, export, mapping=mapping, actor=TESTER)
    with store.session() as session:
        for table in (model.Testimony, Record, Intake, IntakeSubmission, EvidenceItem):
            assert session.scalar(sa.select(sa.func.count()).select_from(table)) == 0
        assert verify_chain(session, keys)["valid"]
    assert not list(store.workspace.quarantine_dir.glob("*")) and not list((store.workspace.path / "private").iterdir())


def test_a_bad_mapping_is_refused_naming_the_file_and_the_key(store, keys, tmp_path):
    export = odk_zip(tmp_path / "w.zip", [odk_submission(1)])
    cases = {
        "typo.toml": (ODK_MAPPING.replace('witness_name = "witness-name"', 'witness_name = "witness-nmae"'),
                      "testimony.witness_name", "'witness-nmae', which this export does not have"),
        "unknown.toml": (ODK_MAPPING + '\n[testimony.extra]\n', "testimony.extra", "unknown key 'extra'"),
        "required.toml": (ODK_MAPPING.replace('language = "language"\n', ""), "testimony.language", "is required"),
        "fixed.toml": (ODK_MAPPING.replace('witness_name = "witness-name"', 'witness_name = { value = "Someone" }'),
                       "testimony.witness_name", "never from the mapping"),
        "noname.toml": ("[record]\ncity = \"city\"\n", "record", "needs a name"),
        "repeat.toml": (ODK_MAPPING.replace('repeat = "victims"', 'repeat = "victim"'), "record.repeat",
                        "repeat group 'victim'"),
        "calendar.toml": (ODK_MAPPING.replace('death_date = "death_date"',
                                              'death_date = { field = "death_date", calendar = "persian" }'),
                          "record.death_date", "calendar must be one of"),
        "empty.toml": ("source = \"x\"\n", "mapping", "says nothing to take in"),
        "broken.toml": ("[testimony\n", "mapping", "not valid TOML"),
    }
    for name, (text, key, message) in cases.items():
        path = write(tmp_path / name, text)
        with pytest.raises(InputError) as caught:
            intake_odk(store, keys, export, mapping=path, actor=TESTER)
        assert caught.value.file == str(path) and caught.value.field == key, name
        assert message in caught.value.message, (name, caught.value.message)
    with pytest.raises(InputError, match="mapping file not found"):
        load_mapping(tmp_path / "missing.toml")
    with store.session() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(Intake)) == 0


def test_an_odk_zip_that_is_not_a_submissions_download_is_refused(store, keys, tmp_path):
    mapping = write(tmp_path / "odk.toml", ODK_MAPPING)
    import zipfile

    with zipfile.ZipFile(tmp_path / "other.zip", "w") as archive:
        archive.writestr("list.csv", "name,city\nReza,Rasht\n")
    with pytest.raises(InputError, match="holds no submissions table"):
        intake_odk(store, keys, tmp_path / "other.zip", mapping=mapping, actor=TESTER)
    with pytest.raises(InputError, match="is not a ZIP file"):
        intake_odk(store, keys, write(tmp_path / "not.zip", "hello"), mapping=mapping, actor=TESTER)


def _edited_download(folder, table: str, edit) -> None:
    """``folder/edited.zip``: a download of two submissions whose ``table`` was changed by ``edit``
    (its bytes in, the edited bytes out), as a hand-edited or damaged download would be."""
    good = odk_zip(folder / "good.zip", [odk_submission(1), odk_submission(2)])
    with zipfile.ZipFile(good) as archive, zipfile.ZipFile(folder / "edited.zip", "w") as edited:
        for info in archive.infolist():
            data = archive.read(info)
            edited.writestr(info, edit(data) if info.filename == table else data)


def test_an_odk_table_with_a_quote_never_closed_is_refused_naming_it(store, keys, tmp_path):
    """Central quotes its cells itself, but a download edited by hand may not: a quote opened and never
    closed would read every row after it into one cell; the download is refused, naming the table."""
    mapping = write(tmp_path / "odk.toml", ODK_MAPPING)
    def quote_left_open(data: bytes) -> bytes:
        text = data.decode("utf-8")
        cut = text.rindex("synthetic field phone 1")  # in the last submission's row
        return (text[:cut] + '"' + text[cut:]).encode("utf-8")

    _edited_download(tmp_path, "witness_statement.csv", quote_left_open)
    with pytest.raises(InputError, match="witness_statement.csv in the ZIP: a quote") as refused:
        intake_odk(store, keys, tmp_path / "edited.zip", mapping=mapping, actor=TESTER)
    # the line the row begins on in the file (the first statement holds a line break: it spans lines 2 and 3)
    assert refused.value.file == str(tmp_path / "edited.zip") and refused.value.line == 4
    with store.session() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(Record)) == 0, "nothing taken in"


@pytest.mark.parametrize(("key", "words"), [
    ("uuid:99/victims[1]", "names the submission 'uuid:99', which is not in witness_statement.csv"),
    ("", "has no KEY, so it names no submission"),
])
def test_an_odk_repeat_row_of_no_submission_is_refused_not_dropped(store, keys, tmp_path, key, words):
    """A victim named in the repeat group's table under a submission the download does not hold was
    left out without a word: not taken in, not refused, in no report."""
    mapping = write(tmp_path / "odk.toml", ODK_MAPPING)
    _edited_download(tmp_path, "witness_statement-victims.csv",
                     lambda data: data + f"Orphan,Testi,,1988-09-01,Tehran,{key.split('/')[0]},{key}\n".encode())
    with pytest.raises(InputError, match=re.escape(words)) as refused:
        intake_odk(store, keys, tmp_path / "edited.zip", mapping=mapping, actor=TESTER)
    assert (refused.value.file, refused.value.line, refused.value.field) == (str(tmp_path / "edited.zip"), 4, "KEY")
    assert "witness_statement-victims.csv (inside the ZIP), line 4" in refused.value.message
    with store.session() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(Record)) == 0, "nothing taken in"


def test_odk_attachments_are_held_to_the_workspaces_decompressed_limit(store, keys, tmp_path):
    """A few hundred kilobytes of ZIP became a 300 MB sealed item: ODK's media had only a free-disk
    check, while a Tella ZIP is held to import.max_uncompressed_mb."""
    from dadkhah.errors import LimitExceeded

    mapping = write(tmp_path / "odk.toml", ODK_MAPPING)
    first = odk_submission(1)
    bomb = odk_zip(tmp_path / "bomb.zip", [first], media={first["photo"]: b"\0" * (2 * 2**20)})
    assert bomb.stat().st_size < 64 * 1024
    store.workspace.config.setdefault("import", {})["max_uncompressed_mb"] = 1
    with pytest.raises(LimitExceeded, match="attachments decompress to more than this workspace's limit of 1 MB") as refused:
        intake_odk(store, keys, bomb, mapping=mapping, actor=TESTER)
    assert refused.value.file == str(bomb) and first["photo"] in refused.value.message
    with store.session() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(Record)) == 0, "nothing taken in"


# ----- KoboToolbox -------------------------------------------------------------------------------


def test_a_kobo_export_with_its_files_is_taken_in_then_once(store, keys, tmp_path):
    mapping = write(tmp_path / "kobo.toml", KOBO_MAPPING)
    items = [kobo_submission(1), kobo_submission(2, consent="all"), kobo_submission(3)]
    data = kobo_json(tmp_path / "data.json", items)
    kobo_files(tmp_path / "attachments", items[:2])  # under Kobo's own paths
    kobo_files(tmp_path / "attachments", items[2:], nested=False)  # by name alone
    summary = intake_kobo(store, keys, data, mapping=mapping, attachments=tmp_path / "attachments", actor=TESTER)
    assert (summary.rows, summary.imported, summary.already_held, summary.rejected) == (3, 3, 0, 0), summary.rejections
    assert summary.form_id == "aSyntheticAsset000000001" and summary.records == 3
    with store.session() as session:
        consents = session.scalars(sa.select(model.Testimony.consent).order_by(model.Testimony.id)).all()
        assert consents == [["investigators", "courts"], ["investigators", "courts", "public"], ["investigators", "courts"]]
        assert session.scalars(sa.select(Record.record_id).order_by(Record.line)).all() == [
            f"2c9d8e7f-0000-4000-9000-{n:012d}" for n in (1, 2, 3)]
        event = events_for(session, "E-000002")[0]["details"]["intake"]
    assert event["tool"] == "kobo" and event["kobo_id"] == "700002" and event["media_type"] == "image/jpeg"
    assert event["submitted_at"] == "2024-04-02T08:16:22" and event["sealed"] == ["submitted_by"]
    _assert_nothing_in_clear(store)

    again = intake_kobo(store, keys, data, mapping=mapping, attachments=tmp_path / "attachments", actor=TESTER)
    assert again.nothing_new and (again.imported, again.already_held) == (0, 3)
    # The same submission edited since (a new _uuid, the same rootUuid) is not taken in twice; it is said.
    edited = kobo_submission(1, _uuid="2c9d8e7f-0000-4000-9000-0000000000ff")
    changed = intake_kobo(store, keys, kobo_json(tmp_path / "edited.json", [edited, kobo_submission(4)], paged=False),
                          mapping=mapping, attachments=tmp_path / "attachments", actor=TESTER)
    assert (changed.imported, changed.already_held, changed.rejected) == (0, 1, 1)
    assert changed.changed_since[0]["now"] == "2c9d8e7f-0000-4000-9000-0000000000ff"
    assert "edited since intake" in changed.warnings[0]
    [refusal] = changed.rejections
    assert "'photo-10_24_33.jpg' (answer 'photo') is not among the attachment files" in refusal["reason"]


def test_a_kobo_submission_whose_attachment_is_missing_is_refused(store, keys, tmp_path):
    mapping = write(tmp_path / "kobo.toml", KOBO_MAPPING)
    items = [kobo_submission(1), kobo_submission(2)]
    kobo_files(tmp_path, items[:1], nested=False)
    summary = intake_kobo(store, keys, kobo_json(tmp_path / "data.json", items, next_page="https://kf.example/?page=2"),
                          mapping=mapping, actor=TESTER)
    assert (summary.rows, summary.imported, summary.rejected) == (2, 1, 1)
    assert "one page of a longer answer" in summary.warnings[0]
    [row] = _report(summary.quarantine)
    assert row["submission"] == "2c9d8e7f-0000-4000-9000-000000000002" and row["field"] == "photo"
    assert "is not among the attachment files" in row["reason"]
    assert row["witness/name"] == "(sealed: not written here)" and row["victim/given_name"] == "علی"
    _assert_nothing_in_clear(store)
    # The file put in place, the same export takes in the refused submission, and only it.
    kobo_files(tmp_path, items[1:], nested=False)
    retried = intake_kobo(store, keys, tmp_path / "data.json", mapping=mapping, actor=TESTER)
    assert (retried.imported, retried.already_held, retried.rejected) == (1, 1, 0)


def test_kobo_refuses_what_is_not_its_data(store, keys, tmp_path):
    mapping = write(tmp_path / "kobo.toml", KOBO_MAPPING)
    with pytest.raises(InputError, match="is not KoboToolbox's data"):
        intake_kobo(store, keys, write(tmp_path / "x.json", '{"a": 1}'), mapping=mapping, actor=TESTER)
    with pytest.raises(InputError, match="not valid JSON"):
        intake_kobo(store, keys, write(tmp_path / "y.json", '[{"a": '), mapping=mapping, actor=TESTER)
    typo = write(tmp_path / "typo.toml", KOBO_MAPPING.replace('"witness/name"', '"witness-name"'))
    with pytest.raises(InputError) as caught:
        intake_kobo(store, keys, kobo_json(tmp_path / "d.json", [kobo_submission(1)]), mapping=typo, actor=TESTER)
    assert caught.value.field == "testimony.witness_name" and "no submission in this export answers" in caught.value.message


# ----- Tella -------------------------------------------------------------------------------------


def test_files_shared_from_tella_are_checked_against_their_hash(store, keys, tmp_path):
    folder = tmp_path / "tella"
    tella_file(folder, "IMG_20240305_102133.jpg", jpeg((5, 50, 150)))
    tella_file(folder, "VID_20240305_103000.mp4", b"\x00\x00\x00\x18ftypmp42 synthetic video bytes" * 50,
               timestamp=1709635800000)
    changed = tella_file(folder, "IMG_20240305_104500.jpg", jpeg((99, 1, 1)))
    changed.write_bytes(jpeg((99, 1, 2)))  # altered after Tella recorded it
    (folder / "AUDIO_unshared.m4a").write_bytes(b"synthetic audio without verification information")
    summary = intake_tella(store, keys, folder, source="field-team-tella", description="shared from Tella",
                           actor=TESTER)
    assert (summary.rows, summary.imported, summary.rejected) == (4, 2, 2)
    reasons = {r["field"]: r["reason"] for r in summary.rejections}
    assert "the SHA-256 of IMG_20240305_104500.jpg is" in reasons["File hash"]
    assert "not the " in reasons["File hash"] and "changed after Tella recorded it" in reasons["File hash"]
    assert "no verification information from Tella" in reasons["File name"]
    with store.session() as session:
        items = session.scalars(sa.select(EvidenceItem).order_by(EvidenceItem.id)).all()
        assert [i.captured_at for i in items] == ["2024-03-05T10:21:33.123+00:00", "2024-03-05T10:50:00.000+00:00"]
        assert all(i.description == "shared from Tella" for i in items)
        details = events_for(session, items[0].evidence_id)[0]["details"]
        ids = session.scalars(sa.select(IntakeSubmission.submission_id)).all()
    assert details["intake"]["sha256_matches"] and details["intake"]["manufacturer"] == "SyntheticPhones"
    assert details["intake"]["declared_sha256"] == details["sha256"] and details["intake"]["tool"] == "tella"
    assert {"Location latitude", "Device ID", "IPv4", "WiFis", "Cells"} <= set(details["intake"]["sealed"])
    assert "35.7000123" not in json.dumps(details)
    assert sorted(ids) == sorted(f"sha256:{i.sha256}" for i in items)
    shown = show_evidence(store, keys, items[0].evidence_id, actor=TESTER)
    assert shown["metadata"]["intake"]["Location latitude"] == "35.7000123"
    assert shown["original_name"] == "IMG_20240305_102133.jpg"
    rows = _report(summary.quarantine)
    assert {r["File name"] for r in rows} == {"IMG_20240305_104500.jpg", "AUDIO_unshared.m4a"}
    _assert_nothing_in_clear(store)

    again = intake_tella(store, keys, folder, source="field-team-tella", actor=TESTER)
    assert (again.imported, again.already_held, again.rejected) == (0, 2, 2) and not again.nothing_new


def test_a_tella_folder_without_verification_information_is_refused(store, keys, tmp_path):
    (tmp_path / "photo.jpg").write_bytes(jpeg((1, 1, 1)))
    with pytest.raises(InputError, match="holds no verification information from Tella"):
        intake_tella(store, keys, tmp_path, actor=TESTER)
    with pytest.raises(InputError, match="takes some of"):
        tella_file(tmp_path / "t", "a.jpg", jpeg((2, 2, 2)))
        intake_tella(store, keys, tmp_path / "t", release="everyone", actor=TESTER)


def test_the_same_file_through_two_tools_is_one_evidence_item(store, keys, tmp_path):
    """A photo taken in from Tella and again from an ODK export is kept once; custody records both."""
    data = jpeg((7, 7, 7))
    tella_file(tmp_path / "tella", "1709634093101.jpg", data)
    intake_tella(store, keys, tmp_path / "tella", actor=TESTER)
    mapping = write(tmp_path / "odk.toml", ODK_MAPPING)
    intake_odk(store, keys, odk_zip(tmp_path / "w.zip", [odk_submission(1)], media={"1709634093101.jpg": data}),
               mapping=mapping, actor=TESTER)
    with store.session() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(EvidenceItem)) == 1
        events = events_for(session, "E-000001")
    assert [(e["action"], e["details"]["intake"]["tool"]) for e in events] == [("added", "tella"),
                                                                              ("submitted again", "odk")]
    assert events[0]["details"]["sha256"] == hashlib.sha256(data).hexdigest()


def test_a_transcript_from_an_attached_file_and_a_submission_without_victims(store, keys, tmp_path):
    text = ODK_MAPPING.replace('transcript = "statement"', 'transcript_file = "recording"')
    with pytest.raises(InputError, match="a sealed answer of the testimony") as caught:
        load_mapping(write(tmp_path / "both.toml", text))  # a transcript is not evidence too: consent would not follow it
    assert caught.value.field == "evidence.attachments"
    mapping = write(tmp_path / "odk.toml", text.replace('attachments = ["photo", "recording"]', 'attachments = ["photo"]'))
    statement = "Synthetic statement read from a file (test sentence 5521).\n".encode("utf-16")
    submissions = [odk_submission(1, recording="1709634100001.txt", victims=[]),
                   odk_submission(2, recording="1709634100002.txt", AttachmentsExpected="2")]
    media = {"1709634093101.jpg": jpeg((1, 2, 3)), "1709634093102.jpg": jpeg((3, 2, 1)),
             "1709634100001.txt": statement}
    summary = intake_odk(store, keys, odk_zip(tmp_path / "w.zip", submissions, media=media), mapping=mapping,
                         actor=TESTER)
    assert (summary.imported, summary.rejected, summary.records) == (1, 1, 0)  # no victims: no record, no refusal
    assert "'1709634100002.txt' (answer 'recording')" in summary.rejections[0]["reason"]
    assert "received 1 of the 2 files" in summary.rejections[0]["reason"]
    shown = show_testimony(store, keys, "T-0001", actor=TESTER)
    assert shown["transcript"] == "Synthetic statement read from a file (test sentence 5521).\n"
    assert summary.evidence == ["E-000001"]
    _assert_nothing_in_clear(store)


def test_hostile_paths_are_not_followed_and_a_file_described_twice_is_taken_once(store, keys, tmp_path):
    mapping = write(tmp_path / "kobo.toml", KOBO_MAPPING)
    outside = tmp_path / "outside.jpg"
    outside.write_bytes(jpeg((9, 9, 9)))
    item = kobo_submission(1, photo="outside.jpg")
    item["_attachments"][0].update(filename="../outside.jpg", media_file_basename="outside.jpg")
    (tmp_path / "files").mkdir()
    (tmp_path / "files" / "outside.jpg").symlink_to(outside)
    summary = intake_kobo(store, keys, kobo_json(tmp_path / "files" / "d.json", [item]), mapping=mapping, actor=TESTER)
    assert summary.rejected == 1 and "is not among the attachment files" in summary.rejections[0]["reason"]

    folder = tmp_path / "tella"
    tella_file(folder, "IMG_1.jpg", jpeg((4, 4, 4)))
    (folder / "IMG_1 copy.csv").write_bytes((folder / "IMG_1.csv").read_bytes())  # the same file described twice
    (folder / "linked.jpg").symlink_to(outside)
    shared = intake_tella(store, keys, folder, actor=TESTER)
    assert (shared.rows, shared.imported, shared.rejected) == (3, 1, 2)
    reasons = sorted(r["reason"] for r in shared.rejections)
    assert reasons[0].startswith("is a symbolic link") and reasons[1].startswith("repeats the submission on line")


def test_a_submission_rejected_in_review_after_it_was_taken_in_is_reported_not_undone(store, keys, tmp_path):
    mapping = write(tmp_path / "odk.toml", ODK_MAPPING)
    intake_odk(store, keys, odk_zip(tmp_path / "a.zip", [odk_submission(1)]), mapping=mapping, actor=TESTER)
    later = intake_odk(store, keys, odk_zip(tmp_path / "b.zip", [odk_submission(1, ReviewState="rejected")]),
                       mapping=mapping, actor=TESTER)
    assert later.nothing_new and (later.already_held, later.rejected) == (1, 0)
    assert "taken in by intake 1, would now be refused: rejected in ODK Central's review" in later.warnings[0]


def test_an_intakes_quarantine_report_is_kept_when_the_workspace_is_swept(store, keys, tmp_path):
    import os
    import time

    from dadkhah.store import open_store

    mapping = write(tmp_path / "odk.toml", ODK_MAPPING)
    summary = intake_odk(store, keys, odk_zip(tmp_path / "w.zip", [odk_submission(1, language="??")]),
                         mapping=mapping, actor=TESTER)
    old = time.time() - 7200
    os.utime(summary.quarantine, (old, old))
    with open_store(store.workspace) as reopened:
        assert reopened.swept["quarantine_reports"] == 0
    assert _report(summary.quarantine)[0]["field"] == "language"


def test_the_synthetic_cases_field_export_is_taken_in_with_its_own_mapping(store, keys, tmp_path):
    """What `make demo` takes in: the generator's ODK Central download, with the mapping written beside it."""
    from dadkhah.synth import generate_case

    case = generate_case(tmp_path / "case", victims=40, lists=2, seed=3)
    field = tmp_path / "case" / "field"
    assert case.field == str(field)
    summary = intake_odk(store, keys, field / "witness_statement.zip", mapping=field / "odk-mapping.toml",
                         actor=TESTER)
    assert (summary.rows, summary.imported, summary.rejected) == (6, 6, 0)
    with store.session() as session:
        records = session.scalar(sa.select(sa.func.count()).select_from(Record))
        evidence = session.scalar(sa.select(sa.func.count()).select_from(EvidenceItem))
    assert evidence == 6 and 6 <= records <= 12, "a photo per statement, one or two victims named in each"
    again = intake_odk(store, keys, field / "witness_statement.zip", mapping=field / "odk-mapping.toml", actor=TESTER)
    assert (again.imported, again.already_held) == (0, 6)
