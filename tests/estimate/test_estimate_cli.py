"""`dadkhah estimate table|run|list`: JSON documents, stored results, charts, errors naming the line."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from dadkhah.cli import app
from tests.conftest import write
from tests.estimate.conftest import MSE

runner = CliRunner()
KOREA = str(MSE / "korea_comfort_women.csv")  # Silverman, Chan & Vincent (2024): 123 named on 3 lists


def run(*args, workspace=None):
    prefix = ["--workspace", str(workspace)] if workspace else []
    return runner.invoke(app, [*prefix, *args], catch_exceptions=False)


def test_table_outside_a_workspace_prints_one_document(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = run("estimate", "table", KOREA, "--method", "lcmcr", "--iterations", "2000", "--burn-in", "1000", "--thin", "10",
                 "--chains", "2", "--seed", "4", "--json")
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert {"method", "observed", "estimate", "interval", "level", "model", "diagnostics", "strata"} <= set(document)
    assert document["method"] == "lcmcr" and document["observed"] == 123 and document["level"] == 0.95
    assert document["interval"][0] <= document["estimate"] <= document["interval"][1]
    assert document["diagnostics"]["iterations"] == 2000 and document["diagnostics"]["sampling_seconds"] > 0
    assert document["parameters"]["random_state"] == 4 and document["id"] is None


def test_table_in_a_workspace_is_stored_and_listed_and_plotted(tmp_path, monkeypatch):
    monkeypatch.delenv("DADKHAH_DATABASE_URL", raising=False)
    assert run("init", str(tmp_path / "ws"), "--json").exit_code == 0
    chart = tmp_path / "chart.svg"
    result = run("estimate", "table", KOREA, "--method", "chao", "--plot", str(chart), "--json", workspace=tmp_path / "ws")
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["id"] == 1 and document["plot"] == str(chart)
    assert chart.read_text(encoding="utf-8").startswith("<svg") and "chao" in chart.read_text(encoding="utf-8")
    listed = json.loads(run("estimate", "list", "--json", workspace=tmp_path / "ws").stdout)
    assert [(e["id"], e["method"], e["input"], e["input_sha256"]) for e in listed] == [
        (1, "chao", "korea_comfort_women.csv", document["input_sha256"])]
    shown = run("estimate", "list", workspace=tmp_path / "ws").stdout
    assert "chao" in shown and f"{document['estimate']:,.0f}" in shown


@pytest.mark.parametrize(("body", "fragment"), [
    ("A,B,count\n1,0,4\n0,1,x\n", "line 3, field 'count'"),
    ("A,B,count\n1,0,4\n1,0,3\n", "line 3: this pattern repeats line 2"),
])
def test_bad_table_exits_non_zero_naming_the_line(tmp_path, body, fragment):
    path = write(tmp_path / "bad.csv", body)
    result = run("estimate", "table", str(path), "--method", "chao", "--json")
    assert result.exit_code != 0
    error = json.loads(result.stdout)["error"]
    assert fragment in f"{error['file']}, line {error['line']}" + (f", field {error['field']!r}" if error["field"] else "") + f": {error['message']}"
    assert error["file"].endswith("bad.csv")


def test_method_that_cannot_apply_says_why(tmp_path):
    result = run("estimate", "table", KOREA, "--method", "lincoln-petersen", "--json")
    assert result.exit_code != 0 and "exactly two lists" in json.loads(result.stdout)["error"]["message"]
    unknown = run("estimate", "table", KOREA, "--method", "guess", "--json")
    error = json.loads(unknown.stdout)["error"]
    assert unknown.exit_code != 0 and "method must be one of" in error["message"]
    assert (error["field"], error["option"]) == ("method", "--method") and "--method:" in unknown.stderr


def test_run_by_city_with_linkage_thresholds(linked, tmp_path, monkeypatch):
    import shutil

    monkeypatch.delenv("DADKHAH_DATABASE_URL", raising=False)
    ws = tmp_path / "ws"
    shutil.copytree(linked[0], ws)
    chart = tmp_path / "by-city.svg"
    result = run("estimate", "run", "--by", "city", "--method", "chao", "--linkage-thresholds", "0.5,0.9",
                 "--plot", str(chart), "--plot-language", "fa", "--json", workspace=ws)
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["by"] == "city" and document["linkage_run_id"] == 1
    assert len(document["strata"]) > 10
    # Each stratum counts its people on average over the replicates (missing cities are drawn).
    assert sum(s["observed"] for s in document["strata"]) == pytest.approx(document["observed"], rel=0.02)
    assert "unknown" not in {s["stratum"] for s in document["strata"]}
    assert [r["threshold"] for r in document["linkage_sensitivity"]["runs"]] == [0.5, 0.9]
    assert chart.exists() and "تهران" in chart.read_text(encoding="utf-8"), "Persian place names on a Persian chart"
    assert document["uncertainty"]["missing_strata_imputed"] and document["uncertainty"]["linkage"]
    kept = json.loads(run("estimate", "run", "--by", "city", "--method", "chao", "--keep-unknown",
                          "--no-linkage-uncertainty", "--json", workspace=ws).stdout)
    assert "uncertainty" not in kept and sum(s["observed"] for s in kept["strata"]) == kept["observed"]
    assert "unknown" in {s["stratum"] for s in kept["strata"]}  # some people of this case have no city
    shown = run("estimate", "show", str(document["id"]), "--json", workspace=ws)
    assert shown.exit_code == 0, shown.output
    stored = json.loads(shown.stdout)
    for key in ("id", "method", "estimate", "interval", "strata", "strata_total", "uncertainty", "warnings"):
        assert stored[key] == document[key], key
    assert stored["linkage_sensitivity"]["runs"] == document["linkage_sensitivity"]["runs"]
    missing = run("estimate", "show", "999", "--json", workspace=ws)
    assert missing.exit_code != 0 and "no estimate with id 999" in json.loads(missing.stdout)["error"]["message"]
    text = run("estimate", "run", "--by", "city", "--method", "chao", workspace=ws).stdout
    latest = json.loads(run("estimate", "list", "--json", workspace=ws).stdout)[0]["id"]
    assert run("estimate", "show", str(latest), workspace=ws).stdout == text  # as it was printed
    assert "Tehran" in text and "named on the lists" in text and "Combined over 10 versions of the data" in text
    noted = [s for s in document["strata"] if s["warnings"]]
    assert noted, "this case has strata with notes (else the check below is empty)"
    lines = text.splitlines()
    for stratum in noted:  # each note in full below the table, numbered in the stratum's row (it was cut at 80 characters)
        row = next(line for line in lines if line.startswith(f"│ {stratum['name']} "))
        numbers = row.split("│")[-2].split(",")
        assert len(numbers) == len(stratum["warnings"])
        for number, warning in zip(numbers, stratum["warnings"], strict=True):
            assert f"  {number.strip()}. {warning}" in lines
    header = next(line for line in text.splitlines() if "stratum" in line)
    assert header.split() == ["┃", "stratum", "┃", "named", "┃", "estimate", "┃", "interval", "┃", "lists", "┃", "notes", "┃"]
    quiet_args = ("estimate", "run", "--method", "loglinear", "--interval", "profile", "--by", "gender")
    by_gender = json.loads(run(*quiet_args, "--json", workspace=ws).stdout)
    assert not any(s["warnings"] for s in by_gender["strata"]), [s["warnings"] for s in by_gender["strata"]]
    quiet = run(*quiet_args, workspace=ws).stdout
    header = next(line for line in quiet.splitlines() if "stratum" in line)
    assert "notes" not in header and "lists" in header  # no column of empty notes
    bad = run("estimate", "run", "--linkage-thresholds", "high", "--json", workspace=ws)
    assert bad.exit_code != 0 and json.loads(bad.stdout)["error"]["option"] == "--linkage-thresholds"
    assert "--linkage-thresholds: takes probabilities" in bad.stderr


def test_a_seed_or_a_count_out_of_range_is_a_usage_error_not_a_crash(tmp_path, monkeypatch):
    """A negative seed crashed NumPy with a traceback; an LCMCR run of 0 iterations ran 2,000 and stored 0."""
    monkeypatch.chdir(tmp_path)
    for args in (("--method", "loglinear", "--seed", "-1"), ("--method", "lcmcr", "--seed", str(2**32)),
                 ("--method", "lcmcr", "--iterations", "0"), ("--method", "lcmcr", "--thin", "0")):
        result = run("estimate", "table", KOREA, *args, "--json")
        assert result.exit_code == 2 and f"Invalid value for '{args[2]}'" in result.output, result.output
    from dadkhah.estimate import EstimationError, estimate_table, read_table

    with pytest.raises(EstimationError, match="seed"):
        estimate_table(read_table(KOREA), "loglinear", random_state=-1)


def test_a_chart_is_an_svg_file_and_never_lands_on_another_file(tmp_path, monkeypatch):
    """Asked for chart.png, the chart went to chart.svg over whatever was there, making any folder it
    named; now the file is checked before anything is estimated."""
    monkeypatch.chdir(tmp_path)
    mine = write(tmp_path / "chart.svg", "my own notes, not a chart")
    logo = write(tmp_path / "logo.svg", '<svg xmlns="http://www.w3.org/2000/svg"><text>ORG LOGO</text></svg>\n')
    for plot, said in (("chart.png", "drawn as SVG"), (str(mine), "not a chart"), (str(logo), "not a chart"),
                       (str(tmp_path / "nowhere" / "c.svg"), "does not exist")):
        result = run("estimate", "table", KOREA, "--method", "chao", "--plot", plot, "--json")
        error = json.loads(result.stdout)["error"]
        assert result.exit_code != 0 and said in error["message"] and error["option"] == "--plot", error
    assert mine.read_text() == "my own notes, not a chart" and not (tmp_path / "nowhere").exists()
    assert "ORG LOGO" in logo.read_text(), "an SVG this tool did not draw is kept"
    drawn = tmp_path / "toll.svg"
    for _ in range(2):  # a chart drawn before is replaced
        result = run("estimate", "table", KOREA, "--method", "chao", "--plot", str(drawn), "--json")
        assert result.exit_code == 0, result.output
        assert json.loads(result.stdout)["plot"] == str(drawn) and "<svg" in drawn.read_text(encoding="utf-8")
