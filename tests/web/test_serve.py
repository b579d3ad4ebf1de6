"""`dadkhah serve`: prints where it serves (one JSON document with --json), answers on loopback."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time

import httpx
import pyotp
import pytest
from bs4 import BeautifulSoup


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


CLEAR_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"  # a TOTP secret as versions before sealing kept it


def _as_an_older_version_left_it(workspace_path) -> None:
    """The shipped gazetteer of an older version, which knew no name of Rasht, and what it left; and a
    user's second-factor secret in clear, as it kept it."""
    import sqlalchemy as sa

    from dadkhah.model import PlaceName, Record, Setting, User
    from dadkhah.store import GAZETTEER_SETTING, open_store
    from dadkhah.users import add_user
    from dadkhah.workspace import load_workspace
    from tests.conftest import TESTER

    with open_store(load_workspace(workspace_path)) as store:
        add_user(store, "older", actor=TESTER, role="viewer", password="a long enough passphrase")
        with store.session() as session:
            session.execute(sa.update(User).where(User.username == "older").values(totp_secret=CLEAR_SECRET))
            session.execute(sa.delete(PlaceName).where(PlaceName.place_id == "city:rasht"))
            session.execute(sa.update(Record).where(Record.city_place_id == "city:rasht").values(city_place_id=None))
            session.execute(sa.update(Setting).where(Setting.key == GAZETTEER_SETTING).values(value="older"))


def _kept_secret(workspace_path, username: str) -> str:
    import sqlalchemy as sa

    from dadkhah.model import User
    from dadkhah.store import open_store
    from dadkhah.workspace import load_workspace

    with open_store(load_workspace(workspace_path)) as store, store.session() as session:
        return session.scalar(sa.select(User.totp_secret).where(User.username == username))


@pytest.mark.parametrize("workers", [1, 2])
def test_serve_answers_on_loopback_and_prints_one_json_document(web_store_path, workers):
    """After an upgrade, serve brings the database up to date once, in its own process, and says so
    there, before any server process starts (with --workers, they all opened it at once); second-factor
    secrets kept in clear are sealed then, and their users still log in with their app's codes."""
    _as_an_older_version_left_it(web_store_path)
    port = _free_port()
    command = [sys.executable, "-m", "dadkhah", "--workspace", str(web_store_path), "serve", "--port", str(port),
               "--workers", str(workers), "--json"]
    server = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=os.environ.copy())
    try:
        deadline = time.monotonic() + 60
        while True:
            assert server.poll() is None, server.stderr.read()
            try:
                answer = httpx.get(f"http://127.0.0.1:{port}/login", timeout=2)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "the server did not answer"
                time.sleep(0.2)
        assert answer.status_code == 200 and "csrf_token" in answer.text
        assert "content-security-policy" in answer.headers and "server" not in answer.headers
        assert httpx.get(f"http://127.0.0.1:{port}/api/v1/dashboard").status_code == 401
        assert _kept_secret(web_store_path, "older").startswith("sealed1:")
        login = {"username": "older", "password": "a long enough passphrase", "totp": pyotp.TOTP(CLEAR_SECRET).now(),
                 "csrf_token": BeautifulSoup(answer.text, "html.parser").find("input", {"name": "csrf_token"})["value"]}
        logged_in = httpx.post(f"http://127.0.0.1:{port}/login", data=login, cookies=answer.cookies)
        assert logged_in.status_code == 303 and "dadkhah_session" in logged_in.cookies
    finally:
        server.terminate()
        out, said = server.communicate(timeout=20)
    assert json.loads(out) == {"address": f"http://127.0.0.1:{port}/", "workspace": str(web_store_path.resolve()),
                               "vault": True, "workers": workers, "worker": True}
    assert said.count("This version's gazetteer knows places it did not: ") == 1, said
    assert said.count("Sealed the second-factor secrets of 1 user (kept in clear by an older version)") == 1, said
    assert "resolved records that named no known place" not in said, "no server process had to"


