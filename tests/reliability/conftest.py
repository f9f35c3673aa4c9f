"""Fixtures of the reliability suite: one moto account per module for property tests, and the figures file."""

from __future__ import annotations

import copy
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.dynamodb import models as dynamodb_models
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.table import Table
from social_connections import container

from devtools.testkit.aws import TEST_ENVIRONMENT, TEST_TABLE_NAME, RequestCounter
from devtools.testkit.deliveries import new_secret
from devtools.testkit.functions import install_container
from devtools.testkit.template import create_connections_table
from tests.reliability.support import FIGURES_ENV, write_figures

# Property tests write a handful of rows per example; moto deep-copies the whole table (stream included) for every
# action of a transaction, so the table is rebuilt from the template before it grows past this many deliveries.
DELIVERIES_PER_TABLE = 8


def create_table(table_name: str = TEST_TABLE_NAME) -> str:
    """The table of template.yaml in the active moto account; returns its stream ARN."""
    return create_connections_table(boto3.client("dynamodb"), table_name)


@dataclass
class SharedAccount:
    """A moto account shared by every example of a module (hypothesis examples cannot take function fixtures)."""

    secret: str
    stream_arn: str
    calls: RequestCounter = field(default_factory=RequestCounter)
    _deliveries_since_rebuild: int = 0

    def rebuild_table(self) -> None:
        boto3.client("dynamodb").delete_table(TableName=TEST_TABLE_NAME)
        self.stream_arn = create_table()
        self._deliveries_since_rebuild = 0

    def make_room(self, deliveries: int = 1) -> None:
        """Rebuild the table when it has taken many writes; call before deliveries that may write."""
        if self._deliveries_since_rebuild + deliveries > DELIVERIES_PER_TABLE:
            self.rebuild_table()
        self._deliveries_since_rebuild += deliveries

    def item_count(self) -> int:
        return int(boto3.client("dynamodb").scan(TableName=TEST_TABLE_NAME, Select="COUNT")["Count"])


@pytest.fixture(scope="module")
def shared_account() -> Iterator[SharedAccount]:
    with pytest.MonkeyPatch.context() as patch:
        for name, value in TEST_ENVIRONMENT.items():
            patch.setenv(name, value)
        patch.delenv("AWS_ENDPOINT_URL_DYNAMODB", raising=False)
        secret = new_secret()
        patch.setenv("CLERK_WEBHOOK_SECRET", secret)
        with mock_aws():
            account = SharedAccount(secret=secret, stream_arn=create_table())
            account.calls.attach(install_container().dynamodb)
            yield account
            container.use(None)


def pytest_sessionfinish(session: pytest.Session, exitstatus: Any) -> None:
    """Write the figures the suite counted when `devtools.reliability_report` asks for them."""
    target = os.environ.get(FIGURES_ENV)
    if target:
        write_figures(Path(target), int(exitstatus))


_transaction_backups = threading.local()


class _OneBackupPerTable:
    """Stands in for the `copy` module inside moto's DynamoDB backend (see one_table_backup_per_moto_transaction)."""

    @staticmethod
    def deepcopy(value: Any, memo: Any = None) -> Any:
        backups: dict[int, Any] | None = getattr(_transaction_backups, "tables", None)
        if backups is None or not isinstance(value, Table):
            return copy.deepcopy(value, memo)
        if id(value) not in backups:
            backups[id(value)] = copy.deepcopy(value)
        return backups[id(value)]


@pytest.fixture(autouse=True, scope="package")
def one_table_backup_per_moto_transaction() -> Iterator[None]:
    """moto backs a transaction up by deep-copying the table once per action (100 copies for a full transaction,
    stream included); one copy per table gives the same rollback and keeps large-transaction tests linear."""
    real_transact = DynamoDBBackend.transact_write_items

    def transact_write_items(self: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> None:
        _transaction_backups.tables = {}
        try:
            real_transact(self, transact_items)
        finally:
            _transaction_backups.tables = None

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(dynamodb_models, "copy", _OneBackupPerTable)
        patch.setattr(DynamoDBBackend, "transact_write_items", transact_write_items)
        yield


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The whole reliability suite is the slow tier: `make test-all` runs it, `make test` does not."""
    here = Path(__file__).parent
    for item in items:
        if here in item.path.parents:
            item.add_marker(pytest.mark.slow)
