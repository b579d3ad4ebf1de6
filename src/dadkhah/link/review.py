"""Human review: the queue of uncertain pairs, and decisions that bind every later run.

A decision names two records as ``SOURCE:RECORD_ID``: a corrected version of a record keeps its
decisions. Deciding a pair again replaces the earlier decision (which stays on file). A decision
that would contradict the others — A same as B, B same as C, but A different from C — is refused,
naming the decisions it conflicts with.
"""

from __future__ import annotations

import math
import threading
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import sqlalchemy as sa
from sqlalchemy.orm import Session

from dadkhah.audit import Actor, record_audit
from dadkhah.errors import InputError, NotFound
from dadkhah.model import (
    Import,
    LinkageRun,
    MatchDecision,
    Person,
    PersonRecord,
    Place,
    Record,
    RegistryEvent,
    ReviewPair,
    Source,
)
from dadkhah.model.base import utcnow
from dadkhah.registry.records import record_to_dict
from dadkhah.store import Store

DECISIONS = ("same", "different")
RecordKey = tuple[int, str]


def parse_record_ref(session: Session, ref: str, *, field: str = "record") -> tuple[RecordKey, str]:
    """``SOURCE:RECORD_ID`` -> ((source_id, record_id), source name). The record must exist."""
    source_name, sep, record_id = (ref or "").partition(":")
    if not sep or not source_name or not record_id:
        raise InputError(f"{ref!r} is not a record reference; write SOURCE:RECORD_ID (e.g. list-1:NGO-00017)",
                         field=field)
    source = session.scalar(sa.select(Source).where(Source.name == source_name))
    if source is None:
        raise NotFound(f"no source named {source_name!r} (in {ref!r})")
    exists = session.scalar(
        sa.select(sa.func.count()).select_from(Record).where(Record.source_id == source.id, Record.record_id == record_id)
    )
    if not exists:
        raise NotFound(f"source {source_name!r} has no record {record_id!r}")
    return (source.id, record_id), source_name


def _ordered(a: RecordKey, b: RecordKey) -> tuple[RecordKey, RecordKey]:
    return (a, b) if a <= b else (b, a)


def active_decisions(session: Session) -> list[tuple[RecordKey, RecordKey, str, int]]:
    """Decisions in force: (record a, record b, decision, decision id)."""
    rows = session.execute(
        sa.select(MatchDecision.source_a, MatchDecision.record_a, MatchDecision.source_b, MatchDecision.record_b,
                  MatchDecision.decision, MatchDecision.id)
        .where(MatchDecision.replaced_by.is_(None)).order_by(MatchDecision.id)
    )
    return [((sa_, ra), (sb, rb), decision, did) for sa_, ra, sb, rb, decision, did in rows]


def _contradiction(decisions: list[tuple[RecordKey, RecordKey, str, int]]) -> tuple[int, list[int]] | None:
    """A "different" decision whose records the "same" decisions join: (its id, the chain's ids)."""
    parent: dict[RecordKey, RecordKey] = {}

    def find(x):
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    same_edges = defaultdict(list)
    for a, b, decision, did in decisions:
        if decision == "same":
            parent[find(a)] = find(b)
            same_edges[a].append((b, did))
            same_edges[b].append((a, did))
    for a, b, decision, did in decisions:
        if decision == "different" and find(a) == find(b):
            # The chain of "same" decisions joining a to b, for the message.
            previous = {a: None}
            queue = [a]
            while queue:
                node = queue.pop(0)
                for nxt, edge in same_edges[node]:
                    if nxt not in previous:
                        previous[nxt] = (node, edge)
                        queue.append(nxt)
            chain, node = [], b
            while previous.get(node):
                node, edge = previous[node]
                chain.append(edge)
            return did, sorted(chain)
    return None


