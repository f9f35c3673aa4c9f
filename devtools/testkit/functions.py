"""The functions' dependency container as tests drive it: built around a given client, reconfigured mid-test."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from social_connections import container
from social_connections.container import Container
from social_connections.settings import Settings

from devtools.testkit.dynamodb_rules import install as install_request_rules
from devtools.testkit.memory_events import MemoryEventPublisher

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


def install_container(dynamodb: DynamoDBClient | None = None) -> Container:
    """A container from the current environment (on `dynamodb`, else its own client), made the handlers' one.

    Its client refuses what DynamoDB would refuse and moto accepts (`dynamodb_rules`), in every test. Status-change
    events go to an in-memory publisher (`container.current().publisher.published`)."""
    built = Container(Settings.from_environment(), dynamodb=dynamodb, publisher=MemoryEventPublisher())
    install_request_rules(built.dynamodb)
    container.use(built)
    return built


@contextmanager
def configured(**variables: str | None) -> Iterator[Container]:
    """Run with these variables set (None: removed) and a container rebuilt from them on the same DynamoDB client;
    the environment and the previous container come back afterwards."""
    previous = container.current()
    saved = {name: os.environ.get(name) for name in variables}
    try:
        _set(variables)
        yield install_container(previous.dynamodb)
    finally:
        _set(saved)
        container.use(previous)


def _set(variables: dict[str, str | None]) -> None:
    for name, value in variables.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
