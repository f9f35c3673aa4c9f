"""The package's public surface for other services, and the snippet its docstring documents, against moto."""

from __future__ import annotations

import social_connections
from social_connections import ConnectionKey, ConnectionStatus, DynamoDBConnectionStore, Platform

from devtools.clerk_payloads import external_account, user_event
from devtools.testkit.aws import TEST_TABLE_NAME


def test_the_public_names_are_exactly_all():
    assert sorted(social_connections.__all__) == sorted(
        name for name in vars(social_connections) if not name.startswith("_") and name[0].isupper()
    )


def test_the_documented_snippet_works(deliver):
    account = external_account("eac_123", "oauth_x", updated_at=1_716_883_200_000)
    assert (
        deliver(user_event("user.created", "user_2abc", updated_at=1_716_883_200_000, accounts=[account])).status == 200
    )
    code = "\n".join(line[4:] for line in (social_connections.__doc__ or "").splitlines() if line.startswith("    "))
    assert "record_publish_failure" in code
    namespace = {name: getattr(social_connections, name) for name in social_connections.__all__}
    exec(code.replace("clerk-social-connections-ConnectionsTable-XXXX", TEST_TABLE_NAME), namespace)  # noqa: S102
    stored = DynamoDBConnectionStore.for_table(TEST_TABLE_NAME).read_user("user_2abc")
    row = stored.connections[ConnectionKey(Platform.TWITTER, "eac_123")]
    assert (row.status, row.error_count) == (ConnectionStatus.CONNECTED, 1)
