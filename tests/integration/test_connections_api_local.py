"""The connections API on the local stack over HTTP: the template's routes and authorizers as the local gateway plays
them (session tokens signed by the stack's key, CORS for the app's origin), the typed client, and the CLI."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import jwt
import pytest
from social_connections.cli import main as cli
from social_connections.connections_client import ConnectionsApiClient, ConnectionsApiError
from social_connections.providers import Platform

from devtools.clerk_payloads import external_account, to_body, user_event
from devtools.local_stack import LocalStack
from devtools.send import deliver
from devtools.testkit.template import read_template

pytestmark = pytest.mark.moto_only
T0 = 1_716_883_200_000
USER = "user_local_api"
ACCOUNT = "eac_local_api_x"
REPO = Path(__file__).resolve().parents[2]
DOCS = REPO / "docs" / "connections-api.md"
APP_ORIGIN = str(read_template().parameters["AppOrigin"])


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    with LocalStack(poll_interval=None) as running:
        user = user_event(
            "user.created", USER, updated_at=T0, accounts=[external_account(ACCOUNT, "oauth_x", updated_at=T0)]
        )
        running.clerk_api.users.put(user["data"])
        assert deliver(running.webhook_url, running.secret, to_body(user)).status == 200
        yield running


@pytest.fixture(autouse=True)
def stack_endpoint(aws_environment: None, stack: LocalStack, monkeypatch: pytest.MonkeyPatch) -> None:
    """The conftest's per-test AWS environment drops AWS_ENDPOINT_URL; the functions must keep reaching moto."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", stack.endpoint_url)


def get(url: str, headers: dict[str, str] | None = None, method: str = "GET", body: bytes | None = None):
    request = urllib.request.Request(url, headers=headers or {}, method=method, data=body)  # noqa: S310 - loopback
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def test_internal_routes_accept_unsigned_calls_locally(stack: LocalStack):
    status, _, body = get(f"{stack.url}/users/{USER}/connections")
    assert status == 200
    assert [c["externalAccountId"] for c in json.loads(body)["connections"]] == [ACCOUNT]
    status, headers, body = get(f"{stack.url}/users/{USER}/connections/twitter/token")
    assert status == 200 and headers["Cache-Control"] == "no-store" and json.loads(body)["token"]
    assert get(f"{stack.url}/users/{USER}/connections/twitter/extra/more")[0] == 404


def test_me_needs_a_session_token_from_the_issuer_for_the_audience(stack: LocalStack):
    url = f"{stack.url}/me/connections"
    assert get(url)[0] == 401
    assert get(url, {"Authorization": "Bearer not-a-jwt"})[0] == 401
    assert get(url, {"Authorization": f"Bearer {stack.session_token(USER, issuer='https://evil.example')}"})[0] == 401
    assert get(url, {"Authorization": f"Bearer {stack.session_token(USER, audience='another-app')}"})[0] == 401
    assert get(url, {"Authorization": f"Bearer {stack.session_token(USER, lifetime_seconds=-60)}"})[0] == 401
    status, _, body = get(url, {"Authorization": f"Bearer {stack.session_token(USER)}"})
    assert status == 200 and json.loads(body)["userId"] == USER
    assert get(url, {"Authorization": f"Bearer {stack.session_token('user_never_synced')}"})[0] == 404


def test_tokens_from_the_minting_route_verify_against_the_served_jwks(stack: LocalStack):
    status, _, minted = get(f"{stack.url}/_local/session-token?sub={USER}", method="POST")
    assert status == 200
    _, _, jwks = get(f"{stack.url}/.well-known/jwks.json")
    key = jwt.PyJWKSet.from_dict(json.loads(jwks)).keys[0]
    claims = jwt.decode(
        minted, key.key, algorithms=["RS256"], audience=read_template().parameters["SessionTokenAudience"]
    )
    assert claims["sub"] == USER and claims["iss"] == stack.url
    assert get(f"{stack.url}/me/connections", {"Authorization": f"Bearer {minted.decode()}"})[0] == 200


def test_cors_answers_only_the_apps_origin(stack: LocalStack):
    preflight = {"Origin": APP_ORIGIN, "Access-Control-Request-Method": "GET"}
    status, headers, _ = get(f"{stack.url}/me/connections", preflight, method="OPTIONS")
    assert status == 204 and headers["Access-Control-Allow-Origin"] == APP_ORIGIN
    assert "authorization" in headers["Access-Control-Allow-Headers"]
    other = {"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"}
    assert "Access-Control-Allow-Origin" not in get(f"{stack.url}/me/connections", other, method="OPTIONS")[1]
    token = stack.session_token(USER)
    _, headers, _ = get(f"{stack.url}/me/connections", {"Origin": APP_ORIGIN, "Authorization": f"Bearer {token}"})
    assert headers["Access-Control-Allow-Origin"] == APP_ORIGIN


