"""Estimating from the registry: capture histories of linked persons, overall and by stratum.

A person's capture history says which sources name them. Strata (city, province, month of death,
gender) use each person's most common value among its records; people whose value is unknown form
a stratum of their own. Within a stratum, a list that names nobody there is left out: it was not
looking there, and counting it as a list that missed everyone would bias the estimate.

Because linkage errors move estimates (a missed link adds a person seen by one list; a false link
removes one seen by two), the same estimate can be redone at other linkage thresholds from the
pairs the linkage run kept, and the spread is reported.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping

import numpy as np
import sqlalchemy as sa
from sqlalchemy.orm import Session

from dadkhah.audit import Actor, record_audit
from dadkhah.errors import InputError
from dadkhah.estimate.core import CaptureTable, EstimateResult, EstimationError
from dadkhah.link.review import latest_run
from dadkhah.link.run import recluster
from dadkhah.model import Estimate, Person, PersonRecord, Place, Record, Source
from dadkhah.store import Store

STRATA = ("city", "province", "month", "gender")
RecordKey = tuple[int, str]


def _record_attributes(session: Session) -> dict[RecordKey, tuple]:
    """(city, province, month of death, gender) of every current record, by its lasting key."""
    province = dict(session.execute(sa.select(Place.id, Place.province_now)).all())
    rows = session.execute(
        sa.select(Record.source_id, Record.record_id, Record.city_place_id, Record.death_earliest, Record.death_latest,
                  Record.gender_norm).where(Record.superseded_by.is_(None))
    )
    attributes = {}
    for source_id, record_id, city, earliest, latest, gender in rows:
        month = earliest.strftime("%Y-%m") if earliest and latest and (latest - earliest).days <= 31 else None
        attributes[(source_id, record_id)] = (city, province.get(city) if city else None, month, gender)
    return attributes


def _most_common(values: Iterable) -> str:
    counted = Counter(v for v in values if v)
    if not counted:
        return "unknown"
    best = max(counted.values())
    return min(v for v, n in counted.items() if n == best)  # ties: the same answer every time


def clusters_from_registry(session: Session) -> dict[int, list[RecordKey]]:
    """Current persons and the records each holds."""
    clusters: dict[int, list[RecordKey]] = defaultdict(list)
    query = (sa.select(PersonRecord.person_pk, PersonRecord.source_id, PersonRecord.record_id)
             .join(Person, Person.id == PersonRecord.person_pk).where(Person.status == "active"))
    for person_pk, source_id, record_id in session.execute(query):
        clusters[person_pk].append((source_id, record_id))
    return clusters


def capture_tables(session: Session, clusters: Mapping, by: str | None) -> tuple[CaptureTable, dict[str, CaptureTable | int]]:
    """The overall capture table and, with ``by``, one table per stratum (lists absent there left out).

    A stratum where fewer than two lists name anyone cannot be estimated; it maps to its number of
    persons instead of a table.
    """
    if by is not None and by not in STRATA:
        raise InputError(f"stratify by one of {', '.join(STRATA)} (or nothing), not {by!r}", field="by")
    names = dict(session.execute(sa.select(Source.id, Source.name)).all())
    attributes = _record_attributes(session) if by else {}
    position = STRATA.index(by) if by else 0
    sources = sorted({source for keys in clusters.values() for source, _ in keys}, key=lambda s: names[s])
    column = {source: i for i, source in enumerate(sources)}
    overall: Counter = Counter()
    by_stratum: dict[str, Counter] = defaultdict(Counter)
    for keys in clusters.values():
        pattern = [0] * len(sources)
        for source, _ in keys:
            pattern[column[source]] = 1
        overall[tuple(pattern)] += 1
        if by:
            stratum = _most_common(attributes.get(key, (None,) * 4)[position] for key in keys)
            by_stratum[stratum][tuple(pattern)] += 1
    lists = tuple(names[s] for s in sources)
    if len(lists) < 2:
        raise EstimationError("the registry holds fewer than two sources: estimation needs at least two lists")
    table = CaptureTable.from_patterns(lists, list(overall), list(overall.values()))
    strata = {}
    for stratum, counts in sorted(by_stratum.items()):
        patterns = np.array(list(counts))
        present = patterns.sum(axis=0) > 0
        kept = tuple(name for name, keep in zip(lists, present, strict=True) if keep)
        if len(kept) < 2:
            strata[stratum] = sum(counts.values())
            continue
        sub = patterns[:, present]
        strata[stratum] = CaptureTable.from_patterns(kept, sub, list(counts.values()))
    return table, strata


def stratum_names(session: Session, by: str | None) -> dict[str, str]:
    if by in ("city", "province"):
        return dict(session.execute(sa.select(Place.id, Place.name_en)).all())
    return {}


def _store_estimate(session: Session, store: Store, actor: Actor, result: EstimateResult, *, source: str,
                    input_name: str | None = None, linkage_run_id: int | None = None, by: str | None = None,
                    strata: list | None = None, sensitivity: list | None = None, thresholds=()) -> int:
    """Store an estimate with its parameters, input digest and software versions, and the audit
    event "estimate run", in the caller's transaction; returns its id."""
    row = Estimate(
        source=source, input_name=input_name, linkage_run_id=linkage_run_id, stratified_by=by, method=result.method,
        model=result.model, parameters=_jsonable(result.parameters), input_sha256=result.input_sha256,
        observed=result.observed, estimate=result.estimate, interval_low=result.interval[0],
        interval_high=result.interval[1], level=result.level, diagnostics=_jsonable(result.diagnostics),
        strata=strata, sensitivity=sensitivity, warnings=list(result.warnings), software=result.software,
        created_by=actor.name,
    )
    session.add(row)
    session.flush()
    record_audit(session, store, actor, action="estimate run", object_kind="estimate", object_id=str(row.id),
                 details={"estimate_id": row.id, "source": source, "method": result.method, "by": by,
                          "thresholds": list(thresholds), "parameters": _jsonable(result.parameters),
                          "observed": result.observed, "estimate": result.estimate,
                          "interval": [result.interval[0], result.interval[1]]})
    return row.id


