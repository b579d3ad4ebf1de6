"""Workspace, database, migrations and the gazetteer copy, on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command

from dadkhah.audit import list_audit
from dadkhah.errors import DadkhahError, WorkspaceError
from dadkhah.model import Place, PlaceName, Setting, Source
from dadkhah.places import add_place_alias, list_places, load_gazetteer, unknown_spellings
from dadkhah.store import (
    GAZETTEER_SETTING,
    _alembic_config,
    create_engine,
    current_revision,
    head_revision,
    migrate,
    open_store,
    sync_gazetteer,
)
from dadkhah.workspace import CONFIG_NAME, create_workspace, find_workspace, load_workspace
from tests.conftest import TESTER


@pytest.fixture
def store(workspace):
    """Unlike the shared fixture (tests/conftest.py), no template: these tests are about what opening
    an empty database does (migrations, gazetteer), so here it starts empty."""
    with open_store(workspace) as opened:
        yield opened


def test_init_lays_out_the_workspace(tmp_path, monkeypatch):
    monkeypatch.delenv("DADKHAH_DATABASE_URL", raising=False)
    workspace = create_workspace(tmp_path / "case")
    for name in ("blobs", "quarantine", CONFIG_NAME):
        assert (workspace.path / name).exists()
    with open_store(workspace) as store, store.engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    assert (workspace.path / "dadkhah.db").exists()


@pytest.mark.parametrize("content", [b"garbage\n", b"SQLite format 3\x00" + b"\x00" * 200])
def test_a_database_file_that_is_not_one_says_so_and_how_to_recover(tmp_path, content):
    """A workspace whose dadkhah.db was damaged or written over: every command failed with a traceback
    and "this is a bug in Dadkhah"; now it names the file and the way back."""
    from dadkhah.store import open_store

    workspace = create_workspace(tmp_path / "ws")
    open_store(workspace).close()
    (workspace.path / "dadkhah.db").write_bytes(content)
    for suffix in ("-wal", "-shm"):
        (workspace.path / f"dadkhah.db{suffix}").unlink(missing_ok=True)
    with pytest.raises(WorkspaceError, match="cannot be read") as refused:
        open_store(workspace)
    assert str(workspace.path / "dadkhah.db") in str(refused.value) and "restore" in str(refused.value)


def test_a_folder_without_configuration_is_not_a_workspace(tmp_path):
    with pytest.raises(WorkspaceError, match="not a Dadkhah workspace"):
        load_workspace(tmp_path)
    (tmp_path / CONFIG_NAME).write_text("workspace_format = 99\n")
    with pytest.raises(WorkspaceError, match="newer"):
        load_workspace(tmp_path)


def test_the_workspace_is_the_folder_named_else_the_current_one(tmp_path, monkeypatch):
    create_workspace(tmp_path / "a")
    monkeypatch.chdir(tmp_path / "a")
    assert find_workspace().path == (tmp_path / "a").resolve()
    monkeypatch.chdir(tmp_path)
    assert find_workspace("a").path == (tmp_path / "a").resolve()


def test_the_database_url_is_a_parameter_not_the_environment(tmp_path, monkeypatch, postgres_url):
    monkeypatch.setenv("DADKHAH_DATABASE_URL", "postgresql://nobody@127.0.0.1:1/ignored")
    created = create_workspace(tmp_path / "a")
    assert created.database_url.startswith("sqlite:///") and created.is_sqlite
    shared = load_workspace(tmp_path / "a", database_url=postgres_url)
    assert shared.database_url == postgres_url and not shared.is_sqlite


def test_opening_migrates_to_head_and_is_idempotent(store):
    assert current_revision(store.engine) == head_revision()
    with open_store(store.workspace) as again:
        assert current_revision(again.engine) == head_revision()
    inspector = sa.inspect(store.engine)
    assert {"sources", "imports", "import_warnings", "records", "places", "place_names", "incidents"} <= set(inspector.get_table_names())


def test_the_newest_revision_is_read_from_the_file_names_as_alembic_reads_it_from_the_scripts():
    from alembic.script import ScriptDirectory

    scripts = ScriptDirectory.from_config(_alembic_config())
    assert scripts.get_heads() == [head_revision()]  # one line of migrations, its end the highest number
    for script in scripts.walk_revisions():
        assert Path(script.path).name.startswith(f"{script.revision}_")


def test_opening_a_current_database_does_not_load_the_migration_tool(store):
    import subprocess
    import sys

    code = ("import sys; from dadkhah.store import open_store; from dadkhah.workspace import load_workspace; "
            f"open_store(load_workspace({str(store.workspace.path)!r}, database_url={store.workspace.database_url!r})).close(); "
            "print('alembic' in sys.modules)")
    assert subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout.strip() == "False"


def test_an_older_database_is_migrated_and_keeps_its_rows(workspace):
    engine = create_engine(workspace.database_url)
    with engine.begin() as connection:
        command.upgrade(_alembic_config(connection), "0001")
    with engine.begin() as connection:
        older = sa.table("sources", sa.column("name"), sa.column("created_at"))  # the table as 0001 made it
        connection.execute(sa.insert(older).values(name="older", created_at=sa.func.now()))
    engine.dispose()
    with open_store(workspace) as store, store.session() as session:
        assert current_revision(store.engine) == head_revision()
        assert session.execute(sa.select(Source.name, Source.release)).one() == ("older", "restricted")


def test_a_database_from_a_newer_version_is_refused(workspace):
    with open_store(workspace) as store, store.engine.begin() as connection:
        connection.execute(sa.text("UPDATE alembic_version SET version_num = 'f00d'"))
    with pytest.raises(WorkspaceError, match="newer version"):
        open_store(workspace)


def test_the_gazetteer_is_copied_once_and_user_aliases_survive_updates(store):
    with store.session() as session:
        places = session.scalar(sa.select(sa.func.count()).select_from(Place))
        names = session.scalar(sa.select(sa.func.count()).select_from(PlaceName))
        assert places > 200 and names > places
    result = add_place_alias(store, "city:rasht", "Rasht-e Gilan", actor=TESTER)
    assert result["added"]
    assert not add_place_alias(store, "city:rasht", "Rasht-e Gilan", actor=TESTER)["added"], "known already"
    with store.session() as session:
        events = [e for e in list_audit(session, object_id="city:rasht")]
    assert [(e["action"], e["details"]["alias"], e["actor"]) for e in events] == [
        ("place alias added", "Rasht-e Gilan", TESTER.name)], "added once, audited once"
    assert not sync_gazetteer(store.engine)  # unchanged: nothing written
    with store.session() as session:  # pretend the shipped gazetteer changed
        session.execute(sa.update(Setting).where(Setting.key == GAZETTEER_SETTING).values(value="old"))
    assert sync_gazetteer(store.engine)
    with store.session() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(PlaceName)) == names + 1
        assert load_gazetteer(session).resolve("Rasht-e Gilan").place_id == "city:rasht"


def test_teaching_a_spelling_resolves_the_records_imported_with_it(store, tmp_path):
    """An alias resolves the records already imported whose place it names (left unresolved then),
    as an import would today; their text is untouched; linkage works its features out again and
    search rebuilds its index; the audit event says how many."""
    from dadkhah.ingest.importer import import_file
    from dadkhah.link.features import features_context
    from dadkhah.model import Record
    from tests.conftest import write

    write(tmp_path / "l.csv", "id,given_name,family_name,city,prison\n1,Ali,Rahimi,تهرات,\n2,Reza,Karimi,تهرات,Evin\n"
          "3,Hassan,Moradi,Rasht,\n4,Mina,Ahmadi,Atlantis,قزلحصاد\n5,Sara,Karimi,تهرات (Tehran),\n"
          "6,Leila,Rahimi,Tehrat,\n")
    import_file(store, tmp_path / "l.csv", source="s", actor=TESTER)
    write(tmp_path / "correction.csv", "id,given_name,family_name,city,prison\n1,Ali,Rahimi-Tehrani,تهرات,\n")
    import_file(store, tmp_path / "correction.csv", source="s", actor=TESTER)  # record 1, version 2
    with store.session() as session:
        before = features_context(session)
        session.add(Setting(key="person_search_built_for", value='{"run": 0, "import": 0}'))

    def places():
        with store.session() as session:
            return session.execute(sa.select(Record.record_id, Record.city, Record.city_place_id, Record.prison,
                                             Record.prison_place_id).where(Record.superseded_by.is_(None))
                                   .order_by(Record.record_id)).all()

    imported = places()
    assert [r[2] for r in imported] == [None, None, "city:rasht", None, "city:tehran", None]  # 5: its other part
    with store.session() as session:
        unknown = unknown_spellings(session, field="city")
    assert (unknown["spellings"], unknown["records"]) == (3, 4)  # current records only (1 was corrected)
    assert [(u["spelling"], u["records"]) for u in unknown["unknown"]] == [("تهرات", 2), ("Atlantis", 1), ("Tehrat", 1)]
    assert [c["place_id"] for c in unknown["unknown"][0]["close"]] == ["city:tehran"]
    taught = add_place_alias(store, "city:tehran", "تهرات", actor=TESTER)
    # 6: "Tehrat" has the consonants of تهرات, so an import today reads it as the alias too
    assert taught["added"] and taught["records_resolved"] == {"city": 3}
    assert taught["spellings_resolved"] == {"city": {"تهرات": 2, "Tehrat": 1}}
    after = places()
    assert [r[2] for r in after] == ["city:tehran", "city:tehran", "city:rasht", None, "city:tehran", "city:tehran"]
    assert [r[1] for r in after] == [r[1] for r in imported], "the text as given stays"
    assert [r[3:] for r in after] == [r[3:] for r in imported], "a city's alias touches no prison"
    with store.session() as session:  # the earlier version too, though it is not counted
        assert session.scalar(sa.select(Record.city_place_id).where(Record.record_id == "1",
                                                                    Record.superseded_by.is_not(None))) == "city:tehran"
    with store.session() as session:
        assert features_context(session) != before, "the next linkage run works the features out again"
        assert session.get(Setting, "person_search_built_for") is None, "the next search rebuilds its index"
        [event] = list_audit(session, object_id="city:tehran")
    assert event["action"] == "place alias added" and event["details"]["records_resolved"] == {"city": 3}
    assert event["details"]["spellings_resolved"] == taught["spellings_resolved"]

    prison = add_place_alias(store, "prison:ghezel-hesar", "قزلحصاد", actor=TESTER)
    assert prison["records_resolved"] == {"prison": 1} and places()[3][4] == "prison:ghezel-hesar"
    nothing = add_place_alias(store, "city:rasht", "Rasht-e Gilan", actor=TESTER)
    assert nothing["added"] and nothing["records_resolved"] == {} == nothing["spellings_resolved"]
    with store.session() as session:
        assert session.get(Setting, "records_places_revision").value == "2", "only what changed records counts"


def test_a_newer_shipped_gazetteer_resolves_the_records_an_older_one_left_unresolved(store, workspace, tmp_path):
    """Records imported when the shipped gazetteer did not know a spelling are resolved when a
    version that knows it opens the workspace, as an import would read them today; places already
    resolved and spellings it still does not know stay as they were; the opening says how many."""
    from dadkhah.ingest.importer import import_file
    from dadkhah.link.features import features_context
    from dadkhah.model import Record
    from tests.conftest import write

    with store.session() as session:  # the older gazetteer: it knew no name of Rasht
        session.execute(sa.delete(PlaceName).where(PlaceName.place_id == "city:rasht"))
    write(tmp_path / "l.csv", "id,given_name,family_name,city\n1,Ali,Rahimi,رشت\n2,Reza,Karimi,رشت\n"
          "3,Hassan,Moradi,Tabriz\n4,Mina,Ahmadi,Atlantis\n")
    import_file(store, tmp_path / "l.csv", source="s", actor=TESTER)
    write(tmp_path / "correction.csv", "id,given_name,family_name,city\n2,Reza,Karimi-Gilani,رشت\n")
    import_file(store, tmp_path / "correction.csv", source="s", actor=TESTER)  # record 2, version 2

    def cities(opened):
        with opened.session() as session:
            return session.execute(sa.select(Record.record_id, Record.city_place_id).order_by(Record.id)).all()

    assert cities(store) == [("1", None), ("2", None), ("3", "city:tabriz"), ("4", None), ("2", None)]
    with store.session() as session:
        before = features_context(session)
        session.add(Setting(key="person_search_built_for", value='{"run": 0, "import": 0}'))
        session.execute(sa.update(Setting).where(Setting.key == GAZETTEER_SETTING).values(value="older"))
    store.close()
    with open_store(workspace) as reopened:  # this version's gazetteer knows its names
        assert reopened.places_resolved == {"city": 2}, "current records: 1 and the correction of 2"
        assert cities(reopened) == [("1", "city:rasht"), ("2", "city:rasht"), ("3", "city:tabriz"), ("4", None),
                                    ("2", "city:rasht")]
        with reopened.session() as session:
            assert features_context(session) != before, "the next linkage run works the features out again"
            assert session.get(Setting, "person_search_built_for") is None, "the next search rebuilds its index"
    with open_store(workspace) as again:
        assert again.places_resolved == {}, "said once: the gazetteer is current now"


def test_an_alias_may_not_name_two_places(store):
    with pytest.raises(DadkhahError, match="already names city:tabriz") as refused:
        add_place_alias(store, "city:rasht", "Tabriz", actor=TESTER)
    assert refused.value.field == "alias"
    with pytest.raises(DadkhahError, match="no place"):
        add_place_alias(store, "city:nowhere", "Nowhere", actor=TESTER)
    with pytest.raises(DadkhahError, match="at most 300 characters, not 301") as long:  # not the database's error
        add_place_alias(store, "city:rasht", "R" * 301, actor=TESTER)
    assert long.value.field == "alias"
    with store.session() as session:
        assert list_audit(session, object_id="city:rasht") == [], "nothing refused is logged"


def test_list_places_by_type(store):
    with store.session() as session:
        prisons = list_places(session, place_type="prison")
    evin = next(p for p in prisons if p["id"] == "prison:evin")
    assert evin["parent_id"] == "city:tehran" and "زندان اوین" in evin["names"]
    assert all(p["type"] == "prison" for p in prisons)


def test_the_migrations_build_exactly_the_tables_the_models_describe(store):
    """A model changed without a migration (or the reverse) would differ between new and old workspaces."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from dadkhah.model import Base

    with store.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, Base.metadata)
    assert differences == []


