"""Standard exports (persons, records, acts as CSV and XLSX; Popolo JSON; Uwazi's CSV import): each
holds only what the publication policy allows (a byte search, every file of a zip unpacked, for the
markers planted by tests/publish/test_policy.py), every spreadsheet cell is inert, the Popolo file
validates against the Popolo project's own JSON Schemas (vendored in tests/data/popolo), and the
Uwazi zip reads back by Uwazi's rules (huridocs/uwazi, app/api/csv). Each export is audited with
its file's SHA-256; the command line prints one JSON document."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
import zipfile
from datetime import date
from pathlib import Path

import jsonschema
import openpyxl
import pytest
import sqlalchemy as sa
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT3

from dadkhah.accountability.importer import add_claim
from dadkhah.accountability.review import review_claim
from dadkhah.audit import list_audit
from dadkhah.errors import InputError
from dadkhah.ingest.importer import import_file
from dadkhah.model import LinkageRun, Source
from dadkhah.publish.exports import export_table, public_record
from dadkhah.publish.network import export_graph
from dadkhah.publish.popolo import build_popolo, export_popolo, popolo_date
from dadkhah.publish.uwazi import PROPERTIES, columns, export_uwazi, geolocation
from dadkhah.registry.persons import assign_persons
from dadkhah.sources import set_release
from dadkhah.spreadsheet import FORMULA_START
from tests.cli.test_cli import run
from tests.conftest import TESTER, write
from tests.publish.test_policy import MARKERS, _case

SCHEMAS = Path(__file__).resolve().parents[1] / "data" / "popolo"
FORMULA = '=HYPERLINK("http://x")'
OFFICIAL_FORMULA = "@SUM(1+1)*cmd|' /C calc'!A0"
BOOK_URL = "https://example.org/synthetic-book#p40"
PROPERTY_TYPES = {template: {label: kind for label, kind, _ in props} for template, props in PROPERTIES.items()}
# Uwazi: the property types whose columns may carry a language (validateColumns.ts)
WITH_LANGUAGE = {"text", "markdown", "select", "multiselect", "link", "nested", "title"}


def _claims(store, file: str, cells: dict, source: str, *, accept: bool = True) -> list[str]:
    added = add_claim(store, file, cells, actor=TESTER, source=source)["claims"]
    if accept:
        for claim in added:
            review_claim(store, claim, status="accepted", reason="checked", actor=TESTER)
    return added


@pytest.fixture
def case(store, tmp_path):
    """The policy's case with its markers, a public list whose names are spreadsheet formulas, and an
    institution with posts (public and accepted, public but not accepted, restricted) and a status."""
    _case(store, tmp_path)
    import_file(store, write(tmp_path / "formula.csv", "id,given_name,family_name,death_date,city\n"
                                                        f'f1,"{FORMULA.replace(chr(34), 2 * chr(34))}",+Evil,1367,Qom\n'),
                source="formula-list", actor=TESTER)
    with store.session() as session:
        ids = dict(session.execute(sa.select(Source.name, Source.id)).all())
        run_row = LinkageRun(engine="hand", threshold=0.5, review_low=0.2, review_high=0.9, parameters={}, run_by="t",
                             software_version="0")
        session.add(run_row)
        session.flush()
        public, restricted = ids["public-list"], ids["restricted-source-marker"]
        assign_persons(session, run_row.id, {(public, "p1"): 1, (restricted, "r1"): 1, (public, "p2"): 2,
                                             (public, "p3"): 3, (restricted, "r9"): 4, (ids["formula-list"], "f1"): 5})
    set_release(store, "formula-list", "public", actor=TESTER)
    _claims(store, "institutions", {"institution_id": "COM", "name": "Synthetic Commission", "name_fa": "هیئت آزمایشی",
                                    "kind": "commission", "locator": BOOK_URL}, "public-book")
    _claims(store, "institutions", {"institution_id": "UNIT", "name": "Synthetic Unit", "kind": "unit",
                                    "parent_id": "COM", "relation": "member-of", "from": "1367"}, "public-book")
    _claims(store, "officials", {"official_id": "OF3", "name": OFFICIAL_FORMULA}, "public-book")
    _claims(store, "posts", {"official_id": "OF1", "institution_id": "COM", "role": "judge", "from": "1367/05",
                             "to": "1988-09-30", "locator": BOOK_URL}, "public-book")
    _claims(store, "posts", {"official_id": "OF3", "institution_id": "COM", "role": "member", "from": "1988"},
            "public-book")
    _claims(store, "posts", {"official_id": "OF1", "institution_id": "COM", "role": "NOT-ACCEPTED-MARKER"},
            "public-book", accept=False)
    _claims(store, "posts", {"official_id": "OF2", "institution_id": "COM", "role": "prosecutor"},
            "restricted-source-marker")
    _claims(store, "official_status", {"official_id": "OF1", "observed_on": "2019", "status": "promoted"},
            "public-book")
    return store


def _texts(path: Path) -> list[bytes]:
    """A file's bytes, and for a zip (XLSX is one) the bytes of every file inside it."""
    data = path.read_bytes()
    if not zipfile.is_zipfile(path):
        return [data]
    with zipfile.ZipFile(path) as bundle:
        return [data] + [bundle.read(name) for name in bundle.namelist()]


