"""The memorial site built by a background job (asked for on the web): checked when asked for, built
and signed by a worker that holds the keys, for the user who asked, zipped into the workspace's
printed/ folder; a worker without the keys says so and leaves nothing."""

from __future__ import annotations

import zipfile

import pytest

from dadkhah.audit import Actor, list_audit
from dadkhah.errors import InputError
from dadkhah.jobs import printed_file, queue_memorial_build, run_worker, show_job, submit_job
from dadkhah.jobs.kinds import REPORT_LANGUAGES
from dadkhah.outfiles import sha256_of
from dadkhah.publish import verify_site
from dadkhah.publish.memorial import LANGUAGES
from dadkhah.store import open_store
from tests.publish.test_policy import MARKERS, _case

ASKER = Actor("investigator", "web", "192.0.2.9")


def _events(store, action: str) -> list[dict]:
    with store.session() as session:
        return [e for e in list_audit(session, limit=None, newest_first=False) if e["action"] == action]


def test_the_kinds_languages_are_the_memorials_own():
    assert REPORT_LANGUAGES == LANGUAGES


def test_a_memorial_asked_for_is_built_signed_and_zipped_by_a_worker_holding_the_keys(store, tmp_path):
    keys = _case(store, tmp_path)["keys"]
    job_id = queue_memorial_build(store, actor=ASKER, languages=["en"], title="Synthetic memorial",
                                  contact="corrections@example.org")
    with store.session() as session:
        job = show_job(session, job_id)
    assert job["parameters"] | {"folder": "F"} == {"languages": ["en"], "title": "Synthetic memorial",
                                                  "contact": "corrections@example.org", "folder": "F"}
    with open_store(store.workspace, keys=keys) as keyed:  # as `dadkhah worker` with DADKHAH_PASSPHRASE
        assert run_worker(keyed, once=True) == 1
    with store.session() as session:
        job = show_job(session, job_id)
    assert job["status"] == "done", job["error"]
    archive = printed_file(store.workspace, job["result"])
    assert archive is not None and archive.name == "memorial.zip"
    assert sha256_of(archive) == job["result"]["sha256"] and job["result"]["fingerprint"] == keys.fingerprint
    assert sorted(p.name for p in archive.parent.iterdir()) == ["memorial.zip"], "the site's folder went once zipped"
    with zipfile.ZipFile(archive) as zipped:
        zipped.extractall(tmp_path / "unzipped")
        text = b"".join(zipped.read(name) for name in zipped.namelist() if name.endswith(".html"))
    site = tmp_path / "unzipped" / "memorial"
    assert verify_site(site, expect_key=keys.fingerprint)["intact"], "a mirror can prove the unzipped site unaltered"
    assert (site / "en" / "index.html").is_file() and not (site / "fa").exists()
    assert b"Synthetic memorial" in text and b"corrections@example.org" in text
    assert not [marker for marker in MARKERS if marker.encode() in text], "only what may be published"
    [event] = _events(store, "memorial published")
    assert (event["actor"], event["channel"], event["address"]) == ("investigator", "web", "192.0.2.9")
    assert event["details"]["manifest_sha256"] == job["result"]["manifest_sha256"]


def test_a_worker_without_the_keys_fails_the_job_saying_how_and_leaves_nothing(store, tmp_path):
    _case(store, tmp_path)
    job_id = queue_memorial_build(store, actor=ASKER)
    with open_store(store.workspace, keys=None) as unkeyed:  # a worker that could not unlock them
        assert run_worker(unkeyed, once=True) == 1
    with store.session() as session:
        job = show_job(session, job_id)
    assert job["status"] == "failed" and "DADKHAH_PASSPHRASE" in job["error"] and "publish memorial" in job["error"]
    printed = store.workspace.printed_dir
    assert not printed.is_dir() or not any(printed.iterdir())
    assert _events(store, "memorial published") == []


def test_what_cannot_be_built_is_refused_when_asked_naming_the_field(store):
    for asked, field in (({"languages": ["de"]}, "languages"), ({"languages": [" "]}, "languages"),
                         ({"languages": "fa,xx"}, "languages"), ({"contact": "call me"}, "contact"),
                         ({"title": "t" * 201}, "title"), ({"contact": "a\x00@example.org"}, "contact")):
        with pytest.raises(InputError) as refused:
            queue_memorial_build(store, actor=ASKER, **asked)
        assert refused.value.field == field, asked
    with pytest.raises(InputError) as refused:
        submit_job(store, actor=ASKER, kind="memorial build", parameters={"out": "/var/www"})
    assert refused.value.field == "out"
    assert _events(store, "job submitted") == []
