"""The command line: every command has --json, stdout holds one document, errors name file and line."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import typer.main
from typer.testing import CliRunner

from dadkhah.cli import app
from tests.conftest import write

runner = CliRunner()


def run(*args, workspace=None, env=None):
    prefix = ["--workspace", str(workspace)] if workspace else []
    return runner.invoke(app, [*prefix, *args], catch_exceptions=False, env=env)


def all_commands():
    """(name, click command) for every leaf command of the app."""
    root = typer.main.get_command(app)
    found = []

    def walk(group, prefix):
        for name, command in group.commands.items():
            if hasattr(command, "commands"):  # a group (Typer vendors its own click)
                walk(command, f"{prefix}{name} ")
            else:
                found.append((f"{prefix}{name}", command))

    walk(root, "")
    return found


def test_every_command_has_json_and_an_example():
    commands = all_commands()
    assert {"init", "import", "synth", "records list", "sources list", "sources add", "places list",
            "places add-alias", "places resolve", "report summary"} <= {name for name, _ in commands}
    for name, command in commands:
        assert any("--json" in p.opts for p in command.params), f"{name} has no --json"
        assert "Example:" in (command.help or ""), f"{name}'s help has no example"


@pytest.fixture
def ws(tmp_path, monkeypatch):
    monkeypatch.delenv("DADKHAH_DATABASE_URL", raising=False)
    result = run("init", str(tmp_path / "ws"), "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["schema_revision"]
    return tmp_path / "ws"


def test_import_then_list_records_and_sources(ws, tmp_path):
    path = write(tmp_path / "l.csv", "شناسه,نام,نام خانوادگی,تاریخ اعدام,شهر\n1,رضا,کریمی,۱۳۶۷/۰۵/۰۸,Resht\n,,,,\n3,علی,,1367/07/31,رشت\n")
    result = run("import", str(path), "--source", "ngo", "--incident", "Synthetic case", "--json", workspace=ws)
    assert result.exit_code == 0, result.stderr
    summary = json.loads(result.stdout)
    assert {k: summary[k] for k in ("source", "rows", "imported", "rejected")} == {"source": "ngo", "rows": 2, "imported": 2, "rejected": 0}
    assert summary["blank"] == 1
    assert summary["warnings"] == [{"line": 4, "field": "death_date", "message": summary["warnings"][0]["message"]}]
    records = json.loads(run("records", "list", "--json", workspace=ws).stdout)
    assert [r["record_id"] for r in records] == ["1", "3"]
    assert records[0]["city"]["place_id"] == "city:rasht" and records[0]["death_date"]["earliest"] == "1988-07-30"
    assert json.loads(run("records", "list", "--json", "--limit", "1", "--offset", "1", workspace=ws).stdout)[0]["record_id"] == "3"
    human = run("records", "list", workspace=ws)
    assert "2 records" in human.stdout and "کریمی" in human.stdout
    again = json.loads(run("import", str(path), "--source", "ngo", "--json", workspace=ws).stdout)
    assert again["already_imported"] is True
    assert "already imported" in run("import", str(path), "--source", "ngo", workspace=ws).stderr
    sources = json.loads(run("sources", "list", "--json", workspace=ws).stdout)
    assert sources == [sources[0]] and sources[0]["records"] == 2 and sources[0]["imports"] == 1
    summary = json.loads(run("report", "summary", "--json", workspace=ws).stdout)
    assert summary["records"] == 2 and summary["incidents"] == [{"name": "Synthetic case", "records": 2}]
    assert "Records per city" in run("report", "summary", workspace=ws).stdout


def test_a_thing_not_found_names_the_option_or_argument_that_named_it(ws):
    """Errors name the field: "no person P-999999" says which of the command's values was not found."""
    for args, option, field in ((["records", "list", "--source", "nope"], "--source", "source"),
                                (["persons", "show", "P-999999"], "PERSON_ID", "person_id"),
                                (["acts", "list", "--person", "P-999999"], "--person", "person")):
        result = run(*args, "--json", workspace=ws)
        error = json.loads(result.stdout)["error"]
        assert result.exit_code == 1 and (error["option"], error["field"]) == (option, field), error


