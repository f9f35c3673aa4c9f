"""The local stack end to end: signed deliveries over HTTP on 127.0.0.1, moto in server mode, the stream poller."""

from __future__ import annotations

import copy
import http.client
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from moto.dynamodb.models import dynamodb_backends

from devtools import send
from devtools.clerk_payloads import deleted_event, external_account, to_body, user_event
from devtools.local_stack import LocalStack, start_local_stack
from devtools.local_stream import compile_filters, matches_any
from devtools.send import deliver
from devtools.testkit.aws import ACCOUNT_ID, REGION
from devtools.testkit.deliveries import new_secret, svix_headers
from devtools.testkit.template import read_template

REPO = Path(__file__).resolve().parents[2]
T0 = 1_716_883_200_000
USER = "user_local_stack"


@pytest.fixture
def stack() -> Iterator[LocalStack]:
    with LocalStack(poll_interval=None) as running:
        yield running


def created(user_id: str = USER, updated_at: int = T0) -> str:
    accounts = [
        external_account("eac_x", "oauth_x", updated_at=updated_at),
        external_account("eac_tt", "oauth_custom_tiktok", updated_at=updated_at),
    ]
    return to_body(user_event("user.created", user_id, updated_at=updated_at, accounts=accounts))


def keys(stack: LocalStack, user_id: str = USER) -> list[str]:
    return [str(item["sk"]) for item in stack.table_items() if item["pk"] == f"USER#{user_id}"]


def request(url: str, *, method: str = "GET", body: bytes | None = None, headers: dict | None = None):
    """A raw HTTP request (status, JSON body), for what the sender would never send."""
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=15)
    try:
        connection.request(method, parts.path, body=body, headers=headers or {})
        response = connection.getresponse()
        return response.status, json.loads(response.read() or b"{}")
    finally:
        connection.close()


def test_a_signed_delivery_over_http_is_applied_and_a_deletion_is_cleaned_up_by_the_stream(stack):
    result = deliver(stack.webhook_url, stack.secret, created())
    assert (result.status, result.body["outcome"], result.body["upserted"]) == (200, "applied", 2)
    assert keys(stack) == ["CONNECTION#tiktok#eac_tt", "CONNECTION#twitter#eac_x", "PROFILE"]

    assert deliver(stack.webhook_url, stack.secret, to_body(deleted_event(USER))).body["outcome"] == "deleted"
    assert len(keys(stack)) == 3  # the connection rows go only when the stream function has run
    stack.wait_for_stream_idle()
    assert keys(stack) == ["PROFILE"]
    assert stack.dead_letters() == []


def test_unsigned_forged_and_unrouted_requests(stack):
    body = created()
    assert deliver(stack.webhook_url, new_secret(), body).status == 401
    assert request(stack.webhook_url, method="POST", body=body.encode()) == (401, {"error": "invalid signature"})
    assert request(stack.url + "/webhooks/other", method="POST", body=b"{}") == (404, {"message": "Not Found"})
    assert request(stack.webhook_url) == (404, {"message": "Not Found"})  # HTTP API routes are per method
    assert stack.table_items() == []


def test_a_binary_content_type_reaches_the_function_base64_encoded_and_still_verifies(stack):
    body = created()
    headers = {**svix_headers(stack.secret, body), "content-type": "application/octet-stream"}
    status, answer = request(stack.webhook_url, method="POST", body=body.encode(), headers=headers)
    assert (status, answer["outcome"]) == (200, "applied")


def test_the_functions_get_the_template_environment_and_read_the_secret_from_secrets_manager(stack):
    assert os.environ["TABLE_NAME"] == stack.table_name
    assert os.environ["CLERK_WEBHOOK_SECRET_ID"].startswith("arn:aws:secretsmanager:us-east-1:")
    assert not os.environ.get("CLERK_WEBHOOK_SECRET")  # declared empty by the template: Secrets Manager is used
    assert os.environ["ERROR_THRESHOLD"] == str(read_template().parameters["ErrorThreshold"])
    assert os.environ["AWS_ENDPOINT_URL"] == stack.endpoint_url
    assert stack.endpoint_url.startswith("http://127.0.0.1:")
    assert stack.webhook_url.startswith("http://127.0.0.1:")