def _all_exports(store, folder: Path) -> dict[str, Path]:
    written = {}
    for table in ("persons", "records", "acts"):
        for format in ("csv", "xlsx"):
            written[f"{table}.{format}"] = Path(export_table(store, folder / f"{table}.{format}", table=table,
                                                            actor=TESTER)["out"])
    written["popolo.json"] = Path(export_popolo(store, folder / "popolo.json", actor=TESTER)["out"])
    for template in ("persons", "acts", "officials"):
        written[f"uwazi-{template}.zip"] = Path(export_uwazi(store, folder / f"uwazi-{template}.zip",
                                                             template=template, actor=TESTER)["out"])
    for name in ("network.graphml", "network.json"):
        written[name] = Path(export_graph(store, folder / name, audience="public", actor=TESTER)["out"])
    return written


# --- the publication policy ----------------------------------------------------------------------

def test_no_export_holds_anything_the_policy_keeps_in(case, tmp_path):
    folder = tmp_path / "out"
    folder.mkdir()
    written = _all_exports(case, folder)
    for name, path in written.items():
        for data in _texts(path):
            for text in (data.decode("utf-8", "replace"),):
                for marker in (*MARKERS, "prosecutor", "W-0001", "E-000001", "T-0001"):
                    assert marker not in text, (name, marker)
    persons = (folder / "persons.csv").read_text(encoding="utf-8-sig")
    assert "P-000001" in persons and "P-000002" in persons and "P-000005" in persons
    assert "P-000003" not in persons and "P-000004" not in persons  # withheld; named by a restricted list only


