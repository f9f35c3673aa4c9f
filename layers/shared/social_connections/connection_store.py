"""What the logic needs from storage: one user's state, the snapshot write, and conditional state changes.

`storage.DynamoDBConnectionStore` implements it on the table; tests use an in-memory one with the same conditions.
Every method that changes a row returns False (or raises ConcurrentModificationError) when its condition did not hold.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Protocol

from social_connections.model import (
    ConnectionKey,
    ProfileWrite,
    ReconcileState,
    RowState,
    StoredProfile,
    StoredUser,
    SyncPlan,
)


class ConnectionStore(Protocol):
    def read_user(self, user_id: str) -> StoredUser:
        """The profile and every connection of a user, strongly consistent."""
        ...

    def write_snapshot(
        self,
        user_id: str,
        plan: SyncPlan,
        *,
        version: int,
        expected: StoredProfile | None,
        synced_at: str,
        digest: str | None = None,
        rows: Mapping[ConnectionKey, RowState] | None = None,
    ) -> None:
        """Write the plan and move the profile to `version`, `digest` and its copy of the rows (None: none known).

        ConcurrentModificationError if the profile or a row is not as expected (the plan's upserts and checks say
        what it assumed); it carries the profile found, if known.
        """
        ...

    def write_if_unchanged(self, user_id: str, *, version: int, digest: str) -> ProfileWrite:
        """Move an active profile older than `version` that carries `digest` to `version`, writing no row."""
        ...

    def mark_deleted(self, user_id: str, deleted_at: str) -> bool:
        """Make the profile a tombstone; False when it already was one."""
        ...

    def record_publish_failure(self, user_id: str, key: ConnectionKey, error: str) -> bool:
        """Count one failure on a connection; False if there is no such row."""
        ...

    def record_publish_success(self, user_id: str, key: ConnectionKey) -> bool:
        """Reset a connection's error count; False if there is no such row or nothing to reset."""
        ...

    def mark_error(self, user_id: str, key: ConnectionKey, threshold: int) -> bool:
        """connected -> error while the row has at least `threshold` failures."""
        ...

    def mark_recovered(self, user_id: str, key: ConnectionKey) -> bool:
        """error -> connected while the row has 0 failures and is still verified."""
        ...

    def delete_connections(self, user_id: str) -> int:
        """Delete every connection row of a user; how many there were."""
        ...


class ReconcileStore(ConnectionStore, Protocol):
    """A ConnectionStore plus what reconciliation reads in bulk and its run record."""

    def read_profiles(self, user_ids: Sequence[str]) -> dict[str, StoredProfile]:
        """The stored profiles of these users, absent ones left out (bulk, eventually nothing half-written)."""
        ...

    def active_user_ids(self) -> Iterator[str]:
        """Every user whose stored profile is active."""
        ...

    def read_reconcile_state(self) -> ReconcileState: ...

    def save_reconcile_cursor(self, mode: str, offset: int, started_at: int) -> None: ...

    def finish_reconcile_run(self, mode: str, started_at: int) -> None: ...
