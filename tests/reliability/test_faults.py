"""Faults: throttling, 5xx, timeouts and lost answers injected at every DynamoDB call of an event, then Svix's
redelivery; the retry budget against Svix's 15 s; poison records on the table stream.

Faults are injected below botocore's retry logic (moto's request processing is replaced for the chosen attempts), so
the client's real standard-mode retries run; the back-off sleeps are recorded instead of slept.
"""

from __future__ import annotations

import io
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import boto3
import botocore.endpoint
import pytest
from botocore.awsrequest import AWSResponse
from botocore.compat import HTTPHeaders
from botocore.exceptions import ConnectionClosedError, ReadTimeoutError
from botocore.retries.standard import ExponentialBackoff, RetryContext, RetryEventAdapter, ThrottlingErrorDetector
from moto.core.models import botocore_stubber
from social_connections import container
from social_connections.model import ConnectionKey
from social_connections.providers import Platform
from social_connections.storage import DYNAMODB_CLIENT_CONFIG

from devtools.clerk_payloads import deleted_event, external_account, to_body, user_event
from devtools.testkit.aws import TEST_TABLE_NAME, LambdaContextStub
from devtools.testkit.deliveries import HttpResponse, http_api_event, new_message_id, svix_headers
from devtools.testkit.functions import install_container
from devtools.testkit.table import StreamReader, lambda_record, table_items
from devtools.testkit.template import load_template
from tests.reliability.conftest import create_table
from tests.reliability.support import DEFAULT_EXAMPLES, count, examples, invoke, rows_lost, stream_module, table_state

T0 = 1_716_883_200_000
SVIX_TIMEOUT_SECONDS = 15
DEEP = examples() >= 4 * DEFAULT_EXAMPLES  # `make reliability`: every fault kind on the split path too

# ---- injecting faults under botocore's retries ----------------------------------------------------------------------

THROTTLING_CODES = ("ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded")
SERVER_ERRORS = {"InternalServerError": 500, "ServiceUnavailable": 503}
TRANSPORT_FAULTS = ("read-timeout", "connection-closed")
# The write reached DynamoDB and was applied, but the answer was lost: botocore then retries a write already done.
GHOST_WRITE = "applied-then-timeout"
TRANSACTION_THROTTLED = "TransactionCanceledException/ThrottlingError"
ALL_KINDS = (*THROTTLING_CODES, *SERVER_ERRORS, *TRANSPORT_FAULTS, GHOST_WRITE, TRANSACTION_THROTTLED)
# botocore does not retry a cancelled transaction; the webhook answers 5xx and Svix redelivers.
NOT_RETRIED_BY_BOTOCORE = {TRANSACTION_THROTTLED}
EVERY_ATTEMPT = 1_000


class _RawBody(io.BytesIO):
    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self.getvalue()


MotoAnswer = tuple[int, dict[str, Any], str | bytes]


def error_answer(code: str, status: int, **fields: Any) -> MotoAnswer:
    """A DynamoDB error as the service sends it (JSON 1.0 protocol), in the shape moto's stubber returns."""
    body = {"__type": f"com.amazonaws.dynamodb.v20120810#{code}", "message": "injected fault", **fields}
    headers = {"x-amzn-RequestId": "injected", "Content-Type": "application/x-amz-json-1.0"}
    return status, headers, json.dumps(body)


@dataclass
class Fault:
    kind: str
    call: int | None = None  # the n-th DynamoDB call since arming (0-based); None: every call
    failing_attempts: int = EVERY_ATTEMPT  # attempts of that call that fail; 3 or more fail the call itself
    body_contains: bytes | None = None  # only requests that mention this (one user's calls)
    limit: int | None = None  # injections in all, then the fault heals

    def matches(self, call_index: int, attempt: int, body: bytes) -> bool:
        return (
            attempt <= self.failing_attempts
            and (self.call is None or self.call == call_index)
            and (self.body_contains is None or self.body_contains in body)
            and (self.limit is None or self.limit > 0)
        )


