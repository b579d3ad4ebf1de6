"""One core, two shells: every audited action leaves the same trail whether it is taken at the command
line or through the web API.

Each operation is run once through the CLI (as a user of the operating system, ``DADKHAH_USER``)
and once through the API (as a logged-in admin), on the same served case. The audit events each
leaves must agree on action, object kind, the shape of the object id and the detail keys; they
differ only in who acted, through which channel, and from where.
"""

from __future__ import annotations

import json
import re

import pytest

from dadkhah.audit import list_audit, verify_audit
from dadkhah.model.base import utcnow
from tests.cli.test_cli import run
from tests.conftest import write
from tests.web.conftest import PASSWORD

CLI_USER = "someone-at-the-terminal"
LIST_HEAD = "id,given_name,family_name,father_name,death_date,city\n"


def _events_after(app, seq: int) -> list[dict]:
    with app.state.store.session() as session:
        return [e for e in list_audit(session, limit=None, newest_first=False) if e["seq"] > seq]


def _last_seq(app) -> int:
    with app.state.store.session() as session:
        events = list_audit(session, limit=1)
    return events[0]["seq"] if events else 0


def _shape(event: dict) -> tuple:
    """What must agree between the shells: the action, the kind of object, its id's shape, the detail keys."""
    object_id = re.sub(r"\d+", "N", event["object_id"] or "")
    return event["action"], event["object_kind"], object_id, tuple(sorted(event["details"]))


@pytest.fixture
def shells(app, as_role, web_store_path, tmp_path):
    """``cli(*args)`` runs a command on the served case; ``web(method, path, **request)`` calls the API as admin.

    Each returns the audit events its call left.
    """
    admin = as_role("admin")

    def cli(*args):
        before = _last_seq(app)
        result = run(*args, workspace=web_store_path, env={"DADKHAH_USER": CLI_USER})
        assert result.exit_code == 0, result.output
        return _events_after(app, before)

    def web(method, path, **request):
        before = _last_seq(app)
        answer = admin.request(method, path, headers={"X-CSRF-Token": admin.csrf}, **request)
        assert answer.status_code in (200, 201, 202), (path, answer.text[:300])
        return _events_after(app, before)

    return cli, web


def _submitted(events: list[dict]) -> str:
    """The job a submission made (its "job submitted" event names it)."""
    return next(e["object_id"] for e in events if e["action"] == "job submitted")


def _queued_pairs(app, as_role) -> list[dict]:
    return as_role("analyst").get("/api/v1/review", params={"per_page": 10}).json()["pairs"]


