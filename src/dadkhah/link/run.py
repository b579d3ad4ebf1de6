"""A linkage run: records in, persons out, in one transaction.

1. Features of every current record (:mod:`dadkhah.link.features`).
2. The engine counts the pairs the blocking rules make, trains the model, scores the pairs.
3. Records are clustered at the threshold, obeying every review decision.
4. Clusters get person ids, keeping the previous run's ids (:mod:`dadkhah.registry.persons`).
5. Pairs in the uncertain band go to the review queue; the run is recorded with its model.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import sqlalchemy as sa
from sqlalchemy.orm import Session

from dadkhah import __version__
from dadkhah.audit import Actor, record_audit
from dadkhah.errors import DadkhahError, InputError
from dadkhah.link import DEFAULT_REVIEW_BAND, DEFAULT_THRESHOLD, UNCERTAIN_BAND
from dadkhah.link.clustering import ClusteringDraws, cluster_records, components, other_paths
from dadkhah.link.engine import EarlierPairs, score
from dadkhah.link.evaluate import evaluate_clusters
from dadkhah.link.features import (
    FEATURES_VERSION,
    features_context,
    features_digest,
    record_features,
)
from dadkhah.link.model import DEFAULT_MODEL, LinkageModel
from dadkhah.link.review import active_decisions, chance_same
from dadkhah.model import LinkageRun, ReviewPair
from dadkhah.model.base import utcnow
from dadkhah.registry.persons import assign_persons, iter_memberships
from dadkhah.registry.search import changed_since_built, refresh_search_index
from dadkhah.store import Store, insert_rows
from dadkhah.workspace import private_space, process_alive

# Pairs scored below this are strong evidence of two different people: a chain of namesakes may
# not join them (see dadkhah.link.clustering).
NEGATIVE_BELOW = 0.05


@dataclasses.dataclass
class LinkSummary:
    run_id: int
    engine: str
    records: int
    persons: int
    pairs_planned: int
    pairs_scored: int
    pairs_linked: int
    pairs_for_review: int
    review_expected_changes: float  # the model's own count of review decisions that would change the registry
    threshold: float
    review_band: tuple[float, float]
    created: int
    merged: int
    split: int
    unchanged: int
    records_moved: int
    decisions_applied: int
    links_held_apart: int
    prior: float
    training: dict
    training_notes: list
    seconds: float
    stage_seconds: dict
    # What this run took from the previous one instead of working it out again: the features of
    # ``features_of_records`` records; the ``pairs`` the blocking rules made among records still current
    # (None when blocking was done afresh), to which it added ``pairs_made_for_new_records``; and the
    # search index, updated for ``search_index_updated_for`` persons (None when it was rebuilt).
    reused: dict = dataclasses.field(default_factory=dict)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def run_linkage(
    store: Store,
    *,
    actor: Actor,
    threshold: float = DEFAULT_THRESHOLD,
    review_band: tuple[float, float] = DEFAULT_REVIEW_BAND,
    engine: str = "duckdb",
    model: LinkageModel = DEFAULT_MODEL,
    seed: int = 1988,
    retrain: bool = False,
    progress=None,
) -> LinkSummary:
    """Link every current record into persons. See the module docstring for the steps.

    The model an earlier run trained is used again unless the records' make-up has changed
    materially since, the model's definition or the seed differ, or ``retrain`` is asked for
    (:func:`training_choice`); the summary's ``training`` says which and why.

    The run, the persons it assigns, its review queue and its audit event "link run" are written
    in one transaction: a run that fails leaves the registry as it was.
    """
    low, high = review_band
    if not 0 < threshold < 1:
        raise InputError(f"must be a probability between 0 and 1, not {threshold}", field="threshold")
    if not 0 < low <= high < 1:
        raise InputError(f"must be two probabilities between 0 and 1, the lower first, not {low},{high}",
                         field="review_band")
    report = progress or (lambda step, total, what: None)
    started = time.perf_counter()
    stages: dict[str, float] = {}
    # Outside the session: a commit that fails removes the unpublished pairs too.
    with _removed_on_failure() as unpublished, store.session() as session:
        report(0, 5, "reading records")
        # An index made for the previous run needs only the rows of the persons whose records an
        # import changed since, and of those this run changes.
        index_changed = changed_since_built(session)
        context = features_context(session)
        earlier = earlier_features(store.workspace.path, session, context)
        features = record_features(session, earlier=earlier)
        if features.num_rows < 2:
            raise DadkhahError("there are fewer than two records to link; import lists first")
        reused_features = 0 if earlier is None else int(
            pc.sum(pc.is_in(features["unique_id"], value_set=earlier["unique_id"])).as_py() or 0)
        stages["features"] = time.perf_counter() - started
        uid_of = {key: uid for key, uid in zip(
            zip(features["source_id"].to_pylist(), features["record_id"].to_pylist(), strict=True),
            features["unique_id"].to_pylist(), strict=True)}
        decisions = active_decisions(session)
        same = [(uid_of[a], uid_of[b]) for a, b, d, _ in decisions if d == "same" and a in uid_of and b in uid_of]
        different = [(uid_of[a], uid_of[b]) for a, b, d, _ in decisions if d == "different" and a in uid_of and b in uid_of]
        run = LinkageRun(engine=engine, threshold=threshold, review_low=low, review_high=high,
                         parameters={"model": model.to_dict(), "seed": seed, "engine": engine,
                                     "uncertain_band": list(UNCERTAIN_BAND),
                                     # records whose features the latest run had worked out already
                                     "features_reused": reused_features},
                         features_sha256=features_digest(features), records=features.num_rows,
                         run_by=actor.name, software_version=__version__, started_at=utcnow())
        session.add(run)
        session.flush()
        choice = training_choice(session, data_profile(features), model, seed=seed, retrain=retrain, engine=engine)
        training = {"trained_in_run": choice.trained_in_run or run.id, "retrained": choice.model is None,
                    "reason": choice.reason, "profile": choice.profile, "definition": _definition_digest(model),
                    "seed": seed, "splink": _splink_version()}
        run.parameters = dict(run.parameters, training=training)

        report(1, 5, "training and scoring pairs" if choice.model is None else "scoring pairs")
        step = time.perf_counter()
        record_ids = features["unique_id"].to_pylist()
        # The pairs the previous run's blocking made among records still current are not made again
        # (see earlier_blocking): only those in which a new record takes part.
        blocking_key = _blocking_digest(model, context, engine)
        earlier_pairs = earlier_blocking(store.workspace.path, session, blocking_key)
        # The engine spills names and dates to disk: only into the workspace's private space.
        with private_space(store.workspace, "linkage") as scratch, \
                score(features, model, engine=engine, seed=seed, temp_dir=str(scratch), trained=choice.model,
                      earlier=earlier_pairs) as scoring:
            pairs = scoring.pairs(min(threshold, low, UNCERTAIN_BAND[0]))
            left = pairs["unique_id_l"].to_numpy()
            right = pairs["unique_id_r"].to_numpy()
            probability = pairs["match_probability"].to_numpy()
            linked = probability >= threshold
            groups = components(record_ids, left[linked], right[linked], same)
            grouping = pa.table({"unique_id": pa.array(list(groups), pa.int64()), "component": pa.array(list(groups.values()), pa.int64())})
            negatives = scoring.negatives_within(grouping, NEGATIVE_BELOW)
            decided = {frozenset(p) for p in same + different}
            in_band = [i for i in np.flatnonzero((probability >= low) & (probability <= high)).tolist()
                       if frozenset((int(left[i]), int(right[i]))) not in decided]
            band = pa.table({"unique_id_l": pa.array(left[in_band], pa.int64()), "unique_id_r": pa.array(right[in_band], pa.int64())})
            details = scoring.details(band)
            model_json, planned, blocking = scoring.model_json, scoring.comparisons_planned, scoring.blocking
            notes = scoring.notes
            blocked_ids, pairs_kept, pairs_made = scoring.pair_ids(), scoring.pairs_kept, scoring.pairs_made
            stages.update({f"engine_{k}": v for k, v in scoring.seconds.items()})
        stages["engine"] = time.perf_counter() - step

        kept = save_run_pairs(store.workspace.path, run.id, features, pairs, negatives, context=context,
                              blocked=blocked_ids, blocking_key=blocking_key)
        unpublished.append(kept)

        report(2, 5, "clustering")
        step = time.perf_counter()
        clustering = cluster_records(record_ids, left, right, probability, threshold=threshold, same=same, different=different,
                                     negatives=(negatives["unique_id_l"].to_numpy(), negatives["unique_id_r"].to_numpy()))
        key_of = {uid: key for key, uid in uid_of.items()}
        clusters = {key_of[uid]: label for uid, label in clustering.labels.items()}
        stages["cluster"] = time.perf_counter() - step

        report(3, 5, "assigning person ids")
        step = time.perf_counter()
        assignment = assign_persons(session, run.id, clusters)
        stages["persons"] = time.perf_counter() - step

        report(4, 5, "filling the review queue")
        step = time.perf_counter()
        queued = list(zip(details["unique_id_l"].to_pylist(), details["unique_id_r"].to_pylist(), strict=True)) \
            if details.num_rows else []
        paths = other_paths(clustering.labels, left, right, probability, threshold=threshold, same=same, pairs=queued)
        review_rows = _review_rows(run.id, pairs, details, threshold, clustering.labels, paths)
        for start in range(0, len(review_rows), 5000):
            insert_rows(session, ReviewPair.__table__, review_rows[start:start + 5000])
        stages["review"] = time.perf_counter() - step

        step = time.perf_counter()
        # the persons page searches what this run decided
        updated = refresh_search_index(session, None if index_changed is None else index_changed | assignment.touched)
        run.parameters = dict(run.parameters, pairs_reused=pairs_kept, pairs_made_for_new_records=pairs_made)
        reused = {"features_of_records": reused_features, "pairs": pairs_kept, "pairs_made_for_new_records": pairs_made,
                  "search_index_updated_for": updated}
        stages["search_index"] = time.perf_counter() - step

        seconds = time.perf_counter() - started
        summary = LinkSummary(
            run_id=run.id, engine=engine, records=features.num_rows, persons=assignment.persons,
            pairs_planned=planned, pairs_scored=pairs.num_rows,
            pairs_linked=clustering.linked_pairs, pairs_for_review=len(review_rows),
            review_expected_changes=round(sum(1 - c if r["together"] else c for r, c in zip(review_rows, chance_same(
                [r["match_probability"] for r in review_rows], [r["other_path"] for r in review_rows]).tolist(),
                strict=True)), 1),
            threshold=threshold,
            review_band=(low, high), created=assignment.created, merged=assignment.merged, split=assignment.split,
            unchanged=assignment.unchanged, records_moved=assignment.records_moved,
            decisions_applied=len(same) + len(different), links_held_apart=clustering.held_apart,
            prior=model_json["probability_two_random_records_match"],
            training={k: training[k] for k in ("retrained", "trained_in_run", "reason")}, training_notes=notes,
            seconds=round(seconds, 2),
            stage_seconds={k: round(v, 2) for k, v in stages.items()}, reused=reused,
        )
        run.model = model_json
        run.persons = assignment.persons
        run.pairs_planned = planned
        run.pairs_scored = pairs.num_rows
        run.pairs_linked = clustering.linked_pairs
        run.pairs_for_review = len(review_rows)
        run.summary = summary.to_dict() | {"blocking": blocking}
        run.finished_at = utcnow()
        record_audit(session, store, actor, action="link run", object_kind="linkage run", object_id=str(run.id),
                     details={"run_id": run.id, "engine": engine, "threshold": threshold, "review_band": [low, high],
                              "records": summary.records, "persons": summary.persons, "created": summary.created,
                              "merged": summary.merged, "split": summary.split,
                              "pairs_for_review": summary.pairs_for_review,
                              "decisions_applied": summary.decisions_applied, "model_sha256": _model_digest(model_json),
                              "model_retrained": training["retrained"], "model_trained_in_run": training["trained_in_run"]})
    # After the commit: a process killed in between leaves the ``.part`` folder of a committed run,
    # which the next opening of the workspace puts in place (dadkhah.store.sweep_leftovers).
    publish_run_pairs(kept, run_folder(store.workspace.path, summary.run_id))
    report(5, 5, "done")
    return summary


# When `link run` trains again rather than reuse the model an earlier run trained (training_choice).
RETRAIN_RECORDS_CHANGE = 0.25  # records grown or shrunk by more than this share since training
RETRAIN_SHARE_CHANGE = 0.10  # a field's missing share, or a script's share, moved by more than this
PROFILED = {"given_key": "the given name", "family_key": "the family name", "full_key": "the full name",
            "father_key": "the father's name", "birth_lo": "the birth date", "death_lo": "the date of death",
            "city_id": "the city", "prison_id": "the prison", "gender": "the gender"}
# Compared fields whose records may all give one value (one gender, one city, one prison): a model
# trained so never saw two records differ on it, and the weight of a difference would come from
# smoothing alone (+13 bits, for a disagreement). A second value retrains.
ONE_VALUE = {"gender": "the gender", "city_id": "the city", "prison_id": "the prison"}


def data_profile(features: pa.Table) -> dict:
    """The records' make-up as far as training cares: how many, what is missing, in which scripts, in
    how many lists, how likely two records are to come from one list (which the model weighs), and
    which compared fields give a single value."""
    n = max(1, features.num_rows)
    scripts = pc.value_counts(features["script"].fill_null("none")).to_pylist()
    lists = [item["counts"] / n for item in pc.value_counts(features["source_id"]).to_pylist()]
    return {"records": features.num_rows,
            "missing": {column: round(features[column].null_count / n, 4) for column in PROFILED},
            "scripts": {str(item["values"]): round(item["counts"] / n, 4) for item in scripts},
            "lists": len(lists), "same_list": round(sum(share * share for share in lists), 4),
            "one_value": [column for column in ONE_VALUE if pc.count_distinct(features[column]).as_py() == 1]}


@dataclasses.dataclass
class TrainingChoice:
    model: dict | None  # the trained model to use again; None: train in this run
    trained_in_run: int | None
    reason: str
    profile: dict  # the make-up of the records the model is (or will be) trained on


def _changes(trained: dict, now: dict) -> list[str]:
    """How the records' make-up moved since the model was trained, where it moved materially."""
    changes = []
    before, after = trained["records"], now["records"]
    if before and abs(after - before) / before > RETRAIN_RECORDS_CHANGE:
        changes.append(f"the records went from {before:,} to {after:,} (more than {RETRAIN_RECORDS_CHANGE:.0%} either way)")
    for column, label in PROFILED.items():
        was, share = trained["missing"].get(column, 0.0), now["missing"].get(column, 0.0)
        if abs(share - was) > RETRAIN_SHARE_CHANGE:
            changes.append(f"{label} is missing in {share:.0%} of records, {was:.0%} when the model was trained")
    for script in sorted(set(trained["scripts"]) | set(now["scripts"])):
        was, share = trained["scripts"].get(script, 0.0), now["scripts"].get(script, 0.0)
        if abs(share - was) > RETRAIN_SHARE_CHANGE:
            changes.append(f"{share:.0%} of records are in the {script} script, {was:.0%} when the model was trained")
    # A model trained on one list has never seen two records of different lists, nor one trained on
    # one gender (city, prison) two that differ: what that is worth would come from smoothing alone.
    # (Profiles kept before these were profiled name none: their models lack the comparison of
    # lists, and are retrained for that.)
    for column in trained.get("one_value", ()):
        if column not in now.get("one_value", ()) and now["missing"].get(column, 0.0) < 1.0:
            changes.append(f"every record gave the same value for {ONE_VALUE[column]} when the model was trained; "
                           "now they differ")
    if trained.get("lists") == 1 and now.get("lists", 1) > 1:
        changes.append(f"the model was trained on the records of one list; they now come from {now['lists']}")
    elif "same_list" in trained and abs(now.get("same_list", 0.0) - trained["same_list"]) > RETRAIN_SHARE_CHANGE:
        changes.append(f"two records come from one list {now['same_list']:.0%} of the time, "
                       f"{trained['same_list']:.0%} when the model was trained")
    return changes


