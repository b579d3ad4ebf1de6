"""Crash safety, measured: the writing commands killed with SIGKILL at random moments.

    python benchmarks/crash_bench.py [--runs 50] [--commands import,link,evidence,casefile,estimate]
                                     [--database sqlite|postgresql|both] [--seed 1988] [--victims 600]
                                     [--import-rows 30000] [--cli-verify-every 5] [--work-dir DIR]

For each command and database a prepared workspace (a synthetic case of 4 lists: imported, linked,
evidence and a testimony added, as the command needs; ``import`` brings in another synthetic list of
about ``--import-rows`` rows with three rows it must refuse, so a quarantine report is written) is
copied for every run (SQLite: the folder;
PostgreSQL: ``CREATE DATABASE … TEMPLATE``, a fresh database per run, dropped afterwards). The
command is first run cleanly, twice, on a copy: its duration, its output and the state it leaves
once (S1) and twice (S2). Then, ``--runs`` times, on a fresh copy it is started as a user would
start it (``dadkhah …``, its own process group) and killed with SIGKILL after a delay drawn
uniformly from [0, clean duration), so that kills land in every phase (start-up included); a run
that finishes before its kill shortens that window to its own duration (the machine's load varies).
After each kill:

* ``db_integrity``: SQLite ``PRAGMA integrity_check`` and ``foreign_key_check``; on both databases
  no row whose foreign key names a missing row (every foreign key of the model), and the invariants
  the code keeps (an import's records and warnings number what its row says; every import, linkage
  run, estimate and case file has its audit event; every evidence item its "added" custody event).
* ``half_written``: the state (every table's row count, and the contents that matter: imports,
  records, persons and their records, linkage runs, evidence, custody and audit events by action,
  estimates) is exactly the state before the command (S0) or after a clean run (S1): all or nothing.
  An import killed midway leaves no records, no import row, no source it created.
* ``persons_intact``: every person that existed before keeps its id, status and records (for
  ``link run``: the persons are those before, or those a clean run gives).
* ``chains``: the chain of custody and the audit log verify (hashes, links, signatures, and the
  newest events remembered beside the key file), read-only, as ``custody verify`` and ``audit
  verify`` check them.
* ``blobs``: every sealed file in ``blobs/`` is named by an evidence row, every row's file is there,
  decrypts with the keys and matches its SHA-256 (``orphan_blob``, ``missing_blob``, ``bad_blob``).
* ``stray_files``: temporary files. What an interrupted run leaves *and the next command sweeps by
  design* (``store.sweep_leftovers``: ``blobs/incoming/<pid>-….part``, ``quarantine/….<pid>.part``,
  ``private/<purpose>-<pid>-…`` of a process that no longer runs) is counted as ``swept_leftovers``,
  not a failure, and checked to be gone after the next command (``leftover_not_swept``). Anything
  else is a failure: a quarantine report no import names (swept only when over an hour old), a
  linkage folder of a run that was never committed, a case file's staging folder beside ``--out``
  (decrypted evidence outside the workspace), a case file at ``--out`` without its custody record.
* ``rerun``: the same command, run again, exits 0; the state it leaves is S1 (the killed run had
  rolled back) or S2 (it had committed), and its output matches the clean run's (counts of an
  import; records, persons, created/merged of a linkage run; evidence ids and hashes; the estimate
  and its interval for the same ``--seed``; a case file's contents apart from its time, signature
  and PDF summary, and it verifies). Then the chains are verified again through the command line
  (``dadkhah custody verify --json``, ``dadkhah audit verify --json``) after every N-th rerun
  (``--cli-verify-every``, default 5; every rerun's chains are verified in-process regardless).

Prints one JSON line per command and database, then a summary line; exits 1 if any check failed.
Progress goes to stderr.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import random
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path

COMMANDS = ("import", "link", "evidence", "casefile", "estimate")
PG_ADMIN_URL = os.environ.get("DADKHAH_CRASH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
USER = "crash-bench"
EXAMPLES = 5


def log(message: str) -> None:
    print(f"[crash_bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# ----- databases -------------------------------------------------------------------------------


class Postgres:
    """Fresh databases on the server, made from templates, dropped afterwards."""

    def __init__(self, admin_url: str, token: str):
        import sqlalchemy as sa

        self.sa = sa
        self.admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
        self.base_url = admin_url.rsplit("/", 1)[0]
        self.token = token
        self.made: list[str] = []

    def url(self, name: str) -> str:
        return f"{self.base_url}/{name}"

    def create(self, name: str, template: str | None = None) -> str:
        with self.admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            connection.exec_driver_sql(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
        self.made.append(name)
        return self.url(name)

    def drop(self, name: str) -> None:
        with self.admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if name in self.made:
            self.made.remove(name)

    def drop_all(self) -> None:
        for name in list(self.made):
            with contextlib.suppress(Exception):
                self.drop(name)
        self.admin.dispose()


# ----- one workspace: folder, keys, database ----------------------------------------------------


class Place:
    """A workspace copy: its folder, its key file (outside the folder) and its database."""

    def __init__(self, root: Path, database: str, url: str | None, db_name: str | None = None):
        self.root = root
        self.ws = root / "ws"
        self.key_file = root / "keys" / "workspace.key"
        self.database = database
        self.url = url
        self.db_name = db_name

    def env(self) -> dict:
        env = {k: v for k, v in os.environ.items() if not k.startswith("DADKHAH_")}
        env |= {"DADKHAH_KEY_FILE": str(self.key_file), "DADKHAH_USER": USER,
                "XDG_CONFIG_HOME": str(self.root / "config"), "TMPDIR": str(self.root / "tmp")}
        if self.url:
            env["DADKHAH_DATABASE_URL"] = self.url
        (self.root / "tmp").mkdir(exist_ok=True)
        return env

    @contextlib.contextmanager
    def opened(self):
        """The store and the keys, the database read as it is: no migration, no sweep, no check of its
        schema's revision (a command killed before it migrated leaves the revision it found)."""
        from dadkhah.store import Store, create_engine
        from dadkhah.vault.keys import ENV_KEY_FILE, load_keys
        from dadkhah.workspace import load_workspace

        previous = os.environ.get(ENV_KEY_FILE)
        os.environ[ENV_KEY_FILE] = str(self.key_file)
        try:
            workspace = load_workspace(self.ws, database_url=self.url)
            keys = load_keys(workspace)
            store = Store(workspace=workspace, engine=create_engine(workspace.database_url), keys=keys)
            try:
                yield store, keys
            finally:
                store.close()
        finally:
            if previous is None:
                os.environ.pop(ENV_KEY_FILE, None)
            else:
                os.environ[ENV_KEY_FILE] = previous


