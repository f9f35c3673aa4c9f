"""Clerk social-connection sync: the connections table's domain, its rules, and the store other services use.

The public surface for other services is `__all__`: read a user's connections and report publish results, e.g.

    store = DynamoDBConnectionStore.for_table("clerk-social-connections-ConnectionsTable-XXXX")
    store.record_publish_failure("user_2abc", ConnectionKey(Platform.TWITTER, "eac_123"), "403 from the X API")
"""

from social_connections.connection_store import ConnectionStore
from social_connections.model import ConnectionKey, ConnectionStatus, StoredConnection, StoredUser
from social_connections.providers import Platform
from social_connections.storage import DynamoDBConnectionStore

__all__ = [
    "ConnectionKey",
    "ConnectionStatus",
    "ConnectionStore",
    "DynamoDBConnectionStore",
    "Platform",
    "StoredConnection",
    "StoredUser",
]
