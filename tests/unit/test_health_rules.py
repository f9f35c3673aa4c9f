"""The health rules: when recorded failures move a connection to error, and back."""

from __future__ import annotations

import pytest
from social_connections.health_rules import health_transition
from social_connections.model import ConnectionHealth, ConnectionKey, ConnectionStatus
from social_connections.providers import Platform

X = ConnectionKey(Platform.TWITTER, "eac_x")


def health(status: ConnectionStatus, errors: int, verification: str | None = "verified") -> ConnectionHealth:
    return ConnectionHealth(
        user_id="user_1", key=X, status=status, error_count=errors, verification_status=verification
    )


@pytest.mark.parametrize(
    ("current", "expected"),
    [
        (health(ConnectionStatus.CONNECTED, 2), None),
        (health(ConnectionStatus.CONNECTED, 3), ConnectionStatus.ERROR),
        (health(ConnectionStatus.CONNECTED, 9), ConnectionStatus.ERROR),
        (health(ConnectionStatus.ERROR, 0), ConnectionStatus.CONNECTED),
        (health(ConnectionStatus.ERROR, 0, "failed"), None),
        (health(ConnectionStatus.ERROR, 1), None),
        (health(ConnectionStatus.DISCONNECTED, 5), None),
        (health(ConnectionStatus.EXPIRED, 0), None),
    ],
)
def test_health_transition(current, expected):
    assert health_transition(current, threshold=3) is expected
