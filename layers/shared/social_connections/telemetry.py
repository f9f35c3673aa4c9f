"""Log lines and metrics of the two event-path functions (webhook, stream) at the cost they must have.

Same output as Powertools' Logger and Metrics (the JSON keys of its log lines, its EMF blobs, `POWERTOOLS_SERVICE_NAME`,
`POWERTOOLS_METRICS_NAMESPACE`, `POWERTOOLS_LOG_LEVEL`/`LOG_LEVEL`, `POWERTOOLS_METRICS_DISABLED`), written with one
line rendered directly and one EMF blob per invocation: Powertools cost about 30 times the floor per event here and
its import a fifth of the cold-start budget (docs/performance.md, B1 and B2). The other functions keep Powertools.
Lines are rendered from parts (strings escaped by the json module's own encoder): one `json.dumps` call costs about
20,000 instructions before it writes a byte, more than the rest of a line.
"""

from __future__ import annotations

import os
import sys
import time
import traceback
from collections.abc import Mapping
from typing import Final, Protocol

from social_connections.clock import now_millis, utc_parts
from social_connections.json_text import members, quote

LEVELS: Final = {"DEBUG": 10, "INFO": 20, "WARNING": 30, "ERROR": 40, "CRITICAL": 50}
_DISABLED_VALUES: Final = {"1", "true", "yes", "on"}


def _number(value: float) -> str:
    """A metric value as Powertools writes it (a float); counts are integers, whose text needs no float formatting."""
    return f"{value}.0" if type(value) is int else repr(float(value))


class LambdaContextLike(Protocol):
    """The attributes of Lambda's context object that the log lines carry."""

    function_name: str
    memory_limit_in_mb: int
    invoked_function_arn: str
    aws_request_id: str


def _level_from(environment: Mapping[str, str]) -> int:
    name = environment.get("POWERTOOLS_LOG_LEVEL") or environment.get("LOG_LEVEL") or "INFO"
    return LEVELS.get(name.upper(), LEVELS["INFO"])


