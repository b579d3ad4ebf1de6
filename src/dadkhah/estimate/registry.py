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

import dataclasses
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping

import numpy as np
import sqlalchemy as sa
from sqlalchemy.orm import Session

from dadkhah.audit import Actor, record_audit
from dadkhah.errors import InputError
from dadkhah.estimate.core import CaptureTable, EstimateResult, EstimationError
from dadkhah.estimate.stored import sums
from dadkhah.link.review import latest_run
from dadkhah.link.run import kept_floor, kept_pairs, recluster, sample_clusterings
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
        # A month only when the date falls in one Gregorian month: "Mordad 1367" (23 July to 22 August)
        # would otherwise count in July although most of it is August; such a date gives no month.
        month = (earliest.strftime("%Y-%m") if earliest and latest and (earliest.year, earliest.month)
                 == (latest.year, latest.month) else None)
        attributes[(source_id, record_id)] = (city, province.get(city) if city else None, month, gender)
    return attributes


def clusters_from_registry(session: Session) -> dict[int, list[RecordKey]]:
    """Current persons and the records each holds, in a fixed order (by person, then record): the
    draws of missing strata go person by person, so the same seed must meet the persons in the
    same order, whatever order the database returns its rows in."""
    clusters: dict[int, list[RecordKey]] = defaultdict(list)
    query = (sa.select(PersonRecord.person_pk, PersonRecord.source_id, PersonRecord.record_id)
             .join(Person, Person.id == PersonRecord.person_pk).where(Person.status == "active")
             .order_by(PersonRecord.person_pk, PersonRecord.source_id, PersonRecord.record_id))
    for person_pk, source_id, record_id in session.execute(query):
        clusters[person_pk].append((source_id, record_id))
    return clusters


# How much the observed distribution of the person's own lists weighs, against what is seen among
# people with exactly the same lists, when a missing stratum is drawn: as much as ten such persons.
PRIOR_WEIGHT = 10.0
DEFAULT_REPLICATES = 10


@dataclasses.dataclass(frozen=True)
class People:
    """The persons an estimate counts, as arrays: each person's capture pattern and, with a stratum,
    what the person's records say of it.

    ``rows`` are the distinct capture patterns in lexicographic order and ``pattern_of`` the row of
    each person; ``counts`` how many persons have each. A stratum's values are ``names`` (sorted; a
    value's code is its place there) and ``stated``: one row (person, code, records saying it) per
    value a person's records give, sorted by person, then code. Built once per replicate for
    :func:`impute_strata`: at 95,000 persons, a Counter per person took most of a replicate's time.
    """

    rows: np.ndarray
    pattern_of: np.ndarray
    counts: np.ndarray
    names: tuple[str, ...] = ()
    stated: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros((0, 3), dtype=np.int64))

    @classmethod
    def of(cls, patterns: np.ndarray, said: Iterable[Iterable[tuple[str, int]]] | None = None) -> People:
        """From a persons × lists 0/1 array and, per person, (value, records saying it) pairs."""
        patterns = np.asarray(patterns, dtype=np.int8)
        rows, pattern_of, counts = _distinct_patterns(patterns)
        if said is None:
            return cls(rows, pattern_of, counts)
        persons, values, records = [], [], []
        for person, pairs in enumerate(said):
            for value, n in pairs:
                persons.append(person)
                values.append(value)
                records.append(n)
        return cls(rows, pattern_of, counts, *_stated(persons, values, records))

    def pattern(self, row: int) -> tuple[int, ...]:
        return tuple(self.rows[row].tolist())

    def tally(self, into: dict[str, Counter], persons: np.ndarray, labels: np.ndarray, names) -> None:
        """Count ``persons`` by (label, capture pattern) into ``into[names[label]]``; within a label,
        patterns in the order their first person comes (the order the tables' rows, and so the
        samplers' draws, follow)."""
        if persons.size == 0:
            return
        key = labels.astype(np.int64) * len(self.rows) + self.pattern_of[persons]
        keys, first, n = np.unique(key, return_index=True, return_counts=True)
        for i in np.argsort(first, kind="stable"):
            label, row = divmod(int(keys[i]), len(self.rows))
            into[names[label]][self.pattern(row)] += int(n[i])


