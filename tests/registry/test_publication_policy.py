"""The publication policy's two decisions: which sources may be published, and which persons are
withheld (the reason never published); both audited, and a withholding follows a merge."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from dadkhah.audit import list_audit
from dadkhah.errors import InputError
from dadkhah.model import LinkageRun, Person, PersonRecord, Source
from dadkhah.registry.persons import (
    assign_persons,
    describe_person,
    release_person,
    withheld_persons,
    withhold_person,
)
from dadkhah.sources import list_sources, set_release
from tests.cli.test_cli import run
from tests.conftest import TESTER
from tests.vault.conftest import make_persons


def test_sources_start_restricted_and_a_release_is_audited(store, tmp_path):
    make_persons(store, tmp_path, 1)
    assert [s["release"] for s in list_sources_of(store)] == ["restricted"]
    assert set_release(store, "victims", "public", actor=TESTER)["changed"]
    assert not set_release(store, "victims", "PUBLIC", actor=TESTER)["changed"]
    with pytest.raises(InputError) as wrong:
        set_release(store, "victims", "secret", actor=TESTER)
    assert wrong.value.field == "release"
    with store.session() as session:
        events = [e for e in list_audit(session, object_id="victims") if e["action"] == "source release set"]
    assert [e["details"] for e in events] == [{"release": "public", "before": "restricted"}]


def list_sources_of(store):
    with store.session() as session:
        return list_sources(session)


def test_a_withheld_person_stays_withheld_through_a_merge_until_released(store, tmp_path):
    first, second, _ = make_persons(store, tmp_path, 3)
    withhold_person(store, first, actor=TESTER, reason="the family asked")
    with pytest.raises(InputError):
        withhold_person(store, first, actor=TESTER, reason="again")
    with pytest.raises(InputError) as no_reason:
        withhold_person(store, second, actor=TESTER, reason="  ")
    assert no_reason.value.field == "reason"
    with store.session() as session:
        assert withheld_persons(session) == {first}
        assert describe_person(session, first)["withheld"]["reason"] == "the family asked"
        assert describe_person(session, second)["withheld"] is None
        # A later linkage merges the first person into the second: the second is withheld now too.
        source_id = session.scalar(sa.select(Source.id))
        run_row = LinkageRun(engine="hand", threshold=0.5, review_low=0.2, review_high=0.9, parameters={},
                             run_by="t", software_version="0")
        session.add(run_row)
        session.flush()
        assign_persons(session, run_row.id, {(source_id, "r1"): 1, (source_id, "r2"): 1, (source_id, "r3"): 3})
        statuses = dict(session.execute(sa.select(Person.person_id, Person.status)).all())
    survivor = second if statuses[first] == "merged" else first
    with store.session() as session:
        assert survivor in withheld_persons(session)
    release_person(store, first, actor=TESTER, reason="the family agreed")
    with store.session() as session:
        assert withheld_persons(session) == set()
        actions = [e["action"] for e in list_audit(session, object_id=first)]
    assert actions[:2] == ["person released", "person withheld"]
    with pytest.raises(InputError):
        release_person(store, first, actor=TESTER)


def test_the_commands_set_a_release_and_withhold_a_person(store, tmp_path, database_url):
    make_persons(store, tmp_path, 2)
    ws, env = store.workspace.path, {"DADKHAH_DATABASE_URL": database_url or ""}
    done = run("sources", "set", "victims", "--release", "public", "--json", workspace=ws, env=env)
    assert done.exit_code == 0 and '"release": "public"' in done.stdout
    bad = run("sources", "set", "victims", "--release", "open", "--json", workspace=ws, env=env)
    assert bad.exit_code == 1 and '"option": "--release"' in bad.stdout
    held = run("persons", "withhold", "P-000001", "--reason", "family request", "--json", workspace=ws, env=env)
    assert held.exit_code == 0 and '"withheld": true' in held.stdout
    shown = run("persons", "show", "P-000001", "--json", workspace=ws, env=env)
    assert '"reason": "family request"' in shown.stdout
    assert run("persons", "release", "P-000001", "--json", workspace=ws, env=env).exit_code == 0


def test_a_withheld_person_split_in_two_stays_withheld_in_both(store, tmp_path):
    """A reviewer's "different" splits a withheld person: the records that leave go to a new (or
    another) person, who is withheld too, since nobody can tell which half the family asked about; a
    split before the withholding does not carry it."""
    first, second, third = make_persons(store, tmp_path, 3)
    with store.session() as session:
        source_id = session.scalar(sa.select(Source.id))

    def run_(clusters):
        with store.session() as session:
            run_row = LinkageRun(engine="hand", threshold=0.5, review_low=0.2, review_high=0.9, parameters={},
                                 run_by="t", software_version="0")
            session.add(run_row)
            session.flush()
            return assign_persons(session, run_row.id, {(source_id, r): c for r, c in clusters.items()})

    run_({"r1": 1, "r2": 1, "r3": 3})  # r1 and r2 one person
    with store.session() as session:
        together = session.scalar(sa.select(Person.person_id).join(PersonRecord, PersonRecord.person_pk == Person.id)
                                  .where(PersonRecord.record_id == "r2"))
    withhold_person(store, together, actor=TESTER, reason="the family asked")
    split = run_({"r1": 1, "r2": 2, "r3": 3})
    assert split.split == 1
    with store.session() as session:
        owners = dict(session.execute(sa.select(PersonRecord.record_id, Person.person_id)
                                      .join(Person, Person.id == PersonRecord.person_pk)).all())
        assert owners["r1"] != owners["r2"]
        assert withheld_persons(session) == {owners["r1"], owners["r2"]}, "both halves"
        assert describe_person(session, owners["r2"] if owners["r2"] != together else owners["r1"])["withheld"]["as"] == together
        assert owners["r3"] not in withheld_persons(session)
    other = owners["r2"] if owners["r2"] != together else owners["r1"]
    with pytest.raises(InputError, match=f"withheld as {together}"):
        release_person(store, other, actor=TESTER)
    # withheld again after the split: the half that left before is another person by then
    release_person(store, together, actor=TESTER)
    withhold_person(store, together, actor=TESTER, reason="the family asked again")
    with store.session() as session:
        assert withheld_persons(session) == {together}
