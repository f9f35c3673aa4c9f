"""Pydantic models of the Clerk webhook events this service handles.

Lenient where Clerk adds fields (unknown keys are ignored), strict where a wrong value would corrupt the table:
identifiers that become key parts, `updated_at` (the ordering version) and the event type.
External accounts stay raw in the event and are validated one by one (`parse_external_account`), so one malformed
entry cannot block the others. Every validation failure is summarized the same way: field locations and error types,
never the input values, which may hold e-mail addresses.
"""

from __future__ import annotations

import re
from typing import Annotated, Final, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    StrictInt,
    StrictStr,
    Tag,
    TypeAdapter,
    ValidationError,
)

# Clerk ids look like `user_2g7np...`, `eac_...`; they become parts of DynamoDB keys, so `#` and spaces are refused.
CLERK_ID_PATTERN: Final = r"^[A-Za-z0-9_\-]{1,128}$"
CLERK_ID: Final = re.compile(CLERK_ID_PATTERN)
ClerkId = Annotated[StrictStr, Field(pattern=CLERK_ID_PATTERN)]
EpochMillis = Annotated[StrictInt, Field(gt=0, lt=10**15)]

HANDLED_USER_EVENTS = frozenset({"user.created", "user.updated", "user.deleted"})


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class ClerkUser(_Lenient):
    """`data` of user.created / user.updated: a full snapshot of the user."""

    id: ClerkId
    updated_at: EpochMillis
    # Each entry stays a raw mapping: validated per entry so that one bad account is isolated.
    external_accounts: list[object] = Field(default_factory=list)


class DeletedUser(_Lenient):
    """`data` of user.deleted: only the id (and, since 2025-11, an optional external_id); no updated_at."""

    id: ClerkId


class UserSnapshotEvent(_Lenient):
    type: Literal["user.created", "user.updated"]
    data: ClerkUser


class UserDeletedEvent(_Lenient):
    type: Literal["user.deleted"]
    data: DeletedUser


class UnhandledEvent(_Lenient):
    """Any other signed event type (session.created, organization.*...): acknowledged and ignored."""

    type: StrictStr


def _event_kind(value: object) -> str | None:
    event_type = value.get("type") if isinstance(value, dict) else getattr(value, "type", None)
    if not isinstance(event_type, str):
        return None
    if event_type == "user.deleted":
        return "deleted"
    if event_type in HANDLED_USER_EVENTS:
        return "snapshot"
    return "other"


ClerkEvent = Annotated[
    Annotated[UserSnapshotEvent, Tag("snapshot")]
    | Annotated[UserDeletedEvent, Tag("deleted")]
    | Annotated[UnhandledEvent, Tag("other")],
    Discriminator(_event_kind),
]


class Verification(_Lenient):
    status: StrictStr | None = None
    strategy: StrictStr | None = None


class ExternalAccount(_Lenient):
    """One `external_accounts` entry: the `external_account` shape and the legacy `google_account` one."""

    id: ClerkId
    # Only Google/Facebook carry it; when present it is the `eac_` id Clerk uses for the account.
    external_account_id: ClerkId | None = None
    provider: StrictStr
    provider_user_id: StrictStr | None = None
    username: StrictStr | None = None
    email_address: StrictStr | None = None
    first_name: StrictStr | None = None
    last_name: StrictStr | None = None
    image_url: StrictStr | None = None
    avatar_url: StrictStr | None = None
    approved_scopes: StrictStr | None = None
    updated_at: EpochMillis
    verification: Verification | None = None

    @property
    def account_id(self) -> str:
        """The stable Clerk id of the account: `external_account_id` if present, else `id`."""
        return self.external_account_id or self.id


class InvalidEventError(ValueError):
    """Signed input that is not a valid Clerk event (or account entry); the message is a summary without values."""

    def __init__(self, summary: list[str]) -> None:
        super().__init__("; ".join(summary))
        self.summary = summary


MAX_SUMMARY_ITEMS: Final = 10
_events: TypeAdapter[UserSnapshotEvent | UserDeletedEvent | UnhandledEvent] = TypeAdapter(ClerkEvent)


def _summary(error: ValidationError) -> list[str]:
    return [
        f"{'.'.join(str(part) for part in item['loc'])}: {item['type']}"
        for item in error.errors(include_input=False)[:MAX_SUMMARY_ITEMS]
    ]


def parse_clerk_event(body: bytes) -> UserSnapshotEvent | UserDeletedEvent | UnhandledEvent:
    """The event in a verified delivery's raw body; InvalidEventError when it is not one."""
    try:
        return _events.validate_json(body)
    except ValidationError as error:
        raise InvalidEventError(_summary(error)) from error


def parse_external_account(raw: object) -> ExternalAccount:
    """One `external_accounts` entry; InvalidEventError when it is malformed."""
    try:
        return ExternalAccount.model_validate(raw)
    except ValidationError as error:
        raise InvalidEventError(_summary(error)) from error
