"""A batch of stream records as Lambda hands it over, on the in-memory store: failures reported by sequence number,
the other records handled, and the invocation's logs and metrics (read from stdout, as CloudWatch receives them)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

import pytest
from boto3.dynamodb.types import TypeSerializer
from social_connections.apply_stream_change import apply_stream_batch
from social_connections.model import (
    AccountDetails,
    ConnectionKey,
    ConnectionStatus,
    ConnectionUpsert,
    DesiredConnection,
    SyncPlan,
)
from social_connections.providers import Platform
from social_connections.row_copy import details_digest
from social_connections.settings import Settings
from social_connections.telemetry import Telemetry

from devtools.testkit.logs import log_lines, metric_totals
from devtools.testkit.memory_events import MemoryEventPublisher
from devtools.testkit.memory_store import MemoryConnectionStore

T0 = 1_716_883_200_000
USER = "user_stream_batch"
X = ConnectionKey(Platform.TWITTER, "eac_x")
THRESHOLD = 3
SETTINGS = Settings(table_name="unused", error_threshold=THRESHOLD, event_bus_name="bus")
SERIALIZER = TypeSerializer()
DETAILS = AccountDetails(
    platform_user_id="x_1",
    platform_username="ada_x",
    account_version=T0,
    email=None,
    first_name=None,
    last_name=None,
    image_url=None,
    provider="oauth_x",
    clerk_account_id="eac_x",
    verification_status="verified",
    approved_scopes=(),
)


class Dependencies(NamedTuple):
    store: MemoryConnectionStore
    publisher: MemoryEventPublisher
    settings: Settings


@pytest.fixture
def store() -> MemoryConnectionStore:
    store = MemoryConnectionStore()
    desired = DesiredConnection(X, ConnectionStatus.CONNECTED, DETAILS, details_digest(DETAILS))
    plan = SyncPlan(upserts=[ConnectionUpsert(desired, ConnectionStatus.CONNECTED, reset_errors=True, is_new=True)])
    store.write_snapshot(USER, plan, version=T0, expected=None, synced_at="2024-05-28T08:00:00.000Z")
    return store


def image(user_id: str, status: str, errors: int) -> dict[str, object]:
    """A connection row's image in plain values."""
    return {
        "pk": f"USER#{user_id}",
        "sk": "CONNECTION#twitter#eac_x",
        "userId": user_id,
        "platform": "twitter",
        "externalAccountId": "eac_x",
        "connectionStatus": status,
        "errorCount": errors,
        "metadata": {"verificationStatus": "verified"},
    }


def typed(values: Mapping[str, object]) -> dict[str, Any]:
    """DynamoDB's typed JSON, as the stream carries images."""
    return {name: SERIALIZER.serialize(value) for name, value in values.items()}


def record(sequence: str, new_image: Mapping[str, object] | None, event_name: str = "MODIFY") -> Any:
    body: dict[str, Any] = {"SequenceNumber": sequence}
    if new_image is not None:
        body["NewImage"] = typed(new_image)
    return {"eventName": event_name, "eventSource": "aws:dynamodb", "dynamodb": body}


def run(batch: list[Any], dependencies: Dependencies) -> list[str]:
    telemetry = Telemetry({})
    telemetry.start(None)
    failed = apply_stream_batch(batch, dependencies, telemetry)
    telemetry.flush()
    return failed


def test_each_failed_record_is_reported_by_sequence_number_and_the_others_are_handled(store, capsys):
    store.mark_deleted(USER, "2024-05-28T09:00:00.000Z")
    tombstone = {"pk": f"USER#{USER}", "sk": "PROFILE", "userId": USER, "profileStatus": "deleted"}
    unreadable = record("2", None)
    unreadable["dynamodb"]["NewImage"] = {"sk": {"S": "PROFILE"}, "userId": {"Q": "no such type"}}
    bus = MemoryEventPublisher(refuse=lambda change: change.user_id == "user_refused")
    batch = [
        record("1", tombstone),
        unreadable,
        record("3", tombstone, event_name="REMOVE"),
        {"eventName": "MODIFY", "dynamodb": {}},  # no images: nothing to do
        record("4", image("user_refused", "connected", 0), event_name="INSERT"),  # none -> connected, refused
        record("5", None),
    ]
    assert run(batch, Dependencies(store, bus, SETTINGS)) == ["2", "4"]
    assert USER not in store.rows and bus.published == []
    out = capsys.readouterr().out
    assert metric_totals(out) == {
        "ConnectionsRemoved": 1.0,
        "StatusEventsFailed": 1.0,
        "StatusEventsPublished": 0.0,
        "StreamRecordsFailed": 2.0,
    }
    warnings = [line for line in log_lines(out) if line["level"] == "WARNING"]
    assert [line["message"] for line in warnings] == [
        "stream record failed; it will be retried",
        "status-change events refused; their records will be retried",
    ]
    assert warnings[0]["error_type"] == "TypeError" and "no such type" not in out  # the type, never the message
    assert warnings[1]["reasons"] == ["InternalFailure"]


def test_a_transition_is_written_counted_and_logged_and_its_status_change_published(store, capsys):
    for _ in range(THRESHOLD):
        store.record_publish_failure(USER, X, "403")
    bus = MemoryEventPublisher()
    moved = record("7", image(USER, "connected", THRESHOLD))
    moved["dynamodb"]["OldImage"] = typed(image(USER, "connected", THRESHOLD - 1))
    own_write = record("8", image(USER, "error", THRESHOLD))
    own_write["dynamodb"]["OldImage"] = typed(image(USER, "connected", THRESHOLD))
    assert run([moved, own_write], Dependencies(store, bus, SETTINGS)) == []
    assert store.rows[USER][X].status is ConnectionStatus.ERROR
    assert [(change.from_status, change.to_status) for change in bus.published] == [("connected", "error")]
    out = capsys.readouterr().out
    assert metric_totals(out) == {"ConnectionsErrored": 1.0, "StatusChangedToError": 1.0, "StatusEventsPublished": 1.0}
    (line,) = log_lines(out)
    assert line["message"] == "connection status set by the stream function"
    assert (line["user_id"], line["platform"], line["to"]) == (USER, "twitter", "error")