def decide(store: Store, decision: str, *, actor: Actor, reason: str, records: tuple[str, str] | None = None,
           pair_id: int | None = None) -> dict:
    """Record that two records are the same person, or different persons; every later run obeys.

    The records are named as ``SOURCE:RECORD_ID`` references (``records``), or as a pair of the
    review queue (``pair_id``). The decision, the registry's note of it on each person, and the
    audit event "pair decided" are written in one transaction. A decision that contradicts earlier
    ones (a "different" pair that "same" decisions join) is refused.
    """
    if (records is None) == (pair_id is None):
        raise ValueError("name the records or the review pair, not both")
    if decision not in DECISIONS:
        raise InputError(f"the decision must be 'same' or 'different', not {decision!r}", field="decision")
    if not (reason or "").strip():
        raise InputError("a decision needs a reason: reviewers after you will read it", field="reason")
    with store.session() as session:
        names = dict(session.execute(sa.select(Source.id, Source.name)).all())
        if pair_id is not None:
            _, a, b = _pair_records(session, pair_id)
            records = (f"{names[a.source_id]}:{a.record_id}", f"{names[b.source_id]}:{b.record_id}")
        decided = _decide(session, records[0], records[1], decision, reason=reason, decided_by=actor.name)
        if pair_id is None:
            pair_id = _queued_pair(session, *decided.pop("keys"))
        else:
            decided.pop("keys")
        record_audit(session, store, actor, action="pair decided", object_kind="match decision",
                     object_id=str(decided["id"]),
                     details={"pair_id": pair_id, "record_a": decided["record_a"], "record_b": decided["record_b"],
                              "decision": decision, "replaces": decided["replaces"]})
    return decided | {"pair_id": pair_id}


def _queued_pair(session: Session, first: RecordKey, second: RecordKey) -> int | None:
    """The latest run's review pair of these two records (as they are now), if it queued them."""
    run = latest_run(session)
    if run is None:
        return None
    ids = [session.scalar(sa.select(Record.id).where(Record.source_id == s, Record.record_id == r,
                                                     Record.superseded_by.is_(None))) for s, r in (first, second)]
    if None in ids:
        return None
    return session.scalar(sa.select(ReviewPair.id).where(
        ReviewPair.run_id == run.id,
        sa.or_(sa.and_(ReviewPair.record_l == ids[0], ReviewPair.record_r == ids[1]),
               sa.and_(ReviewPair.record_l == ids[1], ReviewPair.record_r == ids[0]))).limit(1))


def _decide(session: Session, ref_a: str, ref_b: str, decision: str, *, reason: str, decided_by: str) -> dict:
    key_a, name_a = parse_record_ref(session, ref_a, field="record_a")
    key_b, name_b = parse_record_ref(session, ref_b, field="record_b")
    if key_a == key_b:
        raise InputError("a record cannot be compared with itself", field="record_b")
    first, second = _ordered(key_a, key_b)
    current = [d for d in active_decisions(session) if _ordered(d[0], d[1]) != (first, second)]
    problem = _contradiction([*current, (first, second, decision, 0)])
    if problem:
        different_id, chain = problem
        described = ", ".join(f"#{i}" for i in chain if i) or "this decision"
        raise InputError(
            f"this contradicts earlier decisions: decision #{different_id or 'new'} says two records are different "
            f"people, but 'same' decisions {described} (with this one) join them; change one of those first",
            field="decision")
    row = MatchDecision(source_a=first[0], record_a=first[1], source_b=second[0], record_b=second[1],
                        decision=decision, reason=reason.strip(), decided_by=decided_by, decided_at=utcnow())
    session.add(row)
    session.flush()
    replaced = session.execute(
        sa.update(MatchDecision)
        .where(MatchDecision.source_a == first[0], MatchDecision.record_a == first[1], MatchDecision.source_b == second[0],
               MatchDecision.record_b == second[1], MatchDecision.id != row.id, MatchDecision.replaced_by.is_(None))
        .values(replaced_by=row.id)
    ).rowcount
    persons = session.execute(
        sa.select(PersonRecord.source_id, PersonRecord.record_id, Person.person_id)
        .join(Person, Person.id == PersonRecord.person_pk)
        .where(sa.tuple_(PersonRecord.source_id, PersonRecord.record_id).in_([first, second]))
    ).all()
    by_key = {(s, r): p for s, r, p in persons}
    for key in (first, second):
        if key == second and by_key.get(first) == by_key.get(second):
            continue  # both records in one person: one event of theirs, not the same one twice
        if key in by_key:
            session.add(RegistryEvent(run_id=None, kind="decision", person_id=by_key[key],
                                      other_person_id=by_key.get(second if key == first else first),
                                      details={"decision_id": row.id, "decision": decision, "reason": row.reason,
                                               "by": decided_by}, at=utcnow()))
    names = {first: name_a if first == key_a else name_b, second: name_b if second == key_b else name_a}
    return {
        "id": row.id, "record_a": f"{names[first]}:{first[1]}", "record_b": f"{names[second]}:{second[1]}",
        "decision": decision, "reason": row.reason, "decided_by": decided_by, "replaces": bool(replaced),
        "persons": sorted({by_key[k] for k in (first, second) if k in by_key}),
        "effective": "at the next linkage run",
        "keys": (first, second),
    }