@dataclass
class FaultInjector:
    """Decides, attempt by attempt, which DynamoDB requests of the webhook's client get a fault instead of moto."""

    faults: list[Fault] = field(default_factory=list)
    call_index: int = -1
    attempt: int = 0
    operations: list[str] = field(default_factory=list)
    injected: int = 0
    pending: str | None = None

    def attach(self, client: Any) -> None:
        client.meta.events.register("before-call.dynamodb", self._before_call)
        client.meta.events.register_first("before-send.dynamodb", self._before_send)

    def arm(self, *faults: Fault) -> None:
        self.faults, self.call_index, self.attempt, self.injected = list(faults), -1, 0, 0
        self.operations.clear()

    def _before_call(self, model: Any, **_: Any) -> None:
        self.call_index += 1
        self.attempt = 0
        self.operations.append(model.name)

    def _before_send(self, request: Any, **_: Any) -> None:
        # Runs just before moto's own before-send handler; the answer itself comes from answer() below.
        self.attempt += 1
        body = request.body if isinstance(request.body, bytes) else str(request.body or "").encode()
        fault = next((f for f in self.faults if f.matches(self.call_index, self.attempt, body)), None)
        self.pending = fault.kind if fault else None
        if fault is not None and fault.limit is not None:
            fault.limit -= 1

    def answer(self, moto: Callable[[Any], MotoAnswer | None], request: Any) -> MotoAnswer | None:
        """moto's request processing, unless this attempt was chosen for a fault."""
        kind, self.pending = self.pending, None
        if kind is None:
            return moto(request)
        self.injected += 1
        count("faults.injected")
        if kind == GHOST_WRITE:
            moto(request)  # the request is applied; its answer never arrives
            raise ReadTimeoutError(endpoint_url=request.url)
        if kind == "read-timeout":
            raise ReadTimeoutError(endpoint_url=request.url)
        if kind == "connection-closed":
            raise ConnectionClosedError(endpoint_url=request.url)
        if kind == TRANSACTION_THROTTLED:
            reasons = [{"Code": "None"}, {"Code": "ThrottlingError", "Message": "Throughput exceeds the capacity"}]
            return error_answer("TransactionCanceledException", 400, CancellationReasons=reasons)
        return error_answer(kind, SERVER_ERRORS.get(kind, 400))


class _RecordingClock:
    """The `time` module as botocore's endpoint sees it: sleeps are recorded, not slept."""

    def __init__(self, sleeps: list[float]) -> None:
        self._sleeps = sleeps

    def sleep(self, seconds: float) -> None:
        self._sleeps.append(seconds)

    def __getattr__(self, name: str) -> Any:
        return getattr(time, name)


@dataclass
class FaultLab:
    secret: str
    injector: FaultInjector = field(default_factory=FaultInjector)
    sleeps: list[float] = field(default_factory=list)

    def fresh(self) -> None:
        """An empty table and a new client (a new container: botocore's retry quota starts full)."""
        boto3.client("dynamodb").delete_table(TableName=TEST_TABLE_NAME)
        create_table()
        install_container()
        self.injector = FaultInjector()
        self.injector.attach(container.current().dynamodb)
        self.sleeps.clear()

    def deliver(self, body: str, message_id: str) -> HttpResponse:
        # Svix keeps the message id across attempts and signs each attempt with its own timestamp.
        return invoke(http_api_event(body, svix_headers(self.secret, body, message_id=message_id)))


@pytest.fixture
def lab(table: str, secret: str, monkeypatch: pytest.MonkeyPatch) -> FaultLab:
    lab = FaultLab(secret)
    moto = botocore_stubber.process_request
    monkeypatch.setattr(botocore_stubber, "process_request", lambda request: lab.injector.answer(moto, request))
    monkeypatch.setattr(botocore.endpoint, "time", _RecordingClock(lab.sleeps))
    lab.fresh()
    return lab


# ---- events with several DynamoDB calls -----------------------------------------------------------------------------


def account(number: int, *, version: int = T0, status: str = "verified", username: str | None = None) -> dict:
    return external_account(f"eac_{number:03d}", "oauth_x", updated_at=version, status=status, username=username)


def snapshot(event_type: str, user_id: str, version: int, accounts: list[Any]) -> str:
    return to_body(user_event(event_type, user_id, updated_at=version, accounts=accounts))


def malformed(number: int) -> dict:
    return {**account(number), "updated_at": "not a number"}


@dataclass(frozen=True)
class Scenario:
    name: str
    setup: tuple[str, ...]
    event: str


