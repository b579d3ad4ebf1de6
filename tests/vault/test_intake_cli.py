"""``dadkhah intake``: one JSON document on stdout, errors that name the mapping file and key, messages
for people on stderr, and nothing of a witness anywhere in what it prints."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from dadkhah.cli import app
from tests.conftest import write
from tests.vault.intake_files import (
    KOBO_MAPPING,
    ODK_MAPPING,
    WITNESSES,
    jpeg,
    kobo_files,
    kobo_json,
    kobo_submission,
    odk_submission,
    odk_zip,
    tella_file,
)

runner = CliRunner()


def run(*args, workspace):
    return runner.invoke(app, ["--workspace", str(workspace), *args], catch_exceptions=False)


@pytest.fixture
def ws(tmp_path, monkeypatch):
    monkeypatch.delenv("DADKHAH_DATABASE_URL", raising=False)
    result = runner.invoke(app, ["init", str(tmp_path / "ws"), "--json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return tmp_path / "ws"


def test_the_three_commands_print_one_json_document(ws, tmp_path):
    mapping = write(tmp_path / "odk.toml", ODK_MAPPING)
    export = odk_zip(tmp_path / "witness_statement.zip", [odk_submission(1), odk_submission(2, language="??")])
    result = run("intake", "odk", str(export), "--mapping", str(mapping), "--json", workspace=ws)
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)  # exactly one document: anything else on stdout would break this
    assert (document["rows"], document["imported"], document["rejected"]) == (2, 1, 1)
    assert document["testimonies"] == ["T-0001"] and document["quarantine"].endswith(".csv")
    assert not any(w in result.stdout for w in WITNESSES)

    again = run("intake", "odk", str(export), "--mapping", str(mapping), "--json", workspace=ws)
    assert json.loads(again.stdout)["rejected"] == 1  # the refused one is refused again, and reported again
    said = run("intake", "odk", str(odk_zip(tmp_path / "one.zip", [odk_submission(1)])), "--mapping", str(mapping),
               workspace=ws)
    assert said.exit_code == 0 and "nothing new" in said.stderr and said.stdout == ""

    kobo_mapping = write(tmp_path / "kobo.toml", KOBO_MAPPING)
    items = [kobo_submission(1)]
    kobo_files(tmp_path / "files", items)
    data = kobo_json(tmp_path / "data.json", items)
    kobo = run("intake", "kobo", str(data), "--mapping", str(kobo_mapping), "--attachments", str(tmp_path / "files"),
               "--source", "kobo-team", "--incident", "1988 prison executions", "--json", workspace=ws)
    assert kobo.exit_code == 0, kobo.output
    assert json.loads(kobo.stdout)["source"] == "kobo-team"

    tella_file(tmp_path / "tella", "IMG_1.jpg", jpeg((3, 4, 5)))
    tella = run("intake", "tella", str(tmp_path / "tella"), "--description", "north wall", "--release",
                "investigators", "--source", "tella-team", "--json", workspace=ws)
    assert tella.exit_code == 0, tella.output
    assert json.loads(tella.stdout)["evidence"] == ["E-000003"]

    listed = run("intake", "list", "--json", workspace=ws)
    assert [i["tool"] for i in json.loads(listed.stdout)] == ["tella", "kobo", "odk", "odk"]
    people = run("intake", "list", "--limit", "1", workspace=ws)
    assert "tella" in people.stdout and "odk" not in people.stdout


def test_a_bad_mapping_is_an_error_document_naming_the_file_and_key(ws, tmp_path):
    export = odk_zip(tmp_path / "w.zip", [odk_submission(1)])
    mapping = write(tmp_path / "bad.toml", ODK_MAPPING.replace('consent = "consent"', 'consent = "consentt"'))
    result = run("intake", "odk", str(export), "--mapping", str(mapping), "--json", workspace=ws)
    assert result.exit_code == 1
    error = json.loads(result.stdout)["error"]
    assert error["file"] == str(mapping) and error["field"] == "testimony.consent"
    assert "'consentt', which this export does not have" in error["message"]
    missing = run("intake", "odk", str(export), "--mapping", str(tmp_path / "none.toml"), "--json", workspace=ws)
    assert json.loads(missing.stdout)["error"]["option"] == "--mapping"
    people = run("intake", "odk", str(export), "--mapping", str(mapping), workspace=ws)
    assert people.exit_code == 1 and "bad.toml" in people.stderr and "testimony.consent" in people.stderr


def test_people_are_told_what_was_taken_in_and_refused(ws, tmp_path):
    mapping = write(tmp_path / "odk.toml", ODK_MAPPING)
    export = odk_zip(tmp_path / "w.zip", [odk_submission(1), odk_submission(2, photo="missing.jpg")],
                     media={"1709634093101.jpg": jpeg((1, 1, 1))})
    result = run("intake", "odk", str(export), "--mapping", str(mapping), workspace=ws)
    assert result.exit_code == 0, result.output
    assert "2 submissions, 1 taken in, 0 taken in before, 1 refused" in result.stdout
    assert "testimonies T-0001" in result.stdout and "1 victim records in 'field-team-odk'" in result.stdout
    assert "line 3: the attachment 'missing.jpg'" in result.stdout and "Refused submissions" in result.stdout
    assert not any(w in result.stdout + result.stderr for w in WITNESSES)
