"""Taking an export in: every submission checked first, then all of them written in one transaction.

For each submission not taken in before, the mapping says what it becomes: a testimony (its
witness's name and contact, the interviewer and the transcript sealed as ``testimony add`` seals
them), evidence items (its attached files, with custody events naming the tool, the submission and
when it was captured; what could locate someone sealed with the item), and victim records (through
the importer's own normalisation, as one import of the source). A submission any part of which
cannot be taken in (no witness name, a language that is not a code, a missing attachment, a hash
that does not match, a victim without a name) is refused whole, into the quarantine report, with
its reason. Then everything accepted is written in one transaction with the intake's row and its
audit event: all of the file or none of it.

``rows = imported + already_held + rejected`` always holds: a submission taken in by an earlier run
(same tool, same submission id) is not taken in again, and the summary says so.
"""

from __future__ import annotations

import hashlib
import re
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.orm import Session

from dadkhah import __version__
from dadkhah.audit import Actor, record_audit
from dadkhah.errors import DadkhahError, InputError
from dadkhah.ingest.columns import ColumnSpec, Mapping, header_key
from dadkhah.ingest.importer import check_rows, import_rows_in
from dadkhah.ingest.quarantine import Quarantine
from dadkhah.model import Intake, IntakeSubmission
from dadkhah.model.base import utcnow
from dadkhah.sources import ensure_source, validate_source_name
from dadkhah.store import Store
from dadkhah.vault.evidence import DEFAULT_RELEASE, add_evidence_in, parse_moment, parse_scopes
from dadkhah.vault.intake.export import Export, Submission, first_seen
from dadkhah.vault.intake.mapping import Answer, IntakeMapping
from dadkhah.vault.keys import VaultKeys
from dadkhah.vault.testimony import add_testimony_in, check_testimony, witness_match_warning

WITHHELD = "(sealed: not written here)"
_UNSAFE_SOURCE = re.compile(r"[:\n\r]+")


@dataclass
class IntakeSummary:
    """What an intake did. ``to_dict`` is the ``--json`` document of ``dadkhah intake``."""

    tool: str
    intake_id: int | None
    file: str
    file_sha256: str
    form_id: str | None
    source: str | None
    rows: int
    imported: int
    already_held: int
    rejected: int
    testimonies: list[str] = field(default_factory=list)
    # testimonies whose witness's name matched a witness recorded before: line, submission, testimony, witness, contact
    matched_witnesses: list[dict] = field(default_factory=list)
    evidence: list[str] = field(default_factory=list)
    records: int = 0
    import_id: int | None = None
    record_warnings: list[dict] = field(default_factory=list)  # the importer's, by line of that import
    quarantine: str | None = None
    rejections: list[dict] = field(default_factory=list)
    changed_since: list[dict] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    nothing_new: bool = False
    seconds: float = 0.0

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class _Plan:
    """What one submission becomes, checked; or why it is refused."""

    submission: Submission
    testimony: dict | None = None
    files: list[dict] = field(default_factory=list)
    rows: list[tuple[str, list[str]]] = field(default_factory=list)  # (record_id, cells) of its victims
    reason: str | None = None
    field: str = ""

    def refuse(self, reason: str, field_name: str = "") -> None:
        if self.reason is None:
            self.reason, self.field = reason, field_name


def default_source(export: Export) -> str:
    """``odk-FORM``, ``kobo-ASSET`` or ``tella-FOLDER``: the source a mapping names none for."""
    base = export.form_id or export.path.stem or export.path.name
    return validate_source_name(_UNSAFE_SOURCE.sub("-", f"{export.tool}-{base}")[:200])


def check_fields(export: Export, mapping: IntakeMapping) -> None:
    """Every answer the mapping reads must be one the export can hold: a typo in a mapping would
    otherwise quietly leave every submission without it. The error names the mapping file and key."""
    if export.fields is None:
        return
    if mapping.repeat is not None and mapping.repeat not in export.repeat_fields:
        known = ", ".join(sorted(export.repeat_fields)) or "none"
        raise InputError(f"names the repeat group {mapping.repeat!r}, which this export does not have "
                         f"(its repeat groups: {known})", file=mapping.path, field="record.repeat")
    repeat_fields = export.repeat_fields.get(mapping.repeat, set()) if mapping.repeat else set()
    for answer in mapping.answers_used():
        known = export.fields | (repeat_fields if answer.key.startswith("record.") else set())
        if answer.field not in known:
            near = sorted(f for f in known if header_key(f) == header_key(answer.field))
            hint = f"; did you mean {near[0]!r}?" if near else ""
            absent = ("which this export does not have" if export.tool == "odk"
                      else "which no submission in this export answers")
            raise InputError(f"reads the answer {answer.field!r}, {absent}{hint}", file=mapping.path, field=answer.key)


