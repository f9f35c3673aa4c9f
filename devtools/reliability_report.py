"""`make reliability`: run the reliability suite with a bigger budget and report its figures.

The suite counts what it tries (inputs, faults, races, replays, rows compared and lost) and writes the counts to
the JSON file named by RELIABILITY_FIGURES; this command runs it, reads that file and pytest's own JUnit report,
and writes the figures section to .reliability/report.md (untracked). Only `--publish` (`make reliability
PUBLISH=1`) replaces the section between the figure markers of the tracked docs/reliability.md, so a quick run with
few examples never overwrites the published figures. A failing run writes nothing.
Run from the repository root: `.venv/bin/python -m devtools.reliability_report [--examples N] [--publish]`.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Final
from xml.etree import ElementTree

REPO_ROOT: Final = Path(__file__).resolve().parent.parent
DOCUMENT: Final = REPO_ROOT / "docs" / "reliability.md"
REPORT: Final = REPO_ROOT / ".reliability" / "report.md"
SUITE: Final = "tests/reliability"
BEGIN: Final = "<!-- figures:begin (written by `make reliability`; edits here are overwritten) -->"
END: Final = "<!-- figures:end -->"
DEFAULT_EXAMPLES: Final = 2000


@dataclass(frozen=True)
class Run:
    figures: dict[str, int]
    examples: int
    tests: int
    failures: int
    skipped: int
    seconds: float
    exit_status: int


def run_suite(examples: int) -> Run:
    with tempfile.TemporaryDirectory() as scratch:
        figures_path, junit_path = Path(scratch) / "figures.json", Path(scratch) / "junit.xml"
        environment = {**os.environ, "RELIABILITY_EXAMPLES": str(examples), "RELIABILITY_FIGURES": str(figures_path)}
        command = [sys.executable, "-m", "pytest", SUITE, "-q", "-p", "no:cacheprovider", f"--junitxml={junit_path}"]
        # A fixed command: this interpreter running the repository's own test suite.
        status = subprocess.run(command, cwd=REPO_ROOT, env=environment, check=False).returncode  # noqa: S603
        written = json.loads(figures_path.read_text(encoding="utf-8")) if figures_path.exists() else {}
        # Our own pytest run wrote this report a moment ago: not untrusted input.
        suite = ElementTree.parse(junit_path).getroot().find("testsuite") if junit_path.exists() else None  # noqa: S314
    attributes = suite.attrib if suite is not None else {}
    return Run(
        figures={str(name): int(value) for name, value in written.get("figures", {}).items()},
        examples=int(written.get("examples_per_property", examples)),
        tests=int(attributes.get("tests", 0)),
        failures=int(attributes.get("failures", 0)) + int(attributes.get("errors", 0)),
        skipped=int(attributes.get("skipped", 0)),
        seconds=float(attributes.get("time", 0.0)),
        exit_status=status,
    )


def commit() -> str:
    def git(*arguments: str) -> str:
        result = subprocess.run(["git", *arguments], cwd=REPO_ROOT, capture_output=True, text=True, check=False)  # noqa: S603, S607
        return result.stdout.strip()

    head = git("rev-parse", "--short", "HEAD") or "unknown"
    return head + (" with uncommitted changes" if git("status", "--porcelain", "--untracked-files=no") else "")


def _sum(figures: dict[str, int], prefix: str) -> dict[str, int]:
    return {name.removeprefix(prefix): value for name, value in sorted(figures.items()) if name.startswith(prefix)}


def render(run: Run) -> str:
    """The figures section: one table of headline numbers, then the breakdowns."""
    f = run.figures
    statuses = ", ".join(f"{code}: {n}" for code, n in _sum(f, "bad_input.status.").items())
    kinds = ", ".join(
        f"{kind} {n}" for kind, n in _sum(f, "bad_input.").items() if "." not in kind and kind != "requests"
    )
    rows = [
        ("Inputs tried (bad input, through the real handler)", f.get("bad_input.requests", 0)),
        ("DynamoDB faults injected", f.get("faults.injected", 0)),
        ("Fault runs (each compared with an undisturbed run)", f.get("faults.runs", 0)),
        ("Svix redeliveries after a 5xx", f.get("faults.redeliveries", 0) + f.get("races.svix_redeliveries", 0)),
        ("Poison stream records", f.get("stream.poison_records", 0)),
        ("Race stories run", f.get("races.stories", 0)),
        ("Concurrent deliveries", f.get("races.deliveries", 0)),
        ("Lost races (conditional writes refused)", f.get("races.lock_conflicts", 0)),
        ("Events replayed after their story settled", f.get("replays.events", 0)),
        ("Rows compared with the expected table", f.get("rows.compared", 0)),
        ("**Rows lost or wrong**", f.get("rows.lost", 0)),
    ]
    lines = [
        BEGIN,
        "",
        f"Last run: {datetime.now(tz=UTC):%Y-%m-%d %H:%M} UTC, commit {commit()}, Python {platform.python_version()}, "
        f"{os.cpu_count()} cores; {run.examples} examples per property test (`RELIABILITY_EXAMPLES`); "
        f"{run.tests} tests, {run.failures} failed, {run.skipped} skipped, {run.seconds:.0f} s.",
        "",
        "| figure | count |",
        "|---|---:|",
        *(f"| {label} | {value:,} |" for label, value in rows),
        "",
        f"- Inputs by kind: {kinds}.",
        f"- Answers to bad input by status: {statuses} (never a 5xx but the 500 of a deliberately misconfigured "
        "secret; never a 2xx without a valid signature).",
        f"- Stream function: {f.get('stream.invocations', 0):,} invocations, {f.get('stream.retries', 0):,} "
        f"retries, {f.get('stream.batches_dead_lettered', 0):,} batches sent to the on-failure queue.",
        f"- Races: {f.get('races.users_checked', 0):,} users checked after their story; "
        f"{f.get('races.status.503', 0):,} deliveries answered 503 under contention and were redelivered.",
        f"- Security: {f.get('security.log_bytes_scanned', 0):,} bytes of log output from "
        f"{f.get('security.requests_logged', 0):,} requests searched; {f.get('security.iam_actions_checked', 0):,} "
        "IAM actions matched against observed calls.",
        f"- Worst case of one DynamoDB call under the retry configuration: "
        f"{f.get('retry_budget.worst_call_ms', 0) / 1000:.1f} s (Svix waits 15 s).",
        "",
        END,
    ]
    return "\n".join(lines)


def rewrite(document: Path, section: str) -> None:
    text = document.read_text(encoding="utf-8")
    start, end = text.index(BEGIN), text.index(END) + len(END)
    document.write_text(text[:start] + section + text[end:], encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--examples", type=int, default=DEFAULT_EXAMPLES, help="examples per property test")
    parser.add_argument("--dry-run", action="store_true", help="print the figures, write no file")
    parser.add_argument(
        "--publish", action="store_true", help=f"rewrite the figures in {DOCUMENT.relative_to(REPO_ROOT)} (tracked)"
    )
    arguments = parser.parse_args(argv)
    run = run_suite(arguments.examples)
    section = render(run)
    print(section)
    if run.exit_status != 0 or run.failures or not run.figures:
        print(f"the suite failed (exit {run.exit_status}); no report written", file=sys.stderr)
        return run.exit_status or 1
    if arguments.dry_run:
        return 0
    if arguments.publish:
        rewrite(DOCUMENT, section)
        print(f"figures written to {DOCUMENT.relative_to(REPO_ROOT)}")
        return 0
    REPORT.parent.mkdir(exist_ok=True)
    REPORT.write_text(f"# Reliability run\n\n{section}\n", encoding="utf-8")
    print(f"figures written to {REPORT.relative_to(REPO_ROOT)} (PUBLISH=1 writes them to docs/reliability.md)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
