"""B2: warm instructions per event without the SDK, against verify + json.loads + one log line + one EMF blob.

The DynamoDB client's `_make_api_call` answers with the parsed responses recorded from moto, so botocore does no work
at all and the figure is this project's code plus its libraries. Instructions per event are a difference of two
process totals under valgrind: one that ran the warm-ups only, one that ran the warm-ups plus EXTRA more events of one
kind. Those processes are forked from one warmed-up process (valgrind follows a fork, and a child's count starts
from its parent's): they share everything up to the fork, so only the extra events differ, and the import and
warm-ups are paid once instead of once per process. The warmed-up process is the B1 webhook process after its
`import app` (devtools/bench_process.py).
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

WARM_UPS: Final = 3
EXTRA_EVENTS: Final = 20
FLOOR_NAMESPACE: Final = "ClerkSocialConnections"
BASE_PHASE: Final = "base"


@dataclass(frozen=True)
class WarmInstructions:
    handler: float  # per event
    floor: float  # per event, on the same body

    @property
    def ratio(self) -> float:
        return self.handler / self.floor


def warm_spec(
    events: Mapping[str, Mapping[str, Any]], calls: Mapping[str, list[dict[str, Any]]], pids_path: Path
) -> dict[str, Any]:
    """What the warm child needs: the events, their canned calls, and the phases (one forked process each)."""
    phases: dict[str, dict[str, int]] = {BASE_PHASE: {}}
    for key in events:
        phases[key] = {key: EXTRA_EVENTS}
        phases[f"floor:{key}"] = {f"floor:{key}": EXTRA_EVENTS}
    return {"events": events, "calls": calls, "phases": phases, "pids_path": str(pids_path)}


def warm_instructions(phase_counts: Mapping[str, int], keys: list[str]) -> dict[str, WarmInstructions]:
    """Per scenario: (phase with EXTRA more events - warm-ups only) / EXTRA, and the same for its floor."""
    base = phase_counts[BASE_PHASE]
    return {
        key: WarmInstructions(
            handler=(phase_counts[key] - base) / EXTRA_EVENTS,
            floor=(phase_counts[f"floor:{key}"] - base) / EXTRA_EVENTS,
        )
        for key in keys
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


def _actions(spec: Mapping[str, Any], app: Any) -> dict[str, Callable[[], object]]:
    """Per scenario key, one handled event (canned DynamoDB answers) and its floor."""
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
    return actions


def _run_phase(actions: Mapping[str, Callable[[], object]], extra: Mapping[str, int]) -> int | None:
    """Fork; the child runs the phase's extra events and returns None (it then ends as any process ends, interpreter
    shutdown included, as the separate processes of the difference method did); the parent returns the child's pid."""
    sys.stdout.flush()
    sys.stderr.flush()
    child = os.fork()
    if child == 0:
        for key, times in extra.items():
            for _ in range(times):
                actions[key]()
        return None
    _, status = os.waitpid(child, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"warm phase {dict(extra)} failed")
    return child


def run_warm_phases(spec: Mapping[str, Any], app: Any, pids: dict[str, int]) -> bool:
    """Warm-ups of every event and floor, then one forked child per phase; the pids go to the spec's file.

    True in the warm process once every phase ran; False in a phase's child, which must then end."""
    actions = _actions(spec, app)
    for action in actions.values():
        for _ in range(WARM_UPS):
            action()
    for phase, extra in spec["phases"].items():
        child = _run_phase(actions, extra)
        if child is None:
            return False
        pids[phase] = child
    Path(spec["pids_path"]).write_text(json.dumps(pids), encoding="utf-8")
    return True