def _record_columns(export: Export, mapping: IntakeMapping) -> tuple[list[str], list[tuple[str, Answer]], Mapping]:
    """The header of the victims' records (the id column, then each answer read, or a fixed value's
    name), what feeds each column, and the importer's mapping of those columns to its fields."""
    columns = ["KEY" if mapping.repeat else export.id_column]
    feeds: list[tuple[str, Answer]] = []
    specs = {header_key(columns[0]): ColumnSpec("record_id")}
    headers = {header_key(columns[0]): columns[0]}
    for target, answer in mapping.record.items():
        column = answer.field if answer.field is not None else f"{target} (fixed in the mapping)"
        columns.append(column)
        feeds.append((target, answer))
        specs[header_key(column)] = ColumnSpec(target, answer.calendar, answer.order)
        headers[header_key(column)] = column
    return columns, feeds, Mapping(columns=specs, headers=headers, path=mapping.path)


def _plan(submission: Submission, export: Export, mapping: IntakeMapping, feeds) -> _Plan:
    plan = _Plan(submission)
    answers = submission.answers
    if mapping.testimony:
        t = mapping.testimony
        read = {key: answer.read(answers) for key, answer in t.items() if key != "transcript_file"}
        transcript: bytes | Path | None = None
        if "transcript_file" in t:
            name = t["transcript_file"].read(answers)
            if name:
                found = export.locate(submission, t["transcript_file"].field, name)
                if found.path is None:
                    plan.refuse(found.reason, t["transcript_file"].field)
                    return plan
                transcript = found.path  # read by the vault, which checks its size first
        else:
            transcript = (read.get("transcript") or "").encode("utf-8")
        try:
            consent = re.sub(r"\s+", ",", read.get("consent") or "")
            checked = check_testimony(witness_name=read.get("witness_name") or "", transcript=transcript or b"",
                                      language=read.get("language") or "", consent=consent)
        except InputError as exc:
            key = {"witness_name": "witness_name", "language": "language", "consent": "consent"}.get(exc.field or "",
                                                                                                   "transcript")
            key = "transcript_file" if key == "transcript" and "transcript_file" in t else key
            answer = t.get(key)
            plan.refuse(f"{answer.key if answer else 'testimony'}: {exc.message}",
                        (answer.field or "") if answer else "")
            return plan
        plan.testimony = {"witness_name": read["witness_name"], "checked": checked,
                          "witness_contact": read.get("witness_contact"), "interviewer": read.get("interviewer"),
                          "place": read.get("place")}
    if mapping.attachments:
        e = mapping.evidence
        values = {key: answer.read(answers) for key, answer in e.items()}
        try:
            release = parse_scopes(values.get("release") or ",".join(DEFAULT_RELEASE), field="release")
            captured_at = parse_moment(values.get("captured_at"), field="captured_at")
        except InputError as exc:
            answer = e[exc.field]
            plan.refuse(f"{answer.key}: {exc.message}", answer.field or "")
            return plan
        captured_at = captured_at or submission.clear.get("captured_at")
        for attachment in mapping.attachments:
            name = attachment.read(answers)
            if not name:
                continue
            found = export.locate(submission, attachment.field, name)
            if found.path is None:
                plan.refuse(found.reason, attachment.field)
                return plan
            plan.files.append({"path": found.path, "name": found.name or name, "clear": found.clear,
                               "description": values.get("description"), "captured_at": captured_at,
                               "captured_where": values.get("captured_where"), "release": release,
                               "acquired_how": values.get("acquired_how")
                               or f"taken in from {export.tool_name} ({export.path.name}), submission "
                                  f"{submission.submission_id}"})
    if mapping.record:
        entries = (submission.repeats.get(mapping.repeat, []) if mapping.repeat
                   else [(submission.submission_id, {})])
        for record_id, entry in entries:
            cells = [answer.read(entry, answers) or "" for _target, answer in feeds]
            if any(c for c, (_t, a) in zip(cells, feeds, strict=True) if a.field is not None):
                plan.rows.append((record_id, [record_id, *cells]))
    return plan