class Telemetry:
    """One process's log context and the metrics of the current invocation (`start`, then `flush` at its end)."""

    def __init__(self, environment: Mapping[str, str] | None = None) -> None:
        env = os.environ if environment is None else environment
        self.service = env.get("POWERTOOLS_SERVICE_NAME") or "service_undefined"
        self.namespace = env.get("POWERTOOLS_METRICS_NAMESPACE") or "ClerkSocialConnections"
        self.level = _level_from(env)
        self.metrics_disabled = env.get("POWERTOOLS_METRICS_DISABLED", "").lower() in _DISABLED_VALUES
        self._cold_start = True
        self._keys: dict[str, object] = {}
        self._rendered_keys = ""  # _keys as JSON members, rendered once per change
        self._static_keys: dict[str, object] = {}
        self._static_context: tuple[str, int, str] | None = None
        self._directives: dict[tuple[tuple[tuple[str, ...], tuple[str, ...]], ...], str] = {}
        self._static_rendered = ""
        self._static_count = 0
        self._counts: dict[str, float] = {}
        self._by_dimension: dict[tuple[str, str, str], float] = {}

    def start(self, context: LambdaContextLike | None, correlation_id: str | None = None) -> None:
        """A new invocation: the context's keys on every line, no keys or metrics of the previous one."""
        static = (
            None
            if context is None
            else (context.function_name, context.memory_limit_in_mb, context.invoked_function_arn)
        )
        # These keys are the same in every invocation of a process: built and rendered once.
        if static != self._static_context or not self._static_keys:
            self._static_context = static
            self._static_keys = {"service": self.service}
            if static is not None:
                names = ("function_name", "function_memory_size", "function_arn")
                self._static_keys.update(zip(names, static, strict=True))
            self._static_rendered = members(self._static_keys)
        keys = {**self._static_keys, "cold_start": self._cold_start}
        self._cold_start = False
        if context is not None:
            keys["function_request_id"] = context.aws_request_id
        if correlation_id is not None:
            keys["correlation_id"] = correlation_id
        trace = os.environ.get("_X_AMZN_TRACE_ID")
        if trace is not None and trace.startswith("Root="):
            keys["xray_trace_id"] = trace[5:].split(";", 1)[0]
        self._keys = keys
        self._rendered_keys = ""  # rendered when the first line is written
        self._static_count = len(self._static_keys)
        self._counts = {}
        self._by_dimension = {}

    def append_keys(self, **fields: object) -> None:
        """Keys on every later line of this invocation (the delivery's svix id, say)."""
        self._keys.update(fields)
        self._rendered_keys = ""

    def debug(self, message: str, **fields: object) -> None:
        if self.level <= LEVELS["DEBUG"]:
            self._write("DEBUG", message, fields)

    def info(self, message: str, **fields: object) -> None:
        if self.level <= LEVELS["INFO"]:
            self._write("INFO", message, fields)

    def warning(self, message: str, **fields: object) -> None:
        if self.level <= LEVELS["WARNING"]:
            self._write("WARNING", message, fields)

    def error(self, message: str, **fields: object) -> None:
        self._write("ERROR", message, fields)

    def exception(self, message: str, **fields: object) -> None:
        """An ERROR line with the exception being handled, as Powertools' `logger.exception` writes it."""
        kind, error, _ = sys.exc_info()
        extra = dict(fields)
        if kind is not None:
            extra["exception"] = traceback.format_exc().rstrip()
            extra["exception_name"] = kind.__name__
            del error
        self._write("ERROR", message, extra)

    def count(self, name: str, value: float = 1) -> None:
        """Add to a count metric (dimension `service`) of this invocation."""
        self._counts[name] = self._counts.get(name, 0) + value

    def count_by(self, name: str, dimension: str, dimension_value: str, value: float = 1) -> None:
        """Add to a count metric with one more dimension; it shares the invocation's one EMF blob."""
        key = (name, dimension, dimension_value)
        self._by_dimension[key] = self._by_dimension.get(key, 0) + value

    def flush(self) -> None:
        """Write this invocation's metrics as one EMF blob (none when nothing was counted), then forget them; stdout
        is flushed here, once per invocation, so log lines are written without a flush each.

        A blob's dimension values live at its root, so a second value of one dimension needs a blob of its own.
        """
        counts, by_dimension = self._counts, self._by_dimension
        self._counts, self._by_dimension = {}, {}
        if self.metrics_disabled or not (counts or by_dimension):
            sys.stdout.flush()  # the invocation's log lines, written unflushed
            return
        groups: dict[tuple[str, str], dict[str, float]] = {}
        for (name, dimension, dimension_value), value in by_dimension.items():
            groups.setdefault((dimension, dimension_value), {})[name] = value
        blobs: list[tuple[list[str], dict[str, float], dict[str, object]]] = []
        if counts:
            blobs.append((["service"], counts, {}))
        for (dimension, dimension_value), named in groups.items():
            blobs.append(([dimension, "service"], named, {dimension: dimension_value}))
        # The plain counts and the first dimensioned group share one blob: one line for the common invocation.
        if len(blobs) > 1 and counts:
            first_dimensions, first_named, first_root = blobs.pop(1)
            self._emit([(["service"], counts), (first_dimensions, first_named)], first_root)
            blobs.pop(0)
        for dimensions, named, root in blobs:
            self._emit([(dimensions, named)], root)

    def _emit(self, directives: list[tuple[list[str], dict[str, float]]], root: dict[str, object]) -> None:
        shape = tuple((tuple(dimensions), tuple(named)) for dimensions, named in directives)
        rendered = self._directives.get(shape)
        if rendered is None:  # an invocation's metric names repeat: each set is rendered once per process
            rendered = self._directives[shape] = ",".join([self._directive(*part) for part in shape])
        counts = "".join([f',"{name}":[{_number(value)}]' for _, named in directives for name, value in named.items()])
        head = f'{{"_aws":{{"Timestamp":{int(time.time() * 1000)},"CloudWatchMetrics":[{rendered}]}}'
        print(head + members({"service": self.service, **root}) + counts + "}", flush=True)

    def _directive(self, dimensions: tuple[str, ...], names: tuple[str, ...]) -> str:
        metrics = ",".join([f'{{"Name":{quote(name)},"Unit":"Count"}}' for name in names])
        dimension_set = ",".join([quote(dimension) for dimension in dimensions])
        return f'{{"Namespace":{quote(self.namespace)},"Dimensions":[[{dimension_set}]],"Metrics":[{metrics}]}}'

    def _write(self, level: str, message: str, fields: Mapping[str, object]) -> None:
        caller = sys._getframe(2)  # the caller's function and line: Powertools' `location`
        day, clock, millis = utc_parts(now_millis())
        stamp = f"{day} {clock},{millis}+0000"
        location = f"{caller.f_code.co_name}:{caller.f_lineno}"
        head = f'{{"level":"{level}","location":{quote(location)},"message":{quote(message)},"timestamp":"{stamp}"'
        if not self._keys.keys().isdisjoint(fields):  # a field overrides an invocation key, as in Powertools
            print(head + members({**self._keys, **fields}) + "}")
            return
        if not self._rendered_keys:
            dynamic = dict(list(self._keys.items())[self._static_count :])
            self._rendered_keys = self._static_rendered + members(dynamic)
        print(head + self._rendered_keys + members(fields) + "}")
