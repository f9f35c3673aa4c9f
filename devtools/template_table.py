"""Build the ConnectionsTable from its definition in template.yaml: the one source of truth for the schema."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import yaml

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import CreateTableInputTypeDef

TEMPLATE_PATH = Path(__file__).resolve().parent.parent / "template.yaml"
TABLE_LOGICAL_ID = "ConnectionsTable"


class _CloudFormationLoader(yaml.SafeLoader):
    """SafeLoader that keeps CloudFormation short-form tags (!Ref, !GetAtt, !Sub...) as plain values."""


def _keep_tag(loader: yaml.SafeLoader, _suffix: str, node: yaml.Node) -> object:
    if isinstance(node, yaml.ScalarNode):
        return loader.construct_scalar(node)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node)
    return loader.construct_mapping(cast("yaml.MappingNode", node))


_CloudFormationLoader.add_multi_constructor("!", _keep_tag)


def load_template(path: Path = TEMPLATE_PATH) -> dict[str, Any]:
    with path.open(encoding="utf-8") as handle:
        return cast("dict[str, Any]", yaml.load(handle, Loader=_CloudFormationLoader))  # noqa: S506 - SafeLoader subclass


def table_properties(path: Path = TEMPLATE_PATH) -> dict[str, Any]:
    return cast("dict[str, Any]", load_template(path)["Resources"][TABLE_LOGICAL_ID]["Properties"])


def create_table_request(table_name: str, path: Path = TEMPLATE_PATH) -> CreateTableInputTypeDef:
    """create_table arguments equivalent to the template's table (keys, billing, stream view)."""
    props = table_properties(path)
    request: dict[str, Any] = {
        "TableName": table_name,
        "KeySchema": props["KeySchema"],
        "AttributeDefinitions": props["AttributeDefinitions"],
        "BillingMode": props["BillingMode"],
    }
    stream = props.get("StreamSpecification")
    if stream:
        request["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": stream["StreamViewType"]}
    return cast("CreateTableInputTypeDef", request)


def create_connections_table(client: DynamoDBClient, table_name: str) -> str:
    """Create the table as the template defines it (plus its TTL setting) and return its stream ARN."""
    description = client.create_table(**create_table_request(table_name))["TableDescription"]
    ttl = table_properties().get("TimeToLiveSpecification")
    if ttl:
        client.update_time_to_live(
            TableName=table_name,
            TimeToLiveSpecification={"AttributeName": ttl["AttributeName"], "Enabled": bool(ttl["Enabled"])},
        )
    return description.get("LatestStreamArn", "")
