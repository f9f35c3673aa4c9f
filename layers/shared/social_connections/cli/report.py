"""`clerk-connections report USER PLATFORM ACCOUNT --ok | --error TEXT`: record one publish result on a connection.

What a sharing feature does after posting for a user, through the same DynamoDBConnectionStore methods: `--error`
counts a failure (the stream function moves the row to `error` at the threshold), `--ok` resets the count (and the
row recovers). Exit 1 when there is no such connection, or, for `--ok`, no failure to reset. With `--api URL` it
goes through the connections API instead (docs/connections-api.md): exit 1 only when there is no such connection.
"""

from __future__ import annotations

import argparse
import sys

from botocore.exceptions import BotoCoreError, ClientError

from social_connections.cli.api import add_api_argument, call_api
from social_connections.cli.aws import (
    EXIT_CONFIGURATION,
    EXIT_FAILED,
    TargetError,
    add_target_arguments,
    failure_reason,
    open_target,
)
from social_connections.model import ConnectionKey
from social_connections.providers import Platform
from social_connections.storage import DynamoDBConnectionStore


def add_to(subcommands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subcommands.add_parser("report", help="record a publish success (--ok) or failure (--error TEXT)")
    parser.add_argument("user_id", help="the Clerk user id (user_...)")
    parser.add_argument("platform", choices=[platform.value for platform in Platform], help="the connection's platform")
    parser.add_argument("account_id", help="Clerk's id of the linked account (the `account id` column, eac_...)")
    result = parser.add_mutually_exclusive_group(required=True)
    result.add_argument("--ok", action="store_true", help="a publish succeeded: reset the error count to 0")
    result.add_argument("--error", metavar="TEXT", help="a publish failed with this message: count one failure")
    add_target_arguments(parser)
    add_api_argument(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    key = ConnectionKey(Platform(args.platform), args.account_id)
    what = f"{args.user_id} {key.platform.value} {key.external_account_id}"
    if args.api:
        outcome = call_api(
            args.api,
            args.region,
            lambda api: api.report(args.user_id, key.platform, key.external_account_id, ok=args.ok, error=args.error),
        )
        if isinstance(outcome, int):
            return outcome
        print(f"recorded {'a success' if args.ok else 'a failure'} for {what} (through the API)")
        return 0
    try:
        target = open_target(args)
        store = DynamoDBConnectionStore(target.table_name, target.client)
        if args.ok:
            recorded = store.record_publish_success(args.user_id, key)
        else:
            recorded = store.record_publish_failure(args.user_id, key, args.error)
    except TargetError as error:
        print(error, file=sys.stderr)
        return EXIT_CONFIGURATION
    except (ClientError, BotoCoreError) as error:
        print(f"could not record for {what}: {failure_reason(error, target.table_name)}", file=sys.stderr)
        return EXIT_CONFIGURATION
    if recorded:
        print(f"recorded {'a success' if args.ok else 'a failure'} for {what}")
        return 0
    reason = "no such connection, or no failure to reset" if args.ok else "no such connection"
    print(f"nothing recorded for {what}: {reason} (see `clerk-connections connections {args.user_id}`)")
    return EXIT_FAILED
