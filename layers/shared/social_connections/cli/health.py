"""`clerk-connections health`: every connection that needs attention (`expired` or `error`), from the AttentionIndex.

One Query per status and platform on the sparse index, never a scan, so the cost follows the rows listed. It prints
platform, status, since (the row's last change), error count and last error, then counts by platform and status;
never the e-mail addresses, names or image URLs the rows keep. Exit 0 when the index was read, 2 when it cannot be.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from collections.abc import Sequence
from typing import Final

from botocore.exceptions import BotoCoreError, ClientError

from social_connections.cli.aws import (
    EXIT_CONFIGURATION,
    TargetError,
    add_target_arguments,
    failure_reason,
    format_table,
    open_target,
)
from social_connections.model import AttentionRow
from social_connections.providers import Platform
from social_connections.storage.attention_index import AttentionIndexReader

HEADER: Final = ("platform", "status", "since", "errorCount", "user", "account id", "last error")
MAX_ERROR_WIDTH: Final = 60


def row_detail(row: AttentionRow) -> dict[str, object]:
    return {
        "userId": row.user_id,
        "platform": row.key.platform.value,
        "externalAccountId": row.key.external_account_id,
        "status": row.status.value,
        "since": row.since,
        "errorCount": row.error_count,
        "lastError": row.last_error,
        "lastErrorAt": row.last_error_at,
    }


def counts(rows: Sequence[AttentionRow]) -> dict[str, dict[str, int]]:
    """{status: {platform: n}} for the rows listed."""
    tally = Counter((row.status.value, row.key.platform.value) for row in rows)
    result: dict[str, dict[str, int]] = {}
    for (status, platform), number in sorted(tally.items()):
        result.setdefault(status, {})[platform] = number
    return result


def render(rows: Sequence[AttentionRow]) -> str:
    if not rows:
        return "no connection needs attention (none is expired or in error)"
    lines = [
        (
            row.key.platform.value,
            row.status.value,
            row.since or "-",
            str(row.error_count),
            row.user_id,
            row.key.external_account_id,
            _short(row.last_error),
        )
        for row in rows
    ]
    summary = [
        f"{status}: " + ", ".join(f"{platform} {number}" for platform, number in by_platform.items())
        for status, by_platform in counts(rows).items()
    ]
    return format_table(HEADER, lines) + f"\n\n{len(rows)} need attention. " + "; ".join(summary)


def _short(text: str | None) -> str:
    if not text:
        return "-"
    flat = " ".join(text.split())
    return flat if len(flat) <= MAX_ERROR_WIDTH else flat[: MAX_ERROR_WIDTH - 3] + "..."


def add_to(subcommands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subcommands.add_parser("health", help="connections in expired or error, with counts (no e-mail or names)")
    parser.add_argument("--platform", choices=[platform.value for platform in Platform], help="only this platform")
    parser.add_argument("--json", action="store_true", help="one JSON object: rows and counts by status and platform")
    add_target_arguments(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    platforms = [Platform(args.platform)] if args.platform else list(Platform)
    try:
        target = open_target(args)
        rows = AttentionIndexReader(target.table_name, target.client).rows(platforms)
    except TargetError as error:
        print(error, file=sys.stderr)
        return EXIT_CONFIGURATION
    except (ClientError, BotoCoreError) as error:  # no table or index, no credentials, endpoint unreachable
        print(f"could not read the AttentionIndex: {_reason(error, target.table_name)}", file=sys.stderr)
        return EXIT_CONFIGURATION
    if args.json:
        print(json.dumps({"rows": [row_detail(row) for row in rows], "counts": counts(rows), "total": len(rows)}))
    else:
        print(render(rows))
    return 0


def _reason(error: Exception, table_name: str) -> str:
    # DynamoDB answers a missing index with a ValidationException, moto with ResourceNotFoundException.
    message = str(error.response.get("Error", {}).get("Message", "")) if isinstance(error, ClientError) else ""
    if isinstance(error, ClientError) and ("index" in message.lower() or "not found" in message.lower()):
        return f"table {table_name} or its AttentionIndex not found (an older stack: deploy the current template)"
    return failure_reason(error, table_name)
