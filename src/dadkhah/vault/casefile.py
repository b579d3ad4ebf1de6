"""Case files for investigative bodies: a signed BagIt bag a recipient can verify with the tool alone.

The bag (BagIt 1.0, RFC 8493) holds ``data/casefile.json`` (persons with their source records,
testimonies by pseudonym, evidence with SHA-256 and metadata), the evidence files, the testimony
transcripts as text, and ``data/custody.jsonl`` (the custody events of everything included, each
signed). The tag manifest — which fixes ``bag-info.txt`` and the payload manifest, which fixes
every file — is signed with the instance's Ed25519 key in ``signature.json``. So a forger who
edits a file and rewrites the manifests still fails the signature, unless they sign with a key of
their own; which is why the recipient should check the key's fingerprint against one received
another way (``dadkhah verify --expect-key``).

Only testimonies whose witness consented to the scope are included, and evidence released to it. A
case file for the public holds no withheld person (:func:`dadkhah.registry.persons.withhold_person`):
one named is refused, and those an official's acts or "everything" would bring are left out and
counted.
Witness names and contacts are never exported; interviewers' names and evidence metadata (EXIF,
C2PA: places, devices) are left out of public case files.

``data/summary.pdf`` says in plain words, in English and then in Persian, what the case file holds
(for whom, what scope, how many persons, testimonies, evidence items and officials) and how to check
it with ``dadkhah verify``: a reader who opens the folder without the tool learns what it is. It
holds counts and the officials' names only, and is covered by the manifests and the signature like
every other file.

With ``authorities``, time-stamping authorities timestamp the exact bytes of ``signature.json``
once it is written (:mod:`dadkhah.vault.timestamps`); their tokens travel beside it in
``signature-timestamps.json`` and are recorded in the case file's custody (``timestamped``).
"""

from __future__ import annotations

import base64
import errno
import hashlib
import json
import mimetypes
import os
import shutil
import uuid
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import bagit
import sqlalchemy as sa
from sqlalchemy.orm import Session

from dadkhah import __version__
from dadkhah.accountability.queries import audience_for, official_casefile
from dadkhah.audit import Actor, record_audit
from dadkhah.errors import InputError
from dadkhah.model import (
    CustodyEvent,
    EvidenceItem,
    EvidencePerson,
    Person,
    Testimony,
    TestimonyPerson,
)
from dadkhah.outfiles import write_json
from dadkhah.registry.persons import describe_person, withheld_persons
from dadkhah.store import Store
from dadkhah.typeset import report_pdf
from dadkhah.typeset.compile import day_words, number
from dadkhah.vault.crypto import open_sealed
from dadkhah.vault.custody import append_event, event_to_dict
from dadkhah.vault.evidence import (
    SCOPES,
    evidence_data_key,
    evidence_to_dict,
    resolve_persons,
    write_evidence,
)
from dadkhah.vault.files import checked_output_path
from dadkhah.vault.keys import VaultKeys
from dadkhah.vault.testimony import open_testimony, testimony_to_dict
from dadkhah.vault.timestamps import (
    SIGNATURE_TIMESTAMPS_FORMAT,
    checked_authorities,
    obtain_timestamps,
)
from dadkhah.vault.verify import SIGNATURE_FILE, SIGNED_FILE, TIMESTAMPS_FILE
from dadkhah.workspace import new_private_folder, note_outside_partial

FORMAT = "dadkhah-casefile/1"
SUMMARY = "summary.pdf"

