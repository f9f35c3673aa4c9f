"""The layout keeps its shape: small modules in the layer, short functions, thin handlers (docs/architecture.md)."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LAYER_FILES = sorted((ROOT / "layers").rglob("*.py"))
HANDLERS = sorted((ROOT / "functions").glob("*/app.py"))
MAX_MODULE_LINES = 250
MAX_FUNCTION_LINES = 60
MAX_HANDLER_LINES = 80


@pytest.mark.parametrize("path", LAYER_FILES, ids=lambda path: str(path.relative_to(ROOT)))
def test_layer_modules_stay_small(path):
    assert len(path.read_text(encoding="utf-8").splitlines()) <= MAX_MODULE_LINES


@pytest.mark.parametrize("path", LAYER_FILES + HANDLERS, ids=lambda path: str(path.relative_to(ROOT)))
def test_functions_stay_short(path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    long = [
        f"{node.name}: {node.end_lineno - node.lineno + 1} lines"
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.end_lineno
        if node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES
    ]
    assert long == []


@pytest.mark.parametrize("path", HANDLERS, ids=lambda path: str(path.relative_to(ROOT)))
def test_handlers_are_thin_adapters(path):
    source = path.read_text(encoding="utf-8")
    assert len(source.splitlines()) < MAX_HANDLER_LINES
    # A handler reaches DynamoDB only through the package's container and store.
    assert "boto3" not in source


def test_the_stream_function_never_loads_pydantic_nor_the_verifier():
    probe = (
        "import sys, app; print(sorted(m for m in sys.modules if m.split('.')[0] in {'pydantic', 'standardwebhooks'}))"
    )
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT / "layers/shared"),
        "TABLE_NAME": "t",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    completed = subprocess.run(  # noqa: S603 - our own interpreter importing our own handler
        [sys.executable, "-c", probe],
        cwd=ROOT / "functions/connection_stream",
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert completed.stdout.strip() == "[]"
