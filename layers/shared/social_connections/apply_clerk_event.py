"""Apply one Clerk user event to the store: read, plan with the pure rules, write under the profile lock.

The common events first try one conditional write that assumes what they usually find (a new user's user.created: no
profile; a user.updated: connections unchanged since the last snapshot). When its condition fails, the profile it
returns carries a copy of the rows' states to plan from, and the write asserts what that plan assumed; when the copy
is missing or wrong, read and plan.

The webhook applies verified deliveries through it; anything else that learns of a user snapshot (reconciliation)
goes through the same functions, so every path orders by `updated_at` and lets a deletion win.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final, NamedTuple

from social_connections.clerk_events import ClerkUser, UnhandledEvent, UserDeletedEvent, UserSnapshotEvent
from social_connections.clock import now_iso
from social_connections.connection_store import ConnectionStore
from social_connections.model import ConcurrentModificationError, ProfileStatus, StoredProfile, SyncPlan
from social_connections.providers import DEFAULT_PROVIDERS, ProviderMap
from social_connections.row_copy import copied_state, next_copy
from social_connections.snapshot_plan import DesiredState, desired_state, plan_from_copy, plan_sync, state_digest

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


class SyncResult(NamedTuple):
    outcome: Outcome
    user_id: str
    upserted: int = 0
    disconnected: int = 0
    # Of `upserted`, the rows that did not exist before (reconciliation reports created and updated apart).
    created: int = 0
    malformed_accounts: int = 0
    # One provider string per account that no platform is mapped to (google, an unaliased custom provider...).
    unmapped_providers: tuple[str, ...] = ()

    @property
    def changed(self) -> bool:
        return self.outcome is Outcome.APPLIED or self.outcome is Outcome.DELETED

    @classmethod
    def of_plan(cls, user_id: str, plan: SyncPlan, malformed_accounts: int = 0) -> SyncResult:
        """An applied (or, for a dry run, previewed) plan, counted the one way every caller reports it."""
        created = [upsert for upsert in plan.upserts if upsert.is_new]
        # Positional, in field order: outcome, user, upserted, disconnected, created, malformed accounts.
        return cls(Outcome.APPLIED, user_id, len(plan.upserts), len(plan.disconnects), len(created), malformed_accounts)


class FirstTry(StrEnum):
    """The one-round-trip guess a snapshot tries before read-and-plan (docs/performance.md, B3)."""

    READ = "read"  # no guess: read, then plan and write
    NEW_USER = "new_user"  # no profile yet: one transaction that creates it and its rows
    UNCHANGED = "unchanged"  # same connections as the stored snapshot digest: move only the version


FIRST_TRY_BY_TYPE: Final = {"user.created": FirstTry.NEW_USER, "user.updated": FirstTry.UNCHANGED}


class ConcurrencyExhaustedError(Exception):
    """The user kept changing under us; the webhook answers 5xx and Svix redelivers."""


def apply_clerk_event(
    store: ConnectionStore,
    event: UserSnapshotEvent | UserDeletedEvent | UnhandledEvent,
    providers: ProviderMap = DEFAULT_PROVIDERS,
) -> SyncResult:
    """Dispatch on the event type; types this service does not handle are ignored."""
    if isinstance(event, UserDeletedEvent):
        return apply_deletion(store, event.data.id)
    if isinstance(event, UserSnapshotEvent):
        first_try = FIRST_TRY_BY_TYPE.get(event.type, FirstTry.READ)
        return apply_snapshot(store, event.data, first_try, providers=providers)
    return SyncResult(Outcome.IGNORED, user_id="")


def apply_snapshot(
    store: ConnectionStore,
    user: ClerkUser,
    first_try: FirstTry = FirstTry.READ,
    *,
    providers: ProviderMap = DEFAULT_PROVIDERS,
) -> SyncResult:
    """Make the user's rows match a user.created/user.updated snapshot, unless a newer one or a deletion is stored."""
    desired = desired_state(user, providers)
    result = _apply_desired(store, user, desired, first_try)
    # Every outcome says which accounts were not stored for want of a mapping, so the webhook can log them.
    return result._replace(unmapped_providers=desired.unmapped_providers) if desired.unmapped_providers else result


