"""A local fake of Clerk's Backend API (the parts this service calls), on 127.0.0.1, for tests, `make dev` and the demo.

Routes, shaped like Clerk's documented responses (users like `devtools/clerk_payloads.py`, errors as Clerk's
`{"errors": [{"message", "long_message", "code"}], "clerk_trace_id"}` object):
  GET /v1/users                      limit 1..500 (default 10), offset, order_by (+/-created_at, +/-updated_at),
                                     repeated `user_id` (at most 100): a JSON array of User objects
  GET /v1/users/count                {"object": "total_count", "total_count": N}
  GET /v1/users/{id}                 one User, 404 resource_not_found
  GET /v1/users/{id}/oauth_access_tokens/{provider}   the user's tokens for `oauth_<provider>` (invented values)
Every request needs `Authorization: Bearer <secret key>`. A rate limit (requests per 10 s) answers 429 with
`Retry-After`, and tests inject faults: the next N answers as a given status, or a listing that is not a JSON array.

`FakeClerkUsers` is the user directory behind it; it also serves unit tests directly as a `UserSource`.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Self

from social_connections.clerk_api import ClerkCallStats
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

from devtools.clerk_payloads import external_account, user_event

LOOPBACK: Final = "127.0.0.1"
MAX_LIMIT: Final = 500
MAX_USER_IDS: Final = 100
LOCAL_SECRET_KEY: Final = "sk_test_local_fake_clerk_backend_api"  # noqa: S105 - a fixed key for a loopback fake
SEED_EPOCH_MS: Final = 1_735_689_600_000  # 2025-01-01T00:00:00Z
SORTABLE: Final = frozenset({"created_at", "updated_at"})


def seed_user(index: int, *, updated_at: int | None = None, user_id: str | None = None) -> dict[str, Any]:
    """A Clerk User with X and TikTok linked (every third one also Instagram), like a webhook's `data`."""
    uid = user_id or f"user_seed_{index:06d}"
    version = updated_at or SEED_EPOCH_MS + index * 1000
    tag = uid.removeprefix("user_")
    accounts = [
        external_account(f"eac_{tag}_x", "oauth_x", updated_at=version, username=f"{tag}_x"),
        external_account(f"eac_{tag}_tt", "oauth_custom_tiktok", updated_at=version),
    ]
    if index % 3 == 0:
        accounts.append(external_account(f"eac_{tag}_ig", "oauth_instagram", updated_at=version))
    user: dict[str, Any] = user_event("user.created", uid, updated_at=version, accounts=accounts)["data"]
    user["created_at"] = SEED_EPOCH_MS + index
    return user


@dataclass
class FakeClerkUsers:
    """Clerk's user directory, thread-safe; list/count/look-up as the API answers them."""

    users: dict[str, dict[str, Any]] = field(default_factory=dict)
    stats: ClerkCallStats = field(default_factory=ClerkCallStats)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def seeded(cls, count: int, *, extra_ids: Iterable[str] = ()) -> Self:
        directory = cls()
        for index, user_id in enumerate(extra_ids):
            directory.put(seed_user(index, user_id=user_id))
        for index in range(count):
            directory.put(seed_user(index))
        return directory

    def put(self, user: dict[str, Any]) -> None:
        with self._lock:
            self.users[str(user["id"])] = user

    def delete(self, user_id: str) -> None:
        with self._lock:
            self.users.pop(user_id, None)

    def get(self, user_id: str) -> dict[str, Any] | None:
        with self._lock:
            return self.users.get(user_id)

    def page(self, *, limit: int, offset: int, order_by: str, user_ids: Sequence[str] = ()) -> list[dict[str, Any]]:
        descending = not order_by.startswith("+")
        key = order_by.lstrip("+-")
        with self._lock:
            chosen = [self.users[uid] for uid in dict.fromkeys(user_ids) if uid in self.users] if user_ids else None
            candidates = chosen if chosen is not None else list(self.users.values())
        ordered = sorted(candidates, key=lambda user: (user.get(key) or 0, str(user.get("id"))), reverse=descending)
        return ordered[offset : offset + limit]

    # ---- the UserSource protocol, for unit tests without HTTP ------------------------------------------------------

    def list_users(self, *, limit: int, offset: int, order_by: str) -> list[dict[str, object]]:
        self.stats.requests += 1
        return self.page(limit=limit, offset=offset, order_by=order_by)

    def count_users(self) -> int:
        self.stats.requests += 1
        return len(self.users)

    def users_by_id(self, user_ids: Sequence[str]) -> list[dict[str, object]]:
        self.stats.requests += 1
        return self.page(limit=MAX_USER_IDS, offset=0, order_by="-created_at", user_ids=user_ids)


def clerk_error(status: int, code: str, message: str, long_message: str) -> Response:
    body = {
        "errors": [{"message": message, "long_message": long_message, "code": code}],
        "clerk_trace_id": uuid.uuid4().hex,
    }
    return Response(json.dumps(body), status=status, mimetype="application/json")


def _json(value: object) -> Response:
    return Response(json.dumps(value), status=200, mimetype="application/json")


class _Quiet(WSGIRequestHandler):
    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass


