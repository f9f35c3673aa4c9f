"""The item contract of the table: keys, attribute encoding, and reading items and stream images back.

Item shapes (the data contract, see docs/architecture.md):
- profile    pk=USER#<userId> sk=PROFILE  userId, profileStatus, version, snapshotDigest, rowState, deletedAt
- connection pk=USER#<userId> sk=CONNECTION#<platform>#<externalAccountId> userId, platform, connectionStatus, ...
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Final, cast

from botocore.exceptions import ClientError

from social_connections.model import (
    AccountDetails,
    ConnectionHealth,
    ConnectionKey,
    ConnectionStatus,
    ProfileStatus,
    RowTimes,
    StoredConnection,
    StoredProfile,
)
from social_connections.providers import Platform
from social_connections.storage.attribute_values import plain
from social_connections.storage.row_state import DETAILS_DIGEST_ATTRIBUTE, ROW_STATE_ATTRIBUTE, row_state_from

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.type_defs import AttributeValueTypeDef

PROFILE_SK: Final = "PROFILE"
CONNECTION_PREFIX: Final = "CONNECTION#"
# The sparse AttentionIndex key: present, as `<status>#<platform>`, only while a row is `expired` or `error`.
ATTENTION_ATTRIBUTE: Final = "attention"
ATTENTION_INDEX: Final = "AttentionIndex"
ATTENTION_STATUSES: Final = frozenset({ConnectionStatus.EXPIRED, ConnectionStatus.ERROR})


Key = dict[str, "AttributeValueTypeDef"]


def user_pk(user_id: str) -> str:
    return f"USER#{user_id}"


def connection_sk(key: ConnectionKey) -> str:
    return f"{CONNECTION_PREFIX}{key.platform}#{key.external_account_id}"  # a StrEnum formats as its value


def profile_key(user_id: str) -> Key:
    return {"pk": s(user_pk(user_id)), "sk": s(PROFILE_SK)}


def connection_item_key(user_id: str, key: ConnectionKey) -> Key:
    return {"pk": s(user_pk(user_id)), "sk": s(connection_sk(key))}


def attention_value(status: ConnectionStatus, platform: Platform) -> str | None:
    """The AttentionIndex key of a row in this status, or None when the row must not be in the index."""
    return f"{status}#{platform}" if status in ATTENTION_STATUSES else None


def set_status(
    status: ConnectionStatus, platform: Platform, assignments: list[str], values: dict[str, AttributeValueTypeDef]
) -> list[str]:
    """Add the SET of `connectionStatus` to an update, with the AttentionIndex key kept in step in the same write:
    `attention` set for a status in the index, else returned as the attribute to REMOVE."""
    assignments.append("connectionStatus = :status")
    values[":status"] = s(status.value)
    attention = attention_value(status, platform)
    if attention is None:
        return [ATTENTION_ATTRIBUTE]
    assignments.append(f"{ATTENTION_ATTRIBUTE} = :attention")
    values[":attention"] = s(attention)
    return []


def set_platform_user(
    platform: Platform, platform_user_id: str | None, assignments: list[str], values: dict[str, AttributeValueTypeDef]
) -> list[str]:
    """Keep the PlatformUserIndex key in step with the row's platform user id: SET it, or return it to REMOVE."""
    if not platform_user_id:
        return [PLATFORM_USER_ATTRIBUTE]
    assignments.append(f"{PLATFORM_USER_ATTRIBUTE} = :platform_user")
    values[":platform_user"] = s(platform_user(platform, platform_user_id))
    return []


def s(value: str) -> AttributeValueTypeDef:
    return {"S": value}


def n(value: int) -> AttributeValueTypeDef:
    return {"N": str(value)}


def applied(write: Callable[[], object]) -> bool:
    """Run a conditional write: True when it was applied, False when its condition did not hold."""
    try:
        write()
    except ClientError as error:
        if error_code(error) == "ConditionalCheckFailedException":
            return False
        raise
    return True


def error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def text_value(text: str | None) -> AttributeValueTypeDef:
    return {"NULL": True} if text is None else {"S": text}


