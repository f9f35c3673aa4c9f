"""`make bench`: measure cold start, warm CPU, DynamoDB requests and capacity, peak memory and local throughput.

Prints one table with each budget's pass/miss and writes it as JSON. Exits 0 when it ran; with `--check`
(`make bench-check`) it exits 1 when a budget is missed. The budgets are B1-B4 of the design's "Budgets" section.
Separate from the tests on purpose: timings are never asserted by `make test`.
Run from the repository root: `python -m devtools.bench [--size quick|default|full] [--check] [--json PATH]`.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Final, TextIO

from devtools.bench_budgets import Instructions, measure_capacity, measure_instructions, valgrind_available
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
from devtools.bench_warm import EXTRA_EVENTS
from devtools.testkit.aws import RequestCounts
from devtools.testkit.deliveries import new_secret

DEFAULT_JSON: Final = REPO_ROOT / ".bench" / "bench-results.json"

# The design's budgets (restated: B1-B4).
COLD_START_INSTRUCTIONS_MAX: Final = 1.15  # B1, webhook over the floor process and stream import over import boto3
ROUND_TRIPS_MAX: Final = {  # B3
    "created": 1,
    "updated_unchanged": 1,
    "updated_duplicate": 1,
    "updated_changed": 2,  # the refused guess returns the profile, whose copy of the rows plans the transaction
    "deleted": 1,
    "deleted_duplicate": 1,
}
CHANGED_ROWS: Final = {
    "created": 3,
    "updated_unchanged": 0,
    "updated_duplicate": 0,
    "updated_changed": 1,
    "deleted": 1,
    "deleted_duplicate": 0,
}
WARM_INSTRUCTIONS_MAX: Final = 2.5  # B2, per event without the SDK over verify + json.loads + log line + EMF blob
READ_UNITS_MAX: Final = 1.0  # B4
UNCHANGED_UPDATE_UNITS_MAX: Final = 1.0
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
    reconcile_users: int = 10_000
    reconcile_backfill_users: int = 1_000


QUICK: Final = Effort(
    import_repetitions=1,
    cpu_rounds=2,
    cpu_calls=2,
    http_users=8,
    http_updates_per_user=1,
    reconcile_users=20,
    reconcile_backfill_users=10,
)
# BENCH_SIZE: `default` takes about two minutes on two cores, `full` the sample counts above. Only the timed rows
# (no budget) and the reconciliation's sizes change with it; the counted rows (B1-B4, cleanup, memory) never do.
SIZES: Final = {
    "quick": QUICK,
    "default": Effort(
        import_repetitions=3,
        cpu_rounds=5,
        cpu_calls=50,
        http_users=20,
        http_updates_per_user=2,
        reconcile_users=500,
        reconcile_backfill_users=50,
    ),
    "full": Effort(),
}


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


_STARTED = time.monotonic()


def progress(message: str) -> None:
    """One line per step on stderr with the seconds since the start, so a run of minutes shows where it is."""
    print(f"bench: {message} [{time.monotonic() - _STARTED:.0f} s]", file=sys.stderr, flush=True)


def cold_start_rows(environment: dict[str, str], effort: Effort) -> list[Row]:
    """Cross-check in wall time (no budget): import times in the project's environment and in two deployed layouts,
    with the bytecode a build now ships and without it (what plain `sam build` shipped before BuildMethod makefile)."""
    rows = []
    # A fresh directory per run: a concurrent run (the smoke test of a `make test`) must not swap files under us.
    with tempfile.TemporaryDirectory(prefix="bench-deployed-") as scratch:
        settings = (
            project_setting(),
            deployed_setting(Path(scratch), bytecode=True),
            deployed_setting(Path(scratch), bytecode=False),
        )
        measured = []
        for setting in settings:
            progress(f"import times, {setting.label}")
            measured.append((setting, measure_import_times(environment, effort.import_repetitions, setting)))
    for setting, times in measured:
        section = f"cold start, {setting.label}"
        floor = times.median_ms("boto3")
        values = {"median_ms": floor, "samples_ms": times.samples_ms["boto3"]}
        rows.append(Row(section, "import boto3 alone (floor)", f"{floor:.1f} ms", values=values))
        for target, title in (("webhook", "import webhook app"), ("stream", "import stream app")):
            ratio = times.ratio(target)
            rows.append(
                Row(
                    section,
                    title,
                    f"{times.median_ms(target):.1f} ms = {ratio:.2f}x boto3",
                    values={
                        "median_ms": times.median_ms(target),
                        "ratio": ratio,
                        "samples_ms": times.samples_ms[target],
                    },
                )
            )
    return rows


def measure_instruction_counts(
    scenarios: dict[str, WebhookScenario], recordings: dict[str, Recording], environment: dict[str, str], secret: str
) -> Instructions | None:
    """B1 and B2 under valgrind (three processes, two at a time); None without valgrind."""
    if not valgrind_available():
        return None
    child_environment = {**environment, "AWS_ENDPOINT_URL_DYNAMODB": UNREACHABLE_ENDPOINT}
    cold = {
        "event": scenarios["created"].event(secret),
        "responses": [item.to_json() for item in recordings["created"].responses],
        "put": recordings["deleted"].responses[0].to_json(),
    }
    events = {key: scenarios[key].event(secret) for key in CPU_SCENARIOS}
    calls = {key: recordings[key].calls for key in CPU_SCENARIOS}
    return measure_instructions(cold, events, calls, child_environment)


def instruction_rows(measured: Instructions | None) -> list[Row]:
    """B1: fresh processes counted in instructions by valgrind."""
    section = "B1 cold start, instructions"
    if measured is None:
        return [Row(section, "webhook and stream", "not measured: valgrind is not installed", "<= 1.15x", False)]
    counts = measured.cold_start
    budget = f"<= {COLD_START_INSTRUCTIONS_MAX:.2f}x"
    values = asdict(counts)
    return [
        Row(section, "floor: import boto3, client, one put_item", f"{counts.floor / 1e6:.0f} M", values=values),
        Row(
            section,
            "webhook: import, init, first user.created (3 accounts)",
            f"{counts.webhook / 1e6:.0f} M = {counts.webhook_ratio:.3f}x floor",
            budget,
            counts.webhook_ratio <= COLD_START_INSTRUCTIONS_MAX,
            values,
        ),
        Row(section, "import boto3 alone", f"{counts.boto3_import / 1e6:.0f} M", values=values),
        Row(
            section,
            "stream: import",
            f"{counts.stream_import / 1e6:.0f} M = {counts.stream_ratio:.3f}x import boto3",
            budget,
            counts.stream_ratio <= COLD_START_INSTRUCTIONS_MAX,
            values,
        ),
    ]


def warm_instruction_rows(scenarios: dict[str, WebhookScenario], measured: Instructions | None) -> list[Row]:
    """B2: instructions per warm event with `_make_api_call` answered from the recording (no SDK work)."""
    section = "B2 warm, instructions per event"
    budget = f"<= {WARM_INSTRUCTIONS_MAX:g}x floor"
    if measured is None:
        return [Row(section, "three events", "not measured: valgrind is not installed", budget, False)]
    return [
        Row(
            section,
            scenarios[key].title,
            f"{result.handler / 1e3:.0f} K vs floor {result.floor / 1e3:.0f} K = {result.ratio:.2f}x",
            budget,
            result.ratio <= WARM_INSTRUCTIONS_MAX,
            asdict(result) | {"ratio": result.ratio},
        )
        for key, result in measured.warm.items()
    ]


def cpu_rows(
    scenarios: dict[str, WebhookScenario], recordings: dict[str, Recording], secret: str, effort: Effort
) -> list[Row]:
    """Cross-check in CPU time (no budget): B2 is stated in instructions without the SDK (docs/performance.md)."""
    rows = []
    for key in CPU_SCENARIOS:
        progress(f"warm CPU, {scenarios[key].title}")
        result = measure_warm_cpu(
            scenarios[key], recordings[key], secret, rounds=effort.cpu_rounds, calls=effort.cpu_calls
        )
        rows.append(
            Row(
                "warm CPU per event",
                scenarios[key].title,
                f"{result.handler_us:.0f} us (DynamoDB client {result.client_us:.0f} us) "
                f"vs floor {result.floor_us:.0f} us = {result.ratio:.1f}x",
                values=asdict(result) | {"ratio": result.ratio},
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
    """B3: round trips per event, counted on the handler's client against moto."""
    rows = []
    for key, scenario in scenarios.items():
        counts = recordings[key].counts
        allowed = ROUND_TRIPS_MAX.get(key)
        budget = "" if allowed is None else f"<= {_count(allowed, 'round trip')}"
        passed = None if allowed is None else counts.round_trips <= allowed
        rows.append(
            Row("B3 DynamoDB per event", scenario.title, _requests_text(counts), budget, passed, asdict(counts))
        )
    return rows