def test_the_latin_name_keys_migration_gives_the_keys_an_import_gives_now(store, tmp_path):
    """0018: keys of Latin spellings that an earlier version made (Dariush DRYW, not DRYUW like
    داریوش) are recomputed from the normalised names to exactly what importing them now gives; the
    search index is rebuilt at the next search."""
    from dadkhah.ingest.importer import import_file
    from dadkhah.model import Record
    from tests.conftest import write

    write(tmp_path / "l.csv", "id,given_name,family_name,father_name,full_name\n"
          "1,Dariush,Makouei,Kiumars,\n2,داریوش,ماکویی,کیومرث,\n3,,,Pouya,Seyyed Dariush Oskouei\n"
          "4,Mohammad,Mousavi-Tehrani,,\n5,,,,Hosseini\n6,Ali Asghar,,,\n")
    import_file(store, tmp_path / "l.csv", source="s", actor=TESTER)
    key_columns = [Record.given_name_key, Record.family_name_key, Record.full_name_key, Record.father_name_key]
    with store.session() as session:
        imported = session.execute(sa.select(Record.record_id, *key_columns).order_by(Record.record_id)).all()
    assert imported[0][1:] == ("DRYUW", "MKUI", "DRYUW MKUI", "KYUMRS") and imported[0][1:] == imported[1][1:]
    with store.engine.begin() as connection:  # as an earlier version keyed them
        connection.execute(sa.text("UPDATE records SET given_name_key = 'DRYW', full_name_key = 'DRYW MKI', "
                                   "family_name_key = 'MKI', father_name_key = 'KYMRS' WHERE record_id = '1'"))
        connection.execute(sa.text("UPDATE records SET full_name_key = 'DRYW SKI', father_name_key = 'PY' "
                                   "WHERE record_id = '3'"))
        connection.execute(sa.text("UPDATE alembic_version SET version_num = '0017'"))
        for index in ("ix_records_unresolved_city", "ix_records_unresolved_prison",  # 0019's, made again
                      "ix_registry_events_other_person_id", "ix_persons_merged_into",
                      "ix_person_search_person_id"):  # 0020's
            connection.execute(sa.text(f"DROP INDEX {index}"))
        connection.execute(sa.text("DROP INDEX ix_records_import_places"))  # 0022's, and the index it replaced
        connection.execute(sa.text("CREATE INDEX ix_records_import_id ON records (import_id)"))
        connection.execute(sa.text("ALTER TABLE testimonies DROP COLUMN witness_contact_sealed"))  # 0023's
        connection.execute(sa.text("ALTER TABLE users DROP COLUMN totp_last_step"))  # 0024's
        connection.execute(sa.insert(Setting).values(key="person_search_built_for", value='{"run": 0, "import": 1}'))
    migrate(store.engine)
    with store.session() as session:
        assert session.execute(sa.select(Record.record_id, *key_columns).order_by(Record.record_id)).all() == imported
        assert session.get(Setting, "person_search_built_for") is None


