"""The connections table's storage: the DynamoDB ConnectionStore and the item contract it writes."""

from social_connections.storage.dynamodb_store import DYNAMODB_CLIENT_CONFIG, DynamoDBConnectionStore

__all__ = ["DYNAMODB_CLIENT_CONFIG", "DynamoDBConnectionStore"]
