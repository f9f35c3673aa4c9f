"""A user's stored connections as a readable table, from any table: the local stack's (moto) or a deployed one.

`make connections USER_ID=... [TABLE=...] [ENDPOINT_URL=...]` (`python -m devtools.connections`). It reads through
DynamoDBConnectionStore, so no DynamoDB expression lives here, and prints only the columns below: never the e-mail
addresses or names that connection rows keep in their metadata.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Final
from urllib.parse import urlsplit

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from social_connections.clock import iso_from_millis
from social_connections.storage import DynamoDBConnectionStore
from social_connections.storage.items import CONNECTION_PREFIX, PROFILE_SK

from devtools.testkit.template import TABLE_LOGICAL_ID

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

# The column title and the item attribute it shows, in order.
COLUMNS: Final = (
    ("platform", "platform"),
    ("account id", "externalAccountId"),
    ("status", "connectionStatus"),
    ("username", "platformUsername"),
    ("errorCount", "errorCount"),
    ("connectedAt", "connectedAt"),
    ("updatedAt", "updatedAt"),
)
LOOPBACK_HOSTS: Final = frozenset({"127.0.0.1", "localhost", "::1"})
LOCAL_REGION: Final = "us-east-1"
# Fail fast when the local stack is not running; a deployed table answers well within these.
CLIENT_CONFIG: Final = Config(retries={"mode": "standard", "total_max_attempts": 2}, connect_timeout=3, read_timeout=10)
EXIT_NOT_FOUND: Final = 1
EXIT_ERROR: Final = 2


def _text(value: object) -> str:
    if value is None or value == "":
        return "-"
    if isinstance(value, Decimal):
        return str(int(value)) if value == value.to_integral_value() else str(value)
    return str(value)


def profile_line(user_id: str, items: Sequence[Mapping[str, object]]) -> str:
    profile = next((item for item in items if item.get("sk") == PROFILE_SK), None)
    if profile is None:
        return f"user {user_id}: no profile stored"
    status = _text(profile.get("profileStatus"))
    if "deletedAt" in profile:
        return f"user {user_id}: profile {status} at {_text(profile['deletedAt'])} (a tombstone: later events ignored)"
    version = profile.get("version")
    if isinstance(version, Decimal):
        return f"user {user_id}: profile {status}, version {int(version)} ({iso_from_millis(int(version))})"
    return f"user {user_id}: profile {status}"


def connection_rows(items: Iterable[Mapping[str, object]]) -> list[tuple[str, ...]]:
    """One row of text per connection item, sorted by platform then account id."""
    connections = [item for item in items if str(item.get("sk", "")).startswith(CONNECTION_PREFIX)]
    rows = [tuple(_text(item.get(attribute)) for _, attribute in COLUMNS) for item in connections]
    return sorted(rows)


def format_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(cell) for cell in column) for column in zip(header, *rows, strict=True)]
    lines = [header, ["-" * width for width in widths], *rows]
    cells = (zip(line, widths, strict=True) for line in lines)
    return "\n".join("  ".join(cell.ljust(width) for cell, width in line).rstrip() for line in cells)


def render(user_id: str, items: Sequence[Mapping[str, object]]) -> str:
    rows = connection_rows(items)
    table = format_table([title for title, _ in COLUMNS], rows) if rows else "no connection rows"
    return f"{profile_line(user_id, items)}\n{table}"


def _is_loopback(url: str | None) -> bool:
    return bool(url) and urlsplit(url or "").hostname in LOOPBACK_HOSTS


def dynamodb_client(endpoint_url: str | None, region: str | None) -> DynamoDBClient:
    """A client for the given endpoint; a loopback one (moto) gets dummy credentials so none of yours are used."""
    effective = endpoint_url or os.environ.get("AWS_ENDPOINT_URL_DYNAMODB") or os.environ.get("AWS_ENDPOINT_URL")
    if not _is_loopback(effective):
        return boto3.client("dynamodb", endpoint_url=endpoint_url, region_name=region, config=CLIENT_CONFIG)
    return boto3.client(
        "dynamodb",
        endpoint_url=effective,
        region_name=region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or LOCAL_REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",  # noqa: S106 - moto accepts any key; this one is not a secret
        config=CLIENT_CONFIG,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m devtools.connections", description="Print a user's stored social connections as a table."
    )
    parser.add_argument("user_id", help="the Clerk user id (user_...)")
    parser.add_argument(
        "--table",
        default=os.environ.get("TABLE_NAME") or TABLE_LOGICAL_ID,
        help=f"table name (default: $TABLE_NAME, else {TABLE_LOGICAL_ID}, the local stack's)",
    )
    parser.add_argument(
        "--endpoint-url",
        help="DynamoDB endpoint, e.g. the moto URL `make dev` prints (default: $AWS_ENDPOINT_URL, AWS)",
    )
    parser.add_argument("--region", help="AWS region (default: the usual AWS configuration; us-east-1 for loopback)")
    args = parser.parse_args(argv)
    try:
        client = dynamodb_client(args.endpoint_url, args.region)
        items = DynamoDBConnectionStore(args.table, client).read_user_items(args.user_id)
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        reason = f"table {args.table} not found" if code == "ResourceNotFoundException" else str(error)
        print(f"could not read {args.user_id}: {reason}", file=sys.stderr)
        return EXIT_ERROR
    except BotoCoreError as error:  # no credentials or region, endpoint unreachable
        print(f"could not read {args.user_id}: {error}", file=sys.stderr)
        return EXIT_ERROR
    print(render(args.user_id, items))
    return 0 if items else EXIT_NOT_FOUND


if __name__ == "__main__":
    raise SystemExit(main())
