"""Read the table's stream like Lambda's event source mapping does, and shape records as Lambda delivers them."""

from __future__ import annotations

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
