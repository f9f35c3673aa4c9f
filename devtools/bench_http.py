"""End-to-end throughput of the local stack: signed Clerk events over real HTTP from concurrent senders.

Everything runs on 127.0.0.1 and the number of requests is fixed. Senders, HTTP stand-in, handlers and moto's
DynamoDB share one interpreter (and its GIL), so the figures describe the local stack far more than the handler.
"""

from __future__ import annotations

import statistics
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Final
from urllib.error import HTTPError
from urllib.parse import urlsplit

from devtools.clerk_payloads import external_account, to_body, user_event
from devtools.local_stack import start_local_stack
from devtools.testkit.deliveries import svix_headers

REQUEST_TIMEOUT_SECONDS: Final = 10.0
STREAM_IDLE_TIMEOUT_SECONDS: Final = 60.0
T0: Final = 1_716_883_200_000


@dataclass(frozen=True)
class ThroughputResult:
    title: str
    events: int
    senders: int
    seconds: float
    events_per_second: float
    p50_ms: float
    p99_ms: float
    failures: int


@dataclass(frozen=True)
class _SignedRequest:
    body: bytes
    headers: dict[str, str]


def _accounts(user_id: str) -> list[dict[str, object]]:
    providers = (("x", "oauth_x"), ("ig", "oauth_instagram"), ("tt", "oauth_custom_tiktok"))
    return [external_account(f"eac_{user_id}_{name}", provider, updated_at=T0) for name, provider in providers]


def _signed(secret: str, payload: dict[str, object]) -> _SignedRequest:
    body = to_body(payload)
    return _SignedRequest(body.encode(), {**svix_headers(secret, body), "content-type": "application/json"})


def _post(url: str, request: _SignedRequest) -> tuple[int, float]:
    """(status, seconds) of one delivery."""
    started = time.perf_counter()
    message = urllib.request.Request(url, data=request.body, headers=request.headers, method="POST")  # noqa: S310
    try:
        with urllib.request.urlopen(message, timeout=REQUEST_TIMEOUT_SECONDS) as response:  # noqa: S310 - loopback only
            response.read()
            status = int(response.status)
    except HTTPError as error:
        status = error.code
    return status, time.perf_counter() - started


def _send_all(url: str, title: str, requests: list[_SignedRequest], senders: int) -> ThroughputResult:
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=senders, thread_name_prefix="bench-sender") as pool:
        results = list(pool.map(lambda request: _post(url, request), requests))
    elapsed = time.perf_counter() - started
    latencies_ms = [seconds * 1000 for _, seconds in results]
    percentiles = statistics.quantiles(latencies_ms, n=100, method="inclusive")
    return ThroughputResult(
        title=title,
        events=len(requests),
        senders=senders,
        seconds=round(elapsed, 3),
        events_per_second=len(requests) / elapsed,
        p50_ms=statistics.median(latencies_ms),
        p99_ms=percentiles[98],
        failures=sum(1 for status, _ in results if status != 200),
    )


def measure_throughput(*, users: int, updates_per_user: int, senders: int) -> list[ThroughputResult]:
    """user.created (3 accounts) for `users` new users, then rounds of no-change user.updated for each of them."""
    with start_local_stack(port=0) as stack:
        url = stack.webhook_url
        if urlsplit(url).hostname != "127.0.0.1":
            raise RuntimeError(f"the local stack must listen on 127.0.0.1, not {url}")
        # The first delivery imports the handler (its cold start); it is not part of the steady state measured here.
        _post(url, _signed(stack.secret, user_event("user.created", "user_warmup", updated_at=T0)))
        user_ids = [f"user_bench_{index:05d}" for index in range(users)]
        created = [
            _signed(stack.secret, user_event("user.created", user_id, updated_at=T0, accounts=_accounts(user_id)))
            for user_id in user_ids
        ]
        results = [_send_all(url, "user.created, 3 accounts", created, senders)]
        # Round by round, so no two senders ever hold updates of the same user at once.
        updated = [
            _signed(
                stack.secret,
                user_event("user.updated", user_id, updated_at=T0 + round_ + 1, accounts=_accounts(user_id)),
            )
            for round_ in range(updates_per_user)
            for user_id in user_ids
        ]
        results.append(_send_all(url, "user.updated, no change", updated, senders))
        stack.wait_for_stream_idle(STREAM_IDLE_TIMEOUT_SECONDS)
    return results
