"""What stands in for AWS around a handler run locally: a Lambda context and credentials that reach no account."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from typing import Final

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