def test_every_operation_leaves_the_same_trail_from_the_command_line_and_the_web(app, as_role, shells, tmp_path):
    cli, web = shells
    folder = tmp_path / "files"
    folder.mkdir()
    pairs = _queued_pairs(app, as_role)
    assert len(pairs) >= 2, "the served case has pairs to decide"
    transcript = write(folder / "t.txt", "Synthetic testimony for the parity test.\n")
    witness = write(folder / "witness.json", '{"name": "Synthetic Witness Parity"}')
    evidence = write(folder / "note.txt", "synthetic evidence, command line\n")
    password = write(folder / "pw.txt", PASSWORD + "\n")
    operations = {
        "import a list": (
            lambda: cli("import", str(write(folder / "a.csv", LIST_HEAD + "a1,Reza,Karimi,Ali,1367/05/08,Rasht\n")),
                        "--source", "parity-a"),
            lambda: web("POST", "/api/v1/sources/upload", data={"source": "parity-b"},
                        files={"file": ("b.csv", (LIST_HEAD + "b1,Ali,Ahmadi,Hasan,1367/05/09,Tabriz\n").encode(),
                                        "text/csv")})),
        "review decision": (
            lambda: cli("review", "decide", pairs[0]["record_a"]["ref"], pairs[0]["record_b"]["ref"], "different",
                        "--reason", "synthetic: the fathers differ"),
            lambda: web("POST", f"/api/v1/review/{pairs[1]['id']}/decide",
                        json={"decision": "different", "reason": "synthetic: the fathers differ"})),
        "place alias added": (lambda: cli("places", "add-alias", "city:rasht", "Rasht-e Gilan"),
                              lambda: web("POST", "/api/v1/places/city:rasht/aliases", json={"alias": "Rasht-e Shomali"})),
        "link run": (lambda: cli("link", "run"), lambda: web("POST", "/api/v1/link/run", json={})),
        # The web submits an estimate as a job, as `--background` does at the terminal; the worker (the
        # real one, `dadkhah worker`) then runs each for the user who asked: the same two events each.
        "estimate run": (
            lambda: cli("estimate", "run", "--method", "chao", "--background") + cli("worker", "--once"),
            lambda: web("POST", "/api/v1/estimates/run", json={"method": "chao"}) + cli("worker", "--once")),
        "job cancel": (
            lambda: cli("jobs", "cancel", _submitted(cli("estimate", "run", "--method", "chao", "--background"))),
            lambda: web("POST", f"/api/v1/jobs/{_submitted(web('POST', '/api/v1/estimates/run', json={'method': 'chao'}))}"
                                "/cancel")),
        "testimony add": (
            lambda: cli("testimony", "add", "--witness-file", str(witness), "--transcript", str(transcript),
                        "--language", "en", "--consent", "investigators", "--about", "P-000001"),
            lambda: web("POST", "/api/v1/testimonies", json={
                "witness_name": "Another Synthetic Witness", "transcript": "Synthetic words.", "language": "en",
                "consent": ["investigators"], "about": ["P-000001"]})),
        "testimony read": (lambda: cli("testimony", "show", "T-0001", "--json"),
                           lambda: web("GET", "/api/v1/testimonies/T-0001")),
        "witness revealed": (lambda: cli("testimony", "show", "T-0001", "--reveal-witness", "--json"),
                             lambda: web("POST", "/api/v1/testimonies/T-0001/reveal-witness")),
        "evidence add": (
            lambda: cli("evidence", "add", str(evidence), "--source", "list-1", "--about", "P-000001"),
            lambda: web("POST", "/api/v1/evidence", data={"source": "list-1", "about": ["P-000001"]},
                        files={"files": ("web.txt", b"synthetic evidence, web\n", "text/plain")})),
        "evidence metadata read": (lambda: cli("evidence", "show", "E-000001", "--json"),
                                   lambda: web("GET", "/api/v1/evidence/E-000001")),
        "evidence file read": (lambda: cli("evidence", "get", "E-000001", "--out", str(folder / "E-000001.csv")),
                               lambda: web("GET", "/api/v1/evidence/E-000001/file")),
        "custody verify": (lambda: cli("custody", "verify"), lambda: web("POST", "/api/v1/custody/verify")),
        "case file export": (
            lambda: cli("export", "casefile", "--out", str(tmp_path / "case-cli"), "--recipient", "Synthetic Body",
                        "--scope", "investigators", "--person", "P-000001"),
            lambda: web("POST", "/api/v1/casefile", json={"recipient": "Synthetic Body", "scope": "investigators",
                                                          "persons": ["P-000001"]})),
        "claim added": (
            lambda: cli("accountability", "add", "posts", "--cell", "official_id=O-000001", "--cell",
                        "institution_id=I-000001", "--cell", "role=parity judge, command line", "--source", "parity-s"),
            lambda: web("POST", "/api/v1/claims", json={"file": "posts", "source": "parity-s", "cells": {
                "official_id": "O-000001", "institution_id": "I-000001", "role": "parity judge, web"}})),
        "claim reviewed": (
            lambda: cli("accountability", "review", "C-000001", "--status", "accepted", "--reason", "r"),
            lambda: web("POST", "/api/v1/claims/C-000002/review", json={"status": "accepted", "reason": "r"})),
        "user add": (
            lambda: cli("users", "add", "parity1", "--role", "viewer", "--password-file", str(password)),
            lambda: web("POST", "/api/v1/users", json={"username": "parity2", "role": "viewer", "password": PASSWORD})),
        "user role change": (lambda: cli("users", "change", "parity1", "--role", "analyst"),
                             lambda: web("POST", "/api/v1/users/parity2", json={"role": "analyst"})),
        "user deactivate": (lambda: cli("users", "change", "parity1", "--inactive"),
                            lambda: web("POST", "/api/v1/users/parity2", json={"active": False})),
        "password reset": (lambda: cli("users", "reset-password", "parity1", "--totp", "--json"),
                           lambda: web("POST", "/api/v1/users/parity2/reset-password", json={"totp": True})),
    }
    for name, (at_terminal, on_the_web) in operations.items():
        from_cli, from_web = at_terminal(), on_the_web()
        assert from_cli and from_web, f"{name}: every operation is audited"
        assert [_shape(e) for e in from_cli] == [_shape(e) for e in from_web], name
        assert {(e["actor"], e["channel"], e["address"]) for e in from_cli} == {(CLI_USER, "cli", None)}, name
        assert {(e["actor"], e["channel"]) for e in from_web} == {("admin", "web")}, name
        assert all(e["address"] for e in from_web) and all(e["signed"] for e in from_cli + from_web), name
    report = verify_audit(app.state.store)
    assert report["intact"], report["problems"]


