"""Shared fixtures: a moto DynamoDB table built from template.yaml, a signing secret, and handler invokers."""

from __future__ import annotations

import importlib
import json
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import boto3
import pytest
from moto import mock_aws
from social_connections import environment

from devtools.clerk_payloads import to_body
from devtools.fake_aws import DUMMY_AWS_ENVIRONMENT, LambdaContextStub
from devtools.signing import http_api_event, new_secret, svix_headers
from devtools.template_table import create_connections_table

TABLE_NAME = "connections-test"


# Handlers get the same context stub as in the local stack and the benchmarks.
FakeLambdaContext = LambdaContextStub


@dataclass
class CallCounter:
    """DynamoDB API calls made through the shared client, by operation (each one a sequential round trip)."""

    calls: Counter[str] = field(default_factory=Counter)
    order: list[str] = field(default_factory=list)

    def __call__(self, model: Any, **_: Any) -> None:
        self.calls[model.name] += 1
        self.order.append(model.name)

    def reset(self) -> None:
        self.calls.clear()
        self.order.clear()

    @property
    def writes(self) -> int:
        write_ops = {"PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems", "BatchWriteItem"}
        return sum(n for op, n in self.calls.items() if op in write_ops)

    @property
    def total(self) -> int:
        return sum(self.calls.values())


@pytest.fixture(autouse=True)
def aws_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {
        **DUMMY_AWS_ENVIRONMENT,
        "TABLE_NAME": TABLE_NAME,
        "POWERTOOLS_SERVICE_NAME": "clerk-social-connections-test",
        "POWERTOOLS_METRICS_NAMESPACE": "ClerkSocialConnectionsTest",
        "POWERTOOLS_LOG_DEDUPLICATION_DISABLED": "1",
        "ERROR_THRESHOLD": "3",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL_DYNAMODB", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)


@pytest.fixture
def secret(monkeypatch: pytest.MonkeyPatch) -> str:
    value = new_secret()
    monkeypatch.setenv("CLERK_WEBHOOK_SECRET", value)
    return value


def _refuse_empty_expression_maps(params: Any, **_: Any) -> None:
    """DynamoDB rejects an empty ExpressionAttributeNames/Values map (moto does not): fail the test as AWS would."""
    if isinstance(params, dict):
        for name, value in params.items():
            if name in {"ExpressionAttributeNames", "ExpressionAttributeValues"} and value == {}:
                raise AssertionError(f"{name} must not be empty (DynamoDB answers ValidationException)")
            _refuse_empty_expression_maps(value)
    elif isinstance(params, list):
        for value in params:
            _refuse_empty_expression_maps(value)


@pytest.fixture
def table(aws_environment: None) -> Iterator[str]:
    """The connections table (from template.yaml) in moto; yields its stream ARN."""
    with mock_aws():
        environment.reset()
        stream_arn = create_connections_table(boto3.client("dynamodb"), TABLE_NAME)
        environment.dynamodb_client().meta.events.register(
            "provide-client-params.dynamodb", _refuse_empty_expression_maps
        )
        yield stream_arn
        environment.reset()


@pytest.fixture
def calls(table: str) -> CallCounter:
    counter = CallCounter()
    environment.dynamodb_client().meta.events.register("before-call.dynamodb", counter)
    return counter


@pytest.fixture
def atomic_requests(table: str) -> None:
    """Make each DynamoDB request atomic, as the real service is; moto's in-memory backend is not thread-safe.

    Interleavings between requests (read, then a conditional write) stay possible, which is what races are about.
    """
    client: Any = environment.dynamodb_client()  # reaching into botocore's private call path on purpose
    lock = threading.Lock()
    make_api_call = client._make_api_call

    def atomic(operation: str, params: Any) -> Any:
        with lock:
            return make_api_call(operation, params)

    client._make_api_call = atomic


def _load(module: str) -> ModuleType:
    return importlib.import_module(module)


@pytest.fixture
def webhook_app() -> ModuleType:
    return _load("functions.clerk_webhook.app")


@pytest.fixture
def stream_app() -> ModuleType:
    return _load("functions.connection_stream.app")


@dataclass
class WebhookResponse:
    status: int
    body: dict[str, Any]
    headers: dict[str, str]


Deliver = Callable[..., WebhookResponse]


@pytest.fixture
def invoke_webhook(webhook_app: ModuleType) -> Callable[[dict[str, Any]], WebhookResponse]:
    """Call the real lambda_handler with an API Gateway event."""

    def invoke(event: dict[str, Any]) -> WebhookResponse:
        raw = webhook_app.lambda_handler(event, FakeLambdaContext())
        text = raw.get("body") or "{}"
        try:
            body = json.loads(text)
        except ValueError:
            body = {"raw": text}
        return WebhookResponse(status=raw["statusCode"], body=body, headers=raw.get("headers", {}))

    return invoke


@pytest.fixture
def deliver(secret: str, table: str, invoke_webhook: Callable[[dict[str, Any]], WebhookResponse]) -> Deliver:
    """Sign a Clerk payload as Svix does and deliver it through lambda_handler."""

    def send(
        payload: dict[str, Any] | str,
        *,
        message_id: str | None = None,
        base64_encoded: bool = False,
        signing_secret: str | None = None,
    ) -> WebhookResponse:
        body = payload if isinstance(payload, str) else to_body(payload)
        headers = svix_headers(signing_secret or secret, body, message_id=message_id)
        return invoke_webhook(http_api_event(body, headers, base64_encoded=base64_encoded))

    return send


def scan_table() -> list[dict[str, Any]]:
    """Every item in the table as plain Python values, sorted by key."""
    resource = boto3.resource("dynamodb")
    items = resource.Table(TABLE_NAME).scan(ConsistentRead=True)["Items"]
    return sorted(items, key=lambda item: (item["pk"], item["sk"]))


def user_rows(user_id: str) -> dict[str, dict[str, Any]]:
    return {item["sk"]: item for item in scan_table() if item["pk"] == f"USER#{user_id}"}
