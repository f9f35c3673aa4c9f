"""The domain: what a connection and a profile are, the changes a plan makes, and the errors the logic speaks of.

Plain value classes with no I/O and no pydantic, so every function can import them at no cold-start cost: typed
`NamedTuple`s (immutable; `._replace` makes a changed copy), about a fifth of the import cost of a frozen slotted
dataclass each (docs/performance.md, B1), and one plain class with `__slots__` for the plan the planner fills in.
"""

from __future__ import annotations

from enum import StrEnum
from typing import NamedTuple

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


class ConnectionKey(NamedTuple):
    """A connection's identity within its user: the platform and Clerk's id of the linked account."""

    platform: Platform
    external_account_id: str


class AccountDetails(NamedTuple):
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


class RowTimes(NamedTuple):
    """When a row was first connected and last changed, and its last failure: shown to apps, never planned on."""

    connected_at: str | None = None
    updated_at: str | None = None
    last_error: str | None = None


class StoredConnection(NamedTuple):
    key: ConnectionKey
    status: ConnectionStatus
    error_count: int
    details: AccountDetails
    # Left out of equality: the stores stamp their own clocks, and no rule depends on these.
    times: RowTimes = RowTimes()
    # The row's `detailsDigest` as stored: set by snapshot upserts, gone once its details changed otherwise (or older).
    details_digest: str | None = None

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, StoredConnection):
            return NotImplemented
        return self[:4] == other[:4]

    def __ne__(self, other: object) -> bool:
        equal = self.__eq__(other)
        return equal if equal is NotImplemented else not equal

    def __hash__(self) -> int:
        return hash(self[:4])


class RowState(NamedTuple):
    """What planning needs of a stored row (the profile keeps one per row); an unknown `details_digest` is ""."""

    status: ConnectionStatus
    account_version: int
    verified: bool
    details_digest: str


class StoredProfile(NamedTuple):
    user_id: str
    status: ProfileStatus
    version: int | None
    # The rows' copy written with `version` (`rowState`), None if absent; out of equality, as of the profile lock.
    rows: dict[ConnectionKey, RowState] | None = None

    def __eq__(self, other: object) -> bool:
        return self[:3] == other[:3] if isinstance(other, StoredProfile) else NotImplemented

    def __ne__(self, other: object) -> bool:
        return NotImplemented if (equal := self.__eq__(other)) is NotImplemented else not equal

    def __hash__(self) -> int:
        return hash(self[:3])


class ProfileWrite(NamedTuple):
    """A conditional profile write: applied, or not and the profile found instead (None: none, or not returned)."""

    applied: bool
    found: StoredProfile | None = None


class StoredUser(NamedTuple):
    profile: StoredProfile | None
    connections: dict[ConnectionKey, StoredConnection]


class ConnectionHealth(NamedTuple):
    """What the stream function decides a transition on, read from a stream image of a connection row."""

    user_id: str
    key: ConnectionKey
    status: ConnectionStatus
    error_count: int
    verification_status: str | None
    # What a status-change event reports besides the status: the row's last change and the event version it carries.
    updated_at: str | None = None
    version: int | None = None


class AttentionRow(NamedTuple):
    """A connection in `expired` or `error`, as the AttentionIndex lists it (no e-mail, names or image URL)."""

    user_id: str
    key: ConnectionKey
    status: ConnectionStatus
    since: str | None
    error_count: int
    last_error: str | None
    last_error_at: str | None


class DesiredConnection(NamedTuple):
    key: ConnectionKey
    status: ConnectionStatus
    details: AccountDetails
    details_digest: str  # row_copy.details_digest(details): computed once, needed by the digest, copy and write


class MalformedAccount(NamedTuple):
    """A mapped account entry that failed validation; `key` is known when its id and provider were readable."""

    key: ConnectionKey | None
    reason: str


class ConnectionUpsert(NamedTuple):
    desired: DesiredConnection
    # None keeps the stored status (an `error` set by the stream function survives an unchanged account).
    set_status: ConnectionStatus | None
    reset_errors: bool
    is_new: bool
    # Planned from the profile's copy: the status the row must still have (None: any status leads to the same write).
    expect_status: ConnectionStatus | None = None


class RowCheck(NamedTuple):
    """A row a plan from the profile's copy leaves alone: it must still carry these details (and status, if set)."""

    key: ConnectionKey
    details_digest: str
    status: ConnectionStatus | None = None


class SyncPlan:
    """The row writes that make a user's stored connections match one snapshot (the planner appends to its lists)."""

    __slots__ = ("checks", "disconnects", "failures", "upserts")
    __hash__ = None  # type: ignore[assignment]  # mutable lists: unhashable, as the dataclass was in practice

    def __init__(
        self,
        upserts: list[ConnectionUpsert] | None = None,
        disconnects: list[ConnectionKey] | None = None,
        failures: list[MalformedAccount] | None = None,
        checks: list[RowCheck] | None = None,
    ) -> None:
        self.upserts: list[ConnectionUpsert] = [] if upserts is None else upserts
        self.disconnects: list[ConnectionKey] = [] if disconnects is None else disconnects
        self.failures: list[MalformedAccount] = [] if failures is None else failures
        self.checks: list[RowCheck] = [] if checks is None else checks

    @property
    def is_empty(self) -> bool:
        return not (self.upserts or self.disconnects or self.failures)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SyncPlan):
            return NotImplemented
        mine = (self.upserts, self.disconnects, self.failures, self.checks)
        return mine == (other.upserts, other.disconnects, other.failures, other.checks)

    def __repr__(self) -> str:
        fields = f"upserts={self.upserts!r}, disconnects={self.disconnects!r}, failures={self.failures!r}"
        return f"SyncPlan({fields}, checks={self.checks!r})"


class ReconcileState(NamedTuple):
    """The run record of reconciliation: an unfinished run's cursor, and when the last finished run started."""

    cursor_mode: str | None = None
    cursor_offset: int = 0
    cursor_started_at: int | None = None
    last_finished_started_at: int | None = None


class PlatformAccountRow(NamedTuple):
    """A connection row found through its platform account (platform + the platform's user id)."""

    user_id: str
    key: ConnectionKey


class DeletionStatus(StrEnum):
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"


class DeletionRequest(NamedTuple):
    """A platform's data-deletion request as kept for its status page: no personal data, only the code and counts."""

    confirmation_code: str
    status: DeletionStatus
    received_at: str
    requested_at: str | None = None
    completed_at: str | None = None
    rows_affected: int | None = None
