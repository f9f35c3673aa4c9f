"""Clerk's Backend API as reconciliation uses it: list and count users, look users up by id.

A small standard-library client rather than the official `clerk-backend-api` SDK (docs/reconciliation.md says why):
the users stay raw JSON, so they go through the same validation as webhook payloads. It keeps under a
client-side rate ceiling, waits `Retry-After` on 429, backs off on 5xx and connection errors, and counts its calls.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final

from social_connections.clerk_oauth import OAuthToken, clerk_error_code, oauth_tokens_from
from social_connections.clerk_settings import ClerkApiSettings

MAX_PAGE_SIZE: Final = 500
MAX_IDS_PER_LOOKUP: Final = 100
RATE_WINDOW_SECONDS: Final = 10.0
MAX_ATTEMPTS: Final = 6
MAX_RETRY_AFTER_SECONDS: Final = 60.0
REQUEST_TIMEOUT_SECONDS: Final = 30.0
# A caller waits for a token behind API Gateway's 30 s: one try, bounded well inside the function's timeout.
TOKEN_TIMEOUT_SECONDS: Final = 5.0
USER_AGENT: Final = "clerk-social-connections-reconcile"

RawUser = dict[str, object]


class ClerkApiError(Exception):
    """Clerk could not be reached or kept failing after retries: the run stops and says so."""


class ClerkAuthError(ClerkApiError):
    """Clerk refused the secret key (401/403): a configuration problem."""


class ClerkResponseError(ClerkApiError):
    """Clerk answered 2xx with something that is not the documented shape."""


class ClerkRateLimitedError(ClerkApiError):
    """Clerk answered 429 to a call that is not retried here; `retry_after` is its Retry-After, in seconds."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"Clerk is rate limiting; retry after {retry_after} s")
        self.retry_after = retry_after


class ClerkRefusedError(ClerkApiError):
    """Clerk answered a 4xx about this request, not the key: `code` is Clerk's, e.g. oauth_token_retrieval_error."""

    def __init__(self, status: int, code: str) -> None:
        super().__init__(f"Clerk refused (HTTP {status}, {code or 'no code'})")
        self.status = status
        self.code = code


@dataclass
class ClerkCallStats:
    requests: int = 0
    rate_limited_waits: int = 0


class RateCeiling:
    """At most `limit` request starts in any sliding window of 10 s, shared by every thread of the client."""

    def __init__(
        self, limit: int, *, clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep
    ) -> None:
        self._limit = limit
        self._clock = clock
        self._sleep = sleep
        self._starts: deque[float] = deque()
        self._lock = threading.Lock()

    def acquire(self) -> None:
        while True:
            with self._lock:
                now = self._clock()
                while self._starts and now - self._starts[0] >= RATE_WINDOW_SECONDS:
                    self._starts.popleft()
                if len(self._starts) < self._limit:
                    self._starts.append(now)
                    return
                wait = RATE_WINDOW_SECONDS - (now - self._starts[0])
            self._sleep(max(wait, 0.001))


