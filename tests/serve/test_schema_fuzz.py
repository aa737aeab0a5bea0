"""A bounded schemathesis run against the app's own OpenAPI schema: generated requests, valid and not, on
every operation; none may get a 5xx (a bad request is a 4xx with a JSON error)."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from ragtune.serve import create_app

schema = schemathesis.pytest.from_fixture("served_schema")


@pytest.fixture(scope="module")
def served_schema(service):
    return schemathesis.openapi.from_asgi("/openapi.json", create_app(service.index_dir, service.config,
                                                                      service=service))


@schema.parametrize()
@settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_no_generated_request_gets_a_server_error(case):
    response = case.call()
    assert response.status_code < 500, f"{case.method} {case.path}: {response.status_code} {response.text[:300]}"
    if response.status_code >= 400:
        assert "error" in response.json()