def test_serve_refuses_an_outside_address_without_secure_cookies(web_store_path):
    done = subprocess.run([sys.executable, "-m", "dadkhah", "--workspace", str(web_store_path), "serve", "--host",
                           "0.0.0.0", "--json"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert "HTTPS" in json.loads(done.stdout)["error"]["message"]


def test_serve_starts_a_worker_that_runs_the_jobs_is_started_again_if_it_dies_and_stops_with_it(web_store_path):
    """A job submitted while the server runs is done by the worker `serve` started, in a process of its
    own. The system kills that worker (out of memory, say): `serve` starts another and says so, and the
    next job is done by the new one. Stopping the server stops the worker too."""
    import signal

    from dadkhah.jobs import submit_job
    from dadkhah.store import open_store
    from dadkhah.workspace import load_workspace, process_alive
    from tests.conftest import TESTER

    port = _free_port()
    server = subprocess.Popen([sys.executable, "-m", "dadkhah", "--workspace", str(web_store_path), "serve", "--port",
                               str(port), "--json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env=os.environ.copy())
    try:
        with open_store(load_workspace(web_store_path)) as store:
            first, second = [], []
            for done_by in (first, second):
                job_id = submit_job(store, actor=TESTER, kind="estimate run", parameters={"method": "chao"})
                done_by.append(_done_by_a_worker(server, store, job_id))
                if done_by is first:
                    os.kill(first[0], signal.SIGKILL)
    finally:
        server.terminate()
        out, said = server.communicate(timeout=30)
    assert json.loads(out)["worker"] is True
    (first,), (second,) = first, second
    assert server.pid not in (first, second) and first != second
    assert f"The worker for background jobs stopped (exit code -9); started it again (process {second})" in said
    assert not process_alive(first) and not process_alive(second), "the worker stops with the server"


def test_after_keys_rotate_the_servers_worker_fails_its_job_and_comes_back_with_the_new_keys(web_store_path):
    """`keys rotate` while `serve` runs: the worker holding the old keys fails the job it cannot sign for
    and stops; `serve` starts it again, it loads the key file as it is now, and the next job is done."""
    from dadkhah.jobs import show_job, submit_job
    from dadkhah.store import open_store
    from dadkhah.workspace import load_workspace
    from tests.conftest import TESTER

    env = os.environ.copy() | {"DADKHAH_USER": "tester"}
    server = subprocess.Popen([sys.executable, "-m", "dadkhah", "--workspace", str(web_store_path), "serve", "--port",
                               str(_free_port()), "--json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env=env)
    try:
        with open_store(load_workspace(web_store_path)) as store:
            before = _done_by_a_worker(server, store, submit_job(store, actor=TESTER, kind="estimate run",
                                                                 parameters={"method": "chao"}))
            rotated = subprocess.run([sys.executable, "-m", "dadkhah", "--workspace", str(web_store_path), "keys",
                                      "rotate", "--json"], env=env, capture_output=True, text=True, timeout=120)
            assert rotated.returncode == 0, rotated.stderr
            refused = submit_job(store, actor=TESTER, kind="estimate run", parameters={"method": "chao"})
            deadline = time.monotonic() + 60
            while (job := _job(store, show_job, refused))["status"] in ("queued", "running"):
                assert time.monotonic() < deadline, job
                time.sleep(0.2)
            assert job["status"] == "failed" and "keys were rotated after this process loaded them" in job["error"]
            after = _done_by_a_worker(server, store, submit_job(store, actor=TESTER, kind="estimate run",
                                                                parameters={"method": "chao"}))
    finally:
        server.terminate()
        _out, said = server.communicate(timeout=30)
    assert after != before
    assert f"The worker for background jobs stopped (exit code 1); started it again (process {after})" in said


def _job(store, show_job, job_id: int) -> dict:
    with store.session() as session:
        return show_job(session, job_id)


def _done_by_a_worker(server, store, job_id: int) -> int:
    """Wait for the job to be done (while the server runs); the process id of the worker that did it."""
    from dadkhah.jobs import show_job

    deadline = time.monotonic() + 90
    while True:
        with store.session() as session:
            job = show_job(session, job_id)
        if job["status"] == "done":
            return int(job["worker"].rsplit(":", 1)[1])
        assert server.poll() is None, server.stderr.read()
        assert job["status"] in ("queued", "running"), job
        assert time.monotonic() < deadline, f"no worker ran the job: {job}"
        time.sleep(0.2)


@pytest.mark.parametrize("workers", [1, 2])
def test_serve_without_a_public_url_mails_links_to_its_own_address_not_a_forged_host(web_store_path, workers):
    """Started with mail but no DADKHAH_PUBLIC_URL, serve says so on stderr; a signing request with a
    forged Host header then gets an email whose links name the address serve listens on."""
    from aiosmtpd.controller import Controller

    from dadkhah.appeal import create_appeal, publish_appeal
    from dadkhah.store import open_store
    from dadkhah.workspace import load_workspace
    from tests.appeal.conftest import LETTER, Mailbox
    from tests.conftest import TESTER

    with open_store(load_workspace(web_store_path)) as store:
        made = create_appeal(store, actor=TESTER, slug="inquiry", title="For an inquiry", text=LETTER, addressee="X")
        publish_appeal(store, made["id"], actor=TESTER)
    box = Mailbox()
    controller = Controller(box, hostname="127.0.0.1", port=_free_port())
    controller.start()
    port = _free_port()
    env = os.environ.copy() | {"DADKHAH_SMTP_URL": f"smtp://127.0.0.1:{controller.port}",
                               "DADKHAH_MAIL_FROM": "appeal@example.org"}
    env.pop("DADKHAH_PUBLIC_URL", None)
    server = subprocess.Popen([sys.executable, "-m", "dadkhah", "--workspace", str(web_store_path), "serve",
                               "--port", str(port), "--workers", str(workers), "--no-worker"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    forged = {"host": "attacker.example"}
    try:
        deadline = time.monotonic() + 60
        while True:
            assert server.poll() is None, server.stderr.read()
            try:
                page = httpx.get(f"http://127.0.0.1:{port}/appeals/inquiry", headers=forged, timeout=2)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "the server did not answer"
                time.sleep(0.2)
        token = BeautifulSoup(page.text, "html.parser").find("input", {"name": "csrf_token"})["value"]
        signed = httpx.post(f"http://127.0.0.1:{port}/appeals/inquiry/sign", headers=forged, cookies=page.cookies,
                            data={"name": "Sara Example", "email": "sara@example.org", "kind": "person",
                                  "csrf_token": token})
        assert signed.status_code == 200
        while not box.messages:
            assert time.monotonic() < deadline, "no confirmation email came"
            time.sleep(0.1)
    finally:
        server.terminate()
        _, said = server.communicate(timeout=20)
        controller.stop()
    body = box.messages[0].get_payload(decode=True).decode("utf-8")
    assert "attacker.example" not in body
    links = box.links("confirm") + box.links("withdraw")
    assert len(links) == 2 and all(link.startswith(f"http://127.0.0.1:{port}/appeals/inquiry/") for link in links)
    assert f"DADKHAH_PUBLIC_URL is not set: the links in appeals' confirmation emails will point at " \
           f"http://127.0.0.1:{port}," in said, said