class ClerkClient:
    """Thread-safe: one instance serves a run's worker threads."""

    def __init__(
        self,
        settings: ClerkApiSettings,
        secret_key: str,
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        max_attempts: int = MAX_ATTEMPTS,
    ) -> None:
        self._base = settings.api_url.rstrip("/")
        self._key = secret_key
        self._sleep = sleep
        self._max_attempts = max_attempts
        self._ceiling = RateCeiling(settings.max_requests_per_10s, clock=clock, sleep=sleep)
        self._lock = threading.Lock()
        self.stats = ClerkCallStats()

    def list_users(self, *, limit: int, offset: int, order_by: str) -> list[RawUser]:
        """One page of `GET /users`: a JSON array of User objects."""
        query = {"limit": str(limit), "offset": str(offset), "order_by": order_by}
        return _user_list(self._get("/users", list(query.items())))

    def count_users(self) -> int:
        body = self._get("/users/count", [])
        total = body.get("total_count") if isinstance(body, dict) else None
        if not isinstance(total, int) or isinstance(total, bool) or total < 0:
            raise ClerkResponseError("GET /users/count did not answer a total_count")
        return total

    def users_by_id(self, user_ids: Sequence[str]) -> list[RawUser]:
        """The users among `user_ids` (at most 100) that Clerk still has."""
        if len(user_ids) > MAX_IDS_PER_LOOKUP:
            raise ValueError(f"at most {MAX_IDS_PER_LOOKUP} ids per look-up")
        if not user_ids:
            return []
        query = [("limit", str(MAX_IDS_PER_LOOKUP)), *(("user_id", user_id) for user_id in user_ids)]
        return _user_list(self._get("/users", query))

    def oauth_access_tokens(self, user_id: str, provider: str) -> list[OAuthToken]:
        """A user's fresh tokens for `provider` (prefixed, e.g. oauth_x), in one try: a caller is waiting."""
        path = (
            f"/users/{urllib.parse.quote(user_id, safe='')}/oauth_access_tokens/{urllib.parse.quote(provider, safe='')}"
        )
        self._ceiling.acquire()
        self._count(requests=1)
        try:
            body = self._send(f"{self._base}{path}", timeout=TOKEN_TIMEOUT_SECONDS)
        except urllib.error.HTTPError as error:
            if error.code == 429:
                self._count(waits=1)
                raise ClerkRateLimitedError(max(1, round(_retry_after(error.headers.get("Retry-After"), 0)))) from None
            if error.code in {401, 403} or error.code >= 500:
                raise _final_error("/users/{id}/oauth_access_tokens", error) from None
            raise ClerkRefusedError(error.code, clerk_error_code(error.read())) from None
        except (urllib.error.URLError, TimeoutError, ConnectionError) as error:
            raise ClerkApiError(f"Clerk unreachable ({type(error).__name__})") from None
        try:
            return oauth_tokens_from(body)
        except ValueError as problem:
            raise ClerkResponseError(f"oauth_access_tokens answered an unexpected shape: {problem}") from None

    def _get(self, path: str, query: list[tuple[str, str]]) -> object:
        url = f"{self._base}{path}" + (f"?{urllib.parse.urlencode(query)}" if query else "")
        last_problem = "no attempt made"
        for attempt in range(self._max_attempts):
            self._ceiling.acquire()
            self._count(requests=1)
            try:
                return self._send(url)
            except urllib.error.HTTPError as error:
                last_problem = f"HTTP {error.code}"
                delay = self._retry_delay(error, attempt)
                if delay is None:
                    raise _final_error(path, error) from None
                rate_limited = error.code == 429
            except (urllib.error.URLError, TimeoutError, ConnectionError) as error:
                last_problem = f"connection failed ({type(error).__name__})"
                delay, rate_limited = _backoff(attempt), False
            if attempt + 1 < self._max_attempts:
                self._count(waits=1 if rate_limited else 0)
                self._sleep(delay)
        raise ClerkApiError(f"GET {path} failed after {self._max_attempts} attempts: {last_problem}")

    def _send(self, url: str, timeout: float = REQUEST_TIMEOUT_SECONDS) -> object:
        # The URL is Clerk's (or the configured fake's): an operator setting, not user input.
        request = urllib.request.Request(  # noqa: S310
            url,
            headers={"Authorization": f"Bearer {self._key}", "Accept": "application/json", "User-Agent": USER_AGENT},
        )
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            raw = response.read()
        try:
            return json.loads(raw)
        except ValueError:
            raise ClerkResponseError("Clerk answered with a body that is not JSON") from None

    def _retry_delay(self, error: urllib.error.HTTPError, attempt: int) -> float | None:
        """Seconds to wait before the next attempt, or None when this answer is final."""
        if error.code == 429:
            return _retry_after(error.headers.get("Retry-After"), attempt)
        if error.code >= 500:
            return _backoff(attempt)
        return None

    def _count(self, *, requests: int = 0, waits: int = 0) -> None:
        with self._lock:
            self.stats.requests += requests
            self.stats.rate_limited_waits += waits


def _user_list(body: object) -> list[RawUser]:
    if not isinstance(body, list):
        raise ClerkResponseError("GET /users did not answer a JSON array")
    return [item if isinstance(item, dict) else {} for item in body]


def _final_error(path: str, error: urllib.error.HTTPError) -> ClerkApiError:
    if error.code in {401, 403}:
        return ClerkAuthError(f"Clerk refused the secret key (HTTP {error.code} on GET {path})")
    return ClerkApiError(f"GET {path} answered HTTP {error.code}")


def _backoff(attempt: int) -> float:
    return float(min(0.5 * 2**attempt, 8.0))


def _retry_after(header: str | None, attempt: int) -> float:
    try:
        seconds = float(header) if header is not None else _backoff(attempt)
    except ValueError:
        seconds = _backoff(attempt)
    return min(max(seconds, 0.0), MAX_RETRY_AFTER_SECONDS)
