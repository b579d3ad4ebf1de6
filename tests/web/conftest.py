"""A served case: the small linked case with keys, one user per role, a testimony, an evidence file
and an estimate; and clients logged in as each role (in-process, through the real app and SQLite)."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import socket
import threading
import time
from pathlib import Path

import pytest
import uvicorn
from fastapi.testclient import TestClient

from dadkhah.store import open_store
from dadkhah.users import ROLES, add_user
from dadkhah.vault.keys import create_keys, load_keys
from dadkhah.web import WebSettings, create_app
from dadkhah.workspace import load_workspace
from tests.conftest import TESTER

PASSWORD = "correct horse battery staple"
CSRF_INPUT = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture(scope="session")
def served_case(linked, tmp_path_factory) -> tuple[Path, Path]:
    """(workspace folder, key file): built once, copied by each test that uses it."""
    from dadkhah.estimate import estimate_table
    from dadkhah.estimate.registry import estimate_registry
    from dadkhah.vault.evidence import add_evidence
    from dadkhah.vault.testimony import add_testimony

    base = tmp_path_factory.mktemp("served")
    folder, key_file = base / "ws", base / "keys" / "case.key"
    shutil.copytree(linked[0], folder)
    workspace = load_workspace(folder)
    create_keys(workspace, key_file=key_file)
    workspace = load_workspace(folder)
    keys = load_keys(workspace)
    with open_store(workspace) as store:
        for role in ROLES:
            add_user(store, role, actor=TESTER, role=role, password=PASSWORD)
        transcript = base / "transcript.txt"
        transcript.write_text("Synthetic testimony: a guard read names aloud in the corridor.\n", encoding="utf-8")
        add_testimony(store, keys, witness_name="Synthetic Witness", transcript=transcript, language="en",
                      consent=["investigators", "courts"], about=["P-000001"], actor=TESTER)
        photo = base / "ledger.csv"
        photo.write_text("page,line\n1,synthetic\n", encoding="utf-8")
        add_evidence(store, keys, [photo], source="list-1", description="synthetic ledger page", about=["P-000001"], actor=TESTER)
        estimate_registry(store, estimate=lambda table: estimate_table(table, "chao"), actor=TESTER)
        import_served_accountability(store, base / "accountability")
    return folder, key_file


def import_served_accountability(store, folder: Path) -> None:
    """The hand-written accountability set (tests/accountability), its victims read as the first
    records of the served case's ``list-1``: officials, institutions, acts and sites for every page.
    The claims cite ``list-1`` too, so that the case's sources stay the four lists."""
    import sqlalchemy as sa

    from dadkhah.accountability import import_accountability
    from dadkhah.model import Record, Source
    from tests.accountability.conftest import FILES, write_set

    with store.session() as session:
        ids = list(session.scalars(sa.select(Record.record_id).join(Source, Source.id == Record.source_id)
                                   .where(Source.name == "list-1", Record.superseded_by.is_(None))
                                   .order_by(Record.id).limit(8)))
    files = {name: re.sub(r"\bs:V(\d)", lambda m: f"list-1:{ids[int(m.group(1)) - 1]}", text)
             for name, text in FILES.items()}
    import_accountability(store, write_set(folder, files), actor=TESTER, source="list-1")


@pytest.fixture
def web_store_path(served_case, tmp_path, monkeypatch) -> Path:
    """A private copy of the served case (workspace and key file); returns the workspace folder."""
    folder, key_file = tmp_path / "ws", tmp_path / "keys" / "case.key"
    shutil.copytree(served_case[0], folder)
    shutil.copytree(served_case[1].parent, key_file.parent)
    monkeypatch.setenv("DADKHAH_KEY_FILE", str(key_file))
    return folder


@pytest.fixture
def app(web_store_path):
    workspace = load_workspace(web_store_path)
    application = create_app(WebSettings(workspace=web_store_path, keys=load_keys(workspace)))
    yield application
    application.state.store.close()


def login(app, username: str, password: str = PASSWORD, **extra) -> TestClient:
    """A client logged in through the real form (CSRF token and all); ``client.csrf`` holds the session's token."""
    client = TestClient(app, base_url="http://127.0.0.1", follow_redirects=False)
    page = client.get("/login")
    token = CSRF_INPUT.search(page.text).group(1)
    answer = client.post("/login", data={"username": username, "password": password, "csrf_token": token, **extra})
    assert answer.status_code == 303, answer.text
    client.csrf = client.get("/api/v1/me").json()["csrf_token"]
    return client


@pytest.fixture
def as_role(app):
    """``as_role("analyst")`` → a client logged in with that role."""
    clients = {}

    def make(role: str) -> TestClient:
        if role not in clients:
            clients[role] = login(app, role)
        return clients[role]

    return make


# Browser tests: the real server on loopback, Debian's Chromium driven by Playwright.
CHROMIUM = os.environ.get("DADKHAH_CHROMIUM", "/usr/bin/chromium")


@contextlib.contextmanager
def serving(web_store_path: Path, **settings):
    """The app for the served case (with ``settings``) served by uvicorn in a thread on a free loopback
    port; yields its base address."""
    workspace = load_workspace(web_store_path)
    with socket.socket() as probe:  # a free port, known before the app is made: its links name it (listen_url)
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings.setdefault("listen_url", f"http://127.0.0.1:{port}")
    app = create_app(WebSettings(workspace=web_store_path, keys=load_keys(workspace), **settings))
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not (server.started and server.servers):
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        app.state.store.close()


@pytest.fixture
def live_server(web_store_path):
    """The served case on a real server on loopback; yields its base address."""
    with serving(web_store_path) as address:
        yield address


@pytest.fixture
def browser_page(live_server):
    """A fresh Chromium page that records every request it makes."""
    if not shutil.which(CHROMIUM) and not os.path.exists(CHROMIUM):
        if os.environ.get("CI") == "true":
            pytest.fail(f"Chromium is not installed at {CHROMIUM} (make browser installs it)")
        pytest.skip(f"Chromium is not installed at {CHROMIUM} (make browser installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        context = browser.new_context(base_url=live_server)
        page = context.new_page()
        page.requests = []
        page.on("request", lambda request: page.requests.append(request.url))
        page.console_errors = []
        page.on("console", lambda message: message.type == "error" and page.console_errors.append(message.text))
        page.set_default_timeout(15000)
        yield page
        outside = [url for url in page.requests if not url.startswith(live_server) and not url.startswith("data:")]
        assert not outside, f"pages made requests outside the app: {outside}"
        assert not page.console_errors, f"the browser reported errors (CSP violations included): {page.console_errors}"
        context.close()
        browser.close()


def log_in(page, username: str) -> None:
    page.goto("/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/")
