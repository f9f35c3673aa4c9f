"""Races, ordering and replays: shuffled, duplicated snapshots and deletions for the same users, delivered by many
threads through the webhook handler while the stream function runs; then every event replayed.

Each DynamoDB request is made atomic (one lock around moto, which is not thread-safe), as the real service is;
between requests threads interleave freely, which is where the races are (read, plan, then a conditional write).
"""

from __future__ import annotations

import itertools
import random
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest
from social_connections import container
from social_connections.apply_clerk_event import apply_snapshot
from social_connections.clerk_events import parse_clerk_user
from social_connections.clock import iso_from_millis
from social_connections.storage import DynamoDBConnectionStore

from devtools.clerk_payloads import deleted_event, external_account, to_body, user_event
from devtools.testkit.aws import TEST_TABLE_NAME, LambdaContextStub
from devtools.testkit.deliveries import http_api_event, new_message_id, svix_headers
from devtools.testkit.table import StreamReader, table_items
from tests.reliability.conftest import create_table
from tests.reliability.support import (
    contract_violations,
    copy_violations,
    count,
    examples,
    invoke,
    rows_lost,
    stream_module,
)

T0 = 1_716_883_200_000
REFERENCE_TABLE = "connections-reference"
THREADS = 8
SVIX_ATTEMPTS = 8  # Svix retries a failed delivery 8 times over about 28 hours
STATUS_OF = {"verified": "connected", "expired": "expired", "failed": "error"}
PROVIDERS = ("oauth_x", "oauth_twitter", "oauth_instagram", "oauth_tiktok", "oauth_custom_tiktok")
PLATFORM_OF = {"oauth_x": "twitter", "oauth_twitter": "twitter", "oauth_instagram": "instagram"}
# Attributes that record when or in which event a row last changed: they depend on which snapshots happened to be
# applied before the newest one, not on the newest one itself.
HISTORY_ATTRIBUTES = frozenset({"lastSyncAt", "updatedAt", "version", "connectedAt", "lastErrorAt", "deletedAt"})


def platform(provider: str) -> str:
    return PLATFORM_OF.get(provider, "tiktok")


# ---- stories --------------------------------------------------------------------------------------------------------


@dataclass
class Account:
    account_id: str
    provider: str
    linked: bool = False
    status: str = "verified"
    username: str = ""
    changed_at: int = T0

    @property
    def sk(self) -> str:
        return f"CONNECTION#{platform(self.provider)}#{self.account_id}"


@dataclass
class UserStory:
    user_id: str
    snapshots: list[dict[str, Any]] = field(default_factory=list)  # oldest first
    deleted: bool = False
    # sk -> status the newest snapshot asks for (verified -> connected, expired, failed -> error)
    newest_intent: dict[str, str] = field(default_factory=dict)
    pool: set[str] = field(default_factory=set)


def make_user_story(rng: random.Random, user_id: str, versions: int) -> UserStory:
    """Snapshots as Clerk sends them: an account's own updated_at moves whenever anything about it changes."""
    accounts = [Account(f"eac_{user_id}_{i}", rng.choice(PROVIDERS)) for i in range(4)]
    story = UserStory(user_id, pool={account.sk for account in accounts})
    for number in range(versions):
        version = T0 + 1_000 * (number + 1)
        for account in accounts:
            if number == 0 or rng.random() < 0.4:
                account.linked = rng.random() < 0.8
                account.status = rng.choice(["verified", "verified", "verified", "expired", "failed", "unverified"])
                account.username = f"{account.account_id}_v{number}"
                account.changed_at = version
        entries = [
            external_account(a.account_id, a.provider, updated_at=a.changed_at, status=a.status, username=a.username)
            for a in accounts
            if a.linked
        ]
        event_type = "user.created" if number == 0 else "user.updated"
        story.snapshots.append(user_event(event_type, user_id, updated_at=version, accounts=entries))
    story.newest_intent = {a.sk: STATUS_OF[a.status] for a in accounts if a.linked and a.status in STATUS_OF}
    story.deleted = rng.random() < 0.4
    return story


@dataclass(frozen=True)
class Message:
    """One Svix message: its id stays the same across retries and dashboard replays."""

    message_id: str
    body: str


def messages_of(story: UserStory) -> list[Message]:
    payloads = [*story.snapshots, *([deleted_event(story.user_id)] if story.deleted else [])]
    return [Message(new_message_id(), to_body(payload)) for payload in payloads]


# ---- concurrent delivery --------------------------------------------------------------------------------------------