def training_choice(session: Session, profile: dict, model: LinkageModel, *, seed: int, retrain: bool = False,
                    engine: str = "duckdb") -> TrainingChoice:
    """Whether this run trains the model, or uses again the one an earlier run trained, and why.

    Training learns what agreement on each field is worth from the records themselves; when the
    records have much the same make-up, the answer is much the same, and training is most of a run's
    time. It is redone when asked, when the model's definition, the seed, the engine or Splink's
    version differ (a model trained on one engine's SQL is not read by the other), or when the
    records have changed materially since the model was trained: their number by more than 25%, or
    the share missing a field, or written in a script, or the chance that two records come from one
    list, by more than 10 points, or a first list joined by others, or a second value where the records
    all gave one (a gender, a city, a prison).
    Adding a small list changes none of these; the prior (how many pairs are matches) is
    re-estimated on every run in any case.
    """
    def train(reason: str) -> TrainingChoice:
        return TrainingChoice(None, None, reason, profile)

    if retrain:
        return train("retraining was asked for")
    last = session.scalar(sa.select(LinkageRun).where(LinkageRun.finished_at.is_not(None), LinkageRun.model.is_not(None))
                          .order_by(LinkageRun.id.desc()).limit(1))
    kept = (last.parameters or {}).get("training") if last is not None else None
    if not kept:
        return train("no earlier run kept a trained model" if last is None else
                     "the last run predates models kept for reuse")
    source = session.get(LinkageRun, kept["trained_in_run"])
    if source is None or source.model is None:
        return train(f"the model of run {kept['trained_in_run']} is no longer on file")
    if kept.get("definition") != _definition_digest(model):
        return train("the linkage model's definition has changed")
    if kept.get("seed") != seed:
        return train(f"a different seed ({seed}, the model was trained with {kept.get('seed')})")
    if source.engine != engine:
        return train(f"a different engine ({engine}; the model was trained on {source.engine})")
    if kept.get("splink") != _splink_version():
        return train(f"Splink's version changed ({kept.get('splink')} to {_splink_version()})")
    changes = _changes(kept["profile"], profile)
    if changes:
        return train("; ".join(changes))
    return TrainingChoice(source.model, source.id, f"the records have much the same make-up as when run {source.id} "
                          f"trained the model ({kept['profile']['records']:,} records then, {profile['records']:,} now)",
                          kept["profile"])


