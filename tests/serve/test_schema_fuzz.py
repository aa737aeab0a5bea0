"""A bounded schemathesis run against the app's own OpenAPI schema: generated requests, valid and not, on
every operation; none may get a 5xx (a bad request is a 4xx with a JSON error)."""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, given, settings

from ragtune.serve import create_app


def test_no_generated_request_gets_a_server_error(service):
    schema = schemathesis.openapi.from_asgi("/openapi.json", create_app(service.index_dir, service.config,
                                                                        service=service))
    checked = []
    for result in schema.get_all_operations():
        operation = result.ok()

        @given(case=operation.as_strategy())
        @settings(max_examples=10, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True,
                  database=None)
        def no_server_error(case):
            response = case.call()
            assert response.status_code < 500, f"{case.method} {case.path}: {response.status_code} {response.text}"
            if response.status_code >= 400:
                assert set(response.json()) == {"error"}, response.text

        no_server_error()
        checked.append(operation.label)
    assert {"POST /v1/ask", "POST /v1/chat/completions", "POST /v1/documents", "DELETE /v1/documents/{doc_id}"
            } <= set(checked)