def test_the_public_network_holds_what_may_be_published_and_the_teams_holds_everything(case, tmp_path):
    # an accepted public act and burial naming a withheld person and a person only a restricted list names
    _claims(case, "acts", {"act_id": "A9", "act_type": "execution", "date": "1367/05/09",
                           "victims": "public-list:p3|restricted-source-marker:r9"}, "public-book")
    _claims(case, "burials", {"site_id": "G-OPEN", "victim": "public-list:p3", "likelihood": "maybe"}, "public-book")
    public = json.loads(Path(export_graph(case, tmp_path / "public.json", audience="public",
                                          actor=TESTER)["out"]).read_text(encoding="utf-8"))
    team = json.loads(Path(export_graph(case, tmp_path / "team.json", actor=TESTER)["out"]).read_text(encoding="utf-8"))
    assert team["audience"] == "team" and public["audience"] == "public"
    registry = {n.get("external_id") or n["id"]: n["id"] for n in team["nodes"]}  # the files' ids → the registry's
    ids = {audience: {n["id"] for n in graph["nodes"]} for audience, graph in (("public", public), ("team", team))}
    kept_in = {"P-000003", "P-000004", registry["G-HID"]}
    assert kept_in <= ids["team"], "the team's network is the whole network"
    assert not kept_in & ids["public"]
    assert {"P-000001", "P-000002", *(registry[i] for i in ("G-OPEN", "G-CITY", "A1", "A9", "OF1"))} <= ids["public"]
    public_text, team_text = (json.dumps(g, ensure_ascii=False) for g in (public, team))
    for marker in ("prosecutor", "NOT-ACCEPTED-MARKER", "Hiddenofficial Markerman", "Hiddengrave Marker", "49.61"):
        assert marker not in public_text, marker
    assert all(marker in team_text for marker in ("prosecutor", "Hiddenofficial Markerman", "Hiddengrave Marker"))
    edges = {(e["kind"], e["source"], e["target"]) for e in public["edges"]}
    a1, a9, g_open = registry["A1"], registry["A9"], registry["G-OPEN"]
    assert {("victim", a1, "P-000001"), ("victim", a1, "P-000002")} <= edges
    assert not [e for e in edges if e[0] == "victim" and e[1] == a9], "A9 names no published person"
    assert ("burial", "P-000001", g_open) in edges and ("burial", "P-000003", g_open) not in edges
    assert ("post", registry["OF1"], registry["COM"]) in edges
    assert ("relation", registry["UNIT"], registry["COM"]) in edges and ("involvement", registry["OF1"], a1) in edges
    assert {e["review_status"] for e in public["edges"]} == {"accepted"}
    assert all(e["target"] in ids["public"] and e["source"] in ids["public"] for e in public["edges"])
    # OF2 took part, a public book says; only a restricted source names him: his id, not his name
    [of2] = [n for n in public["nodes"] if n["id"] == registry["OF2"]]
    assert of2["label"] == of2["id"] and of2["name"] is None
    # a network file's format is the one its name says
    with pytest.raises(InputError) as raised:
        export_graph(case, tmp_path / "net.json", format="graphml", actor=TESTER)
    assert raised.value.field == "format" and not (tmp_path / "net.json").exists()
    assert export_graph(case, tmp_path / "net.graphml", actor=TESTER)["format"] == "graphml"


def test_a_site_published_by_city_shows_its_city_even_when_its_place_is_a_cemetery(case):
    """A site whose place is a cemetery in the gazetteer, published by city only, showed the cemetery,
    and the memorial's map drew it at the cemetery's own coordinates."""
    _claims(case, "sites", {"site_id": "G-KHAV", "name": "Synthetic Grave", "kind": "mass-grave", "place": "cemetery:khavaran",
                            "latitude": "35.612345", "longitude": "51.543210", "certainty": "probable",
                            "publication": "city"}, "public-book")
    with case.session() as session:
        sites = {site["name"]: site for site in public_record(session)["sites"].values()}
    location = sites["Synthetic Grave"]["location"]
    assert location["place"]["id"] == "city:tehran" and "lat" not in location, location
    assert "Khavaran" not in json.dumps(sites["Synthetic Grave"])
    assert sites["Open Grave"]["location"]["place"]["id"] == "city:rasht", "a city is its own city"


def test_acts_name_published_victims_and_count_the_others(case, tmp_path):
    export_table(case, tmp_path / "acts.csv", table="acts", actor=TESTER)
    [row] = list(csv.DictReader(io.StringIO((tmp_path / "acts.csv").read_text(encoding="utf-8-sig"))))
    assert row["victims"] == "P-000001; P-000002" and row["victims_unnamed"] == "3"
    assert row["type"] == "execution" and row["date"] == "1367/05/01" and row["date_earliest"] == "1988-07-23"
    assert "Kamran Testari: approved, certain" in row["involved"] and row["sources"] == "public-book, p. 20"


# --- spreadsheets: every cell inert --------------------------------------------------------------

def _inert(value) -> bool:
    return not (isinstance(value, str) and value.startswith(FORMULA_START))