def test_moto_table_copies_share_the_stream_records(stack):
    # moto copies the table for every action of a transaction; copying every record made deliveries ever slower.
    deliver(stack.webhook_url, stack.secret, created())
    table = dynamodb_backends[ACCOUNT_ID][REGION].get_table(stack.table_name)
    original, copied = table.stream_shard, copy.deepcopy(table).stream_shard
    assert original is not None and copied is not None and copied is not original
    assert copied.items and all(a is b for a, b in zip(copied.items, original.items, strict=True))


def test_stopping_restores_the_environment(monkeypatch):
    monkeypatch.setenv("AWS_PROFILE", "someone-real")
    monkeypatch.setenv("CLERK_WEBHOOK_SECRET", "whsec_from_the_shell")
    before = dict(os.environ)
    with LocalStack(poll_interval=None):
        assert "AWS_PROFILE" not in os.environ
    assert dict(os.environ) == before


def test_a_moto_port_in_use_fails_at_once():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        with pytest.raises(OSError, match="in use"):
            LocalStack(moto_port=taken.getsockname()[1], poll_interval=None).start()


def test_parameter_overrides_reach_the_functions():
    with LocalStack(poll_interval=None, parameter_overrides={"ErrorThreshold": "7"}):
        assert os.environ["ERROR_THRESHOLD"] == "7"


def test_the_background_poller_cleans_up_without_being_asked():
    with start_local_stack(port=0, poll_interval=0.05) as stack:
        deliver(stack.webhook_url, stack.secret, created())
        deliver(stack.webhook_url, stack.secret, to_body(deleted_event(USER)))
        deadline = time.monotonic() + 30  # a generous bound on waiting, not a speed assertion
        while keys(stack) != ["PROFILE"] and time.monotonic() < deadline:
            time.sleep(0.05)
        assert keys(stack) == ["PROFILE"]
        # Waiting for idle alongside the background thread (as the HTTP benchmark does) delivers the rest.
        deliver(stack.webhook_url, stack.secret, created("user_second"))
        deliver(stack.webhook_url, stack.secret, to_body(deleted_event("user_second")))
        stack.wait_for_stream_idle()
        assert keys(stack, "user_second") == ["PROFILE"]


def test_the_send_command_signs_a_built_in_example(stack, monkeypatch, capsys):
    monkeypatch.setenv("CLERK_WEBHOOK_SECRET", stack.secret)
    assert send.main(["--example", "created", "--user", "user_cli", "--url", stack.webhook_url]) == 0
    assert any(line.startswith("200 msg_") for line in capsys.readouterr().out.splitlines())
    assert len(keys(stack, "user_cli")) == 4  # X, Instagram, TikTok; GitHub is not a platform


def test_the_send_command_sends_a_file_byte_for_byte(stack, monkeypatch, tmp_path, capsys):
    payload = tmp_path / "event.json"
    payload.write_text(json.dumps(json.loads(created()), indent=2), encoding="utf-8")
    monkeypatch.setenv("CLERK_WEBHOOK_SECRET", stack.secret)
    assert send.main([str(payload), "--url", stack.webhook_url]) == 0
    assert '"outcome": "applied"' in capsys.readouterr().out


def test_the_send_command_reports_an_unreachable_stack(monkeypatch, capsys):
    monkeypatch.setenv("CLERK_WEBHOOK_SECRET", new_secret())
    with LocalStack(poll_interval=None) as stopped_soon:
        url = stopped_soon.webhook_url
    assert send.main(["--example", "deleted", "--url", url]) == 2
    assert "is make dev still running?" in capsys.readouterr().err


def test_the_sample_events_tell_their_story(stack):
    events = REPO / "events"
    answers = [
        deliver(stack.webhook_url, stack.secret, (events / f"{name}.json").read_text(encoding="utf-8")).body
        for name in ("user.created", "user.updated")
    ]
    assert [(a["outcome"], a["upserted"], a["disconnected"]) for a in answers] == [("applied", 3, 0), ("applied", 1, 1)]
    statuses = {str(item["platform"]): item["connectionStatus"] for item in stack.table_items() if "platform" in item}
    assert statuses == {"twitter": "connected", "instagram": "disconnected", "tiktok": "expired"}
    deleted = deliver(stack.webhook_url, stack.secret, (events / "user.deleted.json").read_text(encoding="utf-8"))
    assert deleted.body["outcome"] == "deleted"