def test_sources_add_validates_the_admiralty_grade(ws):
    ok = run("sources", "add", "un-2020", "--producer", "A UN office", "--reliability", "b", "--credibility", "2",
             "--obtained-on", "2020-12-09", "--json", workspace=ws)
    assert json.loads(ok.stdout) | {"created_at": None} == {
        "name": "un-2020", "producer": "A UN office", "description": None, "obtained_on": "2020-12-09",
        "reliability": "B", "credibility": 2, "restrictions": None, "release": "restricted", "created_at": None,
        "created": True, "changed": ["producer", "obtained_on", "reliability", "credibility"]}
    bad = run("sources", "add", "un-2020", "--reliability", "Z", "--json", workspace=ws)
    assert bad.exit_code == 1 and "A-F" in json.loads(bad.stdout)["error"]["message"]


def test_adding_and_describing_a_source_is_in_the_audit_log_with_what_changed(ws):
    from dadkhah.audit import list_audit
    from dadkhah.store import open_store
    from dadkhah.workspace import load_workspace

    def trail() -> list[dict]:
        with open_store(load_workspace(ws)) as store, store.session() as session:
            return [e for e in list_audit(session, object_id="un-2020") if e["object_kind"] == "source"]

    run("sources", "add", "un-2020", "--producer", "A UN office", "--credibility", "2", workspace=ws)
    regraded = json.loads(run("sources", "add", "un-2020", "--credibility", "3", "--producer", "A UN office",
                              "--json", workspace=ws).stdout)
    assert (regraded["created"], regraded["changed"]) == (False, ["credibility"])
    again = run("sources", "add", "un-2020", "--credibility", "3", workspace=ws)
    assert "unchanged" in again.stdout, "saying again what is recorded is not a change"
    events = trail()
    assert [e["action"] for e in events] == ["source described", "source added"]  # newest first
    assert events[1]["details"] == {"producer": "A UN office", "credibility": 2}
    assert events[0]["details"] == {"credibility": {"before": 2, "after": 3}}
    assert {(e["actor"], e["channel"]) for e in events} == {(events[0]["actor"], "cli")}
    # a detail given cannot be emptied, only replaced (a restriction on use was wiped by --restrictions "")
    run("sources", "add", "un-2020", "--restrictions", "  not for publication ", workspace=ws)
    for detail in ("--producer", "--restrictions"):
        for empty in ("", "   "):
            refused = run("sources", "add", "un-2020", detail, empty, "--json", workspace=ws)
            assert refused.exit_code != 0 and json.loads(refused.stdout)["error"]["option"] == detail
    kept = json.loads(run("sources", "add", "un-2020", "--json", workspace=ws).stdout)
    assert (kept["producer"], kept["restrictions"]) == ("A UN office", "not for publication"), "trimmed, kept"


