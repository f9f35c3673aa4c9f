"""Alarms, dashboard and metrics agree: every metric an alarm or widget names is one the code emits (metric_names)."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path
from typing import Any

import pytest
from social_connections.metric_names import (
    API_STATUS_PREFIX,
    EVENTS_IGNORED_PREFIX,
    RECONCILE_SUMMARY_PREFIX,
    SERVICE_DIMENSION,
    Metric,
    status_changed_metric,
)
from social_connections.model import ConnectionStatus
from social_connections.reconcile_plan import Mode, ReconcileSummary

from devtools.testkit.template import load_template

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = load_template()
RESOURCES: dict[str, Any] = TEMPLATE["Resources"]
ENVIRONMENT = TEMPLATE["Globals"]["Function"]["Environment"]["Variables"]
NAMESPACE = ENVIRONMENT["POWERTOOLS_METRICS_NAMESPACE"]
SERVICE = ENVIRONMENT["POWERTOOLS_SERVICE_NAME"]
ALARMS = {name: r["Properties"] for name, r in RESOURCES.items() if r["Type"] == "AWS::CloudWatch::Alarm"}
EMITTING_CALLS = {"add_metric", "_count", "single_metric", "count", "count_by"}


def alarm_metrics(properties: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """(namespace, metric name, {dimension: value}) of an alarm, plain or metric math."""
    if "MetricName" in properties:
        stats = [properties]
    else:
        stats = [query["MetricStat"]["Metric"] for query in properties["Metrics"] if "MetricStat" in query]
    return [
        (stat["Namespace"], stat["MetricName"], {d["Name"]: d["Value"] for d in stat.get("Dimensions", [])})
        for stat in stats
    ]


def dashboard_metrics() -> list[tuple[str, str, dict[str, Any]]]:
    body = RESOURCES["OperationsDashboard"]["Properties"]["DashboardBody"]["Fn::Sub"]
    references = re.findall(r"\$\{([^}]+)\}", body)
    for reference in references:
        assert reference.split(".")[0] in RESOURCES or reference.startswith("AWS::"), reference
    widgets = json.loads(re.sub(r"\$\{([^}]+)\}", r"<\1>", body))["widgets"]
    found = []
    for widget in widgets:
        for line in widget["properties"]["metrics"]:
            names = [part for part in line if isinstance(part, str)]
            namespace, metric, *pairs = names
            found.append((namespace, metric, dict(zip(pairs[::2], pairs[1::2], strict=True))))
    return found


def _emitting_modules() -> list[ast.Module]:
    files = [*(ROOT / "layers").rglob("*.py"), *(ROOT / "functions").rglob("*.py")]
    trees = [ast.parse(path.read_text(encoding="utf-8")) for path in files]
    return [tree for tree in trees if any(_emits(node) for node in ast.walk(tree))]


def _emits(node: ast.AST) -> bool:
    if not isinstance(node, ast.Call):
        return False
    function = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
    return function in EMITTING_CALLS


def emitted_metric_names() -> tuple[set[str], set[str], set[str]]:
    """What the modules that emit metrics name: every metric-like string or Metric member in them, the names given
    directly to an emitting call, and the prefixes of names built with an f-string."""
    mentioned: set[str] = set()
    direct: set[str] = set()
    prefixes: set[str] = set()
    for tree in _emitting_modules():
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Constant)
                and isinstance(node.value, str)
                and re.fullmatch(r"[A-Z][A-Za-z_]+", node.value)
            ):
                mentioned.add(node.value)
            elif isinstance(node, ast.Attribute) and getattr(node.value, "id", "") == "Metric":
                mentioned.add(Metric[node.attr].value)
            elif isinstance(node, ast.Name) and node.id == "status_changed_metric":
                mentioned.update(status_changed_metric(status).value for status in ConnectionStatus)
            if not _emits(node):
                continue
            assert isinstance(node, ast.Call)
            for argument in [keyword.value for keyword in node.keywords if keyword.arg == "name"] + node.args[:1]:
                if isinstance(argument, ast.Constant) and isinstance(argument.value, str):
                    direct.add(argument.value)
                elif isinstance(argument, ast.JoinedStr) and isinstance(argument.values[0], ast.Constant):
                    prefixes.add(str(argument.values[0].value))
    return mentioned, direct, prefixes


def reconcile_summary_metrics() -> set[str]:
    """The names functions/reconcile/app.py builds from the summary's numeric figures."""
    figures = ReconcileSummary(Mode.FULL, dry_run=False).as_json()
    return {
        f"{RECONCILE_SUMMARY_PREFIX}{name[0].upper()}{name[1:]}"
        for name, value in figures.items()
        if isinstance(value, int | float) and not isinstance(value, bool)
    }