def copy_place(template: Place, root: Path, pg: Postgres | None, db_name: str | None) -> Place:
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    shutil.copytree(template.ws, root / "ws", symlinks=True)
    shutil.copytree(template.key_file.parent, root / "keys", symlinks=True)
    url = None
    if template.database == "postgresql":
        url = pg.create(db_name, template.db_name)
    return Place(root, template.database, url, db_name)


def remove_place(place: Place, pg: Postgres | None) -> None:
    if place.db_name and pg is not None:
        pg.drop(place.db_name)
    shutil.rmtree(place.root, ignore_errors=True)


# ----- the case and the prepared workspaces ------------------------------------------------------


def make_inputs(folder: Path, victims: int, seed: int, import_victims: int) -> dict:
    """A synthetic case (4 lists), evidence files (a JPEG photo and a large binary, so sealing takes a
    while), a witness file and a transcript."""
    from PIL import Image

    from dadkhah.synth import generate_case

    case = folder / "case"
    if not (case / "list-4.csv").exists():
        generate_case(case, victims=victims, lists=4, seed=seed, difficulty="realistic")
    files = folder / "files"
    files.mkdir(exist_ok=True)
    # The list `import` brings in under fire: larger, so that kills land while rows are read and staged,
    # with rows the importer refuses (no name, a short row, a repeated id), so that a quarantine report
    # is written too.
    import_case = folder / "import-case"
    if not (import_case / "list-1.csv").exists():
        generate_case(import_case, victims=import_victims, lists=1, seed=seed + 2, difficulty="realistic", coverage=1.0)
    listing = files / "ngo-list.csv"
    if not listing.exists():
        text = (import_case / "list-1.csv").read_text(encoding="utf-8")
        header, first = text.splitlines()[:2]
        width = len(header.split(","))
        bad = [",".join(["BAD-0001"] + [""] * (width - 1)),  # no name
               "BAD-0002,Synthetic",  # fewer cells than the header has columns
               first]  # its record_id repeats the first row's
        listing.write_text(text.rstrip("\n") + "\n" + "\n".join(bad) + "\n", encoding="utf-8")
    photo = files / "courtyard.jpg"
    if not photo.exists():
        rng = random.Random(seed)
        image = Image.new("RGB", (800, 600))
        image.putdata([(rng.randrange(256), (x * 7) % 256, (x * 13) % 256) for x in range(800 * 600)])
        image.save(photo, quality=90)
    big = files / "recording.bin"
    if not big.exists():
        big.write_bytes(random.Random(seed + 1).randbytes(48 * 2**20))
    witness = files / "witness.json"
    witness.write_text(json.dumps({"name": "Synthetic Witness", "contact": "none", "interviewer": "Synthetic Interviewer"}))
    transcript = files / "statement.txt"
    transcript.write_text("A synthetic statement, for the crash benchmark. " * 40, encoding="utf-8")
    return {"case": case, "photo": photo, "big": big, "witness": witness, "transcript": transcript, "list": listing}


def prepare(folder: Path, database: str, pg: Postgres | None, inputs: dict) -> dict[str, Place]:
    """The prepared workspace of each command (stages built one on the other)."""
    from dadkhah.audit import Actor
    from dadkhah.ingest.importer import import_file
    from dadkhah.link.run import run_linkage
    from dadkhah.store import open_store
    from dadkhah.vault.evidence import add_evidence
    from dadkhah.vault.keys import create_keys, load_keys
    from dadkhah.vault.testimony import add_testimony
    from dadkhah.workspace import create_workspace, load_workspace

    actor = Actor(USER, "cli")
    case = inputs["case"]
    token = pg.token if pg else ""

    def stage(name: str, previous: Place | None) -> Place:
        db_name = f"crash_{token}_{name}" if database == "postgresql" else None
        if previous is None:
            root = folder / name
            root.mkdir(parents=True)
            url = pg.create(db_name) if database == "postgresql" else None
            place = Place(root, database, url, db_name)
            workspace = create_workspace(place.ws, database_url=url)
            open_store(workspace).close()
            place.key_file.parent.mkdir(mode=0o700)
            create_keys(workspace, key_file=place.key_file)
            return place
        return copy_place(previous, folder / name, pg, db_name)

    @contextlib.contextmanager
    def store_of(place: Place):
        workspace = load_workspace(place.ws, database_url=place.url)
        os.environ["DADKHAH_KEY_FILE"] = str(place.key_file)
        try:
            keys = load_keys(workspace)
            with open_store(workspace, keys=keys) as store:
                yield store, keys
        finally:
            os.environ.pop("DADKHAH_KEY_FILE", None)

    # import: three lists imported and linked (the list imported under fire is another source's).
    first = stage("tpl-import", None)
    with store_of(first) as (store, _keys):
        for k in (1, 2, 3):
            import_file(store, case / f"list-{k}.csv", source=f"list-{k}", actor=actor)
        run_linkage(store, actor=actor)
    # link: the fourth list imported, not yet linked.
    link = stage("tpl-link", first)
    with store_of(link) as (store, _keys):
        import_file(store, case / "list-4.csv", source="list-4", actor=actor)
    # evidence, estimate: everything linked.
    linked = stage("tpl-evidence", link)
    with store_of(linked) as (store, _keys):
        run_linkage(store, actor=actor)
    estimate = stage("tpl-estimate", linked)
    # casefile: evidence and a testimony added.
    casefile = stage("tpl-casefile", linked)
    with store_of(casefile) as (store, keys):
        add_evidence(store, keys, [inputs["photo"], inputs["big"]], actor=actor, source="family-archive",
                     description="synthetic", about=["P-000001"])
        add_testimony(store, keys, actor=actor, witness_name="Synthetic Witness", transcript=inputs["transcript"],
                      language="en", consent=["investigators", "courts"], about=["P-000002"])
    return {"import": first, "link": link, "evidence": linked, "estimate": estimate, "casefile": casefile}


