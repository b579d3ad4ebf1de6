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
