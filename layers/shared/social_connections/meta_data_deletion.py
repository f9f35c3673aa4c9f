"""Meta's data-deletion request callback: verify the signed_request, erase that Instagram user's personal data from
every row that names the account, keep a record of the request, and answer the status URL and confirmation code.

`POST /platforms/meta/data-deletion` (form field `signed_request`) and `GET /platforms/meta/data-deletion/<code>`.
The code is derived from the signed request, so a replay gets the same code and changes nothing more.
"""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Callable
from typing import Final

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from social_connections.clock import iso_from_millis, now_iso
from social_connections.http_api import HttpRequest, json_response
from social_connections.platform_signatures import (
    CallbackPayloadError,
    CallbackSignatureError,
    is_confirmation_code,
    secret_list,
    verify_signed_request,
)
from social_connections.platform_store import PlatformStore
from social_connections.providers import Platform

DATA_DELETION_PATH: Final = "/platforms/meta/data-deletion"
DATA_DELETION_ROUTE: Final = f"POST {DATA_DELETION_PATH}"
STATUS_ROUTE: Final = f"GET {DATA_DELETION_PATH}/{{code}}"
MAX_BODY_BYTES: Final = 16 * 1024
_HOST: Final = re.compile(r"[A-Za-z0-9.-]{1,253}(:\d{1,5})?")

logger = Logger(child=True)
metrics = Metrics()


def receive_data_deletion(
    request: HttpRequest, store: PlatformStore, app_secret: Callable[[], str], public_base_url: str = ""
) -> dict[str, object]:
    """413 too large, 401 unsigned or wrongly signed, 400 signed garbage, 200 with Meta's {url, confirmation_code}."""
    if request.body is not None and len(request.body) > MAX_BODY_BYTES:
        return json_response(413, error="payload too large")
    signed_request = _form_field(request.body, "signed_request")
    try:
        if signed_request is None:
            raise CallbackSignatureError("no signed_request field")
        deletion = verify_signed_request(signed_request, secret_list(app_secret()))
    except CallbackSignatureError as rejection:
        logger.warning("meta signed_request rejected", extra={"reason": str(rejection)})
        metrics.add_metric(name="PlatformSignatureRejected", unit=MetricUnit.Count, value=1)
        return json_response(401, error="invalid signature")
    except CallbackPayloadError as invalid:
        logger.warning("signed meta request is not a valid deletion request", extra={"reason": str(invalid)})
        return json_response(400, error="not a valid data deletion request")
    code = deletion.confirmation_code
    requested_at = iso_from_millis(deletion.issued_at * 1000) if deletion.issued_at is not None else None
    store.open_deletion_request(code, requested_at=requested_at, received_at=now_iso())
    rows = store.find_platform_account(Platform.INSTAGRAM, deletion.user_id)
    erased = sum(store.erase_personal_data(row.user_id, row.key) for row in rows)
    store.complete_deletion_request(code, rows_affected=len(rows), completed_at=now_iso())
    # The platform user id is personal data: the log names the request by its code only.
    logger.info("data deletion request completed", extra={"confirmation_code": code, "rows": len(rows)})
    metrics.add_metric(name="DataDeletionRequests", unit=MetricUnit.Count, value=1)
    if erased:
        metrics.add_metric(name="PersonalDataErased", unit=MetricUnit.Count, value=erased)
    url = f"{public_base_url or _base_url(request)}{DATA_DELETION_PATH}/{code}"
    return json_response(200, url=url, confirmation_code=code)


def data_deletion_status(request: HttpRequest, store: PlatformStore) -> dict[str, object]:
    """The status page of one request: 404 for a code never issued."""
    code = request.path_parameters.get("code", "")
    found = store.read_deletion_request(code) if is_confirmation_code(code) else None
    if found is None:
        return json_response(404, error="no such data deletion request")
    # `status` is json_response's own parameter, so the fields go in as a mapping.
    fields: dict[str, object] = {
        "confirmation_code": found.confirmation_code,
        "status": found.status.value,
        "requested_at": found.requested_at,
        "received_at": found.received_at,
        "completed_at": found.completed_at,
        "rows_affected": found.rows_affected,
    }
    return json_response(200, **fields)


def _form_field(body: bytes | None, name: str) -> str | None:
    """One field of an application/x-www-form-urlencoded body; None when absent, repeated or unreadable."""
    if not body:
        return None
    try:
        fields = urllib.parse.parse_qs(body.decode("ascii"), strict_parsing=True, max_num_fields=20)
    except (UnicodeDecodeError, ValueError):
        return None
    values = fields.get(name, [])
    return values[0] if len(values) == 1 else None


def _base_url(request: HttpRequest) -> str:
    """The scheme and host the platform called (API Gateway sets x-forwarded-proto), for the status URL."""
    headers = {name.lower(): value for name, value in request.headers.items()}
    host = headers.get("host", "").strip()
    scheme = headers.get("x-forwarded-proto", "https").split(",")[0].strip().lower()
    if not _HOST.fullmatch(host):
        return ""
    return f"{'http' if scheme == 'http' else 'https'}://{host}"