def command_line(command: str, place: Place, inputs: dict, out: Path | None = None) -> list[str]:
    base = [sys.executable, "-m", "dadkhah", "-w", str(place.ws)]
    if command == "import":
        return base + ["import", str(inputs["list"]), "--source", "ngo-2019", "--incident", "1988 prison executions",
                       "--json"]
    if command == "link":
        return base + ["link", "run", "--seed", "1988", "--json"]
    if command == "evidence":
        return base + ["evidence", "add", str(inputs["photo"]), str(inputs["big"]), "--source", "field-team",
                       "--description", "courtyard", "--captured-at", "1988-08-10", "--about", "P-000003", "--json"]
    if command == "casefile":
        return base + ["export", "casefile", "--out", str(out), "--recipient", "UN Special Rapporteur",
                       "--scope", "investigators", "--all", "--json"]
    if command == "estimate":
        return base + ["estimate", "run", "--seed", "7", "--json"]
    raise ValueError(command)


# ----- what the state is --------------------------------------------------------------------------


def _digest(rows) -> str:
    return hashlib.sha256(json.dumps(sorted(rows), default=str).encode()).hexdigest()[:16]


def snapshot(store) -> dict:
    """The state that matters, without row ids, times or signatures (which differ between runs)."""
    import sqlalchemy as sa

    from dadkhah.model import (
        AuditEvent,
        CustodyEvent,
        Estimate,
        EvidenceItem,
        EvidencePerson,
        Import,
        LinkageRun,
        Person,
        PersonRecord,
        Record,
        RegistryEvent,
        Source,
        Testimony,
    )
    from dadkhah.model.base import Base

    with store.session() as s:
        names = dict(s.execute(sa.select(Source.id, Source.name)).all())
        person_ids = dict(s.execute(sa.select(Person.id, Person.person_id)).all())
        counts = {t.name: s.scalar(sa.select(sa.func.count()).select_from(t)) for t in Base.metadata.sorted_tables}
        imports = sorted((names[i.source_id], i.file_sha256, i.rows, i.imported, i.rejected, i.blank, i.warning_count,
                          i.quarantine_path is not None, i.finished_at is not None)
                         for i in s.scalars(sa.select(Import)))
        records = _digest((names[a], b, c, d is not None) for a, b, c, d in s.execute(
            sa.select(Record.source_id, Record.record_id, Record.version, Record.superseded_by)))
        persons = sorted((p.person_id, p.status, p.merged_into or "") for p in s.scalars(sa.select(Person)))
        members = _digest((person_ids[p], names[a], b) for a, b, p in s.execute(
            sa.select(PersonRecord.source_id, PersonRecord.record_id, PersonRecord.person_pk)))
        events = dict(Counter(s.scalars(sa.select(RegistryEvent.kind))))
        runs = [(r.finished_at is not None, r.records, r.persons, r.pairs_for_review)
                for r in s.scalars(sa.select(LinkageRun).order_by(LinkageRun.id))]
        about = {}
        for pk, person in s.execute(sa.select(EvidencePerson.evidence_pk, EvidencePerson.person_id)):
            about.setdefault(pk, []).append(person)
        evidence = sorted((e.evidence_id, e.sha256, e.size_bytes, e.media_type, tuple(e.release or ()),
                           tuple(sorted(about.get(e.id, ()))), e.blob_path) for e in s.scalars(sa.select(EvidenceItem)))
        testimonies = sorted((t.testimony_id, t.transcript_sha256) for t in s.scalars(sa.select(Testimony)))
        custody = [tuple(r) for r in s.execute(sa.select(CustodyEvent.item_kind, CustodyEvent.item_id, CustodyEvent.action)
                                               .order_by(CustodyEvent.seq))]
        audit = [tuple(r) for r in s.execute(sa.select(AuditEvent.action, AuditEvent.object_kind)
                                             .order_by(AuditEvent.seq))]
        estimates = [(e.source, e.method, e.stratified_by, e.observed, _round(e.estimate), _round(e.interval_low),
                      _round(e.interval_high)) for e in s.scalars(sa.select(Estimate).order_by(Estimate.id))]
    return {"counts": counts, "imports": imports, "records": records, "persons": persons, "memberships": members,
            "registry_events": events, "runs": runs, "evidence": evidence, "testimonies": testimonies,
            "custody": custody, "audit": audit, "estimates": estimates}


def _round(value):
    return None if value is None else float(f"{value:.9g}")


def differences(a: dict, b: dict) -> list[str]:
    """Which parts of two snapshots differ (with the counts that differ)."""
    found = []
    for key in a:
        if a[key] == b.get(key):
            continue
        if key == "counts":
            found += [f"{t}: {a[key].get(t)} vs {b[key].get(t)}" for t in a[key] if a[key].get(t) != b[key].get(t)]
        elif isinstance(a[key], list):
            found.append(f"{key}: {len(a[key])} vs {len(b.get(key) or [])} entries")
        else:
            found.append(f"{key} differs")
    return found


# ----- checks ---------------------------------------------------------------------------------------


