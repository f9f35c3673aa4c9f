"""template.yaml as the tests, the local stack and the benchmarks read it: one source of truth for table and functions.

The template is parsed with CloudFormation intrinsics kept as long-form dicts ({"Ref": ...}, {"Fn::GetAtt": [...]}),
as SAM itself reads it, so references can be resolved to local stand-ins of the resources they name.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, NamedTuple, cast

import yaml
from samtranslator.yaml_helper import intrinsics_multi_constructor  # type: ignore[import-untyped]

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import CreateTableInputTypeDef

TEMPLATE_PATH: Final = Path(__file__).resolve().parents[2] / "template.yaml"
TABLE_LOGICAL_ID: Final = "ConnectionsTable"
# What CloudFormation's pseudo parameters are locally (the service name and layer are named after the stack).
LOCAL_PSEUDO_PARAMETERS: Final = {"AWS::StackName": "clerk-social-connections-local"}


class _IntrinsicsLoader(yaml.SafeLoader):
    """SafeLoader that turns short-form tags into long-form intrinsics, as SAM itself reads the template."""


# Registered on a private subclass: samtranslator's own yaml_parse registers it on yaml.SafeLoader for every caller.
_IntrinsicsLoader.add_multi_constructor("!", intrinsics_multi_constructor)


class UnresolvableReferenceError(ValueError):
    """The template refers to something that has no local stand-in."""


def load_template(path: Path = TEMPLATE_PATH) -> dict[str, Any]:
    """The template as a dict, intrinsics in long form."""
    with path.open(encoding="utf-8") as handle:
        return cast("dict[str, Any]", yaml.load(handle, Loader=_IntrinsicsLoader))  # noqa: S506 - SafeLoader subclass


class HttpRoute(NamedTuple):
    """An `HttpApi` event of a function: the route API Gateway sends to it."""

    method: str
    path: str


@dataclass(frozen=True, slots=True)
class StreamMapping:
    """A DynamoDB event source of a function, with the settings the local poller honours."""

    stream: Any
    batch_size: int = 100
    filter_patterns: tuple[str, ...] = ()
    maximum_retry_attempts: int = -1
    bisect_on_error: bool = False
    report_batch_item_failures: bool = False
    on_failure_destination: Any = None


@dataclass(frozen=True, slots=True)
class FunctionSpec:
    logical_id: str
    module: str
    handler: str
    timeout_seconds: int
    memory_mb: int
    environment: dict[str, Any]
    routes: tuple[HttpRoute, ...] = ()
    streams: tuple[StreamMapping, ...] = ()
    # The routes that name an authorizer (`Auth.Authorizer`: a JWT authorizer's name, or AWS_IAM).
    route_authorizers: tuple[tuple[HttpRoute, str], ...] = ()


@dataclass(frozen=True)
class Template:
    parameters: dict[str, Any]
    resources: dict[str, Any]
    functions: dict[str, FunctionSpec] = field(default_factory=dict)
    conditions: dict[str, Any] = field(default_factory=dict)

    def resources_of_type(self, resource_type: str) -> list[str]:
        return [name for name, resource in self.resources.items() if resource.get("Type") == resource_type]

    def table_properties(self) -> dict[str, Any]:
        return cast("dict[str, Any]", self.resources[TABLE_LOGICAL_ID]["Properties"])


def _module_for(code_uri: str, handler: str) -> tuple[str, str]:
    """`functions/clerk_webhook/` + `app.lambda_handler` -> (`functions.clerk_webhook.app`, `lambda_handler`)."""
    module_file, _, function_name = handler.rpartition(".")
    package = ".".join(part for part in Path(code_uri).parts if part not in {".", ""})
    return f"{package}.{module_file}" if package else module_file, function_name


def _stream_mapping(properties: Mapping[str, Any]) -> StreamMapping:
    filters = properties.get("FilterCriteria", {}).get("Filters", [])
    on_failure = properties.get("DestinationConfig", {}).get("OnFailure", {}).get("Destination")
    return StreamMapping(
        stream=properties["Stream"],
        batch_size=int(properties.get("BatchSize", 100)),
        filter_patterns=tuple(str(item["Pattern"]) for item in filters),
        maximum_retry_attempts=int(properties.get("MaximumRetryAttempts", -1)),
        bisect_on_error=bool(properties.get("BisectBatchOnFunctionError", False)),
        report_batch_item_failures="ReportBatchItemFailures" in properties.get("FunctionResponseTypes", []),
        on_failure_destination=on_failure,
    )


def _function_spec(logical_id: str, properties: Mapping[str, Any], globals_: Mapping[str, Any]) -> FunctionSpec:
    # SAM merges Globals into each function: maps merge, scalars are overridden by the function's own value.
    merged = {**globals_, **properties}
    environment = {
        **globals_.get("Environment", {}).get("Variables", {}),
        **properties.get("Environment", {}).get("Variables", {}),
    }
    module, handler = _module_for(str(merged["CodeUri"]), str(merged["Handler"]))
    routes: list[HttpRoute] = []
    streams: list[StreamMapping] = []
    authorizers: list[tuple[HttpRoute, str]] = []
    for event in properties.get("Events", {}).values():
        event_properties = event.get("Properties", {})
        if event["Type"] == "HttpApi":
            routes.append(HttpRoute(str(event_properties["Method"]).upper(), str(event_properties["Path"])))
            authorizer = event_properties.get("Auth", {}).get("Authorizer")
            if authorizer:
                authorizers.append((routes[-1], str(authorizer)))
        elif event["Type"] == "DynamoDB":
            streams.append(_stream_mapping(event_properties))
    return FunctionSpec(
        logical_id=logical_id,
        module=module,
        handler=handler,
        timeout_seconds=int(merged.get("Timeout", 3)),
        memory_mb=int(merged.get("MemorySize", 128)),
        environment=environment,
        routes=tuple(routes),
        streams=tuple(streams),
        route_authorizers=tuple(authorizers),
    )


@cache
def read_template(path: Path = TEMPLATE_PATH) -> Template:
    """The parameters (with defaults), resources and functions of the template, read once per process."""
    template = load_template(path)
    resources: dict[str, Any] = template.get("Resources", {})
    function_globals: dict[str, Any] = template.get("Globals", {}).get("Function", {})
    functions = {
        name: _function_spec(name, resource.get("Properties", {}), function_globals)
        for name, resource in resources.items()
        if resource.get("Type") == "AWS::Serverless::Function"
    }
    parameters = {name: spec.get("Default") for name, spec in template.get("Parameters", {}).items()}
    conditions: dict[str, Any] = template.get("Conditions", {})
    return Template(parameters=parameters, resources=resources, functions=functions, conditions=conditions)


@dataclass(frozen=True)
class References:
    """Values that `Ref` and `Fn::GetAtt` take locally: parameter values and the local resources' names and ARNs."""

    refs: Mapping[str, str]
    attributes: Mapping[tuple[str, str], str] = field(default_factory=dict)
    # The template's Conditions section (long form); `Fn::If` is resolved with it.
    conditions: Mapping[str, Any] = field(default_factory=lambda: read_template().conditions)

    def resolve(self, value: Any) -> str:
        if isinstance(value, (str, int, float)) and not isinstance(value, bool):
            return str(value)
        if isinstance(value, Mapping) and len(value) == 1:
            (intrinsic, argument), *_ = value.items()
            if intrinsic == "Ref" and argument in self.refs:
                return self.refs[argument]
            if intrinsic == "Ref" and argument in LOCAL_PSEUDO_PARAMETERS:
                return LOCAL_PSEUDO_PARAMETERS[argument]
            if intrinsic == "Fn::GetAtt" and tuple(argument) in self.attributes:
                return self.attributes[tuple(argument)]
            if intrinsic == "Fn::If":
                name, when_true, when_false = argument
                return self.resolve(when_true if self.holds(name) else when_false)
        raise UnresolvableReferenceError(f"no local value for {value!r}")

    def holds(self, condition: str) -> bool:
        """A condition of the template, evaluated on these references (Fn::Equals, Fn::Not, Condition)."""
        return self._evaluate(self.conditions[condition])

    def _evaluate(self, expression: Any) -> bool:
        (intrinsic, argument), *_ = expression.items()
        if intrinsic == "Fn::Equals":
            return self.resolve(argument[0]) == self.resolve(argument[1])
        if intrinsic == "Fn::Not":
            return not self._evaluate(argument[0])
        if intrinsic == "Condition":
            return self.holds(argument)
        raise UnresolvableReferenceError(f"no local evaluation of {expression!r}")


