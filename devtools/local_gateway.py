"""A stand-in for the HTTP API in front of the webhook: the template's routes, payload format 2.0, on 127.0.0.1 only.

Each request becomes the event API Gateway would send (header names lower-cased, repeated headers comma-joined,
binary bodies base64-encoded), and the function's answer becomes the HTTP response. Unrouted requests get the
HTTP API's own 404, a function that raises gets its 500. Routes with `{name}` segments match as API Gateway's do
(the event carries the matched routeKey and pathParameters). A route's authorizer is played as well: a JWT one
checks the bearer token against the local issuer's key (`local_jwt`), AWS_IAM routes accept unsigned calls (locally
only; deployed, API Gateway demands SigV4). The local issuer's JWKS and a token minting route for `make dev` are
served under /.well-known/jwks.json and POST /_local/session-token?sub=USER_ID; GET /_local/env gives `export`
lines for a developer's shell.
"""

from __future__ import annotations

import base64
import json
import logging
import shlex
import threading
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, Final

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

from devtools.local_jwt import LocalJwtIssuer
from devtools.testkit.deliveries import http_api_event
from devtools.testkit.template import HttpRoute

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

logger = logging.getLogger("local-gateway")

LOOPBACK: Final = "127.0.0.1"
# HTTP API's payload quota; the function applies its own, smaller limit.
MAX_PAYLOAD_BYTES: Final = 10 * 1024 * 1024
_TEXT_TYPES: Final = ("text/", "application/json", "application/xml", "application/javascript")

Invoke = Callable[[dict[str, Any]], Any]


def _is_text(content_type: str | None) -> bool:
    media_type = (content_type or "").split(";", 1)[0].strip().lower()
    return media_type.startswith(_TEXT_TYPES) or media_type.endswith(("+json", "+xml"))


def _utf8(body: bytes) -> str | None:
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _joined_headers(pairs: Iterable[tuple[str, str]]) -> dict[str, str]:
    headers: dict[str, str] = {}
    for name, value in pairs:
        key = name.lower()
        headers[key] = f"{headers[key]},{value}" if key in headers else value
    return headers


def api_event(request: Request, body: bytes, route: HttpRoute | None = None) -> dict[str, Any]:
    """The payload format 2.0 event API Gateway would build from this request, matched to `route`."""
    headers = _joined_headers(request.headers.items())
    cookie_header = headers.pop("cookie", None)
    text = _utf8(body) if _is_text(request.content_type) else None
    route = route or HttpRoute(request.method, request.path)
    event = http_api_event(
        body if text is None else text,
        headers,
        base64_encoded=text is None,
        path=request.path,
        method=request.method,
        route_key=f"{route.method} {route.path}",  # the template's route, as API Gateway names it
    )
    event["rawQueryString"] = request.query_string.decode("latin-1")
    if request.args:
        event["queryStringParameters"] = {name: ",".join(request.args.getlist(name)) for name in request.args}
    if cookie_header:
        event["cookies"] = [cookie.strip() for cookie in cookie_header.split(";") if cookie.strip()]
    event["requestContext"]["http"]["sourceIp"] = request.remote_addr or LOOPBACK
    # API Gateway adds these; functions build absolute URLs from them (plain http here).
    event["headers"].setdefault("x-forwarded-proto", "http")
    event["headers"].setdefault("x-forwarded-for", request.remote_addr or LOOPBACK)
    return event


def path_parameters(route: HttpRoute, method: str, path: str) -> dict[str, str] | None:
    """The `{name}` segments of a route matching this request, or None when it does not match."""
    route_parts, parts = route.path.split("/"), path.split("/")
    if route.method != method or len(route_parts) != len(parts):
        return None
    found: dict[str, str] = {}
    for pattern, part in zip(route_parts, parts, strict=True):
        if pattern.startswith("{") and pattern.endswith("}") and part:
            found[pattern[1:-1]] = part
        elif pattern != part:
            return None
    return found


def _message(status: int, message: str) -> Response:
    return Response(json.dumps({"message": message}), status=status, content_type="application/json")


def http_response(result: Any) -> Response:
    """The HTTP response for a payload format 2.0 function result."""
    if not isinstance(result, Mapping) or "statusCode" not in result:
        # Format 2.0 treats any other JSON value as a 200 body.
        return Response(json.dumps(result), status=200, content_type="application/json")
    body = result.get("body") or ""
    payload = base64.b64decode(body) if result.get("isBase64Encoded") else str(body).encode("utf-8")
    response = Response(payload, status=int(result["statusCode"]), headers=dict(result.get("headers") or {}))
    for cookie in result.get("cookies") or []:
        response.headers.add("Set-Cookie", cookie)
    return response