def check_database(place: Place, store) -> list[dict]:
    """SQLite's own checks; every foreign key of the model; the invariants the code keeps."""
    import sqlalchemy as sa

    from dadkhah.model import (
        AuditEvent,
        CustodyEvent,
        Estimate,
        EvidenceItem,
        FieldWarning,
        Import,
        LinkageRun,
        Record,
    )
    from dadkhah.model.base import Base

    problems = []
    if place.database == "sqlite":
        connection = sqlite3.connect(place.ws / "dadkhah.db")
        try:
            result = [r[0] for r in connection.execute("PRAGMA integrity_check")]
            if result != ["ok"]:
                problems.append({"check": "integrity_check", "detail": result[:5]})
            broken = connection.execute("PRAGMA foreign_key_check").fetchall()
            if broken:
                problems.append({"check": "foreign_key_check", "detail": broken[:5]})
        finally:
            connection.close()
    with store.session() as s:
        for table in Base.metadata.sorted_tables:
            for fk in table.foreign_keys:
                child, parent = fk.parent, fk.column
                referenced = sa.alias(parent.table)  # an alias: a table may refer to itself (places.parent_id)
                orphans = s.scalar(sa.select(sa.func.count()).select_from(table).where(
                    child.is_not(None), ~sa.exists().where(referenced.c[parent.name] == child)))
                if orphans:
                    problems.append({"check": "orphan_rows", "detail": f"{table.name}.{child.name} -> "
                                     f"{parent.table.name}.{parent.name}: {orphans} rows"})
        for batch in s.scalars(sa.select(Import)):
            records = s.scalar(sa.select(sa.func.count()).select_from(Record).where(Record.import_id == batch.id))
            notes = s.scalar(sa.select(sa.func.count()).select_from(FieldWarning).where(FieldWarning.import_id == batch.id))
            if records != batch.imported or notes != batch.warning_count or batch.finished_at is None:
                problems.append({"check": "import_counts", "detail": f"import {batch.id}: {records} records for "
                                 f"{batch.imported} imported, {notes} warnings for {batch.warning_count}"})
            if batch.rows != batch.imported + batch.rejected:
                problems.append({"check": "import_counts", "detail": f"import {batch.id}: rows != imported + rejected"})
        audited = Counter((a, o) for a, o in s.execute(sa.select(AuditEvent.action, AuditEvent.object_id)))
        for run in s.scalars(sa.select(LinkageRun)):
            if run.finished_at is None or not audited[("link run", str(run.id))]:
                problems.append({"check": "action_without_record", "detail": f"linkage run {run.id} unfinished or unaudited"})
        for batch_id in s.scalars(sa.select(Import.id)):
            if not audited[("list imported", str(batch_id))]:
                problems.append({"check": "action_without_record", "detail": f"import {batch_id} has no audit event"})
        for estimate_id in s.scalars(sa.select(Estimate.id)):
            if not audited[("estimate run", str(estimate_id))]:
                problems.append({"check": "action_without_record", "detail": f"estimate {estimate_id} has no audit event"})
        added = Counter(s.scalars(sa.select(CustodyEvent.item_id).where(CustodyEvent.action == "added")))
        for evidence_id in s.scalars(sa.select(EvidenceItem.evidence_id)):
            if added[evidence_id] != 1:
                problems.append({"check": "action_without_record", "detail": f"{evidence_id}: {added[evidence_id]} 'added' events"})
        for casefile in s.scalars(sa.select(CustodyEvent.item_id).where(CustodyEvent.item_kind == "casefile",
                                                                       CustodyEvent.action == "created")):
            if not audited[("case file exported", casefile)]:
                problems.append({"check": "action_without_record", "detail": f"{casefile} has no audit event"})
    return problems


def check_chains(place: Place, store, keys) -> list[dict]:
    """Both chains, read-only (``custody verify`` also records the check, which would change the state)."""
    from dadkhah.audit import AUDIT_CHAIN, _earlier_idents, workspace_ident
    from dadkhah.vault.custody import verify_chain

    problems = []
    with store.session() as s:
        custody = verify_chain(s, keys)
        audit = AUDIT_CHAIN.verify(s, workspace_ident(store.workspace), keys, earlier_ids=_earlier_idents(store.workspace))
    if not custody["valid"]:
        problems.append({"check": "custody_chain", "detail": custody["problems"][:3]})
    if not audit["intact"]:
        problems.append({"check": "audit_chain", "detail": audit["problems"][:3]})
    if audit["unsigned"]:
        problems.append({"check": "audit_chain", "detail": f"unsigned stretches {audit['unsigned'][:3]}"})
    return problems


_PART_OWNER = re.compile(r"^(\d+)-[0-9a-f]+\.part$|\.(\d+)\.part$")
_FOLDER_OWNER = re.compile(r"^[a-z]+-(\d+)-")
_PLACING_OWNER = re.compile(r"^(\d+)-[0-9a-f]+\.placing$")
_NAMING_OWNER = re.compile(r"\.(\d+)\.naming$")


def _pid_of(match) -> int | None:
    return next((int(g) for g in match.groups() if g), None) if match else None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


