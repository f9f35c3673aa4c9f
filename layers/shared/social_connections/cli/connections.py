"""`clerk-connections connections USER_ID`: what the table holds for one user, the profile and then one line per row.

It reads through DynamoDBConnectionStore, so no DynamoDB expression lives here, and prints only the columns below:
never the e-mail addresses or names that connection rows keep in their metadata.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Final

from botocore.exceptions import BotoCoreError, ClientError

from social_connections.cli.api import add_api_argument, call_api
from social_connections.cli.aws import (
    EXIT_CONFIGURATION,
    EXIT_FAILED,
    TargetError,
    add_target_arguments,
    cell_text,
    failure_reason,
    format_table,
    open_target,
)
from social_connections.clock import iso_from_millis
from social_connections.connections_api_models import ConnectionList
from social_connections.storage import DynamoDBConnectionStore
from social_connections.storage.items import CONNECTION_PREFIX, PROFILE_SK

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


def profile_line(user_id: str, items: Sequence[Mapping[str, object]]) -> str:
    profile = next((item for item in items if item.get("sk") == PROFILE_SK), None)
    if profile is None:
        return f"user {user_id}: no profile stored"
    status = cell_text(profile.get("profileStatus"))
    if "deletedAt" in profile:
        return (
            f"user {user_id}: profile {status} at {cell_text(profile['deletedAt'])} (a tombstone: later events ignored)"
        )
    version = profile.get("version")
    if isinstance(version, Decimal):
        return f"user {user_id}: profile {status}, version {int(version)} ({iso_from_millis(int(version))})"
    return f"user {user_id}: profile {status}"


def connection_rows(items: Iterable[Mapping[str, object]]) -> list[tuple[str, ...]]:
    """One row of text per connection item, sorted by platform then account id."""
    connections = [item for item in items if str(item.get("sk", "")).startswith(CONNECTION_PREFIX)]
    rows = [tuple(cell_text(item.get(attribute)) for _, attribute in COLUMNS) for item in connections]
    return sorted(rows)


def render(user_id: str, items: Sequence[Mapping[str, object]]) -> str:
    rows = connection_rows(items)
    table = format_table([title for title, _ in COLUMNS], rows) if rows else "no connection rows"
    return f"{profile_line(user_id, items)}\n{table}"


def add_to(subcommands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subcommands.add_parser("connections", help="a user's stored connections as a table (no e-mail or names)")
    parser.add_argument("user_id", help="the Clerk user id (user_...)")
    add_target_arguments(parser)
    add_api_argument(parser)
    parser.set_defaults(run=run)


def _api_items(listing: ConnectionList) -> list[dict[str, object]]:
    """The API's connections as the table's attribute names, so both ways print the same table."""
    return [
        {
            "sk": f"{CONNECTION_PREFIX}{c.platform.value}#{c.externalAccountId}",
            "platform": c.platform.value,
            "externalAccountId": c.externalAccountId,
            "connectionStatus": c.status.value,
            "platformUsername": c.username,
            "errorCount": c.errorCount,
            "connectedAt": c.connectedAt,
            "updatedAt": c.updatedAt,
        }
        for c in listing.connections
    ]


def run(args: argparse.Namespace) -> int:
    if args.api:
        listing = call_api(args.api, args.region, lambda api: api.connections(args.user_id))
        if isinstance(listing, int):
            return listing
        rows = connection_rows(_api_items(listing))
        table = format_table([title for title, _ in COLUMNS], rows) if rows else "no connection rows"
        print(f"user {args.user_id}: active (through the API)\n{table}")
        return 0
    try:
        target = open_target(args)
        items = DynamoDBConnectionStore(target.table_name, target.client).read_user_items(args.user_id)
    except TargetError as error:
        print(error, file=sys.stderr)
        return EXIT_CONFIGURATION
    except (ClientError, BotoCoreError) as error:  # no table, no credentials or region, endpoint unreachable
        print(f"could not read {args.user_id}: {failure_reason(error, target.table_name)}", file=sys.stderr)
        return EXIT_CONFIGURATION
    print(render(args.user_id, items))
    return 0 if items else EXIT_FAILED
