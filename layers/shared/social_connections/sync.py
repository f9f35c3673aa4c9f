"""Apply one verified Clerk event to the table: read, plan with the pure rules, write under the profile lock."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from social_connections.clerk_events import ClerkUser
from social_connections.connection_rules import SyncPlan, desired_state, plan_sync
from social_connections.repository import (
    ConcurrentModificationError,
    ConnectionsRepository,
    ProfileStatus,
    now_iso,
)

# Each retry follows a concurrent writer that committed first, so a handful always suffices in practice.
MAX_LOCK_ATTEMPTS: Final = 8


class Outcome(StrEnum):
    APPLIED = "applied"
    DUPLICATE = "duplicate"
    STALE = "stale"
    USER_DELETED = "user_deleted"
    DELETED = "deleted"
    ALREADY_DELETED = "already_deleted"


@dataclass(frozen=True, slots=True)
class SyncResult:
    outcome: Outcome
    user_id: str
    upserted: int = 0
    disconnected: int = 0
    malformed_accounts: int = 0

    @property
    def changed(self) -> bool:
        return self.outcome in {Outcome.APPLIED, Outcome.DELETED}


class ConcurrencyExhaustedError(Exception):
    """The user kept changing under us; the webhook answers 5xx and Svix redelivers."""


def apply_snapshot(repository: ConnectionsRepository, user: ClerkUser) -> SyncResult:
    """Make the user's rows match a user.created/user.updated snapshot, unless a newer one or a deletion is stored."""
    desired = desired_state(user)
    for _ in range(MAX_LOCK_ATTEMPTS):
        stored = repository.read_user(user.id)
        profile = stored.profile
        if profile is not None and profile.status is ProfileStatus.DELETED:
            return SyncResult(Outcome.USER_DELETED, user.id)
        if profile is not None and profile.version is not None and profile.version >= user.updated_at:
            outcome = Outcome.DUPLICATE if profile.version == user.updated_at else Outcome.STALE
            return SyncResult(outcome, user.id)
        plan: SyncPlan = plan_sync(desired, stored.connections)
        try:
            repository.write_snapshot(user.id, plan, version=user.updated_at, expected=profile, synced_at=now_iso())
        except ConcurrentModificationError:
            continue
        return SyncResult(
            Outcome.APPLIED,
            user.id,
            upserted=len(plan.upserts),
            disconnected=len(plan.disconnects),
            malformed_accounts=len(desired.malformed),
        )
    raise ConcurrencyExhaustedError(user.id)


def apply_deletion(repository: ConnectionsRepository, user_id: str) -> SyncResult:
    """Tombstone the profile; the stream function then removes the connection rows."""
    if repository.mark_deleted(user_id, now_iso()):
        return SyncResult(Outcome.DELETED, user_id)
    return SyncResult(Outcome.ALREADY_DELETED, user_id)
