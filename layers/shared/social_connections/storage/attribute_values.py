"""Attribute values of what the rows hold, both ways: built directly for writes, boto3's deserializer for reads.

Writes are on every event's path, so `value` builds the few shapes the rows use by hand: boto3's TypeSerializer
cost several times more per event (docs/performance.md, B2). Reads keep boto3's TypeDeserializer (numbers as Decimal).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.type_defs import AttributeValueTypeDef

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


def value(python_value: object) -> AttributeValueTypeDef:
    """Text, integers, flags, and maps and lists of them, as DynamoDB attribute values."""
    match python_value:
        case None:
            attribute: AttributeValueTypeDef = {"NULL": True}
        case str():
            attribute = {"S": python_value}
        case bool():
            attribute = {"BOOL": python_value}
        case int():
            attribute = {"N": str(python_value)}
        case dict():
            attribute = {"M": {str(name): value(item) for name, item in python_value.items()}}
        case list() | tuple():
            attribute = {"L": [value(item) for item in python_value]}
        case _:  # anything else (Decimal, sets, bytes) as boto3 writes it
            attribute = _serializer.serialize(python_value)
    return attribute


def plain(item: Mapping[str, AttributeValueTypeDef]) -> dict[str, object]:
    return {name: _deserializer.deserialize(attribute) for name, attribute in item.items()}
