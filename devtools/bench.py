"""`make bench`: measure cold start, warm CPU, DynamoDB requests, peak memory and local throughput against the budgets.

Prints one table and writes it as JSON; exits non-zero when a budget is missed. The budgets are the ones of the
design's "Budgets" section. Separate from the tests on purpose: timings are never asserted by `make test`.
Run from the repository root: `python -m devtools.bench [--quick] [--json PATH] [--skip-http]`.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Final, TextIO

from devtools.bench_http import measure_throughput
from devtools.bench_process import deployed_setting, measure_fresh_process, measure_import_times, project_setting
from devtools.bench_scenarios import (
    REPO_ROOT,
    UNREACHABLE_ENDPOINT,
    CleanupRecording,
    Recording,
    WebhookScenario,
    apply_environment,
    function_environment,
    measure_warm_cpu,
    record_cleanups,
    record_webhook_scenarios,
    webhook_scenarios,
)
from devtools.testkit.aws import RequestCounts
from devtools.testkit.deliveries import new_secret

DEFAULT_JSON: Final = REPO_ROOT / ".bench" / "bench-results.json"

# The design's budgets.
IMPORT_RATIO_MAX: Final = 1.30
CPU_RATIO_MAX: Final = 6.0
UNCHANGED_UPDATE_WRITES_MAX: Final = 1
UNCHANGED_UPDATE_ROUND_TRIPS_MAX: Final = 2
DUPLICATE_CONDITIONAL_WRITES_MAX: Final = 1
PEAK_RSS_MIB_MAX: Final = 100.0

CPU_SCENARIOS: Final = ("created", "updated_unchanged", "deleted")
PEAK_RSS_CLEANUP_SIZE: Final = 30


@dataclass(frozen=True)
class Effort:
    """How many samples to take; `--quick` is for the smoke test and proves only that everything runs."""

    import_repetitions: int = 15
    cpu_rounds: int = 15
    cpu_calls: int = 100
    http_users: int = 100
    http_updates_per_user: int = 4
    http_senders: int = 8


QUICK: Final = Effort(import_repetitions=1, cpu_rounds=2, cpu_calls=2, http_users=8, http_updates_per_user=1)


@dataclass
class Row:
    section: str
    metric: str
    measured: str
    budget: str = ""
    passed: bool | None = None
    values: dict[str, object] = field(default_factory=dict)

    @property
    def verdict(self) -> str:
        return {True: "pass", False: "FAIL", None: ""}[self.passed]


def machine() -> dict[str, object]:
    """The CPU model and core count, to name the machine a run comes from (never a path or host name)."""
    model = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "system": f"{platform.system()} {platform.machine()}",
    }


# ---- rows ----------------------------------------------------------------------------------------------------------


def cold_start_rows(environment: dict[str, str], effort: Effort) -> list[Row]:
    """The budget is judged in the project's environment, where the design measured it. Two deployed layouts are
    shown beside it: their floor is cheaper (no awscrt or pyOpenSSL for botocore to pick up), and a plain
    `sam build` artifact, which has no bytecode, compiles the layer at every cold start."""
    rows = []
    # A fresh directory per run: a concurrent run (the smoke test of a `make test`) must not swap files under us.
    with tempfile.TemporaryDirectory(prefix="bench-deployed-") as scratch:
        settings = (
            (project_setting(), True),
            (deployed_setting(Path(scratch), bytecode=True), False),
            (deployed_setting(Path(scratch), bytecode=False), False),
        )
        measured = [
            (setting, judged, measure_import_times(environment, effort.import_repetitions, setting))
            for setting, judged in settings
        ]
    for setting, judged, times in measured:
        section = f"cold start, {setting.label}"
        floor = times.median_ms("boto3")
        rows.append(
            Row(
                section,
                "import boto3 alone (floor)",
                f"{floor:.1f} ms",
                values={"median_ms": floor, "samples_ms": times.samples_ms["boto3"]},
            )
        )
        for target, title in (("webhook", "import webhook app"), ("stream", "import stream app")):
            ratio = times.ratio(target)
            rows.append(
                Row(
                    section,
                    title,
                    f"{times.median_ms(target):.1f} ms = {ratio:.2f}x boto3",
                    f"<= {IMPORT_RATIO_MAX:.2f}x" if judged else "",
                    ratio <= IMPORT_RATIO_MAX if judged else None,
                    {"median_ms": times.median_ms(target), "ratio": ratio, "samples_ms": times.samples_ms[target]},
                )
            )
    return rows


def cpu_rows(
    scenarios: dict[str, WebhookScenario], recordings: dict[str, Recording], secret: str, effort: Effort
) -> list[Row]:
    rows = []
    for key in CPU_SCENARIOS:
        result = measure_warm_cpu(
            scenarios[key], recordings[key], secret, rounds=effort.cpu_rounds, calls=effort.cpu_calls
        )
        rows.append(
            Row(
                "warm CPU per event",
                scenarios[key].title,
                f"{result.handler_us:.0f} us (DynamoDB client {result.client_us:.0f} us) "
                f"vs floor {result.floor_us:.0f} us = {result.ratio:.1f}x",
                f"<= {CPU_RATIO_MAX:.0f}x floor",
                result.ratio <= CPU_RATIO_MAX,
                asdict(result) | {"ratio": result.ratio},
            )
        )
    return rows


def _count(number: int, noun: str, plural: str = "") -> str:
    return f"{number} {noun}" if number == 1 else f"{number} {plural or noun + 's'}"


def _requests_text(counts: RequestCounts) -> str:
    return (
        f"{_count(counts.requests, 'request')}, {_count(counts.round_trips, 'round trip')}, "
        f"{_count(counts.writes, 'write')} ({counts.conditional_writes} conditional)"
    )


def dynamodb_rows(scenarios: dict[str, WebhookScenario], recordings: dict[str, Recording]) -> list[Row]:
    rows = []
    for key, scenario in scenarios.items():
        counts = recordings[key].counts
        budget, passed = "", None
        if key == "updated_unchanged":
            budget = f"<= {UNCHANGED_UPDATE_WRITES_MAX} write, <= {UNCHANGED_UPDATE_ROUND_TRIPS_MAX} round trips"
            passed = (
                counts.writes <= UNCHANGED_UPDATE_WRITES_MAX and counts.round_trips <= UNCHANGED_UPDATE_ROUND_TRIPS_MAX
            )
        elif key.endswith("_duplicate"):
            budget = f"<= {DUPLICATE_CONDITIONAL_WRITES_MAX} conditional write, no other write"
            passed = (
                counts.conditional_writes <= DUPLICATE_CONDITIONAL_WRITES_MAX
                and counts.writes == counts.conditional_writes
            )
        rows.append(Row("DynamoDB per event", scenario.title, _requests_text(counts), budget, passed, asdict(counts)))
    return rows


def cleanup_rows(cleanups: list[CleanupRecording]) -> list[Row]:
    rows = []
    for cleanup in cleanups:
        queries = cleanup.counts.by_operation.get("Query", 0)
        # The design's budget with hardening's choice: one conditional DeleteItem per connection row.
        deletes = cleanup.counts.by_operation.get("DeleteItem", 0)
        others = cleanup.counts.requests - queries - deletes
        allowed = cleanup.connections
        rows.append(
            Row(
                "stream cleanup",
                f"user deleted with {_count(cleanup.connections, 'connection')}",
                f"{_count(queries, 'query', 'queries')} + {_count(deletes, 'conditional delete')}"
                + (f" + {others} other" if others else ""),
                f"1 query + {_count(allowed, 'conditional delete')}",
                queries == 1 and deletes == allowed and others == 0,
                asdict(cleanup.counts),
            )
        )
    return rows


def fresh_process_rows(
    scenarios: dict[str, WebhookScenario],
    recordings: dict[str, Recording],
    cleanups: list[CleanupRecording],
    environment: dict[str, str],
    secret: str,
) -> list[Row]:
    child_environment = {**environment, "AWS_ENDPOINT_URL_DYNAMODB": UNREACHABLE_ENDPOINT}
    created = scenarios["created"]
    cleanup = next(item for item in cleanups if item.connections == PEAK_RSS_CLEANUP_SIZE)
    cases = (
        ("webhook", created.title, created.event(secret), recordings["created"].responses),
        ("stream", f"cleanup of {cleanup.connections} connections", cleanup.event, cleanup.responses),
    )
    memory_rows, cpu_rows = [], []
    for function, what, event, responses in cases:
        process = measure_fresh_process(function, event, [item.to_json() for item in responses], child_environment)
        mib = process.max_rss_kib / 1024
        memory_rows.append(
            Row(
                "peak memory",
                f"{function} app: import + one {what}",
                f"{mib:.1f} MiB max RSS",
                f"<= {PEAK_RSS_MIB_MAX:.0f} MiB",
                mib <= PEAK_RSS_MIB_MAX,
                asdict(process),
            )
        )
        cpu_rows.append(
            Row(
                "cold start CPU",
                f"{function} app: import, then first event (builds the client)",
                f"{process.import_cpu_ms:.0f} ms + {process.first_event_cpu_ms:.0f} ms",
                values=asdict(process),
            )
        )
    return cpu_rows + memory_rows


def http_rows(effort: Effort) -> list[Row]:
    results = measure_throughput(
        users=effort.http_users, updates_per_user=effort.http_updates_per_user, senders=effort.http_senders
    )
    return [
        Row(
            "local stack",
            f"{result.title}: {result.events} over HTTP, {result.senders} senders",
            f"{result.events_per_second:.0f} events/s; p50 {result.p50_ms:.0f} ms, p99 {result.p99_ms:.0f} ms",
            "every delivery answered 200",
            result.failures == 0,
            asdict(result),
        )
        for result in results
    ]


# ---- output --------------------------------------------------------------------------------------------------------


def render(rows: list[Row], about: dict[str, object]) -> str:
    headers = ("section", "metric", "measured", "budget", "result")
    cells = [(row.section, row.metric, row.measured, row.budget, row.verdict) for row in rows]
    widths = [max(len(line[column]) for line in [headers, *cells]) for column in range(len(headers))]

    def line(values: tuple[str, ...]) -> str:
        return " | ".join(value.ljust(width) for value, width in zip(values, widths, strict=True)).rstrip()

    title = f"Benchmark: {about['cpu']}, {about['cores']} cores, Python {about['python']}"
    separator = "-+-".join("-" * width for width in widths)
    failed = [row for row in rows if row.passed is False]
    verdict = f"{len(failed)} budget(s) missed" if failed else "every budget holds"
    return "\n".join([title, line(headers), separator, *(line(cell) for cell in cells), verdict])


@contextlib.contextmanager
def _quiet_stdout() -> Iterator[TextIO]:
    """The handlers log every event to stdout (CloudWatch on Lambda); send that to /dev/null, keep ours."""
    real = sys.stdout
    with open(os.devnull, "w", encoding="utf-8") as sink, contextlib.redirect_stdout(sink):
        yield real


def run(effort: Effort, *, skip_http: bool) -> tuple[list[Row], dict[str, object]]:
    secret = new_secret()
    environment = function_environment(secret)
    apply_environment(environment)
    rows: list[Row] = []
    rows += cold_start_rows(environment, effort)
    ordered = webhook_scenarios()
    scenarios = {scenario.key: scenario for scenario in ordered}
    recordings = record_webhook_scenarios(ordered, secret)
    cleanups = record_cleanups()
    rows += cpu_rows(scenarios, recordings, secret, effort)
    rows += dynamodb_rows(scenarios, recordings)
    rows += cleanup_rows(cleanups)
    rows += fresh_process_rows(scenarios, recordings, cleanups, environment, secret)
    if not skip_http:
        rows += http_rows(effort)
    about = machine() | {"effort": asdict(effort), "finished_at": datetime.now(tz=UTC).isoformat(timespec="seconds")}
    return rows, about


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devtools.bench", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny repetition counts: proves it runs, measures nothing")
    parser.add_argument("--json", type=Path, default=DEFAULT_JSON, help=f"where to write the results ({DEFAULT_JSON})")
    parser.add_argument("--skip-http", action="store_true", help="leave out the local stack's throughput")
    args = parser.parse_args(argv)
    with _quiet_stdout() as out:
        rows, about = run(QUICK if args.quick else Effort(), skip_http=args.skip_http)
    print(render(rows, about), file=out)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    document = {"machine": about, "rows": [asdict(row) | {"result": row.verdict} for row in rows]}
    args.json.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    shown = args.json.relative_to(REPO_ROOT) if args.json.is_relative_to(REPO_ROOT) else args.json
    print(f"results written to {shown}")
    return 1 if any(row.passed is False for row in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
