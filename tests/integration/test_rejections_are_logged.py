"""Every rejection of a delivery leaves exactly one warning line in the function's log (413 and 404 included)."""

from __future__ import annotations

import pytest

from devtools.clerk_payloads import to_body, user_event
from devtools.testkit.deliveries import http_api_event, new_secret, svix_headers
from devtools.testkit.logs import log_lines

# receive_clerk_webhook.MAX_BODY_BYTES; not imported here, so the handler's logger is set up first (by the fixture).
MAX_BODY_BYTES = 256 * 1024


def _created() -> str:
    return to_body(user_event("user.created", "user_logged", updated_at=1_716_883_200_000, accounts=[]))


CASES = {
    "unsigned": (401, "webhook signature rejected"),
    "garbage": (400, "signed payload is not a valid Clerk event"),
    "too large": (413, "payload too large; rejected unread"),
    "unrouted": (404, "no such route"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_each_rejection_logs_one_warning(case, table, secret, invoke_webhook, capsys):
    status, message = CASES[case]
    body = {"unsigned": _created(), "garbage": '{"type": 1}', "too large": "x" * (MAX_BODY_BYTES + 1)}.get(case, "{}")
    signing_secret = new_secret() if case == "unsigned" else secret
    path = "/other" if case == "unrouted" else "/webhooks/clerk"
    event = http_api_event(body, svix_headers(signing_secret, body), path=path)
    capsys.readouterr()
    assert invoke_webhook(event).status == status
    out = capsys.readouterr().out
    warnings = [line for line in log_lines(out) if line["level"] in {"WARNING", "ERROR", "CRITICAL"}]
    assert [line["message"] for line in warnings] == [message]
    assert "x" * 100 not in out  # the body itself is never logged
