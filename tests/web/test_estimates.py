"""Estimates: the list, one estimate with its diagnostics and chart, and asking for new ones (each a
background job, run here by a real worker in this process: ``run_worker(..., once=True)``)."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import sqlalchemy as sa
from bs4 import BeautifulSoup

from dadkhah.audit import list_audit
from dadkhah.jobs import run_worker
from dadkhah.model import Estimate
from dadkhah.web.routes.estimates import MAX_ITERATIONS, METHOD_CHOICES, STRATA_CHOICES


def _estimates(app) -> int:
    with app.state.store.session() as session:
        return session.scalar(sa.select(sa.func.count()).select_from(Estimate))


def finish(app, client, job_address: str) -> dict:
    """Run the queued jobs with a worker, then answer the job at ``job_address`` (its page or API address)."""
    run_worker(app.state.store, once=True)
    return client.get("/api/v1" + job_address.removeprefix("/api/v1")).json()


def estimate_of(app, client, job_address: str) -> dict:
    """The estimate the job at ``job_address`` made, once a worker has run it."""
    job = finish(app, client, job_address)
    assert job["status"] == "done", job
    return client.get(job["links"]["result_api"]).json()


def test_the_web_offers_exactly_the_apis_methods_and_strata():
    from dadkhah.estimate import METHODS
    from dadkhah.estimate.registry import STRATA

    assert tuple(METHOD_CHOICES) == ("auto", *METHODS) and tuple(STRATA_CHOICES) == tuple(STRATA)


def test_the_form_preselects_automatic_and_the_result_says_why(app, as_role):
    client = as_role("analyst")
    page = BeautifulSoup(client.get("/estimates").text, "html.parser")
    assert page.find("select", attrs={"name": "method"}).find("option", selected=True)["value"] == "auto"
    answer = client.post("/estimates/run", data={"csrf_token": client.csrf, "seed": "3"}, follow_redirects=False)
    assert answer.status_code == 303, answer.text
    data = estimate_of(app, client, answer.headers["location"])
    assert data["method"] in ("bma", "lcmcr", "lincoln-petersen")
    assert data["diagnostics"]["method_requested"] == "auto" and "lists" in data["diagnostics"]["chosen_because"]
    shown = BeautifulSoup(client.get(f"/estimates/{data['id']}").text, "html.parser")
    assert data["diagnostics"]["chosen_because"] in shown.find(id="chosen-because").text


def test_the_list_and_its_json_twin_agree(app, as_role):
    client = as_role("viewer")
    data = client.get("/api/v1/estimates").json()
    assert [e["id"] for e in data["estimates"]] == [1] and data["has_next"] is False
    page = BeautifulSoup(client.get("/estimates").text, "html.parser")
    row = page.find("tr", attrs={"data-estimate": "1"})
    assert row.select_one(".method").text == "chao"
    assert row.select_one(".observed").text.replace(",", "") == str(data["estimates"][0]["observed"])
    assert page.find("form", id="run-form") is None, "a viewer is not offered the run form"
    assert client.get("/api/v1/estimates?per_page=201").status_code == 422


def test_one_estimate_shows_its_result_diagnostics_and_warnings(app, as_role):
    client = as_role("viewer")
    data = client.get("/api/v1/estimates/1").json()
    assert data["method"] == "chao" and data["chart"] == "/estimates/1/chart.svg"
    assert data["interval"][0] <= data["estimate"] <= data["interval"][1]
    page = BeautifulSoup(client.get("/estimates/1").text, "html.parser")
    assert page.find(id="method").text == "chao"
    assert page.find(id="observed").text.replace(",", "") == str(data["observed"])
    chart = page.select_one("figure.chart svg.estimate-chart")
    assert chart is not None and chart["id"] == "estimate-chart", "the chart is inline in the page"
    assert "chao" in chart.select_one("title").text and page.find("img") is None
    shown = {tr["data-diagnostic"] for tr in page.select("#diagnostics tr")}
    assert shown == set(data["diagnostics"])
    assert data["warnings"], "Chao warns that it is a lower bound"
    box = page.find(id="warnings")
    assert box is not None and all(w in box.text for w in data["warnings"])
    assert client.get("/api/v1/estimates/999").status_code == 404
    assert client.get("/estimates/999").status_code == 404


def test_the_chart_is_an_svg_that_is_not_cached_and_carries_the_security_headers(app, as_role):
    answer = as_role("viewer").get("/estimates/1/chart.svg")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("image/svg+xml")
    assert ET.fromstring(answer.text).tag == "{http://www.w3.org/2000/svg}svg"
    assert answer.headers["cache-control"] == "no-store"
    assert "default-src 'none'" in answer.headers["content-security-policy"]
    assert as_role("viewer").get("/estimates/999/chart.svg").status_code == 404


def test_the_chart_speaks_the_viewers_language(app, as_role):
    """Persian pages carry a Persian chart: Persian words and digits, each text set right to left."""
    client = as_role("viewer")
    english = BeautifulSoup(client.get("/estimates/1?lang=en").text, "html.parser").select_one("figure.chart svg")
    persian = BeautifulSoup(client.get("/estimates/1?lang=fa").text, "html.parser").select_one("figure.chart svg")
    assert english["xml:lang"] == "en" and "named" in english.select_one("title").text
    assert persian["xml:lang"] == "fa" and "نام‌برده" in persian.select_one("title").text
    ticks = [t.text for t in persian.select("text.tick")]
    assert ticks[0] == "۰" and not any(c in "0123456789" for t in ticks for c in t)
    assert all(t.get("direction") == "rtl" for t in persian.select("text"))
    assert client.get("/estimates/1/chart.svg?lang=fa").text.count("نام‌برده") >= 1
    dashboard = BeautifulSoup(client.get("/?lang=fa").text, "html.parser").select_one("figure.chart svg")
    assert dashboard["id"] == "latest-estimate-chart" and dashboard["xml:lang"] == "fa"


def test_running_an_estimate_through_the_form_stores_it_audits_it_and_shows_it(app, as_role):
    client = as_role("analyst")
    before = _estimates(app)
    answer = client.post("/estimates/run", data={"csrf_token": client.csrf, "method": "loglinear", "by": "gender",
                                                 "seed": "7", "level": "0.9", "iterations": "", "linkage_thresholds": "",
                                                 "replicates": "3", "linkage_uncertainty": "", "keep_unknown": ""})
    assert answer.status_code == 303, answer.text
    assert answer.headers["location"].startswith("/jobs/") and _estimates(app) == before, "the page does not run it"
    estimate_id = estimate_of(app, client, answer.headers["location"])["id"]
    assert _estimates(app) == before + 1
    data = client.get(f"/api/v1/estimates/{estimate_id}").json()
    assert data["method"] == "loglinear" and data["by"] == "gender" and data["level"] == 0.9
    assert data["created_by"] == "analyst" and data["parameters"]["random_state"] == 7
    assert data["strata"] and data["strata_total"]["strata"] == len(data["strata"])
    # Missing genders were drawn, three times, and the linkage's pairs too: no "unknown" stratum.
    assert data["parameters"]["uncertainty"]["replicates"] == 3 and "unknown" not in {s["stratum"] for s in data["strata"]}
    page = BeautifulSoup(client.get(f"/estimates/{estimate_id}").text, "html.parser")
    assert [tr["data-stratum"] for tr in page.select("#strata tbody tr")] == [s["stratum"] for s in data["strata"]]
    assert client.get(f"/estimates/{estimate_id}/chart.svg").text.startswith("<svg")
    with app.state.store.session() as session:
        event = next(e for e in list_audit(session, limit=10) if e["action"] == "estimate run")
    assert event["object_id"] == str(estimate_id) and event["actor"] == "analyst"
    assert event["details"]["method"] == "loglinear" and event["details"]["by"] == "gender"


def test_running_an_estimate_through_the_api_with_linkage_sensitivity(app, as_role):
    client = as_role("analyst")
    answer = client.post("/api/v1/estimates/run", json={"method": "chao", "linkage_thresholds": [0.5, 0.95]},
                         headers={"X-CSRF-Token": client.csrf})
    assert answer.status_code == 202, answer.text
    job = answer.json()
    assert job["status"] == "queued" and answer.headers["location"] == f"/api/v1/jobs/{job['id']}"
    data = estimate_of(app, client, answer.headers["location"])
    assert data["method"] == "chao" and data["by"] is None
    assert [r["threshold"] for r in data["linkage_sensitivity"]["runs"]] == [0.5, 0.95]
    assert data == client.get(f"/api/v1/estimates/{data['id']}").json()
    listed = client.get("/api/v1/estimates").json()["estimates"]
    assert listed[0]["id"] == data["id"]
    page = BeautifulSoup(client.get(f"/estimates/{data['id']}").text, "html.parser")
    assert len(page.select("#sensitivity tbody tr")) == 2
    with app.state.store.session() as session:
        assert any(e["action"] == "estimate run" and e["object_id"] == str(data["id"]) for e in list_audit(session, limit=5))


def test_an_lcmcr_run_from_the_web_is_bounded_and_seeded(app, as_role):
    client = as_role("analyst")
    headers = {"X-CSRF-Token": client.csrf}
    too_long = client.post("/api/v1/estimates/run", json={"method": "lcmcr", "iterations": MAX_ITERATIONS + 1}, headers=headers)
    assert too_long.status_code == 422
    page = client.post("/estimates/run", data={"csrf_token": client.csrf, "method": "lcmcr", "iterations": "5000000"})
    assert page.status_code == 400 and "iterations" in BeautifulSoup(page.text, "html.parser").find(id="run-error").text
    jobs = [client.post("/api/v1/estimates/run", json={"method": "lcmcr", "iterations": 2000, "seed": 11}, headers=headers).json()
            for _ in range(2)]
    runs = [estimate_of(app, client, job["links"]["api"]) for job in jobs]
    assert runs[0]["parameters"]["iterations"] == 2000
    assert runs[0]["estimate"] == runs[1]["estimate"], "the same seed gives the same result"
    assert "rhat" in runs[0]["diagnostics"]
    shown = BeautifulSoup(client.get(f"/estimates/{runs[0]['id']}").text, "html.parser")
    assert shown.find("tr", attrs={"data-diagnostic": "rhat"}) is not None


def test_bad_runs_are_refused_and_store_nothing(app, as_role):
    client = as_role("analyst")
    headers = {"X-CSRF-Token": client.csrf}
    before = _estimates(app)
    bad_method = client.post("/api/v1/estimates/run", json={"method": "guess"}, headers=headers)
    assert bad_method.status_code in (400, 422) and bad_method.json()["error"]["field"] == "method"
    assert client.post("/api/v1/estimates/run", json={"method": "chao", "by": "religion"}, headers=headers).status_code in (400, 422)
    assert client.post("/api/v1/estimates/run", json={"method": "chao", "level": 1.5}, headers=headers).status_code == 422
    # What only the registry can say is known when the job runs: it fails, and stores nothing.
    two_lists_only = client.post("/api/v1/estimates/run", json={"method": "lincoln-petersen"}, headers=headers)
    assert two_lists_only.status_code == 202, two_lists_only.text
    failed = finish(app, client, two_lists_only.json()["links"]["api"])
    assert failed["status"] == "failed" and "two lists" in failed["error"] and "result_page" not in failed["links"]
    for form in ({"method": "guess"}, {"method": "chao", "level": "high"}, {"method": "chao", "seed": "-1"},
                 {"method": "chao", "linkage_thresholds": "0.5, 2"}, {"method": "chao", "by": "religion"}):
        answer = client.post("/estimates/run", data={"csrf_token": client.csrf, **form})
        assert answer.status_code == 400, form
        assert BeautifulSoup(answer.text, "html.parser").find(id="run-error") is not None
    assert _estimates(app) == before
    with app.state.store.session() as session:
        assert not [e for e in list_audit(session, limit=50) if e["action"] == "estimate run" and e["channel"] == "web"]


def test_a_viewer_cannot_run_an_estimate_and_a_run_needs_the_csrf_token(app, as_role):
    viewer = as_role("viewer")
    before = _estimates(app)
    assert viewer.post("/estimates/run", data={"csrf_token": viewer.csrf, "method": "chao"}).status_code == 403
    assert viewer.post("/api/v1/estimates/run", json={"method": "chao"}, headers={"X-CSRF-Token": viewer.csrf}).status_code == 403
    analyst = as_role("analyst")
    assert analyst.post("/api/v1/estimates/run", json={"method": "chao"}).status_code == 403
    assert _estimates(app) == before


def test_the_estimates_pages_in_persian(app, as_role):
    client = as_role("analyst")
    page = BeautifulSoup(client.get("/estimates/1?lang=fa").text, "html.parser")
    assert page.html["dir"] == "rtl"
    assert page.find("h2").text.startswith("هشدار")
