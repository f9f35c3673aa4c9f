"""What every subcommand needs to reach the table: a DynamoDB client for AWS or for a local stack, and table text."""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Final
from urllib.parse import urlsplit

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, EndpointConnectionError, NoRegionError

from social_connections.cli.local_stack import NoLocalStackError, read_state

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

EXIT_FAILED: Final = 1
EXIT_CONFIGURATION: Final = 2
LOOPBACK_HOSTS: Final = frozenset({"127.0.0.1", "localhost", "::1"})
LOCAL_REGION: Final = "us-east-1"
# The local stack names its table after the template's logical id.
LOCAL_TABLE_NAME: Final = "ConnectionsTable"
# Fail fast when the local stack is not running; a deployed table answers well within these.
CLIENT_CONFIG: Final = Config(retries={"mode": "standard", "total_max_attempts": 2}, connect_timeout=3, read_timeout=10)


def is_loopback(url: str | None) -> bool:
    return bool(url) and urlsplit(url or "").hostname in LOOPBACK_HOSTS


def dynamodb_client(endpoint_url: str | None, region: str | None) -> DynamoDBClient:
    """A client for the given endpoint; a loopback one (moto) gets dummy credentials so none of yours are used."""
    effective = endpoint_url or os.environ.get("AWS_ENDPOINT_URL_DYNAMODB") or os.environ.get("AWS_ENDPOINT_URL")
    if not is_loopback(effective):
        return boto3.client("dynamodb", endpoint_url=endpoint_url, region_name=region, config=CLIENT_CONFIG)
    return boto3.client(
        "dynamodb",
        endpoint_url=effective,
        region_name=region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or LOCAL_REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",  # noqa: S106 - moto accepts any key; this one is not a secret
        config=CLIENT_CONFIG,
    )


class TargetError(Exception):
    """The table cannot be reached as configured; the message says what to change."""


@dataclass(frozen=True, slots=True)
class Target:
    """The table a subcommand works on, and a client that reaches it."""

    client: DynamoDBClient
    table_name: str
    endpoint_url: str | None


def add_target_arguments(parser: argparse.ArgumentParser) -> None:
    """--local, or --table/--endpoint-url/--region for a deployed table or another endpoint."""
    parser.add_argument(
        "--local", action="store_true", help="the table of the running `make dev`, found from its state file"
    )
    parser.add_argument(
        "--table", help=f"table name (default: $TABLE_NAME, else {LOCAL_TABLE_NAME}, the local stack's)"
    )
    parser.add_argument("--endpoint-url", help="DynamoDB endpoint (default: $AWS_ENDPOINT_URL, else AWS)")
    parser.add_argument("--region", help="AWS region (default: the usual AWS configuration; us-east-1 for loopback)")


def open_target(args: argparse.Namespace) -> Target:
    """The table named by the arguments; TargetError when --local finds no running stack or the SDK has no region."""
    try:
        if args.local:
            state = read_state()
            client = dynamodb_client(state.endpoint_url, state.region)
            return Target(client, args.table or state.table_name, state.endpoint_url)
        table = args.table or os.environ.get("TABLE_NAME") or LOCAL_TABLE_NAME
        endpoint = (
            args.endpoint_url or os.environ.get("AWS_ENDPOINT_URL_DYNAMODB") or os.environ.get("AWS_ENDPOINT_URL")
        )
        return Target(dynamodb_client(args.endpoint_url, args.region), table, endpoint)
    except NoLocalStackError as error:
        raise TargetError(str(error)) from None
    except BotoCoreError as error:
        raise TargetError(failure_reason(error, args.table or "")) from None


def failure_reason(error: Exception, table_name: str) -> str:
    """A one-line reason for a failed read or write, with the fix for the usual first-hour causes."""
    code = error.response.get("Error", {}).get("Code", "") if isinstance(error, ClientError) else ""
    if code == "ResourceNotFoundException":
        return f"table {table_name} not found (for the running make dev, use --local)"
    if isinstance(error, NoRegionError):
        return "no AWS region configured: pass --region for a deployed table, or --local for the running make dev"
    if isinstance(error, EndpointConnectionError):
        return f"{error} (is make dev still running?)"
    return str(error)


def cell_text(value: object) -> str:
    """A table cell: '-' for nothing, whole numbers without a decimal point."""
    if value is None or value == "":
        return "-"
    if isinstance(value, Decimal):
        return str(int(value)) if value == value.to_integral_value() else str(value)
    return str(value)


def format_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(cell) for cell in column) for column in zip(header, *rows, strict=True)]
    lines = [header, ["-" * width for width in widths], *rows]
    cells = (zip(line, widths, strict=True) for line in lines)
    return "\n".join("  ".join(cell.ljust(width) for cell, width in line).rstrip() for line in cells)
