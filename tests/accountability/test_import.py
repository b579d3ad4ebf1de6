"""Importing accountability files: counts, refusals naming the field, idempotence, versions and conflicts."""

from __future__ import annotations

import csv

import pytest
import sqlalchemy as sa

from dadkhah.accountability import add_claim, import_accountability, review_claim
from dadkhah.accountability.queries import show_official
from dadkhah.errors import InputError
from dadkhah.model import AuditEvent, Claim, ClaimCitation, Entity
from tests.accountability.conftest import FILES, REFUSED, write_set
from tests.conftest import TESTER


def test_import_counts_every_row_and_names_the_field_of_each_refusal(victims, accountability_set):
    summary = import_accountability(victims, accountability_set, actor=TESTER, source="report-1")
    assert not summary.already_imported
    for name, text in FILES.items():
        counts = summary.files[name]
        rows = len(text.strip().splitlines()) - 1
        assert counts["rows"] == rows == counts["imported"] + counts["rejected"], name
        assert counts["rejected"] == len(REFUSED.get(name, ())), name
    for name, refused in REFUSED.items():
        with open(summary.quarantine[name], encoding="utf-8-sig") as handle:
            found = {(int(row["line"]), row["field"]) for row in csv.DictReader(handle)}
        assert found == refused, name
    assert summary.rows == summary.imported + summary.rejected
    assert {"file": "acts.csv", "line": 4, "field": "place"} == {k: summary.warnings[0][k] for k in ("file", "line", "field")}
    with victims.session() as session:
        ids = dict(session.execute(sa.select(Entity.external_id, Entity.entity_id)).all())
        # the refused institution with an unknown parent left no entity behind
        assert "ORPH" not in ids and "BAD" not in ids
        assert ids["JUD"].startswith("I-") and ids["OF1"].startswith("O-") and ids["A1"].startswith("A-")
        assert ids["G-HID"].startswith("S-")
        # extra columns are kept as given
        relation = session.scalar(sa.select(Claim).where(Claim.kind == "relation", Claim.line == 3))
        assert relation.data == {"extra": {"note": "seasonal"}}
        event = session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "accountability imported"))
        assert event is not None and event.object_id == str(summary.import_id)


def test_the_quarantine_reports_outlive_the_next_command(victims, accountability_set):
    """Every command begins by sweeping what interrupted runs left; an accountability import's reports
    are its own, not a dead import's (the sweep removed them: the refused rows were lost)."""
    import os

    from dadkhah.store import sweep_leftovers

    summary = import_accountability(victims, accountability_set, actor=TESTER, source="report-1")
    reports = sorted(summary.quarantine.values())
    assert reports and all(os.path.isfile(r) for r in reports), reports
    folder = victims.workspace.quarantine_dir
    assert not list(folder.glob("*.naming")), "the import says it has named them"
    for report in reports:  # as an earlier version left them: the note of a process now gone
        (folder / f"{os.path.basename(report)}.999999999.naming").touch()
    sweep_leftovers(victims)
    assert all(os.path.isfile(r) for r in reports) and not list(folder.glob("*.naming"))


def test_importing_the_same_files_again_adds_nothing(victims, accountability_set, tmp_path):
    first = import_accountability(victims, accountability_set, actor=TESTER, source="report-1")
    again = import_accountability(victims, accountability_set, actor=TESTER, source="report-1")
    assert again.already_imported and again.import_id == first.import_id
    # the same rows in other bytes (a row moved, a file dropped) are the same claims
    files = dict(FILES)
    files["posts.csv"] = files["posts.csv"].replace("\r\n", "\n") + "\n"
    del files["burials.csv"]
    moved = import_accountability(victims, write_set(tmp_path / "moved", files), actor=TESTER, source="report-1")
    assert not moved.already_imported
    assert moved.claims["added"] == 0 and moved.claims["superseded"] == 0 and moved.claims["conflicts"] == 0
    with victims.session() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(Claim)) == first.claims["added"]


