"""Score each new transaction against the user's recent history; queue an alert when suspicious.

Two delivery shapes, one code path per record:

* an EventBridge event (``source = fraud.transactions``) whose ``detail`` is one DynamoDB stream
  record (the Pipe route): a failure raises, so Lambda's async retries and then the on-failure
  destination take over;
* a DynamoDB stream batch (``Records``, the direct event source mapping): a failing record is reported
  in ``batchItemFailures`` and the others go through.

Only an INSERT of a ``kind = "transaction"`` item is scored; anything else is logged and counted as
skipped. Each transaction is scored, logged and counted once: its decision is recorded in the state
table (``StateStore.record_scored``, one conditional PutItem) after the scoring and its alert, and a
redelivery, a retry or a replay of a transaction already recorded returns that decision without logging,
counting or alerting again (a suspicious one reads the record before its alert, so a repeat scored
differently since, under new rules, alerts nothing). The alert itself is sent once per ``alert_id``
(its own run-once record), before the decision is recorded: an attempt that fails in between is
scored again by the retry, which finds the alert sent.

What scores: the rules document (``RULES_PARAMETER_NAME``) and, when the model pointer
(``MODEL_PARAMETER_NAME``) names one, the live model from the model bucket, checked against its sha256;
a shadow model and/or shadow rules document score beside it, logged and counted, never alerted
(docs/model.md). A live model that cannot be used never drops a transaction: the last good model scores, else
the rules alone, and ``ModelFallback`` is counted. The scoring itself is ``fraud.scoring.score``.

The block and allow lists (``LISTS_TABLE_NAME``, ``fraud.lists``) apply after the score: their version is checked
every ``LISTS_CACHE_SECONDS`` (one read) and every scored line names it (``list_version``) with the entries hit.
A check that fails keeps the lists this sandbox has (``ListsFallback``); a sandbox that never read them fails the
record, so the platform retries it rather than score without the team's block list.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import handler_kit as kit
from aws_lambda_powertools.metrics import MetricUnit

from fraud.alerts import transaction_alert
from fraud.config import EngineConfig, load_config
from fraud.engine import Assessment, Engine
from fraud.lists import EMPTY, Lists, ListSlot, ListStore
from fraud.model import Model
from fraud.model_store import ArtifactUnavailable, ModelSlot, ModelUnavailable, Pointer, parse_pointer
from fraud.scoring import score
from fraud.storage import StateStore, TransactionStore, deserialize_item

EVENT_SOURCE = "fraud.transactions"
# How long a sent alert id and a scored transaction id are remembered. Longer than every redelivery
# path: stream retention (24 h), EventBridge and Lambda async retries (up to 24 h with the on-failure
# destination), and a replay of the failure queues (make replay) within the stream's 24 h.
ALERT_DEDUP_SECONDS = 3 * 24 * 3600
SCORED_DEDUP_SECONDS = ALERT_DEDUP_SECONDS
NO_MODEL = "none"  # model_version in the log line of a transaction the rules alone scored


@dataclass(frozen=True)
class Settings:
    table_name: str
    state_table_name: str
    alerts_queue_url: str
    user_index_name: str = "user_id-timestamp-index"
    environment: str = ""
    rules_parameter_name: str | None = None
    rules_cache_seconds: int = field(default=300, metadata={"min": 0})
    model_parameter_name: str | None = None
    model_bucket: str | None = None
    shadow_rules_parameter_name: str | None = None
    lists_table_name: str | None = None
    lists_cache_seconds: int = field(default=60, metadata={"min": 0})


@dataclass(frozen=True)
class Scorers:
    """What scores this invocation: the live engine and, when one is configured, the shadow engine, and the lists."""

    live: Engine
    shadow: Engine | None
    rules_parameter_version: str
    lists: Lists = EMPTY


@dataclass
class Resources:
    settings: Settings
    store: TransactionStore
    sqs: Any
    rules: kit.CachedDocument[EngineConfig]
    pointer: kit.CachedDocument[Pointer]
    shadow_rules: kit.CachedDocument[EngineConfig | None]
    live_model: ModelSlot
    shadow_model: ModelSlot
    alerts: kit.IdempotentSender
    state: StateStore
    lists: ListSlot | None = None
    engines: dict[tuple[int, int], tuple[EngineConfig, Model | None, Engine]] = field(default_factory=dict)
    reported: dict[str, str | None] = field(default_factory=dict)  # the last model problem logged, per slot

    def engine(self, config: EngineConfig, model: Model | None) -> Engine:
        """One engine per (rules document, model), kept while they are in use (at most four)."""
        key = (id(config), id(model))
        found = self.engines.get(key)
        if found is None:
            if len(self.engines) >= 4:
                self.engines.pop(next(iter(self.engines)))
            found = self.engines[key] = (config, model, Engine(config, model))
        return found[2]

    def model(self, slot: str, ref: Any) -> Model | None:
        """The model of ``slot`` (live or shadow) for ``ref``; a REF that cannot be used keeps the last good
        model (or none) and is counted (live: ModelFallback) and logged once per problem. A live model this
        sandbox never loaded and cannot read now fails the invocation (``ModelUnavailable``, counted): the
        platform retries; an unreadable shadow model means no shadow."""
        try:
            resolved = (self.live_model if slot == "live" else self.shadow_model).resolve(ref)
        except ModelUnavailable as error:
            if slot != "live":
                kit.count("ShadowModelFallback")
                return None
            kit.count("ModelUnavailable")
            kit.logger.error("Live model unavailable: failing so the platform retries", extra={"reason": str(error)})
            raise
        if resolved.problem is not None:
            kit.count("ModelFallback" if slot == "live" else "ShadowModelFallback")
        if self.reported.get(slot) != resolved.problem:
            self.reported[slot] = resolved.problem
            if resolved.problem is not None:
                using = resolved.model.version if resolved.model is not None else "the rules alone"
                kit.logger.error(
                    f"{slot.capitalize()} model unusable: scoring with {using}", extra={"reason": resolved.problem}
                )
        return resolved.model

    def scorers(self) -> Scorers:
        config, rules_version, _ = self.rules.get()
        pointer, _, _ = self.pointer.get()
        live = self.engine(config, self.model("live", pointer.live))
        shadow_config, _, _ = self.shadow_rules.get()
        shadow = None
        if pointer.shadow is not None or shadow_config is not None:
            shadow_model = self.model("shadow", pointer.shadow) if pointer.shadow is not None else live.model
            shadow = self.engine(shadow_config or config, shadow_model)  # type: ignore[arg-type]
        return Scorers(live, shadow, rules_version, self.current_lists())

    def current_lists(self) -> Lists:
        """The lists this invocation scores with (none when the environment has no lists table)."""
        if self.lists is None:
            return EMPTY
        lists, problem = self.lists.current()
        if problem is not None:
            kit.count("ListsFallback")
            kit.logger.error(f"Lists unreadable: using version {lists.version}", extra={"reason": problem})
        return lists


def _shadow_rules(text: str | None) -> EngineConfig | None:
    """A shadow rules document, or None: no parameter, or the JSON literal ``null`` in it."""
    if text is None or text.strip() == "null":
        return None
    return load_config(text)


def _fetch_model(settings: Settings) -> Any:
    def fetch(key: str) -> bytes:
        if not settings.model_bucket:
            raise ValueError("MODEL_BUCKET is not set: the pointer names a model but there is no bucket to read")
        try:
            return bytes(kit.client("s3").get_object(Bucket=settings.model_bucket, Key=key)["Body"].read())
        except Exception as error:
            if kit.transient(error):  # a time-out, a throttle, a service fault: not a missing model
                raise ArtifactUnavailable(kit.reason(error)) from error
            raise

    return fetch


@functools.cache
def resources() -> Resources:
    """Clients and settings, created on first use from the function's environment. The three documents are
    read together (one GetParameters); an unreadable shadow rules document means no shadow."""
    settings = kit.load_settings(Settings)
    res = Resources(
        settings=settings,
        store=TransactionStore(kit.client("dynamodb"), settings.table_name, user_index_name=settings.user_index_name),
        sqs=kit.client("sqs"),
        rules=kit.rules_document(settings.rules_parameter_name, settings.rules_cache_seconds),
        pointer=kit.CachedDocument(
            settings.model_parameter_name,
            parse_pointer,
            max_age=settings.rules_cache_seconds,
            fallback_metric="ModelFallback",
            label="Model pointer",
        ),
        shadow_rules=kit.CachedDocument(
            settings.shadow_rules_parameter_name,
            _shadow_rules,
            max_age=settings.rules_cache_seconds,
            fallback_metric="ShadowRulesFallback",
            label="Shadow rules document",
            optional=True,
        ),
        live_model=ModelSlot(_fetch_model(settings)),
        shadow_model=ModelSlot(_fetch_model(settings)),
        alerts=kit.IdempotentSender(
            settings.alerts_queue_url,
            table_name=settings.state_table_name,
            key_prefix="detect-fraud#alert",
            expires_after_seconds=ALERT_DEDUP_SECONDS,
            metric="Alerts",
        ),
        state=StateStore(kit.client("dynamodb"), settings.state_table_name),
    )
    if settings.lists_table_name:
        store = ListStore(kit.client("dynamodb"), settings.lists_table_name)
        res.lists = ListSlot(store.version, store.snapshot, max_age_s=settings.lists_cache_seconds)
    kit.DocumentGroup(res.rules, res.pointer, res.shadow_rules)
    return res


@functools.cache
def batch_processor() -> Any:
    """Powertools' batch processor, built on the first stream batch (the Pipe route never needs it).

    No ``logger=`` argument: BatchProcessor only takes one since Powertools 3.3x, newer than the
    pinned layer (AWSLambdaPowertoolsPythonV3 version 27), where it is a TypeError. Failures are
    logged by the record handler instead."""
    from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType

    return BatchProcessor(event_type=EventType.DynamoDBStreams)


@kit.entry_point
def handler(event: dict[str, Any], context: Any) -> Mapping[str, Any]:
    res = resources()
    scorers = res.scorers()
    if "Records" in event:
        from aws_lambda_powertools.utilities.batch import process_partial_response

        def record_handler(record: Any) -> str:
            try:
                return score_stream_record(record.raw_event, scorers=scorers, res=res)
            except Exception:
                kit.logger.exception("Stream record failed", extra={"event_id": record.event_id})
                raise

        return process_partial_response(
            event=event, record_handler=record_handler, processor=batch_processor(), context=context
        )
    if event.get("source") == EVENT_SOURCE and isinstance(event.get("detail"), dict):
        kit.logger.set_correlation_id(event.get("id"))
        return {"result": score_stream_record(event["detail"], scorers=scorers, res=res)}
    raise ValueError(
        f"unsupported event: expected an EventBridge event with source {EVENT_SOURCE!r} or a DynamoDB stream batch"
    )


def score_stream_record(record: dict[str, Any], *, scorers: Scorers, res: Resources) -> str:
    """Score one stream record; return ``"skipped"`` or the decision (``allow``, ``review``, ``alert``).

    Errors propagate: the caller (the batch processor or the Lambda async retry) owns the retry.
    """
    event_name = record.get("eventName")
    image = deserialize_item(record.get("dynamodb", {}).get("NewImage", {}))
    if event_name != "INSERT" or image.get("kind") != "transaction":
        kit.logger.info(
            "Stream record skipped",
            extra={"event_name": event_name, "kind": image.get("kind"), "event_id": record.get("eventID")},
        )
        kit.count("Skipped")
        return "skipped"
    report_stream_lag(record)
    return score_transaction(image, scorers=scorers, res=res)


def report_stream_lag(record: dict[str, Any]) -> None:
    """``StreamLag`` (ms): from the stream record's creation to its scoring, the lag both routings alarm on
    (EventBridge Pipes publish no iterator age). DynamoDB rounds the creation time down to the second, so
    the lag reads up to a second long."""
    created = record.get("dynamodb", {}).get("ApproximateCreationDateTime")
    if isinstance(created, (int, float)):
        lag_ms = max(0.0, time.time() * 1000 - created * 1000)
        kit.metrics.add_metric(name="StreamLag", unit=MetricUnit.Milliseconds, value=lag_ms)


def score_transaction(image: dict[str, Any], *, scorers: Scorers, res: Resources) -> str:
    """The scoring itself (``fraud.scoring.score``), the alert, the decision's record, then its log line and
    counts; the recorded decision instead when the transaction was scored before."""
    now_ms = int(time.time() * 1000)
    now_s = now_ms // 1000
    scored = score(
        image, store=res.store, engine=scorers.live, shadow=scorers.shadow, lists=scorers.lists, now_ms=now_ms
    )
    transaction, assessment = scored.transaction, scored.assessment
    transaction_id = str(transaction["transaction_id"])
    if assessment.suspicious:
        earlier = res.state.scored_decision(transaction_id, now=now_s)
        if earlier is not None:
            return _already_scored(transaction_id, earlier)
        alert = transaction_alert(transaction, assessment, environment=res.settings.environment, now_ms=now_ms)
        res.alerts.send(alert)
    earlier = res.state.record_scored(
        transaction_id, assessment.decision, now=now_s, expiration=now_s + SCORED_DEDUP_SECONDS
    )
    if earlier is not None:
        return _already_scored(transaction_id, earlier)
    kit.count("Scored")
    line: dict[str, Any] = {
        "transaction_id": transaction_id,
        "score": assessment.score,
        "decision": assessment.decision,
        "model_version": assessment.model_version or NO_MODEL,
        "rules_version": assessment.rules_version,
        "rules_parameter_version": scorers.rules_parameter_version,
        "list_version": scored.list_version,
        "reasons": list(assessment.codes),
        "history_items": scored.history_items,
    }
    if scored.list_hits:
        line["list_hits"] = [{"list": h.entry.list, "field": h.entry.field} for h in scored.list_hits]
    if scored.shadow is not None:
        line["shadow"] = _brief(scored.shadow)
        if scored.shadow.decision != assessment.decision:
            kit.count("ShadowDisagreements")
    kit.logger.info("Transaction scored", extra=line)
    if assessment.suspicious:
        kit.count("Suspicious")
    return assessment.decision


def _already_scored(transaction_id: str, decision: str) -> str:
    kit.logger.info("Transaction already scored", extra={"transaction_id": transaction_id, "decision": decision})
    kit.count("AlreadyScored")
    return decision


def _brief(assessment: Assessment) -> dict[str, Any]:
    return {
        "score": assessment.score,
        "decision": assessment.decision,
        "model_version": assessment.model_version or NO_MODEL,
        "rules_version": assessment.rules_version,
        "reasons": list(assessment.codes),
    }


__all__ = ["handler", "score_stream_record", "score_transaction"]
