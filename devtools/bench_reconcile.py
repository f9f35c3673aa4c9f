"""The reconciliation benchmark: `make bench-reconcile` (`python -m devtools.bench_reconcile [--users N]`).

Seeded users on the fake Clerk Backend API, moto in server mode for DynamoDB, and `clerk-connections reconcile
--json` in its own process, as an operator runs it: a first backfill of an empty table and a run with nothing to
change (`--backfill-users`, default 1,000), then a run with nothing to change over 10,000 users (`--users`). It
reports users/s, Clerk calls, DynamoDB requests by operation (counted as moto serves them) and per user, and the
command's peak RSS, and checks them against the budgets of docs/reconciliation.md.

moto spends about a quarter of a second of CPU evaluating the update expressions of one user's snapshot
transaction, so a backfill of 10,000 users through it would take most of an hour on these machines; the 10,000-user
no-change run therefore starts from a table where users beyond the backfill have only the profile item a backfill
would leave (their version), which is all a no-change run reads.

Only the standard library is imported at the top: the command's child process (`cli-child`) must weigh what the
command weighs, nothing of the benchmark.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, Final

REPO_ROOT: Final = Path(__file__).resolve().parents[1]
DEFAULT_USERS: Final = 10_000
DEFAULT_BACKFILL_USERS: Final = 1_000
MAX_CLI_RSS_MIB: Final = 200
WRITE_OPERATIONS: Final = frozenset(
    {"put_item", "update_item", "delete_item", "transact_write_items", "batch_write_item"}
)
COUNTED: Final = (*WRITE_OPERATIONS, "get_item", "query", "scan", "batch_get_item", "batch_write_item")


@contextlib.contextmanager
def _counting_backend() -> Iterator[Counter[str]]:
    """Count the DynamoDB operations moto's backend serves, and skip its whole-table copy per transaction.

    moto deep-copies every table a transaction touches, to roll back a cancelled one: that makes a backfill of N
    users cost O(N^2) here and nothing like DynamoDB. No transaction of the benchmark may be cancelled (it checks
    that every user was written), so the copy is skipped while it runs."""
    from moto.dynamodb import models  # noqa: PLC0415
    from moto.dynamodb.models.table import Table  # noqa: PLC0415
    from moto.dynamodb.responses import DynamoHandler  # noqa: PLC0415

    counts: Counter[str] = Counter()
    backend_class = DynamoHandler  # one call per API request served
    originals = {name: getattr(backend_class, name) for name in COUNTED}
    original_deepcopy = copy.deepcopy

    def counted(name: str, method: Any) -> Any:
        def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
            counts[name] += 1
            return method(self, *args, **kwargs)

        return wrapper

    class _NoTableCopy:
        @staticmethod
        def deepcopy(value: Any, memo: Any = None) -> Any:
            return value if isinstance(value, Table) else original_deepcopy(value, memo)

    for name, method in originals.items():
        setattr(backend_class, name, counted(name, method))
    setattr(models, "copy", _NoTableCopy)  # noqa: B010 - moto's module-level `copy`, swapped while the bench runs
    try:
        yield counts
    finally:
        for name, method in originals.items():
            setattr(backend_class, name, method)
        setattr(models, "copy", copy)  # noqa: B010


def _run_command(environment: Mapping[str, str]) -> dict[str, Any]:
    """`clerk-connections reconcile --json` in a child process; its summary and its own peak RSS."""
    with tempfile.TemporaryDirectory(prefix="bench-reconcile-") as scratch:
        rss_path = Path(scratch) / "rss"
        started = time.monotonic()
        completed = subprocess.run(  # noqa: S603 - our interpreter running our own module
            [sys.executable, "-m", "devtools.bench_reconcile", "cli-child", str(rss_path), "reconcile", "--json"],
            env={**environment, "PYTHONPATH": f"{REPO_ROOT}:{REPO_ROOT / 'layers/shared'}"},
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            check=False,
            timeout=3600,
        )
        elapsed = time.monotonic() - started
        if completed.returncode != 0:
            raise RuntimeError(f"reconcile failed ({completed.returncode}): {completed.stderr[-2000:]}")
        summary: dict[str, Any] = json.loads(completed.stdout.strip().splitlines()[-1])
        summary["processSeconds"] = round(elapsed, 2)
        summary["peakRssMiB"] = round(int(rss_path.read_text(encoding="utf-8")) / 1024, 1)
        return summary


def _phase(counts: Counter[str], environment: Mapping[str, str], users: int) -> dict[str, Any]:
    counts.clear()
    summary = _run_command(environment)
    by_operation = {name: counts[name] for name in COUNTED if counts[name]}
    requests = sum(by_operation.values())
    return {
        "summary": summary,
        "usersPerSecond": round(users / max(summary["durationSeconds"], 1e-9), 1),
        "dynamodbByOperation": by_operation,
        "dynamodbWrites": sum(counts[name] for name in WRITE_OPERATIONS),
        "dynamodbRequestsPerUser": round(requests / users, 3),
    }


def run_benchmark(users: int = DEFAULT_USERS, backfill_users: int = DEFAULT_BACKFILL_USERS) -> dict[str, Any]:
    """The figures of a backfill, a no-change run, and a no-change run over `users`, with the budget checks."""
    import boto3  # noqa: PLC0415
    from moto.server import ThreadedMotoServer  # noqa: PLC0415

    from devtools.fake_clerk_api import FakeClerkApi, FakeClerkUsers, seed_user  # noqa: PLC0415
    from devtools.testkit.aws import DUMMY_AWS_ENVIRONMENT  # noqa: PLC0415
    from devtools.testkit.template import create_connections_table  # noqa: PLC0415

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    try:
        directory = FakeClerkUsers.seeded(backfill_users)
        with _counting_backend() as counts, FakeClerkApi(directory) as clerk:
            dynamodb = boto3.client(
                "dynamodb",
                endpoint_url=endpoint,
                region_name=DUMMY_AWS_ENVIRONMENT["AWS_DEFAULT_REGION"],
                aws_access_key_id="testing",
                aws_secret_access_key="testing",  # noqa: S106 - moto's dummy key
            )
            create_connections_table(dynamodb, "ConnectionsTable")
            environment = {
                **{name: value for name, value in os.environ.items() if not name.startswith("AWS_")},
                **DUMMY_AWS_ENVIRONMENT,
                "AWS_ENDPOINT_URL": endpoint,
                "TABLE_NAME": "ConnectionsTable",
                "CLERK_API_URL": clerk.url,
                "CLERK_SECRET_KEY": clerk.secret_key,
                "CLERK_API_MAX_REQUESTS_PER_10S": "90",
            }
            backfill = _phase(counts, environment, backfill_users)
            no_change = _phase(counts, environment, backfill_users)
            for index in range(backfill_users, users):
                directory.put(seed_user(index))
            _store_profiles(dynamodb, directory, range(backfill_users, users))
            large = _phase(counts, environment, users)
    finally:
        server.stop()
    checks = {
        **_checks(backfill_users, backfill, no_change),
        **{f"{name} ({users} users)": held for name, held in _checks(users, None, large).items()},
    }
    return {"backfill": backfill, "noChange": no_change, "noChangeLarge": large, "checks": checks}


def _store_profiles(dynamodb: Any, directory: Any, indices: range) -> None:
    """The profile items a backfill leaves for these seeded users (a no-change run reads nothing else)."""
    requests = [
        {
            "PutRequest": {
                "Item": {
                    "pk": {"S": f"USER#{user['id']}"},
                    "sk": {"S": "PROFILE"},
                    "userId": {"S": user["id"]},
                    "profileStatus": {"S": "active"},
                    "version": {"N": str(user["updated_at"])},
                }
            }
        }
        for user in (directory.users[f"user_seed_{index:06d}"] for index in indices)
    ]
    for start in range(0, len(requests), 25):
        dynamodb.batch_write_item(RequestItems={"ConnectionsTable": requests[start : start + 25]})


def _checks(users: int, backfill: dict[str, Any] | None, no_change: dict[str, Any]) -> dict[str, bool]:
    again = no_change["summary"]
    operations = no_change["dynamodbByOperation"]
    checks = {
        "no-change run: 0 writes to users' items (1 run record)": no_change["dynamodbWrites"] <= 1
        and again["usersUpdated"] == 0
        and again["usersUnchanged"] == users,
        "no-change run: BatchGetItem <= ceil(N/100)": operations.get("batch_get_item", 0) <= math.ceil(users / 100),
        "no-change run: Clerk calls <= ceil(N/500) + 1": again["clerkRequests"] <= math.ceil(users / 500) + 1,
        f"no-change run: CLI peak RSS <= {MAX_CLI_RSS_MIB} MiB": again["peakRssMiB"] <= MAX_CLI_RSS_MIB,
    }
    if backfill is not None:
        first, changed = backfill["summary"], backfill["dynamodbByOperation"]
        checks["backfill wrote every user"] = first["usersUpdated"] == users
        # Per changed user one Query and one transaction; the run record is the one extra write.
        checks["changed user: at most 1 Query and 1 write"] = (
            changed.get("query", 0) <= users and backfill["dynamodbWrites"] <= users + 1
        )
    return checks


def _cli_child(rss_path: str, arguments: list[str]) -> int:
    from social_connections import cli  # noqa: PLC0415

    code = cli.main(arguments)
    status = Path("/proc/self/status").read_text(encoding="utf-8")
    peak = next((int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM:")), 0)
    Path(rss_path).write_text(str(peak), encoding="utf-8")
    return code


def main(argv: list[str] | None = None) -> int:
    arguments = sys.argv[1:] if argv is None else argv
    if arguments[:1] == ["cli-child"]:
        return _cli_child(arguments[1], arguments[2:])
    parser = argparse.ArgumentParser(prog="python -m devtools.bench_reconcile", description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=DEFAULT_USERS, help="users of the large no-change run")
    parser.add_argument("--backfill-users", type=int, default=DEFAULT_BACKFILL_USERS, help="users of the backfill")
    parser.add_argument("--output", type=Path, default=REPO_ROOT / ".bench" / "reconcile.json")
    args = parser.parse_args(arguments)
    figures = run_benchmark(args.users, args.backfill_users)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(figures, indent=2))
    failed = [name for name, held in figures["checks"].items() if not held]
    print("all budgets held" if not failed else f"budgets missed: {failed}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