def _distinct_patterns(patterns: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The distinct rows of a 0/1 array in lexicographic order, each row's place among them, and
    how many rows have each (``np.unique(axis=0)``, ten times quicker through one integer per row)."""
    lists = patterns.shape[1]
    if lists > 62:
        return np.unique(patterns, axis=0, return_inverse=True, return_counts=True)
    bits = np.arange(lists - 1, -1, -1, dtype=np.int64)
    packed = patterns.astype(np.int64) @ (np.int64(1) << bits)
    unique, inverse, counts = np.unique(packed, return_inverse=True, return_counts=True)
    rows = ((unique[:, None] >> bits) & 1).astype(np.int8)
    return rows, inverse.reshape(-1), counts


def _stated(persons: Iterable[int], values: list[str], records: list[int]) -> tuple[tuple[str, ...], np.ndarray]:
    """(names, stated) from one entry per (person, value) or per record saying it (``records`` 1)."""
    names = tuple(sorted(set(values)))
    if not names:
        return (), np.zeros((0, 3), dtype=np.int64)
    code = {name: i for i, name in enumerate(names)}
    key = np.asarray(persons, dtype=np.int64) * len(names) + np.fromiter((code[v] for v in values), np.int64, len(values))
    weights = np.asarray(records, dtype=np.int64)
    unique, inverse = np.unique(key, return_inverse=True)
    n = np.bincount(inverse.reshape(-1), weights=weights, minlength=len(unique)).astype(np.int64)
    return names, np.column_stack([unique // len(names), unique % len(names), n])


@dataclasses.dataclass(frozen=True)
class Membership:
    """Which person each record belongs to: ``keys[i]`` to person ``person[i]``, the persons numbered
    from 0 in the order they come (the order the drawing of missing strata follows)."""

    keys: list[RecordKey]
    person: np.ndarray
    persons: int

    @classmethod
    def of(cls, clusters: Mapping) -> Membership:
        """From person -> its records."""
        keys = [key for members in clusters.values() for key in members]
        sizes = np.fromiter((len(members) for members in clusters.values()), np.int64, len(clusters))
        return cls(keys, np.repeat(np.arange(len(clusters), dtype=np.int64), sizes), len(clusters))

    @classmethod
    def drawn(cls, partition: Mapping, unseen: Mapping) -> Membership:
        """A drawn clustering (record -> an integer label) as persons in the order their labels first
        come, then the records the run did not see, each with today's person (:func:`_unseen_by_run`)."""
        keys = list(partition)
        labels = np.fromiter(partition.values(), np.int64, len(partition))
        _, first, inverse = np.unique(labels, return_index=True, return_inverse=True)
        rank = np.empty(len(first), dtype=np.int64)
        rank[np.argsort(first, kind="stable")] = np.arange(len(first))
        person = [rank[inverse.reshape(-1)]]
        for number, members in enumerate(unseen.values(), start=len(first)):
            keys.extend(members)
            person.append(np.full(len(members), number, dtype=np.int64))
        return cls(keys, np.concatenate(person), len(first) + len(unseen))


def _people(members: Membership, column: Mapping, attributes: Mapping, position: int | None) -> People:
    """The persons of a clustering: each one's capture pattern and, with a stratum (``position`` in
    :func:`_record_attributes`), the values its records give."""
    columns = np.fromiter((column[source] for source, _ in members.keys), np.int64, len(members.keys))
    patterns = np.zeros((members.persons, len(column)), dtype=np.int8)
    patterns[members.person, columns] = 1
    rows, pattern_of, counts = _distinct_patterns(patterns)
    if position is None:
        return People(rows, pattern_of, counts)
    values = [attributes.get(key, _NOTHING)[position] for key in members.keys]
    said = [i for i, value in enumerate(values) if value]
    return People(rows, pattern_of, counts, *_stated(members.person[said], [values[i] for i in said], [1] * len(said)))


_NOTHING = (None,) * len(STRATA)


def _groups(stated: np.ndarray) -> list[np.ndarray]:
    """The rows of ``stated`` person by person (it is sorted by person)."""
    starts = np.flatnonzero(np.diff(stated[:, 0], prepend=-1))
    return np.split(np.arange(len(stated)), starts[1:])


def most_common_strata(people: People) -> np.ndarray:
    """Each person's most common value (a code; ties: the first in sorted order, the same answer
    every time), -1 when its records give none."""
    best = np.full(len(people.pattern_of), -1, dtype=np.int64)
    stated = people.stated
    if len(stated):
        order = np.lexsort((stated[:, 1], -stated[:, 2], stated[:, 0]))
        ranked = stated[order]
        first = np.flatnonzero(np.diff(ranked[:, 0], prepend=-1))
        best[ranked[first, 0]] = ranked[first, 1]
    return best


def impute_strata(people: People, rng: np.random.Generator) -> tuple[dict[str, Counter], int]:
    """One completed draw of every person's stratum: counts by stratum and capture pattern, and how
    many persons had none and were given one.

    - A person whose records agree keeps that value.
    - A person whose records disagree gets one of them, in proportion to how many records say it.
    - A person whose records say nothing gets a value drawn from what is seen among people named by
      exactly the same lists (people seen by one list lose their city more often than people seen by
      four, so this matters), pulled towards what the person's own lists record overall
      (:data:`PRIOR_WEIGHT`). The proportions themselves are drawn (Dirichlet) before the values, so
      that the replicates also carry the uncertainty of those proportions ("proper" imputation).
    If no person at all has a value, everyone stays "unknown".
    """
    persons = len(people.pattern_of)
    stated = people.stated
    known = np.full(persons, -1, dtype=np.int64)
    distinct = np.bincount(stated[:, 0], minlength=persons)
    single = distinct[stated[:, 0]] == 1
    known[stated[single, 0]] = stated[single, 1]
    disagreeing = stated[~single]
    for group in (_groups(disagreeing) if len(disagreeing) else []):
        options, records = disagreeing[group, 1], disagreeing[group, 2].astype(float)
        known[disagreeing[group[0], 0]] = options[rng.choice(len(options), p=records / records.sum())]
    by_stratum: dict[str, Counter] = defaultdict(Counter)
    placed = np.flatnonzero(known >= 0)
    missing = np.flatnonzero(known < 0)
    people.tally(by_stratum, placed, known[placed], people.names)
    if missing.size == 0:
        return by_stratum, 0
    if placed.size == 0:
        people.tally(by_stratum, missing, np.zeros(missing.size, dtype=np.int64), ("unknown",))
        return by_stratum, 0
    strata = np.unique(known[placed])  # codes, so in the values' sorted order
    by_pattern = np.zeros((len(people.rows), len(strata)))
    np.add.at(by_pattern, (people.pattern_of[placed], np.searchsorted(strata, known[placed])), 1)
    by_list = people.rows.T.astype(float) @ by_pattern
    overall = by_list.sum(axis=0)
    wanted, how_many = np.unique(people.pattern_of[missing], return_counts=True)  # lexicographic order
    for row, count in zip(wanted.tolist(), how_many.tolist(), strict=True):
        base = by_list[people.rows[row].astype(bool)].sum(axis=0)
        base = base if base.sum() > 0 else overall
        alpha = by_pattern[row] + PRIOR_WEIGHT * base / base.sum()
        support = np.flatnonzero(alpha > 0)
        shares = rng.dirichlet(alpha[support])
        pattern = people.pattern(row)
        for s, drawn in zip(support, rng.multinomial(count, shares), strict=True):
            if drawn:
                by_stratum[people.names[strata[s]]][pattern] += int(drawn)
    return by_stratum, len(missing)


def capture_tables(session: Session, clusters: Mapping, by: str | None, *,
                   rng: np.random.Generator | None = None) -> tuple[CaptureTable, dict[str, CaptureTable | int]]:
    """The overall capture table and, with ``by``, one table per stratum (lists absent there left out).

    Without ``rng``, a person's stratum is the most common value among its records, and people with
    none form an "unknown" stratum. With ``rng``, missing and conflicting values are drawn once
    (:func:`impute_strata`): one replicate of a multiple imputation.

    A stratum where fewer than two lists name anyone cannot be estimated; it maps to its number of
    persons instead of a table.
    """
    return _tables(session, clusters, by, rng=rng)[:2]


def _tables(session: Session, clusters: Mapping | Membership, by: str | None, *, rng: np.random.Generator | None = None,
            attributes: Mapping | None = None):
    """``clusters``: person -> its records, or a :class:`Membership`. ``attributes``:
    :func:`_record_attributes`, when the caller read them already (read here if not)."""
    if by is not None and by not in STRATA:
        raise InputError(f"stratify by one of {', '.join(STRATA)} (or nothing), not {by!r}", field="by")
    names = dict(session.execute(sa.select(Source.id, Source.name)).all())
    if attributes is None:
        attributes = _record_attributes(session) if by else {}
    members = clusters if isinstance(clusters, Membership) else Membership.of(clusters)
    sources = sorted({source for source, _ in members.keys}, key=lambda s: names[s])
    column = {source: i for i, source in enumerate(sources)}
    lists = tuple(names[s] for s in sources)
    if len(lists) < 2:
        raise EstimationError("the registry holds fewer than two sources: estimation needs at least two lists")
    people = _people(members, column, attributes, STRATA.index(by) if by else None)
    table = CaptureTable.from_patterns(lists, people.rows, people.counts)
    imputed = 0
    by_stratum: dict[str, Counter] = defaultdict(Counter)
    if by and rng is not None:
        by_stratum, imputed = impute_strata(people, rng)
    elif by:
        best = most_common_strata(people)
        people.tally(by_stratum, np.arange(len(best)), np.where(best < 0, len(people.names), best),
                     (*people.names, "unknown"))
    strata = {}
    for stratum, counted in sorted(by_stratum.items()):
        rows = np.array(list(counted))
        present = rows.sum(axis=0) > 0
        kept = tuple(name for name, keep in zip(lists, present, strict=True) if keep)
        if len(kept) < 2:
            strata[stratum] = sum(counted.values())
            continue
        strata[stratum] = CaptureTable.from_patterns(kept, rows[:, present], list(counted.values()))
    return table, strata, imputed


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
                          thresholds: Iterable[float] = (), progress=None, replicates: int = DEFAULT_REPLICATES,
                          linkage_uncertainty: bool | None = None, keep_unknown: bool = False, **params) -> dict:
    """Estimate the total from the linked registry with ``method`` and store it, with its audit event.

    ``params`` are the method's settings by their field names (``seed``, ``level``, ``iterations``,
    ...; see :func:`dadkhah.estimate.method_parameters`); those the method does not take are ignored.
    ``method="auto"`` chooses for each table estimated, the whole registry's and each stratum's,
    from its own number of lists (a stratum leaves out the lists that name nobody there).
    See :func:`estimate_registry` for ``replicates``, ``linkage_uncertainty`` and ``keep_unknown``;
    each replicate runs ``1/replicates`` of the sweeps asked for (after its own burn-in), so that the
    draws of all replicates together number as many as one run's.
    """
    from dadkhah.estimate import estimate_table, method_parameters

    if by is not None and by not in STRATA:
        raise InputError(f"stratify by one of {', '.join(STRATA)} (or nothing), not {by!r}", field="by")
    parameters = method_parameters(method, **params)
    seed = params.get("seed")

    def replicate(table: CaptureTable, r: int) -> EstimateResult:
        return estimate_table(table, method, **_replicate_parameters(method, parameters, replicates, r))

    return estimate_registry(store, actor=actor, estimate=lambda table: estimate_table(table, method, **parameters),
                             by=by, thresholds=thresholds, progress=progress, replicate_estimate=replicate,
                             replicates=replicates, linkage_uncertainty=linkage_uncertainty,
                             keep_unknown=keep_unknown, seed=seed, asked=parameters)