def _apply_desired(store: ConnectionStore, user: ClerkUser, desired: DesiredState, first_try: FirstTry) -> SyncResult:
    digest = state_digest(desired)
    guessed = _try_one_write(store, user, desired, digest, first_try)
    if isinstance(guessed, SyncResult):
        return guessed
    if guessed is not None:
        if (settled := _settled(guessed, user)) is not None:
            return settled
        if (planned := _try_copy_plan(store, user, desired, digest, guessed)) is not None:
            return planned
    for _ in range(MAX_LOCK_ATTEMPTS):
        stored = store.read_user(user.id)
        profile = stored.profile
        if profile is not None and (settled := _settled(profile, user)) is not None:
            return settled
        plan = plan_sync(desired, stored.connections)
        rows = next_copy({key: copied_state(row) for key, row in stored.connections.items()}, plan)
        try:
            store.write_snapshot(
                user.id, plan, version=user.updated_at, expected=profile, synced_at=now_iso(), digest=digest, rows=rows
            )
        except ConcurrentModificationError:
            continue
        return SyncResult.of_plan(user.id, plan, malformed_accounts=len(desired.malformed))
    raise ConcurrencyExhaustedError(user.id)


def _try_one_write(
    store: ConnectionStore, user: ClerkUser, desired: DesiredState, digest: str | None, first_try: FirstTry
) -> SyncResult | StoredProfile | None:
    """The guessed write: its result when the guess held, else the profile it found (None: unknown, read it)."""
    if first_try is FirstTry.NEW_USER:
        plan = plan_sync(desired, {})
        try:
            store.write_snapshot(
                user.id,
                plan,
                version=user.updated_at,
                expected=None,
                synced_at=now_iso(),
                digest=digest,
                rows=next_copy({}, plan),
            )
        except ConcurrentModificationError as refused:
            return refused.found
        return SyncResult.of_plan(user.id, plan, malformed_accounts=len(desired.malformed))
    if first_try is FirstTry.UNCHANGED and digest is not None:
        moved = store.write_if_unchanged(user.id, version=user.updated_at, digest=digest)
        return SyncResult(Outcome.APPLIED, user.id) if moved.applied else moved.found
    return None


def _try_copy_plan(
    store: ConnectionStore, user: ClerkUser, desired: DesiredState, digest: str | None, found: StoredProfile
) -> SyncResult | None:
    """Plan from the copy of the rows the refused guess returned, and write asserting what it assumed (None: read)."""
    plan = plan_from_copy(desired, found.rows) if found.rows is not None else None
    if plan is None:
        return None
    try:
        store.write_snapshot(
            user.id,
            plan,
            version=user.updated_at,
            expected=found,
            synced_at=now_iso(),
            digest=digest,
            rows=next_copy(found.rows or {}, plan),
        )
    except ConcurrentModificationError:
        return None  # a row or the profile is not as the copy said: read-and-plan decides
    return SyncResult.of_plan(user.id, plan)


def _settled(profile: StoredProfile, user: ClerkUser) -> SyncResult | None:
    """The answer when the stored profile alone decides: a tombstone, or a version as new as this snapshot."""
    if profile.status is ProfileStatus.DELETED:
        return SyncResult(Outcome.USER_DELETED, user.id)
    if profile.version is not None and profile.version >= user.updated_at:
        outcome = Outcome.DUPLICATE if profile.version == user.updated_at else Outcome.STALE
        return SyncResult(outcome, user.id)
    return None


def apply_deletion(store: ConnectionStore, user_id: str) -> SyncResult:
    """Tombstone the profile; the stream function then removes the connection rows."""
    if store.mark_deleted(user_id, now_iso()):
        return SyncResult(Outcome.DELETED, user_id)
    return SyncResult(Outcome.ALREADY_DELETED, user_id)
