"""The health rules the stream function applies: when recorded failures move a connection to `error` and back."""

from __future__ import annotations

from social_connections.model import ConnectionHealth, ConnectionStatus


def health_transition(health: ConnectionHealth, threshold: int) -> ConnectionStatus | None:
    """connected with >= threshold failures -> error; error with 0 failures, still verified -> connected; else None."""
    if health.status is ConnectionStatus.CONNECTED and health.error_count >= threshold:
        return ConnectionStatus.ERROR
    if health.status is ConnectionStatus.ERROR and health.error_count == 0 and health.verification_status == "verified":
        return ConnectionStatus.CONNECTED
    return None