def metadata_value(details: AccountDetails) -> AttributeValueTypeDef:
    """The row's `metadata` map (the account's personal details), built directly: written on every connection upsert."""
    return {
        "M": {
            "email": text_value(details.email),
            "firstName": text_value(details.first_name),
            "lastName": text_value(details.last_name),
            "imageUrl": text_value(details.image_url),
            "provider": {"S": details.provider},
            "clerkAccountId": {"S": details.clerk_account_id},
            "verificationStatus": text_value(details.verification_status),
            "approvedScopes": {"L": [{"S": scope} for scope in details.approved_scopes]},
        }
    }


def profile_from(item: Mapping[str, object], user_id: str) -> StoredProfile:
    version = item.get("version")
    return StoredProfile(
        user_id=user_id,
        status=ProfileStatus(str(item.get("profileStatus", ProfileStatus.ACTIVE))),
        version=_int(version) if version is not None else None,
        rows=row_state_from(item.get(ROW_STATE_ATTRIBUTE)),
    )


def profile_found(item: object, user_id: str) -> StoredProfile | None:
    """The profile a failed condition returned (ReturnValuesOnConditionCheckFailure=ALL_OLD); None without one."""
    if not isinstance(item, Mapping) or not item:
        return None
    return profile_from(plain(cast("Mapping[str, AttributeValueTypeDef]", item)), user_id)


def connection_from(item: Mapping[str, object]) -> StoredConnection | None:
    """A connection row read back (plain values); None for an item this service did not write."""
    try:
        key = ConnectionKey(Platform(str(item["platform"])), str(item["externalAccountId"]))
        status = ConnectionStatus(str(item["connectionStatus"]))
    except (KeyError, ValueError):
        return None
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
        approved_scopes=tuple(str(scope) for scope in scopes) if isinstance(scopes, list) else (),
    )
    times = RowTimes(
        connected_at=_optional_str(item.get("connectedAt")),
        updated_at=_optional_str(item.get("updatedAt")),
        last_error=_optional_str(item.get("lastError")),
    )
    digest = _optional_str(item.get(DETAILS_DIGEST_ATTRIBUTE))
    return StoredConnection(key, status, _int(item.get("errorCount")), details, times, details_digest=digest)


def health_from_image(image: Mapping[str, object]) -> ConnectionHealth | None:
    """A connection's health from a stream image (already deserialized); None for other item types."""
    sk = image.get("sk")
    if not isinstance(sk, str) or not sk.startswith(CONNECTION_PREFIX):
        return None
    stored = connection_from(image)
    user_id = image.get("userId")
    if stored is None or not isinstance(user_id, str):
        return None
    return ConnectionHealth(
        user_id=user_id,
        key=stored.key,
        status=stored.status,
        error_count=stored.error_count,
        verification_status=stored.details.verification_status,
        updated_at=_optional_str(image.get("updatedAt")),
        version=_int(image["version"]) if "version" in image else None,
    )


def deleted_user_from_image(image: Mapping[str, object]) -> str | None:
    """The user id when a stream image is a tombstoned profile, else None."""
    if image.get("sk") == PROFILE_SK and image.get("profileStatus") == ProfileStatus.DELETED.value:
        user_id = image.get("userId")
        return user_id if isinstance(user_id, str) else None
    return None


def _int(raw: object, default: int = 0) -> int:
    return int(raw) if isinstance(raw, (int, Decimal)) and not isinstance(raw, bool) else default


def _optional_str(raw: object) -> str | None:
    return raw if isinstance(raw, str) else None


# ---- platform accounts and deletion requests (PlatformUserIndex, Meta data-deletion records) -----------------------

# Set on every connection row with a platform user id, by the same writes: the index Meta's and TikTok's callbacks use.
PLATFORM_USER_ATTRIBUTE: Final = "platformUser"
PLATFORM_USER_INDEX: Final = "PlatformUserIndex"
# Removed when a row becomes disconnected or its platform user asks for deletion: the personal data of a row.
PERSONAL_DATA_PATHS: Final = (
    "platformUsername",
    "metadata.email",
    "metadata.firstName",
    "metadata.lastName",
    "metadata.imageUrl",
)
DELETION_REQUEST_PREFIX: Final = "DATA_DELETION#"
DELETION_REQUEST_SK: Final = "REQUEST"


def platform_user(platform: Platform, platform_user_id: str) -> str:
    return f"{platform}#{platform_user_id}"


def deletion_request_key(code: str) -> Key:
    return {"pk": s(f"{DELETION_REQUEST_PREFIX}{code}"), "sk": s(DELETION_REQUEST_SK)}
