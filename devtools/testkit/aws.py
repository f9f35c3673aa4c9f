"""What stands in for AWS around a handler run locally: dummy credentials, a Lambda context, and request counting."""

from __future__ import annotations

import time
import uuid
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

REGION: Final = "us-east-1"
ACCOUNT_ID: Final = "123456789012"  # moto's default account

# Dummy credentials and a fixed region, so that nothing can fall through to a real account.
DUMMY_AWS_ENVIRONMENT: Final = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
    "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
    "AWS_EC2_METADATA_DISABLED": "true",
}
WRITE_OPERATIONS: Final = frozenset({"PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems", "BatchWriteItem"})


@dataclass
class LambdaContextStub:
    """The context attributes Powertools reads, with the function's timeout counting down from creation."""

    function_name: str = "local"
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:local"
    timeout_seconds: float = 10.0
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    started: float = field(default_factory=time.monotonic)

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.started + self.timeout_seconds - time.monotonic()) * 1000))


@dataclass(frozen=True, slots=True)
class RequestCounts:
    requests: int
    round_trips: int
    writes: int
    conditional_writes: int
    by_operation: dict[str, int]


@dataclass
class RequestCounter:
    """A client's API calls by operation, its HTTP attempts (sequential round trips: nothing here overlaps calls),
    and how many writes carried a condition. `attach(client)` starts counting."""

    calls: Counter[str] = field(default_factory=Counter)
    order: list[str] = field(default_factory=list)
    attempts: int = 0
    conditional_writes: int = 0

    def attach(self, client: Any) -> RequestCounter:
        # before-parameter-build fires once per API call with its parameters; request-created once per HTTP attempt.
        client.meta.events.register("before-parameter-build", self._on_call)
        client.meta.events.register("request-created", self._on_attempt)
        return self

    def _on_call(self, model: Any, params: Mapping[str, Any], **_: Any) -> None:
        name = str(model.name)
        self.calls[name] += 1
        self.order.append(name)
        if name in WRITE_OPERATIONS and _is_conditional(name, params):
            self.conditional_writes += 1

    def _on_attempt(self, **_: Any) -> None:
        self.attempts += 1

    def reset(self) -> None:
        self.calls.clear()
        self.order.clear()
        self.attempts = 0
        self.conditional_writes = 0

    @property
    def writes(self) -> int:
        return sum(count for operation, count in self.calls.items() if operation in WRITE_OPERATIONS)

    @property
    def total(self) -> int:
        return sum(self.calls.values())

    def summary(self) -> RequestCounts:
        return RequestCounts(
            requests=self.total,
            round_trips=self.attempts,
            writes=self.writes,
            conditional_writes=self.conditional_writes,
            by_operation=dict(sorted(self.calls.items())),
        )


def _is_conditional(operation: str, params: Mapping[str, Any]) -> bool:
    if operation == "TransactWriteItems":
        return any(
            "ConditionExpression" in action
            for item in params.get("TransactItems", [])
            for action in item.values()
            if isinstance(action, Mapping)
        )
    return "ConditionExpression" in params


TEST_TABLE_NAME: Final = "connections-test"
# What the tests run the functions with: the dummy account, the test table, and Powertools names of their own.
TEST_ENVIRONMENT: Final = {
    **DUMMY_AWS_ENVIRONMENT,
    "TABLE_NAME": TEST_TABLE_NAME,
    "POWERTOOLS_SERVICE_NAME": "clerk-social-connections-test",
    "POWERTOOLS_METRICS_NAMESPACE": "ClerkSocialConnectionsTest",
    "POWERTOOLS_LOG_DEDUPLICATION_DISABLED": "1",
    "ERROR_THRESHOLD": "3",
    "EVENT_BUS_NAME": "connection-events-test",
}
