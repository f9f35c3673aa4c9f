"""B2: warm instructions per event without the SDK, against verify + json.loads + one log line + one EMF blob.

The DynamoDB client's `_make_api_call` answers with the parsed responses recorded from moto, so botocore does no work
at all and the figure is this project's code plus its libraries. Instructions per event are a difference of two
valgrind runs of the same process: warm-ups only, and warm-ups plus EXTRA more events of one kind.
Child: `python -m devtools.bench_warm SPEC_JSON` (the benchmark writes the spec).
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from devtools.bench_process import FUNCTION_DIRS, LAYER_DIR

WARM_UPS: Final = 3
EXTRA_EVENTS: Final = 20
FLOOR_NAMESPACE: Final = "ClerkSocialConnections"


@dataclass(frozen=True)
class WarmInstructions:
    handler: float  # per event
    floor: float  # per event, on the same body

    @property
    def ratio(self) -> float:
        return self.handler / self.floor


def measure_warm_instructions(
    events: Mapping[str, Mapping[str, Any]], calls: Mapping[str, list[dict[str, Any]]], environment: Mapping[str, str]
) -> dict[str, WarmInstructions]:
    """Per scenario: (handler with EXTRA more events - warm-ups only) / EXTRA, and the same for its floor."""
    from devtools.bench_budgets import instructions  # noqa: PLC0415 - keeps moto out of the measured child

    runs: dict[str, dict[str, int]] = {"base": {}}
    for key in events:
        runs[key] = {key: EXTRA_EVENTS}
        runs[f"floor:{key}"] = {f"floor:{key}": EXTRA_EVENTS}
    with tempfile.TemporaryDirectory(prefix="bench-warm-") as scratch:

        def run(name: str) -> int:
            spec = Path(scratch, f"{name.replace(':', '-')}.json")
            spec.write_text(json.dumps({"events": events, "calls": calls, "extra": runs[name]}), encoding="utf-8")
            return instructions(["-m", "devtools.bench_warm", str(spec)], environment)

        # Valgrind runs one thread per process: one process per core halves the wall time on two cores.
        with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
            counts = dict(zip(runs, pool.map(run, runs), strict=True))
    base = counts["base"]
    return {
        key: WarmInstructions(
            handler=(counts[key] - base) / EXTRA_EVENTS, floor=(counts[f"floor:{key}"] - base) / EXTRA_EVENTS
        )
        for key in events
    }


# ---- the child -----------------------------------------------------------------------------------------------------


def _canned_api(client: Any, queue: list[dict[str, Any]]) -> None:
    from botocore.exceptions import ClientError  # noqa: PLC0415 - child only

    def answer(operation_name: str, api_params: Mapping[str, Any]) -> Mapping[str, Any]:
        call = queue.pop(0)
        if call["operation"] != operation_name:
            raise RuntimeError(f"recorded {call['operation']} but the code called {operation_name}")
        if call["status"] >= 300:
            raise ClientError(call["parsed"], operation_name)
        return call["parsed"]  # type: ignore[no-any-return]

    client._make_api_call = answer


def _floor(event: Mapping[str, Any], secret: str) -> Callable[[], None]:
    """verify + json.loads of the body, one JSON log line, one EMF blob: the least a webhook must do per event."""
    from standardwebhooks.webhooks import Webhook  # noqa: PLC0415

    verifier, body = Webhook(secret), str(event["body"]).encode()
    headers = {f"webhook-{name}": event["headers"][f"svix-{name}"] for name in ("id", "timestamp", "signature")}

    def floor() -> None:
        payload = verifier.verify(body, headers)
        data = payload.get("data", {}) if isinstance(payload, dict) else {}
        line = {"level": "INFO", "message": "event processed", "user_id": data.get("id"), "type": payload["type"]}
        print(json.dumps(line))
        metric = {"Name": "EventsApplied", "Unit": "Count"}
        directive = {"Namespace": FLOOR_NAMESPACE, "Dimensions": [["service"]], "Metrics": [metric]}
        blob = {"_aws": {"Timestamp": int(time.time() * 1000), "CloudWatchMetrics": [directive]}}
        print(json.dumps(blob | {"service": "clerk-social-connections", "EventsApplied": 1}))

    return floor


def _signed_now(event: Mapping[str, Any], secret: str) -> dict[str, Any]:
    """The event with its svix headers signed again: a run under valgrind can outlast the five minutes a signature is
    valid."""
    from datetime import UTC, datetime  # noqa: PLC0415

    from standardwebhooks.webhooks import Webhook  # noqa: PLC0415

    now = datetime.now(tz=UTC)
    headers = dict(event["headers"])
    headers["svix-timestamp"] = str(int(now.timestamp()))
    headers["svix-signature"] = Webhook(secret).sign(headers["svix-id"], now, str(event["body"]))
    return {**event, "headers": headers}


def _warm_child(spec_path: str) -> None:
    spec = json.loads(Path(spec_path).read_text(encoding="utf-8"))
    sys.path[:0] = [str(FUNCTION_DIRS["webhook"]), str(LAYER_DIR)]
    import app  # type: ignore[import-not-found]  # noqa: PLC0415 - the handler, found as Lambda finds it
    from social_connections import container  # noqa: PLC0415

    from devtools.testkit.aws import LambdaContextStub  # noqa: PLC0415

    queue: list[dict[str, Any]] = []
    _canned_api(container.current().dynamodb, queue)
    context = LambdaContextStub(function_name="bench")
    secret = os.environ["CLERK_WEBHOOK_SECRET"]
    actions: dict[str, Callable[[], object]] = {}
    for key, unsigned in spec["events"].items():
        event = _signed_now(unsigned, secret)
        actions[f"floor:{key}"] = _floor(event, secret)

        def handle(event: Mapping[str, Any] = event, calls: list[dict[str, Any]] = spec["calls"][key]) -> object:
            queue.extend(calls)
            answer = app.lambda_handler(event, context)
            if answer["statusCode"] != 200 or queue:
                raise RuntimeError(f"warm event answered {answer} with {len(queue)} canned calls left")
            return answer

        actions[key] = handle
    for action in actions.values():
        for _ in range(WARM_UPS):
            action()
    for key, times in spec["extra"].items():
        for _ in range(times):
            actions[key]()


if __name__ == "__main__":
    if len(sys.argv) == 2:
        _warm_child(sys.argv[1])
    else:
        sys.exit("usage: python -m devtools.bench_warm SPEC_JSON")