def test_appeal_actions_leave_the_same_trail_from_the_command_line_and_the_web(shells, tmp_path):
    cli, web = shells
    letter = write(tmp_path / "letter.txt", "A synthetic letter for the parity test.\n")
    revised = write(tmp_path / "letter-2.txt", "A synthetic letter, corrected.\n")
    api = "/api/v1/appeals"
    operations = {
        "create": (lambda: cli("appeal", "create", "--slug", "parity-cli", "--title", "Parity", "--text", str(letter),
                               "--addressee", "Nobody real"),
                   lambda: web("POST", api, json={"slug": "parity-web", "title": "Parity", "addressee": "Nobody real",
                                                  "text": "A synthetic letter for the parity test."})),
        "publish": (lambda: cli("appeal", "publish", "parity-cli"), lambda: web("POST", f"{api}/parity-web/publish")),
        "revise": (lambda: cli("appeal", "revise", "parity-cli", "--text", str(revised)),
                   lambda: web("POST", f"{api}/parity-web/revise", json={"text": "A synthetic letter, corrected."})),
        "paper signature": (
            lambda: cli("appeal", "sign", "parity-cli", "--name", "Ava Rahimi", "--verified-by", "m"),
            lambda: web("POST", f"{api}/parity-web/signatures", json={"name": "Babak Tehrani", "verified_by": "m"})),
        "queue read": (lambda: cli("appeal", "queue", "parity-cli", "--status", "verified", "--json"),
                       lambda: web("GET", f"{api}/parity-web/queue", params={"status": "verified"})),
        "decide": (lambda: cli("appeal", "decide", "parity-cli", "1", "--decision", "reject", "--reason", "test"),
                   lambda: web("POST", f"{api}/parity-web/decide",
                               json={"signatures": [2], "decision": "reject", "reason": "test"})),
        "invalidate": (lambda: cli("appeal", "invalidate", "parity-cli", "--since", "2000-01-01", "--reason", "r"),
                       lambda: web("POST", f"{api}/parity-web/invalidate", json={"since": "2000-01-01", "reason": "r"})),
        # (the day it was published: a delivery is refused before then)
        "deliver": (lambda: cli("appeal", "deliver", "parity-cli", "--to", "A body", "--on", utcnow().date().isoformat()),
                    lambda: web("POST", f"{api}/parity-web/deliver",
                                json={"to": "A body", "on": utcnow().date().isoformat()})),
        "export": (lambda: cli("appeal", "export", "parity-cli", "--format", "csv", "--out", str(tmp_path / "s.csv")),
                   lambda: web("GET", f"{api}/parity-web/export", params={"format": "csv"})),
        "close": (lambda: cli("appeal", "close", "parity-cli"), lambda: web("POST", f"{api}/parity-web/close")),
        "purge": (lambda: cli("appeal", "purge", "parity-cli", "--older-than", "0"),
                  lambda: web("POST", f"{api}/parity-web/purge", json={"older_than": 0})),
    }
    for name, (at_terminal, on_the_web) in operations.items():
        from_cli, from_web = at_terminal(), on_the_web()
        assert from_cli and from_web, f"{name}: every operation is audited"
        assert [_shape(e) for e in from_cli] == [_shape(e) for e in from_web], name
        assert {(e["actor"], e["channel"]) for e in from_cli} == {(CLI_USER, "cli")}, name
        assert {(e["actor"], e["channel"]) for e in from_web} == {("admin", "web")}, name


