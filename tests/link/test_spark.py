"""The same model on Splink's Spark backend, in local mode (slow: Spark takes a minute to start and run)."""

from __future__ import annotations

import pytest

from dadkhah.ingest.importer import import_file
from dadkhah.link.run import evaluate_linkage, run_linkage
from dadkhah.store import open_store
from dadkhah.workspace import create_workspace
from tests.conftest import TESTER

pytest.importorskip("pyspark", reason="the Spark engine needs the 'spark' extra (make test-slow installs it)")


@pytest.mark.slow
def test_spark_links_like_duckdb(small_case, tmp_path, monkeypatch):
    monkeypatch.delenv("DADKHAH_DATABASE_URL", raising=False)
    scores = {}
    for engine in ("duckdb", "spark"):
        with open_store(create_workspace(tmp_path / engine)) as store:
            for path in sorted(small_case.glob("list-*.csv")):
                import_file(store, path, source=path.stem, actor=TESTER)
            summary = run_linkage(store, engine=engine, actor=TESTER)
            assert summary.engine == engine
            scores[engine] = evaluate_linkage(store, small_case / "truth.csv")["pairwise"]["f1"]
    assert scores["spark"] >= 0.9
    assert abs(scores["spark"] - scores["duckdb"]) <= 0.02, scores


@pytest.mark.slow
def test_link_run_on_spark_prints_nothing_of_spark_s_own(linked, tmp_path):
    # Spark's start-up notes, warnings and progress bars are not for the person running the command.
    import os
    import shutil
    import subprocess
    import sys

    target = tmp_path / "ws"
    shutil.copytree(linked[0], target)
    env = {k: v for k, v in os.environ.items() if k != "DADKHAH_DATABASE_URL"}
    done = subprocess.run([sys.executable, "-m", "dadkhah", "--workspace", str(target), "link", "run", "--engine", "spark",
                           "--json"], capture_output=True, text=True, env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ws"], "nothing left in the folder it was run from"
    for noise in ("[Stage", "WARN", "log4j", "setLogLevel", "SparkConf"):
        assert noise not in done.stderr, done.stderr[-2000:]
    # The model the DuckDB run trained is not read by Spark: this run trains its own, and says why.
    import json

    summary = json.loads(done.stdout)
    assert summary["training"]["retrained"] and "different engine" in summary["training"]["reason"]
    assert not any("pandas" in note for note in summary["training_notes"])
