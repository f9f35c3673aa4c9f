"""Status-change events: what apps learn when a connection's `connectionStatus` changes, derived from stream images.

Pure rules: old and new image in, at most one event out. Derived from the table's stream, so every writer (the
webhook, the stream function, reconciliation, a recorded failure) produces them without knowing. The detail names the
connection and the change, never the e-mail, names or image URL the row also holds.
"""

from __future__ import annotations

import json
from typing import Final, NamedTuple

from social_connections.model import ConnectionHealth, ConnectionKey, ConnectionStatus

EVENT_SOURCE: Final = "clerk.social-connections"
EVENT_DETAIL_TYPE: Final = "Connection Status Changed"


class StatusChange(NamedTuple):
    user_id: str
    key: ConnectionKey
    from_status: ConnectionStatus | None  # None: the row was just created
    to_status: ConnectionStatus
    at: str | None
    error_count: int
    version: int | None

    def detail(self) -> dict[str, object]:
        return {
            "userId": self.user_id,
            "platform": self.key.platform.value,
            "externalAccountId": self.key.external_account_id,
            "from": self.from_status.value if self.from_status else None,
            "to": self.to_status.value,
            "at": self.at,
            "errorCount": self.error_count,
            "version": self.version,
        }

    def detail_json(self) -> str:
        return json.dumps(self.detail(), separators=(",", ":"))


def status_change(old: ConnectionHealth | None, new: ConnectionHealth | None) -> StatusChange | None:
    """The change from the old to the new image of one connection row; None when the status stayed (or the row went)."""
    if new is None or (old is not None and old.status is new.status):
        return None
    return StatusChange(
        user_id=new.user_id,
        key=new.key,
        from_status=old.status if old is not None else None,
        to_status=new.status,
        at=new.updated_at,
        error_count=new.error_count,
        version=new.version,
    )