def test_source_and_publication_decisions_leave_the_same_trail_from_the_command_line_and_the_web(shells):
    cli, web = shells
    operations = {
        "source added": (lambda: cli("sources", "add", "new-1", "--producer", "P", "--reliability", "B"),
                         lambda: web("POST", "/api/v1/sources/new-2/details", json={"producer": "P", "reliability": "B"})),
        "source described": (lambda: cli("sources", "add", "list-1", "--credibility", "2"),
                             lambda: web("POST", "/api/v1/sources/list-2/details", json={"credibility": 2})),
        "source release": (lambda: cli("sources", "set", "list-1", "--release", "public"),
                           lambda: web("POST", "/api/v1/sources/list-2/release", json={"release": "public"})),
        "withhold": (lambda: cli("persons", "withhold", "P-000001", "--reason", "the family asked"),
                     lambda: web("POST", "/api/v1/persons/P-000002/withhold", json={"reason": "the family asked"})),
        "release": (lambda: cli("persons", "release", "P-000001", "--reason", "they agreed"),
                    lambda: web("POST", "/api/v1/persons/P-000002/release", json={"reason": "they agreed"})),
    }
    for name, (at_terminal, on_the_web) in operations.items():
        from_cli, from_web = at_terminal(), on_the_web()
        assert from_cli and from_web, f"{name}: every operation is audited"
        assert [_shape(e) for e in from_cli] == [_shape(e) for e in from_web], name
        assert {(e["actor"], e["channel"]) for e in from_cli} == {(CLI_USER, "cli")}, name
        assert {(e["actor"], e["channel"]) for e in from_web} == {("admin", "web")}, name


def test_api_tokens_leave_the_same_trail_from_the_command_line_and_the_web(shells):
    """Making and revoking a token: ``tokens create --user admin`` at the terminal, the admin for
    themselves through the API (logged in). Token ids are random hexadecimal: compared by shape."""
    cli, web = shells

    def shape(event: dict) -> tuple:
        return _shape(event | {"object_id": re.sub(r"^[0-9a-f]{12}$", "ID", event["object_id"] or "")})

    made_cli = cli("tokens", "create", "--user", "admin", "--scope", "read", "--expires", "2999-01-01")
    made_web = web("POST", "/api/v1/tokens", json={"scope": "read", "expires": "2999-01-01"})
    revoked_cli = cli("tokens", "revoke", made_cli[0]["object_id"])
    revoked_web = web("POST", f"/api/v1/tokens/{made_web[0]['object_id']}/revoke")
    for name, from_cli, from_web in [("create", made_cli, made_web), ("revoke", revoked_cli, revoked_web)]:
        assert len(from_cli) == len(from_web) == 1, name
        assert [shape(e) for e in from_cli] == [shape(e) for e in from_web], name
        assert shape(from_cli[0])[2] == "ID" and from_cli[0]["details"] == from_web[0]["details"], name
        assert (from_cli[0]["actor"], from_cli[0]["channel"]) == (CLI_USER, "cli"), name
        assert (from_web[0]["actor"], from_web[0]["channel"]) == ("admin", "web"), name


def _digests_as_shapes(event: dict) -> tuple:
    """An export is named by its file's SHA-256 (which differs when the file holds a moment): compared by shape."""
    return _shape(event | {"object_id": re.sub(r"^[0-9a-f]{64}$", "SHA256", event["object_id"] or "")})