def test_places_commands(ws):
    wrong = run("places", "list", "--type", "foo", "--json", workspace=ws)
    assert wrong.exit_code != 0 and json.loads(wrong.stdout)["error"]["option"] == "--type", "not an empty list"
    assert json.loads(run("places", "list", "--type", "prison", "--json", workspace=ws).stdout)
    assert json.loads(run("places", "resolve", "Resht", "--json", workspace=ws).stdout)["place_id"] == "city:rasht"
    assert json.loads(run("places", "resolve", "Gilan-e Gharb", "--json", workspace=ws).stdout)["place_id"] is None
    added = json.loads(run("places", "add-alias", "city:rasht", "Rasht-e Gilan", "--json", workspace=ws).stdout)
    assert added["added"] is True
    assert json.loads(run("places", "resolve", "Rasht-e Gilan", "--json", workspace=ws).stdout)["place_id"] == "city:rasht"
    typo = json.loads(run("places", "resolve", "تهرات", "--json", workspace=ws).stdout)
    assert typo["place_id"] is None and [c["place_id"] for c in typo["close"]] == ["city:tehran"]
    assert "تهرات: unknown; close to city:tehran (Tehran)" in run("places", "resolve", "تهرات", workspace=ws).stdout
    path = write(ws.parent / "typo.csv", "id,given_name,family_name,city\n1,Ali,Rahimi,تهرات\n")
    imported = run("import", str(path), "--source", "typo-list", workspace=ws)
    assert imported.exit_code == 0, imported.output
    assert ("line 2, city: unknown place 'تهرات', kept as given; did you mean Tehran (city:tehran)? (if so, teach "
            "it with `dadkhah places add-alias city:tehran 'تهرات'`)") in imported.output
    assert "`dadkhah places unknown --field city` lists them all" in imported.output
    unknown = json.loads(run("places", "unknown", "--json", workspace=ws).stdout)
    assert unknown["unknown"] == [{"spelling": "تهرات", "records": 1,
                                   "close": [{"place_id": "city:tehran", "type": "city", "name": "Tehran"}]}]
    assert "1 spelling names no known place, in 1 record" in run("places", "unknown", workspace=ws).stdout
    taught = run("places", "add-alias", "city:tehran", "تهرات", workspace=ws)
    assert ("Resolved to it: 1 record whose city named no known place: 1 written 'تهرات'. The next `link run` and "
            "estimates use them.") in taught.stdout
    assert "Every city the records give names a known place." in run("places", "unknown", workspace=ws).stdout
    prisons = json.loads(run("places", "list", "--type", "prison", "--json", workspace=ws).stdout)
    assert {p["type"] for p in prisons} == {"prison"} and any(p["id"] == "prison:evin" for p in prisons)


def test_a_newer_gazetteer_says_what_it_resolved(ws):
    """Opening the workspace with a newer shipped gazetteer that knows the records' spellings an older
    one did not says so once, on stderr (stdout keeps its one JSON document); `init` says it in its JSON."""
    import sqlalchemy as sa

    from dadkhah.model import PlaceName, Record, Setting
    from dadkhah.store import GAZETTEER_SETTING, open_store
    from dadkhah.workspace import load_workspace

    def older_gazetteer():  # as an older version, which knew no name of Rasht, would have left it
        with open_store(load_workspace(ws)) as store, store.session() as session:
            session.execute(sa.delete(PlaceName).where(PlaceName.place_id == "city:rasht"))
            session.execute(sa.update(Record).where(Record.city_place_id == "city:rasht").values(city_place_id=None))
            session.execute(sa.update(Setting).where(Setting.key == GAZETTEER_SETTING).values(value="older"))

    path = write(ws.parent / "l.csv", "id,given_name,family_name,city\n1,Ali,Rahimi,Rasht\n2,Reza,Karimi,رشت\n")
    assert run("import", str(path), "--source", "l", workspace=ws).exit_code == 0
    older_gazetteer()
    listed = run("places", "unknown", "--json", workspace=ws)  # this version's gazetteer, at this opening
    assert ("This version's gazetteer knows places it did not: 2 records now have a known city (the next"
            in listed.stderr)
    assert json.loads(listed.stdout)["records"] == 0
    assert "gazetteer" not in run("places", "unknown", "--json", workspace=ws).stderr, "said once"
    older_gazetteer()
    assert json.loads(run("init", str(ws), "--json").stdout)["places_resolved"] == {"city": 2}


def test_synth_json(tmp_path):
    result = run("synth", "--victims", "50", "--lists", "2", "--seed", "1", "--out", str(tmp_path / "case"), "--json")
    case = json.loads(result.stdout)
    assert case["victims"] == 50 and [item["name"] for item in case["lists"]] == ["list-1", "list-2"]


