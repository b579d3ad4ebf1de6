"""Login throttling on a real server on loopback, behind a trusted reverse proxy's X-Forwarded-For:
parallel guesses cannot exceed the limit, and one address's failures cannot lock anyone else out."""

from __future__ import annotations

import re
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from dadkhah.users import MAX_FAILURES_PER_USER
from dadkhah.vault.keys import load_keys
from dadkhah.web import WebSettings, create_app
from dadkhah.workspace import load_workspace
from tests.web.conftest import CSRF_INPUT, PASSWORD, serving

WRONG = "not the right passphrase at all"


@pytest.fixture
def proxied_server(web_store_path):
    """The app behind a "reverse proxy" at 127.0.0.1: requests say who the client is in X-Forwarded-For."""
    with serving(web_store_path, trusted_proxies=("127.0.0.1",)) as address:
        yield address


def _attempt(base: str, username: str, password: str, client: str) -> httpx.Response:
    """One login through the form, as a browser at address ``client`` behind the proxy would send it."""
    with httpx.Client(base_url=base, headers={"X-Forwarded-For": client}, timeout=60) as browser:
        token = CSRF_INPUT.search(browser.get("/login").text).group(1)
        return browser.post("/login", data={"username": username, "password": password, "csrf_token": token})


def test_parallel_guesses_cannot_exceed_the_limit(proxied_server):
    with ThreadPoolExecutor(max_workers=12) as pool:
        answers = list(pool.map(lambda _: _attempt(proxied_server, "analyst", WRONG, "203.0.113.5"), range(12)))
    statuses = sorted(a.status_code for a in answers)
    assert statuses == [401] * MAX_FAILURES_PER_USER + [429] * (12 - MAX_FAILURES_PER_USER), statuses
    throttled = next(a for a in answers if a.status_code == 429)
    assert int(throttled.headers["retry-after"]) == 15 * 60
    assert _attempt(proxied_server, "analyst", PASSWORD, "203.0.113.5").status_code == 429, "this address waits"


def test_an_attackers_failures_lock_out_only_the_attacker(proxied_server):
    for n in range(20):
        name = ("admin", "investigator", "nobody", "viewer")[n % 4]
        assert _attempt(proxied_server, name, WRONG, "198.51.100.9").status_code in (401, 429)
    assert _attempt(proxied_server, "admin", PASSWORD, "198.51.100.9").status_code == 429
    started = time.monotonic()
    answer = _attempt(proxied_server, "admin", PASSWORD, "192.0.2.44")
    assert answer.status_code == 303 and answer.headers["location"] == "/", "the admin, elsewhere, logs in"
    assert time.monotonic() - started < 10, "after five failures of the name: a short delay, not a lock"


def test_without_a_trusted_proxy_the_header_is_ignored(web_store_path):
    """X-Forwarded-For from anyone but the configured proxy cannot choose the address that is throttled."""
    from fastapi.testclient import TestClient

    workspace = load_workspace(web_store_path)
    app = create_app(WebSettings(workspace=web_store_path, keys=load_keys(workspace)))
    try:
        client = TestClient(app, base_url="http://127.0.0.1", follow_redirects=False)
        for n in range(6):
            token = CSRF_INPUT.search(client.get("/login").text).group(1)
            client.post("/login", headers={"X-Forwarded-For": f"10.9.9.{n}"},
                        data={"username": "viewer", "password": WRONG, "csrf_token": token})
        token = CSRF_INPUT.search(client.get("/login").text).group(1)
        answer = client.post("/login", headers={"X-Forwarded-For": "10.9.9.200"},
                             data={"username": "viewer", "password": PASSWORD, "csrf_token": token})
        assert answer.status_code == 429, "the forged header did not give a fresh address"
        assert re.search("Too many failed logins", answer.text)
    finally:
        app.state.store.close()
