"""The state file of a running `make dev`: written on start, removed on exit, read by `make send` and the CLI.

Its format and location are documented in `social_connections.cli.local_stack`, which reads it inside the shipped
command (without devtools); this module writes it, and keeps the last delivery `make send` made for `--repeat`.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict
from pathlib import Path

from social_connections.cli.local_stack import LocalStackState, state_path

LAST_DELIVERY_FILE = "last-delivery.json"


def _write_private(path: Path, text: str) -> None:
    """Owner-only from the first byte: the file may hold the stack's generated signing secret."""
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as file:
        file.write(text)


def write_state(state: LocalStackState, path: Path | None = None) -> Path:
    path = path or state_path()
    _write_private(path, json.dumps(asdict(state), indent=2) + "\n")
    return path


def remove_state(path: Path, pid: int) -> None:
    """Remove the file, and the last delivery sent to this stack, if this process wrote it (another `make dev` may
    have replaced it since)."""
    try:
        if json.loads(path.read_text(encoding="utf-8")).get("pid") == pid:
            path.unlink()
            path.with_name(LAST_DELIVERY_FILE).unlink(missing_ok=True)
    except (OSError, ValueError):
        pass


def last_delivery_path() -> Path:
    return state_path().with_name(LAST_DELIVERY_FILE)


def save_last_delivery(message_id: str, body: str, url: str) -> None:
    _write_private(last_delivery_path(), json.dumps({"message_id": message_id, "body": body, "url": url}) + "\n")


def last_delivery() -> tuple[str, str] | None:
    """(svix-id, body) of the last delivery `make send` made to this stack, or None."""
    try:
        saved = json.loads(last_delivery_path().read_text(encoding="utf-8"))
        return str(saved["message_id"]), str(saved["body"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
