"""Shared fixtures: the table from template.yaml (moto, or DynamoDB Local with DYNAMODB=local), a container of
dependencies built around it, a signing secret, and the real handlers to invoke."""

from __future__ import annotations

import importlib
import os
import threading
from collections.abc import Callable, Iterator
from types import ModuleType
from typing import Any

import boto3
import pytest
from moto import mock_aws
from social_connections import container
from social_connections.storage import DYNAMODB_CLIENT_CONFIG

from devtools.clerk_payloads import to_body
from devtools.testkit.aws import TEST_ENVIRONMENT, TEST_TABLE_NAME, LambdaContextStub, RequestCounter
from devtools.testkit.deliveries import HttpResponse, http_api_event, invoke_http, new_secret, svix_headers
from devtools.testkit.dynamodb_local import DynamoDBLocal
from devtools.testkit.dynamodb_rules import install_on_every_client
from devtools.testkit.functions import install_container
from devtools.testkit.table import StreamReader, stream_event
from devtools.testkit.template import create_connections_table

Deliver = Callable[..., HttpResponse]

# Every DynamoDB client any test creates refuses what DynamoDB would refuse and moto accepts (dynamodb_rules).
install_on_every_client()


@pytest.fixture(autouse=True)
def aws_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in TEST_ENVIRONMENT.items():
        monkeypatch.setenv(name, value)
    for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB", "AWS_PROFILE", "CLERK_WEBHOOK_SECRET_ID"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def secret(monkeypatch: pytest.MonkeyPatch) -> str:
    value = new_secret()
    monkeypatch.setenv("CLERK_WEBHOOK_SECRET", value)
    return value


@pytest.fixture(scope="session")
def dynamodb_local() -> Iterator[DynamoDBLocal | None]:
    """One DynamoDB Local for the whole run when DYNAMODB=local (`make dynamodb-local-tier`), else None."""
    if os.environ.get("DYNAMODB") != "local":
        yield None
        return
    with DynamoDBLocal() as server:
        yield server


@pytest.fixture
def dynamodb(
    aws_environment: None, dynamodb_local: DynamoDBLocal | None, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Any]:
    """A DynamoDB endpoint for this test (moto in-process, or the session's DynamoDB Local) and a client on it."""
    if dynamodb_local is None:
        with mock_aws():
            yield boto3.client("dynamodb", config=DYNAMODB_CLIENT_CONFIG)
        return
    # Every client the test and the handlers build (DynamoDB and its stream) goes to DynamoDB Local.
    monkeypatch.setenv("AWS_ENDPOINT_URL", dynamodb_local.endpoint_url)
    client = boto3.client("dynamodb", config=DYNAMODB_CLIENT_CONFIG)
    yield client
    for name in client.list_tables()["TableNames"]:
        client.delete_table(TableName=name)


@pytest.fixture
def table(dynamodb: Any, secret: str) -> Iterator[str]:
    """The connections table (from template.yaml) and a container around it for the handlers; its stream ARN."""
    stream_arn = create_connections_table(dynamodb, TEST_TABLE_NAME)
    install_container(dynamodb)
    yield stream_arn
    container.use(None)


@pytest.fixture
def store(table: str) -> Any:
    return container.current().store


@pytest.fixture
def calls(table: str) -> RequestCounter:
    return RequestCounter().attach(container.current().dynamodb)


@pytest.fixture
def atomic_requests(table: str) -> None:
    """Make each DynamoDB request atomic, as the real service is; moto's in-memory backend is not thread-safe.

    Interleavings between requests (read, then a conditional write) stay possible, which is what races are about.
    """
    client: Any = container.current().dynamodb  # reaching into botocore's private call path on purpose
    lock = threading.Lock()
    make_api_call = client._make_api_call

    def atomic(operation: str, params: Any) -> Any:
        with lock:
            return make_api_call(operation, params)

    client._make_api_call = atomic


@pytest.fixture
def webhook_app(table: str) -> ModuleType:
    return importlib.import_module("functions.clerk_webhook.app")


@pytest.fixture
def stream_app(table: str) -> ModuleType:
    return importlib.import_module("functions.connection_stream.app")


@pytest.fixture
def invoke_webhook(webhook_app: ModuleType) -> Callable[[dict[str, Any]], HttpResponse]:
    """Call the real lambda_handler with an API Gateway event."""
    return lambda event: invoke_http(webhook_app.lambda_handler, event)


@pytest.fixture
def deliver(secret: str, invoke_webhook: Callable[[dict[str, Any]], HttpResponse]) -> Deliver:
    """Sign a Clerk payload as Svix does and deliver it through lambda_handler."""

    def send(
        payload: dict[str, Any] | str,
        *,
        message_id: str | None = None,
        base64_encoded: bool = False,
        signing_secret: str | None = None,
    ) -> HttpResponse:
        body = payload if isinstance(payload, str) else to_body(payload)
        headers = svix_headers(signing_secret or secret, body, message_id=message_id)
        return invoke_webhook(http_api_event(body, headers, base64_encoded=base64_encoded))

    return send


@pytest.fixture
def stream(table: str) -> StreamReader:
    return StreamReader(boto3.client("dynamodbstreams"), table)


@pytest.fixture
def run_stream(stream: StreamReader, stream_app: ModuleType) -> Callable[[], list[dict[str, Any]]]:
    """Feed every new stream record to the real handler, like the event source mapping; returns its responses."""

    def run() -> list[dict[str, Any]]:
        responses = []
        while records := stream.read():
            responses.append(stream_app.lambda_handler(stream_event(records), LambdaContextStub()))
        return responses

    return run
