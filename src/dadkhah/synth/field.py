"""A synthetic field export, for the demo: what a documentation team's ODK Central project would hand
over after a few interviews — the submissions download of a witness-statement form (each with the
witness, a statement, a photo and a repeat group of the victims the witness names) and the mapping
that takes it in (``dadkhah intake odk``).

The file is written as ODK Central writes it (central-backend's ``lib/data/briefcase.js`` and
``attachments.js``): ``FORM.csv`` with ``SubmissionDate`` first, the answers by group path joined
with ``-``, then Central's own columns; ``FORM-REPEAT.csv`` per repeat group ending in
``PARENT_KEY, KEY``; and ``media/NAME`` per attachment; CSV quoted only where needed, ``\\n`` line
ends, no byte-order mark. The tests of the intake build their files with the same writer.

Witnesses and interviewers are invented (drawn as the synthetic officials are, never a victim's
name); the victims they name are synthetic victims of the case, with the dates and places the
case gives them.
"""

from __future__ import annotations

import io
import random
import struct
import uuid
import zipfile
import zlib
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path

import jdatetime

from dadkhah.spreadsheet import SafeWriter
from dadkhah.synth.accountability import _Namer
from dadkhah.synth.population import Victim

FORM_ID = "witness_statement"
ODK_ANSWERS = ["start", "end", "witness-name", "witness-contact", "interviewer", "statement", "language", "consent",
               "photo", "recording", "meta-instanceID"]
ODK_META = ["KEY", "SubmitterID", "SubmitterName", "AttachmentsPresent", "AttachmentsExpected", "Status",
            "ReviewState", "DeviceID", "Edits", "FormVersion"]
ODK_REPEAT = ["given_name", "family_name", "father_name", "death_date", "city", "PARENT_KEY", "KEY"]

ODK_MAPPING = '''\
# The synthetic form witness_statement, as ODK Central exports it (dadkhah synth writes both files).
source = "field-team-odk"
incident = "Synthetic prison executions"

[testimony]
witness_name = "witness-name"
witness_contact = "witness-contact"
interviewer = "interviewer"
transcript = "statement"
language = "language"
consent = "consent"

[evidence]
attachments = ["photo", "recording"]
description = { value = "photo taken with the statement (synthetic)" }
captured_at = "end"

[record]
repeat = "victims"
given_name = "given_name"
family_name = "family_name"
father_name = "father_name"
death_date = "death_date"
city = "city"
'''

STATEMENTS = (
    "شهادت ساختگی برای نمایش: در تابستان، نگهبان به خانواده گفت که دیگر ملاقاتی نخواهد بود.",
    "Synthetic statement for the demo: the family was given a bag of belongings and no grave.",
    "شهادت ساختگی: نام او را در فهرستی که بر دیوار زندان بود خواندیم.",
)


def odk_csv(rows: list[list[str]]) -> bytes:
    """Rows as Central's CSV writer (csv-stringify) writes them: quoted only where needed, ``\\n`` ends
    (through the project's one CSV writer; no synthetic cell starts like a formula, so none is altered)."""
    buffer = io.StringIO()
    writer = SafeWriter(buffer, lineterminator="\n")
    for row in rows:
        writer.writerow(row)
    return buffer.getvalue().encode("utf-8")


def write_odk_zip(path: Path, submissions: list[dict], media: dict[str, bytes], *, form_id: str = FORM_ID) -> Path:
    """An ODK Central submissions download: each submission a dict of the form's columns (see
    :data:`ODK_ANSWERS`, :data:`ODK_META`) and ``victims``, a list of repeat rows (the first five
    columns of :data:`ODK_REPEAT`); ``media`` the attached files by name."""
    header = ["SubmissionDate", *ODK_ANSWERS, *ODK_META]
    rows = [header] + [[s.get(c, "") for c in header] for s in submissions]
    repeat = [ODK_REPEAT]
    for s in submissions:
        for index, victim in enumerate(s.get("victims", []), start=1):
            repeat.append([*victim, s["KEY"], f"{s['KEY']}/victims[{index}]"])
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(f"{form_id}.csv", odk_csv(rows))
        archive.writestr(f"{form_id}-victims.csv", odk_csv(repeat))
        for name, data in media.items():
            archive.writestr(f"media/{name}", data)
    return path


def png(colour: tuple[int, int, int], size: int = 16) -> bytes:
    """A small plain-coloured PNG (a stand-in for a photo), written without an imaging library."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    raw = b"".join(b"\x00" + bytes(colour) * size for _ in range(size))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def generate_field_exports(folder: Path, population: Sequence[Victim], *, seed: int, submissions: int = 6) -> dict:
    """Write ``witness_statement.zip`` (an ODK Central download) and ``odk-mapping.toml`` into ``folder``."""
    rng = random.Random(f"field:{seed}")
    namer = _Namer(population, rng)
    folder.mkdir(parents=True, exist_ok=True)
    interviewer = " ".join(e.latin[0] for e in namer.draw("female"))
    taken, media = [], {}
    started = datetime(2024, 3, 4, 9, 0)
    for number in range(1, min(submissions, len(population)) + 1):
        key = f"uuid:{uuid.UUID(int=rng.getrandbits(128), version=4)}"
        given, family = namer.draw("female" if number % 2 else "male")
        persian = number % 3 == 0
        witness = f"{given.fa} {family.fa}" if persian else f"{given.latin[0]} {family.latin[0]}"
        when = started + timedelta(days=number, minutes=rng.randint(0, 300))
        victims = []
        for victim in rng.sample(list(population), k=min(len(population), rng.choice((1, 1, 2)))):
            death = jdatetime.date.fromgregorian(date=victim.death).strftime("%Y/%m/%d")
            if persian:
                victims.append((victim.given.fa, victim.family.fa, victim.father.fa, death,
                                victim.city.get("name_fa") or victim.city["name_en"]))
            else:
                victims.append((victim.given.latin[0], victim.family.latin[0], victim.father.latin[0],
                                victim.death.isoformat(), victim.city["name_en"]))
        photo = f"{int(when.timestamp() * 1000)}.png"
        media[photo] = png((rng.randint(0, 255), rng.randint(0, 255), rng.randint(0, 255)))
        taken.append({
            "SubmissionDate": (when + timedelta(hours=3)).strftime("%Y-%m-%dT%H:%M:%S.000Z"),
            "start": when.strftime("%Y-%m-%dT%H:%M:%S.000+03:30"),
            "end": (when + timedelta(minutes=40)).strftime("%Y-%m-%dT%H:%M:%S.000+03:30"),
            "witness-name": witness, "witness-contact": f"synthetic-witness-{number}@example.org",
            "interviewer": interviewer, "statement": STATEMENTS[number % len(STATEMENTS)],
            "language": "fa" if persian or number % 2 else "en", "consent": "investigators courts",
            "photo": photo, "recording": "", "meta-instanceID": key, "KEY": key, "SubmitterID": "5",
            "SubmitterName": "synthetic field phone", "AttachmentsPresent": "1", "AttachmentsExpected": "1",
            "Status": "", "ReviewState": "", "DeviceID": f"collect:SyntheticDevice{number}", "Edits": "0",
            "FormVersion": "2024030401", "victims": victims,
        })
    archive = write_odk_zip(folder / f"{FORM_ID}.zip", taken, media)
    mapping = folder / "odk-mapping.toml"
    mapping.write_text(ODK_MAPPING, encoding="utf-8")
    return {"folder": str(folder), "odk": str(archive), "mapping": str(mapping), "submissions": len(taken)}
