"""The vault's commands: JSON on stdout, errors that name the file, and a verifier that stands alone."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from dadkhah.cli import app
from tests.conftest import write

runner = CliRunner()


def run(*args, workspace=None):
    prefix = ["--workspace", str(workspace)] if workspace else []
    return runner.invoke(app, [*prefix, *args], catch_exceptions=False)


def ok(*args, workspace=None):
    result = run(*args, "--json", workspace=workspace)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.fixture
def ws(tmp_path, monkeypatch):
    monkeypatch.delenv("DADKHAH_DATABASE_URL", raising=False)
    created = ok("init", str(tmp_path / "ws"))
    assert created["keys"]["created"] and created["keys"]["fingerprint"].startswith("SHA256:")
    return tmp_path / "ws"


def test_evidence_testimony_custody_and_casefile_end_to_end(ws, tmp_path):
    write(tmp_path / "note.txt", "synthetic note\n")
    (tmp_path / "bytes.bin").write_bytes(os.urandom(5000))
    one = ok("evidence", "add", str(tmp_path / "note.txt"), "--source", "archive", "--release", "investigators,public", workspace=ws)
    assert one["id"] == "E-000001" and one["release"] == ["investigators", "public"]
    both = ok("evidence", "add", str(tmp_path / "note.txt"), str(tmp_path / "bytes.bin"), workspace=ws)
    assert [b["id"] for b in both] == ["E-000001", "E-000002"] and both[0]["already_held"]
    assert [e["id"] for e in ok("evidence", "list", workspace=ws)] == ["E-000001", "E-000002"]
    assert ok("evidence", "show", "E-000002", workspace=ws)["original_name"] == "bytes.bin"
    got = ok("evidence", "get", "E-000002", "--out", str(tmp_path / "back.bin"), workspace=ws)
    assert got["verified"] and (tmp_path / "back.bin").read_bytes() == (tmp_path / "bytes.bin").read_bytes()

    write(tmp_path / "t.txt", "synthetic testimony text\n")
    witness = write(tmp_path / "witness.toml", 'name = "Synthetic Witness Eta"\ncontact = "synthetic"\n'
                                                'interviewer = "Synthetic Interviewer"\n')
    added = ok("testimony", "add", "--witness-file", str(witness), "--transcript", str(tmp_path / "t.txt"),
               "--language", "en", "--consent", "investigators,courts", "--place", "Tabriz", workspace=ws)
    assert (added["id"], added["witness"]) == ("T-0001", "W-0001") and "Eta" not in json.dumps(added)
    assert ok("testimony", "list", workspace=ws)[0]["witness"] == "W-0001"
    shown = ok("testimony", "show", "T-0001", "--reveal-witness", workspace=ws)
    assert shown["witness_name"] == "Synthetic Witness Eta" and shown["transcript"] == "synthetic testimony text\n"

    assert [e["action"] for e in ok("custody", "log", "E-000001", workspace=ws)] == ["added", "submitted again"]
    assert ok("custody", "verify", workspace=ws)["valid"]
    fingerprint = ok("keys", "show", workspace=ws)["fingerprint"]

    bag = tmp_path / "handover"
    made = ok("export", "casefile", "--out", str(bag), "--recipient", "Synthetic Body", "--scope", "investigators", "--all", workspace=ws)
    assert (made["testimonies"], made["evidence"]) == (1, 2)

    # The verifier needs no workspace: run it as a separate process from an empty folder.
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("DADKHAH_")}
    command = [sys.executable, "-m", "dadkhah", "verify", str(bag), "--expect-key", fingerprint, "--json"]
    checked = subprocess.run(command, cwd=elsewhere, env=env, capture_output=True, text=True)
    assert checked.returncode == 0, checked.stderr
    assert json.loads(checked.stdout)["valid"]
    victim = next((bag / "data" / "testimonies").iterdir())
    victim.write_text(victim.read_text() + " ")
    failed = subprocess.run(command, cwd=elsewhere, env=env, capture_output=True, text=True)
    assert failed.returncode == 1 and json.loads(failed.stdout)["valid"] is False
    assert f"data/testimonies/{victim.name}" in failed.stderr


def test_a_witness_matched_by_name_is_said_and_the_first_contact_is_kept(ws, tmp_path):
    """Two invented women of one name: the second testimony is told it joined witness W-0001 (on
    stderr, and in --json), and the first woman's contact is still there."""
    transcript = write(tmp_path / "t.txt", "synthetic testimony text\n")
    common = ["testimony", "add", "--transcript", str(transcript), "--language", "en", "--consent", "courts"]
    first = write(tmp_path / "a.toml", 'name = "Synthetic Golnar Sample"\ncontact = "+00 912 000 0000"\n')
    second = write(tmp_path / "b.toml", 'name = "Synthetic  Golnar  SAMPLE"\ncontact = "+00 935 000 0000"\n')
    assert ok(*common, "--witness-file", str(first), workspace=ws)["name_matched"] is None
    said = run(*common, "--witness-file", str(second), workspace=ws)
    assert said.exit_code == 0, said.output
    assert "matched witness W-0001" in said.stderr and "T-0001" in said.stderr and "nothing was replaced" in said.stderr
    again = ok(*common, "--witness-file", str(second), workspace=ws)
    assert (again["name_matched"], again["earlier_testimonies"], again["contact"]) == ("W-0001", ["T-0001", "T-0002"],
                                                                                      "known")
    assert ok("testimony", "show", "T-0001", "--reveal-witness", workspace=ws)["witness_contact"] == "+00 912 000 0000"
    shown = run("testimony", "show", "T-0002", "--reveal-witness", workspace=ws)
    assert "contact: +00 935 000 0000" in shown.stdout and "+00 912 000 0000 (given with T-0001)" in shown.stdout
    assert [e["action"] for e in ok("custody", "log", "W-0001", workspace=ws)][:2] == ["recorded", "contact added"]


