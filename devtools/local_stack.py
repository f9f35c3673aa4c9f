"""The whole service on this machine with no AWS account and no Docker: `make dev` (`python -m devtools.local_stack`).

moto in server mode stands in for DynamoDB and its stream, Secrets Manager and SQS; `local_gateway` for the HTTP API;
`local_stream` for the stream's event source mapping; moto's EventBridge for the status-change bus, with a rule that
copies its events to a queue `make dev` prints. Both functions run in this process with the environment, routes
and stream settings that template.yaml gives them, the signing secret read from Secrets Manager as deployed.
Everything listens on 127.0.0.1 and every AWS client of the process points at moto with dummy credentials.
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import os
import signal
import socket
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from secrets import token_hex
from types import FrameType
from typing import Any, Final, Self

import boto3
from aws_lambda_powertools.utilities import parameters
from moto.dynamodb.models.table import StreamRecord
from moto.server import ThreadedMotoServer
from social_connections import container
from social_connections.cli.local_stack import LocalStackState
from social_connections.status_events import EVENT_SOURCE

from devtools.fake_clerk_api import FakeClerkApi, FakeClerkUsers
from devtools.local_console import LocalConsole
from devtools.local_gateway import LOOPBACK, HttpApiGateway, LocalServer
from devtools.local_jwt import LocalJwtIssuer
from devtools.local_state import remove_state, write_state
from devtools.local_stream import StreamPoller
from devtools.testkit.aws import ACCOUNT_ID, DUMMY_AWS_ENVIRONMENT, REGION, LambdaContextStub
from devtools.testkit.deliveries import new_secret
from devtools.testkit.table import StreamReader, table_items
from devtools.testkit.template import (
    TABLE_LOGICAL_ID,
    TEMPLATE_PATH,
    FunctionSpec,
    HttpRoute,
    References,
    Template,
    create_connections_table,
    function_environment,
    read_template,
)

logger = logging.getLogger("local-stack")

WEBHOOK_FUNCTION: Final = "ClerkWebhookFunction"
DEFAULT_PORT: Final = 3000
DEFAULT_POLL_SECONDS: Final = 0.25
# The fake Clerk's people: the user `make send` uses by default, and seeded ones (docs/reconciliation.md).
LOCAL_CLERK_USERS: Final = ("user_local",)
DEFAULT_SEEDED_CLERK_USERS: Final = 20
# The platform callbacks' secrets in moto's Secrets Manager, with the variable that gives a value of your own.
PLATFORM_SECRETS: Final = {"MetaAppSecret": "META_APP_SECRET", "TikTokClientSecret": "TIKTOK_CLIENT_SECRET"}


class LocalFunction:
    """One function of the template: imported on its first invocation (its cold start), then reused like a container."""

    # Both handlers log through one Powertools logger (same service name), so invocations must not overlap here.
    _invocation_lock: Final = threading.Lock()

    def __init__(self, spec: FunctionSpec) -> None:
        self.spec = spec
        self.arn = f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{spec.logical_id}"
        self._handler: Callable[[dict[str, Any], LambdaContextStub], Any] | None = None

    def invoke(self, event: dict[str, Any]) -> Any:
        with self._invocation_lock:
            if self._handler is None:
                self._handler = getattr(importlib.import_module(self.spec.module), self.spec.handler)
            started = time.monotonic()
            context = LambdaContextStub(
                function_name=self.spec.logical_id,
                memory_limit_in_mb=self.spec.memory_mb,
                invoked_function_arn=self.arn,
                timeout_seconds=self.spec.timeout_seconds,
                started=started,
            )
            result = self._handler(event, context)
            elapsed = time.monotonic() - started
            if elapsed > self.spec.timeout_seconds:
                logger.warning(
                    "%s took %.1f s, past its %d s timeout: Lambda would have stopped it",
                    self.spec.logical_id,
                    elapsed,
                    self.spec.timeout_seconds,
                )
            return result


def _share_stream_records_between_moto_copies() -> None:
    """moto deep-copies the table, stream records included, for every action of a TransactWriteItems: each delivery
    got ~2.5 ms slower per stored user. Records never change once written, so copies may share them (~0.5 ms)."""
    setattr(StreamRecord, "__deepcopy__", _same_record)  # noqa: B010 - patching a library class, on purpose


def _same_record(record: StreamRecord, _memo: dict[int, Any]) -> StreamRecord:
    return record


def _forget_clients() -> None:
    """Drop AWS clients built for another endpoint: the functions' container, and Powertools' secrets provider."""
    container.use(None)
    parameters.clear_caches()  # type: ignore[no-untyped-call]


class LocalStack:
    """moto + both functions + the HTTP API and stream stand-ins, started and stopped together (a context manager)."""

    def __init__(
        self,
        *,
        port: int = 0,
        moto_port: int = 0,
        secret: str | None = None,
        poll_interval: float | None = DEFAULT_POLL_SECONDS,
        parameter_overrides: Mapping[str, str] | None = None,
        template_path: Path = TEMPLATE_PATH,
        clerk_users: FakeClerkUsers | None = None,
        console: LocalConsole | None = None,
        platform_secrets: Mapping[str, str] | None = None,
    ) -> None:
        """`poll_interval=None` polls the stream only when `wait_for_stream_idle()` is called (deterministic tests);
        `console` prints one readable line per request and stream batch instead of the functions' raw lines."""
        self._console = console
        self.secret = secret or new_secret()
        # Local Meta app secret and TikTok client secret (by logical id), fresh unless given.
        self.platform_secrets = {name: "local_" + token_hex(16) for name in PLATFORM_SECRETS} | dict(
            platform_secrets or {}
        )
        self._port = port
        self._moto_port = moto_port
        self._poll_interval = poll_interval
        self._overrides = dict(parameter_overrides or {})
        self._template: Template = read_template(template_path)
        self._moto = ThreadedMotoServer(ip_address=LOOPBACK, port=moto_port, verbose=False)
        self._saved_environment: dict[str, str | None] = {}
        self._server: LocalServer | None = None
        self._pollers: list[StreamPoller] = []
        self._queue_urls: dict[str, str] = {}
        self._bus_tap_url = ""
        self.functions: dict[str, LocalFunction] = {}
        self.table_name = TABLE_LOGICAL_ID
        self.endpoint_url = ""
        # The fake Clerk Backend API; its key is the value of the stack's ClerkSecretKey secret.
        users = clerk_users or FakeClerkUsers.seeded(DEFAULT_SEEDED_CLERK_USERS, extra_ids=LOCAL_CLERK_USERS)
        self.clerk_api = FakeClerkApi(users)
        self._clerk_api_running = False
        self._gateway: HttpApiGateway | None = None

    # ---- lifecycle -------------------------------------------------------------------------------------------------

    def start(self) -> Self:
        # moto's server logs every request it serves through werkzeug's logger; the gateway has its own.
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        _share_stream_records_between_moto_copies()
        if self._moto_port:
            # moto's server thread dies silently on a port in use and start() then waits forever; fail here instead.
            with socket.socket() as probe:
                probe.bind((LOOPBACK, self._moto_port))
        self._moto.start()
        host, port = self._moto.get_host_and_port()
        self.endpoint_url = f"http://{host}:{port}"
        try:
            self._point_aws_at_moto()
            self._reset_moto()
            self.clerk_api.__enter__()
            self._clerk_api_running = True
            self._overrides.setdefault("ClerkApiUrl", self.clerk_api.url)
            references = self._create_resources()
            self._set_environment(function_environment(references, template=self._template))
            _forget_clients()
            self.functions = {name: LocalFunction(spec) for name, spec in self._template.functions.items()}
            self._gateway = self._http_api(references)
            gateway = self._gateway
            self._server = LocalServer(self._console.gateway(gateway) if self._console else gateway, self._port)
            # Locally the session tokens' issuer is this gateway (it serves the JWKS), as Clerk's Frontend API is.
            self._gateway.jwt_issuer = LocalJwtIssuer(self._server.url, self._jwt_audience(references))
            self._gateway.shell_environment = self._shell_environment()
            self._pollers = self._stream_pollers(references)
            self._server.start()
            if self._poll_interval is not None:
                for poller in self._pollers:
                    poller.start(self._poll_interval)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        for poller in self._pollers:
            poller.stop()
        self._pollers = []
        if self._server is not None:
            self._server.stop()
            self._server = None
        if self._clerk_api_running:
            self.clerk_api.__exit__()
            self._clerk_api_running = False
        if self.endpoint_url:
            self._reset_moto()
            self._moto.stop()
            self.endpoint_url = ""
        self._restore_environment()
        _forget_clients()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    # ---- what callers use ------------------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the local stack is not running")
        return self._server.url

    @property
    def webhook_url(self) -> str:
        route = self._template.functions[WEBHOOK_FUNCTION].routes[0]
        return self.url + route.path

    def session_token(self, user_id: str, **claims: Any) -> str:
        """A session token for `user_id` signed by this stack's key, as Clerk issues them (iss/aud overridable)."""
        if self._gateway is None or self._gateway.jwt_issuer is None:
            raise RuntimeError("the local stack is not running")
        return self._gateway.jwt_issuer.mint(user_id, **claims)

    def wait_for_stream_idle(self, timeout_seconds: float = 60.0) -> int:
        """Deliver every stream record written so far (and those the stream function writes in turn).

        Works with or without the background poller; returns how many records were read, raises TimeoutError."""
        return sum(poller.drain(timeout_seconds) for poller in self._pollers)

    @property
    def stream_pollers(self) -> list[StreamPoller]:
        return list(self._pollers)

    def table_items(self) -> list[dict[str, Any]]:
        """Every item of the connections table as plain Python values, sorted by key."""
        return table_items(self.table_name)

    def bus_events(self) -> list[dict[str, Any]]:
        """Events that reached the local bus since the last call (the stand-in's tap queue, emptied as read)."""
        if not self._bus_tap_url:
            return []
        sqs = boto3.client("sqs")
        found: list[dict[str, Any]] = []
        while messages := sqs.receive_message(QueueUrl=self._bus_tap_url, MaxNumberOfMessages=10).get("Messages"):
            for message in messages:
                found.append(json.loads(message["Body"]))
                sqs.delete_message(QueueUrl=self._bus_tap_url, ReceiptHandle=message["ReceiptHandle"])
        return found

    def dead_letters(self) -> list[dict[str, Any]]:
        """Messages waiting in the stream's failure destination queue(s)."""
        sqs = boto3.client("sqs")
        found: list[dict[str, Any]] = []
        for url in self._queue_urls.values():
            messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=0)
            found.extend(json.loads(message["Body"]) for message in messages.get("Messages", []))
        return found

    # ---- setup -----------------------------------------------------------------------------------------------------

    def _set_environment(self, values: Mapping[str, str | None]) -> None:
        """Set (or, for None, remove) variables, remembering the first value seen so stop() puts it back."""
        for name, value in values.items():
            self._saved_environment.setdefault(name, os.environ.get(name))
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value

    def _restore_environment(self) -> None:
        for name, value in self._saved_environment.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        self._saved_environment = {}

    def _point_aws_at_moto(self) -> None:
        # Service-specific endpoints and profiles would win over AWS_ENDPOINT_URL and could lead to a real account.
        unset: dict[str, str | None] = {
            name: None
            for name in os.environ
            if name.startswith("AWS_ENDPOINT_URL_") or name in {"AWS_PROFILE", "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS"}
        }
        # The secret is read from Secrets Manager as in the deployed stack, not from the direct variable.
        self._set_environment({**unset, "CLERK_WEBHOOK_SECRET": None, "AWS_ENDPOINT_URL": self.endpoint_url})
        self._set_environment(DUMMY_AWS_ENVIRONMENT)

    def _reset_moto(self) -> None:
        # moto's documented reset endpoint; a loopback URL this class built, hence the S310 waivers.
        request = urllib.request.Request(f"{self.endpoint_url}/moto-api/reset", method="POST")  # noqa: S310
        with urllib.request.urlopen(request, timeout=10):  # noqa: S310
            pass

    def _create_resources(self) -> References:
        """The template's table, secret and queues in moto, and what Ref/GetAtt give for each locally."""
        refs: dict[str, str] = {
            name: str(value) for name, value in {**self._template.parameters, **self._overrides}.items()
        }
        attributes: dict[tuple[str, str], str] = {}
        dynamodb = boto3.client("dynamodb")
        attributes[(TABLE_LOGICAL_ID, "StreamArn")] = create_connections_table(dynamodb, self.table_name)
        attributes[(TABLE_LOGICAL_ID, "Arn")] = dynamodb.describe_table(TableName=self.table_name)["Table"]["TableArn"]
        refs[TABLE_LOGICAL_ID] = self.table_name
        secrets = boto3.client("secretsmanager")
        for logical_id in self._template.resources_of_type("AWS::SecretsManager::Secret"):
            value = self.clerk_api.secret_key if logical_id == "ClerkSecretKey" else self.secret
            value = self.platform_secrets.get(logical_id, value)
            refs[logical_id] = secrets.create_secret(Name=logical_id, SecretString=value)["ARN"]
        sqs = boto3.client("sqs")
        for logical_id in self._template.resources_of_type("AWS::SQS::Queue"):
            queue_url = sqs.create_queue(QueueName=logical_id)["QueueUrl"]
            queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]
            refs[logical_id] = queue_url
            attributes[(logical_id, "Arn")] = queue_arn["QueueArn"]
            self._queue_urls[queue_arn["QueueArn"]] = queue_url
        for logical_id in self._template.functions:
            refs[logical_id] = logical_id
            attributes[(logical_id, "Arn")] = f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{logical_id}"
        references = References(refs=refs, attributes=attributes, conditions=self._template.conditions)
        self._create_event_buses(refs, references)
        return references

    def _create_event_buses(self, refs: dict[str, str], references: References) -> None:
        """The template's bus in moto's EventBridge, and a rule that copies its events to a queue `make dev` prints."""
        events, sqs = boto3.client("events"), boto3.client("sqs")
        for logical_id in self._template.resources_of_type("AWS::Events::EventBus"):
            condition = self._template.resources[logical_id].get("Condition")
            if condition and not references.holds(condition):
                continue
            refs[logical_id] = logical_id
            events.create_event_bus(Name=logical_id)
            self._bus_tap_url = sqs.create_queue(QueueName=f"{logical_id}-tap")["QueueUrl"]
            tap_arn = sqs.get_queue_attributes(QueueUrl=self._bus_tap_url, AttributeNames=["QueueArn"])["Attributes"]
            events.put_rule(
                Name="local-tap", EventBusName=logical_id, EventPattern=json.dumps({"source": [EVENT_SOURCE]})
            )
            events.put_targets(
                Rule="local-tap", EventBusName=logical_id, Targets=[{"Id": "tap", "Arn": tap_arn["QueueArn"]}]
            )

    def _routes(self) -> dict[HttpRoute, Callable[[dict[str, Any]], Any]]:
        return {route: function.invoke for function in self.functions.values() for route in function.spec.routes}

    def _shell_environment(self) -> dict[str, str]:
        """What `clerk-connections` needs to reach this stack from another shell (dummy credentials, fake Clerk key)."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint_url,
            **DUMMY_AWS_ENVIRONMENT,
            "TABLE_NAME": self.table_name,
            "CLERK_API_URL": self.clerk_api.url,
            "CLERK_SECRET_KEY": self.clerk_api.secret_key,
        }

    def _http_api(self, references: References) -> HttpApiGateway:
        authorizers = {
            route: name for function in self.functions.values() for route, name in function.spec.route_authorizers
        }
        cors = self._http_api_properties().get("CorsConfiguration", {})
        origins = [references.resolve(origin) for origin in cors.get("AllowOrigins", [])]
        return HttpApiGateway(self._routes(), authorizers=authorizers, cors_origins=origins)

    def _jwt_audience(self, references: References) -> str:
        authorizers = self._http_api_properties().get("Auth", {}).get("Authorizers", {})
        for authorizer in authorizers.values():
            audience = authorizer.get("JwtConfiguration", {}).get("audience", [])
            if audience:
                return references.resolve(audience[0])
        return "local"

    def _http_api_properties(self) -> dict[str, Any]:
        for logical_id in self._template.resources_of_type("AWS::Serverless::HttpApi"):
            return dict(self._template.resources[logical_id].get("Properties", {}))
        return {}

    def _stream_pollers(self, references: References) -> list[StreamPoller]:
        streams = boto3.client("dynamodbstreams")
        pollers: list[StreamPoller] = []
        for function in self.functions.values():
            for mapping in function.spec.streams:
                stream_arn = references.resolve(mapping.stream)
                destination = mapping.on_failure_destination
                invoke: Callable[[dict[str, Any]], Any] = function.invoke
                if self._console is not None:
                    invoke = self._console.stream(function.spec.logical_id, invoke)
                pollers.append(
                    StreamPoller(
                        StreamReader(streams, stream_arn),
                        mapping,
                        invoke,
                        self._dead_letter_sender(references.resolve(destination) if destination else None),
                        stream_arn=stream_arn,
                        function_arn=function.arn,
                    )
                )
        return pollers

    def _dead_letter_sender(self, queue_arn: str | None) -> Callable[[dict[str, Any]], None]:
        queue_url = self._queue_urls.get(queue_arn or "")

        def send(message: dict[str, Any]) -> None:
            if queue_url is None:
                logger.error("stream batch dropped (no failure destination): %s", json.dumps(message))
                return
            boto3.client("sqs").send_message(QueueUrl=queue_url, MessageBody=json.dumps(message))

        return send


@contextmanager
def start_local_stack(port: int = DEFAULT_PORT, **options: Any) -> Iterator[LocalStack]:
    """`with start_local_stack(port=0) as stack:` a running stack, stopped on exit (options as for LocalStack)."""
    with LocalStack(port=port, **options) as stack:
        yield stack


# ---- make dev ------------------------------------------------------------------------------------------------------


def _parameter(text: str) -> tuple[str, str]:
    name, separator, value = text.partition("=")
    if not separator or not name:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text!r}")
    return name, value


def _banner(stack: LocalStack, state: Path, *, secret_exported: bool) -> str:
    secret = "your exported CLERK_WEBHOOK_SECRET" if secret_exported else f"generated, kept in {state} (mode 600)"
    aws = f"AWS_ENDPOINT_URL={stack.endpoint_url} AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing"
    return "\n".join(
        [
            "Local stack running (no AWS account, no Docker; everything on 127.0.0.1). Ctrl-C stops it.",
            f"  webhook   POST {stack.webhook_url}",
            f"  secret    {secret}",
            f"  state     {state}: make send, make connections, make table and `clerk-connections --local` find "
            "this stack from it",
            "  try       make send EXAMPLE=created USER_ID=user_local     (in another shell, in this directory)",
            "            make connections USER_ID=user_local    make table",
            f"  platforms POST {stack.url}/platforms/meta/data-deletion (GET .../<code>), "
            f"POST {stack.url}/platforms/tiktok/webhook",
            "            .venv/bin/python -m devtools.platform_send meta-deletion --user-id 3506164961   "
            "(local secrets; docs/platform-callbacks.md)",
            f"  moto      {stack.endpoint_url} (table {stack.table_name}, region {REGION}, any access key)",
            f"  clerk     fake Backend API at {stack.clerk_api.url} ({len(stack.clerk_api.users.users)} users)",
            f"  api       GET {stack.url}/users/user_local/connections   (docs/connections-api.md)",
            f"  token     curl -s -X POST '{stack.url}/_local/session-token?sub=user_local'   (for /me)",
            f"  reconcile {aws} AWS_DEFAULT_REGION={REGION} TABLE_NAME={stack.table_name} "
            f"CLERK_API_URL={stack.clerk_api.url} CLERK_SECRET_KEY={stack.clerk_api.secret_key} "
            ".venv/bin/clerk-connections reconcile --dry-run",
            "  health    .venv/bin/clerk-connections health --local   (connections in expired or error)",
            "  events    Connection Status Changed events on the local bus are printed below as they arrive",
            "One line per request and stream batch follows (--json: the functions' raw log lines).",
        ]
    )


def _port_taken(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind((LOOPBACK, port))
        except OSError:
            return True
    return False


def busy_port_message(port: int) -> str:
    """Says so at once, before moto starts, with a port that is free now."""
    free = next((candidate for candidate in range(port + 1, port + 50) if not _port_taken(candidate)), 0)
    return (
        f"port {port} on {LOOPBACK} is already in use (another make dev?). "
        f"Use another one: make dev PORT={free}   (make send and make connections follow it through the state file)"
    )


def _event_line(event: Mapping[str, Any]) -> str:
    detail = event.get("detail", {})
    change = f"{detail.get('from')} -> {detail.get('to')}"
    where = f"{detail.get('userId')} {detail.get('platform')} {detail.get('externalAccountId')}"
    return f"bus event  {event.get('detail-type')}: {where} {change} (errorCount {detail.get('errorCount')})"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog=".venv/bin/python -m devtools.local_stack", description="Run the service on moto."
    )
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="webhook port on 127.0.0.1 (0: any free one)")
    parser.add_argument("--moto-port", type=int, default=0, help="moto's port on 127.0.0.1 (0: any free one)")
    parser.add_argument("--poll-interval", type=float, default=DEFAULT_POLL_SECONDS, help="stream poll period, s")
    parser.add_argument(
        "--parameter", type=_parameter, action="append", default=[], help="template parameter override NAME=VALUE"
    )
    parser.add_argument("--json", action="store_true", help="print the functions' raw Powertools and EMF lines")
    args = parser.parse_args(argv)
    if args.port and _port_taken(args.port):
        print(busy_port_message(args.port), file=sys.stderr)
        return 1
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    logging.getLogger("botocore").setLevel(logging.WARNING)
    console = None if args.json else LocalConsole()
    if console is not None:
        console.install()
        logging.getLogger("local-gateway").setLevel(logging.WARNING)  # the console prints each request instead
    # Your own Clerk development secret, if exported, so a tunnelled Clerk instance can deliver here too.
    secret = os.environ.get("CLERK_WEBHOOK_SECRET", "").strip() or None
    own = {name: os.environ.get(variable, "").strip() for name, variable in PLATFORM_SECRETS.items()}
    stopping = threading.Event()

    def request_stop(_signal: int, _frame: FrameType | None) -> None:
        stopping.set()

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    with LocalStack(
        port=args.port,
        moto_port=args.moto_port,
        secret=secret,
        poll_interval=args.poll_interval,
        parameter_overrides=dict(args.parameter),
        console=console,
        platform_secrets={name: value for name, value in own.items() if value},
    ) as stack:
        state = LocalStackState(
            os.getpid(),
            stack.webhook_url,
            stack.endpoint_url,
            stack.table_name,
            REGION,
            None if secret else stack.secret,
        )
        path = write_state(state)
        try:
            print(_banner(stack, path, secret_exported=bool(secret)), flush=True)
            while not stopping.wait(0.5):
                for event in stack.bus_events():
                    print(_event_line(event), flush=True)
        finally:
            remove_state(path, state.pid)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
