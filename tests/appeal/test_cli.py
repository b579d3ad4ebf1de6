"""The appeal commands: one JSON document with --json, errors naming the option, the same trail as the core."""

from __future__ import annotations

import csv
import json

from dadkhah.appeal import normalise_email
from tests.appeal.conftest import LETTER, LETTER_FA
from tests.cli.test_cli import run
from tests.conftest import write


def _json(result) -> dict:
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def _workspace(tmp_path):
    ws = tmp_path / "ws"
    assert run("init", str(ws)).exit_code == 0
    return ws


def test_create_publish_sign_and_show_as_json(tmp_path):
    ws = _workspace(tmp_path)
    letter, letter_fa = write(tmp_path / "l.txt", LETTER), write(tmp_path / "l-fa.txt", LETTER_FA)
    created = _json(run("appeal", "create", "--slug", "inquiry", "--title", "For an inquiry", "--title-fa",
                        "برای تحقیق", "--text", str(letter), "--text-fa", str(letter_fa), "--addressee",
                        "The Secretary-General", "--json", workspace=ws))
    assert (created["id"], created["status"], created["version"]) == ("A-0001", "draft", 1)
    assert _json(run("appeal", "publish", "A-0001", "--json", workspace=ws))["status"] == "open"
    for name, kind in (("Jane Roe", "person"), ("=HYPERLINK(\"http://x\")", "person"), ("Rights Group", "organisation")):
        signed = _json(run("appeal", "sign", "inquiry", "--name", name, "--kind", kind, "--country", "UK",
                           "--verified-by", "maryam", "--json", workspace=ws))
        assert signed["status"] == "verified"
    _json(run("appeal", "sign", "inquiry", "--name", "Quiet One", "--count-only", "--verified-by", "maryam",
              "--json", workspace=ws))
    shown = _json(run("appeal", "show", "A-0001", "--json", workspace=ws))
    assert set(shown) >= {"id", "slug", "status", "version", "counts", "by_kind", "by_country"}
    assert shown["counts"]["verified"] == 4 and shown["counts"]["public_names"] == 3
    assert shown["by_kind"] == {"person": 3, "organisation": 1} and shown["by_country"] == {"UK": 3, "unknown": 1}
    exported = _json(run("appeal", "export", "A-0001", "--format", "csv", "--out", str(tmp_path / "s.csv"), "--json",
                         workspace=ws))
    assert exported["signatories"] == 3
    with open(tmp_path / "s.csv", encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["name"] for r in rows][0] == "Rights Group", "organisations first, as the appeal says"
    assert "'=HYPERLINK(\"http://x\")" in [r["name"] for r in rows], "a formula is made inert"
    history = [e["action"] for e in shown["history"]]
    assert history == ["appeal created", "appeal published"] + ["signature added"] * 4
    listed = _json(run("appeal", "list", "--json", workspace=ws))
    assert [a["id"] for a in listed] == ["A-0001"]


def test_moderation_and_purge_from_the_command_line(tmp_path):
    ws = _workspace(tmp_path)
    letter = write(tmp_path / "l.txt", LETTER)
    _json(run("appeal", "create", "--slug", "a", "--title", "T", "--text", str(letter), "--addressee", "X", "--json",
              workspace=ws))
    _json(run("appeal", "publish", "a", "--json", workspace=ws))
    _json(run("appeal", "sign", "a", "--name", "Sara Ahmadi", "--verified-by", "m", "--json", workspace=ws))
    held = _json(run("appeal", "sign", "a", "--name", "سارا احمدی", "--verified-by", "m", "--json", workspace=ws))
    assert (held["status"], held["flag"]) == ("held", "duplicate")
    queue = _json(run("appeal", "queue", "a", "--json", workspace=ws))
    assert [s["id"] for s in queue["signatures"]] == [held["signature"]]
    decided = _json(run("appeal", "decide", "a", str(held["signature"]), "--decision", "approve", "--json",
                        workspace=ws))
    assert decided["verified_after"] == 2
    _json(run("appeal", "close", "a", "--json", workspace=ws))
    purged = _json(run("appeal", "purge", "a", "--older-than", "0", "--json", workspace=ws))
    assert purged["erased"] == 2 and purged["verified"] == 2


