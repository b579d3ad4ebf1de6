"""Request bodies are bounded before they are read."""

from __future__ import annotations

from dadkhah.vault.keys import load_keys
from dadkhah.web import WebSettings, create_app
from dadkhah.workspace import load_workspace
from tests.web.conftest import login


def test_an_upload_over_the_limit_is_refused_before_it_is_read(web_store_path):
    app = create_app(WebSettings(workspace=web_store_path, keys=load_keys(load_workspace(web_store_path)), max_upload_mb=1))
    try:
        client = login(app, "analyst")
        big = b"given_name,family_name\n" + b"Synthetic,Person\n" * 70_000  # ~1.2 MB
        page = client.post("/sources/upload", data={"source": "big", "csrf_token": client.csrf},
                           files={"file": ("big.csv", big, "text/csv")})
        assert page.status_code == 413 and "limit of 1 MB" in page.text and page.headers["content-type"].startswith("text/html")
        client.get("/?lang=fa")  # a reader of the Persian pages is answered in Persian (the cookie says so)
        page = client.post("/sources/upload", data={"source": "big", "csrf_token": client.csrf},
                           files={"file": ("big.csv", big, "text/csv")})
        assert page.status_code == 413 and "از سقف 1 مگابایت" in page.text and 'lang="fa" dir="rtl"' in page.text
        client.get("/?lang=en")
        api = client.post("/api/v1/sources/upload", data={"source": "big"}, files={"file": ("big.csv", big, "text/csv")},
                          headers={"X-CSRF-Token": client.csrf})
        assert api.status_code == 413 and "limit" in api.json()["error"]["message"]
        chunked = client.post("/api/v1/sources/upload", content=iter([b"x" * 10]),
                              headers={"X-CSRF-Token": client.csrf, "content-type": "text/csv"})
        assert chunked.status_code == 411
        assert client.get("/api/v1/sources").json(), "the app still answers"
        sources = [s["name"] for s in client.get("/api/v1/sources").json()["sources"]]
        assert "big" not in sources
    finally:
        app.state.store.close()


def test_a_text_holding_a_nul_character_is_refused_naming_its_field(app, as_role):
    """PostgreSQL cannot store a NUL (code 0) and answered 500; SQLite stored it. Now every database
    refuses it with a 400 naming the field (a query, a JSON body, a form), and nothing is changed;
    an uploaded file's bytes are left to the importer."""
    import sqlalchemy as sa

    from dadkhah.model import AuditEvent

    client = as_role("analyst")
    with app.state.store.session() as session:
        before = session.scalar(sa.select(sa.func.count()).select_from(AuditEvent))
    query = client.get("/api/v1/persons", params={"q": "Re\x00za"})
    assert query.status_code == 400 and "'q'" in query.json()["error"]["message"]
    body = client.post("/api/v1/review/decisions", json={"record_a": "a:1", "record_b": "a:2", "decision": "same",
                                                          "reason": "the same\x00"}, headers={"X-CSRF-Token": client.csrf})
    assert body.status_code == 400 and "'reason'" in body.json()["error"]["message"]
    form = client.post("/login", data={"username": "an\x00alyst", "password": "x", "csrf_token": client.csrf})
    assert form.status_code == 400 and "NUL character" in form.text and form.headers["content-type"].startswith("text/html")
    with app.state.store.session() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(AuditEvent)) == before
    upload = client.post("/api/v1/sources/upload", data={"source": "binary-ok"}, headers={"X-CSRF-Token": client.csrf},
                         files={"file": ("l.csv", b"given_name,family_name\nReza,Karimi\nHa\x00ssan,Ahmadi\n", "text/csv")})
    # The upload's bytes (a file's, which may hold any) reach the importer, which sets the row with a
    # NUL aside in the quarantine report, as the command line does, and keeps the rest.
    assert upload.status_code in (200, 201), upload.text
    assert (upload.json()["imported"], upload.json()["rejected"], upload.json()["quarantine"]) == (1, 1, True)
    report = client.get(f"/sources/imports/{upload.json()['import_id']}/quarantine.csv")
    assert report.status_code == 200 and "NUL character" in report.text and "Hassan" in report.text


def test_a_typed_transcript_over_what_a_form_may_send_says_to_give_it_as_a_file(app, as_role):
    """A form's text field holds at most 1 MB (the form parser's limit); the bare "Part exceeded
    maximum size" page, in English on a Persian page, said neither why nor what to do."""
    client = as_role("investigator")
    form = {"csrf_token": client.csrf, "witness_name": "W", "language": "fa", "consent": "investigators",
            "transcript": "x" * (1024 * 1024 + 10)}
    answer = client.post("/testimonies", files={k: (None, v) for k, v in form.items()})
    assert answer.status_code == 400 and "as a file instead" in answer.text
    client.get("/?lang=fa")
    answer = client.post("/testimonies", files={k: (None, v) for k, v in form.items()})
    assert answer.status_code == 400 and "به صورت پرونده" in answer.text and 'lang="fa"' in answer.text