def capacity_rows(scenarios: dict[str, WebhookScenario], secret: str) -> list[Row]:
    """B4: capacity units per event on DynamoDB Local (ReturnConsumedCapacity)."""
    section = "B4 capacity, DynamoDB Local"
    progress("B4: the scenarios on DynamoDB Local")
    try:
        measured = measure_capacity(list(scenarios.values()), secret)
    except RuntimeError as unavailable:  # no Java or npm: say so in the table, a budget not shown to hold
        return [Row(section, "every scenario", f"not measured: {unavailable}"[:120], "see docs", False)]
    rows = []
    for key, scenario in scenarios.items():
        capacity = measured[key]
        writes_max = 2 * (CHANGED_ROWS.get(key, 0) + 1)
        budget = f"W <= {writes_max}, R <= {READ_UNITS_MAX:g}"
        passed = capacity.write_units <= writes_max and capacity.read_units <= READ_UNITS_MAX
        if key == "updated_unchanged":
            budget += f", total <= {UNCHANGED_UPDATE_UNITS_MAX:g}"
            passed = passed and capacity.total <= UNCHANGED_UPDATE_UNITS_MAX
        refused = f" ({_count(capacity.refused_writes, 'refused write')})" if capacity.refused_writes else ""
        text = f"R {capacity.read_units:g}, W {capacity.write_units:g}{refused}"
        rows.append(Row(section, scenario.title, text, budget, passed, asdict(capacity)))
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


