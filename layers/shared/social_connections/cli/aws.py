"""What every subcommand needs to reach the table: a DynamoDB client for AWS or for a local stack, and table text."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Final
from urllib.parse import urlsplit

import boto3
from botocore.config import Config

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

EXIT_FAILED: Final = 1
EXIT_CONFIGURATION: Final = 2
LOOPBACK_HOSTS: Final = frozenset({"127.0.0.1", "localhost", "::1"})
LOCAL_REGION: Final = "us-east-1"
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


def format_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(cell) for cell in column) for column in zip(header, *rows, strict=True)]
    lines = [header, ["-" * width for width in widths], *rows]
    cells = (zip(line, widths, strict=True) for line in lines)
    return "\n".join("  ".join(cell.ljust(width) for cell, width in line).rstrip() for line in cells)