def test_a_nul_character_is_a_clear_input_error_on_each_database(store):
    """What gives text refuses a NUL (code 0) first (the importer, the web); anything that still
    reaches the database with one is refused as bad input, not answered as a database failure, and
    alike on both (PostgreSQL cannot store it; SQLite could, and would keep what PostgreSQL refuses)."""
    from dadkhah.errors import InputError

    with pytest.raises(InputError, match="NUL character"), store.session() as session:
        session.add(Source(name="a\x00b"))
    # Many rows in one statement (an executemany): the one holding a NUL refuses them all.
    with pytest.raises(InputError, match="NUL character"), store.session() as session:
        session.execute(sa.insert(Source), [{"name": "clean"}, {"name": "also clean"}, {"name": "c\x00d"}])
    with store.session() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(Source)) == 0


def test_a_database_error_never_carries_the_values_it_was_given(store):
    """A failed statement's message held its values ('[parameters: ...]'): a whole record of a list,
    written into the server's log by the error page (seen with an oversized spreadsheet cell)."""
    with pytest.raises(sa.exc.DBAPIError) as failed, store.session() as session:
        session.execute(sa.text("INSERT INTO no_such_table (name) VALUES (:name)"), {"name": "MARKER-Reza-Testi"})
    assert "MARKER-Reza-Testi" not in str(failed.value) and "no_such_table" in str(failed.value)
