"""Background jobs in Debian's Chromium, against the real server on loopback and a real worker process
(`dadkhah worker`, as `dadkhah serve` starts it): an estimate asked for on the form becomes a job whose
page follows its progress by itself, survives a reload, and can be cancelled; a finished one links to
its estimate."""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import subprocess
import sys
import time

import pytest

from tests.web.conftest import log_in


def _done(page) -> int:
    """How many steps the page says the job has done (``data-done``, which its script keeps current)."""
    return int(page.get_attribute("#job", "data-done"))


def _wait_until_done_passes(page, steps: int, seconds: float) -> int:
    """Wait, without reloading, until the page shows more than ``steps`` done; answers how many.

    Polled from here: the page's Content-Security-Policy forbids the evaluated code ``wait_for_function`` uses."""
    deadline = time.monotonic() + seconds
    while (done := _done(page)) <= steps:
        assert time.monotonic() < deadline, f"the page showed no progress past {steps} steps in {seconds} s"
        page.wait_for_timeout(100)
    return done


@pytest.fixture
def worker(web_store_path, tmp_path):
    """`dadkhah worker` on the served case, in a process of its own, until the test ends."""
    log = (tmp_path / "worker.log").open("w")
    process = subprocess.Popen([sys.executable, "-m", "dadkhah", "--workspace", str(web_store_path), "worker",
                                "--poll", "0.2"], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=log,
                               env=os.environ.copy())
    try:
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
        with contextlib.suppress(OSError):
            assert "Traceback" not in (tmp_path / "worker.log").read_text(), (tmp_path / "worker.log").read_text()


def _ask_for(page, method: str, by: str, **fields) -> str:
    page.goto("/estimates")
    page.select_option("#run-form select[name=method]", method)
    page.select_option("#run-form select[name=by]", by)
    for name, value in fields.items():
        page.fill(f"#run-form input[name={name}]", value)
    page.click("#run-form button[type=submit]")
    page.wait_for_url(re.compile(r".*/jobs/\d+$"))
    return page.url


def test_a_long_estimate_is_a_job_whose_page_follows_it_survives_a_reload_and_cancels_it(browser_page, worker):
    page = browser_page
    log_in(page, "analyst")
    address = _ask_for(page, "lcmcr", "city", iterations="20000", seed="1988")
    assert page.locator("h1").inner_text().startswith("Job #")
    # The worker takes it; the page follows its progress without being reloaded.
    seen = _wait_until_done_passes(page, 0, 60)
    _wait_until_done_passes(page, seen, 30)
    assert page.get_attribute("#job", "data-status") == "running"
    total = int(page.get_attribute("#job-progress", "max"))
    assert total > 33, "a step for each city (and each replicate)"
    assert int(page.get_attribute("#job-progress", "value")) > seen

    # A reload (or a closed tab) does not stop it: the same job, further on, still advancing.
    before = _done(page)
    page.reload()
    assert page.url == address and page.get_attribute("#job", "data-status") == "running"
    assert _done(page) >= before
    _wait_until_done_passes(page, _done(page), 30)

    # Cancelled, it stops at its next progress report, and the page says so by itself.
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#cancel-form button[type=submit]")
    page.wait_for_selector("#job-cancelled", timeout=30000)
    assert page.get_attribute("#job", "data-status") == "cancelled"
    assert page.locator("#job-status").inner_text() == "cancelled"
    assert _done(page) < total
    assert page.locator("#cancel-form").count() == 0 and page.locator("#job-result").count() == 0
    page.goto("/jobs")
    assert page.locator("#jobs tbody tr .job-status").first.get_attribute("data-status") == "cancelled"


def test_a_finished_job_links_to_its_estimate(browser_page, worker):
    page = browser_page
    log_in(page, "analyst")
    _ask_for(page, "chao", "city")
    page.wait_for_selector("#job-result a", timeout=60000)
    assert page.get_attribute("#job", "data-status") == "done"
    assert page.locator("#job-status").inner_text() == "done"
    page.click("#job-result a")
    page.wait_for_url(re.compile(r".*/estimates/\d+$"))
    assert page.locator("h1").inner_text().startswith("Estimate #")
    assert page.locator("#method").inner_text() == "chao"


def test_a_printed_report_asked_for_on_the_sources_page_is_downloaded_from_its_jobs_page(browser_page, worker,
                                                                                         web_store_path, tmp_path):
    from tests.cli.test_cli import run

    assert run("sources", "set", "list-1", "--release", "public", workspace=web_store_path).exit_code == 0
    page = browser_page
    log_in(page, "investigator")
    page.goto("/sources")
    page.select_option("#print-form select[name=language]", "en")
    page.click("#print-form button[type=submit]")
    page.wait_for_url(re.compile(r".*/jobs/\d+$"))
    assert "Printed report" in page.locator("h1").inner_text()
    # The worker prints it; the page, following the job by itself, then offers the PDF.
    page.wait_for_selector("#job-result a", timeout=60000)
    assert page.get_attribute("#job", "data-status") == "done"
    with page.expect_download() as downloading:
        page.click("#job-result a")
    download = downloading.value
    assert re.fullmatch(r"dadkhah-report-en-\d{4}-\d\d-\d\d\.pdf", download.suggested_filename)
    saved = tmp_path / download.suggested_filename
    download.save_as(saved)
    pdf = saved.read_bytes()
    assert pdf.startswith(b"%PDF")
    assert hashlib.sha256(pdf).hexdigest() == page.locator("#job-result code").inner_text()


def test_a_memorial_site_asked_for_on_the_sources_page_is_built_by_the_worker_and_downloaded(browser_page, worker,
                                                                                             web_store_path, tmp_path):
    import zipfile

    from dadkhah.publish import verify_site
    from tests.cli.test_cli import run

    assert run("sources", "set", "list-1", "--release", "public", workspace=web_store_path).exit_code == 0
    page = browser_page
    log_in(page, "investigator")
    page.goto("/sources")
    page.uncheck("#memorial-form input[name=languages][value=fa]")
    page.fill("#memorial-form input[name=contact]", "corrections@example.org")
    page.click("#memorial-form button[type=submit]")
    page.wait_for_url(re.compile(r".*/jobs/\d+$"))
    # The worker `dadkhah serve` would start (here on its own) holds the keys: it builds and signs the site.
    page.wait_for_selector("#job-result a", timeout=60000)
    with page.expect_download() as downloading:
        page.click("#job-result a")
    saved = tmp_path / downloading.value.suggested_filename
    downloading.value.save_as(saved)
    with zipfile.ZipFile(saved) as zipped:
        zipped.extractall(tmp_path / "unzipped")
    site = tmp_path / "unzipped" / "memorial"
    assert verify_site(site, expect_key=page.locator("#job-result code").first.inner_text())["intact"]
    assert (site / "en" / "index.html").is_file() and not (site / "fa").exists()
