"""The timestamp commands: ``dadkhah timestamp``, ``custody verify --tsa-root``, ``export casefile --tsa``
and ``verify --tsa-root``, against the local authority."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from dadkhah.cli import app
from tests.conftest import write
from tests.vault.authority import closed_port_url

runner = CliRunner()


def run(*args, workspace=None, env=None):
    prefix = ["--workspace", str(workspace)] if workspace else []
    return runner.invoke(app, [*prefix, *args], catch_exceptions=False, env=env)


def ok(*args, workspace=None, env=None):
    result = run(*args, "--json", workspace=workspace, env=env)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.fixture
def ws(tmp_path, monkeypatch):
    monkeypatch.delenv("DADKHAH_DATABASE_URL", raising=False)
    monkeypatch.delenv("DADKHAH_TSA_URLS", raising=False)
    ok("init", str(tmp_path / "ws"))
    ok("evidence", "add", str(write(tmp_path / "note.txt", "synthetic note\n")), "--release", "investigators",
       workspace=tmp_path / "ws")
    return tmp_path / "ws"


def test_timestamp_asks_the_authorities_named_or_configured_and_custody_verify_reports_them(ws, authority):
    refused = run("timestamp", "--json", workspace=ws)
    assert refused.exit_code == 1
    error = json.loads(refused.stdout)["error"]
    assert error["option"] == "--tsa" and "DADKHAH_TSA_URLS" in error["message"]

    made = ok("timestamp", workspace=ws, env={"DADKHAH_TSA_URLS": f"{authority.url('good')}, {authority.url('leaf')}"})
    assert made["timestamp"] == "TS-0001" and [t["authority"] for t in made["timestamps"]] == [
        authority.url("good"), authority.url("leaf")]
    said = run("timestamp", "--tsa", authority.url("leaf"), workspace=ws)
    assert said.exit_code == 0 and "TS-0002" in said.stdout and "timestamped at" in said.stdout
    assert "by Synthetic TSA" in said.stdout

    plain = run("custody", "verify", workspace=ws)
    assert plain.exit_code == 0 and plain.stdout.count("Timestamped at") == 3
    assert "NOT checked against a trusted root" in plain.stdout
    rooted = run("custody", "verify", "--tsa-root", str(authority.root_pem), workspace=ws)
    assert rooted.exit_code == 0 and rooted.stdout.count("chains to the trusted root given") == 3
    forged = run("custody", "verify", "--tsa-root", str(authority.other_root_pem), "--json", workspace=ws)
    assert forged.exit_code == 1 and not json.loads(forged.stdout)["valid"]
    assert "does not chain to the trusted root" in forged.stderr


def test_an_authority_that_is_down_is_named_and_nothing_is_recorded(ws):
    before = ok("custody", "log", "TS-0001", workspace=ws)
    down = closed_port_url()
    failed = run("timestamp", "--tsa", down, "--json", workspace=ws)
    assert failed.exit_code == 1
    error = json.loads(failed.stdout)["error"]
    assert error["option"] == "--tsa" and down in error["message"] and "could not be reached" in error["message"]
    assert ok("custody", "log", "TS-0001", workspace=ws) == before == []


def test_a_case_file_timestamped_at_export_verifies_against_its_root_only(ws, authority, tmp_path):
    bag = tmp_path / "handover"
    made = ok("export", "casefile", "--out", str(bag), "--recipient", "Synthetic Body", "--scope", "investigators",
              "--all", "--tsa", authority.url("good"), workspace=ws)
    assert made["timestamps"][0]["name"] == "Synthetic TSA"
    trusted = run("verify", str(bag), "--tsa-root", str(authority.root_pem))
    assert trusted.exit_code == 0, trusted.output
    assert f"Timestamped at {made['timestamps'][0]['time']} by Synthetic TSA" in trusted.stdout
    assert "chains to the trusted root given" in trusted.stdout
    unrooted = run("verify", str(bag))
    assert unrooted.exit_code == 0 and "NOT checked against a trusted root" in unrooted.stdout
    forged = run("verify", str(bag), "--tsa-root", str(authority.other_root_pem), "--json")
    assert forged.exit_code == 1 and not json.loads(forged.stdout)["valid"]
    assert "signature-timestamps.json" in forged.stderr and "does not chain to the trusted root" in forged.stderr