def test_a_second_source_corroborates_or_conflicts_and_a_correction_supersedes(victims, accountability_set, tmp_path):
    import_accountability(victims, accountability_set, actor=TESTER, source="report-1")
    other = write_set(tmp_path / "other", {
        "posts.csv": "official_id,institution_id,role,from,to,locator\n"
                     "OF2,COM-G,prosecutor,1988-07-20,1988-09-30,ch. 3\n"   # agrees
                     "OF1,COM-G,judge,1988-08-01,1988-09-30,ch. 4\n",        # other dates: a conflict
        "involvements.csv": "act_id,actor_id,degree,likelihood,locator\nA1,OF1,gave-orders,likely,ch. 5\n",
    })
    summary = import_accountability(victims, other, actor=TESTER, source="report-2")
    assert summary.claims["corroborated"] == 1 and summary.claims["conflicts"] == 2
    with victims.session() as session:
        dossier = show_official(session, "OF1")
        judge = [p for p in dossier["posts"] if p["role"] == "judge"]
        assert len(judge) == 2 and {p["review_status"] for p in judge} == {"conflict"}
        assert {p["claimed_by"] for p in judge} == {"report-1", "report-2"}
        prosecutor = show_official(session, "OF2")["posts"]
        assert [sorted(c["source"] for c in p["citations"]) for p in prosecutor] == [["report-1", "report-2"]]
        act = next(a for a in dossier["acts"] if a["external_id"] == "A1")
        assert sorted((c["degree"], c["likelihood"], c["review_status"]) for c in act["involvement"]) == [
            ("approved", "certain", "conflict"), ("gave-orders", "likely", "conflict")]

    # report-1 corrects its own date: a new version supersedes its earlier claim; report-2's stays
    fixed = dict(FILES)
    fixed["posts.csv"] = fixed["posts.csv"].replace("OF1,COM-G,judge,summer 1367,", "OF1,COM-G,judge,1988-07-25,")
    corrected = import_accountability(victims, write_set(tmp_path / "fixed", fixed), actor=TESTER, source="report-1")
    assert corrected.claims["superseded"] == 1 and corrected.claims["added"] == 1
    with victims.session() as session:
        judge = [p for p in show_official(session, "OF1")["posts"] if p["role"] == "judge"]
        assert sorted((p["claimed_by"], p["from"]["original"], p["version"]) for p in judge) == [
            ("report-1", "1988-07-25", 2), ("report-2", "1988-08-01", 1)]
        old = session.scalar(sa.select(Claim).where(Claim.kind == "post", Claim.from_text == "summer 1367"))
        assert old.superseded_by is not None  # kept, not edited


def test_one_source_that_describes_an_act_twice_differently_in_one_file_is_a_conflict(victims, accountability_set,
                                                                                      tmp_path):
    """Two rows of one acts.csv giving act A1 two types were two version-1 claims, neither marked: the
    act then fell out of `acts list --type execution`. A source contradicting itself is a disagreement
    like any other. Two stints of one post in one file (other dates) are not."""
    from dadkhah.accountability.queries import show_act

    files = dict(FILES)
    files["acts.csv"] += "A1,torture,1367/05/01,Lakan,Synthetic prison executions,s:V1|s:V2,3,,p. 31\n"
    files["posts.csv"] += "OF2,COM-G,prosecutor,1990-01-01,1991-01-01,,p. 32\n"
    summary = import_accountability(victims, write_set(tmp_path / "twice", files), actor=TESTER, source="report-1")
    assert summary.claims["conflicts"] == 1
    with victims.session() as session:
        act = show_act(session, "A1")
        assert act["conflict"] is True
        assert sorted((c["value"], c["review_status"]) for c in act["claims"]) == [
            ("execution", "conflict"), ("torture", "conflict")], act["claims"]
        posts = [p for p in show_official(session, "OF2")["posts"] if p["role"] == "prosecutor"]
        assert len(posts) == 2 and "conflict" not in {p["review_status"] for p in posts}


def test_review_sets_the_status_with_a_reason_and_refuses_a_superseded_claim(victims, accountability_set):
    import_accountability(victims, accountability_set, actor=TESTER, source="report-1")
    with victims.session() as session:
        claim = show_official(session, "OF3")["posts"][0]["claim"]
    with pytest.raises(InputError) as error:
        review_claim(victims, claim, status="accepted", reason=" ", actor=TESTER)
    assert error.value.field == "reason"
    result = review_claim(victims, claim, status="accepted", reason="matches the court record", actor=TESTER)
    assert (result["previous"], result["review_status"]) == ("work-needed", "accepted")
    with victims.session() as session:
        assert show_official(session, "OF3")["posts"][0]["review_status"] == "accepted"


