"""Readable console output for `make dev`: one line per request or stream batch instead of raw JSON log lines.

The functions log through Powertools (JSON on stdout) and publish metrics as EMF blobs (JSON on stdout). While the
console is installed, sys.stdout collects what a thread writes during one invocation; the line printed afterwards has
method, path, status, outcome, user and duration, the metrics as `name=value`, and below it any warning or error the
function logged (with its fields). `make dev --json` (ARGS=--json) leaves the raw lines alone.
"""

from __future__ import annotations

import io
import json
import sys
import threading
import time
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final, TextIO

from werkzeug.wrappers import Request, Response

from devtools.local_gateway import HttpApiGateway

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

# Keys every Powertools line carries; the rest are the fields the function chose to log.
_STANDARD_KEYS: Final = frozenset(
    {
        "level",
        "location",
        "message",
        "timestamp",
        "service",
        "cold_start",
        "function_name",
        "function_memory_size",
        "function_arn",
        "function_request_id",
        "correlation_id",
        "xray_trace_id",
        "sampling_rate",
        "svix_id",
        "exception_name",
    }
)
_NOTABLE_LEVELS: Final = frozenset({"WARNING", "ERROR", "CRITICAL"})
Invoke = Callable[[dict[str, Any]], Any]


class CapturingOutput(io.TextIOBase):
    """Stands in for sys.stdout: a thread inside capture() writes to its own buffer, other writes pass through."""

    def __init__(self, target: TextIO) -> None:
        super().__init__()
        self._target = target
        self._local = threading.local()

    def write(self, text: str) -> int:
        buffer: list[str] | None = getattr(self._local, "buffer", None)
        if buffer is None:
            return self._target.write(text)
        buffer.append(text)
        return len(text)

    def flush(self) -> None:
        self._target.flush()

    @contextmanager
    def capture(self) -> Iterator[list[str]]:
        """Yields a list that holds, once the block ends, the lines this thread wrote inside it."""
        parts: list[str] = []
        lines: list[str] = []
        self._local.buffer = parts
        try:
            yield lines
        finally:
            self._local.buffer = None
            lines.extend("".join(parts).splitlines())


@dataclass
class Invocation:
    """What one invocation wrote: Powertools log records, summed EMF metrics, and any other text."""

    logs: list[dict[str, Any]] = field(default_factory=list)
    metrics: dict[str, float] = field(default_factory=dict)
    other: list[str] = field(default_factory=list)

    def first(self, *keys: str) -> str | None:
        for record in self.logs:
            for key in keys:
                if record.get(key):
                    return str(record[key])
        return None


def _add_metrics(blob: Mapping[str, Any], into: dict[str, float]) -> None:
    for directive in blob["_aws"].get("CloudWatchMetrics", []):
        for metric in directive.get("Metrics", []):
            name = metric.get("Name")
            raw = blob.get(name, 0)
            values = raw if isinstance(raw, list) else [raw]
            into[name] = into.get(name, 0) + sum(float(value) for value in values)


def parse(lines: Iterable[str]) -> Invocation:
    found = Invocation()
    for line in lines:
        try:
            record = json.loads(line)
        except ValueError:
            record = None
        if isinstance(record, dict) and isinstance(record.get("_aws"), dict):
            _add_metrics(record, found.metrics)
        elif isinstance(record, dict) and "level" in record and "message" in record:
            found.logs.append(record)
        elif line.strip():
            found.other.append(line)
    return found


def _number(value: float) -> str:
    return str(int(value)) if value == int(value) else f"{value:g}"


def details(invocation: Invocation) -> list[str]:
    """The metrics summary, then one indented line per warning or error (with its fields), then any other text."""
    lines: list[str] = []
    if invocation.metrics:
        lines.append("    metrics " + " ".join(f"{k}={_number(v)}" for k, v in sorted(invocation.metrics.items())))
    for record in invocation.logs:
        if record.get("level") not in _NOTABLE_LEVELS:
            continue
        fields = " ".join(f"{key}={value}" for key, value in record.items() if key not in _STANDARD_KEYS)
        lines.append(f"    {record['level']} {record['message']} {fields}".rstrip())
        lines.extend(f"      {text}" for text in str(record.get("exception", "")).splitlines())
    lines.extend(f"    {text}" for text in invocation.other)
    return lines


def _answer(response: Response) -> dict[str, Any]:
    try:
        body = json.loads(response.get_data() or b"{}")
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def request_line(request: Request, response: Response, invocation: Invocation, milliseconds: float) -> str:
    answer = _answer(response)
    outcome = answer.get("outcome") or answer.get("error") or answer.get("message") or "-"
    user = answer.get("userId") or invocation.first("user_id", "userId") or "-"
    cold = " (cold start)" if any(record.get("cold_start") for record in invocation.logs) else ""
    return (
        f"{datetime.now():%H:%M:%S} {request.method} {request.path} {response.status_code} {outcome} "
        f"user={user} {milliseconds:.0f} ms{cold}"
    )


def _stream_users(event: Mapping[str, Any]) -> list[str]:
    users = set()
    for record in event.get("Records", []):
        pk = record.get("dynamodb", {}).get("Keys", {}).get("pk", {}).get("S", "")
        users.add(str(pk).partition("#")[2] or "-")
    return sorted(users)


def stream_outcome(result: Any) -> str:
    failures = len(result.get("batchItemFailures") or []) if isinstance(result, dict) else 0
    return f"{failures} failed" if failures else "ok"


def stream_line(function_name: str, event: Mapping[str, Any], outcome: str, milliseconds: float) -> str:
    count = len(event.get("Records", []))
    return (
        f"{datetime.now():%H:%M:%S} stream {function_name} {count} record{'' if count == 1 else 's'} {outcome} "
        f"user={','.join(_stream_users(event)) or '-'} {milliseconds:.0f} ms"
    )


class LocalConsole:
    """Installs the capturing stdout and wraps the gateway and the stream invocations with one line each."""

    def __init__(self, target: TextIO | None = None) -> None:
        self._target = target or sys.stdout
        self.output = CapturingOutput(self._target)

    def install(self) -> None:
        """Before the functions are imported: Powertools' log handler keeps the stdout it finds then."""
        sys.stdout = self.output
        # Answers with no metric (a 401, a 404) flush an empty EMF blob, as deployed; no news on a console.
        warnings.filterwarnings("ignore", "No application metrics to publish", UserWarning)

    def _print(self, lines: list[str]) -> None:
        self._target.write("\n".join(lines) + "\n")
        self._target.flush()

    def gateway(self, app: HttpApiGateway) -> Callable[[WSGIEnvironment, StartResponse], Iterable[bytes]]:
        def serve(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
            request = Request(environ)
            started = time.monotonic()
            with self.output.capture() as lines:
                response = app.dispatch(request)
            invocation = parse(lines)
            elapsed = (time.monotonic() - started) * 1000
            self._print([request_line(request, response, invocation, elapsed), *details(invocation)])
            return response(environ, start_response)

        return serve

    def stream(self, function_name: str, invoke: Invoke) -> Invoke:
        def logged(event: dict[str, Any]) -> Any:
            started = time.monotonic()
            outcome = "raised (the poller retries the batch)"
            try:
                with self.output.capture() as lines:
                    result = invoke(event)
                outcome = stream_outcome(result)
            finally:
                elapsed = (time.monotonic() - started) * 1000
                self._print([stream_line(function_name, event, outcome, elapsed), *details(parse(lines))])
            return result

        return logged
