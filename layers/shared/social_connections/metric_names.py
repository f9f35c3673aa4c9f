"""Every CloudWatch metric the functions emit: the one list that template.yaml's alarms and dashboard refer to.

All are counts (`ReconcileDurationSeconds`: seconds) in the `POWERTOOLS_METRICS_NAMESPACE` namespace with the
`service` dimension Powertools adds (`POWERTOOLS_SERVICE_NAME`); `EventsReceivedByType` also has `EventType`.
tests/infrastructure/test_observability.py checks that the code emits exactly these names and that every metric an
alarm or widget names is one of them.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final

from social_connections.model import ConnectionStatus

SERVICE_DIMENSION: Final = "service"


class Metric(StrEnum):
    # ClerkWebhookFunction
    PAYLOAD_TOO_LARGE = "PayloadTooLarge"
    SIGNATURE_REJECTED = "SignatureRejected"
    EVENTS_REJECTED = "EventsRejected"
    EVENTS_RECEIVED = "EventsReceived"
    EVENTS_RECEIVED_BY_TYPE = "EventsReceivedByType"
    EVENTS_IGNORED_UNHANDLED = "EventsIgnoredUnhandled"
    EVENTS_APPLIED = "EventsApplied"
    EVENTS_IGNORED = "EventsIgnored"
    EVENTS_FAILED = "EventsFailed"
    CONNECTIONS_UPSERTED = "ConnectionsUpserted"
    CONNECTIONS_DISCONNECTED = "ConnectionsDisconnected"
    MALFORMED_ACCOUNTS = "MalformedAccounts"
    UNMAPPED_PROVIDER_ACCOUNTS = "UnmappedProviderAccounts"
    # ConnectionStreamFunction
    CONNECTIONS_REMOVED = "ConnectionsRemoved"
    CONNECTIONS_ERRORED = "ConnectionsErrored"
    CONNECTIONS_RECOVERED = "ConnectionsRecovered"
    STREAM_RECORDS_FAILED = "StreamRecordsFailed"
    STATUS_EVENTS_PUBLISHED = "StatusEventsPublished"
    STATUS_EVENTS_FAILED = "StatusEventsFailed"
    STATUS_CHANGED_TO_CONNECTED = "StatusChangedToConnected"
    STATUS_CHANGED_TO_DISCONNECTED = "StatusChangedToDisconnected"
    STATUS_CHANGED_TO_EXPIRED = "StatusChangedToExpired"
    STATUS_CHANGED_TO_ERROR = "StatusChangedToError"
    # PlatformCallbacksFunction
    PLATFORM_SIGNATURE_REJECTED = "PlatformSignatureRejected"
    DATA_DELETION_REQUESTS = "DataDeletionRequests"
    PERSONAL_DATA_ERASED = "PersonalDataErased"
    CONNECTIONS_REVOKED_BY_PLATFORM = "ConnectionsRevokedByPlatform"
    PLATFORM_CALLBACKS_FAILED = "PlatformCallbacksFailed"
    # ConnectionsApiFunction: ApiTableFailures, and `Api<status code>` per answer (API_STATUS_PREFIX)
    API_TABLE_FAILURES = "ApiTableFailures"
    # ReconcileFunction: ReconcileFailed (0 or 1) per run, and `Reconcile<SummaryKey>` for each figure of its summary
    RECONCILE_FAILED = "ReconcileFailed"
    RECONCILE_USERS_SEEN = "ReconcileUsersSeen"
    RECONCILE_USERS_UNCHANGED = "ReconcileUsersUnchanged"
    RECONCILE_USERS_UPDATED = "ReconcileUsersUpdated"
    RECONCILE_USERS_INVALID = "ReconcileUsersInvalid"
    RECONCILE_CONNECTIONS_CREATED = "ReconcileConnectionsCreated"
    RECONCILE_CONNECTIONS_UPDATED = "ReconcileConnectionsUpdated"
    RECONCILE_CONNECTIONS_DISCONNECTED = "ReconcileConnectionsDisconnected"
    RECONCILE_USERS_TOMBSTONED = "ReconcileUsersTombstoned"
    RECONCILE_CLERK_REQUESTS = "ReconcileClerkRequests"
    RECONCILE_RATE_LIMITED_WAITS = "ReconcileRateLimitedWaits"
    RECONCILE_DYNAMODB_REQUESTS = "ReconcileDynamodbRequests"
    RECONCILE_DURATION_SECONDS = "ReconcileDurationSeconds"


# `EventsIgnored_<outcome>` (duplicate, stale, user_deleted, already_deleted) is the one family named at run time.
EVENTS_IGNORED_PREFIX: Final = "EventsIgnored_"
# `Api<status code>` (Api200, Api404, ...): the connections API's answers, named from the status code at run time.
API_STATUS_PREFIX: Final = "Api"
# `Reconcile<SummaryKey>`: the reconciliation summary's figures, named from its JSON keys at run time.
RECONCILE_SUMMARY_PREFIX: Final = "Reconcile"
EXTRA_DIMENSIONS: Final = {Metric.EVENTS_RECEIVED_BY_TYPE: ("EventType",)}


def status_changed_metric(status: ConnectionStatus) -> Metric:
    """The per-target count of status changes the dashboard shows as 'connections by transition'."""
    return Metric(f"StatusChangedTo{status.value.capitalize()}")