def list_decisions(session: Session, *, limit: int | None = None, offset: int = 0, newest_first: bool = False) -> list[dict]:
    """Every decision (replaced ones too, with ``replaced_by``), oldest first unless ``newest_first``."""
    names = dict(session.execute(sa.select(Source.id, Source.name)).all())
    query = sa.select(MatchDecision).order_by(MatchDecision.id.desc() if newest_first else MatchDecision.id).offset(offset)
    if limit is not None:
        query = query.limit(limit)
    return [_decision_to_dict(d, names) for d in session.scalars(query)]


# --- the queue ------------------------------------------------------------------------------

def level_labels(model_json: dict | None) -> dict[str, list[tuple[float, str]]]:
    """For each comparison, the weight of each of its levels and its label."""
    labels: dict[str, list[tuple[float, str]]] = {}
    for comparison in (model_json or {}).get("comparisons", []):
        levels = []
        for level in comparison["comparison_levels"]:
            if level.get("is_null_level"):
                continue
            m, u = level.get("m_probability"), level.get("u_probability")
            if m and u:
                levels.append((math.log2(m / u), level.get("label_for_charts") or level.get("sql_condition", "")))
        labels[comparison["output_column_name"]] = levels
    return labels


def explain(weights: dict[str, float | None], labels: dict[str, list[tuple[float, str]]]) -> list[dict]:
    """What agreed and what did not: each comparison's level and its weight of evidence, in bits."""
    explained = []
    for name, weight in weights.items():
        if name.startswith("tf:"):
            continue
        total = (weight or 0.0) + (weights.get(f"tf:{name}") or 0.0)
        if weight is None or weight == 0:
            explained.append({"comparison": name, "level": "missing, or weighed under another comparison", "weight": 0.0, "verdict": "no evidence"})
            continue
        options = labels.get(name) or [(weight, "?")]
        label = min(options, key=lambda option: abs(option[0] - weight))[1]
        explained.append({"comparison": name, "level": label, "weight": round(total, 2),
                          "verdict": "agrees" if total > 0.5 else ("disagrees" if total < -0.5 else "neutral")})
    return explained


def latest_run(session: Session) -> LinkageRun | None:
    return session.scalar(sa.select(LinkageRun).where(LinkageRun.finished_at.is_not(None)).order_by(LinkageRun.id.desc()).limit(1))


def expit(x):
    """The logistic function (SciPy's, stable at the extremes), imported when calibrating: loading
    SciPy takes 0.2 s that every command opening the review queue would otherwise pay."""
    from scipy.special import expit as logistic

    return logistic(x)


def chance_same(probability, other_path) -> np.ndarray:
    """What the run itself says of queued pairs' chances of being one person, before any decision:
    the model's probability or, for a pair the run joined, the chance that the best chain of the
    person's other links between its two records is right (``other_path``, None where there is
    none to read), whichever is higher. If every link of such a chain is right, the two records
    are one person, whatever their own score says.

    On the 56,074-record synthetic case, with the model's probability alone the queue expected 580
    of its 1,216 pairs to be wrong where 224 were; with the chains, 379 (see docs/methods.md).
    """
    return np.fmax(np.asarray(probability, dtype=float), _paths(other_path, len(probability)))


def _paths(other_path, size: int) -> np.ndarray:
    """Other paths as numbers, NaN where there is none."""
    if other_path is None:
        return np.full(size, np.nan)
    return np.array([np.nan if v is None else v for v in other_path], dtype=float)


def _logit(p) -> np.ndarray:
    p = np.clip(np.asarray(p, dtype=float), 1e-9, 1 - 1e-9)
    return np.log(p / (1 - p))


def _lift(p, other_path) -> np.ndarray:
    """How far a pair's other links raise its chance, in log-odds (0 where they do not)."""
    p = np.asarray(p, dtype=float)
    if other_path is None:
        return np.zeros(p.shape)
    return _logit(chance_same(p, other_path)) - _logit(p)


