"""An in-memory ConnectionStore with the conditions of the DynamoDB one, for unit tests of the logic in milliseconds.

`before_write` runs before each snapshot write, so a test can play a concurrent writer at exactly that moment.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

from social_connections.model import (
    AccountDetails,
    ConcurrentModificationError,
    ConnectionKey,
    ConnectionStatus,
    DeletionRequest,
    DeletionStatus,
    PlatformAccountRow,
    ProfileStatus,
    ProfileWrite,
    ReconcileState,
    RowState,
    RowTimes,
    StoredConnection,
    StoredProfile,
    StoredUser,
    SyncPlan,
)
from social_connections.providers import Platform
from social_connections.row_copy import details_digest


@dataclass
class MemoryConnectionStore:
    profiles: dict[str, StoredProfile] = field(default_factory=dict)
    rows: dict[str, dict[ConnectionKey, StoredConnection]] = field(default_factory=dict)
    last_errors: dict[tuple[str, ConnectionKey], str] = field(default_factory=dict)
    # The profile's snapshotDigest attribute, kept apart so that StoredProfile compares as the table reads it.
    digests: dict[str, str] = field(default_factory=dict)
    snapshot_writes: int = 0
    reads: int = 0
    # Calls of the store's round-trip methods (reads, snapshot writes, failed ones included), for tests of B3.
    round_trips: int = 0
    deletion_requests: dict[str, DeletionRequest] = field(default_factory=dict)
    before_write: Callable[[MemoryConnectionStore], None] | None = None
    reconcile_state: ReconcileState = field(default_factory=ReconcileState)
    # Bulk reads as DynamoDB would count them: one per 100 profiles asked for.
    batch_reads: int = 0

    def read_user(self, user_id: str) -> StoredUser:
        self.reads += 1
        self.round_trips += 1
        return StoredUser(profile=self.profiles.get(user_id), connections=dict(self.rows.get(user_id, {})))

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
        if self.before_write is not None:
            self.before_write(self)
        self.round_trips += 1
        profile = self.profiles.get(user_id)
        stored = self.rows.setdefault(user_id, {})
        locked = profile == expected and (profile is None or profile.status is ProfileStatus.ACTIVE)
        if not locked:
            raise ConcurrentModificationError(user_id, found=profile)
        if not _rows_as_assumed(stored, plan):
            raise ConcurrentModificationError(user_id)
        self.snapshot_writes += 1
        if digest is None:
            self.digests.pop(user_id, None)
        else:
            self.digests[user_id] = digest
        for upsert in plan.upserts:
            old = stored.get(upsert.desired.key)
            status = upsert.set_status or (old.status if old else upsert.desired.status)
            errors = 0 if upsert.reset_errors or old is None else old.error_count
            times = RowTimes(synced_at, synced_at) if old is None else old.times._replace(updated_at=synced_at)
            details = upsert.desired.details
            stored[upsert.desired.key] = StoredConnection(
                upsert.desired.key, status, errors, details, times, details_digest=details_digest(details)
            )
        for key in plan.disconnects:
            stored[key] = stored[key]._replace(
                status=ConnectionStatus.DISCONNECTED,
                details=without_personal_data(stored[key].details),
                details_digest=None,
            )
        for failure in plan.failures:
            if failure.key is not None and failure.key in stored:
                self.record_publish_failure(user_id, failure.key, failure.reason)
        self.profiles[user_id] = StoredProfile(
            user_id, ProfileStatus.ACTIVE, version, rows=dict(rows) if rows is not None else None
        )

    def write_if_unchanged(self, user_id: str, *, version: int, digest: str) -> ProfileWrite:
        if self.before_write is not None:
            self.before_write(self)
        self.round_trips += 1
        profile = self.profiles.get(user_id)
        if (
            profile is None
            or profile.status is not ProfileStatus.ACTIVE
            or profile.version is None
            or profile.version >= version
            or self.digests.get(user_id) != digest
        ):
            return ProfileWrite(applied=False, found=profile)
        self.profiles[user_id] = profile._replace(version=version)
        return ProfileWrite(applied=True)

    def mark_deleted(self, user_id: str, deleted_at: str) -> bool:
        profile = self.profiles.get(user_id)
        if profile is not None and profile.status is ProfileStatus.DELETED:
            return False
        self.digests.pop(user_id, None)
        self.profiles[user_id] = StoredProfile(user_id, ProfileStatus.DELETED, None)
        return True

    def record_publish_failure(self, user_id: str, key: ConnectionKey, error: str) -> bool:
        row = self.rows.get(user_id, {}).get(key)
        if row is None:
            return False
        times = row.times._replace(last_error=error)
        self.rows[user_id][key] = row._replace(error_count=row.error_count + 1, times=times)
        self.last_errors[(user_id, key)] = error
        return True

    def record_publish_success(self, user_id: str, key: ConnectionKey) -> bool:
        row = self.rows.get(user_id, {}).get(key)
        if row is None or row.error_count == 0:
            return False
        self.rows[user_id][key] = row._replace(error_count=0)
        return True

    def mark_error(self, user_id: str, key: ConnectionKey, threshold: int) -> bool:
        row = self.rows.get(user_id, {}).get(key)
        if row is None or row.status is not ConnectionStatus.CONNECTED or row.error_count < threshold:
            return False
        self.rows[user_id][key] = row._replace(status=ConnectionStatus.ERROR)
        return True

    def mark_recovered(self, user_id: str, key: ConnectionKey) -> bool:
        row = self.rows.get(user_id, {}).get(key)
        verified = row is not None and row.details.verification_status == "verified"
        if row is None or row.status is not ConnectionStatus.ERROR or row.error_count != 0 or not verified:
            return False
        self.rows[user_id][key] = row._replace(status=ConnectionStatus.CONNECTED)
        return True

    def delete_connections(self, user_id: str) -> int:
        return len(self.rows.pop(user_id, {}))

    # ---- reconciliation (ReconcileStore) ---------------------------------------------------------------------------

    def read_profiles(self, user_ids: Sequence[str]) -> dict[str, StoredProfile]:
        unique = list(dict.fromkeys(user_ids))
        self.batch_reads += -(-len(unique) // 100)
        return {user_id: self.profiles[user_id] for user_id in unique if user_id in self.profiles}

    def active_user_ids(self) -> Iterator[str]:
        return iter([user_id for user_id, p in self.profiles.items() if p.status is ProfileStatus.ACTIVE])

    def read_reconcile_state(self) -> ReconcileState:
        return self.reconcile_state

    def save_reconcile_cursor(self, mode: str, offset: int, started_at: int) -> None:
        self.reconcile_state = self.reconcile_state._replace(
            cursor_mode=mode, cursor_offset=offset, cursor_started_at=started_at
        )

    def finish_reconcile_run(self, mode: str, started_at: int) -> None:
        self.reconcile_state = ReconcileState(last_finished_started_at=started_at)

    # ---- PlatformStore -------------------------------------------------------------------------------------------

    def find_platform_account(self, platform: Platform, platform_user_id: str) -> list[PlatformAccountRow]:
        return [
            PlatformAccountRow(user_id, key)
            for user_id, rows in self.rows.items()
            for key, row in rows.items()
            if key.platform is platform and row.details.platform_user_id == platform_user_id
        ]

    def erase_personal_data(self, user_id: str, key: ConnectionKey) -> bool:
        row = self.rows.get(user_id, {}).get(key)
        if row is None:
            return False
        self.rows[user_id][key] = row._replace(details=without_personal_data(row.details), details_digest=None)
        return True

    def mark_revoked(self, user_id: str, key: ConnectionKey, *, revoked_at_ms: int, reason: str, at: str) -> bool:
        row = self.rows.get(user_id, {}).get(key)
        revocable = {ConnectionStatus.CONNECTED, ConnectionStatus.ERROR}
        if row is None or row.status not in revocable or row.details.account_version > revoked_at_ms:
            return False
        self.rows[user_id][key] = row._replace(status=ConnectionStatus.EXPIRED)
        self.last_errors[(user_id, key)] = reason
        return True

    def open_deletion_request(self, code: str, *, requested_at: str | None, received_at: str) -> None:
        self.deletion_requests.setdefault(
            code, DeletionRequest(code, DeletionStatus.IN_PROGRESS, received_at, requested_at=requested_at)
        )

    def complete_deletion_request(self, code: str, *, rows_affected: int, completed_at: str) -> None:
        found = self.deletion_requests.get(code)
        if found is not None and found.status is not DeletionStatus.COMPLETED:
            self.deletion_requests[code] = found._replace(
                status=DeletionStatus.COMPLETED, completed_at=completed_at, rows_affected=rows_affected
            )

    def read_deletion_request(self, code: str) -> DeletionRequest | None:
        return self.deletion_requests.get(code)


def _rows_as_assumed(stored: Mapping[ConnectionKey, StoredConnection], plan: SyncPlan) -> bool:
    """The row conditions of the DynamoDB writer: existence as planned, assumed statuses, checked details."""
    for upsert in plan.upserts:
        row = stored.get(upsert.desired.key)
        if (row is None) != upsert.is_new:
            return False
        if upsert.expect_status is not None and (row is None or row.status is not upsert.expect_status):
            return False
    for check in plan.checks:
        row = stored.get(check.key)
        if row is None or row.details_digest != check.details_digest:
            return False
        if check.status is not None and row.status is not check.status:
            return False
    return all(key in stored for key in plan.disconnects)


def without_personal_data(details: AccountDetails) -> AccountDetails:
    """What a row keeps once its personal data is gone (disconnected, or erased on the platform's request)."""
    return details._replace(platform_username=None, email=None, first_name=None, last_name=None, image_url=None)
