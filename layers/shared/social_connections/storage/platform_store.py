"""The platform callbacks' reads and writes: rows by platform account (PlatformUserIndex), personal data erased,
tokens revoked by the platform, and the data-deletion request records Meta's status URL shows."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from social_connections.model import (
    ConnectionKey,
    ConnectionStatus,
    DeletionRequest,
    DeletionStatus,
    PlatformAccountRow,
)
from social_connections.providers import Platform
from social_connections.storage.attribute_values import plain
from social_connections.storage.items import (
    CONNECTION_PREFIX,
    PERSONAL_DATA_PATHS,
    PLATFORM_USER_ATTRIBUTE,
    PLATFORM_USER_INDEX,
    applied,
    connection_item_key,
    deletion_request_key,
    n,
    platform_user,
    s,
    set_status,
)
from social_connections.storage.row_state import DETAILS_DIGEST_ATTRIBUTE

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import AttributeValueTypeDef, QueryInputTypeDef


class DynamoDBPlatformStore:
    def __init__(self, table_name: str, client: DynamoDBClient) -> None:
        self._table = table_name
        self._client = client

    def find_platform_account(self, platform: Platform, platform_user_id: str) -> list[PlatformAccountRow]:
        """The rows whose index attribute names that account (the index is eventually consistent: a second or so)."""
        request: QueryInputTypeDef = {
            "TableName": self._table,
            "IndexName": PLATFORM_USER_INDEX,
            "KeyConditionExpression": f"{PLATFORM_USER_ATTRIBUTE} = :account",
            "ExpressionAttributeValues": {":account": s(platform_user(platform, platform_user_id))},
        }
        found: list[PlatformAccountRow] = []
        while True:
            page = self._client.query(**request)
            found.extend(row for row in map(_row_from_keys, page.get("Items", [])) if row is not None)
            last_key = page.get("LastEvaluatedKey")
            if not last_key:
                return found
            request["ExclusiveStartKey"] = last_key

    def erase_personal_data(self, user_id: str, key: ConnectionKey) -> bool:
        return applied(
            lambda: self._client.update_item(
                TableName=self._table,
                Key=connection_item_key(user_id, key),
                # The row's details no longer match its digest: a plan from the profile's copy must read it again.
                UpdateExpression="REMOVE " + ", ".join((DETAILS_DIGEST_ATTRIBUTE, *PERSONAL_DATA_PATHS)),
                ConditionExpression="attribute_exists(pk) AND attribute_exists(metadata)",
            )
        )

    def mark_revoked(self, user_id: str, key: ConnectionKey, *, revoked_at_ms: int, reason: str, at: str) -> bool:
        # A revocation older than the account's last verification in Clerk (a re-link) changes nothing: replays and
        # late retries converge. A disconnected or already expired row stays as it is.
        values: dict[str, AttributeValueTypeDef] = {
            ":connected": s(ConnectionStatus.CONNECTED.value),
            ":error": s(ConnectionStatus.ERROR.value),
            ":revoked_at": n(revoked_at_ms),
            ":reason": s(reason),
            ":at": s(at),
        }
        assignments = ["lastError = :reason", "lastErrorAt = :at", "updatedAt = :at"]
        # The AttentionIndex key is set in the same write (expired is in the index, so nothing is removed).
        set_status(ConnectionStatus.EXPIRED, key.platform, assignments, values)
        return applied(
            lambda: self._client.update_item(
                TableName=self._table,
                Key=connection_item_key(user_id, key),
                UpdateExpression="SET " + ", ".join(assignments),
                ConditionExpression="connectionStatus IN (:connected, :error) AND accountVersion <= :revoked_at",
                ExpressionAttributeValues=values,
            )
        )

    def open_deletion_request(self, code: str, *, requested_at: str | None, received_at: str) -> None:
        values: dict[str, AttributeValueTypeDef] = {
            ":code": s(code),
            ":status": s(DeletionStatus.IN_PROGRESS.value),
            ":received": s(received_at),
        }
        assignments = "confirmationCode = :code, requestStatus = :status, receivedAt = :received"
        if requested_at is not None:
            assignments += ", requestedAt = :requested"
            values[":requested"] = s(requested_at)
        applied(
            lambda: self._client.update_item(
                TableName=self._table,
                Key=deletion_request_key(code),
                UpdateExpression="SET " + assignments,
                ConditionExpression="attribute_not_exists(pk)",
                ExpressionAttributeValues=values,
            )
        )

    def complete_deletion_request(self, code: str, *, rows_affected: int, completed_at: str) -> None:
        applied(
            lambda: self._client.update_item(
                TableName=self._table,
                Key=deletion_request_key(code),
                UpdateExpression="SET requestStatus = :completed, rowsAffected = :rows, completedAt = :at",
                ConditionExpression="attribute_exists(pk) AND requestStatus <> :completed",
                ExpressionAttributeValues={
                    ":completed": s(DeletionStatus.COMPLETED.value),
                    ":rows": n(rows_affected),
                    ":at": s(completed_at),
                },
            )
        )

    def read_deletion_request(self, code: str) -> DeletionRequest | None:
        item = self._client.get_item(TableName=self._table, Key=deletion_request_key(code), ConsistentRead=True)
        found = plain(item.get("Item") or {})
        if not found:
            return None
        rows = found.get("rowsAffected")
        return DeletionRequest(
            confirmation_code=code,
            status=DeletionStatus(str(found.get("requestStatus", DeletionStatus.IN_PROGRESS.value))),
            received_at=str(found.get("receivedAt", "")),
            requested_at=_text(found.get("requestedAt")),
            completed_at=_text(found.get("completedAt")),
            rows_affected=int(str(rows)) if rows is not None else None,
        )


def _row_from_keys(item: Mapping[str, AttributeValueTypeDef]) -> PlatformAccountRow | None:
    keys = plain(item)
    pk, sk = str(keys.get("pk", "")), str(keys.get("sk", ""))
    platform_name, _, external_account_id = sk.removeprefix(CONNECTION_PREFIX).partition("#")
    if not pk.startswith("USER#") or not sk.startswith(CONNECTION_PREFIX) or not external_account_id:
        return None
    try:
        platform = Platform(platform_name)
    except ValueError:
        return None
    return PlatformAccountRow(user_id=pk.removeprefix("USER#"), key=ConnectionKey(platform, external_account_id))


def _text(raw: object) -> str | None:
    return raw if isinstance(raw, str) else None
