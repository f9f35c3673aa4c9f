"""The sparse AttentionIndex: every connection in `expired` or `error`, read one `<status>#<platform>` key at a time."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING

from social_connections.model import AttentionRow, ConnectionStatus
from social_connections.providers import Platform
from social_connections.storage.attribute_values import plain
from social_connections.storage.items import (
    ATTENTION_ATTRIBUTE,
    ATTENTION_INDEX,
    ATTENTION_STATUSES,
    attention_value,
    connection_from,
    s,
)

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import AttributeValueTypeDef, QueryInputTypeDef


class AttentionIndexReader:
    """Lists the rows that need attention; one Query per status and platform, so the cost follows the rows listed."""

    def __init__(self, table_name: str, client: DynamoDBClient) -> None:
        self._table = table_name
        self._client = client

    def rows(self, platforms: Iterable[Platform] = tuple(Platform)) -> list[AttentionRow]:
        """Rows in `expired` or `error` on these platforms, ordered by status, platform, user and account."""
        found: list[AttentionRow] = []
        for status in sorted(ATTENTION_STATUSES):
            for platform in platforms:
                found.extend(self._rows_under(str(attention_value(status, platform))))
        return sorted(found, key=lambda row: (row.status, row.key.platform, row.user_id, row.key.external_account_id))

    def _rows_under(self, attention: str) -> Iterator[AttentionRow]:
        request: QueryInputTypeDef = {
            "TableName": self._table,
            "IndexName": ATTENTION_INDEX,
            "KeyConditionExpression": f"{ATTENTION_ATTRIBUTE} = :attention",
            "ExpressionAttributeValues": {":attention": s(attention)},
        }
        while True:
            page = self._client.query(**request)
            for item in page.get("Items", []):
                row = _attention_row(item)
                if row is not None:
                    yield row
            last_key = page.get("LastEvaluatedKey")
            if not last_key:
                return
            request["ExclusiveStartKey"] = last_key


def _attention_row(item: Mapping[str, AttributeValueTypeDef]) -> AttentionRow | None:
    values = plain(item)
    stored = connection_from(values)
    user_id = values.get("userId")
    if stored is None or not isinstance(user_id, str) or stored.status not in ATTENTION_STATUSES:
        return None  # an index entry read after its row left the state (the index is eventually consistent)
    return AttentionRow(
        user_id=user_id,
        key=stored.key,
        status=ConnectionStatus(stored.status),
        since=_text(values.get("updatedAt")),
        error_count=stored.error_count,
        last_error=_text(values.get("lastError")),
        last_error_at=_text(values.get("lastErrorAt")),
    )


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None