def test_the_sample_stream_event_is_a_tombstone_the_stream_function_acts_on(stack):
    event = json.loads((REPO / "events" / "stream.user-deleted.json").read_text(encoding="utf-8"))
    (mapping,) = read_template().functions["ConnectionStreamFunction"].streams
    assert all(matches_any(record, compile_filters(mapping.filter_patterns)) for record in event["Records"])
    assert stack.functions["ConnectionStreamFunction"].invoke(event) == {"batchItemFailures": []}


def test_the_send_command_prints_a_signed_event_for_sam_local_invoke(stack, monkeypatch, capsys):
    monkeypatch.setenv("CLERK_WEBHOOK_SECRET", stack.secret)
    assert send.main(["--example", "created", "--user", "user_sam", "--sam-event"]) == 0
    event = json.loads(capsys.readouterr().out)
    answer = stack.functions["ClerkWebhookFunction"].invoke(event)
    assert (answer["statusCode"], json.loads(answer["body"])["outcome"]) == (200, "applied")


@pytest.mark.slow
def test_the_demo_runs_clean():
    # Its own process, as `make demo` runs it: the demo silences stdout while the handlers are imported.
    run = subprocess.run(
        [sys.executable, "-m", "devtools.demo"], cwd=REPO, capture_output=True, text=True, timeout=300, check=False
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "FAIL" not in run.stdout
    assert "Every step behaved as the design says." in run.stdout


def test_the_platform_callbacks_run_on_the_local_stack_as_the_docs_show(stack, monkeypatch, capsys):
    """docs/platform-callbacks.md: `make send EXAMPLE=created`, then Meta's and TikTok's callbacks, signed locally."""
    from devtools import platform_send  # noqa: PLC0415 - only this test needs it

    monkeypatch.setenv("CLERK_WEBHOOK_SECRET", stack.secret)
    assert send.main(["--example", "created", "--user", "user_local", "--url", stack.webhook_url]) == 0
    monkeypatch.setenv("META_APP_SECRET", stack.platform_secrets["MetaAppSecret"])
    monkeypatch.setenv("TIKTOK_CLIENT_SECRET", stack.platform_secrets["TikTokClientSecret"])
    assert platform_send.main(["--base-url", stack.url, "meta-deletion", "--user-id", "3506164961"]) == 0
    (code,) = [item["confirmationCode"] for item in stack.table_items() if item["pk"].startswith("DATA_DELETION#")]
    assert f"{stack.url}/platforms/meta/data-deletion/{code}" in capsys.readouterr().out
    assert platform_send.main(["--base-url", stack.url, "meta-status", code]) == 0
    status, result = platform_send.send(f"{stack.url}/platforms/meta/data-deletion/{code}")
    assert (status, result["status"], result["rows_affected"]) == (200, "completed", 1)
    rows = {item["sk"]: item for item in stack.table_items() if item["pk"] == "USER#user_local"}
    assert "firstName" not in rows["CONNECTION#instagram#eac_user_local_ig"]["metadata"]

    # The example's account was linked this second; TikTok's event time is whole seconds, so it comes a second later.
    body = platform_send.tiktok_event_body("2871654691", create_time=int(time.time()) + 1)
    signature = platform_send.tiktok_signature(stack.platform_secrets["TikTokClientSecret"], body)
    status, result = platform_send.send(
        stack.url + platform_send.TIKTOK_PATH, body=body, headers={"tiktok-signature": signature}
    )
    assert (status, result["expired"]) == (200, 1)
    assert platform_send.send(stack.url + platform_send.TIKTOK_PATH, body=body)[0] == 401
    rows = {item["sk"]: item for item in stack.table_items() if item["pk"] == "USER#user_local"}
    assert rows["CONNECTION#tiktok#eac_user_local_tt"]["connectionStatus"] == "expired"
