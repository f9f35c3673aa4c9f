"""Read the table's stream like Lambda's event source mapping does, and shape records as Lambda delivers them."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mypy_boto3_dynamodbstreams import DynamoDBStreamsClient


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
    """Follows every shard of one stream from TRIM_HORIZON, returning only records not read before."""

    def __init__(self, client: DynamoDBStreamsClient, stream_arn: str) -> None:
        self._client = client
        self._arn = stream_arn
        self._iterators: dict[str, str | None] = {}

    def _shard_iterators(self) -> Iterator[tuple[str, str]]:
        shards = self._client.describe_stream(StreamArn=self._arn)["StreamDescription"].get("Shards", [])
        for shard in shards:
            shard_id = shard["ShardId"]
            if shard_id not in self._iterators:
                self._iterators[shard_id] = self._client.get_shard_iterator(
                    StreamArn=self._arn, ShardId=shard_id, ShardIteratorType="TRIM_HORIZON"
                )["ShardIterator"]
            iterator = self._iterators[shard_id]
            if iterator:
                yield shard_id, iterator

    def read(self, limit: int = 1000) -> list[dict[str, Any]]:
        """New records of all shards (Lambda-shaped), oldest first within a shard."""
        records: list[dict[str, Any]] = []
        for shard_id, iterator in list(self._shard_iterators()):
            response = self._client.get_records(ShardIterator=iterator, Limit=limit)
            self._iterators[shard_id] = response.get("NextShardIterator")
            records.extend(lambda_record(dict(raw), self._arn) for raw in response.get("Records", []))
        return records


def stream_event(records: list[dict[str, Any]]) -> dict[str, Any]:
    return {"Records": records}
