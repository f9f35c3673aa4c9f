"""The one-write path of an unchanged user.updated: move the profile's version when its snapshot digest matches.

No row is written: equal digests mean the rows already match the snapshot (docs/architecture.md, one round trip).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from social_connections.model import ProfileStatus, ProfileWrite
from social_connections.storage.items import error_code, n, profile_found, profile_key, s

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


def write_if_unchanged(client: DynamoDBClient, table: str, user_id: str, *, version: int, digest: str) -> ProfileWrite:
    """One conditional update; on refusal the profile as found (ALL_OLD), so a duplicate needs no read."""
    try:
        client.update_item(
            TableName=table,
            Key=profile_key(user_id),
            UpdateExpression="SET version = :version",
            ConditionExpression="profileStatus = :active AND snapshotDigest = :digest AND version < :version",
            ExpressionAttributeValues={
                ":active": s(ProfileStatus.ACTIVE.value),
                ":digest": s(digest),
                ":version": n(version),
            },
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )
    except ClientError as error:
        if error_code(error) != "ConditionalCheckFailedException":
            raise
        return ProfileWrite(applied=False, found=profile_found(error.response.get("Item"), user_id))
    return ProfileWrite(applied=True)
