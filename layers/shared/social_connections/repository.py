"""The only module that speaks DynamoDB: every key, condition and update expression of the table lives here.

Item shapes (the data contract, see docs/architecture.md):
- profile    pk=USER#<userId> sk=PROFILE                                  userId, profileStatus, version, deletedAt
- connection pk=USER#<userId> sk=CONNECTION#<platform>#<externalAccountId> userId, platform, connectionStatus, ...
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from typing import TYPE_CHECKING, Final, TypedDict, cast

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from social_connections.connection_rules import (
    AccountDetails,
    ConnectionHealth,
    ConnectionKey,
    ConnectionStatus,
    ConnectionUpsert,
    StoredConnection,
    SyncPlan,
)
from social_connections.providers import Platform

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import (
        AttributeValueTypeDef,
        ConditionCheckTypeDef,
        QueryInputTypeDef,
        TransactWriteItemTypeDef,
        UpdateTypeDef,
        WriteRequestTypeDef,
    )

PROFILE_SK: Final = "PROFILE"
CONNECTION_PREFIX: Final = "CONNECTION#"
# One transaction holds at most 100 actions; one of them is always the profile lock.
MAX_TRANSACTION_ACTIONS: Final = 100
BATCH_WRITE_LIMIT: Final = 25
MAX_ERROR_TEXT: Final = 500
UNPROCESSED_RETRY_LIMIT: Final = 8

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


class ProfileStatus(StrEnum):
    ACTIVE = "active"
    DELETED = "deleted"


class ConcurrentModificationError(Exception):
    """The user's profile changed between our read and our write; read again and re-plan."""


@dataclass(frozen=True, slots=True)
class StoredProfile:
    user_id: str
    status: ProfileStatus
    version: int | None


@dataclass(frozen=True, slots=True)
class StoredUser:
    profile: StoredProfile | None
    connections: dict[ConnectionKey, StoredConnection]


def user_pk(user_id: str) -> str:
    return f"USER#{user_id}"


def connection_sk(key: ConnectionKey) -> str:
    return f"{CONNECTION_PREFIX}{key.platform.value}#{key.external_account_id}"


