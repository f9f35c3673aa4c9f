"""`clerk-connections reconcile`: make the table true again from Clerk's Backend API (docs/reconciliation.md).

Reads TABLE_NAME, CLERK_SECRET_KEY (or CLERK_SECRET_KEY_ID), CLERK_API_URL, CLERK_API_MAX_REQUESTS_PER_10S and the usual
AWS variables; flags override them, and `--stack` takes the table and the secret from a deployed stack's outputs.
Exit 0 when the run finished, 1 when it failed, 2 for bad configuration or credentials (the message names the
variable). A progress bar goes to stderr on a terminal; the summary table, or with `--json` one JSON object, to stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Mapping
from typing import Final

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from social_connections.clerk_api import ClerkAuthError
from social_connections.clerk_settings import ClerkApiSettings
from social_connections.cli.aws import EXIT_CONFIGURATION, EXIT_FAILED, dynamodb_client, format_table, is_loopback
from social_connections.reconcile import ReconcileFailedError
from social_connections.reconcile_plan import DEFAULT_WORKERS, Mode, ReconcileOptions, ReconcileSummary
from social_connections.reconcile_run import run_reconciliation
from social_connections.settings import SettingsError, provider_map

STACK_OUTPUTS: Final = {"ConnectionsTableName": "TABLE_NAME", "ClerkSecretKeyArn": "CLERK_SECRET_KEY_ID"}


def add_to(subcommands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subcommands.add_parser("reconcile", help="repair and backfill the table from Clerk's Backend API")
    parser.add_argument("--mode", choices=[mode.value for mode in Mode], default=Mode.FULL.value)
    parser.add_argument("--dry-run", action="store_true", help="report what would change, write nothing")
    parser.add_argument("--limit", type=_positive, help="stop after N listed users (a sample: no sweep, no cursor)")
    parser.add_argument("--json", action="store_true", help="print the summary as one JSON object (last line)")
    parser.add_argument("--table", help="table name (default: $TABLE_NAME)")
    parser.add_argument("--stack", help="a deployed stack's name: table and secret id from its outputs")
    parser.add_argument("--clerk-api-url", help="Backend API base URL (default: $CLERK_API_URL, else Clerk's)")
    parser.add_argument("--endpoint-url", help="DynamoDB endpoint, e.g. the moto URL of `make dev`")
    parser.add_argument("--region", help="AWS region (default: the usual AWS configuration)")
    parser.add_argument("--workers", type=_positive, help=f"parallel users (default {DEFAULT_WORKERS}; 1 on moto)")
    parser.set_defaults(run=run)


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {text!r}")
    return int(text)


def run(args: argparse.Namespace) -> int:
    try:
        environment = _environment(args)
        table = environment.get("TABLE_NAME", "").strip()
        if not table:
            raise SettingsError("TABLE_NAME is not set (or pass --table or --stack)")
        clerk_settings = ClerkApiSettings.from_environment(environment)
        providers = provider_map(environment)
        client = dynamodb_client(args.endpoint_url, args.region)
    except (SettingsError, ClientError, BotoCoreError) as error:
        print(f"reconcile: {error}", file=sys.stderr)
        return EXIT_CONFIGURATION
    endpoint = args.endpoint_url or os.environ.get("AWS_ENDPOINT_URL_DYNAMODB") or os.environ.get("AWS_ENDPOINT_URL")
    # moto's backend is not thread-safe: one worker against a local stack.
    workers = args.workers or (1 if is_loopback(endpoint) else DEFAULT_WORKERS)
    options = ReconcileOptions(
        mode=Mode(args.mode), dry_run=args.dry_run, limit=args.limit, workers=workers, providers=providers
    )
    progress = ProgressBar() if sys.stderr.isatty() else None
    try:
        summary = run_reconciliation(table, client, clerk_settings, options, on_progress=progress)
    except SettingsError as error:
        print(f"reconcile: {error}", file=sys.stderr)
        return EXIT_CONFIGURATION
    except ReconcileFailedError as failure:
        _report(failure.summary, as_json=args.json)
        return _failure_code(failure, clerk_settings)
    finally:
        if progress is not None:
            progress.close()
    _report(summary, as_json=args.json)
    return 0


def _environment(args: argparse.Namespace) -> dict[str, str]:
    """The process environment with the stack's outputs, then the flags, laid over it."""
    environment = dict(os.environ)
    if args.stack:
        environment.update(_stack_outputs(args.stack, args.region))
    if args.table:
        environment["TABLE_NAME"] = args.table
    if args.clerk_api_url:
        environment["CLERK_API_URL"] = args.clerk_api_url
    return environment


def _stack_outputs(stack: str, region: str | None) -> Mapping[str, str]:
    cloudformation = boto3.client("cloudformation", region_name=region)
    described = cloudformation.describe_stacks(StackName=stack)["Stacks"][0]
    outputs = {item.get("OutputKey", ""): item.get("OutputValue", "") for item in described.get("Outputs", [])}
    found = {variable: outputs[key] for key, variable in STACK_OUTPUTS.items() if outputs.get(key)}
    # The stack's secret is the one to use: a key given directly in the environment would otherwise win.
    return {**found, "CLERK_SECRET_KEY": ""} if "CLERK_SECRET_KEY_ID" in found else found


def _failure_code(failure: ReconcileFailedError, settings: ClerkApiSettings) -> int:
    cause = failure.__cause__
    variable = "CLERK_SECRET_KEY" if settings.secret_key_value else "CLERK_SECRET_KEY_ID"
    if isinstance(cause, ClerkAuthError):
        print(f"reconcile: {cause}: check {variable}", file=sys.stderr)
        return EXIT_CONFIGURATION
    if isinstance(cause, ClientError) and cause.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
        print("reconcile: the table was not found: check TABLE_NAME (or --table, --stack)", file=sys.stderr)
        return EXIT_CONFIGURATION
    print(f"reconcile: the run failed and stopped: {cause}", file=sys.stderr)
    return EXIT_FAILED


def _report(summary: ReconcileSummary, *, as_json: bool) -> None:
    figures = summary.as_json()
    if as_json:
        print(json.dumps(figures, separators=(",", ":")), flush=True)
        return
    rows = [(name, json.dumps(value) if isinstance(value, bool) else str(value)) for name, value in figures.items()]
    print(format_table(["figure", "value"], rows), flush=True)


class ProgressBar:
    """users done / total, rate and ETA on one rewritten stderr line."""

    WIDTH: Final = 30

    def __init__(self) -> None:
        self._began = time.monotonic()
        self._drawn = False

    def __call__(self, done: int, total: int) -> None:
        elapsed = max(time.monotonic() - self._began, 1e-6)
        rate = done / elapsed
        filled = int(self.WIDTH * done / total) if total else self.WIDTH
        eta = (total - done) / rate if rate > 0 else 0.0
        bar = "#" * filled + "-" * (self.WIDTH - filled)
        sys.stderr.write(f"\r[{bar}] {done}/{total} users  {rate:.0f}/s  ETA {eta:.0f} s ")
        sys.stderr.flush()
        self._drawn = True

    def close(self) -> None:
        if self._drawn:
            sys.stderr.write("\n")
            sys.stderr.flush()