def test_errors_name_the_file_and_line_and_exit_non_zero(ws, tmp_path):
    path = write(tmp_path / "l.csv", "id,city\n1,Rasht\n")
    result = run("import", str(path), "--source", "s", "--json", workspace=ws)
    assert result.exit_code == 1
    error = json.loads(result.stdout)["error"]
    assert error["file"] == str(path) and error["line"] == 1 and "no column holds a name" in error["message"]
    assert "error:" in result.stderr and str(path) in result.stderr
    missing = run("records", "list", "--source", "nobody", "--json", workspace=ws)
    assert missing.exit_code == 1 and "no source named 'nobody'" in json.loads(missing.stdout)["error"]["message"]


def test_commands_outside_a_workspace_say_so(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DADKHAH_WORKSPACE", raising=False)
    result = run("sources", "list", "--json")
    assert result.exit_code == 1 and "dadkhah init" in json.loads(result.stdout)["error"]["message"]


def test_json_stdout_is_exactly_one_document_in_a_real_process(ws, tmp_path):
    """Run the installed command as scripts do; nothing but the document may reach stdout."""
    path = write(tmp_path / "l.csv", "id,name,death_date\n" + "".join(f"{i},Reza Karimi,1367/05/{(i % 28) + 1:02d}\n" for i in range(1, 300)))
    env = os.environ | {"COLUMNS": "80"}
    command = [sys.executable, "-m", "dadkhah", "--workspace", str(ws), "-v", "import", str(path), "--source", "s", "--json"]
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)  # raises if anything else is on stdout
    assert document["imported"] == 299
    failed = subprocess.run([*command[:-4], str(tmp_path / "missing.csv"), "--source", "s", "--json"],
                            capture_output=True, text=True, env=env, check=False)
    assert failed.returncode == 1 and json.loads(failed.stdout)["error"]["file"].endswith("missing.csv")
    assert "missing.csv" in failed.stderr


def test_a_bug_still_leaves_one_json_document_on_stdout(tmp_path, monkeypatch):
    """An unexpected exception (a bug) keeps its traceback, on stderr; with --json, stdout still holds
    one document saying so, for the script that reads it."""
    import dadkhah.estimate

    def broken(path):
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr(dadkhah.estimate, "read_table", broken)
    answer = CliRunner().invoke(app, ["estimate", "table", str(write(tmp_path / "t.csv", "a,b,count\n1,0,1\n")),
                                      "--json"])
    assert answer.exit_code == 1 and isinstance(answer.exception, ZeroDivisionError)
    error = json.loads(answer.stdout)["error"]
    assert error["bug"] is True and "ZeroDivisionError: a bug" in error["message"]
    # A command that gives its document, then its own exit status, is not a bug: one document still.
    unsigned = CliRunner().invoke(app, ["verify-site", str(tmp_path), "--json"])
    assert unsigned.exit_code == 1 and json.loads(unsigned.stdout)["intact"] is False


def test_a_command_line_that_cannot_run_still_answers_one_json_document(tmp_path):
    """An option out of range, missing or unknown is refused before any command runs (status 2); with
    --json, stdout still holds one error document naming the option, and stderr the usual message."""
    env = os.environ | {"COLUMNS": "80"}
    for args, option, words in ((["synth", "--victims", "0", "--lists", "3", "--seed", "1"], "--victims", "greater than"),
                                (["import", str(tmp_path / "l.csv"), "--source", "s", "--colour", "red"], None, "--colour")):
        done = subprocess.run([sys.executable, "-m", "dadkhah", *args, "--json"], capture_output=True, text=True,
                              env=env, check=False, cwd=tmp_path)
        assert done.returncode == 2, done.stderr
        error = json.loads(done.stdout)["error"]
        assert error["usage"] is True and error["option"] == option and words in error["message"]
        assert words in done.stderr


