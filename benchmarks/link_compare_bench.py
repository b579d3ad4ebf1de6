"""`dadkhah link run` against a plain Splink script on the same rows (about 55,000 records).

Prints one JSON line: the whole-process seconds of each (each in its own process, timed from
outside, reading its input and writing its result), their ratio (target: at most 1.5), and the
pairwise F1 of each against the synthetic truth. Then a small list is added (1,000 records that
re-list people of list 5 under new record ids, as lists copied from lists do) and `link run` is
timed again: it should use the model the first run trained, and take at most 0.3 of the first
run's time. The review queue's size after each run is reported too.

The plain script is what someone would write from Splink's documentation without domain work:
stock name comparisons on the list columns as written, dates and places compared as text, the
same training budgets as ours.

    python benchmarks/link_compare_bench.py [--victims 31500] [--difficulty hard] [--keep DIR]
"""

from __future__ import annotations

import argparse
import csv
import itertools
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def plain_splink(case_dir: str, out_csv: str) -> None:
    """The baseline: read the lists, link with a stock Splink configuration, write clusters."""
    import pyarrow as pa
    import pyarrow.csv as pcsv
    import splink.comparison_library as cl
    from splink import DuckDBAPI, Linker, SettingsCreator, block_on

    columns = ["unique_id", "source", "record_id", "given_name", "family_name", "father_name", "birth_date", "death_date", "city", "gender"]
    rows = {c: [] for c in columns}
    for path in sorted(Path(case_dir).glob("list-*.csv")):
        table = pcsv.read_csv(path, convert_options=pcsv.ConvertOptions(strings_can_be_null=True, column_types={c: pa.string() for c in ("record_id", "birth_date", "death_date")}))
        data = table.to_pydict()
        for i in range(table.num_rows):
            given, family = data.get("given_name", [None] * table.num_rows)[i], data.get("family_name", [None] * table.num_rows)[i]
            if not given and not family and data.get("full_name"):
                parts = (data["full_name"][i] or "").split(maxsplit=1)
                given, family = (parts + [None, None])[:2]
            rows["unique_id"].append(f"{path.stem}:{data['record_id'][i]}")
            rows["source"].append(path.stem)
            rows["record_id"].append(data["record_id"][i])
            rows["given_name"].append(given.lower() if given else None)
            rows["family_name"].append(family.lower() if family else None)
            for c in ("father_name", "birth_date", "death_date", "city", "gender"):
                value = data.get(c, [None] * table.num_rows)[i]
                rows[c].append(value.lower() if isinstance(value, str) else value)
    records = pa.table(rows)
    settings = SettingsCreator(
        link_type="dedupe_only",
        comparisons=[
            cl.NameComparison("given_name"), cl.NameComparison("family_name"), cl.NameComparison("father_name"),
            cl.ExactMatch("birth_date"), cl.ExactMatch("death_date"), cl.ExactMatch("city"), cl.ExactMatch("gender"),
        ],
        blocking_rules_to_generate_predictions=[
            block_on("given_name", "family_name"), block_on("family_name", "death_date"), block_on("given_name", "father_name"),
        ],
    )
    db_api = DuckDBAPI()
    linker = Linker(db_api.register(records), settings, log_level=40)
    linker.training.estimate_probability_two_random_records_match([block_on("given_name", "family_name", "father_name")], recall=0.7)
    linker.training.estimate_u_using_random_sampling(max_pairs=2e6, seed=1)
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("given_name", "family_name"), max_pairs=5e5)
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("death_date"), max_pairs=5e5)
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("father_name"), max_pairs=5e5)
    predictions = linker.inference.predict(threshold_match_probability=0.5)
    clusters = linker.clustering.cluster_pairwise_predictions_at_threshold(predictions, 0.5).as_pyarrow_table()
    with open(out_csv, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["source", "record_id", "person_id"])
        for uid, cluster in zip(clusters["unique_id"].to_pylist(), clusters["cluster_id"].to_pylist(), strict=True):
            source, record_id = uid.split(":", 1)
            writer.writerow([source, record_id, cluster])


def pairwise_f1(clusters_csv: Path, truth_csv: Path) -> float:
    from dadkhah.link.evaluate import evaluate_clusters

    def read(path):
        with open(path, encoding="utf-8", newline="") as handle:
            return {(r["source"], r["record_id"]): r["person_id"] for r in csv.DictReader(handle)}

    return evaluate_clusters(read(clusters_csv), read(truth_csv))["pairwise"]["f1"]


