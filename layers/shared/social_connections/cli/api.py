"""What subcommands need to go through the connections API instead of the table: the `--api URL` option and the call.

With `--api` (or $CONNECTIONS_API_URL) a subcommand uses the HTTP API, SigV4-signed with your AWS credentials (unsigned
against `make dev`); without it, it reads and writes the table directly.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from typing import TypeVar

from botocore.exceptions import BotoCoreError

from social_connections.cli.aws import EXIT_CONFIGURATION, EXIT_FAILED
from social_connections.connections_client import ConnectionsApiClient, ConnectionsApiError

Result = TypeVar("Result")


def add_api_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--api",
        metavar="URL",
        default=os.environ.get("CONNECTIONS_API_URL") or None,
        help="use the connections API at URL (the stack's ConnectionsApiUrl, or `make dev`'s); default: the table",
    )


def call_api(url: str, region: str | None, call: Callable[[ConnectionsApiClient], Result]) -> Result | int:
    """The call's result, or an exit code after saying what went wrong (1: the API's answer, 2: reaching it)."""
    try:
        return call(ConnectionsApiClient(url, region=region))
    except ConnectionsApiError as error:
        print(f"the API answered {error}", file=sys.stderr)
        return EXIT_FAILED if error.status < 500 else EXIT_CONFIGURATION
    except (BotoCoreError, OSError) as error:  # no credentials, URL unreachable
        print(f"could not call {url}: {error}", file=sys.stderr)
        return EXIT_CONFIGURATION