def take_in(store: Store, keys: VaultKeys | None, export: Export, mapping: IntakeMapping, *, actor: Actor,
            source: str | None = None, incident: str | None = None, progress=None) -> IntakeSummary:
    """Take in what ``export`` holds as ``mapping`` says. See the module's docstring for the rules.

    The audit event "field submissions taken in" names the intake and its counts (never an answer);
    each testimony, evidence item and import it makes is audited and put in custody as its own
    action would be, in the same transaction. An export that holds nothing new is recorded as such.
    """
    started = time.perf_counter()
    if mapping.wants_vault() and keys is None:
        raise DadkhahError("taking in testimonies and evidence needs the workspace's unlocked keys")
    check_fields(export, mapping)
    source_name = validate_source_name(source or mapping.source) if (source or mapping.source) else default_source(export)
    incident = incident or mapping.incident
    columns, feeds, record_mapping = _record_columns(export, mapping)
    total = len(export.submissions)
    quarantine = None
    try:
        with store.session() as session:
            held = _held(session, export)
            seen: dict[str, int] = {}
            plans, rejected, already, changed, notes = [], [], [], [], []
            for number, submission in enumerate(export.submissions, start=1):
                if progress is not None:
                    progress(number, total * 2)
                plan = _Plan(submission)
                if submission.submission_id in held and submission.submission_id not in seen:
                    version, intake_id = held[submission.submission_id]
                    already.append(intake_id)
                    if submission.version_id and version and submission.version_id != version:
                        changed.append({"line": submission.line, "submission": submission.submission_id,
                                        "taken_in": version, "now": submission.version_id, "intake": intake_id})
                    if submission.problem:  # say it, but what was taken in stays what it was
                        notes.append(f"line {submission.line}: submission {submission.submission_id}, taken in by "
                                     f"intake {intake_id}, would now be refused: {submission.problem}")
                    seen[submission.submission_id] = submission.line
                    continue
                if submission.problem:
                    plan.refuse(submission.problem, submission.problem_field)
                elif submission.submission_id in seen:
                    plan.refuse(f"repeats the submission on line {seen[submission.submission_id]}",
                                export.id_column)
                else:
                    plan = _plan(submission, export, mapping, feeds)
                if submission.submission_id and submission.submission_id not in seen:
                    seen[submission.submission_id] = submission.line
                (rejected if plan.reason else plans).append(plan)
            checked = _check_records(session, plans, columns, record_mapping, mapping)
            for plan in [p for p in plans if p.reason]:
                rejected.append(plan)
            plans = [p for p in plans if not p.reason]
            rejected.sort(key=lambda p: p.submission.line)
            warnings = list(export.warnings) + [
                f"line {c['line']}: submission {c['submission']} was edited since intake {c['intake']} took it in "
                f"(version {c['taken_in']}, now {c['now']}); the version taken in is kept" for c in changed] + notes

            if not plans and not rejected:
                record_audit(session, store, actor, action="field submissions taken in", object_kind="intake",
                             object_id=str(max(already)) if already else None,
                             details=_details(export, rows=total, imported=0, already=len(already), rejected=0,
                                              nothing_new=True))
                return IntakeSummary(tool=export.tool, intake_id=max(already) if already else None,
                                     file=export.path.name, file_sha256=export.file_sha256, form_id=export.form_id,
                                     source=None, rows=total, imported=0, already_held=len(already), rejected=0,
                                     changed_since=changed, warnings=warnings, nothing_new=True,
                                     seconds=round(time.perf_counter() - started, 3))

            needs_source = any(p.files or p.rows for p in plans)
            source_row = ensure_source(session, source_name) if needs_source else None
            intake = Intake(tool=export.tool, form_id=export.form_id, file_name=export.path.name,
                            file_sha256=export.file_sha256, source_id=source_row.id if source_row else None,
                            mapping_sha256=mapping.sha256, rows=total, imported=len(plans), already_held=len(already),
                            rejected=len(rejected), taken_by=actor.name, software_version=__version__)
            session.add(intake)
            session.flush()
            # Custody before the audit log, as every action appends them: two writers on PostgreSQL then
            # take the two chains' locks in the same order.
            testimonies, evidence, made, matched = [], [], [], []
            for number, plan in enumerate(plans, start=1):
                if progress is not None:
                    progress(total + number * total // max(len(plans), 1), total * 2)
                testimony, evidence_ids = _write(session, store, keys, actor, plan, source_row)
                testimony_id = testimony["id"] if testimony else None
                testimonies += [testimony_id] if testimony_id else []
                if testimony and testimony["name_matched"]:
                    matched.append({"line": plan.submission.line, "submission": plan.submission.submission_id or None,
                                    "testimony": testimony_id, "witness": testimony["name_matched"],
                                    "earlier_testimonies": testimony["earlier_testimonies"],
                                    "contact": testimony["contact"]})
                    warnings.append(f"line {plan.submission.line}: {witness_match_warning(testimony)}")
                evidence += evidence_ids
                made.append((plan, testimony_id, evidence_ids))
            imported_records = _import_records(session, store, actor, export, plans, checked, source_name, incident,
                                               intake)
            for plan, testimony_id, evidence_ids in made:
                s = plan.submission
                session.add(IntakeSubmission(intake_id=intake.id, tool=export.tool, submission_id=s.submission_id,
                                             version_id=s.version_id, submitted_at=s.submitted_at, line=s.line,
                                             testimony_id=testimony_id, evidence_ids=evidence_ids,
                                             record_ids=[record_id for record_id, _cells in plan.rows]))
            if rejected:
                quarantine = _quarantine(store, export, mapping, rejected, source_name)
                intake.quarantine_path = quarantine.close(intake.id, kind="intake")
            intake.import_id = imported_records.import_id if imported_records else None
            intake.finished_at = utcnow()
            session.flush()
            record_audit(session, store, actor, action="field submissions taken in", object_kind="intake",
                         object_id=str(intake.id),
                         details=_details(export, rows=total, imported=len(plans), already=len(already),
                                          rejected=len(rejected), nothing_new=False) | {
                             "intake_id": intake.id, "source": source_row.name if source_row else None,
                             "testimonies": testimonies, "evidence": first_seen(evidence),
                             "matched_witnesses": [{k: m[k] for k in ("testimony", "witness", "contact")}
                                                   for m in matched],
                             "import_id": intake.import_id,
                             "records": imported_records.imported if imported_records else 0})
            summary = IntakeSummary(
                tool=export.tool, intake_id=intake.id, file=export.path.name, file_sha256=export.file_sha256,
                form_id=export.form_id, source=source_row.name if source_row else None, rows=total,
                imported=len(plans), already_held=len(already), rejected=len(rejected), testimonies=testimonies,
                matched_witnesses=matched,
                evidence=first_seen(evidence), records=imported_records.imported if imported_records else 0,
                import_id=intake.import_id, quarantine=intake.quarantine_path,
                record_warnings=imported_records.warnings if imported_records else [],
                rejections=[{"line": p.submission.line, "submission": p.submission.submission_id or None,
                             "reason": p.reason, "field": p.field or None} for p in rejected],
                changed_since=changed, warnings=warnings)
        if quarantine is not None:
            quarantine.committed()
        summary.seconds = round(time.perf_counter() - started, 3)
        return summary
    except sa.exc.IntegrityError as exc:
        if quarantine is not None:
            quarantine.discard()
        raise DadkhahError("another intake took in some of these submissions meanwhile; nothing of this one was "
                           "written: run it again") from exc
    except BaseException:
        if quarantine is not None:
            quarantine.discard()
        raise


def _held(session: Session, export: Export) -> dict[str, tuple[str | None, int]]:
    """The submissions of this export taken in before: id -> (version taken in, intake)."""
    ids = [s.submission_id for s in export.submissions if s.submission_id]
    found = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start:start + 500]
        for submission_id, version, intake_id in session.execute(
                sa.select(IntakeSubmission.submission_id, IntakeSubmission.version_id, IntakeSubmission.intake_id)
                .where(IntakeSubmission.tool == export.tool, IntakeSubmission.submission_id.in_(chunk))):
            found[submission_id] = (version, intake_id)
    return found


