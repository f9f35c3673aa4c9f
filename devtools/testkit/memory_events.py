"""An in-memory StatusEventPublisher: what the stream function sent, and a switch to refuse chosen events."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from social_connections.status_events import StatusChange


@dataclass
class MemoryEventPublisher:
    published: list[StatusChange] = field(default_factory=list)
    # Returns True for an event the bus should refuse, as a PutEvents entry with an ErrorCode.
    refuse: Callable[[StatusChange], bool] = lambda _change: False
    calls: int = 0

    def publish(self, changes: Sequence[StatusChange]) -> dict[int, str]:
        self.calls += 1
        refused = {index: "InternalFailure" for index, change in enumerate(changes) if self.refuse(change)}
        self.published.extend(change for index, change in enumerate(changes) if index not in refused)
        return refused

    def details(self) -> list[dict[str, object]]:
        return [change.detail() for change in self.published]