class FakeClerkApi:
    """The HTTP fake: `with FakeClerkApi(users) as api:` serves on `api.url` (an ephemeral loopback port)."""

    def __init__(
        self,
        users: FakeClerkUsers | None = None,
        *,
        secret_key: str = LOCAL_SECRET_KEY,
        max_requests_per_10s: int | None = None,
        retry_after_seconds: int = 1,
        port: int = 0,
    ) -> None:
        self.users = users or FakeClerkUsers()
        self.secret_key = secret_key
        self.max_requests_per_10s = max_requests_per_10s
        self.retry_after_seconds = retry_after_seconds
        self.requests: list[str] = []
        self.token_errors: dict[tuple[str, str], str] = {}
        self._faults: deque[int] = deque()
        self._malformed_after: int | None = None
        self._window: deque[float] = deque()
        self._lock = threading.Lock()
        self._server: BaseWSGIServer = make_server(LOOPBACK, port, self, threaded=True, request_handler=_Quiet)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="fake-clerk-api", daemon=True
        )

    @property
    def url(self) -> str:
        """The Backend API base URL, as CLERK_API_URL takes it."""
        return f"http://{LOOPBACK}:{self._server.server_port}/v1"

    def fail_next(self, status: int, times: int = 1) -> None:
        """The next `times` requests answer `status` (429 with Retry-After, 5xx with Clerk's error body)."""
        with self._lock:
            self._faults.extend([status] * times)

    def malformed_page(self, *, after: int = 0) -> None:
        """After `after` good listings, one `GET /users` answers 200 with a JSON object where the array belongs."""
        with self._lock:
            self._malformed_after = after

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    def __call__(self, environ: Any, start_response: Any) -> Iterable[bytes]:
        response = self.dispatch(Request(environ))
        return response(environ, start_response)

    def dispatch(self, request: Request) -> Response:
        with self._lock:
            self.requests.append(request.full_path.rstrip("?"))
        if request.headers.get("Authorization", "") != f"Bearer {self.secret_key}":
            return clerk_error(
                401, "authentication_invalid", "Invalid authentication", "Unable to authenticate the request"
            )
        fault = self._take_fault()
        if fault is not None:
            return fault
        if request.method != "GET":
            return clerk_error(405, "method_not_allowed", "Method not allowed", "Only GET is served by this fake")
        return self._route(request)

    def _take_fault(self) -> Response | None:
        with self._lock:
            fault = self._faults.popleft() if self._faults else None
            limited = fault is None and self._over_limit()
        if fault == 429 or limited:
            response = clerk_error(429, "too_many_requests", "Too many requests", "Rate limit exceeded, retry later")
            response.headers["Retry-After"] = str(self.retry_after_seconds)
            return response
        if fault is not None:
            return clerk_error(fault, "internal_clerk_error", "Oops, an unexpected error occurred", "Injected fault")
        return None

    def _malformed_now(self) -> bool:
        with self._lock:
            if self._malformed_after is None:
                return False
            if self._malformed_after > 0:
                self._malformed_after -= 1
                return False
            self._malformed_after = None
            return True

    def _over_limit(self) -> bool:
        if self.max_requests_per_10s is None:
            return False
        now = time.monotonic()
        while self._window and now - self._window[0] >= 10.0:
            self._window.popleft()
        if len(self._window) >= self.max_requests_per_10s:
            return True
        self._window.append(now)
        return False

    def _route(self, request: Request) -> Response:
        parts = [part for part in request.path.split("/") if part]
        if parts[:2] != ["v1", "users"]:
            return clerk_error(404, "resource_not_found", "not found", "No such route in the fake Backend API")
        rest = parts[2:]
        if not rest:
            return self._list(request)
        if rest == ["count"]:
            return _json({"object": "total_count", "total_count": len(self.users.users)})
        return self._user_route(rest)

    def _user_route(self, rest: list[str]) -> Response:
        user = self.users.get(rest[0])
        if user is None:
            return clerk_error(404, "resource_not_found", "not found", "Resource not found")
        if len(rest) == 1:
            return _json(user)
        if len(rest) == 3 and rest[1] == "oauth_access_tokens":
            return self._tokens(user, rest[2])
        return clerk_error(404, "resource_not_found", "not found", "No such route in the fake Backend API")

    def _list(self, request: Request) -> Response:
        try:
            limit = int(request.args.get("limit", "10"))
            offset = int(request.args.get("offset", "0"))
        except ValueError:
            return clerk_error(422, "form_param_format_invalid", "is invalid", "limit and offset must be integers")
        order_by = request.args.get("order_by", "-created_at")
        user_ids = request.args.getlist("user_id") + request.args.getlist("user_id[]")
        problems = [
            not 1 <= limit <= MAX_LIMIT,
            offset < 0,
            order_by.lstrip("+-") not in SORTABLE,
            len(user_ids) > MAX_USER_IDS,
        ]
        if any(problems):
            return clerk_error(422, "form_param_value_invalid", "is invalid", "A query parameter is out of range")
        if self._malformed_now():
            return _json({"data": [], "total_count": 0})
        return _json(self.users.page(limit=limit, offset=offset, order_by=order_by, user_ids=user_ids))

    def _tokens(self, user: dict[str, Any], provider: str) -> Response:
        code = self.token_errors.get((str(user["id"]), provider))
        if code is not None:
            return clerk_error(400, code, "OAuth token retrieval failed", "The provider refused to issue a token")
        bare = provider.removeprefix("oauth_")
        accounts = [
            account
            for account in user.get("external_accounts", [])
            if isinstance(account, dict) and str(account.get("provider", "")).removeprefix("oauth_") == bare
        ]
        tokens = [
            {
                "object": "oauth_access_token",
                "external_account_id": account["id"],
                "provider_user_id": account.get("provider_user_id"),
                "token": f"fake-token-{uuid.uuid4().hex}",
                "expires_at": int(time.time()) + 3600,
                "provider": provider,
                "public_metadata": {},
                "label": None,
                "scopes": str(account.get("approved_scopes") or "").split(),
                "id_token": None,
                "token_secret": None,
            }
            for account in accounts
        ]
        return _json(tokens)