def test_errors_name_the_option_and_leave_stdout_one_document(tmp_path):
    ws = _workspace(tmp_path)
    letter = write(tmp_path / "l.txt", LETTER)
    bad = run("appeal", "create", "--slug", "Not A Slug", "--title", "T", "--text", str(letter), "--addressee", "X",
              "--json", workspace=ws)
    assert bad.exit_code == 1
    assert json.loads(bad.stdout)["error"]["option"] == "--slug"
    missing = run("appeal", "create", "--slug", "ok", "--title", "T", "--text", str(tmp_path / "none.txt"),
                  "--addressee", "X", "--json", workspace=ws)
    assert missing.exit_code == 1 and json.loads(missing.stdout)["error"]["file"].endswith("none.txt")
    _json(run("appeal", "create", "--slug", "ok", "--title", "T", "--text", str(letter), "--addressee", "X", "--json",
              workspace=ws))
    draft = run("appeal", "sign", "ok", "--name", "N", "--verified-by", "m", "--json", workspace=ws)
    assert draft.exit_code == 1 and json.loads(draft.stdout)["error"]["option"] == "APPEAL"
    future = run("appeal", "deliver", "ok", "--to", "X", "--on", "yesterday", "--json", workspace=ws)
    assert json.loads(future.stdout)["error"]["option"] == "--on"
    no_mail = run("appeal", "mail", "--json", workspace=ws, env={"DADKHAH_SMTP_URL": ""})
    assert no_mail.exit_code == 1 and "DADKHAH_SMTP_URL" in json.loads(no_mail.stdout)["error"]["message"]


def test_a_delivery_on_an_earlier_day_keeps_that_days_count_and_version(tmp_path):
    """`appeal deliver --on DAY` records that day's verified count and version, and refuses a day
    before publication (naming --on) instead of recording today's numbers under it."""
    from datetime import timedelta

    import sqlalchemy as sa

    from dadkhah.model import Appeal
    from dadkhah.model.base import utcnow
    from dadkhah.store import open_store
    from dadkhah.workspace import load_workspace

    ws = _workspace(tmp_path)
    letter, revised = write(tmp_path / "l.txt", LETTER), write(tmp_path / "r.txt", "A second version.")
    _json(run("appeal", "create", "--slug", "a", "--title", "T", "--text", str(letter), "--addressee", "X", "--json",
              workspace=ws))
    _json(run("appeal", "publish", "a", "--json", workspace=ws))
    for name in ("Sara Ahmadi", "Jane Roe"):
        _json(run("appeal", "sign", "a", "--name", name, "--verified-by", "m", "--json", workspace=ws))
    early = run("appeal", "deliver", "a", "--to", "The Office", "--on", "2020-01-01", "--json", workspace=ws)
    assert early.exit_code == 1
    error = json.loads(early.stdout)["error"]
    assert error["option"] == "--on" and "before A-0001 was published" in error["message"]
    # The letter was published three days ago; it is revised today.
    with open_store(load_workspace(ws)) as store, store.session() as session:
        session.scalars(sa.select(Appeal).where(Appeal.slug == "a")).one().published_at = utcnow() - timedelta(days=3)
    _json(run("appeal", "revise", "a", "--text", str(revised), "--json", workspace=ws))
    before = (utcnow() - timedelta(days=2)).date().isoformat()
    then = _json(run("appeal", "deliver", "a", "--to", "The Office", "--on", before, "--json", workspace=ws))
    assert (then["on"], then["version"], then["verified"]) == (before, 1, 0)
    today = _json(run("appeal", "deliver", "a", "--to", "The Council", "--on", utcnow().date().isoformat(),
                      "--json", workspace=ws))
    assert (today["version"], today["verified"]) == (2, 2)
    printed = run("appeal", "show", "a", workspace=ws).stdout
    assert f"on {before} with 0 signatures" in printed


