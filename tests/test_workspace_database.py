"""A workspace and its database belong together: a command never reads or writes another case's
database, and never makes a new empty one in place of a database it cannot find.

Found by a tester: with DADKHAH_DATABASE_URL forgotten, a PostgreSQL workspace's commands made an
empty SQLite file and an import landed in it; left set for another workspace, the commands worked
on the other case, whose audit log then looked tampered with.
"""

from __future__ import annotations

import json
import time

import sqlalchemy as sa

from dadkhah.store import WORKSPACE_SETTING, open_store
from dadkhah.workspace import create_workspace, load_workspace
from tests.cli.test_cli import run
from tests.conftest import write


def _ok(result) -> dict:
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def _error(result) -> str:
    assert result.exit_code != 0, result.output
    return json.loads(result.stdout)["error"]["message"]


def test_a_server_workspace_without_its_address_is_refused_not_given_a_new_database(tmp_path, postgres_url):
    server = {"DADKHAH_DATABASE_URL": postgres_url}
    ws = tmp_path / "pg"
    _ok(run("init", str(ws), "--key-file", str(tmp_path / "k" / "pg.key"), "--json", env=server))
    _ok(run("import", str(write(tmp_path / "p.csv", "id,name\n1,Ali Rezaei\n")), "--source", "ngo", "--json",
            workspace=ws, env=server))
    for args in (("report", "summary"), ("import", str(tmp_path / "p.csv"), "--source", "oops")):
        said = _error(run(*args, "--json", workspace=ws, env={"DADKHAH_DATABASE_URL": ""}))
        assert "has no database" in said and "DADKHAH_DATABASE_URL" in said
    assert not (ws / "dadkhah.db").exists(), "no empty database was made in its place"
    assert _ok(run("report", "summary", "--json", workspace=ws, env=server))["records"] == 1


def test_a_database_serves_only_its_own_workspace(tmp_path, postgres_url):
    server = {"DADKHAH_DATABASE_URL": postgres_url}
    _ok(run("init", str(tmp_path / "pg"), "--key-file", str(tmp_path / "k" / "pg.key"), "--json", env=server))
    other = tmp_path / "other"
    _ok(run("init", str(other), "--key-file", str(tmp_path / "k" / "o.key"), "--json", env={"DADKHAH_DATABASE_URL": ""}))
    for args in (("audit", "verify"), ("sources", "list")):
        said = _error(run(*args, "--json", workspace=other, env=server))
        assert "belongs to another workspace" in said and "DADKHAH_DATABASE_URL" in said
    refused = run("init", str(tmp_path / "new"), "--key-file", str(tmp_path / "k" / "n.key"), "--json", env=server)
    assert "belongs to another workspace" in _error(refused)
    assert not (tmp_path / "new").exists(), "a refused init leaves no half-made workspace"
    # a SQLite file copied over from another workspace is refused alike
    (other / "dadkhah.db").unlink()
    third = tmp_path / "third"
    _ok(run("init", str(third), "--key-file", str(tmp_path / "k" / "t.key"), "--json", env={"DADKHAH_DATABASE_URL": ""}))
    (other / "dadkhah.db").write_bytes((third / "dadkhah.db").read_bytes())
    assert "belongs to another workspace" in _error(run("report", "summary", "--json", workspace=other,
                                                       env={"DADKHAH_DATABASE_URL": ""}))


def test_a_database_from_before_names_its_workspace_at_the_first_opening(tmp_path):
    workspace = create_workspace(tmp_path / "ws")
    with open_store(workspace) as store, store.engine.connect() as connection:  # as a test or a restore opens it
        assert connection.scalar(sa.text("SELECT value FROM settings WHERE key = :k"), {"k": WORKSPACE_SETTING}) is None
    _ok(run("report", "summary", "--json", workspace=workspace.path))
    with open_store(load_workspace(workspace.path)) as store, store.engine.connect() as connection:
        assert connection.scalar(sa.text("SELECT value FROM settings WHERE key = :k"),
                                 {"k": WORKSPACE_SETTING}) == workspace.uid != ""


def test_an_address_that_is_no_database_is_said_before_anything_is_made(tmp_path):
    for url, said in (("not a url", "is not a database address"), ("mysql://x@y/z", "names a mysql database")):
        message = _error(run("init", str(tmp_path / "new"), "--key-file", str(tmp_path / "k.key"), "--json",
                             env={"DADKHAH_DATABASE_URL": url}))
        assert said in message and not (tmp_path / "new").exists()
    _ok(run("init", str(tmp_path / "ws"), "--json", "--key-file", str(tmp_path / "k.key"),
            env={"DADKHAH_DATABASE_URL": ""}))
    assert "is not a database address" in _error(run("sources", "list", "--json", workspace=tmp_path / "ws",
                                                      env={"DADKHAH_DATABASE_URL": "not a url"}))


def test_a_database_from_before_goes_only_to_the_workspace_its_audit_log_began_in(tmp_path):
    """A database named by no workspace yet (made before databases named theirs) went to whichever
    workspace opened it first, locking its own out; now only the one its audit log began in takes it."""
    own, other = tmp_path / "own", tmp_path / "other"
    for ws in (own, other):
        _ok(run("init", str(ws), "--key-file", str(tmp_path / f"{ws.name}.key"), "--json",
                env={"DADKHAH_DATABASE_URL": ""}))
        time.sleep(1.1)  # an audit log begins with the second its workspace was made: made in different seconds
    _ok(run("import", str(write(tmp_path / "p.csv", "id,name\n1,Ali Rezaei\n")), "--source", "ngo", "--json",
            workspace=own, env={"DADKHAH_DATABASE_URL": ""}))
    database = own / "dadkhah.db"
    engine = sa.create_engine(f"sqlite:///{database}")
    with engine.begin() as connection:  # as a database from before this check
        connection.execute(sa.text("DELETE FROM settings WHERE key = :k"), {"k": WORKSPACE_SETTING})
    engine.dispose()
    elsewhere = {"DADKHAH_DATABASE_URL": f"sqlite:///{database}"}
    assert "belongs to another workspace" in _error(run("sources", "list", "--json", workspace=other, env=elsewhere))
    assert _ok(run("report", "summary", "--json", workspace=own, env={"DADKHAH_DATABASE_URL": ""}))["records"] == 1
    for memory in ("sqlite://", "sqlite:///:memory:"):  # keeps nothing: an import there was lost without a word
        said = _error(run("import", str(tmp_path / "p.csv"), "--source", "m", "--json", workspace=own,
                          env={"DADKHAH_DATABASE_URL": memory}))
        assert "in memory" in said
