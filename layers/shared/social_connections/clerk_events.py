"""The Clerk webhook events this service handles, parsed from a verified body and validated by hand.

Lenient where Clerk adds fields (unknown keys are ignored), strict where a wrong value would corrupt the table:
identifiers that become key parts, `updated_at` (the ordering version) and the event type. Strict means what
pydantic's strict types mean: a string is a JSON string, an integer a JSON integer (never a boolean or a float).
External accounts stay raw in the event and are validated one by one (`parse_external_account`), so one malformed
entry cannot block the others. Every failure is summarized as field locations and pydantic's error type names,
never the input values, which may hold e-mail addresses.

No pydantic here: importing even `pydantic_core` costs about 0.09x of the webhook's whole cold-start floor, most of
the 0.15x budget (docs/performance.md, B1); the rules below are the models' rules, checked by
tests/unit/test_clerk_events.py, and the JSON answers (BOM, lone surrogates, deep nesting) are pydantic's.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Final, Literal, NamedTuple

# Clerk ids look like `user_2g7np...`, `eac_...`; they become parts of DynamoDB keys, so `#` and spaces are refused.
CLERK_ID_PATTERN: Final = r"[A-Za-z0-9_\-]{1,128}"  # always whole-string: fullmatch
CLERK_ID: Final = re.compile(CLERK_ID_PATTERN)
MAX_EPOCH_MILLIS: Final = 10**15  # exclusive: epoch milliseconds have 13 digits until the year 33658
MAX_SUMMARY_ITEMS: Final = 10
HANDLED_USER_EVENTS = frozenset({"user.created", "user.updated", "user.deleted"})
_TEXT_TYPES: Final = frozenset({str, type(None)})
# The optional text fields of an external account, in ExternalAccount's field order.
_OPTIONAL_TEXT: Final = (
    "provider_user_id",
    "username",
    "email_address",
    "first_name",
    "last_name",
    "image_url",
    "avatar_url",
    "approved_scopes",
)
_ESCAPED_SURROGATE: Final = re.compile(r"\\u[dD][89a-fA-F]")


class InvalidEventError(ValueError):
    """Signed input that is not a valid Clerk event (or account entry); the message is a summary without values."""

    def __init__(self, summary: list[str]) -> None:
        super().__init__("; ".join(summary))
        self.summary = summary


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


class _Problems:
    """Validation errors as `location: type`, pydantic's names, at most MAX_SUMMARY_ITEMS of them."""

    def __init__(self, prefix: str = "") -> None:
        self.prefix = prefix
        self.found: list[str] = []

    def add(self, location: str, kind: str) -> None:
        if len(self.found) < MAX_SUMMARY_ITEMS:
            self.found.append(f"{self.prefix}{location}: {kind}")

    def raise_any(self) -> None:
        if self.found:
            raise InvalidEventError(self.found)

    def clerk_id(self, source: Mapping[str, object], name: str, *, required: bool = True) -> str | None:
        value = source.get(name)
        if value is None:
            if required:
                self.add(name, "missing" if name not in source else "string_type")
            return None
        if type(value) is not str:
            self.add(name, "string_type")
        elif CLERK_ID.fullmatch(value) is None:
            self.add(name, "string_pattern_mismatch")
        return value if type(value) is str else None

    def epoch_millis(self, source: Mapping[str, object], name: str) -> int:
        value = source.get(name)
        if type(value) is not int:
            self.add(name, "missing" if name not in source else "int_type")
            return 0
        if value <= 0:
            self.add(name, "greater_than")
        elif value >= MAX_EPOCH_MILLIS:
            self.add(name, "less_than")
        return value

    def text(self, source: Mapping[str, object], name: str) -> str | None:
        value = source.get(name)
        if value is None or type(value) is str:
            return value
        self.add(name, "string_type")
        return None


def _reject_constant(name: str) -> object:
    raise ValueError(f"{name} is not JSON")


# NaN and Infinity are not JSON; pydantic's parser refuses them too.
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
        problems = _Problems("data.")
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
    problems = _Problems(prefix)
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
    texts = [get(name) for name in _OPTIONAL_TEXT]
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


def account_problems(raw: Mapping[str, object]) -> list[str]:
    """Why an `external_accounts` entry is invalid, field by field (empty when it is valid)."""
    problems = _Problems()
    problems.clerk_id(raw, "id")
    problems.clerk_id(raw, "external_account_id", required=False)
    if type(raw.get("provider")) is not str:
        problems.add("provider", "missing" if "provider" not in raw else "string_type")
    for name in _OPTIONAL_TEXT:
        problems.text(raw, name)
    problems.epoch_millis(raw, "updated_at")
    _verification(raw.get("verification"), problems)
    return problems.found


def _verification(raw: object, problems: _Problems) -> None:
    if raw is None:
        return
    if type(raw) is not dict:
        problems.add("verification", "model_type")
        return
    nested = _Problems("verification.")
    nested.found = problems.found  # one list, one cap
    nested.text(raw, "status")
    nested.text(raw, "strategy")
