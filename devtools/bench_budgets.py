"""The restated budgets' measurements: instruction counts under valgrind (B1) and capacity on DynamoDB Local (B4).

Instructions (cachegrind's `I refs`, PYTHONHASHSEED=0) do not move with the load of a shared machine, unlike wall
or CPU time. Capacity units come from `ReturnConsumedCapacity=TOTAL`, which moto ignores and DynamoDB Local reports.
"""

from __future__ import annotations

import importlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from social_connections import container
from social_connections.container import Container
from social_connections.settings import Settings

from devtools.bench_process import FUNCTION_DIRS, LAYER_DIR
from devtools.bench_scenarios import REPO_ROOT, TABLE_NAME, WebhookScenario
from devtools.testkit.deliveries import invoke_http
from devtools.testkit.dynamodb_local import DynamoDBLocal
from devtools.testkit.template import create_connections_table

VALGRIND_TIMEOUT_SECONDS: Final = 600
_I_REFS = re.compile(r"I\s+refs:\s+([\d,]+)")
WEBHOOK_MODULE: Final = "functions.clerk_webhook.app"

# The floor of B1: what any Python function that writes one item to DynamoDB pays (same client configuration).
FLOOR_PROCESS: Final = """
import json, sys
import boto3
from social_connections.storage.dynamodb_store import DYNAMODB_CLIENT_CONFIG
from devtools.bench_replay import RecordedResponse, ResponseReplayer
client = boto3.client("dynamodb", config=DYNAMODB_CLIENT_CONFIG)
ResponseReplayer([RecordedResponse.from_json(json.load(open(sys.argv[1])))]).attach(client)
client.put_item(TableName="bench", Item={"pk": {"S": "USER#user_bench"}, "sk": {"S": "PROFILE"}})
"""
STREAM_IMPORT: Final = "import sys; sys.path[:0] = sys.argv[1:3]; import app"


def valgrind_available() -> bool:
    return shutil.which("valgrind") is not None


def instructions(arguments: list[str], environment: Mapping[str, str]) -> int:
    """Instructions a fresh interpreter executes for `python ARGUMENTS`, interpreter start-up included."""
    valgrind = shutil.which("valgrind")
    if valgrind is None:
        raise RuntimeError("valgrind is not installed")
    command = [valgrind, "--tool=cachegrind", "--cache-sim=no", "--cachegrind-out-file=/dev/null"]
    completed = subprocess.run(  # noqa: S603 - valgrind and our own interpreter, arguments built here
        [*command, sys.executable, *arguments],
        capture_output=True,
        text=True,
        timeout=VALGRIND_TIMEOUT_SECONDS,
        cwd=REPO_ROOT,
        env={**environment, "PYTHONHASHSEED": "0"},
        check=False,
    )
    found = _I_REFS.search(completed.stderr)
    if completed.returncode != 0 or found is None:
        raise RuntimeError(f"valgrind run failed (exit {completed.returncode}): {completed.stderr[-2000:]}")
    return int(found.group(1).replace(",", ""))


@dataclass(frozen=True)
class ColdStartInstructions:
    floor: int  # import boto3 + a client with the functions' configuration + one canned put_item
    webhook: int  # import the webhook app + handle one user.created with three accounts (canned responses)
    boto3_import: int
    stream_import: int

    @property
    def webhook_ratio(self) -> float:
        return self.webhook / self.floor

    @property
    def stream_ratio(self) -> float:
        return self.stream_import / self.boto3_import


