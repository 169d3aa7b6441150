"""Lambda's asynchronous invocation (``InvocationType=Event``): what EventBridge rules, schedules and
destinations use to call a function.

Read from ``GetFunctionEventInvokeConfig`` (Lambda's defaults when there is none): the maximum retry
attempts (default 2, after about 1 and then 2 minutes), the maximum event age (default 6 hours), and
the on-success and on-failure destinations, which get Lambda's destination record. Waits are
divided by ``time_scale``, and so is the event age (an event is as old as the time it would have
spent on AWS).
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from tools.emulator.integrations.base import Context, Integration, now_iso, service_of
from tools.emulator.runtime import Invocation, RuntimeClosed

log = logging.getLogger("emulator")

RETRY_DELAYS_S = (60, 120)  # Lambda waits about 1 then 2 minutes between asynchronous attempts
DEFAULT_RETRIES = 2
DEFAULT_MAX_EVENT_AGE_S = 6 * 3600
MAX_WORKERS = 32  # events in flight at once; each waits for a sandbox of its function


@dataclass(frozen=True)
class AsyncConfig:
    retries: int = DEFAULT_RETRIES
    max_event_age_s: int = DEFAULT_MAX_EVENT_AGE_S
    on_failure: str | None = None
    on_success: str | None = None


def read_async_configs(ctx: Context) -> dict[str, AsyncConfig]:
    lam = ctx.session.client("lambda")
    configs = {}
    for name in ctx.topology.functions:
        try:
            config = lam.get_function_event_invoke_config(FunctionName=name)
        except lam.exceptions.ResourceNotFoundException:
            config = {}
        destinations = config.get("DestinationConfig", {})
        configs[name] = AsyncConfig(
            retries=int(config.get("MaximumRetryAttempts", DEFAULT_RETRIES)),
            max_event_age_s=int(config.get("MaximumEventAgeInSeconds", DEFAULT_MAX_EVENT_AGE_S)),
            on_failure=destinations.get("OnFailure", {}).get("Destination"),
            on_success=destinations.get("OnSuccess", {}).get("Destination"),
        )
    return configs


class AsyncInvocations(Integration):
    name = "async-invoke"

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self.configs = read_async_configs(ctx)
        self._pool = ThreadPoolExecutor(max_workers=MAX_WORKERS, thread_name_prefix="async-invoke")
        self.discarded: list[dict[str, Any]] = []  # failed events with no on-failure destination
        self.outcomes: Counter[str] = Counter()
        ctx.targets.register(lambda arn: service_of(arn) == "lambda", self._send)

    @property
    def deployed(self) -> bool:
        return False  # runs only what others send

    def _send(self, arn: str, payload: Any, **_: Any) -> None:
        self.submit(arn, payload)

    def submit(self, function_arn: str, event: Any) -> None:
        """Queue an asynchronous invocation (accepted at once, as Lambda's 202)."""
        self.ctx.activity.start()
        self._pool.submit(self._run, function_arn, event, time.monotonic())

    def _run(self, function_arn: str, event: Any, queued_at: float) -> None:
        ctx = self.ctx
        ctx.timings.add("async invocation queue", time.monotonic() - queued_at)
        try:
            spec = ctx.runtime.function(function_arn)
            config = self.configs.get(spec.name, AsyncConfig())
            attempts = 0
            while True:
                outcome = ctx.runtime.invoke(spec.name, event)
                attempts += 1
                if outcome.ok:
                    ctx.ledger.record(spec.name, ok=1)
                    self.outcomes["succeeded"] += 1
                    if config.on_success:
                        ctx.targets.send(
                            config.on_success,
                            self._record(spec.arn, event, outcome, attempts, "Success"),
                            source="lambda",
                            detail_type="Lambda Function Invocation Result - Success",
                        )
                    return
                age = (time.monotonic() - queued_at) * ctx.time_scale
                if attempts > config.retries or age > config.max_event_age_s:
                    break
                self.outcomes["retried"] += 1
                time.sleep(RETRY_DELAYS_S[min(attempts, len(RETRY_DELAYS_S)) - 1] / ctx.time_scale)
            ctx.ledger.record(spec.name, failed=1)
            self.outcomes["failed"] += 1
            condition = "RetriesExhausted" if attempts > config.retries else "EventAgeExceeded"
            record = self._record(spec.arn, event, outcome, attempts, condition)
            if config.on_failure:
                ctx.targets.send(
                    config.on_failure,
                    record,
                    source="lambda",
                    detail_type="Lambda Function Invocation Result - Failure",
                    failure=True,
                )
            else:
                log.warning("%s: async event discarded after %d attempts: %s", spec.name, attempts, outcome.error)
                self.discarded.append(record)
        except RuntimeClosed:
            log.info("shutting down: an asynchronous invocation of %s was not run", function_arn)
        except Exception:
            log.exception("asynchronous invocation of %s failed in the emulator", function_arn)
            raise
        finally:
            ctx.activity.done()

    @staticmethod
    def _record(arn: str, event: Any, outcome: Invocation, attempts: int, condition: str) -> dict[str, Any]:
        """Lambda's destination record for an asynchronous invocation."""
        response = outcome.result if outcome.ok else outcome.error
        context: dict[str, Any] = {"statusCode": 200, "executedVersion": "$LATEST"}
        if not outcome.ok:
            context["functionError"] = "Unhandled"
        return {
            "version": "1.0",
            "timestamp": now_iso(),
            "requestContext": {
                "requestId": outcome.request_id,
                "functionArn": f"{arn}:$LATEST",
                "condition": condition,
                "approximateInvokeCount": attempts,
            },
            "requestPayload": event,
            "responseContext": context,
            "responsePayload": response,
        }

    def stop(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    def counters(self) -> dict[str, Any]:
        return {**self.outcomes, "discarded": len(self.discarded)}
