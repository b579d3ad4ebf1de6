"""The crash benchmark still runs: each writing command killed twice on SQLite, every check passing.

benchmarks/crash_bench.py kills `import`, `link run`, `evidence add`, `export casefile` and
`estimate run` with SIGKILL at random moments and checks the workspace after each kill; this keeps
the harness from rotting (the full 50 kills per command and database is a benchmark, not a test).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "benchmarks" / "crash_bench.py"
COMMANDS = ("import", "link", "evidence", "casefile", "estimate")


@pytest.mark.slow
def test_every_writing_command_survives_two_kills_on_sqlite(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("DADKHAH_")}
    done = subprocess.run([sys.executable, str(BENCH), "--runs", "2", "--database", "sqlite", "--victims", "300",
                           "--import-rows", "3000", "--seed", "7", "--cli-verify-every", "2", "--work-dir", str(tmp_path / "bench")],
                          capture_output=True, text=True, env=env, timeout=1800)
    lines = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    assert lines, done.stderr[-3000:]
    *series, summary = lines
    assert [(s["command"], s["database"], s["runs"]) for s in series] == [(c, "sqlite", 2) for c in COMMANDS]
    failed = {s["command"]: (s["failures"], s["examples"]) for s in series if s["failures"]}
    assert not failed, json.dumps(failed, indent=1, default=str)[:4000]
    assert summary["passed"] and done.returncode == 0, done.stderr[-3000:]
    assert summary["kills"] >= 1, "no command was killed before it finished"
