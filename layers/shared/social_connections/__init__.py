"""Clerk social-connection sync: event models, provider mapping, connection rules and the DynamoDB repository."""

from social_connections.connection_rules import ConnectionKey, ConnectionStatus
from social_connections.providers import Platform
from social_connections.repository import ConnectionsRepository

__all__ = ["ConnectionKey", "ConnectionStatus", "ConnectionsRepository", "Platform"]