def test_standard_exports_leave_the_same_trail_from_the_command_line_and_the_web(app, shells, tmp_path):
    cli, web = shells
    cli("sources", "set", "list-1", "--release", "public")  # something to publish
    operations = {
        "persons": (lambda: cli("export", "persons", "--out", str(tmp_path / "persons.csv")),
                    lambda: web("POST", "/api/v1/exports/persons")),
        "records": (lambda: cli("export", "records", "--out", str(tmp_path / "records.xlsx"), "--format", "xlsx"),
                    lambda: web("POST", "/api/v1/exports/records", json={"format": "xlsx"})),
        "acts": (lambda: cli("export", "acts", "--out", str(tmp_path / "acts.csv"), "--format", "csv"),
                 lambda: web("POST", "/api/v1/exports/acts", json={"format": "csv"})),
        "popolo": (lambda: cli("export", "popolo", "--out", str(tmp_path / "popolo.json")),
                   lambda: web("POST", "/api/v1/exports/popolo")),
        "uwazi": (lambda: cli("export", "uwazi", "--template", "acts", "--out", str(tmp_path / "acts.zip")),
                  lambda: web("POST", "/api/v1/exports/uwazi", json={"template": "acts"})),
    }
    for name, (at_terminal, on_the_web) in operations.items():
        from_cli, from_web = at_terminal(), on_the_web()
        assert len(from_cli) == len(from_web) == 1, name
        assert [_digests_as_shapes(e) for e in from_cli] == [_digests_as_shapes(e) for e in from_web], name
        assert from_cli[0]["details"] == from_web[0]["details"], name  # the same counts, format and audience
        if name in ("persons", "records"):
            assert from_cli[0]["details"]["rows"] > 0, name
        assert (from_cli[0]["actor"], from_cli[0]["channel"]) == (CLI_USER, "cli"), name
        assert (from_web[0]["actor"], from_web[0]["channel"]) == ("admin", "web") and from_web[0]["address"], name
    assert verify_audit(app.state.store)["intact"]


def test_intake_leaves_the_same_trail_from_the_command_line_and_the_web(app, shells, tmp_path):
    """Each tool's export taken in at the terminal and through the API: other submissions (and other
    files, which the vault would otherwise know already), the same kinds of events in the same order."""
    from tests.vault.intake_files import (
        KOBO_MAPPING,
        ODK_MAPPING,
        jpeg,
        kobo_json,
        kobo_submission,
        odk_submission,
        odk_zip,
        tella_file,
    )

    cli, web = shells
    (tmp_path / "cli").mkdir()
    (tmp_path / "web").mkdir()
    odk_mapping = write(tmp_path / "odk.toml", ODK_MAPPING)
    kobo_mapping = write(tmp_path / "kobo.toml", KOBO_MAPPING)
    odk_cli = odk_zip(tmp_path / "cli" / "witness_statement.zip", [odk := odk_submission(1)],
                      media={odk["photo"]: jpeg((1, 2, 3))})
    odk_web = odk_zip(tmp_path / "web" / "witness_statement.zip", [odk := odk_submission(2)],
                      media={odk["photo"]: jpeg((201, 102, 53))})
    kobo_cli = kobo_json(tmp_path / "cli" / "data.json", [kobo_submission(1)])
    (tmp_path / "cli" / "photo-10_21_33.jpg").write_bytes(jpeg((11, 12, 13)))
    kobo_web = kobo_json(tmp_path / "web" / "data.json", [kobo_submission(2)])
    tella_cli = tella_file(tmp_path / "cli" / "tella", "IMG_1.jpg", jpeg((21, 22, 23))).parent
    tella_web = tella_file(tmp_path / "web" / "tella", "IMG_2.jpg", jpeg((31, 32, 33))).parent

    def upload(path, media_type="application/octet-stream"):
        return (path.name, path.read_bytes(), media_type)

    operations = {
        "odk": (lambda: cli("intake", "odk", str(odk_cli), "--mapping", str(odk_mapping)),
                lambda: web("POST", "/api/v1/intake/odk", files={"file": upload(odk_web, "application/zip"),
                                                                 "mapping": upload(odk_mapping)})),
        "kobo": (lambda: cli("intake", "kobo", str(kobo_cli), "--mapping", str(kobo_mapping), "--source", "kobo-team"),
                 lambda: web("POST", "/api/v1/intake/kobo", data={"source": "kobo-team"}, files=[
                     ("file", upload(kobo_web, "application/json")), ("mapping", upload(kobo_mapping)),
                     ("attachments", ("photo-10_22_33.jpg", jpeg((41, 42, 43)), "image/jpeg"))])),
        "tella": (lambda: cli("intake", "tella", str(tella_cli), "--source", "tella-team", "--release", "investigators"),
                  lambda: web("POST", "/api/v1/intake/tella", data={"source": "tella-team", "release": ["investigators"]},
                              files=[("files", upload(tella_web / "IMG_2.jpg", "image/jpeg")),
                                     ("files", upload(tella_web / "IMG_2.csv", "text/csv"))])),
    }
    for name, (at_terminal, on_the_web) in operations.items():
        from_cli, from_web = at_terminal(), on_the_web()
        actions = [e["action"] for e in from_cli]
        assert actions[-1] == "field submissions taken in" and "evidence added" in actions, (name, actions)
        assert from_cli[-1]["details"]["imported"] == from_web[-1]["details"]["imported"] == 1, name
        assert [_shape(e) for e in from_cli] == [_shape(e) for e in from_web], name
        assert {(e["actor"], e["channel"]) for e in from_cli} == {(CLI_USER, "cli")}, name
        assert {(e["actor"], e["channel"]) for e in from_web} == {("admin", "web")}, name
    assert verify_audit(app.state.store)["intact"]