def _check_records(session: Session, plans: list[_Plan], columns: list[str], record_mapping: Mapping,
                   mapping: IntakeMapping):
    """Normalise every victim row as an import would; a submission with a row the importer would refuse
    is refused whole. Returns the accepted rows by record id, with the import's plan."""
    rows = [(record_id, cells) for p in plans for record_id, cells in p.rows]
    if not rows:
        return None
    plan, checked = check_rows(session, columns, [(line, cells) for line, (_id, cells) in enumerate(rows, start=2)],
                               mapping=record_mapping, file=mapping.path)
    outcome = dict(zip([record_id for record_id, _cells in rows], checked, strict=True))
    for p in plans:
        for record_id, _cells in p.rows:
            row = outcome[record_id]
            if row.reason:
                what = "the victim" if not mapping.repeat else f"the victim {record_id}"
                p.refuse(f"{what}: {row.reason}", row.field or "")
                break
    return plan, outcome


def _import_records(session, store, actor, export: Export, plans: list[_Plan], checked, source: str,
                    incident: str | None, intake: Intake):
    """The accepted submissions' victims, as one import of the source (lines renumbered from 2)."""
    if checked is None:
        return None
    plan, outcome = checked
    rows = [outcome[record_id] for p in plans for record_id, _cells in p.rows]
    if not rows:
        return None
    for line, row in enumerate(rows, start=2):
        row.line = line
        row.values["line"] = line
    # An import is known by its file; this one by the export and the submissions it took from it.
    taken = "\n".join([export.file_sha256, *(p.submission.submission_id for p in plans)]).encode("utf-8")
    return import_rows_in(session, store, actor, rows, plan=plan, source=source, incident=incident,
                          file_name=f"{export.path.name} (intake {intake.id})",
                          file_sha256=hashlib.sha256(taken).hexdigest(), file_size=export.file_size,
                          format=export.tool)


