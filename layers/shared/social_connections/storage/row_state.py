"""The profile's `rowState` attribute and the actions that assert a plan's assumptions about rows.

`rowState` maps `<platform>#<externalAccountId>` to `<status letter><verified 0|1><accountVersion>:<details digest>`,
about 75 bytes a row, so a profile with its copy stays one write unit (docs/architecture.md, profile item), plus
`v` (the format, "1"): a copy in another format is not read, and the map is never empty (stream images of an empty
map do not survive every reader).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Final

from social_connections.model import ConnectionKey, ConnectionStatus, RowCheck, RowState
from social_connections.providers import Platform

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.type_defs import AttributeValueTypeDef, ConditionCheckTypeDef

ROW_STATE_ATTRIBUTE: Final = "rowState"
DETAILS_DIGEST_ATTRIBUTE: Final = "detailsDigest"
_LETTERS: Final = {
    ConnectionStatus.CONNECTED: "c",
    ConnectionStatus.DISCONNECTED: "d",
    ConnectionStatus.EXPIRED: "x",
    ConnectionStatus.ERROR: "e",
}
_STATUSES: Final = {letter: status for status, letter in _LETTERS.items()}
FORMAT_KEY: Final = "v"
FORMAT: Final = "1"


def row_state_attribute(rows: Mapping[ConnectionKey, RowState]) -> AttributeValueTypeDef:
    entries: dict[str, AttributeValueTypeDef] = {FORMAT_KEY: {"S": FORMAT}}
    for key, row in rows.items():
        encoded = f"{_LETTERS[row.status]}{int(row.verified)}{row.account_version}:{row.details_digest}"
        entries[f"{key.platform}#{key.external_account_id}"] = {"S": encoded}
    return {"M": entries}


def row_state_from(raw: object) -> dict[ConnectionKey, RowState] | None:
    """The copy read back (plain values); None when absent or not as written, so the caller reads the rows."""
    if not isinstance(raw, Mapping) or raw.get(FORMAT_KEY) != FORMAT:
        return None
    rows: dict[ConnectionKey, RowState] = {}
    try:
        for name, encoded in raw.items():
            if name == FORMAT_KEY:
                continue
            platform, _, account_id = str(name).partition("#")
            version, _, digest = str(encoded)[2:].partition(":")
            status, verified = _STATUSES[str(encoded)[0]], str(encoded)[1]
            if not account_id or verified not in "01" or not version.isdigit():
                return None
            rows[ConnectionKey(Platform(platform), account_id)] = RowState(
                status, int(version), verified == "1", digest
            )
    except (KeyError, ValueError, IndexError):
        return None
    return rows


def row_check(table: str, key: Mapping[str, AttributeValueTypeDef], check: RowCheck) -> ConditionCheckTypeDef:
    """A row the plan leaves alone: it still carries the details (and, where it matters, the status) assumed."""
    condition = f"{DETAILS_DIGEST_ATTRIBUTE} = :digest"
    values: dict[str, AttributeValueTypeDef] = {":digest": {"S": check.details_digest}}
    if check.status is not None:
        condition += " AND connectionStatus = :assumed_status"
        values[":assumed_status"] = {"S": check.status.value}
    return {"TableName": table, "Key": dict(key), "ConditionExpression": condition, "ExpressionAttributeValues": values}