def measure_cold_start_instructions(
    created_event: Mapping[str, Any],
    created_responses: list[dict[str, object]],
    put_response: dict[str, object],
    environment: Mapping[str, str],
) -> ColdStartInstructions:
    """B1 in the project's environment, bytecode compiled beforehand (as the build ships it)."""
    with tempfile.TemporaryDirectory(prefix="bench-instructions-") as scratch:
        spec = Path(scratch, "spec.json")
        spec.write_text(
            json.dumps(
                {
                    "function_dir": str(FUNCTION_DIRS["webhook"]),
                    "layer_dir": str(LAYER_DIR),
                    "event": created_event,
                    "responses": created_responses,
                }
            ),
            encoding="utf-8",
        )
        put = Path(scratch, "put.json")
        put.write_text(json.dumps(put_response), encoding="utf-8")
        webhook = ["-m", "devtools.bench_process", "rss", str(spec), str(Path(scratch, "result.json"))]
        stream = ["-c", STREAM_IMPORT, str(FUNCTION_DIRS["stream"]), str(LAYER_DIR)]
        floor = ["-c", FLOOR_PROCESS, str(put)]
        for arguments in (webhook, stream, floor):  # natively first: writes the bytecode caches the runs then load
            subprocess.run(  # noqa: S603 - our own interpreter, arguments built here
                [sys.executable, *arguments], cwd=REPO_ROOT, env=dict(environment), capture_output=True, check=True
            )
        runs = {"floor": floor, "webhook": webhook, "boto3_import": ["-c", "import boto3"], "stream_import": stream}
        # Valgrind runs one thread per process: one process per core.
        with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
            counts = pool.map(lambda arguments: instructions(arguments, environment), runs.values())
            return ColdStartInstructions(**dict(zip(runs, counts, strict=True)))


# ---- B4: capacity on DynamoDB Local --------------------------------------------------------------------------------


@dataclass
class Capacity:
    read_units: float = 0.0
    write_units: float = 0.0
    refused_writes: int = 0  # charged by DynamoDB, returned without ConsumedCapacity: counted as 1 write unit each

    @property
    def total(self) -> float:
        return self.read_units + self.write_units


class CapacityMeter:
    """Asks every call for its consumed capacity and adds it up (reads and writes apart)."""

    def __init__(self) -> None:
        self.current = Capacity()

    def ask(self, params: dict[str, Any], **_: Any) -> None:
        params["ReturnConsumedCapacity"] = "TOTAL"

    def add(self, parsed: Mapping[str, Any], model: Any, http_response: Any, **_: Any) -> None:
        consumed = parsed.get("ConsumedCapacity")
        entries = consumed if isinstance(consumed, list) else [consumed] if consumed else []
        for entry in entries:
            self.current.read_units += float(entry.get("ReadCapacityUnits", 0) or 0)
            self.current.write_units += float(entry.get("WriteCapacityUnits", 0) or 0)
            if "ReadCapacityUnits" not in entry and "WriteCapacityUnits" not in entry:
                units = float(entry.get("CapacityUnits", 0) or 0)
                if model.name == "Query":
                    self.current.read_units += units
                else:
                    self.current.write_units += units
        if http_response.status_code >= 300 and not entries and model.name != "Query":
            self.current.refused_writes += 1
            self.current.write_units += 1

    def attach(self, client: Any) -> None:
        client.meta.events.register("provide-client-params.dynamodb", self.ask)
        client.meta.events.register("after-call.dynamodb", self.add)

    def take(self) -> Capacity:
        taken, self.current = self.current, Capacity()
        return taken


def measure_capacity(scenarios: list[WebhookScenario], secret: str) -> dict[str, Capacity]:
    """Every scenario delivered in order through lambda_handler against DynamoDB Local, capacity per scenario."""
    saved = os.environ.get("AWS_ENDPOINT_URL_DYNAMODB")
    results: dict[str, Capacity] = {}
    with DynamoDBLocal() as local:
        os.environ["AWS_ENDPOINT_URL_DYNAMODB"] = local.endpoint_url
        try:
            create_connections_table(local.client(), TABLE_NAME)
            container.use(Container(Settings.from_environment()))
            meter = CapacityMeter()
            meter.attach(container.current().dynamodb)
            webhook = importlib.import_module(WEBHOOK_MODULE)
            for scenario in scenarios:
                meter.take()
                answer = invoke_http(webhook.lambda_handler, scenario.event(secret))
                if answer.status != 200 or answer.body.get("outcome") != scenario.outcome:
                    raise RuntimeError(f"{scenario.key} on DynamoDB Local: got {answer.status} {answer.body}")
                results[scenario.key] = meter.take()
        finally:
            container.use(None)
            if saved is None:
                os.environ.pop("AWS_ENDPOINT_URL_DYNAMODB", None)
            else:
                os.environ["AWS_ENDPOINT_URL_DYNAMODB"] = saved
    return results