def check_files(place: Place, store, keys, handover: Path | None) -> tuple[list[dict], list[str]]:
    """Blobs, temporary files and what lies beside a case file. Returns (problems, leftovers that the
    next command sweeps by design)."""
    import sqlalchemy as sa

    from dadkhah.model import CustodyEvent, EvidenceItem, Import, Intake, LinkageRun
    from dadkhah.vault.crypto import DecryptionError
    from dadkhah.vault.evidence import write_evidence

    ws = place.ws
    problems, swept = [], []
    with store.session() as s:
        rows = list(s.scalars(sa.select(EvidenceItem)))
        named_reports = {Path(p).name for table in (Import, Intake)
                         for p in s.scalars(sa.select(table.quarantine_path).where(table.quarantine_path.is_not(None)))}
        runs = {r for r, in s.execute(sa.select(LinkageRun.id).where(LinkageRun.finished_at.is_not(None)))}
        casefiles = s.scalar(sa.select(sa.func.count()).select_from(CustodyEvent).where(
            CustodyEvent.item_kind == "casefile", CustodyEvent.action == "created"))
    referenced = {row.blob_path: row for row in rows}
    blobs = ws / "blobs"
    # Blobs a dead process had moved into place and noted as such (blobs/incoming/<pid>-….placing):
    # swept when the workspace is next opened, unless a row names them.
    placed_by_dead = set()
    for note in (blobs / "incoming").glob("*.placing") if (blobs / "incoming").is_dir() else []:
        pid = _pid_of(_PLACING_OWNER.match(note.name))
        if pid is not None and not _alive(pid):
            placed_by_dead.add(note.read_text(encoding="utf-8").strip())
    for path in sorted(blobs.rglob("*")) if blobs.is_dir() else []:
        relative = path.relative_to(ws).as_posix()
        if path.is_dir():
            continue
        if path.parent == blobs / "incoming":
            pid = _pid_of(_PART_OWNER.search(path.name) or _PLACING_OWNER.match(path.name))
            if pid is not None and not _alive(pid):
                swept.append(relative)
            else:
                problems.append({"check": "stray_temporary", "detail": relative})
        elif relative not in referenced:
            if relative in placed_by_dead:
                swept.append(relative)
            else:
                problems.append({"check": "orphan_blob", "detail": f"{relative} ({path.stat().st_size} bytes), no evidence row"})
    for relative, row in referenced.items():
        if not (ws / relative).is_file():
            problems.append({"check": "missing_blob", "detail": f"{row.evidence_id}: {relative}"})
            continue
        try:
            write_evidence(ws, keys, row, None)
        except (DecryptionError, OSError, ValueError) as exc:
            problems.append({"check": "bad_blob", "detail": f"{row.evidence_id}: {exc}"})
    private = ws / "private"
    for path in sorted(private.iterdir()) if private.is_dir() else []:
        pid = _pid_of(_FOLDER_OWNER.match(path.name) or _PART_OWNER.search(path.name))
        if pid is not None and not _alive(pid):
            swept.append(path.relative_to(ws).as_posix())
        else:
            problems.append({"check": "stray_temporary", "detail": path.relative_to(ws).as_posix()})
    quarantine = ws / "quarantine"
    # A report named by a dead process's ``.naming`` note whose import never committed: the next
    # opening removes it with the note (dadkhah.store.sweep_leftovers).
    being_named = {path.name.rsplit(".", 2)[0] for path in (quarantine.glob("*.naming") if quarantine.is_dir() else [])
                   if (pid := _pid_of(_NAMING_OWNER.search(path.name))) is not None and not _alive(pid)}
    for path in sorted(quarantine.iterdir()) if quarantine.is_dir() else []:
        relative = path.relative_to(ws).as_posix()
        if path.name.endswith(".part"):
            pid = _pid_of(_PART_OWNER.search(path.name))
            if pid is not None and not _alive(pid):
                swept.append(relative)
            else:
                problems.append({"check": "stray_temporary", "detail": relative})
        elif path.name.endswith(".naming"):  # a report being named; the next command sweeps the note
            pid = _pid_of(_NAMING_OWNER.search(path.name))
            if pid is not None and not _alive(pid):
                swept.append(relative)
            else:
                problems.append({"check": "stray_temporary", "detail": relative})
        elif path.name in being_named and path.name not in named_reports:
            swept.append(relative)
        elif path.name not in named_reports:
            problems.append({"check": "stray_quarantine_report", "detail": f"{relative}: no import names it (swept "
                                                                             "only once over an hour old)"})
    linkage = ws / "linkage"
    pending = {}  # run number -> the .part folder of a dead process, which the next command puts in place or removes
    for path in sorted(linkage.iterdir()) if linkage.is_dir() else []:
        if path.name.startswith(".run-") and path.name.endswith(".part"):
            pid = _pid_of(_PART_OWNER.search(path.name))
            if pid is not None and not _alive(pid):
                swept.append(path.relative_to(ws).as_posix())
                pending[int(path.name[5:].split(".")[0])] = path
            else:
                problems.append({"check": "stray_temporary", "detail": path.relative_to(ws).as_posix()})
            continue
        number = path.name.removeprefix("run-")
        if not number.isdigit() or int(number) not in runs:
            problems.append({"check": "orphan_linkage_files", "detail": f"linkage/{path.name}: no committed run {number}"})
    for run in runs:
        folder = linkage / f"run-{run}" if (linkage / f"run-{run}").is_dir() else pending.get(run)
        for name in ("pairs.parquet", "negatives.parquet", "records.parquet"):
            if folder is None or not (folder / name).is_file():
                problems.append({"check": "missing_linkage_files", "detail": f"run {run}: {name}"})
    for path in sorted(place.key_file.parent.iterdir()):
        if path.name.endswith(".tmp"):
            swept.append(f"keys/{path.name} (rewritten by the next head move)")
    if handover is not None and handover.is_dir():
        from dadkhah.workspace import outside_partial

        # A partial copy a dead process's private folder names is swept with that folder.
        noted = {outside_partial(p, pid) for p in (private.iterdir() if private.is_dir() else [])
                 if (pid := _pid_of(_FOLDER_OWNER.match(p.name))) is not None and not _alive(pid)}
        made = [p for p in handover.iterdir()]
        finished = [p for p in made if p.name.startswith("casefile") and not p.name.startswith(".")]
        for path in made:
            if path.absolute() in noted:
                swept.append(f"{path.name} beside --out (named by its dead process's private folder)")
            elif path not in finished:
                size = sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) if path.is_dir() else path.stat().st_size
                problems.append({"check": "stray_plaintext_outside_workspace",
                                 "detail": f"{path.name} beside --out ({size} bytes of the case file being written)"})
        written = [p for p in finished if p.is_dir() and any(p.iterdir())]
        if len(written) > casefiles:
            problems.append({"check": "casefile_without_record",
                             "detail": f"{len(written)} case file folders at --out, {casefiles} recorded in custody"})
    return problems, swept


