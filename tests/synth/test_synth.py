"""The synthetic case generator: reproducible, consistent with its truth, uneven, and hard enough."""

from __future__ import annotations

import collections
import csv
import json
from pathlib import Path

import pytest

from dadkhah.errors import DadkhahError, InputError
from dadkhah.normalize.names import normalize_name, split_full_name
from dadkhah.synth import generate_case


def read(path):
    with open(path, encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path):
    a = generate_case(tmp_path / "a", victims=300, lists=3, seed=5)
    b = generate_case(tmp_path / "b", victims=300, lists=3, seed=5)
    c = generate_case(tmp_path / "c", victims=300, lists=3, seed=6)
    names = sorted(p.name for p in (tmp_path / "a").iterdir() if p.is_file())
    assert names == ["case.json", "list-1.csv", "list-2.csv", "list-3.csv", "population.csv", "truth.csv"]
    assert (tmp_path / "a" / "accountability").is_dir() and a.accountability == str(tmp_path / "a" / "accountability")
    for name in names:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    for name in ("letter.txt", "letter-fa.txt", "signatories.txt"):
        assert (tmp_path / "a" / "appeal" / name).read_bytes() == (tmp_path / "b" / "appeal" / name).read_bytes()
    assert (tmp_path / "a" / "list-1.csv").read_bytes() != (tmp_path / "c" / "list-1.csv").read_bytes()
    assert a.observed == b.observed and c.victims == 300


def test_truth_covers_every_row_and_agrees_with_the_population(small_case):
    truth = read(small_case / "truth.csv")
    population = {p["person_id"]: p for p in read(small_case / "population.csv")}
    assert len(population) == 600
    case = json.loads((small_case / "case.json").read_text())
    by_list = collections.defaultdict(set)
    for row in truth:
        assert row["person_id"] in population
        by_list[row["source"]].add(row["person_id"])
    for item in case["lists"]:
        rows = read(small_case / item["file"])
        assert len(rows) == item["rows"] == sum(1 for t in truth if t["source"] == item["name"])
        assert len(by_list[item["name"]]) == item["persons"]
    for person_id, person in population.items():
        on = {name for name, members in by_list.items() if person_id in members}
        assert on == set(filter(None, person["lists"].split(";")))
    observed = sum(1 for p in population.values() if p["lists"])
    assert observed == case["observed"] < 600  # some victims are on no list: the point of estimation


def test_capture_is_uneven_by_region_and_lists_depend_on_each_other(tmp_path):
    case = generate_case(tmp_path / "c", victims=4000, lists=6, seed=11)
    population = read(tmp_path / "c" / "population.csv")
    kurdish = {"province:kurdistan", "province:west-azerbaijan", "province:kermanshah"}
    in_region = [p for p in population if p["province_id"] in kurdish]
    share_population = len(in_region) / len(population)
    regional = [p for p in population if "list-5" in p["lists"].split(";")]
    share_regional = sum(1 for p in regional if p["province_id"] in kurdish) / len(regional)
    assert share_regional > 2 * share_population
    on_1 = [p for p in population if "list-1" in p["lists"].split(";")]
    off_1 = [p for p in population if "list-1" not in p["lists"].split(";")]
    p6_given_1 = sum("list-6" in p["lists"] for p in on_1) / len(on_1)
    p6_given_not_1 = sum("list-6" in p["lists"] for p in off_1) / len(off_1)
    assert p6_given_1 > 1.5 * p6_given_not_1
    sizes = [item["persons"] for item in case.lists]
    assert max(sizes) > 2 * min(sizes)


def _name_keys(row):
    if row.get("full_name"):
        split = split_full_name(row["full_name"])
        return split.full.key if split else None
    given = normalize_name(row["given_name"], "given")
    family = normalize_name(row["family_name"], "family")
    return " ".join(v.key for v in (given, family) if v and v.key)