USER = "user_faults"
THREE = [
    external_account("eac_x", "oauth_x", updated_at=T0, username="ada_x"),
    external_account("eac_ig", "oauth_instagram", updated_at=T0, status="expired"),
    external_account("eac_tt", "oauth_custom_tiktok", updated_at=T0, status="failed"),
]
CREATED = snapshot("user.created", USER, T0, THREE)
SPLIT_ACCOUNTS = 101
SPLIT_CREATED = snapshot("user.created", USER, T0, [account(i) for i in range(SPLIT_ACCOUNTS)])
SCENARIOS = [
    Scenario("created", (), CREATED),
    Scenario(
        "updated",  # a changed row, a vanished one, a re-verified one and a malformed one: one transaction
        (CREATED,),
        snapshot(
            "user.updated",
            USER,
            T0 + 1,
            [
                external_account("eac_x", "oauth_x", updated_at=T0, username="ada_renamed"),
                external_account("eac_tt", "oauth_custom_tiktok", updated_at=T0 + 1),
                {**external_account("eac_ig", "oauth_instagram", updated_at=T0), "updated_at": None},
            ],
        ),
    ),
    Scenario("unchanged", (CREATED,), snapshot("user.updated", USER, T0 + 1, THREE)),
    Scenario("duplicate", (CREATED,), CREATED),
    Scenario("deleted", (CREATED,), to_body(deleted_event(USER))),
    Scenario("split-created", (), SPLIT_CREATED),
    Scenario(
        # 90 changed, 8 vanished, 3 malformed (each a non-idempotent ADD): 101 row changes, two transactions.
        "split-updated",
        (SPLIT_CREATED,),
        snapshot(
            "user.updated",
            USER,
            T0 + 1,
            [account(i, username=f"renamed_{i}") for i in range(90)]
            + [account(i) for i in range(90, SPLIT_ACCOUNTS - 3 - 8)]
            + [malformed(i) for i in range(SPLIT_ACCOUNTS - 3, SPLIT_ACCOUNTS)],
        ),
    ),
]
SPLIT_KINDS = ("ProvisionedThroughputExceededException", "read-timeout", GHOST_WRITE)


def profile_version() -> Decimal | None:
    profile = next((item for item in table_items() if item["sk"] == "PROFILE"), None)
    return profile.get("version") if profile else None


MESSAGE_ID = new_message_id()


def run(lab: FaultLab, scenario: Scenario, *faults: Fault) -> HttpResponse:
    """A fresh table, the setup events, then the event under `faults`; returns the first answer to the event."""
    lab.fresh()
    for body in scenario.setup:
        assert lab.deliver(body, new_message_id()).status == 200
    lab.injector.arm(*faults)
    response = lab.deliver(scenario.event, MESSAGE_ID)
    count("faults.runs")
    return response


def fault_plan(scenario: Scenario, operations: list[str]) -> Iterator[Fault]:
    """Every fault kind at every call, failing the call (all attempts) or only its first attempt. The split path
    costs seconds per run in moto: in CI it gets a throttled call and a lost answer at each call."""
    for call, operation in enumerate(operations):
        if scenario.name.startswith("split") and not DEEP:
            yield Fault("ProvisionedThroughputExceededException", call=call)
            yield Fault(GHOST_WRITE, call=call, failing_attempts=1)
            continue
        for kind in ALL_KINDS:
            if kind == TRANSACTION_THROTTLED and operation != "TransactWriteItems":
                continue
            yield Fault(kind, call=call)
            if kind not in NOT_RETRIED_BY_BOTOCORE:
                yield Fault(kind, call=call, failing_attempts=1)


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[scenario.name for scenario in SCENARIOS])
def test_a_fault_at_any_call_then_redelivery_converges_to_the_undisturbed_state(lab, scenario):
    assert run(lab, scenario).status == 200
    undisturbed, operations = table_state(), list(lab.injector.operations)
    version_before = Decimal(T0) if scenario.setup else None
    for fault in fault_plan(scenario, operations):
        first = run(lab, scenario, fault)
        lab.injector.arm()
        assert lab.injector.injected or first.status, f"{fault} was never injected"
        if fault.failing_attempts == 1 and fault.kind not in NOT_RETRIED_BY_BOTOCORE:
            assert first.status == 200, f"{fault}: botocore's retry should have absorbed it, got {first.status}"
        else:
            # Never a 2xx for an event that was not recorded, and nothing marked applied before all rows are
            # (unless the write itself went through and only its answer was lost).
            assert first.status == 503, f"{fault}: {first.status} {first.body}"
            if fault.kind != GHOST_WRITE:
                assert profile_version() == version_before, f"{fault}: the profile moved although the event failed"
            count("faults.redeliveries")
            assert lab.deliver(scenario.event, MESSAGE_ID).status == 200
        assert rows_lost(undisturbed, table_state()) == 0, f"{fault} on {operations[fault.call or 0]} diverged"
    count("faults.scenarios")