def test_link_persons_and_review_commands(ws, small_case):
    for path in sorted(small_case.glob("list-*.csv"))[:3]:
        assert run("import", str(path), "--source", path.stem, "--json", workspace=ws).exit_code == 0
    summary = json.loads(run("link", "run", "--review-band", "0.2,0.9", "--json", workspace=ws).stdout)
    assert summary["records"] > summary["persons"] > 0 and summary["run_id"] == 1
    evaluation = json.loads(run("link", "evaluate", "--truth", str(small_case / "truth.csv"), "--json", workspace=ws).stdout)
    assert evaluation["pairwise"]["f1"] > 0.9 and evaluation["truth_records_not_predicted"] > 0  # list 4 was not imported
    persons = json.loads(run("persons", "list", "--json", workspace=ws).stdout)
    assert len(persons) == summary["persons"]
    shown = json.loads(run("persons", "show", persons[0]["person_id"], "--json", workspace=ws).stdout)
    assert shown["person_id"] == persons[0]["person_id"] and shown["records"]
    assert "P-" in run("persons", "show", persons[0]["person_id"], workspace=ws).stdout
    missing = run("persons", "show", "P-999999", "--json", workspace=ws)
    assert missing.exit_code == 1 and "no person" in json.loads(missing.stdout)["error"]["message"]
    exported = json.loads(run("persons", "export", "--out", str(ws / "registry.csv"), "--json", workspace=ws).stdout)
    assert exported["rows"] == summary["records"] and exported["persons"] == summary["persons"]
    import hashlib

    assert exported["sha256"] == hashlib.sha256((ws / "registry.csv").read_bytes()).hexdigest()
    audit = json.loads(run("audit", "list", "--json", workspace=ws).stdout)
    [event] = [e for e in audit if e["action"] == "registry exported"]
    assert (event["object_id"], event["channel"]) == (exported["sha256"], "cli"), "who took the registry out, and which file"
    assert event["details"] == {"rows": exported["rows"], "persons": exported["persons"], "file": "registry.csv"}
    assert not list(ws.glob(".registry.csv.*")), "no temporary file is left beside it"
    again = run("persons", "export", "--out", str(ws / "registry.csv"), "--json", workspace=ws)
    assert again.exit_code != 0 and json.loads(again.stdout)["error"]["option"] == "--out", "replaced only if asked"
    assert run("persons", "export", "--out", str(ws / "registry.csv"), "--force", workspace=ws).exit_code == 0
    queue = json.loads(run("review", "list", "--limit", "3", "--json", workspace=ws).stdout)
    assert queue["run_id"] == 1 and len(queue["pairs"]) <= 3
    pair = queue["pairs"][0]
    decided = json.loads(run("review", "decide", pair["record_a"]["ref"], pair["record_b"]["ref"], "different",
                             "--reason", "different fathers [see letter] [/x]", "--json", workspace=ws).stdout)
    assert decided["decision"] == "different" and decided["effective"].startswith("at the next")
    bad = run("review", "decide", pair["record_a"]["ref"], pair["record_b"]["ref"], "maybe", "--reason", "x", "--json", workspace=ws)
    assert bad.exit_code == 1 and "same' or 'different" in json.loads(bad.stdout)["error"]["message"]
    decisions = json.loads(run("review", "decisions", "--json", workspace=ws).stdout)
    assert [d["decision"] for d in decisions] == ["different"]
    shown = run("review", "decisions", workspace=ws)  # a reason is data: printed as written, never read as markup
    assert shown.exit_code == 0 and "[see" in shown.stdout and "[/x]" in shown.stdout, shown.output
    assert "probability" in run("review", "list", "--limit", "1", workspace=ws).stdout
    again = run("link", "run", workspace=ws).stdout  # the decision applies: the run says what it reused
    assert f"what {summary['records']:,} records offer for comparison" in again and "search index was updated for" in again