def _disagreement(case_dir):
    """Share of records whose name key differs from another record of the same person."""
    truth = {(t["source"], t["record_id"]): t["person_id"] for t in read(case_dir / "truth.csv")}
    keys = collections.defaultdict(list)
    case = json.loads((case_dir / "case.json").read_text())
    for item in case["lists"]:
        for row in read(case_dir / item["file"]):
            keys[truth[(item["name"], row["record_id"])]].append(_name_keys(row))
    multi = [k for k in keys.values() if len(k) > 1]
    return sum(len(set(k)) > 1 for k in multi) / len(multi)


def test_harder_cases_are_noisier(tmp_path):
    shares = {}
    for level in ("easy", "realistic", "hard"):
        generate_case(tmp_path / level, victims=1500, lists=6, seed=3, difficulty=level)
        shares[level] = _disagreement(tmp_path / level)
    assert shares["easy"] < shares["realistic"] < shares["hard"]
    assert shares["hard"] > 0.3  # most persons on several lists are written differently somewhere


def test_the_hard_case_has_duplicates_namesakes_and_swaps(hard_case):
    truth = read(hard_case / "truth.csv")
    per_list = collections.Counter((t["source"], t["person_id"]) for t in truth)
    assert any(n > 1 for n in per_list.values()), "no person appears twice in one list"
    population = read(hard_case / "population.csv")
    names = collections.Counter((p["given_name"], p["family_name"]) for p in population)
    assert any(n > 1 for n in names.values()), "no two victims share a name"
    lists = {path.stem: read(path) for path in hard_case.glob("list-*.csv")}
    assert any("full_name" in rows[0] for rows in lists.values())
    assert any("given_name" in rows[0] for rows in lists.values())


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [({"victims": 0, "lists": 2}, "at least 1"), ({"victims": 5, "lists": 2, "difficulty": "brutal"}, "difficulty"),
     ({"victims": 5, "lists": 2, "cities": 10_000}, "cities"), ({"victims": 5, "lists": 2, "coverage": 1.5}, "coverage")],
)
def test_bad_arguments_are_refused(tmp_path, kwargs, fragment):
    with pytest.raises(DadkhahError, match=fragment):
        generate_case(tmp_path, seed=1, **kwargs)


def test_the_synthetic_appeal_names_no_victim_and_reads_back_in_six_fields(small_case):
    import csv

    lines = (small_case / "appeal" / "signatories.txt").read_text(encoding="utf-8").splitlines()
    fields = [line.split("|") for line in lines]
    assert all(len(f) == 6 for f in fields) and len(fields) == 8
    assert {f[1] for f in fields} == {"person", "organisation"} and {f[5] for f in fields} == {"public", "count-only"}
    with open(small_case / "population.csv", encoding="utf-8") as handle:
        victims = {name for row in csv.DictReader(handle)
                   for name in (f"{row['given_name']} {row['family_name']}",
                                f"{row['given_name_latin']} {row['family_name_latin']}")}
    assert not {f[0] for f in fields} & victims
    assert "synthetic" in (small_case / "appeal" / "letter.txt").read_text(encoding="utf-8")


def _overlap(case_dir) -> float:
    """Share of recorded people that more than one list recorded."""
    rows = read(case_dir / "population.csv")
    on = [len(row["lists"].split(";")) for row in rows if row["lists"]]
    return sum(n > 1 for n in on) / len(on)


def test_heterogeneity_makes_the_same_people_recorded_again(tmp_path):
    # People who are findable are findable on every list: more heterogeneity, more overlap between
    # lists for the same overall coverage, and the setting is written down with the case.
    overlap = {}
    for h in (0.0, 1.8):
        case = generate_case(tmp_path / str(h), victims=3000, lists=4, seed=5, heterogeneity=h)
        overlap[h] = _overlap(tmp_path / str(h))
        assert json.loads(Path(case.case).read_text())["heterogeneity"] == h
    assert overlap[1.8] > overlap[0.0] + 0.05
    with pytest.raises(InputError) as caught:
        generate_case(tmp_path / "bad", victims=10, lists=2, seed=1, heterogeneity=-1)
    assert caught.value.field == "heterogeneity"
