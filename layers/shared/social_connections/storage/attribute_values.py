"""Items and stream images read back into plain values, with boto3's TypeDeserializer (numbers as Decimal).

Writes build their attribute values directly (`storage.items.text_value`, `metadata_value`, literals in the
writers): boto3's TypeSerializer cost several times more per event (docs/performance.md, B2).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from boto3.dynamodb.types import TypeDeserializer

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.type_defs import AttributeValueTypeDef

_deserializer = TypeDeserializer()


def plain(item: Mapping[str, AttributeValueTypeDef]) -> dict[str, object]:
    return {name: _deserializer.deserialize(attribute) for name, attribute in item.items()}