def test_formulas_come_out_inert_in_csv_xlsx_and_uwazi(case, tmp_path):
    folder = tmp_path / "out"
    folder.mkdir()
    written = _all_exports(case, folder)
    cells = []
    for name in ("persons.csv", "records.csv", "acts.csv"):
        cells += [c for row in csv.reader(io.StringIO(written[name].read_text(encoding="utf-8-sig"))) for c in row]
    for name in ("uwazi-persons.zip", "uwazi-officials.zip"):
        with zipfile.ZipFile(written[name]) as bundle:
            cells += [c for row in csv.reader(io.StringIO(bundle.read("import.csv").decode("utf-8"))) for c in row]
    for name in ("persons.xlsx", "records.xlsx", "acts.xlsx"):
        book = openpyxl.load_workbook(written[name])
        for sheet in book.worksheets:
            for row in sheet.iter_rows():
                for cell in row:
                    assert cell.data_type != "f", (name, cell.coordinate)
                    cells.append(cell.value)
        with zipfile.ZipFile(written[name]) as bundle:
            assert not any(b"<f>" in bundle.read(n) or b"<f " in bundle.read(n) for n in bundle.namelist())
    assert [c for c in cells if not _inert(c)] == []
    assert "'" + FORMULA in cells and "'+Evil" in cells and "'" + OFFICIAL_FORMULA in cells
    sheet = openpyxl.load_workbook(written["persons.xlsx"])["persons"]
    assert [c.value for c in sheet[1]][:3] == ["person_id", "name_fa", "name_latin"]
    assert any(c.value == "'" + FORMULA for row in sheet.iter_rows() for c in row)


# --- Popolo --------------------------------------------------------------------------------------

def _popolo_validator(kind: str) -> jsonschema.Draft3Validator:
    schemas = {path.stem: json.loads(path.read_text(encoding="utf-8")) for path in SCHEMAS.glob("*.json")}
    registry = Registry().with_resources((s["id"], Resource(contents=s, specification=DRAFT3))
                                         for s in schemas.values())
    return jsonschema.Draft3Validator(schemas[kind], registry=registry,
                                      format_checker=jsonschema.Draft3Validator.FORMAT_CHECKER)


def test_the_popolo_export_validates_against_popolos_schemas(case, tmp_path):
    export_popolo(case, tmp_path / "popolo.json", actor=TESTER)
    document = json.loads((tmp_path / "popolo.json").read_text(encoding="utf-8"))
    for key, kind in (("persons", "person"), ("organizations", "organization"), ("posts", "post"),
                      ("memberships", "membership"), ("events", "event")):
        assert document[key], key
        validator = _popolo_validator(kind)
        for item in document[key]:
            errors = [e.message for e in validator.iter_errors(item)]
            assert errors == [], (key, item["id"], errors)
    # the validator does catch what Popolo forbids
    assert list(_popolo_validator("person").iter_errors({"birth_date": "1367/05/01"}))
    assert list(_popolo_validator("membership").iter_errors({"sources": [{"note": "no url"}]}))


