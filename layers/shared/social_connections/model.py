"""The domain: what a connection and a profile are, the changes a plan makes, and the errors the logic speaks of.

Plain value classes with no I/O and no pydantic, so every function can import them at no cold-start cost.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from social_connections.providers import Platform


class ConnectionStatus(StrEnum):
    CONNECTED = "connected"
    DISCONNECTED = "disconnected"
    EXPIRED = "expired"
    ERROR = "error"


class ProfileStatus(StrEnum):
    ACTIVE = "active"
    DELETED = "deleted"


class ConcurrentModificationError(Exception):
    """The user's profile changed between our read and our write; read again and re-plan."""

    def __init__(self, user_id: str, found: StoredProfile | None = None) -> None:
        super().__init__(user_id)
        # The profile the failed condition saw, when the store returned it: spares a read to tell a duplicate.
        self.found = found


@dataclass(frozen=True, slots=True)
class ConnectionKey:
    """A connection's identity within its user: the platform and Clerk's id of the linked account."""

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
class RowTimes:
    """When a row was first connected and last changed, and its last failure: shown to apps, never planned on."""

    connected_at: str | None = None
    updated_at: str | None = None
    last_error: str | None = None


@dataclass(frozen=True, slots=True)
class StoredConnection:
    key: ConnectionKey
    status: ConnectionStatus
    error_count: int
    details: AccountDetails
    # Left out of equality: the stores stamp their own clocks, and no rule depends on these.
    times: RowTimes = field(default_factory=RowTimes, compare=False)


@dataclass(frozen=True, slots=True)
class StoredProfile:
    user_id: str
    status: ProfileStatus
    version: int | None


@dataclass(frozen=True, slots=True)
class ProfileWrite:
    """A conditional profile write: applied, or not and the profile found instead (None: none, or not returned)."""

    applied: bool
    found: StoredProfile | None = None


@dataclass(frozen=True, slots=True)
class StoredUser:
    profile: StoredProfile | None
    connections: dict[ConnectionKey, StoredConnection]


@dataclass(frozen=True, slots=True)
class ConnectionHealth:
    """What the stream function decides a transition on, read from a stream image of a connection row."""

    user_id: str
    key: ConnectionKey
    status: ConnectionStatus
    error_count: int
    verification_status: str | None
    # What a status-change event reports besides the status: the row's last change and the event version it carries.
    updated_at: str | None = None
    version: int | None = None


@dataclass(frozen=True, slots=True)
class AttentionRow:
    """A connection in `expired` or `error`, as the AttentionIndex lists it (no e-mail, names or image URL)."""

    user_id: str
    key: ConnectionKey
    status: ConnectionStatus
    since: str | None
    error_count: int
    last_error: str | None
    last_error_at: str | None


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
class ConnectionUpsert:
    desired: DesiredConnection
    # None keeps the stored status (an `error` set by the stream function survives an unchanged account).
    set_status: ConnectionStatus | None
    reset_errors: bool
    is_new: bool


@dataclass(frozen=True, slots=True)
class SyncPlan:
    """The row writes that make a user's stored connections match one snapshot."""

    upserts: list[ConnectionUpsert] = field(default_factory=list)
    disconnects: list[ConnectionKey] = field(default_factory=list)
    failures: list[MalformedAccount] = field(default_factory=list)

    @property
    def is_empty(self) -> bool:
        return not (self.upserts or self.disconnects or self.failures)


@dataclass(frozen=True, slots=True)
class ReconcileState:
    """The run record of reconciliation: an unfinished run's cursor, and when the last finished run started."""

    cursor_mode: str | None = None
    cursor_offset: int = 0
    cursor_started_at: int | None = None
    last_finished_started_at: int | None = None


@dataclass(frozen=True, slots=True)
class PlatformAccountRow:
    """A connection row found through its platform account (platform + the platform's user id)."""

    user_id: str
    key: ConnectionKey


class DeletionStatus(StrEnum):
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"


@dataclass(frozen=True, slots=True)
class DeletionRequest:
    """A platform's data-deletion request as kept for its status page: no personal data, only the code and counts."""

    confirmation_code: str
    status: DeletionStatus
    received_at: str
    requested_at: str | None = None
    completed_at: str | None = None
    rows_affected: int | None = None
