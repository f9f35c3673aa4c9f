"""Act on one change of the connections table: clean up after a deletion, move a connection to error and back,
and name the status change the record shows, which `publish_status_changes` then sends as an event.

Decisions come from the health rules; the store's conditional writes re-check the stored row, so a stale or
replayed record changes nothing (a replayed status change may send its event again: at-least-once).
Never imports pydantic: the stream function's cold start stays small.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from social_connections.connection_store import ConnectionStore
from social_connections.event_bus import StatusEventPublisher
from social_connections.health_rules import health_transition
from social_connections.model import ConnectionKey, ConnectionStatus
from social_connections.status_events import StatusChange, status_change
from social_connections.storage.items import deleted_user_from_image, health_from_image

Image = Mapping[str, object]


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
    # The status change this record shows (old image -> new image), to be published as an event.
    status_change: StatusChange | None = None


SKIPPED = StreamChange(StreamAction.SKIPPED)


def apply_stream_change(
    new_image: Image | None, store: ConnectionStore, threshold: int, *, old_image: Image | None = None
) -> StreamChange:
    """What one INSERT/MODIFY record's images (plain values) ask for, done."""
    if not new_image:
        return SKIPPED
    deleted_user = deleted_user_from_image(new_image)
    if deleted_user is not None:
        return StreamChange(StreamAction.CLEANUP, deleted_user, removed=store.delete_connections(deleted_user))
    health = health_from_image(new_image)
    if health is None:
        return SKIPPED
    change = status_change(health_from_image(old_image) if old_image else None, health)
    target = health_transition(health, threshold)
    if target is ConnectionStatus.ERROR and store.mark_error(health.user_id, health.key, threshold):
        return StreamChange(StreamAction.ERROR, health.user_id, health.key, status_change=change)
    if target is ConnectionStatus.CONNECTED and store.mark_recovered(health.user_id, health.key):
        return StreamChange(StreamAction.CONNECTED, health.user_id, health.key, status_change=change)
    return StreamChange(StreamAction.SKIPPED, health.user_id, health.key, status_change=change)


def publish_status_changes(pending: Sequence[tuple[str, StatusChange]], publisher: StatusEventPublisher) -> list[str]:
    """Publish the events of records handled without error; the ids of the records whose event was refused."""
    if not pending:
        return []
    refused = publisher.publish([change for _, change in pending])
    return [record_id for index, (record_id, _) in enumerate(pending) if index in refused]