def record_table_estimate(store: Store, result: EstimateResult, *, actor: Actor, input_name: str) -> int:
    """Keep an estimate made from a capture-table file, with its audit event; returns its id."""
    with store.session() as session:
        return _store_estimate(session, store, actor, result, source="table", input_name=input_name)


def _jsonable(value):
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating,)):
        return float(value)
    return value


def run_registry_estimate(store: Store, *, actor: Actor, method: str, by: str | None = None,
                          thresholds: Iterable[float] = (), progress=None, **params) -> dict:
    """Estimate the total from the linked registry with ``method`` and store it, with its audit event.

    ``params`` are the method's settings by their field names (``seed``, ``level``, ``iterations``,
    ...; see :func:`dadkhah.estimate.method_parameters`); those the method does not take are ignored.
    ``method="auto"`` chooses for each table estimated, the whole registry's and each stratum's,
    from its own number of lists (a stratum leaves out the lists that name nobody there).
    """
    from dadkhah.estimate import estimate_table, method_parameters

    if by is not None and by not in STRATA:
        raise InputError(f"stratify by one of {', '.join(STRATA)} (or nothing), not {by!r}", field="by")
    parameters = method_parameters(method, **params)
    return estimate_registry(store, actor=actor, estimate=lambda table: estimate_table(table, method, **parameters),
                             by=by, thresholds=thresholds, progress=progress)


def estimate_registry(store: Store, *, actor: Actor, estimate, by: str | None = None,
                      thresholds: Iterable[float] = (), progress=None) -> dict:
    """Estimate from the linked persons, overall and by stratum; optionally under other linkage
    thresholds; store the result with the audit event "estimate run" (a failed run records nothing).

    ``estimate`` is a function from a CaptureTable to an EstimateResult (a configured method);
    ``progress(done, total)`` is told of each estimate made.
    """
    thresholds = list(thresholds)
    report = progress or (lambda done, total: None)
    with store.session() as session:
        run = latest_run(session)
        if run is None:
            raise EstimationError("there are no persons yet: run `dadkhah link run` first")
        for threshold in thresholds:
            # Pairs below the review band's floor were not kept: a lower threshold cannot be redone.
            if not run.review_low <= threshold < 1:
                raise InputError(f"linkage threshold {threshold} is outside what run {run.id} kept: "
                                 f"use values from {run.review_low} up to (not including) 1", field="linkage_thresholds")
        clusters = clusters_from_registry(session)
        table, strata_tables = capture_tables(session, clusters, by)
        labels = stratum_names(session, by)
    steps = 1 + len(strata_tables) + len(thresholds)
    report(0, steps)
    result = estimate(table)
    report(1, steps)
    strata = []
    for stratum, sub in strata_tables.items():
        entry = {"stratum": stratum, "name": labels.get(stratum, stratum)}
        if not isinstance(sub, CaptureTable):
            entry |= {"observed": sub, "estimate": None, "interval": None, "lists": [],
                      "warnings": ["fewer than two lists name anyone here: not estimable"]}
        else:
            try:
                part = estimate(sub)
                entry |= {"observed": part.observed, "estimate": part.estimate, "interval": list(part.interval),
                          "lists": list(part.lists), "method": part.method, "model": part.model,
                          "warnings": list(part.warnings),
                          **({"chosen_because": part.chosen_because} if part.chosen_because else {}),
                          "diagnostics": {k: v for k, v in part.diagnostics.items() if k in ("rhat", "ess_bulk", "modes", "classes_in_use")}}
            except EstimationError as exc:
                entry |= {"observed": sub.observed, "estimate": None, "interval": None, "lists": list(sub.lists), "warnings": [str(exc)]}
        strata.append(entry)
        report(1 + len(strata), steps)
    sensitivity = []
    for threshold in thresholds:
        regrouped: dict[int, list] = defaultdict(list)
        for key, label in recluster(store, run.id, threshold).items():
            regrouped[label].append(key)
        with store.session() as session:
            other, _ = capture_tables(session, regrouped, None)
        alt = estimate(other)
        sensitivity.append({"threshold": threshold, "persons": other.observed, "estimate": alt.estimate,
                            "interval": list(alt.interval)})
        report(1 + len(strata) + len(sensitivity), steps)
    with store.session() as session:
        estimate_id = _store_estimate(session, store, actor, result, source="registry", linkage_run_id=run.id, by=by,
                                      strata=_jsonable(strata) or None, sensitivity=sensitivity or None,
                                      thresholds=thresholds)
    document = result.to_dict() | {"id": estimate_id, "linkage_run_id": run.id, "by": by, "strata": _jsonable(strata)}
    estimable = [s for s in strata if s.get("estimate") is not None]
    if strata:
        # Strata that cannot be estimated still hold people: they are added as counted, a floor.
        unestimated = sum(s["observed"] for s in strata if s.get("estimate") is None)
        document["strata_total"] = {"estimate": sum(s["estimate"] for s in estimable) + unestimated,
                                    "observed": sum(s["observed"] for s in strata),
                                    "observed_in_unestimated_strata": unestimated,
                                    "strata_estimated": len(estimable), "strata": len(strata)}
    if sensitivity:
        estimates = [s["estimate"] for s in sensitivity]
        document["linkage_sensitivity"] = {"runs": sensitivity, "spread": max(estimates) - min(estimates),
                                           "lowest": min(estimates), "highest": max(estimates)}
    return document
