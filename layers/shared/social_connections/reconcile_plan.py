"""Reconciliation's rules and records: modes, options, the summary, which listed users need a write, dry-run plans.

No I/O of its own: `reconcile` pages through Clerk and writes through the store; these decide what that means.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from enum import StrEnum
from typing import Final, Protocol

from social_connections.apply_clerk_event import Outcome, SyncResult
from social_connections.clerk_events import ClerkUser, InvalidEventError, parse_clerk_user
from social_connections.connection_store import ConnectionStore
from social_connections.model import ProfileStatus, StoredProfile
from social_connections.providers import DEFAULT_PROVIDERS, ProviderMap
from social_connections.snapshot_plan import desired_state, plan_sync

DEFAULT_OVERLAP_MS: Final = 3_600_000
DEFAULT_WORKERS: Final = 8
PAGE_SIZE: Final = 500
ORDER_BY: Final = {"full": "+created_at", "recent": "-updated_at"}


class Mode(StrEnum):
    FULL = "full"
    RECENT = "recent"


class UserSource(Protocol):
    """Clerk's users as reconciliation reads them (`clerk_api.ClerkClient`, or a fake in tests)."""

    def list_users(self, *, limit: int, offset: int, order_by: str) -> list[dict[str, object]]: ...

    def count_users(self) -> int: ...

    def users_by_id(self, user_ids: Sequence[str]) -> list[dict[str, object]]: ...


@dataclass(frozen=True, slots=True)
class ReconcileOptions:
    mode: Mode = Mode.FULL
    dry_run: bool = False
    # Stop after this many listed users: a sample run, which neither resumes, sweeps nor counts as finished.
    limit: int | None = None
    overlap_ms: int = DEFAULT_OVERLAP_MS
    workers: int = DEFAULT_WORKERS
    page_size: int = PAGE_SIZE
    # The same provider mapping as the webhook (PROVIDER_ALIASES), or rows it stored would look unlinked here.
    providers: ProviderMap = DEFAULT_PROVIDERS


@dataclass
class ReconcileSummary:
    """One run's figures; `as_json()` gives the keys docs/reconciliation.md (and DESIGN) fix."""

    mode: Mode
    dry_run: bool
    finished: bool = False
    users_seen: int = 0
    users_unchanged: int = 0
    users_updated: int = 0
    users_invalid: int = 0
    connections_created: int = 0
    connections_updated: int = 0
    connections_disconnected: int = 0
    users_tombstoned: int = 0
    clerk_requests: int = 0
    rate_limited_waits: int = 0
    dynamodb_requests: int = 0
    duration_seconds: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def count_result(self, result: SyncResult) -> None:
        """One listed user's outcome: updated (with its rows) or unchanged."""
        with self._lock:
            if result.outcome is not Outcome.APPLIED:
                self.users_unchanged += 1
                return
            self.users_updated += 1
            self.connections_created += result.created
            self.connections_updated += result.upserted - result.created
            self.connections_disconnected += result.disconnected

    def as_json(self) -> dict[str, object]:
        values = {item.name: getattr(self, item.name) for item in fields(self) if not item.name.startswith("_")}
        values["mode"] = self.mode.value
        values["duration_seconds"] = round(self.duration_seconds, 3)
        return {_camel(name): value for name, value in values.items()}


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.capitalize() for part in rest)


def parse_user(raw: dict[str, object]) -> ClerkUser | None:
    """A listed user as the webhook's model reads it; None when it has no valid id or updated_at."""
    try:
        return parse_clerk_user(raw)
    except InvalidEventError:
        return None


def needs_write(user: ClerkUser, profile: StoredProfile | None) -> bool:
    """Only a user Clerk knows newer than the table: unknown here, or active with an older version."""
    if profile is None:
        return True
    if profile.status is ProfileStatus.DELETED:
        return False
    return profile.version is None or profile.version < user.updated_at


def preview_snapshot(store: ConnectionStore, user: ClerkUser, providers: ProviderMap = DEFAULT_PROVIDERS) -> SyncResult:
    """What apply_snapshot would do, from one read and the same rules, writing nothing (dry run)."""
    stored = store.read_user(user.id)
    profile = stored.profile
    if profile is not None and not needs_write(user, profile):
        return SyncResult(Outcome.STALE, user.id)
    plan = plan_sync(desired_state(user, providers), stored.connections)
    return SyncResult.of_plan(user.id, plan)


def recent_floor(mode: Mode, last_finished_started_at: int | None, overlap_ms: int) -> int | None:
    """`recent` lists newest first down to the last finished run's start minus the overlap; None: no floor."""
    if mode is not Mode.RECENT or last_finished_started_at is None:
        return None
    return last_finished_started_at - overlap_ms
