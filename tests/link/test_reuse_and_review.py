"""The review queue: ordered by what a decision would change, and calibrated by the team's decisions."""

from __future__ import annotations

import numpy as np
import sqlalchemy as sa

from dadkhah.link.review import (
    Calibration,
    calibration,
    chance_same,
    fit_calibration,
    latest_run,
    review_queue,
)
from dadkhah.link.run import run_linkage
from dadkhah.model import ReviewPair
from tests.conftest import TESTER, decide_alternately


def test_the_queue_puts_first_the_pairs_whose_decision_would_move_the_most(copy_of_linked):
    with copy_of_linked.session() as session:
        queue = review_queue(session, limit=None)
        stored = {row.id: row for row in session.scalars(sa.select(ReviewPair).where(ReviewPair.run_id == queue["run_id"]))}
    pairs = queue["pairs"]
    assert pairs and len(pairs) == queue["total"]
    impact = [p["chance_wrong"] * p["records_affected"] for p in pairs]
    assert impact == sorted(impact, reverse=True)
    for p in pairs:
        row = stored[p["id"]]
        assert p["together"] == row.together and p["records_affected"] == row.records_affected >= 2
        # Uncalibrated, the chance the run is wrong is the model's own probability of the other
        # answer, or for a joined pair the chance of the person's other links, when higher.
        assert (row.other_path is None) == (not row.together)
        same = row.match_probability if row.other_path is None else max(row.match_probability, row.other_path)
        expected = 1 - same if row.together else same
        assert abs(p["chance_wrong"] - expected) < 1e-3
    assert queue["calibration"] is None
    assert abs(queue["expected_changes"] - sum(p["chance_wrong"] for p in pairs)) <= 0.05 + 0.0005 * len(pairs)


def test_a_pair_kept_apart_moves_both_persons_records(copy_of_linked):
    """records_affected counts the records of the person(s) a decision would touch, from the run's clustering."""
    from dadkhah.registry.persons import iter_memberships

    with copy_of_linked.session() as session:
        queue = review_queue(session, limit=None)
        person_of = {(source, record): person for source, record, person in iter_memberships(session)}
    sizes: dict[str, int] = {}
    for person in person_of.values():
        sizes[person] = sizes.get(person, 0) + 1
    for p in queue["pairs"]:
        a = person_of[(p["record_a"]["source"], p["record_a"]["record_id"])]
        b = person_of[(p["record_b"]["source"], p["record_b"]["record_id"])]
        assert p["together"] == (a == b)
        assert p["records_affected"] == (sizes[a] if a == b else sizes[a] + sizes[b])


def test_calibration_recovers_how_often_the_model_is_right():
    rng = np.random.default_rng(7)
    p = rng.uniform(0.05, 0.95, 4000)
    truth = Calibration(decisions=0, a=1.2, b=0.6)
    same = rng.random(p.size) < truth(p)
    fitted = fit_calibration(p, same)
    assert fitted is not None and abs(fitted.a - 1.2) < 0.15 and abs(fitted.b - 0.6) < 0.1
    assert fit_calibration(p[:10], same[:10]) is None, "too few decisions: no calibration"
    assert fit_calibration(p[:100], np.ones(100, dtype=bool)) is None, "only one kind of decision: no calibration"
    # Decisions that all agree with the model (perfect separation) still give a finite answer.
    separated = fit_calibration(np.r_[np.full(20, 0.2), np.full(20, 0.8)], np.r_[np.zeros(20), np.ones(20)])
    assert separated is not None and np.isfinite([separated.a, separated.b]).all()


