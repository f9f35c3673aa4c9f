"""Connection Status Changed events: the real stream handler on the records moto's table emits, to an in-memory bus."""

from __future__ import annotations

from typing import Any

import pytest
from social_connections import container
from social_connections.model import ConnectionKey
from social_connections.providers import Platform

from devtools.clerk_payloads import deleted_event, external_account, user_event
from devtools.testkit.aws import LambdaContextStub
from devtools.testkit.logs import emf_blobs, log_lines
from devtools.testkit.memory_events import MemoryEventPublisher
from devtools.testkit.table import stream_event

T0 = 1_716_883_200_000
USER = "user_events"
X_KEY = ConnectionKey(Platform.TWITTER, "eac_x")
PII = ("ada@example.com", "Ada", "Lovelace", "https://img.clerk.com")


@pytest.fixture
def bus(table: str) -> MemoryEventPublisher:
    publisher = container.current().publisher
    assert isinstance(publisher, MemoryEventPublisher)
    return publisher


def snapshot(event_type: str, updated_at: int, status: str = "verified", **extra: Any) -> dict[str, Any]:
    account = external_account("eac_x", "oauth_x", updated_at=updated_at, status=status, **extra)
    return user_event(event_type, USER, updated_at=updated_at, accounts=[account])


def changes(bus: MemoryEventPublisher) -> list[tuple[str | None, str]]:
    return [(change.from_status, change.to_status) for change in bus.published]


def test_each_transition_emits_exactly_one_event_with_its_from_and_to(deliver, run_stream, bus):
    deliver(snapshot("user.created", T0))
    run_stream()
    assert changes(bus) == [(None, "connected")]
    deliver(snapshot("user.updated", T0 + 1, "expired"))
    run_stream()
    deliver(snapshot("user.updated", T0 + 2, "verified"))
    run_stream()
    store = container.current().store
    for _ in range(3):
        store.record_publish_failure(USER, X_KEY, "401 from X")
    run_stream()
    store.record_publish_success(USER, X_KEY)
    run_stream()
    deliver(user_event("user.updated", USER, updated_at=T0 + 3, accounts=[]))
    run_stream()
    assert changes(bus) == [
        (None, "connected"),
        ("connected", "expired"),
        ("expired", "connected"),
        ("connected", "error"),
        ("error", "connected"),
        ("connected", "disconnected"),
    ]
    error_event = bus.published[3].detail()
    assert error_event["userId"] == USER and error_event["platform"] == "twitter"
    assert error_event["externalAccountId"] == "eac_x" and error_event["errorCount"] == 3
    assert error_event["version"] == T0 + 2 and isinstance(error_event["at"], str)
    assert set(error_event) == {"userId", "platform", "externalAccountId", "from", "to", "at", "errorCount", "version"}


def test_writes_that_leave_the_status_alone_emit_nothing(deliver, run_stream, bus):
    deliver(snapshot("user.created", T0))
    run_stream()
    bus.published.clear()
    deliver(snapshot("user.updated", T0 + 1, username="renamed"))  # metadata only
    store = container.current().store
    store.record_publish_failure(USER, X_KEY, "one failure, below the threshold")
    store.record_publish_success(USER, X_KEY)
    deliver(deleted_event(USER))  # the cleanup's deletes are REMOVE records: no status, no event
    run_stream()
    assert bus.published == []


def test_events_carry_no_personal_data(deliver, run_stream, bus):
    deliver(snapshot("user.created", T0, email="ada@example.com"))
    run_stream()
    (change,) = bus.published
    text = change.detail_json()
    assert not any(value in text for value in PII)


def test_a_refused_event_fails_only_its_record_and_the_retry_publishes_it(deliver, stream, stream_app, bus):
    for index in range(3):
        account = external_account(f"eac_{index}", "oauth_x", updated_at=T0)
        deliver(user_event("user.created", f"user_{index}", updated_at=T0, accounts=[account]))
    keys = ("pk", "sk")
    inserts = {
        tuple(r["dynamodb"]["Keys"][k]["S"] for k in keys): r for r in stream.read() if r["eventName"] == "INSERT"
    }
    records = [r for r in inserts.values() if r["dynamodb"]["Keys"]["sk"]["S"].startswith("CONNECTION#")]
    assert len(records) == 3
    bus.refuse = lambda change: change.user_id == "user_1"  # PutEvents answers this entry with an ErrorCode
    response = stream_app.lambda_handler(stream_event(records), LambdaContextStub())
    assert response == {"batchItemFailures": [{"itemIdentifier": records[1]["dynamodb"]["SequenceNumber"]}]}
    assert [change.user_id for change in bus.published] == ["user_0", "user_2"]
    bus.refuse = lambda _change: False
    # Lambda retries from the failed record on: its event goes out now (and user_2's again: at-least-once).
    retry = stream_app.lambda_handler(stream_event(records[1:]), LambdaContextStub())
    assert retry == {"batchItemFailures": []}
    assert [change.user_id for change in bus.published] == ["user_0", "user_2", "user_1", "user_2"]


def test_a_replayed_record_sends_its_event_again_with_the_same_version(deliver, stream, stream_app, bus):
    deliver(snapshot("user.created", T0))
    batch = stream_event(stream.read())
    stream_app.lambda_handler(batch, LambdaContextStub())
    stream_app.lambda_handler(batch, LambdaContextStub())
    first, again = bus.published
    assert first.detail() == again.detail()  # consumers de-duplicate on the detail


def test_transitions_and_refusals_are_counted_in_the_metrics_the_dashboard_shows(
    deliver, stream, stream_app, bus, capsys
):
    deliver(snapshot("user.created", T0))
    deliver(
        user_event(
            "user.created", "user_other", updated_at=T0, accounts=[external_account("eac_o", "oauth_x", updated_at=T0)]
        )
    )
    bus.refuse = lambda change: change.user_id == "user_other"
    capsys.readouterr()
    stream_app.lambda_handler(stream_event(stream.read()), LambdaContextStub())
    out = capsys.readouterr().out
    blobs = emf_blobs(out)
    assert len(blobs) == 1  # one EMF blob per invocation
    emitted = {name: value for name, value in blobs[0].items() if isinstance(value, list)}
    assert emitted["StatusChangedToConnected"] == [1.0]  # the published one; the refused one counts when it goes out
    assert emitted["StatusEventsPublished"] == [1.0]
    assert emitted["StatusEventsFailed"] == [1.0]
    assert emitted["StreamRecordsFailed"] == [1.0]
    (refused,) = [line for line in log_lines(out) if line["level"] == "WARNING"]
    assert refused["message"] == "status-change events refused; their records will be retried"
    assert (refused["count"], refused["reasons"]) == (1, ["InternalFailure"])
