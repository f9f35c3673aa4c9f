"""The rules of Clerk event fields (ids, epoch milliseconds, optional texts) and why a value breaks them.

`clerk_events` checks the valid case in one pass and asks `Problems` for the reasons only when it fails: field
locations and pydantic's error type names, never the input values (they may hold e-mail addresses).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Final

# Clerk ids look like `user_2g7np...`, `eac_...`; they become parts of DynamoDB keys, so `#` and spaces are refused.
CLERK_ID_PATTERN: Final = r"[A-Za-z0-9_\-]{1,128}"  # always whole-string: fullmatch
CLERK_ID: Final = re.compile(CLERK_ID_PATTERN)
MAX_EPOCH_MILLIS: Final = 10**15  # exclusive: epoch milliseconds have 13 digits until the year 33658
MAX_SUMMARY_ITEMS: Final = 10
# The optional text fields of an external account, in ExternalAccount's field order.
OPTIONAL_TEXT: Final = (
    "provider_user_id",
    "username",
    "email_address",
    "first_name",
    "last_name",
    "image_url",
    "avatar_url",
    "approved_scopes",
)


class InvalidEventError(ValueError):
    """Signed input that is not a valid Clerk event (or account entry); the message is a summary without values."""

    def __init__(self, summary: list[str]) -> None:
        super().__init__("; ".join(summary))
        self.summary = summary


class Problems:
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


def account_problems(raw: Mapping[str, object]) -> list[str]:
    """Why an `external_accounts` entry is invalid, field by field (empty when it is valid)."""
    problems = Problems()
    problems.clerk_id(raw, "id")
    problems.clerk_id(raw, "external_account_id", required=False)
    if type(raw.get("provider")) is not str:
        problems.add("provider", "missing" if "provider" not in raw else "string_type")
    for name in OPTIONAL_TEXT:
        problems.text(raw, name)
    problems.epoch_millis(raw, "updated_at")
    _verification(raw.get("verification"), problems)
    return problems.found


def _verification(raw: object, problems: Problems) -> None:
    if raw is None:
        return
    if type(raw) is not dict:
        problems.add("verification", "model_type")
        return
    nested = Problems("verification.")
    nested.found = problems.found  # one list, one cap
    nested.text(raw, "status")
    nested.text(raw, "strategy")
