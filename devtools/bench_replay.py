"""Record a DynamoDB client's responses, and answer it later from that recording, all in-process.

Recording runs the real code against moto once; replaying hands the same HTTP responses back from a `before-send`
hook, so botocore still validates, serializes, signs and parses every call (the CPU a Lambda spends) while no
emulator runs in the measured process and nothing leaves it. Imports only botocore: the fresh-process peak-memory
child uses this module, and anything heavier would count against the handler.
"""

from __future__ import annotations

import base64
import io
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from botocore.awsrequest import AWSResponse
from botocore.compat import HTTPHeaders


class ReplayMismatchError(Exception):
    """The code asked for a different request than the one recorded: the recording no longer describes it."""


@dataclass(frozen=True, slots=True)
class RecordedResponse:
    operation: str
    status_code: int
    headers: dict[str, str]
    body: bytes

    def to_json(self) -> dict[str, object]:
        return {
            "operation": self.operation,
            "status_code": self.status_code,
            "headers": self.headers,
            "body": base64.b64encode(self.body).decode("ascii"),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> RecordedResponse:
        return cls(
            operation=str(data["operation"]),
            status_code=int(data["status_code"]),
            headers={str(k): str(v) for k, v in dict(data["headers"]).items()},
            body=base64.b64decode(str(data["body"])),
        )


@dataclass
class ResponseRecorder:
    """Keeps every raw HTTP response a client receives, in order."""

    responses: list[RecordedResponse] = field(default_factory=list)

    def on_response(self, operation_model: Any, response_dict: Mapping[str, Any], **_: Any) -> None:
        body = response_dict.get("body", b"")
        self.responses.append(
            RecordedResponse(
                operation=str(operation_model.name),
                status_code=int(response_dict["status_code"]),
                headers={str(k): str(v) for k, v in dict(response_dict.get("headers", {})).items()},
                body=body if isinstance(body, bytes) else str(body).encode(),
            )
        )

    def attach(self, client: Any) -> None:
        client.meta.events.register("before-parse.dynamodb", self.on_response)

    def take(self) -> list[RecordedResponse]:
        taken, self.responses = self.responses, []
        return taken


class ParsedRecorder:
    """Keeps each call's operation, status and parsed response (what `_make_api_call` returns or raises from)."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    def on_call(self, http_response: Any, parsed: Mapping[str, Any], model: Any, **_: Any) -> None:
        self.calls.append({"operation": model.name, "status": http_response.status_code, "parsed": dict(parsed)})

    def attach(self, client: Any) -> None:
        client.meta.events.register("after-call.dynamodb", self.on_call)

    def take(self) -> list[dict[str, Any]]:
        taken, self.calls = self.calls, []
        return taken


class _CannedBody(io.BytesIO):
    """The raw body botocore streams from; `stream` is all AWSResponse needs."""

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self.getvalue()


class ResponseReplayer:
    """Answers each request with the next recorded response (cycling), refusing any request not recorded."""

    def __init__(self, responses: list[RecordedResponse]) -> None:
        if not responses:
            raise ValueError("nothing recorded to replay")
        self._responses = responses
        self._next = 0

    def on_send(self, request: Any, event_name: str, **_: Any) -> AWSResponse:
        expected = self._responses[self._next]
        operation = event_name.rsplit(".", 1)[-1]
        if operation != expected.operation:
            raise ReplayMismatchError(f"recorded {expected.operation} but the code sent {operation}")
        self._next = (self._next + 1) % len(self._responses)
        headers = HTTPHeaders()
        for name, value in expected.headers.items():
            headers[name] = value
        return AWSResponse(request.url, expected.status_code, headers, _CannedBody(expected.body))

    def attach(self, client: Any) -> None:
        client.meta.events.register("before-send.dynamodb", self.on_send)

    @property
    def at_start(self) -> bool:
        """True when the whole recording has been replayed a whole number of times."""
        return self._next == 0


class ClientCpuTimer:
    """CPU spent inside the client's API calls (parameters in, parsed response out), summed over calls."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self._started: float | None = None

    def on_start(self, **_: Any) -> None:
        self._started = time.process_time()

    def on_end(self, **_: Any) -> None:
        if self._started is not None:
            self.seconds += time.process_time() - self._started
            self._started = None

    def attach(self, client: Any) -> None:
        # The first and the last event botocore emits for an API call.
        client.meta.events.register("provide-client-params.dynamodb", self.on_start)
        client.meta.events.register("after-call.dynamodb", self.on_end)