# Calibration needs this many decisions on scored pairs, with at least MIN_EACH of each kind.
MIN_DECISIONS = 20
MIN_EACH = 5
# How strongly the fit holds the terms beyond the model's probability at what chance_same says
# while decisions are few: a ridge in log-odds units, small beside what 20 decisions weigh (about
# 20 x 0.25 = 5 when half are "same"). At 2, the simulated queue of tests/link/test_reuse_and_review.py
# kept the clustering's terms near nothing where the decided pairs said little of them, and the
# chances of the pairs left were worse.
CLUSTERING_RIDGE = 0.5


@dataclass(frozen=True)
class Calibration:
    """What the team's decisions say a queued pair's chance of being one person is:
    P(same) = expit(a + b logit(p) + c together + d log2(records a decision would move / 2) + e lift
    + f held), where p is the model's probability, ``lift`` how far the person's other links raise
    it (logit of :func:`chance_same` less logit p: nothing for a pair kept apart) and ``held`` whether
    the run kept apart a pair scored at or above its threshold. With no decisions (a = c = d = f = 0,
    b = e = 1) this is :func:`chance_same`.

    Besides the model's probability and the other links, the run's clustering: whether the run
    joined the pair's records into one person (``together``), how many records a decision would
    move, and whether it held the pair apart against its own score. They say much: on a
    57,074-record synthetic case, queued pairs with p between 0.38 and 0.62 were one person mostly
    82-91% of the time when the run had joined them, and 0-76% when it had kept them apart, less the
    larger the persons; on the 56,074-record case of benchmarks/review_queue_bench.py, kept apart
    with 4 records to move, 45% below the threshold and 17% at or above it (held apart: joining
    them would have joined records the model scored as strongly different). And the queue chooses
    pairs by all of these, so a fit on p alone would read the
    queue's choice as the model's error (there: every early decision "different", and a fit that
    said a higher p meant a smaller chance). Given everything the choice depends on, it does not
    bias the fit. ``affected`` is the decided pairs' typical number of records moved (the geometric
    mean), at which :meth:`to_dict` states the shares.
    """

    decisions: int
    a: float
    b: float
    c: float = 0.0
    d: float = 0.0
    affected: float = 2.0
    e: float = 1.0
    f: float = 0.0

    def __call__(self, p: np.ndarray, together: np.ndarray | bool = False, affected: np.ndarray | float | None = None,
                 other_path: np.ndarray | None = None, linked: np.ndarray | bool = False) -> np.ndarray:
        p = np.asarray(p, dtype=float)
        together = np.asarray(together, dtype=float)
        moved = np.log2(np.maximum(np.asarray(self.affected if affected is None else affected, dtype=float), 2.0) / 2)
        held = np.asarray(linked, dtype=float) * (1 - together)
        return expit(self.a + self.b * _logit(p) + self.c * together + self.d * moved
                     + self.e * _lift(p, other_path) + self.f * held)

    def to_dict(self, threshold: float = 0.5) -> dict:
        """The numbers, and the shares they give for pairs scored 0.3, 0.5 and 0.7 with no other path
        between them, joined or kept apart by a run whose threshold is ``threshold`` (a pair kept apart
        at or above it was held apart: joining it would have joined records the model scored as
        strongly different)."""
        shares = {}
        scores = np.array([0.3, 0.5, 0.7])
        for name, together in (("joined", True), ("kept_apart", False)):
            at = self(scores, together, linked=scores >= threshold)
            shares[name] = {"0.3": round(float(at[0]), 3), "0.5": round(float(at[1]), 3), "0.7": round(float(at[2]), 3)}
        return {"decisions": self.decisions, "intercept": round(self.a, 3), "slope": round(self.b, 3),
                "joined": round(self.c, 3), "per_doubling_of_records_moved": round(self.d, 3),
                "other_links": round(self.e, 3), "held_apart": round(self.f, 3),
                "records_moved": round(self.affected, 1), "same_person_share_at": shares}