def _definition_digest(model: LinkageModel) -> str:
    """The model's definition and the version of the features it compares: a change to either retrains."""
    definition = model.to_dict() | {"features_version": FEATURES_VERSION}
    return hashlib.sha256(json.dumps(definition, sort_keys=True, default=str).encode()).hexdigest()


def _splink_version() -> str:
    from importlib.metadata import version

    return version("splink")


@contextlib.contextmanager
def _removed_on_failure() -> Iterator[list[Path]]:
    """Folders to remove if the block fails: a run's kept pairs, not yet published (a run that
    fails in a long-lived process, the web server's, would otherwise leave them until it stops)."""
    folders: list[Path] = []
    try:
        yield folders
    except BaseException:
        for folder in folders:
            shutil.rmtree(folder, ignore_errors=True)
        raise


def _model_digest(model_json: dict) -> str:
    """The trained model's fingerprint, so the trail names which model drew the persons."""
    return hashlib.sha256(json.dumps(model_json, sort_keys=True, default=str).encode()).hexdigest()


def run_folder(workspace: Path, run_id: int) -> Path:
    return workspace / "linkage" / f"run-{run_id}"


def save_run_pairs(workspace: Path, run_id: int, features: pa.Table, pairs: pa.Table, negatives: pa.Table, *,
                   context: str | None = None, blocked: pa.Table | None = None, blocking_key: str | None = None) -> Path:
    """Keep what a run scored, so its clustering can be redone at other thresholds without re-scoring.

    Written to ``linkage/.run-<id>.<pid>.part/`` (returned), which :func:`publish_run_pairs` renames
    to ``linkage/run-<id>/`` once the run has committed. A process killed before that leaves only
    the ``.part`` folder: the next opening of the workspace puts it in place if its run committed,
    and removes it if not (:func:`dadkhah.store.sweep_leftovers`); until then :func:`load_run_pairs`
    reads it where it is. It holds ``pairs.parquet``
    (ids and match probability of every pair scored at or above the kept floor),
    ``negatives.parquet`` (the strong negatives), ``records.parquet`` (each record id's lasting
    identity: source and record_id) and, given the ``context`` they were worked out in,
    ``features.arrow`` (every record's features, in Arrow's file format: the next run reuses them, see
    :func:`earlier_features`) and, given the ``blocking_key`` they were made under, ``blocked.parquet``
    (the ids of every pair scored: the next run's blocking starts from them, see :func:`earlier_blocking`).
    """
    import pyarrow.parquet as pq

    final = run_folder(workspace, run_id)
    folder = final.with_name(f".{final.name}.{os.getpid()}.part")
    for made in (folder.parent, folder):
        made.mkdir(exist_ok=True, mode=0o700)
        os.chmod(made, 0o700)
    written = {"pairs.parquet": pairs.select(["unique_id_l", "unique_id_r", "match_probability"]),
               "negatives.parquet": negatives,
               "records.parquet": features.select(["unique_id", "source_id", "record_id"])}
    if blocked is not None and blocking_key is not None:
        written["blocked.parquet"] = blocked.replace_schema_metadata({_BLOCKING_KEY: blocking_key})
    for name, table in written.items():
        pq.write_table(table, folder / name, compression="zstd")
        os.chmod(folder / name, 0o600)  # the workspace's files are its owner's alone, whatever the umask
    if context is not None:
        # In Arrow's own file format: written and read in a quarter of Parquet's time (0.04 s against
        # 0.15 s each way at 57,000 records), and only ever read back by the next run.
        path = folder / "features.arrow"
        with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_file(
                sink, features.schema.with_metadata({_CONTEXT_KEY: context}),
                options=pa.ipc.IpcWriteOptions(compression="zstd")) as writer:
            writer.write_table(features.replace_schema_metadata({_CONTEXT_KEY: context}))
        os.chmod(path, 0o600)
    return folder


