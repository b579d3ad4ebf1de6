"""Linkage end to end on synthetic cases whose truth is known."""

from __future__ import annotations

import csv
from collections import defaultdict

import pyarrow as pa
import pytest
import sqlalchemy as sa

from dadkhah.audit import list_audit
from dadkhah.errors import DadkhahError, InputError
from dadkhah.ingest.importer import import_file
from dadkhah.link import engine
from dadkhah.link.features import record_features
from dadkhah.link.model import DEFAULT_MODEL
from dadkhah.link.review import decide, review_queue
from dadkhah.link.run import evaluate_linkage, run_linkage
from dadkhah.model import LinkageRun, RegistryEvent
from dadkhah.registry.persons import describe_person, export_persons, iter_memberships
from dadkhah.store import open_store
from dadkhah.workspace import create_workspace, load_workspace
from tests.conftest import TESTER, write


def read(path):
    with open(path, encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def memberships(store) -> dict[str, str]:
    with store.session() as session:
        return {f"{s}:{r}": p for s, r, p in iter_memberships(session)}


def test_linkage_finds_the_persons_of_a_realistic_case(linked, small_case, monkeypatch, tmp_path):
    monkeypatch.delenv("DADKHAH_DATABASE_URL", raising=False)
    folder, summary = linked
    truth = read(small_case / "truth.csv")
    assert summary.records == len(truth)
    assert summary.persons < summary.records and summary.pairs_planned >= summary.pairs_scored > 0
    with open_store(load_workspace(folder)) as store:
        result = evaluate_linkage(store, small_case / "truth.csv")
    assert result["pairwise"]["f1"] >= 0.95, result["pairwise"]
    assert result["bcubed"]["f1"] >= 0.97, result["bcubed"]
    assert result["warnings"] == []
    # a truth file most of whose records are misspelt: the scores of the few left come with a warning
    rows = read(small_case / "truth.csv")
    mostly = tmp_path / "mostly.csv"
    with open(mostly, "w", encoding="utf-8", newline="") as handle:
        handle.write("source,record_id,person_id\n")
        for i, row in enumerate(rows):
            handle.write(f"{row['source'] if i < 2 else 'xx-' + row['source']},{row['record_id']},{row['person_id']}\n")
    with open_store(load_workspace(folder)) as store:
        partial = evaluate_linkage(store, mostly)
    assert partial["records"] == 2 and any("only 2 of" in w for w in partial["warnings"])
    # a truth file naming none of the registry's records (a misspelt source) scored a perfect 1.0
    for name, text, said in (("wrong.csv", "source,record_id,person_id\nnosuch,X,V1\n", "none of its 1 records"),
                             ("empty.csv", "source,record_id,person_id\n", "names no record")):
        with open_store(load_workspace(folder)) as store, pytest.raises(InputError, match=said) as refused:
            evaluate_linkage(store, write(tmp_path / name, text))
        assert refused.value.file == str(tmp_path / name)
        if name == "wrong.csv":
            assert "nosuch" in refused.value.message and "list-1" in refused.value.message


def test_a_rerun_on_unchanged_data_changes_no_id(copy_of_linked):
    before = memberships(copy_of_linked)
    summary = run_linkage(copy_of_linked, actor=TESTER)
    assert memberships(copy_of_linked) == before
    assert (summary.created, summary.merged, summary.split, summary.records_moved) == (0, 0, 0, 0)
    assert summary.unchanged == summary.persons


def test_adding_a_list_keeps_existing_ids(small_case, tmp_path, monkeypatch):
    monkeypatch.delenv("DADKHAH_DATABASE_URL", raising=False)
    lists = sorted(small_case.glob("list-*.csv"))
    with open_store(create_workspace(tmp_path / "ws")) as store:
        for path in lists[:-1]:
            import_file(store, path, source=path.stem, actor=TESTER)
        run_linkage(store, actor=TESTER)
        before = memberships(store)
        import_file(store, lists[-1], source=lists[-1].stem, actor=TESTER)
        summary = run_linkage(store, actor=TESTER)
        after = memberships(store)
        with store.session() as session:
            explained = {pid for row in session.execute(
                sa.select(RegistryEvent.person_id, RegistryEvent.other_person_id).where(RegistryEvent.kind.in_(("merged", "split"))))
                for pid in row if pid}
    assert summary.records > len(before)
    changed = {ref for ref, pid in before.items() if after[ref] != pid}
    # Every record keeps its person's id unless that person took part in a recorded merge or split.
    assert all(before[ref] in explained for ref in changed)
    assert len(changed) < 0.05 * len(before)


def test_decisions_bind_every_later_run(copy_of_linked, small_case):
    store = copy_of_linked
    truth = {f"{t['source']}:{t['record_id']}": t["person_id"] for t in read(small_case / "truth.csv")}
    now = memberships(store)
    by_person = defaultdict(list)
    for ref, pid in now.items():
        by_person[pid].append(ref)
    linked_pair = next(refs[:2] for refs in by_person.values() if len(refs) >= 2)
    apart = sorted(by_person.values(), key=len)
    unlinked_pair = (apart[0][0], apart[1][0])
    decide(store, "different", actor=TESTER, reason="different fathers in the family file", records=tuple(linked_pair))
    decide(store, "same", actor=TESTER, reason="same prison registry number", records=unlinked_pair)
    with store.session() as session:  # the person holding both records has the decision once (it was listed twice)
        person = memberships(store)[linked_pair[0]]
        said = [e for e in describe_person(session, person)["events"] if e["kind"] == "decision"]
    assert len(said) == 1, said
    for _ in range(2):  # the decisions hold on every later run, not just the next
        run_linkage(store, actor=TESTER)
        after = memberships(store)
        assert after[linked_pair[0]] != after[linked_pair[1]]
        assert after[unlinked_pair[0]] == after[unlinked_pair[1]]
    assert truth  # the truth file was read: the pairs above are real records


def test_a_contradictory_decision_is_refused(copy_of_linked):
    refs = list(memberships(copy_of_linked))[:3]
    decide(copy_of_linked, "same", actor=TESTER, reason="r", records=(refs[0], refs[1]))
    decide(copy_of_linked, "same", actor=TESTER, reason="r", records=(refs[1], refs[2]))
    with pytest.raises(DadkhahError, match="contradicts") as refused:
        decide(copy_of_linked, "different", actor=TESTER, reason="r", records=(refs[0], refs[2]))
    assert refused.value.field == "decision"
    replaced = decide(copy_of_linked, "different", actor=TESTER, reason="on reflection", records=(refs[1], refs[2]))
    assert replaced["replaces"] is True
    with copy_of_linked.session() as session:
        events = [e for e in list_audit(session, newest_first=False) if e["action"] == "pair decided"]
    assert [e["details"]["replaces"] for e in events] == [False, False, True], "the refused one left no event"


@pytest.mark.parametrize(
    ("a", "b", "fragment"),
    [("nosuch:1", "list-1:NGO-00001", "no source"), ("list-1", "list-1:NGO-00001", "SOURCE:RECORD_ID"),
     ("list-1:none", "list-1:NGO-00001", "no record")],
)
def test_decisions_name_real_records(copy_of_linked, a, b, fragment):
    with pytest.raises(DadkhahError, match=fragment):
        decide(copy_of_linked, "same", actor=TESTER, reason="r", records=(a, b))


def test_the_review_queue_explains_pairs_and_forgets_decided_ones(copy_of_linked):
    with copy_of_linked.session() as session:
        queue = review_queue(session, limit=5)
    assert queue["total"] > 0 and queue["pairs"]
    pair = queue["pairs"][0]
    assert 0.2 <= pair["match_probability"] <= 0.9
    assert {c["comparison"] for c in pair["comparisons"]} == {c.name for c in DEFAULT_MODEL.comparisons}
    assert any(c["verdict"] == "agrees" for c in pair["comparisons"])
    decided = decide(copy_of_linked, "different", actor=TESTER, reason="r",
                     records=(pair["record_a"]["ref"], pair["record_b"]["ref"]))
    assert decided["pair_id"] == pair["id"], "a decision on a queued pair names the pair"
    with copy_of_linked.session() as session:
        after = review_queue(session, limit=None)
    assert after["total"] == queue["total"] - 1
    assert pair["id"] not in {p["id"] for p in after["pairs"]}


def test_persons_show_every_source_and_conflict(copy_of_linked, tmp_path):
    by_person = defaultdict(list)
    for ref, pid in memberships(copy_of_linked).items():
        by_person[pid].append(ref)
    person_id = max(by_person, key=lambda p: len(by_person[p]))
    with copy_of_linked.session() as session:
        person = describe_person(session, person_id)
        exported = export_persons(session, tmp_path / "registry.csv")
    assert {f"{r['source']}:{r['record_id']}" for r in person["records"]} == set(by_person[person_id])
    given = person["attributes"]["given_name"]
    assert sum(len(v["records"]) for v in given["values"]) <= len(person["records"])
    assert all(v["records"] for attribute in person["attributes"].values() for v in attribute["values"])
    assert person["conflicts"] == sorted(n for n, a in person["attributes"].items() if a["conflict"])
    rows = read(tmp_path / "registry.csv")
    assert exported["rows"] == len(rows) == len(memberships(copy_of_linked))
    assert list(rows[0])[:3] == ["person_id", "source", "record_id"]


def test_linkage_runs_on_both_databases(store, small_case):
    for path in sorted(small_case.glob("list-*.csv"))[:2]:
        import_file(store, path, source=path.stem, actor=TESTER)
    summary = run_linkage(store, actor=TESTER)
    assert summary.persons > 0
    again = run_linkage(store, actor=TESTER)
    assert again.unchanged == again.persons


def test_duckdb_never_fetches_extensions():
    _, connection = engine._duckdb_api(None, 1, None)
    settings = dict(connection.execute(
        "SELECT name, value FROM duckdb_settings() WHERE name IN ('autoinstall_known_extensions', 'autoload_known_extensions')"
    ).fetchall())
    connection.close()
    assert settings == {"autoinstall_known_extensions": "false", "autoload_known_extensions": "false"}


def test_too_many_pairs_are_refused_before_scoring(linked, monkeypatch):
    monkeypatch.delenv("DADKHAH_DATABASE_URL", raising=False)
    with open_store(load_workspace(linked[0])) as store, store.session() as session:
        features = record_features(session)
    with pytest.raises(DadkhahError, match="blocking rules would score") as failure:
        engine.score(features, DEFAULT_MODEL, max_comparisons=10)
    assert "l.given_key = r.given_key" in str(failure.value)


def test_a_tiny_workspace_says_why_it_cannot_link(store, tmp_path):
    """Fifteen records that nowhere overlap: no ValueError from deep in the engine, but what and why."""
    from tests.conftest import write

    given = ["Reza", "Ali", "Hasan", "Mehdi", "Javad", "Saeed", "Nader", "Karim", "Bahram", "Parviz", "Kaveh",
             "Omid", "Sohrab", "Dariush", "Farhad"]
    family = ["Karimi", "Ahmadi", "Rezaei", "Hosseini", "Moradi", "Jafari", "Sadeghi", "Rahimi", "Bagheri", "Ghasemi",
              "Mousavi", "Kazemi", "Heidari", "Soltani", "Nazari"]
    body = "id,given_name,family_name,father_name,death_date,city\n" + "".join(
        f"r{i},{given[i]},{family[i]},{given[-1 - i]},1367/05/{i + 1:02d},Rasht\n" for i in range(15))
    import_file(store, write(tmp_path / "tiny.csv", body), source="tiny", actor=TESTER)
    with pytest.raises(DadkhahError, match="cannot be trained on these 15 records") as refused:
        run_linkage(store, actor=TESTER)
    assert "import more lists" in str(refused.value)
    with store.session() as session:
        assert [e["action"] for e in list_audit(session)] == ["list imported"], "a failed run records nothing"


def test_the_same_agreement_counts_for_less_within_one_list_than_across_two(copy_of_linked, tmp_path):
    """A list seldom names one person twice: the same name and day of death, given twice by one list, are more
    likely two namesakes than when two lists give them. How much more is learnt from the records."""
    store = copy_of_linked
    for source, ids in (("memorial", ("M-1", "M-2")), ("annex", ("U-1",))):
        listed = tmp_path / f"{source}.csv"
        listed.write_text("record_id,given_name,family_name,death_date\n"
                          + "".join(f"{i},رحیم,فرخ‌زاده,1367/05/10\n" for i in ids), encoding="utf-8")
        import_file(store, listed, source=source, actor=TESTER)
    with store.session() as session:
        features = record_features(session)
        trained = session.scalar(sa.select(LinkageRun.model).order_by(LinkageRun.id.desc()).limit(1))
    uid = {(s, r): u for s, r, u in zip(features["source"].to_pylist(), features["record_id"].to_pylist(),
                                        features["unique_id"].to_pylist(), strict=True)}
    one = uid[("memorial", "M-1")]
    two, other = uid[("memorial", "M-2")], uid[("annex", "U-1")]
    with engine.score(features, DEFAULT_MODEL, trained=trained) as scoring:
        scored = {row["unique_id_r"]: row for row in scoring.details(pa.table({"unique_id_l": [one, one],
                                                                               "unique_id_r": [two, other]})).to_pylist()}
    within, across = scored[two], scored[other]
    assert within["mw_list"] < 0 < across["mw_list"]
    others = [k for k in within if k.startswith("mw_") and k != "mw_list"]
    assert [within[k] for k in others] == [across[k] for k in others]  # everything else agrees alike


def test_a_whole_name_split_at_another_place_is_weighed_once_not_as_two_disagreements(copy_of_linked, tmp_path):
    """"Ali | Abbassadeghpour" and "Aliabbas | Sadeghpour", killed the same day, are one person. Counted as a
    given name and a family name that both differ, the name outweighed the day; weighed whole, it does not."""
    store = copy_of_linked
    listed = tmp_path / "memorial.csv"
    listed.write_text("record_id,given_name,family_name,death_date\n"
                      "M-1,علی,عباس‌صادق‌پور,1367/05/10\n"
                      "M-2,علی‌عباس,صادق‌پور,1367/05/10\n", encoding="utf-8")
    import_file(store, listed, source="memorial", actor=TESTER)
    run_linkage(store, actor=TESTER)
    persons = memberships(store)
    assert persons["memorial:M-1"] == persons["memorial:M-2"]
    with store.session() as session:
        features = record_features(session)
        trained = session.scalar(sa.select(LinkageRun.model).order_by(LinkageRun.id.desc()).limit(1))
    pair = features.to_pandas().set_index("record_id").loc[["M-1", "M-2"]]
    # Both parts differ (not a typo: the cut is elsewhere), the letters of the whole name do not.
    assert pair.given_key.nunique() == pair.family_key.nunique() == 2 and pair.full_coarse.nunique() == 1
    with engine.score(features, DEFAULT_MODEL, trained=trained) as scoring:
        weights = scoring.details(pa.table({"unique_id_l": [int(pair.unique_id.min())],
                                            "unique_id_r": [int(pair.unique_id.max())]})).to_pylist()[0]
    assert weights["mw_given_name"] == weights["mw_family_name"] == 0  # neither part counts against
    assert weights["mw_full_name"] > 0  # the whole name counts for


def test_a_reviewers_field_verdict_calls_a_month_and_a_day_in_it_overlapping_not_different():
    from dadkhah.link.review import field_verdict

    month, day = ("1988-07-23", "1988-08-22"), ("1988-08-19", "1988-08-19")  # Mordad 1367; 28 Mordad 1367
    assert field_verdict(month, day) == field_verdict(day, month) == "overlaps"
    assert field_verdict(day, day) == "same" and field_verdict(day, ("1988-09-01", "1988-09-01")) == "different"
    assert field_verdict(month, None) == "missing" and field_verdict("MHMD", "MHMD") == "same"
    assert field_verdict("MHMD", "MHMUD") == "different"


def test_a_truth_file_is_read_as_saved_and_a_record_given_two_persons_is_refused(tmp_path):
    """A truth file saved by a spreadsheet (UTF-16, semicolons, its columns capitalised) is read; a
    record given to two persons is refused naming both lines (the last one silently won before)."""
    from dadkhah.errors import InputError
    from dadkhah.link.run import read_truth

    saved = tmp_path / "truth.csv"
    saved.write_text("Source;Record_ID;Person_ID\r\nlist-1;A1;P1\r\nlist-2;B7;P1\r\n", encoding="utf-16")
    assert read_truth(saved) == {("list-1", "A1"): "P1", ("list-2", "B7"): "P1"}
    twice = tmp_path / "twice.csv"
    twice.write_text("source,record_id,person_id\nlist-1,A1,P1\nlist-1,A2,P2\nlist-1,A1,P3\n", encoding="utf-8")
    with pytest.raises(InputError) as refused:
        read_truth(twice)
    assert refused.value.line == 4 and "line 2" in refused.value.message


def test_a_run_that_links_nothing_it_compared_says_why(store, tmp_path):
    """Four tiny lists of the same three people (no dates): the 18 pairs compared were all left apart,
    the result said only that 0 were linked, and nothing told the user why or what to do."""
    text = "id,نام,نام خانوادگی,نام پدر,شهر\n1,علی,کریمی,حسن,تهران\n2,مریم,رضایی,محمد,رشت\n3,زهرا,حسینی,احمد,شیراز\n"
    for source in "abcd":
        import_file(store, write(tmp_path / f"{source}.csv", text), source=source, actor=TESTER)
    summary = run_linkage(store, actor=TESTER)
    # (the model cannot learn from twelve records: when it can, this test should say it links them)
    assert (summary.pairs_planned, summary.pairs_linked) == (18, 0)
    assert any("found no pair of the 18 it compared likely to be one person" in note for note in summary.training_notes)
