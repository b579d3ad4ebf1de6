"""An official's dossier in a case file: acts, victims as persons, sites as the scope may see them,
and the testimonies the claims cite when consent covers the scope."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dadkhah.accountability import add_claim, import_accountability
from dadkhah.vault.casefile import export_casefile
from dadkhah.vault.testimony import add_testimony
from dadkhah.vault.verify import verify_casefile
from tests.accountability.test_queries import _link
from tests.conftest import TESTER, write
from tests.vault.conftest import keys  # noqa: F401  (the fixture)


@pytest.fixture
def dossier_case(victims, keys, accountability_set, tmp_path):  # noqa: F811
    import_accountability(victims, accountability_set, actor=TESTER, source="report-1")
    _, persons = _link(victims, {})
    transcript = write(tmp_path / "t.txt", "Synthetic account of the site being built over.\n")
    testimony = add_testimony(victims, keys, witness_name="Synthetic Witness", transcript=transcript, language="en",
                              consent="investigators", actor=TESTER)
    add_claim(victims, "site_status", {"site_id": "G-HID", "observed_on": "2012", "status": "built-over",
                                       "method": "witness", "evidence": testimony["id"]},
              actor=TESTER, source="report-1")
    return persons, testimony["id"]


def _bag_text(folder: Path) -> str:
    return "".join(p.read_text(encoding="utf-8", errors="replace") for p in sorted(folder.rglob("*")) if p.is_file())


def test_an_officials_dossier_travels_with_its_victims_sites_and_cited_testimony(victims, keys, dossier_case,  # noqa: F811
                                                                                 tmp_path):
    persons, testimony_id = dossier_case
    out = tmp_path / "handover"
    result = export_casefile(victims, keys, out, recipient="Synthetic Tribunal", scope="investigators",
                             officials=["OF1"], actor=TESTER)
    assert result["officials"] == ["O-000001"] and result["persons"] == 3 and result["testimonies"] == 1
    assert verify_casefile(out, expect_key=keys.fingerprint)["valid"]
    document = json.loads((out / "data" / "casefile.json").read_text())
    [official] = document["officials"]
    assert official["official"]["name"] == "Kamran Testari"
    assert sorted(a["external_id"] for a in official["acts"]) == ["A1", "A2"]
    assert official["victims_as_persons"] == sorted({persons["V1"], persons["V2"], persons["V3"]})
    assert sorted(p["person_id"] for p in document["persons"]) == official["victims_as_persons"]
    assert {s["external_id"] for s in official["sites"]} == {"G-OPEN", "G-HID"}
    hidden = next(s for s in official["sites"] if s["external_id"] == "G-HID")
    assert hidden["location"]["latitude"] == 37.123456  # investigators may see it
    assert [t["id"] for t in document["testimonies"]] == [testimony_id]
    assert official["cited_not_included"] == []
    assert all(c["citations"] for c in official["posts"])


def test_a_public_case_file_keeps_hidden_places_and_unconsented_testimony_out(victims, keys, dossier_case,  # noqa: F811
                                                                             tmp_path):
    _, testimony_id = dossier_case
    out = tmp_path / "public"
    result = export_casefile(victims, keys, out, recipient="A newspaper", scope="public", officials=["O-000001"],
                             actor=TESTER)
    assert result["testimonies"] == 0
    text = _bag_text(out)
    assert "37.123456" not in text and "49.654321" not in text  # the hidden site's coordinates
    assert "37.21" not in text  # the city-only site is not in this dossier, nor its coordinates
    document = json.loads((out / "data" / "casefile.json").read_text())
    [official] = document["officials"]
    assert official["cited_not_included"] == [testimony_id]
    hidden = next(s for s in official["sites"] if s["external_id"] == "G-HID")
    assert hidden["location"] == {"publication": "hidden", "withheld": "location"}