def test_split_plan_keeps_non_idempotent_failures_with_the_version_bump(lab):
    """A redelivery re-plans what is left: a failure count (ADD) committed by an earlier chunk would count twice."""
    scenario = next(s for s in SCENARIOS if s.name == "split-updated")
    assert run(lab, scenario).status == 200
    assert lab.injector.operations == ["Query", "TransactWriteItems", "TransactWriteItems"]
    undisturbed = table_state()
    assert run(lab, scenario, Fault("ProvisionedThroughputExceededException", call=2)).status == 503
    assert sum(1 for item in table_items() if item.get("errorCount")) == 0, "a failure count landed before the end"
    assert lab.deliver(scenario.event, MESSAGE_ID).status == 200
    assert rows_lost(undisturbed, table_state()) == 0


# ---- the retry budget -----------------------------------------------------------------------------------------------


def worst_backoff(attempt: int) -> float:
    """botocore's own back-off after a throttled `attempt`, at the worst jitter draw."""
    backoff = ExponentialBackoff(
        random=lambda: 1.0, service_name="dynamodb", throttling_detector=ThrottlingErrorDetector(RetryEventAdapter())
    )
    throttled = {"Error": {"Code": "ProvisionedThroughputExceededException"}}
    response = AWSResponse("https://dynamodb.invalid", 400, HTTPHeaders(), _RawBody(b""))
    return float(backoff.delay_amount(RetryContext(attempt, parsed_response=throttled, http_response=response)))


def test_retry_budget_answers_svix_within_its_timeout(lab):
    config: Any = DYNAMODB_CLIENT_CONFIG  # botocore's stubs do not declare Config's attributes
    assert config.retries is not None
    assert config.retries["mode"] in ("standard", "adaptive")
    attempts = int(config.retries["total_max_attempts"])
    per_attempt = float(config.connect_timeout) + float(config.read_timeout)
    backoffs = [worst_backoff(attempt) for attempt in range(1, attempts)]
    worst_call = attempts * per_attempt + sum(backoffs)
    assert worst_call <= SVIX_TIMEOUT_SECONDS, f"one DynamoDB call may take {worst_call} s"
    # The function's timeout caps a whole delivery (several calls) below Svix's limit: a 5xx comes back in time.
    function = load_template()["Resources"]["ClerkWebhookFunction"]["Properties"]
    assert worst_call <= function["Timeout"] < SVIX_TIMEOUT_SECONDS
    # And the client really behaves so: a call throttled on every attempt is tried `attempts` times, no more.
    assert run(lab, SCENARIOS[0], Fault("ThrottlingException", call=0)).status == 503
    assert lab.injector.injected == attempts
    assert len(lab.sleeps) == attempts - 1
    assert all(0 <= slept <= bound for slept, bound in zip(lab.sleeps, backoffs, strict=True))
    count("retry_budget.worst_call_ms", int(worst_call * 1000))


# ---- the stream function: faults during cleanup, and poison records ------------------------------------------------


@dataclass
class ShardRun:
    dead_lettered: list[list[str]] = field(default_factory=list)  # sequence numbers of each discarded batch
    invocations: int = 0


def event_source_settings() -> dict[str, Any]:
    events = load_template()["Resources"]["ConnectionStreamFunction"]["Properties"]["Events"]
    return dict(events["TableStream"]["Properties"])


def sequence(record: dict[str, Any]) -> str:
    return str(record["dynamodb"]["SequenceNumber"])


