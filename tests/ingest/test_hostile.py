"""Hostile list files are refused within a minute and a gigabyte, with a message naming the file and
the limit, and exit status 1: never a traceback, an abort or a machine out of memory.

Each file is made here, small on disk (see ``hostile.py``), and imported by the real command in a
child process whose peak memory and time are measured.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.ingest import hostile

MEASURE = ("import json, resource, subprocess, sys, time; t = time.perf_counter(); "
           "done = subprocess.run(sys.argv[1:], capture_output=True, text=True); "
           "print(json.dumps({'seconds': time.perf_counter() - t, 'peak_mb': "
           "resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 'status': done.returncode, "
           "'stdout': done.stdout, 'stderr': done.stderr}))")


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("hostile")
    return {
        "far cell": hostile.xlsx_far_cell(folder / "far.xlsx"),
        "20M rows": hostile.xlsx_many_rows(folder / "rows.xlsx", 20_000_000, numbered=False),
        "100M cells": hostile.xlsx_many_cells(folder / "cells.xlsx", 1_000_000, 100),
        "shared strings": hostile.xlsx_shared_string_bomb(folder / "strings.xlsx", 300),
        "far apart": hostile.xlsx_far_apart(folder / "apart.xlsx"),
        "deep JSON": hostile.json_deep(folder / "deep.json", 200_000),
        "deep JSON Lines": hostile.jsonl_deep(folder / "deep.jsonl", 200_000),
    }


@pytest.fixture(scope="module")
def workspace(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("hostile-ws") / "ws"
    env = _env(folder.parent)
    subprocess.run([sys.executable, "-m", "dadkhah", "init", str(folder), "--json"], env=env, check=True,
                   capture_output=True)
    return folder


def _env(home: Path) -> dict:
    return {k: v for k, v in os.environ.items() if not k.startswith("DADKHAH_")} | {"XDG_CONFIG_HOME": str(home / "config")}


def _import(workspace: Path, path: Path) -> dict:
    command = [sys.executable, "-m", "dadkhah", "--workspace", str(workspace), "import", str(path), "--source",
               path.stem, "--json"]
    measured = subprocess.run([sys.executable, "-c", MEASURE, *command], env=_env(workspace.parent),
                              capture_output=True, text=True, check=True)
    return json.loads(measured.stdout)


@pytest.mark.parametrize(("name", "limit"), [
    ("far cell", "import.max_columns"), ("20M rows", "import.max_rows"), ("100M cells", "import.max_cells"),
    ("shared strings", "import.max_shared_strings_mb"), ("far apart", "import.max_memory_mb"),
    ("deep JSON", "import.max_depth"),
])
def test_a_hostile_file_is_refused_quickly_in_bounded_memory(files, workspace, name, limit):
    started = time.perf_counter()
    run = _import(workspace, files[name])
    assert run["status"] == 1, run
    error = json.loads(run["stdout"])["error"]
    assert error["file"] == str(files[name]) and limit in error["message"], error
    assert "Traceback" not in run["stderr"] and limit in run["stderr"]
    assert run["seconds"] < 60 and time.perf_counter() - started < 60, run["seconds"]
    assert run["peak_mb"] < 1024, run["peak_mb"]


def test_a_deeply_nested_json_lines_row_is_quarantined_and_the_rest_imported(files, workspace):
    run = _import(workspace, files["deep JSON Lines"])
    assert run["status"] == 0 and "Traceback" not in run["stderr"], run
    summary = json.loads(run["stdout"])
    assert (summary["rows"], summary["imported"], summary["rejected"]) == (2, 1, 1)
    report = Path(summary["quarantine"]).read_text(encoding="utf-8-sig")
    assert "nested" in report and run["peak_mb"] < 1024


def test_the_limits_are_the_workspaces_own(tmp_path):
    """A workspace that trusts its files may raise a limit; one that does not may lower it."""
    from dadkhah.errors import LimitExceeded
    from dadkhah.ingest.importer import import_file
    from dadkhah.store import open_store
    from dadkhah.workspace import create_workspace
    from tests.conftest import TESTER, write

    workspace = create_workspace(tmp_path / "ws")
    config = workspace.config_path.read_text(encoding="utf-8")
    assert "max_rows = 5000000" in config and "max_depth = 64" in config
    workspace.config_path.write_text(config.replace("max_rows = 5000000", "max_rows = 3"), encoding="utf-8")
    rows = "".join(f"r{i},Name{i}\n" for i in range(5))
    with open_store(workspace.reloaded()) as store, pytest.raises(LimitExceeded, match="import.max_rows") as refused:
        import_file(store, write(tmp_path / "five.csv", "id,name\n" + rows), actor=TESTER, source="five")
    assert refused.value.file.endswith("five.csv")
    workspace.config_path.write_text(config.replace("max_rows = 5000000", "max_rows = -1"), encoding="utf-8")
    with open_store(workspace.reloaded()) as store, pytest.raises(Exception, match="import.max_rows must be"):
        import_file(store, tmp_path / "five.csv", actor=TESTER, source="five")


def test_a_csv_line_without_end_or_a_row_of_endless_cells_is_refused(tmp_path):
    from dadkhah.errors import LimitExceeded
    from dadkhah.ingest.limits import ReadLimits
    from dadkhah.ingest.readers import open_rows

    limits = ReadLimits(max_line_kb=64, max_columns=50)
    long_line = tmp_path / "long.csv"
    long_line.write_text("id,name\n1," + "x" * 100_000 + "\n", encoding="utf-8")
    with pytest.raises(LimitExceeded, match="max_line_kb"), open_rows(long_line, limits=limits) as stream:
        list(stream.rows)
    wide = tmp_path / "wide.csv"
    wide.write_text("id,name\n1" + ",x" * 60 + "\n", encoding="utf-8")
    with pytest.raises(LimitExceeded, match="max_columns") as refused, open_rows(wide, limits=limits) as stream:
        list(stream.rows)
    assert refused.value.line == 2
    # JSON Lines count physical lines: the first line too long is line 1 (it was called line 2)
    for lines, at in (('{"id":"1","name":"' + "x" * 100_000 + '"}\n', 1),
                      ('{"id":"1","name":"a"}\n{"id":"2","name":"' + "x" * 100_000 + '"}\n', 2)):
        jsonl = tmp_path / "long.jsonl"
        jsonl.write_text(lines, encoding="utf-8")
        with pytest.raises(LimitExceeded, match="max_line_kb") as refused, open_rows(jsonl, limits=limits) as stream:
            list(stream.rows)
        assert refused.value.line == at