def _read_parquet(path: Path, columns: list[str] | None = None) -> pa.Table:
    """One of a run's files, whole. (Not ``pq.read_table``: its first call imports Arrow's dataset
    machinery, half a second of every ``link run`` for files that are one piece each.)"""
    import pyarrow.parquet as pq

    with pq.ParquetFile(path) as kept:
        return kept.read(columns=columns)


def publish_run_pairs(part: Path, final: Path) -> None:
    """Put a run's kept pairs in place (replacing a folder a run that never committed left there)."""
    if final.exists():
        shutil.rmtree(final)
    os.replace(part, final)


_CONTEXT_KEY = b"dadkhah.features_context"


_BLOCKING_KEY = b"dadkhah.blocking"


def _latest_kept_folder(workspace: Path, session: Session) -> Path | None:
    latest = session.scalar(sa.select(LinkageRun.id).where(LinkageRun.finished_at.is_not(None))
                            .order_by(LinkageRun.id.desc()).limit(1))
    return _kept_folder(workspace, latest) if latest is not None else None


def _blocking_digest(model: LinkageModel, context: str, engine: str) -> str:
    """What the pairs a run's blocking makes depend on besides the records: the rules, the features'
    context (their version and the software's) and the engine's version."""
    return hashlib.sha256(json.dumps({"rules": [dataclasses.asdict(r) for r in model.blocking_rules], "context": context,
                                      "engine": engine, "splink": _splink_version()}, sort_keys=True).encode()).hexdigest()


