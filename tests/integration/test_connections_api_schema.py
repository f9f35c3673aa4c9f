"""schemathesis against the local stack from docs/openapi.json: generated requests (valid and invalid) to every route
get no 5xx, and every answer conforms to the document (status, content type, headers, body). Slow tier."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from devtools.clerk_payloads import external_account, to_body, user_event
from devtools.local_stack import LocalStack
from devtools.openapi import DOCUMENT_PATH
from devtools.send import deliver

pytestmark = [pytest.mark.slow, pytest.mark.moto_only]
T0 = 1_716_883_200_000
USER = "user_schema"
schema = schemathesis.openapi.from_path(DOCUMENT_PATH)
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    with LocalStack(poll_interval=None) as running:
        accounts = [
            external_account("eac_schema_x", "oauth_x", updated_at=T0),
            external_account("eac_schema_tt", "oauth_custom_tiktok", updated_at=T0),
        ]
        user = user_event("user.created", USER, updated_at=T0, accounts=accounts)
        running.clerk_api.users.put(user["data"])
        assert deliver(running.webhook_url, running.secret, to_body(user)).status == 200
        yield running


@schema.parametrize()
@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
def test_the_api_keeps_its_document(case: schemathesis.Case, stack: LocalStack) -> None:
    if case.path_parameters and "userId" in case.path_parameters and case.path_parameters["userId"].endswith("_"):
        case.path_parameters["userId"] = USER  # aim some calls at a user that exists
    headers = {"Authorization": f"Bearer {stack.session_token(USER)}"} if case.path == "/me/connections" else None
    case.call_and_validate(base_url=stack.url, headers=headers, checks=CHECKS)