def fit_calibration(probability: np.ndarray, same: np.ndarray, together: np.ndarray | None = None,
                    affected: np.ndarray | None = None, other_path: np.ndarray | None = None,
                    linked: np.ndarray | None = None) -> Calibration | None:
    """A logistic fit of the decisions on the log-odds the model gave and, when given, the run's
    clustering of each decided pair (see :class:`Calibration`); None if too few decisions.

    Found by Newton's method with a small ridge on the first two numbers, so that decisions that all
    agree with the model (perfect separation) still give an answer, and :data:`CLUSTERING_RIDGE` on
    the others (towards what :func:`chance_same` says). Reviewers see the pairs the queue chose, by
    the model's probability, the other links and the run's clustering; the fit is of "same" given
    exactly these, which choosing by them does not bias.
    """
    probability = np.asarray(probability, dtype=float)
    same = np.asarray(same, dtype=float)
    if probability.size < MIN_DECISIONS or same.sum() < MIN_EACH or (1 - same).sum() < MIN_EACH:
        return None
    together = np.zeros(probability.size) if together is None else np.asarray(together, dtype=float)
    affected = np.full(probability.size, 2.0) if affected is None else np.maximum(np.asarray(affected, dtype=float), 2.0)
    # (records moved counted from two, the fewest a decision moves: its term is then nothing)
    x = np.column_stack([np.ones_like(probability), _logit(probability), together, np.log2(affected / 2),
                         _lift(probability, other_path),
                         (np.zeros(probability.size) if linked is None else np.asarray(linked, dtype=float)) * (1 - together)])
    start = np.array([0.0, 1.0, 0.0, 0.0, 1.0, 0.0])
    beta = start.copy()
    ridge = np.diag([1e-3, 1e-3] + [CLUSTERING_RIDGE] * 4)
    for _ in range(50):
        fitted = expit(x @ beta)
        gradient = x.T @ (same - fitted) - ridge @ (beta - start)
        hessian = (x * (fitted * (1 - fitted))[:, None]).T @ x + ridge
        step = np.linalg.solve(hessian, gradient)
        beta = beta + step
        if np.max(np.abs(step)) < 1e-8:
            break
    a, b, c, d, e, f = (float(v) for v in beta)
    return Calibration(int(probability.size), a, b, c, d, affected=float(np.exp2(np.log2(affected).mean())), e=e, f=f)


def _record_ids(session: Session, keys: set[RecordKey]) -> dict[RecordKey, list[int]]:
    """The row ids of each record key (every version of the record), source by source (a row-value
    ``IN`` would make SQLite read every record)."""
    by_source: dict[int, list[str]] = {}
    for source_id, record_id in keys:
        by_source.setdefault(source_id, []).append(record_id)
    ids: dict[RecordKey, list[int]] = {}
    for source_id, record_ids in sorted(by_source.items()):
        record_ids.sort()
        for start in range(0, len(record_ids), 2000):
            for row_id, record_id in session.connection().execute(
                    sa.select(Record.id, Record.record_id)
                    .where(Record.source_id == source_id, Record.record_id.in_(record_ids[start:start + 2000]))):
                ids.setdefault((source_id, record_id), []).append(row_id)
    return ids


Decided = dict[tuple[RecordKey, RecordKey], str]


def _decisions_by_rows(session: Session) -> tuple[Decided, dict[tuple[int, int], tuple[RecordKey, RecordKey]]]:
    """The decisions in force (by their two record keys, in order), and the pairs of record row ids
    each covers (smaller id first; every version of each record)."""
    decided = {_ordered(a, b): decision for a, b, decision, _ in active_decisions(session)}
    ids = _record_ids(session, {key for pair in decided for key in pair})
    rows = {(x, y) if x < y else (y, x): (a, b) for a, b in decided for x in ids.get(a, ()) for y in ids.get(b, ())}
    return decided, rows


def calibration(session: Session, decisions: tuple[Decided, dict] | None = None) -> Calibration | None:
    """The calibration the decisions in force give, each read against the probability it was shown with.

    A decision's pair is looked up among the review queues of every run (the newest scoring of the
    pair); decisions on pairs never queued are left out. ``decisions``: :func:`_decisions_by_rows`,
    when the caller has it already.
    """
    decided, rows = decisions if decisions is not None else _decisions_by_rows(session)
    if len(decided) < MIN_DECISIONS:
        return None
    ids = sorted({row_id for pair in rows for row_id in pair})
    scored: dict[tuple[RecordKey, RecordKey], tuple] = {}
    for start in range(0, len(ids), 5000):
        query = (sa.select(ReviewPair.record_l, ReviewPair.record_r, ReviewPair.match_probability, ReviewPair.together,
                           ReviewPair.linked, ReviewPair.records_affected, ReviewPair.other_path)
                 .where(ReviewPair.record_l.in_(ids[start:start + 5000])).order_by(ReviewPair.run_id))
        for left, right, p, together, linked, affected, path in session.connection().execute(query):
            pair = rows.get((left, right) if left < right else (right, left))
            if pair is not None:
                # (queues kept before the clustering was: whether the run linked the pair, two records)
                scored[pair] = (p, linked if together is None else together, affected or 2,  # newer runs overwrite older ones
                                np.nan if path is None else path, linked)
    shown = np.array(list(scored.values()), dtype=float).reshape(-1, 5)
    same = np.array([decided[pair] == "same" for pair in scored], dtype=float)
    return fit_calibration(shown[:, 0], same, shown[:, 1], shown[:, 2], shown[:, 3], shown[:, 4])