def earlier_blocking(workspace: Path, session: Session, key: str) -> EarlierPairs | None:
    """The pairs the latest committed run's blocking made, and the records it made them among, if
    made under ``key`` (:func:`_blocking_digest`); else None.

    Whether two records are paired depends on the two records alone (an equality of their keys), and
    a record never changes once imported: among records the earlier run saw, the pairs are the same.
    """
    import pyarrow.parquet as pq

    folder = _latest_kept_folder(workspace, session)
    if folder is None or not (folder / "blocked.parquet").exists():
        return None
    try:
        if (pq.read_schema(folder / "blocked.parquet").metadata or {}).get(_BLOCKING_KEY) != key.encode():
            return None
        return EarlierPairs(pairs=_read_parquet(folder / "blocked.parquet"),
                            records=_read_parquet(folder / "records.parquet", columns=["unique_id"])["unique_id"].combine_chunks())
    except (OSError, pa.ArrowException):
        return None  # unreadable: blocked afresh


def earlier_features(workspace: Path, session: Session, context: str) -> pa.Table | None:
    """The features the latest committed run kept, if they were worked out in ``context``; else None."""
    folder = _latest_kept_folder(workspace, session)
    if folder is None or not (folder / "features.arrow").exists():
        return None  # (runs before this version kept them as features.parquet: worked out afresh once)
    try:
        with pa.OSFile(str(folder / "features.arrow")) as source:
            kept = pa.ipc.open_file(source)
            if (kept.schema.metadata or {}).get(_CONTEXT_KEY) != context.encode():
                return None
            return kept.read_all()
    except (OSError, pa.ArrowException):
        return None  # unreadable: worked out afresh


