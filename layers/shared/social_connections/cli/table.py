"""`clerk-connections table`: every item of the local stack's table, one readable line each, grouped by user.

It is for `make dev` (a loopback endpoint only: a deployed table is read per user with `connections`). It prints the
columns below and never the e-mail addresses or names kept in the rows' metadata.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Final

from botocore.exceptions import BotoCoreError, ClientError

from social_connections.cli.aws import (
    EXIT_CONFIGURATION,
    EXIT_FAILED,
    TargetError,
    cell_text,
    failure_reason,
    format_table,
    is_loopback,
    open_target,
)
from social_connections.clock import iso_from_millis
from social_connections.storage import DynamoDBConnectionStore
from social_connections.storage.items import CONNECTION_PREFIX, PROFILE_SK

HEADER: Final = ("user", "item", "status", "username", "errorCount", "lastError", "changed")
DEFAULT_LIMIT: Final = 500
LAST_ERROR_WIDTH: Final = 40


def _short(value: object) -> str:
    text = cell_text(value)
    return text if len(text) <= LAST_ERROR_WIDTH else text[: LAST_ERROR_WIDTH - 3] + "..."


def _profile_row(user: str, item: Mapping[str, object]) -> tuple[str, ...]:
    version = item.get("version")
    changed = item.get("deletedAt") or (iso_from_millis(int(version)) if isinstance(version, Decimal) else None)
    return (user, "profile", cell_text(item.get("profileStatus")), "-", "-", "-", cell_text(changed))


def _connection_row(user: str, item: Mapping[str, object]) -> tuple[str, ...]:
    return (
        user,
        f"{cell_text(item.get('platform'))} {cell_text(item.get('externalAccountId'))}",
        cell_text(item.get("connectionStatus")),
        cell_text(item.get("platformUsername")),
        cell_text(item.get("errorCount")),
        _short(item.get("lastError")),
        cell_text(item.get("updatedAt")),
    )


def rows(items: Sequence[Mapping[str, object]]) -> list[tuple[str, ...]]:
    """One row per item, profile first within each user, users and rows sorted; unknown items shown by key."""
    lines: list[tuple[int, tuple[str, ...]]] = []
    for item in items:
        user = cell_text(item.get("userId") or str(item.get("pk", "")).partition("#")[2])
        sk = str(item.get("sk", ""))
        if sk == PROFILE_SK:
            lines.append((0, _profile_row(user, item)))
        elif sk.startswith(CONNECTION_PREFIX):
            lines.append((1, _connection_row(user, item)))
        else:
            lines.append((2, (user, sk or "-", "-", "-", "-", "-", "-")))
    return [row for _, row in sorted(lines, key=lambda line: (line[1][0], line[0], line[1][1:]))]


def render(items: Sequence[Mapping[str, object]], table_name: str, limit: int) -> str:
    if not items:
        return f"{table_name}: empty"
    lines = rows(items)
    more = f" (the first {limit}; --limit shows more)" if len(items) >= limit else ""
    title = f"{table_name}: {len(items)} items, {len({row[0] for row in lines})} users{more}"
    return f"{title}\n{format_table(HEADER, lines)}"


def add_to(subcommands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subcommands.add_parser(
        "table", help="every item of the local stack's table, readably (no e-mail or names)"
    )
    parser.add_argument("--endpoint-url", help="a loopback DynamoDB endpoint (default: the running `make dev`)")
    parser.add_argument("--table", help="table name (default: the local stack's)")
    parser.add_argument("--limit", type=int, default=DEFAULT_LIMIT, help=f"items to show at most ({DEFAULT_LIMIT})")
    parser.set_defaults(run=run, local=None, region=None)


def run(args: argparse.Namespace) -> int:
    if args.endpoint_url and not is_loopback(args.endpoint_url):
        print("table reads a whole table: only for a local endpoint (127.0.0.1 or localhost)", file=sys.stderr)
        return EXIT_CONFIGURATION
    args.local = not args.endpoint_url
    try:
        target = open_target(args)
        items = DynamoDBConnectionStore(target.table_name, target.client).read_all_items(args.limit)
    except TargetError as error:
        print(error, file=sys.stderr)
        return EXIT_CONFIGURATION
    except (ClientError, BotoCoreError) as error:
        print(f"could not read the table: {failure_reason(error, target.table_name)}", file=sys.stderr)
        return EXIT_CONFIGURATION
    print(render(items, target.table_name, args.limit))
    return 0 if items else EXIT_FAILED