def _write(session: Session, store: Store, keys: VaultKeys | None, actor: Actor, plan: _Plan, source_row):
    """One accepted submission's testimony and evidence, in the intake's transaction."""
    s = plan.submission
    clear = {k: v for k, v in s.clear.items() if v not in (None, "")}
    testimony = None
    if plan.testimony:
        t = plan.testimony
        testimony = add_testimony_in(session, store, keys, actor=actor, witness_name=t["witness_name"],
                                     checked=t["checked"], witness_contact=t["witness_contact"],
                                     interviewer=t["interviewer"], place=t["place"], custody={"intake": clear})
    evidence_ids = []
    for item in plan.files:
        path: Path = item["path"]
        added = add_evidence_in(
            session, store, keys, [path], actor=actor, source=source_row.name if source_row else None,
            description=item["description"], captured_at=item["captured_at"], captured_where=item["captured_where"],
            acquired_how=item["acquired_how"], release=item["release"],
            custody={"intake": clear | item["clear"] | ({"sealed": sorted(s.sealed)} if s.sealed else {})},
            sealed_metadata={"intake": s.sealed} if s.sealed else None, names={path.name: item["name"]})
        evidence_ids.append(added[0]["id"])
    return testimony, evidence_ids


def _quarantine(store: Store, export: Export, mapping: IntakeMapping, rejected: list[_Plan], source: str) -> Quarantine:
    """The refused submissions, with their reasons and the answers the mapping reads, but never a sealed one."""
    sealed = mapping.sealed_fields()
    shown = export.report_fields or first_seen(a.field for a in mapping.answers_used()
                                               if not a.key.startswith("record.") or not mapping.repeat)
    header = ["submission", "submitted_at", *shown]
    report = Quarantine(store.workspace.quarantine_dir, source=source, header=header)
    for plan in rejected:
        s = plan.submission
        cells = [s.submission_id, s.submitted_at or "",
                 *(WITHHELD if f in sealed and s.answers.get(f) else s.answers.get(f, "") for f in shown)]
        report.add(s.line, plan.reason, cells, field=plan.field)
    return report


def _details(export: Export, *, rows: int, imported: int, already: int, rejected: int, nothing_new: bool) -> dict:
    return {"tool": export.tool, "form": export.form_id, "file_sha256": export.file_sha256, "rows": rows,
            "imported": imported, "already_held": already, "rejected": rejected, "nothing_new": nothing_new}