def test_calibration_is_not_misled_by_the_order_the_queue_shows_pairs_in():
    """The queue shows first the pairs whose decision would move the most records; when the run's
    clustering says something the model's probability does not (joined pairs are mostly one person,
    pairs between large persons mostly not), a fit on the probability alone reads that choice as the
    model's error. With the clustering in the fit, the chances of the pairs left are right."""
    rng = np.random.default_rng(11)
    n = 3000
    p = rng.uniform(0.38, 0.62, n)  # a review band: the model says little here
    together = rng.random(n) < 0.55
    affected = rng.integers(2, 17, n).astype(float)
    truth = Calibration(decisions=0, a=0.8, b=0.5, c=2.0, d=-1.0)
    same = rng.random(n) < truth(p, together, affected)
    # Reviewers take the pairs in the queue's order: chance wrong x records moved, the chance read
    # through the calibration of the decisions so far once there is one (ten decisions at a time).

    def reviewed(fit):
        shown = np.zeros(n, dtype=bool)
        calibrated = None
        for _ in range(20):
            chance = p if calibrated is None else calibrated(p, together, affected)
            impact = np.where(together, 1 - chance, chance) * affected
            shown[np.argsort(np.where(shown, np.inf, -impact), kind="stable")[:10]] = True
            calibrated = fit(shown)
        return shown, calibrated

    shown, clustered = reviewed(lambda s: fit_calibration(p[s], same[s], together[s], affected[s]))
    alone_shown, alone = reviewed(lambda s: fit_calibration(p[s], same[s]))
    assert clustered is not None and alone is not None
    left, alone_left = ~shown, ~alone_shown
    def error(left, chance):
        """How far the expected number of decisions left that would change the registry is from the truth."""
        wrong = np.where(together[left], ~same[left], same[left]).sum()
        return abs(np.where(together[left], 1 - chance, chance).sum() - wrong) / wrong

    # (The decisions are of the largest persons, so what holds for the smallest is extrapolated: 0.14 off.)
    assert error(left, clustered(p[left], together[left], affected[left])) < 0.25
    assert error(alone_left, alone(p[alone_left])) > 0.5, "the fit on the probability alone is misled (0.71 off)"
    assert abs(clustered.c - 2.0) < 0.6 and clustered.d < -0.2


def test_calibration_reads_pairs_held_apart_and_pairs_other_links_join():
    """Two things the run knows of a queued pair besides its score: other links of the person that
    join its records (then it is more likely one person), and being held apart although scored above
    the threshold (joining it would have joined records the model scored as strongly different: then
    less likely). With both in the fit, decisions taken in the queue's order leave the pairs left
    with the right expectation; without them, not."""
    rng = np.random.default_rng(5)
    n = 3000
    p = rng.uniform(0.38, 0.62, n)
    together = rng.random(n) < 0.5
    linked = p >= 0.5
    path = np.where(together & (rng.random(n) < 0.6), rng.uniform(0.3, 0.99, n), np.nan)
    affected = rng.integers(2, 9, n).astype(float)
    truth = Calibration(decisions=0, a=0.5, b=1.0, c=0.5, d=-0.8, e=1.5, f=-2.0)
    same = rng.random(n) < truth(p, together, affected, path, linked)
    assert abs(Calibration(0, 0.0, 1.0)(p, together, affected, path, linked) - chance_same(p, path)).max() < 1e-9, \
        "with no decisions, the chances are what the run says"

    def reviewed(fit):
        shown = np.zeros(n, dtype=bool)
        calibrated = None
        for _ in range(30):
            chance = chance_same(p, path) if calibrated is None else calibrated(p, together, affected, path, linked)
            impact = np.where(together, 1 - chance, chance) * affected
            shown[np.argsort(np.where(shown, np.inf, -impact), kind="stable")[:10]] = True
            calibrated = fit(shown)
        return shown, calibrated

    def error(shown, chance):
        left = ~shown
        wrong = np.where(together[left], ~same[left], same[left]).sum()
        return abs(np.where(together[left], 1 - chance[left], chance[left]).sum() - wrong) / wrong

    shown, full = reviewed(lambda s: fit_calibration(p[s], same[s], together[s], affected[s], path[s], linked[s]))
    assert full.f < -0.5 and full.e > 0.5
    full_error = error(shown, full(p, together, affected, path, linked))
    assert full_error < 0.12  # (0.06; over six seeds 0.01-0.09)
    blind_shown, blind = reviewed(lambda s: fit_calibration(p[s], same[s], together[s], affected[s]))
    assert error(blind_shown, blind(p, together, affected)) > 2 * full_error, "without them the fit is misled (0.25)"