# The summary's words. {…} are filled in; numbers and dates are written in each language's digits.
SUMMARY_WORDS = {
    "en": {
        "title": "Case file {casefile}",
        "subtitle": "Prepared for {recipient} on {date}",
        "holds": "What this case file holds",
        "casefile": "Case file", "recipient": "Prepared for", "scope": "Scope", "made": "Made on",
        "persons": "Persons", "testimonies": "Testimonies (witnesses by pseudonym)", "evidence": "Evidence items",
        "officials": "Officials", "none": "none", "software": "Made with", "key": "Signed by the key",
        "scopes": {"investigators": "investigators", "courts": "courts", "public": "the public"},
        "files": ("data/casefile.json lists the persons with every source record about them, the testimonies and the "
                  "evidence items, each file with its SHA-256; data/evidence/ and data/testimonies/ hold the files; "
                  "data/custody.jsonl holds the chain of custody of everything included, each event signed. "
                  "Witnesses' names and contacts are never in a case file. Only testimonies whose witness consented "
                  "to this scope are included, and only evidence released to it."),
        "check": "How to check it",
        "how": ("Run dadkhah verify on this folder, with its expect-key option set to the key's fingerprint. It "
                "checks that no file was changed, added or removed since the case file was signed, that the "
                "signature holds, and every custody event. Ask the "
                "sender for the key's fingerprint through another channel (in person, by telephone) and compare it: "
                "the fingerprint printed here comes from inside the folder, so it proves nothing on its own."),
    },
    "fa": {
        "title": "پروندهٔ {casefile}",
        "subtitle": "فراهم‌شده برای {recipient} در {date}",
        "holds": "آنچه در این پرونده است",
        "casefile": "پرونده", "recipient": "برای", "scope": "دامنه", "made": "تاریخ ساخت",
        "persons": "افراد", "testimonies": "شهادت‌ها (شاهدان با نام مستعار)", "evidence": "مدارک",
        "officials": "مقام‌ها", "none": "هیچ", "software": "ساخته‌شده با", "key": "امضاشده با کلید",
        "scopes": {"investigators": "بازرسان", "courts": "دادگاه‌ها", "public": "همگان"},
        "files": ("فایل data/casefile.json فهرست افراد است با همهٔ سابقه‌های منابع دربارهٔ آنان، و شهادت‌ها و مدارک، "
                  "هر فایل با SHA-256 آن؛ پوشه‌های data/evidence/ و data/testimonies/ خود فایل‌ها را دارند؛ "
                  "data/custody.jsonl زنجیرهٔ نگهداری هر آنچه در پرونده است را دارد و هر رویداد آن امضا شده است. "
                  "نام و نشانی شاهدان هرگز در پرونده نمی‌آید. تنها شهادت‌هایی آمده‌اند که شاهدشان به این دامنه "
                  "رضایت داده، و تنها مدارکی که برای آن آزاد شده‌اند."),
        "check": "چگونه آن را بسنجید",
        "how": ("فرمان dadkhah verify را روی این پوشه اجرا کنید و گزینهٔ expect-key آن را اثر انگشت کلید بدهید. این فرمان می‌سنجد که از زمان "
                "امضای پرونده هیچ فایلی دگرگون، افزوده یا برداشته نشده، امضا درست است و رویدادهای نگهداری سالم‌اند. "
                "اثر انگشت کلید را از راه دیگری (حضوری، تلفنی) از فرستنده بپرسید و با آن بسنجید: اثر انگشتی که "
                "اینجا چاپ شده از درون همین پوشه آمده و به‌تنهایی چیزی را ثابت نمی‌کند."),
    },
}


def _extension(media_type: str) -> str:
    guessed = mimetypes.guess_extension(media_type.split(";")[0].strip()) if media_type else None
    return guessed or ".bin"


def _cited(dossiers: list[dict]) -> dict[str, set[str]]:
    return {kind: {item for d in dossiers for item in d["cited"][kind]} for kind in ("testimonies", "evidence")}


def _official_entry(dossier: dict, evidence, testimonies) -> dict:
    """An official's part of the case file; what the claims cite but the scope does not cover is
    listed by id only (``cited_not_included``)."""
    included = {row.evidence_id for row in evidence} | {row.testimony_id for row in testimonies}
    cited = dossier["cited"]["testimonies"] + dossier["cited"]["evidence"]
    return {**dossier["dossier"], "victims_as_persons": dossier["persons"], "sites": dossier["sites"],
            "cited_not_included": [item for item in cited if item not in included]}


def _select(session: Session, scope: str, persons: list[str], everything: bool, cited: dict | None = None):
    evidence_query = sa.select(EvidenceItem).order_by(EvidenceItem.id)
    testimony_query = sa.select(Testimony).order_by(Testimony.id)
    if everything:
        persons = list(session.scalars(sa.select(Person.person_id).where(Person.status == "active").order_by(Person.id)))
    else:
        cited = cited or {"testimonies": set(), "evidence": set()}
        evidence_query = evidence_query.where(sa.or_(EvidenceItem.id.in_(
            sa.select(EvidencePerson.evidence_pk).where(EvidencePerson.person_id.in_(persons))),
            EvidenceItem.evidence_id.in_(sorted(cited["evidence"]))))
        testimony_query = testimony_query.where(sa.or_(Testimony.id.in_(
            sa.select(TestimonyPerson.testimony_pk).where(TestimonyPerson.person_id.in_(persons))),
            Testimony.testimony_id.in_(sorted(cited["testimonies"]))))
    evidence = [row for row in session.scalars(evidence_query) if scope in (row.release or [])]
    testimonies = [row for row in session.scalars(testimony_query) if scope in (row.consent or [])]
    return persons, evidence, testimonies


