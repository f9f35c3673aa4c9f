"""The benchmark's in-process measurements: DynamoDB requests per event (moto), and warm handler CPU (replayed).

Each webhook scenario is first run against moto's in-memory DynamoDB, counting requests and recording the raw
responses; the CPU loops then replay those responses, so they time the handler and botocore, never the emulator.
"""

from __future__ import annotations

import importlib
import os
import statistics
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

import boto3
from moto import mock_aws
from social_connections import container
from social_connections.container import Container
from social_connections.settings import Settings
from social_connections.storage import DynamoDBConnectionStore
from social_connections.storage.items import CONNECTION_PREFIX, PROFILE_SK, user_pk
from standardwebhooks.webhooks import Webhook

from devtools.bench_replay import ClientCpuTimer, ParsedRecorder, RecordedResponse, ResponseRecorder, ResponseReplayer
from devtools.clerk_payloads import deleted_event, external_account, to_body, user_event
from devtools.testkit.aws import DUMMY_AWS_ENVIRONMENT, LambdaContextStub, RequestCounter, RequestCounts
from devtools.testkit.deliveries import http_api_event, invoke_http, new_message_id, svix_headers
from devtools.testkit.table import lambda_record, stream_event
from devtools.testkit.template import (
    TABLE_LOGICAL_ID,
    References,
    create_connections_table,
    read_template,
)
from devtools.testkit.template import (
    function_environment as template_environment,
)

REPO_ROOT: Final = Path(__file__).resolve().parent.parent
TABLE_NAME: Final = "connections-bench"
WEBHOOK_MODULE: Final = "functions.clerk_webhook.app"
STREAM_MODULE: Final = "functions.connection_stream.app"
# Nothing may leave the machine: a request the replay does not answer goes to a closed loopback port and fails.
UNREACHABLE_ENDPOINT: Final = "http://127.0.0.1:9"
T0: Final = 1_716_883_200_000
CLEANUP_SIZES: Final = (1, 30, 300)


def function_environment(secret: str) -> dict[str, str]:
    """What template.yaml gives the functions (parameters at their defaults, no stand-in resources), a direct secret."""
    template = read_template()
    refs = {name: "" for name in template.resources} | {name: str(value) for name, value in template.parameters.items()}
    # A bus name, as deployed: the stream function refuses to start without one (the bench publishes no event).
    refs["ConnectionEventsBus"] = "connection-events-bench"
    environment = template_environment(References({**refs, TABLE_LOGICAL_ID: TABLE_NAME}))
    return {**environment, **DUMMY_AWS_ENVIRONMENT, "CLERK_WEBHOOK_SECRET": secret}


def apply_environment(values: Mapping[str, str]) -> None:
    os.environ.update(values)
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB"):
        os.environ.pop(name, None)


# ---- webhook scenarios ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class WebhookScenario:
    key: str
    title: str
    body: str
    message_id: str
    outcome: str

    def event(self, secret: str) -> dict[str, Any]:
        """The API Gateway event, signed now (the signature is only valid for five minutes)."""
        headers = svix_headers(secret, self.body, message_id=self.message_id, timestamp=datetime.now(tz=UTC))
        return http_api_event(self.body, headers)


def _three_accounts(updated_at: int) -> list[dict[str, Any]]:
    return [
        external_account("eac_bench_x", "oauth_x", updated_at=updated_at, username="ada_x", scopes="tweet.read"),
        external_account("eac_bench_ig", "oauth_instagram", updated_at=updated_at, username="ada_ig"),
        external_account("eac_bench_tt", "oauth_custom_tiktok", updated_at=updated_at, username="ada_tt"),
    ]


def webhook_scenarios(user_id: str = "user_bench") -> list[WebhookScenario]:
    """In delivery order: each one runs against the state the previous ones left."""
    created = to_body(user_event("user.created", user_id, updated_at=T0, accounts=_three_accounts(T0)))
    # The user's updated_at moves on, the accounts do not: the most common event, which changes no connection.
    unchanged = to_body(user_event("user.updated", user_id, updated_at=T0 + 60_000, accounts=_three_accounts(T0)))
    # One account's scopes change: planned from the profile's copy of the rows, with no read (B3).
    changed_accounts = _three_accounts(T0)
    changed_accounts[0]["approved_scopes"] = "tweet.read users.read"
    changed = to_body(user_event("user.updated", user_id, updated_at=T0 + 120_000, accounts=changed_accounts))
    deleted = to_body(deleted_event(user_id))
    updated_id, deleted_id = new_message_id(), new_message_id()
    return [
        WebhookScenario("created", "user.created, 3 accounts", created, new_message_id(), "applied"),
        WebhookScenario("updated_unchanged", "user.updated, no change", unchanged, updated_id, "applied"),
        WebhookScenario("updated_duplicate", "user.updated, duplicate delivery", unchanged, updated_id, "duplicate"),
        WebhookScenario("updated_changed", "user.updated, one account changed", changed, new_message_id(), "applied"),
        WebhookScenario("deleted", "user.deleted", deleted, deleted_id, "deleted"),
        WebhookScenario(
            "deleted_duplicate", "user.deleted, duplicate delivery", deleted, deleted_id, "already_deleted"
        ),
    ]