def test_decisions_calibrate_the_queue(copy_of_linked):
    """Once the team has decided enough pairs, the queue's chances are read through their calibration."""
    run_linkage(copy_of_linked, actor=TESTER, review_band=(0.001, 0.9999))  # the small case's band holds 4 pairs
    with copy_of_linked.session() as session:
        queue = review_queue(session, limit=None)
    pairs = queue["pairs"]
    assert len(pairs) >= 20, "the linked case has enough pairs to calibrate on"
    # The team finds every other pair to be one person, whatever the model said.
    assert decide_alternately(copy_of_linked, pairs, 24) == 24
    with copy_of_linked.session() as session:
        fitted = calibration(session)
        after = review_queue(session, limit=None)
    assert fitted is not None and fitted.decisions == 24
    assert after["calibration"] == fitted.to_dict()
    assert after["total"] == queue["total"] - 24
    with copy_of_linked.session() as session:
        threshold = latest_run(session).threshold
    probability = np.array([p["match_probability"] for p in after["pairs"]])
    calibrated = fitted(probability, np.array([p["together"] for p in after["pairs"]]),
                        np.array([p["records_affected"] for p in after["pairs"]]),
                        np.array([np.nan if p["other_path"] is None else p["other_path"] for p in after["pairs"]]),
                        probability >= threshold)
    for p, c in zip(after["pairs"], calibrated, strict=True):
        assert abs(p["chance_wrong"] - (1 - c if p["together"] else c)) < 1e-3
    # `review list` says it, for joined pairs and for pairs kept apart.
    from typer.testing import CliRunner

    from dadkhah.cli import app

    said = CliRunner().invoke(app, ["--workspace", str(copy_of_linked.workspace.path), "review", "list", "--limit", "1"],
                              catch_exceptions=False).stdout
    said = " ".join(said.split())
    shares = fitted.to_dict()["same_person_share_at"]
    assert "Calibrated on 24 decisions" in said
    assert f"{shares['joined']['0.5']:.0%} and {shares['joined']['0.7']:.0%} of the time when the run joined them" in said
    assert f"{shares['kept_apart']['0.5']:.0%} and {shares['kept_apart']['0.7']:.0%} when it kept them apart" in said


def test_linking_again_after_the_decisions_leaves_their_calibration_as_it_was(copy_of_linked):
    """The next run obeys the decisions, so its clustering of a decided pair would say what was
    decided, not what the reviewer saw: it does not queue decided pairs, and the calibration reads
    each decision against the queue it was taken from, unchanged by linking again."""
    run_linkage(copy_of_linked, actor=TESTER, review_band=(0.001, 0.9999))
    with copy_of_linked.session() as session:
        pairs = review_queue(session, limit=None)["pairs"]
    assert decide_alternately(copy_of_linked, pairs, 24) == 24
    with copy_of_linked.session() as session:
        before = calibration(session)
    run_linkage(copy_of_linked, actor=TESTER, review_band=(0.001, 0.9999))
    with copy_of_linked.session() as session:
        after = calibration(session)
        runs = set(session.scalars(sa.select(ReviewPair.run_id)))
    assert len(runs) >= 3, "the second run queued pairs too"
    assert before is not None and after == before


def test_a_second_run_reuses_the_model_unless_told_or_the_records_changed(copy_of_linked):
    first = run_linkage(copy_of_linked, actor=TESTER, retrain=True)
    again = run_linkage(copy_of_linked, actor=TESTER)
    assert again.training["retrained"] is False
    assert again.training["trained_in_run"] == first.run_id
    assert "same make-up" in again.training["reason"]
    assert again.stage_seconds["engine_train"] < 0.5
    assert (again.persons, again.pairs_linked) == (first.persons, first.pairs_linked)
    forced = run_linkage(copy_of_linked, actor=TESTER, retrain=True)
    assert forced.training == {"retrained": True, "trained_in_run": forced.run_id, "reason": "retraining was asked for"}
    other_seed = run_linkage(copy_of_linked, actor=TESTER, seed=7)
    assert other_seed.training["retrained"] and "different seed" in other_seed.training["reason"]