def iso_from_millis(millis: int) -> str:
    return datetime.fromtimestamp(millis / 1000, tz=UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def now_iso() -> str:
    return iso_from_millis(int(time.time() * 1000))


def _s(value: str) -> AttributeValueTypeDef:
    return {"S": value}


def _n(value: int) -> AttributeValueTypeDef:
    return {"N": str(value)}


def _value(value: object) -> AttributeValueTypeDef:
    return _serializer.serialize(value)


def _plain(item: Mapping[str, AttributeValueTypeDef]) -> dict[str, object]:
    return {name: _deserializer.deserialize(value) for name, value in item.items()}


def _int(value: object, default: int = 0) -> int:
    return int(value) if isinstance(value, (int, Decimal)) and not isinstance(value, bool) else default


def _optional_str(value: object) -> str | None:
    return value if isinstance(value, str) else None


class ConnectionsRepository:
    """Reads and writes one user's partition of the connections table."""

    def __init__(self, table_name: str, client: DynamoDBClient) -> None:
        self._table = table_name
        self._client = client

    # ---- reads -------------------------------------------------------------------------------------------------

    def read_user(self, user_id: str) -> StoredUser:
        """The profile and every connection of a user, in one strongly consistent query (paged if huge)."""
        profile: StoredProfile | None = None
        connections: dict[ConnectionKey, StoredConnection] = {}
        for item in self._query_partition(user_id, projection=None):
            plain = _plain(item)
            sk = str(plain.get("sk", ""))
            if sk == PROFILE_SK:
                profile = _profile_from(plain, user_id)
            elif sk.startswith(CONNECTION_PREFIX):
                stored = _connection_from(plain)
                if stored is not None:
                    connections[stored.key] = stored
        return StoredUser(profile=profile, connections=connections)

    def read_user_items(self, user_id: str) -> list[dict[str, object]]:
        """Every stored item of a user (profile and rows, all attributes) as plain values, for inspection tools."""
        return [_plain(item) for item in self._query_partition(user_id, projection=None)]

    def _query_partition(
        self, user_id: str, *, projection: str | None, connections_only: bool = False
    ) -> Iterator[Mapping[str, AttributeValueTypeDef]]:
        key_condition = "pk = :pk AND begins_with(sk, :prefix)" if connections_only else "pk = :pk"
        values: dict[str, AttributeValueTypeDef] = {":pk": _s(user_pk(user_id))}
        if connections_only:
            values[":prefix"] = _s(CONNECTION_PREFIX)
        request: QueryInputTypeDef = {
            "TableName": self._table,
            "KeyConditionExpression": key_condition,
            "ExpressionAttributeValues": values,
            "ConsistentRead": True,
        }
        if projection:
            request["ProjectionExpression"] = projection
        while True:
            page = self._client.query(**request)
            yield from page.get("Items", [])
            last_key = page.get("LastEvaluatedKey")
            if not last_key:
                return
            request["ExclusiveStartKey"] = last_key

    # ---- webhook writes ----------------------------------------------------------------------------------------

    def write_snapshot(
        self,
        user_id: str,
        plan: SyncPlan,
        *,
        version: int,
        expected: StoredProfile | None,
        synced_at: str,
    ) -> None:
        """Write a plan and move the profile to `version`, all or nothing per transaction.

        The profile condition (`version` equals what we read, still active) serializes writers of one user:
        a concurrent delivery or a deletion makes this raise ConcurrentModificationError, and the caller re-reads.
        """
        changed_at = iso_from_millis(version)
        row_actions: list[TransactWriteItemTypeDef] = []
        for upsert in plan.upserts:
            row_actions.append({"Update": self._upsert_action(user_id, upsert, version, changed_at, synced_at)})
        for key in plan.disconnects:
            row_actions.append({"Update": self._disconnect_action(user_id, key, version, changed_at, synced_at)})
        for failure in plan.failures:
            if failure.key is not None:
                row_actions.append({"Update": self._failure_action(user_id, failure.key, failure.reason, synced_at)})

        lock = _profile_lock(self._table, {"pk": _s(user_pk(user_id)), "sk": _s(PROFILE_SK)}, expected)
        profile_update: UpdateTypeDef = {
            "TableName": self._table,
            "Key": lock["Key"],
            "UpdateExpression": "SET userId = :uid, profileStatus = :active, version = :version",
            "ConditionExpression": lock["ConditionExpression"],
            "ExpressionAttributeValues": {
                **lock.get("ExpressionAttributeValues", {}),
                ":uid": _s(user_id),
                ":active": _s(ProfileStatus.ACTIVE),
                ":version": _n(version),
            },
        }
        if "ExpressionAttributeNames" in lock:
            profile_update["ExpressionAttributeNames"] = lock["ExpressionAttributeNames"]
        if not row_actions:
            # The common no-change update: one conditional write, no transaction (half the write units).
            try:
                self._client.update_item(**profile_update)
            except ClientError as error:
                if _error_code(error) == "ConditionalCheckFailedException":
                    raise ConcurrentModificationError(user_id) from error
                raise
            return

        chunk_size = MAX_TRANSACTION_ACTIONS - 1
        # Cut from the end, so the last chunk (the one that moves the version) is the full one: the failure counts
        # (ADD, not idempotent) come last and stay in it, and a redelivery after a half-written plan cannot count a
        # failure twice (up to 99 of them per event).
        first = len(row_actions) % chunk_size or chunk_size
        chunks = [row_actions[:first]] + [
            row_actions[i : i + chunk_size] for i in range(first, len(row_actions), chunk_size)
        ]
        # Earlier chunks only check the lock; the version moves with the last chunk, so a half-written plan is never
        # mistaken for an applied one and a redelivery finishes it.
        check_lock: TransactWriteItemTypeDef = {"ConditionCheck": lock}
        move_version: TransactWriteItemTypeDef = {"Update": profile_update}
        for index, chunk in enumerate(chunks):
            self._transact([move_version if index == len(chunks) - 1 else check_lock, *chunk], user_id)

    def _transact(self, actions: Sequence[TransactWriteItemTypeDef], user_id: str) -> None:
        try:
            self._client.transact_write_items(TransactItems=list(actions))
        except ClientError as error:
            if _error_code(error) != "TransactionCanceledException":
                raise
            reasons = [reason.get("Code", "None") for reason in error.response.get("CancellationReasons", [])]
            if any(code in {"ConditionalCheckFailed", "TransactionConflict"} for code in reasons):
                raise ConcurrentModificationError(user_id) from error
            raise

    def _upsert_action(
        self, user_id: str, upsert: ConnectionUpsert, version: int, changed_at: str, synced_at: str
    ) -> UpdateTypeDef:
        wanted = upsert.desired
        details = wanted.details
        assignments = [
            "userId = :uid",
            "platform = :platform",
            "externalAccountId = :eid",
            "platformUserId = :puid",
            "platformUsername = :pname",
            "metadata = :metadata",
            "accountVersion = :account_version",
            "version = :version",
            "updatedAt = :changed_at",
            "lastSyncAt = :synced_at",
        ]
        values: dict[str, AttributeValueTypeDef] = {
            ":uid": _s(user_id),
            ":platform": _s(wanted.key.platform.value),
            ":eid": _s(wanted.key.external_account_id),
            ":puid": _value(details.platform_user_id),
            ":pname": _value(details.platform_username),
            ":metadata": _value(_metadata(details)),
            ":account_version": _n(details.account_version),
            ":version": _n(version),
            ":changed_at": _s(changed_at),
            ":synced_at": _s(synced_at),
            ":zero": _n(0),
        }
        if upsert.set_status is not None:
            assignments.append("connectionStatus = :status")
            values[":status"] = _s(upsert.set_status.value)
            if upsert.set_status is ConnectionStatus.CONNECTED:
                assignments.append("connectedAt = if_not_exists(connectedAt, :changed_at)")
        assignments.append(
            "errorCount = :zero" if upsert.reset_errors else "errorCount = if_not_exists(errorCount, :zero)"
        )
        return {
            "TableName": self._table,
            "Key": {"pk": _s(user_pk(user_id)), "sk": _s(connection_sk(wanted.key))},
            "UpdateExpression": "SET " + ", ".join(assignments),
            # The row must be as we read it (absent or present): anything else cancels the plan and we re-read.
            "ConditionExpression": "attribute_not_exists(pk)" if upsert.is_new else "attribute_exists(pk)",
            "ExpressionAttributeValues": values,
        }

    def _disconnect_action(
        self, user_id: str, key: ConnectionKey, version: int, changed_at: str, synced_at: str
    ) -> UpdateTypeDef:
        return {
            "TableName": self._table,
            "Key": {"pk": _s(user_pk(user_id)), "sk": _s(connection_sk(key))},
            "UpdateExpression": "SET connectionStatus = :status, version = :version, updatedAt = :changed_at, "
            "lastSyncAt = :synced_at",
            "ConditionExpression": "attribute_exists(pk)",
            "ExpressionAttributeValues": {
                ":status": _s(ConnectionStatus.DISCONNECTED.value),
                ":version": _n(version),
                ":changed_at": _s(changed_at),
                ":synced_at": _s(synced_at),
            },
        }

    def _failure_action(self, user_id: str, key: ConnectionKey, reason: str, failed_at: str) -> UpdateTypeDef:
        parts = _failure_update(reason, failed_at)
        return {
            "TableName": self._table,
            "Key": {"pk": _s(user_pk(user_id)), "sk": _s(connection_sk(key))},
            "UpdateExpression": parts["UpdateExpression"],
            "ConditionExpression": parts["ConditionExpression"],
            "ExpressionAttributeValues": parts["ExpressionAttributeValues"],
        }

    def mark_deleted(self, user_id: str, deleted_at: str) -> bool:
        """Turn the profile into a tombstone (no PII). False when it already was one: a duplicate delete."""
        try:
            self._client.put_item(
                TableName=self._table,
                Item={
                    "pk": _s(user_pk(user_id)),
                    "sk": _s(PROFILE_SK),
                    "userId": _s(user_id),
                    "profileStatus": _s(ProfileStatus.DELETED.value),
                    "deletedAt": _s(deleted_at),
                },
                ConditionExpression="attribute_not_exists(pk) OR profileStatus <> :deleted",
                ExpressionAttributeValues={":deleted": _s(ProfileStatus.DELETED.value)},
            )
        except ClientError as error:
            if _error_code(error) == "ConditionalCheckFailedException":
                return False
            raise
        return True

    # ---- publish health: the public API other services use ----------------------------------------------------

    def record_publish_failure(self, user_id: str, key: ConnectionKey, error: str) -> bool:
        """Count one failure on a connection (ADD errorCount 1, set lastError, lastErrorAt). False if no such row."""
        return self._conditional_update(user_id, key, _failure_update(error, now_iso()))

    def record_publish_success(self, user_id: str, key: ConnectionKey) -> bool:
        """Reset a connection's error count to 0. False if there is no such row or nothing to reset."""
        return self._conditional_update(
            user_id,
            key,
            {
                "UpdateExpression": "SET errorCount = :zero",
                "ConditionExpression": "attribute_exists(pk) AND errorCount <> :zero",
                "ExpressionAttributeValues": {":zero": _n(0)},
            },
        )

    # ---- stream function writes -------------------------------------------------------------------------------

    def mark_error(self, user_id: str, key: ConnectionKey, threshold: int) -> bool:
        """connected -> error, only while the row still has at least `threshold` recorded failures."""
        return self._conditional_update(
            user_id,
            key,
            {
                "UpdateExpression": "SET connectionStatus = :error, updatedAt = :now",
                "ConditionExpression": "connectionStatus = :connected AND errorCount >= :threshold",
                "ExpressionAttributeValues": {
                    ":error": _s(ConnectionStatus.ERROR.value),
                    ":connected": _s(ConnectionStatus.CONNECTED.value),
                    ":threshold": _n(threshold),
                    ":now": _s(now_iso()),
                },
            },
        )

    def mark_recovered(self, user_id: str, key: ConnectionKey) -> bool:
        """error -> connected, only while the error count is back to 0 and Clerk still reports the account verified."""
        return self._conditional_update(
            user_id,
            key,
            {
                "UpdateExpression": "SET connectionStatus = :connected, updatedAt = :now",
                "ConditionExpression": "connectionStatus = :error AND errorCount = :zero "
                "AND metadata.verificationStatus = :verified",
                "ExpressionAttributeValues": {
                    ":error": _s(ConnectionStatus.ERROR.value),
                    ":connected": _s(ConnectionStatus.CONNECTED.value),
                    ":zero": _n(0),
                    ":verified": _s("verified"),
                    ":now": _s(now_iso()),
                },
            },
        )

    def delete_connections(self, user_id: str) -> int:
        """Delete every connection row of a user: one key-only query, then batches of 25 deletes."""
        keys = [
            {"pk": item["pk"], "sk": item["sk"]}
            for item in self._query_partition(user_id, projection="pk, sk", connections_only=True)
        ]
        for start in range(0, len(keys), BATCH_WRITE_LIMIT):
            batch: list[WriteRequestTypeDef] = [
                {"DeleteRequest": {"Key": key}} for key in keys[start : start + BATCH_WRITE_LIMIT]
            ]
            self._batch_write(batch)
        return len(keys)

    def _batch_write(self, requests: list[WriteRequestTypeDef]) -> None:
        pending: Mapping[str, Sequence[WriteRequestTypeDef]] = {self._table: requests}
        for attempt in range(UNPROCESSED_RETRY_LIMIT):
            response = self._client.batch_write_item(RequestItems=pending)
            unprocessed = response.get("UnprocessedItems") or {}
            if not unprocessed:
                return
            # The response's "output" shape is the same data as the request's "input" shape.
            pending = cast("Mapping[str, Sequence[WriteRequestTypeDef]]", unprocessed)
            time.sleep(min(0.05 * 2**attempt, 1.0))  # back off: unprocessed items mean throttling
        raise RuntimeError(f"batch delete left unprocessed items after {UNPROCESSED_RETRY_LIMIT} attempts")

    def _conditional_update(self, user_id: str, key: ConnectionKey, update: _UpdateParts) -> bool:
        try:
            self._client.update_item(
                TableName=self._table,
                Key={"pk": _s(user_pk(user_id)), "sk": _s(connection_sk(key))},
                **update,
            )
        except ClientError as error:
            if _error_code(error) == "ConditionalCheckFailedException":
                return False
            raise
        return True


def _profile_lock(
    table: str, key: Mapping[str, AttributeValueTypeDef], expected: StoredProfile | None
) -> ConditionCheckTypeDef:
    """The check that the profile is still as read. DynamoDB refuses empty name/value maps, so none are sent."""
    lock: ConditionCheckTypeDef = {"TableName": table, "Key": key, "ConditionExpression": "attribute_not_exists(pk)"}
    if expected is not None:
        lock["ExpressionAttributeNames"] = {"#v": "version"}
        values: dict[str, AttributeValueTypeDef] = {":lock_active": _s(ProfileStatus.ACTIVE)}
        if expected.version is None:
            lock["ConditionExpression"] = "attribute_not_exists(#v) AND profileStatus = :lock_active"
        else:
            lock["ConditionExpression"] = "#v = :lock_version AND profileStatus = :lock_active"
            values[":lock_version"] = _n(expected.version)
        lock["ExpressionAttributeValues"] = values
    return lock


class _UpdateParts(TypedDict):
    UpdateExpression: str
    ConditionExpression: str
    ExpressionAttributeValues: dict[str, AttributeValueTypeDef]


def _failure_update(error: str, failed_at: str) -> _UpdateParts:
    return {
        "UpdateExpression": "ADD errorCount :one SET lastError = :error, lastErrorAt = :at",
        "ConditionExpression": "attribute_exists(pk)",
        "ExpressionAttributeValues": {":one": _n(1), ":error": _s(error[:MAX_ERROR_TEXT]), ":at": _s(failed_at)},
    }


def _metadata(details: AccountDetails) -> dict[str, object]:
    return {
        "email": details.email,
        "firstName": details.first_name,
        "lastName": details.last_name,
        "imageUrl": details.image_url,
        "provider": details.provider,
        "clerkAccountId": details.clerk_account_id,
        "verificationStatus": details.verification_status,
        "approvedScopes": list(details.approved_scopes),
    }


def _profile_from(item: Mapping[str, object], user_id: str) -> StoredProfile:
    version = item.get("version")
    return StoredProfile(
        user_id=user_id,
        status=ProfileStatus(str(item.get("profileStatus", ProfileStatus.ACTIVE))),
        version=_int(version) if version is not None else None,
    )


def _connection_from(item: Mapping[str, object]) -> StoredConnection | None:
    try:
        key = ConnectionKey(Platform(str(item["platform"])), str(item["externalAccountId"]))
        status = ConnectionStatus(str(item["connectionStatus"]))
    except (KeyError, ValueError):
        return None  # not a row this service wrote; leave it alone
    metadata = item.get("metadata")
    meta: Mapping[str, object] = metadata if isinstance(metadata, dict) else {}
    scopes = meta.get("approvedScopes")
    details = AccountDetails(
        platform_user_id=_optional_str(item.get("platformUserId")),
        platform_username=_optional_str(item.get("platformUsername")),
        account_version=_int(item.get("accountVersion")),
        email=_optional_str(meta.get("email")),
        first_name=_optional_str(meta.get("firstName")),
        last_name=_optional_str(meta.get("lastName")),
        image_url=_optional_str(meta.get("imageUrl")),
        provider=str(meta.get("provider", "")),
        clerk_account_id=str(meta.get("clerkAccountId", "")),
        verification_status=_optional_str(meta.get("verificationStatus")),
        approved_scopes=tuple(str(s) for s in scopes) if isinstance(scopes, list) else (),
    )
    return StoredConnection(key=key, status=status, error_count=_int(item.get("errorCount")), details=details)


def health_from_image(image: Mapping[str, object]) -> ConnectionHealth | None:
    """Read a connection's health from a stream image (already deserialized); None for other item types."""
    sk = image.get("sk")
    if not isinstance(sk, str) or not sk.startswith(CONNECTION_PREFIX):
        return None
    stored = _connection_from(image)
    user_id = image.get("userId")
    if stored is None or not isinstance(user_id, str):
        return None
    metadata = image.get("metadata")
    verification = metadata.get("verificationStatus") if isinstance(metadata, dict) else None
    return ConnectionHealth(
        user_id=user_id,
        key=stored.key,
        status=stored.status,
        error_count=stored.error_count,
        verification_status=verification if isinstance(verification, str) else None,
    )


def deleted_user_from_image(image: Mapping[str, object]) -> str | None:
    """The user id when a stream image is a tombstoned profile, else None."""
    if image.get("sk") == PROFILE_SK and image.get("profileStatus") == ProfileStatus.DELETED.value:
        user_id = image.get("userId")
        return user_id if isinstance(user_id, str) else None
    return None


def _error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))