def test_email_addresses_are_normalised_per_provider():
    same = {normalise_email(a)[1] for a in ("First.Last+x@gmail.com", "firstlast@GMAIL.com", "firstlast@googlemail.com",
                                            "F.I.R.S.T.L.A.S.T@gmail.com")}
    assert same == {"firstlast@gmail.com"}
    assert normalise_email("Jane.Doe+appeal@outlook.com")[1] == "jane.doe@outlook.com"  # tags go, dots stay
    assert normalise_email("jane+appeal@unknown.example")[1] == "jane+appeal@unknown.example"  # + may be the name
    assert normalise_email("  Someone@Bücher.example ")[1] == "someone@xn--bcher-kva.example"
    assert normalise_email("Jane@Example.org") == ("Jane@Example.org", "jane@example.org")


def _closed_long_ago(ws, slug: str) -> None:
    """Close the appeal and move its closing back past its --keep-days (the promised erasure is due)."""
    from datetime import timedelta

    import sqlalchemy as sa

    from dadkhah.model import Appeal
    from dadkhah.model.base import utcnow
    from dadkhah.store import open_store
    from dadkhah.workspace import load_workspace

    _json(run("appeal", "close", slug, "--json", workspace=ws))
    with open_store(load_workspace(ws)) as store, store.session() as session:
        appeal = session.scalars(sa.select(Appeal).where(Appeal.slug == slug)).one()
        appeal.closed_at = utcnow() - timedelta(days=appeal.keep_days + 1)


def test_the_promised_erasure_from_the_command_line_and_by_the_worker_leaves_the_same_trail(tmp_path):
    from dadkhah.audit import list_audit
    from dadkhah.store import open_store
    from dadkhah.workspace import load_workspace

    ws = _workspace(tmp_path)
    letter = write(tmp_path / "l.txt", LETTER)
    for slug in ("first", "second", "open"):
        _json(run("appeal", "create", "--slug", slug, "--title", "T", "--text", str(letter), "--addressee", "X",
                  "--keep-days", "30", "--json", workspace=ws))
        _json(run("appeal", "publish", slug, "--json", workspace=ws))
        _json(run("appeal", "sign", slug, "--name", "Sara Ahmadi", "--verified-by", "m", "--json", workspace=ws))
    assert _json(run("appeal", "purge-due", "--json", workspace=ws)) == {"purged": []}, "nothing is due yet"
    _closed_long_ago(ws, "first")
    by_hand = _json(run("appeal", "purge-due", "--json", workspace=ws))["purged"]
    assert [(p["id"], p["erased"], p["verified"]) for p in by_hand] == [("A-0001", 1, 1)]
    assert _json(run("appeal", "purge-due", "--json", workspace=ws)) == {"purged": []}, "done once, not again"
    _closed_long_ago(ws, "second")
    worked = _json(run("worker", "--once", "--json", workspace=ws))
    assert [(p["id"], p["erased"]) for p in worked["appeals_purged"]] == [("A-0002", 1)]
    with open_store(load_workspace(ws)) as store, store.session() as session:
        trail = {appeal: [e for e in list_audit(session, object_id=appeal) if e["action"] == "appeal purged"]
                 for appeal in ("A-0001", "A-0002", "A-0003")}
    (cli,), (scheduled,), untouched = trail["A-0001"], trail["A-0002"], trail["A-0003"]
    assert untouched == [], "an open appeal keeps its signers' details"
    assert cli["details"].keys() == scheduled["details"].keys()
    assert cli["channel"] == "cli" and scheduled["channel"] == "schedule"
    assert scheduled["actor"] == worked["worker"], "the worker that erased them is named"
    shown = _json(run("appeal", "show", "second", "--json", workspace=ws))
    assert not shown["purge_due"] and shown["counts"]["verified"] == 1
