"""The OpenAPI schema is served, documented without a CDN, and the API keeps to it (schemathesis, bounded)."""

import os
from collections.abc import Iterator

import pytest
import schemathesis
from django.contrib.staticfiles import finders
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from api.scopes import SCOPES
from people import tokens

pytestmark = pytest.mark.django_db

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
# Bounded for CI; set API_FUZZ_EXAMPLES=500 to search harder locally.
NEGATIVE_CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance]
EXAMPLES_PER_OPERATION = int(os.environ.get("API_FUZZ_EXAMPLES", "6"))


def test_the_schema_is_served_and_lists_every_operation(client):
    response = client.get("/api/v1/openapi.json")

    assert response.status_code == 200
    schema = response.json()
    assert schema["components"]["securitySchemes"]["TokenAuth"] == {"type": "http", "scheme": "bearer"}
    operations = {(method.upper(), path) for path, item in schema["paths"].items() for method in item}
    assert operations == {
        ("GET", "/api/v1/token"),
        ("POST", "/api/v1/tone/check"),
        ("GET", "/api/v1/incidents"),
        ("POST", "/api/v1/incidents"),
        ("GET", "/api/v1/incidents/{incident_id}"),
        ("GET", "/api/v1/incidents/{incident_id}/comms"),
        ("GET", "/api/v1/mentions"),
        ("POST", "/api/v1/mentions"),
        ("GET", "/api/v1/mention-sources"),
        ("POST", "/api/v1/mention-sources"),
        ("POST", "/api/v1/mention-sources/{source_id}/poll"),
        ("POST", "/api/v1/mentions/{mention_id}/replies"),
        ("POST", "/api/v1/incidents/{incident_id}/notes"),
        ("GET", "/api/v1/components"),
        ("PATCH", "/api/v1/components/{component_id}"),
        ("GET", "/api/v1/updates/{public_id}/deliveries"),
    }
    assert not response.cookies


def test_the_docs_page_loads_swagger_from_our_own_static_files(client):
    response = client.get("/api/v1/docs")

    assert response.status_code == 200
    page = response.content.decode()
    assert "/static/ninja/swagger-ui-bundle.js" in page
    assert "cdn" not in page.lower() and "https://" not in page
    assert finders.find("ninja/swagger-ui-bundle.js")  # collectstatic ships it


@pytest.fixture
def wsgi_app() -> Iterator[WSGIHandler]:
    """The real WSGI app, which schemathesis calls in-process. As Django's test client does, keep the test's
    database connection open across requests (it holds the test transaction)."""
    for signal in (request_started, request_finished):
        signal.disconnect(close_old_connections)
    try:
        yield WSGIHandler()
    finally:
        for signal in (request_started, request_finished):
            signal.connect(close_old_connections)


def test_every_operation_keeps_to_the_schema(wsgi_app, publisher, make_incident, make_component):
    """Generated requests with a valid all-scopes token: never a 5xx, and every answer matches the schema."""
    make_component("Payments")
    make_incident()
    _row, token = tokens.token_create(owner=publisher, name="ci", scopes=list(SCOPES))
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", wsgi_app)
    results = list(schema.get_all_operations())
    assert all(isinstance(result, Ok) for result in results), results  # the schema itself is valid
    operations = [result.ok() for result in results if isinstance(result, Ok)]
    assert len(operations) == 16

    bounded = settings(
        max_examples=EXAMPLES_PER_OPERATION,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    for operation in operations:

        @bounded
        @given(case=operation.as_strategy(generation_mode=GenerationMode.POSITIVE))
        def conforms(case: schemathesis.Case) -> None:
            case.call_and_validate(headers={"Authorization": f"Bearer {token}"}, checks=CHECKS)

        # Invalid requests: refused with a documented 4xx, never a server error.
        @bounded
        @given(case=operation.as_strategy(generation_mode=GenerationMode.NEGATIVE))
        def refuses(case: schemathesis.Case) -> None:
            case.call_and_validate(headers={"Authorization": f"Bearer {token}"}, checks=NEGATIVE_CHECKS)

        conforms()
        refuses()
