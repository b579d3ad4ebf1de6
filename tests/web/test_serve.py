"""`dadkhah serve`: prints where it serves (one JSON document with --json), answers on loopback."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time

import httpx
import pytest


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.parametrize("workers", [1, 2])
def test_serve_answers_on_loopback_and_prints_one_json_document(web_store_path, workers):
    port = _free_port()
    command = [sys.executable, "-m", "dadkhah", "--workspace", str(web_store_path), "serve", "--port", str(port),
               "--workers", str(workers), "--json"]
    server = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=os.environ.copy())
    try:
        deadline = time.monotonic() + 60
        while True:
            assert server.poll() is None, server.stderr.read()
            try:
                answer = httpx.get(f"http://127.0.0.1:{port}/login", timeout=2)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "the server did not answer"
                time.sleep(0.2)
        assert answer.status_code == 200 and "csrf_token" in answer.text
        assert "content-security-policy" in answer.headers and "server" not in answer.headers
        assert httpx.get(f"http://127.0.0.1:{port}/api/v1/dashboard").status_code == 401
    finally:
        server.terminate()
        out, _ = server.communicate(timeout=20)
    assert json.loads(out) == {"address": f"http://127.0.0.1:{port}/", "workspace": str(web_store_path.resolve()),
                               "vault": True, "workers": workers}


def test_serve_refuses_an_outside_address_without_secure_cookies(web_store_path):
    done = subprocess.run([sys.executable, "-m", "dadkhah", "--workspace", str(web_store_path), "serve", "--host",
                           "0.0.0.0", "--json"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert "HTTPS" in json.loads(done.stdout)["error"]["message"]
