"""The state file of `make dev`: the sender and `clerk-connections --local` find the running stack from it alone.

No endpoint, port or secret is passed to any command here: each one reads what the stack wrote, as after `make dev`.
"""

from __future__ import annotations

import json
import os
import socket
import stat
from collections.abc import Iterator

import pytest
from social_connections import cli
from social_connections.cli.local_stack import STATE_ENVIRONMENT_VARIABLE, LocalStackState

from devtools import local_stack, send
from devtools.local_gateway import LOOPBACK
from devtools.local_stack import LocalStack
from devtools.local_state import remove_state, write_state

USER = "user_first_hour"


@pytest.fixture
def state_file(tmp_path, monkeypatch):
    path = tmp_path / "state.json"
    monkeypatch.setenv(STATE_ENVIRONMENT_VARIABLE, str(path))
    for name in ("CLERK_WEBHOOK_SECRET", "WEBHOOK_URL", "TABLE_NAME"):
        monkeypatch.delenv(name, raising=False)
    return path


@pytest.fixture
def running(state_file) -> Iterator[LocalStack]:
    with LocalStack(poll_interval=None) as stack:
        write_state(
            LocalStackState(
                os.getpid(), stack.webhook_url, stack.endpoint_url, stack.table_name, "us-east-1", stack.secret
            )
        )
        yield stack
        remove_state(state_file, os.getpid())


def _send(capsys, *arguments: str) -> tuple[str, dict]:
    exit_status = send.main(list(arguments))
    # The last line is the sender's; the in-process handler prints its metric lines before it.
    status, message_id, answer = capsys.readouterr().out.strip().splitlines()[-1].split(" ", 2)
    assert exit_status == (0 if int(status) < 300 else 1)
    return message_id, {"status": int(status), **json.loads(answer)}


def _cli(capsys, *arguments: str) -> tuple[int, str]:
    exit_status = cli.main(list(arguments))
    captured = capsys.readouterr()
    return exit_status, captured.out + captured.err


def test_the_state_file_is_private_and_removed_by_the_stack_that_wrote_it(running, state_file):
    assert stat.S_IMODE(state_file.stat().st_mode) == 0o600
    remove_state(state_file, os.getpid() + 1)  # another stack's exit leaves this one's file alone
    assert json.loads(state_file.read_text())["webhook_url"] == running.webhook_url
    remove_state(state_file, os.getpid())
    assert not state_file.exists()


def test_send_repeat_and_late_against_the_running_stack(running, capsys):
    first_id, first = _send(capsys, "--example", "created", "--user", USER)
    assert (first["status"], first["outcome"], first["upserted"]) == (200, "applied", 3)
    repeat_id, repeat = _send(capsys, "--repeat")
    assert (repeat_id, repeat["outcome"], repeat["upserted"]) == (first_id, "duplicate", 0)
    late_id, late = _send(capsys, "--example", "updated", "--user", USER, "--late")
    assert (late["outcome"], late["disconnected"]) == ("stale", 0)
    assert late_id != first_id
    _, update = _send(capsys, "--example", "updated", "--user", USER)
    assert (update["outcome"], update["disconnected"]) == ("applied", 1)


def test_late_needs_an_example(running, capsys):
    with pytest.raises(SystemExit) as exit_info:
        send.main(["--repeat", "--late"])
    assert exit_info.value.code == 2
    assert "--late changes the built-in examples only" in capsys.readouterr().err


def test_connections_table_and_report_on_the_running_stack(running, capsys):
    _send(capsys, "--example", "created", "--user", USER)
    assert _cli(capsys, "connections", USER, "--local")[0] == 0

    status, table = _cli(capsys, "table")
    assert status == 0
    assert table.splitlines()[0] == f"{running.table_name}: 4 items, 1 users"
    assert f"{USER}  twitter eac_{USER}_x" in table
    assert "@" not in table  # never an e-mail address

    report = ("report", USER, "twitter", f"eac_{USER}_x")
    assert _cli(capsys, *report, "--error", "rate limited", "--local") == (
        0,
        f"recorded a failure for {USER} twitter eac_{USER}_x\n",
    )
    twitter = next(line for line in _cli(capsys, "table")[1].splitlines() if "twitter" in line)
    assert twitter.split()[5:8] == ["1", "rate", "limited"]
    assert _cli(capsys, *report, "--ok", "--local")[0] == 0
    status, output = _cli(capsys, *report, "--ok", "--local")
    assert (status, output.startswith("nothing recorded")) == (1, True)
    status, output = _cli(capsys, "report", USER, "tiktok", "eac_nope", "--error", "x", "--local")
    assert (status, "no such connection" in output) == (1, True)


def test_table_refuses_a_remote_endpoint(state_file, capsys):
    status, output = _cli(capsys, "table", "--endpoint-url", "https://dynamodb.us-east-1.amazonaws.com")
    assert (status, output) == (2, "table reads a whole table: only for a local endpoint (127.0.0.1 or localhost)\n")


def test_every_command_says_plainly_when_no_stack_runs(state_file, capsys):
    expected = f"no local stack is running (no {state_file}): start one with make dev"
    with pytest.raises(SystemExit) as exit_info:
        send.main(["--example", "created"])
    assert exit_info.value.code == 2
    assert capsys.readouterr().err.startswith(expected)
    for command in (["connections", USER, "--local"], ["table"], ["report", USER, "twitter", "eac", "--ok", "--local"]):
        status, output = _cli(capsys, *command)
        assert (status, output.startswith(expected)) == (2, True), output


def test_a_stopped_stack_is_told_apart_from_a_running_one(state_file, capsys):
    # A pid that is surely not running: a child of ours that has exited and been reaped.
    child = os.fork()
    if child == 0:
        os._exit(0)
    os.waitpid(child, 0)
    write_state(
        LocalStackState(child, "http://127.0.0.1:1/webhooks/clerk", "http://127.0.0.1:2", "T", "us-east-1", None)
    )
    status, output = _cli(capsys, "table")
    assert status == 2
    assert f"the local stack that wrote {state_file} (pid {child}) has stopped" in output


def test_an_exported_secret_is_not_written_and_the_sender_uses_the_exported_one(state_file, monkeypatch, capsys):
    with LocalStack(poll_interval=None) as stack:
        write_state(
            LocalStackState(os.getpid(), stack.webhook_url, stack.endpoint_url, stack.table_name, "us-east-1", None)
        )
        with pytest.raises(SystemExit):
            send.main(["--example", "created", "--user", USER])
        assert "export it here" in capsys.readouterr().err
        monkeypatch.setenv("CLERK_WEBHOOK_SECRET", stack.secret)
        assert _send(capsys, "--example", "created", "--user", USER)[1]["outcome"] == "applied"


def test_a_busy_port_fails_at_once_with_the_command_to_use_another(state_file, capsys):
    with socket.socket() as holder:
        holder.bind((LOOPBACK, 0))
        holder.listen()
        port = holder.getsockname()[1]
        assert local_stack.main(["--port", str(port)]) == 1
    message = capsys.readouterr().err
    assert message.startswith(f"port {port} on 127.0.0.1 is already in use")
    suggested = int(message.split("make dev PORT=")[1].split()[0])
    assert suggested != port
    with socket.socket() as probe:
        probe.bind((LOOPBACK, suggested))  # free when suggested
    assert not state_file.exists()
