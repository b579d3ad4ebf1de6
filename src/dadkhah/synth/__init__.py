"""Synthetic cases with known truth: a population, the lists that recorded it, and who is who.

Every test and benchmark of linkage and estimation runs on these, because their answers (true
identities, true total) are known. Same seed, same bytes.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path

import jdatetime

from dadkhah.errors import DadkhahError, InputError
from dadkhah.spreadsheet import SafeWriter
from dadkhah.synth.accountability import generate_accountability
from dadkhah.synth.appeal import generate_appeal
from dadkhah.synth.field import generate_field_exports
from dadkhah.synth.lists import (
    DIFFICULTIES,
    HETEROGENEITY,
    capture_logit,
    make_profiles,
    render_record,
)
from dadkhah.synth.population import generate_population

__all__ = ["generate_case", "CaseFiles", "DIFFICULTIES"]

LIST_COLUMNS_SPLIT = ["record_id", "given_name", "family_name", "father_name", "gender", "birth_date", "death_date", "city", "prison", "affiliation"]
LIST_COLUMNS_FULL = ["record_id", "full_name", "father_name", "gender", "birth_date", "death_date", "city", "prison", "affiliation"]


@dataclass
class CaseFiles:
    """What :func:`generate_case` wrote."""

    out: str
    victims: int
    observed: int
    lists: list[dict]
    truth: str
    population: str
    case: str
    accountability: str
    appeal: str
    field: str

    def to_dict(self) -> dict:
        return self.__dict__.copy()


def _sigmoid(x: float) -> float:
    import math

    return 1.0 / (1.0 + math.exp(-x)) if x > -40 else 0.0


def generate_case(
    out: str | Path,
    *,
    victims: int,
    lists: int,
    seed: int,
    difficulty: str = "realistic",
    cities: int = 32,
    coverage: float | None = None,
    heterogeneity: float = HETEROGENEITY,
    progress=None,
) -> CaseFiles:
    """Write a synthetic case to ``out``: ``list-<k>.csv``, ``truth.csv``, ``population.csv``, ``case.json``,
    and a synthetic accountability set for it in ``accountability/`` (see :mod:`dadkhah.synth.accountability`),
    a synthetic open letter with a few signatories in ``appeal/`` (:mod:`dadkhah.synth.appeal`), and
    a synthetic ODK Central download of witness statements with its mapping in ``field/``
    (:mod:`dadkhah.synth.field`).

    ``coverage``, when given, replaces every list's own coverage (the mean share of victims it
    records; 1.0 records everyone, for benchmarks that need a list of a given size).
    ``heterogeneity`` is how much people differ in how findable they are on every list at once (the
    standard deviation of a shared shift on the log-odds of capture; 0.9 by default, 0 for none).
    It is the kind of difference between people that estimates from few lists find hardest to see.
    ``progress(done, total)`` is called now and then; the work is one step per victim for the
    population and one per victim per list.
    """
    if victims < 1:
        raise InputError("must be at least 1", field="victims")
    if lists < 1:
        raise InputError("must be at least 1", field="lists")
    if difficulty not in DIFFICULTIES:
        raise InputError(f"must be one of {', '.join(DIFFICULTIES)}, not {difficulty!r}", field="difficulty")
    if coverage is not None and not 0 < coverage <= 1:
        raise InputError("must be more than 0 and at most 1", field="coverage")
    if not 0 <= heterogeneity <= 3:
        raise InputError("must be at least 0 and at most 3", field="heterogeneity")
    level = DIFFICULTIES[difficulty]
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    total = victims * (1 + lists)
    report = progress or (lambda done, total: None)
    try:
        population = generate_population(victims, seed=seed, cities=cities)
        report(victims, total)
    except ValueError as exc:
        raise DadkhahError(str(exc)) from None
    profile_rng = random.Random(f"dadkhah-profiles-{seed}")
    profiles = make_profiles(lists, level, profile_rng, coverage)
    city_names = {}
    for victim in population:
        city = victim.city
        if city["id"] not in city_names:
            city_names[city["id"]] = [city["name_en"], city.get("name_fa") or "", *(city.get("variants") or ())]

    captured: dict[str, set[int]] = {}
    truth_rows: list[tuple[str, str, str]] = []
    described = []
    for number, profile in enumerate(profiles, start=1):
        rng = random.Random(f"dadkhah-list-{seed}-{profile.name}")
        depends = captured.get(profile.depends_on) if profile.depends_on else None
        members: set[int] = set()
        rows: list[tuple[str, dict]] = []
        for index, victim in enumerate(population):
            logit = capture_logit(victim, profile, heterogeneity)
            if depends is not None:
                logit += profile.dependence if index in depends else -profile.dependence / 2
            if rng.random() >= _sigmoid(logit):
                continue
            members.add(index)
            rows.append((victim.person_id, render_record(victim, profile, level, rng, city_names=city_names)))
            if rng.random() < level.duplicate:
                rows.append((victim.person_id, render_record(victim, profile, level, rng, city_names=city_names)))
            if index % 50_000 == 0:
                report(victims * number + index, total)
        captured[profile.name] = members
        rng.shuffle(rows)
        columns = LIST_COLUMNS_FULL if profile.names == "full" else LIST_COLUMNS_SPLIT
        path = out / f"{profile.name}.csv"
        with open(path, "w", encoding="utf-8", newline="") as handle:
            writer = SafeWriter(handle)
            writer.writerow(columns)
            for number, (person_id, cells) in enumerate(rows, start=1):
                record_id = f"{profile.id_prefix}{number:05d}" if profile.id_prefix else str(number)
                cells["record_id"] = record_id
                writer.writerow([cells.get(c, "") for c in columns])
                truth_rows.append((profile.name, record_id, person_id))
        described.append(profile.describe() | {"file": path.name, "rows": len(rows), "persons": len(members)})

    truth_path = out / "truth.csv"
    with open(truth_path, "w", encoding="utf-8", newline="") as handle:
        writer = SafeWriter(handle)
        writer.writerow(["source", "record_id", "person_id"])
        writer.writerows(truth_rows)
    population_path = out / "population.csv"
    observed = 0
    with open(population_path, "w", encoding="utf-8", newline="") as handle:
        writer = SafeWriter(handle)
        writer.writerow(["person_id", "gender", "given_name", "given_name_latin", "family_name", "family_name_latin",
                         "father_name", "seyyed", "birth_date", "death_date", "death_date_jalali", "city_id", "province_id",
                         "prison_id", "affiliation", "lists"])
        for index, v in enumerate(population):
            on = [p.name for p in profiles if index in captured[p.name]]
            observed += bool(on)
            writer.writerow([
                v.person_id, v.gender, v.given.fa, v.given.latin[0], v.family.fa, v.family.latin[0], v.father.fa,
                int(v.seyyed), v.birth.isoformat(), v.death.isoformat(),
                jdatetime.date.fromgregorian(date=v.death).strftime("%Y/%m/%d"), v.city["id"], v.city.get("province_now") or "",
                v.prison["id"] if v.prison else "", v.affiliation["code"], ";".join(on),
            ])
    accountability = generate_accountability(out / "accountability", population, truth_rows, seed=seed)
    appeal = generate_appeal(out / "appeal", population, seed=seed)
    field = generate_field_exports(out / "field", population, seed=seed)
    report(total, total)
    case_path = out / "case.json"
    case = {"generator": "dadkhah synth", "seed": seed, "difficulty": difficulty, "victims": victims, "cities": cities,
            "heterogeneity": heterogeneity, "observed": observed, "lists": described}
    case_path.write_text(json.dumps(case, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    return CaseFiles(out=str(out), victims=victims, observed=observed, lists=described,
                     truth=str(truth_path), population=str(population_path), case=str(case_path),
                     accountability=accountability["folder"], appeal=appeal["folder"], field=field["folder"])