def test_timestamping_the_chains_leaves_the_same_trail_from_the_command_line_and_the_web(app, shells, authority):
    cli, web = shells
    from_cli = cli("timestamp", "--tsa", authority.url("good"))
    from_web = web("POST", "/api/v1/custody/timestamp", json={"authorities": [authority.url("good")]})
    assert [e["action"] for e in from_cli] == ["chains timestamped"]
    assert [_shape(e) for e in from_cli] == [_shape(e) for e in from_web]
    assert [(e["object_id"]) for e in from_cli + from_web] == ["TS-0001", "TS-0002"]
    assert [t["authority"] for t in from_web[0]["details"]["timestamps"]] == [authority.url("good")]
    assert (from_cli[0]["actor"], from_cli[0]["channel"]) == (CLI_USER, "cli")
    assert (from_web[0]["actor"], from_web[0]["channel"]) == ("admin", "web")
    assert verify_audit(app.state.store)["intact"]


def test_reading_a_testimony_or_an_evidence_file_at_the_command_line_is_one_event_naming_it(shells, tmp_path):
    cli, _ = shells
    shown = cli("testimony", "show", "T-0001", "--json")
    assert [(e["action"], e["object_id"]) for e in shown] == [("testimony read", "T-0001")]
    got = cli("evidence", "get", "E-000001", "--out", str(tmp_path / "E-000001.csv"))
    assert [(e["action"], e["object_id"]) for e in got] == [("evidence file read", "E-000001")]
    assert (tmp_path / "E-000001.csv").read_bytes() == b"page,line\n1,synthetic\n"


def test_what_only_the_web_does_is_audited_too(app, as_role):
    """Logging in and out and choosing a language exist only in the web; they are audited the same way."""
    before = _last_seq(app)
    client = as_role("viewer")
    client.post("/language", data={"csrf_token": client.csrf, "language": "fa"})
    client.post("/logout", data={"csrf_token": client.csrf})
    events = _events_after(app, before)
    assert [(e["action"], e["actor"], e["channel"]) for e in events] == [
        ("login", "viewer", "web"), ("language set", "viewer", "web"), ("logout", "viewer", "web")]
    assert events[1]["details"] == {"language": "fa"} and all(e["address"] for e in events)


def test_no_shell_writes_audit_events_itself():
    """The shells parse, check permission, call the core and render: no audit call remains in them."""
    from pathlib import Path

    import dadkhah

    root = Path(dadkhah.__file__).parent
    offenders = [str(path.relative_to(root)) for shell in ("cli", "web") for path in (root / shell).rglob("*.py")
                 if re.search(r"\brecord_audit\b|\bappend_event\b|\bAUDIT_CHAIN\b", path.read_text(encoding="utf-8"))]
    assert offenders == []


