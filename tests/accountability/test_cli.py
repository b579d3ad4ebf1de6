"""The accountability commands: one JSON document with --json, errors naming the file, line and field."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

from tests.accountability.conftest import VICTIMS, write_set
from tests.cli.test_cli import run
from tests.conftest import write

NS = "{http://graphml.graphdrawing.org/xmlns}"


def _workspace(tmp_path):
    ws = tmp_path / "ws"
    assert run("init", str(ws)).exit_code == 0
    assert run("import", str(write(tmp_path / "victims.csv", VICTIMS)), "--source", "s", workspace=ws).exit_code == 0
    return ws


def _json(result) -> dict:
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_import_then_ask_each_question_as_json(tmp_path):
    ws = _workspace(tmp_path)
    folder = write_set(tmp_path / "acc")
    summary = _json(run("accountability", "import", str(folder), "--source", "report-1", "--json", workspace=ws))
    assert summary["rows"] == summary["imported"] + summary["rejected"] == 37
    chart = _json(run("institutions", "chart", "JUD", "--on", "1367/05/25", "--json", workspace=ws))
    assert chart["on"] == "1988-08-16" and chart["posts"] == 3
    for span in ("1367", "summer 1367", "1988-08"):  # a span is not a day: it was taken as its first
        refused = run("institutions", "chart", "JUD", "--on", span, "--json", workspace=ws)
        error = json.loads(refused.stdout)["error"]
        assert refused.exit_code != 0 and error["option"] == "--on" and "not one day" in error["message"], error
    dossier = _json(run("officials", "show", "OF1", "--json", workspace=ws))
    assert dossier["acts_total"] == 2 and dossier["victims"]["unnamed_total"] == 3
    acts = _json(run("acts", "list", "--official", "O-000001", "--type", "execution", "--json", workspace=ws))
    assert acts["total"] == 2
    site = _json(run("sites", "show", "G-HID", "--json", workspace=ws))
    assert site["location"] == {"publication": "hidden", "withheld": "location"}
    revealed = _json(run("sites", "show", "G-HID", "--audience", "investigators", "--json", workspace=ws))
    assert revealed["location"]["latitude"] == 37.123456
    listed = _json(run("officials", "list", "--name", "Testary", "--json", workspace=ws))
    assert [o["external_id"] for o in listed["items"]] == ["OF1"]
    claim = dossier["posts"][0]["claim"]
    review = _json(run("accountability", "review", claim, "--status", "accepted", "--reason", "court record",
                       "--json", workspace=ws))
    assert review["review_status"] == "accepted"
    added = _json(run("accountability", "add", "official_status", "--cell", "official_id=OF2", "--cell",
                      "observed_on=2020", "--cell", "status=sanctioned", "--source", "report-2", "--json",
                      workspace=ws))
    assert added["added"] == 1
    again = _json(run("accountability", "add", "official_status", "--cell", "official_id=OF2", "--cell",
                      "observed_on=2020", "--cell", "status=sanctioned", "--source", "report-3", "--json",
                      workspace=ws))
    assert again["claims"] == [] and again["held"] == added["claims"] and again["corroborated"] == 1
    said = run("accountability", "add", "official_status", "--cell", "official_id=OF2", "--cell",
               "observed_on=2020", "--cell", "status=sanctioned", "--source", "report-3", workspace=ws)
    assert f"Held already, saying the same: {added['claims'][0]} (it cites this already)" in said.stdout


def test_the_graph_export_keeps_hidden_coordinates_out(tmp_path):
    ws = _workspace(tmp_path)
    assert run("accountability", "import", str(write_set(tmp_path / "acc")), "--source", "r", workspace=ws).exit_code == 0
    graph = _json(run("accountability", "graph", "--out", str(tmp_path / "g.graphml"), "--json", workspace=ws))
    assert graph["audience"] == "team" and graph["nodes"] > 0
    text = (tmp_path / "g.graphml").read_text(encoding="utf-8")
    assert "37.123456" not in text and "37.21" not in text and "37.25" in text
    root = ET.parse(tmp_path / "g.graphml").getroot()
    edges = root.findall(f"{NS}graph/{NS}edge")
    assert len(edges) == graph["edges"]
    kinds = {d.text for e in edges for d in e.findall(f"{NS}data") if d.get("key") == "e_kind"}
    assert {"post", "relation", "involvement", "burial", "victim"} <= kinds
    as_json = _json(run("accountability", "graph", "--out", str(tmp_path / "g.json"), "--format", "json", "--json",
                        workspace=ws))
    document = json.loads((tmp_path / "g.json").read_text(encoding="utf-8"))
    assert len(document["nodes"]) == as_json["nodes"] and len(document["edges"]) == as_json["edges"]
    again = run("accountability", "graph", "--out", str(tmp_path / "g.json"), "--json", workspace=ws)
    assert again.exit_code != 0 and "exists" in again.stdout
    # Each export is in the audit log: who took the network out, to which audience, which file.
    import hashlib

    audit = _json(run("audit", "list", "--json", workspace=ws))
    exported = [e for e in audit if e["action"] == "network exported"]
    assert [e["object_id"] for e in exported] == [hashlib.sha256((tmp_path / name).read_bytes()).hexdigest()
                                                  for name in ("g.json", "g.graphml")]  # newest first
    assert exported[0]["details"] == {"format": "json", "audience": "team", "nodes": as_json["nodes"],
                                      "edges": as_json["edges"], "file": "g.json"}
    assert as_json["sha256"] == exported[0]["object_id"]
    # Replaced when asked (the error offered to, and no option did); the workspace's database never.
    replaced = _json(run("accountability", "graph", "--out", str(tmp_path / "g.json"), "--force", "--json", workspace=ws))
    assert replaced["nodes"] == as_json["nodes"] and replaced["out"] == str(tmp_path / "g.json")
    over = run("accountability", "graph", "--out", str(ws / "dadkhah.db"), "--force", "--json", workspace=ws)
    assert over.exit_code != 0 and "workspace's own files" in json.loads(over.stdout)["error"]["message"]
    assert _json(run("audit", "verify", "--json", workspace=ws))["intact"] is True, "the database is still itself"


def test_a_file_without_its_id_column_is_named_with_the_line_and_field(tmp_path):
    ws = _workspace(tmp_path)
    folder = write_set(tmp_path / "acc", {"posts.csv": "official,institution,role\nOF1,JUD,judge\n"})
    result = run("accountability", "import", str(folder), "--source", "r", "--json", workspace=ws)
    assert result.exit_code != 0
    error = json.loads(result.stdout)["error"]
    assert (error["file"], error["line"], error["field"]) == ("posts.csv", 1, "official_id")


def test_persons_show_names_the_acts_and_where_the_person_may_lie(tmp_path):
    from dadkhah.store import open_store
    from dadkhah.workspace import load_workspace
    from tests.accountability.test_queries import _link

    ws = _workspace(tmp_path)
    assert run("accountability", "import", str(write_set(tmp_path / "acc")), "--source", "r", workspace=ws).exit_code == 0
    with open_store(load_workspace(ws)) as store:
        _, persons = _link(store, {})
    shown = _json(run("persons", "show", persons["V2"], "--json", workspace=ws))
    assert [a["external_id"] for a in shown["accountability"]["acts"]] == ["A1"]
    [burial] = shown["accountability"]["burials"]
    assert burial["site"]["location"] == {"publication": "hidden", "withheld": "location"}
    text = run("persons", "show", persons["V2"], workspace=ws).stdout
    assert "Act A-000001 execution" in text and "location withheld (hidden)" in text


def test_names_print_as_given_even_with_brackets(tmp_path):
    """A name is data, not markup: "[Haj] Bahram" keeps its brackets in the dossier's text."""
    ws = _workspace(tmp_path)
    assert run("accountability", "import", str(write_set(tmp_path / "acc")), "--source", "r", workspace=ws).exit_code == 0
    added = run("accountability", "add", "officials", "--cell", "official_id=OF9", "--cell", "name=[Haj] Bahram [bold]Synth",
                "--cell", "aliases=[b]Alias", "--source", "r", workspace=ws)
    assert added.exit_code == 0, added.output
    shown = run("officials", "show", "OF9", workspace=ws)
    assert shown.exit_code == 0, shown.output
    assert "[Haj] Bahram [bold]Synth" in shown.stdout and "[b]Alias" in shown.stdout