def test_popolo_carries_each_claim_with_its_citations(case, tmp_path):
    with case.session() as session:
        document = build_popolo(session)
    persons = {p["id"]: p for p in document["persons"]}
    names = {p["name"] for p in persons.values()}
    assert "Kamran Testari" in names and OFFICIAL_FORMULA in names and "Hiddenofficial Markerman" not in names
    testari = next(p for p in persons.values() if p["name"] == "Kamran Testari")
    assert {"name": "کامران تستاری", "note": "Persian script"} in testari["other_names"]
    assert testari["extra"]["claims"][0]["review_status"] == "accepted"
    assert [s["status"] for s in testari["extra"]["status"]] == ["promoted"]
    commission = next(o for o in document["organizations"] if o["name"] == "Synthetic Commission")
    assert commission["classification"] == "commission" and commission["sources"] == [
        {"url": BOOK_URL, "note": "public-book"}]
    judge = next(m for m in document["memberships"] if m.get("role") == "judge")
    assert judge["person_id"] == testari["id"] and judge["organization_id"] == commission["id"]
    # the Jalali month 1367/05 spans July and August 1988: the finest true Popolo date is the year
    assert judge["start_date"] == "1988" and judge["end_date"] == "1988-09-30"
    [claim] = judge["extra"]["claims"]
    assert claim["claim"] == judge["id"] and claim["from"]["original"] == "1367/05"
    assert claim["citations"] == [{"source": "public-book", "locator": BOOK_URL}]
    assert judge["sources"] == [{"url": BOOK_URL, "note": "public-book"}]
    member = next(m for m in document["memberships"] if "member" in m)
    assert member["organization_id"] == commission["id"] and member["member"]["@type"] == "Organization"
    assert {p["role"] for p in document["posts"]} == {"judge", "member"}
    [event] = document["events"]
    assert event["classification"] == "execution" and event["start_date"] == "1988-07-23"
    [account] = event["extra"]["claims"]
    assert [v["id"] for v in account["victims"]] == ["P-000001", "P-000002"] and account["unnamed_victims"] == 3
    assert account["citations"] == [{"source": "public-book", "locator": "p. 20"}]
    involved, unnamed = event["extra"]["involvements"]
    assert (involved["actor"], involved["degree"], involved["likelihood"]) == (testari["id"], "approved", "certain")
    assert involved["citations"] == [{"source": "public-book", "locator": "p. 30"}]
    assert unnamed["degree"] == "planned", "an official only a restricted source names takes part, by id only"


@pytest.mark.parametrize(("earliest", "latest", "shown"), [
    ("1988-08-01", "1988-08-01", "1988-08-01"),  # a day
    ("1988-08-01", "1988-08-31", "1988-08"),  # a Gregorian month
    ("1988-07-23", "1988-08-22", "1988"),  # the Jalali month Mordad 1367
    ("1988-03-21", "1989-03-20", None),  # the Jalali year 1367: no Popolo date is true of it
])
def test_popolo_dates_are_never_more_precise_than_the_sources(earliest, latest, shown):
    assert popolo_date({"original": "x", "earliest": earliest, "latest": latest}) == shown


# --- Uwazi ---------------------------------------------------------------------------------------

def _safe_name(label: str) -> str:
    """Uwazi's property name for a label (shared/propertyNames.ts, the default generation)."""
    return re.sub(r"[^a-z0-9]", "_", label.strip(), flags=re.I).lower()


def _uwazi_day(text: str) -> date:
    return date(*(int(part) for part in text.split("/")))


def read_uwazi(path: Path, template: str) -> list[dict]:
    """Read a zip as Uwazi's CSV import would, failing where Uwazi would refuse it."""
    types = {_safe_name(label): kind for label, kind in PROPERTY_TYPES[template].items()}
    types["title"] = "title"
    with zipfile.ZipFile(path) as bundle:
        names = set(bundle.namelist())
        assert "import.csv" in names and all("/" not in n for n in names)  # everything at the root
        raw = bundle.read("import.csv")
        assert not raw.startswith(b"\xef\xbb\xbf")  # a byte-order mark would become part of the first header
        rows = list(csv.reader(io.StringIO(raw.decode("utf-8"))))
        header = [_safe_name(h) for h in rows[0]]
        plain, languages = set(), {}
        for name in header:
            match = re.fullmatch(r"(.+)__(en|fa)", name)
            if match:
                languages.setdefault(match.group(1), set()).add(match.group(2))
            else:
                plain.add(name)
        assert not plain & set(languages), "a property with and without a language"
        assert {"en", "fa"} == set.union(*languages.values()) and all(v == {"en", "fa"} for v in languages.values())
        assert all(types[name] in WITH_LANGUAGE for name in languages)
        assert header[0] == "title__en"
        entities = []
        for row in rows[1:]:
            cells = dict(zip(header, (c.strip() for c in row), strict=True))  # csvtojson trims cells
            entity = {"title": {lang: cells[f"title__{lang}"] for lang in ("en", "fa")}}
            assert entity["title"]["en"], "every entity needs a title in the default language"
            for name, kind in types.items():
                if kind == "title":
                    continue
                if name in languages:
                    entity[name] = {lang: cells[f"{name}__{lang}"] for lang in ("en", "fa")}
                    continue
                column = f"{name}_geolocation" if kind == "geolocation" else name
                value = cells[column]
                if not value:
                    continue
                if kind == "multidaterange":
                    entity[name] = [tuple(_uwazi_day(d) if d else None for d in r.split(":")) for r in value.split("|")]
                elif kind == "multiselect":
                    entity[name] = value.split("|")
                elif kind == "geolocation":
                    lat, lon = value.split("|")
                    entity[name] = (float(lat), float(lon))
                elif kind == "numeric":
                    entity[name] = float(value)
                else:
                    entity[name] = value
            for attachment in filter(None, cells["attachments"].split("|")):
                assert attachment in names
                entity.setdefault("attachments", []).append(json.loads(bundle.read(attachment)))
            entities.append(entity)
    return entities