@dataclass
class RaceLab:
    secret: str
    lock: threading.RLock = field(default_factory=threading.RLock)
    conflicts: int = 0
    reader: LockedStreamReader | None = None

    def make_atomic(self, client: Any) -> None:
        """Every request of `client` holds the moto lock for its whole duration (reaching into botocore on purpose)."""
        make_api_call = client._make_api_call

        def atomic(operation: str, params: Any) -> Any:
            try:
                with self.lock:
                    return make_api_call(operation, params)
            finally:
                # Hand the interpreter to another thread between requests, so that reads and writes interleave.
                time.sleep(random.random() / 1000)

        client._make_api_call = atomic

    def _conflict(self, parsed: dict[str, Any], **_: Any) -> None:
        # Runs inside an atomic request (the moto lock is held), so it needs no lock of its own.
        code = parsed.get("Error", {}).get("Code")
        if code in ("ConditionalCheckFailedException", "TransactionCanceledException"):
            self.conflicts += 1

    def watch(self) -> None:
        client = container.current().dynamodb
        self.make_atomic(client)
        client.meta.events.register("after-call.dynamodb", self._conflict)
        arn = boto3.client("dynamodb").describe_table(TableName=TEST_TABLE_NAME)["Table"]["LatestStreamArn"]
        streams = boto3.client("dynamodbstreams")
        self.make_atomic(streams)
        self.reader = LockedStreamReader(StreamReader(streams, arn), self.lock)  # one stream position per test

    def stream_poller(self) -> StreamPoller:
        assert self.reader is not None
        return StreamPoller(self.reader)

    def deliver(self, message: Message) -> int:
        """Deliver like Svix: retry (same id, new timestamp) while the answer is not a 2xx."""
        for _attempt in range(SVIX_ATTEMPTS):
            event = http_api_event(message.body, svix_headers(self.secret, message.body, message_id=message.message_id))
            status = invoke(event).status
            count(f"races.status.{status}")
            if 200 <= status < 300:
                return status
            count("races.svix_redeliveries")
        return status


class LockedStreamReader:
    """The stream read under the moto lock: iterator and records in one atomic step.

    moto rolls a cancelled transaction back by swapping in a copy of the table, stream shard included; an iterator
    taken just before reads the discarded copy, with the cancelled transaction's records in it (AWS has neither
    problem). StreamReader already takes a fresh iterator after its last sequence number on every read.
    """

    def __init__(self, reader: StreamReader, lock: threading.RLock) -> None:
        self._reader = reader
        self._lock = lock

    def read(self) -> list[dict[str, Any]]:
        with self._lock:
            return self._reader.read()


class StreamPoller:
    """The stream function fed from the table's stream by a thread, like the event source mapping."""

    def __init__(self, reader: LockedStreamReader) -> None:
        self._reader = reader
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.failures: list[dict[str, Any]] = []
        self.records = 0

    def __enter__(self) -> StreamPoller:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(timeout=60)
        self.drain()

    def _run(self) -> None:
        while not self._stop.is_set():
            if not self._poll():
                time.sleep(0.005)  # only to let the delivery threads run; nothing is timed

    def _poll(self) -> bool:
        records = self._reader.read()
        if records:
            self.records += len(records)
            response = stream_module().lambda_handler({"Records": records}, LambdaContextStub())
            self.failures.extend(response["batchItemFailures"])
        return bool(records)

    def drain(self) -> int:
        read_before = self.records
        while self._poll():
            pass
        return self.records - read_before


@pytest.fixture
def lab(table: str, secret: str) -> Iterator[RaceLab]:
    lab = RaceLab(secret)
    lab.watch()
    create_table(REFERENCE_TABLE)
    yield lab


def deliver_concurrently(lab: RaceLab, deliveries: list[Message]) -> None:
    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        statuses = list(pool.map(lab.deliver, deliveries))
    assert all(200 <= status < 300 for status in statuses), Counter(statuses)


# ---- the expected table -------------------------------------------------------------------------------------------


def newest_alone(story: UserStory) -> dict[str, dict[str, Any]]:
    """The rows the newest snapshot gives a user on its own, applied sequentially to the reference table."""
    store = DynamoDBConnectionStore(REFERENCE_TABLE, boto3.client("dynamodb"))
    apply_snapshot(store, parse_clerk_user(story.snapshots[-1]["data"]))
    rows = table_items(REFERENCE_TABLE)
    return {item["sk"]: item for item in rows if item["pk"] == f"USER#{story.user_id}"}