def test_errors_name_the_commands_own_option_or_argument(ws, tmp_path):
    """The core names a field; the command line shows it as the option or argument it took it from."""
    bad_ref = run("review", "decide", "no-colon", "list-1:1", "same", "--reason", "r", "--json", workspace=ws)
    error = json.loads(bad_ref.stdout)["error"]
    assert bad_ref.exit_code == 1 and (error["field"], error["option"]) == ("record_a", "RECORD_A")
    assert "RECORD_A: 'no-colon' is not a record reference" in bad_ref.stderr
    path = write(tmp_path / "l.csv", "id,name\n1,Reza Karimi\n")
    bad_format = run("import", str(path), "--source", "s", "--format", "pdf", "--json", workspace=ws)
    error = json.loads(bad_format.stdout)["error"]
    assert (error["file"], error["field"], error["option"]) == (str(path), "format", "--format")
    assert f"{path}, --format: must be one of" in bad_format.stderr
    no_reason = run("review", "decide", "a:1", "b:2", "same", "--reason", " ", "--json", workspace=ws)
    assert json.loads(no_reason.stdout)["error"]["option"] == "--reason"


def test_every_command_knows_the_words_of_its_options_and_arguments():
    """Each command can name any of its parameters in an error, as its --help shows them."""
    from dadkhah.cli.common import parameter_words

    def callbacks(typer_app):
        for info in typer_app.registered_commands:
            yield info.callback
        for group in typer_app.registered_groups:
            yield from callbacks(group.typer_instance)

    by_name = {command.callback.__name__: command for _, command in all_commands()}
    checked = 0
    for callback in callbacks(app):
        words = {part for word in parameter_words(callback).values() for part in word.split("/")}
        command = by_name[callback.__name__]
        for param in command.params:
            if param.param_type_name == "option" and "--help" not in param.opts:
                assert set(param.opts) & words, (callback.__name__, param.opts, words)
                checked += 1
    assert checked > 60


def test_names_and_paths_print_as_written_not_as_markup(ws, tmp_path):
    """Text from the data (a source's name, a cell, a file's name) keeps its brackets: the terminal
    never reads it as rich markup, where "[b]" vanished and "[/b]" stopped the command."""
    assert run("sources", "add", "[b]list[/b]", "--producer", "NGO [draft]", workspace=ws).exit_code == 0
    path = write(tmp_path / "[x] list.csv", "id,given_name,family_name\n1,Ali,Karimi\n")
    imported = run("import", str(path), "--source", "[b]list[/b]", workspace=ws)
    assert imported.exit_code == 0, imported.output
    assert "[b]list[/b]: 1 row, 1 imported" in imported.stdout
    listed = run("sources", "list", workspace=ws)
    assert listed.exit_code == 0 and "[b]list[/b]" in listed.stdout and "NGO [draft]" in listed.stdout, listed.output
    records = run("records", "list", "--source", "[b]list[/b]", workspace=ws)
    assert records.exit_code == 0 and "1 record\n" in records.stdout and "[b]list[/b]" in records.stdout, records.output


def test_a_progress_bar_draws_a_total_not_yet_known_as_a_count_without_an_end(monkeypatch):
    """Work that reads before it knows how much there is says (done, 0): the bar shows "1000/?",
    never "1000/0"; once a total comes, "3/8"."""
    import io
    import time

    from rich.console import Console

    from dadkhah.cli import common

    screen = io.StringIO()
    monkeypatch.setattr(common, "err", Console(file=screen, force_terminal=True, width=100, highlight=False))
    with common.progress_bar("printing the report") as progress:
        progress(1000, 0)
        time.sleep(0.3)  # the bar redraws itself ten times a second
        drawn_reading = screen.getvalue()
        progress(3, 8)
    drawn = screen.getvalue()
    assert "1000/?" in drawn_reading and "1000/0" not in drawn


def test_the_records_list_counts_what_it_lists(tmp_path):
    ws = tmp_path / "ws"
    assert run("init", str(ws)).exit_code == 0
    run("import", str(write(tmp_path / "l1.csv", "id,name\n1,Ali\n2,Reza\n")), "--source", "l1", workspace=ws)
    run("import", str(write(tmp_path / "l1b.csv", "id,name\n1,Ali Rezaie\n")), "--source", "l1", workspace=ws)
    assert "2 records" in run("records", "list", "--source", "l1", workspace=ws).stdout
    listed = run("records", "list", "--source", "l1", "--include-superseded", workspace=ws).stdout
    assert "3 records" in listed, "the title counts the older version it lists"
