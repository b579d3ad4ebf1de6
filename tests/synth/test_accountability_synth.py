"""The synthetic accountability set: reproducible, closed under its ids, agreeing with its case and its truth."""

from __future__ import annotations

import collections
import csv
import datetime as dt
import json
import math

import pytest
from typer.testing import CliRunner

from dadkhah.cli import app
from dadkhah.normalize.dates import parse_date
from dadkhah.normalize.places import Gazetteer, load_builtin_gazetteer, place_names
from dadkhah.synth import generate_case
from dadkhah.synth.accountability import (
    _REAL_FAMILY_FA,
    _REAL_FAMILY_LATIN,
    CHART_DATE,
    COLUMNS,
    INCIDENT,
    SECOND_SOURCE,
)

VICTIMS = 300
ENUMS = {
    ("institutions.csv", "kind"): {"commission", "court", "prosecutor", "prison", "ministry", "security-force", "unit", "other"},
    ("institutions.csv", "relation"): {"", "child-of", "member-of"},
    ("officials.csv", "gender"): {"male", "female"},
    ("acts.csv", "act_type"): {"execution", "enforced-disappearance", "torture", "arbitrary-detention", "unfair-trial",
                               "grave-desecration", "family-intimidation", "other"},
    ("involvements.csv", "degree"): {"carried-out", "gave-orders", "planned", "approved", "failed-to-prevent",
                                     "political-responsibility"},
    ("involvements.csv", "likelihood"): {"maybe", "likely", "certain"},
    ("burials.csv", "likelihood"): {"maybe", "likely", "certain"},
    ("official_status.csv", "status"): {"in-post", "promoted", "retired", "charged", "convicted", "acquitted", "sanctioned",
                                        "deceased", "other"},
    ("sites.csv", "kind"): {"mass-grave", "cemetery", "execution-site", "prison", "other"},
    ("sites.csv", "certainty"): {"suspected", "probable", "confirmed"},
    ("sites.csv", "publication"): {"exact", "city", "hidden"},
    ("site_status.csv", "status"): {"intact", "markers-removed", "new-burials", "bulldozed", "built-over", "access-denied",
                                    "exhumed", "other"},
    ("site_status.csv", "method"): {"satellite-image", "photograph", "witness", "official-statement", "visit", "other"},
}


