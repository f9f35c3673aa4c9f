"""Act on one change of the connections table: clean up after a deletion, or move a connection to error and back.

Decisions come from the health rules; the store's conditional writes re-check the stored row, so a stale or
replayed record changes nothing. Never imports pydantic: the stream function's cold start stays small.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from social_connections.connection_store import ConnectionStore
from social_connections.health_rules import health_transition
from social_connections.model import ConnectionKey, ConnectionStatus
from social_connections.storage.items import deleted_user_from_image, health_from_image


class StreamAction(StrEnum):
    CLEANUP = "cleanup"
    ERROR = "error"
    CONNECTED = "connected"
    SKIPPED = "skipped"


@dataclass(frozen=True, slots=True)
class StreamChange:
    action: StreamAction
    user_id: str | None = None
    key: ConnectionKey | None = None
    removed: int = 0


SKIPPED = StreamChange(StreamAction.SKIPPED)


def apply_stream_change(new_image: Mapping[str, object] | None, store: ConnectionStore, threshold: int) -> StreamChange:
    """What one INSERT/MODIFY record's new image (plain values) asks for, done."""
    if not new_image:
        return SKIPPED
    deleted_user = deleted_user_from_image(new_image)
    if deleted_user is not None:
        return StreamChange(StreamAction.CLEANUP, deleted_user, removed=store.delete_connections(deleted_user))
    health = health_from_image(new_image)
    if health is None:
        return SKIPPED
    target = health_transition(health, threshold)
    if target is ConnectionStatus.ERROR and store.mark_error(health.user_id, health.key, threshold):
        return StreamChange(StreamAction.ERROR, health.user_id, health.key)
    if target is ConnectionStatus.CONNECTED and store.mark_recovered(health.user_id, health.key):
        return StreamChange(StreamAction.CONNECTED, health.user_id, health.key)
    return SKIPPED
