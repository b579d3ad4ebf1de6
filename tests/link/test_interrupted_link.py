"""A linkage run killed before it commits leaves no run folder, only a partial one the next opening sweeps."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import sqlalchemy as sa

from dadkhah.link.run import run_linkage
from dadkhah.model import LinkageRun
from dadkhah.store import open_store
from dadkhah.workspace import load_workspace
from tests.conftest import TESTER

SCRIPT = r"""
import os, signal, sys
import dadkhah.link.run as run
from dadkhah.audit import Actor
from dadkhah.store import open_store
from dadkhah.workspace import load_workspace

# pairs saved, not yet committed
run.refresh_search_index = lambda session, changed: os.kill(os.getpid(), signal.SIGKILL)
run.run_linkage(open_store(load_workspace(sys.argv[1])), actor=Actor("tester", "cli"), retrain=True)
"""


def _killed_copy(linked, tmp_path, script: str):
    """A copy of the linked case on which ``script`` ran a link run that killed itself; the copy's
    folder and the names in its ``linkage/``."""
    target = tmp_path / "ws"
    shutil.copytree(linked[0], target)
    env = {k: v for k, v in os.environ.items() if k != "DADKHAH_DATABASE_URL"}
    done = subprocess.run([sys.executable, "-c", script, str(target)], capture_output=True, text=True, env=env)
    assert done.returncode == -9, done.stderr
    return target, sorted(p.name for p in (target / "linkage").iterdir())


def test_a_killed_link_run_leaves_nothing_the_next_opening_does_not_sweep(linked, tmp_path):
    target, folders = _killed_copy(linked, tmp_path, SCRIPT)
    assert folders[0].startswith(".run-2.") and folders[0].endswith(".part"), folders
    assert "run-2" not in folders, "a run that never committed has no run folder"
    with open_store(load_workspace(target)) as store:
        assert not any(p.name.endswith(".part") for p in (target / "linkage").iterdir()), "swept on opening"
        with store.session() as session:
            assert session.scalar(sa.select(sa.func.count()).select_from(LinkageRun)) == 1
        summary = run_linkage(store, actor=TESTER)
    assert (target / "linkage" / f"run-{summary.run_id}" / "pairs.parquet").is_file()


def test_a_link_run_that_fails_removes_its_unpublished_pairs(copy_of_linked, monkeypatch):
    import pytest

    import dadkhah.link.run as run

    def failing(session, changed):
        raise RuntimeError("the search index could not be built")

    monkeypatch.setattr(run, "refresh_search_index", failing)
    with pytest.raises(RuntimeError):
        run_linkage(copy_of_linked, actor=TESTER)
    linkage = copy_of_linked.workspace.path / "linkage"
    assert sorted(p.name for p in linkage.iterdir()) == ["run-1"], "nothing of the failed run is left"


AFTER_COMMIT = r"""
import os, signal, sys
import dadkhah.link.run as run
from dadkhah.audit import Actor
from dadkhah.store import open_store
from dadkhah.workspace import load_workspace

run.publish_run_pairs = lambda part, final: os.kill(os.getpid(), signal.SIGKILL)  # committed, pairs not in place
run.run_linkage(open_store(load_workspace(sys.argv[1])), actor=Actor("tester", "cli"))
"""


def test_a_link_run_killed_after_its_commit_keeps_its_pairs(linked, tmp_path):
    from types import SimpleNamespace

    from dadkhah.link.run import kept_pairs, load_run_pairs

    target, folders = _killed_copy(linked, tmp_path, AFTER_COMMIT)
    assert "run-2" not in folders and any(f.startswith(".run-2.") for f in folders), folders
    # Before any sweep (a server opened earlier), the committed run's pairs are read where they are.
    assert kept_pairs(SimpleNamespace(workspace=load_workspace(target)), 2)
    pairs, _, records = load_run_pairs(target, 2)
    assert pairs.num_rows > 0 and records.num_rows > 0
    with open_store(load_workspace(target)) as store:
        assert store.swept["linkage_put_in_place"] == 1
        assert sorted(p.name for p in (target / "linkage").iterdir()) == ["run-1", "run-2"]
        with store.session() as session:
            assert session.get(LinkageRun, 2).finished_at is not None
        assert kept_pairs(store, 2)