def test_the_uwazi_zip_reads_back_by_uwazis_rules(case, tmp_path):
    persons = read_uwazi(Path(export_uwazi(case, tmp_path / "p.zip", template="persons", actor=TESTER)["out"]),
                         "persons")
    ava = next(p for p in persons if p["person_id"] == "P-000001")
    assert ava["title"] == {"en": "Ava Rahimi", "fa": "Ava Rahimi"}  # no public Persian record: the Latin name
    assert ava["date_of_death"] == [(date(1988, 8, 1), date(1988, 8, 1))] and ava["date_of_death_as_given"] == "1367/05/10"
    assert ava["city"] == {"en": "Rasht", "fa": "رشت"} and ava["sources"] == ["public-list"]
    assert ava["incident"] == ["Synthetic summer killings"] and ava["acts"].startswith("A-")
    lat, lon = ava["location"]
    assert 36 < lat < 38 and 49 < lon < 50  # Rasht, from the gazetteer
    assert ava["attachments"][0]["records"][0]["source"] == "public-list"
    formula = next(p for p in persons if p["person_id"] == "P-000005")
    # a date known to the year only is the range of days that year can mean, never a day made up
    assert formula["date_of_death"] == [(date(1988, 3, 21), date(1989, 3, 20))]
    acts = read_uwazi(Path(export_uwazi(case, tmp_path / "a.zip", template="acts", actor=TESTER)["out"]), "acts")
    [act] = acts
    assert act["type"] == "execution" and act["date"] == [(date(1988, 7, 23), date(1988, 7, 23))]
    assert act["victims"] == "P-000001; P-000002" and act["unnamed_victims"] == 3.0
    assert "Kamran Testari" in act["alleged_perpetrators"]["en"] and "کامران تستاری" in act["alleged_perpetrators"]["fa"]
    assert act["title"]["fa"].startswith("اعدام")
    officials = read_uwazi(Path(export_uwazi(case, tmp_path / "o.zip", template="officials", actor=TESTER)["out"]),
                           "officials")
    testari = next(o for o in officials if o["title"]["en"] == "Kamran Testari")
    assert testari["title"]["fa"] == "کامران تستاری" and "judge, Synthetic Commission" in testari["posts"]["en"]
    assert testari["institutions"] == ["Synthetic Commission"] and testari["status"] == "promoted (2019)"
    with zipfile.ZipFile(tmp_path / "o.zip") as bundle:
        described = json.loads(bundle.read("template.json"))
    assert [p["label"] for p in described["properties"]][:2] == ["Official ID", "Aliases"]
    assert columns("officials")[:3] == ["Title__en", "Title__fa", "Official ID"]


def test_a_southern_or_western_coordinate_reads_as_a_number_and_never_as_a_formula():
    assert geolocation(37.2808, 49.5832) == "37.2808|49.5832"
    cell = geolocation(-33.45, -70.66)
    assert _inert(cell) and [float(v) for v in cell.strip().split("|")] == [-33.45, -70.66]


# --- files, audit, command line ------------------------------------------------------------------