def reconcile_rows(effort: Effort) -> list[Row]:
    """Reconciliation's budgets (docs/reconciliation.md), from `devtools.bench_reconcile` at this run's size."""
    from devtools.bench_reconcile import run_benchmark  # noqa: PLC0415 - starts its own moto server and fake Clerk

    users, backfill = effort.reconcile_users, effort.reconcile_backfill_users
    progress(f"reconciliation: backfill of {backfill} users, no-change runs over {backfill} and {users}")
    figures = run_benchmark(users, backfill)
    large = figures["noChangeLarge"]
    measured = (
        f"{large['summary']['clerkRequests']} Clerk calls, {large['dynamodbByOperation']}, "
        f"{large['usersPerSecond']} users/s"
    )
    return [
        Row("reconciliation", name, measured if index == 0 else "", "see docs/reconciliation.md", held, figures)
        for index, (name, held) in enumerate(figures["checks"].items())
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


def _counted_rows(
    scenarios: dict[str, WebhookScenario], recordings: dict[str, Recording], environment: dict[str, str], secret: str
) -> tuple[list[Row], list[CleanupRecording]]:
    """B1-B4 and the stream cleanups: figures counted, not timed, so valgrind's runs go on beside the rest."""
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="bench-valgrind") as background:
        counting = background.submit(measure_instruction_counts, scenarios, recordings, environment, secret)
        if valgrind_available():
            progress(f"B1 and B2: three processes under valgrind in the background, {EXTRA_EVENTS} events per phase")
            counting.add_done_callback(lambda _: progress("B1 and B2: valgrind's runs are done"))
        rows = dynamodb_rows(scenarios, recordings) + capacity_rows(scenarios, secret)
        progress("stream cleanups of 1, 30 and 300 connections")
        cleanups = record_cleanups()
        rows += cleanup_rows(cleanups)
        measured = counting.result()
    return instruction_rows(measured) + warm_instruction_rows(scenarios, measured) + rows, cleanups


def run(effort: Effort, *, skip_http: bool) -> tuple[list[Row], dict[str, object]]:
    secret = new_secret()
    environment = function_environment(secret)
    apply_environment(environment)
    ordered = webhook_scenarios()
    scenarios = {scenario.key: scenario for scenario in ordered}
    progress("recording the scenarios against moto (B3 counts)")
    recordings = record_webhook_scenarios(ordered, secret)
    rows, cleanups = _counted_rows(scenarios, recordings, environment, secret)
    # Timed rows from here on, with no valgrind run beside them.
    progress("peak memory of fresh processes")
    rows += fresh_process_rows(scenarios, recordings, cleanups, environment, secret)
    rows += cold_start_rows(environment, effort)
    rows += cpu_rows(scenarios, recordings, secret, effort)
    if not skip_http:
        progress("local stack over HTTP")
        rows += http_rows(effort)
    rows += reconcile_rows(effort)
    progress("done")
    about = machine() | {"effort": asdict(effort), "finished_at": datetime.now(tz=UTC).isoformat(timespec="seconds")}
    return rows, about


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devtools.bench", description=__doc__.splitlines()[0])
    parser.add_argument("--size", choices=sorted(SIZES), default="default", help="sample counts (BENCH_SIZE)")
    parser.add_argument("--quick", action="store_true", help="same as --size quick: proves it runs, measures little")
    parser.add_argument("--check", action="store_true", help="exit 1 when a budget is missed (make bench-check)")
    parser.add_argument("--json", type=Path, default=DEFAULT_JSON, help=f"where to write the results ({DEFAULT_JSON})")
    parser.add_argument("--skip-http", action="store_true", help="leave out the local stack's throughput")
    args = parser.parse_args(argv)
    with _quiet_stdout() as out:
        rows, about = run(SIZES["quick" if args.quick else args.size], skip_http=args.skip_http)
    print(render(rows, about), file=out)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    document = {"machine": about, "rows": [asdict(row) | {"result": row.verdict} for row in rows]}
    args.json.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    shown = args.json.relative_to(REPO_ROOT) if args.json.is_relative_to(REPO_ROOT) else args.json
    print(f"results written to {shown}")
    missed = any(row.passed is False for row in rows)
    return 1 if args.check and missed else 0


if __name__ == "__main__":
    sys.exit(main())
