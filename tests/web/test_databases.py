"""The web application on each database (SQLite and PostgreSQL): log in, upload a list, link it,
find a person across scripts, decide nothing twice, and leave an intact audit chain."""

from __future__ import annotations

import sqlalchemy as sa

from dadkhah.audit import verify_audit
from dadkhah.link.run import run_linkage
from dadkhah.model import AuditEvent
from dadkhah.store import open_store
from dadkhah.users import add_user
from dadkhah.web import WebSettings, create_app
from tests.conftest import TESTER
from tests.web.conftest import PASSWORD, login

PERSIAN_LIST = ("id,given_name,family_name,father_name,death_date,city\n"
                "f1,محمد,رضایی,علی,1367/05/10,اصفهان\n"
                "f2,فاطمه,کریمی,حسن,1367/06/02,رشت\n")
LATIN_LIST = ("id,given_name,family_name,father_name,death_date,city\n"
              "l1,Mohammad,Rezaei,Ali,1988-08-01,Isfahan\n"
              "l2,Zahra,Ahmadi,Reza,1988-08-20,Tabriz\n")


def _events(store):
    with store.session() as session:
        return list(session.scalars(sa.select(AuditEvent)))


def test_the_web_application_on_each_database(workspace, database_url):
    with open_store(workspace) as store:
        for role in ("analyst", "viewer"):
            add_user(store, role, actor=TESTER, role=role, password=PASSWORD)
    app = create_app(WebSettings(workspace=workspace.path, database_url=database_url))
    try:
        analyst = login(app, "analyst")
        for name, body in (("persian.csv", PERSIAN_LIST), ("latin.csv", LATIN_LIST)):
            answer = analyst.post("/api/v1/sources/upload", data={"source": name.removesuffix(".csv")},
                                  files={"file": (name, body.encode(), "text/csv")}, headers={"X-CSRF-Token": analyst.csrf})
            assert answer.status_code == 200, answer.text
            assert answer.json()["imported"] == 2
        run_linkage(app.state.store, actor=TESTER)
        viewer = login(app, "viewer")
        assert viewer.get("/api/v1/dashboard").json()["records"] == 4
        hits = viewer.get("/api/v1/persons", params={"q": "Mohammad Rezaei"}).json()
        found = [h for h in hits["persons"] if h["name_fa"] == "محمد رضایی"]
        assert len(found) == 1 and set(found[0]["sources"]) == {"persian", "latin"}, hits
        assert viewer.post("/api/v1/sources/upload", headers={"X-CSRF-Token": viewer.csrf}).status_code == 403
        report = verify_audit(app.state.store)
        # two users added, two logins, two lists imported, one link run
        assert report["intact"] and report["events"] == 7, report
        assert {e.channel for e in _events(app.state.store)} == {"cli", "web"}
    finally:
        app.state.store.close()


def test_the_printed_report_and_the_memorial_asked_for_on_the_web_on_each_database(workspace, database_url, tmp_path):
    import hashlib
    import io
    import zipfile

    from dadkhah.ingest.importer import import_file
    from dadkhah.jobs import run_worker
    from dadkhah.publish import verify_site
    from dadkhah.sources import set_release
    from dadkhah.vault.keys import create_keys, load_keys
    from tests.conftest import write

    create_keys(workspace)
    workspace = workspace.reloaded()
    keys = load_keys(workspace)
    with open_store(workspace) as store:
        add_user(store, "investigator", actor=TESTER, role="investigator", password=PASSWORD)
        for name, body in (("persian", PERSIAN_LIST), ("latin", LATIN_LIST)):
            import_file(store, write(tmp_path / f"{name}.csv", body), source=name, actor=TESTER)
        run_linkage(store, actor=TESTER)
        set_release(store, "persian", "public", actor=TESTER)
    app = create_app(WebSettings(workspace=workspace.path, database_url=database_url, keys=keys))
    try:
        investigator = login(app, "investigator")
        headers = {"X-CSRF-Token": investigator.csrf}
        report = investigator.post("/api/v1/reports/print", json={"language": "fa"}, headers=headers)
        memorial = investigator.post("/api/v1/memorial/build", json={"languages": ["fa"]}, headers=headers)
        assert report.status_code == memorial.status_code == 202, (report.text, memorial.text)
        assert run_worker(app.state.store, once=True) == 2
        pdf = investigator.get(f"/api/v1/jobs/{report.json()['id']}/file")
        assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
        assert hashlib.sha256(pdf.content).hexdigest() == pdf.headers["x-dadkhah-sha256"]
        site = investigator.get(f"/api/v1/jobs/{memorial.json()['id']}/file")
        assert site.status_code == 200
        with zipfile.ZipFile(io.BytesIO(site.content)) as zipped:
            zipped.extractall(tmp_path / "site")
        assert verify_site(tmp_path / "site" / "memorial", expect_key=keys.fingerprint)["intact"]
        assert verify_audit(app.state.store)["intact"]
        actions = [e.action for e in _events(app.state.store) if e.actor == "investigator"]
        assert {"job submitted", "report printed", "memorial published"} <= set(actions)
    finally:
        app.state.store.close()
