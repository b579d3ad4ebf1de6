"""Exports of field tools, built byte for byte as the tools write them, with synthetic people only.

* ODK Central's submissions download (``lib/data/briefcase.js``, ``lib/data/attachments.js`` of
  central-backend): ``FORM.csv`` (csv-stringify: quoted only when needed, ``\\n`` line ends, no byte
  order mark), ``FORM-REPEAT.csv`` per repeat group, ``media/NAME`` per attachment.
* KoboToolbox's API data (``/api/v2/assets/UID/data/?format=json``): ``count``, ``next``,
  ``previous``, ``results``; answers keyed by group paths joined with ``/``; ``_attachments``.
* Tella (Android, ``PublicMetadataMapper`` and ``MediaFileHandler.createMetadataFile``): each file
  beside ``NAME.csv`` (the file's name without its extension): a header line and a line of values
  joined by commas, never quoted; ``File hash`` is the SHA-256 in capitals; ``Timestamp`` in ms.
"""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path

from dadkhah.synth.field import write_odk_zip

# Synthetic people: common names from the synthetic generator's tables, and witnesses whose names
# say they are invented (searched for in database dumps by the tests).
WITNESSES = ["Synthetic Witness Kappa Qorvex", "Synthetic Witness Lambda Zyther", "شاهد ساختگی کاپا"]
CONTACTS = ["synthetic-contact-4411@example.org", "synthetic-contact-4412@example.org", "+00 0000 4413"]
INTERVIEWER = "Synthetic Interviewer Quillon"
STATEMENTS = [
    "The synthetic guard said, at dawn, that the convoy left for the hills (test sentence 5521).\nSecond line.",
    "شهادت ساختگی: در تابستان، نگهبان گفت که فهرست را خوانده‌اند (جملهٔ آزمایشی ۵۵۲۲).",
    "A third synthetic statement, with \"quotes\" and a comma, (test sentence 5523).",
]
VICTIMS = [("Reza", "Karimi", "Hassan", "1988-07-30", "Rasht"), ("علی", "رضایی", "محمد", "1367/05/08", "تبریز"),
           ("Maryam", "Ahmadi", "", "1988-08", "Tehran")]


def jpeg(colour: tuple[int, int, int]) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (12, 12), colour).save(buffer, format="JPEG")
    return buffer.getvalue()


def odk_submission(number: int, **changes) -> dict:
    """One submission of the synthetic form ``witness_statement`` (witness group, a statement, a photo,
    a repeat group of victims), as Central's export holds it."""
    key = f"uuid:6b1f0c2e-0000-4000-8000-{number:012d}"
    answers = {
        "SubmissionDate": f"2024-03-0{number}T10:21:33.{number:03d}Z",
        "start": f"2024-03-0{number}T09:02:11.000+03:30", "end": f"2024-03-0{number}T09:40:51.000+03:30",
        "witness-name": WITNESSES[(number - 1) % len(WITNESSES)], "witness-contact": CONTACTS[(number - 1) % 3],
        "interviewer": INTERVIEWER, "statement": STATEMENTS[(number - 1) % len(STATEMENTS)], "language": "fa",
        "consent": "investigators courts", "photo": f"17096340931{number:02d}.jpg", "recording": "",
        "meta-instanceID": key, "KEY": key, "SubmitterID": "5", "SubmitterName": "synthetic field phone 1",
        "AttachmentsPresent": "1", "AttachmentsExpected": "1", "Status": "", "ReviewState": "",
        "DeviceID": f"collect:SyntheticDevice{number}", "Edits": "0", "FormVersion": "2024030501",
        "victims": [VICTIMS[(number - 1) % len(VICTIMS)]],
    }
    answers.update(changes)
    return answers


def odk_zip(path: Path, submissions: list[dict], *, media: dict[str, bytes] | None = None,
            form_id: str = "witness_statement") -> Path:
    """An ODK Central submissions download of ``submissions``; ``media`` defaults to a JPEG per photo."""
    if media is None:
        media = {s["photo"]: jpeg((40 * i % 255, 90, 160)) for i, s in enumerate(submissions, start=1) if s["photo"]}
    return write_odk_zip(path, submissions, media, form_id=form_id)


ODK_MAPPING = '''\
# The synthetic form witness_statement, as ODK Central exports it.
source = "field-team-odk"
incident = "1988 prison executions"

[testimony]
witness_name = "witness-name"
witness_contact = "witness-contact"
interviewer = "interviewer"
transcript = "statement"
language = "language"
consent = "consent"

[evidence]
attachments = ["photo", "recording"]
description = { value = "photo taken with the statement" }
captured_at = "end"

[record]
repeat = "victims"
given_name = "given_name"
family_name = "family_name"
father_name = "father_name"
death_date = "death_date"
city = "city"
'''