def test_features_computed_differently_retrain_the_model(copy_of_linked, monkeypatch):
    # A model's weights belong to the features it was trained on: when the code computes a feature
    # differently (a new version), the model an earlier run trained is not used again.
    import dadkhah.link.run as link_run

    run_linkage(copy_of_linked, actor=TESTER, retrain=True)
    monkeypatch.setattr(link_run, "FEATURES_VERSION", link_run.FEATURES_VERSION + 1)
    again = run_linkage(copy_of_linked, actor=TESTER)
    assert again.training["retrained"] is True
    assert again.training["reason"] == "the linkage model's definition has changed"


def test_splink_messages_reach_the_run_summary_not_the_terminal(capfd):
    import logging
    import warnings

    from dadkhah.link.engine import plain_notes, splink_messages

    splink = logging.getLogger("splink")
    before = (list(splink.handlers), splink.propagate, splink.level)
    with splink_messages() as messages:
        for _ in range(3):  # one per training pass, as Splink says it
            logging.getLogger("splink.internals.expectation_maximisation").warning(
                "WARNING:\nLevel same day on comparison birth_date not observed in dataset, unable to train m value\n")
        logging.getLogger("splink.internals.expectation_maximisation").warning(
            "WARNING:\nLevel All other comparisons on comparison death_date not observed in dataset, unable to train m value\n")
        warnings.warn("The sampled blocking analysis estimate for blocking rule 'x' is based on 507 sampled pairwise "
                      "comparisons.", UserWarning, stacklevel=1)
        warnings.warn("something Splink wants the user to know", UserWarning, stacklevel=1)
        logging.getLogger("splink.internals.estimate_u").warning(
            "You are using the default value for `max_pairs`, which may be too small ...")
        logging.getLogger("splink.internals.em").warning("[EM sampling] Probe returned zero blocked pairs; skipping sampling.")
    captured = capfd.readouterr()
    assert "not observed" not in captured.err + captured.out and "sampled" not in captured.err
    notes = plain_notes(messages, {"birth_date": "birth date", "death_date": "date of death"})
    assert notes == ["training met no example of some comparison levels (birth date: 'same day'; date of death: "
                     "'different'); their weights come from smoothing, not from these records",
                     "something Splink wants the user to know"]
    assert (list(splink.handlers), splink.propagate, splink.level) == before, "Splink's logger is left as it was"


def test_link_run_says_whether_it_trained_and_prints_no_engine_chatter(linked, tmp_path):
    import os
    import shutil
    import subprocess
    import sys

    target = tmp_path / "ws"
    shutil.copytree(linked[0], target)
    env = {k: v for k, v in os.environ.items() if k != "DADKHAH_DATABASE_URL"}
    done = subprocess.run([sys.executable, "-m", "dadkhah", "--workspace", str(target), "link", "run", "--review-band", "0.2,0.9"],
                          capture_output=True, text=True, env=env, check=True)
    assert "Model: the one run 1 trained, used again" in done.stdout
    said = " ".join(done.stdout.split())
    assert "pairs its rules made among records still current (the new records made 0 more)" in said, said
    assert "by the run's own reckoning (the model's probabilities, and the persons' other links) about" in said, said
    assert "WARNING" not in done.stdout + done.stderr and "Level " not in done.stdout + done.stderr
    retrained = subprocess.run([sys.executable, "-m", "dadkhah", "--workspace", str(target), "link", "run", "--retrain"],
                               capture_output=True, text=True, env=env, check=True)
    assert "Model: trained in this run (retraining was asked for)." in retrained.stdout


