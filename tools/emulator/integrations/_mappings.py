"""Lambda event source mappings as deployed (``ListEventSourceMappings``), shared by the stream and
queue mapping integrations."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tools.emulator.topology import filters, paginate

ENABLED_STATES = ("Enabled", "Enabling", "Creating", "Updating")


@dataclass(frozen=True)
class EventSourceMapping:
    uuid: str
    source_arn: str
    function_arn: str
    enabled: bool
    batch_size: int
    filters: tuple[str, ...]  # event patterns (JSON); a record passes if any matches
    report_item_failures: bool
    bisect_on_error: bool
    max_retries: int  # -1: until the record expires (streams)
    max_record_age_s: int  # -1: no limit
    on_failure: str | None
    starting_position: str | None
    max_concurrency: int | None  # SQS: ScalingConfig.MaximumConcurrency
    parallelization_factor: int  # streams: batches of one shard at once (1-10)

    @property
    def service(self) -> str:
        return self.source_arn.split(":")[2]


def read_mappings(session: Any, service: str) -> tuple[EventSourceMapping, ...]:
    """The enabled mappings whose source is a ``service`` resource (``dynamodb``, ``sqs``...)."""
    lam = session.client("lambda")
    mappings = []
    for esm in paginate(lam, "list_event_source_mappings", "EventSourceMappings"):
        if esm["EventSourceArn"].split(":")[2] != service or esm.get("State", "Enabled") not in ENABLED_STATES:
            continue
        mappings.append(
            EventSourceMapping(
                uuid=esm["UUID"],
                source_arn=esm["EventSourceArn"],
                function_arn=esm["FunctionArn"],
                enabled=True,
                batch_size=int(esm.get("BatchSize") or 10),
                filters=filters(esm.get("FilterCriteria")),
                report_item_failures="ReportBatchItemFailures" in (esm.get("FunctionResponseTypes") or []),
                bisect_on_error=bool(esm.get("BisectBatchOnFunctionError")),
                max_retries=_int_or(esm.get("MaximumRetryAttempts"), -1),
                max_record_age_s=_int_or(esm.get("MaximumRecordAgeInSeconds"), -1),
                on_failure=((esm.get("DestinationConfig") or {}).get("OnFailure") or {}).get("Destination"),
                starting_position=esm.get("StartingPosition"),
                max_concurrency=_int_or((esm.get("ScalingConfig") or {}).get("MaximumConcurrency"), 0) or None,
                parallelization_factor=_int_or(esm.get("ParallelizationFactor"), 1),
            )
        )
    return tuple(mappings)


def _int_or(value: Any, default: int) -> int:
    return int(value) if value is not None else default
