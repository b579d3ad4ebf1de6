"""A small accountability set written by hand, with the victims' list it refers to."""

from __future__ import annotations

from pathlib import Path

import pytest

from dadkhah.ingest.importer import import_file
from tests.conftest import TESTER, write

VICTIMS = "id,given_name,family_name,father_name,death_date,city,prison\n" + "".join(
    f"V{i},Given{i},Family{i},Father{i},1367/05/{i:02d},Rasht,Lakan\n" for i in range(1, 9))

FILES = {
    "institutions.csv": (
        "institution_id,name,name_fa,kind,parent_id,relation,from,to,source,locator,note\n"
        "JUD,National Judiciary,قوه قضاییه,ministry,,,,,,p. 1,\n"
        "COM-G,Gilan Commission,هیئت گیلان,commission,JUD,child-of,1988-07-20,1988-09-30,,p. 2,seasonal\n"
        "PR-L,Lakan Prison,زندان لاکان,prison,PRO,child-of,1980,,,p. 3,\n"
        "PRO,Prisons Organisation,سازمان زندان‌ها,security-force,JUD,child-of,1980,,,p. 4,\n"
        "BAD,Bad Row,,not-a-kind,,,,,,,\n"
        "ORPH,Orphan Unit,,unit,NOPE,child-of,,,,,\n"
    ),
    "officials.csv": (
        "official_id,name,name_fa,aliases,gender,birth_date,source,locator\n"
        "OF1,Kamran Testari,کامران تستاری,Kamran Testary|K. T.,male,1330,,\n"
        "OF2,Bahram Namouni,بهرام نمونی,,male,,,\n"
        "OF3,Sohrab Farzi,سهراب فرضی,,male,,,\n"
    ),
    "posts.csv": (
        "official_id,institution_id,role,from,to,source,locator\n"
        "OF1,COM-G,judge,summer 1367,1988-09-30,,p. 10\n"
        "OF2,COM-G,prosecutor,1988-07-20,1988-09-30,,p. 10\n"
        "OF3,PR-L,head of prison,1985,1990,,p. 11\n"
        "OF1,JUD,head of a national court,2004,2014,,p. 12\n"
        "OF9,JUD,judge,1988,,,p. 13\n"
        "OF2,JUD,judge,1990,1985,,p. 14\n"
    ),
    "acts.csv": (
        "act_id,act_type,date,place,incident,victims,unnamed_victims,source,locator\n"
        "A1,execution,1367/05/01,Lakan,Synthetic prison executions,s:V1|s:V2,3,,p. 20\n"
        "A2,execution,1367/05/03,Lakan,Synthetic prison executions,s:V3,0,,p. 21\n"
        "A3,execution,1367/05/04,Nowhere Land,,s:V4,,,p. 22\n"
        "A4,execution,1367/05/05,Lakan,,s:NOPE,,,p. 23\n"
        "A5,grave-desecration,2005,Rasht,,,,,p. 24\n"
    ),
    "involvements.csv": (
        "act_id,actor_id,degree,likelihood,source,locator\n"
        "A1,OF1,approved,certain,,p. 30\n"
        "A1,OF3,carried out,likely,,p. 30\n"
        "A2,OF1,gave orders,maybe,,p. 31\n"
        "A2,COM-G,approved,likely,,p. 31\n"
        "A3,OF2,approved,certain,,p. 32\n"
        "A2,OF1,approved,very sure,,p. 33\n"
    ),
    "official_status.csv": (
        "official_id,observed_on,status,source,locator\n"
        "OF1,2019-03-07,promoted,,p. 40\n"
        "OF3,2010,deceased,,p. 41\n"
    ),
    "sites.csv": (
        "site_id,name,name_fa,kind,place,latitude,longitude,certainty,publication,source,locator\n"
        "G-OPEN,Open Grave,گور باز,mass-grave,Rasht,37.25,49.55,confirmed,exact,,p. 50\n"
        "G-CITY,City Grave,,mass-grave,Rasht,37.21,49.61,probable,city,,p. 51\n"
        "G-HID,Hidden Grave,,mass-grave,Rasht,37.123456,49.654321,suspected,hidden,,p. 52\n"
    ),
    "site_status.csv": (
        "site_id,observed_on,status,method,evidence,source,locator\n"
        "G-OPEN,2005,intact,satellite image,,,p. 60\n"
        "G-OPEN,2008,bulldozed,satellite-image,,,p. 61\n"
        "G-HID,2010,built over,witness,,,p. 62\n"
    ),
    "burials.csv": (
        "site_id,victim,likelihood,source,locator\n"
        "G-OPEN,s:V1,likely,,p. 70\n"
        "G-HID,s:V2,maybe,,p. 71\n"
        "G-HID,s:V3,certain,,p. 72\n"
    ),
}
# Rows the set refuses, by file: (line, field).
REFUSED = {
    "institutions.csv": {(6, "kind"), (7, "parent_id")},
    "posts.csv": {(6, "official_id"), (7, "to")},
    "acts.csv": {(5, "victims")},
    "involvements.csv": {(7, "likelihood")},
}


def write_set(folder: Path, files: dict[str, str] | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in (files or FILES).items():
        write(folder / name, text)
    return folder


@pytest.fixture
def victims(store, tmp_path):
    """Eight victims' records in source ``s``, not yet linked."""
    import_file(store, write(tmp_path / "victims.csv", VICTIMS), source="s", actor=TESTER)
    return store


@pytest.fixture
def accountability_set(tmp_path) -> Path:
    return write_set(tmp_path / "accountability")
