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