def _without(node, withheld: set[str]):
    """``node`` (an official's dossier) without the withheld persons: a victim entry naming one is
    left out of its list (or emptied where it stands alone), and their ids out of lists of ids."""
    def named(value) -> bool:
        return (isinstance(value, dict) and value.get("person") in withheld) or (isinstance(value, str) and value in withheld)

    if isinstance(node, list):
        return [_without(item, withheld) for item in node if not named(item)]
    if isinstance(node, dict):
        return {key: None if named(value) else _without(value, withheld) for key, value in node.items()}
    return node


def _not_about(session: Session, evidence: list, testimonies: list, withheld: set[str]) -> tuple[list, list]:
    """The evidence items and testimonies about none of the ``withheld`` persons."""
    about = sorted(withheld)
    evidence_pks = set(session.scalars(sa.select(EvidencePerson.evidence_pk).where(EvidencePerson.person_id.in_(about))))
    testimony_pks = set(session.scalars(sa.select(TestimonyPerson.testimony_pk)
                                        .where(TestimonyPerson.person_id.in_(about))))
    return ([row for row in evidence if row.id not in evidence_pks],
            [row for row in testimonies if row.id not in testimony_pks])


def _casefile_id(session: Session) -> str:
    made = session.scalar(sa.select(sa.func.count()).select_from(CustodyEvent)
                          .where(CustodyEvent.item_kind == "casefile", CustodyEvent.action == "created")) or 0
    return f"C-{made + 1:04d}"