def function_environment(
    references: References, functions: Iterable[str] | None = None, template: Template | None = None
) -> dict[str, str]:
    """The functions' variables, resolved; one process hosts them all, so they must agree on shared names."""
    specs = (template or read_template()).functions
    merged: dict[str, str] = {}
    for name in functions if functions is not None else specs:
        for variable, raw in specs[name].environment.items():
            resolved = references.resolve(raw)
            if merged.get(variable, resolved) != resolved:
                raise ValueError(f"functions need different values of {variable}; one process cannot host them")
            merged[variable] = resolved
    return merged


def create_table_request(table_name: str) -> CreateTableInputTypeDef:
    """create_table arguments equivalent to the template's table (keys, indexes, billing, stream view)."""
    props = read_template().table_properties()
    request: dict[str, Any] = {
        "TableName": table_name,
        "KeySchema": props["KeySchema"],
        "AttributeDefinitions": props["AttributeDefinitions"],
        "BillingMode": props["BillingMode"],
    }
    if "GlobalSecondaryIndexes" in props:
        request["GlobalSecondaryIndexes"] = props["GlobalSecondaryIndexes"]
    stream = props.get("StreamSpecification")
    if stream:
        request["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": stream["StreamViewType"]}
    return cast("CreateTableInputTypeDef", request)


def create_connections_table(client: DynamoDBClient, table_name: str) -> str:
    """Create the table as the template defines it (plus its TTL setting) and return its stream ARN."""
    description = client.create_table(**create_table_request(table_name))["TableDescription"]
    ttl = read_template().table_properties().get("TimeToLiveSpecification")
    if ttl:
        client.update_time_to_live(
            TableName=table_name,
            TimeToLiveSpecification={"AttributeName": ttl["AttributeName"], "Enabled": bool(ttl["Enabled"])},
        )
    return description.get("LatestStreamArn", "")
