"""Fixtures shared by the linkage tests."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from dadkhah.ingest.importer import import_file
from dadkhah.link.features import record_features
from dadkhah.link.run import run_linkage
from dadkhah.model import LinkageRun
from dadkhah.store import open_store
from dadkhah.workspace import create_workspace
from tests.conftest import TESTER


@pytest.fixture(scope="package")
def hard_store_features(hard_case, tmp_path_factory):
    """The hard case (typos in both names, swapped names, lists without a city) imported, its
    features and a trained model."""
    folder = tmp_path_factory.mktemp("incremental") / "ws"
    with open_store(create_workspace(folder)) as store:
        for path in sorted(hard_case.glob("list-*.csv")):
            import_file(store, path, source=path.stem, actor=TESTER)
        run_linkage(store, actor=TESTER)
        with store.session() as session:
            features = record_features(session)
            model = session.scalar(sa.select(LinkageRun.model).order_by(LinkageRun.id.desc()).limit(1))
    return features, model