class HttpApiGateway:
    """WSGI app: routes requests to functions as the template's HttpApi events declare them."""

    def __init__(
        self,
        routes: Mapping[HttpRoute, Invoke],
        *,
        authorizers: Mapping[HttpRoute, str] | None = None,
        jwt_issuer: LocalJwtIssuer | None = None,
        cors_origins: Iterable[str] = (),
    ) -> None:
        self._routes = dict(routes)
        self._authorizers = dict(authorizers or {})
        self.jwt_issuer = jwt_issuer
        self._cors_origins = frozenset(cors_origins)
        # `export` lines for a developer's shell (GET /_local/env): where the local stack's pieces listen.
        self.shell_environment: dict[str, str] = {}

    def _match(self, method: str, path: str) -> tuple[HttpRoute, Invoke, dict[str, str]] | None:
        exact = HttpRoute(method, path)
        if exact in self._routes:
            return exact, self._routes[exact], {}
        for route, invoke in self._routes.items():
            parameters = path_parameters(route, method, path)
            if parameters is not None:
                return route, invoke, parameters
        return None

    def dispatch(self, request: Request) -> Response:
        local = self._local_route(request)
        if local is not None:
            return local
        matched = self._match(request.method, request.path)
        if matched is None:
            return _message(404, "Not Found")
        route, invoke, parameters = matched
        if (request.content_length or 0) > MAX_PAYLOAD_BYTES:
            return _message(413, "Request Entity Too Large")
        authorizer = self._authorize(route, request)
        if authorizer is None:
            return self._cors(request, _message(401, "Unauthorized"))
        event = api_event(request, request.get_data(cache=False), route)
        if parameters:
            event["pathParameters"] = parameters
        if authorizer:
            event["requestContext"]["authorizer"] = authorizer
        try:
            result = invoke(event)
        except Exception:
            logger.exception("function failed on %s %s", request.method, request.path)
            return _message(500, "Internal Server Error")
        return self._cors(request, http_response(result))

    def _authorize(self, route: HttpRoute, request: Request) -> dict[str, Any] | None:
        """What API Gateway puts in requestContext.authorizer ({} for an open route), or None: a 401."""
        name = self._authorizers.get(route)
        if name is None:
            return {}
        if name == "AWS_IAM":
            # Locally unsigned calls pass; deployed, API Gateway rejects them before the function runs.
            return {"iam": {"accountId": "local", "userArn": "local", "callerId": "local"}}
        claims = self.jwt_issuer.verify(request.headers.get("Authorization")) if self.jwt_issuer else None
        if claims is None:
            return None
        return {"jwt": {"claims": {key: str(value) for key, value in claims.items()}, "scopes": None}}

    def _local_route(self, request: Request) -> Response | None:
        if request.method == "OPTIONS" and request.headers.get("Access-Control-Request-Method"):
            return self._cors(request, Response(status=204))
        if (request.method, request.path) == ("GET", "/_local/env"):
            lines = [f"export {name}={shlex.quote(value)}" for name, value in self.shell_environment.items()]
            return Response("\n".join(lines) + "\n", content_type="text/plain")
        return self._token_route(request)

    def _token_route(self, request: Request) -> Response | None:
        """The local issuer's JWKS, and session tokens minted for a `sub` (what Clerk's Frontend API does)."""
        if self.jwt_issuer is None:
            return None
        if (request.method, request.path) == ("GET", "/.well-known/jwks.json"):
            return Response(json.dumps(self.jwt_issuer.jwks()), content_type="application/json")
        if (request.method, request.path) != ("POST", "/_local/session-token"):
            return None
        subject = request.args.get("sub", "")
        if not subject:
            return _message(400, "sub is required")
        return Response(self.jwt_issuer.mint(subject), content_type="text/plain")

    def _cors(self, request: Request, response: Response) -> Response:
        """API Gateway's CORS answer: headers only for an allowed origin, never a wildcard."""
        origin = request.headers.get("Origin")
        if origin and origin in self._cors_origins:
            response.headers["Access-Control-Allow-Origin"] = origin
            response.headers["Vary"] = "Origin"
            if request.method == "OPTIONS":
                response.headers["Access-Control-Allow-Methods"] = "GET"
                response.headers["Access-Control-Allow-Headers"] = "authorization"
                response.headers["Access-Control-Max-Age"] = "600"
        return response

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        return self.dispatch(Request(environ))(environ, start_response)


class _RequestLog(WSGIRequestHandler):
    """Access lines go to the gateway's logger, apart from moto's own server lines (werkzeug's logger)."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        logger.info('"%s" %s %s', self.requestline, code, size)

    def log(self, type: str, message: str, *args: Any) -> None:
        getattr(logger, type, logger.info)(message, *args)


class LocalServer:
    """A threaded WSGI server on the loopback interface, run in a daemon thread."""

    def __init__(self, app: Callable[[WSGIEnvironment, StartResponse], Iterable[bytes]], port: int) -> None:
        self._server: BaseWSGIServer = make_server(LOOPBACK, port, app, threaded=True, request_handler=_RequestLog)
        # A short poll keeps stop() quick; serve_forever otherwise checks for shutdown every 0.5 s.
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="local-gateway", daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self._server.server_port}"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()