class _RunColumns:
    """The latest run's queued pairs as read-only columns, kept per database between calls: a run's
    queue is written once, with the run, so it is read once, not at every decision (on 43,080 queued
    pairs, reading them took 120 ms of each decision's 230). Known by the run's id and times, so a
    new run, or another workspace at the same address, is read afresh."""

    DATABASES = 4  # the most kept at once

    def __init__(self):
        self._lock = threading.Lock()
        self._kept: dict[str, tuple[tuple, dict[str, np.ndarray]]] = {}

    def __call__(self, session: Session, run: LinkageRun) -> dict[str, np.ndarray]:
        database = repr(session.get_bind().url)
        key = (run.id, run.started_at, run.finished_at)
        with self._lock:
            kept = self._kept.get(database)
        if kept is not None and kept[0] == key:
            return kept[1]
        rows = session.connection().execute(
            sa.select(ReviewPair.id, ReviewPair.match_probability, ReviewPair.together, ReviewPair.records_affected,
                      ReviewPair.record_l, ReviewPair.record_r, ReviewPair.other_path)
            .where(ReviewPair.run_id == run.id)).all()
        columns = list(zip(*rows, strict=True)) if rows else [()] * 7
        probability = np.array(columns[1], dtype=float)
        read = {
            "id": np.array(columns[0], dtype=np.int64),
            "probability": probability,
            "other_path": _paths(columns[6], probability.size),
            "linked": probability >= run.threshold,
            # (runs before the queue kept the clustering: whether the probability reached the threshold)
            "together": np.array([probability[i] >= run.threshold if t is None else t for i, t in enumerate(columns[2])],
                                 dtype=bool),
            "affected": np.array([a or 2 for a in columns[3]], dtype=float),
            "left": np.array(columns[4], dtype=np.int64),
            "right": np.array(columns[5], dtype=np.int64),
        }
        for column in read.values():
            column.flags.writeable = False
        with self._lock:
            self._kept.pop(database, None)
            self._kept[database] = (key, read)
            while len(self._kept) > self.DATABASES:  # (a process that opens many workspaces: the oldest go)
                del self._kept[next(iter(self._kept))]
        return read


_run_columns = _RunColumns()


def _queued_columns(session: Session, run: LinkageRun, decided: Mapping[tuple[int, int], object]) -> dict[str, np.ndarray]:
    """The latest run's queued pairs not yet decided, as columns: id, probability, other path (see
    :func:`chance_same`; NaN where none), together (the run's clustering) and records affected."""
    columns = _run_columns(session, run)
    keep = np.ones(columns["id"].size, dtype=bool)
    if decided:  # only pairs of two decided records' rows can be decided pairs
        rows_decided = np.array(sorted({row_id for pair in decided for row_id in pair}), dtype=np.int64)
        left, right = columns["left"], columns["right"]
        for i in np.flatnonzero(np.isin(left, rows_decided) & np.isin(right, rows_decided)):
            a, b = int(left[i]), int(right[i])
            keep[i] = ((a, b) if a < b else (b, a)) not in decided
    return {name: columns[name][keep] for name in ("id", "probability", "other_path", "linked", "together", "affected")}


