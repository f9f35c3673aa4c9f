"""Reconcile the table with Clerk's Backend API: page through the users and apply each snapshot as a webhook would.

Every snapshot goes through `apply_clerk_event.apply_snapshot` (updated_at is the version: never over a newer stored
one, never over a tombstone), so a run and webhooks may interleave freely. Stored versions are read in bulk first and
only users newer in Clerk are written. A `full` run then confirms, by `user_id` look-ups, which active users of the
table Clerk no longer has, and tombstones them through the deletion path. A run that must stop (Lambda's timeout)
keeps its cursor in the table; the next run of the same mode continues from there.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from social_connections.apply_clerk_event import Outcome, SyncResult, apply_deletion, apply_snapshot
from social_connections.clerk_api import MAX_IDS_PER_LOOKUP, ClerkCallStats
from social_connections.clerk_events import ClerkUser
from social_connections.connection_store import ReconcileStore
from social_connections.model import ProfileStatus
from social_connections.reconcile_plan import (
    ORDER_BY,
    Mode,
    ReconcileOptions,
    ReconcileSummary,
    UserSource,
    needs_write,
    parse_user,
    preview_snapshot,
    recent_floor,
)

Progress = Callable[[int, int], None]


class ReconcileFailedError(Exception):
    """Clerk or DynamoDB failed mid-run; `summary` says what was done. Finished pages are kept (cursor saved)."""

    def __init__(self, summary: ReconcileSummary, cause: BaseException) -> None:
        super().__init__(str(cause))
        self.summary = summary


@dataclass
class _Run:
    summary: ReconcileSummary
    started_at: int
    offset: int
    total: int = 0
    seen: set[str] = field(default_factory=set)


class Reconciler:
    def __init__(
        self,
        store: ReconcileStore,
        clerk: UserSource,
        options: ReconcileOptions,
        *,
        should_stop: Callable[[], bool] = lambda: False,
        on_progress: Progress | None = None,
        dynamodb_requests: Callable[[], int] = lambda: 0,
        clerk_stats: ClerkCallStats | None = None,
    ) -> None:
        self._store = store
        self._clerk = clerk
        self._options = options
        self._should_stop = should_stop
        self._on_progress = on_progress
        self._dynamodb_requests = dynamodb_requests
        self._clerk_stats = clerk_stats or getattr(clerk, "stats", None) or ClerkCallStats()
        self._floor: int | None = None

    def run(self) -> ReconcileSummary:
        """One run; ReconcileFailedError (with the summary so far) when Clerk or the table failed."""
        began = time.monotonic()
        baseline = (self._dynamodb_requests(), self._clerk_stats.requests, self._clerk_stats.rate_limited_waits)
        try:
            run = self._start()
        except Exception as error:
            empty = ReconcileSummary(mode=self._options.mode, dry_run=self._options.dry_run)
            raise ReconcileFailedError(self._close(empty, began, baseline), error) from error
        try:
            with ThreadPoolExecutor(max_workers=max(1, self._options.workers)) as pool:
                run.summary.finished = self._list(run, pool) and self._sweep(run, pool)
            if run.summary.finished and self._records_run:
                self._store.finish_reconcile_run(self._options.mode.value, run.started_at)
        except Exception as error:
            self._save_cursor_quietly(run)
            raise ReconcileFailedError(self._close(run.summary, began, baseline), error) from error
        return self._close(run.summary, began, baseline)

    @property
    def _records_run(self) -> bool:
        """Dry runs write nothing at all; a sample (--limit) run is not one to resume or to start `recent` from."""
        return not self._options.dry_run and self._options.limit is None

    def _start(self) -> _Run:
        options = self._options
        state = self._store.read_reconcile_state()
        self._floor = recent_floor(options.mode, state.last_finished_started_at, options.overlap_ms)
        summary = ReconcileSummary(mode=options.mode, dry_run=options.dry_run)
        resuming = self._records_run and state.cursor_mode == options.mode.value and state.cursor_started_at
        if resuming and state.cursor_started_at is not None:
            run = _Run(summary, started_at=state.cursor_started_at, offset=state.cursor_offset)
        else:
            run = _Run(summary, started_at=int(time.time() * 1000), offset=0)
        run.total = self._clerk.count_users()
        return run

    def _list(self, run: _Run, pool: ThreadPoolExecutor) -> bool:
        """Page through Clerk; True when the listing is complete, False when told to stop (cursor saved)."""
        options = self._options
        while True:
            if self._should_stop():
                self._save_cursor(run)
                return False
            # A sample run never resumes, so its offset counts exactly the entries it listed.
            limit = options.page_size if options.limit is None else min(options.page_size, options.limit - run.offset)
            page = self._clerk.list_users(limit=limit, offset=run.offset, order_by=ORDER_BY[options.mode])
            users = self._take(run, page)
            kept = [user for user in users if self._floor is None or user.updated_at >= self._floor]
            self._apply(run, kept, pool)
            run.offset += len(page)
            if self._on_progress is not None:
                self._on_progress(run.offset, max(run.total, run.offset))
            sample_done = options.limit is not None and run.offset >= options.limit
            # Past the count taken at the start: no empty last page to ask for (users created since reach the
            # table by webhook, and the next run lists them).
            counted_all = run.total > 0 and run.offset >= run.total
            if len(page) < limit or len(kept) < len(users) or sample_done or counted_all:
                return True

    def _take(self, run: _Run, page: Sequence[dict[str, object]]) -> list[ClerkUser]:
        """The page's valid users not seen yet in this run (offset paging may show one twice)."""
        users: list[ClerkUser] = []
        for raw in page:
            user = parse_user(raw)
            if user is None:
                run.summary.users_invalid += 1
            elif user.id not in run.seen:
                run.seen.add(user.id)
                users.append(user)
        return users

    def _apply(self, run: _Run, users: list[ClerkUser], pool: ThreadPoolExecutor) -> None:
        """Bulk-read the stored versions, then apply (or preview) only the users newer in Clerk, in parallel."""
        if not users:
            return
        profiles = self._store.read_profiles([user.id for user in users])
        todo = [user for user in users if needs_write(user, profiles.get(user.id))]
        run.summary.users_seen += len(users)
        run.summary.users_unchanged += len(users) - len(todo)
        for result in pool.map(self._apply_one, todo):
            run.summary.count_result(result)

    def _apply_one(self, user: ClerkUser) -> SyncResult:
        if self._options.dry_run:
            return preview_snapshot(self._store, user, self._options.providers)
        return apply_snapshot(self._store, user, providers=self._options.providers)

    def _sweep(self, run: _Run, pool: ThreadPoolExecutor) -> bool:
        """`full` only: active users Clerk did not list are looked up by id; the ones Clerk lacks are tombstoned."""
        if self._options.mode is not Mode.FULL or self._options.limit is not None:
            return True
        candidates = [user_id for user_id in self._store.active_user_ids() if user_id not in run.seen]
        for chunk in _chunks(candidates, MAX_IDS_PER_LOOKUP):
            if self._should_stop():
                self._save_cursor(run)
                return False
            found = self._clerk.users_by_id(chunk)
            present = {str(raw.get("id")) for raw in found}
            self._apply(run, self._take(run, found), pool)
            if any(not isinstance(raw.get("id"), str) for raw in found):
                continue  # an answer we cannot attribute: tombstone nobody from it
            for user_id in (user_id for user_id in chunk if user_id not in present):
                if self._tombstone(user_id):
                    run.summary.users_tombstoned += 1
        return True

    def _tombstone(self, user_id: str) -> bool:
        if self._options.dry_run:
            profile = self._store.read_profiles([user_id]).get(user_id)
            return profile is not None and profile.status is ProfileStatus.ACTIVE
        return apply_deletion(self._store, user_id).outcome is Outcome.DELETED

    def _save_cursor(self, run: _Run) -> None:
        if self._records_run:
            self._store.save_reconcile_cursor(self._options.mode.value, run.offset, run.started_at)

    def _save_cursor_quietly(self, run: _Run) -> None:
        """After a failure, keep the finished pages if the table still answers; the run's error is the one to report."""
        with contextlib.suppress(Exception):
            self._save_cursor(run)

    def _close(self, summary: ReconcileSummary, began: float, baseline: tuple[int, int, int]) -> ReconcileSummary:
        summary.dynamodb_requests = self._dynamodb_requests() - baseline[0]
        summary.clerk_requests = self._clerk_stats.requests - baseline[1]
        summary.rate_limited_waits = self._clerk_stats.rate_limited_waits - baseline[2]
        summary.duration_seconds = time.monotonic() - began
        return summary


def _chunks(items: Sequence[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(items), size):
        yield list(items[start : start + size])