def export_casefile(store: Store, keys: VaultKeys, out, *, actor: Actor, recipient: str, scope: str, persons=(),
                    officials=(), everything: bool = False, as_zip: bool = False, authorities=(),
                    progress=None) -> dict:
    """Write a signed case file for ``recipient`` at ``out``: a new folder, or with ``as_zip`` a new
    zip file holding that folder. Every included item's export is recorded in custody, and the
    export in the audit log, in a transaction that commits only once the case file is written.

    ``officials`` adds each official's dossier (posts, acts, involvements, status, every citation),
    the victims of those acts as persons, and the sites where they are claimed to lie, located as the
    scope may see them; testimonies and evidence the claims cite come too when their consent or
    release covers the scope, and are cited by id only when not.

    ``authorities`` (http or https addresses of time-stamping authorities) each timestamp the
    signature once it is made; if one fails, nothing is written or recorded and the error names it.
    The authorities are asked while the export's transaction is open (the chain of custody waits
    for them, each at most :data:`dadkhah.vault.tsa.TIMEOUT_SECONDS`)."""
    recipient = (recipient or "").strip()
    if not recipient:
        raise InputError("names who receives the case file (it is written into it and into custody)", field="recipient")
    if scope not in SCOPES:
        raise InputError(f"must be one of {', '.join(SCOPES)}, not {scope!r}", field="scope")
    if not everything and not persons and not officials:
        raise InputError("name the persons or officials the case file is about, or ask for everything", field="persons")
    urls = checked_authorities(authorities) if authorities else []
    target = checked_output_path(out, workspace=store.workspace.path, folder=not as_zip, force=None)
    target.parent.mkdir(parents=True, exist_ok=True)
    # The case file is made in the workspace's private space (decrypted evidence and transcripts pass
    # only there; if the process dies, the next opening of the workspace sweeps it), and moved to
    # ``target`` whole, just before the transaction that records it commits.
    scratch = new_private_folder(store.workspace, "casefile")
    staging = scratch / "bag"
    staging.mkdir()
    delivered = False
    try:
        with store.session() as session:
            chosen = [] if everything else resolve_persons(session, persons, field="persons")
            withheld = withheld_persons(session) if scope == "public" else set()
            if refused := [p for p in chosen if p in withheld]:
                raise InputError(f"{', '.join(refused)} withheld from everything published (persons withhold): a "
                                 "case file for the public cannot hold them; make it for investigators or courts, or "
                                 "leave them out", field="persons")
            dossiers = [official_casefile(session, ref, audience=audience_for(scope)) for ref in officials]
            chosen = sorted(set(chosen) | {p for d in dossiers for p in d["persons"]})
            chosen, evidence, testimonies = _select(session, scope, chosen, everything,
                                                    cited=_cited(dossiers))
            left_out = len([p for p in chosen if p in withheld])
            chosen = [p for p in chosen if p not in withheld]
            if withheld:  # nor the victims' entries naming them, nor what is about them
                dossiers = [_without(d, withheld) for d in dossiers]
                evidence, testimonies = _not_about(session, evidence, testimonies, withheld)
            casefile_id = _casefile_id(session)
            document = _write_payload(session, store, keys, staging, casefile_id=casefile_id, recipient=recipient,
                                      scope=scope, persons=chosen, evidence=evidence, testimonies=testimonies,
                                      progress=progress)
            if dossiers:
                document["officials"] = [_official_entry(d, evidence, testimonies) for d in dossiers]
            summary = {"recipient": recipient, "scope": scope, "persons": len(chosen), "testimonies": len(testimonies),
                       "evidence": len(evidence), "officials": [d["dossier"]["official"]["id"] for d in dossiers]}
            if scope == "public":
                summary["withheld_left_out"] = left_out
            written = _write_summary(staging / SUMMARY, document, summary, keys.fingerprint,
                                     [d["dossier"]["official"] for d in dossiers])
            document["summary"] = {"path": f"data/{SUMMARY}", "sha256": written["sha256"],
                                   "about": "what the case file holds and how to check it, in English and Persian"}
            for item_id in [row.evidence_id for row in evidence] + [row.testimony_id for row in testimonies]:
                append_event(session, keys, actor, item_kind="evidence" if item_id.startswith("E-") else "testimony",
                             item_id=item_id, action="exported", details={"casefile": casefile_id} | summary)
            append_event(session, keys, actor, item_kind="casefile", item_id=casefile_id, action="created",
                         details=summary)
            # The key rotations too: with them the recipient checks events signed before a rotation.
            included = ({row.evidence_id for row in evidence} | {row.testimony_id for row in testimonies}
                        | {casefile_id, "signing-key"})
            _write_custody(session, staging / "custody.jsonl", included)
            write_json(staging / "casefile.json", document, end="", default=str)
            bagit.make_bag(str(staging), bag_info={
                "Source-Organization": "Dadkhah instance " + keys.fingerprint,
                "External-Identifier": casefile_id,
                "External-Description": f"Case file for {recipient} (scope: {scope})",
                "Recipient": recipient, "Scope": scope, "Dadkhah-Version": __version__,
                "Instance-Key-Fingerprint": keys.fingerprint,
            }, checksums=["sha256"])
            _sign(staging, keys)
            timestamps = _timestamp(session, keys, actor, staging, casefile_id, urls) if urls else []
            audited = summary | {"everything": everything, "fingerprint": keys.fingerprint}
            if timestamps:
                audited["timestamps"] = timestamps
            record_audit(session, store, actor, action="case file exported", object_kind="casefile",
                         object_id=casefile_id, details=audited)
            if as_zip:
                made = scratch / "casefile.zip"
                zip_folder(staging, made, root=casefile_id)
            else:
                made = staging
            _deliver(made, target, scratch)
            delivered = True
            return {"casefile": casefile_id, "out": str(target), "recipient": recipient, "scope": scope,
                    "persons": len(chosen), "withheld_left_out": left_out, "testimonies": len(testimonies),
                    "evidence": len(evidence),
                    "officials": summary["officials"], "timestamps": timestamps,
                    "fingerprint": keys.fingerprint, "exported_by": actor.name}
    except BaseException:
        if delivered:  # written, but its record did not commit: no case file leaves unrecorded
            shutil.rmtree(target, ignore_errors=True) if target.is_dir() else target.unlink(missing_ok=True)
        raise
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _deliver(made: Path, target: Path, scratch: Path) -> None:
    """Move the finished case file (a folder, or a zip file) from the private space to ``target``: one
    rename when both are on one file system. Else it is copied beside ``target`` under a name of its
    own, then renamed; that name is noted in the private space first, so that if the process dies
    while copying, the next opening of the workspace removes the partial copy with the rest
    (:func:`dadkhah.store.sweep_leftovers`)."""
    if target.is_dir():
        target.rmdir()  # an empty folder, checked before anything was written
    try:
        os.rename(made, target)
        return
    except OSError as exc:
        if exc.errno != errno.EXDEV:
            raise
    partial = target.parent / f".{target.name}.{os.getpid()}-{uuid.uuid4().hex[:8]}.partial"
    note_outside_partial(scratch, partial)
    try:
        if made.is_dir():
            shutil.copytree(made, partial)
        else:
            shutil.copy2(made, partial)
        os.rename(partial, target)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True) if partial.is_dir() else partial.unlink(missing_ok=True)
        raise


