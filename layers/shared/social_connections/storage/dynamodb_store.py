"""The connections table as a ConnectionStore: reads, conditional state changes, publish health and cleanup."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Final

import boto3
from botocore.config import Config

from social_connections.clock import now_iso
from social_connections.model import (
    ConnectionKey,
    ConnectionStatus,
    ProfileStatus,
    ProfileWrite,
    ReconcileState,
    RowState,
    StoredProfile,
    StoredUser,
    SyncPlan,
)
from social_connections.storage.attribute_values import plain
from social_connections.storage.items import (
    ATTENTION_ATTRIBUTE,
    CONNECTION_PREFIX,
    PROFILE_SK,
    applied,
    attention_value,
    connection_from,
    connection_item_key,
    n,
    profile_from,
    s,
    user_pk,
)
from social_connections.storage.reconcile_table import ReconcileTable
from social_connections.storage.snapshot_writer import SnapshotWriter, UpdateParts, failure_update
from social_connections.storage.unchanged_snapshot import write_if_unchanged

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import AttributeValueTypeDef, QueryInputTypeDef

# Svix gives up on a delivery after 15 s: 3 attempts of at most 1 s connect + 2 s read, plus standard-mode backoff,
# keep one call within about 12 s (tests/reliability computes it), and the webhook's timeout (12 s) bounds the rest.
DYNAMODB_CLIENT_CONFIG: Final = Config(
    retries={"mode": "standard", "total_max_attempts": 3},
    connect_timeout=1,
    read_timeout=2,
    tcp_keepalive=True,
)


class DynamoDBConnectionStore:
    """Reads and writes users' partitions of the connections table; every expression of the table lives in storage."""

    def __init__(self, table_name: str, client: DynamoDBClient) -> None:
        self._table = table_name
        self._client = client
        self._snapshots = SnapshotWriter(table_name, client)
        self._reconcile = ReconcileTable(table_name, client)

    @classmethod
    def for_table(cls, table_name: str) -> DynamoDBConnectionStore:
        """A store on a client with the bounded timeouts and retries the functions use (region etc. from the SDK)."""
        return cls(table_name, boto3.client("dynamodb", config=DYNAMODB_CLIENT_CONFIG))

    # ---- reads -------------------------------------------------------------------------------------------------

    def read_user(self, user_id: str) -> StoredUser:
        """The profile and every connection of a user, in one strongly consistent query (paged if huge)."""
        items = self.read_user_items(user_id)
        profile = next((profile_from(item, user_id) for item in items if item.get("sk") == PROFILE_SK), None)
        rows = (connection_from(item) for item in items if str(item.get("sk", "")).startswith(CONNECTION_PREFIX))
        return StoredUser(profile=profile, connections={row.key: row for row in rows if row is not None})

    def read_user_items(self, user_id: str) -> list[dict[str, object]]:
        """Every stored item of a user (profile and rows, all attributes) as plain values, for inspection tools."""
        return [plain(item) for item in self._query_partition(user_id)]

    def read_all_items(self, limit: int) -> list[dict[str, object]]:
        """Up to `limit` items of the whole table as plain values: for looking at a small local table, never in a
        request path (a Scan reads every partition)."""
        items: list[dict[str, object]] = []
        for page in self._client.get_paginator("scan").paginate(TableName=self._table, ConsistentRead=True):
            items.extend(plain(item) for item in page.get("Items", []))
            if len(items) >= limit:
                return items[:limit]
        return items

    def _query_partition(
        self, user_id: str, *, keys_only: bool = False, connections_only: bool = False
    ) -> Iterator[Mapping[str, AttributeValueTypeDef]]:
        values: dict[str, AttributeValueTypeDef] = {":pk": s(user_pk(user_id))}
        if connections_only:
            values[":prefix"] = s(CONNECTION_PREFIX)
        request: QueryInputTypeDef = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :prefix)" if connections_only else "pk = :pk",
            "ExpressionAttributeValues": values,
            "ConsistentRead": True,
        }
        if keys_only:
            request["ProjectionExpression"] = "pk, sk"
        while True:
            page = self._client.query(**request)
            yield from page.get("Items", [])
            last_key = page.get("LastEvaluatedKey")
            if not last_key:
                return
            request["ExclusiveStartKey"] = last_key

    # ---- the webhook's writes ------------------------------------------------------------------------------------

    def write_snapshot(
        self,
        user_id: str,
        plan: SyncPlan,
        *,
        version: int,
        expected: StoredProfile | None,
        synced_at: str,
        digest: str | None = None,
        rows: Mapping[ConnectionKey, RowState] | None = None,
    ) -> None:
        self._snapshots.write(
            user_id, plan, version=version, expected=expected, synced_at=synced_at, digest=digest, rows=rows
        )

    def write_if_unchanged(self, user_id: str, *, version: int, digest: str) -> ProfileWrite:
        return write_if_unchanged(self._client, self._table, user_id, version=version, digest=digest)

    def mark_deleted(self, user_id: str, deleted_at: str) -> bool:
        """Turn the profile into a tombstone (no PII). False when it already was one: a duplicate delete."""
        return applied(
            lambda: self._client.put_item(
                TableName=self._table,
                Item={
                    "pk": s(user_pk(user_id)),
                    "sk": s(PROFILE_SK),
                    "userId": s(user_id),
                    "profileStatus": s(ProfileStatus.DELETED.value),
                    "deletedAt": s(deleted_at),
                },
                ConditionExpression="attribute_not_exists(pk) OR profileStatus <> :deleted",
                ExpressionAttributeValues={":deleted": s(ProfileStatus.DELETED.value)},
            )
        )

    # ---- publish health: the public API other services use ----------------------------------------------------

    def record_publish_failure(self, user_id: str, key: ConnectionKey, error: str) -> bool:
        """Count one failure on a connection (ADD errorCount 1, set lastError, lastErrorAt). False if no such row."""
        return self._conditional_update(user_id, key, failure_update(error, now_iso()))

    def record_publish_success(self, user_id: str, key: ConnectionKey) -> bool:
        """Reset a connection's error count to 0. False if there is no such row or nothing to reset."""
        return self._conditional_update(
            user_id,
            key,
            {
                "UpdateExpression": "SET errorCount = :zero",
                "ConditionExpression": "attribute_exists(pk) AND errorCount <> :zero",
                "ExpressionAttributeValues": {":zero": n(0)},
            },
        )

    # ---- the stream function's writes ---------------------------------------------------------------------------

    def mark_error(self, user_id: str, key: ConnectionKey, threshold: int) -> bool:
        """connected -> error, only while the row still has at least `threshold` recorded failures."""
        return self._conditional_update(
            user_id,
            key,
            {
                "UpdateExpression": f"SET connectionStatus = :error, updatedAt = :now, {ATTENTION_ATTRIBUTE} = :attn",
                "ConditionExpression": "connectionStatus = :connected AND errorCount >= :threshold",
                "ExpressionAttributeValues": {
                    ":error": s(ConnectionStatus.ERROR.value),
                    ":attn": s(str(attention_value(ConnectionStatus.ERROR, key.platform))),
                    ":connected": s(ConnectionStatus.CONNECTED.value),
                    ":threshold": n(threshold),
                    ":now": s(now_iso()),
                },
            },
        )

    def mark_recovered(self, user_id: str, key: ConnectionKey) -> bool:
        """error -> connected, only while the error count is back to 0 and Clerk still reports the account verified."""
        return self._conditional_update(
            user_id,
            key,
            {
                "UpdateExpression": f"SET connectionStatus = :connected, updatedAt = :now REMOVE {ATTENTION_ATTRIBUTE}",
                "ConditionExpression": "connectionStatus = :error AND errorCount = :zero "
                "AND metadata.verificationStatus = :verified",
                "ExpressionAttributeValues": {
                    ":error": s(ConnectionStatus.ERROR.value),
                    ":connected": s(ConnectionStatus.CONNECTED.value),
                    ":zero": n(0),
                    ":verified": s("verified"),
                    ":now": s(now_iso()),
                },
            },
        )

    def delete_connections(self, user_id: str) -> int:
        """Delete every connection row of a user: one key-only query, then one conditional delete per row.

        DeleteItem rather than BatchWriteItem: the stream role then holds no action that can put whole rows, and a
        user has a handful of rows: k deletes use the write units k batch items would (docs/architecture.md).
        """
        keys = list(self._query_partition(user_id, keys_only=True, connections_only=True))
        return sum(self._delete_connection_row(key) for key in keys)

    def _delete_connection_row(self, key: Mapping[str, AttributeValueTypeDef]) -> bool:
        # Only a connection row that still exists: a row a concurrent cleanup removed is not counted twice.
        return applied(
            lambda: self._client.delete_item(
                TableName=self._table,
                Key={"pk": key["pk"], "sk": key["sk"]},
                ConditionExpression="attribute_exists(pk) AND begins_with(sk, :connection)",
                ExpressionAttributeValues={":connection": s(CONNECTION_PREFIX)},
            )
        )

    # ---- reconciliation: bulk reads and its run record (storage/reconcile_table.py) -------------------------------

    def read_profiles(self, user_ids: Sequence[str]) -> dict[str, StoredProfile]:
        return self._reconcile.read_profiles(user_ids)

    def active_user_ids(self) -> Iterator[str]:
        return self._reconcile.active_user_ids()

    def read_reconcile_state(self) -> ReconcileState:
        return self._reconcile.read_state()

    def save_reconcile_cursor(self, mode: str, offset: int, started_at: int) -> None:
        self._reconcile.save_cursor(mode, offset, started_at)

    def finish_reconcile_run(self, mode: str, started_at: int) -> None:
        self._reconcile.finish_run(mode, started_at)

    def _conditional_update(self, user_id: str, key: ConnectionKey, update: UpdateParts) -> bool:
        return applied(
            lambda: self._client.update_item(TableName=self._table, Key=connection_item_key(user_id, key), **update)
        )
