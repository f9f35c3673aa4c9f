"""Pure rules: a Clerk user snapshot plus what is stored become the connection changes to write.

No I/O here. The repository reads the stored state and writes the plan; `sync` ties the two together.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING

from social_connections.providers import Platform, platform_for

if TYPE_CHECKING:
    from pydantic import ValidationError

    from social_connections.clerk_events import ClerkUser, ExternalAccount


class ConnectionStatus(StrEnum):
    CONNECTED = "connected"
    DISCONNECTED = "disconnected"
    EXPIRED = "expired"
    ERROR = "error"


# Clerk verification status -> connection status; unlisted ones (unverified, transferable, none) are no connection.
VERIFICATION_STATUSES: Mapping[str, ConnectionStatus] = {
    "verified": ConnectionStatus.CONNECTED,
    "expired": ConnectionStatus.EXPIRED,
    "failed": ConnectionStatus.ERROR,
}


@dataclass(frozen=True, slots=True)
class ConnectionKey:
    platform: Platform
    external_account_id: str


@dataclass(frozen=True, slots=True)
class AccountDetails:
    """Everything the webhook copies from Clerk onto a connection row; equal details mean nothing to write."""

    platform_user_id: str | None
    platform_username: str | None
    account_version: int
    email: str | None
    first_name: str | None
    last_name: str | None
    image_url: str | None
    provider: str
    clerk_account_id: str
    verification_status: str | None
    approved_scopes: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class DesiredConnection:
    key: ConnectionKey
    status: ConnectionStatus
    details: AccountDetails


@dataclass(frozen=True, slots=True)
class MalformedAccount:
    """A mapped account entry that failed validation; `key` is known when its id and provider were readable."""

    key: ConnectionKey | None
    reason: str


@dataclass(frozen=True, slots=True)
class StoredConnection:
    key: ConnectionKey
    status: ConnectionStatus
    error_count: int
    details: AccountDetails


@dataclass(frozen=True, slots=True)
class ConnectionUpsert:
    desired: DesiredConnection
    # None keeps the stored status (an `error` set by the stream function survives an unchanged account).
    set_status: ConnectionStatus | None
    reset_errors: bool
    is_new: bool


@dataclass(frozen=True, slots=True)
class SyncPlan:
    upserts: list[ConnectionUpsert] = field(default_factory=list)
    disconnects: list[ConnectionKey] = field(default_factory=list)
    failures: list[MalformedAccount] = field(default_factory=list)

    @property
    def is_empty(self) -> bool:
        return not (self.upserts or self.disconnects or self.failures)


@dataclass(frozen=True, slots=True)
class DesiredState:
    connections: dict[ConnectionKey, DesiredConnection]
    malformed: list[MalformedAccount]


def desired_state(user: ClerkUser) -> DesiredState:
    """The connections a snapshot asks for: mapped providers with a connection-worthy verification status."""
    # Imported here so that the stream function, which uses only the health rules, never loads pydantic (~45 ms).
    from pydantic import ValidationError  # noqa: PLC0415

    from social_connections.clerk_events import ExternalAccount  # noqa: PLC0415

    connections: dict[ConnectionKey, DesiredConnection] = {}
    malformed: list[MalformedAccount] = []
    for raw in user.external_accounts:
        if not isinstance(raw, dict):
            malformed.append(MalformedAccount(key=None, reason="external account entry is not an object"))
            continue
        provider = raw.get("provider")
        platform = platform_for(provider if isinstance(provider, str) else None)
        if platform is None:
            continue
        try:
            account = ExternalAccount.model_validate(raw)
        except ValidationError as error:
            malformed.append(MalformedAccount(key=_readable_key(raw, platform), reason=_summarize(error)))
            continue
        status = VERIFICATION_STATUSES.get(account.verification.status or "") if account.verification else None
        if status is None:
            continue
        key = ConnectionKey(platform, account.account_id)
        connections[key] = DesiredConnection(key=key, status=status, details=_details(account))
    return DesiredState(connections=connections, malformed=malformed)


def plan_sync(desired: DesiredState, stored: Mapping[ConnectionKey, StoredConnection]) -> SyncPlan:
    """The writes that make the stored connections match the snapshot, and nothing more."""
    plan = SyncPlan()
    for key, wanted in desired.connections.items():
        upsert = _upsert_for(wanted, stored.get(key))
        if upsert is not None:
            plan.upserts.append(upsert)
    malformed_keys = {item.key for item in desired.malformed if item.key is not None}
    for key, row in stored.items():
        vanished = key not in desired.connections and key not in malformed_keys
        if vanished and row.status is not ConnectionStatus.DISCONNECTED:
            plan.disconnects.append(key)
    # One failure per stored row, and none for a row a valid entry of the same snapshot upserts: a transaction may
    # touch an item only once, so a repeated account must not turn the event into a 5xx forever.
    failed: dict[ConnectionKey, MalformedAccount] = {}
    for item in desired.malformed:
        if item.key is not None and item.key in stored and item.key not in desired.connections:
            failed.setdefault(item.key, item)
    plan.failures.extend(failed.values())
    return plan


def _upsert_for(wanted: DesiredConnection, row: StoredConnection | None) -> ConnectionUpsert | None:
    if row is None:
        return ConnectionUpsert(desired=wanted, set_status=wanted.status, reset_errors=True, is_new=True)
    # The account's own updated_at moving on while verified is a re-verification: it clears the error history.
    reverified = (
        wanted.status is ConnectionStatus.CONNECTED and row.details.account_version != wanted.details.account_version
    )
    set_status: ConnectionStatus | None = wanted.status
    if wanted.status is ConnectionStatus.CONNECTED and not reverified and row.status is ConnectionStatus.ERROR:
        set_status = None
    if set_status is row.status:
        set_status = None
    reset_errors = reverified and row.error_count != 0
    if set_status is None and not reset_errors and row.details == wanted.details:
        return None
    return ConnectionUpsert(desired=wanted, set_status=set_status, reset_errors=reset_errors, is_new=False)


def _details(account: ExternalAccount) -> AccountDetails:
    scopes = tuple(sorted(set((account.approved_scopes or "").split())))
    return AccountDetails(
        platform_user_id=account.provider_user_id,
        platform_username=account.username,
        account_version=account.updated_at,
        email=account.email_address or None,
        first_name=account.first_name,
        last_name=account.last_name,
        image_url=account.image_url or account.avatar_url,
        provider=account.provider,
        clerk_account_id=account.id,
        verification_status=account.verification.status if account.verification else None,
        approved_scopes=scopes,
    )


def _readable_key(raw: Mapping[str, object], platform: Platform) -> ConnectionKey | None:
    for field_name in ("external_account_id", "id"):
        value = raw.get(field_name)
        if isinstance(value, str) and value and value.replace("_", "").replace("-", "").isalnum() and len(value) <= 128:
            return ConnectionKey(platform, value)
    return None


def _summarize(error: ValidationError) -> str:
    """Field locations and error types only: never the input values, which may hold e-mail addresses."""
    parts: Iterable[str] = (
        f"{'.'.join(str(p) for p in item['loc'])}: {item['type']}" for item in error.errors(include_input=False)
    )
    return "invalid external account (" + "; ".join(parts) + ")"


@dataclass(frozen=True, slots=True)
class ConnectionHealth:
    """What the stream function decides a transition on, read from a stream image of a connection row."""

    user_id: str
    key: ConnectionKey
    status: ConnectionStatus
    error_count: int
    verification_status: str | None


def health_transition(health: ConnectionHealth, threshold: int) -> ConnectionStatus | None:
    """connected with >= threshold failures -> error; error with 0 failures, still verified -> connected; else None."""
    if health.status is ConnectionStatus.CONNECTED and health.error_count >= threshold:
        return ConnectionStatus.ERROR
    if health.status is ConnectionStatus.ERROR and health.error_count == 0 and health.verification_status == "verified":
        return ConnectionStatus.CONNECTED
    return None
