"""`make dev`'s console: one readable line per request and stream batch, from the functions' JSON lines."""

from __future__ import annotations

import io
import json
import threading

from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request, Response

from devtools.local_console import CapturingOutput, LocalConsole, details, parse, request_line, stream_line

EMF = {
    "_aws": {
        "Timestamp": 1,
        "CloudWatchMetrics": [
            {"Namespace": "n", "Dimensions": [["service"]], "Metrics": [{"Name": "EventsApplied", "Unit": "Count"}]}
        ],
    },
    "service": "s",
    "EventsApplied": [1.0],
}
REJECTED = {
    "level": "WARNING",
    "location": "x:1",
    "message": "webhook signature rejected",
    "timestamp": "t",
    "service": "s",
    "cold_start": True,
    "reason": "no matching signature",
}


def test_metrics_are_summed_and_warnings_keep_their_fields():
    lines = [json.dumps(EMF), json.dumps(EMF), json.dumps(REJECTED), "plain text"]
    invocation = parse(lines)
    assert invocation.metrics == {"EventsApplied": 2.0}
    assert details(invocation) == [
        "    metrics EventsApplied=2",
        "    WARNING webhook signature rejected reason=no matching signature",
        "    plain text",
    ]


def test_info_lines_are_summarised_not_repeated():
    info = {**REJECTED, "level": "INFO", "message": "event processed", "user_id": "user_1"}
    invocation = parse([json.dumps(info)])
    assert details(invocation) == []
    assert invocation.first("user_id") == "user_1"


def test_request_line_has_method_path_status_outcome_user_and_duration():
    request = Request(EnvironBuilder(method="POST", path="/webhooks/clerk").get_environ())
    answer = Response(json.dumps({"outcome": "applied", "userId": "user_1"}), status=200)
    line = request_line(request, answer, parse([json.dumps(REJECTED)]), 12.4)
    assert line.split(" ", 1)[1] == "POST /webhooks/clerk 200 applied user=user_1 12 ms (cold start)"
    refused = Response(json.dumps({"error": "payload too large"}), status=413)
    assert request_line(request, refused, parse([]), 3).endswith("413 payload too large user=- 3 ms")


def test_stream_line_names_the_users_of_the_batch():
    event = {"Records": [{"dynamodb": {"Keys": {"pk": {"S": "USER#user_1"}}}}] * 2}
    assert stream_line("Fn", event, "ok", 5).split(" ", 1)[1] == "stream Fn 2 records ok user=user_1 5 ms"


def test_capture_takes_only_the_capturing_threads_writes():
    target = io.StringIO()
    output = CapturingOutput(target)
    with output.capture() as lines:
        output.write("mine\n")
        other = threading.Thread(target=output.write, args=("theirs\n",))
        other.start()
        other.join()
    assert lines == ["mine"]
    assert target.getvalue() == "theirs\n"


def test_the_console_prints_one_line_for_a_failing_stream_batch_and_lets_the_error_through():
    target = io.StringIO()
    console = LocalConsole(target)

    def failing(_event):
        console.output.write(json.dumps({**REJECTED, "level": "ERROR", "message": "boom"}) + "\n")
        raise RuntimeError("boom")

    invoke = console.stream("Fn", failing)
    try:
        invoke({"Records": []})
    except RuntimeError:
        pass
    else:
        raise AssertionError("the error must reach the poller")
    printed = target.getvalue().splitlines()
    assert "stream Fn 0 records raised (the poller retries the batch) user=- " in printed[0]
    assert printed[1] == "    ERROR boom reason=no matching signature"
