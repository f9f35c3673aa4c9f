"""What the platform callbacks need from storage: rows by platform account, and the data-deletion records.

`storage.DynamoDBPlatformStore` implements it on the table (PlatformUserIndex); tests use the in-memory store.
"""

from __future__ import annotations

from typing import Protocol

from social_connections.model import ConnectionKey, DeletionRequest, PlatformAccountRow
from social_connections.providers import Platform


class PlatformStore(Protocol):
    def find_platform_account(self, platform: Platform, platform_user_id: str) -> list[PlatformAccountRow]:
        """Every connection row of that platform account, whichever Clerk user holds it."""
        ...

    def erase_personal_data(self, user_id: str, key: ConnectionKey) -> bool:
        """Remove the row's personal data (username, e-mail, names, image URL); False if there is no such row."""
        ...

    def mark_revoked(self, user_id: str, key: ConnectionKey, *, revoked_at_ms: int, reason: str, at: str) -> bool:
        """connected/error -> expired with the reason, unless the account was (re)verified after `revoked_at_ms`."""
        ...

    def open_deletion_request(self, code: str, *, requested_at: str | None, received_at: str) -> None:
        """Record a deletion request as in progress, unless one with that code is already recorded."""
        ...

    def complete_deletion_request(self, code: str, *, rows_affected: int, completed_at: str) -> None:
        """Mark the request completed (a completed one is left as it is)."""
        ...

    def read_deletion_request(self, code: str) -> DeletionRequest | None: ...
