"""The first hour, literally: the commands of docs/local-development.md's first two blocks, run as written in a shell
against a real `make dev`, each one checked for its exit status and for what the document says it does.

A new user's shell: no AWS settings, no exported secret, nothing but the state file `make dev` writes (moved to a
temporary directory, as LOCAL_STACK_STATE allows). The slow tier: `make dev` is a process of its own.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
BASH = shutil.which("bash") or "bash"
GUIDE = REPO / "docs" / "local-development.md"
_BLOCK = re.compile(r"^```bash\n(.*?)^```", re.MULTILINE | re.DOTALL)
_COMMENT = re.compile(r"\s{2,}#.*$")
# What each documented command must print (the document's comment says the same in words).
EXPECTED = {
    "make demo": "Every step behaved as the design says.",
    "make send EXAMPLE=created USER_ID=user_local": '"outcome": "applied"',
    "make send REPEAT=1": '"outcome": "duplicate"',
    "make send EXAMPLE=updated LATE=1": '"outcome": "stale"',
    "make send EXAMPLE=updated": '"disconnected": 1',
    "make connections USER_ID=user_local": "user user_local: profile active",
    '.venv/bin/clerk-connections report user_local twitter eac_user_local_x --error "rate limited" --local': (
        "recorded a failure for user_local twitter eac_user_local_x"
    ),
    "make table": "rate limited",
    "make send EXAMPLE=deleted": '"outcome": "deleted"',
}


def documented_blocks() -> list[list[str]]:
    blocks = _BLOCK.findall(GUIDE.read_text(encoding="utf-8"))[:2]
    return [[_COMMENT.sub("", line).strip() for line in block.splitlines() if line.strip()] for block in blocks]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def shell_environment(tmp_path) -> dict[str, str]:
    environment = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("AWS_", "CLERK_", "WEBHOOK_", "TABLE_", "MAKE", "PYTEST_", "LOCAL_STACK_"))
    }
    return {**environment, "LOCAL_STACK_STATE": str(tmp_path / "state.json")}


def run(command: str, environment: dict[str, str]) -> subprocess.CompletedProcess[str]:
    # The document's own command line, in bash, from the repository root.
    return subprocess.run(  # noqa: S603
        [BASH, "-c", command], cwd=REPO, env=environment, capture_output=True, text=True, timeout=300, check=False
    )


@pytest.fixture
def up_to_date_venv(shell_environment) -> None:
    """Every documented `make` target first brings .venv up to date with pyproject.toml (its stamp is older after a
    rebase or checkout that touched it): do that once here, not inside `make dev` against its start-up deadline, nor
    in `make dev` and `make demo` at the same time."""
    done = subprocess.run(  # noqa: S603
        [BASH, "-c", "make install"],
        cwd=REPO,
        env=shell_environment,
        capture_output=True,
        text=True,
        timeout=900,  # a real install, when pyproject.toml gained a dependency: minutes on a busy machine
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.fixture
def make_dev(shell_environment, tmp_path, up_to_date_venv) -> Iterator[tuple[subprocess.Popen[str], Path, int]]:
    port = free_port()
    console = tmp_path / "console.txt"
    with console.open("w", encoding="utf-8") as output:
        # Its own process group, so one SIGINT reaches make and the stack as Ctrl-C would.
        process = subprocess.Popen(  # noqa: S603
            [BASH, "-c", f"make dev PORT={port}"],
            cwd=REPO,
            env=shell_environment,
            stdout=output,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
    state = Path(shell_environment["LOCAL_STACK_STATE"])
    try:
        deadline = time.monotonic() + 120
        while not state.exists() and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
        assert state.exists(), f"make dev PORT={port} did not start:\n{console.read_text(encoding='utf-8')}"
        yield process, console, port
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGINT)
            process.wait(timeout=60)


def post(url: str, body: bytes) -> int:
    request = urllib.request.Request(url, data=body, method="POST", headers={"content-type": "application/json"})  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - loopback URL of the test's stack
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)


def test_the_documented_commands_work_as_written(make_dev, shell_environment):
    process, console, port = make_dev
    first, second = documented_blocks()
    assert first == ["make demo", "make dev"]
    assert set(EXPECTED) <= {*first, *second}, "the walkthrough lost a command the document lists"
    demo = run("make demo", shell_environment)
    assert demo.returncode == 0 and EXPECTED["make demo"] in demo.stdout, demo.stdout + demo.stderr

    for command in second:
        done = run(command, shell_environment)
        assert done.returncode == 0, f"{command}\n{done.stdout}{done.stderr}"
        assert EXPECTED.get(command, "") in done.stdout, f"{command}\n{done.stdout}"

    state = json.loads(Path(shell_environment["LOCAL_STACK_STATE"]).read_text(encoding="utf-8"))
    assert state["webhook_url"] == f"http://127.0.0.1:{port}/webhooks/clerk"
    assert post(state["webhook_url"], b'{"type": "user.created"}') == 401
    assert post(state["webhook_url"], b"x" * (256 * 1024 + 1)) == 413

    busy = run(f"make dev PORT={port}", shell_environment)
    assert busy.returncode != 0
    assert f"port {port} on 127.0.0.1 is already in use" in busy.stderr
    assert "make dev PORT=" in busy.stderr

    # The stream function removes the deleted user's rows a moment after the answer: let the poller get there.
    deadline = time.monotonic() + 60
    while "stream ConnectionStreamFunction" not in console.read_text(encoding="utf-8") and time.monotonic() < deadline:
        time.sleep(0.2)
    os.killpg(process.pid, signal.SIGINT)
    process.wait(timeout=60)
    text = console.read_text(encoding="utf-8")
    for line in (
        "POST /webhooks/clerk 200 applied user=user_local",
        "POST /webhooks/clerk 200 duplicate user=user_local",
        "POST /webhooks/clerk 200 stale user=user_local",
        "POST /webhooks/clerk 200 deleted user=user_local",
        "stream ConnectionStreamFunction",
        "POST /webhooks/clerk 401 invalid signature user=-",
        "WARNING webhook signature rejected",
        "POST /webhooks/clerk 413 payload too large user=-",
        "WARNING payload too large; rejected unread",
        "metrics ConnectionsUpserted=3 EventsApplied=1",
    ):
        assert line in text, text
    assert '{"_aws"' not in text  # metrics summarised, not raw EMF
    assert not Path(shell_environment["LOCAL_STACK_STATE"]).exists()

    after = run("make connections USER_ID=user_local", shell_environment)
    assert after.returncode != 0
    assert "no local stack is running" in after.stderr
