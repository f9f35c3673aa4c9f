"""The JSON lines a function wrote to stdout (captured by pytest's capsys/capfd): log lines and EMF blobs apart."""

from __future__ import annotations

import json
from typing import Any


def json_lines(text: str) -> list[dict[str, Any]]:
    """Every line of `text` that is a JSON object, in order (anything else a test printed is skipped)."""
    found = []
    for line in text.splitlines():
        if line.startswith("{"):
            try:
                value = json.loads(line)
            except ValueError:
                continue
            if isinstance(value, dict):
                found.append(value)
    return found


def log_lines(text: str) -> list[dict[str, Any]]:
    """The log lines (each has `level` and `message`)."""
    return [line for line in json_lines(text) if "level" in line and "message" in line]


def emf_blobs(text: str) -> list[dict[str, Any]]:
    """The CloudWatch embedded-metric blobs."""
    return [line for line in json_lines(text) if "_aws" in line]


def metric_totals(text: str) -> dict[str, float]:
    """Each metric name's total over every blob."""
    totals: dict[str, float] = {}
    for blob in emf_blobs(text):
        for directive in blob["_aws"]["CloudWatchMetrics"]:
            for metric in directive["Metrics"]:
                totals[metric["Name"]] = totals.get(metric["Name"], 0.0) + sum(blob[metric["Name"]])
    return totals