def test_what_counts_as_a_material_change_in_the_records():
    from dadkhah.link.run import PROFILED, _changes

    trained = {"records": 50_000, "missing": dict.fromkeys(PROFILED, 0.1) | {"father_key": 0.3},
               "scripts": {"persian": 0.6, "latin": 0.4}}
    a_small_list = {"records": 51_000, "missing": dict.fromkeys(PROFILED, 0.12) | {"father_key": 0.32},
                    "scripts": {"persian": 0.62, "latin": 0.38}}
    assert _changes(trained, a_small_list) == []
    grown = a_small_list | {"records": 64_000}
    assert _changes(trained, grown) == ["the records went from 50,000 to 64,000 (more than 25% either way)"]
    fathers_gone = a_small_list | {"missing": a_small_list["missing"] | {"father_key": 0.55}}
    assert _changes(trained, fathers_gone) == [
        "the father's name is missing in 55% of records, 30% when the model was trained"]
    new_script = a_small_list | {"scripts": {"persian": 0.45, "latin": 0.35, "arabic": 0.2}}
    assert _changes(trained, new_script) == [
        "20% of records are in the arabic script, 0% when the model was trained",
        "45% of records are in the persian script, 60% when the model was trained"]
    lists = {"lists": 4, "same_list": 0.27}
    assert _changes(trained | lists, a_small_list | {"lists": 5, "same_list": 0.25}) == []
    assert _changes(trained | lists, a_small_list | {"lists": 4, "same_list": 0.4}) == [
        "two records come from one list 40% of the time, 27% when the model was trained"]
    # Trained on one list, the model never saw two records of different lists: a second list, however small, retrains.
    assert _changes(trained | {"lists": 1, "same_list": 1.0}, a_small_list | {"lists": 2, "same_list": 0.96}) == [
        "the model was trained on the records of one list; they now come from 2"]
    # Trained on records of one gender, the model never saw two records differ on it (nor two cities, two prisons).
    assert _changes(trained | {"one_value": ["gender"]}, a_small_list | {"one_value": []}) == [
        "every record gave the same value for the gender when the model was trained; now they differ"]
    assert _changes(trained | {"one_value": ["gender"]}, a_small_list | {"one_value": ["gender"]}) == []


def test_a_model_trained_on_men_only_is_trained_again_when_women_are_listed(small_case, tmp_path, monkeypatch):
    """Trained on records that all say "male", a model would weigh a different gender by smoothing alone: +13 bits
    *for* one person, so that a brother and a sister of one father would become one. A short list naming women
    (too short to change the records' number or make-up otherwise) makes the next run train again."""
    import csv

    from dadkhah.ingest.importer import import_file
    from dadkhah.store import open_store
    from dadkhah.workspace import create_workspace

    monkeypatch.delenv("DADKHAH_DATABASE_URL", raising=False)
    women = {"زن", "F", "female"}

    def rows_of(name: str, keep):
        with open(small_case / f"{name}.csv", encoding="utf-8", newline="") as handle:
            reader = csv.DictReader(handle)
            fields, rows = reader.fieldnames, [row for row in reader if keep(row)]
        path = tmp_path / f"{name}.csv"
        with open(path, "w", encoding="utf-8", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=fields)
            writer.writeheader()
            writer.writerows(rows)
        return path

    with open_store(create_workspace(tmp_path / "ws")) as store:
        for name in ("list-1", "list-2", "list-4"):
            import_file(store, rows_of(name, lambda row: row["gender"] not in women), source=name, actor=TESTER)
        first = run_linkage(store, actor=TESTER)
        import_file(store, rows_of("list-3", lambda row: row["gender"] in women), source="list-3", actor=TESTER)
        again = run_linkage(store, actor=TESTER)
    assert first.training["retrained"] is True
    assert again.training == {"retrained": True, "trained_in_run": again.run_id, "reason":
                              "every record gave the same value for the gender when the model was trained; now they differ"}