def review_queue(session: Session, *, limit: int | None = 50, offset: int = 0) -> dict:
    """Undecided pairs of the latest run's review band, those whose decision would change the most first.

    Each pair's *chance the run is wrong* is the probability that its records are one person when
    the run kept them apart, or two when it joined them; what the run says (:func:`chance_same`),
    corrected by :func:`calibration` once the team's decisions allow it. Multiplied by the records a
    decision would move, it orders the queue (the pairs of runs before this was kept: by closeness to even
    odds). ``expected_changes`` is the sum of the chances: how many of the decisions left are
    expected to change the registry.
    """
    run = latest_run(session)
    if run is None:
        return {"run_id": None, "total": 0, "pairs": []}
    decisions = _decisions_by_rows(session)
    queued = _queued_columns(session, run, decisions[1])
    calibrated = calibration(session, decisions)
    left, right = sa.orm.aliased(Record), sa.orm.aliased(Record)
    probability = queued["probability"]
    together = queued["together"]
    paths = queued["other_path"]
    same = calibrated(probability, together, queued["affected"], paths, queued["linked"]) if calibrated is not None else \
        chance_same(probability, paths)
    wrong = np.where(together, 1 - same, same)
    affected = queued["affected"]
    order = np.lexsort((queued["id"], np.abs(probability - 0.5), -(wrong * affected)))
    chosen = order[offset:] if limit is None else order[offset:offset + limit]
    shown = [int(queued["id"][i]) for i in chosen]
    objects = {pair.id: (pair, a, b) for start in range(0, len(shown), 5000) for pair, a, b in session.execute(
        sa.select(ReviewPair, left, right).join(left, left.id == ReviewPair.record_l)
        .join(right, right.id == ReviewPair.record_r).where(ReviewPair.id.in_(shown[start:start + 5000])))}
    names = dict(session.execute(sa.select(Source.id, Source.name)).all())
    labels = level_labels(run.model)
    pairs = []
    for i in chosen:
        pair, a, b = objects[int(queued["id"][i])]
        pairs.append({
            "id": pair.id,
            "match_probability": round(pair.match_probability, 4),
            "match_weight": round(pair.match_weight, 2),
            "linked": pair.linked,
            "together": bool(together[i]),
            "other_path": None if pair.other_path is None else round(pair.other_path, 4),
            "chance_wrong": round(float(wrong[i]), 3),
            "records_affected": int(affected[i]),
            "record_a": _brief(a, names),
            "record_b": _brief(b, names),
            "comparisons": explain(pair.weights, labels),
        })
    return {"run_id": run.id, "threshold": run.threshold, "band": [run.review_low, run.review_high],
            "total": int(queued["id"].size),
            "expected_changes": round(float(wrong.sum()), 1),
            "calibration": calibrated.to_dict(run.threshold) if calibrated is not None else None, "pairs": pairs}


def _brief(record: Record, names: dict[int, str]) -> dict:
    full = record_to_dict(record, names[record.source_id], {}, [])
    keep = ("source", "record_id", "line", "given_name", "family_name", "full_name", "father_name", "gender",
            "birth_date", "death_date", "city", "prison", "affiliation")
    return {k: full[k] for k in keep} | {"ref": f"{names[record.source_id]}:{record.record_id}"}


# --- one pair, for a reviewer -----------------------------------------------------------------

PAIR_FIELDS = ("given_name", "family_name", "full_name", "father_name", "gender", "birth_date", "death_date",
               "city", "prison", "affiliation", "notes")


def _field_view(value) -> dict:
    """One field of a record as given and as normalised (``record_to_dict`` shapes, flattened)."""
    if value is None:
        return {"given": None, "normalized": None}
    if "earliest" in value:  # a date: its range and precision
        earliest, latest = value.get("earliest"), value.get("latest")
        span = None
        if earliest:
            span = earliest if earliest == latest else f"{earliest} – {latest}"
            span += f" ({value.get('calendar')}, {value.get('precision')})"
        return {"given": value["original"], "normalized": span, "compare": (earliest, latest) if earliest else None}
    if "place_id" in value:
        return {"given": value["original"], "normalized": value.get("name") or None,
                "compare": value.get("place_id")}
    normalized = value.get("normalized")
    return {"given": value.get("original"), "normalized": normalized, "compare": value.get("key") or normalized}


def field_verdict(left, right) -> str:
    """How two records' values of one field compare: "missing" (either has none), "same", "overlaps"
    (two dates as ranges that share a day without being equal: a month and a day within it do not
    contradict each other) or "different"."""
    if left is None or right is None:
        return "missing"
    if left == right:
        return "same"
    if isinstance(left, tuple) and isinstance(right, tuple) and left[0] <= right[1] and right[0] <= left[1]:
        return "overlaps"
    return "different"


