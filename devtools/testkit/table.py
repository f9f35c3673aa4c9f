"""The table as tests see it: every item as plain values, a user's rows, and the stream read as Lambda reads it."""

from __future__ import annotations

import os
from datetime import datetime
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import boto3

if TYPE_CHECKING:
    from mypy_boto3_dynamodbstreams import DynamoDBStreamsClient


@lru_cache(maxsize=4)
def _resource(endpoint_url: str | None) -> Any:
    # Building a resource costs milliseconds, and property tests scan thousands of times; one per endpoint.
    return boto3.resource("dynamodb", endpoint_url=endpoint_url)


def table_items(table_name: str | None = None) -> list[dict[str, Any]]:
    """Every item of the table (TABLE_NAME unless named), paged and consistent, as plain values sorted by key."""
    table = _resource(os.environ.get("AWS_ENDPOINT_URL")).Table(table_name or os.environ["TABLE_NAME"])
    items: list[dict[str, Any]] = []
    request: dict[str, Any] = {"ConsistentRead": True}
    while True:
        page = table.scan(**request)
        items.extend(page["Items"])
        if "LastEvaluatedKey" not in page:
            return sorted(items, key=lambda item: (str(item["pk"]), str(item["sk"])))
        request["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def user_rows(user_id: str, table_name: str | None = None) -> dict[str, dict[str, Any]]:
    """A user's items by sort key (PROFILE, CONNECTION#...)."""
    return {str(item["sk"]): item for item in table_items(table_name) if item["pk"] == f"USER#{user_id}"}


def lambda_record(raw: dict[str, Any], stream_arn: str) -> dict[str, Any]:
    """A GetRecords record as Lambda passes it: with eventSourceARN, and the creation time as epoch seconds."""
    record = dict(raw)
    dynamodb = dict(record.get("dynamodb", {}))
    created = dynamodb.get("ApproximateCreationDateTime")
    if isinstance(created, datetime):
        dynamodb["ApproximateCreationDateTime"] = created.timestamp()
    record["dynamodb"] = dynamodb
    record["eventSourceARN"] = stream_arn
    record.setdefault("eventSource", "aws:dynamodb")
    record.setdefault("awsRegion", "us-east-1")
    return record


class StreamReader:
    """Follows every shard of one stream from TRIM_HORIZON, returning only records not read before.

    It keeps the last sequence number read per shard and takes a fresh iterator on each read, as a checkpointing
    consumer does. A kept iterator goes stale under moto: a cancelled TransactWriteItems restores the table from a
    copy, with a new stream shard object, and iterators of the old one never see another record.
    """

    def __init__(self, client: DynamoDBStreamsClient, stream_arn: str) -> None:
        self._client = client
        self._arn = stream_arn
        self._last_read: dict[str, str] = {}

    def _iterator(self, shard_id: str) -> str:
        last = self._last_read.get(shard_id)
        if last is None:
            response = self._client.get_shard_iterator(
                StreamArn=self._arn, ShardId=shard_id, ShardIteratorType="TRIM_HORIZON"
            )
        else:
            response = self._client.get_shard_iterator(
                StreamArn=self._arn, ShardId=shard_id, ShardIteratorType="AFTER_SEQUENCE_NUMBER", SequenceNumber=last
            )
        return response["ShardIterator"]

    def read(self, limit: int = 1000) -> list[dict[str, Any]]:
        """New records of all shards (Lambda-shaped), oldest first within a shard."""
        records: list[dict[str, Any]] = []
        shards = self._client.describe_stream(StreamArn=self._arn)["StreamDescription"].get("Shards", [])
        for shard in shards:
            shard_id = shard["ShardId"]
            raw_records = self._client.get_records(ShardIterator=self._iterator(shard_id), Limit=limit)["Records"]
            if raw_records:
                self._last_read[shard_id] = raw_records[-1]["dynamodb"]["SequenceNumber"]
            records.extend(lambda_record(dict(raw), self._arn) for raw in raw_records)
        return records


def stream_event(records: list[dict[str, Any]]) -> dict[str, Any]:
    return {"Records": records}