def test_a_model_trained_on_one_list_is_trained_again_when_a_second_list_comes(small_case, tmp_path, monkeypatch):
    """What two records of different lists are worth cannot be learnt from one list: a small second list
    (too small to change the records' number or make-up otherwise) makes the next run train again."""
    import csv

    from dadkhah.ingest.importer import import_file
    from dadkhah.store import open_store
    from dadkhah.workspace import create_workspace

    monkeypatch.delenv("DADKHAH_DATABASE_URL", raising=False)
    with open_store(create_workspace(tmp_path / "ws")) as store:
        import_file(store, small_case / "list-1.csv", source="list-1", actor=TESTER)
        first = run_linkage(store, actor=TESTER)
        assert first.training["retrained"] is True
        with open(small_case / "list-2.csv", encoding="utf-8", newline="") as handle:
            rows = list(csv.reader(handle))
        few = tmp_path / "few.csv"
        with open(few, "w", encoding="utf-8", newline="") as handle:
            csv.writer(handle).writerows(rows[:6])  # the header and five records
        import_file(store, few, source="list-2", actor=TESTER)
        again = run_linkage(store, actor=TESTER)
    assert again.training == {"retrained": True, "trained_in_run": again.run_id,
                              "reason": "the model was trained on the records of one list; they now come from 2"}


def test_decisions_hold_in_the_queue_and_its_calibration_across_a_corrected_list(copy_of_linked, small_case, tmp_path):
    """A decision names two records, not two rows: once their lists are corrected (every row a new
    version) and linked again, the decided pairs stay out of the queue, and each decision is counted
    once in the calibration, not once per version."""
    import csv

    from dadkhah.ingest.importer import import_file

    run_linkage(copy_of_linked, actor=TESTER, review_band=(0.001, 0.9999))
    with copy_of_linked.session() as session:
        pairs = review_queue(session, limit=None)["pairs"]
    assert decide_alternately(copy_of_linked, pairs, 24) == 24
    made = {frozenset(pair) for pair in _decided_refs(copy_of_linked)}
    for source in sorted({ref.split(":")[0] for pair in made for ref in pair}):
        with open(small_case / f"{source}.csv", encoding="utf-8", newline="") as given:
            rows = list(csv.reader(given))
        corrected = tmp_path / f"{source}.csv"
        with open(corrected, "w", encoding="utf-8", newline="") as out:
            csv.writer(out).writerows([rows[0] + ["notes"]] + [row + ["corrected"] for row in rows[1:]])
        assert import_file(copy_of_linked, corrected, source=source, actor=TESTER).imported == len(rows) - 1
    run_linkage(copy_of_linked, actor=TESTER, review_band=(0.001, 0.9999))
    with copy_of_linked.session() as session:
        after = review_queue(session, limit=None)
        fitted = calibration(session)
    queued = {frozenset((p["record_a"]["ref"], p["record_b"]["ref"])) for p in after["pairs"]}
    assert len(made) == 24 and not queued & made, "a decided pair is never queued again"
    assert fitted is not None and fitted.decisions == 24


def _decided_refs(store) -> list[tuple[str, str]]:
    from dadkhah.link.review import list_decisions

    with store.session() as session:
        return [(d["record_a"], d["record_b"]) for d in list_decisions(session) if d["replaced_by"] is None]


def test_the_queue_is_read_again_when_a_new_run_replaces_it(copy_of_linked):
    """The latest run's queue is kept between calls (it is written once, with its run): a new run's
    queue is read afresh, pair for pair."""
    with copy_of_linked.session() as session:
        first = review_queue(session, limit=None)
    run_linkage(copy_of_linked, actor=TESTER, review_band=(0.001, 0.9999))
    with copy_of_linked.session() as session:
        second = review_queue(session, limit=None)
        stored = set(session.scalars(sa.select(ReviewPair.id).where(ReviewPair.run_id == second["run_id"])))
    assert second["run_id"] != first["run_id"]
    assert second["total"] == len(stored) > first["total"]
    assert {p["id"] for p in second["pairs"]} == stored