def without_history(row: dict[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in row.items() if name not in HISTORY_ATTRIBUTES}


def check_user(story: UserStory, rows: dict[str, dict[str, Any]]) -> None:
    count("races.users_checked")
    if story.deleted:
        tombstone = {
            "pk": f"USER#{story.user_id}",
            "sk": "PROFILE",
            "userId": story.user_id,
            "profileStatus": "deleted",
        }
        actual = {("", sk): without_history(row) for sk, row in rows.items()}
        assert rows_lost({("", "PROFILE"): tombstone}, actual) == 0, f"{story.user_id}: not just a tombstone: {rows}"
        return
    newest = story.snapshots[-1]["data"]["updated_at"]
    profile = rows.pop("PROFILE")
    assert (profile["profileStatus"], profile["version"]) == ("active", newest), story.user_id
    alone = newest_alone(story)
    alone.pop("PROFILE")
    # Rows the newest snapshot asks for equal what it alone would write, history aside.
    expected = {("", sk): without_history(row) for sk, row in alone.items()}
    actual = {("", sk): without_history(row) for sk, row in rows.items() if sk in story.newest_intent}
    assert rows_lost(expected, actual) == 0, f"{story.user_id}: {expected} != {actual}"
    assert {sk: row["connectionStatus"] for sk, row in alone.items()} == story.newest_intent
    for sk, row in rows.items():
        assert row.get("connectedAt", "") <= iso_from_millis(newest)
        if sk not in story.newest_intent:
            # Accounts an older snapshot had: disconnected, or never written when that snapshot lost the race.
            assert sk in story.pool
            assert row["connectionStatus"] == "disconnected", f"{story.user_id}/{sk} should be disconnected"


def check_table(stories: list[UserStory]) -> list[dict[str, Any]]:
    items = table_items()
    assert contract_violations(items) == []
    assert copy_violations(items) == []
    by_user: dict[str, dict[str, dict[str, Any]]] = {}
    for item in items:
        by_user.setdefault(item["userId"], {})[item["sk"]] = item
    assert set(by_user) == {story.user_id for story in stories}
    for story in stories:
        check_user(story, dict(by_user[story.user_id]))
    return items


# ---- the tests ------------------------------------------------------------------------------------------------------

STORIES = max(3, examples() // 50)


@pytest.mark.parametrize("seed", range(STORIES))
def test_shuffled_duplicated_concurrent_deliveries_converge_and_replays_change_nothing(lab, seed):
    rng = random.Random(seed)
    stories = [make_user_story(rng, f"user_race{seed}_{n}", versions=rng.randint(2, 6)) for n in range(6)]
    messages = [message for story in stories for message in messages_of(story)]
    # Svix delivers at least once: every message one to three times, in any order, many at once.
    deliveries = [message for message in messages for _ in range(rng.randint(1, 3))]
    rng.shuffle(deliveries)
    with lab.stream_poller() as poller:
        deliver_concurrently(lab, deliveries)
    assert poller.failures == []
    settled = check_table(stories)
    count("races.stories")
    count("races.deliveries", len(deliveries))
    count("races.lock_conflicts", lab.conflicts)

    # Dashboard replays of the whole story, long after: nothing changes, nothing is even written.
    replays = list(messages)
    rng.shuffle(replays)
    with lab.stream_poller() as poller:
        deliver_concurrently(lab, replays)
    assert poller.records == 0, "a replay wrote to the table"
    assert table_items() == settled
    count("replays.events", len(replays))


def test_one_hot_user_under_heavy_contention(lab):
    """Twelve versions of one user, each delivered three times by twelve threads at once, then deleted."""
    rng = random.Random(99)
    story = make_user_story(rng, "user_hot", versions=12)
    story.deleted = False
    messages = messages_of(story)
    deliveries = [message for message in messages for _ in range(3)]
    rng.shuffle(deliveries)
    with lab.stream_poller() as poller, ThreadPoolExecutor(max_workers=12) as pool:
        assert all(status == 200 for status in pool.map(lab.deliver, deliveries))
    assert poller.failures == []
    check_table([story])
    count("races.stories")
    count("races.deliveries", len(deliveries))
    count("races.lock_conflicts", lab.conflicts)
    assert lab.conflicts > 0, "the threads never collided: this test would prove nothing"

    # A deletion racing late copies of every snapshot: deletion wins, and cleanup leaves only the tombstone.
    story.deleted = True
    late = [Message(new_message_id(), to_body(deleted_event(story.user_id))), *itertools.islice(messages, 12)]
    rng.shuffle(late)
    with lab.stream_poller(), ThreadPoolExecutor(max_workers=12) as pool:
        assert all(status == 200 for status in pool.map(lab.deliver, late))
    check_table([story])
