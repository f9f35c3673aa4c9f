"""The Clerk webhook events this service handles, parsed from a verified body and validated by hand.

Lenient where Clerk adds fields (unknown keys are ignored), strict where a wrong value would corrupt the table:
identifiers that become key parts, `updated_at` (the ordering version) and the event type. Strict means what
pydantic's strict types mean: a string is a JSON string, an integer a JSON integer (never a boolean or a float).
External accounts stay raw in the event and are validated one by one (`parse_external_account`), so one malformed
entry cannot block the others. Every failure is summarized as field locations and pydantic's error type names,
never the input values, which may hold e-mail addresses.

No pydantic here: importing even `pydantic_core` costs about 0.09x of the webhook's whole cold-start floor, most of
the 0.15x budget (docs/performance.md, B1). The rules are the former models' rules (tests/unit/test_clerk_events.py);
the JSON answers: invalid UTF-8, a BOM and lone surrogates are refused as pydantic refused them; NaN and Infinity
are refused (pydantic accepted them); nesting deeper than Python's parser takes (about 10,000 levels, pydantic's
about 200) is refused, and nothing nested is ever read.
"""

from __future__ import annotations

import json
import re
from typing import Final, Literal, NamedTuple

from social_connections.clerk_event_rules import (
    CLERK_ID,
    MAX_EPOCH_MILLIS,
    OPTIONAL_TEXT,
    InvalidEventError,
    Problems,
    account_problems,
)

__all__ = [
    "HANDLED_USER_EVENTS",
    "ClerkEvent",
    "ClerkUser",
    "DeletedUser",
    "ExternalAccount",
    "InvalidEventError",
    "UnhandledEvent",
    "UserDeletedEvent",
    "UserSnapshotEvent",
    "Verification",
    "account_problems",
    "parse_clerk_event",
    "parse_clerk_user",
    "parse_external_account",
]

HANDLED_USER_EVENTS = frozenset({"user.created", "user.updated", "user.deleted"})
_TEXT_TYPES: Final = frozenset({str, type(None)})
_ESCAPED_SURROGATE: Final = re.compile(r"\\u[dD][89a-fA-F]")


class ClerkUser(NamedTuple):
    """`data` of user.created / user.updated: a full snapshot of the user."""

    id: str
    updated_at: int
    # Each entry stays a raw mapping: validated per entry so that one bad account is isolated.
    external_accounts: list[object]


class DeletedUser(NamedTuple):
    """`data` of user.deleted: only the id (and, since 2025-11, an optional external_id); no updated_at."""

    id: str


SnapshotType = Literal["user.created", "user.updated"]
_SNAPSHOT_TYPES: Final[dict[str, SnapshotType]] = {"user.created": "user.created", "user.updated": "user.updated"}


class UserSnapshotEvent(NamedTuple):
    type: SnapshotType
    data: ClerkUser


class UserDeletedEvent(NamedTuple):
    type: Literal["user.deleted"]
    data: DeletedUser


class UnhandledEvent(NamedTuple):
    """Any other signed event type (session.created, organization.*...): acknowledged and ignored."""

    type: str


ClerkEvent = UserSnapshotEvent | UserDeletedEvent | UnhandledEvent


class Verification(NamedTuple):
    status: str | None = None
    strategy: str | None = None


class ExternalAccount(NamedTuple):
    """One `external_accounts` entry: the `external_account` shape and the legacy `google_account` one."""

    id: str
    # Only Google/Facebook carry it; when present it is the `eac_` id Clerk uses for the account.
    external_account_id: str | None
    provider: str
    provider_user_id: str | None
    username: str | None
    email_address: str | None
    first_name: str | None
    last_name: str | None
    image_url: str | None
    avatar_url: str | None
    approved_scopes: str | None
    updated_at: int
    verification: Verification | None

    @property
    def account_id(self) -> str:
        """The stable Clerk id of the account: `external_account_id` if present, else `id`."""
        return self.external_account_id or self.id


def _reject_constant(name: str) -> object:
    raise ValueError(f"{name} is not JSON")


