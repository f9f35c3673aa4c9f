"""Where status-change events go: the publisher protocol the stream logic uses, and its EventBridge implementation.

Tests use the in-memory publisher of devtools/testkit; the local stack sends to moto's EventBridge.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Final, Protocol

from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from social_connections.status_events import EVENT_DETAIL_TYPE, EVENT_SOURCE, StatusChange

# PutEvents takes at most 10 entries per request.
PUT_EVENTS_LIMIT: Final = 10
# Bounded like the DynamoDB client: a slow bus fails the records (retried by the mapping) within the 60 s timeout.
EVENTS_CLIENT_CONFIG: Final = Config(
    retries={"mode": "standard", "total_max_attempts": 3}, connect_timeout=2, read_timeout=5, tcp_keepalive=True
)


class StatusEventPublisher(Protocol):
    def publish(self, changes: Sequence[StatusChange]) -> dict[int, str]:
        """Send the events; the positions of those the bus did not accept (to be retried with their records), each
        with why: the entry's error code, or the error type of a request that failed as a whole."""
        ...


class PutEventsClient(Protocol):
    """The one EventBridge call used (the project carries no EventBridge type stubs)."""

    def put_events(self, *, Entries: Sequence[Mapping[str, str]]) -> Mapping[str, object]: ...


class EventBridgePublisher:
    def __init__(self, bus_name: str, client: PutEventsClient) -> None:
        self._bus = bus_name
        self._client = client

    def publish(self, changes: Sequence[StatusChange]) -> dict[int, str]:
        failed: dict[int, str] = {}
        for start in range(0, len(changes), PUT_EVENTS_LIMIT):
            chunk = changes[start : start + PUT_EVENTS_LIMIT]
            failed |= {start + index: reason for index, reason in self._put(chunk).items()}
        return failed

    def _put(self, chunk: Sequence[StatusChange]) -> dict[int, str]:
        entries = [
            {
                "Source": EVENT_SOURCE,
                "DetailType": EVENT_DETAIL_TYPE,
                "Detail": change.detail_json(),
                "EventBusName": self._bus,
            }
            for change in chunk
        ]
        try:
            response = self._client.put_events(Entries=entries)
        except ClientError as error:
            # The whole request failed after the SDK's retries: every event of it goes back with its record.
            return dict.fromkeys(range(len(chunk)), str(error.response.get("Error", {}).get("Code", "ClientError")))
        except BotoCoreError as error:
            return dict.fromkeys(range(len(chunk)), type(error).__name__)
        results = response.get("Entries")
        if not isinstance(results, list) or len(results) != len(chunk):
            return dict.fromkeys(range(len(chunk)), "UnexpectedResponse")
        # A partial failure (FailedEntryCount > 0) marks each refused entry with an ErrorCode.
        return {
            index: str(result.get("ErrorCode")) if isinstance(result, dict) else "UnexpectedResponse"
            for index, result in enumerate(results)
            if not isinstance(result, dict) or "ErrorCode" in result
        }
