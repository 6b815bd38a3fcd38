"""Counting and timing custom action runs in the action server, at rasa-sdk's `ActionExecutor.run`.

rasa-sdk's app keeps its executor in a closure (rasa_sdk.endpoint.create_app), so the class's
method is wrapped, once, in the action server's process only.
"""

from __future__ import annotations

import time
from typing import Any

from rasa_sdk.executor import ActionExecutor
from rasa_sdk.interfaces import ActionExecutionRejection

from bot.observability.metrics import ERROR, OK, REJECTED, UNKNOWN_ACTION, ActionMetrics

_INSTRUMENTED = "_supportbot_metrics"


def instrument_executor(metrics: ActionMetrics, executor_class: type[ActionExecutor] = ActionExecutor) -> None:
    """Count every `executor_class.run`; a second call on the same class does nothing."""
    if executor_class.__dict__.get(_INSTRUMENTED):
        return
    run = executor_class.run

    async def timed_run(self: ActionExecutor, action_call: dict[str, Any]) -> dict[str, Any] | None:
        name = action_call.get("next_action")
        # Only names the server has become labels: a caller cannot grow the list of series.
        action = name if isinstance(name, str) and name in self.actions else UNKNOWN_ACTION
        outcome = ERROR
        started = time.perf_counter()
        try:
            result = await run(self, action_call)
            outcome = OK
            return result
        except ActionExecutionRejection:
            outcome = REJECTED
            raise
        finally:
            metrics.runs.labels(action, outcome).inc()
            metrics.latency.labels(action).observe(time.perf_counter() - started)

    executor_class.run = timed_run  # type: ignore[method-assign]
    setattr(executor_class, _INSTRUMENTED, True)
