"""The web application under mixed load: 50 clients searching, reading person pages, uploading lists
and evidence and deciding review pairs, on PostgreSQL (4 server processes) and SQLite (2).

Prints one JSON line per database. Target: 0 errors.

    python benchmarks/web_load_bench.py [--seconds 300] [--clients 50] [--databases sqlite,postgres]
                                        [--victims 8000] [--workers-sqlite 2] [--workers-postgres 4]
                                        [--postgres-url URL] [--folder DIR]

The case: a synthetic case (three lists, realistic difficulty) imported with the real importer and
linked with the real linkage run, its review band widened (0.0001 to 0.9999) so that the queue holds
a few thousand pairs, enough for every decision of the run to be on a pair no one has decided. One
user per client is added with the role its work needs, and the keys are made (evidence needs them).
PostgreSQL: a database named ``dadkhah_webload_<random>`` is made on the server of ``--postgres-url``
for the run and dropped afterwards.

The server is the real application: ``dadkhah serve --workers N`` (with the keys) in a child process on
loopback. The clients are asyncio tasks in this process, each with its own httpx connection and its
own login, issuing requests back to back (no think time): 60 % viewers (registry search and person
pages), 30 % analysts (review decisions, list uploads, some reading), 10 % investigators (evidence
uploads and person pages with the vault). Half of each role's clients log in through the login form
and use the pages and the API with the session (and its CSRF token: the form's field, or the
X-CSRF-Token header), the other half send a personal API token (read for viewers, write for the
others) to the ``/api/v1`` twins. Each review decision is on a pair the client took from the queue
(``GET /api/v1/review``) that no other client holds, and says what the synthetic truth says (so no
decision contradicts another and each is valid); each list upload is a distinct slice of a second
synthetic list (25 rows), into a source of its own; each evidence file is distinct.

What counts: an answer with an unexpected status, or whose body is not what the route promises, is an
error (the first few are shown with their route, status and the start of the body). A "busy, try
again" answer (503 or 429 with Retry-After) is counted apart and the request is made again after the
advised delay. Latency is per attempt, from the first byte sent to the last byte read, over the
measured seconds (after a short warm-up), per route. The clients share this machine's cores with the
server: ``cores`` is the whole machine's, ``load_average`` what it carried during the run (other work
included), ``client_cpu_seconds`` what the clients themselves took.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import csv
import heapq
import itertools
import json
import os
import random
import re
import resource
import shutil
import sys
import time
import uuid
from collections import Counter, defaultdict
from pathlib import Path

from web_common import free_port, log_in, percentiles, searches, start_server, stop_server

from dadkhah.vault.evidence import DEFAULT_RELEASE

PASSWORD = "synthetic load benchmark password, not secret"
POSTGRES_URL = os.environ.get("DADKHAH_WEBLOAD_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
ROLES_SHARE = (("viewer", 0.6), ("analyst", 0.3), ("investigator", 0.1))
UPLOAD_ROWS = 25
REVIEW_BAND = (0.0001, 0.9999)
BUSY = (503, 429)


# --- the case, the uploads, the workspace -----------------------------------------------------------

def plan_clients(clients: int) -> list[dict]:
    """Each client's user, role and way in (session or token); every role at least once."""
    counts = {role: max(1, round(clients * share)) for role, share in ROLES_SHARE}
    while sum(counts.values()) > clients and counts["viewer"] > 1:
        counts["viewer"] -= 1
    counts["viewer"] += clients - sum(counts.values())
    plan = []
    for role, _ in ROLES_SHARE:
        for k in range(counts[role]):
            plan.append({"number": len(plan), "role": role, "user": f"load-{role}-{k + 1:02d}",
                         "mode": "session" if k % 2 == 0 else "token"})
    return plan


def prepare_case(folder: Path, victims: int, seed: int) -> Path:
    from dadkhah.synth import generate_case

    case = folder / f"case-{victims}-{seed}"
    if not (case / "truth.csv").exists():
        generate_case(case, victims=victims, lists=3, seed=seed, difficulty="realistic")
    return case