def read(path):
    with open(path, encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


class Case:
    def __init__(self, root):
        self.root = root
        self.folder = root / "accountability"
        self.files = {name: read(self.folder / name) for name in COLUMNS}
        self.truth = json.loads((self.folder / "truth.json").read_text(encoding="utf-8"))
        self.records = {(t["source"], t["record_id"]): t["person_id"] for t in read(root / "truth.csv")}
        self.population = {p["person_id"]: p for p in read(root / "population.csv")}

    def person(self, cited):
        source, record_id = cited.split(":", 1)
        return self.records[(source, record_id)]

    def persons(self, cell):
        return {self.person(c) for c in cell.split("|") if c}

    def first_source(self, name):
        return [row for row in self.files[name] if row["source"] == ""]


@pytest.fixture(scope="module")
def case(tmp_path_factory):
    root = tmp_path_factory.mktemp("accountability") / "case"
    generate_case(root, victims=VICTIMS, lists=3, seed=5)
    return Case(root)


def _interval(text):
    value = parse_date(text)
    return value.earliest, value.latest


def _place(gazetteer, text):
    """The place a cell names: an id, or a name that means one place whether prisons or cities are tried first."""
    if text.startswith(("city:", "prison:")):
        return text
    first, second = (gazetteer.resolve(text, types) for types in (("prison", "city"), ("city", "prison")))
    assert first is not None and second is not None and first.place_id == second.place_id, text
    return first.place_id


def test_same_seed_same_bytes_other_seed_other_bytes(case, tmp_path):
    again = tmp_path / "again"
    files = generate_case(again, victims=VICTIMS, lists=3, seed=5)
    assert files.accountability == str(again / "accountability")
    names = sorted(p.name for p in case.folder.iterdir())
    assert names == sorted([*COLUMNS, "truth.json"])
    for name in names:
        assert (case.folder / name).read_bytes() == (again / "accountability" / name).read_bytes(), name
    generate_case(tmp_path / "other", victims=VICTIMS, lists=3, seed=6)
    for name in ("officials.csv", "acts.csv", "truth.json"):
        assert (case.folder / name).read_bytes() != (tmp_path / "other" / "accountability" / name).read_bytes()


def test_columns_values_and_every_referenced_id_is_defined(case):
    for name, columns in COLUMNS.items():
        with open(case.folder / name, encoding="utf-8", newline="") as handle:
            assert next(csv.reader(handle)) == columns, name
        for row in case.files[name]:
            assert row["review_status"] in {"", "accepted", "conflict", "work-needed"}
            assert row["source"] in {"", SECOND_SOURCE}
            assert (row["review_status"] == "conflict") == (row["source"] == SECOND_SOURCE)
    for (name, column), allowed in ENUMS.items():
        values = {row[column] for row in case.files[name]}
        assert values <= allowed, (name, column, values - allowed)
    institutions = {row["institution_id"] for row in case.files["institutions.csv"]}
    officials = {row["official_id"] for row in case.files["officials.csv"]}
    acts = {row["act_id"] for row in case.files["acts.csv"]}
    sites = {row["site_id"] for row in case.files["sites.csv"]}
    assert len(officials) == len(case.files["officials.csv"]) and len(acts) == len(case.files["acts.csv"])
    assert len(sites) == len(case.files["sites.csv"])
    for row in case.files["institutions.csv"]:
        assert (row["parent_id"] == "") == (row["relation"] == "")
        assert row["parent_id"] in institutions | {""} and row["parent_id"] != row["institution_id"]
    assert {r["official_id"] for r in case.files["posts.csv"]} <= officials
    assert {r["institution_id"] for r in case.files["posts.csv"]} <= institutions
    assert {r["act_id"] for r in case.files["involvements.csv"]} <= acts
    assert {r["actor_id"] for r in case.files["involvements.csv"]} <= officials | institutions
    assert {r["official_id"] for r in case.files["official_status.csv"]} <= officials
    assert {r["site_id"] for r in case.files["site_status.csv"]} | {r["site_id"] for r in case.files["burials.csv"]} <= sites
    for name, column in (("institutions.csv", "from"), ("institutions.csv", "to"), ("officials.csv", "birth_date"),
                         ("posts.csv", "from"), ("posts.csv", "to"), ("acts.csv", "date"),
                         ("official_status.csv", "observed_on"), ("site_status.csv", "observed_on")):
        for row in case.files[name]:
            if row[column]:
                assert parse_date(row[column]).earliest is not None, (name, column, row[column])
    assert all(row["evidence"] == "" for row in case.files["site_status.csv"])
    assert all(int(row["unnamed_victims"]) >= 0 for row in case.files["acts.csv"])


def test_every_cited_record_is_in_the_list_it_names(case):
    lists = {path.stem: {row["record_id"] for row in read(path)} for path in case.root.glob("list-*.csv")}
    cited = [c for row in case.files["acts.csv"] for c in row["victims"].split("|") if c]
    cited += [row["victim"] for row in case.files["burials.csv"]]
    assert cited
    for item in cited:
        source, record_id = item.split(":", 1)
        assert record_id in lists[source], item


def test_executions_fall_on_the_victims_death_day_at_their_prison_or_city(case):
    places = load_builtin_gazetteer().places
    gazetteer = Gazetteer([(n, p["id"], p["type"]) for p in places for n in place_names(p)])
    deaths = [dt.date.fromisoformat(p["death_date"]) for p in case.population.values()]
    executions = [row for row in case.files["acts.csv"] if row["act_type"] == "execution"]
    multi = 0
    for row in executions:
        assert row["incident"] == INCIDENT
        earliest, latest = _interval(row["date"])
        persons = case.persons(row["victims"])
        place = _place(gazetteer, row["place"])
        multi += len(persons) + int(row["unnamed_victims"]) > 1
        if persons:
            assert earliest == latest, row
        else:  # only the unnamed: a day or a span of at most a week, inside the killings' window
            assert int(row["unnamed_victims"]) > 0 and (latest - earliest).days <= 6
            assert min(deaths) <= earliest <= latest <= max(deaths)
        for person_id in persons:
            person = case.population[person_id]
            assert earliest.isoformat() == person["death_date"], (row, person)
            assert place == (person["prison_id"] or person["city_id"]), (row, person)
    assert multi > len(executions) / 10, "some acts are group acts"
    styles = {"iso": 0, "jalali": 0, "persian": 0}
    for row in executions:
        text = row["date"]
        styles["persian"] += any("۰" <= ch <= "۹" for ch in text)
        styles["jalali"] += text.startswith("13")
        styles["iso"] += text.startswith("1988-") or text.startswith("1989-")
    assert all(styles.values()), styles


def test_named_and_unnamed_victims_of_executions_add_up_to_the_population(case):
    executions = [row for row in case.files["acts.csv"] if row["act_type"] == "execution"]
    named = collections.Counter(p for row in executions for p in case.persons(row["victims"]))
    assert max(named.values()) == 1, "a person is named in one execution only"
    listed = {p for p, person in case.population.items() if person["lists"]}
    assert set(named) == listed
    unnamed = sum(int(row["unnamed_victims"]) for row in executions)
    assert len(named) + unnamed == len(case.population) == VICTIMS
    assert case.truth["executions"] == {"acts": len(executions), "named_persons": len(named), "unnamed": unnamed,
                                        "victims": VICTIMS}
    two_records = [row for row in executions if len(row["victims"].split("|")) > len(case.persons(row["victims"]))]
    assert two_records, "some acts cite a person by two records"


def test_commission_members_posts_cover_their_acts_unless_the_second_source_says_otherwise(case):
    acts = {row["act_id"]: row for row in case.files["acts.csv"]}
    conflicts = {(c["key"]["official_id"], c["key"]["institution_id"], c["key"]["role"]): c
                 for c in case.truth["conflicts"] if c["file"] == "posts.csv"}
    assert 1 <= len(conflicts) <= 6
    involved = collections.defaultdict(set)
    for row in case.first_source("involvements.csv"):
        involved[row["actor_id"]].add(row["act_id"])
    checked = outside_other = 0
    for row in case.first_source("posts.csv"):
        official = case.truth["officials"][row["official_id"]]
        if row["institution_id"] not in official["commissions"]:
            continue
        start, end = _interval(row["from"])[1], _interval(row["to"])[0]
        other = conflicts.get((row["official_id"], row["institution_id"], row["role"]))
        for act_id in involved[row["official_id"]]:
            if acts[act_id]["act_type"] != "execution":
                continue
            earliest, latest = _interval(acts[act_id]["date"])
            assert start <= earliest and latest <= end, (row, acts[act_id])
            checked += 1
            if other:
                claim = other["claims"][1]
                outside_other += not (_interval(claim["from"])[1] <= earliest and latest <= _interval(claim["to"])[0])
        if other:
            assert other["claims"][0] == {"source": "", "from": row["from"], "to": row["to"]}
            assert row["review_status"] == "accepted"
            rows = [r for r in case.files["posts.csv"] if r["source"] == SECOND_SOURCE and r["official_id"] == row["official_id"]
                    and r["institution_id"] == row["institution_id"] and r["role"] == row["role"]]
            assert [{"source": SECOND_SOURCE, "from": r["from"], "to": r["to"]} for r in rows] == [other["claims"][1]]
            assert (_interval(rows[0]["from"]), _interval(rows[0]["to"])) != (_interval(row["from"]), _interval(row["to"]))
    assert checked > 100 and outside_other > 0


def test_every_execution_has_its_commission_members_and_prison_head(case):
    acts = {row["act_id"]: row for row in case.files["acts.csv"] if row["act_type"] == "execution"}
    institutions = {row["institution_id"]: row for row in case.files["institutions.csv"]}
    by_act = collections.defaultdict(dict)
    for row in case.first_source("involvements.csv"):
        by_act[row["act_id"]][row["actor_id"]] = row
    officials = case.truth["officials"]
    likelihoods = collections.Counter()
    for act_id in acts:
        actors = by_act[act_id]
        commissions = [a for a in actors if a in institutions and institutions[a]["kind"] == "commission"]
        assert len(commissions) == 1 and actors[commissions[0]]["degree"] == "approved"
        members = {o for o, t in officials.items() if commissions[0] in t["commissions"]}
        assert 3 <= len(members) <= 4 and members <= set(actors)
        assert {actors[m]["degree"] for m in members} <= {"approved", "gave-orders", "carried-out"}
        likelihoods.update(row["likelihood"] for row in actors.values())
    assert all(likelihoods[x] > 20 for x in ("certain", "likely", "maybe")), likelihoods
    carried = [r for r in case.files["involvements.csv"] if r["degree"] == "carried-out" and r["act_id"] in acts]
    assert carried and all(r["actor_id"] in officials for r in carried)


def test_sites_policies_coordinates_histories_and_burials(case):
    places = {p["id"]: p for p in load_builtin_gazetteer().places}
    gazetteer = Gazetteer([(n, p["id"], p["type"]) for p in places.values() for n in place_names(p)])
    sites = case.files["sites.csv"]
    assert {s["publication"] for s in sites} == {"exact", "city", "hidden"}
    assert {s["certainty"] for s in sites} >= {"suspected", "probable", "confirmed"}
    kinds = collections.defaultdict(set)
    for site in sites:
        city = places[_place(gazetteer, site["place"])]
        kinds[city["id"]].add(site["kind"])
        distance = math.hypot(float(site["latitude"]) - city["lat"], float(site["longitude"]) - city["lon"])
        assert 0 < distance < 0.1, site
        truth = case.truth["sites"][site["site_id"]]
        assert (truth["city"], truth["publication"], truth["certainty"]) == (city["id"], site["publication"], site["certainty"])
    assert all({"cemetery", "mass-grave"} <= k for k in kinds.values())
    history = collections.defaultdict(list)
    for row in case.files["site_status.csv"]:
        history[row["site_id"]].append((_interval(row["observed_on"])[0], row["status"]))
    assert set(history) == {s["site_id"] for s in sites}
    for site_id, observations in history.items():
        assert [d for d, _ in observations] == sorted(d for d, _ in observations), site_id
        assert [s for _, s in observations] == case.truth["sites"][site_id]["statuses"]
    assert any(" – " in row["observed_on"] for row in case.files["site_status.csv"])
    claimed = collections.defaultdict(set)
    for row in case.files["burials.csv"]:
        claimed[row["site_id"]].add(case.person(row["victim"]))
    assert {k: sorted(v) for k, v in claimed.items()} == {k: s["victims"] for k, s in case.truth["sites"].items() if s["victims"]}
    assert {row["likelihood"] for row in case.files["burials.csv"]} == {"certain", "likely", "maybe"}
    others = collections.Counter(row["act_type"] for row in case.files["acts.csv"] if row["act_type"] != "execution")
    assert others["grave-desecration"] >= 1 and others["family-intimidation"] >= 1


def test_officials_are_made_up_and_named_in_both_scripts(case):
    victims = set()
    for p in case.population.values():
        victims.add(f"{p['given_name']} {p['family_name']}")
        victims.add(f"{p['given_name_latin']} {p['family_name_latin']}".lower())
    officials = case.files["officials.csv"]
    for row in officials:
        for name in filter(None, [row["name"], row["name_fa"], *row["aliases"].split("|")]):
            assert name not in victims and name.lower() not in victims, name
            family = name.replace("\u200c", "").split()[-1]  # the family name (or a one-word nom de guerre)
            assert family.lower() not in _REAL_FAMILY_LATIN and family not in _REAL_FAMILY_FA, name
    assert sum(bool(r["aliases"]) for r in officials) >= 5
    assert sum(bool(r["name_fa"]) for r in officials) > len(officials) * 0.8
    assert {r["gender"] for r in officials} == {"male", "female"}
    later = [o for o in case.truth["officials"].values() if o["later_posts"]]
    assert len(later) >= 3
    for official in later:
        assert all(_interval(p[2])[0] >= dt.date(1990, 1, 1) for p in official["later_posts"])
    statuses = {r["status"] for r in case.files["official_status.csv"]}
    assert {"promoted", "deceased", "sanctioned", "in-post"} <= statuses
    partial = [r for r in case.files["posts.csv"] if parse_date(r["from"]).precision != "day"]
    assert len(partial) > len(case.files["posts.csv"]) / 3
    review = collections.Counter(r["review_status"] for name in COLUMNS for r in case.files[name])
    assert review["accepted"] > 0.8 * sum(review.values()) and review["work-needed"] + review[""] > 20 and review["conflict"] >= 3


def test_truth_agrees_with_the_files(case):
    truth = case.truth
    assert truth["counts"] == {name: len(rows) for name, rows in case.files.items()}
    assert truth["chart_date"] == CHART_DATE.isoformat() and truth["second_source"] == SECOND_SOURCE
    acts = {row["act_id"]: row for row in case.files["acts.csv"]}
    involved = collections.defaultdict(set)
    for row in case.first_source("involvements.csv"):
        involved[row["actor_id"]].add(row["act_id"])
    posts = collections.defaultdict(list)
    for row in case.first_source("posts.csv"):
        posts[row["official_id"]].append([row["institution_id"], row["role"], row["from"], row["to"]])
    names = {row["official_id"]: row for row in case.files["officials.csv"]}
    assert set(truth["officials"]) == set(names)
    for official_id, official in truth["officials"].items():
        assert (official["name"], official["name_fa"]) == (names[official_id]["name"], names[official_id]["name_fa"])
        assert official["posts"] + official["later_posts"] == posts[official_id]
        assert official["acts"] == sorted(involved[official_id])
        assert official["victims"] == sorted({p for a in official["acts"] for p in case.persons(acts[a]["victims"])})
        assert official["unnamed"] == sum(int(acts[a]["unnamed_victims"]) for a in official["acts"])
    assert any(o["acts"] and o["unnamed"] for o in truth["officials"].values())

    # The chart on the sample date, from the files: units by relations (child-of, member-of) in force that
    # day, and who surely held a post in the institution or a unit.
    def covers(start, end, certain):
        low = _interval(start)[1 if certain else 0] if start else None
        high = _interval(end)[0 if certain else 1] if end else None
        return (low is None or low <= CHART_DATE) and (high is None or CHART_DATE <= high)

    children = collections.defaultdict(set)
    for row in case.files["institutions.csv"]:
        if row["relation"]:
            assert covers(row["from"], row["to"], True) or not covers(row["from"], row["to"], False), row
            if covers(row["from"], row["to"], True):
                children[row["parent_id"]].add(row["institution_id"])
    for institution_id, entry in truth["institutions"].items():
        units, todo = set(), [institution_id]
        while todo:
            for child in children[todo.pop()]:
                units.add(child)
                todo.append(child)
        assert entry["chart"]["units"] == sorted(units), institution_id
        scope = units | {institution_id}
        rows = [r for r in case.first_source("posts.csv") if r["institution_id"] in scope]
        held = {r["official_id"] for r in rows if covers(r["from"], r["to"], True)}
        assert entry["chart"]["officials"] == sorted(held), institution_id
        assert entry["chart"]["maybe"] == sorted({r["official_id"] for r in rows if covers(r["from"], r["to"], False)} - held)
    national = next(i for i, e in truth["institutions"].items() if not e["parent"] and e["kind"] == "other"
                    and e["chart"]["units"])
    commissions = [i for i, e in truth["institutions"].items() if e["kind"] == "commission"]
    assert set(commissions) <= set(truth["institutions"][national]["chart"]["units"])
    assert any(e["chart"]["maybe"] for e in truth["institutions"].values())
    for conflict in truth["conflicts"]:
        matching = [r for r in case.files[conflict["file"]] if all(r[k] == v for k, v in conflict["key"].items())]
        assert [{k: r[k] for k in conflict["claims"][0]} for r in matching] == conflict["claims"]
    assert {c["file"] for c in truth["conflicts"]} == {"posts.csv", "involvements.csv"}


def test_the_command_names_the_folder_and_its_json_is_one_document(tmp_path):
    runner = CliRunner()
    result = runner.invoke(app, ["synth", "--victims", "40", "--lists", "2", "--seed", "2", "--out", str(tmp_path / "c"), "--json"],
                           catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["accountability"] == str(tmp_path / "c" / "accountability")
    result = runner.invoke(app, ["synth", "--victims", "40", "--lists", "2", "--seed", "2", "--out", str(tmp_path / "d")],
                           catch_exceptions=False)
    assert result.exit_code == 0 and "accountability" in result.stdout
