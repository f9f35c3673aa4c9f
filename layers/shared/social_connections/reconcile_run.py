"""One reconciliation run wired up, the same way for the scheduled function and the operator's command."""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Final

from social_connections.clerk_api import ClerkClient
from social_connections.clerk_settings import ClerkApiSettings
from social_connections.reconcile import Progress, Reconciler
from social_connections.reconcile_plan import ReconcileOptions, ReconcileSummary
from social_connections.storage import DynamoDBConnectionStore
from social_connections.storage.reconcile_table import RequestTally

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

# One tally per client for the process's life: a warm Lambda reuses its client; each run counts from a baseline.
_tallies: Final[weakref.WeakKeyDictionary[object, RequestTally]] = weakref.WeakKeyDictionary()


def run_reconciliation(
    table_name: str,
    dynamodb: DynamoDBClient,
    clerk_settings: ClerkApiSettings,
    options: ReconcileOptions,
    *,
    should_stop: Callable[[], bool] = lambda: False,
    on_progress: Progress | None = None,
) -> ReconcileSummary:
    """Run once: SettingsError for a secret key that cannot be read, ReconcileFailedError for a failed run."""
    clerk = ClerkClient(clerk_settings, clerk_settings.secret_key())
    reconciler = Reconciler(
        DynamoDBConnectionStore(table_name, dynamodb),
        clerk,
        options,
        should_stop=should_stop,
        on_progress=on_progress,
        dynamodb_requests=_tally(dynamodb),
        clerk_stats=clerk.stats,
    )
    return reconciler.run()


def _tally(client: DynamoDBClient) -> RequestTally:
    tally = _tallies.get(client)
    if tally is None:
        tally = _tallies[client] = RequestTally(client)
    return tally