@dataclass
class Recording:
    counts: RequestCounts
    responses: list[RecordedResponse] = field(default_factory=list)
    # The same calls as botocore returned them (operation, status, parsed): B2 answers `_make_api_call` with these.
    calls: list[dict[str, Any]] = field(default_factory=list)


@contextmanager
def _instrumented_table() -> Iterator[tuple[str, RequestCounter, ResponseRecorder]]:
    """A fresh moto table from the template; the package's client counts requests and records responses."""
    with mock_aws():
        stream_arn = create_connections_table(boto3.client("dynamodb"), TABLE_NAME)
        container.use(Container(Settings.from_environment()))
        client = container.current().dynamodb
        counter, recorder = RequestCounter(), ResponseRecorder()
        counter.attach(client)
        recorder.attach(client)
        yield stream_arn, counter, recorder
    container.use(None)


def record_webhook_scenarios(scenarios: list[WebhookScenario], secret: str) -> dict[str, Recording]:
    """Deliver every scenario through lambda_handler against moto, counting requests and keeping the responses."""
    recordings: dict[str, Recording] = {}
    with _instrumented_table() as (_, counter, recorder):
        parsed = ParsedRecorder()
        parsed.attach(container.current().dynamodb)
        webhook = importlib.import_module(WEBHOOK_MODULE)
        for scenario in scenarios:
            counter.reset()
            recorder.take()
            parsed.take()
            answer = invoke_http(webhook.lambda_handler, scenario.event(secret))
            status, body = answer.status, answer.body
            if status != 200 or body.get("outcome") != scenario.outcome:
                raise RuntimeError(f"{scenario.key}: expected 200 {scenario.outcome}, got {status} {body}")
            recordings[scenario.key] = Recording(counter.summary(), recorder.take(), parsed.take())
    return recordings


# ---- stream cleanup ------------------------------------------------------------------------------------------------


def tombstone_stream_event(user_id: str, stream_arn: str) -> dict[str, Any]:
    """One MODIFY record of a profile that just became a tombstone, as Lambda delivers it from the stream."""
    keys = {"pk": {"S": user_pk(user_id)}, "sk": {"S": PROFILE_SK}}
    record = {
        "eventID": "bench-0001",
        "eventName": "MODIFY",
        "eventVersion": "1.1",
        "dynamodb": {
            "ApproximateCreationDateTime": T0 / 1000,
            "Keys": keys,
            "NewImage": {
                **keys,
                "userId": {"S": user_id},
                "profileStatus": {"S": "deleted"},
                "deletedAt": {"S": "2024-05-28T08:00:00.000Z"},
            },
            "OldImage": {**keys, "userId": {"S": user_id}, "profileStatus": {"S": "active"}, "version": {"N": "1"}},
            "SequenceNumber": "100000000000000000001",
            "SizeBytes": 200,
            "StreamViewType": "NEW_AND_OLD_IMAGES",
        },
    }
    return stream_event([lambda_record(record, stream_arn)])


@dataclass
class CleanupRecording:
    connections: int
    counts: RequestCounts
    event: dict[str, Any]
    responses: list[RecordedResponse]


def _seed_user(table: Any, user_id: str, connections: int) -> None:
    with table.batch_writer() as batch:
        batch.put_item(Item={"pk": user_pk(user_id), "sk": PROFILE_SK, "userId": user_id, "profileStatus": "deleted"})
        for index in range(connections):
            account = f"eac_bench_{index:04d}"
            batch.put_item(
                Item={
                    "pk": user_pk(user_id),
                    "sk": f"{CONNECTION_PREFIX}twitter#{account}",
                    "userId": user_id,
                    "platform": "twitter",
                    "externalAccountId": account,
                    "connectionStatus": "connected",
                    "platformUsername": f"ada_{index}",
                    "errorCount": 0,
                    "metadata": {"provider": "oauth_x", "clerkAccountId": account, "verificationStatus": "verified"},
                }
            )


