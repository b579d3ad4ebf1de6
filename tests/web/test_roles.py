"""Deny by default: every route, walked with every role (and with none)."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from dadkhah.model import Place, Record, ReviewPair
from dadkhah.users import PERMISSIONS, ROLES, allowed

PUBLIC = {
    ("GET", "/login"), ("POST", "/login"),
    # Choosing a new password after an admin's reset: the short session of a login with the temporary
    # password opens these alone (web.routes.auth), its forms guarded by that session's CSRF token.
    ("GET", "/password"), ("POST", "/password"), ("POST", "/password/cancel"),
    # An appeal's public page, its signing form, the links of its confirmation email, and its JSON
    # (web.routes.signing): open to anyone, their forms guarded by a double-submit cookie.
    ("GET", "/appeals/{slug}"), ("POST", "/appeals/{slug}/sign"),
    ("GET", "/appeals/{slug}/confirm/{token}"), ("POST", "/appeals/{slug}/confirm/{token}"),
    ("GET", "/appeals/{slug}/withdraw/{token}"), ("POST", "/appeals/{slug}/withdraw/{token}"),
    ("GET", "/api/v1/appeals/{slug}/public"),
}


def route_permission(route: APIRoute) -> list[str]:
    return [d.call.permission for d in route.dependant.dependencies if hasattr(d.call, "permission")]


def _walk(routes):
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        elif hasattr(route, "original_router"):  # an included router (our routers have no prefix)
            yield from _walk(route.original_router.routes)


def api_routes(app) -> list[tuple[str, str, APIRoute]]:
    return [(method, route.path, route) for route in _walk(app.routes) for method in sorted(route.methods - {"HEAD"})]


def sample_values(app) -> dict[str, str]:
    from dadkhah.appeal import create_appeal, publish_appeal
    from dadkhah.jobs import queue_report_print, run_worker
    from dadkhah.model import Appeal, Job
    from dadkhah.sources import set_release
    from tests.conftest import TESTER

    with app.state.store.session() as session:
        pair = session.scalar(sa.select(ReviewPair.id).order_by(ReviewPair.id).limit(1))
        city = session.scalar(sa.select(Record.city_place_id).where(Record.city_place_id.is_not(None)).limit(1))
        place = city or session.scalar(sa.select(Place.id).limit(1))
        appeal = session.scalar(sa.select(Appeal.appeal_id).limit(1))
    if appeal is None:  # a published appeal, for its pages
        appeal = create_appeal(app.state.store, actor=TESTER, slug="inquiry", title="For an inquiry",
                               title_fa="برای تحقیق", text="We ask for an inquiry.", text_fa="خواستار تحقیق هستیم.",
                               addressee="The Secretary-General")["id"]
        publish_appeal(app.state.store, appeal, actor=TESTER)
    with app.state.store.session() as session:
        job = session.scalar(sa.select(Job.id).limit(1))
    if job is None:  # a printed report, for the job's pages and its file (the worker runs it here)
        set_release(app.state.store, "list-1", "public", actor=TESTER)
        job = queue_report_print(app.state.store, actor=TESTER, language="en")
        assert run_worker(app.state.store, once=True) == 1
    return {"job_id": str(job), "person_id": "P-000001", "testimony_id": "T-0001", "evidence_id": "E-000001", "estimate_id": "1",
            "import_id": "1", "pair_id": str(pair), "username": "viewer", "place_id": place,
            "official": "O-000001", "institution": "I-000001", "act": "A-000001", "site": "S-000003",
            "claim": "C-000001", "file": "posts", "slug": "inquiry", "ref": appeal, "token": "not-a-token",
            "source": "list-1", "token_id": "0123456789ab", "kind": "persons"}


def fill(path: str, values: dict[str, str]) -> str:
    def one(match):
        name = match.group(1).split(":")[0]
        assert name in values, f"{path}: unknown path parameter {name!r}; use one of {sorted(values)}"
        return values[name]

    return re.sub(r"\{([^}]+)\}", one, path)


def test_every_route_but_login_names_exactly_one_known_permission(app):
    for method, path, route in api_routes(app):
        permissions = route_permission(route)
        if (method, path) in PUBLIC:
            assert permissions == [], f"{method} {path} is public"
            continue
        assert len(permissions) == 1, f"{method} {path} must depend on require(permission) once, has {permissions}"
        assert permissions[0] in PERMISSIONS, f"{method} {path}: unknown permission {permissions[0]!r}"


@pytest.mark.parametrize("role", [None, *ROLES])
def test_every_route_with_every_role(app, as_role, role):
    values = sample_values(app)
    client = as_role(role) if role else TestClient(app, base_url="http://127.0.0.1", follow_redirects=False)
    checked = 0
    for method, path, route in api_routes(app):
        if (method, path) in PUBLIC:
            continue
        permission = route_permission(route)[0]
        url = fill(path, values)
        is_api = path.startswith("/api/")
        if method == "GET":
            answer = client.get(url)
        else:  # no CSRF token: an allowed role is refused for the token, a disallowed one for the role
            answer = client.request(method, url, headers={"accept": "application/json"})
        where = f"{role or 'anonymous'} {method} {url}: {answer.status_code} {answer.text[:300]}"
        if role is None:
            if is_api:
                assert answer.status_code == 401, where
            else:
                assert answer.status_code == 303 and answer.headers["location"] == "/login", where
        elif not allowed(role, permission):
            assert answer.status_code == 403, where
            if is_api:
                assert answer.json()["error"]["permission"] == permission, where
        elif method == "GET":
            assert answer.status_code in (200, 303), where
        else:
            assert answer.status_code == 403, where
            assert "CSRF" in answer.text or "csrf" in answer.text, f"refused for its token, not its role: {where}"
        checked += 1
    assert checked >= 3


def test_every_page_posts_with_the_csrf_token_and_holds_no_inline_code_or_outside_reference(app, as_role):
    from bs4 import BeautifulSoup

    values = sample_values(app)
    client = as_role("admin")
    pages = 0
    for method, path, _route in api_routes(app):
        if method != "GET" or path.startswith("/api/") or path.endswith((".png", ".svg", ".csv", "/file")):
            continue
        url = fill(path, values)
        answer = client.get(url)
        if not answer.headers.get("content-type", "").startswith("text/html"):
            continue
        pages += 1
        page = BeautifulSoup(answer.text, "html.parser")
        for form in page.find_all("form"):
            if (form.get("method") or "get").lower() == "post":
                token = form.find("input", attrs={"name": "csrf_token"})
                assert token is not None and token.get("value") == client.csrf, f"{url}: a POST form without the token"
        for script in page.find_all("script"):
            assert script.get("src", "").startswith("/static/") and not script.string, f"{url}: inline script"
        for tag in page.find_all(True):
            assert "style" not in tag.attrs, f"{url}: inline style on <{tag.name}>"
            assert not any(name.startswith("on") for name in tag.attrs), f"{url}: inline handler on <{tag.name}>"
            for attribute in ("src", "href", "action", "xlink:href"):
                target = tag.get(attribute) or ""
                assert not target.startswith(("http:", "https:", "//")), f"{url}: outside reference {target}"
        assert not page.find_all("style"), f"{url}: inline <style>"
    assert pages >= 15


def test_every_page_renders_in_persian_right_to_left(app, as_role):
    from bs4 import BeautifulSoup

    values = sample_values(app)
    client = as_role("admin")
    pages = 0
    for method, path, _route in api_routes(app):
        if method != "GET" or path.startswith("/api/") or path.endswith((".png", ".svg", ".csv", "/file")):
            continue
        answer = client.get(fill(path, values), params={"lang": "fa"})
        if not answer.headers.get("content-type", "").startswith("text/html"):
            continue
        assert answer.status_code == 200, f"{path}: {answer.status_code}"
        page = BeautifulSoup(answer.text, "html.parser")
        assert page.html["dir"] == "rtl" and page.html["lang"] == "fa", path
        assert any("\u0600" <= ch <= "\u06ff" for ch in page.find("h1").get_text()), f"{path}: the heading is not in Persian"
        pages += 1
    assert pages >= 15
