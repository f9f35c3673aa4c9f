"""Scheduled reconciliation (EventBridge Scheduler): the Lambda adapter of `social_connections.reconcile`.

The schedule's input chooses the mode (`{"mode": "full"}` or `{"mode": "recent"}`). The run stops while time is
left before the function's timeout, keeping its cursor in the table; the next run of that mode continues from there.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from social_connections import container
from social_connections.reconcile import ReconcileFailedError
from social_connections.reconcile_plan import Mode, ReconcileOptions, ReconcileSummary
from social_connections.reconcile_run import run_reconciliation

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

# Stop with this share of the time left at the start still unused (at most a minute): a page and its writes fit in it.
STOP_SHARE: Final = 0.2
MAX_STOP_MARGIN_MS: Final = 60_000

logger = Logger()
metrics = Metrics()
container.current().clerk_api  # noqa: B018 - no Clerk key source or a bad ceiling fails the cold start


def _publish(summary: ReconcileSummary, *, failed: bool) -> None:
    figures = summary.as_json()
    logger.info("reconciliation failed" if failed else "reconciliation done", extra={"summary": figures})
    for name, value in figures.items():
        if isinstance(value, int | float) and not isinstance(value, bool):
            unit = MetricUnit.Seconds if name == "durationSeconds" else MetricUnit.Count
            metrics.add_metric(name=f"Reconcile{name[0].upper()}{name[1:]}", unit=unit, value=value)
    metrics.add_metric(name="ReconcileFailed", unit=MetricUnit.Count, value=1 if failed else 0)


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict[str, object], context: LambdaContext) -> dict[str, object]:
    dependencies = container.current()
    options = ReconcileOptions(mode=Mode(str(event.get("mode", Mode.FULL.value))), providers=dependencies.providers)
    margin = min(MAX_STOP_MARGIN_MS, int(context.get_remaining_time_in_millis() * STOP_SHARE))
    try:
        summary = run_reconciliation(
            dependencies.settings.table_name,
            dependencies.dynamodb,
            dependencies.clerk_api,
            options,
            should_stop=lambda: context.get_remaining_time_in_millis() < margin,
        )
    except ReconcileFailedError as failure:
        _publish(failure.summary, failed=True)
        raise
    _publish(summary, failed=False)
    return summary.as_json()