def test_the_code_emits_the_listed_metrics_and_names_no_other():
    mentioned, direct, prefixes = emitted_metric_names()
    listed = {metric.value for metric in Metric}
    summary = reconcile_summary_metrics()
    assert summary <= listed
    assert listed <= mentioned | summary  # each listed metric is named where metrics are emitted
    assert direct <= listed  # a name given straight to Powertools is on the list
    assert prefixes == {API_STATUS_PREFIX, EVENTS_IGNORED_PREFIX, RECONCILE_SUMMARY_PREFIX}
    reconcile_listed = {name for name in listed if name.startswith(RECONCILE_SUMMARY_PREFIX)}
    assert reconcile_listed == summary | {Metric.RECONCILE_FAILED.value}


@pytest.mark.parametrize("source", ["alarms", "dashboard"])
def test_every_metric_an_alarm_or_widget_names_is_emitted(source):
    metrics = (
        [m for props in ALARMS.values() for m in alarm_metrics(props)] if source == "alarms" else dashboard_metrics()
    )
    ours = [(name, dims) for namespace, name, dims in metrics if namespace == NAMESPACE]
    assert ours, "no metric of the functions' namespace"
    # The service dimension is what Powertools is given: the same value, or its ${...} form inside the dashboard's Sub.
    service = f"<{SERVICE['Ref']}>" if source == "dashboard" and isinstance(SERVICE, dict) else SERVICE
    for name, dimensions in ours:
        assert name in {metric.value for metric in Metric}, name
        assert dimensions == {SERVICE_DIMENSION: service}, name
    aws = [(namespace, name, dims) for namespace, name, dims in metrics if namespace != NAMESPACE]
    assert {namespace for namespace, _, _ in aws} <= {"AWS/ApiGateway", "AWS/Lambda", "AWS/SQS"}
    for _, _, dimensions in aws:
        for value in dimensions.values():
            target = value.get("Ref") or value.get("Fn::GetAtt", [None])[0] if isinstance(value, dict) else value
            assert str(target).strip("<>").split(".")[0] in RESOURCES, value


def test_every_alarm_notifies_the_topic_and_chooses_missing_data():
    assert len(ALARMS) >= 8
    for name, properties in ALARMS.items():
        assert properties["AlarmActions"] == [{"Ref": "AlarmTopic"}], name
        assert properties["TreatMissingData"] in {"notBreaching", "breaching", "ignore", "missing"}, name


def test_the_issue_s_alarms_exist_with_parameter_thresholds():
    watched = {name for props in ALARMS.values() for _, name, _ in alarm_metrics(props)}
    assert {"5xx", "EventsFailed", "SignatureRejected", "ApproximateNumberOfMessagesVisible", "IteratorAge"} <= watched
    assert {"Errors", "Throttles", "StatusEventsFailed", "ReconcileFailed"} <= watched
    parameters = TEMPLATE["Parameters"]
    for alarm in ("Webhook5xxRateAlarm", "EventsFailedAlarm", "SignatureRejectedAlarm", "StreamIteratorAgeAlarm"):
        assert ALARMS[alarm]["Threshold"]["Ref"] in parameters


def test_optional_email_subscription_and_bus_parameter():
    assert RESOURCES["AlarmEmailSubscription"]["Condition"] == "HasAlarmEmail"
    assert RESOURCES["ConnectionEventsBus"]["Condition"] == "CreateEventBus"
    stream_environment = RESOURCES["ConnectionStreamFunction"]["Properties"]["Environment"]["Variables"]
    assert stream_environment["EVENT_BUS_NAME"] == {
        "Fn::If": ["CreateEventBus", {"Ref": "ConnectionEventsBus"}, {"Ref": "EventBusName"}]
    }


def test_attention_index_is_sparse_on_one_attribute_and_projects_no_personal_data():
    table = RESOURCES["ConnectionsTable"]["Properties"]
    (index,) = [i for i in table["GlobalSecondaryIndexes"] if i["IndexName"] == "AttentionIndex"]
    assert index["KeySchema"] == [{"AttributeName": "attention", "KeyType": "HASH"}]
    assert index["Projection"]["ProjectionType"] == "INCLUDE"
    assert not {"metadata", "platformUsername", "platformUserId"} & set(index["Projection"]["NonKeyAttributes"])