def timed(command: list[str], env: dict, keep: Path | None = None) -> float:
    started = time.perf_counter()
    with open(keep, "w") if keep else open(os.devnull, "w") as stdout:
        subprocess.run(command, check=True, env=env, stdout=stdout, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def _small_list(case: Path, out: Path, rows: int = 1000) -> Path:
    """A list of ``rows`` records (all of list 5's, if it has fewer) re-listing people of list 5 under new ids;
    returns the truth including it."""
    with open(case / "list-5.csv", encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        fields, records = reader.fieldnames, list(itertools.islice(reader, rows))
    with open(case / "truth.csv", encoding="utf-8", newline="") as handle:
        truth = list(csv.DictReader(handle))
    person = {(r["source"], r["record_id"]): r["person_id"] for r in truth}
    id_field = next(f for f in fields if f in ("record_id", "id"))
    with open(out, "w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields)
        writer.writeheader()
        for i, record in enumerate(records):
            truth.append({"source": "list-7", "record_id": f"L7-{i:05d}", "person_id": person[("list-5", record[id_field])]})
            writer.writerow(record | {id_field: f"L7-{i:05d}"})
    combined = out.with_name("truth-with-list-7.csv")
    with open(combined, "w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["source", "record_id", "person_id"])
        writer.writeheader()
        writer.writerows(truth)
    return combined


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--victims", type=int, default=31_500)
    parser.add_argument("--difficulty", default="hard")
    parser.add_argument("--keep")
    parser.add_argument("--plain", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.plain:
        plain_splink(*args.plain)
        return
    from dadkhah.audit import Actor
    from dadkhah.ingest.importer import import_file
    from dadkhah.store import open_store
    from dadkhah.synth import generate_case
    from dadkhah.workspace import create_workspace, load_workspace

    env = os.environ.copy()
    env.pop("DADKHAH_DATABASE_URL", None)
    os.environ.pop("DADKHAH_DATABASE_URL", None)
    folder = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="dadkhah-link-compare-"))
    case = folder / f"case-{args.victims}-{args.difficulty}"
    workspace = folder / "ws"
    try:
        if not case.exists():
            generate_case(case, victims=args.victims, lists=6, seed=55, difficulty=args.difficulty)
        shutil.rmtree(workspace, ignore_errors=True)
        with open_store(create_workspace(workspace)) as store:
            records = sum(import_file(store, p, source=p.stem, actor=Actor("benchmark", "cli")).imported for p in sorted(case.glob("list-*.csv")))
        ours = timed([sys.executable, "-m", "dadkhah", "--workspace", str(workspace), "link", "run", "--json"], env,
                     keep=folder / "first.json")
        first = json.loads((folder / "first.json").read_text())
        subprocess.run([sys.executable, "-m", "dadkhah", "--workspace", str(workspace), "persons", "export", "--force", "--out",
                        str(folder / "ours.csv")], check=True, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        small = folder / "list-7.csv"
        truth = _small_list(case, small)
        with open_store(load_workspace(workspace)) as store:
            import_file(store, small, source="list-7", actor=Actor("benchmark", "cli"))
        again = timed([sys.executable, "-m", "dadkhah", "--workspace", str(workspace), "link", "run", "--json"], env,
                      keep=folder / "second.json")
        second = json.loads((folder / "second.json").read_text())
        subprocess.run([sys.executable, "-m", "dadkhah", "--workspace", str(workspace), "persons", "export", "--force", "--out",
                        str(folder / "ours-again.csv")], check=True, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        plain = timed([sys.executable, __file__, "--plain", str(case), str(folder / "plain.csv")], env)
        result = {
            "benchmark": "link_compare",
            "cores": os.cpu_count(),
            "records": records,
            "difficulty": args.difficulty,
            "dadkhah_seconds": round(ours, 1),
            "plain_splink_seconds": round(plain, 1),
            "ratio": round(ours / plain, 2),
            "target_ratio": 1.5,
            "dadkhah_f1": pairwise_f1(folder / "ours.csv", case / "truth.csv"),
            "plain_splink_f1": pairwise_f1(folder / "plain.csv", case / "truth.csv"),
            "dadkhah_stage_seconds": first["stage_seconds"],
            "review_pairs": first["pairs_for_review"],
            "review_expected_changes": first["review_expected_changes"],
            "second_run_records_added": 1000,
            "second_run_seconds": round(again, 1),
            "second_run_stage_seconds": second["stage_seconds"],
            "second_run_ratio": round(again / ours, 2),
            "second_run_retrained": second["training"]["retrained"],
            "second_run_reason": second["training"]["reason"],
            "second_run_f1": pairwise_f1(folder / "ours-again.csv", truth),
            "second_run_review_pairs": second["pairs_for_review"],
        }
        result["meets_target"] = result["ratio"] <= 1.5 and result["second_run_ratio"] <= 0.3
        print(json.dumps(result))
    finally:
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
