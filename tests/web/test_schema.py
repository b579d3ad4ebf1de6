"""The API against its own OpenAPI schema: generated requests (valid and not) never cause a server error."""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

from tests.web.conftest import login


def test_no_operation_answers_with_a_server_error(app):
    client = login(app, "admin")
    cookies = {"dadkhah_session": client.cookies.get("dadkhah_session")}
    headers = {"X-CSRF-Token": client.csrf}
    schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", app, cookies=cookies)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 2
    calls = []
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=15, deadline=None, database=None, suppress_health_check=list(HealthCheck))
        def no_server_error(case):
            response = case.call(headers=headers, cookies=cookies)
            calls.append(response.status_code)
            case.validate_response(response, checks=[not_a_server_error])

        no_server_error()
    assert len(calls) >= len(operations) and 200 in calls