def _timestamp(session: Session, keys: VaultKeys, actor: Actor, folder: Path, casefile_id: str, urls: list[str]) -> list[dict]:
    """Have each authority timestamp ``signature.json``; write the tokens beside it and record them in
    the case file's custody. Returns who timestamped it and when."""
    signature = (folder / SIGNATURE_FILE).read_bytes()
    entries = obtain_timestamps(urls, signature)
    covers = {"file": SIGNATURE_FILE, "sha256": hashlib.sha256(signature).hexdigest()}
    document = {"format": SIGNATURE_TIMESTAMPS_FORMAT, "covers": covers,
                "about": (f"RFC 3161 timestamp tokens over the exact bytes of {SIGNATURE_FILE} (their imprint is its "
                          f"SHA-256). They are not in the manifests, which {SIGNATURE_FILE} signs: they were made after "
                          "it. Each token is signed by its authority; check it with dadkhah verify (its tsa-root option "
                          "names the authority's root certificate you trust), or with openssl ts -verify."),
                "timestamps": entries}
    (folder / TIMESTAMPS_FILE).write_text(json.dumps(document, indent=1) + "\n", encoding="utf-8")
    append_event(session, keys, actor, item_kind="casefile", item_id=casefile_id, action="timestamped",
                 details={"covers": covers, "timestamps": entries})
    return [{"authority": e["authority"], "name": e["name"], "time": e["time"]} for e in entries]


def _write_summary(path: Path, document: dict, summary: dict, fingerprint_: str, officials: list[dict]) -> dict:
    """``summary.pdf``: what the case file holds and how to check it, in English, then in Persian."""
    made = datetime.fromisoformat(document["created_at"])
    blocks: list[dict] = []
    for language in ("en", "fa"):
        words = SUMMARY_WORDS[language]
        names = [" ".join(part for part in (o["id"], o.get("name_fa") if language == "fa" else o.get("name"),
                                             o.get("name") if language == "fa" else o.get("name_fa")) if part)
                 for o in officials]
        if language == "fa":
            blocks.append({"kind": "page-break", "lang": language})
            blocks.append({"kind": "heading", "level": 1, "lang": language,
                           "text": words["title"].format(casefile=document["casefile"])})
        blocks += [
            {"kind": "paragraph", "lang": language, "text": words["subtitle"].format(
                recipient=summary["recipient"], date=day_words(made.date(), language, both=True))},
            {"kind": "heading", "level": 2, "lang": language, "text": words["holds"]},
            {"kind": "facts", "lang": language, "rows": [
                [words["casefile"], document["casefile"]],
                [words["recipient"], summary["recipient"]],
                [words["scope"], words["scopes"].get(summary["scope"], summary["scope"])],
                [words["made"], day_words(made.date(), language, both=True)],
                [words["persons"], number(summary["persons"], language)],
                [words["testimonies"], number(summary["testimonies"], language)],
                [words["evidence"], number(summary["evidence"], language)],
                [words["officials"], ("، " if language == "fa" else "; ").join(names) or words["none"]],
                [words["software"], f"dadkhah {__version__}"],
                [words["key"], fingerprint_]]},
            {"kind": "paragraph", "lang": language, "text": words["files"]},
            {"kind": "heading", "level": 2, "lang": language, "text": words["check"]},
            {"kind": "paragraph", "lang": language, "text": words["how"]},
        ]
    return report_pdf({"language": "en", "title": SUMMARY_WORDS["en"]["title"].format(casefile=document["casefile"]),
                       "as_of": document["created_at"], "blocks": blocks}, path)