def run_shard(
    records: list[dict[str, Any]],
    handler: Callable[[dict[str, Any]], dict[str, Any]],
    *,
    batch_size: int | None = None,
) -> ShardRun:
    """Lambda's stream event source as template.yaml configures it: a partial batch response moves the checkpoint
    to the first reported failure and the rest is retried, up to MaximumRetryAttempts; then the batch is sent to the
    on-failure destination and the shard moves on."""
    settings = event_source_settings()
    assert settings["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert settings["DestinationConfig"]["OnFailure"]["Type"] == "SQS"
    assert settings["BisectBatchOnFunctionError"] is True  # the handler never raises; kept for a crash
    size, max_retries = batch_size or int(settings["BatchSize"]), int(settings["MaximumRetryAttempts"])
    shard, position = ShardRun(), 0
    while position < len(records):
        batch, retries = records[position : position + size], 0
        while True:
            shard.invocations += 1
            reported = {failure["itemIdentifier"] for failure in handler({"Records": batch})["batchItemFailures"]}
            if not reported:
                position += len(batch)
                break
            first = next(index for index, record in enumerate(batch) if sequence(record) in reported)
            position, batch = position + first, batch[first:]
            retries += 1
            if retries > max_retries:
                shard.dead_lettered.append([sequence(record) for record in batch])
                count("stream.batches_dead_lettered")
                position += len(batch)
                break
            count("stream.retries")
    return shard


def stream_handler(event: dict[str, Any]) -> dict[str, Any]:
    count("stream.invocations")
    return dict(stream_module().lambda_handler(event, LambdaContextStub()))


def user_rows(user_id: str) -> dict[str, dict[str, Any]]:
    return {item["sk"]: item for item in table_items() if item["pk"] == f"USER#{user_id}"}


def stream_reader() -> StreamReader:
    arn = boto3.client("dynamodb").describe_table(TableName=TEST_TABLE_NAME)["Table"]["LatestStreamArn"]
    return StreamReader(boto3.client("dynamodbstreams"), arn)


def test_a_fault_at_any_call_of_a_cleanup_is_retried_by_the_event_source(lab):
    deleted = to_body(deleted_event(USER))
    calls = 1 + len(THREE)  # the cleanup's query, then one conditional delete per connection row
    for call, kind in [(call, kind) for call in range(calls) for kind in ALL_KINDS if kind != TRANSACTION_THROTTLED]:
        lab.fresh()
        assert lab.deliver(CREATED, new_message_id()).status == 200
        assert lab.deliver(deleted, new_message_id()).status == 200
        lab.injector.arm(Fault(kind, call=call))
        shard = run_shard(stream_reader().read(), stream_handler)
        count("faults.runs")
        assert lab.injector.injected
        assert shard.dead_lettered == []
        assert list(user_rows(USER)) == ["PROFILE"], f"{kind} at call {call} left rows behind"


UNREADABLE_RECORD = {
    "eventID": "poison-1",
    "eventName": "MODIFY",
    "eventSource": "aws:dynamodb",
    "dynamodb": {
        "Keys": {"pk": {"S": "USER#user_x"}, "sk": {"S": "PROFILE"}},
        "NewImage": {"sk": {"S": "PROFILE"}, "profileStatus": {"S": "deleted"}, "userId": {"Q": "no such type"}},
        "SequenceNumber": "poison-1",
        "StreamViewType": "NEW_AND_OLD_IMAGES",
    },
}


@pytest.mark.parametrize("batch_size", [None, 2], ids=["template-batch-size", "batches-of-2"])
def test_poison_records_are_dead_lettered_without_blocking_the_shard(lab, batch_size):
    users = ("user_clean", "user_poisoned", "user_flaky", "user_late")
    for user_id in users:
        body = snapshot("user.created", user_id, T0, [account(i) for i in range(3)])
        assert lab.deliver(body, new_message_id()).status == 200
    reader = stream_reader()
    reader.read()  # the creations (the function's filters drop them)
    for user_id in users[:3]:
        assert lab.deliver(to_body(deleted_event(user_id)), new_message_id()).status == 200
    tombstones = reader.read()
    for _ in range(3):  # enough failures to move user_late's X connection to error
        container.current().store.record_publish_failure("user_late", ConnectionKey(Platform.TWITTER, "eac_000"), "503")
    unreadable = lambda_record(UNREADABLE_RECORD, tombstones[0]["eventSourceARN"])
    records = [tombstones[0], unreadable, *tombstones[1:], *reader.read()]
    lab.injector.arm(
        Fault("InternalServerError", body_contains=b"USER#user_poisoned"),  # always fails
        Fault("ServiceUnavailable", body_contains=b"USER#user_flaky", limit=3),  # one whole invocation, then heals
    )
    shard = run_shard(records, stream_handler, batch_size=batch_size)
    poison = {sequence(unreadable), sequence(tombstones[1])}
    count("stream.poison_records", len(poison))
    assert poison <= {number for batch in shard.dead_lettered for number in batch}
    assert list(user_rows("user_clean")) == ["PROFILE"]
    assert list(user_rows("user_flaky")) == ["PROFILE"]
    assert len(user_rows("user_poisoned")) == 4, "the poisoned user's rows wait for an operator's redrive"
    late = user_rows("user_late")["CONNECTION#twitter#eac_000"]
    assert late["connectionStatus"] == "error", "records after the poison ones were blocked"
    batches = -(-len(records) // (batch_size or int(event_source_settings()["BatchSize"])))
    assert shard.invocations <= batches * (int(event_source_settings()["MaximumRetryAttempts"]) + 1)