def test_a_form_row_is_read_as_an_import_row(victims, accountability_set):
    import_accountability(victims, accountability_set, actor=TESTER, source="report-1")
    with pytest.raises(InputError) as error:
        add_claim(victims, "posts", {"official_id": "OF3", "institution_id": "NOPE", "role": "head"}, actor=TESTER,
                  source="report-1")
    assert error.value.field == "institution_id"
    result = add_claim(victims, "posts", {"official_id": "O-000003", "institution_id": "PRO", "role": "deputy head",
                                          "from": "1980", "to": "1984", "locator": "p. 99"},
                       actor=TESTER, source="field-notes")
    assert result["added"] == 1 and result["claims"][0].startswith("C-")
    with victims.session() as session:
        roles = [p["role"] for p in show_official(session, "OF3")["posts"]]
        assert roles == ["deputy head", "head of prison"]
        citation = session.scalar(sa.select(ClaimCitation).order_by(ClaimCitation.id.desc()))
        assert citation.locator == "p. 99"


def test_one_workbook_with_a_sheet_per_file(victims, tmp_path):
    import openpyxl

    workbook = openpyxl.Workbook()
    workbook.remove(workbook.active)
    for name, text in FILES.items():
        sheet = workbook.create_sheet(name.removesuffix(".csv"))
        for line in text.strip().splitlines():
            sheet.append(next(csv.reader([line])))
    workbook.create_sheet("notes").append(["not a file of the import"])
    path = tmp_path / "accountability.xlsx"
    workbook.save(path)
    summary = import_accountability(victims, path, actor=TESTER, source="report-1")
    assert summary.files["accountability.xlsx[posts]"] == {"rows": 6, "imported": 4, "rejected": 2,
                                                          "quarantine": summary.quarantine["accountability.xlsx[posts]"]}
    assert summary.rows == sum(len(t.strip().splitlines()) - 1 for t in FILES.values())
    assert any(w["file"] == "accountability.xlsx[notes]" for w in summary.warnings)
    with victims.session() as session:
        assert show_official(session, "OF1")["acts_total"] == 2


def test_a_source_that_comes_round_to_anothers_claim_withdraws_its_own(victims, accountability_set, tmp_path):
    import_accountability(victims, accountability_set, actor=TESTER, source="report-1")
    other = write_set(tmp_path / "other", {
        "posts.csv": "official_id,institution_id,role,from,to,locator\nOF3,PR-L,head of prison,1986,1990,ch. 1\n"})
    import_accountability(victims, other, actor=TESTER, source="report-2")          # disagrees: a conflict
    fixed = dict(FILES)
    fixed["posts.csv"] = fixed["posts.csv"].replace("OF3,PR-L,head of prison,1985,1990", "OF3,PR-L,head of prison,1986,1990")
    summary = import_accountability(victims, write_set(tmp_path / "fixed", fixed), actor=TESTER, source="report-1")
    assert summary.claims["corroborated"] == 1 and summary.claims["superseded"] == 1
    with victims.session() as session:
        [post] = show_official(session, "OF3")["posts"]
        assert post["from"]["original"] == "1986" and sorted(c["source"] for c in post["citations"]) == [
            "report-1", "report-2"]
        assert post["review_status"] == "work-needed"  # the disagreement has ended


def test_a_count_in_superscript_digits_is_refused_with_its_field(victims, accountability_set):
    import_accountability(victims, accountability_set, actor=TESTER, source="report-1")
    with pytest.raises(InputError) as error:
        add_claim(victims, "acts", {"act_id": "A9", "act_type": "execution", "unnamed_victims": "²"}, actor=TESTER,
                  source="r")
    assert error.value.field == "unnamed_victims"
    persian = add_claim(victims, "acts", {"act_id": "A9", "act_type": "execution", "unnamed_victims": "۳"},
                        actor=TESTER, source="r")
    assert persian["added"] == 1


def test_a_misspelt_table_is_named_and_notes_are_passed_over(victims, tmp_path):
    from tests.conftest import write

    folder = write_set(tmp_path / "acc", {"officials.csv": FILES["officials.csv"], "of° ficials.csv": "x\n"})
    write(folder / "README.txt", "notes on the files\n")
    write(folder / "truth.json", "{}\n")
    summary = import_accountability(victims, folder, actor=TESTER, source="report-1")
    assert [w["file"] for w in summary.warnings] == ["of° ficials.csv"]