def _replicate_parameters(method: str, parameters: dict, replicates: int, r: int) -> dict:
    """A replicate's settings: its own seed, and its share of the MCMC sweeps or bootstrap resamples."""
    from dadkhah.estimate.lcmcr import LCMCR
    from dadkhah.estimate.loglinear import LogLinear

    given = dict(parameters)
    seed_key = "seed" if method == "auto" else "random_state"
    if given.get(seed_key) is not None:
        given[seed_key] = int(given[seed_key]) + 1 + r
    if method in ("auto", "lcmcr"):
        defaults = LCMCR()
        thin = given.get("thin", defaults.thin)
        asked = given.get("iterations", defaults.iterations)
        if thin < 1 or asked < thin:  # refused as the estimator refuses it, before a replicate is shared out
            raise InputError(f"must be at least thin ({thin}), and thin at least 1, not {asked}", field="iterations")
        given["iterations"] = max(asked // replicates, 20 * thin)
    if method == "loglinear" and given.get("interval") in ("bootstrap", "bca"):
        given["n_bootstrap"] = max(LogLinear().n_bootstrap // replicates, 100)
    return given


def estimate_registry(store: Store, *, actor: Actor, estimate, by: str | None = None,
                      thresholds: Iterable[float] = (), progress=None, replicate_estimate=None,
                      replicates: int = DEFAULT_REPLICATES, linkage_uncertainty: bool | None = None,
                      keep_unknown: bool = False, seed: int | None = None, asked: dict | None = None) -> dict:
    """Estimate from the linked persons, overall and by stratum; optionally under other linkage
    thresholds; store the result with the audit event "estimate run" (a failed run records nothing).

    ``estimate`` is a function from a CaptureTable to an EstimateResult (a configured method);
    ``progress(done, total)`` is told of each estimate made.

    Two kinds of uncertainty the lists themselves do not show are carried into the interval by
    estimating on ``replicates`` versions of the data and combining them
    (:func:`dadkhah.estimate.combine.combine`):

    - ``linkage_uncertainty`` (on by default when the linkage run kept its scored pairs): each
      replicate's persons are a clustering drawn from the run's pair probabilities
      (:func:`dadkhah.link.run.sample_clusterings`);
    - with ``by``, missing strata: each replicate draws a stratum for each person whose records do
      not give one (:func:`impute_strata`), so no "unknown" stratum is left; ``keep_unknown`` keeps
      the old way (an "unknown" stratum, no drawing).

    ``replicate_estimate(table, r)`` estimates one replicate's table (default: ``estimate``);
    ``seed`` makes the drawing repeatable (one is chosen and stored when not given). ``asked`` are
    the method's parameters as asked for: they are stored with the result (each replicate's own seed
    and share of the sweeps follow from them), not replicate 0's.
    """
    thresholds = list(thresholds)
    report = progress or (lambda done, total: None)
    replicate_estimate = replicate_estimate or (lambda table, r: estimate(table))
    with store.session() as session:
        run = latest_run(session)
        if run is None:
            raise EstimationError("there are no persons yet: run `dadkhah link run` first")
        floor = kept_floor(run)
        for threshold in thresholds:
            # Pairs below the kept floor were not kept: a lower threshold cannot be redone.
            if not floor <= threshold < 1:
                raise InputError(f"linkage threshold {threshold} is outside what run {run.id} kept: "
                                 f"use values from {floor} up to (not including) 1", field="linkage_thresholds")
        clusters = clusters_from_registry(session)
        attributes = _record_attributes(session) if by else {}  # once: each replicate's tables use them
        table, strata_tables, _ = _tables(session, clusters, by, attributes=attributes)
        labels = stratum_names(session, by)
    has_pairs = kept_pairs(store, run.id)
    if linkage_uncertainty and not has_pairs:
        raise InputError(f"linkage run {run.id} kept no scored pairs, so linkage uncertainty cannot be drawn from "
                         "it: run `dadkhah link run` again, or estimate without linkage uncertainty",
                         field="linkage_uncertainty")
    linkage = has_pairs if linkage_uncertainty is None else linkage_uncertainty
    impute = by is not None and not keep_unknown
    if (linkage or impute) and replicates < 2:
        raise InputError(f"combining replicates needs at least 2 of them, not {replicates}", field="replicates")
    seed = seed if seed is not None else int(np.random.SeedSequence().entropy % (2**31))
    if not (linkage or impute):
        return _single(store, actor, estimate, run, by, table, strata_tables, labels, thresholds, report)

    rng = np.random.default_rng(seed)
    drawn = list(sample_clusterings(store, run.id, replicates, rng)) if linkage else [None] * replicates
    versions = []
    unseen = _unseen_by_run(drawn[0], clusters) if linkage else {}
    with store.session() as session:
        for partition in drawn:
            grouped = Membership.drawn(partition, unseen) if partition is not None else clusters
            versions.append(_tables(session, grouped, by, rng=rng if impute else None, attributes=attributes))
    strata_names = sorted({name for _, parts, _ in versions for name in parts})
    steps = replicates * ((1 if linkage else 0) + len(strata_names)) + (0 if linkage else 1) + len(thresholds)
    done = 0
    report(done, steps)
    if linkage:
        overall = []
        for r, (other, _, _) in enumerate(versions):
            overall.append(replicate_estimate(other, r))
            done += 1
            report(done, steps)
        result = _combined(overall, observed=table.observed, linkage=linkage, impute=False, seed=seed, asked=asked)
        drawn_persons = float(np.mean([r.observed for r in overall]))
        if abs(drawn_persons - table.observed) > max(1.0, 0.01 * table.observed):
            # The draws link each uncertain pair by its probability, whatever threshold the run used.
            result = dataclasses.replace(result, warnings=(*result.warnings, (
                f"the linkages drawn hold {drawn_persons:,.0f} persons on average, the registry {table.observed:,}: "
                f"its run linked pairs at a threshold of {run.threshold:g}, the draws by each pair's probability; the "
                "estimate is of the lists as the draws link them (an estimate without linkage uncertainty is of the "
                "registry as it is)")))
    else:
        result = estimate(table)
        done += 1
        report(done, steps)
    strata = []
    for name in strata_names:
        entry = {"stratum": name, "name": labels.get(name, name)}
        parts, errors, counted = [], [], []
        for r, (_, tables, _) in enumerate(versions):
            sub = tables.get(name)
            if isinstance(sub, CaptureTable):
                try:
                    parts.append(replicate_estimate(sub, r))
                except EstimationError as exc:
                    errors.append(str(exc))
                counted.append(sub.observed)
            else:
                counted.append(sub or 0)
            done += 1
            report(done, steps)
        observed = round(float(np.mean(counted)), 1)  # on average over the replicates
        if len(parts) * 2 < replicates:  # estimable in fewer than half the replicates: counted only
            reason = errors[0] if errors else "fewer than two lists name anyone here: not estimable"
            entry |= {"observed": observed, "estimate": None, "interval": None, "lists": [], "warnings": [reason]}
        else:
            part = _combined(parts, observed=observed, linkage=linkage, impute=impute, seed=seed, asked=asked)
            warnings = list(part.warnings)
            if len(parts) < replicates:
                warnings.append(f"estimable in {len(parts)} of {replicates} replicates; combined over those")
            entry |= {"observed": observed, "estimate": part.estimate, "interval": list(part.interval),
                      "lists": sorted({name for p in parts for name in p.lists}), "method": part.method,
                      "model": part.model, "warnings": warnings,
                      **({"chosen_because": part.chosen_because} if part.chosen_because else {}),
                      "replicates": part.diagnostics["replicates"],
                      "diagnostics": {k: v for k, v in part.diagnostics.items()
                                      if k in ("rhat", "ess_bulk", "ess_bulk_all_replicates", "modes", "classes_in_use")}}
        strata.append(entry)
    sensitivity = _sensitivity(store, run, thresholds, estimate, report, done, steps)
    uncertainty = {"replicates": replicates, "seed": seed, "linkage": linkage, "missing_strata_imputed": impute,
                   "persons_imputed": (round(float(np.mean([v[2] for v in versions])), 1) if impute else 0)}
    if linkage:
        uncertainty["share_of_width_from_linkage"] = result.diagnostics["replicates"]["between_share"]
    result = dataclasses.replace(result, parameters=result.parameters | {"uncertainty": uncertainty})
    return _store_and_document(store, actor, result, run, by, strata, sensitivity, thresholds)


def _unseen_by_run(partition: Mapping, clusters: Mapping) -> dict:
    """Today's persons' records that the run did not see (imported since), by person: the same for
    every drawn clustering, since each draw clusters the run's own records."""
    unseen: dict = defaultdict(list)
    for person, keys in clusters.items():
        for key in keys:
            if key not in partition:
                unseen[("today", person)].append(key)
    return unseen


def _combined(results: list[EstimateResult], *, observed, linkage: bool, impute: bool, seed: int,
              asked: dict | None = None) -> EstimateResult:
    """Replicate results as one: the combined figure, the replicates' worst diagnostics, and the
    parameters as asked (replicate 0's own seed and share of the sweeps are in its diagnostics)."""
    from dadkhah.estimate.combine import combine

    combined = combine(results)
    first = results[0]
    diagnostics = dict(first.diagnostics)
    for key, worst in (("rhat", max), ("ess_bulk", min), ("classes_in_use", max)):
        values = [r.diagnostics[key] for r in results if isinstance(r.diagnostics.get(key), (int, float))]
        if values:
            diagnostics[key] = worst(values)
    effective = [r.diagnostics.get("ess_bulk") for r in results]
    if len(results) > 1 and all(isinstance(e, (int, float)) for e in effective):
        diagnostics["ess_bulk_all_replicates"] = float(sum(effective))  # (what the warning is judged on)
    modes = [r.diagnostics["modes"] for r in results if r.diagnostics.get("modes")]
    if modes:
        diagnostics["modes"] = max(modes, key=len)
    what = " and ".join(w for w, on in (("linkage", linkage), ("missing strata", impute)) if on)
    diagnostics["replicates"] = {k: combined[k] for k in ("replicates", "between_share", "replicate_estimates",
                                                          "replicate_observed")} | {"drawn": what, "seed": seed}
    if "iterations" in first.parameters:
        diagnostics["replicates"]["iterations_each"] = first.parameters["iterations"]
    warnings = _replicate_warnings(results)
    chosen = sorted({r.method for r in results})
    return dataclasses.replace(
        first, estimate=combined["estimate"], interval=combined["interval"], observed=int(round(observed)),
        model=first.model if len(chosen) == 1 else "; ".join(chosen),
        diagnostics=diagnostics, warnings=tuple(warnings),
        parameters=first.parameters | {k: v for k, v in (asked or {}).items() if k in first.parameters}
        | {"replicates": combined["replicates"]})


def _replicate_warnings(results: list[EstimateResult]) -> list[str]:
    """The replicates' warnings, each said once.

    Warnings that differ only in their figures are one warning, said with the first replicate's
    figures and in how many replicates it arose. Too few effective draws is judged on the
    replicates together: the combined interval averages their uncertainty, so its Monte Carlo error
    is that of all their draws (the sum of their effective draws), not of one replicate's."""
    from dadkhah.estimate.lcmcr import ENOUGH_DRAWS, FEW_DRAWS, few_draws_warning

    m = len(results)
    said: dict[str, dict[str, set]] = {}  # template -> text -> the replicates that said it
    for r, result in enumerate(results):
        for warning in result.warnings:
            if m == 1 or not warning.startswith(FEW_DRAWS):
                said.setdefault(re.sub(r"\d[\d,.]*", "#", warning), {}).setdefault(warning, set()).add(r)
    warnings = []
    effective = [r.diagnostics.get("ess_bulk") for r in results]
    if m > 1 and all(isinstance(e, (int, float)) for e in effective) and sum(effective) < ENOUGH_DRAWS:
        warnings.append(few_draws_warning(sum(effective), m))
    for texts in said.values():
        first = next(iter(texts))
        if m == 1 and len(texts) == 1:
            warnings.append(first)
            continue
        if m == 1:  # (one replicate, several warnings of one kind: each is its own)
            warnings.extend(texts)
            continue
        count = len(set().union(*texts.values()))
        warnings.append(first if count == m and len(texts) == 1 else
                        f"{first} (in {count} of {m} replicates" + ("; the figures are the first one's)" if len(texts) > 1 else ")"))
    return warnings


def _sensitivity(store: Store, run, thresholds, estimate, report, done: int, steps: int) -> list[dict]:
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
        report(done + len(sensitivity), steps)
    return sensitivity


def _single(store: Store, actor: Actor, estimate, run, by, table, strata_tables, labels, thresholds, report) -> dict:
    """One estimate on the registry as it is (no replicates)."""
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
    sensitivity = _sensitivity(store, run, thresholds, estimate, report, 1 + len(strata), steps)
    return _store_and_document(store, actor, result, run, by, strata, sensitivity, thresholds)


def unlinked_records(session: Session) -> int:
    """How many current records no linkage run has placed in a person yet (imported since the last run):
    an estimate from the registry does not count them."""
    R, P = Record.__table__, PersonRecord.__table__
    placed = sa.select(P.c.record_id).where(P.c.source_id == R.c.source_id, P.c.record_id == R.c.record_id)
    return session.scalar(sa.select(sa.func.count()).select_from(R)
                          .where(R.c.superseded_by.is_(None), ~sa.exists(placed))) or 0


def _store_and_document(store: Store, actor: Actor, result: EstimateResult, run, by, strata, sensitivity,
                        thresholds) -> dict:
    with store.session() as session:
        if unlinked := unlinked_records(session):
            result = dataclasses.replace(result, warnings=(*result.warnings, (
                f"{unlinked:,} record{'s' if unlinked != 1 else ''} imported since linkage run {run.id} "
                f"{'are' if unlinked != 1 else 'is'} in no person yet, so not in this estimate: run `dadkhah link "
                "run`, then estimate again")))
        estimate_id = _store_estimate(session, store, actor, result, source="registry", linkage_run_id=run.id, by=by,
                                      strata=_jsonable(strata) or None, sensitivity=sensitivity or None,
                                      thresholds=thresholds)
    document = result.to_dict() | {"id": estimate_id, "linkage_run_id": run.id, "by": by, "strata": _jsonable(strata)}
    document = _jsonable(document)
    # (strata that cannot be estimated still hold people: they are added as counted, a floor)
    document |= {key: value for key, value in sums(document["strata"], sensitivity).items() if value is not None}
    if "uncertainty" in result.parameters:
        document["uncertainty"] = result.parameters["uncertainty"]
    return document