def casefile_contents(folder: Path) -> dict:
    """A case file's contents apart from its time, signature and the PDF summary (which carries the time)."""
    contents = {}
    for path in sorted(folder.rglob("*")):
        if not path.is_file():
            continue
        relative = path.relative_to(folder).as_posix()
        if relative in ("signature.json", "tagmanifest-sha256.txt", "manifest-sha256.txt", "data/summary.pdf"):
            continue
        if relative == "data/casefile.json":
            document = json.loads(path.read_text(encoding="utf-8"))
            document.pop("created_at", None)
            document.get("summary", {}).pop("sha256", None)
            contents[relative] = hashlib.sha256(json.dumps(document, sort_keys=True).encode()).hexdigest()
        elif relative == "data/custody.jsonl":
            events = []
            for line in path.read_text(encoding="utf-8").splitlines():
                event = json.loads(line)
                for key in ("occurred_at", "signature", "event_sha256", "prev_sha256", "seq"):
                    event.pop(key, None)
                events.append(event)
            contents[relative] = hashlib.sha256(json.dumps(events, sort_keys=True).encode()).hexdigest()
        elif relative == "bag-info.txt":
            lines = [x for x in path.read_text(encoding="utf-8").splitlines()
                     if not x.startswith(("Bagging-Date", "Payload-Oxum"))]
            contents[relative] = "\n".join(sorted(lines))
        else:
            contents[relative] = hashlib.sha256(path.read_bytes()).hexdigest()
    return contents


def output_facts(command: str, document: dict) -> dict:
    """What a command's JSON output must repeat on a rerun."""
    if command == "import":
        return {k: document.get(k) for k in ("rows", "imported", "rejected", "blank", "warning_count", "already_imported")}
    if command == "link":
        return {k: document.get(k) for k in ("records", "persons", "created", "merged", "split", "unchanged",
                                             "pairs_linked", "pairs_for_review")}
    if command == "evidence":
        items = document if isinstance(document, list) else document.get("items", document.get("evidence", []))
        return {"items": [(i.get("id"), i.get("sha256"), i.get("already_held")) for i in items]}
    if command == "casefile":
        return {k: document.get(k) for k in ("casefile", "persons", "testimonies", "evidence", "scope")}
    if command == "estimate":
        return {"method": document.get("method"), "observed": document.get("observed"),
                "estimate": _round(document.get("estimate")), "interval": [_round(x) for x in document.get("interval") or []]}
    return {}


# ----- running commands ---------------------------------------------------------------------------


def run_command(argv: list[str], place: Place, *, kill_after: float | None = None, timeout: float = 900) -> dict:
    """Run a command; with ``kill_after``, SIGKILL its process group after that many seconds."""
    out_path, err_path = place.root / f"out-{uuid.uuid4().hex[:6]}.txt", place.root / f"err-{uuid.uuid4().hex[:6]}.txt"
    started = time.perf_counter()
    with open(out_path, "wb") as stdout, open(err_path, "wb") as stderr:
        process = subprocess.Popen(argv, stdout=stdout, stderr=stderr, env=place.env(), start_new_session=True,
                                   cwd=place.root)
        killed = False
        try:
            if kill_after is not None:
                try:
                    process.wait(timeout=kill_after)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
                    killed = True
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            raise
    seconds = time.perf_counter() - started
    stdout_text = out_path.read_text(encoding="utf-8", errors="replace")
    stderr_text = err_path.read_text(encoding="utf-8", errors="replace")
    out_path.unlink()
    err_path.unlink()
    document = None
    if stdout_text.strip():
        with contextlib.suppress(ValueError):
            document = json.loads(stdout_text)
    return {"rc": process.returncode, "killed": killed, "seconds": seconds, "json": document,
            "stderr": stderr_text[-2000:], "pid": process.pid}


def cli_verify(place: Place) -> list[dict]:
    problems = []
    base = [sys.executable, "-m", "dadkhah", "-w", str(place.ws)]
    custody = run_command(base + ["custody", "verify", "--json"], place)
    if custody["rc"] != 0 or not (custody["json"] or {}).get("valid"):
        problems.append({"check": "custody_chain_cli", "detail": (custody["json"] or custody["stderr"])})
    audit = run_command(base + ["audit", "verify", "--json"], place)
    if audit["rc"] != 0 or not (audit["json"] or {}).get("intact"):
        problems.append({"check": "audit_chain_cli", "detail": (audit["json"] or audit["stderr"])})
    return problems


# ----- one series: a command on a database -------------------------------------------------------


