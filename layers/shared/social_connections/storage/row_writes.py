"""The row actions of a snapshot write: a connection upserted from Clerk's account, or disconnected."""

from __future__ import annotations

from typing import TYPE_CHECKING

from social_connections.model import ConnectionKey, ConnectionStatus, ConnectionUpsert
from social_connections.providers import Platform
from social_connections.storage.items import (
    ATTENTION_ATTRIBUTE,
    PERSONAL_DATA_PATHS,
    connection_item_key,
    metadata_value,
    n,
    s,
    set_platform_user,
    set_status,
    text_value,
)
from social_connections.storage.row_state import DETAILS_DIGEST_ATTRIBUTE

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.type_defs import AttributeValueTypeDef, UpdateTypeDef


def upsert_update(
    table: str, user_id: str, upsert: ConnectionUpsert, *, version: int, changed_at: str, synced_at: str
) -> UpdateTypeDef:
    """Copy Clerk's account onto its row (with the digest of its details), and its status where the plan sets one."""
    wanted = upsert.desired
    details = wanted.details
    # Literal attribute values, not s()/n(): this runs for every connection of every changed snapshot.
    values: dict[str, AttributeValueTypeDef] = {
        ":uid": {"S": user_id},
        ":platform": {"S": wanted.key.platform.value},
        ":eid": {"S": wanted.key.external_account_id},
        ":puid": text_value(details.platform_user_id),
        ":pname": text_value(details.platform_username),
        ":metadata": metadata_value(details),
        ":account_version": {"N": str(details.account_version)},
        ":version": {"N": str(version)},
        ":changed_at": {"S": changed_at},
        ":synced_at": {"S": synced_at},
        ":zero": {"N": "0"},
        ":details_digest": {"S": wanted.details_digest},
    }
    # The expression depends only on the plan's shape: built once per shape, its values filled in per row.
    shape = (upsert.set_status, wanted.key.platform, upsert.reset_errors, bool(details.platform_user_id))
    expression = _UPSERT_EXPRESSIONS.get(shape)
    if expression is None:
        expression = _UPSERT_EXPRESSIONS[shape] = _upsert_expression(upsert, wanted.key.platform, values)
    else:
        _upsert_values(upsert, wanted.key.platform, values)
    # The row must be as we read it (absent or present, and in the status a plan from the copy assumed).
    condition = "attribute_not_exists(pk)" if upsert.is_new else "attribute_exists(pk)"
    if upsert.expect_status is not None:
        condition += " AND connectionStatus = :assumed_status"
        values[":assumed_status"] = s(upsert.expect_status.value)
    return {
        "TableName": table,
        "Key": connection_item_key(user_id, wanted.key),
        "UpdateExpression": expression,
        "ConditionExpression": condition,
        "ExpressionAttributeValues": values,
    }


def disconnect_update(
    table: str, user_id: str, key: ConnectionKey, *, version: int, changed_at: str, synced_at: str
) -> UpdateTypeDef:
    return {
        "TableName": table,
        "Key": connection_item_key(user_id, key),
        # Data minimization: a disconnected row keeps keys, status, platform ids and times, no personal data.
        "UpdateExpression": "SET connectionStatus = :status, version = :version, updatedAt = :changed_at, "
        "lastSyncAt = :synced_at REMOVE "
        + ", ".join((ATTENTION_ATTRIBUTE, DETAILS_DIGEST_ATTRIBUTE, *PERSONAL_DATA_PATHS)),
        "ConditionExpression": "attribute_exists(pk)",
        "ExpressionAttributeValues": {
            ":status": s(ConnectionStatus.DISCONNECTED.value),
            ":version": n(version),
            ":changed_at": s(changed_at),
            ":synced_at": s(synced_at),
        },
    }


_UPSERT_EXPRESSIONS: dict[tuple[ConnectionStatus | None, Platform, bool, bool], str] = {}


def _upsert_expression(upsert: ConnectionUpsert, platform: Platform, values: dict[str, AttributeValueTypeDef]) -> str:
    """The UpdateExpression of an upsert of this shape (and its status and platform-user values put in `values`)."""
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
        f"{DETAILS_DIGEST_ATTRIBUTE} = :details_digest",
    ]
    removed: list[str] = []
    if upsert.set_status is not None:
        removed += set_status(upsert.set_status, platform, assignments, values)
        if upsert.set_status is ConnectionStatus.CONNECTED:
            assignments.append("connectedAt = if_not_exists(connectedAt, :changed_at)")
    assignments.append("errorCount = :zero" if upsert.reset_errors else "errorCount = if_not_exists(errorCount, :zero)")
    removed += set_platform_user(platform, upsert.desired.details.platform_user_id, assignments, values)
    removals = f" REMOVE {', '.join(removed)}" if removed else ""
    return "SET " + ", ".join(assignments) + removals


def _upsert_values(upsert: ConnectionUpsert, platform: Platform, values: dict[str, AttributeValueTypeDef]) -> None:
    """The status and platform-user values of an upsert whose expression is already known (the same helpers write
    them; their assignments are the cached expression's)."""
    if upsert.set_status is not None:
        set_status(upsert.set_status, platform, [], values)
    set_platform_user(platform, upsert.desired.details.platform_user_id, [], values)
