"""What reconciliation reads and writes besides a user's snapshot: profile versions in bulk, the active users, and
its run record (`pk=SYNC#reconcile`, `sk=RUN`: no stream filter matches it, so the stream function never sees it).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Final, cast

from social_connections.clock import now_iso
from social_connections.model import ProfileStatus, ReconcileState, StoredProfile
from social_connections.storage.attribute_values import plain
from social_connections.storage.items import PROFILE_SK, n, profile_from, profile_key, s

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import AttributeValueTypeDef, KeysAndAttributesTypeDef, ScanInputTypeDef

BATCH_GET_LIMIT: Final = 100
UNPROCESSED_RETRY_LIMIT: Final = 8
RUN_KEY: Final[dict[str, AttributeValueTypeDef]] = {"pk": {"S": "SYNC#reconcile"}, "sk": {"S": "RUN"}}
USER_PREFIX: Final = "USER#"


class ReconcileTable:
    def __init__(self, table_name: str, client: DynamoDBClient) -> None:
        self._table = table_name
        self._client = client

    def read_profiles(self, user_ids: Sequence[str]) -> dict[str, StoredProfile]:
        """The stored profiles of these users (absent ones left out): BatchGetItem, 100 keys a request."""
        found: dict[str, StoredProfile] = {}
        unique = list(dict.fromkeys(user_ids))
        for start in range(0, len(unique), BATCH_GET_LIMIT):
            for item in self._batch_get([profile_key(user_id) for user_id in unique[start : start + BATCH_GET_LIMIT]]):
                user_id = str(item["pk"]).removeprefix(USER_PREFIX)
                found[user_id] = profile_from(item, user_id)
        return found

    def _batch_get(self, keys: list[dict[str, AttributeValueTypeDef]]) -> Iterator[dict[str, object]]:
        pending: Mapping[str, KeysAndAttributesTypeDef] = {
            self._table: {
                "Keys": keys,
                "ConsistentRead": True,
                "ProjectionExpression": "pk, profileStatus, #v",
                "ExpressionAttributeNames": {"#v": "version"},
            }
        }
        for attempt in range(UNPROCESSED_RETRY_LIMIT):
            response = self._client.batch_get_item(RequestItems=pending)
            yield from (plain(item) for item in response.get("Responses", {}).get(self._table, []))
            unprocessed = response.get("UnprocessedKeys") or {}
            if not unprocessed:
                return
            # The response's shape is the request's: the same keys and projection, to ask again.
            pending = cast("Mapping[str, KeysAndAttributesTypeDef]", unprocessed)
            time.sleep(min(0.05 * 2**attempt, 1.0))  # unprocessed keys mean throttling: back off
        raise RuntimeError(f"batch get left unprocessed keys after {UNPROCESSED_RETRY_LIMIT} attempts")

    def active_user_ids(self) -> Iterator[str]:
        """Every user whose profile is active (not a tombstone): one paged Scan, profile items only."""
        request: ScanInputTypeDef = {
            "TableName": self._table,
            "FilterExpression": "sk = :profile AND profileStatus = :active",
            "ProjectionExpression": "pk",
            "ExpressionAttributeValues": {":profile": s(PROFILE_SK), ":active": s(ProfileStatus.ACTIVE.value)},
        }
        while True:
            page = self._client.scan(**request)
            for item in page.get("Items", []):
                yield str(plain(item)["pk"]).removeprefix(USER_PREFIX)
            last_key = page.get("LastEvaluatedKey")
            if not last_key:
                return
            request["ExclusiveStartKey"] = last_key

    def read_state(self) -> ReconcileState:
        item = plain(self._client.get_item(TableName=self._table, Key=RUN_KEY, ConsistentRead=True).get("Item", {}))
        mode = item.get("cursorMode")
        return ReconcileState(
            cursor_mode=mode if isinstance(mode, str) else None,
            cursor_offset=_int(item.get("cursorOffset")) or 0,
            cursor_started_at=_int(item.get("cursorStartedAt")),
            last_finished_started_at=_int(item.get("lastFinishedStartedAt")),
        )

    def save_cursor(self, mode: str, offset: int, started_at: int) -> None:
        self._client.update_item(
            TableName=self._table,
            Key=RUN_KEY,
            UpdateExpression="SET cursorMode = :mode, cursorOffset = :offset, cursorStartedAt = :started, "
            "updatedAt = :now",
            ExpressionAttributeValues={
                ":mode": s(mode),
                ":offset": n(offset),
                ":started": n(started_at),
                ":now": s(now_iso()),
            },
        )

    def finish_run(self, mode: str, started_at: int) -> None:
        """Record a finished run (what `recent` starts from) and drop the cursor."""
        self._client.update_item(
            TableName=self._table,
            Key=RUN_KEY,
            UpdateExpression="SET lastFinishedMode = :mode, lastFinishedStartedAt = :started, lastFinishedAt = :now, "
            "updatedAt = :now REMOVE cursorMode, cursorOffset, cursorStartedAt",
            ExpressionAttributeValues={":mode": s(mode), ":started": n(started_at), ":now": s(now_iso())},
        )


def _int(raw: object) -> int | None:
    return int(raw) if isinstance(raw, (int, Decimal)) and not isinstance(raw, bool) else None


class RequestTally:
    """Counts a client's HTTP attempts to DynamoDB (retries included) from every worker thread, for a summary."""

    def __init__(self, client: DynamoDBClient) -> None:
        self.count = 0
        self._lock = threading.Lock()
        client.meta.events.register("request-created.dynamodb", self._on_attempt)

    def _on_attempt(self, **_: object) -> None:
        with self._lock:
            self.count += 1

    def __call__(self) -> int:
        return self.count
