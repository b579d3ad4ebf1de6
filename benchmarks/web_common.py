"""What the web benchmarks share: the real server as a child process, logging in, realistic searches.

``web_bench.py`` (searches on a million persons) and ``web_load_bench.py`` (50 clients mixing
searches, person pages, uploads and review decisions) import it; it is not a benchmark itself.
"""

from __future__ import annotations

import csv
import os
import random
import re
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

CSRF_INPUT = re.compile(r'name="csrf_token" value="([^"]+)"')


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(workspace: Path, port: int, workers: int, *, database_url: str | None = None, vault: bool = False,
                 log: Path | None = None) -> subprocess.Popen:
    """``dadkhah serve --workers N`` on loopback, in a process group of its own; returns once it answers.

    ``database_url``: the database (``DADKHAH_DATABASE_URL``), else the workspace's SQLite file.
    ``vault``: unlock the keys (their file must have no passphrase). The server's stderr goes to
    ``log`` (a file, never an unread pipe: a server that logs much would block on a full pipe).
    """
    import httpx

    env = os.environ.copy()
    env.pop("DADKHAH_DATABASE_URL", None)
    if database_url:
        env["DADKHAH_DATABASE_URL"] = database_url
    command = [sys.executable, "-m", "dadkhah", "--workspace", str(workspace), "serve", "--port", str(port),
               "--workers", str(workers)] + ([] if vault else ["--no-vault"])
    errors = open(log, "wb") if log is not None else subprocess.DEVNULL  # noqa: SIM115 (kept while it runs)
    try:
        server = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=errors, start_new_session=True)
    finally:
        if log is not None:
            errors.close()

    def said() -> str:
        return log.read_text(encoding="utf-8", errors="replace")[-3000:] if log is not None else ""

    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"the server stopped: {said()}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/login", timeout=2).status_code == 200:
                return server
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    stop_server(server)
    raise SystemExit(f"the server did not answer within 120 s: {said()}")


def stop_server(server: subprocess.Popen) -> None:
    if server.poll() is None:
        os.killpg(server.pid, signal.SIGINT)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()


def log_in(base: str, username: str, password: str) -> dict:
    """Log in through the login form (its CSRF cookie and field); the session's cookies."""
    import httpx

    with httpx.Client(base_url=base, follow_redirects=False, timeout=120) as client:
        token = CSRF_INPUT.search(client.get("/login").text).group(1)
        answer = client.post("/login", data={"username": username, "password": password, "csrf_token": token})
        if answer.status_code != 303:
            raise SystemExit(f"the benchmark user {username} could not log in: {answer.status_code}")
        return dict(client.cookies)


def searches(case: Path, rng: random.Random, count: int = 4000, *, sources: tuple[str, ...] = ("list-1", "list-2"),
             max_person: int = 1_000_000) -> list[dict]:
    """Realistic query parameters, drawn from the synthetic population's own names."""
    with open(case / "population.csv", encoding="utf-8") as handle:
        people = [row for row in csv.DictReader(handle)]
    common_given = [n for n, _ in Counter(p["given_name_latin"] for p in people).most_common(12)]
    common_given_fa = [n for n, _ in Counter(p["given_name"] for p in people).most_common(12)]
    common_family = [n for n, _ in Counter(p["family_name_latin"] for p in people).most_common(12)]
    common_family_fa = [n for n, _ in Counter(p["family_name"] for p in people).most_common(12)]
    cities = [c for c, _ in Counter(p["city_id"] for p in people).most_common(15)]
    months = [("1988-07-19", "1988-08-18"), ("1988-08-01", "1988-08-07"), ("1367/05/01", "1367/05/31"),
              ("1367/06/01", "1367/06/15"), ("1988-08-20", "1988-09-30")]
    chosen = []
    for _ in range(count):
        p = rng.choice(people)
        latin = rng.random() < 0.5
        given = p["given_name_latin"] if latin else p["given_name"]
        family = p["family_name_latin"] if latin else p["family_name"]
        kind = rng.random()
        if kind < 0.30:
            params = {"q": f"{given} {family}"}  # a rare full name
        elif kind < 0.45:
            params = {"q": rng.choice(common_given if latin else common_given_fa)}
        elif kind < 0.55:
            params = {"q": rng.choice(common_family if latin else common_family_fa)}
        elif kind < 0.70:
            params = {"q": rng.choice(common_given if latin else common_given_fa), "city": rng.choice(cities)}
        elif kind < 0.78:
            params = {"q": f"{rng.choice(common_given if latin else common_given_fa)} "
                           f"{rng.choice(common_family if latin else common_family_fa)}"}
        elif kind < 0.88:
            start, end = rng.choice(months)
            params = {"city": rng.choice(cities), "death_from": start, "death_to": end}
        elif kind < 0.95:
            params = {"q": family, "source": rng.choice(sources)}
        else:
            params = {"q": f"P-{rng.randint(1, max_person):06d}"}
        chosen.append(params)
    return chosen


def percentiles(latencies: list[float]) -> dict:
    """p50, p95, p99 and the slowest, in milliseconds, of latencies in seconds."""
    ordered = sorted(latencies)

    def at(p: float) -> float | None:
        return round(ordered[min(len(ordered) - 1, int(p * len(ordered)))] * 1000, 1) if ordered else None

    return {"p50_ms": at(0.50), "p95_ms": at(0.95), "p99_ms": at(0.99), "max_ms": at(1.0)}