class Series:
    def __init__(self, command: str, template: Place, inputs: dict, pg: Postgres | None, folder: Path,
                 cli_verify_every: int):
        self.command = command
        self.template = template
        self.inputs = inputs
        self.pg = pg
        self.folder = folder
        self.cli_verify_every = cli_verify_every
        self.counter = 0

    def fresh(self) -> Place:
        self.counter += 1
        token = self.pg.token if self.pg else ""
        db_name = f"crash_{token}_{self.command}_{self.counter}" if self.template.database == "postgresql" else None
        return copy_place(self.template, self.folder / f"run-{self.counter}", self.pg, db_name)

    def argv(self, place: Place, attempt: int = 1) -> list[str]:
        out = place.root / "handover" / ("casefile" if attempt == 1 else f"casefile-{attempt}")
        (place.root / "handover").mkdir(exist_ok=True)
        return command_line(self.command, place, self.inputs, out)

    def baseline(self) -> None:
        """A clean run, then the same again: duration, outputs, and the states S0, S1, S2."""
        place = self.fresh()
        try:
            with place.opened() as (store, _keys):
                self.s0 = snapshot(store)
            first = run_command(self.argv(place, 1), place)
            if first["rc"] != 0:
                raise RuntimeError(f"the clean {self.command} failed: {first['stderr']}")
            self.clean_seconds = first["seconds"]
            self.out1 = output_facts(self.command, first["json"])
            with place.opened() as (store, keys):
                self.s1 = snapshot(store)
                problems = check_database(place, store) + check_chains(place, store, keys)
                problems += check_files(place, store, keys, place.root / "handover")[0]
            if problems:
                raise RuntimeError(f"the clean {self.command} already fails the checks: {problems[:3]}")
            if self.command == "casefile":
                self.contents1 = casefile_contents(place.root / "handover" / "casefile")
            second = run_command(self.argv(place, 2), place)
            if second["rc"] != 0:
                raise RuntimeError(f"the clean {self.command}, run again, failed: {second['stderr']}")
            self.out2 = output_facts(self.command, second["json"])
            with place.opened() as (store, _keys):
                self.s2 = snapshot(store)
            if self.command == "casefile":
                self.contents2 = casefile_contents(place.root / "handover" / "casefile-2")
        finally:
            remove_place(place, self.pg)
        # A second clean run on a fresh copy: the kill window is the shorter of the two (the first run
        # of a series is often slowed by cold caches), and the two must leave the same state.
        place = self.fresh()
        try:
            again = run_command(self.argv(place, 1), place)
            if again["rc"] != 0:
                raise RuntimeError(f"the clean {self.command} failed: {again['stderr']}")
            self.clean_seconds = min(self.clean_seconds, again["seconds"])
            with place.opened() as (store, _keys):
                self.clean_runs_differ = differences(self.s1, snapshot(store))
            if output_facts(self.command, again["json"]) != self.out1:
                self.clean_runs_differ.append("output")
        finally:
            remove_place(place, self.pg)

    def persons(self, state: dict, committed: bool | None) -> list[dict]:
        """Every person of before keeps its id; its status and records too, unless a linkage run committed
        (then they are the clean run's)."""
        before = {p[0]: p for p in self.s0["persons"]}
        now = {p[0]: p for p in state["persons"]}
        missing = sorted(set(before) - set(now))
        if missing:
            return [{"check": "persons_intact", "detail": f"{len(missing)} persons gone, e.g. {missing[:5]}"}]
        if self.command == "link":
            if (state["persons"], state["memberships"]) not in ((self.s0["persons"], self.s0["memberships"]),
                                                                (self.s1["persons"], self.s1["memberships"])):
                return [{"check": "persons_intact", "detail": "persons are neither those before nor a clean run's"}]
            return []
        changed = [p for p in before if now[p] != before[p]]
        if changed or state["memberships"] != self.s0["memberships"]:
            return [{"check": "persons_intact", "detail": f"{len(changed)} persons changed status; records "
                     f"{'moved' if state['memberships'] != self.s0['memberships'] else 'kept'}"}]
        return []

    def casefile_check(self, folder: Path, expected: dict, whose: str) -> list[dict]:
        from dadkhah.vault.verify import verify_casefile

        problems = []
        if not folder.is_dir():
            return [{"check": "casefile_contents", "detail": f"the {whose} case file is missing at {folder.name}"}]
        report = verify_casefile(folder)
        if not report["valid"]:
            problems.append({"check": "casefile_verifies", "detail": f"the {whose}: {report['problems'][:3]}"})
        got = casefile_contents(folder)
        if got != expected:
            differ = sorted(k for k in set(got) | set(expected) if got.get(k) != expected.get(k))
            problems.append({"check": "casefile_contents", "detail": f"the {whose} differs from a clean run's in {differ[:6]}"})
        return problems

    def one(self, rng: random.Random, number: int = 0) -> dict:
        """One kill and every check; returns {"killed", "committed", "problems", "swept", "delay"}."""
        mark = time.perf_counter()
        phases = {}

        def phase(name: str) -> None:
            nonlocal mark
            now = time.perf_counter()
            phases[name] = round(now - mark, 1)
            mark = now

        place = self.fresh()
        phase("copy")
        problems: list[dict] = []
        delay = rng.uniform(0, self.clean_seconds)
        try:
            killed = run_command(self.argv(place, 1), place, kill_after=delay)
            phase("kill")
            with place.opened() as (store, keys):
                state = snapshot(store)
                problems += check_database(place, store)
                problems += check_chains(place, store, keys)
                file_problems, swept = check_files(place, store, keys, place.root / "handover")
                problems += file_problems
            if state == self.s0:
                committed = False
            elif state == self.s1:
                committed = True
            else:
                committed = None
                problems.append({"check": "half_written", "detail": {"vs_before": differences(self.s0, state),
                                                                     "vs_clean_run": differences(self.s1, state)}})
            problems += self.persons(state, committed)
            phase("checks")
            if not killed["killed"] and killed["rc"] != 0:
                problems.append({"check": "command_failed_unkilled", "detail": killed["stderr"][-500:]})
            # The same command again.
            attempt = 1
            if self.command == "casefile" and committed:
                attempt = 2  # the first --out holds the finished case file: a new folder, as a user would
                problems += self.casefile_check(place.root / "handover" / "casefile", self.contents1, "killed run's")
            rerun = run_command(self.argv(place, attempt), place)
            phase("rerun")
            if rerun["rc"] != 0:
                problems.append({"check": "rerun_fails", "detail": rerun["stderr"][-800:]})
            else:
                expected_out = self.out2 if committed else self.out1
                got = output_facts(self.command, rerun["json"])
                if got != expected_out:
                    problems.append({"check": "rerun_result", "detail": {"got": got, "clean_run": expected_out}})
                if self.command == "casefile":
                    problems += self.casefile_check(place.root / "handover" / ("casefile-2" if attempt == 2 else "casefile"),
                                                    self.contents2 if committed else self.contents1, "rerun's")
            with place.opened() as (store, keys):
                after = snapshot(store)
                problems += [p | {"after": "rerun"} for p in check_database(place, store)]
                problems += [p | {"after": "rerun"} for p in check_chains(place, store, keys)]
                later_problems, still = check_files(place, store, keys, place.root / "handover")
                problems += [p | {"after": "rerun"} for p in later_problems]
            expected = self.s2 if committed else self.s1
            if rerun["rc"] == 0 and after != expected:
                problems.append({"check": "rerun_result", "detail": {"state": differences(expected, after)}})
            left = [x for x in swept if x in still and not x.startswith("keys/")]
            if left:
                problems.append({"check": "leftover_not_swept", "detail": left})
            phase("checks_after")
            if self.cli_verify_every and number % self.cli_verify_every == 0:
                problems += [p | {"after": "rerun"} for p in cli_verify(place)]
                phase("cli_verify")
            return {"phases": phases, "killed": killed["killed"], "committed": committed, "problems": problems, "swept": swept,
                    "delay": round(delay, 3), "seconds_to_exit": round(killed["seconds"], 3),
                    "workspace": str(place.ws)}
        finally:
            if not problems or not os.environ.get("CRASH_BENCH_KEEP_FAILURES"):
                remove_place(place, self.pg)


