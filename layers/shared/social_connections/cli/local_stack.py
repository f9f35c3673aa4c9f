"""Where `make dev` is running: the state file it writes while it runs, read without importing devtools.

The file is JSON at `.local-stack/state.json` under the directory the command runs in (the repository root for the
make targets), or wherever $LOCAL_STACK_STATE points. Keys: `pid`, `webhook_url`, `endpoint_url` (moto),
`table_name`, `region`, and `secret` (the stack's generated signing secret; null when it uses one you exported).
`make dev` writes it on start and removes it on exit; docs/local-development.md documents it.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Final

STATE_ENVIRONMENT_VARIABLE: Final = "LOCAL_STACK_STATE"
DEFAULT_STATE_PATH: Final = Path(".local-stack") / "state.json"
START_HINT: Final = "start one with make dev (in the repository root, in another shell)"


class NoLocalStackError(Exception):
    """No running `make dev` was found; the message says why and what to run."""


@dataclass(frozen=True, slots=True)
class LocalStackState:
    pid: int
    webhook_url: str
    endpoint_url: str
    table_name: str
    region: str
    secret: str | None


def state_path() -> Path:
    return Path(os.environ.get(STATE_ENVIRONMENT_VARIABLE) or DEFAULT_STATE_PATH)


def _is_running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, owned by someone else
        return True
    return True


def read_state(path: Path | None = None) -> LocalStackState:
    """The running local stack, or NoLocalStackError with a message that says what to do."""
    path = path or state_path()
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise NoLocalStackError(f"no local stack is running (no {path}): {START_HINT}") from None
    except (OSError, ValueError) as error:
        raise NoLocalStackError(f"cannot read {path} ({error}): restart make dev") from None
    try:
        state = LocalStackState(
            pid=int(raw["pid"]),
            webhook_url=str(raw["webhook_url"]),
            endpoint_url=str(raw["endpoint_url"]),
            table_name=str(raw["table_name"]),
            region=str(raw["region"]),
            secret=str(raw["secret"]) if raw.get("secret") else None,
        )
    except (KeyError, TypeError, ValueError) as error:
        raise NoLocalStackError(f"{path} is not a local stack state file ({error!r}): restart make dev") from None
    if not _is_running(state.pid):
        raise NoLocalStackError(f"the local stack that wrote {path} (pid {state.pid}) has stopped: {START_HINT}")
    return state