def test_custody_verify_fails_on_an_edited_row(ws, tmp_path):
    write(tmp_path / "n.txt", "synthetic\n")
    ok("evidence", "add", str(tmp_path / "n.txt"), workspace=ws)
    ok("evidence", "show", "E-000001", workspace=ws)
    with sqlite3.connect(ws / "dadkhah.db") as connection:
        connection.execute("UPDATE custody_events SET actor = 'someone else' WHERE seq = 1")
    result = run("custody", "verify", "--json", workspace=ws)
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert not report["valid"] and report["problems"][0]["position"] == 1 and "edited" in report["problems"][0]["problem"]


def test_a_passphrase_is_asked_for_and_never_guessed(tmp_path, monkeypatch):
    monkeypatch.delenv("DADKHAH_DATABASE_URL", raising=False)
    monkeypatch.setenv("DADKHAH_PASSPHRASE", "synthetic passphrase")
    created = ok("init", str(tmp_path / "ws"), "--passphrase", "--key-file", str(tmp_path / "keys" / "case.key"))
    assert created["keys"]["protected"] and created["keys"]["key_file"] == str(tmp_path / "keys" / "case.key")
    write(tmp_path / "n.txt", "synthetic\n")
    assert ok("evidence", "add", str(tmp_path / "n.txt"), workspace=tmp_path / "ws")["id"] == "E-000001"
    monkeypatch.delenv("DADKHAH_PASSPHRASE")
    refused = run("evidence", "add", str(tmp_path / "n.txt"), "--json", workspace=tmp_path / "ws")
    assert refused.exit_code == 1 and "DADKHAH_PASSPHRASE" in json.loads(refused.stdout)["error"]["message"]
    monkeypatch.setenv("DADKHAH_PASSPHRASE", "wrong")
    wrong = run("evidence", "show", "E-000001", "--json", workspace=tmp_path / "ws")
    assert wrong.exit_code == 1 and "wrong passphrase" in json.loads(wrong.stdout)["error"]["message"]


def test_errors_name_the_file(ws, tmp_path):
    missing = run("evidence", "add", str(tmp_path / "nope.jpg"), "--json", workspace=ws)
    assert missing.exit_code == 1
    error = json.loads(missing.stdout)["error"]
    assert error["file"].endswith("nope.jpg") and "not found" in error["message"]
    not_a_bag = run("verify", str(tmp_path), "--json")
    assert not_a_bag.exit_code == 1 and "bagit.txt" in json.loads(not_a_bag.stdout)["error"]["message"]


def test_a_witness_identity_is_never_taken_from_the_command_line(ws, tmp_path):
    """Names on the command line are seen by ps, /proc/*/cmdline and the shell's history: refused,
    saying why and what to do instead. From a file (JSON or TOML) or from standard input instead."""
    transcript = write(tmp_path / "t.txt", "synthetic testimony text\n")
    common = ["testimony", "add", "--transcript", str(transcript), "--language", "en", "--consent", "courts", "--json"]
    for option, field in (("--witness-name", "witness_name"), ("--witness-contact", "witness_contact"),
                          ("--interviewer", "interviewer")):
        refused = run(*common, option, "Synthetic Person", workspace=ws)
        assert refused.exit_code == 1
        error = json.loads(refused.stdout)["error"]
        assert error["field"] == field and "must not be typed on the command line" in error["message"]
        assert "--witness-file" in error["message"] and "Synthetic Person" not in refused.stderr
    by_file = ok(*common[:-1], "--witness-file", str(write(tmp_path / "w.json", '{"name": "Synthetic Witness Zeta"}')),
                 workspace=ws)
    piped = runner.invoke(app, ["--workspace", str(ws), *common, "--witness-file", "-"],
                          input='name = "Synthetic Witness Zeta"\ncontact = "synthetic contact"\n')
    assert piped.exit_code == 0, piped.output
    assert json.loads(piped.stdout)["witness"] == by_file["witness"] == "W-0001"
    no_terminal = run(*common, workspace=ws)
    assert no_terminal.exit_code == 1 and json.loads(no_terminal.stdout)["error"]["option"] == "--witness-file"
    for bad, said in (('{"name": ""}', "gives no name"), ('{"name": "X", "address": "Y"}', "'address'"),
                      ("name = [1]", "must be text"), ("{not json nor toml", "neither JSON nor TOML")):
        refused = run(*common, "--witness-file", str(write(tmp_path / "bad.txt", bad)), workspace=ws)
        assert refused.exit_code == 1 and said in json.loads(refused.stdout)["error"]["message"], (bad, refused.stdout)
