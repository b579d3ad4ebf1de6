"""An open letter under load: signing requests at a steady rate, and the public page with 100,000 signatures.

Prints one JSON line. Targets: 200 signing requests per second sustained on loopback with two
server processes and no error (confirmation emails queued, not sent in the request); the public
page with 100,000 signatures in under 100 ms at the 95th percentile.

    python benchmarks/appeal_bench.py [--signatures 100000] [--rate 200] [--seconds 30]
                                      [--connections 32] [--workers 2] [--page-requests 400] [--folder DIR]

The workspace is built with the real core: an appeal created and published with
:func:`dadkhah.appeal.create_appeal` and :func:`~dadkhah.appeal.publish_appeal`; then
``--signatures`` verified signatures (two in three named, a tenth organisations, twenty countries)
written straight into the table (what signing and confirming leave behind, without sending 100,000
emails). The server is the real application, ``dadkhah serve --workers N --trusted-proxy 127.0.0.1``
in a child process, started with the workspace's keys. Each signing request is a real form POST
with the page's CSRF cookie and token, a new email address, and an ``X-Forwarded-For`` address of
its own, as a reverse proxy would send (so that the per-address throttling sees many signers, as
it would in the field). Requests are sent open-loop at ``--rate`` per second, each on a
connection of its own (each signer is someone else), at most ``--connections`` at once: each
request's latency is counted from when it was due, so a server that falls behind shows it. The client runs on the same machine and takes part of its CPU.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import quote_plus

SLUG = "bench-letter"


def build(folder: Path, signatures: int) -> dict:
    import sqlalchemy as sa

    from dadkhah.appeal import create_appeal, publish_appeal
    from dadkhah.audit import Actor
    from dadkhah.model import Appeal, Signature
    from dadkhah.model.base import utcnow
    from dadkhah.store import insert_rows, open_store
    from dadkhah.vault.keys import create_keys
    from dadkhah.workspace import create_workspace

    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    workspace = create_workspace(folder / "ws")
    create_keys(workspace, key_file=folder / "keys" / "bench.key")
    store = open_store(workspace.reloaded())
    actor = Actor("benchmark", "cli")
    started = time.perf_counter()
    create_appeal(store, actor=actor, slug=SLUG, title="A synthetic letter for the benchmark",
                  title_fa="نامه‌ای ساختگی برای سنجش", text="Synthetic text.\n\nA second paragraph.",
                  text_fa="متن ساختگی.", addressee="A fictional addressee")
    publish_appeal(store, SLUG, actor=actor)
    rng = random.Random(1988)
    countries = [f"Country {i:02d}" for i in range(20)]
    now = utcnow()
    with store.session() as session:
        appeal_pk = session.scalar(sa.select(Appeal.id).where(Appeal.slug == SLUG))
        batch = []
        for i in range(signatures):
            named = i % 3 != 0
            kind = "organisation" if i % 10 == 0 else "person"
            batch.append({"appeal_pk": appeal_pk, "version": 1, "kind": kind, "status": "verified",
                          "wants_public": named, "public_name": f"Synthetic Signer {i:06d}" if named else None,
                          "public_role": rng.choice(["Jurist", "Historian", None]),
                          "public_affiliation": rng.choice(["Example University", None]) if named else None,
                          "country": rng.choice(countries), "language": "en", "channel": "web",
                          "email_index": f"{i:064x}", "mails_sent": 1, "created_at": now, "confirmed_at": now})
            if len(batch) == 20_000:
                insert_rows(session, Signature.__table__, batch)
                batch = []
        if batch:
            insert_rows(session, Signature.__table__, batch)
    store.close()
    return {"workspace": str(workspace.path), "build_seconds": round(time.perf_counter() - started, 1)}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def serve(folder: Path, port: int, workers: int) -> subprocess.Popen:
    environment = dict(os.environ, DADKHAH_USER="benchmark")
    environment.pop("DADKHAH_SMTP_URL", None)  # mail is queued; sending it is not what is measured
    process = subprocess.Popen(
        [sys.executable, "-m", "dadkhah", "--workspace", str(folder / "ws"), "serve", "--port", str(port),
         "--workers", str(workers), "--trusted-proxy", "127.0.0.1"],
        env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    deadline = time.time() + 120
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                time.sleep(1.0)  # let every worker finish starting
                return process
        except OSError:
            if process.poll() is not None:
                raise SystemExit(f"the server stopped: {process.stderr.read().decode()[-2000:]}") from None
            time.sleep(0.3)
    raise SystemExit("the server did not start within two minutes")


class Connection:
    """One keep-alive HTTP/1.1 connection, just enough of the protocol for the benchmark."""

    def __init__(self, port: int):
        self.port = port
        self.reader = self.writer = None

    async def request(self, raw: bytes) -> tuple[int, dict, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        self.writer.write(raw)
        head = await self.reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers: dict[str, list[str]] = {}
        for line in lines[1:]:
            if ":" in line:
                name, value = line.split(":", 1)
                headers.setdefault(name.strip().lower(), []).append(value.strip())
        length = int(headers.get("content-length", ["0"])[0])
        body = await self.reader.readexactly(length) if length else b""
        if "close" in headers.get("connection", [""])[0].lower():
            self.writer.close()
            self.reader = self.writer = None
        return status, headers, body


def _get(path: str, cookie: str = "") -> bytes:
    extra = f"Cookie: {cookie}\r\n" if cookie else ""
    return f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{extra}\r\n".encode()


async def csrf(port: int) -> tuple[str, str]:
    """The page's CSRF cookie(s) and its form's token, as a browser would have them."""
    status, headers, body = await Connection(port).request(_get(f"/appeals/{SLUG}"))
    if status != 200:
        raise SystemExit(f"the public page answered {status}")
    cookies = "; ".join(c.split(";", 1)[0] for c in headers.get("set-cookie", []))
    token = re.search(rb'name="csrf_token" value="([^"]+)"', body)
    if token is None:
        raise SystemExit("no csrf_token on the public page")
    return cookies, token.group(1).decode()


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


async def signing_load(port: int, rate: float, seconds: float, connections: int) -> dict:
    cookie, token = await csrf(port)
    total = int(rate * seconds)
    queue: asyncio.Queue = asyncio.Queue()
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    errors: list[str] = []
    start = time.perf_counter() + 0.5

    def body(i: int) -> bytes:
        fields = {"name": f"Load Signer {i:07d}", "email": f"load.signer.{i}@example.org", "affiliation": "",
                  "role": "", "country": "Country 01", "kind": "person", "public_name": "on", "csrf_token": token}
        return "&".join(f"{k}={quote_plus(v)}" for k, v in fields.items()).encode()

    async def producer():
        for i in range(total):
            due = start + i / rate
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            payload = body(i)
            address = f"10.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}"
            raw = (f"POST /appeals/{SLUG}/sign HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: {cookie}\r\nConnection: close\r\n"
                   f"X-Forwarded-For: {address}\r\nContent-Type: application/x-www-form-urlencoded\r\n"
                   f"Content-Length: {len(payload)}\r\n\r\n").encode() + payload
            await queue.put((due, raw))
        for _ in range(connections):
            await queue.put(None)

    async def client():
        while (item := await queue.get()) is not None:
            due, raw = item
            try:  # each signer is someone else, on a connection of their own
                status, _, answer = await Connection(port).request(raw)
            except (OSError, asyncio.IncompleteReadError) as exc:
                errors.append(type(exc).__name__)
                continue
            statuses[status] = statuses.get(status, 0) + 1
            if status >= 400:
                errors.append(f"{status}: {answer[:200]!r}")
            latencies.append(time.perf_counter() - due)

    began = time.perf_counter()
    await asyncio.gather(producer(), *(client() for _ in range(connections)))
    elapsed = time.perf_counter() - max(began, start)
    return {"requests": total, "seconds": round(elapsed, 2), "rate_achieved": round(len(latencies) / elapsed, 1),
            "statuses": {str(k): v for k, v in sorted(statuses.items())}, "errors": len(errors),
            "first_errors": errors[:3],
            "latency_ms": {"p50": round(_percentile(latencies, 0.5) * 1000, 1),
                           "p95": round(_percentile(latencies, 0.95) * 1000, 1),
                           "p99": round(_percentile(latencies, 0.99) * 1000, 1)}}


async def page_load(port: int, requests: int) -> dict:
    connection = Connection(port)
    times = []
    for i in range(requests + 20):
        started = time.perf_counter()
        status, _, body = await connection.request(_get(f"/appeals/{SLUG}" + ("?lang=fa" if i % 2 else "")))
        if status != 200:
            raise SystemExit(f"the public page answered {status}")
        if i >= 20:  # warm-up
            times.append(time.perf_counter() - started)
    return {"requests": requests, "bytes": len(body), "p50_ms": round(_percentile(times, 0.5) * 1000, 1),
            "p95_ms": round(_percentile(times, 0.95) * 1000, 1)}


def check(folder: Path, signatures: int) -> dict:
    import sqlalchemy as sa

    from dadkhah.model import AppealMail, Signature
    from dadkhah.store import open_store
    from dadkhah.workspace import load_workspace

    with open_store(load_workspace(folder / "ws")) as store, store.session() as session:
        pending = session.scalar(sa.select(sa.func.count()).select_from(Signature).where(Signature.status == "pending"))
        queued = session.scalar(sa.select(sa.func.count()).select_from(AppealMail))
    return {"pending_signatures": pending, "mails_queued": queued}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--signatures", type=int, default=100_000)
    parser.add_argument("--rate", type=float, default=200)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--page-requests", type=int, default=400)
    parser.add_argument("--folder", type=Path, default=None)
    args = parser.parse_args()
    folder = args.folder or Path(tempfile.mkdtemp(prefix="dadkhah-appeal-bench-"))
    os.environ.setdefault("XDG_CONFIG_HOME", str(folder / "config"))
    built = build(folder, args.signatures)
    port = _free_port()
    server = serve(folder, port, args.workers)
    try:
        page = asyncio.run(page_load(port, args.page_requests))
        signing = asyncio.run(signing_load(port, args.rate, args.seconds, args.connections))
        page_after = asyncio.run(page_load(port, args.page_requests // 2))
    finally:
        os.killpg(server.pid, signal.SIGINT)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
    stored = check(folder, args.signatures)
    result = {
        "benchmark": "appeal", "cores": os.cpu_count(), "workers": args.workers, "signatures": args.signatures,
        **built, "page": page, "page_after_signing": page_after, "signing": signing, "stored": stored,
        "targets": {"signing_rate": args.rate, "page_p95_ms": 100},
        "met": (signing["errors"] == 0 and signing["rate_achieved"] >= 0.98 * args.rate
                and stored["mails_queued"] == signing["requests"] and page["p95_ms"] < 100
                and page_after["p95_ms"] < 100),
    }
    print(json.dumps(result))
    if not args.folder:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
