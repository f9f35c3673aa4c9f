"""The snapshot write: a plan's row changes and the profile's new version, under the profile lock.

The profile condition (`version` as read, still active) serializes the writers of one user: a concurrent delivery or
a deletion makes the write raise ConcurrentModificationError, and the caller reads again and re-plans.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Final, TypedDict, cast

from botocore.exceptions import ClientError

from social_connections.clock import iso_from_millis
from social_connections.model import (
    ConcurrentModificationError,
    ConnectionKey,
    ProfileStatus,
    RowState,
    StoredProfile,
    SyncPlan,
)
from social_connections.storage.items import (
    connection_item_key,
    error_code,
    n,
    profile_found,
    profile_key,
    s,
)
from social_connections.storage.row_state import (
    ROW_STATE_ATTRIBUTE,
    row_check,
    row_state_attribute,
)
from social_connections.storage.row_writes import disconnect_update, upsert_update

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import (
        AttributeValueTypeDef,
        ConditionCheckTypeDef,
        TransactWriteItemTypeDef,
        UpdateTypeDef,
    )

# One transaction holds at most 100 actions; one of them is always the profile lock.
MAX_TRANSACTION_ACTIONS: Final = 100
MAX_ERROR_TEXT: Final = 500


class UpdateParts(TypedDict):
    UpdateExpression: str
    ConditionExpression: str
    ExpressionAttributeValues: dict[str, AttributeValueTypeDef]


def failure_update(error: str, failed_at: str) -> UpdateParts:
    """One recorded failure on an existing row: ADD errorCount 1, set lastError and lastErrorAt."""
    return {
        "UpdateExpression": "ADD errorCount :one SET lastError = :error, lastErrorAt = :at",
        "ConditionExpression": "attribute_exists(pk)",
        "ExpressionAttributeValues": {":one": n(1), ":error": s(error[:MAX_ERROR_TEXT]), ":at": s(failed_at)},
    }


class SnapshotWriter:
    def __init__(self, table_name: str, client: DynamoDBClient) -> None:
        self._table = table_name
        self._client = client

    def write(
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
        """Write a plan; move the profile to `version`, `digest` and the copy `rows`; all or nothing per transaction."""
        actions = self._row_actions(user_id, plan, version, synced_at)
        lock = self._profile_lock(user_id, expected)
        move_version = self._move_version(user_id, lock, version, digest, rows)
        if not actions:
            # No row to write: one conditional write, no transaction (half the write units).
            try:
                self._client.update_item(**move_version)
            except ClientError as error:
                if error_code(error) != "ConditionalCheckFailedException":
                    raise
                found = profile_found(error.response.get("Item"), user_id)
                raise ConcurrentModificationError(user_id, found) from error
            return
        chunk_size = MAX_TRANSACTION_ACTIONS - 1
        # Cut from the end, so the last chunk (the one that moves the version) is the full one: the failure counts
        # (ADD, not idempotent) come last and stay in it, and a redelivery after a half-written plan cannot count a
        # failure twice (up to 99 of them per event).
        first = len(actions) % chunk_size or chunk_size
        chunks = [actions[:first]] + [actions[i : i + chunk_size] for i in range(first, len(actions), chunk_size)]
        # Earlier chunks only check the lock; the version moves with the last chunk, so a half-written plan is never
        # mistaken for an applied one and a redelivery finishes it.
        for index, chunk in enumerate(chunks):
            head: TransactWriteItemTypeDef = (
                {"Update": move_version} if index == len(chunks) - 1 else {"ConditionCheck": lock}
            )
            self._transact([head, *chunk], user_id)

    def _row_actions(
        self, user_id: str, plan: SyncPlan, version: int, synced_at: str
    ) -> list[TransactWriteItemTypeDef]:
        """The plan's row writes and checks, in the order the chunks need (failure counts last)."""
        changed_at = iso_from_millis(version)
        actions: list[TransactWriteItemTypeDef] = [
            {
                "Update": upsert_update(
                    self._table, user_id, upsert, version=version, changed_at=changed_at, synced_at=synced_at
                )
            }
            for upsert in plan.upserts
        ]
        actions += [
            {
                "Update": disconnect_update(
                    self._table, user_id, key, version=version, changed_at=changed_at, synced_at=synced_at
                )
            }
            for key in plan.disconnects
        ]
        actions += [
            {"Update": self._failure(user_id, failure.key, failure.reason, synced_at)}
            for failure in plan.failures
            if failure.key is not None
        ]
        actions += [
            {"ConditionCheck": row_check(self._table, connection_item_key(user_id, check.key), check)}
            for check in plan.checks
        ]
        return actions

    def _transact(self, actions: Sequence[TransactWriteItemTypeDef], user_id: str) -> None:
        try:
            self._client.transact_write_items(TransactItems=list(actions))
        except ClientError as error:
            if error_code(error) != "TransactionCanceledException":
                raise
            cancelled = error.response.get("CancellationReasons", [])
            reasons = [reason.get("Code", "None") for reason in cancelled]
            if any(code in {"ConditionalCheckFailed", "TransactionConflict"} for code in reasons):
                head = cancelled[0] if cancelled and reasons[0] == "ConditionalCheckFailed" else {}
                raise ConcurrentModificationError(user_id, profile_found(head.get("Item"), user_id)) from error
            raise

    def _profile_lock(self, user_id: str, expected: StoredProfile | None) -> ConditionCheckTypeDef:
        """The check that the profile is still as read. DynamoDB refuses empty name/value maps, so none are sent."""
        lock: ConditionCheckTypeDef = {
            "TableName": self._table,
            "Key": profile_key(user_id),
            "ConditionExpression": "attribute_not_exists(pk)",
            # The profile comes back when the condition fails, so a duplicate needs no read to be recognised.
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        }
        if expected is not None:
            lock["ExpressionAttributeNames"] = {"#v": "version"}
            values: dict[str, AttributeValueTypeDef] = {":lock_active": s(ProfileStatus.ACTIVE)}
            if expected.version is None:
                lock["ConditionExpression"] = "attribute_not_exists(#v) AND profileStatus = :lock_active"
            else:
                lock["ConditionExpression"] = "#v = :lock_version AND profileStatus = :lock_active"
                values[":lock_version"] = n(expected.version)
            lock["ExpressionAttributeValues"] = values
        return lock

    def _move_version(
        self,
        user_id: str,
        lock: ConditionCheckTypeDef,
        version: int,
        digest: str | None,
        rows: Mapping[ConnectionKey, RowState] | None,
    ) -> UpdateTypeDef:
        values: dict[str, AttributeValueTypeDef] = {
            ":uid": s(user_id),
            ":active": s(ProfileStatus.ACTIVE),
            ":version": n(version),
        }
        assignments = "SET userId = :uid, profileStatus = :active, version = :version"
        removed = []
        if digest is None:
            removed.append("snapshotDigest")  # rows no longer known to match any digest
        else:
            assignments += ", snapshotDigest = :digest"
            values[":digest"] = s(digest)
        if rows is None:
            removed.append(ROW_STATE_ATTRIBUTE)  # no copy: the next changed snapshot reads the rows
        else:
            assignments += f", {ROW_STATE_ATTRIBUTE} = :rows"
            values[":rows"] = row_state_attribute(rows)
        if removed:
            assignments += " REMOVE " + ", ".join(removed)
        update: UpdateTypeDef = {
            "TableName": self._table,
            "Key": lock["Key"],
            "UpdateExpression": assignments,
            "ConditionExpression": lock["ConditionExpression"],
            "ExpressionAttributeValues": {**lock.get("ExpressionAttributeValues", {}), **values},
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        }
        if "ExpressionAttributeNames" in lock:
            update["ExpressionAttributeNames"] = lock["ExpressionAttributeNames"]
        return update

    def _failure(self, user_id: str, key: ConnectionKey, reason: str, failed_at: str) -> UpdateTypeDef:
        where: dict[str, object] = {"TableName": self._table, "Key": connection_item_key(user_id, key)}
        return cast("UpdateTypeDef", where | dict(failure_update(reason, failed_at)))
