"""Review: the queue, one pair side by side with the evidence, deciding through the form and the API."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from bs4 import BeautifulSoup

from dadkhah.audit import list_audit
from dadkhah.link.review import decide, list_decisions
from dadkhah.model import Record, Source
from tests.conftest import TESTER, decide_alternately


def _queue(client, **params) -> dict:
    answer = client.get("/api/v1/review", params=params)
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_the_queue_page_and_its_json_twin_agree_and_are_paged(app, as_role):
    client = as_role("analyst")
    data = _queue(client, per_page=3)
    assert data["run_id"] is not None and data["total"] >= 4, "the served case has pairs to review"
    assert len(data["pairs"]) == 3 and data["has_next"] is True
    page = BeautifulSoup(client.get("/review?per_page=3").text, "html.parser")
    assert [int(tr["data-pair"]) for tr in page.select("#queue tbody tr")] == [p["id"] for p in data["pairs"]]
    assert page.find(id="total").text.replace(",", "") == str(data["total"])
    second = _queue(client, per_page=3, page=2)
    assert not {p["id"] for p in second["pairs"]} & {p["id"] for p in data["pairs"]}
    impact = [p["chance_wrong"] * p["records_affected"] for p in data["pairs"] + second["pairs"]]
    assert impact == sorted(impact, reverse=True), "those whose decision would change the most first"
    assert page.find(id="expected-changes").text.replace(",", "") == str(round(data["expected_changes"]))
    assert client.get("/api/v1/review?per_page=0").status_code == 422
    assert client.get("/api/v1/review?page=0").status_code == 422


def test_a_pair_shows_both_records_side_by_side_with_the_evidence(app, as_role):
    client = as_role("analyst")
    pair_id = _queue(client, per_page=1)["pairs"][0]["id"]
    data = client.get(f"/api/v1/review/{pair_id}").json()
    assert data["latest_run"] is True and 0 < data["match_probability"] < 1
    assert data["decision"] is None
    assert {f["field"] for f in data["fields"]} >= {"given_name", "family_name", "death_date", "city"}
    assert data["comparisons"] and all("weight" in c and "level" in c for c in data["comparisons"])

    page = BeautifulSoup(client.get(f"/review/{pair_id}").text, "html.parser")
    assert page.find(id="probability").text == str(data["match_probability"])
    refs = [s.text for s in page.select("#fields thead .ref")]
    assert refs == [data["record_a"]["ref"], data["record_b"]["ref"]]
    for field in data["fields"]:
        row = page.find("tr", attrs={"data-field": field["field"]})
        assert f"field-{field['verdict']}" in row["class"]
        given = [td.select_one(".given") for td in row.find_all("td")]
        assert [g.text if g else None for g in given] == [field["a"]["given"], field["b"]["given"]]
    for comparison in data["comparisons"]:
        row = page.find("tr", attrs={"data-comparison": comparison["comparison"]})
        assert row.select_one(".weight").text == str(comparison["weight"])
        assert comparison["verdict"].replace(" ", "-") in row["class"]
    verdicts = {c["verdict"] for c in data["comparisons"]}
    assert verdicts & {"agrees", "disagrees"}, "agreeing and disagreeing comparisons are marked"
    # Said by the weight's sign: a level named "intervals overlap" that weighs against is not called "agrees".
    shown = {row.select_one("td[class^=verdict-]").text for row in page.select("#comparisons tbody tr")}
    assert shown <= {"for", "against", "neutral", "no evidence"} and shown & {"for", "against"}
    raw_a = page.select("dl.raw")[0]
    assert data["record_a"]["ref"] in raw_a.text
    assert all(value in raw_a.text for value in data["record_a"]["raw"].values())
    form = page.find("form", id="decide-form")
    assert form["action"] == f"/review/{pair_id}/decide"
    assert {i.get("name") for i in form.find_all(["input", "textarea"])} >= {"csrf_token", "decision", "reason"}


def test_deciding_through_the_form_records_it_audits_it_and_goes_to_the_next_pair(app, as_role):
    client = as_role("analyst")
    first, second = _queue(client, per_page=2)["pairs"]
    answer = client.post(f"/review/{first['id']}/decide",
                         data={"csrf_token": client.csrf, "decision": "same", "reason": "same father, same city, date within days"})
    assert answer.status_code == 303, answer.text
    assert answer.headers["location"].startswith(f"/review/{second['id']}?decided=")
    assert first["id"] not in {p["id"] for p in _queue(client, per_page=200)["pairs"]}

    decided = client.get(f"/api/v1/review/{first['id']}").json()["decision"]
    assert decided["decision"] == "same" and decided["decided_by"] == "analyst"
    page = BeautifulSoup(client.get(f"/review/{first['id']}").text, "html.parser")
    assert "same father" in page.find(id="decision").text
    follow = BeautifulSoup(client.get(answer.headers["location"]).text, "html.parser")
    assert follow.find(id="decided") is not None

    with app.state.store.session() as session:
        events = [e for e in list_audit(session, limit=20) if e["action"] == "pair decided"]
        decisions = list_decisions(session)
    assert events[0]["object_id"] == str(decided["id"]) and events[0]["actor"] == "analyst"
    assert events[0]["details"]["pair_id"] == first["id"] and events[0]["details"]["decision"] == "same"
    assert decisions[-1]["id"] == decided["id"]


def test_deciding_through_the_api_and_the_decision_is_listed(app, as_role):
    client = as_role("analyst")
    pair = _queue(client, per_page=1)["pairs"][0]
    answer = client.post(f"/api/v1/review/{pair['id']}/decide", json={"decision": "different", "reason": "different fathers"},
                         headers={"X-CSRF-Token": client.csrf})
    assert answer.status_code == 200, answer.text
    decided = answer.json()
    assert decided["decision"] == "different" and decided["pair_id"] == pair["id"]
    assert {decided["record_a"], decided["record_b"]} == {pair["record_a"]["ref"], pair["record_b"]["ref"]}
    assert decided["next_pair"] != pair["id"]

    listed = client.get("/api/v1/review/decisions").json()
    assert listed["decisions"][0]["id"] == decided["id"] and listed["decisions"][0]["reason"] == "different fathers"
    page = BeautifulSoup(client.get("/review/decisions").text, "html.parser")
    row = page.find("tr", attrs={"data-decision": str(decided["id"])})
    assert row.select_one(".reason").text == "different fathers"
    with app.state.store.session() as session:
        assert any(e["action"] == "pair decided" and e["object_id"] == str(decided["id"]) for e in list_audit(session, limit=5))


def test_a_reason_is_required_and_nothing_is_recorded_without_one(app, as_role):
    client = as_role("analyst")
    pair_id = _queue(client, per_page=1)["pairs"][0]["id"]
    page = client.post(f"/review/{pair_id}/decide", data={"csrf_token": client.csrf, "decision": "same", "reason": "  "})
    assert page.status_code == 400
    assert "reason" in BeautifulSoup(page.text, "html.parser").find(id="decide-error").text
    api = client.post(f"/api/v1/review/{pair_id}/decide", json={"decision": "same", "reason": ""},
                      headers={"X-CSRF-Token": client.csrf})
    assert api.status_code == 400 and api.json()["error"]["field"] == "reason"
    bad = client.post(f"/api/v1/review/{pair_id}/decide", json={"decision": "maybe", "reason": "unsure"},
                      headers={"X-CSRF-Token": client.csrf})
    assert bad.status_code == 422
    missing = client.post(f"/review/{pair_id}/decide", data={"csrf_token": client.csrf, "reason": "no choice"})
    assert missing.status_code == 400
    with app.state.store.session() as session:
        assert list_decisions(session) == []
        assert not [e for e in list_audit(session, limit=20) if e["action"] == "pair decided" and e["channel"] == "web"]


def test_a_contradiction_is_refused_with_the_apis_message(app, as_role):
    client = as_role("analyst")
    pair = _queue(client, per_page=1)["pairs"][0]
    x, y = pair["record_a"]["ref"], pair["record_b"]["ref"]
    with app.state.store.session() as session:
        z = next(f"{name}:{record_id}" for name, record_id in session.execute(
            sa.select(Source.name, Record.record_id).join(Source, Source.id == Record.source_id).order_by(Record.id))
            if f"{name}:{record_id}" not in (x, y))
        decide(app.state.store, "same", actor=TESTER, reason="synthetic: same person", records=(x, z))
        decide(app.state.store, "different", actor=TESTER, reason="synthetic: different persons", records=(y, z))
    # x is z, y is not z: so x and y cannot be the same person.
    before = client.get("/api/v1/review/decisions").json()["decisions"]
    page = client.post(f"/review/{pair['id']}/decide", data={"csrf_token": client.csrf, "decision": "same", "reason": "looks alike"})
    assert page.status_code == 400
    assert "contradicts" in BeautifulSoup(page.text, "html.parser").find(id="decide-error").text
    api = client.post(f"/api/v1/review/{pair['id']}/decide", json={"decision": "same", "reason": "looks alike"},
                      headers={"X-CSRF-Token": client.csrf})
    assert api.status_code == 400 and "contradicts" in api.json()["error"]["message"]
    assert client.get("/api/v1/review/decisions").json()["decisions"] == before
    with app.state.store.session() as session:
        assert not [e for e in list_audit(session, limit=20) if e["action"] == "pair decided" and e["channel"] == "web"]
    allowed = client.post(f"/api/v1/review/{pair['id']}/decide", json={"decision": "different", "reason": "consistent"},
                          headers={"X-CSRF-Token": client.csrf})
    assert allowed.status_code == 200


def test_review_is_for_analysts_and_a_decision_needs_the_csrf_token(app, as_role):
    viewer = as_role("viewer")
    assert viewer.get("/review").status_code == 403 and viewer.get("/api/v1/review").status_code == 403
    analyst = as_role("analyst")
    pair_id = _queue(analyst, per_page=1)["pairs"][0]["id"]
    assert viewer.post(f"/api/v1/review/{pair_id}/decide", json={"decision": "same", "reason": "x"},
                       headers={"X-CSRF-Token": viewer.csrf}).status_code == 403
    assert analyst.post(f"/review/{pair_id}/decide", data={"decision": "same", "reason": "x"}).status_code == 403
    assert analyst.post(f"/api/v1/review/{pair_id}/decide", json={"decision": "same", "reason": "x"}).status_code == 403
    with app.state.store.session() as session:
        assert list_decisions(session) == []


def test_a_pair_that_does_not_exist_is_404(app, as_role):
    client = as_role("analyst")
    assert client.get("/api/v1/review/99999999").status_code == 404
    assert client.get("/review/99999999").status_code == 404
    answer = client.post("/api/v1/review/99999999/decide", json={"decision": "same", "reason": "x"},
                         headers={"X-CSRF-Token": client.csrf})
    assert answer.status_code == 404


def test_a_joined_pair_shows_the_chain_of_the_persons_other_links(app, as_role):
    """A queued pair the run joined through other records too says how likely that chain is right,
    on the page and in its JSON; the queue's chance that the run is wrong starts from it."""
    client = as_role("analyst")
    pairs = _queue(client, per_page=200)["pairs"]
    chained = [p for p in pairs if p["other_path"] and p["other_path"] > p["match_probability"]]
    assert chained, "the case has joined pairs that other links hold together more surely than their own score"
    pair = chained[0]
    assert pair["together"] and pair["chance_wrong"] == pytest.approx(1 - pair["other_path"], abs=1e-3)
    data = client.get(f"/api/v1/review/{pair['id']}").json()
    assert data["other_path"] == pair["other_path"] and data["together"] is True
    page = BeautifulSoup(client.get(f"/review/{pair['id']}").text, "html.parser")
    assert f"{round(pair['other_path'] * 100)}%" in page.find(id="other-path").text
    plain = next((p for p in pairs if not p["other_path"]), None)
    if plain is not None:  # (a pair with no other path says nothing of one)
        assert BeautifulSoup(client.get(f"/review/{plain['id']}").text, "html.parser").find(id="other-path") is None