def prepare_uploads(folder: Path, count: int, seed: int) -> list[Path]:
    """``count`` small lists (CSV, ``UPLOAD_ROWS`` rows each): distinct slices of one synthetic list."""
    from dadkhah.synth import generate_case

    chunks = folder / f"uploads-{count}-{seed}"
    made = sorted(chunks.glob("upload-*.csv"))
    if len(made) >= count:
        return made[:count]
    case = folder / f"upload-case-{count}-{seed}"
    generate_case(case, victims=count * UPLOAD_ROWS, lists=1, seed=seed + 1, difficulty="realistic", coverage=1.0)
    shutil.rmtree(chunks, ignore_errors=True)
    chunks.mkdir(parents=True)
    with open(case / "list-1.csv", encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader)
        rows = list(reader)
    paths = []
    for n in range(min(count, len(rows) // UPLOAD_ROWS)):
        path = chunks / f"upload-{n + 1:04d}.csv"
        with open(path, "w", encoding="utf-8", newline="") as out:
            writer = csv.writer(out)
            writer.writerow(header)
            writer.writerows(rows[n * UPLOAD_ROWS:(n + 1) * UPLOAD_ROWS])
        paths.append(path)
    return paths


def build(folder: Path, case: Path, database: str, url: str | None, plan: list[dict]) -> dict:
    """The workspace on ``url`` (None: SQLite in the folder): lists imported and linked, keys, users, tokens."""
    from dadkhah.audit import Actor
    from dadkhah.ingest.importer import import_file
    from dadkhah.link.run import run_linkage
    from dadkhah.store import open_store
    from dadkhah.users import add_user, create_token
    from dadkhah.vault.keys import create_keys
    from dadkhah.workspace import create_workspace, load_workspace

    actor = Actor("web-load-bench", "cli")
    timings: dict[str, float] = {}
    ws = folder / f"ws-{database}"
    shutil.rmtree(ws, ignore_errors=True)
    key_file = folder / "keys" / f"{database}.key"
    key_file.unlink(missing_ok=True)
    key_file.parent.mkdir(mode=0o700, exist_ok=True)
    create_workspace(ws, database_url=url)
    create_keys(load_workspace(ws, database_url=url), key_file=key_file)
    step = time.perf_counter()
    store = open_store(load_workspace(ws, database_url=url))
    try:
        for path in sorted(case.glob("list-*.csv")):
            import_file(store, path, source=path.stem, actor=actor)
        timings["import"] = time.perf_counter() - step
        step = time.perf_counter()
        linked = run_linkage(store, actor=actor, review_band=REVIEW_BAND).to_dict()
        timings["link"] = time.perf_counter() - step
        step = time.perf_counter()
        tokens = {}
        for client in plan:
            add_user(store, client["user"], actor=actor, role=client["role"], password=PASSWORD)
            if client["mode"] == "token":
                scope = "read" if client["role"] == "viewer" else "write"
                tokens[client["user"]] = create_token(store, client["user"], actor=actor, scope=scope,
                                                      name="web load benchmark")["token"]
        timings["users"] = time.perf_counter() - step
    finally:
        store.close()
    return {"workspace": ws, "persons": linked["persons"], "records": linked["records"],
            "pairs_for_review": linked["pairs_for_review"], "tokens": tokens,
            "build_seconds": {k: round(v, 1) for k, v in timings.items()}}


class Postgres:
    """A database of its own on the server, dropped afterwards."""

    def __init__(self, admin_url: str):
        import sqlalchemy as sa

        self.admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
        self.name = f"dadkhah_webload_{uuid.uuid4().hex[:10]}"
        self.url = f"{admin_url.rsplit('/', 1)[0]}/{self.name}"

    def __enter__(self) -> Postgres:
        with self.admin.connect() as connection:
            connection.exec_driver_sql(f'CREATE DATABASE "{self.name}"')
        return self

    def __exit__(self, *exc) -> None:
        with self.admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
        self.admin.dispose()


# --- measuring ----------------------------------------------------------------------------------------

class Tally:
    """Per route: latencies (measured window only), errors and busy answers (whole run)."""

    def __init__(self, start: float, stop: float):
        self.start, self.stop = start, stop
        self.latencies: dict[str, list[float]] = defaultdict(list)
        self.errors: Counter = Counter()
        self.busy: Counter = Counter()
        self.examples: list[dict] = []
        self.kinds: Counter = Counter()
        self.slowest: list[tuple[float, str, str]] = []
        self.done: Counter = Counter()  # work that succeeded: decisions, lists, evidence files

    def ok(self, route: str, began: float, elapsed: float, note=None) -> None:
        if self.start <= began < self.stop:
            self.latencies[route].append(elapsed)
            if note is not None:  # the slowest searches, with what they asked
                heapq.heappush(self.slowest, (elapsed, route, json.dumps(note, ensure_ascii=False)))
                if len(self.slowest) > 8:
                    heapq.heappop(self.slowest)

    def error(self, route: str, status: int | None, what: str, **about) -> None:
        """An error; the first three of each route and status are kept as examples."""
        self.errors[route] += 1
        self.kinds[(route, status)] += 1
        if self.kinds[(route, status)] <= 3:
            self.examples.append({"route": route, "status": status, "body": what[:400]} | about)


def said(answer) -> str:
    """What an answer says: a page's error message (its alert), else the start of the body."""
    found = re.search(r'role="alert"[^>]*>(.*?)</p>', answer.text, re.S)
    return re.sub(r"<[^>]+>|\s+", " ", found.group(1)).strip() if found else answer.text[:400]


class Shared:
    """What the clients share: the review pairs taken (no two clients decide the same pair), the next
    upload, the truth."""

    def __init__(self, truth: dict[tuple[str, str], str], uploads: list[Path]):
        self.truth = truth
        self.pairs: list[dict] = []
        self.taken: set[int] = set()
        self.refill = asyncio.Lock()
        self.exhausted = False
        self.uploads = uploads
        self.next_upload = itertools.count()
        self.evidence = itertools.count(1)


class Client:
    def __init__(self, base: str, spec: dict, *, cookies: dict | None, token: str | None, csrf: str | None,
                 tally: Tally, shared: Shared, queries: list[dict], persons: int, seed: int):
        import httpx

        headers = {"authorization": f"Bearer {token}"} if token else {}
        self.http = httpx.AsyncClient(base_url=base, headers=headers, cookies=cookies or {}, timeout=300,
                                      follow_redirects=False, limits=httpx.Limits(max_connections=1))
        self.spec, self.csrf, self.tally, self.shared = spec, csrf, tally, shared
        self.queries, self.persons = queries, persons
        self.rng = random.Random(seed * 1000 + spec["number"])
        self.session = spec["mode"] == "session"
        self.last: str | None = None  # the status and route of the connection's answer before

    async def call(self, route: str, method: str, url: str, *, expect: tuple[int, ...] = (200,), check=None, note=None,
                   **kw):
        """One request, made again after a busy answer's advised delay; None after an error."""
        import httpx

        while True:
            began = time.monotonic()
            if began >= self.tally.stop:
                return None
            try:
                answer = await self.http.request(method, url, **kw)
            except httpx.HTTPError as exc:
                self.tally.error(route, None, f"{type(exc).__name__}: {exc}", client=self.spec["user"],
                                 after=self.last, seconds=round(time.monotonic() - began, 2))
                self.last = None
                return None
            self.last = f"{answer.status_code} {route}"
            elapsed = time.monotonic() - began
            if answer.status_code in BUSY and "retry-after" in answer.headers:
                self.tally.busy[route] += 1
                await asyncio.sleep(float(answer.headers["retry-after"]))
                continue
            problem = None
            if answer.status_code not in expect:
                problem = "unexpected status"
            elif check is not None:
                try:
                    problem = check(answer)
                except ValueError as exc:  # not JSON where JSON is promised
                    problem = f"unreadable body: {exc}"
            if problem:
                self.tally.error(route, answer.status_code, f"{problem}: {said(answer)}", client=self.spec["user"])
                return None
            self.tally.ok(route, began, elapsed, note)
            return answer

    # --- what users do ---

    async def search(self) -> None:
        params = self.rng.choice(self.queries)
        if self.session and self.rng.random() < 0.5:
            await self.call("GET /persons", "GET", "/persons", params=params, note=params,
                            check=lambda a: None if "<html" in a.text[:200].lower() else "not a page")
        else:
            await self.call("GET /api/v1/persons", "GET", "/api/v1/persons", params=params, note=params,
                            check=lambda a: None if isinstance(a.json().get("persons"), list) else "no persons")

    async def person(self) -> None:
        person_id = f"P-{self.rng.randint(1, self.persons):06d}"
        if self.session and self.rng.random() < 0.5:
            await self.call("GET /persons/{id}", "GET", f"/persons/{person_id}", expect=(200, 303))
        else:
            await self.call("GET /api/v1/persons/{id}", "GET", f"/api/v1/persons/{person_id}",
                            check=lambda a: None if a.json().get("person_id") else "no person_id")

    async def take_pair(self) -> dict | None:
        shared = self.shared
        async with shared.refill:
            while not shared.pairs and not shared.exhausted:
                page = 1
                while True:
                    answer = await self.call("GET /api/v1/review", "GET", "/api/v1/review",
                                             params={"page": page, "per_page": 200},
                                             check=lambda a: None if isinstance(a.json().get("pairs"), list) else "no pairs")
                    if answer is None:
                        return None
                    document = answer.json()
                    fresh = [p for p in document["pairs"] if p["id"] not in shared.taken]
                    if fresh or not document["has_next"]:
                        break
                    page += 1
                if not fresh:
                    shared.exhausted = True
                shared.pairs.extend(fresh)
                shared.taken.update(p["id"] for p in fresh)
            return shared.pairs.pop(0) if shared.pairs else None

    async def decide(self) -> bool:
        pair = await self.take_pair()
        if pair is None:
            return False
        pair_id = pair["id"]
        a, b = (self.shared.truth[(r["source"], r["record_id"])] for r in (pair["record_a"], pair["record_b"]))
        decision = "same" if a == b else "different"
        reason = f"synthetic benchmark: the generator's truth says {decision}"
        if self.session and self.rng.random() < 0.5:
            if await self.call("GET /review/{id}", "GET", f"/review/{pair_id}") is None:
                return True
            done = await self.call("POST /review/{id}/decide", "POST", f"/review/{pair_id}/decide", expect=(303,),
                                   data={"decision": decision, "reason": reason, "csrf_token": self.csrf},
                                   check=lambda a: None if "decided=" in a.headers.get("location", "") else "no decision")
        else:
            if await self.call("GET /api/v1/review/{id}", "GET", f"/api/v1/review/{pair_id}",
                               check=lambda a: None if a.json().get("id") == pair_id else "another pair") is None:
                return True
            headers = {"x-csrf-token": self.csrf} if self.session else {}
            done = await self.call("POST /api/v1/review/{id}/decide", "POST", f"/api/v1/review/{pair_id}/decide",
                                   json={"decision": decision, "reason": reason}, headers=headers,
                                   check=lambda a: None if a.json().get("decision") == decision else "not decided")
        if done is not None:
            self.tally.done["decisions"] += 1
        return True

    async def upload_list(self) -> None:
        n = next(self.shared.next_upload)
        if n >= len(self.shared.uploads):
            return await self.search()
        path = self.shared.uploads[n]
        files = {"file": (path.name, path.read_bytes(), "text/csv")}
        source = f"web-upload-{n + 1:04d}"
        if self.session and self.rng.random() < 0.5:
            done = await self.call("POST /sources/upload", "POST", "/sources/upload", expect=(303,), files=files,
                                   data={"source": source, "csrf_token": self.csrf},
                                   check=lambda a: None if "/sources/imports/" in a.headers.get("location", "")
                                   and "already_imported" not in a.headers["location"] else "not imported")
        else:
            headers = {"x-csrf-token": self.csrf} if self.session else {}
            done = await self.call("POST /api/v1/sources/upload", "POST", "/api/v1/sources/upload", files=files,
                                   data={"source": source}, headers=headers,
                                   check=lambda a: None if a.json().get("imported", 0) > 0 and a.json().get("import_id")
                                   and not a.json().get("already_imported") else "nothing imported")
        if done is not None:
            self.tally.done["lists"] += 1

    async def upload_evidence(self) -> None:
        n = next(self.shared.evidence)
        content = f"synthetic evidence {n} for the web load benchmark\n".encode() + self.rng.randbytes(
            self.rng.randint(2_000, 40_000))
        files = [("files", (f"scan-{n:05d}.bin", content, "application/octet-stream"))]
        fields = {"source": "list-1", "description": f"synthetic scan {n}"}
        if self.session and self.rng.random() < 0.5:  # the form as a browser sends it: its boxes checked
            done = await self.call("POST /evidence", "POST", "/evidence", expect=(303,), files=files,
                                   data=fields | {"csrf_token": self.csrf, "release": list(DEFAULT_RELEASE)},
                                   check=lambda a: None if "added=" in a.headers.get("location", "") else "not added")
        else:
            headers = {"x-csrf-token": self.csrf} if self.session else {}
            done = await self.call("POST /api/v1/evidence", "POST", "/api/v1/evidence", expect=(201,), files=files,
                                   data=fields, headers=headers,
                                   check=lambda a: None if len(a.json().get("evidence", [])) == 1 else "not added")
        if done is not None:
            self.tally.done["evidence"] += 1

    async def run(self) -> None:
        role = self.spec["role"]
        try:
            # Each writer begins with an upload, so that even a short run does every kind of work.
            await {"analyst": self.upload_list, "investigator": self.upload_evidence}.get(role, self.search)()
            while time.monotonic() < self.tally.stop:
                roll = self.rng.random()
                if role == "viewer":
                    await (self.search() if roll < 0.55 else self.person())
                elif role == "analyst":
                    if roll < 0.6:
                        if not await self.decide():
                            await self.search()
                    elif roll < 0.7:
                        await self.upload_list()
                    else:
                        await (self.search() if roll < 0.85 else self.person())
                elif roll < 0.3:
                    await self.upload_evidence()
                else:
                    await (self.person() if roll < 0.7 else self.search())
        finally:
            await self.http.aclose()


def session_csrf(base: str, cookies: dict) -> str:
    import httpx

    with httpx.Client(base_url=base, cookies=cookies, timeout=120) as client:
        return client.get("/api/v1/me").json()["csrf_token"]


async def load(base: str, plan: list[dict], built: dict, shared: Shared, queries: list[dict], *, seconds: float,
               warmup: float, seed: int) -> tuple[Tally, list[float]]:
    logins = {}
    for spec in plan:
        if spec["mode"] == "session":
            cookies = await asyncio.to_thread(log_in, base, spec["user"], PASSWORD)
            logins[spec["user"]] = (cookies, await asyncio.to_thread(session_csrf, base, cookies))
    start = time.monotonic() + warmup
    tally = Tally(start, start + seconds)
    clients = [Client(base, spec, cookies=logins.get(spec["user"], (None, None))[0],
                      token=built["tokens"].get(spec["user"]), csrf=logins.get(spec["user"], (None, None))[1],
                      tally=tally, shared=shared, queries=queries, persons=built["persons"], seed=seed)
               for spec in plan]
    loads: list[float] = []

    async def watch() -> None:
        while time.monotonic() < tally.stop:
            await asyncio.sleep(5)
            if time.monotonic() >= start:
                loads.append(os.getloadavg()[0])

    watcher = asyncio.create_task(watch())
    await asyncio.gather(*(c.run() for c in clients))
    watcher.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await watcher
    return tally, loads


def queue_left(base: str, cookies: dict) -> int | None:
    import httpx

    with httpx.Client(base_url=base, cookies=cookies, timeout=300) as client:
        answer = client.get("/api/v1/review", params={"per_page": 1})
        return answer.json()["total"] if answer.status_code == 200 else None


def server_problems(log: Path) -> dict:
    """What the server's log says went wrong: its exceptions (the last line of each traceback, a
    chained one counted once) with counts, and where in Dadkhah's own code the first of each was raised."""
    lines = (log.read_text(encoding="utf-8", errors="replace") if log.exists() else "").splitlines()
    exceptions: Counter = Counter()
    where: dict[str, list[str]] = {}
    frames: list[str] = []
    inside = False
    for number, line in enumerate(lines):
        if line.startswith("Traceback (most recent call last)"):
            inside = True
            continue
        if not inside:
            continue
        frame = re.search(r'File "[^"]*/src/(dadkhah/[^"]+)", line (\d+), in (\w+)', line)
        if frame:
            frames.append(f"{frame.group(1)}:{frame.group(2)} {frame.group(3)}")
        elif not line.startswith(" ") and line.strip():
            inside = False
            following = next((x for x in lines[number + 1:] if x.strip() and not x.startswith(("[", "(", "DETAIL"))), "")
            if following.startswith(("The above exception", "During handling of the above")):
                continue  # the cause of the exception that follows: counted with it
            name = line[:300]
            exceptions[name] += 1
            where.setdefault(name, frames[-6:])
            frames = []
    return {"exceptions": sum(exceptions.values()), "kinds": dict(exceptions.most_common(8)),
            "raised_in": where}


def measure(database: str, folder: Path, case: Path, uploads: list[Path], plan: list[dict], args) -> dict:
    workers = args.workers_postgres if database == "postgres" else args.workers_sqlite
    with contextlib.ExitStack() as stack:
        url = stack.enter_context(Postgres(args.postgres_url)).url if database == "postgres" else None
        built = build(folder, case, database, url, plan)
        truth = {}
        with open(case / "truth.csv", encoding="utf-8") as handle:
            for row in csv.DictReader(handle):
                truth[(row["source"], row["record_id"])] = row["person_id"]
        queries = searches(case, random.Random(args.seed), sources=("list-1", "list-2", "list-3"),
                           max_person=built["persons"])
        shared = Shared(truth, uploads)
        port = free_port()
        log = folder / f"server-{database}.log"
        server = start_server(built["workspace"], port, workers, database_url=url, vault=True, log=log)
        base = f"http://127.0.0.1:{port}"
        cpu_before = resource.getrusage(resource.RUSAGE_SELF)
        load_before = os.getloadavg()
        try:
            tally, loads = asyncio.run(load(base, plan, built, shared, queries, seconds=args.seconds,
                                            warmup=args.warmup, seed=args.seed))
            analyst = next(s for s in plan if s["role"] == "analyst")
            left = queue_left(base, log_in(base, analyst["user"], PASSWORD))
        finally:
            stop_server(server)
        cpu_after = resource.getrusage(resource.RUSAGE_SELF)
    routes = {}
    for route in sorted(set(tally.latencies) | set(tally.errors) | set(tally.busy)):
        latencies = tally.latencies.get(route, [])
        routes[route] = {"requests": len(latencies), **percentiles(latencies), "errors": tally.errors[route],
                         "busy": tally.busy[route]}
    requests = sum(len(v) for v in tally.latencies.values())
    errors = sum(tally.errors.values())
    by_role = Counter(s["role"] for s in plan)
    return {
        "benchmark": "web_load", "database": "postgresql" if database == "postgres" else "sqlite",
        "server_workers": workers, "server": f"dadkhah serve --workers {workers} (keys unlocked)",
        "clients": len(plan), "clients_by_role": dict(by_role), "seconds": args.seconds,
        "requests": requests, "requests_per_s": round(requests / args.seconds, 1),
        "errors": errors, "error_examples": tally.examples, "busy": sum(tally.busy.values()),
        "routes": routes,
        "slowest_searches": [{"ms": round(e * 1000), "route": r, "params": json.loads(q)}
                             for e, r, q in sorted(tally.slowest, reverse=True)],
        "work_done": {"decisions": tally.done["decisions"], "lists_uploaded": tally.done["lists"],
                      "evidence_files": tally.done["evidence"],
                      "review_pairs_at_start": built["pairs_for_review"], "review_pairs_left": left,
                      "review_queue_exhausted": shared.exhausted},
        "server_log": server_problems(log),
        "persons": built["persons"], "records": built["records"], "cores": os.cpu_count(),
        "load_average": {"before_1min": round(load_before[0], 2),
                         "during_1min_mean": round(sum(loads) / len(loads), 2) if loads else None,
                         "during_1min_max": round(max(loads), 2) if loads else None},
        "client_cpu_seconds": round((cpu_after.ru_utime + cpu_after.ru_stime) - (cpu_before.ru_utime + cpu_before.ru_stime), 1),
        "target_errors": 0, "meets_target": errors == 0,
        "build_seconds": built["build_seconds"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=300.0, help="measured seconds per database")
    parser.add_argument("--warmup", type=float, default=5.0)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--databases", default="postgres,sqlite", help="comma-separated: postgres, sqlite")
    parser.add_argument("--workers-sqlite", type=int, default=2)
    parser.add_argument("--workers-postgres", type=int, default=4)
    parser.add_argument("--victims", type=int, default=8000, help="victims of the synthetic case (three lists)")
    parser.add_argument("--postgres-url", default=POSTGRES_URL, help="a database on the server, to create others from")
    parser.add_argument("--folder", type=Path, default=Path("/tmp/dadkhah-web-load-bench"),
                        help="folder for the cases, workspaces and server logs")
    parser.add_argument("--seed", type=int, default=1367)
    args = parser.parse_args()
    databases = [d.strip() for d in args.databases.split(",") if d.strip()]
    if not databases or set(databases) - {"postgres", "sqlite"}:
        parser.error("--databases: postgres, sqlite or both")
    if args.clients < 3:
        parser.error("--clients: at least 3 (one of each role)")

    folder = args.folder
    folder.mkdir(parents=True, exist_ok=True)
    plan = plan_clients(args.clients)
    case = prepare_case(folder, args.victims, args.seed)
    uploads = prepare_uploads(folder, max(50, int(args.seconds * 3)), args.seed)
    failed = False
    for database in databases:
        result = measure(database, folder, case, uploads, plan, args)
        failed |= not result["meets_target"]
        print(json.dumps(result, ensure_ascii=False), flush=True)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