def load_run_pairs(workspace: Path, run_id: int) -> tuple[pa.Table, pa.Table, pa.Table]:
    """(pairs, negatives, records) of a run, as saved by :func:`save_run_pairs`."""
    folder = _kept_folder(workspace, run_id)
    if folder is None:
        raise DadkhahError(f"linkage run {run_id} kept no scored pairs (runs before this version did not); run `dadkhah link run` again")
    return (_read_parquet(folder / "pairs.parquet"), _read_parquet(folder / "negatives.parquet"),
            _read_parquet(folder / "records.parquet"))


class _KeptPairs:
    """A run's scored pairs with today's review decisions, ready to be clustered again."""

    def __init__(self, store: Store, run_id: int):
        pairs, negatives, records = load_run_pairs(store.workspace.path, run_id)
        keys = list(zip(records["source_id"].to_pylist(), records["record_id"].to_pylist(), strict=True))
        self.uid_of = dict(zip(keys, records["unique_id"].to_pylist(), strict=True))
        self.ids = records["unique_id"].to_pylist()
        with store.session() as session:
            decisions = active_decisions(session)
            run = session.get(LinkageRun, run_id)
            low, high = (run.parameters or {}).get("uncertain_band") or (run.review_low, run.review_high)
            self.band = (min(low, run.threshold), high)
        uid_of = self.uid_of
        self.same = [(uid_of[a], uid_of[b]) for a, b, d, _ in decisions if d == "same" and a in uid_of and b in uid_of]
        self.different = [(uid_of[a], uid_of[b]) for a, b, d, _ in decisions
                          if d == "different" and a in uid_of and b in uid_of]
        # In a fixed order (by record), not the file's: the engine writes the pairs in an order that
        # differs from run to run, and the draws of sample_clusterings go by position, so the same
        # seed drew other clusterings for the same records and the same pairs (three builds of the
        # demo from the same lists and seed gave 4,733, 4,738 and 4,748).
        left, right = pairs["unique_id_l"].to_numpy(), pairs["unique_id_r"].to_numpy()
        order = np.lexsort((right, left))
        self.left, self.right = left[order], right[order]
        self.probability = pairs["match_probability"].to_numpy()[order]
        self.negatives = (negatives["unique_id_l"].to_numpy(), negatives["unique_id_r"].to_numpy())

    def cluster(self, probability: np.ndarray, threshold: float) -> dict[tuple[int, str], int]:
        clustering = cluster_records(self.ids, self.left, self.right, probability, threshold=threshold,
                                     same=self.same, different=self.different, negatives=self.negatives)
        return {key: clustering.labels[uid] for key, uid in self.uid_of.items()}