def test_the_typed_client(stack: LocalStack):
    api = ConnectionsApiClient(stack.url)
    listed = api.connections(USER)
    assert [c.externalAccountId for c in listed.connections] == [ACCOUNT]
    assert api.report(USER, Platform.TWITTER, ACCOUNT, ok=False, error="rate limited").recorded == "failure"
    assert api.connections(USER).connections[0].lastError == "rate limited"
    assert api.report(USER, Platform.TWITTER, ACCOUNT, ok=True).recorded == "success"
    token = api.access_token(USER, Platform.TWITTER)
    assert token.token and token.externalAccountId == ACCOUNT and "token" not in repr(token).replace("AccessToken", "")
    with pytest.raises(ConnectionsApiError) as missing:
        api.connections("user_nobody")
    assert missing.value.status == 404
    stack.clerk_api.token_errors[(USER, "oauth_x")] = "oauth_missing_refresh_token"
    try:
        with pytest.raises(ConnectionsApiError) as refused:
            api.access_token(USER, Platform.TWITTER)
        assert refused.value.status == 409
    finally:
        del stack.clerk_api.token_errors[(USER, "oauth_x")]
    api.report(USER, Platform.TWITTER, ACCOUNT, ok=True)


def test_the_cli_through_the_api_and_on_the_table(stack: LocalStack, capsys: pytest.CaptureFixture[str]):
    assert cli(["report", USER, "twitter", ACCOUNT, "--error", "boom", "--api", stack.url]) == 0
    assert "recorded a failure" in capsys.readouterr().out
    assert cli(["connections", USER, "--api", stack.url]) == 0
    out = capsys.readouterr().out
    assert ACCOUNT in out and "through the API" in out
    assert (
        cli(
            [
                "report",
                USER,
                "twitter",
                ACCOUNT,
                "--ok",
                "--endpoint-url",
                stack.endpoint_url,
                "--table",
                stack.table_name,
            ]
        )
        == 0
    )
    assert cli(["report", USER, "twitter", "eac_nope", "--ok", "--api", stack.url]) == 1
    assert (
        cli(
            [
                "report",
                USER,
                "twitter",
                "eac_nope",
                "--ok",
                "--endpoint-url",
                stack.endpoint_url,
                "--table",
                stack.table_name,
            ]
        )
        == 1
    )
    assert [c["errorCount"] for c in json.loads(get(f"{stack.url}/users/{USER}/connections")[2])["connections"]] == [0]


def test_local_env_tells_a_shell_where_the_stack_is(stack: LocalStack):
    status, _, body = get(f"{stack.url}/_local/env")
    assert status == 200
    text = body.decode()
    assert f"export AWS_ENDPOINT_URL={stack.endpoint_url}" in text and f"CLERK_API_URL={stack.clerk_api.url}" in text


@pytest.mark.slow
@pytest.mark.skipif(not shutil.which("curl") or not shutil.which("bash"), reason="needs curl and bash")
def test_the_docs_make_dev_walkthrough_runs_as_written():
    """The shell blocks of docs/connections-api.md's `make dev` section, run against a fresh stack on another port."""
    section = DOCS.read_text(encoding="utf-8").split("## Try it on `make dev`")[1].split("\n## ")[0]
    blocks = re.findall(r"```\n(.*?)```", section, flags=re.DOTALL)
    script = "\n".join(line for block in blocks for line in block.splitlines() if not line.startswith("make dev"))
    with LocalStack(poll_interval=None) as fresh:
        script = script.replace("http://127.0.0.1:3000", fresh.url)
        completed = subprocess.run(  # noqa: S603 - our own documented commands, against a loopback stack
            ["bash", "-euo", "pipefail", "-c", script],  # noqa: S607
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
            env={**os.environ, "PATH": f"{REPO / '.venv/bin'}:{os.environ['PATH']}"},
        )
    assert completed.returncode == 0, completed.stdout[-2000:] + completed.stderr[-2000:]
    output = completed.stdout
    assert '"recorded": "failure"' in output and '"token": "fake-token-' in output
    assert "Cache-Control: no-store" in output and "HTTP/1.1 401" in output
    assert "recorded a success" in output and "recorded a failure" in output