def test_each_export_is_audited_with_its_files_digest(case, tmp_path):
    written = _all_exports(case, tmp_path)
    with case.session() as session:
        events = [e for e in list_audit(session, limit=None) if e["object_kind"] == "export"]
    assert {e["action"] for e in events} == {"table exported", "popolo exported", "uwazi exported",
                                             "network exported"}
    digests = {hashlib.sha256(p.read_bytes()).hexdigest() for p in written.values()}
    assert {e["object_id"] for e in events} == digests and len(events) == len(written)
    assert all(e["details"]["audience"] == "public" and e["actor"] == "tester" for e in events)


def test_an_existing_file_is_replaced_only_when_asked_and_nothing_is_left_on_error(case, tmp_path):
    out = tmp_path / "persons.csv"
    out.write_text("keep me")
    with pytest.raises(InputError) as raised:
        export_table(case, out, table="persons", actor=TESTER)
    assert raised.value.field == "out" and out.read_text() == "keep me"
    export_table(case, out, table="persons", actor=TESTER, overwrite=True)
    assert out.read_text(encoding="utf-8-sig").startswith("person_id,")
    for bad in ({"table": "victims"}, {"table": "persons", "format": "ods"}, {"table": "persons", "format": "xlsx"}):
        with pytest.raises(InputError):
            export_table(case, tmp_path / "bad.csv", actor=TESTER, **bad)
    with pytest.raises(InputError) as raised:
        export_uwazi(case, tmp_path / "bad.zip", template="sites", actor=TESTER)
    assert raised.value.field == "template"
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(("bad", ".bad", ".persons"))) == []


def test_the_commands_print_one_json_document_and_name_options_in_errors(case, database_url, tmp_path):
    workspace = case.workspace.path
    env = {"DADKHAH_DATABASE_URL": database_url} if database_url else None
    for args, key in ((("persons", "--out", str(tmp_path / "p.xlsx")), "rows"),
                      (("records", "--out", str(tmp_path / "r.csv"), "--format", "csv"), "rows"),
                      (("acts", "--out", str(tmp_path / "a.csv")), "rows"),
                      (("popolo", "--out", str(tmp_path / "p.json")), "events"),
                      (("uwazi", "--template", "acts", "--out", str(tmp_path / "u.zip")), "rows")):
        answer = run("export", *args, "--json", workspace=workspace, env=env)
        assert answer.exit_code == 0, answer.output
        document = json.loads(answer.stdout)
        assert key in document and document["sha256"] == hashlib.sha256(Path(document["out"]).read_bytes()).hexdigest()
    assert json.loads(run("export", "persons", "--out", str(tmp_path / "p.xlsx"), "--json", workspace=workspace,
                          env=env).stdout)["error"]["option"] == "--out"
    assert run("export", "persons", "--out", str(tmp_path / "p.xlsx"), "--force", workspace=workspace,
               env=env).exit_code == 0
    bad = run("export", "uwazi", "--template", "sites", "--out", str(tmp_path / "s.zip"), "--json",
              workspace=workspace, env=env)
    assert bad.exit_code != 0 and json.loads(bad.stdout)["error"]["option"] == "--template"


def test_json_written_as_it_is_encoded_is_the_text_json_dumps_gives(tmp_path):
    """Large JSON files (Popolo, a case file, the network) are written piece by piece, to save the
    memory of the whole text at once: the bytes are those the whole text would have had."""
    from dadkhah.outfiles import write_json

    document = {"persons": [{"id": f"P-{i:06d}", "name_fa": "مریم کریمی", "died": date(1988, 8, 1 + i % 28),
                             "sources": [{"name": "list-1", "page": i}]} for i in range(500)],
                "extra": {"note": "synthetic", "empty": [], "none": None, "float": 0.1}}
    write_json(tmp_path / "a.json", document, default=str)
    assert (tmp_path / "a.json").read_bytes() == (json.dumps(document, ensure_ascii=False, indent=1, default=str)
                                                  + "\n").encode("utf-8")
    write_json(tmp_path / "b.json", document["extra"], end="")
    assert (tmp_path / "b.json").read_text(encoding="utf-8") == json.dumps(document["extra"], ensure_ascii=False,
                                                                             indent=1)
