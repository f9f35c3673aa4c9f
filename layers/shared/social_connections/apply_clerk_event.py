"""Apply one Clerk user event to the store: read, plan with the pure rules, write under the profile lock.

The webhook applies verified deliveries through it; anything else that learns of a user snapshot (reconciliation)
goes through the same functions, so every path orders by `updated_at` and lets a deletion win.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from social_connections.clerk_events import ClerkUser, UnhandledEvent, UserDeletedEvent, UserSnapshotEvent
from social_connections.clock import now_iso
from social_connections.connection_store import ConnectionStore
from social_connections.model import ConcurrentModificationError, ProfileStatus
from social_connections.snapshot_plan import desired_state, plan_sync

# Each retry follows a concurrent writer that committed first, so a handful always suffices in practice.
MAX_LOCK_ATTEMPTS: Final = 8


class Outcome(StrEnum):
    APPLIED = "applied"
    DUPLICATE = "duplicate"
    STALE = "stale"
    USER_DELETED = "user_deleted"
    DELETED = "deleted"
    ALREADY_DELETED = "already_deleted"
    IGNORED = "ignored"


@dataclass(frozen=True, slots=True)
class SyncResult:
    outcome: Outcome
    user_id: str
    upserted: int = 0
    disconnected: int = 0
    # Of `upserted`, the rows that did not exist before (reconciliation reports created and updated apart).
    created: int = 0
    malformed_accounts: int = 0

    @property
    def changed(self) -> bool:
        return self.outcome in {Outcome.APPLIED, Outcome.DELETED}


class ConcurrencyExhaustedError(Exception):
    """The user kept changing under us; the webhook answers 5xx and Svix redelivers."""


def apply_clerk_event(
    store: ConnectionStore, event: UserSnapshotEvent | UserDeletedEvent | UnhandledEvent
) -> SyncResult:
    """Dispatch on the event type; types this service does not handle are ignored."""
    if isinstance(event, UserDeletedEvent):
        return apply_deletion(store, event.data.id)
    if isinstance(event, UserSnapshotEvent):
        return apply_snapshot(store, event.data)
    return SyncResult(Outcome.IGNORED, user_id="")


def apply_snapshot(store: ConnectionStore, user: ClerkUser) -> SyncResult:
    """Make the user's rows match a user.created/user.updated snapshot, unless a newer one or a deletion is stored."""
    desired = desired_state(user)
    for _ in range(MAX_LOCK_ATTEMPTS):
        stored = store.read_user(user.id)
        profile = stored.profile
        if profile is not None and profile.status is ProfileStatus.DELETED:
            return SyncResult(Outcome.USER_DELETED, user.id)
        if profile is not None and profile.version is not None and profile.version >= user.updated_at:
            outcome = Outcome.DUPLICATE if profile.version == user.updated_at else Outcome.STALE
            return SyncResult(outcome, user.id)
        plan = plan_sync(desired, stored.connections)
        try:
            store.write_snapshot(user.id, plan, version=user.updated_at, expected=profile, synced_at=now_iso())
        except ConcurrentModificationError:
            continue
        return SyncResult(
            Outcome.APPLIED,
            user.id,
            upserted=len(plan.upserts),
            disconnected=len(plan.disconnects),
            created=sum(1 for upsert in plan.upserts if upsert.is_new),
            malformed_accounts=len(desired.malformed),
        )
    raise ConcurrencyExhaustedError(user.id)


def apply_deletion(store: ConnectionStore, user_id: str) -> SyncResult:
    """Tombstone the profile; the stream function then removes the connection rows."""
    if store.mark_deleted(user_id, now_iso()):
        return SyncResult(Outcome.DELETED, user_id)
    return SyncResult(Outcome.ALREADY_DELETED, user_id)
