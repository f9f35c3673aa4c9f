"""Property: after any sequence of events, the AttentionIndex holds exactly the rows in `expired` or `error`.

Snapshots with any mix of account states, recorded failures and successes, deletions, in any order, through the real
webhook and stream handlers on moto (the table from template.yaml, its GSI included).
"""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from hypothesis import given
from hypothesis import strategies as st
from social_connections import container
from social_connections.model import ConnectionKey
from social_connections.providers import Platform
from social_connections.storage.attention_index import AttentionIndexReader

from devtools.clerk_payloads import deleted_event, external_account, to_body, user_event
from devtools.testkit.aws import TEST_TABLE_NAME, LambdaContextStub
from devtools.testkit.deliveries import http_api_event, svix_headers
from devtools.testkit.table import StreamReader, stream_event, table_items
from tests.reliability.conftest import SharedAccount
from tests.reliability.support import contract_violations, copy_violations, count, fuzz_settings, invoke, stream_module

pytestmark = pytest.mark.slow

T0 = 1_716_883_200_000
USERS = ("user_a", "user_b")
ACCOUNTS = (("eac_x", "oauth_x", Platform.TWITTER), ("eac_tt", "oauth_custom_tiktok", Platform.TIKTOK))
# None: the account is not in the snapshot.
ACCOUNT_STATES = st.sampled_from([None, "verified", "expired", "failed", "unverified"])

snapshots = st.tuples(st.just("snapshot"), st.sampled_from(USERS), st.tuples(ACCOUNT_STATES, ACCOUNT_STATES))
failures = st.tuples(st.just("failure"), st.sampled_from(USERS), st.integers(0, 1), st.integers(1, 3))
successes = st.tuples(st.just("success"), st.sampled_from(USERS), st.integers(0, 1))
deletions = st.tuples(st.just("delete"), st.sampled_from(USERS))
steps = st.lists(st.one_of(snapshots, snapshots, failures, successes, deletions), min_size=1, max_size=8)


def _deliver(account: SharedAccount, payload: dict[str, Any]) -> None:
    body = to_body(payload)
    assert invoke(http_api_event(body, svix_headers(account.secret, body))).status == 200


def _apply(account: SharedAccount, step: tuple[Any, ...], clock: int) -> None:
    kind, user_id, *rest = step
    store = container.current().store
    if kind == "snapshot":
        entries = [
            external_account(account_id, provider, updated_at=clock, status=state)
            for (account_id, provider, _), state in zip(ACCOUNTS, rest[0], strict=True)
            if state is not None
        ]
        _deliver(account, user_event("user.updated", user_id, updated_at=clock, accounts=entries))
    elif kind == "delete":
        _deliver(account, deleted_event(user_id))
    else:
        account_id, _, platform = ACCOUNTS[rest[0]]
        key = ConnectionKey(platform, account_id)
        for _ in range(rest[1] if kind == "failure" else 1):
            if kind == "failure":
                store.record_publish_failure(user_id, key, "the platform refused the post")
            else:
                store.record_publish_success(user_id, key)


@given(sequence=steps)
@fuzz_settings(scale=0.2)
def test_the_index_holds_exactly_the_rows_in_expired_or_error(shared_account: SharedAccount, sequence):
    shared_account.rebuild_table()
    reader = StreamReader(boto3.client("dynamodbstreams"), shared_account.stream_arn)
    handler = stream_module().lambda_handler
    for position, step in enumerate(sequence):
        _apply(shared_account, step, T0 + position)
        while records := reader.read():  # the stream function keeps up after every step, as it does deployed
            assert handler(stream_event(records), LambdaContextStub()) == {"batchItemFailures": []}
    items = table_items(TEST_TABLE_NAME)
    assert contract_violations(items) == []
    assert copy_violations(items) == []
    expected = {
        (item["userId"], item["platform"], item["externalAccountId"], item["connectionStatus"])
        for item in items
        if str(item["sk"]).startswith("CONNECTION#") and item["connectionStatus"] in {"expired", "error"}
    }
    rows = AttentionIndexReader(TEST_TABLE_NAME, container.current().dynamodb).rows()
    listed = [(row.user_id, row.key.platform.value, row.key.external_account_id, row.status.value) for row in rows]
    assert len(listed) == len(set(listed))
    assert set(listed) == expected
    count("attention.examples")
    count("attention.rows_checked", len(expected))