def test_the_review_pages_in_persian(app, as_role):
    client = as_role("analyst")
    pair_id = _queue(client, per_page=1)["pairs"][0]["id"]
    page = BeautifulSoup(client.get(f"/review/{pair_id}?lang=fa").text, "html.parser")
    assert page.html["dir"] == "rtl"
    assert page.find("form", id="decide-form").find("button").text == "ثبت تصمیم"
    # What agreed and what did not, in Persian: the comparisons and the levels they fell in.
    rows = page.find("table", id="comparisons").find("tbody").find_all("tr")
    assert rows
    for row in rows:
        comparison, level = (cell.text for cell in row.find_all("td")[:2])
        assert not any(ch.isascii() and ch.isalpha() for ch in comparison + level), (comparison, level)


def test_linking_again_from_the_review_page_obeys_the_decisions_and_is_audited(app, as_role):
    client = as_role("analyst")
    pair = _queue(client, per_page=1)["pairs"][0]
    decided = client.post(f"/api/v1/review/{pair['id']}/decide", json={"decision": "different", "reason": "synthetic"},
                          headers={"X-CSRF-Token": client.csrf}).json()
    form = BeautifulSoup(client.get("/review").text, "html.parser").find("form", id="link-form")
    assert form["action"] == "/review/link" and form.find("input", attrs={"name": "csrf_token"})
    answer = client.post("/review/link", data={"csrf_token": client.csrf})
    assert answer.status_code == 303 and answer.headers["location"].startswith("/review?linked=")
    run_id = int(answer.headers["location"].rsplit("=", 1)[1])
    shown = BeautifulSoup(client.get(answer.headers["location"]).text, "html.parser")
    assert f"#{run_id}" in shown.find(id="linked").text
    queue = _queue(client, per_page=200)
    assert queue["run_id"] == run_id
    assert {(p["record_a"]["ref"], p["record_b"]["ref"]) for p in queue["pairs"]}.isdisjoint(
        {(decided["record_a"], decided["record_b"]), (decided["record_b"], decided["record_a"])})
    with app.state.store.session() as session:
        [event] = [e for e in list_audit(session, limit=5) if e["action"] == "link run"]
    assert (event["actor"], event["channel"], event["object_id"]) == ("analyst", "web", str(run_id))
    assert event["details"]["decisions_applied"] >= 1
    assert client.post("/api/v1/link/run", json={"threshold": 0.5, "review_band": [0.9, 0.2]},
                       headers={"X-CSRF-Token": client.csrf}).json()["error"]["field"] == "review_band"


def test_the_queue_page_shows_the_calibration_the_decisions_give(app, as_role):
    """With enough decisions the page says how often the team found "same" at the model's 0.3, 0.5, 0.7,
    for pairs the run joined and pairs it kept apart."""
    from dadkhah.link.run import run_linkage

    store = app.state.store
    run_linkage(store, actor=TESTER, review_band=(0.001, 0.9999))  # enough queued pairs to decide 24
    client = as_role("analyst")
    page = BeautifulSoup(client.get("/review").text, "html.parser")
    assert "Uncalibrated" in page.find(id="calibration").text
    pairs = _queue(client, per_page=100)["pairs"]
    assert decide_alternately(store, pairs, 24) == 24
    data = _queue(client)
    shares = data["calibration"]["same_person_share_at"]
    for lang in ("en", "fa"):
        text = BeautifulSoup(client.get(f"/review?lang={lang}").text, "html.parser").find(id="calibration").text
        assert "24" in text or "۲۴" in text
        for kind in ("joined", "kept_apart"):
            assert f"{round(shares[kind]['0.5'] * 100)}%" in text
        assert ("when the run joined them" if lang == "en" else "وقتی اجرا آن‌ها را یکی کرده بود") in text