# NaN and Infinity are not JSON (pydantic accepted them): refused.
_DECODER: Final = json.JSONDecoder(parse_constant=_reject_constant)


def _json(body: bytes) -> object:
    """The body's JSON value: strict UTF-8, no BOM, no NaN, no lone surrogate, nesting within the parser's limit."""
    try:
        text = body.decode("utf-8")
        value = _DECODER.decode(text)  # a leading BOM is refused here: JSON text starts with a value
        if "\\u" in text and _ESCAPED_SURROGATE.search(text):
            json.dumps(value, ensure_ascii=False).encode("utf-8")  # a lone surrogate cannot be encoded
    except (ValueError, RecursionError) as error:  # UnicodeError and JSONDecodeError are ValueErrors
        raise InvalidEventError([": json_invalid"]) from error
    return value


def parse_clerk_event(body: bytes) -> ClerkEvent:
    """The event in a verified delivery's raw body; InvalidEventError when it is not one."""
    value = _json(body)
    if type(value) is not dict:
        raise InvalidEventError([": model_type"])
    event_type = value.get("type")
    if type(event_type) is not str:
        raise InvalidEventError(["type: missing" if "type" not in value else "type: string_type"])
    if event_type == "user.deleted":
        data = value.get("data")
        if type(data) is not dict:
            raise InvalidEventError(["data: missing" if "data" not in value else "data: model_type"])
        problems = Problems("data.")
        user_id = problems.clerk_id(data, "id")
        problems.raise_any()
        return UserDeletedEvent("user.deleted", DeletedUser(str(user_id)))
    snapshot_type = _SNAPSHOT_TYPES.get(event_type)
    if snapshot_type is not None:
        return UserSnapshotEvent(snapshot_type, _user(value.get("data"), "data" in value, "data."))
    return UnhandledEvent(event_type)


def parse_clerk_user(raw: object) -> ClerkUser:
    """A user object (a snapshot's `data`, or one user of the Backend API's list); InvalidEventError if invalid."""
    return _user(raw, raw is not None, "")


def _user(raw: object, present: bool, prefix: str) -> ClerkUser:
    if type(raw) is not dict:
        raise InvalidEventError([f"{prefix.rstrip('.') or '(user)'}: {'model_type' if present else 'missing'}"])
    problems = Problems(prefix)
    user_id = problems.clerk_id(raw, "id")
    updated_at = problems.epoch_millis(raw, "updated_at")
    accounts = raw.get("external_accounts", [])
    if type(accounts) is not list:
        problems.add("external_accounts", "list_type")
    problems.raise_any()
    return ClerkUser(str(user_id), updated_at, accounts)


def parse_external_account(raw: object) -> ExternalAccount:
    """One `external_accounts` entry; InvalidEventError when it is malformed.

    Every event checks each entry, so the valid case is one expression; `account_problems` says why it failed.
    """
    if type(raw) is not dict:
        raise InvalidEventError([": model_type"])
    get = raw.get
    account_id, external_account_id, provider = get("id"), get("external_account_id"), get("provider")
    texts = [get(name) for name in OPTIONAL_TEXT]
    updated_at, verification = get("updated_at"), get("verification")
    valid = (
        type(account_id) is str
        and CLERK_ID.fullmatch(account_id) is not None
        and (
            external_account_id is None
            or (type(external_account_id) is str and CLERK_ID.fullmatch(external_account_id) is not None)
        )
        and type(provider) is str
        and _TEXT_TYPES.issuperset(map(type, texts))
        and type(updated_at) is int
        and 0 < updated_at < MAX_EPOCH_MILLIS
        and (
            verification is None
            or (
                type(verification) is dict
                and _TEXT_TYPES.issuperset(map(type, (verification.get("status"), verification.get("strategy"))))
            )
        )
    )
    if not valid:
        raise InvalidEventError(account_problems(raw) or [": invalid"])
    checked = None if verification is None else Verification(verification.get("status"), verification.get("strategy"))
    # In field order (id, external_account_id, provider, the optional texts, updated_at, verification).
    return ExternalAccount._make([account_id, external_account_id, provider, *texts, updated_at, checked])
