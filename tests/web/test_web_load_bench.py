"""The web load benchmark still runs: 5 clients for 5 seconds on SQLite, every kind of work done, no error.

benchmarks/web_load_bench.py runs 50 clients for 5 minutes on PostgreSQL and SQLite (a benchmark,
not a test); this keeps its harness from rotting, and any error it meets is the application's.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "web_load_bench.py"


@pytest.mark.slow
def test_five_clients_mixing_reads_uploads_and_decisions_meet_no_error(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("DADKHAH_")}
    done = subprocess.run([sys.executable, str(BENCH), "--seconds", "5", "--warmup", "1", "--clients", "5",
                           "--databases", "sqlite", "--victims", "600", "--folder", str(tmp_path / "bench")],
                          capture_output=True, text=True, env=env, timeout=1200)
    lines = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    assert len(lines) == 1, done.stderr[-3000:]
    result = lines[0]
    assert result["database"] == "sqlite" and result["clients"] == 5 and result["server_workers"] == 2
    assert result["errors"] == 0, json.dumps(result["error_examples"], indent=1, ensure_ascii=False)
    assert result["server_log"]["exceptions"] == 0, result["server_log"]
    assert result["requests"] > 0 and done.returncode == 0
    work = result["work_done"]
    assert work["decisions"] > 0 and work["lists_uploaded"] > 0 and work["evidence_files"] > 0, work
    assert work["review_pairs_left"] == work["review_pairs_at_start"] - work["decisions"], \
        "each decision took a pair off the queue: none was decided twice"
    assert {"GET /api/v1/persons", "GET /api/v1/persons/{id}"} <= set(result["routes"])


def test_a_bug_is_answered_by_the_app_and_the_connection_stays_usable(web_store_path):
    """Found by the load benchmark: an unhandled exception (there, two evidence uploads given the same
    id) was answered with a plain-text 500 by the server's last resort, which then closed the
    keep-alive connection, so that the client's next request on it failed too (ReadError)."""
    import threading
    import time

    import httpx
    import uvicorn

    from dadkhah.web import WebSettings, create_app

    app = create_app(WebSettings(workspace=web_store_path))

    async def broken():
        raise RuntimeError("a bug, standing for any unhandled exception")

    app.add_api_route("/api/v1/broken", broken)
    app.add_api_route("/broken", broken)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="critical"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not (server.started and server.servers):
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.05)
    try:
        address = f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}"
        with httpx.Client(base_url=address, timeout=30) as client:
            for _ in range(5):
                api = client.get("/api/v1/broken")
                assert api.status_code == 500 and "unexpected error" in api.json()["error"]["message"]
                assert "RuntimeError" not in api.text, "nothing of the bug is shown to the client"
                assert client.get("/login").status_code == 200, "the connection is still usable"
            page = client.get("/broken")
            assert page.status_code == 500 and "unexpected error" in page.text
            assert page.headers["content-security-policy"] and page.headers["x-frame-options"] == "DENY"
            assert client.get("/login").status_code == 200
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        app.state.store.close()