def recluster(store: Store, run_id: int, threshold: float) -> dict[tuple[int, str], int]:
    """The clustering a run's scored pairs give at another threshold, under today's decisions.

    Returns (source_id, record_id) -> cluster label. Used to see how much an estimate depends on
    where the linkage threshold is set.
    """
    kept = _KeptPairs(store, run_id)
    return kept.cluster(kept.probability, threshold)


def sample_clusterings(store: Store, run_id: int, replicates: int, rng: np.random.Generator):
    """Clusterings drawn from what a run was unsure of, one per replicate, under today's decisions.

    A pair scored above the run's review band is linked in every draw; a pair in the band is linked
    with its match probability, independently in each draw (as is a pair the run linked below the
    band, when its threshold was set below it); pairs below the band (not kept) never.
    Review decisions bind in every draw, and strong negatives keep records apart as in a run.
    Yields (source_id, record_id) -> cluster label, ``replicates`` times.
    """
    kept = _KeptPairs(store, run_id)
    low, high = kept.band
    # Drawn links keep their probability, so that the strongest are still taken first.
    draws = ClusteringDraws(kept.ids, kept.left, kept.right, kept.probability, sure=high, unsure=low,
                            same=kept.same, different=kept.different, negatives=kept.negatives)
    for _ in range(replicates):
        labels = draws.draw(rng.random(kept.probability.shape[0]) < kept.probability)
        yield {key: labels[uid] for key, uid in kept.uid_of.items()}


def kept_floor(run: LinkageRun) -> float:
    """The lowest match probability among the pairs a run kept (its review band's floor on older runs)."""
    uncertain = (run.parameters or {}).get("uncertain_band")
    return min(run.review_low, run.threshold, uncertain[0]) if uncertain else run.review_low


def _kept_folder(workspace: Path, run_id: int) -> Path | None:
    """Where a committed run's kept pairs are: their folder, or the ``.part`` folder of a process
    that died between the run's commit and putting them in place (not yet swept); None if neither."""
    folder = run_folder(workspace, run_id)
    if (folder / "pairs.parquet").exists():
        return folder
    for pending in sorted(folder.parent.glob(f".{folder.name}.*.part")) if folder.parent.is_dir() else []:
        owner = pending.name.rsplit(".", 2)[-2]
        if owner.isdigit() and not process_alive(int(owner)) and (pending / "pairs.parquet").exists():
            return pending
    return None


def kept_pairs(store: Store, run_id: int) -> bool:
    """Whether a run kept its scored pairs (runs of older versions did not)."""
    return _kept_folder(store.workspace.path, run_id) is not None