def _active_decision(session: Session, a: Record, b: Record) -> MatchDecision | None:
    first, second = _ordered((a.source_id, a.record_id), (b.source_id, b.record_id))
    return session.scalar(
        sa.select(MatchDecision).where(MatchDecision.source_a == first[0], MatchDecision.record_a == first[1],
                                       MatchDecision.source_b == second[0], MatchDecision.record_b == second[1],
                                       MatchDecision.replaced_by.is_(None)).limit(1))


def _decision_to_dict(d: MatchDecision, names: dict[int, str]) -> dict:
    return {"id": d.id, "record_a": f"{names[d.source_a]}:{d.record_a}", "record_b": f"{names[d.source_b]}:{d.record_b}",
            "decision": d.decision, "reason": d.reason, "decided_by": d.decided_by,
            "decided_at": d.decided_at.isoformat(), "replaced_by": d.replaced_by}


def _pair_records(session: Session, pair_id: int) -> tuple[ReviewPair, Record, Record]:
    pair = session.get(ReviewPair, pair_id)
    if pair is None:
        raise NotFound(f"no review pair with id {pair_id} (see the review queue)")
    return pair, session.get(Record, pair.record_l), session.get(Record, pair.record_r)


def review_pair(session: Session, pair_id: int) -> dict:
    """One pair for a reviewer: both records field by field (as given and normalised), what agreed and
    what did not with the weight of each comparison, the match probability, and any decision in force."""
    pair, a, b = _pair_records(session, pair_id)
    run = session.get(LinkageRun, pair.run_id)
    latest = latest_run(session)
    names = dict(session.execute(sa.select(Source.id, Source.name)).all())
    place_ids = {p for r in (a, b) for p in (r.city_place_id, r.prison_place_id) if p}
    places = dict(session.execute(sa.select(Place.id, Place.name_en).where(Place.id.in_(place_ids))).all()) if place_ids else {}
    headers = dict(session.execute(sa.select(Import.id, Import.header).where(Import.id.in_({a.import_id, b.import_id}))).all())
    full_a = record_to_dict(a, names[a.source_id], places, headers.get(a.import_id) or [])
    full_b = record_to_dict(b, names[b.source_id], places, headers.get(b.import_id) or [])
    fields = []
    for name in PAIR_FIELDS:
        left, right = _field_view(full_a[name]), _field_view(full_b[name])
        verdict = field_verdict(left.pop("compare", None), right.pop("compare", None))
        fields.append({"field": name, "a": left, "b": right, "verdict": verdict})
    decision = _active_decision(session, a, b)
    history = session.scalars(
        sa.select(MatchDecision).where(
            sa.or_(sa.and_(MatchDecision.source_a == a.source_id, MatchDecision.record_a == a.record_id,
                           MatchDecision.source_b == b.source_id, MatchDecision.record_b == b.record_id),
                   sa.and_(MatchDecision.source_a == b.source_id, MatchDecision.record_a == b.record_id,
                           MatchDecision.source_b == a.source_id, MatchDecision.record_b == a.record_id)))
        .order_by(MatchDecision.id))
    return {
        "id": pair.id,
        "run_id": pair.run_id,
        "latest_run": latest is not None and latest.id == pair.run_id,
        "threshold": run.threshold if run else None,
        "band": [run.review_low, run.review_high] if run else None,
        "match_probability": round(pair.match_probability, 4),
        "match_weight": round(pair.match_weight, 2),
        "linked": pair.linked,
        "together": pair.together,
        "other_path": None if pair.other_path is None else round(pair.other_path, 4),
        "record_a": {"ref": f"{names[a.source_id]}:{a.record_id}", "source": names[a.source_id], "record_id": a.record_id,
                     "line": a.line, "version": a.version, "raw": full_a["raw"]},
        "record_b": {"ref": f"{names[b.source_id]}:{b.record_id}", "source": names[b.source_id], "record_id": b.record_id,
                     "line": b.line, "version": b.version, "raw": full_b["raw"]},
        "fields": fields,
        "comparisons": explain(pair.weights or {}, level_labels(run.model if run else None)),
        "decision": _decision_to_dict(decision, names) if decision else None,
        "history": [_decision_to_dict(d, names) for d in history],
    }


def next_pair(session: Session) -> int | None:
    """The id of the pair the queue puts first (the undecided one whose decision would change the most), or None."""
    pairs = review_queue(session, limit=1)["pairs"]
    return pairs[0]["id"] if pairs else None
