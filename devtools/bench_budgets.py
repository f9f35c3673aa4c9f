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
from devtools.bench_warm import WarmInstructions, warm_instructions, warm_spec
from devtools.testkit.deliveries import invoke_http
from devtools.testkit.dynamodb_local import DynamoDBLocal
from devtools.testkit.template import create_connections_table

VALGRIND_TIMEOUT_SECONDS: Final = 600
# One line per process at its exit, forked children included: "==PID== I   refs:      1,234,567".
_I_REFS = re.compile(r"^==(\d+)==\s+I\s+refs:\s+([\d,]+)", re.MULTILINE)
_BOTO3_CHILD = re.compile(r"^boto3-import-pid: (\d+)$", re.MULTILINE)
WEBHOOK_MODULE: Final = "functions.clerk_webhook.app"

# The floor of B1: what any Python function that writes one item to DynamoDB pays (same client configuration).
# Right after `import boto3` a forked child exits as `python -c "import boto3"` would: that is "import boto3 alone".
FLOOR_PROCESS: Final = """
import json, os, sys
import boto3
child = os.fork()
if child == 0:
    sys.exit(0)
os.waitpid(child, 0)
print(f"boto3-import-pid: {child}")
from social_connections.storage.dynamodb_store import DYNAMODB_CLIENT_CONFIG
from devtools.bench_replay import RecordedResponse, ResponseReplayer
client = boto3.client("dynamodb", config=DYNAMODB_CLIENT_CONFIG)
ResponseReplayer([RecordedResponse.from_json(json.load(open(sys.argv[1])))]).attach(client)
client.put_item(TableName="bench", Item={"pk": {"S": "USER#user_bench"}, "sk": {"S": "PROFILE"}})
"""
STREAM_IMPORT: Final = "import sys; sys.path[:0] = sys.argv[1:3]; import app"


def valgrind_available() -> bool:
    return shutil.which("valgrind") is not None


@dataclass(frozen=True)
class ValgrindRun:
    """Instructions of a process started under valgrind and of every process it forked, by pid."""

    pid: int
    counts: dict[int, int]
    stdout: str

    @property
    def total(self) -> int:
        return self.counts[self.pid]


def instructions(arguments: list[str], environment: Mapping[str, str]) -> ValgrindRun:
    """Instructions a fresh interpreter executes for `python ARGUMENTS`, interpreter start-up included.

    A forked child's count starts from its parent's at the fork (valgrind copies the counters with the process)."""
    valgrind = shutil.which("valgrind")
    if valgrind is None:
        raise RuntimeError("valgrind is not installed")
    command = [valgrind, "--tool=cachegrind", "--cache-sim=no", "--cachegrind-out-file=/dev/null"]
    with subprocess.Popen(  # noqa: S603 - valgrind and our own interpreter, arguments built here
        [*command, sys.executable, *arguments],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO_ROOT,
        env={**environment, "PYTHONHASHSEED": "0"},
    ) as process:
        stdout, stderr = process.communicate(timeout=VALGRIND_TIMEOUT_SECONDS)
    counts = {int(pid): int(count.replace(",", "")) for pid, count in _I_REFS.findall(stderr)}
    if process.returncode != 0 or process.pid not in counts:
        raise RuntimeError(f"valgrind run failed (exit {process.returncode}): {stderr[-2000:]}")
    return ValgrindRun(process.pid, counts, stdout)


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


@dataclass(frozen=True)
class Instructions:
    cold_start: ColdStartInstructions  # B1
    warm: dict[str, WarmInstructions]  # B2, per scenario key


def _write_json(path: Path, value: object) -> Path:
    path.write_text(json.dumps(value), encoding="utf-8")
    return path


def measure_instructions(
    cold: Mapping[str, Any],
    warm_events: Mapping[str, Mapping[str, Any]],
    warm_calls: Mapping[str, list[dict[str, Any]]],
    environment: Mapping[str, str],
) -> Instructions:
    """B1 and B2 from three valgrind runs, two at a time, bytecode compiled beforehand (as the build ships it).

    `cold` holds the B1 webhook event (`event`, a user.created with three accounts), its recorded HTTP `responses`
    and the floor's recorded `put` response. The webhook run is also B2's warm process (bench_warm.py)."""
    with tempfile.TemporaryDirectory(prefix="bench-instructions-") as scratch:
        directory = Path(scratch)
        warm = _write_json(directory / "warm.json", warm_spec(warm_events, warm_calls, directory / "pids.json"))
        spec = {"function_dir": str(FUNCTION_DIRS["webhook"]), "layer_dir": str(LAYER_DIR)}
        spec |= {"event": cold["event"], "responses": cold["responses"], "warm_spec": str(warm)}
        spec_path, result_path = _write_json(directory / "spec.json", spec), directory / "result.json"
        webhook = ["-m", "devtools.bench_process", "rss", str(spec_path), str(result_path)]
        floor = ["-c", FLOOR_PROCESS, str(_write_json(directory / "put.json", cold["put"]))]
        stream = ["-c", STREAM_IMPORT, str(FUNCTION_DIRS["stream"]), str(LAYER_DIR)]
        for arguments in (webhook, floor, stream):  # natively first: writes the bytecode caches the runs then load
            subprocess.run(  # noqa: S603 - our own interpreter, arguments built here
                [sys.executable, *arguments], cwd=REPO_ROOT, env=dict(environment), capture_output=True, check=True
            )
        # Valgrind runs one thread per process: one process per core, the longest first.
        with ThreadPoolExecutor(max_workers=min(2, os.cpu_count() or 1)) as pool:
            webhook_run, floor_run, stream_run = pool.map(
                lambda arguments: instructions(arguments, environment), (webhook, floor, stream)
            )
        pids = json.loads((directory / "pids.json").read_text(encoding="utf-8"))
    boto3_child = _BOTO3_CHILD.search(floor_run.stdout)
    if boto3_child is None:
        raise RuntimeError(f"the floor process did not report its import-only child: {floor_run.stdout[-500:]}")
    cold_start = ColdStartInstructions(
        floor=floor_run.total,
        webhook=webhook_run.counts[pids.pop("cold_start")],
        boto3_import=floor_run.counts[int(boto3_child.group(1))],
        stream_import=stream_run.total,
    )
    phases = {phase: webhook_run.counts[pid] for phase, pid in pids.items()}
    return Instructions(cold_start, warm_instructions(phases, list(warm_events)))


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