def kobo_submission(number: int, user: str = "synthetic_team", **changes) -> dict:
    """One submission of the synthetic Kobo form (groups ``witness`` and ``victim``), as the API gives it."""
    uuid = f"2c9d8e7f-0000-4000-9000-{number:012d}"
    formhub = "0a1b2c3d4e5f60718293a4b5c6d7e8f9"
    photo = f"photo-10_2{number}_33.jpg"
    item = {
        "_id": 700000 + number,
        "formhub/uuid": formhub,
        "start": f"2024-04-0{number}T11:00:00.000+03:30",
        "end": f"2024-04-0{number}T11:45:00.000+03:30",
        "witness/name": WITNESSES[(number - 1) % len(WITNESSES)],
        "witness/contact": CONTACTS[(number - 1) % 3],
        "statement": STATEMENTS[(number - 1) % len(STATEMENTS)],
        "language": "fa",
        "consent": "investigators courts",
        "victim/given_name": VICTIMS[(number - 1) % 3][0],
        "victim/family_name": VICTIMS[(number - 1) % 3][1],
        "victim/death_date": VICTIMS[(number - 1) % 3][3],
        "victim/city": VICTIMS[(number - 1) % 3][4],
        "photo": photo,
        "__version__": "vSyntheticVersion01",
        "meta/instanceID": f"uuid:{uuid}",
        "meta/rootUuid": f"uuid:{uuid}",
        "_xform_id_string": "aSyntheticAsset000000001",
        "_uuid": uuid,
        "_attachments": [{
            "download_url": f"https://kf.kobotoolbox.org/api/v2/assets/aSyntheticAsset000000001/data/{700000 + number}/attachments/attSynthetic{number}/",
            "download_large_url": f"https://kf.kobotoolbox.org/api/v2/assets/aSyntheticAsset000000001/data/{700000 + number}/attachments/attSynthetic{number}/large/",
            "download_medium_url": f"https://kf.kobotoolbox.org/api/v2/assets/aSyntheticAsset000000001/data/{700000 + number}/attachments/attSynthetic{number}/medium/",
            "download_small_url": f"https://kf.kobotoolbox.org/api/v2/assets/aSyntheticAsset000000001/data/{700000 + number}/attachments/attSynthetic{number}/small/",
            "mimetype": "image/jpeg",
            "filename": f"{user}/attachments/{formhub}/{uuid}/{photo}",
            "media_file_basename": photo,
            "question_xpath": "photo",
            "uid": f"attSynthetic{number}",
            "is_deleted": False,
        }],
        "_status": "submitted_via_web",
        "_geolocation": [None, None],
        "_submission_time": f"2024-04-0{number}T08:16:2{number}",
        "_tags": [],
        "_notes": [],
        "_validation_status": {},
        "_submitted_by": "synthetic_enumerator",
    }
    item.update(changes)
    return item


def kobo_files(folder: Path, items: list[dict], *, nested: bool = True) -> None:
    """The attached files as a folder the user assembled: under Kobo's own paths, or by name alone."""
    for number, item in enumerate(items, start=1):
        for attachment in item["_attachments"]:
            relative = attachment["filename"] if nested else attachment["media_file_basename"]
            target = folder / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(jpeg((200, 20 * number % 255, 60)))


def kobo_json(path: Path, items: list[dict], *, paged: bool = True, next_page: str | None = None) -> Path:
    document = {"count": len(items), "next": next_page, "previous": None, "results": items} if paged else items
    path.write_text(json.dumps(document, ensure_ascii=False, indent=1), encoding="utf-8")
    return path


KOBO_MAPPING = '''\
source = "field-team-kobo"

[testimony]
witness_name = "witness/name"
witness_contact = "witness/contact"
transcript = "statement"
language = "language"
consent = { field = "consent", values = { all = "investigators,courts,public" } }

[evidence]
attachments = ["photo"]

[record]
given_name = "victim/given_name"
family_name = "victim/family_name"
death_date = "victim/death_date"
city = "victim/city"
'''

TELLA_COLUMNS = ["File hash", "File path", "File name", "Cells", "WiFis", "Timestamp", "Ambient temperature", "Light",
                 "Location accuracy", "Location altitude", "Location latitude", "Location longitude",
                 "Location timestamp", "Location provider", "Location speed", "Locale", "IPv6", "IPv4", "Language",
                 "Network type", "Network", "Manufacturer", "Data type", "Hardware", "Screen size", "WiFi MAC",
                 "Device ID"]


def tella_file(folder: Path, name: str, data: bytes, *, timestamp: int = 1709634093123, declared: str | None = None,
               latitude: str = "35.7000123") -> Path:
    """A file shared from Tella with its verification information, as Tella writes them."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(data)
    values = {
        "File hash": declared or hashlib.sha256(data).hexdigest().upper(), "File path": "/", "File name": name,
        "Cells": "GSM cid 20481 lac 11 mcc 432 mnc 11", "WiFis": "synthetic-net-1 synthetic-net-2",
        "Timestamp": str(timestamp), "Ambient temperature": "", "Light": "41.0", "Location accuracy": "12.5",
        "Location altitude": "1191.0", "Location latitude": latitude, "Location longitude": "51.4000456",
        "Location timestamp": str(timestamp - 4000), "Location provider": "fused", "Location speed": "0.0",
        "Locale": "fa_IR", "IPv6": "", "IPv4": "10.0.0.77", "Language": "fa", "Network type": "LTE",
        "Network": "Synthetic Mobile", "Manufacturer": "SyntheticPhones", "Data type": "mobile",
        "Hardware": "qcom", "Screen size": "1080x2340", "WiFi MAC": "02:00:00:00:00:00",
        "Device ID": "synthetic-device-7a3f",
    }
    lines = ",".join(TELLA_COLUMNS) + "\n" + ",".join(values[c].replace(",", " ") for c in TELLA_COLUMNS) + "\n"
    (folder / f"{Path(name).stem}.csv").write_bytes(lines.encode("utf-8"))
    return folder / name
