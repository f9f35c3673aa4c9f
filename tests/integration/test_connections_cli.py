"""`clerk-connections connections`: a user's rows as a table, read through the store from moto."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import boto3
from social_connections import cli, container
from social_connections.model import ConnectionKey
from social_connections.providers import Platform

from devtools.clerk_payloads import deleted_event, external_account, to_body, user_event
from devtools.local_stack import LocalStack
from devtools.send import deliver as deliver_over_http
from devtools.testkit.aws import TEST_TABLE_NAME, LambdaContextStub
from devtools.testkit.table import StreamReader, stream_event, user_rows

REPO = Path(__file__).resolve().parents[2]
USER = "user_cli"
T0 = 1_716_883_200_000  # 2024-05-28T08:00:00Z
HEADER = ["platform", "account id", "status", "username", "errorCount", "connectedAt", "updatedAt"]


def snapshot(event_type: str, updated_at: int, *, instagram: bool = True, tiktok: str = "verified") -> dict:
    """X, optionally Instagram, TikTok; every account carries the user's e-mail address, as Clerk's may."""
    email = "ada@example.com"
    accounts = [external_account("eac_x", "oauth_x", updated_at=T0, username="ada_x", email=email)]
    if instagram:
        accounts.append(external_account("eac_ig", "oauth_instagram", updated_at=T0, username="ada.ig", email=email))
    accounts.append(
        external_account("eac_tt", "oauth_custom_tiktok", updated_at=updated_at, status=tiktok, email=email)
    )
    return user_event(event_type, USER, updated_at=updated_at, accounts=accounts)


def table_lines(output: str) -> tuple[str, list[list[str]]]:
    """The profile line, then each table line split into its cells."""
    first, *rest = output.rstrip("\n").split("\n")
    return first, [re.split(r"\s{2,}", line.strip()) for line in rest]


def test_a_users_connections_with_the_profile_on_top_and_no_email(deliver, capsys):
    assert deliver(snapshot("user.created", T0)).status == 200
    assert deliver(snapshot("user.updated", T0 + 60_000, instagram=False, tiktok="expired")).status == 200
    x_account = ConnectionKey(Platform.TWITTER, "eac_x")
    for _ in range(2):
        container.current().store.record_publish_failure(USER, x_account, "the platform refused the post")

    capsys.readouterr()  # drop the handlers' JSON logs and metrics
    assert cli.main(["connections", USER]) == 0  # the table from $TEST_TABLE_NAME, as the functions get it

    output = capsys.readouterr().out
    profile, lines = table_lines(output)
    assert profile == f"user {USER}: profile active, version {T0 + 60_000} (2024-05-28T08:01:00.000Z)"
    assert lines[0] == HEADER
    assert set(lines[1]) == {"-" * len(cell) for cell in lines[1]}
    created, changed = "2024-05-28T08:00:00.000Z", "2024-05-28T08:01:00.000Z"
    assert lines[2:] == [
        ["instagram", "eac_ig", "disconnected", "-", "0", created, changed],  # no username once disconnected
        ["tiktok", "eac_tt", "expired", "-", "0", created, changed],
        ["twitter", "eac_x", "connected", "ada_x", "2", created, created],
    ]
    # The rows do keep the address (in metadata); the command must not show it.
    assert user_rows(USER)["CONNECTION#twitter#eac_x"]["metadata"]["email"] == "ada@example.com"
    assert "@" not in output


def test_a_deleted_user_shows_the_tombstone_once_the_stream_cleaned_up(table, deliver, stream_app, capsys):
    reader = StreamReader(boto3.client("dynamodbstreams"), table)
    assert deliver(snapshot("user.created", T0)).status == 200
    assert deliver(deleted_event(USER, timestamp=T0 + 1)).body["outcome"] == "deleted"
    assert stream_app.lambda_handler(stream_event(reader.read()), LambdaContextStub()) == {"batchItemFailures": []}

    capsys.readouterr()  # drop the handlers' JSON logs and metrics
    assert cli.main(["connections", USER, "--table", TEST_TABLE_NAME]) == 0
    profile, lines = table_lines(capsys.readouterr().out)
    assert re.fullmatch(rf"user {USER}: profile deleted at \S+Z \(a tombstone: later events ignored\)", profile)
    assert lines == [["no connection rows"]]


def test_an_unknown_user_exits_1_and_a_missing_table_exits_2(table, capsys):
    assert cli.main(["connections", "user_nobody"]) == 1
    assert capsys.readouterr().out == "user user_nobody: no profile stored\nno connection rows\n"
    assert cli.main(["connections", "user_nobody", "--table", "no-such-table"]) == 2
    assert capsys.readouterr().err == (
        "could not read user_nobody: table no-such-table not found (for the running make dev, use --local)\n"
    )


def test_over_http_from_the_local_stack_with_no_aws_settings_in_the_environment():
    with LocalStack(poll_interval=None) as stack:
        assert deliver_over_http(stack.webhook_url, stack.secret, to_body(snapshot("user.created", T0))).status == 200
        bare = {name: value for name, value in os.environ.items() if not name.startswith("AWS_")}
        bare.pop("TABLE_NAME", None)
        run = subprocess.run(  # noqa: S603 - this interpreter, our module, a loopback URL
            [sys.executable, "-m", "social_connections.cli", "connections", USER, "--endpoint-url", stack.endpoint_url],
            cwd=REPO,
            env=bare,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert run.returncode == 0, run.stderr
    profile, lines = table_lines(run.stdout)
    assert profile.startswith(f"user {USER}: profile active")
    assert [line[:3] for line in lines[2:]] == [
        ["instagram", "eac_ig", "connected"],
        ["tiktok", "eac_tt", "connected"],
        ["twitter", "eac_x", "connected"],
    ]