def test_every_audited_action_has_a_persian_name():
    """The audit page names each action in the reader's language: every action the core writes is translated."""
    from pathlib import Path

    import dadkhah
    from dadkhah.web.i18n import catalogue

    root = Path(dadkhah.__file__).parent
    written = set()
    for path in root.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        for call in re.finditer(r"record_audit\((.*?)\)\n", text, re.S):
            written.update(re.findall(r'action="([^"]+)"', call.group(1)))
            written.update(re.findall(r'"(user (?:re|de)activated)"', call.group(1)))
            written.update(re.findall(r'object_kind="([^"]+)"', call.group(1)))
    assert {"list imported", "link run", "pair decided", "estimate run", "testimony added", "testimony read",
            "witness identity revealed", "evidence added", "evidence metadata read", "evidence file read",
            "custody verified", "case file exported", "user added", "user role changed", "user deactivated",
            "login", "logout", "language set", "accountability imported", "claim added", "claim reviewed",
            "job submitted", "job cancelled", "password reset", "password changed"} <= written
    persian = catalogue("fa")
    assert sorted(w for w in written if w not in persian) == []


def test_the_json_document_of_an_audit_event_says_its_channel(shells):
    cli, _ = shells
    [event] = cli("estimate", "run", "--method", "chao")
    assert json.loads(json.dumps(event))["channel"] == "cli" and event["signed"] is True


def test_the_printed_report_leaves_the_same_trail_from_the_command_line_and_the_web(app, shells, tmp_path):
    """At the terminal the report is printed at once; on the web a worker prints it for the user who
    asked: the event of the printing is the same, the job's submission comes before it."""
    from dadkhah.jobs import run_worker

    cli, web = shells
    cli("sources", "set", "list-1", "--release", "public")
    from_cli = cli("report", "pdf", "--out", str(tmp_path / "report.pdf"), "--lang", "en")
    submitted = web("POST", "/api/v1/reports/print", json={"language": "en"})
    before = _last_seq(app)
    assert run_worker(app.state.store, once=True) == 1
    from_web = _events_after(app, before)
    assert [e["action"] for e in submitted] == ["job submitted"] and submitted[0]["details"]["kind"] == "report print"
    assert [_digests_as_shapes(e) for e in from_cli] == [_digests_as_shapes(e) for e in from_web]
    # The same report: the same counts, language and estimate; its size may differ by the moment printed.
    same = {k: v for k, v in from_cli[0]["details"].items() if k != "bytes"}
    assert same == {k: v for k, v in from_web[0]["details"].items() if k != "bytes"} and same["persons"] > 0
    assert (from_cli[0]["actor"], from_cli[0]["channel"]) == (CLI_USER, "cli")
    assert (from_web[0]["actor"], from_web[0]["channel"]) == ("admin", "web") and from_web[0]["address"]
    assert from_web[0]["address"] == submitted[0]["address"], "the worker acts from where the user asked"
    assert verify_audit(app.state.store)["intact"]


def test_the_memorial_site_leaves_the_same_trail_from_the_command_line_and_the_web(app, shells, tmp_path):
    from dadkhah.jobs import run_worker

    cli, web = shells
    cli("sources", "set", "list-1", "--release", "public")
    from_cli = cli("publish", "memorial", "--out", str(tmp_path / "site"), "--languages", "en")
    submitted = web("POST", "/api/v1/memorial/build", json={"languages": ["en"]})
    before = _last_seq(app)
    assert run_worker(app.state.store, once=True) == 1
    from_web = _events_after(app, before)
    assert [e["action"] for e in submitted] == ["job submitted"]

    def shape(event: dict) -> tuple:  # a site is named by 12 hex digits of its folder's path
        return _shape(event | {"object_id": re.sub(r"^[0-9a-f]{12}$", "FOLDER", event["object_id"] or "")})

    assert [shape(e) for e in from_cli] == [shape(e) for e in from_web]
    same = ("languages", "persons", "cities", "incidents", "sites", "acts", "files", "fingerprint")
    assert {k: from_cli[0]["details"][k] for k in same} == {k: from_web[0]["details"][k] for k in same}
    assert (from_web[0]["actor"], from_web[0]["channel"]) == ("admin", "web")
    assert from_web[0]["address"] == submitted[0]["address"]
