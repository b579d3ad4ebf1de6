"""A workspace with keys, and a few persons to attach testimonies and evidence to. (The local
time-stamping authority, ``authority``, is in tests/conftest.py: the web's tests use it too.)"""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from dadkhah.ingest.importer import import_file
from dadkhah.model import LinkageRun, Source
from dadkhah.registry.persons import assign_persons
from dadkhah.vault.keys import create_keys, load_keys
from tests.conftest import TESTER, write


@pytest.fixture
def keys(store):
    """The store's workspace with its keys created and unlocked (on SQLite and PostgreSQL)."""
    create_keys(store.workspace)
    store.workspace = store.workspace.reloaded()  # the configuration now names the keys
    return load_keys(store.workspace)


def make_persons(store, tmp_path, count: int = 3) -> list[str]:
    """``count`` persons (P-000001 ...), each from one synthetic record, linked by hand."""
    body = "id,given_name,family_name,father_name,death_date,city\n" + "".join(
        f"r{i},Given{i},Family{i},Father{i},1367/05/1{i % 9},Rasht\n" for i in range(1, count + 1))
    import_file(store, write(tmp_path / "victims.csv", body), source="victims", actor=TESTER)
    with store.session() as session:
        source_id = session.scalar(sa.select(Source.id).where(Source.name == "victims"))
        run = LinkageRun(engine="hand", threshold=0.5, review_low=0.2, review_high=0.9, parameters={}, run_by="t",
                         software_version="0")
        session.add(run)
        session.flush()
        assign_persons(session, run.id, {(source_id, f"r{i}"): i for i in range(1, count + 1)})
    return [f"P-{i:06d}" for i in range(1, count + 1)]