def _review_rows(run_id: int, pairs: pa.Table, details: pa.Table, threshold: float, labels: dict[int, int],
                 paths: list[float | None]) -> list[dict]:
    """Review-queue rows: each pair with its probability, each comparison's weight, and what a decision would move.

    ``labels`` is the run's clustering (record -> cluster): a pair whose records ended in one person
    would move that person's records if decided "different"; a pair left apart would bring both
    persons' records together if decided "same". ``paths``: for each pair of ``details``, in order,
    the chance of the best chain of the person's other links between its records
    (:func:`~dadkhah.link.clustering.other_paths`).
    """
    if details.num_rows == 0:
        return []
    size: dict[int, int] = {}
    for label in labels.values():
        size[label] = size.get(label, 0) + 1
    probability = {(a, b): (p, w) for a, b, p, w in zip(
        pairs["unique_id_l"].to_pylist(), pairs["unique_id_r"].to_pylist(),
        pairs["match_probability"].to_pylist(), pairs["match_weight"].to_pylist(), strict=True)}
    weight_columns = [c for c in details.column_names if c.startswith("mw_") and not c.startswith("mw_tf_adj_")]
    columns = {c: details[c].to_pylist() for c in details.column_names if c.startswith("mw_")}
    rows = []
    for i, (a, b) in enumerate(zip(details["unique_id_l"].to_pylist(), details["unique_id_r"].to_pylist(), strict=True)):
        p, w = probability[(a, b)]
        weights = {c[3:]: _number(columns[c][i]) for c in weight_columns}
        weights |= {f"tf:{c[10:]}": _number(columns[c][i]) for c in columns if c.startswith("mw_tf_adj_") and _number(columns[c][i])}
        together = labels[a] == labels[b]
        affected = size[labels[a]] if together else size[labels[a]] + size[labels[b]]
        rows.append({"run_id": run_id, "record_l": a, "record_r": b, "match_probability": float(p),
                     "match_weight": float(w), "weights": weights, "linked": bool(p >= threshold),
                     "together": together, "records_affected": affected, "other_path": paths[i]})
    return rows


def _number(value) -> float | None:
    if value is None:
        return None
    value = float(value)
    return None if value != value else round(value, 3)  # NaN -> None


def read_truth(path: str | Path) -> dict[tuple[str, str], str]:
    """``source,record_id,person_id`` rows; errors name the file and line."""
    path = Path(path)
    if not path.is_file():
        raise InputError("truth file not found", file=str(path))
    from dadkhah.ingest.readers import small_table

    truth: dict[tuple[str, str], str] = {}
    given_on: dict[tuple[str, str], int] = {}
    with small_table(path) as rows:
        _, header = next(rows, (1, []))
        columns = {name.strip().casefold(): i for i, name in reversed(list(enumerate(header)))}
        missing = {"source", "record_id", "person_id"} - set(columns)
        if missing:
            raise InputError(f"the truth file needs the columns source, record_id, person_id (missing {sorted(missing)})", file=str(path), line=1)
        at = [columns["source"], columns["record_id"], columns["person_id"]]
        for line, cells in rows:
            if not any(cell.strip() for cell in cells):
                continue
            source, record_id, person_id = (cells[i].strip() if i < len(cells) else "" for i in at)
            if not source or not record_id or not person_id:
                raise InputError("empty source, record_id or person_id", file=str(path), line=line)
            key = (source, record_id)
            if key in truth and truth[key] != person_id:
                raise InputError(f"{source}:{record_id} is given to person {truth[key]} on line {given_on[key]} and to "
                                 f"{person_id} here: a record is one person", file=str(path), line=line)
            truth[key], given_on[key] = person_id, line
    return truth


def evaluate_linkage(store: Store, truth_path: str | Path) -> dict:
    """Scores of the current persons against known truth (see :mod:`dadkhah.link.evaluate`)."""
    truth = read_truth(truth_path)
    with store.session() as session:
        predicted = {(source, record_id): person for source, record_id, person in iter_memberships(session)}
        run = session.scalar(sa.select(LinkageRun.id).where(LinkageRun.finished_at.is_not(None)).order_by(LinkageRun.id.desc()).limit(1))
    if not predicted:
        raise DadkhahError("no persons yet: run `dadkhah link run` first")
    if not truth:
        raise InputError("names no record: nothing to score against", file=str(truth_path))
    if not any(key in predicted for key in truth):  # 0 of 0 pairs right is no score of 1.0
        named = sorted({source for source, _ in truth})
        held = sorted({source for source, _ in predicted})
        raise InputError(f"none of its {len(truth):,} records is one of the registry's: it names the sources "
                         f"{', '.join(named[:10])}{'…' if len(named) > 10 else ''}, the registry holds "
                         f"{', '.join(held[:10])}{'…' if len(held) > 10 else ''} (check the sources' names and the "
                         "record ids as the lists give them)", file=str(truth_path))
    scores = evaluate_clusters(predicted, truth)
    warnings = []
    if scores["truth_records_not_predicted"] > scores["records"]:
        warnings.append(f"only {scores['records']:,} of the truth file's {len(truth):,} records are in the registry: "
                        "the scores are of those alone (check the other records' sources and ids)")
    if not scores["pairwise"]["true_pairs"] or not scores["pairwise"]["predicted_pairs"]:
        warnings.append("no two of the records scored are one person, in the truth file or in the registry: a pairwise "
                        "score of 1.0 then means nothing was there to get wrong")
    return {"run_id": run, "truth": str(truth_path)} | scores | {"warnings": warnings}
