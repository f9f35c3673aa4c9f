"""telemetry.Telemetry: Powertools-shaped log lines and one EMF blob per invocation."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from social_connections.telemetry import Telemetry

from devtools.testkit.logs import emf_blobs, log_lines, metric_totals

ENVIRONMENT = {"POWERTOOLS_SERVICE_NAME": "svc", "POWERTOOLS_METRICS_NAMESPACE": "Ns"}


@dataclass
class Context:
    function_name: str = "fn"
    memory_limit_in_mb: int = 128
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:fn"
    aws_request_id: str = "req-1"


def test_a_log_line_has_powertools_keys_the_invocation_keys_and_its_fields(capsys):
    telemetry = Telemetry(ENVIRONMENT)
    telemetry.start(Context(), correlation_id="corr-1")
    telemetry.append_keys(svix_id="msg_1")
    telemetry.info("event processed", user_id="user_1")
    (line,) = log_lines(capsys.readouterr().out)
    assert line["level"] == "INFO" and line["message"] == "event processed"
    assert line["location"].startswith("test_a_log_line_has_powertools_keys")
    assert (line["service"], line["cold_start"], line["function_request_id"]) == ("svc", True, "req-1")
    assert (line["correlation_id"], line["svix_id"], line["user_id"]) == ("corr-1", "msg_1", "user_1")
    assert line["timestamp"].endswith("+0000")


def test_cold_start_is_true_only_for_the_first_invocation_and_keys_do_not_leak(capsys):
    telemetry = Telemetry(ENVIRONMENT)
    telemetry.start(Context())
    telemetry.append_keys(svix_id="msg_1")
    telemetry.start(Context(aws_request_id="req-2"))
    telemetry.warning("second")
    (line,) = log_lines(capsys.readouterr().out)
    assert line["cold_start"] is False and "svix_id" not in line and line["function_request_id"] == "req-2"


@pytest.mark.parametrize(("variable", "value"), [("POWERTOOLS_LOG_LEVEL", "WARNING"), ("LOG_LEVEL", "warning")])
def test_the_log_level_setting_drops_lower_lines(capsys, variable, value):
    telemetry = Telemetry({**ENVIRONMENT, variable: value})
    telemetry.start(None)
    telemetry.info("dropped")
    telemetry.debug("dropped too")
    telemetry.warning("kept")
    assert [line["message"] for line in log_lines(capsys.readouterr().out)] == ["kept"]


def test_exception_lines_carry_the_traceback_and_the_exception_name(capsys):
    telemetry = Telemetry(ENVIRONMENT)
    telemetry.start(None)
    try:
        raise KeyError("boom")
    except KeyError:
        telemetry.exception("failed")
    (line,) = log_lines(capsys.readouterr().out)
    assert (line["level"], line["exception_name"]) == ("ERROR", "KeyError") and "boom" in line["exception"]


def test_one_invocation_writes_one_emf_blob_with_every_count_and_the_dimensioned_one(capsys):
    telemetry = Telemetry(ENVIRONMENT)
    telemetry.start(None)
    telemetry.count("EventsReceived")
    telemetry.count("ConnectionsUpserted", 3)
    telemetry.count("ConnectionsUpserted", 2)
    telemetry.count_by("EventsReceivedByType", "EventType", "user.created")
    telemetry.flush()
    (blob,) = emf_blobs(capsys.readouterr().out)
    directives = blob["_aws"]["CloudWatchMetrics"]
    assert [d["Dimensions"] for d in directives] == [[["service"]], [["EventType", "service"]]]
    assert {d["Namespace"] for d in directives} == {"Ns"}
    assert (blob["EventsReceived"], blob["ConnectionsUpserted"], blob["EventsReceivedByType"]) == ([1.0], [5.0], [1.0])
    assert (blob["service"], blob["EventType"]) == ("svc", "user.created")


def test_a_second_value_of_one_dimension_gets_its_own_blob_and_flush_forgets(capsys):
    telemetry = Telemetry(ENVIRONMENT)
    telemetry.start(None)
    telemetry.count_by("Changed", "Status", "error")
    telemetry.count_by("Changed", "Status", "connected", 2)
    telemetry.flush()
    telemetry.flush()
    out = capsys.readouterr().out
    assert [blob["Status"] for blob in emf_blobs(out)] == ["error", "connected"]
    assert metric_totals(out) == {"Changed": 3.0}


def test_nothing_counted_or_metrics_disabled_writes_no_blob(capsys):
    Telemetry(ENVIRONMENT).flush()
    disabled = Telemetry({**ENVIRONMENT, "POWERTOOLS_METRICS_DISABLED": "true"})
    disabled.count("EventsReceived")
    disabled.flush()
    assert emf_blobs(capsys.readouterr().out) == []


def test_every_value_renders_as_json_and_a_field_overrides_an_invocation_key(capsys):
    telemetry = Telemetry(ENVIRONMENT)
    telemetry.start(None)
    telemetry.append_keys(user_id="from keys")
    values = {"text": 'quote " \\ \n é', "none": None, "flag": False, "number": -3, "list": ["a", 1], "map": {"k": 2}}
    telemetry.info("all kinds", user_id="from the line", **values, other=object)
    (line,) = log_lines(capsys.readouterr().out)
    assert {name: line[name] for name in values} == values
    assert line["user_id"] == "from the line" and line["other"] == str(object)
