"""The sam local events in events/: re-signed API Gateway events and the stream events, run through the real handlers.

`sam local invoke` needs Docker; these tests give the same event files to the same handlers in-process, against moto,
with the variables events/env.json sets. Re-signed files are written to a temporary directory, never over events/.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from social_connections import container
from social_connections.model import ConnectionKey
from social_connections.providers import Platform
from social_connections.signatures import InvalidSignatureError, SignatureVerifier, delivery_headers

from devtools import sam_events
from devtools.local_stream import compile_filters, matches_any
from devtools.testkit.aws import LambdaContextStub
from devtools.testkit.functions import configured
from devtools.testkit.table import user_rows
from devtools.testkit.template import read_template

EVENTS = Path(__file__).resolve().parents[2] / "events"
SAMPLE_USER = "user_2sample0000000000000000000"
EVENT_FILES = ["apigw.user.created.json", "apigw.user.deleted.json", "apigw.user.updated.json"]


def env_vars() -> dict[str, dict[str, str]]:
    variables: dict[str, dict[str, str]] = json.loads((EVENTS / "env.json").read_text(encoding="utf-8"))
    return variables


def load(path: Path) -> dict:
    event: dict = json.loads(path.read_text(encoding="utf-8"))
    return event


@pytest.fixture
def resigned(tmp_path: Path) -> dict[str, Path]:
    return {path.name: path for path in sam_events.resign(out_dir=tmp_path)}


@pytest.fixture
def sam_local_environment(table: str) -> Iterator[None]:
    """The webhook's variables from events/env.json (the table name stays the test table's)."""
    with configured(CLERK_WEBHOOK_SECRET=env_vars()["ClerkWebhookFunction"]["CLERK_WEBHOOK_SECRET"]):
        yield


def test_each_payload_gets_an_event_and_the_tracked_files_stay_as_they_were(tmp_path):
    before = {path.name: path.read_bytes() for path in EVENTS.iterdir()}
    written = sam_events.resign(out_dir=tmp_path)
    assert sorted(path.name for path in written) == EVENT_FILES
    assert {path.name: path.read_bytes() for path in EVENTS.iterdir()} == before
    for path in written:
        fresh, tracked = load(path), load(EVENTS / path.name)
        payload = (EVENTS / path.name.removeprefix("apigw.")).read_text(encoding="utf-8")
        assert fresh["body"] == tracked["body"] == payload  # the payload file, byte for byte
        assert (fresh["version"], fresh["routeKey"], fresh["isBase64Encoded"]) == ("2.0", "POST /webhooks/clerk", False)
        # Re-signing is a redelivery of the same message: the svix-id stays, the timestamp moves.
        assert fresh["headers"]["svix-id"] == tracked["headers"]["svix-id"]


def test_a_resigned_event_passes_the_real_verifier_with_the_secret_from_env_json(resigned):
    verifier = SignatureVerifier.from_config(env_vars()["ClerkWebhookFunction"]["CLERK_WEBHOOK_SECRET"])
    for path in resigned.values():
        event = load(path)
        verifier.verify(event["body"].encode("utf-8"), delivery_headers(event["headers"]))


def test_an_event_signed_more_than_five_minutes_ago_is_refused(tmp_path, sam_local_environment, invoke_webhook):
    (stale,) = sam_events.resign(out_dir=tmp_path, only=["user.created"], now=datetime.now(UTC) - timedelta(minutes=6))
    event = load(stale)
    verifier = SignatureVerifier.from_config(env_vars()["ClerkWebhookFunction"]["CLERK_WEBHOOK_SECRET"])
    with pytest.raises(InvalidSignatureError):
        verifier.verify(event["body"].encode("utf-8"), delivery_headers(event["headers"]))
    assert invoke_webhook(event).status == 401
    assert user_rows(SAMPLE_USER) == {}


def test_the_events_play_the_story_through_the_real_handlers(
    resigned, sam_local_environment, invoke_webhook, stream_app
):
    created = invoke_webhook(load(resigned["apigw.user.created.json"]))
    assert (created.status, created.body["outcome"], created.body["upserted"]) == (200, "applied", 3)
    updated = invoke_webhook(load(resigned["apigw.user.updated.json"]))
    assert (updated.status, updated.body["upserted"], updated.body["disconnected"]) == (200, 1, 1)
    statuses = {
        row["platform"]: row["connectionStatus"] for row in user_rows(SAMPLE_USER).values() if "platform" in row
    }
    assert statuses == {"twitter": "connected", "instagram": "disconnected", "tiktok": "expired"}

    deleted = invoke_webhook(load(resigned["apigw.user.deleted.json"]))
    assert (deleted.status, deleted.body["outcome"]) == (200, "deleted")
    # What the stream then delivers to ConnectionStreamFunction (`make invoke-stream EVENT=user-deleted`).
    stream_event = load(EVENTS / "stream.user-deleted.json")
    assert stream_app.lambda_handler(stream_event, LambdaContextStub()) == {"batchItemFailures": []}
    assert list(user_rows(SAMPLE_USER)) == ["PROFILE"]


def test_the_connection_error_stream_event_moves_x_to_error(
    resigned, sam_local_environment, invoke_webhook, stream_app
):
    event = load(EVENTS / "stream.connection-error.json")
    (mapping,) = read_template().functions["ConnectionStreamFunction"].streams
    assert all(matches_any(record, compile_filters(mapping.filter_patterns)) for record in event["Records"])
    (record,) = event["Records"]
    assert record["dynamodb"]["NewImage"]["errorCount"] == {"N": str(container.current().settings.error_threshold)}

    # The row as the event describes it: the sample user, then as many publish failures as the threshold.
    for name in ("apigw.user.created.json", "apigw.user.updated.json"):
        assert invoke_webhook(load(resigned[name])).status == 200
    x_account = ConnectionKey(Platform.TWITTER, "eac_sample_x")
    for _ in range(container.current().settings.error_threshold):
        assert container.current().store.record_publish_failure(SAMPLE_USER, x_account, "403 from the X API")
    assert stream_app.lambda_handler(event, LambdaContextStub()) == {"batchItemFailures": []}
    assert user_rows(SAMPLE_USER)["CONNECTION#twitter#eac_sample_x"]["connectionStatus"] == "error"


def test_env_json_names_the_template_functions_and_the_stream_events_its_table():
    functions = read_template().functions
    assert set(env_vars()) == set(functions)
    assert all(isinstance(value, str) for variables in env_vars().values() for value in variables.values())
    for name in ("stream.user-deleted.json", "stream.connection-error.json"):
        arns = {record["eventSourceARN"] for record in load(EVENTS / name)["Records"]}
        assert all(":table/ConnectionsTable/stream/" in arn for arn in arns)


def test_the_command_signs_into_a_directory_and_refuses_a_placeholder_secret(tmp_path, capsys):
    assert sam_events.main(["user.deleted", "--out-dir", str(tmp_path)]) == 0
    assert [path.name for path in tmp_path.iterdir()] == ["apigw.user.deleted.json"]
    assert "valid until" in capsys.readouterr().out

    placeholder = tmp_path / "env.json"
    placeholder.write_text(json.dumps({"ClerkWebhookFunction": {"CLERK_WEBHOOK_SECRET": "whsec_<paste>"}}))
    assert sam_events.main(["--env-vars", str(placeholder), "--out-dir", str(tmp_path)]) == 2
    assert "not a whsec_<base64> secret" in capsys.readouterr().err
    assert sam_events.main(["user.renamed", "--out-dir", str(tmp_path)]) == 2
    assert "no payload user.renamed" in capsys.readouterr().err