def zip_folder(folder: Path, target: Path, *, root: str) -> None:
    """Zip ``folder`` under ``root/``: folders and files in sorted order, so the same case file zips alike."""
    entries = sorted(folder.rglob("*"), key=lambda p: p.relative_to(folder).as_posix())
    with zipfile.ZipFile(target, "x", compression=zipfile.ZIP_DEFLATED) as archive:
        for path in entries:
            name = f"{root}/{path.relative_to(folder).as_posix()}"
            if path.is_dir():
                archive.writestr(zipfile.ZipInfo(name + "/"), b"")
            else:
                archive.write(path, name)


def _write_payload(session: Session, store: Store, keys: VaultKeys, folder: Path, *, casefile_id, recipient, scope,
                   persons, evidence, testimonies, progress) -> dict:
    public = scope == "public"
    (folder / "evidence").mkdir()
    (folder / "testimonies").mkdir()
    total = sum(row.size_bytes for row in evidence) or 1
    done = 0
    evidence_entries = []
    for row in evidence:
        name = f"{row.evidence_id}{_extension(row.media_type)}"
        write_evidence(store.workspace.path, keys, row, folder / "evidence" / name)
        done += row.size_bytes
        if progress:
            progress(done, total)
        entry = evidence_to_dict(session, row)
        for private in ("added_by", "captured_place_id"):
            entry.pop(private, None)
        entry["path"] = f"data/evidence/{name}"
        if not public:
            data_key = evidence_data_key(keys, store.workspace.path, row)
            entry["metadata"] = json.loads(open_sealed(data_key, row.metadata_sealed, label=f"evidence:{row.sha256}:metadata"))
        evidence_entries.append(entry)
    testimony_entries = []
    for row in testimonies:
        opened = open_testimony(keys, row)
        path = folder / "testimonies" / f"{row.testimony_id}.txt"
        path.write_text(opened["transcript"], encoding="utf-8", newline="")
        entry = testimony_to_dict(session, row)
        for private in ("has_interviewer", "recorded_by", "place_id"):
            entry.pop(private, None)
        entry["transcript"] = {"path": f"data/testimonies/{row.testimony_id}.txt", "sha256": row.transcript_sha256}
        if not public and opened["interviewer"]:
            entry["interviewer"] = opened["interviewer"]
        testimony_entries.append(entry)
    return {
        "format": FORMAT, "casefile": casefile_id, "recipient": recipient, "scope": scope,
        "created_at": datetime.now(UTC).replace(microsecond=0).isoformat(), "software": {"dadkhah": __version__},
        "instance_key": {"algorithm": "Ed25519", "public_key": base64.b64encode(keys.public_key).decode("ascii"),
                         "fingerprint": keys.fingerprint},
        "persons": [describe_person(session, person_id) for person_id in persons],
        "testimonies": testimony_entries,
        "evidence": evidence_entries,
        "custody": {"path": "data/custody.jsonl", "about": "every custody event of the included items, each signed"},
        "witness_identities": "never exported: witnesses are known by pseudonym only",
    }


def _write_custody(session: Session, path: Path, item_ids: set[str]) -> None:
    rows = session.scalars(sa.select(CustodyEvent).where(CustodyEvent.item_id.in_(sorted(item_ids))).order_by(CustodyEvent.seq))
    with open(path, "w", encoding="utf-8", newline="\n") as handle:
        for row in rows:
            handle.write(json.dumps(event_to_dict(row), ensure_ascii=False, sort_keys=True) + "\n")


def _sign(folder: Path, keys: VaultKeys) -> None:
    signed = (folder / SIGNED_FILE).read_bytes()
    document = {"algorithm": "Ed25519", "signed_file": SIGNED_FILE,
                "signature": base64.b64encode(keys.signing_key.sign(signed)).decode("ascii"),
                "public_key": base64.b64encode(keys.public_key).decode("ascii"), "fingerprint": keys.fingerprint,
                "note": "Check the fingerprint against the one the sender gave you another way (dadkhah verify can compare them)"}
    (folder / SIGNATURE_FILE).write_text(json.dumps(document, indent=1) + "\n", encoding="utf-8")