def run_series(series: Series, runs: int, rng: random.Random, database: str) -> dict:
    started = time.perf_counter()
    series.baseline()
    log(f"{series.command} on {database}: clean run {series.clean_seconds:.1f} s; {runs} kills")
    failures: Counter = Counter()
    examples = []
    killed = committed = rolled_back = swept_runs = swept_files = 0
    for n in range(runs):
        result = series.one(rng, n)
        if not result["killed"]:  # the machine got faster (others' load fell): kill within the fastest run seen
            series.clean_seconds = min(series.clean_seconds, result["seconds_to_exit"])
        killed += result["killed"]
        committed += bool(result["killed"] and result["committed"])
        rolled_back += result["committed"] is False
        if result["swept"]:
            swept_runs += 1
            swept_files += len(result["swept"])
        for check in sorted({p["check"] for p in result["problems"]}):
            failures[check] += 1
        if result["problems"] and len(examples) < EXAMPLES:
            examples.append({"run": n + 1, "delay_s": result["delay"], "killed": result["killed"],
                             "committed": result["committed"], "problems": result["problems"][:6],
                             "workspace": result["workspace"] if os.environ.get("CRASH_BENCH_KEEP_FAILURES") else None})
        log(f"{series.command}/{database} {n + 1}/{runs}: kill at {result['delay']:.2f} s, "
            f"{'killed' if result['killed'] else 'finished first'}, "
            f"{'committed' if result['committed'] else 'rolled back' if result['committed'] is False else 'HALF'}"
            f"{', swept ' + str(len(result['swept'])) if result['swept'] else ''}"
            f"{', FAIL ' + ','.join(sorted({p['check'] for p in result['problems']})) if result['problems'] else ''}"
            f" {result['phases']}")
    return {"command": series.command, "database": database, "runs": runs, "killed_mid_run": killed,
            "finished_before_kill": runs - killed, "killed_after_commit": committed, "rolled_back": rolled_back,
            "clean_seconds": round(series.clean_seconds, 2), "clean_runs_differ": series.clean_runs_differ,
            "swept_leftovers": {"runs": swept_runs, "files": swept_files},
            "failures": dict(failures), "examples": examples, "seconds": round(time.perf_counter() - started, 1)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=50, help="kills per command and database (default 50)")
    parser.add_argument("--commands", default=",".join(COMMANDS), help=f"comma-separated, of {', '.join(COMMANDS)}")
    parser.add_argument("--database", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--seed", type=int, default=1988, help="seed of the kill moments and of the synthetic case")
    parser.add_argument("--victims", type=int, default=600, help="size of the synthetic case (4 lists)")
    parser.add_argument("--import-rows", type=int, default=30000, help="about how many rows the list `import` reads")
    parser.add_argument("--work-dir", help="where to build the workspaces (default: a new temporary folder)")
    parser.add_argument("--cli-verify-every", type=int, default=5, metavar="N",
                        help="also run `custody verify --json` and `audit verify --json` through the command line after "
                             "the rerun of every N-th kill (the first included; 1: every kill; 0: never). The chains "
                             "are verified in-process, read-only, after every kill and every rerun regardless")
    args = parser.parse_args(argv)
    # Stopped with SIGTERM, the bench still drops its databases and removes its folders (finally blocks).
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(143))
    commands = [c.strip() for c in args.commands.split(",") if c.strip()]
    unknown = [c for c in commands if c not in COMMANDS]
    if unknown:
        parser.error(f"unknown commands {unknown}; choose from {', '.join(COMMANDS)}")
    databases = ["sqlite", "postgresql"] if args.database == "both" else [args.database]
    started = time.perf_counter()
    folder = Path(args.work_dir) if args.work_dir else Path(tempfile.mkdtemp(prefix="dadkhah-crash-bench-"))
    folder.mkdir(parents=True, exist_ok=True)
    lines = []
    try:
        log(f"making the synthetic case ({args.victims} victims, 4 lists) in {folder}")
        inputs = make_inputs(folder, args.victims, args.seed, args.import_rows)
        for database in databases:
            pg = Postgres(PG_ADMIN_URL, uuid.uuid4().hex[:8]) if database == "postgresql" else None
            base = folder / database
            shutil.rmtree(base, ignore_errors=True)
            try:
                log(f"preparing the workspaces on {database}")
                templates = prepare(base / "templates", database, pg, inputs)
                for number, command in enumerate(commands):
                    series = Series(command, templates[command], inputs, pg, base / command,
                                    cli_verify_every=args.cli_verify_every)
                    rng = random.Random(f"{args.seed}-{command}-{database}")
                    line = run_series(series, args.runs, rng, database)
                    lines.append(line)
                    print(json.dumps(line, default=str), flush=True)
                    del number
            finally:
                if pg is not None:
                    pg.drop_all()
                shutil.rmtree(base, ignore_errors=True)
    finally:
        if not args.work_dir:
            shutil.rmtree(folder, ignore_errors=True)
    failed = sum(sum(line["failures"].values()) for line in lines)
    print(json.dumps({"benchmark": "crash", "cores": os.cpu_count(), "commands": commands, "databases": databases,
                      "runs_each": args.runs, "kills": sum(line["killed_mid_run"] for line in lines),
                      "runs": sum(line["runs"] for line in lines),
                      "failed_checks": failed,
                      "failures": dict(sum((Counter(line["failures"]) for line in lines), Counter())),
                      "seconds": round(time.perf_counter() - started, 1), "passed": failed == 0}), flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
