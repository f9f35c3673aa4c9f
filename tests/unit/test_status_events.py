"""Status-change events: derivation from images, the publish step, and the EventBridge publisher's partial failures."""

from __future__ import annotations

import json

import boto3
import pytest
from botocore.stub import Stubber
from social_connections.apply_stream_change import apply_stream_change, publish_status_changes
from social_connections.event_bus import EventBridgePublisher
from social_connections.model import ConnectionHealth, ConnectionKey, ConnectionStatus
from social_connections.providers import Platform
from social_connections.status_events import EVENT_DETAIL_TYPE, EVENT_SOURCE, StatusChange, status_change

from devtools.testkit.memory_events import MemoryEventPublisher
from devtools.testkit.memory_store import MemoryConnectionStore

X = ConnectionKey(Platform.TWITTER, "eac_x")
STATUSES = list(ConnectionStatus)


def health(status: ConnectionStatus, errors: int = 0) -> ConnectionHealth:
    return ConnectionHealth("user_1", X, status, errors, "verified", updated_at="2026-11-26T06:26:02.081Z", version=7)


def image(status: str, errors: int = 0) -> dict[str, object]:
    return {
        "pk": "USER#user_1",
        "sk": "CONNECTION#twitter#eac_x",
        "userId": "user_1",
        "platform": "twitter",
        "externalAccountId": "eac_x",
        "connectionStatus": status,
        "errorCount": errors,
        "updatedAt": "2026-11-26T06:26:02.081Z",
        "version": 7,
        "metadata": {"verificationStatus": "verified", "email": "ada@example.com", "firstName": "Ada"},
    }


@pytest.mark.parametrize("old", STATUSES)
@pytest.mark.parametrize("new", STATUSES)
def test_one_event_exactly_when_the_status_differs(old, new):
    change = status_change(health(old), health(new))
    if old is new:
        assert change is None
    else:
        assert change is not None
        assert (change.from_status, change.to_status) == (old, new)


def test_a_new_row_is_a_change_from_nothing_and_a_removed_row_is_none():
    change = status_change(None, health(ConnectionStatus.EXPIRED))
    assert change is not None and change.detail()["from"] is None and change.detail()["to"] == "expired"
    assert status_change(health(ConnectionStatus.CONNECTED), None) is None


def test_the_logic_names_the_change_and_never_the_personal_data():
    store = MemoryConnectionStore()
    change = apply_stream_change(image("expired"), store, 3, old_image=image("connected")).status_change
    assert change is not None
    assert change.detail() == {
        "userId": "user_1",
        "platform": "twitter",
        "externalAccountId": "eac_x",
        "from": "connected",
        "to": "expired",
        "at": "2026-11-26T06:26:02.081Z",
        "errorCount": 0,
        "version": 7,
    }
    assert "ada@example.com" not in change.detail_json() and "Ada" not in change.detail_json()
    assert apply_stream_change(image("error", 5), store, 3, old_image=image("error", 4)).status_change is None


def test_publish_returns_the_records_whose_event_was_refused():
    changes = [status_change(None, health(ConnectionStatus.CONNECTED)) for _ in range(3)]
    pending = [(f"seq{index}", change) for index, change in enumerate(changes) if change is not None]
    seen: list[StatusChange] = []

    def refuse_the_first(change: StatusChange) -> bool:
        seen.append(change)
        return len(seen) == 1

    bus = MemoryEventPublisher(refuse=refuse_the_first)
    assert publish_status_changes(pending, bus) == {"seq0": "InternalFailure"}
    assert len(bus.published) == 2
    assert publish_status_changes([], bus) == {} and bus.calls == 1


def _events_client():
    return boto3.client("events", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")


def test_eventbridge_publisher_sends_batches_of_ten_and_maps_failed_entries_back():
    client = _events_client()
    changes = [
        StatusChange("user_1", ConnectionKey(Platform.TIKTOK, f"eac_{i}"), None, ConnectionStatus.ERROR, None, 0, 1)
        for i in range(12)
    ]
    with Stubber(client) as stubber:
        first = [{"EventId": str(i)} for i in range(10)]
        first[3] = {"ErrorCode": "InternalFailure", "ErrorMessage": "try again"}
        stubber.add_response("put_events", {"FailedEntryCount": 1, "Entries": first})
        stubber.add_response("put_events", {"FailedEntryCount": 1, "Entries": [{"EventId": "a"}, {"ErrorCode": "x"}]})
        refused = EventBridgePublisher("bus", client).publish(changes)
        stubber.assert_no_pending_responses()
    assert refused == {3: "InternalFailure", 11: "x"}


def test_eventbridge_entries_are_the_documented_event(monkeypatch):
    client = _events_client()
    change = StatusChange("user_1", X, ConnectionStatus.CONNECTED, ConnectionStatus.ERROR, "t", 3, 9)
    with Stubber(client) as stubber:
        expected = {
            "Entries": [
                {
                    "Source": EVENT_SOURCE,
                    "DetailType": EVENT_DETAIL_TYPE,
                    "Detail": change.detail_json(),
                    "EventBusName": "b",
                }
            ]
        }
        stubber.add_response("put_events", {"FailedEntryCount": 0, "Entries": [{"EventId": "1"}]}, expected)
        assert EventBridgePublisher("b", client).publish([change]) == {}
    assert json.loads(change.detail_json())["to"] == "error"


def test_a_failed_put_events_call_refuses_its_whole_chunk():
    client = _events_client()
    change = StatusChange("user_1", X, None, ConnectionStatus.CONNECTED, None, 0, None)
    with Stubber(client) as stubber:
        stubber.add_client_error("put_events", "ThrottlingException", http_status_code=400)
        refused = EventBridgePublisher("b", client).publish([change, change])
    assert refused == {0: "ThrottlingException", 1: "ThrottlingException"}