def record_cleanups(sizes: tuple[int, ...] = CLEANUP_SIZES) -> list[CleanupRecording]:
    """Drive the stream handler with a tombstone for users of k connections; count what the cleanup costs."""
    results: list[CleanupRecording] = []
    with _instrumented_table() as (stream_arn, counter, recorder):
        table = boto3.resource("dynamodb").Table(TABLE_NAME)
        stream = importlib.import_module(STREAM_MODULE)
        for size in sizes:
            user_id = f"user_cleanup_{size}"
            _seed_user(table, user_id, size)
            counter.reset()
            recorder.take()
            event = tombstone_stream_event(user_id, stream_arn)
            response = stream.lambda_handler(event, LambdaContextStub(function_name="bench"))
            # A separate client, so that this check is not counted as part of the cleanup.
            left = len(DynamoDBConnectionStore(TABLE_NAME, boto3.client("dynamodb")).read_user_items(user_id))
            if response.get("batchItemFailures") or left != 1:
                raise RuntimeError(f"cleanup of {size} connections failed: {response}, {left} items left")
            results.append(CleanupRecording(size, counter.summary(), event, recorder.take()))
    return results


# ---- warm CPU ------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CpuResult:
    handler_us: float
    client_us: float
    floor_us: float
    handler_samples_us: list[float]
    floor_samples_us: list[float]

    @property
    def ratio(self) -> float:
        return self.handler_us / self.floor_us


def _per_call_us(action: Callable[[], object], calls: int) -> float:
    started = time.process_time()
    for _ in range(calls):
        action()
    return (time.process_time() - started) / calls * 1e6


def measure_warm_cpu(
    scenario: WebhookScenario, recording: Recording, secret: str, *, rounds: int, calls: int
) -> CpuResult:
    """CPU per event through lambda_handler (DynamoDB replayed) vs standardwebhooks verify + json.loads, interleaved."""
    os.environ["AWS_ENDPOINT_URL_DYNAMODB"] = UNREACHABLE_ENDPOINT
    container.use(None)
    replayer, client_timer = ResponseReplayer(recording.responses), ClientCpuTimer()
    replayer.attach(container.current().dynamodb)
    client_timer.attach(container.current().dynamodb)
    webhook = importlib.import_module(WEBHOOK_MODULE)
    event = scenario.event(secret)
    context = LambdaContextStub(function_name="bench")
    answer = invoke_http(webhook.lambda_handler, event)
    status, body = answer.status, answer.body
    if status != 200 or body.get("outcome") != scenario.outcome:
        raise RuntimeError(f"replayed {scenario.key}: expected 200 {scenario.outcome}, got {status} {body}")

    raw_body = scenario.body.encode()
    headers = event["headers"]
    floor_headers = {f"webhook-{name}": headers[f"svix-{name}"] for name in ("id", "timestamp", "signature")}
    verifier = Webhook(secret)

    def handle() -> object:
        return webhook.lambda_handler(event, context)

    def floor() -> object:
        return verifier.verify(raw_body, floor_headers)  # verifies, then json.loads the body

    floor_calls = calls * 10  # the floor is an order of magnitude cheaper; more calls keep its clock reading coarse
    _per_call_us(handle, max(1, calls // 4))
    _per_call_us(floor, max(1, floor_calls // 4))
    handler_samples, client_samples, floor_samples = [], [], []
    for _ in range(rounds):
        client_timer.seconds = 0.0
        handler_samples.append(_per_call_us(handle, calls))
        client_samples.append(client_timer.seconds / calls * 1e6)
        floor_samples.append(_per_call_us(floor, floor_calls))
    if not replayer.at_start:
        raise RuntimeError(f"{scenario.key}: the handler made a different number of requests than recorded")
    os.environ.pop("AWS_ENDPOINT_URL_DYNAMODB", None)
    container.use(None)
    return CpuResult(
        handler_us=statistics.median(handler_samples),
        client_us=statistics.median(client_samples),
        floor_us=statistics.median(floor_samples),
        handler_samples_us=[round(sample, 2) for sample in handler_samples],
        floor_samples_us=[round(sample, 2) for sample in floor_samples],
    )
